/* Checkpoints of running actors on the CPU backend (ringkernel/snapshot.h):
 * round trips of state and queued messages, queue capture while the worker
 * is busy elsewhere, consistency under concurrent senders (nothing lost,
 * per-sender order kept, every checkpoint a prefix of the actor's history),
 * delta chains, every single-byte corruption and every truncation of a
 * checkpoint refused with the actor untouched, the refusals (wrong actor,
 * state size, tenant, state, base), files, and a backend without the op.
 *
 * The "logger" actor folds each message (sender, seq, payload) into its
 * state: a count, a hash chain in handling order, the next seq expected per
 * sender (a gap is counted), and one byte of a 64 KiB blob, so scattered
 * blocks change and deltas have work. model_apply() is the same function
 * the handler runs, so the test can compute what any state plus messages
 * must become. Handlers never assert (they run on worker threads). Every
 * wait is bounded. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/runtime_internal.h"
#include "rk_test.h"
#include "ringkernel/ringkernel.h"

#define MS 1000000ull
#define SEC 1000000000ull
#define WAIT_LIMIT_NS (20 * SEC)
#define NSENDERS 4
#define BLOB (64 * 1024)
#define PAYLOAD_MAX 600 /* > the 192 inline bytes of a 256-byte slot: some go by reference */

enum {
    T_LOG = 1,    /* logmsg + pattern bytes: fold it into the state */
    T_BLOCK = 2,  /* hold the worker until the gate opens */
    T_DIGEST = 3, /* request: reply with the state's digest */
    T_FAIL = 4,   /* return an error: the actor fails */
};

typedef struct logmsg {
    uint32_t sender;
    uint32_t len; /* of the whole payload */
    uint64_t seq;
} logmsg;

typedef struct lstate {
    uint64_t count;
    uint64_t hash;
    uint64_t next[NSENDERS];
    uint64_t gaps; /* messages out of per-sender order */
    uint64_t bad;  /* payloads whose pattern was wrong */
    unsigned char blob[BLOB];
} lstate;

typedef struct tstate {
    uint64_t count;
    uint64_t sum;
} tstate;

typedef struct digest {
    uint64_t count, hash, gaps, bad;
    uint32_t blob_crc, pad_;
} digest;

static atomic_int gate_open;
static atomic_int gate_entered;

static uint8_t pattern(uint64_t seq, uint32_t i)
{
    return (uint8_t)(seq * 131u + i * 7u + 1u);
}

static uint32_t payload_len(uint64_t seq)
{
    return (uint32_t)sizeof(logmsg) + (seq % 7 == 0 ? 400u : (uint32_t)(seq % 61));
}

/* What the handler does to the state for one T_LOG payload. */
static void model_apply(lstate *s, const void *payload, uint32_t len)
{
    logmsg h;
    const unsigned char *p = payload;
    if (len < sizeof h) {
        s->bad++;
        return;
    }
    memcpy(&h, p, sizeof h);
    if (h.len != len)
        s->bad++;
    for (uint32_t i = sizeof h; i < len; i++)
        if (p[i] != pattern(h.seq, i)) {
            s->bad++;
            break;
        }
    if (h.sender >= NSENDERS) {
        s->bad++;
        return;
    }
    if (h.seq != s->next[h.sender])
        s->gaps++;
    s->next[h.sender] = h.seq + 1;
    s->count++;
    s->hash = (s->hash ^ (h.seq * 0x9E3779B97F4A7C15ull + h.sender)) * 0x100000001B3ull;
    s->blob[(h.seq * 4099u + h.sender * 977u) % BLOB] ^= (unsigned char)(h.seq + 1);
}

static digest model_digest(const lstate *s)
{
    digest d = {s->count, s->hash, s->gaps, s->bad, rk_crc32c(0, s->blob, BLOB), 0};
    return d;
}

static rk_status log_handle(rk_ctx *ctx, void *state, const rk_msg *m)
{
    lstate *s = state;
    switch (m->type) {
    case T_LOG:
        model_apply(s, rk_msg_payload(m), m->len);
        return RK_OK;
    case T_BLOCK: {
        uint64_t end = rk_test_now_ns() + WAIT_LIMIT_NS;
        atomic_store(&gate_entered, 1);
        while (!atomic_load(&gate_open) && rk_test_now_ns() < end) {
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL);
        }
        return RK_OK;
    }
    case T_DIGEST: {
        digest d = model_digest(s);
        return rk_reply(ctx, T_DIGEST, &d, sizeof d);
    }
    case T_FAIL:
        return RK_ENOTSUP;
    default:
        return RK_OK;
    }
}

static rk_status tiny_handle(rk_ctx *ctx, void *state, const rk_msg *m)
{
    tstate *s = state;
    if (m->type == T_LOG && m->len >= sizeof(logmsg)) {
        logmsg h;
        memcpy(&h, rk_msg_payload(m), sizeof h);
        s->count++;
        s->sum += h.seq;
    } else if (m->type == T_DIGEST) {
        return rk_reply(ctx, T_DIGEST, s, sizeof *s);
    }
    return RK_OK;
}

static const rk_actor_type logger_type = {"logger", log_handle, NULL, 0};
static const rk_actor_type tiny_type = {"tiny", tiny_handle, NULL, 0};

/* ---- helpers ------------------------------------------------------------------------ */

static rk_runtime *runtime(uint32_t workers)
{
    rk_runtime_options o;
    rk_runtime *rt = NULL;
    rk_runtime_options_init(&o);
    o.backend = RK_BACKEND_CPU;
    o.max_actors = 16;
    o.workers = workers;
    assert_int_equal(rk_runtime_create(&rt, &o), RK_OK);
    return rt;
}

static rk_actor_id launch_ex(rk_runtime *rt, const char *name, const rk_actor_type *type, uint32_t state_size,
                             uint32_t capacity, uint32_t tenant)
{
    rk_actor_options o;
    rk_actor_id id = RK_ACTOR_NONE;
    rk_actor_options_init(&o);
    o.name = name;
    o.type = type;
    o.state_size = state_size;
    o.tenant = tenant;
    if (capacity)
        o.inbox_capacity = capacity;
    assert_int_equal(rk_launch(rt, &o, &id), RK_OK);
    return id;
}

static rk_actor_id launch_logger(rk_runtime *rt, const char *name)
{
    return launch_ex(rt, name, &logger_type, sizeof(lstate), 0, 0);
}

static void make_payload(unsigned char *p, uint32_t sender, uint64_t seq, uint32_t len)
{
    logmsg h = {sender, len, seq};
    memcpy(p, &h, sizeof h);
    for (uint32_t i = sizeof h; i < len; i++)
        p[i] = pattern(seq, i);
}

/* Sends T_LOG (sender, seq), retrying while the inbox is full or the
 * actor deactivated. */
