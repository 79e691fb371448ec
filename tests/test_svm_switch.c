/*
 * tests/test_svm_switch.c - what the world switch reads and writes of the
 * VMCB page, byte for byte, the intercept words VMRUN keeps when a VMM
 * runs one VMCB many times (src/svm/vmrun.c, vmexit.c), and the TLB
 * contexts the switch selects (src/cpu/paging.c): the host's and each
 * guest ASID's translations kept apart and kept across switches,
 * TLB_CONTROL, INVLPGA, global pages, and the paging inputs (CR3, nCR3)
 * whose change flushes a context; and the exit an intercepted
 * instruction records, against the router's decision.
 *
 * The machine is svm_fixture.h's. References: APM Vol. 2 15.5.1 (VMRUN),
 * 15.6 and 15.7.1 (#VMEXIT), 15.16 (TLB control, INVLPGA), 15.25 (nested
 * paging), Table B-1 and B-2 (the VMCB).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "cpu/cpu_internal.h"
#include "svm/svm_exec.h"
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

/* ------------------------------------------------------ TLB contexts -- */

/*
 * Page tables for the TLB tests, in the RAM below 1 MiB that the fixture
 * leaves free. A 4-level set (svm_fixture's identity_tables) maps the
 * first 2 MiB identically with 4 KiB pages, user and writable, so that
 * guest code, stack, GDT and IDT are where the fixture put them. A test then points single pages elsewhere and asks
 * paging_translate() what the current context answers: a fresh walk gives
 * the tables' new target, a retained entry the old one.
 */
#define GPT   0x40000u       /* the guest's tables (no nested paging)      */
#define NPTA  0x44000u       /* nested tables A                            */
#define NPTB  0x48000u       /* nested tables B                            */
#define PG_X  0x50000u       /* pages the tests remap                      */
#define PG_Z  0x51000u
#define PG_G  0x52000u       /* mapped global (G = 1)                      */
#define PG_Y  0x200000u      /* a 2 MiB page, in the host's tables too     */
#define TGT(n) (0x60000u + (n) * 0x1000u)  /* 4 KiB targets               */
#define BIG(n) (0x400000ull + (n) * 0x200000ull) /* 2 MiB targets         */
#define PTE_G 0x100u


static void map4k(uint32_t base, uint32_t lin, uint64_t phys, uint64_t bits)
{
    put64(base + 0x3000 + 8 * ((lin >> 12) & 511), phys | 7 | bits);
}

static void map2m(uint32_t pd, uint32_t lin, uint64_t phys)
{
    put64(pd + 8 * ((lin >> 21) & 511), phys | 0x87);
}

/* The host's 2 MiB page at PG_Y (its PD is the fixture's, at 0x12000). */
static void host_y(uint64_t phys)
{
    map2m(0x12000, PG_Y, phys);
}

/* What the current context translates `lin` to, for a supervisor read. */
static uint64_t xl(uint64_t lin)
{
    uint64_t phys = 0;
    cpu_fault f;
    assert_int_equal(paging_translate(m.cpu, lin, PG_READ, &phys, &f), CPU_OK);
    return phys;
}

/* L1 runs `mov rax, VMCB; vmrun` and stops with the guest about to run
 * its first instruction; the guest's HLT (intercepted) then brings L1
 * back to its own HLT. */
static void enter(void)
{
    svmx_stop st = run_vm(2);
    assert_int_equal(st.reason, SVMX_STOP_BUDGET);
    assert_true(m.cpu->svm.guest);
}

static void leave(void)
{
    svmx_stop st = run(10);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, L1_AFTER + 1);
    assert_false(m.cpu->svm.guest);
}

/* L1 executes INVLPGA with rAX = lin, ECX = asid (then HLT). */
static void invlpga(uint64_t lin, uint32_t asid)
{
    static const uint8_t code[] = { 0x0f, 0x01, 0xdf, 0xf4 };
    memcpy(m.ram + 0x7d00, code, sizeof code);
    wake();
    svmx_regs r;
    svmx_cpu_get_regs(m.cpu, &r);
    r.rip = 0x7d00;
    r.gpr[SVMX_RAX] = lin;
    r.gpr[SVMX_RCX] = asid;
    svmx_cpu_set_regs(m.cpu, &r);
    svmx_stop st = run(10);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, 0x7d04);
}

