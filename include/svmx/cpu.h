/*
 * svmx/cpu.h - the modelled CPU: one opaque svmx_cpu with its architectural
 * state, its personality (AMD with SVM or Intel with VMX) and its guest
 * memory.
 *
 * The state API is shaped like KVM's: get/set of general registers, of
 * segment and control registers, of debug registers, of MSRs and of the
 * event state. Nothing here aborts, and there is no global mutable state:
 * two svmx_cpu objects may be used from two threads at once; one object
 * belongs to one thread at a time.
 */
#ifndef SVMX_CPU_H
#define SVMX_CPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "svmx/decode.h"
#include "svmx/mem.h"
#include "svmx/nested.h"
#include "svmx/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The CPU personality: vendor, CPUID table, MSRs, virtualization. */
typedef enum svmx_vendor {
    SVMX_VENDOR_AMD,   /* AuthenticAMD, SVM (APM Vol. 2 15)            */
    SVMX_VENDOR_INTEL, /* GenuineIntel, VMX (SDM Vol. 3C 24-33)        */
    SVMX_VENDOR_COUNT
} svmx_vendor;

/* Name of a vendor ("amd", "intel"); "?" outside the enum. */
SVMX_API const char *svmx_vendor_name(svmx_vendor vendor);

/* General registers, in hardware numbering (SDM Vol. 2A Table 2-2). */
typedef enum svmx_gpr {
    SVMX_RAX, SVMX_RCX, SVMX_RDX, SVMX_RBX, SVMX_RSP, SVMX_RBP, SVMX_RSI,
    SVMX_RDI, SVMX_R8, SVMX_R9, SVMX_R10, SVMX_R11, SVMX_R12, SVMX_R13,
    SVMX_R14, SVMX_R15,
    SVMX_GPR_COUNT
} svmx_gpr;

typedef struct svmx_regs {
    uint64_t gpr[SVMX_GPR_COUNT];
    uint64_t rip;
    uint64_t rflags;
} svmx_regs;

/* RFLAGS bits (SDM Vol. 1 3.4.3, APM Vol. 2 3.1.6). */
#define SVMX_RFLAGS_CF   (1ull << 0)
#define SVMX_RFLAGS_FIXED (1ull << 1)  /* reads as 1 */
#define SVMX_RFLAGS_PF   (1ull << 2)
#define SVMX_RFLAGS_AF   (1ull << 4)
#define SVMX_RFLAGS_ZF   (1ull << 6)
#define SVMX_RFLAGS_SF   (1ull << 7)
#define SVMX_RFLAGS_TF   (1ull << 8)
#define SVMX_RFLAGS_IF   (1ull << 9)
#define SVMX_RFLAGS_DF   (1ull << 10)
#define SVMX_RFLAGS_OF   (1ull << 11)
#define SVMX_RFLAGS_IOPL (3ull << 12)
#define SVMX_RFLAGS_NT   (1ull << 14)
#define SVMX_RFLAGS_RF   (1ull << 16)
#define SVMX_RFLAGS_VM   (1ull << 17)
#define SVMX_RFLAGS_AC   (1ull << 18)
#define SVMX_RFLAGS_VIF  (1ull << 19)
#define SVMX_RFLAGS_VIP  (1ull << 20)
#define SVMX_RFLAGS_ID   (1ull << 21)
/* Bits a program can ever see set; the rest read as zero. */
#define SVMX_RFLAGS_DEFINED 0x3f7fd5ull

/* Segment registers with their hidden parts, in hardware order. */
typedef enum svmx_sreg {
    SVMX_ES, SVMX_CS, SVMX_SS, SVMX_DS, SVMX_FS, SVMX_GS, SVMX_LDTR, SVMX_TR,
    SVMX_SREG_COUNT
} svmx_sreg;

/*
 * A segment register: selector and descriptor cache. `attr` is the 12-bit
 * attribute form of the VMCB (APM Vol. 2 15.5.1 / appendix B), bit 12 marks
 * a VMX "unusable" segment (SDM Vol. 3C 24.4.1, access-rights bit 16):
 *   [3:0] type  [4] S  [6:5] DPL  [7] P  [8] AVL  [9] L  [10] D/B  [11] G
 *   [12] unusable
 */
