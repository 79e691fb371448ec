/*
 * tests/test_digest.c - svmx_cpu_digest() against docs/digest.md.
 *
 * The reference here serializes the state itself, from the public state
 * API and from what each test knows (the level, L1's state in guest
 * mode, the VMCB's address), following docs/digest.md's table and not
 * src/nested/digest.c; then XXH3_64bits. Every case compares the library
 * with it, so a field in the wrong place fails, as does a field that
 * does not reach the hash. The reset digests are constants: they are the
 * worked example of docs/digest.md, which changes with them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "exec_fixture.h"
#include "svmx/svmx.h"
#include "test_util.h"

/* docs/digest.md, "Worked example". */
#define RESET_DIGEST_AMD   0x7ceb91242828e840ull
#define RESET_DIGEST_INTEL 0x13b44358613295e0ull

static const svmx_vendor vendors[] = { SVMX_VENDOR_AMD, SVMX_VENDOR_INTEL };

/* ---------------------------------------------------------- reference -- */

#define REF_BYTES 0x6b8u

/* docs/digest.md, "MSRs", in order. */
static const uint32_t ref_msrs[] = {
    0x0000001b, 0x0000003a, 0x00000174, 0x00000175, 0x00000176,
    0x00000277, 0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084,
    0xc0000102, 0xc0000103, 0xc0010114, 0xc0010117,
};

/* L1's state while the CPU is in guest mode, as the test knows it. */
typedef struct ref_l1 {
    svmx_segment es, cs, ss, ds;
    svmx_dtable  gdt, idt;
    uint64_t     efer, cr0, cr3, cr4, rflags, rip, rsp, rax, tpr, pat;
} ref_l1;

typedef struct ref_buf {
    uint8_t b[REF_BYTES];
    size_t  n;
} ref_buf;

static void w64(ref_buf *r, uint64_t v)
{
    assert_true(r->n + 8 <= REF_BYTES);
    for (unsigned i = 0; i < 8; i++)
        r->b[r->n++] = (uint8_t)(v >> (8 * i));
}

static void wseg(ref_buf *r, const svmx_segment *s)
{
    w64(r, s->selector);
    w64(r, s->attr);
    w64(r, s->limit);
    w64(r, s->base);
}

static void wdt(ref_buf *r, const svmx_dtable *gdt, const svmx_dtable *idt)
{
    w64(r, gdt->base);
    w64(r, gdt->limit);
    w64(r, idt->base);
    w64(r, idt->limit);
}

/* Offsets of docs/digest.md's table, checked as the bytes are written. */
static void at(const ref_buf *r, size_t off)
{
    assert_int_equal(r->n, off);
}

/*
 * The digest docs/digest.md defines, for `cpu` whose RAM is ram/ram_size:
 * level 2 with L1's state `l1` when l1 is given, else level 1; the VMCB
 * at vmcb_pa (0: none).
 */
static uint64_t ref_digest(const svmx_cpu *cpu, const uint8_t *ram,
                           size_t ram_size, const ref_l1 *l1,
                           uint64_t vmcb_pa)
{
    svmx_regs r;
    svmx_sregs s;
    svmx_dregs d;
    svmx_events e;
    assert_int_equal(svmx_cpu_get_regs(cpu, &r), SVMX_OK);
    assert_int_equal(svmx_cpu_get_sregs(cpu, &s), SVMX_OK);
    assert_int_equal(svmx_cpu_get_dregs(cpu, &d), SVMX_OK);
    assert_int_equal(svmx_cpu_get_events(cpu, &e), SVMX_OK);

    static ref_buf b;
    memset(&b, 0xa5, sizeof b);
    b.n = 0;
    at(&b, 0x000); w64(&b, 1);
    at(&b, 0x008); w64(&b, l1 ? 2 : 1);
    at(&b, 0x010);
    for (unsigned i = 0; i < 16; i++)
        w64(&b, r.gpr[i]);
    at(&b, 0x090); w64(&b, r.rip);
    at(&b, 0x098); w64(&b, r.rflags);
    at(&b, 0x0a0);
    for (unsigned i = 0; i < 8; i++)
        wseg(&b, &s.seg[i]);
    at(&b, 0x1a0); wdt(&b, &s.gdt, &s.idt);
    at(&b, 0x1c0);
    w64(&b, s.cr0); w64(&b, s.cr2); w64(&b, s.cr3); w64(&b, s.cr4);
    w64(&b, s.cr8); w64(&b, s.efer); w64(&b, s.xcr0);
    at(&b, 0x1f8);
    for (unsigned i = 0; i < 4; i++)
        w64(&b, d.dr[i]);
    w64(&b, d.dr6); w64(&b, d.dr7);
    at(&b, 0x228);
    w64(&b, e.activity); w64(&b, e.gif ? 1 : 0); w64(&b, e.shadow);
    w64(&b, e.nmi_masked ? 1 : 0);

    uint64_t present = 0, val[COUNT_OF(ref_msrs)];
    for (size_t i = 0; i < COUNT_OF(ref_msrs); i++) {
        svmx_status st = svmx_cpu_get_msr(cpu, ref_msrs[i], &val[i]);
        if (st == SVMX_OK)
            present |= 1ull << i;
        else
            val[i] = 0;
    }
    at(&b, 0x248); w64(&b, present);
    at(&b, 0x250);
    for (size_t i = 0; i < COUNT_OF(ref_msrs); i++)
        w64(&b, val[i]);

    at(&b, 0x2c0);
    if (l1) {
        wseg(&b, &l1->es); wseg(&b, &l1->cs);
        wseg(&b, &l1->ss); wseg(&b, &l1->ds);
        wdt(&b, &l1->gdt, &l1->idt);
        w64(&b, l1->efer); w64(&b, l1->cr0); w64(&b, l1->cr3);
        w64(&b, l1->cr4); w64(&b, l1->rflags); w64(&b, l1->rip);
        w64(&b, l1->rsp); w64(&b, l1->rax); w64(&b, l1->tpr);
        w64(&b, l1->pat);
    } else {
        for (unsigned i = 0; i < 30; i++)
            w64(&b, 0);
    }
    at(&b, 0x3b0); w64(&b, vmcb_pa);
    at(&b, 0x3b8);
    if (vmcb_pa && vmcb_pa + 0x700 <= ram_size)
        memcpy(&b.b[b.n], ram + vmcb_pa + 0x400, 0x300);
    else
        memset(&b.b[b.n], 0, 0x300);
    b.n += 0x300;
    at(&b, REF_BYTES);
    return XXH3_64bits(b.b, b.n);
}

