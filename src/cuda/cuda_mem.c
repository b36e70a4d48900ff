/* ringkernel CUDA backend: pinned and device memory.
 *
 * Every allocation goes through here so that tests can make the n-th one
 * fail (RK_CUDA_FAIL_ALLOC=n) and check that each caller cleans up. Callers
 * hold the context (rk__cuda_enter). Frees happen only once the kernel has
 * stopped (cuMemFree and cuMemFreeHost may wait for running kernels), except
 * those of actor states from the state pool (below). */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_internal.h"

#define RK__CUDA_CHUNK (4u << 20)

static int rk__cuda_fault(rk__cuda *b)
{
    return __atomic_add_fetch(&b->alloc_count, 1, __ATOMIC_RELAXED) == b->fail_at;
}

rk_status rk__cuda_pin(rk__cuda *b, size_t bytes, rk__pinned *out)
{
    void *host = NULL;
    CUdeviceptr dev = 0;
    CUresult r;
    memset(out, 0, sizeof *out);
    if (rk__cuda_fault(b))
        return RK_ENOMEM;
    r = b->cu.cuMemHostAlloc(&host, bytes, CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_PORTABLE);
    if (r != CUDA_SUCCESS) {
        rk__cuda_log(b, "cuMemHostAlloc(%zu): %s", bytes, rk__cu_name(&b->cu, r));
        return RK_ENOMEM;
    }
    r = b->cu.cuMemHostGetDevicePointer(&dev, host, 0);
    if (r != CUDA_SUCCESS) {
        b->cu.cuMemFreeHost(host);
        return rk__cu_status(r);
    }
    memset(host, 0, bytes);
    out->host = host;
    out->dev = dev;
    out->bytes = bytes;
    return RK_OK;
}

void rk__cuda_unpin(rk__cuda *b, rk__pinned *p)
{
    if (p->host && !p->pooled)
        b->cu.cuMemFreeHost(p->host);
    memset(p, 0, sizeof *p);
}

rk_status rk__cuda_pin_late(rk__cuda *b, size_t bytes, rk__pinned *out)
{
    size_t need = (bytes + 4095) & ~(size_t)4095, off;
    if (b->pool.host) {
        /* Atomic: byref arenas are made outside b->lock. */
        off = __atomic_fetch_add(&b->pool_used, need, __ATOMIC_RELAXED);
        if (off + need <= b->pool.bytes) {
            out->host = (unsigned char *)b->pool.host + off;
            out->dev = b->pool.dev + off;
            out->bytes = bytes;
            out->pooled = 1;
            memset(out->host, 0, bytes);
            return RK_OK;
        }
    }
    return rk__cuda_pin(b, bytes, out);
}

rk_status rk__cuda_dalloc(rk__cuda *b, size_t bytes, int zero, CUdeviceptr *out)
{
    CUdeviceptr d = 0;
    CUresult r;
    *out = 0;
    if (rk__cuda_fault(b))
        return RK_ENOMEM;
    r = b->cu.cuMemAlloc(&d, bytes);
    if (r != CUDA_SUCCESS) {
        rk__cuda_log(b, "cuMemAlloc(%zu): %s", bytes, rk__cu_name(&b->cu, r));
        return rk__cu_status(r);
    }
    if (zero) {
        r = b->cu.cuMemsetD8Async(d, 0, bytes, b->copy_stream);
        if (r == CUDA_SUCCESS)
            r = b->cu.cuStreamSynchronize(b->copy_stream);
    }
    if (r != CUDA_SUCCESS) {
        b->cu.cuMemFree(d);
        return rk__cu_status(r);
    }
    *out = d;
    return RK_OK;
}

void rk__cuda_dfree(rk__cuda *b, CUdeviceptr *p)
{
    if (*p)
        b->cu.cuMemFree(*p);
    *p = 0;
}

rk_status rk__cuda_upload(rk__cuda *b, CUdeviceptr dst, const void *src, size_t n)
{
    uint64_t t0 = b->debug >= 2 ? rk__now_ns() : 0;
    CUresult r = b->cu.cuMemcpyHtoDAsync(dst, src, n, b->copy_stream);
    if (r == CUDA_SUCCESS)
        r = b->cu.cuStreamSynchronize(b->copy_stream);
    if (b->debug >= 2)
        rk__cuda_log(b, "upload of %zu bytes in %.2f us", n, (double)(rk__now_ns() - t0) / 1e3);
    return rk__cu_status(r);
}

