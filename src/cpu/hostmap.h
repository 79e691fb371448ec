/*
 * src/cpu/hostmap.h - the interpreter's fast path to guest RAM: a small
 * direct-mapped cache from (linear page, kind of access) to the host
 * address of the RAM page the access reaches.
 *
 * It sits in front of the software TLB (paging.c) and holds only what the
 * TLB would answer the same way under the controls it was filled with:
 *   - only plain RAM pages (MMIO always takes the slow path);
 *   - only explicit accesses (implicit supervisor accesses to descriptor
 *     tables, the TSS or the IDT take the slow path);
 *   - a write entry only once the D bit is set, so no write can skip
 *     setting it (SDM Vol. 3A 4.8);
 *   - no supervisor data access while CR4.SMAP = 1, whose answer depends
 *     on RFLAGS.AC, which many instructions change.
 * The decision also depends on CPL (part of the key), CR0.WP/PG, CR3,
 * CR4 and EFER. The run loop compares a snapshot of those registers before
 * each instruction and flushes on any difference (hostmap_sync), and
 * paging_flush/invlpg/invlpga/reset flush too, so no writer of a control
 * register can leave a stale entry behind. Keeping an entry whose
 * paging-structure entry has since changed is what a hardware TLB does as
 * well (SDM Vol. 3A 4.10.4.2) until INVLPG, a CR3 write or a flush.
 *
 * Like the TLB it serves, the map holds the entries of every TLB context
 * (paging.h: the host's and the guests' address spaces, APM Vol. 2 15.16)
 * side by side: each tag carries the index of the context it was made in
 * (bits 63:56, `ctx_tag`), so that VMRUN and #VMEXIT flush nothing and
 * an entry is only ever found in its own context. The snapshot belongs to
 * the current context; paging_enter() keeps each context's. Any flush
 * empties the whole map, which is always allowed of a cache.
 */
#ifndef SVMX_CPU_HOSTMAP_H
#define SVMX_CPU_HOSTMAP_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cpu/le.h"

#define HOSTMAP_ENTRIES 64
#define HOSTMAP_CODE_PAGES 16

typedef struct hostmap_entry {
    uint64_t tag;     /* context << 56 | linear page number << 4 | 8 |
                         kind; 0 = empty                                  */
    uint8_t *host;    /* the host address of the page                     */
} hostmap_entry;

/*
 * Write-tracking of code for the fast loop (exec.c), which follows a
 * successor hint from one cached decode to the next without comparing
 * the next one's bytes again. That is exact only while the bytes behind
 * the hint cannot have changed, which the two halves below guarantee:
 *   - code pages: the host pages the fast loop verified code in. No write
 *     entry ever maps one of them (hostmap_protect_code purges them and
 *     hostmap_fill refuses them), so a store into code always takes the
 *     slow path;
 *   - the epoch: hints are valid only in the epoch they were made in.
 *     It ends (hostmap_epoch_end) whenever guest RAM may change other than
 *     through a write entry, and whenever a cached decode a hint may name
 *     is replaced:
 *       - every slow-path access (operand.c) and page-walk write
 *         (paging.c);
 *       - string instructions, which copy through host pointers
 *         (insn_string.c);
 *       - every embedder callback: the MMIO and port handlers (cpu.c
 *         wraps them) and the route hook;
 *       - a write of the VMCB or VMSAVE area into a protected code page
 *         (hostmap_wrote, src/svm/);
 *       - a decode-cache fill (exec.c fetch), the eviction of a code page
 *         from the set, every flush of the map (a translation may have
 *         changed), and every svmx_cpu_run() (the embedder may have
 *         written RAM in between).
 *
 * A hint also holds only for the fetch environment it was made in: the
 * mode, the CS base and limit, the user/supervisor bit of a fetch, the
 * decode flags and the TLB context decide which bytes a linear address
 * names and how they decode. The map keeps the last HOSTMAP_ENVS
 * environments the fast loop ran in, and `epoch` carries the index of
 * the current one in its low bits (hostmap_env_select): a hint's tag is
 * that word, so a hint made in L1 is never followed in L2 and the two
 * keep their hints across world switches.
 */
