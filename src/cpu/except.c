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
#include "cpu/paging.h"

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

/* Vectors that push an error code (SDM Vol. 3A 6.13, Table 6-1). */
static bool pushes_error(uint8_t v)
{
    return v == CPU_VEC_DF || (v >= CPU_VEC_TS && v <= CPU_VEC_PF) ||
           v == CPU_VEC_AC || v == CPU_VEC_CP;
}

/* Reads the 8-byte descriptor of `sel` from the GDT or LDT as an implicit
 * supervisor access; #GP(sel) when it lies beyond the table's limit
 * (SDM Vol. 3A 3.4.2, 5.3). `ext` is the EXT bit of the error code. */
static cpu_res read_descriptor(svmx_cpu *cpu, uint16_t sel, unsigned ext,
                               uint64_t *desc, uint64_t *addr, cpu_fault *f)
{
    uint64_t base, limit;
    if (sel & 4) {
        const svmx_segment *ldt = &cpu->sregs.seg[SVMX_LDTR];
        if ((ldt->attr & SVMX_SEG_ATTR_UNUSABLE) || !(ldt->attr & SVMX_SEG_ATTR_P))
            return cpu_raise(f, CPU_VEC_GP, true, (sel & 0xfffc) | ext);
        base = ldt->base;
        limit = ldt->limit;
    } else {
        base = cpu->sregs.gdt.base;
        limit = cpu->sregs.gdt.limit;
    }
    if ((uint64_t)(sel & ~7u) + 7 > limit)
        return cpu_raise(f, CPU_VEC_GP, true, (sel & 0xfffc) | ext);
    *addr = base + (sel & ~7u);
    if (svmx_cpu_mode(cpu) != SVMX_MODE_LONG64 && !(cpu->sregs.efer & CPU_EFER_LMA))
        *addr &= 0xffffffffull;
    return exec_read_linear(cpu, *addr, 8, PG_SUPERVISOR_IMPLICIT, desc, f);
}

/* A descriptor's base, limit (G applied) and 12-bit attributes. */
static void unpack_descriptor(uint64_t d, uint16_t sel, svmx_segment *s)
{
    s->selector = sel;
    s->base = ((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000);
    uint32_t limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));
    s->attr = (uint16_t)(((d >> 40) & 0xff) | ((d >> 44) & 0xf00));
    s->limit = (s->attr & SVMX_SEG_ATTR_G) ? (limit << 12) | 0xfff : limit;
}

/*
 * Protected-mode and IA-32e delivery through an interrupt or trap gate
 * (SDM Vol. 3A 6.12.1 and 6.14, the INT n pseudocode of Vol. 2A; APM
 * Vol. 2 8.7 and 8.9). Task gates and delivery from virtual-8086 mode
 * stop the run UNSUPPORTED. Error codes name the IDT entry (vector * 8
 * + 2) or the selector, with EXT = 1: every event here is external to
 * the instruction stream (software INT n comes with that work).
 */
