/*
 * tests/test_multiboot.c - the multiboot kernel loader of `svmx run`
 * (tools/multiboot.c), checked against what QEMU's -kernel does.
 *
 * Images are built in memory: an ELF32 with chosen segments and a flat
 * image with chosen address fields. RAM starts as 0xCC and sits between
 * guard bytes, so every test sees exactly which bytes the loader wrote and
 * that it wrote nothing outside RAM. Refusals are table rows (a base image
 * plus a few patched fields) checked by one loop that names the row; every
 * refused image must leave RAM and registers untouched. A fixed-seed
 * mutation loop feeds 20000 broken variants of each base image through the
 * loader, each copied to an exact-size heap block so ASan sees any read
 * past the image.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svmx/svmx.h"
#include "../tools/multiboot.h"
#include "test_util.h"

#define KIB   1024u
#define MIB   (1024u * 1024u)
#define GUARD 4096u
#define FILL  0xccu

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (!(cond))                                                          \
            fail_msg(__VA_ARGS__);                                            \
    } while (0)

/* ---- the machine: RAM between guards, one CPU ----------------------- */

typedef struct machine {
    uint8_t  *arena; /* GUARD + ram + GUARD */
    uint8_t  *ram;
    uint64_t  size;
    svmx_cpu *cpu;
} machine;

static uint8_t guard_byte(size_t i)
{
    return (uint8_t)(0x5a ^ (i * 29u));
}

static machine machine_new(uint64_t ram_size)
{
    machine m = { 0 };
    m.size = ram_size;
    m.arena = malloc(GUARD + ram_size + GUARD);
    assert_non_null(m.arena);
    for (size_t i = 0; i < GUARD; i++) {
        m.arena[i] = guard_byte(i);
        m.arena[GUARD + ram_size + i] = guard_byte(i + 1);
    }
    m.ram = m.arena + GUARD;
    memset(m.ram, FILL, ram_size);
    svmx_config cfg = { .vendor = SVMX_VENDOR_AMD, .ram = m.ram,
                        .ram_size = ram_size, .io = NULL };
    assert_int_equal(svmx_cpu_create(&cfg, &m.cpu), SVMX_OK);
    return m;
}

static bool guards_intact(const machine *m)
{
    for (size_t i = 0; i < GUARD; i++)
        if (m->arena[i] != guard_byte(i) ||
            m->arena[GUARD + m->size + i] != guard_byte(i + 1))
            return false;
    return true;
}

static void machine_free(machine *m)
{
    CHECK(guards_intact(m), "a guard byte around RAM changed");
    svmx_cpu_destroy(m->cpu);
    free(m->arena);
}

static uint32_t ld32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t ld64(const uint8_t *p)
{
    return ld32(p) | (uint64_t)ld32(p + 4) << 32;
}

static void st16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void st32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Is RAM[a, b) all FILL, i.e. untouched? */
static bool untouched(const machine *m, uint64_t a, uint64_t b)
{
    for (uint64_t i = a; i < b; i++)
        if (m->ram[i] != FILL)
            return false;
    return true;
}

static bool all_zero(const machine *m, uint64_t a, uint64_t b)
{
    for (uint64_t i = a; i < b; i++)
        if (m->ram[i] != 0)
            return false;
    return true;
}

/* ---- image builders ------------------------------------------------- */

/* Distinct bytes per segment, so a misplaced copy shows. */
static uint8_t pat(uint8_t seed, size_t k)
{
    return (uint8_t)(seed + k * 7u + (k >> 8));
}

/* Multiboot header at `off`: magic, flags, checksum; bit 16 fields. */
static void put_header(uint8_t *b, size_t off, uint32_t flags)
{
    st32(b + off, 0x1badb002u);
    st32(b + off + 4, flags);
    st32(b + off + 8, (uint32_t)(0u - 0x1badb002u - flags));
}

static void fix_checksum(uint8_t *b, size_t off)
{
    st32(b + off + 8, (uint32_t)(0u - 0x1badb002u - ld32(b + off + 4)));
}

static void put_addr(uint8_t *b, size_t off, uint32_t header_addr,
                     uint32_t load_addr, uint32_t load_end, uint32_t bss_end,
                     uint32_t entry)
{
    st32(b + off + 12, header_addr);
    st32(b + off + 16, load_addr);
    st32(b + off + 20, load_end);
    st32(b + off + 24, bss_end);
    st32(b + off + 28, entry);
}

typedef struct tseg {
    uint32_t type, paddr, vaddr, filesz, memsz, flags;
    uint8_t  seed;
} tseg;

#define PT_LOAD 1u
#define PT_NOTE 4u
#define PF_X    1u
#define PF_W    2u
#define PF_R    4u

static size_t align_up(size_t n, size_t a)
{
    return (n + a - 1) / a * a;
}

/* Offset of the multiboot header build_elf() writes for n segments. */
static size_t elf_mb_off(unsigned n)
{
    return align_up(52 + 32 * (size_t)n, 4);
}

