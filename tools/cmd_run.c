/*
 * tools/cmd_run.c - `svmx run`: load a multiboot kernel as QEMU's -kernel
 * does and run it, with port 0xE9 as the console and port 0xF4 as the
 * exit port: writing v there ends the run with status (v << 1) | 1, as
 * QEMU's isa-debug-exit does (DESIGN.md, "Test kernels").
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svmx/svmx.h"
#include "cmd.h"
#include "multiboot.h"
#include "l0_spec.h"
#include "trace_exits.h"

#define MAX_KERNEL_BYTES (64u << 20)

/* The built-in demo kernel (tools/demo/), run when no KERNEL is given;
   tools/demo/bin2c.py generates it at build time. */
extern const unsigned char svmx_demo_kernel[];
extern const unsigned long svmx_demo_kernel_size;
#define DEMO_NAME "(built-in demo)"

typedef struct run_ctx {
    svmx_cpu *cpu;
    bool      exited;
    uint32_t  exit_value;
    bool      line_open;   /* the console's last byte was not '\n' */
} run_ctx;

static svmx_status pio_out(void *opaque, uint16_t port, unsigned size,
                           uint32_t value)
{
    run_ctx *ctx = opaque;
    (void)size;
    if (port == 0xe9) {
        putchar((int)(value & 0xff));
        ctx->line_open = (value & 0xff) != '\n';
    } else if (port == 0xf4) {
        ctx->exited = true;
        ctx->exit_value = value;
        svmx_cpu_request_stop(ctx->cpu);
    }
    return SVMX_OK;
}

static svmx_status pio_in(void *opaque, uint16_t port, unsigned size,
                          uint32_t *value)
{
    (void)opaque, (void)size;
    /* QEMU's port E9 hack reads back 0xE9; nothing else is attached. */
    *value = port == 0xe9 ? 0xe9 : 0xffffffffu;
    return SVMX_OK;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: svmx run [--cpu amd|intel] [-m MIB] [--max-insns N]\n"
            "                [--trace WHAT] [--trace-format text|jsonl]\n"
            "                [--l0 SPEC] [--append ARGS] [--break ADDR[:LEVEL]]\n"
            "                [--digest] [KERNEL]\n"
            "\n"
            "Loads KERNEL (multiboot v1: ELF32, or a flat image with the\n"
            "header's address fields) as QEMU's -kernel does and runs it.\n"
            "Without KERNEL it runs the built-in demo kernel: an L1\n"
            "hypervisor and its L2 guest meeting the nested rules, with\n"
            "--trace exits on (docs/kernels.md tells how to write your own).\n"
            "Port 0xE9 writes go to stdout; writing v to port 0xF4 ends the\n"
            "run with exit status (v << 1) | 1.\n"
            "\n"
            "  --cpu VENDOR    amd (default, SVM) or intel (VMX)\n"
            "  -m MIB          guest RAM in MiB (default 128, 2..4096)\n"
            "  --max-insns N   stop after N instructions (default: none)\n"
            "  --trace WHAT    on stderr: insns (each instruction before it\n"
            "                  executes), exits (each routing decision:\n"
            "                  level, exit, info fields, REFLECT/L0/ARCH and\n"
            "                  the rule; docs/router.md), both as\n"
            "                  insns,exits, or none\n"
            "  --trace-format  text (default) or jsonl: the exits trace as\n"
            "                  one JSON object per line\n"
            "  --l0 SPEC       an L0 policy: svmx run is then the L0 of the\n"
            "                  kernel. SPEC is a comma-separated list of\n"
            "                  [l1:|l2:]KIND[=FIRST[-LAST]], KIND one of cpuid,\n"
            "                  rdmsr, wrmsr, msr, io, hlt, pause, invd,\n"
            "                  wbinvd, hypercall, shutdown. A hypercall\n"
            "                  returns 0 in RAX; any other event runs as\n"
            "                  without the policy (see it with --trace exits)\n"
            "  --append ARGS   the multiboot command line after the kernel's\n"
            "                  name, as QEMU's -append\n"
            "  --break ADDR[:LEVEL]\n"
            "                  end the run before the instruction at linear\n"
            "                  address ADDR executes, in L1 or L2 (LEVEL l1\n"
            "                  or l2; both without it); up to 8 of them\n"
            "  --digest        end with 'digest: ' and the XXH3-64 of the\n"
            "                  architectural state in 16 hex digits on\n"
            "                  stdout, however the run ended (docs/digest.md)\n"
            "\n"
            "Any other end (HLT, triple fault, unsupported instruction, the\n"
            "instruction budget, a breakpoint) prints one line on stderr and\n"
            "exits with 1.\n");
}

