/*
 * tests/test_cpu.c - the CPU object, its reset state, the state API, the
 * MSR store and CPUID of both personalities.
 *
 * Through the public API, except where a test walks the MSR table itself
 * (cpu/msr.h), so that every row is exercised and a new row is tested the
 * day it is added. Table-driven cases name the failing row.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "svmx/svmx.h"
#include "cpu/msr.h"
#include "test_util.h"

#define V_AMD   (1u << SVMX_VENDOR_AMD)
#define V_INTEL (1u << SVMX_VENDOR_INTEL)
#define V_BOTH  (V_AMD | V_INTEL)

static const svmx_vendor vendors[] = { SVMX_VENDOR_AMD, SVMX_VENDOR_INTEL };

static uint8_t ram[4096];

static svmx_cpu *new_cpu(svmx_vendor vendor)
{
    svmx_config cfg = { .vendor = vendor, .ram = ram,
                        .ram_size = sizeof ram, .io = NULL };
    svmx_cpu *cpu = NULL;
    assert_int_equal(svmx_cpu_create(&cfg, &cpu), SVMX_OK);
    assert_non_null(cpu);
    return cpu;
}

static uint64_t msr(const svmx_cpu *cpu, uint32_t index)
{
    uint64_t v = 0xdeadbeef;
    assert_int_equal(svmx_cpu_get_msr(cpu, index, &v), SVMX_OK);
    return v;
}

static svmx_sregs sregs_of(const svmx_cpu *cpu)
{
    svmx_sregs s;
    assert_int_equal(svmx_cpu_get_sregs(cpu, &s), SVMX_OK);
    return s;
}

static svmx_cpuid_result cpuid(const svmx_cpu *cpu, uint32_t leaf,
                               uint32_t subleaf)
{
    svmx_cpuid_result r;
    assert_int_equal(svmx_cpu_cpuid(cpu, leaf, subleaf, &r), SVMX_OK);
    return r;
}

static bool seg_equal(const svmx_segment *a, const svmx_segment *b)
{
    return a->base == b->base && a->limit == b->limit &&
           a->selector == b->selector && a->attr == b->attr;
}

/* Field by field: the structs have padding memcmp would read. */
static bool sregs_equal(const svmx_sregs *a, const svmx_sregs *b)
{
    for (unsigned i = 0; i < SVMX_SREG_COUNT; i++)
        if (!seg_equal(&a->seg[i], &b->seg[i]))
            return false;
    return a->gdt.base == b->gdt.base && a->gdt.limit == b->gdt.limit &&
           a->idt.base == b->idt.base && a->idt.limit == b->idt.limit &&
           a->cr0 == b->cr0 && a->cr2 == b->cr2 && a->cr3 == b->cr3 &&
           a->cr4 == b->cr4 && a->cr8 == b->cr8 && a->efer == b->efer &&
           a->xcr0 == b->xcr0;
}

static bool events_equal(const svmx_events *a, const svmx_events *b)
{
    return a->activity == b->activity && a->gif == b->gif &&
           a->shadow == b->shadow && a->nmi_pending == b->nmi_pending &&
           a->nmi_masked == b->nmi_masked &&
           a->smi_pending == b->smi_pending &&
           a->irq_pending == b->irq_pending &&
           a->irq_vector == b->irq_vector &&
           a->exc_pending == b->exc_pending &&
           a->exc_vector == b->exc_vector &&
           a->exc_has_error == b->exc_has_error &&
           a->exc_error == b->exc_error && a->exc_payload == b->exc_payload &&
           a->init_pending == b->init_pending;
}

/* ------------------------------------------------- creation and memory -- */

static void test_vendor_names(void **state)
{
    (void)state;
    assert_string_equal(svmx_vendor_name(SVMX_VENDOR_AMD), "amd");
    assert_string_equal(svmx_vendor_name(SVMX_VENDOR_INTEL), "intel");
    assert_string_equal(svmx_vendor_name(SVMX_VENDOR_COUNT), "?");
    assert_string_equal(svmx_vendor_name((svmx_vendor)-1), "?");
}

static void test_create_destroy(void **state)
{
    (void)state;
    assert_true(svmx_cpu_size() > 0);
    assert_int_equal(svmx_cpu_size() % SVMX_CPU_ALIGN, 0);
    for (size_t v = 0; v < COUNT_OF(vendors); v++) {
        svmx_cpu *cpu = new_cpu(vendors[v]);
        assert_int_equal((uintptr_t)cpu % SVMX_CPU_ALIGN, 0);
        assert_int_equal(svmx_cpu_vendor(cpu), vendors[v]);
        const svmx_mem *m = svmx_cpu_mem(cpu);
        assert_non_null(m);
        assert_ptr_equal(m->ram, ram);
        assert_int_equal(m->ram_size, sizeof ram);
        assert_null(m->io);
        svmx_cpu_destroy(cpu);
    }
    svmx_cpu_destroy(NULL);

    /* No RAM at all is a valid machine. */
    svmx_config cfg = { .vendor = SVMX_VENDOR_AMD };
    svmx_cpu *cpu = NULL;
    assert_int_equal(svmx_cpu_create(&cfg, &cpu), SVMX_OK);
    svmx_cpu_destroy(cpu);
}

static void test_create_bad_config(void **state)
{
    (void)state;
    svmx_cpu *cpu = NULL;
    svmx_config bad_vendor = { .vendor = SVMX_VENDOR_COUNT };
    assert_int_equal(svmx_cpu_create(&bad_vendor, &cpu), SVMX_E_ARG);
    svmx_config no_ram = { .vendor = SVMX_VENDOR_AMD, .ram = NULL,
                           .ram_size = 4096 };
    assert_int_equal(svmx_cpu_create(&no_ram, &cpu), SVMX_E_ARG);
    assert_null(cpu);
}

static void test_init_caller_memory(void **state)
{
    (void)state;
    size_t size = svmx_cpu_size();
    uint8_t *buf = aligned_alloc(SVMX_CPU_ALIGN, size + SVMX_CPU_ALIGN);
    assert_non_null(buf);
    svmx_config cfg = { .vendor = SVMX_VENDOR_INTEL, .ram = ram,
                        .ram_size = sizeof ram };
    svmx_cpu *cpu = NULL;

    assert_int_equal(svmx_cpu_init(buf, size - 1, &cfg, &cpu), SVMX_E_ARG);
    assert_int_equal(svmx_cpu_init(buf + 8, size, &cfg, &cpu), SVMX_E_ARG);
    assert_int_equal(svmx_cpu_init(buf + 1, size + 32, &cfg, &cpu),
                     SVMX_E_ARG);
    assert_int_equal(svmx_cpu_init(NULL, size, &cfg, &cpu), SVMX_E_ARG);
    assert_int_equal(svmx_cpu_init(buf, size, NULL, &cpu), SVMX_E_ARG);
    assert_int_equal(svmx_cpu_init(buf, size, &cfg, NULL), SVMX_E_ARG);
    svmx_config bad = cfg;
    bad.vendor = (svmx_vendor)7;
    assert_int_equal(svmx_cpu_init(buf, size, &bad, &cpu), SVMX_E_ARG);
    assert_null(cpu);

    assert_int_equal(svmx_cpu_init(buf, size, &cfg, &cpu), SVMX_OK);
    assert_ptr_equal(cpu, buf);
    assert_int_equal(svmx_cpu_vendor(cpu), SVMX_VENDOR_INTEL);
    svmx_regs r;
    assert_int_equal(svmx_cpu_get_regs(cpu, &r), SVMX_OK);
    assert_int_equal(r.rip, 0xfff0);
    /* Destroy leaves caller memory alone; freeing it is the caller's. */
    svmx_cpu_destroy(cpu);
    free(buf);
}

static void test_null_arguments(void **state)
{
    (void)state;
    svmx_cpu *cpu = new_cpu(SVMX_VENDOR_AMD);
    svmx_regs regs;
    svmx_sregs sregs;
    svmx_dregs dregs;
    svmx_events events;
    svmx_cpuid_result id;
    uint64_t v;

    assert_int_equal(svmx_cpu_create(NULL, &cpu), SVMX_E_ARG);
    svmx_config cfg = { .vendor = SVMX_VENDOR_AMD };
    assert_int_equal(svmx_cpu_create(&cfg, NULL), SVMX_E_ARG);
    assert_int_equal(svmx_cpu_reset(NULL), SVMX_E_ARG);
    assert_int_equal(svmx_cpu_vendor(NULL), SVMX_VENDOR_COUNT);
    assert_null(svmx_cpu_mem(NULL));
    assert_int_equal(svmx_cpu_mode(NULL), SVMX_MODE_COUNT);

    assert_int_equal(svmx_cpu_get_regs(NULL, &regs), SVMX_E_ARG);
    assert_int_equal(svmx_cpu_get_regs(cpu, NULL), SVMX_E_ARG);
    assert_int_equal(svmx_cpu_set_regs(NULL, &regs), SVMX_E_ARG);
    assert_int_equal(svmx_cpu_set_regs(cpu, NULL), SVMX_E_ARG);
    assert_int_equal(svmx_cpu_get_sregs(NULL, &sregs), SVMX_E_ARG);
    assert_int_equal(svmx_cpu_get_sregs(cpu, NULL), SVMX_E_ARG);
    assert_int_equal(svmx_cpu_set_sregs(NULL, &sregs), SVMX_E_ARG);
    assert_int_equal(svmx_cpu_set_sregs(cpu, NULL), SVMX_E_ARG);
    assert_int_equal(svmx_cpu_get_dregs(NULL, &dregs), SVMX_E_ARG);
    assert_int_equal(svmx_cpu_get_dregs(cpu, NULL), SVMX_E_ARG);
    assert_int_equal(svmx_cpu_set_dregs(NULL, &dregs), SVMX_E_ARG);
    assert_int_equal(svmx_cpu_set_dregs(cpu, NULL), SVMX_E_ARG);
    assert_int_equal(svmx_cpu_get_events(NULL, &events), SVMX_E_ARG);
    assert_int_equal(svmx_cpu_get_events(cpu, NULL), SVMX_E_ARG);
    assert_int_equal(svmx_cpu_set_events(NULL, &events), SVMX_E_ARG);
    assert_int_equal(svmx_cpu_set_events(cpu, NULL), SVMX_E_ARG);
    assert_int_equal(svmx_cpu_get_msr(NULL, 0x10, &v), SVMX_E_ARG);
    assert_int_equal(svmx_cpu_get_msr(cpu, 0x10, NULL), SVMX_E_ARG);
    assert_int_equal(svmx_cpu_set_msr(NULL, 0x10, 0), SVMX_E_ARG);
    assert_int_equal(svmx_cpu_cpuid(NULL, 0, 0, &id), SVMX_E_ARG);
    assert_int_equal(svmx_cpu_cpuid(cpu, 0, 0, NULL), SVMX_E_ARG);
    svmx_cpu_destroy(cpu);
}

