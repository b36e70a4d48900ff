/* The host's side of the queue to the host: reserved-and-unused slots
 * (RK_MSG_TYPE_NOP, which GPU actors publish when a reserved reply slot was
 * not needed) are skipped by rk_recv, rk_call and the shutdown count, and
 * never reach the caller or the dead letters; a slot its producer marked
 * (ring.h, owner marks: a GPU block's reply slot held while a handler runs)
 * holds up that producer's later messages only; a backend that is gone
 * ends host waits with its status once what it wrote is taken. The slots
 * are written into the queue here by hand, as the GPU would. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/hostq.h"
#include "core/runtime_internal.h"
#include "gone_backend.h"
#include "rk_test.h"

#define SEC 1000000000ull

/* Writes header h (and its payload) into the claimed slot at pos and
 * publishes it, in the ring's format: plain slots, or flag-per-word ones
 * (ring.h, LL) when the runtime was made with RK_CPU_HOST_LL=1. With
 * `early`, an LL slot's sequence word goes first and its words after it,
 * as the GPU's may arrive: the host must wait for them. */
static void write_slot(rk_runtime *rt, uint64_t pos, const rk_msg *h, const void *payload, int early)
{
    rk_ring *r = &rt->host_ring;
    if (rt->host_stage) {
        if (early)
            rk_ring_ll_publish(r, pos);
        if (h->len)
            rk_ring_ll_put(r, pos, sizeof *h, payload, h->len);
        if (early)
            rk_test_sleep_ns(2000);
        rk_ring_ll_put(r, pos, 8, (const unsigned char *)h + 8, sizeof *h - 8);
        if (!early)
            rk_ring_ll_publish(r, pos);
        return;
    }
    unsigned char *slot = rk_ring_slot(r, pos);
    memcpy(slot + 8, (const unsigned char *)h + 8, sizeof *h - 8);
    if (h->len)
        memcpy(slot + sizeof *h, payload, h->len);
    rk_ring_publish(r, pos, 1);
}

static rk_msg header(uint32_t type, uint32_t flags, uint32_t src, uint64_t corr, uint32_t len)
{
    rk_msg h;
    memset(&h, 0, sizeof h);
    h.type = type;
    h.flags = flags;
    h.src = src;
    h.dst = RK_ACTOR_HOST;
    h.corr = corr;
    h.len = len;
    return h;
}

/* Claims one slot of the host queue, writes a message (and an 8-byte
 * payload v) and publishes it, as an actor's send would. */
static void put(rk_runtime *rt, uint32_t type, uint32_t flags, uint64_t corr, uint64_t v)
{
    uint64_t pos = 0;
    const rk_msg h = header(type, flags, 0, corr, type == RK_MSG_TYPE_NOP ? 0 : sizeof v);
    assert_int_equal(rk_ring_claim(&rt->host_ring, 1, &pos), RK_OK);
    write_slot(rt, pos, &h, &v, 0);
}

static rk_runtime *cpu_runtime(void)
{
    rk_runtime_options o;
    rk_runtime *rt = NULL;
    rk_runtime_options_init(&o);
    o.backend = RK_BACKEND_CPU;
    o.workers = 1;
    assert_int_equal(rk_runtime_create(&rt, &o), RK_OK);
    return rt;
}

static void recv_skips_nops(void **state)
{
    rk_runtime *rt = cpu_runtime();
    uint64_t v = 0;
    rk_msgbuf mb = {.data = &v, .capacity = sizeof v};
    (void)state;
    put(rt, RK_MSG_TYPE_NOP, 0, 0, 0);
    put(rt, 7, 0, 0, 41);
    put(rt, RK_MSG_TYPE_NOP, 0, 0, 0);
    put(rt, RK_MSG_TYPE_NOP, 0, 0, 0);
    put(rt, 8, 0, 0, 42);
    assert_int_equal(rk_recv(rt, &mb, SEC), RK_OK);
    assert_int_equal(mb.hdr.type, 7);
    assert_int_equal(v, 41);
    assert_int_equal(rk_recv(rt, &mb, SEC), RK_OK);
    assert_int_equal(mb.hdr.type, 8);
    assert_int_equal(v, 42);
    put(rt, RK_MSG_TYPE_NOP, 0, 0, 0);
    assert_int_equal(rk_recv(rt, &mb, 0), RK_ETIMEDOUT);
    assert_int_equal(rk_dead_letter_count(rt), 0);
    rk_runtime_destroy(rt);
}

