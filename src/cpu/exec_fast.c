/*
 * src/cpu/exec_fast.c - handlers for the commonest operand forms of the
 * commonest instructions, picked once per cached decode for the fast
 * loop (exec.c). Each does exactly what the class's general handler does
 * for that form — same reads, same order, same faults — only without the
 * run-time tests of operand kinds, sizes and modes the form makes
 * unnecessary: the operand size and the condition code are constants of
 * each compiled handler, and the 64-bit forms know the mode. The general
 * handlers stay the reference; tests/test_exec*.c run both paths (the
 * fast loop and single steps).
 *
 * The handlers run only inside the fast loop, which sets the hostmap's
 * run_user and run_width (hostmap.h) on entry: the privilege level and
 * the mode cannot change while it runs.
 */
#include "cpu/alu.h"
#include "cpu/exec.h"
#include "cpu/exec_fast.h"

static bool is_gpr(const svmx_operand *op)
{
    return op->kind == SVMX_OPK_REG && op->reg_class == SVMX_RC_GPR;
}

/* A memory operand the inline path handles (1-8 bytes). */
static bool is_mem(const svmx_operand *op)
{
    return op->kind == SVMX_OPK_MEM && op->size >= 1 && op->size <= 8;
}

static bool is_rel_imm(const svmx_operand *op)
{
    return op->kind == SVMX_OPK_IMM && op->is_relative;
}

/* 0..3 for an operand size of 1, 2, 4, 8 bytes; 4 for any other. */
static unsigned size_index(unsigned size)
{
    switch (size) {
    case 1: return 0;
    case 2: return 1;
    case 4: return 2;
    case 8: return 3;
    default: return 4;
    }
}

/* The group-1 operation of a class (ADD .. TEST), or ALU_OP_COUNT. */
static alu_op group1_op(unsigned cls)
{
    alu_op op = alu_op_of_class(cls);
    return op <= ALU_TEST ? op : ALU_OP_COUNT;
}

/* ---- general registers at a constant size ---------------------------- */

static ALU_ALWAYS_INLINE uint64_t gpr_get(const svmx_cpu *cpu, unsigned num,
                                          unsigned size)
{
    return exec_gpr_read(cpu, num, size, false);
}

static ALU_ALWAYS_INLINE void gpr_set(svmx_cpu *cpu, unsigned num,
                                      unsigned size, uint64_t v)
{
    exec_gpr_write(cpu, num, size, false, v);
}

/* ---- 64-bit mode memory ---------------------------------------------- */

/* exec_effective_offset() at an address size of 8: nothing to wrap. */
static ALU_ALWAYS_INLINE uint64_t ea64(const svmx_cpu *cpu,
                                       const svmx_operand *op)
{
    return exec_effective_sum(cpu, op);
}

/*
 * The memory forms do only the common case themselves: an access within
 * one page, at a canonical address, that the hostmap maps. Anything else
 * - the end of a page, a non-canonical address, a miss - goes to the
 * class's general handler, which then does the whole instruction, faults
 * included; nothing has changed by then.
 *
 * The shape of a memory operand is the decode's, so each form comes in
 * two, picked with the handler: EA_BASE, [base + disp] with a general
 * register as the base, no index and no FS or GS override (most
 * operands), and EA_ANY, every other.
 */
enum { EA_BASE, EA_ANY, EA_COUNT };

static unsigned ea_shape(const svmx_operand *op)
{
    return op->base < 16 && op->index == SVMX_GPR_NONE &&
                   op->seg != SVMX_FS && op->seg != SVMX_GS
               ? EA_BASE : EA_ANY;
}

/* exec_mem_linear()'s address in 64-bit mode at an address size of 8,
 * without its checks: only FS and GS have a base (SDM Vol. 3A 3.2.4). */
static ALU_ALWAYS_INLINE uint64_t lin64(const svmx_cpu *cpu,
                                        const svmx_operand *op, unsigned shape)
{
    if (shape == EA_BASE)
        return cpu->regs.gpr[op->base & 15] + (uint64_t)op->disp;
    uint64_t a = ea64(cpu, op);
    if (op->seg == SVMX_FS || op->seg == SVMX_GS)
        a += cpu->sregs.seg[op->seg].base;
    return a;
}

/*
 * The host address of an access of `size` bytes at lin of kind PG_READ,
 * or PG_WRITE (a write, or a read for writing: exec_read_operand_rmw),
 * at the fast loop's privilege level: when the access stays in one page
 * and lin is canonical - its last byte then is too, the canonical
 * boundary being a page boundary (SDM Vol. 3A 3.3.7.1) - and the hostmap
 * has the page (hostmap_lookup_as). False otherwise.
 */
static ALU_ALWAYS_INLINE bool mapped(svmx_cpu *cpu, uint64_t lin,
                                     unsigned size, unsigned kind,
                                     uint8_t **p)
{
    cpu_hostmap *h = &cpu->hostmap;
    /* & rather than &&: both checks are cheap and mostly pass. */
    if (!(((lin & 0xfff) <= 4096u - size) &
          cpu_canonical(lin, h->run_width)))
        return false;
    const hostmap_entry *e = hostmap_slot(h, lin, kind);
    if (e->tag != hostmap_tag(h, lin, kind | h->run_user))
        return false;
    *p = e->host + (lin & 0xfff);
    return true;
}

/* The `size` bytes of memory operand `op` (address shape `shape`) in *v,
 * when mapped() gives them; false otherwise. */
static ALU_ALWAYS_INLINE bool loaded(svmx_cpu *cpu, const svmx_operand *op,
                                     unsigned shape, unsigned size,
                                     uint64_t *v)
{
    uint8_t *p;
    if (!mapped(cpu, lin64(cpu, op, shape), size, PG_READ, &p))
        return false;
    *v = le_load(p, size);
    return true;
}

/* exec_fast_ptr() with the fast loop's privilege level. */
static ALU_ALWAYS_INLINE uint8_t *ram_ptr(svmx_cpu *cpu, uint64_t lin,
                                          unsigned size, unsigned kind)
{
    if ((lin & 0xfff) > 4096u - size)
        return NULL;
    return hostmap_lookup_as(&cpu->hostmap, lin, kind, cpu->hostmap.run_user);
}

/* exec_push() and exec_pop() of 8 bytes in 64-bit mode. */
static ALU_ALWAYS_INLINE cpu_res push64(svmx_cpu *cpu, uint64_t v, cpu_fault *f)
{
    uint64_t sp = cpu->regs.gpr[SVMX_RSP] - 8;
    uint8_t *p = ram_ptr(cpu, sp, 8, PG_WRITE);
    if (p && cpu_canonical(sp, cpu->hostmap.run_width)) {
        le_store(p, 8, v);
        cpu->regs.gpr[SVMX_RSP] = sp;
        return CPU_OK;
    }
    return exec_push_slow(cpu, 8, v, f);
}

static ALU_ALWAYS_INLINE cpu_res pop64(svmx_cpu *cpu, uint64_t *v,
                                       uint64_t *new_sp, cpu_fault *f)
{
    uint64_t sp = cpu->regs.gpr[SVMX_RSP];
    const uint8_t *p = ram_ptr(cpu, sp, 8, PG_READ);
    if (p && cpu_canonical(sp, cpu->hostmap.run_width)) {
        *v = le_load(p, 8);
        *new_sp = sp + 8;
        return CPU_OK;
    }
    return exec_pop_slow(cpu, 8, v, new_sp, f);
}

/* exec_branch() in 64-bit mode at an operand size of 8. */
static ALU_ALWAYS_INLINE cpu_res branch64(svmx_cpu *cpu, uint64_t target,
                                          cpu_fault *f)
{
    if (!cpu_canonical(target, cpu->hostmap.run_width))
        return cpu_raise(f, CPU_VEC_GP, true, 0);
    cpu->regs.rip = target;
    return CPU_OK;
}

/* ---- group 1: ADD..TEST reg, reg|imm (insn_binop, insn_alu.c) -------- */

static ALU_ALWAYS_INLINE cpu_res binop(svmx_cpu *cpu, const svmx_insn *insn,
                                       alu_op op, unsigned size, uint64_t b)
{
    const svmx_operand *d = &insn->operands[0];
    uint64_t fl = cpu->regs.rflags;
    uint64_t a = gpr_get(cpu, d->reg, size);
    uint64_t v = alu_group1_op(alu_policy_get(cpu->vendor)->logic_af, op, size,
                               a, b, &fl);
    if (op != ALU_CMP && op != ALU_TEST)
        gpr_set(cpu, d->reg, size, v);
    cpu->regs.rflags = fl;
    return CPU_OK;
}

#define FAST_BINOP_SIZE(name, op, size)                                       \
    static cpu_res fast_##name##_rr##size(svmx_cpu *cpu, const svmx_insn *insn, \
                                          cpu_fault *f)                       \
    {                                                                         \
        (void)f;                                                              \
        return binop(cpu, insn, op, size,                                     \
                     gpr_get(cpu, insn->operands[1].reg, size));              \
    }                                                                         \
    static cpu_res fast_##name##_ri##size(svmx_cpu *cpu, const svmx_insn *insn, \
                                          cpu_fault *f)                       \
    {                                                                         \
        (void)f;                                                              \
        return binop(cpu, insn, op, size, insn->operands[1].imm);             \
    }
#define FAST_BINOP(name, op)                                                  \
    FAST_BINOP_SIZE(name, op, 1) FAST_BINOP_SIZE(name, op, 2)                 \
    FAST_BINOP_SIZE(name, op, 4) FAST_BINOP_SIZE(name, op, 8)
FAST_BINOP(add, ALU_ADD)
FAST_BINOP(or, ALU_OR)
FAST_BINOP(adc, ALU_ADC)
FAST_BINOP(sbb, ALU_SBB)
FAST_BINOP(and, ALU_AND)
FAST_BINOP(sub, ALU_SUB)
FAST_BINOP(xor, ALU_XOR)
FAST_BINOP(cmp, ALU_CMP)
FAST_BINOP(test, ALU_TEST)
#undef FAST_BINOP
#undef FAST_BINOP_SIZE

/* [op][reg or imm][size index], in alu_op order. */
#define FAST_BINOP_ROW(name)                                                  \
    { { fast_##name##_rr1, fast_##name##_rr2, fast_##name##_rr4,              \
        fast_##name##_rr8 },                                                  \
      { fast_##name##_ri1, fast_##name##_ri2, fast_##name##_ri4,              \
        fast_##name##_ri8 } },
static const exec_fn binop_fns[ALU_TEST + 1][2][4] = {
    FAST_BINOP_ROW(add) FAST_BINOP_ROW(or) FAST_BINOP_ROW(adc)
    FAST_BINOP_ROW(sbb) FAST_BINOP_ROW(and) FAST_BINOP_ROW(sub)
    FAST_BINOP_ROW(xor) FAST_BINOP_ROW(cmp) FAST_BINOP_ROW(test)
};
#undef FAST_BINOP_ROW
_Static_assert(ALU_ADD == 0 && ALU_OR == 1 && ALU_ADC == 2 && ALU_SBB == 3 &&
               ALU_AND == 4 && ALU_SUB == 5 && ALU_XOR == 6 && ALU_CMP == 7 &&
               ALU_TEST == 8, "binop_fns rows follow alu_op's order");

/* ---- group 1 with a memory operand, 64-bit mode, address size 8 ------ */

/*
 * op mem, reg|imm as insn_binop does it: the destination is read, then
 * the source; CMP and TEST stop there (SDM Vol. 2A CMP, Vol. 2B TEST:
 * flags only) and their read is a plain read (exec_read_operand); the
 * others read the destination for writing (exec_read_operand_rmw: a page
 * not present or not writable faults on that read with W = 1), write the
 * result to the same bytes, and only then the flags. A write entry of
 * the hostmap serves both the read for writing and the write. LOCK forms
 * are left to insn_binop.
 */
static ALU_ALWAYS_INLINE cpu_res binop_mem(svmx_cpu *cpu, const svmx_insn *insn,
                                           alu_op op, unsigned size,
                                           unsigned shape, uint64_t b,
                                           cpu_fault *f)
{
    bool writes = op != ALU_CMP && op != ALU_TEST;
    uint8_t *p;
    if (!mapped(cpu, lin64(cpu, &insn->operands[0], shape), size,
                writes ? PG_WRITE : PG_READ, &p))
        return insn_binop(cpu, insn, f);
    uint64_t fl = cpu->regs.rflags;
    uint64_t v = alu_group1_op(alu_policy_get(cpu->vendor)->logic_af, op, size,
                               le_load(p, size), b, &fl);
    if (writes)
        le_store(p, size, v);
    cpu->regs.rflags = fl;
    return CPU_OK;
}

/* op mem, reg; op mem, imm; op reg, mem (the register destination is read
 * first there, which has no effect of its own), each in both shapes. */
#define FAST_BINOP_MEM_SHAPE(name, op, size, shape, sfx)                      \
    static cpu_res fast_##name##_mr64_##size##sfx(svmx_cpu *cpu,             \
                                                  const svmx_insn *insn,      \
                                                  cpu_fault *f)               \
    {                                                                         \
        return binop_mem(cpu, insn, op, size, shape,                          \
                         gpr_get(cpu, insn->operands[1].reg, size), f);       \
    }                                                                         \
    static cpu_res fast_##name##_mi64_##size##sfx(svmx_cpu *cpu,             \
                                                  const svmx_insn *insn,      \
                                                  cpu_fault *f)               \
    {                                                                         \
        return binop_mem(cpu, insn, op, size, shape, insn->operands[1].imm,   \
                         f);                                                  \
    }                                                                         \
    static cpu_res fast_##name##_rm64_##size##sfx(svmx_cpu *cpu,             \
                                                  const svmx_insn *insn,      \
                                                  cpu_fault *f)               \
    {                                                                         \
        uint64_t v;                                                           \
        if (!loaded(cpu, &insn->operands[1], shape, size, &v))                \
            return insn_binop(cpu, insn, f);                                  \
        return binop(cpu, insn, op, size, v);                                 \
    }
