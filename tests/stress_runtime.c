/* Multi-threaded stress of the runtime on the CPU backend.
 *
 *   4 host producers --rk_send--> 4 relays --K2K--> 1 sink --acks--> host
 *   2 host callers   --rk_call--> 1 echo actor
 *
 * Producer p sends its messages seq = 0, 1, ... to relay seq % 4; each relay
 * forwards what it gets to the sink. Order is guaranteed per (sender,
 * receiver) pair, so the sink checks, for every (producer, relay) pair, that
 * the sequence numbers arrive as r, r + 4, r + 8, ... : a gap is a loss or a
 * reordering, a repeat is a duplicate. Every message carries a check word
 * (and every 997th a by-reference payload of 512 bytes) that the sink
 * verifies.
 *
 * Flow control: the sink acknowledges each producer's count to the host
 * every ACK_EVERY messages; a producer never has more than WINDOW messages
 * unacknowledged, so the sink's inbox cannot fill and the relays' K2K sends
 * never see RK_EFULL. The relays' inboxes are small, so the producers do see
 * RK_EFULL and retry. The acks travel to the host while the callers' rk_calls
 * pop the same host queue, which exercises the hand-over of plain messages
 * to rk_recv. At the end the host asks the sink (rk_call) for its counts.
 *
 * RK_STRESS_MESSAGES sets the total (default 1 000 000). Every wait has a
 * wall-clock deadline: a bug fails the run instead of hanging it. Returns 0
 * on success, 1 on failure. */
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rk_test.h"
#include "ringkernel/ringkernel.h"

#define SEC 1000000000ull
#define DEADLINE_NS (120 * SEC)
#define PRODUCERS 4
#define RELAYS 4
#define CALLERS 2
#define MIN_CALLS 500 /* per caller, even if the producers finish first */
#define WINDOW 512    /* unacknowledged messages per producer */
#define ACK_EVERY 64
#define RELAY_INBOX 64
#define ECHO_INBOX 1024
#define SINK_INBOX 4096 /* > PRODUCERS * WINDOW */
#define BIG_EVERY 997
#define BIG_LEN 512

_Static_assert(SINK_INBOX > PRODUCERS * WINDOW, "the sink's inbox holds every unacknowledged message");

enum { T_DATA = 1, T_ACK = 2, T_REPORT = 3, T_CALL = 4, T_SETUP = 5 };

typedef struct data_msg {
    uint32_t producer;
    uint32_t check;
    uint64_t seq;
} data_msg;

typedef struct ack_msg {
    uint32_t producer;
    uint32_t pad_;
    uint64_t received;
} ack_msg;

typedef struct report {
    uint64_t total;
    uint64_t received[PRODUCERS];
    uint64_t gaps;       /* a sequence number beyond the expected one */
    uint64_t repeats;    /* one at or below the last seen: duplicate or reordered */
    uint64_t wrong_path; /* came through a relay it was not sent to */
    uint64_t corrupt;    /* bad check word, length or payload bytes */
    uint64_t unknown;    /* unknown sender, producer or type */
} report;

typedef struct relay_state {
    rk_actor_id sink;
} relay_state;

typedef struct sink_state {
    rk_actor_id relays[RELAYS];
    uint64_t per_producer;
    uint64_t next[PRODUCERS][RELAYS]; /* expected seq per (producer, relay) */
    report rep;
} sink_state;

/* ---- failure reporting ------------------------------------------------------ */

static atomic_int g_abort;
static atomic_int g_have_msg;
static char g_msg[512];

static void fail(const char *fmt, ...)
{
    va_list ap;
    if (atomic_exchange(&g_have_msg, 1) == 0) {
        va_start(ap, fmt);
        vsnprintf(g_msg, sizeof g_msg, fmt, ap);
        va_end(ap);
    }
    atomic_store(&g_abort, 1);
}

static uint64_t g_deadline;

/* One step of a bounded wait; returns 0 when the caller must give up. */
static int backoff(unsigned *spins, const char *what)
{
    if (atomic_load(&g_abort))
        return 0;
    if (rk_test_now_ns() > g_deadline) {
        fail("deadline passed while %s", what);
        return 0;
    }
    if (++*spins < 16)
        sched_yield();
    else
        rk_test_sleep_ns(20000);
    return 1;
}

/* ---- payloads ----------------------------------------------------------------- */

static uint32_t check_word(uint32_t producer, uint64_t seq)
{
    uint64_t x = (seq + 1) * 0x9E3779B97F4A7C15ull ^ ((uint64_t)producer << 56);
    return (uint32_t)(x >> 29);
}

