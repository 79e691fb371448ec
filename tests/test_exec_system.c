/*
 * tests/test_exec_system.c - the system instructions through the public
 * API: control and debug registers, entering and leaving long mode, the
 * PDPTEs, TLB invalidation, MSRs, SYSCALL/SYSRET, SYSENTER/SYSEXIT,
 * SWAPGS, PUSHF/POPF privilege rules, the time-stamp counter, XCR0,
 * descriptor-table registers and the cache and hint instructions.
 *
 * Every exception is observed the way a kernel sees it: each vector's
 * IDT (or IVT) entry leads to a HLT at HANDLER(vector), and the frame on
 * the handler's stack gives the error code and the faulting RIP. Code
 * sits at 0x7C00 (exec_fixture.h); the comments give each instruction's
 * address.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "exec_fixture.h"

#define HANDLER(v) (0x8000u + (v) * 16u)
#define RSP0 0x9000u            /* the TSS's ring-0 stack */
#define NO_ERR (-1)
#define FL(x) SVMX_RFLAGS_##x
/* CF PF AF ZF SF OF and bit 1: what MOV CR/DR must leave alone */
#define ARITH_FLAGS 0x8d7u

#define VEC_DB 1
#define VEC_UD 6
#define VEC_GP 13
#define VEC_PF 14

#define MSR_EFER 0xc0000080u
#define MSR_STAR 0xc0000081u
#define MSR_LSTAR 0xc0000082u
#define MSR_CSTAR 0xc0000083u
#define MSR_FMASK 0xc0000084u
#define MSR_KERNEL_GS 0xc0000102u
#define MSR_TSC_AUX 0xc0000103u
#define MSR_SYSENTER_CS 0x174u
#define MSR_SYSENTER_ESP 0x175u
#define MSR_SYSENTER_EIP 0x176u
#define MSR_TSC 0x10u

static const svmx_vendor vendors[] = { SVMX_VENDOR_AMD, SVMX_VENDOR_INTEL };
#define FOR_EACH_VENDOR(v)                                                    \
    for (size_t vi_ = 0; vi_ < 2; vi_++)                                      \
        for (svmx_vendor v = vendors[vi_], *once_ = &v; once_; once_ = NULL)

static unsigned frame_w; /* bytes per word of an exception frame */

/* ------------------------------------------------------------ machine -- */

static svmx_sregs sregs(void)
{
    svmx_sregs s;
    assert_int_equal(svmx_cpu_get_sregs(m.cpu, &s), SVMX_OK);
    return s;
}

static void set_sregs(const svmx_sregs *s)
{
    assert_int_equal(svmx_cpu_set_sregs(m.cpu, s), SVMX_OK);
}

static svmx_dregs dregs(void)
{
    svmx_dregs d;
    assert_int_equal(svmx_cpu_get_dregs(m.cpu, &d), SVMX_OK);
    return d;
}

static uint64_t msr(uint32_t index)
{
    uint64_t v = 0;
    assert_int_equal(svmx_cpu_get_msr(m.cpu, index, &v), SVMX_OK);
    return v;
}

static void set_msr(uint32_t index, uint64_t v)
{
    assert_int_equal(svmx_cpu_set_msr(m.cpu, index, v), SVMX_OK);
}

static void set_flags(uint64_t fl)
{
    svmx_regs r;
    svmx_cpu_get_regs(m.cpu, &r);
    r.rflags = fl;
    assert_int_equal(svmx_cpu_set_regs(m.cpu, &r), SVMX_OK);
}

static void put32(uint64_t addr, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        m.ram[addr + i] = (uint8_t)(v >> (8 * i));
}

/* A HLT at HANDLER(v) for vectors 0-31, reached through the IVT (gate
 * size 0), 8-byte gates or 16-byte gates. */
static void handlers(unsigned gate)
{
    for (unsigned v = 0; v < 32; v++) {
        uint32_t h = HANDLER(v);
        m.ram[h] = 0xf4;
        if (gate == 0) {
            put32(v * 4, h); /* 0000:HANDLER(v) */
        } else if (gate == 8) {
            put64(IDT + 8 * v, gate32(h, 0x08, 0x8e));
        } else {
            put64(IDT + 16 * v, (h & 0xffff) | 0x18ull << 16 | 0x8eull << 40 |
                                    (uint64_t)(h >> 16) << 48);
            put64(IDT + 16 * v + 8, 0);
        }
    }
}

static void real(svmx_vendor v, const uint8_t *code, size_t n)
{
    boot_real(v, code, n);
    handlers(0);
    frame_w = 2;
}

static void prot(svmx_vendor v, const uint8_t *code, size_t n, bool user)
{
    boot_protected_v(v, code, n, user);
    handlers(8);
    put32(TSS + 4, RSP0); /* ESP0 */
    put32(TSS + 8, 0x10); /* SS0 */
    frame_w = 4;
}

static void lm(svmx_vendor v, const uint8_t *code, size_t n, bool user)
{
    boot_long_v(v, code, n, user);
    handlers(16);
    put64(TSS + 4, RSP0); /* RSP0 */
    frame_w = 8;
}

/* The run ends in the handler of `vector`, entered for the instruction at
 * `at` with error code `error` on the stack (NO_ERR: none). */
static void expect_fault(unsigned vector, long error, uint64_t at)
{
    svmx_stop st = run(1000);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, HANDLER(vector) + 1);
    uint64_t sp = reg(SVMX_RSP);
    if (error != NO_ERR) {
        assert_int_equal(get(sp, frame_w), (uint64_t)error);
        sp += frame_w;
    }
    assert_int_equal(get(sp, frame_w), at);
}

/* The CS selector the frame of expect_fault() holds. */
static uint64_t frame_cs(bool error)
{
    return get(reg(SVMX_RSP) + (error ? 2u : 1u) * frame_w, frame_w);
}

static void expect_hlt(uint64_t hlt_at)
{
    svmx_stop st = run(1000);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, hlt_at + 1);
}

static void expect_budget(uint64_t n, uint64_t rip_after)
{
    svmx_stop st = run(n);
    assert_int_equal(st.reason, SVMX_STOP_BUDGET);
    assert_int_equal(st.rip, rip_after);
}

static void expect_seg(unsigned seg, uint16_t sel, uint16_t attr)
{
    svmx_sregs s = sregs();
    assert_int_equal(s.seg[seg].selector, sel);
    assert_int_equal(s.seg[seg].attr, attr);
}

/* Identity map of the first 2 MiB for 4-level paging, as boot_long's. */
static void long_tables(void)
{
    put64(0x10000, 0x11000 | 3);
    put64(0x11000, 0x12000 | 3);
    put64(0x12000, 0x0 | 0x83);
}

/* ------------------------------------------------- control registers -- */

/* MOV CRn is CPL 0 only (SDM Vol. 2B MOV CR): reading and writing. */
static void test_mov_cr_needs_cpl0(void **state)
{
    (void)state;
    static const uint8_t rd[] = { 0x0f, 0x20, 0xc0 }; /* mov eax, cr0 */
    static const uint8_t wr[] = { 0x0f, 0x22, 0xd8 }; /* mov cr3, eax */
    FOR_EACH_VENDOR(v) {
        prot(v, rd, sizeof rd, true);
        expect_fault(VEC_GP, 0, 0x7c00);
        assert_int_equal(frame_cs(true), 0x23);
        prot(v, wr, sizeof wr, true);
        expect_fault(VEC_GP, 0, 0x7c00);
    }
}

/* mov eax, imm32; mov crN, eax; mov ebx, crN; hlt (hlt at 0x7c0b). */
static void run_mov_cr32(svmx_vendor v, unsigned cr, uint32_t value)
{
    uint8_t code[] = { 0xb8, 0, 0, 0, 0, 0x0f, 0x22, 0xc0, 0x0f, 0x20, 0xc3,
                       0xf4 };
    memcpy(code + 1, &value, 4);
    code[7] = (uint8_t)(0xc0 | cr << 3);
    code[10] = (uint8_t)(0xc3 | cr << 3);
    prot(v, code, sizeof code, false);
}

/* CR0 in protected mode (SDM Vol. 2B MOV CR; APM Vol. 2 3.1.1): invalid
 * combinations are #GP(0); reserved bits 31:0 are dropped, ET reads 1;
 * clearing PE goes back to real mode and the next instruction runs
 * there. */
static void test_cr0_values(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        uint32_t value;
        bool gp;
        uint32_t result;
    } rows[] = {
        { "PE, ET",                0x00000011, false, 0x00000011 },
        { "ET is hardwired",       0x00000001, false, 0x00000011 },
        { "reserved 15:6 dropped", 0x0000ffe1, false, 0x00000031 },
        { "CD and NW",             0x60000011, false, 0x60000011 },
        { "CD WP AM NE MP",        0x40050033, false, 0x40050033 },
        { "PE cleared: real mode", 0x00000010, false, 0x00000010 },
        { "NW without CD",         0x20000011, true,  0 },
        { "PG without PE",         0x80000010, true,  0 },
    };
    /* After "PE cleared" the MOV from CR0 and the HLT run in real mode. */
    FOR_EACH_VENDOR(v) {
        for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
            print_message("%s: %s\n", svmx_vendor_name(v), rows[i].what);
            run_mov_cr32(v, 0, rows[i].value);
            set_flags(ARITH_FLAGS);
            if (rows[i].gp) {
                expect_fault(VEC_GP, 0, 0x7c05);
                assert_int_equal(sregs().cr0, 0x11);
                continue;
            }
            expect_hlt(0x7c0b);
            assert_int_equal(reg(SVMX_RBX), rows[i].result);
            assert_int_equal(sregs().cr0, rows[i].result);
            assert_int_equal(rflags(), ARITH_FLAGS); /* docs/flags.md */
            assert_int_equal(svmx_cpu_mode(m.cpu),
                             (rows[i].result & 1) ? SVMX_MODE_PROT32
                                                  : SVMX_MODE_REAL);
        }
    }
}

/* CR4 bits the personality does not offer are reserved: #GP(0) (SDM
 * Vol. 2B MOV CR, APM Vol. 2 3.1.3). VMXE exists on Intel only. */
static void test_cr4_values(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        uint32_t value;
        bool gp_amd, gp_intel;
    } rows[] = {
        { "VME",      0x00000001, true,  true },
        { "PVI",      0x00000002, true,  true },
        { "TSD",      0x00000004, false, false },
        { "DE",       0x00000008, false, false },
        { "PSE",      0x00000010, false, false },
        { "PAE",      0x00000020, false, false },
        { "MCE",      0x00000040, true,  true },
        { "PGE",      0x00000080, false, false },
        { "PCE",      0x00000100, false, false },
        { "OSFXSR",   0x00000200, true,  true },
        { "UMIP",     0x00000800, true,  true },
        { "LA57",     0x00001000, true,  true },
        { "VMXE",     0x00002000, true,  false },
        { "FSGSBASE", 0x00010000, true,  true },
        { "PCIDE",    0x00020000, true,  true },
        { "OSXSAVE",  0x00040000, true,  true },
        { "SMEP",     0x00100000, false, false },
        { "SMAP",     0x00200000, false, false },
        { "PKE",      0x00400000, true,  true },
        { "bit 31",   0x80000000, true,  true },
    };
    FOR_EACH_VENDOR(v) {
        for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
            bool gp = v == SVMX_VENDOR_AMD ? rows[i].gp_amd : rows[i].gp_intel;
            print_message("%s: %s\n", svmx_vendor_name(v), rows[i].what);
            run_mov_cr32(v, 4, rows[i].value);
            if (gp) {
                expect_fault(VEC_GP, 0, 0x7c05);
                assert_int_equal(sregs().cr4, 0);
            } else {
                expect_hlt(0x7c0b);
                assert_int_equal(reg(SVMX_RBX), rows[i].value);
            }
        }
    }
}

/* 64-bit mode: reserved bits of CR0, CR3, CR4 and CR8 and the IA-32e
 * rules (SDM Vol. 2B MOV CR "64-Bit Mode Exceptions"). */
static void test_cr_64bit_reserved_bits(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        unsigned cr;
        uint64_t value;
        bool gp;
    } rows[] = {
        { "CR0 bit 32",            0, 0x180000011ull,          true },
        { "CR0.PG cleared",        0, 0x000000011ull,          true },
        { "CR0 same value",        0, 0x080000011ull,          false },
        { "CR4 bit 32",            4, 0x100000020ull,          true },
        { "CR4.PAE cleared",       4, 0x000000000ull,          true },
        { "CR4.PGE",               4, 0x0000000a0ull,          false },
        { "CR3 bit 63",            3, 0x8000000000010000ull,   true },
        { "CR3 bit 48 (MAXPHYADDR)", 3, 0x0001000000010000ull, true },
        { "CR3 PWT PCD kept",      3, 0x0000000000010018ull,   false },
        { "CR2 any value",         2, 0xffff800000000123ull,   false },
        { "CR8 = 15",              8, 15,                      false },
        { "CR8 = 16",              8, 16,                      true },
    };
    FOR_EACH_VENDOR(v) {
        for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
            /* mov rax, imm64; mov crN, rax (REX.R for CR8); hlt */
            uint8_t code[15] = { 0x48, 0xb8 };
            unsigned cr = rows[i].cr, n = 10;
            memcpy(code + 2, &rows[i].value, 8);
            if (cr == 8)
                code[n++] = 0x44;
            code[n++] = 0x0f;
            code[n++] = 0x22;
            code[n++] = (uint8_t)(0xc0 | (cr & 7) << 3);
            code[n++] = 0xf4;
            print_message("%s: %s\n", svmx_vendor_name(v), rows[i].what);
            lm(v, code, n, false);
            svmx_sregs before = sregs();
            if (rows[i].gp) {
                expect_fault(VEC_GP, 0, 0x7c0a);
                svmx_sregs after = sregs();
                assert_int_equal(after.cr0, before.cr0);
                assert_int_equal(after.cr3, before.cr3);
                assert_int_equal(after.cr4, before.cr4);
                assert_int_equal(after.cr8, before.cr8);
                continue;
            }
            expect_hlt(0x7c00 + n - 1);
            svmx_sregs s = sregs();
            uint64_t got = cr == 0 ? s.cr0 : cr == 2 ? s.cr2 : cr == 3 ? s.cr3
                         : cr == 4 ? s.cr4 : s.cr8;
            assert_int_equal(got, rows[i].value);
        }
    }
}

/*
 * CR3 bits up to MAXPHYADDR - 1 are accepted. A CR3 whose tables lie
 * outside RAM is harmless here because the code page is global (CR4.PGE,
 * G in the PDE): MOV CR3 keeps global translations (SDM Vol. 3A
 * 4.10.4.1), and the code puts the old CR3 back at once.
 */
static void test_cr3_maxphyaddr_boundary(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        0x0f, 0x20, 0xdb,                            /* 7c00 mov rbx,cr3 */
        /* 7c03 movabs rax,0x800000010000 */
        0x48, 0xb8, 0x00, 0x00, 0x01, 0x00, 0x00, 0x80, 0x00, 0x00,
        0x0f, 0x22, 0xd8,                            /* 7c0d mov cr3,rax */
        0x0f, 0x20, 0xd9,                            /* 7c10 mov rcx,cr3 */
        0x0f, 0x22, 0xdb,                            /* 7c13 mov cr3,rbx */
        0xf4,                                        /* 7c16 hlt */
    };
    FOR_EACH_VENDOR(v) {
        lm(v, code, sizeof code, false);
        put64(0x12000, 0x0 | 0x187); /* global 2 MiB page */
        svmx_sregs s = sregs();
        s.cr4 |= 0x80;               /* PGE */
        set_sregs(&s);
        expect_hlt(0x7c16);
        assert_int_equal(reg(SVMX_RCX), 0x800000010000ull);
        assert_int_equal(sregs().cr3, 0x10000);
    }
}

/* CR8 outside 64-bit mode: AMD's LOCK MOV CR0 (CPUID 8000_0001h
 * ECX[4], APM Vol. 3 MOV CRn); #UD on Intel. */
static void test_cr8_alt_encoding(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        0xb8, 0x09, 0x00, 0x00, 0x00,                /* 7c00 mov eax,9 */
        0xf0, 0x0f, 0x22, 0xc0,                      /* 7c05 lock mov cr0,eax */
        0xf0, 0x0f, 0x20, 0xc3,                      /* 7c09 lock mov ebx,cr0 */
        0xf4,                                        /* 7c0d hlt */
    };
    prot(SVMX_VENDOR_AMD, code, sizeof code, false);
    expect_hlt(0x7c0d);
    assert_int_equal(sregs().cr8, 9);
    assert_int_equal(reg(SVMX_RBX), 9);
    assert_int_equal(sregs().cr0, 0x11);
    prot(SVMX_VENDOR_INTEL, code, sizeof code, false);
    expect_fault(VEC_UD, NO_ERR, 0x7c05);
}

/* ------------------------------------------------------- long mode -- */

static const uint8_t enter_long_mode[] = {
    0x0f, 0x20, 0xe0,                            /* 7c00 mov eax,cr4 */
    0x83, 0xc8, 0x20,                            /* 7c03 or eax,0x20 */
    0x0f, 0x22, 0xe0,                            /* 7c06 mov cr4,eax */
    0xb8, 0x00, 0x00, 0x01, 0x00,                /* 7c09 mov eax,0x10000 */
    0x0f, 0x22, 0xd8,                            /* 7c0e mov cr3,eax */
    0xb9, 0x80, 0x00, 0x00, 0xc0,                /* 7c11 mov ecx,0xc0000080 */
    0x0f, 0x32,                                  /* 7c16 rdmsr */
    0x0d, 0x00, 0x01, 0x00, 0x00,                /* 7c18 or eax,0x100 */
    0x0f, 0x30,                                  /* 7c1d wrmsr */
    0x0f, 0x20, 0xc0,                            /* 7c1f mov eax,cr0 */
    0x0d, 0x00, 0x00, 0x00, 0x80,                /* 7c22 or eax,0x80000000 */
    0x0f, 0x22, 0xc0,                            /* 7c27 mov cr0,eax */
    0xbb, 0x34, 0x12, 0x00, 0x00,                /* 7c2a mov ebx,0x1234 */
    0xf4,                                        /* 7c2f hlt */
};

/* The way a kernel enters long mode (SDM Vol. 3A 10.8.5, APM Vol. 2
 * 14.6): CR4.PAE, CR3, EFER.LME by WRMSR, then CR0.PG sets EFER.LMA and
 * the next instruction runs in compatibility mode. */
static void test_enter_long_mode(void **state)
{
    (void)state;
    FOR_EACH_VENDOR(v) {
        prot(v, enter_long_mode, sizeof enter_long_mode, false);
        long_tables();
        expect_budget(9, 0x7c1f);
        assert_int_equal(sregs().efer, 0x100); /* LME, not yet active */
        assert_int_equal(svmx_cpu_mode(m.cpu), SVMX_MODE_PROT32);
        expect_budget(3, 0x7c2a);
        assert_int_equal(sregs().efer, 0x500); /* LMA */
        assert_int_equal(sregs().cr0, 0x80000011);
        assert_int_equal(svmx_cpu_mode(m.cpu), SVMX_MODE_COMPAT32);
        expect_hlt(0x7c2f);
        assert_int_equal(reg(SVMX_RBX), 0x1234);
    }
}

/* mov eax, cr0; or eax, 0x80000000; mov cr0, eax; hlt */
static const uint8_t set_pg32[] = {
    0x0f, 0x20, 0xc0, 0x0d, 0x00, 0x00, 0x00, 0x80, 0x0f, 0x22, 0xc0, 0xf4,
};

/*
 * Activating IA-32e mode fails with #GP(0) when CR4.PAE = 0 (SDM Vol. 3A
 * 4.1.2), when CS.L = 1, and on Intel when TR holds a 16-bit TSS (SDM
 * Vol. 2B MOV CR, "Protected Mode Exceptions"), which AMD does not check.
 */
static void test_long_mode_activation_faults(void **state)
{
    (void)state;
    /* 16-bit code: mov eax, cr0; or eax, 0x80000000; mov cr0, eax; hlt */
    static const uint8_t set_pg16[] = {
        0x0f, 0x20, 0xc0, 0x66, 0x0d, 0x00, 0x00, 0x00, 0x80, 0x0f, 0x22,
        0xc0, 0xf4,
    };
    FOR_EACH_VENDOR(v) {
        prot(v, set_pg32, sizeof set_pg32, false);
        long_tables();
        svmx_sregs s = sregs();
        s.cr3 = 0x10000;
        s.efer = 0x100; /* LME, CR4.PAE = 0 */
        set_sregs(&s);
        expect_fault(VEC_GP, 0, 0x7c08);
        assert_int_equal(sregs().cr0, 0x11);

        prot(v, set_pg16, sizeof set_pg16, false);
        long_tables();
        s = sregs();
        s.cr3 = 0x10000;
        s.cr4 = 0x20;
        s.efer = 0x100;
        s.seg[SVMX_CS].attr = 0xa9b; /* L = 1, D = 0 */
        set_sregs(&s);
        assert_int_equal(svmx_cpu_mode(m.cpu), SVMX_MODE_PROT16);
        expect_fault(VEC_GP, 0, 0x7c09);
        assert_int_equal(sregs().efer, 0x100);

        prot(v, set_pg32, sizeof set_pg32, false);
        long_tables();
        s = sregs();
        s.cr3 = 0x10000;
        s.cr4 = 0x20;
        s.efer = 0x100;
        s.seg[SVMX_TR].attr = 0x83; /* busy 16-bit TSS */
        set_sregs(&s);
        if (v == SVMX_VENDOR_INTEL) {
            expect_fault(VEC_GP, 0, 0x7c08);
        } else {
            expect_hlt(0x7c0b);
            assert_int_equal(sregs().efer, 0x500);
        }
    }
}

/* Leaving long mode: clearing CR0.PG is allowed in compatibility mode and
 * clears EFER.LMA; in 64-bit mode it is #GP(0); clearing CR4.PAE while
 * IA-32e mode is active is #GP(0) (SDM Vol. 2B MOV CR). */