/* Offset of segment k's file bytes; *seg_off[k] on return. */
static size_t build_elf(uint8_t *b, size_t cap, const tseg *s, unsigned n,
                        uint32_t entry, uint32_t mbflags, size_t *seg_off)
{
    size_t mb = elf_mb_off(n), off = align_up(mb + 48, 16);
    memset(b, 0, cap);
    memcpy(b, "\x7f" "ELF\x01\x01\x01", 7);
    st16(b + 16, 2);  /* ET_EXEC */
    st16(b + 18, 3);  /* EM_386  */
    st32(b + 20, 1);
    st32(b + 24, entry);
    st32(b + 28, 52); /* e_phoff */
    st16(b + 40, 52);
    st16(b + 42, 32);
    st16(b + 44, (uint32_t)n);
    for (unsigned k = 0; k < n; k++) {
        uint8_t *ph = b + 52 + 32 * k;
        st32(ph, s[k].type);
        st32(ph + 4, (uint32_t)off);
        st32(ph + 8, s[k].vaddr);
        st32(ph + 12, s[k].paddr);
        st32(ph + 16, s[k].filesz);
        st32(ph + 20, s[k].memsz);
        st32(ph + 24, s[k].flags);
        st32(ph + 28, 16);
        assert_true(off + s[k].filesz <= cap);
        for (size_t i = 0; i < s[k].filesz; i++)
            b[off + i] = pat(s[k].seed, i);
        if (seg_off)
            seg_off[k] = off;
        off = align_up(off + s[k].filesz, 16);
    }
    put_header(b, mb, mbflags);
    return off;
}

/* `size` pattern bytes with a header at hdr; fields only if bit 16. */
static size_t build_flat(uint8_t *b, size_t size, size_t hdr, uint32_t flags,
                         uint32_t header_addr, uint32_t load_addr,
                         uint32_t load_end, uint32_t bss_end, uint32_t entry)
{
    for (size_t i = 0; i < size; i++)
        b[i] = pat(0x11, i);
    put_header(b, hdr, flags);
    if (flags & 0x10000u)
        put_addr(b, hdr, header_addr, load_addr, load_end, bss_end, entry);
    return size;
}

/* The two base images the refusal table and the mutation loop start from. */
static const tseg base_segs[] = {
    { PT_LOAD, 0x100000, 0x100000, 0x1000, 0x1000, PF_R | PF_X, 0x20 },
    { PT_LOAD, 0x102000, 0x102000, 0x100, 0x2000, PF_R | PF_W, 0x40 },
};
#define ELF_MB   116u  /* elf_mb_off(2)  */
#define ELF_PH0  52u
#define ELF_PH1  84u
#define FLAT_MB  0x40u
#define FLAT_LEN 0x3000u

static size_t base_elf(uint8_t *b, size_t cap)
{
    return build_elf(b, cap, base_segs, 2, 0x100010, 0x3, NULL);
}

static size_t base_flat(uint8_t *b)
{
    return build_flat(b, FLAT_LEN, FLAT_MB, 0x10003, 0x200040, 0x200000, 0,
                      0x205000, 0x200100);
}

/* ---- shared checks -------------------------------------------------- */

static int load(machine *m, const uint8_t *img, size_t size,
                const char *name, const char *append, mb_info *info,
                char *err, size_t errlen)
{
    return mb_load(m->cpu, img, size, name, append, info, err, errlen);
}

static void check_entry_state(const machine *m, uint32_t entry)
{
    svmx_regs r;
    svmx_sregs s;
    assert_int_equal(svmx_cpu_get_regs(m->cpu, &r), SVMX_OK);
    assert_int_equal(svmx_cpu_get_sregs(m->cpu, &s), SVMX_OK);

    assert_int_equal(r.rip, entry);
    assert_int_equal(r.gpr[SVMX_RAX], 0x2badb002u);
    assert_int_equal(r.gpr[SVMX_RBX], 0x9500u);
    assert_int_equal(r.gpr[SVMX_RCX], entry);
    assert_int_equal(r.gpr[SVMX_RSP], 0x7000u);
    for (unsigned i = 0; i < SVMX_GPR_COUNT; i++)
        if (i != SVMX_RAX && i != SVMX_RBX && i != SVMX_RCX && i != SVMX_RSP)
            CHECK(r.gpr[i] == 0, "GPR %u = 0x%llx", i,
                  (unsigned long long)r.gpr[i]);
    assert_int_equal(r.rflags, 0x2u);

    static const svmx_sreg data[] = { SVMX_DS, SVMX_ES, SVMX_FS, SVMX_GS,
                                      SVMX_SS };
    assert_int_equal(s.seg[SVMX_CS].selector, 0x08);
    assert_int_equal(s.seg[SVMX_CS].base, 0);
    assert_int_equal(s.seg[SVMX_CS].limit, 0xffffffffu);
    assert_int_equal(s.seg[SVMX_CS].attr, 0xc9b);
    for (size_t i = 0; i < COUNT_OF(data); i++) {
        const svmx_segment *g = &s.seg[data[i]];
        CHECK(g->selector == 0x10 && g->base == 0 &&
                  g->limit == 0xffffffffu && g->attr == 0xc93,
              "data segment %u: sel 0x%x base 0x%llx limit 0x%x attr 0x%x",
              (unsigned)data[i], g->selector, (unsigned long long)g->base,
              g->limit, g->attr);
    }
    assert_int_equal(s.seg[SVMX_LDTR].attr, 0x82);
    assert_int_equal(s.seg[SVMX_TR].attr, 0x8b);
    assert_int_equal(s.cr0, 0x11);
    assert_int_equal(s.cr3, 0);
    assert_int_equal(s.cr4, 0);
    assert_int_equal(s.efer, 0);
    assert_int_equal(s.gdt.base, 0x9560);
    assert_int_equal(s.gdt.limit, 0x27);
    assert_int_equal(s.idt.base, 0);
    assert_int_equal(s.idt.limit, 0x3ff);
    assert_int_equal(svmx_cpu_mode(m->cpu), SVMX_MODE_PROT32);

    /* The GDT in RAM describes what the selectors hold. */
    const uint8_t *g = m->ram + 0x9560;
    static const uint8_t code[8] = { 0xff, 0xff, 0, 0, 0, 0x9b, 0xcf, 0 };
    static const uint8_t dat[8] = { 0xff, 0xff, 0, 0, 0, 0x93, 0xcf, 0 };
    static const uint8_t zero[8] = { 0 };
    assert_memory_equal(g, zero, 8);
    assert_memory_equal(g + 0x08, code, 8);
    assert_memory_equal(g + 0x10, dat, 8);
}

