/*
 * src/svm/vmrun.c - the world switch into the guest: VMRUN after its
 * instruction checks (APM Vol. 2 15.5.1 "Basic Operation", Vol. 3
 * VMRUN), and the event injection that ends it (15.20).
 *
 * The order, as numbered below:
 *   1. the VMCB's control area is read once into cpu->svm.vmcb, all of
 *      it on every VMRUN: the guest's later writes to the page have no
 *      effect on the running guest's controls until the next VMRUN
 *      (15.15); the state-save area is read from the page itself by the
 *      checks and step 5, before anything can write the page (only
 *      step 7's event delivery can);
 *   2. the consistency checks (svm_vmrun_check_fast, else
 *      svmx_svm_vmrun_check; vmrun_check.c) and, for a PAE guest without
 *      nested paging, its four PDPTEs: a failure is
 *      #VMEXIT(VMEXIT_INVALID) before any state changes;
 *   3. the host state is kept inside the model (svm_state.h: nothing is
 *      written to the VM_HSAVE_PA page, whose format 15.30.4 leaves to the
 *      implementation);
 *   4. the controls: TSC offset, nested paging, V_IRQ (the intercepts
 *      were reduced to the advertised features in step 1);
 *   5. the guest state; the CPL field becomes SS.DPL, which is how the
 *      model keeps the CPL;
 *   6. the guest's TLB context (GUEST_ASID) becomes current, flushed as
 *      TLB_CONTROL asks, or whole when its entries were made from other
 *      paging inputs (15.16, paging.h); the host's entries stay;
 *   7. GIF := 1, and the guest runs, starting with EVENTINJ.
 */
#include <string.h>

#include "cpu/exec.h"
#include "cpu/paging.h"
#include "svm/svm_exec.h"
#include "svm/svm_internal.h"
#include "svm/vmrun_check.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------ the VMCB page -- */

/* Where the control area's last listed field ends (the lists are in
 * offset order, which vmcb.c checks). The bytes outside [0, CTRL_END)
 * are reserved or hold nothing the model has, so no accessor can reach
 * them in the copy. */
static const uint16_t ctrl_ends[] = {
#define ROW_END(name, off, width, kind) (off) + (width),
    SVMX_VMCB_CONTROL_FIELDS(ROW_END)
#undef ROW_END
};
#define CTRL_END   ctrl_ends[COUNT_OF(ctrl_ends) - 1]
#define CTRL_SPLIT 0xc0 /* 192 bytes, then the other 176 (read_vmcb) */
#define INTERCEPT_BYTES (SVMX_VMCB_INTERCEPT_MISC3 + 4)
_Static_assert(SVMX_VMCB_ES_SELECTOR == 0x400,
               "the save area starts at 0x400 (Table B-2)");
/* The page is read in place as an svmx_vmcb (step 2 and 5). */
_Static_assert(_Alignof(svmx_vmcb) == 1, "a VMCB is bytes at any address");

/*
 * Step 1. VMCB clean bits (15.15.3) are advertised but not used: a set
 * bit allows the processor to take its group of fields from a cached
 * copy instead of the VMCB, it never obliges it, so reloading every group
 * is always correct. Here the reload is the control area, about 370
 * bytes, and of the save area G_PAT, which the running guest's nested
 * paging keeps (npt_g_pat); the rest of the save area is guest state,
 * which step 5 loads into the registers. The one piece of derived state
 * worth keeping - the masked intercepts - is kept below without trusting
 * the VMM's bits.
 *
 * The intercept words are reduced to the advertised features here, not
 * after the checks (none of the checks looks at a feature-gated bit).
 * That keeps the copy's words always a result of svm_mask_intercepts()
 * (all zero after RESET, which it leaves alone), so, the masking being
 * idempotent, words equal to the copy's are already masked: a VMM that
 * does not change its intercepts between runs costs a 24-byte compare
 * instead of the feature lookups.
 */
static void read_vmcb(svmx_cpu *cpu, const uint8_t *page)
{
    svmx_vmcb *v = &cpu->svm.vmcb;
    bool masked = memcmp(v->bytes, page, INTERCEPT_BYTES) == 0;
    /* In two parts of at most 256 bytes: compilers copy those with
     * vector moves, the whole area at once with a string instruction,
     * which costs more at this size. */
    memcpy(v->bytes, page, CTRL_SPLIT);
    memcpy(v->bytes + CTRL_SPLIT, page + CTRL_SPLIT, CTRL_END - CTRL_SPLIT);
    memcpy(v->bytes + SVMX_VMCB_G_PAT, page + SVMX_VMCB_G_PAT, SVM_W_G_PAT);
    if (!masked)
        svm_mask_intercepts(cpu);
}

/* ---------------------------------------------------------- failure -- */

