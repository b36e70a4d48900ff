/* ringkernel CUDA backend internals: the host side of the persistent kernel.
 *
 * Memory, by who writes it:
 *   pinned mapped host memory (the host reads it without a copy):
 *     control blocks [max_actors]        GPU writes, host reads
 *     actor inboxes (H2K rings)          host writes slots, GPU writes the consumer line
 *     queue to the host (rt->host_ring)  GPU writes slots, host writes the consumer line
 *     command ring, acks, event ring     host -> supervisor, GPU -> host
 *   device memory:
 *     the world (kernel parameter block), directory [max_actors], slots
 *     [n_blocks] with their K2K rings, producer lines of the GPU-produced
 *     rings (claimed with device atomics), actor states.
 *
 * Nothing allocated while the kernel runs is freed before it stops: freeing
 * device or pinned memory would synchronise with (wait for) the persistent
 * kernel. Freed inboxes and states go to free lists instead - except states
 * from the state pool, freed in the order of a stream of our own, which
 * waits for nothing else (cuda_mem.c). */
#ifndef RK_CUDA_INTERNAL_H
#define RK_CUDA_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "core/runtime_internal.h"
#include "cuda/cu_api.h"
#include "ringkernel/device.cuh"
#include "ringkernel/nvrtc.h"

/* A pinned, mapped host allocation: both addresses of the same bytes. */
/* In a function with `rk_status st` and a `fail:` label: st = expr, and
 * on an error to fail. */
#define RK__CHECK(expr)                                                                              \
    do {                                                                                             \
        st = (expr);                                                                                 \
        if (st != RK_OK)                                                                             \
            goto fail;                                                                               \
    } while (0)

typedef struct rk__pinned {
    void *host;
    CUdeviceptr dev;
    size_t bytes;
    int pooled; /* carved from b->pool: freed with it */
} rk__pinned;

/* An actor's inbox: the host's and the device's views of one ring. */
typedef struct rk__cuda_inbox {
    struct rk__cuda_inbox *next;     /* free list */
    struct rk__cuda_inbox *all_next; /* every inbox, for the final free */
    rk__pinned mem;
    rk_ring ring;  /* host addresses: the host's producers */
    rk_ring dring; /* device addresses: the GPU consumer */
} rk__cuda_inbox;

/* Payloads too large for an inbox slot: a byte ring in pinned memory that
 * the actor's block reads in place. Buffers are handed out in inbox order
 * and freed when the GPU's published inbox head passes their message. */
typedef struct rk__cuda_byref {
    pthread_mutex_t lock;
    rk__pinned mem;
    uint64_t alloc, freed; /* free-running byte offsets */
    struct rk__cuda_byref_ent {
        uint64_t pos; /* inbox position of the message */
        uint64_t end; /* `alloc` after its buffer */
    } *fifo;
    uint32_t fifo_cap, fifo_head, fifo_count;
} rk__cuda_byref;

/* The host gate of an actor: open bit | host senders inside. Terminate and
 * deactivate close it and wait for the senders inside, so no message can
 * land in an inbox after the host read its final tail. */
#define RK__CUDA_GATE_OPEN 0x80000000u

typedef struct rk__cuda_actor {
    RK_ALIGNAS(128) uint32_t gate; /* atomic; on its own line */
    unsigned char pad_[124];
    rk__cuda_inbox *inbox;  /* NULL while not bound to a block */
    uint32_t slot;          /* block index, 0 while not bound */
    uint32_t pad2_;
    CUdeviceptr state;      /* state_bytes of device memory */
    CUdeviceptr init;       /* initial state (pinned: the block reads it when it resets) or 0 */
    uint32_t state_bytes;
    uint32_t type;
    uint64_t final_head, final_tail; /* inbox positions when it was unbound */
    rk__cuda_byref *byref;  /* lazily */
    /* While a checkpoint holds the block (cuda_actor.c; under b->lock):
     * what was queued then, [head, tail) of the inbox and of the K2K queue,
     * and a copy of the K2K queue's memory. */
    uint64_t hold_h2k[2], hold_k2k[2];
    unsigned char *hold_copy;
    /* A migration moved it away (rk__cuda_snap_retire): its gate stays
     * closed, whatever its state says, until a restart (under b->lock). */
    uint32_t retired;
} rk__cuda_actor;

/* A chunk of device memory handed out by bumping (states). */
typedef struct rk__cuda_chunk {
    struct rk__cuda_chunk *next;
    CUdeviceptr base;
    size_t size, used;
} rk__cuda_chunk;

typedef struct rk__cuda {
    rk__cu cu;
    CUdevice device;
    CUcontext ctx;
    int have_ctx;
    CUmodule module; /* NVRTC programs */
    CUfunction fn;
    CUstream stream;      /* the persistent kernel */
    CUstream copy_stream; /* uploads and downloads while it runs */
    char device_name[128];

    /* the program */
    uint32_t n_types, block_threads;
    uint32_t *state_sizes;

    /* geometry and tunables (RK_CUDA_* environment, read once) */
    uint32_t n_blocks, max_actors, msg_buffer;
    uint32_t k2k_capacity, k2k_slot_size;
    uint32_t flags;
    uint64_t spin_ns, backoff_ns, host_spin_ns;
    uint32_t k2k_host_poll_ns;
    uint64_t byref_bytes;
    uint64_t pool_bytes, state_arena_bytes;
    uint64_t start_timeout_ns, stop_timeout_ns;
    int debug;

    /* thread-block clusters: cluster_size 0 = none (the cooperative launch);
     * info is the device as rk_device_query saw it, filled only then */
    uint32_t cluster_size;
    int cluster_nonportable;
    rk_device_info info;
    /* the cluster tier of K2K (device.cuh): slots of each block's ring in
     * shared memory (0: none), where it starts, and the dynamic shared
     * memory of a block in all (message buffer + that ring) */
    uint32_t ck2k_capacity, ck2k_offset, smem_bytes;

    /* fault injection: allocation number fail_at (1-based) fails */
    uint64_t alloc_count, fail_at; /* alloc_count: atomic */

    /* pinned memory */
    rk__pinned ctl_mem, host_mem, cmd_mem, event_mem, misc_mem;
    rk__pinned pool;   /* RK_CUDA_PINNED_POOL bytes taken before launch */
    size_t pool_used;
    /* Device memory for the memory-pressure monitor (flow.h), bytes: the
     * runtime's own structures (directory, slots, K2K rings, world, rings
     * between group members), the memory held for actor states (chunks
     * allocated, or the state pool's reserved memory as the driver reports
     * it), and the part of it that actors hold now (our own count, each
     * state rounded up to 128 bytes). Updated atomically. */
    uint64_t dev_fixed, dev_chunks, dev_state;
    /* initial states: pinned chunks, handed out by bumping, never freed
     * before the runtime (a restart after Terminated needs them again) */
    struct rk__cuda_init_chunk {
        struct rk__cuda_init_chunk *next;
        rk__pinned mem;
        size_t used;
    } *init_chunks;
    rk_control *ctl;
    rk__gpu_hostflags *hostflags;
    rk__gpu_ack *acks;
    uint32_t *slot_actor;
    rk_ring cmd_ring;   /* host view */
    rk_ring event_ring; /* host view (consumer side only) */

    /* device memory */
    CUdeviceptr world_d, dir_d, slots_d, k2k_d, devflags_d, lines_d;
    CUdeviceptr cluster_out_d; /* [n_blocks / cluster_size] uint32: blocks of a cluster out of their loop */
    uint64_t exit_dead;        /* what blocks dead-lettered from their cluster-tier rings at the stop (ev_lock) */
    CUdeviceptr peers_d; /* [RK__GPU_PEERS] rk__gpu_peer: rings to and from other members */

    /* restart records (cuda_sup.c): [RK__GPU_SUPS] on the device, their
     * mirror in pinned memory; n_sups handed out (under lock) */
    CUdeviceptr sups_d;
    rk__pinned sup_mem;
    rk__gpu_sup *sup_mirror;
    uint32_t n_sups;
    uint32_t sup_max[RK__GPU_SUPS];
    uint64_t sup_window[RK__GPU_SUPS];
    uint32_t sup_strategy[RK__GPU_SUPS]; /* RK__GPU_STRATEGY_* */

    /* groups (cuda_group.c): memory of the rings between members that this
     * device holds, freed at release; the rings into this member, for the
     * dead letters at the end */
    CUdeviceptr peer_mem[2 * RK__GPU_PEERS];
    uint32_t n_peer_mem;
    /* taken before the launch (the sanitizer knows only what a kernel was
     * launched with), handed out by bumping: RK_CUDA_PEER_ARENA bytes */
    CUdeviceptr peer_arena;
    uint64_t peer_arena_bytes, peer_arena_used;
    /* this member's symmetric region (group.h), freed at release */
    CUdeviceptr sym_d;
    struct rk__cuda_peer_in {
        CUdeviceptr slots;
        uint32_t capacity, slot_size;
    } peer_in[RK__GPU_PEERS];
    rk__cuda_chunk *chunks;
    struct rk__cuda_free_state {
        struct rk__cuda_free_state *next;
        CUdeviceptr ptr;
        uint32_t bytes;
    } *free_states;
    /* states from a memory pool instead of chunks, where the device has
     * pools (cuda_mem.c); every state taken from it and not yet returned */
    CUmemoryPool state_pool;
    struct rk__cuda_pool_state {
        struct rk__cuda_pool_state *next;
        CUdeviceptr ptr;
    } *pool_states;

    /* commands, slots, inboxes: serialised */
    pthread_mutex_t lock;
    uint64_t ticket;
    uint32_t *free_slots, n_free;
    rk__cuda_inbox *inbox_free, *inbox_all;
    rk__cuda_actor **actors; /* [max_actors] */
    /* Restarts the device made, whose actors' gates are to be synced
     * under b->lock (rk__cuda_restarted): [max_actors] flags and one for
     * any, atomic. gates_shut (atomic): shutdown closed every gate for good. */
    uint32_t *regate, regate_any, gates_shut;

    pthread_mutex_t ev_lock;    /* one consumer of the event ring */
    pthread_mutex_t byref_lock; /* making by-reference arenas */
    uint64_t next_health_ns; /* atomic (relaxed): the next stream query; senders on a full queue read it */

    uint64_t ev_lost_seen[RK__GPU_EV_KINDS]; /* device events lost to a full ring, as last read (ev_lock) */
    uint64_t wake_epoch; /* atomic: host_wake */
    int launched;        /* the kernel was launched */
    int dead;            /* atomic: the kernel faulted or ended on its own */
    int stop_requested;

    /* tenants' rate quotas on the GPU (cuda_rate.c): [RK__GPU_RATES]
     * allowances, what was taken on the device, what was granted in pinned
     * memory. rate_lock: the slots and the keeper's counts; a slot's
     * tenant and state change under rate_lock and b->lock both, so either
     * lock reads them. */
    CUdeviceptr rates_d;
    rk__pinned rate_mem;
    uint64_t *rate_granted;              /* [RK__GPU_RATES], pinned: running totals, the host's only */
    pthread_mutex_t rate_lock;
    uint32_t rate_tenant[RK__GPU_RATES];
    uint8_t rate_state[RK__GPU_RATES];   /* RK__CUDA_RATE_* */
    uint64_t rate_refused[RK__GPU_RATES]; /* the device's refusal counts already reported */
    pthread_t keeper;
    CUstream keeper_stream; /* its copies: not behind checkpoints' and migrations' */
    int keeper_started; /* under rate_lock */
    int keeper_stop;    /* atomic */

    /* light actors (cuda_light.c): none when light_actors is 0. Homes are
     * blocks light_first .. light_first + light_homes - 1, the port's
     * forwarder the block after them; with clusters, the homes fill whole
     * clusters and blocks that return at once fill the forwarder's. */
    uint32_t light_actors, light_homes, light_first, light_stride;
    uint32_t light_inbox, light_batch, light_steal;
    uint32_t light_blocks; /* blocks past the actor blocks: homes, forwarder, filling */
    CUdeviceptr light_world_d, light_types_d, light_states_d, light_stop_d, light_sent_d;
    rk__pinned light_port_mem, light_exits_mem;
    int light_done; /* the stop counted what was left */
} rk__cuda;

