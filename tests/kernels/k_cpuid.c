/*
 * tests/kernels/k_cpuid.c - CPUID and MSR invariants that hold on every
 * x86-64 CPU of either vendor (and on both svmx personalities): the
 * leaves a long-mode CPU must have, the vendor-specific shape of a few of
 * them, the EFER the runtime wrote, IA32_APIC_BASE.BSP, and #GP(0) for
 * MSRs that do not exist or may not be written.
 *
 * SDM Vol. 2A CPUID, Vol. 2B RDMSR/WRMSR, Vol. 4 (MSRs); APM Vol. 3
 * Appendix E (CPUID), APM Vol. 2 3.1.7 (EFER).
 */
#include "rt.h"

/* An index no CPU implements: between the architectural ranges. */
#define NO_MSR 0x3fff0000u

static void t_vendor(void)
{
    const rt_cpu *c = &rt_cpuinfo;
    CHECK(c->intel || c->amd, "vendor \"%s\" is neither GenuineIntel nor "
          "AuthenticAMD", c->vendor);
    CHECK(c->max_basic >= 1, "max basic leaf %#x", c->max_basic);
    /* long mode needs 8000_0001h */
    CHECK(c->max_ext >= 0x80000001u, "max extended leaf %#x", c->max_ext);
    if (c->amd) {
        /* APM Vol. 3 E.4.1: Fn8000_0000 EBX:EDX:ECX repeat the vendor */
        uint32_t r[4];
        char v[13];
        rt_cpuid(0x80000000u, 0, r);
        memcpy(v, &r[1], 4);
        memcpy(v + 4, &r[3], 4);
        memcpy(v + 8, &r[2], 4);
        v[12] = 0;
        CHECK(!strcmp(v, c->vendor), "8000_0000h vendor \"%s\"", v);
    }
}

static void t_signature(void)
{
    const rt_cpu *c = &rt_cpuinfo;
    unsigned base = c->sig >> 8 & 0xf, ext = c->sig >> 20 & 0xff;
    if (c->amd) {
        /* APM Vol. 3 E.3.2: AMD64 processors report base family Fh; the
           family is Fh + the extended family */
        CHECK_EQ(base, 0xf);
        CHECK_EQ(c->family, 0xf + ext);
        /* Fn8000_0001_EAX repeats Fn0000_0001_EAX (E.4.2) */
        uint32_t r[4];
        rt_cpuid(0x80000001u, 0, r);
        CHECK_EQ(r[0], c->sig);
    } else if (c->intel) {
        /* SDM Vol. 2A CPUID: Intel 64 processors are family 6 or Fh; the
           extended family counts only with Fh */
        CHECK(base == 6 || base == 0xf, "base family %#x", base);
        if (base == 6)
            CHECK_EQ(c->family, 6);
        CHECK_EQ(c->model, (c->sig >> 4 & 0xf) + ((c->sig >> 16 & 0xf) << 4));
    }
    CHECK(c->family >= 6, "family %#x", c->family);
}

static void t_features(void)
{
    const rt_cpu *c = &rt_cpuinfo;
    /* what long mode itself needs (SDM Vol. 3A 10.8.5; APM Vol. 2 14.6) */
    CHECK(c->x1_edx & 1u << 29, "LM (8000_0001 EDX[29]) clear");
    CHECK(c->f1_edx & 1u << 6, "PAE (1 EDX[6]) clear");
    CHECK(c->f1_edx & 1u << 5, "MSR (1 EDX[5]) clear");
    CHECK(c->x1_edx & 1u << 20, "NX (8000_0001 EDX[20]) clear");
    if (c->max_ext >= 0x80000008u)
        CHECK(c->maxphyaddr >= 36 && c->maxphyaddr <= 52, "MAXPHYADDR %u",
              c->maxphyaddr);
    /* SVM is an AMD feature, VMX an Intel one */
    if (c->intel)
        CHECK(!(c->x1_ecx & 1u << 2), "an Intel CPU reports SVM");
    if (c->amd)
        CHECK(!(c->f1_ecx & 1u << 5), "an AMD CPU reports VMX");
}

static const char past_max_note[] = "a basic leaf past the maximum returns "
    "the highest leaf on AMD too (APM Vol. 3 E.1: zeros)";

