/*
 * src/svm/vmcb.c - the VMCB field list turned into a table, accessors and
 * compile-time layout checks; the #VMEXIT code table with its intercept
 * gates; the refine steps over the permission maps.
 *
 * Everything is generated from the X-lists in svmx/svm.h, so a field, an
 * exit code or an intercept bit exists in exactly one place. The lookups
 * are generated switches: the compiler rejects two rows with one offset or
 * one exit code ("duplicate case value") and turns them into jump tables.
 */
#include <stddef.h>
#include <string.h>

#include "svm/svm_internal.h"
#include "svmx/svm.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* --------------------------------------------------- layout checks -- */

#define KIND_BYTES_VALUE 0
#define KIND_BYTES_BYTES 1

/*
 * Per field: inside the page; a scalar is 1, 2, 4 or 8 bytes and naturally
 * aligned (so 8-byte fields are 8-aligned); a byte array is not empty.
 */
#define CHECK_FIELD(name, off, width, kind)                                   \
    _Static_assert((off) + (width) <= SVMX_VMCB_SIZE,                         \
                   "VMCB " #name ": outside the page");                       \
    _Static_assert(KIND_BYTES_##kind ? (width) >= 1                           \
                   : ((width) == 1 || (width) == 2 || (width) == 4 ||         \
                      (width) == 8),                                          \
                   "VMCB " #name ": width");                                  \
    _Static_assert(KIND_BYTES_##kind || (off) % (width) == 0,                 \
                   "VMCB " #name ": not naturally aligned");
SVMX_VMCB_FIELDS(CHECK_FIELD)
#undef CHECK_FIELD

/*
 * No two fields overlap, and the rows are in offset order (which the list
 * promises). In one enum each row adds vmcb_gap_<row>, which takes the
 * previous enumerator plus one - the end of the previous row - and then
 * vmcb_end_<row>, its own last byte. A row overlaps its predecessor, or
 * comes before it, exactly when its offset is below its gap.
 */
enum vmcb_layout {
    vmcb_layout_start_ = -1,
#define LAYOUT_ROW(name, off, width, kind)                                    \
    vmcb_gap_##name, vmcb_end_##name = (off) + (width) - 1,
    SVMX_VMCB_FIELDS(LAYOUT_ROW)
#undef LAYOUT_ROW
};

#define CHECK_ORDER(name, off, width, kind)                                   \
    _Static_assert((off) >= vmcb_gap_##name,                                  \
                   "VMCB " #name ": overlaps the row before it");
SVMX_VMCB_FIELDS(CHECK_ORDER)
#undef CHECK_ORDER

/* The intercept words are contiguous, so intercept i lives at 4 * (i / 32). */
_Static_assert(SVMX_VMCB_INTERCEPT_CR == 0 && SVMX_VMCB_INTERCEPT_DR == 4 &&
               SVMX_VMCB_INTERCEPT_EXC == 8 &&
               SVMX_VMCB_INTERCEPT_MISC1 == 12 &&
               SVMX_VMCB_INTERCEPT_MISC2 == 16 &&
               SVMX_VMCB_INTERCEPT_MISC3 == 20,
               "VMCB intercept words are not the 192-bit vector");

/* ------------------------------------------------------------ fields -- */

static const svmx_vmcb_field_info vmcb_fields[SVMX_VMCB_FIELD_COUNT] = {
#define FIELD_ROW(name, off, width, kind)                                     \
    [SVMX_VMCB_INDEX_##name] = { #name, (off), (width),                       \
                                 KIND_BYTES_##kind != 0 },
    SVMX_VMCB_FIELDS(FIELD_ROW)
#undef FIELD_ROW
};

/* Row index of the field at `off`, or -1. */
static int field_index(unsigned off)
{
    switch (off) {
#define FIELD_CASE(name, o, width, kind)                                      \
    case (o):                                                                 \
        return SVMX_VMCB_INDEX_##name;
        SVMX_VMCB_FIELDS(FIELD_CASE)
#undef FIELD_CASE
    default:
        return -1;
    }
}

const svmx_vmcb_field_info *svmx_vmcb_field_info_of(svmx_vmcb_field field)
{
    int i = field_index((unsigned)field);
    return i < 0 ? NULL : &vmcb_fields[i];
}

const svmx_vmcb_field_info *svmx_vmcb_field_at(size_t index)
{
    return index < SVMX_VMCB_FIELD_COUNT ? &vmcb_fields[index] : NULL;
}

const char *svmx_vmcb_field_name(svmx_vmcb_field field)
{
    const svmx_vmcb_field_info *f = svmx_vmcb_field_info_of(field);
    return f ? f->name : "?";
}

svmx_status svmx_vmcb_field_lookup(const char *name, svmx_vmcb_field *field)
{
    if (!name || !field)
        return SVMX_E_ARG;
    for (size_t i = 0; i < SVMX_VMCB_FIELD_COUNT; i++) {
        if (strcmp(vmcb_fields[i].name, name) == 0) {
            *field = (svmx_vmcb_field)vmcb_fields[i].offset;
            return SVMX_OK;
        }
    }
    return SVMX_E_FIELD;
}

static const svmx_vmcb_field_info *scalar_field(svmx_vmcb_field field)
{
    const svmx_vmcb_field_info *f = svmx_vmcb_field_info_of(field);
    return f && !f->bytes ? f : NULL;
}

svmx_status svmx_vmcb_read(const svmx_vmcb *vmcb, svmx_vmcb_field field,
                           uint64_t *value)
{
    if (!vmcb || !value)
        return SVMX_E_ARG;
    const svmx_vmcb_field_info *f = scalar_field(field);
    if (!f)
        return SVMX_E_FIELD;
    *value = svm_load_le(&vmcb->bytes[f->offset], f->width);
    return SVMX_OK;
}

uint64_t svmx_vmcb_get(const svmx_vmcb *vmcb, svmx_vmcb_field field)
{
    uint64_t v = 0;
    return svmx_vmcb_read(vmcb, field, &v) == SVMX_OK ? v : 0;
}

svmx_status svmx_vmcb_set(svmx_vmcb *vmcb, svmx_vmcb_field field,
                          uint64_t value)
{
    if (!vmcb)
        return SVMX_E_ARG;
    const svmx_vmcb_field_info *f = scalar_field(field);
    if (!f)
        return SVMX_E_FIELD;
    if (f->width < 8 && (value >> (8 * f->width)) != 0)
        return SVMX_E_STATE;
    svm_store_le(&vmcb->bytes[f->offset], f->width, value);
    return SVMX_OK;
}

svmx_status svmx_vmcb_read_bytes(const svmx_vmcb *vmcb,
                                 svmx_vmcb_field field, void *buf, size_t len)
{
    if (!vmcb || !buf)
        return SVMX_E_ARG;
    const svmx_vmcb_field_info *f = svmx_vmcb_field_info_of(field);
    if (!f)
        return SVMX_E_FIELD;
    if (len != f->width)
        return SVMX_E_ARG;
    memcpy(buf, &vmcb->bytes[f->offset], len);
    return SVMX_OK;
}

svmx_status svmx_vmcb_write_bytes(svmx_vmcb *vmcb, svmx_vmcb_field field,
                                  const void *buf, size_t len)
{
    if (!vmcb || !buf)
        return SVMX_E_ARG;
    const svmx_vmcb_field_info *f = svmx_vmcb_field_info_of(field);
    if (!f)
        return SVMX_E_FIELD;
    if (len != f->width)
        return SVMX_E_ARG;
    memcpy(&vmcb->bytes[f->offset], buf, len);
    return SVMX_OK;
}

/* -------------------------------------------------------- intercepts -- */

bool svmx_svm_intercept_test(const svmx_vmcb *vmcb, unsigned intercept)
{
    if (!vmcb || intercept >= SVMX_SVM_INTERCEPT_COUNT)
        return false;
    return (svm_rd32(vmcb, SVMX_SVM_INTERCEPT_WORD(intercept)) &
            SVMX_SVM_INTERCEPT_MASK(intercept)) != 0;
}

svmx_status svmx_svm_intercept_set(svmx_vmcb *vmcb, unsigned intercept,
                                   bool on)
{
    if (!vmcb || intercept >= SVMX_SVM_INTERCEPT_COUNT)
        return SVMX_E_ARG;
    uint8_t *p = &vmcb->bytes[SVMX_SVM_INTERCEPT_WORD(intercept)];
    uint32_t w = (uint32_t)svm_load_le(p, 4);
    w = on ? w | SVMX_SVM_INTERCEPT_MASK(intercept)
           : w & ~SVMX_SVM_INTERCEPT_MASK(intercept);
    svm_store_le(p, 4, w);
    return SVMX_OK;
}

/* -------------------------------------------------------- exit codes -- */

/*
 * Below 0xC0 an exit code is its intercept's number (the hardware's own
 * numbering, which routing-rules.md 1.1 relies on): checked per row. Rows
 * with a refine step other than ALWAYS have an intercept bit; ALWAYS rows
 * have none.
 */
#define CHECK_EXIT(name, code, intercept, refine)                             \
    _Static_assert((code) < 0 || (code) >= 0xc0 ||                            \
                   SVMX_SVM_INTERCEPT_##intercept == (code),                  \
                   "exit " #name ": code is not its intercept number");       \
    _Static_assert((SVMX_SVM_REFINE_##refine == SVMX_SVM_REFINE_ALWAYS) ==    \
                   (SVMX_SVM_INTERCEPT_##intercept ==                         \
                    SVMX_SVM_INTERCEPT_NONE),                                 \
                   "exit " #name ": ALWAYS exactly when no intercept bit");   \
    _Static_assert(SVMX_SVM_INTERCEPT_##intercept ==                          \
                   SVMX_SVM_INTERCEPT_NONE ||                                 \
                   SVMX_SVM_INTERCEPT_##intercept <                           \
                   SVMX_SVM_INTERCEPT_COUNT,                                  \
                   "exit " #name ": intercept out of range");
SVMX_SVM_EXITS(CHECK_EXIT)
#undef CHECK_EXIT

static const svmx_svm_exit_info svm_exits[SVMX_SVM_EXIT_COUNT] = {
#define EXIT_ROW(name, code, intercept, refine)                               \
    [SVMX_SVM_EXIT_INDEX_##name] = { (uint64_t)(int64_t)(code), #name,        \
                                     SVMX_SVM_INTERCEPT_##intercept,          \
                                     SVMX_SVM_REFINE_##refine },
    SVMX_SVM_EXITS(EXIT_ROW)
#undef EXIT_ROW
};

const svmx_svm_exit_info *svmx_svm_exit_info_of(uint64_t code)
{
    switch (code) {
#define EXIT_CASE(name, c, intercept, refine)                                 \
    case (uint64_t)(int64_t)(c):                                              \
        return &svm_exits[SVMX_SVM_EXIT_INDEX_##name];
        SVMX_SVM_EXITS(EXIT_CASE)
#undef EXIT_CASE
    default:
        return NULL;
    }
}

const svmx_svm_exit_info *svmx_svm_exit_at(size_t index)
{
    return index < SVMX_SVM_EXIT_COUNT ? &svm_exits[index] : NULL;
}

const char *svmx_svm_exit_name(uint64_t code)
{
    const svmx_svm_exit_info *e = svmx_svm_exit_info_of(code);
    return e ? e->name : "?";
}

const char *svmx_svm_refine_name(svmx_svm_refine refine)
{
    static const char *const names[SVMX_SVM_REFINE_COUNT] = {
#define REFINE_NAME(name, text) [SVMX_SVM_REFINE_##name] = #name,
        SVMX_SVM_REFINES(REFINE_NAME)
#undef REFINE_NAME
    };
    return (unsigned)refine < SVMX_SVM_REFINE_COUNT ? names[refine] : "?";
}

bool svmx_svm_intercepted(const svmx_vmcb *vmcb, uint64_t code)
{
    const svmx_svm_exit_info *e = svmx_svm_exit_info_of(code);
    if (!vmcb || !e)
        return false;
    if (e->intercept == SVMX_SVM_INTERCEPT_NONE)
        return true;
    return svmx_svm_intercept_test(vmcb, e->intercept);
}

/* ---------------------------------------------------- refine helpers -- */

bool svmx_svm_exception_intercepted(const svmx_vmcb *vmcb, unsigned vector)
{
    return vector < 32 &&
           svmx_svm_intercept_test(vmcb, SVMX_SVM_INTERCEPT_EXCEPTION(vector));
}

bool svmx_svm_cr0_write_intercepted(const svmx_vmcb *vmcb, uint64_t old_cr0,
                                    uint64_t new_cr0, bool lmsw,
                                    uint64_t *exit_code)
{
    if (!vmcb || !exit_code)
        return false;
    uint64_t code = svm_cr0_write_exit(vmcb, old_cr0, new_cr0, lmsw);
    if (code)
        *exit_code = code;
    return code != 0;
}

/* APM Vol. 2 15.11 Table 15-8: the three MSR ranges and their bytes. */
static const struct msrpm_range {
    uint32_t first;   /* first MSR of the range (8K MSRs)      */
    uint32_t offset;  /* its byte offset in the map            */
} msrpm_ranges[] = {
    { 0x00000000u, 0x0000u },
    { 0xc0000000u, 0x0800u },
    { 0xc0010000u, 0x1000u },
};

bool svmx_svm_msrpm_locate(uint32_t msr, uint32_t *byte, unsigned *bit)
{
    for (size_t i = 0; i < COUNT_OF(msrpm_ranges); i++) {
        uint32_t n = msr - msrpm_ranges[i].first;
        if (n < 0x2000u) {
            uint32_t pos = n * 2; /* bit position within the range */
            if (byte)
                *byte = msrpm_ranges[i].offset + pos / 8;
            if (bit)
                *bit = pos % 8;
            return true;
        }
    }
    return false;
}

bool svmx_svm_msrpm_intercepted(const uint8_t *map, size_t len, uint32_t msr,
                                bool wrmsr)
{
    uint32_t byte;
    unsigned bit;
    if (!svmx_svm_msrpm_locate(msr, &byte, &bit) || byte >= len || !map)
        return true;
    return (map[byte] >> (bit + (wrmsr ? 1 : 0))) & 1;
}

/* The map's base as VMRUN takes it: bits 11:0 ignored (15.10.1, 15.11). */
#define PAGE_BASE(pa) ((pa) & ~0xfffull)

svmx_status svmx_svm_msrpm_read(const svmx_mem *mem, uint64_t msrpm_base_pa,
                                uint32_t msr, bool wrmsr, bool *intercepted)
{
    if (!mem || !intercepted)
        return SVMX_E_ARG;
    *intercepted = true;
    uint32_t byte;
    unsigned bit;
    if (!svmx_svm_msrpm_locate(msr, &byte, &bit))
        return SVMX_OK; /* outside the ranges: always intercepted */
    uint8_t b; /* both of the MSR's bits are in this byte */
    SVMX_TRY(svmx_mem_read(mem, PAGE_BASE(msrpm_base_pa) + byte, &b, 1));
    *intercepted = (b >> (bit + (wrmsr ? 1 : 0))) & 1;
    return SVMX_OK;
}

/* Access sizes are 1, 2 or 4 (15.10.2); anything else checks 4 bits. */
static unsigned io_size(unsigned size)
{
    return size == 1 || size == 2 ? size : 4;
}

bool svmx_svm_iopm_intercepted(const uint8_t *map, size_t len, uint16_t port,
                               unsigned size)
{
    size = io_size(size);
    for (uint32_t bit = port; bit < (uint32_t)port + size; bit++) {
        if (bit / 8 >= len || !map || ((map[bit / 8] >> (bit % 8)) & 1))
            return true;
    }
    return false;
}

svmx_status svmx_svm_iopm_read(const svmx_mem *mem, uint64_t iopm_base_pa,
                               uint16_t port, unsigned size,
                               bool *intercepted)
{
    if (!mem || !intercepted)
        return SVMX_E_ARG;
    *intercepted = true;
    size = io_size(size);
    /* At most two bytes hold the bits (a 4-byte access covers 4 bits). */
    uint32_t first = port / 8u, last = ((uint32_t)port + size - 1) / 8u;
    uint8_t b[2];
    SVMX_TRY(svmx_mem_read(mem, PAGE_BASE(iopm_base_pa) + first, b,
                           last - first + 1));
    *intercepted = svmx_svm_iopm_intercepted(b, last - first + 1,
                                             (uint16_t)(port % 8u), size);
    return SVMX_OK;
}
