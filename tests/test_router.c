/*
 * tests/test_router.c - the nested exit router (src/nested): its SVM
 * table, the L0 policy and its completion, and DESIGN.md's rules R1
 * (VMMCALL), R2 (EFER.SVME cleared by L2) and R3's SVM form (an invalid
 * L2 state from the state API), each with the neighbours a sloppy router
 * gets wrong. The machine is svm_fixture.h's.
 *
 * References: DESIGN.md "The three nested rules"; APM Vol. 2 15.9-15.14
 * (intercepts), 15.11 (MSRPM), 15.18 (VMMCALL), 15.5.1 (VMRUN checks);
 * SDM Vol. 2C VMCALL and Vol. 3C appendix C (basic exit reasons).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "svm_fixture.h"
#include "svmx/nested.h"

#define VMMCALL 0x0f, 0x01, 0xd9
#define VMCALL  0x0f, 0x01, 0xc1
#define WRMSR   0x0f, 0x30
#define UD2     0x0f, 0x0b
#define MARKER  0x5a5a5a5aull   /* an EXITCODE no #VMEXIT writes */

/* --------------------------------------------------------- helpers -- */

static void policy(const svmx_policy *p)
{
    assert_int_equal(svmx_cpu_set_policy(m.cpu, p), SVMX_OK);
}

/* Sets the MSRPM read (bit 0) and write (bit 1) bits of `msr`. */
static void msrpm(uint32_t msr, unsigned rw)
{
    uint32_t byte;
    unsigned bit;
    assert_true(svmx_svm_msrpm_locate(msr, &byte, &bit));
    m.ram[MSRPM + byte] |= (uint8_t)(rw << bit);
}

/* Whether the CPU is in guest mode: the nested-state view the digest
 * and the VMCB show - here, whether CPUID in L1 would be L1's (RIP in
 * L1's code) is not enough, so ask the route of a CPUID. */
static unsigned level(void)
{
    svmx_decision d;
    svmx_exit x = { .code = SVMX_SVM_EXIT_CPUID };
    assert_int_equal(svmx_route(m.cpu, &x, &d), SVMX_OK);
    return d.exit.level;
}

static void set_rip(uint64_t v)
{
    svmx_regs r;
    svmx_cpu_get_regs(m.cpu, &r);
    r.rip = v;
    svmx_cpu_set_regs(m.cpu, &r);
}

static void complete(svmx_completion how)
{
    assert_int_equal(svmx_cpu_complete(m.cpu, how), SVMX_OK);
}

/* ======================================================= the router == */

/*
 * The SVM table: the intercept of exit code c is bit c of the vectors
 * (APM Vol. 2 Table B-1 and appendix C): the router's one lookup agrees
 * with svm.h's exit list for every row below 0xA7.
 */
static void test_svm_table_matches_exit_list(void **state)
{
    (void)state;
    for (size_t i = 0; i < SVMX_SVM_EXIT_COUNT; i++) {
        const svmx_svm_exit_info *e = svmx_svm_exit_at(i);
        assert_non_null(e);
        if (e->code >= 0xa7)
            assert_int_equal(e->intercept, SVMX_SVM_INTERCEPT_NONE);
        else
            assert_int_equal(e->intercept, e->code);
    }
}

/* Every exit code below 0xA7, intercepted alone in vmcb12, is REFLECTed;
 * with nothing intercepted, none is (refine steps aside). */
static void test_route_each_bit(void **state)
{
    (void)state;
    static const uint8_t spin[] = { 0xeb, 0xfe };
    for (uint64_t code = 0; code < 0xa7; code++) {
        if (code == SVMX_SVM_EXIT_VMRUN)
            continue;
        setup(spin, sizeof spin);
        if (code != SVMX_SVM_EXIT_HLT)
            assert_int_equal(svmx_svm_intercept_set(&vm,
                                                    SVMX_SVM_INTERCEPT_HLT,
                                                    false), SVMX_OK);
        icpt((unsigned)code);
        /* Map bits for the refine steps: every MSR and port. */
        memset(m.ram + MSRPM, 0xff, SVMX_SVM_MSRPM_SIZE);
        memset(m.ram + IOPM, 0xff, SVMX_SVM_IOPM_SIZE);
        svmx_stop st = run_vm(20);
        assert_int_equal(st.reason, SVMX_STOP_BUDGET);
        assert_int_equal(level(), SVMX_LEVEL_L2);
        svmx_decision d;
        svmx_exit x = { .code = code, .info1 = 0x10 /* 1-byte OUT */,
                        .value = 0x80000010 /* a CR0 write: PG, ET */ };
        assert_int_equal(svmx_route(m.cpu, &x, &d), SVMX_OK);
        /* Intercepts of features the personality lacks are ignored
         * (VMRUN cleared them: 15.9, Table B-1). */
        svmx_cpu_cpuid(m.cpu, 0, 0, &(svmx_cpuid_result){ 0 });
        if (d.route != SVMX_ROUTE_REFLECT) {
            assert_true(code >= SVMX_SVM_EXIT_RDPRU ||
                        code == SVMX_SVM_EXIT_SKINIT ||
                        code == SVMX_SVM_EXIT_MONITOR ||
                        code == SVMX_SVM_EXIT_MWAIT ||
                        code == SVMX_SVM_EXIT_MWAIT_CONDITIONAL ||
                        code == SVMX_SVM_EXIT_XSETBV ||
                        code == SVMX_SVM_EXIT_INVPCID ||
                        code == SVMX_SVM_EXIT_CR0_SEL_WRITE);
        }
        /* The same exit with its bit clear: ARCH. */
        x.code = code == SVMX_SVM_EXIT_CPUID ? SVMX_SVM_EXIT_RDTSC
                                              : SVMX_SVM_EXIT_CPUID;
        assert_int_equal(svmx_route(m.cpu, &x, &d), SVMX_OK);
        assert_int_equal(d.route, SVMX_ROUTE_ARCH);
    }
}

