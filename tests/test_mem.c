/*
 * tests/test_mem.c - guest physical memory and port I/O (svmx/mem.h).
 *
 * RAM lives inside a larger arena whose bytes outside the current RAM are
 * guard bytes; every test ends by checking that the arena still matches a
 * reference image, so a stray write anywhere outside RAM fails the test.
 * A recording MMIO/port handler logs every call so the exact split of an
 * access (addresses, sizes, order) can be checked.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "svmx/svmx.h"

#define GUARD   64
#define RAM_MAX 0x3000u
#define LOG_MAX 256
#define PAGE    4096u

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (!(cond))                                                          \
            fail_msg(__VA_ARGS__);                                            \
    } while (0)

/* The arena and the image it must match after every operation. */
static uint8_t arena[GUARD + RAM_MAX + GUARD];
static uint8_t arena_ref[GUARD + RAM_MAX + GUARD];
#define RAM     (arena + GUARD)
#define RAM_REF (arena_ref + GUARD)

static uint8_t guard_byte(size_t i)
{
    return (uint8_t)(0xa5u ^ (i * 13u));
}

static uint8_t ram_byte(size_t i)
{
    return (uint8_t)(i * 7u + 1u);
}

/* What the MMIO handler answers for one byte address. */
static uint8_t mmio_byte(uint64_t a)
{
    return (uint8_t)((a * 0x9e3779b97f4a7c15u) >> 56);
}

/* Every arena byte becomes a guard; the first ram_size get a RAM pattern. */
static void arena_reset(uint64_t ram_size)
{
    for (size_t i = 0; i < sizeof arena; i++)
        arena[i] = guard_byte(i);
    for (size_t i = 0; i < ram_size; i++)
        RAM[i] = ram_byte(i);
    memcpy(arena_ref, arena, sizeof arena);
}

static bool arena_intact(void)
{
    return memcmp(arena, arena_ref, sizeof arena) == 0;
}

static void assert_arena(const char *what)
{
    if (arena_intact())
        return;
    for (size_t i = 0; i < sizeof arena; i++) {
        if (arena[i] != arena_ref[i])
            fail_msg("%s: arena byte %zu (RAM offset %td) is %02x, want %02x",
                     what, i, (ptrdiff_t)i - GUARD, arena[i], arena_ref[i]);
    }
}

/* ---- recording handler ------------------------------------------------ */

typedef struct io_rec {
    char     op; /* 'r' 'w' MMIO, 'i' 'o' port */
    uint64_t addr;
    unsigned size;
    uint64_t value;
} io_rec;

typedef struct recorder {
    io_rec      log[LOG_MAX];
    unsigned    count;
    bool        overflow;
    unsigned    fail_at; /* 1-based call that fails; 0: none */
    svmx_status fail_status;
} recorder;

static recorder rec;

static void rec_reset(void)
{
    memset(&rec, 0, sizeof rec);
}

/* Logs the call; returns the status the call is to return. */
static svmx_status rec_log(char op, uint64_t addr, unsigned size,
                           uint64_t value)
{
    if (rec.count < LOG_MAX)
        rec.log[rec.count] = (io_rec){ op, addr, size, value };
    else
        rec.overflow = true;
    rec.count++;
    if (rec.fail_at && rec.count == rec.fail_at)
        return rec.fail_status;
    return SVMX_OK;
}

static svmx_status h_mmio_read(void *ctx, uint64_t gpa, unsigned size,
                               uint64_t *value)
{
    assert_ptr_equal(ctx, &rec);
    uint64_t v = 0;
    /* Junk above `size` bytes: svmx must ignore it. */
    for (unsigned i = 0; i < 8; i++) {
        uint8_t b = i < size ? mmio_byte(gpa + i) : 0xee;
        v |= (uint64_t)b << (8 * i);
    }
    svmx_status s = rec_log('r', gpa, size, 0);
    if (s == SVMX_OK)
        *value = v;
    return s;
}

static svmx_status h_mmio_write(void *ctx, uint64_t gpa, unsigned size,
                                uint64_t value)
{
    assert_ptr_equal(ctx, &rec);
    return rec_log('w', gpa, size, value);
}

static svmx_status h_pio_in(void *ctx, uint16_t port, unsigned size,
                            uint32_t *value)
{
    assert_ptr_equal(ctx, &rec);
    svmx_status s = rec_log('i', port, size, 0);
    if (s == SVMX_OK)
        *value = 0xa1b2c3d4u;
    return s;
}

static svmx_status h_pio_out(void *ctx, uint16_t port, unsigned size,
                             uint32_t value)
{
    assert_ptr_equal(ctx, &rec);
    return rec_log('o', port, size, value);
}

static const svmx_io_ops io_rec_ops = {
    &rec, h_mmio_read, h_mmio_write, h_pio_in, h_pio_out,
};
static const svmx_io_ops io_empty_ops = { &rec, NULL, NULL, NULL, NULL };

static svmx_mem make_mem(uint64_t ram_size, const svmx_io_ops *io)
{
    svmx_mem m;
    arena_reset(ram_size);
    rec_reset();
    assert_int_equal(svmx_mem_setup(&m, ram_size ? RAM : NULL, ram_size, io),
                     SVMX_OK);
    return m;
}

