/*
 * tests/fuzz/fuzz_route.c - libFuzzer entry point for the nested router
 * (svmx_route, docs/router.md). The input is a machine and a list of
 * events:
 *
 *   - the vendor (mostly AMD), which RAM (a whole number of pages, or one
 *     that ends inside a page) and whether an MMIO handler exists;
 *   - vmcb12's intercept vectors, its MSRPM and IOPM base addresses (in
 *     RAM, at the end of RAM so that a map is cut off, beyond RAM, or any
 *     64-bit value), the bytes of both maps, L2's CR0;
 *   - two L0 policies, one set before L1 runs and one after, either of
 *     which may be invalid (then svmx_cpu_set_policy must say SVMX_E_ARG
 *     and change nothing);
 *   - a list of svmx_exit records with any code, known or not, negative
 *     or not, and any info fields, index, size, value and flags.
 *
 * On AMD, L1 executes VMRUN for real and L2 spins, so the CPU ends in
 * guest mode - or at L1, when VMRUN failed its consistency checks (or
 * L2 exited). Then every record goes through svmx_route, and each
 * decision is checked against a reference written here from the public
 * helpers of svm.h (svmx_svm_intercepted and the refine helpers, applied
 * to the VMCB bytes this file wrote, with the feature-gated intercepts
 * that VMRUN drops decided from the personality's CPUID) and from
 * docs/router.md for the rules and the L0 policy. ASan and UBSan watch
 * every map read: RAM is allocated to its exact size.
 *
 * A mismatch prints what was routed, what was expected and what came
 * back, then abort()s so that libFuzzer keeps the input.
 *
 * Two decisions pinned by docs/router.md: the negative exit codes
 * (VMEXIT_INVALID, BUSY ...) are VMRUN's answers, never reflected; and on
 * the Intel personality exit.code is the VMX basic exit reason, the
 * record kept as given.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svmx/svmx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ------------------------------------------------------------ machine -- */

#define RAM_PAGES   0x40000u               /* 256 KiB                    */
#define RAM_ODD     (RAM_PAGES + 0x801u)   /* ends inside a page         */
#define PT          0x10000u               /* PML4, PDPT, PD             */
#define VMCB_PA     0x20000u
#define HSAVE_PA    0x21000u
#define L1_CODE     0x30000u
#define L2_CODE     0x31000u
#define L1_STACK    0x3f000u
#define L2_STACK    0x3e000u
#define MSR_EFER    0xc0000080u
#define MSR_HSAVE   0xc0010117u
#define EFER_LM     0x500ull               /* LME | LMA                  */
#define EFER_SVME   0x1000ull
#define CR0_L2      0x80000011ull          /* PG | ET | PE               */
#define MAX_RECORDS 64u
#define BUDGET      50u

/* EXITCODE as written before VMRUN: still there means no #VMEXIT. */
#define SENTINEL    0x5e5e5e5e5e5e5e5eull

/* The MMIO handler's behaviour for one input (svmx_io_ops.ctx). */
typedef struct mmio_state {
    uint32_t    seed;
    uint8_t     fill;       /* 0: 0x00, 1: 0xff, else a hash of the gpa */
    uint8_t     fail;       /* 0 never, 1 some bytes, 2 every byte,
                               3 the bytes of odd pages                 */
    svmx_status status;     /* what a failing read returns              */
} mmio_state;

static mmio_state mmio;

static uint32_t hash32(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return (uint32_t)x;
}

static bool mmio_fails(const mmio_state *m, uint64_t gpa)
{
    switch (m->fail) {
    case 0:  return false;
    case 1:  return (hash32(gpa ^ m->seed ^ 0x9e3779b9u) & 7u) == 0;
    case 2:  return true;
    default: return (gpa >> 12) & 1;
    }
}

static uint8_t mmio_byte(const mmio_state *m, uint64_t gpa)
{
    switch (m->fill) {
    case 0:  return 0;
    case 1:  return 0xff;
    default: return (uint8_t)hash32(gpa ^ ((uint64_t)m->seed << 32));
    }
}

/* Each byte's value and failure depend on its address only, so however
 * svmx splits a read, the router and the reference see the same. */
static svmx_status mmio_read(void *ctx, uint64_t gpa, unsigned size,
                             uint64_t *value)
{
    const mmio_state *m = ctx;
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++) {
        if (mmio_fails(m, gpa + i))
            return m->status;
        v |= (uint64_t)mmio_byte(m, gpa + i) << (8 * i);
    }
    *value = v;
    return SVMX_OK;
}

static const svmx_io_ops io_ops = { .ctx = &mmio, .mmio_read = mmio_read };

/* CPUs by vendor, RAM variant and handler, made once; the two RAMs are
 * allocated to their exact sizes so that ASan sees any read past them. */
static svmx_cpu *cpus[2][2][2];
static uint8_t *rams[2];
static const uint64_t ram_sizes[2] = { RAM_PAGES, RAM_ODD };

static svmx_cpu *get_cpu(unsigned vendor, unsigned ramv, unsigned io)
{
    if (!rams[ramv] && !(rams[ramv] = malloc(ram_sizes[ramv])))
        abort();
    if (!cpus[vendor][ramv][io]) {
        svmx_config cfg = {
            .vendor = vendor ? SVMX_VENDOR_INTEL : SVMX_VENDOR_AMD,
            .ram = rams[ramv], .ram_size = ram_sizes[ramv],
            .io = io ? &io_ops : NULL,
        };
        if (svmx_cpu_create(&cfg, &cpus[vendor][ramv][io]) != SVMX_OK)
            abort();
    }
    return cpus[vendor][ramv][io];
}

/* ------------------------------------------------------------- input -- */

typedef struct reader {
    const uint8_t *p;
    size_t         n;
} reader;

static uint8_t rd8(reader *r)
{
    if (!r->n)
        return 0;
    r->n--;
    return *r->p++;
}

static uint64_t rdn(reader *r, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v |= (uint64_t)rd8(r) << (8 * i);
    return v;
}

/* --------------------------------------------------------- the policy -- */

