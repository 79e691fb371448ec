/*
 * tools/multiboot.c - load a Multiboot (v1) kernel as QEMU's -kernel does.
 *
 * Two phases: plan() reads the untrusted image and checks every range
 * (file offsets against `size`, guest addresses against RAM, 4 GiB and the
 * areas QEMU itself uses), then commit() writes guest RAM and the CPU. So a
 * refused image changes nothing, and every refusal names the exact field.
 * Guest memory is reached only through svmx_mem_write(), which bounds-checks
 * again.
 *
 * The QEMU behaviour mirrored here, and where it comes from, is listed in
 * docs/multiboot.md.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "multiboot.h"

#if defined(__GNUC__)
#define MB_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define MB_PRINTF(f, a)
#endif

#define KIB  1024u
#define MIB  (1024u * 1024u)
#define GIB4 0x100000000ull
#define PAGE 4096u

/* Header (Multiboot 0.6.96 3.1.1-3.1.2). */
#define HDR_MAGIC     0x1badb002u
#define HDR_SCAN_END  8144u  /* QEMU: for (i = 0; i < 8192 - 48; i += 4) */
#define HDR_SPEC_END  8192u
#define HDR_F_VIDEO   0x00000004u
#define HDR_F_KNOWN   0x00000007u /* bits 0-2: page-align, memory, video */
#define HDR_F_ADDRESS 0x00010000u

/* What QEMU's -kernel puts in the MBI flags (multiboot.c MULTIBOOT_FLAGS_*):
 * [0] mem_lower/upper [1] boot_device [2] cmdline [3] mods [6] mmap
 * [9] boot_loader_name */
#define MBI_FLAGS        0x0000024fu
#define MBI_BOOT_DEVICE  0x8000ffffu
#define MBI_MEM_LOWER    639u /* SeaBIOS INT 12h: 640 KiB less its 1 KiB EBDA */
#define LOADER_NAME      "svmx"

/* The PC memory layout under QEMU + SeaBIOS. */
#define EBDA_START  0x9fc00u
#define HOLE_START  0xa0000u  /* VGA window, option ROMs, BIOS: not RAM  */
#define BIOS_START  0xf0000u
#define HOLE_END    0x100000u

/* ELF (System V gABI; i386 psABI). */
#define ELF_HDR_SIZE   52u
#define ELF_PHDR_SIZE  32u
#define ELFCLASS32     1u
#define ELFCLASS64     2u
#define ELFDATA2LSB    1u
#define EM_386         3u
#define EM_X86_64      62u
#define PT_LOAD        1u
#define PF_X           1u

typedef struct errbuf {
    char  *buf;
    size_t len;
} errbuf;

