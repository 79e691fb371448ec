/*
 * tests/test_debug_hooks.c - the embedder's debug hooks
 * (svmx_cpu_set_debug): breakpoints on instruction addresses and INT3 as
 * a software breakpoint, DESIGN.md's first step of the router's order.
 * Each stop must come before everything the instruction would raise - its
 * fetch fault, the guest's own DR0-DR3 breakpoint, L1's intercept, L1's
 * #BP intercept - change no guest state, and let the instruction pass
 * once on resume. The machines are exec_fixture.h's and svm_fixture.h's.
 *
 * References: docs/interpreter.md "Debug hooks"; SDM Vol. 3B 18.3.1.1
 * (RF passes an instruction breakpoint once: the hooks' resume does the
 * same for the embedder) and Vol. 3A 6.9 Table 6-2 (a code breakpoint
 * comes after the events of the boundary and before the fetch's faults);
 * APM Vol. 2 15.12 (the #BP intercept of INT3: RIP the INT3, NRIP next).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "svm_fixture.h"

#define MARKER 0x5a5a5a5aull   /* an EXITCODE no #VMEXIT writes */

/* --------------------------------------------------------- helpers -- */

static void hooks(const svmx_debug *d)
{
    assert_int_equal(svmx_cpu_set_debug(m.cpu, d), SVMX_OK);
}

/* One breakpoint at `addr` for `levels`, and INT3 at `int3`. */
static void one_breakpoint(uint64_t addr, uint8_t levels, uint8_t int3)
{
    svmx_debug d = { .nbreakpoints = 1, .int3 = int3 };
    d.breakpoints[0] = (svmx_breakpoint){ addr, levels };
    hooks(&d);
}

static void set_rip(uint64_t v)
{
    svmx_regs r;
    svmx_cpu_get_regs(m.cpu, &r);
    r.rip = v;
    svmx_cpu_set_regs(m.cpu, &r);
}

static void expect_debug(const svmx_stop *st, svmx_debug_cause cause,
                         unsigned level, uint64_t at, uint64_t insns)
{
    assert_int_equal(st->reason, SVMX_STOP_DEBUG);
    assert_int_equal(st->debug, cause);
    assert_int_equal(st->level, level);
    assert_int_equal(st->rip, at);
    assert_int_equal(st->insns, insns);
}

/* ========================================================== the API == */

/* A refused setting changes nothing; only the breakpoints in use are
 * kept; NULL removes everything. */
static void test_debug_validation(void **state)
{
    (void)state;
    static const uint8_t code[] = { 0xf4 };
    boot_long(code, sizeof code, false);
    svmx_debug d = { .nbreakpoints = 2, .int3 = SVMX_DEBUG_L2 };
    d.breakpoints[0] = (svmx_breakpoint){ 0x7c00, SVMX_DEBUG_L1 };
    d.breakpoints[1] = (svmx_breakpoint){ 0x9000,
                                          SVMX_DEBUG_L1 | SVMX_DEBUG_L2 };
    d.breakpoints[2] = (svmx_breakpoint){ 0x1234, SVMX_DEBUG_L1 }; /* unused */
    hooks(&d);

    svmx_debug bad = d;
    bad.nbreakpoints = SVMX_DEBUG_BREAKPOINTS + 1;
    assert_int_equal(svmx_cpu_set_debug(m.cpu, &bad), SVMX_E_ARG);
    bad = d;
    bad.breakpoints[1].levels = 0;
    assert_int_equal(svmx_cpu_set_debug(m.cpu, &bad), SVMX_E_ARG);
    bad.breakpoints[1].levels = 1; /* bit 0 names no level */
    assert_int_equal(svmx_cpu_set_debug(m.cpu, &bad), SVMX_E_ARG);
    bad = d;
    bad.int3 = SVMX_DEBUG_L2 | 0x8;
    assert_int_equal(svmx_cpu_set_debug(m.cpu, &bad), SVMX_E_ARG);
    assert_int_equal(svmx_cpu_set_debug(NULL, &d), SVMX_E_ARG);

    svmx_debug got;
    assert_int_equal(svmx_cpu_get_debug(m.cpu, &got), SVMX_OK);
    assert_int_equal(got.nbreakpoints, 2);
    assert_int_equal(got.int3, SVMX_DEBUG_L2);
    assert_int_equal(got.breakpoints[1].addr, 0x9000);
    assert_int_equal(got.breakpoints[1].levels, SVMX_DEBUG_L1 | SVMX_DEBUG_L2);
    assert_int_equal(got.breakpoints[2].addr, 0);
    assert_int_equal(svmx_cpu_get_debug(m.cpu, NULL), SVMX_E_ARG);
    assert_int_equal(svmx_cpu_get_debug(NULL, &got), SVMX_E_ARG);

    /* RESET keeps them: they are the embedder's. */
    assert_int_equal(svmx_cpu_reset(m.cpu), SVMX_OK);
    assert_int_equal(svmx_cpu_get_debug(m.cpu, &got), SVMX_OK);
    assert_int_equal(got.nbreakpoints, 2);

    hooks(NULL);
    assert_int_equal(svmx_cpu_get_debug(m.cpu, &got), SVMX_OK);
    assert_int_equal(got.nbreakpoints, 0);
    assert_int_equal(got.int3, 0);

    assert_string_equal(svmx_debug_cause_name(SVMX_DEBUG_STEP), "STEP");
    assert_string_equal(svmx_debug_cause_name(SVMX_DEBUG_BREAKPOINT),
                        "BREAKPOINT");
    assert_string_equal(svmx_debug_cause_name(SVMX_DEBUG_INT3), "INT3");
    assert_string_equal(svmx_debug_cause_name(SVMX_DEBUG_CAUSE_COUNT), "?");
    assert_string_equal(svmx_stop_reason_name(SVMX_STOP_DEBUG), "DEBUG");
}

