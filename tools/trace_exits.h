/*
 * tools/trace_exits.h - `svmx run --trace exits`: one line per routing
 * decision (docs/router.md "Tracing decisions"), as text or JSON lines.
 */
#ifndef SVMX_TOOLS_TRACE_EXITS_H
#define SVMX_TOOLS_TRACE_EXITS_H

#include <stdio.h>

#include "svmx/svmx.h"

typedef enum trace_format {
    TRACE_TEXT,
    TRACE_JSONL
} trace_format;

typedef struct trace_exits {
    FILE        *out;
    trace_format format;
    int          vendor;   /* svmx_vendor, for the exit names */
} trace_exits;

/* The svmx_route_hook: prints `d` to t->out (opaque is the trace_exits).
 * stdout is flushed first, so the trace and the kernel's console
 * interleave as they happened. */
void trace_exits_hook(void *opaque, const svmx_decision *d);

#endif /* SVMX_TOOLS_TRACE_EXITS_H */
