/*
 * tests/kernels/k_svm_npt_modes.c - nested paging under guests outside
 * long mode: a 32-bit protected-mode guest with paging off, with 32-bit
 * paging (4 KiB and 4 MiB pages) and with PAE paging, each on identity
 * nested tables (k_svm_npt has the 64-bit guest), and a nested page fault
 * in each: on the final guest-physical address and, with guest paging,
 * during the guest's own page walk.
 *
 * APM Vol. 2: 15.25.3 (the guest's paging mode is its own, from its CR0,
 * CR4 and EFER; the nested walk uses the host's mode, here long mode),
 * 15.25.5 (nested table accesses are user accesses: U = 1 in the nested
 * entries; a guest without paging has GPA = its linear address),
 * 15.25.6 (#VMEXIT(NPF), exit code 400h: EXITINFO1 = a #PF error code,
 * bit 32 when translating the final GPA, bit 33 when translating a guest
 * page-table access; EXITINFO2 = the faulting guest-physical address).
 * The guest code is 32-bit legacy protected mode (EFER.LME = LMA = 0,
 * CS = RT_KCODE32), as k_svm_checks runs it.
 */
#include "svm.h"

#define V (&svm_vmcb_a)


/* 2 MiB regions of the scratch area (nothing of L1's lives there). */
#define REGION_DATA  UINT64_C(0x2000000) /* 32 MiB: final GPAs          */
#define REGION_TABLE UINT64_C(0x3000000) /* 48 MiB: a guest page table */
/* The guest VA (1 GiB) whose 4 KiB page table is at REGION_TABLE. Page
   n of it maps REGION_DATA + (n + 4) * 4 KiB: GVA != GPA. */
#define GVA          UINT64_C(0x40000000)
#define GVA_PAGE(n)  (REGION_DATA + ((uint64_t)(n) + 4) * 4096)

enum mode { NOPAGING, PAGING32, PAE };
static const char *const mode_name[] = { "no paging", "32-bit paging",
                                         "PAE paging" };

/* Guest paging structures below 4 GiB in the image (identity GPA). */
static uint32_t legacy_pd[1024] __attribute__((aligned(4096)));
static uint64_t pae_pdpt[4] __attribute__((aligned(32)));
static uint64_t pae_pd0[512] __attribute__((aligned(4096)));
static uint64_t pae_pd1[512] __attribute__((aligned(4096)));

/* The guest's page table at REGION_TABLE: entries 0-7 map GVA_PAGE(n),
   in 32-bit (4-byte) or PAE (8-byte) format. */
static void guest_tables(enum mode m)
{
    void *pt = (void *)(uintptr_t)REGION_TABLE;
    memset(pt, 0, 4096);
    if (m == PAGING32) {
        uint32_t *t = pt;
        for (unsigned n = 0; n < 8; n++)
            t[n] = (uint32_t)GVA_PAGE(n) | 0x3;
        for (uint32_t i = 0; i < 1024; i++) /* 4 MiB pages, PSE */
            legacy_pd[i] = i << 22 | 0x83;
        legacy_pd[GVA >> 22] = (uint32_t)REGION_TABLE | 0x3;
    } else if (m == PAE) {
        uint64_t *t = pt;
        for (unsigned n = 0; n < 8; n++)
            t[n] = GVA_PAGE(n) | 0x3;
        for (uint64_t i = 0; i < 512; i++) /* 2 MiB pages: GiB 0 */
            pae_pd0[i] = i << 21 | 0x83;
        memset(pae_pd1, 0, sizeof pae_pd1);
        pae_pd1[0] = REGION_TABLE | 0x3; /* GiB 1, first 2 MiB */
        pae_pdpt[0] = svm_pa(pae_pd0) | 1; /* PDPTE: bits 2:1, 8:5 MBZ */
        pae_pdpt[1] = svm_pa(pae_pd1) | 1;
        pae_pdpt[2] = pae_pdpt[3] = 0;
    }
}

/* Guest code, 32-bit: read or write the dword at EBX, then VMMCALL. */
SVM_SNIPPET(g32_read, ".code32\n\tmovl (%ebx), %eax\n\tvmmcall\n\t.code64");
SVM_SNIPPET(g32_write, ".code32\n\tmovl $0x77, (%ebx)\n\tmovl $1, %eax\n\t"
                       "vmmcall\n\t.code64");
SVM_LABEL(g32_read);
SVM_LABEL(g32_write);

/* A 32-bit guest in mode m running `code` with EBX = va, on the nested
   tables, every exception intercepted. */