/* The 24-byte mmap entries, as Multiboot 0.6.96 3.3 lays them out. */
static void check_mmap(const machine *m)
{
    const uint8_t *mbi = m->ram + 0x9500;
    uint32_t len = ld32(mbi + 44), addr = ld32(mbi + 48);
    assert_int_equal(addr, 0x9000);
    struct { uint64_t base, len; uint32_t type; } want[4] = {
        { 0, 0x9fc00, 1 }, { 0x9fc00, 0x400, 2 }, { 0xf0000, 0x10000, 2 },
        { 0x100000, m->size - 0x100000, 1 },
    };
    size_t n = m->size > 0x100000 ? 4 : 3;
    assert_int_equal(len, 24 * n);
    for (size_t k = 0; k < n; k++) {
        const uint8_t *e = m->ram + addr + 24 * k;
        CHECK(ld32(e) == 20 && ld64(e + 4) == want[k].base &&
                  ld64(e + 12) == want[k].len && ld32(e + 20) == want[k].type,
              "mmap entry %zu: size %u base 0x%llx len 0x%llx type %u", k,
              ld32(e), (unsigned long long)ld64(e + 4),
              (unsigned long long)ld64(e + 12), ld32(e + 20));
    }
}

/* MBI fields QEMU fills; cmdline and loader name after the kernel. */
static void check_mbi(const machine *m, const mb_info *info,
                      const char *cmdline)
{
    const uint8_t *mbi = m->ram + 0x9500;
    assert_int_equal(ld32(mbi + 0), 0x24f);
    assert_int_equal(ld32(mbi + 4), 639);
    assert_int_equal(ld32(mbi + 8), (m->size - MIB) / KIB);
    assert_int_equal(ld32(mbi + 12), 0x8000ffffu);
    assert_int_equal(ld32(mbi + 20), 0);            /* mods_count */
    assert_int_equal(ld32(mbi + 24), info->info_start);
    for (unsigned off = 28; off < 44; off += 4)     /* syms */
        assert_int_equal(ld32(mbi + off), 0);
    for (unsigned off = 52; off < 88; off += 4)     /* drives .. vbe */
        if (off != 64)
            assert_int_equal(ld32(mbi + off), 0);
    assert_true(untouched(m, 0x9558, 0x9560));
    assert_true(untouched(m, 0x9588, 0x9600));

    uint32_t c = ld32(mbi + 16), l = ld32(mbi + 64);
    assert_int_equal(c, info->info_start);
    assert_int_equal(c, info->cmdline_addr);
    assert_string_equal((const char *)m->ram + c, cmdline);
    assert_int_equal(l, c + strlen(cmdline) + 1);
    assert_string_equal((const char *)m->ram + l, "svmx");
    /* QEMU's buffer: page-aligned kernel, strings, rounded to a page. */
    assert_int_equal(info->info_start % 4096, info->kernel_start % 4096);
    assert_int_equal((info->info_end - info->kernel_start) % 4096, 0);
    assert_true(all_zero(m, l + 5, info->info_end));
    assert_true(untouched(m, info->info_end, info->info_end + 64));
    check_mmap(m);
    assert_int_equal(info->mem_lower, 639);
    assert_int_equal(info->mem_upper, (m->size - MIB) / KIB);
}

/* ---- loading -------------------------------------------------------- */

static uint8_t img[0x6000];

static void test_elf_load(void **state)
{
    (void)state;
    const tseg segs[] = {
        base_segs[0],
        base_segs[1],
        { PT_NOTE, 0x300000, 0x300000, 0x20, 0x20, PF_R, 0x60 },
    };
    size_t off[3];
    size_t n = build_elf(img, sizeof img, segs, 3, 0x100010, 0x3, off);
    machine m = machine_new(4 * MIB);
    mb_info info;
    char err[256];
    int rc = load(&m, img, n, "kernel.elf", NULL, &info, err, sizeof err);
    CHECK(rc == 0, "refused: %s", err);
    assert_string_equal(err, "");

    assert_true(info.elf);
    assert_int_equal(info.header_offset, elf_mb_off(3));
    assert_int_equal(info.header_flags, 0x3);
    assert_int_equal(info.entry, 0x100010);
    assert_int_equal(info.kernel_start, 0x100000);
    assert_int_equal(info.kernel_end, 0x104000);
    assert_int_equal(info.info_start, 0x104000);
    assert_int_equal(info.info_end, 0x105000);
    assert_int_equal(info.warnings, 0);

    for (size_t i = 0; i < 0x1000; i++)
        CHECK(m.ram[0x100000 + i] == pat(0x20, i), "text byte %zu", i);
    assert_true(all_zero(&m, 0x101000, 0x102000)); /* gap between segments */
    for (size_t i = 0; i < 0x100; i++)
        CHECK(m.ram[0x102000 + i] == pat(0x40, i), "data byte %zu", i);
    assert_true(all_zero(&m, 0x102100, 0x104000)); /* bss */
    assert_true(untouched(&m, 0x300000, 0x300100)); /* PT_NOTE: not loaded */
    assert_true(untouched(&m, 0, 0x9000));
    assert_true(untouched(&m, 0x9600, 0x100000));
    assert_true(untouched(&m, 0x105000, 4 * MIB));

    check_entry_state(&m, 0x100010);
    check_mbi(&m, &info, "kernel.elf ");
    machine_free(&m);
}