/*
 * #VMEXIT(VMEXIT_INVALID) from VMRUN (15.5.1): EXITCODE = -1 and
 * EXITINFO1/2 = 0 are the only fields written - the guest never ran, so
 * there is no guest state to save and EVENTINJ was not taken; GIF clears
 * as on every #VMEXIT; the host goes on after VMRUN with its own state,
 * which never changed.
 */
static cpu_res vmrun_invalid(svmx_cpu *cpu, uint64_t pa)
{
    static const svmx_vmcb_field fields[] = {
        SVMX_VMCB_EXITCODE, SVMX_VMCB_EXITINFO1, SVMX_VMCB_EXITINFO2,
    };
    svmx_vmcb *v = &cpu->svm.vmcb;
    svmx_vmcb_set(v, SVMX_VMCB_EXITCODE, (uint64_t)(int64_t)SVMX_SVM_EXIT_INVALID);
    svmx_vmcb_set(v, SVMX_VMCB_EXITINFO1, 0);
    svmx_vmcb_set(v, SVMX_VMCB_EXITINFO2, 0);
    cpu->events.gif = false;
    svmx_status st = svm_vmcb_put(cpu, pa, v, fields, 3);
    if (st == SVMX_OK)
        return CPU_OK;
    if (cpu->stop)
        cpu->stop->handler_status = st;
    return exec_stop(cpu, SVMX_STOP_MMIO, "MMIO handler failed on the VMCB");
}

/* ---------------------------------------------------- event injection -- */

/*
 * EVENTINJ (15.20, Figure 15-5) as the event exec_deliver() takes. The
 * consistency checks already refused the reserved types. An injected
 * event is pushed as given (fault.h: cpu_fault.injected): the error code
 * of a TYPE 3 event whenever EV is set, RFLAGS as it is, no CR2 write for
 * #PF (the VMM sets CR2). With NRIP save the CPU takes the return address
 * of a software interrupt (TYPE 4) and of #BP/#OF (TYPE 3, vectors 3 and
 * 4, which INT3 and INTO raise) from NRIP, so injection advances RIP past
 * the instruction (the behaviour KVM relies on, svm.c
 * svm_update_soft_interrupt_rip: without NextRIP "hardware will fail to
 * advance guest RIP during event injection"); every other event returns
 * to RIP. RIP itself stays the guest's RIP, which a #VMEXIT during the
 * delivery saves (KVM svm_complete_soft_interrupt finds the old RIP).
 * RIP and CR2 come from the page `g`, read before the delivery writes
 * any memory.
 */
static void injected_event(const svmx_cpu *cpu, const svmx_vmcb *g,
                           cpu_fault *e)
{
    const svmx_vmcb *v = &cpu->svm.vmcb;
    uint64_t ev = svm_rd64(v, SVMX_VMCB_EVENTINJ);
    unsigned type = SVMX_SVM_EVENT_TYPE(ev);
    uint8_t vec = (uint8_t)SVMX_SVM_EVENT_VECTOR(ev);
    bool soft = type == SVMX_SVM_EVENT_TYPE_SWINT ||
                (type == SVMX_SVM_EVENT_TYPE_EXCEPTION &&
                 (vec == CPU_VEC_BP || vec == CPU_VEC_OF));
    cpu_raise(e, vec, false, 0);
    e->injected = true;
    e->inj_rip = soft && (cpu->svm.features & SVMX_SVM_FEATURE_NRIPS)
                     ? svm_rd64(v, SVMX_VMCB_NRIP)
                     : svm_rd64(g, SVMX_VMCB_RIP);
    switch (type) {
    case SVMX_SVM_EVENT_TYPE_INTR:
        e->kind = CPU_EV_EXTINT;
        break;
    case SVMX_SVM_EVENT_TYPE_NMI:
        e->kind = CPU_EV_NMI;
        e->vector = CPU_VEC_NMI; /* the vector field is ignored */
        break;
    case SVMX_SVM_EVENT_TYPE_SWINT:
        e->kind = CPU_EV_SOFTINT;
        break;
    default:
        e->has_error = (ev & SVMX_SVM_EVENT_EV) != 0;
        e->error = SVMX_SVM_EVENT_ERRORCODE(ev);
        e->payload = svm_rd64(g, SVMX_VMCB_CR2);
        break;
    }
}

/* Step 7: delivers EVENTINJ through the guest's IDT. A fault on the way
 * is checked against the exception intercepts like any (15.20: "the
 * injected event ... its delivery may cause an intercept"), with the
 * injected event in EXITINTINFO. */
static cpu_res inject(svmx_cpu *cpu, const cpu_fault *e)
{
    cpu_res r = exec_deliver(cpu, e);
    if (r == CPU_OK)
        cpu->events.shadow = 0; /* the handler's first instruction runs */
    if (r == CPU_STOP)
        cpu->svm.pending.stop = true;
    return CPU_EXIT;
}