static unsigned char big_byte(uint64_t seq, uint32_t i)
{
    return (unsigned char)((seq * 31u + i * 7u) & 0xFF);
}

/* The message producer p sends as number seq; returns its length. */
static uint32_t make_msg(unsigned char *buf, uint32_t p, uint64_t seq)
{
    data_msg d = {p, check_word(p, seq), seq};
    uint32_t len = seq % BIG_EVERY == 0 ? BIG_LEN : (uint32_t)sizeof d;
    memcpy(buf, &d, sizeof d);
    for (uint32_t i = sizeof d; i < len; i++)
        buf[i] = big_byte(seq, i);
    return len;
}

static int msg_intact(const unsigned char *buf, uint32_t len, const data_msg *d)
{
    if (d->check != check_word(d->producer, d->seq))
        return 0;
    if (len != (d->seq % BIG_EVERY == 0 ? BIG_LEN : sizeof *d))
        return 0;
    for (uint32_t i = sizeof *d; i < len; i++)
        if (buf[i] != big_byte(d->seq, i))
            return 0;
    return 1;
}

/* ---- actors ------------------------------------------------------------------------ */

static rk_status relay_handle(rk_ctx *ctx, void *state, const rk_msg *m)
{
    relay_state *s = state;
    if (m->type == T_SETUP && m->len == sizeof s->sink) {
        memcpy(&s->sink, rk_msg_payload(m), sizeof s->sink);
        return RK_OK;
    }
    if (m->type != T_DATA)
        return RK_EINVAL;
    /* The window keeps the sink's inbox from filling: any failure is a bug
     * and fails this relay, which the producers then see. */
    return rk_ctx_send(ctx, s->sink, T_DATA, rk_msg_payload(m), m->len);
}

static int relay_index(const sink_state *s, rk_actor_id src)
{
    for (int r = 0; r < RELAYS; r++)
        if (s->relays[r] == src)
            return r;
    return -1;
}

static rk_status sink_data(rk_ctx *ctx, sink_state *s, const rk_msg *m)
{
    const unsigned char *buf = rk_msg_payload(m);
    int r = relay_index(s, m->src);
    data_msg d;
    uint64_t *next;

    if (m->len < sizeof d || r < 0) {
        s->rep.unknown++;
        return RK_OK;
    }
    memcpy(&d, buf, sizeof d);
    if (d.producer >= PRODUCERS) {
        s->rep.unknown++;
        return RK_OK;
    }
    if (!msg_intact(buf, m->len, &d))
        s->rep.corrupt++;
    if (d.seq % RELAYS != (uint64_t)r)
        s->rep.wrong_path++;
    next = &s->next[d.producer][r];
    if (d.seq == *next) {
        *next += RELAYS;
    } else if (d.seq > *next) {
        s->rep.gaps++;
        *next = d.seq + RELAYS;
    } else {
        s->rep.repeats++;
    }
    s->rep.total++;
    uint64_t got = ++s->rep.received[d.producer];
    if (got % ACK_EVERY == 0 || got == s->per_producer) {
        ack_msg a = {d.producer, 0, got};
        return rk_ctx_send(ctx, RK_ACTOR_HOST, T_ACK, &a, sizeof a);
    }
    return RK_OK;
}

static rk_status sink_handle(rk_ctx *ctx, void *state, const rk_msg *m)
{
    sink_state *s = state;
    if (m->type == T_DATA)
        return sink_data(ctx, s, m);
    if (m->type == T_REPORT && (m->flags & RK_MSG_F_REQUEST))
        return rk_reply(ctx, T_REPORT, &s->rep, sizeof s->rep);
    s->rep.unknown++;
    return RK_OK;
}

static rk_status echo_handle(rk_ctx *ctx, void *state, const rk_msg *m)
{
    (void)state;
    if (!(m->flags & RK_MSG_F_REQUEST))
        return RK_EINVAL;
    return rk_reply(ctx, m->type, rk_msg_payload(m), m->len);
}

static const rk_actor_type relay_type = {.name = "relay", .handle = relay_handle};
static const rk_actor_type sink_type = {.name = "sink", .handle = sink_handle};
static const rk_actor_type echo_type = {.name = "echo", .handle = echo_handle};

/* ---- host threads ------------------------------------------------------------------- */

typedef struct shared {
    rk_runtime *rt;
    rk_actor_id relays[RELAYS];
    rk_actor_id sink, echo;
    uint64_t per_producer;
    atomic_uint_fast64_t acked[PRODUCERS];
    atomic_int producers_done;
    atomic_uint_fast64_t full_retries;
    atomic_uint_fast64_t calls;
} shared;