typedef struct svmx_segment {
    uint64_t base;
    uint32_t limit;     /* expanded byte limit (G applied)              */
    uint16_t selector;
    uint16_t attr;
} svmx_segment;

#define SVMX_SEG_ATTR_TYPE(a)  ((a) & 0xfu)
#define SVMX_SEG_ATTR_S        0x010u
#define SVMX_SEG_ATTR_DPL(a)   (((a) >> 5) & 3u)
#define SVMX_SEG_ATTR_P        0x080u
#define SVMX_SEG_ATTR_AVL      0x100u
#define SVMX_SEG_ATTR_L        0x200u
#define SVMX_SEG_ATTR_DB       0x400u
#define SVMX_SEG_ATTR_G        0x800u
#define SVMX_SEG_ATTR_UNUSABLE 0x1000u
#define SVMX_SEG_ATTR_MASK     0x1fffu

/* GDTR or IDTR. */
typedef struct svmx_dtable {
    uint64_t base;
    uint16_t limit;
} svmx_dtable;

/*
 * System state: segments, descriptor tables, control registers, EFER and
 * XCR0. CR8 is the task-priority register (4 bits).
 */
typedef struct svmx_sregs {
    svmx_segment seg[SVMX_SREG_COUNT];
    svmx_dtable  gdt, idt;
    uint64_t     cr0, cr2, cr3, cr4, cr8;
    uint64_t     efer;
    uint64_t     xcr0;
} svmx_sregs;

/* DR0-DR3, DR6, DR7. */
typedef struct svmx_dregs {
    uint64_t dr[4];
    uint64_t dr6, dr7;
} svmx_dregs;

/* Activity states (SDM Vol. 3C 24.4.2 Table 24-3 for VMX's numbering). */
typedef enum svmx_activity {
    SVMX_ACTIVITY_ACTIVE,
    SVMX_ACTIVITY_HLT,
    SVMX_ACTIVITY_SHUTDOWN,
    SVMX_ACTIVITY_WAIT_SIPI,
    SVMX_ACTIVITY_COUNT
} svmx_activity;

/* svmx_events.shadow: what blocks interrupts for one instruction. */
#define SVMX_SHADOW_STI   0x1u  /* after STI that set IF                  */
#define SVMX_SHADOW_MOVSS 0x2u  /* after MOV SS or POP SS                 */

/*
 * Event state: the activity state, the global interrupt flag (SVM, APM
 * Vol. 2 15.17; 1 on Intel), the interrupt shadow and the events that wait
 * for delivery. `init_pending` is an INIT latched by the processor
 * (svmx_cpu_inject_init): it waits while GIF = 0 and, on AMD, after a
 * #VMEXIT(INIT) until the host sets GIF again (APM Vol. 2 15.21.8).
 */
typedef struct svmx_events {
    uint8_t  activity;        /* svmx_activity                           */
    bool     gif;
    uint8_t  shadow;          /* SVMX_SHADOW_*                           */
    bool     nmi_pending;
    bool     nmi_masked;      /* an NMI handler runs (until IRET)        */
    bool     smi_pending;
    bool     irq_pending;     /* an external interrupt waits for IF=1    */
    uint8_t  irq_vector;
    bool     exc_pending;     /* an exception waits to be delivered      */
    uint8_t  exc_vector;
    bool     exc_has_error;
    uint32_t exc_error;
    uint64_t exc_payload;     /* CR2 for #PF, DR6 bits for #DB           */
    bool     init_pending;    /* an INIT waits (held by GIF = 0)         */
} svmx_events;

/* Configuration of a new CPU. */
typedef struct svmx_config {
    svmx_vendor        vendor;
    void              *ram;       /* guest RAM at physical 0, embedder-owned */
    uint64_t           ram_size;
    const svmx_io_ops *io;        /* may be NULL                          */
} svmx_config;

typedef struct svmx_cpu svmx_cpu;

/* Bytes and alignment svmx_cpu_init() needs. */
SVMX_API size_t svmx_cpu_size(void);
#define SVMX_CPU_ALIGN 64

