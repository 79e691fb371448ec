/*
 * src/cpu/insn_system.c - system instructions that mean something without
 * virtualization: control and debug registers (MOV CR, MOV DR, CLTS, LMSW,
 * SMSW), the descriptor-table registers, MSRs, TLB and cache maintenance,
 * the time-stamp and performance counters, XCR0, PAUSE and MONITOR/MWAIT.
 *
 * Order of checks in each handler: the #UD conditions that depend on
 * features or CR4 come first, then the privilege check (#GP(0) when
 * CPL != 0; virtual-8086 mode has CPL 3), then the operand, and only when
 * all of them pass does any state change. The SVM and VMX intercepts of
 * these instructions belong to the virtualization code.
 */
#include "cpu/cpu_checks.h"
#include "cpu/exec.h"
#include "cpu/msr.h"
#include "cpu/paging.h"
#include "cpu/personality.h"
#include "svm/svm_exec.h"

static cpu_res gp0(cpu_fault *f)
{
    return cpu_raise(f, CPU_VEC_GP, true, 0);
}

static cpu_res ud(cpu_fault *f)
{
    return cpu_raise(f, CPU_VEC_UD, false, 0);
}

/* Privileged instructions: #GP(0) unless CPL = 0 (SDM Vol. 3A 5.9). */
static cpu_res need_cpl0(const svmx_cpu *cpu, cpu_fault *f)
{
    return cpu_cpl(cpu) == 0 ? CPU_OK : gp0(f);
}

enum { CPUID_EAX, CPUID_EBX, CPUID_ECX, CPUID_EDX };

/* True if the personality reports `bit` in register `reg` of `leaf`. */
static bool has_feature(const svmx_cpu *cpu, uint32_t leaf, unsigned reg,
                        uint32_t bit)
{
    svmx_cpuid_result id;
    svmx_cpu_cpuid(cpu, leaf, 0, &id);
    const uint32_t r[4] = { id.eax, id.ebx, id.ecx, id.edx };
    return (r[reg] & bit) != 0;
}

static uint64_t edx_eax(const svmx_cpu *cpu)
{
    return (cpu->regs.gpr[SVMX_RDX] & 0xffffffffull) << 32 |
           (cpu->regs.gpr[SVMX_RAX] & 0xffffffffull);
}

/* EDX:EAX := v, the upper halves of RDX and RAX cleared. */
static void set_edx_eax(svmx_cpu *cpu, uint64_t v)
{
    cpu->regs.gpr[SVMX_RAX] = v & 0xffffffffull;
    cpu->regs.gpr[SVMX_RDX] = v >> 32;
}

/* ------------------------------------------------ control registers -- */

/* CR0 bits that exist (SDM Vol. 3A 2.5 Figure 2-7, APM Vol. 2 3.1.1). */
#define CR0_DEFINED                                                           \
    (CPU_CR0_PE | CPU_CR0_MP | CPU_CR0_EM | CPU_CR0_TS | CPU_CR0_ET |         \
     CPU_CR0_NE | CPU_CR0_WP | CPU_CR0_AM | CPU_CR0_NW | CPU_CR0_CD |         \
     CPU_CR0_PG)

/* PAE paging (not 4-level) under these controls (SDM Vol. 3A 4.1.1). */
static bool pae_paging(uint64_t cr0, uint64_t cr4, uint64_t efer)
{
    return (cr0 & CPU_CR0_PG) && (cr4 & CPU_CR4_PAE) && !(efer & CPU_EFER_LMA);
}

/*
 * Activating IA-32e mode: setting CR0.PG while EFER.LME = 1 (SDM Vol. 3A
 * 10.8.5, APM Vol. 2 14.6). #GP(0) without CR4.PAE (SDM Vol. 3A 4.1.2,
 * APM Vol. 2 14.6); with CS.L = 1 (SDM Vol. 2B MOV CR, "Protected Mode
 * Exceptions"; applied to AMD too, as KVM does); and on Intel with TR
 * holding a 16-bit TSS (same SDM list; the APM states no TSS check).
 */
static bool ia32e_activation_ok(const svmx_cpu *cpu)
{
    const svmx_sregs *s = &cpu->sregs;
    unsigned tr_type = SVMX_SEG_ATTR_TYPE(s->seg[SVMX_TR].attr);
    if (!(s->cr4 & CPU_CR4_PAE) || (s->seg[SVMX_CS].attr & SVMX_SEG_ATTR_L))
        return false;
    return cpu->vendor != SVMX_VENDOR_INTEL || (tr_type != 1 && tr_type != 3);
}

