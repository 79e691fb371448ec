/*
 * src/svm/npt.c - SVM nested paging (npt.h): the nested tables described
 * for paging_walk(), one nested translation, and the NPF as a fault.
 *
 * There is no second walker here: the nested tables are ordinary x86 page
 * tables in the host's paging mode (APM Vol. 2 15.25.3), so
 * paging_desc_of() describes them from the host's registers and
 * paging_walk() walks them. What nested paging changes is set here: the
 * root is nCR3, every access is a user access, and I/D follows the host.
 */
#include "svm/npt.h"

#include "svm/svm_internal.h"

uint64_t npt_ncr3(const svmx_cpu *cpu)
{
    return svm_rd64(&cpu->svm.vmcb, SVMX_VMCB_N_CR3);
}

uint64_t npt_g_pat(const svmx_cpu *cpu)
{
    return svm_rd64(&cpu->svm.vmcb, SVMX_VMCB_G_PAT);
}

bool npt_desc(const svmx_cpu *cpu, pg_desc *d)
{
    const svm_host_state *h = &cpu->svm.host;
    /* APM Vol. 2 15.25.3: the format is the host's paging mode; the
     * root's low bits are ignored as CR3's are in that mode (PAE: 31:5,
     * the four nested PDPTEs are read from memory on each walk). */
    if (!paging_desc_of(cpu, h->cr0, npt_ncr3(cpu), h->cr4, h->efer, d))
        return false;
    /* APM Vol. 2 15.25.5: nested accesses are user accesses, so WP, SMEP
     * and SMAP never decide; I/D as a #PF in the host's mode would have
     * it (APM Vol. 2 8.4.2: with EFER.NXE and CR4.PAE). */
    d->ctl.id = (h->cr4 & CPU_CR4_PAE) && (h->efer & CPU_EFER_NXE);
    return true;
}

cpu_res npt_walk(svmx_cpu *cpu, uint64_t gpa, unsigned kind, pg_walk *w)
{
    pg_desc d;
    if (!npt_desc(cpu, &d)) {
        /* VMRUN refuses NP_ENABLE without host paging: a bug, not data. */
        cpu->tlb.stop = (pg_stop_info){ gpa, 0, false, SVMX_E_INTERNAL };
        return CPU_STOP;
    }
    return paging_walk(cpu, &d, gpa, (kind & PG_KIND_MASK) | PG_USER, w);
}

cpu_res npt_raise(cpu_fault *f, uint64_t exitinfo1, uint64_t exitinfo2)
{
    cpu_raise(f, NPT_FAULT_VECTOR, false, (uint32_t)exitinfo1);
    f->insn_len = (uint8_t)(exitinfo1 >> 32);
    f->payload = exitinfo2;
    return CPU_FAULT;
}