/* ==================================================== breakpoints, L1 == */

/*
 * A breakpoint inside a loop the fast loop runs: it stops before each
 * pass, with the instruction not executed; resuming runs it once and the
 * loop comes round to it again. A breakpoint for L2 alone never stops L1.
 */
static void test_breakpoint_in_a_loop(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        0xb9, 0x03, 0x00, 0x00, 0x00,   /* 7c00 mov ecx, 3   */
        0xff, 0xc0,                     /* 7c05 inc eax      */
        0xff, 0xc9,                     /* 7c07 dec ecx      */
        0x75, 0xfa,                     /* 7c09 jnz 7c05     */
        0xf4,                           /* 7c0b hlt          */
    };
    boot_long(code, sizeof code, false);
    one_breakpoint(0x7c05, SVMX_DEBUG_L1, 0);
    svmx_stop st = run(1000);
    expect_debug(&st, SVMX_DEBUG_BREAKPOINT, SVMX_LEVEL_L1, 0x7c05, 1);
    assert_int_equal(st.breakpoint, 0);
    assert_int_equal(reg(SVMX_RAX), 0);
    for (unsigned pass = 1; pass < 3; pass++) {
        st = run(1000);
        expect_debug(&st, SVMX_DEBUG_BREAKPOINT, SVMX_LEVEL_L1, 0x7c05, 3);
        assert_int_equal(reg(SVMX_RAX), pass);
    }
    st = run(1000);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(reg(SVMX_RAX), 3);

    /* The second of two breakpoints reports its index. */
    boot_long(code, sizeof code, false);
    svmx_debug d = { .nbreakpoints = 2 };
    d.breakpoints[0] = (svmx_breakpoint){ 0x7c05, SVMX_DEBUG_L2 };
    d.breakpoints[1] = (svmx_breakpoint){ 0x7c0b, SVMX_DEBUG_L1 };
    hooks(&d);
    st = run(1000);
    expect_debug(&st, SVMX_DEBUG_BREAKPOINT, SVMX_LEVEL_L1, 0x7c0b, 10);
    assert_int_equal(st.breakpoint, 1);
    assert_int_equal(reg(SVMX_RAX), 3);
}

/*
 * Resuming passes the instruction only at the first boundary after the
 * stop: moved elsewhere first, the CPU stops at the breakpoint again.
 */
static void test_resume_once_and_there(void **state)
{
    (void)state;
    static const uint8_t code[] = { 0x90, 0x90, 0xf4 };
    boot_long(code, sizeof code, false);
    one_breakpoint(0x7c01, SVMX_DEBUG_L1, 0);
    svmx_stop st = run(100);
    expect_debug(&st, SVMX_DEBUG_BREAKPOINT, SVMX_LEVEL_L1, 0x7c01, 1);
    set_rip(0x7c00);
    st = run(100);
    expect_debug(&st, SVMX_DEBUG_BREAKPOINT, SVMX_LEVEL_L1, 0x7c01, 1);
    st = run(100);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, 0x7c03);
}

