/* ringkernel CUDA backend: pinned and device memory.
 *
 * Every allocation goes through here so that tests can make the n-th one
 * fail (RK_CUDA_FAIL_ALLOC=n) and check that each caller cleans up. Callers
 * hold the context (rk__cuda_enter). Frees happen only once the kernel has
 * stopped (cuMemFree and cuMemFreeHost may wait for running kernels). */
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
    CUresult r = b->cu.cuMemcpyHtoDAsync(dst, src, n, b->copy_stream);
    if (r == CUDA_SUCCESS)
        r = b->cu.cuStreamSynchronize(b->copy_stream);
    return rk__cu_status(r);
}

rk_status rk__cuda_download(rk__cuda *b, void *dst, CUdeviceptr src, size_t n)
{
    CUresult r = b->cu.cuMemcpyDtoHAsync(dst, src, n, b->copy_stream);
    if (r == CUDA_SUCCESS)
        r = b->cu.cuStreamSynchronize(b->copy_stream);
    return rk__cu_status(r);
}

rk_status rk__cuda_state_arena(rk__cuda *b, size_t bytes)
{
    rk__cuda_chunk *c = calloc(1, sizeof *c);
    rk_status st;
    if (!c)
        return RK_ENOMEM;
    c->size = bytes;
    st = rk__cuda_dalloc(b, bytes, 1, &c->base);
    if (st != RK_OK) {
        free(c);
        return st;
    }
    __atomic_fetch_add(&b->dev_chunks, bytes, __ATOMIC_RELAXED);
    c->next = b->chunks;
    b->chunks = c;
    return RK_OK;
}

rk_status rk__cuda_state_alloc(rk__cuda *b, uint32_t bytes, CUdeviceptr *out)
{
    struct rk__cuda_free_state **pp, *f;
    rk__cuda_chunk *c;
    size_t need = ((size_t)bytes + 127u) & ~(size_t)127u;
    rk_status st;
    for (pp = &b->free_states; (f = *pp) != NULL; pp = &f->next) {
        if (f->bytes == bytes) {
            *pp = f->next;
            *out = f->ptr;
            free(f);
            __atomic_fetch_add(&b->dev_state, need, __ATOMIC_RELAXED);
            return RK_OK;
        }
    }
    for (c = b->chunks; c; c = c->next) {
        if (c->size - c->used >= need) {
            *out = c->base + c->used;
            c->used += need;
            __atomic_fetch_add(&b->dev_state, need, __ATOMIC_RELAXED);
            return RK_OK;
        }
    }
    c = calloc(1, sizeof *c);
    if (!c)
        return RK_ENOMEM;
    c->size = need > RK__CUDA_CHUNK / 4 ? need : RK__CUDA_CHUNK;
    /* States are reset on the device before use: no memset, which could
     * need an SM that the running kernel occupies. */
    st = rk__cuda_dalloc(b, c->size, 0, &c->base);
    if (st != RK_OK) {
        free(c);
        return st;
    }
    c->used = need;
    c->next = b->chunks;
    b->chunks = c;
    *out = c->base;
    __atomic_fetch_add(&b->dev_chunks, c->size, __ATOMIC_RELAXED);
    __atomic_fetch_add(&b->dev_state, need, __ATOMIC_RELAXED);
    return RK_OK;
}

void rk__cuda_state_free(rk__cuda *b, CUdeviceptr ptr, uint32_t bytes)
{
    struct rk__cuda_free_state *f;
    if (!ptr)
        return;
    __atomic_fetch_sub(&b->dev_state, ((uint64_t)bytes + 127u) & ~(uint64_t)127u, __ATOMIC_RELAXED);
    f = malloc(sizeof *f);
    if (!f)
        return; /* lost until the runtime stops: the chunk is freed then */
    f->ptr = ptr;
    f->bytes = bytes;
    f->next = b->free_states;
    b->free_states = f;
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
