/* Summary statistics for the benchmark programs (not part of the library). */
#ifndef RK_BENCH_STATS_H
#define RK_BENCH_STATS_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct rk_stats {
    double median, p99, p999, min, max, mean;
    double ci_lo, ci_hi; /* 95% confidence interval of the median */
    size_t n;
} rk_stats;

static int rk__cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts `v` in place. The median's 95% interval uses order statistics
 * (ranks n/2 -+ 1.96 sqrt(n)/2), which needs no assumption about the shape
 * of the distribution - latencies are far from normal. */
static inline rk_stats rk_stats_of(double *v, size_t n)
{
    rk_stats s = {0};
    double sum = 0;
    size_t lo, hi, half;
    if (n == 0)
        return s;
    qsort(v, n, sizeof *v, rk__cmp_double);
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    s.n = n;
    s.mean = sum / (double)n;
    s.min = v[0];
    s.max = v[n - 1];
    s.median = v[n / 2];
    s.p99 = v[(size_t)((double)(n - 1) * 0.99)];
    s.p999 = v[(size_t)((double)(n - 1) * 0.999)];
    half = (size_t)(0.98 * sqrt((double)n));
    lo = n / 2 > half ? n / 2 - half : 0;
    hi = n / 2 + half < n ? n / 2 + half : n - 1;
    s.ci_lo = v[lo];
    s.ci_hi = v[hi];
    return s;
}

#endif
