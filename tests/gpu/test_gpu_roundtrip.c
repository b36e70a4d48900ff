/* Host -> GPU actor -> host, RK_STRESS_MESSAGES messages (default 10^7):
 * four host threads each send their own numbered stream to their own echo
 * actor; one receiver checks that every message comes back once, in its
 * sender's order, with its payload intact. Every 1000th message is larger
 * than an inbox slot and travels by reference; the actor answers those
 * with a checksum computed by its whole block. Senders 0 and 1 send with
 * rk_send, senders 2 and 3 in batches of BATCH (rk_send_batch, resending
 * from where RK_EFULL cut a batch); a batch's messages share one length,
 * and every 64th batch travels by reference. */
#include <pthread.h>
#include <sched.h>

#include "gpu_test.h"

#define SENDERS 4
#define BIG_EVERY 1000
#define BIG_LEN 4096
#define BATCH 16
#define BATCHED(sender) ((sender) >= 2)

typedef struct sender {
    rk_runtime *rt;
    rk_actor_id actor;
    uint32_t index;
    uint64_t count;
    uint64_t full; /* RK_EFULL answers (retried) */
    rk_status failed;
} sender;

static uint32_t payload_len(uint32_t sender, uint64_t seq)
{
    if (BATCHED(sender)) {
        uint64_t b = seq / BATCH;
        return b % 64 == 63 ? BIG_LEN : (uint32_t)(sizeof(rkt_stress) + (b * BATCH) % 177);
    }
    return seq % BIG_EVERY == BIG_EVERY - 1 ? BIG_LEN : (uint32_t)(sizeof(rkt_stress) + seq % 177);
}

static void fill(unsigned char *buf, uint32_t sender_index, uint64_t seq, uint32_t len)
{
    rkt_stress h = {sender_index, len, seq};
    uint32_t i;
    memcpy(buf, &h, sizeof h);
    for (i = sizeof h; i < len; i++)
        buf[i] = rkt_pattern(seq, i);
}

static uint64_t byte_sum(const unsigned char *buf, uint32_t len)
{
    uint64_t s = 0;
    uint32_t i;
    for (i = 0; i < len; i++)
        s += buf[i];
    return s;
}

static void *send_batches(sender *s)
{
    unsigned char *buf = malloc((size_t)BATCH * BIG_LEN);
    uint64_t seq;
    RKT_CHECK(buf != NULL);
    for (seq = 0; seq < s->count; seq += BATCH) {
        uint32_t len = payload_len(s->index, seq), n = s->count - seq < BATCH ? (uint32_t)(s->count - seq) : BATCH;
        uint32_t done = 0, k;
        for (k = 0; k < n; k++)
            fill(buf + (size_t)k * len, s->index, seq + k, len);
        while (done < n) {
            uint32_t sent = 0;
            rk_status st = rk_send_batch(s->rt, s->actor, RKT_MSG_ECHO, buf + (size_t)done * len, len, n - done, &sent);
            done += sent;
            if (st == RK_EFULL) {
                s->full++;
                sched_yield();
            } else if (st != RK_OK) {
                s->failed = st;
                free(buf);
                return NULL;
            }
        }
    }
    free(buf);
    return NULL;
}

static void *send_loop(void *arg)
{
    sender *s = arg;
    unsigned char buf[BIG_LEN];
    uint64_t seq;
    if (BATCHED(s->index))
        return send_batches(s);
    for (seq = 0; seq < s->count; seq++) {
        uint32_t len = payload_len(s->index, seq);
        rk_status st;
        fill(buf, s->index, seq, len);
        while ((st = rk_send(s->rt, s->actor, RKT_MSG_ECHO, buf, len)) == RK_EFULL) {
            s->full++;
            sched_yield();
        }
        if (st != RK_OK) {
            s->failed = st;
            break;
        }
    }
    return NULL;
}