#define HOSTMAP_ENVS 8

/* What a fetch by the fast loop depends on besides the bytes (above). */
typedef struct hostmap_env {
    uint64_t ctx_tag;               /* the TLB context                     */
    uint64_t cs_base;               /* 0 in 64-bit mode                    */
    uint32_t cs_limit;              /* 0 in 64-bit mode                    */
    uint32_t meta;                  /* decode_cache_meta(): mode, flags    */
    uint32_t user;                  /* PG_USER of a fetch, or 0            */
} hostmap_env;

typedef struct cpu_hostmap {
    hostmap_entry e[3][HOSTMAP_ENTRIES];   /* by PG_READ, PG_WRITE, PG_EXEC */
    uint64_t ctx_tag;               /* the current TLB context << 56      */
    uint64_t cr0, cr3, cr4, efer;   /* the controls the entries of the
                                       current context were made under     */
    bool     empty;                 /* no entry since the last flush       */
    uint64_t epoch;                 /* the epoch, a multiple of HOSTMAP_ENVS
                                       never 0 once the CPU ran, | the
                                       current environment's index: the
                                       tag of the hints made now           */
    hostmap_env env[HOSTMAP_ENVS];  /* fetch environments (above)          */
    unsigned env_prev;              /* the one before the current one      */
    unsigned env_next;              /* round-robin victim in env[]         */
    struct cache_entry *run_prev;   /* the decode that ran last, where the
                                       fast loop's next hint goes (exec.c) */
    uint64_t run_seq;               /* the RIP it falls through to         */
    const uint8_t *code[HOSTMAP_CODE_PAGES]; /* write-protected code pages */
    const uint8_t *code_last;       /* the one protected most recently     */
    uint64_t code_bloom;            /* bit (page >> 12) % 64 of each        */
    unsigned code_next;             /* round-robin victim in code[]        */
    /* Set by the fast loop on entry and valid only inside it, where the
     * privilege level and the mode cannot change: the PG_USER bit of an
     * explicit access and the linear-address width. */
    unsigned run_user;
    unsigned run_width;
} cpu_hostmap;

/* Tag of a page for a kind in the current context: PG_READ/PG_WRITE/
 * PG_EXEC | PG_USER (bits 0-2, see paging.h); bit 3 keeps it from ever
 * being 0; the linear page number fills bits 55:4 whatever the address,
 * which leaves bits 63:56 to the context. */
#define HOSTMAP_CTX_SHIFT 56

static inline uint64_t hostmap_tag(const cpu_hostmap *h, uint64_t lin,
                                   unsigned kind)
{
    return ((lin >> 12) << 4 | 8u | (kind & 7u)) | h->ctx_tag;
}

static inline hostmap_entry *hostmap_slot(cpu_hostmap *h, uint64_t lin,
                                          unsigned kind)
{
    return &h->e[(kind & 3u) % 3u][(lin >> 12) % HOSTMAP_ENTRIES];
}

/* The host address of `lin` for `kind`, or NULL (take the slow path). */
static inline uint8_t *hostmap_lookup(cpu_hostmap *h, uint64_t lin,
                                      unsigned kind)
{
    hostmap_entry *e = hostmap_slot(h, lin, kind);
    return e->tag == hostmap_tag(h, lin, kind) ? e->host + (lin & 0xfff)
                                               : NULL;
}

/* The same for kind = `base` | `user`, where base (PG_READ, PG_WRITE or
 * PG_EXEC) picks the table, so that a constant base folds it. */
static inline uint8_t *hostmap_lookup_as(cpu_hostmap *h, uint64_t lin,
                                         unsigned base, unsigned user)
{
    hostmap_entry *e = &h->e[(base & 3u) % 3u][(lin >> 12) % HOSTMAP_ENTRIES];
    return e->tag == hostmap_tag(h, lin, base | user)
               ? e->host + (lin & 0xfff) : NULL;
}

