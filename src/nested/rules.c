/*
 * src/nested/rules.c - the effects of DESIGN.md's nested rules R2 and R3
 * (SVM form), and the shutdown the router decides for a level.
 *
 * R2: L2 clears EFER.SVME by what it executes, and L1 does not intercept
 * the write. The APM leaves it undefined ("the effect of turning off
 * EFER.SVME while a guest is running is undefined", APM Vol. 2 15.5.1 and
 * the EFER description in 3.1.7); svmx does what KVM settled on
 * (routing-rules.md 4.2): leave guest mode at once without writing a
 * #VMEXIT into vmcb12 - L1's state comes back from the host save area -
 * then a triple fault for L1, i.e. L1 shuts down.
 *
 * R3, SVM form: the state API set an L2 state that VMRUN's consistency
 * checks (APM Vol. 2 15.5.1) would have refused. It is never run: the
 * next time L2 would run, a SHUTDOWN event of L2 is routed - #VMEXIT
 * (SHUTDOWN) when vmcb12 intercepts shutdown (15.14.3), else the vCPU
 * shuts down (routing-rules.md 4.3 for the VMX original).
 */
#include "cpu/exec.h"
#include "nested/nested_exec.h"
#include "svm/svm_exec.h"
#include "svm/svm_internal.h"

cpu_res nested_shutdown(svmx_cpu *cpu, const char *what)
{
    cpu->events.activity = SVMX_ACTIVITY_SHUTDOWN;
    return exec_stop(cpu, SVMX_STOP_SHUTDOWN, what);
}

/* Routes a SHUTDOWN event of the current level with `rule`; ARCH shuts
 * the CPU down, L0 stops for the embedder, REFLECT is the caller's. */
static cpu_res route_shutdown(svmx_cpu *cpu, svmx_rule rule,
                              svmx_decision *d, const char *what)
{
    *d = (svmx_decision){ .rule = (uint8_t)rule };
    nested_exit_init(cpu, &d->exit, SVMX_SVM_EXIT_SHUTDOWN, 0, 0);
    d->exit.nrip = 0; /* not an instruction's exit (15.7.1) */
    (void)nested_route(cpu, d); /* no permission map is read */
    if (d->route == SVMX_ROUTE_L0)
        return nested_l0_stop(cpu, &d->exit);
    if (d->route == SVMX_ROUTE_ARCH)
        return nested_shutdown(cpu, what);
    return CPU_OK;
}

cpu_res nested_r2(svmx_cpu *cpu)
{
    svmx_decision d;
    cpu_res r = svm_leave_guest(cpu);
    /* The host state itself may be beyond restoring: that shutdown (15.6)
     * already stopped the run. */
    if (r == CPU_STOP) {
        cpu->svm.pending.stop = true;
        return CPU_EXIT;
    }
    /* Nothing of L2 remains to rewind: the run stops from L1's state. */
    route_shutdown(cpu, SVMX_RULE_R2, &d,
                   "rule R2: L2 cleared EFER.SVME, L1 shut down");
    cpu->svm.pending.stop = true;
    return CPU_EXIT;
}

/* ================================================================ R3 == */

/* The checks of svm.h's list that look at the guest state, not at the
 * controls VMRUN already accepted (15.5.1). */
#define STATE_CHECKS                                                          \
    ((1ull << SVMX_SVM_CHECK_EFER_SVME) | (1ull << SVMX_SVM_CHECK_CR0_CD_NW) | \
     (1ull << SVMX_SVM_CHECK_CR0_HIGH) | (1ull << SVMX_SVM_CHECK_CR3_MBZ) |   \
     (1ull << SVMX_SVM_CHECK_CR4_MBZ) | (1ull << SVMX_SVM_CHECK_DR6_HIGH) |   \
     (1ull << SVMX_SVM_CHECK_DR7_HIGH) | (1ull << SVMX_SVM_CHECK_EFER_MBZ) |  \
     (1ull << SVMX_SVM_CHECK_EFER_NO_LONG_MODE) |                             \
     (1ull << SVMX_SVM_CHECK_LONG_NO_PAE) | (1ull << SVMX_SVM_CHECK_LONG_NO_PE) | \
     (1ull << SVMX_SVM_CHECK_LONG_CS_L_D))

void nested_state_changed(svmx_cpu *cpu)
{
    if (!cpu->svm.guest)
        return;
    /* The running guest's state in a copy of vmcb12, checked as VMRUN
     * would check it. A state once found bad stays bad until it ran into
     * R3: the embedder cannot un-happen it by setting a good one after. */
    svmx_vmcb v = cpu->svm.vmcb;
    svmx_svm_caps caps;
    svmx_svm_check_result res;
    const svmx_sregs *s = &cpu->sregs;
    svmx_vmcb_set(&v, SVMX_VMCB_EFER, s->efer);
    svmx_vmcb_set(&v, SVMX_VMCB_CR0, s->cr0);
    svmx_vmcb_set(&v, SVMX_VMCB_CR3, s->cr3);
    svmx_vmcb_set(&v, SVMX_VMCB_CR4, s->cr4);
    svmx_vmcb_set(&v, SVMX_VMCB_DR6, cpu->dregs.dr6);
    svmx_vmcb_set(&v, SVMX_VMCB_DR7, cpu->dregs.dr7);
    svmx_vmcb_set(&v, SVMX_VMCB_CS_ATTRIB, s->seg[SVMX_CS].attr & 0xfffu);
    if (svmx_svm_caps_from_cpu(cpu, &caps) != SVMX_OK ||
        svmx_svm_vmrun_check(&v, &caps, &res) != SVMX_OK)
        return;
    if (res.failed & STATE_CHECKS) {
        cpu->nested.l2_state_bad = true;
        cpu->attention = true;
    }
}

cpu_res nested_r3(svmx_cpu *cpu)
{
    svmx_decision d;
    cpu->nested.l2_state_bad = false;
    if (!cpu->svm.guest)
        return CPU_OK;
    cpu_res r = route_shutdown(cpu, SVMX_RULE_R3, &d,
                               "rule R3: L2 state invalid outside VMRUN");
    if (d.route != SVMX_ROUTE_REFLECT)
        return r;
    /* 15.14.3: #VMEXIT(SHUTDOWN), EXITINFO1/2 0; the state saved into
     * vmcb12 is the one the embedder set, which never ran. */
    return svm_vmexit(cpu, SVMX_SVM_EXIT_SHUTDOWN, 0, 0);
}