/*
 * MOV to CR0, and LMSW through it.
 *   Checks (SDM Vol. 2B MOV CR, APM Vol. 3 MOV CRn): bits 63:32 set; PG
 *   without PE; NW without CD; activating IA-32e mode badly (above);
 *   clearing PG in 64-bit mode. Reserved bits 31:0 are ignored and ET
 *   reads 1 (SDM Vol. 2B MOV CR: "Attempting to set any reserved bits in
 *   CR0[31:0] is ignored"; APM Vol. 2 3.1.1: ET is read-only 1).
 *   Effects: EFER.LMA follows LME when PG changes (SDM Vol. 3A 10.8.5,
 *   APM Vol. 2 14.6); the PDPTEs load when PAE paging is in use after a
 *   change of PG, CD or NW (SDM Vol. 3A 4.4.1); a change of PG or WP
 *   flushes the TLB (paging.h). CD and NW have no TLB effect.
 */
static cpu_res write_cr0(svmx_cpu *cpu, uint64_t v, cpu_fault *f)
{
    svmx_sregs *s = &cpu->sregs;
    uint64_t old = s->cr0, efer = s->efer;
    if (!cpu_cr0_valid(v))
        return gp0(f);
    v = (v & CR0_DEFINED) | CPU_CR0_ET;
    if ((v & CPU_CR0_PG) && !(v & CPU_CR0_PE))
        return gp0(f);
    if ((v & CPU_CR0_NW) && !(v & CPU_CR0_CD))
        return gp0(f);
    uint64_t pg_on = v & ~old & CPU_CR0_PG, pg_off = old & ~v & CPU_CR0_PG;
    if (pg_on && (efer & CPU_EFER_LME) && !ia32e_activation_ok(cpu))
        return gp0(f);
    if (pg_off && svmx_cpu_mode(cpu) == SVMX_MODE_LONG64)
        return gp0(f);
    if (pg_on || pg_off) {
        efer &= ~CPU_EFER_LMA;
        if (pg_on && (efer & CPU_EFER_LME))
            efer |= CPU_EFER_LMA;
    }
    if (pae_paging(v, s->cr4, efer) &&
        ((old ^ v) & (CPU_CR0_PG | CPU_CR0_CD | CPU_CR0_NW))) {
        cpu_res r = paging_load_pdptes(cpu, s->cr3, f);
        if (r != CPU_OK)
            return r;
    }
    s->cr0 = v;
    s->efer = efer;
    if ((old ^ v) & (CPU_CR0_PG | CPU_CR0_WP))
        paging_flush(cpu, false);
    return CPU_OK;
}

/*
 * MOV to CR3 (SDM Vol. 2B MOV CR; APM Vol. 2 3.1.2): in IA-32e mode bits
 * 63:MAXPHYADDR must be 0 (without PCIDs bit 63 is one of them); outside
 * it the source has 32 bits. The bits the paging mode ignores are kept
 * as written. PAE paging loads the PDPTEs from the new value first; then
 * the TLB drops all but global entries (SDM Vol. 3A 4.10.4.1).
 */
static cpu_res write_cr3(svmx_cpu *cpu, uint64_t v, cpu_fault *f)
{
    svmx_sregs *s = &cpu->sregs;
    if ((s->efer & CPU_EFER_LMA) && !cpu_cr3_valid(cpu->pers, v))
        return gp0(f);
    if (pae_paging(s->cr0, s->cr4, s->efer)) {
        cpu_res r = paging_load_pdptes(cpu, v, f);
        if (r != CPU_OK)
            return r;
    }
    s->cr3 = v;
    paging_flush(cpu, true);
    return CPU_OK;
}

/*
 * MOV to CR4 (SDM Vol. 2B MOV CR; APM Vol. 2 3.1.3): a bit the
 * personality does not offer is reserved (#GP(0)) - PCIDE, OSXSAVE, DE,
 * VME and the rest of what CPUID does not advertise; clearing PAE while
 * IA-32e mode is active is #GP(0) (SDM Vol. 3A 4.1.2). PAE paging reloads
 * the PDPTEs on a change of PAE, PGE, PSE or SMEP (SDM Vol. 3A 4.4.1); a
 * change of PGE, PAE, PSE, SMEP or SMAP flushes the whole TLB (paging.h).
 */
