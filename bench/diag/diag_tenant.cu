/* What the isolation and flow-control checks of a K2K send cost, per
 * message (issue #5: at most 30 ns on the GPU path).
 *
 * A diagnostic, not a benchmark to quote. The K2K put (rk__gpu_k2k_put in
 * device.cuh) makes two checks per message: the receiver's tenant, read from
 * its door word, against the sender's (RK__GPU_TENANT_REFUSED), and the free
 * slots of its ring - the sender's credits - against the claim
 * (RK__GPU_CREDIT_SHORT, which reloads the consumer's head when the cached
 * one says full: once per lap of the ring for a sender that never finds it
 * full). The put is compiled twice into this program (diag_tenant_send.cu):
 * as it is, and with RK__GPU_BENCH_NO_CHECKS, which compiles both checks out.
 *
 * A runtime runs three actors: "dt/sender" and "dt/receiver" of tenant 1,
 * "dt/foreign" of tenant 2 (the sender's block only names the messages'
 * source). The receiver hands its world - the kernel's parameter block - to
 * the host once; from then on a one-thread kernel beside the runtime's,
 * pinned to one SM, calls the put in batches as the sender would:
 *
 *   send, checks on            puts to the receiver, the put as built
 *   send, checks compiled out  the same from the same SM through the same
 *                              door into the same ring, the other copy
 *   refused cross-tenant send  puts of tenant 1 to the foreign actor: door
 *                              entered, tenant compared, door left (checks on)
 *
 * A sample is one batch's SM clock cycles over its puts, in ns at the rate
 * the SM clock ran against %globaltimer over that launch. A batch is the
 * ring's capacity unless --batch says less; before each, the sender waits
 * until the receiver has freed every slot, so no batch finds the ring full
 * (the unchecked copy would overwrite it) and the checked copy reloads the
 * head exactly once per batch - once per lap, as when streaming to a
 * receiver that keeps up. Launches of the two copies alternate (ABBA), each
 * with one untimed batch first; one round before all is not kept. The
 * difference of the medians is what compiling the checks out saves,
 * instruction scheduling included; the sender being a kernel and not an
 * actor's handler leaves out what surrounds the put (routing, the header,
 * the block's barriers), the same with or without the checks.
 *
 * The receiver checks that the numbers it gets run 0, 1, 2, ... and the
 * host that it got every message sent; every refused put must return
 * RK_ETENANT, and the foreign actor must get nothing. Any miss: exit 1. No
 * device: exit 77.
 *
 * Usage: diag_tenant [--batches 4000] [--per-launch 100] [--batch N] [--sm N] [--json PATH]
 *   --batches     timed batches of each kind (rounded down to whole launches)
 *   --per-launch  timed batches per launch of the sender
 *   --batch       puts per batch (default and at most: the K2K ring's capacity)
 *   --sm          the SM the sender runs on (default: 0, or 1 if the receiver is on 0) */
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringkernel/ringkernel.h"

#include "diag_tenant_send.cu" /* the sender with the checks on: dt_send_checked */

#include "../gpu/bench_gpu.h"

#define DT_TARGET_NS 30.0 /* issue #5 */
#define DT_TENANT 1u
#define DT_FOREIGN_TENANT 2u
#define DT_CALL_NS 10000000000ull

/* ---- the receiver (GPU actor) ------------------------------------------------------------ */

enum { DT_SETUP = 1, DT_REPORT = 2 }; /* from the host; DT_DATA from the sender */

typedef struct dt_count {
    uint64_t received; /* DT_DATA messages */
    uint64_t next;     /* the sequence number expected next */
    uint64_t lost;     /* numbers skipped */
    uint64_t dup;      /* messages whose number was not above the last one's */
    uint64_t bad;      /* a payload that is not one sequence number */
} dt_count;

typedef struct dt_where {
    uint32_t smid, block, self, tenant;
} dt_where;

/* SETUP's copy of the world for the host. */
__device__ rk__gpu_world dt_world;

/* DATA (K2K): counted and checked by thread 0 alone. SETUP: copies the
 * world where the host reads it and says where the actor runs. REPORT: the
 * counts. */
