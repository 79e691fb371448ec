/*
 * src/nested/route.c - the nested exit router (DESIGN.md "Data flow",
 * docs/router.md): for every event the running CPU raises, REFLECT (to
 * L1), L0 (to the embedder) or ARCH (the architectural effect), and the
 * rule that decided it.
 *
 * One function, nested_route(), in DESIGN.md's order: for an event of L2,
 * (1) does L1 intercept it - vmcb12's intercept bit, refined by the IOPM,
 * the MSRPM or the CR0 selective-write rule - then (2) does the L0 policy
 * want it, else (3) ARCH; for an event of L1, (2) then (3). (Embedder
 * debug hooks, DESIGN.md's step 0, are not modelled: svmx has no
 * debugger interface beyond svmx_cpu_step.) The vendor's part is data:
 * the SVM intercept of exit code c is bit c of the VMCB's intercept
 * vectors, for every code of APM Vol. 2 appendix C below 0xA7 (Table B-1
 * lays the vectors out that way: CR reads at bit 0 and VMEXIT_CR0_READ =
 * 0, ... IDLE_HLT at word 5 bit 6 and code 0xA6), and a byte table says
 * which codes need a refine step. The VMX tables (exit reason -> control
 * bit, bitmaps, CR masks, PFEC mask/match) join as a second vendor.
 *
 * The rules of DESIGN.md decided here:
 *   R1  VMMCALL in L2 that vmcb12 does not intercept: ARCH (#UD in L2,
 *       which L1 may intercept as exception 6); never the L0 policy's
 *       hypercall, whatever the policy says;
 *   R2  an L2 WRMSR that clears EFER.SVME which L1 does not intercept is
 *       tagged R2 here; its effect is nested_r2() (rules.c);
 *   R3  the SVM form, nested_r3() (rules.c), routes a SHUTDOWN of L2.
 */
#include "cpu/exec.h"
#include "nested/nested_exec.h"
#include "svm/svm_internal.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ============================================================== names == */

static const char *const kind_names[] = {
#define X(name, text) #name,
    SVMX_EVENT_KINDS(X)
#undef X
};

static const char *const route_names[] = {
#define X(name, text) #name,
    SVMX_ROUTES(X)
#undef X
};

static const char *const rule_names[] = {
#define X(name, text) #name,
    SVMX_RULES(X)
#undef X
};

static const char *const rule_texts[] = {
#define X(name, text) text,
    SVMX_RULES(X)
#undef X
};

const char *svmx_event_kind_name(svmx_event_kind kind)
{
    return (unsigned)kind < COUNT_OF(kind_names) ? kind_names[kind] : "?";
}

const char *svmx_route_name(svmx_route_kind route)
{
    return (unsigned)route < COUNT_OF(route_names) ? route_names[route] : "?";
}

const char *svmx_rule_name(svmx_rule rule)
{
    return (unsigned)rule < COUNT_OF(rule_names) ? rule_names[rule] : "?";
}

const char *svmx_rule_str(svmx_rule rule)
{
    return (unsigned)rule < COUNT_OF(rule_texts) ? rule_texts[rule] : "?";
}

/* ========================================================= event kind == */

/* IOIO EXITINFO1 (APM Vol. 2 15.10.2 Figure 15-2): TYPE (1 = IN), STR,
 * REP, the one-hot size SZ8/SZ16/SZ32 and the port. */
#define IOIO_IN   (1u << 0)
#define IOIO_STR  (1u << 2)
#define IOIO_REP  (1u << 3)

static unsigned ioio_size(uint64_t info1)
{
    return info1 & (1u << 4) ? 1 : info1 & (1u << 5) ? 2 : 4;
}

/* The kind of each exit code a policy can select, by EXITINFO1 bit 0:
 * the MSR's direction (1 = WRMSR, 15.11) and IOIO's TYPE (1 = IN,
 * 15.10.2); the other codes have one kind. */
static const uint8_t svm_kinds[NESTED_SVM_DENSE][2] = {
#define ONE_(code, kind) [SVMX_SVM_EXIT_##code] = { SVMX_EVENT_##kind,        \
                                                    SVMX_EVENT_##kind }
    ONE_(CPUID, CPUID), ONE_(HLT, HLT), ONE_(PAUSE, PAUSE), ONE_(INVD, INVD),
    ONE_(WBINVD, WBINVD), ONE_(VMMCALL, HYPERCALL), ONE_(SHUTDOWN, SHUTDOWN),
#undef ONE_
    [SVMX_SVM_EXIT_MSR] = { SVMX_EVENT_RDMSR, SVMX_EVENT_WRMSR },
    [SVMX_SVM_EXIT_IOIO] = { SVMX_EVENT_OUT, SVMX_EVENT_IN },
};

_Static_assert(IOIO_IN == 1, "svm_kinds goes by IOIO's TYPE, bit 0");

static inline svmx_event_kind svm_kind(uint64_t code, uint64_t info1)
{
    if (code >= NESTED_SVM_DENSE)
        return SVMX_EVENT_OTHER;
    return (svmx_event_kind)svm_kinds[code][info1 & 1];
}

void nested_exit_init(const svmx_cpu *cpu, svmx_exit *x, uint64_t code,
                      uint64_t info1, uint64_t info2)
{
    const uint64_t *g = cpu->regs.gpr;
    *x = (svmx_exit){ .code = code, .info1 = info1, .info2 = info2,
                      .nrip = cpu->regs.rip };
    x->kind = (uint8_t)svm_kind(code, info1);
    switch (x->kind) {
    case SVMX_EVENT_CPUID:
        x->index = (uint32_t)g[SVMX_RAX];
        x->subindex = (uint32_t)g[SVMX_RCX];
        break;
    case SVMX_EVENT_WRMSR:
        x->value = (g[SVMX_RDX] & 0xffffffffull) << 32 |
                   (g[SVMX_RAX] & 0xffffffffull);
        x->flags = SVMX_EXIT_WRITE;
        /* fall through */
    case SVMX_EVENT_RDMSR:
        x->index = (uint32_t)g[SVMX_RCX];
        break;
    case SVMX_EVENT_IN:
    case SVMX_EVENT_OUT:
        x->index = (uint32_t)(info1 >> 16);
        x->size = (uint8_t)ioio_size(info1);
        x->flags = (uint8_t)((x->kind == SVMX_EVENT_OUT ? SVMX_EXIT_WRITE : 0) |
                             (info1 & IOIO_STR ? SVMX_EXIT_STRING : 0) |
                             (info1 & IOIO_REP ? SVMX_EXIT_REP : 0));
        if (x->kind == SVMX_EVENT_OUT && !(info1 & IOIO_STR))
            x->value = g[SVMX_RAX] & (UINT64_MAX >> (64 - 8 * x->size));
        break;
    default:
        if (code == SVMX_SVM_EXIT_CR0_WRITE || code == SVMX_SVM_EXIT_CR0_SEL_WRITE ||
            (code >= SVMX_SVM_EXIT_CR1_WRITE && code <= SVMX_SVM_EXIT_CR15_WRITE) ||
            (code >= SVMX_SVM_EXIT_DR0_WRITE && code <= SVMX_SVM_EXIT_DR15_WRITE))
            x->flags = SVMX_EXIT_WRITE;
        break;
    }
}

/* ====================================================== SVM: L1 step == */

/* Whether the codes that need more than their bit need: the CR0 write
 * codes, IOIO and MSR (svm.h SVMX_SVM_REFINES). The codes below
 * NESTED_SVM_DENSE are dense: their intercept is bit `code` of the
 * vectors (the file comment). */
const uint8_t nested_svm_refine[NESTED_SVM_DENSE] = {
    [SVMX_SVM_EXIT_CR0_WRITE] = SVMX_SVM_REFINE_CR0_WRITE,
    [SVMX_SVM_EXIT_CR0_SEL_WRITE] = SVMX_SVM_REFINE_CR0_WRITE,
    [SVMX_SVM_EXIT_IOIO] = SVMX_SVM_REFINE_IOPM,
    [SVMX_SVM_EXIT_MSR] = SVMX_SVM_REFINE_MSRPM,
};

