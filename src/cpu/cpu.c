/*
 * src/cpu/cpu.c - creating a CPU, its reset state, and the state API
 * (get/set of registers, segments, debug registers, events and MSRs).
 *
 * The setters are the host's door into the CPU, so they refuse what no
 * register of the personality can hold and leave the CPU unchanged when
 * they do; combinations that are each representable are accepted and
 * checked where the architecture checks them (VMRUN, VM entry).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "svmx/cpu.h"
#include "svmx/decode.h"
#include "cpu/cpu_checks.h"
#include "cpu/cpu_internal.h"
#include "cpu/events.h"
#include "cpu/msr.h"
#include "cpu/paging.h"
#include "cpu/personality.h"
#include "nested/nested_exec.h"

const char *svmx_vendor_name(svmx_vendor vendor)
{
    const cpu_personality *pers = cpu_personality_get(vendor);
    return pers ? pers->name : "?";
}

/* The decode cache lives right after the struct, in the same block, so a
 * CPU in caller memory needs no allocation either. */
static size_t dcache_offset(void)
{
    return (sizeof(struct svmx_cpu) + 63) & ~(size_t)63;
}

size_t svmx_cpu_size(void)
{
    size_t n = dcache_offset() + svmx_decode_cache_size(CPU_DCACHE_LOG2);
    return (n + SVMX_CPU_ALIGN - 1) & ~(size_t)(SVMX_CPU_ALIGN - 1);
}

/* DR0-DR3 0, DR6 and DR7 their fixed bits: RESET on both vendors, INIT
 * on Intel (SDM Vol. 3A 10.1.1 Table 10-1; APM Vol. 2 Table 14-1 has INIT
 * leave them "Not modified"). */
static void debug_initial(svmx_cpu *cpu)
{
    memset(&cpu->dregs, 0, sizeof cpu->dregs);
    cpu->dregs.dr6 = CPU_DR6_FIXED1;
    cpu->dregs.dr7 = CPU_DR7_FIXED1;
}

/*
 * What RESET and INIT both load (SDM Vol. 3A 10.1.1 Table 10-1, APM
 * Vol. 2 14.1.3 Tables 14-1 and 14-2, which agree on everything set
 * here): real mode at F000:FFF0, RFLAGS = 2, the segments, GDTR and IDTR
 * below, CR0.ET with CD and NW left to the caller, CR2, CR3, CR4, CR8 and
 * EFER 0, the general registers 0 but EDX, the TLB flushed; the CPU is
 * out of SVM guest mode and active. Not touched: the MSRs, XCR0, the
 * debug registers, GIF and the pending events - the caller's, as RESET
 * and INIT differ there.
 */
static void initial_state(svmx_cpu *cpu)
{
    svmx_sregs *s = &cpu->sregs;
    memset(&cpu->regs, 0, sizeof cpu->regs);
    memset(&cpu->svm, 0, sizeof cpu->svm); /* out of guest mode */
    nested_reset(cpu);
    debug_reset(cpu);
    /* The interpreter's between-instruction state: no trap waits. */
    cpu->db_deferred = false;
    cpu->db_deferred_dr6 = 0;
    cpu->bp_hits = 0;

    cpu->regs.rip = 0xfff0;
    cpu->regs.rflags = SVMX_RFLAGS_FIXED;

    /* Present, accessed read/write data (type 3) / execute-read code (11). */
    const uint16_t data = SVMX_SEG_ATTR_P | SVMX_SEG_ATTR_S | 0x3;
    const uint16_t code = SVMX_SEG_ATTR_P | SVMX_SEG_ATTR_S | 0xb;
    for (unsigned i = 0; i < SVMX_SREG_COUNT; i++)
        s->seg[i] = (svmx_segment){ .limit = 0xffff, .attr = data };
    s->seg[SVMX_CS].selector = 0xf000;
    s->seg[SVMX_CS].base = 0xffff0000;
    s->seg[SVMX_CS].attr = code;
    /* Present system segments: LDT (type 2), busy 32/64-bit TSS (11). */
    s->seg[SVMX_LDTR].attr = SVMX_SEG_ATTR_P | 0x2;
    s->seg[SVMX_TR].attr = SVMX_SEG_ATTR_P | 0xb;
    s->gdt = (svmx_dtable){ .base = 0, .limit = 0xffff };
    s->idt = (svmx_dtable){ .base = 0, .limit = 0xffff };
    s->cr0 = (s->cr0 & (CPU_CR0_CD | CPU_CR0_NW)) | CPU_CR0_ET;
    s->cr2 = s->cr3 = s->cr4 = s->cr8 = 0;
    s->efer = 0;

    cpu->events.activity = SVMX_ACTIVITY_ACTIVE;

    /* EDX holds the family/model/stepping signature, CPUID.1:EAX. */
    svmx_cpuid_result id;
    svmx_cpu_cpuid(cpu, 1, 0, &id);
    cpu->regs.gpr[SVMX_RDX] = id.eax;
    paging_reset(cpu);
}