typedef struct producer {
    shared *sh;
    uint32_t index;
    pthread_t thread;
} producer;

static int wait_credit(shared *sh, uint32_t p, uint64_t seq)
{
    unsigned spins = 0;
    while (seq - atomic_load(&sh->acked[p]) >= WINDOW)
        if (!backoff(&spins, "a producer waited for acks"))
            return 0;
    return 1;
}

static void *producer_main(void *arg)
{
    producer *pr = arg;
    shared *sh = pr->sh;
    unsigned char buf[BIG_LEN];

    for (uint64_t seq = 0; seq < sh->per_producer && !atomic_load(&g_abort); seq++) {
        uint32_t len = make_msg(buf, pr->index, seq);
        unsigned spins = 0;
        rk_status st;
        if (!wait_credit(sh, pr->index, seq))
            break;
        while ((st = rk_send(sh->rt, sh->relays[seq % RELAYS], T_DATA, buf, len)) == RK_EFULL) {
            atomic_fetch_add(&sh->full_retries, 1);
            if (!backoff(&spins, "a producer retried RK_EFULL"))
                break;
        }
        if (st != RK_OK && st != RK_EFULL)
            fail("producer %u, seq %" PRIu64 ": rk_send returned %s", pr->index, seq, rk_status_name(st));
    }
    atomic_fetch_add(&sh->producers_done, 1);
    return NULL;
}

static int all_acked(shared *sh)
{
    for (uint32_t p = 0; p < PRODUCERS; p++)
        if (atomic_load(&sh->acked[p]) != sh->per_producer)
            return 0;
    return 1;
}

/* Receives the sink's acks (some handed over by the callers' rk_calls). */
static void *acker_main(void *arg)
{
    shared *sh = arg;
    while (!all_acked(sh) && !atomic_load(&g_abort)) {
        ack_msg a;
        rk_msgbuf r = {.data = &a, .capacity = sizeof a};
        rk_status st = rk_recv(sh->rt, &r, 10000000ull);
        if (st == RK_ETIMEDOUT) {
            if (rk_test_now_ns() > g_deadline)
                fail("deadline passed waiting for acks");
            continue;
        }
        if (st != RK_OK) {
            fail("rk_recv returned %s", rk_status_name(st));
            break;
        }
        if (r.hdr.type != T_ACK || r.hdr.src != sh->sink || r.hdr.len != sizeof a || a.producer >= PRODUCERS) {
            fail("unexpected message at the host: type %u from %u, %u bytes", r.hdr.type, r.hdr.src, r.hdr.len);
            break;
        }
        /* Acks from the sink arrive in the order it sent them. */
        if (a.received <= atomic_load(&sh->acked[a.producer]) || a.received > sh->per_producer) {
            fail("ack for producer %u out of order: %" PRIu64 " after %" PRIu64, a.producer, a.received,
                 (uint64_t)atomic_load(&sh->acked[a.producer]));
            break;
        }
        atomic_store(&sh->acked[a.producer], a.received);
    }
    return NULL;
}

typedef struct caller {
    shared *sh;
    uint32_t index;
    pthread_t thread;
} caller;

static void *caller_main(void *arg)
{
    caller *c = arg;
    shared *sh = c->sh;
    for (uint64_t i = 0; !atomic_load(&g_abort); i++) {
        uint64_t want[2] = {((uint64_t)c->index << 48) | i, ~i}, got[2] = {0, 0};
        rk_msgbuf r = {.data = got, .capacity = sizeof got};
        rk_status st;
        if (i >= MIN_CALLS && atomic_load(&sh->producers_done) == PRODUCERS)
            break;
        if (rk_test_now_ns() > g_deadline) {
            fail("deadline passed in caller %u", c->index);
            break;
        }
        st = rk_call(sh->rt, sh->echo, T_CALL, want, sizeof want, &r, 10 * SEC);
        if (st == RK_EFULL) {
            /* At most CALLERS requests are ever queued at the echo actor. */
            fail("caller %u, call %" PRIu64 ": RK_EFULL from an inbox of %u slots holding at most %d requests "
                 "(a false 'full')", c->index, i, ECHO_INBOX, CALLERS);
            break;
        }
        if (st != RK_OK) {
            fail("caller %u, call %" PRIu64 ": %s", c->index, i, rk_status_name(st));
            break;
        }
        if (r.hdr.len != sizeof want || got[0] != want[0] || got[1] != want[1]) {
            fail("caller %u, call %" PRIu64 ": got %" PRIx64 " for %" PRIx64, c->index, i, got[0], want[0]);
            break;
        }
        atomic_fetch_add(&sh->calls, 1);
    }
    return NULL;
}

