/*
 * tests/test_svm_run.c - the SVM world switch, the SVM instructions and
 * the intercepts, driven through svmx_cpu_run on code in RAM.
 *
 * The machine is svm_fixture.h's.
 *
 * References: APM Vol. 2 chapter 15 (sections cited per test), Vol. 3
 * for the SVM instructions, appendix C for the exit codes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "svm_fixture.h"

/* -------------------------------------------------- the world switch -- */

/*
 * L1 sets EFER.SVME itself, runs a guest that executes CPUID under the
 * CPUID intercept: EXITCODE 0x72, RIP of the CPUID, NRIP after it, the
 * guest state in the VMCB, and L1 back after VMRUN (15.5, 15.6, 15.7.1).
 */
static void test_roundtrip_cpuid(void **state)
{
    (void)state;
    /* mov ecx, EFER; rdmsr; or eax, 0x1000; wrmsr; <stub> */
    static const uint8_t l1[] = {
        0xb9, 0x80, 0x00, 0x00, 0xc0, 0x0f, 0x32, 0x0d, 0x00, 0x10, 0x00,
        0x00, 0x0f, 0x30, 0x48, 0xc7, 0xc0, 0x00, 0x40, 0x00, 0x00, 0x0f,
        0x01, 0xd8, 0xf4,
    };
    static const uint8_t guest[] = { 0x0f, 0xa2 }; /* cpuid */
    setup_l1(SVMX_VENDOR_AMD, l1, sizeof l1, guest, sizeof guest, false);
    set_msr(MSR_EFER, EFER_LM); /* L1 sets SVME with WRMSR */
    icpt(SVMX_SVM_INTERCEPT_CPUID);
    vset(SVMX_VMCB_RAX, 0x1234);
    vset(SVMX_VMCB_RFLAGS, 0x2 | 0x1 | 0x40);
    svmx_stop st = run_vm(100);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, 0x7c00 + sizeof l1);
    assert_int_equal(vout(SVMX_VMCB_EXITCODE), SVMX_SVM_EXIT_CPUID);
    assert_int_equal(vout(SVMX_VMCB_EXITINFO1), 0);
    assert_int_equal(vout(SVMX_VMCB_EXITINFO2), 0);
    assert_int_equal(vout(SVMX_VMCB_EXITINTINFO), 0);
    assert_int_equal(vout(SVMX_VMCB_RIP), GCODE);
    assert_int_equal(vout(SVMX_VMCB_NRIP), GCODE + 2);
    assert_int_equal(vout(SVMX_VMCB_RAX), 0x1234);  /* not executed */
    assert_int_equal(vout(SVMX_VMCB_RFLAGS), 0x43);
    assert_int_equal(vout(SVMX_VMCB_RSP), GSTACK);
    assert_int_equal(vout(SVMX_VMCB_CPL), 0);
    assert_int_equal(vout(SVMX_VMCB_CS_SELECTOR), 0x18);
    assert_int_equal(vout(SVMX_VMCB_CS_ATTRIB), 0xa9b);
    assert_int_equal(vout(SVMX_VMCB_CR3), 0x10000);
    assert_int_equal(vout(SVMX_VMCB_CR2), 0x1111);
    assert_int_equal(vout(SVMX_VMCB_EFER), EFER_LM | EFER_SVME);
    assert_int_equal(vout(SVMX_VMCB_IDTR_BASE), GIDT);
    assert_int_equal(reg(SVMX_RAX), VMCB);
    assert_false(events().gif);
    svmx_dregs d;
    svmx_cpu_get_dregs(m.cpu, &d);
    assert_int_equal(d.dr7, 0x400);
    assert_int_equal(sregs().idt.base, IDT);

    /* Not intercepted: the guest runs CPUID and reaches the HLT after. */
    static const uint8_t g2[] = { 0x0f, 0xa2, 0xf4 };
    setup(g2, sizeof g2);
    set_reg(SVMX_RCX, 0);
    vset(SVMX_VMCB_RAX, 0);
    expect_exit(SVMX_SVM_EXIT_HLT, 0, 0, GCODE + 2, GCODE + 3);
    assert_int_equal(vout(SVMX_VMCB_RAX), 7); /* CPUID.0 EAX */
    assert_int_equal(reg(SVMX_RBX) & 0xffffffff, 0x68747541); /* "Auth" */
}

/* Guest GPRs other than RAX and RSP are not switched (15.5.1). */
static void test_gprs_shared(void **state)
{
    (void)state;
    /* add rbx, rcx; mov rsi, 0x5151; hlt */
    static const uint8_t guest[] = { 0x48, 0x01, 0xcb, 0x48, 0xc7, 0xc6,
                                     0x51, 0x51, 0x00, 0x00, 0xf4 };
    setup(guest, sizeof guest);
    set_reg(SVMX_RBX, 0x1000);
    set_reg(SVMX_RCX, 0x234);
    expect_exit(SVMX_SVM_EXIT_HLT, 0, 0, GCODE + 10, GCODE + 11);
    assert_int_equal(reg(SVMX_RBX), 0x1234);
    assert_int_equal(reg(SVMX_RSI), 0x5151);
}

/* ---------------------------------------------------- instruction faults -- */

/* L1 with code `l1` at 0x7C00 and the VMCB; runs it. */
static svmx_stop run_l1(svmx_vendor vendor, const uint8_t *l1, size_t n,
                        bool user)
{
    setup_l1(vendor, l1, n, NULL, 0, user);
    return run_vm(100);
}

/* VMRUN: #UD with EFER.SVME = 0 and on Intel; #GP(0) at CPL 3 and for a
 * rAX not page-aligned, above MAXPHYADDR or (svmx's choice) not in RAM
 * (APM Vol. 3 VMRUN; docs/svm.md). No state changes. */
static void test_vmrun_faults(void **state)
{
    (void)state;
    svmx_stop st;
    setup_l1(SVMX_VENDOR_AMD, l1_stub, sizeof l1_stub, NULL, 0, false);
    set_msr(MSR_EFER, EFER_LM);
    st = run_vm(100);
    expect_l1_fault(&st, 6);
    assert_int_equal(get(reg(SVMX_RSP), 8), L1_VMRUN);

    st = run_l1(SVMX_VENDOR_INTEL, l1_stub, sizeof l1_stub, false);
    expect_l1_fault(&st, 6);

    st = run_l1(SVMX_VENDOR_AMD, l1_stub, sizeof l1_stub, true);
    expect_l1_fault(&st, 13);
    assert_int_equal(get(reg(SVMX_RSP), 8), 0);          /* error code */
    assert_int_equal(get(reg(SVMX_RSP) + 8, 8), L1_VMRUN);

    /* mov rax, imm32 (sign-extended) / movabs; vmrun; hlt */
    static const uint64_t bad[] = { 0x4001, 0x4800, 1ull << 48, 0x200000 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t l1[13] = { 0x48, 0xb8 };
        for (int b = 0; b < 8; b++)
            l1[2 + b] = (uint8_t)(bad[i] >> (8 * b));
        l1[10] = 0x0f, l1[11] = 0x01, l1[12] = 0xd8;
        st = run_l1(SVMX_VENDOR_AMD, l1, sizeof l1, false);
        expect_l1_fault(&st, 13);
        assert_int_equal(get(reg(SVMX_RSP), 8), 0);
        assert_int_equal(get(reg(SVMX_RSP) + 8, 8), 0x7c0a);
        assert_true(events().gif);
    }

    /* 32-bit address size: EAX, the upper half of RAX ignored. */
    static const uint8_t a32[] = { 0x48, 0xb8, 0x00, 0x40, 0, 0, 0x01, 0, 0,
                                   0, 0x67, 0x0f, 0x01, 0xd8, 0xf4 };
    st = run_l1(SVMX_VENDOR_AMD, a32, sizeof a32, false);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(vout(SVMX_VMCB_EXITCODE), SVMX_SVM_EXIT_HLT);
}

/* The other SVM instructions outside guest mode: #UD without SVME (STGI,
 * CLGI, VMLOAD, VMSAVE, INVLPGA), #GP(0) at CPL 3; VMMCALL is #UD with no
 * intercept to take it (R1), SKINIT #UD (not advertised). */
static void test_svm_insn_faults(void **state)
{
    (void)state;
    static const uint8_t ops[][3] = {
        { 0x0f, 0x01, 0xdc }, { 0x0f, 0x01, 0xdd }, { 0x0f, 0x01, 0xda },
        { 0x0f, 0x01, 0xdb }, { 0x0f, 0x01, 0xdf },
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        uint8_t l1[10] = { 0x48, 0xc7, 0xc0, 0x00, 0x50, 0x00, 0x00 };
        memcpy(l1 + 7, ops[i], 3);
        setup_l1(SVMX_VENDOR_AMD, l1, sizeof l1, NULL, 0, false);
        set_msr(MSR_EFER, EFER_LM);
        svmx_stop st = run(10);
        expect_l1_fault(&st, 6);
        svmx_stop st3 = run_l1(SVMX_VENDOR_AMD, l1, sizeof l1, true);
        expect_l1_fault(&st3, 13);
    }
    static const uint8_t vmmcall[] = { 0x0f, 0x01, 0xd9 };
    svmx_stop st = run_l1(SVMX_VENDOR_AMD, vmmcall, 3, false);
    expect_l1_fault(&st, 6);
    st = run_l1(SVMX_VENDOR_INTEL, vmmcall, 3, false);
    expect_l1_fault(&st, 6);
    st = run_l1(SVMX_VENDOR_AMD, vmmcall, 3, true); /* any CPL: still #UD */
    expect_l1_fault(&st, 6);
    static const uint8_t skinit[] = { 0x0f, 0x01, 0xde };
    st = run_l1(SVMX_VENDOR_AMD, skinit, 3, false);
    expect_l1_fault(&st, 6);
}

