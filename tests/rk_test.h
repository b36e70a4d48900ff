/* Helpers shared by the test programs (not part of the library). */
#ifndef RK_TEST_H
#define RK_TEST_H

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

#endif
