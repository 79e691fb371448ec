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
} run_ctx;

static svmx_status pio_out(void *opaque, uint16_t port, unsigned size,
                           uint32_t value)
{
    run_ctx *ctx = opaque;
    (void)size;
    if (port == 0xe9) {
        putchar((int)(value & 0xff));
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
            "                [--trace insns] [KERNEL]\n"
            "\n"
            "Loads KERNEL (multiboot v1: ELF32, or a flat image with the\n"
            "header's address fields) as QEMU's -kernel does and runs it.\n"
            "Without KERNEL it runs the built-in demo kernel, a tour of the\n"
            "modelled CPU (docs/kernels.md tells how to write your own).\n"
            "Port 0xE9 writes go to stdout; writing v to port 0xF4 ends the\n"
            "run with exit status (v << 1) | 1.\n"
            "\n"
            "  --cpu VENDOR    amd (default, SVM) or intel (VMX)\n"
            "  -m MIB          guest RAM in MiB (default 128, 2..4096)\n"
            "  --max-insns N   stop after N instructions (default: none)\n"
            "  --trace insns   print each instruction before it executes\n"
            "\n"
            "Any other end (HLT, triple fault, unsupported instruction, the\n"
            "instruction budget) prints one line on stderr and exits with 1.\n");
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

static int report(const svmx_stop *st, uint64_t max_insns)
{
    switch (st->reason) {
    case SVMX_STOP_SHUTDOWN:
        fprintf(stderr, "svmx run: triple fault (shutdown) at RIP %#" PRIx64
                        "; exceptions:", st->rip);
        for (unsigned i = 0; i < st->chain_len; i++)
            fprintf(stderr, "%s %s", i ? " ->" : "", vector_name(st->chain[i]));
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
    default:
        fprintf(stderr, "svmx run: stopped at RIP %#" PRIx64 ": %s\n", st->rip,
                svmx_stop_reason_str(st->reason));
        break;
    }
    return 1;
}

int cmd_run(int argc, char **argv)
{
    svmx_vendor vendor = SVMX_VENDOR_AMD;
    uint64_t mib = 128, max_insns = 0;
    bool trace = false;
    const char *kernel = NULL;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--cpu") || !strcmp(a, "-m") || !strcmp(a, "--max-insns") ||
            !strcmp(a, "--trace")) {
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
            } else if (!strcmp(v, "insns")) {
                trace = true;
            } else {
                fprintf(stderr, "svmx run: unknown trace '%s' (insns)\n", v);
                return 2;
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
    if (mb_load(ctx.cpu, image, size, kernel, NULL, &info, err, sizeof err)) {
        fprintf(stderr, "svmx run: %s: %s\n", kernel, err);
        goto out;
    }
    for (unsigned w = 1; w < (1u << MB_WARN_COUNT); w <<= 1)
        if (info.warnings & w)
            fprintf(stderr, "svmx run: warning: %s\n", mb_warning_str(w));

    if (trace) {
        uint64_t done = 0;
        do {
            trace_insn(ctx.cpu);
            svmx_cpu_step(ctx.cpu, &st);
            done += st.insns;
        } while (st.reason == SVMX_STOP_DEBUG && (!max_insns || done < max_insns));
        if (st.reason == SVMX_STOP_DEBUG)
            st.reason = SVMX_STOP_BUDGET;
    } else {
        svmx_cpu_run(ctx.cpu, max_insns, &st);
    }
    fflush(stdout);
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
