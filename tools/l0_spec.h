/*
 * tools/l0_spec.h - `svmx run --l0 SPEC`: an L0 policy from the command
 * line, and what the svmx command does as L0 with the events it gets
 * (docs/router.md "The L0 policy").
 *
 * SPEC is a comma-separated list of [l1:|l2:]KIND[=FIRST[-LAST]], the
 * level defaulting to l1. KIND is cpuid, rdmsr, wrmsr, msr (both), io,
 * hlt, pause, invd, wbinvd, hypercall (L1 only) or shutdown; the range
 * (leaves, MSRs, ports; numbers in C syntax) is for cpuid, the MSR kinds
 * and io, and defaults to all of them.
 */
#ifndef SVMX_TOOLS_L0_SPEC_H
#define SVMX_TOOLS_L0_SPEC_H

#include <stddef.h>

#include "svmx/svmx.h"

/* Adds SPEC to *p. 0, or -1 with one line in err[0..errlen). */
int l0_spec_parse(const char *spec, svmx_policy *p, char *err, size_t errlen);

/*
 * The svmx command as L0, for the stop `st` (HYPERCALL or L0_EXIT): a
 * hypercall returns 0 in RAX (SVMX_COMPLETE_DONE); any other event is
 * let through (SVMX_COMPLETE_EXECUTE) - the command has no devices to
 * emulate, it only shows the event (with --trace exits).
 */
svmx_status l0_complete(svmx_cpu *cpu, const svmx_stop *st);

#endif /* SVMX_TOOLS_L0_SPEC_H */