/* ---- setup and the final checks ---------------------------------------------------- */

static int launch(rk_runtime *rt, const char *name, const rk_actor_type *type, const void *state, uint32_t size,
                  uint32_t inbox, rk_actor_id *id)
{
    rk_actor_options o;
    rk_status st;
    rk_actor_options_init(&o);
    o.name = name;
    o.type = type;
    o.initial_state = state;
    o.state_size = size;
    o.inbox_capacity = inbox;
    st = rk_launch(rt, &o, id);
    if (st != RK_OK)
        fail("launch %s: %s", name, rk_status_name(st));
    return st == RK_OK;
}

/* Relays first (the sink checks senders against their ids), then the sink,
 * whose id reaches the relays in a setup message: it is their first message,
 * so they know it before any data arrives. */
static int setup_actors(shared *sh)
{
    relay_state rs = {RK_ACTOR_NONE};
    sink_state *ss = calloc(1, sizeof *ss);
    int ok = ss != NULL;
    char name[16];

    ok = ok && launch(sh->rt, "echo", &echo_type, NULL, 0, ECHO_INBOX, &sh->echo);
    for (int r = 0; ok && r < RELAYS; r++) {
        snprintf(name, sizeof name, "relay%d", r);
        ok = launch(sh->rt, name, &relay_type, &rs, sizeof rs, RELAY_INBOX, &sh->relays[r]);
    }
    if (ok) {
        memcpy(ss->relays, sh->relays, sizeof ss->relays);
        ss->per_producer = sh->per_producer;
        for (int p = 0; p < PRODUCERS; p++)
            for (int r = 0; r < RELAYS; r++)
                ss->next[p][r] = (uint64_t)r;
        ok = launch(sh->rt, "sink", &sink_type, ss, sizeof *ss, SINK_INBOX, &sh->sink);
    }
    for (int r = 0; ok && r < RELAYS; r++) {
        rk_status st = rk_send(sh->rt, sh->relays[r], T_SETUP, &sh->sink, sizeof sh->sink);
        if (st != RK_OK)
            fail("setup of relay %d: %s", r, rk_status_name(st));
        ok = st == RK_OK;
    }
    free(ss);
    return ok;
}

static int check_report(shared *sh, const report *rep, uint64_t total)
{
    int ok = 1;
    for (uint32_t p = 0; p < PRODUCERS; p++) {
        if (rep->received[p] != sh->per_producer) {
            fail("producer %u: the sink got %" PRIu64 " of %" PRIu64, p, rep->received[p], sh->per_producer);
            ok = 0;
        }
    }
    if (rep->total != total || rep->gaps || rep->repeats || rep->wrong_path || rep->corrupt || rep->unknown) {
        fail("sink: total %" PRIu64 " of %" PRIu64 ", gaps %" PRIu64 ", repeats %" PRIu64 ", wrong path %" PRIu64
             ", corrupt %" PRIu64 ", unknown %" PRIu64,
             rep->total, total, rep->gaps, rep->repeats, rep->wrong_path, rep->corrupt, rep->unknown);
        ok = 0;
    }
    return ok;
}

/* Relays and sink counters after the run, and no dead letters or errors. */
static int check_metrics(shared *sh, uint64_t total)
{
    rk_actor_metrics m;
    rk_async_error e;
    uint64_t in, out, until = rk_test_now_ns() + 10 * SEC;
    /* A relay counts a message in after its handler returns, which may be
     * after the sink has it: poll briefly. */
    do {
        in = out = 0;
        for (int r = 0; r < RELAYS; r++) {
            if (rk_actor_metrics_get(sh->rt, sh->relays[r], &m) != RK_OK || m.errors != 0 ||
                m.state != RK_ACTIVE) {
                fail("relay %d: errors %" PRIu64 ", state %s", r, m.errors, rk_lifecycle_state_name(m.state));
                return 0;
            }
            in += m.msgs_in;
            out += m.msgs_out;
        }
        if (in != total + RELAYS)
            rk_test_sleep_ns(1000000);
    } while (in != total + RELAYS && rk_test_now_ns() < until);
    if (in != total + RELAYS || out != total) { /* in: the data and one setup each */
        fail("relays handled %" PRIu64 " and forwarded %" PRIu64 " of %" PRIu64, in, out, total);
        return 0;
    }
    if (rk_dead_letter_count(sh->rt) != 0) {
        fail("%" PRIu64 " dead letters", rk_dead_letter_count(sh->rt));
        return 0;
    }
    if (rk_runtime_error(sh->rt, &e) != RK_EEMPTY) {
        fail("asynchronous error: actor %u, %s", e.actor, rk_status_name(e.status));
        return 0;
    }
    return 1;
}

