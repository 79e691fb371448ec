/*
 * tests/test_exec_seg.c - segmentation, far transfers, software
 * interrupts and IRET through the run loop: segment-register loads and
 * their faults (vector and error code), the MOV SS shadow, far JMP,
 * CALL and RET directly and through call gates (with the stack switch
 * and parameter copy), IRET in real, protected, virtual-8086 and 64-bit
 * mode, INT n / INT3 / INTO / INT1 frames, delivery from virtual-8086
 * mode, LLDT, LTR (busy bit), SLDT and STR, and the selector checks LAR,
 * LSL, VERR, VERW and ARPL.
 *
 * Every exception lands in a ring-0 handler that is a HLT at
 * HANDLER + vector, so the stop RIP names the vector and the frame on the
 * handler's stack is read back from RAM.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "exec_fixture.h"

#define HANDLER 0x8800   /* HLT of vector v at HANDLER + v           */
#define ESP0    0x9f00   /* ring-0 stack of the TSS                  */
#define LDT     0x4000

/* A code or data descriptor (SDM Vol. 3A Figure 3-8); `flags` is the
 * G, D/B, L, AVL nibble. */
static uint64_t desc(uint32_t base, uint32_t limit, unsigned access,
                     unsigned flags)
{
    return (limit & 0xffff) | (uint64_t)(base & 0xffffff) << 16 |
           (uint64_t)access << 40 | (uint64_t)((limit >> 16) & 0xf) << 48 |
           (uint64_t)(flags & 0xf) << 52 | (uint64_t)(base >> 24) << 56;
}

/* A legacy call gate (SDM Vol. 3A Figure 5-8). */
static uint64_t call_gate(uint32_t off, uint16_t sel, unsigned access,
                          unsigned params)
{
    return (off & 0xffff) | (uint64_t)sel << 16 | (uint64_t)params << 32 |
           (uint64_t)access << 40 | (uint64_t)(off >> 16) << 48;
}

static svmx_sregs sregs(void)
{
    svmx_sregs s;
    svmx_cpu_get_sregs(m.cpu, &s);
    return s;
}

static void set_sregs(const svmx_sregs *s)
{
    assert_int_equal(svmx_cpu_set_sregs(m.cpu, s), SVMX_OK);
}

static void set_rflags(uint64_t v)
{
    svmx_regs r;
    svmx_cpu_get_regs(m.cpu, &r);
    r.rflags = v;
    svmx_cpu_set_regs(m.cpu, &r);
}

/* The fixture's machine plus: a HLT handler per vector, the ring-0 stack
 * in the TSS, more GDT entries and an LDT:
 *   0x40 data DPL0 not present   0x48 (call gate, per test)
 *   0x50 code32 DPL0 execute-only 0x58 LDT at 0x4000 (2 entries)
 *   0x60 data DPL0 with base 0x100000 - 0x1000 (AMD/Intel null tests)
 *   0x68 code32 DPL0 conforming readable
 * LDT: 0x04 data DPL0, 0x0c data DPL3. LDTR starts unusable. */
static void machine32_v(svmx_vendor vendor, const uint8_t *code, size_t n,
                        bool user)
{
    boot_protected_v(vendor, code, n, user);
    for (unsigned v = 0; v < 32; v++) {
        put64(IDT + v * 8, gate32(HANDLER + v, 0x08, 0x8e));
        m.ram[HANDLER + v] = 0xf4;
    }
    put64(TSS + 4, ESP0);
    put64(TSS + 8, 0x10);
    put64(GDT + 0x40, desc(0, 0xfffff, 0x12, 0xc));
    put64(GDT + 0x50, desc(0, 0xfffff, 0x98, 0xc));
    put64(GDT + 0x58, desc(LDT, 0x0f, 0x82, 0));
    put64(GDT + 0x60, desc(0xff000, 0xfff, 0x92, 0x4));
    put64(GDT + 0x68, desc(0, 0xfffff, 0x9e, 0xc));
    put64(LDT + 0x00, desc(0, 0xfffff, 0x92, 0xc));
    put64(LDT + 0x08, desc(0, 0xfffff, 0xf2, 0xc));
    svmx_sregs s = sregs();
    s.gdt.limit = 0x6f;
    s.seg[SVMX_LDTR] = (svmx_segment){ .attr = SVMX_SEG_ATTR_UNUSABLE };
    set_sregs(&s);
}

static void machine32(const uint8_t *code, size_t n, bool user)
{
    machine32_v(SVMX_VENDOR_AMD, code, n, user);
}

/* The same in 64-bit mode: 16-byte gates, RSP0 in the 64-bit TSS. */
static void machine64_v(svmx_vendor vendor, const uint8_t *code, size_t n,
                        bool user)
{
    boot_long_v(vendor, code, n, user);
    for (unsigned v = 0; v < 32; v++) {
        put64(IDT + v * 16, gate32(HANDLER + v, 0x18, 0x8e));
        put64(IDT + v * 16 + 8, 0);
        m.ram[HANDLER + v] = 0xf4;
    }
    put64(TSS + 4, ESP0);
    put64(TSS + 12, 0);
}

static void machine64(const uint8_t *code, size_t n, bool user)
{
    machine64_v(SVMX_VENDOR_AMD, code, n, user);
}

/* The run stopped in the handler of `vec`. */
static void expect_vector(const svmx_stop *st, unsigned vec)
{
    assert_int_equal(st->reason, SVMX_STOP_HLT);
    assert_int_equal(st->rip, HANDLER + vec + 1);
}

/* The dword (or qword) `i` slots above the handler's stack pointer. */
static uint64_t frame32(unsigned i)
{
    return get(reg(SVMX_RSP) + 4 * i, 4);
}

static uint64_t frame64(unsigned i)
{
    return get(reg(SVMX_RSP) + 8 * i, 8);
}

/* ---- segment-register loads ------------------------------------------ */

typedef struct load_case {
    const char *what;
    bool     user;     /* run at CPL 3 */
    bool     ss;       /* MOV SS, else MOV DS */
    uint16_t sel;
    uint8_t  vec;
    uint16_t err;
} load_case;

/* SDM Vol. 2B MOV "Protected Mode Exceptions", in its order. */
static const load_case load_cases[] = {
    { "null SS",                  false, true,  0x0000, 13, 0x00 },
    { "SS RPL != CPL",            false, true,  0x0013, 13, 0x10 },
    { "SS DPL != CPL",            false, true,  0x0028, 13, 0x28 },
    { "SS code segment",          false, true,  0x0008, 13, 0x08 },
    { "SS not present: #SS",      false, true,  0x0040, 12, 0x40 },
    { "SS beyond the GDT limit",  false, true,  0x0070, 13, 0x70 },
    { "DS not present: #NP",      false, false, 0x0040, 11, 0x40 },
    { "DS beyond the GDT limit",  false, false, 0x0070, 13, 0x70 },
    { "DS far beyond the limit",  false, false, 0xfff8, 13, 0xfff8 },
    { "DS TSS descriptor",        false, false, 0x0030, 13, 0x30 },
    { "DS LDT descriptor",        false, false, 0x0058, 13, 0x58 },
    { "DS execute-only code",     false, false, 0x0050, 13, 0x50 },
    { "DS RPL > DPL",             false, false, 0x0013, 13, 0x10 },
    { "DS DPL < CPL",             true,  false, 0x0013, 13, 0x10 },
    { "DS code DPL < CPL",        true,  false, 0x000b, 13, 0x08 },
    { "DS in the LDT, LDTR null", false, false, 0x0004, 13, 0x04 },
    { "SS null at CPL 3",         true,  true,  0x0003, 13, 0x00 },
};

static void test_load_faults(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof load_cases / sizeof load_cases[0]; i++) {
        const load_case *c = &load_cases[i];
        const uint8_t code[] = { 0x8e, c->ss ? 0xd0 : 0xd8, 0xf4 };
        print_message("case %zu: %s\n", i, c->what);
        machine32(code, sizeof code, c->user);
        set_reg(SVMX_RAX, c->sel);
        svmx_sregs before = sregs();
        svmx_stop st = run(10);
        expect_vector(&st, c->vec);
        assert_int_equal(frame32(0), c->err);
        assert_int_equal(frame32(1), 0x7c00); /* the MOV faulted */
        svmx_sregs after = sregs();
        unsigned r = c->ss ? SVMX_SS : SVMX_DS;
        if (!c->user || !c->ss)
            assert_int_equal(after.seg[r].selector, before.seg[r].selector);
    }
}

/* Loads that succeed: the accessed bit is set in the GDT, a conforming
 * readable code segment loads into DS from CPL 3, an LDT selector works
 * once LLDT loaded the LDT. */
static void test_load_ok(void **state)
{
    (void)state;
    /* mov ds, ax; mov ax, 0x6b; mov es, ax; hlt */
    const uint8_t user[] = { 0x8e, 0xd8, 0x66, 0xb8, 0x6b, 0x00, 0x8e, 0xc0,
                             0xf4 };
    machine32(user, sizeof user, true);
    put64(GDT + 0x28, desc(0, 0xfffff, 0xf2, 0xc)); /* not accessed */
    set_reg(SVMX_RAX, 0x2b);
    svmx_stop st = run(10);
    expect_vector(&st, 13); /* the HLT at CPL 3 */
    assert_int_equal(frame32(1), 0x7c08);
    assert_int_equal(m.ram[GDT + 0x2d], 0xf3); /* accessed now */
    svmx_sregs s = sregs();
    assert_int_equal(s.seg[SVMX_DS].selector, 0x2b);
    assert_int_equal(s.seg[SVMX_DS].attr, 0xcf3);
    assert_int_equal(s.seg[SVMX_ES].selector, 0x6b);
    assert_int_equal(s.seg[SVMX_ES].attr & 0xff, 0x9f);

    /* lldt ax; mov ax, 0x0c; mov ds, ax; hlt */
    const uint8_t ldt[] = { 0x0f, 0x00, 0xd0, 0x66, 0xb8, 0x0c, 0x00, 0x8e,
                            0xd8, 0xf4 };
    machine32(ldt, sizeof ldt, false);
    set_reg(SVMX_RAX, 0x58);
    st = run(10);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, 0x7c0a);
    s = sregs();
    assert_int_equal(s.seg[SVMX_LDTR].selector, 0x58);
    assert_int_equal(s.seg[SVMX_LDTR].base, LDT);
    assert_int_equal(s.seg[SVMX_LDTR].limit, 0x0f);
    assert_int_equal(s.seg[SVMX_DS].selector, 0x0c);
    assert_int_equal(SVMX_SEG_ATTR_DPL(s.seg[SVMX_DS].attr), 3);
    assert_int_equal(m.ram[LDT + 0x0d], 0xf3);
}