/* A trailing NOP is not a message: shutdown reports nothing unread. */
static void shutdown_does_not_count_nops(void **state)
{
    rk_runtime *rt = cpu_runtime();
    rk_shutdown_report rep;
    (void)state;
    put(rt, RK_MSG_TYPE_NOP, 0, 0, 0);
    put(rt, 9, 0, 0, 1);
    put(rt, RK_MSG_TYPE_NOP, 0, 0, 0);
    assert_int_equal(rk_runtime_shutdown(rt, &rep), RK_OK);
    assert_int_equal(rep.host_unread, 1);
    assert_int_equal(rk_dead_letter_count(rt), 1);
    rk_runtime_destroy(rt);
}

/* Claims one slot and marks it for `owner`, as a GPU block does with the
 * slot it keeps for a reply; returns its position. */
static uint64_t mark(rk_runtime *rt, uint32_t owner)
{
    uint64_t pos = 0;
    assert_int_equal(rk_ring_claim(&rt->host_ring, 1, &pos), RK_OK);
    __atomic_store_n((uint64_t *)rk_ring_slot(&rt->host_ring, pos), rk_ring_mark_word(pos, owner), __ATOMIC_RELAXED);
    return pos;
}

/* Fills a claimed slot with a message of type 7 from `src` carrying v, and
 * publishes it. */
static void fill(rk_runtime *rt, uint64_t pos, uint32_t src, uint64_t v)
{
    const rk_msg h = header(7, 0, src, 0, sizeof v);
    write_slot(rt, pos, &h, &v, 0);
}

static void put_from(rk_runtime *rt, uint32_t src, uint64_t v)
{
    uint64_t pos = 0;
    assert_int_equal(rk_ring_claim(&rt->host_ring, 1, &pos), RK_OK);
    fill(rt, pos, src, v);
}

/* rk_recv with no wait: the value, or UINT64_MAX when nothing may be taken. */
static uint64_t recv_now(rk_runtime *rt, uint32_t *src)
{
    uint64_t v = 0;
    rk_msgbuf mb = {.data = &v, .capacity = sizeof v};
    rk_status st = rk_recv(rt, &mb, 0);
    if (st == RK_ETIMEDOUT)
        return UINT64_MAX;
    assert_int_equal(st, RK_OK);
    if (src)
        *src = mb.hdr.src;
    return v;
}

/* A marked slot holds up its owner's later messages, not the others'; once
 * published, it and the held ones come in its owner's order and the queue
 * frees every slot. */
static void marked_slot_holds_only_its_owner(void **state)
{
    rk_runtime *rt = cpu_runtime();
    uint64_t a, b;
    uint32_t src = 0;
    (void)state;
    a = mark(rt, 5);
    assert_true(recv_now(rt, NULL) == UINT64_MAX);
    assert_int_equal(rk__hostq_moved(rt), 0); /* stopped past the marked slot, at an empty one */
    put_from(rt, 6, 1);
    assert_int_equal(rk__hostq_moved(rt), 1); /* that one now holds a message */
    b = mark(rt, 5); /* a second held slot of the same owner */
    put_from(rt, 5, 12);
    put_from(rt, 6, 2);
    put(rt, RK_MSG_TYPE_NOP, 0, 0, 0);
    put_from(rt, 7, 3);
    assert_int_equal(recv_now(rt, &src), 1);
    assert_int_equal(src, 6);
    assert_int_equal(recv_now(rt, NULL), 2);
    assert_int_equal(recv_now(rt, NULL), 3);
    assert_true(recv_now(rt, NULL) == UINT64_MAX); /* 5's message waits for 5's earlier one */
    assert_int_equal(rk_ring_depth(&rt->host_ring), 7); /* nothing freed past the marked slot yet */
    fill(rt, b, 5, 11); /* the later one first: still behind a */
    assert_true(recv_now(rt, NULL) == UINT64_MAX);
    fill(rt, a, 5, 10);
    assert_int_equal(recv_now(rt, &src), 10);
    assert_int_equal(src, 5);
    assert_int_equal(recv_now(rt, &src), 11);
    assert_int_equal(src, 5);
    assert_int_equal(recv_now(rt, &src), 12);
    assert_int_equal(src, 5);
    assert_true(recv_now(rt, NULL) == UINT64_MAX);
    assert_int_equal(rk_ring_depth(&rt->host_ring), 0);
    assert_int_equal(rk_dead_letter_count(rt), 0);
    rk_runtime_destroy(rt);
}