/*
 * The bits of EXITINFO1 that are decode-assist information (15.33), read
 * as 0 by a CPU without decode assists: all of it for MOV CR/DR (the
 * register), INVLPG (the address) and INTn (the vector), the segment
 * (bits 12:10) for IOIO. A mask per code, so the fast paths (below, and
 * nested_l2_reflects) apply it without asking which exit it has.
 */
#define DA_ALL  UINT64_MAX
#define DA_8(c) [(c)] = DA_ALL, [(c) + 1] = DA_ALL, [(c) + 2] = DA_ALL,      \
                [(c) + 3] = DA_ALL, [(c) + 4] = DA_ALL, [(c) + 5] = DA_ALL,  \
                [(c) + 6] = DA_ALL, [(c) + 7] = DA_ALL
const uint64_t nested_svm_assist_bits[NESTED_SVM_DENSE] = {
    DA_8(0x00), DA_8(0x08), DA_8(0x10), DA_8(0x18),   /* CR0-15 read/write */
    DA_8(0x20), DA_8(0x28), DA_8(0x30), DA_8(0x38),   /* DR0-15 read/write */
    [SVMX_SVM_EXIT_INVLPG] = DA_ALL,
    [SVMX_SVM_EXIT_SWINT] = DA_ALL,
    [SVMX_SVM_EXIT_IOIO] = 7ull << 10,
};
#undef DA_8
#undef DA_ALL

_Static_assert(SVMX_SVM_EXIT_DR15_WRITE == 0x3f,
               "nested_svm_assist_bits covers the CR and DR codes 0x00-0x3f");

static inline uint64_t svm_unassisted(uint64_t code, uint64_t info1)
{
    return code < NESTED_SVM_DENSE ? info1 & ~nested_svm_assist_bits[code]
                                   : info1;
}

/* The map's base as VMRUN takes it: bits 11:0 ignored (15.10.1, 15.11). */
static inline uint64_t map_base(const svmx_vmcb *v, svmx_vmcb_field f)
{
    return svm_rd64(v, f) & ~0xfffull;
}

/* `n` bytes of a permission map at `pa` are in RAM. */
static inline bool map_in_ram(const svmx_mem *m, uint64_t pa, unsigned n)
{
    return (pa < m->ram_size) & (m->ram_size - pa >= n);
}

/* `n` bytes of a permission map at `pa`: straight from RAM when they are
 * there, else through the memory API (MMIO, or all ones: svm.h). */
static inline svmx_status map_bytes(const svmx_cpu *cpu, uint64_t pa,
                                    uint8_t *out, unsigned n)
{
    const svmx_mem *m = &cpu->mem;
    if (map_in_ram(m, pa, n)) {
        out[0] = m->ram[pa];
        if (n > 1)
            out[1] = m->ram[pa + 1];
        return SVMX_OK;
    }
    return svmx_mem_read(m, pa, out, n);
}

/* Where the bits of an IOIO or MSR event are in its permission map. */
typedef struct map_bits {
    uint64_t pa;        /* the first byte                               */
    unsigned shift;     /* the first bit in it                          */
    unsigned mask;      /* 1-4 bits, from bit 0; they may run into the
                           next byte                                    */
} map_bits;

/* The bytes the bits span: 1, or 2 when they run into the next one. */
static inline unsigned map_span(const map_bits *m)
{
    return 1 + ((m->mask << m->shift) > 0xffu);
}

/*
 * 15.11 Table 15-8: three 2 KiB vectors, two bits per MSR (read even,
 * write odd); 15.10.2: one bit per port, an access testing `size` bits
 * (up to 0x10002, the map's last). False for an MSR outside the MSRPM's
 * ranges, which is always intercepted.
 */
