/*
 * src/cpu/insn_string.h - the engine shared by the string instructions
 * (insn_string.c) and the port-string instructions INS/OUTS (insn_io.c):
 * element addressing through rSI/rDI at the address size, and the REP
 * loop with its chunks.
 *
 * A string instruction is described by a str_kind: how one element is
 * done exactly (`step`, through the ordinary segmentation, paging and
 * memory paths), optionally how a run of elements is done at once when
 * it lies in plain RAM (`bulk`), and which of rSI/rDI it advances.
 * str_exec() runs it once, or under REP in bounded chunks: see
 * insn_string.c and docs/interpreter.md, "String instructions and port
 * I/O".
 */
#ifndef SVMX_CPU_INSN_STRING_H
#define SVMX_CPU_INSN_STRING_H

#include "cpu/exec.h"

/* The repeat prefix in effect (SDM Vol. 2B REP/REPE/REPZ/REPNE/REPNZ). */
typedef enum str_rep {
    STR_REP_NONE,
    STR_REP_ALWAYS,   /* F3 or F2 on MOVS LODS STOS INS OUTS: rCX only    */
    STR_REP_E,        /* F3 on CMPS SCAS: also ends when ZF = 0           */
    STR_REP_NE,       /* F2 on CMPS SCAS: also ends when ZF = 1           */
    STR_REP_COUNT
} str_rep;

/* str_kind.regs: the pointer registers an element advances. */
#define STR_SI 0x1u
#define STR_DI 0x2u

/* One execution of a string instruction, fixed when it starts. */
typedef struct str_ctx {
    unsigned size;     /* element bytes: 1, 2, 4 or 8                     */
    unsigned asz;      /* address size: 2, 4 or 8 (rSI, rDI, rCX width)   */
    uint64_t amask;    /* exec_mask(asz)                                  */
    unsigned src_seg;  /* segment of the rSI operand: DS or the override  */
    unsigned acc;      /* PG_USER at CPL 3: the paging flag of the data   */
    bool     down;     /* RFLAGS.DF: elements go downwards                */
    uint8_t  rep;      /* str_rep                                         */
} str_ctx;

/* One element, exactly: reads, then writes, then the registers other
 * than rSI/rDI/rCX (flags, rAX). A fault or stop leaves it undone. */
typedef cpu_res (*str_step_fn)(svmx_cpu *cpu, const str_ctx *c,
                               cpu_fault *f);

/* Up to `max` elements (max >= 1) through host pointers to RAM; *done is
 * how many were completed, 0 when the run is not plain RAM (the caller
 * then takes the exact `step`). CPU_STOP only from a page walk, with
 * *done = 0. Under REPE/REPNE it ends after the element whose ZF ends
 * the repetition. */
typedef cpu_res (*str_bulk_fn)(svmx_cpu *cpu, const str_ctx *c,
                               uint64_t max, uint64_t *done, cpu_fault *f);

typedef struct str_kind {
    str_step_fn step;
    str_bulk_fn bulk;  /* NULL: every element takes `step`                */
    uint8_t     regs;  /* STR_SI | STR_DI                                 */
    bool        cond;  /* CMPS/SCAS: F3 is REPE, F2 is REPNE              */
} str_kind;

/*
 * Executes `insn` as a string instruction of `kind` with elements of
 * `size` bytes: once without a repeat prefix; with one, a chunk of
 * iterations, leaving RIP at the instruction when rCX is not yet 0 (or
 * ZF has not ended it), so that the run loop comes back to it.
 */
cpu_res str_exec(svmx_cpu *cpu, const svmx_insn *insn, const str_kind *kind,
                 unsigned size, cpu_fault *f);

/* The linear address of the element at seg:rSI or seg:rDI (`gpr`),
 * checked by segmentation for a read or a write of c->size bytes. */
cpu_res str_address(svmx_cpu *cpu, const str_ctx *c, unsigned seg,
                    unsigned gpr, bool write, uint64_t *lin, cpu_fault *f);

/* Reads the element at seg:gpr (rSI with c->src_seg, or ES:rDI). */
cpu_res str_load(svmx_cpu *cpu, const str_ctx *c, unsigned seg, unsigned gpr,
                 uint64_t *value, cpu_fault *f);

#endif /* SVMX_CPU_INSN_STRING_H */
