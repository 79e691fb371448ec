/*
 * src/cpu/mem.c - guest physical memory: flat RAM at 0, MMIO and port I/O
 * through embedder callbacks, all-ones where nothing answers.
 *
 * Every access is walked in segments: a RAM run goes through memcpy, a
 * non-RAM run is cut at 4 KiB pages and then into power-of-two pieces of
 * at most 8 bytes for the handler. Byte i of an access is at
 * (gpa + i) mod 2^64, so an access that runs past 2^64 continues at 0 and
 * finds RAM there; nothing ever forms a pointer outside [ram, ram + size).
 */
#include <string.h>

#include "svmx/mem.h"
#include "cpu/le.h"

#define MEM_PAGE_SIZE 4096u

/* A hand-built svmx_mem with RAM bytes but no RAM pointer is host misuse. */
static bool mem_valid(const svmx_mem *mem)
{
    return mem && (mem->ram || mem->ram_size == 0);
}

/* True when gpa is in RAM and so is all of [gpa, gpa + n); cannot wrap. */
static bool in_ram(const svmx_mem *mem, uint64_t gpa, uint64_t n)
{
    return gpa < mem->ram_size && n <= mem->ram_size - gpa;
}

/* Bytes from `a` to the end of its page, 1..4096; pages never wrap. */
static uint64_t page_left(uint64_t a)
{
    return MEM_PAGE_SIZE - (a & (MEM_PAGE_SIZE - 1));
}

/* Largest of 8, 4, 2, 1 that is <= n (n > 0). */
static unsigned piece_size(uint64_t n)
{
    unsigned c = 8;
    while (c > n)
        c >>= 1;
    return c;
}


static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

svmx_status svmx_mem_setup(svmx_mem *mem, void *ram, uint64_t ram_size,
                           const svmx_io_ops *io)
{
    if (!mem || (!ram && ram_size != 0))
        return SVMX_E_ARG;
    mem->ram = ram;
    mem->ram_size = ram_size;
    mem->io = io;
    return SVMX_OK;
}

/* Non-RAM run of `len` bytes at `a`, inside one page. */
static svmx_status mmio_read_run(const svmx_mem *mem, uint64_t a,
                                 uint8_t *dst, uint64_t len)
{
    const svmx_io_ops *io = mem->io;
    if (!io || !io->mmio_read) {
        memset(dst, 0xff, (size_t)len);
        return SVMX_OK;
    }
    while (len) {
        unsigned c = piece_size(len);
        uint64_t v = 0;
        SVMX_TRY(io->mmio_read(io->ctx, a, c, &v));
        /* Only the low c bytes count; le_store drops the rest. */
        le_store(dst, c, v);
        a += c;
        dst += c;
        len -= c;
    }
    return SVMX_OK;
}

static svmx_status mmio_write_run(const svmx_mem *mem, uint64_t a,
                                  const uint8_t *src, uint64_t len)
{
    const svmx_io_ops *io = mem->io;
    if (!io || !io->mmio_write)
        return SVMX_OK;
    while (len) {
        unsigned c = piece_size(len);
        SVMX_TRY(io->mmio_write(io->ctx, a, c, le_load(src, c)));
        a += c;
        src += c;
        len -= c;
    }
    return SVMX_OK;
}

/*
 * Segments in ascending order of offset. A failing handler stops the walk:
 * a read leaves buf partly filled, a write leaves earlier segments (RAM
 * included) written, as a guest access cut short by a fault would.
 */
svmx_status svmx_mem_read(const svmx_mem *mem, uint64_t gpa, void *buf,
                          size_t n)
{
    if (!mem_valid(mem) || (!buf && n))
        return SVMX_E_ARG;
    if (n == 0)
        return SVMX_OK;
    uint8_t *dst = buf;
    if (in_ram(mem, gpa, n)) {
        memcpy(dst, mem->ram + gpa, n);
        return SVMX_OK;
    }
    uint64_t a = gpa, left = n;
    while (left) {
        uint64_t seg;
        if (a < mem->ram_size) {
            seg = min_u64(left, mem->ram_size - a);
            memcpy(dst, mem->ram + a, (size_t)seg);
        } else {
            /* a >= ram_size and a page never wraps: the run is all non-RAM. */
            seg = min_u64(left, page_left(a));
            SVMX_TRY(mmio_read_run(mem, a, dst, seg));
        }
        a += seg; /* wraps mod 2^64 by design */
        dst += seg;
        left -= seg;
    }
    return SVMX_OK;
}

