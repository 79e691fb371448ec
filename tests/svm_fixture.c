/*
 * tests/svm_fixture.c - the SVM machine of svm_fixture.h.
 *
 * References: APM Vol. 2 chapter 15 (sections cited per helper).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "svm_fixture.h"

/* L1: mov rax, 0x4000; vmrun; hlt. */
const uint8_t l1_stub[] = {
    0x48, 0xc7, 0xc0, 0x00, 0x40, 0x00, 0x00, 0x0f, 0x01, 0xd8, 0xf4,
};

svmx_vmcb vm;                 /* the VMCB being built                    */

/* ------------------------------------------------------------ helpers -- */

void set_msr(uint32_t i, uint64_t v)
{
    assert_int_equal(svmx_cpu_set_msr(m.cpu, i, v), SVMX_OK);
}

uint64_t msr(uint32_t i)
{
    uint64_t v = 0;
    assert_int_equal(svmx_cpu_get_msr(m.cpu, i, &v), SVMX_OK);
    return v;
}

svmx_sregs sregs(void)
{
    svmx_sregs s;
    assert_int_equal(svmx_cpu_get_sregs(m.cpu, &s), SVMX_OK);
    return s;
}

svmx_events events(void)
{
    svmx_events e;
    assert_int_equal(svmx_cpu_get_events(m.cpu, &e), SVMX_OK);
    return e;
}

void vset(svmx_vmcb_field f, uint64_t v)
{
    assert_int_equal(svmx_vmcb_set(&vm, f, v), SVMX_OK);
}

void icpt(unsigned n)
{
    assert_int_equal(svmx_svm_intercept_set(&vm, n, true), SVMX_OK);
}

/* A field of the VMCB as it is in RAM now. */
uint64_t vout(svmx_vmcb_field f)
{
    svmx_vmcb v;
    memcpy(v.bytes, m.ram + VMCB, sizeof v.bytes);
    return svmx_vmcb_get(&v, f);
}

/* 16-byte interrupt gates for every vector to a HLT at handler + 16 v. */
void gates(uint32_t idt, unsigned count, uint32_t handler)
{
    for (unsigned v = 0; v < count; v++) {
        uint32_t h = handler + 16 * v;
        m.ram[h] = 0xf4;
        put64(idt + 16 * v, (h & 0xffff) | 0x18ull << 16 | 0x8eull << 40 |
                                (uint64_t)(h >> 16) << 48);
        put64(idt + 16 * v + 8, 0);
    }
}

void put_seg(svmx_vmcb_field at, uint16_t sel, uint16_t attr)
{
    vset(at, sel);
    vset((svmx_vmcb_field)(at + 2), attr);
    vset((svmx_vmcb_field)(at + 4), 0xffffffff);
    vset((svmx_vmcb_field)(at + 8), 0);
}

/* A 64-bit guest at GCODE sharing L1's GDT and page tables, CPL 0,
 * intercepting VMRUN (required) and HLT. */
void vmcb_defaults(void)
{
    memset(&vm, 0, sizeof vm);
    icpt(SVMX_SVM_INTERCEPT_VMRUN);
    icpt(SVMX_SVM_INTERCEPT_HLT);
    vset(SVMX_VMCB_GUEST_ASID, 1);
    vset(SVMX_VMCB_MSRPM_BASE_PA, MSRPM);
    vset(SVMX_VMCB_IOPM_BASE_PA, IOPM);
    put_seg(SVMX_VMCB_CS_SELECTOR, 0x18, 0xa9b);
    put_seg(SVMX_VMCB_SS_SELECTOR, 0x10, 0xc93);
    put_seg(SVMX_VMCB_DS_SELECTOR, 0x10, 0xc93);
    put_seg(SVMX_VMCB_ES_SELECTOR, 0x10, 0xc93);
    vset(SVMX_VMCB_GDTR_BASE, GDT);
    vset(SVMX_VMCB_GDTR_LIMIT, 0x3f);
    vset(SVMX_VMCB_IDTR_BASE, GIDT);
    vset(SVMX_VMCB_IDTR_LIMIT, 0xfff);
    vset(SVMX_VMCB_EFER, EFER_LM | EFER_SVME);
    vset(SVMX_VMCB_CR0, 0x80000011);
    vset(SVMX_VMCB_CR3, 0x10000);
    vset(SVMX_VMCB_CR4, 0x20);
    vset(SVMX_VMCB_CR2, 0x1111);
    vset(SVMX_VMCB_DR6, 0xffff0ff0);
    vset(SVMX_VMCB_DR7, 0x400);
    vset(SVMX_VMCB_RFLAGS, 0x2);
    vset(SVMX_VMCB_RIP, GCODE);
    vset(SVMX_VMCB_RSP, GSTACK);
    vset(SVMX_VMCB_RAX, 0);
}

