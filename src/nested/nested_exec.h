/*
 * src/nested/nested_exec.h - the calls src/cpu and src/svm make into the
 * nested router (route.c) and the L0 policy (policy.c).
 *
 * The interpreter names every event by its SVM exit code (APM Vol. 2
 * appendix C), whatever the personality: the code list covers every
 * instruction and event a hypervisor can intercept, and the router maps
 * it to the vendor's own record (route.c). The SVM hooks (svm_exec.h)
 * reach the router only while the CPU is in guest mode or an L1 policy is
 * set (nested_routed), so a CPU with neither pays one load and branch per
 * hook.
 */
#ifndef SVMX_NESTED_NESTED_EXEC_H
#define SVMX_NESTED_NESTED_EXEC_H

#include "cpu/cpu_internal.h"
#include "cpu/fault.h"
#include "svm/svm_internal.h"
#include "svmx/nested.h"

/* Whether events of the running CPU go through the router. */
static inline bool nested_routed(const svmx_cpu *cpu)
{
    return cpu->svm.guest | cpu->nested.l1_routed;
}

/*
 * The record of an event the running CPU raised: `code` an SVM exit code,
 * info1/info2 its EXITINFO fields; the kind and the operands (index,
 * subindex, value, size, flags) are filled from the registers and info1.
 * `value` is the new CR0 for a CR0 write (the caller sets it and
 * SVMX_EXIT_LMSW). nrip is the current RIP (an instruction's handler runs
 * with RIP on the next instruction).
 */
void nested_exit_init(const svmx_cpu *cpu, svmx_exit *x, uint64_t code,
                      uint64_t info1, uint64_t info2);

/*
 * Decides d->exit for the running CPU (svmx_route() without the argument
 * checks) and calls the route hook. d->exit.level is set here. SVMX_OK,
 * or the failing status of an MMIO handler on a permission map (the
 * decision is then REFLECT, as an unreadable map reads as all ones).
 */
svmx_status nested_route(svmx_cpu *cpu, svmx_decision *d);

/*
 * route.c's tables for the SVM exit codes below NESTED_SVM_DENSE, whose
 * intercept is bit `code` of the VMCB's vectors: the refine step of each
 * (svm.h SVMX_SVM_REFINES, 0 for none) and the EXITINFO1 bits that are
 * decode-assist information (15.33), which a CPU without decode assists
 * reports as 0.
 */
#define NESTED_SVM_DENSE (SVMX_SVM_EXIT_IDLE_HLT + 1)
extern const uint8_t nested_svm_refine[NESTED_SVM_DENSE];
extern const uint64_t nested_svm_assist_bits[NESTED_SVM_DENSE];

/*
 * The common case of nested_route() for an instruction's event, without
 * its record: true when it is REFLECT - an event of L2 whose vmcb12
 * intercept bit alone decides (no refine step) and no route hook to call,
 * so the L0 policy, the rules and the bypass are never reached (route.c);
 * *info1 is then EXITINFO1 as the exit reports it (decode-assist bits
 * dropped as route.c drops them). False: build the record
 * (nested_exit_init) and ask nested_route().
 */
static inline bool nested_l2_reflects(const svmx_cpu *cpu, uint64_t code,
                                      uint64_t *info1)
{
    if (!cpu->svm.guest || code >= NESTED_SVM_DENSE ||
        nested_svm_refine[code] || cpu->nested.hook ||
        !svm_icpt_bit(&cpu->svm.vmcb, (unsigned)code))
        return false;
    if (!(cpu->svm.features & SVMX_SVM_FEATURE_DECODE_ASSISTS))
        *info1 &= ~nested_svm_assist_bits[code];
    return true;
}

/* Whether `policy` wants x from `level` (policy.c): the ranges of x's
 * kind, or its SVMX_L0_* bit. */
bool nested_policy_match(const svmx_policy *policy, unsigned level,
                         const svmx_exit *x);

/* Stops the run for the embedder with the decided exit (route L0):
 * SVMX_STOP_HYPERCALL or SVMX_STOP_L0_EXIT. Returns CPU_STOP. */
cpu_res nested_l0_stop(svmx_cpu *cpu, const svmx_exit *x);

/*
 * A shutdown of the current level with `rule` (R2's L1 shutdown, R3's or
 * a triple fault's in L2 that L1 does not intercept, a triple fault in
 * L1) when the router says ARCH: the CPU enters the shutdown state and
 * the run stops with SHUTDOWN, `what` saying why.
 */
cpu_res nested_shutdown(svmx_cpu *cpu, const char *what);

/*
 * Rule R2 (DESIGN.md): L2 executed a write that clears EFER.SVME and L1
 * did not intercept it. Leaves guest mode without writing vmcb12, then
 * shuts L1 down (or stops for L0, if its L1 policy wants shutdowns).
 * Returns CPU_EXIT with the run's stop recorded: the caller returns it as
 * an instruction that ended in a world switch.
 */
cpu_res nested_r2(svmx_cpu *cpu);

/*
 * Rule R3's SVM form: the state API gave L2 a state VMRUN would have
 * refused. The next boundary calls nested_r3() instead of running L2:
 * #VMEXIT(SHUTDOWN) when vmcb12 intercepts shutdown, else the vCPU shuts
 * down (or L0 takes it). nested_state_changed() is what the setters call.
 */
void nested_state_changed(svmx_cpu *cpu);
cpu_res nested_r3(svmx_cpu *cpu);

/* The CPU was reset: no policy bypass, no pending L0 event, no bad L2
 * state (the policy and the hook stay: they are the embedder's). */
void nested_reset(svmx_cpu *cpu);

#endif /* SVMX_NESTED_NESTED_EXEC_H */