svmx_status svmx_mem_write(const svmx_mem *mem, uint64_t gpa, const void *buf,
                           size_t n)
{
    if (!mem_valid(mem) || (!buf && n))
        return SVMX_E_ARG;
    if (n == 0)
        return SVMX_OK;
    const uint8_t *src = buf;
    if (in_ram(mem, gpa, n)) {
        memcpy(mem->ram + gpa, src, n);
        return SVMX_OK;
    }
    uint64_t a = gpa, left = n;
    while (left) {
        uint64_t seg;
        if (a < mem->ram_size) {
            seg = min_u64(left, mem->ram_size - a);
            memcpy(mem->ram + a, src, (size_t)seg);
        } else {
            seg = min_u64(left, page_left(a));
            SVMX_TRY(mmio_write_run(mem, a, src, seg));
        }
        a += seg;
        src += seg;
        left -= seg;
    }
    return SVMX_OK;
}

static bool scalar_size_ok(unsigned size)
{
    return size == 1 || size == 2 || size == 4 || size == 8;
}

svmx_status svmx_mem_read_u(const svmx_mem *mem, uint64_t gpa, unsigned size,
                            uint64_t *value)
{
    if (!value || !scalar_size_ok(size))
        return SVMX_E_ARG;
    uint8_t b[8];
    SVMX_TRY(svmx_mem_read(mem, gpa, b, size));
    *value = le_load(b, size);
    return SVMX_OK;
}

/* Bits of value above `size` bytes are ignored. */
svmx_status svmx_mem_write_u(const svmx_mem *mem, uint64_t gpa, unsigned size,
                             uint64_t value)
{
    if (!scalar_size_ok(size))
        return SVMX_E_ARG;
    uint8_t b[8];
    le_store(b, size, value);
    return svmx_mem_write(mem, gpa, b, size);
}

/*
 * in_ram() wants gpa < ram_size even for n == 0, so n == 0 gets the answer
 * for n == 1 and a non-NULL result always points at a RAM byte: no
 * one-past-the-end pointer and no NULL + 0 for an empty RAM.
 */
uint8_t *svmx_mem_ram_ptr(const svmx_mem *mem, uint64_t gpa, size_t n)
{
    if (!mem_valid(mem) || !in_ram(mem, gpa, n))
        return NULL;
    return mem->ram + gpa;
}

/* All-ones for 1, 2 or 4 bytes; 0 marks a bad size. */
static uint32_t pio_mask(unsigned size)
{
    switch (size) {
    case 1: return 0xffu;
    case 2: return 0xffffu;
    case 4: return 0xffffffffu;
    default: return 0;
    }
}

svmx_status svmx_mem_pio_in(const svmx_mem *mem, uint16_t port, unsigned size,
                            uint32_t *value)
{
    uint32_t mask = pio_mask(size);
    if (!mem || !value || !mask)
        return SVMX_E_ARG;
    const svmx_io_ops *io = mem->io;
    if (!io || !io->pio_in) {
        *value = mask;
        return SVMX_OK;
    }
    uint32_t v = 0;
    SVMX_TRY(io->pio_in(io->ctx, port, size, &v));
    *value = v & mask;
    return SVMX_OK;
}

/* The handler sees only the low `size` bytes of value. */
svmx_status svmx_mem_pio_out(const svmx_mem *mem, uint16_t port,
                             unsigned size, uint32_t value)
{
    uint32_t mask = pio_mask(size);
    if (!mem || !mask)
        return SVMX_E_ARG;
    const svmx_io_ops *io = mem->io;
    if (!io || !io->pio_out)
        return SVMX_OK;
    return io->pio_out(io->ctx, port, size, value & mask);
}
