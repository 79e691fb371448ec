/*
 * tests/exec_fixture.h - a small machine for the interpreter's unit
 * tests: 1 MiB of RAM, port I/O that records OUTs, and boot helpers that
 * put the CPU in real, protected or long mode with code at 0x7C00.
 *
 * Memory map of the protected and long-mode machines:
 *   0x1000 GDT  (0x08 code32 DPL0, 0x10 data DPL0, 0x18 code64 DPL0,
 *                0x20 code32 DPL3, 0x28 data DPL3, 0x30 32-bit TSS,
 *                0x38 code64 DPL3)
 *   0x2000 IDT  0x3000 TSS  0x7000 stack top  0x7C00 code  0x8000 HLT
 *   0x10000-0x12fff long-mode page tables (identity map of 2 MiB)
 */
#ifndef SVMX_TESTS_EXEC_FIXTURE_H
#define SVMX_TESTS_EXEC_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "svmx/svmx.h"
#include "flag_names.h"


#define RAM_SIZE (1u << 20)
#define GDT 0x1000
#define IDT 0x2000
#define TSS 0x3000

typedef struct machine {
    uint8_t  ram[RAM_SIZE];
    svmx_cpu *cpu;
    svmx_io_ops io;
    unsigned outs;
    uint16_t out_port[8];
    uint32_t out_value[8];
    uint16_t stop_port;   /* an OUT here requests a stop */
    uint32_t in_value;    /* what every IN reads */
} machine;

extern machine m;

/* Real mode: CS:IP = 0000:7C00, SS:SP = 0000:7000, the IVT at 0. */
void boot_real(svmx_vendor vendor, const uint8_t *code, size_t n);

/* 32-bit protected mode with the GDT above, flat segments at CPL 0 (or
 * CPL 3 when `user`), TR loaded, IF set, no paging, on a CPU of `vendor`.
 * boot_protected() is the same on AMD. */
void boot_protected_v(svmx_vendor vendor, const uint8_t *code, size_t n,
                      bool user);
void boot_protected(const uint8_t *code, size_t n, bool user);

/* 64-bit mode: boot_protected_v, then PAE paging with an identity map of
 * the first 2 MiB (user-accessible), EFER.LME/LMA, CS = 0x18 (or 0x3b
 * at CPL 3). IDT entries are 16 bytes. boot_long() is the same on AMD. */
void boot_long_v(svmx_vendor vendor, const uint8_t *code, size_t n,
                 bool user);
void boot_long(const uint8_t *code, size_t n, bool user);

uint64_t reg(svmx_gpr g);
void set_reg(svmx_gpr g, uint64_t v);
uint64_t rip(void);
uint64_t rflags(void);
void put64(uint64_t addr, uint64_t v);
uint64_t get(uint64_t addr, unsigned n);

/* A 32-bit interrupt/trap gate (SDM Vol. 3A 6.11, Figure 6-2). */
uint64_t gate32(uint32_t off, uint16_t sel, uint8_t type_byte);
/* A flat 4 GiB segment register value. */
svmx_segment flat(uint16_t sel, uint16_t attr);

/* Runs at most `max` instructions and returns the stop. */
svmx_stop run(uint64_t max);

/* cmocka teardown: destroys the CPU. */
int fixture_teardown(void **state);

#endif /* SVMX_TESTS_EXEC_FIXTURE_H */