/*
 * The refine steps through svmx_route: the MSRPM by ECX and direction,
 * MSRs outside its ranges always (15.11); the IOPM over every byte of the
 * access, up to the bit past 0xFFFF (15.10.2); CR0 writes to the plain or
 * the selective exit (Table 15-7).
 */
static void test_route_refine(void **state)
{
    (void)state;
    static const uint8_t spin[] = { 0xeb, 0xfe };
    setup(spin, sizeof spin);
    icpt(SVMX_SVM_INTERCEPT_MSR_PROT);
    icpt(SVMX_SVM_INTERCEPT_IOIO_PROT);
    icpt(SVMX_SVM_INTERCEPT_CR0_SEL_WRITE);
    msrpm(0xc0000080u, 2);                  /* EFER: writes only */
    m.ram[IOPM + 0x80 / 8] = 1u << (0x81 % 8);   /* port 0x81 */
    m.ram[IOPM + 0x10000 / 8] = 1;               /* the bit past 0xFFFF */
    svmx_stop st = run_vm(20);
    assert_int_equal(st.reason, SVMX_STOP_BUDGET);

    static const struct {
        uint64_t code, info1, value;
        uint32_t index;
        uint64_t want_code;      /* 0: ARCH */
    } rows[] = {
        { SVMX_SVM_EXIT_MSR, 0, 0, 0xc0000080u, 0 },
        { SVMX_SVM_EXIT_MSR, 1, 0, 0xc0000080u, SVMX_SVM_EXIT_MSR },
        { SVMX_SVM_EXIT_MSR, 0, 0, 0xc0000081u, 0 },
        { SVMX_SVM_EXIT_MSR, 0, 0, 0x40000000u, SVMX_SVM_EXIT_MSR },
        { SVMX_SVM_EXIT_MSR, 1, 0, 0xc0002000u, SVMX_SVM_EXIT_MSR },
        /* IOIO: port << 16 | size one-hot (bit 4 = 1 byte, 5 = 2, 6 = 4) */
        { SVMX_SVM_EXIT_IOIO, 0x80u << 16 | 0x10, 0, 0, 0 },
        { SVMX_SVM_EXIT_IOIO, 0x80u << 16 | 0x20, 0, 0, SVMX_SVM_EXIT_IOIO },
        { SVMX_SVM_EXIT_IOIO, 0x7eu << 16 | 0x40, 0, 0, SVMX_SVM_EXIT_IOIO },
        { SVMX_SVM_EXIT_IOIO, 0x7du << 16 | 0x40, 0, 0, 0 },
        { SVMX_SVM_EXIT_IOIO, 0xffffu << 16 | 0x10, 0, 0, 0 },
        { SVMX_SVM_EXIT_IOIO, 0xffffu << 16 | 0x20, 0, 0, SVMX_SVM_EXIT_IOIO },
        /* CR0 writes from 0x80000011: TS/MP alone are not selective */
        { SVMX_SVM_EXIT_CR0_WRITE, 0, 0x80000019, 0, 0 },
        { SVMX_SVM_EXIT_CR0_WRITE, 0, 0x80000013, 0, 0 },
        { SVMX_SVM_EXIT_CR0_WRITE, 0, 0x80010011, 0,
          SVMX_SVM_EXIT_CR0_SEL_WRITE },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        svmx_decision d;
        svmx_exit x = { .code = rows[i].code, .info1 = rows[i].info1,
                        .value = rows[i].value, .index = rows[i].index };
        if (x.code == SVMX_SVM_EXIT_IOIO)
            x.index = (uint32_t)(x.info1 >> 16),
            x.size = x.info1 & 0x10 ? 1 : x.info1 & 0x20 ? 2 : 4;
        assert_int_equal(svmx_route(m.cpu, &x, &d), SVMX_OK);
        if (!rows[i].want_code) {
            assert_int_equal(d.route, SVMX_ROUTE_ARCH);
        } else {
            assert_int_equal(d.route, SVMX_ROUTE_REFLECT);
            assert_int_equal(d.exit.code, rows[i].want_code);
        }
        assert_int_equal(d.exit.level, SVMX_LEVEL_L2);
    }
}

/* The negative codes are VMRUN's answers, not events of L2: never
 * reflected; NPF, which has no intercept bit either, always is. */
static void test_route_codes_without_a_bit(void **state)
{
    (void)state;
    static const uint8_t spin[] = { 0xeb, 0xfe };
    setup(spin, sizeof spin);
    svmx_stop st = run_vm(10);
    assert_int_equal(st.reason, SVMX_STOP_BUDGET);
    static const struct { uint64_t code; uint8_t route; } rows[] = {
        { SVMX_SVM_EXIT_NPF, SVMX_ROUTE_REFLECT },
        { SVMX_SVM_EXIT_VMGEXIT, SVMX_ROUTE_REFLECT },
        { (uint64_t)SVMX_SVM_EXIT_INVALID, SVMX_ROUTE_ARCH },
        { (uint64_t)SVMX_SVM_EXIT_BUSY, SVMX_ROUTE_ARCH },
        { 0x3ff, SVMX_ROUTE_ARCH },                  /* not in Table C-1 */
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        svmx_decision d;
        svmx_exit x = { .code = rows[i].code };
        assert_int_equal(svmx_route(m.cpu, &x, &d), SVMX_OK);
        assert_int_equal(d.route, rows[i].route);
    }
}

/* On the Intel personality svmx_route reads the VMX basic exit reason
 * (SDM Vol. 3C appendix C) and keeps the record as given. */