static void test_leave_long_mode(void **state)
{
    (void)state;
    static const uint8_t clear_pg[] = {
        0x0f, 0x20, 0xc0,                            /* 7c00 mov eax,cr0 */
        0x25, 0xff, 0xff, 0xff, 0x7f,                /* 7c03 and eax,~PG */
        0x0f, 0x22, 0xc0,                            /* 7c08 mov cr0,eax */
        0xf4,                                        /* 7c0b hlt */
    };
    static const uint8_t clear_pae[] = {
        0x0f, 0x20, 0xe0,                            /* 7c00 mov eax,cr4 */
        0x83, 0xe0, 0xdf,                            /* 7c03 and eax,~0x20 */
        0x0f, 0x22, 0xe0,                            /* 7c06 mov cr4,eax */
        0xf4,                                        /* 7c09 hlt */
    };
    FOR_EACH_VENDOR(v) {
        lm(v, clear_pg, sizeof clear_pg, false); /* 64-bit mode */
        expect_fault(VEC_GP, 0, 0x7c08);
        assert_int_equal(sregs().efer, 0x500);

        lm(v, clear_pg, sizeof clear_pg, false);
        svmx_sregs s = sregs();
        s.seg[SVMX_CS] = flat(0x08, 0xc9b); /* compatibility mode */
        set_sregs(&s);
        assert_int_equal(svmx_cpu_mode(m.cpu), SVMX_MODE_COMPAT32);
        expect_hlt(0x7c0b);
        assert_int_equal(sregs().efer, 0x100);
        assert_int_equal(sregs().cr0, 0x11);
        assert_int_equal(svmx_cpu_mode(m.cpu), SVMX_MODE_PROT32);

        lm(v, clear_pae, sizeof clear_pae, false);
        s = sregs();
        s.seg[SVMX_CS] = flat(0x08, 0xc9b);
        set_sregs(&s);
        expect_fault(VEC_GP, 0, 0x7c06);
        assert_int_equal(sregs().cr4, 0x20);
    }
}

/* PAE tables: PDPT at 0x13000 -> PD at 0x14000 with one 2 MiB page; a
 * second PDPT at 0x13020 whose entry 0 has reserved bit 5 set. */
static void pae_tables(void)
{
    put64(0x13000, 0x14000 | 1);
    put64(0x13020, 0x14000 | 1 | 0x20);
    put64(0x14000, 0x0 | 0x83);
}

/* PAE paging loads the four PDPTEs on MOV CR3 and when CR0.PG turns it
 * on; a reserved bit in a present one is #GP(0) and the instruction does
 * not complete (SDM Vol. 3A 4.4.1). */
static void test_pae_pdpte_load(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        0x0f, 0x20, 0xe0,                            /* 7c00 mov eax,cr4 */
        0x83, 0xc8, 0x20,                            /* 7c03 or eax,0x20 */
        0x0f, 0x22, 0xe0,                            /* 7c06 mov cr4,eax */
        0xb8, 0x00, 0x30, 0x01, 0x00,                /* 7c09 mov eax,0x13000 */
        0x0f, 0x22, 0xd8,                            /* 7c0e mov cr3,eax */
        0x0f, 0x20, 0xc0,                            /* 7c11 mov eax,cr0 */
        0x0d, 0x00, 0x00, 0x00, 0x80,                /* 7c14 or eax,PG */
        0x0f, 0x22, 0xc0,                            /* 7c19 mov cr0,eax */
        0xbb, 0x20, 0x30, 0x01, 0x00,                /* 7c1c mov ebx,0x13020 */
        0x0f, 0x22, 0xdb,                            /* 7c21 mov cr3,ebx */
        0xf4,                                        /* 7c24 hlt */
    };
    FOR_EACH_VENDOR(v) {
        prot(v, code, sizeof code, false);
        pae_tables();
        expect_fault(VEC_GP, 0, 0x7c21);
        assert_int_equal(sregs().cr3, 0x13000);
        assert_int_equal(sregs().cr0, 0x80000011);

        prot(v, set_pg32, sizeof set_pg32, false);
        pae_tables();
        svmx_sregs s = sregs();
        s.cr3 = 0x13020;
        s.cr4 = 0x20;
        set_sregs(&s);
        expect_fault(VEC_GP, 0, 0x7c08);
        assert_int_equal(sregs().cr0, 0x11);
    }
}

/* ------------------------------------------------------------- TLB -- */

#define OLD_DATA 0x1111111111111111ull
#define NEW_DATA 0x2222222222222222ull

/* Long mode, plus linear 0x200000 -> PT at 0x14000 -> phys 0x50000. */
static void lm_with_4k_page(const uint8_t *code, size_t n, uint64_t pte_flags)
{
    lm(SVMX_VENDOR_AMD, code, n, false);
    put64(0x12008, 0x14000 | 3);
    put64(0x14000, 0x50000 | pte_flags);
    put64(0x50000, OLD_DATA);
    put64(0x60000, NEW_DATA);
}

/* A changed PTE is not seen until MOV CR3 flushes the TLB (SDM Vol. 3A
 * 4.10.4.1): the stale translation before, the new one after. */
static void test_tlb_flush_on_cr3_reload(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        /* 7c00 mov rax,QWORD PTR ds:0x200000 */
        0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00,
        /* 7c08 mov QWORD PTR ds:0x14000,0x60003 */
        0x48, 0xc7, 0x04, 0x25, 0x00, 0x40, 0x01, 0x00, 0x03, 0x00, 0x06, 0x00,
        /* 7c14 mov rbx,QWORD PTR ds:0x200000 */
        0x48, 0x8b, 0x1c, 0x25, 0x00, 0x00, 0x20, 0x00,
        0x0f, 0x20, 0xd9,                            /* 7c1c mov rcx,cr3 */
        0x0f, 0x22, 0xd9,                            /* 7c1f mov cr3,rcx */
        /* 7c22 mov rdx,QWORD PTR ds:0x200000 */
        0x48, 0x8b, 0x14, 0x25, 0x00, 0x00, 0x20, 0x00,
        0xf4,                                        /* 7c2a hlt */
    };
    lm_with_4k_page(code, sizeof code, 3);
    expect_hlt(0x7c2a);
    assert_int_equal(reg(SVMX_RAX), OLD_DATA);
    assert_int_equal(reg(SVMX_RBX), OLD_DATA); /* stale */
    assert_int_equal(reg(SVMX_RDX), NEW_DATA);
}

/* A global page survives MOV CR3 with CR4.PGE = 1; INVLPG of its
 * address drops it, INVLPG of another page does not (SDM Vol. 3A
 * 4.10.4.1). In 64-bit mode INVLPG adds the FS base. */
static void test_tlb_global_page_and_invlpg(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        /* 7c00 mov rax,QWORD PTR ds:0x200000 */
        0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00,
        /* 7c08 mov QWORD PTR ds:0x14000,0x60103 */
        0x48, 0xc7, 0x04, 0x25, 0x00, 0x40, 0x01, 0x00, 0x03, 0x01, 0x06, 0x00,
        /* 7c14 mov rbx,QWORD PTR ds:0x200000 */
        0x48, 0x8b, 0x1c, 0x25, 0x00, 0x00, 0x20, 0x00,
        0x0f, 0x20, 0xd9,                            /* 7c1c mov rcx,cr3 */
        0x0f, 0x22, 0xd9,                            /* 7c1f mov cr3,rcx */
        /* 7c22 mov rdx,QWORD PTR ds:0x200000 */
        0x48, 0x8b, 0x14, 0x25, 0x00, 0x00, 0x20, 0x00,
        /* 7c2a invlpg BYTE PTR ds:0x201000 */
        0x0f, 0x01, 0x3c, 0x25, 0x00, 0x10, 0x20, 0x00,
        /* 7c32 mov rsi,QWORD PTR ds:0x200000 */
        0x48, 0x8b, 0x34, 0x25, 0x00, 0x00, 0x20, 0x00,
        /* 7c3a invlpg BYTE PTR fs:0x1000 */
        0x64, 0x0f, 0x01, 0x3c, 0x25, 0x00, 0x10, 0x00, 0x00,
        /* 7c43 mov rdi,QWORD PTR ds:0x200000 */
        0x48, 0x8b, 0x3c, 0x25, 0x00, 0x00, 0x20, 0x00,
        0xf4,                                        /* 7c4b hlt */
    };
    lm_with_4k_page(code, sizeof code, 0x103); /* G */
    svmx_sregs s = sregs();
    s.cr4 |= 0x80; /* PGE */
    s.seg[SVMX_FS].base = 0x1ff000;
    set_sregs(&s);
    expect_hlt(0x7c4b);
    assert_int_equal(reg(SVMX_RAX), OLD_DATA);
    assert_int_equal(reg(SVMX_RBX), OLD_DATA);
    assert_int_equal(reg(SVMX_RDX), OLD_DATA); /* global: kept */
    assert_int_equal(reg(SVMX_RSI), OLD_DATA); /* another page */
    assert_int_equal(reg(SVMX_RDI), NEW_DATA);
}

/* INVLPG outside 64-bit mode adds the segment base (SDM Vol. 2A INVLPG):
 * es:0x1000 with ES.base 0x3ff000 is linear 0x400000; es:0x2000 another
 * page, which leaves the stale translation. 32-bit paging: PD 0x13000,
 * PT 0x14000 identity-maps the first 128 KiB, PT 0x15000 maps linear
 * 0x400000 to 0x50000. */
static void test_invlpg_segment_base(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        /* 7c00 mov eax,[0x400000] */
        0xa1, 0x00, 0x00, 0x40, 0x00,
        /* 7c05 mov DWORD PTR ds:0x15000,0x60003 */
        0xc7, 0x05, 0x00, 0x50, 0x01, 0x00, 0x03, 0x00, 0x06, 0x00,
        /* 7c0f invlpg BYTE PTR es:0x2000 */
        0x26, 0x0f, 0x01, 0x3d, 0x00, 0x20, 0x00, 0x00,
        /* 7c17 mov ebx,[0x400000] */
        0x8b, 0x1d, 0x00, 0x00, 0x40, 0x00,
        /* 7c1d invlpg BYTE PTR es:0x1000 */
        0x26, 0x0f, 0x01, 0x3d, 0x00, 0x10, 0x00, 0x00,
        /* 7c25 mov ecx,[0x400000] */
        0x8b, 0x0d, 0x00, 0x00, 0x40, 0x00,
        0xf4,                                        /* 7c2b hlt */
    };
    prot(SVMX_VENDOR_INTEL, code, sizeof code, false);
    put32(0x13000, 0x14000 | 3);
    put32(0x13004, 0x15000 | 3);
    for (uint32_t i = 0; i < 0x20; i++)
        put32(0x14000 + 4 * i, i << 12 | 3);
    put32(0x15000, 0x50000 | 3);
    put32(0x50000, 0x11111111);
    put32(0x60000, 0x22222222);
    svmx_sregs s = sregs();
    s.cr0 = 0x80000011;
    s.cr3 = 0x13000;
    s.seg[SVMX_ES].base = 0x3ff000;
    set_sregs(&s);
    expect_hlt(0x7c2b);
    assert_int_equal(reg(SVMX_RAX), 0x11111111);
    assert_int_equal(reg(SVMX_RBX), 0x11111111);
    assert_int_equal(reg(SVMX_RCX), 0x22222222);
}

/* INVLPG, INVD, WBINVD and WBNOINVD are CPL 0 only; at CPL 0 the cache
 * instructions and PAUSE do nothing but retire (WBNOINVD is not
 * advertised: F3 0F 09 runs as WBINVD). */
