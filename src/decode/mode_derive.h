/*
 * src/decode/mode_derive.h - svmx_mode_derive() as an inline function, for
 * the interpreter, which asks before every instruction.
 */
#ifndef SVMX_DECODE_MODE_DERIVE_H
#define SVMX_DECODE_MODE_DERIVE_H

#include <stdbool.h>
#include <stdint.h>

#include "svmx/decode.h"

static inline svmx_mode decode_mode_derive(uint64_t cr0, uint64_t rflags,
                                           uint64_t efer, bool cs_l, bool cs_d)
{
    /* APM Vol. 2 1.2 Table 1-1 and SDM Vol. 3A 2.2: long mode first, its
     * sub-mode by CS.L; legacy modes by CR0.PE, RFLAGS.VM and CS.D. */
    if (efer & (1ull << 10)) { /* EFER.LMA */
        if (cs_l)
            return SVMX_MODE_LONG64;
        return cs_d ? SVMX_MODE_COMPAT32 : SVMX_MODE_COMPAT16;
    }
    if (!(cr0 & 1u)) /* CR0.PE */
        return SVMX_MODE_REAL;
    if (rflags & (1ull << 17)) /* RFLAGS.VM */
        return SVMX_MODE_V86;
    return cs_d ? SVMX_MODE_PROT32 : SVMX_MODE_PROT16;
}

#endif /* SVMX_DECODE_MODE_DERIVE_H */
