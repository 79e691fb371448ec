/*
 * tools/trace_exits.c - the text and JSON-lines forms of a routing
 * decision (docs/router.md). A text line:
 *
 *   exit: L2 MSR 0x7c info1=0x1 info2=0 intinfo=0 nrip=0x31002 msr=0xc0000080 -> REFLECT
 *   exit: L2 VMMCALL 0x81 info1=0 info2=0 intinfo=0 nrip=0x31003 -> ARCH (R1: VMMCALL in L2 ...)
 *
 * and the same as one JSON object per line, numbers above 32 bits as
 * hexadecimal strings so that no reader loses bits.
 */
#include <inttypes.h>

#include "trace_exits.h"

/* The operands the line shows for the kind of event. */
static void text_operands(FILE *f, const svmx_exit *x)
{
    switch (x->kind) {
    case SVMX_EVENT_CPUID:
        fprintf(f, " leaf=%#" PRIx32 " subleaf=%#" PRIx32, x->index,
                x->subindex);
        break;
    case SVMX_EVENT_RDMSR:
        fprintf(f, " msr=%#" PRIx32, x->index);
        break;
    case SVMX_EVENT_WRMSR:
        fprintf(f, " msr=%#" PRIx32 " value=%#" PRIx64, x->index, x->value);
        break;
    case SVMX_EVENT_IN:
    case SVMX_EVENT_OUT:
        fprintf(f, " port=%#" PRIx32 " size=%u", x->index, x->size);
        break;
    default:
        break;
    }
}

static void text_line(const trace_exits *t, const svmx_decision *d)
{
    const svmx_exit *x = &d->exit;
    FILE *f = t->out;
    fprintf(f, "exit: L%u %s %#" PRIx64 " info1=%#" PRIx64 " info2=%#" PRIx64
               " intinfo=%#" PRIx64 " nrip=%#" PRIx64,
            x->level, svmx_exit_name(t->vendor, x->code), x->code, x->info1,
            x->info2, x->intinfo, x->nrip);
    text_operands(f, x);
    fprintf(f, " -> %s", svmx_route_name((svmx_route_kind)d->route));
    if (d->rule != SVMX_RULE_NONE)
        fprintf(f, " (%s)", svmx_rule_str((svmx_rule)d->rule));
    fputc('\n', f);
}

static void json_line(const trace_exits *t, const svmx_decision *d)
{
    const svmx_exit *x = &d->exit;
    fprintf(t->out,
            "{\"level\":%u,\"exit\":\"%s\",\"code\":\"%#" PRIx64 "\","
            "\"info1\":\"%#" PRIx64 "\",\"info2\":\"%#" PRIx64 "\","
            "\"intinfo\":\"%#" PRIx64 "\",\"nrip\":\"%#" PRIx64 "\","
            "\"kind\":\"%s\",\"index\":\"%#" PRIx32 "\",\"subindex\":\"%#"
            PRIx32 "\",\"size\":%u,\"value\":\"%#" PRIx64 "\",\"flags\":%u,"
            "\"route\":\"%s\",\"rule\":\"%s\"}\n",
            x->level, svmx_exit_name(t->vendor, x->code), x->code, x->info1,
            x->info2, x->intinfo, x->nrip,
            svmx_event_kind_name((svmx_event_kind)x->kind), x->index,
            x->subindex, x->size, x->value, x->flags,
            svmx_route_name((svmx_route_kind)d->route),
            svmx_rule_name((svmx_rule)d->rule));
}

void trace_exits_hook(void *opaque, const svmx_decision *d)
{
    const trace_exits *t = opaque;
    fflush(stdout);
    if (t->format == TRACE_JSONL)
        json_line(t, d);
    else
        text_line(t, d);
    fflush(t->out);
}