static void guest(enum mode m, const uint8_t *code, uint64_t va)
{
    svm_vmcb_init(V, SVM_ADDR(code));
    V->efer &= ~(uint64_t)(RT_EFER_LME | RT_EFER_LMA);
    V->cs.sel = RT_KCODE32;
    V->cs.attrib = SVM_ATTR_CODE32;
    V->cr4 &= ~(uint64_t)(RT_CR4_PAE | RT_CR4_PSE);
    V->cr0 &= ~(uint64_t)RT_CR0_PG;
    if (m == PAGING32) {
        V->cr4 |= RT_CR4_PSE;
        V->cr3 = svm_pa(legacy_pd);
        V->cr0 |= RT_CR0_PG;
    } else if (m == PAE) {
        V->cr4 |= RT_CR4_PAE;
        V->cr3 = svm_pa(pae_pdpt);
        V->cr0 |= RT_CR0_PG;
    }
    svm_npt_enable(V);
    V->icpt[2] = 0xffffffffu; /* any exception in the guest stops it */
    svm_guest_regs.rbx = va;
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

static void poke32(uint64_t pa, uint32_t v)
{
    *(volatile uint32_t *)(uintptr_t)pa = v;
}

static uint32_t peek32(uint64_t pa)
{
    return *(volatile uint32_t *)(uintptr_t)pa;
}

/* The guest reads `va` (expecting `want`) and writes it. */
static void check_rw(enum mode m, uint64_t va, uint64_t pa, uint32_t want)
{
    guest(m, g32_read, va);
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, 0, 0);
    CHECK_EQ((uint32_t)V->rax, want);
    poke32(pa, 0);
    guest(m, g32_write, va);
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, 0, 0);
    CHECK_EQ(peek32(pa), 0x77);
}

/*
 * Each mode: the guest reads and writes through the identity nested
 * tables (with paging also through GVA, mapped elsewhere by its own
 * table); then NPFs on the final GPA: not present for a read and a write,
 * read-only for a write (P = 1); with paging, the guest's walk reading its
 * PTE at an unmapped GPA (bit 33, EXITINFO2 = the PTE's GPA).
 */
static void one_mode(enum mode m)
{
    rt_printf("# %s\n", mode_name[m]);
    svm_npt_identity();
    guest_tables(m);

    uint64_t pa = REGION_DATA + 0x1238, va = pa;
    poke32(pa, 0x12345678);
    check_rw(m, va, pa, 0x12345678);
    if (m != NOPAGING) {
        va = GVA + 2 * 4096 + 0x238;
        pa = GVA_PAGE(2) + 0x238;
        poke32(pa, 0xcafe0002);
        check_rw(m, va, pa, 0xcafe0002);
    }

    /* the final GPA not present: read, write */
    svm_npd[REGION_DATA >> 21] = 0;
    guest(m, g32_read, va);
    svm_run(V);
    check_npf(SVM_NPF_FINAL, false, false, pa);
    guest(m, g32_write, va);
    svm_run(V);
    check_npf(SVM_NPF_FINAL, false, true, pa);

    /* read-only: the read passes, a write faults with P = 1 */
    svm_npd[REGION_DATA >> 21] = REGION_DATA | RT_PTE_P | RT_PTE_U | RT_PTE_PS;
    poke32(pa, 0x5a5a);
    guest(m, g32_read, va);
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, 0, 0);
    CHECK_EQ((uint32_t)V->rax, 0x5a5a);
    guest(m, g32_write, va);
    svm_run(V);
    check_npf(SVM_NPF_FINAL, true, true, pa);
    CHECK_EQ(peek32(pa), 0x5a5a);
    svm_npt_identity();

    if (m == NOPAGING)
        return;
    /* the guest's page table not mapped: the walk faults on the PTE */
    uint64_t pte = REGION_TABLE + 2 * (m == PAE ? 8 : 4);
    svm_npd[REGION_TABLE >> 21] = 0;
    guest(m, g32_read, va);
    svm_run(V);
    check_npf(SVM_NPF_WALK, false, false, pte);
    guest(m, g32_write, va);
    svm_run(V);
    check_npf(SVM_NPF_WALK, false, false, pte);
    svm_npt_identity();
}

static void t_nopaging(void) { one_mode(NOPAGING); }
static void t_paging32(void) { one_mode(PAGING32); }
static void t_pae(void) { one_mode(PAE); }

void kmain(void)
{
    rt_printf("k_svm_npt_modes: on %s\n", rt_cpuinfo.vendor);
    if (!svm_init())
        return;
    if (!svm_cpu.np) {
        rt_skip("all", "no nested paging (CPUID 8000_000A EDX[0])");
        return;
    }
    RT_RUN(t_nopaging);
    RT_RUN(t_paging32);
    RT_RUN(t_pae);
}