#define EVENT_BITS (SVMX_L0_HLT | SVMX_L0_PAUSE | SVMX_L0_INVD |              \
                    SVMX_L0_WBINVD | SVMX_L0_HYPERCALL | SVMX_L0_SHUTDOWN)

/* Range starts near the values the records use (MSR ranges, hypervisor
 * CPUID leaves), or anywhere. */
static uint32_t near(uint32_t raw, const uint32_t bases[4])
{
    unsigned sel = raw >> 30;
    return sel == 3 ? raw : bases[sel] + (raw & 0x3fffu);
}

static const uint32_t msr_bases[4] = { 0, 0xc0000000u, 0xc0010000u, 0 };
static const uint32_t leaf_bases[4] = { 0, 0x40000000u, 0x80000000u, 0 };

static unsigned count_of(reader *r, unsigned nibble)
{
    if (nibble <= 8)
        return nibble;
    if (nibble < 15)
        return nibble - 9;
    return 9 + rd8(r) % 247u; /* too many: refused */
}

static void ranges_of(reader *r, svmx_range *out, unsigned n, int list)
{
    if (n > SVMX_POLICY_RANGES)
        n = SVMX_POLICY_RANGES; /* the rest is never read */
    for (unsigned i = 0; i < n; i++) {
        uint32_t raw = (uint32_t)rdn(r, 4);
        uint32_t span = (uint32_t)rdn(r, 2);
        uint32_t first = list == 0   ? raw & 0x1ffffu         /* ports */
                         : list == 3 ? near(raw, leaf_bases)
                                     : near(raw, msr_bases);
        /* 0xffff: first - 1, refused unless first is 0; a sum that wraps
         * is refused too. */
        out[i].first = first;
        out[i].last = span == 0xffffu ? first - 1 : first + span;
    }
}

static void level_of(reader *r, svmx_policy_level *l)
{
    static const uint32_t bits[6] = {
        SVMX_L0_HLT, SVMX_L0_PAUSE, SVMX_L0_INVD, SVMX_L0_WBINVD,
        SVMX_L0_HYPERCALL, SVMX_L0_SHUTDOWN,
    };
    uint8_t e = rd8(r);
    memset(l, 0, sizeof *l);
    for (unsigned i = 0; i < 6; i++)
        if (e & (1u << i))
            l->events |= bits[i];
    if (e & 0x40)
        l->events |= 1u << (rd8(r) % 32); /* maybe a bit no kind has */
    uint16_t c = (uint16_t)rdn(r, 2);
    unsigned n[4];
    for (unsigned i = 0; i < 4; i++)
        n[i] = count_of(r, (c >> (4 * i)) & 0xfu);
    l->nports = (uint8_t)n[0];
    l->nmsr_read = (uint8_t)n[1];
    l->nmsr_write = (uint8_t)n[2];
    l->ncpuid = (uint8_t)n[3];
    ranges_of(r, l->ports, n[0], 0);
    ranges_of(r, l->msr_read, n[1], 1);
    ranges_of(r, l->msr_write, n[2], 2);
    ranges_of(r, l->cpuid, n[3], 3);
}

/* docs/router.md "The L0 policy": the reasons for SVMX_E_ARG. */
static bool ranges_valid(const svmx_range *r, unsigned n)
{
    if (n > SVMX_POLICY_RANGES)
        return false;
    for (unsigned i = 0; i < n; i++)
        if (r[i].first > r[i].last)
            return false;
    return true;
}

static bool level_valid(const svmx_policy_level *l)
{
    return !(l->events & ~(uint32_t)EVENT_BITS) &&
           ranges_valid(l->ports, l->nports) &&
           ranges_valid(l->msr_read, l->nmsr_read) &&
           ranges_valid(l->msr_write, l->nmsr_write) &&
           ranges_valid(l->cpuid, l->ncpuid);
}

static bool policy_valid(const svmx_policy *p)
{
    return level_valid(&p->l1) && level_valid(&p->l2) &&
           !(p->l2.events & SVMX_L0_HYPERCALL);
}

/* ------------------------------------------------------------ reports -- */

static const svmx_exit *cur_exit;   /* the record being checked */
static unsigned cur_index;

static void fail(const char *what, unsigned long long want,
                 unsigned long long got)
{
    fprintf(stderr, "fuzz_route: %s: expected %#llx, got %#llx", what, want,
            got);
    if (cur_exit)
        fprintf(stderr, "\n  record %u: code %#llx (%s) info1 %#llx "
                "value %#llx index %#x size %u flags %#x",
                cur_index, (unsigned long long)cur_exit->code,
                svmx_svm_exit_name(cur_exit->code),
                (unsigned long long)cur_exit->info1,
                (unsigned long long)cur_exit->value, cur_exit->index,
                cur_exit->size, cur_exit->flags);
    fprintf(stderr, "\n");
    abort();
}

#define CHECK_EQ(what, want, got)                                             \
    do {                                                                      \
        unsigned long long w_ = (unsigned long long)(want);                   \
        unsigned long long g_ = (unsigned long long)(got);                    \
        if (w_ != g_)                                                         \
            fail(what, w_, g_);                                               \
    } while (0)