/* --------------------------------------------------------- reset state -- */

static void check_reset_state(const svmx_cpu *cpu, svmx_vendor vendor)
{
    static const uint32_t signature[SVMX_VENDOR_COUNT] = {
        [SVMX_VENDOR_AMD] = 0x00830f10, [SVMX_VENDOR_INTEL] = 0x00050654,
    };
    svmx_regs r;
    assert_int_equal(svmx_cpu_get_regs(cpu, &r), SVMX_OK);
    /* SDM Vol. 3A 10.1.1 Table 10-1, APM Vol. 2 14.1.3. */
    assert_int_equal(r.rip, 0xfff0);
    assert_int_equal(r.rflags, 0x2);
    for (unsigned i = 0; i < SVMX_GPR_COUNT; i++)
        EXPECT(r.gpr[i] == (i == SVMX_RDX ? signature[vendor] : 0),
               "%s gpr %u = %#llx", svmx_vendor_name(vendor), i,
               (unsigned long long)r.gpr[i]);
    assert_int_equal(r.gpr[SVMX_RDX], cpuid(cpu, 1, 0).eax);

    svmx_sregs s = sregs_of(cpu);
    static const struct {
        svmx_sreg reg;
        uint16_t  selector;
        uint64_t  base;
        uint16_t  attr;
    } segs[] = {
        { SVMX_ES, 0, 0, 0x93 },          { SVMX_CS, 0xf000, 0xffff0000, 0x9b },
        { SVMX_SS, 0, 0, 0x93 },          { SVMX_DS, 0, 0, 0x93 },
        { SVMX_FS, 0, 0, 0x93 },          { SVMX_GS, 0, 0, 0x93 },
        { SVMX_LDTR, 0, 0, 0x82 },        { SVMX_TR, 0, 0, 0x8b },
    };
    for (size_t i = 0; i < COUNT_OF(segs); i++) {
        const svmx_segment *g = &s.seg[segs[i].reg];
        EXPECT(g->selector == segs[i].selector && g->base == segs[i].base &&
               g->limit == 0xffff && g->attr == segs[i].attr,
               "%s segment %u: sel %#x base %#llx limit %#x attr %#x",
               svmx_vendor_name(vendor), (unsigned)segs[i].reg, g->selector,
               (unsigned long long)g->base, g->limit, g->attr);
    }
    assert_int_equal(s.gdt.base, 0);
    assert_int_equal(s.gdt.limit, 0xffff);
    assert_int_equal(s.idt.base, 0);
    assert_int_equal(s.idt.limit, 0xffff);
    assert_int_equal(s.cr0, 0x60000010);
    assert_int_equal(s.cr2, 0);
    assert_int_equal(s.cr3, 0);
    assert_int_equal(s.cr4, 0);
    assert_int_equal(s.cr8, 0);
    assert_int_equal(s.efer, 0);
    assert_int_equal(s.xcr0, 1);

    svmx_dregs d;
    assert_int_equal(svmx_cpu_get_dregs(cpu, &d), SVMX_OK);
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(d.dr[i], 0);
    assert_int_equal(d.dr6, 0xffff0ff0);
    assert_int_equal(d.dr7, 0x400);

    svmx_events e;
    assert_int_equal(svmx_cpu_get_events(cpu, &e), SVMX_OK);
    svmx_events want = { .activity = SVMX_ACTIVITY_ACTIVE, .gif = true };
    assert_true(events_equal(&e, &want));

    assert_int_equal(msr(cpu, CPU_MSR_IA32_TSC), 0);
    assert_int_equal(msr(cpu, CPU_MSR_IA32_EFER), 0);
    assert_int_equal(msr(cpu, CPU_MSR_IA32_PAT), 0x0007040600070406ull);
    assert_int_equal(msr(cpu, CPU_MSR_IA32_APIC_BASE), 0xfee00900);
    assert_int_equal(svmx_cpu_mode(cpu), SVMX_MODE_REAL);
}

static void test_reset_state(void **state)
{
    (void)state;
    for (size_t v = 0; v < COUNT_OF(vendors); v++) {
        svmx_cpu *cpu = new_cpu(vendors[v]);
        check_reset_state(cpu, vendors[v]);
        svmx_cpu_destroy(cpu);
    }
}

static void test_reset_again(void **state)
{
    (void)state;
    for (size_t v = 0; v < COUNT_OF(vendors); v++) {
        svmx_cpu *cpu = new_cpu(vendors[v]);
        svmx_regs r = { .gpr = { 1, 2, 3 }, .rip = 0x1234, .rflags = 0x246 };
        assert_int_equal(svmx_cpu_set_regs(cpu, &r), SVMX_OK);
        svmx_sregs s = sregs_of(cpu);
        s.cr0 = 0x80000011;
        s.efer = 0x500;
        s.seg[SVMX_CS].selector = 8;
        assert_int_equal(svmx_cpu_set_sregs(cpu, &s), SVMX_OK);
        svmx_dregs d = { .dr = { 1, 2, 3, 4 }, .dr6 = 0xf, .dr7 = 0xff };
        assert_int_equal(svmx_cpu_set_dregs(cpu, &d), SVMX_OK);
        svmx_events e = { .activity = SVMX_ACTIVITY_HLT, .nmi_pending = 1,
                          .init_pending = 1 };
        assert_int_equal(svmx_cpu_set_events(cpu, &e), SVMX_OK);
        assert_int_equal(svmx_cpu_set_msr(cpu, CPU_MSR_IA32_TSC, 99), SVMX_OK);
        assert_int_equal(svmx_cpu_set_msr(cpu, CPU_MSR_IA32_STAR, 7), SVMX_OK);
        assert_int_equal(svmx_cpu_set_msr(cpu, CPU_MSR_IA32_PAT, 0),
                         SVMX_OK);

        assert_int_equal(svmx_cpu_reset(cpu), SVMX_OK);
        check_reset_state(cpu, vendors[v]);
        assert_int_equal(msr(cpu, CPU_MSR_IA32_STAR), 0);
        svmx_cpu_destroy(cpu);
    }
}

/* ---------------------------------------------------- state round trips -- */

static void test_regs_round_trip(void **state)
{
    (void)state;
    svmx_cpu *cpu = new_cpu(SVMX_VENDOR_AMD);
    svmx_regs in, out;
    for (unsigned i = 0; i < SVMX_GPR_COUNT; i++)
        in.gpr[i] = 0x0123456789abcdefull * (i + 1);
    in.rip = 0xffffffff81000000ull;
    in.rflags = 0x246;
    assert_int_equal(svmx_cpu_set_regs(cpu, &in), SVMX_OK);
    assert_int_equal(svmx_cpu_get_regs(cpu, &out), SVMX_OK);
    for (unsigned i = 0; i < SVMX_GPR_COUNT; i++)
        assert_int_equal(out.gpr[i], in.gpr[i]);
    assert_int_equal(out.rip, in.rip);
    assert_int_equal(out.rflags, 0x246);
    svmx_cpu_destroy(cpu);
}

static void test_rflags_masking(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        uint64_t    in, out;
    } cases[] = {
        { "zero gets bit 1",         0x0,                0x2 },
        { "all ones",                UINT64_MAX,         0x3f7fd7 },
        { "reserved 3, 5, 15",       0x8028,             0x2 },
        { "bits 63:22",              ~0x3fffffull,       0x2 },
        { "every defined flag",      SVMX_RFLAGS_DEFINED, 0x3f7fd7 },
        { "IF ZF",                   0x242,              0x242 },
        { "ID VIP VIF AC VM RF NT",  0x3f4000,           0x3f4002 },
    };
    svmx_cpu *cpu = new_cpu(SVMX_VENDOR_INTEL);
    for (size_t i = 0; i < COUNT_OF(cases); i++) {
        svmx_regs r = { .rflags = cases[i].in };
        assert_int_equal(svmx_cpu_set_regs(cpu, &r), SVMX_OK);
        assert_int_equal(svmx_cpu_get_regs(cpu, &r), SVMX_OK);
        EXPECT(r.rflags == cases[i].out, "rflags case %zu (%s): got %#llx",
               i, cases[i].what, (unsigned long long)r.rflags);
    }
    svmx_cpu_destroy(cpu);
}

/* A long-mode state every personality accepts. */
static svmx_sregs long_mode_sregs(void)
{
    svmx_sregs s = { 0 };
    for (unsigned i = 0; i < SVMX_SREG_COUNT; i++)
        s.seg[i] = (svmx_segment){ .base = 0x1000 * i, .limit = 0xffffffff,
                                   .selector = (uint16_t)(8 * i),
                                   .attr = 0xc93 };
    s.seg[SVMX_CS].attr = 0xa9b;
    s.seg[SVMX_FS].base = 0xffff800000001000ull;
    s.seg[SVMX_LDTR].attr = SVMX_SEG_ATTR_UNUSABLE;
    s.seg[SVMX_TR].attr = 0x8b;
    s.gdt = (svmx_dtable){ 0xffffffff81000000ull, 0x7f };
    s.idt = (svmx_dtable){ 0xffffffff81001000ull, 0xfff };
    s.cr0 = 0x80050033;
    s.cr2 = 0xdeadbeefcafe;
    s.cr3 = 0x0000fffffffff000ull;
    s.cr4 = 0x3000b0;  /* PAE PGE PSE SMEP SMAP */
    s.cr8 = 15;
    s.efer = 0xd01;
    s.xcr0 = 1;
    return s;
}

