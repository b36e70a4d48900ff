/* What the GPU benchmark programs share: command-line options, the host
 * clock, and the results file. Each program collects its measurements
 * (raw samples), single values and comparisons in an `rkb`, prints them as
 * it goes, and with --json PATH writes one JSON file at the end:
 *
 *   {"schema": "ringkernel-bench/1", "program", "command", "date",
 *    "gpu": {...device, driver, clocks as found at start and end...},
 *    "params": {...}, "measurements": [...], "values": [...], "comparisons": [...]}
 *
 * A measurement carries n, median, p99, p99.9, mean, sd, CV, min, max, the
 * bootstrap 95% interval of the median (stats.h) and at most
 * RKB_JSON_SAMPLES of its raw samples, every k-th in the order measured
 * ("samples_stride": k), for plots. A comparison carries the ratio of
 * medians and Welch's t-test on the raw samples. CUDA C++. */
#ifndef RK_BENCH_GPU_H
#define RK_BENCH_GPU_H

#include <cuda_runtime.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gpu_env.h"
#include "stats.h"

#define RKB_JSON_SAMPLES 20000u
#define RKB_SKIP 77 /* no CUDA device */

#define RKB_CUDA(call)                                                                                                 \
    do {                                                                                                               \
        cudaError_t e_ = (call);                                                                                       \
        if (e_ != cudaSuccess) {                                                                                       \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_));                     \
            exit(1);                                                                                                   \
        }                                                                                                              \
    } while (0)

#define RKB_RK(call)                                                                                                   \
    do {                                                                                                               \
        rk_status s_ = (call);                                                                                         \
        if (s_ != RK_OK) {                                                                                             \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, rk_status_name(s_));                         \
            exit(1);                                                                                                   \
        }                                                                                                              \
    } while (0)

static inline uint64_t rkb_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Waits for the stream's work, at most `seconds` (then exits: a kernel that
 * never ends would otherwise hang the run). */
static inline void rkb_wait_stream(cudaStream_t s, double seconds, const char *what)
{
    uint64_t deadline = rkb_now_ns() + (uint64_t)(seconds * 1e9);
    cudaError_t e;
    while ((e = cudaStreamQuery(s)) == cudaErrorNotReady) {
        struct timespec ts = {0, 50000};
        if (rkb_now_ns() > deadline) {
            fprintf(stderr, "%s: not finished after %.0f s\n", what, seconds);
            exit(1);
        }
        nanosleep(&ts, NULL);
    }
    RKB_CUDA(e);
}

/* Appends to a summary line buf[0..cap) whose length is *k; the line stops
 * growing when full. */
static inline void rkb_vappend(char *buf, size_t cap, size_t *k, const char *fmt, va_list ap)
{
    int n;
    if (*k + 1 >= cap)
        return;
    n = vsnprintf(buf + *k, cap - *k, fmt, ap);
    if (n > 0)
        *k = *k + (size_t)n < cap ? *k + (size_t)n : cap - 1;
}

static inline void rkb_append(char *buf, size_t cap, size_t *k, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rkb_vappend(buf, cap, k, fmt, ap);
    va_end(ap);
}

/* Lets device `from` map device `to`'s memory; already enabled is fine.
 * Leaves device `from` current. */
static inline void rkb_enable_peer(int from, int to)
{
    cudaError_t e;
    RKB_CUDA(cudaSetDevice(from));
    e = cudaDeviceEnablePeerAccess(to, 0);
    if (e == cudaErrorPeerAccessAlreadyEnabled) {
        (void)cudaGetLastError();
        e = cudaSuccess;
    }
    RKB_CUDA(e);
}

/* ---- options: "--name value" ------------------------------------------------- */

static inline const char *rkb_arg_str(int argc, char **argv, const char *name, const char *dflt)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return dflt;
}

static inline double rkb_arg_f64(int argc, char **argv, const char *name, double dflt)
{
    const char *s = rkb_arg_str(argc, argv, name, NULL);
    return s ? strtod(s, NULL) : dflt;
}

static inline uint64_t rkb_arg_u64(int argc, char **argv, const char *name, uint64_t dflt)
{
    const char *s = rkb_arg_str(argc, argv, name, NULL);
    return s ? strtoull(s, NULL, 10) : dflt;
}

/* A comma-separated list of positive integers ("1,4"); returns the count. */
static inline int rkb_arg_list(int argc, char **argv, const char *name, const char *dflt, unsigned *out, int max)
{
    const char *s = rkb_arg_str(argc, argv, name, dflt);
    int n = 0;
    while (*s && n < max) {
        char *end;
        unsigned long v = strtoul(s, &end, 10);
        if (end == s)
            break;
        if (v > 0)
            out[n++] = (unsigned)v;
        s = *end == ',' ? end + 1 : end;
    }
    return n;
}

/* ---- results -------------------------------------------------------------------- */

typedef struct rkb_series {
    char id[96], name[96], unit[16], desc[240];
    double *v; /* raw samples, in the order measured */
    size_t n;
    rk_stats st;
} rkb_series;

typedef struct rkb_value {
    char id[96], name[96], unit[16], desc[240];
    double value;
} rkb_value;

typedef struct rkb_cmp {
    char ours[96], base[96], desc[240];
    double ratio; /* median(ours) / median(base) */
    rk_welch w;   /* on the means: ours - base */
} rkb_cmp;

typedef struct rkb_param {
    char key[48], val[160];
    int is_num;
} rkb_param;

typedef struct rkb {
    const char *program, *json_path;
    char command[4096], date[32];
    rkb_gpu gpu;
    rkb_nvml nvml;
    rkb_clocks clocks_start, clocks_end;
    rkb_series *series;
    rkb_value *values;
    rkb_cmp *cmps;
    rkb_param *params;
    size_t nseries, nvalues, ncmps, nparams;
} rkb;

/* A stable identifier from a display name: lower case, runs of anything
 * but letters and digits become one '_'. */
static inline void rkb_slug(char *out, size_t cap, const char *name)
{
    size_t k = 0;
    int gap = 0;
    for (const char *p = name; *p && k + 2 < cap; p++) {
        char c = *p;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            if (gap && k > 0)
                out[k++] = '_';
            out[k++] = c;
            gap = 0;
        } else {
            gap = 1;
        }
    }
    out[k] = '\0';
}

static inline void *rkb__grow(void *p, size_t n, size_t size)
{
    /* Room for 8, then doubling (n is the count before the new element). */
    if (n == 0 || (n >= 8 && (n & (n - 1)) == 0)) {
        p = realloc(p, (n ? 2 * n : 8) * size);
        if (!p) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
    }
    return p;
}

/* Starts a program: finds the device (returns RKB_SKIP without one), reads
 * what it is and its clocks, notes the date and the command line, and
 * takes --json PATH. Prints a header. */
static inline int rkb_init(rkb *b, const char *program, int argc, char **argv)
{
    time_t now = time(NULL);
    struct tm tm;
    int n = 0;
    size_t k = 0;
    memset(b, 0, sizeof *b);
    b->program = program;
    b->json_path = rkb_arg_str(argc, argv, "--json", NULL);
    for (int i = 0; i < argc && k + 2 < sizeof b->command; i++)
        k += (size_t)snprintf(b->command + k, sizeof b->command - k, "%s%s", i ? " " : "", argv[i]);
    gmtime_r(&now, &tm);
    strftime(b->date, sizeof b->date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
        printf("%s: no CUDA device\n", program);
        return RKB_SKIP;
    }
    RKB_CUDA(rkb_gpu_query(&b->gpu, 0));
    RKB_CUDA(cudaFree(0));
    rkb_nvml_open(&b->nvml, &b->gpu);
    b->clocks_start = rkb_clocks_now(&b->nvml);
    printf("%s: %s (%d SMs, sm_%d%d, %s), driver %s, CUDA driver API %d, runtime %d; %s\n", program, b->gpu.name,
           b->gpu.sms, b->gpu.cc_major, b->gpu.cc_minor, b->gpu.pci_bus_id, b->gpu.driver[0] ? b->gpu.driver : "?",
           b->gpu.cuda_driver, b->gpu.cuda_runtime, b->date);
    rkb_clocks_print("at start", &b->clocks_start);
    return 0;
}

static inline void rkb_param_num(rkb *b, const char *key, double v)
{
    rkb_param *p;
    b->params = (rkb_param *)rkb__grow(b->params, b->nparams, sizeof *b->params);
    p = &b->params[b->nparams++];
    snprintf(p->key, sizeof p->key, "%s", key);
    snprintf(p->val, sizeof p->val, "%.17g", v);
    p->is_num = 1;
}

