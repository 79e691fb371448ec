/*
 * tests/kernels/rt/boot.S - multiboot header, 32-bit entry and the switch
 * to long mode.
 *
 * The loader (svmx run, QEMU -kernel) enters rt_entry32 in 32-bit
 * protected mode with paging off (Multiboot 0.6.96 3.2). We load our GDT,
 * give a kernel's optional 32-bit hook (rt_pm32_hook, a weak symbol) the
 * CPU in plain protected mode, then enter IA-32e mode the way SDM Vol. 3A
 * 10.8.5 and APM Vol. 2 14.6.1 describe: CR4.PAE, CR3 = PML4, EFER.LME,
 * CR0.PG, and a far jump to a 64-bit code segment.
 */
#include "rt_asm.h"

    .set MB_MAGIC, 0x1badb002
    /* page-align modules, memory information, address fields (bit 16) */
    .set MB_FLAGS, 0x00010003

    .section .multiboot, "a"
    .balign 4
mb_header:
    .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
    .long mb_header         /* header_addr   */
    .long __load_start      /* load_addr     */
    .long __load_end        /* load_end_addr */
    .long __bss_end         /* bss_end_addr  */
    .long rt_entry32        /* entry_addr    */

    .weak rt_pm32_hook

    .section .text.boot, "ax"
    .code32
    .globl rt_entry32
rt_entry32:
    cli
    cld
    movl $rt_boot_stack_top, %esp   /* ESP is undefined at entry */
    movl %eax, rt_mb_magic
    movl %ebx, rt_mb_info

    lgdt rt_gdtr                    /* 6 bytes in 32-bit mode: base < 4 GiB */
    ljmp $RT_KCODE32, $1f
1:  movl $RT_KDATA, %eax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %fs
    movw %ax, %gs
    movw %ax, %ss

    /* A kernel may look at plain 32-bit protected mode first. */
    movl $rt_pm32_hook, %eax
    testl %eax, %eax
    jz 2f
    call *%eax
2:
    /* Long mode needs CPUID 8000_0001 EDX[29] (LM); NX is optional. */
    movl $0x80000000, %eax
    cpuid
    cmpl $0x80000001, %eax
    jb no_long_mode
    movl $0x80000001, %eax
    cpuid
    testl $(1 << 29), %edx
    jz no_long_mode
    movl $RT_EFER_LME, %esi
    testl $(1 << 20), %edx
    jz 3f
    orl $RT_EFER_NXE, %esi
3:
    /* 512 PDEs of 2 MiB: P | W | PS, supervisor (rt_paging_init() splits
       the first one and adds the user pages). */
    movl $rt_pd0, %edi
    xorl %ecx, %ecx
4:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax
    movl %eax, (%edi,%ecx,8)
    movl $0, 4(%edi,%ecx,8)
    incl %ecx
    cmpl $512, %ecx
    jb 4b
    movl $rt_pd0, %eax
    orl $7, %eax                    /* P | W | U: the leaves decide */
    movl %eax, rt_pdpt0
    movl $rt_pdpt0, %eax
    orl $7, %eax
    movl %eax, rt_pml4

    movl %cr4, %eax
    orl $RT_CR4_PAE, %eax
    movl %eax, %cr4
    movl $rt_pml4, %eax
    movl %eax, %cr3
    movl $RT_MSR_EFER, %ecx
    rdmsr
    orl %esi, %eax
    movl %eax, rt_efer_written
    movl %edx, rt_efer_written + 4
    wrmsr
    movl %cr0, %eax
    orl $(RT_CR0_PG | RT_CR0_WP), %eax
    movl %eax, %cr0
    ljmp $RT_KCODE64, $rt_entry64

no_long_mode:
    movl $no_lm_msg, %esi
    movw $0xe9, %dx
5:  movb (%esi), %al
    testb %al, %al
    jz 6f
    outb %al, %dx
    incl %esi
    jmp 5b
6:  movb $2, %al
    outb %al, $0xf4
7:  hlt
    jmp 7b

    .code64
rt_entry64:
    movl $RT_KDATA, %eax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    movq $rt_stack_top, %rsp
    xorl %ebp, %ebp
    call rt_main
8:  hlt
    jmp 8b

    .section .rodata
no_lm_msg:
    .asciz "FAIL: no long mode (CPUID 8000_0001 EDX bit 29 is clear)\nFAIL\n"

    .section .data
    .balign 16
    .globl rt_gdtr
rt_gdtr:
    .word RT_GDT_SLOTS * 8 - 1
    .quad rt_gdt
    .globl rt_gdt
    .balign 16
rt_gdt:
    .quad 0
    .quad 0x00af9b000000ffff        /* 0x08 RT_KCODE64 */
    .quad 0x00cf93000000ffff        /* 0x10 RT_KDATA   */
    .quad 0x00cffb000000ffff        /* 0x18 RT_UCODE32 */
    .quad 0x00cff3000000ffff        /* 0x20 RT_UDATA   */
    .quad 0x00affb000000ffff        /* 0x28 RT_UCODE64 */
    .quad 0x00cff3000000ffff        /* 0x30 RT_UDATA2  */
    .quad 0x00cf9b000000ffff        /* 0x38 RT_KCODE32 */
    .quad 0                         /* 0x40 unused     */
    .quad 0, 0                      /* 0x48 RT_TSS_SEL, filled by rt_main */
    .fill RT_GDT_SLOTS - 11, 8, 0   /* 0x58.. free     */

    .globl rt_mb_magic, rt_mb_info, rt_efer_written
    .balign 8
rt_efer_written: .quad 0
rt_mb_magic:     .long 0
rt_mb_info:      .long 0

    .section .bss
    .balign 4096
    .globl rt_pml4, rt_pdpt0, rt_pd0
rt_pml4:  .skip 4096
rt_pdpt0: .skip 4096
rt_pd0:   .skip 4096
    .balign 16
rt_boot_stack:
    .skip 4096
rt_boot_stack_top:
    .globl rt_stack, rt_stack_top
    .balign 16
rt_stack:
    .skip 65536
rt_stack_top:
