/*
 * tests/kernels/svm/svm.h - the L1 (hypervisor) side of the SVM test
 * kernels: a VMCB, the permission maps, a guest that shares L1's page
 * tables and GDT, VMRUN, and one canonical report line per #VMEXIT.
 *
 * Everything here comes from the AMD64 Architecture Programmer's Manual,
 * Volume 2 (the APM): chapter 15 (SVM), appendix B (the VMCB layout) and
 * appendix C (the exit codes). The kernels do not include any svmx header:
 * they build and run unchanged on svmx, QEMU and hardware.
 *
 * A kernel calls svm_init() first (CPUID 8000_0001 ECX[2], EFER.SVME,
 * VM_HSAVE_PA), then builds a guest with svm_vmcb_init()/svm_vmcb_call(),
 * sets intercepts and runs it with svm_run(), which returns EXITCODE and
 * prints the exit line (docs/kernels.md section 7).
 */
#ifndef SVM_H
#define SVM_H

#include "rt.h"

/* ------------------------------------------------------------ the VMCB -- */

/* A segment in the VMCB (Table B-2): attributes are descriptor bits 47:40
   in [7:0] and bits 55:52 (AVL, L, D/B, G) in [11:8]. */
typedef struct __attribute__((packed)) svm_seg {
    uint16_t sel, attrib;
    uint32_t limit;
    uint64_t base;
} svm_seg;

#define SVM_ATTR_CODE64 0x0a9b /* P, DPL 0, code exec/read accessed, L   */
#define SVM_ATTR_CODE32 0x0c9b /* same with D = 1, G = 1 instead of L    */
#define SVM_ATTR_DATA   0x0c93 /* P, DPL 0, data read/write accessed, B, G */
#define SVM_ATTR_L      0x0200
#define SVM_ATTR_D      0x0400

typedef struct __attribute__((packed, aligned(4096))) svm_vmcb {
    /* Control area: Table B-1. */
    uint32_t icpt[6];            /* 0x000 intercept vectors 0-5         */
    uint8_t  rsvd0[0x03c - 0x018];
    uint16_t pause_thresh;       /* 0x03c                              */
    uint16_t pause_count;        /* 0x03e                              */
    uint64_t iopm_base;          /* 0x040 [11:0] ignored               */
    uint64_t msrpm_base;         /* 0x048 [11:0] ignored               */
    uint64_t tsc_offset;         /* 0x050                              */
    uint32_t asid;               /* 0x058                              */
    uint8_t  tlb_control;        /* 0x05c                              */
    uint8_t  rsvd1[3];
    uint64_t vintr;              /* 0x060 V_TPR, V_IRQ, ...            */
    uint64_t int_state;          /* 0x068 [0] interrupt shadow         */
    uint64_t exitcode;           /* 0x070                              */
    uint64_t exitinfo1;          /* 0x078                              */
    uint64_t exitinfo2;          /* 0x080                              */
    uint64_t exitintinfo;        /* 0x088 15.7.2 format                */
    uint64_t np_ctl;             /* 0x090 [0] NP_ENABLE                */
    uint64_t avic_apic_bar;      /* 0x098                              */
    uint64_t ghcb_pa;            /* 0x0a0                              */
    uint64_t eventinj;           /* 0x0a8 15.20 format                 */
    uint64_t ncr3;               /* 0x0b0                              */
    uint64_t lbr_virt;           /* 0x0b8                              */
    uint32_t clean;              /* 0x0c0 VMCB clean bits              */
    uint32_t rsvd2;
    uint64_t nrip;               /* 0x0c8 next sequential RIP          */
    uint8_t  insn_len;           /* 0x0d0 [3:0] bytes fetched          */
    uint8_t  insn_bytes[15];     /* 0x0d1                              */
    uint8_t  rsvd3[0x400 - 0x0e0];
    /* State-save area: Table B-2, at 0x400. */
    svm_seg  es, cs, ss, ds, fs, gs; /* 0x400-0x45f                     */
    svm_seg  gdtr, ldtr, idtr, tr;   /* 0x460-0x49f (GDTR/IDTR: limit, base) */
    uint8_t  rsvd4[0x4cb - 0x4a0];
    uint8_t  cpl;                /* 0x4cb                              */
    uint32_t rsvd5;
    uint64_t efer;               /* 0x4d0                              */
    uint8_t  rsvd6[0x548 - 0x4d8];
    uint64_t cr4, cr3, cr0, dr7, dr6, rflags, rip; /* 0x548-0x57f       */
    uint8_t  rsvd7[0x5d8 - 0x580];
    uint64_t rsp;                /* 0x5d8                              */
    uint64_t s_cet, ssp, isst_addr; /* 0x5e0                           */
    uint64_t rax;                /* 0x5f8                              */
    uint64_t star, lstar, cstar, sfmask, kernel_gs_base; /* 0x600       */
    uint64_t sysenter_cs, sysenter_esp, sysenter_eip, cr2; /* 0x628     */
    uint8_t  rsvd8[0x668 - 0x648];
    uint64_t g_pat;              /* 0x668                              */
    uint64_t dbgctl, br_from, br_to, lastexcpfrom, lastexcpto; /* 0x670 */
    uint8_t  rsvd9[0x1000 - 0x698];
} svm_vmcb;