static void t_past_max(void)
{
    /* A leaf between the basic maximum and 4000_0000h: Intel returns the
       highest basic leaf (SDM Vol. 2A CPUID), AMD zeros (APM Vol. 3 E.1). */
    uint32_t hi[4], top[4];
    rt_cpuid(0x1000, 0, hi);
    rt_cpuid(rt_cpuinfo.max_basic, 0, top);
    bool same = !memcmp(hi, top, sizeof hi);
    bool zero = !(hi[0] | hi[1] | hi[2] | hi[3]);
    if (rt_cpuinfo.intel)
        CHECK(same, "leaf 1000h %#x %#x %#x %#x", hi[0], hi[1], hi[2], hi[3]);
    else if (rt_cpuinfo.amd)
        CHECK(zero || rt_tcg_excuse(same, false, true, past_max_note),
              "leaf 1000h %#x %#x %#x %#x", hi[0], hi[1], hi[2], hi[3]);
}

static const char efer_note[] = "WRMSR EFER with a reserved bit set does "
    "not fault (SDM Vol. 2B WRMSR: #GP(0))";
static const char msr_note[] = "an unimplemented MSR reads 0 and ignores "
    "writes (SDM Vol. 2B RDMSR, WRMSR: #GP(0))";

static void t_efer(void)
{
    uint64_t efer = rt_rdmsr(RT_MSR_EFER);
    /* what boot.S wrote, plus LMA set by the CPU when CR0.PG went on
       (SDM Vol. 3A 10.8.5) */
    CHECK_EQ(efer, rt_efer_written | RT_EFER_LMA);
    CHECK(rt_efer_written & RT_EFER_LME, "the runtime did not write LME");
    /* a reserved EFER bit: #GP(0) */
    CHECK_EXC_TCG_NONE(RT_FAULT(rt_wrmsr(RT_MSR_EFER, efer | 1ull << 2)),
                       RT_GP, 0, 0, efer_note);
    rt_wrmsr(RT_MSR_EFER, efer);
    CHECK_EXC_TCG_NONE(RT_FAULT(rt_wrmsr(RT_MSR_EFER, efer | 1ull << 63)),
                       RT_GP, 0, 0, efer_note);
    rt_wrmsr(RT_MSR_EFER, efer);
    /* writing back what was read is harmless */
    CHECK(!RT_FAULT(rt_wrmsr(RT_MSR_EFER, efer)), "WRMSR EFER as read");
    CHECK_EQ(rt_rdmsr(RT_MSR_EFER), efer);
}

static void t_apic_base(void)
{
    /* SDM Vol. 3A 12.4.4: bit 8 (BSP) is set on the bootstrap processor */
    uint64_t v = rt_rdmsr(RT_MSR_APIC_BASE);
    CHECK(v & 1u << 8, "IA32_APIC_BASE %#lx: BSP clear", v);
    CHECK_EQ(v & 0xfff & ~0xd00ull, 0); /* bits 7:0 and 9 reserved */
}

static RT_USER_FN uint64_t user_rdmsr(uint64_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (uint64_t)hi << 32 | lo;
}

static RT_USER_FN uint64_t user_cpuid(uint64_t leaf)
{
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d)
                     : "a"(leaf), "c"(0));
    return a;
}

static void t_msr_faults(void)
{
    /* reserved or unimplemented MSR: #GP(0) (SDM Vol. 2B RDMSR, WRMSR) */
    CHECK_EXC_TCG_NONE(RT_FAULT(rt_wrmsr(NO_MSR, 0)), RT_GP, 0, 0, msr_note);
    CHECK_EXC_TCG_NONE(RT_FAULT(rt_rdmsr(NO_MSR)), RT_GP, 0, 0, msr_note);
    CHECK_EXC_TCG_NONE(RT_FAULT(rt_rdmsr(0xc0002000u)), RT_GP, 0, 0,
                       msr_note);
    /* RDMSR at CPL 3: #GP(0), whatever the MSR */
    CHECK_EXC(RT_FAULT(rt_user_call(user_rdmsr, RT_MSR_EFER, 0)), RT_GP, 0, 0);
    /* CPUID at CPL 3 is fine */
    CHECK_EQ(rt_user_call(user_cpuid, 0, 0), rt_cpuinfo.max_basic);
}

void kmain(void)
{
    rt_printf("k_cpuid: %s, family %#x model %#x stepping %u, max leaves "
              "%#x/%#x\n", rt_cpuinfo.vendor, rt_cpuinfo.family,
              rt_cpuinfo.model, rt_cpuinfo.stepping, rt_cpuinfo.max_basic,
              rt_cpuinfo.max_ext);
    RT_RUN(t_vendor);
    RT_RUN(t_signature);
    RT_RUN(t_features);
    RT_RUN(t_past_max);
    RT_RUN(t_efer);
    RT_RUN(t_apic_base);
    RT_RUN(t_msr_faults);
}
