/* Single-threaded validation of ring.h: geometry checks, FIFO order, full and
 * empty, all-or-nothing claims, batch publication, wrap-around, split setup.
 * Concurrency lives in stress_ring.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ringkernel/ring.h"

/* A test item: the ring's sequence word, then values we can check. */
typedef struct item {
    uint64_t seq;
    uint64_t value;
    uint64_t check;
    uint64_t pad;
} item;

/* A ring and the block it lives in, so the test frees what it allocated. */
typedef struct ring_mem {
    rk_ring r;
    void *mem;
} ring_mem;

static void *alloc_lines(size_t bytes)
{
    size_t rounded = (bytes + RK_RING_LINE - 1) / RK_RING_LINE * RK_RING_LINE;
    void *p = aligned_alloc(RK_RING_LINE, rounded);
    assert_non_null(p);
    /* Garbage, so a test sees whether init clears what it must. */
    memset(p, 0xA5, rounded);
    return p;
}

static void ring_open(ring_mem *rm, uint32_t capacity, uint32_t slot_size, enum rk_ring_mode mode)
{
    rm->mem = alloc_lines(rk_ring_bytes(capacity, slot_size));
    assert_int_equal(rk_ring_init(&rm->r, rm->mem, capacity, slot_size, mode, RK_RING_SCOPE_SYSTEM),
                     RK_OK);
}

static void ring_close(ring_mem *rm)
{
    free(rm->mem);
    rm->mem = NULL;
}

static uint64_t check_of(uint64_t v)
{
    return v * 0x9E3779B97F4A7C15ull ^ (v >> 7);
}

static rk_status push_value(rk_ring *r, uint64_t v)
{
    item it = {0, v, check_of(v), 0};
    return rk_ring_push(r, &it, sizeof it);
}

static void pop_expect(rk_ring *r, uint64_t v)
{
    item it;
    memset(&it, 0, sizeof it);
    assert_int_equal(rk_ring_pop(r, &it, sizeof it), RK_OK);
    assert_int_equal(it.value, v);
    assert_int_equal(it.check, check_of(v));
}

/* Fills the slot at `pos` with value v (not touching the sequence word). */
static void fill_slot(rk_ring *r, uint64_t pos, uint64_t v)
{
    item *it = (item *)rk_ring_slot(r, pos);
    it->value = v;
    it->check = check_of(v);
}

/* ---- setup ----------------------------------------------------------------- */

static void test_bytes(void **state)
{
    (void)state;
    assert_int_equal(rk_ring_bytes(2, 16), 2 * RK_RING_LINE + 32);
    assert_int_equal(rk_ring_bytes(1024, 128), 2 * RK_RING_LINE + 1024 * 128);
    /* No 32-bit overflow in the slot area. */
    assert_true(rk_ring_bytes(1u << 30, 64) == 2u * RK_RING_LINE + ((size_t)1 << 36));
}

static void test_init_rejects_bad_capacity(void **state)
{
    static const uint32_t bad[] = {0, 1, 3, 5, 6, 7, 12, 100, 1000, (1u << 30) + 1, 1u << 31,
                                   UINT32_MAX};
    rk_ring r;
    void *mem = alloc_lines(rk_ring_bytes(1024, 16));
    size_t i;
    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(rk_ring_init(&r, mem, bad[i], 16, RK_RING_SPSC, RK_RING_SCOPE_SYSTEM),
                         RK_EINVAL);
    assert_int_equal(rk_ring_init(&r, mem, 2, 16, RK_RING_SPSC, RK_RING_SCOPE_SYSTEM), RK_OK);
    assert_int_equal(rk_ring_init(&r, mem, 1024, 16, RK_RING_MPSC, RK_RING_SCOPE_DEVICE), RK_OK);
    free(mem);
}

static void test_init_rejects_bad_slot_size(void **state)
{
    static const uint32_t bad[] = {0, 1, 8, 15, 17, 24, 40, 72, 100, UINT32_MAX};
    rk_ring r;
    void *mem = alloc_lines(rk_ring_bytes(4, 128));
    size_t i;
    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(rk_ring_init(&r, mem, 4, bad[i], RK_RING_SPSC, RK_RING_SCOPE_SYSTEM),
                         RK_EINVAL);
    assert_int_equal(rk_ring_init(&r, mem, 4, 16, RK_RING_SPSC, RK_RING_SCOPE_SYSTEM), RK_OK);
    assert_int_equal(rk_ring_init(&r, mem, 4, 48, RK_RING_SPSC, RK_RING_SCOPE_SYSTEM), RK_OK);
    assert_int_equal(rk_ring_init(&r, mem, 4, 128, RK_RING_SPSC, RK_RING_SCOPE_SYSTEM), RK_OK);
    free(mem);
}