static cpu_res write_cr4(svmx_cpu *cpu, uint64_t v, cpu_fault *f)
{
    svmx_sregs *s = &cpu->sregs;
    uint64_t changed = s->cr4 ^ v;
    if (!cpu_cr4_valid(cpu->pers, v))
        return gp0(f);
    if ((s->efer & CPU_EFER_LMA) && !(v & CPU_CR4_PAE))
        return gp0(f);
    if (pae_paging(s->cr0, v, s->efer) &&
        (changed & (CPU_CR4_PAE | CPU_CR4_PGE | CPU_CR4_PSE | CPU_CR4_SMEP))) {
        cpu_res r = paging_load_pdptes(cpu, s->cr3, f);
        if (r != CPU_OK)
            return r;
    }
    s->cr4 = v;
    if (changed & (CPU_CR4_PGE | CPU_CR4_PAE | CPU_CR4_PSE | CPU_CR4_SMEP |
                   CPU_CR4_SMAP))
        paging_flush(cpu, false);
    return CPU_OK;
}

/* The control registers that exist; the decoder already makes the others
 * #UD, this keeps the handler safe on its own. */
static uint64_t *cr_reg(svmx_cpu *cpu, unsigned n)
{
    svmx_sregs *s = &cpu->sregs;
    switch (n) {
    case 0: return &s->cr0;
    case 2: return &s->cr2;
    case 3: return &s->cr3;
    case 4: return &s->cr4;
    case 8: return &s->cr8;
    default: return NULL;
    }
}

/*
 * MOV CRn (SDM Vol. 2B MOV CR, APM Vol. 3 MOV CRn): CPL 0 only; the GPR
 * operand is 64 bits in 64-bit mode and 32 elsewhere (a 32-bit source
 * clears bits 63:32 of the register). The decoder makes CR1, CR5-CR7 and
 * CR9-CR15 #UD, and CR8 reachable only in 64-bit mode (REX.R) or, on AMD,
 * through LOCK MOV CR0. CR8 is the TPR: bits 63:4 must be 0.
 */
cpu_res insn_mov_cr(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    const svmx_crdr_inputs *c = &insn->crdr;
    unsigned size = insn->operands[c->write ? 1 : 0].size;
    uint64_t *cr = cr_reg(cpu, c->num);
    if (!cr)
        return ud(f);
    cpu_res r = need_cpl0(cpu, f);
    if (r != CPU_OK)
        return r;
    uint64_t v = exec_gpr_read(cpu, c->gpr, size, false);
    /* SVM: the CR intercepts, before the value is checked (src/svm). */
    if ((r = svm_cr_intercept(cpu, c->num, c->write, v,
                              SVM_INFO1_MOV_CR(c->gpr))) != CPU_OK)
        return r;
    if (!c->write) {
        exec_gpr_write(cpu, c->gpr, size, false, *cr);
        return CPU_OK;
    }
    switch (c->num) {
    case 0:
        return write_cr0(cpu, v, f);
    case 3:
        return write_cr3(cpu, v, f);
    case 4:
        return write_cr4(cpu, v, f);
    case 8:
        if (!cpu_cr8_valid(v))
            return gp0(f);
        break;
    default: /* CR2: any value */
        break;
    }
    *cr = v;
    return CPU_OK;
}

/* CLTS (SDM Vol. 2A CLTS, APM Vol. 3 CLTS): CR0.TS := 0 at CPL 0. */
cpu_res insn_clts(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    (void)insn;
    cpu_res r = need_cpl0(cpu, f);
    if (r == CPU_OK) /* SVM: a CR0 write (src/svm) */
        r = svm_cr0_intercept(cpu, cpu->sregs.cr0 & ~CPU_CR0_TS, false, 0);
    if (r == CPU_OK)
        cpu->sregs.cr0 &= ~CPU_CR0_TS;
    return r;
}

/*
 * LMSW (SDM Vol. 2A LMSW, APM Vol. 3 LMSW): CPL 0; loads CR0 bits 3:0
 * (PE, MP, EM, TS) from a 16-bit operand. It can set PE but not clear it.
 */
cpu_res insn_lmsw(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    uint64_t v;
    cpu_res r = need_cpl0(cpu, f);
    if (r == CPU_OK) /* SVM: a CR0 write, before the operand (src/svm) */
        r = svm_cr0_intercept(cpu, cpu->sregs.cr0, true, 0);
    if (r == CPU_OK)
        r = exec_read_operand(cpu, insn, &insn->operands[0], &v, f);
    if (r != CPU_OK)
        return r;
    return write_cr0(cpu, (cpu->sregs.cr0 & ~0xeull) | (v & 0xf), f);
}