static int teardown_arena(void **state)
{
    (void)state;
    return arena_intact() ? 0 : -1;
}

/*
 * Reference split of one non-RAM run of `len` bytes inside a page: as many
 * 8-byte pieces as fit, then the 4, 2 and 1 bits of what is left.
 */
typedef struct piece {
    uint64_t addr;
    unsigned size;
} piece;

static unsigned ref_split_run(uint64_t a, uint64_t len, piece *out,
                              unsigned max)
{
    unsigned k = 0;
    for (; len >= 8 && k < max; len -= 8, a += 8)
        out[k++] = (piece){ a, 8 };
    for (unsigned b = 4; b; b >>= 1) {
        if ((len & b) && k < max) {
            out[k++] = (piece){ a, b };
            a += b;
        }
    }
    return k;
}

/* Reference split of a whole access, walking it byte by byte. */
static unsigned ref_pieces(uint64_t ram_size, uint64_t gpa, uint64_t n,
                           piece *out, unsigned max)
{
    unsigned k = 0;
    uint64_t i = 0;
    while (i < n) {
        uint64_t a = gpa + i;
        if (a < ram_size) {
            i++;
            continue;
        }
        uint64_t run = 0;
        while (i + run < n && gpa + i + run >= ram_size &&
               (run == 0 || ((gpa + i + run) & (PAGE - 1)) != 0))
            run++;
        k += ref_split_run(a, run, out + k, max - k);
        i += run;
    }
    return k;
}

/* Handler log entries [from, rec.count) with op `op` must equal want[]. */
static void check_log(const char *what, char op, unsigned from,
                      const piece *want, unsigned nwant)
{
    CHECK(!rec.overflow, "%s: handler log overflow", what);
    CHECK(rec.count - from == nwant, "%s: %u handler calls, want %u", what,
          rec.count - from, nwant);
    for (unsigned j = 0; j < nwant; j++) {
        const io_rec *r = &rec.log[from + j];
        CHECK(r->op == op, "%s: call %u op %c, want %c", what, j, r->op, op);
        CHECK(r->addr == want[j].addr && r->size == want[j].size,
              "%s: call %u at %#llx size %u, want %#llx size %u", what, j,
              (unsigned long long)r->addr, r->size,
              (unsigned long long)want[j].addr, want[j].size);
        CHECK((r->addr & (PAGE - 1)) + r->size <= PAGE,
              "%s: call %u crosses a page", what, j);
        CHECK(r->size == 8 || r->value >> (8 * r->size) == 0,
              "%s: call %u value %#llx wider than %u bytes", what, j,
              (unsigned long long)r->value, r->size);
    }
}

/* ---- argument checks ---------------------------------------------------- */

static void test_setup_args(void **state)
{
    (void)state;
    svmx_mem m = { RAM, 99, &io_rec_ops };
    arena_reset(16);
    assert_int_equal(svmx_mem_setup(NULL, RAM, 16, NULL), SVMX_E_ARG);
    assert_int_equal(svmx_mem_setup(&m, NULL, 16, NULL), SVMX_E_ARG);
    assert_int_equal(svmx_mem_setup(&m, NULL, 0, NULL), SVMX_OK);
    assert_null(m.ram);
    assert_int_equal(m.ram_size, 0);
    assert_null(m.io);
    assert_int_equal(svmx_mem_setup(&m, RAM, 16, &io_rec_ops), SVMX_OK);
    assert_ptr_equal(m.ram, RAM);
    assert_int_equal(m.ram_size, 16);
    assert_ptr_equal(m.io, &io_rec_ops);
    assert_arena("setup");
}

static void test_null_args(void **state)
{
    (void)state;
    svmx_mem m = make_mem(16, &io_rec_ops);
    const svmx_mem bad = { NULL, 16, &io_rec_ops }; /* built by hand, wrong */
    uint8_t buf[8] = { 0 };
    uint64_t v = 0x1234;
    uint32_t p = 0x5678;

    assert_int_equal(svmx_mem_read(NULL, 0, buf, 1), SVMX_E_ARG);
    assert_int_equal(svmx_mem_read(NULL, 0, buf, 0), SVMX_E_ARG);
    assert_int_equal(svmx_mem_read(&m, 0, NULL, 1), SVMX_E_ARG);
    assert_int_equal(svmx_mem_read(&m, 0x100, NULL, 1), SVMX_E_ARG);
    assert_int_equal(svmx_mem_read(&bad, 0, buf, 1), SVMX_E_ARG);
    assert_int_equal(svmx_mem_write(NULL, 0, buf, 1), SVMX_E_ARG);
    assert_int_equal(svmx_mem_write(&m, 0, NULL, 1), SVMX_E_ARG);
    assert_int_equal(svmx_mem_write(&bad, 0, buf, 1), SVMX_E_ARG);
    assert_int_equal(svmx_mem_read_u(NULL, 0, 4, &v), SVMX_E_ARG);
    assert_int_equal(svmx_mem_read_u(&m, 0, 4, NULL), SVMX_E_ARG);
    assert_int_equal(svmx_mem_write_u(NULL, 0, 4, 0), SVMX_E_ARG);
    assert_int_equal(svmx_mem_pio_in(NULL, 0x80, 1, &p), SVMX_E_ARG);
    assert_int_equal(svmx_mem_pio_in(&m, 0x80, 1, NULL), SVMX_E_ARG);
    assert_int_equal(svmx_mem_pio_out(NULL, 0x80, 1, 0), SVMX_E_ARG);
    assert_null(svmx_mem_ram_ptr(NULL, 0, 1));
    assert_null(svmx_mem_ram_ptr(&bad, 0, 1));
    assert_int_equal(v, 0x1234);
    assert_int_equal(p, 0x5678);

    /* n == 0 succeeds without looking at buf, RAM or handlers. */
    assert_int_equal(svmx_mem_read(&m, 0, NULL, 0), SVMX_OK);
    assert_int_equal(svmx_mem_write(&m, 0, NULL, 0), SVMX_OK);
    assert_int_equal(svmx_mem_read(&m, 0x1000, NULL, 0), SVMX_OK);
    assert_int_equal(svmx_mem_write(&m, UINT64_MAX, NULL, 0), SVMX_OK);
    assert_int_equal(rec.count, 0);
    assert_arena("null args");
}