static void set_policy(svmx_cpu *cpu, reader *r, svmx_policy *now)
{
    uint8_t mode = rd8(r);
    if (mode == 0)
        return;
    svmx_policy p, before, after;
    memset(&p, 0, sizeof p);
    if (mode != 1) {
        level_of(r, &p.l1);
        level_of(r, &p.l2);
    }
    bool valid = policy_valid(&p);
    if (svmx_cpu_get_policy(cpu, &before) != SVMX_OK)
        abort();
    svmx_status st = svmx_cpu_set_policy(cpu, mode == 1 ? NULL : &p);
    CHECK_EQ("svmx_cpu_set_policy status", valid ? SVMX_OK : SVMX_E_ARG, st);
    if (svmx_cpu_get_policy(cpu, &after) != SVMX_OK)
        abort();
    if (!valid) {
        CHECK_EQ("a refused policy changed the policy", 0,
                 memcmp(&before, &after, sizeof before) != 0);
        return;
    }
    *now = p;
    /* The policy read back is the one set, within its counts. */
    const svmx_policy_level *set[2] = { &p.l1, &p.l2 };
    const svmx_policy_level *got[2] = { &after.l1, &after.l2 };
    for (unsigned i = 0; i < 2; i++) {
        const svmx_policy_level *a = set[i], *b = got[i];
        CHECK_EQ("get_policy events", a->events, b->events);
        CHECK_EQ("get_policy counts",
                 (unsigned)a->nports << 24 | (unsigned)a->nmsr_read << 16 |
                 (unsigned)a->nmsr_write << 8 | a->ncpuid,
                 (unsigned)b->nports << 24 | (unsigned)b->nmsr_read << 16 |
                 (unsigned)b->nmsr_write << 8 | b->ncpuid);
        CHECK_EQ("get_policy ranges", 0,
                 memcmp(a->ports, b->ports, a->nports * sizeof a->ports[0]) ||
                 memcmp(a->msr_read, b->msr_read,
                        a->nmsr_read * sizeof a->msr_read[0]) ||
                 memcmp(a->msr_write, b->msr_write,
                        a->nmsr_write * sizeof a->msr_write[0]) ||
                 memcmp(a->cpuid, b->cpuid, a->ncpuid * sizeof a->cpuid[0]));
    }
}

/* ----------------------------------------------------- the reference -- */

/* The kinds of docs/router.md "The L0 policy", from the SVM exit code
 * (the router's names for events on both personalities); IOIO TYPE and
 * the MSR direction are EXITINFO1 bit 0 (APM Vol. 2 15.10.2, 15.11). */
static unsigned ref_kind(uint64_t code, uint64_t info1)
{
    switch (code) {
    case SVMX_SVM_EXIT_CPUID:    return SVMX_EVENT_CPUID;
    case SVMX_SVM_EXIT_MSR:      return info1 & 1 ? SVMX_EVENT_WRMSR
                                                  : SVMX_EVENT_RDMSR;
    case SVMX_SVM_EXIT_IOIO:     return info1 & 1 ? SVMX_EVENT_IN
                                                  : SVMX_EVENT_OUT;
    case SVMX_SVM_EXIT_HLT:      return SVMX_EVENT_HLT;
    case SVMX_SVM_EXIT_PAUSE:    return SVMX_EVENT_PAUSE;
    case SVMX_SVM_EXIT_INVD:     return SVMX_EVENT_INVD;
    case SVMX_SVM_EXIT_WBINVD:   return SVMX_EVENT_WBINVD;
    case SVMX_SVM_EXIT_VMMCALL:  return SVMX_EVENT_HYPERCALL;
    case SVMX_SVM_EXIT_SHUTDOWN: return SVMX_EVENT_SHUTDOWN;
    default:                     return SVMX_EVENT_OTHER;
    }
}

/* The kinds of the VMX basic exit reasons (SDM Vol. 3C appendix C; the
 * I/O qualification's bit 3 is the direction, 1 = IN). */
static unsigned ref_vmx_kind(uint64_t reason, uint64_t qual)
{
    switch (reason) {
    case 2:  return SVMX_EVENT_SHUTDOWN;
    case 10: return SVMX_EVENT_CPUID;
    case 12: return SVMX_EVENT_HLT;
    case 13: return SVMX_EVENT_INVD;
    case 18: return SVMX_EVENT_HYPERCALL;
    case 30: return qual & 8 ? SVMX_EVENT_IN : SVMX_EVENT_OUT;
    case 31: return SVMX_EVENT_RDMSR;
    case 32: return SVMX_EVENT_WRMSR;
    case 40: return SVMX_EVENT_PAUSE;
    case 54: return SVMX_EVENT_WBINVD;
    default: return SVMX_EVENT_OTHER;
    }
}

static bool any_range(const svmx_range *r, unsigned n, uint64_t lo,
                      uint64_t hi)
{
    for (unsigned i = 0; i < n; i++)
        if (lo <= r[i].last && hi >= r[i].first)
            return true;
    return false;
}

/*
 * Whether policy level `l` wants the event (docs/router.md): I/O when any
 * port the access touches (port .. port + size - 1) is in a range, MSRs
 * and CPUID by index, whole events by bit, the hypercall only from L1.
 * *defined is always true now that the docs say how every record reads.
 */
static bool ref_wants(const svmx_policy_level *l, unsigned level,
                      unsigned kind, const svmx_exit *x, bool *defined)
{
    *defined = true;
    switch (kind) {
    case SVMX_EVENT_OTHER:
        return false;
    case SVMX_EVENT_CPUID:
        return any_range(l->cpuid, l->ncpuid, x->index, x->index);
    case SVMX_EVENT_RDMSR:
        return any_range(l->msr_read, l->nmsr_read, x->index, x->index);
    case SVMX_EVENT_WRMSR:
        return any_range(l->msr_write, l->nmsr_write, x->index, x->index);
    case SVMX_EVENT_IN:
    case SVMX_EVENT_OUT:
        /* A 16-bit port; sizes 1, 2, else 4 (docs/router.md). */
        return any_range(l->ports, l->nports, x->index & 0xffffu,
                         (x->index & 0xffffu) +
                             (x->size == 1 || x->size == 2 ? x->size : 4) - 1);
    case SVMX_EVENT_HYPERCALL:
        return level == SVMX_LEVEL_L1 && (l->events & SVMX_L0_HYPERCALL);
    default:
        return (l->events >> kind) & 1;
    }
}

/*
 * Intercepts that exist only with a feature (APM Vol. 2 Table B-1 and the
 * instructions' pages in Vol. 3): VMRUN keeps them only when the
 * personality advertises it (src/svm/intercept.c, routing-rules.md 1.1).
 * Written here from the manuals' CPUID bits, not from that table.
 */
typedef struct gated {
    uint16_t first, last;       /* intercept numbers, inclusive */
    uint32_t leaf;
    uint8_t  reg;               /* 0 EAX, 1 EBX, 2 ECX, 3 EDX   */
    uint8_t  bit;
} gated;

