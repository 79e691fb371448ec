/*
 * src/svm/vmexit.c - #VMEXIT (APM Vol. 2 15.6): the guest state and the
 * exit information go into the VMCB, the host state saved at VMRUN comes
 * back, GIF clears.
 *
 * The VMCB page gets exactly the fields the APM lists as written at
 * #VMEXIT - the guest state a VMRUN loads, the interrupt-control and exit
 * fields - and nothing the guest could not have changed: not the
 * intercepts, not the state VMLOAD/VMSAVE own (FS, GS, TR, LDTR,
 * KernelGSBase, STAR, LSTAR, CSTAR, SFMASK, SYSENTER_*), not TSC_OFFSET.
 */
#include <string.h>

#include "cpu/exec.h"
#include "cpu/paging.h"
#include "svm/svm_exec.h"
#include "svm/svm_internal.h"

/*
 * The fields #VMEXIT writes (15.6 "#VMEXIT", 15.7.1 "State Saved on
 * Exit"; Table B-1 for the control fields), in the order they are
 * written, each with its value: X(field, value), in a function with
 * `cpu`, `s` (its sregs) and `e` (the exit). NRIP, the decode-assist
 * bytes and G_PAT follow, each under its condition (write_vmcb). One
 * list for both ways into the page, so each field is one fixed-size
 * store.
 *
 * The guest state (step 2); then the guest's TPR and whether its virtual
 * interrupt is still pending (15.21.2, 15.21.4) and the shadow it is in
 * (Table B-1); then the exit information (step 3), EVENTINJ's valid bit
 * clearing (15.20).
 */