/* ---- RAM ---------------------------------------------------------------- */

static void test_ram_round_trip(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        uint64_t    gpa;
        size_t      n;
    } rows[] = {
        { "first byte", 0, 1 },
        { "last byte", 0x2fff, 1 },
        { "whole RAM", 0, RAM_MAX },
        { "across a page", 0xffc, 8 },
        { "ends at RAM end", 0x2ff0, 16 },
        { "unaligned 13", 0x123, 13 },
        { "two pages", 0x800, 0x1000 },
    };
    static uint8_t in[RAM_MAX], out[RAM_MAX];
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        svmx_mem m = make_mem(RAM_MAX, &io_rec_ops);
        for (size_t i = 0; i < rows[r].n; i++)
            in[i] = (uint8_t)(0xc3 ^ (i * 31 + r));
        CHECK(svmx_mem_write(&m, rows[r].gpa, in, rows[r].n) == SVMX_OK,
              "row %zu (%s): write", r, rows[r].name);
        memcpy(RAM_REF + rows[r].gpa, in, rows[r].n);
        CHECK(arena_intact(), "row %zu (%s): arena after write", r,
              rows[r].name);
        memset(out, 0, rows[r].n);
        CHECK(svmx_mem_read(&m, rows[r].gpa, out, rows[r].n) == SVMX_OK,
              "row %zu (%s): read", r, rows[r].name);
        CHECK(memcmp(in, out, rows[r].n) == 0, "row %zu (%s): data", r,
              rows[r].name);
        CHECK(rec.count == 0, "row %zu (%s): handler called", r,
              rows[r].name);
    }
    assert_arena("round trip");
}

/* Accesses at and past the end of RAM with nothing to answer them. */
static void test_unbacked(void **state)
{
    (void)state;
    static const struct {
        const char        *name;
        const svmx_io_ops *io;
    } ios[] = {
        { "io NULL", NULL },
        { "io without callbacks", &io_empty_ops },
    };
    static const struct {
        uint64_t gpa;
        size_t   n;
        size_t   in_ram; /* leading bytes that are RAM */
    } rows[] = {
        { 0x100, 8, 0 },         { 0xfff, 2, 0 },
        { 0xfc, 8, 4 },          { 0xff, 1, 1 },
        { 0xf8, 32, 8 },         { UINT64_MAX, 1, 0 },
        { UINT64_MAX - 3, 8, 4 }, /* wraps: last 4 bytes are RAM 0..3 */
    };
    for (size_t k = 0; k < sizeof ios / sizeof ios[0]; k++) {
        for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
            svmx_mem m = make_mem(0x100, ios[k].io);
            uint8_t buf[40], want[40];
            size_t n = rows[r].n, lead = 0;
            /* Wrapped rows have the RAM bytes at the end of the buffer. */
            bool wraps = rows[r].gpa > UINT64_MAX - n;
            if (wraps)
                lead = n - rows[r].in_ram;
            memset(want, 0xff, n);
            if (wraps)
                memcpy(want + lead, RAM, rows[r].in_ram);
            else
                memcpy(want, RAM + rows[r].gpa, rows[r].in_ram);
            memset(buf, 0, sizeof buf);
            CHECK(svmx_mem_read(&m, rows[r].gpa, buf, n) == SVMX_OK,
                  "%s row %zu: read", ios[k].name, r);
            CHECK(memcmp(buf, want, n) == 0, "%s row %zu: read data",
                  ios[k].name, r);
            /* Writes reach the RAM part only. */
            memset(buf, 0x5a, n);
            CHECK(svmx_mem_write(&m, rows[r].gpa, buf, n) == SVMX_OK,
                  "%s row %zu: write", ios[k].name, r);
            if (wraps)
                memset(RAM_REF, 0x5a, rows[r].in_ram);
            else
                memset(RAM_REF + rows[r].gpa, 0x5a, rows[r].in_ram);
            CHECK(arena_intact(), "%s row %zu: arena after write",
                  ios[k].name, r);
            CHECK(rec.count == 0, "%s row %zu: handler called", ios[k].name,
                  r);
        }
    }
    assert_arena("unbacked");
}

/* ---- splitting ---------------------------------------------------------- */