static const gated gates[] = {
    { SVMX_SVM_INTERCEPT_SKINIT, SVMX_SVM_INTERCEPT_SKINIT,
      0x80000001u, 2, 12 },                               /* SKINIT       */
    { SVMX_SVM_INTERCEPT_RDTSCP, SVMX_SVM_INTERCEPT_RDTSCP,
      0x80000001u, 3, 27 },                               /* RDTSCP       */
    { SVMX_SVM_INTERCEPT_MONITOR, SVMX_SVM_INTERCEPT_MWAIT_CONDITIONAL,
      0x00000001u, 2, 3 },                                /* MONITOR      */
    { SVMX_SVM_INTERCEPT_XSETBV, SVMX_SVM_INTERCEPT_XSETBV,
      0x00000001u, 2, 26 },                               /* XSAVE        */
    { SVMX_SVM_INTERCEPT_RDPRU, SVMX_SVM_INTERCEPT_RDPRU,
      0x80000008u, 1, 4 },                                /* RDPRU        */
    { SVMX_SVM_INTERCEPT_EFER_WRITE_TRAP, SVMX_SVM_INTERCEPT_CR_WRITE_TRAP(15),
      0x8000001fu, 0, 3 },                                /* SEV-ES       */
    { SVMX_SVM_INTERCEPT_INVLPGB, SVMX_SVM_INTERCEPT_INVLPGB_ILLEGAL,
      0x80000008u, 1, 3 },                                /* INVLPGB      */
    { SVMX_SVM_INTERCEPT_INVPCID, SVMX_SVM_INTERCEPT_INVPCID,
      0x00000007u, 1, 10 },                               /* INVPCID      */
    { SVMX_SVM_INTERCEPT_MCOMMIT, SVMX_SVM_INTERCEPT_MCOMMIT,
      0x80000008u, 1, 8 },                                /* MCOMMIT      */
    { SVMX_SVM_INTERCEPT_TLBSYNC, SVMX_SVM_INTERCEPT_TLBSYNC,
      0x80000008u, 1, 3 },                                /* INVLPGB      */
    { SVMX_SVM_INTERCEPT_BUS_LOCK, SVMX_SVM_INTERCEPT_BUS_LOCK,
      0x8000000au, 3, 29 },                               /* bus-lock thr. */
    { SVMX_SVM_INTERCEPT_IDLE_HLT, SVMX_SVM_INTERCEPT_IDLE_HLT,
      0x8000000au, 3, 30 },                               /* idle HLT     */
};

static bool cpuid_bit(const svmx_cpu *cpu, uint32_t leaf, unsigned reg,
                      unsigned bit)
{
    svmx_cpuid_result id;
    uint32_t max = leaf & 0x80000000u ? 0x80000000u : 0;
    if (svmx_cpu_cpuid(cpu, max, 0, &id) != SVMX_OK || leaf > id.eax)
        return false; /* past the highest leaf: not there */
    if (svmx_cpu_cpuid(cpu, leaf, 0, &id) != SVMX_OK)
        return false;
    const uint32_t r[4] = { id.eax, id.ebx, id.ecx, id.edx };
    return (r[reg] >> bit) & 1;
}

/* vmcb12 as L1 wrote it, less what VMRUN drops. */
static void reduce(const svmx_cpu *cpu, svmx_vmcb *v)
{
    for (size_t i = 0; i < sizeof gates / sizeof gates[0]; i++) {
        if (cpuid_bit(cpu, gates[i].leaf, gates[i].reg, gates[i].bit))
            continue;
        for (unsigned n = gates[i].first; n <= gates[i].last; n++)
            svmx_svm_intercept_set(v, n, false);
    }
    /* Word 5 past IDLE_HLT holds no intercept (Table B-1). */
    for (unsigned n = SVMX_SVM_INTERCEPT_IDLE_HLT + 1;
         n < SVMX_SVM_INTERCEPT_COUNT; n++)
        svmx_svm_intercept_set(v, n, false);
}

/*
 * Whether vmcb12 intercepts an event of L2 (APM Vol. 2 15.9-15.14,
 * appendix C), and with which exit in *code, with only the public
 * helpers: the row's bit, then its refine step. *st is the map read's
 * status. (A bool, not a sentinel code: every 64-bit value is a code.)
 */
static bool ref_l1_exit(const svmx_cpu *cpu, const svmx_vmcb *v,
                        uint64_t old_cr0, const svmx_exit *x, uint64_t *code,
                        svmx_status *st)
{
    const svmx_svm_exit_info *e = svmx_svm_exit_info_of(x->code);
    const svmx_mem *mem = svmx_cpu_mem(cpu);
    bool hit = false;
    *st = SVMX_OK;
    *code = x->code;
    if (!e || (int64_t)x->code < 0)
        return false; /* not an exit code of Table C-1, or VMRUN's own */
    switch (e->refine) {
    case SVMX_SVM_REFINE_CR0_WRITE:
        /* Both CR0 codes are a CR0 write: Table 15-7 picks the exit. */
        return svmx_svm_cr0_write_intercepted(v, old_cr0, x->value,
                                              x->flags & SVMX_EXIT_LMSW, code);
    case SVMX_SVM_REFINE_EXCEPTION:
        hit = svmx_svm_intercepted(v, x->code) &&
              svmx_svm_exception_intercepted(v,
                  (unsigned)(x->code - SVMX_SVM_EXIT_EXCP0));
        break;
    case SVMX_SVM_REFINE_IOPM:
        if (svmx_svm_intercepted(v, x->code))
            *st = svmx_svm_iopm_read(mem,
                                     svmx_vmcb_get(v, SVMX_VMCB_IOPM_BASE_PA),
                                     (uint16_t)x->index, x->size, &hit);
        break;
    case SVMX_SVM_REFINE_MSRPM:
        if (svmx_svm_intercepted(v, x->code))
            *st = svmx_svm_msrpm_read(mem,
                                      svmx_vmcb_get(v, SVMX_VMCB_MSRPM_BASE_PA),
                                      x->index, x->info1 & 1, &hit);
        break;
    default:
        hit = svmx_svm_intercepted(v, x->code);
        break;
    }
    return hit;
}

