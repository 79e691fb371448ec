/*
 * src/cpu/insn_string.c - MOVS CMPS SCAS LODS STOS, and the REP engine
 * that INS/OUTS (insn_io.c) share.
 *
 * Each element is a complete unit (SDM Vol. 2B REP/REPE/REPZ/REPNE/REPNZ:
 * "A repeating string operation can be suspended by an exception or
 * interrupt ... the ECX register has the value it held following the last
 * successful iteration"): its memory accesses happen first, then rSI/rDI
 * advance and rCX counts down. A fault in element k therefore leaves the
 * state of k - 1 completed elements with RIP at the instruction, and
 * executing it again continues exactly.
 *
 * Under REP the handler runs at most STR_CHUNK elements and then, if the
 * count is not exhausted, puts RIP back on the instruction and returns:
 * the run loop sees an instruction boundary (budget, stop requests,
 * events) and comes back. Runs of elements that lie in one page of plain
 * RAM on both sides are done through host pointers (the `bulk` paths);
 * everything else - MMIO, a page or segment boundary, a fault - takes the
 * exact per-element path, which raises the fault at the right element.
 */
#include <string.h>

#include "cpu/alu.h"
#include "cpu/insn_string.h"
#include "cpu/le.h"
#include "cpu/paging.h"

/* Elements per handler call under REP: bounds the time between two
 * instruction boundaries (about 16 KiB of MOVSB per trip). */
#define STR_CHUNK 16384u

#define STR_PAGE 4096u

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}


static str_rep rep_of(const svmx_insn *insn, const str_kind *kind)
{
    unsigned p = insn->prefixes;
    if (!(p & (SVMX_PFX_REP | SVMX_PFX_REPNE)))
        return STR_REP_NONE;
    /* F2 and F3 both repeat the instructions that do not test ZF; only
     * CMPS/SCAS tell REPE from REPNE (SDM Vol. 2A 2.1.1 "repeat prefixes
     * apply to string and I/O instructions", APM Vol. 3 1.2.6). */
    if (!kind->cond)
        return STR_REP_ALWAYS;
    return (p & SVMX_PFX_REPNE) ? STR_REP_NE : STR_REP_E;
}

/* The source (rSI) operand is DS unless overridden; ES:rDI never is
 * (SDM Vol. 2A CMPS, INS, LODS; Vol. 2B MOVS, OUTS, SCAS, STOS). */
static void ctx_init(const svmx_cpu *cpu, const svmx_insn *insn,
                     const str_kind *kind, unsigned size, str_ctx *c)
{
    c->size = size;
    c->asz = insn->address_size;
    c->amask = exec_mask(insn->address_size);
    c->src_seg = insn->seg_override < SVMX_SEG_COUNT ? insn->seg_override
                                                     : SVMX_DS;
    c->acc = exec_user_flag(cpu);
    c->down = (cpu->regs.rflags & SVMX_RFLAGS_DF) != 0;
    c->rep = (uint8_t)rep_of(insn, kind);
}

cpu_res str_address(svmx_cpu *cpu, const str_ctx *c, unsigned seg,
                    unsigned gpr, bool write, uint64_t *lin, cpu_fault *f)
{
    uint64_t off = cpu->regs.gpr[gpr] & c->amask;
    return exec_seg_address(cpu, seg, off, c->size, write, lin, f);
}

cpu_res str_load(svmx_cpu *cpu, const str_ctx *c, unsigned seg, unsigned gpr,
                 uint64_t *value, cpu_fault *f)
{
    uint64_t lin;
    cpu_res r = str_address(cpu, c, seg, gpr, false, &lin, f);
    if (r != CPU_OK)
        return r;
    return exec_read_linear(cpu, lin, c->size, c->acc, value, f);
}

static cpu_res str_store(svmx_cpu *cpu, const str_ctx *c, uint64_t value,
                         cpu_fault *f)
{
    uint64_t lin;
    cpu_res r = str_address(cpu, c, SVMX_ES, SVMX_RDI, true, &lin, f);
    if (r != CPU_OK)
        return r;
    return exec_write_linear(cpu, lin, c->size, c->acc, value, f);
}

