/* ringkernel internals: monotonic time and deadlines. */
#ifndef RK_CLOCK_H
#define RK_CLOCK_H

#include <stdint.h>

/* Nanoseconds of CLOCK_MONOTONIC. */
uint64_t rk__now_ns(void);

/* now + timeout, saturating (RK_FOREVER stays forever). */
uint64_t rk__deadline(uint64_t timeout_ns);

/* Sleeps about `ns` nanoseconds (used by backoff loops). */
void rk__sleep_ns(uint64_t ns);

/* A hint to the core that we are spinning. */
static inline void rk__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif
