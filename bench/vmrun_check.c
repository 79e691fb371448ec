/*
 * bench/vmrun_check.c - VMRUN consistency checks per second
 * (svmx_svm_vmrun_check), as a fuzzer that uses svmx as a validity oracle
 * calls it, over a corpus of valid and boundary-invalid VMCBs.
 *
 * The corpus: a valid 64-bit and a valid 32-bit guest VMCB, and for every
 * check of SVMX_SVM_CHECKS a pair - the boundary value that passes and the
 * value just past it that fails, one field apart (APM Vol. 2 15.5.1 and
 * the sections svmx/svm.h cites; tests/vectors/svm_check_cases.inc has
 * the same boundaries). Before any timing, each entry is run once and
 * must give its expected answer (first check, the failed set, the
 * reported field and value), and every check must have both a passing
 * and a failing entry; otherwise the program stops without figures. The
 * timed passes walk the corpus in a fixed pseudo-random order, so the
 * branch predictor cannot learn the sequence, as it could not from a
 * fuzzer's stream of mutated VMCBs.
 *
 * The baseline is the floor of any such oracle: it loads the 17 VMCB
 * fields the checks read (15 eight-byte loads, on the same cache lines),
 * folds them together and makes a result of the same shape, with no
 * checking at all. A memcmp against a reference VMCB would make a
 * flattering baseline (it reads 4 KiB the checks never touch); this one
 * says how close the checks come to the cost of merely reading their
 * input. So the ratio is below 1, and the nearer to 1 the better. For
 * scale the program also prints what copying one 4 KiB VMCB costs, which
 * a fuzzer pays for every mutated input.
 *
 * The headline:
 *   vmrun-check: V Mchecks/s; baseline: B Mchecks/s; ratio: V/B
 */
#define _POSIX_C_SOURCE 200809L
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svmx/svmx.h"

#include "bench_util.h"

/* The target. */
#define TARGET_MPS   20.0
/* Corpus walk: this many checks per pass, passes per round. */
#define SEQ_LEN      4096u
#define PASSES       100u
#define MAX_ENTRIES  64u

#define B(n)         (1ull << (n))
/* Architectural bits (APM Vol. 2 3.1, 4.7), as tests/test_svm_check.c. */
#define CR0_PE       B(0)
#define CR0_MP       B(1)
#define CR0_ET       B(4)
#define CR0_NE       B(5)
#define CR0_WP       B(16)
#define CR0_NW       B(29)
#define CR0_CD       B(30)
#define CR0_PG       B(31)
#define CR4_PAE      B(5)
#define CR4_PGE      B(7)
#define EFER_SCE     B(0)
#define EFER_LME     B(8)
#define EFER_LMA     B(10)
#define EFER_NXE     B(11)
#define EFER_SVME    B(12)
#define CS64_ATTR    0x29bu /* P S code RXA, L */
#define CS32_ATTR    0xc9bu /* P S code RXA, D, G */
#define DATA_ATTR    0xc93u /* P S data RWA, B, G */
#define TSS_ATTR     0x08bu
/* EVENTINJ: V | TYPE | VECTOR (15.20). */
#define EV(type, vec) (B(31) | (uint64_t)(type) << 8 | (uint64_t)(vec))

/* ------------------------------------------------------------ corpus -- */

enum base { G64, G32 };
enum caps_kind { CAPS_DEF, CAPS_NOLM, CAPS_NOHPG, CAPS_VNMI, CAPS_KINDS };

typedef struct entry {
    const char    *desc;
    svmx_svm_check check;   /* the check this entry is a boundary of     */
    svmx_svm_check expect;  /* OK, or `check`: the only one to fail      */
    enum caps_kind caps;
} entry;

static svmx_vmcb corpus[MAX_ENTRIES];
static entry entries[MAX_ENTRIES];
static size_t n_entries;
static svmx_svm_caps caps_tab[CAPS_KINDS];
static bool setup_failed;

