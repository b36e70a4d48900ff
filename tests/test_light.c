/* Light actors' scheduler (include/ringkernel/light.cuh) on host threads: one thread
 * per home runs the GPU block's loop (rk_light_run_host), sender threads
 * play other blocks. The protocol steps are the ones the GPU runs, with the
 * same memory orders, so TSan checks their ordering here.
 *
 * Cases:
 *   bad_input   bad configs, ids and a full inbox get statuses
 *   leftovers   inboxes filled before any home runs, batch 1: what the batch
 *               limit leaves is found by the give-up's re-read
 *   senders     sender threads to many actors, each message once and in
 *               order per sender; shapes from one home to 4096 actors on 4
 *               homes with 4-slot inboxes
 *   forwarding  tokens passed from actor to actor: through inboxes, and
 *               with the block tier's hand-off or local queue
 *   relays      relays forward numbered messages to sinks of their home
 *               while other threads send to the sinks too: per-source order
 *               holds with hand-offs (or the local queue) and inbox sends
 *               mixed
 *   local_full  a handler's sends to its own home beyond the local queue's
 *               slots get RK_EFULL; the others all run, in order
 *   cluster_full the same for another home's cluster ring (that home held
 *               inside a handler meanwhile)
 *   cluster_drain tokens that only move within their cluster, the stop word
 *               set before the homes start: homes with nothing wait for
 *               their cluster (the shutdown rounds), so no token is left
 *               in a ring of a home that returned; then the same world runs
 *               again from where its rings stand
 *   cluster_halt handlers that never stop sending, halted: every home
 *               returns (with clusters, together with its cluster), and
 *               each message is run, dropped by a halted home or left in
 *               an inbox, exactly once in the counts
 * The relays case runs a fourth time with clusters: relays forward to a
 * sink of the other home of their cluster; and a fifth with clusters and
 * stealing, where a ring message whose sink runs on another home (or has
 * messages waiting) moves into the sink's inbox, order kept.
 *   stealing    all messages to actors of home 0: with stealing on, other
 *               homes run them (home 0 holds its first handler until one
 *               has), in order per sender; with it off, none do; with
 *               clusters of 2, only home 0's cluster neighbour does
 *   pingpong    two actors hand a message back and forth for ever on one
 *               home while a thread sends to a third: the limit of `batch`
 *               hand-offs (or local messages) in a row lets the third run
 *   port        host threads send through the host's port (a forwarder
 *               thread hands the messages on), every actor echoes to the
 *               host: each echo once and intact, in order per (sender,
 *               actor) without stealing; also with stealing on
 *   port_refusals a bad id, a full port, a full inbox (the forwarder stops
 *               there, in order), a receiver the world lacks (counted), a
 *               full ring to the host, no port
 * RK_STRESS_MESSAGES sets the messages per case (default 200 000). */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Direct senders of the relays case stop between claim and publish now
 * and then, so that sinks often go IDLE with a message waiting behind a
 * claimed slot: the state in which a hand-off would overtake. */
#include <stdint.h>
static void lt_claimed(uint32_t src);
#define RK_LIGHT_CLAIMED(src) lt_claimed(src)
#include "light_cases.h"
#include "rk_test.h"

#define LT_MAX_HOMES 8
#define LT_LIMIT_NS (60ull * 1000000000ull)

typedef struct lt lt;
typedef void (*lt_handler)(lt *t, rk_light_ctx *c, const rk_light_msg *m);

/* A world on host threads and what its handlers check. */
struct lt {
    rk_light_world *w;
    volatile uint32_t stop;
    pthread_t home[LT_MAX_HOMES];
    uint32_t homes;
    lt_handler fn;
    uint64_t sources;  /* rows of `next` per actor */
    uint64_t *next;    /* [actors * sources]: the number expected next */
    atomic_ullong ok;  /* messages intact and in order */
    atomic_ullong bad; /* messages that were not */
    atomic_ullong full; /* handler sends refused with RK_EFULL */
    atomic_ullong *got; /* per source, messages the sinks took (relays) */
    uint64_t hops;     /* forwarding: hops per token */
    atomic_ullong tokens_done;
    uint32_t relays;   /* relays: actors [0, relays) relay to a sink */
    atomic_int elsewhere; /* stealing: a home other than 0 ran a message */
    atomic_int rally_on;  /* pingpong: actors 0 and 1 keep passing the ball */
    atomic_ullong hits;   /* pingpong: passes so far */
    atomic_int held;      /* stealing: home 0 held its first handler */
    atomic_int fanned;    /* cluster_full: the fan-out is over */
    uint32_t shift;       /* relays: 1 sends to a sink of the next home (of the cluster) */
    atomic_int *inside;   /* per actor: a handler of it runs (one at a time, or `bad`) */
    int linger;           /* handlers yield the CPU once, so that a second runner would overlap */
};

/* Runs the case's handler, and checks that no other home runs one of the
 * same actor meanwhile (its token, or its home alone, says who may). */
static void lt_dispatch(rk_light_ctx *c, const rk_light_msg *m, void *user)
{
    lt *t = user;
    if (atomic_exchange(&t->inside[c->self], 1) != 0)
        atomic_fetch_add(&t->bad, 1);
    t->fn(t, c, m);
    if (t->linger)
        sched_yield();
    atomic_store(&t->inside[c->self], 0);
}

typedef struct lt_home_arg {
    lt *t;
    uint32_t h;
} lt_home_arg;

static lt_home_arg lt_args[LT_MAX_HOMES];

static void *lt_run_home(void *arg)
{
    lt_home_arg *a = arg;
    rk_light_run_host(a->t->w, a->h, lt_dispatch, a->t, NULL);
    return NULL;
}

/* A world for `c`, its homes not yet running. */
static void lt_init(lt *t, const rk_light_config *c, uint64_t sources, lt_handler fn)
{
    rk_light_layout l = rk_light_world_layout(c);
    memset(t, 0, sizeof *t);
    assert_true(l.bytes > 0 && c->homes <= LT_MAX_HOMES);
    t->w = aligned_alloc(128, (l.bytes + 127) & ~(size_t)127);
    assert_non_null(t->w);
    assert_int_equal(rk_light_world_init(t->w, t->w, c, &t->stop), RK_OK);
    t->homes = c->homes;
    t->fn = fn;
    t->sources = sources;
    t->next = calloc((size_t)c->actors * sources, sizeof *t->next);
    t->inside = calloc(c->actors, sizeof *t->inside);
    assert_non_null(t->next);
    assert_non_null(t->inside);
}

static void lt_start(lt *t)
{
    for (uint32_t h = 0; h < t->homes; h++) {
        lt_args[h] = (lt_home_arg){t, h};
        assert_int_equal(pthread_create(&t->home[h], NULL, lt_run_home, &lt_args[h]), 0);
    }
}

/* Stops the homes (each returns once it has nothing) and joins them. */
static void lt_stop(lt *t)
{
    __atomic_store_n((uint32_t *)&t->stop, 1, __ATOMIC_RELAXED);
    for (uint32_t h = 0; h < t->homes; h++)
        pthread_join(t->home[h], NULL);
}

/* Waits until the handlers took `want` messages (good or bad) or `LT_LIMIT_NS`
 * passed; then stops the homes. On a timeout, prints where messages wait. */