/* A slot claimed and not marked may be anyone's: nothing after it is taken
 * (the order of its unknown sender holds). A mark from an earlier lap of
 * the ring does not count. */
static void unmarked_slot_holds_everything(void **state)
{
    rk_runtime *rt = cpu_runtime();
    uint64_t a = 0, cap = rt->host_ring.capacity;
    (void)state;
    assert_int_equal(rk_ring_claim(&rt->host_ring, 1, &a), RK_OK);
    /* As if left from the lap before: the same slot, another position. */
    __atomic_store_n((uint64_t *)rk_ring_slot(&rt->host_ring, a), rk_ring_mark_word(a - cap, 5), __ATOMIC_RELAXED);
    put_from(rt, 6, 1);
    assert_true(recv_now(rt, NULL) == UINT64_MAX);
    fill(rt, a, 5, 0);
    assert_int_equal(recv_now(rt, NULL), 0);
    assert_int_equal(recv_now(rt, NULL), 1);
    rk_runtime_destroy(rt);
}

/* Laps of the ring with one owner's slot held each time while the ring
 * fills up behind it: every other message is taken, the slots taken out of
 * order are freed once the head passes them, and nothing is taken twice. */
static void held_slot_across_laps(void **state)
{
    rk_runtime *rt = cpu_runtime();
    const uint32_t cap = rt->host_ring.capacity;
    uint64_t next = 0, v;
    (void)state;
    for (int lap = 0; lap < 5; lap++) {
        uint64_t a = mark(rt, 1);
        uint32_t n = 0, src = 0;
        while (put_from(rt, 2, next + n + 1), ++n < cap - 1)
            ;
        assert_int_equal(rk_ring_claim(&rt->host_ring, 1, &v), RK_EFULL);
        for (uint32_t i = 0; i < n; i++)
            assert_int_equal(recv_now(rt, &src), next + i + 1);
        assert_true(recv_now(rt, NULL) == UINT64_MAX);
        fill(rt, a, 1, next);
        assert_int_equal(recv_now(rt, &src), next);
        assert_int_equal(src, 1);
        assert_int_equal(rk_ring_depth(&rt->host_ring), 0);
        next += n + 1;
    }
    assert_int_equal(rk_dead_letter_count(rt), 0);
    rk_runtime_destroy(rt);
}

/* More owners with marked slots than a look keeps apart: the look stops at
 * the one too many (as at an unmarked slot), and goes on once it is gone. */
