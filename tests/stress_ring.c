/* Multi-threaded stress of ring.h.
 *
 *   spsc          1 producer, 1 consumer; batch claims of 1..32, batch reads,
 *                 one consume per batch
 *   mpsc          4 producers, 1 consumer, roomy ring
 *   mpsc-small    4 producers on a ring of 8 slots: the producers keep finding
 *                 it full and refreshing their cached head
 *   mpsc-no-false-full
 *                 8 producers that never have more than 4 messages each in
 *                 flight on a ring of 64 slots, so the ring is never full:
 *                 any RK_EFULL from rk_ring_claim breaks its contract
 *
 * Every message carries (producer, sequence number, payload, checksum); the
 * consumer checks that nothing is lost, duplicated, reordered within a
 * producer, or corrupted. Every wait is bounded by a wall-clock deadline and
 * fails the run instead of hanging. Each part moves N messages in total
 * (mpsc-small N/4, its contention makes it slow), N = RK_STRESS_MESSAGES
 * (default 10 000 000). Returns 0 on success, 1 on failure. */
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk_test.h"
#include "ringkernel/ring.h"

#define DEADLINE_NS (120ull * 1000000000ull)
#define MAX_PRODUCERS 8
#define SLOT_SIZE 128u

/* The slot layout: the ring's sequence word, then our fields. */
typedef struct smsg {
    uint64_t seq;
    uint32_t producer;
    uint32_t len; /* payload bytes, a multiple of 8 */
    uint64_t n;   /* the producer's sequence number, from 0 */
    uint64_t sum; /* checksum of the payload bytes */
    uint64_t payload[];
} smsg;

#define MAX_WORDS ((SLOT_SIZE - sizeof(smsg)) / sizeof(uint64_t))

_Static_assert(sizeof(smsg) == 32, "test message header");

/* ---- failure reporting and bounded waits ----------------------------------- */

static atomic_int g_abort; /* set on the first failure: every thread stops */
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

typedef struct waiter {
    uint64_t deadline;
    unsigned spins;
} waiter;

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* One round of waiting. Returns 0 when the thread must give up: the deadline
 * passed (reported as `what`) or another thread failed. More threads than
 * cores is the normal case here, so yield soon. */
static int wait_once(waiter *w, const char *what)
{
    w->spins++;
    if (w->spins < 32)
        cpu_relax();
    else
        sched_yield();
    if ((w->spins & 255u) == 0) {
        if (atomic_load_explicit(&g_abort, memory_order_relaxed))
            return 0;
        if (rk_test_now_ns() > w->deadline) {
            fail("%s: still waiting at the %llu s deadline", what,
                 (unsigned long long)(DEADLINE_NS / 1000000000ull));
            return 0;
        }
    }
    return 1;
}

/* ---- message content ----------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    x ^= x >> 31;
    return x;
}

static uint64_t payload_word(uint32_t producer, uint64_t n, uint32_t i)
{
    return mix64(((uint64_t)producer << 56) ^ (n << 6) ^ i);
}

/* FNV-1a over the bytes: independent of how payload_word made them. */
static uint64_t checksum(const void *p, size_t len)
{
    const unsigned char *b = p;
    uint64_t h = 0xCBF29CE484222325ull;
    size_t i;
    for (i = 0; i < len; i++) {
        h ^= b[i];
        h *= 0x100000001B3ull;
    }
    return h;
}

/* Payload length varies with n, up to max_words words. */
static uint32_t payload_words(uint64_t n, uint32_t max_words)
{
    return (uint32_t)(mix64(n) % (max_words + 1));
}

static void fill_msg(smsg *m, uint32_t producer, uint64_t n, uint32_t max_words)
{
    uint32_t i, words = payload_words(n, max_words);
    m->producer = producer;
    m->len = words * 8u;
    m->n = n;
    for (i = 0; i < words; i++)
        m->payload[i] = payload_word(producer, n, i);
    m->sum = checksum(m->payload, m->len);
}

/* Checks a received message against what its producer must have sent next. */
static int check_msg(const smsg *m, uint64_t pos, uint32_t nproducers, uint32_t max_words,
                     const uint64_t *expected)
{
    uint32_t i, words;
    if (m->seq != pos + 1) {
        fail("position %" PRIu64 ": sequence word %" PRIu64 ", want %" PRIu64, pos, m->seq, pos + 1);
        return 0;
    }
    if (m->producer >= nproducers) {
        fail("position %" PRIu64 ": producer id %u out of range", pos, m->producer);
        return 0;
    }
    if (m->n != expected[m->producer]) {
        fail("position %" PRIu64 ": producer %u message %" PRIu64 ", want %" PRIu64 " (%s)", pos,
             m->producer, m->n, expected[m->producer],
             m->n < expected[m->producer] ? "duplicate" : "lost or reordered");
        return 0;
    }
    words = payload_words(m->n, max_words);
    if (m->len != words * 8u || checksum(m->payload, m->len) != m->sum) {
        fail("position %" PRIu64 ": producer %u message %" PRIu64 ": bad length or checksum", pos,
             m->producer, m->n);
        return 0;
    }
    for (i = 0; i < words; i++) {
        if (m->payload[i] != payload_word(m->producer, m->n, i)) {
            fail("position %" PRIu64 ": producer %u message %" PRIu64 ": payload word %u corrupt",
                 pos, m->producer, m->n, i);
            return 0;
        }
    }
    return 1;
}