static void test_route_intel_records(void **state)
{
    (void)state;
    static const uint8_t l1[] = { 0xf4 };
    setup_l1(SVMX_VENDOR_INTEL, l1, sizeof l1, NULL, 0, false);
    svmx_policy p = { 0 };
    p.l1.ncpuid = 1;
    p.l1.cpuid[0] = (svmx_range){ 0, UINT32_MAX };
    p.l1.nports = 1;
    p.l1.ports[0] = (svmx_range){ 0x60, 0x60 };
    p.l1.events = SVMX_L0_HLT | SVMX_L0_HYPERCALL;
    policy(&p);
    static const struct {
        uint64_t code, qual;
        uint32_t index;
        uint8_t kind, route;
    } rows[] = {
        { 10, 0, 1, SVMX_EVENT_CPUID, SVMX_ROUTE_L0 },
        { 12, 0, 0, SVMX_EVENT_HLT, SVMX_ROUTE_L0 },
        { 18, 0, 0, SVMX_EVENT_HYPERCALL, SVMX_ROUTE_L0 },
        { 30, 0x600008, 0x60, SVMX_EVENT_IN, SVMX_ROUTE_L0 },   /* IN 0x60 */
        { 30, 0x610000, 0x61, SVMX_EVENT_OUT, SVMX_ROUTE_ARCH },
        { 0x81, 0, 0, SVMX_EVENT_OTHER, SVMX_ROUTE_ARCH },      /* no reason */
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        svmx_decision d;
        svmx_exit x = { .code = rows[i].code, .info1 = rows[i].qual,
                        .index = rows[i].index, .size = 1 };
        assert_int_equal(svmx_route(m.cpu, &x, &d), SVMX_OK);
        assert_int_equal(d.exit.kind, rows[i].kind);
        assert_int_equal(d.route, rows[i].route);
        assert_int_equal(d.exit.code, rows[i].code);
        assert_int_equal(d.exit.info1, rows[i].qual);
    }
}

/* An I/O record's port is read as 16 bits and a size other than 1 or 2
 * as 4, by the policy as by the IOPM step (docs/router.md). */
static void test_policy_io_records(void **state)
{
    (void)state;
    static const uint8_t l1[] = { 0xf4 };
    setup_l1(SVMX_VENDOR_AMD, l1, sizeof l1, NULL, 0, false);
    svmx_policy p = { 0 };
    p.l1.nports = 1;
    p.l1.ports[0] = (svmx_range){ 0xfffe, 0xffff };
    policy(&p);
    static const struct { uint32_t index; uint8_t size, route; } rows[] = {
        { 0x1fffe, 1, SVMX_ROUTE_L0 },     /* port 0xFFFE */
        { 0xfffc, 0, SVMX_ROUTE_L0 },      /* 4 ports: 0xFFFC-0xFFFF */
        { 0xfffc, 2, SVMX_ROUTE_ARCH },
        { 0xfffd, 2, SVMX_ROUTE_L0 },
        { 0xffffffffu, 4, SVMX_ROUTE_L0 }, /* 0xFFFF .. 0x10002, no wrap */
        { 0x0, 4, SVMX_ROUTE_ARCH },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        svmx_decision d;
        svmx_exit x = { .code = SVMX_SVM_EXIT_IOIO,
                        .info1 = (uint64_t)(rows[i].index & 0xffff) << 16 | 0x10,
                        .index = rows[i].index, .size = rows[i].size };
        assert_int_equal(svmx_route(m.cpu, &x, &d), SVMX_OK);
        assert_int_equal(d.route, rows[i].route);
    }
}

/* ========================================================= L0 policy == */

/* set_policy refuses, with nothing changed, what cannot be a policy. */
static void test_policy_validation(void **state)
{
    (void)state;
    setup(NULL, 0);
    svmx_policy p = { 0 };
    p.l1.ncpuid = 1;
    p.l1.cpuid[0] = (svmx_range){ 0, 0x10 };
    policy(&p);
    svmx_policy bad = { 0 };
    bad.l2.events = SVMX_L0_HYPERCALL;         /* R1 */
    assert_int_equal(svmx_cpu_set_policy(m.cpu, &bad), SVMX_E_ARG);
    bad = (svmx_policy){ 0 };
    bad.l1.nports = SVMX_POLICY_RANGES + 1;
    assert_int_equal(svmx_cpu_set_policy(m.cpu, &bad), SVMX_E_ARG);
    bad = (svmx_policy){ 0 };
    bad.l1.nmsr_read = 1;
    bad.l1.msr_read[0] = (svmx_range){ 5, 4 };
    assert_int_equal(svmx_cpu_set_policy(m.cpu, &bad), SVMX_E_ARG);
    bad = (svmx_policy){ 0 };
    bad.l1.events = 1u << 31;
    assert_int_equal(svmx_cpu_set_policy(m.cpu, &bad), SVMX_E_ARG);
    svmx_policy got;
    assert_int_equal(svmx_cpu_get_policy(m.cpu, &got), SVMX_OK);
    assert_int_equal(got.l1.ncpuid, 1);
    assert_int_equal(got.l1.cpuid[0].last, 0x10);
    assert_int_equal(svmx_cpu_set_policy(NULL, &p), SVMX_E_ARG);
    assert_int_equal(svmx_cpu_complete(m.cpu, SVMX_COMPLETE_DONE),
                     SVMX_E_STATE);                /* nothing pending */
}

/*
 * CPUID in L1 under a policy for leaves 0x40000000-0x400000FF: the run
 * stops with the instruction not executed; DONE takes the embedder's
 * values and moves past it; EXECUTE runs it as the CPU answers; a leaf
 * outside the range never stops. Running before completing is refused.
 */
