/* The lifecycle table: every allowed edge leads where the design says, and
 * every other (state, event) pair is refused with RK_ETRANSITION. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "ringkernel/lifecycle.h"

typedef struct edge {
    rk_lifecycle_state from;
    rk_lifecycle_event ev;
    rk_lifecycle_state to;
} edge;

/* The complete set of allowed transitions (DESIGN.md section 5). */
static const edge allowed[] = {
    {RK_DORMANT, RK_EV_CREATE, RK_INITIALIZING},
    {RK_INITIALIZING, RK_EV_READY, RK_ACTIVE},
    {RK_INITIALIZING, RK_EV_FAIL, RK_FAILED},
    {RK_ACTIVE, RK_EV_DEACTIVATE, RK_DRAINING},
    {RK_ACTIVE, RK_EV_TERMINATE, RK_TERMINATED},
    {RK_ACTIVE, RK_EV_FAIL, RK_FAILED},
    {RK_ACTIVE, RK_EV_RESTART, RK_INITIALIZING},
    {RK_DRAINING, RK_EV_ACTIVATE, RK_ACTIVE},
    {RK_DRAINING, RK_EV_TERMINATE, RK_TERMINATED},
    {RK_DRAINING, RK_EV_FAIL, RK_FAILED},
    {RK_DRAINING, RK_EV_RESTART, RK_INITIALIZING},
    {RK_FAILED, RK_EV_RESTART, RK_INITIALIZING},
    {RK_TERMINATED, RK_EV_RESTART, RK_INITIALIZING},
};

static const edge *find(rk_lifecycle_state s, rk_lifecycle_event ev)
{
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        if (allowed[i].from == s && allowed[i].ev == ev)
            return &allowed[i];
    return NULL;
}

static void every_pair_matches_the_table(void **unused)
{
    int refused = 0;
    (void)unused;
    for (int s = 0; s < RK_LIFECYCLE_STATE_COUNT_; s++) {
        for (int ev = 0; ev < RK_LIFECYCLE_EVENT_COUNT_; ev++) {
            rk_lifecycle_state to = (rk_lifecycle_state)99;
            rk_status st = rk_lifecycle_next((rk_lifecycle_state)s, (rk_lifecycle_event)ev, &to);
            const edge *e = find((rk_lifecycle_state)s, (rk_lifecycle_event)ev);
            if (e) {
                assert_int_equal(st, RK_OK);
                assert_int_equal(to, e->to);
            } else {
                assert_int_equal(st, RK_ETRANSITION);
                assert_int_equal(to, 99); /* untouched on refusal */
                refused++;
            }
        }
    }
    /* 6 states x 7 events = 42 pairs, 13 allowed. */
    assert_int_equal(refused, 42 - 13);
}

static void out_of_range_is_einval(void **unused)
{
    rk_lifecycle_state to;
    (void)unused;
    assert_int_equal(rk_lifecycle_next((rk_lifecycle_state)6, RK_EV_CREATE, &to), RK_EINVAL);
    assert_int_equal(rk_lifecycle_next(RK_DORMANT, (rk_lifecycle_event)7, &to), RK_EINVAL);
    assert_int_equal(rk_lifecycle_next((rk_lifecycle_state)-1, RK_EV_CREATE, &to), RK_EINVAL);
    assert_int_equal(rk_lifecycle_next(RK_DORMANT, RK_EV_CREATE, NULL), RK_OK);
}

static void terminal_states_only_restart(void **unused)
{
    (void)unused;
    for (int ev = 0; ev < RK_LIFECYCLE_EVENT_COUNT_; ev++) {
        rk_status want = ev == RK_EV_RESTART ? RK_OK : RK_ETRANSITION;
        assert_int_equal(rk_lifecycle_next(RK_TERMINATED, (rk_lifecycle_event)ev, NULL), want);
        assert_int_equal(rk_lifecycle_next(RK_FAILED, (rk_lifecycle_event)ev, NULL), want);
    }
}

static void accepts_and_runs(void **unused)
{
    (void)unused;
    assert_true(rk_lifecycle_accepts(RK_ACTIVE));
    assert_true(rk_lifecycle_accepts(RK_INITIALIZING));
    assert_false(rk_lifecycle_accepts(RK_DRAINING));
    assert_false(rk_lifecycle_accepts(RK_FAILED));
    assert_false(rk_lifecycle_accepts(RK_TERMINATED));
    assert_false(rk_lifecycle_accepts(RK_DORMANT));
    assert_true(rk_lifecycle_runs(RK_ACTIVE));
    assert_true(rk_lifecycle_runs(RK_DRAINING));
    assert_false(rk_lifecycle_runs(RK_INITIALIZING));
    assert_false(rk_lifecycle_runs(RK_FAILED));
}

static void names(void **unused)
{
    (void)unused;
    assert_string_equal(rk_lifecycle_state_name(RK_ACTIVE), "Active");
    assert_string_equal(rk_lifecycle_state_name(RK_DRAINING), "Draining");
    assert_string_equal(rk_lifecycle_state_name((rk_lifecycle_state)42), "Unknown");
    assert_string_equal(rk_lifecycle_event_name(RK_EV_RESTART), "restart");
    assert_string_equal(rk_lifecycle_event_name((rk_lifecycle_event)42), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_pair_matches_the_table),
        cmocka_unit_test(out_of_range_is_einval),
        cmocka_unit_test(terminal_states_only_restart),
        cmocka_unit_test(accepts_and_runs),
        cmocka_unit_test(names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
