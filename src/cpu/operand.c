/*
 * src/cpu/operand.c - reaching an instruction's operands: general
 * registers at every width, effective addresses, segmentation checks and
 * linear memory through paging.
 */
#include <string.h>

#include "cpu/exec.h"
#include "cpu/paging.h"

cpu_res exec_seg_address(svmx_cpu *cpu, unsigned seg, uint64_t off,
                         unsigned size, bool write, uint64_t *lin, cpu_fault *f)
{
    const svmx_segment *s = &cpu->sregs.seg[seg];
    uint8_t vec = seg == SVMX_SS ? CPU_VEC_SS : CPU_VEC_GP;
    svmx_mode mode = cpu_mode(cpu);

    if (mode == SVMX_MODE_LONG64) {
        uint64_t base = (seg == SVMX_FS || seg == SVMX_GS) ? s->base : 0;
        uint64_t a = base + off;
        if (!cpu_canonical(a, cpu->pers->linear_width) ||
            !cpu_canonical(a + size - 1, cpu->pers->linear_width))
            return cpu_raise(f, vec, true, 0);
        *lin = a;
        return CPU_OK;
    }

    bool prot = mode != SVMX_MODE_REAL && mode != SVMX_MODE_V86;
    if (prot) {
        unsigned type = SVMX_SEG_ATTR_TYPE(s->attr);
        if ((s->attr & SVMX_SEG_ATTR_UNUSABLE) || !(s->attr & SVMX_SEG_ATTR_P) ||
            !(s->attr & SVMX_SEG_ATTR_S))
            return cpu_raise(f, vec, true, 0);
        bool code = type & 8;
        if (write && (code || !(type & 2)))   /* code or read-only data */
            return cpu_raise(f, vec, true, 0);
        if (!write && code && !(type & 2))    /* execute-only code */
            return cpu_raise(f, vec, true, 0);
        if (!code && (type & 4)) {             /* expand-down data */
            uint64_t upper = (s->attr & SVMX_SEG_ATTR_DB) ? 0xffffffffull
                                                          : 0xffffull;
            if (off <= s->limit || off + size - 1 > upper)
                return cpu_raise(f, vec, true, 0);
            *lin = (s->base + off) & 0xffffffffull;
            return CPU_OK;
        }
    }
    if (off + size - 1 > s->limit)
        return cpu_raise(f, vec, true, 0);
    *lin = (s->base + off) & 0xffffffffull;
    return CPU_OK;
}

/* Stack width: 8 bytes in 64-bit mode, else SS.B picks 4 or 2
 * (SDM Vol. 3A 5.2: the B flag of the stack segment). */
unsigned exec_stack_size(const svmx_cpu *cpu)
{
    if (cpu_mode(cpu) == SVMX_MODE_LONG64)
        return 8;
    return (cpu->sregs.seg[SVMX_SS].attr & SVMX_SEG_ATTR_DB) ? 4 : 2;
}

cpu_res exec_push_slow(svmx_cpu *cpu, unsigned size, uint64_t value,
                       cpu_fault *f)
{
    unsigned ss = exec_stack_size(cpu);
    uint64_t sp = (cpu->regs.gpr[SVMX_RSP] - size) & exec_mask(ss);
    uint64_t lin;
    cpu_res r = exec_seg_address(cpu, SVMX_SS, sp, size, true, &lin, f);
    if (r == CPU_OK)
        r = exec_write_linear(cpu, lin, size, exec_user_flag(cpu), value, f);
    if (r == CPU_OK)
        exec_gpr_write(cpu, SVMX_RSP, ss, false, sp);
    return r;
}

cpu_res exec_pop_slow(svmx_cpu *cpu, unsigned size, uint64_t *value,
                      uint64_t *new_sp, cpu_fault *f)
{
    unsigned ss = exec_stack_size(cpu);
    uint64_t sp = cpu->regs.gpr[SVMX_RSP] & exec_mask(ss);
    uint64_t lin;
    cpu_res r = exec_seg_address(cpu, SVMX_SS, sp, size, false, &lin, f);
    if (r == CPU_OK)
        r = exec_read_linear(cpu, lin, size, exec_user_flag(cpu), value, f);
    *new_sp = (sp + size) & exec_mask(ss);
    return r;
}

/* Physical address of each byte run of [lin, lin + size): at most two
 * pages, translated before any byte moves so a #PF on the second page
 * leaves memory untouched. */
static cpu_res translate_span(svmx_cpu *cpu, uint64_t lin, unsigned size,
                              unsigned acc, uint64_t phys[2], unsigned *first,
                              cpu_fault *f)
{
    unsigned in_page = 4096 - (unsigned)(lin & 0xfff);
    *first = size < in_page ? size : in_page;
    cpu_res r = paging_translate(cpu, lin, acc, &phys[0], f);
    if (r != CPU_OK || *first == size)
        return r;
    return paging_translate(cpu, lin + *first, acc, &phys[1], f);
}

static cpu_res mem_status(svmx_cpu *cpu, svmx_status st, uint64_t pa,
                          unsigned size, bool write)
{
    if (st == SVMX_OK)
        return CPU_OK;
    if (cpu->stop) {
        cpu->stop->addr = pa;
        cpu->stop->size = (uint8_t)size;
        cpu->stop->write = write;
        cpu->stop->handler_status = st;
    }
    return exec_stop(cpu, SVMX_STOP_MMIO, "MMIO handler failed");
}

/* After a slow translation of a one-page access: teach the hostmap. */
static inline void fast_learn(svmx_cpu *cpu, uint64_t lin, unsigned size,
                              unsigned acc, uint64_t phys)
{
    if ((lin & 0xfff) <= 4096u - size)
        hostmap_fill(cpu, lin, acc, phys);
}

cpu_res exec_read_linear_slow(svmx_cpu *cpu, uint64_t lin, unsigned size,
                              unsigned acc, uint64_t *value, cpu_fault *f)
{
    uint64_t phys[2];
    unsigned first;
    uint8_t b[8] = { 0 };
    /* A page walk may set A/D bits and an MMIO handler may write RAM. */
    hostmap_epoch_end(&cpu->hostmap);
    cpu_res r = translate_span(cpu, lin, size, acc, phys, &first, f);
    if (r != CPU_OK)
        return r;
    fast_learn(cpu, lin, size, acc, phys[0]);
    r = mem_status(cpu, svmx_mem_read(&cpu->mem, phys[0], b, first), phys[0],
                   first, false);
    if (r == CPU_OK && first < size)
        r = mem_status(cpu, svmx_mem_read(&cpu->mem, phys[1], b + first,
                                          size - first),
                       phys[1], size - first, false);
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)b[i] << (8 * i);
    *value = v;
    return r;
}

cpu_res exec_write_linear_slow(svmx_cpu *cpu, uint64_t lin, unsigned size,
                               unsigned acc, uint64_t value, cpu_fault *f)
{
    uint64_t phys[2];
    unsigned first;
    uint8_t b[8];
    hostmap_epoch_end(&cpu->hostmap); /* see exec_read_linear_slow */
    cpu_res r = translate_span(cpu, lin, size, acc | PG_WRITE, phys, &first, f);
    if (r != CPU_OK)
        return r;
    fast_learn(cpu, lin, size, acc | PG_WRITE, phys[0]);
    for (unsigned i = 0; i < size; i++)
        b[i] = (uint8_t)(value >> (8 * i));
    r = mem_status(cpu, svmx_mem_write(&cpu->mem, phys[0], b, first), phys[0],
                   first, true);
    if (r == CPU_OK && first < size)
        r = mem_status(cpu, svmx_mem_write(&cpu->mem, phys[1], b + first,
                                           size - first),
                       phys[1], size - first, true);
    return r;
}


cpu_res exec_read_operand_any(svmx_cpu *cpu, const svmx_insn *insn,
                              const svmx_operand *op, uint64_t *value,
                              cpu_fault *f)
{
    switch (op->kind) {
    case SVMX_OPK_REG:
        if (op->reg_class == SVMX_RC_GPR || op->reg_class == SVMX_RC_GPR8H) {
            *value = exec_gpr_read(cpu, op->reg, op->size,
                                   op->reg_class == SVMX_RC_GPR8H);
            return CPU_OK;
        }
        if (op->reg_class == SVMX_RC_SEG && op->reg < SVMX_SEG_COUNT) {
            *value = cpu->sregs.seg[op->reg].selector;
            return CPU_OK;
        }
        return exec_stop(cpu, SVMX_STOP_UNSUPPORTED,
                         "register operand class not modelled");
    case SVMX_OPK_IMM:
        *value = op->imm;
        return CPU_OK;
    case SVMX_OPK_MEM: {
        uint64_t lin;
        if (op->size == 0 || op->size > 8)
            return exec_stop(cpu, SVMX_STOP_UNSUPPORTED,
                             "memory operand wider than 8 bytes");
        cpu_res r = exec_mem_linear(cpu, insn, op, false, &lin, f);
        if (r != CPU_OK)
            return r;
        return exec_read_linear(cpu, lin, op->size, exec_user_flag(cpu), value, f);
    }
    default:
        return exec_stop(cpu, SVMX_STOP_UNSUPPORTED, "operand kind not modelled");
    }
}

cpu_res exec_write_operand_any(svmx_cpu *cpu, const svmx_insn *insn,
                               const svmx_operand *op, uint64_t value,
                               cpu_fault *f)
{
    switch (op->kind) {
    case SVMX_OPK_REG:
        if (op->reg_class == SVMX_RC_GPR || op->reg_class == SVMX_RC_GPR8H) {
            exec_gpr_write(cpu, op->reg, op->size,
                           op->reg_class == SVMX_RC_GPR8H, value);
            return CPU_OK;
        }
        return exec_stop(cpu, SVMX_STOP_UNSUPPORTED,
                         "register operand class not modelled");
    case SVMX_OPK_MEM: {
        uint64_t lin;
        if (op->size == 0 || op->size > 8)
            return exec_stop(cpu, SVMX_STOP_UNSUPPORTED,
                             "memory operand wider than 8 bytes");
        cpu_res r = exec_mem_linear(cpu, insn, op, true, &lin, f);
        if (r != CPU_OK)
            return r;
        return exec_write_linear(cpu, lin, op->size, exec_user_flag(cpu), value, f);
    }
    default:
        return exec_stop(cpu, SVMX_STOP_UNSUPPORTED, "operand kind not modelled");
    }
}