/* ---- light actors (cuda_light.c) ---- */
/* Before the grid: how many homes, the state stride, and whether the
 * program and options allow light actors. */
rk_status rk__cuda_light_plan(rk__cuda *b, rk_runtime *rt, int sms);
/* In the layout: the world, its port and the arrays, into *w. */
rk_status rk__cuda_light_layout(rk__cuda *b, rk__gpu_world *w);
/* The drain. quiet: waits until no light message is on its way (the
 * homes' counts twice alike) or the deadline, then *to_blocks is what light
 * handlers sent to block actors so far; to_blocks: that count as the homes
 * last published it (0 when it cannot be read); stop_homes: the homes
 * return once they have nothing left. */
rk_status rk__cuda_light_quiet(rk__cuda *b, uint64_t deadline_ns, uint64_t *to_blocks);
uint64_t rk__cuda_light_to_blocks(rk__cuda *b);
rk_status rk__cuda_light_stop_homes(rk__cuda *b, uint64_t deadline_ns);
/* After the kernel ended: what is left, as dead letters and unread. */
void rk__cuda_light_leftovers(rk_runtime *rt, rk__cuda *b, rk_shutdown_report *rep);
void rk__cuda_light_free(rk__cuda *b);
extern const struct rk__light_ops rk__cuda_light_ops;