static cpu_res deliver_protected(svmx_cpu *cpu, const cpu_fault *e,
                                 cpu_fault *f)
{
    const unsigned ext = 1;
    bool lm = (cpu->sregs.efer & CPU_EFER_LMA) != 0;
    unsigned gsize = lm ? 16 : 8;
    uint32_t idt_err = (uint32_t)e->vector << 3 | 2 | ext;
    uint64_t lo, hi = 0;
    cpu_res r;

    if (cpu->regs.rflags & SVMX_RFLAGS_VM)
        return exec_stop(cpu, SVMX_STOP_UNSUPPORTED,
                         "exception delivery from virtual-8086 mode");
    if ((uint64_t)e->vector * gsize + gsize - 1 > cpu->sregs.idt.limit)
        return cpu_raise(f, CPU_VEC_GP, true, idt_err);
    uint64_t gate_addr = cpu->sregs.idt.base + (uint64_t)e->vector * gsize;
    if (!lm)
        gate_addr &= 0xffffffffull;
    if ((r = exec_read_linear(cpu, gate_addr, 8, PG_SUPERVISOR_IMPLICIT, &lo, f)) != CPU_OK ||
        (lm && (r = exec_read_linear(cpu, gate_addr + 8, 8, PG_SUPERVISOR_IMPLICIT,
                                     &hi, f)) != CPU_OK))
        return r;

    unsigned type = (unsigned)(lo >> 40) & 0x1f; /* S bit and type */
    bool interrupt_gate;
    unsigned push = lm ? 8 : 4;
    switch (type) {
    case 0x0e: interrupt_gate = true; break;   /* 32/64-bit interrupt gate */
    case 0x0f: interrupt_gate = false; break;  /* 32/64-bit trap gate */
    case 0x06: case 0x07:                       /* 16-bit gates: legacy only */
        if (lm)
            return cpu_raise(f, CPU_VEC_GP, true, idt_err);
        interrupt_gate = type == 0x06;
        push = 2;
        break;
    case 0x05:
        if (!lm)
            return exec_stop(cpu, SVMX_STOP_UNSUPPORTED, "task gate in the IDT");
        return cpu_raise(f, CPU_VEC_GP, true, idt_err);
    default:
        return cpu_raise(f, CPU_VEC_GP, true, idt_err);
    }
    if (!((lo >> 47) & 1))
        return cpu_raise(f, CPU_VEC_NP, true, idt_err);

    uint16_t sel = (uint16_t)(lo >> 16);
    uint64_t target = (lo & 0xffff) | ((lo >> 32) & 0xffff0000ull);
    if (lm)
        target |= hi << 32;
    unsigned ist = lm ? (unsigned)(lo >> 32) & 7 : 0;

    /* The handler's code segment. */
    if ((sel & 0xfffc) == 0)
        return cpu_raise(f, CPU_VEC_GP, true, ext);
    uint64_t cd, cd_addr;
    if ((r = read_descriptor(cpu, sel, ext, &cd, &cd_addr, f)) != CPU_OK)
        return r;
    svmx_segment cs;
    unpack_descriptor(cd, sel, &cs);
    unsigned cpl = cpu_cpl(cpu), dpl = SVMX_SEG_ATTR_DPL(cs.attr);
    bool code = (cs.attr & SVMX_SEG_ATTR_S) && (cs.attr & 8);
    if (!code || dpl > cpl || (lm && (!(cs.attr & SVMX_SEG_ATTR_L) ||
                                      (cs.attr & SVMX_SEG_ATTR_DB))))
        return cpu_raise(f, CPU_VEC_GP, true, (sel & 0xfffc) | ext);
    if (!(cs.attr & SVMX_SEG_ATTR_P))
        return cpu_raise(f, CPU_VEC_NP, true, (sel & 0xfffc) | ext);
    bool conforming = cs.attr & 4;
    unsigned new_cpl = conforming ? cpl : dpl;

    /* The stack: the TSS's for a more privileged handler, IST in IA-32e
     * mode, else the current one (SDM Vol. 3A 6.12.1, 6.14.4, 6.14.5). */
    svmx_segment ss = cpu->sregs.seg[SVMX_SS];
    uint64_t rsp = cpu->regs.gpr[SVMX_RSP];
    const svmx_segment *tr = &cpu->sregs.seg[SVMX_TR];
    bool stack_switch = new_cpl < cpl;
    if (lm) {
        uint64_t off = ist ? 0x24 + 8ull * (ist - 1) : 4 + 8ull * new_cpl;
        if (ist || stack_switch) {
            if (off + 7 > tr->limit)
                return cpu_raise(f, CPU_VEC_TS, true, (tr->selector & 0xfffc) | ext);
            if ((r = exec_read_linear(cpu, tr->base + off, 8, PG_SUPERVISOR_IMPLICIT,
                                      &rsp, f)) != CPU_OK)
                return r;
        }
        rsp &= ~0xfull; /* 64-bit frames start 16-byte aligned */
        if (stack_switch) {
            ss.selector = (uint16_t)new_cpl; /* NULL selector, RPL = CPL */
            ss.base = 0;
            ss.limit = 0;
            ss.attr = (uint16_t)(SVMX_SEG_ATTR_UNUSABLE | new_cpl << 5);
        }
    } else if (stack_switch) {
        uint64_t esp, ssel, sd, sd_addr;
        uint64_t off = 4 + 8ull * new_cpl;
        if (off + 5 > tr->limit)
            return cpu_raise(f, CPU_VEC_TS, true, (tr->selector & 0xfffc) | ext);
        if ((r = exec_read_linear(cpu, (tr->base + off) & 0xffffffffull, 4,
                                  PG_SUPERVISOR_IMPLICIT, &esp, f)) != CPU_OK ||
            (r = exec_read_linear(cpu, (tr->base + off + 4) & 0xffffffffull, 2,
                                  PG_SUPERVISOR_IMPLICIT, &ssel, f)) != CPU_OK)
            return r;
        uint32_t ts_err = ((uint32_t)ssel & 0xfffc) | ext;
        if ((ssel & 0xfffc) == 0 || (ssel & 3) != new_cpl)
            return cpu_raise(f, CPU_VEC_TS, true, ts_err);
        if ((r = read_descriptor(cpu, (uint16_t)ssel, ext, &sd, &sd_addr, f)) != CPU_OK)
            return r;
        unpack_descriptor(sd, (uint16_t)ssel, &ss);
        if (SVMX_SEG_ATTR_DPL(ss.attr) != new_cpl || !(ss.attr & SVMX_SEG_ATTR_S) ||
            (ss.attr & 8) || !(ss.attr & 2))
            return cpu_raise(f, CPU_VEC_TS, true, ts_err);
        if (!(ss.attr & SVMX_SEG_ATTR_P))
            return cpu_raise(f, CPU_VEC_SS, true, ts_err);
        rsp = esp;
    }

    /* Build the frame on the new stack; nothing changes until all of it
     * is written. */
    uint64_t frame[6];
    unsigned n = 0;
    if (lm || stack_switch) {
        frame[n++] = cpu->sregs.seg[SVMX_SS].selector;
        frame[n++] = cpu->regs.gpr[SVMX_RSP];
    }
    frame[n++] = cpu->regs.rflags;
    frame[n++] = cpu->sregs.seg[SVMX_CS].selector;
    frame[n++] = cpu->regs.rip;
    if (pushes_error(e->vector) && e->has_error)
        frame[n++] = e->error;
    uint64_t stack_mask = lm ? UINT64_MAX
                        : (ss.attr & SVMX_SEG_ATTR_DB) ? 0xffffffffull : 0xffffull;
    uint64_t sp = rsp;
    for (unsigned i = 0; i < n; i++) {
        uint64_t lin;
        sp = (sp - push) & stack_mask;
        if (lm) {
            lin = sp;
            if (!cpu_canonical(lin, cpu->pers->linear_width))
                return cpu_raise(f, CPU_VEC_SS, true, ext);
        } else {
            if (sp + push - 1 > ss.limit) /* expand-up stacks only */
                return cpu_raise(f, CPU_VEC_SS, true,
                                 stack_switch ? ((ss.selector & 0xfffc) | ext) : ext);
            lin = (ss.base + sp) & 0xffffffffull;
        }
        r = exec_write_linear(cpu, lin, push,
                              new_cpl == 3 ? PG_USER : PG_SUPERVISOR_IMPLICIT,
                              frame[i] & exec_mask(push), f);
        if (r != CPU_OK)
            return r;
    }

    /* Commit: the accessed bit of CS, then the new state. */
    if (!(cd & (1ull << 40))) {
        cpu_fault ignored;
        exec_write_linear(cpu, cd_addr + 5, 1, PG_SUPERVISOR_IMPLICIT,
                          (cd >> 40 & 0xff) | 1, &ignored);
        cs.attr |= 1;
    }
    cs.selector = (uint16_t)((sel & 0xfffc) | new_cpl);
    cpu->sregs.seg[SVMX_CS] = cs;
    ss.attr = (uint16_t)((ss.attr & ~(3u << 5)) | new_cpl << 5);
    cpu->sregs.seg[SVMX_SS] = ss;
    /* A 16-bit stack keeps the upper half of ESP: the old one, or after a
     * switch the one loaded from the TSS. */
    uint64_t esp_hi = stack_switch ? rsp : cpu->regs.gpr[SVMX_RSP];
    cpu->regs.gpr[SVMX_RSP] = lm ? sp : (esp_hi & ~stack_mask) | sp;
    cpu->regs.rip = target & (lm ? UINT64_MAX : push == 2 ? 0xffff : 0xffffffffull);
    cpu->regs.rflags &= ~(SVMX_RFLAGS_TF | SVMX_RFLAGS_NT | SVMX_RFLAGS_RF |
                          SVMX_RFLAGS_VM);
    if (interrupt_gate)
        cpu->regs.rflags &= ~SVMX_RFLAGS_IF;
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
            r = deliver_protected(cpu, &cur, &next);
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
