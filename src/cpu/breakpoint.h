/*
 * src/cpu/breakpoint.h - the debug-register breakpoints of DR0-DR3 and
 * DR7 (SDM Vol. 3B 18.2-18.3, APM Vol. 2 13.1): instruction breakpoints
 * (faults, before the instruction), data breakpoints and I/O breakpoints
 * (traps, after it).
 *
 * The run loop arms them per instruction when DR7 enables any (L0-G3);
 * the fast loop never runs then. Data and I/O accesses record the
 * breakpoints they hit in cpu->bp_hits (DR6 B0-B3 bits); the run loop
 * turns a non-zero set into #DB after the instruction.
 */
#ifndef SVMX_CPU_BREAKPOINT_H
#define SVMX_CPU_BREAKPOINT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct svmx_cpu svmx_cpu;

/* True when DR7 enables any of the four breakpoints (L0-G3, bits 7:0;
 * SDM Vol. 3B 18.2.4). Inline: the run loop asks before every run. */
static inline bool bp_enabled(uint64_t dr7)
{
    return (dr7 & 0xff) != 0;
}

/* The breakpoints an instruction fetch at linear `lin` hits (DR6 B0-B3
 * bits; 0 for none). */
unsigned bp_instruction(const svmx_cpu *cpu, uint64_t lin);

/* Records the data breakpoints an access of `size` bytes at `lin` hits:
 * writes match R/W = 01 and 11, reads R/W = 11. */
void bp_data_access(svmx_cpu *cpu, uint64_t lin, unsigned size, bool write);

/* Records the I/O breakpoints (R/W = 10, CR4.DE = 1) a port access hits. */
void bp_io_access(svmx_cpu *cpu, uint16_t port, unsigned size);

#endif /* SVMX_CPU_BREAKPOINT_H */