static void set(svmx_vmcb *v, svmx_vmcb_field f, uint64_t value)
{
    if (svmx_vmcb_set(v, f, value) != SVMX_OK) {
        fprintf(stderr, "bench_vmrun_check: cannot set %s = %#llx\n",
                svmx_vmcb_field_name(f), (unsigned long long)value);
        setup_failed = true;
    }
}

/* The valid guests of tests/test_svm_check.c. */
static void build_base(svmx_vmcb *v, enum base b)
{
    memset(v, 0, sizeof *v);
    set(v, SVMX_VMCB_INTERCEPT_MISC2, 1); /* VMRUN */
    set(v, SVMX_VMCB_GUEST_ASID, 1);
    set(v, SVMX_VMCB_IOPM_BASE_PA, 0x10000);
    set(v, SVMX_VMCB_MSRPM_BASE_PA, 0x20000);
    set(v, SVMX_VMCB_G_PAT, 0x0007040600070406ull);
    set(v, SVMX_VMCB_DR6, 0xffff0ff0u);
    set(v, SVMX_VMCB_DR7, 0x400);
    set(v, SVMX_VMCB_RFLAGS, 2);
    set(v, SVMX_VMCB_TR_ATTRIB, TSS_ATTR);
    set(v, SVMX_VMCB_TR_LIMIT, 0x67);
    set(v, SVMX_VMCB_CS_SELECTOR, 0x08);
    set(v, SVMX_VMCB_CS_LIMIT, 0xffffffffu);
    set(v, SVMX_VMCB_SS_SELECTOR, 0x10);
    set(v, SVMX_VMCB_SS_ATTRIB, DATA_ATTR);
    set(v, SVMX_VMCB_SS_LIMIT, 0xffffffffu);
    if (b == G64) {
        set(v, SVMX_VMCB_EFER,
            EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE | EFER_SVME);
        set(v, SVMX_VMCB_CR0,
            CR0_PG | CR0_WP | CR0_NE | CR0_ET | CR0_MP | CR0_PE);
        set(v, SVMX_VMCB_CR3, 0x1000);
        set(v, SVMX_VMCB_CR4, CR4_PAE | CR4_PGE);
        set(v, SVMX_VMCB_CS_ATTRIB, CS64_ATTR);
        set(v, SVMX_VMCB_RIP, 0xffffffff80001000ull);
    } else {
        set(v, SVMX_VMCB_EFER, EFER_SVME);
        set(v, SVMX_VMCB_CR0, CR0_PG | CR0_ET | CR0_PE);
        set(v, SVMX_VMCB_CR3, 0x2000);
        set(v, SVMX_VMCB_CS_ATTRIB, CS32_ATTR);
        set(v, SVMX_VMCB_RIP, 0x100000);
    }
}

static svmx_vmcb *add(const char *desc, svmx_svm_check check,
                      svmx_svm_check expect, enum base b, enum caps_kind c)
{
    if (n_entries == MAX_ENTRIES) {
        fprintf(stderr, "bench_vmrun_check: corpus over %u entries\n",
                MAX_ENTRIES);
        setup_failed = true;
        return &corpus[MAX_ENTRIES - 1];
    }
    entries[n_entries] = (entry){ desc, check, expect, c };
    svmx_vmcb *v = &corpus[n_entries++];
    build_base(v, b);
    return v;
}

/*
 * One boundary pair: the base with `pre` applied (a field the check needs
 * set up, or FIELD_NONE), then `field` = `pass` (VMRUN accepts it) or
 * `fail` (only `check` fails).
 */
static void pair(const char *desc, svmx_svm_check check, enum base b,
                 enum caps_kind c, svmx_vmcb_field pre, uint64_t pre_value,
                 svmx_vmcb_field field, uint64_t pass, uint64_t fail)
{
    for (int k = 0; k < 2; k++) {
        svmx_vmcb *v = add(desc, check, k ? check : SVMX_SVM_CHECK_OK, b, c);
        if (pre != SVMX_VMCB_FIELD_NONE)
            set(v, pre, pre_value);
        set(v, field, k ? fail : pass);
    }
}

/* The lowest bit that is clear in mask. */
static uint64_t lowest_clear(uint64_t mask)
{
    return ~mask & (mask + 1);
}

