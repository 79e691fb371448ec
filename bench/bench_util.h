/*
 * bench/bench_util.h - what every benchmark program needs: a monotonic
 * clock in nanoseconds and the median of a few rounds.
 */
#ifndef SVMX_BENCH_UTIL_H
#define SVMX_BENCH_UTIL_H

#include <stdlib.h>
#include <time.h>

/* Rounds each figure is the median of. */
#define BENCH_ROUNDS 9

static inline double bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median of n values (reorders them). */
static inline double bench_median(double *v, size_t n)
{
    qsort(v, n, sizeof v[0], bench_cmp_double);
    return v[n / 2];
}

#endif /* SVMX_BENCH_UTIL_H */
