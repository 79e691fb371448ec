/*
 * tests/kernels/rt/isr.S - the 256 interrupt stubs, the common entry into
 * rt_isr_dispatch(), rt_try(), and the ways into ring 3 and into
 * compatibility mode and back.
 */
#include "rt_asm.h"

    .text
    .code64

/*
 * One 16-byte stub per vector: pushes a 0 error code for the vectors
 * where the CPU pushes none (SDM Vol. 3A Table 6-1: 8, 10-14, 17, 21, 29
 * and 30 have one), then the vector.
 */
    .balign 16
    .globl rt_stubs
rt_stubs:
    .set vec, 0
    .rept 256
    .balign 16
    .if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
    .else
    pushq $0
    .endif
    pushq $vec
    jmp rt_isr_common
    .set vec, vec + 1
    .endr

rt_isr_common:
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    cld                     /* the interrupted code may run with DF = 1 */
    movq %rsp, %rdi
    movq %rsp, %rbx
    andq $-16, %rsp
    call rt_isr_dispatch
    movq %rbx, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    addq $16, %rsp          /* vector and error code */
    iretq

/* int rt_try(void): saves the callee-saved registers, RSP and the return
   address in rt_try_buf; rt_isr_dispatch() returns here with vector + 1. */
    .globl rt_try
rt_try:
    movq (%rsp), %rax
    movq %rax, rt_try_buf + 0
    leaq 8(%rsp), %rax
    movq %rax, rt_try_buf + 8
    movq %rbx, rt_try_buf + 16
    movq %rbp, rt_try_buf + 24
    movq %r12, rt_try_buf + 32
    movq %r13, rt_try_buf + 40
    movq %r14, rt_try_buf + 48
    movq %r15, rt_try_buf + 56
    movl $1, rt_try_armed
    xorl %eax, %eax
    ret

/* rt_isr_dispatch() returns from rt_try() through here: the code that
   faulted may have left other data segments loaded (ring 3 nulls them). */
    .globl rt_try_landing
rt_try_landing:
    call reload_data_segments
    jmp *rt_try_buf

reload_data_segments:
    movl $RT_KDATA, %ecx
    movw %cx, %ds
    movw %cx, %es
    movw %cx, %fs
    movw %cx, %gs
    ret

/* uint64_t rt_user_call(fn = rdi, arg = rsi, rflags = rdx) */
    .globl rt_user_call
rt_user_call:
    pushq %rbx
    pushq %rbp
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, rt_user_ksp
    movl $1, rt_user_active
    movq %rdi, %rax
    movq %rsi, %rdi
    orq $2, %rdx
    pushq $(RT_UDATA | 3)             /* SS     */
    pushq $rt_user_stack_top          /* RSP    */
    pushq %rdx                        /* RFLAGS */
    pushq $(RT_UCODE64 | 3)           /* CS     */
    pushq $rt_user_entry64            /* RIP    */
    iretq

/* rt_isr_dispatch() comes back here on vector RT_VEC_USER_RET, at CPL 0
   with RSP = rt_user_ksp and RAX = the user code's result. */
    .globl rt_user_resume
rt_user_resume:
    call reload_data_segments
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbp
    popq %rbx
    ret

/* uint32_t rt_user_call32(fn32 = rdi, arg = esi, rflags = rdx) */
    .globl rt_user_call32
rt_user_call32:
    pushq %rbx
    pushq %rbp
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, rt_user_ksp
    movl $1, rt_user_active
    movq %rdi, %rbx
    movl %esi, %eax
    orq $2, %rdx
    pushq $(RT_UDATA | 3)
    pushq $rt_user_stack_top
    pushq %rdx
    pushq $(RT_UCODE32 | 3)
    pushq $rt_user_entry32
    iretq

/* uint32_t rt_compat_call(fn32 = rdi, arg = esi): far return into the
   32-bit ring-0 code segment, call, far jump back (SDM Vol. 3A 9.8.5,
   APM Vol. 2 1.2.8: CS.L selects the mode). */
    .globl rt_compat_call
rt_compat_call:
    pushq %rbx
    pushq %rbp
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, rt_compat_rsp
    movq %rdi, %rbx
    movl %esi, %eax
    pushq $RT_KCODE32
    pushq $1f
    lretq
    .code32
1:  call *%ebx
    ljmp $RT_KCODE64, $2f
    .code64
    /* The upper halves of RSP and the other registers are undefined
       after compatibility mode (SDM Vol. 1 3.4.1.1): start from saved ones. */
2:  movq rt_compat_rsp, %rsp
    movl %eax, %eax
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbp
    popq %rbx
    ret

/* Ring-3 trampolines, in user pages. */
    .section .user.text, "ax"
    .code64
rt_user_entry64:
    call *%rax
    movq %rax, %rdi
    int $RT_VEC_USER_RET
    ud2
    .code32
rt_user_entry32:
    movl $(RT_UDATA | 3), %ecx      /* IRET to ring 3 nulled DS and ES */
    movw %cx, %ds
    movw %cx, %es
    call *%ebx
    movl %eax, %edi
    int $RT_VEC_USER_RET
    ud2
    .code64

    .section .bss
    .balign 8
    .globl rt_try_buf, rt_try_armed, rt_user_ksp, rt_user_active
rt_try_buf:     .skip 64
rt_user_ksp:    .skip 8
rt_compat_rsp:  .skip 8
rt_try_armed:   .skip 4
rt_user_active: .skip 4

    .section .user.bss, "aw", @nobits
    .balign 4096
    .globl rt_user_stack, rt_user_stack_top
rt_user_stack:
    .skip 16384
rt_user_stack_top:
