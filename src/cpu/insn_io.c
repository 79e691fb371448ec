/*
 * src/cpu/insn_io.c - port I/O: IN, OUT, INS, OUTS, and the protection
 * check of the TSS I/O permission bitmap.
 *
 * The ports themselves are the embedder's (svmx_mem_pio_in/out), called
 * once per element. A handler that fails stops the run with
 * SVMX_STOP_IO: the element it served is not done, the elements before
 * it are (rCX, rSI, rDI say so), and RIP stays at the instruction.
 */
#include "cpu/insn_string.h"
#include "cpu/paging.h"
#include "svm/svm_exec.h"

/* Offset of the 16-bit I/O map base in a 32- or 64-bit TSS (SDM Vol. 3A
 * "Task-State Segment (TSS)" and "Task Management in 64-bit Mode"; APM
 * Vol. 2 12.2.5). */
#define TSS_IOMAP_BASE 0x66u

/* Available and busy 32-bit TSS; in IA-32e mode the 64-bit TSS
 * (SDM Vol. 3A 3.5 Table 3-2, APM Vol. 2 4.8.3 Table 4-6). */
#define TSS_TYPE_AVAIL 0x9u
#define TSS_TYPE_BUSY  0xbu

/* A word of the TSS at `off`, read as an implicit supervisor access
 * (SDM Vol. 3A 4.6: accesses to the TSS are supervisor-mode even at
 * CPL 3); #GP(0) when either byte lies beyond TR.limit. */
static cpu_res tss_word(svmx_cpu *cpu, uint32_t off, uint64_t *v, cpu_fault *f)
{
    const svmx_segment *tr = &cpu->sregs.seg[SVMX_TR];
    if ((uint64_t)off + 1 > tr->limit)
        return cpu_raise(f, CPU_VEC_GP, true, 0);
    uint64_t lin = tr->base + off;
    if (!(cpu->sregs.efer & CPU_EFER_LMA))
        lin &= 0xffffffffull;
    return exec_read_linear(cpu, lin, 2, PG_SUPERVISOR_IMPLICIT, v, f);
}

/*
 * The I/O permission bitmap (SDM Vol. 1 19.5.2, APM Vol. 2 12.2.4): TR
 * must hold a 32- or 64-bit TSS (a 16-bit TSS has no bitmap: #GP(0)); the
 * map starts at the base read from offset 0x66; the bits of ports
 * port .. port + size - 1 must all be 0. The processor always reads the
 * two bytes holding the first bit, and both must lie within TR.limit,
 * else #GP(0) (SDM Vol. 1 19.5.2: "the processor reads two bytes").
 */
static cpu_res io_bitmap(svmx_cpu *cpu, uint16_t port, unsigned size,
                         cpu_fault *f)
{
    const svmx_segment *tr = &cpu->sregs.seg[SVMX_TR];
    unsigned type = SVMX_SEG_ATTR_TYPE(tr->attr);
    uint64_t base, bits;
    if ((tr->attr & (SVMX_SEG_ATTR_UNUSABLE | SVMX_SEG_ATTR_S)) ||
        !(tr->attr & SVMX_SEG_ATTR_P) ||
        (type != TSS_TYPE_AVAIL && type != TSS_TYPE_BUSY))
        return cpu_raise(f, CPU_VEC_GP, true, 0);
    cpu_res r = tss_word(cpu, TSS_IOMAP_BASE, &base, f);
    if (r == CPU_OK)
        r = tss_word(cpu, (uint32_t)base + port / 8u, &bits, f);
    if (r != CPU_OK)
        return r;
    if ((bits >> (port & 7u)) & ((1u << size) - 1u))
        return cpu_raise(f, CPU_VEC_GP, true, 0);
    return CPU_OK;
}

/*
 * Whether the I/O may happen (SDM Vol. 2A IN/INS, Vol. 2B OUT/OUTS
 * Operation; SDM Vol. 1 19.5.1; APM Vol. 1 3.8.4): always in real mode;
 * in protected mode at CPL <= IOPL; otherwise, and always in
 * virtual-8086 mode whatever IOPL is (SDM Vol. 3A "I/O-Port-Mapped I/O"
 * in virtual-8086 mode), the bitmap decides.
 */
static cpu_res io_check(svmx_cpu *cpu, uint16_t port, unsigned size,
                        cpu_fault *f)
{
    svmx_mode mode = svmx_cpu_mode(cpu);
    if (mode == SVMX_MODE_REAL)
        return CPU_OK;
    if (mode != SVMX_MODE_V86 && cpu_cpl(cpu) <= exec_iopl(cpu))
        return CPU_OK;
    return io_bitmap(cpu, port, size, f);
}

static cpu_res io_stop(svmx_cpu *cpu, svmx_status st, uint16_t port,
                       unsigned size, bool write)
{
    if (cpu->stop) {
        cpu->stop->addr = port;
        cpu->stop->size = (uint8_t)size;
        cpu->stop->write = write;
        cpu->stop->handler_status = st;
    }
    return exec_stop(cpu, SVMX_STOP_IO, "port I/O handler failed");
}

static uint16_t io_port(const svmx_cpu *cpu, const svmx_insn *insn)
{
    return insn->io.port_in_dx ? (uint16_t)cpu->regs.gpr[SVMX_RDX]
                               : insn->io.port;
}

/*
 * The I/O permission, then in an SVM guest the IOIO intercept through the
 * IOPM, with EXITINFO1 as the decoder packed it plus the port, EXITINFO2
 * the next RIP (APM Vol. 2 15.10.2; after the permission check, which is
 * a privilege check, 15.9; src/svm).
 */
