/*
 * tests/test_exec.c - the run loop through the public API: real-mode code
 * placed in RAM, run until a stop, and checked from outside: stop
 * reasons, retired counts, registers, memory, port I/O, exception
 * delivery through the IVT and IDT, double and triple faults, POP to
 * memory, and RF in the pushed EFLAGS image.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "svmx/svmx.h"

#include "exec_fixture.h"

static void test_out_and_hlt(void **state)
{
    (void)state;
    /* mov ax, 0x1234; mov dx, 0xe9; out dx, al; hlt */
    const uint8_t code[] = { 0xb8, 0x34, 0x12, 0xba, 0xe9, 0x00, 0xee, 0xf4 };
    boot_real(SVMX_VENDOR_AMD, code, sizeof code);
    svmx_stop st;
    assert_int_equal(svmx_cpu_run(m.cpu, 0, &st), SVMX_OK);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.insns, 4);
    assert_int_equal(st.rip, 0x7c08); /* HLT resumes after itself */
    assert_int_equal(m.outs, 1);
    assert_int_equal(m.out_port[0], 0xe9);
    assert_int_equal(m.out_value[0], 0x34);
    assert_int_equal(reg(SVMX_RAX) & 0xffff, 0x1234);
}

static void test_cpuid_vendor(void **state)
{
    (void)state;
    /* mov eax, 0; cpuid; hlt */
    const uint8_t code[] = { 0x66, 0xb8, 0, 0, 0, 0, 0x0f, 0xa2, 0xf4 };
    boot_real(SVMX_VENDOR_AMD, code, sizeof code);
    svmx_stop st;
    svmx_cpu_run(m.cpu, 100000, &st);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(reg(SVMX_RBX), 0x68747541); /* "Auth" */
    boot_real(SVMX_VENDOR_INTEL, code, sizeof code);
    svmx_cpu_run(m.cpu, 100000, &st);
    assert_int_equal(reg(SVMX_RBX), 0x756e6547); /* "Genu" */
}

static void test_in(void **state)
{
    (void)state;
    /* in al, 0x60; hlt */
    const uint8_t code[] = { 0xe4, 0x60, 0xf4 };
    boot_real(SVMX_VENDOR_AMD, code, sizeof code);
    m.in_value = 0xabcd;
    svmx_stop st;
    svmx_cpu_run(m.cpu, 100000, &st);
    assert_int_equal(reg(SVMX_RAX) & 0xff, 0xcd);
}

static void test_unsupported_reports_bytes(void **state)
{
    (void)state;
    /* nop; fld1 (x87: the model keeps no FPU state) */
    const uint8_t code[] = { 0x90, 0xd9, 0xe8 };
    boot_real(SVMX_VENDOR_AMD, code, sizeof code);
    svmx_stop st;
    svmx_cpu_run(m.cpu, 100000, &st);
    assert_int_equal(st.reason, SVMX_STOP_UNSUPPORTED);
    assert_int_equal(st.insns, 1);
    assert_int_equal(st.rip, 0x7c01);
    assert_int_equal(st.length, 2);
    assert_memory_equal(st.bytes, code + 1, 2);
    assert_non_null(st.what);
    assert_int_equal(rip(), 0x7c01); /* it did not execute */
}

static void test_budget_and_step(void **state)
{
    (void)state;
    const uint8_t code[] = { 0xeb, 0xfe }; /* jmp $ */
    boot_real(SVMX_VENDOR_AMD, code, sizeof code);
    svmx_stop st;
    svmx_cpu_run(m.cpu, 100, &st);
    assert_int_equal(st.reason, SVMX_STOP_BUDGET);
    assert_int_equal(st.insns, 100);
    assert_int_equal(st.rip, 0x7c00);
    assert_int_equal(svmx_cpu_step(m.cpu, &st), SVMX_OK);
    assert_int_equal(st.reason, SVMX_STOP_DEBUG);
    assert_int_equal(st.insns, 1);
}

static void test_request_stop(void **state)
{
    (void)state;
    /* out 0xf4, al; jmp $ */
    const uint8_t code[] = { 0xe6, 0xf4, 0xeb, 0xfe };
    boot_real(SVMX_VENDOR_AMD, code, sizeof code);
    m.stop_port = 0xf4;
    svmx_stop st;
    svmx_cpu_run(m.cpu, 1000, &st);
    assert_int_equal(st.reason, SVMX_STOP_REQUESTED);
    assert_int_equal(st.insns, 1);
    assert_int_equal(st.rip, 0x7c02);
}

static void test_io_handler_failure(void **state)
{
    (void)state;
    /* mov dx, 0xdead; out dx, al */
    const uint8_t code[] = { 0xba, 0xad, 0xde, 0xee };
    boot_real(SVMX_VENDOR_AMD, code, sizeof code);
    svmx_stop st;
    svmx_cpu_run(m.cpu, 100000, &st);
    assert_int_equal(st.reason, SVMX_STOP_IO);
    assert_int_equal(st.addr, 0xdead);
    assert_int_equal(st.size, 1);
    assert_true(st.write);
    assert_int_equal(st.handler_status, SVMX_E_UNSUPPORTED);
    assert_int_equal(st.rip, 0x7c03); /* the OUT did not complete */
}

