/* ringkernel: bounded lock-free rings for host C and CUDA device code.
 *
 * A ring has `capacity` slots (a power of two) of `slot_size` bytes; every
 * slot starts with a 64-bit sequence word that the ring owns. Positions are
 * free-running 64-bit counters, so they never wrap in practice.
 *
 *   producers: claim n positions -> fill the slots -> publish them
 *   consumer:  wait until a slot is ready -> read it -> consume up to a head
 *
 * Flag-in-line: a slot at position p is ready when its sequence word equals
 * p + 1, so one read of the slot returns the data and its "ready" flag
 * together; the consumer never reads the producers' tail. Publication of a
 * batch costs one release fence on the device (release stores, which are
 * plain stores on x86, on the host).
 *
 * Single-producer rings claim with a plain store, multi-producer rings with a
 * compare-and-swap on the shared tail. Both check for space against a cached
 * copy of the consumer's head and re-read the real head only when the cache
 * says full, so a producer across PCIe pays one remote read per `capacity`
 * messages, not one per message.
 *
 * The three parts - producer line, consumer line, slots - may live in
 * different memories: put each line where its writers are (rk_ring_init_split).
 * The ring never allocates; the caller owns all memory. */
#ifndef RINGKERNEL_RING_H
#define RINGKERNEL_RING_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ringkernel/export.h"
#include "ringkernel/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The GPU's cache line; each side's words get one of their own. */
#define RK_RING_LINE 128u

enum rk_ring_mode {
    RK_RING_SPSC = 0,
    RK_RING_MPSC = 1,
};

/* Which agents share the ring on the device side: decides the scope of the
 * device's atomics and fences (host code always uses full-system ordering). */
enum rk_ring_scope {
    RK_RING_SCOPE_SYSTEM = 0, /* host and device: pinned mapped memory */
    RK_RING_SCOPE_DEVICE = 1, /* blocks of one GPU: device memory */
};

typedef struct rk_ring_prod {
    uint64_t tail;       /* next position to claim */
    uint64_t head_cache; /* producers' last view of rk_ring_cons.head */
    unsigned char pad_[RK_RING_LINE - 16];
} rk_ring_prod;

typedef struct rk_ring_cons {
    uint64_t head; /* every position below it has been read */
    unsigned char pad_[RK_RING_LINE - 8];
} rk_ring_cons;

RK_STATIC_ASSERT(sizeof(rk_ring_prod) == RK_RING_LINE, "producer words fill one line");
RK_STATIC_ASSERT(sizeof(rk_ring_cons) == RK_RING_LINE, "consumer words fill one line");

/* A descriptor: plain pointers and geometry, copied by value to each side. */
typedef struct rk_ring {
    rk_ring_prod *prod;
    rk_ring_cons *cons;
    unsigned char *slots;
    uint32_t capacity;
    uint32_t slot_size;
    uint32_t mode;  /* enum rk_ring_mode */
    uint32_t scope; /* enum rk_ring_scope */
} rk_ring;

RK_STATIC_ASSERT(sizeof(rk_ring) == 40, "ring descriptor layout is shared with device code");

/* ---- atomics: gcc builtins on the host, PTX on the device ---------------- */

