/*
 * src/cpu/exec.c - the run loop: fetch at CS:RIP, decode through the
 * CPU's decode cache, dispatch on the instruction class, deliver faults,
 * and stop for the embedder. Nothing here allocates.
 */
#include <string.h>

#include "cpu/events.h"
#include "cpu/exec.h"
#include "cpu/exec_fast.h"
#include "cpu/paging.h"
#include "decode/decode_cache_fast.h"
#include "svm/svm_exec.h"

const char *svmx_stop_reason_name(svmx_stop_reason reason)
{
    static const char *const names[SVMX_STOP_REASON_COUNT] = {
#define X(name, text) [SVMX_STOP_##name] = #name,
        SVMX_STOP_REASONS(X)
#undef X
    };
    return (unsigned)reason < SVMX_STOP_REASON_COUNT ? names[reason] : "?";
}

const char *svmx_stop_reason_str(svmx_stop_reason reason)
{
    static const char *const text[SVMX_STOP_REASON_COUNT] = {
#define X(name, desc) [SVMX_STOP_##name] = desc,
        SVMX_STOP_REASONS(X)
#undef X
    };
    return (unsigned)reason < SVMX_STOP_REASON_COUNT ? text[reason] : "?";
}

cpu_res exec_stop(svmx_cpu *cpu, svmx_stop_reason reason, const char *what)
{
    if (cpu->stop && cpu->stop->reason == SVMX_STOP_NONE) {
        cpu->stop->reason = reason;
        cpu->stop->what = what;
    }
    return CPU_STOP;
}

void svmx_cpu_request_stop(svmx_cpu *cpu)
{
    if (cpu) {
        cpu->stop_requested = true;
        cpu->attention = true;
    }
}

const uint64_t exec_rip_masks[SVMX_MODE_COUNT] = {
    [SVMX_MODE_REAL] = 0xffff,           [SVMX_MODE_V86] = 0xffff,
    [SVMX_MODE_PROT16] = 0xffff,         [SVMX_MODE_PROT32] = 0xffffffffull,
    [SVMX_MODE_COMPAT16] = 0xffff,       [SVMX_MODE_COMPAT32] = 0xffffffffull,
    [SVMX_MODE_LONG64] = UINT64_MAX,
};

static uint64_t cs_rip_linear(const svmx_cpu *cpu, svmx_mode mode)
{
    return exec_cs_linear(cpu, mode, cpu->regs.rip);
}

/* The decoder's own faults, and the CS limit for the whole instruction
 * (SDM Vol. 3A 5.3). */
static inline cpu_res check_decoded(const svmx_cpu *cpu, svmx_mode mode,
                                    uint64_t rip, const svmx_insn *insn,
                                    cpu_fault *f)
{
    if (insn->fault == SVMX_DECODE_FAULT_UD)
        return cpu_raise(f, CPU_VEC_UD, false, 0);
    if (insn->fault == SVMX_DECODE_FAULT_GP)
        return cpu_raise(f, CPU_VEC_GP, true, 0);
    if (mode != SVMX_MODE_LONG64 &&
        rip + insn->length - 1 > cpu->sregs.seg[SVMX_CS].limit)
        return cpu_raise(f, CPU_VEC_GP, true, 0);
    return CPU_OK;
}

/*
 * Fetches and decodes the instruction at CS:RIP. The bytes come straight
 * from RAM when the page is RAM; an instruction that runs into the next
 * page fetches there only if the decoder says it needs more, so a #PF on
 * the second page happens exactly when the instruction crosses into it
 * (SDM Vol. 3A 6.15, #PF "instruction fetch").
 */