/* rSI/rDI move by DF at the address size; a 16-bit address size keeps
 * bits 63:16, a 32-bit one zero-extends (SDM Vol. 1 3.4.1.1). */
static void advance(svmx_cpu *cpu, const str_ctx *c, unsigned gpr,
                    uint64_t bytes)
{
    uint64_t v = cpu->regs.gpr[gpr];
    v = c->down ? v - bytes : v + bytes;
    exec_gpr_write(cpu, gpr, c->asz, false, v & c->amask);
}

/* Commits `n` completed elements: the pointers and, under REP, rCX. */
static void commit(svmx_cpu *cpu, const str_ctx *c, const str_kind *kind,
                   uint64_t n)
{
    if (kind->regs & STR_SI)
        advance(cpu, c, SVMX_RSI, n * c->size);
    if (kind->regs & STR_DI)
        advance(cpu, c, SVMX_RDI, n * c->size);
    if (c->rep != STR_REP_NONE)
        exec_gpr_write(cpu, SVMX_RCX, c->asz, false,
                       (cpu->regs.gpr[SVMX_RCX] - n) & c->amask);
}

/* REPE ends on ZF = 0, REPNE on ZF = 1, each tested after the element
 * (SDM Vol. 2B REP..., Operation). */
static bool zf_ends(const svmx_cpu *cpu, const str_ctx *c)
{
    bool zf = (cpu->regs.rflags & SVMX_RFLAGS_ZF) != 0;
    return (c->rep == STR_REP_E && !zf) || (c->rep == STR_REP_NE && zf);
}

/* Puts RIP back on the instruction (RIP was advanced past it, wrapping
 * at the width of IP/EIP/RIP of the mode it was decoded in). */
static void rewind_rip(svmx_cpu *cpu, const svmx_insn *insn)
{
    uint64_t mask = UINT64_MAX;
    if (insn->mode == SVMX_MODE_PROT32 || insn->mode == SVMX_MODE_COMPAT32)
        mask = 0xffffffffull;
    else if (insn->mode != SVMX_MODE_LONG64)
        mask = 0xffffull;
    cpu->regs.rip = (cpu->regs.rip - insn->length) & mask;
}

/*
 * The REP loop (SDM Vol. 2B REP... Operation): rCX = 0 is tested before
 * each element, so a count of 0 touches nothing; after each element rCX
 * counts down and, for CMPS/SCAS, ZF may end it.
 */
static cpu_res rep_loop(svmx_cpu *cpu, const svmx_insn *insn,
                        const str_kind *kind, const str_ctx *c, cpu_fault *f)
{
    /* With TF set, one element per trip: the single-step trap comes
     * after each iteration (SDM Vol. 3B 18.3.1.4). */
    uint64_t budget = (cpu->regs.rflags & SVMX_RFLAGS_TF) ? 1 : STR_CHUNK;
    uint64_t left = cpu->regs.gpr[SVMX_RCX] & c->amask;
    while (left) {
        uint64_t done = 0;
        cpu_res r = CPU_OK;
        /* Element by element while breakpoints are armed: each access
         * is matched (breakpoint.h). */
        if (kind->bulk && !cpu->bp_armed)
            r = kind->bulk(cpu, c, min_u64(left, budget), &done, f);
        if (r == CPU_OK && done == 0) {
            r = kind->step(cpu, c, f);
            done = r == CPU_OK;
        }
        if (done)
            commit(cpu, c, kind, done);
        if (r != CPU_OK)
            return r;
        left -= done;
        budget -= done;
        if (left && zf_ends(cpu, c))
            break;
        /* A data or I/O breakpoint hit ends the iteration too: its #DB
         * trap follows the iteration that hit it (SDM Vol. 3B 18.3.1.2). */
        if (left && (budget == 0 || cpu->stop_requested || cpu->bp_hits)) {
            /* Yield between iterations: RIP stays on the instruction and
             * RF = 1, so an interrupt or trap taken here pushes RF = 1
             * (SDM Vol. 3B 18.3.1.1); the run loop does the boundary
             * work before the instruction resumes. */
            rewind_rip(cpu, insn);
            cpu->regs.rflags |= SVMX_RFLAGS_RF;
            cpu->attention = true;
            break;
        }
    }
    return CPU_OK;
}

