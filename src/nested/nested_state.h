/*
 * src/nested/nested_state.h - what a CPU carries for the nested router
 * (src/nested/route.c) and the L0 policy (policy.c). Included by
 * cpu_internal.h, so every file of src/cpu sees struct cpu_nested; the
 * calls the interpreter and src/svm make into the router are in
 * nested_exec.h.
 */
#ifndef SVMX_NESTED_NESTED_STATE_H
#define SVMX_NESTED_NESTED_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "svmx/nested.h"

typedef struct cpu_nested {
    /* The policy as set, and per level (index 1, 2) the kinds it wants:
     * bit k set when some range or SVMX_L0_* bit selects kind k, so the
     * router's L0 step is one test for a policy that wants nothing. */
    svmx_policy policy;
    uint32_t    wants[3];
    bool        l1_routed;      /* wants[1] != 0: L1 events are routed   */

    /* An event the run stopped for, until svmx_cpu_complete(). */
    bool        l0_pending;
    svmx_exit   l0_exit;

    /* SVMX_COMPLETE_EXECUTE of an instruction: the next time the policy
     * is asked about an instruction ending at bypass_nrip, it says no. */
    bool        bypass;
    uint64_t    bypass_nrip;

    /* The state API gave L2 a state no VMRUN would have accepted: it is
     * never run (rule R3's SVM form, route.c). */
    bool        l2_state_bad;

    svmx_route_hook hook;
    void           *hook_opaque;
} cpu_nested;

#endif /* SVMX_NESTED_NESTED_STATE_H */
