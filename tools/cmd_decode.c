/*
 * tools/cmd_decode.c - `svmx decode`: decode a byte string and print, per
 * instruction, its offset, bytes, disassembly and the model's view (class,
 * length, exit inputs).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "svmx/svmx.h"
#include "cmd.h"

#define MAX_BYTES 4096

/* A sample of intercepted instructions in 64-bit mode, one per string. */
const char *const cmd_decode_demo[] = {
    "0fa2",           /* cpuid                              */
    "0f32",           /* rdmsr                              */
    "e480",           /* in al, 0x80                        */
    "66ed",           /* in ax, dx                          */
    "f3646e",         /* rep outsb dx, fs:[rsi]             */
    "0f22d8",         /* mov cr3, rax                       */
    "440f20c1",       /* mov rcx, cr8                       */
    "0f01f0",         /* lmsw ax                            */
    "0f01d8",         /* vmrun                              */
    "0f01d9",         /* vmmcall                            */
    "0f78c8",         /* vmread rax, rcx                    */
    "0fc774d810",     /* vmptrld [rax+rbx*8+0x10]           */
    "f4",             /* hlt                                */
    NULL,
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: svmx decode [--mode MODE] [--cpu amd|intel] [HEXBYTES...]\n"
            "\n"
            "Decodes the bytes as a sequence of instructions and prints one\n"
            "line each: offset, bytes, Intel-syntax disassembly, then the\n"
            "model's class, length and exit inputs (I/O EXITINFO1 and exit\n"
            "qualification, CR/DR access, VMX instruction information).\n"
            "\n"
            "  --mode MODE  16, 32, 64 (protected 16/32-bit, 64-bit; default 64)\n"
            "               or real, v86, prot16, prot32, compat16, compat32,\n"
            "               long64\n"
            "  --cpu VENDOR amd (default; LOCK MOV CR0 is MOV CR8) or intel\n"
            "\n"
            "HEXBYTES are hex digits, optionally split over several arguments\n"
            "and separated by spaces, commas or colons; a 0x prefix is allowed.\n"
            "Without bytes a built-in sample of intercepted instructions is\n"
            "decoded. Undecodable bytes print #UD and decoding resumes at the\n"
            "next byte.\n");
}

static bool parse_mode(const char *s, svmx_mode *mode)
{
    static const struct {
        const char *name;
        svmx_mode mode;
    } names[] = {
        { "16", SVMX_MODE_PROT16 },   { "32", SVMX_MODE_PROT32 },
        { "64", SVMX_MODE_LONG64 },   { "real", SVMX_MODE_REAL },
        { "v86", SVMX_MODE_V86 },     { "prot16", SVMX_MODE_PROT16 },
        { "prot32", SVMX_MODE_PROT32 }, { "compat16", SVMX_MODE_COMPAT16 },
        { "compat32", SVMX_MODE_COMPAT32 }, { "long64", SVMX_MODE_LONG64 },
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!strcmp(s, names[i].name)) {
            *mode = names[i].mode;
            return true;
        }
    }
    return false;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Appends the bytes of one argument; false with a message on bad input. */
static bool parse_hex(const char *arg, uint8_t *buf, size_t *n)
{
    const char *p = arg;
    int hi = -1;
    while (*p) {
        if (*p == ' ' || *p == ',' || *p == ':' || *p == '\t') {
            if (hi >= 0) {
                fprintf(stderr, "svmx decode: odd number of hex digits in '%s'\n",
                        arg);
                return false;
            }
            p++;
            continue;
        }
        if (hi < 0 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
            p += 2;
            continue;
        }
        int v = hexval((unsigned char)*p);
        if (v < 0) {
            fprintf(stderr, "svmx decode: '%c' is not a hex digit in '%s'\n",
                    *p, arg);
            return false;
        }
        if (hi < 0) {
            hi = v;
        } else {
            if (*n >= MAX_BYTES) {
                fprintf(stderr, "svmx decode: more than %d bytes\n", MAX_BYTES);
                return false;
            }
            buf[(*n)++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
        p++;
    }
    if (hi >= 0) {
        fprintf(stderr, "svmx decode: odd number of hex digits in '%s'\n", arg);
        return false;
    }
    return true;
}

static void print_line(size_t off, const uint8_t *b, size_t len,
                       const char *asm_text, const char *desc)
{
    char hex[3 * SVMX_INSN_MAX_LEN + 1];
    size_t h = 0;
    for (size_t i = 0; i < len && i < SVMX_INSN_MAX_LEN; i++)
        h += (size_t)snprintf(hex + h, sizeof hex - h, "%02x ", b[i]);
    hex[h] = '\0';
    printf("%04zx  %-30s %-28s %s\n", off, hex, asm_text, desc);
}

int cmd_decode(int argc, char **argv)
{
    static uint8_t buf[MAX_BYTES];
    size_t n = 0;
    svmx_mode mode = SVMX_MODE_LONG64;
    unsigned flags = SVMX_DECODE_ALT_MOV_CR8;
    bool any = false;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--mode") || !strcmp(a, "--cpu")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "svmx decode: %s needs a value\n", a);
                return 2;
            }
            const char *v = argv[++i];
            if (!strcmp(a, "--mode")) {
                if (!parse_mode(v, &mode)) {
                    fprintf(stderr, "svmx decode: unknown mode '%s' (16, 32, "
                                    "64, real, v86, prot16, prot32, compat16, "
                                    "compat32, long64)\n", v);
                    return 2;
                }
            } else if (!strcmp(v, "amd")) {
                flags = SVMX_DECODE_ALT_MOV_CR8;
            } else if (!strcmp(v, "intel")) {
                flags = 0;
            } else {
                fprintf(stderr, "svmx decode: unknown cpu '%s' (amd, intel)\n", v);
                return 2;
            }
            continue;
        }
        if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "svmx decode: unknown option '%s' (try --help)\n", a);
            return 2;
        }
        any = true;
        if (!parse_hex(a, buf, &n))
            return 2;
    }
    if (!any) {
        for (size_t i = 0; cmd_decode_demo[i]; i++)
            if (!parse_hex(cmd_decode_demo[i], buf, &n))
                return 2;
    }

    printf("mode %s, %zu bytes\n", svmx_mode_name(mode), n);
    size_t off = 0;
    while (off < n) {
        svmx_insn insn;
        size_t needed = 0;
        char text[128], desc[256];
        svmx_status s = svmx_decode(mode, flags, buf + off, n - off, &insn,
                                    &needed);
        if (s == SVMX_E_TRUNCATED) {
            snprintf(desc, sizeof desc, "truncated: at least %zu more byte%s",
                     needed, needed == 1 ? "" : "s");
            print_line(off, buf + off, n - off, "", desc);
            break;
        }
        if (s != SVMX_OK) {
            fprintf(stderr, "svmx decode: %s\n", svmx_status_str(s));
            return 1;
        }
        svmx_insn_describe(&insn, desc, sizeof desc);
        if (insn.fault != SVMX_DECODE_FAULT_NONE) {
            /* Without a length, show one byte and go on from the next. */
            size_t shown = insn.fault == SVMX_DECODE_FAULT_GP ? insn.length : 1;
            print_line(off, buf + off, shown, "(bad)", desc);
            off += shown;
            continue;
        }
        if (svmx_disassemble(mode, buf + off, n - off, off, text,
                             sizeof text) != SVMX_OK)
            snprintf(text, sizeof text, "?");
        print_line(off, buf + off, insn.length, text, desc);
        off += insn.length;
    }
    return 0;
}
