/*
 * tests/kernels/k_farxfer32.S - the assembly half of k_farxfer: the
 * 32-bit protected-mode hook (IRET before long mode), the ring-0 targets
 * of the call gate, SYSCALL and SYSENTER, and the compatibility-mode
 * snippets. k_farxfer.c checks what these record.
 */
#include "rt_asm.h"

    .set SEL_TSS32, RT_GDT_FREE + 0x20      /* 0x78: the hook's 32-bit TSS */

/* ------------------------------------------------ 32-bit protected mode -- */

/*
 * Called by the runtime's 32-bit entry with paging off (rt_pm32_hook).
 * 1. IRETD to the same privilege level restores EIP, CS and EFLAGS and
 *    pops 12 bytes (SDM Vol. 2A IRET, RETURN-TO-SAME-PRIVILEGE-LEVEL).
 * 2. IRETD to ring 3 (pops SS:ESP too and nulls DS/ES), then INT 80h
 *    through a DPL 3 32-bit interrupt gate back to ring 0 on TSS.ESP0
 *    (SDM Vol. 3A 6.12.1): the handler records the 5-dword frame.
 */
    .text
    .code32
    .globl rt_pm32_hook
rt_pm32_hook:
    pushal
    movl %esp, pm32_esp
    movl %cr0, %eax
    movl %eax, pm32_cr0

    pushl $0x00000883                   /* OF SF CF and bit 1 */
    pushl $RT_KCODE32
    pushl $1f
    iretl
1:  pushfl
    popl %eax
    movl %eax, pm32_flags
    movl %esp, pm32_esp_after
    pushl $0x00000002                   /* flags clean again */
    popfl

    /* a 32-bit TSS for ESP0/SS0, and an IDT with one gate */
    movl $pm32_stack0_top, pm32_tss + 4
    movl $RT_KDATA, pm32_tss + 8
    movl $pm32_tss, %eax
    movw $103, rt_gdt + SEL_TSS32
    movw %ax, rt_gdt + SEL_TSS32 + 2
    shrl $16, %eax
    movb %al, rt_gdt + SEL_TSS32 + 4
    movb $0x89, rt_gdt + SEL_TSS32 + 5  /* P, 32-bit TSS (available) */
    movb $0, rt_gdt + SEL_TSS32 + 6
    movb %ah, rt_gdt + SEL_TSS32 + 7
    movw $SEL_TSS32, %ax
    ltr %ax
    movl $pm32_int80, %eax
    movw %ax, pm32_idt + 0x80 * 8
    movw $RT_KCODE32, pm32_idt + 0x80 * 8 + 2
    movw $0xee00, pm32_idt + 0x80 * 8 + 4 /* P, DPL 3, 32-bit int gate */
    shrl $16, %eax
    movw %ax, pm32_idt + 0x80 * 8 + 6
    lidt pm32_idtr

    pushl $(RT_UDATA | 3)
    pushl $pm32_ustack_top
    pushl $0x00000003                   /* CF, IF = 0 */
    pushl $(RT_UCODE32 | 3)
    pushl $pm32_user
    iretl

pm32_user:                              /* CPL 3; DS is null, so no stores */
    movl %cs, %ebx
    movl %ss, %ecx
    movl %ds, %edx
    movl %esp, %esi
    int $0x80
pm32_after_int:
    ud2

pm32_int80:                             /* CPL 0 on pm32_stack0 */
    movl $RT_KDATA, %eax
    movw %ax, %ds
    movw %ax, %es
    movl %ebx, pm32_user_cs
    movl %ecx, pm32_user_ss
    movl %edx, pm32_user_ds
    movl %esi, pm32_user_esp
    movl %esp, pm32_frame_at
    movl 0(%esp), %eax
    movl %eax, pm32_frame + 0
    movl 4(%esp), %eax
    movl %eax, pm32_frame + 4
    movl 8(%esp), %eax
    movl %eax, pm32_frame + 8
    movl 12(%esp), %eax
    movl %eax, pm32_frame + 12
    movl 16(%esp), %eax
    movl %eax, pm32_frame + 16
    movl %ss, %eax
    movl %eax, pm32_kernel_ss
    /* back into the hook's own context (still CPL 0) */
    movl pm32_esp, %esp
    movl $1, pm32_done
    popal
    ret

    .globl pm32_after_int_addr
