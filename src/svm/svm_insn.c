/*
 * src/svm/svm_insn.c - the SVM instructions (APM Vol. 2 15.5-15.18, Vol. 3
 * VMRUN, VMLOAD, VMSAVE, STGI, CLGI, INVLPGA, VMMCALL, SKINIT).
 *
 * Checks in the order of each instruction's pseudocode in APM Vol. 3:
 *   #UD  EFER.SVME = 0, or not in protected mode (real and virtual-8086
 *        mode: the decoder already refuses all of them but VMMCALL);
 *        on the Intel personality EFER.SVME cannot be set, so all are #UD
 *   #GP(0)  CPL != 0
 *   #GP(0)  rAX (RAX, EAX or AX by the address size) not 4 KiB aligned,
 *        at or above 2^MAXPHYADDR, or - the model's choice, docs/svm.md -
 *        not a page of RAM (VMRUN, VMLOAD, VMSAVE)
 *   the instruction's intercept (in guest mode)
 * then the operation.
 */
#include <string.h>

#include "cpu/exec.h"
#include "cpu/msr.h"
#include "cpu/paging.h"
#include "svm/svm_exec.h"
#include "svm/svm_internal.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

static cpu_res ud(cpu_fault *f)
{
    return cpu_raise(f, CPU_VEC_UD, false, 0);
}

/* #UD unless EFER.SVME (or `alt`, a feature that enables the instruction
 * without SVM) and protected mode - the mode `insn` was decoded in, the
 * CPU's; then #GP(0) unless CPL 0. */
static cpu_res svm_checks(const svmx_cpu *cpu, const svmx_insn *insn,
                          bool alt, cpu_fault *f)
{
    svmx_mode mode = (svmx_mode)insn->mode;
    if ((!(cpu->sregs.efer & CPU_EFER_SVME) && !alt) ||
        mode == SVMX_MODE_REAL || mode == SVMX_MODE_V86)
        return ud(f);
    if (cpu_cpl(cpu) != 0)
        return cpu_raise(f, CPU_VEC_GP, true, 0);
    return CPU_OK;
}

/* rAX at the instruction's address size. */
static uint64_t rax(const svmx_cpu *cpu, const svmx_insn *insn)
{
    return cpu->regs.gpr[SVMX_RAX] & exec_mask(insn->address_size);
}

/* The checks VMRUN, VMLOAD and VMSAVE share up to rAX, which *pa
 * gets. Inline: its outputs stay in registers. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline cpu_res vmcb_pa(const svmx_cpu *cpu, const svmx_insn *insn,
                              uint64_t *pa, cpu_fault *f)
{
    cpu_res r = svm_checks(cpu, insn, false, f);
    if (r != CPU_OK)
        return r;
    *pa = rax(cpu, insn);
    if ((*pa & 0xfff) || (*pa >> cpu->pers->maxphyaddr))
        return cpu_raise(f, CPU_VEC_GP, true, 0);
    return CPU_OK;
}

/* The VMCB the last VMRUN entered the guest with is RAM, at the host
 * address it had then (svm_state.h): that address if `pa` is that VMCB,
 * else NULL (look it up). */
static inline uint8_t *vmcb_known(const svmx_cpu *cpu, uint64_t pa)
{
    return pa == cpu->svm.vmcb_pa ? cpu->svm.vmcb_page : NULL;
}

/* The rest of the shared checks for the VMCB at `pa`: it must be RAM,
 * *page its host address; then the instruction's intercept. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline cpu_res vmcb_lookup(svmx_cpu *cpu, uint64_t code, uint64_t pa,
                                  uint8_t **page, cpu_fault *f)
{
    *page = vmcb_known(cpu, pa);
    if (!*page)
        *page = svmx_mem_ram_ptr(&cpu->mem, pa, SVMX_VMCB_SIZE);
    if (!*page)
        return cpu_raise(f, CPU_VEC_GP, true, 0);
    return svm_intercept(cpu, code, 0, 0);
}

/* Both: the checks VMRUN, VMLOAD and VMSAVE share, then their
 * intercept; *page is the VMCB page's host address. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline cpu_res vmcb_page(svmx_cpu *cpu, const svmx_insn *insn,
                                uint64_t code, uint64_t *pa, uint8_t **page,
                                cpu_fault *f)
{
    cpu_res r = vmcb_pa(cpu, insn, pa, f);
    return r != CPU_OK ? r : vmcb_lookup(cpu, code, *pa, page, f);
}

static cpu_res vmcb_insn(svmx_cpu *cpu, const svmx_insn *insn, uint64_t code,
                         uint64_t *pa, cpu_fault *f)
{
    uint8_t *page;
    return vmcb_page(cpu, insn, code, pa, &page, f);
}

/* ------------------------------------------------------------- VMRUN -- */