static void build_corpus(void)
{
    const svmx_svm_caps *d = &caps_tab[CAPS_DEF];
    const unsigned m = d->maxphyaddr;
    const uint64_t top = B(m);                 /* 2^MAXPHYADDR */
    const uint64_t efer64 = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE |
                            EFER_SVME;
    const uint64_t cr0_64 = CR0_PG | CR0_WP | CR0_NE | CR0_ET | CR0_MP |
                            CR0_PE;
    const svmx_vmcb_field none = SVMX_VMCB_FIELD_NONE;

#define CHK(name) SVMX_SVM_CHECK_##name
#define F(name)   SVMX_VMCB_##name
    add("64-bit guest", CHK(OK), CHK(OK), G64, CAPS_DEF);
    add("32-bit guest", CHK(OK), CHK(OK), G32, CAPS_DEF);
    pair("EFER.SVME set / clear", CHK(EFER_SVME), G64, CAPS_DEF, none, 0,
         F(EFER), efer64, efer64 & ~EFER_SVME);
    pair("CR0.CD+NW / NW alone", CHK(CR0_CD_NW), G64, CAPS_DEF, none, 0,
         F(CR0), cr0_64 | CR0_CD | CR0_NW, cr0_64 | CR0_NW);
    pair("CR0 bit 31 / bit 32", CHK(CR0_HIGH), G64, CAPS_DEF, none, 0,
         F(CR0), cr0_64, cr0_64 | B(32));
    pair("CR3 bits M-1:12 / bit M", CHK(CR3_MBZ), G64, CAPS_DEF, none, 0,
         F(CR3), top - 0x1000, top);
    pair("CR3 bit 31 / bit 32 (32-bit)", CHK(CR3_MBZ), G32, CAPS_DEF, none,
         0, F(CR3), 0xfffff000u, B(32));
    pair("CR4 allowed / next bit", CHK(CR4_MBZ), G64, CAPS_DEF, none, 0,
         F(CR4), d->cr4_allowed,
         d->cr4_allowed | lowest_clear(d->cr4_allowed));
    pair("DR6 bits 31:0 / bit 32", CHK(DR6_HIGH), G64, CAPS_DEF, none, 0,
         F(DR6), 0xffffffffu, B(32) | 0xffffffffu);
    pair("DR7 bits 31:0 / bit 32", CHK(DR7_HIGH), G64, CAPS_DEF, none, 0,
         F(DR7), 0xffffffffu, B(32) | 0xffffffffu);
    pair("EFER allowed / next bit", CHK(EFER_MBZ), G64, CAPS_DEF, none, 0,
         F(EFER), d->efer_allowed,
         d->efer_allowed | lowest_clear(d->efer_allowed));
    pair("no long mode: SVME / +LMA", CHK(EFER_NO_LONG_MODE), G32,
         CAPS_NOLM, none, 0, F(EFER), EFER_SVME, EFER_SVME | EFER_LMA);
    pair("LME+PG: PAE / no PAE", CHK(LONG_NO_PAE), G64, CAPS_DEF, none, 0,
         F(CR4), CR4_PAE | CR4_PGE, CR4_PGE);
    pair("LME+PG: PE / no PE", CHK(LONG_NO_PE), G64, CAPS_DEF, none, 0,
         F(CR0), cr0_64, cr0_64 & ~CR0_PE);
    pair("CS.L / CS.L+D", CHK(LONG_CS_L_D), G64, CAPS_DEF, none, 0,
         F(CS_ATTRIB), CS64_ATTR, CS64_ATTR | SVMX_SEG_ATTR_DB);
    pair("VMRUN intercept set / clear", CHK(VMRUN_INTERCEPT), G64, CAPS_DEF,
         none, 0, F(INTERCEPT_MISC2), 0xffffffffu, 0xfffffffeu);
    pair("MSRPM last byte 2^M-0x1001 / 2^M-1", CHK(MSRPM_BASE), G64,
         CAPS_DEF, none, 0, F(MSRPM_BASE_PA),
         top - SVMX_SVM_MSRPM_SIZE - 0x1000, top - SVMX_SVM_MSRPM_SIZE);
    pair("IOPM last byte 2^M-0x1001 / 2^M-1", CHK(IOPM_BASE), G64,
         CAPS_DEF, none, 0, F(IOPM_BASE_PA),
         top - SVMX_SVM_IOPM_SIZE - 0x1000, top - SVMX_SVM_IOPM_SIZE);
    pair("EVENTINJ TYPE 4 / 5", CHK(EVENTINJ_TYPE), G64, CAPS_DEF, none, 0,
         F(EVENTINJ), EV(4, 0x80), EV(5, 0x80));
    pair("exception vector 30 / 31", CHK(EVENTINJ_VECTOR), G64, CAPS_DEF,
         none, 0, F(EVENTINJ), EV(3, 30), EV(3, 31));
    pair("64-bit: #BP / #OF", CHK(EVENTINJ_MODE), G64, CAPS_DEF, none, 0,
         F(EVENTINJ), EV(3, 3), EV(3, 4));
    pair("ASID 1 / 0", CHK(ASID_ZERO), G64, CAPS_DEF, none, 0,
         F(GUEST_ASID), 1, 0);
    pair("host CR0.PG clear: NP off / on", CHK(NP_HOST_PAGING), G64,
         CAPS_NOHPG, none, 0, F(NP_ENABLE), 0, SVMX_VMCB_NP_ENABLE_BIT);
    pair("NP: nCR3 bits M-1:12 / bit M", CHK(NCR3_MBZ), G64, CAPS_DEF,
         F(NP_ENABLE), SVMX_VMCB_NP_ENABLE_BIT, F(N_CR3), top - 0x1000, top);
    pair("NP: PAT entry 0 UC- / 8", CHK(G_PAT), G64, CAPS_DEF, F(NP_ENABLE),
         SVMX_VMCB_NP_ENABLE_BIT, F(G_PAT), 0x0007040600070407ull,
         0x0007040600070408ull);
    pair("vNMI: NMI intercept set / clear", CHK(VNMI_INTERCEPT), G64,
         CAPS_VNMI, F(V_INTR_MASKING), SVMX_VMCB_V_NMI_ENABLE_BIT,
         F(INTERCEPT_MISC1), B(1), 0);
#undef F
#undef CHK
}