static uint64_t digest_of(const svmx_cpu *cpu)
{
    uint64_t d = 0;
    assert_int_equal(svmx_cpu_digest(cpu, &d), SVMX_OK);
    return d;
}

/* ------------------------------------------------------------ a CPU -- */

static uint8_t small_ram[64 * 1024];

static svmx_cpu *new_cpu(svmx_vendor vendor)
{
    svmx_config cfg = { .vendor = vendor, .ram = small_ram,
                        .ram_size = sizeof small_ram, .io = NULL };
    svmx_cpu *cpu = NULL;
    assert_int_equal(svmx_cpu_create(&cfg, &cpu), SVMX_OK);
    return cpu;
}

static uint64_t ref_l1_none(const svmx_cpu *cpu)
{
    return ref_digest(cpu, small_ram, sizeof small_ram, NULL, 0);
}

/* -------------------------------------------------------------- reset -- */

/* The worked example: the reset state of each personality. */
static void test_reset(void **state)
{
    (void)state;
    static const uint64_t expected[] = { RESET_DIGEST_AMD, RESET_DIGEST_INTEL };
    for (size_t i = 0; i < COUNT_OF(vendors); i++) {
        svmx_cpu *cpu = new_cpu(vendors[i]);
        uint64_t d = digest_of(cpu);
        uint64_t ref = ref_l1_none(cpu);
        EXPECT(d == ref, "%s: digest %016llx, reference %016llx",
               svmx_vendor_name(vendors[i]), (unsigned long long)d,
               (unsigned long long)ref);
        EXPECT(d == expected[i], "%s: reset digest %016llx, docs say %016llx",
               svmx_vendor_name(vendors[i]), (unsigned long long)d,
               (unsigned long long)expected[i]);
        /* RESET again: the same state, the same digest. */
        assert_int_equal(svmx_cpu_reset(cpu), SVMX_OK);
        assert_int_equal(digest_of(cpu), d);
        svmx_cpu_destroy(cpu);
    }
}

static void test_personalities_differ(void **state)
{
    (void)state;
    svmx_cpu *a = new_cpu(SVMX_VENDOR_AMD), *b = new_cpu(SVMX_VENDOR_INTEL);
    assert_int_not_equal(digest_of(a), digest_of(b));
    /* Even with the general registers (EDX: the signature) made equal. */
    svmx_regs r;
    assert_int_equal(svmx_cpu_get_regs(a, &r), SVMX_OK);
    assert_int_equal(svmx_cpu_set_regs(b, &r), SVMX_OK);
    assert_int_not_equal(digest_of(a), digest_of(b));
    svmx_cpu_destroy(a);
    svmx_cpu_destroy(b);
}

static void test_args(void **state)
{
    (void)state;
    svmx_cpu *cpu = new_cpu(SVMX_VENDOR_AMD);
    uint64_t d = 0x1234;
    assert_int_equal(svmx_cpu_digest(NULL, &d), SVMX_E_ARG);
    assert_int_equal(d, 0x1234);
    assert_int_equal(svmx_cpu_digest(cpu, NULL), SVMX_E_ARG);
    svmx_cpu_destroy(cpu);
}

/* ---------------------------------------------------- one field each -- */

typedef enum edit_kind {
    E_GPR, E_RIP, E_RFLAGS,
    E_SEL, E_ATTR, E_LIMIT, E_BASE,
    E_GDT_BASE, E_GDT_LIMIT, E_IDT_BASE, E_IDT_LIMIT,
    E_CR0, E_CR2, E_CR3, E_CR4, E_CR8, E_EFER, E_XCR0,
    E_DR, E_DR6, E_DR7,
    E_ACTIVITY, E_GIF, E_SHADOW, E_NMI_MASKED,
    E_MSR,
} edit_kind;

