/*
 * src/decode/decode_cache.c - decoded instructions keyed by their bytes.
 *
 * Direct-mapped: the slot is XXH3-64 of the zero-padded 16-byte window
 * seeded with (mode, flags, window length). A hit needs the stored window,
 * mode, flags and length to equal the caller's, so the hash only picks the
 * slot and a collision can cost a miss but never return another
 * instruction. Rewritten code therefore needs no invalidation: its bytes
 * differ, so its window does.
 */
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "decode/decode_cache_fast.h"
#include "decode/decode_internal.h"

static size_t cache_bytes(unsigned log2)
{
    if (log2 < SVMX_DECODE_CACHE_MIN_LOG2 || log2 > SVMX_DECODE_CACHE_MAX_LOG2)
        return 0;
    return sizeof(struct svmx_decode_cache) +
           ((size_t)1 << log2) * sizeof(cache_entry);
}

size_t svmx_decode_cache_size(unsigned entries_log2)
{
    return cache_bytes(entries_log2);
}

svmx_status svmx_decode_cache_init(void *mem, size_t size,
                                   unsigned entries_log2,
                                   svmx_decode_cache **out)
{
    size_t need = cache_bytes(entries_log2);
    if (!mem || !out || need == 0 || size < need ||
        ((uintptr_t)mem & 63u) != 0)
        return SVMX_E_ARG;
    svmx_decode_cache *c = mem;
    memset(c, 0, need);
    for (unsigned m = 0; m < SVMX_MODE_COUNT; m++)
        if (!decode_init_zydis(&c->dec[m], (svmx_mode)m))
            return SVMX_E_INTERNAL;
    c->mask = ((uint64_t)1 << entries_log2) - 1;
    c->stats.entries = (uint32_t)1 << entries_log2;
    *out = c;
    return SVMX_OK;
}

svmx_status svmx_decode_cache_create(unsigned entries_log2,
                                     svmx_decode_cache **out)
{
    size_t need = cache_bytes(entries_log2);
    if (!out || need == 0)
        return SVMX_E_ARG;
    /* aligned_alloc wants a size that is a multiple of the alignment. */
    void *mem = aligned_alloc(64, (need + 63) & ~(size_t)63);
    if (!mem)
        return SVMX_E_NOMEM;
    svmx_status s = svmx_decode_cache_init(mem, need, entries_log2, out);
    if (s != SVMX_OK) {
        free(mem);
        return s;
    }
    (*out)->owned = true;
    return SVMX_OK;
}

void svmx_decode_cache_destroy(svmx_decode_cache *cache)
{
    if (cache && cache->owned)
        free(cache);
}

/* The window as two words, zero beyond n. The full 15-byte window, the
 * hot case, is two overlapping loads: copying it through a byte buffer
 * first costs a store-forwarding stall per lookup. */
/* Argument checks shared by both lookups; SVMX_OK to go on. */
static svmx_status check_args(const svmx_decode_cache *cache, svmx_mode mode,
                              unsigned flags, const uint8_t *bytes, size_t len,
                              const svmx_insn **out, size_t *needed)
{
    if (!cache || !out || (!bytes && len) || (unsigned)mode >= SVMX_MODE_COUNT ||
        flags > 0xffu)
        return SVMX_E_ARG;
    if (len == 0) {
        if (needed)
            *needed = 1;
        return SVMX_E_TRUNCATED;
    }
    return SVMX_OK;
}

/* The lookup proper, in the slot of `key`: compare, or decode and fill. */
static svmx_status lookup(svmx_decode_cache *cache, uint64_t key,
                          svmx_mode mode, unsigned flags, const uint8_t *bytes,
                          size_t n, const uint64_t w[2],
                          const svmx_insn **out, size_t *needed)
{
    cache_entry *e = &cache->entries[key & cache->mask];
    cache->stats.lookups++;
    uint32_t meta = decode_cache_meta(n, mode, flags);
    if (e->key == key && e->w0 == w[0] && e->w1 == w[1] && e->meta == meta) {
        cache->stats.hits++;
        if (needed)
            *needed = 0;
        *out = &e->insn;
        return SVMX_OK;
    }

    cache->stats.misses++;
    svmx_insn fresh;
    svmx_status s = decode_with(&cache->dec[mode], mode, flags, bytes, n,
                                &fresh, needed);
    if (s != SVMX_OK)
        return s; /* truncated windows are not cached */
    if (e->meta != 0)
        cache->stats.collisions++;
    e->key = key;
    e->w0 = w[0];
    e->w1 = w[1];
    e->meta = meta;
    e->aux = 0;
    e->fn = NULL;
    memset(e->link, 0, sizeof e->link);
    e->insn = fresh;
    *out = &e->insn;
    return SVMX_OK;
}

/* Both lookups: the slot is chosen by a hash of the window (by_hash) or
 * by the caller's `where`; everything else is the same. */
static svmx_status cached(svmx_decode_cache *cache, bool by_hash,
                          uint64_t where, svmx_mode mode, unsigned flags,
                          const uint8_t *bytes, size_t len,
                          const svmx_insn **out, size_t *needed)
{
    svmx_status s = check_args(cache, mode, flags, bytes, len, out, needed);
    if (s != SVMX_OK)
        return s;
    size_t n = len < SVMX_INSN_MAX_LEN ? len : SVMX_INSN_MAX_LEN;
    uint64_t w[2];
    load_window(bytes, n, w);
    uint64_t seed = (uint64_t)mode | (uint64_t)flags << 8 | (uint64_t)n << 16;
    uint64_t key = by_hash ? XXH3_64bits_withSeed(w, sizeof w, seed)
                           : decode_cache_where_key(where, mode);
    return lookup(cache, key, mode, flags, bytes, n, w, out, needed);
}

svmx_status svmx_decode_cached(svmx_decode_cache *cache, svmx_mode mode,
                               unsigned flags, const uint8_t *bytes,
                               size_t len, const svmx_insn **out,
                               size_t *needed)
{
    return cached(cache, true, 0, mode, flags, bytes, len, out, needed);
}

svmx_status svmx_decode_cached_at(svmx_decode_cache *cache, uint64_t where,
                                  svmx_mode mode, unsigned flags,
                                  const uint8_t *bytes, size_t len,
                                  const svmx_insn **out, size_t *needed)
{
    return cached(cache, false, where, mode, flags, bytes, len, out, needed);
}

void svmx_decode_cache_flush(svmx_decode_cache *cache)
{
    if (!cache)
        return;
    for (uint64_t i = 0; i <= cache->mask; i++)
        cache->entries[i].meta = 0;
}

void svmx_decode_cache_stats_get(const svmx_decode_cache *cache,
                                 svmx_decode_cache_stats *stats)
{
    if (!stats)
        return;
    if (!cache) {
        memset(stats, 0, sizeof *stats);
        return;
    }
    *stats = cache->stats;
}