static void test_sregs_round_trip(void **state)
{
    (void)state;
    for (size_t v = 0; v < COUNT_OF(vendors); v++) {
        svmx_cpu *cpu = new_cpu(vendors[v]);
        svmx_sregs in = long_mode_sregs();
        assert_int_equal(svmx_cpu_set_sregs(cpu, &in), SVMX_OK);
        svmx_sregs out = sregs_of(cpu);
        assert_true(sregs_equal(&in, &out));
        assert_int_equal(svmx_cpu_mode(cpu), SVMX_MODE_LONG64);
        svmx_cpu_destroy(cpu);
    }
}

typedef enum sfield {
    F_CR0, F_CR3, F_CR4, F_CR8, F_EFER, F_XCR0, F_CS_ATTR, F_TR_ATTR
} sfield;

typedef struct sregs_case {
    const char *what;
    unsigned    vendors;
    sfield      field;
    uint64_t    value;
    bool        accepted;
} sregs_case;

/* cpu.h svmx_cpu_set_sregs: what the host may and may not set. */
static const sregs_case sregs_cases[] = {
    { "CR0 bit 32",                V_BOTH,  F_CR0,  0x160000010ull,     false },
    { "CR0 bit 63",                V_BOTH,  F_CR0,  1ull << 63 | 0x11,  false },
    { "CR0 PG without PE",         V_BOTH,  F_CR0,  0x80000000ull,      true  },
    { "CR0 CD NW ET PE",           V_BOTH,  F_CR0,  0x60000011ull,      true  },
    { "CR4 VME (no VME)",          V_BOTH,  F_CR4,  1ull << 0,          false },
    { "CR4 PVI (no VME)",          V_BOTH,  F_CR4,  1ull << 1,          false },
    { "CR4 DE",                    V_BOTH,  F_CR4,  1ull << 3,          true },
    { "CR4 MCE (no MCE)",          V_BOTH,  F_CR4,  1ull << 6,          false },
    { "CR4 OSFXSR (no FXSR)",      V_BOTH,  F_CR4,  1ull << 9,          false },
    { "CR4 OSXMMEXCPT (no SSE)",   V_BOTH,  F_CR4,  1ull << 10,         false },
    { "CR4 UMIP",                  V_BOTH,  F_CR4,  1ull << 11,         false },
    { "CR4 LA57",                  V_BOTH,  F_CR4,  1ull << 12,         false },
    { "CR4 VMXE on AMD",           V_AMD,   F_CR4,  1ull << 13,         false },
    { "CR4 VMXE on Intel",         V_INTEL, F_CR4,  1ull << 13,         true  },
    { "CR4 SMXE",                  V_BOTH,  F_CR4,  1ull << 14,         false },
    { "CR4 bit 15",                V_BOTH,  F_CR4,  1ull << 15,         false },
    { "CR4 FSGSBASE",              V_BOTH,  F_CR4,  1ull << 16,         false },
    { "CR4 PCIDE (no PCID)",       V_BOTH,  F_CR4,  1ull << 17,         false },
    { "CR4 OSXSAVE (no XSAVE)",    V_BOTH,  F_CR4,  1ull << 18,         false },
    { "CR4 PKE",                   V_BOTH,  F_CR4,  1ull << 22,         false },
    { "CR4 bit 63",                V_BOTH,  F_CR4,  1ull << 63,         false },
    { "CR4 TSD PSE PAE PGE PCE SMEP SMAP", V_BOTH, F_CR4, 0x3001b4,     true  },
    { "EFER SVME on AMD",          V_AMD,   F_EFER, 1ull << 12,         true  },
    { "EFER SVME on Intel",        V_INTEL, F_EFER, 1ull << 12,         false },
    { "EFER LMSLE (not advertised)", V_AMD, F_EFER, 1ull << 13,         false },
    { "EFER FFXSR (not advertised)", V_AMD, F_EFER, 1ull << 14,         false },
    { "EFER TCE (not advertised)", V_AMD,   F_EFER, 1ull << 15,         false },
    { "EFER bit 1",                V_BOTH,  F_EFER, 1ull << 1,          false },
    { "EFER bit 9",                V_BOTH,  F_EFER, 1ull << 9,          false },
    { "EFER bit 63",               V_BOTH,  F_EFER, 1ull << 63,         false },
    { "EFER SCE LME LMA NXE",      V_BOTH,  F_EFER, 0xd01,              true  },
    { "EFER LMA without LME",      V_BOTH,  F_EFER, 1ull << 10,         true  },
    { "CR3 bit 48 (MAXPHYADDR 48)", V_BOTH, F_CR3,  1ull << 48,         false },
    { "CR3 bit 63",                V_BOTH,  F_CR3,  1ull << 63,         false },
    { "CR3 bits 47:0",             V_BOTH,  F_CR3,  0xffffffffffffull,  true  },
    { "CR8 16",                    V_BOTH,  F_CR8,  16,                 false },
    { "CR8 bit 63",                V_BOTH,  F_CR8,  1ull << 63,         false },
    { "CR8 15",                    V_BOTH,  F_CR8,  15,                 true  },
    { "XCR0 0 (x87 clear)",        V_BOTH,  F_XCR0, 0,                  false },
    { "XCR0 x87 SSE (no SSE)",     V_BOTH,  F_XCR0, 3,                  false },
    { "XCR0 bit 63",               V_BOTH,  F_XCR0, 1ull << 63 | 1,     false },
    { "XCR0 x87",                  V_BOTH,  F_XCR0, 1,                  true  },
    { "CS attr bit 13",            V_BOTH,  F_CS_ATTR, 0x209b,          false },
    { "TR attr bit 15",            V_BOTH,  F_TR_ATTR, 0x808b,          false },
    { "CS attr unusable bit 12",   V_BOTH,  F_CS_ATTR, 0x109b,          true  },
    { "CS attr all 13 bits",       V_BOTH,  F_CS_ATTR, 0x1fff,          true  },
};

static void apply(svmx_sregs *s, sfield field, uint64_t v)
{
    switch (field) {
    case F_CR0:     s->cr0 = v; break;
    case F_CR3:     s->cr3 = v; break;
    case F_CR4:     s->cr4 = v; break;
    case F_CR8:     s->cr8 = v; break;
    case F_EFER:    s->efer = v; break;
    case F_XCR0:    s->xcr0 = v; break;
    case F_CS_ATTR: s->seg[SVMX_CS].attr = (uint16_t)v; break;
    case F_TR_ATTR: s->seg[SVMX_TR].attr = (uint16_t)v; break;
    }
}

static void test_sregs_validation(void **state)
{
    (void)state;
    for (size_t v = 0; v < COUNT_OF(vendors); v++) {
        svmx_cpu *cpu = new_cpu(vendors[v]);
        const char *vn = svmx_vendor_name(vendors[v]);
        for (size_t i = 0; i < COUNT_OF(sregs_cases); i++) {
            const sregs_case *c = &sregs_cases[i];
            if (!(c->vendors & (1u << vendors[v])))
                continue;
            assert_int_equal(svmx_cpu_reset(cpu), SVMX_OK);
            svmx_sregs before = sregs_of(cpu);
            svmx_sregs in = before;
            apply(&in, c->field, c->value);
            svmx_status st = svmx_cpu_set_sregs(cpu, &in);
            svmx_sregs after = sregs_of(cpu);
            if (c->accepted) {
                EXPECT(st == SVMX_OK, "%s case %zu (%s): refused (%s)", vn,
                       i, c->what, svmx_status_name(st));
                EXPECT(sregs_equal(&after, &in),
                       "%s case %zu (%s): not stored as given", vn, i,
                       c->what);
            } else {
                EXPECT(st == SVMX_E_STATE, "%s case %zu (%s): got %s", vn,
                       i, c->what, svmx_status_name(st));
                EXPECT(sregs_equal(&after, &before),
                       "%s case %zu (%s): refused but state changed", vn, i,
                       c->what);
            }
        }
        svmx_cpu_destroy(cpu);
    }
}

static void test_dregs(void **state)
{
    (void)state;
    svmx_cpu *cpu = new_cpu(SVMX_VENDOR_AMD);
    svmx_dregs in = { .dr = { 0x1000, 0xffffffff81000000ull, 3, 4 },
                      .dr6 = 0, .dr7 = 0 };
    svmx_dregs out;
    assert_int_equal(svmx_cpu_set_dregs(cpu, &in), SVMX_OK);
    assert_int_equal(svmx_cpu_get_dregs(cpu, &out), SVMX_OK);
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(out.dr[i], in.dr[i]);
    assert_int_equal(out.dr6, 0xffff0ff0);   /* fixed bits forced */
    assert_int_equal(out.dr7, 0x400);

    in.dr6 = 0xffffffff;                     /* bit 12 reads 0 */
    in.dr7 = 0xffffffff;                     /* bits 11, 12, 14, 15 read 0 */
    assert_int_equal(svmx_cpu_set_dregs(cpu, &in), SVMX_OK);
    assert_int_equal(svmx_cpu_get_dregs(cpu, &out), SVMX_OK);
    assert_int_equal(out.dr6, 0xffffefff);
    assert_int_equal(out.dr7, 0xffff27ff);

    in.dr6 = 0x4001;                         /* BS, B0 */
    in.dr7 = 0x2202;                         /* GD, GE, G0 */
    assert_int_equal(svmx_cpu_set_dregs(cpu, &in), SVMX_OK);
    assert_int_equal(svmx_cpu_get_dregs(cpu, &out), SVMX_OK);
    assert_int_equal(out.dr6, 0xffff4ff1);
    assert_int_equal(out.dr7, 0x2602);

    svmx_dregs bad = in;
    bad.dr6 = 1ull << 32;
    assert_int_equal(svmx_cpu_set_dregs(cpu, &bad), SVMX_E_STATE);
    bad = in;
    bad.dr7 = 1ull << 63;
    bad.dr[0] = 0x5555;
    assert_int_equal(svmx_cpu_set_dregs(cpu, &bad), SVMX_E_STATE);
    svmx_dregs same;
    assert_int_equal(svmx_cpu_get_dregs(cpu, &same), SVMX_OK);
    assert_int_equal(same.dr[0], out.dr[0]);
    assert_int_equal(same.dr6, out.dr6);
    assert_int_equal(same.dr7, out.dr7);
    svmx_cpu_destroy(cpu);
}