/* insn_vmrun() after its checks up to rAX, for a VMCB to look up or an
 * intercept to ask about: out of line, so that the common case needs no
 * frame. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static cpu_res vmrun_lookup(svmx_cpu *cpu, uint64_t pa, cpu_fault *f)
{
    uint8_t *page;
    cpu_res r = vmcb_lookup(cpu, SVMX_SVM_EXIT_VMRUN, pa, &page, f);
    return r != CPU_OK ? r : svm_vmrun(cpu, pa, page);
}

cpu_res insn_vmrun(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    uint64_t pa;
    cpu_res r = vmcb_pa(cpu, insn, &pa, f);
    if (r != CPU_OK)
        return r;
    /* A VMM running its VMCB again, with nothing routed (svm_intercept
     * answers CPU_OK): what vmrun_lookup() finds then. */
    uint8_t *page = vmcb_known(cpu, pa);
    if (page && !nested_routed(cpu))
        return svm_vmrun(cpu, pa, page);
    return vmrun_lookup(cpu, pa, f);
}

/* -------------------------------------------------- VMLOAD, VMSAVE -- */

/* The segments VMLOAD and VMSAVE move with their hidden state (15.5.2). */
static const struct {
    svmx_vmcb_field at;
    uint8_t         sreg;
} vmsave_segs[] = {
    { SVMX_VMCB_FS_SELECTOR, SVMX_FS },   { SVMX_VMCB_GS_SELECTOR, SVMX_GS },
    { SVMX_VMCB_TR_SELECTOR, SVMX_TR },   { SVMX_VMCB_LDTR_SELECTOR, SVMX_LDTR },
};

/* ...and the MSRs (15.5.2). */
static const struct {
    svmx_vmcb_field field;
    uint32_t        msr;
} vmsave_msrs[] = {
    { SVMX_VMCB_KERNEL_GS_BASE, CPU_MSR_IA32_KERNEL_GS_BASE },
    { SVMX_VMCB_STAR, CPU_MSR_IA32_STAR },
    { SVMX_VMCB_LSTAR, CPU_MSR_IA32_LSTAR },
    { SVMX_VMCB_CSTAR, CPU_MSR_IA32_CSTAR },
    { SVMX_VMCB_SFMASK, CPU_MSR_IA32_FMASK },
    { SVMX_VMCB_SYSENTER_CS, CPU_MSR_IA32_SYSENTER_CS },
    { SVMX_VMCB_SYSENTER_ESP, CPU_MSR_IA32_SYSENTER_ESP },
    { SVMX_VMCB_SYSENTER_EIP, CPU_MSR_IA32_SYSENTER_EIP },
};

/* Every field VMSAVE writes, for svm_vmcb_put(). */
static const svmx_vmcb_field vmsave_fields[] = {
#define SEG_FIELDS(S)                                                         \
    SVMX_VMCB_##S##_SELECTOR, SVMX_VMCB_##S##_ATTRIB, SVMX_VMCB_##S##_LIMIT,  \
    SVMX_VMCB_##S##_BASE
    SEG_FIELDS(FS), SEG_FIELDS(GS), SEG_FIELDS(TR), SEG_FIELDS(LDTR),
#undef SEG_FIELDS
    SVMX_VMCB_KERNEL_GS_BASE, SVMX_VMCB_STAR, SVMX_VMCB_LSTAR,
    SVMX_VMCB_CSTAR, SVMX_VMCB_SFMASK, SVMX_VMCB_SYSENTER_CS,
    SVMX_VMCB_SYSENTER_ESP, SVMX_VMCB_SYSENTER_EIP,
};

/*
 * VMLOAD (APM Vol. 3 VMLOAD, Vol. 2 15.5.2): FS, GS, TR and LDTR with
 * their hidden state, KernelGSBase, STAR, LSTAR, CSTAR, SFMASK and the
 * SYSENTER MSRs from the VMCB at rAX, a system-physical address also in
 * guest mode (no virtual VMLOAD is advertised). The values are taken
 * without the checks WRMSR and the segment loads make - the APM lists
 * none - but held as the registers hold them: the MSR bits this
 * personality keeps (msr.c), the 12 attribute bits.
 */
cpu_res insn_vmload(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    uint64_t pa;
    svmx_vmcb v;
    cpu_res r = vmcb_insn(cpu, insn, SVMX_SVM_EXIT_VMLOAD, &pa, f);
    if (r != CPU_OK)
        return r;
    if (svmx_mem_read(&cpu->mem, pa, v.bytes, SVMX_VMCB_SIZE) != SVMX_OK)
        return exec_stop(cpu, SVMX_STOP_MMIO, "VMLOAD: VMCB read failed");
    for (size_t i = 0; i < COUNT_OF(vmsave_segs); i++)
        cpu->sregs.seg[vmsave_segs[i].sreg] = svm_seg_load(&v, vmsave_segs[i].at);
    for (size_t i = 0; i < COUNT_OF(vmsave_msrs); i++) {
        const cpu_msr_row *row = cpu_msr_find(cpu->vendor, vmsave_msrs[i].msr);
        if (!row)
            continue;
        uint64_t *reg = (uint64_t *)((char *)cpu + row->store);
        *reg = svm_rd64(&v, vmsave_msrs[i].field) & cpu_msr_writable(cpu, row);
    }
    return CPU_OK;
}