static void test_policy_cpuid_l1(void **state)
{
    (void)state;
    /* cpuid; cpuid; hlt */
    static const uint8_t l1[] = { 0x0f, 0xa2, 0x0f, 0xa2, 0xf4 };
    boot_long(l1, sizeof l1, false);
    svmx_policy p = { 0 };
    p.l1.ncpuid = 1;
    p.l1.cpuid[0] = (svmx_range){ 0x40000000u, 0x400000ffu };
    policy(&p);
    set_reg(SVMX_RAX, 0x40000001u);
    set_reg(SVMX_RCX, 7);
    svmx_stop st = run(100);
    assert_int_equal(st.reason, SVMX_STOP_L0_EXIT);
    assert_int_equal(st.rip, 0x7c00);
    assert_int_equal(st.exit.kind, SVMX_EVENT_CPUID);
    assert_int_equal(st.exit.level, SVMX_LEVEL_L1);
    assert_int_equal(st.exit.code, SVMX_SVM_EXIT_CPUID);
    assert_int_equal(st.exit.index, 0x40000001u);
    assert_int_equal(st.exit.subindex, 7);
    assert_int_equal(st.exit.nrip, 0x7c02);
    assert_int_equal(reg(SVMX_RAX), 0x40000001u);     /* not executed */
    svmx_stop again;
    assert_int_equal(svmx_cpu_run(m.cpu, 100, &again), SVMX_E_STATE);
    set_reg(SVMX_RBX, 0x4b4d564b);                  /* "KVMK" */
    complete(SVMX_COMPLETE_DONE);
    assert_int_equal(rip(), 0x7c02);
    /* The second CPUID: EXECUTE gives the personality's answer. */
    set_reg(SVMX_RAX, 0x40000000u);
    st = run(100);
    assert_int_equal(st.reason, SVMX_STOP_L0_EXIT);
    assert_int_equal(st.rip, 0x7c02);
    complete(SVMX_COMPLETE_EXECUTE);
    st = run(100);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    svmx_cpuid_result id;
    svmx_cpu_cpuid(m.cpu, 0x40000000u, 0, &id);
    assert_int_equal(reg(SVMX_RAX), id.eax);
    assert_int_equal(reg(SVMX_RBX), id.ebx);
    /* Outside the range: never stops. */
    set_rip(0x7c00);
    set_reg(SVMX_RAX, 0);
    wake();
    st = run(2);
    assert_int_equal(st.reason, SVMX_STOP_BUDGET);
    assert_int_equal(rip(), 0x7c04);
}

/* Port, MSR, HLT and the other whole events of an L1 policy; a policy
 * for L2 leaves L1 alone. */
static void test_policy_kinds_l1(void **state)
{
    (void)state;
    /* out 0x80, al; in al, 0x81; mov ecx, 0x10; rdmsr; wrmsr; pause;
     * wbinvd; invd; hlt */
    static const uint8_t l1[] = {
        0xe6, 0x80, 0xe4, 0x81, 0xb9, 0x10, 0x00, 0x00, 0x00, 0x0f, 0x32,
        0x0f, 0x30, 0xf3, 0x90, 0x0f, 0x09, 0x0f, 0x08, 0xf4,
    };
    static const struct { uint8_t kind; uint64_t rip; } seen[] = {
        { SVMX_EVENT_OUT, 0x7c00 },   { SVMX_EVENT_IN, 0x7c02 },
        { SVMX_EVENT_RDMSR, 0x7c09 }, { SVMX_EVENT_WRMSR, 0x7c0b },
        { SVMX_EVENT_PAUSE, 0x7c0d }, { SVMX_EVENT_WBINVD, 0x7c0f },
        { SVMX_EVENT_INVD, 0x7c11 },  { SVMX_EVENT_HLT, 0x7c13 },
    };
    boot_long(l1, sizeof l1, false);
    svmx_policy p = { 0 };
    p.l2.events = SVMX_L0_HLT;                 /* L2's: not L1's */
    policy(&p);
    svmx_stop st = run(100);
    assert_int_equal(st.reason, SVMX_STOP_HLT);

    boot_long(l1, sizeof l1, false);
    p.l1.nports = 1;
    p.l1.ports[0] = (svmx_range){ 0x80, 0x81 };
    p.l1.nmsr_read = p.l1.nmsr_write = 1;
    p.l1.msr_read[0] = p.l1.msr_write[0] = (svmx_range){ 0x10, 0x10 };
    p.l1.events = SVMX_L0_HLT | SVMX_L0_PAUSE | SVMX_L0_INVD | SVMX_L0_WBINVD;
    policy(&p);
    set_reg(SVMX_RAX, 0x12345678);
    for (size_t i = 0; i < sizeof seen / sizeof seen[0]; i++) {
        st = run(100);
        assert_int_equal(st.reason, SVMX_STOP_L0_EXIT);
        assert_int_equal(st.exit.kind, seen[i].kind);
        assert_int_equal(st.rip, seen[i].rip);
        if (seen[i].kind == SVMX_EVENT_OUT) {
            assert_int_equal(st.exit.index, 0x80);
            assert_int_equal(st.exit.size, 1);
            assert_int_equal(st.exit.value, 0x78);
            assert_int_equal(st.exit.flags, SVMX_EXIT_WRITE);
        }
        if (seen[i].kind == SVMX_EVENT_IN)
            set_reg(SVMX_RAX, 0x99);            /* the IN result */
        if (seen[i].kind == SVMX_EVENT_WRMSR)
            assert_int_equal(st.exit.index, 0x10);
        complete(SVMX_COMPLETE_DONE);
    }
    assert_int_equal(reg(SVMX_RAX), 0x99);
    assert_int_equal(rip(), 0x7c14);   /* HLT skipped: DONE */
    st = run(1);
    assert_int_equal(st.reason, SVMX_STOP_BUDGET);
}

/* DONE with TF set owes the single-step trap of the instruction it
 * retired (SDM Vol. 3B 18.3.1.4): #DB with DR6.BS at the next boundary. */
static void test_policy_done_single_step(void **state)
{
    (void)state;
    static const uint8_t l1[] = { 0x0f, 0xa2, 0x90, 0xf4 };
    boot_long(l1, sizeof l1, false);
    gates(IDT, 32, L1HANDLER(0));
    svmx_policy p = { 0 };
    p.l1.ncpuid = 1;
    p.l1.cpuid[0] = (svmx_range){ 0, UINT32_MAX };
    policy(&p);
    svmx_regs r;
    svmx_cpu_get_regs(m.cpu, &r);
    r.rflags |= SVMX_RFLAGS_TF;
    svmx_cpu_set_regs(m.cpu, &r);
    svmx_stop st = run(100);
    assert_int_equal(st.reason, SVMX_STOP_L0_EXIT);
    complete(SVMX_COMPLETE_DONE);
    st = run(100);
    expect_l1_fault(&st, 1);
    assert_int_equal(get(reg(SVMX_RSP), 8), 0x7c02);  /* after CPUID */
    svmx_dregs d;
    svmx_cpu_get_dregs(m.cpu, &d);
    assert_true(d.dr6 & (1u << 14));
}