/* A null DS loads without a fault and makes the next access #GP(0). The
 * hidden part differs: Intel clears the base, AMD keeps it. */
static void test_null_data_segment(void **state)
{
    (void)state;
    /* mov ds, ax; xor eax, eax; mov ds, ax; mov eax, [0x500]; hlt */
    const uint8_t code[] = { 0x8e, 0xd8, 0x31, 0xc0, 0x8e, 0xd8, 0xa1, 0x00,
                             0x05, 0x00, 0x00, 0xf4 };
    for (int v = 0; v < 2; v++) {
        machine32_v(v ? SVMX_VENDOR_INTEL : SVMX_VENDOR_AMD, code,
                    sizeof code, false);
        set_reg(SVMX_RAX, 0x60);
        svmx_stop st = run(10);
        expect_vector(&st, 13);
        assert_int_equal(frame32(0), 0);
        assert_int_equal(frame32(1), 0x7c06);
        svmx_sregs s = sregs();
        assert_int_equal(s.seg[SVMX_DS].selector, 0);
        assert_true(s.seg[SVMX_DS].attr & SVMX_SEG_ATTR_UNUSABLE);
        assert_int_equal(s.seg[SVMX_DS].base, v ? 0 : 0xff000);
    }
}

/* MOV SS opens the MOVSS shadow for the next instruction only; a
 * 64-bit null SS is fine at CPL 0 with RPL = CPL. */
static void test_mov_ss_shadow(void **state)
{
    (void)state;
    const uint8_t code[] = { 0x8e, 0xd0, 0x90, 0x90, 0xf4 };
    machine32(code, sizeof code, false);
    set_reg(SVMX_RAX, 0x10);
    svmx_stop st;
    svmx_events ev;
    svmx_cpu_step(m.cpu, &st);
    svmx_cpu_get_events(m.cpu, &ev);
    assert_int_equal(ev.shadow, SVMX_SHADOW_MOVSS);
    svmx_cpu_step(m.cpu, &st);
    svmx_cpu_get_events(m.cpu, &ev);
    assert_int_equal(ev.shadow, 0);

    /* pop ss opens it too: push 0x10; pop ss */
    const uint8_t pop[] = { 0x6a, 0x10, 0x17, 0x90, 0xf4 };
    machine32(pop, sizeof pop, false);
    svmx_cpu_step(m.cpu, &st);
    svmx_cpu_step(m.cpu, &st);
    svmx_cpu_get_events(m.cpu, &ev);
    assert_int_equal(ev.shadow, SVMX_SHADOW_MOVSS);
    assert_int_equal(reg(SVMX_RSP), 0x7000);

    /* 64-bit mode: mov ss, ax with a null selector of RPL 0 at CPL 0 */
    const uint8_t null64[] = { 0x8e, 0xd0, 0xf4 };
    machine64(null64, sizeof null64, false);
    set_reg(SVMX_RAX, 0);
    st = run(10);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, 0x7c03);
    svmx_sregs s = sregs();
    assert_true(s.seg[SVMX_SS].attr & SVMX_SEG_ATTR_UNUSABLE);
    assert_int_equal(SVMX_SEG_ATTR_DPL(s.seg[SVMX_SS].attr), 0);
    /* ... but RPL != CPL is #GP(0) */
    machine64(null64, sizeof null64, false);
    set_reg(SVMX_RAX, 1);
    st = run(10);
    expect_vector(&st, 13);
    assert_int_equal(frame64(0), 0);
}

/* PUSH Sreg with a 32-bit operand: AMD zero-extends, Intel writes the
 * 16-bit selector only; POP ES loads it back. LSS loads SS:ESP. */
static void test_push_pop_lss(void **state)
{
    (void)state;
    const uint8_t code[] = { 0x1e, 0x07, 0xf4 }; /* push ds; pop es; hlt */
    machine32(code, sizeof code, false);
    put64(0x7000 - 8, 0xaaaaaaaaaaaaaaaaull);
    svmx_stop st = run(10);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(get(0x6ffc, 4), 0x10);
    assert_int_equal(sregs().seg[SVMX_ES].selector, 0x10);
    assert_int_equal(reg(SVMX_RSP), 0x7000);

    /* the same with the Intel personality: only 16 bits are written */
    machine32_v(SVMX_VENDOR_INTEL, code, sizeof code, false);
    put64(0x7000 - 8, 0xaaaaaaaaaaaaaaaaull);
    svmx_cpu_step(m.cpu, &st);
    assert_int_equal(get(0x6ffc, 4), 0xaaaa0010);
    assert_int_equal(reg(SVMX_RSP), 0x6ffc);

    /* lss esp, [0x500] */
    const uint8_t lss[] = { 0x0f, 0xb2, 0x25, 0x00, 0x05, 0x00, 0x00, 0xf4 };
    machine32(lss, sizeof lss, false);
    put64(0x500, 0x0000001012345678ull);
    svmx_events ev;
    svmx_cpu_step(m.cpu, &st);
    svmx_cpu_get_events(m.cpu, &ev);
    assert_int_equal(ev.shadow, 0); /* LSS opens no shadow */
    assert_int_equal(reg(SVMX_RSP), 0x12345678);
    /* a bad selector leaves ESP alone */
    machine32(lss, sizeof lss, false);
    put64(0x500, 0x0000004012345678ull);
    st = run(10);
    expect_vector(&st, 12);
    assert_int_equal(frame32(0), 0x40);
    assert_int_equal(reg(SVMX_RSP), 0x7000 - 16);
}

/* ---- far JMP, CALL, RET ----------------------------------------------- */

/* Real mode: JMP 0800:0010 and a far CALL/RETF pair. */
static void test_far_real(void **state)
{
    (void)state;
    /* call 0x0800:0x0010 (9a 10 00 00 08); hlt */
    const uint8_t code[] = { 0x9a, 0x10, 0x00, 0x00, 0x08, 0xf4 };
    boot_real(SVMX_VENDOR_AMD, code, sizeof code);
    m.ram[0x8010] = 0xcb; /* retf */
    svmx_stop st = run(10);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, 0x7c06);
    assert_int_equal(st.insns, 3);
    assert_int_equal(get(0x6ffc, 2), 0x7c05);
    assert_int_equal(get(0x6ffe, 2), 0x0000);
    assert_int_equal(reg(SVMX_RSP), 0x7000);

    const uint8_t jmp[] = { 0xea, 0x10, 0x00, 0x00, 0x08 };
    boot_real(SVMX_VENDOR_AMD, jmp, sizeof jmp);
    m.ram[0x8010] = 0xf4;
    st = run(10);
    assert_int_equal(st.rip, 0x11);
    assert_int_equal(sregs().seg[SVMX_CS].base, 0x8000);
}

/* Protected mode, same privilege: CALL 08:9000, RETF 8 releases two
 * parameters; a far JMP to a code segment with RPL 3 loads CS with RPL =
 * CPL; a JMP to a data segment is #GP(sel). */
static void test_far_same_privilege(void **state)
{
    (void)state;
    /* push 1; push 2; call 0x08:0x9000; hlt */
    const uint8_t code[] = { 0x6a, 0x01, 0x6a, 0x02, 0x9a, 0x00, 0x90, 0x00,
                             0x00, 0x08, 0x00, 0xf4 };
    machine32(code, sizeof code, false);
    put64(GDT + 0x08, desc(0, 0xfffff, 0x9a, 0xc));
    m.ram[0x9000] = 0xca; /* retf 8 */
    m.ram[0x9001] = 0x08;
    m.ram[0x9002] = 0x00;
    svmx_stop st = run(10);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, 0x7c0c);
    assert_int_equal(reg(SVMX_RSP), 0x7000);
    assert_int_equal(get(0x7000 - 16, 4), 0x7c0b); /* return EIP */
    assert_int_equal(get(0x7000 - 12, 4), 0x08);   /* CS */
    assert_int_equal(m.ram[GDT + 0x0d], 0x9b);     /* accessed */

    /* at CPL 3, jmp 0x20:0x9000 loads CS with RPL = CPL: 0x23 */
    const uint8_t jmp[] = { 0xea, 0x00, 0x90, 0x00, 0x00, 0x20, 0x00 };
    machine32(jmp, sizeof jmp, true);
    m.ram[0x9000] = 0xeb; /* jmp $ */
    m.ram[0x9001] = 0xfe;
    st = run(3);
    assert_int_equal(st.rip, 0x9000);
    assert_int_equal(sregs().seg[SVMX_CS].selector, 0x23);
    /* at CPL 0, a selector RPL 3 > CPL for a non-conforming segment:
     * #GP(sel) (SDM Vol. 2A JMP "NONCONFORMING-CODE-SEGMENT") */
    machine32(jmp, sizeof jmp, false);
    m.ram[0x7c05] = 0x0b;
    st = run(10);
    expect_vector(&st, 13);
    assert_int_equal(frame32(0), 0x08);

    /* jmp 0x10:0x9000: a data segment */
    const uint8_t bad[] = { 0xea, 0x00, 0x90, 0x00, 0x00, 0x10, 0x00 };
    machine32(bad, sizeof bad, false);
    st = run(10);
    expect_vector(&st, 13);
    assert_int_equal(frame32(0), 0x10);
    assert_int_equal(frame32(1), 0x7c00);

    /* call 0x08:0x9000 with the target past a 0x8fff limit: #GP(0) */
    machine32(code, sizeof code, false);
    put64(GDT + 0x08, desc(0, 0x8fff, 0x9a, 0x4));
    st = run(10);
    expect_vector(&st, 13);
    assert_int_equal(frame32(0), 0);
    assert_int_equal(frame32(1), 0x7c04);

    /* a far JMP to a TSS is a task switch: not modelled */
    const uint8_t tss[] = { 0xea, 0x00, 0x00, 0x00, 0x00, 0x30, 0x00 };
    machine32(tss, sizeof tss, false);
    st = run(10);
    assert_int_equal(st.reason, SVMX_STOP_UNSUPPORTED);
    assert_non_null(st.what);
    assert_int_equal(st.rip, 0x7c00);
}

