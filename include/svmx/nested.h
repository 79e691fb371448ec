/*
 * svmx/nested.h - the nested exit router, the L0 policy and the outcome
 * records (DESIGN.md, "Data flow", "The three levels", "The three nested
 * rules"; docs/router.md).
 *
 * Every event an instruction or the CPU raises that a hypervisor could
 * intercept - an instruction intercept, an exception, an interrupt, a
 * shutdown - is one svmx_exit record. The router decides where it goes:
 *
 *   REFLECT  L1 intercepts it: a #VMEXIT into L1's VMCB (vmcb12);
 *   L0       the embedder's L0 policy wants it: svmx_cpu_run() stops with
 *            SVMX_STOP_L0_EXIT or SVMX_STOP_HYPERCALL and the record, and
 *            the embedder finishes the event with svmx_cpu_complete();
 *   ARCH     neither: the architectural effect (the instruction executes,
 *            the exception is delivered, the CPU shuts down ...).
 *
 * For an event of L2 (a guest VMRUN entered) the order is: L1's intercept,
 * then the L0 policy, then ARCH; for an event of L1: the L0 policy, then
 * ARCH. The embedder's debug hooks (svmx_cpu_set_debug, svmx/cpu.h) come
 * before all of it: they stop the CPU before the instruction runs. The three nested rules of DESIGN.md are decided here too (R1
 * VMMCALL, R2 EFER.SVME, R3 invalid L2 state) and named in the decision.
 */
#ifndef SVMX_NESTED_H
#define SVMX_NESTED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "svmx/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct svmx_cpu svmx_cpu;

/* Where an event was raised: L1 (outside guest mode) or L2. */
typedef enum svmx_level {
    SVMX_LEVEL_L1 = 1,
    SVMX_LEVEL_L2 = 2
} svmx_level;

/* ============================================================ records == */

/*
 * What an event is, the same on both vendors: what an L0 policy selects
 * on and what an embedder completing it needs to know. OTHER for every
 * event no policy can select (CR and DR accesses, exceptions, interrupts,
 * the SVM instructions ...).
 */
#define SVMX_EVENT_KINDS(X)                                                   \
    X(OTHER,     "an event no L0 policy selects")                             \
    X(CPUID,     "CPUID (leaf in index, subleaf in subindex)")                \
    X(RDMSR,     "RDMSR (MSR in index)")                                      \
    X(WRMSR,     "WRMSR (MSR in index, EDX:EAX in value)")                    \
    X(IN,        "IN or INS (port in index, bytes in size)")                  \
    X(OUT,       "OUT or OUTS (port in index, bytes in size, value)")         \
    X(HLT,       "HLT")                                                       \
    X(PAUSE,     "PAUSE")                                                     \
    X(INVD,      "INVD")                                                      \
    X(WBINVD,    "WBINVD or WBNOINVD")                                        \
    X(HYPERCALL, "the vendor's hypercall: VMMCALL (AMD), VMCALL (Intel)")     \
    X(SHUTDOWN,  "shutdown: a triple fault, or a rule that shuts L1 down")

typedef enum svmx_event_kind {
#define SVMX_EVENT_KIND_ENUM_(name, text) SVMX_EVENT_##name,
    SVMX_EVENT_KINDS(SVMX_EVENT_KIND_ENUM_)
#undef SVMX_EVENT_KIND_ENUM_
    SVMX_EVENT_KIND_COUNT
} svmx_event_kind;

/* svmx_exit.flags */
#define SVMX_EXIT_WRITE  0x01u /* OUT, WRMSR, a CR or DR write            */
#define SVMX_EXIT_STRING 0x02u /* INS or OUTS                             */
#define SVMX_EXIT_REP    0x04u /* with a REP prefix                       */
#define SVMX_EXIT_LMSW   0x08u /* a CR0 write by LMSW (APM 15.9 Tbl 15-7) */

/*
 * One event. `code` and the info fields are the vendor's own: on AMD the
 * #VMEXIT EXITCODE, EXITINFO1, EXITINFO2, EXITINTINFO and NRIP exactly as
 * APM Vol. 2 15.6-15.7 and appendix C define them (after a REFLECT, what
 * vmcb12 received); on Intel the basic exit reason (SDM Vol. 3C appendix
 * C), with the info fields 0 until the VMX model lands. index, subindex,
 * size and value carry the operands an L0 handler needs whatever the
 * vendor (see svmx_event_kind). `nrip` is the RIP after the instruction
 * for an instruction's event, else 0.
 */