static cpu_res fetch(svmx_cpu *cpu, svmx_mode mode, unsigned flags,
                     const svmx_insn **out, cpu_fault *f)
{
    const svmx_segment *cs = &cpu->sregs.seg[SVMX_CS];
    uint64_t rip = cpu->regs.rip;
    uint64_t lin = cs_rip_linear(cpu, mode);
    unsigned acc = PG_EXEC | exec_user_flag(cpu);
    uint8_t buf[SVMX_INSN_MAX_LEN];
    size_t needed;

    if (mode != SVMX_MODE_LONG64 && rip > cs->limit)
        return cpu_raise(f, CPU_VEC_GP, true, 0);
    if (mode == SVMX_MODE_LONG64 && !cpu_canonical(rip, cpu->pers->linear_width))
        return cpu_raise(f, CPU_VEC_GP, true, 0);

    size_t avail = 4096 - (size_t)(lin & 0xfff);
    if (avail > SVMX_INSN_MAX_LEN)
        avail = SVMX_INSN_MAX_LEN;
    /* The page is known RAM with its rights checked: the fast path. */
    const uint8_t *bytes = hostmap_lookup(&cpu->hostmap, lin, acc);
    if (!bytes) {
        uint64_t phys;
        cpu_res r = paging_translate(cpu, lin, acc, &phys, f);
        if (r != CPU_OK)
            return r;
        hostmap_fill(cpu, lin, acc, phys);
        bytes = svmx_mem_ram_ptr(&cpu->mem, phys, avail);
        if (!bytes) {
            if (svmx_mem_read(&cpu->mem, phys, buf, avail) != SVMX_OK)
                return exec_stop(cpu, SVMX_STOP_MMIO, "MMIO handler failed on fetch");
            bytes = buf;
        }
    }
    if (avail == SVMX_INSN_MAX_LEN &&
        (*out = decode_cache_probe_at(cpu->dcache, lin, mode, flags, bytes)))
        return check_decoded(cpu, mode, rip, *out, f);
    /* The lookup may fill a slot a successor hint names (hostmap.h). */
    hostmap_epoch_end(&cpu->hostmap);
    svmx_status st = svmx_decode_cached_at(cpu->dcache, lin, mode, flags, bytes,
                                           avail, out, &needed);
    if (st == SVMX_E_TRUNCATED) {
        /* The instruction continues on the next page. */
        uint8_t whole[SVMX_INSN_MAX_LEN];
        uint64_t phys2;
        uint64_t lin2 = mode == SVMX_MODE_LONG64 ? lin + avail
                                                 : (lin + avail) & 0xffffffffull;
        memcpy(whole, bytes, avail);
        cpu_res r = paging_translate(cpu, lin2, acc, &phys2, f);
        if (r != CPU_OK)
            return r;
        if (svmx_mem_read(&cpu->mem, phys2, whole + avail,
                          SVMX_INSN_MAX_LEN - avail) != SVMX_OK)
            return exec_stop(cpu, SVMX_STOP_MMIO, "MMIO handler failed on fetch");
        st = svmx_decode_cached_at(cpu->dcache, lin, mode, flags, whole,
                                   SVMX_INSN_MAX_LEN, out, &needed);
    }
    if (st != SVMX_OK)
        return exec_stop(cpu, SVMX_STOP_UNSUPPORTED, "decoder failure");

    return check_decoded(cpu, mode, rip, *out, f);
}

/* Best-effort copy of the bytes at CS:RIP into the stop record, for an
 * UNSUPPORTED report; faults here are ignored (the bytes stay zero). */
static void record_bytes(svmx_cpu *cpu, svmx_mode mode, unsigned length)
{
    uint64_t lin = cs_rip_linear(cpu, mode);
    unsigned acc = PG_EXEC | exec_user_flag(cpu);
    for (unsigned i = 0; i < length && i < sizeof cpu->stop->bytes; i++) {
        cpu_fault f;
        uint64_t phys, v;
        if (paging_translate(cpu, lin + i, acc, &phys, &f) != CPU_OK ||
            svmx_mem_read_u(&cpu->mem, phys, 1, &v) != SVMX_OK)
            break;
        cpu->stop->bytes[i] = (uint8_t)v;
        cpu->stop->length = (uint8_t)(i + 1);
    }
}

/*
 * An instruction breakpoint on the instruction at CS:RIP: a #DB fault
 * before it executes, unless RFLAGS.RF = 1 (SDM Vol. 3B 18.3.1.1). The
 * frame's RF is the current one (0): the handler sets it to resume.
 */
static cpu_res code_breakpoint(svmx_cpu *cpu, svmx_mode mode, bool *hit)
{
    *hit = false;
    if (cpu->regs.rflags & SVMX_RFLAGS_RF)
        return CPU_OK;
    unsigned hits = bp_instruction(cpu, cs_rip_linear(cpu, mode));
    if (!hits)
        return CPU_OK;
    cpu_fault f;
    *hit = true;
    cpu->dregs.dr6 |= hits;
    cpu_raise(&f, CPU_VEC_DB, false, 0);
    f.payload = hits; /* no BD: an instruction breakpoint (except.c) */
    return exec_deliver(cpu, &f);
}