static void too_many_marked_owners(void **state)
{
    rk_runtime *rt = cpu_runtime();
    uint64_t held[17];
    (void)state;
    for (uint32_t o = 0; o < 17; o++)
        held[o] = mark(rt, 100 + o);
    put_from(rt, 6, 1);
    assert_true(recv_now(rt, NULL) == UINT64_MAX);
    /* A wait would not wake for nothing: the look stopped at the 17th
     * marked slot, which has not changed. */
    assert_int_equal(rk__hostq_moved(rt), 0);
    fill(rt, held[16], 116, 16);
    assert_int_equal(rk__hostq_moved(rt), 1);
    /* Sixteen owners now: the 17th's message, then 6's, pass them. */
    assert_int_equal(recv_now(rt, NULL), 16);
    assert_int_equal(recv_now(rt, NULL), 1);
    assert_true(recv_now(rt, NULL) == UINT64_MAX);
    fill(rt, held[0], 100, 0);
    assert_int_equal(recv_now(rt, NULL), 0);
    for (uint32_t o = 1; o < 16; o++)
        fill(rt, held[o], 100 + o, o);
    for (uint32_t o = 1; o < 16; o++)
        assert_int_equal(recv_now(rt, NULL), o);
    assert_int_equal(rk_ring_depth(&rt->host_ring), 0);
    rk_runtime_destroy(rt);
}

/* Shutdown counts and dead-letters what was published past a marked slot;
 * the marked slot itself was never a message. */
static void shutdown_counts_past_marked(void **state)
{
    rk_runtime *rt = cpu_runtime();
    rk_shutdown_report rep;
    (void)state;
    (void)mark(rt, 5);
    put_from(rt, 6, 1);
    put_from(rt, 7, 2);
    assert_int_equal(rk_runtime_shutdown(rt, &rep), RK_OK);
    assert_int_equal(rep.host_unread, 2);
    assert_int_equal(rk_dead_letter_count(rt), 2);
    rk_runtime_destroy(rt);
}

/* A runtime whose host queue has LL slots, whatever the environment says. */
static rk_runtime *ll_runtime(uint32_t capacity)
{
    rk_runtime_options o;
    rk_runtime *rt = NULL;
    const char *was = getenv("RK_CPU_HOST_LL");
    char saved[8] = "";
    if (was)
        snprintf(saved, sizeof saved, "%s", was);
    setenv("RK_CPU_HOST_LL", "1", 1);
    rk_runtime_options_init(&o);
    o.backend = RK_BACKEND_CPU;
    o.workers = 1;
    o.host_queue_capacity = capacity;
    assert_int_equal(rk_runtime_create(&rt, &o), RK_OK);
    if (was)
        setenv("RK_CPU_HOST_LL", saved, 1);
    else
        unsetenv("RK_CPU_HOST_LL");
    assert_non_null(rt->host_stage);
    return rt;
}

/* LL: a slot whose sequence word is stored but one of whose words is not
 * (still on its way, or left from the lap before) is not taken, and holds
 * up what follows as an unpublished slot does; once the word lands, both
 * come in order. */
static void ll_slot_waits_for_its_words(void **state)
{
    rk_runtime *rt = ll_runtime(4);
    const uint32_t cap = rt->host_ring.capacity;
    uint64_t a = 0, v = 5, lap;
    rk_memory_usage u;
    (void)state;
    /* The memory monitor counts the slots as they are: twice the size. */
    assert_int_equal(rk_memory_usage_get(rt, &u), RK_OK);
    assert_int_equal(u.queue_bytes, rk_ring_bytes(4, 2 * 256));
    for (lap = 0; lap < 3; lap++) {
        const rk_msg h = header(7, 0, 1, 0, sizeof v);
        uint32_t src = 0;
        assert_int_equal(rk_ring_claim(&rt->host_ring, 1, &a), RK_OK);
        assert_int_equal(a % cap, 0);
        rk_ring_ll_put(&rt->host_ring, a, 8, (const unsigned char *)&h + 8, sizeof h - 8);
        rk_ring_ll_publish(&rt->host_ring, a);
        put_from(rt, 2, 100 + lap);
        /* The payload's words: none yet (lap 0), or last lap's. */
        assert_true(recv_now(rt, NULL) == UINT64_MAX);
        v = 10 + lap;
        rk_ring_ll_put(&rt->host_ring, a, sizeof h, &v, sizeof v);
        assert_int_equal(rk__hostq_moved(rt), 1);
        assert_int_equal(recv_now(rt, &src), 10 + lap);
        assert_int_equal(src, 1);
        assert_int_equal(recv_now(rt, &src), 100 + lap);
        assert_int_equal(src, 2);
        /* The rest of the lap, so that the next one starts at slot 0. */
        for (uint32_t i = 2; i < cap; i++) {
            put_from(rt, 3, i);
            assert_int_equal(recv_now(rt, NULL), i);
        }
    }
    assert_int_equal(rk_ring_depth(&rt->host_ring), 0);
    assert_int_equal(rk_dead_letter_count(rt), 0);
    rk_runtime_destroy(rt);
}

