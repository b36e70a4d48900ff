/* Host -> GPU actor requests (rk_call) of every size, from several threads:
 *
 *   mixed      four host threads call echo actors with payloads of 0..199
 *              bytes (inline up to 192, by reference past that); two of them
 *              share one actor. Thread 2 also sends one-way messages between
 *              its calls, through an inbox of 8 slots, and receives their
 *              echoes with rk_recv while the others' replies go to their
 *              calls. Every reply must be the request's payload, byte for
 *              byte (a checksum for one by reference).
 *   dead       requests left in an inbox at shutdown are dead letters with
 *              their headers: a request's flag, its correlation id, its
 *              length.
 *
 * RK_STRESS_MESSAGES sets the number of calls (default 400000). */
#include <pthread.h>

#include "gpu_test.h"

#define THREADS 4
#define MAX_LEN 200
#define SMALL_INBOX 8u
#define SLOT_BYTES 256u /* the actors' inbox slots: rk_actor_options' default */

typedef struct caller {
    rk_runtime *rt;
    rk_actor_id actor;
    uint32_t index;
    uint64_t calls;
    uint64_t sends;
    rk_status failed;
    char why[160];
} caller;

static void fill(unsigned char *p, uint32_t len, uint32_t who, uint64_t seq)
{
    uint32_t i;
    for (i = 0; i < len; i++)
        p[i] = (unsigned char)(seq * 31u + i * 7u + who);
}

static int check_reply(caller *c, const rk_msgbuf *mb, const unsigned char *sent, uint32_t len)
{
    const uint32_t inline_max = rk_msg_inline_capacity(SLOT_BYTES);
    if (len > inline_max) {
        /* By reference: the echo answers with the payload's byte sum. */
        const rkt_sum *r = (const rkt_sum *)mb->data;
        uint64_t sum = 0;
        uint32_t i;
        for (i = 0; i < len; i++)
            sum += sent[i];
        if (mb->hdr.type != RKT_MSG_SUM || mb->hdr.len != sizeof *r || r->sum != sum || r->len != len) {
            snprintf(c->why, sizeof c->why, "by-reference reply of %u bytes wrong", len);
            return 0;
        }
        return 1;
    }
    if (mb->hdr.type != RKT_MSG_ECHO || mb->hdr.len != len || memcmp(mb->data, sent, len) != 0) {
        snprintf(c->why, sizeof c->why, "reply of %u bytes (type %u, len %u) is not the payload", len,
                 mb->hdr.type, mb->hdr.len);
        return 0;
    }
    return 1;
}

static void *call_loop(void *arg)
{
    caller *c = arg;
    unsigned char p[MAX_LEN + 64], back[MAX_LEN + 64];
    rk_msgbuf mb = {.data = back, .capacity = sizeof back};
    uint64_t seq;
    for (seq = 0; seq < c->calls; seq++) {
        const uint32_t len = (uint32_t)((seq * 37u + c->index * 11u) % MAX_LEN);
        fill(p, len, c->index, seq);
        c->failed = rk_call(c->rt, c->actor, RKT_MSG_ECHO, p, len, &mb, 30 * RKT_SEC);
        if (c->failed != RK_OK) {
            snprintf(c->why, sizeof c->why, "call %llu of %u bytes: %s", (unsigned long long)seq, len,
                     rk_status_name(c->failed));
            return NULL;
        }
        if (!check_reply(c, &mb, p, len)) {
            c->failed = RK_EINTERNAL;
            return NULL;
        }
        if (c->index == 2 && seq % 3 == 0) {
            /* A one-way message; the echo's answer comes to rk_recv. */
            const uint32_t olen = (uint32_t)((seq * 13u) % (rk_msg_inline_capacity(SLOT_BYTES) + 1u));
            fill(p, olen, 9, seq);
            c->failed = rk_send(c->rt, c->actor, RKT_MSG_ECHO, p, olen);
            if (c->failed == RK_OK)
                c->failed = rk_recv(c->rt, &mb, 30 * RKT_SEC);
            if (c->failed != RK_OK) {
                snprintf(c->why, sizeof c->why, "one-way %llu: %s", (unsigned long long)seq,
                         rk_status_name(c->failed));
                return NULL;
            }
            if (!check_reply(c, &mb, p, olen)) {
                c->failed = RK_EINTERNAL;
                return NULL;
            }
            c->sends++;
        }
    }
    return NULL;
}

