/*
 * tests/svm_fixture.h - an SVM machine for the unit tests that run L1 and
 * L2 code (test_svm_run.c, test_router.c): exec_fixture.h's long-mode
 * machine with SVM enabled, a VMCB built with the public accessors, a
 * 64-bit guest sharing L1's GDT and page tables, and checks of the
 * #VMEXIT L1 gets back.
 *
 * L1 runs at 0x7C00 in 64-bit mode: `mov rax, VMCB; vmrun; hlt` (or
 * variants), so a #VMEXIT shows as L1 halting right after VMRUN. The
 * guest has code at 0x9000, a stack below 0xA000 and its own IDT whose
 * 256 handlers are a HLT each, so an exception or interrupt delivered in
 * the guest shows as a HLT intercept at GHANDLER(vector). Exceptions L1
 * takes go to HLT stubs at L1HANDLER(vector).
 */
#ifndef SVMX_TESTS_SVM_FIXTURE_H
#define SVMX_TESTS_SVM_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exec_fixture.h"
#include "svmx/svm.h"

#define VMCB   0x4000u        /* the guest's VMCB                        */
#define VMCB2  0x5000u        /* VMLOAD/VMSAVE area                      */
#define HSAVE  0x6000u        /* VM_HSAVE_PA (not written by the model)  */
#define RSP0   0x6800u        /* TSS RSP0 for L1 at CPL 3                */
#define GCODE  0x9000u
#define GDATA  0x9800u        /* memory operands of guest instructions   */
#define GSTACK 0xa000u
#define GIDT   0xb000u
#define GHANDLER(v) (0xc000u + (v) * 16u)
#define L1HANDLER(v) (0x8000u + (v) * 16u)
#define MSRPM  0x20000u
#define IOPM   0x24000u
#define PDPT   0x30000u       /* PAE guest tables                        */

#define MSR_EFER   0xc0000080u
#define MSR_HSAVE  0xc0010117u
#define EFER_LM    0x500u     /* LME | LMA                               */
#define EFER_SVME  0x1000u

/* L1: mov rax, 0x4000; vmrun; hlt. */
extern const uint8_t l1_stub[11];
#define L1_VMRUN 0x7c07u
#define L1_AFTER 0x7c0au      /* the HLT after VMRUN                     */

extern svmx_vmcb vm;          /* the VMCB being built                    */

void set_msr(uint32_t i, uint64_t v);
uint64_t msr(uint32_t i);
svmx_sregs sregs(void);
svmx_events events(void);
void vset(svmx_vmcb_field f, uint64_t v);
void icpt(unsigned n);
uint64_t vout(svmx_vmcb_field f);
void gates(uint32_t idt, unsigned count, uint32_t handler);
void put_seg(svmx_vmcb_field at, uint16_t sel, uint16_t attr);
void vmcb_defaults(void);
void setup_l1(svmx_vendor vendor, const uint8_t *l1, size_t l1n,
              const uint8_t *guest, size_t n, bool user);
void setup(const uint8_t *guest, size_t n);
void wake(void);
svmx_stop run_vm(uint64_t max);
void check_l1_back(const svmx_stop *st);
void check_exit(const svmx_stop *st, uint64_t code, uint64_t info1,
                uint64_t info2, uint64_t rip, uint64_t nrip);
void expect_exit(uint64_t code, uint64_t info1, uint64_t info2,
                 uint64_t rip, uint64_t nrip);
uint64_t gframe(unsigned i);
/* 4-level tables at `base` (PML4, PDPT, PD, PT on consecutive pages)
 * mapping the first 2 MiB identically in 4 KiB pages, user and writable,
 * for a guest with tables of its own. */
void identity_tables(uint32_t base);
void expect_l1_fault(const svmx_stop *st, unsigned v);

#endif /* SVMX_TESTS_SVM_FIXTURE_H */
