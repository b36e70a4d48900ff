/* When the kernel is gone: a handler traps, which ends the whole kernel
 * (CUDA allows nothing else), and the runtime must say so rather than let
 * the host wait. The fault reaches rk_runtime_error as RK_EDEVICE; a host
 * thread already waiting in rk_recv returns RK_EDEVICE, not at its 60 s
 * timeout; later rk_call, rk_recv, rk_send, rk_send_batch and rk_send_wait
 * return it at once, and so do lifecycle commands; the shutdown ends and
 * counts the messages left in the inboxes as dead letters. A program of its own: the context stays unusable after the trap.
 * Not run under compute-sanitizer (the trap is the point). */
#include <pthread.h>
#include <stdlib.h>

#include "gpu_test.h"

#define LIMIT (10 * RKT_SEC) /* what "at once" must stay under; the waits ask for 60 s */

typedef struct receiver {
    pthread_t thread;
    rk_runtime *rt;
    rk_status result;
    uint64_t took_ns;
} receiver;

static void *receiver_main(void *arg)
{
    receiver *r = arg;
    uint64_t v = 0;
    rk_msgbuf mb = {.data = &v, .capacity = sizeof v};
    const uint64_t t0 = rk_test_now_ns();
    r->result = rk_recv(r->rt, &mb, 60 * RKT_SEC);
    r->took_ns = rk_test_now_ns() - t0;
    return NULL;
}

/* Pops asynchronous errors until the device's RK_EDEVICE shows, for up to 10 s. */
static void wait_device_error(rk_runtime *rt)
{
    const uint64_t end = rk_test_now_ns() + LIMIT;
    rk_async_error e;
    while (rk_test_now_ns() < end) {
        while (rk_runtime_error(rt, &e) == RK_OK)
            if (e.status == RK_EDEVICE)
                return;
        rk_test_sleep_ns(RKT_MS);
    }
    printf("the kernel's fault was not reported as RK_EDEVICE within 10 s\n");
    RKT_FAIL();
}

int main(void)
{
    rk_runtime_options o;
    rk_runtime *rt;
    rk_actor_id echo = RK_ACTOR_NONE, failer;
    rk_shutdown_report rep;
    receiver rc = {.result = RK_EINTERNAL};
    uint64_t v = 7, r = 0, t0, took;
    rk_msgbuf reply = {.data = &r, .capacity = sizeof r};
    uint32_t queued = 0, sent = 1, i;
    rk_status st;

    rkt_options(&o, 8, &rkt_program);
    o.drain_timeout_ns = RKT_SEC;
    rt = rkt_runtime_with(&o);
    RKT_CHECK_ST(rkt_launch_ex(rt, "echo", RKT_ECHO, NULL, 0, 8, 0, &echo), RK_OK);
    failer = rkt_launch(rt, "failer", RKT_FAILER);
    RKT_CHECK_ST(rk_call(rt, echo, RKT_MSG_ECHO, &v, sizeof v, &reply, 10 * RKT_SEC), RK_OK);
    RKT_CHECK(r == 7);

    /* A host thread waits for messages before the fault. */
    rc.rt = rt;
    RKT_CHECK(pthread_create(&rc.thread, NULL, receiver_main, &rc) == 0);
    rk_test_sleep_ns(20 * RKT_MS);
    t0 = rk_test_now_ns();
    RKT_CHECK_ST(rk_send(rt, failer, RKT_MSG_CRASH, NULL, 0), RK_OK);
    /* Queued behind the crash, never handled: accepted until the runtime
     * knows the kernel is gone (the receiver's polls find out), refused
     * with RK_EDEVICE from then on. */
    for (i = 0; i < 8; i++) {
        st = rk_send(rt, failer, RKT_MSG_ECHO, &v, sizeof v);
        RKT_CHECK(st == RK_OK || st == RK_EDEVICE);
        queued += st == RK_OK;
    }
    wait_device_error(rt);
    printf("fault reported after %.1f ms\n", (double)(rk_test_now_ns() - t0) / 1e6);
    RKT_CHECK(pthread_join(rc.thread, NULL) == 0);
    printf("rk_recv waiting since before the fault: %s after %.1f ms\n", rk_status_name(rc.result),
           (double)rc.took_ns / 1e6);
    RKT_CHECK_ST(rc.result, RK_EDEVICE);
    RKT_CHECK(rc.took_ns < LIMIT + 20 * RKT_MS);

    /* Later waits end at once. */
    t0 = rk_test_now_ns();
    RKT_CHECK_ST(rk_call(rt, echo, RKT_MSG_ECHO, &v, sizeof v, &reply, 60 * RKT_SEC), RK_EDEVICE);
    RKT_CHECK_ST(rk_recv(rt, &reply, 0), RK_EDEVICE);
    RKT_CHECK_ST(rk_recv(rt, &reply, 60 * RKT_SEC), RK_EDEVICE);
    took = rk_test_now_ns() - t0;
    printf("rk_call and rk_recv after the fault: %.3f ms together\n", (double)took / 1e6);
    RKT_CHECK(took < LIMIT);

    /* Sends are refused at once: nothing would ever take them. */
    RKT_CHECK_ST(rk_send(rt, echo, RKT_MSG_ECHO, &v, sizeof v), RK_EDEVICE);
    RKT_CHECK_ST(rk_send_batch(rt, echo, RKT_MSG_ECHO, &v, sizeof v, 1, &sent), RK_EDEVICE);
    RKT_CHECK(sent == 0);
    t0 = rk_test_now_ns();
    RKT_CHECK_ST(rk_send_wait(rt, echo, RKT_MSG_ECHO, &v, sizeof v, 60 * RKT_SEC), RK_EDEVICE);
    took = rk_test_now_ns() - t0;
    printf("sends after the fault refused; %u of 8 sent right after the crash were queued: %.3f ms\n", queued,
           (double)took / 1e6);
    RKT_CHECK(took < LIMIT);

    /* Commands to the supervisor block are not posted into the void. */
    t0 = rk_test_now_ns();
    RKT_CHECK_ST(rk_restart(rt, echo), RK_EDEVICE);
    RKT_CHECK(rk_test_now_ns() - t0 < LIMIT);

    /* The shutdown ends; what the inboxes hold is counted, not lost. */
    t0 = rk_test_now_ns();
    st = rk_runtime_shutdown(rt, &rep);
    took = rk_test_now_ns() - t0;
    printf("shutdown: %s in %.1f ms; drained %llu, dead-lettered %llu, host unread %llu, failed %u\n",
           rk_status_name(st), (double)took / 1e6, (unsigned long long)rep.drained,
           (unsigned long long)rep.dead_lettered, (unsigned long long)rep.host_unread, rep.actors_failed);
    RKT_CHECK(took < 3 * LIMIT);
    RKT_CHECK(rep.dead_lettered >= queued);
    rk_runtime_destroy(rt);
    printf("kernel gone: every wait ended with RK_EDEVICE\n");
    return 0;
}