/*
 * Explicit split rows: where the non-RAM part goes and in which pieces.
 * Wraparound: byte i of an access is at (gpa + i) mod 2^64, so the bytes
 * past 2^64 land at 0, which is RAM when there is any.
 */
static const struct split_row {
    const char *name;
    uint64_t    ram_size, gpa;
    size_t      n;
    unsigned    npieces;
    piece       want[6];
} split_rows[] = {
    { "straddle by 2", 0x1000, 0xffe, 4, 1, { { 0x1000, 2 } } },
    { "straddle by 1", 0x1000, 0xff9, 8, 1, { { 0x1000, 1 } } },
    { "straddle, page cut", 0xffe, 0xffa, 8, 2,
      { { 0xffe, 2 }, { 0x1000, 2 } } },
    { "straddle 3 = 2+1", 0xffd, 0xff8, 8, 2, { { 0xffd, 2 }, { 0xfff, 1 } } },
    { "straddle 5 = 4+1", 0x1003, 0x1000, 8, 2,
      { { 0x1003, 4 }, { 0x1007, 1 } } },
    { "straddle 7 over page", 0xffd, 0xffc, 8, 3,
      { { 0xffd, 2 }, { 0xfff, 1 }, { 0x1000, 4 } } },
    { "no RAM, page cross", 0, 0xffd, 8, 4,
      { { 0xffd, 2 }, { 0xfff, 1 }, { 0x1000, 4 }, { 0x1004, 1 } } },
    { "MMIO page cross", 0x1000, 0x1ffc, 8, 2,
      { { 0x1ffc, 4 }, { 0x2000, 4 } } },
    { "24 bytes = 8+8+8", 0x10, 0x20, 24, 3,
      { { 0x20, 8 }, { 0x28, 8 }, { 0x30, 8 } } },
    { "13 bytes = 8+4+1", 0x10, 0x21, 13, 3,
      { { 0x21, 8 }, { 0x29, 4 }, { 0x2d, 1 } } },
    { "wrap into RAM", 16, UINT64_MAX - 2, 8, 2,
      { { UINT64_MAX - 2, 2 }, { UINT64_MAX, 1 } } },
    { "wrap, no RAM", 0, UINT64_MAX - 2, 8, 4,
      { { UINT64_MAX - 2, 2 }, { UINT64_MAX, 1 }, { 0, 4 }, { 4, 1 } } },
    { "wrap, all RAM after", 0x1000, UINT64_MAX, 8, 1, { { UINT64_MAX, 1 } } },
};

/* Expected byte i of a read, from the reference image and mmio_byte(). */
static uint8_t want_read(uint64_t ram_size, uint64_t a, bool handler)
{
    if (a < ram_size)
        return RAM_REF[a];
    return handler ? mmio_byte(a) : 0xff;
}

static void test_split_table(void **state)
{
    (void)state;
    for (size_t r = 0; r < sizeof split_rows / sizeof split_rows[0]; r++) {
        const struct split_row *row = &split_rows[r];
        char what[96];
        piece ref[LOG_MAX];
        uint8_t buf[64], data[64];

        /* The table and the reference split agree with each other. */
        unsigned nref = ref_pieces(row->ram_size, row->gpa, row->n, ref,
                                   LOG_MAX);
        snprintf(what, sizeof what, "row %zu (%s) reference", r, row->name);
        CHECK(nref == row->npieces, "%s: %u pieces", what, nref);
        for (unsigned j = 0; j < nref; j++)
            CHECK(ref[j].addr == row->want[j].addr &&
                  ref[j].size == row->want[j].size, "%s: piece %u", what, j);

        svmx_mem m = make_mem(row->ram_size, &io_rec_ops);
        snprintf(what, sizeof what, "row %zu (%s) read", r, row->name);
        CHECK(svmx_mem_read(&m, row->gpa, buf, row->n) == SVMX_OK, "%s", what);
        check_log(what, 'r', 0, row->want, row->npieces);
        for (size_t i = 0; i < row->n; i++)
            CHECK(buf[i] == want_read(row->ram_size, row->gpa + i, true),
                  "%s: byte %zu", what, i);

        snprintf(what, sizeof what, "row %zu (%s) write", r, row->name);
        for (size_t i = 0; i < row->n; i++)
            data[i] = (uint8_t)(0x40 + i);
        rec_reset();
        CHECK(svmx_mem_write(&m, row->gpa, data, row->n) == SVMX_OK, "%s",
              what);
        check_log(what, 'w', 0, row->want, row->npieces);
        /* Each piece carries its bytes little-endian; RAM gets the rest. */
        for (unsigned j = 0; j < row->npieces; j++) {
            size_t off = (size_t)(row->want[j].addr - row->gpa);
            uint64_t v = 0;
            for (unsigned b = 0; b < row->want[j].size; b++)
                v |= (uint64_t)data[off + b] << (8 * b);
            CHECK(rec.log[j].value == v, "%s: piece %u value", what, j);
        }
        for (size_t i = 0; i < row->n; i++) {
            uint64_t a = row->gpa + i;
            if (a < row->ram_size)
                RAM_REF[a] = data[i];
        }
        CHECK(arena_intact(), "%s: arena", what);
    }
}

