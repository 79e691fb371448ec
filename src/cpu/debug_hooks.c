/*
 * src/cpu/debug_hooks.c - the embedder's debug hooks: breakpoints on
 * instruction addresses and INT3 as a software breakpoint
 * (include/svmx/cpu.h, svmx_cpu_set_debug; docs/interpreter.md "Debug
 * hooks").
 *
 * They are DESIGN.md's first step of the router's order: before the
 * instruction runs, so before L1's intercepts, the L0 policy and the
 * guest's own breakpoints can see anything it raises. Neither is an
 * architectural event: the stop changes no guest state, and resuming
 * passes the instruction once, as RFLAGS.RF passes a DR0-DR3 instruction
 * breakpoint (SDM Vol. 3B 18.3.1.1) but without touching RFLAGS.
 */
#include "cpu/debug_hooks.h"

#include <string.h>

#include "cpu/cpu_internal.h"
#include "cpu/exec.h"

#define DEBUG_LEVELS (SVMX_DEBUG_L1 | SVMX_DEBUG_L2)

const char *svmx_debug_cause_name(svmx_debug_cause cause)
{
    static const char *const names[] = {
#define DEBUG_NAME_(name, text) #name,
        SVMX_DEBUG_CAUSES(DEBUG_NAME_)
#undef DEBUG_NAME_
    };
    return (unsigned)cause < SVMX_DEBUG_CAUSE_COUNT ? names[cause] : "?";
}

/* cpu_debug.active from the rest. */
static void update(cpu_debug *d)
{
    d->active = d->set.nbreakpoints != 0 || d->resume || d->passing;
}

svmx_status svmx_cpu_set_debug(svmx_cpu *cpu, const svmx_debug *debug)
{
    static const svmx_debug none;
    if (!cpu)
        return SVMX_E_ARG;
    if (!debug)
        debug = &none;
    if (debug->nbreakpoints > SVMX_DEBUG_BREAKPOINTS ||
        (debug->int3 & ~DEBUG_LEVELS))
        return SVMX_E_ARG;
    for (unsigned i = 0; i < debug->nbreakpoints; i++) {
        uint8_t l = debug->breakpoints[i].levels;
        if (!l || (l & ~DEBUG_LEVELS))
            return SVMX_E_ARG;
    }
    /* Only the breakpoints in use are kept: get_debug gives zeros for
     * the rest, whatever the caller left there. */
    memset(&cpu->debug.set, 0, sizeof cpu->debug.set);
    memcpy(cpu->debug.set.breakpoints, debug->breakpoints,
           debug->nbreakpoints * sizeof debug->breakpoints[0]);
    cpu->debug.set.nbreakpoints = debug->nbreakpoints;
    cpu->debug.set.int3 = debug->int3;
    update(&cpu->debug);
    /* Called from a callback in a run: the fast loop, which does not
     * look at breakpoints, ends at the next boundary. */
    cpu->attention = true;
    return SVMX_OK;
}

svmx_status svmx_cpu_get_debug(const svmx_cpu *cpu, svmx_debug *debug)
{
    if (!cpu || !debug)
        return SVMX_E_ARG;
    *debug = cpu->debug.set;
    return SVMX_OK;
}

/* The run stops for the embedder before the instruction at
 * (cpu->debug.level, cpu->debug.lin), which resuming passes once. */
static cpu_res debug_stop(svmx_cpu *cpu, svmx_debug_cause cause,
                          unsigned index)
{
    cpu_res r = exec_stop(cpu, SVMX_STOP_DEBUG,
                          cause == SVMX_DEBUG_INT3 ? "INT3 for the embedder"
                                                   : "embedder breakpoint");
    if (cpu->stop && cpu->stop->reason == SVMX_STOP_DEBUG) {
        cpu->stop->debug = (uint8_t)cause;
        cpu->stop->breakpoint = (uint8_t)index;
        cpu->stop->level = cpu->debug.level;
    }
    cpu->debug.resume = true;
    cpu->debug.passing = false;
    update(&cpu->debug);
    return r;
}

static uint8_t level_of(const svmx_cpu *cpu)
{
    return cpu->svm.guest ? SVMX_LEVEL_L2 : SVMX_LEVEL_L1;
}

cpu_res debug_boundary(svmx_cpu *cpu, uint64_t lin)
{
    cpu_debug *d = &cpu->debug;
    uint8_t level = level_of(cpu);
    /* The resume holds for the first boundary after the stop only, and
     * `passing` for the instruction there: this boundary ends both. */
    d->passing = d->resume && d->level == level && d->lin == lin;
    d->resume = false;
    d->level = level;
    d->lin = lin;
    update(d);
    if (d->passing)
        return CPU_OK;
    for (unsigned i = 0; i < d->set.nbreakpoints; i++) {
        const svmx_breakpoint *b = &d->set.breakpoints[i];
        if (b->addr == lin && ((b->levels >> level) & 1))
            return debug_stop(cpu, SVMX_DEBUG_BREAKPOINT, i);
    }
    return CPU_OK;
}

bool debug_int3(svmx_cpu *cpu, const svmx_insn *insn)
{
    cpu_debug *d = &cpu->debug;
    uint8_t level = level_of(cpu);
    if (!((d->set.int3 >> level) & 1))
        return false;
    /* The INT3's own address: RIP is past it. A resumed INT3 came
     * through debug_boundary(), which the resume keeps on (`active`). */
    svmx_mode mode = cpu_mode(cpu);
    uint64_t rip = (cpu->regs.rip - insn->length) & exec_rip_masks[mode];
    uint64_t lin = exec_cs_linear(cpu, mode, rip);
    if (d->passing && d->level == level && d->lin == lin)
        return false;
    d->level = level;
    d->lin = lin;
    debug_stop(cpu, SVMX_DEBUG_INT3, 0);
    return true;
}

void debug_reset(svmx_cpu *cpu)
{
    cpu->debug.resume = false;
    cpu->debug.passing = false;
    update(&cpu->debug);
}