/*
 * Before the fetch: a breakpoint on an unmapped address stops with CR2
 * untouched; resuming takes the fetch's #PF.
 */
static void test_breakpoint_before_fetch_fault(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        0xb8, 0x00, 0x00, 0x20, 0x00,   /* mov eax, 0x200000 (unmapped) */
        0xff, 0xe0,                     /* jmp rax                      */
    };
    boot_long(code, sizeof code, false);
    gates(IDT, 32, L1HANDLER(0));
    one_breakpoint(0x200000, SVMX_DEBUG_L1, 0);
    svmx_stop st = run(100);
    expect_debug(&st, SVMX_DEBUG_BREAKPOINT, SVMX_LEVEL_L1, 0x200000, 2);
    assert_int_equal(sregs().cr2, 0);
    st = run(100);
    expect_l1_fault(&st, 14);
    assert_int_equal(sregs().cr2, 0x200000);
}

/*
 * Before the guest's own instruction breakpoint on the same address (DR0,
 * DR7.L0, R/W 00): the embedder's stop leaves DR6 alone; resuming gives
 * the guest its #DB fault.
 */
static void test_breakpoint_before_guest_dr7(void **state)
{
    (void)state;
    static const uint8_t code[] = { 0x90, 0x90, 0xf4 };
    boot_long(code, sizeof code, false);
    gates(IDT, 32, L1HANDLER(0));
    svmx_dregs dr;
    svmx_cpu_get_dregs(m.cpu, &dr);
    dr.dr[0] = 0x7c01;
    dr.dr7 = 0x401;
    assert_int_equal(svmx_cpu_set_dregs(m.cpu, &dr), SVMX_OK);
    one_breakpoint(0x7c01, SVMX_DEBUG_L1, 0);
    svmx_stop st = run(100);
    expect_debug(&st, SVMX_DEBUG_BREAKPOINT, SVMX_LEVEL_L1, 0x7c01, 1);
    svmx_cpu_get_dregs(m.cpu, &dr);
    assert_int_equal(dr.dr6 & 0xf, 0);
    st = run(100);
    expect_l1_fault(&st, 1);
    svmx_cpu_get_dregs(m.cpu, &dr);
    assert_int_equal(dr.dr6 & 0xf, 1);
    assert_int_equal(get(reg(SVMX_RSP), 8), 0x7c01); /* a fault: its RIP */
}

/* After the event of the boundary: a breakpoint on the NMI handler's
 * first instruction stops there, the frame already pushed. */
static void test_breakpoint_after_event_delivery(void **state)
{
    (void)state;
    static const uint8_t code[] = { 0x90, 0xf4 };
    boot_long(code, sizeof code, false);
    gates(IDT, 32, L1HANDLER(0));
    one_breakpoint(L1HANDLER(2), SVMX_DEBUG_L1, 0);
    assert_int_equal(svmx_cpu_inject_nmi(m.cpu), SVMX_OK);
    svmx_stop st = run(100);
    expect_debug(&st, SVMX_DEBUG_BREAKPOINT, SVMX_LEVEL_L1, L1HANDLER(2), 0);
    assert_int_equal(get(reg(SVMX_RSP), 8), 0x7c00);
    st = run(100);
    expect_l1_fault(&st, 2);
}

/* svmx_cpu_step: STEP after an instruction, BREAKPOINT (nothing
 * executed) when the next one has one, then STEP over it. */
static void test_step_and_breakpoint(void **state)
{
    (void)state;
    static const uint8_t code[] = { 0x90, 0xff, 0xc0, 0xf4 };
    boot_long(code, sizeof code, false);
    one_breakpoint(0x7c01, SVMX_DEBUG_L1, 0);
    svmx_stop st;
    assert_int_equal(svmx_cpu_step(m.cpu, &st), SVMX_OK);
    expect_debug(&st, SVMX_DEBUG_STEP, SVMX_LEVEL_L1, 0x7c01, 1);
    assert_int_equal(svmx_cpu_step(m.cpu, &st), SVMX_OK);
    expect_debug(&st, SVMX_DEBUG_BREAKPOINT, SVMX_LEVEL_L1, 0x7c01, 0);
    assert_int_equal(reg(SVMX_RAX), 0);
    assert_int_equal(svmx_cpu_step(m.cpu, &st), SVMX_OK);
    expect_debug(&st, SVMX_DEBUG_STEP, SVMX_LEVEL_L1, 0x7c03, 1);
    assert_int_equal(reg(SVMX_RAX), 1);
}