/* ---- one run: a ring, its producers, its consumer -------------------------- */

typedef struct run {
    const char *name;
    rk_ring ring;
    void *mem;
    uint32_t nproducers;
    uint32_t max_batch; /* producers claim 1..max_batch at a time */
    uint32_t max_read;  /* the consumer reads 1..max_read, then consumes */
    uint32_t max_words; /* payload words per message: 0..max_words */
    /* 0, or the most unconsumed messages per producer: then the ring can
     * never fill and RK_EFULL is a bug */
    uint32_t max_inflight;
    uint64_t per_producer[MAX_PRODUCERS];
    uint64_t total;
    uint64_t deadline;
    /* results */
    atomic_ullong efull;               /* RK_EFULL answers to producers */
    atomic_ullong done[MAX_PRODUCERS]; /* consumed, for max_inflight */
    uint64_t received[MAX_PRODUCERS];
    uint64_t batches;
    uint64_t empty_polls;
} run;

typedef struct producer_arg {
    run *r;
    uint32_t id;
} producer_arg;

/* Waits until producer `id` may put one more message in flight. */
static int wait_inflight(run *r, uint32_t id, uint64_t sent, waiter *w)
{
    while (sent - atomic_load_explicit(&r->done[id], memory_order_acquire) >= r->max_inflight)
        if (!wait_once(w, "producer waiting for its messages to be consumed"))
            return 0;
    return 1;
}

static void *producer_main(void *p)
{
    producer_arg *a = p;
    run *r = a->r;
    const uint64_t count = r->per_producer[a->id];
    uint64_t sent = 0, rng = mix64(a->id + 1), efull = 0;
    waiter w = {r->deadline, 0};
    while (sent < count && !atomic_load_explicit(&g_abort, memory_order_relaxed)) {
        uint64_t pos = 0;
        uint32_t i, n = 1;
        rk_status st;
        rng = mix64(rng);
        if (r->max_batch > 1)
            n = 1 + (uint32_t)(rng % r->max_batch);
        if (n > count - sent)
            n = (uint32_t)(count - sent);
        if (r->max_inflight && !wait_inflight(r, a->id, sent, &w))
            break;
        while ((st = rk_ring_claim(&r->ring, n, &pos)) == RK_EFULL) {
            efull++;
            if (!wait_once(&w, "producer waiting for room"))
                goto out;
        }
        if (st != RK_OK) {
            fail("%s: producer %u: rk_ring_claim(%u) = %s", r->name, a->id, n, rk_status_name(st));
            break;
        }
        w.spins = 0;
        for (i = 0; i < n; i++)
            fill_msg(rk_ring_slot(&r->ring, pos + i), a->id, sent + i, r->max_words);
        rk_ring_publish(&r->ring, pos, n);
        sent += n;
    }
out:
    atomic_fetch_add(&r->efull, efull);
    return NULL;
}

static void consumer_loop(run *r)
{
    uint64_t head = rk_ring_head(&r->ring), got = 0, rng = 12345;
    uint64_t expected[MAX_PRODUCERS] = {0};
    uint64_t freed[MAX_PRODUCERS];
    waiter w = {r->deadline, 0};
    while (got < r->total && !atomic_load_explicit(&g_abort, memory_order_relaxed)) {
        uint32_t k = 0, limit, i;
        rng = mix64(rng);
        limit = 1 + (uint32_t)(rng % r->max_read);
        memset(freed, 0, sizeof freed);
        for (k = 0; k < limit; k++) {
            const smsg *m = rk_ring_ready(&r->ring, head);
            if (!m)
                break;
            if (!check_msg(m, head, r->nproducers, r->max_words, expected))
                return;
            expected[m->producer]++;
            freed[m->producer]++;
            head++;
        }
        if (k == 0) {
            r->empty_polls++;
            if (!wait_once(&w, "consumer waiting for a message"))
                break;
            continue;
        }
        w.spins = 0;
        rk_ring_consume(&r->ring, head); /* once per batch */
        r->batches++;
        got += k;
        if (r->max_inflight)
            for (i = 0; i < r->nproducers; i++)
                atomic_fetch_add_explicit(&r->done[i], freed[i], memory_order_release);
    }
    memcpy(r->received, expected, sizeof expected);
}

/* Runs producers and the consumer (this thread) to completion, then checks
 * the counts. Returns 1 when everything arrived intact. */