static void test_memory_stack_call_ret(void **state)
{
    (void)state;
    /* mov ax, 0xbeef; mov [0x500], ax; mov bx, [0x500]; push bx; pop cx;
     * call +1; hlt; ret  (the call target is the ret, which returns to
     * the hlt) */
    const uint8_t code[] = { 0xb8, 0xef, 0xbe, 0xa3, 0x00, 0x05, 0x8b, 0x1e,
                             0x00, 0x05, 0x53, 0x59, 0xe8, 0x01, 0x00, 0xf4,
                             0xc3 };
    boot_real(SVMX_VENDOR_AMD, code, sizeof code);
    svmx_stop st;
    svmx_cpu_run(m.cpu, 100000, &st);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(m.ram[0x500], 0xef);
    assert_int_equal(m.ram[0x501], 0xbe);
    assert_int_equal(reg(SVMX_RBX) & 0xffff, 0xbeef);
    assert_int_equal(reg(SVMX_RCX) & 0xffff, 0xbeef);
    assert_int_equal(reg(SVMX_RSP), 0x7000);
    assert_int_equal(st.rip, 0x7c10);
    /* The return address the CALL pushed is below the final SP. */
    assert_int_equal(m.ram[0x6ffe] | m.ram[0x6fff] << 8, 0x7c0f);
}

/* The ALU handlers through the interpreter: results, memory destinations,
 * flags, and Jcc/SETcc/CMOVcc/LOOP reading them. */
static void test_alu_handlers(void **state)
{
    (void)state;
    const uint8_t code[] = {
        0xb8, 0x05, 0x00,             /* mov ax, 5                 */
        0xc1, 0xe0, 0x03,             /* shl ax, 3       -> 40     */
        0x83, 0xe8, 0x01,             /* sub ax, 1       -> 39     */
        0x01, 0x06, 0x00, 0x05,       /* add [0x500], ax           */
        0x83, 0xf8, 0x27,             /* cmp ax, 39                */
        0x0f, 0x94, 0xc3,             /* sete bl                   */
        0x31, 0xd2,                   /* xor dx, dx                */
        0xb9, 0x03, 0x00,             /* mov cx, 3                 */
        0x42,                         /* inc dx                    */
        0xe2, 0xfd,                   /* loop -3 (to inc dx)       */
        0xf7, 0xd8,                   /* neg ax          -> -39    */
        0x0f, 0x4c, 0xf0,             /* cmovl si, ax (SF != OF)   */
        0x75, 0x01,                   /* jne +1 (ZF=0 after neg)   */
        0xf4,                         /* hlt (skipped)             */
        0xf4,                         /* hlt                       */
    };
    boot_real(SVMX_VENDOR_AMD, code, sizeof code);
    m.ram[0x500] = 3;
    svmx_stop st;
    svmx_cpu_run(m.cpu, 1000, &st);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, 0x7c00 + sizeof code);
    assert_int_equal(m.ram[0x500], 42);
    assert_int_equal(reg(SVMX_RBX) & 0xff, 1);
    assert_int_equal(reg(SVMX_RCX) & 0xffff, 0);
    assert_int_equal(reg(SVMX_RDX) & 0xffff, 3);
    assert_int_equal(reg(SVMX_RAX) & 0xffff, (uint16_t)-39);
    assert_int_equal(reg(SVMX_RSI) & 0xffff, (uint16_t)-39);
    svmx_regs r;
    svmx_cpu_get_regs(m.cpu, &r);
    /* NEG of a non-zero value sets CF (SDM Vol. 2B NEG); -39 is negative. */
    assert_true(r.rflags & SVMX_RFLAGS_CF);
    assert_true(r.rflags & SVMX_RFLAGS_SF);
    assert_false(r.rflags & SVMX_RFLAGS_ZF);
}

/* UD2 in real mode: vector 6 through the IVT (SDM Vol. 3A 21.1.4). */
static void test_ud_through_ivt(void **state)
{
    (void)state;
    const uint8_t code[] = { 0x0f, 0x0b }; /* ud2 */
    boot_real(SVMX_VENDOR_AMD, code, sizeof code);
    /* IVT[6] = 0800:0010 -> linear 0x8010: hlt */
    m.ram[6 * 4 + 0] = 0x10;
    m.ram[6 * 4 + 1] = 0x00;
    m.ram[6 * 4 + 2] = 0x00;
    m.ram[6 * 4 + 3] = 0x08;
    m.ram[0x8010] = 0xf4;
    svmx_regs r;
    svmx_cpu_get_regs(m.cpu, &r);
    r.rflags = SVMX_RFLAGS_FIXED | SVMX_RFLAGS_IF | SVMX_RFLAGS_CF;
    svmx_cpu_set_regs(m.cpu, &r);
    svmx_stop st;
    svmx_cpu_run(m.cpu, 100000, &st);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, 0x11);
    svmx_sregs s;
    svmx_cpu_get_sregs(m.cpu, &s);
    assert_int_equal(s.seg[SVMX_CS].selector, 0x0800);
    assert_int_equal(s.seg[SVMX_CS].base, 0x8000);
    assert_int_equal(reg(SVMX_RSP), 0x7000 - 6);
    /* IP of the faulting UD2, CS, FLAGS with IF still set */
    assert_int_equal(m.ram[0x6ffa] | m.ram[0x6ffb] << 8, 0x7c00);
    assert_int_equal(m.ram[0x6ffc] | m.ram[0x6ffd] << 8, 0);
    assert_int_equal(m.ram[0x6ffe] | m.ram[0x6fff] << 8, 0x0203);
    svmx_cpu_get_regs(m.cpu, &r);
    assert_false(r.rflags & SVMX_RFLAGS_IF);
    assert_true(r.rflags & SVMX_RFLAGS_CF);
}

/* One instruction at 0x7C00 in 64-bit mode, on each personality, raises
 * #UD (through a 64-bit interrupt gate to the HLT at 0x8000). */