static void test_cache_and_tlb_ops_privilege(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        uint8_t bytes[8];
        size_t n;
    } rows[] = {
        { "invlpg [0x1000]", { 0x0f, 0x01, 0x3d, 0x00, 0x10, 0x00, 0x00 }, 7 },
        { "invd",            { 0x0f, 0x08 }, 2 },
        { "wbinvd",          { 0x0f, 0x09 }, 2 },
        { "wbnoinvd",        { 0xf3, 0x0f, 0x09 }, 3 },
    };
    static const uint8_t ok[] = {
        0x0f, 0x08,                                  /* 7c00 invd */
        0x0f, 0x09,                                  /* 7c02 wbinvd */
        0xf3, 0x0f, 0x09,                            /* 7c04 wbnoinvd */
        0xf3, 0x90,                                  /* 7c07 pause */
        0x0f, 0x01, 0x3d, 0x00, 0x10, 0x00, 0x00,    /* 7c09 invlpg [0x1000] */
        0xf4,                                        /* 7c10 hlt */
    };
    FOR_EACH_VENDOR(v) {
        for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
            print_message("%s: %s\n", svmx_vendor_name(v), rows[i].what);
            prot(v, rows[i].bytes, rows[i].n, true);
            expect_fault(VEC_GP, 0, 0x7c00);
        }
        prot(v, ok, sizeof ok, false);
        expect_hlt(0x7c10);
    }
}

/* -------------------------------------------------- debug registers -- */

/* Without CR4.DE, DR4 and DR5 are DR6 and DR7; DR6 and DR7 keep their
 * fixed bits (SDM Vol. 2B MOV DR, Vol. 3B 18.2.3-18.2.4). */
static void test_dr_alias_and_fixed_bits(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        0x0f, 0x21, 0xe0,                            /* 7c00 mov eax,dr4 */
        0xbb, 0x00, 0x03, 0x00, 0x00,                /* 7c03 mov ebx,0x300 */
        0x0f, 0x23, 0xeb,                            /* 7c08 mov dr5,ebx */
        0x0f, 0x21, 0xf9,                            /* 7c0b mov ecx,dr7 */
        0x0f, 0x21, 0xef,                            /* 7c0e mov edi,dr5 */
        0xba, 0x0f, 0x00, 0x00, 0x00,                /* 7c11 mov edx,0xf */
        0x0f, 0x23, 0xe2,                            /* 7c16 mov dr4,edx */
        0x0f, 0x21, 0xf6,                            /* 7c19 mov esi,dr6 */
        0xf4,                                        /* 7c1c hlt */
    };
    FOR_EACH_VENDOR(v) {
        prot(v, code, sizeof code, false);
        set_flags(ARITH_FLAGS);
        expect_hlt(0x7c1c);
        assert_int_equal(rflags(), ARITH_FLAGS); /* docs/flags.md */
        assert_int_equal(reg(SVMX_RAX), 0xffff0ff0);
        assert_int_equal(reg(SVMX_RCX), 0x700);
        assert_int_equal(reg(SVMX_RDI), 0x700);
        assert_int_equal(reg(SVMX_RSI), 0xffff0fff); /* B0-B3 writable */
        svmx_dregs d = dregs();
        assert_int_equal(d.dr7, 0x700);
        assert_int_equal(d.dr6, 0xffff0fff);
        assert_int_equal(d.dr[0] | d.dr[1] | d.dr[2] | d.dr[3], 0);
    }
}

/* DR7.GD: the next MOV DR is a #DB fault with DR6.BD set and GD cleared
 * for the handler (SDM Vol. 3B 18.2.4). */
static void test_dr_general_detect(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        0xb8, 0x00, 0x20, 0x00, 0x00,                /* 7c00 mov eax,0x2000 */
        0x0f, 0x23, 0xf8,                            /* 7c05 mov dr7,eax */
        0x0f, 0x21, 0xc3,                            /* 7c08 mov ebx,dr0 */
        0xf4,                                        /* 7c0b hlt */
    };
    FOR_EACH_VENDOR(v) {
        prot(v, code, sizeof code, false);
        set_reg(SVMX_RBX, 0x5555);
        expect_fault(VEC_DB, NO_ERR, 0x7c08);
        assert_int_equal(reg(SVMX_RBX), 0x5555);
        /* A general-detect #DB is a fault: RF = 1 in the EFLAGS image
         * (SDM Vol. 3B 18.3.1.1), IF as it was. */
        assert_int_equal(get(reg(SVMX_RSP) + 8, 4),
                         FL(FIXED) | FL(IF) | FL(RF));
        svmx_dregs d = dregs();
        assert_int_equal(d.dr6, 0xffff0ff0 | 0x2000);
        assert_int_equal(d.dr7, 0x400);
    }
}

/* 64-bit mode: DR0-DR3 hold 64 bits; DR6/DR7 bits 63:32 are #GP(0). */
static void test_dr_64bit(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        /* 7c00 movabs rax,0x123456789abcdef0 */
        0x48, 0xb8, 0xf0, 0xde, 0xbc, 0x9a, 0x78, 0x56, 0x34, 0x12,
        0x0f, 0x23, 0xc0,                            /* 7c0a mov dr0,rax */
        0x0f, 0x21, 0xc3,                            /* 7c0d mov rbx,dr0 */
        /* 7c10 movabs rcx,0x100000000 */
        0x48, 0xb9, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
        0x0f, 0x23, 0xf1,                            /* 7c1a mov dr6,rcx */
        0xf4,                                        /* 7c1d hlt */
    };
    FOR_EACH_VENDOR(v) {
        lm(v, code, sizeof code, false);
        expect_fault(VEC_GP, 0, 0x7c1a);
        assert_int_equal(reg(SVMX_RBX), 0x123456789abcdef0ull);
        assert_int_equal(dregs().dr[0], 0x123456789abcdef0ull);
        assert_int_equal(dregs().dr6, 0xffff0ff0);
    }
}

/* MOV DR at CPL 3 is #GP(0); at CPL 0 a DR7 that enables a breakpoint
 * is stored (the breakpoints themselves: test_exec_events.c). */
static void test_dr_privilege_and_breakpoints(void **state)
{
    (void)state;
    static const uint8_t user[] = { 0x0f, 0x21, 0xf8 }; /* mov eax, dr7 */
    static const uint8_t bp[] = {
        0xb8, 0x01, 0x00, 0x00, 0x00,                /* 7c00 mov eax,0x1 */
        0x0f, 0x23, 0xf8,                            /* 7c05 mov dr7,eax */
        0xf4,                                        /* 7c08 hlt */
    };
    prot(SVMX_VENDOR_AMD, user, sizeof user, true);
    expect_fault(VEC_GP, 0, 0x7c00);
    prot(SVMX_VENDOR_AMD, bp, sizeof bp, false);
    svmx_stop st = run(100);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, 0x7c09);
    assert_int_equal(dregs().dr7, 0x401);
}

/* ---------------------------------------------- CLTS, LMSW, SMSW -- */

/* CLTS clears TS; LMSW loads bits 3:0 but cannot clear PE; SMSW stores
 * CR0 at the register's size or 16 bits to memory (SDM Vol. 2A CLTS,
 * LMSW; Vol. 2B SMSW). */
static void test_clts_lmsw_smsw(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        0x0f, 0x06,                                  /* 7c00 clts */
        0x0f, 0x20, 0xc0,                            /* 7c02 mov eax,cr0 */
        0x66, 0xbb, 0x0c, 0x00,                      /* 7c05 mov bx,0xc */
        0x0f, 0x01, 0xf3,                            /* 7c09 lmsw bx */
        0xb9, 0xff, 0xff, 0xff, 0xff,                /* 7c0c mov ecx,-1 */
        0x66, 0x0f, 0x01, 0xe1,                      /* 7c11 smsw cx */
        0xba, 0xff, 0xff, 0xff, 0xff,                /* 7c15 mov edx,-1 */
        0x0f, 0x01, 0xe2,                            /* 7c1a smsw edx */
        /* 7c1d smsw WORD PTR [0x500] */
        0x0f, 0x01, 0x25, 0x00, 0x05, 0x00, 0x00,
        /* 7c24 lmsw WORD PTR [0x502] */
        0x0f, 0x01, 0x35, 0x02, 0x05, 0x00, 0x00,
        0x0f, 0x20, 0xc6,                            /* 7c2b mov esi,cr0 */
        0xf4,                                        /* 7c2e hlt */
    };
    FOR_EACH_VENDOR(v) {
        prot(v, code, sizeof code, false);
        svmx_sregs s = sregs();
        s.cr0 = 0x4000003b; /* CD PE MP TS ET NE */
        set_sregs(&s);
        put64(0x500, 0xeeee0002eeeeull); /* [0x502] = 2: MP, PE clear */
        expect_hlt(0x7c2e);
        assert_int_equal(reg(SVMX_RAX), 0x40000033);
        assert_int_equal(reg(SVMX_RCX), 0xffff003d); /* PE EM TS ET NE */
        assert_int_equal(reg(SVMX_RDX), 0x4000003d);
        assert_int_equal(get(0x500, 2), 0x3d);
        assert_int_equal(get(0x502, 4), 0xeeee0002);
        assert_int_equal(reg(SVMX_RSI), 0x40000033);
    }
}

/* SMSW works at CPL 3 (no UMIP); CLTS does not. */
static void test_msw_at_cpl3(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        0x0f, 0x01, 0xe0,                            /* 7c00 smsw eax */
        0x0f, 0x06,                                  /* 7c03 clts */
    };
    prot(SVMX_VENDOR_INTEL, code, sizeof code, true);
    expect_fault(VEC_GP, 0, 0x7c03);
    assert_int_equal(reg(SVMX_RAX), 0x11);
}

/* LMSW can set PE: real mode to 16-bit protected mode. */
static void test_lmsw_enters_protected_mode(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        0xb8, 0x01, 0x00,                            /* 7c00 mov ax,0x1 */
        0x0f, 0x01, 0xf0,                            /* 7c03 lmsw ax */
        0xf4,                                        /* 7c06 hlt */
    };
    real(SVMX_VENDOR_AMD, code, sizeof code);
    expect_hlt(0x7c06);
    assert_int_equal(sregs().cr0, 0x60000011);
    assert_int_equal(svmx_cpu_mode(m.cpu), SVMX_MODE_PROT16);
}

/* -------------------------------------------------------------- MSRs -- */

/*
 * mov ecx, index; mov edx, hi; mov eax, lo; wrmsr; rdmsr; hlt - WRMSR at
 * 0x7c0f, HLT at 0x7c13. Rows name the vendors they apply to.
 */
#define AMD   1u
#define INTEL 2u
#define BOTH  3u