/* Set from a port handler in the middle of a run: the hooks hold from
 * the next boundary, even in a loop the fast loop would run. */
static svmx_status arm_on_out(void *ctx, uint16_t port, unsigned size,
                              uint32_t value)
{
    (void)ctx, (void)port, (void)size, (void)value;
    svmx_debug d = { .nbreakpoints = 1 };
    d.breakpoints[0] = (svmx_breakpoint){ 0x7c02, SVMX_DEBUG_L1 };
    return svmx_cpu_set_debug(m.cpu, &d);
}

static void test_set_from_a_handler(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        0xe6, 0x80,                     /* 7c00 out 0x80, al */
        0xff, 0xc0,                     /* 7c02 inc eax      */
        0xeb, 0xfc,                     /* 7c04 jmp 7c02     */
    };
    boot_long(code, sizeof code, false);
    m.io.pio_out = arm_on_out;
    svmx_stop st = run(1000);
    expect_debug(&st, SVMX_DEBUG_BREAKPOINT, SVMX_LEVEL_L1, 0x7c02, 1);
    assert_int_equal(reg(SVMX_RAX), 0);
    st = run(1000);
    expect_debug(&st, SVMX_DEBUG_BREAKPOINT, SVMX_LEVEL_L1, 0x7c02, 2);
    assert_int_equal(reg(SVMX_RAX), 1);
}

/* ============================================================ nested == */

/*
 * In L2, before L1's intercept: the breakpoint on an intercepted CPUID
 * stops with no #VMEXIT written; resuming gives L1 its CPUID exit. A
 * breakpoint for L1 at the same address does not stop L2, and one for L2
 * on L1's VMRUN does not stop L1.
 */
static void test_breakpoint_before_l1_intercept(void **state)
{
    (void)state;
    static const uint8_t guest[] = { 0x0f, 0xa2, 0xf4 };
    setup(guest, sizeof guest);
    icpt(SVMX_SVM_INTERCEPT_CPUID);
    vset(SVMX_VMCB_EXITCODE, MARKER);
    one_breakpoint(GCODE, SVMX_DEBUG_L2, 0);
    svmx_stop st = run_vm(1000);
    expect_debug(&st, SVMX_DEBUG_BREAKPOINT, SVMX_LEVEL_L2, GCODE, 2);
    assert_int_equal(vout(SVMX_VMCB_EXITCODE), MARKER);
    st = run(1000);
    check_exit(&st, SVMX_SVM_EXIT_CPUID, 0, 0, GCODE, GCODE + 2);

    setup(guest, sizeof guest);
    icpt(SVMX_SVM_INTERCEPT_CPUID);
    svmx_debug d = { .nbreakpoints = 2 };
    d.breakpoints[0] = (svmx_breakpoint){ GCODE, SVMX_DEBUG_L1 };
    d.breakpoints[1] = (svmx_breakpoint){ L1_VMRUN, SVMX_DEBUG_L2 };
    hooks(&d);
    expect_exit(SVMX_SVM_EXIT_CPUID, 0, 0, GCODE, GCODE + 2);

    /* For L1 on its VMRUN: stops before it, out of guest mode. */
    setup(guest, sizeof guest);
    one_breakpoint(L1_VMRUN, SVMX_DEBUG_L1, 0);
    st = run_vm(1000);
    expect_debug(&st, SVMX_DEBUG_BREAKPOINT, SVMX_LEVEL_L1, L1_VMRUN, 1);
}

/*
 * INT3 for the embedder: in L2 before L1's #BP intercept (no #VMEXIT, RIP
 * on the INT3); resuming gives L1 the intercept (RIP the INT3, NRIP the
 * next). For L1 alone, L2's INT3 goes to L1 at once; in L1, L1's own IDT
 * takes it after the resume. INT 3 (CD 03) is not INT3.
 */