/* QEMU's load_elf(): a virtual entry inside an executable segment whose
 * p_vaddr differs from p_paddr becomes physical; otherwise it stays. */
static void test_elf_virtual_entry(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        uint32_t flags, entry, want;
        unsigned warn;
    } cases[] = {
        { "X segment: made physical", PF_R | PF_X, 0xc0100020, 0x100020, 0 },
        { "no PF_X: left virtual", PF_R, 0xc0100020, 0xc0100020,
          MB_WARN_ENTRY },
        { "past p_filesz: left", PF_R | PF_X, 0xc0101800, 0xc0101800,
          MB_WARN_ENTRY },
        { "already physical", PF_R | PF_X, 0x100040, 0x100040, 0 },
    };
    for (size_t k = 0; k < COUNT_OF(cases); k++) {
        tseg s = { PT_LOAD, 0x100000, 0xc0100000, 0x1000, 0x2000,
                   cases[k].flags, 0x33 };
        size_t n = build_elf(img, sizeof img, &s, 1, cases[k].entry, 0, NULL);
        machine m = machine_new(2 * MIB);
        mb_info info;
        char err[256];
        CHECK(load(&m, img, n, "k", "", &info, err, sizeof err) == 0,
              "%s: %s", cases[k].what, err);
        CHECK(info.entry == cases[k].want, "%s: entry 0x%x", cases[k].what,
              info.entry);
        CHECK(info.warnings == cases[k].warn, "%s: warnings %u",
              cases[k].what, info.warnings);
        check_entry_state(&m, cases[k].want);
        CHECK(m.ram[0x100000] == pat(0x33, 0), "%s: not at p_paddr",
              cases[k].what);
        machine_free(&m);
    }
}

static void test_flat_load(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        size_t   hdr;
        uint32_t header_addr, load_addr, load_end, bss_end;
        size_t   file_off, load_size;
        uint32_t kend;
    } cases[] = {
        { "to end of file, bss", 0x40, 0x200040, 0x200000, 0, 0x205000, 0,
          0x3000, 0x205000 },
        { "load_end_addr, bss", 0x40, 0x200040, 0x200000, 0x202000, 0x205000,
          0, 0x2000, 0x205000 },
        { "no bss", 0x40, 0x200040, 0x200000, 0x202800, 0, 0, 0x2800,
          0x202800 },
        { "text after 4 KiB of file", 0x1040, 0x300040, 0x300000, 0, 0,
          0x1000, 0x2000, 0x302000 },
        { "header not at load start", 0x1040, 0x300840, 0x300000, 0,
          0x304000, 0x800, 0x2800, 0x304000 },
    };
    for (size_t k = 0; k < COUNT_OF(cases); k++) {
        size_t n = build_flat(img, FLAT_LEN, cases[k].hdr, 0x10003,
                              cases[k].header_addr, cases[k].load_addr,
                              cases[k].load_end, cases[k].bss_end,
                              cases[k].load_addr + 0x100);
        machine m = machine_new(4 * MIB);
        mb_info info;
        char err[256];
        CHECK(load(&m, img, n, "/tmp/flat.bin", "a=1 b", &info, err,
                   sizeof err) == 0, "%s: %s", cases[k].what, err);
        const uint32_t la = cases[k].load_addr;
        CHECK(!info.elf, "%s: elf", cases[k].what);
        CHECK(info.kernel_start == la && info.kernel_end == cases[k].kend,
              "%s: kernel 0x%x - 0x%x", cases[k].what, info.kernel_start,
              info.kernel_end);
        for (size_t i = 0; i < cases[k].load_size; i++)
            CHECK(m.ram[la + i] == img[cases[k].file_off + i],
                  "%s: byte %zu", cases[k].what, i);
        CHECK(all_zero(&m, la + cases[k].load_size, info.kernel_end),
              "%s: bss not zero", cases[k].what);
        CHECK(untouched(&m, 0x100000, la), "%s: below", cases[k].what);
        check_entry_state(&m, la + 0x100);
        check_mbi(&m, &info, "/tmp/flat.bin a=1 b");
        machine_free(&m);
    }
}

/* QEMU: flag bit 16 decides, not the file format. */
static void test_bit16_beats_elf(void **state)
{
    (void)state;
    size_t n = base_elf(img, sizeof img);
    machine m = machine_new(4 * MIB);
    mb_info info;
    char err[256];

    /* Bit 16 clear: program headers. */
    assert_int_equal(load(&m, img, n, "k", NULL, &info, err, sizeof err), 0);
    assert_true(info.elf);
    assert_int_equal(m.ram[0x100000], pat(0x20, 0));
    assert_true(untouched(&m, 0x180000, 0x180100));
    machine_free(&m);

    /* Bit 16 set: the same file is loaded as flat bytes at load_addr. */
    st32(img + ELF_MB + 4, 0x10003);
    fix_checksum(img, ELF_MB);
    put_addr(img, ELF_MB, 0x180000 + ELF_MB, 0x180000, 0, 0, 0x180200);
    m = machine_new(4 * MIB);
    assert_int_equal(load(&m, img, n, "k", NULL, &info, err, sizeof err), 0);
    assert_false(info.elf);
    assert_memory_equal(m.ram + 0x180000, img, n);
    assert_true(untouched(&m, 0x100000, 0x180000));
    check_entry_state(&m, 0x180200);
    machine_free(&m);
}