/*
 * Creates a CPU in its reset state (SDM Vol. 3A 10.1.1 Table 10-1, APM
 * Vol. 2 14.1.3): real mode at F000:FFF0, RFLAGS = 2, CR0 = 0x60000010,
 * EDX = the family/model/stepping signature. SVMX_E_ARG for bad arguments,
 * SVMX_E_NOMEM if allocation fails.
 */
SVMX_API svmx_status svmx_cpu_create(const svmx_config *cfg,
                                     svmx_cpu **out);

/* The same in caller memory of svmx_cpu_size() bytes, SVMX_CPU_ALIGN. */
SVMX_API svmx_status svmx_cpu_init(void *mem, size_t size,
                                   const svmx_config *cfg, svmx_cpu **out);

/* Frees a CPU from svmx_cpu_create(); NULL is ignored. */
SVMX_API void svmx_cpu_destroy(svmx_cpu *cpu);

/* Puts the CPU back in its reset state (RESET; INIT is
 * svmx_cpu_inject_init()). */
SVMX_API svmx_status svmx_cpu_reset(svmx_cpu *cpu);

/*
 * The personality and the guest memory of a CPU (SVMX_VENDOR_COUNT and
 * NULL for a NULL cpu). The memory's `io` is the CPU's own forwarder to
 * the config's callbacks (it calls them with their own ctx), so accesses
 * through it reach the same handlers.
 */
SVMX_API svmx_vendor svmx_cpu_vendor(const svmx_cpu *cpu);
SVMX_API const svmx_mem *svmx_cpu_mem(const svmx_cpu *cpu);

/*
 * General registers, RIP and RFLAGS. Setting RFLAGS forces bit 1 and clears
 * the bits no program can set (SVMX_RFLAGS_DEFINED); RIP is stored as given.
 */
SVMX_API svmx_status svmx_cpu_get_regs(const svmx_cpu *cpu, svmx_regs *regs);
SVMX_API svmx_status svmx_cpu_set_regs(svmx_cpu *cpu, const svmx_regs *regs);

/*
 * Segment, descriptor-table and control registers, EFER and XCR0.
 * Setting refuses, with SVMX_E_STATE and nothing changed, values no
 * register of this personality can hold: reserved CR0 bits 63:32, CR4 or
 * EFER bits this personality does not define, CR3 bits above the physical
 * address width, CR8 above 15, XCR0 without bit 0 or with bits the
 * personality does not support. Combinations that are each representable
 * but that the CPU would never reach by itself (CR0.PG without CR0.PE,
 * EFER.LMA disagreeing with LME and PG) are accepted: the model checks them
 * where the architecture does (for example at VMRUN and VM entry).
 */
SVMX_API svmx_status svmx_cpu_get_sregs(const svmx_cpu *cpu,
                                        svmx_sregs *sregs);
SVMX_API svmx_status svmx_cpu_set_sregs(svmx_cpu *cpu,
                                        const svmx_sregs *sregs);

/*
 * Debug registers. Setting refuses DR6/DR7 with bits 63:32 set
 * (SDM Vol. 3B 18.2.6) with SVMX_E_STATE; DR6 and DR7 fixed bits are forced.
 */
SVMX_API svmx_status svmx_cpu_get_dregs(const svmx_cpu *cpu,
                                        svmx_dregs *dregs);
SVMX_API svmx_status svmx_cpu_set_dregs(svmx_cpu *cpu,
                                        const svmx_dregs *dregs);

/*
 * Event state. Setting refuses, with SVMX_E_STATE and nothing changed, an
 * activity out of range, an exception vector above 31 or shadow bits other
 * than SVMX_SHADOW_*. A personality without SVM has no GIF: it stays 1.
 * Setting replaces the event state whole, including a single-step or
 * breakpoint #DB that a MOV SS shadow was holding back.
 */
SVMX_API svmx_status svmx_cpu_get_events(const svmx_cpu *cpu,
                                         svmx_events *events);
SVMX_API svmx_status svmx_cpu_set_events(svmx_cpu *cpu,
                                         const svmx_events *events);

/*
 * Raises the INTR line with `vector` (the embedder plays the interrupt
 * controller): the interrupt is delivered at the first instruction
 * boundary where RFLAGS.IF = 1, no interrupt shadow is open and GIF = 1,
 * and wakes the CPU from HLT then. One interrupt waits at a time:
 * SVMX_E_STATE if one is already pending (svmx_cpu_get_events says when
 * it was taken). Any vector 0-255 is accepted, as the INTR protocol
 * allows; an external interrupt never pushes an error code.
 */