#define FAST_BINOP_MEM_SIZE(name, op, size)                                   \
    FAST_BINOP_MEM_SHAPE(name, op, size, EA_BASE, _b)                         \
    FAST_BINOP_MEM_SHAPE(name, op, size, EA_ANY, _x)
#define FAST_BINOP_MEM(name, op)                                              \
    FAST_BINOP_MEM_SIZE(name, op, 1) FAST_BINOP_MEM_SIZE(name, op, 2)         \
    FAST_BINOP_MEM_SIZE(name, op, 4) FAST_BINOP_MEM_SIZE(name, op, 8)
FAST_BINOP_MEM(add, ALU_ADD)
FAST_BINOP_MEM(or, ALU_OR)
FAST_BINOP_MEM(adc, ALU_ADC)
FAST_BINOP_MEM(sbb, ALU_SBB)
FAST_BINOP_MEM(and, ALU_AND)
FAST_BINOP_MEM(sub, ALU_SUB)
FAST_BINOP_MEM(xor, ALU_XOR)
FAST_BINOP_MEM(cmp, ALU_CMP)
FAST_BINOP_MEM(test, ALU_TEST)
#undef FAST_BINOP_MEM
#undef FAST_BINOP_MEM_SIZE
#undef FAST_BINOP_MEM_SHAPE

/* [op][mem, reg | mem, imm | reg, mem][shape][size index], in alu_op
 * order. */
enum { BINOP_MR, BINOP_MI, BINOP_RM };
#define FAST_BINOP_MEM_FORM(name, form)                                       \
    { { fast_##name##_##form##64_1_b, fast_##name##_##form##64_2_b,           \
        fast_##name##_##form##64_4_b, fast_##name##_##form##64_8_b },         \
      { fast_##name##_##form##64_1_x, fast_##name##_##form##64_2_x,           \
        fast_##name##_##form##64_4_x, fast_##name##_##form##64_8_x } }
#define FAST_BINOP_MEM_ROW(name)                                              \
    { FAST_BINOP_MEM_FORM(name, mr), FAST_BINOP_MEM_FORM(name, mi),           \
      FAST_BINOP_MEM_FORM(name, rm) },
static const exec_fn binop_mem_fns[ALU_TEST + 1][3][EA_COUNT][4] = {
    FAST_BINOP_MEM_ROW(add) FAST_BINOP_MEM_ROW(or) FAST_BINOP_MEM_ROW(adc)
    FAST_BINOP_MEM_ROW(sbb) FAST_BINOP_MEM_ROW(and) FAST_BINOP_MEM_ROW(sub)
    FAST_BINOP_MEM_ROW(xor) FAST_BINOP_MEM_ROW(cmp) FAST_BINOP_MEM_ROW(test)
};
#undef FAST_BINOP_MEM_ROW
#undef FAST_BINOP_MEM_FORM

/* ---- INC DEC reg, shifts of reg by imm (insn_unary, insn_shift) ------ */

#define FAST_UNARY(name, op, size)                                            \
    static cpu_res fast_##name##size(svmx_cpu *cpu, const svmx_insn *insn,    \
                                     cpu_fault *f)                            \
    {                                                                         \
        (void)f;                                                              \
        unsigned r = insn->operands[0].reg;                                   \
        uint64_t fl = cpu->regs.rflags;                                       \
        uint64_t v = alu_unary_in(op, size, gpr_get(cpu, r, size), &fl);      \
        gpr_set(cpu, r, size, v);                                             \
        cpu->regs.rflags = fl;                                                \
        return CPU_OK;                                                        \
    }
#define FAST_SHIFT(name, op, size)                                            \
    static cpu_res fast_##name##size(svmx_cpu *cpu, const svmx_insn *insn,    \
                                     cpu_fault *f)                            \
    {                                                                         \
        (void)f;                                                              \
        unsigned r = insn->operands[0].reg;                                   \
        uint64_t count = insn->operand_count > 1 ? insn->operands[1].imm : 1; \
        uint64_t fl = cpu->regs.rflags;                                       \
        uint64_t v = alu_shift_in(alu_policy_get(cpu->vendor), op, size,      \
                                  gpr_get(cpu, r, size),                      \
                                  (unsigned)(count & 0xff), &fl);             \
        gpr_set(cpu, r, size, v);                                             \
        cpu->regs.rflags = fl;                                                \
        return CPU_OK;                                                        \
    }
#define FAST_SIZES(M, name, op)                                               \
    M(name, op, 1) M(name, op, 2) M(name, op, 4) M(name, op, 8)
FAST_SIZES(FAST_UNARY, inc, ALU_INC)
FAST_SIZES(FAST_UNARY, dec, ALU_DEC)
FAST_SIZES(FAST_UNARY, neg, ALU_NEG)
FAST_SIZES(FAST_UNARY, not, ALU_NOT)
FAST_SIZES(FAST_SHIFT, shl, ALU_SHL)
FAST_SIZES(FAST_SHIFT, shr, ALU_SHR)
FAST_SIZES(FAST_SHIFT, sar, ALU_SAR)
FAST_SIZES(FAST_SHIFT, rol, ALU_ROL)
FAST_SIZES(FAST_SHIFT, ror, ALU_ROR)
FAST_SIZES(FAST_SHIFT, rcl, ALU_RCL)
FAST_SIZES(FAST_SHIFT, rcr, ALU_RCR)
#undef FAST_UNARY
#undef FAST_SHIFT

#define FAST_SIZE_ROW(name) { fast_##name##1, fast_##name##2, fast_##name##4, \
                              fast_##name##8 }

/* ---- MOV (insn_mov, insn_basic.c) ------------------------------------ */

/* MOV mem, reg|imm: `v` into the destination when the hostmap maps it,
 * else the whole instruction by insn_mov. */
static ALU_ALWAYS_INLINE cpu_res mov_store(svmx_cpu *cpu, const svmx_insn *insn,
                                           unsigned shape, unsigned size,
                                           uint64_t v, cpu_fault *f)
{
    uint8_t *p;
    if (!mapped(cpu, lin64(cpu, &insn->operands[0], shape), size, PG_WRITE,
                &p))
        return insn_mov(cpu, insn, f);
    le_store(p, size, v);
    return CPU_OK;
}

#define FAST_MOV_MEM(size, shape, sfx)                                        \
    static cpu_res fast_mov_rm64_##size##sfx(svmx_cpu *cpu,                   \
                                             const svmx_insn *insn,           \
                                             cpu_fault *f)                    \
    {                                                                         \
        uint64_t v;                                                           \
        if (!loaded(cpu, &insn->operands[1], shape, size, &v))                \
            return insn_mov(cpu, insn, f);                                    \
        gpr_set(cpu, insn->operands[0].reg, size, v);                         \
        return CPU_OK;                                                        \
    }                                                                         \
    static cpu_res fast_mov_mr64_##size##sfx(svmx_cpu *cpu,                   \
                                             const svmx_insn *insn,           \
                                             cpu_fault *f)                    \
    {                                                                         \
        return mov_store(cpu, insn, shape, size,                              \
                         gpr_get(cpu, insn->operands[1].reg, size), f);       \
    }                                                                         \
    static cpu_res fast_mov_mi64_##size##sfx(svmx_cpu *cpu,                   \
                                             const svmx_insn *insn,           \
                                             cpu_fault *f)                    \
    {                                                                         \
        return mov_store(cpu, insn, shape, size, insn->operands[1].imm, f);   \
    }