/* Ring 3 calls ring 0 through a 32-bit call gate with two parameters;
 * the handler reads them from its stack and RETF 8 goes back to ring 3
 * (SDM Vol. 3A 5.8.5, Figure 5-13). */
static void test_call_gate_ring0(void **state)
{
    (void)state;
    /* push 0x11111111; push 0x22222222; call 0x4b:0; jmp $ */
    const uint8_t code[] = { 0x68, 0x11, 0x11, 0x11, 0x11, 0x68, 0x22, 0x22,
                             0x22, 0x22, 0x9a, 0x00, 0x00, 0x00, 0x00, 0x4b,
                             0x00, 0xeb, 0xfe };
    /* mov eax, [esp+8]; mov ebx, [esp+12]; mov ecx, ss; retf 8 */
    const uint8_t handler[] = { 0x8b, 0x44, 0x24, 0x08, 0x8b, 0x5c, 0x24, 0x0c,
                                0x8c, 0xd1, 0xca, 0x08, 0x00 };
    machine32(code, sizeof code, true);
    memcpy(m.ram + 0x9000, handler, sizeof handler);
    put64(GDT + 0x48, call_gate(0x9000, 0x08, 0xec, 2)); /* DPL 3 */
    svmx_stop st = run(7);
    assert_int_equal(st.reason, SVMX_STOP_BUDGET);
    /* inside: the caller's parameters, in their order */
    assert_int_equal(reg(SVMX_RAX), 0x22222222);
    assert_int_equal(reg(SVMX_RBX), 0x11111111);
    assert_int_equal(reg(SVMX_RCX) & 0xffff, 0x10);
    /* the inner stack: EIP CS p0 p1 ESP SS */
    assert_int_equal(get(ESP0 - 24, 4), 0x7c11);
    assert_int_equal(get(ESP0 - 20, 4), 0x23);
    assert_int_equal(get(ESP0 - 16, 4), 0x22222222);
    assert_int_equal(get(ESP0 - 12, 4), 0x11111111);
    assert_int_equal(get(ESP0 - 8, 4), 0x7000 - 8);
    assert_int_equal(get(ESP0 - 4, 4), 0x2b);
    /* back in ring 3 with the parameters released from both stacks */
    svmx_sregs s = sregs();
    assert_int_equal(st.rip, 0x7c11);
    assert_int_equal(s.seg[SVMX_CS].selector, 0x23);
    assert_int_equal(s.seg[SVMX_SS].selector, 0x2b);
    assert_int_equal(reg(SVMX_RSP), 0x7000);

    /* the gate's DPL 0 < CPL 3: #GP(gate selector) */
    machine32(code, sizeof code, true);
    put64(GDT + 0x48, call_gate(0x9000, 0x08, 0x8c, 2));
    st = run(10);
    expect_vector(&st, 13);
    assert_int_equal(frame32(0), 0x48);
    assert_int_equal(frame32(1), 0x7c0a);
    /* not present: #NP(gate selector) */
    machine32(code, sizeof code, true);
    put64(GDT + 0x48, call_gate(0x9000, 0x08, 0x6c, 2));
    st = run(10);
    expect_vector(&st, 11);
    assert_int_equal(frame32(0), 0x48);
    /* a bad SS0 in the TSS: #TS(SS0) */
    machine32(code, sizeof code, true);
    put64(GDT + 0x48, call_gate(0x9000, 0x08, 0xec, 2));
    put64(TSS + 8, 0x28);
    put64(IDT + 10 * 8, gate32(HANDLER + 10, 0x08, 0x8e));
    st = run(10);
    /* the #TS handler needs the same stack: #TS again, #DF, shutdown */
    assert_int_equal(st.reason, SVMX_STOP_SHUTDOWN);
    assert_int_equal(st.chain[0], 10);
}

/* IA-32e mode: ring 3 calls ring 0 through a 64-bit call gate (16 bytes,
 * upper type 0): RSP0 from the TSS, a null SS, the frame SS RSP CS RIP in
 * quadwords; RETFQ goes back (SDM Vol. 3A 5.8.3.1, 5.8.5). An upper type
 * other than 0 is #GP(gate selector). */
static void test_call_gate_64(void **state)
{
    (void)state;
    const uint8_t code[] = { 0xff, 0x18, 0xeb, 0xfe }; /* call far [rax]; jmp $ */
    for (int bad = 0; bad < 2; bad++) {
        machine64(code, sizeof code, true);
        svmx_sregs s = sregs();
        s.gdt.limit = 0x57;
        set_sregs(&s);
        put64(GDT + 0x48, call_gate(0x9000, 0x18, 0xec, 0));
        put64(GDT + 0x50, bad ? 0x1ull << 40 : 0);
        put64(0x500, 0x4bull << 32); /* m16:32 = 4b:00000000 */
        m.ram[0x9000] = 0x48; /* retfq */
        m.ram[0x9001] = 0xcb;
        set_reg(SVMX_RAX, 0x500);
        svmx_stop st = run(bad ? 10 : 1);
        if (bad) {
            expect_vector(&st, 13);
            assert_int_equal(frame64(0), 0x48);
            assert_int_equal(frame64(1), 0x7c00);
            continue;
        }
        s = sregs();
        assert_int_equal(st.rip, 0x9000);
        assert_int_equal(s.seg[SVMX_CS].selector, 0x18);
        assert_int_equal(s.seg[SVMX_SS].selector, 0);
        assert_int_equal(reg(SVMX_RSP), ESP0 - 32);
        assert_int_equal(frame64(0), 0x7c02);
        assert_int_equal(frame64(1), 0x3b);
        assert_int_equal(frame64(2), 0x7000);
        assert_int_equal(frame64(3), 0x2b);
        st = run(2);
        assert_int_equal(st.rip, 0x7c02);
        s = sregs();
        assert_int_equal(s.seg[SVMX_CS].selector, 0x3b);
        assert_int_equal(s.seg[SVMX_SS].selector, 0x2b);
        assert_int_equal(reg(SVMX_RSP), 0x7000);
    }
}

/* JMP through a call gate keeps the privilege level; JMP to a more
 * privileged non-conforming segment through a gate is #GP(code sel). */
static void test_jmp_gate(void **state)
{
    (void)state;
    const uint8_t code[] = { 0xea, 0x00, 0x00, 0x00, 0x00, 0x4b, 0x00 };
    machine32(code, sizeof code, false);
    put64(GDT + 0x48, call_gate(0x9000, 0x08, 0xec, 0));
    m.ram[0x9000] = 0xf4;
    svmx_stop st = run(10);
    assert_int_equal(st.rip, 0x9001);
    assert_int_equal(sregs().seg[SVMX_CS].selector, 0x08);

    machine32(code, sizeof code, true);
    put64(GDT + 0x48, call_gate(0x9000, 0x08, 0xec, 0));
    st = run(10);
    expect_vector(&st, 13);
    assert_int_equal(frame32(0), 0x08);
}

/* RETF to an outer level: SS:ESP popped, DS (DPL 0 data) made null. */
static void test_retf_outer(void **state)
{
    (void)state;
    /* push 0x2b; push 0x6000; push 0x23; push 0x7c40; retf */
    const uint8_t code[] = { 0x6a, 0x2b, 0x68, 0x00, 0x60, 0x00, 0x00, 0x6a,
                             0x23, 0x68, 0x40, 0x7c, 0x00, 0x00, 0xcb };
    machine32(code, sizeof code, false);
    m.ram[0x7c40] = 0xeb; /* jmp $ */
    m.ram[0x7c41] = 0xfe;
    svmx_sregs s = sregs();
    s.seg[SVMX_FS] = flat(0x2b, 0xcf3); /* DPL 3: kept */
    set_sregs(&s);
    svmx_stop st = run(6);
    assert_int_equal(st.rip, 0x7c40);
    s = sregs();
    assert_int_equal(s.seg[SVMX_CS].selector, 0x23);
    assert_int_equal(s.seg[SVMX_SS].selector, 0x2b);
    assert_int_equal(reg(SVMX_RSP), 0x6000);
    assert_int_equal(s.seg[SVMX_DS].selector, 0);
    assert_true(s.seg[SVMX_DS].attr & SVMX_SEG_ATTR_UNUSABLE);
    assert_int_equal(s.seg[SVMX_FS].selector, 0x2b);

    /* the return SS with RPL != the return CS RPL: #GP(SS selector) */
    machine32(code, sizeof code, false);
    m.ram[0x7c01] = 0x10;
    st = run(10);
    expect_vector(&st, 13);
    assert_int_equal(frame32(0), 0x10);
    assert_int_equal(frame32(1), 0x7c0e);
    assert_int_equal(sregs().seg[SVMX_CS].selector, 0x08);
}