enum {
    RK__CUDA_RATE_FREE = 0,
    RK__CUDA_RATE_USED = 1, /* rate_tenant's */
    RK__CUDA_RATE_PENDING = 2, /* lifted, but an actor has not let go yet: asked again at each
                                  quota change, free once all did */
};

/* ---- tenants' rate quotas (cuda_rate.c) ---- */
/* Backend op tenant_rate (runtime_internal.h). */
rk_status rk__cuda_tenant_rate(rk_runtime *rt, uint32_t tenant, int on);
/* The allowance + 1 of `tenant`'s actors, 0 if it has none (b->lock or
 * rate_lock held). */
uint32_t rk__cuda_rate_of(const rk__cuda *b, uint32_t tenant);
/* Stops the keeper thread, if it runs (shutdown, before the kernel stops). */
void rk__cuda_rate_stop(rk__cuda *b);

/* ---- tunables ---- */
uint64_t rk__cuda_env_u64(const char *name, uint64_t dflt);
void rk__cuda_log(const rk__cuda *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- context: every driver call runs between enter and leave ---- */
rk_status rk__cuda_enter(rk__cuda *b);
void rk__cuda_leave(rk__cuda *b);

/* ---- memory (cuda_mem.c); all return RK_ENOMEM on failure ---- */
rk_status rk__cuda_pin(rk__cuda *b, size_t bytes, rk__pinned *out); /* zeroed */
/* For memory the running kernel will use: from the pool taken before the
 * launch while it lasts (tools such as compute-sanitizer only know the
 * allocations a kernel was launched with), else rk__cuda_pin. */
rk_status rk__cuda_pin_late(rk__cuda *b, size_t bytes, rk__pinned *out);
void rk__cuda_unpin(rk__cuda *b, rk__pinned *p);
/* Zeroed when `zero` (a memset: may need an SM, so only before the launch). */
rk_status rk__cuda_dalloc(rk__cuda *b, size_t bytes, int zero, CUdeviceptr *out);
void rk__cuda_dfree(rk__cuda *b, CUdeviceptr *p);
rk_status rk__cuda_upload(rk__cuda *b, CUdeviceptr dst, const void *src, size_t n);
rk_status rk__cuda_download(rk__cuda *b, void *dst, CUdeviceptr src, size_t n);
/* Device memory for a state, 128-aligned, not zeroed (the block resets it):
 * from the state pool, else from the free list or a chunk. Allocating waits
 * only for the backend's copy stream; freeing (which may happen while the
 * kernel runs, once the device no longer uses the state) enters the context
 * itself. rk__cuda_state_arena, before the launch, creates the pool and
 * reserves `bytes` in it, or takes the first chunk; rk__cuda_chunks_free
 * returns all of it. */
rk_status rk__cuda_state_alloc(rk__cuda *b, uint32_t bytes, CUdeviceptr *out);
rk_status rk__cuda_state_arena(rk__cuda *b, size_t bytes);
void rk__cuda_state_free(rk__cuda *b, CUdeviceptr ptr, uint32_t bytes);
void rk__cuda_chunks_free(rk__cuda *b);
/* Pinned memory for an initial state, filled by the host with `bytes` of
 * `src` (and zeros up to `size`); *dev gets its device address. Nothing is
 * copied by the driver while the kernel runs: the block reads it itself. */
rk_status rk__cuda_init_alloc(rk__cuda *b, const void *src, size_t bytes, size_t size, CUdeviceptr *dev);
/* An empty inbox of this geometry, reused when one is free. */
rk_status rk__cuda_inbox_take(rk__cuda *b, uint32_t capacity, uint32_t slot_size, rk__cuda_inbox **out);
void rk__cuda_inbox_give(rk__cuda *b, rk__cuda_inbox *ib);
void rk__cuda_inboxes_free(rk__cuda *b);
/* The device address of a host address inside `p`. */
static inline CUdeviceptr rk__cuda_dev(const rk__pinned *p, const void *host)
{
    return p->dev + (CUdeviceptr)((const unsigned char *)host - (const unsigned char *)p->host);
}

/* ---- commands and events (cuda_backend.c) ---- */
/* Posts a command and waits for its acknowledgement until the deadline.
 * Returns the acknowledged status (*value gets its value) or
 * RK_ETIMEDOUT / RK_EDEVICE. Callers hold b->lock, except FORWARD's
 * (cuda_group.c): at most RK__GPU_ACKS commands are in flight. */
rk_status rk__cuda_command(rk_runtime *rt, rk__gpu_cmd *cmd, uint64_t deadline_ns, uint64_t *value);
/* n <= RK__GPU_ACKS / 2 commands posted back to back, all waited for;
 * *value and *value2 (if asked) from the last one's acknowledgement. */
rk_status rk__cuda_commands(rk_runtime *rt, rk__gpu_cmd *cmds, uint32_t n, uint64_t deadline_ns, uint64_t *value,
                            uint64_t *value2);
/* Hands the device's errors and dead letters to the core; checks that the
 * kernel is alive (at most every millisecond unless `force`). */
void rk__cuda_poll(rk_runtime *rt, int force);
/* Whether the kernel is known gone; with `check`, the health check first if due (cuda_actor.c). */
int rk__cuda_gone(rk_runtime *rt, int check);
/* A send's status, RK_EFULL made RK_EDEVICE when the kernel is gone (cuda_actor.c). */
rk_status rk__cuda_send_status(rk_runtime *rt, rk_status st);

/* ---- restart records (cuda_sup.c) ---- */
#define RK__CUDA_SUP_TIMEOUT_NS 5000000000ull
extern const struct rk__restart_ops rk__cuda_restart_ops;

/* ---- groups (cuda_group.c) ---- */
extern const struct rk__group_ops rk__cuda_group_ops;
rk_status rk__cuda_launch_deferred(rk_runtime *rt);
void rk__cuda_peers_free(rk__cuda *b);

/* ---- actors (cuda_actor.c) ---- */
rk_status rk__cuda_actor_create(rk_runtime *rt, rk__actor *a, uint64_t deadline_ns);
rk_status rk__cuda_actor_command(rk_runtime *rt, rk__actor *a, rk_lifecycle_event ev, uint64_t deadline_ns);
rk_lifecycle_state rk__cuda_actor_state(rk_runtime *rt, rk__actor *a);
rk_status rk__cuda_actor_control(rk_runtime *rt, rk__actor *a, rk_control *out);
rk_status rk__cuda_send(rk_runtime *rt, rk__actor *a, rk_msg *hdr, const void *payload);
rk_status rk__cuda_send_batch(rk_runtime *rt, rk__actor *a, rk_msg *hdrs, const void *payloads, uint32_t len,
                              uint32_t n, uint32_t *sent);
/* Closes every actor's host gate and waits for the senders inside; no gate
 * opens again (shutdown). */
void rk__cuda_close_gates(rk__cuda *b);
/* The device restarted actor `id` (a restart record): its gate opens if it
 * was closed (a deactivated actor that failed while draining comes back
 * Active). Needs b->lock, which the caller - the event reader - may not
 * take: taken here only if free, else left to its holder's rk__cuda_unlock. */
void rk__cuda_restarted(rk__cuda *b, rk_actor_id id);
/* Releases b->lock, syncing first the gates rk__cuda_restarted marked. */
void rk__cuda_unlock(rk__cuda *b);
/* After the kernel ended: dead-letters what is left in the inboxes. */
uint64_t rk__cuda_dead_letter_inboxes(rk_runtime *rt);
void rk__cuda_actors_free(rk__cuda *b);

#endif