/* Scalars straddling the end of RAM by 1..size-1 bytes, several RAM ends. */
static void test_straddle_scalar(void **state)
{
    (void)state;
    static const uint64_t ram_sizes[] = { 0x1000, 0xffe, 0xffd, 0xff9,
                                          0x1003, 0x2ffa, 1 };
    static const unsigned sizes[] = { 2, 4, 8 };
    for (size_t rs = 0; rs < sizeof ram_sizes / sizeof ram_sizes[0]; rs++) {
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            unsigned size = sizes[si];
            for (unsigned over = 1; over < size; over++) {
                uint64_t ram_size = ram_sizes[rs];
                if (size - over > ram_size)
                    continue;
                uint64_t gpa = ram_size - (size - over);
                char what[96];
                piece ref[16];
                unsigned nref = ref_pieces(ram_size, gpa, size, ref, 16);
                svmx_mem m = make_mem(ram_size, &io_rec_ops);

                snprintf(what, sizeof what, "ram %#llx size %u over %u read",
                         (unsigned long long)ram_size, size, over);
                uint64_t v = 0, want = 0;
                CHECK(svmx_mem_read_u(&m, gpa, size, &v) == SVMX_OK, "%s",
                      what);
                for (unsigned i = 0; i < size; i++)
                    want |= (uint64_t)want_read(ram_size, gpa + i, true)
                            << (8 * i);
                CHECK(v == want, "%s: %#llx, want %#llx", what,
                      (unsigned long long)v, (unsigned long long)want);
                check_log(what, 'r', 0, ref, nref);
                CHECK(rec.log[0].addr == ram_size, "%s: first piece", what);

                snprintf(what, sizeof what, "ram %#llx size %u over %u write",
                         (unsigned long long)ram_size, size, over);
                uint64_t w = 0x8877665544332211u;
                rec_reset();
                CHECK(svmx_mem_write_u(&m, gpa, size, w) == SVMX_OK, "%s",
                      what);
                check_log(what, 'w', 0, ref, nref);
                for (unsigned i = 0; i < size - over; i++)
                    RAM_REF[gpa + i] = (uint8_t)(w >> (8 * i));
                /* The MMIO pieces together hold the high `over` bytes. */
                uint64_t got = 0;
                for (unsigned j = 0; j < nref; j++)
                    got |= rec.log[j].value << (8 * (rec.log[j].addr - gpa));
                uint64_t mask = size == 8 ? ~0ull : (1ull << (8 * size)) - 1;
                uint64_t ram_mask = (1ull << (8 * (size - over))) - 1;
                CHECK(got == (w & mask & ~ram_mask), "%s: MMIO bytes", what);
                CHECK(arena_intact(), "%s: arena", what);
            }
        }
    }
}

/* The brief's example: RAM of 16 at 0, 8 bytes at 2^64 - 3. */
static void test_wraparound(void **state)
{
    (void)state;
    uint8_t buf[8];
    const uint8_t w[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    svmx_mem m = make_mem(16, NULL);

    assert_int_equal(svmx_mem_read(&m, UINT64_MAX - 2, buf, 8), SVMX_OK);
    for (unsigned i = 0; i < 8; i++)
        assert_int_equal(buf[i], i < 3 ? 0xff : RAM_REF[i - 3]);
    assert_int_equal(svmx_mem_write(&m, UINT64_MAX - 2, w, 8), SVMX_OK);
    memcpy(RAM_REF, w + 3, 5); /* bytes 0..4; 5..15 and the guards stay */
    assert_arena("wrap write");
    assert_null(svmx_mem_ram_ptr(&m, UINT64_MAX - 2, 8));

    uint64_t v;
    assert_int_equal(svmx_mem_read_u(&m, UINT64_MAX, 2, &v), SVMX_OK);
    assert_int_equal(v, 0xffu | (uint64_t)RAM_REF[0] << 8);
    assert_arena("wraparound");
}

/* ---- edge cases --------------------------------------------------------- */

static void test_ram_size_zero(void **state)
{
    (void)state;
    uint8_t buf[4];
    svmx_mem m;

    /* A real pointer with size 0: RAM must still never be touched. */
    arena_reset(0);
    rec_reset();
    assert_int_equal(svmx_mem_setup(&m, RAM, 0, NULL), SVMX_OK);
    assert_int_equal(svmx_mem_read(&m, 0, buf, 4), SVMX_OK);
    assert_memory_equal(buf, "\xff\xff\xff\xff", 4);
    assert_int_equal(svmx_mem_write(&m, 0, "abcd", 4), SVMX_OK);
    assert_null(svmx_mem_ram_ptr(&m, 0, 0));
    assert_null(svmx_mem_ram_ptr(&m, 0, 1));
    assert_arena("size 0, ram set");

    m = make_mem(0, &io_rec_ops);
    assert_null(m.ram);
    assert_int_equal(svmx_mem_read(&m, 0, buf, 4), SVMX_OK);
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(buf[i], mmio_byte(i));
    const piece want[] = { { 0, 4 } };
    check_log("size 0 read", 'r', 0, want, 1);
    assert_null(svmx_mem_ram_ptr(&m, 0, 0));
    assert_arena("size 0");
}

static void test_ram_ptr(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        uint64_t    gpa;
        size_t      n;
        bool        ok;
    } rows[] = {
        { "all of RAM", 0, 16, true },
        { "one past", 0, 17, false },
        { "last byte", 15, 1, true },
        { "at end", 16, 1, false },
        { "n 0 inside", 15, 0, true },
        { "n 0 at start", 0, 0, true },
        { "n 0 at end", 16, 0, false },
        { "n 0 far", 0x1000, 0, false },
        { "wraps", UINT64_MAX, 2, false },
        { "huge n", 1, SIZE_MAX, false },
        { "huge gpa", UINT64_MAX, 1, false },
    };
    svmx_mem m = make_mem(16, NULL);
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        uint8_t *p = svmx_mem_ram_ptr(&m, rows[r].gpa, rows[r].n);
        if (rows[r].ok)
            CHECK(p == RAM + rows[r].gpa, "row %zu (%s): pointer", r,
                  rows[r].name);
        else
            CHECK(p == NULL, "row %zu (%s): not NULL", r, rows[r].name);
    }
    assert_arena("ram_ptr");
}