static void test_events(void **state)
{
    (void)state;
    for (size_t v = 0; v < COUNT_OF(vendors); v++) {
        svmx_cpu *cpu = new_cpu(vendors[v]);
        svmx_events in = {
            .activity = SVMX_ACTIVITY_WAIT_SIPI, .gif = false,
            .shadow = SVMX_SHADOW_STI | SVMX_SHADOW_MOVSS,
            .nmi_pending = true, .nmi_masked = true, .smi_pending = true,
            .irq_pending = true, .irq_vector = 0xfe, .exc_pending = true,
            .exc_vector = 14, .exc_has_error = true, .exc_error = 0x1b,
            .exc_payload = 0xdead000, .init_pending = true,
        };
        svmx_events out;
        assert_int_equal(svmx_cpu_set_events(cpu, &in), SVMX_OK);
        assert_int_equal(svmx_cpu_get_events(cpu, &out), SVMX_OK);
        /* GIF exists on SVM only; without it the CPU behaves as GIF=1. */
        svmx_events want = in;
        want.gif = vendors[v] == SVMX_VENDOR_INTEL;
        assert_true(events_equal(&out, &want));

        static const struct {
            const char *what;
            uint8_t     activity, shadow, exc_vector;
        } bad[] = {
            { "activity COUNT",  SVMX_ACTIVITY_COUNT, 0, 0 },
            { "activity 255",    255, 0, 0 },
            { "exc_vector 32",   0, 0, 32 },
            { "exc_vector 255",  0, 0, 255 },
            { "shadow bit 2",    0, 4, 0 },
            { "shadow 0x80",     0, 0x83, 0 },
        };
        for (size_t i = 0; i < COUNT_OF(bad); i++) {
            svmx_events e = { .activity = bad[i].activity, .gif = true,
                              .shadow = bad[i].shadow,
                              .exc_vector = bad[i].exc_vector };
            EXPECT(svmx_cpu_set_events(cpu, &e) == SVMX_E_STATE,
                   "events case %zu (%s) accepted", i, bad[i].what);
            assert_int_equal(svmx_cpu_get_events(cpu, &out), SVMX_OK);
            EXPECT(events_equal(&out, &want),
                   "events case %zu (%s) changed state", i, bad[i].what);
        }
        svmx_cpu_destroy(cpu);
    }
}

static void test_mode(void **state)
{
    (void)state;
    svmx_cpu *cpu = new_cpu(SVMX_VENDOR_INTEL);
    assert_int_equal(svmx_cpu_mode(cpu), SVMX_MODE_REAL);
    svmx_sregs s = sregs_of(cpu);
    s.cr0 |= 1;
    s.seg[SVMX_CS].attr |= SVMX_SEG_ATTR_DB;
    assert_int_equal(svmx_cpu_set_sregs(cpu, &s), SVMX_OK);
    assert_int_equal(svmx_cpu_mode(cpu), SVMX_MODE_PROT32);
    svmx_regs r = { .rflags = SVMX_RFLAGS_VM };
    assert_int_equal(svmx_cpu_set_regs(cpu, &r), SVMX_OK);
    assert_int_equal(svmx_cpu_mode(cpu), SVMX_MODE_V86);
    svmx_cpu_destroy(cpu);
}

/* --------------------------------------------------------------- MSRs -- */

/*
 * Every row of each vendor's table, by its own columns: the reset value
 * reads back, the writable bits can be set, ignored bits are dropped, a
 * fixed or reserved bit is refused and nothing changes.
 */
static void test_msr_rows(void **state)
{
    (void)state;
    for (size_t v = 0; v < COUNT_OF(vendors); v++) {
        svmx_cpu *cpu = new_cpu(vendors[v]);
        const char *vn = svmx_vendor_name(vendors[v]);
        size_t n = 0;
        const cpu_msr_row *rows = cpu_msr_rows(vendors[v], &n);
        assert_non_null(rows);
        assert_true(n > 10);
        for (size_t i = 0; i < n; i++) {
            const cpu_msr_row *row = &rows[i];
            uint64_t got = 0;
            assert_int_equal(svmx_cpu_reset(cpu), SVMX_OK);
            EXPECT(svmx_cpu_get_msr(cpu, row->index, &got) == SVMX_OK &&
                   got == row->reset,
                   "%s %s: reset %#llx, read %#llx", vn, row->name,
                   (unsigned long long)row->reset, (unsigned long long)got);
            EXPECT(cpu_msr_find(vendors[v], row->index) == row,
                   "%s %s: listed twice", vn, row->name);

            uint64_t w = cpu_msr_writable(cpu, row);
            if (row->flags & CPU_MSRF_RO) {
                EXPECT(svmx_cpu_set_msr(cpu, row->index, got) ==
                           SVMX_E_STATE,
                       "%s %s: read-only but written", vn, row->name);
                continue;
            }
            uint64_t all = (got & ~w) | w;
            svmx_status st = svmx_cpu_set_msr(cpu, row->index,
                                              all | row->ignored);
            EXPECT(st == SVMX_OK, "%s %s: writing %#llx: %s", vn, row->name,
                   (unsigned long long)(all | row->ignored),
                   svmx_status_name(st));
            EXPECT(msr(cpu, row->index) == all,
                   "%s %s: wrote %#llx, read %#llx", vn, row->name,
                   (unsigned long long)all,
                   (unsigned long long)msr(cpu, row->index));
            assert_int_equal(svmx_cpu_set_msr(cpu, row->index, got), SVMX_OK);
            EXPECT(msr(cpu, row->index) == got, "%s %s: no way back", vn,
                   row->name);

            uint64_t fixed = ~(w | row->ignored);
            if (fixed) {
                uint64_t bit = fixed & -fixed; /* lowest fixed bit */
                EXPECT(svmx_cpu_set_msr(cpu, row->index, got ^ bit) ==
                           SVMX_E_STATE,
                       "%s %s: fixed bit %#llx written", vn, row->name,
                       (unsigned long long)bit);
                while (fixed & (fixed - 1))
                    fixed &= fixed - 1;
                bit = fixed; /* highest fixed bit */
                EXPECT(svmx_cpu_set_msr(cpu, row->index, got ^ bit) ==
                           SVMX_E_STATE,
                       "%s %s: fixed bit %#llx written", vn, row->name,
                       (unsigned long long)bit);
                EXPECT(msr(cpu, row->index) == got,
                       "%s %s: refused write changed it", vn, row->name);
            }
        }
        svmx_cpu_destroy(cpu);
    }
}

/*
 * Which MSRs each personality has and their reset values, transcribed
 * from the manuals independently of msr.c: a row lost or misnumbered
 * there fails here.
 */
static const struct msr_expect {
    unsigned    vendors;
    uint32_t    index;
    uint64_t    reset;
    const char *name;
} msr_expected[] = {
    { V_BOTH,  0x00000010, 0,                     "IA32_TSC" },
    { V_BOTH,  0x0000001b, 0xfee00900,            "IA32_APIC_BASE" },
    { V_INTEL, 0x0000003a, 0,                     "IA32_FEATURE_CONTROL" },
    { V_BOTH,  0x00000174, 0,                     "IA32_SYSENTER_CS" },
    { V_BOTH,  0x00000175, 0,                     "IA32_SYSENTER_ESP" },
    { V_BOTH,  0x00000176, 0,                     "IA32_SYSENTER_EIP" },
    { V_INTEL, 0x000001a0, 0x1801,                "IA32_MISC_ENABLE" },
    { V_BOTH,  0x00000277, 0x0007040600070406ull, "IA32_PAT" },
    { V_BOTH,  0xc0000080, 0,                     "EFER" },
    { V_BOTH,  0xc0000081, 0,                     "STAR" },
    { V_BOTH,  0xc0000082, 0,                     "LSTAR" },
    { V_BOTH,  0xc0000083, 0,                     "CSTAR" },
    { V_BOTH,  0xc0000084, 0,                     "SFMASK" },
    { V_BOTH,  0xc0000100, 0,                     "FS_BASE" },
    { V_BOTH,  0xc0000101, 0,                     "GS_BASE" },
    { V_BOTH,  0xc0000102, 0,                     "KERNEL_GS_BASE" },
    { V_BOTH,  0xc0000103, 0,                     "TSC_AUX" },
    { V_AMD,   0xc0010114, 0,                     "VM_CR" },
    { V_AMD,   0xc0010117, 0,                     "VM_HSAVE_PA" },
    { V_AMD,   0xc0010000, 0,                     "PERF_CTL0" },
    { V_AMD,   0xc0010001, 0,                     "PERF_CTL1" },
    { V_AMD,   0xc0010002, 0,                     "PERF_CTL2" },
    { V_AMD,   0xc0010003, 0,                     "PERF_CTL3" },
    { V_AMD,   0xc0010004, 0,                     "PERF_CTR0" },
    { V_AMD,   0xc0010005, 0,                     "PERF_CTR1" },
    { V_AMD,   0xc0010006, 0,                     "PERF_CTR2" },
    { V_AMD,   0xc0010007, 0,                     "PERF_CTR3" },
    { V_INTEL, 0x00000480, 0,                     "IA32_VMX_BASIC" },
    { V_INTEL, 0x00000481, 0,                     "IA32_VMX_PINBASED_CTLS" },
    { V_INTEL, 0x00000482, 0,                     "IA32_VMX_PROCBASED_CTLS" },
    { V_INTEL, 0x00000483, 0,                     "IA32_VMX_EXIT_CTLS" },
    { V_INTEL, 0x00000484, 0,                     "IA32_VMX_ENTRY_CTLS" },
    { V_INTEL, 0x00000485, 0,                     "IA32_VMX_MISC" },
    { V_INTEL, 0x00000486, 0,                     "IA32_VMX_CR0_FIXED0" },
    { V_INTEL, 0x00000487, 0,                     "IA32_VMX_CR0_FIXED1" },
    { V_INTEL, 0x00000488, 0,                     "IA32_VMX_CR4_FIXED0" },
    { V_INTEL, 0x00000489, 0,                     "IA32_VMX_CR4_FIXED1" },
    { V_INTEL, 0x0000048a, 0,                     "IA32_VMX_VMCS_ENUM" },
    { V_INTEL, 0x0000048b, 0,                     "IA32_VMX_PROCBASED_CTLS2" },
    { V_INTEL, 0x0000048c, 0,                     "IA32_VMX_EPT_VPID_CAP" },
    { V_INTEL, 0x0000048d, 0,                     "IA32_VMX_TRUE_PINBASED_CTLS" },
    { V_INTEL, 0x0000048e, 0,                     "IA32_VMX_TRUE_PROCBASED_CTLS" },
    { V_INTEL, 0x0000048f, 0,                     "IA32_VMX_TRUE_EXIT_CTLS" },
    { V_INTEL, 0x00000490, 0,                     "IA32_VMX_TRUE_ENTRY_CTLS" },
    /* Absent everywhere: no VM functions, no MTRRs, no x2APIC. */
    { 0,       0x00000491, 0,                     "IA32_VMX_VMFUNC" },
    { 0,       0x000000fe, 0,                     "IA32_MTRRCAP" },
    { 0,       0x00000802, 0,                     "x2APIC ID" },
    { 0,       0x00000000, 0,                     "MSR 0" },
    { 0,       0x12345678, 0,                     "MSR 12345678h" },
    { 0,       0xc0000104, 0,                     "MSR C0000104h" },
    { 0,       0xc0010115, 0,                     "IGNNE" },
    { 0,       0xffffffff, 0,                     "MSR FFFFFFFFh" },
};