/* ------------------------------------------------------------ steps -- */

/* Step 3. RIP is already the instruction after VMRUN (exec.h): #VMEXIT
 * returns there. */
static void save_host(svmx_cpu *cpu)
{
    svm_host_state *h = &cpu->svm.host;
    const svmx_sregs *s = &cpu->sregs;
    h->es = s->seg[SVMX_ES];
    h->cs = s->seg[SVMX_CS];
    h->ss = s->seg[SVMX_SS];
    h->ds = s->seg[SVMX_DS];
    h->gdt = s->gdt;
    h->idt = s->idt;
    h->efer = s->efer;
    h->cr0 = s->cr0;
    h->cr3 = s->cr3;
    h->cr4 = s->cr4;
    h->cr8 = s->cr8;
    h->rflags = cpu->regs.rflags;
    h->rip = cpu->regs.rip;
    h->rsp = cpu->regs.gpr[SVMX_RSP];
    h->rax = cpu->regs.gpr[SVMX_RAX];
    h->pat = cpu->msr.pat;
}

/* A segment from the VMCB's four fields (Table B-2), as svm_seg_load()
 * but with the widths known here, without the accessor's field lookup. */
static svmx_segment seg_from(const svmx_vmcb *v, svmx_vmcb_field at)
{
    return (svmx_segment){
        .selector = svm_rd16(v, at),
        .attr = (uint16_t)(svm_rd16(v, (svmx_vmcb_field)(at + 2)) & 0xfffu),
        .limit = svm_rd32(v, (svmx_vmcb_field)(at + 4)),
        .base = svm_rd64(v, (svmx_vmcb_field)(at + 8)),
    };
}

/*
 * Step 5 (15.5.1 "loads ... the guest state"): ES, CS, SS, DS, GDTR,
 * IDTR, EFER, CR4, CR3, CR0, CR2, DR7, DR6, RFLAGS, RIP, RSP, RAX, and
 * the CPL into SS.DPL. DR6/DR7 keep their fixed bits and RFLAGS its
 * defined ones, as the registers hold them. Under V_INTR_MASKING the
 * guest's CR8 is V_TPR (15.21.2); with nested paging its PAT is G_PAT
 * (15.25.8). The interrupt shadow comes from INTERRUPT_SHADOW. The state
 * comes from the page `g`, the controls from the cached VMCB.
 */
static void load_guest(svmx_cpu *cpu, const svmx_vmcb *g)
{
    const svmx_vmcb *v = &cpu->svm.vmcb;
    svmx_sregs *s = &cpu->sregs;
    unsigned cpl = svm_rd8(g, SVMX_VMCB_CPL) & 3u;
    s->seg[SVMX_ES] = seg_from(g, SVMX_VMCB_ES_SELECTOR);
    s->seg[SVMX_CS] = seg_from(g, SVMX_VMCB_CS_SELECTOR);
    s->seg[SVMX_SS] = seg_from(g, SVMX_VMCB_SS_SELECTOR);
    s->seg[SVMX_DS] = seg_from(g, SVMX_VMCB_DS_SELECTOR);
    s->seg[SVMX_SS].attr = (uint16_t)((s->seg[SVMX_SS].attr & ~0x60u) |
                                      cpl << 5);
    s->gdt = (svmx_dtable){ svm_rd64(g, SVMX_VMCB_GDTR_BASE),
                            (uint16_t)svm_rd32(g, SVMX_VMCB_GDTR_LIMIT) };
    s->idt = (svmx_dtable){ svm_rd64(g, SVMX_VMCB_IDTR_BASE),
                            (uint16_t)svm_rd32(g, SVMX_VMCB_IDTR_LIMIT) };
    s->efer = svm_rd64(g, SVMX_VMCB_EFER);
    s->cr4 = svm_rd64(g, SVMX_VMCB_CR4);
    s->cr3 = svm_rd64(g, SVMX_VMCB_CR3);
    s->cr0 = svm_rd64(g, SVMX_VMCB_CR0);
    s->cr2 = svm_rd64(g, SVMX_VMCB_CR2);
    cpu->dregs.dr7 = (svm_rd64(g, SVMX_VMCB_DR7) & CPU_DR7_WRITABLE) |
                     CPU_DR7_FIXED1;
    cpu->dregs.dr6 = (svm_rd64(g, SVMX_VMCB_DR6) & CPU_DR6_WRITABLE) |
                     CPU_DR6_FIXED1;
    cpu->regs.rflags = (svm_rd64(g, SVMX_VMCB_RFLAGS) & SVMX_RFLAGS_DEFINED) |
                       SVMX_RFLAGS_FIXED;
    cpu->regs.rip = svm_rd64(g, SVMX_VMCB_RIP);
    cpu->regs.gpr[SVMX_RSP] = svm_rd64(g, SVMX_VMCB_RSP);
    cpu->regs.gpr[SVMX_RAX] = svm_rd64(g, SVMX_VMCB_RAX);
    if (svm_rd8(v, SVMX_VMCB_V_INTR_MASKING) & SVMX_VMCB_V_INTR_MASKING_BIT)
        s->cr8 = svm_rd8(v, SVMX_VMCB_V_TPR) & 0xfu;
    if (cpu->svm.np)
        cpu->msr.pat = svm_rd64(v, SVMX_VMCB_G_PAT);
    cpu->events.shadow = (svm_rd64(v, SVMX_VMCB_INTERRUPT_SHADOW) &
                          SVMX_VMCB_INTERRUPT_SHADOW_BIT) ? SVMX_SHADOW_STI : 0;
    cpu->events.activity = SVMX_ACTIVITY_ACTIVE;
    cpu->db_deferred = false;
}

