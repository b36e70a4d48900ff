/* The benchmarks' statistics (bench/stats.h) against values known in closed
 * form, published reference values, an independent numerical integration,
 * and a plain resampling bootstrap. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../bench/stats.h"

#define PI 3.14159265358979323846

static void assert_close(double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol))
        fail_msg("got %.12g, want %.12g (tolerance %g)", got, want, tol);
}

static void test_order_statistics(void **state)
{
    double odd[] = {5, 1, 4, 2, 3}, even[] = {4, 1, 3, 2}, hundred[100];
    (void)state;
    qsort(odd, 5, sizeof *odd, rk__cmp_double);
    qsort(even, 4, sizeof *even, rk__cmp_double);
    assert_close(rk_stats_median(odd, 5), 3, 0);
    assert_close(rk_stats_median(even, 4), 2.5, 0);
    for (int i = 0; i < 100; i++)
        hundred[i] = i + 1;
    assert_close(rk_stats_quantile(hundred, 100, 0.99), 99, 0);
    assert_close(rk_stats_quantile(hundred, 100, 1.0), 100, 0);
    assert_close(rk_stats_quantile(hundred, 100, 0.0), 1, 0);
    assert_close(rk_stats_quantile(hundred, 100, 0.5), 50, 0);
    assert_true(isnan(rk_stats_median(hundred, 0)));
}

static void test_mean_var_cv(void **state)
{
    double v[] = {2, 4, 4, 4, 5, 5, 7, 9}, m, var;
    (void)state;
    rk_stats_mean_var(v, 8, &m, &var);
    assert_close(m, 5, 1e-15);
    assert_close(var, 32.0 / 7.0, 1e-14); /* sum of squares 32, n - 1 = 7 */
    assert_close(rk_stats_cv(v, 8), sqrt(32.0 / 7.0) / 5.0, 1e-14);
    /* Welford keeps the digits a naive sum of squares would cancel. */
    double big[] = {1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16};
    rk_stats_mean_var(big, 4, &m, &var);
    assert_close(var, 30, 1e-6);
}

static void test_stats_of(void **state)
{
    double v[1000];
    rk_stats s;
    (void)state;
    for (int i = 0; i < 1000; i++)
        v[i] = (double)((i * 7919) % 1000); /* 0..999, shuffled */
    s = rk_stats_of(v, 1000);
    assert_int_equal(s.n, 1000);
    assert_close(s.min, 0, 0);
    assert_close(s.max, 999, 0);
    assert_close(s.median, 499.5, 0);
    assert_close(s.p99, 989, 0);
    assert_close(s.mean, 499.5, 1e-9);
    assert_true(s.ci_lo <= s.median && s.median <= s.ci_hi);
    assert_true(s.ci_hi - s.ci_lo > 20 && s.ci_hi - s.ci_lo < 200);
    for (int i = 1; i < 1000; i++)
        assert_true(v[i - 1] <= v[i]); /* sorted in place */
}

static void test_betainc_closed_forms(void **state)
{
    static const double xs[] = {0.001, 0.1, 0.3, 0.5, 0.7, 0.9, 0.999};
    (void)state;
    for (size_t i = 0; i < sizeof xs / sizeof *xs; i++) {
        double x = xs[i];
        assert_close(rk_stats_betainc(3.5, 1, x), pow(x, 3.5), 1e-13);
        assert_close(rk_stats_betainc(1, 7.25, x), 1 - pow(1 - x, 7.25), 1e-13);
        assert_close(rk_stats_betainc(2, 2, x), 3 * x * x - 2 * x * x * x, 1e-13);
        assert_close(rk_stats_betainc(0.5, 0.5, x), 2 / PI * asin(sqrt(x)), 1e-12);
    }
    assert_close(rk_stats_betainc(40, 40, 0.5), 0.5, 1e-13);
    assert_close(rk_stats_betainc(5e4, 5e4, 0.5), 0.5, 1e-9);
    assert_close(rk_stats_betainc(2, 3, 0), 0, 0);
    assert_close(rk_stats_betainc(2, 3, 1), 1, 0);
    assert_true(isnan(rk_stats_betainc(2, 3, 1.5)));
    assert_true(isnan(rk_stats_betainc(0, 3, 0.5)));
}

static void test_t_cdf_closed_forms(void **state)
{
    static const double ts[] = {-30, -4, -1.5, -0.2, 0, 0.3, 1, 2.5, 12};
    (void)state;
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) {
        double t = ts[i];
        /* one degree of freedom: Cauchy; two: t / (2 sqrt(2 + t^2)) */
        assert_close(rk_stats_t_cdf(t, 1), 0.5 + atan(t) / PI, 1e-13);
        assert_close(rk_stats_t_cdf(t, 2), 0.5 + t / (2 * sqrt(2 + t * t)), 1e-13);
    }
    assert_close(rk_stats_t_cdf(INFINITY, 3), 1, 0);
    assert_close(rk_stats_t_cdf(-INFINITY, 3), 0, 0);
}

/* Quantiles of Student's t as printed in standard tables. */
static void test_t_cdf_table(void **state)
{
    (void)state;
    assert_close(rk_stats_t_cdf(12.7062047362, 1), 0.975, 1e-9);
    assert_close(rk_stats_t_cdf(2.0150483733, 5), 0.95, 1e-9);
    assert_close(rk_stats_t_cdf(2.2281388520, 10), 0.975, 1e-9);
    assert_close(rk_stats_t_cdf(2.7499956536, 30), 0.995, 1e-9);
    assert_close(rk_stats_t_cdf(1.9799304050, 120), 0.975, 1e-9);
    assert_close(rk_stats_t_cdf(-2.2281388520, 10), 0.025, 1e-9);
    /* many degrees of freedom: the normal distribution */
    assert_close(rk_stats_t_cdf(1.959963984540, 1e9), 0.975, 1e-7);
}

/* Student's t density, for the integration below. */
static double t_pdf(double t, double v)
{
    return exp(lgamma((v + 1) / 2) - lgamma(v / 2) - 0.5 * log(v * PI) - (v + 1) / 2 * log1p(t * t / v));
}

/* Non-integer degrees of freedom (what Welch gives) against Simpson's rule. */
static void test_t_cdf_integrated(void **state)
{
    static const double dofs[] = {1.7, 3.3, 17.776, 250.5};
    (void)state;
    for (size_t i = 0; i < sizeof dofs / sizeof *dofs; i++) {
        for (double t = 0.25; t <= 4.0; t += 1.25) {
            const int n = 20000; /* even */
            double h = t / n, sum = t_pdf(0, dofs[i]) + t_pdf(t, dofs[i]);
            for (int k = 1; k < n; k++)
                sum += (k % 2 ? 4 : 2) * t_pdf(k * h, dofs[i]);
            assert_close(rk_stats_t_cdf(t, dofs[i]), 0.5 + sum * h / 3, 1e-10);
        }
    }
}

/* R's t.test(extra ~ group, data = sleep): the Welch test prints
 * t = -1.8608, df = 17.776, p-value = 0.07939. */
static void test_welch_sleep_data(void **state)
{
    static const double g1[] = {0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0};
    static const double g2[] = {1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4};
    rk_welch w;
    (void)state;
    w = rk_stats_welch_of(g1, 10, g2, 10);
    assert_close(w.t, -1.8608, 5e-5);
    assert_close(w.dof, 17.776, 5e-4);
    assert_close(w.p, 0.07939, 5e-6);
    w = rk_stats_welch_of(g2, 10, g1, 10);
    assert_close(w.t, 1.8608, 5e-5);
    assert_close(w.p, 0.07939, 5e-6);
}

static void test_welch_edges(void **state)
{
    double a[] = {1, 1, 1}, b[] = {2, 2, 2}, c[] = {1};
    rk_welch w;
    (void)state;
    w = rk_stats_welch_of(a, 3, a, 3);
    assert_close(w.t, 0, 0);
    assert_close(w.p, 1, 0);
    w = rk_stats_welch_of(a, 3, b, 3);
    assert_true(isinf(w.t) && w.t < 0);
    assert_close(w.p, 0, 0);
    w = rk_stats_welch_of(a, 3, c, 1);
    assert_true(isnan(w.t) && isnan(w.p));
    /* a large difference over many samples: p underflows towards 0 */
    w = rk_stats_welch(10.0, 1.0, 100000, 9.0, 1.0, 100000);
    assert_true(w.p < 1e-300 || w.p == 0);
    assert_close(w.dof, 199998, 1e-6);
}