static void test_wrmsr_rules(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        unsigned vendors;
        bool long_mode;
        uint32_t index;
        uint64_t value;
        bool gp;
        uint64_t readback;
    } rows[] = {
        { "STAR",                    BOTH,  false, MSR_STAR,
          0x5566778811223344ull, false, 0x5566778811223344ull },
        { "KERNEL_GS_BASE canonical", BOTH, false, MSR_KERNEL_GS,
          0xffff800000001000ull, false, 0xffff800000001000ull },
        { "KERNEL_GS_BASE non-canonical", BOTH, false, MSR_KERNEL_GS,
          0x0000800000000000ull, true, 0 },
        { "LSTAR non-canonical",     BOTH,  false, MSR_LSTAR,
          0x0001000000000000ull, true, 0 },
        { "FMASK bit 32",            BOTH,  false, MSR_FMASK,
          0x100000000ull, true, 0 },
        { "FMASK",                   BOTH,  false, MSR_FMASK,
          0x4700, false, 0x4700 },
        { "EFER reserved bit 1",     BOTH,  false, MSR_EFER, 0x2, true, 0 },
        { "EFER.SVME",               AMD,   false, MSR_EFER,
          0x1000, false, 0x1000 },
        { "EFER.SVME",               INTEL, false, MSR_EFER, 0x1000, true, 0 },
        { "EFER.LMA is ignored",     BOTH,  false, MSR_EFER, 0x400, false, 0 },
        { "EFER.NXE SCE",            BOTH,  false, MSR_EFER,
          0x801, false, 0x801 },
        { "EFER.LME cleared with PG", BOTH, true,  MSR_EFER, 0x400, true, 0 },
        { "EFER.LMA kept with PG",   BOTH,  true,  MSR_EFER,
          0x900, false, 0xd00 },
        { "unknown MSR",             BOTH,  false, 0x12345678, 0, true, 0 },
        { "VMX_BASIC is read-only",  BOTH,  false, 0x480, 0, true, 0 },
        { "SYSENTER_EIP high half",  AMD,   false, MSR_SYSENTER_EIP,
          0x0000800000001000ull, false, 0x1000 },
        { "SYSENTER_EIP non-canonical", INTEL, false, MSR_SYSENTER_EIP,
          0x0000800000001000ull, true, 0 },
        { "TSC_AUX high half",       AMD,   false, MSR_TSC_AUX,
          0x100000005ull, false, 5 },
        { "TSC_AUX high half",       INTEL, false, MSR_TSC_AUX,
          0x100000005ull, true, 0 },
    };
    FOR_EACH_VENDOR(v) {
        unsigned bit = v == SVMX_VENDOR_AMD ? AMD : INTEL;
        for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
            if (!(rows[i].vendors & bit))
                continue;
            uint8_t code[] = { 0xb9, 0, 0, 0, 0, 0xba, 0, 0, 0, 0, 0xb8, 0, 0,
                               0, 0, 0x0f, 0x30, 0x0f, 0x32, 0xf4 };
            uint32_t lo = (uint32_t)rows[i].value;
            uint32_t hi = (uint32_t)(rows[i].value >> 32);
            memcpy(code + 1, &rows[i].index, 4);
            memcpy(code + 6, &hi, 4);
            memcpy(code + 11, &lo, 4);
            print_message("%s: %s\n", svmx_vendor_name(v), rows[i].what);
            if (rows[i].long_mode)
                lm(v, code, sizeof code, false);
            else
                prot(v, code, sizeof code, false);
            svmx_sregs before = sregs();
            if (rows[i].gp) {
                expect_fault(VEC_GP, 0, 0x7c0f);
                assert_int_equal(sregs().efer, before.efer);
                continue;
            }
            expect_hlt(0x7c13);
            assert_int_equal(reg(SVMX_RDX) << 32 | reg(SVMX_RAX),
                             rows[i].readback);
        }
    }
}

/* RDMSR of an MSR the personality lacks is #GP(0), RDMSR/WRMSR at CPL 3
 * too; RDMSR clears RAX[63:32] and RDX[63:32]. */
static void test_rdmsr(void **state)
{
    (void)state;
    static const uint8_t unknown[] = {
        /* 7c00 mov ecx,0x12345678 */
        0xb9, 0x78, 0x56, 0x34, 0x12,
        0x0f, 0x32,                                  /* 7c05 rdmsr */
    };
    static const uint8_t star[] = {
        /* 7c00 mov ecx,0xc0000081 */
        0xb9, 0x81, 0x00, 0x00, 0xc0,
        0x0f, 0x32,                                  /* 7c05 rdmsr */
        0xf4,                                        /* 7c07 hlt */
    };
    static const uint8_t wr[] = { 0x0f, 0x30 };     /* wrmsr */
    FOR_EACH_VENDOR(v) {
        prot(v, unknown, sizeof unknown, false);
        expect_fault(VEC_GP, 0, 0x7c05);
        prot(v, star, sizeof star, true);
        expect_fault(VEC_GP, 0, 0x7c05);
        prot(v, wr, sizeof wr, true);
        set_reg(SVMX_RCX, MSR_STAR);
        expect_fault(VEC_GP, 0, 0x7c00);

        lm(v, star, sizeof star, false);
        set_msr(MSR_STAR, 0x1122334455667788ull);
        set_reg(SVMX_RAX, 0xdeadbeef00000000ull);
        set_reg(SVMX_RDX, 0xdeadbeef00000000ull);
        expect_hlt(0x7c07);
        assert_int_equal(reg(SVMX_RAX), 0x55667788);
        assert_int_equal(reg(SVMX_RDX), 0x11223344);
    }
}

/* --------------------------------------------------- SYSCALL/SYSRET -- */

/* SYSRET to CPL 3 and SYSCALL back in 64-bit mode (SDM Vol. 2B SYSCALL,
 * SYSRET; APM Vol. 3). SS is null at CPL 0 before SYSRET: Intel loads a
 * flat SS, AMD only the selector (and CPL 3 in SS.DPL). */
static void test_syscall_sysret_round_trip(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        /* 7c00 mov ecx,0xc0000080 */
        0xb9, 0x80, 0x00, 0x00, 0xc0,
        0x0f, 0x32,                                  /* 7c05 rdmsr */
        0x83, 0xc8, 0x01,                            /* 7c07 or eax,0x1 */
        0x0f, 0x30,                                  /* 7c0a wrmsr */
        /* 7c0c mov ecx,0xc0000081 */
        0xb9, 0x81, 0x00, 0x00, 0xc0,
        0x31, 0xc0,                                  /* 7c11 xor eax,eax */
        0xba, 0x18, 0x00, 0x23, 0x00,                /* 7c13 mov edx,0x230018 */
        0x0f, 0x30,                                  /* 7c18 wrmsr */
        /* 7c1a mov ecx,0xc0000082 */
        0xb9, 0x82, 0x00, 0x00, 0xc0,
        0xb8, 0x4c, 0x7c, 0x00, 0x00,                /* 7c1f mov eax,0x7c4c */
        0x31, 0xd2,                                  /* 7c24 xor edx,edx */
        0x0f, 0x30,                                  /* 7c26 wrmsr */
        /* 7c28 mov ecx,0xc0000084 */
        0xb9, 0x84, 0x00, 0x00, 0xc0,
        0xb8, 0x00, 0x06, 0x00, 0x00,                /* 7c2d mov eax,0x600 */
        0x0f, 0x30,                                  /* 7c32 wrmsr */
        0x48, 0xc7, 0xc1, 0x44, 0x7c, 0x00, 0x00,    /* 7c34 mov rcx,0x7c44 */
        0x41, 0xbb, 0x02, 0x06, 0x00, 0x00,          /* 7c3b mov r11d,0x602 */
        0x48, 0x0f, 0x07,                            /* 7c41 sysretq */
        0xb8, 0x2a, 0x00, 0x00, 0x00,                /* 7c44 mov eax,0x2a */
        0x0f, 0x05,                                  /* 7c49 syscall */
        0x90,                                        /* 7c4b nop */
        0xf4,                                        /* 7c4c hlt */
    };
    FOR_EACH_VENDOR(v) {
        lm(v, code, sizeof code, false);
        svmx_sregs s = sregs();
        s.seg[SVMX_SS] = (svmx_segment){ .attr = SVMX_SEG_ATTR_UNUSABLE };
        set_sregs(&s);

        expect_budget(18, 0x7c44);
        s = sregs();
        expect_seg(SVMX_CS, 0x33, 0xafb);
        assert_int_equal(s.seg[SVMX_CS].limit, 0xffffffff);
        assert_int_equal(s.seg[SVMX_SS].selector, 0x2b);
        if (v == SVMX_VENDOR_INTEL) {
            assert_int_equal(s.seg[SVMX_SS].attr, 0xcf3);
            assert_int_equal(s.seg[SVMX_SS].limit, 0xffffffff);
        } else {
            assert_int_equal(s.seg[SVMX_SS].attr,
                             SVMX_SEG_ATTR_UNUSABLE | 0x60);
            assert_int_equal(s.seg[SVMX_SS].limit, 0);
        }
        assert_int_equal(rflags(), 0x602);

        expect_hlt(0x7c4c);
        assert_int_equal(reg(SVMX_RAX), 42);
        assert_int_equal(reg(SVMX_RCX), 0x7c4b);
        assert_int_equal(reg(SVMX_R11), 0x602);
        assert_int_equal(rflags(), 0x2); /* IF and DF masked by SFMASK */
        expect_seg(SVMX_CS, 0x18, 0xa9b);
        expect_seg(SVMX_SS, 0x20, 0xc93);
    }
}

/* SYSRET to a non-canonical RCX: Intel faults at CPL 0 (SDM Vol. 2B
 * SYSRET); AMD returns to CPL 3 and the fetch there faults (APM Vol. 3
 * SYSRET has no canonical check), on the ring-0 stack from the TSS. */
static void test_sysret_noncanonical_rcx(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        /* 7c00 movabs rcx,0x800000000000 */
        0x48, 0xb9, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00,
        0x48, 0x0f, 0x07,                            /* 7c0a sysretq */
    };
    FOR_EACH_VENDOR(v) {
        lm(v, code, sizeof code, false);
        svmx_sregs s = sregs();
        s.efer |= 1; /* SCE */
        set_sregs(&s);
        set_msr(MSR_STAR, 0x0023001800000000ull);
        if (v == SVMX_VENDOR_INTEL) {
            expect_fault(VEC_GP, 0, 0x7c0a);
            assert_int_equal(frame_cs(true), 0x18);
            assert_int_equal(reg(SVMX_RSP), 0x7000 - 48);
        } else {
            expect_fault(VEC_GP, 0, 0x0000800000000000ull);
            assert_int_equal(frame_cs(true), 0x33);
            assert_int_equal(reg(SVMX_RSP), RSP0 - 48);
        }
    }
}

/* SYSRET with a 32-bit operand goes to compatibility mode; SYSCALL there
 * is #UD on Intel and enters 64-bit mode at CSTAR on AMD. */
static void test_syscall_compat_mode(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        0xb9, 0x07, 0x7c, 0x00, 0x00,                /* 7c00 mov ecx,0x7c07 */
        0x0f, 0x07,                                  /* 7c05 sysretd */
        0x0f, 0x05,                                  /* 7c07 syscall */
        0xf4,                                        /* 7c09 hlt */
    };
    FOR_EACH_VENDOR(v) {
        lm(v, code, sizeof code, false);
        svmx_sregs s = sregs();
        s.efer |= 1;
        set_sregs(&s);
        set_msr(MSR_STAR, 0x0023001800000000ull);
        set_msr(MSR_CSTAR, 0x7c09);
        set_msr(MSR_LSTAR, 0x8000);
        expect_budget(2, 0x7c07);
        expect_seg(SVMX_CS, 0x23, 0xcfb);
        assert_int_equal(svmx_cpu_mode(m.cpu), SVMX_MODE_COMPAT32);
        if (v == SVMX_VENDOR_INTEL) {
            expect_fault(VEC_UD, NO_ERR, 0x7c07);
            assert_int_equal(frame_cs(false), 0x23);
        } else {
            expect_hlt(0x7c09);
            assert_int_equal(reg(SVMX_RCX), 0x7c09);
            expect_seg(SVMX_CS, 0x18, 0xa9b);
        }
    }
}