static bool is_cap(uint32_t index)
{
    return index >= 0x480 && index <= 0x491;
}

static void test_msr_presence(void **state)
{
    (void)state;
    for (size_t v = 0; v < COUNT_OF(vendors); v++) {
        svmx_cpu *cpu = new_cpu(vendors[v]);
        const char *vn = svmx_vendor_name(vendors[v]);
        for (size_t i = 0; i < COUNT_OF(msr_expected); i++) {
            const struct msr_expect *e = &msr_expected[i];
            bool present = e->vendors & (1u << vendors[v]);
            uint64_t val = 0;
            svmx_status st = svmx_cpu_get_msr(cpu, e->index, &val);
            EXPECT(st == (present ? SVMX_OK : SVMX_E_FIELD),
                   "%s %s (%#x): read %s", vn, e->name, e->index,
                   svmx_status_name(st));
            if (present && !is_cap(e->index))
                EXPECT(val == e->reset, "%s %s: reset %#llx", vn, e->name,
                       (unsigned long long)val);
            if (!present)
                EXPECT(svmx_cpu_set_msr(cpu, e->index, 0) == SVMX_E_FIELD,
                       "%s %s: absent but writable", vn, e->name);
            if (present && is_cap(e->index))
                EXPECT(svmx_cpu_set_msr(cpu, e->index, val) == SVMX_E_STATE,
                       "%s %s: capability MSR written", vn, e->name);
        }
        /* And nothing in the table that the transcription lacks. */
        size_t n;
        const cpu_msr_row *rows = cpu_msr_rows(vendors[v], &n);
        for (size_t r = 0; r < n; r++) {
            bool listed = false;
            for (size_t i = 0; i < COUNT_OF(msr_expected); i++)
                listed |= msr_expected[i].index == rows[r].index &&
                          (msr_expected[i].vendors & (1u << vendors[v]));
            EXPECT(listed, "%s %s: not in the transcription", vn,
                   rows[r].name);
        }
        svmx_cpu_destroy(cpu);
    }
    size_t n = 99;
    assert_null(cpu_msr_rows(SVMX_VENDOR_COUNT, &n));
    assert_int_equal(n, 0);
}

static void test_msr_efer_is_sregs_efer(void **state)
{
    (void)state;
    for (size_t v = 0; v < COUNT_OF(vendors); v++) {
        svmx_cpu *cpu = new_cpu(vendors[v]);
        assert_int_equal(svmx_cpu_set_msr(cpu, CPU_MSR_IA32_EFER, 0x901),
                         SVMX_OK);
        assert_int_equal(sregs_of(cpu).efer, 0x901);
        svmx_sregs s = sregs_of(cpu);
        s.efer = 0x500;
        assert_int_equal(svmx_cpu_set_sregs(cpu, &s), SVMX_OK);
        assert_int_equal(msr(cpu, CPU_MSR_IA32_EFER), 0x500);
        /* Same validation as set_sregs. */
        uint64_t svme = 1ull << 12;
        assert_int_equal(svmx_cpu_set_msr(cpu, CPU_MSR_IA32_EFER, svme),
                         vendors[v] == SVMX_VENDOR_AMD ? SVMX_OK
                                                       : SVMX_E_STATE);
        assert_int_equal(svmx_cpu_set_msr(cpu, CPU_MSR_IA32_EFER, 1ull << 13),
                         SVMX_E_STATE);
        assert_int_equal(svmx_cpu_set_msr(cpu, CPU_MSR_IA32_EFER, 1ull << 2),
                         SVMX_E_STATE);
        svmx_cpu_destroy(cpu);
    }
}

static void test_msr_segment_bases(void **state)
{
    (void)state;
    static const struct {
        uint32_t  index;
        svmx_sreg seg;
    } bases[] = { { CPU_MSR_IA32_FS_BASE, SVMX_FS },
                  { CPU_MSR_IA32_GS_BASE, SVMX_GS } };
    for (size_t v = 0; v < COUNT_OF(vendors); v++) {
        svmx_cpu *cpu = new_cpu(vendors[v]);
        for (size_t i = 0; i < COUNT_OF(bases); i++) {
            uint64_t a = 0xffff800012345000ull + i;
            assert_int_equal(svmx_cpu_set_msr(cpu, bases[i].index, a),
                             SVMX_OK);
            assert_int_equal(sregs_of(cpu).seg[bases[i].seg].base, a);
            svmx_sregs s = sregs_of(cpu);
            s.seg[bases[i].seg].base = 0x7fff0000 + i;
            assert_int_equal(svmx_cpu_set_sregs(cpu, &s), SVMX_OK);
            assert_int_equal(msr(cpu, bases[i].index), 0x7fff0000 + i);
        }
        /* KERNEL_GS_BASE is a register of its own. */
        assert_int_equal(svmx_cpu_set_msr(cpu, CPU_MSR_IA32_KERNEL_GS_BASE,
                                          0x1000), SVMX_OK);
        assert_int_equal(msr(cpu, CPU_MSR_IA32_GS_BASE), 0x7fff0001);
        svmx_cpu_destroy(cpu);
    }
}

typedef struct msr_case {
    const char *what;
    unsigned    vendors;
    uint32_t    index;
    uint64_t    value;
    svmx_status status;
    uint64_t    reads;     /* after an accepted write */
} msr_case;

/* SDM Vol. 2B WRMSR, SDM Vol. 3A 13.12.2, APM Vol. 2 15.30. */
static const msr_case msr_cases[] = {
    { "FS_BASE non-canonical",       V_BOTH, CPU_MSR_IA32_FS_BASE,
      0x0000800000000000ull, SVMX_E_STATE, 0 },
    { "FS_BASE highest canonical",   V_BOTH, CPU_MSR_IA32_FS_BASE,
      0x00007fffffffffffull, SVMX_OK, 0x00007fffffffffffull },
    { "GS_BASE non-canonical",       V_BOTH, CPU_MSR_IA32_GS_BASE,
      0xfffe000000000000ull, SVMX_E_STATE, 0 },
    { "KERNEL_GS_BASE non-canonical", V_BOTH, CPU_MSR_IA32_KERNEL_GS_BASE,
      0x8000000000000000ull, SVMX_E_STATE, 0 },
    { "KERNEL_GS_BASE canonical high", V_BOTH, CPU_MSR_IA32_KERNEL_GS_BASE,
      0xffff800000000000ull, SVMX_OK, 0xffff800000000000ull },
    { "LSTAR non-canonical",         V_BOTH, CPU_MSR_IA32_LSTAR,
      0x0001000000000000ull, SVMX_E_STATE, 0 },
    { "CSTAR non-canonical",         V_BOTH, CPU_MSR_IA32_CSTAR,
      0x0001000000000000ull, SVMX_E_STATE, 0 },
    { "STAR any value",              V_BOTH, CPU_MSR_IA32_STAR,
      0x0023001000000000ull, SVMX_OK, 0x0023001000000000ull },
    { "SFMASK bit 32",               V_BOTH, CPU_MSR_IA32_FMASK,
      1ull << 32, SVMX_E_STATE, 0 },
    { "SYSENTER_EIP non-canonical (Intel)", V_INTEL,
      CPU_MSR_IA32_SYSENTER_EIP, 0x0000800000000000ull, SVMX_E_STATE, 0 },
    { "SYSENTER_EIP 64-bit (Intel)", V_INTEL, CPU_MSR_IA32_SYSENTER_EIP,
      0xffffffff81000000ull, SVMX_OK, 0xffffffff81000000ull },
    { "SYSENTER_EIP high half dropped (AMD)", V_AMD,
      CPU_MSR_IA32_SYSENTER_EIP, 0x0000800081000000ull, SVMX_OK,
      0x81000000 },
    { "SYSENTER_ESP high half dropped (AMD)", V_AMD,
      CPU_MSR_IA32_SYSENTER_ESP, 0xffffffff00001000ull, SVMX_OK, 0x1000 },
    { "SYSENTER_CS high half dropped", V_BOTH, CPU_MSR_IA32_SYSENTER_CS,
      0x1234000000000010ull, SVMX_OK, 0x10 },
    { "TSC_AUX bit 32 (Intel reserved)", V_INTEL, CPU_MSR_IA32_TSC_AUX,
      1ull << 32 | 5, SVMX_E_STATE, 0 },
    { "TSC_AUX bit 32 (AMD dropped)", V_AMD, CPU_MSR_IA32_TSC_AUX,
      1ull << 32 | 5, SVMX_OK, 5 },
    { "PAT type 2 in entry 0",       V_BOTH, CPU_MSR_IA32_PAT,
      0x0007040600070402ull, SVMX_E_STATE, 0 },
    { "PAT type 3 in entry 7",       V_BOTH, CPU_MSR_IA32_PAT,
      0x0307040600070406ull, SVMX_E_STATE, 0 },
    { "PAT reserved bit 3",          V_BOTH, CPU_MSR_IA32_PAT,
      0x000704060007040eull, SVMX_E_STATE, 0 },
    { "PAT type 8",                  V_BOTH, CPU_MSR_IA32_PAT,
      0x0007040600070408ull, SVMX_E_STATE, 0 },
    { "PAT all WB",                  V_BOTH, CPU_MSR_IA32_PAT,
      0x0606060606060606ull, SVMX_OK, 0x0606060606060606ull },
    { "PAT UC WC WT WP WB UC-",      V_BOTH, CPU_MSR_IA32_PAT,
      0x0007060504010000ull, SVMX_OK, 0x0007060504010000ull },
    { "APIC_BASE clear BSP",         V_BOTH, CPU_MSR_IA32_APIC_BASE,
      0xfee00800, SVMX_E_STATE, 0 },
    { "APIC_BASE x2APIC (EXTD)",     V_BOTH, CPU_MSR_IA32_APIC_BASE,
      0xfee00d00, SVMX_E_STATE, 0 },
    { "APIC_BASE move and disable",  V_BOTH, CPU_MSR_IA32_APIC_BASE,
      0x0000fffffec00100ull, SVMX_OK, 0x0000fffffec00100ull },
    { "APIC_BASE above MAXPHYADDR",  V_BOTH, CPU_MSR_IA32_APIC_BASE,
      0x0001000000000900ull, SVMX_E_STATE, 0 },
    { "VM_HSAVE_PA page aligned",    V_AMD, CPU_MSR_VM_HSAVE_PA,
      0x0000fffffffff000ull, SVMX_OK, 0x0000fffffffff000ull },
    { "VM_HSAVE_PA low bit",         V_AMD, CPU_MSR_VM_HSAVE_PA,
      0x1001, SVMX_E_STATE, 0 },
    { "VM_HSAVE_PA bit 11",          V_AMD, CPU_MSR_VM_HSAVE_PA,
      0x1800, SVMX_E_STATE, 0 },
    { "VM_HSAVE_PA bit 48",          V_AMD, CPU_MSR_VM_HSAVE_PA,
      1ull << 48, SVMX_E_STATE, 0 },
    { "VM_CR SVMDIS LOCK",           V_AMD, CPU_MSR_VM_CR,
      0x18, SVMX_OK, 0x18 },
    { "VM_CR bit 5",                 V_AMD, CPU_MSR_VM_CR,
      0x20, SVMX_E_STATE, 0 },
    { "FEATURE_CONTROL lock+VMX",    V_INTEL, CPU_MSR_IA32_FEATURE_CONTROL,
      0x5, SVMX_OK, 0x5 },
    { "FEATURE_CONTROL SMX bit 1",   V_INTEL, CPU_MSR_IA32_FEATURE_CONTROL,
      0x2, SVMX_E_STATE, 0 },
    { "MISC_ENABLE fast strings off", V_INTEL, CPU_MSR_IA32_MISC_ENABLE,
      0x1800, SVMX_OK, 0x1800 },
    { "MISC_ENABLE MONITOR FSM",     V_INTEL, CPU_MSR_IA32_MISC_ENABLE,
      0x41801, SVMX_E_STATE, 0 },
    { "MISC_ENABLE BTS available",   V_INTEL, CPU_MSR_IA32_MISC_ENABLE,
      0x1001, SVMX_E_STATE, 0 },
    { "TSC any value",               V_BOTH, CPU_MSR_IA32_TSC,
      0xfffffffffffffff0ull, SVMX_OK, 0xfffffffffffffff0ull },
};