rk_status rk__cuda_download(rk__cuda *b, void *dst, CUdeviceptr src, size_t n)
{
    uint64_t t0 = b->debug >= 2 ? rk__now_ns() : 0;
    CUresult r = b->cu.cuMemcpyDtoHAsync(dst, src, n, b->copy_stream);
    if (r == CUDA_SUCCESS)
        r = b->cu.cuStreamSynchronize(b->copy_stream);
    if (b->debug >= 2)
        rk__cuda_log(b, "download of %zu bytes in %.2f us", n, (double)(rk__now_ns() - t0) / 1e3);
    return rk__cu_status(r);
}

/* ---- actor states ----------------------------------------------------------
 *
 * With RK_CUDA_STATE_POOL=1, where the device has memory pools (and the
 * driver the pool entry points), states come from a pool of our own: a
 * freed state's memory serves later states of any size, and what the pool
 * holds beyond the states in it and RK_CUDA_STATE_ARENA bytes kept for the
 * next ones goes back to the driver after a free. Every pool operation is
 * ordered on b->copy_stream, a non-blocking stream of ours that the kernel
 * never runs on, so synchronising it waits for nothing the kernel does.
 *
 * Elsewhere states come from chunks of cuMemAlloc, handed out by bumping;
 * a freed state is reused only by a later state of the same size, and the
 * chunks go back when the runtime does. */

static size_t rk__cuda_state_need(uint32_t bytes)
{
    return ((size_t)bytes + 127u) & ~(size_t)127u;
}

static int rk__cuda_pool_supported(rk__cuda *b)
{
    const rk__cu *cu = &b->cu;
    int yes = 0;
    /* Off unless asked: on an H200 a create took 17.0 us with the pool and
     * 14.1 with chunks, and compute-sanitizer memcheck reports the kernel's
     * accesses to pool states (allocated after the launch) as out of
     * bounds. */
    if (!rk__cuda_env_u64("RK_CUDA_STATE_POOL", 0))
        return 0;
    if (!cu->cuMemPoolCreate || !cu->cuMemPoolDestroy || !cu->cuMemPoolSetAttribute || !cu->cuMemPoolGetAttribute ||
        !cu->cuMemPoolTrimTo || !cu->cuMemAllocFromPoolAsync || !cu->cuMemFreeAsync)
        return 0;
    return cu->cuDeviceGetAttribute(&yes, CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED, b->device) == CUDA_SUCCESS &&
           yes;
}

static rk_status rk__cuda_pool_create(rk__cuda *b)
{
    CUmemPoolProps props;
    cuuint64_t keep_all = UINT64_MAX;
    int no = 0;
    CUresult r;
    memset(&props, 0, sizeof props);
    props.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
    props.handleTypes = CU_MEM_HANDLE_TYPE_NONE;
    props.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    props.location.id = (int)b->device;
    r = b->cu.cuMemPoolCreate(&b->state_pool, &props);
    if (r != CUDA_SUCCESS) {
        b->state_pool = NULL;
        rk__cuda_log(b, "cuMemPoolCreate: %s; states come from chunks", rk__cu_name(&b->cu, r));
        return rk__cu_status(r);
    }
    /* No release at synchronisations: the threshold counts the memory in
     * use too, so with more state than it every synchronisation would give
     * back all free memory. rk__cuda_pool_trim keeps some instead. */
    r = b->cu.cuMemPoolSetAttribute(b->state_pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &keep_all);
    /* Never let an allocation wait for another stream: memory freed on the
     * kernel's stream would be free only when the kernel ends. */
    if (r == CUDA_SUCCESS)
        r = b->cu.cuMemPoolSetAttribute(b->state_pool, CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES, &no);
    if (r != CUDA_SUCCESS) {
        rk__cuda_log(b, "cuMemPoolSetAttribute: %s; states come from chunks", rk__cu_name(&b->cu, r));
        b->cu.cuMemPoolDestroy(b->state_pool);
        b->state_pool = NULL;
        return rk__cu_status(r);
    }
    return RK_OK;
}

