/*
 * tests/kernels/k_svm_npt.c - nested paging: a guest on identity nested
 * page tables, and nested page faults on the final translation and on the
 * guest's own page-table walk.
 *
 * APM Vol. 2: 15.25.3 (NP_ENABLE, nCR3, the nested walk in the host's
 * paging mode), 15.25.5 (nested table accesses are user accesses: the
 * entries need U = 1), 15.25.6 (#VMEXIT(NPF), exit code 400h: EXITINFO1 =
 * a #PF error code plus bit 32 for the final guest-physical address or bit
 * 33 for a guest page-table access, EXITINFO2 = the guest-physical
 * address).
 */
#include "svm.h"

#define V (&svm_vmcb_a)


static void npt_guest(uint64_t (*fn)(uint64_t), uint64_t arg)
{
    svm_vmcb_call(V, fn, arg);
    svm_npt_enable(V);
    V->icpt[2] = 0xffffffffu; /* any exception in the guest stops it */
}

/* 2 MiB regions of the scratch area (APM: nothing of L1's lives there). */
#define REGION_DATA  UINT64_C(0x2000000) /* 32 MiB: the final GPA      */
#define REGION_TABLE UINT64_C(0x3000000) /* 48 MiB: a guest page table */

static volatile uint64_t data[64];

static uint64_t guest_sum(uint64_t n)
{
    uint64_t s = 0;
    for (uint64_t i = 0; i < n; i++) {
        data[i] = i * 3;
        s += data[i];
    }
    return s;
}

static uint64_t guest_read(uint64_t va)
{
    return *(volatile uint64_t *)(uintptr_t)va;
}

static uint64_t guest_write(uint64_t va)
{
    *(volatile uint64_t *)(uintptr_t)va = 0x77;
    return 1;
}

static void t_identity(void)
{
    svm_npt_identity();
    npt_guest(guest_sum, 64);
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, 0, 0);
    CHECK_EQ(V->rax, 3 * 63 * 64 / 2);
    CHECK_EQ(data[63], 189);
}

/* Exactly one of bits 32 and 33; P, W as given; the GPA. */
static void check_npf(uint64_t bit, bool present, bool write, uint64_t gpa)
{
    CHECK_EQ(V->exitcode, SVM_EXIT_NPF);
    CHECK_EQ(V->exitinfo1 & (SVM_NPF_FINAL | SVM_NPF_WALK), bit);
    CHECK_EQ(V->exitinfo1 & 1, present);
    if (bit == SVM_NPF_FINAL)
        CHECK_EQ(V->exitinfo1 >> 1 & 1, write);
    CHECK_EQ(V->exitinfo2, gpa);
    CHECK_EQ(V->exitintinfo & SVM_EV_VALID, 0);
}

static void t_npf_final(void)
{
    svm_npt_identity();
    svm_npd[REGION_DATA >> 21] = 0; /* not present */
    npt_guest(guest_read, REGION_DATA + 0x1238);
    svm_run(V);
    check_npf(SVM_NPF_FINAL, false, false, REGION_DATA + 0x1238);

    npt_guest(guest_write, REGION_DATA + 0x5670);
    svm_run(V);
    check_npf(SVM_NPF_FINAL, false, true, REGION_DATA + 0x5670);

    /* present but read-only: a write faults with P = 1 */
    svm_npd[REGION_DATA >> 21] = REGION_DATA | RT_PTE_P | RT_PTE_U | RT_PTE_PS;
    npt_guest(guest_read, REGION_DATA + 0x10);
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, 0, 0);
    npt_guest(guest_write, REGION_DATA + 0x18);
    svm_run(V);
    check_npf(SVM_NPF_FINAL, true, true, REGION_DATA + 0x18);
    svm_npt_identity();
}

/*
 * The guest maps VA 1 GiB through a page directory at GPA 48 MiB; the
 * nested tables do not map that GPA, so the guest's own walk faults: bit
 * 33, EXITINFO2 = the PDE's guest-physical address.
 */
extern uint64_t rt_pdpt0[512];

static void t_npf_walk(void)
{
    uint64_t *pd = (uint64_t *)(uintptr_t)REGION_TABLE;
    memset(pd, 0, 4096);
    pd[0] = RT_SCRATCH | RT_PTE_P | RT_PTE_W | RT_PTE_PS;
    pd[1] = (RT_SCRATCH + 0x200000) | RT_PTE_P | RT_PTE_W | RT_PTE_PS;
    uint64_t old = rt_pdpt0[1];
    rt_pdpt0[1] = REGION_TABLE | RT_PTE_P | RT_PTE_W | RT_PTE_U;
    rt_flush_tlb();
    rt_poke64(RT_FREE_VA + 0x200008, 0xfeed);

    svm_npt_identity();
    npt_guest(guest_read, RT_FREE_VA + 0x200008); /* the PDE at index 1 */
    svm_run(V);
    uint64_t got = V->rax;
    bool ran = V->exitcode == SVM_EXIT_VMMCALL;
    svm_npd[REGION_TABLE >> 21] = 0;
    npt_guest(guest_read, RT_FREE_VA + 0x200008);
    svm_run(V);
    check_npf(SVM_NPF_WALK, false, false, REGION_TABLE + 8);

    rt_pdpt0[1] = old;
    rt_flush_tlb();
    svm_npt_identity();
    CHECK(ran, "the guest did not read VA 1 GiB + 2 MiB with the table "
          "mapped");
    CHECK_EQ(got, 0xfeed);
}

void kmain(void)
{
    rt_printf("k_svm_npt: on %s\n", rt_cpuinfo.vendor);
    if (!svm_init())
        return;
    if (!svm_cpu.np) {
        rt_skip("all", "no nested paging (CPUID 8000_000A EDX[0])");
        return;
    }
    RT_RUN(t_identity);
    RT_RUN(t_npf_final);
    RT_RUN(t_npf_walk);
}
