/*
 * svmx/svmx.h - the umbrella header of libsvmx, an instruction-level model
 * of x86 hardware virtualization (AMD SVM and Intel VMX).
 *
 * Include this one header, or the per-area headers it pulls in:
 *   status.h  host-facing status codes
 *   decode.h  instruction decoding (Zydis) and the decode cache
 *   mem.h     guest physical memory and port I/O
 *   cpu.h     the modelled CPU and its state API
 *   svm.h     AMD SVM: VMCB, exit codes, intercepts, VMRUN checks
 *   nested.h  the nested exit router, the L0 policy, outcome records
 */
#ifndef SVMX_SVMX_H
#define SVMX_SVMX_H

#include "svmx/status.h"
#include "svmx/decode.h"
#include "svmx/mem.h"
#include "svmx/cpu.h"
#include "svmx/svm.h"
#include "svmx/nested.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Version of these headers: major * 10000 + minor * 100 + patch. */
#define SVMX_VERSION_MAJOR 0
#define SVMX_VERSION_MINOR 1
#define SVMX_VERSION_PATCH 0
#define SVMX_VERSION                                                          \
    (SVMX_VERSION_MAJOR * 10000 + SVMX_VERSION_MINOR * 100 + SVMX_VERSION_PATCH)

/* Version of the library actually linked, in the same encoding. */
SVMX_API unsigned svmx_version(void);

/* The linked library's version as "MAJOR.MINOR.PATCH". */
SVMX_API const char *svmx_version_string(void);

#ifdef __cplusplus
}
#endif

#endif /* SVMX_SVMX_H */