/* The monitor's dev_chunks: the memory the pool holds, as the driver counts it. */
static void rk__cuda_pool_account(rk__cuda *b)
{
    cuuint64_t reserved = 0;
    if (b->cu.cuMemPoolGetAttribute(b->state_pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, &reserved) == CUDA_SUCCESS)
        __atomic_store_n(&b->dev_chunks, (uint64_t)reserved, __ATOMIC_RELAXED);
}

/* After a free (synchronised: a free not yet seen complete counts as in
 * use): gives back what the pool holds beyond its states and
 * RK_CUDA_STATE_ARENA bytes. Only whole blocks of the driver's free. */
static void rk__cuda_pool_trim(rk__cuda *b)
{
    cuuint64_t reserved = 0, used = 0;
    if (b->cu.cuMemPoolGetAttribute(b->state_pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, &reserved) != CUDA_SUCCESS ||
        b->cu.cuMemPoolGetAttribute(b->state_pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &used) != CUDA_SUCCESS)
        return;
    if (reserved > used + b->state_arena_bytes)
        (void)b->cu.cuMemPoolTrimTo(b->state_pool, (size_t)(used + b->state_arena_bytes));
}

/* Before the launch: `bytes` taken and given back, so that the pool holds
 * them for the first states. */
static rk_status rk__cuda_pool_reserve(rk__cuda *b, size_t bytes)
{
    CUdeviceptr d = 0;
    CUresult r;
    if (rk__cuda_fault(b))
        return RK_ENOMEM;
    r = b->cu.cuMemAllocFromPoolAsync(&d, bytes, b->state_pool, b->copy_stream);
    if (r == CUDA_SUCCESS)
        r = b->cu.cuMemFreeAsync(d, b->copy_stream);
    if (r == CUDA_SUCCESS)
        r = b->cu.cuStreamSynchronize(b->copy_stream);
    if (r != CUDA_SUCCESS) {
        rk__cuda_log(b, "state pool, %zu bytes: %s", bytes, rk__cu_name(&b->cu, r));
        return rk__cu_status(r);
    }
    rk__cuda_pool_account(b);
    return RK_OK;
}

static rk_status rk__cuda_pool_alloc(rk__cuda *b, size_t need, CUdeviceptr *out)
{
    struct rk__cuda_pool_state *s;
    CUdeviceptr d = 0;
    CUresult r;
    if (rk__cuda_fault(b))
        return RK_ENOMEM;
    s = malloc(sizeof *s);
    if (!s)
        return RK_ENOMEM;
    r = b->cu.cuMemAllocFromPoolAsync(&d, need, b->state_pool, b->copy_stream);
    /* Complete before the block hears of it: the kernel's stream is
     * ordered after nothing of ours. */
    if (r == CUDA_SUCCESS)
        r = b->cu.cuStreamSynchronize(b->copy_stream);
    if (r != CUDA_SUCCESS) {
        rk__cuda_log(b, "cuMemAllocFromPoolAsync(%zu): %s", need, rk__cu_name(&b->cu, r));
        if (d)
            (void)b->cu.cuMemFreeAsync(d, b->copy_stream);
        free(s);
        return rk__cu_status(r);
    }
    assert((d & 127u) == 0); /* the pool aligns to at least 256 */
    s->ptr = d;
    s->next = b->pool_states;
    b->pool_states = s;
    rk__cuda_pool_account(b);
    *out = d;
    return RK_OK;
}

/* A state that fails to be freed stays on b->pool_states: freed with the
 * pool at the end. */
static void rk__cuda_pool_free(rk__cuda *b, CUdeviceptr ptr)
{
    struct rk__cuda_pool_state **pp, *s;
    CUresult r;
    /* Newest first: a create that fails frees the state it just took. */
    for (pp = &b->pool_states; (s = *pp) != NULL && s->ptr != ptr; pp = &s->next)
        ;
    assert(s != NULL);
    if (!s || rk__cuda_enter(b) != RK_OK)
        return;
    r = b->cu.cuMemFreeAsync(ptr, b->copy_stream);
    if (r == CUDA_SUCCESS) {
        *pp = s->next;
        free(s);
        r = b->cu.cuStreamSynchronize(b->copy_stream);
    }
    if (r == CUDA_SUCCESS)
        rk__cuda_pool_trim(b);
    else
        rk__cuda_log(b, "freeing a state: %s", rk__cu_name(&b->cu, r));
    rk__cuda_pool_account(b);
    rk__cuda_leave(b);
}

