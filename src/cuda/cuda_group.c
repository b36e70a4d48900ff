/* Groups on the CUDA backend (ringkernel/group.h): the links between the
 * members' GPUs, peer access, the rings between members, forwards of
 * migrated actors in the device directory, and device-to-device state
 * copies.
 *
 * A ring from member S to member D: its slots in D's device memory, its
 * producer and consumer lines in S's. S's blocks claim on the local
 * producer line and write the slots across the peer mapping; D's bridge
 * (block 0, thread 32) polls the slots in its own memory and writes its
 * consumer head back into S's memory. So every poll is local, and every
 * access across the link is a posted write except a producer's rare look
 * at the consumer line when its cached head says full (also local).
 *
 * The rings are made before any member's kernel is launched (so each kernel
 * starts with every allocation it will touch, which is what
 * compute-sanitizer tracks); forwards and state copies happen while the
 * kernels run: memory is zeroed by copies from the host (a memset could
 * need an SM a persistent kernel holds), and nothing is freed before the
 * kernel stops (release). */
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_internal.h"

RK_STATIC_ASSERT(RK__GPU_FWD_MOVING == RK__FWD_MOVING, "the device and the core agree on 'moving'");

static rk__cuda *rk__cuda_of(rk_runtime *rt)
{
    return rt->backend_data;
}

/* ---- links ---------------------------------------------------------------------- */

static rk_status rk__cuda_link(rk_runtime *ra, rk_runtime *rb, rk_link_info *out)
{
    rk__cuda *a = rk__cuda_of(ra), *b = rk__cuda_of(rb);
    int can = 0, access = 0, atomics = 0, rank = 0;
    memset(out, 0, sizeof *out);
    if (a->device == b->device) {
        out->kind = RK_LINK_SAME;
        out->access = out->native_atomics = 1;
        return RK_OK;
    }
    if (!a->cu.cuDeviceCanAccessPeer || !a->cu.cuDeviceGetP2PAttribute)
        return RK_OK; /* RK_LINK_NONE: the driver cannot tell */
    if (a->cu.cuDeviceCanAccessPeer(&can, a->device, b->device) != CUDA_SUCCESS ||
        a->cu.cuDeviceGetP2PAttribute(&access, CU_DEVICE_P2P_ATTRIBUTE_ACCESS_SUPPORTED, a->device, b->device) !=
            CUDA_SUCCESS ||
        a->cu.cuDeviceGetP2PAttribute(&atomics, CU_DEVICE_P2P_ATTRIBUTE_NATIVE_ATOMIC_SUPPORTED, a->device,
                                      b->device) != CUDA_SUCCESS ||
        a->cu.cuDeviceGetP2PAttribute(&rank, CU_DEVICE_P2P_ATTRIBUTE_PERFORMANCE_RANK, a->device, b->device) !=
            CUDA_SUCCESS)
        return RK_EDEVICE;
    out->access = can && access;
    out->native_atomics = atomics;
    out->perf_rank = rank;
    /* Native atomics across devices exist over NVLink, not PCIe. */
    out->kind = !out->access ? RK_LINK_NONE : atomics ? RK_LINK_NVLINK : RK_LINK_PCIE;
    return RK_OK;
}

/* ---- joining and connecting --------------------------------------------------------- */

static rk_status rk__cuda_join(rk_runtime *rt, uint32_t member, uint32_t n)
{
    rk__cuda *b = rk__cuda_of(rt);
    uint32_t tag = member + 1;
    rk_status st;
    if (n > RK__GPU_PEERS)
        return RK_EINVAL;
    st = rk__cuda_enter(b);
    if (st != RK_OK)
        return st;
    st = rk__cuda_upload(b, b->devflags_d + offsetof(rk__gpu_devflags, member), &tag, sizeof tag);
    rk__cuda_leave(b);
    return st;
}

/* Lets `from`'s context map `to`'s memory (kernels of `from` then write it). */
static rk_status rk__cuda_peer_access(rk__cuda *from, rk__cuda *to)
{
    CUresult r;
    rk_status st;
    if (from->device == to->device)
        return RK_OK; /* one primary context: already one address space */
    if (!from->cu.cuCtxEnablePeerAccess)
        return RK_ENOTSUP;
    st = rk__cuda_enter(from);
    if (st != RK_OK)
        return st;
    r = from->cu.cuCtxEnablePeerAccess(to->ctx, 0);
    rk__cuda_leave(from);
    if (r == CUDA_SUCCESS || r == CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED)
        return RK_OK;
    rk__cuda_log(from, "cuCtxEnablePeerAccess(device %d -> %d): %s", (int)from->device, (int)to->device,
                 rk__cu_name(&from->cu, r));
    return r == CUDA_ERROR_PEER_ACCESS_UNSUPPORTED ? RK_ENOTSUP : RK_EDEVICE;
}