/* The power-up/RESET state: everything initial_state() loads, and CR0 =
 * 60000010h, XCR0 = 1 (x87), DR0-DR7 and every MSR at their reset
 * values (TSC 0, PAT, APIC base ...), nothing pending, GIF = 1. */
static void reset_state(svmx_cpu *cpu)
{
    memset(&cpu->events, 0, sizeof cpu->events);
    cpu->events.gif = true; /* APM Vol. 2 15.17: GIF is 1 after reset */
    cpu->sregs.cr0 = CPU_CR0_CD | CPU_CR0_NW;
    cpu->sregs.xcr0 = 1;
    debug_initial(cpu);
    cpu_msr_reset(cpu); /* EFER is initial_state()'s */
    cpu->bp_armed = false;
    cpu->attention = false;
    cpu->stop_requested = false;
    initial_state(cpu);
}

/*
 * The INIT state of the bootstrap processor (SDM Vol. 3A 10.1.1 Table
 * 10-1 "INIT" column, APM Vol. 2 14.1.3 Table 14-1 "Value after INIT"):
 * initial_state(), keeping what RESET would set and INIT does not -
 *   - CR0.CD and NW (Table 10-1 note 2; APM: "CD and NW are unchanged");
 *   - every MSR, the TSC included ("All other MSRs: Unchanged"; APM:
 *     "Not modified"), but EFER, which INIT clears (APM Table 14-1; the
 *     SDM's table does not list it, and KVM clears it on both vendors);
 *   - XCR0 (APM "Not modified"; KVM sets it only at RESET);
 *   - on AMD DR0-DR3, DR6 and DR7 (APM "Not modified"); Intel resets
 *     them (Table 10-1 gives them the RESET values under INIT);
 *   - GIF (INIT is taken only with GIF = 1) and an INTR request: the INTR
 *     line belongs to the interrupt controller, which the embedder plays.
 * A pending exception, NMI or SMI, NMI blocking and the interrupt shadow
 * are discarded, as KVM's INIT does (kvm_vcpu_reset; the manuals are
 * silent). In SVM guest mode the CPU leaves it with no #VMEXIT: EFER.SVME
 * is now 0 (KVM: "Force the vCPU back into L1 as EFER.SVME is cleared on
 * INIT"); the PAT MSR is the host's again, G_PAT having been the guest's
 * own under nested paging (15.25.8).
 */
void cpu_init_state(svmx_cpu *cpu)
{
    svmx_events *e = &cpu->events;
    if (cpu->svm.guest && cpu->svm.np)
        cpu->msr.pat = cpu->svm.host.pat;
    if (cpu->vendor != SVMX_VENDOR_AMD)
        debug_initial(cpu);
    *e = (svmx_events){ .gif = e->gif, .irq_pending = e->irq_pending,
                        .irq_vector = e->irq_vector };
    initial_state(cpu);
}

