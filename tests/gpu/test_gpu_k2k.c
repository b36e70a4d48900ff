/* Actor to actor inside the running kernel: relays on different blocks in a
 * ring pass a token RK_STRESS_MESSAGES times (default 10^6); each checks
 * the token's checksum before passing it on, so a corrupted or reordered
 * token fails the actor. Then eight tokens circulate at once through the
 * same ring (several producers per K2K queue). Last, fan-in: four actors
 * each send RK_STRESS_MESSAGES / 50 numbered messages to one receiver as
 * fast as it takes them, which checks every sender's order (its queue
 * stays full: four producers race for its slots) while the host calls it
 * back to back, which must not starve its K2K queue. */
#include "gpu_test.h"

#define RELAYS 8
#define TOKENS 8
#define BURSTERS 4

static void fan_in(rk_runtime *rt, uint64_t n)
{
    rk_actor_id sink = rkt_launch(rt, "fanin-sink", RKT_FANIN), b[BURSTERS];
    rkt_fanin_state st;
    rk_msgbuf mb = {.data = &st, .capacity = sizeof st};
    uint64_t t0 = rk_test_now_ns(), end = t0 + 60 * RKT_SEC;
    char name[32];
    uint32_t i;
    for (i = 0; i < BURSTERS; i++) {
        rkt_burst go = {sink, i, n, 0, 0};
        snprintf(name, sizeof name, "burster%u", i);
        b[i] = rkt_launch(rt, name, RKT_FANIN);
        RKT_CHECK_ST(rk_send(rt, b[i], RKT_MSG_BURST, &go, sizeof go), RK_OK);
    }
    /* The host calls the sink back to back: its messages must not starve
     * the sink's K2K ring. The block takes turns (rk__gpu_decide), so while
     * the bursters keep the ring full each call sees at least one more
     * message. Strict priority for the host took ~25 calls a message on an
     * H200 (4 x 4001 in 2.6 s, against 0.05 s with pauses between the
     * calls) and stalled the fan-in outright under compute-sanitizer
     * (docs/benchmarks/h200-session27-2026-12-04.md). The bound leaves room
     * for the calls before the bursters start and a few with the ring
     * drained. RKT_FANIN_POLL_US: a pause between the calls, to compare. */
    const useconds_t pause = (useconds_t)rkt_env("RKT_FANIN_POLL_US", 0);
    uint64_t calls = 0;
    do {
        if (pause)
            usleep(pause);
        RKT_CHECK_ST(rk_call(rt, sink, RKT_MSG_GET, NULL, 0, &mb, 5 * RKT_SEC), RK_OK);
        calls++;
    } while (st.received < BURSTERS * n && st.errors == 0 && rk_test_now_ns() < end);
    printf("k2k: fan-in: %llu host calls while %llu messages came in (%.2f a message)\n",
           (unsigned long long)calls, (unsigned long long)st.received, (double)calls / (double)(st.received + 1));
    if (st.errors != 0 || st.received != BURSTERS * n) {
        printf("k2k: fan-in stopped after %.3f s: %llu of %llu received, %llu errors; per sender",
               (double)(rk_test_now_ns() - t0) / 1e9, (unsigned long long)st.received,
               (unsigned long long)(BURSTERS * n), (unsigned long long)st.errors);
        for (i = 0; i < BURSTERS; i++)
            printf(" %llu", (unsigned long long)st.expected[i]);
        printf("\n");
        /* A burster whose rk_dsend_wait timed out (10 s) has failed. */
        for (i = 0; i < BURSTERS; i++) {
            rk_actor_metrics m;
            if (rk_actor_metrics_get(rt, b[i], &m) == RK_OK)
                printf("k2k: burster%u: state %d, %llu errors, %llu in, %llu out\n", i, (int)m.state,
                       (unsigned long long)m.errors, (unsigned long long)m.msgs_in, (unsigned long long)m.msgs_out);
        }
        rk_async_error err;
        while (rk_runtime_error(rt, &err) == RK_OK)
            printf("k2k: async error: actor %llu, status %d\n", (unsigned long long)err.actor, (int)err.status);
    }
    RKT_CHECK(st.errors == 0 && st.received == BURSTERS * n);
    RKT_CHECK(pause || calls <= 2 * BURSTERS * n + 100);
    for (i = 0; i < BURSTERS; i++)
        RKT_CHECK(st.expected[i] == n);
    printf("k2k: fan-in of %d x %llu messages, each sender's order kept, in %.3f s\n", BURSTERS,
           (unsigned long long)n, (double)(rk_test_now_ns() - t0) / 1e9);
}