static void test_init_rejects_null_and_bad_enums(void **state)
{
    rk_ring r;
    unsigned char *mem = alloc_lines(rk_ring_bytes(4, 16));
    rk_ring_prod *prod = (rk_ring_prod *)mem;
    rk_ring_cons *cons = (rk_ring_cons *)(mem + RK_RING_LINE);
    void *slots = mem + 2 * RK_RING_LINE;
    (void)state;
    assert_int_equal(rk_ring_init(NULL, mem, 4, 16, RK_RING_SPSC, RK_RING_SCOPE_SYSTEM), RK_EINVAL);
    assert_int_equal(rk_ring_init(&r, NULL, 4, 16, RK_RING_SPSC, RK_RING_SCOPE_SYSTEM), RK_EINVAL);
    assert_int_equal(rk_ring_init_split(NULL, prod, cons, slots, 4, 16, RK_RING_SPSC,
                                        RK_RING_SCOPE_SYSTEM),
                     RK_EINVAL);
    assert_int_equal(rk_ring_init_split(&r, NULL, cons, slots, 4, 16, RK_RING_SPSC,
                                        RK_RING_SCOPE_SYSTEM),
                     RK_EINVAL);
    assert_int_equal(rk_ring_init_split(&r, prod, NULL, slots, 4, 16, RK_RING_SPSC,
                                        RK_RING_SCOPE_SYSTEM),
                     RK_EINVAL);
    assert_int_equal(rk_ring_init_split(&r, prod, cons, NULL, 4, 16, RK_RING_SPSC,
                                        RK_RING_SCOPE_SYSTEM),
                     RK_EINVAL);
    assert_int_equal(rk_ring_init(&r, mem, 4, 16, (enum rk_ring_mode)2, RK_RING_SCOPE_SYSTEM),
                     RK_EINVAL);
    assert_int_equal(rk_ring_init(&r, mem, 4, 16, (enum rk_ring_mode)-1, RK_RING_SCOPE_SYSTEM),
                     RK_EINVAL);
    assert_int_equal(rk_ring_init(&r, mem, 4, 16, RK_RING_MPSC, (enum rk_ring_scope)2), RK_EINVAL);
    assert_int_equal(rk_ring_init(&r, mem, 4, 16, RK_RING_MPSC, (enum rk_ring_scope)-1), RK_EINVAL);
    free(mem);
}

static void test_init_rejects_misaligned_memory(void **state)
{
    static const size_t offsets[] = {1, 8, 16, 32, 64, 127};
    rk_ring r;
    unsigned char *mem = alloc_lines(rk_ring_bytes(4, 16) + 4 * RK_RING_LINE);
    unsigned char *prod = mem;
    unsigned char *cons = mem + RK_RING_LINE;
    unsigned char *slots = mem + 2 * RK_RING_LINE;
    size_t i;
    (void)state;
    for (i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
        size_t o = offsets[i];
        assert_int_equal(rk_ring_init(&r, mem + o, 4, 16, RK_RING_SPSC, RK_RING_SCOPE_SYSTEM),
                         RK_EINVAL);
        assert_int_equal(rk_ring_init_split(&r, (rk_ring_prod *)(prod + o), (rk_ring_cons *)cons,
                                            slots, 4, 16, RK_RING_SPSC, RK_RING_SCOPE_SYSTEM),
                         RK_EINVAL);
        assert_int_equal(rk_ring_init_split(&r, (rk_ring_prod *)prod, (rk_ring_cons *)(cons + o),
                                            slots, 4, 16, RK_RING_SPSC, RK_RING_SCOPE_SYSTEM),
                         RK_EINVAL);
    }
    /* Slots need only 16-byte alignment. */
    assert_int_equal(rk_ring_init_split(&r, (rk_ring_prod *)prod, (rk_ring_cons *)cons, slots + 8,
                                        4, 16, RK_RING_SPSC, RK_RING_SCOPE_SYSTEM),
                     RK_EINVAL);
    assert_int_equal(rk_ring_init_split(&r, (rk_ring_prod *)prod, (rk_ring_cons *)cons, slots + 16,
                                        4, 16, RK_RING_SPSC, RK_RING_SCOPE_SYSTEM),
                     RK_OK);
    free(mem);
}