/*
 * The embedder's MMIO and port callbacks, called through the CPU: a
 * callback may write guest RAM, which voids the fast loop's successor
 * hints (hostmap.h), so each call ends the hostmap's epoch. The config's
 * svmx_io_ops is read at each call, as svmx_mem reads it: a callback set
 * or cleared later counts, and a missing one answers as svmx_mem's
 * default does (all ones, the write dropped).
 */
static svmx_status fwd_mmio_read(void *ctx, uint64_t gpa, unsigned size,
                                 uint64_t *value)
{
    svmx_cpu *cpu = ctx;
    const svmx_io_ops *io = cpu->io_user;
    if (!io->mmio_read) {
        *value = UINT64_MAX;
        return SVMX_OK;
    }
    svmx_status st = io->mmio_read(io->ctx, gpa, size, value);
    hostmap_epoch_end(&cpu->hostmap);
    return st;
}

static svmx_status fwd_mmio_write(void *ctx, uint64_t gpa, unsigned size,
                                  uint64_t value)
{
    svmx_cpu *cpu = ctx;
    const svmx_io_ops *io = cpu->io_user;
    if (!io->mmio_write)
        return SVMX_OK;
    svmx_status st = io->mmio_write(io->ctx, gpa, size, value);
    hostmap_epoch_end(&cpu->hostmap);
    return st;
}

static svmx_status fwd_pio_in(void *ctx, uint16_t port, unsigned size,
                              uint32_t *value)
{
    svmx_cpu *cpu = ctx;
    const svmx_io_ops *io = cpu->io_user;
    if (!io->pio_in) {
        *value = UINT32_MAX; /* svmx_mem_pio_in masks it to `size` */
        return SVMX_OK;
    }
    svmx_status st = io->pio_in(io->ctx, port, size, value);
    hostmap_epoch_end(&cpu->hostmap);
    return st;
}

static svmx_status fwd_pio_out(void *ctx, uint16_t port, unsigned size,
                               uint32_t value)
{
    svmx_cpu *cpu = ctx;
    const svmx_io_ops *io = cpu->io_user;
    if (!io->pio_out)
        return SVMX_OK;
    svmx_status st = io->pio_out(io->ctx, port, size, value);
    hostmap_epoch_end(&cpu->hostmap);
    return st;
}

static void io_forward(svmx_cpu *cpu, const svmx_io_ops *io)
{
    if (!io)
        return;
    cpu->io_user = io;
    cpu->io_fwd = (svmx_io_ops){ .ctx = cpu, .mmio_read = fwd_mmio_read,
                                 .mmio_write = fwd_mmio_write,
                                 .pio_in = fwd_pio_in,
                                 .pio_out = fwd_pio_out };
    cpu->mem.io = &cpu->io_fwd;
}

svmx_status svmx_cpu_init(void *mem, size_t size, const svmx_config *cfg,
                          svmx_cpu **out)
{
    if (!mem || !cfg || !out)
        return SVMX_E_ARG;
    if (size < svmx_cpu_size() || (uintptr_t)mem % SVMX_CPU_ALIGN != 0)
        return SVMX_E_ARG;
    const cpu_personality *pers = cpu_personality_get(cfg->vendor);
    if (!pers)
        return SVMX_E_ARG;
    svmx_mem gmem;
    SVMX_TRY(svmx_mem_setup(&gmem, cfg->ram, cfg->ram_size, cfg->io));

    svmx_cpu *cpu = mem;
    memset(cpu, 0, sizeof *cpu);
    cpu->vendor = cfg->vendor;
    cpu->pers = pers;
    cpu->mem = gmem;
    io_forward(cpu, cfg->io);
    SVMX_TRY(svmx_decode_cache_init((uint8_t *)mem + dcache_offset(),
                                    svmx_decode_cache_size(CPU_DCACHE_LOG2),
                                    CPU_DCACHE_LOG2, &cpu->dcache));
    reset_state(cpu);
    *out = cpu;
    return SVMX_OK;
}

svmx_status svmx_cpu_create(const svmx_config *cfg, svmx_cpu **out)
{
    if (!cfg || !out)
        return SVMX_E_ARG;
    /* svmx_cpu_size() is a multiple of the alignment, as aligned_alloc
     * wants. */
    size_t size = svmx_cpu_size();
    void *mem = aligned_alloc(SVMX_CPU_ALIGN, size);
    if (!mem)
        return SVMX_E_NOMEM;
    svmx_status st = svmx_cpu_init(mem, size, cfg, out);
    if (st != SVMX_OK) {
        free(mem);
        return st;
    }
    (*out)->owned = true;
    return SVMX_OK;
}

void svmx_cpu_destroy(svmx_cpu *cpu)
{
    /* A CPU in caller memory (svmx_cpu_init) is the caller's to free. */
    if (cpu && cpu->owned)
        free(cpu);
}

svmx_status svmx_cpu_reset(svmx_cpu *cpu)
{
    if (!cpu)
        return SVMX_E_ARG;
    reset_state(cpu);
    return SVMX_OK;
}

svmx_vendor svmx_cpu_vendor(const svmx_cpu *cpu)
{
    return cpu ? cpu->vendor : SVMX_VENDOR_COUNT;
}

const svmx_mem *svmx_cpu_mem(const svmx_cpu *cpu)
{
    return cpu ? &cpu->mem : NULL;
}

svmx_status svmx_cpu_get_regs(const svmx_cpu *cpu, svmx_regs *regs)
{
    if (!cpu || !regs)
        return SVMX_E_ARG;
    *regs = cpu->regs;
    return SVMX_OK;
}

svmx_status svmx_cpu_set_regs(svmx_cpu *cpu, const svmx_regs *regs)
{
    if (!cpu || !regs)
        return SVMX_E_ARG;
    cpu->regs = *regs;
    /* SDM Vol. 1 3.4.3: bit 1 reads 1, undefined bits read 0. */
    cpu->regs.rflags = (regs->rflags & SVMX_RFLAGS_DEFINED) |
                       SVMX_RFLAGS_FIXED;
    return SVMX_OK;
}

svmx_status svmx_cpu_get_sregs(const svmx_cpu *cpu, svmx_sregs *sregs)
{
    if (!cpu || !sregs)
        return SVMX_E_ARG;
    *sregs = cpu->sregs;
    return SVMX_OK;
}

/* The value rules of cpu_checks.h. */
bool cpu_cr0_valid(uint64_t cr0)
{
    return (cr0 >> 32) == 0;
}

bool cpu_cr3_valid(const cpu_personality *pers, uint64_t cr3)
{
    return (cr3 >> pers->maxphyaddr) == 0;
}

bool cpu_cr4_valid(const cpu_personality *pers, uint64_t cr4)
{
    return (cr4 & ~pers->cr4_defined) == 0;
}

bool cpu_cr8_valid(uint64_t cr8)
{
    return cr8 <= 15;
}

bool cpu_xcr0_valid(const cpu_personality *pers, uint64_t xcr0)
{
    uint64_t avx512 = xcr0 & 0xe0;
    if (!(xcr0 & 1) || (xcr0 & ~pers->xcr0_supported))
        return false;
    if ((xcr0 & 4) && !(xcr0 & 2))
        return false;
    if (avx512 && (avx512 != 0xe0 || !(xcr0 & 4)))
        return false;
    return ((xcr0 >> 3) & 1) == ((xcr0 >> 4) & 1);
}

/* Values no register of this personality can hold (cpu.h). EFER: only
 * the bits the personality's features define. */