#define FAST_MOV(size)                                                        \
    static cpu_res fast_mov_rr##size(svmx_cpu *cpu, const svmx_insn *insn,    \
                                     cpu_fault *f)                            \
    {                                                                         \
        (void)f;                                                              \
        gpr_set(cpu, insn->operands[0].reg, size,                             \
                gpr_get(cpu, insn->operands[1].reg, size));                   \
        return CPU_OK;                                                        \
    }                                                                         \
    static cpu_res fast_mov_ri##size(svmx_cpu *cpu, const svmx_insn *insn,    \
                                     cpu_fault *f)                            \
    {                                                                         \
        (void)f;                                                              \
        gpr_set(cpu, insn->operands[0].reg, size, insn->operands[1].imm);     \
        return CPU_OK;                                                        \
    }                                                                         \
    /* 64-bit mode, address size 8, in both shapes (lin64): the source is \
     * read before the destination is touched. */                            \
    FAST_MOV_MEM(size, EA_BASE, _b)                                           \
    FAST_MOV_MEM(size, EA_ANY, _x)
FAST_MOV(1)
FAST_MOV(2)
FAST_MOV(4)
FAST_MOV(8)
#undef FAST_MOV
#undef FAST_MOV_MEM

/* MOV reg, mem and MOV mem, reg|imm in the other modes: as insn_mov. */
static cpu_res fast_mov_rm(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    const svmx_operand *d = &insn->operands[0], *s = &insn->operands[1];
    uint64_t lin, v;
    cpu_res r = exec_mem_linear(cpu, insn, s, false, &lin, f);
    if (r == CPU_OK)
        r = exec_read_linear(cpu, lin, s->size, cpu->hostmap.run_user, &v, f);
    if (r == CPU_OK)
        exec_gpr_write(cpu, d->reg, d->size, false, v);
    return r;
}

static cpu_res fast_mov_mr(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    const svmx_operand *d = &insn->operands[0], *s = &insn->operands[1];
    uint64_t v = s->kind == SVMX_OPK_IMM ? s->imm
               : exec_gpr_read(cpu, s->reg, s->size, false);
    uint64_t lin;
    cpu_res r = exec_mem_linear(cpu, insn, d, true, &lin, f);
    if (r == CPU_OK)
        r = exec_write_linear(cpu, lin, d->size, cpu->hostmap.run_user, v, f);
    return r;
}

/* LEA reg, mem at an address size of 8 (insn_lea, insn_basic.c). */
static cpu_res fast_lea64(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    (void)f;
    exec_gpr_write(cpu, insn->operands[0].reg, insn->operand_size, false,
                   ea64(cpu, &insn->operands[1]));
    return CPU_OK;
}

/* ---- conditions: Jcc rel, CMOVcc reg, reg (insn_jcc, insn_cmovcc) ---- */

#define FAST_CONDS(X)                                                         \
    X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12)       \
    X(13) X(14) X(15)

/* Jcc in 64-bit mode at an operand size of 8. */
#define FAST_JCC64(cc)                                                        \
    static cpu_res fast_jcc64_##cc(svmx_cpu *cpu, const svmx_insn *insn,      \
                                   cpu_fault *f)                              \
    {                                                                         \
        if (!alu_cond(cc, cpu->regs.rflags))                                  \
            return CPU_OK;                                                    \
        return branch64(cpu, cpu->regs.rip + insn->operands[0].imm, f);       \
    }
FAST_CONDS(FAST_JCC64)
#undef FAST_JCC64

/* CMOVcc: a 32-bit destination is written (zero-extended) even when the
 * condition is false (SDM Vol. 2A CMOVcc). */
#define FAST_CMOV(cc, size)                                                   \
    static cpu_res fast_cmov##size##_##cc(svmx_cpu *cpu, const svmx_insn *insn, \
                                          cpu_fault *f)                       \
    {                                                                         \
        (void)f;                                                              \
        unsigned d = insn->operands[0].reg;                                   \
        uint64_t v = gpr_get(cpu, insn->operands[1].reg, size);               \
        if (!alu_cond(cc, cpu->regs.rflags)) {                                \
            if (size != 4)                                                    \
                return CPU_OK;                                                \
            v = gpr_get(cpu, d, 4);                                           \
        }                                                                     \
        gpr_set(cpu, d, size, v);                                             \
        return CPU_OK;                                                        \
    }
#define FAST_CMOV4(cc) FAST_CMOV(cc, 4)
#define FAST_CMOV8(cc) FAST_CMOV(cc, 8)
FAST_CONDS(FAST_CMOV4)
FAST_CONDS(FAST_CMOV8)
#undef FAST_CMOV4
#undef FAST_CMOV8
#undef FAST_CMOV

#define FAST_JCC64_FN(cc) fast_jcc64_##cc,
#define FAST_CMOV4_FN(cc) fast_cmov4_##cc,
#define FAST_CMOV8_FN(cc) fast_cmov8_##cc,
static const exec_fn jcc64_fns[16] = { FAST_CONDS(FAST_JCC64_FN) };
static const exec_fn cmov_fns[2][16] = { { FAST_CONDS(FAST_CMOV4_FN) },
                                         { FAST_CONDS(FAST_CMOV8_FN) } };
#undef FAST_JCC64_FN
#undef FAST_CMOV4_FN
#undef FAST_CMOV8_FN

/* Jcc rel in the other modes and sizes: as insn_jcc. */
static cpu_res fast_jcc(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    if (!alu_cond(insn->cond, cpu->regs.rflags))
        return CPU_OK;
    return exec_branch(cpu, insn, cpu->regs.rip + insn->operands[0].imm, f);
}

/* ---- JMP rel (insn_jmp, insn_basic.c) -------------------------------- */

/* JMP rel8/rel32 in 64-bit mode at an operand size of 8: RIP plus the
 * sign-extended displacement; #GP(0) with RIP unchanged if the target
 * is not canonical (SDM Vol. 2A JMP). */
static cpu_res fast_jmp_rel64(svmx_cpu *cpu, const svmx_insn *insn,
                              cpu_fault *f)
{
    return branch64(cpu, cpu->regs.rip + insn->operands[0].imm, f);
}

/* JMP rel in the other modes and sizes: as insn_jmp. */
static cpu_res fast_jmp_rel(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    return exec_branch(cpu, insn, cpu->regs.rip + insn->operands[0].imm, f);
}

/* ---- the 64-bit stack forms (insn_push, insn_pop, insn_call, insn_ret,
 * insn_basic.c), decoded in 64-bit mode with an 8-byte operand size --- */

static cpu_res fast_push_r64(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    return push64(cpu, cpu->regs.gpr[insn->operands[0].reg & 15], f);
}

