/*
 * tests/test_exec_events.c - events at instruction boundaries, through
 * the public API: injected external interrupts and NMIs, the STI and
 * MOV SS shadows, HLT and its wake-up, GIF, the single-step trap, a
 * pending exception set through svmx_cpu_set_events, and the TSC tick.
 * Real mode keeps the frames easy to read: the IVT handler of each vector
 * is a HLT at 0x9000 + vector * 16.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "exec_fixture.h"

#define HANDLER(v) (0x9000u + (v) * 16u)

/* Real mode with an IVT whose every entry points at HALT-ing handlers. */
static void boot(svmx_vendor vendor, const uint8_t *code, size_t n)
{
    boot_real(vendor, code, n);
    for (unsigned v = 0; v < 256; v++) {
        uint32_t off = HANDLER(v) & 0xffff, seg = (HANDLER(v) >> 16) << 12;
        put64(v * 4, (uint64_t)(seg << 16 | off) | (uint64_t)get(v * 4 + 4, 4) << 32);
        m.ram[HANDLER(v)] = 0xf4;
    }
}

static svmx_events events(void)
{
    svmx_events e;
    assert_int_equal(svmx_cpu_get_events(m.cpu, &e), SVMX_OK);
    return e;
}

static void set_events(const svmx_events *e)
{
    assert_int_equal(svmx_cpu_set_events(m.cpu, e), SVMX_OK);
}

static void set_if(bool on)
{
    svmx_regs r;
    svmx_cpu_get_regs(m.cpu, &r);
    r.rflags = on ? (r.rflags | SVMX_RFLAGS_IF) : (r.rflags & ~SVMX_RFLAGS_IF);
    svmx_cpu_set_regs(m.cpu, &r);
}

/* The real-mode frame at SS:SP: IP, CS, FLAGS. */
static uint16_t frame_ip(void) { return (uint16_t)get(reg(SVMX_RSP), 2); }
static uint16_t frame_flags(void) { return (uint16_t)get(reg(SVMX_RSP) + 4, 2); }

static const uint8_t nops[] = { 0x90, 0x90, 0x90, 0x90, 0xf4 };

/* An interrupt waiting with IF = 1 is taken before the next instruction;
 * the frame holds that instruction's IP (SDM Vol. 3A 6.9). */
static void test_irq_taken_at_boundary(void **state)
{
    (void)state;
    boot(SVMX_VENDOR_AMD, nops, sizeof nops);
    set_if(true);
    svmx_stop st = run(2);
    assert_int_equal(st.reason, SVMX_STOP_BUDGET);
    assert_int_equal(svmx_cpu_inject_irq(m.cpu, 0x20), SVMX_OK);
    st = run(0);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, HANDLER(0x20) + 1);
    assert_int_equal(frame_ip(), 0x7c02);
    assert_int_equal(frame_flags() & SVMX_RFLAGS_IF, SVMX_RFLAGS_IF);
    assert_false(rflags() & SVMX_RFLAGS_IF);
    assert_false(events().irq_pending);
}

/* IF = 0 holds the interrupt; STI opens it after one more instruction
 * (SDM Vol. 2B STI). */
static void test_irq_after_sti_shadow(void **state)
{
    (void)state;
    const uint8_t code[] = { 0x90, 0xfb, 0x90, 0x90, 0xf4 }; /* nop; sti; nop; nop */
    boot(SVMX_VENDOR_INTEL, code, sizeof code);
    set_if(false);
    assert_int_equal(svmx_cpu_inject_irq(m.cpu, 0x30), SVMX_OK);
    svmx_stop st = run(0);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, HANDLER(0x30) + 1);
    assert_int_equal(frame_ip(), 0x7c03); /* after the NOP that follows STI */
    assert_int_equal(st.insns, 4);        /* nop, sti, nop, then the handler's hlt */
}

/* An STI shadow set by the embedder holds INTR; a MOV SS shadow holds
 * NMI as well; neither lasts beyond one instruction. */
static void test_shadows_hold_events(void **state)
{
    (void)state;
    boot(SVMX_VENDOR_AMD, nops, sizeof nops);
    set_if(true);
    svmx_events e = events();
    e.shadow = SVMX_SHADOW_STI;
    e.irq_pending = true;
    e.irq_vector = 0x21;
    set_events(&e);
    svmx_stop st = run(1);
    assert_int_equal(st.reason, SVMX_STOP_BUDGET);
    assert_int_equal(rip(), 0x7c01); /* the NOP ran first */
    assert_true(events().irq_pending);
    assert_int_equal(events().shadow, 0);
    run(0);
    assert_int_equal(frame_ip(), 0x7c01);

    boot(SVMX_VENDOR_AMD, nops, sizeof nops);
    e = events();
    e.shadow = SVMX_SHADOW_MOVSS;
    set_events(&e);
    assert_int_equal(svmx_cpu_inject_nmi(m.cpu), SVMX_OK);
    st = run(1);
    assert_int_equal(rip(), 0x7c01);
    assert_true(events().nmi_pending);
    st = run(0);
    assert_int_equal(st.rip, HANDLER(2) + 1);
    assert_int_equal(frame_ip(), 0x7c01);

    /* An STI shadow does not hold NMI. */
    boot(SVMX_VENDOR_AMD, nops, sizeof nops);
    e = events();
    e.shadow = SVMX_SHADOW_STI;
    set_events(&e);
    svmx_cpu_inject_nmi(m.cpu);
    st = run(0);
    assert_int_equal(st.rip, HANDLER(2) + 1);
    assert_int_equal(frame_ip(), 0x7c00);
}

/* HLT stops the run; an interrupt wakes it and the frame holds the IP
 * after HLT (SDM Vol. 2A HLT). With IF = 0 the CPU stays halted. */
static void test_hlt_wakeup(void **state)
{
    (void)state;
    const uint8_t code[] = { 0xf4, 0x90, 0xf4 };
    boot(SVMX_VENDOR_AMD, code, sizeof code);
    set_if(false);
    svmx_stop st = run(0);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, 0x7c01);
    assert_int_equal(events().activity, SVMX_ACTIVITY_HLT);

    svmx_cpu_inject_irq(m.cpu, 0x40);
    st = run(0);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.insns, 0);       /* nothing ran: IF = 0 */
    assert_int_equal(st.rip, 0x7c01);

    set_if(true);
    st = run(0);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, HANDLER(0x40) + 1);
    assert_int_equal(frame_ip(), 0x7c01);
    assert_int_equal(st.insns, 1);
}

/* NMI ignores IF; a second NMI waits while the first one's handler runs
 * (SDM Vol. 3A 6.7.1); NMIs merge into one pending. */
static void test_nmi_blocking(void **state)
{
    (void)state;
    boot(SVMX_VENDOR_INTEL, nops, sizeof nops);
    set_if(false);
    svmx_cpu_inject_nmi(m.cpu);
    svmx_cpu_inject_nmi(m.cpu);
    svmx_stop st = run(0);
    assert_int_equal(st.rip, HANDLER(2) + 1);
    assert_int_equal(frame_ip(), 0x7c00);
    svmx_events e = events();
    assert_true(e.nmi_masked);
    assert_false(e.nmi_pending);

    svmx_cpu_inject_nmi(m.cpu);
    st = run(0);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.insns, 0);
    assert_true(events().nmi_pending);
}

/* GIF = 0 holds NMI and INTR, also in HLT (APM Vol. 2 15.17.1). */
static void test_gif_holds_events(void **state)
{
    (void)state;
    boot(SVMX_VENDOR_AMD, nops, sizeof nops);
    set_if(true);
    svmx_events e = events();
    e.gif = false;
    set_events(&e);
    svmx_cpu_inject_irq(m.cpu, 0x50);
    svmx_cpu_inject_nmi(m.cpu);
    svmx_stop st = run(0);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, 0x7c05);
    e = events();
    assert_true(e.irq_pending && e.nmi_pending);
    e.gif = true;
    set_events(&e);
    st = run(0);
    assert_int_equal(st.rip, HANDLER(2) + 1);  /* NMI before INTR */
}

/* The single-step trap: #DB after each instruction that began with
 * TF = 1, DR6.BS set, the frame pointing at the next instruction
 * (SDM Vol. 3B 18.3.1.4); delivery clears TF, so the handler runs. */
static void test_single_step(void **state)
{
    (void)state;
    boot(SVMX_VENDOR_AMD, nops, sizeof nops);
    svmx_regs r;
    svmx_cpu_get_regs(m.cpu, &r);
    r.rflags |= SVMX_RFLAGS_TF;
    svmx_cpu_set_regs(m.cpu, &r);
    svmx_stop st = run(0);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, HANDLER(1) + 1);
    assert_int_equal(frame_ip(), 0x7c01);
    assert_int_equal(frame_flags() & SVMX_RFLAGS_TF, SVMX_RFLAGS_TF);
    assert_false(rflags() & SVMX_RFLAGS_TF);
    svmx_dregs d;
    svmx_cpu_get_dregs(m.cpu, &d);
    assert_int_equal(d.dr6 & 0x4000, 0x4000);
}

/* A faulting instruction gets its fault, not a single-step trap. */
static void test_single_step_fault_wins(void **state)
{
    (void)state;
    const uint8_t code[] = { 0x0f, 0x0b }; /* ud2 */
    boot(SVMX_VENDOR_AMD, code, sizeof code);
    svmx_regs r;
    svmx_cpu_get_regs(m.cpu, &r);
    r.rflags |= SVMX_RFLAGS_TF;
    svmx_cpu_set_regs(m.cpu, &r);
    svmx_stop st = run(0);
    assert_int_equal(st.rip, HANDLER(6) + 1);
    assert_int_equal(frame_ip(), 0x7c00);
}

/* An exception set pending through the event state is delivered first,
 * with its error code, even with IF = 0. */
static void test_pending_exception(void **state)
{
    (void)state;
    boot(SVMX_VENDOR_INTEL, nops, sizeof nops);
    svmx_events e = events();
    e.exc_pending = true;
    e.exc_vector = 14;
    e.exc_has_error = true;
    e.exc_error = 2;
    e.exc_payload = 0xdeadb000;
    set_events(&e);
    svmx_stop st = run(0);
    assert_int_equal(st.rip, HANDLER(14) + 1);
    assert_int_equal(frame_ip(), 0x7c00); /* real mode: no error code */
    svmx_sregs s;
    svmx_cpu_get_sregs(m.cpu, &s);
    assert_int_equal(s.cr2, 0xdeadb000);
    assert_false(events().exc_pending);
}

/* SMM is not modelled: a deliverable SMI stops the run and says so. */
static void test_smi_unsupported(void **state)
{
    (void)state;
    boot(SVMX_VENDOR_AMD, nops, sizeof nops);
    svmx_events e = events();
    e.smi_pending = true;
    set_events(&e);
    svmx_stop st = run(0);
    assert_int_equal(st.reason, SVMX_STOP_UNSUPPORTED);
    assert_non_null(st.what);
    assert_int_equal(rip(), 0x7c00);
}

static void test_inject_arguments_and_tsc(void **state)
{
    (void)state;
    assert_int_equal(svmx_cpu_inject_irq(NULL, 1), SVMX_E_ARG);
    assert_int_equal(svmx_cpu_inject_nmi(NULL), SVMX_E_ARG);
    boot(SVMX_VENDOR_AMD, nops, sizeof nops);
    assert_int_equal(svmx_cpu_inject_irq(m.cpu, 0x20), SVMX_OK);
    assert_int_equal(svmx_cpu_inject_irq(m.cpu, 0x21), SVMX_E_STATE);
    assert_int_equal(events().irq_vector, 0x20);
    uint64_t t0, t1;
    assert_int_equal(svmx_cpu_get_msr(m.cpu, 0x10, &t0), SVMX_OK);
    run(3);
    assert_int_equal(svmx_cpu_get_msr(m.cpu, 0x10, &t1), SVMX_OK);
    assert_int_equal(t1 - t0, 3);
}

/* An interrupt taken between two chunks of a REP string instruction: the
 * frame points at the instruction, which resumes where it stopped, and
 * the pushed EFLAGS has RF = 1 (SDM Vol. 3B 18.3.1.1). */
static void test_irq_between_rep_iterations(void **state)
{
    (void)state;
    /* mov ecx, 40000; mov edi, 0x20000; rep stosb; hlt */
    const uint8_t code[] = { 0xb9, 0x40, 0x9c, 0x00, 0x00, 0xbf, 0x00, 0x00,
                             0x02, 0x00, 0xf3, 0xaa, 0xf4 };
    boot_protected(code, sizeof code, false);
    put64(IDT + 0x20 * 8, gate32(0x8000, 0x08, 0x8e));
    svmx_stop st = run(3); /* the two MOVs and the first chunk */
    assert_int_equal(st.reason, SVMX_STOP_BUDGET);
    assert_int_equal(rip(), 0x7c0a);                 /* still on REP STOSB */
    uint64_t left = reg(SVMX_RCX);
    assert_true(left > 0 && left < 40000);
    assert_true(rflags() & SVMX_RFLAGS_RF);
    assert_int_equal(svmx_cpu_inject_irq(m.cpu, 0x20), SVMX_OK);
    st = run(0);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, 0x8001);
    uint64_t sp = reg(SVMX_RSP);
    assert_int_equal(get(sp, 4), 0x7c0a);            /* EIP: the instruction */
    assert_int_equal(get(sp + 8, 4) & SVMX_RFLAGS_RF, SVMX_RFLAGS_RF);
    assert_int_equal(reg(SVMX_RCX), left);           /* nothing more ran */
}

static void set_debug(uint64_t dr0, uint64_t dr7)
{
    svmx_dregs d;
    svmx_cpu_get_dregs(m.cpu, &d);
    d.dr[0] = dr0;
    d.dr7 = dr7;
    assert_int_equal(svmx_cpu_set_dregs(m.cpu, &d), SVMX_OK);
}

static uint64_t dr6(void)
{
    svmx_dregs d;
    svmx_cpu_get_dregs(m.cpu, &d);
    return d.dr6;
}

/* An instruction breakpoint is a #DB fault before the instruction, with
 * B0 in DR6 and the frame's RF as it was (SDM Vol. 3B 18.3.1.1); with RF
 * set the instruction runs (the handler's IRET would set it). */
static void test_instruction_breakpoint(void **state)
{
    (void)state;
    boot(SVMX_VENDOR_AMD, nops, sizeof nops);
    set_debug(0x7c02, 0x401); /* L0, R/W0 = 00 execution, LEN0 = 00 */
    svmx_stop st = run(0);
    assert_int_equal(st.rip, HANDLER(1) + 1);
    assert_int_equal(frame_ip(), 0x7c02);      /* the instruction itself */
    assert_int_equal(dr6() & 0x400f, 0x1);      /* B0, not BS */

    boot(SVMX_VENDOR_AMD, nops, sizeof nops);
    set_debug(0x7c02, 0x401);
    svmx_regs r;
    svmx_cpu_get_regs(m.cpu, &r);
    r.rip = 0x7c02;
    r.rflags |= SVMX_RFLAGS_RF;                 /* resume past it */
    svmx_cpu_set_regs(m.cpu, &r);
    st = run(0);
    assert_int_equal(st.rip, 0x7c05);           /* ran to the HLT */
    assert_false(rflags() & SVMX_RFLAGS_RF);    /* cleared once it ran */
}

/* Data breakpoints trap after the access (18.3.1.2): R/W = 01 on writes
 * only, 11 on reads and writes, over the LEN-aligned range. */
static void test_data_breakpoints(void **state)
{
    (void)state;
    /* mov [0xa000], al; mov al, [0xa002]; mov [0xa003], al; hlt */
    static const uint8_t code[] = { 0xa2, 0x00, 0xa0, 0xa0, 0x02, 0xa0,
                                    0xa2, 0x03, 0xa0, 0xf4 };
    boot(SVMX_VENDOR_INTEL, code, sizeof code);
    /* DR0 = 0xa003 with LEN 2 covers 0xa002-0xa003; writes only */
    set_debug(0xa003, 0x401 | 1ull << 16 | 1ull << 18);
    svmx_stop st = run(0);
    assert_int_equal(st.rip, HANDLER(1) + 1);
    assert_int_equal(frame_ip(), 0x7c09);       /* after the write to 9003 */
    assert_int_equal(dr6() & 0xf, 0x1);

    /* R/W = 11: the read of 0xa002 traps first */
    boot(SVMX_VENDOR_INTEL, code, sizeof code);
    set_debug(0xa003, 0x401 | 3ull << 16 | 1ull << 18);
    st = run(0);
    assert_int_equal(frame_ip(), 0x7c06);
}

/* I/O breakpoints need CR4.DE (18.2.4); the #DB follows the OUT. */
static void test_io_breakpoint(void **state)
{
    (void)state;
    /* mov dx, 0x80; out dx, al; out dx, al; hlt */
    static const uint8_t code[] = { 0xba, 0x80, 0x00, 0xee, 0xee, 0xf4 };
    boot(SVMX_VENDOR_AMD, code, sizeof code);
    set_debug(0x80, 0x401 | 2ull << 16);
    svmx_stop st = run(0);
    assert_int_equal(st.rip, 0x7c06);           /* CR4.DE = 0: no match */
    boot(SVMX_VENDOR_AMD, code, sizeof code);
    set_debug(0x80, 0x401 | 2ull << 16);
    svmx_sregs s;
    svmx_cpu_get_sregs(m.cpu, &s);
    s.cr4 |= 1u << 3;                           /* DE */
    svmx_cpu_set_sregs(m.cpu, &s);
    st = run(0);
    assert_int_equal(st.rip, HANDLER(1) + 1);
    assert_int_equal(frame_ip(), 0x7c04);
    assert_int_equal(m.outs, 1);
}

/* A write breakpoint inside a REP STOSB: the trap follows the iteration
 * that hit it, RIP still on the instruction with the count left. */
static void test_rep_data_breakpoint(void **state)
{
    (void)state;
    /* mov cx, 100; mov di, 0xa000; rep stosb; hlt */
    static const uint8_t code[] = { 0xb9, 0x64, 0x00, 0xbf, 0x00, 0xa0,
                                    0xf3, 0xaa, 0xf4 };
    boot(SVMX_VENDOR_AMD, code, sizeof code);
    set_debug(0xa010, 0x401 | 1ull << 16);
    svmx_stop st = run(0);
    assert_int_equal(st.rip, HANDLER(1) + 1);
    assert_int_equal(frame_ip(), 0x7c06);       /* the REP STOSB */
    assert_int_equal(reg(SVMX_RCX) & 0xffff, 100 - 0x11);
    assert_int_equal(dr6() & 0xf, 0x1);
}

/* After MOV SS with TF set, the single-step #DB waits one instruction; a
 * budget stop in between keeps it waiting, and RESET (or setting the
 * event state) drops it. Found by tests/fuzz/fuzz_run.c. */
static void test_held_debug_trap_and_reset(void **state)
{
    (void)state;
    /* mov ax, ss; mov ss, ax; nop; nop; hlt */
    static const uint8_t code[] = { 0x8c, 0xd0, 0x8e, 0xd0, 0x90, 0x90, 0xf4 };
    boot(SVMX_VENDOR_AMD, code, sizeof code);
    svmx_regs r;
    svmx_cpu_get_regs(m.cpu, &r);
    r.rflags |= SVMX_RFLAGS_TF;
    svmx_cpu_set_regs(m.cpu, &r);
    /* The first MOV traps at once (HLT handler of #DB); resume there. */
    svmx_stop st = run(0);
    assert_int_equal(st.rip, HANDLER(1) + 1);
    assert_int_equal(frame_ip(), 0x7c02);
    /* Again from MOV SS, TF set: the trap is held past it, budget 1. */
    svmx_events awake = events();
    awake.activity = SVMX_ACTIVITY_ACTIVE;   /* out of the handler's HLT */
    set_events(&awake);
    svmx_cpu_get_regs(m.cpu, &r);
    r.rip = 0x7c02;
    r.rflags |= SVMX_RFLAGS_TF;
    svmx_sregs s;
    svmx_cpu_get_sregs(m.cpu, &s);
    s.seg[SVMX_CS].selector = 0;
    s.seg[SVMX_CS].base = 0;
    svmx_cpu_set_sregs(m.cpu, &s);
    svmx_cpu_set_regs(m.cpu, &r);
    st = run(1);
    assert_int_equal(st.reason, SVMX_STOP_BUDGET);
    assert_int_equal(rip(), 0x7c04);
    svmx_events e = events();
    set_events(&e);                  /* replaces the event state: no #DB */
    svmx_cpu_get_regs(m.cpu, &r);
    r.rflags &= ~SVMX_RFLAGS_TF;
    svmx_cpu_set_regs(m.cpu, &r);
    st = run(0);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, 0x7c07);  /* ran to the HLT, no trap */
}

/* ---------------------------------------------------------------- INIT -- */

/* The firmware ROM at the top of the 4 GiB space, where the CPU starts
 * after RESET or INIT (physical FFFF_FFF0h): every byte a HLT, so a CPU
 * that took INIT halts at F000:FFF1 having run one instruction there. */
#define ROM_BASE 0xffff0000u
static svmx_status rom_read(void *ctx, uint64_t gpa, unsigned size,
                            uint64_t *value)
{
    (void)ctx, (void)size;
    *value = gpa >= ROM_BASE ? 0xf4f4f4f4f4f4f4f4ull : ~0ull;
    return SVMX_OK;
}

static void add_rom(void)
{
    m.io.mmio_read = rom_read;
}

/* The run took INIT: the HLT at the reset vector stopped it. */
static void expect_init_taken(const svmx_stop *st)
{
    assert_int_equal(st->reason, SVMX_STOP_HLT);
    assert_int_equal(st->rip, 0xfff1);
    svmx_sregs s;
    svmx_cpu_get_sregs(m.cpu, &s);
    assert_int_equal(s.seg[SVMX_CS].selector, 0xf000);
    assert_int_equal(s.seg[SVMX_CS].base, ROM_BASE);
    assert_int_equal(svmx_cpu_mode(m.cpu), SVMX_MODE_REAL);
    assert_false(events().init_pending);
}

static uint64_t get_msr(uint32_t i)
{
    uint64_t v = 0;
    assert_int_equal(svmx_cpu_get_msr(m.cpu, i, &v), SVMX_OK);
    return v;
}

static void set_msr(uint32_t i, uint64_t v)
{
    assert_int_equal(svmx_cpu_set_msr(m.cpu, i, v), SVMX_OK);
}

#define MSR_TSC    0x10u
#define MSR_APIC   0x1bu
#define MSR_PAT    0x277u
#define MSR_EFER   0xc0000080u
#define MSR_STAR   0xc0000081u
#define MSR_LSTAR  0xc0000082u
#define MSR_FSBASE 0xc0000100u
#define MSR_KGS    0xc0000102u
#define MSR_VM_CR  0xc0010114u

/*
 * The INIT state field by field (SDM Vol. 3A 10.1.1 Table 10-1, APM Vol. 2
 * 14.1.3 Tables 14-1 and 14-2), from 64-bit mode with paging, on both
 * personalities: real mode at F000:FFF0, RFLAGS 2, GPRs 0 but EDX (the
 * signature), the RESET segments and descriptor tables, CR0 = ET with CD
 * and NW kept, CR2-CR4, CR8 and EFER 0; the MSRs (TSC included) and XCR0
 * kept; DR0-DR7 reset on Intel, kept on AMD; the pending NMI and SMI, NMI
 * blocking and the shadows gone, the INTR request kept. INITs merge.
 */
static void test_init_state(void **state)
{
    (void)state;
    static const svmx_vendor vendors[] = { SVMX_VENDOR_AMD, SVMX_VENDOR_INTEL };
    for (size_t v = 0; v < 2; v++) {
        bool amd = vendors[v] == SVMX_VENDOR_AMD;
        boot_long_v(vendors[v], nops, sizeof nops, false);
        add_rom();
        svmx_regs r;
        svmx_cpu_get_regs(m.cpu, &r);
        for (unsigned i = 0; i < SVMX_GPR_COUNT; i++)
            r.gpr[i] = 0x1111u * (i + 1);
        r.rflags = 0x6d7;                  /* IF, DF, OF and the ALU flags */
        svmx_cpu_set_regs(m.cpu, &r);
        svmx_sregs s;
        svmx_cpu_get_sregs(m.cpu, &s);
        s.cr0 |= 1u << 30;                 /* CD, NW clear */
        s.cr2 = 0xdead000;
        s.cr8 = 5;
        s.seg[SVMX_FS].base = 0x12345678;
        assert_int_equal(svmx_cpu_set_sregs(m.cpu, &s), SVMX_OK);
        uint64_t xcr0 = s.xcr0;
        svmx_dregs d = { .dr = { 1, 2, 3, 4 }, .dr6 = 0xf,
                         .dr7 = 0x400 | 0xfu << 16 };
        assert_int_equal(svmx_cpu_set_dregs(m.cpu, &d), SVMX_OK);
        svmx_cpu_get_dregs(m.cpu, &d);
        set_msr(MSR_EFER, get_msr(MSR_EFER) | 1 | (amd ? 1u << 12 : 0));
        set_msr(MSR_TSC, 1000);
        set_msr(MSR_STAR, 0x0023001000000000ull);
        set_msr(MSR_LSTAR, 0xffff800000001000ull);
        set_msr(MSR_KGS, 0xffff800000002000ull);
        set_msr(MSR_PAT, 0x0606060606060606ull);
        uint64_t apic = get_msr(MSR_APIC);
        svmx_events e = events();
        e.shadow = SVMX_SHADOW_STI | SVMX_SHADOW_MOVSS;
        e.nmi_pending = e.nmi_masked = e.smi_pending = true;
        e.irq_pending = true;
        e.irq_vector = 0x42;
        set_events(&e);

        assert_int_equal(svmx_cpu_inject_init(m.cpu), SVMX_OK);
        assert_int_equal(svmx_cpu_inject_init(m.cpu), SVMX_OK); /* merged */
        assert_true(events().init_pending);
        svmx_stop st = run(0);
        expect_init_taken(&st);
        assert_int_equal(st.insns, 1);     /* the HLT at FFFF_FFF0h only */

        svmx_cpu_get_regs(m.cpu, &r);
        svmx_cpuid_result id;
        svmx_cpu_cpuid(m.cpu, 1, 0, &id);
        for (unsigned i = 0; i < SVMX_GPR_COUNT; i++)
            assert_int_equal(r.gpr[i], i == SVMX_RDX ? id.eax : 0);
        assert_int_equal(r.rflags, 0x2);
        svmx_cpu_get_sregs(m.cpu, &s);
        assert_int_equal(s.seg[SVMX_CS].limit, 0xffff);
        assert_int_equal(s.seg[SVMX_CS].attr, 0x9b);
        for (unsigned i = 0; i < SVMX_SREG_COUNT; i++) {
            if (i == SVMX_CS)
                continue;
            assert_int_equal(s.seg[i].selector, 0);
            assert_int_equal(s.seg[i].base, 0);
            assert_int_equal(s.seg[i].limit, 0xffff);
            assert_int_equal(s.seg[i].attr, i == SVMX_LDTR ? 0x82
                                            : i == SVMX_TR ? 0x8b : 0x93);
        }
        assert_int_equal(s.gdt.base, 0);
        assert_int_equal(s.gdt.limit, 0xffff);
        assert_int_equal(s.idt.base, 0);
        assert_int_equal(s.idt.limit, 0xffff);
        assert_int_equal(s.cr0, 0x40000010); /* ET; CD kept, NW kept clear */
        assert_int_equal(s.cr2, 0);
        assert_int_equal(s.cr3, 0);
        assert_int_equal(s.cr4, 0);
        assert_int_equal(s.cr8, 0);
        assert_int_equal(s.efer, 0);
        assert_int_equal(s.xcr0, xcr0);

        svmx_dregs after;
        svmx_cpu_get_dregs(m.cpu, &after);
        for (unsigned i = 0; i < 4; i++)
            assert_int_equal(after.dr[i], amd ? d.dr[i] : 0);
        assert_int_equal(after.dr6, amd ? d.dr6 : 0xffff0ff0);
        assert_int_equal(after.dr7, amd ? d.dr7 : 0x400);

        assert_int_equal(get_msr(MSR_EFER), 0);
        assert_int_equal(get_msr(MSR_TSC), 1001); /* + the HLT's tick */
        assert_int_equal(get_msr(MSR_STAR), 0x0023001000000000ull);
        assert_int_equal(get_msr(MSR_LSTAR), 0xffff800000001000ull);
        assert_int_equal(get_msr(MSR_KGS), 0xffff800000002000ull);
        assert_int_equal(get_msr(MSR_PAT), 0x0606060606060606ull);
        assert_int_equal(get_msr(MSR_APIC), apic);
        assert_int_equal(get_msr(MSR_FSBASE), 0); /* FS.base: a segment */

        e = events();
        assert_int_equal(e.activity, SVMX_ACTIVITY_HLT); /* the ROM's HLT */
        assert_true(e.gif);
        assert_int_equal(e.shadow, 0);
        assert_false(e.nmi_pending || e.nmi_masked || e.smi_pending ||
                     e.exc_pending || e.init_pending);
        assert_true(e.irq_pending);        /* IF = 0 now: it waits */
        assert_int_equal(e.irq_vector, 0x42);
    }
}

/* CR0.CD and NW keep their values through INIT, either way (Table 10-1
 * note 2, Table 14-1); RESET sets both. */
static void test_init_keeps_cd_nw(void **state)
{
    (void)state;
    static const uint64_t cr0s[] = { 0x10, 0x60000010, 0x40000011 };
    for (size_t i = 0; i < 3; i++) {
        boot(SVMX_VENDOR_INTEL, nops, sizeof nops);
        add_rom();
        svmx_sregs s;
        svmx_cpu_get_sregs(m.cpu, &s);
        s.cr0 = cr0s[i];
        assert_int_equal(svmx_cpu_set_sregs(m.cpu, &s), SVMX_OK);
        svmx_cpu_inject_init(m.cpu);
        svmx_stop st = run(0);
        expect_init_taken(&st);
        svmx_cpu_get_sregs(m.cpu, &s);
        assert_int_equal(s.cr0, (cr0s[i] & 0x60000000) | 0x10);
        assert_int_equal(svmx_cpu_reset(m.cpu), SVMX_OK);
        svmx_cpu_get_sregs(m.cpu, &s);
        assert_int_equal(s.cr0, 0x60000010);
    }
}

/* Neither RFLAGS.IF = 0, nor an STI or MOV SS shadow, nor a running NMI
 * handler holds INIT: it is taken before the next instruction. */
static void test_init_not_held_by_if_or_shadow(void **state)
{
    (void)state;
    static const svmx_vendor vendors[] = { SVMX_VENDOR_AMD, SVMX_VENDOR_INTEL };
    for (size_t v = 0; v < 2; v++) {
        boot(vendors[v], nops, sizeof nops);
        add_rom();
        set_if(false);
        svmx_events e = events();
        e.shadow = SVMX_SHADOW_STI | SVMX_SHADOW_MOVSS;
        e.nmi_masked = true;
        set_events(&e);
        svmx_cpu_inject_init(m.cpu);
        svmx_stop st = run(0);
        expect_init_taken(&st);
        assert_int_equal(st.insns, 1);
    }
}

/* GIF = 0 holds INIT (APM Vol. 2 15.17 Table 15-10), also in HLT; STGI
 * releases it: it is taken right after the STGI. */
static void test_init_held_by_gif(void **state)
{
    (void)state;
    /* clgi; nop; stgi; nop; hlt */
    static const uint8_t code[] = { 0x0f, 0x01, 0xdd, 0x90, 0x0f, 0x01, 0xdc,
                                    0x90, 0xf4 };
    boot_long_v(SVMX_VENDOR_AMD, code, sizeof code, false);
    add_rom();
    set_msr(MSR_EFER, get_msr(MSR_EFER) | 1u << 12); /* SVME */
    svmx_stop st;
    assert_int_equal(svmx_cpu_step(m.cpu, &st), SVMX_OK);  /* clgi */
    assert_false(events().gif);
    svmx_cpu_inject_init(m.cpu);
    assert_int_equal(svmx_cpu_step(m.cpu, &st), SVMX_OK);  /* nop */
    assert_int_equal(st.reason, SVMX_STOP_DEBUG);
    assert_int_equal(rip(), 0x7c04);
    assert_true(events().init_pending);
    st = run(0);
    expect_init_taken(&st);
    assert_int_equal(st.insns, 2);                         /* stgi, hlt */
    assert_true(events().gif);

    /* Halted with GIF = 0: INIT does not wake the CPU until GIF = 1. */
    static const uint8_t hlt[] = { 0xf4 };
    boot(SVMX_VENDOR_AMD, hlt, sizeof hlt);
    add_rom();
    svmx_events e = events();
    e.gif = false;
    set_events(&e);
    st = run(0);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    svmx_cpu_inject_init(m.cpu);
    st = run(0);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.insns, 0);
    assert_int_equal(st.rip, 0x7c01);
    assert_true(events().init_pending);
    e = events();
    e.gif = true;
    set_events(&e);
    st = run(0);
    expect_init_taken(&st);
    assert_int_equal(st.insns, 1);
}

/* INIT comes before NMI and INTR (SDM Vol. 3A 6.9 Table 6-2: class 3
 * against 5 and 6): neither is delivered first, the NMI is discarded and
 * the INTR request waits for IF = 1. An exception already in flight is
 * delivered before INIT is taken. */
static void test_init_priority(void **state)
{
    (void)state;
    boot(SVMX_VENDOR_AMD, nops, sizeof nops);
    add_rom();
    set_if(true);
    svmx_cpu_inject_nmi(m.cpu);
    svmx_cpu_inject_irq(m.cpu, 0x20);
    svmx_cpu_inject_init(m.cpu);
    svmx_stop st = run(0);
    expect_init_taken(&st);
    assert_int_equal(st.insns, 1);
    assert_int_equal(get(0x7000 - 6, 6), 0);   /* no frame was pushed */
    svmx_events e = events();
    assert_false(e.nmi_pending);
    assert_true(e.irq_pending);

    boot(SVMX_VENDOR_INTEL, nops, sizeof nops);
    add_rom();
    e = events();
    e.exc_pending = true;
    e.exc_vector = 6;
    set_events(&e);
    svmx_cpu_inject_init(m.cpu);
    st = run(0);
    expect_init_taken(&st);
    assert_int_equal(get(0x7000 - 6, 2), 0x7c00); /* the #UD frame's IP */
    assert_false(events().exc_pending);
}

/* INIT wakes a halted CPU, whatever IF is; and, the CPU being the
 * bootstrap processor, one the state API put in wait-for-SIPI. */
static void test_init_wakes_hlt(void **state)
{
    (void)state;
    static const uint8_t hlt[] = { 0xf4 };
    boot(SVMX_VENDOR_INTEL, hlt, sizeof hlt);
    add_rom();
    set_if(false);
    svmx_stop st = run(0);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, 0x7c01);
    svmx_cpu_inject_init(m.cpu);
    st = run(0);
    expect_init_taken(&st);
    assert_int_equal(st.insns, 1);

    boot(SVMX_VENDOR_AMD, nops, sizeof nops);
    add_rom();
    svmx_events e = events();
    e.activity = SVMX_ACTIVITY_WAIT_SIPI;
    set_events(&e);
    st = run(0);
    assert_int_equal(st.reason, SVMX_STOP_UNSUPPORTED);
    svmx_cpu_inject_init(m.cpu);
    st = run(0);
    expect_init_taken(&st);
    assert_int_equal(st.insns, 1);
}

/* VM_CR.R_INIT (AMD) redirects INIT to #SX, vector 30, and the INIT is
 * gone (APM Vol. 2 15.21.8 Table 15-12, 15.28); real mode pushes no error
 * code, the frame points at the instruction the INIT came before and the
 * CPU is not reinitialised. (Its error code, 1, is checked through the
 * #SX intercept in tests/test_svm_run.c.) */
static void test_init_redirected_to_sx(void **state)
{
    (void)state;
    boot(SVMX_VENDOR_AMD, nops, sizeof nops);
    add_rom();
    set_msr(MSR_VM_CR, 2);                     /* R_INIT */
    svmx_stop st = run(2);
    assert_int_equal(st.reason, SVMX_STOP_BUDGET);
    svmx_cpu_inject_init(m.cpu);
    st = run(0);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, HANDLER(30) + 1);
    assert_int_equal(frame_ip(), 0x7c02);
    assert_int_equal(reg(SVMX_RSP), 0x7000 - 6);
    assert_false(events().init_pending);
}

/* INIT ends the shutdown state (SDM Vol. 3A 6.15 "Interrupt 8"), unless
 * GIF = 0 holds it. */
static void test_init_ends_shutdown(void **state)
{
    (void)state;
    boot(SVMX_VENDOR_AMD, nops, sizeof nops);
    add_rom();
    svmx_events e = events();
    e.activity = SVMX_ACTIVITY_SHUTDOWN;
    e.gif = false;
    set_events(&e);
    svmx_stop st = run(0);
    assert_int_equal(st.reason, SVMX_STOP_SHUTDOWN);
    svmx_cpu_inject_init(m.cpu);
    st = run(0);
    assert_int_equal(st.reason, SVMX_STOP_SHUTDOWN);
    assert_true(events().init_pending);
    e = events();
    e.gif = true;
    set_events(&e);
    st = run(0);
    expect_init_taken(&st);
    assert_int_equal(st.insns, 1);
}

/* #SX pushes its error code, 1 for a redirected INIT (APM Vol. 2 15.28). */
static void test_init_sx_frame(void **state)
{
    (void)state;
    boot_protected(nops, sizeof nops, false);
    add_rom();
    put64(IDT + 30 * 8, gate32(0x8000, 0x08, 0x8e));
    set_msr(MSR_VM_CR, 2);                     /* R_INIT */
    svmx_cpu_inject_init(m.cpu);
    svmx_stop st = run(0);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(st.rip, 0x8001);
    uint64_t sp = reg(SVMX_RSP);
    assert_int_equal(get(sp, 4), 1);           /* error code: INIT */
    assert_int_equal(get(sp + 4, 4), 0x7c00);
    assert_int_equal(get(sp + 8, 4), 0x08);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_irq_taken_at_boundary),
        cmocka_unit_test(test_irq_after_sti_shadow),
        cmocka_unit_test(test_shadows_hold_events),
        cmocka_unit_test(test_hlt_wakeup),
        cmocka_unit_test(test_nmi_blocking),
        cmocka_unit_test(test_gif_holds_events),
        cmocka_unit_test(test_single_step),
        cmocka_unit_test(test_single_step_fault_wins),
        cmocka_unit_test(test_pending_exception),
        cmocka_unit_test(test_smi_unsupported),
        cmocka_unit_test(test_inject_arguments_and_tsc),
        cmocka_unit_test(test_irq_between_rep_iterations),
        cmocka_unit_test(test_instruction_breakpoint),
        cmocka_unit_test(test_data_breakpoints),
        cmocka_unit_test(test_io_breakpoint),
        cmocka_unit_test(test_rep_data_breakpoint),
        cmocka_unit_test(test_held_debug_trap_and_reset),
        cmocka_unit_test(test_init_state),
        cmocka_unit_test(test_init_keeps_cd_nw),
        cmocka_unit_test(test_init_not_held_by_if_or_shadow),
        cmocka_unit_test(test_init_held_by_gif),
        cmocka_unit_test(test_init_priority),
        cmocka_unit_test(test_init_wakes_hlt),
        cmocka_unit_test(test_init_redirected_to_sx),
        cmocka_unit_test(test_init_ends_shutdown),
        cmocka_unit_test(test_init_sx_frame),
    };
    return cmocka_run_group_tests(tests, NULL, fixture_teardown);
}