cpu_res str_exec(svmx_cpu *cpu, const svmx_insn *insn, const str_kind *kind,
                 unsigned size, cpu_fault *f)
{
    str_ctx c;
    ctx_init(cpu, insn, kind, size, &c);
    if (c.rep != STR_REP_NONE)
        return rep_loop(cpu, insn, kind, &c, f);
    cpu_res r = kind->step(cpu, &c, f);
    if (r == CPU_OK)
        commit(cpu, &c, kind, 1);
    return r;
}

/* ---- exact elements ---------------------------------------------------- */

static uint64_t rax(const svmx_cpu *cpu, const str_ctx *c)
{
    return exec_gpr_read(cpu, SVMX_RAX, c->size, false);
}

/* CMPS and SCAS set the flags as CMP src1, src2 (SDM Vol. 2A CMPS:
 * "temp <- SRC1 - SRC2", SCAS). */
static void compare(svmx_cpu *cpu, const str_ctx *c, uint64_t a, uint64_t b)
{
    uint64_t fl = cpu->regs.rflags;
    alu_arith(alu_policy_get(cpu->vendor), ALU_CMP, c->size, a, b, &fl);
    cpu->regs.rflags = fl;
}

/* MOVS: ES:rDI <- seg:rSI, the read first (SDM Vol. 2B MOVS). */
static cpu_res movs_step(svmx_cpu *cpu, const str_ctx *c, cpu_fault *f)
{
    uint64_t v;
    cpu_res r = str_load(cpu, c, c->src_seg, SVMX_RSI, &v, f);
    return r != CPU_OK ? r : str_store(cpu, c, v, f);
}

/* CMPS: seg:rSI - ES:rDI, read in that order. */
static cpu_res cmps_step(svmx_cpu *cpu, const str_ctx *c, cpu_fault *f)
{
    uint64_t a, b;
    cpu_res r = str_load(cpu, c, c->src_seg, SVMX_RSI, &a, f);
    if (r == CPU_OK)
        r = str_load(cpu, c, SVMX_ES, SVMX_RDI, &b, f);
    if (r == CPU_OK)
        compare(cpu, c, a, b);
    return r;
}

/* SCAS: rAX - ES:rDI (SDM Vol. 2B SCAS). */
static cpu_res scas_step(svmx_cpu *cpu, const str_ctx *c, cpu_fault *f)
{
    uint64_t b;
    cpu_res r = str_load(cpu, c, SVMX_ES, SVMX_RDI, &b, f);
    if (r == CPU_OK)
        compare(cpu, c, rax(cpu, c), b);
    return r;
}

/* LODS: rAX <- seg:rSI, merged or zero-extended like any register write
 * (SDM Vol. 2A LODS). */
static cpu_res lods_step(svmx_cpu *cpu, const str_ctx *c, cpu_fault *f)
{
    uint64_t v;
    cpu_res r = str_load(cpu, c, c->src_seg, SVMX_RSI, &v, f);
    if (r == CPU_OK)
        exec_gpr_write(cpu, SVMX_RAX, c->size, false, v);
    return r;
}

/* STOS: ES:rDI <- rAX (SDM Vol. 2B STOS). */
static cpu_res stos_step(svmx_cpu *cpu, const str_ctx *c, cpu_fault *f)
{
    return str_store(cpu, c, rax(cpu, c), f);
}

/* ---- runs in plain RAM --------------------------------------------------- */

/*
 * The run of elements 0 .. *n-1 of the operand at seg:gpr, going by DF,
 * that lies within one page, passes segmentation as a whole, does not
 * wrap the address size and is plain RAM: *p points at element 0.
 * *n = 0 when there is no such run; the exact path then decides (and
 * raises any fault), so a fault found here is dropped. Translating sets
 * the accessed (and, for a write, dirty) bits the first element would.
 */
