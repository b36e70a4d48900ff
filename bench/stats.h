/* Statistics for the benchmark programs (not part of the library).
 *
 * Header-only C11 that also compiles as C++ (the GPU benchmarks are CUDA
 * C++). Latencies are far from normal - skewed, with long tails - so the
 * headline figure is the median with a bootstrap confidence interval, which
 * assumes nothing about the shape. Welch's t-test compares means without
 * assuming equal variances; with 10^5 samples it finds almost any
 * difference "significant", so read it together with the ratio.
 *
 *   rk_stats_of             sort, then median, p99, p99.9, mean, sd, CV, CI
 *   rk_stats_quantile       nearest-rank quantile of sorted data
 *   rk_stats_median         middle value (mean of the two middle ones if n is even)
 *   rk_stats_bootstrap_median_ci   percentile bootstrap interval of the median
 *   rk_stats_welch          Welch's t, its degrees of freedom, two-sided p
 *   rk_stats_t_cdf, rk_stats_betainc   Student's t CDF, regularized incomplete beta */
#ifndef RK_BENCH_STATS_H
#define RK_BENCH_STATS_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#define RK_STATS_RESAMPLES 2000u            /* bootstrap resamples */
#define RK_STATS_SEED 0x52494e474b45524eull /* fixed: the same data gives the same interval */

typedef struct rk_stats {
    double median, p99, p999, min, max, mean;
    double sd;           /* sample standard deviation (n - 1) */
    double cv;           /* sd / mean */
    double ci_lo, ci_hi; /* 95% confidence interval of the median (bootstrap) */
    size_t n;
} rk_stats;

typedef struct rk_welch {
    double t;   /* (mean1 - mean2) / standard error of the difference */
    double dof; /* Welch-Satterthwaite degrees of freedom */
    double p;   /* two-sided p-value */
} rk_welch;

static inline int rk__cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- order statistics -------------------------------------------------- */

/* The smallest value with at least q*n values at or below it (nearest rank). */
static inline double rk_stats_quantile(const double *sorted, size_t n, double q)
{
    double r;
    size_t k;
    if (n == 0)
        return NAN;
    r = ceil(q * (double)n);
    k = r < 1.0 ? 1 : (size_t)r;
    return sorted[(k > n ? n : k) - 1];
}

static inline double rk_stats_median(const double *sorted, size_t n)
{
    if (n == 0)
        return NAN;
    return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0;
}

/* Mean and sample variance in one pass (Welford: no cancellation). */
static inline void rk_stats_mean_var(const double *v, size_t n, double *mean, double *var)
{
    double m = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        double d = v[i] - m;
        m += d / (double)(i + 1);
        s += d * (v[i] - m);
    }
    *mean = n ? m : NAN;
    *var = n > 1 ? s / (double)(n - 1) : NAN;
}

/* Coefficient of variation: sample standard deviation over the mean. */
static inline double rk_stats_cv(const double *v, size_t n)
{
    double m, var;
    rk_stats_mean_var(v, n, &m, &var);
    return n > 1 && m != 0 ? sqrt(var) / fabs(m) : NAN;
}

/* ---- random numbers for the bootstrap ------------------------------------ */

typedef struct rk_rng {
    uint64_t s[4]; /* xoshiro256** state */
} rk_rng;

static inline uint64_t rk__splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline void rk_rng_seed(rk_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = rk__splitmix64(&seed);
}

static inline uint64_t rk__rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t rk_rng_next(rk_rng *r)
{
    uint64_t *s = r->s, out = rk__rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rk__rotl(s[3], 45);
    return out;
}