/* L1 (code `l1`, or the stub) with SVM enabled, the guest code, both
 * IDTs, clear permission maps and the default VMCB. */
void setup_l1(svmx_vendor vendor, const uint8_t *l1, size_t l1n,
              const uint8_t *guest, size_t n, bool user)
{
    boot_long_v(vendor, l1, l1n, user);
    if (vendor == SVMX_VENDOR_AMD) {
        set_msr(MSR_EFER, EFER_LM | EFER_SVME);
        set_msr(MSR_HSAVE, HSAVE);
    }
    put64(TSS + 4, RSP0);
    gates(IDT, 32, L1HANDLER(0));
    gates(GIDT, 256, GHANDLER(0));
    m.ram[GCODE] = 0xf4;
    if (guest)
        memcpy(m.ram + GCODE, guest, n);
    vmcb_defaults();
}

void setup(const uint8_t *guest, size_t n)
{
    setup_l1(SVMX_VENDOR_AMD, l1_stub, sizeof l1_stub, guest, n, false);
}

/* Makes a halted L1 run again. */
void wake(void)
{
    svmx_events e;
    assert_int_equal(svmx_cpu_get_events(m.cpu, &e), SVMX_OK);
    e.activity = SVMX_ACTIVITY_ACTIVE;
    assert_int_equal(svmx_cpu_set_events(m.cpu, &e), SVMX_OK);
}

/* Copies the VMCB into RAM and runs L1 from its start (0x7C00) until a
 * stop; L1 must be outside guest mode. */
svmx_stop run_vm(uint64_t max)
{
    memcpy(m.ram + VMCB, vm.bytes, sizeof vm.bytes);
    wake();
    svmx_regs r;
    svmx_cpu_get_regs(m.cpu, &r);
    r.rip = 0x7c00;
    r.gpr[SVMX_RSP] = 0x7000;
    svmx_cpu_set_regs(m.cpu, &r);
    return run(max);
}

/* The state L1 gets back at #VMEXIT (15.6): RIP after VMRUN (L1 then
 * halted there), RAX and RSP as saved, CPL 0 code, CR0.PE, DR7 = 0x400,
 * GIF = 0. */
void check_l1_back(const svmx_stop *st)
{
    assert_int_equal(st->reason, SVMX_STOP_HLT);
    assert_int_equal(st->rip, L1_AFTER + 1);
    assert_int_equal(reg(SVMX_RAX), VMCB);
    assert_int_equal(reg(SVMX_RSP), 0x7000);
    svmx_sregs s = sregs();
    assert_int_equal(s.seg[SVMX_CS].selector, 0x18);
    assert_true(s.cr0 & 1);
    assert_int_equal(s.efer, EFER_LM | EFER_SVME);
    svmx_dregs d;
    svmx_cpu_get_dregs(m.cpu, &d);
    assert_int_equal(d.dr7, 0x400);
    assert_false(events().gif);
}

/* The #VMEXIT that ended run `st` had these fields. */
void check_exit(const svmx_stop *st, uint64_t code, uint64_t info1,
                uint64_t info2, uint64_t rip, uint64_t nrip)
{
    assert_int_equal(vout(SVMX_VMCB_EXITCODE), code);
    assert_int_equal(vout(SVMX_VMCB_EXITINFO1), info1);
    assert_int_equal(vout(SVMX_VMCB_EXITINFO2), info2);
    assert_int_equal(vout(SVMX_VMCB_RIP), rip);
    assert_int_equal(vout(SVMX_VMCB_NRIP), nrip);
    check_l1_back(st);
}

/* Runs the guest and expects one #VMEXIT with these fields. */
void expect_exit(uint64_t code, uint64_t info1, uint64_t info2,
                 uint64_t rip, uint64_t nrip)
{
    svmx_stop st = run_vm(1000);
    check_exit(&st, code, info1, info2, rip, nrip);
}

/* The guest's exception frame at the VMCB's RSP: slot i (8 bytes). */
uint64_t gframe(unsigned i)
{
    return get(vout(SVMX_VMCB_RSP) + 8 * i, 8);
}

/* L1 took exception `v`: it halted in its handler. */
void expect_l1_fault(const svmx_stop *st, unsigned v)
{
    assert_int_equal(st->reason, SVMX_STOP_HLT);
    assert_int_equal(st->rip, L1HANDLER(v) + 1);
}

void identity_tables(uint32_t base)
{
    put64(base, (base + 0x1000) | 7);
    put64(base + 0x1000, (base + 0x2000) | 7);
    put64(base + 0x2000, (base + 0x3000) | 7);
    for (uint32_t i = 0; i < 512; i++)
        put64(base + 0x3000 + 8 * i, (uint64_t)i << 12 | 7);
}
