/*
 * tools/demo/demo.c - the kernel `svmx run` runs when no KERNEL is given.
 *
 * A short tour of the CPU it runs on, for someone meeting svmx for the
 * first time: who the CPU says it is (CPUID), what it offers a hypervisor,
 * how this kernel set up long mode and paging, and a few page faults
 * provoked on purpose and decoded. It is built on the test-kernel runtime
 * (tests/kernels/rt, docs/kernels.md), so it runs unchanged on svmx
 * (--cpu amd or intel), on QEMU and on hardware, and its checks make it a
 * test too: it ends with PASS.
 */
#include "rt.h"

#define DEMO_VA   RT_FREE_VA                 /* a page we map and unmap */
#define DEMO_PA   RT_SCRATCH

static void title(const char *t)
{
    rt_printf("\n== %s ==\n", t);
}

static void flag(bool on, const char *name, const char *what,
                 const char *where)
{
    rt_printf("  [%s] %-6s %-44s %s\n", on ? "yes" : " no", name, what,
              where);
}

/* ------------------------------------------------------- who are you -- */

static void brand(char out[49])
{
    uint32_t r[4];
    memset(out, 0, 49);
    if (rt_cpuinfo.max_ext < 0x80000004u)
        return;
    for (unsigned i = 0; i < 3; i++) {
        rt_cpuid(0x80000002u + i, 0, r);
        memcpy(out + 16 * i, r, 16);
    }
}

static void identity(void)
{
    const rt_cpu *c = &rt_cpuinfo;
    char name[49];
    brand(name);
    const char *s = name;
    while (*s == ' ')
        s++;
    title("Who is this CPU?");
    rt_printf("  vendor     \"%s\"  (CPUID leaf 0)\n", c->vendor);
    if (c->amd)
        rt_printf("             an AMD CPU: its hardware virtualization is "
                  "SVM (AMD-V)\n");
    else if (c->intel)
        rt_printf("             an Intel CPU: its hardware virtualization is "
                  "VMX (VT-x)\n");
    rt_printf("  brand      \"%s\"  (leaves 8000_0002-4)\n",
              *s ? s : "(none)");
    rt_printf("  signature  %#010x = family %#x, model %#x, stepping %u  "
              "(leaf 1 EAX)\n", c->sig, c->family, c->model, c->stepping);
    rt_printf("  leaves     basic up to %#x, extended up to %#x\n",
              c->max_basic, c->max_ext);
}

/* ---------------------------------------------- what can you do for us -- */

static void svm_details(void)
{
    uint32_t r[4];
    if (rt_cpuinfo.max_ext < 0x8000000au) {
        rt_printf("         (no CPUID leaf 8000_000A to describe SVM)\n");
        return;
    }
    rt_cpuid(0x8000000au, 0, r);
    rt_printf("  SVM revision %u, %u address-space IDs; SVM features (leaf "
              "8000_000A EDX):\n", r[0] & 0xff, r[1]);
    static const struct {
        unsigned bit;
        const char *name, *what;
    } svm[] = {
        { 0, "NPT", "nested paging: guest page tables in hardware" },
        { 3, "NRIPS", "next RIP saved in the VMCB on #VMEXIT" },
        { 5, "CLEAN", "VMCB clean bits: skip reloading state" },
        { 6, "FLUSH", "TLB flush by ASID" },
        { 7, "DECODE", "decode assists for intercepted instructions" },
        { 10, "PAUSE", "PAUSE filter" },
        { 16, "VGIF", "virtual global interrupt flag" },
    };
    for (unsigned i = 0; i < sizeof svm / sizeof svm[0]; i++) {
        char where[24];
        rt_snprintf(where, sizeof where, "bit %u", svm[i].bit);
        flag(r[3] >> svm[i].bit & 1, svm[i].name, svm[i].what, where);
    }
}