static __device__ rk_status dt_count_handle(rk_dctx *c, dt_count *s, const rk_msg *m)
{
    __shared__ dt_count r;
    __shared__ dt_where where;
    if (m->type == DT_DATA) {
        if (threadIdx.x == 0) {
            uint64_t seq;
            s->received++;
            if (m->len != sizeof seq) {
                s->bad++;
                return RK_OK;
            }
            memcpy(&seq, rk_msg_payload(m), sizeof seq);
            if (seq < s->next) {
                s->dup++;
            } else {
                s->lost += seq - s->next;
                s->next = seq + 1;
            }
        }
        return RK_OK;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        if (m->type == DT_SETUP) {
            /* Stored before the reply, which is published after a system
             * fence: a host that has the reply reads the whole copy. */
            dt_world = c->world;
            where.smid = dt_smid();
            where.block = c->slot_index;
            where.self = rk_dself(c);
            where.tenant = rk_dtenant(c);
        }
        r = *s;
    }
    __syncthreads();
    if (m->type == DT_SETUP)
        return rk_dreply(c, DT_SETUP, &where, sizeof where);
    if (m->type == DT_REPORT)
        return rk_dreply(c, DT_REPORT, &r, sizeof r);
    return RK_EBADMSG;
}

RK_GPU_ACTOR(dt_count_actor, dt_count, dt_count_handle);
RK_GPU_PROGRAM(dt_program, dt_count_actor);

/* ---- host ------------------------------------------------------------------------------- */

static void die(const char *what)
{
    fprintf(stderr, "diag_tenant: %s\n", what);
    exit(1);
}

static rk_actor_id launch(rk_runtime *rt, const char *name, uint32_t tenant)
{
    static const rk_actor_type type = {"dt_count", NULL, NULL, 0};
    rk_actor_options o;
    rk_actor_id id;
    rk_actor_options_init(&o);
    o.name = name;
    o.type = &type;
    o.state_size = sizeof(dt_count);
    o.tenant = tenant;
    RKB_RK(rk_launch(rt, &o, &id));
    return id;
}

static void call(rk_runtime *rt, rk_actor_id id, uint32_t type, void *reply, uint32_t size)
{
    rk_msgbuf mb;
    mb.data = reply;
    mb.capacity = size;
    RKB_RK(rk_call(rt, id, type, NULL, 0, &mb, DT_CALL_NS));
    if (mb.hdr.len != size)
        die("a reply of the wrong size");
}

typedef cudaError_t (*dt_send_fn)(const dt_send_args *, unsigned, cudaStream_t);

enum { DT_CHECKED, DT_UNCHECKED, DT_REFUSED, DT_KINDS };

/* One kind of measurement and what its launches did. */
typedef struct dt_kind {
    const char *name, *desc;
    dt_send_fn send;
    rk_actor_id dst;
    int deliver; /* puts to the receiver, numbered in one sequence */
    double *ns;  /* ns per put of each timed batch */
    size_t n;
    uint64_t puts, ok, refused, other; /* every put, warm-up batches included */
    int32_t other_status;
    uint64_t cycles, clock_ns; /* SM clock and %globaltimer over its kept launches */
} dt_kind;

/* What every launch shares. */
typedef struct dt_bench {
    dt_send_args a; /* world, source, tenant, SM, batches, batch */
    dt_send_out *out;
    uint64_t *cycles;      /* [a.batches], device */
    uint64_t *host_cycles; /* [a.batches] */
    unsigned grid;
    cudaStream_t s;
    uint64_t seq; /* the receiver's next sequence number */
    rk_runtime *rt;
    rk_actor_id sender, receiver, foreign;
    dt_where where; /* the receiver's */
    dt_kind kind[DT_KINDS];
} dt_bench;

/* The difference of the two sends. */
typedef struct dt_result {
    double ns, lo, hi, mean_ns, mhz;
    const char *verdict;
} dt_result;

