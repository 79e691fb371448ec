/*
 * src/cpu/le.h - little-endian loads and stores of 1 to 8 bytes of guest
 * memory through a host pointer: the x86 byte order, whatever the host's.
 */
#ifndef SVMX_CPU_LE_H
#define SVMX_CPU_LE_H

#include <stdint.h>
#include <string.h>

static inline uint64_t le_load(const uint8_t *p, unsigned n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* Fixed-size copies the compiler turns into single moves. */
    uint8_t b1; uint16_t b2; uint32_t b4; uint64_t b8;
    switch (n) {
    case 1: memcpy(&b1, p, 1); return b1;
    case 2: memcpy(&b2, p, 2); return b2;
    case 4: memcpy(&b4, p, 4); return b4;
    case 8: memcpy(&b8, p, 8); return b8;
    default: break;
    }
#endif
    uint64_t v = 0;
    for (unsigned i = 0; i < n && i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static inline void le_store(uint8_t *p, unsigned n, uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint8_t b1 = (uint8_t)v; uint16_t b2 = (uint16_t)v; uint32_t b4 = (uint32_t)v;
    switch (n) {
    case 1: memcpy(p, &b1, 1); return;
    case 2: memcpy(p, &b2, 2); return;
    case 4: memcpy(p, &b4, 4); return;
    case 8: memcpy(p, &v, 8); return;
    default: break;
    }
#endif
    for (unsigned i = 0; i < n && i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

#endif /* SVMX_CPU_LE_H */