static inline bool map_locate(const svmx_vmcb *v, unsigned refine,
                              const svmx_exit *in, map_bits *m)
{
    if (refine == SVMX_SVM_REFINE_MSRPM) {
        uint32_t msr = in->index, off;
        if (msr < 0x2000u)
            off = 0;
        else if (msr - 0xc0000000u < 0x2000u)
            off = 0x800, msr -= 0xc0000000u;
        else if (msr - 0xc0010000u < 0x2000u)
            off = 0x1000, msr -= 0xc0010000u;
        else
            return false;
        m->pa = map_base(v, SVMX_VMCB_MSRPM_BASE_PA) + off + msr / 4;
        m->shift = (msr % 4) * 2 + (unsigned)(in->info1 & 1);
        m->mask = 1;
    } else {
        uint32_t port = in->index & 0xffffu;
        m->pa = map_base(v, SVMX_VMCB_IOPM_BASE_PA) + port / 8;
        m->shift = port % 8;
        m->mask = in->size == 1 ? 1 : in->size == 2 ? 3 : 0xf;
    }
    return true;
}

/* Whether any of the bits is set, the bytes read through the memory API
 * when they are not RAM (*st: an MMIO handler's failure). */
static inline bool map_test(const svmx_cpu *cpu, const map_bits *m,
                            svmx_status *st)
{
    unsigned n = map_span(m);
    uint8_t b[2] = { 0xff, 0xff };
    *st = map_bytes(cpu, m->pa, b, n);
    unsigned bits = (unsigned)b[0] | (n > 1 ? (unsigned)b[1] << 8 : 0);
    return (bits >> m->shift) & m->mask;
}

/*
 * The exit vmcb12 - the VMCB as VMRUN cached it, its intercept vectors
 * reduced to the advertised features - takes for the event `in` (APM Vol.
 * 2 15.9-15.14 and appendix C): the event's own code, or for a CR0 write
 * the plain or the selective one; SVM_NO_EXIT when it does not intercept
 * it.
 */
#define SVM_NO_EXIT UINT64_MAX /* VMEXIT_INVALID is never intercepted */

#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline uint64_t svm_l1_exit(const svmx_cpu *cpu, const svmx_exit *in,
                                   svmx_status *st)
{
    const svmx_vmcb *v = &cpu->svm.vmcb;
    uint64_t code = in->code;
    if (code >= NESTED_SVM_DENSE)
        /* NPF, AVIC and VMGEXIT have no intercept bit: they exit whenever
         * they happen (Table C-1). The negative codes are VMRUN's own
         * answers (VMEXIT_INVALID, BUSY ...), not events of a guest:
         * nothing to reflect. */
        return code >= SVMX_SVM_EXIT_NPF && code <= SVMX_SVM_EXIT_VMGEXIT
                   ? code : SVM_NO_EXIT;
    bool hit = svm_icpt_bit(v, (unsigned)code);
    switch (nested_svm_refine[code]) {
    case SVMX_SVM_REFINE_NONE:
        break;
    case SVMX_SVM_REFINE_CR0_WRITE: {
        /* 15.9 Table 15-7: the plain or the selective CR0 write. */
        uint64_t c = svm_cr0_write_exit(v, cpu->sregs.cr0, in->value,
                                        in->flags & SVMX_EXIT_LMSW);
        return c ? c : SVM_NO_EXIT;
    }
    default: { /* IOPM, MSRPM */
        map_bits m;
        if (hit && map_locate(v, nested_svm_refine[code], in, &m))
            hit = map_test(cpu, &m, st);
        break;
    }
    }
    return hit ? code : SVM_NO_EXIT;
}

/* ===================================================== Intel records == */

/*
 * On the Intel personality the router sees only L1 events until the VMX
 * model lands, and only the kinds a policy selects: each is given its VMX
 * basic exit reason (SDM Vol. 3C appendix C) so the embedder reads the
 * record its vendor defines.
 */
static const uint8_t vmx_reason_of_kind[SVMX_EVENT_KIND_COUNT] = {
    [SVMX_EVENT_CPUID] = 10,  [SVMX_EVENT_RDMSR] = 31, [SVMX_EVENT_WRMSR] = 32,
    [SVMX_EVENT_IN] = 30,     [SVMX_EVENT_OUT] = 30,   [SVMX_EVENT_HLT] = 12,
    [SVMX_EVENT_PAUSE] = 40,  [SVMX_EVENT_INVD] = 13,  [SVMX_EVENT_WBINVD] = 54,
    [SVMX_EVENT_HYPERCALL] = 18, [SVMX_EVENT_SHUTDOWN] = 2,
};

