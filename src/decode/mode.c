/*
 * src/decode/mode.c - the machine mode from architectural state.
 */
#include "svmx/decode.h"

#define CR0_PE    (1ull << 0)
#define RFLAGS_VM (1ull << 17)
#define EFER_LMA  (1ull << 10)

svmx_mode svmx_mode_derive(uint64_t cr0, uint64_t rflags, uint64_t efer,
                           bool cs_l, bool cs_d)
{
    /* APM Vol. 2 1.2 Table 1-1 and SDM Vol. 3A 2.2: long mode first, its
     * sub-mode by CS.L; legacy modes by CR0.PE, RFLAGS.VM and CS.D. */
    if (efer & EFER_LMA) {
        if (cs_l)
            return SVMX_MODE_LONG64;
        return cs_d ? SVMX_MODE_COMPAT32 : SVMX_MODE_COMPAT16;
    }
    if (!(cr0 & CR0_PE))
        return SVMX_MODE_REAL;
    if (rflags & RFLAGS_VM)
        return SVMX_MODE_V86;
    return cs_d ? SVMX_MODE_PROT32 : SVMX_MODE_PROT16;
}

const char *svmx_mode_name(svmx_mode mode)
{
    static const char *const names[SVMX_MODE_COUNT] = {
        [SVMX_MODE_REAL] = "real",       [SVMX_MODE_V86] = "v86",
        [SVMX_MODE_PROT16] = "prot16",   [SVMX_MODE_PROT32] = "prot32",
        [SVMX_MODE_COMPAT16] = "compat16", [SVMX_MODE_COMPAT32] = "compat32",
        [SVMX_MODE_LONG64] = "long64",
    };
    if ((unsigned)mode >= SVMX_MODE_COUNT)
        return "?";
    return names[mode];
}
