/* Helpers shared by the test programs (not part of the library). */
#ifndef RK_TEST_H
#define RK_TEST_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#define RK_TEST_SKIP 77 /* CTest's "Not Run" */

/* How many messages a stress test moves: RK_STRESS_MESSAGES from the
 * environment, else `dflt`. Sanitizer builds pass smaller numbers through
 * the environment set by the test command, never by weakening assertions. */
static inline uint64_t rk_test_messages(uint64_t dflt)
{
    const char *s = getenv("RK_STRESS_MESSAGES");
    if (s && *s) {
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (*end == '\0' && v > 0)
            return v;
    }
    return dflt;
}

static inline uint64_t rk_test_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void rk_test_sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
    nanosleep(&ts, NULL);
}

/* A gate that handlers wait at (on worker threads, so no cmocka asserts):
 * counts the arrival in *entered, then waits until *gate is set. Returns 0
 * if it stayed closed for limit_ns, so a bug fails a test instead of
 * hanging it. */
static inline int rk_test_gate_wait(atomic_int *gate, atomic_int *entered, uint64_t limit_ns)
{
    uint64_t deadline = rk_test_now_ns() + limit_ns;
    atomic_fetch_add(entered, 1);
    while (!atomic_load(gate)) {
        if (rk_test_now_ns() > deadline)
            return 0;
        rk_test_sleep_ns(100000);
    }
    return 1;
}

#endif