SVMX_API svmx_status svmx_cpu_inject_irq(svmx_cpu *cpu, uint8_t vector);

/*
 * Raises NMI: delivered through vector 2 at the first boundary where no
 * NMI handler runs (NMIs are blocked from delivery until the next IRET),
 * no MOV SS shadow is open and GIF = 1. A second NMI while one waits is
 * merged with it, as on hardware.
 */
SVMX_API svmx_status svmx_cpu_inject_nmi(svmx_cpu *cpu);

/*
 * Signals INIT (an INIT IPI or the INIT# pin, which the embedder's
 * interrupt controller delivers). The INIT is latched: a second one while
 * one waits merges with it. At the first instruction boundary where
 * GIF = 1 (APM Vol. 2 15.17 Table 15-10) - RFLAGS.IF and the interrupt
 * shadows do not hold it - it is taken, after an exception already in
 * flight and before SMI, NMI and INTR (SDM Vol. 3A 6.9 Table 6-2), and
 * wakes the CPU from HLT:
 *   - the CPU, which the model treats as the bootstrap processor, is put
 *     in the INIT state and runs from F000:FFF0 in real mode: as after
 *     svmx_cpu_reset(), except that the MSRs (the TSC included), XCR0 and
 *     CR0.CD/NW keep their values, EFER is 0, and on AMD DR0-DR3, DR6 and
 *     DR7 keep theirs too (SDM Vol. 3A 10.1.1 Table 10-1, APM Vol. 2
 *     14.1.3 Table 14-1); a pending NMI, SMI or exception is discarded,
 *     an INTR request stays (docs/interpreter.md, "INIT");
 *   - in SVM guest mode with the INIT intercept: #VMEXIT(INIT), and the
 *     INIT stays pending for the host (15.13.4, 15.21.8 Table 15-12);
 *   - on AMD with VM_CR.R_INIT set (and the intercept clear): #SX with
 *     error code 1 instead, and the INIT is consumed (15.21.8, 15.28).
 * An INIT taken in guest mode without the intercept leaves guest mode
 * with no #VMEXIT (docs/svm.md). SVMX_E_ARG for a NULL cpu.
 */
SVMX_API svmx_status svmx_cpu_inject_init(svmx_cpu *cpu);

/*
 * Model-specific registers. The personality's MSR table says which exist
 * and which bits are writable. SVMX_E_FIELD for an MSR this personality
 * does not have; SVMX_E_STATE (nothing changed) for a write to reserved
 * bits or to a read-only MSR. These are host accesses: a guest RDMSR/WRMSR
 * turns the same answers into #GP(0). EFER (0xC0000080) is the same
 * register as svmx_sregs.efer, IA32_TSC (0x10) the time-stamp counter.
 */
SVMX_API svmx_status svmx_cpu_get_msr(const svmx_cpu *cpu, uint32_t index,
                                      uint64_t *value);
SVMX_API svmx_status svmx_cpu_set_msr(svmx_cpu *cpu, uint32_t index,
                                      uint64_t value);

/*
 * CPUID as this personality answers it for leaf/subleaf (EAX/ECX in),
 * from the personality's single table. A leaf above the maximum returns
 * the highest basic leaf's values on Intel (SDM Vol. 2A CPUID) and zeros on
 * AMD (APM Vol. 3 E.1); subleaves of leaves that have none are ignored.
 * The values a CPU reports for its own APIC ID, OSXSAVE (CR4.OSXSAVE) and
 * similar state-dependent bits are applied.
 */
typedef struct svmx_cpuid_result {
    uint32_t eax, ebx, ecx, edx;
} svmx_cpuid_result;

SVMX_API svmx_status svmx_cpu_cpuid(const svmx_cpu *cpu, uint32_t leaf,
                                    uint32_t subleaf,
                                    svmx_cpuid_result *out);

/*
 * The machine mode the CPU is in now (see svmx_mode_derive());
 * SVMX_MODE_COUNT for a NULL cpu.
 */
SVMX_API svmx_mode svmx_cpu_mode(const svmx_cpu *cpu);