/*
 * Each entry gives its expected answer, and every check of the list has a
 * passing and a failing entry. Prints what is wrong; false if anything is.
 */
static bool verify_corpus(void)
{
    bool ok = !setup_failed;
    bool passes[SVMX_SVM_CHECK_COUNT] = { false };
    bool fails[SVMX_SVM_CHECK_COUNT] = { false };

    for (size_t i = 0; i < n_entries; i++) {
        const entry *e = &entries[i];
        svmx_svm_check_result r;
        if (svmx_svm_vmrun_check(&corpus[i], &caps_tab[e->caps], &r) !=
            SVMX_OK) {
            fprintf(stderr, "entry %zu \"%s\": the call failed\n", i,
                    e->desc);
            ok = false;
            continue;
        }
        uint64_t want = e->expect == SVMX_SVM_CHECK_OK ? 0 : B(e->expect);
        svmx_vmcb_field field = svmx_svm_check_field(e->expect);
        if (r.first != e->expect || r.failed != want || r.field != field ||
            r.value != svmx_vmcb_get(&corpus[i], field)) {
            fprintf(stderr, "entry %zu \"%s\": first %s failed %#llx, "
                    "expected %s failed %#llx\n", i, e->desc,
                    svmx_svm_check_name(r.first),
                    (unsigned long long)r.failed,
                    svmx_svm_check_name(e->expect), (unsigned long long)want);
            ok = false;
            continue;
        }
        if (e->expect == SVMX_SVM_CHECK_OK)
            passes[e->check] = true;
        else
            fails[e->check] = true;
    }
    for (int c = 1; c < SVMX_SVM_CHECK_COUNT; c++) {
        if (!passes[c] || !fails[c]) {
            fprintf(stderr, "check %s has no %s entry\n",
                    svmx_svm_check_name((svmx_svm_check)c),
                    passes[c] ? "failing"
                    : fails[c] ? "passing" : "passing or failing");
            ok = false;
        }
    }
    return ok;
}