/* ------------------------------------------- exit codes (appendix C) -- */

#define SVM_EXIT_CR_READ(n)  (0x000u + (n))
#define SVM_EXIT_CR_WRITE(n) (0x010u + (n))
#define SVM_EXIT_DR_READ(n)  (0x020u + (n))
#define SVM_EXIT_DR_WRITE(n) (0x030u + (n))
#define SVM_EXIT_EXC(v)      (0x040u + (v))
#define SVM_EXIT_INTR        0x060u
#define SVM_EXIT_NMI         0x061u
#define SVM_EXIT_VINTR       0x064u
#define SVM_EXIT_RDTSC       0x06eu
#define SVM_EXIT_PUSHF       0x070u
#define SVM_EXIT_CPUID       0x072u
#define SVM_EXIT_IRET        0x074u
#define SVM_EXIT_INTN        0x075u
#define SVM_EXIT_HLT         0x078u
#define SVM_EXIT_INVLPG      0x079u
#define SVM_EXIT_IOIO        0x07bu
#define SVM_EXIT_MSR         0x07cu
#define SVM_EXIT_SHUTDOWN    0x07fu
#define SVM_EXIT_VMRUN       0x080u
#define SVM_EXIT_VMMCALL     0x081u
#define SVM_EXIT_VMLOAD      0x082u
#define SVM_EXIT_VMSAVE      0x083u
#define SVM_EXIT_STGI        0x084u
#define SVM_EXIT_CLGI        0x085u
#define SVM_EXIT_ICEBP       0x088u
#define SVM_EXIT_NPF         0x400u
#define SVM_EXIT_INVALID     UINT64_C(0xffffffffffffffff) /* -1 */

/*
 * Intercepts: for every exit code below 0xA0 the intercept is bit (code %
 * 32) of intercept word (code / 32) (Table B-1: word 0 CR reads/writes,
 * 1 DR, 2 exceptions, 3 INTR..SHUTDOWN, 4 VMRUN..), so svm_intercept()
 * takes the exit code. IOIO_PROT and MSR_PROT are the bits of the IOIO
 * and MSR exits.
 */
#define SVM_ICPT_IOIO_PROT SVM_EXIT_IOIO
#define SVM_ICPT_MSR_PROT  SVM_EXIT_MSR

