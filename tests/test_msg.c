/* msg.h: header layout, inline capacity, payload access and the entry check
 * that gives each malformed header its own status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ringkernel/msg.h"

#define INLINE_CAP 192u  /* a 256-byte slot */
#define MAX_PAYLOAD 4096u

/* A well-formed inline message that each test then breaks in one way. */
static rk_msg good_msg(void)
{
    rk_msg m;
    memset(&m, 0, sizeof m);
    m.type = 7;
    m.src = RK_ACTOR_HOST;
    m.dst = 3;
    m.tenant = 1;
    m.len = 32;
    return m;
}

static void test_header_layout(void **state)
{
    (void)state;
    assert_int_equal(sizeof(rk_msg), 64);
    assert_int_equal(RK_MSG_HEADER_SIZE, 64);
    assert_int_equal(offsetof(rk_msg, seq), 0);
    assert_int_equal(offsetof(rk_msg, type), 8);
    assert_int_equal(offsetof(rk_msg, flags), 12);
    assert_int_equal(offsetof(rk_msg, src), 16);
    assert_int_equal(offsetof(rk_msg, dst), 20);
    assert_int_equal(offsetof(rk_msg, tenant), 24);
    assert_int_equal(offsetof(rk_msg, dst_gen), 28);
    assert_int_equal(offsetof(rk_msg, corr), 32);
    assert_int_equal(offsetof(rk_msg, hlc), 40);
    assert_int_equal(offsetof(rk_msg, len), 48);
    assert_int_equal(offsetof(rk_msg, src_gen), 52);
    assert_int_equal(offsetof(rk_msg, ref), 56);
    /* Payloads right after the header stay 16-byte aligned in a slot. */
    assert_int_equal(RK_MSG_HEADER_SIZE % 16, 0);
}

static void test_flag_and_id_values(void **state)
{
    (void)state;
    assert_int_equal(RK_MSG_F_ALL, RK_MSG_F_REQUEST | RK_MSG_F_REPLY | RK_MSG_F_BYREF);
    assert_int_equal(RK_MSG_F_REQUEST & RK_MSG_F_REPLY, 0);
    assert_int_equal(RK_MSG_F_REPLY & RK_MSG_F_BYREF, 0);
    assert_int_equal(RK_MSG_F_REQUEST & RK_MSG_F_BYREF, 0);
    assert_true(RK_ACTOR_HOST != RK_ACTOR_NONE);
}

static void test_inline_capacity(void **state)
{
    (void)state;
    assert_int_equal(rk_msg_inline_capacity(0), 0);
    assert_int_equal(rk_msg_inline_capacity(16), 0);
    assert_int_equal(rk_msg_inline_capacity(48), 0);
    assert_int_equal(rk_msg_inline_capacity(64), 0);
    assert_int_equal(rk_msg_inline_capacity(80), 16);
    assert_int_equal(rk_msg_inline_capacity(128), 64);
    assert_int_equal(rk_msg_inline_capacity(256), 192);
    assert_int_equal(rk_msg_inline_capacity(4160), 4096);
    assert_int_equal(rk_msg_inline_capacity(UINT32_MAX), UINT32_MAX - 64);
}

static void test_payload_inline(void **state)
{
    _Alignas(16) unsigned char slot[128];
    rk_msg *m = (rk_msg *)slot;
    (void)state;
    memset(slot, 0, sizeof slot);
    memcpy(slot + 64, "hello", 6);
    m->len = 6;
    assert_ptr_equal(rk_msg_payload(m), slot + RK_MSG_HEADER_SIZE);
    assert_string_equal((const char *)rk_msg_payload(m), "hello");
    /* A non-zero ref without BYREF does not redirect the payload. */
    m->ref = (uint64_t)(uintptr_t)slot;
    assert_ptr_equal(rk_msg_payload(m), slot + RK_MSG_HEADER_SIZE);
}

static void test_payload_byref(void **state)
{
    static const char big[] = "a payload that lives outside the slot";
    rk_msg m = good_msg();
    (void)state;
    m.flags = RK_MSG_F_BYREF;
    m.ref = (uint64_t)(uintptr_t)big;
    m.len = sizeof big;
    assert_ptr_equal(rk_msg_payload(&m), big);
    assert_memory_equal(rk_msg_payload(&m), big, sizeof big);
}

