/*
 * bench/decode.c - decoding a mixed instruction stream: nanoseconds per
 * instruction for raw ZydisDecoderDecodeFull (the baseline), svmx_decode
 * and svmx_decode_cached, all in this process on the same bytes.
 *
 * The headline is the cached path against raw Zydis:
 *   decode: V ns/insn; baseline: B ns/insn; ratio: B/V
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <Zydis/Zydis.h>

#include "svmx/svmx.h"

#include "bench_util.h"

/* What a 64-bit kernel and hypervisor execute: moves, arithmetic,
 * branches, stack, strings, port I/O, CR/MSR access, SVM and VMX. */
static const char *const stream_hex[] = {
    "48 89 e5", "48 83 ec 20", "8b 45 f8", "48 8b 05 10 00 00 00",
    "89 44 8b 10", "48 01 c8", "31 c0", "48 39 c8", "75 f0", "0f 84 10 00 00 00",
    "e8 00 01 00 00", "c3", "50", "41 57", "5d", "48 8d 04 40", "0f b6 c0",
    "48 63 c1", "48 0f af c1", "48 f7 f1", "d3 e0", "0f a3 c8", "0f 94 c0",
    "0f 42 c1", "f3 48 a5", "f3 ab", "ac", "e4 80", "ee", "f3 6c", "66 ef",
    "0f a2", "0f 32", "0f 30", "0f 31", "0f 20 c0", "0f 22 d8", "44 0f 22 c0",
    "0f 21 f8", "0f 06", "0f 01 f0", "0f 01 10", "0f 00 d8", "fa", "fb", "f4",
    "9c", "9d", "cd 80", "cc", "48 cf", "0f 05", "0f 01 f8", "0f 01 d8",
    "0f 01 d9", "0f 01 da", "0f 01 dc", "0f 01 dd", "0f 01 df", "0f 01 c1",
    "0f 01 c2", "0f c7 30", "0f 78 c8", "0f 79 04 24", "66 0f 38 80 08",
    "f0 48 0f b1 0a", "48 c7 c0 ff ff ff ff", "64 48 8b 04 25 28 00 00 00",
    "c9", "90", "0f 1f 44 00 00", "e9 00 00 00 00",
};



static uint8_t code[1024 + 16];
static size_t offsets[256], count, code_len;

static void build_stream(void)
{
    for (size_t i = 0; i < sizeof stream_hex / sizeof stream_hex[0]; i++) {
        const char *s = stream_hex[i];
        offsets[count++] = code_len;
        while (*s) {
            unsigned v;
            if (*s == ' ') {
                s++;
                continue;
            }
            sscanf(s, "%2x", &v);
            code[code_len++] = (uint8_t)v;
            s += 2;
        }
    }
}

static size_t window(size_t off)
{
    size_t left = code_len - off;
    return left < 15 ? left : 15;
}

typedef unsigned (*pass_fn)(void *ctx);

/* Median ns per instruction over BENCH_ROUNDS rounds of `reps` passes. */
static double measure(pass_fn fn, void *ctx, unsigned reps, unsigned *sink)
{
    double per[BENCH_ROUNDS];
    for (int r = 0; r < BENCH_ROUNDS; r++) {
        double t0 = bench_now_ns();
        for (unsigned k = 0; k < reps; k++)
            *sink += fn(ctx);
        per[r] = (bench_now_ns() - t0) / ((double)reps * (double)count);
    }
    return bench_median(per, BENCH_ROUNDS);
}

static unsigned pass_zydis(void *ctx)
{
    const ZydisDecoder *dec = ctx;
    ZydisDecodedInstruction zi;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    unsigned sum = 0;
    for (size_t i = 0; i < count; i++) {
        if (ZYAN_SUCCESS(ZydisDecoderDecodeFull(dec, code + offsets[i],
                                                window(offsets[i]), &zi, ops)))
            sum += zi.length;
    }
    return sum;
}

static unsigned pass_svmx(void *ctx)
{
    (void)ctx;
    svmx_insn insn;
    unsigned sum = 0;
    for (size_t i = 0; i < count; i++)
        if (svmx_decode(SVMX_MODE_LONG64, 0, code + offsets[i],
                        window(offsets[i]), &insn, NULL) == SVMX_OK)
            sum += insn.length;
    return sum;
}

static unsigned pass_cached(void *ctx)
{
    svmx_decode_cache *cache = ctx;
    const svmx_insn *insn;
    unsigned sum = 0;
    for (size_t i = 0; i < count; i++)
        if (svmx_decode_cached(cache, SVMX_MODE_LONG64, 0, code + offsets[i],
                               window(offsets[i]), &insn, NULL) == SVMX_OK)
            sum += insn->length;
    return sum;
}

int main(void)
{
    ZydisDecoder dec;
    svmx_decode_cache *cache;
    unsigned sink = 0;

    build_stream();
    if (!ZYAN_SUCCESS(ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64,
                                       ZYDIS_STACK_WIDTH_64)) ||
        svmx_decode_cache_create(SVMX_DECODE_CACHE_DEFAULT_LOG2, &cache) !=
            SVMX_OK) {
        fprintf(stderr, "bench_decode: set-up failed\n");
        return 1;
    }
    /* Every instruction of the stream must decode, or the figures lie. */
    if (pass_zydis(&dec) != code_len || pass_svmx(NULL) != code_len) {
        fprintf(stderr, "bench_decode: the stream does not decode\n");
        return 1;
    }

    double zydis = measure(pass_zydis, &dec, 2000, &sink);
    double plain = measure(pass_svmx, NULL, 2000, &sink);
    double cached = measure(pass_cached, cache, 20000, &sink);
    svmx_decode_cache_stats st;
    svmx_decode_cache_stats_get(cache, &st);

    printf("stream: %zu instructions, %zu bytes, 64-bit mode\n", count,
           code_len);
    printf("raw ZydisDecoderDecodeFull   %8.2f ns/insn\n", zydis);
    printf("svmx_decode (uncached)       %8.2f ns/insn  (%.2fx raw Zydis)\n",
           plain, plain / zydis);
    printf("svmx_decode_cached           %8.2f ns/insn\n", cached);
    printf("cache: %llu lookups, hit rate %.4f%%, %llu collisions\n",
           (unsigned long long)st.lookups,
           st.lookups ? 100.0 * (double)st.hits / (double)st.lookups : 0.0,
           (unsigned long long)st.collisions);
    printf("decode: %.2f ns/insn; baseline: %.2f ns/insn; ratio: %.1f\n",
           cached, zydis, zydis / cached);
    svmx_decode_cache_destroy(cache);
    return sink == 0xdeadbeef; /* keeps the work observable */
}