/* QEMU scans offsets i < 8192 - 48 (0..8140); the first valid one wins. */
static void test_header_scan(void **state)
{
    (void)state;
    static const struct {
        size_t hdr;
        bool   found;
        const char *err;
    } cases[] = {
        { 0, true, NULL },
        { 4, true, NULL },
        { 8140, true, NULL },
        { 8144, false, "past the last offset QEMU scans (8140" },
        { 8180, false, "past the last offset QEMU scans (8140" },
        { 8184, false, "no multiboot header" }, /* checksum at 8192 */
        { 8188, false, "no multiboot header" },
        { 8192, false, "no multiboot header" },
        { 8196, false, "no multiboot header" },
    };
    for (size_t k = 0; k < COUNT_OF(cases); k++) {
        size_t hdr = cases[k].hdr;
        memset(img, 0, sizeof img);
        put_header(img, hdr, 0x10000);
        put_addr(img, hdr, 0x200000 + (uint32_t)hdr, 0x200000, 0, 0,
                 0x200000);
        machine m = machine_new(4 * MIB);
        mb_info info;
        char err[256];
        int rc = load(&m, img, 0x4000, "k", NULL, &info, err, sizeof err);
        if (cases[k].found) {
            CHECK(rc == 0 && info.header_offset == hdr,
                  "header at %zu: %s", hdr, err);
        } else {
            CHECK(rc == -1 && strstr(err, cases[k].err),
                  "header at %zu: rc %d, \"%s\"", hdr, rc, err);
            CHECK(untouched(&m, 0, m.size), "header at %zu: RAM written",
                  hdr);
        }
        machine_free(&m);
    }

    /* A bad checksum is skipped; the next valid header wins over a later. */
    memset(img, 0, sizeof img);
    put_header(img, 0, 0x10000);
    st32(img + 8, 0x1234);
    put_header(img, 32, 0x10000);
    put_addr(img, 32, 0x200020, 0x200000, 0, 0, 0x200004);
    put_header(img, 96, 0x10000);
    put_addr(img, 96, 0x300060, 0x300000, 0, 0, 0x300004);
    machine m = machine_new(4 * MIB);
    mb_info info;
    char err[256];
    assert_int_equal(load(&m, img, 0x1000, "k", NULL, &info, err,
                          sizeof err), 0);
    assert_int_equal(info.header_offset, 32);
    assert_int_equal(info.entry, 0x200004);
    machine_free(&m);
}

static void test_small_ram(void **state)
{
    (void)state;
    size_t n = build_flat(img, 0x2000, 0x40, 0x10000, 0x10040, 0x10000, 0, 0,
                          0x10000);
    machine m = machine_new(MIB);
    mb_info info;
    char err[256];
    assert_int_equal(load(&m, img, n, "k", NULL, &info, err, sizeof err), 0);
    check_mbi(&m, &info, "k ");
    assert_int_equal(info.mem_upper, 0);
    machine_free(&m);
}

static void test_flags(void **state)
{
    (void)state;
    static const struct {
        uint32_t flags;
        unsigned warn;
    } cases[] = {
        { 0x10000, 0 },
        { 0x10001, 0 },
        { 0x10002, 0 },
        { 0x10004, MB_WARN_VIDEO }, /* QEMU: "multiboot knows VBE. we don't" */
        { 0x10007, MB_WARN_VIDEO },
        { 0xffff0003, 0 },          /* optional bits 17-31: ignored */
    };
    for (size_t k = 0; k < COUNT_OF(cases); k++) {
        size_t n = base_flat(img);
        st32(img + FLAT_MB + 4, cases[k].flags);
        fix_checksum(img, FLAT_MB);
        machine m = machine_new(4 * MIB);
        mb_info info;
        char err[256];
        CHECK(load(&m, img, n, "k", NULL, &info, err, sizeof err) == 0,
              "flags 0x%x: %s", cases[k].flags, err);
        CHECK(info.warnings == cases[k].warn, "flags 0x%x: warnings %u",
              cases[k].flags, info.warnings);
        machine_free(&m);
    }
    for (unsigned w = 1; w < 1u << MB_WARN_COUNT; w <<= 1)
        assert_true(strlen(mb_warning_str(w)) > 10);
    assert_string_equal(mb_warning_str(0), "");
    assert_string_equal(mb_warning_str(1u << MB_WARN_COUNT), "");
}

/* ---- refusals ------------------------------------------------------- */

typedef enum base { B_ELF, B_FLAT, B_TRUNC_ELF } base;

typedef struct patch {
    uint32_t off;
    uint8_t  width; /* 0: none */
    uint32_t value;
} patch;

typedef struct refusal {
    const char *what;
    base        base;
    uint64_t    ram;     /* 0: 4 MiB                 */
    long        size;    /* 0: the base size         */
    bool        keep_ck; /* leave the checksum as is */
    patch       p[3];
    const char *expect;
} refusal;

#define PH_OFF(ph) ((ph) + 4)
#define PH_PADDR(ph) ((ph) + 12)
#define PH_FILESZ(ph) ((ph) + 16)
#define PH_MEMSZ(ph) ((ph) + 20)
#define FL(field) (FLAT_MB + (field))