static void test_validate_ok(void **state)
{
    static unsigned char buf[MAX_PAYLOAD];
    rk_msg m = good_msg();
    (void)state;
    assert_int_equal(rk_msg_validate(&m, INLINE_CAP, MAX_PAYLOAD), RK_OK);
    m.len = 0;
    assert_int_equal(rk_msg_validate(&m, INLINE_CAP, MAX_PAYLOAD), RK_OK);
    m.len = INLINE_CAP; /* exactly fills the slot */
    assert_int_equal(rk_msg_validate(&m, INLINE_CAP, MAX_PAYLOAD), RK_OK);
    m.type = RK_MSG_TYPE_SYSTEM - 1; /* the last user type */
    assert_int_equal(rk_msg_validate(&m, INLINE_CAP, MAX_PAYLOAD), RK_OK);
    m.type = 0;
    assert_int_equal(rk_msg_validate(&m, INLINE_CAP, MAX_PAYLOAD), RK_OK);

    m = good_msg();
    m.flags = RK_MSG_F_REQUEST;
    m.corr = 42;
    assert_int_equal(rk_msg_validate(&m, INLINE_CAP, MAX_PAYLOAD), RK_OK);
    m.flags = RK_MSG_F_REPLY;
    assert_int_equal(rk_msg_validate(&m, INLINE_CAP, MAX_PAYLOAD), RK_OK);
    m.flags = 0; /* a one-way message may carry a corr; it is ignored */
    assert_int_equal(rk_msg_validate(&m, INLINE_CAP, MAX_PAYLOAD), RK_OK);

    m = good_msg();
    m.flags = RK_MSG_F_BYREF;
    m.ref = (uint64_t)(uintptr_t)buf;
    m.len = MAX_PAYLOAD; /* over the slot, at the limit */
    assert_int_equal(rk_msg_validate(&m, INLINE_CAP, MAX_PAYLOAD), RK_OK);
    m.len = 1;
    assert_int_equal(rk_msg_validate(&m, INLINE_CAP, MAX_PAYLOAD), RK_OK);
    m.flags = RK_MSG_F_BYREF | RK_MSG_F_REQUEST;
    m.corr = 9;
    assert_int_equal(rk_msg_validate(&m, INLINE_CAP, MAX_PAYLOAD), RK_OK);
    m.flags = RK_MSG_F_BYREF | RK_MSG_F_REPLY;
    assert_int_equal(rk_msg_validate(&m, INLINE_CAP, MAX_PAYLOAD), RK_OK);
}

static void test_validate_unknown_flags(void **state)
{
    rk_msg m = good_msg();
    uint32_t bit;
    (void)state;
    for (bit = 3; bit < 32; bit++) {
        m.flags = 1u << bit;
        assert_int_equal(rk_msg_validate(&m, INLINE_CAP, MAX_PAYLOAD), RK_EBADMSG);
    }
    m.flags = UINT32_MAX;
    m.corr = 1;
    assert_int_equal(rk_msg_validate(&m, INLINE_CAP, MAX_PAYLOAD), RK_EBADMSG);
}

static void test_validate_request_and_reply(void **state)
{
    rk_msg m = good_msg();
    (void)state;
    m.flags = RK_MSG_F_REQUEST | RK_MSG_F_REPLY;
    m.corr = 5;
    assert_int_equal(rk_msg_validate(&m, INLINE_CAP, MAX_PAYLOAD), RK_EBADMSG);
}

static void test_validate_missing_corr(void **state)
{
    rk_msg m = good_msg();
    (void)state;
    m.flags = RK_MSG_F_REQUEST;
    m.corr = 0;
    assert_int_equal(rk_msg_validate(&m, INLINE_CAP, MAX_PAYLOAD), RK_EBADMSG);
    m.flags = RK_MSG_F_REPLY;
    assert_int_equal(rk_msg_validate(&m, INLINE_CAP, MAX_PAYLOAD), RK_EBADMSG);
}

static void test_validate_system_type(void **state)
{
    rk_msg m = good_msg();
    (void)state;
    m.type = RK_MSG_TYPE_SYSTEM;
    assert_int_equal(rk_msg_validate(&m, INLINE_CAP, MAX_PAYLOAD), RK_EINVAL);
    m.type = UINT32_MAX;
    assert_int_equal(rk_msg_validate(&m, INLINE_CAP, MAX_PAYLOAD), RK_EINVAL);
}