static void test_handler_failure(void **state)
{
    (void)state;
    static const svmx_status statuses[] = { SVMX_E_UNSUPPORTED, SVMX_E_STATE,
                                            SVMX_E_INTERNAL };
    /* RAM 0..0xffc, then pieces (0xffd,2) (0xfff,1) (0x1000,4) (0x1004,1). */
    const uint64_t ram_size = 0xffd, gpa = 0xff9;
    const size_t n = 12;
    for (size_t s = 0; s < sizeof statuses / sizeof statuses[0]; s++) {
        for (unsigned at = 1; at <= 4; at++) {
            uint8_t buf[12];
            svmx_mem m = make_mem(ram_size, &io_rec_ops);
            rec.fail_at = at;
            rec.fail_status = statuses[s];
            memset(buf, 0, sizeof buf);
            CHECK(svmx_mem_read(&m, gpa, buf, n) == statuses[s],
                  "status %zu, fail at %u: read", s, at);
            CHECK(rec.count == at, "status %zu, fail at %u: read calls %u", s,
                  at, rec.count);
            CHECK(memcmp(buf, RAM_REF + gpa, 4) == 0,
                  "status %zu, fail at %u: RAM part", s, at);

            rec_reset();
            rec.fail_at = at;
            rec.fail_status = statuses[s];
            CHECK(svmx_mem_write(&m, gpa, "ABCDEFGHIJKL", n) == statuses[s],
                  "status %zu, fail at %u: write", s, at);
            CHECK(rec.count == at, "status %zu, fail at %u: write calls", s,
                  at);
            memcpy(RAM_REF + gpa, "ABCD", 4); /* RAM goes first */
            CHECK(arena_intact(), "status %zu, fail at %u: arena", s, at);

            uint64_t v = 0x77;
            rec_reset();
            rec.fail_at = 1;
            rec.fail_status = statuses[s];
            CHECK(svmx_mem_read_u(&m, 0x2000, 8, &v) == statuses[s],
                  "status %zu: read_u", s);
            CHECK(v == 0x77, "status %zu: read_u wrote value", s);
            rec_reset();
            rec.fail_at = 1;
            rec.fail_status = statuses[s];
            CHECK(svmx_mem_write_u(&m, 0x2000, 8, 0) == statuses[s],
                  "status %zu: write_u", s);

            uint32_t p = 0x99;
            rec_reset();
            rec.fail_at = 1;
            rec.fail_status = statuses[s];
            CHECK(svmx_mem_pio_in(&m, 0x60, 1, &p) == statuses[s],
                  "status %zu: pio_in", s);
            CHECK(p == 0x99, "status %zu: pio_in wrote value", s);
            rec_reset();
            rec.fail_at = 1;
            rec.fail_status = statuses[s];
            CHECK(svmx_mem_pio_out(&m, 0x60, 1, 0) == statuses[s],
                  "status %zu: pio_out", s);
        }
    }
    assert_arena("handler failure");
}

/* ---- scalars ------------------------------------------------------------ */