static bool parse_u64(const char *s, uint64_t *v)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 0);
    if (errno || end == s || *end || s[0] == '-')
        return false;
    *v = x;
    return true;
}

/* --break ADDR[:l1|:l2] into the next free breakpoint of `d`. */
static bool parse_break(const char *v, svmx_debug *d)
{
    char addr[32];
    const char *colon = strchr(v, ':');
    size_t n = colon ? (size_t)(colon - v) : strlen(v);
    uint64_t a;
    uint8_t levels = SVMX_DEBUG_L1 | SVMX_DEBUG_L2;
    if (n == 0 || n >= sizeof addr)
        return false;
    memcpy(addr, v, n);
    addr[n] = '\0';
    if (!parse_u64(addr, &a))
        return false;
    if (colon && !strcmp(colon + 1, "l1"))
        levels = SVMX_DEBUG_L1;
    else if (colon && !strcmp(colon + 1, "l2"))
        levels = SVMX_DEBUG_L2;
    else if (colon)
        return false;
    d->breakpoints[d->nbreakpoints++] = (svmx_breakpoint){ a, levels };
    return true;
}

/* --trace: a comma-separated list of insns and exits, or none. */
static bool parse_trace(const char *v, bool *insns, bool *exits)
{
    bool i = false, e = false;
    if (strcmp(v, "none")) {
        for (const char *p = v; *p;) {
            size_t n = strcspn(p, ",");
            if (n == 5 && !strncmp(p, "insns", 5))
                i = true;
            else if (n == 5 && !strncmp(p, "exits", 5))
                e = true;
            else
                return false;
            p += n;
            if (*p == ',' && *++p == '\0')
                return false;
        }
    }
    *insns = i;
    *exits = e;
    return true;
}

static uint8_t *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "svmx run: cannot open '%s': %s\n", path, strerror(errno));
        return NULL;
    }
    uint8_t *buf = malloc(MAX_KERNEL_BYTES);
    size_t n = buf ? fread(buf, 1, MAX_KERNEL_BYTES, f) : 0;
    bool too_big = buf && n == MAX_KERNEL_BYTES && fgetc(f) != EOF;
    bool bad = !buf || ferror(f);
    fclose(f);
    if (bad || too_big) {
        fprintf(stderr, "svmx run: cannot read '%s': %s\n", path,
                too_big ? "larger than 64 MiB" : "read error");
        free(buf);
        return NULL;
    }
    *size = n;
    return buf;
}

static void trace_insn(svmx_cpu *cpu)
{
    svmx_regs r;
    svmx_sregs s;
    uint8_t bytes[SVMX_INSN_MAX_LEN];
    char text[128];
    svmx_cpu_get_regs(cpu, &r);
    svmx_cpu_get_sregs(cpu, &s);
    svmx_mode mode = svmx_cpu_mode(cpu);
    /* Paging-off view of CS:RIP, good enough for a trace. */
    uint64_t lin = mode == SVMX_MODE_LONG64 ? r.rip : s.seg[SVMX_CS].base + r.rip;
    if (svmx_mem_read(svmx_cpu_mem(cpu), lin, bytes, sizeof bytes) != SVMX_OK ||
        svmx_disassemble(mode, bytes, sizeof bytes, r.rip, text, sizeof text) !=
            SVMX_OK)
        snprintf(text, sizeof text, "?");
    fprintf(stderr, "%04x:%016" PRIx64 "  %s\n", s.seg[SVMX_CS].selector, r.rip,
            text);
}

static const char *vector_name(uint8_t v)
{
    static const char *const names[32] = {
        "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#9",
        "#TS", "#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM",
        "#VE", "#CP", "#22", "#23", "#24", "#25", "#26", "#27", "#HV", "#VC",
        "#SX", "#31",
    };
    return v < 32 ? names[v] : "?";
}

/* --digest: one line of its own on stdout (docs/digest.md). */
static void print_digest(const run_ctx *ctx)
{
    uint64_t d;
    svmx_status st = svmx_cpu_digest(ctx->cpu, &d);
    if (st != SVMX_OK) {
        fprintf(stderr, "svmx run: no digest: %s\n", svmx_status_str(st));
        return;
    }
    printf("%sdigest: %016" PRIx64 "\n", ctx->line_open ? "\n" : "", d);
    fflush(stdout);
}