/* AMD's legacy-mode SYSCALL/SYSRET (APM Vol. 3): 32-bit protected mode,
 * EIP from STAR[31:0], IF cleared, and back with IF set and only SS's
 * selector (STAR[63:48] + 8) loaded. Intel: #UD. */
static void test_syscall_legacy_mode(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        0x0f, 0x05,                                  /* 7c00 syscall */
        0xf4,                                        /* 7c02 hlt */
        0xb9, 0x02, 0x7c, 0x00, 0x00,                /* 7c03 mov ecx,0x7c02 */
        0x0f, 0x07,                                  /* 7c08 sysret */
    };
    FOR_EACH_VENDOR(v) {
        prot(v, code, sizeof code, true);
        svmx_sregs s = sregs();
        s.efer = 1;
        set_sregs(&s);
        set_msr(MSR_STAR, 0x0020000800007c03ull);
        if (v == SVMX_VENDOR_INTEL) {
            expect_fault(VEC_UD, NO_ERR, 0x7c00);
            continue;
        }
        expect_budget(1, 0x7c03);
        expect_seg(SVMX_CS, 0x08, 0xc9b);
        expect_seg(SVMX_SS, 0x10, 0xc93);
        assert_int_equal(reg(SVMX_RCX), 0x7c02);
        assert_int_equal(rflags(), 0x2);
        expect_budget(2, 0x7c02);
        expect_seg(SVMX_CS, 0x23, 0xcfb);
        expect_seg(SVMX_SS, 0x28, 0xcf3);
        assert_int_equal(rflags(), 0x202);
        assert_int_equal(svmx_cpu_mode(m.cpu), SVMX_MODE_PROT32);
    }
}

/* EFER.SCE = 0 makes SYSCALL and SYSRET #UD before any privilege check;
 * SYSRET at CPL 3 is #GP(0). */
static void test_syscall_sysret_faults(void **state)
{
    (void)state;
    static const uint8_t sc[] = { 0x0f, 0x05 };       /* syscall */
    static const uint8_t sr[] = { 0x48, 0x0f, 0x07 }; /* sysretq */
    FOR_EACH_VENDOR(v) {
        lm(v, sc, sizeof sc, true);
        expect_fault(VEC_UD, NO_ERR, 0x7c00);
        lm(v, sr, sizeof sr, true);
        expect_fault(VEC_UD, NO_ERR, 0x7c00);
        lm(v, sr, sizeof sr, true);
        svmx_sregs s = sregs();
        s.efer |= 1;
        set_sregs(&s);
        expect_fault(VEC_GP, 0, 0x7c00);
    }
}

/* ------------------------------------------------- SYSENTER/SYSEXIT -- */

/* A v86 machine at 0000:7C00 with SS:SP 0000:7000. */
static void v86(svmx_vendor v, const uint8_t *code, size_t n, uint64_t fl)
{
    prot(v, code, n, false);
    svmx_sregs s = sregs();
    for (int i = SVMX_ES; i <= SVMX_GS; i++)
        s.seg[i] = (svmx_segment){ .limit = 0xffff, .attr = 0xf3 };
    set_sregs(&s);
    set_flags(fl | FL(VM) | FL(FIXED));
    assert_int_equal(svmx_cpu_mode(m.cpu), SVMX_MODE_V86);
}

/* #GP(0) from v86 mode, delivered to the ring-0 handler on the TSS
 * stack: the error code, then the EIP of the instruction at `at`, which
 * did not complete, and an EFLAGS image with VM and - a fault - RF set
 * (SDM Vol. 3B 18.3.1.1). */
static void expect_v86_gp(uint64_t at)
{
    svmx_stop st = run(100);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, HANDLER(VEC_GP) + 1);
    assert_int_equal(get(reg(SVMX_RSP), 4), 0);
    assert_int_equal(get(reg(SVMX_RSP) + 4, 4), at);
    assert_int_equal(get(reg(SVMX_RSP) + 12, 4) & (FL(VM) | FL(RF)),
                     FL(VM) | FL(RF));
}


/* 32-bit SYSEXIT to CPL 3 and SYSENTER back (SDM Vol. 2B, APM Vol. 3). */
static void test_sysenter_sysexit(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        0xb9, 0x74, 0x01, 0x00, 0x00,                /* 7c00 mov ecx,0x174 */
        0x31, 0xd2,                                  /* 7c05 xor edx,edx */
        0xb8, 0x08, 0x00, 0x00, 0x00,                /* 7c07 mov eax,0x8 */
        0x0f, 0x30,                                  /* 7c0c wrmsr */
        0xb9, 0x75, 0x01, 0x00, 0x00,                /* 7c0e mov ecx,0x175 */
        0xb8, 0x00, 0x98, 0x00, 0x00,                /* 7c13 mov eax,0x9800 */
        0x0f, 0x30,                                  /* 7c18 wrmsr */
        0xb9, 0x76, 0x01, 0x00, 0x00,                /* 7c1a mov ecx,0x176 */
        0xb8, 0x39, 0x7c, 0x00, 0x00,                /* 7c1f mov eax,0x7c39 */
        0x0f, 0x30,                                  /* 7c24 wrmsr */
        0xb9, 0x00, 0x68, 0x00, 0x00,                /* 7c26 mov ecx,0x6800 */
        0xba, 0x32, 0x7c, 0x00, 0x00,                /* 7c2b mov edx,0x7c32 */
        0x0f, 0x35,                                  /* 7c30 sysexit */
        0xb8, 0x07, 0x00, 0x00, 0x00,                /* 7c32 mov eax,0x7 */
        0x0f, 0x34,                                  /* 7c37 sysenter */
        0xf4,                                        /* 7c39 hlt */
    };
    FOR_EACH_VENDOR(v) {
        prot(v, code, sizeof code, false);
        expect_budget(13, 0x7c32);
        expect_seg(SVMX_CS, 0x1b, 0xcfb);
        expect_seg(SVMX_SS, 0x23, 0xcf3);
        assert_int_equal(reg(SVMX_RSP), 0x6800);
        expect_hlt(0x7c39);
        expect_seg(SVMX_CS, 0x08, 0xc9b);
        expect_seg(SVMX_SS, 0x10, 0xc93);
        assert_int_equal(reg(SVMX_RSP), 0x9800);
        assert_int_equal(reg(SVMX_RAX), 7);
        /* IF cleared; ZF and PF from the XOR kept */
        assert_int_equal(rflags(), FL(FIXED) | FL(ZF) | FL(PF));
    }
}

/* A null IA32_SYSENTER_CS is #GP(0) for both; SYSEXIT at CPL 3 too. */
static void test_sysenter_faults(void **state)
{
    (void)state;
    static const uint8_t enter[] = { 0x0f, 0x34 };
    static const uint8_t leave[] = { 0x0f, 0x35 };
    FOR_EACH_VENDOR(v) {
        prot(v, enter, sizeof enter, true);
        expect_fault(VEC_GP, 0, 0x7c00);
        prot(v, leave, sizeof leave, true);
        set_msr(MSR_SYSENTER_CS, 0x08);
        expect_fault(VEC_GP, 0, 0x7c00);
    }
}

/* Real mode: SYSENTER and SYSEXIT decode and are #GP(0) (SDM Vol. 2B:
 * "IF CR0.PE = 0 ... THEN #GP(0)"; APM Vol. 3), delivered through the
 * IVT; they are not #UD. */
static void test_sysenter_real_mode(void **state)
{
    (void)state;
    static const uint8_t enter[] = { 0x0f, 0x34 };
    static const uint8_t leave[] = { 0x0f, 0x35 };
    FOR_EACH_VENDOR(v) {
        real(v, enter, sizeof enter);
        set_msr(MSR_SYSENTER_CS, 0x08);
        expect_fault(VEC_GP, NO_ERR, 0x7c00);
        real(v, leave, sizeof leave);
        set_msr(MSR_SYSENTER_CS, 0x08);
        expect_fault(VEC_GP, NO_ERR, 0x7c00);
    }
}

/* Virtual-8086 mode: SYSENTER works and leaves v86 mode for ring 0 of
 * protected mode, VM cleared (SDM Vol. 2B SYSENTER: "Virtual-8086 Mode
 * Exceptions: same as protected mode"); with a null SYSENTER_CS it is
 * #GP(0). SYSEXIT is #GP(0) there, CPL being 3. */
static void test_sysenter_v86(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        0x0f, 0x34,                                  /* 7c00 sysenter */
        0xf4,                                        /* 7c02 hlt (ring 0) */
    };
    static const uint8_t leave[] = { 0x0f, 0x35 };
    FOR_EACH_VENDOR(v) {
        v86(v, code, sizeof code, FL(IF));
        set_msr(MSR_SYSENTER_CS, 0x08);
        set_msr(MSR_SYSENTER_ESP, 0x9800);
        set_msr(MSR_SYSENTER_EIP, 0x7c02);
        expect_hlt(0x7c02);
        expect_seg(SVMX_CS, 0x08, 0xc9b);
        expect_seg(SVMX_SS, 0x10, 0xc93);
        assert_int_equal(reg(SVMX_RSP), 0x9800);
        assert_int_equal(rflags(), FL(FIXED)); /* VM and IF cleared */
        assert_int_equal(svmx_cpu_mode(m.cpu), SVMX_MODE_PROT32);

        v86(v, code, sizeof code, FL(IF));
        expect_v86_gp(0x7c00); /* SYSENTER_CS null */

        v86(v, leave, sizeof leave, FL(IF));
        set_msr(MSR_SYSENTER_CS, 0x08);
        expect_v86_gp(0x7c00);
    }
}

/* IA-32e mode: AMD does not know SYSENTER/SYSEXIT there (#UD); Intel
 * enters 64-bit code with the full MSRs, and SYSEXIT with REX.W returns
 * to 64-bit mode at SYSENTER_CS + 32, RCX and RDX canonical. */
static void test_sysenter_long_mode(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        0x0f, 0x34,                                  /* 7c00 sysenter */
        0xf4,                                        /* 7c02 hlt */
        0x48, 0xc7, 0xc1, 0x00, 0x68, 0x00, 0x00,    /* 7c03 mov rcx,0x6800 */
        0x48, 0xc7, 0xc2, 0x14, 0x7c, 0x00, 0x00,    /* 7c0a mov rdx,0x7c14 */
        0x48, 0x0f, 0x35,                            /* 7c11 sysexitq */
        0x90,                                        /* 7c14 nop */
    };
    static const uint8_t bad_exit[] = {
        /* 7c00 movabs rcx,0x800000000000 */
        0x48, 0xb9, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00,
        0x48, 0x0f, 0x35,                            /* 7c0a sysexitq */
    };
    FOR_EACH_VENDOR(v) {
        lm(v, code, sizeof code, true);
        set_msr(MSR_SYSENTER_CS, 0x18);
        set_msr(MSR_SYSENTER_ESP, 0x9800);
        set_msr(MSR_SYSENTER_EIP, 0x7c03);
        if (v == SVMX_VENDOR_AMD) {
            expect_fault(VEC_UD, NO_ERR, 0x7c00);
            continue;
        }
        expect_budget(1, 0x7c03);
        expect_seg(SVMX_CS, 0x18, 0xa9b);
        expect_seg(SVMX_SS, 0x20, 0xc93);
        assert_int_equal(reg(SVMX_RSP), 0x9800);
        expect_budget(3, 0x7c14);
        expect_seg(SVMX_CS, 0x3b, 0xafb);
        expect_seg(SVMX_SS, 0x43, 0xcf3);
        assert_int_equal(reg(SVMX_RSP), 0x6800);
        assert_int_equal(svmx_cpu_mode(m.cpu), SVMX_MODE_LONG64);

        lm(v, bad_exit, sizeof bad_exit, false);
        set_msr(MSR_SYSENTER_CS, 0x18);
        set_reg(SVMX_RDX, 0x7c00);
        expect_fault(VEC_GP, 0, 0x7c0a);
        assert_int_equal(frame_cs(true), 0x18); /* at CPL 0 */
    }
}

