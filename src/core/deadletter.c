#include "core/deadletter.h"

#include <stdlib.h>

rk_status rk__deadletters_init(rk__deadletters *d, uint32_t capacity)
{
    if (capacity == 0)
        return RK_EINVAL;
    d->items = calloc(capacity, sizeof *d->items);
    if (!d->items)
        return RK_ENOMEM;
    if (pthread_mutex_init(&d->lock, NULL) != 0) {
        free(d->items);
        return RK_ENOMEM;
    }
    d->capacity = capacity;
    d->head = d->count = 0;
    d->total = d->dropped = 0;
    return RK_OK;
}

void rk__deadletters_destroy(rk__deadletters *d)
{
    pthread_mutex_destroy(&d->lock);
    free(d->items);
    d->items = NULL;
}

void rk__dead_letter(rk__deadletters *d, const rk_msg *m, rk_status reason)
{
    pthread_mutex_lock(&d->lock);
    if (d->count == d->capacity) {
        d->head = (d->head + 1) % d->capacity;
        d->count--;
        d->dropped++;
    }
    rk_dead_letter *slot = &d->items[(d->head + d->count) % d->capacity];
    slot->hdr = *m;
    slot->hdr.seq = 0;
    slot->reason = reason;
    d->count++;
    d->total++;
    pthread_mutex_unlock(&d->lock);
}

rk_status rk__deadletters_pop(rk__deadletters *d, rk_dead_letter *out, uint64_t *dropped)
{
    rk_status st = RK_EEMPTY;
    pthread_mutex_lock(&d->lock);
    if (dropped)
        *dropped = d->dropped;
    if (d->count > 0) {
        *out = d->items[d->head];
        d->head = (d->head + 1) % d->capacity;
        d->count--;
        st = RK_OK;
    }
    pthread_mutex_unlock(&d->lock);
    return st;
}

void rk__deadletters_lost(rk__deadletters *d, uint64_t n)
{
    pthread_mutex_lock(&d->lock);
    d->total += n;
    d->dropped += n;
    pthread_mutex_unlock(&d->lock);
}

uint64_t rk__deadletters_total(rk__deadletters *d)
{
    pthread_mutex_lock(&d->lock);
    uint64_t t = d->total;
    pthread_mutex_unlock(&d->lock);
    return t;
}