static const char *const vmx_reason_names[] = {
    [2] = "TRIPLE_FAULT", [10] = "CPUID", [12] = "HLT", [13] = "INVD",
    [18] = "VMCALL", [30] = "IO_INSTRUCTION", [31] = "RDMSR", [32] = "WRMSR",
    [40] = "PAUSE", [54] = "WBINVD",
};

const char *svmx_exit_name(int vendor, uint64_t code)
{
    if (vendor == SVMX_VENDOR_AMD)
        return svmx_svm_exit_name(code);
    if (vendor == SVMX_VENDOR_INTEL && code < COUNT_OF(vmx_reason_names) &&
        vmx_reason_names[code])
        return vmx_reason_names[code];
    return "?";
}

/* The kind of a VMX basic exit reason (SDM Vol. 3C appendix C; the I/O
 * qualification's bit 3 is the direction, 1 = IN, Table 28-5). */
static svmx_event_kind vmx_kind(uint64_t reason, uint64_t qualification)
{
    switch (reason) {
    case 2:  return SVMX_EVENT_SHUTDOWN;
    case 10: return SVMX_EVENT_CPUID;
    case 12: return SVMX_EVENT_HLT;
    case 13: return SVMX_EVENT_INVD;
    case 18: return SVMX_EVENT_HYPERCALL;
    case 30: return qualification & 8 ? SVMX_EVENT_IN : SVMX_EVENT_OUT;
    case 31: return SVMX_EVENT_RDMSR;
    case 32: return SVMX_EVENT_WRMSR;
    case 40: return SVMX_EVENT_PAUSE;
    case 54: return SVMX_EVENT_WBINVD;
    default: return SVMX_EVENT_OTHER;
    }
}

static void vmx_record(svmx_exit *x)
{
    x->code = vmx_reason_of_kind[x->kind];
    x->info1 = x->info2 = x->intinfo = 0;
}

/* ============================================================= router == */

/* EFER.SVME (APM Vol. 2 3.1.7). */
#define EFER_SVME (1ull << 12)
#define MSR_EFER  0xc0000080u

/* The rule of an L2 event L1 does not intercept by its kind alone, when
 * the caller names none. */
static const uint8_t l2_rules[SVMX_EVENT_KIND_COUNT] = {
    [SVMX_EVENT_HYPERCALL] = SVMX_RULE_R1,
    [SVMX_EVENT_SHUTDOWN] = SVMX_RULE_L2_SHUTDOWN,
};

/*
 * The rule that decides an L2 event L1 does not intercept: R1 for a
 * VMMCALL (#UD in L2), R2 for a write that clears EFER.SVME, and for a
 * shutdown the caller's rule (R3) or L2_SHUTDOWN; `given` otherwise.
 */
static inline svmx_rule l2_rule(const svmx_cpu *cpu, const svmx_exit *in,
                                unsigned kind, svmx_rule given)
{
    if (kind == SVMX_EVENT_WRMSR && in->index == MSR_EFER &&
        (cpu->sregs.efer & ~in->value & EFER_SVME))
        return SVMX_RULE_R2;
    return given == SVMX_RULE_NONE || kind == SVMX_EVENT_HYPERCALL
               ? (svmx_rule)l2_rules[kind] : given;
}