typedef struct svmx_exit {
    uint64_t code;
    uint64_t info1;
    uint64_t info2;
    uint64_t intinfo;
    uint64_t nrip;
    uint64_t value;     /* WRMSR: EDX:EAX; OUT: the value (not OUTS); a
                           CR0 write: the new CR0                        */
    uint32_t index;     /* MSR, port or CPUID leaf                       */
    uint32_t subindex;  /* CPUID subleaf                                 */
    uint8_t  level;     /* svmx_level                                    */
    uint8_t  kind;      /* svmx_event_kind                               */
    uint8_t  size;      /* I/O: 1, 2 or 4 bytes                          */
    uint8_t  flags;     /* SVMX_EXIT_*                                   */
} svmx_exit;

/* The three decisions. */
#define SVMX_ROUTES(X)                                                        \
    X(ARCH,    "the architectural effect")                                    \
    X(REFLECT, "to L1: a #VMEXIT into vmcb12")                                \
    X(L0,      "to L0: the run stops for the embedder")

typedef enum svmx_route_kind {
#define SVMX_ROUTE_ENUM_(name, text) SVMX_ROUTE_##name,
    SVMX_ROUTES(SVMX_ROUTE_ENUM_)
#undef SVMX_ROUTE_ENUM_
    SVMX_ROUTE_COUNT
} svmx_route_kind;

/* Which rule made the decision, beyond the plain order (DESIGN.md). */
#define SVMX_RULES(X)                                                         \
    X(NONE,      "intercepts and policy decided")                             \
    X(R1,        "R1: VMMCALL in L2 that L1 does not intercept is #UD in L2") \
    X(R2,        "R2: L2 cleared EFER.SVME: leave guest mode, L1 shuts down") \
    X(R3,        "R3: L2 state invalid outside VMRUN: never run")             \
    X(L2_SHUTDOWN, "a shutdown in L2 that L1 does not intercept: the vCPU")

typedef enum svmx_rule {
#define SVMX_RULE_ENUM_(name, text) SVMX_RULE_##name,
    SVMX_RULES(SVMX_RULE_ENUM_)
#undef SVMX_RULE_ENUM_
    SVMX_RULE_COUNT
} svmx_rule;

/* A routing decision: the route, the rule, and the event as delivered
 * (for REFLECT the fields vmcb12 received, which may differ from what was
 * raised: a CR0 write taken as the selective CR0 write, decode-assist
 * fields cleared on a CPU without decode assists). */
typedef struct svmx_decision {
    uint8_t   route;    /* svmx_route_kind */
    uint8_t   rule;     /* svmx_rule       */
    svmx_exit exit;
} svmx_decision;

/* Names ("CPUID", "REFLECT", "R1") and descriptions; "?" outside. */
SVMX_API const char *svmx_event_kind_name(svmx_event_kind kind);
SVMX_API const char *svmx_route_name(svmx_route_kind route);
SVMX_API const char *svmx_rule_name(svmx_rule rule);
SVMX_API const char *svmx_rule_str(svmx_rule rule);

/* Name of an exit code of `vendor` ("CPUID", "EXCP6"); "?" if unknown. */
SVMX_API const char *svmx_exit_name(int vendor, uint64_t code);

/* ========================================================= L0 policy == */

/* An inclusive range of ports, MSRs or CPUID leaves. */
typedef struct svmx_range {
    uint32_t first, last;
} svmx_range;

#define SVMX_POLICY_RANGES 8

/* Events wanted whole, by kind (svmx_policy_level.events). */
#define SVMX_L0_HLT       (1u << SVMX_EVENT_HLT)
#define SVMX_L0_PAUSE     (1u << SVMX_EVENT_PAUSE)
#define SVMX_L0_INVD      (1u << SVMX_EVENT_INVD)
#define SVMX_L0_WBINVD    (1u << SVMX_EVENT_WBINVD)
#define SVMX_L0_HYPERCALL (1u << SVMX_EVENT_HYPERCALL) /* L1 only (R1) */
#define SVMX_L0_SHUTDOWN  (1u << SVMX_EVENT_SHUTDOWN)