/* SWAPGS exchanges GS.base and KERNEL_GS_BASE at CPL 0 (SDM Vol. 2B). */
static void test_swapgs(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        /* 7c00 mov al,BYTE PTR gs:0x0 */
        0x65, 0x8a, 0x04, 0x25, 0x00, 0x00, 0x00, 0x00,
        0x0f, 0x01, 0xf8,                            /* 7c08 swapgs */
        /* 7c0b mov bl,BYTE PTR gs:0x0 */
        0x65, 0x8a, 0x1c, 0x25, 0x00, 0x00, 0x00, 0x00,
        0xf4,                                        /* 7c13 hlt */
    };
    static const uint8_t user[] = { 0x0f, 0x01, 0xf8 };
    FOR_EACH_VENDOR(v) {
        lm(v, code, sizeof code, false);
        svmx_sregs s = sregs();
        s.seg[SVMX_GS].base = 0x500;
        set_sregs(&s);
        set_msr(MSR_KERNEL_GS, 0x600);
        m.ram[0x500] = 0x11;
        m.ram[0x600] = 0x22;
        expect_hlt(0x7c13);
        assert_int_equal(reg(SVMX_RAX) & 0xff, 0x11);
        assert_int_equal(reg(SVMX_RBX) & 0xff, 0x22);
        assert_int_equal(sregs().seg[SVMX_GS].base, 0x600);
        assert_int_equal(msr(MSR_KERNEL_GS), 0x500);
        lm(v, user, sizeof user, true);
        expect_fault(VEC_GP, 0, 0x7c00);
    }
}

/* --------------------------------------------------------- PUSHF/POPF -- */

/*
 * POPF at each CPL/IOPL (SDM Vol. 2B POPF, APM Vol. 3 POPF): push an
 * image, pop it into RFLAGS, and compare after the two instructions.
 */
static void test_popf_privilege(void **state)
{
    (void)state;
    enum { M_REAL, M_KERNEL, M_USER, M_LONG };
    /* 0x3f7ed7: every defined flag but TF, so no single-step follows */
    static const struct {
        const char *what;
        int machine;
        unsigned size;
        uint64_t before, image, after;
    } rows[] = {
        { "CPL 0: all but VM RF VIF VIP", M_KERNEL, 4,
          FL(FIXED) | FL(RF) | FL(VIF), 0x3f7ed7,
          0x247ed7 | FL(VIF) },
        { "CPL 3 = IOPL: IF, not IOPL", M_USER, 4,
          FL(FIXED) | FL(IOPL), FL(IF) | FL(CF) | FL(AC) | FL(ID),
          FL(FIXED) | FL(IOPL) | FL(IF) | FL(CF) | FL(AC) | FL(ID) },
        { "CPL 3 > IOPL: neither IF nor IOPL", M_USER, 4,
          FL(FIXED), FL(IF) | FL(IOPL) | FL(CF) | FL(NT),
          FL(FIXED) | FL(CF) | FL(NT) },
        /* RF is gone either way: the PUSH before the POPF completed, and
         * completing an instruction clears RF (SDM Vol. 3B 18.3.1.1). */
        { "16-bit at CPL 0: bits 15:0 only", M_KERNEL, 2,
          FL(FIXED) | FL(RF) | FL(AC), FL(IOPL) | FL(IF) | FL(CF),
          FL(FIXED) | FL(AC) | FL(IOPL) | FL(IF) | FL(CF) },
        { "16-bit at CPL 3 = IOPL", M_USER, 2,
          FL(FIXED) | FL(IOPL), FL(IF) | FL(ZF),
          FL(FIXED) | FL(IOPL) | FL(IF) | FL(ZF) },
        { "real mode is CPL 0", M_REAL, 2,
          FL(FIXED), FL(IOPL) | FL(IF) | FL(CF),
          FL(FIXED) | FL(IOPL) | FL(IF) | FL(CF) },
        { "POPFQ at CPL 0", M_LONG, 8,
          FL(FIXED) | FL(RF), 0x3f7ed7, 0x247ed7 },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        /* push imm; popf at the row's operand size */
        uint8_t code[8];
        size_t n = 0;
        bool pfx = rows[i].machine == M_REAL ? rows[i].size == 4
                                           : rows[i].size == 2;
        if (pfx)
            code[n++] = 0x66;
        code[n++] = 0x68;
        uint32_t imm = (uint32_t)rows[i].image;
        unsigned isz = rows[i].size == 2 ? 2 : 4;
        memcpy(code + n, &imm, isz);
        n += isz;
        if (pfx)
            code[n++] = 0x66;
        code[n++] = 0x9d;
        print_message("%s\n", rows[i].what);
        switch (rows[i].machine) {
        case M_REAL:   real(SVMX_VENDOR_AMD, code, n); break;
        case M_KERNEL: prot(SVMX_VENDOR_AMD, code, n, false); break;
        case M_USER:   prot(SVMX_VENDOR_INTEL, code, n, true); break;
        default:       lm(SVMX_VENDOR_INTEL, code, n, false); break;
        }
        set_flags(rows[i].before);
        uint64_t sp = reg(SVMX_RSP);
        expect_budget(2, 0x7c00 + n);
        assert_int_equal(rflags(), rows[i].after);
        assert_int_equal(reg(SVMX_RSP), sp);
    }
}

/* Virtual-8086 mode: IOPL 3 lets POPF change IF but not IOPL, and PUSHFD
 * clears VM in the image; IOPL < 3 makes both #GP(0) (no VME). */
static void test_pushf_popf_v86(void **state)
{
    (void)state;
    static const uint8_t popf[] = {
        0x68, 0x01, 0x02,                            /* 7c00 push 0x201 */
        0x9d,                                        /* 7c03 popf */
    };
    static const uint8_t pushfd[] = { 0x66, 0x9c };
    v86(SVMX_VENDOR_AMD, popf, sizeof popf, FL(IOPL));
    expect_budget(2, 0x7c04);
    assert_int_equal(rflags(), FL(VM) | FL(IOPL) | FL(IF) | FL(CF) | FL(FIXED));

    v86(SVMX_VENDOR_AMD, pushfd, sizeof pushfd, FL(IOPL) | FL(IF));
    expect_budget(1, 0x7c02);
    assert_int_equal(get(0x7000 - 4, 4), FL(IOPL) | FL(IF) | FL(FIXED));

    v86(SVMX_VENDOR_AMD, popf, sizeof popf, 0);
    expect_budget(1, 0x7c03);
    expect_v86_gp(0x7c03);
    v86(SVMX_VENDOR_AMD, pushfd, sizeof pushfd, 1ull << 12); /* IOPL 1 */
    expect_v86_gp(0x7c00);
}

/* PUSHF clears VM and RF in the image; the 16-bit form pushes FLAGS. */
static void test_pushf_image(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        0x9c,                                        /* 7c00 pushfd */
        0x66, 0x9c,                                  /* 7c01 pushf */
    };
    static const uint8_t code64[] = { 0x9c };       /* pushfq */
    prot(SVMX_VENDOR_AMD, code, sizeof code, false);
    set_flags(FL(FIXED) | FL(RF) | FL(AC) | FL(IF));
    expect_budget(2, 0x7c03);
    assert_int_equal(reg(SVMX_RSP), 0x7000 - 6);
    assert_int_equal(get(0x7000 - 4, 4), FL(FIXED) | FL(AC) | FL(IF));
    assert_int_equal(get(0x7000 - 6, 2), FL(FIXED) | FL(IF));

    lm(SVMX_VENDOR_INTEL, code64, sizeof code64, false);
    set_flags(FL(FIXED) | FL(RF) | FL(ID));
    expect_budget(1, 0x7c01);
    assert_int_equal(get(0x7000 - 8, 8), FL(FIXED) | FL(ID));
}

/* ------------------------------------------------------------ counters -- */

/* RDTSC returns IA32_TSC, which counts retired instructions; RDTSCP also
 * IA32_TSC_AUX. CR4.TSD makes both #GP(0) above CPL 0 (SDM Vol. 2B). */
static void test_rdtsc(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        0x0f, 0x31,                                  /* 7c00 rdtsc */
        0x0f, 0x01, 0xf9,                            /* 7c02 rdtscp */
    };
    static const uint8_t kernel[] = {
        0x0f, 0x08,                                  /* 7c00 invd */
        0x0f, 0x09,                                  /* 7c02 wbinvd */
        0xf3, 0x0f, 0x09,                            /* 7c04 wbnoinvd */
        0xf3, 0x90,                                  /* 7c07 pause */
        0x0f, 0x31,                                  /* 7c09 rdtsc */
        0xf4,                                        /* 7c0b hlt */
    };
    FOR_EACH_VENDOR(v) {
        prot(v, code, sizeof code, true);
        set_msr(MSR_TSC, 0x100000000ull + 1000);
        set_msr(MSR_TSC_AUX, 0x55);
        expect_budget(1, 0x7c02);
        assert_int_equal(reg(SVMX_RAX), 1000);
        assert_int_equal(reg(SVMX_RDX), 1);
        expect_budget(1, 0x7c05);
        assert_int_equal(reg(SVMX_RAX), 1001);
        assert_int_equal(reg(SVMX_RCX), 0x55);

        prot(v, code, sizeof code, true);
        svmx_sregs s = sregs();
        s.cr4 = 0x4; /* TSD */
        set_sregs(&s);
        expect_fault(VEC_GP, 0, 0x7c00);

        prot(v, kernel, sizeof kernel, false);
        s = sregs();
        s.cr4 = 0x4;
        set_sregs(&s);
        set_msr(MSR_TSC, 0);
        expect_hlt(0x7c0b);
        assert_int_equal(reg(SVMX_RAX), 4);
    }
}

/* RDPMC (APM Vol. 3, SDM Vol. 2B): the AMD personality has PerfCtr0-3
 * (48 bits, holding what WRMSR put there; no event counts), ECX 4 and up
 * is #GP(0); the Intel one advertises no counters: #GP(0) for any index.
 * At CPL 3 without CR4.PCE, #GP(0) before the index matters. */
static void test_rdpmc(void **state)
{
    (void)state;
    static const uint8_t code[] = { 0x0f, 0x33, 0xf4 };
    prot(SVMX_VENDOR_AMD, code, sizeof code, false);
    assert_int_equal(svmx_cpu_set_msr(m.cpu, 0xc0010006, 0xffff123456789abcull),
                     SVMX_OK); /* PerfCtr2: bits 63:48 ignored */
    set_reg(SVMX_RCX, 2);
    svmx_stop st = run(10);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(reg(SVMX_RAX), 0x56789abc);
    assert_int_equal(reg(SVMX_RDX), 0x1234);
    prot(SVMX_VENDOR_AMD, code, sizeof code, false);
    set_reg(SVMX_RCX, 4);
    expect_fault(VEC_GP, 0, 0x7c00);
    prot(SVMX_VENDOR_AMD, code, sizeof code, true);
    set_reg(SVMX_RCX, 0);
    expect_fault(VEC_GP, 0, 0x7c00);
    prot(SVMX_VENDOR_INTEL, code, sizeof code, false);
    set_reg(SVMX_RCX, 0);
    expect_fault(VEC_GP, 0, 0x7c00);
}