/* Guest RAM may have changed: the fast loop's hints are void. The
 * environment stays the current one. */
static inline void hostmap_epoch_end(cpu_hostmap *h)
{
    h->epoch += HOSTMAP_ENVS;
}

/* A translation may have changed: so may the bytes behind a hint. */
static inline void hostmap_flush(cpu_hostmap *h)
{
    if (!h->empty)
        memset(h->e, 0, sizeof h->e);
    h->empty = true;
    hostmap_epoch_end(h);
}

/* The bit of code_bloom a host page sets. */
static inline uint64_t hostmap_bloom_bit(const uint8_t *page)
{
    return 1ull << (((uintptr_t)page >> 12) % 64);
}

/* Whether the host page `page` is one of the protected code pages. */
static inline bool hostmap_is_code(const cpu_hostmap *h, const uint8_t *page)
{
    if (!(h->code_bloom & hostmap_bloom_bit(page)))
        return false; /* surely not one of them */
    for (unsigned i = 0; i < HOSTMAP_CODE_PAGES; i++)
        if (h->code[i] == page)
            return true;
    return false;
}

/* RAM in the host page `page` (4 KiB aligned) was written other than
 * through a write entry: the hints are void if it holds protected code. */
static inline void hostmap_wrote(cpu_hostmap *h, const uint8_t *page)
{
    if (hostmap_is_code(h, page))
        hostmap_epoch_end(h);
}

/* Makes `env` the current fetch environment (hostmap.c). */
void hostmap_env_select_slow(cpu_hostmap *h, const hostmap_env *env);

static inline bool hostmap_env_eq(const hostmap_env *a, const hostmap_env *b)
{
    return a->ctx_tag == b->ctx_tag && a->cs_base == b->cs_base &&
           a->cs_limit == b->cs_limit && a->meta == b->meta &&
           a->user == b->user;
}

/* Makes `env` the current fetch environment: h->epoch is then the tag
 * of the hints made and followed under it in the current epoch. */
static inline void hostmap_env_select(cpu_hostmap *h, const hostmap_env *env)
{
    unsigned i = (unsigned)(h->epoch % HOSTMAP_ENVS);
    if (hostmap_env_eq(&h->env[i], env))
        return;
    /* A hypervisor and its guest take turns. */
    unsigned p = h->env_prev;
    if (hostmap_env_eq(&h->env[p], env)) {
        h->env_prev = i;
        h->epoch = h->epoch - i + p;
        return;
    }
    hostmap_env_select_slow(h, env);
}

/* Write-protects the host page `page` (4 KiB aligned) of code the fast
 * loop just verified (hostmap.c); the inline part is the common repeat. */
void hostmap_protect_code_slow(cpu_hostmap *h, const uint8_t *page);

static inline void hostmap_protect_code(cpu_hostmap *h, const uint8_t *page)
{
    if (page != h->code_last)
        hostmap_protect_code_slow(h, page);
}

/* Flushes and takes the controls as the snapshot (hostmap.c). */
void hostmap_sync_slow(cpu_hostmap *h, uint64_t cr0, uint64_t cr3,
                       uint64_t cr4, uint64_t efer);

/* Flushes when a control register differs from the snapshot. The four
 * compares are one test, and the rare flush is out of line, so the
 * common case asked before each instruction stays short. */
static inline void hostmap_sync(cpu_hostmap *h, uint64_t cr0, uint64_t cr3,
                                uint64_t cr4, uint64_t efer)
{
    if ((h->cr0 ^ cr0) | (h->cr3 ^ cr3) | (h->cr4 ^ cr4) | (h->efer ^ efer))
        hostmap_sync_slow(h, cr0, cr3, cr4, efer);
}

typedef struct svmx_cpu svmx_cpu;

/* Remembers the translation paging_translate() just gave for an access of
 * kind `acc` at `lin`, when the rules above allow it. */
void hostmap_fill(svmx_cpu *cpu, uint64_t lin, unsigned acc, uint64_t phys);

#endif /* SVMX_CPU_HOSTMAP_H */