static void lt_finish(lt *t, uint64_t want)
{
    uint64_t end = rk_test_now_ns() + LT_LIMIT_NS;
    while (atomic_load(&t->ok) + atomic_load(&t->bad) < want && rk_test_now_ns() < end)
        rk_test_sleep_ns(200000);
    lt_stop(t);
    if (atomic_load(&t->ok) + atomic_load(&t->bad) < want) {
        fprintf(stderr, "stalled: %llu of %llu messages taken\n",
                (unsigned long long)(atomic_load(&t->ok) + atomic_load(&t->bad)), (unsigned long long)want);
        rk_light_world_report(t->w, t->w, stderr, 16);
        fail();
    }
}

/* After lt_finish: every token IDLE, every inbox and run queue empty. */
static void lt_check_quiet(lt *t)
{
    rk_light_world *w = t->w;
    for (uint32_t a = 0; a < w->cfg.actors; a++) {
        assert_int_equal(w->actor[a].sched, RK_LIGHT_IDLE);
        assert_int_equal(w->actor[a].tail, w->actor[a].head);
    }
    for (uint32_t h = 0; h < w->cfg.homes; h++)
        assert_int_equal(w->home[h].tail, w->home[h].head);
}

static void lt_free(lt *t)
{
    free(t->next);
    free(t->inside);
    free(t->got);
    free(t->w);
}

/* A sink: checks each message against its row. */
static void lt_sink(lt *t, rk_light_ctx *c, const rk_light_msg *m)
{
    if (lc_take(m, &t->next[(size_t)c->self * t->sources], t->sources) == 0)
        atomic_fetch_add_explicit(&t->ok, 1, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&t->bad, 1, memory_order_relaxed);
}

/* Sends until the inbox takes it; a sender thread may wait, a handler
 * may not. */
static void lt_send_wait(rk_light_world *w, uint32_t src, uint32_t dst, const uint64_t *words)
{
    rk_status st;
    while ((st = rk_light_send(w, src, dst, 0, words)) == RK_EFULL)
        sched_yield();
    assert_int_equal(st, RK_OK);
}

/* ---- bad_input ------------------------------------------------------------------------- */