/*
 * Decides `in` into *d (d->exit may be `in` itself: everything `in` says
 * is read first). d->rule comes in as the caller's rule (R2's and R3's
 * shutdowns name theirs) and NONE otherwise.
 */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline svmx_status route(svmx_cpu *cpu, const svmx_exit *in,
                                unsigned kind, svmx_decision *d, bool live)
{
    svmx_status st = SVMX_OK;
    unsigned level;
    if (cpu->svm.guest) {
        level = SVMX_LEVEL_L2;
        uint64_t code = svm_l1_exit(cpu, in, &st);
        if (code != SVM_NO_EXIT) {
            uint64_t info1 = in->info1;
            if (!(cpu->svm.features & SVMX_SVM_FEATURE_DECODE_ASSISTS))
                info1 = svm_unassisted(code, info1);
            if (&d->exit != in)
                d->exit = *in;
            d->exit.kind = (uint8_t)kind;
            d->exit.code = code;
            d->exit.info1 = info1;
            d->exit.level = SVMX_LEVEL_L2;
            d->route = SVMX_ROUTE_REFLECT;
            goto decided;
        }
        if (&d->exit != in)
            d->exit = *in;
        d->exit.kind = (uint8_t)kind;
        d->exit.level = SVMX_LEVEL_L2;
        d->route = SVMX_ROUTE_ARCH;
        d->rule = (uint8_t)l2_rule(cpu, in, kind, (svmx_rule)d->rule);
        if (d->rule == SVMX_RULE_R1)
            goto decided; /* #UD in L2, never L0's hypercall */
    } else {
        level = SVMX_LEVEL_L1;
        if (&d->exit != in)
            d->exit = *in;
        d->exit.kind = (uint8_t)kind;
        d->exit.level = SVMX_LEVEL_L1;
        d->route = SVMX_ROUTE_ARCH;
        if (kind == SVMX_EVENT_OTHER)
            return SVMX_OK; /* no policy selects it, and nothing is above */
    }
    if (((cpu->nested.wants[level] >> kind) & 1) &&
        nested_policy_match(&cpu->nested.policy, level, &d->exit)) {
        /* SVMX_COMPLETE_EXECUTE: the instruction L0 gave back runs. */
        bool bypassed = live && cpu->nested.bypass &&
                        cpu->nested.bypass_nrip == d->exit.nrip;
        if (!bypassed)
            d->route = SVMX_ROUTE_L0;
    }
    if (live)
        cpu->nested.bypass = false;
    if (live && cpu->vendor == SVMX_VENDOR_INTEL)
        vmx_record(&d->exit);
decided:
    if (live && cpu->nested.hook) {
        cpu->nested.hook(cpu->nested.hook_opaque, d);
        /* The embedder's code may have written guest RAM (hostmap.h). */
        hostmap_epoch_end(&cpu->hostmap);
    }
    return st;
}

svmx_status nested_route(svmx_cpu *cpu, svmx_decision *d)
{
    return route(cpu, &d->exit, d->exit.kind, d, true);
}

/* svmx_route() for everything route_fast() leaves: out of line, so that
 * the fast path needs no registers saved. */
static svmx_status __attribute__((noinline))
route_pure(svmx_cpu *cpu, const svmx_exit *exit, svmx_decision *decision)
{
    decision->rule = SVMX_RULE_NONE;
    /* The embedder's record is its vendor's: a VMX basic exit reason on
     * the Intel personality, kept as given. */
    unsigned kind = cpu->vendor == SVMX_VENDOR_INTEL
                        ? vmx_kind(exit->code, exit->info1)
                        : svm_kind(exit->code, exit->info1);
    return route(cpu, exit, kind, decision, false);
}

/*
 * The common case of svmx_route(), the same decision as route() makes:
 * guest mode, a code with an intercept bit, its permission-map bytes (if
 * any) in RAM, no L2 policy. A map outside RAM, a policy or L1's own
 * events take route_pure(). Table lookups where they replace a test of
 * which exit it is; branches where they save work (the refine steps, the
 * intercept), which a predictor learns for a recurring mix of exits.
 */
_Static_assert(SVMX_ROUTE_REFLECT == 1 && SVMX_ROUTE_ARCH == 0,
               "the fast path's route is the intercept");

/*
 * The fast path's record: `in` as vmcb12 receives it when `hit` - the
 * exit `code`, EXITINFO1 as svm_unassisted() gives it - else as raised,
 * with the rule of an event L1 does not intercept. Both codes are dense.
 */