static void test_mixed(void)
{
    const uint64_t total = rk_test_messages(400000ull);
    rk_runtime *rt = rkt_runtime(8);
    caller cs[THREADS];
    pthread_t th[THREADS];
    rk_actor_id shared = rkt_launch(rt, "shared", RKT_ECHO), own[2];
    rk_shutdown_report rep;
    rk_async_error err;
    uint64_t t0, ns, calls = 0, sends = 0;
    uint32_t i;
    RKT_CHECK_ST(rkt_launch_ex(rt, "small", RKT_ECHO, NULL, 0, SMALL_INBOX, 0, &own[0]), RK_OK);
    own[1] = rkt_launch(rt, "own", RKT_ECHO);
    for (i = 0; i < THREADS; i++)
        cs[i] = (caller){rt, i < 2 ? shared : own[i - 2], i, total / THREADS, 0, RK_OK, ""};
    t0 = rk_test_now_ns();
    for (i = 0; i < THREADS; i++)
        RKT_CHECK(pthread_create(&th[i], NULL, call_loop, &cs[i]) == 0);
    for (i = 0; i < THREADS; i++) {
        RKT_CHECK(pthread_join(th[i], NULL) == 0);
        if (cs[i].failed != RK_OK)
            fprintf(stderr, "thread %u: %s\n", i, cs[i].why);
        RKT_CHECK_ST(cs[i].failed, RK_OK);
        calls += cs[i].calls;
        sends += cs[i].sends;
    }
    ns = rk_test_now_ns() - t0;
    RKT_CHECK_ST(rk_runtime_error(rt, &err), RK_EEMPTY);
    RKT_CHECK(rk_dead_letter_count(rt) == 0);
    RKT_CHECK_ST(rk_runtime_shutdown(rt, &rep), RK_OK);
    RKT_CHECK(rep.dead_lettered == 0 && !rep.timed_out);
    rk_runtime_destroy(rt);
    printf("mixed: %llu calls and %llu one-way messages of 0..%u bytes through 3 actors in %.2f s, every "
           "reply intact\n",
           (unsigned long long)calls, (unsigned long long)sends, MAX_LEN - 1, (double)ns / 1e9);
}

static void test_dead(void)
{
    rk_runtime_options o;
    rk_runtime *rt;
    rk_shutdown_report rep;
    rk_dead_letter dl;
    rkt_wait w = {0, 60 * RKT_SEC};
    unsigned char p[64], back[64];
    rk_msgbuf mb = {.data = back, .capacity = sizeof back};
    rk_actor_id sl;
    uint32_t i, seen = 0, lens = 0;
    rkt_options(&o, 8, &rkt_program);
    o.drain_timeout_ns = 200 * RKT_MS;
    rt = rkt_runtime_with(&o);
    RKT_CHECK_ST(rkt_launch_ex(rt, "sleeper", RKT_SLEEPER, NULL, 0, 64, 0, &sl), RK_OK);
    RKT_CHECK_ST(rk_send(rt, sl, RKT_MSG_WAIT, &w, sizeof w), RK_OK);
    /* Ten requests the sleeper never gets to: each call times out and its
     * request stays in the inbox. */
    for (i = 0; i < 10; i++) {
        memset(p, (int)(0x40 + i), sizeof p);
        RKT_CHECK_ST(rk_call(rt, sl, RKT_MSG_NOP, p, 6u * i + 4u, &mb, 2 * RKT_MS), RK_ETIMEDOUT);
    }
    RKT_CHECK_ST(rk_runtime_shutdown(rt, &rep), RK_OK);
    RKT_CHECK(rep.timed_out && rep.dead_lettered == 10);
    while (rk_dead_letter_pop(rt, &dl, NULL) == RK_OK) {
        if (dl.reason != RK_ESHUTDOWN || dl.hdr.dst != sl || dl.hdr.type != RKT_MSG_NOP)
            continue;
        RKT_CHECK(dl.hdr.flags == RK_MSG_F_REQUEST && dl.hdr.corr != 0 && dl.hdr.src == RK_ACTOR_HOST);
        RKT_CHECK(dl.hdr.len % 6u == 4u && dl.hdr.len <= 58u);
        lens |= 1u << (dl.hdr.len / 6u);
        seen++;
    }
    RKT_CHECK(seen == 10 && lens == 0x3FFu);
    rk_runtime_destroy(rt);
    printf("dead: 10 requests left in an inbox at shutdown, dead letters with their headers: ok\n");
}

int main(void)
{
    if (rkt_stage_on("RKT_CALLS", "mixed"))
        test_mixed();
    if (rkt_stage_on("RKT_CALLS", "dead"))
        test_dead();
    return 0;
}