static void bad_input(void **state)
{
    (void)state;
    rk_light_config good = {8, 2, 4, 2, 0, 0, 0}, c;
    volatile uint32_t stop = 0;
    static _Alignas(128) unsigned char buf[1 << 16]; /* room for `good`, were a check missed */
    const rk_light_config bad[] = {
        {0, 1, 4, 1, 0, 0, 0}, /* no actors */
        {8, 0, 4, 1, 0, 0, 0}, /* no homes */
        {2, 4, 4, 1, 0, 0, 0}, /* more homes than actors */
        {8, 2, 6, 1, 0, 0, 0}, /* inbox not a power of two */
        {8, 2, 1, 1, 0, 0, 0}, /* inbox of one slot */
        {8, 2, 4, 0, 0, 0, 0}, /* batch 0 */
        {8, 2, 4, 1, 3, 0, 0}, /* no such block tier */
        {8, 2, 4, 1, RK_LIGHT_LOCAL, 1, 0}, /* local queues with stealing */
        {8, 4, 4, 1, 0, 0, 1},              /* a cluster of one */
        {8, 4, 4, 1, 0, 0, 3},              /* homes not a multiple of the cluster */
        {8, 4, 4, 1, RK_LIGHT_LOCAL, 1, 2}, /* local queues with stealing, in clusters */
        {64, 32, 4, 1, 0, 0, 32},           /* a cluster of more than 16 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c = bad[i];
        assert_int_equal(rk_light_world_layout(&c).bytes, 0);
        assert_int_equal(rk_light_world_init(buf, buf, &c, &stop), RK_EINVAL);
    }
    /* Stealing in clusters is allowed (within each cluster). */
    c = (rk_light_config){8, 4, 4, 1, 0, 1, 2};
    assert_true(rk_light_world_layout(&c).bytes > 0);
    assert_int_equal(rk_light_world_layout(NULL).bytes, 0);
    assert_int_equal(rk_light_world_init(NULL, buf, &good, &stop), RK_EINVAL);
    assert_int_equal(rk_light_world_init(buf, buf, &good, NULL), RK_EINVAL);

    lt t;
    uint64_t words[RK_LIGHT_WORDS];
    lt_init(&t, &good, 1, lt_sink);
    lc_words(words, 0, 0);
    assert_int_equal(rk_light_send(t.w, 0, 8, 0, words), RK_EINVAL);
    assert_int_equal(rk_light_send(NULL, 0, 0, 0, words), RK_EINVAL);
    /* Four slots: the fifth send is refused, and nothing was written for it. */
    for (uint64_t n = 0; n < 4; n++) {
        lc_words(words, 0, n);
        assert_int_equal(rk_light_send(t.w, 0, 3, 0, words), RK_OK);
    }
    lc_words(words, 0, 4);
    assert_int_equal(rk_light_send(t.w, 0, 3, 0, words), RK_EFULL);
    assert_int_equal(t.w->actor[3].tail, 4);
    assert_int_equal(t.w->actor[3].sched, RK_LIGHT_QUEUED);
    lt_start(&t);
    lt_finish(&t, 4);
    assert_int_equal(atomic_load(&t.ok), 4);
    assert_int_equal(t.next[3], 4);
    lt_check_quiet(&t);
    lt_free(&t);
}

/* ---- leftovers ------------------------------------------------------------------------- */

static void leftovers(void **state)
{
    (void)state;
    rk_light_config c = {64, 4, 8, 1, 0, 0, 0};
    uint64_t words[RK_LIGHT_WORDS];
    lt t;
    lt_init(&t, &c, 1, lt_sink);
    for (uint64_t n = 0; n < 8; n++)
        for (uint32_t a = 0; a < c.actors; a++) {
            lc_words(words, 0, n);
            assert_int_equal(rk_light_send(t.w, 0, a, 0, words), RK_OK);
        }
    lt_start(&t);
    lt_finish(&t, 8 * c.actors);
    assert_int_equal(atomic_load(&t.bad), 0);
    for (uint32_t a = 0; a < c.actors; a++) {
        assert_int_equal(t.next[a], 8);
        assert_int_equal(t.w->actor[a].handled, 8);
    }
    lt_check_quiet(&t);
    lt_free(&t);
}

/* ---- senders --------------------------------------------------------------------------- */

typedef struct lt_sender {
    lt *t;
    uint32_t src;
    uint64_t n;
    uint64_t *sent; /* [actors]: the next number to each */
    pthread_t th;
} lt_sender;

/* Sends n messages to actors picked by a generator of its own, numbered
 * per receiver. */
static void *lt_sender_main(void *arg)
{
    lt_sender *s = arg;
    rk_light_world *w = s->t->w;
    uint64_t x = 0x2545f4914f6cdd1dull * (s->src + 1), words[RK_LIGHT_WORDS];
    for (uint64_t i = 0; i < s->n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint32_t dst = (uint32_t)(x % w->cfg.actors);
        lc_words(words, s->src, s->sent[dst]++);
        lt_send_wait(w, s->src, dst, words);
    }
    return NULL;
}

static void run_senders(const rk_light_config *c, uint32_t senders, uint64_t total)
{
    lt t;
    lt_sender s[8];
    uint64_t each = total / senders;
    lt_init(&t, c, senders, lt_sink);
    lt_start(&t);
    for (uint32_t i = 0; i < senders; i++) {
        s[i] = (lt_sender){&t, i, each, calloc(c->actors, sizeof(uint64_t)), 0};
        assert_non_null(s[i].sent);
        assert_int_equal(pthread_create(&s[i].th, NULL, lt_sender_main, &s[i]), 0);
    }
    for (uint32_t i = 0; i < senders; i++)
        pthread_join(s[i].th, NULL);
    lt_finish(&t, each * senders);
    assert_int_equal(atomic_load(&t.bad), 0);
    assert_int_equal(atomic_load(&t.ok), each * senders);
    for (uint32_t i = 0; i < senders; i++) {
        for (uint32_t a = 0; a < c->actors; a++)
            assert_int_equal(t.next[(size_t)a * senders + i], s[i].sent[a]);
        free(s[i].sent);
    }
    lt_check_quiet(&t);
    lt_free(&t);
}

static void senders(void **state)
{
    (void)state;
    uint64_t total = rk_test_messages(200000);
    const rk_light_config shapes[] = {
        {64, 1, 16, 4, 0, 0, 0},  /* one home, 64 actors */
        {256, 4, 4, 1, 0, 0, 0},  /* 4 homes, batch 1: every message a give-up */
        {4096, 4, 4, 8, 0, 0, 0}, /* the shape that stalled on the GPU: small inboxes, many actors */
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        run_senders(&shapes[i], 4, total / 3);
}

/* ---- forwarding ------------------------------------------------------------------------ */

/* A token: w[0] its number, w[1] its hops, w[2] the checksum of both. Each
 * handler checks it and counts it; until t->hops it goes on to the actor
 * that `next` picks. */
static void lt_token(lt *t, rk_light_ctx *c, const rk_light_msg *m, uint32_t (*next)(const rk_light_ctx *, uint64_t))
{
    uint64_t tok = m->w[0], hops = m->w[1], words[RK_LIGHT_WORDS];
    if (m->w[2] != lc_sum(tok, hops)) {
        atomic_fetch_add(&t->bad, 1);
        return;
    }
    atomic_fetch_add_explicit(&t->ok, 1, memory_order_relaxed);
    if (hops == t->hops) {
        atomic_fetch_add(&t->tokens_done, 1);
        return;
    }
    lc_words(words, tok, hops + 1);
    if (rk_light_ctx_send(c, next(c, hops), 0, words) != RK_OK)
        atomic_fetch_add(&t->full, 1);
}

/* forwarding: an actor of the same home two hops of three (a hand-off when
 * that one is idle), else the next actor (another home). */
static uint32_t lt_forward_next(const rk_light_ctx *c, uint64_t hops)
{
    uint32_t n = c->w->cfg.actors, h = c->w->cfg.homes;
    return hops % 3 ? (c->self + h) % n : (c->self + 1) % n;
}

static void lt_forward(lt *t, rk_light_ctx *c, const rk_light_msg *m)
{
    lt_token(t, c, m, lt_forward_next);
}

static const char *lt_tier(uint32_t handoff)
{
    return handoff == RK_LIGHT_LOCAL ? "local queue" : handoff == RK_LIGHT_TOKEN ? "hand-off" : "inboxes";
}

static void run_forwarding(uint32_t handoff, uint64_t total)
{
    rk_light_config c = {64, 4, 16, 4, handoff, 0, 0};
    const uint32_t tokens = 16;
    uint64_t words[RK_LIGHT_WORDS], handoffs = 0, handled = 0, locals = 0;
    lt t;
    lt_init(&t, &c, 1, lt_forward);
    t.hops = total / tokens;
    for (uint32_t k = 0; k < tokens; k++) {
        lc_words(words, k, 0);
        assert_int_equal(rk_light_send(t.w, RK_LIGHT_NONE, k * 4, 0, words), RK_OK);
    }
    lt_start(&t);
    lt_finish(&t, tokens * (t.hops + 1));
    assert_int_equal(atomic_load(&t.bad), 0);
    assert_int_equal(atomic_load(&t.full), 0);
    assert_int_equal(atomic_load(&t.tokens_done), tokens);
    for (uint32_t h = 0; h < c.homes; h++) {
        handoffs += t.w->home[h].handoffs;
        locals += t.w->home[h].locals;
    }
    for (uint32_t a = 0; a < c.actors; a++)
        handled += t.w->actor[a].handled;
    /* Two hops of three stay on their home: the local queue takes them. */
    assert_int_equal(handled + locals, tokens * (t.hops + 1));
    assert_true(handoff == RK_LIGHT_TOKEN ? handoffs > 0 : handoffs == 0);
    assert_true(handoff == RK_LIGHT_LOCAL ? locals >= tokens * t.hops / 2 : locals == 0);
    printf("forwarding, %s: %llu hops, %llu handed over, %llu local\n", lt_tier(handoff),
           (unsigned long long)(handled + locals), (unsigned long long)handoffs, (unsigned long long)locals);
    lt_check_quiet(&t);
    lt_free(&t);
}

static void forwarding(void **state)
{
    (void)state;
    uint64_t total = rk_test_messages(200000);
    run_forwarding(0, total / 3);
    run_forwarding(RK_LIGHT_TOKEN, total / 3);
    run_forwarding(RK_LIGHT_LOCAL, total / 3);
}

/* ---- relays ---------------------------------------------------------------------------- */

/* Actors [0, relays) are relays, the rest sinks; relay r forwards to a sink
 * of its own home (a hand-off when the sink is idle with an empty inbox),
 * renumbered as source r. Direct senders feed the sinks as sources
 * relays + i, so sinks are often busy and the relays' sends take the inbox
 * path too. Sources hold at most LT_WINDOW messages unanswered, so no
 * inbox is ever full (see run_relays for the count). */
#define LT_WINDOW 4
#define LT_RELAYS 8
#define LT_DIRECT 2

static _Atomic uint32_t lt_stall_from = RK_LIGHT_NONE; /* sources at or above it stall */

static void lt_claimed(uint32_t src)
{
    static _Thread_local uint32_t n;
    if (src >= atomic_load_explicit(&lt_stall_from, memory_order_relaxed) && ++n % 8 == 0)
        rk_test_sleep_ns(20000);
}

static void lt_relay(lt *t, rk_light_ctx *c, const rk_light_msg *m)
{
    uint64_t src = m->w[0], words[RK_LIGHT_WORDS];
    uint32_t homes = c->w->cfg.homes;
    lt_sink(t, c, m); /* a relay's one source is its feeder, as source `self` */
    if (c->self >= t->relays) {
        if (src < t->sources)
            atomic_fetch_add_explicit(&t->got[src], 1, memory_order_release);
        return;
    }
    lc_words(words, c->self, m->w[1]);
    uint32_t sink = t->relays + ((c->self + t->shift) % homes) + homes * ((c->self / homes) % 2);
    if (rk_light_ctx_send(c, sink, 0, words) != RK_OK)
        atomic_fetch_add(&t->full, 1);
}

typedef struct lt_feeder {
    lt *t;
    uint32_t first, count; /* sources first .. first+count-1 */
    uint64_t n;            /* messages per source */
    pthread_t th;
} lt_feeder;

/* The sink source s feeds: relays feed their own sink, direct source i
 * sinks in turn. */
static uint32_t lt_target(lt *t, uint32_t s, uint64_t k)
{
    uint32_t sinks = t->w->cfg.actors - t->relays;
    if (s < t->relays)
        return s;
    return t->relays + (uint32_t)((s + k) % sinks);
}

static void *lt_feeder_main(void *arg)
{
    lt_feeder *f = arg;
    lt *t = f->t;
    uint64_t words[RK_LIGHT_WORDS];
    uint64_t sent[LT_RELAYS + LT_DIRECT] = {0};
    uint64_t *per_sink = calloc((size_t)t->sources * t->w->cfg.actors, sizeof(uint64_t));
    uint64_t end = rk_test_now_ns() + LT_LIMIT_NS;
    assert_non_null(per_sink);
    for (uint64_t k = 0; k < f->n; k++)
        for (uint32_t s = f->first; s < f->first + f->count; s++) {
            while (sent[s] - atomic_load_explicit(&t->got[s], memory_order_acquire) >= LT_WINDOW &&
                   rk_test_now_ns() < end)
                sched_yield();
            uint32_t dst = lt_target(t, s, k);
            lc_words(words, s, per_sink[(size_t)s * t->w->cfg.actors + dst]++);
            lt_send_wait(t->w, s, dst, words);
            sent[s]++;
        }
    free(per_sink);
    return NULL;
}

static void run_relays(uint32_t handoff, uint32_t cluster, uint32_t steal, uint64_t total)
{
    /* 2 homes; relays 0..7, sinks 8..11 (two per home). A sink has 32
     * slots: two relays and the two direct sources hold 4 messages each
     * unanswered, and a source counts its message answered when the sink's
     * handler runs, one message before the sink frees its slot (with 16
     * slots a relay's send could find the inbox full: CI, ASan, 2 cores). */
    rk_light_config c = {LT_RELAYS + 4, 2, 32, steal ? 1 : 4, handoff, steal, cluster};
    const uint32_t sources = LT_RELAYS + LT_DIRECT;
    uint64_t per_source = total / (2 * LT_RELAYS + LT_DIRECT), handoffs = 0, locals = 0, clustered = 0, moved = 0,
             steals = 0;
    lt_feeder f[2];
    lt t;
    lt_init(&t, &c, sources, lt_relay);
    t.relays = LT_RELAYS;
    t.shift = cluster ? 1 : 0;
    t.linger = (int)steal;
    t.got = calloc(sources, sizeof *t.got);
    assert_non_null(t.got);
    atomic_store(&lt_stall_from, LT_RELAYS);
    lt_start(&t);
    f[0] = (lt_feeder){&t, 0, LT_RELAYS, per_source, 0};
    f[1] = (lt_feeder){&t, LT_RELAYS, LT_DIRECT, per_source, 0};
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&f[i].th, NULL, lt_feeder_main, &f[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(f[i].th, NULL);
    /* Relays take their message once and the sink once more. */
    lt_finish(&t, per_source * (2 * LT_RELAYS + LT_DIRECT));
    atomic_store(&lt_stall_from, RK_LIGHT_NONE);
    assert_int_equal(atomic_load(&t.bad), 0);
    assert_int_equal(atomic_load(&t.full), 0);
    for (uint32_t s = 0; s < sources; s++)
        assert_int_equal(atomic_load(&t.got[s]), per_source);
    for (uint32_t h = 0; h < c.homes; h++) {
        handoffs += t.w->home[h].handoffs;
        locals += t.w->home[h].locals;
        clustered += t.w->home[h].clustered;
        moved += t.w->home[h].moved;
        steals += t.w->home[h].steals;
    }
    if (handoff == RK_LIGHT_TOKEN)
        assert_true(handoffs > 0);
    /* Every relay's send stays on its home, or with a cluster goes to the
     * other home's ring; with stealing, a ring message whose receiver ran
     * elsewhere or had messages waiting moved into its inbox instead. */
    assert_int_equal(locals, handoff == RK_LIGHT_LOCAL && !cluster ? per_source * LT_RELAYS : 0);
    assert_int_equal(clustered + moved, cluster ? per_source * LT_RELAYS : 0);
    if (!steal)
        assert_int_equal(moved, 0);
    printf("relays, %s%s%s: %llu handed over, %llu local, %llu run from cluster rings, %llu moved to inboxes, %llu "
           "runs stolen\n",
           lt_tier(handoff), cluster ? ", to the other home of the cluster" : "", steal ? ", stealing" : "",
           (unsigned long long)handoffs, (unsigned long long)locals, (unsigned long long)clustered,
           (unsigned long long)moved, (unsigned long long)steals);
    lt_check_quiet(&t);
    lt_free(&t);
}

static void relays(void **state)
{
    (void)state;
    uint64_t total = rk_test_messages(200000);
    run_relays(0, 0, 0, total / 5);
    run_relays(RK_LIGHT_TOKEN, 0, 0, total / 5);
    run_relays(RK_LIGHT_LOCAL, 0, 0, total / 5);
    run_relays(RK_LIGHT_LOCAL, 2, 0, total / 5);
    run_relays(0, 2, 1, total / 5);
    run_relays(0, 2, 1, total / 5);
}

/* ---- stealing ------------------------------------------------------------------------- */

/* A sink that notes where it ran; home 0's first handler waits (5 s at
 * most) until another home has run a message, which only a steal can do. */
static void lt_skewed(lt *t, rk_light_ctx *c, const rk_light_msg *m)
{
    if (c->home != 0)
        atomic_store(&t->elsewhere, 1);
    else if (c->w->cfg.steal && !atomic_exchange(&t->held, 1)) {
        uint64_t end = rk_test_now_ns() + 5000000000ull;
        while (!atomic_load(&t->elsewhere) && rk_test_now_ns() < end)
            rk_test_sleep_ns(100000);
    }
    lt_sink(t, c, m);
}

/* Sends n messages to each of home 0's actors, numbered, as source 0. */
typedef struct lt_skew_feeder {
    lt *t;
    uint64_t n;
    pthread_t th;
} lt_skew_feeder;

static void *lt_skew_main(void *arg)
{
    lt_skew_feeder *f = arg;
    rk_light_world *w = f->t->w;
    uint64_t words[RK_LIGHT_WORDS];
    for (uint64_t k = 0; k < f->n; k++)
        for (uint32_t a = 0; a < w->cfg.actors; a += w->cfg.homes) {
            lc_words(words, 0, k);
            lt_send_wait(w, 0, a, words);
        }
    return NULL;
}

static void run_stealing(uint32_t steal, uint32_t cluster, uint64_t total)
{
    rk_light_config c = {64, 4, 16, 4, 0, steal, cluster};
    lt_skew_feeder f;
    uint64_t steals = 0, runs_elsewhere = 0;
    lt t;
    lt_init(&t, &c, 1, lt_skewed);
    lt_start(&t);
    f = (lt_skew_feeder){&t, total / 16, 0};
    assert_int_equal(pthread_create(&f.th, NULL, lt_skew_main, &f), 0);
    pthread_join(f.th, NULL);
    lt_finish(&t, f.n * 16);
    assert_int_equal(atomic_load(&t.bad), 0);
    for (uint32_t a = 0; a < c.actors; a++)
        assert_int_equal(t.next[a], a % c.homes ? 0 : f.n);
    for (uint32_t h = 0; h < c.homes; h++) {
        steals += t.w->home[h].steals;
        if (h)
            runs_elsewhere += t.w->home[h].runs;
    }
    printf("stealing %s%s: %llu runs stolen of %llu\n", steal ? "on" : "off", cluster ? ", clusters of 2" : "",
           (unsigned long long)steals, (unsigned long long)(t.w->home[0].runs + runs_elsewhere));
    if (steal) {
        assert_true(steals > 0);
        assert_true(atomic_load(&t.elsewhere));
        /* With clusters, only the homes of home 0's cluster steal from it. */
        for (uint32_t h = cluster ? cluster : c.homes; h < c.homes; h++)
            assert_int_equal(t.w->home[h].runs, 0);
    } else {
        assert_int_equal(steals, 0);
        assert_int_equal(runs_elsewhere, 0);
    }
    lt_check_quiet(&t);
    lt_free(&t);
}

static void stealing(void **state)
{
    (void)state;
    uint64_t total = rk_test_messages(200000);
    run_stealing(0, 0, total / 3);
    run_stealing(1, 0, total / 3);
    run_stealing(1, 2, total / 3);
}

/* ---- pingpong ------------------------------------------------------------------------- */

/* Actors 0 and 1 pass a ball while rally_on; the others are sinks. */
static void lt_rally(lt *t, rk_light_ctx *c, const rk_light_msg *m)
{
    uint64_t words[RK_LIGHT_WORDS];
    if (c->self > 1) {
        lt_sink(t, c, m);
        return;
    }
    atomic_fetch_add_explicit(&t->hits, 1, memory_order_relaxed);
    if (!atomic_load_explicit(&t->rally_on, memory_order_relaxed))
        return;
    lc_words(words, 0, 0);
    if (rk_light_ctx_send(c, c->self ^ 1, 0, words) != RK_OK)
        atomic_fetch_add(&t->full, 1);
}

static void run_pingpong(uint32_t handoff, uint64_t n)
{
    rk_light_config c = {3, 1, 4, 4, handoff, 0, 0};
    uint64_t words[RK_LIGHT_WORDS], end, passed;
    lt t;
    lt_init(&t, &c, 1, lt_rally);
    atomic_store(&t.rally_on, 1);
    lc_words(words, 0, 0);
    assert_int_equal(rk_light_send(t.w, RK_LIGHT_NONE, 0, 0, words), RK_OK);
    lt_start(&t);
    /* The ball is in play before the third actor's messages come. */
    end = rk_test_now_ns() + LT_LIMIT_NS;
    while (atomic_load(&t.hits) < 1000 && rk_test_now_ns() < end)
        rk_test_sleep_ns(100000);
    assert_true(atomic_load(&t.hits) >= 1000);
    end = rk_test_now_ns() + LT_LIMIT_NS;
    for (uint64_t k = 0; k < n; k++) {
        rk_status st;
        lc_words(words, 0, k);
        while ((st = rk_light_send(t.w, 0, 2, 0, words)) == RK_EFULL && rk_test_now_ns() < end)
            sched_yield();
        if (st != RK_OK) {
            fprintf(stderr, "pingpong: the third actor's inbox stayed full (message %llu)\n", (unsigned long long)k);
            atomic_store(&t.rally_on, 0);
            lt_stop(&t);
            fail();
        }
    }
    /* Every message to actor 2 runs while the rally goes on. */
    end = rk_test_now_ns() + LT_LIMIT_NS;
    while (atomic_load(&t.ok) + atomic_load(&t.bad) < n && rk_test_now_ns() < end)
        rk_test_sleep_ns(200000);
    uint64_t during = atomic_load(&t.ok);
    atomic_store(&t.rally_on, 0);
    lt_finish(&t, n);
    passed = handoff == RK_LIGHT_LOCAL ? t.w->home[0].locals : t.w->home[0].handoffs;
    printf("pingpong, %s: %llu passes, %llu handed over or local; %llu of %llu messages to the third ran during "
           "the rally\n",
           lt_tier(handoff), (unsigned long long)atomic_load(&t.hits), (unsigned long long)passed,
           (unsigned long long)during, (unsigned long long)n);
    assert_int_equal(during, n);
    assert_int_equal(atomic_load(&t.bad), 0);
    assert_int_equal(atomic_load(&t.full), 0);
    assert_true(passed > 0);
    lt_check_quiet(&t);
    lt_free(&t);
}

static void pingpong(void **state)
{
    (void)state;
    uint64_t n = rk_test_messages(200000) / 20;
    run_pingpong(RK_LIGHT_TOKEN, n);
    run_pingpong(RK_LIGHT_LOCAL, n);
}

/* ---- local_full ----------------------------------------------------------------------- */

/* Actor 0, on each of its messages (a round), sends 2 * RK_LIGHT_LOCAL_SLOTS
 * numbered messages to the other actors of its home (one home) in turn.
 * The queue holds RK_LIGHT_LOCAL_SLOTS: the rest are refused, and a
 * refused send takes no number, so each receiver must see its numbers
 * dense and in order. */
#define LT_FAN (2 * RK_LIGHT_LOCAL_SLOTS)

typedef struct lt_fan_counts {
    uint64_t sent, refused, other;
    uint64_t per[LT_FAN + 1]; /* the next number to each receiver */
} lt_fan_counts;

static lt_fan_counts lt_fan_seen;

/* One numbered send of a fan-out, counted by its status; a refused send
 * takes no number. */
static void lt_fan_send(rk_light_ctx *c, uint32_t dst)
{
    uint64_t words[RK_LIGHT_WORDS];
    rk_status st;
    lc_words(words, 0, lt_fan_seen.per[dst]);
    st = rk_light_ctx_send(c, dst, 0, words);
    if (st == RK_OK) {
        lt_fan_seen.per[dst]++;
        lt_fan_seen.sent++;
    } else if (st == RK_EFULL) {
        lt_fan_seen.refused++;
    } else {
        lt_fan_seen.other++;
    }
}

static void lt_fan(lt *t, rk_light_ctx *c, const rk_light_msg *m)
{
    if (c->self != 0) {
        lt_sink(t, c, m);
        return;
    }
    atomic_fetch_add_explicit(&t->hits, 1, memory_order_relaxed);
    for (uint32_t i = 0; i < LT_FAN; i++) {
        uint32_t dst = 1 + i % (c->w->cfg.actors - 1);
        lt_fan_send(c, dst);
    }
}

static void local_full(void **state)
{
    (void)state;
    rk_light_config c = {LT_FAN + 1, 1, 4, 2, RK_LIGHT_LOCAL, 0, 0};
    const uint64_t rounds = 8;
    uint64_t words[RK_LIGHT_WORDS], got = 0;
    lt t;
    memset(&lt_fan_seen, 0, sizeof lt_fan_seen);
    lt_init(&t, &c, 1, lt_fan);
    for (uint64_t k = 0; k < 4; k++) { /* four rounds queued before the home runs */
        lc_words(words, 0, k);
        assert_int_equal(rk_light_send(t.w, RK_LIGHT_NONE, 0, 0, words), RK_OK);
    }
    lt_start(&t);
    for (uint64_t k = 4; k < rounds; k++) {
        lc_words(words, 0, k);
        lt_send_wait(t.w, RK_LIGHT_NONE, 0, words);
    }
    /* Each round sends what the queue has room for (between rounds the home
     * runs `batch` local messages, then actor 0's next inbox message). */
    uint64_t end = rk_test_now_ns() + LT_LIMIT_NS;
    while (atomic_load(&t.hits) < rounds && rk_test_now_ns() < end)
        rk_test_sleep_ns(100000);
    /* The home returns once its local queue is empty too; the handlers'
     * counts are its thread's, final once it is joined. */
    lt_stop(&t);
    assert_int_equal(atomic_load(&t.hits), rounds);
    assert_int_equal(atomic_load(&t.ok), lt_fan_seen.sent);
    assert_int_equal(lt_fan_seen.other, 0);
    assert_int_equal(lt_fan_seen.sent + lt_fan_seen.refused, rounds * LT_FAN);
    assert_true(lt_fan_seen.refused >= LT_FAN - RK_LIGHT_LOCAL_SLOTS); /* the first round at least */
    assert_true(lt_fan_seen.sent >= RK_LIGHT_LOCAL_SLOTS);
    assert_int_equal(atomic_load(&t.bad), 0);
    for (uint32_t a = 1; a < c.actors; a++) {
        assert_int_equal(t.next[a], lt_fan_seen.per[a]);
        got += t.next[a];
    }
    assert_int_equal(got, lt_fan_seen.sent);
    assert_int_equal(t.w->home[0].locals, lt_fan_seen.sent);
    printf("local_full: %llu sent, %llu refused with RK_EFULL over %llu rounds\n",
           (unsigned long long)lt_fan_seen.sent, (unsigned long long)lt_fan_seen.refused,
           (unsigned long long)rounds);
    lt_check_quiet(&t);
    lt_free(&t);
}

/* ---- cluster_full --------------------------------------------------------------------- */

/* Actor 1 (home 1) holds its home in its first handler until the fan-out
 * is over; actor 0 (home 0), on its message, sends 2 * RK_LIGHT_CLUSTER_SLOTS
 * numbered messages to the other actors of home 1, the other home of its
 * cluster. Exactly RK_LIGHT_CLUSTER_SLOTS fit. */
#define LT_CFAN (2 * RK_LIGHT_CLUSTER_SLOTS)

static void lt_cfan(lt *t, rk_light_ctx *c, const rk_light_msg *m)
{
    if (c->self == 1 && !atomic_exchange(&t->held, 1)) {
        uint64_t end = rk_test_now_ns() + LT_LIMIT_NS;
        while (!atomic_load(&t->fanned) && rk_test_now_ns() < end)
            rk_test_sleep_ns(100000);
        return;
    }
    if (c->self != 0) {
        lt_sink(t, c, m);
        return;
    }
    for (uint32_t i = 0; i < LT_CFAN; i++) {
        uint32_t dst = 3 + 2 * (i % 8); /* actors 3, 5, .., 17 of home 1 */
        lt_fan_send(c, dst);
    }
    atomic_store(&t->fanned, 1);
}

static void cluster_full(void **state)
{
    (void)state;
    rk_light_config c = {18, 2, 4, 4, RK_LIGHT_LOCAL, 0, 2};
    uint64_t words[RK_LIGHT_WORDS], end, got = 0;
    lt t;
    memset(&lt_fan_seen, 0, sizeof lt_fan_seen);
    lt_init(&t, &c, 1, lt_cfan);
    lt_start(&t);
    lc_words(words, 0, 0);
    assert_int_equal(rk_light_send(t.w, RK_LIGHT_NONE, 1, 0, words), RK_OK);
    end = rk_test_now_ns() + LT_LIMIT_NS;
    while (!atomic_load(&t.held) && rk_test_now_ns() < end)
        rk_test_sleep_ns(100000);
    assert_true(atomic_load(&t.held));
    assert_int_equal(rk_light_send(t.w, RK_LIGHT_NONE, 0, 0, words), RK_OK);
    end = rk_test_now_ns() + LT_LIMIT_NS;
    while (atomic_load(&t.ok) < RK_LIGHT_CLUSTER_SLOTS && rk_test_now_ns() < end)
        rk_test_sleep_ns(100000);
    lt_stop(&t);
    assert_int_equal(lt_fan_seen.other, 0);
    assert_int_equal(lt_fan_seen.sent, RK_LIGHT_CLUSTER_SLOTS);
    assert_int_equal(lt_fan_seen.refused, LT_CFAN - RK_LIGHT_CLUSTER_SLOTS);
    assert_int_equal(atomic_load(&t.bad), 0);
    for (uint32_t a = 2; a < c.actors; a++) {
        assert_int_equal(t.next[a], lt_fan_seen.per[a]);
        got += t.next[a];
    }
    assert_int_equal(got, RK_LIGHT_CLUSTER_SLOTS);
    assert_int_equal(t.w->home[1].clustered, RK_LIGHT_CLUSTER_SLOTS);
    lt_check_quiet(&t);
    lt_free(&t);
}

/* ---- cluster_drain -------------------------------------------------------------------- */

/* cluster_drain: tokens that never leave their cluster (lc_cluster_next). */
static void lt_cluster_token(lt *t, rk_light_ctx *c, const rk_light_msg *m)
{
    lt_token(t, c, m, lc_cluster_next);
}

static void cluster_drain(void **state)
{
    (void)state;
    /* 8 homes in clusters of 4; tokens start on the first home of each. */
    rk_light_config c = {64, 8, 16, 4, RK_LIGHT_LOCAL, 0, 4};
    const uint32_t tokens = 8;
    uint64_t words[RK_LIGHT_WORDS], clustered = 0;
    lt t;
    lt_init(&t, &c, 1, lt_cluster_token);
    t.hops = rk_test_messages(200000) / 200;
    for (uint32_t k = 0; k < tokens; k++) {
        lc_words(words, k, 0);
        /* Actors 0, 8, 16, .. are home 0's, 4, 12, .. home 4's. */
        assert_int_equal(rk_light_send(t.w, RK_LIGHT_NONE, k * 4 % c.actors, 0, words), RK_OK);
    }
    __atomic_store_n((uint32_t *)&t.stop, 1, __ATOMIC_RELAXED);
    /* Twice: the second run starts where the first left the rings. */
    for (int run = 0; run < 2; run++) {
        if (run)
            for (uint32_t k = 0; k < tokens; k++) {
                lc_words(words, k, 0);
                assert_int_equal(rk_light_send(t.w, RK_LIGHT_NONE, k * 4 % c.actors, 0, words), RK_OK);
            }
        atomic_store(&t.ok, 0);
        atomic_store(&t.tokens_done, 0);
        lt_start(&t);
        lt_stop(&t); /* joins: each home returns only with its cluster */
        clustered = 0;
        for (uint32_t h = 0; h < c.homes; h++)
            clustered += t.w->home[h].clustered;
        printf("cluster_drain, run %d: %llu of %llu hops after the stop word, %llu through cluster rings\n", run + 1,
               (unsigned long long)atomic_load(&t.ok), (unsigned long long)(tokens * (t.hops + 1)),
               (unsigned long long)clustered);
        assert_int_equal(atomic_load(&t.bad), 0);
        assert_int_equal(atomic_load(&t.full), 0);
        assert_int_equal(atomic_load(&t.tokens_done), tokens);
        assert_int_equal(atomic_load(&t.ok), tokens * (t.hops + 1));
        assert_true(clustered > 0);
        lt_check_quiet(&t);
    }
    lt_free(&t);
}

/* ---- cluster_halt --------------------------------------------------------------------- */

/* A storm: every message sends two more, one to the next actor (another
 * home: with clusters, of its cluster or the next one) and one to an actor
 * of its own home. It never ends by itself. */
static void lt_storm(lt *t, rk_light_ctx *c, const rk_light_msg *m)
{
    const uint32_t n = t->w->cfg.actors, dst[2] = {(c->self + 1) % n, (c->self + t->homes) % n};
    for (int k = 0; k < 2; k++) {
        rk_status st = rk_light_ctx_send(c, dst[k], 0, m->w);
        if (st == RK_OK)
            atomic_fetch_add_explicit(&t->ok, 1, memory_order_relaxed);
        else if (st == RK_EFULL)
            atomic_fetch_add_explicit(&t->full, 1, memory_order_relaxed);
        else
            atomic_fetch_add_explicit(&t->bad, 1, memory_order_relaxed);
    }
}

static atomic_uint lt_returned;

static void *lt_run_home_counted(void *arg)
{
    lt_run_home(arg);
    atomic_fetch_add(&lt_returned, 1);
    return NULL;
}

/* Halts a storming world: every home returns (with a cluster, together
 * with its cluster), and each message sent is accounted for once - run,
 * dropped by a halted home (its local queue, a handed message, its
 * cluster ring) or left in an inbox. */
static void run_cluster_halt(uint32_t handoff, uint32_t steal, uint32_t cluster)
{
    rk_light_config c = {64, 8, 4, 2, handoff, steal, cluster};
    volatile uint32_t halt = 0;
    uint64_t words[RK_LIGHT_WORDS] = {0}, handled = 0, dropped = 0, left = 0, clustered = 0;
    uint64_t end, ok_at_stop;
    lt t;
    lt_init(&t, &c, 1, lt_storm);
    t.w->halt = &halt;
    for (uint32_t a = 0; a < c.actors; a++)
        assert_int_equal(rk_light_send(t.w, RK_LIGHT_NONE, a, 0, words), RK_OK);
    atomic_store(&lt_returned, 0);
    for (uint32_t h = 0; h < c.homes; h++) {
        lt_args[h] = (lt_home_arg){&t, h};
        assert_int_equal(pthread_create(&t.home[h], NULL, lt_run_home_counted, &lt_args[h]), 0);
    }
    end = rk_test_now_ns() + LT_LIMIT_NS;
    while (atomic_load(&t.ok) < 20000 && rk_test_now_ns() < end)
        sched_yield();
    assert_true(atomic_load(&t.ok) >= 20000); /* the storm keeps itself going */
    __atomic_store_n((uint32_t *)&t.stop, 1, __ATOMIC_RELAXED);
    /* The storm goes on after the stop, which ends a home only once it has
     * nothing left. A home may return meanwhile: its own chains can die
     * out to RK_EFULL drops while the other homes' threads are off the CPU.
     * The storm as a whole cannot (a message dies only when both of its
     * sends find full inboxes), so some homes stay. */
    ok_at_stop = atomic_load(&t.ok);
    end = rk_test_now_ns() + LT_LIMIT_NS;
    while (atomic_load(&t.ok) < ok_at_stop + 10000 && rk_test_now_ns() < end)
        rk_test_sleep_ns(1000000);
    assert_true(atomic_load(&t.ok) >= ok_at_stop + 10000);
    assert_true(atomic_load(&lt_returned) < c.homes);
    __atomic_store_n(&halt, 1, __ATOMIC_RELAXED);
    end = rk_test_now_ns() + LT_LIMIT_NS;
    while (atomic_load(&lt_returned) < c.homes && rk_test_now_ns() < end)
        rk_test_sleep_ns(1000000);
    if (atomic_load(&lt_returned) < c.homes) {
        fprintf(stderr, "cluster_halt: %u of %u homes returned\n", atomic_load(&lt_returned), c.homes);
        rk_light_world_report(t.w, t.w, stderr, 16);
        fail();
    }
    for (uint32_t h = 0; h < c.homes; h++) {
        pthread_join(t.home[h], NULL);
        handled += t.w->home[h].handled;
        dropped += t.w->home[h].dropped;
        clustered += t.w->home[h].clustered + t.w->home[h].moved;
    }
    for (uint32_t a = 0; a < c.actors; a++) {
        assert_int_equal(t.w->actor[a].sched == RK_LIGHT_RUNNING, 0); /* every token given up */
        left += t.w->actor[a].tail - t.w->actor[a].head;
    }
    printf("cluster_halt, %s%s, clusters of %u: %llu sent, %llu run, %llu dropped by halted homes, %llu left in "
           "inboxes, %llu refused full; %llu through cluster rings\n",
           lt_tier(handoff), steal ? ", stealing" : "", cluster,
           (unsigned long long)(c.actors + atomic_load(&t.ok)), (unsigned long long)handled,
           (unsigned long long)dropped, (unsigned long long)left, (unsigned long long)atomic_load(&t.full),
           (unsigned long long)clustered);
    assert_int_equal(atomic_load(&t.bad), 0);
    assert_int_equal(c.actors + atomic_load(&t.ok), handled + dropped + left);
    assert_true(cluster == 0 || clustered > 0);
    lt_free(&t);
}

static void cluster_halt(void **state)
{
    (void)state;
    run_cluster_halt(0, 0, 0); /* the halt without clusters, for comparison */
    run_cluster_halt(RK_LIGHT_LOCAL, 0, 2);
    run_cluster_halt(RK_LIGHT_LOCAL, 0, 4);
    run_cluster_halt(RK_LIGHT_TOKEN, 1, 2);
    run_cluster_halt(0, 1, 8);
}

/* ---- port ------------------------------------------------------------------------------ */

#define LT_PORT_SENDERS 3

static uint64_t lt_pattern(uint64_t s, uint64_t k)
{
    return (s + 1) * 0x9e3779b97f4a7c15ull ^ k * 0xc2b2ae3d27d4eb4full;
}

/* Echoes a host message back to the host, naming the actor that ran it.
 * The host drains its rings meanwhile, so waiting for room ends. */
static void lt_echo(lt *t, rk_light_ctx *c, const rk_light_msg *m)
{
    uint64_t words[RK_LIGHT_WORDS];
    rk_status st;
    if (m->src != RK_LIGHT_HOST) {
        atomic_fetch_add(&t->bad, 1);
        return;
    }
    memcpy(words, m->w, sizeof words);
    words[5] = c->self;
    while ((st = rk_light_ctx_send(c, m->src, m->type, words)) == RK_EFULL) {
        atomic_fetch_add_explicit(&t->full, 1, memory_order_relaxed);
        sched_yield();
    }
    if (st == RK_OK)
        atomic_fetch_add_explicit(&t->ok, 1, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&t->bad, 1, memory_order_relaxed);
}

typedef struct lt_port_sender {
    pthread_t th;
    rk_light_port *p;
    uint32_t s, actors;
    uint64_t n, full;
} lt_port_sender;

static void *lt_port_sender_main(void *arg)
{
    lt_port_sender *ps = arg;
    for (uint64_t k = 0; k < ps->n; k++) {
        const uint32_t dst = (uint32_t)((k * 7 + ps->s * 13) % ps->actors);
        const uint64_t x = lt_pattern(ps->s, k);
        const uint64_t words[RK_LIGHT_WORDS] = {ps->s, k, dst, x, ~x, 0};
        rk_status st;
        while ((st = rk_light_port_send(ps->p, dst, 7, words)) == RK_EFULL) {
            ps->full++;
            sched_yield();
        }
        if (st != RK_OK)
            return (void *)1;
    }
    return NULL;
}

static void *lt_forwarder_main(void *arg)
{
    rk_light_ingress_run_host(arg);
    return NULL;
}

/* Host threads send `total` messages through the port to actors in turn;
 * every actor echoes to the host; this thread receives. Each echo once,
 * intact and from the actor it was sent to; without stealing also in
 * order per (sender, actor), each home's ring being in order. */
static void run_port(uint32_t steal, uint64_t total)
{
    const rk_light_config c = {64, 4, 8, 4, 0, steal, 0};
    const uint64_t per = total / LT_PORT_SENDERS;
    lt_port_sender ps[LT_PORT_SENDERS];
    rk_light_port *p = aligned_alloc(128, (rk_light_port_bytes(c.homes) + 127) & ~(size_t)127);
    uint64_t *last = calloc((size_t)LT_PORT_SENDERS * c.actors, sizeof *last); /* seq + 1 of the last echo */
    unsigned char *seen = calloc((size_t)LT_PORT_SENDERS * per, 1);
    uint64_t got = 0, bad = 0, port_full = 0;
    const uint64_t end = rk_test_now_ns() + LT_LIMIT_NS;
    pthread_t fwd;
    rk_light_msg m;
    lt t;
    assert_non_null(p);
    assert_non_null(last);
    assert_non_null(seen);
    lt_init(&t, &c, 1, lt_echo);
    assert_int_equal(rk_light_port_init(p, &c), RK_OK);
    rk_light_world_set_port(t.w, p);
    lt_start(&t);
    assert_int_equal(pthread_create(&fwd, NULL, lt_forwarder_main, t.w), 0);
    for (uint32_t i = 0; i < LT_PORT_SENDERS; i++) {
        ps[i] = (lt_port_sender){.p = p, .s = i, .actors = c.actors, .n = per};
        assert_int_equal(pthread_create(&ps[i].th, NULL, lt_port_sender_main, &ps[i]), 0);
    }
    while (got < LT_PORT_SENDERS * per && rk_test_now_ns() < end) {
        if (rk_light_port_recv(p, &m) != RK_OK) {
            sched_yield();
            continue;
        }
        const uint64_t s = m.w[0], k = m.w[1];
        got++;
        if (s >= LT_PORT_SENDERS || k >= per || m.w[2] != m.src || m.w[5] != m.src || m.w[3] != lt_pattern(s, k) ||
            m.w[4] != ~m.w[3] || m.type != 7 || seen[s * per + k]) {
            bad++;
            continue;
        }
        seen[s * per + k] = 1;
        if (!steal && last[s * c.actors + m.src] > k)
            bad++; /* an earlier message of this sender to this actor came later */
        last[s * c.actors + m.src] = k + 1;
    }
    for (uint32_t i = 0; i < LT_PORT_SENDERS; i++) {
        void *rc;
        pthread_join(ps[i].th, &rc);
        assert_null(rc);
        port_full += ps[i].full;
    }
    assert_int_equal(rk_light_port_pending(p), 0); /* everything forwarded before the stop */
    lt_stop(&t);
    pthread_join(fwd, NULL);
    printf("port (stealing %s): %llu echoes, %llu bad; port full %llu times, host rings full %llu times\n",
           steal ? "on" : "off", (unsigned long long)got, (unsigned long long)bad, (unsigned long long)port_full,
           (unsigned long long)atomic_load(&t.full));
    assert_int_equal(got, LT_PORT_SENDERS * per);
    assert_int_equal(bad, 0);
    assert_int_equal(atomic_load(&t.bad), 0);
    assert_int_equal(atomic_load(&t.ok), LT_PORT_SENDERS * per);
    assert_int_equal(p->refused, 0);
    assert_int_equal(p->forwarded, LT_PORT_SENDERS * per);
    assert_int_equal(rk_light_port_recv(p, &m), RK_EEMPTY);
    lt_check_quiet(&t);
    lt_free(&t);
    free(p);
    free(last);
    free(seen);
}

static void port(void **state)
{
    (void)state;
    const uint64_t n = rk_test_messages(200000) / 8;
    run_port(0, n);
    run_port(1, n);
}

/* The port's refusals, without homes running. */
static void port_refusals(void **state)
{
    (void)state;
    const rk_light_config c = {8, 2, 2, 1, 0, 0, 0}, wide = {16, 2, 2, 1, 0, 0, 0};
    rk_light_port *p = aligned_alloc(128, (rk_light_port_bytes(c.homes) + 127) & ~(size_t)127);
    uint64_t words[RK_LIGHT_WORDS] = {1, 2, 3, 4, 5, 6}, at = 0;
    rk_light_ctx ctx;
    rk_light_msg m;
    lt t;
    assert_non_null(p);
    assert_int_equal(rk_light_port_init(NULL, &c), RK_EINVAL);
    assert_int_equal(rk_light_port_init(p, &c), RK_OK);
    assert_int_equal(rk_light_port_send(NULL, 0, 0, words), RK_EINVAL);
    assert_int_equal(rk_light_port_send(p, 8, 0, words), RK_EINVAL); /* no actor 8 */
    assert_int_equal(rk_light_port_recv(p, &m), RK_EEMPTY);
    assert_int_equal(rk_light_port_recv(p, NULL), RK_EINVAL);
    /* Full after RK_LIGHT_PORT_SLOTS, and all of them pending. */
    for (uint32_t k = 0; k < RK_LIGHT_PORT_SLOTS; k++)
        assert_int_equal(rk_light_port_send(p, k % 2, 0, words), RK_OK);
    assert_int_equal(rk_light_port_send(p, 0, 0, words), RK_EFULL);
    assert_int_equal(rk_light_port_pending(p), RK_LIGHT_PORT_SLOTS);

    /* The forwarder stops at the first receiver whose inbox (2 slots) is
     * full; the messages behind it wait, in order. */
    lt_init(&t, &c, 1, lt_echo);
    rk_light_world_set_port(t.w, p);
    assert_int_equal(rk_light_forward(t.w, &at, 100), 4); /* 0, 1, 0, 1; the next for 0 finds it full */
    assert_int_equal(t.w->actor[0].tail, 2);
    assert_int_equal(t.w->actor[1].tail, 2);
    assert_int_equal(rk_light_forward(t.w, &at, 100), 0);
    assert_int_equal(rk_light_port_pending(p), RK_LIGHT_PORT_SLOTS - 4);
    assert_int_equal(rk_light_port_send(p, 0, 0, words), RK_OK); /* a slot is free again */
    lt_free(&t);

    /* A receiver the world does not have (a port made for a wider config)
     * is counted as refused, not lost. */
    assert_int_equal(rk_light_port_init(p, &wide), RK_OK);
    lt_init(&t, &c, 1, lt_echo);
    rk_light_world_set_port(t.w, p);
    at = 0;
    assert_int_equal(rk_light_port_send(p, 12, 0, words), RK_OK);
    assert_int_equal(rk_light_forward(t.w, &at, 100), 1);
    assert_int_equal(p->refused, 1);
    assert_int_equal(rk_light_port_pending(p), 0);

    /* A home's ring to the host: RK_LIGHT_OUT_SLOTS, then RK_EFULL until
     * the host reads; RK_EINVAL in a world without a port. */
    memset(&ctx, 0, sizeof ctx);
    ctx.w = t.w;
    ctx.self = 5;
    ctx.out = &p->out[1];
    for (uint32_t k = 0; k < RK_LIGHT_OUT_SLOTS; k++)
        assert_int_equal(rk_light_ctx_send(&ctx, RK_LIGHT_HOST, k, words), RK_OK);
    assert_int_equal(rk_light_ctx_send(&ctx, RK_LIGHT_HOST, 99, words), RK_EFULL);
    assert_int_equal(rk_light_port_recv(p, &m), RK_OK);
    assert_int_equal(m.src, 5);
    assert_int_equal(m.type, 0);
    assert_int_equal(m.w[5], 6);
    assert_int_equal(rk_light_ctx_send(&ctx, RK_LIGHT_HOST, 99, words), RK_OK);
    for (uint32_t k = 1; k <= RK_LIGHT_OUT_SLOTS; k++) {
        assert_int_equal(rk_light_port_recv(p, &m), RK_OK);
        assert_int_equal(m.type, k < RK_LIGHT_OUT_SLOTS ? k : 99);
    }
    assert_int_equal(rk_light_port_recv(p, &m), RK_EEMPTY);
    ctx.out = NULL;
    assert_int_equal(rk_light_ctx_send(&ctx, RK_LIGHT_HOST, 0, words), RK_EINVAL);
    lt_free(&t);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bad_input),  cmocka_unit_test(leftovers), cmocka_unit_test(senders),
        cmocka_unit_test(forwarding), cmocka_unit_test(relays),    cmocka_unit_test(stealing),
        cmocka_unit_test(pingpong),   cmocka_unit_test(local_full), cmocka_unit_test(cluster_full),
        cmocka_unit_test(cluster_drain), cmocka_unit_test(cluster_halt), cmocka_unit_test(port),
        cmocka_unit_test(port_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