/* The median of a resample computed the slow way: draw n indices. */
static double naive_resample_median(rk_rng *r, const double *sorted, size_t n, double *scratch)
{
    for (size_t i = 0; i < n; i++)
        scratch[i] = sorted[rk_rng_next(r) % n];
    qsort(scratch, n, sizeof *scratch, rk__cmp_double);
    return rk_stats_median(scratch, n);
}

/* The O(1) resample (order statistics of uniforms) has the distribution of
 * the plain bootstrap: compare the two interval ends and the mean of the
 * resampled medians, for an odd and an even n of skewed data. */
static void test_bootstrap_matches_naive(void **state)
{
    static const size_t ns[] = {101, 100};
    (void)state;
    for (size_t t = 0; t < 2; t++) {
        const size_t n = ns[t], reps = 40000;
        double v[101], scratch[101], *fast = malloc(reps * sizeof(double)), *slow = malloc(reps * sizeof(double));
        double mf = 0, ms = 0, spread;
        rk_rng r;
        rk_rng_seed(&r, 42);
        for (size_t i = 0; i < n; i++)
            v[i] = exp(2.0 * rk__normal(&r)); /* lognormal: latency-like */
        qsort(v, n, sizeof *v, rk__cmp_double);
        for (size_t i = 0; i < reps; i++) {
            fast[i] = rk__resample_median(&r, v, n);
            slow[i] = naive_resample_median(&r, v, n, scratch);
            mf += fast[i] / (double)reps;
            ms += slow[i] / (double)reps;
        }
        qsort(fast, reps, sizeof *fast, rk__cmp_double);
        qsort(slow, reps, sizeof *slow, rk__cmp_double);
        spread = rk_stats_quantile(slow, reps, 0.975) - rk_stats_quantile(slow, reps, 0.025);
        assert_close(mf, ms, 0.03 * spread);
        for (double q = 0.025; q < 1; q += 0.2375)
            assert_close(rk_stats_quantile(fast, reps, q), rk_stats_quantile(slow, reps, q), 0.06 * spread);
        free(fast);
        free(slow);
    }
}

/* For 10^5 uniforms the median's standard error is 1 / (2 sqrt(n)), so
 * the 95% interval is about 3.92 of those wide; and a fixed seed gives
 * the same interval every time. */
static void test_bootstrap_width_and_determinism(void **state)
{
    const size_t n = 100000;
    double *v = malloc(n * sizeof *v), lo, hi, lo2, hi2, want = 3.92 / (2 * sqrt((double)n));
    rk_rng r;
    (void)state;
    rk_rng_seed(&r, 7);
    for (size_t i = 0; i < n; i++)
        v[i] = rk_rng_uniform(&r);
    qsort(v, n, sizeof *v, rk__cmp_double);
    rk_stats_bootstrap_median_ci(v, n, RK_STATS_RESAMPLES, RK_STATS_SEED, 0.95, &lo, &hi);
    assert_true(lo < rk_stats_median(v, n) && rk_stats_median(v, n) < hi);
    assert_close(hi - lo, want, 0.15 * want);
    rk_stats_bootstrap_median_ci(v, n, RK_STATS_RESAMPLES, RK_STATS_SEED, 0.95, &lo2, &hi2);
    assert_true(lo == lo2 && hi == hi2);
    rk_stats_bootstrap_median_ci(v, 1, RK_STATS_RESAMPLES, RK_STATS_SEED, 0.95, &lo, &hi);
    assert_true(lo == v[0] && hi == v[0]);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_statistics),
        cmocka_unit_test(test_mean_var_cv),
        cmocka_unit_test(test_stats_of),
        cmocka_unit_test(test_betainc_closed_forms),
        cmocka_unit_test(test_t_cdf_closed_forms),
        cmocka_unit_test(test_t_cdf_table),
        cmocka_unit_test(test_t_cdf_integrated),
        cmocka_unit_test(test_welch_sleep_data),
        cmocka_unit_test(test_welch_edges),
        cmocka_unit_test(test_bootstrap_matches_naive),
        cmocka_unit_test(test_bootstrap_width_and_determinism),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