/* ---------------------------------------------- XCR0, MONITOR, MWAIT -- */

/* Neither personality has XSAVE (CR4.OSXSAVE cannot be set): XSETBV and
 * XGETBV are #UD; MONITOR/MWAIT and MONITORX/MWAITX are not advertised
 * either: #UD. */
static void test_absent_features_are_ud(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        uint8_t bytes[3];
    } rows[] = {
        { "xsetbv",   { 0x0f, 0x01, 0xd1 } },
        { "xgetbv",   { 0x0f, 0x01, 0xd0 } },
        { "monitor",  { 0x0f, 0x01, 0xc8 } },
        { "mwait",    { 0x0f, 0x01, 0xc9 } },
        { "monitorx", { 0x0f, 0x01, 0xfa } },
        { "mwaitx",   { 0x0f, 0x01, 0xfb } },
    };
    FOR_EACH_VENDOR(v) {
        for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
            print_message("%s: %s\n", svmx_vendor_name(v), rows[i].what);
            prot(v, rows[i].bytes, 3, false);
            set_reg(SVMX_RCX, 0);
            expect_fault(VEC_UD, NO_ERR, 0x7c00);
            assert_int_equal(sregs().xcr0, 1);
        }
    }
}

/* ----------------------------------------- descriptor-table registers -- */

static void put_dtable(uint64_t at, uint16_t limit, uint64_t base,
                       unsigned bsize)
{
    m.ram[at] = (uint8_t)limit;
    m.ram[at + 1] = (uint8_t)(limit >> 8);
    for (unsigned i = 0; i < bsize; i++)
        m.ram[at + 2 + i] = (uint8_t)(base >> (8 * i));
}

/* Real mode: a 16-bit LGDT keeps 24 bits of the base; SGDT with a 16-bit
 * operand stores the full 32-bit base (current SDM Operation section). */
static void test_lgdt_sgdt_16(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        0x0f, 0x01, 0x16, 0x00, 0x05,                /* 7c00 lgdtw ds:0x500 */
        0x0f, 0x01, 0x06, 0x10, 0x05,                /* 7c05 sgdtw ds:0x510 */
        0x66, 0x0f, 0x01, 0x16, 0x00, 0x05,          /* 7c0a lgdtd ds:0x500 */
        0x0f, 0x01, 0x06, 0x20, 0x05,                /* 7c10 sgdtw ds:0x520 */
        0x66, 0x0f, 0x01, 0x1e, 0x30, 0x05,          /* 7c15 lidtd ds:0x530 */
        0x66, 0x0f, 0x01, 0x0e, 0x40, 0x05,          /* 7c1b sidtd ds:0x540 */
        0xf4,                                        /* 7c21 hlt */
    };
    FOR_EACH_VENDOR(v) {
        real(v, code, sizeof code);
        memset(m.ram + 0x500, 0xee, 0x50);
        put_dtable(0x500, 0x1234, 0xaabbccdd, 4);
        put_dtable(0x530, 0x5678, 0x11223344, 4);
        expect_hlt(0x7c21);
        assert_int_equal(get(0x510, 6), 0x00bbccdd1234ull);
        assert_int_equal(m.ram[0x516], 0xee);
        assert_int_equal(get(0x520, 6), 0xaabbccdd1234ull);
        assert_int_equal(get(0x540, 6), 0x112233445678ull);
        assert_int_equal(m.ram[0x546], 0xee);
        svmx_sregs s = sregs();
        assert_int_equal(s.gdt.base, 0xaabbccdd);
        assert_int_equal(s.gdt.limit, 0x1234);
        assert_int_equal(s.idt.base, 0x11223344);
        assert_int_equal(s.idt.limit, 0x5678);
    }
}

/* 32-bit protected mode: 6-byte operands; a 16-bit LGDT there too keeps
 * 24 bits. LGDT at CPL 3 is #GP(0), SGDT is allowed (no UMIP). */
static void test_lgdt_sgdt_32(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        0x0f, 0x01, 0x05, 0x10, 0x05, 0x00, 0x00,    /* 7c00 sgdtd ds:0x510 */
        0x0f, 0x01, 0x15, 0x00, 0x05, 0x00, 0x00,    /* 7c07 lgdtd ds:0x500 */
        0x0f, 0x01, 0x05, 0x20, 0x05, 0x00, 0x00,    /* 7c0e sgdtd ds:0x520 */
        0x0f, 0x01, 0x1d, 0x30, 0x05, 0x00, 0x00,    /* 7c15 lidtd ds:0x530 */
        0x0f, 0x01, 0x0d, 0x40, 0x05, 0x00, 0x00,    /* 7c1c sidtd ds:0x540 */
        /* 7c23 lgdtw ds:0x500 */
        0x66, 0x0f, 0x01, 0x15, 0x00, 0x05, 0x00, 0x00,
        0x0f, 0x01, 0x05, 0x50, 0x05, 0x00, 0x00,    /* 7c2b sgdtd ds:0x550 */
        0xf4,                                        /* 7c32 hlt */
    };
    FOR_EACH_VENDOR(v) {
        prot(v, code, sizeof code, false);
        memset(m.ram + 0x500, 0xee, 0x60);
        put_dtable(0x500, 0x1234, 0xaabbccdd, 4);
        put_dtable(0x530, 0x5678, 0x11223344, 4);
        expect_hlt(0x7c32);
        assert_int_equal(get(0x510, 6), (uint64_t)GDT << 16 | 0x3f);
        assert_int_equal(m.ram[0x516], 0xee);
        assert_int_equal(get(0x520, 6), 0xaabbccdd1234ull);
        assert_int_equal(get(0x540, 6), 0x112233445678ull);
        assert_int_equal(get(0x550, 6), 0x00bbccdd1234ull);
        assert_int_equal(sregs().idt.base, 0x11223344);

        prot(v, code, 14, true); /* sgdt; lgdt at CPL 3 */
        memset(m.ram + 0x510, 0xee, 8);
        put_dtable(0x500, 0x1234, 0xaabbccdd, 4);
        expect_fault(VEC_GP, 0, 0x7c07);
        assert_int_equal(get(0x510, 6), (uint64_t)GDT << 16 | 0x3f);
        assert_int_equal(sregs().gdt.base, GDT);
    }
}

/* 64-bit mode: 10-byte operands, whatever the operand-size prefix; a
 * non-canonical base is #GP(0) and GDTR keeps its value. */
static void test_lgdt_sgdt_64(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        /* 7c00 lgdt ds:0x500 */
        0x0f, 0x01, 0x14, 0x25, 0x00, 0x05, 0x00, 0x00,
        /* 7c08 sgdt ds:0x520 */
        0x0f, 0x01, 0x04, 0x25, 0x20, 0x05, 0x00, 0x00,
        0xf4,                                        /* 7c10 hlt */
    };
    FOR_EACH_VENDOR(v) {
        lm(v, code, sizeof code, false);
        memset(m.ram + 0x500, 0xee, 0x40);
        put_dtable(0x500, 0x0fff, 0xffff800000123000ull, 8);
        expect_hlt(0x7c10);
        assert_int_equal(get(0x520, 2), 0x0fff);
        assert_int_equal(get(0x522, 8), 0xffff800000123000ull);
        assert_int_equal(m.ram[0x52a], 0xee);
        assert_int_equal(sregs().gdt.base, 0xffff800000123000ull);

        lm(v, code, sizeof code, false);
        put_dtable(0x500, 0x0fff, 0x0000800000000000ull, 8);
        expect_fault(VEC_GP, 0, 0x7c00);
        assert_int_equal(sregs().gdt.base, GDT);
        assert_int_equal(sregs().gdt.limit, 0x3f);
    }
}

/* An SGDT that runs into a not-present page faults before it writes a
 * byte of either page (#PF, W, CR2 = the second page). */
static void test_sgdt_page_fault_writes_nothing(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        /* 7c00 sgdt ds:0x200ffa */
        0x0f, 0x01, 0x04, 0x25, 0xfa, 0x0f, 0x20, 0x00,
        0xf4,                                        /* 7c08 hlt */
    };
    lm_with_4k_page(code, sizeof code, 3);
    memset(m.ram + 0x50ff0, 0xee, 0x10);
    expect_fault(VEC_PF, 0x2, 0x7c00);
    assert_int_equal(sregs().cr2, 0x201000);
    for (unsigned i = 0; i < 0x10; i++)
        assert_int_equal(m.ram[0x50ff0 + i], 0xee);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mov_cr_needs_cpl0),
        cmocka_unit_test(test_cr0_values),
        cmocka_unit_test(test_cr4_values),
        cmocka_unit_test(test_cr_64bit_reserved_bits),
        cmocka_unit_test(test_cr3_maxphyaddr_boundary),
        cmocka_unit_test(test_cr8_alt_encoding),
        cmocka_unit_test(test_enter_long_mode),
        cmocka_unit_test(test_long_mode_activation_faults),
        cmocka_unit_test(test_leave_long_mode),
        cmocka_unit_test(test_pae_pdpte_load),
        cmocka_unit_test(test_tlb_flush_on_cr3_reload),
        cmocka_unit_test(test_tlb_global_page_and_invlpg),
        cmocka_unit_test(test_invlpg_segment_base),
        cmocka_unit_test(test_cache_and_tlb_ops_privilege),
        cmocka_unit_test(test_dr_alias_and_fixed_bits),
        cmocka_unit_test(test_dr_general_detect),
        cmocka_unit_test(test_dr_64bit),
        cmocka_unit_test(test_dr_privilege_and_breakpoints),
        cmocka_unit_test(test_clts_lmsw_smsw),
        cmocka_unit_test(test_msw_at_cpl3),
        cmocka_unit_test(test_lmsw_enters_protected_mode),
        cmocka_unit_test(test_wrmsr_rules),
        cmocka_unit_test(test_rdmsr),
        cmocka_unit_test(test_syscall_sysret_round_trip),
        cmocka_unit_test(test_sysret_noncanonical_rcx),
        cmocka_unit_test(test_syscall_compat_mode),
        cmocka_unit_test(test_syscall_legacy_mode),
        cmocka_unit_test(test_syscall_sysret_faults),
        cmocka_unit_test(test_sysenter_sysexit),
        cmocka_unit_test(test_sysenter_faults),
        cmocka_unit_test(test_sysenter_real_mode),
        cmocka_unit_test(test_sysenter_v86),
        cmocka_unit_test(test_sysenter_long_mode),
        cmocka_unit_test(test_swapgs),
        cmocka_unit_test(test_popf_privilege),
        cmocka_unit_test(test_pushf_popf_v86),
        cmocka_unit_test(test_pushf_image),
        cmocka_unit_test(test_rdtsc),
        cmocka_unit_test(test_rdpmc),
        cmocka_unit_test(test_absent_features_are_ud),
        cmocka_unit_test(test_lgdt_sgdt_16),
        cmocka_unit_test(test_lgdt_sgdt_32),
        cmocka_unit_test(test_lgdt_sgdt_64),
        cmocka_unit_test(test_sgdt_page_fault_writes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, fixture_teardown);
}
