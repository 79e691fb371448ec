/*
 * svmx/status.h - host-facing status codes and the export macro.
 *
 * svmx has two result channels (STYLE.md 3.6). An svmx_status answers the
 * *host*: API misuse, a feature the model does not implement, an internal
 * bug. What the *guest* sees (an exception, a #VMEXIT, a VMfail) is data in
 * an out-parameter and never a status. No function in svmx aborts.
 */
#ifndef SVMX_STATUS_H
#define SVMX_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Marks the declarations libsvmx exports; everything else is hidden. */
#if defined(_WIN32)
#define SVMX_API __declspec(dllexport)
#elif defined(__GNUC__)
#define SVMX_API __attribute__((visibility("default")))
#else
#define SVMX_API
#endif

/*
 * X(name, description): the single list the enum and svmx_status_str()
 * both come from, so the two cannot drift apart.
 */
#define SVMX_STATUS_LIST(X)                                                   \
    X(OK,            "success")                                               \
    X(E_ARG,         "invalid argument (host API misuse)")                    \
    X(E_NOMEM,       "out of host memory")                                    \
    X(E_TRUNCATED,   "instruction bytes end before the instruction")          \
    X(E_UNSUPPORTED, "architectural feature not modelled")                    \
    X(E_FIELD,       "unknown register, MSR, VMCB offset or VMCS encoding")   \
    X(E_STATE,       "value not valid for this register or CPU state")        \
    X(E_INTERNAL,    "internal invariant broken (bug in svmx)")

/* Status of a host-facing call. SVMX_OK is zero; everything else fails. */
typedef enum svmx_status {
#define SVMX_STATUS_ENUM_(name, text) SVMX_##name,
    SVMX_STATUS_LIST(SVMX_STATUS_ENUM_)
#undef SVMX_STATUS_ENUM_
    SVMX_STATUS_COUNT
} svmx_status;

/*
 * Returns a one-line English description of `status`, never NULL. A value
 * outside the enum gets "unknown status".
 */
SVMX_API const char *svmx_status_str(svmx_status status);

/*
 * Returns the enumerator name without the prefix ("E_ARG"), never NULL;
 * "?" for a value outside the enum.
 */
SVMX_API const char *svmx_status_name(svmx_status status);

/* Evaluates `expr` once and returns its status from the caller if not OK. */
#define SVMX_TRY(expr)                                                        \
    do {                                                                      \
        svmx_status svmx_try_status_ = (expr);                                \
        if (svmx_try_status_ != SVMX_OK)                                      \
            return svmx_try_status_;                                          \
    } while (0)

#ifdef __cplusplus
}
#endif

#endif /* SVMX_STATUS_H */