/* EVENTINJ / EXITINTINFO (15.20, 15.7.2). */
#define SVM_EV_VALID     (UINT64_C(1) << 31)
#define SVM_EV_ERR_VALID (UINT64_C(1) << 11)
#define SVM_EV_TYPE(t)   ((uint64_t)(t) << 8)
#define SVM_EV_INTR      0u
#define SVM_EV_NMI       2u
#define SVM_EV_EXC       3u
#define SVM_EV_SOFT      4u
#define SVM_EVENT(type, vec) (SVM_EV_VALID | SVM_EV_TYPE(type) | (vec))
#define SVM_EVENT_ERR(type, vec, err)                                         \
    (SVM_EVENT(type, vec) | SVM_EV_ERR_VALID | (uint64_t)(uint32_t)(err) << 32)

/* IOIO EXITINFO1 (15.10.2, Figure 15-2). */
#define SVM_IO_IN      (1u << 0)
#define SVM_IO_STR     (1u << 2)
#define SVM_IO_REP     (1u << 3)
#define SVM_IO_SZ8     (1u << 4)
#define SVM_IO_SZ16    (1u << 5)
#define SVM_IO_SZ32    (1u << 6)
#define SVM_IO_A16     (1u << 7)
#define SVM_IO_A32     (1u << 8)
#define SVM_IO_A64     (1u << 9)
#define SVM_IO_SEG(s)  ((uint32_t)(s) << 10)
#define SVM_IO_PORT(p) ((uint32_t)(p) << 16)

/* NPF EXITINFO1 (15.25.6). */
#define SVM_NPF_FINAL (UINT64_C(1) << 32) /* translating the final GPA     */
#define SVM_NPF_WALK  (UINT64_C(1) << 33) /* translating a guest table     */

/* CPUID Fn8000_000A EDX (APM Vol. 3 E.4.9). */
#define SVM_F_NP            (1u << 0)
#define SVM_F_LBRV          (1u << 1)
#define SVM_F_SVML          (1u << 2)
#define SVM_F_NRIPS         (1u << 3)
#define SVM_F_VMCB_CLEAN    (1u << 5)
#define SVM_F_FLUSH_BY_ASID (1u << 6)
#define SVM_F_DECODE_ASSIST (1u << 7)
#define SVM_F_VGIF          (1u << 16)

#define SVM_MSR_VM_CR      0xc0010114u
#define SVM_MSR_VM_HSAVE   0xc0010117u
#define SVM_MSR_PAT        0x00000277u
#define SVM_VM_CR_SVMDIS   (1u << 4)

/* ----------------------------------------------------- the runtime -- */

typedef struct svm_info {
    bool     present;     /* CPUID 8000_0001 ECX[2]                       */
    uint32_t rev, nasid;  /* CPUID 8000_000A EAX[7:0], EBX                */
    uint32_t features;    /* CPUID 8000_000A EDX                          */
    bool     nrips, decode_assists, np;
    uint64_t host_pat;
} svm_info;
extern svm_info svm_cpu;

/* The guest's general registers other than RAX and RSP (which the VMCB
   holds): loaded before VMRUN, stored after #VMEXIT (VMRUN does not
   switch them, APM 15.5.1). */
typedef struct svm_gprs {
    uint64_t rbx, rcx, rdx, rsi, rdi, rbp;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
} svm_gprs;
extern svm_gprs svm_guest_regs;

/* What the guest's IDT stubs record (the last event the guest took). */
typedef struct svm_gexc {
    uint64_t count, vector, error; /* error: 0 for vectors without one */
    uint64_t rip, cs, rflags, rsp, ss;
} svm_gexc;
extern volatile svm_gexc svm_guest_exc;
/* Per vector: 0 = the guest stub records and halts (a HLT exit with RIP
   in the stubs); 1 = it records and returns (IRETQ). */
extern volatile uint8_t svm_guest_resume[256];
/* The guest's IDT (256 interrupt gates to the guest stubs, DPL 0). */
extern rt_gate svm_guest_idt[256];
bool svm_rip_in_guest_stubs(uint64_t rip);

/* The maps the VMCBs point at (all zero after svm_init: nothing
   intercepted until IOIO_PROT/MSR_PROT are set and bits are set). */
