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

#include <stdint.h>

#include "svmx/svm.h"

/* Little-endian load of `width` (1..8) bytes at p. */
static inline uint64_t svm_load_le(const uint8_t *p, unsigned width)
{
    uint64_t v = 0;
    for (unsigned i = width; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

static inline void svm_store_le(uint8_t *p, unsigned width, uint64_t v)
{
    for (unsigned i = 0; i < width; i++, v >>= 8)
        p[i] = (uint8_t)v;
}

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

#endif /* SVMX_SVM_SVM_INTERNAL_H */