static void vmx_details(void)
{
    /* SDM Vol. 3D A.1: IA32_VMX_BASIC exists when CPUID.1:ECX.VMX = 1. */
    volatile uint64_t basic = 0, ctls2 = 0;
    if (RT_FAULT(basic = rt_rdmsr(0x480))) {
        rt_printf("  (IA32_VMX_BASIC is not readable)\n");
        return;
    }
    rt_printf("  VMCS revision %#lx, VMCS region %lu bytes (IA32_VMX_BASIC "
              "= %#lx)\n", basic & 0x7fffffff, basic >> 32 & 0x1fff, basic);
    /* A.3.3: the secondary controls exist if primary bit 31 may be 1. */
    if (!(rt_rdmsr(0x482) >> 63) || RT_FAULT(ctls2 = rt_rdmsr(0x48b))) {
        rt_printf("  (no secondary processor-based controls)\n");
        return;
    }
    rt_printf("  Secondary controls a VMM may set (IA32_VMX_PROCBASED_CTLS2 "
              "bits 63:32):\n");
    flag(ctls2 >> (32 + 1) & 1, "EPT", "extended page tables: nested paging",
         "bit 1");
    flag(ctls2 >> (32 + 5) & 1, "VPID", "virtual-processor IDs for the TLB",
         "bit 5");
    flag(ctls2 >> (32 + 7) & 1, "UG", "unrestricted guest (real mode)",
         "bit 7");
}

static void features(void)
{
    const rt_cpu *c = &rt_cpuinfo;
    title("What does it offer a hypervisor?");
    flag(c->x1_edx >> 29 & 1, "LM", "long mode: 64-bit code",
         "8000_0001 EDX[29]");
    flag(c->x1_edx >> 20 & 1, "NX", "no-execute pages", "8000_0001 EDX[20]");
    flag(c->f1_edx >> 6 & 1, "PAE", "64-bit page-table entries",
         "1 EDX[6]");
    flag(c->x1_edx >> 26 & 1, "1GB", "1 GiB pages", "8000_0001 EDX[26]");
    flag(c->f7_ebx >> 7 & 1, "SMEP", "no kernel execution of user pages",
         "7 EBX[7]");
    flag(c->f7_ebx >> 20 & 1, "SMAP", "no kernel access to user pages",
         "7 EBX[20]");
    bool svm = c->x1_ecx >> 2 & 1, vmx = c->f1_ecx >> 5 & 1;
    flag(svm, "SVM", "AMD secure virtual machine (AMD-V)",
         "8000_0001 ECX[2]");
    flag(vmx, "VMX", "Intel virtual machine extensions (VT-x)",
         "1 ECX[5]");
    if (svm)
        svm_details();
    if (vmx)
        vmx_details();
    if (!svm && !vmx)
        rt_printf("  Neither SVM nor VMX: this CPU cannot host "
                  "hardware-assisted guests.\n");
}

/* ------------------------------------------------ how we set it up -- */

typedef struct bit_name {
    unsigned bit;
    const char *name, *what;
} bit_name;

static void reg(const char *name, uint64_t v, const bit_name *bits,
                unsigned n)
{
    rt_printf("  %-4s = %#018lx:", name, v);
    for (unsigned i = 0; i < n; i++)
        if (v >> bits[i].bit & 1)
            rt_printf(" %s", bits[i].name);
    rt_printf("\n");
    for (unsigned i = 0; i < n; i++)
        if (v >> bits[i].bit & 1)
            rt_printf("           %-4s %s\n", bits[i].name, bits[i].what);
}

static void setup(void)
{
    static const bit_name cr0[] = {
        { 0, "PE", "protected mode" },
        { 4, "ET", "387-style FPU interface (always 1)" },
        { 16, "WP", "read-only pages are read-only in ring 0 too" },
        { 31, "PG", "paging on" },
    };
    static const bit_name cr4[] = {
        { 4, "PSE", "large pages (implied by PAE)" },
        { 5, "PAE", "64-bit page-table entries (needed for long mode)" },
        { 7, "PGE", "global pages" },
        { 13, "VMXE", "VMX enabled" },
        { 20, "SMEP", "supervisor-mode execution prevention" },
        { 21, "SMAP", "supervisor-mode access prevention" },
    };
    static const bit_name efer[] = {
        { 0, "SCE", "SYSCALL/SYSRET enabled" },
        { 8, "LME", "long mode enabled (by this kernel)" },
        { 10, "LMA", "long mode active (set by the CPU when paging went on)" },
        { 11, "NXE", "no-execute bit enabled in page tables" },
        { 12, "SVME", "SVM enabled" },
    };
    uint16_t cs, tr;
    __asm__ volatile("mov %%cs, %0; str %1" : "=r"(cs), "=r"(tr));
    title("How this kernel set up the machine");
    rt_printf("  It was entered in 32-bit protected mode, built page tables, "
              "and switched to\n  64-bit long mode: CR4.PAE, CR3, EFER.LME, "
              "CR0.PG, then a far jump.\n");
    reg("CR0", rt_read_cr0(), cr0, sizeof cr0 / sizeof cr0[0]);
    reg("CR4", rt_read_cr4(), cr4, sizeof cr4 / sizeof cr4[0]);
    reg("EFER", rt_rdmsr(RT_MSR_EFER), efer, sizeof efer / sizeof efer[0]);
    rt_printf("  CR3  = %#018lx: the PML4, root of the 4-level page tables\n",
              rt_read_cr3());
    rt_printf("  The first GiB is mapped 1:1 with 2 MiB pages; the first "
              "2 MiB use 4 KiB pages\n  so that address 0 is not mapped "
              "(a NULL pointer faults).\n");
    rt_printf("  Code runs in CS = %#x (64-bit, ring %u); the TSS (TR = %#x) "
              "gives the ring-0\n  stack for interrupts from ring 3 and a "
              "separate stack for double faults.\n", cs, cs & 3u, tr);
}

