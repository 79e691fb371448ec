/*
 * src/nested/digest.c - svmx_cpu_digest(): one XXH3-64 over the
 * architectural state, for comparing two implementations quickly
 * (DESIGN.md, "Outcome records").
 *
 * docs/digest.md is the specification, and this file follows it section
 * by section: a fixed string of 0x6B8 bytes, every field a little-endian
 * 64-bit word except the VMCB's state-save bytes at the end, hashed with
 * XXH3_64bits (seed 0). Fields are written one by one, never as structs,
 * so no padding, host pointer or host byte order reaches the hash; the
 * decode cache, the TLB, the L0 policy and the controls VMRUN cached are
 * model internals and are not read.
 *
 * The L1 state that guest mode keeps (cpu->svm.host) is hashed: it is
 * what L1 runs with after the next #VMEXIT, so two implementations that
 * differ there have already diverged. Silicon keeps it in the host save
 * area in a format of its own; the digest defines its own serialization,
 * so that format does not matter.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "cpu/cpu_internal.h"
#include "cpu/msr.h"
#include "svmx/nested.h"
#include "svmx/svm.h"

/* Bumped whenever a byte of the layout changes meaning. */
#define DIGEST_FORMAT 1u

/* The VMCB bytes hashed: the state-save area, APM Vol. 2 Table B-2
 * (offsets 0x000-0x2FF of the table, 0x400-0x6FF of the page). */
#define DIGEST_SAVE_OFF 0x400u
#define DIGEST_SAVE_LEN 0x300u

/*
 * The MSRs hashed, in this order (docs/digest.md "MSRs"). EFER, FS_BASE
 * and GS_BASE are hashed with the registers they are; IA32_TSC and the
 * performance counters are not state two implementations can agree on,
 * nor is IA32_MISC_ENABLE's model-specific reset value; the VMX
 * capability MSRs are constants of the personality.
 */
#define DIGEST_MSRS(X)                                                        \
    X(IA32_APIC_BASE)                                                         \
    X(IA32_FEATURE_CONTROL)        /* Intel */                                \
    X(IA32_SYSENTER_CS)                                                       \
    X(IA32_SYSENTER_ESP)                                                      \
    X(IA32_SYSENTER_EIP)                                                      \
    X(IA32_PAT)                                                               \
    X(IA32_STAR)                                                              \
    X(IA32_LSTAR)                                                             \
    X(IA32_CSTAR)                                                             \
    X(IA32_FMASK)                                                             \
    X(IA32_KERNEL_GS_BASE)                                                    \
    X(IA32_TSC_AUX)                                                           \
    X(VM_CR)                       /* AMD */                                  \
    X(VM_HSAVE_PA)                 /* AMD */

enum {
#define DIGEST_MSR_ENUM_(name) DIGEST_MSR_##name,
    DIGEST_MSRS(DIGEST_MSR_ENUM_)
#undef DIGEST_MSR_ENUM_
    DIGEST_MSR_COUNT
};

static const uint32_t digest_msrs[DIGEST_MSR_COUNT] = {
#define DIGEST_MSR_ROW_(name) [DIGEST_MSR_##name] = CPU_MSR_##name,
    DIGEST_MSRS(DIGEST_MSR_ROW_)
#undef DIGEST_MSR_ROW_
};

/* Where each section starts: docs/digest.md's table. */
enum {
    OFF_FORMAT      = 0x000,
    OFF_LEVEL       = 0x008,
    OFF_GPR         = 0x010, /* 16 words, hardware order        */
    OFF_RIP         = 0x090,
    OFF_RFLAGS      = 0x098,
    OFF_SEG         = 0x0a0, /* 8 segments of 4 words           */
    OFF_DTABLE      = 0x1a0, /* GDTR base, limit, IDTR ...      */
    OFF_CR          = 0x1c0, /* CR0 CR2 CR3 CR4 CR8 EFER XCR0   */
    OFF_DR          = 0x1f8, /* DR0-DR3 DR6 DR7                 */
    OFF_EVENTS      = 0x228, /* activity, GIF, shadow, NMI      */
    OFF_MSR_PRESENT = 0x248,
    OFF_MSR         = 0x250,
    OFF_L1          = 0x2c0,
    OFF_VMCB_PA     = 0x3b0,
    OFF_VMCB_SAVE   = 0x3b8,
    DIGEST_BYTES    = 0x6b8
};