/* At the end (the kernel has stopped): every state back, then the pool. */
static void rk__cuda_pool_destroy(rk__cuda *b)
{
    while (b->pool_states) {
        struct rk__cuda_pool_state *s = b->pool_states;
        b->pool_states = s->next;
        (void)b->cu.cuMemFreeAsync(s->ptr, b->copy_stream);
        free(s);
    }
    /* A pool with frees still pending would outlive its destruction. */
    (void)b->cu.cuStreamSynchronize(b->copy_stream);
    b->cu.cuMemPoolDestroy(b->state_pool);
    b->state_pool = NULL;
    __atomic_store_n(&b->dev_chunks, 0, __ATOMIC_RELAXED);
}

static rk_status rk__cuda_chunk_new(rk__cuda *b, size_t size, int zero, rk__cuda_chunk **out)
{
    rk__cuda_chunk *c = calloc(1, sizeof *c);
    rk_status st;
    if (!c)
        return RK_ENOMEM;
    c->size = size;
    st = rk__cuda_dalloc(b, size, zero, &c->base);
    if (st != RK_OK) {
        free(c);
        return st;
    }
    __atomic_fetch_add(&b->dev_chunks, size, __ATOMIC_RELAXED);
    c->next = b->chunks;
    b->chunks = c;
    *out = c;
    return RK_OK;
}

static rk_status rk__cuda_chunk_alloc(rk__cuda *b, uint32_t bytes, size_t need, CUdeviceptr *out)
{
    struct rk__cuda_free_state **pp, *f;
    rk__cuda_chunk *c;
    rk_status st;
    for (pp = &b->free_states; (f = *pp) != NULL; pp = &f->next) {
        if (f->bytes == bytes) {
            *pp = f->next;
            *out = f->ptr;
            free(f);
            return RK_OK;
        }
    }
    for (c = b->chunks; c; c = c->next) {
        if (c->size - c->used >= need) {
            *out = c->base + c->used;
            c->used += need;
            return RK_OK;
        }
    }
    /* States are reset on the device before use: no memset, which could
     * need an SM that the running kernel occupies. */
    st = rk__cuda_chunk_new(b, need > RK__CUDA_CHUNK / 4 ? need : RK__CUDA_CHUNK, 0, &c);
    if (st != RK_OK)
        return st;
    c->used = need;
    *out = c->base;
    return RK_OK;
}

static void rk__cuda_chunk_free(rk__cuda *b, CUdeviceptr ptr, uint32_t bytes)
{
    struct rk__cuda_free_state *f = malloc(sizeof *f);
    if (!f)
        return; /* lost until the runtime stops: the chunk is freed then */
    f->ptr = ptr;
    f->bytes = bytes;
    f->next = b->free_states;
    b->free_states = f;
}

rk_status rk__cuda_state_arena(rk__cuda *b, size_t bytes)
{
    rk__cuda_chunk *c;
    if (rk__cuda_pool_supported(b) && rk__cuda_pool_create(b) == RK_OK)
        return rk__cuda_pool_reserve(b, bytes);
    return rk__cuda_chunk_new(b, bytes, 1, &c);
}

rk_status rk__cuda_state_alloc(rk__cuda *b, uint32_t bytes, CUdeviceptr *out)
{
    size_t need = rk__cuda_state_need(bytes);
    rk_status st = b->state_pool ? rk__cuda_pool_alloc(b, need, out) : rk__cuda_chunk_alloc(b, bytes, need, out);
    if (st == RK_OK)
        __atomic_fetch_add(&b->dev_state, need, __ATOMIC_RELAXED);
    return st;
}

void rk__cuda_state_free(rk__cuda *b, CUdeviceptr ptr, uint32_t bytes)
{
    if (!ptr)
        return;
    __atomic_fetch_sub(&b->dev_state, rk__cuda_state_need(bytes), __ATOMIC_RELAXED);
    if (b->state_pool)
        rk__cuda_pool_free(b, ptr);
    else
        rk__cuda_chunk_free(b, ptr, bytes);
}