static void test_scalar(void **state)
{
    (void)state;
    static const struct {
        unsigned size;
        uint64_t value;
        uint8_t  bytes[8];
    } rows[] = {
        { 1, 0xa5, { 0xa5 } },
        { 1, 0x1122334455667788u, { 0x88 } },
        { 2, 0xbeef, { 0xef, 0xbe } },
        { 2, 0x1122334455667788u, { 0x88, 0x77 } },
        { 4, 0xdeadbeef, { 0xef, 0xbe, 0xad, 0xde } },
        { 4, 0x1122334455667788u, { 0x88, 0x77, 0x66, 0x55 } },
        { 8, 0x0102030405060708u, { 8, 7, 6, 5, 4, 3, 2, 1 } },
        { 8, UINT64_MAX, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } },
    };
    svmx_mem m = make_mem(64, &io_rec_ops);
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        unsigned size = rows[r].size;
        uint64_t gpa = 8 + r * 3, v = 0;
        CHECK(svmx_mem_write_u(&m, gpa, size, rows[r].value) == SVMX_OK,
              "row %zu: write_u", r);
        memcpy(RAM_REF + gpa, rows[r].bytes, size);
        CHECK(arena_intact(), "row %zu: bytes in RAM", r);
        CHECK(svmx_mem_read_u(&m, gpa, size, &v) == SVMX_OK,
              "row %zu: read_u", r);
        uint64_t mask = size == 8 ? UINT64_MAX : (1ull << (8 * size)) - 1;
        CHECK(v == (rows[r].value & mask), "row %zu: read back %#llx", r,
              (unsigned long long)v);
        /* From MMIO: only `size` bytes of the handler's value count. */
        CHECK(svmx_mem_read_u(&m, 0x5000, size, &v) == SVMX_OK,
              "row %zu: MMIO read_u", r);
        uint64_t want = 0;
        for (unsigned i = 0; i < size; i++)
            want |= (uint64_t)mmio_byte(0x5000 + i) << (8 * i);
        CHECK(v == want, "row %zu: MMIO value %#llx", r,
              (unsigned long long)v);
        rec_reset();
        CHECK(svmx_mem_write_u(&m, 0x5000, size, rows[r].value) == SVMX_OK,
              "row %zu: MMIO write_u", r);
        CHECK(rec.count == 1 && rec.log[0].size == size &&
              rec.log[0].value == (rows[r].value & mask),
              "row %zu: MMIO write value", r);
        rec_reset();
    }

    static const unsigned bad[] = { 0, 3, 5, 6, 7, 9, 16, 0xffffffffu };
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
        uint64_t v = 0x55;
        CHECK(svmx_mem_read_u(&m, 0, bad[b], &v) == SVMX_E_ARG,
              "bad size %u: read_u", bad[b]);
        CHECK(v == 0x55, "bad size %u: read_u wrote", bad[b]);
        CHECK(svmx_mem_write_u(&m, 0, bad[b], 0) == SVMX_E_ARG,
              "bad size %u: write_u", bad[b]);
        CHECK(svmx_mem_read_u(&m, 0x5000, bad[b], &v) == SVMX_E_ARG,
              "bad size %u: MMIO read_u", bad[b]);
        CHECK(rec.count == 0, "bad size %u: handler called", bad[b]);
    }
    assert_arena("scalar");
}

/* ---- port I/O ----------------------------------------------------------- */

static void test_pio(void **state)
{
    (void)state;
    static const struct {
        unsigned size;
        uint32_t ones, from_handler, out, out_masked;
    } rows[] = {
        { 1, 0xffu, 0xd4u, 0x11223344u, 0x44u },
        { 2, 0xffffu, 0xc3d4u, 0x11223344u, 0x3344u },
        { 4, 0xffffffffu, 0xa1b2c3d4u, 0x11223344u, 0x11223344u },
    };
    static const svmx_io_ops *none[] = { NULL, &io_empty_ops };
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        uint32_t v;
        for (size_t k = 0; k < 2; k++) {
            svmx_mem m = make_mem(16, none[k]);
            v = 0;
            CHECK(svmx_mem_pio_in(&m, 0x3f8, rows[r].size, &v) == SVMX_OK,
                  "row %zu io %zu: in", r, k);
            CHECK(v == rows[r].ones, "row %zu io %zu: in %#x", r, k,
                  (unsigned)v);
            CHECK(svmx_mem_pio_out(&m, 0x3f8, rows[r].size, 1) == SVMX_OK,
                  "row %zu io %zu: out", r, k);
            CHECK(rec.count == 0, "row %zu io %zu: handler called", r, k);
        }
        svmx_mem m = make_mem(16, &io_rec_ops);
        v = 0;
        CHECK(svmx_mem_pio_in(&m, 0xcf8, rows[r].size, &v) == SVMX_OK,
              "row %zu: handler in", r);
        CHECK(v == rows[r].from_handler, "row %zu: in %#x", r, (unsigned)v);
        CHECK(svmx_mem_pio_out(&m, 0xffff, rows[r].size, rows[r].out) ==
              SVMX_OK, "row %zu: handler out", r);
        CHECK(rec.count == 2 && rec.log[0].op == 'i' &&
              rec.log[0].addr == 0xcf8 && rec.log[0].size == rows[r].size,
              "row %zu: in call", r);
        CHECK(rec.log[1].op == 'o' && rec.log[1].addr == 0xffff &&
              rec.log[1].size == rows[r].size &&
              rec.log[1].value == rows[r].out_masked, "row %zu: out call", r);
    }

    static const unsigned bad[] = { 0, 3, 8, 0xffffffffu };
    svmx_mem m = make_mem(16, &io_rec_ops);
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
        uint32_t v = 0x42;
        CHECK(svmx_mem_pio_in(&m, 0x80, bad[b], &v) == SVMX_E_ARG,
              "bad size %u: in", bad[b]);
        CHECK(v == 0x42, "bad size %u: in wrote", bad[b]);
        CHECK(svmx_mem_pio_out(&m, 0x80, bad[b], 0) == SVMX_E_ARG,
              "bad size %u: out", bad[b]);
    }
    assert_int_equal(rec.count, 0);
    assert_arena("pio");
}

/* ---- randomized against a byte-by-byte model ----------------------------- */

static uint64_t rng_state;