/* ------------------------------------------------------------ timing -- */

/*
 * The order of the timed walk: each entry about equally often. Pass k
 * starts at element k, so no pass repeats the one before and the compiler
 * cannot hoist the baseline's pure loop out of the timing.
 */
static uint8_t seq[SEQ_LEN];

static void build_sequence(void)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (unsigned i = 0; i < SEQ_LEN; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        seq[i] = (uint8_t)((x >> 32) % n_entries);
    }
}

static const svmx_svm_caps *seq_caps[SEQ_LEN];

static uint64_t pass_check(unsigned k)
{
    uint64_t sum = 0;
    for (unsigned i = 0; i < SEQ_LEN; i++) {
        unsigned j = (i + k) % SEQ_LEN;
        svmx_svm_check_result r;
        svmx_svm_vmrun_check(&corpus[seq[j]], seq_caps[j], &r);
        sum += r.failed + r.value + (uint64_t)r.first;
    }
    return sum;
}

static uint64_t le64(const svmx_vmcb *v, unsigned off)
{
    uint64_t x;
    memcpy(&x, &v->bytes[off], 8); /* the host is little-endian x86-64 */
    return x;
}

/*
 * The floor: the fields the checks read, folded into a result of the same
 * shape; nothing is judged. CS_SELECTOR's qword holds CS_ATTRIB,
 * INTERCEPT_MISC1's holds MISC2, V_TPR's holds V_INTR_MASKING.
 */
static uint64_t pass_touch(unsigned k)
{
    uint64_t sum = 0;
    for (unsigned i = 0; i < SEQ_LEN; i++) {
        unsigned j = (i + k) % SEQ_LEN;
        const svmx_vmcb *v = &corpus[seq[j]];
        const svmx_svm_caps *c = seq_caps[j];
        uint64_t a = le64(v, SVMX_VMCB_EFER) ^ le64(v, SVMX_VMCB_CR0) ^
                     le64(v, SVMX_VMCB_CR3) ^ le64(v, SVMX_VMCB_CR4) ^
                     le64(v, SVMX_VMCB_DR6) ^ le64(v, SVMX_VMCB_DR7) ^
                     le64(v, SVMX_VMCB_CS_SELECTOR);
        uint64_t b = le64(v, SVMX_VMCB_INTERCEPT_MISC1) ^
                     le64(v, SVMX_VMCB_MSRPM_BASE_PA) ^
                     le64(v, SVMX_VMCB_IOPM_BASE_PA) ^
                     le64(v, SVMX_VMCB_EVENTINJ) ^
                     le64(v, SVMX_VMCB_GUEST_ASID) ^
                     le64(v, SVMX_VMCB_NP_ENABLE) ^ le64(v, SVMX_VMCB_N_CR3) ^
                     le64(v, SVMX_VMCB_G_PAT) ^
                     le64(v, SVMX_VMCB_V_TPR); /* .. V_INTR_MASKING */
        svmx_svm_check_result r = {
            .failed = a ^ (b & c->cr4_allowed), .value = b ^ c->efer_allowed,
            .first = (svmx_svm_check)(a & 1), .field = SVMX_VMCB_FIELD_NONE,
        };
        sum += r.failed + r.value + (uint64_t)r.first;
    }
    return sum;
}

/* What a fuzzer pays to hand over one mutated VMCB: a 4 KiB copy. */
static svmx_vmcb scratch;

static uint64_t pass_copy(unsigned k)
{
    uint64_t sum = 0;
    for (unsigned i = 0; i < SEQ_LEN; i++) {
        unsigned j = (i + k) % SEQ_LEN;
        memcpy(&scratch, &corpus[seq[j]], sizeof scratch);
        sum += scratch.bytes[SVMX_VMCB_EFER + (i & 7)];
    }
    return sum;
}