typedef struct ud_row {
    const char *what;
    uint8_t b[5];
    unsigned n;
} ud_row;

static void expect_ud_on_both(const ud_row *rows, size_t count)
{
    for (unsigned v = 0; v < SVMX_VENDOR_COUNT; v++) {
        for (size_t i = 0; i < count; i++) {
            print_message("%s on %s\n", rows[i].what, svmx_vendor_name(v));
            boot_long_v((svmx_vendor)v, rows[i].b, rows[i].n, false);
            put64(IDT + 6 * 16, 0x8000 | 0x18ull << 16 | 0x8eull << 40);
            put64(IDT + 6 * 16 + 8, 0);
            svmx_stop st = run(10);
            assert_int_equal(st.reason, SVMX_STOP_HLT);
            assert_int_equal(st.rip, 0x8001);
            assert_int_equal(get(reg(SVMX_RSP), 8), 0x7c00);
        }
    }
}

/* Instructions of features neither personality offers are #UD, as on a
 * processor without them (SDM Vol. 2: "#UD If CPUID...[bit] = 0"); RSM
 * outside SMM is #UD. 64-bit forms run in long mode. */
static void test_absent_features_ud(void **state)
{
    (void)state;
    static const ud_row rows[] = {
        { "rdrand eax", { 0x0f, 0xc7, 0xf0 }, 3 },
        { "rdseed eax", { 0x0f, 0xc7, 0xf8 }, 3 },
        { "invpcid rax, [rcx]", { 0x66, 0x0f, 0x38, 0x82, 0x01 }, 5 },
        { "rsm", { 0x0f, 0xaa }, 2 },
        { "getsec", { 0x0f, 0x37 }, 2 },
        { "tlbsync", { 0x0f, 0x01, 0xff }, 3 },
    };
    expect_ud_on_both(rows, sizeof rows / sizeof rows[0]);
}

/* The VMX instructions outside VMX operation: #UD on both personalities
 * (AMD has no VMX; Intel: "#UD if not in VMX operation", and VMXON with
 * CR4.VMXE = 0); VMXON with CR4.VMXE = 1 stops UNSUPPORTED until VMX
 * operation is modelled. */
static void test_vmx_outside_vmx_operation(void **state)
{
    (void)state;
    static const ud_row rows[] = {
        { "vmcall", { 0x0f, 0x01, 0xc1 }, 3 },
        { "vmxoff", { 0x0f, 0x01, 0xc4 }, 3 },
        { "vmlaunch", { 0x0f, 0x01, 0xc2 }, 3 },
        { "vmread rax, rbx", { 0x0f, 0x78, 0xd8 }, 3 },
        { "vmxon [rax]", { 0xf3, 0x0f, 0xc7, 0x30 }, 4 },
        { "vmfunc", { 0x0f, 0x01, 0xd4 }, 3 },
    };
    expect_ud_on_both(rows, sizeof rows / sizeof rows[0]);
    const uint8_t vmxon[] = { 0xf3, 0x0f, 0xc7, 0x30 };
    boot_long_v(SVMX_VENDOR_INTEL, vmxon, sizeof vmxon, false);
    svmx_sregs s;
    svmx_cpu_get_sregs(m.cpu, &s);
    s.cr4 |= 1u << 13; /* VMXE */
    assert_int_equal(svmx_cpu_set_sregs(m.cpu, &s), SVMX_OK);
    svmx_stop st = run(10);
    assert_int_equal(st.reason, SVMX_STOP_UNSUPPORTED);
    assert_int_equal(st.rip, 0x7c00);
}

/* The count of a run does not depend on whether the decode cache is warm
 * (the fast loop) or cold (the per-instruction path): a faulting
 * instruction counts unless its delivery shuts the CPU down. Found by
 * tests/fuzz/fuzz_run.c. */
static void test_count_warm_and_cold(void **state)
{
    (void)state;
    /* xchg eax, edi; mov al, [0x40000000] (not mapped: #PF) */
    const uint8_t code[] = { 0x97, 0x8a, 0x04, 0x25, 0x00, 0x00, 0x00, 0x40 };
    boot_long(code, sizeof code, false);
    svmx_sregs s0;
    svmx_regs r0;
    svmx_events e0;
    svmx_cpu_get_sregs(m.cpu, &s0);
    s0.idt.limit = 0; /* #PF -> #GP -> #DF -> shutdown */
    svmx_cpu_set_sregs(m.cpu, &s0);
    svmx_cpu_get_regs(m.cpu, &r0);
    svmx_cpu_get_events(m.cpu, &e0);
    svmx_stop cold = run(100);
    assert_int_equal(cold.reason, SVMX_STOP_SHUTDOWN);
    svmx_cpu_set_sregs(m.cpu, &s0);
    svmx_cpu_set_regs(m.cpu, &r0);
    svmx_cpu_set_events(m.cpu, &e0);
    svmx_stop warm = run(100);
    assert_int_equal(warm.reason, SVMX_STOP_SHUTDOWN);
    assert_int_equal(warm.insns, cold.insns);
    assert_int_equal(cold.insns, 1); /* the XCHG; the MOV shut down */
}

/* BOUND (SDM Vol. 2A BOUND): a signed index outside [lower, upper] is a
 * #BR fault at the instruction; inside it, nothing happens. 32-bit and
 * 16-bit forms; #UD in 64-bit mode (62h is EVEX there). */