/* The fixture's machine with a guest on its own tables at GPT: PG_X,
 * PG_Z and PG_G (global, with the guest's CR4.PGE) at TGT(0..2), PG_Y a
 * 2 MiB page at BIG(0); the host's PG_Y at BIG(1). ASID 1. */
static void tlb_setup(void)
{
    setup(NULL, 0);
    identity_tables(GPT);
    map4k(GPT, PG_X, TGT(0), 0);
    map4k(GPT, PG_Z, TGT(1), 0);
    map4k(GPT, PG_G, TGT(2), PTE_G);
    map2m(GPT + 0x2000, PG_Y, BIG(0));
    host_y(BIG(1));
    vset(SVMX_VMCB_CR3, GPT);
    vset(SVMX_VMCB_CR4, 0xa0); /* PAE, PGE */
}

/*
 * The host and a guest translate the same linear addresses through
 * different tables; each context gets its own answer, before and after
 * the other ran, through the TLB (paging_translate) and through the
 * hostmap (guest and host code loading from PG_X). 15.16: entries are
 * tagged with the ASID, the host's being ASID 0.
 */
static void test_tlb_contexts_apart(void **state)
{
    (void)state;
    static const uint8_t l1[] = {
        0x48, 0x8b, 0x1c, 0x25, 0x00, 0x00, 0x05, 0x00, /* mov rbx, [PG_X] */
        0x48, 0xc7, 0xc0, 0x00, 0x40, 0x00, 0x00,       /* mov rax, VMCB   */
        0x0f, 0x01, 0xd8,                               /* vmrun           */
        0x48, 0x8b, 0x14, 0x25, 0x00, 0x00, 0x05, 0x00, /* mov rdx, [PG_X] */
        0xf4,
    };
    static const uint8_t guest[] = {
        0x48, 0x8b, 0x0c, 0x25, 0x00, 0x00, 0x05, 0x00, /* mov rcx, [PG_X] */
        0xf4,
    };
    tlb_setup();
    assert_int_equal(xl(PG_X + 8), PG_X + 8);        /* host, cached    */
    assert_int_equal(xl(PG_Y), BIG(1));
    enter();
    assert_int_equal(xl(PG_X + 8), TGT(0) + 8);      /* not the host's  */
    assert_int_equal(xl(PG_Y), BIG(0));
    leave();
    assert_int_equal(xl(PG_X + 8), PG_X + 8);        /* not the guest's */
    assert_int_equal(xl(PG_Y), BIG(1));

    /* The same through the hostmap, twice: the second time every context
     * has its entries already. */
    setup_l1(SVMX_VENDOR_AMD, l1, sizeof l1, guest, sizeof guest, false);
    identity_tables(GPT);
    map4k(GPT, PG_X, TGT(0), 0);
    vset(SVMX_VMCB_CR3, GPT);
    put64(PG_X, 0x1111);
    put64(TGT(0), 0x2222);
    for (int i = 0; i < 2; i++) {
        set_reg(SVMX_RBX, 0);
        set_reg(SVMX_RCX, 0);
        set_reg(SVMX_RDX, 0);
        svmx_stop st = run_vm(100);
        assert_int_equal(st.reason, SVMX_STOP_HLT);
        assert_int_equal(st.rip, 0x7c00 + sizeof l1);
        assert_int_equal(reg(SVMX_RBX), 0x1111);
        assert_int_equal(reg(SVMX_RCX), 0x2222); /* GPRs stay the guest's */
        assert_int_equal(reg(SVMX_RDX), 0x1111);
    }
}

/*
 * TLB_CONTROL (15.16.1, Table 15-9), one row each. Every context caches
 * its translations, then L1 repoints all of them in memory without any
 * invalidation and runs the guest again with the row's TLB_CONTROL: a
 * retained entry gives the old target, a flushed one the new. The model
 * retains whatever TLB_CONTROL does not flush (docs/svm.md), as hardware
 * may: a guest whose tables changed while it was out sees the old
 * translation until it, or its VMM, invalidates it.
 */
static void test_tlb_control(void **state)
{
    (void)state;
    static const struct {
        uint8_t tlb_control;
        bool g_fresh, n_fresh, host_fresh;  /* global, non-global, host */
    } rows[] = {
        { 0x00, false, false, false },   /* do nothing                  */
        { 0x01, true, true, true },      /* flush everything            */
        { 0x03, true, true, false },     /* this guest's entries        */
        { 0x07, false, true, false },    /* this guest's non-global     */
        { 0x02, true, true, true },      /* reserved: as 1 (docs/svm.md) */
        { 0xff, true, true, true },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        tlb_setup();
        assert_int_equal(xl(PG_Y), BIG(1));
        enter();                                  /* a new context: walks */
        assert_int_equal(xl(PG_G), TGT(2));
        assert_int_equal(xl(PG_X), TGT(0));
        leave();
        map4k(GPT, PG_G, TGT(5), PTE_G);
        map4k(GPT, PG_X, TGT(6), 0);
        host_y(BIG(2));
        vset(SVMX_VMCB_TLB_CONTROL, rows[i].tlb_control);
        enter();
        if (xl(PG_G) != (rows[i].g_fresh ? TGT(5) : TGT(2)) ||
            xl(PG_X) != (rows[i].n_fresh ? TGT(6) : TGT(0)))
            fail_msg("TLB_CONTROL %#x: guest entries", rows[i].tlb_control);
        leave();
        if (xl(PG_Y) != (rows[i].host_fresh ? BIG(2) : BIG(1)))
            fail_msg("TLB_CONTROL %#x: host entry", rows[i].tlb_control);
    }
}

/*
 * INVLPGA (APM Vol. 3 INVLPGA) drops exactly the translation of (rAX,
 * ECX): other pages of that ASID, the same page of the host, and every
 * page of other ASIDs stay; for a 2 MiB page any address inside it will
 * do; ASID 0 is the host; an ASID nothing is cached for is a no-op.
 */
static void test_invlpga_exact(void **state)
{
    (void)state;
    tlb_setup();
    assert_int_equal(xl(PG_Y), BIG(1));
    enter();
    assert_int_equal(xl(PG_X), TGT(0));
    assert_int_equal(xl(PG_Z), TGT(1));
    assert_int_equal(xl(PG_Y), BIG(0));
    leave();
    map4k(GPT, PG_X, TGT(5), 0);
    map4k(GPT, PG_Z, TGT(6), 0);
    map2m(GPT + 0x2000, PG_Y, BIG(2));
    host_y(BIG(3));

    invlpga(PG_X + 0x123, 1);
    invlpga(PG_Y, 7);                 /* no context holds ASID 7   */
    assert_int_equal(xl(PG_Y), BIG(1));  /* the host's stays       */
    enter();
    assert_int_equal(xl(PG_X), TGT(5));  /* dropped                */
    assert_int_equal(xl(PG_Z), TGT(1));  /* kept                   */
    assert_int_equal(xl(PG_Y), BIG(0));
    leave();

    invlpga(PG_Y + 0x1234, 0);        /* the host's 2 MiB page     */
    assert_int_equal(xl(PG_Y), BIG(3));
    enter();
    assert_int_equal(xl(PG_Y), BIG(0));  /* ASID 1's stays         */
    leave();
    invlpga(PG_Y + 0x1ff000, 1);      /* its last 4 KiB, ASID 1    */
    enter();
    assert_int_equal(xl(PG_Y), BIG(2));
    assert_int_equal(xl(PG_Z), TGT(1));
    leave();
}

/*
 * Global pages (CR4.PGE) are per ASID too (15.16): a MOV CR3 in the guest
 * (paging_flush keeping globals, what insn_system.c calls) drops the
 * guest's non-global entries only, and none of the host's; another ASID
 * with the same CR3 never sees the first one's global entry; each ASID
 * keeps its own across the other's runs.
 */
static void test_tlb_global_pages(void **state)
{
    (void)state;
    tlb_setup();
    assert_int_equal(xl(PG_Y), BIG(1));
    enter();
    assert_int_equal(xl(PG_G), TGT(2));
    assert_int_equal(xl(PG_X), TGT(0));
    map4k(GPT, PG_G, TGT(5), PTE_G);
    map4k(GPT, PG_X, TGT(6), 0);
    host_y(BIG(2));
    paging_flush(m.cpu, true);                /* MOV CR3 in the guest */
    assert_int_equal(xl(PG_G), TGT(2));
    assert_int_equal(xl(PG_X), TGT(6));
    leave();
    assert_int_equal(xl(PG_Y), BIG(1));       /* not the host's       */

    vset(SVMX_VMCB_GUEST_ASID, 2);
    enter();
    assert_int_equal(xl(PG_G), TGT(5));       /* ASID 1's is not seen */
    map4k(GPT, PG_G, TGT(7), PTE_G);
    leave();
    vset(SVMX_VMCB_GUEST_ASID, 1);
    enter();
    assert_int_equal(xl(PG_G), TGT(2));       /* ASID 1's own, kept   */
    leave();
    vset(SVMX_VMCB_GUEST_ASID, 2);
    enter();
    assert_int_equal(xl(PG_G), TGT(5));       /* and ASID 2's         */
    leave();
}

/*
 * A context is flushed when the guest comes back with other paging
 * inputs than it left with - here another CR3, then another CR4, then
 * another CR0 (WP) - even with TLB_CONTROL 0, where hardware would keep
 * the ASID's entries and the VMM owes the flush: the model never uses an
 * entry made from other tables (paging.h, paging_enter).
 */
static void test_tlb_inputs_changed(void **state)
{
    (void)state;
    tlb_setup();
    enter();
    assert_int_equal(xl(PG_X), TGT(0));
    leave();
    identity_tables(0x70000);
    map4k(0x70000, PG_X, TGT(5), 0);
    vset(SVMX_VMCB_CR3, 0x70000);
    enter();
    assert_int_equal(xl(PG_X), TGT(5));
    leave();
    map4k(0x70000, PG_X, TGT(6), 0);
    enter();
    assert_int_equal(xl(PG_X), TGT(5));       /* same inputs: kept     */
    leave();
    vset(SVMX_VMCB_CR4, 0x20);                /* PGE off               */
    enter();
    assert_int_equal(xl(PG_X), TGT(6));
    leave();
    map4k(0x70000, PG_X, TGT(7), 0);
    enter();
    assert_int_equal(xl(PG_X), TGT(6));       /* same inputs: kept     */
    leave();
    vset(SVMX_VMCB_CR0, svmx_vmcb_get(&vm, SVMX_VMCB_CR0) ^ (1u << 16));
    enter();
    assert_int_equal(xl(PG_X), TGT(7));       /* CR0.WP changed        */
    leave();
}

/*
 * Nested paging (15.25): the guest's entries are combined translations
 * through nCR3's tables. Another nCR3 never reuses them, nor does the
 * old nCR3 again once another was used; L1 editing the nested tables of
 * an unchanged nCR3 without TLB_CONTROL may get the old combined
 * translation - one the tables gave when it was made, never anything
 * else - and TLB_CONTROL 3 gives the new one.
 */
static void test_tlb_nested(void **state)
{
    (void)state;
    tlb_setup();
    identity_tables(NPTA);
    identity_tables(NPTB);
    map4k(NPTA, TGT(0), TGT(8), 0);           /* gpa TGT(0) -> hpa     */
    map4k(NPTB, TGT(0), TGT(9), 0);
    vset(SVMX_VMCB_NP_ENABLE, SVMX_VMCB_NP_ENABLE_BIT);
    vset(SVMX_VMCB_N_CR3, NPTA);
    vset(SVMX_VMCB_G_PAT, 0x0007040600070406ull);
    enter();
    assert_true(m.cpu->svm.np);
    assert_int_equal(xl(PG_X), TGT(8));
    leave();
    vset(SVMX_VMCB_N_CR3, NPTB);
    enter();
    assert_int_equal(xl(PG_X), TGT(9));
    leave();
    vset(SVMX_VMCB_N_CR3, NPTA);
    map4k(NPTA, TGT(0), TGT(10), 0);
    enter();
    assert_int_equal(xl(PG_X), TGT(10));      /* walked again          */
    leave();
    map4k(NPTA, TGT(0), TGT(11), 0);
    enter();
    assert_int_equal(xl(PG_X), TGT(10));      /* kept: no TLB_CONTROL  */
    leave();
    vset(SVMX_VMCB_TLB_CONTROL, SVMX_SVM_TLB_FLUSH_ASID);
    enter();
    assert_int_equal(xl(PG_X), TGT(11));
    leave();
    /* The same ASID without nested paging: never the combined entry. */
    vset(SVMX_VMCB_TLB_CONTROL, 0);
    vset(SVMX_VMCB_NP_ENABLE, 0);
    enter();
    assert_int_equal(xl(PG_X), TGT(0));
    leave();
}

static unsigned hook_calls;

static void count_hook(void *opaque, const svmx_decision *d)
{
    (void)opaque, (void)d;
    hook_calls++;
}

/*
 * An instruction intercept's record (svm_insn_exit, which skips building
 * the router's record in the common case: nested_l2_reflects) against the
 * router's decision for the same event (nested_route on
 * nested_exit_init's record): every exit code with an intercept bit and
 * no refine step, its bit set and clear, with and without decode assists
 * (whose EXITINFO1 bits a CPU without them reports as 0, 15.33), and
 * with a route hook, which sees every decision.
 */
static void test_intercept_record_is_the_routers(void **state)
{
    (void)state;
    static const uint8_t guest[] = { 0xf4 }; /* hlt */
    const uint64_t info1 = 0xfedcba9876543210ull, info2 = 0x1234;
    setup(guest, sizeof guest);
    enter();
    svmx_cpu *cpu = m.cpu;
    uint32_t features = cpu->svm.features;
    for (unsigned k = 0; k < 8; k++) {
        bool hit = k & 1, assists = k & 2, hooked = k & 4;
        cpu->svm.features = assists
            ? features | SVMX_SVM_FEATURE_DECODE_ASSISTS
            : features & ~(uint32_t)SVMX_SVM_FEATURE_DECODE_ASSISTS;
        svmx_cpu_set_route_hook(cpu, hooked ? count_hook : NULL, NULL);
        for (uint64_t code = 0; code < NESTED_SVM_DENSE; code++) {
            if (nested_svm_refine[code])
                continue;
            svmx_svm_intercept_set(&cpu->svm.vmcb, (unsigned)code, hit);
            svmx_decision d = { .route = SVMX_ROUTE_ARCH };
            nested_exit_init(cpu, &d.exit, code, info1, info2);
            assert_int_equal(nested_route(cpu, &d), SVMX_OK);
            cpu->svm.pending.valid = false;
            hook_calls = 0;
            cpu_res r = svm_insn_exit(cpu, code, info1, info2);
            assert_int_equal(hook_calls, hooked ? 1 : 0);
            if (d.route != SVMX_ROUTE_REFLECT) {
                assert_int_not_equal(r, CPU_EXIT);
                assert_false(cpu->svm.pending.valid);
                continue;
            }
            const svm_exit *e = &cpu->svm.pending.exit;
            assert_int_equal(r, CPU_EXIT);
            assert_true(cpu->svm.pending.valid);
            assert_int_equal(e->code, d.exit.code);
            assert_int_equal(e->info1, d.exit.info1);
            assert_int_equal(e->info2, info2);
            assert_int_equal(e->intinfo, 0);
            assert_int_equal(e->nrip, cpu->regs.rip);
        }
    }
    cpu->svm.pending.valid = false;
    cpu->svm.features = features;
    svmx_cpu_set_route_hook(cpu, NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_exit_writes_only_its_fields,
                                  fixture_teardown),
        cmocka_unit_test_teardown(test_intercepts_across_runs,
                                  fixture_teardown),
        cmocka_unit_test_teardown(test_tlb_contexts_apart, fixture_teardown),
        cmocka_unit_test_teardown(test_tlb_control, fixture_teardown),
        cmocka_unit_test_teardown(test_invlpga_exact, fixture_teardown),
        cmocka_unit_test_teardown(test_tlb_global_pages, fixture_teardown),
        cmocka_unit_test_teardown(test_tlb_inputs_changed, fixture_teardown),
        cmocka_unit_test_teardown(test_tlb_nested, fixture_teardown),
        cmocka_unit_test_teardown(test_intercept_record_is_the_routers,
                                  fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