/*
 * Why svmx_cpu_run() returned (DESIGN.md, "Embedding API"). The CPU state
 * is always consistent at a stop: the instruction that stopped it either
 * retired or did not start.
 */
#define SVMX_STOP_REASONS(X)                                                  \
    X(NONE,        "no stop")                                                 \
    X(HLT,         "halted, and no event can wake the CPU")                   \
    X(SHUTDOWN,    "shutdown (triple fault)")                                 \
    X(UNSUPPORTED, "instruction or feature not modelled")                     \
    X(BUDGET,      "instruction budget exhausted")                            \
    X(IO,          "a port I/O handler failed")                               \
    X(MMIO,        "an MMIO handler failed")                                  \
    X(DEBUG,       "a debug hook: single step, breakpoint or INT3")           \
    X(REQUESTED,   "svmx_cpu_request_stop() was called")                      \
    X(HYPERCALL,   "L1 made a hypercall the L0 policy wants")                 \
    X(L0_EXIT,     "an event the L0 policy wants")

typedef enum svmx_stop_reason {
#define SVMX_STOP_ENUM_(name, text) SVMX_STOP_##name,
    SVMX_STOP_REASONS(SVMX_STOP_ENUM_)
#undef SVMX_STOP_ENUM_
    SVMX_STOP_REASON_COUNT
} svmx_stop_reason;

/* Name ("HLT") and description of a stop reason; "?" outside the enum. */
SVMX_API const char *svmx_stop_reason_name(svmx_stop_reason reason);
SVMX_API const char *svmx_stop_reason_str(svmx_stop_reason reason);

/*
 * A stop record. `rip` is the RIP of the instruction concerned (the next
 * one to execute, except for UNSUPPORTED, IO and MMIO, where it is the one
 * that could not complete). For UNSUPPORTED, `bytes`/`length` hold the
 * instruction bytes (as far as they could be fetched) and `what` names
 * the missing piece. For SHUTDOWN, `chain` lists the exception vectors
 * that led to it, oldest first. For IO and MMIO, the access and the
 * handler's status. For HYPERCALL and L0_EXIT, `exit` is the event (see
 * svmx/nested.h): `rip` is the instruction's own RIP, and the embedder
 * finishes the event with svmx_cpu_complete() before running again.
 */
typedef struct svmx_stop {
    svmx_stop_reason reason;
    uint64_t    rip;
    uint64_t    insns;          /* instructions retired in this call     */
    const char *what;           /* UNSUPPORTED: a static English phrase  */
    uint8_t     bytes[15];
    uint8_t     length;
    uint8_t     chain[3];
    uint8_t     chain_len;
    uint64_t    addr;           /* IO: port; MMIO: guest-physical address */
    uint8_t     size;
    bool        write;
    svmx_status handler_status;
    svmx_exit   exit;           /* HYPERCALL, L0_EXIT: the event          */
    uint8_t     debug;          /* DEBUG: svmx_debug_cause                */
    uint8_t     breakpoint;     /* DEBUG, BREAKPOINT: its index in
                                   svmx_debug.breakpoints                 */
    uint8_t     level;          /* DEBUG: svmx_level of the CPU           */
} svmx_stop;

/*
 * Runs the CPU until a stop reason, for at most max_insns instructions
 * (0: no limit). Returns SVMX_OK with *stop filled, or SVMX_E_ARG;
 * SVMX_E_STATE, with *stop untouched, while an event the run stopped for
 * (HYPERCALL, L0_EXIT) waits for svmx_cpu_complete(). Guest behaviour
 * never makes it fail: it becomes a stop reason. Allocates nothing.
 */
SVMX_API svmx_status svmx_cpu_run(svmx_cpu *cpu, uint64_t max_insns,
                                  svmx_stop *stop);

/*
 * Executes one instruction, after delivering the event that is due at
 * this boundary if there is one, and stops with DEBUG, cause STEP (or an
 * earlier stop reason, or DEBUG with the cause of a debug hook below
 * when one stops the CPU before the instruction).
 */
SVMX_API svmx_status svmx_cpu_step(svmx_cpu *cpu, svmx_stop *stop);

/* ======================================================= debug hooks == */