/* A rejected init must leave the caller's descriptor and memory alone. */
static void test_init_failure_touches_nothing(void **state)
{
    rk_ring r, before;
    unsigned char *mem = alloc_lines(rk_ring_bytes(4, 16));
    size_t i, n = rk_ring_bytes(4, 16);
    (void)state;
    memset(&r, 0x5A, sizeof r);
    before = r;
    assert_int_equal(rk_ring_init(&r, mem, 3, 16, RK_RING_SPSC, RK_RING_SCOPE_SYSTEM), RK_EINVAL);
    assert_memory_equal(&r, &before, sizeof r);
    for (i = 0; i < n; i++)
        assert_int_equal(mem[i], 0xA5);
    free(mem);
}

static void test_init_clears_and_describes(void **state)
{
    ring_mem rm;
    size_t i;
    const unsigned char *slots;
    (void)state;
    ring_open(&rm, 8, 32, RK_RING_MPSC);
    assert_ptr_equal(rm.r.prod, rm.mem);
    assert_ptr_equal(rm.r.cons, (unsigned char *)rm.mem + RK_RING_LINE);
    assert_ptr_equal(rm.r.slots, (unsigned char *)rm.mem + 2 * RK_RING_LINE);
    assert_int_equal(rm.r.capacity, 8);
    assert_int_equal(rm.r.slot_size, 32);
    assert_int_equal(rm.r.mode, RK_RING_MPSC);
    assert_int_equal(rm.r.scope, RK_RING_SCOPE_SYSTEM);
    assert_int_equal(rm.r.prod->tail, 0);
    assert_int_equal(rm.r.prod->head_cache, 0);
    assert_int_equal(rm.r.cons->head, 0);
    slots = rm.r.slots;
    for (i = 0; i < 8 * 32; i++)
        assert_int_equal(slots[i], 0);
    assert_int_equal(rk_ring_depth(&rm.r), 0);
    assert_int_equal(rk_ring_head(&rm.r), 0);
    for (i = 0; i < 8; i++)
        assert_null(rk_ring_ready(&rm.r, i));
    ring_close(&rm);
}

static void test_slot_addresses(void **state)
{
    ring_mem rm;
    uint64_t p;
    (void)state;
    ring_open(&rm, 4, 48, RK_RING_SPSC);
    for (p = 0; p < 12; p++)
        assert_ptr_equal(rk_ring_slot(&rm.r, p), rm.r.slots + (p % 4) * 48);
    ring_close(&rm);
}

/* ---- push / pop -------------------------------------------------------------- */

static void run_fifo(enum rk_ring_mode mode)
{
    ring_mem rm;
    uint64_t v;
    ring_open(&rm, 16, 32, mode);
    for (v = 0; v < 10; v++)
        assert_int_equal(push_value(&rm.r, 100 + v), RK_OK);
    assert_int_equal(rk_ring_depth(&rm.r), 10);
    for (v = 0; v < 10; v++)
        pop_expect(&rm.r, 100 + v);
    assert_int_equal(rk_ring_depth(&rm.r), 0);
    ring_close(&rm);
}

static void test_fifo_spsc(void **state)
{
    (void)state;
    run_fifo(RK_RING_SPSC);
}

static void test_fifo_mpsc(void **state)
{
    (void)state;
    run_fifo(RK_RING_MPSC);
}

static void test_pop_returns_sequence_word(void **state)
{
    ring_mem rm;
    item it;
    uint64_t p;
    (void)state;
    ring_open(&rm, 4, 32, RK_RING_SPSC);
    for (p = 0; p < 9; p++) {
        assert_int_equal(push_value(&rm.r, p), RK_OK);
        assert_int_equal(rk_ring_pop(&rm.r, &it, sizeof it), RK_OK);
        assert_int_equal(it.seq, p + 1); /* ready means seq == pos + 1 */
        assert_int_equal(rk_ring_head(&rm.r), p + 1);
    }
    ring_close(&rm);
}

static void test_pop_empty(void **state)
{
    ring_mem rm;
    item it;
    (void)state;
    ring_open(&rm, 4, 32, RK_RING_SPSC);
    memset(&it, 0x77, sizeof it);
    assert_int_equal(rk_ring_pop(&rm.r, &it, sizeof it), RK_EEMPTY);
    assert_int_equal(it.value, 0x7777777777777777ull); /* out untouched */
    assert_int_equal(push_value(&rm.r, 1), RK_OK);
    pop_expect(&rm.r, 1);
    assert_int_equal(rk_ring_pop(&rm.r, &it, sizeof it), RK_EEMPTY);
    assert_int_equal(rk_ring_head(&rm.r), 1);
    ring_close(&rm);
}