static int report(const svmx_stop *st, uint64_t max_insns)
{
    switch (st->reason) {
    case SVMX_STOP_SHUTDOWN:
        fprintf(stderr, "svmx run: triple fault (shutdown) at RIP %#" PRIx64,
                st->rip);
        if (st->chain_len) {
            fprintf(stderr, "; exceptions:");
            for (unsigned i = 0; i < st->chain_len; i++)
                fprintf(stderr, "%s %s", i ? " ->" : "",
                        vector_name(st->chain[i]));
        } else if (st->what) {
            fprintf(stderr, "; %s", st->what);  /* rules R2, R3 */
        }
        fprintf(stderr, "\n");
        break;
    case SVMX_STOP_BUDGET:
        fprintf(stderr, "svmx run: the kernel ran past --max-insns %" PRIu64
                        " (RIP %#" PRIx64 ")\n", max_insns, st->rip);
        break;
    case SVMX_STOP_UNSUPPORTED:
        fprintf(stderr, "svmx run: unsupported at RIP %#" PRIx64 ": %s; bytes",
                st->rip, st->what ? st->what : "?");
        for (unsigned i = 0; i < st->length; i++)
            fprintf(stderr, " %02x", st->bytes[i]);
        fprintf(stderr, "\n");
        break;
    case SVMX_STOP_HLT:
        fprintf(stderr, "svmx run: the kernel halted at RIP %#" PRIx64
                        " with nothing to wake it\n", st->rip);
        break;
    case SVMX_STOP_DEBUG: /* a --break (run_kernel goes on after a step) */
        fprintf(stderr, "svmx run: breakpoint %u (--break) in L%u at RIP %#"
                        PRIx64 ", after %" PRIu64 " instructions\n",
                st->breakpoint, st->level, st->rip, st->insns);
        break;
    default:
        fprintf(stderr, "svmx run: stopped at RIP %#" PRIx64 ": %s\n", st->rip,
                svmx_stop_reason_str(st->reason));
        break;
    }
    return 1;
}

/*
 * Runs until a stop other than the events the --l0 policy asked for,
 * which l0_complete() finishes (single-stepping with --trace insns), for
 * at most max_insns instructions (0: no limit) in all.
 */
static void run_kernel(run_ctx *ctx, bool trace, uint64_t max_insns,
                       svmx_stop *st)
{
    uint64_t done = 0;
    for (;;) {
        if (trace) {
            trace_insn(ctx->cpu);
            svmx_cpu_step(ctx->cpu, st);
        } else {
            svmx_cpu_run(ctx->cpu, max_insns ? max_insns - done : 0, st);
        }
        done += st->insns;
        bool l0 = st->reason == SVMX_STOP_HYPERCALL ||
                  st->reason == SVMX_STOP_L0_EXIT;
        if (l0 && l0_complete(ctx->cpu, st) != SVMX_OK)
            return;
        bool stepped = st->reason == SVMX_STOP_DEBUG &&
                       st->debug == SVMX_DEBUG_STEP;
        bool more = l0 || (trace && stepped);
        if (!more || (max_insns && done >= max_insns))
            break;
    }
    if ((st->reason == SVMX_STOP_DEBUG && st->debug == SVMX_DEBUG_STEP) ||
        (max_insns && done >= max_insns &&
         (st->reason == SVMX_STOP_HYPERCALL ||
          st->reason == SVMX_STOP_L0_EXIT)))
        st->reason = SVMX_STOP_BUDGET;
    st->insns = done;
}