/* ---- IRET and interrupts ---------------------------------------------- */

/* IRET to ring 3, then INT 0x80 through a DPL-3 gate back to ring 0 on
 * the TSS stack (SDM Vol. 3A Figure 6-4). */
static void test_iret_ring3_and_int(void **state)
{
    (void)state;
    const uint8_t code[] = { 0x6a, 0x2b, 0x68, 0x00, 0x60, 0x00, 0x00, 0x68,
                             0x02, 0x32, 0x00, 0x00, 0x6a, 0x23, 0x68, 0x40,
                             0x7c, 0x00, 0x00, 0xcf };
    machine32(code, sizeof code, false);
    m.ram[0x7c40] = 0xcd; /* int 0x80 */
    m.ram[0x7c41] = 0x80;
    put64(IDT + 0x80 * 8, gate32(0x9000, 0x08, 0xee));
    m.ram[0x9000] = 0xf4;
    svmx_stop st = run(20);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, 0x9001);
    assert_int_equal(reg(SVMX_RSP), ESP0 - 20);
    assert_int_equal(frame32(0), 0x7c42);  /* the next instruction */
    assert_int_equal(frame32(1), 0x23);
    assert_int_equal(frame32(2), 0x3202); /* IOPL 3 from CPL 0 */
    assert_int_equal(frame32(3), 0x6000);
    assert_int_equal(frame32(4), 0x2b);
    svmx_sregs s = sregs();
    assert_int_equal(s.seg[SVMX_DS].selector, 0); /* nulled by the IRET */
    assert_int_equal(s.seg[SVMX_SS].selector, 0x10);
    assert_false(rflags() & SVMX_RFLAGS_IF);
}

/* IRET at CPL 3 cannot change IOPL or IF (IF only if CPL <= IOPL). */
static void test_iret_flag_rules(void **state)
{
    (void)state;
    /* push 0x3000 | 0x200 | CF; push 0x23; push 0x7c40; iret */
    const uint8_t code[] = { 0x68, 0x01, 0x32, 0x00, 0x00, 0x6a, 0x23, 0x68,
                             0x40, 0x7c, 0x00, 0x00, 0xcf };
    machine32(code, sizeof code, true);
    set_rflags(SVMX_RFLAGS_FIXED);
    m.ram[0x7c40] = 0xeb;
    m.ram[0x7c41] = 0xfe;
    svmx_stop st = run(5);
    assert_int_equal(st.rip, 0x7c40);
    assert_int_equal(rflags(), SVMX_RFLAGS_FIXED | SVMX_RFLAGS_CF);
    /* at IOPL 3 IF follows the image */
    machine32(code, sizeof code, true);
    set_rflags(SVMX_RFLAGS_FIXED | SVMX_RFLAGS_IOPL);
    m.ram[0x7c40] = 0xeb;
    m.ram[0x7c41] = 0xfe;
    st = run(5);
    assert_int_equal(rflags(), SVMX_RFLAGS_FIXED | SVMX_RFLAGS_IOPL |
                               SVMX_RFLAGS_IF | SVMX_RFLAGS_CF);
    /* IRET with NT = 1 in legacy mode is a task return: not modelled */
    const uint8_t nt[] = { 0xcf };
    machine32(nt, sizeof nt, false);
    set_rflags(SVMX_RFLAGS_FIXED | SVMX_RFLAGS_NT);
    st = run(5);
    assert_int_equal(st.reason, SVMX_STOP_UNSUPPORTED);
}

/* IRET ends NMI blocking. */
static void test_iret_unblocks_nmi(void **state)
{
    (void)state;
    const uint8_t code[] = { 0x6a, 0x02, 0x6a, 0x08, 0x68, 0x40, 0x7c, 0x00,
                             0x00, 0xcf };
    machine32(code, sizeof code, false);
    m.ram[0x7c40] = 0xf4;
    svmx_events ev;
    svmx_cpu_get_events(m.cpu, &ev);
    ev.nmi_masked = true;
    svmx_cpu_set_events(m.cpu, &ev);
    svmx_stop st = run(10);
    assert_int_equal(st.rip, 0x7c41);
    svmx_cpu_get_events(m.cpu, &ev);
    assert_false(ev.nmi_masked);
}

/* Real mode: IRET pops IP, CS, FLAGS. */
static void test_iret_real(void **state)
{
    (void)state;
    /* push 0x0203; push 0x0800; push 0x0010; iret */
    const uint8_t code[] = { 0x68, 0x03, 0x02, 0x68, 0x00, 0x08, 0x6a, 0x10,
                             0xcf };
    boot_real(SVMX_VENDOR_AMD, code, sizeof code);
    m.ram[0x8010] = 0xf4;
    svmx_stop st = run(10);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, 0x11);
    assert_int_equal(sregs().seg[SVMX_CS].base, 0x8000);
    assert_int_equal(rflags(), 0x203);
    assert_int_equal(reg(SVMX_RSP), 0x7000);
}

/* 64-bit mode: IRETQ to ring 3 (always pops SS:RSP), INT3 back to ring 0
 * with the five-qword frame and a null SS; IRETQ at the same level. */
static void test_iretq(void **state)
{
    (void)state;
    const uint8_t code[] = { 0x6a, 0x2b, 0x68, 0x00, 0x60, 0x00, 0x00, 0x68,
                             0x02, 0x02, 0x00, 0x00, 0x6a, 0x3b, 0x68, 0x40,
                             0x7c, 0x00, 0x00, 0x48, 0xcf };
    machine64(code, sizeof code, false);
    m.ram[0x7c40] = 0xcc; /* int3 */
    put64(IDT + 3 * 16, gate32(0x9000, 0x18, 0xee));
    m.ram[0x9000] = 0xf4;
    svmx_stop st = run(20);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, 0x9001);
    assert_int_equal(reg(SVMX_RSP), ESP0 - 40);
    assert_int_equal(frame64(0), 0x7c41);
    assert_int_equal(frame64(1), 0x3b);
    assert_int_equal(frame64(2), 0x202);
    assert_int_equal(frame64(3), 0x6000);
    assert_int_equal(frame64(4), 0x2b);
    svmx_sregs s = sregs();
    assert_int_equal(s.seg[SVMX_SS].selector, 0);
    assert_true(s.seg[SVMX_SS].attr & SVMX_SEG_ATTR_UNUSABLE);
    assert_int_equal(s.seg[SVMX_CS].selector, 0x18);

    /* same level: mov rax, rsp; push 0x10; push rax; push 0x202;
     * push 0x18; push 0x7c40; iretq */
    const uint8_t same[] = { 0x48, 0x89, 0xe0, 0x6a, 0x10, 0x50, 0x68, 0x02,
                             0x02, 0x00, 0x00, 0x6a, 0x18, 0x68, 0x40, 0x7c,
                             0x00, 0x00, 0x48, 0xcf };
    machine64(same, sizeof same, false);
    m.ram[0x7c40] = 0xf4;
    st = run(20);
    assert_int_equal(st.rip, 0x7c41);
    assert_int_equal(reg(SVMX_RSP), 0x7000);
    /* IRETQ to 64-bit ring 3 with a null SS: #GP(0) */
    machine64(code, sizeof code, false);
    m.ram[0x7c01] = 0x03;
    st = run(20);
    expect_vector(&st, 13);
    assert_int_equal(frame64(0), 0);
    assert_int_equal(frame64(1), 0x7c13);
}

/* INT n through a gate with DPL < CPL: #GP(n * 8 + 2), EXT = 0, the
 * saved EIP is the INT itself (SDM Vol. 3A 6.12.1.1, 6.13). */
static void test_int_gate_dpl(void **state)
{
    (void)state;
    const uint8_t code[] = { 0x90, 0xcd, 0x40 };
    machine32(code, sizeof code, true);
    put64(IDT + 0x40 * 8, gate32(0x9000, 0x08, 0x8e)); /* DPL 0 */
    svmx_stop st = run(10);
    expect_vector(&st, 13);
    assert_int_equal(frame32(0), 0x40 * 8 + 2);
    assert_int_equal(frame32(1), 0x7c01);
    assert_int_equal(frame32(2), 0x23);

    /* INT 0x40 with a not-present DPL-3 gate: #NP(n * 8 + 2), EXT = 0 */
    machine32(code, sizeof code, true);
    put64(IDT + 0x40 * 8, gate32(0x9000, 0x08, 0x6e));
    st = run(10);
    expect_vector(&st, 11);
    assert_int_equal(frame32(0), 0x40 * 8 + 2);
    assert_int_equal(frame32(1), 0x7c01);
}

/* INT3 and INTO push the next EIP; INTO does nothing with OF = 0. */
static void test_int3_into(void **state)
{
    (void)state;
    const uint8_t code[] = { 0xcc };
    machine32(code, sizeof code, false);
    svmx_stop st = run(10);
    expect_vector(&st, 3);
    assert_int_equal(frame32(0), 0x7c01);
    assert_int_equal(frame32(1), 0x08);

    const uint8_t into[] = { 0xce, 0xf4 };
    machine32(into, sizeof into, false);
    st = run(10);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, 0x7c02);
    machine32(into, sizeof into, false);
    set_rflags(SVMX_RFLAGS_FIXED | SVMX_RFLAGS_OF);
    st = run(10);
    expect_vector(&st, 4);
    assert_int_equal(frame32(0), 0x7c01);
    /* INT3 at CPL 3 with a DPL-0 gate: #GP(3 * 8 + 2) */
    machine32(code, sizeof code, true);
    st = run(10);
    expect_vector(&st, 13);
    assert_int_equal(frame32(0), 3 * 8 + 2);
    assert_int_equal(frame32(1), 0x7c00);
}

/* INT1 (ICEBP): no gate DPL check and EXT = 1; INT 1 (CD 01) has both
 * rules of a software interrupt. */