static void test_bound(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        uint8_t pfx;           /* 0x66 for the 16-bit form, else 0 */
        uint32_t index, lo, hi;
        bool br;
    } rows[] = {
        { "inside", 0, 5, 1, 10, false },
        { "at lower", 0, 1, 1, 10, false },
        { "at upper", 0, 10, 1, 10, false },
        { "below", 0, 0, 1, 10, true },
        { "above", 0, 11, 1, 10, true },
        { "signed: -1 in [-5, 5]", 0, 0xffffffff, 0xfffffffb, 5, false },
        { "signed: 0x80000000 below -5", 0, 0x80000000, 0xfffffffb, 5, true },
        { "16-bit inside", 0x66, 0xfffe, 0xfff0, 0x0010, false },
        { "16-bit above", 0x66, 0x0011, 0xfff0, 0x0010, true },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        print_message("%s\n", rows[i].what);
        uint8_t code[8];
        size_t n = 0;
        if (rows[i].pfx)
            code[n++] = rows[i].pfx;
        code[n++] = 0x62; /* bound eax, [ebx] */
        code[n++] = 0x03;
        code[n++] = 0xf4;
        boot_protected(code, n, false);
        put64(IDT + 5 * 8, gate32(0x8000, 0x08, 0x8e));
        unsigned w = rows[i].pfx ? 2 : 4;
        for (unsigned b = 0; b < w; b++) {
            m.ram[0x9000 + b] = (uint8_t)(rows[i].lo >> (8 * b));
            m.ram[0x9000 + w + b] = (uint8_t)(rows[i].hi >> (8 * b));
        }
        set_reg(SVMX_RAX, rows[i].index);
        set_reg(SVMX_RBX, 0x9000);
        svmx_stop st = run(10);
        assert_int_equal(st.reason, SVMX_STOP_HLT);
        if (rows[i].br) {
            assert_int_equal(st.rip, 0x8001);
            assert_int_equal(get(reg(SVMX_RSP), 4), 0x7c00); /* at BOUND */
        } else {
            assert_int_equal(st.rip, 0x7c00 + n);
        }
    }
    const uint8_t lm[] = { 0x62, 0x03, 0x00, 0x00, 0x00, 0x00 };
    boot_long(lm, sizeof lm, false);
    put64(IDT + 6 * 16, 0x8000 | 0x18ull << 16 | 0x8eull << 40);
    put64(IDT + 6 * 16 + 8, 0);
    svmx_stop st = run(10);
    assert_int_equal(st.rip, 0x8001); /* #UD */
}

/* With an IDT limit of 0, #UD cannot be delivered (#GP), #GP cannot
 * (contributory twice: #DF), #DF cannot: triple fault, shutdown. */
static void test_triple_fault(void **state)
{
    (void)state;
    const uint8_t code[] = { 0x0f, 0x0b };
    boot_real(SVMX_VENDOR_AMD, code, sizeof code);
    svmx_sregs s;
    svmx_cpu_get_sregs(m.cpu, &s);
    s.idt.limit = 0;
    svmx_cpu_set_sregs(m.cpu, &s);
    svmx_stop st;
    svmx_cpu_run(m.cpu, 100000, &st);
    assert_int_equal(st.reason, SVMX_STOP_SHUTDOWN);
    assert_int_equal(st.chain_len, 3);
    assert_int_equal(st.chain[0], 6);
    assert_int_equal(st.chain[1], 13);
    assert_int_equal(st.chain[2], 8);
    assert_int_equal(st.rip, 0x7c00);
    svmx_events ev;
    svmx_cpu_get_events(m.cpu, &ev);
    assert_int_equal(ev.activity, SVMX_ACTIVITY_SHUTDOWN);
    /* A shut-down CPU stays down. */
    svmx_cpu_run(m.cpu, 100000, &st);
    assert_int_equal(st.reason, SVMX_STOP_SHUTDOWN);
    assert_int_equal(st.insns, 0);
}

/* A push that runs off the 64 KiB stack segment is #SS(0). With IVT[12]
 * unreadable... here IVT[12] points at a HLT. */
static void test_stack_fault(void **state)
{
    (void)state;
    const uint8_t code[] = { 0x50 }; /* push ax */
    boot_real(SVMX_VENDOR_AMD, code, sizeof code);
    m.ram[12 * 4 + 0] = 0x00;
    m.ram[12 * 4 + 1] = 0x90; /* IVT[12] = 0000:9000 */
    m.ram[0x9000] = 0xf4;
    svmx_regs r;
    svmx_cpu_get_regs(m.cpu, &r);
    r.gpr[SVMX_RSP] = 1;
    svmx_cpu_set_regs(m.cpu, &r);
    svmx_stop st;
    svmx_cpu_run(m.cpu, 100000, &st);
    /* #SS delivery itself pushes at SP=1 and faults again: #SS twice is
     * contributory twice, #DF, whose push faults too: shutdown. */
    assert_int_equal(st.reason, SVMX_STOP_SHUTDOWN);
    assert_int_equal(st.chain[0], 12);
    assert_int_equal(st.chain[1], 8);
}

/* #UD in 32-bit protected mode through an interrupt gate: EFLAGS, CS,
 * EIP pushed, IF cleared, the handler's CS marked accessed. */