/* L2's policy: an event L1 intercepts is L1's; one it does not is L0's. */
static void test_policy_l2_after_l1(void **state)
{
    (void)state;
    static const uint8_t guest[] = { 0x0f, 0xa2, 0x0f, 0xa2, 0xf4 };
    setup(guest, sizeof guest);
    svmx_policy p = { 0 };
    p.l2.ncpuid = 1;
    p.l2.cpuid[0] = (svmx_range){ 0, UINT32_MAX };
    policy(&p);
    icpt(SVMX_SVM_INTERCEPT_CPUID);
    expect_exit(SVMX_SVM_EXIT_CPUID, 0, 0, GCODE, GCODE + 2);

    setup(guest, sizeof guest);
    policy(&p);
    svmx_stop st = run_vm(100);
    assert_int_equal(st.reason, SVMX_STOP_L0_EXIT);
    assert_int_equal(st.exit.level, SVMX_LEVEL_L2);
    assert_int_equal(st.rip, GCODE);
    complete(SVMX_COMPLETE_DONE);
    st = run(100);
    assert_int_equal(st.reason, SVMX_STOP_L0_EXIT);
    assert_int_equal(st.rip, GCODE + 2);
    complete(SVMX_COMPLETE_EXECUTE);
    /* The HLT is L1's (the default VMCB intercepts it). */
    st = run(100);
    check_exit(&st, SVMX_SVM_EXIT_HLT, 0, 0, GCODE + 4, GCODE + 5);
}

/* The route hook sees every decision of guest mode, with the rule. */
static svmx_decision seen_d[8];
static unsigned seen_n;

static void hook(void *opaque, const svmx_decision *d)
{
    (void)opaque;
    if (seen_n < 8)
        seen_d[seen_n] = *d;
    seen_n++;
}

static void test_route_hook(void **state)
{
    (void)state;
    static const uint8_t guest[] = { 0x0f, 0xa2, VMMCALL };
    setup(guest, sizeof guest);
    icpt(SVMX_SVM_INTERCEPT_EXCEPTION(6));
    seen_n = 0;
    assert_int_equal(svmx_cpu_set_route_hook(m.cpu, hook, NULL), SVMX_OK);
    expect_exit(SVMX_SVM_EXIT_EXCP(6), 0, 0, GCODE + 2, 0);
    assert_int_equal(seen_n, 3);
    assert_int_equal(seen_d[0].exit.code, SVMX_SVM_EXIT_CPUID);
    assert_int_equal(seen_d[0].route, SVMX_ROUTE_ARCH);
    assert_int_equal(seen_d[1].exit.code, SVMX_SVM_EXIT_VMMCALL);
    assert_int_equal(seen_d[1].route, SVMX_ROUTE_ARCH);
    assert_int_equal(seen_d[1].rule, SVMX_RULE_R1);
    assert_int_equal(seen_d[2].exit.code, SVMX_SVM_EXIT_EXCP(6));
    assert_int_equal(seen_d[2].route, SVMX_ROUTE_REFLECT);
    assert_int_equal(seen_d[2].exit.level, SVMX_LEVEL_L2);
    svmx_cpu_set_route_hook(m.cpu, NULL, NULL);
}

/* ================================================================ R1 == */

/*
 * VMMCALL in L2 (APM Vol. 2 15.18; DESIGN.md R1): intercepted -> exit
 * 0x81 with NRIP; not intercepted -> #UD in L2, which L1 may intercept
 * (exit 0x46, RIP the VMMCALL, no error code) or which L2's IDT handles;
 * an L0 hypercall policy changes none of it.
 */
static void test_r1_vmmcall_in_l2(void **state)
{
    (void)state;
    static const uint8_t guest[] = { VMMCALL, 0xf4 };
    svmx_policy hyper = { 0 };
    hyper.l1.events = SVMX_L0_HYPERCALL;
    for (int pol = 0; pol < 2; pol++) {
        setup(guest, sizeof guest);
        if (pol)
            policy(&hyper);
        icpt(SVMX_SVM_INTERCEPT_VMMCALL);
        icpt(SVMX_SVM_INTERCEPT_EXCEPTION(6));
        expect_exit(SVMX_SVM_EXIT_VMMCALL, 0, 0, GCODE, GCODE + 3);

        setup(guest, sizeof guest);
        if (pol)
            policy(&hyper);
        icpt(SVMX_SVM_INTERCEPT_EXCEPTION(6));
        expect_exit(SVMX_SVM_EXIT_EXCP(6), 0, 0, GCODE, 0);
        assert_int_equal(vout(SVMX_VMCB_EXITINTINFO), 0);

        setup(guest, sizeof guest);
        if (pol)
            policy(&hyper);
        /* #UD through L2's IDT: its handler is a HLT, which L1 takes. */
        expect_exit(SVMX_SVM_EXIT_HLT, 0, 0, GHANDLER(6), GHANDLER(6) + 1);
        assert_int_equal(gframe(0), GCODE);     /* the faulting RIP */
    }
}

/* VMCALL in L2 on AMD is #UD (no VMX: CPUID.1:ECX.VMX = 0), and the
 * VMMCALL intercept does not catch it. */
static void test_r1_vmcall_on_amd(void **state)
{
    (void)state;
    static const uint8_t guest[] = { VMCALL, 0xf4 };
    setup(guest, sizeof guest);
    icpt(SVMX_SVM_INTERCEPT_VMMCALL);
    icpt(SVMX_SVM_INTERCEPT_EXCEPTION(6));
    expect_exit(SVMX_SVM_EXIT_EXCP(6), 0, 0, GCODE, 0);
}

