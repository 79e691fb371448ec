/*
 * tests/test_headers2.c - the public headers in the reverse order, each
 * twice, in a translation unit of its own.
 */
#include "svmx/svmx.h"
#include "svmx/svm.h"
#include "svmx/cpu.h"
#include "svmx/mem.h"
#include "svmx/decode.h"
#include "svmx/status.h"
#include "svmx/svmx.h"
#include "svmx/svm.h"
#include "svmx/cpu.h"
#include "svmx/mem.h"
#include "svmx/decode.h"
#include "svmx/status.h"

int headers2_check(void);

int headers2_check(void)
{
    return SVMX_OK;
}