static void test_int3(void **state)
{
    (void)state;
    static const uint8_t guest[] = { 0xcc, 0xf4 };
    setup(guest, sizeof guest);
    icpt(SVMX_SVM_INTERCEPT_EXCEPTION(3));
    vset(SVMX_VMCB_EXITCODE, MARKER);
    hooks(&(svmx_debug){ .int3 = SVMX_DEBUG_L2 });
    svmx_stop st = run_vm(1000);
    expect_debug(&st, SVMX_DEBUG_INT3, SVMX_LEVEL_L2, GCODE, 2);
    assert_int_equal(vout(SVMX_VMCB_EXITCODE), MARKER);
    st = run(1000);
    check_exit(&st, SVMX_SVM_EXIT_EXCP(3), 0, 0, GCODE, GCODE + 1);

    setup(guest, sizeof guest);
    icpt(SVMX_SVM_INTERCEPT_EXCEPTION(3));
    hooks(&(svmx_debug){ .int3 = SVMX_DEBUG_L1 });
    expect_exit(SVMX_SVM_EXIT_EXCP(3), 0, 0, GCODE, GCODE + 1);

    /* L1's INT3, and L1's INT 3. */
    static const uint8_t l1[] = { 0xcc, 0xcd, 0x03, 0xf4 };
    boot_long(l1, sizeof l1, false);
    gates(IDT, 32, L1HANDLER(0));
    hooks(&(svmx_debug){ .int3 = SVMX_DEBUG_L1 | SVMX_DEBUG_L2 });
    st = run(100);
    expect_debug(&st, SVMX_DEBUG_INT3, SVMX_LEVEL_L1, 0x7c00, 0);
    assert_int_equal(reg(SVMX_RSP), 0x7000);    /* nothing pushed */
    st = run(100);
    expect_l1_fault(&st, 3);
    assert_int_equal(get(reg(SVMX_RSP), 8), 0x7c01); /* a trap: next RIP */
    set_rip(0x7c01);
    wake();
    st = run(100);
    expect_l1_fault(&st, 3);
    assert_int_equal(get(reg(SVMX_RSP), 8), 0x7c03);
}

/*
 * INT3 in a loop the fast loop runs, with a #BP handler that returns:
 * each arrival stops again, the pass of a resume being for its own
 * boundary only, whichever way the loop comes back to the INT3.
 */
static void test_int3_in_a_loop(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        0xcc,                           /* 7c00 int3         */
        0xff, 0xc0,                     /* 7c01 inc eax      */
        0x83, 0xf8, 0x03,               /* 7c03 cmp eax, 3   */
        0x75, 0xf8,                     /* 7c06 jne 7c00     */
        0xf4,                           /* 7c08 hlt          */
    };
    boot_long(code, sizeof code, false);
    gates(IDT, 32, L1HANDLER(0));
    m.ram[L1HANDLER(3)] = 0x48;         /* iretq             */
    m.ram[L1HANDLER(3) + 1] = 0xcf;
    hooks(&(svmx_debug){ .int3 = SVMX_DEBUG_L1 });
    svmx_stop st = run(1000);
    expect_debug(&st, SVMX_DEBUG_INT3, SVMX_LEVEL_L1, 0x7c00, 0);
    for (unsigned pass = 1; pass < 3; pass++) {
        st = run(1000);
        /* INT3, IRETQ, INC, CMP, JNE */
        expect_debug(&st, SVMX_DEBUG_INT3, SVMX_LEVEL_L1, 0x7c00, 5);
        assert_int_equal(reg(SVMX_RAX), pass);
        assert_int_equal(reg(SVMX_RSP), 0x7000);
    }
    st = run(1000);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.insns, 6);              /* ... and HLT */
    assert_int_equal(reg(SVMX_RAX), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_debug_validation, fixture_teardown),
        cmocka_unit_test_teardown(test_breakpoint_in_a_loop, fixture_teardown),
        cmocka_unit_test_teardown(test_resume_once_and_there, fixture_teardown),
        cmocka_unit_test_teardown(test_breakpoint_before_fetch_fault,
                                  fixture_teardown),
        cmocka_unit_test_teardown(test_breakpoint_before_guest_dr7,
                                  fixture_teardown),
        cmocka_unit_test_teardown(test_breakpoint_after_event_delivery,
                                  fixture_teardown),
        cmocka_unit_test_teardown(test_step_and_breakpoint, fixture_teardown),
        cmocka_unit_test_teardown(test_set_from_a_handler, fixture_teardown),
        cmocka_unit_test_teardown(test_breakpoint_before_l1_intercept,
                                  fixture_teardown),
        cmocka_unit_test_teardown(test_int3, fixture_teardown),
        cmocka_unit_test_teardown(test_int3_in_a_loop, fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