/* One launch of the sender for `k`; its samples are kept if `keep`. */
static void dt_launch(dt_bench *x, dt_kind *k, int keep)
{
    dt_send_args a = x->a;
    dt_send_out o;
    double ghz;
    int tries = 0;
    a.dst = k->dst;
    a.seq0 = x->seq;
    a.out = x->out;
    a.cycles = x->cycles;
    /* A launch none of whose blocks landed on the SM did nothing: again. */
    do {
        if (tries++ == 20)
            die("no block of the sender's launch ran on the chosen SM (--sm)");
        RKB_CUDA(cudaMemsetAsync(x->out, 0, sizeof o, x->s));
        RKB_CUDA(k->send(&a, x->grid, x->s));
        rkb_wait_stream(x->s, 60, k->name);
        RKB_CUDA(cudaMemcpyAsync(&o, x->out, sizeof o, cudaMemcpyDeviceToHost, x->s));
        RKB_CUDA(cudaStreamSynchronize(x->s));
    } while (!o.ran);
    if (o.no_slot)
        die("the receiver's door names no block");
    if (o.timed_out)
        die("the receiver did not drain its ring within 5 s");
    RKB_CUDA(cudaMemcpyAsync(x->host_cycles, x->cycles, a.batches * sizeof *x->host_cycles, cudaMemcpyDeviceToHost,
                             x->s));
    RKB_CUDA(cudaStreamSynchronize(x->s));
    ghz = (double)o.cycles / (double)o.ns;
    if (keep) {
        for (uint32_t i = 0; i < a.batches; i++)
            k->ns[k->n++] = (double)x->host_cycles[i] / ghz / a.batch;
        k->cycles += o.cycles;
        k->clock_ns += o.ns;
    }
    k->puts += (uint64_t)(a.batches + 1) * a.batch;
    k->ok += o.ok;
    k->refused += o.refused;
    k->other += o.other;
    if (o.other)
        k->other_status = o.other_status;
    if (k->deliver)
        x->seq = o.next_seq;
}

static void dt_kind_init(dt_kind *k, const char *name, const char *desc, dt_send_fn send, rk_actor_id dst,
                         int deliver, size_t samples)
{
    memset(k, 0, sizeof *k);
    k->name = name;
    k->desc = desc;
    k->send = send;
    k->dst = dst;
    k->deliver = deliver;
    k->ns = (double *)malloc((samples ? samples : 1) * sizeof *k->ns);
    if (!k->ns)
        die("out of memory");
}

/* The runtime, its three actors, and the receiver's world in x->a. Loads
 * the senders first: with lazy loading (CUDA's default) a kernel is loaded
 * at its first launch, which may wait for the kernels running in the
 * context - and the runtime's never ends. A launch that no SM takes (sm
 * UINT32_MAX) loads each. */
static void dt_start(dt_bench *x)
{
    rk_runtime_options ro;
    RKB_CUDA(cudaStreamCreateWithFlags(&x->s, cudaStreamNonBlocking));
    x->a.sm = UINT32_MAX;
    RKB_CUDA(dt_send_checked(&x->a, 1, x->s));
    RKB_CUDA(dt_send_unchecked(&x->a, 1, x->s));
    RKB_CUDA(cudaStreamSynchronize(x->s));
    rk_runtime_options_init(&ro);
    ro.backend = RK_BACKEND_CUDA;
    ro.max_actors = 4;
    ro.gpu_program = &dt_program;
    RKB_RK(rk_runtime_create(&x->rt, &ro));
    x->sender = launch(x->rt, "dt/sender", DT_TENANT);
    x->receiver = launch(x->rt, "dt/receiver", DT_TENANT);
    x->foreign = launch(x->rt, "dt/foreign", DT_FOREIGN_TENANT);
    call(x->rt, x->receiver, DT_SETUP, &x->where, sizeof x->where);
    RKB_CUDA(cudaMemcpyFromSymbolAsync(&x->a.world, dt_world, sizeof x->a.world, 0, cudaMemcpyDeviceToHost, x->s));
    RKB_CUDA(cudaStreamSynchronize(x->s));
    if (x->a.world.magic != RK_GPU_PROGRAM_MAGIC || x->a.world.k2k_capacity == 0)
        die("the receiver's copy of the world is not one");
}