/* VMSAVE (APM Vol. 3 VMSAVE): the same state into the VMCB at rAX; the
 * other bytes of the page are not written. */
cpu_res insn_vmsave(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    uint64_t pa;
    svmx_vmcb v = { { 0 } };
    cpu_res r = vmcb_insn(cpu, insn, SVMX_SVM_EXIT_VMSAVE, &pa, f);
    if (r != CPU_OK)
        return r;
    for (size_t i = 0; i < COUNT_OF(vmsave_segs); i++)
        svm_seg_store(&v, vmsave_segs[i].at,
                      &cpu->sregs.seg[vmsave_segs[i].sreg]);
    for (size_t i = 0; i < COUNT_OF(vmsave_msrs); i++) {
        uint64_t val = 0;
        cpu_msr_read(cpu, vmsave_msrs[i].msr, &val);
        svmx_vmcb_set(&v, vmsave_msrs[i].field, val);
    }
    if (svm_vmcb_put(cpu, pa, &v, vmsave_fields, COUNT_OF(vmsave_fields)) !=
        SVMX_OK)
        return exec_stop(cpu, SVMX_STOP_MMIO, "VMSAVE: VMCB write failed");
    return CPU_OK;
}

/* ------------------------------------------------------ STGI, CLGI -- */

/* STGI and CLGI need SVME, or SKINIT support (CPUID 8000_0001 ECX[12]),
 * which the personality does not offer (APM Vol. 3 STGI, CLGI). */
static bool skinit(const svmx_cpu *cpu)
{
    svmx_cpuid_result id;
    svmx_cpu_cpuid(cpu, 0x80000001u, 0, &id);
    return (id.ecx >> 12) & 1;
}

static cpu_res set_gif(svmx_cpu *cpu, const svmx_insn *insn, bool gif,
                       uint64_t code, cpu_fault *f)
{
    cpu_res r = svm_checks(cpu, insn, skinit(cpu), f);
    if (r == CPU_OK)
        r = svm_intercept(cpu, code, 0, 0);
    if (r == CPU_OK)
        cpu->events.gif = gif; /* 15.17: held events are taken at the
                                  next boundary once GIF = 1 */
    return r;
}

cpu_res insn_stgi(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    return set_gif(cpu, insn, true, SVMX_SVM_EXIT_STGI, f);
}

cpu_res insn_clgi(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    return set_gif(cpu, insn, false, SVMX_SVM_EXIT_CLGI, f);
}

/* --------------------------------------------------------- INVLPGA -- */

/*
 * INVLPGA (APM Vol. 3 INVLPGA, Vol. 2 15.16.2): drops the TLB entries of
 * the linear address in rAX (at the address size) for the ASID in ECX -
 * 0 names the host - global or not, every piece of a large page that
 * holds it, in that ASID's context only, whichever is current
 * (paging_invlpga).
 */
cpu_res insn_invlpga(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    cpu_res r = svm_checks(cpu, insn, false, f);
    if (r == CPU_OK)
        r = svm_intercept(cpu, SVMX_SVM_EXIT_INVLPGA, 0, 0);
    if (r == CPU_OK)
        paging_invlpga(cpu, rax(cpu, insn),
                       (uint32_t)cpu->regs.gpr[SVMX_RCX]);
    return r;
}

/* ------------------------------------------------- VMMCALL, SKINIT -- */

/*
 * VMMCALL (APM Vol. 3 VMMCALL, Vol. 2 15.18): any mode and CPL; not
 * intercepted, it is #UD. In guest mode: #VMEXIT(VMMCALL) when vmcb12
 * intercepts it, else #UD in the guest, where L1 may intercept #UD -
 * rule R1, never L0's hypercall (DESIGN.md, src/nested/route.c). Outside
 * guest mode the L0 policy's hypercall comes first: L0 is the hypervisor
 * L1 runs on, which sees the call whatever L1's EFER.SVME (it is the
 * routed event of L1, DESIGN.md's order); without it, #UD as on bare
 * metal - with EFER.SVME = 0, and also with it set, as nothing above L1
 * intercepts it. On the Intel personality VMMCALL is #UD: EFER.SVME
 * cannot be set, and the hypercall of that vendor is VMCALL.
 */
cpu_res insn_vmmcall(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    (void)insn;
    if (cpu->vendor != SVMX_VENDOR_AMD)
        return ud(f);
    if (!cpu->svm.guest) {
        cpu_res r = svm_intercept(cpu, SVMX_SVM_EXIT_VMMCALL, 0, 0);
        return r != CPU_OK ? r : ud(f);
    }
    if (!(cpu->sregs.efer & CPU_EFER_SVME))
        return ud(f);
    cpu_res r = svm_intercept(cpu, SVMX_SVM_EXIT_VMMCALL, 0, 0);
    return r != CPU_OK ? r : ud(f);
}

/* SKINIT: #UD, as on a CPU without it (CPUID 8000_0001 ECX[12] is clear;
 * APM Vol. 3 SKINIT). Its intercept is ignored with the feature. */
cpu_res insn_skinit(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    (void)cpu, (void)insn;
    return ud(f);
}