static void test_msr_cases(void **state)
{
    (void)state;
    for (size_t v = 0; v < COUNT_OF(vendors); v++) {
        svmx_cpu *cpu = new_cpu(vendors[v]);
        const char *vn = svmx_vendor_name(vendors[v]);
        for (size_t i = 0; i < COUNT_OF(msr_cases); i++) {
            const msr_case *c = &msr_cases[i];
            if (!(c->vendors & (1u << vendors[v])))
                continue;
            assert_int_equal(svmx_cpu_reset(cpu), SVMX_OK);
            uint64_t before = msr(cpu, c->index);
            svmx_status st = svmx_cpu_set_msr(cpu, c->index, c->value);
            EXPECT(st == c->status, "%s msr case %zu (%s): %s", vn, i,
                   c->what, svmx_status_name(st));
            uint64_t after = msr(cpu, c->index);
            uint64_t want = st == SVMX_OK ? c->reads : before;
            EXPECT(after == want, "%s msr case %zu (%s): reads %#llx", vn, i,
                   c->what, (unsigned long long)after);
        }
        svmx_cpu_destroy(cpu);
    }
}

/* The guest side of the store: lock bits and VM_CR.SVMDIS. */
static void test_msr_guest_rules(void **state)
{
    (void)state;
    svmx_cpu *intel = new_cpu(SVMX_VENDOR_INTEL);
    uint32_t fc = CPU_MSR_IA32_FEATURE_CONTROL;
    assert_int_equal(cpu_msr_write(intel, fc, 0x4, false), SVMX_OK);
    assert_int_equal(cpu_msr_write(intel, fc, 0x5, false), SVMX_OK);
    /* SDM Vol. 3C 24.7: locked, WRMSR is #GP, even of the same value. */
    assert_int_equal(cpu_msr_write(intel, fc, 0x5, false), SVMX_E_STATE);
    assert_int_equal(cpu_msr_write(intel, fc, 0x0, false), SVMX_E_STATE);
    assert_int_equal(msr(intel, fc), 0x5);
    /* The host restores state: the lock does not bind it. */
    assert_int_equal(cpu_msr_write(intel, fc, 0x0, true), SVMX_OK);
    assert_int_equal(msr(intel, fc), 0);
    svmx_cpu_destroy(intel);

    svmx_cpu *amd = new_cpu(SVMX_VENDOR_AMD);
    uint32_t vmcr = CPU_MSR_VM_CR;
    uint32_t efer = CPU_MSR_IA32_EFER;
    /* APM Vol. 2 15.30.1: SVMDIS can be set only while EFER.SVME is clear. */
    assert_int_equal(cpu_msr_write(amd, efer, 0x1000, false), SVMX_OK);
    assert_int_equal(cpu_msr_write(amd, vmcr, 0x10, false), SVMX_E_STATE);
    assert_int_equal(msr(amd, vmcr), 0);
    assert_int_equal(cpu_msr_write(amd, efer, 0, false), SVMX_OK);
    assert_int_equal(cpu_msr_write(amd, vmcr, 0x10, false), SVMX_OK);
    /* With SVMDIS, EFER.SVME is must-be-zero for the guest. */
    assert_int_equal(cpu_msr_write(amd, efer, 0x1000, false), SVMX_E_STATE);
    assert_int_equal(msr(amd, efer), 0);
    assert_int_equal(cpu_msr_write(amd, efer, 0x1000, true), SVMX_OK);
    assert_int_equal(cpu_msr_write(amd, efer, 0, true), SVMX_OK);
    /* LOCK set: later writes to LOCK and SVMDIS are ignored, not refused. */
    assert_int_equal(cpu_msr_write(amd, vmcr, 0x18, false), SVMX_OK);
    assert_int_equal(cpu_msr_write(amd, vmcr, 0x07, false), SVMX_OK);
    assert_int_equal(msr(amd, vmcr), 0x1f);
    assert_int_equal(cpu_msr_write(amd, vmcr, 0x00, false), SVMX_OK);
    assert_int_equal(msr(amd, vmcr), 0x18);
    assert_int_equal(cpu_msr_write(amd, vmcr, 0x00, true), SVMX_OK);
    assert_int_equal(msr(amd, vmcr), 0);
    assert_int_equal(cpu_msr_write(NULL, vmcr, 0, true), SVMX_E_ARG);
    svmx_cpu_destroy(amd);
}

static void test_pat_valid(void **state)
{
    (void)state;
    for (unsigned t = 0; t < 256; t++) {
        bool want = t == 0 || t == 1 || (t >= 4 && t <= 7);
        for (unsigned byte = 0; byte < 8; byte++) {
            uint64_t pat = 0x0606060606060606ull;
            pat &= ~(0xffull << (8 * byte));
            pat |= (uint64_t)t << (8 * byte);
            EXPECT(cpu_pat_valid(pat) == want, "PAT type %u in entry %u", t,
                   byte);
        }
    }
}

/* -------------------------------------------------------------- CPUID -- */

static void vendor_string(svmx_cpuid_result r, char out[13])
{
    memcpy(out, &r.ebx, 4);
    memcpy(out + 4, &r.edx, 4);
    memcpy(out + 8, &r.ecx, 4);
    out[12] = 0;
}

static bool cpuid_equal(svmx_cpuid_result a, svmx_cpuid_result b)
{
    return a.eax == b.eax && a.ebx == b.ebx && a.ecx == b.ecx &&
           a.edx == b.edx;
}

static const svmx_cpuid_result zeros = { 0, 0, 0, 0 };

static void test_cpuid_identity(void **state)
{
    (void)state;
    char s[13];
    svmx_cpu *amd = new_cpu(SVMX_VENDOR_AMD);
    svmx_cpu *intel = new_cpu(SVMX_VENDOR_INTEL);

    vendor_string(cpuid(amd, 0, 0), s);
    assert_string_equal(s, "AuthenticAMD");
    vendor_string(cpuid(amd, 0x80000000, 0), s);
    assert_string_equal(s, "AuthenticAMD");
    vendor_string(cpuid(intel, 0, 0), s);
    assert_string_equal(s, "GenuineIntel");

    assert_int_equal(cpuid(amd, 0, 0).eax, 7);
    assert_int_equal(cpuid(intel, 0, 0).eax, 7);
    assert_int_equal(cpuid(amd, 0x80000000, 0).eax, 0x8000000a);
    assert_int_equal(cpuid(intel, 0x80000000, 0).eax, 0x80000008);

    /* SDM Vol. 2A CPUID "Processor Signature", APM Vol. 3 E.3.2. */
    uint32_t a = cpuid(amd, 1, 0).eax;
    assert_int_equal((a >> 8) & 0xf, 0xf);
    assert_int_equal(((a >> 8) & 0xf) + ((a >> 20) & 0xff), 0x17);
    assert_int_equal(((a >> 16) & 0xf) << 4 | ((a >> 4) & 0xf), 0x31);
    assert_int_equal(cpuid(amd, 0x80000001, 0).eax, a);
    uint32_t i = cpuid(intel, 1, 0).eax;
    assert_int_equal((i >> 8) & 0xf, 6);
    assert_int_equal((i >> 20) & 0xff, 0);
    assert_int_equal(((i >> 16) & 0xf) << 4 | ((i >> 4) & 0xf), 0x55);

    for (size_t v = 0; v < 2; v++) {
        svmx_cpu *cpu = v ? intel : amd;
        /* 0x80000008: MAXPHYADDR and linear width 48. */
        assert_int_equal(cpuid(cpu, 0x80000008, 0).eax & 0xffff, 0x3030);
        /* EBX: CLFLUSH line 8 * 8 bytes; APIC ID 0. */
        assert_int_equal(cpuid(cpu, 1, 0).ebx, 0x800);
        /* Brand string: 48 bytes, NUL-terminated, the model's name. */
        char brand[49] = { 0 };
        for (uint32_t l = 0; l < 3; l++) {
            svmx_cpuid_result r = cpuid(cpu, 0x80000002 + l, 0);
            memcpy(brand + 16 * l, &r, 16);
        }
        assert_true(memchr(brand, 0, 48) != NULL);
        assert_true(strncmp(brand, "svmx ", 5) == 0);
    }
    svmx_cpu_destroy(amd);
    svmx_cpu_destroy(intel);
}