/* ------------------------------------------------------------ records -- */

static const uint64_t picks[] = {
    SVMX_SVM_EXIT_CR0_WRITE, SVMX_SVM_EXIT_CR0_SEL_WRITE, SVMX_SVM_EXIT_IOIO,
    SVMX_SVM_EXIT_MSR, SVMX_SVM_EXIT_VMMCALL, SVMX_SVM_EXIT_CPUID,
    SVMX_SVM_EXIT_SHUTDOWN, SVMX_SVM_EXIT_HLT, SVMX_SVM_EXIT_PAUSE,
    SVMX_SVM_EXIT_INVD, SVMX_SVM_EXIT_WBINVD, SVMX_SVM_EXIT_EXCP(6),
    SVMX_SVM_EXIT_EXCP(14), SVMX_SVM_EXIT_VMRUN, SVMX_SVM_EXIT_RDPRU,
    SVMX_SVM_EXIT_IDLE_HLT, SVMX_SVM_EXIT_EFER_WRITE_TRAP,
    SVMX_SVM_EXIT_NPF, SVMX_SVM_EXIT_AVIC_INCOMPLETE_IPI,
    SVMX_SVM_EXIT_AVIC_NOACCEL, SVMX_SVM_EXIT_VMGEXIT,
    (uint64_t)SVMX_SVM_EXIT_INVALID, (uint64_t)SVMX_SVM_EXIT_BUSY,
    (uint64_t)SVMX_SVM_EXIT_IDLE_REQUIRED, (uint64_t)SVMX_SVM_EXIT_INVALID_PMC,
    0xa7, 0xbf, 0xc0, 0x3ff, 0x404, 0x80000000u, 0xfffffffbull,
    (uint64_t)-5,
};

/*
 * One record: code selector, a mode byte, EXITINFO1, value, index, size,
 * flags and 8 bytes spread over the fields the router only carries.
 */
static void record_of(reader *r, svmx_exit *x, uint64_t cr0, uint64_t efer,
                      const svmx_policy_level *pl)
{
    uint8_t c = rd8(r), mode = rd8(r);
    memset(x, 0, sizeof *x);
    if (c <= SVMX_SVM_EXIT_IDLE_HLT)
        x->code = c;
    else if (c < 0xf0)
        x->code = picks[(c - SVMX_SVM_EXIT_IDLE_HLT - 1) %
                         (sizeof picks / sizeof picks[0])];
    else
        x->code = rdn(r, 8);
    x->info1 = rdn(r, 8);
    uint64_t value = rdn(r, 8);
    uint32_t index = (uint32_t)rdn(r, 4);
    x->size = rd8(r);
    x->flags = rd8(r);
    uint64_t extra = rdn(r, 8);
    x->info2 = extra;
    x->intinfo = extra << 7 | extra >> 57;
    x->nrip = ~extra;
    x->subindex = (uint32_t)(extra >> 32);
    x->level = (uint8_t)(extra >> 8);  /* the router must not trust these */
    x->kind = (uint8_t)(extra >> 16);

    switch (mode & 3) {
    case 0: x->index = index; break;
    case 1: x->index = index & 0x3fffu; break;
    case 2: x->index = 0xc0000000u + (index & 0x3fffu); break;
    default: x->index = 0xc0010000u + (index & 0x3fffu); break;
    }
    if (mode & 0x40)
        x->index = MSR_EFER;
    if (mode & 0x80) {
        /* At an edge of one of the policy's ranges for this kind. */
        const svmx_range *list = pl->ports;
        unsigned n = pl->nports;
        if (x->code == SVMX_SVM_EXIT_MSR) {
            list = x->info1 & 1 ? pl->msr_write : pl->msr_read;
            n = x->info1 & 1 ? pl->nmsr_write : pl->nmsr_read;
        } else if (x->code == SVMX_SVM_EXIT_CPUID) {
            list = pl->cpuid;
            n = pl->ncpuid;
        }
        if (n) {
            const svmx_range *g = &list[index % n];
            switch ((index >> 8) & 3) {
            case 0: x->index = g->first - 1; break;
            case 1: x->index = g->first; break;
            case 2: x->index = g->last; break;
            default: x->index = g->last + 1; break;
            }
        }
    }
    if (mode & 4) {
        /* A well-formed IOIO record: EXITINFO1 with the port and the
         * one-hot size (15.10.2 Figure 15-2), index and size to match. */
        static const uint8_t sizes[3] = { 1, 2, 4 };
        x->index &= 0xffffu;
        x->size = sizes[x->size % 3];
        x->info1 = (x->info1 & ~0xffff0070ull) | (uint64_t)x->index << 16 |
                   (uint64_t)x->size << 4;
    }
    switch ((mode >> 3) & 3) {
    case 0: x->value = value; break;
    case 1: x->value = cr0 ^ (value & 0xff); break;       /* small flips */
    case 2: x->value = cr0 ^ (value & 0xa); break;        /* TS, MP only */
    default: x->value = efer ^ (value & EFER_SVME); break;
    }
}

/* ---------------------------------------------------- the AMD machine -- */

static void put64(uint8_t *ram, uint64_t pa, uint64_t v)
{
    memcpy(ram + pa, &v, 8);
}

static void seg(svmx_vmcb *v, svmx_vmcb_field at, uint16_t sel, uint16_t attr)
{
    svmx_vmcb_set(v, at, sel);
    svmx_vmcb_set(v, (svmx_vmcb_field)(at + 2), attr);
    svmx_vmcb_set(v, (svmx_vmcb_field)(at + 4), 0xffffffff);
}

/* A base address for a permission map of `pages` pages: in RAM, at the
 * end of RAM (cut off), beyond it, or any value. */
static uint64_t map_base(reader *r, uint64_t ram_size, unsigned pages)
{
    uint8_t m = rd8(r);
    uint64_t raw = rdn(r, 8);
    uint64_t last = ram_size & ~0xfffull; /* the page RAM ends in or at */
    switch (m & 3) {
    case 0:
        return (raw % (last / 0x1000 - pages)) * 0x1000 + (raw >> 52);
    case 1:
        return last - (m >> 2) % (pages + 1) * 0x1000;
    case 2:
        return last + (raw & 0xffffull) * 0x1000;
    default:
        return m & 4 ? raw : raw & 0xffffffffffffull; /* MAXPHYADDR 48 */
    }
}