static void test_validate_over_limit(void **state)
{
    static unsigned char buf[1];
    rk_msg m = good_msg();
    (void)state;
    m.flags = RK_MSG_F_BYREF;
    m.ref = (uint64_t)(uintptr_t)buf;
    m.len = MAX_PAYLOAD + 1;
    assert_int_equal(rk_msg_validate(&m, INLINE_CAP, MAX_PAYLOAD), RK_E2BIG);
    m.len = UINT32_MAX;
    assert_int_equal(rk_msg_validate(&m, INLINE_CAP, MAX_PAYLOAD), RK_E2BIG);
    /* The limit applies to inline payloads too. */
    m = good_msg();
    m.len = 100;
    assert_int_equal(rk_msg_validate(&m, INLINE_CAP, 99), RK_E2BIG);
    assert_int_equal(rk_msg_validate(&m, INLINE_CAP, 100), RK_OK);
}

static void test_validate_inline_too_big(void **state)
{
    rk_msg m = good_msg();
    (void)state;
    m.len = INLINE_CAP + 1;
    assert_int_equal(rk_msg_validate(&m, INLINE_CAP, MAX_PAYLOAD), RK_E2BIG);
    m.len = MAX_PAYLOAD;
    assert_int_equal(rk_msg_validate(&m, INLINE_CAP, MAX_PAYLOAD), RK_E2BIG);
    /* A 64-byte slot holds only the header. */
    m.len = 1;
    assert_int_equal(rk_msg_validate(&m, rk_msg_inline_capacity(64), MAX_PAYLOAD), RK_E2BIG);
    m.len = 0;
    assert_int_equal(rk_msg_validate(&m, rk_msg_inline_capacity(64), MAX_PAYLOAD), RK_OK);
}

static void test_validate_byref_without_ref(void **state)
{
    rk_msg m = good_msg();
    (void)state;
    m.flags = RK_MSG_F_BYREF;
    m.ref = 0;
    assert_int_equal(rk_msg_validate(&m, INLINE_CAP, MAX_PAYLOAD), RK_EBADMSG);
    m.len = 0;
    assert_int_equal(rk_msg_validate(&m, INLINE_CAP, MAX_PAYLOAD), RK_EBADMSG);
}

static void test_validate_ref_without_byref(void **state)
{
    static unsigned char buf[16];
    rk_msg m = good_msg();
    (void)state;
    m.ref = (uint64_t)(uintptr_t)buf;
    assert_int_equal(rk_msg_validate(&m, INLINE_CAP, MAX_PAYLOAD), RK_EBADMSG);
    m.flags = RK_MSG_F_REQUEST;
    m.corr = 3;
    assert_int_equal(rk_msg_validate(&m, INLINE_CAP, MAX_PAYLOAD), RK_EBADMSG);
}

/* The fields the entry check leaves to the runtime (routing, tenancy,
 * generations, clock, the ring's sequence word) do not affect it. */
static void test_validate_ignores_routing_fields(void **state)
{
    rk_msg m = good_msg();
    (void)state;
    m.seq = UINT64_MAX;
    m.src = RK_ACTOR_NONE;
    m.dst = RK_ACTOR_HOST;
    m.tenant = UINT32_MAX;
    m.dst_gen = 12;
    m.src_gen = 13;
    m.hlc = UINT64_MAX;
    assert_int_equal(rk_msg_validate(&m, INLINE_CAP, MAX_PAYLOAD), RK_OK);
}

/* Validation reads the header only; it must not write it. */
static void test_validate_is_read_only(void **state)
{
    rk_msg m = good_msg(), copy;
    (void)state;
    m.flags = RK_MSG_F_REQUEST | RK_MSG_F_REPLY | (1u << 9);
    copy = m;
    assert_int_equal(rk_msg_validate(&m, INLINE_CAP, MAX_PAYLOAD), RK_EBADMSG);
    assert_memory_equal(&m, &copy, sizeof m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_layout),
        cmocka_unit_test(test_flag_and_id_values),
        cmocka_unit_test(test_inline_capacity),
        cmocka_unit_test(test_payload_inline),
        cmocka_unit_test(test_payload_byref),
        cmocka_unit_test(test_validate_ok),
        cmocka_unit_test(test_validate_unknown_flags),
        cmocka_unit_test(test_validate_request_and_reply),
        cmocka_unit_test(test_validate_missing_corr),
        cmocka_unit_test(test_validate_system_type),
        cmocka_unit_test(test_validate_over_limit),
        cmocka_unit_test(test_validate_inline_too_big),
        cmocka_unit_test(test_validate_byref_without_ref),
        cmocka_unit_test(test_validate_ref_without_byref),
        cmocka_unit_test(test_validate_ignores_routing_fields),
        cmocka_unit_test(test_validate_is_read_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