/*
 * SMSW (SDM Vol. 2B SMSW, APM Vol. 3 SMSW): any CPL (no personality
 * offers UMIP). A memory destination gets CR0 bits 15:0. A register
 * destination gets CR0 at the operand size: bits 15:0 into the low word,
 * or CR0 zero-extended for 32 bits (where the SDM calls bits 31:16
 * undefined, the model stores CR0's, as Bochs and KVM do) and 64 bits.
 */
cpu_res insn_smsw(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    /* SVM: a CR0 read, not by MOV (src/svm) */
    cpu_res r = svm_intercept(cpu, SVMX_SVM_EXIT_CR0_READ, 0, 0);
    if (r != CPU_OK)
        return r;
    return exec_write_operand(cpu, insn, &insn->operands[0], cpu->sregs.cr0,
                              f);
}

/* -------------------------------------------------- debug registers -- */

#define DR7_GD   (1ull << 13)

/*
 * MOV DRn (SDM Vol. 2B MOV DR, APM Vol. 3 MOV DRn), checks in order:
 *   DR4/DR5 with CR4.DE = 1                        #UD (without DE they
 *                                                  are DR6/DR7)
 *   CPL != 0 (virtual-8086 mode included)          #GP(0)
 *   DR7.GD = 1                                     #DB, a fault: DR6.BD
 *       is set before it and GD cleared so that the handler may use the
 *       debug registers (SDM Vol. 3B 18.2.4)
 *   a write of DR6/DR7 with bits 63:32 set         #GP(0) (64-bit mode)
 * DR6 and DR7 keep their fixed bits. DR0-DR3 hold 64 bits in 64-bit mode;
 * elsewhere the 32-bit source clears the upper half. Breakpoints are not
 * modelled: a write that enables one stops the run UNSUPPORTED.
 */
cpu_res insn_mov_dr(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    const svmx_crdr_inputs *c = &insn->crdr;
    svmx_dregs *d = &cpu->dregs;
    unsigned size = insn->operands[c->write ? 1 : 0].size, n = c->num;
    if (n == 4 || n == 5) {
        if (cpu->sregs.cr4 & CPU_CR4_DE)
            return ud(f);
        n += 2;
    }
    cpu_res r = need_cpl0(cpu, f);
    if (r != CPU_OK)
        return r;
    if (d->dr7 & DR7_GD) {
        d->dr6 |= CPU_DR6_BD;
        d->dr7 &= ~DR7_GD;
        cpu_raise(f, CPU_VEC_DB, false, 0);
        f->payload = CPU_DR6_BD; /* a fault, for except.c's RF */
        return CPU_FAULT;
    }
    /* SVM: the DR intercepts, after the #DB (src/svm/intercept.c) */
    if ((r = svm_intercept(cpu, (c->write ? SVMX_SVM_EXIT_DR0_WRITE
                                          : SVMX_SVM_EXIT_DR0_READ) + c->num,
                           SVM_INFO1_MOV_DR(c->gpr), 0)) != CPU_OK)
        return r;
    if (!c->write) {
        uint64_t v = n == 6 ? d->dr6 : n == 7 ? d->dr7 : d->dr[n & 3];
        exec_gpr_write(cpu, c->gpr, size, false, v);
        return CPU_OK;
    }
    uint64_t v = exec_gpr_read(cpu, c->gpr, size, false);
    if (n < 4) {
        d->dr[n] = v;
        return CPU_OK;
    }
    if (v >> 32)
        return gp0(f);
    if (n == 6) {
        d->dr6 = (v & CPU_DR6_WRITABLE) | CPU_DR6_FIXED1;
        return CPU_OK;
    }
    d->dr7 = (v & CPU_DR7_WRITABLE) | CPU_DR7_FIXED1;
    return CPU_OK;
}

/* ------------------------------------- descriptor-table registers -- */

/* The linear address of a memory operand of `size` bytes, with the
 * segmentation checks of the access (SDM Vol. 3A 5.3). */
