/*
 * bench/bench_machine.h - the machine the interpreter benchmarks start
 * from: 64-bit mode, flat segments (code 0x08, data 0x10), and an
 * identity map of the first 2 MiB through one 2 MiB page.
 */
#ifndef SVMX_BENCH_MACHINE_H
#define SVMX_BENCH_MACHINE_H

#include <stdint.h>
#include <string.h>

#include "svmx/svmx.h"

static inline void bench_put64(uint8_t *ram, uint64_t addr, uint64_t v)
{
    memcpy(ram + addr, &v, 8); /* the host is little-endian x86-64 */
}

/* Resets `cpu` into 64-bit mode with the page tables at `pt` (three
 * pages: PML4, PDPT, PD), RIP `entry`, RSP `stack`, the other GPRs 0.
 * 0, or -1 if the state API refused something. */
static inline int bench_long_mode(svmx_cpu *cpu, uint8_t *ram, uint64_t pt,
                                  uint64_t entry, uint64_t stack)
{
    svmx_sregs s;
    svmx_regs r;
    bench_put64(ram, pt, (pt + 0x1000) | 3);
    bench_put64(ram, pt + 0x1000, (pt + 0x2000) | 3);
    bench_put64(ram, pt + 0x2000, 0x83);
    if (svmx_cpu_reset(cpu) != SVMX_OK || svmx_cpu_get_sregs(cpu, &s) != SVMX_OK)
        return -1;
    for (int i = SVMX_ES; i <= SVMX_GS; i++)
        s.seg[i] = (svmx_segment){ .limit = 0xffffffff, .selector = 0x10,
                                   .attr = 0xc93 };
    s.seg[SVMX_CS] = (svmx_segment){ .limit = 0xffffffff, .selector = 0x08,
                                     .attr = 0xa9b };
    s.cr0 = 0x80000011;
    s.cr3 = pt;
    s.cr4 = 0x20;
    s.efer = 0x500;             /* LME | LMA */
    if (svmx_cpu_set_sregs(cpu, &s) != SVMX_OK)
        return -1;
    memset(&r, 0, sizeof r);
    r.rip = entry;
    r.rflags = 2;
    r.gpr[SVMX_RSP] = stack;
    return svmx_cpu_set_regs(cpu, &r) == SVMX_OK ? 0 : -1;
}

/* Sets one general register. */
static inline int bench_set_gpr(svmx_cpu *cpu, svmx_gpr g, uint64_t v)
{
    svmx_regs r;
    if (svmx_cpu_get_regs(cpu, &r) != SVMX_OK)
        return -1;
    r.gpr[g] = v;
    return svmx_cpu_set_regs(cpu, &r) == SVMX_OK ? 0 : -1;
}

#endif /* SVMX_BENCH_MACHINE_H */
