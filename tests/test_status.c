/* status.h: every status has a name and a message, the names follow the enum,
 * and values outside the table are answered, not crashed on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ringkernel/status.h"

static void test_ok_is_zero(void **state)
{
    (void)state;
    assert_int_equal(RK_OK, 0);
    assert_string_equal(rk_status_name(RK_OK), "RK_OK");
}

/* The names come from the same table as the enum, so each one spells its
 * enumerator. */
static void test_names_match_enum(void **state)
{
    (void)state;
#define CHECK_NAME(name, msg) assert_string_equal(rk_status_name(RK_##name), "RK_" #name);
    RK_STATUS_MAP(CHECK_NAME)
#undef CHECK_NAME
}

static void test_messages_match_table(void **state)
{
    (void)state;
#define CHECK_MSG(name, msg) assert_string_equal(rk_strerror(RK_##name), msg);
    RK_STATUS_MAP(CHECK_MSG)
#undef CHECK_MSG
}

static void test_every_status_defined_and_distinct(void **state)
{
    int i, j;
    (void)state;
    assert_true(RK_STATUS_COUNT_ > 1);
    for (i = 0; i < RK_STATUS_COUNT_; i++) {
        const char *name = rk_status_name((rk_status)i);
        const char *msg = rk_strerror((rk_status)i);
        assert_non_null(name);
        assert_non_null(msg);
        assert_true(strncmp(name, "RK_", 3) == 0);
        assert_true(strlen(name) > 3);
        assert_true(strlen(msg) > 0);
        assert_string_not_equal(name, "RK_UNKNOWN");
        for (j = 0; j < i; j++) {
            assert_string_not_equal(name, rk_status_name((rk_status)j));
            assert_string_not_equal(msg, rk_strerror((rk_status)j));
        }
    }
}

static void test_out_of_range(void **state)
{
    static const int bad[] = {-1, -1000, INT32_MIN, INT32_MAX, 1000};
    size_t i;
    (void)state;
    assert_string_equal(rk_status_name(RK_STATUS_COUNT_), "RK_UNKNOWN");
    assert_non_null(rk_strerror(RK_STATUS_COUNT_));
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_string_equal(rk_status_name((rk_status)bad[i]), "RK_UNKNOWN");
        assert_non_null(rk_strerror((rk_status)bad[i]));
        assert_true(strlen(rk_strerror((rk_status)bad[i])) > 0);
    }
}

/* Values are part of the ABI (the table is append-only): pin the first ones
 * that host and device code exchange. */
static void test_values_pinned(void **state)
{
    (void)state;
    assert_int_equal(RK_EINVAL, 1);
    assert_int_equal(RK_ENOMEM, 2);
    assert_int_equal(RK_EFULL, 3);
    assert_int_equal(RK_EEMPTY, 4);
    assert_int_equal(RK_ETIMEDOUT, 5);
    assert_int_equal(RK_E2BIG, 6);
    assert_int_equal(RK_EBADMSG, 12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok_is_zero),
        cmocka_unit_test(test_names_match_enum),
        cmocka_unit_test(test_messages_match_table),
        cmocka_unit_test(test_every_status_defined_and_distinct),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_values_pinned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
