/*
 * src/cpu/segment.c - descriptor tables, segment-register loads and the
 * stacks of far transfers (segment.h). Each check follows the order of
 * the SDM pseudocode it cites, so the first failing rule decides the
 * vector and error code, as on hardware.
 */
#include "cpu/segment.h"
#include "cpu/paging.h"

void seg_unpack(uint64_t d, uint16_t sel, svmx_segment *s)
{
    s->selector = sel;
    s->base = ((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000);
    uint32_t limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));
    s->attr = (uint16_t)(((d >> 40) & 0xff) | ((d >> 44) & 0xf00));
    s->limit = (s->attr & SVMX_SEG_ATTR_G) ? (limit << 12) | 0xfff : limit;
}

/* Base and limit of the table `sel` indexes; false if it names the LDT
 * while LDTR is unusable (SDM Vol. 3A 3.5.1: a null LDTR makes every
 * LDT reference fault). */
static bool table_of(const svmx_cpu *cpu, uint16_t sel, uint64_t *base,
                     uint64_t *limit)
{
    if (sel & 4) {
        const svmx_segment *ldt = &cpu->sregs.seg[SVMX_LDTR];
        if ((ldt->attr & SVMX_SEG_ATTR_UNUSABLE) || !(ldt->attr & SVMX_SEG_ATTR_P))
            return false;
        *base = ldt->base;
        *limit = ldt->limit;
    } else {
        *base = cpu->sregs.gdt.base;
        *limit = cpu->sregs.gdt.limit;
    }
    return true;
}

/* The linear address of the `span` bytes (8 or 16) of the descriptor
 * `sel` names; false when they lie beyond the table's limit, the table is
 * an unusable LDT, or (IA-32e mode) they are not canonical (SDM Vol. 2B
 * IRET, RET: #GP(selector) for such a descriptor). */
static bool desc_addr(const svmx_cpu *cpu, uint16_t sel, unsigned span,
                      uint64_t *addr)
{
    uint64_t base, limit;
    if (!table_of(cpu, sel, &base, &limit) ||
        (uint64_t)(sel & ~7u) + span - 1 > limit)
        return false;
    *addr = base + (sel & ~7u);
    if (!seg_lma(cpu)) {
        *addr &= 0xffffffffull;
        return true;
    }
    return seg_canonical(cpu, *addr) && seg_canonical(cpu, *addr + span - 1);
}

cpu_res seg_read(svmx_cpu *cpu, uint16_t sel, uint8_t vec, unsigned ext,
                 seg_desc *d, cpu_fault *f)
{
    if (!desc_addr(cpu, sel, 8, &d->addr))
        return cpu_raise(f, vec, true, (sel & 0xfffcu) | ext);
    d->hi = 0;
    cpu_res r = exec_read_linear(cpu, d->addr, 8, PG_SUPERVISOR_IMPLICIT,
                                 &d->raw, f);
    if (r == CPU_OK)
        seg_unpack(d->raw, sel, &d->seg);
    return r;
}

cpu_res seg_read_upper(svmx_cpu *cpu, uint16_t sel, unsigned ext,
                       seg_desc *d, cpu_fault *f)
{
    uint32_t err = (sel & 0xfffcu) | ext;
    uint64_t base, limit;
    if (!table_of(cpu, sel, &base, &limit) || (uint64_t)(sel & ~7u) + 15 > limit)
        return cpu_raise(f, CPU_VEC_GP, true, err);
    cpu_res r = exec_read_linear(cpu, d->addr + 8, 8, PG_SUPERVISOR_IMPLICIT,
                                 &d->hi, f);
    if (r == CPU_OK && ((d->hi >> 40) & 0x1f) != 0)
        return cpu_raise(f, CPU_VEC_GP, true, err);
    return r;
}

cpu_res seg_peek(svmx_cpu *cpu, uint16_t sel, bool *found, seg_desc *d,
                 cpu_fault *f)
{
    d->hi = 0;
    d->raw = 0;
    *found = !seg_null(sel) && desc_addr(cpu, sel, 8, &d->addr);
    if (!*found)
        return CPU_OK;
    cpu_res r = exec_read_linear(cpu, d->addr, 8, PG_SUPERVISOR_IMPLICIT,
                                 &d->raw, f);
    if (r == CPU_OK)
        seg_unpack(d->raw, sel, &d->seg);
    return r;
}

cpu_res seg_peek_upper(svmx_cpu *cpu, uint16_t sel, bool *found,
                       seg_desc *d, cpu_fault *f)
{
    uint64_t addr;
    *found = desc_addr(cpu, sel, 16, &addr);
    if (!*found)
        return CPU_OK;
    return exec_read_linear(cpu, addr + 8, 8, PG_SUPERVISOR_IMPLICIT, &d->hi,
                            f);
}

cpu_res seg_set_type_bits(svmx_cpu *cpu, seg_desc *d, unsigned bits,
                          cpu_fault *f)
{
    unsigned type = (unsigned)(d->raw >> 40) & 0xff;
    if (!d->addr || (type & bits) == bits)
        return CPU_OK;
    cpu_res r = exec_write_linear(cpu, d->addr + 5, 1, PG_SUPERVISOR_IMPLICIT,
                                  type | bits, f);
    if (r == CPU_OK) {
        d->raw |= (uint64_t)bits << 40;
        d->seg.attr |= (uint16_t)bits;
    }
    return r;
}

/*
 * A data segment register loaded with a null selector in protected mode
 * is unusable (SDM Vol. 3A 3.4.2; VMX's "unusable" bit). Intel clears the
 * hidden base and limit; AMD processors of this model's generation keep
 * them (no NullSelectorClearsBase, CPUID Fn8000_0021_EAX[6], APM Vol. 3
 * appendix E) and mark the segment not present.
 */
void seg_null_value(const svmx_cpu *cpu, unsigned sreg, uint16_t sel,
                    svmx_segment *s)
{
    const svmx_segment *old = &cpu->sregs.seg[sreg];
    if (cpu->vendor == SVMX_VENDOR_INTEL) {
        s->base = 0;
        s->limit = 0;
        s->attr = SVMX_SEG_ATTR_UNUSABLE;
    } else {
        s->base = old->base;
        s->limit = old->limit;
        s->attr = (uint16_t)((old->attr & ~SVMX_SEG_ATTR_P) | SVMX_SEG_ATTR_UNUSABLE);
    }
    s->selector = sel;
}

/* A null SS (64-bit mode, CPL < 3) keeps DPL = CPL, as VMX guest state
 * requires of an unusable SS (SDM Vol. 3C 26.3.1.2). */
void seg_null_ss(uint16_t sel, unsigned cpl, svmx_segment *s)
{
    s->selector = sel;
    s->base = 0;
    s->limit = 0;
    s->attr = (uint16_t)(SVMX_SEG_ATTR_UNUSABLE | cpl << 5);
}

void seg_set_rpl(svmx_segment *s, unsigned cpl)
{
    s->selector = (uint16_t)((s->selector & ~3u) | cpl);
}

void seg_real_value(const svmx_cpu *cpu, unsigned sreg, uint16_t sel,
                    bool v86, svmx_segment *s)
{
    *s = cpu->sregs.seg[sreg];
    s->selector = sel;
    s->base = (uint64_t)sel << 4;
    if (v86) {
        s->limit = 0xffff;
        s->attr = 0xf3;
    }
}

cpu_res seg_check_load(svmx_cpu *cpu, unsigned sreg, uint16_t sel,
                       svmx_segment *out, seg_desc *d, cpu_fault *f)
{
    unsigned cpl = cpu_cpl(cpu), rpl = sel & 3;
    uint32_t err = sel & 0xfffcu;
    d->addr = 0;
    if (seg_null(sel)) {
        if (sreg != SVMX_SS) {
            seg_null_value(cpu, sreg, sel, out);
            return CPU_OK;
        }
        /* SDM Vol. 2A MOV: a null SS is #GP(0), except in 64-bit mode at
         * CPL < 3 with RPL = CPL (APM Vol. 3 MOV(Sreg): #GP for a null SS
         * outside 64-bit mode or at CPL 3). */
        if (svmx_cpu_mode(cpu) != SVMX_MODE_LONG64 || cpl == 3 || rpl != cpl)
            return cpu_raise(f, CPU_VEC_GP, true, 0);
        seg_null_ss(sel, cpl, out);
        return CPU_OK;
    }
    cpu_res r = seg_read(cpu, sel, CPU_VEC_GP, 0, d, f);
    if (r != CPU_OK)
        return r;
    uint16_t a = d->seg.attr;
    unsigned dpl = SVMX_SEG_ATTR_DPL(a);
    if (sreg == SVMX_SS) {
        if (rpl != cpl || !seg_is_writable_data(a) || dpl != cpl)
            return cpu_raise(f, CPU_VEC_GP, true, err);
        if (!(a & SVMX_SEG_ATTR_P))
            return cpu_raise(f, CPU_VEC_SS, true, err);
    } else {
        /* Data or readable code; data and non-conforming code also need
         * RPL <= DPL and CPL <= DPL. */
        if (!(a & SVMX_SEG_ATTR_S) || (seg_is_code(a) && !(a & 2)) ||
            (!seg_is_conforming(a) && (rpl > dpl || cpl > dpl)))
            return cpu_raise(f, CPU_VEC_GP, true, err);
        if (!(a & SVMX_SEG_ATTR_P))
            return cpu_raise(f, CPU_VEC_NP, true, err);
    }
    *out = d->seg;
    out->attr |= 1; /* the accessed bit commit sets */
    return CPU_OK;
}

cpu_res seg_commit(svmx_cpu *cpu, unsigned sreg, seg_desc *d,
                   const svmx_segment *s, cpu_fault *f)
{
    cpu_res r = seg_set_type_bits(cpu, d, 1, f);
    if (r == CPU_OK)
        cpu->sregs.seg[sreg] = *s;
    return r;
}

cpu_res seg_load(svmx_cpu *cpu, unsigned sreg, uint16_t sel, cpu_fault *f)
{
    svmx_mode mode = svmx_cpu_mode(cpu);
    svmx_segment s;
    seg_desc d;
    if (mode == SVMX_MODE_REAL || mode == SVMX_MODE_V86) {
        seg_real_value(cpu, sreg, sel, mode == SVMX_MODE_V86, &s);
        cpu->sregs.seg[sreg] = s;
        return CPU_OK;
    }
    cpu_res r = seg_check_load(cpu, sreg, sel, &s, &d, f);
    return r != CPU_OK ? r : seg_commit(cpu, sreg, &d, &s, f);
}

cpu_res seg_check_return_cs(svmx_cpu *cpu, uint16_t sel, seg_desc *d,
                            cpu_fault *f)
{
    uint32_t err = sel & 0xfffcu;
    if (seg_null(sel))
        return cpu_raise(f, CPU_VEC_GP, true, 0);
    cpu_res r = seg_read(cpu, sel, CPU_VEC_GP, 0, d, f);
    if (r != CPU_OK)
        return r;
    uint16_t a = d->seg.attr;
    unsigned rpl = sel & 3, dpl = SVMX_SEG_ATTR_DPL(a);
    if (!seg_is_code(a) || (seg_lma(cpu) && seg_l_and_d(a)) ||
        rpl < cpu_cpl(cpu) ||
        (seg_is_conforming(a) ? dpl > rpl : dpl != rpl))
        return cpu_raise(f, CPU_VEC_GP, true, err);
    if (!(a & SVMX_SEG_ATTR_P))
        return cpu_raise(f, CPU_VEC_NP, true, err);
    return CPU_OK;
}

cpu_res seg_check_return_ss(svmx_cpu *cpu, uint16_t sel, unsigned rpl,
                            bool to64, svmx_segment *out, seg_desc *d,
                            cpu_fault *f)
{
    d->addr = 0;
    if (seg_null(sel)) {
        /* SDM Vol. 2B IRET "IA-32e Mode Exceptions": a null SS only for a
         * return to 64-bit mode at CPL < 3, with RPL = that CPL. */
        if (!seg_lma(cpu) || !to64 || rpl == 3 || (sel & 3) != rpl)
            return cpu_raise(f, CPU_VEC_GP, true, 0);
        seg_null_ss(sel, rpl, out);
        return CPU_OK;
    }
    cpu_res r = seg_read(cpu, sel, CPU_VEC_GP, 0, d, f);
    if (r != CPU_OK)
        return r;
    uint16_t a = d->seg.attr;
    if ((sel & 3u) != rpl || !seg_is_writable_data(a) ||
        SVMX_SEG_ATTR_DPL(a) != rpl)
        return cpu_raise(f, CPU_VEC_GP, true, sel & 0xfffcu);
    if (!(a & SVMX_SEG_ATTR_P))
        return cpu_raise(f, CPU_VEC_SS, true, sel & 0xfffcu);
    *out = d->seg;
    out->attr |= 1;
    return CPU_OK;
}

void seg_invalidate_outer(svmx_cpu *cpu, unsigned cpl)
{
    static const unsigned regs[] = { SVMX_ES, SVMX_FS, SVMX_GS, SVMX_DS };
    for (unsigned i = 0; i < sizeof regs / sizeof regs[0]; i++) {
        svmx_segment *s = &cpu->sregs.seg[regs[i]];
        bool unusable = (s->attr & SVMX_SEG_ATTR_UNUSABLE) != 0;
        if (seg_null(s->selector) ||
            (SVMX_SEG_ATTR_DPL(s->attr) < cpl &&
             (unusable || !seg_is_conforming(s->attr)))) {
            s->selector = 0;
            s->attr = (uint16_t)((s->attr & ~SVMX_SEG_ATTR_P) | SVMX_SEG_ATTR_UNUSABLE);
        }
    }
}

static cpu_res tss_read(svmx_cpu *cpu, uint64_t off, unsigned size,
                        uint64_t *v, cpu_fault *f)
{
    uint64_t lin = cpu->sregs.seg[SVMX_TR].base + off;
    if (!seg_lma(cpu))
        lin &= 0xffffffffull;
    return exec_read_linear(cpu, lin, size, PG_SUPERVISOR_IMPLICIT, v, f);
}

cpu_res seg_tss_stack(svmx_cpu *cpu, unsigned dpl, unsigned ext,
                      uint16_t *ss, uint64_t *sp, cpu_fault *f)
{
    const svmx_segment *tr = &cpu->sregs.seg[SVMX_TR];
    unsigned type = SVMX_SEG_ATTR_TYPE(tr->attr);
    bool tss16 = type == SEG_T_TSS16 || type == SEG_T_TSS16_BUSY;
    /* 32-bit TSS: ESPn at 8n + 4, SSn at 8n + 8; 16-bit: SPn at 4n + 2,
     * SSn at 4n + 4. */
    unsigned width = tss16 ? 2 : 4;
    uint64_t off = tss16 ? 4ull * dpl + 2 : 8ull * dpl + 4;
    uint64_t sel = 0;
    if (off + width + 1 > tr->limit)
        return cpu_raise(f, CPU_VEC_TS, true, (tr->selector & 0xfffcu) | ext);
    cpu_res r = tss_read(cpu, off, width, sp, f);
    if (r == CPU_OK)
        r = tss_read(cpu, off + width, 2, &sel, f);
    *ss = (uint16_t)sel;
    return r;
}

cpu_res seg_tss_rsp64(svmx_cpu *cpu, unsigned offset, unsigned ext,
                      uint64_t *rsp, cpu_fault *f)
{
    const svmx_segment *tr = &cpu->sregs.seg[SVMX_TR];
    if ((uint64_t)offset + 7 > tr->limit)
        return cpu_raise(f, CPU_VEC_TS, true, (tr->selector & 0xfffcu) | ext);
    return tss_read(cpu, offset, 8, rsp, f);
}

cpu_res seg_check_tss_ss(svmx_cpu *cpu, uint16_t sel, unsigned dpl,
                         unsigned ext, svmx_segment *out, seg_desc *d,
                         cpu_fault *f)
{
    uint32_t err = (sel & 0xfffcu) | ext;
    if (seg_null(sel))
        return cpu_raise(f, CPU_VEC_TS, true, ext);
    if ((sel & 3u) != dpl)
        return cpu_raise(f, CPU_VEC_TS, true, err);
    cpu_res r = seg_read(cpu, sel, CPU_VEC_TS, ext, d, f);
    if (r != CPU_OK)
        return r;
    uint16_t a = d->seg.attr;
    if (SVMX_SEG_ATTR_DPL(a) != dpl || !seg_is_writable_data(a))
        return cpu_raise(f, CPU_VEC_TS, true, err);
    if (!(a & SVMX_SEG_ATTR_P))
        return cpu_raise(f, CPU_VEC_SS, true, err);
    *out = d->seg;
    out->attr |= 1;
    return CPU_OK;
}

bool seg_within_limit(const svmx_segment *s, uint64_t off, unsigned size)
{
    unsigned type = SVMX_SEG_ATTR_TYPE(s->attr);
    uint64_t last = off + size - 1;
    if (seg_is_data(s->attr) && (type & 4)) { /* expand-down */
        uint64_t upper = (s->attr & SVMX_SEG_ATTR_DB) ? 0xffffffffull : 0xffffull;
        return off > s->limit && last <= upper;
    }
    return last <= s->limit;
}

static uint64_t stack_mask(const svmx_segment *ss, bool lm64)
{
    if (lm64)
        return UINT64_MAX;
    return (ss->attr & SVMX_SEG_ATTR_DB) ? 0xffffffffull : 0xffffull;
}