static void test_protected_interrupt_gate(void **state)
{
    (void)state;
    const uint8_t code[] = { 0x0f, 0x0b };
    boot_protected(code, sizeof code, false);
    put64(IDT + 6 * 8, gate32(0x8000, 0x08, 0x8e));
    svmx_stop st;
    svmx_cpu_run(m.cpu, 100, &st);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, 0x8001);
    assert_int_equal(reg(SVMX_RSP), 0x7000 - 12);
    assert_int_equal(get(0x7000 - 12, 4), 0x7c00);
    assert_int_equal(get(0x7000 - 8, 4), 0x08);
    /* A fault's EFLAGS image has RF set (SDM Vol. 3B 18.3.1.1). */
    assert_int_equal(get(0x7000 - 4, 4), 0x10202);
    svmx_regs r;
    svmx_cpu_get_regs(m.cpu, &r);
    assert_false(r.rflags & SVMX_RFLAGS_IF);
    assert_int_equal(m.ram[GDT + 0x08 + 5], 0x9b); /* accessed now */
}

/* A not-present gate is #NP with the IDT error code vector * 8 + 2 + EXT
 * (SDM Vol. 3A 6.13); a trap gate keeps IF. */
static void test_protected_not_present_gate(void **state)
{
    (void)state;
    const uint8_t code[] = { 0x0f, 0x0b };
    boot_protected(code, sizeof code, false);
    put64(IDT + 6 * 8, gate32(0x8000, 0x08, 0x0e));  /* P = 0 */
    put64(IDT + 11 * 8, gate32(0x8000, 0x08, 0x8f)); /* trap gate */
    svmx_stop st;
    svmx_cpu_run(m.cpu, 100, &st);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(reg(SVMX_RSP), 0x7000 - 16);
    assert_int_equal(get(0x7000 - 16, 4), 6 * 8 + 2 + 1); /* error code */
    assert_int_equal(get(0x7000 - 12, 4), 0x7c00);
    svmx_regs r;
    svmx_cpu_get_regs(m.cpu, &r);
    assert_true(r.rflags & SVMX_RFLAGS_IF);
}

/* Ring 3 to ring 0: SS0:ESP0 from the TSS, the old SS:ESP on the new
 * stack (SDM Vol. 3A 6.12.1, Figure 6-4). */
static void test_protected_privilege_change(void **state)
{
    (void)state;
    const uint8_t code[] = { 0x0f, 0x0b };
    boot_protected(code, sizeof code, true);
    put64(IDT + 6 * 8, gate32(0x8000, 0x08, 0x8e));
    m.ram[TSS + 4] = 0x00; /* ESP0 = 0x9000 */
    m.ram[TSS + 5] = 0x90;
    m.ram[TSS + 8] = 0x10; /* SS0 */
    svmx_stop st;
    svmx_cpu_run(m.cpu, 100, &st);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(reg(SVMX_RSP), 0x9000 - 20);
    assert_int_equal(get(0x9000 - 20, 4), 0x7c00);
    assert_int_equal(get(0x9000 - 16, 4), 0x23);
    assert_int_equal(get(0x9000 - 12, 4), 0x10202); /* RF: a fault */
    assert_int_equal(get(0x9000 - 8, 4), 0x7000);
    assert_int_equal(get(0x9000 - 4, 4), 0x2b);
    svmx_sregs s;
    svmx_cpu_get_sregs(m.cpu, &s);
    assert_int_equal(s.seg[SVMX_CS].selector, 0x08);
    assert_int_equal(s.seg[SVMX_SS].selector, 0x10);
    assert_int_equal(SVMX_SEG_ATTR_DPL(s.seg[SVMX_SS].attr), 0);
}

/* A bad SS0 in the TSS is #TS(SS0 selector + EXT); its own delivery then
 * needs the same stack, so #TS twice is #DF and then a triple fault. */
static void test_protected_bad_tss_stack(void **state)
{
    (void)state;
    const uint8_t code[] = { 0x0f, 0x0b };
    boot_protected(code, sizeof code, true);
    put64(IDT + 6 * 8, gate32(0x8000, 0x08, 0x8e));
    put64(IDT + 8 * 8, gate32(0x8000, 0x08, 0x8e));
    put64(IDT + 10 * 8, gate32(0x8000, 0x08, 0x8e));
    m.ram[TSS + 8] = 0x08; /* SS0 = a code segment */
    svmx_stop st;
    svmx_cpu_run(m.cpu, 100, &st);
    assert_int_equal(st.reason, SVMX_STOP_SHUTDOWN);
    assert_int_equal(st.chain_len, 3);
    assert_int_equal(st.chain[0], 6);
    assert_int_equal(st.chain[1], 10);
    assert_int_equal(st.chain[2], 8);
}

/* IA-32e mode: 16-byte gates, the IST stack aligned to 16, the 64-bit
 * frame SS, RSP, RFLAGS, CS, RIP (SDM Vol. 3A 6.14.2-6.14.5). */
static void test_long_mode_ist(void **state)
{
    (void)state;
    const uint8_t code[] = { 0x0f, 0x0b };
    boot_long(code, sizeof code, false);
    uint64_t lo = 0x8000 | 0x18ull << 16 | 1ull << 32 | 0x8eull << 40;
    put64(IDT + 6 * 16, lo);
    put64(IDT + 6 * 16 + 8, 0);
    put64(TSS + 0x24, 0xa008); /* IST1, deliberately misaligned */
    svmx_stop st;
    svmx_cpu_run(m.cpu, 100, &st);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(reg(SVMX_RSP), 0xa000 - 40);
    assert_int_equal(get(0xa000 - 40, 8), 0x7c00);
    assert_int_equal(get(0xa000 - 32, 8), 0x18);
    assert_int_equal(get(0xa000 - 24, 8), 0x10202); /* RF: a fault */
    assert_int_equal(get(0xa000 - 16, 8), 0x7000);
    assert_int_equal(get(0xa000 - 8, 8), 0x10);
}