static rk_status send_log(rk_runtime *rt, rk_actor_id dst, uint32_t sender, uint64_t seq)
{
    unsigned char p[PAYLOAD_MAX];
    uint32_t len = payload_len(seq);
    uint64_t end = rk_test_now_ns() + WAIT_LIMIT_NS;
    rk_status st;
    make_payload(p, sender, seq, len);
    /* RK_ESTATE: deactivated for a moment (concurrent_checkpoints). */
    while (((st = rk_send(rt, dst, T_LOG, p, len)) == RK_EFULL || st == RK_ESTATE) && rk_test_now_ns() < end) {
        struct timespec ts = {0, 20000};
        nanosleep(&ts, NULL);
    }
    return st;
}

static void wait_msgs_in(rk_runtime *rt, rk_actor_id id, uint64_t n)
{
    uint64_t end = rk_test_now_ns() + WAIT_LIMIT_NS;
    rk_actor_metrics m;
    for (;;) {
        assert_int_equal(rk_actor_metrics_get(rt, id, &m), RK_OK);
        if (m.msgs_in >= n && m.queue_depth == 0)
            return;
        if (rk_test_now_ns() >= end)
            fail_msg("actor %u handled %llu of %llu", id, (unsigned long long)m.msgs_in, (unsigned long long)n);
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
}

static uint64_t msgs_in(rk_runtime *rt, rk_actor_id id)
{
    rk_actor_metrics m;
    assert_int_equal(rk_actor_metrics_get(rt, id, &m), RK_OK);
    return m.msgs_in;
}

static digest get_digest(rk_runtime *rt, rk_actor_id id)
{
    digest d;
    rk_msgbuf mb = {.data = &d, .capacity = sizeof d};
    uint64_t end = rk_test_now_ns() + WAIT_LIMIT_NS;
    rk_status st;
    /* RK_EFULL: restored messages may fill the inbox for a moment. */
    while ((st = rk_call(rt, id, T_DIGEST, NULL, 0, &mb, 10 * SEC)) == RK_EFULL && rk_test_now_ns() < end) {
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(st, RK_OK);
    assert_int_equal(mb.hdr.len, sizeof d);
    return d;
}

static void assert_digest_equal(digest a, digest b)
{
    assert_int_equal(a.count, b.count);
    assert_int_equal(a.hash, b.hash);
    assert_int_equal(a.gaps, b.gaps);
    assert_int_equal(a.bad, b.bad);
    assert_int_equal(a.blob_crc, b.blob_crc);
}

/* A checkpoint, taken into a buffer of its exact size. */
typedef struct ckpt {
    unsigned char *buf;
    size_t len;
    rk_checkpoint_info info;
} ckpt;

static ckpt take(rk_runtime *rt, rk_actor_id id, uint32_t flags)
{
    ckpt c = {NULL, 0, {0}};
    size_t cap = sizeof(lstate) + 4096;
    rk_status st;
    for (;;) {
        c.buf = realloc(c.buf, cap);
        assert_non_null(c.buf);
        st = rk_actor_checkpoint(rt, id, flags, c.buf, cap, &c.len, &c.info);
        if (st != RK_E2BIG)
            break;
        cap = c.len + 64 * 1024; /* the queue may grow before the retry */
    }
    assert_int_equal(st, RK_OK);
    assert_int_equal(c.info.size, c.len);
    return c;
}

/* A state the checkpoints of one actor are applied to in order. */
typedef struct chain {
    lstate *s;
    rk_checkpoint_target t;
} chain;

static void chain_init(chain *ch)
{
    ch->s = calloc(1, sizeof *ch->s);
    assert_non_null(ch->s);
    memset(&ch->t, 0, sizeof ch->t);
    ch->t.state = ch->s;
    ch->t.cap = sizeof *ch->s;
}

static void chain_apply(chain *ch, const ckpt *c)
{
    assert_int_equal(rk_checkpoint_apply(c->buf, c->len, &ch->t, NULL), RK_OK);
    assert_int_equal(ch->t.len, sizeof(lstate));
}

/* The state a checkpoint's messages take `s` to, checking on the way that
 * each sender's messages continue its sequence without a gap. */
static void replay(lstate *s, const ckpt *c, rk_actor_id dst)
{
    rk_checkpoint_msg_iter it;
    const void *payload;
    rk_msg m;
    uint64_t n = 0;
    rk_status st;
    assert_int_equal(rk_checkpoint_msgs_begin(c->buf, c->len, &it), RK_OK);
    while ((st = rk_checkpoint_msgs_next(&it, &m, &payload)) == RK_OK) {
        logmsg h;
        assert_int_equal(m.type, T_LOG);
        assert_int_equal(m.dst, dst);
        assert_int_equal(m.src, RK_ACTOR_HOST);
        assert_true(m.len >= sizeof h);
        memcpy(&h, payload, sizeof h);
        assert_true(h.sender < NSENDERS);
        assert_int_equal(h.seq, s->next[h.sender]);
        assert_int_equal((m.flags & RK_MSG_F_BYREF) != 0, m.len > 192);
        model_apply(s, payload, m.len);
        n++;
    }
    assert_int_equal(st, RK_ENOTFOUND);
    assert_int_equal(n, c->info.msg_count);
}

/* ---- round trips --------------------------------------------------------------------- */

/* Idle actor: a full checkpoint holds exactly its state; after more
 * traffic, restoring it brings that state back; sequence numbers count. */
static void roundtrip_idle(void **unused)
{
    rk_runtime *rt = runtime(2);
    rk_actor_id id = launch_logger(rt, "log");
    lstate *want = calloc(1, sizeof *want);
    chain ch;
    ckpt c1, c2, c3;
    (void)unused;
    assert_non_null(want);
    chain_init(&ch);
    for (uint64_t i = 0; i < 200; i++) {
        unsigned char p[PAYLOAD_MAX];
        make_payload(p, 0, i, payload_len(i));
        model_apply(want, p, payload_len(i));
        assert_int_equal(send_log(rt, id, 0, i), RK_OK);
    }
    wait_msgs_in(rt, id, 200);

    c1 = take(rt, id, RK_ACTOR_CHECKPOINT_FULL);
    assert_int_equal(c1.info.actor, id);
    assert_int_equal(c1.info.seq, 1);
    assert_int_equal(c1.info.generation, 1);
    assert_int_equal(c1.info.state_size, sizeof(lstate));
    assert_int_equal(c1.info.msg_count, 0);
    assert_int_equal(c1.info.flags, 0);
    chain_apply(&ch, &c1);
    assert_memory_equal(ch.s, want, sizeof *want);
    assert_digest_equal(get_digest(rt, id), model_digest(want));

    for (uint64_t i = 200; i < 300; i++)
        assert_int_equal(send_log(rt, id, 0, i), RK_OK);
    wait_msgs_in(rt, id, 300 + 1);
    assert_int_equal(get_digest(rt, id).count, 300);

    assert_int_equal(rk_actor_restore(rt, id, 0, c1.buf, c1.len, NULL), RK_OK);
    assert_digest_equal(get_digest(rt, id), model_digest(want));
    c2 = take(rt, id, RK_ACTOR_CHECKPOINT_FULL);
    assert_int_equal(c2.info.seq, 2);
    chain_apply(&ch, &c2);
    assert_memory_equal(ch.s, want, sizeof *want);

    /* Unchanged since c2, which is the base: a delta carries no block. */
    c3 = take(rt, id, RK_ACTOR_CHECKPOINT_DELTA);
    assert_int_equal(c3.info.seq, 3);
    assert_int_equal(c3.info.base_seq, 2);
    assert_int_equal(c3.info.blocks_carried, 0);
    chain_apply(&ch, &c3);
    assert_memory_equal(ch.s, want, sizeof *want);

    /* The last checkpoint, though a delta, restores from the base. */
    for (uint64_t i = 300; i < 310; i++)
        assert_int_equal(send_log(rt, id, 0, i), RK_OK);
    wait_msgs_in(rt, id, 302 + 10); /* 300 messages and 2 digests before */
    assert_int_equal(get_digest(rt, id).count, 210);
    assert_int_equal(rk_actor_restore(rt, id, 0, c3.buf, c3.len, NULL), RK_OK);
    assert_digest_equal(get_digest(rt, id), model_digest(want));

    free(c1.buf);
    free(c2.buf);
    free(c3.buf);
    free(ch.s);
    free(want);
    rk_runtime_destroy(rt);
}

typedef struct bg_checkpoint {
    rk_runtime *rt;
    rk_actor_id id;
    uint32_t flags;
    const ckpt *restore; /* restore this instead of checkpointing */
    uint32_t restore_flags;
    atomic_int started;
    ckpt out;
    rk_status st;
} bg_checkpoint;

static void *bg_run(void *arg)
{
    bg_checkpoint *b = arg;
    atomic_store(&b->started, 1);
    if (b->restore) {
        b->st = rk_actor_restore(b->rt, b->id, b->restore_flags, b->restore->buf, b->restore->len, NULL);
        return NULL;
    }
    b->out.buf = malloc(2 * sizeof(lstate));
    b->st = b->out.buf ? rk_actor_checkpoint(b->rt, b->id, b->flags, b->out.buf, 2 * sizeof(lstate), &b->out.len,
                                             &b->out.info)
                       : RK_ENOMEM;
    return NULL;
}

/* With one worker held by another actor's handler, `n` messages queue up
 * for the logger and a checkpoint or restore (in `b`) asks to pause it; the
 * worker then pauses the logger before it handles any of them. */
static void with_queue_held(rk_runtime *rt, rk_actor_id blocker, rk_actor_id log, uint64_t first, uint64_t n,
                            bg_checkpoint *b)
{
    pthread_t th;
    uint64_t end = rk_test_now_ns() + WAIT_LIMIT_NS;
    atomic_store(&gate_open, 0);
    atomic_store(&gate_entered, 0);
    assert_int_equal(rk_send(rt, blocker, T_BLOCK, NULL, 0), RK_OK);
    while (!atomic_load(&gate_entered) && rk_test_now_ns() < end) {
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    assert_true(atomic_load(&gate_entered));
    for (uint64_t i = first; i < first + n; i++)
        assert_int_equal(send_log(rt, log, 0, i), RK_OK);
    assert_int_equal(pthread_create(&th, NULL, bg_run, b), 0);
    while (!atomic_load(&b->started)) {
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    /* Time for the call to post its request: it needs microseconds. */
    struct timespec ts = {0, 500 * 1000000L};
    nanosleep(&ts, NULL);
    atomic_store(&gate_open, 1);
    assert_int_equal(pthread_join(th, NULL), 0);
}

/* The checkpoint holds the queued messages (copied: the actor still handles
 * them), in order, with by-reference payloads; restored into another actor
 * they take it to the same state as the original. */
static void queue_captured(void **unused)
{
    rk_runtime *rt = runtime(1);
    rk_actor_id log = launch_logger(rt, "log"), blocker = launch_logger(rt, "blocker");
    rk_actor_id copy = launch_logger(rt, "copy");
    bg_checkpoint b = {.rt = rt, .id = log, .flags = RK_ACTOR_CHECKPOINT_FULL};
    lstate *s = calloc(1, sizeof *s);
    chain ch;
    (void)unused;
    assert_non_null(s);
    chain_init(&ch);
    with_queue_held(rt, blocker, log, 0, 50, &b);
    assert_int_equal(b.st, RK_OK);
    assert_int_equal(b.out.info.msg_count, 50);
    chain_apply(&ch, &b.out);
    assert_int_equal(ch.s->count, 0);
    memcpy(s, ch.s, sizeof *s);
    replay(s, &b.out, log);
    assert_int_equal(s->count, 50);

    wait_msgs_in(rt, log, 50);
    assert_digest_equal(get_digest(rt, log), model_digest(s));

    /* Another actor, restored from it, handles the same 50 messages. */
    assert_int_equal(rk_actor_restore(rt, copy, 0, b.out.buf, b.out.len, NULL), RK_EINVAL);
    assert_int_equal(rk_actor_restore(rt, copy, RK_ACTOR_RESTORE_ANY_ACTOR, b.out.buf, b.out.len, NULL), RK_OK);
    wait_msgs_in(rt, copy, 50);
    assert_digest_equal(get_digest(rt, copy), model_digest(s));

    free(b.out.buf);
    free(ch.s);
    free(s);
    rk_runtime_destroy(rt);
}

/* Restore queues the checkpoint's messages behind what is queued; with
 * REPLACE_QUEUE what was queued is dead-lettered instead. */
static void restore_queue_modes(void **unused)
{
    rk_runtime *rt = runtime(1);
    rk_actor_id log = launch_logger(rt, "log"), blocker = launch_logger(rt, "blocker");
    bg_checkpoint cap = {.rt = rt, .id = log, .flags = RK_ACTOR_CHECKPOINT_FULL};
    lstate *s = calloc(1, sizeof *s), *want = calloc(1, sizeof *want);
    chain ch;
    uint64_t dead0;
    (void)unused;
    assert_true(s && want);
    chain_init(&ch);
    /* A checkpoint with messages 0..9 of sender 0 queued. */
    with_queue_held(rt, blocker, log, 0, 10, &cap);
    assert_int_equal(cap.st, RK_OK);
    assert_int_equal(cap.out.info.msg_count, 10);
    chain_apply(&ch, &cap.out);
    wait_msgs_in(rt, log, 10);

    /* Kept: 10..19 queued now run on the restored state, then 0..9 (a gap
     * for each: sender 0 went 19 -> 0). */
    {
        bg_checkpoint r = {.rt = rt, .id = log, .restore = &cap.out};
        unsigned char p[PAYLOAD_MAX];
        with_queue_held(rt, blocker, log, 10, 10, &r);
        assert_int_equal(r.st, RK_OK);
        memcpy(want, ch.s, sizeof *want);
        for (uint64_t i = 10; i < 20; i++) {
            make_payload(p, 0, i, payload_len(i));
            model_apply(want, p, payload_len(i));
        }
        for (uint64_t i = 0; i < 10; i++) {
            make_payload(p, 0, i, payload_len(i));
            model_apply(want, p, payload_len(i));
        }
        wait_msgs_in(rt, log, 10 + 20);
        assert_digest_equal(get_digest(rt, log), model_digest(want));
    }

    /* Replaced: 20..29 queued now are dead-lettered (reason RK_ESTALE). */
    {
        bg_checkpoint r = {.rt = rt, .id = log, .restore = &cap.out,
                           .restore_flags = RK_ACTOR_RESTORE_REPLACE_QUEUE};
        rk_dead_letter dl;
        uint64_t stale = 0;
        while (rk_dead_letter_pop(rt, &dl, NULL) == RK_OK)
            ;
        dead0 = rk_dead_letter_count(rt);
        with_queue_held(rt, blocker, log, 20, 10, &r);
        assert_int_equal(r.st, RK_OK);
        memcpy(s, ch.s, sizeof *s);
        replay(s, &cap.out, log);
        wait_msgs_in(rt, log, 31 + 10); /* 30 messages and a digest before */
        assert_digest_equal(get_digest(rt, log), model_digest(s));
        assert_int_equal(rk_dead_letter_count(rt), dead0 + 10);
        while (rk_dead_letter_pop(rt, &dl, NULL) == RK_OK) {
            assert_int_equal(dl.reason, RK_ESTALE);
            assert_int_equal(dl.hdr.dst, log);
            stale++;
        }
        assert_int_equal(stale, 10);
    }

    free(cap.out.buf);
    free(ch.s);
    free(s);
    free(want);
    rk_runtime_destroy(rt);
}

/* ---- under traffic ------------------------------------------------------------------- */

typedef struct sender {
    rk_runtime *rt;
    rk_actor_id dst;
    uint32_t index;
    uint64_t count;
    rk_status st;
    int paced; /* pause 50 us after every 16 messages */
} sender;

static void *send_loop(void *arg)
{
    sender *s = arg;
    for (uint64_t i = 0; i < s->count; i++) {
        s->st = send_log(s->rt, s->dst, s->index, i);
        if (s->st != RK_OK)
            return NULL;
        if (s->paced && i % 16 == 15) {
            struct timespec ts = {0, 50000};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

/* Senders on four threads while the test thread checkpoints without pause,
 * full and delta in turn, until the actor has handled everything, and
 * restores each checkpoint into a scratch actor. Every checkpoint must be a consistent cut: its state saw each
 * sender's messages in order without a gap, and its queued messages go on
 * from exactly there. The delta chain, applied in order, must reproduce
 * every checkpoint. In the end the actor has every message: none was lost
 * to a checkpoint. */
static void checkpoints_under_traffic(void **unused)
{
    uint64_t per = rk_test_messages(100000) / NSENDERS;
    rk_runtime *rt = runtime(2);
    rk_actor_id log = launch_logger(rt, "log"), scratch = launch_logger(rt, "scratch");
    sender snd[NSENDERS];
    pthread_t th[NSENDERS];
    lstate *s = calloc(1, sizeof *s);
    uint64_t taken = 0, deltas = 0, queued_seen = 0, restores = 0, verified = 0, end;
    chain ch;
    ckpt last;
    (void)unused;
    assert_non_null(s);
    chain_init(&ch);
    end = rk_test_now_ns() + 20 * WAIT_LIMIT_NS;
    for (uint32_t i = 0; i < NSENDERS; i++) {
        snd[i] = (sender){rt, log, i, per, RK_OK, 0};
        assert_int_equal(pthread_create(&th[i], NULL, send_loop, &snd[i]), 0);
    }
    for (;;) {
        uint32_t flags = taken % 3 == 0 ? RK_ACTOR_CHECKPOINT_FULL : RK_ACTOR_CHECKPOINT_DELTA;
        ckpt c = take(rt, log, flags);
        int done;
        taken++;
        deltas += flags != 0;
        assert_int_equal(c.info.seq, taken);
        assert_int_equal(c.info.flags, flags);
        chain_apply(&ch, &c);
        assert_int_equal(ch.s->gaps, 0);
        assert_int_equal(ch.s->bad, 0);
        memcpy(s, ch.s, sizeof *s);
        replay(s, &c, log);
        assert_int_equal(s->gaps, 0);
        queued_seen += c.info.msg_count;
        /* The scratch actor follows the chain (what it has not handled of
         * the last one is replaced); every third time, once it has handled
         * the messages - the digest request queues behind them - it must
         * be where the logger was. */
        assert_int_equal(rk_actor_restore(rt, scratch, RK_ACTOR_RESTORE_ANY_ACTOR | RK_ACTOR_RESTORE_REPLACE_QUEUE,
                                          c.buf, c.len, NULL),
                         RK_OK);
        restores++;
        if (taken % 3 == 0) {
            assert_digest_equal(get_digest(rt, scratch), model_digest(s));
            verified++;
        }
        done = ch.s->count == per * NSENDERS; /* handled, not only queued */
        free(c.buf);
        if (done)
            break;
        assert_true(s->count <= per * NSENDERS);
        assert_true(rk_test_now_ns() < end);
    }
    for (uint32_t i = 0; i < NSENDERS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(snd[i].st, RK_OK);
    }
    wait_msgs_in(rt, log, per * NSENDERS);
    last = take(rt, log, RK_ACTOR_CHECKPOINT_DELTA);
    chain_apply(&ch, &last);
    assert_int_equal(ch.s->count, per * NSENDERS);
    for (uint32_t i = 0; i < NSENDERS; i++)
        assert_int_equal(ch.s->next[i], per);
    assert_int_equal(ch.s->gaps, 0);
    assert_int_equal(ch.s->bad, 0);
    assert_digest_equal(get_digest(rt, log), model_digest(ch.s));
    print_message("traffic: %llu messages, %llu checkpoints (%llu deltas), %llu queued messages captured, "
                  "%llu restores (%llu verified)\n",
                  (unsigned long long)(per * NSENDERS), (unsigned long long)taken, (unsigned long long)deltas,
                  (unsigned long long)queued_seen, (unsigned long long)restores, (unsigned long long)verified);
    free(last.buf);
    free(ch.s);
    free(s);
    rk_runtime_destroy(rt);
}

typedef struct hammer {
    rk_runtime *rt;
    rk_actor_id id;
    int stop; /* atomic */
    uint64_t done;
    rk_status st;
} hammer;

static void *checkpoint_loop(void *arg)
{
    hammer *h = arg;
    size_t cap = 4 * sizeof(lstate), len;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        h->st = RK_ENOMEM;
        return NULL;
    }
    while (!__atomic_load_n(&h->stop, __ATOMIC_ACQUIRE)) {
        rk_status st = rk_actor_checkpoint(h->rt, h->id, h->done % 2 ? RK_ACTOR_CHECKPOINT_DELTA : 0, buf, cap,
                                           &len, NULL);
        if (st != RK_OK) {
            h->st = st;
            break;
        }
        __atomic_store_n(&h->done, h->done + 1, __ATOMIC_RELAXED);
    }
    free(buf);
    return NULL;
}

/* Two threads checkpoint the same actor and a third another one, while
 * senders run and lifecycle commands come and go: nothing fails, nothing is
 * lost (and under TSan, nothing races). */
static void concurrent_checkpoints(void **unused)
{
    uint64_t per = rk_test_messages(20000) / NSENDERS / 4;
    rk_runtime *rt = runtime(2);
    rk_actor_id a = launch_logger(rt, "a"), b = launch_logger(rt, "b");
    hammer h[3] = {{rt, a, 0, 0, RK_OK}, {rt, a, 0, 0, RK_OK}, {rt, b, 0, 0, RK_OK}};
    pthread_t hth[3], sth[NSENDERS];
    sender snd[NSENDERS];
    (void)unused;
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&hth[i], NULL, checkpoint_loop, &h[i]), 0);
    for (uint32_t i = 0; i < NSENDERS; i++) {
        snd[i] = (sender){rt, i % 2 ? b : a, i, per, RK_OK, 0};
        assert_int_equal(pthread_create(&sth[i], NULL, send_loop, &snd[i]), 0);
    }
    for (int i = 0; i < 20; i++) {
        /* Deactivate and activate b: its queue keeps being handled. */
        assert_int_equal(rk_deactivate(rt, b), RK_OK);
        assert_int_equal(rk_activate(rt, b), RK_OK);
    }
    for (uint32_t i = 0; i < NSENDERS; i++) {
        assert_int_equal(pthread_join(sth[i], NULL), 0);
        assert_int_equal(snd[i].st, RK_OK);
    }
    wait_msgs_in(rt, a, per * NSENDERS / 2);
    wait_msgs_in(rt, b, per * NSENDERS / 2);
    {
        /* Each checkpointer gets some done, lifecycle commands or not. */
        uint64_t end = rk_test_now_ns() + WAIT_LIMIT_NS;
        for (int i = 0; i < 3; i++)
            while (__atomic_load_n(&h[i].done, __ATOMIC_RELAXED) < 3 && h[i].st == RK_OK &&
                   rk_test_now_ns() < end) {
                struct timespec ts = {0, 1000000};
                nanosleep(&ts, NULL);
            }
    }
    for (int i = 0; i < 3; i++) {
        __atomic_store_n(&h[i].stop, 1, __ATOMIC_RELEASE);
        assert_int_equal(pthread_join(hth[i], NULL), 0);
        assert_int_equal(h[i].st, RK_OK);
        assert_true(h[i].done > 0);
    }
    {
        digest da = get_digest(rt, a), db = get_digest(rt, b);
        assert_int_equal(da.count, per * NSENDERS / 2);
        assert_int_equal(db.count, per * NSENDERS / 2);
        assert_int_equal(da.gaps + db.gaps + da.bad + db.bad, 0);
    }
    rk_runtime_destroy(rt);
}

/* An actor rolled back to its own checkpoints again and again while a
 * sender keeps sending: each restore queues the captured messages once
 * more (the actor had handled them since), behind what is queued, or is
 * refused with RK_EFULL and changes nothing. So the actor handles exactly
 * every message sent plus every message restored: none lost, none
 * duplicated beyond the documented replay. */
static void restore_under_traffic(void **unused)
{
    uint64_t n = rk_test_messages(100000) / 4, restored = 0, rounds = 0, full = 0;
    uint64_t end = rk_test_now_ns() + 3 * WAIT_LIMIT_NS;
    rk_runtime *rt = runtime(2);
    rk_actor_id r = launch_logger(rt, "r");
    sender snd = {rt, r, 0, n, RK_OK, 1};
    pthread_t th;
    (void)unused;
    assert_int_equal(pthread_create(&th, NULL, send_loop, &snd), 0);
    while (msgs_in(rt, r) < n / 2 || rounds - full < 10) {
        ckpt c = take(rt, r, rounds % 2 ? RK_ACTOR_CHECKPOINT_DELTA : RK_ACTOR_CHECKPOINT_FULL);
        rk_status st = rk_actor_restore(rt, r, 0, c.buf, c.len, NULL);
        if (st == RK_EFULL)
            full++;
        else
            assert_int_equal(st, RK_OK);
        if (st == RK_OK)
            restored += c.info.msg_count;
        rounds++;
        free(c.buf);
        assert_true(rk_test_now_ns() < end);
    }
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(snd.st, RK_OK);
    wait_msgs_in(rt, r, n + restored);
    assert_int_equal(msgs_in(rt, r), n + restored);
    assert_int_equal(get_digest(rt, r).bad, 0);
    print_message("rollbacks: %llu messages, %llu restores (%llu refused: queue full) re-queued %llu\n",
                  (unsigned long long)n, (unsigned long long)rounds, (unsigned long long)full,
                  (unsigned long long)restored);
    rk_runtime_destroy(rt);
}

/* ---- delta chains -------------------------------------------------------------------- */

/* full, delta, delta, ... taken of an idle actor between bursts; a fresh
 * actor restored from them in order goes through the same states. A delta
 * out of order, or after the actor took a checkpoint of its own, is
 * refused with RK_ESTALE and changes nothing. */
static void delta_chain(void **unused)
{
    enum { LINKS = 6 };
    rk_runtime *rt = runtime(2);
    rk_actor_id src = launch_logger(rt, "src"), dst = launch_logger(rt, "dst");
    ckpt c[LINKS];
    digest d[LINKS];
    uint64_t seq = 0;
    rk_checkpoint_info info;
    ckpt extra;
    (void)unused;
    for (int i = 0; i < LINKS; i++) {
        uint64_t burst = 20 + 37 * (uint64_t)i;
        for (uint64_t k = 0; k < burst; k++, seq++)
            assert_int_equal(send_log(rt, src, 1, seq), RK_OK);
        wait_msgs_in(rt, src, seq + (uint64_t)i);
        d[i] = get_digest(rt, src);
        c[i] = take(rt, src, i == 0 ? RK_ACTOR_CHECKPOINT_FULL : RK_ACTOR_CHECKPOINT_DELTA);
        if (i > 0) {
            assert_int_equal(c[i].info.base_seq, c[i - 1].info.seq);
            assert_true(c[i].len < c[0].len);
            assert_true(c[i].info.blocks_carried > 0 && c[i].info.blocks_carried < c[i].info.blocks);
        }
    }

    /* No base yet: a delta is refused, the actor untouched. Then the chain
     * in order; before each link, the one after it (skipping) is refused. */
    assert_int_equal(rk_actor_restore(rt, dst, RK_ACTOR_RESTORE_ANY_ACTOR, c[1].buf, c[1].len, &info), RK_ESTALE);
    assert_int_equal(info.seq, c[1].info.seq);
    assert_int_equal(get_digest(rt, dst).count, 0);
    for (int i = 0; i < LINKS; i++) {
        rk_checkpoint_info got;
        if (i >= 1 && i + 1 < LINKS) {
            assert_int_equal(rk_actor_restore(rt, dst, RK_ACTOR_RESTORE_ANY_ACTOR, c[i + 1].buf, c[i + 1].len, NULL),
                             RK_ESTALE);
            assert_digest_equal(get_digest(rt, dst), d[i - 1]);
        }
        assert_int_equal(rk_actor_restore(rt, dst, RK_ACTOR_RESTORE_ANY_ACTOR, c[i].buf, c[i].len, &got), RK_OK);
        assert_int_equal(got.seq, c[i].info.seq);
        assert_digest_equal(get_digest(rt, dst), d[i]);
    }

    /* dst's own checkpoint is its base now: src's next delta is refused. */
    extra = take(rt, dst, RK_ACTOR_CHECKPOINT_FULL);
    assert_int_equal(extra.info.seq, c[LINKS - 1].info.seq + 1);
    {
        ckpt next;
        for (uint64_t k = 0; k < 10; k++, seq++)
            assert_int_equal(send_log(rt, src, 1, seq), RK_OK);
        wait_msgs_in(rt, src, seq + LINKS);
        next = take(rt, src, RK_ACTOR_CHECKPOINT_DELTA);
        assert_int_equal(rk_actor_restore(rt, dst, RK_ACTOR_RESTORE_ANY_ACTOR, next.buf, next.len, NULL),
                         RK_ESTALE);
        assert_digest_equal(get_digest(rt, dst), d[LINKS - 1]);
        free(next.buf);
    }

    /* forget: no base, so no delta, until the next full checkpoint. */
    assert_int_equal(rk_actor_checkpoint_forget(rt, dst), RK_OK);
    {
        size_t len;
        unsigned char small[256];
        assert_int_equal(rk_actor_checkpoint(rt, dst, RK_ACTOR_CHECKPOINT_DELTA, small, sizeof small, &len, NULL),
                         RK_ESTALE);
    }
    free(extra.buf);
    for (int i = 0; i < LINKS; i++)
        free(c[i].buf);
    rk_runtime_destroy(rt);
}

/* ---- damaged checkpoints -------------------------------------------------------------- */

/* A small checkpoint of the tiny actor ({5, 40}) with n queued messages,
 * seq 100, 101, ..., made with the codec as another runtime would. */
#define TINY_MSGS_MAX 8

static ckpt tiny_checkpoint_n(rk_actor_id id, uint32_t tenant, uint32_t type, int n)
{
    tstate st = {5, 40};
    unsigned char p[TINY_MSGS_MAX][64];
    rk_msg m[TINY_MSGS_MAX];
    const rk_msg *ptrs[TINY_MSGS_MAX];
    struct {
        rk_msg hdr;
        unsigned char payload[64];
    } slot[TINY_MSGS_MAX];
    rk_checkpoint_src src = {.actor = id, .generation = 1, .seq = 7, .state = &st, .state_size = sizeof st,
                             .msgs = ptrs, .msg_count = (size_t)n};
    ckpt c = {NULL, 0, {0}};
    size_t size;
    for (int i = 0; i < n; i++) {
        uint32_t len = (uint32_t)sizeof(logmsg) + (uint32_t)i * 9;
        make_payload(p[i], 0, 100 + (uint64_t)i, len);
        memset(&m[i], 0, sizeof m[i]);
        m[i].type = type;
        m[i].src = RK_ACTOR_HOST;
        m[i].dst = id;
        m[i].tenant = tenant;
        m[i].len = len;
        m[i].hlc = 1000 + (uint64_t)i;
        slot[i].hdr = m[i];
        memcpy(slot[i].payload, p[i], len);
        ptrs[i] = &slot[i].hdr;
    }
    assert_int_equal(rk_checkpoint_size(&src, NULL, &size), RK_OK);
    c.buf = malloc(size);
    assert_non_null(c.buf);
    assert_int_equal(rk_checkpoint_encode(&src, NULL, c.buf, size, &c.len, &c.info), RK_OK);
    return c;
}

static ckpt tiny_checkpoint(rk_actor_id id, uint32_t tenant, uint32_t type)
{
    return tiny_checkpoint_n(id, tenant, type, 3);
}

static tstate tiny_state(rk_runtime *rt, rk_actor_id id)
{
    tstate s;
    rk_msgbuf mb = {.data = &s, .capacity = sizeof s};
    assert_int_equal(rk_call(rt, id, T_DIGEST, NULL, 0, &mb, 10 * SEC), RK_OK);
    return s;
}

/* Every single-byte change and every truncation of a checkpoint (with its
 * messages), and trailing bytes, are RK_EBADMSG; after each the actor has
 * its state, handled nothing new, and queued nothing. */
static void damaged_refused(void **unused)
{
    rk_runtime *rt = runtime(2);
    rk_actor_id id = launch_ex(rt, "tiny", &tiny_type, sizeof(tstate), 0, 0);
    ckpt c = tiny_checkpoint(id, 0, T_LOG);
    unsigned char *bad = malloc(c.len + 8);
    uint64_t in;
    tstate before, after;
    (void)unused;
    assert_non_null(bad);
    for (uint64_t i = 0; i < 3; i++)
        assert_int_equal(send_log(rt, id, 0, i), RK_OK);
    wait_msgs_in(rt, id, 3);
    before = tiny_state(rt, id);
    assert_int_equal(before.count, 3);
    /* The worker counts a message after its handler replied: wait for the
     * digest request's count before taking it as the base. */
    wait_msgs_in(rt, id, 4);
    in = msgs_in(rt, id);

    for (size_t i = 0; i < c.len; i++) {
        memcpy(bad, c.buf, c.len);
        bad[i] ^= (unsigned char)(1u << (i % 8));
        assert_int_equal(rk_actor_restore(rt, id, 0, bad, c.len, NULL), RK_EBADMSG);
        bad[i] = c.buf[i] ^ 0xFF;
        assert_int_equal(rk_actor_restore(rt, id, 0, bad, c.len, NULL), RK_EBADMSG);
    }
    for (size_t n = 0; n < c.len; n++)
        assert_int_equal(rk_actor_restore(rt, id, 0, c.buf, n, NULL), RK_EBADMSG);
    memcpy(bad, c.buf, c.len);
    memset(bad + c.len, 0, 8);
    assert_int_equal(rk_actor_restore(rt, id, 0, bad, c.len + 8, NULL), RK_EBADMSG);

    after = tiny_state(rt, id);
    assert_memory_equal(&before, &after, sizeof before);
    wait_msgs_in(rt, id, in + 1);
    assert_int_equal(msgs_in(rt, id), in + 1); /* the digest request only */

    /* The intact one restores: its state, then its three messages. */
    assert_int_equal(rk_actor_restore(rt, id, 0, c.buf, c.len, NULL), RK_OK);
    wait_msgs_in(rt, id, in + 1 + 3);
    after = tiny_state(rt, id);
    assert_int_equal(after.count, 5 + 3);
    assert_int_equal(after.sum, 40 + 100 + 101 + 102);
    free(bad);
    free(c.buf);
    rk_runtime_destroy(rt);
}

/* ---- refusals ---------------------------------------------------------------------------- */

static void refusals(void **unused)
{
    rk_runtime *rt = runtime(2);
    rk_actor_id log = launch_logger(rt, "log"), other = launch_logger(rt, "other");
    rk_actor_id tiny = launch_ex(rt, "tiny", &tiny_type, sizeof(tstate), 0, 0);
    rk_actor_id tiny7 = launch_ex(rt, "tiny7", &tiny_type, sizeof(tstate), 4, 7);
    unsigned char small[64];
    rk_checkpoint_info info;
    size_t len = 0;
    ckpt c, t, t7, sys;
    (void)unused;

    /* Arguments. */
    assert_int_equal(rk_actor_checkpoint(NULL, log, 0, small, sizeof small, &len, NULL), RK_EINVAL);
    assert_int_equal(rk_actor_checkpoint(rt, log, 0, small, sizeof small, NULL, NULL), RK_EINVAL);
    assert_int_equal(rk_actor_checkpoint(rt, log, 0, NULL, 10, &len, NULL), RK_EINVAL);
    assert_int_equal(rk_actor_checkpoint(rt, log, 2, small, sizeof small, &len, NULL), RK_EINVAL);
    assert_int_equal(rk_actor_checkpoint(rt, 99, 0, small, sizeof small, &len, NULL), RK_ENOACTOR);
    assert_int_equal(rk_actor_checkpoint(rt, RK_ACTOR_HOST, 0, small, sizeof small, &len, NULL), RK_ENOACTOR);
    assert_int_equal(rk_actor_restore(rt, log, 0, NULL, 10, NULL), RK_EINVAL);
    assert_int_equal(rk_actor_restore(rt, log, 4, small, sizeof small, NULL), RK_EINVAL);
    assert_int_equal(rk_actor_restore(rt, 99, 0, small, sizeof small, NULL), RK_ENOACTOR);
    assert_int_equal(rk_actor_checkpoint_file(rt, log, 0, NULL, NULL, NULL), RK_EINVAL);
    assert_int_equal(rk_actor_restore_file(rt, log, 0, NULL, NULL, NULL), RK_EINVAL);
    assert_int_equal(rk_actor_checkpoint_forget(rt, 99), RK_ENOACTOR);

    /* No base yet. */
    assert_int_equal(rk_actor_checkpoint(rt, log, RK_ACTOR_CHECKPOINT_DELTA, small, sizeof small, &len, NULL),
                     RK_ESTALE);

    /* Too small a buffer: the size it needs, and nothing used up. */
    assert_int_equal(rk_actor_checkpoint(rt, log, 0, small, sizeof small, &len, NULL), RK_E2BIG);
    assert_true(len > sizeof(lstate));
    assert_int_equal(rk_actor_checkpoint(rt, log, 0, NULL, 0, &len, NULL), RK_E2BIG);
    c = take(rt, log, 0);
    assert_int_equal(c.info.seq, 1);
    assert_int_equal(c.len, len);

    /* Another actor's checkpoint: only with ANY_ACTOR. Another state size:
     * never. */
    assert_int_equal(rk_actor_restore(rt, other, 0, c.buf, c.len, &info), RK_EINVAL);
    assert_int_equal(info.actor, log);
    assert_int_equal(rk_actor_restore(rt, tiny, RK_ACTOR_RESTORE_ANY_ACTOR, c.buf, c.len, NULL), RK_EINVAL);
    t = tiny_checkpoint(tiny, 0, T_LOG);
    assert_int_equal(rk_actor_restore(rt, log, RK_ACTOR_RESTORE_ANY_ACTOR, t.buf, t.len, NULL), RK_EINVAL);
    assert_int_equal(rk_actor_restore(rt, other, RK_ACTOR_RESTORE_ANY_ACTOR, c.buf, c.len, NULL), RK_OK);

    /* Messages of another tenant; more messages than the queue holds. */
    assert_int_equal(rk_actor_restore(rt, tiny7, RK_ACTOR_RESTORE_ANY_ACTOR, t.buf, t.len, NULL), RK_ETENANT);
    t7 = tiny_checkpoint(tiny7, 7, T_LOG);
    assert_int_equal(rk_actor_restore(rt, tiny, RK_ACTOR_RESTORE_ANY_ACTOR, t7.buf, t7.len, NULL), RK_ETENANT);
    {
        /* tiny7's inbox holds 4: 5 messages never fit, 3 do. */
        ckpt t75 = tiny_checkpoint_n(tiny7, 7, T_LOG, 5);
        assert_int_equal(rk_actor_restore(rt, tiny7, 0, t75.buf, t75.len, NULL), RK_EFULL);
        assert_int_equal(tiny_state(rt, tiny7).count, 0);
        assert_int_equal(rk_actor_restore(rt, tiny7, 0, t7.buf, t7.len, NULL), RK_OK);
        wait_msgs_in(rt, tiny7, 1 + 3);
        assert_int_equal(tiny_state(rt, tiny7).count, 5 + 3);
        free(t75.buf);
    }
    /* A system type id: the runtime refuses to queue it. */
    sys = tiny_checkpoint(tiny, 0, RK_MSG_TYPE_SYSTEM + 1);
    assert_int_equal(rk_actor_restore(rt, tiny, 0, sys.buf, sys.len, NULL), RK_EINVAL);
    assert_int_equal(tiny_state(rt, tiny).count, 0);

    /* Failed: checkpoint yes (post mortem), restore no. Terminated: same. */
    assert_int_equal(rk_send(rt, other, T_FAIL, NULL, 0), RK_OK);
    {
        uint64_t end = rk_test_now_ns() + WAIT_LIMIT_NS;
        rk_lifecycle_state s = RK_ACTIVE;
        while (s != RK_FAILED && rk_test_now_ns() < end)
            assert_int_equal(rk_actor_state(rt, other, &s), RK_OK);
        assert_int_equal(s, RK_FAILED);
    }
    free(take(rt, other, 0).buf);
    assert_int_equal(rk_actor_restore(rt, other, RK_ACTOR_RESTORE_ANY_ACTOR, c.buf, c.len, NULL), RK_ESTATE);
    assert_int_equal(rk_terminate(rt, tiny), RK_OK);
    free(take(rt, tiny, 0).buf);
    assert_int_equal(rk_actor_restore(rt, tiny, 0, t.buf, t.len, NULL), RK_ESTATE);

    /* Draining: restore and checkpoint both work, and it stays Draining. */
    assert_int_equal(rk_deactivate(rt, log), RK_OK);
    assert_int_equal(rk_actor_restore(rt, log, 0, c.buf, c.len, NULL), RK_OK);
    free(take(rt, log, RK_ACTOR_CHECKPOINT_DELTA).buf);
    {
        rk_lifecycle_state s;
        assert_int_equal(rk_actor_state(rt, log, &s), RK_OK);
        assert_int_equal(s, RK_DRAINING);
    }

    /* After shutdown. */
    assert_int_equal(rk_runtime_shutdown(rt, NULL), RK_OK);
    assert_int_equal(rk_actor_checkpoint(rt, log, 0, c.buf, c.len, &len, NULL), RK_ESHUTDOWN);
    assert_int_equal(rk_actor_restore(rt, log, 0, c.buf, c.len, NULL), RK_ESHUTDOWN);
    free(c.buf);
    free(t.buf);
    free(t7.buf);
    free(sys.buf);
    rk_runtime_destroy(rt);
}

/* A backend without the op: RK_ENOTSUP, and forget has nothing to do. */
static void backend_without_checkpoints(void **unused)
{
    rk_runtime *rt = runtime(1);
    rk_actor_id id = launch_logger(rt, "log");
    struct rk_backend_ops ops = *rt->ops;
    const struct rk_backend_ops *real = rt->ops;
    unsigned char buf[64];
    size_t len;
    (void)unused;
    ops.snapshot = NULL;
    rt->ops = &ops;
    assert_int_equal(rk_actor_checkpoint(rt, id, 0, buf, sizeof buf, &len, NULL), RK_ENOTSUP);
    assert_int_equal(rk_actor_restore(rt, id, 0, buf, sizeof buf, NULL), RK_ENOTSUP);
    assert_int_equal(rk_actor_checkpoint_file(rt, id, 0, "/nonexistent/x", NULL, NULL), RK_ENOTSUP);
    assert_int_equal(rk_actor_restore_file(rt, id, 0, "/nonexistent/x", NULL, NULL), RK_ENOTSUP);
    assert_int_equal(rk_actor_checkpoint_forget(rt, id), RK_OK);
    rt->ops = real;
    rk_runtime_destroy(rt);
}

/* ---- files -------------------------------------------------------------------------------- */

static void files(void **unused)
{
    rk_runtime *rt = runtime(2);
    rk_actor_id src = launch_logger(rt, "src"), dst = launch_logger(rt, "dst");
    char dir[] = "/tmp/rk-ckpt-XXXXXX", p0[64], p1[64], p2[64], huge[64];
    rk_checkpoint_info i0, i1, i2, got;
    digest d1;
    int err = -1;
    uint64_t seq = 0;
    (void)unused;
    assert_non_null(mkdtemp(dir));
    snprintf(p0, sizeof p0, "%s/c0", dir);
    snprintf(p1, sizeof p1, "%s/c1", dir);
    snprintf(p2, sizeof p2, "%s/c2", dir);
    snprintf(huge, sizeof huge, "%s/huge", dir);

    for (; seq < 50; seq++)
        assert_int_equal(send_log(rt, src, 2, seq), RK_OK);
    wait_msgs_in(rt, src, 50);
    assert_int_equal(rk_actor_checkpoint_file(rt, src, 0, p0, &i0, &err), RK_OK);
    assert_int_equal(err, 0);
    for (; seq < 80; seq++)
        assert_int_equal(send_log(rt, src, 2, seq), RK_OK);
    wait_msgs_in(rt, src, 80);
    d1 = get_digest(rt, src);
    assert_int_equal(rk_actor_checkpoint_file(rt, src, RK_ACTOR_CHECKPOINT_DELTA, p1, &i1, &err), RK_OK);
    assert_int_equal(i1.base_seq, i0.seq);

    /* A write that fails leaves the base where it was. */
    assert_int_equal(rk_actor_checkpoint_file(rt, src, RK_ACTOR_CHECKPOINT_DELTA, "/nonexistent-dir/c", NULL, &err),
                     RK_ENOTFOUND);
    assert_true(err != 0);
    assert_int_equal(rk_actor_checkpoint_file(rt, src, RK_ACTOR_CHECKPOINT_DELTA, p2, &i2, &err), RK_OK);
    assert_int_equal(i2.base_seq, i1.seq);
    assert_int_equal(i2.seq, i1.seq + 1);

    assert_int_equal(rk_actor_restore_file(rt, dst, RK_ACTOR_RESTORE_ANY_ACTOR, p0, &got, &err), RK_OK);
    assert_int_equal(got.seq, i0.seq);
    assert_int_equal(rk_actor_restore_file(rt, dst, RK_ACTOR_RESTORE_ANY_ACTOR, p1, &got, &err), RK_OK);
    assert_int_equal(rk_actor_restore_file(rt, dst, RK_ACTOR_RESTORE_ANY_ACTOR, p2, &got, &err), RK_OK);
    assert_digest_equal(get_digest(rt, dst), d1);

    /* Missing, truncated, and larger than any checkpoint of the actor. */
    assert_int_equal(rk_actor_restore_file(rt, dst, RK_ACTOR_RESTORE_ANY_ACTOR, huge, NULL, &err), RK_ENOTFOUND);
    assert_int_equal(truncate(p0, (off_t)(i0.size / 2)), 0);
    assert_int_equal(rk_actor_restore_file(rt, dst, RK_ACTOR_RESTORE_ANY_ACTOR, p0, NULL, &err), RK_EBADMSG);
    assert_int_equal(truncate(p0, 0), 0);
    assert_int_equal(rk_actor_restore_file(rt, dst, RK_ACTOR_RESTORE_ANY_ACTOR, p0, NULL, &err), RK_EBADMSG);
    {
        FILE *f = fopen(huge, "wb");
        assert_non_null(f);
        assert_int_equal(fseek(f, 2l << 30, SEEK_SET), 0); /* sparse: 2 GiB + 1 */
        assert_int_equal(fputc(0, f), 0);
        assert_int_equal(fclose(f), 0);
    }
    assert_int_equal(rk_actor_restore_file(rt, dst, RK_ACTOR_RESTORE_ANY_ACTOR, huge, NULL, &err), RK_EBADMSG);
    assert_digest_equal(get_digest(rt, dst), d1);

    unlink(p0);
    unlink(p1);
    unlink(p2);
    unlink(huge);
    rmdir(dir);
    rk_runtime_destroy(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(roundtrip_idle),
        cmocka_unit_test(queue_captured),
        cmocka_unit_test(restore_queue_modes),
        cmocka_unit_test(delta_chain),
        cmocka_unit_test(damaged_refused),
        cmocka_unit_test(refusals),
        cmocka_unit_test(backend_without_checkpoints),
        cmocka_unit_test(files),
        cmocka_unit_test(checkpoints_under_traffic),
        cmocka_unit_test(concurrent_checkpoints),
        cmocka_unit_test(restore_under_traffic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
