/*
 * tests/test_headers.c - every public header compiles on its own and when
 * included twice, in two orders (xxHash's multiInclude idea). This file
 * includes them one way, test_headers2.c the other way round; both must
 * build with -Wall -Wextra -Wpedantic -Werror.
 */
#include "svmx/status.h"
#include "svmx/status.h"
#include "svmx/decode.h"
#include "svmx/decode.h"
#include "svmx/mem.h"
#include "svmx/mem.h"
#include "svmx/cpu.h"
#include "svmx/cpu.h"
#include "svmx/svm.h"
#include "svmx/svm.h"
#include "svmx/svmx.h"
#include "svmx/svmx.h"

int headers2_check(void);

int main(void)
{
    /* Something from each header, so an empty header would not pass. */
    svmx_insn insn;
    svmx_mem mem;
    svmx_regs regs;
    svmx_vmcb vmcb;
    (void)insn;
    (void)mem;
    (void)regs;
    (void)vmcb;
    if (svmx_version() != SVMX_VERSION)
        return 1;
    if (SVMX_STATUS_COUNT < 2 || SVMX_INSN_CLASS_COUNT < 2 ||
        SVMX_VENDOR_COUNT != 2 || SVMX_VMCB_CR0 != 0x558)
        return 1;
    return headers2_check();
}