typedef struct figure {
    double median, min, max; /* ns per check over BENCH_ROUNDS rounds */
} figure;

static figure summarise(double *per)
{
    figure f;
    f.median = bench_median(per, BENCH_ROUNDS); /* sorts per */
    f.min = per[0];
    f.max = per[BENCH_ROUNDS - 1];
    return f;
}

/* ns per check of `passes` passes. */
static double time_passes(uint64_t (*pass)(unsigned), unsigned passes,
                          uint64_t *sink)
{
    double t0 = bench_now_ns();
    for (unsigned k = 0; k < passes; k++)
        *sink += pass(k);
    return (bench_now_ns() - t0) / ((double)passes * SEQ_LEN);
}

/*
 * The rounds of the three passes alternate, so a slow spell of this
 * shared machine falls on all three alike and the ratio holds.
 */
static void measure(figure *chk, figure *touch, figure *copy, uint64_t *sink)
{
    double c[BENCH_ROUNDS], t[BENCH_ROUNDS], m[BENCH_ROUNDS];
    *sink += pass_check(0) + pass_touch(0) + pass_copy(0); /* warm up */
    for (int r = 0; r < BENCH_ROUNDS; r++) {
        c[r] = time_passes(pass_check, PASSES, sink);
        t[r] = time_passes(pass_touch, PASSES, sink);
        m[r] = time_passes(pass_copy, PASSES / 4, sink);
    }
    *chk = summarise(c);
    *touch = summarise(t);
    *copy = summarise(m);
}

int main(void)
{
    uint64_t sink = 0;

    for (int k = 0; k < CAPS_KINDS; k++)
        if (svmx_svm_caps_default(&caps_tab[k]) != SVMX_OK) {
            fprintf(stderr, "bench_vmrun_check: no default capabilities\n");
            return 1;
        }
    caps_tab[CAPS_NOLM].long_mode = false;
    caps_tab[CAPS_NOHPG].host_paging = false;
    caps_tab[CAPS_VNMI].svm_features |= SVMX_SVM_FEATURE_VNMI;

    build_corpus();
    if (!verify_corpus()) {
        fprintf(stderr, "bench_vmrun_check: the corpus does not give the "
                "expected answers; no figures\n");
        return 1;
    }
    build_sequence();
    for (unsigned i = 0; i < SEQ_LEN; i++)
        seq_caps[i] = &caps_tab[entries[seq[i]].caps];

    figure chk, touch, copy;
    measure(&chk, &touch, &copy, &sink);

    size_t fails = 0;
    for (size_t i = 0; i < n_entries; i++)
        fails += entries[i].expect != SVMX_SVM_CHECK_OK;
    printf("corpus: %zu VMCBs (%zu pass, %zu fail one check), %d checks "
           "each covered both ways; walk of %u in pseudo-random order\n",
           n_entries, n_entries - fails, fails, SVMX_SVM_CHECK_COUNT - 1,
           SEQ_LEN);
    printf("median of %d rounds of %u checks; [fastest, slowest] round\n",
           BENCH_ROUNDS, PASSES * SEQ_LEN);
    printf("svmx_svm_vmrun_check        %7.2f ns/check [%.2f, %.2f]  "
           "%6.1f M/s\n", chk.median, chk.min, chk.max, 1e3 / chk.median);
    printf("load the same fields (base) %7.2f ns/check [%.2f, %.2f]  "
           "%6.1f M/s\n", touch.median, touch.min, touch.max,
           1e3 / touch.median);
    printf("copy one 4 KiB VMCB         %7.2f ns       [%.2f, %.2f]\n",
           copy.median, copy.min, copy.max);
    printf("target %.0f M/s: %s on this run\n", TARGET_MPS,
           1e3 / chk.median >= TARGET_MPS ? "met" : "NOT met");
    printf("vmrun-check: %.1f Mchecks/s; baseline: %.1f Mchecks/s; "
           "ratio: %.2f\n", 1e3 / chk.median, 1e3 / touch.median,
           touch.median / chk.median);
    return sink == 0xdeadbeef; /* keeps the work observable */
}