static void run_full(enum rk_ring_mode mode)
{
    ring_mem rm;
    uint64_t v;
    ring_open(&rm, 8, 32, mode);
    for (v = 0; v < 8; v++)
        assert_int_equal(push_value(&rm.r, v), RK_OK);
    assert_int_equal(push_value(&rm.r, 999), RK_EFULL);
    assert_int_equal(push_value(&rm.r, 998), RK_EFULL);
    assert_int_equal(rk_ring_depth(&rm.r), 8);
    /* The refused pushes overwrote nothing. */
    pop_expect(&rm.r, 0);
    assert_int_equal(push_value(&rm.r, 8), RK_OK);
    assert_int_equal(push_value(&rm.r, 997), RK_EFULL);
    for (v = 1; v <= 8; v++)
        pop_expect(&rm.r, v);
    assert_int_equal(rk_ring_depth(&rm.r), 0);
    ring_close(&rm);
}

static void test_push_full_spsc(void **state)
{
    (void)state;
    run_full(RK_RING_SPSC);
}

static void test_push_full_mpsc(void **state)
{
    (void)state;
    run_full(RK_RING_MPSC);
}

static void test_push_pop_sizes(void **state)
{
    ring_mem rm;
    unsigned char big[64 + 1];
    unsigned char out[64 + 1];
    size_t i;
    (void)state;
    ring_open(&rm, 4, 64, RK_RING_SPSC);
    for (i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)(i * 7 + 1);
    assert_int_equal(rk_ring_push(&rm.r, big, 65), RK_E2BIG);
    assert_int_equal(rk_ring_push(&rm.r, big, SIZE_MAX), RK_E2BIG);
    assert_int_equal(rk_ring_push(&rm.r, big, 7), RK_EINVAL);
    assert_int_equal(rk_ring_push(&rm.r, big, 0), RK_EINVAL);
    assert_int_equal(rk_ring_depth(&rm.r), 0); /* refused pushes claimed nothing */
    assert_int_equal(rk_ring_push(&rm.r, big, 64), RK_OK);
    assert_int_equal(rk_ring_push(&rm.r, big, 8), RK_OK); /* sequence word only */
    assert_int_equal(rk_ring_pop(&rm.r, out, 65), RK_E2BIG);
    assert_int_equal(rk_ring_depth(&rm.r), 2); /* refused pop consumed nothing */
    assert_int_equal(rk_ring_pop(&rm.r, out, 64), RK_OK);
    assert_memory_equal(out + 8, big + 8, 56);
    assert_int_equal(rk_ring_pop(&rm.r, out, 8), RK_OK);
    assert_int_equal(rk_ring_depth(&rm.r), 0);
    ring_close(&rm);
}

/* ---- claim / publish / ready / consume --------------------------------------- */

static void run_claim_bad_n(enum rk_ring_mode mode)
{
    ring_mem rm;
    uint64_t pos = 12345;
    ring_open(&rm, 8, 32, mode);
    assert_int_equal(rk_ring_claim(&rm.r, 0, &pos), RK_EINVAL);
    assert_int_equal(rk_ring_claim(&rm.r, 9, &pos), RK_EINVAL);
    assert_int_equal(rk_ring_claim(&rm.r, UINT32_MAX, &pos), RK_EINVAL);
    assert_int_equal(pos, 12345);
    assert_int_equal(rk_ring_depth(&rm.r), 0);
    assert_int_equal(rk_ring_claim(&rm.r, 8, &pos), RK_OK); /* the whole ring at once */
    assert_int_equal(pos, 0);
    assert_int_equal(rk_ring_depth(&rm.r), 8);
    ring_close(&rm);
}

static void test_claim_bad_n_spsc(void **state)
{
    (void)state;
    run_claim_bad_n(RK_RING_SPSC);
}

static void test_claim_bad_n_mpsc(void **state)
{
    (void)state;
    run_claim_bad_n(RK_RING_MPSC);
}