pm32_after_int_addr:
    .long pm32_after_int
    .long pm32_stack0_top
    .long pm32_ustack_top

    .data
    .balign 8
pm32_idtr:
    .word 256 * 8 - 1
    .long pm32_idt
    .balign 4
    .globl pm32_cr0, pm32_flags, pm32_esp, pm32_esp_after, pm32_done
    .globl pm32_user_cs, pm32_user_ss, pm32_user_ds, pm32_user_esp
    .globl pm32_frame, pm32_frame_at, pm32_kernel_ss
pm32_cr0:        .long 0
pm32_flags:      .long 0
pm32_esp:        .long 0
pm32_esp_after:  .long 0
pm32_done:       .long 0
pm32_user_cs:    .long 0
pm32_user_ss:    .long 0
pm32_user_ds:    .long 0
pm32_user_esp:   .long 0
pm32_frame:      .long 0, 0, 0, 0, 0
pm32_frame_at:   .long 0
pm32_kernel_ss:  .long 0

    .bss
    .balign 4096
pm32_idt:    .skip 256 * 8
pm32_tss:    .skip 104
    .balign 16
    .skip 1024
pm32_stack0_top:
    .skip 1024
pm32_ustack_top:

/* ------------------------------------------------------- 64-bit targets -- */

    .text
    .code64

/* Call gate target: CPL 0 on TSS.RSP0; the far CALL pushed SS, RSP, CS,
   RIP, 8 bytes each (SDM Vol. 3A 5.8.6). Records them, LRETQ back out. */
    .globl cg_target
cg_target:
    movq %rsp, cg_rsp(%rip)
    movq 0(%rsp), %rax
    movq %rax, cg_frame + 0(%rip)
    movq 8(%rsp), %rax
    movq %rax, cg_frame + 8(%rip)
    movq 16(%rsp), %rax
    movq %rax, cg_frame + 16(%rip)
    movq 24(%rsp), %rax
    movq %rax, cg_frame + 24(%rip)
    movw %ss, cg_ss(%rip)
    movw %cs, cg_cs(%rip)
    lretq

/* SYSCALL from 64-bit mode (LSTAR): no stack switch, RCX = RIP, R11 =
   RFLAGS (SDM Vol. 2B SYSCALL). Records, SYSRETQ. */
    .globl sc_entry64
sc_entry64:
    movq %rcx, sc_rcx(%rip)
    movq %r11, sc_r11(%rip)
    movq %rsp, sc_rsp(%rip)
    movw %cs, sc_cs(%rip)
    movw %ss, sc_ss(%rip)
    pushfq
    popq %rax
    movq %rax, sc_flags(%rip)
    incq sc_count(%rip)
    sysretq

/* SYSCALL from compatibility mode (CSTAR, AMD): back with SYSRETL. */
    .globl sc_entry32
sc_entry32:
    movq %rcx, sc_rcx(%rip)
    movq %r11, sc_r11(%rip)
    movw %cs, sc_cs(%rip)
    movw %ss, sc_ss(%rip)
    incq sc_count(%rip)
    sysretl

/* SYSENTER (Intel, 64-bit): CS = SYSENTER_CS, SS = +8, RSP and RIP from
   the MSRs (SDM Vol. 2B SYSENTER). Back with SYSEXITQ to RDX:RCX. */
    .globl se_entry
se_entry:
    movq %rsp, se_rsp(%rip)
    movw %cs, se_cs(%rip)
    movw %ss, se_ss(%rip)
    pushfq
    popq %rax
    movq %rax, se_flags(%rip)
    incq se_count(%rip)
    rex64 sysexit

/* Far JMP into compatibility mode and back: returns 0x12345677, computed
   with 48h as DEC EAX, which is a REX prefix in 64-bit mode. */
    .globl farjmp_compat
farjmp_compat:
    pushq %rbx
    movq %rsp, fj_rsp(%rip)
    ljmp *fj_to32(%rip)
    .code32
fj32:
    movl $0x12345678, %eax
    .byte 0x48                          /* DEC EAX */
    ljmp $RT_KCODE64, $fj64
    .code64
fj64:
    movq fj_rsp(%rip), %rsp             /* upper halves: see rt_compat_call */
    popq %rbx
    ret