/* ------------------------------------------------------ page faults -- */

/* The #PF error code (SDM Vol. 3A 5.7, APM Vol. 2 8.4.2), in words. */
static void decode_pf(uint64_t err)
{
    rt_printf("     error code %#lx: P=%lu %s\n", err, err & 1,
              err & 1 ? "(the page is present: a protection violation)"
                      : "(the page is not present)");
    rt_printf("       W/R=%lu (%s), U/S=%lu (%s), RSVD=%lu, I/D=%lu (%s)\n",
              err >> 1 & 1, err & 2 ? "write" : "read", err >> 2 & 1,
              err & 4 ? "user" : "supervisor", err >> 3 & 1, err >> 4 & 1,
              err & 16 ? "instruction fetch" : "data");
}

static RT_USER_FN uint64_t user_peek(uint64_t va)
{
    return *(volatile uint64_t *)va;
}

static void one_fault(const char *what, int caught, uint64_t va,
                      uint64_t err)
{
    rt_printf("\n  %s\n", what);
    CHECK_EXC(caught, RT_PF, err, 0);
    CHECK_EQ(rt_last.cr2, va);
    if (!caught || rt_last.vector != RT_PF)
        return;
    rt_printf("  -> #PF at RIP %#lx (CS %#lx, ring %lu), CR2 = %#lx\n",
              rt_last.rip, rt_last.cs, rt_last.cs & 3, rt_last.cr2);
    decode_pf(rt_last.error);
}

static void faults(void)
{
    title("Page faults, on purpose");
    rt_printf("  Each access below is wrong in a different way. The CPU "
              "stops it, puts the\n  address in CR2, pushes an error code "
              "whose bits say why, and calls the\n  handler of vector 14 "
              "(#PF), which prints what it learned.\n");

    rt_map(DEMO_VA, DEMO_PA, RT_PTE_P, 1); /* read-only, supervisor */
    int caught = RT_FAULT(rt_poke64(DEMO_VA, 1));
    one_fault("1. Write to a read-only page (CR0.WP = 1 makes this fault in "
              "ring 0 too):", caught, DEMO_VA, 0x3);

    caught = RT_FAULT(rt_user_call(user_peek, DEMO_VA, 0));
    one_fault("2. Read a supervisor page from ring 3:", caught, DEMO_VA, 0x5);

    if (rt_read_cr0() & RT_CR0_PG && rt_rdmsr(RT_MSR_EFER) & RT_EFER_NXE) {
        rt_map(DEMO_VA, DEMO_PA, RT_PTE_P | RT_PTE_W | RT_PTE_NX, 1);
        rt_poke8(DEMO_VA, 0xc3); /* RET */
        caught = RT_FAULT(((void (*)(void))DEMO_VA)());
        one_fault("3. Jump to a page marked no-execute (NX):", caught,
                  DEMO_VA, 0x11);
    }

    rt_map(DEMO_VA, 0, 0, 1); /* not present */
    caught = RT_FAULT(rt_peek64(DEMO_VA + 0x123));
    one_fault("4. Read an address that is not mapped at all:", caught,
              DEMO_VA + 0x123, 0x0);
}

void kmain(void)
{
    rt_printf("Hello from the svmx demo kernel: a tiny x86-64 operating "
              "system, loaded by\nmultiboot, now running in 64-bit long "
              "mode. It prints on port 0xE9 and\nstops by writing to port "
              "0xF4.\n");
    identity();
    features();
    setup();
    faults();
    rt_printf("\nThat's the tour: the CPU identified itself, ran 64-bit "
              "code with paging on,\nand reported every fault exactly. "
              "Run your own kernels with `svmx run K`\n(docs/kernels.md).\n");
}