/* ---- POP r/m with a memory destination ---------------------------------- */

#define HANDLER 0x8800 /* the HLT of vector v is at HANDLER + v */

/* A HLT at HANDLER + v for vectors 0-31 and 0x20, through 8-byte
 * (protected mode) or 16-byte (IA-32e mode) interrupt gates to CS 0x08 or
 * 0x18. */
static void hlt_handlers(bool lm)
{
    for (unsigned v = 0; v <= 0x20; v++) {
        uint32_t h = HANDLER + v;
        m.ram[h] = 0xf4;
        if (!lm) {
            put64(IDT + 8 * v, gate32(h, 0x08, 0x8e));
            continue;
        }
        put64(IDT + 16 * v, gate32(h, 0x18, 0x8e));
        put64(IDT + 16 * v + 8, 0);
    }
}

enum { REAL, PROT, LONG };

static void boot_mode(int mode, const uint8_t *code, size_t n)
{
    if (mode == REAL)
        boot_real(SVMX_VENDOR_AMD, code, n);
    else if (mode == PROT)
        boot_protected(code, n, false);
    else
        boot_long(code, n, false);
    if (mode != REAL)
        hlt_handlers(mode == LONG);
}

typedef struct pop_case {
    const char *what;
    int         mode;
    const char *hex;      /* the POP, then a HLT is appended */
    uint64_t    sp;       /* rSP before */
    uint64_t    bx;
    uint64_t    sp_after;
    uint64_t    dest;     /* linear address written */
    unsigned    size;
} pop_case;

/*
 * SDM Vol. 2B POP: rSP moves first, then the effective address is
 * computed - with the incremented rSP when rSP is the base - and the
 * popped operand-sized value is written there (APM Vol. 3 POP).
 */
static const pop_case pop_cases[] = {
    { "64: pop qword [rsp+8]",  LONG, "8f 44 24 08",    0x6ff0, 0, 0x6ff8, 0x7000, 8 },
    { "64: pop word [rsp+8]",   LONG, "66 8f 44 24 08", 0x6ff0, 0, 0x6ff2, 0x6ffa, 2 },
    { "64: pop qword [rsp]",    LONG, "8f 04 24",       0x6ff0, 0, 0x6ff8, 0x6ff8, 8 },
    { "64: pop qword [rbx]",    LONG, "8f 03",          0x6ff0, 0x500, 0x6ff8, 0x500, 8 },
    { "32: pop dword [esp+4]",  PROT, "8f 44 24 04",    0x6ff0, 0, 0x6ff4, 0x6ff8, 4 },
    { "32: pop word [esp]",     PROT, "66 8f 04 24",    0x6ff0, 0, 0x6ff2, 0x6ff2, 2 },
    { "16: pop word [bx]",      REAL, "8f 07",          0x6ff0, 0x500, 0x6ff2, 0x500, 2 },
    { "16: pop dword [bx]",     REAL, "66 8f 07",       0x6ff0, 0x500, 0x6ff4, 0x500, 4 },
    { "16: pop word [esp+2]",   REAL, "67 8f 44 24 02", 0x6ff0, 0, 0x6ff2, 0x6ff4, 2 },
    /* SP wraps to 0 on a 16-bit stack: the SDM calls the address then
     * "processor-family-specific"; the model uses ESP as incremented,
     * i.e. with bits 31:16 kept (docs/interpreter.md). */
    { "16: pop word [esp], SP wraps", REAL, "67 8f 04 24", 0xfffe, 0, 0x0000, 0x0000, 2 },
};

static size_t parse_hex(const char *hex, uint8_t *out)
{
    size_t n = 0;
    for (const char *p = hex; *p;) {
        char *end;
        unsigned long b = strtoul(p, &end, 16);
        if (end == p)
            break;
        out[n++] = (uint8_t)b;
        p = end;
    }
    return n;
}

static void test_pop_memory(void **state)
{
    (void)state;
    const uint64_t value = 0x8877665544332211ull;
    for (size_t i = 0; i < sizeof pop_cases / sizeof pop_cases[0]; i++) {
        const pop_case *c = &pop_cases[i];
        uint8_t code[16];
        size_t n = parse_hex(c->hex, code);
        code[n++] = 0xf4;
        print_message("case %zu: %s\n", i, c->what);
        boot_mode(c->mode, code, n);
        memset(m.ram + c->dest, 0xcc, 16);
        put64(c->sp, value);
        put64(c->sp + 8, 0xccccccccccccccccull);
        set_reg(SVMX_RSP, c->sp);
        set_reg(SVMX_RBX, c->bx);
        uint8_t next = m.ram[c->dest + c->size];
        svmx_stop st = run(10);
        assert_int_equal(st.reason, SVMX_STOP_HLT);
        assert_int_equal(st.rip, 0x7c00 + n);
        assert_int_equal(reg(SVMX_RSP), c->sp_after);
        assert_int_equal(get(c->dest, c->size),
                         value & (~0ull >> (64 - 8 * c->size)));
        assert_int_equal(m.ram[c->dest + c->size], next);
    }
}

/* A faulting write leaves rSP as it was: the exception frame holds the
 * old rSP (IA-32e) or sits right below it, and the stack slot was only
 * read. */