#define V_AMD   (1u << SVMX_VENDOR_AMD)
#define V_INTEL (1u << SVMX_VENDOR_INTEL)
#define V_BOTH  (V_AMD | V_INTEL)

typedef struct edit {
    const char *name;
    unsigned    vendors;
    edit_kind   kind;
    uint32_t    index;   /* register, segment, DR number or MSR */
    uint64_t    value;
} edit;

static const edit edits[] = {
    { "RAX",          V_BOTH,  E_GPR, SVMX_RAX, 1 },
    { "RCX",          V_BOTH,  E_GPR, SVMX_RCX, 1 },
    { "RDX",          V_BOTH,  E_GPR, SVMX_RDX, 1 },
    { "RBX",          V_BOTH,  E_GPR, SVMX_RBX, 1ull << 63 },
    { "RSP",          V_BOTH,  E_GPR, SVMX_RSP, 0x7000 },
    { "RBP",          V_BOTH,  E_GPR, SVMX_RBP, 2 },
    { "RSI",          V_BOTH,  E_GPR, SVMX_RSI, 3 },
    { "RDI",          V_BOTH,  E_GPR, SVMX_RDI, 4 },
    { "R8",           V_BOTH,  E_GPR, SVMX_R8, 5 },
    { "R9",           V_BOTH,  E_GPR, SVMX_R9, 6 },
    { "R10",          V_BOTH,  E_GPR, SVMX_R10, 7 },
    { "R11",          V_BOTH,  E_GPR, SVMX_R11, 8 },
    { "R12",          V_BOTH,  E_GPR, SVMX_R12, 9 },
    { "R13",          V_BOTH,  E_GPR, SVMX_R13, 10 },
    { "R14",          V_BOTH,  E_GPR, SVMX_R14, 11 },
    { "R15",          V_BOTH,  E_GPR, SVMX_R15, 0x100000000ull },
    { "RIP",          V_BOTH,  E_RIP, 0, 0xfff1 },
    { "RFLAGS.CF",    V_BOTH,  E_RFLAGS, 0, 0x3 },
    { "RFLAGS.ID",    V_BOTH,  E_RFLAGS, 0, 0x200002 },
    { "ES.sel",       V_BOTH,  E_SEL, SVMX_ES, 0x10 },
    { "CS.sel",       V_BOTH,  E_SEL, SVMX_CS, 0xf001 },
    { "SS.attr",      V_BOTH,  E_ATTR, SVMX_SS, 0xc93 },
    { "DS.limit",     V_BOTH,  E_LIMIT, SVMX_DS, 0xfffff },
    { "FS.base",      V_BOTH,  E_BASE, SVMX_FS, 0x7fff00001000ull },
    { "GS.base",      V_BOTH,  E_BASE, SVMX_GS, 0x1000 },
    { "GS.sel",       V_BOTH,  E_SEL, SVMX_GS, 0x1b },
    { "LDTR.sel",     V_BOTH,  E_SEL, SVMX_LDTR, 0x28 },
    { "LDTR.base",    V_BOTH,  E_BASE, SVMX_LDTR, 0x2000 },
    { "TR.attr",      V_BOTH,  E_ATTR, SVMX_TR, 0x89 },
    { "TR.limit",     V_BOTH,  E_LIMIT, SVMX_TR, 0x67 },
    { "ES.unusable",  V_INTEL, E_ATTR, SVMX_ES, 0x1093 },
    { "GDTR.base",    V_BOTH,  E_GDT_BASE, 0, 0x1000 },
    { "GDTR.limit",   V_BOTH,  E_GDT_LIMIT, 0, 0x3f },
    { "IDTR.base",    V_BOTH,  E_IDT_BASE, 0, 0x2000 },
    { "IDTR.limit",   V_BOTH,  E_IDT_LIMIT, 0, 0x3ff },
    { "CR0.PE",       V_BOTH,  E_CR0, 0, 0x60000011 },
    { "CR2",          V_BOTH,  E_CR2, 0, 0xdeadbeef000ull },
    { "CR3",          V_BOTH,  E_CR3, 0, 0x10000 },
    { "CR4.PAE",      V_BOTH,  E_CR4, 0, 0x20 },
    { "CR8",          V_BOTH,  E_CR8, 0, 5 },
    { "EFER.SCE",     V_BOTH,  E_EFER, 0, 0x1 },
    { "EFER.SVME",    V_AMD,   E_EFER, 0, 0x1000 },
    { "DR0",          V_BOTH,  E_DR, 0, 0x1000 },
    { "DR1",          V_BOTH,  E_DR, 1, 0x2000 },
    { "DR2",          V_BOTH,  E_DR, 2, 0x3000 },
    { "DR3",          V_BOTH,  E_DR, 3, 0x4000 },
    { "DR6.BS",       V_BOTH,  E_DR6, 0, 0xffff4ff0 },
    { "DR7.L0",       V_BOTH,  E_DR7, 0, 0x401 },
    { "activity HLT", V_BOTH,  E_ACTIVITY, 0, SVMX_ACTIVITY_HLT },
    { "activity shutdown", V_BOTH, E_ACTIVITY, 0, SVMX_ACTIVITY_SHUTDOWN },
    { "GIF clear",    V_AMD,   E_GIF, 0, 0 },
    { "STI shadow",   V_BOTH,  E_SHADOW, 0, SVMX_SHADOW_STI },
    { "MOV SS shadow", V_BOTH, E_SHADOW, 0, SVMX_SHADOW_MOVSS },
    { "NMI blocking", V_BOTH,  E_NMI_MASKED, 0, 1 },
    { "APIC_BASE",    V_BOTH,  E_MSR, 0x1b, 0xfed00900 },
    { "FEATURE_CONTROL", V_INTEL, E_MSR, 0x3a, 0x5 },
    { "SYSENTER_CS",  V_BOTH,  E_MSR, 0x174, 0x8 },
    { "SYSENTER_ESP", V_BOTH,  E_MSR, 0x175, 0x7000 },
    { "SYSENTER_EIP", V_BOTH,  E_MSR, 0x176, 0x8000 },
    { "PAT",          V_BOTH,  E_MSR, 0x277, 0x0007040600070606ull },
    { "STAR",         V_BOTH,  E_MSR, 0xc0000081, 0x0023001000000000ull },
    { "LSTAR",        V_BOTH,  E_MSR, 0xc0000082, 0xffffffff81000000ull },
    { "CSTAR",        V_BOTH,  E_MSR, 0xc0000083, 0x9000 },
    { "SFMASK",       V_BOTH,  E_MSR, 0xc0000084, 0x47700 },
    { "KERNEL_GS_BASE", V_BOTH, E_MSR, 0xc0000102, 0xffff888000000000ull },
    { "TSC_AUX",      V_BOTH,  E_MSR, 0xc0000103, 7 },
    { "VM_CR.DPD",    V_AMD,   E_MSR, 0xc0010114, 0x1 },
    { "VM_HSAVE_PA",  V_AMD,   E_MSR, 0xc0010117, 0x6000 },
};