/*
 * What comes before the fetch at CS:RIP when a hook or a breakpoint is
 * armed: the embedder's debug hooks first (DESIGN.md's order, step 1;
 * debug_hooks.c), then the guest's own instruction breakpoint. *ended
 * when the instruction will not run: the run stops (CPU_STOP, the
 * embedder's stop), or the #DB was delivered instead (*faulted). Out of
 * line: the common step pays one test for both.
 */
static cpu_res __attribute__((noinline))
before_fetch(svmx_cpu *cpu, svmx_mode mode, bool *faulted, bool *ended)
{
    *ended = true;
    if (cpu->debug.active &&
        debug_boundary(cpu, cs_rip_linear(cpu, mode)) == CPU_STOP)
        return CPU_STOP;
    if (cpu->bp_armed) {
        bool hit;
        cpu_res b = code_breakpoint(cpu, mode, &hit);
        if (hit) {
            *faulted = true;
            return b;
        }
    }
    *ended = false;
    return CPU_OK;
}

/*
 * One instruction: fetch, execute, and deliver a fault if there is one.
 * `pre`, when not NULL, is the cached decode at CS:RIP that the fast loop
 * found and left to this path (run_fast), in mode `pre_mode`: the
 * fetch is then done, and so is what the fast loop did on entry and no
 * instruction of its list undoes - the hostmap sync (no control register
 * changed) and bp_armed = false (quiet(): DR7 enables no breakpoint, so
 * there is no code breakpoint to check either, and no embedder breakpoint
 * or resume is pending: debug.active is false).
 * An interrupt shadow lasts for the one instruction after the one that
 * opened it (SDM Vol. 2B STI, Vol. 2A MOV), so it is cleared here before
 * the handler runs; STI, MOV SS and POP SS open it again.
 */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline cpu_res step_one(svmx_cpu *cpu, const svmx_insn *pre,
                               svmx_mode pre_mode, uint8_t *shadow_before,
                               bool *faulted)
{
    svmx_mode mode = pre ? pre_mode : cpu_mode(cpu);
    const svmx_insn *insn = NULL;
    cpu_fault f;
    uint64_t rip = cpu->regs.rip;
    cpu_res r;

    *shadow_before = cpu->events.shadow;
    *faulted = false;
    cpu->events.shadow = 0;
    cpu->bp_hits = 0;
    if (pre) {
        /* Only the checks a fetch makes on a decode remain. */
        insn = pre;
        r = check_decoded(cpu, mode, rip, insn, &f);
    } else {
        hostmap_sync(&cpu->hostmap, cpu->sregs.cr0, cpu->sregs.cr3,
                     cpu->sregs.cr4, cpu->sregs.efer);
        cpu->bp_armed = bp_enabled(cpu->dregs.dr7);
        if (cpu->bp_armed | cpu->debug.active) {
            bool ended;
            cpu_res b = before_fetch(cpu, mode, faulted, &ended);
            if (ended) {
                if (!*faulted) /* the embedder's stop: nothing happened */
                    cpu->events.shadow = *shadow_before;
                return b;
            }
        }
        r = fetch(cpu, mode, cpu->decode_flags, &insn, &f);
    }
    if (r == CPU_OK) {
        /* The fast loop's next hint hangs off this decode. */
        cpu->hostmap.run_prev = decode_cache_entry_of(insn);
        cpu->hostmap.run_seq = (rip + insn->length) & exec_rip_masks[mode];
        exec_fn fn = exec_table[insn->cls];
        if (!fn) {
            record_bytes(cpu, mode, insn->length);
            cpu->events.shadow = *shadow_before;
            return exec_stop(cpu, SVMX_STOP_UNSUPPORTED,
                             "instruction not modelled");
        }
        cpu->regs.rip = (rip + insn->length) & exec_rip_masks[mode];
        r = fn(cpu, insn, &f);
        if (r == CPU_OK) {
            /* RF clears once an instruction completes, except after IRET,
             * which loads it, and a string instruction that yielded
             * between iterations, which set it (SDM Vol. 3B 18.3.1.1,
             * APM Vol. 2 13.1.1.4). */
            bool yielded = cpu->regs.rip == rip &&
                           (svmx_insn_class_flags(insn->cls) & SVMX_ICF_STR);
            if (insn->cls != SVMX_INSN_IRET && !yielded)
                cpu->regs.rflags &= ~SVMX_RFLAGS_RF;
            return CPU_OK;
        }
    }
    if (r == CPU_FAULT) {
        cpu->regs.rip = rip; /* faults report the faulting instruction */
        *faulted = true;
        return exec_deliver(cpu, &f);
    }
    /* SVM: a world switch ended the instruction (src/svm/svm_exec.h). */
    if (r == CPU_EXIT) {
        *faulted = true;
        return svm_exit_finish(cpu, rip, *shadow_before);
    }
    /* CPU_STOP: the instruction did not complete. */
    cpu->regs.rip = rip;
    cpu->events.shadow = *shadow_before;
    return r;
}