static void test_int1(void **state)
{
    (void)state;
    const uint8_t icebp[] = { 0xf1 };
    machine32(icebp, sizeof icebp, true);
    svmx_stop st = run(10);
    expect_vector(&st, 1); /* the DPL-0 gate is used from CPL 3 */
    assert_int_equal(frame32(0), 0x7c01);
    assert_int_equal(frame32(1), 0x23);

    machine32(icebp, sizeof icebp, false);
    put64(IDT + 1 * 8, gate32(0x9000, 0x08, 0x0e)); /* not present */
    st = run(10);
    expect_vector(&st, 11);
    assert_int_equal(frame32(0), 1 * 8 + 2 + 1);
    assert_int_equal(frame32(1), 0x7c00);

    const uint8_t int1[] = { 0xcd, 0x01 };
    machine32(int1, sizeof int1, false);
    put64(IDT + 1 * 8, gate32(0x9000, 0x08, 0x0e));
    st = run(10);
    expect_vector(&st, 11);
    assert_int_equal(frame32(0), 1 * 8 + 2);
}

/* Virtual-8086 round trip: IRET from CPL 0 into v86 mode (9-dword
 * frame), INT 0x21 there with IOPL 3 delivered to ring 0 on the TSS stack
 * with GS FS DS ES SS ESP EFLAGS CS EIP and null data segments, IRET
 * back into v86 mode. */
static void test_v86_round_trip(void **state)
{
    (void)state;
    const uint8_t code[] = { 0x6a, 0x33, 0x6a, 0x44, 0x6a, 0x22, 0x6a, 0x11,
                             0x68, 0x00, 0x07, 0x00, 0x00, 0x68, 0x00, 0x60,
                             0x00, 0x00, 0x68, 0x02, 0x32, 0x02, 0x00, 0x68,
                             0x00, 0x08, 0x00, 0x00, 0x6a, 0x10, 0xcf };
    /* mov eax, ds; mov ecx, es; mov ebx, 0xcafe; iret */
    const uint8_t handler[] = { 0x8c, 0xd8, 0x8c, 0xc1, 0xbb, 0xfe, 0xca, 0x00,
                                0x00, 0xcf };
    machine32(code, sizeof code, false);
    m.ram[0x8010] = 0xcd; /* int 0x21 */
    m.ram[0x8011] = 0x21;
    m.ram[0x8012] = 0xeb; /* jmp $ */
    m.ram[0x8013] = 0xfe;
    memcpy(m.ram + 0x9000, handler, sizeof handler);
    put64(IDT + 0x21 * 8, gate32(0x9000, 0x08, 0xee));

    svmx_stop st = run(11); /* 10 to enter v86, INT, into the handler */
    assert_int_equal(st.reason, SVMX_STOP_BUDGET);
    assert_int_equal(st.rip, 0x9000);
    assert_int_equal(reg(SVMX_RSP), ESP0 - 36);
    assert_int_equal(frame32(0), 0x12);
    assert_int_equal(frame32(1), 0x0800);
    assert_int_equal(frame32(2), 0x23202);
    assert_int_equal(frame32(3), 0x6000);
    assert_int_equal(frame32(4), 0x0700);
    assert_int_equal(frame32(5), 0x11); /* ES */
    assert_int_equal(frame32(6), 0x22); /* DS */
    assert_int_equal(frame32(7), 0x44); /* FS */
    assert_int_equal(frame32(8), 0x33); /* GS */
    svmx_sregs s = sregs();
    assert_int_equal(s.seg[SVMX_DS].selector, 0);
    assert_int_equal(s.seg[SVMX_CS].selector, 0x08);
    assert_false(rflags() & SVMX_RFLAGS_VM);
    assert_int_equal(svmx_cpu_mode(m.cpu), SVMX_MODE_PROT32);

    st = run(10);
    assert_int_equal(st.reason, SVMX_STOP_BUDGET);
    assert_int_equal(st.rip, 0x12);
    assert_int_equal(reg(SVMX_RAX), 0);
    assert_int_equal(reg(SVMX_RCX), 0);
    assert_int_equal(reg(SVMX_RBX), 0xcafe);
    assert_true(rflags() & SVMX_RFLAGS_VM);
    s = sregs();
    assert_int_equal(s.seg[SVMX_CS].base, 0x8000);
    assert_int_equal(s.seg[SVMX_DS].selector, 0x22);
    assert_int_equal(s.seg[SVMX_DS].base, 0x220);
    assert_int_equal(s.seg[SVMX_DS].attr, 0xf3);
    assert_int_equal(s.seg[SVMX_SS].base, 0x7000);
    assert_int_equal(reg(SVMX_RSP), 0x6000);
}

/* INT n in v86 mode with IOPL < 3 is #GP(0), delivered to ring 0 with
 * the v86 frame and the error code; IRET at IOPL < 3 is #GP(0) too. */
static void test_v86_iopl(void **state)
{
    (void)state;
    const uint8_t code[] = { 0xcd, 0x21 };
    machine32(code, sizeof code, false);
    svmx_sregs s = sregs();
    for (int i = SVMX_ES; i <= SVMX_GS; i++)
        s.seg[i] = (svmx_segment){ .base = 0, .limit = 0xffff, .attr = 0xf3 };
    set_sregs(&s);
    set_rflags(SVMX_RFLAGS_FIXED | SVMX_RFLAGS_VM);
    svmx_stop st = run(10);
    expect_vector(&st, 13);
    assert_int_equal(reg(SVMX_RSP), ESP0 - 40);
    assert_int_equal(frame32(0), 0);
    assert_int_equal(frame32(1), 0x7c00);
    assert_int_equal(frame32(3) & SVMX_RFLAGS_VM, SVMX_RFLAGS_VM);

    const uint8_t iret[] = { 0xcf };
    machine32(iret, sizeof iret, false);
    set_sregs(&s);
    set_rflags(SVMX_RFLAGS_FIXED | SVMX_RFLAGS_VM);
    st = run(10);
    expect_vector(&st, 13);
    assert_int_equal(frame32(1), 0x7c00);
}

/* ---- LLDT, LTR, SLDT, STR --------------------------------------------- */

typedef struct sys_case {
    const char *what;
    bool     ltr;
    bool     user;
    uint16_t sel;
    uint8_t  vec;
    uint16_t err;
} sys_case;

static const sys_case sys_cases[] = {
    { "LTR at CPL 3",            true,  true,  0x30, 13, 0x00 },
    { "LTR null",                true,  false, 0x00, 13, 0x00 },
    { "LTR TI = 1",              true,  false, 0x34, 13, 0x34 },
    { "LTR data segment",        true,  false, 0x10, 13, 0x10 },
    { "LTR an LDT",              true,  false, 0x58, 13, 0x58 },
    { "LTR beyond the limit",    true,  false, 0x70, 13, 0x70 },
    { "LTR not present",         true,  false, 0x48, 11, 0x48 },
    { "LLDT a TSS",              false, false, 0x30, 13, 0x30 },
    { "LLDT TI = 1",             false, false, 0x5c, 13, 0x5c },
    { "LLDT at CPL 3",           false, true,  0x58, 13, 0x00 },
};

static void test_lldt_ltr_faults(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof sys_cases / sizeof sys_cases[0]; i++) {
        const sys_case *c = &sys_cases[i];
        const uint8_t code[] = { 0x0f, 0x00, c->ltr ? 0xd8 : 0xd0, 0xf4 };
        print_message("case %zu: %s\n", i, c->what);
        machine32(code, sizeof code, c->user);
        put64(GDT + 0x48, desc(0x3000, 0x67, 0x09, 0)); /* TSS, P = 0 */
        set_reg(SVMX_RAX, c->sel);
        svmx_stop st = run(10);
        expect_vector(&st, c->vec);
        assert_int_equal(frame32(0), c->err);
        assert_int_equal(frame32(1), 0x7c00);
    }
}

/* LTR marks the TSS busy in the GDT; a second LTR of it is #GP(sel). */
static void test_ltr_busy(void **state)
{
    (void)state;
    const uint8_t code[] = { 0x0f, 0x00, 0xd8, 0x0f, 0x00, 0xd8, 0xf4 };
    machine32(code, sizeof code, false);
    svmx_sregs s = sregs();
    s.seg[SVMX_TR].selector = 0;
    set_sregs(&s);
    set_reg(SVMX_RAX, 0x30);
    svmx_stop st;
    svmx_cpu_step(m.cpu, &st);
    assert_int_equal(m.ram[GDT + 0x35], 0x8b);
    s = sregs();
    assert_int_equal(s.seg[SVMX_TR].selector, 0x30);
    assert_int_equal(s.seg[SVMX_TR].base, TSS);
    assert_int_equal(s.seg[SVMX_TR].limit, 0x67);
    assert_int_equal(s.seg[SVMX_TR].attr, 0x8b);
    st = run(10);
    expect_vector(&st, 13);
    assert_int_equal(frame32(0), 0x30);
    assert_int_equal(frame32(1), 0x7c03);
}