static const refusal refusals[] = {
    { "empty file", B_FLAT, 0, -1, false, { { 0 } }, "the kernel file is empty" },
    { "RAM below 1 MiB", B_FLAT, 512 * KIB, 0, false, { { 0 } },
      "at least 1 MiB of RAM (-m); this machine has 512 KiB" },
    { "Linux bzImage signature", B_FLAT, 0, 0, false,
      { { 0x202, 4, 0x53726448 } }, "\"HdrS\" at offset 0x202" },
    { "no magic", B_FLAT, 0, 0, false, { { FL(0), 4, 0 } },
      "no multiboot header" },
    { "bad checksum", B_FLAT, 0, 0, true, { { FL(8), 4, 0x12345678 } },
      "bad multiboot checksum at offset 64" },
    { "required flag bit 3", B_FLAT, 0, 0, false, { { FL(4), 4, 0x1000b } },
      "requires flags 0x0008" },
    { "required flag bit 15", B_ELF, 0, 0, false,
      { { ELF_MB + 4, 4, 0x8003 } }, "requires flags 0x8000" },
    { "not ELF, no bit 16", B_FLAT, 0, 0, false, { { FL(4), 4, 0x3 } },
      "not ELF and its multiboot header (offset 64) does not set flag bit "
      "16" },
    { "ELF64", B_ELF, 0, 0, false, { { 4, 1, 2 } },
      "64-bit ELF kernel refused, as QEMU's -kernel refuses it" },
    { "ELF32 EM_X86_64", B_ELF, 0, 0, false, { { 18, 2, 62 } },
      "x86-64 ELF kernel (e_machine 62) refused" },
    { "ELF class 3", B_ELF, 0, 0, false, { { 4, 1, 3 } }, "ELF class 3" },
    { "big-endian ELF", B_ELF, 0, 0, false, { { 5, 1, 2 } },
      "not little-endian" },
    { "ELF for ARM", B_ELF, 0, 0, false, { { 18, 2, 40 } },
      "ELF machine 40 is not i386" },
    { "truncated ELF header", B_TRUNC_ELF, 0, 0, false, { { 0 } },
      "truncated ELF: the file has 20 bytes" },
    { "no program headers", B_ELF, 0, 0, false, { { 44, 2, 0 } },
      "no program headers" },
    { "e_phentsize 40", B_ELF, 0, 0, false, { { 42, 2, 40 } },
      "e_phentsize is 40" },
    { "program headers past EOF", B_ELF, 0, 0, false, { { 44, 2, 200 } },
      "the 200 program headers at offset 0x34 end past the end of the file" },
    { "e_phoff past EOF", B_ELF, 0, 0, false, { { 28, 4, 0xfffffff0 } },
      "end past the end of the file" },
    { "no PT_LOAD", B_ELF, 0, 0, false,
      { { ELF_PH0, 4, PT_NOTE }, { ELF_PH1, 4, 6 } },
      "no PT_LOAD segment" },
    { "p_filesz > p_memsz", B_ELF, 0, 0, false,
      { { PH_FILESZ(ELF_PH1), 4, 0x3000 } },
      "ELF segment 1: p_filesz 0x3000 is larger than p_memsz 0x2000" },
    { "segment bytes past EOF", B_ELF, 0, 0, false,
      { { PH_OFF(ELF_PH0), 4, 0x11000 } },
      "ELF segment 0: its file bytes 0x11000 - 0x12000 lie past the end of "
      "the file" },
    { "segment offset wraps", B_ELF, 0, 0, false,
      { { PH_OFF(ELF_PH0), 4, 0xfffff800 } }, "lie past the end of the file" },
    { "segment outside RAM", B_ELF, 0, 0, false,
      { { PH_PADDR(ELF_PH1), 4, 0x3ff000 } },
      "segment 1 0x3ff000 - 0x401000 lies outside the 4 MiB of RAM (-m)" },
    { "segment past 4 GiB", B_ELF, 0, 0, false,
      { { PH_PADDR(ELF_PH1), 4, 0xfffff000 } },
      "ELF segment 1 0xfffff000 - 0x100001000 extends past 4 GiB" },
    { "segments overlap", B_ELF, 0, 0, false,
      { { PH_PADDR(ELF_PH1), 4, 0x100800 } },
      "ELF segments 0 (0x100000 - 0x101000) and 1 (0x100800 - 0x102800) "
      "overlap" },
    { "segment in the VGA/BIOS hole", B_ELF, 0, 0, false,
      { { PH_PADDR(ELF_PH0), 4, 0xb8000 } },
      "ELF segment 0 0xb8000 - 0xb9000 overlaps the VGA and BIOS area" },
    { "empty segment stretches the span", B_ELF, 0, 0, false,
      { { PH_PADDR(ELF_PH1), 4, 0x800000 }, { PH_FILESZ(ELF_PH1), 4, 0 },
        { PH_MEMSZ(ELF_PH1), 4, 0 } },
      "the PT_LOAD segments span 0x100000 - 0x800000" },
    { "ELF info pages past RAM", B_ELF, 0, 0, false,
      { { PH_PADDR(ELF_PH1), 4, 0x3fe000 } },
      "command line and loader name after the kernel (0x400000 - 0x401000) "
      "lie outside the 4 MiB of RAM (-m)" },
    { "ELF over the boot information", B_ELF, 0, 0, false,
      { { PH_PADDR(ELF_PH0), 4, 0x8000 } },
      "overlap the boot information at 0x9000 - 0x9588" },
    { "address fields cut off", B_FLAT, 0, 0x50, false, { { 0 } },
      "sets flag bit 16 but the file ends before its address fields" },
    { "header_addr < load_addr", B_FLAT, 0, 0, false,
      { { FL(12), 4, 0x1fff00 } },
      "header_addr 0x1fff00 is below load_addr 0x200000" },
    { "header_addr before file start", B_FLAT, 0, 0, false,
      { { FL(12), 4, 0x200100 } }, "reaches before the start of the file" },
    { "load_end_addr < load_addr", B_FLAT, 0, 0, false,
      { { FL(20), 4, 0x100000 } },
      "load_end_addr 0x100000 is below load_addr 0x200000" },
    { "load_end_addr past EOF", B_FLAT, 0, 0, false,
      { { FL(20), 4, 0x204000 } },
      "asks for 0x4000 bytes from file offset 0x0, past the end of the file "
      "(0x3000 bytes)" },
    { "bss_end_addr < load end", B_FLAT, 0, 0, false,
      { { FL(24), 4, 0x201000 } },
      "bss_end_addr 0x201000 is below the end of the loaded bytes 0x203000" },
    { "flat kernel outside RAM", B_FLAT, 0, 0, false,
      { { FL(12), 4, 0x3ff040 }, { FL(16), 4, 0x3ff000 }, { FL(24), 4, 0 } },
      "kernel 0x3ff000 - 0x402000 lies outside the 4 MiB of RAM (-m)" },
    { "bss outside RAM", B_FLAT, 0, 0, false, { { FL(24), 4, 0x500000 } },
      "bss 0x203000 - 0x500000 lies outside the 4 MiB of RAM (-m)" },
    { "flat kernel past 4 GiB", B_FLAT, 0, 0, false,
      { { FL(12), 4, 0xfffff040 }, { FL(16), 4, 0xfffff000 },
        { FL(24), 4, 0 } },
      "does not fit below 4 GiB" },
    { "flat kernel in the hole", B_FLAT, 0, 0, false,
      { { FL(12), 4, 0xa0040 }, { FL(16), 4, 0xa0000 }, { FL(24), 4, 0 } },
      "kernel 0xa0000 - 0xa3000 overlaps the VGA and BIOS area" },
    { "flat info pages in the hole", B_FLAT, 0, 0, false,
      { { FL(12), 4, 0x9d040 }, { FL(16), 4, 0x9d000 }, { FL(24), 4, 0 } },
      "(0xa0000 - 0xa1000) overlap the VGA and BIOS area" },
    { "flat over the boot information", B_FLAT, 0, 0, false,
      { { FL(12), 4, 0x8040 }, { FL(16), 4, 0x8000 }, { FL(24), 4, 0 } },
      "the kernel and its multiboot data 0x8000 - 0xc000 overlap the boot "
      "information at 0x9000" },
    { "flat info pages past RAM", B_FLAT, 0, 0, false,
      { { FL(24), 4, 0x400000 } },
      "(0x400000 - 0x401000) lie outside the 4 MiB of RAM (-m)" },
};