static inline void rkb_param_str(rkb *b, const char *key, const char *v)
{
    rkb_param *p;
    b->params = (rkb_param *)rkb__grow(b->params, b->nparams, sizeof *b->params);
    p = &b->params[b->nparams++];
    snprintf(p->key, sizeof p->key, "%s", key);
    snprintf(p->val, sizeof p->val, "%s", v);
    p->is_num = 0;
}

/* Records a measurement without printing it: copies the samples (in the
 * order measured) and summarises them. `desc` says what was timed. */
static inline rkb_series *rkb_record(rkb *b, const char *name, const char *unit, const double *v, size_t n,
                                     const char *desc)
{
    rkb_series *s;
    double *sorted = (double *)malloc((n ? n : 1) * sizeof *sorted);
    b->series = (rkb_series *)rkb__grow(b->series, b->nseries, sizeof *b->series);
    s = &b->series[b->nseries++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    rkb_slug(s->id, sizeof s->id, name);
    snprintf(s->unit, sizeof s->unit, "%s", unit);
    snprintf(s->desc, sizeof s->desc, "%s", desc ? desc : "");
    s->v = (double *)malloc((n ? n : 1) * sizeof *s->v);
    if (!s->v || !sorted) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    memcpy(s->v, v, n * sizeof *v);
    memcpy(sorted, v, n * sizeof *v);
    s->n = n;
    s->st = rk_stats_of(sorted, n);
    free(sorted);
    return s;
}

/* rkb_record, then one line on stdout. */
static inline rkb_series *rkb_samples(rkb *b, const char *name, const char *unit, const double *v, size_t n,
                                      const char *desc)
{
    rkb_series *s = rkb_record(b, name, unit, v, n, desc);
    printf("  %-34s n=%-7zu median %10.4g %-6s p99 %10.4g  mean %10.4g  CI95 [%.4g, %.4g]\n", name, n, s->st.median,
           unit, s->st.p99, s->st.mean, s->st.ci_lo, s->st.ci_hi);
    fflush(stdout);
    return s;
}

/* Records a single value (a rate over a run, a memory size) without printing it. */
static inline void rkb_value_record(rkb *b, const char *name, const char *unit, double value, const char *desc)
{
    rkb_value *x;
    b->values = (rkb_value *)rkb__grow(b->values, b->nvalues, sizeof *b->values);
    x = &b->values[b->nvalues++];
    snprintf(x->name, sizeof x->name, "%s", name);
    rkb_slug(x->id, sizeof x->id, name);
    snprintf(x->unit, sizeof x->unit, "%s", unit);
    snprintf(x->desc, sizeof x->desc, "%s", desc ? desc : "");
    x->value = value;
}

/* rkb_value_record, then one line on stdout. */
static inline void rkb_value_add(rkb *b, const char *name, const char *unit, double value, const char *desc)
{
    rkb_value_record(b, name, unit, value, desc);
    printf("  %-34s %.6g %s\n", name, value, unit);
    fflush(stdout);
}

static inline rkb_series *rkb_find(rkb *b, const char *id)
{
    for (size_t i = 0; i < b->nseries; i++)
        if (strcmp(b->series[i].id, id) == 0)
            return &b->series[i];
    return NULL;
}

/* Compares two recorded measurements (by id): ratio of the medians and
 * Welch's test on the raw samples. Prints one line. */
static inline void rkb_compare(rkb *b, const char *ours, const char *base, const char *desc)
{
    rkb_series *o = rkb_find(b, ours), *a = rkb_find(b, base);
    rkb_cmp *c;
    if (!o || !a) {
        fprintf(stderr, "compare: no measurement %s\n", o ? base : ours);
        return;
    }
    b->cmps = (rkb_cmp *)rkb__grow(b->cmps, b->ncmps, sizeof *b->cmps);
    c = &b->cmps[b->ncmps++];
    snprintf(c->ours, sizeof c->ours, "%s", ours);
    snprintf(c->base, sizeof c->base, "%s", base);
    snprintf(c->desc, sizeof c->desc, "%s", desc ? desc : "");
    c->ratio = o->st.median / a->st.median;
    c->w = rk_stats_welch_of(o->v, o->n, a->v, a->n);
    printf("  ratio %s / %s = %.3f (medians); Welch t %.2f, dof %.0f, p %.3g\n", o->name, a->name, c->ratio, c->w.t,
           c->w.dof, c->w.p);
    fflush(stdout);
}

/* ---- JSON ------------------------------------------------------------------------ */

static inline void rkb__jstr(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* Numbers as JSON numbers; NaN and infinities (which JSON lacks) as null. */
static inline void rkb__jnum(FILE *f, double v)
{
    if (isnan(v) || isinf(v))
        fputs("null", f);
    else
        fprintf(f, "%.10g", v);
}

static inline void rkb__jkey(FILE *f, const char *k)
{
    fprintf(f, "\"%s\": ", k);
}

static inline void rkb__jclocks(FILE *f, const rkb_clocks *c)
{
    if (!c->valid) {
        fputs("null", f);
        return;
    }
    fprintf(f, "{\"source\": \"nvml\", \"sm_mhz\": %u, \"mem_mhz\": %u, \"sm_max_mhz\": %u, \"mem_max_mhz\": %u, ",
            c->sm_mhz, c->mem_mhz, c->sm_max_mhz, c->mem_max_mhz);
    fprintf(f, "\"pstate\": %d, \"clock_event_reasons\": ", c->pstate);
    if (c->reasons_valid)
        fprintf(f, "\"0x%llx\"", c->reasons);
    else
        fputs("null", f);
    fputs(", \"temperature_c\": ", f);
    if (c->temp_c >= 0)
        fprintf(f, "%d", c->temp_c);
    else
        fputs("null", f);
    fputs(", \"power_w\": ", f);
    rkb__jnum(f, c->power_w >= 0 ? c->power_w : NAN);
    fputc('}', f);
}

static inline void rkb__jgpu(FILE *f, const rkb *b)
{
    const rkb_gpu *g = &b->gpu;
    fputs("{", f);
    rkb__jkey(f, "name");
    rkb__jstr(f, g->name);
    fprintf(f, ", \"device\": %d, \"pci_bus_id\": ", g->device);
    rkb__jstr(f, g->pci_bus_id);
    fprintf(f, ", \"sms\": %d, \"compute_capability\": \"%d.%d\", \"memory_bytes\": %zu, ", g->sms, g->cc_major,
            g->cc_minor, g->mem_total);
    rkb__jkey(f, "driver_version");
    if (g->driver[0])
        rkb__jstr(f, g->driver);
    else
        fputs("null", f);
    fprintf(f, ", \"cuda_driver_api\": %d, \"cuda_runtime\": %d, ", g->cuda_driver, g->cuda_runtime);
    fprintf(f, "\"rated_sm_clock_mhz\": %d, \"rated_mem_clock_mhz\": %d, ", g->rated_sm_khz / 1000,
            g->rated_mem_khz / 1000);
    rkb__jkey(f, "persistence_mode");
    fputs(g->persistence < 0 ? "null" : g->persistence ? "true" : "false", f);
    fputs(", \"nvml\": ", f);
    rkb__jstr(f, g->nvml);
    fputs(", \"clocks_start\": ", f);
    rkb__jclocks(f, &b->clocks_start);
    fputs(", \"clocks_end\": ", f);
    rkb__jclocks(f, &b->clocks_end);
    fputs(", \"clocks_note\": \"as found: read-only NVML queries, nothing was set\"}", f);
}

static inline void rkb__jseries(FILE *f, const rkb_series *s)
{
    size_t stride = s->n > RKB_JSON_SAMPLES ? (s->n + RKB_JSON_SAMPLES - 1) / RKB_JSON_SAMPLES : 1;
    const rk_stats *t = &s->st;
    fputs("    {\"id\": ", f);
    rkb__jstr(f, s->id);
    fputs(", \"name\": ", f);
    rkb__jstr(f, s->name);
    fputs(", \"unit\": ", f);
    rkb__jstr(f, s->unit);
    fputs(", \"description\": ", f);
    rkb__jstr(f, s->desc);
    fprintf(f, ", \"n\": %zu", s->n);
    const char *keys[] = {"median", "p99", "p999", "mean", "sd", "cv", "min", "max", "ci95_lo", "ci95_hi"};
    const double vals[] = {t->median, t->p99, t->p999, t->mean, t->sd, t->cv, t->min, t->max, t->ci_lo, t->ci_hi};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        fprintf(f, ", \"%s\": ", keys[i]);
        rkb__jnum(f, vals[i]);
    }
    fprintf(f, ", \"samples_stride\": %zu, \"samples\": [", stride);
    for (size_t i = 0; i < s->n; i += stride) {
        if (i)
            fputc(',', f);
        rkb__jnum(f, s->v[i]);
    }
    fputs("]}", f);
}

static inline int rkb__write_json(const rkb *b, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return -1;
    }
    fputs("{\"schema\": \"ringkernel-bench/1\", \"program\": ", f);
    rkb__jstr(f, b->program);
    fputs(", \"command\": ", f);
    rkb__jstr(f, b->command);
    fputs(", \"date\": ", f);
    rkb__jstr(f, b->date);
    fprintf(f, ",\n \"host\": {\"hostname\": ");
    rkb__jstr(f, b->gpu.host);
    fputs(", \"kernel\": ", f);
    rkb__jstr(f, b->gpu.kernel);
    fprintf(f, ", \"cpus\": %ld},\n \"gpu\": ", b->gpu.host_cpus);
    rkb__jgpu(f, b);
    fputs(",\n \"statistics\": {\"median\": \"middle value (mean of the two middle ones for even n)\", "
          "\"p99\": \"nearest rank\", \"ci95\": \"percentile bootstrap of the median\", ",
          f);
    fprintf(f, "\"resamples\": %u, \"seed\": %llu, \"welch\": \"two-sided, on the means of the raw samples\"},\n",
            RK_STATS_RESAMPLES, (unsigned long long)RK_STATS_SEED);
    fputs(" \"params\": {", f);
    for (size_t i = 0; i < b->nparams; i++) {
        fprintf(f, "%s\"%s\": ", i ? ", " : "", b->params[i].key);
        if (b->params[i].is_num)
            fputs(b->params[i].val, f);
        else
            rkb__jstr(f, b->params[i].val);
    }
    fputs("},\n \"measurements\": [\n", f);
    for (size_t i = 0; i < b->nseries; i++) {
        rkb__jseries(f, &b->series[i]);
        fputs(i + 1 < b->nseries ? ",\n" : "\n", f);
    }
    fputs(" ],\n \"values\": [\n", f);
    for (size_t i = 0; i < b->nvalues; i++) {
        const rkb_value *x = &b->values[i];
        fputs("    {\"id\": ", f);
        rkb__jstr(f, x->id);
        fputs(", \"name\": ", f);
        rkb__jstr(f, x->name);
        fputs(", \"unit\": ", f);
        rkb__jstr(f, x->unit);
        fputs(", \"value\": ", f);
        rkb__jnum(f, x->value);
        fputs(", \"description\": ", f);
        rkb__jstr(f, x->desc);
        fputs(i + 1 < b->nvalues ? "},\n" : "}\n", f);
    }
    fputs(" ],\n \"comparisons\": [\n", f);
    for (size_t i = 0; i < b->ncmps; i++) {
        const rkb_cmp *c = &b->cmps[i];
        fputs("    {\"ours\": ", f);
        rkb__jstr(f, c->ours);
        fputs(", \"baseline\": ", f);
        rkb__jstr(f, c->base);
        fputs(", \"description\": ", f);
        rkb__jstr(f, c->desc);
        fputs(", \"ratio_median\": ", f);
        rkb__jnum(f, c->ratio);
        fputs(", \"welch_t\": ", f);
        rkb__jnum(f, c->w.t);
        fputs(", \"welch_dof\": ", f);
        rkb__jnum(f, c->w.dof);
        fputs(", \"welch_p\": ", f);
        rkb__jnum(f, c->w.p);
        fputs(i + 1 < b->ncmps ? "},\n" : "}\n", f);
    }
    fputs(" ]}\n", f);
    if (fclose(f) != 0) {
        perror(path);
        return -1;
    }
    return 0;
}

/* Reads the clocks again, writes the JSON file if --json was given, and
 * frees everything. Returns 0, or 1 if the file could not be written. */
static inline int rkb_finish(rkb *b)
{
    int rc = 0;
    b->clocks_end = rkb_clocks_now(&b->nvml);
    rkb_clocks_print("at end", &b->clocks_end);
    if (b->json_path) {
        rc = rkb__write_json(b, b->json_path) == 0 ? 0 : 1;
        if (rc == 0)
            printf("results: %s\n", b->json_path);
    }
    for (size_t i = 0; i < b->nseries; i++)
        free(b->series[i].v);
    free(b->series);
    free(b->values);
    free(b->cmps);
    free(b->params);
    rkb_nvml_close(&b->nvml);
    return rc;
}

#endif