/* Producers that hold their slot marked for a while before they publish,
 * the host receiving meanwhile: every message arrives once, each
 * producer's in order. Run under ThreadSanitizer too. */
enum { PRODUCERS = 4, PER_PRODUCER = 20000 };

typedef struct producer {
    rk_runtime *rt;
    uint32_t id;
} producer;

static void *produce(void *arg)
{
    const producer *p = arg;
    uint32_t x = p->id * 2654435761u + 1;
    for (uint64_t i = 0; i < PER_PRODUCER; i++) {
        uint64_t pos = 0;
        while (rk_ring_claim(&p->rt->host_ring, 1, &pos) != RK_OK)
            rk_test_sleep_ns(1000);
        x = x * 1664525u + 1013904223u;
        if ((x >> 28) < 2) {
            /* Held a while, marked: the others pass it meanwhile. */
            __atomic_store_n((uint64_t *)rk_ring_slot(&p->rt->host_ring, pos), rk_ring_mark_word(pos, p->id),
                             __ATOMIC_RELAXED);
            rk_test_sleep_ns((x >> 16) % 20000);
            if ((x >> 24) % 4 == 0) {
                /* A reservation left unused: a NOP, then the message in a
                 * slot of its own (spec/hostq.pml, hostq.nop_head). */
                const rk_msg h = header(RK_MSG_TYPE_NOP, 0, p->id, 0, 0);
                write_slot(p->rt, pos, &h, NULL, 0);
                while (rk_ring_claim(&p->rt->host_ring, 1, &pos) != RK_OK)
                    rk_test_sleep_ns(1000);
            }
        }
        {
            /* Now and then an LL slot's words arrive after its sequence word. */
            const rk_msg h = header(7, 0, p->id, 0, sizeof i);
            write_slot(p->rt, pos, &h, &i, (x >> 20) % 8 == 0);
        }
    }
    return NULL;
}