static size_t build_base(base b, uint8_t *buf, size_t cap, uint32_t *mb)
{
    switch (b) {
    case B_ELF:
        *mb = ELF_MB;
        return base_elf(buf, cap);
    case B_FLAT:
        *mb = FLAT_MB;
        return base_flat(buf);
    case B_TRUNC_ELF:
        memset(buf, 0, 20);
        memcpy(buf, "\x7f" "ELF\x01\x01\x01", 7);
        put_header(buf, 8, 0x3);
        *mb = 8;
        return 20;
    }
    return 0;
}

static void test_refusals(void **state)
{
    (void)state;
    for (size_t k = 0; k < COUNT_OF(refusals); k++) {
        const refusal *r = &refusals[k];
        uint32_t mb = 0;
        size_t n = build_base(r->base, img, sizeof img, &mb);
        for (size_t i = 0; i < COUNT_OF(r->p) && r->p[i].width; i++) {
            uint8_t *at = img + r->p[i].off;
            if (r->p[i].width == 1)
                *at = (uint8_t)r->p[i].value;
            else if (r->p[i].width == 2)
                st16(at, r->p[i].value);
            else
                st32(at, r->p[i].value);
        }
        if (!r->keep_ck)
            fix_checksum(img, mb);
        if (r->size)
            n = r->size < 0 ? 0 : (size_t)r->size;

        machine m = machine_new(r->ram ? r->ram : 4 * MIB);
        svmx_regs r0, r1;
        svmx_sregs s0, s1;
        assert_int_equal(svmx_cpu_get_regs(m.cpu, &r0), SVMX_OK);
        assert_int_equal(svmx_cpu_get_sregs(m.cpu, &s0), SVMX_OK);
        mb_info info;
        memset(&info, 0x5a, sizeof info);
        char err[400];
        int rc = load(&m, img, n, "k", NULL, &info, err, sizeof err);
        CHECK(rc == -1, "row %zu (%s): loaded", k, r->what);
        CHECK(strstr(err, r->expect) != NULL,
              "row %zu (%s): message \"%s\" lacks \"%s\"", k, r->what, err,
              r->expect);
        CHECK(!strchr(err, '\n'), "row %zu (%s): newline in message", k,
              r->what);
        CHECK(untouched(&m, 0, m.size), "row %zu (%s): RAM written", k,
              r->what);
        assert_int_equal(svmx_cpu_get_regs(m.cpu, &r1), SVMX_OK);
        assert_int_equal(svmx_cpu_get_sregs(m.cpu, &s1), SVMX_OK);
        CHECK(!memcmp(&r0, &r1, sizeof r0) && !memcmp(&s0, &s1, sizeof s0),
              "row %zu (%s): CPU changed", k, r->what);
        machine_free(&m);
    }
}

/* Each base image loads as is: the refusal rows above really are caused
 * by their patches. */
static void test_bases_load(void **state)
{
    (void)state;
    for (base b = B_ELF; b <= B_FLAT; b++) {
        uint32_t mb;
        size_t n = build_base(b, img, sizeof img, &mb);
        machine m = machine_new(4 * MIB);
        char err[256];
        CHECK(load(&m, img, n, "k", NULL, NULL, err, sizeof err) == 0,
              "base %d: %s", (int)b, err);
        machine_free(&m);
    }
}