/*
 * VMMCALL in L1: with an L0 hypercall policy, a HYPERCALL stop (DONE
 * moves past it, EXECUTE is the #UD); without one, #UD as on bare metal,
 * with EFER.SVME set or clear.
 */
static void test_r1_vmmcall_in_l1(void **state)
{
    (void)state;
    static const uint8_t l1[] = { VMMCALL, 0xf4 };
    svmx_policy hyper = { 0 };
    hyper.l1.events = SVMX_L0_HYPERCALL;
    for (int svme = 0; svme < 2; svme++) {
        setup_l1(SVMX_VENDOR_AMD, l1, sizeof l1, NULL, 0, false);
        if (!svme)
            set_msr(MSR_EFER, EFER_LM);
        svmx_stop st = run(100);
        expect_l1_fault(&st, 6);
        assert_int_equal(get(reg(SVMX_RSP), 8), 0x7c00);

        setup_l1(SVMX_VENDOR_AMD, l1, sizeof l1, NULL, 0, false);
        if (!svme)
            set_msr(MSR_EFER, EFER_LM);
        policy(&hyper);
        set_reg(SVMX_RAX, 0xabc);
        st = run(100);
        assert_int_equal(st.reason, SVMX_STOP_HYPERCALL);
        assert_int_equal(st.rip, 0x7c00);
        assert_int_equal(st.exit.code, SVMX_SVM_EXIT_VMMCALL);
        assert_int_equal(st.exit.kind, SVMX_EVENT_HYPERCALL);
        assert_int_equal(st.exit.level, SVMX_LEVEL_L1);
        assert_int_equal(st.exit.nrip, 0x7c03);
        set_reg(SVMX_RAX, 0);                   /* the hypercall's result */
        complete(SVMX_COMPLETE_DONE);
        st = run(100);
        assert_int_equal(st.reason, SVMX_STOP_HLT);
        assert_int_equal(st.rip, 0x7c04);
        assert_int_equal(reg(SVMX_RAX), 0);

        setup_l1(SVMX_VENDOR_AMD, l1, sizeof l1, NULL, 0, false);
        policy(&hyper);
        st = run(100);
        assert_int_equal(st.reason, SVMX_STOP_HYPERCALL);
        complete(SVMX_COMPLETE_EXECUTE);
        st = run(100);
        expect_l1_fault(&st, 6);
    }
}

/* The Intel personality: VMMCALL is #UD even with a hypercall policy;
 * VMCALL is its hypercall (basic exit reason 18), else #UD outside VMX
 * operation (SDM Vol. 2C VMCALL). */
static void test_r1_intel(void **state)
{
    (void)state;
    static const uint8_t vmmcall[] = { VMMCALL, 0xf4 };
    static const uint8_t vmcall[] = { VMCALL, 0xf4 };
    svmx_policy hyper = { 0 };
    hyper.l1.events = SVMX_L0_HYPERCALL;
    setup_l1(SVMX_VENDOR_INTEL, vmmcall, sizeof vmmcall, NULL, 0, false);
    policy(&hyper);
    svmx_stop st = run(100);
    expect_l1_fault(&st, 6);

    setup_l1(SVMX_VENDOR_INTEL, vmcall, sizeof vmcall, NULL, 0, false);
    st = run(100);
    expect_l1_fault(&st, 6);

    setup_l1(SVMX_VENDOR_INTEL, vmcall, sizeof vmcall, NULL, 0, false);
    policy(&hyper);
    st = run(100);
    assert_int_equal(st.reason, SVMX_STOP_HYPERCALL);
    assert_int_equal(st.exit.code, 18);
    assert_int_equal(st.exit.kind, SVMX_EVENT_HYPERCALL);
    assert_string_equal(svmx_exit_name(SVMX_VENDOR_INTEL, st.exit.code),
                        "VMCALL");
    complete(SVMX_COMPLETE_DONE);
    st = run(100);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, 0x7c04);

    /* AMD's VMCALL: #UD, whatever the policy. */
    setup_l1(SVMX_VENDOR_AMD, vmcall, sizeof vmcall, NULL, 0, false);
    policy(&hyper);
    st = run(100);
    expect_l1_fault(&st, 6);
}

/* ================================================================ R2 == */

/* What R2 leaves: L1's state from the host save area (RIP after VMRUN,
 * its EFER), vmcb12's exit fields untouched, the CPU shut down. */
static void check_r2(const svmx_stop *st)
{
    assert_int_equal(st->reason, SVMX_STOP_SHUTDOWN);
    assert_int_equal(st->rip, L1_AFTER);
    assert_int_equal(level(), SVMX_LEVEL_L1);
    assert_int_equal(sregs().efer, EFER_LM | EFER_SVME);
    assert_int_equal(reg(SVMX_RAX), VMCB);
    assert_int_equal(events().activity, SVMX_ACTIVITY_SHUTDOWN);
    assert_int_equal(vout(SVMX_VMCB_EXITCODE), MARKER);
    assert_int_equal(vout(SVMX_VMCB_RIP), GCODE); /* no guest state saved */
    assert_int_equal(vout(SVMX_VMCB_EFER), EFER_LM | EFER_SVME);
}

/*
 * EFER writes by L2: keeping SVME is L2's own business; clearing it with
 * the MSRPM write bit set exits 0x7C with EXITINFO1 = 1 and nothing
 * written; with the bit clear, or MSR_PROT clear, rule R2.
 */
