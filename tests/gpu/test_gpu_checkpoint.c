/* Checkpoints of GPU actors (ringkernel/snapshot.h) on the CUDA backend:
 *   - a counter's state in device memory round-trips: checkpoint, change,
 *     restore, and the handler sees the restored state (no stale cache);
 *   - a delta chain restores into another actor, block-exact;
 *   - a checkpoint made elsewhere (with the codec) whose queued messages
 *     include a by-reference one is restored: state and messages arrive;
 *   - every single-byte corruption and every truncation is refused and the
 *     actor keeps its state;
 *   - a checkpoint holds what is queued, in the inbox and in the K2K queue
 *     (the block is held between two messages, not drained): restored
 *     into another actor, those messages run there; the original handles
 *     its own after the resume; a restore with REPLACE_QUEUE dead-letters
 *     what was queued;
 *   - under request traffic from another thread, checkpoints hold the
 *     actor (senders see RK_ESTATE meanwhile and retry): no request is
 *     lost, every checkpoint holds a count the actor really had and at
 *     most the one request in flight;
 *   - Terminated: checkpoint yes, restore no;
 *   - a counter with 16 MiB of state: full checkpoints and restores, timed
 *     (printed, not checked).
 * Exits 77 without a device. */
#include <pthread.h>

#include "gpu_test.h"

static uint64_t inc(rk_runtime *rt, rk_actor_id id)
{
    uint64_t count = 0;
    rk_msgbuf mb = {.data = &count, .capacity = sizeof count};
    RKT_CHECK_ST(rk_call(rt, id, RKT_MSG_INC, NULL, 0, &mb, 10 * RKT_SEC), RK_OK);
    return count;
}

static rkt_counter_state get(rk_runtime *rt, rk_actor_id id)
{
    rkt_counter_state s;
    rk_msgbuf mb = {.data = &s, .capacity = sizeof s};
    RKT_CHECK_ST(rk_call(rt, id, RKT_MSG_GET, NULL, 0, &mb, 10 * RKT_SEC), RK_OK);
    RKT_CHECK(mb.hdr.len == sizeof s);
    return s;
}

typedef struct ckpt {
    unsigned char buf[4096];
    size_t len;
    rk_checkpoint_info info;
} ckpt;

static void take(rk_runtime *rt, rk_actor_id id, uint32_t flags, ckpt *c)
{
    RKT_CHECK_ST(rk_actor_checkpoint(rt, id, flags, c->buf, sizeof c->buf, &c->len, &c->info), RK_OK);
}

/* The state a checkpoint holds (full, or a delta applied to `t`). */
static rkt_counter_state state_of(const ckpt *c, rk_checkpoint_target *t, rkt_counter_state *s)
{
    t->state = s;
    t->cap = sizeof *s;
    RKT_CHECK_ST(rk_checkpoint_apply(c->buf, c->len, t, NULL), RK_OK);
    RKT_CHECK(t->len == sizeof *s);
    return *s;
}

static void round_trip_and_delta(void)
{
    rk_runtime *rt = rkt_runtime(8);
    rk_actor_id a = rkt_launch(rt, "a", RKT_COUNTER), b = rkt_launch(rt, "b", RKT_COUNTER);
    rk_checkpoint_target t = {0};
    rkt_counter_state s;
    rk_lifecycle_state ls;
    static ckpt c1, c2;
    int i;

    for (i = 0; i < 100; i++)
        inc(rt, a);
    take(rt, a, RK_ACTOR_CHECKPOINT_FULL, &c1);
    RKT_CHECK(c1.info.actor == a && c1.info.seq == 1 && c1.info.generation == 1);
    RKT_CHECK(c1.info.state_size == sizeof(rkt_counter_state) && c1.info.msg_count == 0);
    s = state_of(&c1, &t, &s);
    RKT_CHECK(s.count == 100 && s.init_magic == RKT_INIT_MAGIC && s.init_runs == 1 && s.generation == 1);
    RKT_CHECK_ST(rk_actor_state(rt, a, &ls), RK_OK);
    RKT_CHECK(ls == RK_ACTIVE); /* resumed */

    for (i = 0; i < 50; i++)
        inc(rt, a);
    RKT_CHECK(get(rt, a).count == 150);
    RKT_CHECK_ST(rk_actor_restore(rt, a, 0, c1.buf, c1.len, NULL), RK_OK);
    RKT_CHECK(get(rt, a).count == 100); /* the handler reads the restored bytes */
    RKT_CHECK(inc(rt, a) == 101);

    /* Delta against the restored base, restored into b after c1. */
    for (i = 0; i < 6; i++)
        inc(rt, a);
    take(rt, a, RK_ACTOR_CHECKPOINT_DELTA, &c2);
    RKT_CHECK(c2.info.base_seq == c1.info.seq && c2.info.blocks_carried == 1);
    RKT_CHECK(state_of(&c2, &t, &s).count == 107);
    RKT_CHECK_ST(rk_actor_restore(rt, b, RK_ACTOR_RESTORE_ANY_ACTOR, c2.buf, c2.len, NULL), RK_ESTALE);
    RKT_CHECK(get(rt, b).count == 0);
    RKT_CHECK_ST(rk_actor_restore(rt, b, 0, c1.buf, c1.len, NULL), RK_EINVAL); /* a's, not b's */
    RKT_CHECK_ST(rk_actor_restore(rt, b, RK_ACTOR_RESTORE_ANY_ACTOR, c1.buf, c1.len, NULL), RK_OK);
    RKT_CHECK_ST(rk_actor_restore(rt, b, RK_ACTOR_RESTORE_ANY_ACTOR, c2.buf, c2.len, NULL), RK_OK);
    RKT_CHECK(get(rt, b).count == 107);
    rk_runtime_destroy(rt);
    printf("round trip and delta: ok\n");
}