static cpu_res io_allowed(svmx_cpu *cpu, const svmx_insn *insn, uint16_t port,
                          cpu_fault *f)
{
    cpu_res r = io_check(cpu, port, insn->io.size, f);
    if (r == CPU_OK)
        r = svm_intercept(cpu, SVMX_SVM_EXIT_IOIO,
                          insn->io.svm_exitinfo1 | (uint64_t)port << 16,
                          cpu->regs.rip);
    return r;
}

/* Each port access is matched against the I/O breakpoints (SDM Vol. 3B
 * 18.2.4: R/W = 10 with CR4.DE = 1); the #DB trap follows the
 * instruction (exec.c). */
static cpu_res port_in(svmx_cpu *cpu, uint16_t port, unsigned size,
                       uint32_t *v)
{
    if (cpu->bp_armed)
        bp_io_access(cpu, port, size);
    svmx_status st = svmx_mem_pio_in(&cpu->mem, port, size, v);
    return st == SVMX_OK ? CPU_OK : io_stop(cpu, st, port, size, false);
}

static cpu_res port_out(svmx_cpu *cpu, uint16_t port, unsigned size,
                        uint32_t v)
{
    if (cpu->bp_armed)
        bp_io_access(cpu, port, size);
    svmx_status st = svmx_mem_pio_out(&cpu->mem, port, size, v);
    return st == SVMX_OK ? CPU_OK : io_stop(cpu, st, port, size, true);
}

/* IN AL/AX/EAX, imm8 | DX (SDM Vol. 2A IN); EAX zero-extends. */
cpu_res insn_in(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    uint16_t port = io_port(cpu, insn);
    uint32_t v;
    cpu_res r = io_allowed(cpu, insn, port, f);
    if (r == CPU_OK)
        r = port_in(cpu, port, insn->io.size, &v);
    if (r == CPU_OK)
        exec_gpr_write(cpu, SVMX_RAX, insn->io.size, false, v);
    return r;
}

/* OUT imm8 | DX, AL/AX/EAX (SDM Vol. 2B OUT). */
cpu_res insn_out(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    uint16_t port = io_port(cpu, insn);
    cpu_res r = io_allowed(cpu, insn, port, f);
    if (r != CPU_OK)
        return r;
    return port_out(cpu, port, insn->io.size,
                    (uint32_t)exec_gpr_read(cpu, SVMX_RAX, insn->io.size, false));
}

/*
 * Translates every page the element at `lin` touches for a write, so
 * that a #PF on the destination comes before the port is read.
 */
static cpu_res probe_write(svmx_cpu *cpu, const str_ctx *c, uint64_t lin,
                           cpu_fault *f)
{
    uint64_t phys, last = lin + c->size - 1;
    if (svmx_cpu_mode(cpu) != SVMX_MODE_LONG64)
        last &= 0xffffffffull;
    cpu_res r = paging_translate(cpu, lin, PG_WRITE | c->acc, &phys, f);
    if (r == CPU_OK && (last >> 12) != (lin >> 12))
        r = paging_translate(cpu, last, PG_WRITE | c->acc, &phys, f);
    return r;
}

/*
 * INS: ES:rDI <- port DX (SDM Vol. 2A INS). The order of one element:
 * the I/O permission, the destination's segmentation and paging, and
 * only then the port read, so a faulting destination never consumes
 * port data (the SDM allows the write to fault after the read; the
 * model does not read a port whose data it would lose).
 */
static cpu_res ins_step(svmx_cpu *cpu, const str_ctx *c, cpu_fault *f)
{
    uint16_t port = (uint16_t)cpu->regs.gpr[SVMX_RDX];
    uint64_t lin;
    uint32_t v;
    cpu_res r = io_check(cpu, port, c->size, f);
    if (r == CPU_OK)
        r = str_address(cpu, c, SVMX_ES, SVMX_RDI, true, &lin, f);
    if (r == CPU_OK)
        r = probe_write(cpu, c, lin, f);
    if (r == CPU_OK)
        r = port_in(cpu, port, c->size, &v);
    if (r == CPU_OK)
        r = exec_write_linear(cpu, lin, c->size, c->acc, v, f);
    return r;
}

/* OUTS: port DX <- seg:rSI, the permission before the memory read
 * (SDM Vol. 2B OUTS). */
static cpu_res outs_step(svmx_cpu *cpu, const str_ctx *c, cpu_fault *f)
{
    uint16_t port = (uint16_t)cpu->regs.gpr[SVMX_RDX];
    uint64_t v;
    cpu_res r = io_check(cpu, port, c->size, f);
    if (r == CPU_OK)
        r = str_load(cpu, c, c->src_seg, SVMX_RSI, &v, f);
    if (r == CPU_OK)
        r = port_out(cpu, port, c->size, (uint32_t)v);
    return r;
}

static const str_kind ins_kind = { ins_step, NULL, STR_DI, false };
static const str_kind outs_kind = { outs_step, NULL, STR_SI, false };

/* INS/OUTS move 1, 2 or 4 bytes whatever REX.W says (io.size). In an
 * SVM guest the permission and the IOIO intercept come before the first
 * element, also with a REP count of 0 (docs/svm.md). */
cpu_res insn_ins(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    cpu_res r;
    if (cpu->svm.guest &&
        (r = io_allowed(cpu, insn, io_port(cpu, insn), f)) != CPU_OK)
        return r;
    return str_exec(cpu, insn, &ins_kind, insn->io.size, f);
}

cpu_res insn_outs(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    cpu_res r;
    if (cpu->svm.guest &&
        (r = io_allowed(cpu, insn, io_port(cpu, insn), f)) != CPU_OK)
        return r;
    return str_exec(cpu, insn, &outs_kind, insn->io.size, f);
}
