/*
 * tools/multiboot.h - the Multiboot (v1) kernel loader of `svmx run`.
 *
 * It loads a test kernel the way `qemu-system-x86_64 -kernel K` loads a
 * multiboot kernel (QEMU hw/i386/multiboot.c, with its option ROM
 * pc-bios/optionrom/multiboot.S doing the last steps inside the guest), so
 * that one image behaves the same on svmx and on QEMU:
 *
 *   - the header: magic 0x1BADB002 at a 4-byte aligned offset 0..8140 (QEMU
 *     scans i < 8192 - 48), flags + checksum + magic == 0 mod 2^32; the
 *     first such header wins;
 *   - flag bit 16 set: the header's address fields say where the bytes go
 *     (Multiboot 0.6.96 3.1.3), even when the file is also ELF; bit 16
 *     clear: the file must be ELF32/EM_386/little-endian and its PT_LOAD
 *     segments go to p_paddr; ELF64 and EM_X86_64 are refused;
 *   - the information structure (MBI) at 0x9500, the memory map at 0x9000,
 *     the command line and loader name in the page(s) after the kernel;
 *   - the entry state of QEMU's option ROM: 32-bit protected mode, paging
 *     off, CS = 0x08 and the data segments 0x10 from a flat GDT, EAX =
 *     0x2BADB002, EBX = 0x9500.
 *
 * docs/multiboot.md describes all of it for kernel writers, with sources.
 * Nothing here aborts: the image is untrusted input. Every range is checked
 * before anything is written, so a refused image leaves guest RAM and the
 * CPU untouched.
 */
#ifndef SVMX_TOOLS_MULTIBOOT_H
#define SVMX_TOOLS_MULTIBOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "svmx/svmx.h"

/* Fixed guest-physical addresses, as QEMU uses them (multiboot.c). */
#define MB_MMAP_ADDR 0x9000u  /* memory map (ADDR_E820_MAP)               */
#define MB_INFO_ADDR 0x9500u  /* information structure (ADDR_MBI), EBX    */
#define MB_INFO_SIZE 88u      /* bytes of it QEMU fills (MBI_SIZE)        */
#define MB_GDT_ADDR  0x9560u  /* svmx's copy of the option ROM's GDT      */
#define MB_GDT_LIMIT 0x27u    /* five descriptors, as in multiboot.S      */
#define MB_LOW_END   0x9588u  /* end of what svmx writes at 0x9000        */

/* Entry state (multiboot.S): selectors from its GDT, the stack, EFLAGS. */
#define MB_ENTRY_MAGIC 0x2badb002u
#define MB_ENTRY_CS    0x08u
#define MB_ENTRY_DS    0x10u
#define MB_ENTRY_ESP   0x7000u /* top of SeaBIOS's stack; see the docs    */
#define MB_ENTRY_CR0   0x11u   /* PE, and ET which QEMU always sets       */

/* Warnings: the image loaded, but something in it deserves a word. */
#define MB_WARN_VIDEO 0x1u /* flag bit 2 (video mode): ignored, as QEMU does */
#define MB_WARN_ENTRY 0x2u /* entry point outside the loaded image          */
#define MB_WARN_COUNT 2

/* What mb_load() did, for the caller to print or check. */
typedef struct mb_info {
    uint32_t header_offset; /* file offset of the multiboot header         */
    uint32_t header_flags;  /* its flags word                              */
    bool     elf;           /* placed by ELF program headers (bit 16 clear) */
    uint32_t entry;         /* EIP at entry, a physical address            */
    uint32_t kernel_start;  /* kernel bytes and bss, [start, end)          */
    uint32_t kernel_end;
    uint32_t info_start;    /* command line and loader name, [start, end)  */
    uint32_t info_end;
    uint32_t cmdline_addr;  /* MBI cmdline                                  */
    uint32_t mem_lower;     /* MBI mem_lower, KiB                          */
    uint32_t mem_upper;     /* MBI mem_upper, KiB                          */
    unsigned warnings;      /* MB_WARN_* bits                              */
} mb_info;

/*
 * Loads the multiboot kernel image[0..size) into the guest RAM of `cpu`
 * and sets its registers to the multiboot entry state.
 *
 * kernel_name is what QEMU calls the kernel file name (the -kernel argument
 * as typed) and append the -append string, NULL meaning none. The MBI
 * command line is "<kernel_name> <append>", exactly as QEMU builds it, so
 * without append it ends in a space.
 *
 * Only RAM, GPRs, RIP, RFLAGS and the svmx_sregs registers are set; call
 * it on a CPU fresh from svmx_cpu_create() or svmx_cpu_reset(). The CPU's
 * RAM must be at least 1 MiB.
 *
 * Returns 0 and fills *out (may be NULL), or -1 with one English line,
 * without a trailing newline, in err[0..errlen) (err may be NULL when
 * errlen is 0). On -1 neither guest RAM nor the CPU has been changed,
 * unless the message starts with "internal:".
 */
int mb_load(svmx_cpu *cpu, const uint8_t *image, size_t size,
            const char *kernel_name, const char *append, mb_info *out,
            char *err, size_t errlen);

/* One English line for one MB_WARN_* bit; "" for anything else. */
const char *mb_warning_str(unsigned warning);

#endif /* SVMX_TOOLS_MULTIBOOT_H */