/* The bytes of a map at `base`, as far as RAM goes. */
static void map_fill(reader *r, uint8_t *ram, uint64_t ram_size,
                     uint64_t base, unsigned len)
{
    uint8_t m = rd8(r);
    uint64_t x = rdn(r, 4) | 1; /* xorshift64 state, never 0 */
    base &= ~0xfffull;
    size_t n = base >= ram_size ? 0
               : ram_size - base < len ? (size_t)(ram_size - base) : len;
    if (n == 0) {
        /* nothing of it in RAM */
    } else if ((m & 3) < 2) {
        memset(ram + base, m & 1 ? 0xff : 0, n);
    } else {
        /* Random bits, one in two set, or one in four (m bit 2). */
        for (size_t i = 0; i < n; i += 8) {
            uint64_t w = 0;
            for (unsigned k = 0; k < (m & 4 ? 2u : 1u); k++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                w = k ? w & x : x;
            }
            memcpy(ram + base + i, &w, n - i < 8 ? n - i : 8);
        }
    }
    /* A few bytes exactly as the input says. */
    for (unsigned k = (m >> 4); k > 0; k--) {
        uint64_t at = base + rdn(r, 2) % len;
        uint8_t b = rd8(r);
        if (at < ram_size)
            ram[at] = b;
    }
}

/* L1 in 64-bit mode with SVME, flat segments, the first 2 MiB identity-
 * mapped, RIP on `vmrun; hlt`, RAX the VMCB. False if refused. */
static bool boot_l1(svmx_cpu *cpu, uint8_t *ram)
{
    svmx_sregs s;
    svmx_regs g;
    put64(ram, PT, (PT + 0x1000) | 3);
    put64(ram, PT + 0x1000, (PT + 0x2000) | 3);
    put64(ram, PT + 0x2000, 0x83);
    if (svmx_cpu_get_sregs(cpu, &s) != SVMX_OK)
        return false;
    for (int i = SVMX_ES; i <= SVMX_GS; i++)
        s.seg[i] = (svmx_segment){ .limit = 0xffffffff, .selector = 0x10,
                                   .attr = 0xc93 };
    s.seg[SVMX_CS] = (svmx_segment){ .limit = 0xffffffff, .selector = 0x08,
                                     .attr = 0xa9b };
    s.cr0 = CR0_L2;
    s.cr3 = PT;
    s.cr4 = 0x20;
    s.efer = EFER_LM;
    if (svmx_cpu_set_sregs(cpu, &s) != SVMX_OK ||
        svmx_cpu_set_msr(cpu, MSR_EFER, EFER_LM | EFER_SVME) != SVMX_OK ||
        svmx_cpu_set_msr(cpu, MSR_HSAVE, HSAVE_PA) != SVMX_OK)
        return false;
    memset(&g, 0, sizeof g);
    g.rip = L1_CODE;
    g.rflags = 2;
    g.gpr[SVMX_RSP] = L1_STACK;
    g.gpr[SVMX_RAX] = VMCB_PA;
    return svmx_cpu_set_regs(cpu, &g) == SVMX_OK;
}

/* L2's CR0: the usual one with harmless bits flipped, with CD/NW, any
 * 32-bit value, or any 64-bit value. */
static uint64_t l2_cr0(reader *r)
{
    uint8_t m = rd8(r);
    uint64_t raw = rdn(r, 8);
    switch (m & 3) {
    case 0:  return CR0_L2 ^ (raw & 0x5002eull); /* MP EM TS NE WP AM */
    case 1:  return CR0_L2 ^ (raw & 0x6005002eull);
    case 2:  return (raw & 0xffffffffull) | 0x80000001ull;
    default: return raw;
    }
}

/* ------------------------------------------------------------- driver -- */