static cpu_res operand_linear(svmx_cpu *cpu, const svmx_insn *insn,
                              unsigned size, bool write, uint64_t *lin,
                              cpu_fault *f)
{
    const svmx_operand *op = &insn->operands[0];
    unsigned seg = op->seg < SVMX_SEG_COUNT ? op->seg : SVMX_DS;
    return exec_seg_address(cpu, seg, exec_effective_offset(cpu, insn, op),
                            size, write, lin, f);
}

/* lin + n, wrapped at 4 GiB outside 64-bit mode (SDM Vol. 3A 3.4). */
static uint64_t lin_add(const svmx_cpu *cpu, uint64_t lin, unsigned n)
{
    lin += n;
    return svmx_cpu_mode(cpu) == SVMX_MODE_LONG64 ? lin : lin & 0xffffffffull;
}

/*
 * LGDT/LIDT (SDM Vol. 2A LGDT/LIDT, APM Vol. 3 LGDT, LIDT): CPL 0; a
 * 2-byte limit and a 4-byte base (24 bits of it with a 16-bit operand
 * size), or in 64-bit mode an 8-byte base, which must be canonical.
 */
static cpu_res load_dtable(svmx_cpu *cpu, const svmx_insn *insn,
                           svmx_dtable *dt, uint64_t exit_code, cpu_fault *f)
{
    bool lm64 = svmx_cpu_mode(cpu) == SVMX_MODE_LONG64;
    unsigned bsize = lm64 ? 8 : 4, acc = exec_user_flag(cpu);
    uint64_t lin, limit, base;
    cpu_res r = need_cpl0(cpu, f);
    if (r == CPU_OK) /* SVM: GDTR/IDTR write intercepts (src/svm) */
        r = svm_intercept(cpu, exit_code, 0, 0);
    if (r == CPU_OK)
        r = operand_linear(cpu, insn, 2 + bsize, false, &lin, f);
    if (r == CPU_OK)
        r = exec_read_linear(cpu, lin, 2, acc, &limit, f);
    if (r == CPU_OK)
        r = exec_read_linear(cpu, lin_add(cpu, lin, 2), bsize, acc, &base, f);
    if (r != CPU_OK)
        return r;
    if (lm64 && !cpu_canonical(base, cpu->pers->linear_width))
        return gp0(f);
    if (insn->operand_size == 2)
        base &= 0xffffff;
    dt->limit = (uint16_t)limit;
    dt->base = base;
    return CPU_OK;
}

/*
 * Makes sure a store of [lin, last] made in two pieces cannot fault after
 * the first: both pages are translated for writing, in address order,
 * before anything is written. A fault on the second page reports its
 * first byte, as a split access does (operand.c).
 */
static cpu_res probe_store(svmx_cpu *cpu, uint64_t lin, uint64_t last,
                           cpu_fault *f)
{
    unsigned acc = PG_WRITE | exec_user_flag(cpu);
    uint64_t pa;
    cpu_res r = paging_translate(cpu, lin, acc, &pa, f);
    if (r == CPU_OK && (last >> 12) != (lin >> 12))
        r = paging_translate(cpu, last & ~0xfffull, acc, &pa, f);
    return r;
}

/*
 * SGDT/SIDT (SDM Vol. 2B SGDT, SIDT; APM Vol. 3 SGDT, SIDT): any CPL (no
 * UMIP); the limit, then the base: 4 bytes outside 64-bit mode, whatever
 * the operand size - the current SDM's Operation section stores the full
 * 32-bit base for 16-bit operands too (older editions wrote 24 bits and a
 * zero byte; docs/interpreter.md) - and 8 bytes in 64-bit mode.
 */
static cpu_res store_dtable(svmx_cpu *cpu, const svmx_insn *insn,
                            const svmx_dtable *dt, uint64_t exit_code,
                            cpu_fault *f)
{
    bool lm64 = svmx_cpu_mode(cpu) == SVMX_MODE_LONG64;
    unsigned bsize = lm64 ? 8 : 4, acc = exec_user_flag(cpu);
    uint64_t lin, base = lm64 ? dt->base : dt->base & 0xffffffffull;
    /* SVM: GDTR/IDTR read intercepts (src/svm) */
    cpu_res r = svm_intercept(cpu, exit_code, 0, 0);
    if (r == CPU_OK)
        r = operand_linear(cpu, insn, 2 + bsize, true, &lin, f);
    if (r == CPU_OK)
        r = probe_store(cpu, lin, lin_add(cpu, lin, 1 + bsize), f);
    if (r == CPU_OK)
        r = exec_write_linear(cpu, lin, 2, acc, dt->limit, f);
    if (r == CPU_OK)
        r = exec_write_linear(cpu, lin_add(cpu, lin, 2), bsize, acc, base, f);
    return r;
}

