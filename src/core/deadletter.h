/* ringkernel internals: the dead-letter queue.
 *
 * Bounded: when full, the oldest letter is discarded and counted, so the
 * queue never grows and the count of what it lost is always known. A
 * mutex guards it: dead letters are the slow path. */
#ifndef RK_DEADLETTER_H
#define RK_DEADLETTER_H

#include <pthread.h>
#include <stdint.h>

#include "ringkernel/ringkernel.h"

typedef struct rk__deadletters {
    pthread_mutex_t lock;
    rk_dead_letter *items;
    uint32_t capacity, head, count;
    uint64_t total;   /* ever dead-lettered */
    uint64_t dropped; /* discarded because the queue was full */
} rk__deadletters;

rk_status rk__deadletters_init(rk__deadletters *d, uint32_t capacity);
void rk__deadletters_destroy(rk__deadletters *d);

/* Records `m` (its header) as undeliverable for `reason`. Thread-safe. */
void rk__dead_letter(rk__deadletters *d, const rk_msg *m, rk_status reason);

rk_status rk__deadletters_pop(rk__deadletters *d, rk_dead_letter *out, uint64_t *dropped);
uint64_t rk__deadletters_total(rk__deadletters *d);
/* n dead letters a backend could not hand over (its queue to the host was
 * full): counted as dead-lettered and dropped. */
void rk__deadletters_lost(rk__deadletters *d, uint64_t n);

#endif