/* A checkpoint of a counter with count 1000 and four queued INC messages
 * (one by reference), as another runtime might have written it. */
static void foreign_with_messages(void)
{
    rk_runtime *rt = rkt_runtime(8);
    rk_actor_id a = rkt_launch(rt, "a", RKT_COUNTER);
    rkt_counter_state st = {1000, RKT_INIT_MAGIC, 1, 1};
    static unsigned char slots[4][64 + 1024], out[8192];
    const rk_msg *msgs[4];
    rk_checkpoint_src src = {.actor = a, .generation = 1, .seq = 9, .state = &st, .state_size = sizeof st,
                             .msgs = msgs, .msg_count = 4};
    size_t len;
    uint64_t got[4] = {0}, v;
    rk_msgbuf mb = {.data = &v, .capacity = sizeof v};
    int i;

    for (i = 0; i < 4; i++) {
        rk_msg *m = (rk_msg *)(void *)slots[i];
        memset(m, 0, sizeof *m);
        m->type = RKT_MSG_INC;
        m->src = RK_ACTOR_HOST;
        m->dst = a;
        m->len = i == 3 ? 1024 : 8; /* the last one does not fit a 256-byte slot */
        memset(slots[i] + 64, i + 1, m->len);
        msgs[i] = m;
    }
    RKT_CHECK_ST(rk_checkpoint_encode(&src, NULL, out, sizeof out, &len, NULL), RK_OK);
    RKT_CHECK_ST(rk_actor_restore(rt, a, 0, out, len, NULL), RK_OK);
    /* Not requests: the counter reports each new count to the host. */
    for (i = 0; i < 4; i++) {
        RKT_CHECK_ST(rk_recv(rt, &mb, 10 * RKT_SEC), RK_OK);
        RKT_CHECK(mb.hdr.type == RKT_MSG_INC && mb.hdr.src == a);
        got[i] = v;
    }
    RKT_CHECK(got[0] == 1001 && got[1] == 1002 && got[2] == 1003 && got[3] == 1004);
    RKT_CHECK(get(rt, a).count == 1004);
    rk_runtime_destroy(rt);
    printf("foreign checkpoint with messages: ok\n");
}

static void damaged(void)
{
    rk_runtime *rt = rkt_runtime(8);
    rk_actor_id a = rkt_launch(rt, "a", RKT_COUNTER);
    static ckpt c;
    static unsigned char bad[4096];
    size_t i;
    int k;
    for (k = 0; k < 10; k++)
        inc(rt, a);
    take(rt, a, RK_ACTOR_CHECKPOINT_FULL, &c);
    inc(rt, a);
    for (i = 0; i < c.len; i++) {
        memcpy(bad, c.buf, c.len);
        bad[i] ^= (unsigned char)(1u << (i % 8));
        RKT_CHECK_ST(rk_actor_restore(rt, a, 0, bad, c.len, NULL), RK_EBADMSG);
    }
    for (i = 0; i < c.len; i++)
        RKT_CHECK_ST(rk_actor_restore(rt, a, 0, c.buf, i, NULL), RK_EBADMSG);
    RKT_CHECK(get(rt, a).count == 11);
    RKT_CHECK_ST(rk_actor_restore(rt, a, 0, c.buf, c.len, NULL), RK_OK);
    RKT_CHECK(get(rt, a).count == 10);
    rk_runtime_destroy(rt);
    printf("damaged checkpoints: %zu flips and %zu truncations refused: ok\n", c.len, c.len);
}

