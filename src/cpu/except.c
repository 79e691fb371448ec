/*
 * src/cpu/except.c - exception delivery and the double-fault rules.
 *
 * A fault raised while delivering another is combined with it by the
 * classes of SDM Vol. 3A 6.15 Table 6-5 (APM Vol. 2 8.2.9): benign,
 * contributory (#DE, #TS, #NP, #SS, #GP) and page fault. Two that cannot
 * be handled serially become #DF; a fault while delivering #DF is a
 * triple fault, and the CPU shuts down (SDM Vol. 3A 6.15 "Interrupt 8").
 */
#include "cpu/exec.h"

static bool contributory(uint8_t v)
{
    return v == CPU_VEC_DE || v == CPU_VEC_TS || v == CPU_VEC_NP ||
           v == CPU_VEC_SS || v == CPU_VEC_GP;
}

/* Table 6-5: does `second`, raised while delivering `first`, make #DF? */
static bool makes_double_fault(uint8_t first, uint8_t second)
{
    if (contributory(first))
        return contributory(second);
    if (first == CPU_VEC_PF)
        return contributory(second) || second == CPU_VEC_PF;
    return false;
}

/*
 * Real-address mode (SDM Vol. 3A 21.1.4, INT n "REAL-ADDRESS-MODE"):
 * the vector's 4-byte IVT entry must lie within the IDTR limit (#GP),
 * then FLAGS, CS and IP are pushed, IF, TF and AC cleared, and CS:IP
 * loaded from the entry.
 */
static cpu_res deliver_real(svmx_cpu *cpu, const cpu_fault *e, cpu_fault *f)
{
    uint64_t entry;
    uint64_t ivt = cpu->sregs.idt.base + (uint64_t)e->vector * 4;
    if ((uint64_t)e->vector * 4 + 3 > cpu->sregs.idt.limit)
        return cpu_raise(f, CPU_VEC_GP, true, 0);
    cpu_res r = exec_read_linear(cpu, ivt & 0xffffffffull, 4, 0, &entry, f);
    if (r != CPU_OK)
        return r;

    uint64_t sp0 = cpu->regs.gpr[SVMX_RSP];
    uint64_t flags = cpu->regs.rflags & 0xffff;
    if ((r = exec_push(cpu, 2, flags, f)) != CPU_OK ||
        (r = exec_push(cpu, 2, cpu->sregs.seg[SVMX_CS].selector, f)) != CPU_OK ||
        (r = exec_push(cpu, 2, cpu->regs.rip & 0xffff, f)) != CPU_OK) {
        cpu->regs.gpr[SVMX_RSP] = sp0;
        return r;
    }
    cpu->regs.rflags &= ~(SVMX_RFLAGS_IF | SVMX_RFLAGS_TF | SVMX_RFLAGS_AC);
    svmx_segment *cs = &cpu->sregs.seg[SVMX_CS];
    cs->selector = (uint16_t)(entry >> 16);
    cs->base = (uint64_t)cs->selector << 4;
    cpu->regs.rip = entry & 0xffff;
    return CPU_OK;
}

static void chain_add(svmx_cpu *cpu, uint8_t vector)
{
    svmx_stop *s = cpu->stop;
    if (!s)
        return;
    if (s->chain_len < sizeof s->chain) {
        s->chain[s->chain_len++] = vector;
    } else { /* keep the last three */
        s->chain[0] = s->chain[1];
        s->chain[1] = s->chain[2];
        s->chain[2] = vector;
    }
}

cpu_res exec_deliver(svmx_cpu *cpu, const cpu_fault *fault)
{
    cpu_fault cur = *fault;
    if (cpu->stop)
        cpu->stop->chain_len = 0;
    for (;;) {
        cpu_fault next = { 0 };
        cpu_res r;
        chain_add(cpu, cur.vector);
        if (cur.vector == CPU_VEC_PF)
            cpu->sregs.cr2 = cur.cr2;
        if (svmx_cpu_mode(cpu) == SVMX_MODE_REAL)
            r = deliver_real(cpu, &cur, &next);
        else
            r = exec_stop(cpu, SVMX_STOP_UNSUPPORTED,
                          "exception delivery outside real mode");
        if (r != CPU_FAULT)
            return r;
        if (cur.vector == CPU_VEC_DF) {
            /* Triple fault: shutdown (SDM Vol. 3A 6.15, Interrupt 8). */
            cpu->events.activity = SVMX_ACTIVITY_SHUTDOWN;
            return exec_stop(cpu, SVMX_STOP_SHUTDOWN, "triple fault");
        }
        if (makes_double_fault(cur.vector, next.vector))
            cpu_raise(&cur, CPU_VEC_DF, true, 0);
        else
            cur = next;
    }
}