static void stress_marked_producers(void **state)
{
    rk_runtime *rt = cpu_runtime();
    producer p[PRODUCERS];
    pthread_t th[PRODUCERS];
    uint64_t next[PRODUCERS] = {0}, got = 0, deadline = rk_test_now_ns() + 120 * SEC;
    (void)state;
    for (uint32_t i = 0; i < PRODUCERS; i++) {
        p[i].rt = rt;
        p[i].id = i + 1;
        assert_int_equal(pthread_create(&th[i], NULL, produce, &p[i]), 0);
    }
    while (got < (uint64_t)PRODUCERS * PER_PRODUCER && rk_test_now_ns() < deadline) {
        uint64_t v = 0;
        rk_msgbuf mb = {.data = &v, .capacity = sizeof v};
        rk_status st = rk_recv(rt, &mb, 100 * 1000000ull);
        if (st == RK_ETIMEDOUT)
            continue;
        assert_int_equal(st, RK_OK);
        assert_true(mb.hdr.src >= 1 && mb.hdr.src <= PRODUCERS);
        assert_int_equal(v, next[mb.hdr.src - 1]); /* each producer's order, nothing twice or lost */
        next[mb.hdr.src - 1]++;
        got++;
    }
    for (uint32_t i = 0; i < PRODUCERS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_int_equal(got, (uint64_t)PRODUCERS * PER_PRODUCER);
    assert_int_equal(rk_ring_depth(&rt->host_ring), 0);
    rk_runtime_destroy(rt);
}

/* ---- a backend that is gone ---------------------------------------------------- */

static rk_status silent_handle(rk_ctx *ctx, void *state, const rk_msg *m)
{
    (void)ctx;
    (void)state;
    (void)m;
    return RK_OK; /* never replies */
}

/* rk_recv takes what the backend wrote before it went, then ends with
 * RK_EDEVICE at once, also when it goes while rk_recv waits. */
static void recv_ends_when_backend_gone(void **state)
{
    rk_runtime *rt = cpu_runtime();
    uint64_t v = 0, t0;
    rk_msgbuf mb = {.data = &v, .capacity = sizeof v};
    rk_goner g = {.after_ns = 50000000ull};
    (void)state;
    rk_gone_use(rt);
    assert_int_equal(rk_recv(rt, &mb, 0), RK_ETIMEDOUT);
    put(rt, 7, 0, 0, 41);
    atomic_store(&rk_gone, 1);
    assert_int_equal(rk_recv(rt, &mb, 10 * SEC), RK_OK);
    assert_int_equal(v, 41);
    t0 = rk_test_now_ns();
    assert_int_equal(rk_recv(rt, &mb, 10 * SEC), RK_EDEVICE);
    assert_int_equal(rk_recv(rt, &mb, 0), RK_EDEVICE);
    assert_true(rk_test_now_ns() - t0 < 5 * SEC);

    atomic_store(&rk_gone, 0);
    t0 = rk_test_now_ns();
    assert_int_equal(pthread_create(&g.thread, NULL, rk_goner_main, &g), 0);
    assert_int_equal(rk_recv(rt, &mb, 30 * SEC), RK_EDEVICE);
    assert_true(rk_test_now_ns() - t0 >= g.after_ns);
    assert_true(rk_test_now_ns() - t0 < 10 * SEC);
    assert_int_equal(pthread_join(g.thread, NULL), 0);
    assert_int_equal(rk_dead_letter_count(rt), 0);
    rk_runtime_destroy(rt);
}

/* rk_call to an actor that will not answer ends with RK_EDEVICE when the
 * backend goes, not at its timeout. */
static void call_ends_when_backend_gone(void **state)
{
    static const rk_actor_type silent = {.name = "silent", .handle = silent_handle};
    rk_runtime *rt = cpu_runtime();
    rk_actor_options o;
    rk_actor_id id = RK_ACTOR_NONE;
    uint64_t v = 5, r = 0, t0;
    rk_msgbuf reply = {.data = &r, .capacity = sizeof r};
    rk_goner g = {.after_ns = 50000000ull};
    (void)state;
    rk_gone_use(rt);
    rk_actor_options_init(&o);
    o.name = "silent";
    o.type = &silent;
    assert_int_equal(rk_launch(rt, &o, &id), RK_OK);
    assert_int_equal(rk_call(rt, id, 3, &v, sizeof v, &reply, 1000000ull), RK_ETIMEDOUT);
    t0 = rk_test_now_ns();
    assert_int_equal(pthread_create(&g.thread, NULL, rk_goner_main, &g), 0);
    assert_int_equal(rk_call(rt, id, 3, &v, sizeof v, &reply, 30 * SEC), RK_EDEVICE);
    assert_true(rk_test_now_ns() - t0 >= g.after_ns);
    assert_true(rk_test_now_ns() - t0 < 10 * SEC);
    assert_int_equal(pthread_join(g.thread, NULL), 0);
    rk_runtime_destroy(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(recv_skips_nops),
        cmocka_unit_test(shutdown_does_not_count_nops),
        cmocka_unit_test(marked_slot_holds_only_its_owner),
        cmocka_unit_test(unmarked_slot_holds_everything),
        cmocka_unit_test(held_slot_across_laps),
        cmocka_unit_test(too_many_marked_owners),
        cmocka_unit_test(shutdown_counts_past_marked),
        cmocka_unit_test(ll_slot_waits_for_its_words),
        cmocka_unit_test(stress_marked_producers),
        cmocka_unit_test(recv_ends_when_backend_gone),
        cmocka_unit_test(call_ends_when_backend_gone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