/* Writes one line to the caller's buffer; always returns -1. */
MB_PRINTF(2, 3)
static int fail(errbuf *e, const char *fmt, ...)
{
    if (e->buf && e->len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->buf, e->len, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void wr64(uint8_t *p, uint64_t v)
{
    wr32(p, (uint32_t)v);
    wr32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t page_align(uint64_t n)
{
    return (n + PAGE - 1) & ~(uint64_t)(PAGE - 1);
}

static bool overlaps(uint64_t a0, uint64_t a1, uint64_t b0, uint64_t b1)
{
    return a0 < a1 && b0 < b1 && a0 < b1 && b0 < a1;
}

/* "64 MiB", "640 KiB" or "1000 bytes": the RAM size as -m would say it. */
static void ram_text(uint64_t ram, char *buf, size_t n)
{
    if (ram % MIB == 0)
        snprintf(buf, n, "%" PRIu64 " MiB", ram / MIB);
    else if (ram % KIB == 0)
        snprintf(buf, n, "%" PRIu64 " KiB", ram / KIB);
    else
        snprintf(buf, n, "%" PRIu64 " bytes", ram);
}

/* One PT_LOAD segment with bytes in memory. */
typedef struct seg {
    uint64_t start, end; /* guest-physical [start, end) */
    unsigned index;      /* program header number       */
} seg;

typedef struct plan {
    uint32_t hdr_off, flags;
    bool     elf;
    uint64_t start, kend;  /* kernel bytes and bss                  */
    uint64_t info, iend;   /* command line and name, page-aligned   */
    uint32_t entry;
    uint64_t file_off, load_size; /* flat image: the bytes to copy */
    uint32_t phoff;               /* ELF: program header table     */
    unsigned phnum;
    size_t   cmd_len;             /* "name append\0"               */
    unsigned warnings;
} plan;

static int find_header(const uint8_t *img, size_t size, plan *p, errbuf *e)
{
    /* QEMU looks only at the first 8 KiB it read into its header buffer. */
    size_t limit = size < HDR_SPEC_END ? size : HDR_SPEC_END;
    size_t bad = SIZE_MAX;

    for (size_t i = 0; i + 12 <= limit; i += 4) {
        if (rd32(img + i) != HDR_MAGIC)
            continue;
        uint32_t flags = rd32(img + i + 4);
        if ((uint32_t)(HDR_MAGIC + flags + rd32(img + i + 8)) != 0) {
            if (bad == SIZE_MAX && i < HDR_SCAN_END)
                bad = i;
            continue;
        }
        if (i >= HDR_SCAN_END)
            return fail(e, "the multiboot header at offset %zu is past the "
                           "last offset QEMU scans (8140 = 8192 - 48 - 4); "
                           "move it nearer the start of the file", i);
        p->hdr_off = (uint32_t)i;
        p->flags = flags;
        return 0;
    }
    if (bad != SIZE_MAX) {
        uint32_t flags = rd32(img + bad + 4), sum = rd32(img + bad + 8);
        return fail(e, "bad multiboot checksum at offset %zu: magic "
                       "0x1badb002 + flags 0x%08" PRIx32 " + checksum 0x%08"
                       PRIx32 " = 0x%08" PRIx32 ", not 0",
                    bad, flags, sum, (uint32_t)(HDR_MAGIC + flags + sum));
    }
    return fail(e, "no multiboot header: the magic 0x1badb002 with a valid "
                   "checksum must be at a 4-byte aligned offset 0..8140 of "
                   "the file (QEMU scans the first 8 KiB up to 8192 - 48)");
}

/* Flag bit 16: the a.out kludge, Multiboot 0.6.96 3.1.3. */
static int plan_flat(const uint8_t *img, size_t size, plan *p, errbuf *e)
{
    uint32_t i = p->hdr_off;
    if ((uint64_t)i + 32 > size)
        return fail(e, "the multiboot header at offset %" PRIu32 " sets "
                       "flag bit 16 but the file ends before its address "
                       "fields", i);
    uint32_t header_addr = rd32(img + i + 12), load_addr = rd32(img + i + 16);
    uint32_t load_end = rd32(img + i + 20), bss_end = rd32(img + i + 24);
    p->entry = rd32(img + i + 28);

    if (header_addr < load_addr)
        return fail(e, "header_addr 0x%" PRIx32 " is below load_addr 0x%"
                       PRIx32, header_addr, load_addr);
    if (header_addr - load_addr > i)
        return fail(e, "header_addr 0x%" PRIx32 " - load_addr 0x%" PRIx32
                       " = 0x%" PRIx32 " reaches before the start of the "
                       "file (the header is at offset 0x%" PRIx32 ")",
                    header_addr, load_addr, header_addr - load_addr, i);
    p->file_off = i - (header_addr - load_addr);

    if (load_end) {
        if (load_end < load_addr)
            return fail(e, "load_end_addr 0x%" PRIx32 " is below load_addr "
                           "0x%" PRIx32, load_end, load_addr);
        p->load_size = load_end - load_addr;
    } else {
        p->load_size = size - p->file_off; /* to the end of the file */
    }
    if (p->load_size > UINT32_MAX - load_addr)
        return fail(e, "the kernel (load_addr 0x%" PRIx32 ", 0x%" PRIx64
                       " bytes) does not fit below 4 GiB",
                    load_addr, p->load_size);
    if (p->load_size > size - p->file_off)
        return fail(e, "load_end_addr 0x%" PRIx32 " asks for 0x%" PRIx64
                       " bytes from file offset 0x%" PRIx64 ", past the end "
                       "of the file (0x%zx bytes)",
                    load_end, p->load_size, p->file_off, size);
    p->start = load_addr;
    p->kend = load_addr + p->load_size;
    if (bss_end) {
        if (bss_end < p->kend)
            return fail(e, "bss_end_addr 0x%" PRIx32 " is below the end of "
                           "the loaded bytes 0x%" PRIx64, bss_end, p->kend);
        p->kend = bss_end;
    }
    return 0;
}

static int seg_cmp(const void *a, const void *b)
{
    const seg *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static int plan_elf(const uint8_t *img, size_t size, uint64_t ram,
                    const char *ramtxt, plan *p, errbuf *e)
{
    if (size < 4 || memcmp(img, "\x7f" "ELF", 4) != 0)
        return fail(e, "the file is not ELF and its multiboot header (offset "
                       "%" PRIu32 ") does not set flag bit 16, so nothing "
                       "says where to load it", p->hdr_off);
    if (size < 6)
        return fail(e, "truncated ELF: the file has %zu bytes", size);
    if (img[4] == ELFCLASS64)
        return fail(e, "64-bit ELF kernel refused, as QEMU's -kernel refuses "
                       "it (\"Cannot load x86-64 image, give a 32bit one.\"): "
                       "ship a 64-bit kernel as a flat image whose multiboot "
                       "header sets flag bit 16 (see docs/multiboot.md)");
    if (img[4] != ELFCLASS32)
        return fail(e, "ELF class %u is neither ELFCLASS32 nor ELFCLASS64",
                    img[4]);
    if (size < ELF_HDR_SIZE)
        return fail(e, "truncated ELF: the file has %zu bytes, the ELF "
                       "header needs %u", size, ELF_HDR_SIZE);
    if (img[5] != ELFDATA2LSB)
        return fail(e, "ELF data encoding %u is not little-endian "
                       "(ELFDATA2LSB = 1)", img[5]);
    unsigned machine = rd16(img + 18);
    if (machine == EM_X86_64)
        return fail(e, "x86-64 ELF kernel (e_machine 62) refused, as QEMU's "
                       "-kernel refuses it (\"Cannot load x86-64 image, give "
                       "a 32bit one.\"): ship a 64-bit kernel as a flat image "
                       "whose multiboot header sets flag bit 16 (see "
                       "docs/multiboot.md)");
    if (machine != EM_386)
        return fail(e, "ELF machine %u is not i386 (EM_386 = 3)", machine);

    uint32_t e_entry = rd32(img + 24);
    p->phoff = rd32(img + 28);
    unsigned phentsize = rd16(img + 42);
    p->phnum = rd16(img + 44);
    if (p->phnum == 0)
        return fail(e, "the ELF file has no program headers, so no PT_LOAD "
                       "segment to load");
    if (phentsize != ELF_PHDR_SIZE)
        return fail(e, "ELF e_phentsize is %u, not %u", phentsize,
                    ELF_PHDR_SIZE);
    if (p->phoff > size ||
        (uint64_t)p->phnum * ELF_PHDR_SIZE > size - p->phoff)
        return fail(e, "truncated ELF: the %u program headers at offset 0x%"
                       PRIx32 " end past the end of the file (0x%zx bytes)",
                    p->phnum, p->phoff, size);

    seg *segs = malloc(p->phnum * sizeof *segs);
    if (!segs)
        return fail(e, "internal: out of memory");
    unsigned nseg = 0, nload = 0;
    uint64_t low = UINT64_MAX, high = 0;
    int rc = 0;
    p->entry = e_entry;

    for (unsigned n = 0; n < p->phnum && rc == 0; n++) {
        const uint8_t *ph = img + p->phoff + (size_t)n * ELF_PHDR_SIZE;
        if (rd32(ph) != PT_LOAD)
            continue;
        uint32_t off = rd32(ph + 4), vaddr = rd32(ph + 8);
        uint32_t paddr = rd32(ph + 12), filesz = rd32(ph + 16);
        uint32_t memsz = rd32(ph + 20), flags = rd32(ph + 24);
        uint64_t end = (uint64_t)paddr + memsz;
        nload++;
        if (filesz > memsz)
            rc = fail(e, "ELF segment %u: p_filesz 0x%" PRIx32 " is larger "
                         "than p_memsz 0x%" PRIx32, n, filesz, memsz);
        else if (filesz && (off > size || filesz > size - off))
            rc = fail(e, "ELF segment %u: its file bytes 0x%" PRIx32 " - 0x%"
                         PRIx64 " lie past the end of the file (0x%zx bytes)",
                      n, off, (uint64_t)off + filesz, size);
        else if (end > GIB4)
            rc = fail(e, "ELF segment %u 0x%" PRIx32 " - 0x%" PRIx64
                         " extends past 4 GiB", n, paddr, end);
        else if (memsz && end > ram)
            rc = fail(e, "segment %u 0x%" PRIx32 " - 0x%" PRIx64 " lies "
                         "outside the %s of RAM (-m)", n, paddr, end, ramtxt);
        if (rc)
            break;
        /* QEMU's load_elf(): the low/high span counts every PT_LOAD, even
         * an empty one; an entry inside an executable segment whose
         * virtual and physical addresses differ is made physical. */
        if (paddr < low)
            low = paddr;
        if (end > high)
            high = end;
        if (vaddr != paddr && e_entry >= vaddr &&
            (uint64_t)e_entry < (uint64_t)vaddr + filesz && (flags & PF_X))
            p->entry = e_entry - vaddr + paddr;
        if (memsz)
            segs[nseg++] = (seg){ paddr, end, n };
    }
    if (rc == 0 && nload == 0)
        rc = fail(e, "the ELF file has no PT_LOAD segment");
    if (rc == 0) {
        /* QEMU refuses overlapping ROM blobs ("rom: requested regions
         * overlap"), and each segment becomes one. */
        qsort(segs, nseg, sizeof *segs, seg_cmp);
        for (unsigned k = 1; k < nseg && rc == 0; k++)
            if (segs[k].start < segs[k - 1].end)
                rc = fail(e, "ELF segments %u (0x%" PRIx64 " - 0x%" PRIx64
                             ") and %u (0x%" PRIx64 " - 0x%" PRIx64
                             ") overlap", segs[k - 1].index,
                          segs[k - 1].start, segs[k - 1].end, segs[k].index,
                          segs[k].start, segs[k].end);
        for (unsigned k = 0; k < nseg && rc == 0; k++)
            if (overlaps(segs[k].start, segs[k].end, HOLE_START, HOLE_END))
                rc = fail(e, "ELF segment %u 0x%" PRIx64 " - 0x%" PRIx64
                             " overlaps the VGA and BIOS area 0xa0000 - "
                             "0x100000, which is not RAM on a PC (QEMU "
                             "cannot load there either)", segs[k].index,
                          segs[k].start, segs[k].end);
    }
    free(segs);
    if (rc)
        return rc;
    if (high > ram)
        return fail(e, "the PT_LOAD segments span 0x%" PRIx64 " - 0x%" PRIx64
                       " (QEMU loads the span as one block), past the %s of "
                       "RAM (-m)", low, high, ramtxt);
    p->start = low;
    p->kend = high;
    return 0;
}

static int plan_image(const svmx_mem *mem, const uint8_t *img, size_t size,
                      const char *name, const char *append, plan *p,
                      errbuf *e)
{
    uint64_t ram = mem->ram_size;
    char ramtxt[48];
    ram_text(ram, ramtxt, sizeof ramtxt);

    if (size == 0)
        return fail(e, "the kernel file is empty");
    if (ram < MIB)
        return fail(e, "multiboot needs at least 1 MiB of RAM (-m); this "
                       "machine has %s", ramtxt);
    /* QEMU's x86_load_linux() checks for a Linux kernel before multiboot. */
    if (size >= 0x206 && rd32(img + 0x202) == 0x53726448)
        return fail(e, "the file has the Linux boot signature \"HdrS\" at "
                       "offset 0x202: QEMU's -kernel would boot it with the "
                       "Linux boot protocol, not as multiboot");
    if (find_header(img, size, p, e))
        return -1;
    /* Multiboot 0.6.96 3.1.2: a loader must refuse required bits (15:0) it
     * does not know. QEMU ignores them; the refusal is the spec's. */
    uint32_t unknown = p->flags & 0xffffu & ~HDR_F_KNOWN;
    if (unknown)
        return fail(e, "the multiboot header (offset %" PRIu32 ") requires "
                       "flags 0x%04" PRIx32 " that no loader defines; the "
                       "specification says to refuse such a kernel",
                    p->hdr_off, unknown);
    if (p->flags & HDR_F_VIDEO)
        p->warnings |= MB_WARN_VIDEO;

    /* QEMU: address fields when bit 16 is set, even for an ELF file. */
    p->elf = !(p->flags & HDR_F_ADDRESS);
    if (p->elf) {
        if (plan_elf(img, size, ram, ramtxt, p, e))
            return -1;
    } else {
        if (plan_flat(img, size, p, e))
            return -1;
        uint64_t lend = p->start + p->load_size;
        if (lend > ram && p->load_size)
            return fail(e, "kernel 0x%" PRIx64 " - 0x%" PRIx64 " lies "
                           "outside the %s of RAM (-m)", p->start, lend,
                        ramtxt);
        if (p->kend > ram && p->kend > lend)
            return fail(e, "bss 0x%" PRIx64 " - 0x%" PRIx64 " lies outside "
                           "the %s of RAM (-m)", lend, p->kend, ramtxt);
        if (overlaps(p->start, p->kend, HOLE_START, HOLE_END))
            return fail(e, "kernel 0x%" PRIx64 " - 0x%" PRIx64 " overlaps "
                           "the VGA and BIOS area 0xa0000 - 0x100000, which "
                           "is not RAM on a PC (QEMU cannot load there "
                           "either)", p->start, p->kend);
    }

    /* QEMU's mb_buf: the kernel rounded up to a page, then the module
     * list (none), the command line "name append" and the loader name,
     * the whole rounded up to a page again. */
    size_t nlen = strlen(name), alen = strlen(append);
    p->cmd_len = nlen + 1 + alen + 1;
    p->info = p->start + page_align(p->kend - p->start);
    p->iend = p->start + page_align(page_align(p->kend - p->start) +
                                    (uint64_t)p->cmd_len +
                                    sizeof LOADER_NAME);
    if (p->iend > ram || p->iend > GIB4)
        return fail(e, "the multiboot command line and loader name after "
                       "the kernel (0x%" PRIx64 " - 0x%" PRIx64 ") lie "
                       "outside the %s of RAM (-m)", p->info, p->iend,
                    ramtxt);
    if (overlaps(p->info, p->iend, HOLE_START, HOLE_END))
        return fail(e, "the multiboot command line and loader name after "
                       "the kernel (0x%" PRIx64 " - 0x%" PRIx64 ") overlap "
                       "the VGA and BIOS area 0xa0000 - 0x100000", p->info,
                    p->iend);
    /* QEMU's option ROM writes the MBI and the memory map first and copies
     * the kernel over them afterwards. */
    if (overlaps(p->start, p->iend, MB_MMAP_ADDR, MB_LOW_END))
        return fail(e, "the kernel and its multiboot data 0x%" PRIx64
                       " - 0x%" PRIx64 " overlap the boot information at "
                       "0x9000 - 0x%x (memory map, MBI, GDT), which QEMU "
                       "puts there too", p->start, p->iend, MB_LOW_END);

    if (p->entry < p->start || p->entry >= p->kend)
        p->warnings |= MB_WARN_ENTRY;
    return 0;
}

static svmx_status zero_range(const svmx_mem *mem, uint64_t a, uint64_t b)
{
    static const uint8_t zeros[PAGE];
    while (a < b) {
        size_t n = b - a < PAGE ? (size_t)(b - a) : PAGE;
        SVMX_TRY(svmx_mem_write(mem, a, zeros, n));
        a += n;
    }
    return SVMX_OK;
}

/* The e820 map SeaBIOS reports to the option ROM, one 24-byte multiboot
 * entry each: size (20), base_addr, length, type (1 RAM, 2 reserved). */
static size_t build_mmap(uint64_t ram, uint8_t *buf)
{
    static const struct {
        uint64_t base, len;
        uint32_t type;
    } fixed[] = {
        { 0, EBDA_START, 1 },
        { EBDA_START, HOLE_START - EBDA_START, 2 },
        { BIOS_START, HOLE_END - BIOS_START, 2 },
    };
    size_t n = 0;
    for (size_t k = 0; k < sizeof fixed / sizeof fixed[0]; k++, n += 24) {
        wr32(buf + n, 20);
        wr64(buf + n + 4, fixed[k].base);
        wr64(buf + n + 12, fixed[k].len);
        wr32(buf + n + 20, fixed[k].type);
    }
    if (ram > HOLE_END) {
        wr32(buf + n, 20);
        wr64(buf + n + 4, HOLE_END);
        wr64(buf + n + 12, ram - HOLE_END);
        wr32(buf + n + 20, 1);
        n += 24;
    }
    return n;
}

/*
 * QEMU's GDT (pc-bios/optionrom/multiboot.S), with the accessed bit set in
 * the two descriptors the CPU has loaded, as it would write back:
 *   0x08 32-bit code, 0x10 32-bit data (base 0, 4 GiB),
 *   0x18 16-bit conforming code, 0x20 16-bit data (base 0, 64 KiB).
 */
static const uint8_t boot_gdt[MB_GDT_LIMIT + 1] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0x00, 0x00, 0x00, 0x9b, 0xcf, 0x00,
    0xff, 0xff, 0x00, 0x00, 0x00, 0x93, 0xcf, 0x00,
    0xff, 0xff, 0x00, 0x00, 0x00, 0x9e, 0x00, 0x00,
    0xff, 0xff, 0x00, 0x00, 0x00, 0x92, 0x00, 0x00,
};

static svmx_status commit(svmx_cpu *cpu, const svmx_mem *mem,
                          const uint8_t *img, const char *name,
                          const char *append, const plan *p, mb_info *out)
{
    /* 1. The kernel: everything from its start to the end of the info
     *    pages is zero first (bss, ELF gaps, page tails), then the bytes. */
    SVMX_TRY(zero_range(mem, p->start, p->iend));
    if (p->elf) {
        for (unsigned n = 0; n < p->phnum; n++) {
            const uint8_t *ph = img + p->phoff + (size_t)n * ELF_PHDR_SIZE;
            uint32_t filesz = rd32(ph + 16);
            if (rd32(ph) == PT_LOAD && filesz)
                SVMX_TRY(svmx_mem_write(mem, rd32(ph + 12),
                                        img + rd32(ph + 4), filesz));
        }
    } else {
        SVMX_TRY(svmx_mem_write(mem, p->start, img + p->file_off,
                                (size_t)p->load_size));
    }

    /* 2. Command line "name append" and the loader name, after the kernel. */
    size_t nlen = strlen(name), alen = strlen(append);
    uint64_t cmdline = p->info, loader = p->info + p->cmd_len;
    SVMX_TRY(svmx_mem_write(mem, cmdline, name, nlen));
    SVMX_TRY(svmx_mem_write(mem, cmdline + nlen, " ", 1));
    SVMX_TRY(svmx_mem_write(mem, cmdline + nlen + 1, append, alen + 1));
    SVMX_TRY(svmx_mem_write(mem, loader, LOADER_NAME, sizeof LOADER_NAME));

    /* 3. Memory map, MBI (Multiboot 0.6.96 3.3), GDT. */
    uint8_t mmap[4 * 24];
    size_t mmap_len = build_mmap(mem->ram_size, mmap);
    uint64_t top = mem->ram_size < GIB4 ? mem->ram_size : GIB4;
    uint32_t mem_upper = (uint32_t)((top - HOLE_END) / KIB);

    uint8_t mbi[MB_INFO_SIZE] = { 0 };
    wr32(mbi + 0, MBI_FLAGS);
    wr32(mbi + 4, MBI_MEM_LOWER);
    wr32(mbi + 8, mem_upper);
    wr32(mbi + 12, MBI_BOOT_DEVICE);
    wr32(mbi + 16, (uint32_t)cmdline);
    wr32(mbi + 20, 0);                 /* mods_count               */
    wr32(mbi + 24, (uint32_t)p->info); /* mods_addr: QEMU's offset */
    wr32(mbi + 44, (uint32_t)mmap_len);
    wr32(mbi + 48, MB_MMAP_ADDR);
    wr32(mbi + 64, (uint32_t)loader);
    SVMX_TRY(svmx_mem_write(mem, MB_MMAP_ADDR, mmap, mmap_len));
    SVMX_TRY(svmx_mem_write(mem, MB_INFO_ADDR, mbi, sizeof mbi));
    SVMX_TRY(svmx_mem_write(mem, MB_GDT_ADDR, boot_gdt, sizeof boot_gdt));

    /* 4. Registers, as multiboot.S leaves them at `jmp *%ecx`. */
    svmx_sregs s;
    SVMX_TRY(svmx_cpu_get_sregs(cpu, &s));
    for (unsigned i = 0; i < SVMX_SREG_COUNT; i++)
        s.seg[i] = (svmx_segment){ .base = 0, .limit = 0xffffffffu,
                                   .selector = MB_ENTRY_DS,
                                   .attr = 0xc93 };
    s.seg[SVMX_CS].selector = MB_ENTRY_CS;
    s.seg[SVMX_CS].attr = 0xc9b;
    /* Never loaded by SeaBIOS or the ROM: still their RESET values. */
    s.seg[SVMX_LDTR] = (svmx_segment){ 0, 0xffff, 0, 0x082 };
    s.seg[SVMX_TR] = (svmx_segment){ 0, 0xffff, 0, 0x08b };
    s.gdt = (svmx_dtable){ MB_GDT_ADDR, MB_GDT_LIMIT };
    s.idt = (svmx_dtable){ 0, 0x3ff }; /* the real-mode IVT */
    s.cr0 = MB_ENTRY_CR0;
    s.cr2 = s.cr3 = s.cr4 = s.cr8 = 0;
    s.efer = 0;
    SVMX_TRY(svmx_cpu_set_sregs(cpu, &s));

    svmx_regs r = { { 0 }, 0, 0 };
    r.gpr[SVMX_RAX] = MB_ENTRY_MAGIC;
    r.gpr[SVMX_RBX] = MB_INFO_ADDR;
    r.gpr[SVMX_RCX] = p->entry; /* the ROM jumps through ECX */
    r.gpr[SVMX_RSP] = MB_ENTRY_ESP;
    r.rip = p->entry;
    r.rflags = SVMX_RFLAGS_FIXED;
    SVMX_TRY(svmx_cpu_set_regs(cpu, &r));

    if (out) {
        *out = (mb_info){
            .header_offset = p->hdr_off, .header_flags = p->flags,
            .elf = p->elf, .entry = p->entry,
            .kernel_start = (uint32_t)p->start,
            .kernel_end = (uint32_t)p->kend,
            .info_start = (uint32_t)p->info, .info_end = (uint32_t)p->iend,
            .cmdline_addr = (uint32_t)cmdline, .mem_lower = MBI_MEM_LOWER,
            .mem_upper = mem_upper, .warnings = p->warnings,
        };
    }
    return SVMX_OK;
}

int mb_load(svmx_cpu *cpu, const uint8_t *image, size_t size,
            const char *kernel_name, const char *append, mb_info *out,
            char *err, size_t errlen)
{
    errbuf e = { err, errlen };
    if (err && errlen)
        err[0] = '\0';
    const svmx_mem *mem = svmx_cpu_mem(cpu);
    if (!mem || (!image && size))
        return fail(&e, "internal: mb_load() called without a CPU or image");
    if (!kernel_name)
        kernel_name = "";
    if (!append)
        append = "";

    plan p;
    memset(&p, 0, sizeof p);
    if (plan_image(mem, image, size, kernel_name, append, &p, &e))
        return -1;
    svmx_status st = commit(cpu, mem, image, kernel_name, append, &p, out);
    if (st != SVMX_OK)
        return fail(&e, "internal: loading the kernel failed: %s",
                    svmx_status_str(st));
    return 0;
}

const char *mb_warning_str(unsigned warning)
{
    switch (warning) {
    case MB_WARN_VIDEO:
        return "the multiboot header asks for a video mode (flag bit 2); "
               "ignored, as QEMU ignores it (\"multiboot knows VBE. we "
               "don't\")";
    case MB_WARN_ENTRY:
        return "the entry point lies outside the loaded kernel";
    default:
        return "";
    }
}