/* Keeps a's block busy with a WAIT until the checkpoint's hold reaches it
 * (RKT_WAIT_UNTIL_COMMAND; at most `ms`), and once it is inside, queues
 * `incs` INC from the host and `k2k` messages from probe p (type
 * RKT_MSG_NOP, 24 bytes). */
static void busy_with_queue(rk_runtime *rt, rk_actor_id a, rk_actor_id p, uint32_t ms, int incs, uint32_t k2k)
{
    rkt_wait w = {RKT_WAIT_UNTIL_COMMAND, (uint64_t)ms * RKT_MS};
    rkt_probe pr = {a, 24, 0, k2k, 0, 0};
    int32_t pst = -1;
    rk_msgbuf mb = {.data = &pst, .capacity = sizeof pst};
    unsigned char note[64];
    rk_msgbuf nb = {.data = note, .capacity = sizeof note};
    RKT_CHECK_ST(rk_send(rt, a, RKT_MSG_WAIT, &w, sizeof w), RK_OK);
    do /* past the replies of earlier messages, to the note that it is inside */
        RKT_CHECK_ST(rk_recv(rt, &nb, 60 * RKT_SEC), RK_OK);
    while (!(nb.hdr.type == RKT_MSG_WAIT && nb.hdr.src == a));
    for (int i = 0; i < incs; i++)
        RKT_CHECK_ST(rk_send(rt, a, RKT_MSG_INC, NULL, 0), RK_OK);
    RKT_CHECK_ST(rk_call(rt, p, RKT_MSG_PROBE, &pr, sizeof pr, &mb, 10 * RKT_SEC), RK_OK);
    RKT_CHECK(pst == RK_OK);
}

/* A checkpoint of a busy actor holds its queued messages: the host's in
 * its inbox and the probe's in its K2K queue, oldest first. */
static void held_queue(void)
{
    rk_runtime *rt = rkt_runtime(8);
    rk_actor_id a = rkt_launch(rt, "a", RKT_COUNTER), b = rkt_launch(rt, "b", RKT_COUNTER);
    rk_actor_id p = rkt_launch(rt, "p", RKT_PROBE);
    rk_checkpoint_target t = {0};
    rk_checkpoint_msg_iter it;
    rkt_counter_state s;
    rk_dead_letter dl;
    rk_msg h;
    const void *payload;
    uint64_t dropped = 0;
    static ckpt c;
    int n = 0, stale = 0;

    inc(rt, a);
    busy_with_queue(rt, a, p, 60000, 5, 3);
    take(rt, a, RK_ACTOR_CHECKPOINT_FULL, &c);
    RKT_CHECK(c.info.msg_count == 8);
    RKT_CHECK(state_of(&c, &t, &s).count == 1); /* none of the eight handled yet */
    RKT_CHECK_ST(rk_checkpoint_msgs_begin(c.buf, c.len, &it), RK_OK);
    while (rk_checkpoint_msgs_next(&it, &h, &payload) == RK_OK) {
        /* The host's five came first: the probe sent after it saw them. */
        if (n < 5)
            RKT_CHECK(h.type == RKT_MSG_INC && h.src == RK_ACTOR_HOST && h.len == 0);
        else
            RKT_CHECK(h.type == RKT_MSG_NOP && h.src == p && h.len == 24 && ((const unsigned char *)payload)[23] == 23);
        n++;
    }
    RKT_CHECK(n == 8);

    /* b takes a's state and queue: it counts the five INC. */
    RKT_CHECK_ST(rk_actor_restore(rt, b, RK_ACTOR_RESTORE_ANY_ACTOR, c.buf, c.len, NULL), RK_OK);
    RKT_CHECK(get(rt, b).count == 6);
    /* a was only held: it handles its own queue. */
    RKT_CHECK(get(rt, a).count == 6);

    /* Busy again, with other messages queued: a restore that replaces the
     * queue dead-letters those three and queues the checkpoint's eight. */
    busy_with_queue(rt, a, p, 60000, 2, 1);
    RKT_CHECK_ST(rk_actor_restore(rt, a, RK_ACTOR_RESTORE_REPLACE_QUEUE, c.buf, c.len, NULL), RK_OK);
    RKT_CHECK(get(rt, a).count == 6);
    while (rk_dead_letter_pop(rt, &dl, &dropped) == RK_OK)
        stale += dl.reason == RK_ESTALE && dl.hdr.dst == a;
    RKT_CHECK(stale == 3 && dropped == 0);

    /* A Failed actor keeps what was queued behind the failing message; its
     * checkpoint holds that, and a restart handles it. */
    {
        rkt_wait w = {0, 300000000u};
        struct timespec ts = {0, 100000000};
        RKT_CHECK_ST(rk_send(rt, b, RKT_MSG_WAIT, &w, sizeof w), RK_OK);
        nanosleep(&ts, NULL);
        RKT_CHECK_ST(rk_send(rt, b, RKT_MSG_FAIL, NULL, 0), RK_OK);
        RKT_CHECK_ST(rk_send(rt, b, RKT_MSG_INC, NULL, 0), RK_OK);
        RKT_CHECK_ST(rk_send(rt, b, RKT_MSG_INC, NULL, 0), RK_OK);
        rkt_wait_state(rt, b, RK_FAILED);
        take(rt, b, RK_ACTOR_CHECKPOINT_FULL, &c);
        RKT_CHECK(c.info.msg_count == 2 && state_of(&c, &t, &s).count == 6);
        RKT_CHECK_ST(rk_restart(rt, b), RK_OK);
        RKT_CHECK(get(rt, b).count == 2); /* fresh state, then the two INC */
    }
    rk_runtime_destroy(rt);
    printf("held queue: 8 queued messages (5 host, 3 K2K) checkpointed, restored elsewhere and replaced; a Failed "
           "actor's queue too: ok\n");
}