/* The senders' parameters and buffers; `rounds` launches of each kind to come. */
static void dt_prepare(dt_bench *x, rkb *b, uint32_t per_launch, uint32_t batch, int sm, uint32_t rounds)
{
    const size_t samples = (size_t)rounds * per_launch;
    x->a.src = x->sender;
    x->a.tenant = DT_TENANT;
    x->a.sm = sm >= 0 ? (uint32_t)sm : x->where.smid == 0 ? 1u : 0u;
    x->a.batches = per_launch;
    x->a.batch = batch ? batch : x->a.world.k2k_capacity;
    if (x->a.batch > x->a.world.k2k_capacity)
        die("--batch is over the K2K ring's capacity: the unchecked sender would overwrite it");
    if ((int)x->a.sm >= b->gpu.sms)
        die("--sm is not an SM of this device");
    x->grid = 4u * (unsigned)b->gpu.sms; /* one-thread blocks: every SM gets some */
    RKB_CUDA(cudaMalloc((void **)&x->out, sizeof *x->out));
    RKB_CUDA(cudaMalloc((void **)&x->cycles, per_launch * sizeof *x->cycles));
    x->host_cycles = (uint64_t *)malloc(per_launch * sizeof *x->host_cycles);
    if (!x->host_cycles)
        die("out of memory");
    dt_kind_init(&x->kind[DT_CHECKED], "send, checks on",
                 "ns per rk__gpu_k2k_put to an actor of the same tenant, as built (tenant and credit checks)",
                 dt_send_checked, x->receiver, 1, samples);
    dt_kind_init(&x->kind[DT_UNCHECKED], "send, checks compiled out",
                 "the same put built with RK__GPU_BENCH_NO_CHECKS, from the same SM through the same door and ring",
                 dt_send_unchecked, x->receiver, 1, samples);
    dt_kind_init(&x->kind[DT_REFUSED], "refused cross-tenant send",
                 "ns per put to an actor of another tenant: door entered, tenant compared, door left (RK_ETENANT)",
                 dt_send_checked, x->foreign, 0, samples);
    rkb_param_num(b, "per_launch", per_launch);
    rkb_param_num(b, "rounds", rounds);
    rkb_param_num(b, "batch", x->a.batch);
    rkb_param_num(b, "k2k_capacity", x->a.world.k2k_capacity);
    rkb_param_num(b, "sender_sm", x->a.sm);
    rkb_param_num(b, "receiver_sm", x->where.smid);
}

/* Round 0 warms up and is not kept; the two sends swap places every round
 * (ABBA), so a drift of the clocks falls on both alike. */
static void dt_measure(dt_bench *x, uint32_t rounds)
{
    printf("diag_tenant: K2K puts from SM %u to an actor on SM %u (block %u), %u per batch (ring capacity %u), "
           "%u rounds of %u timed batches of each kind\n",
           x->a.sm, x->where.smid, x->where.block, x->a.batch, x->a.world.k2k_capacity, rounds, x->a.batches);
    for (uint32_t r = 0; r <= rounds; r++) {
        dt_launch(x, &x->kind[r % 2 ? DT_UNCHECKED : DT_CHECKED], r > 0);
        dt_launch(x, &x->kind[r % 2 ? DT_CHECKED : DT_UNCHECKED], r > 0);
        dt_launch(x, &x->kind[DT_REFUSED], r > 0);
    }
}

/* Percentile bootstrap 95% interval of median(a) - median(b), each resampled
 * on its own (stats.h's resampler). */
static void dt_diff_ci(const rkb_series *a, const rkb_series *b, double *lo, double *hi)
{
    double *m = (double *)malloc(RK_STATS_RESAMPLES * sizeof *m);
    double *sa = (double *)malloc((a->n ? a->n : 1) * sizeof *sa);
    double *sb = (double *)malloc((b->n ? b->n : 1) * sizeof *sb);
    rk_rng r;
    if (!m || !sa || !sb)
        die("out of memory");
    memcpy(sa, a->v, a->n * sizeof *sa);
    memcpy(sb, b->v, b->n * sizeof *sb);
    qsort(sa, a->n, sizeof *sa, rk__cmp_double);
    qsort(sb, b->n, sizeof *sb, rk__cmp_double);
    rk_rng_seed(&r, RK_STATS_SEED);
    for (unsigned i = 0; i < RK_STATS_RESAMPLES; i++)
        m[i] = rk__resample_median(&r, sa, a->n) - rk__resample_median(&r, sb, b->n);
    qsort(m, RK_STATS_RESAMPLES, sizeof *m, rk__cmp_double);
    *lo = rk_stats_quantile(m, RK_STATS_RESAMPLES, 0.025);
    *hi = rk_stats_quantile(m, RK_STATS_RESAMPLES, 0.975);
    free(m);
    free(sa);
    free(sb);
}