rk_status rk__cuda_init_alloc(rk__cuda *b, const void *src, size_t bytes, size_t size, CUdeviceptr *dev)
{
    struct rk__cuda_init_chunk *c;
    size_t need = (size + 127) & ~(size_t)127;
    rk_status st;
    for (c = b->init_chunks; c; c = c->next)
        if (c->mem.bytes - c->used >= need)
            break;
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c)
            return RK_ENOMEM;
        st = rk__cuda_pin_late(b, need > (1u << 20) ? need : (1u << 20), &c->mem);
        if (st != RK_OK) {
            free(c);
            return st;
        }
        c->next = b->init_chunks;
        b->init_chunks = c;
    }
    memset((unsigned char *)c->mem.host + c->used, 0, size);
    memcpy((unsigned char *)c->mem.host + c->used, src, bytes);
    *dev = c->mem.dev + c->used;
    c->used += need;
    return RK_OK;
}

void rk__cuda_chunks_free(rk__cuda *b)
{
    while (b->init_chunks) {
        struct rk__cuda_init_chunk *c = b->init_chunks;
        b->init_chunks = c->next;
        rk__cuda_unpin(b, &c->mem);
        free(c);
    }
    while (b->free_states) {
        struct rk__cuda_free_state *f = b->free_states;
        b->free_states = f->next;
        free(f);
    }
    while (b->chunks) {
        rk__cuda_chunk *c = b->chunks;
        b->chunks = c->next;
        rk__cuda_dfree(b, &c->base);
        free(c);
    }
    if (b->state_pool)
        rk__cuda_pool_destroy(b);
}

/* The device view: the same offsets from the device address. */
static void rk__cuda_inbox_views(rk__cuda_inbox *ib, uint32_t capacity, uint32_t slot_size)
{
    unsigned char *base = ib->mem.host;
    (void)rk_ring_init(&ib->ring, base, capacity, slot_size, RK_RING_MPSC, RK_RING_SCOPE_SYSTEM);
    ib->dring = ib->ring;
    ib->dring.prod = (rk_ring_prod *)(uintptr_t)rk__cuda_dev(&ib->mem, ib->ring.prod);
    ib->dring.cons = (rk_ring_cons *)(uintptr_t)rk__cuda_dev(&ib->mem, ib->ring.cons);
    ib->dring.slots = (unsigned char *)(uintptr_t)rk__cuda_dev(&ib->mem, ib->ring.slots);
}

rk_status rk__cuda_inbox_take(rk__cuda *b, uint32_t capacity, uint32_t slot_size, rk__cuda_inbox **out)
{
    rk__cuda_inbox **pp, *ib;
    rk_status st;
    for (pp = &b->inbox_free; (ib = *pp) != NULL; pp = &ib->next) {
        if (ib->ring.capacity == capacity && ib->ring.slot_size == slot_size) {
            *pp = ib->next;
            ib->next = NULL;
            rk__cuda_inbox_views(ib, capacity, slot_size);
            *out = ib;
            return RK_OK;
        }
    }
    ib = calloc(1, sizeof *ib);
    if (!ib)
        return RK_ENOMEM;
    st = rk__cuda_pin_late(b, rk_ring_bytes(capacity, slot_size), &ib->mem);
    if (st != RK_OK) {
        free(ib);
        return st;
    }
    rk__cuda_inbox_views(ib, capacity, slot_size);
    ib->all_next = b->inbox_all;
    b->inbox_all = ib;
    *out = ib;
    return RK_OK;
}

void rk__cuda_inbox_give(rk__cuda *b, rk__cuda_inbox *ib)
{
    ib->next = b->inbox_free;
    b->inbox_free = ib;
}

void rk__cuda_inboxes_free(rk__cuda *b)
{
    while (b->inbox_all) {
        rk__cuda_inbox *ib = b->inbox_all;
        b->inbox_all = ib->all_next;
        rk__cuda_unpin(b, &ib->mem);
        free(ib);
    }
    b->inbox_free = NULL;
}