static cpu_res fast_pop_r64(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    uint64_t v, sp;
    cpu_res r = pop64(cpu, &v, &sp, f);
    if (r != CPU_OK)
        return r;
    cpu->regs.gpr[SVMX_RSP] = sp;
    cpu->regs.gpr[insn->operands[0].reg & 15] = v; /* POP RSP: v wins */
    return CPU_OK;
}

/* The target is checked before the push (SDM Vol. 2A CALL). */
static cpu_res fast_call_rel64(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    uint64_t t = cpu->regs.rip + insn->operands[0].imm;
    if (!cpu_canonical(t, cpu->hostmap.run_width))
        return cpu_raise(f, CPU_VEC_GP, true, 0);
    cpu_res r = push64(cpu, cpu->regs.rip, f);
    if (r == CPU_OK)
        cpu->regs.rip = t;
    return r;
}

static cpu_res fast_ret64(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    (void)insn;
    uint64_t t, sp;
    cpu_res r = pop64(cpu, &t, &sp, f);
    if (r == CPU_OK)
        r = branch64(cpu, t, f);
    if (r == CPU_OK)
        cpu->regs.gpr[SVMX_RSP] = sp;
    return r;
}

/* ---- the general handlers -------------------------------------------- */

/*
 * A decode without a form of its own runs its class's general handler
 * itself, with nothing around it. The fast loop's hints need the
 * hostmap's epoch to end whenever guest RAM changes other than through
 * a write entry (hostmap.h), and the general handler of every class the
 * loop runs (exec.c, EXEC_SIMPLE) either reaches memory only through
 * exec_read_linear, exec_write_linear, exec_push and exec_pop (exec.h;
 * insn_basic.c, insn_alu.c, insn_arith.c, insn_flags.c, and LEAVE and
 * POPA of insn_stack.c) - whose fast path is a hostmap entry, and no
 * write entry maps a protected code page, and whose slow path ends the
 * epoch - or ends it where it goes around them:
 *   - the string instructions store a run in one RAM page through a host
 *     pointer; window() (insn_string.c) ends the epoch first;
 *   - they, and the probe pass of PUSHA and ENTER (insn_stack.c),
 *     translate with paging_translate() directly, whose walk may set
 *     accessed and dirty bits (SDM Vol. 3A 4.8): paging.c ends the epoch
 *     with each such write;
 *   - an MMIO handler may write RAM: cpu.c ends the epoch after each call.
 */
static exec_fn general(const svmx_insn *insn)
{
    return exec_table[insn->cls];
}

/* ---- the choice ------------------------------------------------------ */