static cpu_res window(svmx_cpu *cpu, const str_ctx *c, unsigned seg,
                      unsigned gpr, bool write, uint64_t max, uint8_t **p,
                      uint64_t *n)
{
    unsigned s = c->size;
    uint64_t off = cpu->regs.gpr[gpr] & c->amask;
    uint64_t lin, span_lin, phys;
    cpu_fault ignored;

    *n = 0;
    if (off > c->amask - (s - 1))
        return CPU_OK;
    uint64_t k = c->down ? off / s + 1 : (c->amask - (s - 1) - off) / s + 1;
    if (exec_seg_address(cpu, seg, off, s, write, &lin, &ignored) != CPU_OK)
        return CPU_OK;
    unsigned in_page = (unsigned)(lin & (STR_PAGE - 1));
    if (in_page + s > STR_PAGE)
        return CPU_OK;
    k = min_u64(k, c->down ? in_page / s + 1 : (STR_PAGE - in_page) / s);
    k = min_u64(k, max);
    uint64_t bytes = k * s;
    uint64_t low = c->down ? off - (k - 1) * s : off;
    if (exec_seg_address(cpu, seg, low, (unsigned)bytes, write, &span_lin,
                         &ignored) != CPU_OK)
        return CPU_OK;
    cpu_res r = paging_translate(cpu, lin, (write ? PG_WRITE : PG_READ) | c->acc,
                                 &phys, &ignored);
    if (r != CPU_OK)
        return r == CPU_STOP ? r : CPU_OK;
    uint64_t phys_low = c->down ? phys - (k - 1) * s : phys;
    uint8_t *ram = svmx_mem_ram_ptr(&cpu->mem, phys_low, (size_t)bytes);
    if (!ram)
        return CPU_OK;
    /* Stores through *p bypass the hostmap's write tracking (hostmap.h). */
    if (write)
        hostmap_epoch_end(&cpu->hostmap);
    *p = c->down ? ram + (k - 1) * s : ram;
    *n = k;
    return CPU_OK;
}

/* Byte offset of element j from element 0. */
static ptrdiff_t elem(const str_ctx *c, uint64_t j)
{
    ptrdiff_t d = (ptrdiff_t)(j * c->size);
    return c->down ? -d : d;
}

/* Offset of the lowest byte of a run of n elements from element 0. */
static ptrdiff_t run_low(const str_ctx *c, uint64_t n)
{
    return elem(c, n - 1) < 0 ? elem(c, n - 1) : 0;
}

/*
 * Copies n elements in order. When a later element reads what an earlier
 * one wrote (the destination ahead of the source in the direction of
 * travel, overlapping), element by element as the CPU does; otherwise
 * the result equals memmove's.
 */
static void copy_elems(const str_ctx *c, uint8_t *dst, const uint8_t *src,
                       uint64_t n)
{
    const uint8_t *s_lo = src + run_low(c, n);
    uint8_t *d_lo = dst + run_low(c, n);
    size_t bytes = (size_t)(n * c->size);
    bool hazard = c->down ? (d_lo < s_lo && d_lo + bytes > s_lo)
                          : (d_lo > s_lo && d_lo < s_lo + bytes);
    if (!hazard) {
        memmove(d_lo, s_lo, bytes);
        return;
    }
    for (uint64_t j = 0; j < n; j++) {
        uint8_t t[8];
        memcpy(t, src + elem(c, j), c->size);
        memcpy(dst + elem(c, j), t, c->size);
    }
}

static cpu_res movs_bulk(svmx_cpu *cpu, const str_ctx *c, uint64_t max,
                         uint64_t *done, cpu_fault *f)
{
    uint8_t *s, *d;
    uint64_t ns, nd;
    (void)f;
    *done = 0;
    cpu_res r = window(cpu, c, c->src_seg, SVMX_RSI, false, max, &s, &ns);
    if (r != CPU_OK || ns == 0)
        return r;
    r = window(cpu, c, SVMX_ES, SVMX_RDI, true, ns, &d, &nd);
    if (r != CPU_OK || nd == 0)
        return r;
    copy_elems(c, d, s, nd);
    *done = nd;
    return CPU_OK;
}

static cpu_res stos_bulk(svmx_cpu *cpu, const str_ctx *c, uint64_t max,
                         uint64_t *done, cpu_fault *f)
{
    uint8_t *d, pat[8];
    uint64_t n;
    (void)f;
    *done = 0;
    cpu_res r = window(cpu, c, SVMX_ES, SVMX_RDI, true, max, &d, &n);
    if (r != CPU_OK || n == 0)
        return r;
    le_store(pat, c->size, rax(cpu, c));
    uint8_t *lo = d + run_low(c, n);
    if (c->size == 1) {
        memset(lo, pat[0], (size_t)n);
    } else {
        for (uint64_t j = 0; j < n; j++)
            memcpy(lo + j * c->size, pat, c->size);
    }
    *done = n;
    return CPU_OK;
}