extern uint8_t svm_iopm[3 * 4096];
extern uint8_t svm_msrpm[2 * 4096];
void svm_iopm_set(uint32_t port, bool on); /* port may be up to 0x10002 */
/* Sets the read (write = false) or write bit of msr; false if the MSR is
   outside the three MSRPM ranges (15.11). */
bool svm_msrpm_set(uint32_t msr, bool write, bool on);
void svm_maps_clear(void);

/* VMCBs and a save area for VMLOAD/VMSAVE, all 4 KiB aligned. */
extern svm_vmcb svm_vmcb_a, svm_vmcb_b, svm_vmcb_c;
extern uint8_t svm_hsave[4096];
#define SVM_GUEST_STACK_SIZE 16384
extern uint8_t svm_guest_stack[SVM_GUEST_STACK_SIZE];
#define svm_guest_stack_top                                                   \
    ((uint64_t)(uintptr_t)(svm_guest_stack + SVM_GUEST_STACK_SIZE))

/*
 * Detects SVM and prepares L1: EFER.SVME = 1, VM_HSAVE_PA, the maps, the
 * guest IDT. Returns false (having printed why) when the CPU has no SVM or
 * firmware disabled it (VM_CR.SVMDIS), so kmain can skip.
 */
bool svm_init(void);
/* Prints "skip - all: why" for a kernel that cannot run, once. */
void svm_skip_all(void);

/*
 * A 64-bit guest sharing L1's page tables, GDT and control registers:
 * CS = RT_KCODE64, SS/DS/ES = RT_KDATA in VMCB format, CR0/CR3/CR4/EFER
 * as L1 has them, RFLAGS = 2, RIP = rip, RSP = the guest stack, CPL 0,
 * DR7 = 0x400, DR6 = 0xFFFF0FF0, the guest IDT, G_PAT = L1's PAT, ASID 1,
 * TLB_CONTROL = 1, the IOPM and MSRPM above, and the intercepts VMRUN
 * (required, 15.5.1), VMMCALL, HLT and SHUTDOWN. Clears svm_guest_regs
 * and svm_guest_exc.
 */
void svm_vmcb_init(svm_vmcb *v, uint64_t rip);
/* Same, with RIP at a trampoline that calls fn(arg) and then executes
   VMMCALL: the result is in v->rax after the exit. */
void svm_vmcb_call(svm_vmcb *v, uint64_t (*fn)(uint64_t), uint64_t arg);

/* Identity nested page tables for the first GiB (GPA = HPA), 2 MiB pages,
   every level P, W and U (APM Vol. 2 15.25.5: nested accesses are user
   accesses): svm_npt_identity() rebuilds them, svm_npt_enable() turns
   nested paging on in v with them (NP_ENABLE, nCR3, G_PAT = the host's
   PAT). svm_npd is the page directory, for kernels that unmap or
   restrict a 2 MiB region. */
extern uint64_t svm_npd[512];
void svm_npt_identity(void);
void svm_npt_enable(svm_vmcb *v);

/* Sets or clears the intercept of an exit code below 0xA0. */
void svm_intercept(svm_vmcb *v, unsigned code, bool on);
bool svm_intercepted(const svm_vmcb *v, unsigned code);

/*
 * VMRUN with RAX = the VMCB's address (identity-mapped: VA = PA), the
 * guest GPRs loaded from svm_guest_regs and stored back after #VMEXIT,
 * L1's callee-saved registers kept. Returns EXITCODE. svm_run_raw leaves
 * GIF as #VMEXIT left it (0); svm_run executes STGI after it and prints
 * the exit line (svm_print_exit) unless svm_quiet is set.
 */
uint64_t svm_run_raw(svm_vmcb *v);
uint64_t svm_run(svm_vmcb *v);
extern bool svm_quiet;
/* "exit code=0x.. info1=0x.. info2=0x.. nrip=0x.. intinfo=0x.." */
void svm_print_exit(const svm_vmcb *v);