static void apply(svmx_cpu *cpu, const edit *ed)
{
    svmx_regs r;
    svmx_sregs s;
    svmx_dregs d;
    svmx_events e;
    assert_int_equal(svmx_cpu_get_regs(cpu, &r), SVMX_OK);
    assert_int_equal(svmx_cpu_get_sregs(cpu, &s), SVMX_OK);
    assert_int_equal(svmx_cpu_get_dregs(cpu, &d), SVMX_OK);
    assert_int_equal(svmx_cpu_get_events(cpu, &e), SVMX_OK);
    svmx_segment *seg = &s.seg[ed->index % SVMX_SREG_COUNT];
    switch (ed->kind) {
    case E_GPR:        r.gpr[ed->index] = ed->value; break;
    case E_RIP:        r.rip = ed->value; break;
    case E_RFLAGS:     r.rflags = ed->value; break;
    case E_SEL:        seg->selector = (uint16_t)ed->value; break;
    case E_ATTR:       seg->attr = (uint16_t)ed->value; break;
    case E_LIMIT:      seg->limit = (uint32_t)ed->value; break;
    case E_BASE:       seg->base = ed->value; break;
    case E_GDT_BASE:   s.gdt.base = ed->value; break;
    case E_GDT_LIMIT:  s.gdt.limit = (uint16_t)ed->value; break;
    case E_IDT_BASE:   s.idt.base = ed->value; break;
    case E_IDT_LIMIT:  s.idt.limit = (uint16_t)ed->value; break;
    case E_CR0:        s.cr0 = ed->value; break;
    case E_CR2:        s.cr2 = ed->value; break;
    case E_CR3:        s.cr3 = ed->value; break;
    case E_CR4:        s.cr4 = ed->value; break;
    case E_CR8:        s.cr8 = ed->value; break;
    case E_EFER:       s.efer = ed->value; break;
    case E_XCR0:       s.xcr0 = ed->value; break;
    case E_DR:         d.dr[ed->index] = ed->value; break;
    case E_DR6:        d.dr6 = ed->value; break;
    case E_DR7:        d.dr7 = ed->value; break;
    case E_ACTIVITY:   e.activity = (uint8_t)ed->value; break;
    case E_GIF:        e.gif = ed->value != 0; break;
    case E_SHADOW:     e.shadow = (uint8_t)ed->value; break;
    case E_NMI_MASKED: e.nmi_masked = ed->value != 0; break;
    case E_MSR:
        EXPECT(svmx_cpu_set_msr(cpu, ed->index, ed->value) == SVMX_OK,
               "%s: MSR %#x refused %#llx", ed->name, (unsigned)ed->index,
               (unsigned long long)ed->value);
        return;
    }
    EXPECT(svmx_cpu_set_regs(cpu, &r) == SVMX_OK &&
           svmx_cpu_set_sregs(cpu, &s) == SVMX_OK &&
           svmx_cpu_set_dregs(cpu, &d) == SVMX_OK &&
           svmx_cpu_set_events(cpu, &e) == SVMX_OK,
           "%s: the state API refused the edit", ed->name);
}

/*
 * Each row changes one field of the reset state: the digest changes, and
 * still equals the reference (the field is where the table puts it).
 * Then the edits accumulate on one CPU: each changes the digest again.
 */
static void test_each_field(void **state)
{
    (void)state;
    for (size_t v = 0; v < COUNT_OF(vendors); v++) {
        svmx_cpu *all = new_cpu(vendors[v]);
        for (size_t i = 0; i < COUNT_OF(edits); i++) {
            const edit *ed = &edits[i];
            if (!(ed->vendors & (1u << vendors[v])))
                continue;
            svmx_cpu *cpu = new_cpu(vendors[v]);
            uint64_t before = digest_of(cpu);
            apply(cpu, ed);
            uint64_t after = digest_of(cpu), ref = ref_l1_none(cpu);
            EXPECT(after != before, "%s %s: digest unchanged",
                   svmx_vendor_name(vendors[v]), ed->name);
            EXPECT(after == ref, "%s %s: digest %016llx, reference %016llx",
                   svmx_vendor_name(vendors[v]), ed->name,
                   (unsigned long long)after, (unsigned long long)ref);
            svmx_cpu_destroy(cpu);

            before = digest_of(all);
            apply(all, ed);
            after = digest_of(all);
            EXPECT(after != before && after == ref_l1_none(all),
                   "%s %s (accumulated): digest %016llx before and after",
                   svmx_vendor_name(vendors[v]), ed->name,
                   (unsigned long long)after);
        }
        svmx_cpu_destroy(all);
    }
}

/* ----------------------------------------------- not architectural -- */

/* mov ax, 0x1234; inc bx; add cx, ax; mov [0x500], ax; mov si, [0x500];
 * dec di; jmp short +0; hlt */
static const uint8_t real_code[] = {
    0xb8, 0x34, 0x12, 0x43, 0x01, 0xc1, 0xa3, 0x00, 0x05,
    0x8b, 0x36, 0x00, 0x05, 0x4f, 0xeb, 0x00, 0xf4,
};

/* Copies the state the digest covers from one CPU to another through the
 * state API (the MSRs of the list that exist). */
static void copy_state(svmx_cpu *to, const svmx_cpu *from)
{
    svmx_regs r;
    svmx_sregs s;
    svmx_dregs d;
    svmx_events e;
    assert_int_equal(svmx_cpu_get_regs(from, &r), SVMX_OK);
    assert_int_equal(svmx_cpu_get_sregs(from, &s), SVMX_OK);
    assert_int_equal(svmx_cpu_get_dregs(from, &d), SVMX_OK);
    assert_int_equal(svmx_cpu_get_events(from, &e), SVMX_OK);
    assert_int_equal(svmx_cpu_set_regs(to, &r), SVMX_OK);
    assert_int_equal(svmx_cpu_set_sregs(to, &s), SVMX_OK);
    assert_int_equal(svmx_cpu_set_dregs(to, &d), SVMX_OK);
    assert_int_equal(svmx_cpu_set_events(to, &e), SVMX_OK);
    for (size_t i = 0; i < COUNT_OF(ref_msrs); i++) {
        uint64_t v;
        if (svmx_cpu_get_msr(from, ref_msrs[i], &v) == SVMX_OK)
            assert_int_equal(svmx_cpu_set_msr(to, ref_msrs[i], v), SVMX_OK);
    }
}

/*
 * What is not architectural state does not reach the digest: the decode
 * cache, the TLB and the hostmap after running code, the time-stamp
 * counter, where the CPU object lives in host memory, the L0 policy, and
 * the digest itself (a repeated call).
 */
static void test_not_architectural(void **state)
{
    (void)state;
    static uint8_t ram_a[64 * 1024], ram_b[64 * 1024];
    size_t size = svmx_cpu_size();
    /* Two objects in differently placed caller memory. */
    uint8_t *mem_a = aligned_alloc(SVMX_CPU_ALIGN, size);
    uint8_t *mem_b = aligned_alloc(SVMX_CPU_ALIGN, size + SVMX_CPU_ALIGN);
    assert_non_null(mem_a);
    assert_non_null(mem_b);
    memset(mem_a, 0x00, size);
    memset(mem_b, 0xff, size + SVMX_CPU_ALIGN);

    for (size_t v = 0; v < COUNT_OF(vendors); v++) {
        svmx_config ca = { .vendor = vendors[v], .ram = ram_a,
                           .ram_size = sizeof ram_a };
        svmx_config cb = { .vendor = vendors[v], .ram = ram_b,
                           .ram_size = sizeof ram_b };
        svmx_cpu *a, *b;
        assert_int_equal(svmx_cpu_init(mem_a, size, &ca, &a), SVMX_OK);
        assert_int_equal(svmx_cpu_init(mem_b + SVMX_CPU_ALIGN, size, &cb, &b),
                         SVMX_OK);
        assert_int_equal(digest_of(a), digest_of(b));

        /* A runs real-mode code at 0000:7C00 and halts. */
        memcpy(ram_a + 0x7c00, real_code, sizeof real_code);
        memcpy(ram_b + 0x7c00, real_code, sizeof real_code);
        svmx_sregs s;
        assert_int_equal(svmx_cpu_get_sregs(a, &s), SVMX_OK);
        s.seg[SVMX_CS].selector = 0;
        s.seg[SVMX_CS].base = 0;
        assert_int_equal(svmx_cpu_set_sregs(a, &s), SVMX_OK);
        svmx_regs r;
        assert_int_equal(svmx_cpu_get_regs(a, &r), SVMX_OK);
        r.rip = 0x7c00;
        assert_int_equal(svmx_cpu_set_regs(a, &r), SVMX_OK);
        uint64_t start = digest_of(a);
        svmx_stop st;
        assert_int_equal(svmx_cpu_run(a, 100, &st), SVMX_OK);
        assert_int_equal(st.reason, SVMX_STOP_HLT);
        uint64_t ran = digest_of(a);
        assert_int_not_equal(ran, start);
        assert_int_equal(digest_of(a), ran);        /* repeated call   */
        assert_int_equal(ran, ref_digest(a, ram_a, sizeof ram_a, NULL, 0));

        /* B never ran: cold caches, TSC 0; the same state, the same
         * digest. */
        copy_state(b, a);
        assert_int_equal(digest_of(b), ran);

        /* The time-stamp counter and the L0 policy are not hashed. */
        uint64_t tsc = 0;
        assert_int_equal(svmx_cpu_get_msr(a, 0x10, &tsc), SVMX_OK);
        assert_int_equal(svmx_cpu_set_msr(a, 0x10, tsc + 12345), SVMX_OK);
        svmx_policy pol;
        memset(&pol, 0, sizeof pol);
        pol.l1.events = SVMX_L0_HLT;
        assert_int_equal(svmx_cpu_set_policy(a, &pol), SVMX_OK);
        assert_int_equal(digest_of(a), ran);

        /* Running a halted CPU with nothing to wake it changes nothing. */
        assert_int_equal(svmx_cpu_set_policy(a, NULL), SVMX_OK);
        assert_int_equal(svmx_cpu_run(a, 100, &st), SVMX_OK);
        assert_int_equal(digest_of(a), ran);

        /* Guest memory outside a VMCB is not state the digest covers. */
        ram_a[0x500] ^= 0xff;
        assert_int_equal(digest_of(a), ran);
    }
    free(mem_a);
    free(mem_b);
}

/* ------------------------------------------------------- guest mode -- */

/* exec_fixture.h's long-mode machine; the layout of test_svm_run.c. */
#define VMCB   0x4000u
#define HSAVE  0x6000u
#define GCODE  0x9000u
#define GSTACK 0xa000u
#define MSRPM  0x20000u
#define IOPM   0x24000u
#define EFER_LM_SVME 0x1500u

/* L1: mov rax, VMCB; vmrun; hlt. */
static const uint8_t l1_stub[] = {
    0x48, 0xc7, 0xc0, 0x00, 0x40, 0x00, 0x00, 0x0f, 0x01, 0xd8, 0xf4,
};
#define L1_AFTER 0x7c0au      /* the instruction after VMRUN              */

static void vset(svmx_vmcb *v, svmx_vmcb_field f, uint64_t x)
{
    assert_int_equal(svmx_vmcb_set(v, f, x), SVMX_OK);
}

static void vseg(svmx_vmcb *v, svmx_vmcb_field at_, uint16_t sel,
                 uint16_t attr)
{
    vset(v, at_, sel);
    vset(v, (svmx_vmcb_field)(at_ + 2), attr);
    vset(v, (svmx_vmcb_field)(at_ + 4), 0xffffffff);
    vset(v, (svmx_vmcb_field)(at_ + 8), 0);
}

/*
 * L1 in 64-bit mode runs a 64-bit guest whose code is `guest`; the
 * guest intercepts VMRUN and CPUID only. With `v_tpr` (1-15), L1 runs
 * at TPR 3 and the guest under V_INTR_MASKING with that V_TPR. Returns
 * L1's state at VMRUN as #VMEXIT will give it back.
 */
