/*
 * tests/kernels/svm/svm.c - the L1 runtime of the SVM test kernels: SVM
 * detection and enabling, the VMCB a guest starts from, intercepts, the
 * permission maps and the exit report (APM Vol. 2 chapter 15).
 */
#include "svm.h"

/* Table B-1 and B-2 offsets, checked here so the struct is the APM's. */
#define SVM_AT(field, off)                                                    \
    _Static_assert(offsetof(svm_vmcb, field) == (off), #field " offset")
SVM_AT(icpt, 0x000);
SVM_AT(pause_thresh, 0x03c);
SVM_AT(iopm_base, 0x040);
SVM_AT(msrpm_base, 0x048);
SVM_AT(tsc_offset, 0x050);
SVM_AT(asid, 0x058);
SVM_AT(tlb_control, 0x05c);
SVM_AT(vintr, 0x060);
SVM_AT(int_state, 0x068);
SVM_AT(exitcode, 0x070);
SVM_AT(exitinfo1, 0x078);
SVM_AT(exitinfo2, 0x080);
SVM_AT(exitintinfo, 0x088);
SVM_AT(np_ctl, 0x090);
SVM_AT(eventinj, 0x0a8);
SVM_AT(ncr3, 0x0b0);
SVM_AT(clean, 0x0c0);
SVM_AT(nrip, 0x0c8);
SVM_AT(insn_len, 0x0d0);
SVM_AT(insn_bytes, 0x0d1);
SVM_AT(es, 0x400);
SVM_AT(cs, 0x410);
SVM_AT(ss, 0x420);
SVM_AT(ds, 0x430);
SVM_AT(fs, 0x440);
SVM_AT(gs, 0x450);
SVM_AT(gdtr, 0x460);
SVM_AT(gdtr.limit, 0x464);
SVM_AT(gdtr.base, 0x468);
SVM_AT(ldtr, 0x470);
SVM_AT(idtr, 0x480);
SVM_AT(tr, 0x490);
SVM_AT(cpl, 0x4cb);
SVM_AT(efer, 0x4d0);
SVM_AT(cr4, 0x548);
SVM_AT(cr3, 0x550);
SVM_AT(cr0, 0x558);
SVM_AT(dr7, 0x560);
SVM_AT(dr6, 0x568);
SVM_AT(rflags, 0x570);
SVM_AT(rip, 0x578);
SVM_AT(rsp, 0x5d8);
SVM_AT(rax, 0x5f8);
SVM_AT(star, 0x600);
SVM_AT(lstar, 0x608);
SVM_AT(cstar, 0x610);
SVM_AT(sfmask, 0x618);
SVM_AT(kernel_gs_base, 0x620);
SVM_AT(sysenter_cs, 0x628);
SVM_AT(sysenter_esp, 0x630);
SVM_AT(sysenter_eip, 0x638);
SVM_AT(cr2, 0x640);
SVM_AT(g_pat, 0x668);
SVM_AT(dbgctl, 0x670);
_Static_assert(sizeof(svm_vmcb) == 4096, "the VMCB is one page");
#undef SVM_AT

/* From svm_asm.S. */
extern uint8_t svm_gstubs[], svm_gstubs_end[], svm_guest_tramp[];
extern uint64_t rt_gdt[];

svm_info svm_cpu;
svm_gprs svm_guest_regs;
volatile svm_gexc svm_guest_exc;
volatile uint8_t svm_guest_resume[256];
rt_gate svm_guest_idt[256] __attribute__((aligned(4096)));
bool svm_quiet;

uint8_t svm_iopm[3 * 4096] __attribute__((aligned(4096)));
uint8_t svm_msrpm[2 * 4096] __attribute__((aligned(4096)));
svm_vmcb svm_vmcb_a, svm_vmcb_b, svm_vmcb_c;
uint8_t svm_hsave[4096] __attribute__((aligned(4096)));
uint8_t svm_guest_stack[SVM_GUEST_STACK_SIZE] __attribute__((aligned(16)));

static const char *skip_why;

void svm_set_svme(bool on)
{
    uint64_t efer = rt_rdmsr(RT_MSR_EFER);
    efer = on ? efer | RT_EFER_SVME : efer & ~(uint64_t)RT_EFER_SVME;
    rt_wrmsr(RT_MSR_EFER, efer);
}

bool svm_rip_in_guest_stubs(uint64_t rip)
{
    return rip >= (uint64_t)(uintptr_t)svm_gstubs &&
           rip < (uint64_t)(uintptr_t)svm_gstubs_end;
}

static void guest_idt_init(void)
{
    for (unsigned v = 0; v < 256; v++) {
        uint64_t off = (uint64_t)(uintptr_t)svm_gstubs + 16u * v;
        rt_gate *g = &svm_guest_idt[v];
        g->off0 = (uint16_t)off;
        g->sel = RT_KCODE64;
        g->ist = 0;
        g->attr = 0x80 | RT_GATE_INT; /* present, DPL 0, interrupt gate */
        g->off1 = (uint16_t)(off >> 16);
        g->off2 = (uint32_t)(off >> 32);
        g->reserved = 0;
    }
}

static uint64_t rdmsr_or_zero(uint32_t msr)
{
    volatile uint64_t v = 0;
    if (RT_FAULT(v = rt_rdmsr(msr)))
        return 0;
    return v;
}

bool svm_init(void)
{
    uint32_t r[4];
    memset(&svm_cpu, 0, sizeof svm_cpu);
    /* APM 15.4: CPUID Fn8000_0001 ECX[SVM] (bit 2). */
    if (rt_cpuinfo.max_ext < 0x80000001u || !(rt_cpuinfo.x1_ecx & (1u << 2))) {
        skip_why = "no SVM (CPUID 8000_0001 ECX[2] is clear)";
        svm_skip_all();
        return false;
    }
    /* APM 15.4: VM_CR.SVMDIS set means firmware disabled SVM. Read it
       carefully: a model that has no VM_CR could fault. */
    if (rdmsr_or_zero(SVM_MSR_VM_CR) & SVM_VM_CR_SVMDIS) {
        skip_why = "SVM disabled by firmware (VM_CR.SVMDIS)";
        svm_skip_all();
        return false;
    }
    svm_cpu.present = true;
    if (rt_cpuinfo.max_ext >= 0x8000000au) {
        rt_cpuid(0x8000000au, 0, r);
        svm_cpu.rev = r[0] & 0xff;
        svm_cpu.nasid = r[1];
        svm_cpu.features = r[3];
    }
    svm_cpu.nrips = svm_cpu.features & SVM_F_NRIPS;
    svm_cpu.decode_assists = svm_cpu.features & SVM_F_DECODE_ASSIST;
    svm_cpu.np = svm_cpu.features & SVM_F_NP;
    svm_cpu.host_pat = rdmsr_or_zero(SVM_MSR_PAT);
    if (!svm_cpu.host_pat)
        svm_cpu.host_pat = UINT64_C(0x0007040600070406); /* reset value */

    svm_set_svme(true);
    rt_wrmsr(SVM_MSR_VM_HSAVE, svm_pa(svm_hsave));
    svm_maps_clear();
    guest_idt_init();
    rt_printf("svm: revision %u, %u ASIDs, CPUID 8000_000A EDX %#x "
              "(NP %d, NRIPS %d, decode assists %d)\n",
              svm_cpu.rev, svm_cpu.nasid, svm_cpu.features, svm_cpu.np,
              svm_cpu.nrips, svm_cpu.decode_assists);
    return true;
}

void svm_skip_all(void)
{
    rt_skip("all", skip_why ? skip_why : "no SVM");
}

void svm_maps_clear(void)
{
    memset(svm_iopm, 0, sizeof svm_iopm);
    memset(svm_msrpm, 0, sizeof svm_msrpm);
}

/* 15.10.1: one bit per port, 12 KiB so that bits up to 0x10002 exist. */
void svm_iopm_set(uint32_t port, bool on)
{
    if (port >= 8 * sizeof svm_iopm)
        return;
    uint8_t bit = (uint8_t)(1u << (port & 7));
    if (on)
        svm_iopm[port >> 3] |= bit;
    else
        svm_iopm[port >> 3] &= (uint8_t)~bit;
}

/* 15.11, Table 15-8: three 2 KiB ranges, two bits per MSR (read, write). */
bool svm_msrpm_set(uint32_t msr, bool write, bool on)
{
    uint32_t base;
    if (msr <= 0x1fffu)
        base = 0x000;
    else if (msr >= 0xc0000000u && msr <= 0xc0001fffu)
        base = 0x800;
    else if (msr >= 0xc0010000u && msr <= 0xc0011fffu)
        base = 0x1000;
    else
        return false;
    uint32_t bitno = base * 8 + (msr & 0x1fffu) * 2 + (write ? 1 : 0);
    uint8_t bit = (uint8_t)(1u << (bitno & 7));
    if (on)
        svm_msrpm[bitno >> 3] |= bit;
    else
        svm_msrpm[bitno >> 3] &= (uint8_t)~bit;
    return true;
}

void svm_intercept(svm_vmcb *v, unsigned code, bool on)
{
    if (code >= 6 * 32)
        rt_panic("svm_intercept: exit code %#x has no intercept bit", code);
    if (on)
        v->icpt[code / 32] |= 1u << (code % 32);
    else
        v->icpt[code / 32] &= ~(1u << (code % 32));
}

bool svm_intercepted(const svm_vmcb *v, unsigned code)
{
    return code < 6 * 32 && (v->icpt[code / 32] >> (code % 32) & 1);
}

static void seg(svm_seg *s, uint16_t sel, uint16_t attrib)
{
    s->sel = sel;
    s->attrib = attrib;
    s->limit = 0xffffffffu;
    s->base = 0;
}

void svm_vmcb_init(svm_vmcb *v, uint64_t rip)
{
    memset(v, 0, sizeof *v);
    svm_intercept(v, SVM_EXIT_VMRUN, true);
    svm_intercept(v, SVM_EXIT_VMMCALL, true);
    svm_intercept(v, SVM_EXIT_HLT, true);
    svm_intercept(v, SVM_EXIT_SHUTDOWN, true);
    v->iopm_base = svm_pa(svm_iopm);
    v->msrpm_base = svm_pa(svm_msrpm);
    v->asid = 1;
    v->tlb_control = 1; /* Table 15-9: flush the whole TLB */

    seg(&v->cs, RT_KCODE64, SVM_ATTR_CODE64);
    seg(&v->ss, RT_KDATA, SVM_ATTR_DATA);
    seg(&v->ds, RT_KDATA, SVM_ATTR_DATA);
    seg(&v->es, RT_KDATA, SVM_ATTR_DATA);
    seg(&v->fs, RT_KDATA, SVM_ATTR_DATA);
    seg(&v->gs, RT_KDATA, SVM_ATTR_DATA);
    v->gdtr.limit = RT_GDT_SLOTS * 8 - 1;
    v->gdtr.base = (uint64_t)(uintptr_t)rt_gdt;
    v->idtr.limit = sizeof svm_guest_idt - 1;
    v->idtr.base = (uint64_t)(uintptr_t)svm_guest_idt;
    v->cpl = 0;
    v->efer = rt_rdmsr(RT_MSR_EFER);
    v->cr0 = rt_read_cr0();
    v->cr3 = rt_read_cr3();
    v->cr4 = rt_read_cr4();
    v->cr2 = 0;
    v->dr7 = 0x400;
    v->dr6 = 0xffff0ff0;
    v->rflags = 2;
    v->rip = rip;
    v->rsp = svm_guest_stack_top;
    v->g_pat = svm_cpu.host_pat;

    memset(&svm_guest_regs, 0, sizeof svm_guest_regs);
    memset((void *)&svm_guest_exc, 0, sizeof svm_guest_exc);
    memset((void *)svm_guest_resume, 0, sizeof svm_guest_resume);
}

void svm_vmcb_call(svm_vmcb *v, uint64_t (*fn)(uint64_t), uint64_t arg)
{
    svm_vmcb_init(v, (uint64_t)(uintptr_t)svm_guest_tramp);
    v->rax = (uint64_t)(uintptr_t)fn;
    svm_guest_regs.rdi = arg;
}

void svm_print_exit(const svm_vmcb *v)
{
    rt_printf("exit code=0x%lx info1=0x%lx info2=0x%lx nrip=0x%lx "
              "intinfo=0x%lx\n",
              v->exitcode, v->exitinfo1, v->exitinfo2, v->nrip,
              v->exitintinfo);
}

uint64_t svm_run(svm_vmcb *v)
{
    uint64_t code = svm_run_raw(v);
    svm_stgi();
    if (!svm_quiet)
        svm_print_exit(v);
    return code;
}

void svm_check_exit(const char *file, int line, const svm_vmcb *v,
                    uint64_t code, uint64_t rip, unsigned len)
{
    rt_checks++;
    if (v->exitcode != code) {
        rt_fail_at(file, line, "", "EXITCODE is %#lx, expected %#lx (guest "
                   "RIP %#lx, EXITINFO1 %#lx, EXITINFO2 %#lx)", v->exitcode,
                   code, v->rip, v->exitinfo1, v->exitinfo2);
        return;
    }
    if (rip) {
        rt_checks++;
        if (v->rip != rip)
            rt_fail_eq(file, line, "guest RIP", v->rip, rip);
    }
    if (rip && len && svm_cpu.nrips) {
        rt_checks++;
        if (v->nrip != rip + len)
            rt_fail_eq(file, line, "nRIP", v->nrip, rip + len);
    }
    rt_checks++;
    if (v->exitintinfo & SVM_EV_VALID)
        rt_fail_eq(file, line, "EXITINTINFO", v->exitintinfo, 0);
}

void svm_expect_shutdown(svm_vmcb *v, const char *why, uint64_t tcg_exitcode,
                         const char *tcg_note)
{
    if (rt_failures)
        rt_report(); /* FAIL: what came before did not hold */
    rt_printf("# %u checks so far, none failed\n", rt_checks);
    rt_printf("expect: shutdown (%s)\n", why);
    v->exitcode = SVM_EXITCODE_MARKER;
    svm_run_raw(v);
    svm_stgi();
    /* Still here: the CPU came back to L1. */
    svm_print_exit(v);
    rt_printf("# back in L1: EXITCODE %s, guest RIP %#lx, guest EFER %#lx, "
              "L1 EFER %#lx\n",
              v->exitcode == SVM_EXITCODE_MARKER ? "not written (the marker)"
                                                 : "written",
              v->rip, v->efer, rt_rdmsr(RT_MSR_EFER));
    if (tcg_note && v->exitcode == tcg_exitcode &&
        rt_tcg_excuse(1, 0, 1, tcg_note))
        rt_report();
    rt_checks++;
    rt_fail_at(__FILE__, __LINE__, "", "expected a shutdown (%s), but the "
               "CPU came back to L1", why);
    rt_report();
}

bool svm_exit_invalid(const svm_vmcb *v)
{
    return rt_tcg_excuse(v->exitcode, SVM_EXIT_INVALID, 0xffffffffu,
                         "VMEXIT_INVALID is written as 0xFFFFFFFF: EXITCODE "
                         "is 64 bits, -1 (APM Table C-1, B-1)");
}

static uint64_t svm_npml4[512] __attribute__((aligned(4096)));
static uint64_t svm_npdpt[512] __attribute__((aligned(4096)));
uint64_t svm_npd[512] __attribute__((aligned(4096)));

void svm_npt_identity(void)
{
    const uint64_t rwu = RT_PTE_P | RT_PTE_W | RT_PTE_U;
    memset(svm_npml4, 0, sizeof svm_npml4);
    memset(svm_npdpt, 0, sizeof svm_npdpt);
    svm_npml4[0] = svm_pa(svm_npdpt) | rwu;
    svm_npdpt[0] = svm_pa(svm_npd) | rwu;
    for (uint64_t i = 0; i < 512; i++)
        svm_npd[i] = i << 21 | rwu | RT_PTE_PS;
}

void svm_npt_enable(svm_vmcb *v)
{
    v->np_ctl = 1;
    v->ncr3 = svm_pa(svm_npml4);
    v->g_pat = svm_cpu.host_pat;
}