typedef struct bit_case {
    const char *what;
    unsigned    vendors;  /* where the bit is set; clear on the others */
    uint32_t    leaf;
    unsigned    reg;      /* 0 EAX, 1 EBX, 2 ECX, 3 EDX */
    unsigned    bit;
} bit_case;

/* docs/personalities.md: what is advertised and what is not. */
static const bit_case bit_cases[] = {
    { "FPU",        0,       1, 3, 0 },
    { "VME",        0,       1, 3, 1 },
    { "DE",         V_BOTH,  1, 3, 2 },
    { "PSE",        V_BOTH,  1, 3, 3 },
    { "TSC",        V_BOTH,  1, 3, 4 },
    { "MSR",        V_BOTH,  1, 3, 5 },
    { "PAE",        V_BOTH,  1, 3, 6 },
    { "MCE",        0,       1, 3, 7 },
    { "CX8",        V_BOTH,  1, 3, 8 },
    { "APIC",       0,       1, 3, 9 },
    { "SEP",        V_BOTH,  1, 3, 11 },
    { "MTRR",       0,       1, 3, 12 },
    { "PGE",        V_BOTH,  1, 3, 13 },
    { "MCA",        0,       1, 3, 14 },
    { "CMOV",       V_BOTH,  1, 3, 15 },
    { "PAT",        V_BOTH,  1, 3, 16 },
    { "PSE-36",     0,       1, 3, 17 },
    { "CLFSH",      V_BOTH,  1, 3, 19 },
    { "MMX",        0,       1, 3, 23 },
    { "FXSR",       0,       1, 3, 24 },
    { "SSE",        0,       1, 3, 25 },
    { "SSE2",       0,       1, 3, 26 },
    { "HTT",        0,       1, 3, 28 },
    { "SSE3",       0,       1, 2, 0 },
    { "MONITOR",    0,       1, 2, 3 },
    { "VMX",        V_INTEL, 1, 2, 5 },
    { "SMX",        0,       1, 2, 6 },
    { "CX16",       V_BOTH,  1, 2, 13 },
    { "PCID",       0,       1, 2, 17 },
    { "x2APIC",     0,       1, 2, 21 },
    { "MOVBE",      0,       1, 2, 22 },
    { "POPCNT",     V_BOTH,  1, 2, 23 },
    { "XSAVE",      0,       1, 2, 26 },
    { "OSXSAVE",    0,       1, 2, 27 },
    { "RDRAND",     0,       1, 2, 30 },
    { "hypervisor", 0,       1, 2, 31 },
    { "FSGSBASE",   0,       7, 1, 0 },
    { "BMI1",       0,       7, 1, 3 },
    { "SMEP",       V_BOTH,  7, 1, 7 },
    { "BMI2",       0,       7, 1, 8 },
    { "INVPCID",    0,       7, 1, 10 },
    { "SMAP",       V_BOTH,  7, 1, 20 },
    { "LAHF64",     V_BOTH,  0x80000001, 2, 0 },
    { "SVM",        V_AMD,   0x80000001, 2, 2 },
    { "AltMovCr8",  V_AMD,   0x80000001, 2, 4 },
    { "ABM/LZCNT",  V_BOTH,  0x80000001, 2, 5 },
    { "SSE4A",      0,       0x80000001, 2, 6 },
    { "PREFETCHW",  0,       0x80000001, 2, 8 },
    { "NX",         V_BOTH,  0x80000001, 3, 20 },
    { "FFXSR",      0,       0x80000001, 3, 25 },
    { "Page1GB",    V_BOTH,  0x80000001, 3, 26 },
    { "RDTSCP",     V_BOTH,  0x80000001, 3, 27 },
    { "LM",         V_BOTH,  0x80000001, 3, 29 },
    { "3DNow!",     0,       0x80000001, 3, 31 },
    { "invariant TSC", 0,    0x80000007, 3, 8 },
};

static void test_cpuid_feature_bits(void **state)
{
    (void)state;
    for (size_t v = 0; v < COUNT_OF(vendors); v++) {
        svmx_cpu *cpu = new_cpu(vendors[v]);
        for (size_t i = 0; i < COUNT_OF(bit_cases); i++) {
            const bit_case *c = &bit_cases[i];
            svmx_cpuid_result r = cpuid(cpu, c->leaf, 0);
            uint32_t regs[4] = { r.eax, r.ebx, r.ecx, r.edx };
            bool want = c->vendors & (1u << vendors[v]);
            EXPECT(((regs[c->reg] >> c->bit) & 1) == want,
                   "%s CPUID %#x bit %s: expected %d",
                   svmx_vendor_name(vendors[v]), c->leaf, c->what, want);
        }
        svmx_cpu_destroy(cpu);
    }
}

static void test_cpuid_svm_leaf(void **state)
{
    (void)state;
    svmx_cpu *amd = new_cpu(SVMX_VENDOR_AMD);
    svmx_cpuid_result r = cpuid(amd, 0x8000000a, 0);
    assert_int_equal(r.eax, 1);                  /* SVM revision */
    assert_int_equal(r.ebx, 0x8000);             /* ASIDs */
    assert_int_equal(r.ecx, 0);
    /* NP, NRIPS, VmcbClean, FlushByAsid, DecodeAssists: nothing else. */
    assert_int_equal(r.edx, 1u << 0 | 1u << 3 | 1u << 5 | 1u << 6 | 1u << 7);
    /* AMD repeats the leaf-1 EDX bits 0-9, 12-17, 23, 24 in 80000001h. */
    uint32_t mirror = 0x0183f3ff;
    assert_int_equal(cpuid(amd, 0x80000001, 0).edx & mirror,
                     cpuid(amd, 1, 0).edx & mirror);
    svmx_cpu_destroy(amd);

    svmx_cpu *intel = new_cpu(SVMX_VENDOR_INTEL);
    /* Intel's highest extended leaf is 0x80000008: 0x8000000A is above. */
    assert_true(cpuid_equal(cpuid(intel, 0x8000000a, 0), cpuid(intel, 7, 0)));
    svmx_cpu_destroy(intel);
}

static void test_cpuid_above_max(void **state)
{
    (void)state;
    static const struct {
        uint32_t leaf, subleaf;
    } above[] = {
        { 0x00000008, 0 }, { 0x0000000d, 0 }, { 0x0000000d, 1 },
        { 0x40000000, 0 }, { 0x7fffffff, 0 }, { 0x8000000b, 0 },
        { 0x8000001f, 0 }, { 0xc0000000, 0 }, { 0xffffffff, 3 },
    };
    svmx_cpu *amd = new_cpu(SVMX_VENDOR_AMD);
    svmx_cpu *intel = new_cpu(SVMX_VENDOR_INTEL);
    for (size_t i = 0; i < COUNT_OF(above); i++) {
        /* APM Vol. 3 E.1: zeros. */
        EXPECT(cpuid_equal(cpuid(amd, above[i].leaf, above[i].subleaf),
                           zeros),
               "amd leaf %#x not zero", above[i].leaf);
        /* SDM Vol. 2A CPUID: the highest basic leaf, same subleaf. */
        EXPECT(cpuid_equal(cpuid(intel, above[i].leaf, above[i].subleaf),
                           cpuid(intel, 7, above[i].subleaf)),
               "intel leaf %#x.%u not leaf 7", above[i].leaf,
               above[i].subleaf);
    }
    assert_int_equal(cpuid(intel, 0x40000000, 0).ebx, 1u << 7 | 1u << 20);
    assert_true(cpuid_equal(cpuid(intel, 0x40000000, 1), zeros));
    /* Inside the ranges, a leaf without data reads as zeros. */
    assert_true(cpuid_equal(cpuid(amd, 0x80000009, 0), zeros));
    assert_true(cpuid_equal(cpuid(intel, 0x80000005, 0), zeros));
    svmx_cpu_destroy(amd);
    svmx_cpu_destroy(intel);
}

static void test_cpuid_subleaves(void **state)
{
    (void)state;
    for (size_t v = 0; v < COUNT_OF(vendors); v++) {
        svmx_cpu *cpu = new_cpu(vendors[v]);
        /* CPUID.7: EAX = highest subleaf (0); subleaf 1 is all zeros. */
        assert_int_equal(cpuid(cpu, 7, 0).eax, 0);
        assert_true(cpuid_equal(cpuid(cpu, 7, 1), zeros));
        assert_true(cpuid_equal(cpuid(cpu, 7, 0xffffffff), zeros));
        /* Leaves without subleaves ignore ECX. */
        static const uint32_t leaves[] = { 0, 1, 0x80000000, 0x80000001,
                                           0x80000002, 0x80000008 };
        for (size_t i = 0; i < COUNT_OF(leaves); i++)
            EXPECT(cpuid_equal(cpuid(cpu, leaves[i], 0),
                               cpuid(cpu, leaves[i], 0x1234)),
                   "%s leaf %#x depends on ECX",
                   svmx_vendor_name(vendors[v]), leaves[i]);
        svmx_cpu_destroy(cpu);
    }
}