/*
 * Checks one exit: EXITCODE = code; unless rip is 0, the guest RIP saved in
 * the VMCB = rip; when NRIP save is advertised and len is not 0, nRIP =
 * rip + len (15.7.1: instruction intercepts, IOIO, MSR, and #BP/#OF/#BR
 * from INT3/INTO/BOUND); no event was being delivered (EXITINTINFO.V = 0).
 */
#define SVM_CHECK_EXIT(v, code, rip, len)                                     \
    svm_check_exit(__FILE__, __LINE__, (v), (code), (rip), (len))
void svm_check_exit(const char *file, int line, const svm_vmcb *v,
                    uint64_t code, uint64_t rip, unsigned len);

/* EXITCODE is VMEXIT_INVALID (-1 as a 64-bit value, Table C-1). */
bool svm_exit_invalid(const svm_vmcb *v);

/* ---------------------------------------- kernels that end in shutdown -- */

/*
 * Some outcomes end the whole run: DESIGN.md's rule R2 (L2 clears
 * EFER.SVME without L1 intercepting the write: L1 shuts down) and a triple
 * fault in L2 without the SHUTDOWN intercept (APM 15.14.3: the machine
 * shuts down). A kernel that checks one cannot print PASS after it, so it
 * checks it last and its output ends with
 *     # N checks so far, none failed
 *     expect: shutdown (why)
 * which run-kernel.sh --expect-shutdown accepts only together with the
 * svmx stop line of a shutdown (docs/kernels.md section 8).
 *
 * svm_expect_shutdown ends the run with FAIL if a check failed already.
 * Otherwise it prints those two lines, writes SVM_EXITCODE_MARKER into v's
 * EXITCODE (a #VMEXIT would overwrite it: whoever inspects the VMCB after
 * the shutdown sees that none was written) and runs v. If the CPU comes
 * back to L1 it prints the exit line and what L1 finds, and ends the run
 * with FAIL - or, on QEMU TCG only, when tcg_note is not NULL and EXITCODE
 * is tcg_exitcode, with the note and PASS (a known QEMU divergence, or
 * QEMU's answer where the APM leaves the outcome undefined).
 */
#define SVM_EXITCODE_MARKER UINT64_C(0x0bad0bad0bad0bad)
__attribute__((noreturn)) void svm_expect_shutdown(svm_vmcb *v,
                                                   const char *why,
                                                   uint64_t tcg_exitcode,
                                                   const char *tcg_note);

/* ------------------------------------------------ instruction helpers -- */

static inline void svm_stgi(void) { __asm__ volatile("stgi" ::: "memory"); }
static inline void svm_clgi(void) { __asm__ volatile("clgi" ::: "memory"); }
static inline void svm_vmload(void *p)
{
    __asm__ volatile("vmload %%rax" : : "a"((uint64_t)(uintptr_t)p) : "memory");
}
static inline void svm_vmsave(void *p)
{
    __asm__ volatile("vmsave %%rax" : : "a"((uint64_t)(uintptr_t)p) : "memory");
}
static inline uint64_t svm_pa(const void *p) { return (uint64_t)(uintptr_t)p; }

/* EFER.SVME on or off (WRMSR). */
void svm_set_svme(bool on);

/*
 * A guest snippet: top-level assembly in .text, `name` at its first byte,
 * with any labels it defines visible to C through SVM_LABEL. The body must
 * end by leaving the guest (usually vmmcall).
 */
#define SVM_SNIPPET(name, body)                                               \
    __asm__(".pushsection .text\n\t.balign 16\n\t.globl " #name "\n" #name    \
            ":\n\t" body "\n\t.popsection\n")
#define SVM_LABEL(name) extern const uint8_t name[]
#define SVM_ADDR(name)  ((uint64_t)(uintptr_t)(name))

#endif /* SVM_H */
