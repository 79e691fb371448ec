/*
 * tools/l0_spec.c - the --l0 option of `svmx run` (l0_spec.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "l0_spec.h"

enum { R_NONE, R_CPUID, R_RDMSR, R_WRMSR, R_MSR, R_IO };

static const struct kind {
    const char *name;
    uint32_t    event;  /* SVMX_L0_* bit, 0 for a range kind */
    int         range;
} kinds[] = {
    { "cpuid", 0, R_CPUID },       { "rdmsr", 0, R_RDMSR },
    { "wrmsr", 0, R_WRMSR },       { "msr", 0, R_MSR },
    { "io", 0, R_IO },             { "hlt", SVMX_L0_HLT, R_NONE },
    { "pause", SVMX_L0_PAUSE, R_NONE }, { "invd", SVMX_L0_INVD, R_NONE },
    { "wbinvd", SVMX_L0_WBINVD, R_NONE },
    { "hypercall", SVMX_L0_HYPERCALL, R_NONE },
    { "shutdown", SVMX_L0_SHUTDOWN, R_NONE },
};

static int fail(char *err, size_t errlen, const char *what, const char *item)
{
    snprintf(err, errlen, "--l0: %s in '%s'", what, item);
    return -1;
}

static int add_range(svmx_range *r, uint8_t *n, svmx_range v)
{
    if (*n >= SVMX_POLICY_RANGES)
        return -1;
    r[(*n)++] = v;
    return 0;
}

static int parse_u32(const char *s, const char *end, uint32_t *v)
{
    char buf[32], *e;
    size_t len = (size_t)(end - s);
    if (!len || len >= sizeof buf || s[0] == '-')
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    unsigned long long x = strtoull(buf, &e, 0);
    if (errno || *e || x > UINT32_MAX)
        return -1;
    *v = (uint32_t)x;
    return 0;
}

/* One item, [item, end). */
static int parse_item(const char *item, const char *end, svmx_policy *p,
                      char *err, size_t errlen)
{
    char shown[64];
    snprintf(shown, sizeof shown, "%.*s", (int)(end - item), item);
    svmx_policy_level *lv = &p->l1;
    if (end - item > 3 && (!strncmp(item, "l1:", 3) || !strncmp(item, "l2:", 3))) {
        lv = item[1] == '2' ? &p->l2 : &p->l1;
        item += 3;
    }
    const char *eq = memchr(item, '=', (size_t)(end - item));
    const char *name_end = eq ? eq : end;
    const struct kind *k = NULL;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if ((size_t)(name_end - item) == strlen(kinds[i].name) &&
            !strncmp(item, kinds[i].name, (size_t)(name_end - item)))
            k = &kinds[i];
    if (!k)
        return fail(err, errlen, "unknown kind (cpuid, rdmsr, wrmsr, msr, io, "
                    "hlt, pause, invd, wbinvd, hypercall, shutdown)", shown);
    if (k->range == R_NONE) {
        if (eq)
            return fail(err, errlen, "this kind takes no range", shown);
        if (k->event == SVMX_L0_HYPERCALL && lv == &p->l2)
            return fail(err, errlen, "a hypercall from L2 is never L0's "
                        "(rule R1)", shown);
        lv->events |= k->event;
        return 0;
    }
    svmx_range r = { 0, k->range == R_IO ? 0xffffu : UINT32_MAX };
    if (eq) {
        const char *dash = memchr(eq + 1, '-', (size_t)(end - eq - 1));
        if (parse_u32(eq + 1, dash ? dash : end, &r.first) ||
            (dash && parse_u32(dash + 1, end, &r.last)))
            return fail(err, errlen, "bad range (FIRST or FIRST-LAST)", shown);
        if (!dash)
            r.last = r.first;
        if (r.first > r.last)
            return fail(err, errlen, "range ends before it starts", shown);
    }
    int bad = 0;
    switch (k->range) {
    case R_CPUID: bad = add_range(lv->cpuid, &lv->ncpuid, r); break;
    case R_RDMSR: bad = add_range(lv->msr_read, &lv->nmsr_read, r); break;
    case R_WRMSR: bad = add_range(lv->msr_write, &lv->nmsr_write, r); break;
    case R_MSR:
        bad = add_range(lv->msr_read, &lv->nmsr_read, r) ||
              add_range(lv->msr_write, &lv->nmsr_write, r);
        break;
    default: bad = add_range(lv->ports, &lv->nports, r); break;
    }
    return bad ? fail(err, errlen, "more than 8 ranges of one kind", shown) : 0;
}

int l0_spec_parse(const char *spec, svmx_policy *p, char *err, size_t errlen)
{
    const char *s = spec;
    if (!*s)
        return fail(err, errlen, "empty list", spec);
    for (;;) {
        const char *end = s + strcspn(s, ",");
        if (end == s)
            return fail(err, errlen, "empty item", spec);
        if (parse_item(s, end, p, err, errlen))
            return -1;
        if (!*end)
            return 0;
        s = end + 1;
    }
}

svmx_status l0_complete(svmx_cpu *cpu, const svmx_stop *st)
{
    if (st->reason == SVMX_STOP_HYPERCALL) {
        svmx_regs r;
        svmx_status s = svmx_cpu_get_regs(cpu, &r);
        if (s != SVMX_OK)
            return s;
        r.gpr[SVMX_RAX] = 0;
        if ((s = svmx_cpu_set_regs(cpu, &r)) != SVMX_OK)
            return s;
        return svmx_cpu_complete(cpu, SVMX_COMPLETE_DONE);
    }
    return svmx_cpu_complete(cpu, SVMX_COMPLETE_EXECUTE);
}
