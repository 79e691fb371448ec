/*
 * src/decode/decode_cache_fast.h - the decode cache's layout and the hit
 * path of svmx_decode_cached_at() as an inline function, for the
 * interpreter's fetch. A miss returns NULL and the caller takes the
 * function, which decodes and fills the slot.
 */
#ifndef SVMX_DECODE_CACHE_FAST_H
#define SVMX_DECODE_CACHE_FAST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <Zydis/Zydis.h>

#include "svmx/decode.h"

struct cache_entry;

/* A function the caller keeps with a decode (the interpreter: its
 * handler), stored as a generic function pointer. */
typedef void (*decode_cache_fn)(void);

/*
 * A successor hint the caller keeps with a decode: "the instruction at
 * linear address `lin` was the decode in `to`, verified in the caller's
 * epoch `epoch`". The cache never reads or checks hints; a caller may
 * follow one only while it knows that neither the bytes at `lin` nor the
 * slot `to` changed since that epoch (the interpreter: exec.c).
 */
typedef struct decode_cache_link {
    uint64_t lin;
    uint64_t epoch;
    struct cache_entry *to;
} decode_cache_link;

typedef struct cache_entry {
    uint64_t  key;
    uint64_t  w0, w1;   /* the window, zero-padded to 16 bytes */
    uint32_t  meta;     /* decode_cache_meta(); 0 marks an empty slot */
    uint8_t   aux;      /* the caller's note on this decode; 0 after a fill */
    decode_cache_fn fn; /* the caller's function; valid when aux says so */
    decode_cache_link link[2]; /* successor hints; epoch 0 after a fill */
    svmx_insn insn;
} cache_entry;

/* The slot of a decode the cache returned. */
static inline cache_entry *decode_cache_entry_of(const svmx_insn *insn)
{
    return (cache_entry *)(void *)((char *)(uintptr_t)insn -
                                   offsetof(cache_entry, insn));
}

/*
 * A byte the caller may keep with a cached decode (the interpreter notes
 * whether its fast loop may run it). Only for a pointer the cache
 * returned; it reads 0 again whenever the slot is refilled.
 */
static inline uint8_t *decode_cache_aux(const svmx_insn *insn)
{
    return &decode_cache_entry_of(insn)->aux;
}

/* What else a hit must match besides the bytes: the window length (never
 * 0 in a filled slot), the mode and the decode flags, as one word. */
static inline uint32_t decode_cache_meta(size_t n, svmx_mode mode,
                                         unsigned flags)
{
    return (uint32_t)n | (uint32_t)mode << 8 | (uint32_t)flags << 16;
}

struct svmx_decode_cache {
    ZydisDecoder dec[SVMX_MODE_COUNT];
    uint64_t     mask;
    bool         owned;
    svmx_decode_cache_stats stats;
    cache_entry  entries[];
};

/* The 15-byte window (or fewer bytes) as two words, zero-padded to 16. */
static inline void load_window(const uint8_t *b, size_t n, uint64_t w[2])
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (n == SVMX_INSN_MAX_LEN) {
        uint64_t hi;
        memcpy(&w[0], b, 8);
        memcpy(&hi, b + 7, 8);
        w[1] = hi >> 8; /* bytes 8..14, byte 15 zero */
        return;
    }
#endif
    uint8_t win[16] = { 0 };
    memcpy(win, b, n);
    memcpy(&w[0], win, 8);
    memcpy(&w[1], win + 8, 8);
}

/* The slot key of svmx_decode_cached_at(): the high bits are folded in so
 * that code at the same offset of different pages or modes lands in
 * different slots. */
static inline uint64_t decode_cache_where_key(uint64_t where, svmx_mode mode)
{
    return where ^ (where >> 12) ^ (where >> 24) ^ ((uint64_t)mode << 7);
}

/*
 * A hit of svmx_decode_cached_at() on a full 15-byte window, or NULL.
 * `salt` and `meta` depend only on the mode and the flags, so a caller
 * that probes many times in one mode computes them once:
 * salt = decode_cache_where_key(0, mode),
 * meta = decode_cache_meta(SVMX_INSN_MAX_LEN, mode, flags).
 */
static inline const svmx_insn *decode_cache_probe(svmx_decode_cache *cache,
                                                  uint64_t where, uint64_t salt,
                                                  uint32_t meta,
                                                  const uint8_t *bytes)
{
    uint64_t w[2];
    uint64_t key = where ^ (where >> 12) ^ (where >> 24) ^ salt;
    load_window(bytes, SVMX_INSN_MAX_LEN, w);
    cache_entry *e = &cache->entries[key & cache->mask];
    if (e->key == key && e->w0 == w[0] && e->w1 == w[1] && e->meta == meta)
        return &e->insn; /* not counted in the statistics: the hot path */
    return NULL;
}

static inline const svmx_insn *decode_cache_probe_at(svmx_decode_cache *cache,
                                                     uint64_t where,
                                                     svmx_mode mode,
                                                     unsigned flags,
                                                     const uint8_t *bytes)
{
    return decode_cache_probe(cache, where, decode_cache_where_key(0, mode),
                              decode_cache_meta(SVMX_INSN_MAX_LEN, mode, flags),
                              bytes);
}

#endif /* SVMX_DECODE_CACHE_FAST_H */