cpu_res insn_lgdt(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    return load_dtable(cpu, insn, &cpu->sregs.gdt, SVMX_SVM_EXIT_GDTR_WRITE, f);
}

cpu_res insn_lidt(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    return load_dtable(cpu, insn, &cpu->sregs.idt, SVMX_SVM_EXIT_IDTR_WRITE, f);
}

cpu_res insn_sgdt(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    return store_dtable(cpu, insn, &cpu->sregs.gdt, SVMX_SVM_EXIT_GDTR_READ, f);
}

cpu_res insn_sidt(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    return store_dtable(cpu, insn, &cpu->sregs.idt, SVMX_SVM_EXIT_IDTR_READ, f);
}

/* ------------------------------------------------------------- MSRs -- */

/* RDMSR (SDM Vol. 2B RDMSR, APM Vol. 3 RDMSR): CPL 0; an MSR the
 * personality lacks is #GP(0). */
cpu_res insn_rdmsr(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    (void)insn;
    uint64_t v;
    uint32_t index = (uint32_t)cpu->regs.gpr[SVMX_RCX];
    cpu_res r = need_cpl0(cpu, f);
    if (r == CPU_OK) /* SVM: the MSR intercept through the MSRPM (src/svm) */
        r = svm_intercept(cpu, SVMX_SVM_EXIT_MSR, 0, 0);
    if (r != CPU_OK)
        return r;
    if (cpu_msr_read(cpu, index, &v) != SVMX_OK)
        return gp0(f);
    if (index == CPU_MSR_IA32_TSC)
        v = svm_tsc(cpu); /* SVM guests read TSC + TSC_OFFSET */
    set_edx_eax(cpu, v);
    return CPU_OK;
}

/*
 * WRMSR to EFER, beyond the reserved bits msr.c checks:
 *   LMA is a status bit: the value written to it is ignored (SDM Vol. 4
 *   Table 2-2 marks it read-only; APM Vol. 2 3.1.7: the processor sets it);
 *   LME cannot change while CR0.PG = 1 (SDM Vol. 3A 4.1.2, APM Vol. 2
 *   14.6): #GP(0);
 *   a change of NXE changes what page-table entries mean: TLB flush.
 */
static cpu_res write_efer(svmx_cpu *cpu, uint64_t v, cpu_fault *f)
{
    uint64_t old = cpu->sregs.efer;
    v = (v & ~CPU_EFER_LMA) | (old & CPU_EFER_LMA);
    if (((old ^ v) & CPU_EFER_LME) && (cpu->sregs.cr0 & CPU_CR0_PG))
        return gp0(f);
    if (cpu_msr_write(cpu, CPU_MSR_IA32_EFER, v, false) != SVMX_OK)
        return gp0(f);
    /* SVM: L2 cleared EFER.SVME and L1 did not intercept the write: rule
     * R2 (DESIGN.md, src/nested/rules.c) - out of guest mode, L1 shuts
     * down. The write was a legal one: a reserved bit is #GP first. */
    if (cpu->svm.guest && (old & ~v & CPU_EFER_SVME))
        return nested_r2(cpu);
    if ((old ^ v) & CPU_EFER_NXE)
        paging_flush(cpu, false);
    return CPU_OK;
}

/* WRMSR (SDM Vol. 2D WRMSR, APM Vol. 3 WRMSR): CPL 0; EDX:EAX into the
 * MSR ECX names; an unknown MSR, a reserved bit or a refused value is
 * #GP(0) with nothing changed (msr.c applies the per-MSR rules). */
cpu_res insn_wrmsr(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    (void)insn;
    uint32_t index = (uint32_t)cpu->regs.gpr[SVMX_RCX];
    cpu_res r = need_cpl0(cpu, f);
    if (r == CPU_OK) /* SVM: the MSR intercept through the MSRPM (src/svm) */
        r = svm_intercept(cpu, SVMX_SVM_EXIT_MSR, 1, 0);
    if (r != CPU_OK)
        return r;
    if (index == CPU_MSR_IA32_EFER)
        return write_efer(cpu, edx_eax(cpu), f);
    if (cpu_msr_write(cpu, index, edx_eax(cpu), false) != SVMX_OK)
        return gp0(f);
    return CPU_OK;
}

/* ------------------------------------------------ TLB and caches -- */

