/*
 * tests/kernels/svm/svm_asm.S - VMRUN, the guest trampoline and the
 * guest's interrupt stubs.
 *
 * APM Vol. 2 15.5.1: VMRUN saves only part of the host state (RAX, RSP,
 * RIP, RFLAGS, the segment registers CS/SS/DS/ES, GDTR, IDTR, CR0, CR3,
 * CR4, EFER) and loads the guest's from the VMCB; the other general
 * registers are neither saved nor loaded, so the guest starts with whatever
 * L1 had in them and L1 gets back whatever the guest left. svm_run_raw
 * therefore keeps L1's callee-saved registers on its stack and gives the
 * guest the values in svm_guest_regs, storing them back after #VMEXIT.
 */
#include "rt_asm.h"

    .text
    .code64

/* uint64_t svm_run_raw(svm_vmcb *vmcb = rdi): returns EXITCODE. */
    .globl svm_run_raw
svm_run_raw:
    pushq %rbx
    pushq %rbp
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    pushq %rdi
    movq %rdi, %rax                 /* the VMCB's physical address */
    movq svm_guest_regs + 0x00, %rbx
    movq svm_guest_regs + 0x08, %rcx
    movq svm_guest_regs + 0x10, %rdx
    movq svm_guest_regs + 0x18, %rsi
    movq svm_guest_regs + 0x20, %rdi
    movq svm_guest_regs + 0x28, %rbp
    movq svm_guest_regs + 0x30, %r8
    movq svm_guest_regs + 0x38, %r9
    movq svm_guest_regs + 0x40, %r10
    movq svm_guest_regs + 0x48, %r11
    movq svm_guest_regs + 0x50, %r12
    movq svm_guest_regs + 0x58, %r13
    movq svm_guest_regs + 0x60, %r14
    movq svm_guest_regs + 0x68, %r15
    vmrun %rax
    /* #VMEXIT: RAX, RSP, RIP as saved by VMRUN; the rest are the guest's */
    movq %rbx, svm_guest_regs + 0x00
    movq %rcx, svm_guest_regs + 0x08
    movq %rdx, svm_guest_regs + 0x10
    movq %rsi, svm_guest_regs + 0x18
    movq %rdi, svm_guest_regs + 0x20
    movq %rbp, svm_guest_regs + 0x28
    movq %r8, svm_guest_regs + 0x30
    movq %r9, svm_guest_regs + 0x38
    movq %r10, svm_guest_regs + 0x40
    movq %r11, svm_guest_regs + 0x48
    movq %r12, svm_guest_regs + 0x50
    movq %r13, svm_guest_regs + 0x58
    movq %r14, svm_guest_regs + 0x60
    movq %r15, svm_guest_regs + 0x68
    cld                             /* the C code after us expects DF = 0 */
    popq %rdi
    movq 0x70(%rdi), %rax           /* EXITCODE */
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbp
    popq %rbx
    ret

/* The guest side of svm_vmcb_call: RAX = fn, RDI = arg, RSP 16-aligned. */
    .globl svm_guest_tramp
svm_guest_tramp:
    call *%rax
    vmmcall
    ud2

/*
 * The guest's 256 stubs, 16 bytes each, like the runtime's: push a 0 error
 * code where the CPU pushes none (vectors 8, 10-14, 17, 21, 29, 30 have
 * one), the vector, then record and halt (or return, per
 * svm_guest_resume[vector]).
 */
    .balign 16
    .globl svm_gstubs, svm_gstubs_end
svm_gstubs:
    .set vec, 0
    .rept 256
    .balign 16
    .if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
    .else
    pushq $0
    .endif
    pushq $vec
    jmp svm_gstub_common
    .set vec, vec + 1
    .endr

svm_gstub_common:
    /* stack: vector, error, RIP, CS, RFLAGS, RSP, SS */
    pushq %rax
    movq 8(%rsp), %rax
    movq %rax, svm_guest_exc + 0x08
    movq 16(%rsp), %rax
    movq %rax, svm_guest_exc + 0x10
    movq 24(%rsp), %rax
    movq %rax, svm_guest_exc + 0x18
    movq 32(%rsp), %rax
    movq %rax, svm_guest_exc + 0x20
    movq 40(%rsp), %rax
    movq %rax, svm_guest_exc + 0x28
    movq 48(%rsp), %rax
    movq %rax, svm_guest_exc + 0x30
    movq 56(%rsp), %rax
    movq %rax, svm_guest_exc + 0x38
    incq svm_guest_exc + 0x00
    movq 8(%rsp), %rax
    andl $0xff, %eax
    cmpb $0, svm_guest_resume(%rax)
    jne 2f
    popq %rax
    .globl svm_gstub_halt
svm_gstub_halt:
1:  hlt
    jmp 1b
2:  popq %rax
    addq $16, %rsp
    iretq
svm_gstubs_end:
