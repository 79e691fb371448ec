/*
 * tests/kernels/k_rt32.S - 32-bit pieces of k_rt: run through
 * rt_compat_call (CPL 0) and rt_user_call32 (CPL 3). EAX in, EAX out.
 */
#include "rt_asm.h"

    .text
    .code32
    .globl k_rt_compat_add
k_rt_compat_add:
    incl %eax
    movl %cs, %ecx
    shll $8, %ecx
    addl %ecx, %eax
    ret

    .section .user.text, "ax"
    .globl k_rt_user32
k_rt_user32:
    incl %eax
    movl %cs, %ecx
    shll $8, %ecx
    addl %ecx, %eax
    ret
    .code64