/* ------------------------------------------------------ VMEXIT_INVALID -- */

/* A consistency check fails: EXITCODE = -1, EXITINFO1/2 = 0 and nothing
 * else written; GIF = 0; L1 goes on after VMRUN with its own state
 * (15.5.1). One representative per kind of check. */
static void test_vmexit_invalid(void **state)
{
    (void)state;
    for (int c = 0; c < 5; c++) {
        setup(NULL, 0);
        vset(SVMX_VMCB_EXITINFO1, 0x77);
        vset(SVMX_VMCB_EVENTINJ, 0x80000b0dull | 0x55ull << 32);
        switch (c) {
        case 0: vset(SVMX_VMCB_EFER, EFER_LM); break;        /* SVME 0 */
        case 1: vset(SVMX_VMCB_CR0, 0xa0000011); break;      /* NW, !CD */
        case 2: vset(SVMX_VMCB_GUEST_ASID, 0); break;
        case 3: svmx_svm_intercept_set(&vm, SVMX_SVM_INTERCEPT_VMRUN, false);
                break;
        case 4: vset(SVMX_VMCB_EVENTINJ, 0x80000100ull); break; /* TYPE 1 */
        }
        svmx_stop st = run_vm(100);
        assert_int_equal(st.reason, SVMX_STOP_HLT);
        assert_int_equal(st.rip, L1_AFTER + 1);
        assert_int_equal(vout(SVMX_VMCB_EXITCODE), UINT64_MAX);
        assert_int_equal(vout(SVMX_VMCB_EXITINFO1), 0);
        assert_int_equal(vout(SVMX_VMCB_EXITINFO2), 0);
        assert_int_equal(vout(SVMX_VMCB_RIP), GCODE);      /* not written */
        assert_int_equal(vout(SVMX_VMCB_EVENTINJ),
                         svmx_vmcb_get(&vm, SVMX_VMCB_EVENTINJ));
        assert_int_equal(reg(SVMX_RAX), VMCB);
        assert_int_equal(sregs().cr3, 0x10000);
        assert_false(events().gif);
    }
}

/* A PAE guest without nested paging: VMRUN loads its PDPTEs, and one with
 * a reserved bit set is an illegal state (15.5.1, docs/svm.md). */
static void test_pae_guest_pdptes(void **state)
{
    (void)state;
    static const uint8_t guest[] = { 0x0f, 0xa2 }; /* cpuid (32-bit) */
    for (int bad = 0; bad < 2; bad++) {
        setup(guest, sizeof guest);
        put64(PDPT, 0x31000 | 1);
        put64(PDPT + 8, bad ? (0x32000 | 1 | 2) : 0);
        put64(0x31000, 0x83);          /* 2 MiB identity page, R/W */
        vset(SVMX_VMCB_EFER, EFER_SVME);
        vset(SVMX_VMCB_CR4, 0x20);
        vset(SVMX_VMCB_CR3, PDPT);
        put_seg(SVMX_VMCB_CS_SELECTOR, 0x08, 0xc9b);
        icpt(SVMX_SVM_INTERCEPT_CPUID);
        if (bad) {
            svmx_stop st = run_vm(100);
            assert_int_equal(st.rip, L1_AFTER + 1);
            assert_int_equal(vout(SVMX_VMCB_EXITCODE), UINT64_MAX);
        } else {
            expect_exit(SVMX_SVM_EXIT_CPUID, 0, 0, GCODE, GCODE + 2);
            assert_int_equal(vout(SVMX_VMCB_CR3), PDPT);
        }
    }
}

/* ------------------------------------------------ instruction intercepts -- */

typedef struct icpt_case {
    const char *name;
    uint8_t  bytes[8];
    uint8_t  len;
    uint16_t intercept;
    uint64_t code;
    uint64_t info1;
} icpt_case;

#define CR_MOV (1ull << 63)
static const icpt_case icpt_cases[] = {
    { "cpuid",   { 0x0f, 0xa2 }, 2, SVMX_SVM_INTERCEPT_CPUID,
      SVMX_SVM_EXIT_CPUID, 0 },
    { "rdtsc",   { 0x0f, 0x31 }, 2, SVMX_SVM_INTERCEPT_RDTSC,
      SVMX_SVM_EXIT_RDTSC, 0 },
    { "rdtscp",  { 0x0f, 0x01, 0xf9 }, 3, SVMX_SVM_INTERCEPT_RDTSCP,
      SVMX_SVM_EXIT_RDTSCP, 0 },
    { "pushfq",  { 0x9c }, 1, SVMX_SVM_INTERCEPT_PUSHF, SVMX_SVM_EXIT_PUSHF, 0 },
    { "popfq",   { 0x9d }, 1, SVMX_SVM_INTERCEPT_POPF, SVMX_SVM_EXIT_POPF, 0 },
    { "iretq",   { 0x48, 0xcf }, 2, SVMX_SVM_INTERCEPT_IRET,
      SVMX_SVM_EXIT_IRET, 0 },
    { "rsm",     { 0x0f, 0xaa }, 2, SVMX_SVM_INTERCEPT_RSM, SVMX_SVM_EXIT_RSM, 0 },
    { "int 80h", { 0xcd, 0x80 }, 2, SVMX_SVM_INTERCEPT_INTN,
      SVMX_SVM_EXIT_SWINT, 0x80 },
    { "invd",    { 0x0f, 0x08 }, 2, SVMX_SVM_INTERCEPT_INVD, SVMX_SVM_EXIT_INVD, 0 },
    { "wbinvd",  { 0x0f, 0x09 }, 2, SVMX_SVM_INTERCEPT_WBINVD,
      SVMX_SVM_EXIT_WBINVD, 0 },
    { "pause",   { 0xf3, 0x90 }, 2, SVMX_SVM_INTERCEPT_PAUSE,
      SVMX_SVM_EXIT_PAUSE, 0 },
    { "invlpg",  { 0x0f, 0x01, 0xbb, 0x34, 0x12, 0x00, 0x00 }, 7,
      SVMX_SVM_INTERCEPT_INVLPG, SVMX_SVM_EXIT_INVLPG, GDATA + 0x1234 },
    { "invlpga", { 0x0f, 0x01, 0xdf }, 3, SVMX_SVM_INTERCEPT_INVLPGA,
      SVMX_SVM_EXIT_INVLPGA, 0 },
    { "vmrun",   { 0x0f, 0x01, 0xd8 }, 3, SVMX_SVM_INTERCEPT_VMRUN,
      SVMX_SVM_EXIT_VMRUN, 0 },
    { "vmmcall", { 0x0f, 0x01, 0xd9 }, 3, SVMX_SVM_INTERCEPT_VMMCALL,
      SVMX_SVM_EXIT_VMMCALL, 0 },
    { "vmload",  { 0x0f, 0x01, 0xda }, 3, SVMX_SVM_INTERCEPT_VMLOAD,
      SVMX_SVM_EXIT_VMLOAD, 0 },
    { "vmsave",  { 0x0f, 0x01, 0xdb }, 3, SVMX_SVM_INTERCEPT_VMSAVE,
      SVMX_SVM_EXIT_VMSAVE, 0 },
    { "stgi",    { 0x0f, 0x01, 0xdc }, 3, SVMX_SVM_INTERCEPT_STGI,
      SVMX_SVM_EXIT_STGI, 0 },
    { "clgi",    { 0x0f, 0x01, 0xdd }, 3, SVMX_SVM_INTERCEPT_CLGI,
      SVMX_SVM_EXIT_CLGI, 0 },
    { "icebp",   { 0xf1 }, 1, SVMX_SVM_INTERCEPT_ICEBP, SVMX_SVM_EXIT_ICEBP, 0 },
    { "sidt",    { 0x0f, 0x01, 0x0b }, 3, SVMX_SVM_INTERCEPT_IDTR_READ,
      SVMX_SVM_EXIT_IDTR_READ, 0 },
    { "sgdt",    { 0x0f, 0x01, 0x03 }, 3, SVMX_SVM_INTERCEPT_GDTR_READ,
      SVMX_SVM_EXIT_GDTR_READ, 0 },
    { "sldt",    { 0x0f, 0x00, 0xc0 }, 3, SVMX_SVM_INTERCEPT_LDTR_READ,
      SVMX_SVM_EXIT_LDTR_READ, 0 },
    { "str",     { 0x0f, 0x00, 0xc8 }, 3, SVMX_SVM_INTERCEPT_TR_READ,
      SVMX_SVM_EXIT_TR_READ, 0 },
    { "lidt",    { 0x0f, 0x01, 0x1b }, 3, SVMX_SVM_INTERCEPT_IDTR_WRITE,
      SVMX_SVM_EXIT_IDTR_WRITE, 0 },
    { "lgdt",    { 0x0f, 0x01, 0x13 }, 3, SVMX_SVM_INTERCEPT_GDTR_WRITE,
      SVMX_SVM_EXIT_GDTR_WRITE, 0 },
    { "lldt",    { 0x0f, 0x00, 0xd0 }, 3, SVMX_SVM_INTERCEPT_LDTR_WRITE,
      SVMX_SVM_EXIT_LDTR_WRITE, 0 },
    { "ltr",     { 0x0f, 0x00, 0xd8 }, 3, SVMX_SVM_INTERCEPT_TR_WRITE,
      SVMX_SVM_EXIT_TR_WRITE, 0 },
    /* decode assists (15.33): bit 63 for MOV CR, the GPR in bits 3:0 */
    { "mov rbx, cr3", { 0x0f, 0x20, 0xdb }, 3, SVMX_SVM_INTERCEPT_CR_READ(3),
      SVMX_SVM_EXIT_CR3_READ, CR_MOV | 3 },
    { "mov cr4, rax", { 0x0f, 0x22, 0xe0 }, 3, SVMX_SVM_INTERCEPT_CR_WRITE(4),
      SVMX_SVM_EXIT_CR4_WRITE, CR_MOV | 0 },
    { "mov rax, cr8", { 0x44, 0x0f, 0x20, 0xc0 }, 4,
      SVMX_SVM_INTERCEPT_CR_READ(8), SVMX_SVM_EXIT_CR8_READ, CR_MOV | 0 },
    { "mov cr0, rbx", { 0x0f, 0x22, 0xc3 }, 3, SVMX_SVM_INTERCEPT_CR_WRITE(0),
      SVMX_SVM_EXIT_CR0_WRITE, CR_MOV | 3 },
    { "smsw eax", { 0x0f, 0x01, 0xe0 }, 3, SVMX_SVM_INTERCEPT_CR_READ(0),
      SVMX_SVM_EXIT_CR0_READ, 0 },
    { "clts",    { 0x0f, 0x06 }, 2, SVMX_SVM_INTERCEPT_CR_WRITE(0),
      SVMX_SVM_EXIT_CR0_WRITE, 0 },
    { "lmsw ax", { 0x0f, 0x01, 0xf0 }, 3, SVMX_SVM_INTERCEPT_CR_WRITE(0),
      SVMX_SVM_EXIT_CR0_WRITE, 0 },
    { "mov dr7, rcx", { 0x0f, 0x23, 0xf9 }, 3, SVMX_SVM_INTERCEPT_DR_WRITE(7),
      SVMX_SVM_EXIT_DR7_WRITE, 1 },
    { "mov rdx, dr0", { 0x0f, 0x21, 0xc2 }, 3, SVMX_SVM_INTERCEPT_DR_READ(0),
      SVMX_SVM_EXIT_DR0_READ, 2 },
};