int cmd_run(int argc, char **argv)
{
    svmx_vendor vendor = SVMX_VENDOR_AMD;
    uint64_t mib = 128, max_insns = 0;
    bool trace = false, digest = false, exits = false, exits_set = false;
    trace_format format = TRACE_TEXT;
    svmx_policy policy = { 0 };
    svmx_debug breaks = { 0 };
    const char *append = NULL;
    const char *kernel = NULL;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--digest")) {
            digest = true;
            continue;
        }
        if (!strcmp(a, "--cpu") || !strcmp(a, "-m") || !strcmp(a, "--max-insns") ||
            !strcmp(a, "--trace") || !strcmp(a, "--trace-format") ||
            !strcmp(a, "--l0") || !strcmp(a, "--append") ||
            !strcmp(a, "--break")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "svmx run: %s needs a value\n", a);
                return 2;
            }
            const char *v = argv[++i];
            if (!strcmp(a, "--cpu")) {
                if (!strcmp(v, "amd"))
                    vendor = SVMX_VENDOR_AMD;
                else if (!strcmp(v, "intel"))
                    vendor = SVMX_VENDOR_INTEL;
                else {
                    fprintf(stderr, "svmx run: unknown cpu '%s' (amd, intel)\n", v);
                    return 2;
                }
            } else if (!strcmp(a, "-m")) {
                if (!parse_u64(v, &mib) || mib < 2 || mib > 4096) {
                    fprintf(stderr, "svmx run: -m wants MiB from 2 to 4096, not '%s'\n", v);
                    return 2;
                }
            } else if (!strcmp(a, "--max-insns")) {
                if (!parse_u64(v, &max_insns) || max_insns == 0) {
                    fprintf(stderr, "svmx run: --max-insns wants a positive count, not '%s'\n", v);
                    return 2;
                }
            } else if (!strcmp(a, "--l0")) {
                char err[160];
                if (l0_spec_parse(v, &policy, err, sizeof err)) {
                    fprintf(stderr, "svmx run: %s\n", err);
                    return 2;
                }
            } else if (!strcmp(a, "--append")) {
                append = v;
            } else if (!strcmp(a, "--break")) {
                if (breaks.nbreakpoints == SVMX_DEBUG_BREAKPOINTS) {
                    fprintf(stderr, "svmx run: --break: at most %d breakpoints\n",
                            SVMX_DEBUG_BREAKPOINTS);
                    return 2;
                }
                if (!parse_break(v, &breaks)) {
                    fprintf(stderr, "svmx run: --break wants ADDR, ADDR:l1 or "
                                    "ADDR:l2, not '%s'\n", v);
                    return 2;
                }
            } else if (!strcmp(a, "--trace-format")) {
                if (!strcmp(v, "text"))
                    format = TRACE_TEXT;
                else if (!strcmp(v, "jsonl"))
                    format = TRACE_JSONL;
                else {
                    fprintf(stderr, "svmx run: unknown trace format '%s' "
                                    "(text, jsonl)\n", v);
                    return 2;
                }
            } else if (!parse_trace(v, &trace, &exits)) {
                fprintf(stderr, "svmx run: unknown trace '%s' (insns, exits, "
                                "insns,exits, none)\n", v);
                return 2;
            } else {
                exits_set = true;
            }
            continue;
        }
        if (a[0] == '-') {
            fprintf(stderr, "svmx run: unknown option '%s' (try --help)\n", a);
            return 2;
        }
        if (kernel) {
            fprintf(stderr, "svmx run: more than one kernel given ('%s')\n", a);
            return 2;
        }
        kernel = a;
    }
    size_t size;
    uint8_t *image;
    if (kernel) {
        image = read_file(kernel, &size);
    } else {
        kernel = DEMO_NAME;
        if (!exits_set)
            exits = true; /* the demo shows the router deciding */
        size = svmx_demo_kernel_size;
        image = malloc(size);
        if (image)
            memcpy(image, svmx_demo_kernel, size);
        else
            fprintf(stderr, "svmx run: out of memory for the demo kernel\n");
    }
    if (!image)
        return 1;
    size_t ram_size = (size_t)(mib << 20);
    uint8_t *ram = calloc(1, ram_size);
    run_ctx ctx = { 0 };
    svmx_io_ops io = { .ctx = &ctx, .pio_out = pio_out, .pio_in = pio_in };
    svmx_config cfg = { .vendor = vendor, .ram = ram, .ram_size = ram_size,
                        .io = &io };
    int status = 1;
    char err[256];
    mb_info info;
    svmx_stop st;

    if (!ram || svmx_cpu_create(&cfg, &ctx.cpu) != SVMX_OK) {
        fprintf(stderr, "svmx run: out of memory for %" PRIu64 " MiB of RAM\n", mib);
        goto out;
    }
    if (mb_load(ctx.cpu, image, size, kernel, append, &info, err, sizeof err)) {
        fprintf(stderr, "svmx run: %s: %s\n", kernel, err);
        goto out;
    }
    for (unsigned w = 1; w < (1u << MB_WARN_COUNT); w <<= 1)
        if (info.warnings & w)
            fprintf(stderr, "svmx run: warning: %s\n", mb_warning_str(w));
    trace_exits tx = { .out = stderr, .format = format, .vendor = vendor };
    if (exits)
        svmx_cpu_set_route_hook(ctx.cpu, trace_exits_hook, &tx);
    if (svmx_cpu_set_policy(ctx.cpu, &policy) != SVMX_OK) {
        fprintf(stderr, "svmx run: internal: the --l0 policy was refused\n");
        goto out;
    }
    if (svmx_cpu_set_debug(ctx.cpu, &breaks) != SVMX_OK) {
        fprintf(stderr, "svmx run: internal: the --break list was refused\n");
        goto out;
    }

    run_kernel(&ctx, trace, max_insns, &st);
    fflush(stdout);
    if (digest)
        print_digest(&ctx);
    if (ctx.exited)
        status = (int)(((ctx.exit_value & 0x7f) << 1) | 1);
    else
        status = report(&st, max_insns);
out:
    svmx_cpu_destroy(ctx.cpu);
    free(ram);
    free(image);
    return status;
}