static void dt_row(const rkb_series *s)
{
    printf("  %-30s %9.1f %9.1f %9.1f   [%.1f, %.1f]\n", s->name, s->st.median, s->st.p99, s->st.mean, s->st.ci_lo,
           s->st.ci_hi);
}

/* Records the samples and the difference, and prints the table. */
static dt_result dt_analyse(rkb *b, const dt_bench *x)
{
    const rkb_series *ck, *un;
    uint64_t cycles = 0, ns = 0;
    dt_result res;
    for (int i = 0; i < DT_KINDS; i++) {
        const dt_kind *k = &x->kind[i];
        rkb_record(b, k->name, "ns", k->ns, k->n, k->desc);
        cycles += k->cycles;
        ns += k->clock_ns;
    }
    /* Found only now: recording may move the series. */
    ck = rkb_find(b, "send_checks_on");
    un = rkb_find(b, "send_checks_compiled_out");
    res.ns = ck->st.median - un->st.median;
    res.mean_ns = ck->st.mean - un->st.mean;
    dt_diff_ci(ck, un, &res.lo, &res.hi);
    res.mhz = (double)cycles / (double)ns * 1e3;
    res.verdict = res.hi <= DT_TARGET_NS ? "met" : res.lo > DT_TARGET_NS ? "missed" : "unclear";
    rkb_value_record(b, "checks per message", "ns", res.ns,
                     "median(send, checks on) - median(send, checks compiled out)");
    rkb_value_record(b, "checks per message CI95 low", "ns", res.lo, "bootstrap of the difference of the medians");
    rkb_value_record(b, "checks per message CI95 high", "ns", res.hi, "bootstrap of the difference of the medians");
    rkb_value_record(b, "checks per message (means)", "ns", res.mean_ns, "mean(checks on) - mean(compiled out)");
    rkb_value_record(b, "SM clock", "MHz", res.mhz, "SM clock cycles / %globaltimer ns over the kept launches");

    printf("ns per put, one sample per batch (SM clock %.0f MHz, measured against %%globaltimer):\n", res.mhz);
    printf("  %-30s %9s %9s %9s   %s\n", "", "median", "p99", "mean", "CI95 of the median");
    dt_row(ck);
    dt_row(un);
    printf("  %-30s %9.1f %9s %9.1f   [%.1f, %.1f]   target <= %.0f ns: %s\n", "the two checks (difference)", res.ns,
           "", res.mean_ns, res.lo, res.hi, DT_TARGET_NS, res.verdict);
    dt_row(rkb_find(b, "refused_cross_tenant_send"));
    rkb_compare(b, ck->id, un->id, "checks on / compiled out");
    return res;
}

/* Every message arrived once and in order; every cross-tenant put was
 * refused and none arrived. Prints what it found; 1 if all holds. */
