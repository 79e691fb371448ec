/*
 * src/cpu/segment.h - descriptors, segment-register loads and the stacks
 * of far transfers: the checks the MOV/POP/LxS loads, the far JMP, CALL,
 * RET and IRET instructions and exception delivery share (SDM Vol. 3A
 * 3.4-3.5 and 5.5-5.10, APM Vol. 2 4.5-4.13).
 *
 * Every function here only reads and checks until its name says it
 * commits: a check returns the new register value in a caller variable,
 * so an instruction can run all of its checks and then change the state
 * in one step, or fault and change nothing.
 */
#ifndef SVMX_CPU_SEGMENT_H
#define SVMX_CPU_SEGMENT_H

#include "cpu/exec.h"

/*
 * A descriptor read from the GDT or LDT (SDM Vol. 3A 3.4.5, Figure 3-8):
 *   [15:0]  limit 15:0        [39:16] base 23:0     [43:40] type
 *   [44]    S                 [46:45] DPL           [47]    P
 *   [51:48] limit 19:16       [52]    AVL           [53]    L
 *   [54]    D/B               [55]    G             [63:56] base 31:24
 * 16-byte system descriptors and gates of IA-32e mode add `hi`: bits
 * 31:0 the base or offset 63:32, bits 44:40 a type that must be 0
 * (SDM Vol. 3A 3.5.2 and 5.8.3.1, Figure 5-9).
 */
typedef struct seg_desc {
    uint64_t raw;
    uint64_t hi;
    uint64_t addr;      /* linear address of the descriptor             */
    svmx_segment seg;   /* unpacked: selector, base, limit, attributes  */
} seg_desc;

/* System-descriptor and gate types (S = 0; SDM Vol. 3A Table 3-2). */
enum {
    SEG_T_TSS16 = 0x1, SEG_T_LDT = 0x2, SEG_T_TSS16_BUSY = 0x3,
    SEG_T_CALL16 = 0x4, SEG_T_TASK = 0x5, SEG_T_INT16 = 0x6,
    SEG_T_TRAP16 = 0x7, SEG_T_TSS = 0x9, SEG_T_TSS_BUSY = 0xb,
    SEG_T_CALL = 0xc, SEG_T_INT = 0xe, SEG_T_TRAP = 0xf,
};

/* Attribute tests on the svmx_segment attr form (SDM Vol. 3A Table 3-1). */
static inline bool seg_is_code(uint16_t attr)
{
    return (attr & SVMX_SEG_ATTR_S) && (attr & 8);
}
static inline bool seg_is_data(uint16_t attr)
{
    return (attr & SVMX_SEG_ATTR_S) && !(attr & 8);
}
static inline bool seg_is_conforming(uint16_t attr)
{
    return seg_is_code(attr) && (attr & 4);
}
static inline bool seg_is_writable_data(uint16_t attr)
{
    return seg_is_data(attr) && (attr & 2);
}
/* A 64-bit code segment with the reserved L = D = 1 pair is refused
 * wherever CS is loaded in IA-32e mode (SDM Vol. 3A 5.2.1). */
static inline bool seg_l_and_d(uint16_t attr)
{
    return (attr & SVMX_SEG_ATTR_L) && (attr & SVMX_SEG_ATTR_DB);
}
static inline bool seg_null(uint16_t sel)
{
    return (sel & 0xfffc) == 0;
}
static inline bool seg_lma(const svmx_cpu *cpu)
{
    return (cpu->sregs.efer & CPU_EFER_LMA) != 0;
}

/* A descriptor's base, limit (G applied) and 12-bit attributes. */
void seg_unpack(uint64_t raw, uint16_t sel, svmx_segment *s);

/*
 * Reads the 8-byte descriptor `sel` names as an implicit supervisor
 * access. Beyond the GDT/LDT limit, an LDT reference while LDTR is
 * unusable, or (IA-32e mode) a non-canonical descriptor address is
 * `vec`(selector | ext): #GP for most loads, #TS for a stack from the
 * TSS (SDM Vol. 3A 6.12.1, the INT n pseudocode). A #PF propagates.
 */
cpu_res seg_read(svmx_cpu *cpu, uint16_t sel, uint8_t vec, unsigned ext,
                 seg_desc *d, cpu_fault *f);

/* The upper 8 bytes of a 16-byte IA-32e descriptor, with the same
 * limit rule for the whole 16 bytes; the upper type must be 0
 * (SDM Vol. 3A 5.8.3.1): else #GP(selector | ext). */
cpu_res seg_read_upper(svmx_cpu *cpu, uint16_t sel, unsigned ext,
                       seg_desc *d, cpu_fault *f);