/* Field by field: the struct has padding. */
static bool exit_eq(const svmx_exit *a, const svmx_exit *b)
{
    return a->code == b->code && a->info1 == b->info1 &&
           a->info2 == b->info2 && a->intinfo == b->intinfo &&
           a->nrip == b->nrip && a->value == b->value &&
           a->index == b->index && a->subindex == b->subindex &&
           a->level == b->level && a->kind == b->kind &&
           a->size == b->size && a->flags == b->flags;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reader in = { data, size };
    uint8_t head = rd8(&in);
    unsigned vendor = (head & 0x0f) == 0x0f; /* 1 in 16: Intel */
    unsigned ramv = (head >> 4) & 1;
    unsigned io = !((head >> 5) & 1);
    svmx_cpu *cpu = get_cpu(vendor, ramv, io);
    uint8_t *ram = rams[ramv];
    uint64_t ram_size = ram_sizes[ramv];
    uint8_t mm = rd8(&in);
    mmio = (mmio_state){
        .seed = (uint32_t)rdn(&in, 4), .fill = mm & 3,
        .fail = (mm >> 2) & 3,
        .status = mm & 0x10 ? SVMX_E_STATE : SVMX_E_UNSUPPORTED,
    };

    cur_exit = NULL;
    if (svmx_cpu_reset(cpu) != SVMX_OK ||
        svmx_cpu_set_policy(cpu, NULL) != SVMX_OK)
        abort();
    memset(ram, 0, ram_size);
    svmx_policy policy;
    memset(&policy, 0, sizeof policy);

    bool guest = false;
    svmx_vmcb v12;
    uint64_t cr0 = 0, efer = 0;
    memset(&v12, 0, sizeof v12);
    if (!vendor) {
        /* vmcb12: a 64-bit guest with L1's segments and page tables. */
        uint8_t vm = rd8(&in);
        for (unsigned w = 0; w < 6; w++)
            svmx_vmcb_set(&v12, (svmx_vmcb_field)(4 * w), rdn(&in, 4));
        if (!(vm & 1)) /* mostly a VMRUN that passes that check */
            svmx_svm_intercept_set(&v12, SVMX_SVM_INTERCEPT_VMRUN, true);
        svmx_vmcb_set(&v12, SVMX_VMCB_GUEST_ASID, vm & 2 ? 0 : 1);
        uint64_t msrpm = map_base(&in, ram_size, 2);
        uint64_t iopm = map_base(&in, ram_size, 3);
        svmx_vmcb_set(&v12, SVMX_VMCB_MSRPM_BASE_PA, msrpm);
        svmx_vmcb_set(&v12, SVMX_VMCB_IOPM_BASE_PA, iopm);
        svmx_vmcb_set(&v12, SVMX_VMCB_EXITCODE, SENTINEL);
        seg(&v12, SVMX_VMCB_CS_SELECTOR, 0x08, 0xa9b);
        seg(&v12, SVMX_VMCB_SS_SELECTOR, 0x10, 0xc93);
        seg(&v12, SVMX_VMCB_DS_SELECTOR, 0x10, 0xc93);
        seg(&v12, SVMX_VMCB_ES_SELECTOR, 0x10, 0xc93);
        svmx_vmcb_set(&v12, SVMX_VMCB_EFER, EFER_LM | EFER_SVME);
        svmx_vmcb_set(&v12, SVMX_VMCB_CR0, l2_cr0(&in));
        svmx_vmcb_set(&v12, SVMX_VMCB_CR3, PT);
        svmx_vmcb_set(&v12, SVMX_VMCB_CR4, 0x20);
        svmx_vmcb_set(&v12, SVMX_VMCB_DR6, 0xffff0ff0);
        svmx_vmcb_set(&v12, SVMX_VMCB_DR7, 0x400);
        svmx_vmcb_set(&v12, SVMX_VMCB_RFLAGS, 2);
        svmx_vmcb_set(&v12, SVMX_VMCB_RIP, L2_CODE);
        svmx_vmcb_set(&v12, SVMX_VMCB_RSP, L2_STACK);

        /* Maps first: the code, the VMCB and the page tables win where
         * a map overlaps them, and the reference reads RAM as it ends. */
        map_fill(&in, ram, ram_size, msrpm, SVMX_SVM_MSRPM_SIZE);
        map_fill(&in, ram, ram_size, iopm, SVMX_SVM_IOPM_SIZE);
        static const uint8_t l1[] = { 0x0f, 0x01, 0xd8, 0xf4 }; /* vmrun; hlt */
        static const uint8_t l2[] = { 0xeb, 0xfe };             /* jmp $ */
        memcpy(ram + L1_CODE, l1, sizeof l1);
        memcpy(ram + L2_CODE, l2, sizeof l2);
        memcpy(ram + VMCB_PA, v12.bytes, sizeof v12.bytes);
        if (!boot_l1(cpu, ram))
            abort(); /* a fixed, valid L1 state */

        svmx_svm_caps caps;
        svmx_svm_check_result chk;
        if (svmx_svm_caps_from_cpu(cpu, &caps) != SVMX_OK ||
            svmx_svm_vmrun_check(&v12, &caps, &chk) != SVMX_OK)
            abort();
        if (vm & 4)
            set_policy(cpu, &in, &policy); /* policy A, before the run */
        svmx_stop stop;
        if (svmx_cpu_run(cpu, BUDGET, &stop) != SVMX_OK)
            abort();
        uint64_t exitcode;
        memcpy(&exitcode, ram + VMCB_PA + SVMX_VMCB_EXITCODE, 8);
        if (chk.first != SVMX_SVM_CHECK_OK)
            CHECK_EQ("VMRUN that fails its checks: EXITCODE",
                     (uint64_t)SVMX_SVM_EXIT_INVALID, exitcode);
        else
            CHECK_EQ("VMRUN that passes its checks: VMEXIT_INVALID", 0,
                     exitcode == (uint64_t)SVMX_SVM_EXIT_INVALID);
        /* In guest mode: VMRUN entered and no #VMEXIT wrote vmcb12. */
        guest = chk.first == SVMX_SVM_CHECK_OK && exitcode == SENTINEL;
        reduce(cpu, &v12);
        svmx_sregs s;
        if (svmx_cpu_get_sregs(cpu, &s) != SVMX_OK)
            abort();
        cr0 = s.cr0;
        efer = s.efer;
        if (guest) {
            CHECK_EQ("L2's CR0 after VMRUN", svmx_vmcb_get(&v12, SVMX_VMCB_CR0),
                     cr0);
            CHECK_EQ("L2's EFER after VMRUN", EFER_LM | EFER_SVME, efer);
        }
    }
    set_policy(cpu, &in, &policy); /* policy B */

    svmx_cpuid_result svm_id = { 0 };
    if (!vendor && svmx_cpu_cpuid(cpu, 0x8000000au, 0, &svm_id) != SVMX_OK)
        abort();
    bool assists = svm_id.edx & SVMX_SVM_FEATURE_DECODE_ASSISTS;
    uint64_t digest0, digest1;
    if (svmx_cpu_digest(cpu, &digest0) != SVMX_OK)
        abort();

    unsigned level = guest ? SVMX_LEVEL_L2 : SVMX_LEVEL_L1;
    for (unsigned n = 0; n < MAX_RECORDS && in.n; n++) {
        svmx_exit x;
        svmx_decision d;
        record_of(&in, &x, cr0, efer, guest ? &policy.l2 : &policy.l1);
        cur_exit = &x;
        cur_index = n;
        memset(&d, 0xa5, sizeof d);
        svmx_status st = svmx_route(cpu, &x, &d);
        unsigned kind = vendor ? ref_vmx_kind(x.code, x.info1)
                               : ref_kind(x.code, x.info1);
        CHECK_EQ("level", level, d.exit.level);
        if (d.route >= SVMX_ROUTE_COUNT)
            fail("route outside svmx_route_kind (expected: below)",
                 SVMX_ROUTE_COUNT, d.route);
        if (d.rule >= SVMX_RULE_COUNT)
            fail("rule outside svmx_rule (expected: below)", SVMX_RULE_COUNT,
                 d.rule);

        if (guest) {
            svmx_status ref_st;
            uint64_t code;
            bool reflect = ref_l1_exit(cpu, &v12, cr0, &x, &code, &ref_st);
            CHECK_EQ("status", ref_st, st);
            if (st != SVMX_OK)
                continue; /* the decision is unspecified then */
            if (reflect) {
                CHECK_EQ("L1 intercepts it: route", SVMX_ROUTE_REFLECT,
                         d.route);
                CHECK_EQ("reflected code", code, d.exit.code);
                CHECK_EQ("rule of a REFLECT", SVMX_RULE_NONE, d.rule);
                if (assists)
                    CHECK_EQ("reflected EXITINFO1", x.info1, d.exit.info1);
            } else {
                if (d.route == SVMX_ROUTE_REFLECT)
                    fail("L1 does not intercept it: route (expected: not "
                         "REFLECT)", SVMX_ROUTE_ARCH, d.route);
                CHECK_EQ("code of an event not reflected", x.code,
                         d.exit.code);
                CHECK_EQ("EXITINFO1 of an event not reflected", x.info1,
                         d.exit.info1);
                unsigned rule = SVMX_RULE_NONE;
                if (kind == SVMX_EVENT_HYPERCALL)
                    rule = SVMX_RULE_R1;
                else if (kind == SVMX_EVENT_WRMSR && x.index == MSR_EFER &&
                         (efer & EFER_SVME) && !(x.value & EFER_SVME))
                    rule = SVMX_RULE_R2;
                else if (kind == SVMX_EVENT_SHUTDOWN)
                    rule = SVMX_RULE_L2_SHUTDOWN;
                if (rule == SVMX_RULE_R1) {
                    /* R1: #UD in L2 whatever the policy. */
                    CHECK_EQ("R1: L2 VMMCALL route", SVMX_ROUTE_ARCH, d.route);
                    CHECK_EQ("R1: L2 VMMCALL rule", SVMX_RULE_R1, d.rule);
                    continue;
                }
                bool defined;
                bool l0 = ref_wants(&policy.l2, SVMX_LEVEL_L2, kind, &x,
                                    &defined);
                if (defined)
                    CHECK_EQ("L0 step in L2: route",
                             l0 ? SVMX_ROUTE_L0 : SVMX_ROUTE_ARCH, d.route);
                CHECK_EQ("rule in L2", rule, d.rule);
            }
            CHECK_EQ("kind", kind, d.exit.kind);
        } else {
            CHECK_EQ("status at L1", SVMX_OK, st);
            CHECK_EQ("rule at L1", SVMX_RULE_NONE, d.rule);
            CHECK_EQ("kind", kind, d.exit.kind);
            if (kind == SVMX_EVENT_OTHER) {
                CHECK_EQ("L1 event no policy selects: route",
                         SVMX_ROUTE_ARCH, d.route);
            } else {
                bool defined;
                bool l0 = ref_wants(&policy.l1, SVMX_LEVEL_L1, kind, &x,
                                    &defined);
                if (kind == SVMX_EVENT_HYPERCALL)
                    CHECK_EQ("L1 VMMCALL is L0 iff the L1 policy has "
                             "SVMX_L0_HYPERCALL",
                             (policy.l1.events & SVMX_L0_HYPERCALL) ?
                                 SVMX_ROUTE_L0 : SVMX_ROUTE_ARCH, d.route);
                if (defined)
                    CHECK_EQ("L0 step at L1: route",
                             l0 ? SVMX_ROUTE_L0 : SVMX_ROUTE_ARCH, d.route);
                else if (d.route == SVMX_ROUTE_REFLECT)
                    fail("REFLECT at L1 (expected: ARCH or L0)",
                         SVMX_ROUTE_ARCH, d.route);
            }
            /* The record is the embedder's own, VMX's on Intel. */
            CHECK_EQ("code at L1", x.code, d.exit.code);
            CHECK_EQ("EXITINFO1 at L1", x.info1, d.exit.info1);
            CHECK_EQ("EXITINFO2 at L1", x.info2, d.exit.info2);
            CHECK_EQ("EXITINTINFO at L1", x.intinfo, d.exit.intinfo);
        }
        /* What the router carries, it carries unchanged. */
        CHECK_EQ("nrip", x.nrip, d.exit.nrip);
        CHECK_EQ("value", x.value, d.exit.value);
        CHECK_EQ("index", x.index, d.exit.index);
        CHECK_EQ("subindex", x.subindex, d.exit.subindex);
        CHECK_EQ("size", x.size, d.exit.size);
        CHECK_EQ("flags", x.flags, d.exit.flags);
        if (guest && d.route != SVMX_ROUTE_REFLECT) {
            CHECK_EQ("EXITINFO2", x.info2, d.exit.info2);
            CHECK_EQ("EXITINTINFO", x.intinfo, d.exit.intinfo);
        }

        /* The same question, the same answer. */
        svmx_decision d2;
        memset(&d2, 0x5a, sizeof d2);
        CHECK_EQ("second status", st, svmx_route(cpu, &x, &d2));
        if (st == SVMX_OK)
            CHECK_EQ("second decision differs", 0,
                     d.route != d2.route || d.rule != d2.rule ||
                     !exit_eq(&d.exit, &d2.exit));
    }
    cur_exit = NULL;

    /* svmx_route performs nothing. */
    if (svmx_cpu_digest(cpu, &digest1) != SVMX_OK)
        abort();
    CHECK_EQ("the state digest changed while routing", digest0, digest1);
    svmx_decision dn;
    svmx_exit xn = { .code = SVMX_SVM_EXIT_CPUID };
    CHECK_EQ("svmx_route(NULL cpu)", SVMX_E_ARG, svmx_route(NULL, &xn, &dn));
    CHECK_EQ("svmx_route(NULL exit)", SVMX_E_ARG, svmx_route(cpu, NULL, &dn));
    CHECK_EQ("svmx_route(NULL decision)", SVMX_E_ARG,
             svmx_route(cpu, &xn, NULL));
    return 0;
}