_Static_assert(OFF_MSR + 8 * DIGEST_MSR_COUNT == OFF_L1,
               "digest: the MSR list and the layout disagree");
_Static_assert(OFF_VMCB_SAVE + DIGEST_SAVE_LEN == DIGEST_BYTES,
               "digest: the save area and the layout disagree");
_Static_assert(DIGEST_MSR_COUNT <= 64, "digest: presence mask is 64 bits");
_Static_assert(DIGEST_SAVE_OFF + DIGEST_SAVE_LEN <= SVMX_VMCB_SIZE &&
               SVMX_VMCB_ES_SELECTOR == DIGEST_SAVE_OFF &&
               SVMX_VMCB_SPEC_CTRL + 8 <= DIGEST_SAVE_OFF + DIGEST_SAVE_LEN,
               "digest: the save area is not where svm.h puts it");

/* ----------------------------------------------------------- writer -- */

typedef struct writer {
    uint8_t buf[DIGEST_BYTES];
    size_t  n;
    bool    ok;      /* every section started where the layout says */
} writer;

static void put(writer *w, uint64_t v)
{
    if (w->n + 8 > sizeof w->buf) {
        w->ok = false;
        return;
    }
    for (unsigned i = 0; i < 8; i++)
        w->buf[w->n++] = (uint8_t)(v >> (8 * i));
}

static void section(writer *w, size_t off)
{
    if (w->n != off)
        w->ok = false;
}

static void put_seg(writer *w, const svmx_segment *s)
{
    put(w, s->selector);
    put(w, s->attr);
    put(w, s->limit);
    put(w, s->base);
}

static void put_dtables(writer *w, const svmx_dtable *gdt,
                        const svmx_dtable *idt)
{
    put(w, gdt->base);
    put(w, gdt->limit);
    put(w, idt->base);
    put(w, idt->limit);
}

/* ---------------------------------------------------------- sections -- */

/*
 * L1's state while L2 runs: what #VMEXIT gives L1 back (APM Vol. 2 15.6).
 * TPR and PAT are the values L1 has after #VMEXIT: its own, kept at
 * VMRUN, when L2 had a copy of its own (V_INTR_MASKING: V_TPR; nested
 * paging: G_PAT), else the one register both levels share. Outside guest
 * mode the section is zero.
 */
static void put_l1(writer *w, const svmx_cpu *cpu, const svmx_sregs *s,
                   uint64_t pat)
{
    if (!cpu->svm.guest) {
        for (size_t i = OFF_L1; i < OFF_VMCB_PA; i += 8)
            put(w, 0);
        return;
    }
    const svm_host_state *h = &cpu->svm.host;
    bool masking = (svmx_vmcb_get(&cpu->svm.vmcb, SVMX_VMCB_V_INTR_MASKING) &
                    SVMX_VMCB_V_INTR_MASKING_BIT) != 0;
    put_seg(w, &h->es);
    put_seg(w, &h->cs);
    put_seg(w, &h->ss);
    put_seg(w, &h->ds);
    put_dtables(w, &h->gdt, &h->idt);
    put(w, h->efer);
    put(w, h->cr0);
    put(w, h->cr3);
    put(w, h->cr4);
    put(w, h->rflags);
    put(w, h->rip);
    put(w, h->rsp);
    put(w, h->rax);
    put(w, masking ? h->cr8 : s->cr8);
    put(w, cpu->svm.np ? h->pat : pat);
}

/*
 * The VMCB: the one L1's VMRUN runs in guest mode, else the last one a
 * VMRUN entered the guest with since RESET; 0 for none. Its state-save
 * bytes as guest memory holds them (the model writes the page only at
 * #VMEXIT), zero for none or when they are not all in RAM.
 */