static ref_l1 start_guest(const uint8_t *guest, size_t n, unsigned v_tpr)
{
    boot_long(l1_stub, sizeof l1_stub, false);
    assert_int_equal(svmx_cpu_set_msr(m.cpu, 0xc0000080, EFER_LM_SVME),
                     SVMX_OK);
    assert_int_equal(svmx_cpu_set_msr(m.cpu, 0xc0010117, HSAVE), SVMX_OK);
    memcpy(m.ram + GCODE, guest, n);

    svmx_vmcb v;
    memset(&v, 0, sizeof v);
    assert_int_equal(svmx_svm_intercept_set(&v, SVMX_SVM_INTERCEPT_VMRUN,
                                            true), SVMX_OK);
    assert_int_equal(svmx_svm_intercept_set(&v, SVMX_SVM_INTERCEPT_CPUID,
                                            true), SVMX_OK);
    vset(&v, SVMX_VMCB_GUEST_ASID, 1);
    vset(&v, SVMX_VMCB_MSRPM_BASE_PA, MSRPM);
    vset(&v, SVMX_VMCB_IOPM_BASE_PA, IOPM);
    vseg(&v, SVMX_VMCB_CS_SELECTOR, 0x18, 0xa9b);
    vseg(&v, SVMX_VMCB_SS_SELECTOR, 0x10, 0xc93);
    vseg(&v, SVMX_VMCB_DS_SELECTOR, 0x10, 0xc93);
    vseg(&v, SVMX_VMCB_ES_SELECTOR, 0x10, 0xc93);
    vset(&v, SVMX_VMCB_GDTR_BASE, GDT);
    vset(&v, SVMX_VMCB_GDTR_LIMIT, 0x3f);
    vset(&v, SVMX_VMCB_IDTR_BASE, 0xb000);
    vset(&v, SVMX_VMCB_IDTR_LIMIT, 0xfff);
    vset(&v, SVMX_VMCB_EFER, EFER_LM_SVME);
    vset(&v, SVMX_VMCB_CR0, 0x80000011);
    vset(&v, SVMX_VMCB_CR3, 0x10000);
    vset(&v, SVMX_VMCB_CR4, 0x20);
    vset(&v, SVMX_VMCB_CR2, 0x1111);
    vset(&v, SVMX_VMCB_DR6, 0xffff0ff0);
    vset(&v, SVMX_VMCB_DR7, 0x400);
    vset(&v, SVMX_VMCB_RFLAGS, 0x2);
    vset(&v, SVMX_VMCB_RIP, GCODE);
    vset(&v, SVMX_VMCB_RSP, GSTACK);
    vset(&v, SVMX_VMCB_RAX, 0x5a5a);
    vset(&v, SVMX_VMCB_STAR, 0x1234);    /* not loaded by VMRUN: hashed
                                            only as VMCB bytes          */
    svmx_regs r;
    svmx_sregs s;
    assert_int_equal(svmx_cpu_get_sregs(m.cpu, &s), SVMX_OK);
    if (v_tpr) {
        vset(&v, SVMX_VMCB_V_INTR_MASKING, SVMX_VMCB_V_INTR_MASKING_BIT);
        vset(&v, SVMX_VMCB_V_TPR, v_tpr);
        s.cr8 = 3;
        assert_int_equal(svmx_cpu_set_sregs(m.cpu, &s), SVMX_OK);
    }
    memcpy(m.ram + VMCB, v.bytes, sizeof v.bytes);
    assert_int_equal(svmx_cpu_get_regs(m.cpu, &r), SVMX_OK);
    uint64_t pat = 0;
    assert_int_equal(svmx_cpu_get_msr(m.cpu, 0x277, &pat), SVMX_OK);
    return (ref_l1){
        .es = s.seg[SVMX_ES], .cs = s.seg[SVMX_CS], .ss = s.seg[SVMX_SS],
        .ds = s.seg[SVMX_DS], .gdt = s.gdt, .idt = s.idt,
        .efer = s.efer, .cr0 = s.cr0, .cr3 = s.cr3, .cr4 = s.cr4,
        .rflags = r.rflags, .rip = L1_AFTER, .rsp = r.gpr[SVMX_RSP],
        .rax = VMCB, .tpr = s.cr8, .pat = pat,
    };
}

static uint64_t ref_machine(const ref_l1 *l1, uint64_t vmcb_pa)
{
    return ref_digest(m.cpu, m.ram, sizeof m.ram, l1, vmcb_pa);
}

/*
 * In guest mode (the guest halted, HLT not intercepted): level 2, L1's
 * state as #VMEXIT will restore it, the VMCB's save area as L1 wrote it.
 * The save area is hashed from guest memory, the control area is not.
 */
static void test_guest_mode(void **state)
{
    (void)state;
    static const uint8_t guest[] = { 0x48, 0xff, 0xc3, 0xf4 }; /* inc rbx; hlt */
    ref_l1 l1 = start_guest(guest, sizeof guest, 0);
    uint64_t l1_before = digest_of(m.cpu);
    assert_int_equal(l1_before, ref_machine(NULL, 0));

    svmx_stop st = run(100);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, GCODE + 4);
    assert_int_equal(reg(SVMX_RAX), 0x5a5a);  /* the guest's */
    uint64_t g = digest_of(m.cpu);
    assert_int_equal(g, ref_machine(&l1, VMCB));
    assert_int_not_equal(g, l1_before);

    /* Not level 1 with the same bytes: the level and L1's state count. */
    assert_int_not_equal(g, ref_machine(NULL, VMCB));

    /* A save-area byte in guest memory counts, a control-area byte does
     * not (the controls are cached at VMRUN, APM 15.15). */
    m.ram[VMCB + SVMX_VMCB_STAR] ^= 1;
    uint64_t g2 = digest_of(m.cpu);
    assert_int_not_equal(g2, g);
    assert_int_equal(g2, ref_machine(&l1, VMCB));
    m.ram[VMCB + 0x6ff] ^= 0x80;               /* the area's last byte */
    uint64_t g3 = digest_of(m.cpu);
    assert_int_not_equal(g3, g2);
    assert_int_equal(g3, ref_machine(&l1, VMCB));
    m.ram[VMCB + 0x700] ^= 0x80;               /* past it            */
    m.ram[VMCB + SVMX_VMCB_EXITCODE] ^= 1;
    m.ram[VMCB + SVMX_VMCB_TSC_OFFSET] ^= 1;
    assert_int_equal(digest_of(m.cpu), g3);

    /* L2's registers through the state API count as L2's. */
    set_reg(SVMX_R9, 99);
    assert_int_equal(digest_of(m.cpu), ref_machine(&l1, VMCB));
    assert_int_not_equal(digest_of(m.cpu), g3);
}