/*
 * The fast loop. Most instructions of a program change nothing that the
 * boundary work looks at: not the machine mode, the privilege level, a
 * control register, RFLAGS.IF/TF/RF, the interrupt shadow, the event
 * state, nor do they call a port handler. While the CPU is "quiet" (no
 * event waits, no single-step, no shadow) such instructions run back to
 * back here with the mode, the hostmap snapshot and the fetch rights
 * computed once. Anything else — an instruction outside the list, a
 * fetch that is not a cached decode of a RAM page, a fault — leaves the
 * loop and takes step_one(), which does everything the slow way. An
 * embedder callback that injects an event or requests a stop raises
 * `attention`, which ends the loop at the next boundary, so events are
 * still taken at the exact boundary.
 */
#define EXEC_SIMPLE(X)                                                        \
    X(NOP) X(MOV) X(MOVZX) X(MOVSX) X(MOVSXD) X(LEA) X(XCHG) X(BSWAP)        \
    X(CMOVCC) X(SETCC) X(XLAT) X(CBW) X(CWD) X(ADD) X(ADC) X(SUB) X(SBB)     \
    X(AND) X(OR) X(XOR) X(CMP) X(TEST) X(INC) X(DEC) X(NEG) X(NOT) X(SHL)    \
    X(SHR) X(SAR) X(ROL) X(ROR) X(RCL) X(RCR) X(SHLD) X(SHRD) X(MUL) X(IMUL) \
    X(DIV) X(IDIV) X(CMPXCHG) X(CMPXCHG8B) X(CMPXCHG16B) X(XADD) X(BT)       \
    X(BTS) X(BTR) X(BTC) X(BSF) X(BSR) X(LZCNT) X(TZCNT) X(POPCNT) X(JCC)    \
    X(JMP) X(CALL) X(RET) X(LOOP) X(JCXZ) X(PUSH) X(POP) X(PUSHA) X(POPA)    \
    X(ENTER) X(LEAVE) X(MOVS) X(CMPS) X(SCAS) X(LODS) X(STOS) X(LAHF)        \
    X(SAHF) X(CLC) X(STC) X(CMC) X(CLD) X(STD)

static const bool simple_class[SVMX_INSN_CLASS_COUNT] = {
#define X(cls) [SVMX_INSN_##cls] = true,
    EXEC_SIMPLE(X)
#undef X
};

/* The note the fast loop keeps with each cached decode: not looked at
 * yet, not for the fast loop, or runnable with the handler in the
 * slot's fn (exec_fast_pick). */
enum { AUX_UNKNOWN = 0, AUX_SLOW, AUX_RUN };

/* The handler the fast loop keeps with a decode it does not run. */
static cpu_res fast_handoff(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    (void)cpu, (void)insn, (void)f;
    return CPU_HANDOFF;
}

/* Whether the fast loop may run a decode: its class is in the list and it
 * has a handler; PUSH/POP of a segment register loads a segment. The
 * slot's fn is its handler, or fast_handoff. */
static bool classify(const svmx_insn *insn)
{
    cache_entry *e = decode_cache_entry_of(insn);
    e->aux = AUX_SLOW;
    e->fn = (decode_cache_fn)fast_handoff;
    if (insn->fault != SVMX_DECODE_FAULT_NONE || !simple_class[insn->cls] ||
        !exec_table[insn->cls])
        return false;
    for (unsigned i = 0; i < insn->operand_count && i < 4; i++)
        if (insn->operands[i].kind == SVMX_OPK_REG &&
            insn->operands[i].reg_class != SVMX_RC_GPR &&
            insn->operands[i].reg_class != SVMX_RC_GPR8H)
            return false;
    e->fn = (decode_cache_fn)exec_fast_pick(insn);
    e->aux = AUX_RUN;
    return true;
}

