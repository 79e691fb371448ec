/*
 * src/nested/policy.c - the L0 policy: what the embedder wants to see from
 * L1 and from L2 (DESIGN.md "The three levels"), and how it finishes an
 * event the run stopped for (docs/router.md "L0 policy").
 *
 * The policy is copied into the CPU and reduced to one bit mask per level
 * of the event kinds it can want, so that the router's L0 step costs a
 * policy that wants nothing one test (route.c), and L1's events are not
 * routed at all while L1's mask is empty (nested_exec.h).
 */
#include <string.h>

#include "cpu/events.h"
#include "cpu/exec.h"
#include "nested/nested_exec.h"

#define L0_EVENT_BITS (SVMX_L0_HLT | SVMX_L0_PAUSE | SVMX_L0_INVD |           \
                       SVMX_L0_WBINVD | SVMX_L0_HYPERCALL | SVMX_L0_SHUTDOWN)

static bool ranges_ok(const svmx_range *r, unsigned n)
{
    if (n > SVMX_POLICY_RANGES)
        return false;
    for (unsigned i = 0; i < n; i++)
        if (r[i].first > r[i].last)
            return false;
    return true;
}

static bool level_ok(const svmx_policy_level *l)
{
    return !(l->events & ~L0_EVENT_BITS) &&
           ranges_ok(l->ports, l->nports) &&
           ranges_ok(l->msr_read, l->nmsr_read) &&
           ranges_ok(l->msr_write, l->nmsr_write) &&
           ranges_ok(l->cpuid, l->ncpuid);
}

/* The kinds a level's policy can want (bit k: svmx_event_kind k). */
static uint32_t wants_of(const svmx_policy_level *l)
{
    uint32_t w = l->events;
    if (l->ncpuid)
        w |= 1u << SVMX_EVENT_CPUID;
    if (l->nmsr_read)
        w |= 1u << SVMX_EVENT_RDMSR;
    if (l->nmsr_write)
        w |= 1u << SVMX_EVENT_WRMSR;
    if (l->nports)
        w |= 1u << SVMX_EVENT_IN | 1u << SVMX_EVENT_OUT;
    return w;
}

svmx_status svmx_cpu_set_policy(svmx_cpu *cpu, const svmx_policy *policy)
{
    static const svmx_policy none;
    if (!cpu)
        return SVMX_E_ARG;
    if (!policy)
        policy = &none;
    /* R1: a hypercall from L2 is never L0's (DESIGN.md). */
    if (!level_ok(&policy->l1) || !level_ok(&policy->l2) ||
        (policy->l2.events & SVMX_L0_HYPERCALL))
        return SVMX_E_ARG;
    cpu_nested *n = &cpu->nested;
    n->policy = *policy;
    /* Ranges past their counts are not part of the policy. */
    svmx_policy_level *lv[2] = { &n->policy.l1, &n->policy.l2 };
    for (unsigned i = 0; i < 2; i++) {
        svmx_policy_level *l = lv[i];
        memset(l->ports + l->nports, 0,
               sizeof l->ports[0] * (SVMX_POLICY_RANGES - l->nports));
        memset(l->msr_read + l->nmsr_read, 0,
               sizeof l->msr_read[0] * (SVMX_POLICY_RANGES - l->nmsr_read));
        memset(l->msr_write + l->nmsr_write, 0,
               sizeof l->msr_write[0] * (SVMX_POLICY_RANGES - l->nmsr_write));
        memset(l->cpuid + l->ncpuid, 0,
               sizeof l->cpuid[0] * (SVMX_POLICY_RANGES - l->ncpuid));
    }
    n->wants[SVMX_LEVEL_L1] = wants_of(&n->policy.l1);
    n->wants[SVMX_LEVEL_L2] = wants_of(&n->policy.l2);
    n->l1_routed = n->wants[SVMX_LEVEL_L1] != 0;
    n->bypass = false;
    cpu->attention = true; /* a running fast loop looks again */
    return SVMX_OK;
}

svmx_status svmx_cpu_get_policy(const svmx_cpu *cpu, svmx_policy *policy)
{
    if (!cpu || !policy)
        return SVMX_E_ARG;
    *policy = cpu->nested.policy;
    return SVMX_OK;
}