static void run_claim_all_or_nothing(enum rk_ring_mode mode)
{
    ring_mem rm;
    uint64_t pos = 0, pos2 = 777;
    ring_open(&rm, 8, 32, mode);
    assert_int_equal(rk_ring_claim(&rm.r, 5, &pos), RK_OK);
    assert_int_equal(pos, 0);
    assert_int_equal(rk_ring_claim(&rm.r, 4, &pos2), RK_EFULL);
    assert_int_equal(pos2, 777);
    assert_int_equal(rk_ring_depth(&rm.r), 5); /* the refused claim took nothing */
    assert_int_equal(rk_ring_claim(&rm.r, 3, &pos2), RK_OK);
    assert_int_equal(pos2, 5);
    assert_int_equal(rk_ring_claim(&rm.r, 1, &pos2), RK_EFULL);
    assert_int_equal(rk_ring_depth(&rm.r), 8);
    /* Consuming three frees exactly three. */
    rk_ring_publish(&rm.r, 0, 8);
    rk_ring_consume(&rm.r, 3);
    assert_int_equal(rk_ring_claim(&rm.r, 4, &pos2), RK_EFULL);
    assert_int_equal(rk_ring_claim(&rm.r, 3, &pos2), RK_OK);
    assert_int_equal(pos2, 8);
    assert_int_equal(rk_ring_depth(&rm.r), 8);
    ring_close(&rm);
}

static void test_claim_all_or_nothing_spsc(void **state)
{
    (void)state;
    run_claim_all_or_nothing(RK_RING_SPSC);
}

static void test_claim_all_or_nothing_mpsc(void **state)
{
    (void)state;
    run_claim_all_or_nothing(RK_RING_MPSC);
}

static void run_batch(enum rk_ring_mode mode)
{
    ring_mem rm;
    uint64_t pos = 0, i;
    const uint32_t n = 6;
    ring_open(&rm, 8, 32, mode);
    assert_int_equal(rk_ring_claim(&rm.r, n, &pos), RK_OK);
    for (i = 0; i < n; i++) {
        fill_slot(&rm.r, pos + i, 500 + i);
        assert_null(rk_ring_ready(&rm.r, pos + i)); /* filled, not yet published */
    }
    rk_ring_publish(&rm.r, pos, n);
    for (i = 0; i < n; i++) {
        const item *it = rk_ring_ready(&rm.r, pos + i);
        assert_non_null(it);
        assert_ptr_equal(it, rk_ring_slot(&rm.r, pos + i));
        assert_int_equal(it->seq, pos + i + 1);
        assert_int_equal(it->value, 500 + i);
        assert_int_equal(it->check, check_of(500 + i));
    }
    assert_null(rk_ring_ready(&rm.r, pos + n));
    assert_int_equal(rk_ring_depth(&rm.r), n);
    rk_ring_consume(&rm.r, pos + n); /* one consume for the whole batch */
    assert_int_equal(rk_ring_head(&rm.r), pos + n);
    assert_int_equal(rk_ring_depth(&rm.r), 0);
    assert_int_equal(rk_ring_claim(&rm.r, 8, &pos), RK_OK);
    assert_int_equal(pos, n);
    ring_close(&rm);
}

static void test_batch_spsc(void **state)
{
    (void)state;
    run_batch(RK_RING_SPSC);
}

static void test_batch_mpsc(void **state)
{
    (void)state;
    run_batch(RK_RING_MPSC);
}

/* A later slot published before an earlier one: ready reports each slot on
 * its own, and the earlier one stays NULL until its producer publishes it. */
static void test_ready_null_until_published(void **state)
{
    ring_mem rm;
    uint64_t a = 0, b = 0;
    (void)state;
    ring_open(&rm, 4, 32, RK_RING_MPSC);
    assert_int_equal(rk_ring_claim(&rm.r, 1, &a), RK_OK);
    assert_int_equal(rk_ring_claim(&rm.r, 1, &b), RK_OK);
    assert_int_equal(b, a + 1);
    fill_slot(&rm.r, a, 1);
    fill_slot(&rm.r, b, 2);
    rk_ring_publish(&rm.r, b, 1);
    assert_null(rk_ring_ready(&rm.r, a));
    assert_non_null(rk_ring_ready(&rm.r, b));
    assert_int_equal(rk_ring_pop(&rm.r, &(item){0}, sizeof(item)), RK_EEMPTY);
    rk_ring_publish(&rm.r, a, 1);
    pop_expect(&rm.r, 1);
    pop_expect(&rm.r, 2);
    ring_close(&rm);
}

/* After a slot is consumed, the same slot for the next lap is not ready until
 * that lap's producer publishes it. */