static bool sregs_valid(const cpu_personality *pers, const svmx_sregs *s)
{
    if (!cpu_cr0_valid(s->cr0) || !cpu_cr3_valid(pers, s->cr3) ||
        !cpu_cr4_valid(pers, s->cr4) || !cpu_cr8_valid(s->cr8) ||
        !cpu_xcr0_valid(pers, s->xcr0) || (s->efer & ~pers->efer_defined))
        return false;
    for (unsigned i = 0; i < SVMX_SREG_COUNT; i++)
        if (s->seg[i].attr & ~SVMX_SEG_ATTR_MASK)
            return false;
    return true;
}

svmx_status svmx_cpu_set_sregs(svmx_cpu *cpu, const svmx_sregs *sregs)
{
    if (!cpu || !sregs)
        return SVMX_E_ARG;
    if (!sregs_valid(cpu->pers, sregs))
        return SVMX_E_STATE;
    cpu->sregs = *sregs;
    paging_reset(cpu); /* cached translations belong to the old state */
    nested_state_changed(cpu); /* R3 in guest mode (src/nested/rules.c) */
    return SVMX_OK;
}

svmx_status svmx_cpu_get_dregs(const svmx_cpu *cpu, svmx_dregs *dregs)
{
    if (!cpu || !dregs)
        return SVMX_E_ARG;
    *dregs = cpu->dregs;
    return SVMX_OK;
}

svmx_status svmx_cpu_set_dregs(svmx_cpu *cpu, const svmx_dregs *dregs)
{
    if (!cpu || !dregs)
        return SVMX_E_ARG;
    /* SDM Vol. 3B 18.2.6: MOV to DR6/DR7 with bits 63:32 set is #GP. */
    if ((dregs->dr6 >> 32) || (dregs->dr7 >> 32))
        return SVMX_E_STATE;
    cpu->dregs = *dregs;
    cpu->dregs.dr6 = (dregs->dr6 & CPU_DR6_WRITABLE) | CPU_DR6_FIXED1;
    cpu->dregs.dr7 = (dregs->dr7 & CPU_DR7_WRITABLE) | CPU_DR7_FIXED1;
    nested_state_changed(cpu);
    return SVMX_OK;
}

svmx_status svmx_cpu_get_events(const svmx_cpu *cpu, svmx_events *events)
{
    if (!cpu || !events)
        return SVMX_E_ARG;
    *events = cpu->events;
    return SVMX_OK;
}

svmx_status svmx_cpu_set_events(svmx_cpu *cpu, const svmx_events *events)
{
    if (!cpu || !events)
        return SVMX_E_ARG;
    if (events->activity >= SVMX_ACTIVITY_COUNT ||
        events->exc_vector > 31 ||
        (events->shadow & ~(SVMX_SHADOW_STI | SVMX_SHADOW_MOVSS)))
        return SVMX_E_STATE;
    cpu->events = *events;
    /* The event state is replaced whole: a #DB trap that a MOV SS shadow
     * was holding goes with the old one. */
    cpu->db_deferred = false;
    cpu->db_deferred_dr6 = 0;
    cpu->attention = true; /* a run in progress looks at the new state */
    /* A CPU without SVM has no GIF: it is always 1 (a fixed bit). */
    if (cpu->vendor != SVMX_VENDOR_AMD)
        cpu->events.gif = true;
    return SVMX_OK;
}

svmx_status svmx_cpu_get_msr(const svmx_cpu *cpu, uint32_t index,
                             uint64_t *value)
{
    return cpu_msr_read(cpu, index, value);
}

svmx_status svmx_cpu_set_msr(svmx_cpu *cpu, uint32_t index, uint64_t value)
{
    svmx_status st = cpu_msr_write(cpu, index, value, true);
    if (st == SVMX_OK) {
        paging_reset(cpu); /* EFER.NXE/LMA and PAT change translations */
        nested_state_changed(cpu);
    }
    return st;
}

svmx_mode svmx_cpu_mode(const svmx_cpu *cpu)
{
    if (!cpu)
        return SVMX_MODE_COUNT;
    return cpu_mode(cpu);
}