/* Each instruction intercept (15.9, Table C-1): the exit, its EXITINFO1,
 * RIP of the instruction, NRIP after it (15.7.1); without the bit the same
 * instruction does not take that exit. */
static void test_instruction_intercepts(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof icpt_cases / sizeof icpt_cases[0]; i++) {
        const icpt_case *c = &icpt_cases[i];
        print_message("%s\n", c->name);
        for (int on = 1; on >= 0; on--) {
            if (!on && c->intercept == SVMX_SVM_INTERCEPT_VMRUN)
                break; /* always intercepted */
            setup(c->bytes, c->len);
            m.ram[GCODE + c->len] = 0xf4;
            svmx_svm_intercept_set(&vm, c->intercept, on);
            icpt(SVMX_SVM_INTERCEPT_VMRUN);
            icpt(SVMX_SVM_INTERCEPT_SHUTDOWN);
            set_reg(SVMX_RBX, GDATA);
            vset(SVMX_VMCB_RAX, VMCB2);
            svmx_stop st = run_vm(1000);
            assert_int_equal(st.reason, SVMX_STOP_HLT);
            if (on) {
                assert_int_equal(vout(SVMX_VMCB_EXITCODE), c->code);
                assert_int_equal(vout(SVMX_VMCB_EXITINFO1), c->info1);
                assert_int_equal(vout(SVMX_VMCB_EXITINFO2), 0);
                assert_int_equal(vout(SVMX_VMCB_RIP), GCODE);
                assert_int_equal(vout(SVMX_VMCB_NRIP), GCODE + c->len);
                check_l1_back(&st);
            } else {
                assert_int_not_equal(vout(SVMX_VMCB_EXITCODE), c->code);
            }
        }
    }
}

/* Simple exceptions come before intercepts, operand-value exceptions
 * after (15.9): HLT and MOV CR at CPL 3 are #GP; an MSR that does not
 * exist still exits; VMLOAD's rAX check comes before its intercept
 * (APM Vol. 3 VMLOAD); RSM's intercept before its #UD (15.9). */
static void test_intercept_priority(void **state)
{
    (void)state;
    static const uint8_t hlt[] = { 0xf4 };
    setup(hlt, 1);
    icpt(SVMX_SVM_INTERCEPT_EXCEPTION(13));
    vset(SVMX_VMCB_CPL, 3);
    put_seg(SVMX_VMCB_CS_SELECTOR, 0x3b, 0xafb);
    put_seg(SVMX_VMCB_SS_SELECTOR, 0x2b, 0xcf3);
    expect_exit(SVMX_SVM_EXIT_EXCP(13), 0, 0, GCODE, 0);
    assert_int_equal(vout(SVMX_VMCB_CPL), 3);
    assert_int_equal(vout(SVMX_VMCB_SS_ATTRIB), 0xcf3);

    static const uint8_t movcr4[] = { 0x0f, 0x22, 0xe0 };
    setup(movcr4, 3);
    icpt(SVMX_SVM_INTERCEPT_EXCEPTION(13));
    icpt(SVMX_SVM_INTERCEPT_CR_WRITE(4));
    vset(SVMX_VMCB_RAX, 1ull << 40);         /* a reserved bit: #GP too */
    expect_exit(SVMX_SVM_EXIT_CR4_WRITE, CR_MOV | 0, 0, GCODE, GCODE + 3);
    vset(SVMX_VMCB_CPL, 3);
    put_seg(SVMX_VMCB_CS_SELECTOR, 0x3b, 0xafb);
    put_seg(SVMX_VMCB_SS_SELECTOR, 0x2b, 0xcf3);
    expect_exit(SVMX_SVM_EXIT_EXCP(13), 0, 0, GCODE, 0);

    static const uint8_t vmload[] = { 0x0f, 0x01, 0xda };
    setup(vmload, 3);
    icpt(SVMX_SVM_INTERCEPT_VMLOAD);
    icpt(SVMX_SVM_INTERCEPT_EXCEPTION(13));
    vset(SVMX_VMCB_RAX, VMCB2 + 8);
    expect_exit(SVMX_SVM_EXIT_EXCP(13), 0, 0, GCODE, 0);

    static const uint8_t rsm[] = { 0x0f, 0xaa };
    setup(rsm, 2);
    icpt(SVMX_SVM_INTERCEPT_RSM);
    icpt(SVMX_SVM_INTERCEPT_EXCEPTION(6));
    expect_exit(SVMX_SVM_EXIT_RSM, 0, 0, GCODE, GCODE + 2);
}

/* ------------------------------------------------------------------ IOIO -- */

#define IO_IN     0x1u
#define IO_STR    0x4u
#define IO_REP    0x8u
#define IO_SZ8    0x10u
#define IO_SZ16   0x20u
#define IO_SZ32   0x40u
#define IO_A32    0x100u
#define IO_A64    0x200u
#define IO_SEG(s) ((uint32_t)(s) << 10)
#define IO_PORT(p) ((uint32_t)(p) << 16)

static void iopm_bit(uint32_t bit)
{
    m.ram[IOPM + bit / 8] |= (uint8_t)(1u << (bit % 8));
}

typedef struct io_case {
    const char *name;
    uint8_t  bytes[4];
    uint8_t  len;
    uint16_t dx;
    uint32_t bit;       /* IOPM bit set                                 */
    bool     exits;
    uint32_t info1;
} io_case;

static const io_case io_cases[] = {
    { "out 80h, al", { 0xe6, 0x80 }, 2, 0, 0x80, true,
      IO_PORT(0x80) | IO_SZ8 | IO_A64 },
    { "in al, 80h", { 0xe4, 0x80 }, 2, 0, 0x80, true,
      IO_PORT(0x80) | IO_IN | IO_SZ8 | IO_A64 },
    { "out dx, ax", { 0x66, 0xef }, 2, 0x3f8, 0x3f9, true,
      IO_PORT(0x3f8) | IO_SZ16 | IO_A64 },
    { "out dx, ax (bit below)", { 0x66, 0xef }, 2, 0x3f8, 0x3f7, false, 0 },
    { "in eax, dx", { 0xed }, 1, 0x105, 0x108, true,
      IO_PORT(0x105) | IO_IN | IO_SZ32 | IO_A64 },
    { "in eax, dx (bit above)", { 0xed }, 1, 0x104, 0x108, false, 0 },
    { "in eax, dx at FFFFh", { 0xed }, 1, 0xffff, 0x10002, true,
      IO_PORT(0xffff) | IO_IN | IO_SZ32 | IO_A64 },
    { "outsb", { 0x6e }, 1, 0x80, 0x80, true,
      IO_PORT(0x80) | IO_STR | IO_SZ8 | IO_A64 | IO_SEG(3) },
    { "rep insw", { 0x66, 0xf3, 0x6d }, 3, 0x80, 0x81, true,
      IO_PORT(0x80) | IO_IN | IO_STR | IO_REP | IO_SZ16 | IO_A64 | IO_SEG(0) },
    { "fs: a32 rep outsd", { 0x64, 0x67, 0xf3, 0x6f }, 4, 0x80, 0x83, true,
      IO_PORT(0x80) | IO_STR | IO_REP | IO_SZ32 | IO_A32 | IO_SEG(4) },
};

/* IOIO through the IOPM with the EXITINFO1 of Figure 15-2 (port, one-hot
 * size, address size, segment, string, REP) and EXITINFO2 = NRIP = the
 * next instruction (15.10.2); no string iteration happens. */
static void test_ioio(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof io_cases / sizeof io_cases[0]; i++) {
        const io_case *c = &io_cases[i];
        print_message("%s\n", c->name);
        setup(c->bytes, c->len);
        m.ram[GCODE + c->len] = 0xf4;
        icpt(SVMX_SVM_INTERCEPT_IOIO_PROT);
        iopm_bit(c->bit);
        set_reg(SVMX_RDX, c->dx);
        set_reg(SVMX_RCX, 3);
        set_reg(SVMX_RSI, GDATA);
        set_reg(SVMX_RDI, GDATA);
        if (c->exits) {
            uint64_t next = GCODE + c->len;
            expect_exit(SVMX_SVM_EXIT_IOIO, c->info1, next, GCODE, next);
            assert_int_equal(reg(SVMX_RCX), 3);
            assert_int_equal(reg(SVMX_RSI), GDATA);
            assert_int_equal(m.outs, 0);
        } else {
            expect_exit(SVMX_SVM_EXIT_HLT, 0, 0, GCODE + c->len,
                        GCODE + c->len + 1);
        }
    }
    /* IOIO_PROT clear: the map is not read, the OUT happens. */
    static const uint8_t out[] = { 0xe6, 0x80, 0xf4 };
    setup(out, sizeof out);
    iopm_bit(0x80);
    expect_exit(SVMX_SVM_EXIT_HLT, 0, 0, GCODE + 2, GCODE + 3);
    assert_int_equal(m.outs, 1);
    assert_int_equal(m.out_port[0], 0x80);
}

/* ------------------------------------------------------------------- MSR -- */

static void msrpm_bit(uint32_t msr_index, bool write)
{
    uint32_t byte;
    unsigned bit;
    assert_true(svmx_svm_msrpm_locate(msr_index, &byte, &bit));
    m.ram[MSRPM + byte] |= (uint8_t)(1u << (bit + write));
}

/* RDMSR/WRMSR through the MSRPM: a bit in each of the three ranges, the
 * read bit not catching WRMSR, MSRs outside the ranges always
 * intercepted, EXITINFO1 0 read / 1 write (15.11). */
static void test_msrpm(void **state)
{
    (void)state;
    static const struct {
        uint32_t msr;
        bool     write, bit_write, exits;
    } cases[] = {
        { 0x174, false, false, true },        /* SYSENTER_CS read        */
        { 0x174, true, false, false },        /* its read bit only       */
        { 0xc0000081u, true, true, true },    /* STAR write              */
        { 0xc0000081u, false, true, false },  /* ... its write bit only  */
        { 0xc0010117u, false, false, true },  /* VM_HSAVE_PA read        */
        { 0x00001fffu, true, true, true },    /* the last of range 0     */
        { 0x40000000u, false, false, true },  /* outside: always         */
        { 0xc0002000u, true, false, true },
    };
    static const uint8_t rd[] = { 0x0f, 0x32, 0xf4 }, wr[] = { 0x0f, 0x30, 0xf4 };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setup(cases[i].write ? wr : rd, 3);
        icpt(SVMX_SVM_INTERCEPT_MSR_PROT);
        if (svmx_svm_msrpm_locate(cases[i].msr, NULL, NULL))
            msrpm_bit(cases[i].msr, cases[i].bit_write);
        set_reg(SVMX_RCX, cases[i].msr);
        set_reg(SVMX_RDX, 0);
        vset(SVMX_VMCB_RAX, cases[i].msr == 0x174 ? 0x8 : HSAVE);
        uint64_t before = cases[i].msr == 0x174 ? msr(0x174) : 0;
        if (cases[i].exits) {
            expect_exit(SVMX_SVM_EXIT_MSR, cases[i].write, 0, GCODE, GCODE + 2);
            if (cases[i].msr == 0x174) /* not executed */
                assert_int_equal(msr(0x174), before);
        } else {
            expect_exit(SVMX_SVM_EXIT_HLT, 0, 0, GCODE + 2, GCODE + 3);
            if (cases[i].msr == 0x174) /* the WRMSR happened */
                assert_int_equal(msr(0x174), 0x8);
        }
    }
    /* MSR_PROT clear: no exit even for an MSR outside the ranges (#GP). */
    setup(rd, 3);
    set_reg(SVMX_RCX, 0x40000000u);
    icpt(SVMX_SVM_INTERCEPT_EXCEPTION(13));
    expect_exit(SVMX_SVM_EXIT_EXCP(13), 0, 0, GCODE, 0);
}

/* ------------------------------------------------------------ exceptions -- */

/* Exception intercepts (15.12): the exception exits instead of being
 * delivered; EXITINFO1 the error code, EXITINFO2 the #PF address with the
 * guest's CR2 untouched, the instruction bytes for #PF (15.33); INT3's
 * #BP reports NRIP; not intercepted, the guest's IDT delivers it. */
static void test_exception_intercepts(void **state)
{
    (void)state;
    static const uint8_t ud2[] = { 0x0f, 0x0b };
    setup(ud2, 2);
    icpt(SVMX_SVM_INTERCEPT_EXCEPTION(6));
    expect_exit(SVMX_SVM_EXIT_EXCP(6), 0, 0, GCODE, 0);

    setup(ud2, 2); /* not intercepted: delivered through the guest IDT */
    expect_exit(SVMX_SVM_EXIT_HLT, 0, 0, GHANDLER(6), GHANDLER(6) + 1);
    assert_int_equal(gframe(0), GCODE);
    assert_int_equal(gframe(1), 0x18);

    static const uint8_t movds[] = { 0x8e, 0xd8 }; /* mov ds, eax (TSS) */
    setup(movds, 2);
    icpt(SVMX_SVM_INTERCEPT_EXCEPTION(13));
    vset(SVMX_VMCB_RAX, 0x30);
    expect_exit(SVMX_SVM_EXIT_EXCP(13), 0x30, 0, GCODE, 0);

    static const uint8_t load[] = { 0x48, 0x8b, 0x03 }; /* mov rax, [rbx] */
    setup(load, 3);
    icpt(SVMX_SVM_INTERCEPT_EXCEPTION(14));
    set_reg(SVMX_RBX, 0x200000); /* beyond the 2 MiB identity map */
    expect_exit(SVMX_SVM_EXIT_EXCP(14), 0, 0x200000, GCODE, 0);
    assert_int_equal(vout(SVMX_VMCB_CR2), 0x1111);
    assert_int_equal(vout(SVMX_VMCB_GUEST_INSTR_BYTES_COUNT) & 0xf, 15);
    assert_int_equal(m.ram[VMCB + SVMX_VMCB_GUEST_INSTR_BYTES], 0x48);
    assert_int_equal(m.ram[VMCB + SVMX_VMCB_GUEST_INSTR_BYTES + 2], 0x03);
    setup(load, 3); /* not intercepted: CR2 written, #PF delivered */
    set_reg(SVMX_RBX, 0x200000);
    expect_exit(SVMX_SVM_EXIT_HLT, 0, 0, GHANDLER(14), GHANDLER(14) + 1);
    assert_int_equal(vout(SVMX_VMCB_CR2), 0x200000);
    assert_int_equal(gframe(0), 0);
    assert_int_equal(gframe(1), GCODE);

    static const uint8_t int3[] = { 0xcc };
    setup(int3, 1);
    icpt(SVMX_SVM_INTERCEPT_EXCEPTION(3));
    expect_exit(SVMX_SVM_EXIT_EXCP(3), 0, 0, GCODE, GCODE + 1);
}

/* Faults during delivery (15.7.2): the second exception exits before it
 * can form #DF, with the first in EXITINTINFO; #DF itself can be
 * intercepted, with the event whose delivery made it; a triple fault is
 * #VMEXIT(SHUTDOWN) when intercepted (15.14.3), else a shutdown. */
static void test_delivery_faults(void **state)
{
    (void)state;
    static const uint8_t ud2[] = { 0x0f, 0x0b };
    /* #UD through an IDT of limit 0: #GP(6*8+2+1) while delivering it. */
    setup(ud2, 2);
    vset(SVMX_VMCB_IDTR_LIMIT, 0);
    icpt(SVMX_SVM_INTERCEPT_EXCEPTION(13));
    expect_exit(SVMX_SVM_EXIT_EXCP(13), 0x33, 0, GCODE, 0);
    assert_int_equal(vout(SVMX_VMCB_EXITINTINFO), 0x80000306ull);

    setup(ud2, 2); /* #UD, then #GP(0x33), whose delivery makes #DF */
    vset(SVMX_VMCB_IDTR_LIMIT, 0);
    icpt(SVMX_SVM_INTERCEPT_EXCEPTION(8));
    expect_exit(SVMX_SVM_EXIT_EXCP(8), 0, 0, GCODE, 0);
    assert_int_equal(vout(SVMX_VMCB_EXITINTINFO),
                     0x80000b0dull | 0x33ull << 32);

    setup(ud2, 2);
    vset(SVMX_VMCB_IDTR_LIMIT, 0);
    icpt(SVMX_SVM_INTERCEPT_SHUTDOWN);
    expect_exit(SVMX_SVM_EXIT_SHUTDOWN, 0, 0, GCODE, 0);

    setup(ud2, 2);
    vset(SVMX_VMCB_IDTR_LIMIT, 0);
    svmx_stop st = run_vm(100);
    assert_int_equal(st.reason, SVMX_STOP_SHUTDOWN);
}

/* -------------------------------------------------------- event injection -- */

/* EVENTINJ (15.20): an exception with its error code through the guest
 * IDT; an INTn whose return address is NRIP; EVENTINJ's V bit clears at
 * the next #VMEXIT; a fault while delivering an injected event is
 * intercepted with the event in EXITINTINFO. */
static void test_eventinj(void **state)
{
    (void)state;
    setup(NULL, 0);
    vset(SVMX_VMCB_EVENTINJ, 0x80000b0dull | 0x1234ull << 32);
    expect_exit(SVMX_SVM_EXIT_HLT, 0, 0, GHANDLER(13), GHANDLER(13) + 1);
    assert_int_equal(gframe(0), 0x1234);
    assert_int_equal(gframe(1), GCODE);
    assert_int_equal(gframe(3), 0x2); /* as it is: no RF (fault.h) */
    assert_int_equal(vout(SVMX_VMCB_EVENTINJ), 0x00000b0dull | 0x1234ull << 32);
    assert_int_equal(vout(SVMX_VMCB_EXITINTINFO), 0);

    setup(NULL, 0); /* #UD with EV: an injected error code is pushed */
    vset(SVMX_VMCB_EVENTINJ, 0x80000b06ull | 0x77ull << 32);
    expect_exit(SVMX_SVM_EXIT_HLT, 0, 0, GHANDLER(6), GHANDLER(6) + 1);
    assert_int_equal(gframe(0), 0x77);
    assert_int_equal(gframe(1), GCODE);

    setup(NULL, 0); /* INT 80h: the return address is NRIP */
    vset(SVMX_VMCB_EVENTINJ, 0x80000480ull);
    vset(SVMX_VMCB_NRIP, GCODE + 2);
    expect_exit(SVMX_SVM_EXIT_HLT, 0, 0, GHANDLER(0x80), GHANDLER(0x80) + 1);
    assert_int_equal(gframe(0), GCODE + 2);

    setup(NULL, 0); /* NRIP anywhere: it is what is pushed */
    vset(SVMX_VMCB_EVENTINJ, 0x80000480ull);
    vset(SVMX_VMCB_NRIP, 0x12345);
    expect_exit(SVMX_SVM_EXIT_HLT, 0, 0, GHANDLER(0x80), GHANDLER(0x80) + 1);
    assert_int_equal(gframe(0), 0x12345);

    setup(NULL, 0); /* #BP (TYPE 3, vector 3) also returns to NRIP */
    vset(SVMX_VMCB_EVENTINJ, 0x80000303ull);
    vset(SVMX_VMCB_NRIP, GCODE + 1);
    expect_exit(SVMX_SVM_EXIT_HLT, 0, 0, GHANDLER(3), GHANDLER(3) + 1);
    assert_int_equal(gframe(0), GCODE + 1);

    setup(NULL, 0); /* ... whose gate is beyond the IDT limit: #GP(0x402) */
    vset(SVMX_VMCB_EVENTINJ, 0x80000480ull);
    vset(SVMX_VMCB_NRIP, GCODE + 2);
    vset(SVMX_VMCB_IDTR_LIMIT, 0x7ff);
    icpt(SVMX_SVM_INTERCEPT_EXCEPTION(13));
    expect_exit(SVMX_SVM_EXIT_EXCP(13), 0x402, 0, GCODE, 0);
    assert_int_equal(vout(SVMX_VMCB_EXITINTINFO), 0x80000480ull);
    assert_int_equal(vout(SVMX_VMCB_EVENTINJ), 0x480);

    setup(NULL, 0); /* an injected #PF whose IDT is not mapped: #PF */
    vset(SVMX_VMCB_EVENTINJ, 0x80000b0eull | 0x2ull << 32);
    vset(SVMX_VMCB_IDTR_BASE, 0x200000);
    icpt(SVMX_SVM_INTERCEPT_EXCEPTION(14));
    expect_exit(SVMX_SVM_EXIT_EXCP(14), 0, 0x200000 + 14 * 16, GCODE, 0);
    assert_int_equal(vout(SVMX_VMCB_EXITINTINFO),
                     0x80000b0eull | 0x2ull << 32);
    assert_int_equal(vout(SVMX_VMCB_CR2), 0x1111);

    setup(NULL, 0); /* an injected exception is not intercepted itself */
    vset(SVMX_VMCB_EVENTINJ, 0x80000306ull);
    icpt(SVMX_SVM_INTERCEPT_EXCEPTION(6));
    expect_exit(SVMX_SVM_EXIT_HLT, 0, 0, GHANDLER(6), GHANDLER(6) + 1);

    setup(NULL, 0); /* NMI: vector ignored, NMIs blocked after */
    vset(SVMX_VMCB_EVENTINJ, 0x800002ffull);
    expect_exit(SVMX_SVM_EXIT_HLT, 0, 0, GHANDLER(2), GHANDLER(2) + 1);
    assert_true(events().nmi_masked);
}

/* --------------------------------------------------------- VMLOAD/VMSAVE -- */

/* VMSAVE writes FS, GS, TR, LDTR with their hidden state and the
 * syscall/sysenter MSRs, and nothing else; VMLOAD loads them back
 * (15.5.2). */
static void test_vmload_vmsave(void **state)
{
    (void)state;
    /* mov rax, 0x5000; vmsave; hlt; vmload; hlt */
    static const uint8_t l1[] = { 0x48, 0xc7, 0xc0, 0x00, 0x50, 0x00, 0x00,
                                  0x0f, 0x01, 0xdb, 0xf4, 0x0f, 0x01, 0xda,
                                  0xf4 };
    setup_l1(SVMX_VENDOR_AMD, l1, sizeof l1, NULL, 0, false);
    memset(m.ram + VMCB2, 0xab, 0x1000);
    svmx_sregs s = sregs();
    s.seg[SVMX_FS] = (svmx_segment){ 0x12345678, 0xfff, 0x2b, 0xcf3 };
    s.seg[SVMX_GS] = (svmx_segment){ 0xffff800000001000ull, 0x1ffff, 0x10, 0x493 };
    s.seg[SVMX_LDTR] = (svmx_segment){ 0x7000, 0x27, 0x40, 0x82 };
    assert_int_equal(svmx_cpu_set_sregs(m.cpu, &s), SVMX_OK);
    set_msr(0xc0000102u, 0xffff800000002000ull);
    set_msr(0xc0000081u, 0x0023001000000000ull);
    set_msr(0xc0000082u, 0xffff800000003000ull);
    set_msr(0xc0000083u, 0x4000);
    set_msr(0xc0000084u, 0x4700);
    set_msr(0x174, 0x10);
    set_msr(0x175, 0x6000);
    set_msr(0x176, 0x7000);
    svmx_stop st = run(10);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, 0x7c0b);
    svmx_vmcb v;
    memcpy(v.bytes, m.ram + VMCB2, sizeof v.bytes);
    assert_int_equal(svmx_vmcb_get(&v, SVMX_VMCB_FS_BASE), 0x12345678);
    assert_int_equal(svmx_vmcb_get(&v, SVMX_VMCB_FS_LIMIT), 0xfff);
    assert_int_equal(svmx_vmcb_get(&v, SVMX_VMCB_FS_ATTRIB), 0xcf3);
    assert_int_equal(svmx_vmcb_get(&v, SVMX_VMCB_FS_SELECTOR), 0x2b);
    assert_int_equal(svmx_vmcb_get(&v, SVMX_VMCB_GS_BASE), 0xffff800000001000ull);
    assert_int_equal(svmx_vmcb_get(&v, SVMX_VMCB_TR_SELECTOR), 0x30);
    assert_int_equal(svmx_vmcb_get(&v, SVMX_VMCB_TR_BASE), TSS);
    assert_int_equal(svmx_vmcb_get(&v, SVMX_VMCB_LDTR_BASE), 0x7000);
    assert_int_equal(svmx_vmcb_get(&v, SVMX_VMCB_KERNEL_GS_BASE),
                     0xffff800000002000ull);
    assert_int_equal(svmx_vmcb_get(&v, SVMX_VMCB_STAR), 0x0023001000000000ull);
    assert_int_equal(svmx_vmcb_get(&v, SVMX_VMCB_LSTAR), 0xffff800000003000ull);
    assert_int_equal(svmx_vmcb_get(&v, SVMX_VMCB_CSTAR), 0x4000);
    assert_int_equal(svmx_vmcb_get(&v, SVMX_VMCB_SFMASK), 0x4700);
    assert_int_equal(svmx_vmcb_get(&v, SVMX_VMCB_SYSENTER_CS), 0x10);
    assert_int_equal(svmx_vmcb_get(&v, SVMX_VMCB_SYSENTER_ESP), 0x6000);
    assert_int_equal(svmx_vmcb_get(&v, SVMX_VMCB_SYSENTER_EIP), 0x7000);
    assert_int_equal(m.ram[VMCB2 + SVMX_VMCB_ES_SELECTOR], 0xab); /* untouched */
    assert_int_equal(m.ram[VMCB2 + SVMX_VMCB_RIP], 0xab);

    /* VMLOAD of other values */
    svmx_vmcb_set(&v, SVMX_VMCB_FS_BASE, 0xabc000);
    svmx_vmcb_set(&v, SVMX_VMCB_GS_SELECTOR, 0x33);
    svmx_vmcb_set(&v, SVMX_VMCB_TR_LIMIT, 0x2067);
    svmx_vmcb_set(&v, SVMX_VMCB_LSTAR, 0x1234000);
    svmx_vmcb_set(&v, SVMX_VMCB_SYSENTER_EIP, 0x9abc);
    memcpy(m.ram + VMCB2, v.bytes, sizeof v.bytes);
    wake();
    st = run(10);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, 0x7c0f);
    s = sregs();
    assert_int_equal(s.seg[SVMX_FS].base, 0xabc000);
    assert_int_equal(s.seg[SVMX_FS].attr, 0xcf3);
    assert_int_equal(s.seg[SVMX_GS].selector, 0x33);
    assert_int_equal(s.seg[SVMX_TR].limit, 0x2067);
    assert_int_equal(msr(0xc0000082u), 0x1234000);
    assert_int_equal(msr(0x176), 0x9abc);
    assert_int_equal(msr(0xc0000081u), 0x0023001000000000ull);
}

/* ------------------------------------------------------------ GIF, events -- */

/* CLGI holds an NMI until STGI (15.17): it is taken right after STGI. */
static void test_gif_holds_nmi(void **state)
{
    (void)state;
    /* clgi; nop; stgi; nop; hlt */
    static const uint8_t l1[] = { 0x0f, 0x01, 0xdd, 0x90, 0x0f, 0x01, 0xdc,
                                  0x90, 0xf4 };
    setup_l1(SVMX_VENDOR_AMD, l1, sizeof l1, NULL, 0, false);
    svmx_stop st;
    assert_int_equal(svmx_cpu_step(m.cpu, &st), SVMX_OK);
    assert_false(events().gif);
    svmx_cpu_inject_nmi(m.cpu);
    assert_int_equal(svmx_cpu_step(m.cpu, &st), SVMX_OK); /* nop */
    assert_true(events().nmi_pending);
    st = run(10);
    expect_l1_fault(&st, 2);
    assert_int_equal(get(reg(SVMX_RSP), 8), 0x7c07);     /* after STGI */
    assert_true(events().gif);
}

/* A guest that spins in `jmp $`, run for a while. */
static const uint8_t spin[] = { 0xeb, 0xfe };

static svmx_stop spin_guest(void)
{
    svmx_stop st = run_vm(50);
    assert_int_equal(st.reason, SVMX_STOP_BUDGET);
    assert_int_equal(st.rip, GCODE);
    return st;
}

/* INTR and NMI in guest mode (15.13, 15.21.1): intercepted, they exit and
 * stay pending for the host, held by GIF = 0; with V_INTR_MASKING the
 * host's IF decides for INTR, without it the guest's. */
static void test_intr_nmi_intercepts(void **state)
{
    (void)state;
    setup(spin, 2);
    icpt(SVMX_SVM_INTERCEPT_NMI);
    spin_guest();
    svmx_cpu_inject_nmi(m.cpu);
    svmx_stop st = run(100);
    check_exit(&st, SVMX_SVM_EXIT_NMI, 0, 0, GCODE, 0);
    assert_true(events().nmi_pending);

    /* V_INTR_MASKING = 1: guest IF = 0, host IF = 1 -> exit */
    setup(spin, 2);
    icpt(SVMX_SVM_INTERCEPT_INTR);
    vset(SVMX_VMCB_V_INTR_MASKING, SVMX_VMCB_V_INTR_MASKING_BIT);
    spin_guest();
    svmx_cpu_inject_irq(m.cpu, 0x40);
    st = run(100);
    check_exit(&st, SVMX_SVM_EXIT_INTR, 0, 0, GCODE, 0);
    assert_true(events().irq_pending);

    /* V_INTR_MASKING = 0 and guest IF = 0: held */
    setup(spin, 2);
    icpt(SVMX_SVM_INTERCEPT_INTR);
    spin_guest();
    svmx_cpu_inject_irq(m.cpu, 0x40);
    st = run(100);
    assert_int_equal(st.reason, SVMX_STOP_BUDGET);
    assert_int_equal(st.rip, GCODE);

    /* not intercepted, guest IF = 1: delivered through the guest's IDT */
    setup(spin, 2);
    vset(SVMX_VMCB_RFLAGS, 0x202);
    spin_guest();
    svmx_cpu_inject_irq(m.cpu, 0x40);
    st = run(100);
    check_exit(&st, SVMX_SVM_EXIT_HLT, 0, 0, GHANDLER(0x40),
               GHANDLER(0x40) + 1);
    assert_int_equal(gframe(0), GCODE);
}

/* Virtual interrupts (15.21.4): V_IRQ is taken through the guest's IDT
 * when IF = 1 and V_INTR_PRIO > the guest's TPR (or V_IGN_TPR); V_IRQ is
 * then clear in the VMCB; the VINTR intercept exits instead, V_IRQ still
 * set; V_TPR is CR8 under V_INTR_MASKING. */
static void test_virtual_interrupts(void **state)
{
    (void)state;
    static const uint8_t guest[] = { 0x90, 0x0f, 0xa2 }; /* nop; cpuid */
    for (int c = 0; c < 4; c++) {
        setup(guest, sizeof guest);
        icpt(SVMX_SVM_INTERCEPT_CPUID);
        vset(SVMX_VMCB_RFLAGS, 0x202);
        vset(SVMX_VMCB_V_IRQ, SVMX_VMCB_V_IRQ_BIT);
        vset(SVMX_VMCB_V_INTR_VECTOR, 0x50);
        vset(SVMX_VMCB_V_INTR_PRIO, 2);
        vset(SVMX_VMCB_V_INTR_MASKING, SVMX_VMCB_V_INTR_MASKING_BIT);
        switch (c) {
        case 0:
            expect_exit(SVMX_SVM_EXIT_HLT, 0, 0, GHANDLER(0x50),
                        GHANDLER(0x50) + 1);
            assert_int_equal(gframe(0), GCODE);
            assert_int_equal(vout(SVMX_VMCB_V_IRQ) & 1, 0);
            break;
        case 1:
            icpt(SVMX_SVM_INTERCEPT_VINTR);
            expect_exit(SVMX_SVM_EXIT_VINTR, 0, 0, GCODE, 0);
            assert_int_equal(vout(SVMX_VMCB_V_IRQ) & 1, 1);
            break;
        case 2: /* V_TPR 2: not above; CR8 read is V_TPR */
            vset(SVMX_VMCB_V_TPR, 2);
            expect_exit(SVMX_SVM_EXIT_CPUID, 0, 0, GCODE + 1, GCODE + 3);
            assert_int_equal(vout(SVMX_VMCB_V_IRQ) & 1, 1);
            assert_int_equal(vout(SVMX_VMCB_V_TPR), 2);
            assert_int_equal(sregs().cr8, 0); /* the host's TPR is back */
            break;
        case 3:
            vset(SVMX_VMCB_V_TPR, 2);
            vset(SVMX_VMCB_V_INTR_PRIO, 2 | SVMX_VMCB_V_IGN_TPR_BIT);
            expect_exit(SVMX_SVM_EXIT_HLT, 0, 0, GHANDLER(0x50),
                        GHANDLER(0x50) + 1);
            break;
        }
    }
}

/* ------------------------------------------------------------ the rest -- */

/* TSC_OFFSET is added to what the guest's RDTSC reads (Table B-1). */
static void test_tsc_offset(void **state)
{
    (void)state;
    static const uint8_t guest[] = { 0x0f, 0x31, 0xf4 }; /* rdtsc; hlt */
    setup(guest, sizeof guest);
    const uint64_t off = 1ull << 40;
    vset(SVMX_VMCB_TSC_OFFSET, off);
    expect_exit(SVMX_SVM_EXIT_HLT, 0, 0, GCODE + 2, GCODE + 3);
    uint64_t g = (reg(SVMX_RDX) & 0xffffffff) << 32 |
                 (vout(SVMX_VMCB_RAX) & 0xffffffff);
    uint64_t host = msr(0x10);
    assert_true(g >= off && g - off < host && host - (g - off) < 10);
}

/* The selective CR0 write intercept (15.9 Table 15-7): MOV to CR0 that
 * changes only TS or MP does not exit, one that changes another bit does;
 * LMSW always does; CLTS never; the plain CR0 write intercept wins. */