static void put_vmcb(writer *w, const svmx_cpu *cpu)
{
    uint64_t pa = cpu->svm.vmcb_pa;
    put(w, pa);
    const uint8_t *save = NULL;
    if (pa != 0 && pa <= UINT64_MAX - SVMX_VMCB_SIZE)
        save = svmx_mem_ram_ptr(&cpu->mem, pa + DIGEST_SAVE_OFF,
                                DIGEST_SAVE_LEN);
    if (w->n + DIGEST_SAVE_LEN > sizeof w->buf) {
        w->ok = false;
        return;
    }
    if (save)
        memcpy(&w->buf[w->n], save, DIGEST_SAVE_LEN);
    else
        memset(&w->buf[w->n], 0, DIGEST_SAVE_LEN);
    w->n += DIGEST_SAVE_LEN;
}

/* ------------------------------------------------------------ digest -- */

svmx_status svmx_cpu_digest(const svmx_cpu *cpu, uint64_t *digest)
{
    if (!cpu || !digest)
        return SVMX_E_ARG;
    svmx_regs r;
    svmx_sregs s;
    svmx_dregs d;
    svmx_events e;
    SVMX_TRY(svmx_cpu_get_regs(cpu, &r));
    SVMX_TRY(svmx_cpu_get_sregs(cpu, &s));
    SVMX_TRY(svmx_cpu_get_dregs(cpu, &d));
    SVMX_TRY(svmx_cpu_get_events(cpu, &e));

    uint64_t msr[DIGEST_MSR_COUNT], present = 0;
    for (size_t i = 0; i < DIGEST_MSR_COUNT; i++) {
        svmx_status st = svmx_cpu_get_msr(cpu, digest_msrs[i], &msr[i]);
        if (st == SVMX_E_FIELD)
            msr[i] = 0; /* this personality lacks it */
        else if (st != SVMX_OK)
            return st;
        else
            present |= 1ull << i;
    }

    /* ~1.7 KiB, on the stack: the call allocates nothing. */
    writer w = { .n = 0, .ok = true };
    section(&w, OFF_FORMAT);
    put(&w, DIGEST_FORMAT);
    section(&w, OFF_LEVEL);     /* VMX non-root operation: format 2 */
    put(&w, cpu->svm.guest ? SVMX_LEVEL_L2 : SVMX_LEVEL_L1);
    section(&w, OFF_GPR);
    for (unsigned i = 0; i < SVMX_GPR_COUNT; i++)
        put(&w, r.gpr[i]);
    section(&w, OFF_RIP);
    put(&w, r.rip);
    section(&w, OFF_RFLAGS);
    put(&w, r.rflags);
    section(&w, OFF_SEG);
    for (unsigned i = 0; i < SVMX_SREG_COUNT; i++)
        put_seg(&w, &s.seg[i]);
    section(&w, OFF_DTABLE);
    put_dtables(&w, &s.gdt, &s.idt);
    section(&w, OFF_CR);
    put(&w, s.cr0);
    put(&w, s.cr2);
    put(&w, s.cr3);
    put(&w, s.cr4);
    put(&w, s.cr8);
    put(&w, s.efer);
    put(&w, s.xcr0);
    section(&w, OFF_DR);
    for (unsigned i = 0; i < 4; i++)
        put(&w, d.dr[i]);
    put(&w, d.dr6);
    put(&w, d.dr7);
    section(&w, OFF_EVENTS);
    put(&w, e.activity);
    put(&w, e.gif);
    put(&w, e.shadow);
    put(&w, e.nmi_masked);
    section(&w, OFF_MSR_PRESENT);
    put(&w, present);
    section(&w, OFF_MSR);
    for (size_t i = 0; i < DIGEST_MSR_COUNT; i++)
        put(&w, msr[i]);
    section(&w, OFF_L1);
    put_l1(&w, cpu, &s, msr[DIGEST_MSR_IA32_PAT]);
    section(&w, OFF_VMCB_PA);
    put_vmcb(&w, cpu);
    section(&w, DIGEST_BYTES);
    if (!w.ok)
        return SVMX_E_INTERNAL;
    *digest = XXH3_64bits(w.buf, w.n);
    return SVMX_OK;
}