/* 64-bit mode: 16-byte TSS descriptors; the upper type must be 0. */
static void test_ltr_64(void **state)
{
    (void)state;
    const uint8_t code[] = { 0x0f, 0x00, 0xd8, 0xf4 };
    machine64(code, sizeof code, false);
    svmx_sregs s = sregs();
    s.gdt.limit = 0x6f;
    set_sregs(&s);
    put64(GDT + 0x40, desc(0x5000, 0x67, 0x89, 0));
    put64(GDT + 0x48, 0x1);  /* base 63:32 = 1 */
    set_reg(SVMX_RAX, 0x40);
    svmx_stop st = run(10);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    s = sregs();
    assert_int_equal(s.seg[SVMX_TR].base, 0x100005000ull);
    assert_int_equal(m.ram[GDT + 0x45], 0x8b);

    machine64(code, sizeof code, false);
    s = sregs();
    s.gdt.limit = 0x6f;
    set_sregs(&s);
    put64(GDT + 0x40, desc(0x5000, 0x67, 0x89, 0));
    put64(GDT + 0x48, 0x1ull << 40); /* upper type 1 */
    set_reg(SVMX_RAX, 0x40);
    st = run(10);
    expect_vector(&st, 13);
    assert_int_equal(frame64(0), 0x40);
    assert_int_equal(m.ram[GDT + 0x45], 0x89); /* not marked busy */

    /* the 16 bytes must fit under the GDT limit */
    machine64(code, sizeof code, false);
    s = sregs();
    s.gdt.limit = 0x47;
    set_sregs(&s);
    put64(GDT + 0x40, desc(0x5000, 0x67, 0x89, 0));
    set_reg(SVMX_RAX, 0x40);
    st = run(10);
    expect_vector(&st, 13);
    assert_int_equal(frame64(0), 0x40);
}

/* SLDT/STR: registers get the selector zero-extended, memory 16 bits. */
static void test_sldt_str(void **state)
{
    (void)state;
    /* str eax; sldt ecx; str word [0x500]; hlt */
    const uint8_t code[] = { 0x0f, 0x00, 0xc8, 0x0f, 0x00, 0xc1, 0x0f, 0x00,
                             0x0d, 0x00, 0x05, 0x00, 0x00, 0xf4 };
    machine32(code, sizeof code, true);
    svmx_sregs s = sregs();
    s.seg[SVMX_LDTR].selector = 0x58;
    set_sregs(&s);
    set_reg(SVMX_RAX, 0xffffffffffffffffull);
    set_reg(SVMX_RCX, 0xffffffffffffffffull);
    put64(0x500, 0xaaaaaaaaaaaaaaaaull);
    svmx_stop st = run(10);
    expect_vector(&st, 13); /* the HLT at CPL 3 */
    assert_int_equal(reg(SVMX_RAX), 0x30);
    assert_int_equal(reg(SVMX_RCX), 0x58);
    assert_int_equal(get(0x500, 8), 0xaaaaaaaaaaaa0030ull);
}

/* 64-bit far CALL through m16:32 and RETF; Intel's REX.W JMP reads
 * m16:64, AMD's ignores REX.W and reads m16:32. */
static void test_far_64(void **state)
{
    (void)state;
    /* call far [rax]; hlt */
    const uint8_t code[] = { 0xff, 0x18, 0xf4 };
    machine64(code, sizeof code, false);
    set_reg(SVMX_RAX, 0x500);
    put64(0x500, 0x9000 | 0x18ull << 32); /* m16:32 = 18:00009000 */
    m.ram[0x9000] = 0xcb; /* retf (32-bit operand) */
    svmx_stop st = run(10);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, 0x7c03);
    assert_int_equal(reg(SVMX_RSP), 0x7000);
    assert_int_equal(get(0x7000 - 8, 4), 0x7c02);
    assert_int_equal(get(0x7000 - 4, 4), 0x18);

    /* rex.w jmp far [rax] with m16:64 = 18:0000000000009000 */
    const uint8_t jmp[] = { 0x48, 0xff, 0x28 };
    for (int v = 0; v < 2; v++) {
        machine64_v(v ? SVMX_VENDOR_INTEL : SVMX_VENDOR_AMD, jmp, sizeof jmp,
                    false);
        set_reg(SVMX_RAX, 0x500);
        put64(0x500, 0x9000);
        put64(0x508, 0x18);
        m.ram[0x9000] = 0xf4;
        st = run(10);
        if (v) { /* Intel: offset 0x9000, selector 0x18 */
            assert_int_equal(st.reason, SVMX_STOP_HLT);
            assert_int_equal(st.rip, 0x9001);
        } else { /* AMD: offset 0x9000, selector 0 (bytes 4-5): #GP(0) */
            expect_vector(&st, 13);
            assert_int_equal(frame64(0), 0);
        }
    }
}

/* ---- LAR, LSL, VERR, VERW, ARPL ------------------------------------------ */

/* More descriptors after machine32's, for the selector checks (DPL 0
 * unless named otherwise); the GDT limit becomes 0xcf:
 *   0x70 16-bit TSS     0x78 busy 16-bit TSS   0x80 16-bit call gate
 *   0x88 task gate      0x90 16-bit int gate   0x98 reserved type 8
 *   0xa0 32-bit call gate DPL 3                0xa8 32-bit interrupt gate
 *   0xb0 read-only data 0xb8 conforming execute-only code
 *   0xc0 reserved type 0 (S = 0)               0xc8 busy TSS DPL 3 */
static void check_gdt(void)
{
    put64(GDT + 0x70, desc(0x5000, 0x2b, 0x81, 0));
    put64(GDT + 0x78, desc(0x5000, 0x2b, 0x83, 0));
    put64(GDT + 0x80, call_gate(0x1234, 0x08, 0x84, 0));
    put64(GDT + 0x88, call_gate(0, 0x30, 0x85, 0));
    put64(GDT + 0x90, call_gate(0x1234, 0x08, 0x86, 0));
    put64(GDT + 0x98, desc(0, 0, 0x88, 0));
    put64(GDT + 0xa0, call_gate(0x1234, 0x08, 0xec, 0));
    put64(GDT + 0xa8, call_gate(0x1234, 0x08, 0x8e, 0));
    put64(GDT + 0xb0, desc(0, 0xfffff, 0x90, 0xc));
    put64(GDT + 0xb8, desc(0, 0xfffff, 0x9c, 0xc));
    put64(GDT + 0xc0, desc(0x1234, 0x5678, 0x80, 0));
    put64(GDT + 0xc8, desc(0x3000, 0x67, 0xeb, 0));
    svmx_sregs s = sregs();
    s.gdt.limit = 0xcf;
    set_sregs(&s);
}

enum { LAR32, LAR16, LAR64, LSL32, LSL16, VERR, VERW };

/* lar/lsl eax|ax|rax, ecx; verr/verw cx */
static size_t check_code(int op, uint8_t *code)
{
    static const uint8_t bytes[][5] = {
        [LAR32] = { 3, 0x0f, 0x02, 0xc1 },
        [LAR16] = { 4, 0x66, 0x0f, 0x02, 0xc1 },
        [LAR64] = { 4, 0x48, 0x0f, 0x02, 0xc1 },
        [LSL32] = { 3, 0x0f, 0x03, 0xc1 },
        [LSL16] = { 4, 0x66, 0x0f, 0x03, 0xc1 },
        [VERR]  = { 3, 0x0f, 0x00, 0xe1 },
        [VERW]  = { 3, 0x0f, 0x00, 0xe9 },
    };
    size_t n = bytes[op][0];
    memcpy(code, bytes[op] + 1, n);
    code[n] = 0xf4;
    return n + 1;
}

/* Runs the one instruction with RAX = `rax`, ECX = `sel` and ZF the
 * opposite of `zf`; checks ZF, the other flags, and RAX: `value` (merged
 * into AX for a 16-bit operand, zero-extended otherwise) when ZF = 1 and
 * a LAR or LSL, else as it was. */
static void expect_selector_check(int op, uint16_t sel, uint64_t rax, bool zf,
                         uint64_t value)
{
    const uint64_t fl = SVMX_RFLAGS_FIXED | SVMX_RFLAGS_IF;
    svmx_stop st;
    set_reg(SVMX_RAX, rax);
    set_reg(SVMX_RCX, 0xffff0000u | sel);
    set_rflags(fl | (zf ? 0 : SVMX_RFLAGS_ZF));
    assert_int_equal(svmx_cpu_step(m.cpu, &st), SVMX_OK);
    assert_int_equal(st.reason, SVMX_STOP_DEBUG);
    assert_int_equal(rflags(), fl | (zf ? SVMX_RFLAGS_ZF : 0));
    uint64_t want = rax;
    if (zf && (op == LAR16 || op == LSL16))
        want = (rax & ~0xffffull) | (value & 0xffff);
    else if (zf && op != VERR && op != VERW)
        want = value;
    assert_int_equal(reg(SVMX_RAX), want);
}

typedef struct check_case {
    const char *what;
    int      op;
    bool     user;   /* at CPL 3 */
    bool     ldt;    /* LDTR holds the LDT at 0x58 */
    uint16_t sel;
    bool     zf;
    uint32_t value;
} check_case;

/*
 * Legacy protected mode, both personalities (SDM Vol. 2A LAR, LSL and
 * Vol. 2B VERR/VERW; APM Vol. 3): the LAR value is bits 63:32 of the
 * descriptor masked by 00FFFF00h (limit 19:16 included, the model's
 * choice for the SDM's "x") or FF00h; LSL gives the byte-granular limit.
 */