static void test_api_edges(void **state)
{
    (void)state;
    size_t n = base_flat(img);
    machine m = machine_new(4 * MIB);
    char small[12];

    /* No CPU. */
    assert_int_equal(mb_load(NULL, img, n, "k", NULL, NULL, small,
                             sizeof small), -1);
    assert_int_equal(strlen(small), sizeof small - 1);

    /* Messages are cut to the buffer; no buffer at all is fine. */
    st32(img + FL(0), 0);
    assert_int_equal(load(&m, img, n, "k", NULL, NULL, small, sizeof small),
                     -1);
    assert_memory_equal(small, "no multiboo", sizeof small);
    assert_int_equal(load(&m, img, n, "k", NULL, NULL, NULL, 0), -1);

    /* A NULL name is the empty string: the command line is " ". */
    n = base_flat(img);
    mb_info info;
    assert_int_equal(load(&m, img, n, NULL, NULL, &info, NULL, 0), 0);
    assert_string_equal((const char *)m.ram + info.cmdline_addr, " ");
    machine_free(&m);
}

/* ---- mutations ------------------------------------------------------ */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static size_t biased_pos(size_t n)
{
    /* Most fields that matter live in the first 200 bytes. */
    if (rnd() % 5 < 3 && n > 0)
        return (size_t)(rnd() % (n < 200 ? n : 200));
    return n ? (size_t)(rnd() % n) : 0;
}

static void mutate_runs(base b, unsigned runs)
{
    static const uint32_t interesting[] = {
        0, 1, 2, 3, 4, 20, 32, 52, 62, 0x1000, 0x9000, 0x9500, 0x9fc00,
        0xa0000, 0xfffff, 0x100000, 0x3ff000, 0x400000, 0x7fffffff,
        0x80000000, 0xfffff000, 0xfffffffc, 0xffffffff, 0x10000, 0x10003,
    };
    uint8_t base_img[0x6000];
    uint32_t mb = 0;
    size_t base_n = build_base(b, base_img, sizeof base_img, &mb);
    machine m = machine_new(4 * MIB);
    unsigned loaded = 0, refused = 0;

    for (unsigned it = 0; it < runs; it++) {
        uint8_t work[0x6000];
        size_t n = base_n;
        memcpy(work, base_img, n);
        unsigned muts = 1 + (unsigned)(rnd() % 4);
        for (unsigned j = 0; j < muts && n; j++) {
            size_t at = biased_pos(n);
            switch (rnd() % 6) {
            case 0:
                work[at] = (uint8_t)rnd();
                break;
            case 1:
                work[at] ^= (uint8_t)(1u << (rnd() % 8));
                break;
            case 2:
            case 3:
                at &= ~(size_t)3;
                if (at + 4 <= n)
                    st32(work + at,
                         rnd() % 4 ? interesting[rnd() % COUNT_OF(interesting)]
                                   : (uint32_t)rnd());
                break;
            case 4:
                at &= ~(size_t)1;
                if (at + 2 <= n)
                    st16(work + at,
                         interesting[rnd() % COUNT_OF(interesting)]);
                break;
            default:
                n = (size_t)(rnd() % (n + 1));
                break;
            }
        }
        if (rnd() % 4 && mb + 12 <= n)
            fix_checksum(work, mb);

        /* An exact-size copy: ASan catches any read past the image. */
        uint8_t *exact = malloc(n ? n : 1);
        assert_non_null(exact);
        memcpy(exact, work, n);
        svmx_regs r0, r1;
        assert_int_equal(svmx_cpu_get_regs(m.cpu, &r0), SVMX_OK);
        mb_info info;
        char err[300];
        int rc = mb_load(m.cpu, exact, n, "fuzz", "x", &info, err,
                         sizeof err);
        free(exact);
        if (rc == 0) {
            loaded++;
            assert_int_equal(svmx_cpu_get_regs(m.cpu, &r1), SVMX_OK);
            CHECK(r1.rip == info.entry, "run %u: rip", it);
            CHECK(info.kernel_start <= info.kernel_end &&
                      info.kernel_end <= info.info_start &&
                      info.info_start < info.info_end &&
                      info.info_end <= m.size,
                  "run %u: ranges 0x%x 0x%x 0x%x 0x%x", it, info.kernel_start,
                  info.kernel_end, info.info_start, info.info_end);
        } else {
            refused++;
            CHECK(rc == -1, "run %u: rc %d", it, rc);
            CHECK(err[0] && !strchr(err, '\n'), "run %u: message \"%s\"", it,
                  err);
            CHECK(strncmp(err, "internal:", 9) != 0, "run %u: %s", it, err);
            assert_int_equal(svmx_cpu_get_regs(m.cpu, &r1), SVMX_OK);
            CHECK(!memcmp(&r0, &r1, sizeof r0), "run %u: CPU changed", it);
        }
        CHECK(guards_intact(&m), "run %u: wrote outside RAM", it);
    }
    /* Both paths must really have been exercised. */
    CHECK(loaded > runs / 20 && refused > runs / 20,
          "base %d: %u loaded, %u refused", (int)b, loaded, refused);
    machine_free(&m);
}

static void test_mutations(void **state)
{
    (void)state;
    mutate_runs(B_ELF, 20000);
    mutate_runs(B_FLAT, 20000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elf_load),
        cmocka_unit_test(test_elf_virtual_entry),
        cmocka_unit_test(test_flat_load),
        cmocka_unit_test(test_bit16_beats_elf),
        cmocka_unit_test(test_header_scan),
        cmocka_unit_test(test_small_ram),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_bases_load),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_api_edges),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