/*
 * What L0 wants from one level. An I/O instruction is wanted when any
 * port it touches lies in a `ports` range; RDMSR and WRMSR when ECX lies
 * in a `msr_read` or `msr_write` range; CPUID when EAX lies in a `cpuid`
 * range. Only the first n* ranges count.
 */
typedef struct svmx_policy_level {
    uint32_t   events;                          /* SVMX_L0_*          */
    uint8_t    nports, nmsr_read, nmsr_write, ncpuid;
    svmx_range ports[SVMX_POLICY_RANGES];
    svmx_range msr_read[SVMX_POLICY_RANGES];
    svmx_range msr_write[SVMX_POLICY_RANGES];
    svmx_range cpuid[SVMX_POLICY_RANGES];
} svmx_policy_level;

/* The L0 policy: what the embedder wants from L1 and from L2. All zero
 * (the default) wants nothing: L1 then runs exactly as on bare metal. */
typedef struct svmx_policy {
    svmx_policy_level l1, l2;
} svmx_policy;

/*
 * Sets the policy (NULL: wants nothing). SVMX_E_ARG, nothing changed, for
 * a count above SVMX_POLICY_RANGES, a range with first > last, an unknown
 * SVMX_L0_* bit, or SVMX_L0_HYPERCALL in l2 (rule R1: a hypercall from
 * L2 is never L0's).
 */
SVMX_API svmx_status svmx_cpu_set_policy(svmx_cpu *cpu,
                                         const svmx_policy *policy);
SVMX_API svmx_status svmx_cpu_get_policy(const svmx_cpu *cpu,
                                         svmx_policy *policy);

/*
 * How the embedder finishes an event the run stopped for (SVMX_STOP_L0_EXIT
 * or SVMX_STOP_HYPERCALL). Until it does, svmx_cpu_run() and
 * svmx_cpu_step() refuse to run (SVMX_E_STATE); the state API works, and
 * is how results are supplied.
 *   DONE     the embedder performed the event: for an instruction, RIP
 *            moves to the next one (exit.nrip), as after an intercept a
 *            hypervisor emulated; the registers are as the embedder set
 *            them (CPUID: RAX-RDX, RDMSR: EDX:EAX, IN: AL/AX/EAX). For a
 *            shutdown, the embedder has set the state to continue from.
 *   EXECUTE  the model performs the architectural effect, as without the
 *            policy: the instruction executes (the policy is not asked
 *            again for it), a shutdown shuts the CPU down.
 */
typedef enum svmx_completion {
    SVMX_COMPLETE_DONE,
    SVMX_COMPLETE_EXECUTE
} svmx_completion;

SVMX_API svmx_status svmx_cpu_complete(svmx_cpu *cpu, svmx_completion how);

/* ============================================================ routing == */

/*
 * The router as a pure call, for an embedder with its own execution
 * engine: decides `exit` (code, info fields and operands filled as the
 * vendor defines them) as raised now by the CPU's current level, against
 * L1's cached controls and the L0 policy, without performing it. The
 * level is taken from the CPU and written into decision->exit.level.
 * On the Intel personality `code` is the VMX basic exit reason. SVMX_E_ARG
 * for NULL pointers; an MMIO handler's failing status, as it returned it,
 * when a permission map in MMIO could not be read (the decision is then
 * REFLECT: an unreadable map reads as all ones).
 */
SVMX_API svmx_status svmx_route(svmx_cpu *cpu, const svmx_exit *exit,
                                svmx_decision *decision);

/*
 * Called with every decision the running CPU makes, after it is made and
 * before its effect (for `svmx run --trace exits`). NULL removes it. The
 * hook must not call back into the CPU. Events of L1 reach the router,
 * and so the hook, only while an L1 policy is set.
 */
typedef void (*svmx_route_hook)(void *opaque, const svmx_decision *decision);

SVMX_API svmx_status svmx_cpu_set_route_hook(svmx_cpu *cpu,
                                             svmx_route_hook hook,
                                             void *opaque);

/* ============================================================= digest == */

/*
 * An XXH3-64 digest of the architectural state (docs/digest.md gives the
 * exact bytes hashed, so that another implementation can compute it).
 */
SVMX_API svmx_status svmx_cpu_digest(const svmx_cpu *cpu, uint64_t *digest);

#ifdef __cplusplus
}
#endif

#endif /* SVMX_NESTED_H */