/*
 * The descriptor LAR, LSL, VERR and VERW examine, read as seg_read does;
 * but where a load would fault on the selector - null, beyond the table
 * limit, an LDT selector while LDTR is unusable, a non-canonical address
 * - only *found is cleared: those instructions report it in ZF (SDM Vol.
 * 2A LAR "IF Offset(SRC) > descriptor table limit THEN ZF := 0"; APM
 * Vol. 3 LAR, LSL, VERR, VERW). A #PF of the read propagates.
 * seg_peek_upper reads the upper 8 bytes of a 16-byte IA-32e descriptor
 * into d->hi the same way (*found false if they lie beyond the limit).
 */
cpu_res seg_peek(svmx_cpu *cpu, uint16_t sel, bool *found, seg_desc *d,
                 cpu_fault *f);
cpu_res seg_peek_upper(svmx_cpu *cpu, uint16_t sel, bool *found,
                       seg_desc *d, cpu_fault *f);

/* Sets bits in the type byte of the descriptor in memory (the accessed
 * bit of a segment, the busy bit of a TSS) if they are clear; a fault
 * of that locked write propagates (SDM Vol. 3A 3.4.5.1). */
cpu_res seg_set_type_bits(svmx_cpu *cpu, seg_desc *d, unsigned bits,
                          cpu_fault *f);

/*
 * Checks a load of DS, ES, FS, GS or SS with `sel` in protected mode and
 * IA-32e mode, in the order of SDM Vol. 2A MOV "Operation" (APM Vol. 2
 * 4.10.1): null selectors, table limit #GP(sel), type and privilege
 * #GP(sel), not present #NP(sel) or #SS(sel). *out gets the register
 * value, *d the descriptor (d->addr = 0 for a null selector). Nothing
 * changes.
 */
cpu_res seg_check_load(svmx_cpu *cpu, unsigned sreg, uint16_t sel,
                       svmx_segment *out, seg_desc *d, cpu_fault *f);

/* Sets the accessed bit of a checked load's descriptor, then loads the
 * register. */
cpu_res seg_commit(svmx_cpu *cpu, unsigned sreg, seg_desc *d,
                   const svmx_segment *s, cpu_fault *f);

/* The whole load of a data or stack segment register in any mode:
 * real and virtual-8086 mode set base = sel << 4 (seg_real_value),
 * the others check and commit. */
cpu_res seg_load(svmx_cpu *cpu, unsigned sreg, uint16_t sel, cpu_fault *f);

/* The register value of a real-mode or virtual-8086 load of `sel`:
 * real mode keeps the limit and attributes (SDM Vol. 3A 21.1.1), v86
 * mode gives the fixed limit 0xFFFF and attributes 0xF3 (SDM Vol. 3C
 * 26.3.1.2: a present, accessed DPL-3 read/write data segment). */
void seg_real_value(const svmx_cpu *cpu, unsigned sreg, uint16_t sel,
                    bool v86, svmx_segment *s);

/* The value of a data segment register loaded with a null selector
 * (vendor rules, see segment.c), and of a null SS with RPL = `cpl`. */
void seg_null_value(const svmx_cpu *cpu, unsigned sreg, uint16_t sel,
                    svmx_segment *s);
void seg_null_ss(uint16_t sel, unsigned cpl, svmx_segment *s);

/* Gives `s` privilege level `cpl`: selector RPL and, for SS, DPL. */
void seg_set_rpl(svmx_segment *s, unsigned cpl);

/*
 * Far returns (RET far, IRET): checks the return CS `sel` (null #GP(0),
 * limit, code type, L = D = 1, RPL < CPL, conforming DPL > RPL,
 * non-conforming DPL != RPL: #GP(sel); not present #NP(sel)), then a
 * return SS for new CPL `rpl` (null: allowed only to 64-bit code at
 * CPL < 3 with RPL = CPL, else #GP(0); RPL, type and DPL #GP(sel); not
 * present #SS(sel)) (SDM Vol. 2B RET and IRET pseudocode).
 */
cpu_res seg_check_return_cs(svmx_cpu *cpu, uint16_t sel, seg_desc *d,
                            cpu_fault *f);
cpu_res seg_check_return_ss(svmx_cpu *cpu, uint16_t sel, unsigned rpl,
                            bool to64, svmx_segment *out, seg_desc *d,
                            cpu_fault *f);

/* A return to an outer level makes DS, ES, FS and GS null when their
 * DPL < the new CPL and they hold data or non-conforming code (SDM Vol.
 * 2B RET and IRET, "FOR each SegReg"). */
void seg_invalidate_outer(svmx_cpu *cpu, unsigned cpl);