static uint64_t xorshift64(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static uint64_t rnd(uint64_t n)
{
    return xorshift64() % n;
}

/* An address near something interesting: RAM end, a page, 0 or 2^64. */
static uint64_t pick_gpa(uint64_t ram_size)
{
    uint64_t delta = rnd(161) - 80; /* wraps for "below" */
    switch (rnd(4)) {
    case 0: return ram_size + delta;
    case 1: return (rnd(5) * PAGE) + delta;
    case 2: return UINT64_MAX - rnd(80);
    default: return rnd(80);
    }
}

static void test_random(void **state)
{
    (void)state;
    static const uint64_t ram_sizes[] = { 0, 1, 7, 8, 0xffd, 0x1000, 0x1003,
                                          0x2000, 0x2ff9, RAM_MAX };
    static const svmx_io_ops *ios[] = { NULL, &io_empty_ops, &io_rec_ops };
    svmx_mem m = make_mem(0, NULL);
    uint64_t ram_size = 0;
    rng_state = 0x9e3779b97f4a7c15u;

    for (unsigned it = 0; it < 100000; it++) {
        if (it % 1000 == 0) {
            ram_size = ram_sizes[rnd(sizeof ram_sizes / sizeof ram_sizes[0])];
            m = make_mem(ram_size, NULL);
        }
        m.io = ios[rnd(3)];
        bool handler = m.io == &io_rec_ops;
        uint64_t gpa = pick_gpa(ram_size);
        size_t n = (size_t)rnd(65);
        bool write = rnd(2);
        bool scalar = (n == 1 || n == 2 || n == 4 || n == 8) && rnd(2);
        uint8_t buf[80], data[64];
        piece ref[LOG_MAX];
        unsigned nref = ref_pieces(ram_size, gpa, n, ref, LOG_MAX);
        char what[128];
        snprintf(what, sizeof what,
                 "iteration %u: %s%s ram %#llx gpa %#llx n %zu io %d", it,
                 write ? "write" : "read", scalar ? "_u" : "",
                 (unsigned long long)ram_size, (unsigned long long)gpa, n,
                 handler ? 2 : m.io ? 1 : 0);
        rec_reset();

        if (!write) {
            memset(buf, 0xcc, sizeof buf);
            if (scalar) {
                uint64_t v = 0;
                CHECK(svmx_mem_read_u(&m, gpa, (unsigned)n, &v) == SVMX_OK,
                      "%s", what);
                for (size_t i = 0; i < n; i++)
                    buf[i] = (uint8_t)(v >> (8 * i));
            } else {
                CHECK(svmx_mem_read(&m, gpa, buf, n) == SVMX_OK, "%s", what);
            }
            for (size_t i = 0; i < n; i++)
                CHECK(buf[i] == want_read(ram_size, gpa + i, handler),
                      "%s: byte %zu", what, i);
            for (size_t i = n; i < sizeof buf; i++)
                CHECK(buf[i] == 0xcc, "%s: wrote past n at %zu", what, i);
            if (handler)
                check_log(what, 'r', 0, ref, nref);
        } else {
            for (size_t i = 0; i < n; i++)
                data[i] = (uint8_t)xorshift64();
            if (scalar) {
                uint64_t v = 0;
                for (size_t i = 0; i < n; i++)
                    v |= (uint64_t)data[i] << (8 * i);
                if (n < 8)
                    v |= xorshift64() << (8 * n); /* junk above n */
                CHECK(svmx_mem_write_u(&m, gpa, (unsigned)n, v) == SVMX_OK,
                      "%s", what);
            } else {
                CHECK(svmx_mem_write(&m, gpa, data, n) == SVMX_OK, "%s",
                      what);
            }
            for (size_t i = 0; i < n; i++) {
                uint64_t a = gpa + i;
                if (a < ram_size)
                    RAM_REF[a] = data[i];
            }
            if (handler) {
                check_log(what, 'w', 0, ref, nref);
                for (unsigned j = 0; j < nref; j++) {
                    size_t off = (size_t)(ref[j].addr - gpa);
                    for (unsigned b = 0; b < ref[j].size; b++)
                        CHECK((uint8_t)(rec.log[j].value >> (8 * b)) ==
                              data[off + b], "%s: piece %u byte %u", what, j,
                              b);
                }
            }
        }
        if (!handler)
            CHECK(rec.count == 0, "%s: handler called", what);
        if (!arena_intact())
            assert_arena(what);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_setup_args, teardown_arena),
        cmocka_unit_test_teardown(test_null_args, teardown_arena),
        cmocka_unit_test_teardown(test_ram_round_trip, teardown_arena),
        cmocka_unit_test_teardown(test_unbacked, teardown_arena),
        cmocka_unit_test_teardown(test_split_table, teardown_arena),
        cmocka_unit_test_teardown(test_straddle_scalar, teardown_arena),
        cmocka_unit_test_teardown(test_wraparound, teardown_arena),
        cmocka_unit_test_teardown(test_ram_size_zero, teardown_arena),
        cmocka_unit_test_teardown(test_ram_ptr, teardown_arena),
        cmocka_unit_test_teardown(test_handler_failure, teardown_arena),
        cmocka_unit_test_teardown(test_scalar, teardown_arena),
        cmocka_unit_test_teardown(test_pio, teardown_arena),
        cmocka_unit_test_teardown(test_random, teardown_arena),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