/* Zeroed device memory of `b`, kept until release: from the arena taken
 * before the launch while it lasts. Connections are made one at a time
 * (rk_group_create), so the arena needs no lock. */
static rk_status rk__cuda_peer_alloc(rk__cuda *b, size_t bytes, CUdeviceptr *out)
{
    size_t need = (bytes + 255) & ~(size_t)255;
    int own = 0;
    void *zeros;
    rk_status st;
    zeros = calloc(1, bytes);
    if (!zeros)
        return RK_ENOMEM;
    st = rk__cuda_enter(b);
    if (st == RK_OK) {
        if (b->peer_arena && b->peer_arena_used + need <= b->peer_arena_bytes) {
            *out = b->peer_arena + b->peer_arena_used;
            b->peer_arena_used += need;
        } else if (b->n_peer_mem == sizeof b->peer_mem / sizeof b->peer_mem[0]) {
            st = RK_ENOMEM;
        } else {
            st = rk__cuda_dalloc(b, bytes, 0, out);
            own = st == RK_OK;
        }
        if (st == RK_OK)
            st = rk__cuda_upload(b, *out, zeros, bytes);
        if (own && st == RK_OK) {
            b->peer_mem[b->n_peer_mem++] = *out;
            __atomic_fetch_add(&b->dev_fixed, bytes, __ATOMIC_RELAXED);
        }
        else if (own)
            rk__cuda_dfree(b, out);
        rk__cuda_leave(b);
    }
    free(zeros);
    return st;
}

static rk_status rk__cuda_put(rk__cuda *b, CUdeviceptr dst, const void *src, size_t n)
{
    rk_status st = rk__cuda_enter(b);
    if (st != RK_OK)
        return st;
    st = rk__cuda_upload(b, dst, src, n);
    rk__cuda_leave(b);
    return st;
}

static rk_status rk__cuda_connect(rk_runtime *rs, rk_runtime *rd, uint32_t capacity)
{
    rk__cuda *s = rk__cuda_of(rs), *d = rk__cuda_of(rd);
    CUdeviceptr slots, lines;
    uint32_t slot_size = d->k2k_slot_size < RK__GPU_BRIDGE_SLOT ? d->k2k_slot_size : RK__GPU_BRIDGE_SLOT;
    uint32_t one = 1;
    rk_ring ring;
    rk_status st;
    CUdeviceptr s_entry = s->peers_d + (CUdeviceptr)rd->member * sizeof(rk__gpu_peer);
    CUdeviceptr d_entry = d->peers_d + (CUdeviceptr)rs->member * sizeof(rk__gpu_peer);

    /* Both ways before anything is ready: the sender writes slots in D's
     * memory, D's bridge writes the consumer line in S's. */
    st = rk__cuda_peer_access(s, d);
    if (st == RK_OK)
        st = rk__cuda_peer_access(d, s);
    if (st == RK_OK)
        st = rk__cuda_peer_alloc(d, (size_t)capacity * slot_size, &slots);
    if (st == RK_OK)
        st = rk__cuda_peer_alloc(s, 2 * RK_RING_LINE, &lines);
    if (st != RK_OK)
        return st;
    memset(&ring, 0, sizeof ring);
    ring.prod = (rk_ring_prod *)(uintptr_t)lines;
    ring.cons = (rk_ring_cons *)(uintptr_t)(lines + RK_RING_LINE);
    ring.slots = (unsigned char *)(uintptr_t)slots;
    ring.capacity = capacity;
    ring.slot_size = slot_size;
    ring.mode = RK_RING_MPSC;
    ring.scope = RK_RING_SCOPE_SYSTEM; /* the bridge's acquire and release cross devices */
    /* The descriptors, then `ready`: receiver first, so that no message is
     * sent before its bridge can see the ring. */
    st = rk__cuda_put(d, d_entry + offsetof(rk__gpu_peer, in), &ring, sizeof ring);
    if (st == RK_OK)
        st = rk__cuda_put(s, s_entry + offsetof(rk__gpu_peer, out), &ring, sizeof ring);
    if (st == RK_OK)
        st = rk__cuda_put(d, d_entry + offsetof(rk__gpu_peer, in_ready), &one, sizeof one);
    if (st == RK_OK)
        st = rk__cuda_put(s, s_entry + offsetof(rk__gpu_peer, out_ready), &one, sizeof one);
    if (st == RK_OK) {
        d->peer_in[rs->member].slots = slots;
        d->peer_in[rs->member].capacity = capacity;
        d->peer_in[rs->member].slot_size = slot_size;
    }
    return st;
}