static const check_case check_cases[] = {
    { "LAR code",                         LAR32, 0, 0, 0x08, 1, 0x00cf9a00 },
    { "LAR 16-bit operand",               LAR16, 0, 0, 0x08, 1, 0x9a00 },
    { "LAR data DPL 3 at CPL 3",          LAR32, 1, 0, 0x2b, 1, 0x00cff200 },
    { "LAR data DPL 0 at CPL 3",          LAR32, 1, 0, 0x13, 0, 0 },
    { "LAR RPL 3 > DPL 0",                LAR32, 0, 0, 0x0b, 0, 0 },
    { "LAR conforming code, RPL 3, CPL 3", LAR32, 1, 0, 0x6b, 1, 0x00cf9e00 },
    { "LAR byte-granular data",           LAR32, 0, 0, 0x60, 1, 0x00409200 },
    { "LAR null",                         LAR32, 0, 0, 0x03, 0, 0 },
    { "LAR beyond the GDT limit",         LAR32, 0, 0, 0xd0, 0, 0 },
    { "LAR far beyond the limit",         LAR32, 0, 0, 0xfff8, 0, 0 },
    { "LAR LDT selector, LDTR unusable",  LAR32, 0, 0, 0x0c, 0, 0 },
    { "LAR through the LDT",              LAR32, 0, 1, 0x0c, 1, 0x00cff200 },
    { "LAR beyond the LDT limit",         LAR32, 0, 1, 0x14, 0, 0 },
    { "LAR not present (P unchecked)",    LAR32, 0, 0, 0x40, 1, 0x00cf1200 },
    { "LAR 32-bit TSS",                   LAR32, 0, 0, 0x30, 1, 0x00008900 },
    { "LAR LDT",                          LAR32, 0, 0, 0x58, 1, 0x00008200 },
    { "LAR 16-bit TSS",                   LAR32, 0, 0, 0x70, 1, 0x00008100 },
    { "LAR busy 16-bit TSS",              LAR32, 0, 0, 0x78, 1, 0x00008300 },
    { "LAR 16-bit call gate",             LAR32, 0, 0, 0x80, 1, 0x00008400 },
    { "LAR task gate",                    LAR32, 0, 0, 0x88, 1, 0x00008500 },
    { "LAR 16-bit interrupt gate",        LAR32, 0, 0, 0x90, 0, 0 },
    { "LAR reserved type 8",              LAR32, 0, 0, 0x98, 0, 0 },
    { "LAR 32-bit call gate DPL 3, CPL 3", LAR32, 1, 0, 0xa3, 1, 0x0000ec00 },
    { "LAR 32-bit interrupt gate",        LAR32, 0, 0, 0xa8, 0, 0 },
    { "LAR reserved type 0",              LAR32, 0, 0, 0xc0, 0, 0 },
    { "LAR TSS DPL 0 at CPL 3",           LAR32, 1, 0, 0x33, 0, 0 },
    { "LAR busy TSS DPL 3 at CPL 3",      LAR32, 1, 0, 0xcb, 1, 0x0000eb00 },
    { "LSL page-granular code",           LSL32, 0, 0, 0x08, 1, 0xffffffff },
    { "LSL 16-bit operand",               LSL16, 0, 0, 0x08, 1, 0xffff },
    { "LSL byte-granular data",           LSL32, 0, 0, 0x60, 1, 0xfff },
    { "LSL 32-bit TSS",                   LSL32, 0, 0, 0x30, 1, 0x67 },
    { "LSL LDT",                          LSL32, 0, 0, 0x58, 1, 0x0f },
    { "LSL 16-bit TSS",                   LSL32, 0, 0, 0x70, 1, 0x2b },
    { "LSL busy 16-bit TSS",              LSL32, 0, 0, 0x78, 1, 0x2b },
    { "LSL 16-bit call gate",             LSL32, 0, 0, 0x80, 0, 0 },
    { "LSL task gate",                    LSL32, 0, 0, 0x88, 0, 0 },
    { "LSL 32-bit call gate at CPL 3",    LSL32, 1, 0, 0xa3, 0, 0 },
    { "LSL reserved type 0",              LSL32, 0, 0, 0xc0, 0, 0 },
    { "LSL conforming code at CPL 3",     LSL32, 1, 0, 0x6b, 1, 0xffffffff },
    { "LSL data DPL 0 at CPL 3",          LSL32, 1, 0, 0x13, 0, 0 },
    { "LSL not present",                  LSL32, 0, 0, 0x40, 1, 0xffffffff },
    { "LSL null",                         LSL32, 0, 0, 0x00, 0, 0 },
    { "VERR data",                        VERR,  0, 0, 0x10, 1, 0 },
    { "VERR read-only data",              VERR,  0, 0, 0xb0, 1, 0 },
    { "VERR readable code",               VERR,  0, 0, 0x08, 1, 0 },
    { "VERR execute-only code",           VERR,  0, 0, 0x50, 0, 0 },
    { "VERR conforming code at CPL 3",    VERR,  1, 0, 0x6b, 1, 0 },
    { "VERR conforming execute-only",     VERR,  1, 0, 0xbb, 0, 0 },
    { "VERR data DPL 0 at CPL 3",         VERR,  1, 0, 0x13, 0, 0 },
    { "VERR RPL 3 > DPL 0",               VERR,  0, 0, 0x13, 0, 0 },
    { "VERR TSS",                         VERR,  0, 0, 0x30, 0, 0 },
    { "VERR not present data",            VERR,  0, 0, 0x40, 1, 0 },
    { "VERR null",                        VERR,  0, 0, 0x00, 0, 0 },
    { "VERR beyond the GDT limit",        VERR,  0, 0, 0xd0, 0, 0 },
    { "VERW data",                        VERW,  0, 0, 0x10, 1, 0 },
    { "VERW read-only data",              VERW,  0, 0, 0xb0, 0, 0 },
    { "VERW code",                        VERW,  0, 0, 0x08, 0, 0 },
    { "VERW conforming code at CPL 3",    VERW,  1, 0, 0x6b, 0, 0 },
    { "VERW data DPL 3 at CPL 3",         VERW,  1, 0, 0x2b, 1, 0 },
    { "VERW data DPL 3 in the LDT",       VERW,  1, 1, 0x0f, 1, 0 },
    { "VERW call gate at CPL 3",          VERW,  1, 0, 0xa3, 0, 0 },
};

static void test_selector_checks(void **state)
{
    (void)state;
    size_t n = sizeof check_cases / sizeof check_cases[0];
    for (int v = 0; v < 2; v++) {
        for (size_t i = 0; i < n; i++) {
            const check_case *c = &check_cases[i];
            uint8_t code[8];
            size_t len = check_code(c->op, code);
            print_message("%s case %zu: %s\n", v ? "intel" : "amd", i, c->what);
            machine32_v(v ? SVMX_VENDOR_INTEL : SVMX_VENDOR_AMD, code, len,
                        c->user);
            check_gdt();
            if (c->ldt) {
                svmx_sregs s = sregs();
                s.seg[SVMX_LDTR] = (svmx_segment){ .selector = 0x58,
                    .base = LDT, .limit = 0x0f, .attr = 0x82 };
                set_sregs(&s);
            }
            expect_selector_check(c->op, c->sel, 0xdeadbeef, c->zf, c->value);
            assert_int_equal(rip(), 0x7c00 + len - 1);
        }
    }
}

typedef struct check64_case {
    const char *what;
    int      op;
    bool     compat;    /* compatibility mode, CS = 0x08 */
    uint16_t sel;
    bool     amd_zf;
    uint32_t amd_value;
    bool     intel_zf;
    uint32_t intel_value;
} check64_case;

/*
 * IA-32e mode. Intel (SDM Vol. 2A LAR, LSL tables, "IA-32e Mode"): LAR
 * takes 64-bit TSSs and call gates but not the LDT; LSL the TSSs, the
 * LDT and type 0 ("upper 8 bytes of a 16-byte descriptor"); 8 bytes are
 * read. AMD (APM Vol. 3 LAR, LSL): LAR the LDT, TSSs and call gates, LSL
 * the LDT and TSSs; an LDT or TSS in 64-bit mode and a call gate in long
 * mode are read as 16 bytes, which must lie within the table limit and
 * have a zero upper type. GDT added here (limit 0xa7):
 *   0x40 64-bit TSS         0x50 64-bit LDT       0x60 64-bit call gate
 *   0x70 TSS, upper type 1Fh                      0x80 call gate, upper type 1
 *   0x90 16-bit TSS         0x98 type 0           0xa0 TSS cut by the limit
 */
static const check64_case check64_cases[] = {
    { "LAR 64-bit TSS",            LAR32, 0, 0x40, 1, 0x8900, 1, 0x8900 },
    { "LAR 64-bit LDT",            LAR32, 0, 0x50, 1, 0x8200, 0, 0 },
    { "LAR 64-bit call gate",      LAR32, 0, 0x60, 1, 0x8c00, 1, 0x8c00 },
    { "LAR TSS, upper type != 0",  LAR32, 0, 0x70, 0, 0,      1, 0x8900 },
    { "LAR gate, upper type != 0", LAR32, 0, 0x80, 0, 0,      1, 0x8c00 },
    { "LAR 16-bit TSS",            LAR32, 0, 0x90, 0, 0,      0, 0 },
    { "LAR type 0",                LAR32, 0, 0x98, 0, 0,      0, 0 },
    { "LAR TSS cut by the limit",  LAR32, 0, 0xa0, 0, 0,      1, 0x8900 },
    { "LAR code64 into RAX",       LAR64, 0, 0x18, 1, 0x00af9a00, 1, 0x00af9a00 },
    { "LAR data zero-extends",     LAR32, 0, 0x10, 1, 0x00cf9200, 1, 0x00cf9200 },
    { "LSL 64-bit TSS",            LSL32, 0, 0x40, 1, 0x67,   1, 0x67 },
    { "LSL 64-bit LDT",            LSL32, 0, 0x50, 1, 0x0f,   1, 0x0f },
    { "LSL 64-bit call gate",      LSL32, 0, 0x60, 0, 0,      0, 0 },
    { "LSL 16-bit TSS",            LSL32, 0, 0x90, 0, 0,      0, 0 },
    { "LSL type 0",                LSL32, 0, 0x98, 0, 0,      1, 0x1234 },
    { "LSL TSS cut by the limit",  LSL32, 0, 0xa0, 0, 0,      1, 0x67 },
    { "LSL TSS, upper type != 0",  LSL32, 0, 0x70, 0, 0,      1, 0x67 },
    /* compatibility mode: AMD reads 16 bytes for call gates only */
    { "compat: LAR TSS, upper != 0", LAR32, 1, 0x70, 1, 0x8900, 1, 0x8900 },
    { "compat: LAR gate, upper != 0", LAR32, 1, 0x80, 0, 0,    1, 0x8c00 },
    { "compat: LSL TSS cut",       LSL32, 1, 0xa0, 1, 0x67,   1, 0x67 },
};