static void test_r2_efer_writes(void **state)
{
    (void)state;
    static const uint8_t guest[] = { WRMSR, 0xf4 };
    /* Keeps SVME (toggles NXE): the guest goes on to its HLT. */
    setup(guest, sizeof guest);
    icpt(SVMX_SVM_INTERCEPT_MSR_PROT);
    set_reg(SVMX_RCX, MSR_EFER);
    set_reg(SVMX_RDX, 0);
    vset(SVMX_VMCB_RAX, EFER_LM | EFER_SVME | 0x800);
    expect_exit(SVMX_SVM_EXIT_HLT, 0, 0, GCODE + 2, GCODE + 3);
    assert_int_equal(vout(SVMX_VMCB_EFER), EFER_LM | EFER_SVME | 0x800);

    /* Clears SVME, write intercepted through the MSRPM. */
    setup(guest, sizeof guest);
    icpt(SVMX_SVM_INTERCEPT_MSR_PROT);
    msrpm(MSR_EFER, 2);
    set_reg(SVMX_RCX, MSR_EFER);
    set_reg(SVMX_RDX, 0);
    vset(SVMX_VMCB_RAX, EFER_LM);
    expect_exit(SVMX_SVM_EXIT_MSR, 1, 0, GCODE, GCODE + 2);
    assert_int_equal(vout(SVMX_VMCB_EFER), EFER_LM | EFER_SVME);

    /* Clears SVME, not intercepted: MSR_PROT set with the bit clear (only
     * the read bit set), and MSR_PROT clear. */
    for (int prot = 1; prot >= 0; prot--) {
        setup(guest, sizeof guest);
        if (prot) {
            icpt(SVMX_SVM_INTERCEPT_MSR_PROT);
            msrpm(MSR_EFER, 1);
        }
        icpt(SVMX_SVM_INTERCEPT_SHUTDOWN);  /* R2 is no #VMEXIT, ever */
        vset(SVMX_VMCB_EXITCODE, MARKER);
        set_reg(SVMX_RCX, MSR_EFER);
        set_reg(SVMX_RDX, 0);
        vset(SVMX_VMCB_RAX, EFER_LM);
        svmx_stop st = run_vm(100);
        check_r2(&st);
        assert_true(events().gif);          /* no #VMEXIT cleared it */
    }
}

/* R2 with a reserved EFER bit is the #GP of the write, not R2: the write
 * never happened (APM Vol. 2 3.1.7; msr.c). */
static void test_r2_needs_a_legal_write(void **state)
{
    (void)state;
    static const uint8_t guest[] = { WRMSR, 0xf4 };
    setup(guest, sizeof guest);
    icpt(SVMX_SVM_INTERCEPT_EXCEPTION(13));
    set_reg(SVMX_RCX, MSR_EFER);
    set_reg(SVMX_RDX, 1);                        /* bit 32: reserved */
    vset(SVMX_VMCB_RAX, EFER_LM);
    expect_exit(SVMX_SVM_EXIT_EXCP(13), 0, 0, GCODE, 0);
}

/* R2 with an L0 policy: an L2 policy for EFER writes sees the WRMSR
 * first (EXECUTE then makes it R2); an L1 policy for shutdowns sees L1's
 * shutdown, from L1's restored state. */
static void test_r2_with_policy(void **state)
{
    (void)state;
    static const uint8_t guest[] = { WRMSR, 0xf4 };
    svmx_policy p = { 0 };
    p.l2.nmsr_write = 1;
    p.l2.msr_write[0] = (svmx_range){ MSR_EFER, MSR_EFER };
    p.l1.events = SVMX_L0_SHUTDOWN;

    setup(guest, sizeof guest);
    policy(&p);
    vset(SVMX_VMCB_EXITCODE, MARKER);
    set_reg(SVMX_RCX, MSR_EFER);
    set_reg(SVMX_RDX, 0);
    vset(SVMX_VMCB_RAX, EFER_LM);
    svmx_stop st = run_vm(100);
    assert_int_equal(st.reason, SVMX_STOP_L0_EXIT);
    assert_int_equal(st.exit.kind, SVMX_EVENT_WRMSR);
    assert_int_equal(st.exit.level, SVMX_LEVEL_L2);
    assert_int_equal(st.exit.value, EFER_LM);
    assert_int_equal(st.rip, GCODE);
    complete(SVMX_COMPLETE_EXECUTE);
    st = run(100);
    assert_int_equal(st.reason, SVMX_STOP_L0_EXIT);
    assert_int_equal(st.exit.kind, SVMX_EVENT_SHUTDOWN);
    assert_int_equal(st.exit.level, SVMX_LEVEL_L1);
    assert_int_equal(level(), SVMX_LEVEL_L1);
    assert_int_equal(rip(), L1_AFTER);
    complete(SVMX_COMPLETE_EXECUTE);
    st = run(100);
    assert_int_equal(st.reason, SVMX_STOP_SHUTDOWN);
    assert_int_equal(vout(SVMX_VMCB_EXITCODE), MARKER);

    /* DONE on the WRMSR: the embedder emulated it - L2 goes on. */
    setup(guest, sizeof guest);
    policy(&p);
    set_reg(SVMX_RCX, MSR_EFER);
    set_reg(SVMX_RDX, 0);
    vset(SVMX_VMCB_RAX, EFER_LM);
    st = run_vm(100);
    assert_int_equal(st.reason, SVMX_STOP_L0_EXIT);
    complete(SVMX_COMPLETE_DONE);
    st = run(100);
    check_exit(&st, SVMX_SVM_EXIT_HLT, 0, 0, GCODE + 2, GCODE + 3);
}

/* ================================================== shutdowns, R3 == */

/* A triple fault in L2: #VMEXIT(SHUTDOWN) when vmcb12 intercepts it,
 * else the vCPU shuts down in guest mode (APM Vol. 2 15.14.3). */