/* -------------------------------------------------------------- VMRUN -- */

cpu_res svm_vmrun(svmx_cpu *cpu, uint64_t pa, uint8_t *page)
{
    svmx_vmcb *v = &cpu->svm.vmcb;
    const svmx_vmcb *g = (const svmx_vmcb *)page; /* the save area */
    const svmx_svm_caps *caps;
    svmx_svm_check_result chk;
    cpu_fault ev, f;
    cpu_res r;

    /* 1: insn_vmrun found the page in RAM, just now */
    if (page)
        read_vmcb(cpu, page);
    if (!page || !(caps = svm_caps(cpu)))
        return exec_stop(cpu, SVMX_STOP_UNSUPPORTED,
                         "VMRUN: internal error reading the VMCB");
    /* 2: the quick test, else the full checks to decide */
    if (!svm_vmrun_check_fast(g, caps)) {
        if (svmx_svm_vmrun_check(g, caps, &chk) != SVMX_OK)
            return exec_stop(cpu, SVMX_STOP_UNSUPPORTED,
                             "VMRUN: internal error reading the VMCB");
        if (chk.first != SVMX_SVM_CHECK_OK)
            return vmrun_invalid(cpu, pa);
    }
    uint64_t cr0 = svm_rd64(g, SVMX_VMCB_CR0), cr4 = svm_rd64(g, SVMX_VMCB_CR4);
    uint64_t efer = svm_rd64(g, SVMX_VMCB_EFER);
    bool np = (caps->svm_features & SVMX_SVM_FEATURE_NP) &&
              (svm_rd64(v, SVMX_VMCB_NP_ENABLE) & SVMX_VMCB_NP_ENABLE_BIT);
    bool pdptes = !np && svm_pae_legacy(cr0, cr4, efer);
    cpu->svm.features = caps->svm_features;
    if (pdptes) {
        /* 15.5.1: VMRUN loads a PAE guest's PDPTEs; a reserved bit in one
         * is an illegal guest state (docs/svm.md). The check leaves the
         * host's PDPTE registers as they were when it fails. */
        r = paging_load_pdptes(cpu, svm_rd64(g, SVMX_VMCB_CR3), &f);
        if (r == CPU_FAULT)
            return vmrun_invalid(cpu, pa);
        if (r != CPU_OK)
            return r;
    }
    /* 3: the host's TLB context is left with its state still in */
    paging_leave(cpu);
    save_host(cpu);
    /* 4: the intercepts were masked in step 1 */
    cpu->svm.vmcb_pa = pa;
    cpu->svm.vmcb_page = page;
    cpu->svm.np = np;
    cpu->svm.tsc_offset = svm_rd64(v, SVMX_VMCB_TSC_OFFSET);
    cpu->svm.vintr = (svm_rd8(v, SVMX_VMCB_V_IRQ) & SVMX_VMCB_V_IRQ_BIT) != 0;
    cpu->svm.pending.valid = false;
    cpu->svm.pending.stop = false;
    /* 5 */
    load_guest(cpu, g);
    cpu->svm.guest = true;
    /* 6: keep the PDPTEs just loaded; with nested paging the walker reads
     * the guest's through the nested tables. */
    if (!pdptes)
        cpu->tlb.pdpte_loaded = false;
    paging_enter(cpu, svm_rd32(v, SVMX_VMCB_GUEST_ASID),
                 svm_rd8(v, SVMX_VMCB_TLB_CONTROL));
    /* 7 */
    cpu->events.gif = true;
    if (!(svm_rd64(v, SVMX_VMCB_EVENTINJ) & SVMX_SVM_EVENT_VALID))
        return CPU_EXIT;
    injected_event(cpu, g, &ev);
    return inject(cpu, &ev);
}