typedef struct traffic {
    rk_runtime *rt;
    rk_actor_id id;
    int stop; /* atomic */
    uint64_t done, refused;
    rk_status failed;
} traffic;

static void *traffic_loop(void *arg)
{
    traffic *t = arg;
    uint64_t count;
    rk_msgbuf mb = {.data = &count, .capacity = sizeof count};
    while (!__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE)) {
        rk_status st = rk_call(t->rt, t->id, RKT_MSG_INC, NULL, 0, &mb, 10 * RKT_SEC);
        if (st == RK_ESTATE) { /* held for a checkpoint: try again */
            t->refused++;
            struct timespec ts = {0, 20000};
            nanosleep(&ts, NULL);
            continue;
        }
        if (st != RK_OK || count != t->done + 1) {
            t->failed = st != RK_OK ? st : RK_EINTERNAL;
            break;
        }
        t->done++;
    }
    return NULL;
}

static void under_traffic(void)
{
    uint64_t rounds = rkt_env("RK_STRESS_CYCLES", 200), i, last = 0, t_sum = 0;
    rk_runtime *rt = rkt_runtime(8);
    rk_actor_id a = rkt_launch(rt, "a", RKT_COUNTER);
    traffic tr = {rt, a, 0, 0, 0, RK_OK};
    rk_checkpoint_target t = {0};
    rkt_counter_state s;
    static ckpt c;
    pthread_t th;
    RKT_CHECK(pthread_create(&th, NULL, traffic_loop, &tr) == 0);
    for (i = 0; i < rounds; i++) {
        uint64_t t0 = rk_test_now_ns();
        take(rt, a, i % 4 ? RK_ACTOR_CHECKPOINT_DELTA : RK_ACTOR_CHECKPOINT_FULL, &c);
        t_sum += rk_test_now_ns() - t0;
        RKT_CHECK(c.info.msg_count <= 1); /* the caller's request, if it came before the hold */
        s = state_of(&c, &t, &s);
        RKT_CHECK(s.count >= last && s.init_magic == RKT_INIT_MAGIC);
        last = s.count;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    __atomic_store_n(&tr.stop, 1, __ATOMIC_RELEASE);
    RKT_CHECK(pthread_join(th, NULL) == 0);
    RKT_CHECK_ST(tr.failed, RK_OK);
    RKT_CHECK(get(rt, a).count == tr.done);
    RKT_CHECK(last <= tr.done);
    rk_runtime_destroy(rt);
    printf("under traffic: %llu checkpoints (mean %.1f us each), %llu requests, %llu refused while held: ok\n",
           (unsigned long long)rounds, (double)t_sum / (double)rounds / 1e3, (unsigned long long)tr.done,
           (unsigned long long)tr.refused);
}

static void lifecycle_states(void)
{
    rk_runtime *rt = rkt_runtime(8);
    rk_actor_id a = rkt_launch(rt, "a", RKT_COUNTER);
    rk_checkpoint_target t = {0};
    rkt_counter_state s;
    static ckpt c, d;
    inc(rt, a);
    take(rt, a, RK_ACTOR_CHECKPOINT_FULL, &c);
    /* Draining: restored, and still Draining after. */
    RKT_CHECK_ST(rk_deactivate(rt, a), RK_OK);
    RKT_CHECK_ST(rk_actor_restore(rt, a, 0, c.buf, c.len, NULL), RK_OK);
    rkt_wait_state(rt, a, RK_DRAINING);
    RKT_CHECK_ST(rk_activate(rt, a), RK_OK);
    inc(rt, a);
    /* Terminated: its state can still be read, not written. */
    RKT_CHECK_ST(rk_terminate(rt, a), RK_OK);
    take(rt, a, RK_ACTOR_CHECKPOINT_FULL, &d);
    RKT_CHECK(state_of(&d, &t, &s).count == 2);
    RKT_CHECK_ST(rk_actor_restore(rt, a, 0, c.buf, c.len, NULL), RK_ESTATE);
    rk_runtime_destroy(rt);
    printf("lifecycle states: ok\n");
}

static double median_ms(uint64_t *v, size_t n)
{
    return (double)rkt_median(v, n) / 1e6;
}

static void large_state(void)
{
    enum { RUNS = 7 };
    const uint32_t size = 16u << 20;
    rk_runtime *rt = rkt_runtime(8);
    rk_actor_id a;
    unsigned char *buf = malloc((size_t)size + 4096);
    uint64_t t_ckpt[RUNS], t_delta[RUNS], t_restore[RUNS];
    size_t len, dlen;
    rk_checkpoint_info info;
    int i;
    RKT_CHECK(buf != NULL);
    RKT_CHECK_ST(rkt_launch_ex(rt, "big", RKT_COUNTER, NULL, size, 0, 0, &a), RK_OK);
    for (i = 0; i < RUNS; i++) {
        uint64_t t0;
        inc(rt, a);
        t0 = rk_test_now_ns();
        RKT_CHECK_ST(rk_actor_checkpoint(rt, a, RK_ACTOR_CHECKPOINT_FULL, buf, (size_t)size + 4096, &len, &info),
                     RK_OK);
        t_ckpt[i] = rk_test_now_ns() - t0;
        RKT_CHECK(info.state_size == size);
        inc(rt, a);
        t0 = rk_test_now_ns();
        RKT_CHECK_ST(rk_actor_checkpoint(rt, a, RK_ACTOR_CHECKPOINT_DELTA, buf, (size_t)size + 4096, &dlen, &info),
                     RK_OK);
        t_delta[i] = rk_test_now_ns() - t0;
        RKT_CHECK(info.blocks_carried == 1);
        /* The actor's last checkpoint: restoring it puts its base back. */
        RKT_CHECK_ST(rk_actor_restore(rt, a, 0, buf, dlen, NULL), RK_OK);
    }
    RKT_CHECK_ST(rk_actor_checkpoint(rt, a, RK_ACTOR_CHECKPOINT_FULL, buf, (size_t)size + 4096, &len, NULL), RK_OK);
    inc(rt, a);
    for (i = 0; i < RUNS; i++) {
        uint64_t t0 = rk_test_now_ns();
        RKT_CHECK_ST(rk_actor_restore(rt, a, 0, buf, len, NULL), RK_OK);
        t_restore[i] = rk_test_now_ns() - t0;
    }
    RKT_CHECK(get(rt, a).count == 2 * RUNS);
    printf("16 MiB GPU state, median of %d: checkpoint full %.2f ms, delta (1 block) %.2f ms, restore full %.2f ms: "
           "ok\n",
           RUNS, median_ms(t_ckpt, RUNS), median_ms(t_delta, RUNS), median_ms(t_restore, RUNS));
    free(buf);
    rk_runtime_destroy(rt);
}

int main(void)
{
    round_trip_and_delta();
    foreign_with_messages();
    damaged();
    held_queue();
    under_traffic();
    lifecycle_states();
    large_state();
    return 0;
}