static inline void fast_decide(const svmx_cpu *cpu, const svmx_exit *in,
                               svmx_decision *d, uint64_t code, bool hit)
{
    /* The kind follows from the code (the caller's kind is not trusted:
     * an L2 VMMCALL must be R1's whatever it says). */
    uint64_t info1 = in->info1;
    unsigned kind = svm_kinds[in->code][info1 & 1];
    svmx_rule rule = SVMX_RULE_NONE;
    if (!hit)
        rule = l2_rule(cpu, in, kind, SVMX_RULE_NONE);
    else if (!(cpu->svm.features & SVMX_SVM_FEATURE_DECODE_ASSISTS))
        info1 &= ~nested_svm_assist_bits[code];
    /* Everything `in` says is read: d->exit may be `in` itself. */
    d->exit = *in;
    d->exit.code = code;
    d->exit.info1 = info1;
    d->exit.kind = (uint8_t)kind;
    d->exit.level = SVMX_LEVEL_L2;
    d->route = (uint8_t)hit;
    d->rule = (uint8_t)rule;
}

/*
 * The fast path for the codes with a refine step: the CR0 writes, IOIO
 * and MSR. Out of line, so that the others need no registers saved.
 */
static svmx_status __attribute__((noinline))
route_refined(svmx_cpu *cpu, const svmx_exit *in, svmx_decision *d,
              unsigned refine)
{
    const svmx_vmcb *v = &cpu->svm.vmcb;
    uint64_t code = in->code;
    bool hit = svm_icpt_bit(v, (unsigned)code);
    map_bits m;
    if (refine == SVMX_SVM_REFINE_CR0_WRITE) {
        /* 15.9 Table 15-7: the plain or the selective CR0 write. */
        uint64_t c = svm_cr0_write_exit(v, cpu->sregs.cr0, in->value,
                                        in->flags & SVMX_EXIT_LMSW);
        hit = c != 0;
        code = hit ? c : code;
    } else if (hit && map_locate(v, refine, in, &m)) {
        /* Two bytes whatever the bits' span (map_span): the second may
         * be unused, and only a map at RAM's end goes the long way. */
        if (!map_in_ram(&cpu->mem, m.pa, 2))
            return route_pure(cpu, in, d);
        unsigned bits = (unsigned)le_load(cpu->mem.ram + m.pa, 2);
        hit = (bits >> m.shift) & m.mask;
    }
    fast_decide(cpu, in, d, code, hit);
    return SVMX_OK;
}

svmx_status svmx_route(svmx_cpu *cpu, const svmx_exit *exit,
                       svmx_decision *decision)
{
    if (!cpu || !exit || !decision)
        return SVMX_E_ARG;
    uint64_t code = exit->code;
    if (code >= NESTED_SVM_DENSE || !cpu->svm.guest ||
        cpu->nested.wants[SVMX_LEVEL_L2])
        return route_pure(cpu, exit, decision);
    unsigned refine = nested_svm_refine[code];
    if (refine)
        return route_refined(cpu, exit, decision, refine);
    /* No refine step: the bit decides. */
    fast_decide(cpu, exit, decision, code,
                svm_icpt_bit(&cpu->svm.vmcb, (unsigned)code));
    return SVMX_OK;
}

svmx_status svmx_cpu_set_route_hook(svmx_cpu *cpu, svmx_route_hook hook,
                                    void *opaque)
{
    if (!cpu)
        return SVMX_E_ARG;
    cpu->nested.hook = hook;
    cpu->nested.hook_opaque = hook ? opaque : NULL;
    return SVMX_OK;
}

cpu_res nested_l0_stop(svmx_cpu *cpu, const svmx_exit *x)
{
    svmx_stop_reason why = x->kind == SVMX_EVENT_HYPERCALL
                               ? SVMX_STOP_HYPERCALL : SVMX_STOP_L0_EXIT;
    cpu_res r = exec_stop(cpu, why, why == SVMX_STOP_HYPERCALL
                                        ? "hypercall for the L0 policy"
                                        : "event for the L0 policy");
    /* The event waits for svmx_cpu_complete() only if this stop reports
     * it; under another stop reason the instruction has not run and
     * meets the policy again next time. */
    if (cpu->stop && cpu->stop->reason == why) {
        cpu->stop->exit = *x;
        cpu->nested.l0_pending = true;
        cpu->nested.l0_exit = *x;
    }
    return r;
}