static void test_pop_memory_faults(void **state)
{
    (void)state;
    /* 64-bit: pop qword [rax], RAX not canonical: #GP(0) */
    const uint8_t pop_rax[] = { 0x8f, 0x00 };
    boot_mode(LONG, pop_rax, sizeof pop_rax);
    set_reg(SVMX_RSP, 0x6ff0);
    set_reg(SVMX_RAX, 0x0000800000000000ull);
    svmx_stop st = run(10);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, HANDLER + 13 + 1);
    assert_int_equal(reg(SVMX_RSP), 0x6ff0 - 48);
    assert_int_equal(get(0x6ff0 - 48, 8), 0);          /* error code */
    assert_int_equal(get(0x6ff0 - 40, 8), 0x7c00);     /* RIP */
    assert_int_equal(get(0x6ff0 - 16, 8), 0x6ff0);     /* RSP */

    /* 64-bit: the same to an unmapped page: #PF, W = 1, CR2 the address */
    boot_mode(LONG, pop_rax, sizeof pop_rax);
    set_reg(SVMX_RSP, 0x6ff0);
    set_reg(SVMX_RAX, 0x300000);
    st = run(10);
    assert_int_equal(st.rip, HANDLER + 14 + 1);
    assert_int_equal(get(0x6ff0 - 48, 8), 2);          /* write, not present */
    assert_int_equal(get(0x6ff0 - 16, 8), 0x6ff0);
    svmx_sregs s;
    svmx_cpu_get_sregs(m.cpu, &s);
    assert_int_equal(s.cr2, 0x300000);

    /* 32-bit: pop dword [esp+0x10000] beyond SS.limit 0xFFFF: #SS(0) on
     * the write (the read at ESP was within the limit) */
    const uint8_t pop_far[] = { 0x8f, 0x84, 0x24, 0x00, 0x00, 0x01, 0x00 };
    boot_mode(PROT, pop_far, sizeof pop_far);
    svmx_cpu_get_sregs(m.cpu, &s);
    s.seg[SVMX_SS].limit = 0xffff;
    assert_int_equal(svmx_cpu_set_sregs(m.cpu, &s), SVMX_OK);
    set_reg(SVMX_RSP, 0x6ff0);
    put64(0x6ff0, 0x1234);
    st = run(10);
    assert_int_equal(st.rip, HANDLER + 12 + 1);
    assert_int_equal(reg(SVMX_RSP), 0x6ff0 - 16);      /* err EIP CS EFLAGS */
    assert_int_equal(get(0x6ff0 - 16, 4), 0);
    assert_int_equal(get(0x6ff0 - 12, 4), 0x7c00);
    assert_int_equal(get(0x6ff0, 8), 0x1234);
}

/* ---- RF in the EFLAGS image (SDM Vol. 3B 18.3.1.1) ----------------------- */

/* The EFLAGS slot of a 32-bit frame without an error code. */
static uint64_t image32(void)
{
    return get(reg(SVMX_RSP) + 8, 4);
}

static void set_flags(uint64_t fl)
{
    svmx_regs r;
    svmx_cpu_get_regs(m.cpu, &r);
    r.rflags = fl;
    svmx_cpu_set_regs(m.cpu, &r);
}

/* Software interrupts push RF = 0 ("since it was cleared when INT n was
 * executed"); external interrupts and NMI push RF as it is. */
static void test_rf_interrupts(void **state)
{
    (void)state;
    const uint8_t int3[] = { 0xcc };
    const uint64_t fl = SVMX_RFLAGS_FIXED | SVMX_RFLAGS_IF;
    boot_mode(PROT, int3, sizeof int3);
    set_flags(fl | SVMX_RFLAGS_RF);
    svmx_stop st = run(10);
    assert_int_equal(st.rip, HANDLER + 3 + 1);
    assert_int_equal(image32(), fl);

    const uint8_t nop[] = { 0x90 };
    for (int rf = 0; rf < 2; rf++) {
        uint64_t before = fl | (rf ? SVMX_RFLAGS_RF : 0);
        boot_mode(PROT, nop, sizeof nop);
        set_flags(before);
        assert_int_equal(svmx_cpu_inject_irq(m.cpu, 0x20), SVMX_OK);
        st = run(10); /* the interrupt comes before the NOP */
        assert_int_equal(st.rip, HANDLER + 0x20 + 1);
        assert_int_equal(image32(), before);

        boot_mode(PROT, nop, sizeof nop);
        set_flags(before);
        assert_int_equal(svmx_cpu_inject_nmi(m.cpu), SVMX_OK);
        st = run(10);
        assert_int_equal(st.rip, HANDLER + 2 + 1);
        assert_int_equal(image32(), before);
    }
}

/* Traps and aborts keep RF as it is, faults push RF = 1: the single-step
 * #DB after a NOP, and a #DF (#UD whose gate is not present: #NP, whose
 * gate is not present either: #DF) against the #UD of UD2. */