/* ---- the symmetric regions ---------------------------------------------------------- */

/* Before the launch, so a plain memset cannot wait for an SM the kernel
 * holds (and the sanitizer knows the region from the launch on). */
static rk_status rk__cuda_sym_alloc(rk_runtime *rt, uint64_t bytes, uint64_t *addr)
{
    rk__cuda *b = rk__cuda_of(rt);
    rk_status st;
    if (b->launched || b->sym_d)
        return RK_ESTATE;
    if (bytes > SIZE_MAX)
        return RK_ENOMEM;
    st = rk__cuda_enter(b);
    if (st != RK_OK)
        return st;
    st = rk__cuda_dalloc(b, (size_t)bytes, 1, &b->sym_d);
    rk__cuda_leave(b);
    if (st == RK_OK) {
        __atomic_fetch_add(&b->dev_fixed, bytes, __ATOMIC_RELAXED);
        *addr = b->sym_d;
    }
    return st;
}

/* Every member's region into this member's peer table, where rk_dsym and
 * rk_dput look (device.cuh). */
static rk_status rk__cuda_sym_set(rk_runtime *rt, const uint64_t *base, uint32_t n, uint64_t bytes)
{
    rk__cuda *b = rk__cuda_of(rt);
    rk_status st = RK_OK;
    if (n > RK__GPU_PEERS)
        return RK_EINVAL;
    for (uint32_t m = 0; m < n && st == RK_OK; m++) {
        const uint64_t v[2] = {base[m], bytes};
        st = rk__cuda_put(b, b->peers_d + (CUdeviceptr)m * sizeof(rk__gpu_peer) + offsetof(rk__gpu_peer, sym), v,
                          sizeof v);
    }
    return st;
}

void rk__cuda_peers_free(rk__cuda *b)
{
    while (b->n_peer_mem > 0)
        rk__cuda_dfree(b, &b->peer_mem[--b->n_peer_mem]);
}

/* ---- migration ------------------------------------------------------------------------ */

/* The device's `forward` of ids[0..n) becomes `fwd`: FORWARD commands,
 * which the supervisor block carries out in their order on the command
 * ring (so a hold posted after them closes the door after they are done),
 * all posted before the first is waited for. Before the launch (nothing
 * runs yet), a copy into device memory each. Without b->lock: the swap
 * calls this while the old home is paused, and a pause holds b->lock
 * until it ends. */
static rk_status rk__cuda_set_forward(rk_runtime *rt, const rk_actor_id *ids, uint32_t n, rk_actor_id fwd)
{
    rk__cuda *b = rk__cuda_of(rt);
    rk__gpu_cmd cmds[RK__GPU_ACKS / 2]; /* command slots, each filled from a FORWARD */
    rk_status st = RK_OK;
    uint32_t i = 0;
    if (!b->launched) {
        for (; st == RK_OK && i < n; i++)
            st = rk__cuda_put(b, b->dir_d + (CUdeviceptr)ids[i] * sizeof(rk__gpu_dir) + offsetof(rk__gpu_dir, forward),
                              &fwd, sizeof fwd);
    } else if ((st = rk__cuda_enter(b)) == RK_OK) {
        while (st == RK_OK && i < n) {
            uint32_t k;
            for (k = 0; k < RK__GPU_ACKS / 2 && i < n; k++) {
                rk__gpu_fwd_cmd c;
                memset(&c, 0, sizeof c);
                c.op = RK__GPU_OP_FORWARD;
                c.to = fwd;
                for (; c.n < RK__GPU_FWD_IDS && i < n; i++)
                    c.ids[c.n++] = ids[i];
                memcpy(&cmds[k], &c, sizeof c); /* the same size (device.cuh asserts it) */
            }
            st = rk__cuda_commands(rt, cmds, k, rk__deadline(RK__CUDA_SUP_TIMEOUT_NS), NULL, NULL);
        }
        rk__cuda_leave(b);
    }
    return st;
}

/* Both actors are paused: neither block touches its state. The copy runs
 * on the source's copy stream (copy engines: no SM needed). */
