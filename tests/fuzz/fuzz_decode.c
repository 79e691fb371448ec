/*
 * tests/fuzz/fuzz_decode.c - libFuzzer entry point for the decoder: the
 * first byte picks the mode and flags, the rest are instruction bytes,
 * decoded plainly and through a cache, which must agree.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "svmx/svmx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static svmx_decode_cache *cache;
    if (!cache && svmx_decode_cache_create(8, &cache) != SVMX_OK)
        abort();
    if (size < 1)
        return 0;
    svmx_mode mode = (svmx_mode)(data[0] % SVMX_MODE_COUNT);
    unsigned flags = (data[0] >> 7) ? SVMX_DECODE_ALT_MOV_CR8 : 0;
    data++;
    size--;

    svmx_insn insn;
    size_t needed = 0, cneeded = 0;
    svmx_status s = svmx_decode(mode, flags, data, size, &insn, &needed);
    const svmx_insn *cached;
    svmx_status cs = svmx_decode_cached(cache, mode, flags, data, size,
                                        &cached, &cneeded);
    /* Disagreement or an impossible answer is a bug: crash so the fuzzer
     * keeps the input. */
    if (s != cs || (s == SVMX_OK && memcmp(&insn, cached, sizeof insn)))
        abort();
    if (s == SVMX_OK && insn.fault == SVMX_DECODE_FAULT_NONE &&
        (insn.length == 0 || insn.length > size || insn.length > 15))
        abort();
    if (s == SVMX_E_TRUNCATED && (needed == 0 || needed != cneeded))
        abort();
    char text[256];
    if (s == SVMX_OK)
        svmx_insn_describe(&insn, text, sizeof text);
    return 0;
}
