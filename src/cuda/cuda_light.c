/* Light actors on the GPU (ringkernel/light.h; the scheduler is
 * ringkernel/light.cuh). The world lives in device memory, taken before the
 * launch; its homes are blocks after the actor blocks, and one more block
 * forwards the host's port (pinned memory) into the inboxes. A spawn writes
 * types and states while the kernel runs: the ids are new, so no home has
 * read them yet (every actor's state is a multiple of 128 bytes, so no L1
 * line holds two actors' states). */
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_internal.h"
#include "ringkernel/light.cuh"


/* The largest state of the program's light types, rounded up to 128; 0
 * when the program has none. */
static int rk__cuda_light_stride(const rk__cuda *b, uint32_t *stride)
{
    int any = 0;
    *stride = 0;
    for (uint32_t t = 0; t < b->n_types; t++) {
        uint32_t size = b->state_sizes[t] & ~RK__GPU_LIGHT_TYPE;
        if (!(b->state_sizes[t] & RK__GPU_LIGHT_TYPE))
            continue;
        any = 1;
        size = (size + 127u) & ~127u;
        if (size > *stride)
            *stride = size;
    }
    return any;
}

/* Light homes in clusters use light.cuh's DSMEM tier, which needs PTX for
 * compute_90 or later (below it every home would refuse its cluster at the
 * start). */
static rk_status rk__cuda_light_cluster_ptx(rk__cuda *b)
{
    int ptx = 0;
    CUresult r = b->cu.cuFuncGetAttribute(&ptx, CU_FUNC_ATTRIBUTE_PTX_VERSION, b->fn);
    if (r != CUDA_SUCCESS)
        return rk__cu_status(r);
    if (ptx < 90) {
        rk__cuda_log(b, "light actors in clusters need a kernel from compute_90 or later (this one: compute_%d)", ptx);
        return RK_ENOTSUP;
    }
    return RK_OK;
}

rk_status rk__cuda_light_plan(rk__cuda *b, rk_runtime *rt, int sms)
{
    rk_light_options *o = &rt->opt.light;
    const uint32_t per = b->cluster_size ? b->cluster_size : 1;
    if (!o->actors)
        return RK_OK;
    if (!rk__cuda_light_stride(b, &b->light_stride)) {
        rk__cuda_log(b, "light actors asked for, but the program has no RK_GPU_LIGHT type");
        return RK_EINVAL;
    }
    if (b->cluster_size) {
        rk_status st = rk__cuda_light_cluster_ptx(b);
        if (st != RK_OK)
            return st;
    }
    /* With clusters the homes form clusters of their own (homes h .. h +
     * cs - 1, h a multiple of cs), so their number is a multiple of the
     * cluster size (the core checks one given). By default: the SMs or the
     * actors, whichever is fewer, rounded down to whole clusters. */
    if (!o->homes)
        o->homes = ((uint32_t)sms < o->actors ? (uint32_t)sms : o->actors) / per * per;
    b->light_blocks = o->homes + per;
    b->light_actors = o->actors;
    b->light_homes = o->homes;
    b->light_inbox = o->inbox;
    b->light_batch = o->batch;
    b->light_steal = o->steal != 0;
    return RK_OK;
}

rk_status rk__cuda_light_layout(rk__cuda *b, rk__gpu_world *w)
{
    rk_light_config c;
    rk_light_layout l;
    void *image = NULL;
    rk_status st;
    if (!b->light_actors)
        return RK_OK;
    memset(&c, 0, sizeof c);
    c.actors = b->light_actors;
    c.homes = b->light_homes;
    c.inbox = b->light_inbox;
    c.batch = b->light_batch;
    c.steal = b->light_steal;
    c.cluster = b->cluster_size;
    /* The local queue is the fast path between actors of one home, but a
     * stolen actor runs away from its home, so stealing takes the token's. */
    c.handoff = c.steal ? RK_LIGHT_TOKEN : RK_LIGHT_LOCAL;
    l = rk_light_world_layout(&c);
    if (!l.bytes)
        return RK_EINVAL;
    image = malloc(l.bytes);
    if (!image)
        return RK_ENOMEM;
    RK__CHECK(rk__cuda_dalloc(b, l.bytes, 0, &b->light_world_d));
    RK__CHECK(rk__cuda_dalloc(b, 128, 1, &b->light_stop_d));
    RK__CHECK(rk__cuda_dalloc(b, 128, 1, &b->light_sent_d));
    RK__CHECK(rk__cuda_dalloc(b, (size_t)c.actors * 4, 0, &b->light_types_d));
    /* RK__GPU_LIGHT_NONE in every word: every byte 0xFF. */
    if (b->cu.cuMemsetD8Async(b->light_types_d, 0xFF, (size_t)c.actors * 4, b->copy_stream) != CUDA_SUCCESS ||
        b->cu.cuStreamSynchronize(b->copy_stream) != CUDA_SUCCESS)
        RK__CHECK(RK_EDEVICE);
    if (b->light_stride)
        RK__CHECK(rk__cuda_dalloc(b, (size_t)c.actors * b->light_stride, 1, &b->light_states_d));
    RK__CHECK(rk__cuda_pin(b, rk_light_port_bytes(c.homes), &b->light_port_mem));
    RK__CHECK(rk__cuda_pin(b, 4ull * (c.homes + 1), &b->light_exits_mem));
    RK__CHECK(rk_light_port_init(b->light_port_mem.host, &c));
    RK__CHECK(rk_light_world_init(image, (void *)(uintptr_t)b->light_world_d, &c,
                                  (volatile uint32_t *)(uintptr_t)b->light_stop_d));
    rk_light_world_set_port(image, (rk_light_port *)(uintptr_t)b->light_port_mem.dev);
    /* The runtime's own stop halts the homes, busy or not (after the drain). */
    ((rk_light_world *)image)->halt =
        (volatile uint32_t *)(uintptr_t)(b->devflags_d + offsetof(rk__gpu_devflags, stop));
    RK__CHECK(rk__cuda_upload(b, b->light_world_d, image, l.bytes));
    w->light = (struct rk_light_world *)(uintptr_t)b->light_world_d;
    w->light_types = (uint32_t *)(uintptr_t)b->light_types_d;
    w->light_states = (unsigned char *)(uintptr_t)b->light_states_d;
    w->light_exits = (uint32_t *)(uintptr_t)b->light_exits_mem.dev;
    w->light_stride = b->light_stride;
    w->light_first = b->light_first;
    w->light_homes = b->light_homes;
    w->light_actors = b->light_actors;
    w->light_sent = (unsigned long long *)(uintptr_t)b->light_sent_d;
    rk__cuda_log(b, "light actors: %u on %u homes (blocks %u..), inbox %u, batch %u, %s, clusters of %u, "
                 "%u bytes of state each",
                 c.actors, c.homes, b->light_first, c.inbox, c.batch, c.steal ? "stealing" : "no stealing",
                 c.cluster, b->light_stride);
    st = RK_OK;
fail:
    free(image);
    return st;
}

/* ---- the host's operations ---- */

static rk_status cuda_light_spawn(rk_runtime *rt, const rk_light_type *t, uint32_t first, uint32_t n,
                                  const void *initial)
{
    rk__cuda *b = rt->backend_data;
    uint32_t *types = NULL, chunk = 65536u;
    unsigned char *states = NULL;
    rk_status st = RK_OK;
    if (t->gpu_type >= b->n_types || !(b->state_sizes[t->gpu_type] & RK__GPU_LIGHT_TYPE) ||
        (b->state_sizes[t->gpu_type] & ~RK__GPU_LIGHT_TYPE) != t->state_size)
        return RK_EINVAL;
    types = malloc((size_t)chunk * 4);
    if (initial && t->state_size)
        states = calloc(chunk, b->light_stride);
    if (!types || (initial && t->state_size && !states)) {
        free(types);
        free(states);
        return RK_ENOMEM;
    }
    for (uint32_t i = 0; i < chunk; i++)
        types[i] = t->gpu_type;
    for (uint32_t i = 0; states && i < chunk; i++)
        memcpy(states + (size_t)i * b->light_stride, initial, t->state_size);
    st = rk__cuda_enter(b);
    if (st != RK_OK)
        goto out;
    /* States first: a type set makes the actor runnable. States not given
     * stay as allocated, zeroed (ids are never handed out twice). */
    for (uint32_t at = 0; at < n && st == RK_OK; at += chunk) {
        uint32_t k = n - at < chunk ? n - at : chunk;
        if (states)
            st = rk__cuda_upload(b, b->light_states_d + (CUdeviceptr)(first + at) * b->light_stride, states,
                                 (size_t)k * b->light_stride);
        if (st == RK_OK)
            st = rk__cuda_upload(b, b->light_types_d + (CUdeviceptr)(first + at) * 4, types, (size_t)k * 4);
    }
    rk__cuda_leave(b);
out:
    free(types);
    free(states);
    return st;
}

static rk_status cuda_light_post(rk_runtime *rt, uint32_t index, uint32_t type, const uint64_t *words)
{
    rk__cuda *b = rt->backend_data;
    /* As rk__cuda_send: nothing takes a message once the kernel is gone. */
    if (rk__cuda_gone(rt, 0))
        return RK_EDEVICE;
    return rk__cuda_send_status(rt, rk_light_port_send(b->light_port_mem.host, index, type, words));
}

static rk_light_port *cuda_light_port(rk_runtime *rt)
{
    rk__cuda *b = rt->backend_data;
    return b->light_port_mem.host;
}

const struct rk__light_ops rk__cuda_light_ops = {
    .spawn = cuda_light_spawn,
    .post = cuda_light_post,
    .port = cuda_light_port,
};

/* ---- the end ---- */

static uint32_t rk__cuda_light_exits(const rk__cuda *b)
{
    const uint32_t *e = b->light_exits_mem.host;
    uint32_t n = 0;
    for (uint32_t h = 0; h <= b->light_homes; h++)
        n += __atomic_load_n(&e[h], __ATOMIC_ACQUIRE);
    return n;
}

/* Sent (by handlers, by block actors, and what the forwarder delivered)
 * minus run, over the homes' idle counts (light.cuh, rk_light_publish);
 * *sum gets both totals mixed, so that two looks can be compared, and
 * *to_blocks the handlers' sends to block actors. */
static rk_status rk__cuda_light_balance(rk__cuda *b, rk_light_home *homes, int64_t *in_flight, uint64_t *sum,
                                        uint64_t *to_blocks)
{
    const rk_light_port *p = b->light_port_mem.host;
    rk_light_world hdr;
    uint64_t sent = __atomic_load_n(&p->forwarded, __ATOMIC_ACQUIRE) - __atomic_load_n(&p->refused, __ATOMIC_RELAXED);
    uint64_t ran = 0, from_blocks = 0;
    rk_status st = rk__cuda_download(b, &from_blocks, b->light_sent_d, sizeof from_blocks);
    sent += from_blocks;
    if (st == RK_OK)
        st = rk__cuda_download(b, &hdr, b->light_world_d, sizeof hdr);
    if (st == RK_OK)
        st = rk__cuda_download(b, homes, (CUdeviceptr)(uintptr_t)hdr.home, (size_t)b->light_homes * sizeof *homes);
    if (st != RK_OK)
        return st;
    *to_blocks = 0;
    for (uint32_t h = 0; h < b->light_homes; h++) {
        sent += homes[h].live_sent;
        ran += homes[h].live_handled;
        *to_blocks += homes[h].live_to_blocks;
    }
    *in_flight = (int64_t)(sent - ran);
    *sum = sent * 0x9E3779B97F4A7C15ull + ran;
    return RK_OK;
}

rk_status rk__cuda_light_quiet(rk__cuda *b, uint64_t deadline_ns, uint64_t *to_blocks)
{
    rk_light_home *homes;
    uint64_t last = 0;
    int64_t in_flight = 0;
    int seen = 0;
    rk_status st = RK_ETIMEDOUT;
    *to_blocks = 0;
    if (!b->light_actors || !b->launched)
        return RK_OK;
    homes = malloc((size_t)b->light_homes * sizeof *homes);
    if (!homes)
        return RK_ENOMEM;
    if (rk__cuda_enter(b) != RK_OK) {
        free(homes);
        return RK_EDEVICE;
    }
    /* Quiet: the port empty, and no message between actors, twice alike. */
    while (rk__now_ns() < deadline_ns) {
        uint64_t sum;
        rk_status bst = RK_OK;
        if (rk_light_port_pending(b->light_port_mem.host) == 0 &&
            (bst = rk__cuda_light_balance(b, homes, &in_flight, &sum, to_blocks)) == RK_OK && in_flight == 0) {
            if (seen && sum == last) {
                st = RK_OK;
                break;
            }
            seen = 1;
            last = sum;
        } else {
            seen = 0;
        }
        if (bst != RK_OK) {
            st = bst;
            break;
        }
        rk__sleep_ns(20000);
    }
    rk__cuda_leave(b);
    free(homes);
    return st;
}

uint64_t rk__cuda_light_to_blocks(rk__cuda *b)
{
    uint64_t n = 0, sum;
    int64_t in_flight;
    rk_light_home *homes;
    if (!b->light_actors || !b->launched)
        return 0;
    homes = malloc((size_t)b->light_homes * sizeof *homes);
    if (homes && rk__cuda_enter(b) == RK_OK) {
        (void)rk__cuda_light_balance(b, homes, &in_flight, &sum, &n);
        rk__cuda_leave(b);
    }
    free(homes);
    return n;
}

rk_status rk__cuda_light_stop_homes(rk__cuda *b, uint64_t deadline_ns)
{
    static const uint32_t one = 1;
    rk_status st = RK_OK;
    if (!b->light_actors || !b->launched)
        return RK_OK;
    if (rk__cuda_enter(b) != RK_OK)
        return RK_EDEVICE;
    /* The homes return once they have nothing (or at the runtime's stop). */
    if (rk__cuda_upload(b, b->light_stop_d, &one, sizeof one) != RK_OK)
        st = RK_EDEVICE;
    rk__cuda_leave(b);
    while (st == RK_OK && rk__cuda_light_exits(b) < b->light_homes + 1) {
        if (rk__now_ns() >= deadline_ns)
            return RK_ETIMEDOUT;
        rk__sleep_ns(20000);
    }
    return st;
}

/* After the kernel: messages left in inboxes and in the port's way in are
 * dead letters, those on the way to the host unread. */
void rk__cuda_light_leftovers(rk_runtime *rt, rk__cuda *b, rk_shutdown_report *rep)
{
    rk_light_port *p = b->light_port_mem.host;
    rk_light_world hdr;
    rk_light_actor *act = NULL;
    rk_light_home *homes = NULL;
    rk_light_msg *slots = NULL;
    uint64_t dead = 0, unread = 0;
    if (!b->light_actors || b->light_done)
        return;
    b->light_done = 1;
    /* The way in: published, not taken by the forwarder. */
    for (uint64_t pos = p->forwarded;; pos++) {
        const rk_light_hmsg *m = &p->in[pos & (RK_LIGHT_PORT_SLOTS - 1)];
        rk_msg h;
        if (m->seq != pos + 1)
            break;
        memset(&h, 0, sizeof h);
        h.src = RK_ACTOR_HOST;
        h.dst = rk_light_id(m->dst);
        h.type = m->type;
        h.len = RK_LIGHT_PAYLOAD;
        rk__dead_letter(&rt->dead, &h, RK_ESHUTDOWN);
        dead++;
    }
    /* The way out: each home's ring from the host's head on. */
    for (uint32_t h = 0; h < b->light_homes; h++) {
        const rk_light_out *o = &p->out[h];
        for (uint64_t pos = o->head; o->slot[pos & (RK_LIGHT_OUT_SLOTS - 1)].seq == pos + 1; pos++)
            unread++;
    }
    act = malloc((size_t)b->light_actors * sizeof *act);
    homes = malloc((size_t)b->light_homes * sizeof *homes);
    slots = malloc((size_t)b->light_inbox * sizeof *slots);
    if (!act || !homes || !slots || rk__cuda_download(b, &hdr, b->light_world_d, sizeof hdr) != RK_OK ||
        rk__cuda_download(b, act, (CUdeviceptr)(uintptr_t)hdr.actor, (size_t)b->light_actors * sizeof *act) !=
            RK_OK ||
        rk__cuda_download(b, homes, (CUdeviceptr)(uintptr_t)hdr.home, (size_t)b->light_homes * sizeof *homes) !=
            RK_OK) {
        rk__cuda_log(b, "light actors: could not read what was left");
        goto out;
    }
    for (uint32_t h = 0; h < b->light_homes; h++)
        dead += homes[h].dropped; /* held in a home's shared memory: counted, no headers */
    for (uint32_t a = 0; a < b->light_actors; a++) {
        if (act[a].tail == act[a].head)
            continue;
        if (rk__cuda_download(b, slots, (CUdeviceptr)(uintptr_t)hdr.slot + (CUdeviceptr)a * b->light_inbox * sizeof *slots,
                              (size_t)b->light_inbox * sizeof *slots) != RK_OK)
            break;
        for (uint64_t pos = act[a].head; pos != act[a].tail; pos++) {
            const rk_light_msg *m = &slots[pos & (b->light_inbox - 1)];
            rk_msg hd;
            if (m->seq != pos + 1)
                continue; /* claimed by a sender the stop cut short: never published */
            memset(&hd, 0, sizeof hd);
            hd.src = rk_light_public(m->src);
            hd.dst = rk_light_id(a);
            hd.type = m->type;
            hd.len = RK_LIGHT_PAYLOAD;
            rk__dead_letter(&rt->dead, &hd, RK_ESHUTDOWN);
            dead++;
        }
    }
out:
    free(act);
    free(homes);
    free(slots);
    rk__cuda_log(b, "light actors at the stop: %llu dead letters, %llu unread by the host",
                 (unsigned long long)dead, (unsigned long long)unread);
    rep->dead_lettered += dead;
    rep->host_unread += unread;
}

void rk__cuda_light_free(rk__cuda *b)
{
    rk__cuda_dfree(b, &b->light_world_d);
    rk__cuda_dfree(b, &b->light_stop_d);
    rk__cuda_dfree(b, &b->light_sent_d);
    rk__cuda_dfree(b, &b->light_types_d);
    rk__cuda_dfree(b, &b->light_states_d);
    rk__cuda_unpin(b, &b->light_port_mem);
    rk__cuda_unpin(b, &b->light_exits_mem);
}
