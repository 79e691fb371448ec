/*
 * src/cpu/cpu_checks.h - which values the control registers and XCR0 can
 * hold on a personality. The state API (svmx_cpu_set_sregs, cpu.c) and
 * the instructions that write these registers (MOV CR, XSETBV in
 * insn_system.c) apply the same rules, written once in cpu.c. Each is a
 * pure test of one value; rules that depend on other state (CR0.PG with
 * CR0.PE, CR4.PAE in IA-32e mode, ...) stay with the instruction.
 */
#ifndef SVMX_CPU_CPU_CHECKS_H
#define SVMX_CPU_CPU_CHECKS_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/personality.h"

/* CR0: bits 63:32 are reserved (SDM Vol. 3A 2.5, APM Vol. 2 3.1.1). */
bool cpu_cr0_valid(uint64_t cr0);

/* CR3: no bit at or above MAXPHYADDR (SDM Vol. 3A 4.5, APM Vol. 2 3.1.2);
 * without PCIDs bit 63 is one of them. */
bool cpu_cr3_valid(const cpu_personality *pers, uint64_t cr3);

/* CR4: only the bits the personality's features define (SDM Vol. 3A 2.5,
 * APM Vol. 2 3.1.3; docs/personalities.md). */
bool cpu_cr4_valid(const cpu_personality *pers, uint64_t cr4);

/* CR8: bits 3:0 are the TPR, the rest reserved (SDM Vol. 3A 2.5). */
bool cpu_cr8_valid(uint64_t cr8);

/* XCR0 (SDM Vol. 1 13.3, Vol. 2D XSETBV; APM Vol. 3 XSETBV): bit 0 set,
 * no bit the personality does not support, AVX state only with SSE
 * state, the three AVX-512 components together and only with AVX, MPX's
 * two components together. */
bool cpu_xcr0_valid(const cpu_personality *pers, uint64_t xcr0);

#endif /* SVMX_CPU_CPU_CHECKS_H */