static int dt_verify(const dt_bench *x, const dt_count *got, const dt_count *foreign_got)
{
    const dt_kind *c = &x->kind[DT_CHECKED], *u = &x->kind[DT_UNCHECKED], *f = &x->kind[DT_REFUSED];
    const int delivered = got->received == c->ok + u->ok && got->next == x->seq && got->lost == 0 && got->dup == 0 &&
                          got->bad == 0 && c->ok == c->puts && u->ok == u->puts;
    const int refused = f->refused == f->puts && f->ok == 0 && f->other == 0 && foreign_got->received == 0;
    printf("delivered: %llu puts, %llu received (%llu lost, %llu twice or late, %llu malformed)%s\n",
           (unsigned long long)(c->puts + u->puts), (unsigned long long)got->received, (unsigned long long)got->lost,
           (unsigned long long)got->dup, (unsigned long long)got->bad, delivered ? "" : ": FAILED");
    for (int i = 0; i < DT_KINDS; i++)
        if (x->kind[i].other)
            printf("  %s: %llu puts returned %s (the last)\n", x->kind[i].name, (unsigned long long)x->kind[i].other,
                   rk_status_name((rk_status)x->kind[i].other_status));
    printf("refused: %llu of %llu cross-tenant puts returned RK_ETENANT, %llu arrived%s\n",
           (unsigned long long)f->refused, (unsigned long long)f->puts, (unsigned long long)foreign_got->received,
           refused ? "" : ": FAILED");
    return delivered && refused;
}

int main(int argc, char **argv)
{
    const uint32_t batches = (uint32_t)rkb_arg_u64(argc, argv, "--batches", 4000);
    const uint32_t per_launch = (uint32_t)rkb_arg_u64(argc, argv, "--per-launch", 100);
    const uint32_t batch = (uint32_t)rkb_arg_u64(argc, argv, "--batch", 0);
    const int sm = (int)rkb_arg_f64(argc, argv, "--sm", -1);
    const rkb_series *ck, *un, *rf;
    dt_count got, foreign_got;
    dt_result res;
    dt_bench x;
    rkb b;
    char line[1024];
    size_t k = 0;
    int ok;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (per_launch < 1 || batches < per_launch) {
        fprintf(stderr, "need --per-launch >= 1 and --batches >= --per-launch\n");
        return 2;
    }
    if (rkb_init(&b, "diag_tenant", argc, argv) != 0)
        return RKB_SKIP;
    memset(&x, 0, sizeof x);
    dt_start(&x);
    dt_prepare(&x, &b, per_launch, batch, sm, batches / per_launch);
    dt_measure(&x, batches / per_launch);
    call(x.rt, x.receiver, DT_REPORT, &got, sizeof got);
    call(x.rt, x.foreign, DT_REPORT, &foreign_got, sizeof foreign_got);
    rk_runtime_destroy(x.rt);

    res = dt_analyse(&b, &x);
    ok = dt_verify(&x, &got, &foreign_got);
    ck = rkb_find(&b, "send_checks_on");
    un = rkb_find(&b, "send_checks_compiled_out");
    rf = rkb_find(&b, "refused_cross_tenant_send");
    rkb_append(line, sizeof line, &k,
               "summary diag_tenant: checks_ns=%.2f ci95=[%.2f,%.2f] checks_cycles=%.1f mean_diff_ns=%.2f "
               "target_ns=%.0f target=%s checked_ns=%.1f checked_p99_ns=%.1f unchecked_ns=%.1f unchecked_p99_ns=%.1f "
               "refused_ns=%.1f refused_p99_ns=%.1f batch=%u batches=%zu sm_mhz=%.0f delivered=%llu/%llu "
               "refused=%llu/%llu foreign_arrived=%llu verify=%s",
               res.ns, res.lo, res.hi, res.ns * res.mhz / 1e3, res.mean_ns, DT_TARGET_NS, res.verdict, ck->st.median,
               ck->st.p99, un->st.median, un->st.p99, rf->st.median, rf->st.p99, x.a.batch, ck->n, res.mhz,
               (unsigned long long)got.received,
               (unsigned long long)(x.kind[DT_CHECKED].puts + x.kind[DT_UNCHECKED].puts),
               (unsigned long long)x.kind[DT_REFUSED].refused, (unsigned long long)x.kind[DT_REFUSED].puts,
               (unsigned long long)foreign_got.received, ok ? "ok" : "FAILED");

    cudaStreamDestroy(x.s);
    cudaFree(x.out);
    cudaFree(x.cycles);
    free(x.host_cycles);
    for (int i = 0; i < DT_KINDS; i++)
        free(x.kind[i].ns);
    if (rkb_finish(&b) != 0)
        ok = 0;
    printf("\n%s\n", line);
    return ok ? 0 : 1;
}