/* Only the last element read stays in rAX. */
static cpu_res lods_bulk(svmx_cpu *cpu, const str_ctx *c, uint64_t max,
                         uint64_t *done, cpu_fault *f)
{
    uint8_t *s;
    uint64_t n;
    (void)f;
    *done = 0;
    cpu_res r = window(cpu, c, c->src_seg, SVMX_RSI, false, max, &s, &n);
    if (r != CPU_OK || n == 0)
        return r;
    exec_gpr_write(cpu, SVMX_RAX, c->size, false,
                   le_load(s + elem(c, n - 1), c->size));
    *done = n;
    return CPU_OK;
}

/*
 * Compares up to n elements of a (rSI side, or NULL for SCAS's rAX
 * pattern `pat`) with b (rDI side) until ZF ends the repetition; the
 * flags are those of the last element compared. Returns the count.
 */
static uint64_t compare_run(svmx_cpu *cpu, const str_ctx *c, const uint8_t *a,
                            const uint8_t *pat, const uint8_t *b, uint64_t n)
{
    uint64_t j = 0;
    for (;;) {
        const uint8_t *x = a ? a + elem(c, j) : pat;
        bool eq = memcmp(x, b + elem(c, j), c->size) == 0;
        bool ends = c->rep == STR_REP_E ? !eq : eq;
        if (ends || j + 1 == n) {
            compare(cpu, c, le_load(x, c->size),
                    le_load(b + elem(c, j), c->size));
            return j + 1;
        }
        j++;
    }
}

static cpu_res cmps_bulk(svmx_cpu *cpu, const str_ctx *c, uint64_t max,
                         uint64_t *done, cpu_fault *f)
{
    uint8_t *s, *d;
    uint64_t ns, nd;
    (void)f;
    *done = 0;
    cpu_res r = window(cpu, c, c->src_seg, SVMX_RSI, false, max, &s, &ns);
    if (r != CPU_OK || ns == 0)
        return r;
    r = window(cpu, c, SVMX_ES, SVMX_RDI, false, ns, &d, &nd);
    if (r != CPU_OK || nd == 0)
        return r;
    *done = compare_run(cpu, c, s, NULL, d, nd);
    return CPU_OK;
}

static cpu_res scas_bulk(svmx_cpu *cpu, const str_ctx *c, uint64_t max,
                         uint64_t *done, cpu_fault *f)
{
    uint8_t *d, pat[8];
    uint64_t n;
    (void)f;
    *done = 0;
    cpu_res r = window(cpu, c, SVMX_ES, SVMX_RDI, false, max, &d, &n);
    if (r != CPU_OK || n == 0)
        return r;
    le_store(pat, c->size, rax(cpu, c));
    *done = compare_run(cpu, c, NULL, pat, d, n);
    return CPU_OK;
}

/* ---- the handlers ---------------------------------------------------------- */

static const str_kind kinds[SVMX_INSN_CLASS_COUNT] = {
    [SVMX_INSN_MOVS] = { movs_step, movs_bulk, STR_SI | STR_DI, false },
    [SVMX_INSN_CMPS] = { cmps_step, cmps_bulk, STR_SI | STR_DI, true },
    [SVMX_INSN_SCAS] = { scas_step, scas_bulk, STR_DI, true },
    [SVMX_INSN_LODS] = { lods_step, lods_bulk, STR_SI, false },
    [SVMX_INSN_STOS] = { stos_step, stos_bulk, STR_DI, false },
};

/* MOVS CMPS SCAS LODS STOS: the element size is the operand size (the
 * decoder gives no explicit operands for them). */
cpu_res insn_string(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    const str_kind *kind = &kinds[insn->cls];
    if (!kind->step)
        return exec_stop(cpu, SVMX_STOP_UNSUPPORTED, "string instruction form");
    return str_exec(cpu, insn, kind, insn->operand_size, f);
}