static void test_ready_not_fooled_by_previous_lap(void **state)
{
    ring_mem rm;
    uint64_t pos = 0;
    (void)state;
    ring_open(&rm, 2, 32, RK_RING_SPSC);
    assert_int_equal(push_value(&rm.r, 1), RK_OK);
    assert_int_equal(push_value(&rm.r, 2), RK_OK);
    pop_expect(&rm.r, 1);
    assert_null(rk_ring_ready(&rm.r, 2)); /* same slot as position 0 */
    assert_int_equal(rk_ring_claim(&rm.r, 1, &pos), RK_OK);
    assert_int_equal(pos, 2);
    assert_null(rk_ring_ready(&rm.r, 2));
    fill_slot(&rm.r, 2, 3);
    rk_ring_publish(&rm.r, 2, 1);
    assert_non_null(rk_ring_ready(&rm.r, 2));
    assert_null(rk_ring_ready(&rm.r, 0)); /* the old lap is gone */
    pop_expect(&rm.r, 2);
    pop_expect(&rm.r, 3);
    ring_close(&rm);
}

/* Many laps with batch sizes that do not divide the capacity, so batches
 * straddle the end of the slot array. */
static void run_wrap(enum rk_ring_mode mode, uint32_t capacity)
{
    ring_mem rm;
    uint64_t next_in = 0, next_out = 0, pos = 0, i;
    uint32_t step = 0;
    const uint64_t total = (uint64_t)capacity * 1000 + 3;
    ring_open(&rm, capacity, 48, mode);
    while (next_out < total) {
        uint32_t n = 1 + (step * 7u + 3u) % capacity;
        uint32_t take = 1 + (step * 5u + 1u) % capacity;
        step++;
        if (n > total - next_in)
            n = (uint32_t)(total - next_in);
        if (n > 0 && rk_ring_claim(&rm.r, n, &pos) == RK_OK) {
            assert_int_equal(pos, next_in);
            for (i = 0; i < n; i++)
                fill_slot(&rm.r, pos + i, pos + i);
            rk_ring_publish(&rm.r, pos, n);
            next_in += n;
        } else if (n > 0) {
            assert_true(next_in + n - next_out > capacity); /* EFULL only when full */
        }
        assert_int_equal(rk_ring_depth(&rm.r), next_in - next_out);
        for (i = 0; i < take; i++) {
            const item *it = rk_ring_ready(&rm.r, next_out);
            if (!it)
                break;
            assert_int_equal(it->seq, next_out + 1);
            assert_int_equal(it->value, next_out);
            assert_int_equal(it->check, check_of(next_out));
            next_out++;
        }
        assert_true(next_out == next_in || i == take); /* stopped only when empty */
        rk_ring_consume(&rm.r, next_out);
    }
    assert_int_equal(next_in, total);
    assert_int_equal(rk_ring_depth(&rm.r), 0);
    assert_null(rk_ring_ready(&rm.r, total));
    ring_close(&rm);
}

static void test_wrap_spsc(void **state)
{
    (void)state;
    run_wrap(RK_RING_SPSC, 2);
    run_wrap(RK_RING_SPSC, 8);
    run_wrap(RK_RING_SPSC, 64);
}

static void test_wrap_mpsc(void **state)
{
    (void)state;
    run_wrap(RK_RING_MPSC, 2);
    run_wrap(RK_RING_MPSC, 8);
    run_wrap(RK_RING_MPSC, 64);
}

static void test_wrap_push_pop(void **state)
{
    ring_mem rm;
    uint64_t v;
    (void)state;
    ring_open(&rm, 4, 32, RK_RING_SPSC);
    for (v = 0; v < 10000; v++) {
        assert_int_equal(push_value(&rm.r, 2 * v), RK_OK);
        assert_int_equal(push_value(&rm.r, 2 * v + 1), RK_OK);
        pop_expect(&rm.r, 2 * v);
        pop_expect(&rm.r, 2 * v + 1);
    }
    assert_int_equal(rk_ring_head(&rm.r), 20000);
    ring_close(&rm);
}

static void test_depth(void **state)
{
    ring_mem rm;
    uint64_t pos = 0;
    (void)state;
    ring_open(&rm, 8, 32, RK_RING_MPSC);
    assert_int_equal(rk_ring_depth(&rm.r), 0);
    assert_int_equal(rk_ring_claim(&rm.r, 3, &pos), RK_OK);
    assert_int_equal(rk_ring_depth(&rm.r), 3); /* claimed counts, published or not */
    rk_ring_publish(&rm.r, pos, 3);
    assert_int_equal(rk_ring_depth(&rm.r), 3);
    assert_int_equal(push_value(&rm.r, 9), RK_OK);
    assert_int_equal(rk_ring_depth(&rm.r), 4);
    rk_ring_consume(&rm.r, 2);
    assert_int_equal(rk_ring_depth(&rm.r), 2);
    rk_ring_consume(&rm.r, 4);
    assert_int_equal(rk_ring_depth(&rm.r), 0);
    ring_close(&rm);
}