static void check64_gdt(bool compat)
{
    put64(GDT + 0x40, desc(0x3000, 0x67, 0x89, 0));
    put64(GDT + 0x48, 0);
    put64(GDT + 0x50, desc(LDT, 0x0f, 0x82, 0));
    put64(GDT + 0x58, 0);
    put64(GDT + 0x60, call_gate(0x1234, 0x18, 0x8c, 0));
    put64(GDT + 0x68, 0);
    put64(GDT + 0x70, desc(0x3000, 0x67, 0x89, 0));
    put64(GDT + 0x78, 0x1full << 40);
    put64(GDT + 0x80, call_gate(0x1234, 0x18, 0x8c, 0));
    put64(GDT + 0x88, 1ull << 40);
    put64(GDT + 0x90, desc(0x5000, 0x2b, 0x81, 0));
    put64(GDT + 0x98, desc(0, 0x1234, 0x00, 0));
    put64(GDT + 0xa0, desc(0x3000, 0x67, 0x89, 0));
    svmx_sregs s = sregs();
    s.gdt.limit = 0xa7;
    if (compat)
        s.seg[SVMX_CS] = flat(0x08, 0xc9b);
    set_sregs(&s);
}

static void test_selector_checks_ia32e(void **state)
{
    (void)state;
    size_t n = sizeof check64_cases / sizeof check64_cases[0];
    for (int v = 0; v < 2; v++) {
        for (size_t i = 0; i < n; i++) {
            const check64_case *c = &check64_cases[i];
            uint8_t code[8];
            size_t len = check_code(c->op, code);
            print_message("%s case %zu: %s\n", v ? "intel" : "amd", i, c->what);
            machine64_v(v ? SVMX_VENDOR_INTEL : SVMX_VENDOR_AMD, code, len,
                        false);
            check64_gdt(c->compat);
            assert_int_equal(svmx_cpu_mode(m.cpu),
                             c->compat ? SVMX_MODE_COMPAT32 : SVMX_MODE_LONG64);
            expect_selector_check(c->op, c->sel, 0xffffffffdeadbeefull,
                         v ? c->intel_zf : c->amd_zf,
                         v ? c->intel_value : c->amd_value);
        }
    }
}

/* Only the operand's access faults (SDM Vol. 2A LAR, LSL "Protected Mode
 * Exceptions"), and a #PF reading the descriptor; a bad selector never
 * does. */
static void test_selector_check_faults(void **state)
{
    (void)state;
    /* lar eax, [0x2000] with DS limited to 0xFFF: #GP(0) */
    const uint8_t lar_mem[] = { 0x0f, 0x02, 0x05, 0x00, 0x20, 0x00, 0x00 };
    machine32(lar_mem, sizeof lar_mem, false);
    svmx_sregs s = sregs();
    s.seg[SVMX_DS] = (svmx_segment){ .selector = 0x60, .base = 0xff000,
                                     .limit = 0xfff, .attr = 0x493 };
    set_sregs(&s);
    set_reg(SVMX_RAX, 0xdeadbeef);
    svmx_stop st = run(10);
    expect_vector(&st, 13);
    assert_int_equal(frame32(0), 0);
    assert_int_equal(frame32(1), 0x7c00);
    assert_int_equal(reg(SVMX_RAX), 0xdeadbeef);

    /* verr [rax] with RAX on an unmapped page: #PF, read, CR2 */
    const uint8_t verr_mem[] = { 0x0f, 0x00, 0x20 };
    machine64(verr_mem, sizeof verr_mem, false);
    set_reg(SVMX_RAX, 0x300000);
    st = run(10);
    expect_vector(&st, 14);
    assert_int_equal(frame64(0), 0);
    assert_int_equal(sregs().cr2, 0x300000);

    /* lsl eax, ecx whose descriptor lies on a page that is not present:
     * 4 KiB pages for the first MiB, 0x4000 not present, GDT limit 0x3FFF
     * and selector 0x3008 (at 0x4008): #PF, supervisor read, CR2 0x4008 */
    const uint8_t lsl[] = { 0x0f, 0x03, 0xc1 };
    machine64(lsl, sizeof lsl, false);
    for (uint64_t pg = 0; pg < 256; pg++)
        put64(0x13000 + 8 * pg, pg == 4 ? 0 : pg << 12 | 3);
    put64(0x12000, 0x13000 | 3);
    s = sregs();
    s.gdt.limit = 0x3fff;
    set_sregs(&s);
    set_reg(SVMX_RCX, 0x3008);
    set_reg(SVMX_RAX, 0xdeadbeef);
    st = run(10);
    expect_vector(&st, 14);
    assert_int_equal(frame64(0), 0);
    assert_int_equal(frame64(1), 0x7c00);
    assert_int_equal(sregs().cr2, 0x4008);
    assert_int_equal(reg(SVMX_RAX), 0xdeadbeef);

    /* not recognized in real mode: #UD through the IVT */
    const uint8_t checks[][3] = { { 0x0f, 0x02, 0xc1 }, { 0x0f, 0x00, 0xe1 },
                                  { 0x63, 0xc8, 0x90 } };
    for (size_t i = 0; i < 3; i++) {
        boot_real(SVMX_VENDOR_AMD, checks[i], 3);
        put64(6 * 4, 0x9000); /* IVT[6] = 0000:9000 */
        m.ram[0x9000] = 0xf4;
        st = run(10);
        assert_int_equal(st.reason, SVMX_STOP_HLT);
        assert_int_equal(st.rip, 0x9001);
        assert_int_equal(get(0x7000 - 6, 2), 0x7c00);
    }
}

/* ARPL r/m16, r16 (SDM Vol. 2A ARPL): raises the destination's RPL to
 * the source's with ZF = 1, else ZF = 0 and no write; a memory
 * destination must be writable whatever the comparison gives. */
static void test_arpl(void **state)
{
    (void)state;
    static const struct {
        uint32_t dst, src, result;
        bool zf;
    } rows[] = {
        { 0x00000010, 0x00000003, 0x00000013, true },
        { 0x00000013, 0x00000001, 0x00000013, false },
        { 0x00000012, 0x00000002, 0x00000012, false },
        { 0xabcd0010, 0xffff0002, 0xabcd0012, true },  /* 16-bit write */
    };
    const uint8_t reg_form[] = { 0x63, 0xc8, 0xf4 }; /* arpl ax, cx */
    const uint64_t fl = SVMX_RFLAGS_FIXED | SVMX_RFLAGS_IF;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        machine32(reg_form, sizeof reg_form, false);
        set_reg(SVMX_RAX, rows[i].dst);
        set_reg(SVMX_RCX, rows[i].src);
        set_rflags(fl | (rows[i].zf ? 0 : SVMX_RFLAGS_ZF));
        svmx_stop st = run(10);
        assert_int_equal(st.reason, SVMX_STOP_HLT);
        assert_int_equal(reg(SVMX_RAX), rows[i].result);
        assert_int_equal(rflags(), fl | (rows[i].zf ? SVMX_RFLAGS_ZF : 0));
    }

    /* arpl [0x500], cx */
    const uint8_t mem_form[] = { 0x63, 0x0d, 0x00, 0x05, 0x00, 0x00, 0xf4 };
    machine32(mem_form, sizeof mem_form, false);
    put64(0x500, 0x7777777777771230ull);
    set_reg(SVMX_RCX, 3);
    svmx_stop st = run(10);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(get(0x500, 8), 0x7777777777771233ull);
    assert_true(rflags() & SVMX_RFLAGS_ZF);

    /* a read-only DS: #GP(0), with or without a change to write */
    for (int change = 0; change < 2; change++) {
        machine32(mem_form, sizeof mem_form, false);
        check_gdt();
        svmx_sregs s = sregs();
        s.seg[SVMX_DS] = flat(0xb0, 0xc91);
        set_sregs(&s);
        put64(0x500, 0x1231);
        set_reg(SVMX_RCX, change ? 3 : 0);
        st = run(10);
        expect_vector(&st, 13);
        assert_int_equal(frame32(0), 0);
        assert_int_equal(frame32(1), 0x7c00);
        assert_int_equal(get(0x500, 2), 0x1231);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_faults),
        cmocka_unit_test(test_load_ok),
        cmocka_unit_test(test_null_data_segment),
        cmocka_unit_test(test_mov_ss_shadow),
        cmocka_unit_test(test_push_pop_lss),
        cmocka_unit_test(test_far_real),
        cmocka_unit_test(test_far_same_privilege),
        cmocka_unit_test(test_call_gate_ring0),
        cmocka_unit_test(test_call_gate_64),
        cmocka_unit_test(test_jmp_gate),
        cmocka_unit_test(test_retf_outer),
        cmocka_unit_test(test_iret_ring3_and_int),
        cmocka_unit_test(test_iret_flag_rules),
        cmocka_unit_test(test_iret_unblocks_nmi),
        cmocka_unit_test(test_iret_real),
        cmocka_unit_test(test_iretq),
        cmocka_unit_test(test_int_gate_dpl),
        cmocka_unit_test(test_int3_into),
        cmocka_unit_test(test_int1),
        cmocka_unit_test(test_v86_round_trip),
        cmocka_unit_test(test_v86_iopl),
        cmocka_unit_test(test_lldt_ltr_faults),
        cmocka_unit_test(test_ltr_busy),
        cmocka_unit_test(test_ltr_64),
        cmocka_unit_test(test_sldt_str),
        cmocka_unit_test(test_far_64),
        cmocka_unit_test(test_selector_checks),
        cmocka_unit_test(test_selector_checks_ia32e),
        cmocka_unit_test(test_selector_check_faults),
        cmocka_unit_test(test_arpl),
    };
    return cmocka_run_group_tests(tests, NULL, fixture_teardown);
}