static inline bool quiet(const svmx_cpu *cpu)
{
    return !(cpu->regs.rflags & (SVMX_RFLAGS_TF | SVMX_RFLAGS_RF)) &&
           !bp_enabled(cpu->dregs.dr7) &&
           !cpu->debug.active &&
           !cpu->events.shadow && !cpu->db_deferred && !cpu->attention &&
           cpu->events.activity == SVMX_ACTIVITY_ACTIVE && !events_waiting(cpu);
}

/*
 * The decode at CS:RIP = `rip` (linear `lin`) the slow way: the CS limit,
 * the page end, canonicality, the code page's host address and the decode
 * cache's compare of the bytes, with the decode classified. NULL if the
 * fast loop must leave. A decode that is not for the fast loop (aux
 * AUX_SLOW) is returned too: every check of step_one's fetch but the
 * decode's own faults (check_decoded) has been made for it.
 */
typedef struct fast_fetch {
    uint64_t code_page;         /* linear page number of code_host        */
    const uint8_t *code_host;
} fast_fetch;

#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline cache_entry *fetch_fast(svmx_cpu *cpu, fast_fetch *ff,
                                      uint64_t rip, uint64_t lin, bool long64,
                                      unsigned acc, uint64_t salt, uint32_t meta)
{
    const svmx_segment *cs = &cpu->sregs.seg[SVMX_CS];
    if (!long64 && rip > cs->limit)
        return NULL;
    if ((lin & 0xfff) > 4096 - SVMX_INSN_MAX_LEN)
        return NULL; /* the slow fetch handles the page end */
    /* The code page's host address, looked up once per page: no
     * instruction of the list flushes or refills the hostmap's fetch
     * entries. */
    if ((lin >> 12) != ff->code_page) {
        /* The canonical boundary is a page boundary: checking RIP once
         * per page covers every RIP in it (SDM Vol. 3A 3.3.7.1). */
        if (long64 && !cpu_canonical(rip, cpu->pers->linear_width))
            return NULL;
        ff->code_host = hostmap_lookup(&cpu->hostmap, lin & ~0xfffull, acc);
        if (!ff->code_host)
            return NULL;
        ff->code_page = lin >> 12;
    }
    const svmx_insn *insn = decode_cache_probe(cpu->dcache, lin, salt, meta,
                                               ff->code_host + (lin & 0xfff));
    if (!insn)
        return NULL;
    if (insn->length == 0 ||
        (!long64 && rip + insn->length - 1 > cs->limit))
        return NULL;
    cache_entry *e = decode_cache_entry_of(insn);
    if (e->aux == AUX_UNKNOWN)
        classify(insn);
    /* Verified now: keep the bytes from changing behind the hints. */
    hostmap_protect_code(&cpu->hostmap, ff->code_host);
    return e;
}