/* Whether [lo, hi] meets one of the n ranges. */
static bool in_ranges(const svmx_range *r, unsigned n, uint32_t lo,
                      uint32_t hi)
{
    for (unsigned i = 0; i < n; i++)
        if (lo <= r[i].last && hi >= r[i].first)
            return true;
    return false;
}

bool nested_policy_match(const svmx_policy *policy, unsigned level,
                         const svmx_exit *x)
{
    const svmx_policy_level *l = level == SVMX_LEVEL_L2 ? &policy->l2
                                                        : &policy->l1;
    switch (x->kind) {
    case SVMX_EVENT_CPUID:
        return in_ranges(l->cpuid, l->ncpuid, x->index, x->index);
    case SVMX_EVENT_RDMSR:
        return in_ranges(l->msr_read, l->nmsr_read, x->index, x->index);
    case SVMX_EVENT_WRMSR:
        return in_ranges(l->msr_write, l->nmsr_write, x->index, x->index);
    case SVMX_EVENT_IN:
    case SVMX_EVENT_OUT: {
        /* Every port the access touches: port .. port + size - 1, read
         * as the IOPM reads them (a 16-bit port; sizes 1, 2, else 4). */
        uint32_t port = x->index & 0xffffu;
        uint32_t size = x->size == 1 || x->size == 2 ? x->size : 4;
        return in_ranges(l->ports, l->nports, port, port + size - 1);
    }
    case SVMX_EVENT_HYPERCALL:
        /* R1: never from L2 (set_policy refuses it there, and the router
         * decides an L2 VMMCALL before it asks). */
        return level == SVMX_LEVEL_L1 && (l->events & SVMX_L0_HYPERCALL);
    default:
        return (l->events >> x->kind) & 1;
    }
}

/* ========================================================= completion == */

/*
 * DONE for an instruction: it retired as far as the architecture is
 * concerned, as after a hypervisor emulated an intercepted instruction -
 * RIP on the next one, the interrupt shadow it may have begun in over,
 * RF clear (SDM Vol. 3B 18.3.1.1), and with TF set the single-step #DB
 * trap it owes (18.3.1.4).
 */
static void retire(svmx_cpu *cpu, const svmx_exit *x)
{
    cpu->regs.rip = x->nrip;
    cpu->events.shadow = 0;
    cpu->regs.rflags &= ~SVMX_RFLAGS_RF;
    if ((cpu->regs.rflags & SVMX_RFLAGS_TF) && !cpu->events.exc_pending) {
        cpu->events.exc_pending = true;
        cpu->events.exc_vector = CPU_VEC_DB;
        cpu->events.exc_has_error = false;
        cpu->events.exc_error = 0;
        cpu->events.exc_payload = CPU_DR6_BS;
    }
}

svmx_status svmx_cpu_complete(svmx_cpu *cpu, svmx_completion how)
{
    if (!cpu || (how != SVMX_COMPLETE_DONE && how != SVMX_COMPLETE_EXECUTE))
        return SVMX_E_ARG;
    cpu_nested *n = &cpu->nested;
    if (!n->l0_pending)
        return SVMX_E_STATE;
    const svmx_exit *x = &n->l0_exit;
    n->l0_pending = false;
    if (x->kind == SVMX_EVENT_SHUTDOWN) {
        /* EXECUTE: the shutdown happens (SDM Vol. 3A 6.15 Interrupt 8,
         * APM Vol. 2 8.2.9); DONE: the embedder set the state to go on. */
        if (how == SVMX_COMPLETE_EXECUTE)
            cpu->events.activity = SVMX_ACTIVITY_SHUTDOWN;
        return SVMX_OK;
    }
    if (how == SVMX_COMPLETE_DONE) {
        retire(cpu, x);
    } else {
        n->bypass = true;
        n->bypass_nrip = x->nrip;
    }
    return SVMX_OK;
}

void nested_reset(svmx_cpu *cpu)
{
    cpu_nested *n = &cpu->nested;
    n->l0_pending = false;
    n->bypass = false;
    n->l2_state_bad = false;
}