void seg_stack_current(const svmx_cpu *cpu, seg_stack *s)
{
    s->ss = cpu->sregs.seg[SVMX_SS];
    s->lm64 = svmx_cpu_mode(cpu) == SVMX_MODE_LONG64;
    s->mask = stack_mask(&s->ss, s->lm64);
    s->sp0 = cpu->regs.gpr[SVMX_RSP];
    s->sp = s->sp0 & s->mask;
    s->acc = exec_user_flag(cpu);
    s->err = 0;
}

void seg_stack_new(const svmx_cpu *cpu, const svmx_segment *ss, uint64_t sp,
                   bool lm64, unsigned acc, uint32_t err, seg_stack *s)
{
    (void)cpu;
    s->ss = *ss;
    s->lm64 = lm64;
    s->mask = stack_mask(ss, lm64);
    s->sp0 = sp;
    s->sp = sp & s->mask;
    s->acc = acc;
    s->err = err;
}

/* The linear address of `size` bytes at stack offset `sp`, or false for
 * a stack fault (limit, unusable SS, or non-canonical in 64-bit mode). */
static bool stack_slot(const svmx_cpu *cpu, const seg_stack *s, uint64_t sp,
                       unsigned size, uint64_t *lin)
{
    if (s->lm64) {
        *lin = sp;
        return seg_canonical(cpu, sp) && seg_canonical(cpu, sp + size - 1);
    }
    *lin = (s->ss.base + sp) & 0xffffffffull;
    return !(s->ss.attr & SVMX_SEG_ATTR_UNUSABLE) &&
           (s->ss.attr & SVMX_SEG_ATTR_P) && seg_within_limit(&s->ss, sp, size);
}

cpu_res seg_stack_room(svmx_cpu *cpu, const seg_stack *s, unsigned n,
                       unsigned size, cpu_fault *f)
{
    uint64_t sp = s->sp, lin;
    for (unsigned i = 0; i < n; i++) {
        sp = (sp - size) & s->mask;
        if (!stack_slot(cpu, s, sp, size, &lin))
            return cpu_raise(f, CPU_VEC_SS, true, s->err);
    }
    return CPU_OK;
}

cpu_res seg_stack_push(svmx_cpu *cpu, seg_stack *s, const uint64_t *v,
                       unsigned n, unsigned size, cpu_fault *f)
{
    cpu_res r = seg_stack_room(cpu, s, n, size, f);
    uint64_t sp = s->sp, lin;
    for (unsigned i = 0; i < n && r == CPU_OK; i++) {
        sp = (sp - size) & s->mask;
        stack_slot(cpu, s, sp, size, &lin);
        r = exec_write_linear(cpu, lin, size, s->acc, v[i] & exec_mask(size), f);
    }
    if (r == CPU_OK)
        s->sp = sp;
    return r;
}

cpu_res seg_stack_pop(svmx_cpu *cpu, seg_stack *s, unsigned size,
                      uint64_t *v, cpu_fault *f)
{
    uint64_t lin;
    if (!stack_slot(cpu, s, s->sp, size, &lin))
        return cpu_raise(f, CPU_VEC_SS, true, s->err);
    cpu_res r = exec_read_linear(cpu, lin, size, s->acc, v, f);
    s->sp = (s->sp + size) & s->mask;
    return r;
}

uint64_t seg_stack_rsp(const seg_stack *s)
{
    if (s->mask == 0xffff)
        return (s->sp0 & ~0xffffull) | s->sp;
    return s->sp;
}

cpu_res seg_far_pointer(svmx_cpu *cpu, const svmx_insn *insn,
                        const svmx_operand *op, unsigned osize, uint16_t *sel,
                        uint64_t *off, cpu_fault *f)
{
    if (op->kind != SVMX_OPK_MEM)
        return exec_stop(cpu, SVMX_STOP_UNSUPPORTED, "far pointer operand kind");
    unsigned seg = op->seg < SVMX_SEG_COUNT ? op->seg : SVMX_DS;
    uint64_t lin, v = 0;
    cpu_res r = exec_seg_address(cpu, seg, exec_effective_offset(cpu, insn, op),
                                 osize + 2, false, &lin, f);
    if (r == CPU_OK)
        r = exec_read_linear(cpu, lin, osize, exec_user_flag(cpu), off, f);
    lin += osize;
    if (svmx_cpu_mode(cpu) != SVMX_MODE_LONG64)
        lin &= 0xffffffffull;
    if (r == CPU_OK)
        r = exec_read_linear(cpu, lin, 2, exec_user_flag(cpu), &v, f);
    *sel = (uint16_t)v;
    return r;
}