#define SEG_FIELDS(X, S, seg)                                                 \
    X(S##_SELECTOR, (seg).selector) X(S##_ATTRIB, (seg).attr & 0xfffu)        \
    X(S##_LIMIT, (seg).limit) X(S##_BASE, (seg).base)
#define EXIT_FIELDS(X)                                                        \
    SEG_FIELDS(X, ES, s->seg[SVMX_ES]) SEG_FIELDS(X, CS, s->seg[SVMX_CS])     \
    SEG_FIELDS(X, SS, s->seg[SVMX_SS]) SEG_FIELDS(X, DS, s->seg[SVMX_DS])     \
    X(GDTR_LIMIT, s->gdt.limit) X(GDTR_BASE, s->gdt.base)                     \
    X(IDTR_LIMIT, s->idt.limit) X(IDTR_BASE, s->idt.base)                     \
    X(CPL, cpu_cpl(cpu)) X(EFER, s->efer) X(CR4, s->cr4) X(CR3, s->cr3)       \
    X(CR0, s->cr0) X(DR7, cpu->dregs.dr7) X(DR6, cpu->dregs.dr6)              \
    X(RFLAGS, cpu->regs.rflags) X(RIP, cpu->regs.rip)                         \
    X(RSP, cpu->regs.gpr[SVMX_RSP]) X(RAX, cpu->regs.gpr[SVMX_RAX])           \
    X(CR2, s->cr2)                                                            \
    X(V_TPR, MERGE(V_TPR, 0xf, s->cr8))                                       \
    X(V_IRQ, MERGE(V_IRQ, SVMX_VMCB_V_IRQ_BIT,                                \
                   cpu->svm.vintr ? SVMX_VMCB_V_IRQ_BIT : 0))                 \
    X(INTERRUPT_SHADOW,                                                       \
      MERGE(INTERRUPT_SHADOW, SVMX_VMCB_INTERRUPT_SHADOW_BIT,                 \
            cpu->events.shadow ? SVMX_VMCB_INTERRUPT_SHADOW_BIT : 0))         \
    X(EXITCODE, e->code) X(EXITINFO1, e->info1) X(EXITINFO2, e->info2)        \
    X(EXITINTINFO, e->intinfo)                                                \
    X(EVENTINJ, MERGE(EVENTINJ, SVMX_SVM_EVENT_VALID, 0))

/* Field `name` of the cached VMCB with the bits `mask` replaced (V_TPR,
 * V_IRQ, INTERRUPT_SHADOW, EVENTINJ, GUEST_INSTR_BYTES_COUNT: the rest of
 * their bits are the VMM's, kept as VMRUN read them). */
#define MERGE(name, mask, bits)                                               \
    ((SVM_GET(&cpu->svm.vmcb, name) & ~(uint64_t)(mask)) |                    \
     ((uint64_t)(bits) & (mask)))

svmx_status svm_vmcb_put(svmx_cpu *cpu, uint64_t pa,
                         const svmx_vmcb *v, const svmx_vmcb_field *fields,
                         size_t n)
{
    /* Not through the hostmap: the fast loop's hints may be void. */
    hostmap_epoch_end(&cpu->hostmap);
    for (size_t i = 0; i < n; i++) {
        const svmx_vmcb_field_info *fi = svmx_vmcb_field_info_of(fields[i]);
        SVMX_TRY(svmx_mem_write(&cpu->mem, pa + fi->offset,
                                &v->bytes[fi->offset], fi->width));
    }
    return SVMX_OK;
}

/* A field at its offset in the VMCB page `page`, at its listed width. */
#define STORE(page, name, value)                                              \
    svm_store_le((page) + SVMX_VMCB_##name, SVM_W_##name, (value))

/* --------------------------------------------------- decode assists -- */

/*
 * The instruction bytes at the guest's CS:RIP for a #PF or NPF exit with
 * decode assists (15.33; Table B-1 GUEST_INSTR_BYTES): up to
 * 15, fetched as the guest would fetch them, ending at the first byte
 * that cannot be fetched (a fault here is not raised) or lies beyond the
 * CS limit. Returns how many.
 */
static unsigned fetch_bytes(svmx_cpu *cpu, uint8_t out[SVMX_INSN_MAX_LEN])
{
    const svmx_segment *cs = &cpu->sregs.seg[SVMX_CS];
    bool lm64 = cpu_mode(cpu) == SVMX_MODE_LONG64;
    uint64_t rip = cpu->regs.rip;
    unsigned max = SVMX_INSN_MAX_LEN, n = 0;
    unsigned acc = PG_EXEC | exec_user_flag(cpu);
    if (!lm64)
        max = rip > cs->limit ? 0
            : (unsigned)(cs->limit - rip + 1 < max ? cs->limit - rip + 1 : max);
    while (n < max) {
        uint64_t lin = lm64 ? rip + n : (cs->base + rip + n) & 0xffffffffull;
        uint64_t phys;
        cpu_fault f;
        unsigned chunk = 4096u - (unsigned)(lin & 0xfff);
        if (chunk > max - n)
            chunk = max - n;
        if (paging_translate(cpu, lin, acc, &phys, &f) != CPU_OK ||
            svmx_mem_read(&cpu->mem, phys, out + n, chunk) != SVMX_OK)
            break;
        n += chunk;
    }
    return n;
}

/* ------------------------------------------------------------ steps -- */

/* `width` bytes of `value` through svmx_mem, at `pa`. */
static svmx_status put(svmx_cpu *cpu, uint64_t pa, unsigned width,
                       uint64_t value)
{
    uint8_t b[8];
    svm_store_le(b, width, value);
    return svmx_mem_write(&cpu->mem, pa, b, width);
}

/* What write_vmcb() writes, through svmx_mem in the same order, for a
 * VMCB that is not RAM: unreachable while VMRUN accepts only RAM. */
#if defined(__GNUC__)
__attribute__((noinline, cold))
#endif
static svmx_status write_vmcb_mmio(svmx_cpu *cpu, const svm_exit *e,
                                   bool assist, const uint8_t *b, unsigned n)
{
    const svmx_sregs *s = &cpu->sregs;
    uint64_t pa = cpu->svm.vmcb_pa;
    hostmap_epoch_end(&cpu->hostmap);
#define PUT_ROW(name, value)                                                  \
    SVMX_TRY(put(cpu, pa + SVMX_VMCB_##name, SVM_W_##name, (value)));
    EXIT_FIELDS(PUT_ROW)
    if (cpu->svm.features & SVMX_SVM_FEATURE_NRIPS)
        PUT_ROW(NRIP, e->nrip)
    if (assist) {
        PUT_ROW(GUEST_INSTR_BYTES_COUNT,
                MERGE(GUEST_INSTR_BYTES_COUNT, 0xf, n))
        SVMX_TRY(svmx_mem_write(&cpu->mem, pa + SVMX_VMCB_GUEST_INSTR_BYTES,
                                b, SVM_W_GUEST_INSTR_BYTES));
    }
    if (cpu->svm.np)
        PUT_ROW(G_PAT, cpu->msr.pat)
#undef PUT_ROW
    return SVMX_OK;
}

/* Steps 2-5 inline into svm_vmexit_full(): one frame for the exit. */
#if defined(__GNUC__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif

/* The fields every #VMEXIT writes into the page in RAM: EXIT_FIELDS,
 * NRIP with NRIP save (15.7.1), G_PAT with nested paging (15.25.8).
 * Stores into RAM, not through the hostmap (hostmap.h): the fast loop's
 * hints are void if the page holds code it verified. */
static ALWAYS_INLINE void store_fields(svmx_cpu *cpu, const svm_exit *e,
                                       uint8_t *page)
{
    const svmx_sregs *s = &cpu->sregs;
    hostmap_wrote(&cpu->hostmap, page);
#define STORE_ROW(name, value) STORE(page, name, value);
    EXIT_FIELDS(STORE_ROW)
#undef STORE_ROW
    if (cpu->svm.features & SVMX_SVM_FEATURE_NRIPS)
        STORE(page, NRIP, e->nrip);
    if (cpu->svm.np)
        STORE(page, G_PAT, cpu->msr.pat);
}

/* write_vmcb() with the instruction bytes of decode assists (15.33),
 * fetched first, from memory as the guest left it, or for a VMCB that
 * is not RAM. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static svmx_status write_vmcb_slow(svmx_cpu *cpu, const svm_exit *e,
                                   bool assist)
{
    uint8_t b[SVMX_INSN_MAX_LEN] = { 0 };
    unsigned n = 0;
    _Static_assert(sizeof b == SVM_W_GUEST_INSTR_BYTES,
                   "GUEST_INSTR_BYTES holds one instruction's bytes");
    if (assist)
        n = fetch_bytes(cpu, b);
    uint8_t *page = cpu->svm.vmcb_page;
    if (!page)
        return write_vmcb_mmio(cpu, e, assist, b, n);
    store_fields(cpu, e, page);
    if (assist) {
        STORE(page, GUEST_INSTR_BYTES_COUNT,
              MERGE(GUEST_INSTR_BYTES_COUNT, 0xf, n));
        memcpy(page + SVMX_VMCB_GUEST_INSTR_BYTES, b, sizeof b);
    }
    return SVMX_OK;
}

/*
 * Steps 2-4: the fields of EXIT_FIELDS into the VMCB page; then NRIP
 * with NRIP save (15.7.1), the instruction bytes with decode assists for
 * #PF and NPF (15.33), G_PAT with nested paging (15.25.8). Straight into
 * the page VMRUN found in RAM. The instruction bytes are fetched first,
 * from memory as the guest left it (write_vmcb_slow).
 */
static ALWAYS_INLINE svmx_status write_vmcb(svmx_cpu *cpu, const svm_exit *e)
{
    bool assist = (cpu->svm.features & SVMX_SVM_FEATURE_DECODE_ASSISTS) &&
                  (e->code == SVMX_SVM_EXIT_EXCP(CPU_VEC_PF) ||
                   e->code == SVMX_SVM_EXIT_NPF);
    uint8_t *page = cpu->svm.vmcb_page;
    if (assist || !page)
        return write_vmcb_slow(cpu, e, assist);
    store_fields(cpu, e, page);
    return SVMX_OK;
}

/*
 * Step 5: the host state as VMRUN saved it, with CR0.PE forced to 1,
 * DR7 = 0x400 (all breakpoints off) and CPL 0 (SS as saved at CPL 0).
 * DR6, CR2, FS, GS, TR, LDTR and the MSRs keep the guest's values: they
 * are not part of the host save (15.5.1, 15.6). The host's TLB context
 * (ASID 0) becomes current again with its entries as VMRUN left them:
 * #VMEXIT flushes nothing (15.16). The host's PAE PDPTEs
 * reload from its CR3; one that cannot be loaded is an illegal host state,
 * which shuts the processor down (15.6: "an illegal host state ... causes
 * a shutdown"). A host single-stepping over VMRUN takes its #DB now, as
 * VMRUN completes at #VMEXIT (routing-rules.md 1.6).
 */
static ALWAYS_INLINE cpu_res restore_host(svmx_cpu *cpu)
{
    const svm_host_state *h = &cpu->svm.host;
    svmx_sregs *s = &cpu->sregs;
    const svmx_vmcb *v = &cpu->svm.vmcb;
    paging_leave(cpu); /* the guest's context, its state still in */
    if (svm_rd8(v, SVMX_VMCB_V_INTR_MASKING) & SVMX_VMCB_V_INTR_MASKING_BIT)
        s->cr8 = h->cr8;
    if (cpu->svm.np)
        cpu->msr.pat = h->pat;
    s->seg[SVMX_ES] = h->es;
    s->seg[SVMX_CS] = h->cs;
    s->seg[SVMX_SS] = h->ss;
    s->seg[SVMX_DS] = h->ds;
    s->gdt = h->gdt;
    s->idt = h->idt;
    s->efer = h->efer;
    s->cr0 = h->cr0 | CPU_CR0_PE;
    s->cr3 = h->cr3;
    s->cr4 = h->cr4;
    cpu->regs.rflags = h->rflags;
    cpu->regs.rip = h->rip;
    cpu->regs.gpr[SVMX_RSP] = h->rsp;
    cpu->regs.gpr[SVMX_RAX] = h->rax;
    cpu->dregs.dr7 = CPU_DR7_FIXED1;
    cpu->svm.guest = false;
    cpu->svm.np = false;
    cpu->svm.vintr = false;
    cpu->events.activity = SVMX_ACTIVITY_ACTIVE;
    cpu->events.shadow = 0;
    cpu->db_deferred = false;
    paging_enter(cpu, 0, 0);
    cpu->tlb.pdpte_loaded = false;
    if (svm_pae_legacy(s->cr0, s->cr4, s->efer)) {
        cpu_fault f;
        cpu_res r = paging_load_pdptes(cpu, s->cr3, &f);
        if (r == CPU_FAULT) {
            cpu->events.activity = SVMX_ACTIVITY_SHUTDOWN;
            return exec_stop(cpu, SVMX_STOP_SHUTDOWN,
                             "#VMEXIT: illegal host PDPTE");
        }
        if (r != CPU_OK)
            return r;
    }
    if ((h->rflags & SVMX_RFLAGS_TF) && !cpu->events.exc_pending) {
        cpu->events.exc_pending = true;
        cpu->events.exc_vector = CPU_VEC_DB;
        cpu->events.exc_has_error = false;
        cpu->events.exc_error = 0;
        cpu->events.exc_payload = CPU_DR6_BS;
    }
    return CPU_EXIT;
}

/* ---------------------------------------------------------- #VMEXIT -- */

/* 15.6, in its order: GIF := 0, the guest state and the exit fields into
 * the VMCB, the host state back. */
cpu_res svm_vmexit_full(svmx_cpu *cpu, const svm_exit *e)
{
    if (!cpu->svm.guest)
        return CPU_OK;
    cpu->svm.pending.valid = false;
    cpu->events.gif = false;                                /* 1 */
    svmx_status st = write_vmcb(cpu, e);                    /* 2-4 */
    cpu_res r = restore_host(cpu);                          /* 5 */
    if (st != SVMX_OK) {
        /* Unreachable while VMRUN only accepts a VMCB in RAM: the host
         * state is back, and the run stops to say the VMCB is not. */
        if (cpu->stop)
            cpu->stop->handler_status = st;
        return exec_stop(cpu, SVMX_STOP_MMIO,
                         "MMIO handler failed on the VMCB at #VMEXIT");
    }
    return r;
}

cpu_res svm_vmexit(svmx_cpu *cpu, uint64_t code, uint64_t info1,
                   uint64_t info2)
{
    return svm_vmexit_full(cpu, &(svm_exit){ .code = code, .info1 = info1,
                                             .info2 = info2 });
}

/* Rule R2 (src/nested/rules.c): out of guest mode with no #VMEXIT - no
 * guest state saved, no exit fields, GIF untouched - only the host state
 * back, as step 5 restores it. */
cpu_res svm_leave_guest(svmx_cpu *cpu)
{
    if (!cpu->svm.guest)
        return CPU_OK;
    cpu->svm.pending.valid = false;
    return restore_host(cpu);
}
