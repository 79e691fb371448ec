/*
 * src/decode/mode.c - the machine mode from architectural state.
 */
#include "svmx/decode.h"

#include "decode/mode_derive.h"

svmx_mode svmx_mode_derive(uint64_t cr0, uint64_t rflags, uint64_t efer,
                           bool cs_l, bool cs_d)
{
    return decode_mode_derive(cr0, rflags, efer, cs_l, cs_d);
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