static void test_cr0_selective(void **state)
{
    (void)state;
    static const uint8_t mov[] = { 0x0f, 0x22, 0xc3, 0xf4 }; /* mov cr0, rbx */
    static const uint8_t lmsw[] = { 0x0f, 0x01, 0xf0, 0xf4 };
    static const uint8_t clts[] = { 0x0f, 0x06, 0xf4 };
    setup(mov, sizeof mov);
    icpt(SVMX_SVM_INTERCEPT_CR0_SEL_WRITE);
    set_reg(SVMX_RBX, 0x80000011 | 0x8 | 0x2); /* TS, MP */
    expect_exit(SVMX_SVM_EXIT_HLT, 0, 0, GCODE + 3, GCODE + 4);
    assert_int_equal(vout(SVMX_VMCB_CR0), 0x8000001b);
    set_reg(SVMX_RBX, 0x80010011); /* WP */
    expect_exit(SVMX_SVM_EXIT_CR0_SEL_WRITE, CR_MOV | 3, 0, GCODE, GCODE + 3);
    icpt(SVMX_SVM_INTERCEPT_CR_WRITE(0));
    expect_exit(SVMX_SVM_EXIT_CR0_WRITE, CR_MOV | 3, 0, GCODE, GCODE + 3);

    setup(lmsw, sizeof lmsw);
    icpt(SVMX_SVM_INTERCEPT_CR0_SEL_WRITE);
    vset(SVMX_VMCB_RAX, 0x11); /* the same low bits */
    expect_exit(SVMX_SVM_EXIT_CR0_SEL_WRITE, 0, 0, GCODE, GCODE + 3);

    setup(clts, sizeof clts);
    icpt(SVMX_SVM_INTERCEPT_CR0_SEL_WRITE);
    vset(SVMX_VMCB_CR0, 0x80000019);
    expect_exit(SVMX_SVM_EXIT_HLT, 0, 0, GCODE + 2, GCODE + 3);
    assert_int_equal(vout(SVMX_VMCB_CR0), 0x80000011);
}

/* Intercepts of features the personality does not advertise are ignored
 * (routing-rules.md 1.1): XSETBV and RDPRU raise #UD, SKINIT too. VMMCALL
 * not intercepted is #UD in the guest (15.18, R1). */
static void test_unadvertised_and_vmmcall(void **state)
{
    (void)state;
    static const struct { uint8_t b[3]; unsigned icpt; } cases[] = {
        { { 0x0f, 0x01, 0xd1 }, SVMX_SVM_INTERCEPT_XSETBV },
        { { 0x0f, 0x01, 0xfd }, SVMX_SVM_INTERCEPT_RDPRU },
        { { 0x0f, 0x01, 0xde }, SVMX_SVM_INTERCEPT_SKINIT },
        { { 0x0f, 0x01, 0xd9 }, SVMX_SVM_INTERCEPT_RDPRU }, /* vmmcall */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setup(cases[i].b, 3);
        icpt(cases[i].icpt);
        icpt(SVMX_SVM_INTERCEPT_EXCEPTION(6));
        expect_exit(SVMX_SVM_EXIT_EXCP(6), 0, 0, GCODE, 0);
    }
}

/* Task switches in a 32-bit guest (15.14.1): far JMP and CALL to a TSS
 * exit with the TSS selector and the reason; not intercepted, the model
 * stops UNSUPPORTED (task switches are not modelled). */
static void test_task_switch(void **state)
{
    (void)state;
    static const uint8_t jmp[] = { 0xea, 0, 0, 0, 0, 0x30, 0x00 };
    static const uint8_t call[] = { 0x9a, 0, 0, 0, 0, 0x30, 0x00 };
    for (int c = 0; c < 3; c++) {
        setup(c == 1 ? call : jmp, 7);
        vset(SVMX_VMCB_EFER, EFER_SVME);
        vset(SVMX_VMCB_CR0, 0x11);
        put_seg(SVMX_VMCB_CS_SELECTOR, 0x08, 0xc9b);
        if (c < 2) {
            icpt(SVMX_SVM_INTERCEPT_TASK_SWITCH);
            expect_exit(SVMX_SVM_EXIT_TASK_SWITCH, 0x30,
                        c == 0 ? 1ull << 38 : 0, GCODE, GCODE + 7);
        } else {
            svmx_stop st = run_vm(100);
            assert_int_equal(st.reason, SVMX_STOP_UNSUPPORTED);
            assert_int_equal(st.rip, GCODE);
        }
    }
    /* IRET with NT: the back link of the current TSS, reason IRET */
    static const uint8_t iret[] = { 0xcf };
    setup(iret, 1);
    vset(SVMX_VMCB_EFER, EFER_SVME);
    vset(SVMX_VMCB_CR0, 0x11);
    vset(SVMX_VMCB_RFLAGS, 0x2 | SVMX_RFLAGS_NT);
    put_seg(SVMX_VMCB_CS_SELECTOR, 0x08, 0xc9b);
    m.ram[TSS] = 0x38;
    icpt(SVMX_SVM_INTERCEPT_TASK_SWITCH);
    expect_exit(SVMX_SVM_EXIT_TASK_SWITCH, 0x38, 1ull << 36, GCODE, GCODE + 1);
}

/* A 32-bit guest reports a 32-bit address size in IOIO (Figure 15-2). */
static void test_ioio_guest32(void **state)
{
    (void)state;
    static const uint8_t out[] = { 0xe6, 0x80 };
    setup(out, 2);
    vset(SVMX_VMCB_EFER, EFER_SVME);
    vset(SVMX_VMCB_CR0, 0x11);
    put_seg(SVMX_VMCB_CS_SELECTOR, 0x08, 0xc9b);
    icpt(SVMX_SVM_INTERCEPT_IOIO_PROT);
    iopm_bit(0x80);
    expect_exit(SVMX_SVM_EXIT_IOIO, IO_PORT(0x80) | IO_SZ8 | IO_A32,
                GCODE + 2, GCODE, GCODE + 2);
}

/* Single-stepping VMRUN: VMRUN completes at #VMEXIT, so the host's #DB
 * comes then, before its next instruction (routing-rules.md 1.6); the
 * guest ran without TF. */
static void test_vmrun_single_step(void **state)
{
    (void)state;
    /* mov rax, 0x4000; pushfq; or qword [rsp], 0x100; popfq; vmrun; hlt */
    static const uint8_t l1[] = { 0x48, 0xc7, 0xc0, 0x00, 0x40, 0x00, 0x00,
                                  0x9c, 0x48, 0x81, 0x0c, 0x24, 0x00, 0x01,
                                  0x00, 0x00, 0x9d, 0x0f, 0x01, 0xd8, 0xf4 };
    static const uint8_t guest[] = { 0x90, 0x90, 0xf4 };
    setup_l1(SVMX_VENDOR_AMD, l1, sizeof l1, guest, sizeof guest, false);
    svmx_stop st = run_vm(100);
    expect_l1_fault(&st, 1);
    assert_int_equal(get(reg(SVMX_RSP), 8), 0x7c14); /* the HLT */
    assert_int_equal(vout(SVMX_VMCB_EXITCODE), SVMX_SVM_EXIT_HLT);
    assert_int_equal(vout(SVMX_VMCB_RIP), GCODE + 2);
    svmx_dregs d;
    svmx_cpu_get_dregs(m.cpu, &d);
    assert_true(d.dr6 & 0x4000); /* BS */
}

/* A halted guest (HLT not intercepted) is woken by an intercepted INTR:
 * #VMEXIT(INTR) with the RIP after the HLT, and L1 runs (15.13). */
static void test_hlt_then_intr(void **state)
{
    (void)state;
    static const uint8_t hlt[] = { 0xf4 };
    setup(hlt, 1);
    svmx_svm_intercept_set(&vm, SVMX_SVM_INTERCEPT_HLT, false);
    icpt(SVMX_SVM_INTERCEPT_INTR);
    vset(SVMX_VMCB_RFLAGS, 0x202);
    svmx_stop st = run_vm(100);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, GCODE + 1);
    svmx_cpu_inject_irq(m.cpu, 0x30);
    st = run(100);
    check_exit(&st, SVMX_SVM_EXIT_INTR, 0, 0, GCODE + 1, 0);
}

/* SMI in guest mode: #VMEXIT(SMI) when intercepted (15.13); otherwise
 * the model, which has no SMM, stops UNSUPPORTED as outside guest mode. */
static void test_smi(void **state)
{
    (void)state;
    for (int on = 1; on >= 0; on--) {
        setup(spin, 2);
        if (on)
            icpt(SVMX_SVM_INTERCEPT_SMI);
        spin_guest();
        svmx_events e = events();
        e.smi_pending = true;
        assert_int_equal(svmx_cpu_set_events(m.cpu, &e), SVMX_OK);
        svmx_stop st = run(100);
        if (on) {
            check_exit(&st, SVMX_SVM_EXIT_SMI, 0, 0, GCODE, 0);
            assert_true(events().smi_pending);
        } else {
            assert_int_equal(st.reason, SVMX_STOP_UNSUPPORTED);
        }
    }
}

/* ------------------------------------------------------------- INIT -- */

/* The firmware ROM at the top of the 4 GiB space, where INIT starts the
 * CPU (FFFF_FFF0h): every byte a HLT. */
static svmx_status rom_read(void *ctx, uint64_t gpa, unsigned size,
                            uint64_t *value)
{
    (void)ctx, (void)size;
    *value = gpa >= 0xffff0000u ? 0xf4f4f4f4f4f4f4f4ull : ~0ull;
    return SVMX_OK;
}

/* The router's decisions about INIT (the route hook). */
static unsigned init_routed;
static svmx_decision init_decision;

static void init_hook(void *opaque, const svmx_decision *d)
{
    (void)opaque;
    if (d->exit.code == SVMX_SVM_EXIT_INIT) {
        init_routed++;
        init_decision = *d;
    }
}