/*
 * The stack pointer for privilege level `dpl` from the current 16- or
 * 32-bit TSS (SDM Vol. 3A 8.2.1, Figures 8-2 and 8-11): #TS(TR | ext)
 * when it lies beyond the TSS limit. And the 8-byte RSPn/ISTn at
 * `offset` of a 64-bit TSS (SDM Vol. 3A 8.7).
 */
cpu_res seg_tss_stack(svmx_cpu *cpu, unsigned dpl, unsigned ext,
                      uint16_t *ss, uint64_t *sp, cpu_fault *f);
cpu_res seg_tss_rsp64(svmx_cpu *cpu, unsigned offset, unsigned ext,
                      uint64_t *rsp, cpu_fault *f);

/* Checks SS from the TSS for a handler or procedure at `dpl`: null
 * #TS(ext), limit, RPL, DPL and type #TS(sel | ext), not present
 * #SS(sel | ext) (SDM Vol. 2A CALL "MORE-PRIVILEGE", INT n). */
cpu_res seg_check_tss_ss(svmx_cpu *cpu, uint16_t sel, unsigned dpl,
                         unsigned ext, svmx_segment *out, seg_desc *d,
                         cpu_fault *f);

/*
 * A stack a far transfer reads or builds without touching RSP: SS
 * (perhaps not loaded yet), the stack pointer and its width. 64-bit
 * addressing has no base and no limit and checks canonical addresses;
 * otherwise offsets wrap at the stack width and the SS limit (expand-up
 * or expand-down) is checked. A failing check is #SS(err).
 */
typedef struct seg_stack {
    svmx_segment ss;
    uint64_t sp;
    uint64_t sp0;     /* the stack pointer the stack started with       */
    uint64_t mask;    /* 0xFFFF, 0xFFFFFFFF or all ones                 */
    bool     lm64;    /* 64-bit addressing                              */
    unsigned acc;     /* paging qualifier: PG_USER or supervisor        */
    uint32_t err;     /* error code of the stack fault                  */
} seg_stack;

/* The current SS:rSP, accessed at the current CPL, faults #SS(0). */
void seg_stack_current(const svmx_cpu *cpu, seg_stack *s);
/* A new stack at privilege `cpl`, faults #SS(err). */
void seg_stack_new(const svmx_cpu *cpu, const svmx_segment *ss, uint64_t sp,
                   bool lm64, unsigned cpl, uint32_t err, seg_stack *s);

/* Checks that `n` pushes of `size` bytes fit, without writing. */
cpu_res seg_stack_room(svmx_cpu *cpu, const seg_stack *s, unsigned n,
                       unsigned size, cpu_fault *f);
/* Pushes v[0..n) in that order, each `size` bytes; s->sp moves. */
cpu_res seg_stack_push(svmx_cpu *cpu, seg_stack *s, const uint64_t *v,
                       unsigned n, unsigned size, cpu_fault *f);
/* Pops `size` bytes; s->sp moves. */
cpu_res seg_stack_pop(svmx_cpu *cpu, seg_stack *s, unsigned size,
                      uint64_t *v, cpu_fault *f);
/* rSP after the stack's use: the whole register for 64-bit and 32-bit
 * stacks (zero-extended), only SP for a 16-bit one, whose upper bits
 * keep those of sp0 (SDM Vol. 3A 6.12.1; the "ESP high word" of 16-bit
 * stacks). */
uint64_t seg_stack_rsp(const seg_stack *s);

/* True if `off`..`off + size - 1` lies inside `s` (expand-up or
 * expand-down, SDM Vol. 3A 5.3). */
bool seg_within_limit(const svmx_segment *s, uint64_t off, unsigned size);

/* Reads the far pointer m16:16, m16:32 or m16:64 (`osize` the offset's
 * size) of memory operand `op`: the offset, then the selector; the
 * segment limit covers both (#GP(0) or #SS(0), SDM Vol. 3A 5.3). */
cpu_res seg_far_pointer(svmx_cpu *cpu, const svmx_insn *insn,
                        const svmx_operand *op, unsigned osize, uint16_t *sel,
                        uint64_t *off, cpu_fault *f);

/* Handlers of insn_seg.c for the segment forms of PUSH and POP, which
 * insn_basic.c's PUSH and POP hand over. */
cpu_res insn_push_sreg(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f);
cpu_res insn_pop_sreg(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f);

/* Is `lin` canonical for this CPU? */
static inline bool seg_canonical(const svmx_cpu *cpu, uint64_t lin)
{
    return cpu_canonical(lin, cpu->pers->linear_width);
}

#endif /* SVMX_CPU_SEGMENT_H */
