/*
 * src/cpu/debug_hooks.h - the embedder's debug hooks (svmx_cpu_set_debug,
 * include/svmx/cpu.h): breakpoints on instruction addresses and INT3 as a
 * software breakpoint, checked before anything an instruction raises
 * (DESIGN.md's order, step 1). Included by cpu_internal.h, so every file
 * of src/cpu sees struct cpu_debug.
 *
 * What they cost when none is set: nothing on the fast loop and the
 * instructions it hands over; on the per-instruction path one OR into
 * the test for the guest's DR7 breakpoints; in the INT3 handler one test.
 */
#ifndef SVMX_CPU_DEBUG_HOOKS_H
#define SVMX_CPU_DEBUG_HOOKS_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/fault.h"
#include "svmx/cpu.h"

typedef struct cpu_debug {
    svmx_debug set;        /* the hooks as the embedder set them         */
    /* Breakpoints are set, a resume is pending, or the resumed
     * instruction is running: the fast loop is off (quiet() in exec.c)
     * and every boundary calls debug_boundary(). */
    bool       active;
    /* Resuming from a DEBUG stop at (level, lin): the instruction there
     * runs without a hook stopping it ... */
    bool       resume;
    /* ... and this is that instruction, until the next boundary. */
    bool       passing;
    uint8_t    level;      /* of the stop, then of the passing one       */
    uint64_t   lin;
} cpu_debug;

typedef struct svmx_cpu svmx_cpu;

/*
 * At the boundary of an instruction at linear address `lin` (after the
 * event due there, before the fetch): the resume and the breakpoints.
 * CPU_STOP with the stop recorded when a breakpoint stops the CPU, else
 * CPU_OK. Only while cpu->debug.active.
 */
cpu_res debug_boundary(svmx_cpu *cpu, uint64_t lin);

/* INT3 `insn` (RIP already past it) is about to raise #BP: true when the
 * hooks take it instead (the stop is recorded; the handler returns
 * CPU_STOP, which puts RIP back). Only while cpu->debug.set.int3. */
bool debug_int3(svmx_cpu *cpu, const svmx_insn *insn);

/* The CPU was reset or took INIT: no resume is pending (the hooks stay). */
void debug_reset(svmx_cpu *cpu);

#endif /* SVMX_CPU_DEBUG_HOOKS_H */