static void init_machine(void)
{
    m.io.mmio_read = rom_read;
    init_routed = 0;
    assert_int_equal(svmx_cpu_set_route_hook(m.cpu, init_hook, NULL),
                     SVMX_OK);
}

/* INIT taken: the CPU runs the HLT at F000:FFF0 in real mode. */
static void expect_init_state(const svmx_stop *st)
{
    assert_int_equal(st->reason, SVMX_STOP_HLT);
    assert_int_equal(st->rip, 0xfff1);
    svmx_sregs s = sregs();
    assert_int_equal(s.seg[SVMX_CS].selector, 0xf000);
    assert_int_equal(s.seg[SVMX_CS].base, 0xffff0000u);
    assert_int_equal(s.efer, 0);
    assert_int_equal(svmx_cpu_mode(m.cpu), SVMX_MODE_REAL);
    assert_false(events().init_pending);
}

/*
 * The INIT intercept (15.13.4, 15.21.8 Table 15-12): #VMEXIT(INIT) at the
 * guest's instruction boundary, EXITINFO1/2 0, NRIP 0, RIP the guest's,
 * "INIT is still pending"; GIF = 0 after #VMEXIT holds it while L1 runs,
 * until L1's STGI, after which it is taken ("remains pending until the
 * VMM sets GIF ... at which point it either takes effect ...").
 */
static void test_init_intercept(void **state)
{
    (void)state;
    /* mov rax, VMCB; vmrun; nop; stgi; hlt */
    static const uint8_t l1[] = { 0x48, 0xc7, 0xc0, 0x00, 0x40, 0x00, 0x00,
                                  0x0f, 0x01, 0xd8, 0x90, 0x0f, 0x01, 0xdc,
                                  0xf4 };
    setup_l1(SVMX_VENDOR_AMD, l1, sizeof l1, spin, 2, false);
    init_machine();
    icpt(SVMX_SVM_INTERCEPT_INIT);
    spin_guest();
    assert_int_equal(svmx_cpu_inject_init(m.cpu), SVMX_OK);
    svmx_stop st;
    assert_int_equal(svmx_cpu_step(m.cpu, &st), SVMX_OK); /* exit, L1's nop */
    assert_int_equal(vout(SVMX_VMCB_EXITCODE), SVMX_SVM_EXIT_INIT);
    assert_int_equal(vout(SVMX_VMCB_EXITINFO1), 0);
    assert_int_equal(vout(SVMX_VMCB_EXITINFO2), 0);
    assert_int_equal(vout(SVMX_VMCB_RIP), GCODE);
    assert_int_equal(vout(SVMX_VMCB_NRIP), 0);
    assert_int_equal(init_routed, 1);
    assert_int_equal(init_decision.route, SVMX_ROUTE_REFLECT);
    assert_int_equal(init_decision.exit.level, SVMX_LEVEL_L2);
    assert_int_equal(rip(), L1_AFTER + 1);
    assert_false(events().gif);
    assert_true(events().init_pending);
    assert_int_equal(sregs().efer, EFER_LM | EFER_SVME);

    assert_int_equal(svmx_cpu_step(m.cpu, &st), SVMX_OK); /* stgi */
    assert_true(events().gif);
    assert_true(events().init_pending);
    st = run(10);
    expect_init_state(&st);
    assert_int_equal(st.insns, 1);
    assert_int_equal(init_routed, 1); /* L1's INIT: no policy, no route */
}

/*
 * Without the intercept (and R_INIT clear) the INIT is "taken normally"
 * (Table 15-12) in guest mode: INIT clears EFER, SVME with it, so the CPU
 * leaves guest mode with no #VMEXIT - nothing written to the VMCB - and
 * enters the INIT state (docs/svm.md; KVM leaves nested mode the same
 * way). The router saw it (ARCH, from L2). The PAT MSR is the host's
 * again: under nested paging the guest's was G_PAT. The HLT at FFFF_FFF0h,
 * intercepted in the guest, halts the CPU: it is out of guest mode.
 */
static void test_init_not_intercepted(void **state)
{
    (void)state;
    setup(spin, 2);
    init_machine();
    vset(SVMX_VMCB_EXITCODE, 0x1234);                  /* never written */
    vset(SVMX_VMCB_NP_ENABLE, SVMX_VMCB_NP_ENABLE_BIT);
    vset(SVMX_VMCB_N_CR3, 0x10000);                    /* L1's identity map */
    vset(SVMX_VMCB_G_PAT, 0x0404040404040404ull);
    set_msr(0x277, 0x0606060606060606ull);
    spin_guest();
    assert_int_equal(msr(0x277), 0x0404040404040404ull); /* G_PAT */
    uint64_t tsc = msr(0x10);
    svmx_cpu_inject_init(m.cpu);
    svmx_stop st = run(100);
    expect_init_state(&st);
    assert_int_equal(st.insns, 1);
    assert_int_equal(vout(SVMX_VMCB_EXITCODE), 0x1234);
    assert_int_equal(vout(SVMX_VMCB_RIP), GCODE);
    assert_int_equal(init_routed, 1);
    assert_int_equal(init_decision.route, SVMX_ROUTE_ARCH);
    assert_int_equal(init_decision.exit.level, SVMX_LEVEL_L2);
    assert_int_equal(msr(0x277), 0x0606060606060606ull);
    assert_int_equal(msr(0x10), tsc + 1);               /* TSC kept */
    assert_true(events().gif);
    assert_int_equal(msr(MSR_HSAVE), HSAVE);            /* an MSR: kept */
}

/*
 * VM_CR.R_INIT in guest mode (15.21.8 Table 15-12): without the INIT
 * intercept the INIT becomes #SX in the guest, "INIT is no longer
 * pending" - delivered through the guest's IDT, or taken by the #SX
 * exception intercept with EXITINFO1 = the error code 1 (15.12.20); the
 * INIT intercept comes first and leaves the INIT pending.
 */
static void test_init_redirected_in_guest(void **state)
{
    (void)state;
    for (int c = 0; c < 3; c++) {
        setup(spin, 2);
        init_machine();
        set_msr(0xc0010114u, 2);                        /* R_INIT */
        if (c == 1)
            icpt(SVMX_SVM_INTERCEPT_EXCEPTION(30));
        if (c == 2)
            icpt(SVMX_SVM_INTERCEPT_INIT);
        spin_guest();
        svmx_cpu_inject_init(m.cpu);
        svmx_stop st = run(100);
        switch (c) {
        case 0:
            check_exit(&st, SVMX_SVM_EXIT_HLT, 0, 0, GHANDLER(30),
                       GHANDLER(30) + 1);
            assert_false(events().init_pending);
            break;
        case 1:
            check_exit(&st, SVMX_SVM_EXIT_EXCP(30), 1, 0, GCODE, 0);
            assert_false(events().init_pending);
            break;
        case 2:
            check_exit(&st, SVMX_SVM_EXIT_INIT, 0, 0, GCODE, 0);
            assert_true(events().init_pending);
            break;
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_roundtrip_cpuid, fixture_teardown),
        cmocka_unit_test_teardown(test_gprs_shared, fixture_teardown),
        cmocka_unit_test_teardown(test_vmrun_faults, fixture_teardown),
        cmocka_unit_test_teardown(test_svm_insn_faults, fixture_teardown),
        cmocka_unit_test_teardown(test_vmexit_invalid, fixture_teardown),
        cmocka_unit_test_teardown(test_pae_guest_pdptes, fixture_teardown),
        cmocka_unit_test_teardown(test_instruction_intercepts, fixture_teardown),
        cmocka_unit_test_teardown(test_intercept_priority, fixture_teardown),
        cmocka_unit_test_teardown(test_ioio, fixture_teardown),
        cmocka_unit_test_teardown(test_msrpm, fixture_teardown),
        cmocka_unit_test_teardown(test_exception_intercepts, fixture_teardown),
        cmocka_unit_test_teardown(test_delivery_faults, fixture_teardown),
        cmocka_unit_test_teardown(test_eventinj, fixture_teardown),
        cmocka_unit_test_teardown(test_vmload_vmsave, fixture_teardown),
        cmocka_unit_test_teardown(test_gif_holds_nmi, fixture_teardown),
        cmocka_unit_test_teardown(test_intr_nmi_intercepts, fixture_teardown),
        cmocka_unit_test_teardown(test_virtual_interrupts, fixture_teardown),
        cmocka_unit_test_teardown(test_tsc_offset, fixture_teardown),
        cmocka_unit_test_teardown(test_cr0_selective, fixture_teardown),
        cmocka_unit_test_teardown(test_unadvertised_and_vmmcall, fixture_teardown),
        cmocka_unit_test_teardown(test_task_switch, fixture_teardown),
        cmocka_unit_test_teardown(test_ioio_guest32, fixture_teardown),
        cmocka_unit_test_teardown(test_vmrun_single_step, fixture_teardown),
        cmocka_unit_test_teardown(test_hlt_then_intr, fixture_teardown),
        cmocka_unit_test_teardown(test_smi, fixture_teardown),
        cmocka_unit_test_teardown(test_init_intercept, fixture_teardown),
        cmocka_unit_test_teardown(test_init_not_intercepted, fixture_teardown),
        cmocka_unit_test_teardown(test_init_redirected_in_guest,
                                  fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