#if defined(__CUDA_ARCH__)
__device__ __forceinline__ uint64_t rk__ld_acquire(const uint64_t *p, uint32_t scope)
{
    uint64_t v;
    if (scope == RK_RING_SCOPE_SYSTEM)
        asm volatile("ld.acquire.sys.global.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
    else
        asm volatile("ld.acquire.gpu.global.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
    return v;
}
__device__ __forceinline__ uint64_t rk__ld_relaxed(const uint64_t *p, uint32_t scope)
{
    uint64_t v;
    if (scope == RK_RING_SCOPE_SYSTEM)
        asm volatile("ld.relaxed.sys.global.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
    else
        asm volatile("ld.relaxed.gpu.global.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
    return v;
}
__device__ __forceinline__ void rk__st_relaxed(uint64_t *p, uint64_t v, uint32_t scope)
{
    if (scope == RK_RING_SCOPE_SYSTEM)
        asm volatile("st.relaxed.sys.global.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
    else
        asm volatile("st.relaxed.gpu.global.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
}
__device__ __forceinline__ void rk__st_release(uint64_t *p, uint64_t v, uint32_t scope)
{
    if (scope == RK_RING_SCOPE_SYSTEM)
        asm volatile("st.release.sys.global.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
    else
        asm volatile("st.release.gpu.global.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
}
__device__ __forceinline__ void rk__fence_release(uint32_t scope)
{
    if (scope == RK_RING_SCOPE_SYSTEM)
        __threadfence_system();
    else
        __threadfence();
}
__device__ __forceinline__ int rk__cas(uint64_t *p, uint64_t *expected, uint64_t desired, uint32_t scope)
{
    unsigned long long want = *expected, got;
    if (scope == RK_RING_SCOPE_SYSTEM)
        got = atomicCAS_system((unsigned long long *)p, want, (unsigned long long)desired);
    else
        got = atomicCAS((unsigned long long *)p, want, (unsigned long long)desired);
    *expected = got;
    return got == want;
}
#else
static inline uint64_t rk__ld_acquire(const uint64_t *p, uint32_t scope)
{
    (void)scope;
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
static inline uint64_t rk__ld_relaxed(const uint64_t *p, uint32_t scope)
{
    (void)scope;
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}
static inline void rk__st_relaxed(uint64_t *p, uint64_t v, uint32_t scope)
{
    (void)scope;
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
}
static inline void rk__st_release(uint64_t *p, uint64_t v, uint32_t scope)
{
    (void)scope;
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}
static inline int rk__cas(uint64_t *p, uint64_t *expected, uint64_t desired, uint32_t scope)
{
    (void)scope;
    /* Relaxed would do for the claim itself (slot data is published by the
     * sequence store, and room by head_cache's acquire/release); acq_rel
     * keeps successive claims ordered for readers of tail such as depth. */
    return __atomic_compare_exchange_n(p, expected, desired, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}
#endif

/* ---- setup ----------------------------------------------------------------- */

/* Bytes one contiguous block needs for rk_ring_init: both lines and the slots. */
RK_HD size_t rk_ring_bytes(uint32_t capacity, uint32_t slot_size)
{
    return 2u * RK_RING_LINE + (size_t)capacity * slot_size;
}

/* Sets up a ring over caller-owned memory (parts may be in different memories:
 * pinned host, device, shared). `slots` must be 16-byte aligned and hold
 * capacity * slot_size bytes; the lines must be RK_RING_LINE aligned.
 * capacity: a power of two >= 2; slot_size: a multiple of 16, >= 16.
 * Returns RK_EINVAL for bad geometry or alignment. Not thread-safe: run it
 * before any producer or consumer starts. */
RK_HD rk_status rk_ring_init_split(rk_ring *r, rk_ring_prod *prod, rk_ring_cons *cons, void *slots,
                                   uint32_t capacity, uint32_t slot_size, enum rk_ring_mode mode,
                                   enum rk_ring_scope scope)
{
    if (!r || !prod || !cons || !slots)
        return RK_EINVAL;
    if (capacity < 2 || (capacity & (capacity - 1)) != 0 || capacity > (1u << 30))
        return RK_EINVAL;
    if (slot_size < 16 || slot_size % 16 != 0)
        return RK_EINVAL;
    if (((uintptr_t)prod | (uintptr_t)cons) % RK_RING_LINE != 0 || (uintptr_t)slots % 16 != 0)
        return RK_EINVAL;
    if (mode != RK_RING_SPSC && mode != RK_RING_MPSC)
        return RK_EINVAL;
    if (scope != RK_RING_SCOPE_SYSTEM && scope != RK_RING_SCOPE_DEVICE)
        return RK_EINVAL;
    memset(prod, 0, sizeof *prod);
    memset(cons, 0, sizeof *cons);
    /* Sequence 0 is "not ready" for every position: ready means seq == pos+1. */
    memset(slots, 0, (size_t)capacity * slot_size);
    r->prod = prod;
    r->cons = cons;
    r->slots = (unsigned char *)slots;
    r->capacity = capacity;
    r->slot_size = slot_size;
    r->mode = (uint32_t)mode;
    r->scope = (uint32_t)scope;
    return RK_OK;
}

/* rk_ring_init_split over one block of rk_ring_bytes() bytes, aligned to
 * RK_RING_LINE. */
RK_HD rk_status rk_ring_init(rk_ring *r, void *mem, uint32_t capacity, uint32_t slot_size,
                             enum rk_ring_mode mode, enum rk_ring_scope scope)
{
    unsigned char *base = (unsigned char *)mem;
    if (!base)
        return RK_EINVAL;
    return rk_ring_init_split(r, (rk_ring_prod *)base, (rk_ring_cons *)(base + RK_RING_LINE),
                              base + 2u * RK_RING_LINE, capacity, slot_size, mode, scope);
}

RK_HD void *rk_ring_slot(const rk_ring *r, uint64_t pos)
{
    return r->slots + (size_t)(pos & (uint64_t)(r->capacity - 1)) * r->slot_size;
}

/* ---- producer side -------------------------------------------------------- */

/* Room for n more slots given a head value; refreshes the cached head from
 * the consumer line only when the cache says there is not. */
RK_HD int rk__ring_has_room(const rk_ring *r, uint64_t tail, uint32_t n)
{
    /* Acquire, pairing with the release below: another producer's refresh
     * carries the consumer's reads of those slots to us along with it. */
    uint64_t head = rk__ld_acquire(&r->prod->head_cache, r->scope);
    /* Signed: an MPSC producer's tail may be stale, older than a head the
     * consumer has since reached; then there is room (the CAS will fail and
     * reload the tail), not -2^64 + small slots used. */
    if ((int64_t)(tail + n - head) <= (int64_t)r->capacity)
        return 1;
    /* Acquire: the consumer stored head with release after it finished reading
     * those slots, so our writes into them cannot overtake its reads. */
    head = rk__ld_acquire(&r->cons->head, r->scope);
    /* Release: passes on what the acquire above saw (see the first load). */
    rk__st_release(&r->prod->head_cache, head, r->scope);
    return (int64_t)(tail + n - head) <= (int64_t)r->capacity;
}

/* Claims n consecutive positions (all or nothing) and stores the first in
 * *pos. Returns RK_EFULL when fewer than n slots are free, RK_EINVAL for
 * n == 0 or n > capacity. Never blocks. In an SPSC ring only one thread may
 * claim; in an MPSC ring any number may. */
RK_HD rk_status rk_ring_claim(rk_ring *r, uint32_t n, uint64_t *pos)
{
    uint64_t tail;
    if (n == 0 || n > r->capacity)
        return RK_EINVAL;
    if (r->mode == RK_RING_SPSC) {
        /* Relaxed: only this producer writes tail; others read it for depth. */
        tail = rk__ld_relaxed(&r->prod->tail, r->scope);
        if (!rk__ring_has_room(r, tail, n))
            return RK_EFULL;
        rk__st_relaxed(&r->prod->tail, tail + n, r->scope);
        *pos = tail;
        return RK_OK;
    }
    tail = rk__ld_relaxed(&r->prod->tail, r->scope);
    for (;;) {
        if (!rk__ring_has_room(r, tail, n))
            return RK_EFULL;
        /* A failed CAS reloads tail and rechecks room from the new value. */
        if (rk__cas(&r->prod->tail, &tail, tail + n, r->scope)) {
            *pos = tail;
            return RK_OK;
        }
    }
}

/* Makes positions [pos, pos+n) visible to the consumer; the slots must have
 * been filled. One thread publishes the whole batch. */
RK_HD void rk_ring_publish(rk_ring *r, uint64_t pos, uint32_t n)
{
    uint32_t i;
#if defined(__CUDA_ARCH__)
    /* One fence orders every payload store of the batch before the sequence
     * stores below; the consumer's acquire load of a sequence word then sees
     * the slot's data. At system scope the fence also covers PCIe writes. */
    rk__fence_release(r->scope);
    for (i = 0; i < n; i++)
        rk__st_relaxed((uint64_t *)rk_ring_slot(r, pos + i), pos + i + 1, r->scope);
#else
    /* Release per store: orders the slot's payload stores before its
     * sequence store (free on x86, one dmb on Arm; and visible to TSan,
     * which does not model standalone fences). */
    for (i = 0; i < n; i++)
        rk__st_release((uint64_t *)rk_ring_slot(r, pos + i), pos + i + 1, r->scope);
#endif
}

/* ---- consumer side (one consumer) ----------------------------------------- */

/* The slot at `pos` if the producer has published it, else NULL. Acquire:
 * pairs with the release in rk_ring_publish, so the slot's bytes read after
 * this are the ones written before publication. */
RK_HD void *rk_ring_ready(const rk_ring *r, uint64_t pos)
{
    uint64_t *slot = (uint64_t *)rk_ring_slot(r, pos);
    return rk__ld_acquire(slot, r->scope) == pos + 1 ? (void *)slot : NULL;
}

/* ---- owner marks (MPSC rings read out of order) ------------------------------ */

/* A producer that keeps a claimed slot unpublished for long (the GPU's
 * actors: a reply slot held while a handler runs, sends published once per
 * batch) may write an owner mark into its sequence word first. A consumer
 * that may take messages out of order then goes past the slot and takes
 * later messages of other owners, never a later one of the same owner, so
 * each producer's order holds and one slow producer does not stall the
 * rest. The mark carries the position's low 32 bits, so a mark left from an
 * earlier lap of the ring never passes for a current one; bit 63 keeps it
 * apart from every published word (pos + 1). Owners are 31-bit ids. */
#define RK_RING_MARK_BIT (1ull << 63)
#define RK_RING_OWNER_MASK 0x7fffffffu

RK_HD uint64_t rk_ring_mark_word(uint64_t pos, uint32_t owner)
{
    return RK_RING_MARK_BIT | ((uint64_t)(owner & RK_RING_OWNER_MASK) << 32) | (uint32_t)pos;
}

RK_HD int rk__ring_look_for(const rk_ring *r, uint64_t pos, uint64_t published, uint32_t *owner)
{
    const uint64_t v = rk__ld_acquire((const uint64_t *)rk_ring_slot(r, pos), r->scope);
    if (v == published)
        return 1;
    if ((v & RK_RING_MARK_BIT) && (uint32_t)v == (uint32_t)pos) {
        *owner = (uint32_t)(v >> 32) & RK_RING_OWNER_MASK;
        return -1;
    }
    return 0;
}

/* What the sequence word at `pos` says, with one acquire load: 1 published
 * (as rk_ring_ready), 0 neither, -1 claimed and marked by *owner. */
RK_HD int rk_ring_look(const rk_ring *r, uint64_t pos, uint32_t *owner)
{
    return rk__ring_look_for(r, pos, pos + 1, owner);
}

/* ---- flag-per-word slots (LL) ------------------------------------------------- */

/* A producer across PCIe pays a system-scope fence (~1 us on an H200) to
 * order a slot's data before its sequence word. An LL slot needs none:
 * every 8-byte word carries 4 bytes of the item and a 4-byte flag made from
 * the position, so a word read shows by itself whether it was written for
 * this position (8-byte aligned stores and loads are single-copy atomic on
 * both sides). The consumer takes an item once its sequence word reads
 * rk_ring_ll_word(pos) and every word it needs carries rk_ring_ll_flag(pos);
 * until then the slot counts as not published. An item of n bytes (its
 * first 8 are the sequence word) takes a slot of 2n bytes:
 *
 *   [0, 8)    sequence word (or an owner mark)
 *   [8, 16)   unused
 *   [16, ..)  item byte 8 + 4k as word k: bytes in the low half, flag high
 *
 * Flags wrap every 2^32 positions, so an old word could carry the flag of a
 * later position; the consumer rewrites the flags of a slot once every
 * 2^31 positions of that slot (rk_ring_ll_retire) before freeing it, so no
 * word older than that survives. Same capacity and positions as any ring;
 * only the slot's format differs, so a ring is LL for its whole life. */
#define RK_RING_LL_BIT (1ull << 62)

RK_HD uint64_t rk_ring_ll_word(uint64_t pos)
{
    return (pos + 1) | RK_RING_LL_BIT;
}

RK_HD uint32_t rk_ring_ll_flag(uint64_t pos)
{
    return (uint32_t)(pos + 1);
}

/* rk_ring_look for an LL ring: 1 means that the sequence word is stored;
 * the words may still be on their way (rk_ring_ll_read tells). */
RK_HD int rk_ring_ll_look(const rk_ring *r, uint64_t pos, uint32_t *owner)
{
    return rk__ring_look_for(r, pos, rk_ring_ll_word(pos), owner);
}

/* The largest item an LL slot of `slot_size` bytes holds, and the slot an
 * item of `bytes` needs (both multiples of 16). */
RK_HD uint32_t rk_ring_ll_capacity(uint32_t slot_size)
{
    return slot_size / 2u;
}

RK_HD uint32_t rk_ring_ll_slot_size(uint32_t bytes)
{
    return 2u * bytes;
}

/* The word of item bytes [at, at + 4) for position pos. */
RK_HD uint64_t rk__ring_ll_pack(uint64_t pos, const unsigned char *at)
{
    uint32_t d;
    memcpy(&d, at, 4);
    return (uint64_t)d | ((uint64_t)rk_ring_ll_flag(pos) << 32);
}

/* Writes item bytes [at, at + n) from src into the claimed slot at pos
 * (at: a multiple of 4, >= 8; a last partial word is padded with zeros).
 * The device's producers write their own way (device.cuh); this is the
 * host's. */
RK_HD void rk_ring_ll_put(rk_ring *r, uint64_t pos, uint32_t at, const void *src, uint32_t n)
{
    unsigned char *slot = (unsigned char *)rk_ring_slot(r, pos);
    const unsigned char *s = (const unsigned char *)src;
    uint32_t i;
    for (i = 0; i < n; i += 4) {
        unsigned char part[4] = {0, 0, 0, 0};
        memcpy(part, s + i, n - i < 4 ? n - i : 4);
        rk__st_relaxed((uint64_t *)(slot + 16 + 2u * (at + i - 8)), rk__ring_ll_pack(pos, part), r->scope);
    }
}

/* Publishes the slot at pos once its words are put: its sequence word.
 * The words need no ordering (the consumer checks each one's flag), but
 * what the item refers to does - a by-reference payload written before -
 * so this is a release store (free on x86). The GPU's writer in
 * device.cuh, whose payloads travel inline, stores it relaxed: no fence. */
RK_HD void rk_ring_ll_publish(rk_ring *r, uint64_t pos)
{
    rk__st_release((uint64_t *)rk_ring_slot(r, pos), rk_ring_ll_word(pos), r->scope);
}

/* Copies item bytes [from, to) of the slot at pos into out + from (from:
 * a multiple of 4, >= 8; up to the next multiple of 4 past `to` is
 * written). Returns 1 if every word read was written for pos, else 0 (not
 * published yet: read again later). Does not look at the sequence word. */
RK_HD int rk_ring_ll_read(const rk_ring *r, uint64_t pos, void *out, uint32_t from, uint32_t to)
{
    const unsigned char *slot = (const unsigned char *)rk_ring_slot(r, pos);
    unsigned char *o = (unsigned char *)out;
    const uint32_t flag = rk_ring_ll_flag(pos);
    uint32_t i;
    for (i = from; i < to; i += 4) {
        const uint64_t v = rk__ld_relaxed((const uint64_t *)(slot + 16 + 2u * (i - 8)), r->scope);
        const uint32_t d = (uint32_t)v;
        if ((uint32_t)(v >> 32) != flag)
            return 0;
        memcpy(o + i, &d, 4);
    }
    return 1;
}

/* The consumer calls this for each position before freeing its slot
 * (before rk_ring_consume): once every 2^31 positions of a slot, it stamps
 * every word of the slot with pos's flag, so that no word keeps a flag that
 * a position 2^32 later would take for its own. */
RK_HD void rk_ring_ll_retire(rk_ring *r, uint64_t pos)
{
    uint64_t laps = (1ull << 31) / r->capacity;
    unsigned char *slot;
    uint32_t i;
    if ((pos / r->capacity) % laps != 0)
        return;
    slot = (unsigned char *)rk_ring_slot(r, pos);
    for (i = 16; i < r->slot_size; i += 8)
        rk__st_relaxed((uint64_t *)(slot + i), (uint64_t)rk_ring_ll_flag(pos) << 32, r->scope);
}

/* Frees every slot below `head` for reuse. Release: the consumer's reads of
 * those slots happen before any producer can claim and overwrite them. Batch
 * it: one call after a run of reads. */
RK_HD void rk_ring_consume(rk_ring *r, uint64_t head)
{
    rk__st_release(&r->cons->head, head, r->scope);
}

/* The consumer's own head (only the consumer writes it). Where the consumer
 * line is remote to the consumer, keep the head in a local variable instead. */
RK_HD uint64_t rk_ring_head(const rk_ring *r)
{
    return rk__ld_relaxed(&r->cons->head, r->scope);
}

/* Slots claimed and not yet consumed: exact when both sides are quiet,
 * otherwise a snapshot. */
RK_HD uint64_t rk_ring_depth(const rk_ring *r)
{
    uint64_t head = rk__ld_acquire(&r->cons->head, r->scope);
    uint64_t tail = rk__ld_relaxed(&r->prod->tail, r->scope);
    return tail - head;
}

/* ---- convenience: copy one item in or out --------------------------------- */

/* Copies `len` bytes of `item` into one slot. The first 8 bytes of the item
 * are the slot's sequence word and are not copied. Returns RK_E2BIG if the
 * item does not fit a slot, RK_EINVAL if it is shorter than 8 bytes,
 * RK_EFULL when the ring is full. */
RK_HD rk_status rk_ring_push(rk_ring *r, const void *item, size_t len)
{
    uint64_t pos;
    rk_status st;
    if (len < sizeof(uint64_t))
        return RK_EINVAL;
    if (len > r->slot_size)
        return RK_E2BIG;
    st = rk_ring_claim(r, 1, &pos);
    if (st != RK_OK)
        return st;
    memcpy((unsigned char *)rk_ring_slot(r, pos) + 8, (const unsigned char *)item + 8, len - 8);
    rk_ring_publish(r, pos, 1);
    return RK_OK;
}

/* Copies the next slot's first `len` bytes into `out` (its first 8 bytes get
 * the sequence word) and frees the slot. RK_EEMPTY when nothing is ready. */
RK_HD rk_status rk_ring_pop(rk_ring *r, void *out, size_t len)
{
    uint64_t head = rk_ring_head(r);
    const void *slot = rk_ring_ready(r, head);
    if (len > r->slot_size)
        return RK_E2BIG;
    if (!slot)
        return RK_EEMPTY;
    memcpy(out, slot, len);
    rk_ring_consume(r, head + 1);
    return RK_OK;
}

#ifdef __cplusplus
}
#endif

#endif