/* Uniform on (0, 1]: never 0, so its logarithm is finite. */
static inline double rk_rng_uniform(rk_rng *r)
{
    return ((double)(rk_rng_next(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
}

/* Standard normal (Box-Muller; the second value is dropped for simplicity). */
static inline double rk__normal(rk_rng *r)
{
    double u = rk_rng_uniform(r), v = rk_rng_uniform(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* Gamma(a, 1) for a >= 1 (Marsaglia and Tsang's squeeze method). */
static inline double rk__gamma(rk_rng *r, double a)
{
    double d = a - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x, v, u;
        do {
            x = rk__normal(r);
            v = 1.0 + c * x;
        } while (v <= 0);
        v = v * v * v;
        u = rk_rng_uniform(r);
        if (u < 1.0 - 0.0331 * x * x * x * x || log(u) < 0.5 * x * x + d * (1.0 - v + log(v)))
            return d * v;
    }
}

/* Beta(a, b) for a, b >= 1. */
static inline double rk__beta(rk_rng *r, double a, double b)
{
    double x = rk__gamma(r, a), y = rk__gamma(r, b);
    return x / (x + y);
}

static inline size_t rk__index_of(double u, size_t n)
{
    double i = floor(u * (double)n);
    return i < 0 ? 0 : i >= (double)n ? n - 1 : (size_t)i;
}

/* ---- bootstrap interval of the median ------------------------------------ */

/* The median of one resample (n draws with replacement from `sorted`).
 *
 * Drawing an index is floor(n U) with U uniform on (0, 1), and floor is
 * monotone, so the k-th smallest drawn index is floor(n U_(k)) where U_(k),
 * the k-th smallest of n uniforms, is Beta(k, n + 1 - k); because `sorted`
 * is sorted, the k-th smallest drawn value is sorted at that index. Given
 * U_(k) = u, U_(k+1) is u plus (1 - u) times the smallest of n - k uniforms,
 * Beta(1, n - k) = 1 - V^(1/(n-k)). So each resample costs O(1), not O(n):
 * the same distribution as resampling, for 10^5 samples and 2000 resamples. */
static inline double rk__resample_median(rk_rng *r, const double *sorted, size_t n)
{
    size_t k = n % 2 ? (n + 1) / 2 : n / 2;
    double u = rk__beta(r, (double)k, (double)(n + 1 - k)), u2;
    if (n % 2)
        return sorted[rk__index_of(u, n)];
    u2 = u + (1.0 - u) * (1.0 - pow(rk_rng_uniform(r), 1.0 / (double)(n - k)));
    return (sorted[rk__index_of(u, n)] + sorted[rk__index_of(u2, n)]) / 2.0;
}

/* Percentile bootstrap interval of the median at `level` (0.95 for 95%):
 * the (1-level)/2 and (1+level)/2 quantiles of the medians of `resamples`
 * resamples. Deterministic for a given seed. `sorted` must be sorted. */
static inline void rk_stats_bootstrap_median_ci(const double *sorted, size_t n, unsigned resamples, uint64_t seed,
                                                double level, double *lo, double *hi)
{
    double *m;
    rk_rng r;
    if (n == 0 || resamples == 0) {
        *lo = *hi = NAN;
        return;
    }
    if (n == 1) {
        *lo = *hi = sorted[0];
        return;
    }
    m = (double *)malloc(resamples * sizeof *m);
    if (!m) {
        *lo = *hi = NAN;
        return;
    }
    rk_rng_seed(&r, seed);
    for (unsigned i = 0; i < resamples; i++)
        m[i] = rk__resample_median(&r, sorted, n);
    qsort(m, resamples, sizeof *m, rk__cmp_double);
    *lo = rk_stats_quantile(m, resamples, (1.0 - level) / 2.0);
    *hi = rk_stats_quantile(m, resamples, (1.0 + level) / 2.0);
    free(m);
}

/* Sorts `v` in place and summarises it; the interval is the bootstrap one
 * (RK_STATS_RESAMPLES resamples, RK_STATS_SEED). */
static inline rk_stats rk_stats_of(double *v, size_t n)
{
    rk_stats s;
    double var;
    s.n = n;
    s.median = s.p99 = s.p999 = s.min = s.max = s.mean = s.sd = s.cv = s.ci_lo = s.ci_hi = NAN;
    if (n == 0)
        return s;
    rk_stats_mean_var(v, n, &s.mean, &var);
    qsort(v, n, sizeof *v, rk__cmp_double);
    s.min = v[0];
    s.max = v[n - 1];
    s.median = rk_stats_median(v, n);
    s.p99 = rk_stats_quantile(v, n, 0.99);
    s.p999 = rk_stats_quantile(v, n, 0.999);
    if (n > 1) {
        s.sd = sqrt(var);
        s.cv = s.mean != 0 ? s.sd / fabs(s.mean) : NAN;
    }
    rk_stats_bootstrap_median_ci(v, n, RK_STATS_RESAMPLES, RK_STATS_SEED, 0.95, &s.ci_lo, &s.ci_hi);
    return s;
}

/* ---- Student's t ------------------------------------------------------------- */

/* The continued fraction of I_x(a, b) (DLMF 8.17.22), evaluated with the
 * modified Lentz method; converges fast for x < (a + 1) / (a + b + 2). */
static inline double rk__betacf(double a, double b, double x)
{
    const double tiny = 1e-300, eps = 1e-15;
    double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0), f;
    if (fabs(d) < tiny)
        d = tiny;
    d = 1.0 / d;
    f = d;
    for (int m = 1; m <= 100000; m++) {
        double m2 = 2.0 * m, num, delta;
        /* even step: d_2m */
        num = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
        d = 1.0 + num * d;
        c = 1.0 + num / c;
        d = fabs(d) < tiny ? 1.0 / tiny : 1.0 / d;
        c = fabs(c) < tiny ? tiny : c;
        f *= d * c;
        /* odd step: d_2m+1 */
        num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
        d = 1.0 + num * d;
        c = 1.0 + num / c;
        d = fabs(d) < tiny ? 1.0 / tiny : 1.0 / d;
        c = fabs(c) < tiny ? tiny : c;
        delta = d * c;
        f *= delta;
        if (fabs(delta - 1.0) < eps)
            break;
    }
    return f;
}

/* Regularized incomplete beta function I_x(a, b), a, b > 0, 0 <= x <= 1. */
static inline double rk_stats_betainc(double a, double b, double x)
{
    double lfront;
    if (!(a > 0) || !(b > 0) || !(x >= 0) || !(x <= 1))
        return NAN;
    if (x == 0 || x == 1)
        return x;
    lfront = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    if (x < (a + 1.0) / (a + b + 2.0))
        return exp(lfront) * rk__betacf(a, b, x) / a;
    return 1.0 - exp(lfront) * rk__betacf(b, a, 1.0 - x) / b;
}

/* P(T <= t) for Student's t with `dof` > 0 degrees of freedom. */
static inline double rk_stats_t_cdf(double t, double dof)
{
    double tail;
    if (isnan(t) || !(dof > 0))
        return NAN;
    if (isinf(t))
        return t > 0 ? 1.0 : 0.0;
    /* P(|T| > |t|) = I_{dof/(dof+t^2)}(dof/2, 1/2) */
    tail = 0.5 * rk_stats_betainc(dof / 2.0, 0.5, dof / (dof + t * t));
    return t > 0 ? 1.0 - tail : tail;
}

/* Welch's unequal-variances t-test from summary statistics (sample
 * variances). Needs n >= 2 on both sides; NAN fields otherwise. */
static inline rk_welch rk_stats_welch(double mean1, double var1, size_t n1, double mean2, double var2, size_t n2)
{
    rk_welch w;
    double v1, v2, se2;
    w.t = w.dof = w.p = NAN;
    if (n1 < 2 || n2 < 2)
        return w;
    v1 = var1 / (double)n1;
    v2 = var2 / (double)n2;
    se2 = v1 + v2;
    if (se2 == 0) {
        /* Both sides constant: equal means are no evidence of a difference,
         * different ones are certain. */
        w.t = mean1 == mean2 ? 0.0 : (mean1 > mean2 ? INFINITY : -INFINITY);
        w.p = mean1 == mean2 ? 1.0 : 0.0;
        w.dof = (double)(n1 + n2 - 2);
        return w;
    }
    w.t = (mean1 - mean2) / sqrt(se2);
    w.dof = se2 * se2 / (v1 * v1 / (double)(n1 - 1) + v2 * v2 / (double)(n2 - 1));
    w.p = rk_stats_betainc(w.dof / 2.0, 0.5, w.dof / (w.dof + w.t * w.t));
    return w;
}

/* Welch's test on two raw samples. */
static inline rk_welch rk_stats_welch_of(const double *a, size_t na, const double *b, size_t nb)
{
    double ma, va, mb, vb;
    rk_stats_mean_var(a, na, &ma, &va);
    rk_stats_mean_var(b, nb, &mb, &vb);
    return rk_stats_welch(ma, va, na, mb, vb, nb);
}

#endif
