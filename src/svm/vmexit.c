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
 * Exit"; Table B-1 for the control fields). NRIP, the decode-assist bytes
 * and G_PAT follow, each under its condition. An X-list, so that the copy
 * into the page (write_back) is one fixed-size move per field.
 */
#define EXIT_FIELDS(X)                                                        \
    X(ES_SELECTOR) X(ES_ATTRIB) X(ES_LIMIT) X(ES_BASE)                        \
    X(CS_SELECTOR) X(CS_ATTRIB) X(CS_LIMIT) X(CS_BASE)                        \
    X(SS_SELECTOR) X(SS_ATTRIB) X(SS_LIMIT) X(SS_BASE)                        \
    X(DS_SELECTOR) X(DS_ATTRIB) X(DS_LIMIT) X(DS_BASE)                        \
    X(GDTR_LIMIT) X(GDTR_BASE) X(IDTR_LIMIT) X(IDTR_BASE)                     \
    X(CPL) X(EFER) X(CR4) X(CR3) X(CR0) X(DR7) X(DR6) X(RFLAGS) X(RIP)        \
    X(RSP) X(RAX) X(CR2)                                                      \
    X(V_TPR) X(V_IRQ) X(INTERRUPT_SHADOW)                                     \
    X(EXITCODE) X(EXITINFO1) X(EXITINFO2) X(EXITINTINFO) X(EVENTINJ)

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

/*
 * Copies field `name` of the cached VMCB to the VMCB page: straight into
 * `page` when it is RAM (VMRUN accepts no other VMCB), else through
 * svmx_mem. In a function returning svmx_status.
 */