/*
 * INVLPG (SDM Vol. 2A INVLPG, APM Vol. 3 INVLPG): CPL 0; drops the
 * translations of the operand's linear address, global or not. The
 * operand is not accessed: no segment-limit or paging fault, and a
 * non-canonical address in 64-bit mode does nothing.
 */
cpu_res insn_invlpg(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    const svmx_operand *op = &insn->operands[0];
    unsigned seg = op->seg < SVMX_SEG_COUNT ? op->seg : SVMX_DS;
    uint64_t base = cpu->sregs.seg[seg].base;
    uint64_t lin = exec_effective_offset(cpu, insn, op);
    cpu_res r = need_cpl0(cpu, f);
    if (r != CPU_OK)
        return r;
    bool lm64 = svmx_cpu_mode(cpu) == SVMX_MODE_LONG64;
    if (!lm64 || seg == SVMX_FS || seg == SVMX_GS)
        lin += base;
    if (!lm64)
        lin &= 0xffffffffull;
    /* SVM: the INVLPG intercept, EXITINFO1 the address (src/svm) */
    if ((r = svm_intercept(cpu, SVMX_SVM_EXIT_INVLPG, lin, 0)) != CPU_OK)
        return r;
    if (lm64 && !cpu_canonical(lin, cpu->pers->linear_width))
        return CPU_OK;
    paging_invlpg(cpu, lin);
    return CPU_OK;
}

/*
 * INVD, WBINVD, WBNOINVD (SDM Vol. 2A INVD, Vol. 2D WBINVD/WBNOINVD; APM
 * Vol. 3): CPL 0, and nothing else to do for a model without caches.
 * WBNOINVD is F3 WBINVD; neither personality advertises it, so it runs as
 * WBINVD with the prefix ignored, which is the same no-op.
 */
cpu_res insn_cache_ctl(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    cpu_res r = need_cpl0(cpu, f);
    if (r == CPU_OK) /* SVM: INVD, or WBINVD for both forms (src/svm) */
        r = svm_intercept(cpu, insn->cls == SVMX_INSN_INVD
                                   ? SVMX_SVM_EXIT_INVD : SVMX_SVM_EXIT_WBINVD,
                          0, 0);
    return r;
}

/* ------------------------------------------------------ counters -- */

/* RDTSC/RDTSCP at CPL > 0 with CR4.TSD = 1: #GP(0) (SDM Vol. 2B RDTSC). */
static cpu_res tsc_allowed(const svmx_cpu *cpu, cpu_fault *f)
{
    if ((cpu->sregs.cr4 & CPU_CR4_TSD) && cpu_cpl(cpu) != 0)
        return gp0(f);
    return CPU_OK;
}

/* RDTSC (SDM Vol. 2B RDTSC, APM Vol. 3 RDTSC): EDX:EAX := IA32_TSC. The
 * TSC counts retired instructions (docs/interpreter.md). */
cpu_res insn_rdtsc(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    (void)insn;
    cpu_res r = tsc_allowed(cpu, f);
    if (r == CPU_OK) /* SVM: the RDTSC intercept (src/svm) */
        r = svm_intercept(cpu, SVMX_SVM_EXIT_RDTSC, 0, 0);
    if (r == CPU_OK)
        set_edx_eax(cpu, svm_tsc(cpu));
    return r;
}

/* RDTSCP (SDM Vol. 2B RDTSCP, APM Vol. 3 RDTSCP): #UD without
 * CPUID.80000001H:EDX[27]; also ECX := IA32_TSC_AUX[31:0]. */
cpu_res insn_rdtscp(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    (void)insn;
    if (!has_feature(cpu, 0x80000001u, CPUID_EDX, CPU_CPUIDX1_EDX_RDTSCP))
        return ud(f);
    cpu_res r = tsc_allowed(cpu, f);
    if (r == CPU_OK) /* SVM: the RDTSCP intercept (src/svm) */
        r = svm_intercept(cpu, SVMX_SVM_EXIT_RDTSCP, 0, 0);
    if (r != CPU_OK)
        return r;
    set_edx_eax(cpu, svm_tsc(cpu));
    cpu->regs.gpr[SVMX_RCX] = cpu->msr.tsc_aux & 0xffffffffull;
    return CPU_OK;
}