int main(void)
{
    uint64_t hops = rk_test_messages(1000000ull), t0, t1, passes = 0;
    rk_runtime *rt = rkt_runtime(RELAYS + BURSTERS + 4);
    rk_actor_id id[RELAYS], from = RK_ACTOR_NONE;
    unsigned char buf[256];
    rk_msgbuf mb = {.data = buf, .capacity = sizeof buf};
    rk_async_error err;
    rkt_token tok, *got = (rkt_token *)buf;
    uint32_t i, done;
    char name[32];

    for (i = 0; i < RELAYS; i++) {
        snprintf(name, sizeof name, "relay%u", i);
        id[i] = rkt_launch(rt, name, RKT_RELAY);
    }
    rkt_ring_setup(rt, id, RELAYS);
    t1 = rkt_ring_pass(rt, id[0], hops, 300 * RKT_SEC, &from);
    RKT_CHECK(from == id[(hops - 1) % RELAYS]);
    printf("k2k: one token, %llu hops across %d blocks in %.3f s: %.3f us per hop\n", (unsigned long long)hops,
           RELAYS, (double)t1 / 1e9, (double)t1 / 1e3 / (double)hops);

    /* Several tokens at once: each starts on its own relay. */
    t0 = rk_test_now_ns();
    for (i = 0; i < TOKENS; i++) {
        memset(&tok, 0, sizeof tok);
        tok.target = hops / 4 + 1;
        tok.check = rkt_token_check(0);
        RKT_CHECK_ST(rk_send(rt, id[i % RELAYS], RKT_MSG_TOKEN, &tok, sizeof tok), RK_OK);
    }
    for (done = 0; done < TOKENS; done++) {
        RKT_CHECK_ST(rk_recv(rt, &mb, 300 * RKT_SEC), RK_OK);
        RKT_CHECK(mb.hdr.type == RKT_MSG_DONE && got->hops == hops / 4 + 1);
        RKT_CHECK(got->check == rkt_token_check(got->hops));
    }
    t1 = rk_test_now_ns();
    printf("k2k: %d tokens x %llu hops in %.3f s: %.2f M hops/s\n", TOKENS, (unsigned long long)(hops / 4 + 1),
           (double)(t1 - t0) / 1e9, (double)TOKENS * (double)(hops / 4 + 1) * 1e3 / (double)(t1 - t0));

    /* Every hop counted once (counters reach the host when blocks idle). */
    for (t0 = rk_test_now_ns(); rk_test_now_ns() - t0 < 10 * RKT_SEC;) {
        passes = 0;
        for (i = 0; i < RELAYS; i++) {
            rk_actor_metrics m;
            RKT_CHECK_ST(rk_actor_metrics_get(rt, id[i], &m), RK_OK);
            RKT_CHECK(m.state == RK_ACTIVE && m.errors == 0);
            passes += m.msgs_in - 1; /* less the SETUP */
        }
        if (passes == hops + TOKENS * (hops / 4 + 1))
            break;
    }
    RKT_CHECK(passes == hops + TOKENS * (hops / 4 + 1));
    fan_in(rt, hops / 50 + 1);
    RKT_CHECK_ST(rk_runtime_error(rt, &err), RK_EEMPTY);
    RKT_CHECK(rk_dead_letter_count(rt) == 0);
    rk_runtime_destroy(rt);
    return 0;
}