/* Far RET and IRETQ at the same privilege level. */
    .globl lretq_same
lretq_same:
    pushq $RT_KCODE64
    leaq 1f(%rip), %rax
    pushq %rax
    lretq
1:  movw %cs, %ax
    movzwl %ax, %eax
    ret

/* iretq_same(flags) -> the RFLAGS after an IRETQ that loaded flags | 2. */
    .globl iretq_same
iretq_same:
    movq %rsp, %rcx
    pushq $RT_KDATA
    pushq %rcx
    orq $2, %rdi
    pushq %rdi
    pushq $RT_KCODE64
    leaq 1f(%rip), %rax
    pushq %rax
    iretq
1:  pushfq
    popq %rax
    pushq $2
    popfq
    cmpq %rsp, %rcx
    je 2f
    movq $-1, %rax                      /* RSP not restored */
2:  ret

/* iretq_compat() -> EAX computed in compatibility mode at CPL 0, entered
   with IRETQ (CS = RT_KCODE32) and left with a far JMP. */
    .globl iretq_compat
iretq_compat:
    pushq %rbx
    movq %rsp, fj_rsp(%rip)
    movq %rsp, %rcx
    pushq $RT_KDATA
    pushq %rcx
    pushq $2
    pushq $RT_KCODE32
    leaq ic32(%rip), %rax
    pushq %rax
    iretq
    .code32
ic32:
    movl $0x00c0ffee, %eax
    .byte 0x48                          /* DEC EAX */
    ljmp $RT_KCODE64, $ic64
    .code64
ic64:
    movq fj_rsp(%rip), %rsp
    popq %rbx
    ret

/* A 64-bit routine reached by a far CALL from compatibility mode: adds 5
   with a 64-bit immediate only 64-bit mode can decode, returns with a
   32-bit far RET (pops EIP, CS: 4 bytes each). */
    .globl f64_add5
f64_add5:
    movl %eax, %ecx
    movabsq $0x500000000, %rax
    shrq $32, %rax
    addl %ecx, %eax
    lretl

    .data
    .balign 8
fj_to32:
    .long fj32
    .word RT_KCODE32
    .balign 8
fj_rsp:
    .quad 0

    .balign 8
    .globl cg_frame, cg_rsp, cg_ss, cg_cs
cg_frame: .quad 0, 0, 0, 0
cg_rsp:   .quad 0
cg_ss:    .word 0
cg_cs:    .word 0
    .balign 8
    .globl sc_rcx, sc_r11, sc_rsp, sc_cs, sc_ss, sc_flags, sc_count
sc_rcx:   .quad 0
sc_r11:   .quad 0
sc_rsp:   .quad 0
sc_flags: .quad 0
sc_count: .quad 0
sc_cs:    .word 0
sc_ss:    .word 0
    .balign 8
    .globl se_rsp, se_cs, se_ss, se_flags, se_count
se_rsp:   .quad 0
se_flags: .quad 0
se_count: .quad 0
se_cs:    .word 0
se_ss:    .word 0

/* ----------------------------------------- 32-bit code run from C -- */

    .text
    .code32
/* compat_calls64(arg): DEC EAX (48h), PUSH/POP width, a far CALL to
   64-bit code and back. Returns arg - 1 + 5 + (ESP step == 4 ? 0 : 1000). */
    .globl compat_calls64
compat_calls64:
    .byte 0x48                          /* DEC EAX */
    movl %esp, %edx
    pushl %eax
    subl %esp, %edx                     /* 4 in 32-bit code */
    popl %eax
    cmpl $4, %edx
    je 1f
    addl $1000, %eax
1:  lcall $RT_KCODE64, $f64_add5
    ret

    .section .user.text, "ax"
/* user32_syscall(arg): SYSCALL from compatibility mode at CPL 3. On AMD
   it enters CSTAR and SYSRETL comes back here; on Intel it is #UD. */
    .globl user32_syscall
user32_syscall:
    movl %eax, %edi
    syscall
    movl %edi, %eax
    incl %eax
    ret
    .code64

/* user_flags(): RFLAGS as IRETQ left them, before any other instruction. */
    .section .user.text, "ax"
    .globl user_flags
user_flags:
    pushfq
    popq %rax
    ret
