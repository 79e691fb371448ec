/*
 * src/status.c - status strings and the library version, both generated
 * from the lists in the public headers.
 */
#include "svmx/svmx.h"

const char *svmx_status_str(svmx_status status)
{
    static const char *const text[SVMX_STATUS_COUNT] = {
#define X(name, desc) [SVMX_##name] = desc,
        SVMX_STATUS_LIST(X)
#undef X
    };
    if ((unsigned)status >= SVMX_STATUS_COUNT)
        return "unknown status";
    return text[status];
}

const char *svmx_status_name(svmx_status status)
{
    static const char *const names[SVMX_STATUS_COUNT] = {
#define X(name, desc) [SVMX_##name] = #name,
        SVMX_STATUS_LIST(X)
#undef X
    };
    if ((unsigned)status >= SVMX_STATUS_COUNT)
        return "?";
    return names[status];
}

#define SVMX_STR_(x) #x
#define SVMX_STR(x)  SVMX_STR_(x)

unsigned svmx_version(void)
{
    return SVMX_VERSION;
}

const char *svmx_version_string(void)
{
    return SVMX_STR(SVMX_VERSION_MAJOR) "." SVMX_STR(SVMX_VERSION_MINOR) "."
        SVMX_STR(SVMX_VERSION_PATCH);
}