static rk_status rk__cuda_copy_state(rk_runtime *rs, rk__paused *ps, rk_runtime *rd, rk__paused *pd,
                                     rk_migrate_path *path)
{
    rk__cuda *s = rk__cuda_of(rs), *d = rk__cuda_of(rd);
    rk__cuda_actor *sa = ps->a->backend, *da = pd->a->backend;
    CUresult r;
    rk_status st;
    if (ps->state_size != pd->state_size || !sa || !da)
        return RK_EINTERNAL;
    if (ps->state_size == 0) {
        *path = s->device == d->device ? RK_MIGRATE_DEVICE : RK_MIGRATE_PEER;
        return RK_OK;
    }
    if (s->device == d->device ? !s->cu.cuMemcpyDtoDAsync : !s->cu.cuMemcpyPeerAsync)
        return RK_ENOTSUP;
    st = rk__cuda_enter(s);
    if (st != RK_OK)
        return st;
    if (s->device == d->device) {
        r = s->cu.cuMemcpyDtoDAsync(da->state, sa->state, ps->state_size, s->copy_stream);
        *path = RK_MIGRATE_DEVICE;
    } else {
        r = s->cu.cuMemcpyPeerAsync(da->state, d->ctx, sa->state, s->ctx, ps->state_size, s->copy_stream);
        *path = RK_MIGRATE_PEER;
    }
    if (r == CUDA_SUCCESS)
        r = s->cu.cuStreamSynchronize(s->copy_stream);
    rk__cuda_leave(s);
    if (r != CUDA_SUCCESS)
        rk__cuda_log(s, "state copy (%zu bytes): %s", ps->state_size, rk__cu_name(&s->cu, r));
    return rk__cu_status(r);
}

/* The old home of a migrated actor, terminated: its block let it go (no
 * slot), and lifecycle commands refuse it (it forwards), so its state is
 * never read again. */
static void rk__cuda_release_moved(rk_runtime *rt, rk__actor *a)
{
    rk__cuda *b = rk__cuda_of(rt);
    rk__cuda_actor *ca = a->backend;
    pthread_mutex_lock(&b->lock);
    if (ca && ca->slot == 0 && ca->state) {
        rk__cuda_state_free(b, ca->state, ca->state_bytes);
        ca->state = 0;
    }
    rk__cuda_unlock(b);
}

/* ---- the end ----------------------------------------------------------------------------- */

/* Every member's kernel has stopped: what is left in the rings into this
 * member (from the bridge's last position on) is dead-lettered here. */
static void rk__cuda_peer_dead_letter(rk_runtime *rt, rk_shutdown_report *rep)
{
    rk__cuda *b = rk__cuda_of(rt);
    rk__gpu_peer peers[RK__GPU_PEERS];
    unsigned char *slot;
    if (!b || !b->peers_d || rk__cuda_enter(b) != RK_OK)
        return;
    if (rk__cuda_download(b, peers, b->peers_d, sizeof peers) != RK_OK) {
        rk__cuda_leave(b);
        return;
    }
    for (uint32_t m = 0; m < RK__GPU_PEERS; m++) {
        const struct rk__cuda_peer_in *in = &b->peer_in[m];
        if (!peers[m].in_ready || !in->slots || !(slot = malloc(in->slot_size)))
            continue;
        for (uint64_t pos = peers[m].in_head; pos - peers[m].in_head < in->capacity; pos++) {
            const rk_msg *msg = (const rk_msg *)slot;
            CUdeviceptr at = in->slots + (CUdeviceptr)(pos & (in->capacity - 1)) * in->slot_size;
            if (rk__cuda_download(b, slot, at, in->slot_size) != RK_OK || msg->seq != pos + 1)
                break;
            rk__dead_letter(&rt->dead, msg, RK_ESHUTDOWN);
            rep->dead_lettered++;
        }
        free(slot);
    }
    rk__cuda_leave(b);
}

const struct rk__group_ops rk__cuda_group_ops = {
    .launch = rk__cuda_launch_deferred,
    .link = rk__cuda_link,
    .join = rk__cuda_join,
    .connect = rk__cuda_connect,
    .sym_alloc = rk__cuda_sym_alloc,
    .sym_set = rk__cuda_sym_set,
    .set_forward = rk__cuda_set_forward,
    .copy_state = rk__cuda_copy_state,
    .release_moved = rk__cuda_release_moved,
    .peer_dead_letter = rk__cuda_peer_dead_letter,
};