/* Each part in its own allocation, each line in its own page-aligned block,
 * as when the lines live in different memories. */
static void run_split(enum rk_ring_mode mode)
{
    rk_ring r;
    rk_ring_prod *prod = aligned_alloc(4096, 4096);
    rk_ring_cons *cons = aligned_alloc(RK_RING_LINE, sizeof(rk_ring_cons));
    void *slots = aligned_alloc(16, 16 * 64);
    uint64_t v;
    assert_non_null(prod);
    assert_non_null(cons);
    assert_non_null(slots);
    memset(prod, 0xEE, sizeof *prod);
    memset(cons, 0xEE, sizeof *cons);
    memset(slots, 0xEE, 16 * 64);
    assert_int_equal(rk_ring_init_split(&r, prod, cons, slots, 16, 64, mode, RK_RING_SCOPE_SYSTEM),
                     RK_OK);
    assert_ptr_equal(r.prod, prod);
    assert_ptr_equal(r.cons, cons);
    assert_ptr_equal(r.slots, slots);
    assert_int_equal(prod->tail, 0);
    assert_int_equal(prod->head_cache, 0);
    assert_int_equal(cons->head, 0);
    for (v = 0; v < 1000; v++) {
        assert_int_equal(push_value(&r, v), RK_OK);
        if (v % 3 == 2) {
            pop_expect(&r, v - 2);
            pop_expect(&r, v - 1);
            pop_expect(&r, v);
        }
    }
    pop_expect(&r, 999);
    assert_int_equal(rk_ring_depth(&r), 0);
    assert_int_equal(prod->tail, 1000);
    assert_int_equal(cons->head, 1000);
    free(slots);
    free(cons);
    free(prod);
}

static void test_split_spsc(void **state)
{
    (void)state;
    run_split(RK_RING_SPSC);
}

static void test_split_mpsc(void **state)
{
    (void)state;
    run_split(RK_RING_MPSC);
}

/* Two rings in one buffer: neither writes outside its own rk_ring_bytes(). */
static void test_rings_do_not_overlap(void **state)
{
    const size_t bytes = rk_ring_bytes(4, 32);
    unsigned char *mem = alloc_lines(2 * bytes);
    rk_ring a, b;
    uint64_t v;
    (void)state;
    assert_int_equal(bytes % RK_RING_LINE, 0);
    assert_int_equal(rk_ring_init(&a, mem, 4, 32, RK_RING_SPSC, RK_RING_SCOPE_SYSTEM), RK_OK);
    assert_int_equal(rk_ring_init(&b, mem + bytes, 4, 32, RK_RING_MPSC, RK_RING_SCOPE_SYSTEM), RK_OK);
    for (v = 0; v < 100; v++) {
        assert_int_equal(push_value(&a, v), RK_OK);
        assert_int_equal(push_value(&b, 1000 + v), RK_OK);
        pop_expect(&a, v);
        pop_expect(&b, 1000 + v);
    }
    free(mem);
}

/* ---- flag-per-word (LL) slots ---------------------------------------------- */

/* An item written with put/publish reads back whole, odd lengths padded
 * with zeros; a word not written for this position fails the read. */