static void test_cpuid_state_bits(void **state)
{
    (void)state;
    for (size_t v = 0; v < COUNT_OF(vendors); v++) {
        svmx_cpu *cpu = new_cpu(vendors[v]);
        bool intel = vendors[v] == SVMX_VENDOR_INTEL;
        /*
         * OSXSAVE mirrors CR4.OSXSAVE; with XSAVE not advertised, CR4 bit
         * 18 cannot be set, so it reads 0 in every reachable state.
         */
        svmx_sregs s = sregs_of(cpu);
        s.cr4 |= 1ull << 18;
        assert_int_equal(svmx_cpu_set_sregs(cpu, &s), SVMX_E_STATE);
        assert_int_equal((cpuid(cpu, 1, 0).ecx >> 27) & 1, 0);
        assert_int_equal((cpuid(cpu, 1, 0).ecx >> 26) & 1, 0);

        /* Intel reports SYSCALL in 80000001h:EDX[11] in IA-32e mode only. */
        assert_int_equal((cpuid(cpu, 0x80000001, 0).edx >> 11) & 1, !intel);
        s = long_mode_sregs();
        assert_int_equal(svmx_cpu_set_sregs(cpu, &s), SVMX_OK);
        assert_int_equal((cpuid(cpu, 0x80000001, 0).edx >> 11) & 1, 1);
        /* The initial APIC ID stays 0 whatever the state. */
        assert_int_equal(cpuid(cpu, 1, 0).ebx >> 24, 0);
        svmx_cpu_destroy(cpu);
    }
}

/* ------------------------------------------------ VMX capability MSRs -- */

static void test_vmx_caps_consistent(void **state)
{
    (void)state;
    svmx_cpu *cpu = new_cpu(SVMX_VENDOR_INTEL);
    /* SDM Vol. 3D A.2: the default1 class of each control field. */
    static const struct {
        const char *name;
        uint32_t    msr, true_msr;
        uint32_t    default1;
    } ctls[] = {
        { "pin-based", 0x481, 0x48d, 0x00000016 },
        { "proc-based", 0x482, 0x48e, 0x0401e172 },
        { "exit", 0x483, 0x48f, 0x00036dff },
        { "entry", 0x484, 0x490, 0x000011ff },
        { "proc-based 2", 0x48b, 0, 0 },
    };
    for (size_t i = 0; i < COUNT_OF(ctls); i++) {
        uint64_t m = msr(cpu, ctls[i].msr);
        uint32_t a0 = (uint32_t)m, a1 = (uint32_t)(m >> 32);
        EXPECT((a0 & ~a1) == 0, "%s: allowed-0 %#x not within allowed-1 %#x",
               ctls[i].name, a0, a1);
        EXPECT(a0 == ctls[i].default1, "%s: allowed-0 %#x is not default1",
               ctls[i].name, a0);
        if (!ctls[i].true_msr)
            continue;
        uint64_t t = msr(cpu, ctls[i].true_msr);
        uint32_t t0 = (uint32_t)t, t1 = (uint32_t)(t >> 32);
        /* A.3.1 etc.: TRUE allowed-1 equals the plain MSR's. */
        EXPECT(t1 == a1, "%s: TRUE allowed-1 differs", ctls[i].name);
        EXPECT((t0 & ~a0) == 0, "%s: TRUE allowed-0 not within plain",
               ctls[i].name);
        EXPECT(((a0 & ~t0) & ~ctls[i].default1) == 0,
               "%s: TRUE relaxes a non-default1 bit", ctls[i].name);
        EXPECT((t0 & ~t1) == 0, "%s: TRUE allowed-0 not within allowed-1",
               ctls[i].name);
    }

    /* A.1 IA32_VMX_BASIC. */
    uint64_t basic = msr(cpu, 0x480);
    assert_int_equal(basic & 0x80000000, 0);             /* bit 31 is 0 */
    assert_int_not_equal(basic & 0x7fffffff, 0);         /* revision */
    assert_int_equal((basic >> 32) & 0x1fff, 4096);      /* region size */
    assert_int_equal((basic >> 48) & 1, 0);              /* Intel 64 */
    assert_int_equal((basic >> 50) & 0xf, 6);            /* WB */
    assert_int_equal((basic >> 54) & 1, 1);              /* INS/OUTS info */
    assert_int_equal((basic >> 55) & 1, 1);              /* TRUE MSRs */

    /* A.7, A.8: fixed-0 within fixed-1; CR4 fixed-1 = accepted CR4 bits. */
    uint64_t cr0f0 = msr(cpu, 0x486), cr0f1 = msr(cpu, 0x487);
    uint64_t cr4f0 = msr(cpu, 0x488), cr4f1 = msr(cpu, 0x489);
    assert_int_equal(cr0f0, 0x80000021);
    assert_int_equal(cr0f0 & ~cr0f1, 0);
    assert_int_equal(cr4f0, 0x2000);
    assert_int_equal(cr4f0 & ~cr4f1, 0);
    for (unsigned b = 0; b < 64; b++) {
        svmx_sregs s = sregs_of(cpu);
        s.cr4 = 1ull << b;
        bool ok = svmx_cpu_set_sregs(cpu, &s) == SVMX_OK;
        EXPECT(ok == ((cr4f1 >> b) & 1),
               "CR4 bit %u: set_sregs %s, CR4_FIXED1 says %d", b,
               ok ? "accepts" : "refuses", (int)((cr4f1 >> b) & 1));
    }

    /* Which optional MSRs exist follows the controls (A.3.3, A.10, A.11). */
    uint32_t proc1 = (uint32_t)(msr(cpu, 0x482) >> 32);
    uint32_t proc2 = (uint32_t)(msr(cpu, 0x48b) >> 32);
    uint64_t v;
    assert_true(proc1 & (1u << 31));                    /* secondary ctls */
    assert_true(proc2 & ((1u << 1) | (1u << 5)));       /* EPT or VPID */
    assert_int_equal(svmx_cpu_get_msr(cpu, 0x48c, &v), SVMX_OK);
    assert_false(proc2 & (1u << 13));                   /* VM functions */
    assert_int_equal(svmx_cpu_get_msr(cpu, 0x491, &v), SVMX_E_FIELD);
    /* RDTSCP is advertised, so a guest may be allowed it (enable RDTSCP). */
    assert_true(proc2 & (1u << 3));
    assert_true((cpuid(cpu, 0x80000001, 0).edx >> 27) & 1);
    /* No INVPCID and no XSAVES: their enable controls are not offered. */
    assert_false(proc2 & (1u << 12));
    assert_false(proc2 & (1u << 20));

    /* A.6: activity states HLT and shutdown; A.9: VMCS_ENUM bits. */
    uint64_t misc = msr(cpu, 0x485);
    assert_int_equal((misc >> 6) & 7, 3);
    uint64_t vmcs_enum = msr(cpu, 0x48a);
    assert_int_equal(vmcs_enum & ~0x3feull, 0);
    assert_true(vmcs_enum != 0);

    /* A.10: INVEPT/INVVPID types need the instruction itself. */
    uint64_t ept = msr(cpu, 0x48c);
    assert_true(((ept >> 25) & 3) == 0 || ((ept >> 20) & 1));
    assert_true(((ept >> 40) & 0xf) == 0 || ((ept >> 32) & 1));
    assert_true((ept >> 6) & 1);                        /* 4-level walk */
    assert_true((ept >> 14) & 1);                       /* WB */
    svmx_cpu_destroy(cpu);
}

/* ----------------------------------------------------------- isolation -- */

static void test_two_cpus_independent(void **state)
{
    (void)state;
    svmx_cpu *a = new_cpu(SVMX_VENDOR_AMD);
    svmx_cpu *b = new_cpu(SVMX_VENDOR_AMD);
    svmx_cpu *c = new_cpu(SVMX_VENDOR_INTEL);

    svmx_regs r = { .gpr = { 42 }, .rip = 0x7c00, .rflags = 0x202 };
    assert_int_equal(svmx_cpu_set_regs(a, &r), SVMX_OK);
    assert_int_equal(svmx_cpu_set_msr(a, CPU_MSR_IA32_LSTAR,
                                      0xffffffff81000000ull), SVMX_OK);
    assert_int_equal(svmx_cpu_set_msr(a, CPU_MSR_IA32_EFER, 0x1000),
                     SVMX_OK);
    svmx_events e = { .activity = SVMX_ACTIVITY_HLT, .gif = false };
    assert_int_equal(svmx_cpu_set_events(a, &e), SVMX_OK);

    check_reset_state(b, SVMX_VENDOR_AMD);
    check_reset_state(c, SVMX_VENDOR_INTEL);
    assert_int_equal(msr(b, CPU_MSR_IA32_LSTAR), 0);
    assert_int_equal(msr(a, CPU_MSR_IA32_LSTAR), 0xffffffff81000000ull);
    assert_int_equal(sregs_of(a).efer, 0x1000);
    assert_int_equal(svmx_cpu_vendor(c), SVMX_VENDOR_INTEL);

    svmx_cpu_destroy(a);
    check_reset_state(b, SVMX_VENDOR_AMD);
    svmx_cpu_destroy(b);
    svmx_cpu_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vendor_names),
        cmocka_unit_test(test_create_destroy),
        cmocka_unit_test(test_create_bad_config),
        cmocka_unit_test(test_init_caller_memory),
        cmocka_unit_test(test_null_arguments),
        cmocka_unit_test(test_reset_state),
        cmocka_unit_test(test_reset_again),
        cmocka_unit_test(test_regs_round_trip),
        cmocka_unit_test(test_rflags_masking),
        cmocka_unit_test(test_sregs_round_trip),
        cmocka_unit_test(test_sregs_validation),
        cmocka_unit_test(test_dregs),
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_mode),
        cmocka_unit_test(test_msr_rows),
        cmocka_unit_test(test_msr_presence),
        cmocka_unit_test(test_msr_efer_is_sregs_efer),
        cmocka_unit_test(test_msr_segment_bases),
        cmocka_unit_test(test_msr_cases),
        cmocka_unit_test(test_msr_guest_rules),
        cmocka_unit_test(test_pat_valid),
        cmocka_unit_test(test_cpuid_identity),
        cmocka_unit_test(test_cpuid_feature_bits),
        cmocka_unit_test(test_cpuid_svm_leaf),
        cmocka_unit_test(test_cpuid_above_max),
        cmocka_unit_test(test_cpuid_subleaves),
        cmocka_unit_test(test_cpuid_state_bits),
        cmocka_unit_test(test_vmx_caps_consistent),
        cmocka_unit_test(test_two_cpus_independent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
