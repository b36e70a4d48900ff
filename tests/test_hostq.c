/* The host's side of the queue to the host: reserved-and-unused slots
 * (RK_MSG_TYPE_NOP, which GPU actors publish when a reserved reply slot was
 * not needed) are skipped by rk_recv, rk_call and the shutdown count, and
 * never reach the caller or the dead letters. The NOPs are written into the
 * queue here by hand, as the GPU would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/runtime_internal.h"
#include "rk_test.h"

#define SEC 1000000000ull

/* Claims one slot of the host queue, writes `m` (and an 8-byte payload v)
 * and publishes it, as an actor's send would. */
static void put(rk_runtime *rt, uint32_t type, uint32_t flags, uint64_t corr, uint64_t v)
{
    uint64_t pos = 0;
    rk_msg *slot;
    assert_int_equal(rk_ring_claim(&rt->host_ring, 1, &pos), RK_OK);
    slot = rk_ring_slot(&rt->host_ring, pos);
    memset(slot, 0, sizeof *slot);
    slot->type = type;
    slot->flags = flags;
    slot->src = 0;
    slot->dst = RK_ACTOR_HOST;
    slot->corr = corr;
    slot->len = type == RK_MSG_TYPE_NOP ? 0 : sizeof v;
    if (slot->len)
        memcpy(slot + 1, &v, sizeof v);
    rk_ring_publish(&rt->host_ring, pos, 1);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(recv_skips_nops),
        cmocka_unit_test(shutdown_does_not_count_nops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