/*
 * Runs at most `budget` simple instructions; returns how many ran (a
 * faulting one counts, as in step_one). *res is CPU_STOP if the run must
 * stop. *unfetched is true when the loop ended only because the
 * instruction at CS:RIP is not for it or fetch_fast() could not give it:
 * nothing has happened since the last instruction, which raised no
 * attention, so run_fast() may hand it straight to step_one; *slow is
 * then its decode if there is one (not for the loop). Else NULL.
 *
 * Each decode keeps hints to the decodes that followed it (its successor
 * hints, decode_cache_fast.h), tagged with the hostmap's epoch and the
 * fetch environment they were made in (hostmap_env_select). While the
 * epoch lasts, neither the bytes behind a hint nor the code page's
 * translation can have changed (hostmap.h), and the environment - mode,
 * CS base and limit, user or supervisor, decode flags, TLB context - is
 * the one the tag names, so everything fetch_fast() checked for the
 * successor holds as it did: the loop follows the hint without looking
 * at the bytes again. Any other successor is fetched the slow way and
 * becomes a hint. Hints to decodes the loop does not run are kept too,
 * and the decode that ran last - here or in step_one - is where the next
 * hint goes, so a program that alternates between this loop and
 * step_one, as a hypervisor and its guest do across world switches,
 * follows hints all the way.
 */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline uint64_t run_fast_in(svmx_cpu *cpu, uint64_t budget,
                                   cpu_res *res, const svmx_insn **slow,
                                   bool *unfetched, svmx_mode mode,
                                   bool long64)
{
    cpu_hostmap *h = &cpu->hostmap;
    uint64_t cs_base = long64 ? 0 : cpu->sregs.seg[SVMX_CS].base;
    uint64_t lin_mask = long64 ? UINT64_MAX : 0xffffffffull;
    uint64_t rip_mask = exec_rip_masks[mode];
    unsigned acc = PG_EXEC | exec_user_flag(cpu);
    uint64_t salt = decode_cache_where_key(0, mode);
    uint32_t meta = decode_cache_meta(SVMX_INSN_MAX_LEN, mode, cpu->decode_flags);
    fast_fetch ff = { UINT64_MAX, NULL };
    /* Any slot will do as the first predecessor: a hint is only ever
     * followed when its address and tag match. */
    cache_entry *prev = h->run_prev ? h->run_prev : &cpu->dcache->entries[0];
    uint64_t seq = h->run_seq; /* where prev falls through to */
    uint64_t left = budget; /* a countdown, tested with attention at the
                               loop's end: one register and one compare
                               fewer per instruction */

    *res = CPU_OK;
    *slow = NULL;
    *unfetched = false;
    cpu->bp_armed = false; /* quiet(): DR7 enables no breakpoint */
    hostmap_sync(h, cpu->sregs.cr0, cpu->sregs.cr3, cpu->sregs.cr4,
                 cpu->sregs.efer);
    h->run_user = acc & PG_USER;
    h->run_width = cpu->pers->linear_width;
    const svmx_segment *cs = &cpu->sregs.seg[SVMX_CS];
    hostmap_env env = { .ctx_tag = h->ctx_tag,
                        .cs_base = long64 ? 0 : cs->base,
                        .cs_limit = long64 ? 0 : cs->limit,
                        .meta = meta, .user = acc & PG_USER };
    hostmap_env_select(h, &env);
    while (left) {
        uint64_t rip = cpu->regs.rip;
        uint64_t lin = (cs_base + rip) & lin_mask;
        cache_entry *e;
        /* h->epoch is the tag of hints of the current epoch and
         * environment; an epoch may end in a run. */
        if (prev->link[0].lin == lin && prev->link[0].epoch == h->epoch) {
            e = prev->link[0].to;
        } else if (prev->link[1].lin == lin &&
                   prev->link[1].epoch == h->epoch) {
            e = prev->link[1].to;
        } else {
            e = fetch_fast(cpu, &ff, rip, lin, long64, acc, salt, meta);
            if (!e) {
                *unfetched = true;
                break;
            }
            prev->link[rip == seq ? 0 : 1] =
                (decode_cache_link){ lin, h->epoch, e };
        }
        seq = (rip + e->insn.length) & rip_mask;
        cpu->regs.rip = seq;
        cpu_fault f;
        cpu_res r = ((exec_fn)e->fn)(cpu, &e->insn, &f);
        if (r != CPU_OK) {
            cpu->regs.rip = rip;
            if (r == CPU_HANDOFF) {
                /* Not for this loop: for step_one, which makes it
                 * run_prev. */
                *slow = &e->insn;
                *unfetched = true;
            } else if (r == CPU_FAULT) {
                /* Counted as step_one's caller counts it: unless the
                 * delivery stopped the run (a shutdown). */
                *res = exec_deliver(cpu, &f);
                left -= *res != CPU_STOP;
            } else {
                *res = r;
            }
            break;
        }
        left--;
        prev = e;
        if (!left || cpu->attention)
            break;
    }
    h->run_prev = prev;
    h->run_seq = seq;
    cpu->tsc += budget - left; /* no instruction of the list reads it */
    return budget - left;
}

/* A CPU_STOP that nobody described came from the page walker: an MMIO
 * handler failed on a paging-structure access (paging.h). */
static void stop_from_paging(svmx_cpu *cpu)
{
    svmx_stop *s = cpu->stop;
    if (!s || s->reason != SVMX_STOP_NONE)
        return;
    s->addr = cpu->tlb.stop.gpa;
    s->size = cpu->tlb.stop.size;
    s->write = cpu->tlb.stop.write;
    s->handler_status = cpu->tlb.stop.status;
    exec_stop(cpu, SVMX_STOP_MMIO, "MMIO handler failed in a page walk");
}