static void test_ll_put_read(void **state)
{
    ring_mem rm;
    unsigned char in[64], out[64];
    uint32_t owner = 0;
    (void)state;
    ring_open(&rm, 4, rk_ring_ll_slot_size(64), RK_RING_MPSC);
    assert_int_equal(rk_ring_ll_capacity(rm.r.slot_size), 64);
    for (uint32_t i = 0; i < sizeof in; i++)
        in[i] = (unsigned char)(i * 7 + 1);
    for (uint64_t pos = 0; pos < 12; pos++) {
        const uint32_t n = 8 + (uint32_t)(pos * 5) % 57; /* 8 .. 64 bytes */
        memset(out, 0xEE, sizeof out);
        assert_int_equal(rk_ring_ll_look(&rm.r, pos, &owner), 0);
        rk_ring_ll_put(&rm.r, pos, 8, in + 8, n - 8);
        /* Every word there, the sequence word not yet. */
        assert_int_equal(rk_ring_ll_look(&rm.r, pos, &owner), 0);
        rk_ring_ll_publish(&rm.r, pos);
        assert_int_equal(rk_ring_ll_look(&rm.r, pos, &owner), 1);
        assert_int_equal(rk_ring_look(&rm.r, pos, &owner), 0); /* not a plain slot's word */
        assert_int_equal(rk_ring_ll_read(&rm.r, pos, out, 8, n), 1);
        assert_memory_equal(out + 8, in + 8, n - 8);
        for (uint32_t i = n; i < (n + 3) / 4 * 4; i++)
            assert_int_equal(out[i], 0);
        /* The next lap's position does not take these words for its own. */
        if (n > 8)
            assert_int_equal(rk_ring_ll_read(&rm.r, pos + 4, out, 8, n), 0);
    }
    ring_close(&rm);
}

/* Flags wrap every 2^32 positions: a word from 2^32 positions earlier
 * passes for the current one unless the consumer retired the slot, which
 * it does once every 2^31 positions of each slot. */
static void test_ll_retire(void **state)
{
    ring_mem rm;
    unsigned char in[32], out[32];
    const uint64_t later = 1ull << 32;
    (void)state;
    memset(in, 0x3C, sizeof in);
    ring_open(&rm, 4, rk_ring_ll_slot_size(32), RK_RING_SPSC);
    rk_ring_ll_put(&rm.r, 0, 8, in + 8, 24);
    /* Position 2^32 (the same slot): its flag is position 0's. */
    assert_int_equal(rk_ring_ll_read(&rm.r, later, out, 8, 32), 1);
    /* Lap 0 is one the consumer retires: every word gets position 0's
     * flag, which it already had, so nothing changes for 0... */
    rk_ring_ll_retire(&rm.r, 0);
    assert_int_equal(rk_ring_ll_read(&rm.r, 0, out, 8, 32), 1);
    /* ...but a later lap's retire does: 2^31 / 4 laps on, slot 0 holds
     * position 2^31's flag, and 2^32 no longer reads it as its own. */
    rk_ring_ll_retire(&rm.r, 1ull << 31);
    assert_int_equal(rk_ring_ll_read(&rm.r, later, out, 8, 32), 0);
    assert_int_equal(rk_ring_ll_read(&rm.r, 1ull << 31, out, 8, 32), 1);
    /* Other laps leave the slot alone. */
    rk_ring_ll_put(&rm.r, 4, 8, in + 8, 24);
    rk_ring_ll_retire(&rm.r, 8);
    assert_int_equal(rk_ring_ll_read(&rm.r, 4, out, 8, 32), 1);
    ring_close(&rm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_init_rejects_bad_capacity),
        cmocka_unit_test(test_init_rejects_bad_slot_size),
        cmocka_unit_test(test_init_rejects_null_and_bad_enums),
        cmocka_unit_test(test_init_rejects_misaligned_memory),
        cmocka_unit_test(test_init_failure_touches_nothing),
        cmocka_unit_test(test_init_clears_and_describes),
        cmocka_unit_test(test_slot_addresses),
        cmocka_unit_test(test_fifo_spsc),
        cmocka_unit_test(test_fifo_mpsc),
        cmocka_unit_test(test_pop_returns_sequence_word),
        cmocka_unit_test(test_pop_empty),
        cmocka_unit_test(test_push_full_spsc),
        cmocka_unit_test(test_push_full_mpsc),
        cmocka_unit_test(test_push_pop_sizes),
        cmocka_unit_test(test_claim_bad_n_spsc),
        cmocka_unit_test(test_claim_bad_n_mpsc),
        cmocka_unit_test(test_claim_all_or_nothing_spsc),
        cmocka_unit_test(test_claim_all_or_nothing_mpsc),
        cmocka_unit_test(test_batch_spsc),
        cmocka_unit_test(test_batch_mpsc),
        cmocka_unit_test(test_ready_null_until_published),
        cmocka_unit_test(test_ready_not_fooled_by_previous_lap),
        cmocka_unit_test(test_wrap_spsc),
        cmocka_unit_test(test_wrap_mpsc),
        cmocka_unit_test(test_wrap_push_pop),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_ll_put_read),
        cmocka_unit_test(test_ll_retire),
        cmocka_unit_test(test_split_spsc),
        cmocka_unit_test(test_split_mpsc),
        cmocka_unit_test(test_rings_do_not_overlap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
