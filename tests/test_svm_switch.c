/*
 * tests/test_svm_switch.c - what the world switch reads and writes of the
 * VMCB page, byte for byte, and the intercept words VMRUN keeps when a VMM
 * runs one VMCB many times (src/svm/vmrun.c, vmexit.c).
 *
 * The machine is svm_fixture.h's. References: APM Vol. 2 15.5.1 (VMRUN),
 * 15.6 and 15.7.1 (#VMEXIT), Table B-1 and B-2 (the VMCB).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "cpu/cpu_internal.h"
#include "svm_fixture.h"

/*
 * The fields #VMEXIT may write for an instruction intercept with NRIP
 * save, no nested paging and no decode-assist bytes (15.6, 15.7.1, Table
 * B-1), transcribed from docs/svm.md "#VMEXIT" rather than taken from
 * vmexit.c.
 */
static const svmx_vmcb_field exit_written[] = {
    SVMX_VMCB_ES_SELECTOR, SVMX_VMCB_ES_ATTRIB, SVMX_VMCB_ES_LIMIT,
    SVMX_VMCB_ES_BASE, SVMX_VMCB_CS_SELECTOR, SVMX_VMCB_CS_ATTRIB,
    SVMX_VMCB_CS_LIMIT, SVMX_VMCB_CS_BASE, SVMX_VMCB_SS_SELECTOR,
    SVMX_VMCB_SS_ATTRIB, SVMX_VMCB_SS_LIMIT, SVMX_VMCB_SS_BASE,
    SVMX_VMCB_DS_SELECTOR, SVMX_VMCB_DS_ATTRIB, SVMX_VMCB_DS_LIMIT,
    SVMX_VMCB_DS_BASE, SVMX_VMCB_GDTR_LIMIT, SVMX_VMCB_GDTR_BASE,
    SVMX_VMCB_IDTR_LIMIT, SVMX_VMCB_IDTR_BASE, SVMX_VMCB_CPL,
    SVMX_VMCB_EFER, SVMX_VMCB_CR4, SVMX_VMCB_CR3, SVMX_VMCB_CR2,
    SVMX_VMCB_CR0, SVMX_VMCB_DR7, SVMX_VMCB_DR6, SVMX_VMCB_RFLAGS,
    SVMX_VMCB_RIP, SVMX_VMCB_RSP, SVMX_VMCB_RAX, SVMX_VMCB_V_TPR,
    SVMX_VMCB_V_IRQ, SVMX_VMCB_INTERRUPT_SHADOW, SVMX_VMCB_EXITCODE,
    SVMX_VMCB_EXITINFO1, SVMX_VMCB_EXITINFO2, SVMX_VMCB_EXITINTINFO,
    SVMX_VMCB_EVENTINJ, SVMX_VMCB_NRIP,
};

static bool written_at_exit(size_t off)
{
    for (size_t i = 0; i < sizeof exit_written / sizeof exit_written[0]; i++) {
        const svmx_vmcb_field_info *f = svmx_vmcb_field_info_of(exit_written[i]);
        if (off >= f->offset && off < (size_t)f->offset + f->width)
            return true;
    }
    return false;
}

/*
 * #VMEXIT writes the listed fields and no other byte of the page: the
 * reserved bytes, the intercepts and other controls, and the state
 * VMLOAD/VMSAVE own keep what the VMM put there (15.6). The reserved
 * bytes get a pattern and an intercept bit of a feature that is not
 * advertised is set, which the model's copy of the page does not hold,
 * so writing either back would show.
 */
