/*
 * tests/kernels/rt/rt_asm.h - the runtime's constants, for C and assembly.
 *
 * Plain hexadecimal literals only, so the same lines work in a .S file.
 */
#ifndef RT_ASM_H
#define RT_ASM_H

/*
 * The GDT. The user selectors are laid out for SYSRET (STAR[63:48] =
 * RT_UCODE32: 32-bit CS = base, SS = base + 8, 64-bit CS = base + 16;
 * APM Vol. 3 SYSRET, SDM Vol. 2B SYSRET) and for SYSEXIT with
 * IA32_SYSENTER_CS = RT_KCODE64 (32-bit CS = +16, SS = +24; 64-bit CS =
 * +32, SS = +40; SDM Vol. 2B SYSEXIT).
 */
#define RT_KCODE64   0x08 /* DPL 0, L = 1                          */
#define RT_KDATA     0x10 /* DPL 0, flat 4 GiB read/write, B = 1   */
#define RT_UCODE32   0x18 /* DPL 3, 32-bit (D = 1)                 */
#define RT_UDATA     0x20 /* DPL 3, flat read/write                */
#define RT_UCODE64   0x28 /* DPL 3, L = 1                          */
#define RT_UDATA2    0x30 /* DPL 3, flat read/write (SYSEXIT64 SS) */
#define RT_KCODE32   0x38 /* DPL 0, 32-bit (D = 1)                 */
#define RT_TSS_SEL   0x48 /* 64-bit TSS, 16 bytes (0x48 and 0x50)  */
#define RT_GDT_FREE  0x58 /* first slot tests may use (rt_gdt_set) */
#define RT_GDT_SLOTS 32   /* the GDT limit is 32 * 8 - 1            */

#define RT_CR0_PE   0x00000001
#define RT_CR0_ET   0x00000010
#define RT_CR0_NE   0x00000020
#define RT_CR0_WP   0x00010000
#define RT_CR0_AM   0x00040000
#define RT_CR0_PG   0x80000000
#define RT_CR4_PSE  0x00000010
#define RT_CR4_PAE  0x00000020
#define RT_CR4_PGE  0x00000080
#define RT_CR4_SMEP 0x00100000
#define RT_CR4_SMAP 0x00200000
#define RT_EFER_SCE  0x00000001
#define RT_EFER_LME  0x00000100
#define RT_EFER_LMA  0x00000400
#define RT_EFER_NXE  0x00000800
#define RT_EFER_SVME 0x00001000

#define RT_MSR_APIC_BASE    0x0000001b
#define RT_MSR_SYSENTER_CS  0x00000174
#define RT_MSR_SYSENTER_ESP 0x00000175
#define RT_MSR_SYSENTER_EIP 0x00000176
#define RT_MSR_EFER         0xc0000080
#define RT_MSR_STAR         0xc0000081
#define RT_MSR_LSTAR        0xc0000082
#define RT_MSR_CSTAR        0xc0000083
#define RT_MSR_FMASK        0xc0000084

/* The runtime's own vector, a DPL 3 gate: rt_user_call's way back. */
#define RT_VEC_USER_RET 0x81

#endif /* RT_ASM_H */