int main(void)
{
    uint64_t total_req = rk_test_messages(1000000);
    static shared sh;
    producer prod[PRODUCERS];
    caller call[CALLERS];
    pthread_t acker;
    rk_runtime_options o;
    rk_shutdown_report sr;
    report rep;
    rk_msgbuf rb = {.data = &rep, .capacity = sizeof rep};
    uint64_t t0, elapsed, total;
    int ok;

    sh.per_producer = total_req / PRODUCERS;
    if (sh.per_producer == 0)
        sh.per_producer = 1;
    total = sh.per_producer * PRODUCERS;
    g_deadline = rk_test_now_ns() + DEADLINE_NS;

    rk_runtime_options_init(&o);
    o.backend = RK_BACKEND_CPU;
    o.workers = 2;
    if (rk_runtime_create(&sh.rt, &o) != RK_OK) {
        fprintf(stderr, "stress_runtime: rk_runtime_create failed\n");
        return 1;
    }
    ok = setup_actors(&sh);

    t0 = rk_test_now_ns();
    if (ok) {
        for (uint32_t i = 0; i < PRODUCERS; i++) {
            prod[i] = (producer){.sh = &sh, .index = i};
            pthread_create(&prod[i].thread, NULL, producer_main, &prod[i]);
        }
        for (uint32_t i = 0; i < CALLERS; i++) {
            call[i] = (caller){.sh = &sh, .index = i};
            pthread_create(&call[i].thread, NULL, caller_main, &call[i]);
        }
        pthread_create(&acker, NULL, acker_main, &sh);
        for (uint32_t i = 0; i < PRODUCERS; i++)
            pthread_join(prod[i].thread, NULL);
        for (uint32_t i = 0; i < CALLERS; i++)
            pthread_join(call[i].thread, NULL);
        pthread_join(acker, NULL);
    }
    elapsed = rk_test_now_ns() - t0;

    /* Every message was acknowledged, so the sink has seen them all. */
    ok = ok && !atomic_load(&g_abort);
    if (ok) {
        rk_status st = rk_call(sh.rt, sh.sink, T_REPORT, NULL, 0, &rb, 10 * SEC);
        if (st != RK_OK || rb.hdr.len != sizeof rep)
            fail("report call: %s, %u bytes", rk_status_name(st), rb.hdr.len);
        ok = st == RK_OK && rb.hdr.len == sizeof rep && check_report(&sh, &rep, total) && check_metrics(&sh, total);
    }

    if (!ok || atomic_load(&g_abort)) {
        rk_async_error e;
        while (rk_runtime_error(sh.rt, &e) == RK_OK)
            fprintf(stderr, "stress_runtime: asynchronous error: actor %u (generation %u) failed with %s\n", e.actor,
                    e.generation, rk_status_name(e.status));
    }
    memset(&sr, 0, sizeof sr);
    rk_runtime_shutdown(sh.rt, &sr);
    if (ok && (sr.timed_out || sr.dead_lettered || sr.host_unread || sr.actors_failed)) {
        fail("shutdown: timed out %d, dead-lettered %" PRIu64 ", host unread %" PRIu64 ", failed %u", sr.timed_out,
             sr.dead_lettered, sr.host_unread, sr.actors_failed);
        ok = 0;
    }
    rk_runtime_destroy(sh.rt);

    printf("stress_runtime: %" PRIu64 " messages, %d producers -> %d relays -> sink in %.2f s (%.0f msgs/s), "
           "%" PRIu64 " EFULL retries, %" PRIu64 " concurrent calls: %s\n",
           total, PRODUCERS, RELAYS, (double)elapsed / 1e9, (double)total / ((double)elapsed / 1e9),
           (uint64_t)atomic_load(&sh.full_retries), (uint64_t)atomic_load(&sh.calls),
           ok && !atomic_load(&g_abort) ? "none lost, none duplicated, order kept" : "FAILED");
    if (!ok || atomic_load(&g_abort)) {
        fprintf(stderr, "stress_runtime: FAILED: %s\n", g_have_msg ? g_msg : "(no detail)");
        return 1;
    }
    return 0;
}