static void test_exit_writes_only_its_fields(void **state)
{
    (void)state;
    static const uint8_t guest[] = { 0x0f, 0xa2 }; /* cpuid */
    uint8_t before[SVMX_VMCB_SIZE];
    setup(guest, sizeof guest);
    icpt(SVMX_SVM_INTERCEPT_CPUID);
    icpt(SVMX_SVM_INTERCEPT_XSETBV); /* cleared in the model's copy only */
    for (size_t off = 0; off < SVMX_VMCB_SIZE; off++) {
        const svmx_vmcb_field_info *f = NULL;
        for (size_t i = 0; (f = svmx_vmcb_field_at(i)) != NULL; i++)
            if (off >= f->offset && off < (size_t)f->offset + f->width)
                break;
        if (!f)                       /* reserved: any pattern */
            vm.bytes[off] = (uint8_t)(0xa5 ^ off);
    }
    vset(SVMX_VMCB_FS_BASE, 0x1122334455667788ull);
    vset(SVMX_VMCB_KERNEL_GS_BASE, 0x8877665544332211ull);
    vset(SVMX_VMCB_SYSENTER_EIP, 0xfeedull);
    vset(SVMX_VMCB_PAUSE_FILTER_COUNT, 0x1234);
    vset(SVMX_VMCB_AVIC_LOGICAL_TABLE, 0xabcdef000ull);
    vset(SVMX_VMCB_SPEC_CTRL, 0x5);
    vset(SVMX_VMCB_GUEST_INSTR_BYTES_COUNT, 0x7);
    memcpy(before, vm.bytes, sizeof before);

    expect_exit(SVMX_SVM_EXIT_CPUID, 0, 0, GCODE, GCODE + 2);
    for (size_t off = 0; off < SVMX_VMCB_SIZE; off++) {
        if (written_at_exit(off))
            continue;
        if (m.ram[VMCB + off] != before[off])
            fail_msg("#VMEXIT wrote byte %#zx (%#x, was %#x)", off,
                     m.ram[VMCB + off], before[off]);
    }
    /* The exit fields were written: a few of them changed. */
    assert_int_equal(vout(SVMX_VMCB_EXITCODE), SVMX_SVM_EXIT_CPUID);
    assert_int_equal(vout(SVMX_VMCB_NRIP), GCODE + 2);
}

/* The cached copy's intercept bit n. */
static bool cached_icpt(unsigned n)
{
    return svmx_svm_intercept_test(&m.cpu->svm.vmcb, n);
}

/*
 * One VMCB run again and again, its intercept words changed or not
 * between the runs: the cached words are always the page's, reduced to
 * the advertised features (the XSETBV intercept is not, CPUID 1 ECX[26]
 * being clear), whether they changed or not since the previous run
 * (15.5.1: VMRUN loads the controls on every run).
 */
static void test_intercepts_across_runs(void **state)
{
    (void)state;
    static const uint8_t guest[] = { 0x0f, 0xa2, 0xf4 }; /* cpuid; hlt */
    static const struct {
        bool cpuid, xsetbv;   /* the page's intercept bits for this run */
        uint64_t exit, rip, nrip;
    } runs[] = {
        { true, true, SVMX_SVM_EXIT_CPUID, GCODE, GCODE + 2 },   /* first  */
        { true, false, SVMX_SVM_EXIT_CPUID, GCODE, GCODE + 2 },  /* = copy */
        { true, false, SVMX_SVM_EXIT_CPUID, GCODE, GCODE + 2 },  /* again  */
        { false, false, SVMX_SVM_EXIT_HLT, GCODE + 2, GCODE + 3 },
        { false, true, SVMX_SVM_EXIT_HLT, GCODE + 2, GCODE + 3 },
        { false, true, SVMX_SVM_EXIT_HLT, GCODE + 2, GCODE + 3 },
        { true, false, SVMX_SVM_EXIT_CPUID, GCODE, GCODE + 2 },
    };
    setup(guest, sizeof guest); /* a new CPU: its copy is all zero */
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        svmx_svm_intercept_set(&vm, SVMX_SVM_INTERCEPT_CPUID, runs[i].cpuid);
        svmx_svm_intercept_set(&vm, SVMX_SVM_INTERCEPT_XSETBV, runs[i].xsetbv);
        svmx_stop st = run_vm(100);
        check_exit(&st, runs[i].exit, 0, 0, runs[i].rip, runs[i].nrip);
        if (cached_icpt(SVMX_SVM_INTERCEPT_CPUID) != runs[i].cpuid ||
            cached_icpt(SVMX_SVM_INTERCEPT_XSETBV) ||
            !cached_icpt(SVMX_SVM_INTERCEPT_VMRUN) ||
            !cached_icpt(SVMX_SVM_INTERCEPT_HLT))
            fail_msg("run %zu: cached intercepts are not the page's, reduced",
                     i);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_exit_writes_only_its_fields,
                                  fixture_teardown),
        cmocka_unit_test_teardown(test_intercepts_across_runs,
                                  fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
