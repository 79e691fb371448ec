/*
 * tests/exec_fixture.c - the machine of exec_fixture.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "exec_fixture.h"

machine m;

static svmx_status pio_out(void *ctx, uint16_t port, unsigned size,
                           uint32_t value)
{
    machine *mc = ctx;
    (void)size;
    if (mc->outs < 8) {
        mc->out_port[mc->outs] = port;
        mc->out_value[mc->outs] = value;
    }
    mc->outs++;
    if (port == mc->stop_port)
        svmx_cpu_request_stop(mc->cpu);
    if (port == 0xdead)
        return SVMX_E_UNSUPPORTED;
    return SVMX_OK;
}

static svmx_status pio_in(void *ctx, uint16_t port, unsigned size,
                          uint32_t *value)
{
    machine *mc = ctx;
    (void)port, (void)size;
    *value = mc->in_value;
    return SVMX_OK;
}

void boot_real(svmx_vendor vendor, const uint8_t *code, size_t n)
{
    svmx_cpu_destroy(m.cpu);
    memset(&m, 0, sizeof m);
    m.io = (svmx_io_ops){ .ctx = &m, .pio_out = pio_out, .pio_in = pio_in };
    m.stop_port = 0xffff;
    svmx_config cfg = { .vendor = vendor, .ram = m.ram, .ram_size = RAM_SIZE,
                        .io = &m.io };
    assert_int_equal(svmx_cpu_create(&cfg, &m.cpu), SVMX_OK);
    memcpy(m.ram + 0x7c00, code, n);
    svmx_sregs s;
    svmx_regs r;
    svmx_cpu_get_sregs(m.cpu, &s);
    svmx_cpu_get_regs(m.cpu, &r);
    s.seg[SVMX_CS].selector = 0;
    s.seg[SVMX_CS].base = 0;
    s.idt.base = 0;
    s.idt.limit = 0x3ff;
    r.rip = 0x7c00;
    r.gpr[SVMX_RSP] = 0x7000;
    assert_int_equal(svmx_cpu_set_sregs(m.cpu, &s), SVMX_OK);
    assert_int_equal(svmx_cpu_set_regs(m.cpu, &r), SVMX_OK);
}

uint64_t reg(svmx_gpr g)
{
    svmx_regs r;
    svmx_cpu_get_regs(m.cpu, &r);
    return r.gpr[g];
}

uint64_t rip(void)
{
    svmx_regs r;
    svmx_cpu_get_regs(m.cpu, &r);
    return r.rip;
}

void put64(uint64_t addr, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        m.ram[addr + i] = (uint8_t)(v >> (8 * i));
}

uint64_t get(uint64_t addr, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)m.ram[addr + i] << (8 * i);
    return v;
}

uint64_t gate32(uint32_t off, uint16_t sel, uint8_t type_byte)
{
    return (off & 0xffff) | (uint64_t)sel << 16 | (uint64_t)type_byte << 40 |
           (uint64_t)(off >> 16) << 48;
}

svmx_segment flat(uint16_t sel, uint16_t attr)
{
    svmx_segment s = { .base = 0, .limit = 0xffffffff, .selector = sel,
                       .attr = attr };
    return s;
}

void boot_protected_v(svmx_vendor vendor, const uint8_t *code, size_t n,
                      bool user)
{
    boot_real(vendor, code, n);
    put64(GDT + 0x08, 0x00cf9a000000ffffull); /* code32, DPL0, not accessed */
    put64(GDT + 0x10, 0x00cf92000000ffffull); /* data, DPL0 */
    put64(GDT + 0x18, 0x00af9a000000ffffull); /* code64, DPL0 */
    put64(GDT + 0x20, 0x00cffa000000ffffull); /* code32, DPL3 */
    put64(GDT + 0x28, 0x00cff2000000ffffull); /* data, DPL3 */
    put64(GDT + 0x30, 0x0000890030000067ull); /* 32-bit TSS at 0x3000 */
    put64(GDT + 0x38, 0x00affa000000ffffull); /* code64, DPL3 */
    m.ram[0x8000] = 0xf4;
    svmx_sregs s;
    svmx_regs r;
    svmx_cpu_get_sregs(m.cpu, &s);
    svmx_cpu_get_regs(m.cpu, &r);
    s.cr0 = 0x11;
    s.gdt.base = GDT;
    s.gdt.limit = 0x3f;
    s.idt.base = IDT;
    s.idt.limit = 0x7ff;
    for (int i = SVMX_ES; i <= SVMX_GS; i++)
        s.seg[i] = flat(user ? 0x2b : 0x10, user ? 0xcf3 : 0xc93);
    s.seg[SVMX_CS] = flat(user ? 0x23 : 0x08, user ? 0xcfb : 0xc9b);
    s.seg[SVMX_TR] = (svmx_segment){ .base = TSS, .limit = 0x67,
                                     .selector = 0x30, .attr = 0x8b };
    r.rflags = SVMX_RFLAGS_FIXED | SVMX_RFLAGS_IF;
    assert_int_equal(svmx_cpu_set_sregs(m.cpu, &s), SVMX_OK);
    assert_int_equal(svmx_cpu_set_regs(m.cpu, &r), SVMX_OK);
}

void boot_protected(const uint8_t *code, size_t n, bool user)
{
    boot_protected_v(SVMX_VENDOR_AMD, code, n, user);
}

void boot_long_v(svmx_vendor vendor, const uint8_t *code, size_t n,
                 bool user)
{
    boot_protected_v(vendor, code, n, user);
    put64(0x10000, 0x11000 | 7);
    put64(0x11000, 0x12000 | 7);
    put64(0x12000, 0x0 | 0x87);
    svmx_sregs s;
    svmx_cpu_get_sregs(m.cpu, &s);
    s.cr0 = 0x80000011;
    s.cr3 = 0x10000;
    s.cr4 = 0x20; /* PAE */
    s.efer = 0x500; /* LME | LMA */
    s.seg[SVMX_CS] = flat(user ? 0x3b : 0x18, user ? 0xafb : 0xa9b);
    s.seg[SVMX_TR].attr = 0x8b; /* busy 64-bit TSS */
    assert_int_equal(svmx_cpu_set_sregs(m.cpu, &s), SVMX_OK);
}

void boot_long(const uint8_t *code, size_t n, bool user)
{
    boot_long_v(SVMX_VENDOR_AMD, code, n, user);
}

void set_reg(svmx_gpr g, uint64_t v)
{
    svmx_regs r;
    svmx_cpu_get_regs(m.cpu, &r);
    r.gpr[g] = v;
    svmx_cpu_set_regs(m.cpu, &r);
}

uint64_t rflags(void)
{
    svmx_regs r;
    svmx_cpu_get_regs(m.cpu, &r);
    return r.rflags;
}

svmx_stop run(uint64_t max)
{
    svmx_stop st;
    assert_int_equal(svmx_cpu_run(m.cpu, max, &st), SVMX_OK);
    return st;
}

int fixture_teardown(void **state)
{
    (void)state;
    svmx_cpu_destroy(m.cpu);
    m.cpu = NULL;
    return 0;
}