static void stop_begin(svmx_cpu *cpu, svmx_stop *stop)
{
    memset(stop, 0, sizeof *stop);
    stop->reason = SVMX_STOP_NONE;
    cpu->stop = stop;
    cpu->stop_requested = false;
}

/*
 * The boundary work before an instruction: a CPU in shutdown stays there;
 * a waiting event is delivered (waking HLT); a halted CPU that nothing
 * woke stops the run. CPU_OK when an instruction may execute.
 */
static cpu_res boundary(svmx_cpu *cpu)
{
    if (cpu->events.activity == SVMX_ACTIVITY_SHUTDOWN &&
        !events_init_due(cpu))
        return exec_stop(cpu, SVMX_STOP_SHUTDOWN, NULL);
    if (events_waiting(cpu)) {
        bool delivered;
        cpu_res r = events_deliver_due(cpu, &delivered);
        if (r != CPU_OK)
            return r;
    }
    if (cpu->events.activity == SVMX_ACTIVITY_HLT)
        return exec_stop(cpu, SVMX_STOP_HLT, NULL);
    if (cpu->events.activity != SVMX_ACTIVITY_ACTIVE)
        return exec_stop(cpu, SVMX_STOP_UNSUPPORTED,
                         "wait-for-SIPI activity state");
    return CPU_OK;
}

/*
 * After an instruction that retired without delivering an event: the #DB
 * traps — single-step if it began with RFLAGS.TF = 1 (SDM Vol. 3B
 * 18.3.1.4), data and I/O breakpoints it hit (18.3.1.2-3) — reported by
 * one #DB. A MOV SS shadow defers them by one instruction (SDM Vol. 3A
 * 6.8.3).
 */
static cpu_res after_traps(svmx_cpu *cpu, bool tf, uint8_t shadow_before)
{
    uint64_t dr6 = (tf ? CPU_DR6_BS : 0) | cpu->bp_hits;
    if (cpu->db_deferred && !(shadow_before & SVMX_SHADOW_MOVSS)) {
        dr6 |= cpu->db_deferred_dr6;
        cpu->db_deferred = false;
        cpu->db_deferred_dr6 = 0;
    }
    if (!dr6)
        return CPU_OK;
    if (cpu->events.shadow & SVMX_SHADOW_MOVSS) {
        cpu->db_deferred = true;
        cpu->db_deferred_dr6 |= dr6;
        return CPU_OK;
    }
    return events_debug_trap(cpu, dr6);
}


/*
 * The end of an instruction step_one() completed (not CPU_STOP): it is
 * counted and ticks the TSC (docs/interpreter.md), then come the #DB
 * traps unless it delivered an event (`faulted`), then a stop request.
 * false if the run ends.
 */
static inline bool retire(svmx_cpu *cpu, svmx_stop *stop, bool tf,
                          uint8_t shadow_before, bool faulted)
{
    stop->insns++;
    cpu->tsc++;
    if (tf | cpu->db_deferred | cpu->stop_requested | cpu->bp_hits) {
        if ((tf || cpu->db_deferred || cpu->bp_hits) && !faulted &&
            after_traps(cpu, tf, shadow_before) == CPU_STOP)
            return false;
        if (cpu->stop_requested) {
            exec_stop(cpu, SVMX_STOP_REQUESTED, NULL);
            return false;
        }
    }
    return true;
}

/* Where the run loop goes on after run_fast(). */
typedef enum fast_next {
    FAST_TOP,   /* to the top of the loop: its checks are due           */
    FAST_STEP,  /* straight to step_one(): nothing changed since them    */
    FAST_END,   /* the run ends; the stop record is written              */
} fast_next;

/*
 * The fast loop while the CPU is quiet, compiled twice: 64-bit mode,
 * where there is no CS base or limit, and the rest. An instruction it
 * stops in front of because it does not run it (run_fast_in: nothing has
 * happened since the last instruction, which raised no attention) goes
 * to step_one() here, and is retired as the run loop retires one. If the
 * budget is not spent and the CPU is still quiet() after it, which also
 * says that no attention is raised, that the CPU is active and that no
 * event waits, the top of the run loop would find nothing to do and
 * enter the fast loop again: so that happens here at once, with the mode
 * and the fetch environment computed anew, as a world switch may have
 * changed them.
 */
