/*
 * src/cpu/hostmap.c - filling the fast path to guest RAM (hostmap.h).
 */
#include "cpu/cpu_internal.h"
#include "cpu/hostmap.h"
#include "cpu/paging.h"

/*
 * `phys` is what paging_translate() just returned for (lin, acc). Under
 * SVM nested paging that is the host-physical end of the combined
 * translation (paging.c, svm/npt.h), never a guest-physical address, so
 * a hit cannot skip the nested dimension; and a write translation set D
 * in both dimensions before a write entry can exist. The entry is tagged
 * with the current TLB context (hostmap.h), as the translation it caches
 * belongs to that address space alone.
 */
void hostmap_fill(svmx_cpu *cpu, uint64_t lin, unsigned acc, uint64_t phys)
{
    unsigned kind = acc & PG_KIND_MASK;
    if (acc & PG_SUPERVISOR_IMPLICIT)
        return;
    /* A supervisor data access under SMAP depends on RFLAGS.AC. */
    if (!(acc & PG_USER) && kind != PG_EXEC && (cpu->sregs.cr4 & CPU_CR4_SMAP))
        return;
    uint8_t *host = svmx_mem_ram_ptr(&cpu->mem, phys & ~0xfffull, 4096);
    if (!host)
        return;
    /* A store into a code page stays on the slow path, which ends the
     * epoch (hostmap.h). */
    if (kind == PG_WRITE && hostmap_is_code(&cpu->hostmap, host)) {
        hostmap_epoch_end(&cpu->hostmap);
        return;
    }
    /* Written under the current controls: make sure the snapshot says so
     * (a handler may have changed them earlier in this instruction). */
    hostmap_sync(&cpu->hostmap, cpu->sregs.cr0, cpu->sregs.cr3,
                 cpu->sregs.cr4, cpu->sregs.efer);
    hostmap_entry *e = hostmap_slot(&cpu->hostmap, lin, acc);
    e->tag = hostmap_tag(&cpu->hostmap, lin, acc);
    e->host = host;
    cpu->hostmap.empty = false;
}

void hostmap_sync_slow(cpu_hostmap *h, uint64_t cr0, uint64_t cr3,
                       uint64_t cr4, uint64_t efer)
{
    hostmap_flush(h);
    h->cr0 = cr0;
    h->cr3 = cr3;
    h->cr4 = cr4;
    h->efer = efer;
}

void hostmap_protect_code_slow(cpu_hostmap *h, const uint8_t *page)
{
    if (!hostmap_is_code(h, page)) {
        /* A new code page replaces the oldest, whose hints (it may have
         * been written since) must not be followed any more. */
        unsigned i = h->code_next;
        h->code_next = (i + 1) % HOSTMAP_CODE_PAGES;
        if (h->code[i])
            hostmap_epoch_end(h);
        h->code[i] = page;
        h->code_bloom = 0;
        for (unsigned k = 0; k < HOSTMAP_CODE_PAGES; k++)
            if (h->code[k])
                h->code_bloom |= hostmap_bloom_bit(h->code[k]);
        for (unsigned k = 0; k < HOSTMAP_ENTRIES; k++) {
            hostmap_entry *e = &h->e[PG_WRITE][k];
            if (e->tag && e->host == page)
                e->tag = 0;
        }
    }
    h->code_last = page;
}

void hostmap_env_select_slow(cpu_hostmap *h, const hostmap_env *env)
{
    unsigned cur = (unsigned)(h->epoch % HOSTMAP_ENVS), i;
    for (i = 0; i < HOSTMAP_ENVS; i++)
        if (hostmap_env_eq(&h->env[i], env))
            break;
    if (i == HOSTMAP_ENVS) {
        /* A new environment takes the oldest one's index, whose hints of
         * this epoch would otherwise pass for its own. */
        i = h->env_next;
        h->env_next = (i + 1) % HOSTMAP_ENVS;
        h->env[i] = *env;
        hostmap_epoch_end(h);
    }
    if (i != cur)
        h->env_prev = cur;
    h->epoch = h->epoch - cur + i;
}