#define PUT(name)                                                             \
    do {                                                                      \
        const uint8_t *src_ = &cpu->svm.vmcb.bytes[SVMX_VMCB_##name];         \
        if (page)                                                             \
            memcpy(page + SVMX_VMCB_##name, src_, SVM_W_##name);              \
        else                                                                  \
            SVMX_TRY(svmx_mem_write(&cpu->mem,                                \
                                    cpu->svm.vmcb_pa + SVMX_VMCB_##name,      \
                                    src_, SVM_W_##name));                     \
    } while (0)
#define PUT_FIELD(name) PUT(name);

/* Replaces the bits `mask` of a field (V_TPR, V_IRQ, INTERRUPT_SHADOW,
 * EVENTINJ, GUEST_INSTR_BYTES_COUNT: the rest of their bits are the
 * VMM's, kept as VMRUN read them). */
#define SET_BITS(v, name, mask, bits)                                         \
    SVM_PUT(v, name, (SVM_GET(v, name) & ~(uint64_t)(mask)) |                 \
                         ((uint64_t)(bits) & (mask)))

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

/* A segment into the VMCB's four fields (Table B-2), as svm_seg_store()
 * but with the widths known here, without the accessor's field lookup. */
static void seg_to(svmx_vmcb *v, svmx_vmcb_field at, const svmx_segment *s)
{
    svm_store_le(&v->bytes[at], SVM_W_ES_SELECTOR, s->selector);
    svm_store_le(&v->bytes[at + 2], SVM_W_ES_ATTRIB, s->attr & 0xfffu);
    svm_store_le(&v->bytes[at + 4], SVM_W_ES_LIMIT, s->limit);
    svm_store_le(&v->bytes[at + 8], SVM_W_ES_BASE, s->base);
}

/* Step 2 (15.6): the guest state into the cached VMCB. */
static void save_guest(svmx_cpu *cpu)
{
    svmx_vmcb *v = &cpu->svm.vmcb;
    const svmx_sregs *s = &cpu->sregs;
    seg_to(v, SVMX_VMCB_ES_SELECTOR, &s->seg[SVMX_ES]);
    seg_to(v, SVMX_VMCB_CS_SELECTOR, &s->seg[SVMX_CS]);
    seg_to(v, SVMX_VMCB_SS_SELECTOR, &s->seg[SVMX_SS]);
    seg_to(v, SVMX_VMCB_DS_SELECTOR, &s->seg[SVMX_DS]);
    SVM_PUT(v, GDTR_LIMIT, s->gdt.limit);
    SVM_PUT(v, GDTR_BASE, s->gdt.base);
    SVM_PUT(v, IDTR_LIMIT, s->idt.limit);
    SVM_PUT(v, IDTR_BASE, s->idt.base);
    SVM_PUT(v, CPL, cpu_cpl(cpu));
    SVM_PUT(v, EFER, s->efer);
    SVM_PUT(v, CR4, s->cr4);
    SVM_PUT(v, CR3, s->cr3);
    SVM_PUT(v, CR2, s->cr2);
    SVM_PUT(v, CR0, s->cr0);
    SVM_PUT(v, DR7, cpu->dregs.dr7);
    SVM_PUT(v, DR6, cpu->dregs.dr6);
    SVM_PUT(v, RFLAGS, cpu->regs.rflags);
    SVM_PUT(v, RIP, cpu->regs.rip);
    SVM_PUT(v, RSP, cpu->regs.gpr[SVMX_RSP]);
    SVM_PUT(v, RAX, cpu->regs.gpr[SVMX_RAX]);
    /* The guest's TPR, and whether its virtual interrupt is still
     * pending (15.21.2, 15.21.4); the shadow it is in (Table B-1). */
    SET_BITS(v, V_TPR, 0xf, cpu->sregs.cr8);
    SET_BITS(v, V_IRQ, SVMX_VMCB_V_IRQ_BIT,
             cpu->svm.vintr ? SVMX_VMCB_V_IRQ_BIT : 0);
    SET_BITS(v, INTERRUPT_SHADOW, SVMX_VMCB_INTERRUPT_SHADOW_BIT,
             cpu->events.shadow ? SVMX_VMCB_INTERRUPT_SHADOW_BIT : 0);
    if (cpu->svm.np)
        SVM_PUT(v, G_PAT, cpu->msr.pat);
}

/* Step 3: the exit information; EVENTINJ's valid bit clears (15.20). */
static void save_exit(svmx_cpu *cpu, const svm_exit *e)
{
    svmx_vmcb *v = &cpu->svm.vmcb;
    SVM_PUT(v, EXITCODE, e->code);
    SVM_PUT(v, EXITINFO1, e->info1);
    SVM_PUT(v, EXITINFO2, e->info2);
    SVM_PUT(v, EXITINTINFO, e->intinfo);
    SET_BITS(v, EVENTINJ, SVMX_SVM_EVENT_VALID, 0);
    SVM_PUT(v, NRIP, e->nrip);
    if ((cpu->svm.features & SVMX_SVM_FEATURE_DECODE_ASSISTS) &&
        (e->code == SVMX_SVM_EXIT_EXCP(CPU_VEC_PF) ||
         e->code == SVMX_SVM_EXIT_NPF)) {
        uint8_t b[SVMX_INSN_MAX_LEN] = { 0 };
        unsigned n = fetch_bytes(cpu, b);
        SET_BITS(v, GUEST_INSTR_BYTES_COUNT, 0xf, n);
        memcpy(&v->bytes[SVMX_VMCB_GUEST_INSTR_BYTES], b, sizeof b);
    }
}

/* Step 4: the VMCB page. NRIP with NRIP save (15.7.1), the instruction
 * bytes with decode assists for #PF and NPF (15.33), G_PAT with nested
 * paging (15.25.8). */
static svmx_status write_back(svmx_cpu *cpu, uint64_t code)
{
    uint32_t feat = cpu->svm.features;
    uint8_t *page = svmx_mem_ram_ptr(&cpu->mem, cpu->svm.vmcb_pa,
                                     SVMX_VMCB_SIZE);
    /* Stores into RAM, not through the hostmap (hostmap.h): the fast
     * loop's hints are void if the page holds code it verified. */
    if (page)
        hostmap_wrote(&cpu->hostmap, page);
    else
        hostmap_epoch_end(&cpu->hostmap);
    EXIT_FIELDS(PUT_FIELD)
    if (feat & SVMX_SVM_FEATURE_NRIPS)
        PUT(NRIP);
    if ((feat & SVMX_SVM_FEATURE_DECODE_ASSISTS) &&
        (code == SVMX_SVM_EXIT_EXCP(CPU_VEC_PF) || code == SVMX_SVM_EXIT_NPF)) {
        PUT(GUEST_INSTR_BYTES_COUNT);
        PUT(GUEST_INSTR_BYTES);
    }
    if (cpu->svm.np)
        PUT(G_PAT);
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
static cpu_res restore_host(svmx_cpu *cpu)
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
    save_guest(cpu);                                        /* 2 */
    save_exit(cpu, e);                                      /* 3 */
    svmx_status st = write_back(cpu, e->code);              /* 4 */
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