static void test_l2_triple_fault(void **state)
{
    (void)state;
    static const uint8_t guest[] = { UD2 };
    setup(guest, sizeof guest);
    vset(SVMX_VMCB_IDTR_LIMIT, 0);
    icpt(SVMX_SVM_INTERCEPT_SHUTDOWN);
    expect_exit(SVMX_SVM_EXIT_SHUTDOWN, 0, 0, GCODE, 0);

    setup(guest, sizeof guest);
    vset(SVMX_VMCB_IDTR_LIMIT, 0);
    seen_n = 0;
    svmx_cpu_set_route_hook(m.cpu, hook, NULL);
    svmx_stop st = run_vm(100);
    assert_int_equal(st.reason, SVMX_STOP_SHUTDOWN);
    assert_int_equal(level(), SVMX_LEVEL_L2);
    assert_true(seen_n >= 1);
    svmx_decision last = seen_d[(seen_n - 1) & 7];
    assert_int_equal(last.exit.code, SVMX_SVM_EXIT_SHUTDOWN);
    assert_int_equal(last.rule, SVMX_RULE_L2_SHUTDOWN);
    svmx_cpu_set_route_hook(m.cpu, NULL, NULL);
}

/*
 * R3's SVM form: the state API gives L2, while it runs, a state VMRUN
 * would refuse (CR0.NW without CD, 15.5.1): it is never run - #VMEXIT
 * (SHUTDOWN) if vmcb12 intercepts shutdown (the VMCB then holds the bad
 * state, RIP unmoved), else the vCPU shuts down. A valid change is just
 * a change.
 */
static void test_r3_invalid_state(void **state)
{
    (void)state;
    static const uint8_t spin[] = { 0xeb, 0xfe };
    for (int icpt_on = 1; icpt_on >= 0; icpt_on--) {
        setup(spin, sizeof spin);
        if (icpt_on)
            icpt(SVMX_SVM_INTERCEPT_SHUTDOWN);
        svmx_stop st = run_vm(10);
        assert_int_equal(st.reason, SVMX_STOP_BUDGET);
        svmx_sregs s = sregs();
        s.cr2 = 0x1234;                          /* valid */
        assert_int_equal(svmx_cpu_set_sregs(m.cpu, &s), SVMX_OK);
        st = run(10);
        assert_int_equal(st.reason, SVMX_STOP_BUDGET);
        s.cr0 |= 1u << 29;                       /* NW without CD */
        assert_int_equal(svmx_cpu_set_sregs(m.cpu, &s), SVMX_OK);
        uint64_t insns_before = st.insns;
        (void)insns_before;
        st = run(10);
        if (icpt_on) {
            check_exit(&st, SVMX_SVM_EXIT_SHUTDOWN, 0, 0, GCODE, 0);
            assert_int_equal(vout(SVMX_VMCB_CR0), 0xa0000011u);
            assert_int_equal(vout(SVMX_VMCB_CR2), 0x1234);
        } else {
            assert_int_equal(st.reason, SVMX_STOP_SHUTDOWN);
            assert_int_equal(st.insns, 0);
            assert_int_equal(st.rip, GCODE);
            assert_int_equal(level(), SVMX_LEVEL_L2);
        }
    }
}

/* R3 only in guest mode: the same state set for L1 is L1's business
 * (checked where the architecture checks it). And clearing EFER.SVME
 * through the state API in guest mode is R3, not R2 (DESIGN.md). */
static void test_r3_scope(void **state)
{
    (void)state;
    static const uint8_t spin[] = { 0xeb, 0xfe };
    setup(spin, sizeof spin);
    icpt(SVMX_SVM_INTERCEPT_SHUTDOWN);
    svmx_stop st = run_vm(10);
    assert_int_equal(st.reason, SVMX_STOP_BUDGET);
    set_msr(MSR_EFER, EFER_LM);
    st = run(10);
    check_exit(&st, SVMX_SVM_EXIT_SHUTDOWN, 0, 0, GCODE, 0);
    assert_int_equal(vout(SVMX_VMCB_EFER), EFER_LM);

    static const uint8_t l1[] = { 0x90, 0x90, 0xf4 };
    setup_l1(SVMX_VENDOR_AMD, l1, sizeof l1, NULL, 0, false);
    svmx_sregs s = sregs();
    s.cr0 |= 1u << 29;
    assert_int_equal(svmx_cpu_set_sregs(m.cpu, &s), SVMX_OK);
    st = run(10);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_svm_table_matches_exit_list),
        cmocka_unit_test_teardown(test_route_each_bit, fixture_teardown),
        cmocka_unit_test_teardown(test_route_refine, fixture_teardown),
        cmocka_unit_test_teardown(test_route_codes_without_a_bit,
                                  fixture_teardown),
        cmocka_unit_test_teardown(test_route_intel_records, fixture_teardown),
        cmocka_unit_test_teardown(test_policy_io_records, fixture_teardown),
        cmocka_unit_test_teardown(test_policy_validation, fixture_teardown),
        cmocka_unit_test_teardown(test_policy_cpuid_l1, fixture_teardown),
        cmocka_unit_test_teardown(test_policy_kinds_l1, fixture_teardown),
        cmocka_unit_test_teardown(test_policy_done_single_step,
                                  fixture_teardown),
        cmocka_unit_test_teardown(test_policy_l2_after_l1, fixture_teardown),
        cmocka_unit_test_teardown(test_route_hook, fixture_teardown),
        cmocka_unit_test_teardown(test_r1_vmmcall_in_l2, fixture_teardown),
        cmocka_unit_test_teardown(test_r1_vmcall_on_amd, fixture_teardown),
        cmocka_unit_test_teardown(test_r1_vmmcall_in_l1, fixture_teardown),
        cmocka_unit_test_teardown(test_r1_intel, fixture_teardown),
        cmocka_unit_test_teardown(test_r2_efer_writes, fixture_teardown),
        cmocka_unit_test_teardown(test_r2_needs_a_legal_write,
                                  fixture_teardown),
        cmocka_unit_test_teardown(test_r2_with_policy, fixture_teardown),
        cmocka_unit_test_teardown(test_l2_triple_fault, fixture_teardown),
        cmocka_unit_test_teardown(test_r3_invalid_state, fixture_teardown),
        cmocka_unit_test_teardown(test_r3_scope, fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