static void test_rf_traps_and_aborts(void **state)
{
    (void)state;
    const uint64_t fl = SVMX_RFLAGS_FIXED | SVMX_RFLAGS_IF;
    const uint8_t nop[] = { 0x90, 0x90 };
    boot_mode(PROT, nop, sizeof nop);
    set_flags(fl | SVMX_RFLAGS_TF);
    svmx_stop st = run(10);
    assert_int_equal(st.rip, HANDLER + 1 + 1);
    assert_int_equal(get(reg(SVMX_RSP), 4), 0x7c01);   /* after the NOP */
    assert_int_equal(image32(), fl | SVMX_RFLAGS_TF);

    const uint8_t ud2[] = { 0x0f, 0x0b };
    boot_mode(PROT, ud2, sizeof ud2);
    put64(IDT + 6 * 8, gate32(HANDLER + 6, 0x08, 0x0e));   /* P = 0 */
    put64(IDT + 11 * 8, gate32(HANDLER + 11, 0x08, 0x0e)); /* P = 0 */
    st = run(10);
    assert_int_equal(st.rip, HANDLER + 8 + 1);
    assert_int_equal(get(reg(SVMX_RSP), 4), 0);        /* #DF(0) */
    assert_int_equal(get(reg(SVMX_RSP) + 4, 4), 0x7c00);
    assert_int_equal(get(reg(SVMX_RSP) + 12, 4), fl);  /* no RF */

    boot_mode(PROT, ud2, sizeof ud2);
    put64(IDT + 6 * 8, gate32(HANDLER + 6, 0x08, 0x0e));   /* P = 0 */
    st = run(10);
    assert_int_equal(st.rip, HANDLER + 11 + 1);        /* #NP: a fault */
    assert_int_equal(get(reg(SVMX_RSP), 4), 6 * 8 + 2 + 1);
    assert_int_equal(get(reg(SVMX_RSP) + 12, 4), fl | SVMX_RFLAGS_RF);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    svmx_stop st;
    assert_int_equal(svmx_cpu_run(NULL, 0, &st), SVMX_E_ARG);
    assert_int_equal(svmx_cpu_step(NULL, &st), SVMX_E_ARG);
    const uint8_t code[] = { 0xf4 };
    boot_real(SVMX_VENDOR_AMD, code, 1);
    assert_int_equal(svmx_cpu_run(m.cpu, 0, NULL), SVMX_E_ARG);
    svmx_cpu_request_stop(NULL);
    assert_string_equal(svmx_stop_reason_name(SVMX_STOP_HLT), "HLT");
    assert_string_equal(svmx_stop_reason_name(SVMX_STOP_REASON_COUNT), "?");
    assert_string_equal(svmx_stop_reason_str(SVMX_STOP_REASON_COUNT), "?");
}

/*
 * Self-modifying code in a warm loop: the fast loop follows hints from one
 * cached decode to the next without comparing bytes, so a store into an
 * instruction it already ran must still be seen the next time that
 * instruction runs (SDM Vol. 3A 11.6: a write to a code byte takes effect
 * for the instructions fetched after it). Every iteration stores BL into
 * the immediate of the ADD that follows, through a RIP-relative MOV the
 * fast loop runs itself; BL equals the immediate until a CMOVE (decoded
 * since the first iteration, so the loop does not leave for a decode)
 * makes it 0x10 in the third of four. Run and single steps agree.
 */
static void test_self_modifying_warm_loop(void **state)
{
    (void)state;
    const uint8_t code[] = {
        0x31, 0xc0,                         /* 7c00 xor eax, eax          */
        0xb9, 0x04, 0x00, 0x00, 0x00,       /* 7c02 mov ecx, 4            */
        0xbb, 0x01, 0x00, 0x00, 0x00,       /* 7c07 mov ebx, 1            */
        0xba, 0x10, 0x00, 0x00, 0x00,       /* 7c0c mov edx, 0x10         */
        0x83, 0xf9, 0x02,                   /* 7c11 cmp ecx, 2            */
        0x0f, 0x44, 0xda,                   /* 7c14 cmove ebx, edx        */
        0x88, 0x1d, 0x02, 0x00, 0x00, 0x00, /* 7c17 mov [rip+2], bl       */
        0x83, 0xc0, 0x01,                   /* 7c1d add eax, 1            */
        0xff, 0xc9,                         /* 7c20 dec ecx               */
        0x75, 0xed,                         /* 7c22 jnz 7c11              */
        0xf4,                               /* 7c24 hlt                   */
    };
    for (int stepped = 0; stepped < 2; stepped++) {
        boot_long(code, sizeof code, false);
        svmx_stop st;
        if (stepped) {
            do
                assert_int_equal(svmx_cpu_step(m.cpu, &st), SVMX_OK);
            while (st.reason == SVMX_STOP_DEBUG);
        } else {
            st = run(1000);
        }
        assert_int_equal(st.reason, SVMX_STOP_HLT);
        assert_int_equal(reg(SVMX_RAX), 1 + 1 + 0x10 + 0x10);
        assert_int_equal(get(0x7c1f, 1), 0x10);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_out_and_hlt),
        cmocka_unit_test(test_cpuid_vendor),
        cmocka_unit_test(test_in),
        cmocka_unit_test(test_unsupported_reports_bytes),
        cmocka_unit_test(test_budget_and_step),
        cmocka_unit_test(test_request_stop),
        cmocka_unit_test(test_io_handler_failure),
        cmocka_unit_test(test_memory_stack_call_ret),
        cmocka_unit_test(test_alu_handlers),
        cmocka_unit_test(test_ud_through_ivt),
        cmocka_unit_test(test_absent_features_ud),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_count_warm_and_cold),
        cmocka_unit_test(test_vmx_outside_vmx_operation),
        cmocka_unit_test(test_triple_fault),
        cmocka_unit_test(test_stack_fault),
        cmocka_unit_test(test_protected_interrupt_gate),
        cmocka_unit_test(test_protected_not_present_gate),
        cmocka_unit_test(test_protected_privilege_change),
        cmocka_unit_test(test_protected_bad_tss_stack),
        cmocka_unit_test(test_long_mode_ist),
        cmocka_unit_test(test_pop_memory),
        cmocka_unit_test(test_pop_memory_faults),
        cmocka_unit_test(test_rf_interrupts),
        cmocka_unit_test(test_rf_traps_and_aborts),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_self_modifying_warm_loop),
    };
    return cmocka_run_group_tests(tests, NULL, fixture_teardown);
}
