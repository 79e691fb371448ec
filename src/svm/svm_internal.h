/*
 * src/svm/svm_internal.h - helpers the files of src/svm share: VMCB loads
 * and stores by offset, little-endian whatever the host.
 *
 * Callers pass offsets from the SVMX_VMCB_FIELDS list with the width the
 * list gives them, so the bounds hold by construction (vmcb.c asserts the
 * list stays inside the page); these helpers do not check again.
 */
#ifndef SVMX_SVM_SVM_INTERNAL_H
#define SVMX_SVM_SVM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/le.h"
#include "svmx/svm.h"

/* Little-endian load of `width` (1..8) bytes at p: one move for the
 * scalar widths on a little-endian host (cpu/le.h). */
static inline uint64_t svm_load_le(const uint8_t *p, unsigned width)
{
    return le_load(p, width);
}

static inline void svm_store_le(uint8_t *p, unsigned width, uint64_t v)
{
    le_store(p, width, v);
}

/* Each listed field's width, by name: SVM_W_CR0 == 8. */
enum {
#define SVM_W_(name, off, width, kind) SVM_W_##name = (width),
    SVMX_VMCB_FIELDS(SVM_W_)
#undef SVM_W_
};

/* A scalar field by name, at the width the list gives it. */
#define SVM_GET(vmcb, name)                                                   \
    svm_load_le(&(vmcb)->bytes[SVMX_VMCB_##name], SVM_W_##name)
#define SVM_PUT(vmcb, name, value)                                            \
    svm_store_le(&(vmcb)->bytes[SVMX_VMCB_##name], SVM_W_##name, (value))

/* The fields the SVM code reads most, by their listed widths. */
static inline uint64_t svm_rd64(const svmx_vmcb *vmcb, svmx_vmcb_field f)
{
    return svm_load_le(&vmcb->bytes[f], 8);
}

static inline uint32_t svm_rd32(const svmx_vmcb *vmcb, svmx_vmcb_field f)
{
    return (uint32_t)svm_load_le(&vmcb->bytes[f], 4);
}

static inline uint16_t svm_rd16(const svmx_vmcb *vmcb, svmx_vmcb_field f)
{
    return (uint16_t)svm_load_le(&vmcb->bytes[f], 2);
}

static inline uint8_t svm_rd8(const svmx_vmcb *vmcb, svmx_vmcb_field f)
{
    return vmcb->bytes[f];
}

/* Intercept bit n of the vectors, which start at VMCB offset 0, little-
 * endian: bit n is bit n % 8 of byte n / 8 (APM Vol. 2 Table B-1). */
static inline bool svm_icpt_bit(const svmx_vmcb *vmcb, unsigned n)
{
    return (vmcb->bytes[n >> 3] >> (n & 7)) & 1;
}

/*
 * The exit a write of new_cr0 over old_cr0 takes (APM Vol. 2 15.9 Table
 * 15-7), or 0 for none: the CR0 write intercept (0x10) first, else the
 * selective one (0x65) when a bit other than TS (3) and MP (1) changes,
 * and always for LMSW.
 */
static inline uint64_t svm_cr0_write_exit(const svmx_vmcb *vmcb,
                                          uint64_t old_cr0, uint64_t new_cr0,
                                          bool lmsw)
{
    if (svm_icpt_bit(vmcb, SVMX_SVM_INTERCEPT_CR_WRITE(0)))
        return SVMX_SVM_EXIT_CR0_WRITE;
    if (svm_icpt_bit(vmcb, SVMX_SVM_INTERCEPT_CR0_SEL_WRITE) &&
        (lmsw || ((old_cr0 ^ new_cr0) & ~0xaull)))
        return SVMX_SVM_EXIT_CR0_SEL_WRITE;
    return 0;
}

#endif /* SVMX_SVM_SVM_INTERNAL_H */