int main(void)
{
    uint64_t total = rk_test_messages(10000000ull), per = total / SENDERS, got = 0, next[SENDERS] = {0};
    rk_runtime *rt = rkt_runtime(16);
    sender snd[SENDERS];
    pthread_t th[SENDERS];
    unsigned char buf[256], expect[BIG_LEN];
    rk_msgbuf mb = {.data = buf, .capacity = sizeof buf};
    rk_shutdown_report rep;
    rk_async_error err;
    uint64_t t0, t1, full = 0;
    uint32_t i;
    char name[32];

    for (i = 0; i < SENDERS; i++) {
        snprintf(name, sizeof name, "echo%u", i);
        snd[i] = (sender){rt, rkt_launch(rt, name, RKT_ECHO), i, per, 0, RK_OK};
    }
    t0 = rk_test_now_ns();
    for (i = 0; i < SENDERS; i++)
        RKT_CHECK(pthread_create(&th[i], NULL, send_loop, &snd[i]) == 0);
    while (got < per * SENDERS) {
        const rkt_stress *h = (const rkt_stress *)buf;
        rk_status st = rk_recv(rt, &mb, 10 * RKT_SEC);
        if (st != RK_OK) {
            fprintf(stderr, "rk_recv after %llu messages: %s\n", (unsigned long long)got, rk_status_name(st));
            return 1;
        }
        RKT_CHECK(h->sender < SENDERS);
        RKT_CHECK(mb.hdr.src == snd[h->sender].actor);
        if (h->seq != next[h->sender]) {
            fprintf(stderr, "sender %u: got seq %llu, want %llu\n", h->sender, (unsigned long long)h->seq,
                    (unsigned long long)next[h->sender]);
            return 1;
        }
        if (mb.hdr.type == RKT_MSG_SUM) {
            const rkt_sum *r = (const rkt_sum *)buf;
            RKT_CHECK(mb.hdr.len == sizeof *r && r->len == BIG_LEN && payload_len(r->sender, r->seq) == BIG_LEN);
            fill(expect, r->sender, r->seq, BIG_LEN);
            RKT_CHECK(r->sum == byte_sum(expect, BIG_LEN));
        } else {
            RKT_CHECK(mb.hdr.type == RKT_MSG_ECHO);
            RKT_CHECK(mb.hdr.len == payload_len(h->sender, h->seq) && h->len == mb.hdr.len);
            fill(expect, h->sender, h->seq, mb.hdr.len);
            RKT_CHECK(memcmp(expect, buf, mb.hdr.len) == 0);
        }
        next[h->sender]++;
        got++;
    }
    t1 = rk_test_now_ns();
    for (i = 0; i < SENDERS; i++) {
        RKT_CHECK(pthread_join(th[i], NULL) == 0);
        RKT_CHECK_ST(snd[i].failed, RK_OK);
        RKT_CHECK(next[i] == per);
        full += snd[i].full;
    }
    RKT_CHECK_ST(rk_recv(rt, &mb, 100 * RKT_MS), RK_ETIMEDOUT); /* nothing duplicated */
    RKT_CHECK_ST(rk_runtime_error(rt, &err), RK_EEMPTY);
    RKT_CHECK(rk_dead_letter_count(rt) == 0);
    for (i = 0; i < SENDERS; i++) {
        rk_actor_metrics m = rkt_wait_msgs_in(rt, snd[i].actor, per);
        RKT_CHECK(m.msgs_in == per && m.state == RK_ACTIVE && m.errors == 0);
    }
    RKT_CHECK_ST(rk_runtime_shutdown(rt, &rep), RK_OK);
    RKT_CHECK(rep.dead_lettered == 0 && rep.host_unread == 0 && !rep.timed_out);
    rk_runtime_destroy(rt);
    printf("roundtrip: %llu messages through %d GPU actors in %.3f s: %.2f M msgs/s (%llu EFULL retries)\n",
           (unsigned long long)got, SENDERS, (double)(t1 - t0) / 1e9, (double)got * 1e3 / (double)(t1 - t0),
           (unsigned long long)full);
    return 0;
}