static int run_once(run *r, uint32_t capacity, enum rk_ring_mode mode)
{
    pthread_t th[MAX_PRODUCERS];
    producer_arg args[MAX_PRODUCERS];
    uint32_t i, started = 0;
    uint64_t t0, t1, sum = 0;
    int ok = 1;
    size_t bytes = rk_ring_bytes(capacity, SLOT_SIZE);
    r->mem = aligned_alloc(RK_RING_LINE, (bytes + RK_RING_LINE - 1) / RK_RING_LINE * RK_RING_LINE);
    if (!r->mem || rk_ring_init(&r->ring, r->mem, capacity, SLOT_SIZE, mode, RK_RING_SCOPE_SYSTEM)
                       != RK_OK) {
        fail("%s: ring setup failed", r->name);
        free(r->mem);
        return 0;
    }
    for (i = 0; i < r->nproducers; i++)
        sum += r->per_producer[i];
    r->total = sum;
    t0 = rk_test_now_ns();
    r->deadline = t0 + DEADLINE_NS;
    for (i = 0; i < r->nproducers; i++) {
        args[i].r = r;
        args[i].id = i;
        if (pthread_create(&th[i], NULL, producer_main, &args[i]) != 0) {
            fail("%s: pthread_create failed", r->name);
            break;
        }
        started++;
    }
    if (started == r->nproducers)
        consumer_loop(r);
    for (i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    t1 = rk_test_now_ns();
    for (i = 0; i < r->nproducers && !atomic_load(&g_abort); i++)
        if (r->received[i] != r->per_producer[i]) {
            fail("%s: producer %u: received %" PRIu64 " of %" PRIu64, r->name, i, r->received[i],
                 r->per_producer[i]);
        }
    if (!atomic_load(&g_abort) && rk_ring_depth(&r->ring) != 0)
        fail("%s: depth %" PRIu64 " after draining", r->name, rk_ring_depth(&r->ring));
    if (!atomic_load(&g_abort) && rk_ring_ready(&r->ring, rk_ring_head(&r->ring)) != NULL)
        fail("%s: a slot is ready past the last message", r->name);
    if (!atomic_load(&g_abort) && r->max_inflight && atomic_load(&r->efull) != 0)
        fail("%s: rk_ring_claim(1) returned RK_EFULL %llu time(s) although at most %u of %u "
             "slots were ever in use",
             r->name, (unsigned long long)atomic_load(&r->efull),
             r->max_inflight * r->nproducers, capacity);
    ok = !atomic_load(&g_abort);
    printf("%-20s %s  %" PRIu64 " msgs, %u producer(s), capacity %u, %" PRIu64
           " consume batches, %" PRIu64 " EFULL, %" PRIu64 " empty polls, %.2f s\n",
           r->name, ok ? "ok  " : "FAIL", r->total, r->nproducers, capacity, r->batches,
           (uint64_t)atomic_load(&r->efull), r->empty_polls, (double)(t1 - t0) / 1e9);
    fflush(stdout);
    free(r->mem);
    return ok;
}

static void split_count(run *r, uint32_t nproducers, uint64_t total)
{
    uint32_t i;
    r->nproducers = nproducers;
    for (i = 0; i < nproducers; i++)
        r->per_producer[i] = total / nproducers + (i < total % nproducers ? 1 : 0);
}

int main(void)
{
    const uint64_t n = rk_test_messages(10000000);
    static run spsc, mpsc, small, nofull;
    int ok;

    spsc.name = "spsc";
    split_count(&spsc, 1, n);
    spsc.max_batch = 32;
    spsc.max_read = 64;
    spsc.max_words = MAX_WORDS;
    ok = run_once(&spsc, 1024, RK_RING_SPSC);

    mpsc.name = "mpsc";
    split_count(&mpsc, 4, n);
    mpsc.max_batch = 8;
    mpsc.max_read = 64;
    mpsc.max_words = MAX_WORDS;
    ok = ok && run_once(&mpsc, 1024, RK_RING_MPSC);

    small.name = "mpsc-small";
    split_count(&small, 4, n / 4 > 0 ? n / 4 : 1);
    small.max_batch = 4;
    small.max_read = 8;
    small.max_words = MAX_WORDS;
    ok = ok && run_once(&small, 8, RK_RING_MPSC);

    /* Short messages, so that the producers spend their time in claim. */
    nofull.name = "mpsc-no-false-full";
    split_count(&nofull, 8, n);
    nofull.max_batch = 1;
    nofull.max_read = 8;
    nofull.max_words = 1;
    nofull.max_inflight = 4;
    ok = ok && run_once(&nofull, 64, RK_RING_MPSC);

    if (!ok) {
        printf("stress_ring: FAIL: %s\n", g_msg);
        return 1;
    }
    printf("stress_ring: ok: %" PRIu64 " messages checked (spsc %" PRIu64 ", mpsc %" PRIu64
           ", mpsc-small %" PRIu64 ", mpsc-no-false-full %" PRIu64 ")\n",
           spsc.total + mpsc.total + small.total + nofull.total, spsc.total, mpsc.total,
           small.total, nofull.total);
    return 0;
}