/*
 * The embedder's own debugger: breakpoints on instruction addresses and
 * INT3 taken as a software breakpoint. They come first in the router's
 * order (DESIGN.md, "Data flow"; docs/router.md): they stop the run
 * before the instruction runs, so before anything it could raise meets
 * L1's intercepts, the L0 policy, the guest's own DR0-DR3 breakpoints or
 * the guest's IDT. The guest sees nothing of them: at such a stop no
 * state has changed, and `rip` is the instruction's own.
 *
 * Resuming (svmx_cpu_run or svmx_cpu_step) from a DEBUG stop of a
 * breakpoint or INT3 executes that instruction without stopping for it
 * again, provided the CPU is still at the same level and linear address
 * when it resumes - the embedder's counterpart of RFLAGS.RF. An INT3 the
 * debugger did not plant is thus given back to the guest by running on.
 */
#define SVMX_DEBUG_BREAKPOINTS 8

/* Levels a hook applies at (svmx_breakpoint.levels, svmx_debug.int3). */
#define SVMX_DEBUG_L1 (1u << SVMX_LEVEL_L1) /* outside guest mode         */
#define SVMX_DEBUG_L2 (1u << SVMX_LEVEL_L2) /* in guest mode, after VMRUN */

/*
 * A breakpoint: the run stops when the CPU, at one of `levels`, is about
 * to execute an instruction whose first byte's linear address (CS.base +
 * RIP, 32 bits wide outside 64-bit mode) is `addr`. It is checked at the
 * instruction boundary after the event due there is delivered (so a
 * breakpoint on a handler's first instruction stops there) and before
 * the instruction is fetched (so before a fault of the fetch).
 */
typedef struct svmx_breakpoint {
    uint64_t addr;
    uint8_t  levels;     /* SVMX_DEBUG_L1 and/or SVMX_DEBUG_L2        */
} svmx_breakpoint;

typedef struct svmx_debug {
    svmx_breakpoint breakpoints[SVMX_DEBUG_BREAKPOINTS];
    uint8_t  nbreakpoints;
    /* The levels at which INT3 (opcode CC; not INT 3 as CD 03, INTO or
     * INT1) stops the run instead of raising #BP. */
    uint8_t  int3;
} svmx_debug;

/* Why a DEBUG stop happened (svmx_stop.debug). */
#define SVMX_DEBUG_CAUSES(X)                                                  \
    X(STEP,       "svmx_cpu_step() executed its instruction")                 \
    X(BREAKPOINT, "an embedder breakpoint, before its instruction")           \
    X(INT3,       "INT3 for the embedder, before it executes")

typedef enum svmx_debug_cause {
#define SVMX_DEBUG_ENUM_(name, text) SVMX_DEBUG_##name,
    SVMX_DEBUG_CAUSES(SVMX_DEBUG_ENUM_)
#undef SVMX_DEBUG_ENUM_
    SVMX_DEBUG_CAUSE_COUNT
} svmx_debug_cause;

/* Name ("BREAKPOINT") of a cause; "?" outside the enum. */
SVMX_API const char *svmx_debug_cause_name(svmx_debug_cause cause);

/*
 * Sets the debug hooks whole; NULL removes them all (the default).
 * SVMX_E_ARG, with the hooks as they were, for a NULL cpu, more than
 * SVMX_DEBUG_BREAKPOINTS breakpoints, a breakpoint whose levels are none
 * or other than SVMX_DEBUG_L1/L2, or other bits in `int3`. May be called
 * from an I/O or MMIO callback: the hooks hold from the next boundary.
 * The hooks are the embedder's: RESET and INIT keep them.
 */
SVMX_API svmx_status svmx_cpu_set_debug(svmx_cpu *cpu, const svmx_debug *debug);
SVMX_API svmx_status svmx_cpu_get_debug(const svmx_cpu *cpu, svmx_debug *debug);

/*
 * Asks a running svmx_cpu_run() to stop after the current instruction
 * (reason REQUESTED). Meant for I/O and MMIO callbacks, for example a
 * debug-exit port; not thread-safe across threads.
 */
SVMX_API void svmx_cpu_request_stop(svmx_cpu *cpu);

#ifdef __cplusplus
}
#endif

#endif /* SVMX_CPU_H */