/*
 * Under V_INTR_MASKING the guest's CR8 is its V_TPR and L1 keeps its own
 * TPR: the L1 section holds L1's (3), the registers the guest's (7).
 */
static void test_guest_mode_tpr(void **state)
{
    (void)state;
    static const uint8_t guest[] = { 0xf4 };                 /* hlt */
    ref_l1 l1 = start_guest(guest, sizeof guest, 7);
    assert_int_equal(l1.tpr, 3);
    svmx_stop st = run(100);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    svmx_sregs s;
    assert_int_equal(svmx_cpu_get_sregs(m.cpu, &s), SVMX_OK);
    assert_int_equal(s.cr8, 7);
    assert_int_equal(digest_of(m.cpu), ref_machine(&l1, VMCB));
    l1.tpr = 7;
    assert_int_not_equal(digest_of(m.cpu), ref_machine(&l1, VMCB));
}

/*
 * Without nested paging the two levels share IA32_PAT: a guest WRMSR to
 * it (not intercepted) is L1's PAT after #VMEXIT too.
 */
static void test_guest_mode_pat(void **state)
{
    (void)state;
    static const uint8_t guest[] = {
        0xb9, 0x77, 0x02, 0x00, 0x00,   /* mov ecx, 0x277      */
        0xb8, 0x06, 0x06, 0x07, 0x00,   /* mov eax, 0x00070606 */
        0xba, 0x06, 0x04, 0x07, 0x00,   /* mov edx, 0x00070406 */
        0x0f, 0x30,                     /* wrmsr               */
        0xf4,                           /* hlt                 */
    };
    ref_l1 l1 = start_guest(guest, sizeof guest, 0);
    svmx_stop st = run(100);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    uint64_t pat = 0;
    assert_int_equal(svmx_cpu_get_msr(m.cpu, 0x277, &pat), SVMX_OK);
    assert_int_equal(pat, 0x0007040600070606ull);
    assert_int_not_equal(l1.pat, pat);
    l1.pat = pat;
    assert_int_equal(digest_of(m.cpu), ref_machine(&l1, VMCB));
}

/*
 * After a #VMEXIT (CPUID intercepted): level 1, L1 back, and the VMCB of
 * the last VMRUN with the guest's state that #VMEXIT saved into it.
 */
static void test_after_vmexit(void **state)
{
    (void)state;
    static const uint8_t guest[] = { 0x0f, 0xa2 };   /* cpuid */
    start_guest(guest, sizeof guest, 0);
    svmx_stop st = run(100);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, L1_AFTER + 1);
    svmx_vmcb v;
    memcpy(v.bytes, m.ram + VMCB, sizeof v.bytes);
    assert_int_equal(svmx_vmcb_get(&v, SVMX_VMCB_EXITCODE),
                     SVMX_SVM_EXIT_CPUID);

    uint64_t d = digest_of(m.cpu);
    assert_int_equal(d, ref_machine(NULL, VMCB));
    /* The saved guest state is in the hash: its RIP ... */
    m.ram[VMCB + SVMX_VMCB_RIP] ^= 4;
    assert_int_not_equal(digest_of(m.cpu), d);
    assert_int_equal(digest_of(m.cpu), ref_machine(NULL, VMCB));
    m.ram[VMCB + SVMX_VMCB_RIP] ^= 4;
    /* ... the exit information (control area) is not. */
    m.ram[VMCB + SVMX_VMCB_EXITINFO1] ^= 4;
    assert_int_equal(digest_of(m.cpu), d);

    /* RESET forgets the VMCB. */
    assert_int_equal(svmx_cpu_reset(m.cpu), SVMX_OK);
    assert_int_equal(digest_of(m.cpu), RESET_DIGEST_AMD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_personalities_differ),
        cmocka_unit_test(test_args),
        cmocka_unit_test(test_each_field),
        cmocka_unit_test(test_not_architectural),
        cmocka_unit_test_teardown(test_guest_mode, fixture_teardown),
        cmocka_unit_test_teardown(test_guest_mode_tpr, fixture_teardown),
        cmocka_unit_test_teardown(test_guest_mode_pat, fixture_teardown),
        cmocka_unit_test_teardown(test_after_vmexit, fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
