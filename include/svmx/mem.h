/*
 * svmx/mem.h - guest physical memory and port I/O.
 *
 * Guest memory is one flat block of RAM at guest-physical address 0, owned
 * by the embedder, plus optional embedder callbacks for MMIO (any physical
 * address at or above the end of RAM) and for port I/O. As on a PC, a read
 * that no RAM or MMIO handler answers returns all-ones and such a write is
 * dropped. Every access is bounds-checked byte by byte against RAM, so an
 * access that straddles the end of RAM is split: the part inside RAM goes to
 * RAM, the rest to the MMIO handler (or all-ones). Accesses are also split
 * at 4 KiB boundaries before they reach a handler, so a handler never sees
 * an access that crosses a page. Addresses that wrap past 2^64 wrap, as
 * they would on an address bus that wide; nothing is read or written
 * outside the RAM block.
 */
#ifndef SVMX_MEM_H
#define SVMX_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "svmx/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Embedder callbacks. Each may be NULL. `size` is 1, 2, 4 or 8 for MMIO
 * (never crossing a 4 KiB page) and 1, 2 or 4 for ports. Values are little
 * endian in the low `size` bytes. A callback that returns a status other
 * than SVMX_OK makes the access fail with that status; the guest access it
 * served is then not completed (the run loop stops and reports it).
 */
typedef struct svmx_io_ops {
    void *ctx;
    svmx_status (*mmio_read)(void *ctx, uint64_t gpa, unsigned size,
                             uint64_t *value);
    svmx_status (*mmio_write)(void *ctx, uint64_t gpa, unsigned size,
                              uint64_t value);
    svmx_status (*pio_in)(void *ctx, uint16_t port, unsigned size,
                          uint32_t *value);
    svmx_status (*pio_out)(void *ctx, uint16_t port, unsigned size,
                           uint32_t value);
} svmx_io_ops;

/*
 * A guest physical address space. A transparent value: set it up with
 * svmx_mem_setup() or by hand. `io` may be NULL (no handlers). The RAM
 * block stays owned by the embedder and must outlive every use.
 */
typedef struct svmx_mem {
    uint8_t           *ram;
    uint64_t           ram_size;
    const svmx_io_ops *io;
} svmx_mem;

/*
 * Fills *mem. `ram` may be NULL only when ram_size is 0. Returns SVMX_E_ARG
 * for a NULL mem or a NULL ram with a non-zero size.
 */
SVMX_API svmx_status svmx_mem_setup(svmx_mem *mem, void *ram,
                                    uint64_t ram_size,
                                    const svmx_io_ops *io);

/*
 * Reads n bytes at guest-physical gpa into buf. RAM bytes come from RAM;
 * bytes beyond RAM come from mmio_read in page-bounded pieces of 1, 2, 4 or
 * 8 bytes, or read as 0xFF without a handler. Returns SVMX_OK, SVMX_E_ARG
 * (a NULL mem, a NULL ram with a non-zero ram_size, or a NULL buf with
 * n > 0), or the handler's failing status (buf may then be partly written).
 */
SVMX_API svmx_status svmx_mem_read(const svmx_mem *mem, uint64_t gpa,
                                   void *buf, size_t n);

/*
 * Writes n bytes; the counterpart of svmx_mem_read(). Without a handler
 * the bytes beyond RAM are dropped. On a handler's failing status the
 * pieces before the failing one (RAM included) have been written.
 */
SVMX_API svmx_status svmx_mem_write(const svmx_mem *mem, uint64_t gpa,
                                    const void *buf, size_t n);

/*
 * Little-endian scalar reads and writes of 1, 2, 4 or 8 bytes; any other
 * size is SVMX_E_ARG. A write ignores the bits of value above size bytes.
 */
SVMX_API svmx_status svmx_mem_read_u(const svmx_mem *mem, uint64_t gpa,
                                     unsigned size, uint64_t *value);
SVMX_API svmx_status svmx_mem_write_u(const svmx_mem *mem, uint64_t gpa,
                                      unsigned size, uint64_t value);

/*
 * Returns a pointer to RAM for [gpa, gpa + n) when the whole range lies in
 * RAM, else NULL. The fast path for the interpreter; never crosses the end.
 * For n == 0 the answer is that for n == 1, so a non-NULL result always
 * points at a RAM byte.
 */
SVMX_API uint8_t *svmx_mem_ram_ptr(const svmx_mem *mem, uint64_t gpa,
                                   size_t n);

/*
 * Port input and output of 1, 2 or 4 bytes. Without a handler IN reads
 * all-ones and OUT is dropped, as on a PC with nothing at that port.
 * Any other size is SVMX_E_ARG. Values to and from a handler are masked to
 * size bytes.
 */
SVMX_API svmx_status svmx_mem_pio_in(const svmx_mem *mem, uint16_t port,
                                     unsigned size, uint32_t *value);
SVMX_API svmx_status svmx_mem_pio_out(const svmx_mem *mem, uint16_t port,
                                      unsigned size, uint32_t value);

#ifdef __cplusplus
}
#endif

#endif /* SVMX_MEM_H */