/*
 * RDPMC (SDM Vol. 2B RDPMC, APM Vol. 3 RDPMC): #GP(0) at CPL > 0 without
 * CR4.PCE, and #GP(0) for a counter index that does not exist; then the
 * SVM intercept (APM Vol. 2 15.9: after the simple exceptions). The AMD
 * personality has the four legacy counters PerfCtr0-3 (APM Vol. 3 RDPMC:
 * "the AMD64 architecture currently supports four performance counters";
 * no PerfCtrExtCore, so ECX 0-3 only), which hold what software wrote:
 * no event is counted. The Intel personality advertises no architectural
 * performance monitoring (CPUID leaf 0Ah), so every index is invalid.
 */
cpu_res insn_rdpmc(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    (void)insn;
    uint32_t ecx = (uint32_t)cpu->regs.gpr[SVMX_RCX];
    if (cpu_cpl(cpu) > 0 && !(cpu->sregs.cr4 & CPU_CR4_PCE))
        return gp0(f);
    if (cpu->vendor != SVMX_VENDOR_AMD || ecx >= CPU_AMD_PERF_COUNTERS)
        return gp0(f);
    cpu_res r = svm_intercept(cpu, SVMX_SVM_EXIT_RDPMC, 0, 0);
    if (r == CPU_OK)
        set_edx_eax(cpu, cpu->msr.perf_ctr[ecx]);
    return r;
}

/* ----------------------------------------------------------- XCR0 -- */

/* XSETBV/XGETBV are #UD without CPUID.1:ECX.XSAVE or with CR4.OSXSAVE = 0
 * (SDM Vol. 2D XSETBV, XGETBV; APM Vol. 3). */
static cpu_res xsave_enabled(const svmx_cpu *cpu, cpu_fault *f)
{
    if (!has_feature(cpu, 1, CPUID_ECX, CPU_CPUID1_ECX_XSAVE) ||
        !(cpu->sregs.cr4 & CPU_CR4_OSXSAVE))
        return ud(f);
    return CPU_OK;
}

/* XSETBV: CPL 0, ECX = 0 (only XCR0 exists), a valid XCR0 value. */
cpu_res insn_xsetbv(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    (void)insn;
    uint64_t v = edx_eax(cpu);
    cpu_res r = xsave_enabled(cpu, f);
    if (r == CPU_OK)
        r = need_cpl0(cpu, f);
    if (r != CPU_OK)
        return r;
    if ((uint32_t)cpu->regs.gpr[SVMX_RCX] != 0 ||
        !cpu_xcr0_valid(cpu->pers, v))
        return gp0(f);
    cpu->sregs.xcr0 = v;
    return CPU_OK;
}

/* XGETBV: any CPL; ECX = 0 reads XCR0. ECX = 1 (XINUSE) needs
 * CPUID.(EAX=0DH,ECX=1):EAX[2], which no personality offers: #GP(0) like
 * any other index. */
cpu_res insn_xgetbv(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    (void)insn;
    cpu_res r = xsave_enabled(cpu, f);
    if (r != CPU_OK)
        return r;
    if ((uint32_t)cpu->regs.gpr[SVMX_RCX] != 0)
        return gp0(f);
    set_edx_eax(cpu, cpu->sregs.xcr0);
    return CPU_OK;
}

/* ----------------------------------------------------------- hints -- */

/* PAUSE: a spin-loop hint, nothing to do (SDM Vol. 2B PAUSE). */
cpu_res insn_pause(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    (void)insn, (void)f;
    /* SVM: the PAUSE intercept; no pause filter is advertised (src/svm) */
    return svm_intercept(cpu, SVMX_SVM_EXIT_PAUSE, 0, 0);
}

/*
 * MONITOR/MWAIT are #UD when CPUID.1:ECX.MONITOR is 0 (SDM Vol. 2B
 * MONITOR, MWAIT), MONITORX/MWAITX when CPUID 8000_0001h ECX[29] is 0
 * (APM Vol. 3). No personality offers either; the guards only say what
 * a personality that did would need.
 */
cpu_res insn_monitor(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    bool x = insn->cls == SVMX_INSN_MONITORX || insn->cls == SVMX_INSN_MWAITX;
    if (x ? !has_feature(cpu, 0x80000001u, CPUID_ECX,
                         CPU_CPUIDX1_ECX_MONITORX)
          : !has_feature(cpu, 1, CPUID_ECX, CPU_CPUID1_ECX_MONITOR))
        return ud(f);
    return exec_stop(cpu, SVMX_STOP_UNSUPPORTED, "MONITOR/MWAIT");
}