static fast_next run_fast(svmx_cpu *cpu, svmx_stop *stop, uint64_t limit)
{
    for (;;) {
        svmx_mode mode = cpu_mode(cpu);
        const svmx_insn *pre;
        bool unfetched;
        cpu_res fr;
        uint64_t n;
        if (mode == SVMX_MODE_LONG64)
            n = run_fast_in(cpu, limit - stop->insns, &fr, &pre, &unfetched,
                            SVMX_MODE_LONG64, true);
        else
            n = run_fast_in(cpu, limit - stop->insns, &fr, &pre, &unfetched,
                            mode, false);
        stop->insns += n;
        if (fr == CPU_STOP) {
            stop_from_paging(cpu);
            return FAST_END;
        }
        if (cpu->stop_requested) {
            exec_stop(cpu, SVMX_STOP_REQUESTED, NULL);
            return FAST_END;
        }
        /* In front of an instruction the fast loop could not fetch, the
         * top of the run loop would find nothing to do, and the fast loop
         * would stop there again at once. */
        if (!pre)
            return unfetched || !n ? FAST_STEP : FAST_TOP;
        /* RFLAGS.TF = 0: quiet() said so, and no instruction of the list
         * writes it. */
        uint8_t shadow_before;
        bool faulted;
        cpu_res r = step_one(cpu, pre, mode, &shadow_before, &faulted);
        if (r == CPU_STOP) {
            stop_from_paging(cpu);
            return FAST_END;
        }
        if (!retire(cpu, stop, false, shadow_before, faulted))
            return FAST_END;
        if (stop->insns >= limit || !quiet(cpu))
            return FAST_TOP;
    }
}


svmx_status svmx_cpu_run(svmx_cpu *cpu, uint64_t max_insns, svmx_stop *stop)
{
    if (!cpu || !stop)
        return SVMX_E_ARG;
    /* An event the L0 policy took waits for svmx_cpu_complete(). */
    if (cpu->nested.l0_pending)
        return SVMX_E_STATE;
    stop_begin(cpu, stop);
    /* AMD decodes LOCK MOV CR0 as CR8 (AltMovCr8, APM Vol. 3 MOV CRn). */
    cpu->decode_flags = cpu->vendor == SVMX_VENDOR_AMD ? SVMX_DECODE_ALT_MOV_CR8 : 0;
    /* The embedder may have written RAM since the last run (hostmap.h). */
    hostmap_epoch_end(&cpu->hostmap);
    uint64_t limit = max_insns ? max_insns : UINT64_MAX;
    for (;;) {
        if (stop->insns >= limit) {
            exec_stop(cpu, SVMX_STOP_BUDGET, NULL);
            break;
        }
        cpu->attention = false;
        if (cpu->events.activity != SVMX_ACTIVITY_ACTIVE || events_waiting(cpu)) {
            if (boundary(cpu) != CPU_OK)
                break;
        }
        if (quiet(cpu)) {
            fast_next next = run_fast(cpu, stop, limit);
            if (next == FAST_END)
                break;
            if (next == FAST_TOP)
                continue;
        }
        bool tf = (cpu->regs.rflags & SVMX_RFLAGS_TF) != 0;
        uint8_t shadow_before;
        bool faulted;
        cpu_res r = step_one(cpu, NULL, SVMX_MODE_REAL, &shadow_before,
                             &faulted);
        if (r == CPU_STOP) {
            stop_from_paging(cpu);
            break;
        }
        if (!retire(cpu, stop, tf, shadow_before, faulted))
            break;
    }
    stop->rip = cpu->regs.rip;
    cpu->stop = NULL;
    return SVMX_OK;
}

svmx_status svmx_cpu_step(svmx_cpu *cpu, svmx_stop *stop)
{
    if (!cpu || !stop)
        return SVMX_E_ARG;
    svmx_status st = svmx_cpu_run(cpu, 1, stop);
    if (st == SVMX_OK && stop->reason == SVMX_STOP_BUDGET) {
        stop->reason = SVMX_STOP_DEBUG;
        stop->debug = SVMX_DEBUG_STEP;
        stop->level = cpu->svm.guest ? SVMX_LEVEL_L2 : SVMX_LEVEL_L1;
    }
    return st;
}