static const exec_fn unary_fns[4][4] = {
    FAST_SIZE_ROW(inc), FAST_SIZE_ROW(dec), FAST_SIZE_ROW(neg),
    FAST_SIZE_ROW(not),
};
static const exec_fn shift_fns[][4] = {
    [ALU_ROL - ALU_ROL] = FAST_SIZE_ROW(rol), [ALU_ROR - ALU_ROL] = FAST_SIZE_ROW(ror),
    [ALU_RCL - ALU_ROL] = FAST_SIZE_ROW(rcl), [ALU_RCR - ALU_ROL] = FAST_SIZE_ROW(rcr),
    [ALU_SHL - ALU_ROL] = FAST_SIZE_ROW(shl), [ALU_SHR - ALU_ROL] = FAST_SIZE_ROW(shr),
    [ALU_SAR - ALU_ROL] = FAST_SIZE_ROW(sar),
};
static const exec_fn mov_fns[2][4] = {
    { fast_mov_rr1, fast_mov_rr2, fast_mov_rr4, fast_mov_rr8 },
    { fast_mov_ri1, fast_mov_ri2, fast_mov_ri4, fast_mov_ri8 },
};
/* [reg, mem | mem, reg | mem, imm][shape][size index] */
enum { MOV_RM, MOV_MR, MOV_MI };
#define FAST_MOV_MEM_ROW(form)                                                \
    { { fast_mov_##form##64_1_b, fast_mov_##form##64_2_b,                     \
        fast_mov_##form##64_4_b, fast_mov_##form##64_8_b },                   \
      { fast_mov_##form##64_1_x, fast_mov_##form##64_2_x,                     \
        fast_mov_##form##64_4_x, fast_mov_##form##64_8_x } }
static const exec_fn mov_mem_fns[3][EA_COUNT][4] = {
    FAST_MOV_MEM_ROW(rm), FAST_MOV_MEM_ROW(mr), FAST_MOV_MEM_ROW(mi),
};
#undef FAST_MOV_MEM_ROW
#undef FAST_SIZE_ROW
_Static_assert(ALU_INC + 1 == ALU_DEC && ALU_DEC + 1 == ALU_NEG &&
               ALU_NEG + 1 == ALU_NOT, "unary_fns rows follow alu_op's order");

exec_fn exec_fast_pick(const svmx_insn *insn)
{
    const svmx_operand *o0 = &insn->operands[0], *o1 = &insn->operands[1];
    bool mode64 = insn->mode == SVMX_MODE_LONG64;
    bool long64 = mode64 && insn->operand_size == 8;
    unsigned n = insn->operand_count;
    unsigned sz = size_index(o0->size);
    alu_op op = alu_op_of_class(insn->cls);

    /* Register destinations of a size the handlers are compiled for. */
    bool reg0 = n >= 1 && is_gpr(o0) && sz < 4;
    /* Memory operands of 64-bit mode at an address size of 8. */
    bool mem64 = mode64 && insn->address_size == 8;
    if (op <= ALU_TEST && group1_op(insn->cls) == op && n == 2) {
        if (reg0 && is_gpr(o1) && o1->size == o0->size)
            return binop_fns[op][0][sz];
        if (reg0 && o1->kind == SVMX_OPK_IMM)
            return binop_fns[op][1][sz];
        if (reg0 && mem64 && is_mem(o1) && o1->size == o0->size)
            return binop_mem_fns[op][BINOP_RM][ea_shape(o1)][sz];
        if (mem64 && is_mem(o0) && sz < 4 &&
            !(insn->prefixes & SVMX_PFX_LOCK)) {
            if (is_gpr(o1) && o1->size == o0->size)
                return binop_mem_fns[op][BINOP_MR][ea_shape(o0)][sz];
            if (o1->kind == SVMX_OPK_IMM)
                return binop_mem_fns[op][BINOP_MI][ea_shape(o0)][sz];
        }
    }
    switch (insn->cls) {
    case SVMX_INSN_MOV:
        if (n != 2)
            break;
        if (reg0 && is_gpr(o1) && o1->size == o0->size)
            return mov_fns[0][sz];
        if (reg0 && o1->kind == SVMX_OPK_IMM)
            return mov_fns[1][sz];
        if (mem64 && reg0 && is_mem(o1) && o1->size == o0->size)
            return mov_mem_fns[MOV_RM][ea_shape(o1)][sz];
        if (mem64 && is_mem(o0) && sz < 4) {
            if (is_gpr(o1) && o1->size == o0->size)
                return mov_mem_fns[MOV_MR][ea_shape(o0)][sz];
            if (o1->kind == SVMX_OPK_IMM)
                return mov_mem_fns[MOV_MI][ea_shape(o0)][sz];
        }
        if (is_gpr(o0) && is_mem(o1))
            return fast_mov_rm;
        if (is_mem(o0) && (is_gpr(o1) || o1->kind == SVMX_OPK_IMM))
            return fast_mov_mr;
        break;
    case SVMX_INSN_LEA:
        if (mode64 && insn->address_size == 8 && n == 2 && is_gpr(o0) &&
            o1->kind == SVMX_OPK_MEM)
            return fast_lea64;
        break;
    case SVMX_INSN_JCC:
        if (n >= 1 && is_rel_imm(o0))
            return long64 ? jcc64_fns[insn->cond & 15] : fast_jcc;
        break;
    case SVMX_INSN_JMP:
        if (n >= 1 && is_rel_imm(o0))
            return long64 ? fast_jmp_rel64 : fast_jmp_rel;
        break;
    case SVMX_INSN_INC: case SVMX_INSN_DEC: case SVMX_INSN_NEG: case SVMX_INSN_NOT:
        if (n == 1 && reg0)
            return unary_fns[op - ALU_INC][sz];
        break;
    case SVMX_INSN_SHL: case SVMX_INSN_SHR: case SVMX_INSN_SAR:
    case SVMX_INSN_ROL: case SVMX_INSN_ROR: case SVMX_INSN_RCL: case SVMX_INSN_RCR:
        if (reg0 && (n == 1 || (n == 2 && o1->kind == SVMX_OPK_IMM)))
            return shift_fns[op - ALU_ROL][sz];
        break;
    case SVMX_INSN_CMOVCC:
        if (n == 2 && reg0 && is_gpr(o1) && o1->size == o0->size &&
            (o0->size == 4 || o0->size == 8))
            return cmov_fns[o0->size == 8][insn->cond & 15];
        break;
    case SVMX_INSN_PUSH:
        if (long64 && n == 1 && is_gpr(o0))
            return fast_push_r64;
        break;
    case SVMX_INSN_POP:
        if (long64 && n == 1 && is_gpr(o0))
            return fast_pop_r64;
        break;
    case SVMX_INSN_CALL:
        if (long64 && n >= 1 && is_rel_imm(o0))
            return fast_call_rel64;
        break;
    case SVMX_INSN_RET:
        if (long64 && n == 0)
            return fast_ret64;
        break;
    default:
        break;
    }
    return general(insn);
}
