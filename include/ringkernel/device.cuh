/* ringkernel: writing GPU actors (CUDA C).
 *
 * A GPU actor is a state block in device memory and a handler that every
 * thread of the actor's thread block runs for each message:
 *
 *     typedef struct { uint64_t count; } counter;
 *
 *     __device__ rk_status counter_handle(rk_dctx *ctx, counter *s, const rk_msg *m)
 *     {
 *         __syncthreads();                 // handlers may use the whole block
 *         if (threadIdx.x == 0)
 *             s->count++;
 *         __syncthreads();
 *         return rk_dreply(ctx, m->type, &s->count, sizeof s->count);
 *     }
 *
 *     RK_GPU_ACTOR(counter_actor, counter, counter_handle);
 *     RK_GPU_PROGRAM(my_program, counter_actor, other_actor);   // type 0, type 1
 *
 * compiled with nvcc into the user's program. Pass &my_program as
 * rk_runtime_options.gpu_program and give each actor type the index of its
 * GPU type (rk_actor_type.gpu_type). The same source can be compiled while the
 * program runs (nvrtc.h).
 *
 * Rules for handlers:
 *   - The handler runs on all threads of the block (blockDim.x ==
 *     RK_GPU_BLOCK_THREADS, default 128). `msg` and its inline payload sit
 *     in shared memory (from the host) or in the receiver's device-memory
 *     queue (from an actor); a by-reference payload is read in place.
 *   - rk_dsend, rk_dsend_msg, rk_dsend_wait, rk_dreply, rk_dflush and rk_dput are
 *     collective: every thread of the block calls them, with the same
 *     arguments (only thread 0's are used), like __syncthreads().
 *   - Returning anything but RK_OK from any thread marks the actor Failed;
 *     the host sees it through rk_runtime_error(). Other actors keep running.
 *   - A handler must return: the block serves one actor and handles its
 *     lifecycle commands between messages.
 *
 * The first part of this header is the layout shared between the library
 * (host C) and the kernel; it compiles as C11 too. The rest is CUDA only. */
#ifndef RINGKERNEL_DEVICE_CUH
#define RINGKERNEL_DEVICE_CUH

#include <stddef.h>
#include <stdint.h>

#include "ringkernel/control.h"
#include "ringkernel/export.h"
#include "ringkernel/hlc.h"
#include "ringkernel/lifecycle.h"
#include "ringkernel/light.h"
#include "ringkernel/msg.h"
#include "ringkernel/nvrtc.h"
#include "ringkernel/ring.h"
#include "ringkernel/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ===== layout shared by the library and the kernel (C11 and CUDA) ======== */

#define RK_GPU_PROGRAM_MAGIC 0x524b4750u /* "RKGP" */
#define RK_GPU_ABI 17u                   /* bumped whenever a layout below changes */

/* What RK_GPU_PROGRAM defines and rk_gpu_program_from_source returns. */
struct rk_gpu_program {
    uint32_t magic;         /* RK_GPU_PROGRAM_MAGIC */
    uint32_t abi;           /* RK_GPU_ABI of the device.cuh it was built with */
    uint32_t n_types;       /* actor types; 0 until loaded for NVRTC programs */
    uint32_t block_threads; /* threads per block the kernel was built for */
    const char *name;
    /* nvcc-built: the kernel as a CUfunction of `device`'s primary context,
     * looked up by the user's own CUDA runtime; returns 0 on success. */
    int (*resolve)(int device, void **function);
    const uint32_t *state_sizes; /* sizeof of each type's state */
    /* NVRTC-built: the compiled image (cubin or PTX) */
    void *image;
    size_t image_size;
};

/* The kernel's and the program description's symbol names for `name`. */
/* A program's state size of a light type (RK_GPU_LIGHT) carries this bit. */
#define RK__GPU_LIGHT_TYPE 0x80000000u
#define RK__GPU_LIGHT_NONE 0xFFFFFFFFu /* rk__gpu_world.light_types of an actor not spawned */

#define RK__GPU_KERNEL_PREFIX "rk__gpu_kernel_"
#define RK__GPU_INFO_PREFIX "rk__gpu_info_"
#define RK__GPU_INFO_WORDS 4u /* magic, abi, n_types, block_threads; then sizes */

enum rk__gpu_op {
    RK__GPU_OP_BIND = 1,  /* create or restart the actor on a slot */
    RK__GPU_OP_EVENT = 2, /* deactivate, activate, terminate, fail */
    RK__GPU_OP_QUERY = 3, /* supervisor: are all running actors idle? */
    RK__GPU_OP_DRAIN = 4, /* supervisor: publish inbox heads eagerly from now on */
    RK__GPU_OP_RESET = 5, /* unbind an actor whose creation failed, whatever its state */
    RK__GPU_OP_SUP = 6,   /* supervisor: a restart record (event = enum rk__gpu_sup_op) */
    RK__GPU_OP_HOLD = 7,  /* a checkpoint holds the actor still (event = enum rk__gpu_hold_op) */
    RK__GPU_OP_RESTART = 8, /* a group restart's turn (the supervisor's own command): the block
                               restarts its actor as a record allows (ticket 0, no acknowledgement) */
    RK__GPU_OP_RATED = 10, /* the actor's sends are charged to allowance cmd.type - 1 (0: none) */
    RK__GPU_OP_FORWARD = 11, /* supervisor: directory entries forward elsewhere (rk__gpu_fwd_cmd) */
};

/* What RK__GPU_OP_HOLD does. Held, the block takes no message (commands
 * yes), its K2K door is closed and its inbox heads are published, so the
 * host can read what is queued; SKIP moves the heads to h2k_final (inbox)
 * and `state` (K2K queue), past messages the host dead-letters or moves. */
enum rk__gpu_hold_op {
    RK__GPU_HOLD_ON = 1,     /* hold; the acknowledgement's value is the K2K head */
    RK__GPU_HOLD_SKIP = 2,   /* held: skip to the given heads, stay held */
    RK__GPU_HOLD_OFF = 3,    /* go on; an Active actor's door opens again */
    RK__GPU_HOLD_RETIRE = 4, /* go on with the door closed: the actor is terminated next */
};

/* What RK__GPU_OP_SUP does with record cmd.type. */
enum rk__gpu_sup_op {
    RK__GPU_SUP_SET = 1,    /* on, with an empty history: max_restarts = cmd.generation,
                               window = cmd.h2k_final ns, strategy = cmd.tenant */
    RK__GPU_SUP_OFF = 2,    /* no more restarts (its supervisor stops its children) */
    RK__GPU_SUP_CHARGE = 3, /* the host restarts a child itself: count it, RK_OK, or RK_EFAILED
                               when that is one too many (the record then gives up) */
    RK__GPU_SUP_ATTACH = 4, /* actor cmd.actor is supervised by record cmd.state - 1 (0: none);
                               group strategies: at position cmd.generation of cmd.type children */
};

/* cmd.init of a create whose state is moved in afterwards: the block
 * neither writes fresh state nor runs init (no state address is odd). */
#define RK__GPU_INIT_KEEP 1ull

/* A lifecycle command: one 128-byte slot of the command ring. */
typedef struct rk__gpu_cmd {
    uint64_t seq;        /* owned by the ring */
    uint64_t ticket;     /* the host's number for it: names the acknowledgement */
    uint32_t op;         /* enum rk__gpu_op */
    uint32_t event;      /* rk_lifecycle_event */
    uint32_t actor;
    uint32_t slot;       /* block index, >= 1 */
    uint32_t generation; /* BIND: the generation to run */
    uint32_t tenant;
    uint32_t type;       /* BIND: GPU type index */
    uint32_t state_size; /* BIND: bytes of state (a multiple of 16) */
    uint64_t state;      /* BIND: device address of the state */
    uint64_t init;       /* BIND: device address of the initial state; 0 = zeroed;
                            RK__GPU_INIT_KEEP = as it is, no init (a migration's new home) */
    uint64_t h2k_final;  /* TERMINATE: inbox positions to handle first */
    rk_ring inbox;       /* BIND: the actor's inbox as the device sees it */
    uint32_t rate;       /* BIND: its tenant's allowance + 1 (0: its sends are not limited) */
    unsigned char pad_[12];
} rk__gpu_cmd;

RK_STATIC_ASSERT(sizeof(rk__gpu_cmd) == 128, "a command fills one 128-byte ring slot");
RK_STATIC_ASSERT(offsetof(rk__gpu_cmd, seq) == 0, "ring sequence word first");
RK_STATIC_ASSERT(offsetof(rk__gpu_cmd, state) == 48, "cmd layout");
RK_STATIC_ASSERT(offsetof(rk__gpu_cmd, inbox) == 72, "cmd layout");

#define RK__GPU_FWD_IDS 25u /* directory entries one FORWARD command re-points */

/* RK__GPU_OP_FORWARD, in a command slot: the `forward` of each of ids[0..n)
 * becomes `to` (a migration's moving mark, or the gid of the new home). The
 * supervisor block writes them, so a migration re-points every earlier home
 * of an actor with one command instead of one copy into device memory each. */
typedef struct rk__gpu_fwd_cmd {
    uint64_t seq;
    uint64_t ticket;
    uint32_t op; /* RK__GPU_OP_FORWARD */
    uint32_t n;  /* <= RK__GPU_FWD_IDS */
    uint32_t to;
    uint32_t ids[RK__GPU_FWD_IDS];
} rk__gpu_fwd_cmd;

RK_STATIC_ASSERT(sizeof(rk__gpu_fwd_cmd) == sizeof(rk__gpu_cmd), "a FORWARD command is a command slot");
RK_STATIC_ASSERT(offsetof(rk__gpu_fwd_cmd, op) == offsetof(rk__gpu_cmd, op), "FORWARD's op where commands have it");

#define RK__GPU_ACKS 64u /* acknowledgements in flight, at most */

/* Acknowledgement of command `ticket` (pinned host memory). */
typedef struct rk__gpu_ack {
    uint64_t ticket; /* written last, with release */
    int32_t status;
    uint32_t pad_;
    uint64_t value;  /* BIND: 1 if the slot is bound to the actor; QUERY: messages handled;
                        HOLD_ON: the K2K head */
    uint64_t value2; /* HOLD_ON: the K2K tail (claims past it: none while held) */
} rk__gpu_ack;

RK_STATIC_ASSERT(sizeof(rk__gpu_ack) == 32, "ack layout");

enum rk__gpu_event_kind {
    RK__GPU_EV_ERROR = 1,       /* a handler failed: rk__async_error */
    RK__GPU_EV_DEAD_LETTER = 2, /* an undeliverable message: rk__dead_letter */
    RK__GPU_EV_RESTART = 3,     /* the actor's block restarted it: now this generation */
    RK__GPU_EV_TENANT = 4,      /* a K2K send across tenants was refused: the message's header */
};

#define RK__GPU_EV_KINDS 4u /* kinds 1..RK__GPU_EV_KINDS */

/* What the device reports to the host asynchronously (128-byte ring slot). */
typedef struct rk__gpu_event {
    uint64_t seq; /* owned by the ring */
    uint32_t kind;
    uint32_t actor;
    uint32_t generation;
    int32_t status;
    uint64_t hlc;
    rk_msg msg; /* DEAD_LETTER: the message's header */
    unsigned char pad2_[32];
} rk__gpu_event;

RK_STATIC_ASSERT(sizeof(rk__gpu_event) == 128, "an event fills one 128-byte ring slot");
RK_STATIC_ASSERT(offsetof(rk__gpu_event, msg) == 32, "event layout");

/* Words the host writes and the supervisor reads, or the reverse (pinned). */
typedef struct rk__gpu_hostflags {
    uint64_t stop; /* host: 1 stops the kernel */
    unsigned char pad0_[RK_RING_LINE - 8];
    uint64_t ready; /* supervisor: 1 once every block is running */
    unsigned char pad1_[RK_RING_LINE - 8];
} rk__gpu_hostflags;

RK_STATIC_ASSERT(sizeof(rk__gpu_hostflags) == 2 * RK_RING_LINE, "one line per writer");

/* Kernel-wide words in device memory. */
typedef struct rk__gpu_devflags {
    uint32_t stop;       /* supervisor: every block leaves its loop */
    uint32_t draining;   /* supervisor: shutdown drain in progress */
    uint32_t started;    /* blocks that have entered the kernel */
    uint32_t pad_;
    int64_t clock_offset_ns; /* host CLOCK_REALTIME minus %globaltimer, for HLC stamps */
    uint64_t events_dropped; /* events lost because the event ring was full */
    uint32_t member;         /* group.h: member index + 1, set by the host after launch; 0 = none */
    uint32_t pad2_;
    uint64_t dropped[RK__GPU_EV_KINDS]; /* of those, per kind (index kind - 1): the host accounts for them */
    uint64_t sup_rounds;                /* bit i: record i asks for a group restart (rk__gpu_round) */
    unsigned char pad1_[RK_RING_LINE - 48 - 8 * RK__GPU_EV_KINDS];
} rk__gpu_devflags;

RK_STATIC_ASSERT(sizeof(rk__gpu_devflags) == RK_RING_LINE, "devflags layout");

/* Per actor id, in device memory: what a K2K sender needs to know. */
/* An actor's door: the one word a K2K sender touches before it claims a
 * slot, so that a single atomic tells it whether the actor accepts, where
 * it lives and whether the sender's tenant may reach it. Bits 0-15 count
 * the senders inside, 16-30 hold the bound block + 1 (0: none), bit 31 is
 * open while the actor accepts, 32-63 hold its tenant. Senders enter with
 * an acquire increment and leave with a decrement; the owner changes the
 * other bits only with the door closed, by atomics (senders keep counting
 * while it is closed). */
#define RK__GPU_DOOR_SENDERS 0xFFFFull
#define RK__GPU_DOOR_SLOT_SHIFT 16
#define RK__GPU_DOOR_SLOT_MAX 0x7FFFu /* so at most 0x7FFF blocks */
#define RK__GPU_DOOR_SLOT ((uint64_t)RK__GPU_DOOR_SLOT_MAX << RK__GPU_DOOR_SLOT_SHIFT)
#define RK__GPU_DOOR_OPEN (1ull << 31)

typedef struct rk__gpu_dir {
    uint64_t door;       /* senders | slot << 16 | open << 31 | tenant << 32 (above) */
    uint32_t generation; /* set before the door opens */
    uint32_t state;      /* rk_lifecycle_state, kept by the bound block */
    uint32_t forward;    /* group.h: where sends go once the door is closed: the gid the actor
                            migrated to, RK__GPU_FWD_MOVING while it moves, 0 = nowhere (host) */
    uint32_t sup;        /* the restart record of its supervisor + 1, 0 = none (rk__gpu_sup) */
    uint32_t sup_pos;    /* group strategies: its position among the record's children */
    uint32_t pad_;
} rk__gpu_dir;

#define RK__GPU_FWD_MOVING 0xFFFFFFFDu

/* A ring between two members of a group (group.h), kept by both ends in
 * device memory; the host fills an entry while the kernel runs, `ready`
 * last. Slots live in the receiver's memory, so the receiver polls local
 * memory and the sender writes across the peer mapping (posted writes):
 *   out (to member m): producer line here (claimed with device atomics),
 *                      consumer line here (m's bridge writes it remotely),
 *                      slots in m's memory
 *   in (from member m): slots here, consumer line in m's memory (our bridge
 *                      writes it), producer line unused */
#define RK__GPU_PEERS RK_GROUP_MAX
#define RK__GPU_BRIDGE_SLOT 1024u /* largest slot of a ring between members */

typedef struct rk__gpu_peer {
    rk_ring out;
    rk_ring in;
    uint32_t out_ready; /* 1 once `out` is set */
    uint32_t in_ready;  /* 1 once `in` is set */
    uint64_t in_head;   /* the bridge's position in `in` (for quiescence) */
    uint64_t sym;       /* that member's symmetric region (group.h); 0: none */
    uint64_t sym_bytes; /* its size (every member's is the same) */
    unsigned char pad_[RK_RING_LINE - 2 * sizeof(rk_ring) - 32];
} rk__gpu_peer;

RK_STATIC_ASSERT(sizeof(rk__gpu_peer) == RK_RING_LINE, "peer layout");

RK_STATIC_ASSERT(sizeof(rk__gpu_dir) == 32, "dir layout");

/* Per block, in device memory. */
typedef struct rk__gpu_slot {
    /* line 0, written by the supervisor */
    uint64_t mbox_seq; /* commands posted to this block */
    unsigned char pad0_[RK_RING_LINE - 8];
    rk__gpu_cmd mbox; /* the latest command (valid while mbox_seq != mbox_taken) */
    /* line 2, written by the block */
    uint64_t mbox_taken; /* commands the block has copied out */
    uint64_t started;    /* handler calls started: quiescence detection */
    uint64_t handled;    /* handler calls finished */
    uint32_t busy;       /* 1 while a handler runs */
    uint32_t runs;       /* 1 while the bound actor handles messages */
    /* Quiescence (rk__gpu_quiescent) with cluster-tier rings, which the
     * supervisor block cannot see: running counts of what this block's
     * actors put into any, and of what its own ring had that counts as
     * settled (rk__gpu_ck2k_account). */
    uint64_t ck2k_sent;
    uint64_t ck2k_acct;
    unsigned char pad2_[RK_RING_LINE - 48];
    /* line 3, read-only: the block's actor-to-actor inbox */
    rk_ring k2k;
    unsigned char pad3_[RK_RING_LINE - sizeof(rk_ring)];
} rk__gpu_slot;

RK_STATIC_ASSERT(sizeof(rk__gpu_slot) == 4 * RK_RING_LINE, "slot layout");
RK_STATIC_ASSERT(offsetof(rk__gpu_slot, mbox) == RK_RING_LINE, "slot layout");
RK_STATIC_ASSERT(offsetof(rk__gpu_slot, mbox_taken) == 2 * RK_RING_LINE, "slot layout");
RK_STATIC_ASSERT(offsetof(rk__gpu_slot, k2k) == 3 * RK_RING_LINE, "slot layout");

/* A tenant's send allowance, for a tenant with a rate quota (tenant.h):
 * the host's token bucket stays the only source of tokens. The host grants
 * tokens by raising `granted` (a running total in pinned memory, which only
 * the host writes); the GPU's senders of the tenant count what they take in
 * `used` (device memory, device atomics), and a send may go while used
 * stays below granted. Every millisecond the host reads used and refused,
 * moves what the allowance has room for from its bucket into granted, and
 * counts the refusals for the tenant (src/cuda/cuda_rate.c). No command and
 * no lock between the two: neither side ever waits for the other. */
#define RK__GPU_RATES 64u

typedef struct rk__gpu_rate {
    unsigned long long used;    /* sends taken from the allowance */
    unsigned long long refused; /* sends refused for want of one */
    unsigned char pad_[RK_RING_LINE - 16];
} rk__gpu_rate;

RK_STATIC_ASSERT(sizeof(rk__gpu_rate) == RK_RING_LINE, "rate layout");

/* A restart record: the restart policy of a one-for-one supervisor, kept
 * on the device so that a failing actor's own block restarts it, without
 * the host (core/supervisor.c holds the tree; it opens a record per such
 * supervisor and attaches its children). The history holds the times of
 * the latest restarts, as many as max_restarts: one more inside the window
 * and the record gives up, leaving the actor Failed for the host to
 * escalate. Whoever decides holds `lock` (a block's thread 0, or the
 * supervisor block for the host's commands), updates the record and
 * copies what changed into its mirror in pinned memory, which the host
 * reads (times there in host CLOCK_REALTIME ns). */
#define RK__GPU_SUPS 64u     /* records per runtime */
#define RK__GPU_SUP_HIST 32u /* the largest max_restarts a record can keep */
#define RK__GPU_SUP_KIDS 32u /* the most children a group strategy's record can restart */

/* A one-for-all or rest-for-one record (strategy, values of supervisor.h's
 * rk_restart_strategy) also knows its children in start order. A failure
 * it allows asks for a round - restart the children from position `from`
 * on - and the supervisor block carries the round out (rk__gpu_round): it
 * hands each child its turn (RK__GPU_OP_RESTART) in start order and waits
 * until that child runs in its next generation, or has failed again,
 * before the next one's turn. Each child restarts in place at its next
 * message boundary, as after its own failure: what is queued goes to the
 * next generation, except messages that name the old one (dead-lettered).
 * Rounds asked for before the supervisor block takes them merge (the
 * smallest `from`); one asked for while a round runs comes after it. A
 * turn that cannot be taken within 5 s passes, and a record turned off
 * ends its round: the children still waiting are the host's again. */
#define RK__GPU_STRATEGY_ONE_FOR_ONE 0u
#define RK__GPU_STRATEGY_ONE_FOR_ALL 1u
#define RK__GPU_STRATEGY_REST_FOR_ONE 2u

enum rk__gpu_sup_state {
    RK__GPU_SUP_STATE_OFF = 0,
    RK__GPU_SUP_STATE_ON = 1,
    RK__GPU_SUP_STATE_GAVE_UP = 2,
};

typedef struct rk__gpu_sup {
    uint32_t lock;         /* device record: 1 while someone decides */
    uint32_t state;        /* enum rk__gpu_sup_state */
    uint32_t max_restarts; /* restarts allowed per window, <= RK__GPU_SUP_HIST */
    uint32_t culprit;      /* GAVE_UP: the actor that failed once too often */
    uint64_t window_ns;
    uint64_t restarts;     /* restart decisions since the record was set */
    uint32_t hist_head;    /* oldest of the hist_n latest restart times */
    uint32_t hist_n;
    uint64_t epoch;        /* + 1 per SET */
    uint64_t hist[RK__GPU_SUP_HIST];
    uint32_t strategy;     /* RK__GPU_STRATEGY_* */
    uint32_t n_kids;       /* group strategies: children, kids[0..n_kids) in start order */
    uint32_t round;        /* a round is asked for: restart kids[from..n_kids) */
    uint32_t from;
    uint32_t kids[RK__GPU_SUP_KIDS];
    unsigned char pad_[4 * RK_RING_LINE - 64 - 8 * RK__GPU_SUP_HIST - 4 * RK__GPU_SUP_KIDS];
} rk__gpu_sup;

RK_STATIC_ASSERT(sizeof(rk__gpu_sup) == 4 * RK_RING_LINE, "sup layout");

enum rk__gpu_world_flags {
    RK__GPU_F_FENCE_SC = 1u << 0, /* publish to the host with fence.sc.sys, not fence.acq_rel.sys */
    RK__GPU_F_HOST_LL = 1u << 1,  /* the host queue's slots are flag-per-word (ring.h, LL) */
};

/* Everything the kernel needs, in device memory; its address is the
 * kernel's only parameter. Read-only once launched. */
typedef struct rk__gpu_world {
    uint32_t magic;      /* RK_GPU_PROGRAM_MAGIC */
    uint32_t abi;        /* RK_GPU_ABI */
    uint32_t n_blocks;   /* grid size; block 0 supervises, 1.. serve actors */
    uint32_t max_actors;
    uint32_t msg_buffer; /* bytes of each block's message buffer (dynamic shared memory) */
    uint32_t k2k_slot_size;
    uint32_t flags;      /* enum rk__gpu_world_flags */
    uint32_t pad_;
    uint64_t spin_ns;    /* an idle actor polls this long before it backs off */
    uint64_t backoff_ns; /* longest nap of an idle block */
    uint64_t host_clock_ns; /* host CLOCK_REALTIME just before launch */
    rk_ring host_ring;   /* actors -> host */
    rk_ring cmd_ring;    /* host -> supervisor */
    rk_ring event_ring;  /* errors and dead letters -> host */
    rk_control *ctl;     /* [max_actors], pinned host memory */
    rk__gpu_hostflags *host;
    rk__gpu_ack *acks;   /* [RK__GPU_ACKS], pinned */
    uint32_t *slot_actor;/* [n_blocks], pinned: actor bound to each block, or RK_ACTOR_NONE */
    rk__gpu_dir *dir;    /* [max_actors], device */
    rk__gpu_slot *slots; /* [n_blocks], device */
    rk__gpu_devflags *dev;
    unsigned char *k2k_mem;  /* the K2K rings, one per block, k2k_ring_bytes apart */
    uint64_t k2k_ring_bytes; /* rk_ring_bytes(k2k_capacity, k2k_slot_size) */
    uint32_t k2k_capacity;
    uint32_t k2k_host_poll_ns; /* an actor busy with K2K polls the host's inbox this often, at most */
    rk__gpu_peer *peers;     /* [RK__GPU_PEERS], device: rings to and from the other members */
    rk__gpu_sup *sups;       /* [n_sups], device: restart records */
    rk__gpu_sup *sup_mirror; /* [n_sups], pinned: what the host reads of them */
    uint32_t n_sups;
    uint32_t n_rates;
    struct rk__gpu_rate *rates;   /* [n_rates], device: what tenants' senders took (rk__gpu_rate) */
    const uint64_t *rate_granted; /* [n_rates], pinned: what the host granted them, running totals */
    /* The cluster tier of K2K (Hopper): with clusters of cluster_size
     * blocks and ck2k_capacity > 0, each block keeps a second K2K ring in
     * its shared memory, at ck2k_offset of the dynamic shared memory, which
     * actors of the blocks of its cluster write through DSMEM. */
    uint32_t cluster_size;   /* blocks per cluster, 0 without clusters */
    uint32_t ck2k_capacity;  /* slots of a cluster-tier ring (power of two), 0: no cluster tier */
    uint32_t ck2k_offset;    /* where it starts in dynamic shared memory (after the message buffer) */
    uint32_t pad4_;
    uint32_t *cluster_out;   /* [n_blocks / cluster_size], device: blocks of each cluster out of their loop */
    /* Light actors (light.h), when `light` is set: blocks light_first ..
     * light_first + light_homes - 1 are their homes, and the block after
     * them forwards the host's port (light.cuh, rk_light_ingress). */
    struct rk_light_world *light;  /* device */
    uint32_t *light_types;         /* [actors], device: each actor's type, RK__GPU_LIGHT_NONE until spawned */
    unsigned char *light_states;   /* [actors * light_stride], device */
    uint32_t *light_exits;         /* [light_homes + 1], pinned: set as each home (and the forwarder) returns */
    uint32_t light_stride;         /* bytes of state per actor, a multiple of 128 (see cuda_light.c) */
    uint32_t light_first;
    uint32_t light_homes;
    uint32_t light_actors;
    unsigned long long *light_sent; /* device: messages block actors sent to light actors */
} rk__gpu_world;

RK_STATIC_ASSERT(offsetof(rk__gpu_world, host_ring) == 56, "world layout");
RK_STATIC_ASSERT(offsetof(rk__gpu_world, ctl) == 176, "world layout");
RK_STATIC_ASSERT(offsetof(rk__gpu_world, k2k_mem) == 232, "world layout");
RK_STATIC_ASSERT(offsetof(rk__gpu_world, peers) == 256, "world layout");
RK_STATIC_ASSERT(sizeof(rk__gpu_world) == 384, "world layout");

#ifdef __cplusplus
}
#endif

/* ===== device side (CUDA C) ================================================ */

#if defined(__CUDACC__)

#if !defined(__CUDACC_RTC__)
#include "ringkernel/light.cuh" /* light actors' scheduler (light.h) */
#endif

#ifndef RK_GPU_BLOCK_THREADS
#define RK_GPU_BLOCK_THREADS 128
#endif

#define RK__GPU_PUB_MAX 32u /* sends to the host awaiting one publication fence */
#define RK__GPU_LL_ITEM 512u /* the largest message (past its first 8 bytes) warp 0 writes to an LL host queue */

/* Timing probes for diagnostics (bench/diag): a program that defines
 * RK_GPU_PROBE(ctx, point) before including this header is called by thread
 * 0 at each point of handling messages from the host. Compiled out
 * otherwise. */
enum rk__gpu_probe {
    RK__PROBE_ROUND = 0,     /* a polling round starts */
    RK__PROBE_SEEN = 1,      /* the round takes host messages (polled or looked ahead) */
    RK__PROBE_COPIED = 2,    /* the batch is in shared memory */
    RK__PROBE_SENDING = 3,   /* a send to the host starts */
    RK__PROBE_CLAIMED = 4,   /* it claimed its slot */
    RK__PROBE_HANDLED = 5,   /* a handler returned */
    RK__PROBE_FENCED = 6,    /* the publication fence is done (LL host queue: no fence, the handler is done) */
    RK__PROBE_PUBLISHED = 7, /* the batch's sends to the host are published */
    RK__PROBE_H2K = 8,       /* thread 0 starts the batch (after the block's barrier) */
    RK__PROBE_RESERVED = 9,  /* it reserved the reply's slot in the host queue */
    /* actor-to-actor: the receiver, then its handler's send (bench/diag/diag_k2k.cu) */
    RK__PROBE_K2K_SEEN = 10,    /* the round takes a K2K message */
    RK__PROBE_DELIVER = 11,     /* the handler starts (after the block's barrier) */
    RK__PROBE_K2K_SEND = 12,    /* a K2K send, its header built, starts routing */
    RK__PROBE_DOOR = 13,        /* it entered the receiver's door */
    RK__PROBE_K2K_CLAIMED = 14, /* it claimed its slot */
    RK__PROBE_K2K_FENCED = 15,  /* the message is written and fenced */
    /* a lifecycle command: the supervisor block, then the block that runs it
     * (bench/diag/diag_lifecycle.cu) */
    RK__PROBE_SUP_LOOK = 16,     /* the supervisor's look at the command ring starts */
    RK__PROBE_SUP_SEEN = 17,     /* it saw a command */
    RK__PROBE_SUP_CONSUMED = 18, /* it is copied (an LL slot: as soon as it is seen) */
    RK__PROBE_SUP_HANDED = 19,   /* carried out, or in its block's mailbox */
    RK__PROBE_MBOX = 20,         /* a block took it from its mailbox */
    RK__PROBE_ACK = 21,          /* an acknowledgement starts */
    RK__PROBE_ACKED = 22,        /* its ticket is stored */
};
#ifndef RK_GPU_PROBE
#define RK_GPU_PROBE(c, point) ((void)0)
#endif
/* The same inside the K2K put, which has no context (also the bridge's). */
#ifndef RK_GPU_PROBE_PUT
#define RK_GPU_PROBE_PUT(point) ((void)0)
#endif
/* The same on a lifecycle command's path (no context either). */
#ifndef RK_GPU_PROBE_CMD
#define RK_GPU_PROBE_CMD(point) ((void)0)
#endif

enum rk__gpu_action {
    RK__GPU_ACT_NONE = 0,
    RK__GPU_ACT_STOP = 1,
    RK__GPU_ACT_CMD = 2,
    RK__GPU_ACT_H2K = 3,
    RK__GPU_ACT_K2K = 4,
    RK__GPU_ACT_CK2K = 5, /* a message of the cluster-tier ring (shared memory) */
};

/* What a sender remembers of the K2K ring it claimed in last: the next
 * position and a head it saw there. A sender that goes on sending to the
 * same block claims with one compare-and-swap, no loads first; a stale
 * guess costs one failed CAS, which returns the current tail. Positions of
 * a block's ring only grow while the kernel runs, so an old head is a
 * cautious one: at worst it reads the consumer's head again. */
typedef struct rk__gpu_k2k_hint {
    uint64_t tail;
    uint64_t head;
    uint32_t slot;  /* that ring's block + 1, | RK__GPU_HINT_CLUSTER for a cluster-tier ring; 0: nothing known */
    uint32_t csent; /* messages put into cluster-tier rings (a running count) */
    rk_msg hdr;     /* the header of a cluster-tier put, handed over here (rk__gpu_ck2k_put) */
} rk__gpu_k2k_hint;

#define RK__GPU_HINT_CLUSTER 0x80000000u

/* The handler's context: one per block, in shared memory. Use the rk_d*
 * accessors; the fields are the block's private bookkeeping. */
typedef struct rk_dctx {
    rk__gpu_world world; /* a copy: reads stay in shared memory (acquires empty L1) */
    const rk__gpu_world *w; /* &world */
    rk__gpu_slot *slot;
    uint32_t slot_index;
    uint32_t action;
    /* the bound actor */
    uint32_t bound;
    uint32_t state;
    rk_actor_id self;
    uint32_t generation;
    uint32_t tenant;
    uint32_t type;
    void *astate;
    const void *init;
    uint32_t state_size;
    uint32_t keep_state; /* this bind keeps the state and skips init (RK__GPU_INIT_KEEP) */
    int32_t fail;   /* first error a thread returned from the current call */
    rk_control *ctl;
    rk_ring inbox;
    rk_ring k2k;
    /* the cluster-tier ring in this block's shared memory (capacity 0: none) */
    rk_ring ck2k;
    uint64_t ck2k_head;
    uint64_t ck2k_published;
    uint64_t ck2k_after;    /* taken from only once k2k_head reached this (a hold moved its messages there) */
    uint64_t ck2k_sent;     /* mirror of slot->ck2k_sent */
    uint64_t ck2k_acct;     /* mirror of slot->ck2k_acct */
    uint64_t cl_in, cl_out; /* the actor's k2k_cluster_in / _out (rk_control) */
    uint32_t ck2k_turn;     /* both K2K rings ready: 1 takes the cluster tier's first */
    uint32_t ck2k_alone;    /* the last full round found the global K2K ring empty */
    uint64_t full_round_ns; /* busy with the cluster tier alone: the next full round, at the latest */
    uint64_t h2k_head;      /* inbox: next position to handle */
    uint64_t h2k_published; /* inbox: last head stored to its consumer line */
    uint64_t h2k_final;     /* terminate: handle up to here */
    uint64_t k2k_head;
    uint64_t k2k_published; /* K2K: last head stored to its consumer line */
    uint32_t known_ready;   /* inbox slots from h2k_head known to be published */
    uint32_t k2k_owed;      /* a host batch was taken last: a ready K2K message goes first */
    uint32_t nmsg;          /* inbox slots in the buffer this round */
    uint32_t draining;      /* the runtime is draining: publish heads at once */
    uint32_t terminating;
    uint64_t term_ticket;
    /* the message being handled */
    const rk_msg *msg;
    uint64_t hlc;
    int32_t bcast;
    uint32_t skip;
    /* the host queue's producer words, read ahead while a batch is copied
     * in (a claim then needs only its compare-and-swap) */
    uint64_t tail_hint, head_hint;
    uint32_t hint_valid;
    rk__gpu_k2k_hint k2k_hint; /* the K2K ring this actor sent to last */
    /* a slot of the host queue claimed while a batch is copied in, for the
     * batch's first send to the host (an RK_MSG_TYPE_NOP if none comes) */
    uint32_t reserved;      /* reserved_pos holds a claimed slot */
    uint32_t reserve;       /* the last batch sent to the host: reserve for the next */
    uint32_t sent_host;     /* this batch sent to the host */
    uint64_t reserved_pos;
    /* sends to the host claimed and written, published together */
    uint32_t npub;
    uint32_t dirty; /* counters changed since the last flush */
    uint64_t pub[RK__GPU_PUB_MAX];
    /* A send to an LL host queue that warp 0 writes once thread 0 has
     * claimed its slot (rk__gpu_ll_warp): ll_defer while a handler's
     * collective send runs; ll_units 16-byte units of ll_item (the message
     * from byte 8 on) to write at ll_pos. */
    uint32_t ll_defer;
    uint32_t ll_units;
    uint64_t ll_pos;
    uint64_t ll_item[RK__GPU_LL_ITEM / 8u];
    /* counters, flushed to the control block */
    uint64_t msgs_in, msgs_out, errors, dead_letters, busy_ns;
    uint64_t started, handled; /* mirrors of slot->started, slot->handled */
    /* idling and polling */
    uint64_t now;           /* %globaltimer at the start of this round */
    uint64_t busy_since;    /* start of the current message action, 0 if none */
    int64_t clock_offset;   /* copy of w->dev->clock_offset_ns */
    uint64_t active_ns;     /* last message or command */
    uint64_t heartbeat_ns;
    uint64_t last_k2k_ns;
    uint64_t h2k_next_ns;   /* poll the host's inbox from then on */
    uint32_t h2k_gap;       /* ns between polls of the host's inbox (0: every round) */
    uint32_t restart_due;   /* its restart record allowed a restart: the block restarts it next */
    uint32_t held;          /* a checkpoint holds it (RK__GPU_OP_HOLD): no message is taken */
    uint32_t retired;       /* a migration moved it away: it never restarts, it is terminated next */
    uint32_t rate;          /* its tenant's allowance + 1 (rk__gpu_rate), 0: sends not limited */
    uint64_t rate_granted;  /* that allowance's grant as last read (pinned memory: read when used up) */
    uint64_t mbox_taken;
    rk__gpu_cmd cmd;
} rk_dctx;

typedef struct rk_ldctx rk_ldctx; /* a light handler's context (below) */

/* ---- device primitives ------------------------------------------------------ */

static __device__ __forceinline__ uint64_t rk__gpu_clock(void)
{
    uint64_t t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    return t;
}

static __device__ __forceinline__ uint32_t rk__gpu_ld32(const uint32_t *p)
{
    uint32_t v;
    asm volatile("ld.relaxed.gpu.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
    return v;
}

static __device__ __forceinline__ uint32_t rk__gpu_ld32_acquire(const uint32_t *p)
{
    uint32_t v;
    asm volatile("ld.acquire.gpu.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
    return v;
}

static __device__ __forceinline__ void rk__gpu_st32(uint32_t *p, uint32_t v)
{
    asm volatile("st.relaxed.gpu.global.u32 [%0], %1;" ::"l"(p), "r"(v) : "memory");
}

static __device__ __forceinline__ void rk__gpu_st32_sys(uint32_t *p, uint32_t v)
{
    asm volatile("st.relaxed.sys.global.u32 [%0], %1;" ::"l"(p), "r"(v) : "memory");
}

static __device__ __forceinline__ uint32_t rk__gpu_ld32_sys(const uint32_t *p)
{
    uint32_t v;
    asm volatile("ld.relaxed.sys.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
    return v;
}

/* Door arithmetic at GPU scope (the doors of K2K senders are device memory). */
static __device__ __forceinline__ uint64_t rk__gpu_door_enter(uint64_t *p)
{
    uint64_t old;
    asm volatile("atom.acquire.gpu.global.add.u64 %0, [%1], 1;" : "=l"(old) : "l"(p) : "memory");
    return old;
}

static __device__ __forceinline__ void rk__gpu_door_leave(uint64_t *p)
{
    asm volatile("red.release.gpu.global.add.u64 [%0], %1;" ::"l"(p), "l"(~0ull) : "memory");
}

static __device__ __forceinline__ void rk__gpu_door_and(uint64_t *p, uint64_t v)
{
    /* Release: a sender that finds the door closed then reads the entry's
     * `forward` as it was when the door closed. */
    asm volatile("red.release.gpu.global.and.b64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
}

static __device__ __forceinline__ uint64_t rk__gpu_ld64_acquire(const uint64_t *p)
{
    uint64_t v;
    asm volatile("ld.acquire.gpu.global.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
    return v;
}

/* A relaxed compare-and-swap at GPU scope: returns the value found. */
static __device__ __forceinline__ uint64_t rk__gpu_cas64(uint64_t *p, uint64_t want, uint64_t to)
{
    uint64_t got;
    asm volatile("atom.relaxed.gpu.global.cas.b64 %0, [%1], %2, %3;" : "=l"(got) : "l"(p), "l"(want), "l"(to) : "memory");
    return got;
}

/* The cluster tier (sm_90): ring words in shared memory, reached by
 * generic addresses - a block's own, or a cluster peer's through mapa - at
 * cluster scope, which covers every block that may touch them. Compiled
 * out below sm_90: the host turns the tier on only for a kernel whose
 * binary is sm_90 or later (CU_FUNC_ATTRIBUTE_BINARY_VERSION). */
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#define RK__GPU_CLUSTER_TIER 1
static __device__ __forceinline__ uint64_t rk__ck_ld_relaxed(const uint64_t *p)
{
    uint64_t v;
    asm volatile("ld.relaxed.cluster.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
    return v;
}

static __device__ __forceinline__ uint64_t rk__ck_ld_acquire(const uint64_t *p)
{
    uint64_t v;
    asm volatile("ld.acquire.cluster.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
    return v;
}

static __device__ __forceinline__ void rk__ck_st_relaxed(uint64_t *p, uint64_t v)
{
    asm volatile("st.relaxed.cluster.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
}

static __device__ __forceinline__ void rk__ck_st_release(uint64_t *p, uint64_t v)
{
    asm volatile("st.release.cluster.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
}

static __device__ __forceinline__ uint64_t rk__ck_cas(uint64_t *p, uint64_t want, uint64_t to)
{
    uint64_t got;
    asm volatile("atom.relaxed.cluster.cas.b64 %0, [%1], %2, %3;" : "=l"(got) : "l"(p), "l"(want), "l"(to) : "memory");
    return got;
}

/* This block's address `p` of shared memory as block `rank` of the
 * cluster has it. */
static __device__ __forceinline__ void *rk__ck_map(const void *p, uint32_t rank)
{
    uint64_t d;
    asm volatile("mapa.u64 %0, %1, %2;" : "=l"(d) : "l"((uint64_t)(uintptr_t)p), "r"(rank));
    return (void *)(uintptr_t)d;
}
#else
#define RK__GPU_CLUSTER_TIER 0
#endif

/* Release fence before publishing to the host. fence.acq_rel is all a
 * release pattern needs (PTX memory model); fence.sc is what ring.h's
 * __threadfence_system() emits, kept selectable to measure the difference. */
static __device__ __forceinline__ void rk__gpu_fence_sys(const rk__gpu_world *w)
{
    if (w->flags & RK__GPU_F_FENCE_SC)
        asm volatile("fence.sc.sys;" ::: "memory");
    else
        asm volatile("fence.acq_rel.sys;" ::: "memory");
}

/* 16-byte load that bypasses L1 (a strong load), for slots in host memory. */
static __device__ __forceinline__ uint4 rk__gpu_ld128_sys(const uint4 *p)
{
    uint4 v;
    asm volatile("ld.relaxed.sys.global.v4.u32 {%0, %1, %2, %3}, [%4];"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
                 : "l"(p)
                 : "memory");
    return v;
}

/* The HLC's physical clock: this round's %globaltimer reading, moved to
 * the host's epoch (one timer read per round; HLC needs milliseconds). */
static __device__ __forceinline__ uint64_t rk__gpu_phys_ms(const rk_dctx *c)
{
    return (uint64_t)((int64_t)c->now + c->clock_offset) / 1000000u;
}

/* Copies n 16-byte words, up to 4 loads in flight before their stores: as
 * far as the compiler knows a store may alias the next load, so a plain
 * loop waits one load latency per 16 bytes - an L2 round trip (~0.25 us)
 * each when the source is in global memory, as a K2K slot or a state is. */
static __device__ __forceinline__ void rk__gpu_copy16(uint4 *d, const uint4 *s, uint32_t n)
{
    uint32_t i = 0, k;
    for (; i + 4u <= n; i += 4u) {
        uint4 t[4];
#pragma unroll
        for (k = 0; k < 4u; k++)
            t[k] = s[i + k];
#pragma unroll
        for (k = 0; k < 4u; k++)
            d[i + k] = t[k];
    }
    for (; i < n; i++)
        d[i] = s[i];
}

/* Copies `len` bytes to a 16-byte aligned slot payload in 16-byte stores
 * (the slot has room up to the next multiple of 16). */
static __device__ __forceinline__ void rk__gpu_copy_payload(unsigned char *dst, const void *src, uint32_t len)
{
    const unsigned char *s = (const unsigned char *)src;
    uint4 *d = (uint4 *)dst;
    uint32_t i, full = len / 16u;
    if (((uintptr_t)s & 15u) == 0) {
        rk__gpu_copy16(d, (const uint4 *)s, full);
    } else {
        for (i = 0; i < full; i++) {
            uint32_t wds[4], k;
            for (k = 0; k < 16; k++)
                ((unsigned char *)wds)[k] = s[16 * i + k];
            d[i] = make_uint4(wds[0], wds[1], wds[2], wds[3]);
        }
    }
    if (len % 16u) {
        uint32_t wds[4] = {0, 0, 0, 0}, k;
        for (k = 0; k < len % 16u; k++)
            ((unsigned char *)wds)[k] = s[16 * full + k];
        d[full] = make_uint4(wds[0], wds[1], wds[2], wds[3]);
    }
}

/* Writes a message into a claimed slot: header with sequence word `seqw`,
 * never "ready" (ready means seq == pos + 1 >= 1): 0, or in the host queue
 * the sender's owner mark (ring.h), so that the host takes other blocks'
 * messages past this slot until it is published. Then the payload, unless
 * `payload` is NULL (no payload, or the bridge's warp copies it). The
 * caller publishes the sequence word afterwards. */
static __device__ __forceinline__ void rk__gpu_write_msg(void *slot, const rk_msg *h, const void *payload,
                                                     uint64_t seqw)
{
    const uint64_t *hw = (const uint64_t *)h;
    uint4 *d = (uint4 *)slot;
    d[0] = make_uint4((uint32_t)seqw, (uint32_t)(seqw >> 32), (uint32_t)hw[1], (uint32_t)(hw[1] >> 32));
    d[1] = make_uint4((uint32_t)hw[2], (uint32_t)(hw[2] >> 32), (uint32_t)hw[3], (uint32_t)(hw[3] >> 32));
    d[2] = make_uint4((uint32_t)hw[4], (uint32_t)(hw[4] >> 32), (uint32_t)hw[5], (uint32_t)(hw[5] >> 32));
    d[3] = make_uint4((uint32_t)hw[6], (uint32_t)(hw[6] >> 32), (uint32_t)hw[7], (uint32_t)(hw[7] >> 32));
    if (h->len && payload)
        rk__gpu_copy_payload((unsigned char *)slot + RK_MSG_HEADER_SIZE, payload, h->len);
}

/* Item bytes [8 + 8u, 16 + 8u) of an LL slot (ring.h): two words, each 4
 * bytes of data and the position's flag, in one 16-byte store (relaxed,
 * system scope): the host reads each 8-byte word as it lands. */
static __device__ __forceinline__ void rk__gpu_st_ll(unsigned char *slot, uint32_t u, uint64_t data, uint32_t flag)
{
    asm volatile("st.relaxed.sys.global.v4.u32 [%0], {%1, %2, %3, %4};" ::"l"(slot + 16u + 16u * u),
                 "r"((uint32_t)data), "r"(flag), "r"((uint32_t)(data >> 32)), "r"(flag)
                 : "memory");
}

/* Writes a message into the claimed LL slot at pos of the host queue and
 * publishes it: the header after its sequence word, the payload (unless
 * NULL), then the sequence word. No fence: the host takes the slot only
 * once every word it needs carries pos's flag, in whatever order they
 * land (ring.h). */
static __device__ __forceinline__ void rk__gpu_write_ll(const rk_ring *r, uint64_t pos, const rk_msg *h,
                                                    const void *payload)
{
    unsigned char *slot = (unsigned char *)rk_ring_slot(r, pos);
    const uint64_t *hw = (const uint64_t *)h;
    const unsigned char *s = (const unsigned char *)payload;
    const uint32_t flag = rk_ring_ll_flag(pos), len = payload ? h->len : 0u;
    const int aligned = ((uintptr_t)s & 7u) == 0;
    uint32_t u, k;
    for (u = 0; u < (RK_MSG_HEADER_SIZE - 8u) / 8u; u++)
        rk__gpu_st_ll(slot, u, hw[u + 1], flag);
    for (u = 0; 8u * u < len; u++) {
        const uint32_t n = len - 8u * u < 8u ? len - 8u * u : 8u;
        uint64_t d = 0;
        if (n == 8u && aligned)
            d = ((const uint64_t *)s)[u];
        else
            for (k = 0; k < n; k++)
                d |= (uint64_t)s[8u * u + k] << (8u * k);
        rk__gpu_st_ll(slot, (RK_MSG_HEADER_SIZE - 8u) / 8u + u, d, flag);
    }
    rk__st_relaxed((uint64_t *)slot, rk_ring_ll_word(pos), RK_RING_SCOPE_SYSTEM);
}

/* Thread 0: keeps a message for warp 0 to write into the claimed LL slot
 * at pos (rk__gpu_ll_warp), the payload copied now (it may be in thread
 * 0's own memory). Fits RK__GPU_LL_ITEM. */
static __device__ __forceinline__ void rk__gpu_ll_stage(rk_dctx *c, uint64_t pos, const rk_msg *h,
                                                    const void *payload)
{
    const uint64_t *hw = (const uint64_t *)h;
    const unsigned char *s = (const unsigned char *)payload;
    const uint32_t len = payload ? h->len : 0u, words = (len + 7u) / 8u;
    uint32_t u;
    for (u = 0; u < (RK_MSG_HEADER_SIZE - 8u) / 8u; u++)
        c->ll_item[u] = hw[u + 1];
    if (len) {
        uint64_t *d = &c->ll_item[(RK_MSG_HEADER_SIZE - 8u) / 8u];
        d[words - 1u] = 0; /* the last word's padding */
        u = 0;
        if (((uintptr_t)s & 7u) == 0)
            for (; u < len / 8u; u++)
                d[u] = ((const uint64_t *)s)[u];
        memcpy((unsigned char *)d + 8u * u, s + 8u * u, len - 8u * u);
    }
    c->ll_pos = pos;
    c->ll_units = (RK_MSG_HEADER_SIZE - 8u) / 8u + words;
}

/* Warp 0 (its lanes that exist): writes the message thread 0 staged into
 * its LL slot, one 16-byte unit per lane, then lane 0 its sequence word -
 * one store each instead of thread 0's ~15 in a row. ll_units stays as it
 * is: thread 0 clears it before the next send, after the block's barrier
 * (cleared here, it would race with the other warps' look at it). */
static __device__ __forceinline__ void rk__gpu_ll_warp(rk_dctx *c)
{
    const uint32_t lane = threadIdx.x, n = c->ll_units;
    const unsigned mask = blockDim.x >= 32u ? 0xffffffffu : (1u << blockDim.x) - 1u;
    unsigned char *slot = (unsigned char *)rk_ring_slot(&c->w->host_ring, c->ll_pos);
    const uint32_t flag = rk_ring_ll_flag(c->ll_pos);
    uint32_t u;
    for (u = lane; u < n; u += 32u)
        rk__gpu_st_ll(slot, u, c->ll_item[u], flag);
    __syncwarp(mask);
    if (lane == 0)
        rk__st_relaxed((uint64_t *)slot, rk_ring_ll_word(c->ll_pos), RK_RING_SCOPE_SYSTEM);
}

/* ---- block bookkeeping (thread 0) -------------------------------------------- */

static __device__ __noinline__ void rk__gpu_flush_pub_now(rk_dctx *c)
{
    uint32_t i;
    /* Orders every slot write of the pending sends to the host before the
     * sequence stores below, which the host's acquire loads observe. */
    rk__gpu_fence_sys(c->w);
    RK_GPU_PROBE(c, RK__PROBE_FENCED);
    for (i = 0; i < c->npub; i++)
        rk__st_relaxed((uint64_t *)rk_ring_slot(&c->w->host_ring, c->pub[i]), c->pub[i] + 1, RK_RING_SCOPE_SYSTEM);
    c->npub = 0;
}

/* Publishes the sends to the host awaiting it, if any: the check inline, so
 * that a K2K message costs no call here (a call costs ~0.1-0.3 us: the
 * registers it saves go to local memory). */
static __device__ __forceinline__ void rk__gpu_flush_pub(rk_dctx *c)
{
    if (c->npub)
        rk__gpu_flush_pub_now(c);
}

static __device__ __noinline__ void rk__gpu_flush_counters(rk_dctx *c, uint64_t now)
{
    rk_control *k = c->ctl;
    if (!c->bound)
        return;
    rk__st_relaxed(&k->msgs_in, c->msgs_in, RK_RING_SCOPE_SYSTEM);
    rk__st_relaxed(&k->msgs_out, c->msgs_out, RK_RING_SCOPE_SYSTEM);
    rk__st_relaxed(&k->errors, c->errors, RK_RING_SCOPE_SYSTEM);
    rk__st_relaxed(&k->dead_letters, c->dead_letters, RK_RING_SCOPE_SYSTEM);
    rk__st_relaxed(&k->heartbeat, now, RK_RING_SCOPE_SYSTEM);
    rk__st_relaxed(&k->inbox_head, c->h2k_head, RK_RING_SCOPE_SYSTEM);
    rk__st_relaxed(&k->busy_ns, c->busy_ns, RK_RING_SCOPE_SYSTEM);
    rk__st_relaxed(&k->k2k_cluster_in, c->cl_in, RK_RING_SCOPE_SYSTEM);
    rk__st_relaxed(&k->k2k_cluster_out, c->cl_out, RK_RING_SCOPE_SYSTEM);
    c->heartbeat_ns = now;
    c->dirty = 0;
}

/* Acknowledges command `ticket` to the host; value2 only HOLD_ON's. */
static __device__ __noinline__ void rk__gpu_send_ack2(const rk__gpu_world *w, uint64_t ticket, rk_status st,
                                                  uint64_t value, uint64_t value2)
{
    rk__gpu_ack *a = &w->acks[ticket % RK__GPU_ACKS];
    if (ticket == 0)
        return; /* a command of the block's own (a restart its record allowed) */
    RK_GPU_PROBE_CMD(RK__PROBE_ACK);
    rk__gpu_st32_sys((uint32_t *)&a->status, (uint32_t)st);
    rk__st_relaxed(&a->value, value, RK_RING_SCOPE_SYSTEM);
    rk__st_relaxed(&a->value2, value2, RK_RING_SCOPE_SYSTEM);
    /* Release: the control block and the status/value stores above are
     * visible to the host before it sees the ticket (its acquire load). */
    rk__st_release(&a->ticket, ticket, RK_RING_SCOPE_SYSTEM);
    RK_GPU_PROBE_CMD(RK__PROBE_ACKED);
}

static __device__ __forceinline__ void rk__gpu_send_ack(const rk__gpu_world *w, uint64_t ticket, rk_status st,
                                                    uint64_t value)
{
    rk__gpu_send_ack2(w, ticket, st, value, 0);
}

static __device__ __noinline__ void rk__gpu_post_event(const rk__gpu_world *w, uint32_t kind, rk_actor_id actor,
                                                  uint32_t gen, rk_status st, uint64_t hlc, const rk_msg *m)
{
    rk_ring r = w->event_ring;
    uint64_t pos;
    rk__gpu_event *e;
    if (rk_ring_claim(&r, 1, &pos) != RK_OK) {
        atomicAdd((unsigned long long *)&w->dev->events_dropped, 1ull);
        if (kind >= 1 && kind <= RK__GPU_EV_KINDS)
            atomicAdd((unsigned long long *)&w->dev->dropped[kind - 1], 1ull);
        return;
    }
    e = (rk__gpu_event *)rk_ring_slot(&r, pos);
    e->kind = kind;
    e->actor = actor;
    e->generation = gen;
    e->status = (int32_t)st;
    e->hlc = hlc;
    if (m)
        e->msg = *m;
    else
        memset(&e->msg, 0, sizeof e->msg);
    /* ring.h: one system fence orders the event's bytes before its sequence
     * word, which the host's acquire load observes. */
    rk_ring_publish(&r, pos, 1);
}

static __device__ __noinline__ void rk__gpu_dead_letter(rk_dctx *c, const rk_msg *m, rk_status why)
{
    c->dead_letters++;
    c->dirty = 1;
    rk__gpu_post_event(c->w, RK__GPU_EV_DEAD_LETTER, c->self, c->generation, why, c->hlc, m);
}

static __device__ __forceinline__ void rk__gpu_ck2k_account(rk_dctx *c);

static __device__ __noinline__ void rk__gpu_set_state(rk_dctx *c, rk_lifecycle_state s, uint64_t ticket)
{
    rk__gpu_dir *d = &c->w->dir[c->self];
    rk_control *k = c->ctl;
    c->state = (uint32_t)s;
    rk__gpu_st32(&d->state, (uint32_t)s);
    rk__gpu_st32(&c->slot->runs, (uint32_t)rk_lifecycle_runs(s));
    rk__gpu_st32_sys(&k->id, c->self);
    rk__gpu_st32_sys(&k->tenant, c->tenant);
    rk__gpu_st32_sys(&k->type, c->type);
    rk__st_relaxed(&k->restarts, (uint64_t)(c->generation - 1u), RK_RING_SCOPE_SYSTEM);
    if (ticket)
        rk__st_relaxed(&k->command_seq, ticket, RK_RING_SCOPE_SYSTEM);
    /* State and generation in one store (offsets 0 and 4, little-endian):
     * a host reading that word never pairs a state with another
     * generation's - it would take a Failed of the last generation for one
     * of the next (spec/findings/restart-torn-control-word.md). */
    rk__st_relaxed((uint64_t *)&k->state, (uint64_t)c->generation << 32 | (uint32_t)s, RK_RING_SCOPE_SYSTEM);
    rk__gpu_ck2k_account(c); /* whether its ring's messages count as settled changes with the state */
}

/* Stops K2K senders; with `wait`, also waits for those already inside and
 * returns the door as last read (0 without `wait`). */
static __device__ __noinline__ uint64_t rk__gpu_gate_close(rk_dctx *c, int wait)
{
    uint64_t *g = &c->w->dir[c->self].door, v = 0;
    rk__gpu_door_and(g, ~RK__GPU_DOOR_OPEN);
    /* Acquire: pairs with each sender's leaving, so its claim and the
     * message's bytes are visible once the count reads zero; its sequence
     * word is stored after the same fence as the leaving, unordered with
     * it, and may come later (rk__gpu_reset_cmd waits for it). */
    while (wait && ((v = rk__gpu_ld64_acquire(g)) & RK__GPU_DOOR_SENDERS) != 0)
        __nanosleep(64);
    return v;
}

/* Opens the door with the binding in it: this block, this tenant. `cur`
 * is the door as last seen: a stale guess costs one failed compare-and-swap,
 * which returns the current value, as a load first would. */
static __device__ __noinline__ void rk__gpu_gate_open_at(rk_dctx *c, uint64_t cur)
{
    uint64_t *g = &c->w->dir[c->self].door;
    const uint64_t bind = (uint64_t)c->tenant << 32 | RK__GPU_DOOR_OPEN |
                          (uint64_t)(c->slot_index + 1u) << RK__GPU_DOOR_SLOT_SHIFT;
    uint64_t got;
    /* Release: the directory fields written before (generation, state) are
     * visible to a sender whose acquire increment sees the door open. The
     * count may move under us (senders turned away at the closed door). */
    asm volatile("fence.acq_rel.gpu;" ::: "memory");
    while ((got = rk__gpu_cas64(g, cur, (cur & RK__GPU_DOOR_SENDERS) | bind)) != cur)
        cur = got;
}

static __device__ __forceinline__ void rk__gpu_gate_open(rk_dctx *c)
{
    rk__gpu_gate_open_at(c, rk__ld_relaxed(&c->w->dir[c->self].door, RK_RING_SCOPE_DEVICE));
}

/* The actor leaves the block (its door is closed): senders that find the
 * door closed see no binding either. */
static __device__ __forceinline__ void rk__gpu_door_unbind(rk_dctx *c)
{
    rk__gpu_door_and(&c->w->dir[c->self].door, ~RK__GPU_DOOR_SLOT);
}

static __device__ __noinline__ void rk__gpu_fail(rk_dctx *c, rk_status st)
{
    rk_control *k = c->ctl;
    rk__gpu_post_event(c->w, RK__GPU_EV_ERROR, c->self, c->generation, st, c->hlc, c->msg);
    /* Orders the event's publication before the Failed state below: a host
     * that sees Failed finds the error too. */
    asm volatile("fence.acq_rel.sys;" ::: "memory");
    rk__gpu_gate_close(c, 0);
    rk__gpu_set_state(c, RK_FAILED, 0);
    rk__gpu_st32_sys((uint32_t *)&k->last_error, (uint32_t)st);
    rk__st_relaxed(&k->last_error_hlc, c->hlc, RK_RING_SCOPE_SYSTEM);
    c->errors++;
    c->known_ready = 0;
    rk__gpu_flush_counters(c, rk__gpu_clock());
}

/* ---- restart records (rk__gpu_sup) ------------------------------------------------- */

static __device__ __noinline__ void rk__gpu_sup_lock(rk__gpu_sup *r)
{
    uint32_t got;
    for (;;) {
        /* Acquire: what the last holder wrote before its release is seen. */
        asm volatile("atom.acquire.gpu.global.cas.b32 %0, [%1], 0, 1;" : "=r"(got) : "l"(&r->lock) : "memory");
        if (got == 0)
            return;
        __nanosleep(64);
    }
}

/* Copies record i into its mirror for the host, then unlocks it. */
static __device__ __noinline__ void rk__gpu_sup_unlock(const rk__gpu_world *w, uint32_t i)
{
    rk__gpu_sup *r = &w->sups[i], *m = &w->sup_mirror[i];
    const int64_t off = (int64_t)rk__ld_relaxed((const uint64_t *)&w->dev->clock_offset_ns, RK_RING_SCOPE_DEVICE);
    uint32_t k;
    for (k = 0; k < r->hist_n; k++) {
        const uint32_t at = (r->hist_head + k) % RK__GPU_SUP_HIST;
        rk__st_relaxed(&m->hist[at], (uint64_t)((int64_t)r->hist[at] + off), RK_RING_SCOPE_SYSTEM);
    }
    rk__st_relaxed(&m->window_ns, r->window_ns, RK_RING_SCOPE_SYSTEM);
    rk__st_relaxed(&m->restarts, r->restarts, RK_RING_SCOPE_SYSTEM);
    rk__st_relaxed(&m->epoch, r->epoch, RK_RING_SCOPE_SYSTEM);
    rk__gpu_st32_sys(&m->max_restarts, r->max_restarts);
    rk__gpu_st32_sys(&m->hist_head, r->hist_head);
    rk__gpu_st32_sys(&m->hist_n, r->hist_n);
    rk__gpu_st32_sys(&m->culprit, r->culprit);
    /* The state last, after the rest (a host that sees GAVE_UP finds the
     * culprit); release for the next holder of the lock too. */
    asm volatile("fence.acq_rel.sys;" ::: "memory");
    rk__gpu_st32_sys(&m->state, r->state);
    asm volatile("st.release.gpu.global.u32 [%0], 0;" ::"l"(&r->lock) : "memory");
}

/* A restart decision for record i (locked) on `who`'s account: 1 and
 * recorded if the intensity allows it, else 0 - and the record gives up,
 * if it was on. */
static __device__ __noinline__ int rk__gpu_sup_charge(rk__gpu_sup *r, rk_actor_id who)
{
    const uint64_t now = rk__gpu_clock();
    if (r->state != RK__GPU_SUP_STATE_ON)
        return 0;
    if (rk__restarts_within(r->hist, RK__GPU_SUP_HIST, r->hist_head, r->hist_n, r->window_ns, now) >= r->max_restarts) {
        r->culprit = who;
        r->state = RK__GPU_SUP_STATE_GAVE_UP;
        return 0;
    }
    rk__restart_note(r->hist, RK__GPU_SUP_HIST, r->max_restarts, &r->hist_head, &r->hist_n, now);
    r->restarts++;
    return 1;
}

/* A failure the actor's supervisor may answer here: if the actor has a
 * restart record that allows one more restart, the block restarts it
 * before anything else (rk__gpu_decide), and its control block says so
 * (RK_CONTROL_F_RESTARTING) for as long, so that the host's supervisor
 * leaves it alone. Not while it terminates: the host wanted it stopped. */
static __device__ __noinline__ void rk__gpu_failed(rk_dctx *c, rk_status st)
{
    const rk__gpu_world *w = c->w;
    const uint32_t sup = c->terminating ? 0 : rk__gpu_ld32(&w->dir[c->self].sup);
    int again = 0, group = 0;
    if (sup != 0 && sup <= w->n_sups) {
        rk__gpu_sup *r = &w->sups[sup - 1];
        rk__gpu_sup_lock(r);
        again = rk__gpu_sup_charge(r, c->self);
        if (again && r->strategy != RK__GPU_STRATEGY_ONE_FOR_ONE) {
            /* Its turn comes in the round, with its siblings': from its
             * place in the record's list (looked up here, under the lock:
             * a re-attach may be moving the others), or from the first for
             * one-for-all. Not in the list (a re-attach half done): it
             * restarts alone, as a one-for-one child would. */
            uint32_t pos = RK__GPU_SUP_KIDS, k;
            for (k = 0; k < r->n_kids && k < RK__GPU_SUP_KIDS; k++)
                if (r->kids[k] == c->self) {
                    pos = k;
                    break;
                }
            if (pos < RK__GPU_SUP_KIDS) {
                const uint32_t from = r->strategy == RK__GPU_STRATEGY_ONE_FOR_ALL ? 0u : pos;
                r->from = r->round && r->from < from ? r->from : from;
                r->round = 1;
                group = 1;
            }
        }
        /* The flag before the unlock (which fences .sys, then releases): a
         * supervisor block that takes the round, or passes this actor's
         * turn, sees it and can clear it; stored after, it could stay set
         * with nobody left to restart the actor
         * (spec/findings/round-detach-stuck-flag.md). */
        rk__gpu_st32_sys(&c->ctl->flags, again ? RK_CONTROL_F_RESTARTING : 0u);
        rk__gpu_sup_unlock(w, sup - 1);
        /* After the unlock (a release): the supervisor block that sees the
         * bit and takes the lock finds the round. */
        if (group)
            atomicOr((unsigned long long *)&w->dev->sup_rounds, 1ull << (sup - 1));
    } else {
        rk__gpu_st32_sys(&c->ctl->flags, 0u);
    }
    /* The flag before the Failed state (rk__gpu_fail fences before it): a
     * host that sees Failed sees whether a restart follows. */
    rk__gpu_fail(c, st);
    c->restart_due = (uint32_t)(again && !group);
}

/* The block's own restart of its actor, as the host's would be: next
 * generation, state reset, init; ticket 0, so no acknowledgement. */
static __device__ __noinline__ void rk__gpu_restart_cmd(rk_dctx *c)
{
    rk__gpu_cmd *cmd = &c->cmd;
    memset(cmd, 0, sizeof *cmd);
    cmd->op = RK__GPU_OP_BIND;
    cmd->event = RK_EV_RESTART;
    cmd->actor = c->self;
    cmd->slot = c->slot_index;
    cmd->generation = c->generation + 1u;
    cmd->tenant = c->tenant;
    cmd->type = c->type;
    cmd->state_size = c->state_size;
    cmd->state = (uint64_t)(uintptr_t)c->astate;
    cmd->init = (uint64_t)(uintptr_t)c->init;
    cmd->inbox = c->inbox;
    c->restart_due = 0;
}

/* RK__GPU_OP_SUP (the supervisor block). */
static __device__ __noinline__ void rk__gpu_sup_cmd(const rk__gpu_world *w, const rk__gpu_cmd *cmd)
{
    const uint32_t i = cmd->type;
    rk__gpu_sup *r;
    rk_status st = RK_OK;
    if (cmd->event == RK__GPU_SUP_ATTACH) {
        if (cmd->actor >= w->max_actors || cmd->state > w->n_sups) {
            rk__gpu_send_ack(w, cmd->ticket, RK_EINVAL, 0);
            return;
        }
        if (cmd->state != 0 && cmd->type != 0 && cmd->generation < cmd->type && cmd->type <= RK__GPU_SUP_KIDS) {
            r = &w->sups[cmd->state - 1];
            rk__gpu_sup_lock(r);
            r->kids[cmd->generation] = cmd->actor;
            r->n_kids = cmd->type;
            rk__gpu_st32(&w->dir[cmd->actor].sup_pos, cmd->generation);
            rk__gpu_sup_unlock(w, (uint32_t)cmd->state - 1);
        }
        rk__gpu_st32(&w->dir[cmd->actor].sup, (uint32_t)cmd->state);
        rk__gpu_send_ack(w, cmd->ticket, RK_OK, 0);
        return;
    }
    if (i >= w->n_sups || (cmd->event == RK__GPU_SUP_SET && cmd->generation > RK__GPU_SUP_HIST)) {
        rk__gpu_send_ack(w, cmd->ticket, RK_EINVAL, 0);
        return;
    }
    r = &w->sups[i];
    rk__gpu_sup_lock(r);
    switch (cmd->event) {
    case RK__GPU_SUP_SET:
        r->max_restarts = cmd->generation;
        r->window_ns = cmd->h2k_final;
        r->strategy = cmd->tenant;
        r->hist_head = r->hist_n = 0;
        r->culprit = RK_ACTOR_NONE;
        r->epoch++;
        r->state = RK__GPU_SUP_STATE_ON;
        break;
    case RK__GPU_SUP_OFF:
        r->state = RK__GPU_SUP_STATE_OFF;
        break;
    case RK__GPU_SUP_CHARGE:
        st = rk__gpu_sup_charge(r, cmd->actor) ? RK_OK : RK_EFAILED;
        break;
    default:
        st = RK_EINVAL;
        break;
    }
    rk__gpu_sup_unlock(w, i);
    rk__gpu_send_ack(w, cmd->ticket, st, r->restarts);
}

/* Stores the inbox head to its consumer line (pinned host memory): the
 * host's producers see the slots as free from then on. */
static __device__ __forceinline__ void rk__gpu_publish_head(rk_dctx *c)
{
    if (c->h2k_published == c->h2k_head)
        return;
    /* rk_ring_consume stores with release (.sys): our reads of the slots
     * below the head are done before the host may overwrite them. */
    rk_ring_consume(&c->inbox, c->h2k_head);
    c->h2k_published = c->h2k_head;
}

/* The same for the K2K inbox (device scope). */
static __device__ __forceinline__ void rk__gpu_publish_k2k(rk_dctx *c)
{
    if (c->k2k_published == c->k2k_head)
        return;
    /* Release (.gpu): our reads of those slots are done before a sender,
     * whose claim reads this head with acquire, overwrites them. */
    rk_ring_consume(&c->k2k, c->k2k_head);
    c->k2k_published = c->k2k_head;
}

#if RK__GPU_CLUSTER_TIER
/* The cluster-tier ring of block `blk`, a block of this one's cluster, as
 * this block reaches it: its own shared memory, or a peer's through DSMEM.
 * Same layout as a global ring (producer line, consumer line, slots). */
static __device__ __forceinline__ void rk__gpu_ck2k_ring(const rk__gpu_world *w, uint32_t blk, rk_ring *r)
{
    extern __shared__ uint4 rk__gpu_buffer[];
    unsigned char *base = (unsigned char *)rk__gpu_buffer + w->ck2k_offset;
    if (blk != blockIdx.x)
        base = (unsigned char *)rk__ck_map(base, blk % w->cluster_size);
    r->prod = (rk_ring_prod *)base;
    r->cons = (rk_ring_cons *)(base + RK_RING_LINE);
    r->slots = base + 2 * RK_RING_LINE;
    r->capacity = w->ck2k_capacity;
    r->slot_size = w->k2k_slot_size;
    r->mode = RK_RING_MPSC;
    r->scope = RK_RING_SCOPE_DEVICE; /* not used: the rk__ck_* accessors give the scope */
}
#endif

/* The same for the cluster-tier ring (cluster scope). */
static __device__ __forceinline__ void rk__gpu_publish_ck2k(rk_dctx *c)
{
#if RK__GPU_CLUSTER_TIER
    if (c->ck2k_published == c->ck2k_head)
        return;
    /* Release (.cluster): our reads of those slots are done before a
     * sender, whose claim reads this head with acquire, overwrites them. */
    rk__ck_st_release(&c->ck2k.cons->head, c->ck2k_head);
    c->ck2k_published = c->ck2k_head;
#else
    (void)c;
#endif
}

/* Publishes how many of the messages this block's cluster-tier ring has
 * had count as settled for the supervisor's quiescence test, which adds
 * these up against what was sent into cluster rings: all it took (its
 * head: handled, moved or dead-lettered), and while its actor does not run
 * (Failed) also what the ring holds now - left out, as such an actor's
 * global ring is. Called at every move of the head, at every state change
 * and when idle; a message that reaches a Failed actor after a look counts
 * as pending until the next. */
static __device__ __forceinline__ void rk__gpu_ck2k_account(rk_dctx *c)
{
#if RK__GPU_CLUSTER_TIER
    uint64_t n;
    if (!c->ck2k.capacity)
        return;
    n = c->bound && !rk_lifecycle_runs((rk_lifecycle_state)c->state) ? rk__ck_ld_acquire(&c->ck2k.prod->tail)
                                                                     : c->ck2k_head;
    if (n != c->ck2k_acct) {
        c->ck2k_acct = n;
        rk__st_relaxed(&c->slot->ck2k_acct, n, RK_RING_SCOPE_DEVICE);
    }
#else
    (void)c;
#endif
}

/* The message at the cluster-tier ring's head, seen with a relaxed load of
 * its sequence word: an acquire load of that word again pairs with the
 * sender's fence before its sequence store, so the handler reads the whole
 * message. */
static __device__ __forceinline__ void rk__gpu_ck2k_acquire(const rk_dctx *c)
{
#if RK__GPU_CLUSTER_TIER
    (void)rk__ck_ld_acquire((const uint64_t *)rk_ring_slot(&c->ck2k, c->ck2k_head));
#else
    (void)c;
#endif
}

/* 1 when the cluster-tier ring holds nothing past the head (or there is
 * none). With the door closed and empty its tail is final; acquire orders
 * it before the slots read next. */
static __device__ __forceinline__ int rk__gpu_ck2k_empty(rk_dctx *c)
{
#if RK__GPU_CLUSTER_TIER
    return !c->ck2k.capacity || rk__ck_ld_acquire(&c->ck2k.prod->tail) == c->ck2k_head;
#else
    (void)c;
    return 1;
#endif
}

/* ---- sending (thread 0) ----------------------------------------------------------- */

/* Claims one slot of the queue to the host. Its producers are GPU threads
 * only, so the tail needs device-scope atomics, not the system scope that
 * rk_ring_claim would use for this ring; the consumer's head is in host
 * memory and is read only when the cached copy says full. */
/* Claims a slot of a ring whose producers are this GPU's blocks and whose
 * consumer is elsewhere (the host queue, another member's ring), from what
 * the tail and the head were last seen to be; RK_EFULL if the consumer has
 * not freed one. */
static __device__ __forceinline__ rk_status rk__gpu_claim_from(const rk_ring *r, uint64_t tail, uint64_t head,
                                                               uint64_t *pos)
{
    for (;;) {
        /* Signed, as in ring.h: the tail read may be older than a head
         * another block has cached since; then there is room (the CAS
         * fails and reloads the tail), not 2^64 - small slots used. */
        if ((int64_t)(tail + 1 - head) > (int64_t)r->capacity) {
            /* Acquire: pairs with the host's release of its head, stored
             * after it finished reading those slots. */
            head = rk__ld_acquire(&r->cons->head, RK_RING_SCOPE_SYSTEM);
            rk__st_relaxed(&r->prod->head_cache, head, RK_RING_SCOPE_DEVICE);
            if ((int64_t)(tail + 1 - head) > (int64_t)r->capacity)
                return RK_EFULL;
        }
        /* A failed CAS reloads the tail; the slot's publication is separate. */
        if (rk__cas(&r->prod->tail, &tail, tail + 1, RK_RING_SCOPE_DEVICE)) {
            *pos = tail;
            return RK_OK;
        }
    }
}

/* rk__gpu_claim_from, starting from the ring's own tail and cached head. */
static __device__ __forceinline__ rk_status rk__gpu_claim(const rk_ring *r, uint64_t *pos)
{
    return rk__gpu_claim_from(r, rk__ld_relaxed(&r->prod->tail, RK_RING_SCOPE_DEVICE),
                              rk__ld_relaxed(&r->prod->head_cache, RK_RING_SCOPE_DEVICE), pos);
}

static __device__ __forceinline__ rk_status rk__gpu_claim_host(rk_dctx *c, const rk_ring *r, uint64_t *pos)
{
    if (c->hint_valid) {
        /* Possibly stale: a failed CAS in there returns the current tail. */
        c->hint_valid = 0;
        return rk__gpu_claim_from(r, c->tail_hint, c->head_hint, pos);
    }
    return rk__gpu_claim(r, pos);
}

/* Whether `dst` is rk_gid(this member, RK__GID_HOST_LOCAL): the host of
 * this member, as the sender of a host request that moved with its actor
 * to another member names it (group.c) - the answer goes where the
 * request's rk_call waits. */
static __device__ __forceinline__ int rk__gpu_is_our_host(const rk__gpu_world *w, rk_actor_id dst)
{
    return rk_gid_member(dst) >= 0 && rk_gid_local(dst) == RK__GID_HOST_LOCAL &&
           (uint32_t)rk_gid_member(dst) + 1u == rk__gpu_ld32(&w->dev->member);
}

/* Lane 0 of the bridge: a reply from another member to our host (see
 * rk__gpu_is_our_host; in our ring it names RK__GID_HOST_LOCAL, the
 * sender's rk__gpu_route having taken the member off) goes into our host
 * queue, published at once.
 * RK_EFULL while the queue has no room (the bridge keeps it and tries
 * again); anything but a reply is not for a host and RK_ENOACTOR. */
static __device__ __noinline__ rk_status rk__gpu_bridge_host(const rk__gpu_world *w, rk_msg *h, const void *payload)
{
    rk_ring r = w->host_ring;
    const int ll = (w->flags & RK__GPU_F_HOST_LL) != 0;
    const uint32_t cap = rk_msg_inline_capacity(ll ? rk_ring_ll_capacity(r.slot_size) : r.slot_size);
    uint64_t pos;
    rk_status st;
    if (!(h->flags & RK_MSG_F_REPLY))
        return RK_ENOACTOR;
    h->dst = RK_ACTOR_HOST;
    st = rk_msg_validate(h, cap, cap);
    if (st == RK_OK)
        st = rk__gpu_claim(&r, &pos);
    if (st != RK_OK)
        return st;
    if (ll) {
        rk__gpu_write_ll(&r, pos, h, payload);
        return RK_OK;
    }
    rk__gpu_write_msg(rk_ring_slot(&r, pos), h, payload, rk_ring_mark_word(pos, RK_RING_OWNER_MASK));
    /* The slot's bytes before its sequence word, which the host acquires. */
    rk__gpu_fence_sys(w);
    rk__st_relaxed((uint64_t *)rk_ring_slot(&r, pos), pos + 1, RK_RING_SCOPE_SYSTEM);
    return RK_OK;
}

/* Hands back an unused reserved slot of the host queue as an
 * RK_MSG_TYPE_NOP, published with the batch's sends. */
static __device__ __noinline__ void rk__gpu_unreserve(rk_dctx *c)
{
    rk_msg h;
    if (!c->reserved)
        return;
    c->reserved = 0;
    memset(&h, 0, sizeof h);
    h.type = RK_MSG_TYPE_NOP;
    h.src = c->self;
    h.dst = RK_ACTOR_HOST;
    if (c->w->flags & RK__GPU_F_HOST_LL) {
        rk__gpu_write_ll(&c->w->host_ring, c->reserved_pos, &h, NULL);
        return;
    }
    rk__gpu_write_msg(rk_ring_slot(&c->w->host_ring, c->reserved_pos), &h, NULL,
                      rk_ring_mark_word(c->reserved_pos, c->self));
    if (c->npub == RK__GPU_PUB_MAX)
        rk__gpu_flush_pub(c);
    c->pub[c->npub++] = c->reserved_pos;
}

static __device__ __forceinline__ rk_status rk__gpu_send_host(rk_dctx *c, rk_msg *h, const void *payload)
{
    rk_ring r = c->w->host_ring;
    const int ll = (c->w->flags & RK__GPU_F_HOST_LL) != 0;
    uint32_t cap = rk_msg_inline_capacity(ll ? rk_ring_ll_capacity(r.slot_size) : r.slot_size);
    uint64_t pos;
    rk_status st;
    RK_GPU_PROBE(c, RK__PROBE_SENDING);
    st = rk_msg_validate(h, cap, cap);
    if (st != RK_OK)
        return st;
    c->sent_host = 1;
    if (c->reserved) {
        c->reserved = 0;
        pos = c->reserved_pos;
        st = RK_OK;
    } else {
        st = rk__gpu_claim_host(c, &r, &pos);
    }
    if (st == RK_EFULL && c->npub) {
        /* Our own unpublished sends may be what holds the host back. */
        rk__gpu_flush_pub(c);
        st = rk__gpu_claim_host(c, &r, &pos);
    }
    if (st != RK_OK)
        return st;
    RK_GPU_PROBE(c, RK__PROBE_CLAIMED);
    if (ll && c->ll_defer && RK_MSG_HEADER_SIZE - 8u + h->len <= RK__GPU_LL_ITEM) {
        rk__gpu_ll_stage(c, pos, h, payload);
        return RK_OK;
    }
    if (ll) {
        rk__gpu_write_ll(&r, pos, h, payload);
        return RK_OK;
    }
    rk__gpu_write_msg(rk_ring_slot(&r, pos), h, payload, rk_ring_mark_word(pos, c->self));
    c->pub[c->npub++] = pos;
    if (c->npub == RK__GPU_PUB_MAX)
        rk__gpu_flush_pub(c);
    return RK_OK;
}

/* The two per-message checks of isolation and flow control on the K2K
 * path: the receiver's tenant (from the door word) against the sender's,
 * and the ring's free slots (credits) against the claim. A benchmark build
 * defines RK__GPU_BENCH_NO_CHECKS to compile both out and time what they
 * cost (bench/diag/diag_tenant.cu); it must then never fill a ring. */
#if defined(RK__GPU_BENCH_NO_CHECKS)
#define RK__GPU_TENANT_REFUSED(door, h) 0
#define RK__GPU_CREDIT_SHORT(tail, head, cap) 0
#else
#define RK__GPU_TENANT_REFUSED(door, h) ((uint32_t)((door) >> 32) != (h)->tenant)
#define RK__GPU_CREDIT_SHORT(tail, head, cap) ((int64_t)((tail) + 1 - (head)) > (int64_t)(cap))
#endif

/* Writes a claimed K2K slot: the message (its payload too unless NULL:
 * the bridge's warp copies it), or, when it names a generation the actor
 * no longer has (`gen`: the current one, read beside the claim), a no-op
 * the receiver skips (RK_ESTALE): the slot is the sender's either way.
 * Waiting for the generation before the claim would cost every send that
 * names one a round trip; only the sender's own tenant can get here. */
static __device__ __forceinline__ rk_status rk__gpu_k2k_write(void *slot, const rk_msg *h, const void *payload,
                                                          uint32_t gen)
{
    rk_msg nop;
    if (h->dst_gen == 0 || h->dst_gen == gen) {
        rk__gpu_write_msg(slot, h, payload, 0);
        return RK_OK;
    }
    memset(&nop, 0, sizeof nop);
    nop.type = RK_MSG_TYPE_NOP;
    nop.src = h->src;
    nop.dst = h->dst;
    nop.tenant = h->tenant;
    rk__gpu_write_msg(slot, &nop, NULL, 0);
    return RK_ESTALE;
}

#if RK__GPU_CLUSTER_TIER
/* The rest of a K2K put whose receiver is bound to a block of the sender's
 * cluster (the door entered, open, the tenant checked): the receiver's
 * cluster-tier ring, in its block's shared memory, written through DSMEM.
 * The protocol of the global ring at cluster scope: the receiver polls its
 * own shared memory instead of L2. The door is left as there; the owner,
 * in this cluster, sees our claim once it sees us gone (our fence is
 * cluster-wide, its acquire of the door GPU-wide: both scopes hold both
 * blocks). Not inlined, and given a copy of the header in the hint (shared
 * memory), not the header's address: inlined, or given the header by
 * value, it took the kernel from 72 to 96 registers and more (ptxas,
 * sm_90, bench_gpu_roundtrip's program), fewer blocks per SM; an address
 * taken for a call puts every sender's header in local memory
 * (rk__gpu_tenant_refused). */
static __device__ __noinline__ rk_status rk__gpu_ck2k_put(const rk__gpu_world *w, rk__gpu_dir *d,
                                                      const void *payload, uint32_t slot, uint32_t gen,
                                                      rk__gpu_k2k_hint *hint)
{
    const rk_msg *h = &hint->hdr;
    const uint32_t key = slot | RK__GPU_HINT_CLUSTER;
    uint64_t tail, head, got;
    rk_status st;
    rk_ring r;
    rk__gpu_ck2k_ring(w, slot - 1u, &r);
    if (hint->slot == key) {
        tail = hint->tail;
        head = hint->head;
    } else {
        tail = rk__ck_ld_relaxed(&r.prod->tail);
        head = rk__ck_ld_acquire(&r.cons->head);
    }
    for (;;) {
        if (RK__GPU_CREDIT_SHORT(tail, head, r.capacity)) {
            /* Acquire: the receiver stored its head with release after it
             * read those slots, so our writes cannot overtake its reads. */
            head = rk__ck_ld_acquire(&r.cons->head);
            if (RK__GPU_CREDIT_SHORT(tail, head, r.capacity)) {
                hint->slot = key;
                hint->tail = tail;
                hint->head = head;
                rk__gpu_door_leave(&d->door);
                return RK_EFULL;
            }
        }
        got = rk__ck_cas(&r.prod->tail, tail, tail + 1);
        if (got == tail)
            break;
        tail = got;
    }
    RK_GPU_PROBE_PUT(RK__PROBE_K2K_CLAIMED);
    hint->slot = key;
    hint->tail = tail + 1;
    hint->head = head;
    hint->csent++;
    st = rk__gpu_k2k_write(rk_ring_slot(&r, tail), h, payload, gen);
    /* The message's bytes before its sequence word, and the claim before
     * we leave the door: one fence, as on the global ring. */
    asm volatile("fence.acq_rel.cluster;" ::: "memory");
    RK_GPU_PROBE_PUT(RK__PROBE_K2K_FENCED);
    rk__ck_st_relaxed((uint64_t *)rk_ring_slot(&r, tail), tail + 1);
    asm volatile("red.relaxed.gpu.global.add.u64 [%0], %1;" ::"l"(&d->door), "l"(~0ull) : "memory");
    return st;
}
#endif

/* What a put leaves to the bridge's warp (rk__gpu_bridge): a claimed K2K
 * slot with its header written, whose payload the warp copies before lane
 * 0 publishes it (rk__gpu_defer_done). */
typedef struct rk__gpu_defer {
    unsigned char *slot; /* NULL: nothing left to do */
    uint64_t *door;
    uint64_t pos;
    uint32_t len; /* payload bytes to copy (0 for a no-op) */
} rk__gpu_defer;

/* Puts a message into the K2K ring of local actor h->dst. An actor whose
 * door is closed because it migrated (its directory entry forwards) gives
 * RK_OK with *fwd set to its new gid, and nothing sent; while it moves,
 * RK_EFULL (try again). Thread 0 of an actor block (with its hint), or
 * lane 0 of the bridge (hint NULL, `df` set: the put stops after the
 * header, and df says what is left).
 *
 * The round trips to L2 one after the other, each waiting for the last:
 * the door's increment (which returns the binding and the tenant), the
 * claim's CAS (a generation asked for is read beside it), the fence that
 * publishes the message. */
static __device__ __forceinline__ rk_status rk__gpu_k2k_put(const rk__gpu_world *w, rk_msg *h, const void *payload,
                                                        uint32_t *fwd, rk__gpu_k2k_hint *hint, rk__gpu_defer *df = NULL)
{
    rk__gpu_dir *d;
    rk_ring r;
    unsigned char *base;
    uint32_t slot, gen = 0;
    uint64_t door, tail, head, got;
    rk_status st = rk_msg_validate(h, rk_msg_inline_capacity(w->k2k_slot_size),
                                   rk_msg_inline_capacity(w->k2k_slot_size));
    *fwd = 0;
    if (st != RK_OK)
        return st;
    if (h->dst >= w->max_actors)
        return RK_ENOACTOR;
    d = &w->dir[h->dst];
    /* Acquire: pairs with the owner's release when it opened the door, so
     * the generation read below is the one it set. */
    door = rk__gpu_door_enter(&d->door);
    RK_GPU_PROBE_PUT(RK__PROBE_DOOR);
    if (!(door & RK__GPU_DOOR_OPEN)) {
        uint32_t ds = rk__gpu_ld32(&d->state);
        /* The supervisor block sets `forward` (RK__GPU_OP_FORWARD, done
         * before the migration's hold closes the door: the door's acquire
         * above pairs with that close's release); an undone migration sets it
         * back to 0. */
        uint32_t f = rk__gpu_ld32(&d->forward);
        st = ds == RK_DORMANT ? RK_ENOACTOR : ds == RK_FAILED ? RK_EFAILED : RK_ESTATE;
        rk__gpu_door_leave(&d->door);
        if (f == RK__GPU_FWD_MOVING)
            return RK_EFULL;
        if (f != 0) {
            *fwd = f;
            return RK_OK;
        }
        return st;
    }
    /* Inside the open door the binding cannot change (the owner closes the
     * door and waits for us before it touches it). */
    slot = (uint32_t)((door & RK__GPU_DOOR_SLOT) >> RK__GPU_DOOR_SLOT_SHIFT);
    if (slot == 0 || slot > w->n_blocks || RK__GPU_TENANT_REFUSED(door, h)) {
        rk__gpu_door_leave(&d->door);
        return slot == 0 || slot > w->n_blocks ? RK_EINTERNAL : RK_ETENANT;
    }
    /* Issued now, needed only after the claim: the load overlaps the CAS. */
    if (h->dst_gen != 0)
        gen = rk__gpu_ld32(&d->generation);
#if RK__GPU_CLUSTER_TIER
    /* Bound to a block of our cluster: its shared-memory ring. Not for the
     * bridge (no hint), which is block 0 and never writes DSMEM. */
    if (hint && w->ck2k_capacity && (slot - 1u) / w->cluster_size == blockIdx.x / w->cluster_size) {
        hint->hdr = *h;
        return rk__gpu_ck2k_put(w, d, payload, slot, gen, hint);
    }
#endif
    /* Every block's K2K ring has the same geometry: no descriptor load. */
    base = w->k2k_mem + (size_t)(slot - 1) * w->k2k_ring_bytes;
    r.prod = (rk_ring_prod *)base;
    r.cons = (rk_ring_cons *)(base + RK_RING_LINE);
    r.slots = base + 2 * RK_RING_LINE;
    r.capacity = w->k2k_capacity;
    r.slot_size = w->k2k_slot_size;
    r.mode = RK_RING_MPSC;
    r.scope = RK_RING_SCOPE_DEVICE;
    if (hint && hint->slot == slot) {
        tail = hint->tail;
        head = hint->head;
    } else {
        tail = rk__ld_relaxed(&r.prod->tail, RK_RING_SCOPE_DEVICE);
        /* Acquire, as in ring.h: a producer's refresh of head_cache carries
         * the consumer's reads of those slots along with it. */
        head = rk__ld_acquire(&r.prod->head_cache, RK_RING_SCOPE_DEVICE);
    }
    for (;;) {
        /* Signed, as in ring.h: a stale tail may be older than the head. */
        if (RK__GPU_CREDIT_SHORT(tail, head, r.capacity)) {
            /* Acquire: the consumer stored its head with release after it
             * read those slots, so our writes cannot overtake its reads. */
            head = rk__ld_acquire(&r.cons->head, RK_RING_SCOPE_DEVICE);
            rk__st_release(&r.prod->head_cache, head, RK_RING_SCOPE_DEVICE);
            if (RK__GPU_CREDIT_SHORT(tail, head, r.capacity)) {
                if (hint) {
                    hint->slot = slot;
                    hint->tail = tail;
                    hint->head = head;
                }
                rk__gpu_door_leave(&d->door);
                return RK_EFULL;
            }
        }
        got = rk__gpu_cas64(&r.prod->tail, tail, tail + 1);
        if (got == tail)
            break;
        tail = got;
    }
    RK_GPU_PROBE_PUT(RK__PROBE_K2K_CLAIMED);
    if (hint) {
        hint->slot = slot;
        hint->tail = tail + 1;
        hint->head = head;
    }
    if (df) {
        st = rk__gpu_k2k_write(rk_ring_slot(&r, tail), h, NULL, gen);
        df->slot = (unsigned char *)rk_ring_slot(&r, tail);
        df->door = &d->door;
        df->pos = tail;
        df->len = st == RK_OK ? h->len : 0u;
        return st;
    }
    st = rk__gpu_k2k_write(rk_ring_slot(&r, tail), h, payload, gen);
    /* One fence for two stores: the message's bytes before its sequence
     * word (what rk_ring_publish does), and our claim of the position before
     * we leave the door, so an owner that sees the door empty (acquire)
     * reads a final tail. */
    asm volatile("fence.acq_rel.gpu;" ::: "memory");
    RK_GPU_PROBE_PUT(RK__PROBE_K2K_FENCED);
    rk__st_relaxed((uint64_t *)rk_ring_slot(&r, tail), tail + 1, RK_RING_SCOPE_DEVICE);
    asm volatile("red.relaxed.gpu.global.add.u64 [%0], %1;" ::"l"(&d->door), "l"(~0ull) : "memory");
    return st;
}

/* A ring of the peer table, once the host has set it (0 before). The
 * entry is written while the kernel runs: strong loads, which go to L2,
 * never an L1 copy from before. */
static __device__ __forceinline__ int rk__gpu_peer_ring(const rk__gpu_world *w, uint32_t m, int in, rk_ring *r)
{
    rk__gpu_peer *p = &w->peers[m];
    const uint64_t *src;
    uint64_t *dst = (uint64_t *)r;
    /* Acquire: the host writes `ready` in a copy after the descriptor's. */
    if (!rk__gpu_ld32_acquire(in ? &p->in_ready : &p->out_ready))
        return 0;
    src = (const uint64_t *)(in ? &p->in : &p->out);
    for (int i = 0; i < (int)(sizeof(rk_ring) / 8); i++)
        dst[i] = rk__ld_relaxed(&src[i], RK_RING_SCOPE_DEVICE);
    return 1;
}

/* To an actor of member m: one slot of the ring to m, written across the
 * peer mapping. The producers are blocks of this GPU (device-scope claim
 * on a local line); m's bridge writes the consumer's head into our memory
 * with a system-scope release, which the acquire below pairs with. */
static __device__ __noinline__ rk_status rk__gpu_peer_put(const rk__gpu_world *w, uint32_t m, const rk_msg *h,
                                                         const void *payload)
{
    rk_ring r;
    uint64_t pos;
    uint32_t cap;
    rk_status st;
    if (m >= RK__GPU_PEERS || !rk__gpu_peer_ring(w, m, 0, &r))
        return RK_ENOACTOR;
    cap = rk_msg_inline_capacity(r.slot_size);
    st = rk_msg_validate(h, cap, cap);
    if (st != RK_OK)
        return st;
    st = rk__gpu_claim(&r, &pos);
    if (st != RK_OK)
        return st;
    rk__gpu_write_msg(rk_ring_slot(&r, pos), h, payload, 0);
    /* The message's bytes reach m's memory before its sequence word, which
     * m's bridge reads with a system-scope acquire. */
    asm volatile("fence.acq_rel.sys;" ::: "memory");
    rk__st_relaxed((uint64_t *)rk_ring_slot(&r, pos), pos + 1, RK_RING_SCOPE_SYSTEM);
    return RK_OK;
}

/* Every actor-to-actor send: a gid of another member goes to that member's
 * ring (the sender's id becomes a gid, so replies find their way back); a
 * local id to its K2K ring, following forwards of migrated actors. With
 * `df` (the bridge), a put into a local K2K ring leaves its payload and
 * publication to the caller (df->slot set). */
static __device__ __forceinline__ rk_status rk__gpu_route(const rk__gpu_world *w, rk_msg *h, const void *payload,
                                                      rk__gpu_k2k_hint *hint, rk__gpu_defer *df = NULL)
{
    for (int hops = 0; hops < 8; hops++) {
        int m = rk_gid_member(h->dst);
        uint32_t fwd;
        rk_status st;
        if (m >= 0) {
            /* Loaded only here: a load still in flight when the K2K put is
             * called would hold the call up until it lands (its register is
             * saved across the call), a round trip before the door's. */
            const uint32_t me = rk__gpu_ld32(&w->dev->member); /* index + 1; 0 = not in a group */
            if (me == 0)
                return RK_ENOACTOR;
            h->dst = rk_gid_local(h->dst);
            if ((uint32_t)m + 1u != me) {
                if (h->src != RK_ACTOR_HOST && rk_gid_member(h->src) < 0)
                    h->src = rk_gid(me - 1u, h->src);
                return rk__gpu_peer_put(w, (uint32_t)m, h, payload);
            }
        }
        st = rk__gpu_k2k_put(w, h, payload, &fwd, hint, df);
        if (st != RK_OK || fwd == 0)
            return st;
        h->dst = fwd;
        h->dst_gen = 0; /* the new home counts its own generations */
    }
    return RK_ENOACTOR;
}

/* A K2K send refused for crossing tenants: the host counts it for both
 * tenants and reports it (tenant.h), as it does for its own sends. Given
 * the header's words, not its address: an address taken for a call that
 * is not inlined sends the sender's header to local memory, which cost
 * every K2K send ~0.5 us on an H200 (round trip 5.6 -> 6.3-6.7 us). */
static __device__ __noinline__ void rk__gpu_tenant_refused(rk_dctx *c, rk_actor_id dst, uint32_t type, uint64_t hlc)
{
    rk_msg m;
    memset(&m, 0, sizeof m);
    m.type = type;
    m.src = c->self;
    m.dst = dst;
    m.tenant = c->tenant;
    m.src_gen = c->generation;
    m.hlc = hlc;
    rk__gpu_post_event(c->w, RK__GPU_EV_TENANT, dst, 0, RK_ETENANT, hlc, &m);
}

static __device__ __forceinline__ rk_status rk__gpu_send_k2k(rk_dctx *c, rk_msg *h, const void *payload)
{
    rk_status st;
    const uint32_t csent = c->k2k_hint.csent;
    RK_GPU_PROBE(c, RK__PROBE_K2K_SEND);
    st = rk__gpu_route(c->w, h, payload, &c->k2k_hint);
    if (st == RK_ETENANT)
        rk__gpu_tenant_refused(c, h->dst, h->type, h->hlc);
    if (c->k2k_hint.csent != csent) {
        /* Into a cluster-tier ring, which the supervisor block cannot see:
         * counted where it looks for quiescence (rk__gpu_quiescent). */
        c->ck2k_sent += c->k2k_hint.csent - csent;
        c->cl_out += c->k2k_hint.csent - csent;
        rk__st_relaxed(&c->slot->ck2k_sent, c->ck2k_sent, RK_RING_SCOPE_DEVICE);
    }
    return st;
}

/* A send of a rate-limited tenant takes one from its allowance: 1 if there
 * was one, else 0 - the refusal counted for the host. `used` only grows
 * while it is below the grant (a compare-and-swap), so a refused send
 * leaves nothing to give back. The grant is read from pinned memory (a PCIe
 * round trip) only when the copy the block keeps is used up. */
static __device__ __noinline__ int rk__gpu_rate_take(rk_dctx *c)
{
    const rk__gpu_world *w = c->w;
    rk__gpu_rate *r = &w->rates[c->rate - 1u];
    unsigned long long used = rk__ld_relaxed((const uint64_t *)&r->used, RK_RING_SCOPE_DEVICE), got;
    for (;;) {
        if (used >= c->rate_granted) {
            c->rate_granted = rk__ld_relaxed(&w->rate_granted[c->rate - 1u], RK_RING_SCOPE_SYSTEM);
            if (used >= c->rate_granted) {
                atomicAdd(&r->refused, 1ull);
                return 0;
            }
        }
        got = atomicCAS(&r->used, used, used + 1ull);
        if (got == used)
            return 1;
        used = got;
    }
}

/* A send refused for another reason gives its token back. */
static __device__ __noinline__ void rk__gpu_rate_give(const rk__gpu_world *w, uint32_t rate)
{
    atomicAdd(&w->rates[rate - 1u].used, ~0ull);
}

/* One attempt, uncounted. */
/* Thread 0: a block actor's message to a light actor (light.h): at most
 * RK_LIGHT_PAYLOAD bytes, straight into its inbox, counted for the
 * shutdown's drain. RK_EFULL while the inbox is full; RK_ENOACTOR past the
 * light actors (one not spawned is dead-lettered where it arrives). */
static __device__ __noinline__ rk_status rk__gpu_send_light(rk_dctx *c, const rk_msg *h, const void *payload)
{
#if !defined(__CUDACC_RTC__)
    const rk__gpu_world *w = c->w;
    uint64_t words[RK_LIGHT_PAYLOAD / 8] = {0, 0, 0, 0, 0, 0};
    rk_status st;
    if (!w->light || h->dst - RK_LIGHT_ID_BASE >= w->light_actors)
        return RK_ENOACTOR;
    if (h->len > RK_LIGHT_PAYLOAD)
        return RK_E2BIG;
    for (uint32_t i = 0; i < h->len; i++)
        ((unsigned char *)words)[i] = ((const unsigned char *)payload)[i];
    st = rk_light_send(w->light, RK_LIGHT_FROM_BLOCK | c->self, h->dst - RK_LIGHT_ID_BASE, h->type, words);
    if (st == RK_OK)
        atomicAdd(w->light_sent, 1ull);
    return st;
#else
    (void)c;
    (void)h;
    (void)payload;
    return RK_ENOACTOR;
#endif
}

static __device__ __forceinline__ rk_status rk__gpu_send_once(rk_dctx *c, const rk_msg *in, const void *payload)
{
    rk_msg h;
    rk_status st;
    h.seq = 0;
    h.type = in->type;
    h.flags = in->flags;
    h.src = c->self;
    h.dst = in->dst;
    h.tenant = c->tenant;
    h.dst_gen = in->dst_gen;
    h.corr = in->corr;
    h.len = in->len;
    h.src_gen = c->generation;
    h.ref = 0;
    c->hlc = rk_hlc_tick(c->hlc, rk__gpu_phys_ms(c));
    h.hlc = c->hlc;
    if (h.flags & RK_MSG_F_BYREF)
        return RK_ENOTSUP; /* payloads from the device travel inline */
    if (h.len && !payload)
        return RK_EINVAL;
    /* A tenant with a rate quota (tenant.h); for the others a load of the
     * context (shared memory) and a branch. */
    if (c->rate && c->rate <= c->w->n_rates && !rk__gpu_rate_take(c))
        return RK_ERATE;
    /* The answer to a host request that moved here from another member
     * and back again: to our host (rk__gpu_is_our_host). */
    if (rk__gpu_is_our_host(c->w, h.dst))
        h.dst = RK_ACTOR_HOST;
    if (h.dst == RK_ACTOR_HOST)
        st = rk__gpu_send_host(c, &h, payload);
    else if (rk_is_light(h.dst))
        st = rk__gpu_send_light(c, &h, payload);
    else
        st = rk__gpu_send_k2k(c, &h, payload);
    if (st != RK_OK && c->rate && c->rate <= c->w->n_rates)
        rk__gpu_rate_give(c->w, c->rate);
    return st;
}

static __device__ __forceinline__ rk_status rk__gpu_count(rk_dctx *c, rk_status st)
{
    if (st == RK_OK)
        c->msgs_out++;
    else
        c->errors++; /* a refused send */
    c->dirty = 1;
    return st;
}

static __device__ __forceinline__ rk_status rk__gpu_send(rk_dctx *c, const rk_msg *in, const void *payload)
{
    return rk__gpu_count(c, rk__gpu_send_once(c, in, payload));
}

/* Retries while the receiver is full; only the outcome is counted. */
static __device__ __forceinline__ rk_status rk__gpu_send_wait(rk_dctx *c, const rk_msg *in, const void *payload,
                                                          uint64_t timeout_ns)
{
    uint64_t start = rk__gpu_clock();
    uint32_t nap = 64;
    for (;;) {
        rk_status st = rk__gpu_send_once(c, in, payload);
        if (st != RK_EFULL)
            return rk__gpu_count(c, st);
        /* Our unpublished sends to the host may be what keeps it from
         * making room. */
        rk__gpu_flush_pub(c);
        if (rk__gpu_ld32(&c->w->dev->stop))
            return rk__gpu_count(c, RK_ESHUTDOWN);
        if (rk__gpu_clock() - start >= timeout_ns)
            return rk__gpu_count(c, RK_ETIMEDOUT);
        __nanosleep(nap);
        nap = nap < 4096 ? 2 * nap : nap;
    }
}

/* ---- the device API for handlers ---------------------------------------------------- */

/* The actor's id, generation (1, then + 1 per restart) and tenant. */
static __device__ __forceinline__ rk_actor_id rk_dself(const rk_dctx *c) { return c->self; }
static __device__ __forceinline__ uint32_t rk_dgeneration(const rk_dctx *c) { return c->generation; }
static __device__ __forceinline__ uint32_t rk_dtenant(const rk_dctx *c) { return c->tenant; }

/* %globaltimer: nanoseconds, for timeouts inside handlers. */
static __device__ __forceinline__ uint64_t rk_dclock_ns(void) { return rk__gpu_clock(); }

/* Whether the runtime is stopping (a handler that loops should return). */
static __device__ __forceinline__ int rk_dstopping(const rk_dctx *c) { return rk__gpu_ld32(&c->w->dev->stop) != 0; }

/* Collective. Sends a message built from `hdr` (type, flags: 0 or
 * RK_MSG_F_REQUEST, dst, dst_gen, corr, len are used; src, tenant, hlc are
 * set) to another actor (K2K, device memory) or to RK_ACTOR_HOST, copying
 * the payload before it returns. Payloads travel inline, so len is limited
 * by the receiver's queue slot. Returns RK_OK, RK_EFULL (retry later or
 * use rk_dsend_wait), RK_ENOACTOR, RK_ESTATE (receiver not accepting),
 * RK_ETENANT, RK_ESTALE (dst_gen is not the receiver's generation),
 * RK_ERATE (the tenant's rate quota, tenant.h; rk_dsend_wait does not wait
 * for it), RK_E2BIG, RK_EBADMSG, RK_EINVAL (system type id), RK_ENOTSUP
 * (BYREF).
 * Never blocks. A message to the host becomes visible as its words land
 * (flag-per-word host queue, the default), or with plain slots
 * (RK_CUDA_HOST_LL=0) when the handler returns (one publication fence for
 * all sends of a batch) or earlier. */
static __device__ __forceinline__ rk_status rk_dsend_msg(rk_dctx *c, const rk_msg *hdr, const void *payload)
{
    __syncthreads(); /* the payload may have been written by other threads */
    if (threadIdx.x == 0) {
        c->ll_units = 0;
        c->ll_defer = 1;
        c->bcast = (int32_t)rk__gpu_send(c, hdr, payload);
        c->ll_defer = 0;
    }
    __syncthreads();
    if (threadIdx.x < 32u && c->ll_units)
        rk__gpu_ll_warp(c);
    return (rk_status)c->bcast;
}

/* Collective. rk_dsend_msg with a plain header. */
static __device__ __forceinline__ rk_status rk_dsend(rk_dctx *c, rk_actor_id dst, uint32_t type, const void *payload,
                                                     uint32_t len)
{
    rk_msg h;
    memset(&h, 0, sizeof h);
    h.type = type;
    h.dst = dst;
    h.len = len;
    return rk_dsend_msg(c, &h, payload);
}

/* Collective. rk_dsend, retrying while the receiver's queue is full, for
 * up to timeout_ns (RK_ETIMEDOUT) or until the runtime stops
 * (RK_ESHUTDOWN). Blocks the actor meanwhile. */
static __device__ __forceinline__ rk_status rk_dsend_wait(rk_dctx *c, rk_actor_id dst, uint32_t type,
                                                          const void *payload, uint32_t len, uint64_t timeout_ns)
{
    rk_msg h;
    memset(&h, 0, sizeof h);
    h.type = type;
    h.dst = dst;
    h.len = len;
    __syncthreads();
    if (threadIdx.x == 0) {
        c->ll_units = 0;
        c->ll_defer = 1;
        c->bcast = (int32_t)rk__gpu_send_wait(c, &h, payload, timeout_ns);
        c->ll_defer = 0;
    }
    __syncthreads();
    if (threadIdx.x < 32u && c->ll_units)
        rk__gpu_ll_warp(c);
    return (rk_status)c->bcast;
}

/* Collective. Replies to the request being handled: to its sender (the host
 * or an actor), with its correlation id. RK_EINVAL if the message is not a
 * request; otherwise as rk_dsend_msg. */
static __device__ __forceinline__ rk_status rk_dreply(rk_dctx *c, uint32_t type, const void *payload, uint32_t len)
{
    const rk_msg *m = c->msg;
    rk_msg h;
    if (!(m->flags & RK_MSG_F_REQUEST))
        return RK_EINVAL;
    memset(&h, 0, sizeof h);
    h.type = type;
    h.flags = RK_MSG_F_REPLY;
    h.dst = m->src;
    h.dst_gen = m->src == RK_ACTOR_HOST ? 0u : m->src_gen;
    h.corr = m->corr;
    h.len = len;
    return rk_dsend_msg(c, &h, payload);
}

/* Collective. Makes every message sent to the host so far visible now. */
static __device__ __forceinline__ void rk_dflush(rk_dctx *c)
{
    __syncthreads();
    if (threadIdx.x == 0)
        rk__gpu_flush_pub(c);
    __syncthreads();
}

/* ---- the symmetric regions of a group (group.h) ----------------------------------- */

/* The member of its group this kernel serves (0 outside a group). */
static __device__ __forceinline__ uint32_t rk_dmember(const rk_dctx *c)
{
    const uint32_t tag = rk__gpu_ld32(&c->w->dev->member); /* index + 1; 0: no group */
    return tag ? tag - 1u : 0u;
}

/* The size of each member's symmetric region, 0 without them. */
static __device__ __forceinline__ uint64_t rk_dsym_size(const rk_dctx *c) { return c->w->peers[0].sym_bytes; }

/* Any thread. The address of bytes [offset, offset + len) of member
 * `member`'s symmetric region, or NULL when the group has no regions,
 * `member` is not one of its members or the range does not fit. This
 * member's own region is its GPU's memory; another's is reached over the
 * peer mapping (stores are posted writes; loads cross the link each). */
static __device__ __forceinline__ void *rk_dsym(const rk_dctx *c, uint32_t member, uint64_t offset, uint64_t len)
{
    const rk__gpu_peer *p;
    if (member >= RK__GPU_PEERS)
        return NULL;
    /* Written before the launch, read-only since. */
    p = &c->w->peers[member];
    if (!p->sym || offset > p->sym_bytes || len > p->sym_bytes - offset)
        return NULL;
    return (void *)(uintptr_t)(p->sym + offset);
}

/* Collective. Copies `len` bytes from `src` (memory every thread of the
 * block can read: its state, shared or global memory; not a thread's
 * local variable) into member `member`'s symmetric
 * region at `offset`, every thread of the block storing a part: 16 bytes
 * at a time, eight in flight per thread, when `src`, the destination and
 * `len` are multiples of 16; a byte at a time otherwise. Returns when the
 * block's stores are issued: a message the block sends afterwards
 * (rk_dsend and friends, to an actor of any member) is ordered after
 * them, so its receiver reads the bytes put. Nothing tells the block when
 * the part may be written again; the program's own messages do (group.h).
 * RK_EINVAL, copying nothing, when the range is not in the region
 * (rk_dsym) or `src` is NULL with len > 0. */
static __device__ __noinline__ rk_status rk_dput(rk_dctx *c, uint32_t member, uint64_t offset, const void *src,
                                                 uint64_t len)
{
    __shared__ unsigned char *to;
    __shared__ const void *from;
    __shared__ uint64_t bytes;
    const uint32_t t = threadIdx.x, n = blockDim.x;
    unsigned char *dst;
    uint64_t i;
    __syncthreads(); /* `src` may have been written by other threads */
    if (t == 0) {    /* thread 0's arguments, as for every collective call */
        to = (unsigned char *)rk_dsym(c, member, offset, len);
        from = src;
        bytes = len;
    }
    __syncthreads();
    dst = to;
    src = from;
    len = bytes;
    if (!dst || (!src && len))
        return RK_EINVAL;
    if ((((uintptr_t)src | (uintptr_t)dst | len) & 15u) == 0) {
        const uint4 *s4 = (const uint4 *)src;
        uint4 *d4 = (uint4 *)dst;
        const uint64_t words = len / 16u;
        /* Eight loads before the first store: a thread keeps 128 bytes
         * in flight, where one at a time waited for each load. */
        for (i = t; i + 7u * n < words; i += 8u * n) {
            uint4 v[8];
#pragma unroll
            for (uint32_t k = 0; k < 8u; k++)
                v[k] = s4[i + k * n];
#pragma unroll
            for (uint32_t k = 0; k < 8u; k++)
                d4[i + k * n] = v[k];
        }
        for (; i < words; i += n)
            d4[i] = s4[i];
    } else {
        for (i = t; i < len; i += n)
            dst[i] = ((const unsigned char *)src)[i];
    }
    __syncthreads(); /* every thread's stores before thread 0's next send */
    return RK_OK;
}

/* ---- actor types ------------------------------------------------------------------ */

template <class S>
static __device__ __forceinline__ rk_status rk__gpu_no_init(rk_dctx *, S *)
{
    return RK_OK;
}

/* Declares the GPU actor type `Name`: state type `State` and handler
 * `rk_status handle(rk_dctx *, State *, const rk_msg *)`. */
#define RK_GPU_ACTOR(Name, State, handle) RK_GPU_ACTOR_INIT(Name, State, handle, rk__gpu_no_init)

/* As RK_GPU_ACTOR, plus `rk_status init(rk_dctx *, State *)`, which all
 * threads run after the state is reset (on create and on every restart),
 * before the first message. An error marks the actor Failed. */
#define RK_GPU_ACTOR_INIT(Name, State, handle, init)                                                 \
    struct Name {                                                                                    \
        static constexpr uint32_t state_size = (uint32_t)sizeof(State);                              \
        static constexpr bool light = false;                                                         \
        static __device__ __forceinline__ rk_status on_msg(rk_dctx *c, void *s, const rk_msg *m)     \
        {                                                                                            \
            return handle(c, (State *)s, m);                                                         \
        }                                                                                            \
        static __device__ __forceinline__ rk_status on_init(rk_dctx *c, void *s)                      \
        {                                                                                            \
            return init(c, (State *)s);                                                              \
        }                                                                                            \
        static __device__ __forceinline__ rk_status on_light(rk_ldctx *, void *, const rk_lmsg *)    \
        {                                                                                            \
            return RK_EINVAL;                                                                        \
        }                                                                                            \
    }

/* Declares the light actor type `Name` (light.h): state type `State` and
 * handler `rk_status handle(rk_ldctx *, State *, const rk_lmsg *)`, run by
 * all threads of the home block. List it in RK_GPU_PROGRAM beside block
 * actor types; rk_light_spawn takes its index there. Not in NVRTC
 * programs. */
#define RK_GPU_LIGHT(Name, State, handle)                                                            \
    struct Name {                                                                                    \
        static constexpr uint32_t state_size = (uint32_t)sizeof(State) | RK__GPU_LIGHT_TYPE;         \
        static constexpr bool light = true;                                                          \
        static __device__ __forceinline__ rk_status on_msg(rk_dctx *, void *, const rk_msg *)        \
        {                                                                                            \
            return RK_EINVAL;                                                                        \
        }                                                                                            \
        static __device__ __forceinline__ rk_status on_init(rk_dctx *, void *) { return RK_OK; }     \
        static __device__ __forceinline__ rk_status on_light(rk_ldctx *c, void *s, const rk_lmsg *m) \
        {                                                                                            \
            return handle(c, (State *)s, m);                                                         \
        }                                                                                            \
    }

/* The type list of a program: a chain of comparisons the compiler folds
 * into a switch over the type index. */
template <class... T>
struct rk__gpu_types;

template <>
struct rk__gpu_types<> {
    static constexpr uint32_t count = 0;
    static constexpr bool has_light = false;
    static __device__ __forceinline__ rk_status on_msg(uint32_t, rk_dctx *, void *, const rk_msg *)
    {
        return RK_EINVAL;
    }
    static __device__ __forceinline__ rk_status on_init(uint32_t, rk_dctx *, void *) { return RK_EINVAL; }
    static __device__ __forceinline__ rk_status on_light(uint32_t, rk_ldctx *, void *, const rk_lmsg *)
    {
        return RK_EINVAL;
    }
};

template <class H, class... R>
struct rk__gpu_types<H, R...> {
    static constexpr uint32_t count = 1u + (uint32_t)sizeof...(R);
    static constexpr bool has_light = H::light || rk__gpu_types<R...>::has_light;
    static __device__ __forceinline__ rk_status on_msg(uint32_t t, rk_dctx *c, void *s, const rk_msg *m)
    {
        return t == 0 ? H::on_msg(c, s, m) : rk__gpu_types<R...>::on_msg(t - 1u, c, s, m);
    }
    static __device__ __forceinline__ rk_status on_init(uint32_t t, rk_dctx *c, void *s)
    {
        return t == 0 ? H::on_init(c, s) : rk__gpu_types<R...>::on_init(t - 1u, c, s);
    }
    static __device__ __forceinline__ rk_status on_light(uint32_t t, rk_ldctx *c, void *s, const rk_lmsg *m)
    {
        return t == 0 ? H::on_light(c, s, m) : rk__gpu_types<R...>::on_light(t - 1u, c, s, m);
    }
};

/* The program's description, readable from the module (NVRTC) or the host. */
template <uint32_t N>
struct rk__gpu_info {
    uint32_t magic, abi, n_types, block_threads;
    uint32_t state_size[N];
};

template <class... T>
__host__ __device__ constexpr rk__gpu_info<sizeof...(T)> rk__gpu_make_info()
{
    return rk__gpu_info<sizeof...(T)>{RK_GPU_PROGRAM_MAGIC, RK_GPU_ABI, (uint32_t)sizeof...(T),
                                      (uint32_t)RK_GPU_BLOCK_THREADS, {T::state_size...}};
}

/* ---- light actors (light.h) ----------------------------------------------------------- */

/* What a light handler gets: the home's scheduling context (light.cuh),
 * in the home's shared memory, and the actor it runs for. */
struct rk_ldctx {
#if !defined(__CUDACC_RTC__)
    rk_light_ctx *c;
#else
    void *c;
#endif
    const rk__gpu_world *w;
    rk_actor_id self;
    uint32_t actors;
    rk_status st; /* thread 0's send, for every thread */
};

/* The light actor being run. */
static __device__ __forceinline__ rk_actor_id rk_ldself(const rk_ldctx *c) { return c->self; }

#if !defined(__CUDACC_RTC__)
/* A light handler's send to another light actor, to a block actor (into
 * its K2K queue, as from tenant 0, the light actor's id as sender) or to
 * RK_ACTOR_HOST (rk_light_recv): collective, thread 0's arguments count.
 * Never waits: RK_EFULL when the receiver's queue (or the home's ring to
 * the host) is full; RK_ENOACTOR for a light id past the light actors (a
 * message to a light id not spawned is dead-lettered there) or no such
 * block actor; a block actor's refusals as for rk_dsend (RK_ESTATE,
 * RK_ETENANT, ...); RK_E2BIG above RK_LIGHT_PAYLOAD bytes; RK_EINVAL for a
 * system type or a NULL payload with len > 0. */
static __device__ __noinline__ rk_status rk_ldsend(rk_ldctx *c, rk_actor_id dst, uint32_t type, const void *payload,
                                                   uint32_t len)
{
    __syncthreads(); /* every thread has read the last send's status */
    if (threadIdx.x == 0) {
        uint64_t words[RK_LIGHT_PAYLOAD / 8] = {0, 0, 0, 0, 0, 0};
        rk_status st = RK_OK;
        if (type >= RK_MSG_TYPE_SYSTEM || (len && !payload))
            st = RK_EINVAL;
        else if (len > RK_LIGHT_PAYLOAD)
            st = RK_E2BIG;
        else if (rk_is_light(dst) && dst - RK_LIGHT_ID_BASE >= c->actors)
            st = RK_ENOACTOR;
        if (st == RK_OK) {
            for (uint32_t i = 0; i < len; i++)
                ((unsigned char *)words)[i] = ((const unsigned char *)payload)[i];
            if (dst == RK_ACTOR_HOST || rk_is_light(dst)) {
                st = rk_light_ctx_send(c->c, dst == RK_ACTOR_HOST ? RK_LIGHT_HOST : dst - RK_LIGHT_ID_BASE, type,
                                       words);
            } else {
                /* A block actor: as a message from another member comes in
                 * (the bridge), without a block context of our own. */
                rk_msg h;
                memset(&h, 0, sizeof h);
                h.type = type;
                h.src = c->self;
                h.dst = dst;
                h.len = len;
                h.src_gen = 1;
                st = rk__gpu_route(c->w, &h, words, NULL);
                if (st == RK_OK)
                    rk_light_sent_to_block(c->c); /* for the drain */
            }
        }
        c->st = st;
    }
    __syncthreads();
    return c->st;
}

/* Runs one message of a light actor (rk_light_block's handler): the
 * message as the user's handler sees it, with public ids; its type, read
 * from L2 (the host sets it at the spawn, while the kernel runs); a handler
 * error or a message for an actor not spawned goes to the host as an event. */
template <class Types>
struct rk__gpu_light_run {
    const rk__gpu_world *w;
    __device__ void operator()(rk_light_ctx *c, const rk_light_msg *m) const
    {
        __shared__ rk_lmsg view;
        __shared__ rk_ldctx lc;
        __shared__ uint32_t type;
        if (threadIdx.x == 0) {
            type = rk__gpu_ld32(&w->light_types[c->self]);
            view.src = rk_light_public(m->src);
            view.type = m->type;
            for (int i = 0; i < RK_LIGHT_WORDS; i++)
                view.data[i] = m->w[i];
            lc.c = c;
            lc.w = w;
            lc.self = rk_light_id(c->self);
            lc.actors = w->light_actors;
        }
        __syncthreads();
        const uint32_t t = type;
        if (t == RK__GPU_LIGHT_NONE) {
            if (threadIdx.x == 0) {
                rk_msg h;
                memset(&h, 0, sizeof h);
                h.type = view.type;
                h.src = view.src;
                h.dst = lc.self;
                h.len = RK_LIGHT_PAYLOAD;
                rk__gpu_post_event(w, RK__GPU_EV_DEAD_LETTER, lc.self, 0, RK_ENOACTOR, 0, &h);
            }
            return;
        }
        const rk_status st = Types::on_light(t, &lc, w->light_states + (size_t)c->self * w->light_stride, &view);
        if (threadIdx.x == 0 && st != RK_OK)
            rk__gpu_post_event(w, RK__GPU_EV_ERROR, lc.self, 1, st, 0, NULL);
    }
};

/* A block past the actor blocks: a home, the port's forwarder, or (with
 * thread-block clusters) one that fills the forwarder's cluster and
 * returns at once. Homes and the forwarder mark their return in pinned
 * memory, where the host's drain looks. */
template <bool HasLight>
struct rk__gpu_light_entry {
    template <class Types>
    static __device__ __forceinline__ bool run(const rk__gpu_world *) { return false; }
};

template <>
struct rk__gpu_light_entry<true> {
    template <class Types>
    static __device__ __noinline__ bool run(const rk__gpu_world *w)
    {
        if (!w->light || blockIdx.x < w->light_first)
            return false;
        const uint32_t h = blockIdx.x - w->light_first;
        if (threadIdx.x == 0)
            atomicAdd(&w->dev->started, 1u);
        if (h > w->light_homes)
            return true;
        if (h < w->light_homes)
            rk_light_block(w->light, h, rk__gpu_light_run<Types>{w});
        else
            rk_light_ingress(w->light);
        if (threadIdx.x == 0)
            asm volatile("st.release.sys.global.u32 [%0], 1;" ::"l"(&w->light_exits[h]) : "memory");
        return true;
    }
};
#else
template <bool HasLight>
struct rk__gpu_light_entry {
    template <class Types>
    static __device__ __forceinline__ bool run(const rk__gpu_world *) { return false; }
};
#endif

/* ---- the actor block ------------------------------------------------------------------ */

static __device__ __noinline__ void rk__gpu_block_init(rk_dctx *c, const rk__gpu_world *w)
{
    memset(c, 0, sizeof *c);
    c->world = *w;
    c->w = &c->world;
    c->slot_index = blockIdx.x;
    c->slot = &w->slots[blockIdx.x];
    c->k2k = c->slot->k2k;
    c->self = RK_ACTOR_NONE;
    c->active_ns = rk__gpu_clock();
#if RK__GPU_CLUSTER_TIER
    if (w->ck2k_capacity && w->cluster_size > 1) {
        /* Empty, every sequence word 0 (never "ready"). No peer writes it
         * before it is bound to an actor: a sender finds this block in an
         * open door only, which opens after this (with release). */
        uint32_t i;
        rk__gpu_ck2k_ring(&c->world, blockIdx.x, &c->ck2k);
        memset(c->ck2k.prod, 0, sizeof(rk_ring_prod));
        memset(c->ck2k.cons, 0, sizeof(rk_ring_cons));
        for (i = 0; i < c->ck2k.capacity; i++)
            *(uint64_t *)rk_ring_slot(&c->ck2k, i) = 0;
    }
#endif
}

/* Terminate finishes once everything queued before the host gate and the K2K door closed is handled. */
static __device__ __noinline__ void rk__gpu_term_check(rk_dctx *c)
{
    if (c->state == RK_FAILED) {
        c->terminating = 0;
        rk__gpu_flush_counters(c, rk__gpu_clock());
        rk__gpu_send_ack(c->w, c->term_ticket, RK_EFAILED, 1);
        return;
    }
    /* The door is closed and empty, so the K2K tail is final; acquire
     * orders it before the K2K slots we read next. */
    if (c->h2k_head < c->h2k_final || rk__ld_acquire(&c->k2k.prod->tail, RK_RING_SCOPE_DEVICE) != c->k2k_head ||
        !rk__gpu_ck2k_empty(c))
        return;
    rk__gpu_set_state(c, RK_TERMINATED, c->term_ticket);
    rk__gpu_door_unbind(c);
    rk__gpu_flush_pub(c);
    rk__gpu_flush_counters(c, rk__gpu_clock());
    rk__gpu_publish_head(c);
    rk__gpu_publish_k2k(c);
    rk__gpu_publish_ck2k(c);
    rk__gpu_st32_sys(&c->w->slot_actor[c->slot_index], RK_ACTOR_NONE);
    c->bound = 0;
    c->terminating = 0;
    c->self = RK_ACTOR_NONE;
    rk__gpu_send_ack(c->w, c->term_ticket, RK_OK, 0);
}

/* Nothing to do (thread 0). After a short pause the block reports to the
 * host (counters, heartbeat, queue heads: posted writes, and a system fence
 * for the inbox head, kept off the path of a busy actor). After spin_ns it
 * naps 1 us between rounds - device-memory polls stay cheap, so K2K and
 * commands are still seen quickly - and polls the host's inbox (a PCIe round
 * trip) less and less often, down to once per backoff_ns. */
static __device__ __noinline__ void rk__gpu_idle_slow(rk_dctx *c, uint64_t now)
{
    const rk__gpu_world *w = c->w;
    uint64_t idle;
    if (!c->bound) {
        __nanosleep(500); /* a free block: only a command (device memory) can wake it */
        return;
    }
    idle = now - c->active_ns;
    if (idle > 20000u) {
        if (c->dirty || now - c->heartbeat_ns > 1000000u)
            rk__gpu_flush_counters(c, now);
        rk__gpu_publish_head(c);
        rk__gpu_publish_k2k(c);
        rk__gpu_publish_ck2k(c);
        rk__gpu_ck2k_account(c);
        if (now - c->last_k2k_ns > 20000u && idle < w->spin_ns)
            c->h2k_gap = 0;
    }
    if (idle < w->spin_ns)
        return;
    c->h2k_gap = c->h2k_gap ? (c->h2k_gap < w->backoff_ns ? 2u * c->h2k_gap : (uint32_t)w->backoff_ns) : 1000u;
    __nanosleep(1000);
}

/* A busy actor's empty round returns here without a call. */
static __device__ __forceinline__ void rk__gpu_idle(rk_dctx *c, uint64_t now)
{
    const uint64_t idle = now - c->active_ns;
    if (c->bound && idle <= 20000u && idle < c->w->spin_ns)
        return;
    rk__gpu_idle_slow(c, now);
}

/* Chooses the block's next action (thread 0). The polls are issued
 * together so that one round trip covers them all: the device-memory words
 * with relaxed loads (a fence makes whichever is taken an acquire), the
 * host's inbox last, with an acquire load, so nothing waits for it but what
 * reads the message. An actor busy with K2K (a K2K message in the last
 * 20 us) polls the host's inbox every k2k_host_poll_ns only (10 us unless
 * RK_CUDA_K2K_HOST_POLL_NS says otherwise), and the other way round: its
 * K2K inbox with an acquire load and the host's with a relaxed one, made an
 * acquire by a fence only when it finds a message. A fence, or any load
 * after an acquire, waits for every load before it - here the PCIe round
 * trip of the host poll, which cost a K2K round trip ~2 us on an H200. */
static __device__ __forceinline__ void rk__gpu_decide(rk_dctx *c)
{
    const rk__gpu_world *w = c->w;
    const int runs = c->bound && !c->held && rk_lifecycle_runs((rk_lifecycle_state)c->state);
    const uint64_t now = rk__gpu_clock();
    const int poll_h2k = runs && !c->known_ready && now >= c->h2k_next_ns;
    const int k2k_busy = now - c->last_k2k_ns < 20000u;
    c->now = now;
    if (c->busy_since) {
        c->busy_ns += now - c->busy_since;
        c->busy_since = 0;
    }
    uint64_t mseq, kseq = 0, hseq = 0, cseq = 0;
    uint32_t stop;
#if RK__GPU_CLUSTER_TIER
    /* The cluster-tier ring is this block's shared memory: a relaxed load,
     * and an acquire of the same word only once it shows a message (an
     * acquire at cluster scope cost ~0.3 us a round). Not while messages a
     * hold moved to the global ring are ahead. */
    const int ck_on = runs && c->ck2k.capacity && c->k2k_head >= c->ck2k_after;
    if (ck_on)
        cseq = rk__ck_ld_relaxed((const uint64_t *)rk_ring_slot(&c->ck2k, c->ck2k_head));
#else
    const int ck_on = 0;
#endif
    RK_GPU_PROBE(c, RK__PROBE_ROUND);
    c->action = RK__GPU_ACT_NONE;
#if RK__GPU_CLUSTER_TIER
    /* Busy with K2K (a message taken in the last 20 us), the last full
     * round finding the global ring empty: a round looks only at the
     * cluster tier's ring, our own shared memory, and not at the words in
     * L2 (stop, the mailbox, the global ring), whose loads took the whole
     * round's time (0.7 us) before a cluster message could be seen. A full
     * round still comes at least every k2k_host_poll_ns, and when the
     * host's inbox is due. An idle block's rounds are all full ones. */
    if (ck_on && k2k_busy && !poll_h2k && c->ck2k_alone && now < c->full_round_ns && !c->known_ready &&
        !c->terminating && !c->restart_due) {
        if (cseq == c->ck2k_head + 1) {
            rk__gpu_ck2k_acquire(c);
            RK_GPU_PROBE(c, RK__PROBE_K2K_SEEN);
            c->last_k2k_ns = now;
            c->action = RK__GPU_ACT_CK2K;
            c->busy_since = now;
        }
        return;
    }
    if (ck_on)
        c->full_round_ns = now + w->k2k_host_poll_ns;
#endif
    stop = rk__gpu_ld32(&w->dev->stop);
    c->draining = rk__gpu_ld32(&w->dev->draining);
    mseq = rk__ld_relaxed(&c->slot->mbox_seq, RK_RING_SCOPE_DEVICE);
    if (k2k_busy) {
        /* The relaxed host poll first: an acquire does not wait for loads
         * before it, but every load after it waits for it. */
        if (poll_h2k)
            hseq = rk__ld_relaxed((const uint64_t *)rk_ring_slot(&c->inbox, c->h2k_head), RK_RING_SCOPE_SYSTEM);
        if (runs)
            kseq = rk__ld_acquire((const uint64_t *)rk_ring_slot(&c->k2k, c->k2k_head), RK_RING_SCOPE_DEVICE);
    } else {
        if (runs)
            kseq = rk__ld_relaxed((const uint64_t *)rk_ring_slot(&c->k2k, c->k2k_head), RK_RING_SCOPE_DEVICE);
        if (poll_h2k)
            hseq = rk__ld_acquire((const uint64_t *)rk_ring_slot(&c->inbox, c->h2k_head), RK_RING_SCOPE_SYSTEM);
    }
    if (stop) {
        c->action = RK__GPU_ACT_STOP;
        return;
    }
    /* Not while a checkpoint holds it: a group restart's turn waits for the
     * resume (the supervisor block waits for it too). */
    if (c->restart_due && !c->held) {
        rk__gpu_restart_cmd(c);
        c->action = RK__GPU_ACT_CMD;
        return;
    }
    if (mseq != c->mbox_taken) {
        /* Acquire pattern with the relaxed load of mbox_seq: pairs with the
         * supervisor's release, so the command copied next is complete. */
        asm volatile("fence.acq_rel.gpu;" ::: "memory");
        c->cmd = c->slot->mbox;
        RK_GPU_PROBE_CMD(RK__PROBE_MBOX);
        c->mbox_taken++;
        /* Release: our copy of the command is complete before the
         * supervisor may overwrite it. */
        rk__st_release(&c->slot->mbox_taken, c->mbox_taken, RK_RING_SCOPE_DEVICE);
        c->action = RK__GPU_ACT_CMD;
        return;
    }
    if (c->terminating)
        rk__gpu_term_check(c);
    if (runs && c->bound) {
        if (poll_h2k) {
            if (hseq == c->h2k_head + 1) {
                /* The acquire load above made it visible, or, after the
                 * relaxed one, this fence (acquire pattern, pairing with the
                 * host's release of the sequence word). */
                if (k2k_busy)
                    asm volatile("fence.acq_rel.sys;" ::: "memory");
                c->known_ready = 1;
                c->h2k_gap = 0;
            }
            c->h2k_next_ns = now + c->h2k_gap;
        }
        /* Turns: after a batch from the host a ready K2K message goes
         * first, so a host that calls back to back cannot starve the K2K
         * rings. Strict priority for the host let its next call land while
         * the block was still looking, round after round: on an H200 a
         * fan-in of 4 x 4001 K2K messages took 2.6 s, against 0.05 s
         * without the host's calls. The host's message stays known ready
         * and goes next; K2K messages never starve the host either (a busy
         * K2K actor still polls it every k2k_host_poll_ns). */
        const int k2k_ready = kseq == c->k2k_head + 1 || (ck_on && cseq == c->ck2k_head + 1);
        if (c->known_ready && !(c->k2k_owed && k2k_ready)) {
            c->k2k_owed = 1;
            RK_GPU_PROBE(c, RK__PROBE_SEEN);
            const uint32_t buf_slots = w->msg_buffer / c->inbox.slot_size;
            c->nmsg = c->known_ready < buf_slots ? c->known_ready : buf_slots;
            c->action = RK__GPU_ACT_H2K;
            c->busy_since = now;
            return;
        }
        /* Both K2K rings ready: each in turn. */
        if (ck_on)
            c->ck2k_alone = kseq != c->k2k_head + 1;
        if (ck_on && cseq == c->ck2k_head + 1 && (kseq != c->k2k_head + 1 || c->ck2k_turn)) {
            rk__gpu_ck2k_acquire(c);
            c->ck2k_turn = 0;
            c->k2k_owed = 0;
            RK_GPU_PROBE(c, RK__PROBE_K2K_SEEN);
            c->last_k2k_ns = now;
            if (c->h2k_gap < w->k2k_host_poll_ns)
                c->h2k_gap = w->k2k_host_poll_ns;
            c->action = RK__GPU_ACT_CK2K;
            c->busy_since = now;
            return;
        }
        if (kseq == c->k2k_head + 1) {
            /* The acquire load, or the acquire pattern with the relaxed
             * one: pairs with the sender's release, so the handler reads the
             * message written before it. */
            if (!k2k_busy)
                asm volatile("fence.acq_rel.gpu;" ::: "memory");
            c->ck2k_turn = 1;
            c->k2k_owed = 0;
            RK_GPU_PROBE(c, RK__PROBE_K2K_SEEN);
            c->last_k2k_ns = now;
            if (c->h2k_gap < w->k2k_host_poll_ns)
                c->h2k_gap = w->k2k_host_poll_ns;
            c->action = RK__GPU_ACT_K2K;
            c->busy_since = now;
            return;
        }
    }
    rk__gpu_idle(c, now);
}

/* Runs the handler for one message on every thread (collective). With
 * `last`, the caller's own barrier follows before any thread reads the
 * context again, and this one's trailing barrier is left out. */
template <class Types>
static __device__ __forceinline__ void rk__gpu_deliver(rk_dctx *c, const rk_msg *m, int last = 0)
{
    if (threadIdx.x == 0) {
        c->skip = 0;
        if (m->type == RK_MSG_TYPE_NOP) {
            c->skip = 1; /* a slot a refused K2K send had claimed */
        } else if (m->dst_gen != 0 && m->dst_gen != c->generation) {
            rk__gpu_dead_letter(c, m, RK_ESTALE);
            c->skip = 1;
        } else {
            c->msg = m;
            c->fail = 0;
            c->hlc = rk_hlc_merge(c->hlc, m->hlc, rk__gpu_phys_ms(c));
            rk__gpu_st32(&c->slot->busy, 1u);
            rk__st_relaxed(&c->slot->started, ++c->started, RK_RING_SCOPE_DEVICE);
        }
    }
    __syncthreads();
    if (threadIdx.x == 0)
        RK_GPU_PROBE(c, RK__PROBE_DELIVER);
    if (!c->skip) {
        rk_status st = Types::on_msg(c->type, c, c->astate, m);
        if (st != RK_OK)
            atomicCAS((int *)&c->fail, 0, (int)st);
    }
    __syncthreads();
    if (threadIdx.x == 0 && !c->skip) {
        RK_GPU_PROBE(c, RK__PROBE_HANDLED);
        c->msgs_in++;
        c->active_ns = c->now;
        c->dirty = 1;
        rk__st_relaxed(&c->slot->handled, ++c->handled, RK_RING_SCOPE_DEVICE);
        rk__gpu_st32(&c->slot->busy, 0u);
        if (c->fail != RK_OK)
            rk__gpu_failed(c, (rk_status)c->fail);
    }
    if (!last)
        __syncthreads();
}

/* Handles nmsg messages from the host's inbox (collective). Warps 1..
 * copy them into shared memory (one PCIe round trip for the batch) while
 * thread 0 reserves a slot of the host queue for the batch's first reply;
 * the handlers run; thread 0 publishes their sends to the host; only then
 * the last warp looks at the slots after the batch, so that the next round
 * needs no separate poll. That look costs a round trip that a reply must
 * not wait for: measured on an H200, it added ~0.5 us to the round trip when
 * issued with the copy, and ~0.7 us to the publication fence when issued
 * alongside it. */
template <class Types>
static __device__ __forceinline__ void rk__gpu_h2k(rk_dctx *c, unsigned char *buf)
{
    const uint32_t k = c->nmsg, ss = c->inbox.slot_size, chunks = ss / 16u;
    const uint64_t head = c->h2k_head;
    const uint32_t look_warp = (blockDim.x - 1u) / 32u;
    const uint32_t copy_first = blockDim.x > 32u ? 32u : 0u;
    uint32_t i, done = k;
    if (threadIdx.x == 0) {
        /* Read while the copy is in flight: a claim of a slot in the host
         * queue then needs only its compare-and-swap. */
        c->tail_hint = rk__ld_relaxed(&c->w->host_ring.prod->tail, RK_RING_SCOPE_DEVICE);
        c->head_hint = rk__ld_relaxed(&c->w->host_ring.prod->head_cache, RK_RING_SCOPE_DEVICE);
        c->hint_valid = 1;
        c->sent_host = 0;
        RK_GPU_PROBE(c, RK__PROBE_H2K);
        if (c->reserve) {
            rk_ring r = c->w->host_ring;
            c->reserved = rk__gpu_claim_host(c, &r, &c->reserved_pos) == RK_OK;
            /* Held while the handlers run, which may take long: marked, so
             * the host takes other blocks' messages meanwhile (ring.h). A
             * posted write; nothing waits for it. */
            if (c->reserved)
                rk__st_relaxed((uint64_t *)rk_ring_slot(&r, c->reserved_pos),
                               rk_ring_mark_word(c->reserved_pos, c->self), RK_RING_SCOPE_SYSTEM);
        }
        RK_GPU_PROBE(c, RK__PROBE_RESERVED);
    }
    /* Plain (relaxed) loads: decide's acquire load of the last ready
     * sequence word, or the look-ahead's, ordered them after the host's
     * release of these slots. Warp 0 stays out when there are others, so
     * that thread 0's claim above overlaps the copy. */
    for (i = threadIdx.x - copy_first; threadIdx.x >= copy_first && i < k * chunks; i += blockDim.x - copy_first) {
        const uint4 *src = (const uint4 *)rk_ring_slot(&c->inbox, head + i / chunks) + i % chunks;
        ((uint4 *)buf)[i] = rk__gpu_ld128_sys(src);
    }
    __syncthreads();
    if (threadIdx.x == 0)
        RK_GPU_PROBE(c, RK__PROBE_COPIED);
    for (i = 0; i < k; i++) {
        rk__gpu_deliver<Types>(c, (const rk_msg *)(buf + (size_t)i * ss));
        if (!rk_lifecycle_runs((rk_lifecycle_state)c->state)) {
            done = i + 1;
            break;
        }
    }
    if (threadIdx.x == 0) {
        c->hint_valid = 0;
        c->h2k_head = head + done;
        rk__gpu_unreserve(c);
        c->reserve = c->sent_host;
        if (!c->npub)
            RK_GPU_PROBE(c, RK__PROBE_FENCED); /* LL: every send published as written, no fence */
        rk__gpu_flush_pub(c);
        RK_GPU_PROBE(c, RK__PROBE_PUBLISHED);
        if (c->h2k_head - c->h2k_published >= c->inbox.capacity / 8u || c->draining)
            rk__gpu_publish_head(c);
    }
    /* The look-ahead's reads would queue in front of the fence's flush. */
    __syncthreads();
    if (threadIdx.x / 32u == look_warp) {
        const uint32_t lane = threadIdx.x % 32u;
        const uint32_t room = c->w->msg_buffer / ss;
        const uint32_t ahead = done < k ? 0u : room < 32u ? room : 32u;
        int ready = 0;
        unsigned m;
        __syncwarp();
        /* Acquire loads (ring.h): each pairs with the host's release store
         * of that slot's sequence word, so the copy in the next round reads
         * the data published with it. */
        if (lane < ahead)
            ready = rk_ring_ready(&c->inbox, head + k + lane) != NULL;
        m = __ballot_sync(0xffffffffu, ready);
        if (lane == 0)
            c->known_ready = ~m ? (uint32_t)(__ffs(~m) - 1) : 32u;
    }
}

/* The bookkeeping after a message from the cluster-tier ring (thread 0):
 * counted as taken once handled, as the global ring's head moves then -
 * counted before, the supervisor's quiescence test could see a message gone
 * before its handler shows up as started (rk__gpu_quiescent). */
static __device__ __forceinline__ void rk__gpu_ck2k_done(rk_dctx *c)
{
#if RK__GPU_CLUSTER_TIER
    if (!c->skip)
        c->cl_in++;
    c->ck2k_head++;
    rk__gpu_ck2k_account(c);
    rk__gpu_flush_pub(c);
    if (c->ck2k_head - c->ck2k_published >= c->ck2k.capacity / 8u || c->draining)
        rk__gpu_publish_ck2k(c);
#else
    (void)c;
#endif
}

/* Handles one message from a K2K inbox - the global ring, or with `cluster`
 * the cluster tier's - in place (collective; the main loop's barrier ends
 * it). One call site of the handlers for both rings: each inlines them. */
template <class Types>
static __device__ __forceinline__ void rk__gpu_k2k(rk_dctx *c, int cluster)
{
    const rk_msg *m = (const rk_msg *)(cluster ? rk_ring_slot(&c->ck2k, c->ck2k_head)
                                               : rk_ring_slot(&c->k2k, c->k2k_head));
    rk__gpu_deliver<Types>(c, m, 1);
    if (threadIdx.x == 0) {
        if (cluster) {
            rk__gpu_ck2k_done(c);
            return;
        }
        c->k2k_head++;
        rk__gpu_flush_pub(c);
        /* Freed in batches (a release store each): senders that find the
         * queue full retry, and an idle block publishes what is left. */
        if (c->k2k_head - c->k2k_published >= c->k2k.capacity / 8u || c->draining)
            rk__gpu_publish_k2k(c);
    }
}

#if RK__GPU_CLUSTER_TIER
/* The message at `pos` of the cluster-tier ring, once its sequence word has
 * landed. For a claim the closed, empty door (or the stop) made final: the
 * word always comes, and a late one landing after the next lap's would hide
 * that message for good (as in rk__gpu_reset_cmd). */
static __device__ __forceinline__ const rk_msg *rk__gpu_ck2k_landed(rk_dctx *c, uint64_t pos)
{
    const rk_msg *m = (const rk_msg *)rk_ring_slot(&c->ck2k, pos);
    while (rk__ck_ld_acquire((const uint64_t *)m) != pos + 1)
        __nanosleep(32);
    return m;
}
#endif

/* Takes what the cluster-tier ring holds past its head, with the door
 * closed and empty (the tail is final), as dead letters with `why`. */
static __device__ __noinline__ void rk__gpu_ck2k_shed(rk_dctx *c, rk_status why)
{
#if RK__GPU_CLUSTER_TIER
    uint64_t tail;
    if (!c->ck2k.capacity)
        return;
    tail = rk__ck_ld_acquire(&c->ck2k.prod->tail);
    for (; c->ck2k_head != tail; c->ck2k_head++) {
        const rk_msg *m = rk__gpu_ck2k_landed(c, c->ck2k_head);
        if (m->type != RK_MSG_TYPE_NOP)
            rk__gpu_dead_letter(c, m, why);
    }
    rk__gpu_ck2k_account(c);
    rk__gpu_publish_ck2k(c);
#else
    (void)c;
    (void)why;
#endif
}

/* At the stop, once no block of the cluster sends any more: what the
 * cluster-tier ring holds goes to the end of the block's global ring, which
 * the host dead-letters after the kernel (RK_ESHUTDOWN, counted in the
 * shutdown report). Senders of other clusters may still claim there, so
 * slot by slot; one that finds the ring full (the block consumes no more)
 * is dead-lettered from here, through the event ring, also counted. */
static __device__ __noinline__ void rk__gpu_ck2k_leave(rk_dctx *c)
{
#if RK__GPU_CLUSTER_TIER
    uint64_t tail, t, got;
    if (!c->ck2k.capacity)
        return;
    tail = rk__ck_ld_acquire(&c->ck2k.prod->tail);
    for (; c->ck2k_head != tail; c->ck2k_head++) {
        const rk_msg *m = rk__gpu_ck2k_landed(c, c->ck2k_head);
        int room = 0;
        if (m->type == RK_MSG_TYPE_NOP)
            continue;
        t = rk__ld_relaxed(&c->k2k.prod->tail, RK_RING_SCOPE_DEVICE);
        for (;;) {
            room = t + 1 - c->k2k_head <= c->k2k.capacity;
            if (!room || (got = rk__gpu_cas64(&c->k2k.prod->tail, t, t + 1)) == t)
                break;
            t = got;
        }
        if (!room) {
            rk__gpu_dead_letter(c, m, RK_ESHUTDOWN);
            continue;
        }
        rk__gpu_write_msg(rk_ring_slot(&c->k2k, t), m, rk_msg_payload(m), 0);
        /* The copy's bytes before its sequence word (the host reads them
         * after the kernel ends, which orders the rest). */
        asm volatile("fence.acq_rel.gpu;" ::: "memory");
        rk__st_relaxed((uint64_t *)rk_ring_slot(&c->k2k, t), t + 1, RK_RING_SCOPE_DEVICE);
    }
    rk__gpu_ck2k_account(c);
    rk__gpu_publish_ck2k(c);
#else
    (void)c;
#endif
}

/* HOLD_ON, the door closed and empty: the cluster-tier ring's messages move
 * to the end of the block's global K2K ring, where the host reads a held
 * actor's queue (it cannot read shared memory). No producer is left (the
 * door is closed and empty; the bridge passes it too), so one
 * compare-and-swap claims them all. They are taken before the cluster
 * ring's next (ck2k_after), so each sender's order holds. 0, with nothing
 * moved, when the global ring has no room for them all. */
static __device__ __noinline__ int rk__gpu_ck2k_spill(rk_dctx *c)
{
#if RK__GPU_CLUSTER_TIER
    uint64_t tail, gtail, n, i;
    if (!c->ck2k.capacity)
        return 1;
    tail = rk__ck_ld_acquire(&c->ck2k.prod->tail);
    n = tail - c->ck2k_head;
    if (n == 0)
        return 1;
    gtail = rk__ld_acquire(&c->k2k.prod->tail, RK_RING_SCOPE_DEVICE);
    if (gtail + n - c->k2k_head > c->k2k.capacity || rk__gpu_cas64(&c->k2k.prod->tail, gtail, gtail + n) != gtail)
        return 0;
    for (i = 0; i < n; i++) {
        const rk_msg *m = rk__gpu_ck2k_landed(c, c->ck2k_head + i);
        rk__gpu_write_msg(rk_ring_slot(&c->k2k, gtail + i), m, rk_msg_payload(m), 0);
    }
    /* The copies' bytes before their sequence words (the host waits for
     * those, after our acknowledgement). */
    asm volatile("fence.acq_rel.gpu;" ::: "memory");
    for (i = 0; i < n; i++)
        rk__st_relaxed((uint64_t *)rk_ring_slot(&c->k2k, gtail + i), gtail + i + 1, RK_RING_SCOPE_DEVICE);
    c->ck2k_head = tail;
    c->ck2k_after = gtail + n;
    rk__gpu_ck2k_account(c);
    rk__gpu_publish_ck2k(c);
    return 1;
#else
    (void)c;
    return 1;
#endif
}

/* BIND, first part (thread 0): returns 1 when the state must be reset and
 * the type's init run. */
static __device__ __noinline__ int rk__gpu_bind_begin(rk_dctx *c)
{
    const rk__gpu_world *w = c->w;
    const rk__gpu_cmd *cmd = &c->cmd;
    rk__gpu_dir *d = &w->dir[cmd->actor];
    const int rebind = c->bound;
    rk_lifecycle_state cur, to;
    rk_status st;
    uint64_t door = 0;
    uint32_t dstate = 0;
    if (cmd->actor >= w->max_actors || (rebind && c->self != cmd->actor)) {
        rk__gpu_send_ack(w, cmd->ticket, RK_EINTERNAL, 0);
        return 0;
    }
    /* A free block: the three words of device memory it needs, loaded
     * together (one L2 round trip, not three one after the other). A bound
     * block has the clock offset already. */
    if (!rebind) {
        door = rk__ld_relaxed(&d->door, RK_RING_SCOPE_DEVICE);
        dstate = rk__gpu_ld32(&d->state);
        c->clock_offset = (int64_t)rk__ld_relaxed((const uint64_t *)&w->dev->clock_offset_ns, RK_RING_SCOPE_DEVICE);
        if ((door & RK__GPU_DOOR_SLOT) != 0) {
            rk__gpu_send_ack(w, cmd->ticket, RK_EINTERNAL, 0);
            return 0;
        }
    }
    cur = rebind ? (rk_lifecycle_state)c->state : (rk_lifecycle_state)dstate;
    st = rk_lifecycle_next(cur, (rk_lifecycle_event)cmd->event, &to);
    if (st != RK_OK) {
        rk__gpu_send_ack(w, cmd->ticket, st, c->bound);
        return 0;
    }
    c->held = 0;
    /* The host's command names the allowance; the block's own restart
     * (ticket 0) keeps the one it has. */
    if (cmd->ticket != 0) {
        c->rate = cmd->rate;
        c->rate_granted = 0;
    }
    if (rebind) {
        door = rk__gpu_gate_close(c, 1);
        c->terminating = 0;
    } else {
        c->bound = 1;
        c->retired = 0;
        c->self = cmd->actor;
        c->ctl = &w->ctl[cmd->actor];
        c->inbox = cmd->inbox;
        c->h2k_head = c->h2k_published = 0;
        c->known_ready = 0;
        c->reserve = 0;
        if (cmd->event == RK_EV_CREATE) {
            rk__gpu_st32(&d->sup, 0u); /* a new actor: no supervisor's record yet */
            c->msgs_in = c->msgs_out = c->errors = c->dead_letters = c->busy_ns = 0;
            c->cl_in = c->cl_out = 0;
        } else {
            c->cl_in = rk__ld_relaxed(&c->ctl->k2k_cluster_in, RK_RING_SCOPE_SYSTEM);
            c->cl_out = rk__ld_relaxed(&c->ctl->k2k_cluster_out, RK_RING_SCOPE_SYSTEM);
            c->msgs_in = rk__ld_relaxed(&c->ctl->msgs_in, RK_RING_SCOPE_SYSTEM);
            c->msgs_out = rk__ld_relaxed(&c->ctl->msgs_out, RK_RING_SCOPE_SYSTEM);
            c->errors = rk__ld_relaxed(&c->ctl->errors, RK_RING_SCOPE_SYSTEM);
            c->dead_letters = rk__ld_relaxed(&c->ctl->dead_letters, RK_RING_SCOPE_SYSTEM);
            c->busy_ns = rk__ld_relaxed(&c->ctl->busy_ns, RK_RING_SCOPE_SYSTEM);
        }
        rk__gpu_st32_sys(&w->slot_actor[c->slot_index], cmd->actor);
    }
    c->h2k_gap = 0;
    c->h2k_next_ns = 0;
    /* A host's restart may cross the block's own (both mean one restart
     * from what they saw): the generation only ever grows. */
    c->generation = rebind && cmd->generation <= c->generation ? c->generation + 1u : cmd->generation;
    c->tenant = cmd->tenant;
    c->type = cmd->type;
    c->astate = (void *)(uintptr_t)cmd->state;
    c->keep_state = cmd->init == RK__GPU_INIT_KEEP;
    c->init = c->keep_state ? NULL : (const void *)(uintptr_t)cmd->init;
    c->state_size = cmd->state_size;
    rk__gpu_set_state(c, RK_INITIALIZING, 0);
    /* The generation after the state, with release: a supervisor block that
     * reads this generation with acquire (rk__gpu_round) then reads
     * Initializing or later, never the previous generation's state - which
     * it would take for this restart done (spec/findings/round-turn-order.md). */
    asm volatile("st.release.gpu.global.u32 [%0], %1;" ::"l"(&d->generation), "r"(c->generation) : "memory");
    rk__gpu_gate_open_at(c, door);
    return 1;
}

/* EVENT (thread 0). */
static __device__ __noinline__ void rk__gpu_event_cmd(rk_dctx *c)
{
    const rk__gpu_cmd *cmd = &c->cmd;
    rk_lifecycle_event ev = (rk_lifecycle_event)cmd->event;
    rk_lifecycle_state to;
    rk_status st;
    if (!c->bound || c->self != cmd->actor) {
        rk__gpu_send_ack(c->w, cmd->ticket, RK_ENOACTOR, 0);
        return;
    }
    st = rk_lifecycle_next((rk_lifecycle_state)c->state, ev, &to);
    if (st == RK_OK && c->terminating)
        st = RK_ESTATE;
    if (st != RK_OK) {
        rk__gpu_send_ack(c->w, cmd->ticket, st, 1);
        return;
    }
    switch (ev) {
    case RK_EV_DEACTIVATE:
        rk__gpu_gate_close(c, 1);
        rk__gpu_set_state(c, RK_DRAINING, cmd->ticket);
        break;
    case RK_EV_ACTIVATE:
        rk__gpu_set_state(c, RK_ACTIVE, cmd->ticket);
        rk__gpu_gate_open(c);
        break;
    case RK_EV_TERMINATE:
        rk__gpu_gate_close(c, 1);
        if (c->state == RK_ACTIVE)
            rk__gpu_set_state(c, RK_DRAINING, cmd->ticket);
        c->terminating = 1;
        c->term_ticket = cmd->ticket;
        c->h2k_final = cmd->h2k_final;
        return; /* acknowledged by rk__gpu_term_check once drained */
    case RK_EV_FAIL:
        c->msg = NULL;
        rk__gpu_failed(c, RK_EFAILED);
        break;
    default:
        rk__gpu_send_ack(c->w, cmd->ticket, RK_EINVAL, 1);
        return;
    }
    rk__gpu_flush_counters(c, rk__gpu_clock());
    rk__gpu_send_ack(c->w, cmd->ticket, RK_OK, 1);
}

/* RESET (thread 0): the creation failed, so the actor leaves the block as if
 * it never existed; what other actors sent it meanwhile is dead-lettered. */
static __device__ __noinline__ void rk__gpu_reset_cmd(rk_dctx *c)
{
    const rk__gpu_world *w = c->w;
    uint64_t tail;
    if (!c->bound || c->self != c->cmd.actor) {
        rk__gpu_send_ack(w, c->cmd.ticket, RK_ENOACTOR, 0);
        return;
    }
    rk__gpu_gate_close(c, 1);
    /* Acquire: the closed, empty door makes the tail final; pairs with the
     * senders' publishes. */
    tail = rk__ld_acquire(&c->k2k.prod->tail, RK_RING_SCOPE_DEVICE);
    for (; c->k2k_head != tail; c->k2k_head++) {
        const rk_msg *m = (const rk_msg *)rk_ring_slot(&c->k2k, c->k2k_head);
        /* The empty door makes the sender's claim and bytes visible, not
         * its sequence word (stored after its fence, unordered with its
         * leaving). Wait for it: it always comes, and a late one landing
         * after a sender of the next lap stored its own would hide that
         * message for good (spec/findings/k2k-reset-late-sequence.md). */
        while (rk__ld_acquire((const uint64_t *)m, RK_RING_SCOPE_DEVICE) != c->k2k_head + 1)
            __nanosleep(32);
        if (m->type != RK_MSG_TYPE_NOP)
            rk__gpu_dead_letter(c, m, RK_ESTATE);
    }
    rk__gpu_publish_k2k(c);
    rk__gpu_ck2k_shed(c, RK_ESTATE);
    rk__gpu_set_state(c, RK_DORMANT, c->cmd.ticket);
    rk__gpu_door_unbind(c);
    rk__gpu_flush_counters(c, rk__gpu_clock());
    rk__gpu_st32_sys(&w->slot_actor[c->slot_index], RK_ACTOR_NONE);
    c->bound = 0;
    c->terminating = 0;
    c->known_ready = 0;
    c->self = RK_ACTOR_NONE;
    rk__gpu_send_ack(w, c->cmd.ticket, RK_OK, 0);
}

/* HOLD (thread 0): a checkpoint's pause and resume. Taken between two
 * messages, so no handler runs and no batch is half done; held, the block
 * takes commands only, which leaves everything queued where the host can
 * read it (core/snapshot.c, cuda_actor.c). */
static __device__ __noinline__ void rk__gpu_hold_cmd(rk_dctx *c)
{
    const rk__gpu_cmd *cmd = &c->cmd;
    const uint32_t op = cmd->event;
    if (!c->bound || c->self != cmd->actor) {
        rk__gpu_send_ack(c->w, cmd->ticket, RK_ENOACTOR, 0);
        return;
    }
    if (op == RK__GPU_HOLD_ON) {
        if (c->held || c->terminating) {
            rk__gpu_send_ack(c->w, cmd->ticket, RK_ESTATE, 0);
            return;
        }
        /* No K2K sender inside: the K2K tail is final while held. */
        rk__gpu_gate_close(c, 1);
        if (!rk__gpu_ck2k_spill(c)) {
            /* The host cannot read what the cluster tier holds, and the
             * global ring has no room for it now: no hold. */
            if (c->state == RK_ACTIVE)
                rk__gpu_gate_open(c);
            rk__gpu_send_ack(c->w, cmd->ticket, RK_EFULL, 0);
            return;
        }
        c->held = 1;
        rk__gpu_flush_pub(c);
        /* Release stores (.sys for the inbox, .gpu for the K2K queue, which
         * the host reads by copy after our acknowledgement, released .sys):
         * the host reads the heads, and every slot below them is ours no
         * more. */
        rk__gpu_publish_head(c);
        rk__gpu_publish_k2k(c);
        rk__gpu_flush_counters(c, rk__gpu_clock());
        /* The tail too: with nothing claimed past the head (the usual case)
         * the host need not copy the K2K queue's index lines to learn it. */
        rk__gpu_send_ack2(c->w, cmd->ticket, RK_OK, c->k2k_head,
                          rk__ld_acquire(&c->k2k.prod->tail, RK_RING_SCOPE_DEVICE));
        return;
    }
    if (!c->held || op < RK__GPU_HOLD_SKIP || op > RK__GPU_HOLD_RETIRE) {
        rk__gpu_send_ack(c->w, cmd->ticket, c->held ? RK_EINVAL : RK_ESTATE, 0);
        return;
    }
    if (op != RK__GPU_HOLD_OFF) {
        const uint64_t k2k_to = cmd->state, h2k_to = cmd->h2k_final;
        const uint64_t k2k_tail = rk__ld_acquire(&c->k2k.prod->tail, RK_RING_SCOPE_DEVICE);
        if (h2k_to < c->h2k_head || h2k_to - c->h2k_head > c->inbox.capacity || k2k_to < c->k2k_head ||
            k2k_to > k2k_tail) {
            rk__gpu_send_ack(c->w, cmd->ticket, RK_EINVAL, 0);
            return;
        }
        /* A skipped K2K slot is free for the next lap once the head moves:
         * its sequence word must have landed first, or a late one would
         * hide the next lap's message (spec/findings/k2k-reset-late-sequence.md).
         * The host has read them all, so this wait is short. */
        for (; c->k2k_head != k2k_to; c->k2k_head++)
            while (rk__ld_acquire((const uint64_t *)rk_ring_slot(&c->k2k, c->k2k_head), RK_RING_SCOPE_DEVICE) !=
                   c->k2k_head + 1)
                __nanosleep(32);
        c->h2k_head = h2k_to;
        c->known_ready = 0;
        rk__gpu_publish_head(c);
        rk__gpu_publish_k2k(c);
    }
    if (op == RK__GPU_HOLD_RETIRE) {
        /* Its state lives on elsewhere: a group restart's turn taken while
         * held, or one still to come, must not bring this copy back with an
         * open door before the host terminates it. */
        c->restart_due = 0;
        c->retired = 1;
    }
    if (op != RK__GPU_HOLD_SKIP) {
        c->held = 0;
        c->h2k_gap = 0;
        c->h2k_next_ns = 0;
        if (op == RK__GPU_HOLD_OFF && c->state == RK_ACTIVE)
            rk__gpu_gate_open(c);
    }
    rk__gpu_send_ack(c->w, cmd->ticket, RK_OK, 0);
}

/* Executes a lifecycle command between two messages (collective). */
template <class Types>
static __device__ __forceinline__ void rk__gpu_exec(rk_dctx *c)
{
    uint32_t i, words;
    if (threadIdx.x == 0) {
        c->bcast = 0;
        if (c->cmd.op == RK__GPU_OP_BIND)
            c->bcast = rk__gpu_bind_begin(c);
        else if (c->cmd.op == RK__GPU_OP_EVENT)
            rk__gpu_event_cmd(c);
        else if (c->cmd.op == RK__GPU_OP_RESET)
            rk__gpu_reset_cmd(c);
        else if (c->cmd.op == RK__GPU_OP_HOLD)
            rk__gpu_hold_cmd(c);
        else if (c->cmd.op == RK__GPU_OP_RESTART)
            /* A group restart's turn: restarted next round (rk__gpu_decide),
             * as after its own failure - unless it is gone or going, or
             * deactivated (its host gate is closed: it stays Draining). */
            c->restart_due |= c->bound && c->self == c->cmd.actor && !c->terminating && !c->retired &&
                             (c->state == RK_ACTIVE ||
                              /* Failed: only a failure the record took, not the host's
                                 (spec/findings/round-restarts-final-failure.md) */
                              (c->state == RK_FAILED &&
                               (rk__gpu_ld32_sys(&c->ctl->flags) & RK_CONTROL_F_RESTARTING) != 0));
        else if (c->cmd.op == RK__GPU_OP_RATED) {
            /* Its tenant got or lost a rate quota. */
            const int mine = c->bound && c->self == c->cmd.actor;
            if (mine) {
                c->rate = c->cmd.type;
                c->rate_granted = 0;
            }
            rk__gpu_send_ack(c->w, c->cmd.ticket, mine ? RK_OK : RK_ENOACTOR, 0);
        } else
            rk__gpu_send_ack(c->w, c->cmd.ticket, RK_EINTERNAL, 0);
    }
    __syncthreads();
    if (!c->bcast)
        return;
    /* Fresh state: the initial state, or zeros (sizes are multiples of 16).
     * Not for a migration's new home (keep_state, the same for every
     * thread): its state is moved in before it handles anything, and
     * writing 16 MiB here cost 670 us of a 856 us migration (H200). */
    words = c->keep_state ? 0u : c->state_size / 16u;
    for (i = threadIdx.x; i < words; i += blockDim.x)
        ((uint4 *)c->astate)[i] = c->init ? ((const uint4 *)c->init)[i] : make_uint4(0, 0, 0, 0);
    if (threadIdx.x == 0) {
        c->fail = 0;
        c->msg = NULL;
    }
    __syncthreads();
    if (!c->keep_state) {
        rk_status st = Types::on_init(c->type, c, c->astate);
        if (st != RK_OK)
            atomicCAS((int *)&c->fail, 0, (int)st);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        rk_status st = (rk_status)c->fail;
        if (st != RK_OK && c->cmd.event == RK_EV_CREATE)
            rk__gpu_fail(c, st); /* the init's own status goes to the async error */
        else if (st != RK_OK)
            rk__gpu_failed(c, st); /* a restart: its record may try again */
        else
            rk__gpu_set_state(c, RK_ACTIVE, c->cmd.ticket);
        if (c->cmd.ticket == 0) {
            /* The block's own restart: the host learns the generation. The
             * flag goes only after the new generation and state are seen
             * (fence): a host that sees it clear and the actor still Failed
             * in the old generation would restart it too. */
            if (st == RK_OK) {
                asm volatile("fence.acq_rel.sys;" ::: "memory");
                rk__gpu_st32_sys(&c->ctl->flags, 0u);
            }
            rk__gpu_post_event(c->w, RK__GPU_EV_RESTART, c->self, c->generation, st, c->hlc, NULL);
        }
        c->active_ns = rk__gpu_clock();
        rk__gpu_flush_counters(c, c->active_ns);
        rk__gpu_send_ack(c->w, c->cmd.ticket, st == RK_OK ? RK_OK : RK_EHANDLER, 1);
    }
}

static __device__ __noinline__ void rk__gpu_block_exit(rk_dctx *c)
{
#if RK__GPU_CLUSTER_TIER
    if (c->ck2k.capacity) {
        /* A block's shared memory is gone once it exits, and the host
         * cannot read it before: wait until every block of the cluster has
         * left its loop (none sends any more - a handler's waiting send
         * gives up at the stop), then move what our ring holds where the
         * host finds it. The supervisor block (0) never writes DSMEM and is
         * not counted. */
        const uint32_t cs = c->w->cluster_size, k = blockIdx.x / cs, members = k == 0 ? cs - 1u : cs;
        uint32_t *out = &c->w->cluster_out[k];
        asm volatile("red.release.gpu.global.add.u32 [%0], 1;" ::"l"(out) : "memory");
        if (c->bound) {
            while (rk__gpu_ld32_acquire(out) < members)
                __nanosleep(256);
            rk__gpu_ck2k_leave(c);
        }
    }
#endif
    rk__gpu_flush_pub(c);
    rk__gpu_publish_k2k(c);
    if (!c->bound)
        return;
    rk__gpu_flush_counters(c, rk__gpu_clock());
    /* The host reads the final heads after the kernel ends to dead-letter
     * what is left. */
    rk__gpu_publish_head(c);
}

template <class Types>
static __device__ __forceinline__ void rk__gpu_actor_block(const rk__gpu_world *w)
{
    __shared__ rk_dctx ctx;
    extern __shared__ uint4 rk__gpu_buffer[];
    if (threadIdx.x == 0) {
        rk__gpu_block_init(&ctx, w);
        atomicAdd(&w->dev->started, 1u);
    }
    __syncthreads();
    for (;;) {
        uint32_t act;
        /* Thread 0 polls alone until there is something to do: a round
         * with nothing costs no barrier, so a message is seen sooner. */
        if (threadIdx.x == 0) {
            do
                rk__gpu_decide(&ctx);
            while (ctx.action == RK__GPU_ACT_NONE);
        }
        __syncthreads();
        act = ctx.action;
        if (act == RK__GPU_ACT_STOP)
            break;
        if (act == RK__GPU_ACT_CMD)
            rk__gpu_exec<Types>(&ctx);
        else if (act == RK__GPU_ACT_H2K)
            rk__gpu_h2k<Types>(&ctx, (unsigned char *)rk__gpu_buffer);
        else if (act == RK__GPU_ACT_K2K || act == RK__GPU_ACT_CK2K)
            rk__gpu_k2k<Types>(&ctx, act == RK__GPU_ACT_CK2K);
        __syncthreads();
    }
    if (threadIdx.x == 0)
        rk__gpu_block_exit(&ctx);
}

/* ---- the supervisor (block 0, one thread) -------------------------------------------- */

/* Two scans of every running actor: idle, K2K inbox empty, and no handler
 * started in between. *handled gets the messages handled so far. */
static __device__ __noinline__ int rk__gpu_quiescent(const rk__gpu_world *w, uint64_t *handled)
{
    uint64_t started[2] = {0, 0}, done = 0, csent = 0, csettled = 0;
    int quiet = 1, pass;
    uint32_t s;
    for (pass = 0; pass < 2; pass++) {
        for (s = 1; s < w->n_blocks; s++) {
            rk__gpu_slot *sl = &w->slots[s];
            started[pass] += rk__ld_relaxed(&sl->started, RK_RING_SCOPE_DEVICE);
            if (pass == 1 && w->ck2k_capacity) {
                /* Cluster-tier rings are shared memory, out of our sight:
                 * every message put into one has settled - taken, or with
                 * an actor that does not run (rk__gpu_ck2k_account). */
                csent += rk__ld_relaxed(&sl->ck2k_sent, RK_RING_SCOPE_DEVICE);
                csettled += rk__ld_relaxed(&sl->ck2k_acct, RK_RING_SCOPE_DEVICE);
            }
            if (pass == 1)
                done += rk__ld_relaxed(&sl->handled, RK_RING_SCOPE_DEVICE);
            if (!rk__gpu_ld32(&sl->runs))
                continue;
            if (rk__gpu_ld32(&sl->busy) ||
                rk__ld_relaxed(&sl->k2k.prod->tail, RK_RING_SCOPE_DEVICE) !=
                    rk__ld_relaxed(&sl->k2k.cons->head, RK_RING_SCOPE_DEVICE))
                quiet = 0;
        }
    }
    /* Messages from other members that the bridge has not handed on. */
    for (s = 0; s < RK__GPU_PEERS && quiet; s++) {
        rk_ring in;
        if (rk__gpu_peer_ring(w, s, 1, &in) &&
            rk_ring_ready(&in, rk__ld_relaxed(&w->peers[s].in_head, RK_RING_SCOPE_DEVICE)))
            quiet = 0;
    }
    *handled = done;
    return quiet && started[0] == started[1] && csent == csettled;
}

/* FORWARD: every entry named, or none (RK_EINVAL), re-pointed. A sender
 * reads `forward` only after it found the entry's door closed; a door
 * closed after this command (a HOLD or terminate that follows it on the
 * ring) is closed with release, after our stores (via the mailbox). */
static __device__ __noinline__ void rk__gpu_forward_cmd(const rk__gpu_world *w, const rk__gpu_fwd_cmd *cmd)
{
    uint32_t i;
    if (cmd->n > RK__GPU_FWD_IDS) {
        rk__gpu_send_ack(w, cmd->ticket, RK_EINVAL, 0);
        return;
    }
    for (i = 0; i < cmd->n; i++)
        if (cmd->ids[i] >= w->max_actors) {
            rk__gpu_send_ack(w, cmd->ticket, RK_EINVAL, 0);
            return;
        }
    for (i = 0; i < cmd->n; i++)
        rk__gpu_st32(&w->dir[cmd->ids[i]].forward, cmd->to);
    rk__gpu_send_ack(w, cmd->ticket, RK_OK, cmd->n);
}

/* Hands a command on; 0 when its block has not taken the previous one yet. */
static __device__ __noinline__ int rk__gpu_dispatch(const rk__gpu_world *w, const rk__gpu_cmd *cmd)
{
    rk__gpu_slot *sl;
    uint64_t posted, value = 0;
    if (cmd->op == RK__GPU_OP_QUERY) {
        int quiet = rk__gpu_quiescent(w, &value);
        rk__gpu_send_ack(w, cmd->ticket, quiet ? RK_OK : RK_ESTATE, value);
        return 1;
    }
    if (cmd->op == RK__GPU_OP_DRAIN) {
        rk__gpu_st32(&w->dev->draining, 1u);
        rk__gpu_send_ack(w, cmd->ticket, RK_OK, 0);
        return 1;
    }
    if (cmd->op == RK__GPU_OP_SUP) {
        rk__gpu_sup_cmd(w, cmd);
        return 1;
    }
    if (cmd->op == RK__GPU_OP_FORWARD) {
        rk__gpu_forward_cmd(w, (const rk__gpu_fwd_cmd *)cmd);
        return 1;
    }
    if (cmd->slot == 0 || cmd->slot >= w->n_blocks) {
        rk__gpu_send_ack(w, cmd->ticket, RK_EINTERNAL, 0);
        return 1;
    }
    sl = &w->slots[cmd->slot];
    posted = rk__ld_relaxed(&sl->mbox_seq, RK_RING_SCOPE_DEVICE);
    /* Acquire: pairs with the block's release of mbox_taken, so its copy of
     * the previous command is complete before we overwrite the mailbox. */
    if (rk__ld_acquire(&sl->mbox_taken, RK_RING_SCOPE_DEVICE) != posted)
        return 0;
    sl->mbox = *cmd;
    /* Release: the mailbox contents are visible before the new count. */
    rk__st_release(&sl->mbox_seq, posted + 1, RK_RING_SCOPE_DEVICE);
    return 1;
}

/* The group restart the supervisor block is carrying out (see rk__gpu_sup). */
typedef struct rk__gpu_round_state {
    uint32_t active;
    uint32_t rec;
    uint32_t at, n;   /* the child whose turn it is, of kids[0..n) */
    uint32_t started; /* its turn has begun: the deadline runs */
    uint32_t posted;  /* its turn is in its mailbox: wait for its next generation */
    uint32_t gen;     /* its generation before the turn */
    uint64_t deadline;
    uint32_t kids[RK__GPU_SUP_KIDS];
} rk__gpu_round_state;

#define RK__GPU_ROUND_TURN_NS 5000000000ull /* the longest wait for one child's turn */

/* Child `id`'s turn passes without a restart: a RESTARTING flag it has
 * from this record goes, after a fence (a host that sees it clear sees the
 * state we saw), or nobody would ever clear it
 * (spec/findings/round-detach-stuck-flag.md). A flag of another record's
 * (the child was attached elsewhere since) is not ours to clear. */
static __device__ __noinline__ void rk__gpu_round_pass(const rk__gpu_world *w, const rk__gpu_round_state *rd,
                                                    uint32_t id)
{
    const uint32_t sup = rk__gpu_ld32(&w->dir[id].sup);
    if ((sup == 0 || sup == rd->rec + 1u) && (rk__gpu_ld32_sys(&w->ctl[id].flags) & RK_CONTROL_F_RESTARTING)) {
        asm volatile("fence.acq_rel.sys;" ::: "memory");
        rk__gpu_st32_sys(&w->ctl[id].flags, 0u);
    }
}

/* One step of the round, between two looks at the command ring: never
 * waits, so that host commands go on while a child finishes a handler. */
static __device__ __noinline__ void rk__gpu_round(const rk__gpu_world *w, rk__gpu_round_state *rd)
{
    rk__gpu_dir *d;
    uint64_t door;
    uint32_t state, gen, flags, id;
    int final;
    if (!rd->active) {
        const uint64_t asked = rk__ld_relaxed(&w->dev->sup_rounds, RK_RING_SCOPE_DEVICE);
        rk__gpu_sup *r;
        uint32_t i, k;
        if (asked == 0)
            return;
        i = (uint32_t)__ffsll((long long)asked) - 1u;
        atomicAnd((unsigned long long *)&w->dev->sup_rounds, ~(1ull << i));
        r = &w->sups[i];
        /* The lock's acquire: the round and the children as the failing
         * block left them. */
        rk__gpu_sup_lock(r);
        if (r->round) {
            rd->active = 1;
            rd->rec = i;
            rd->at = r->from;
            rd->n = r->n_kids < RK__GPU_SUP_KIDS ? r->n_kids : RK__GPU_SUP_KIDS;
            for (k = 0; k < rd->n; k++)
                rd->kids[k] = r->kids[k];
            rd->started = rd->posted = 0;
            r->round = 0;
        }
        rk__gpu_sup_unlock(w, i);
        return;
    }
    if (rd->at >= rd->n) {
        rd->active = 0;
        return;
    }
    /* The record was turned off or gave up (the host stops the children
     * now, or escalates): the round ends, and the children still waiting
     * for their turn are the host's again. */
    if (rk__gpu_ld32(&w->sups[rd->rec].state) != RK__GPU_SUP_STATE_ON) {
        for (; rd->at < rd->n; rd->at++)
            if (rd->kids[rd->at] < w->max_actors)
                rk__gpu_round_pass(w, rd, rd->kids[rd->at]);
        rd->active = 0;
        return;
    }
    id = rd->kids[rd->at];
    if (id >= w->max_actors) {
        rd->at++;
        return;
    }
    if (!rd->started) {
        rd->started = 1;
        rd->deadline = rk__gpu_clock() + RK__GPU_ROUND_TURN_NS;
    }
    d = &w->dir[id];
    /* The generation first, with acquire: pairs with the release that
     * stores it after Initializing (rk__gpu_bind_begin), so a new generation
     * is never read with the old state (spec/findings/round-turn-order.md).
     * The state with acquire too: the child stores its flag, fences, then
     * its state, so a Failed read here comes with the flag it had. */
    gen = rk__gpu_ld32_acquire(&d->generation);
    state = rk__gpu_ld32_acquire(&d->state);
    flags = rk__gpu_ld32_sys(&w->ctl[id].flags);
    /* Failed without the flag: its failure is the host's, not the round's
     * (the record gave up or was off, or it failed while terminating;
     * spec/findings/round-restarts-final-failure.md). */
    final = state == RK_FAILED && !(flags & RK_CONTROL_F_RESTARTING);
    if (!rd->posted) {
        rk__gpu_cmd cmd;
        door = rk__ld_relaxed(&d->door, RK_RING_SCOPE_DEVICE);
        if ((door & RK__GPU_DOOR_SLOT) == 0 || rk__gpu_ld32(&d->sup) != rd->rec + 1u || final ||
            !(state == RK_ACTIVE || state == RK_FAILED) || rk__gpu_clock() > rd->deadline) {
            /* Not bound, not this record's any more, not running (a
             * deactivated child keeps draining, as the host asked), not the
             * round's, or its mailbox stayed busy too long (a handler that
             * does not return): its turn passes. */
            rk__gpu_round_pass(w, rd, id);
            rd->started = 0;
            rd->at++;
            return;
        }
        memset(&cmd, 0, sizeof cmd);
        cmd.op = RK__GPU_OP_RESTART;
        cmd.actor = id;
        cmd.slot = (uint32_t)((door & RK__GPU_DOOR_SLOT) >> RK__GPU_DOOR_SLOT_SHIFT) - 1u;
        if (!rk__gpu_dispatch(w, &cmd))
            return; /* its mailbox is busy: try again next step */
        rd->posted = 1;
        rd->gen = gen;
        return;
    }
    /* Its next generation runs, or its init failed (then its own failure
     * asks for the next round), or it stopped being restartable (a host
     * command came first), or it declined (its failure became the host's):
     * the next child's turn. Or the turn took too long: it passes. */
    if ((gen != rd->gen && (state == RK_ACTIVE || state == RK_FAILED)) || state == RK_TERMINATED ||
        state == RK_DORMANT || (final && gen == rd->gen)) {
        rd->started = rd->posted = 0;
        rd->at++;
    } else if (rk__gpu_clock() > rd->deadline) {
        if (gen == rd->gen)
            rk__gpu_round_pass(w, rd, id);
        rd->started = rd->posted = 0;
        rd->at++;
    }
}

/* The supervisor: warp 0 of block 0. Commands come in an LL ring (ring.h:
 * every 8-byte word carries 4 bytes of the command and a flag made from its
 * position), so one look reads a command whole - lane k the slot's word k,
 * all in one PCIe round trip - where a sequence word and then the slot
 * took two. Lane 0 does everything else. */
static __device__ __noinline__ void rk__gpu_supervise(const rk__gpu_world *w)
{
    const uint32_t lane = threadIdx.x % 32u;
    rk_ring cmdq = w->cmd_ring;
    /* Each lane's part lands here (a warp shuffle per word cost the look
     * ~0.45 us on an H200); lane 0 reads the command in place. */
    __shared__ rk__gpu_cmd cmd;
    rk__gpu_round_state rounds;
    uint64_t head = 0, idle_since = 0;
    uint32_t nap = 0;
    int pending = 0;
    rounds.active = 0;
    if (lane == 0) {
        atomicAdd(&w->dev->started, 1u);
        while (rk__gpu_ld32(&w->dev->started) < gridDim.x)
            __nanosleep(256);
        rk__st_relaxed((uint64_t *)&w->dev->clock_offset_ns,
                       (uint64_t)((int64_t)w->host_clock_ns - (int64_t)rk__gpu_clock()), RK_RING_SCOPE_DEVICE);
        /* Release: the clock offset is in place before the host, seeing
         * ready, sends anything that would make a block read it. */
        rk__st_release(&w->host->ready, 1, RK_RING_SCOPE_SYSTEM);
        idle_since = rk__gpu_clock();
    }
    for (;;) {
        const uint64_t *slot = (const uint64_t *)rk_ring_slot(&cmdq, head);
        uint64_t stop = 0, word = 0;
        int ok;
        /* The stop flag (relaxed) and the slot's sequence word, an acquire
         * load pairing with the host's release of it, which does not wait
         * for the load before it; the other lanes' words are relaxed (their
         * flags tell whether they were written for this position). Word 1
         * is unused. */
        if (lane == 0) {
            RK_GPU_PROBE_CMD(RK__PROBE_SUP_LOOK);
            stop = rk__ld_relaxed(&w->host->stop, RK_RING_SCOPE_SYSTEM);
            if (!pending)
                word = rk__ld_acquire(slot, RK_RING_SCOPE_SYSTEM);
        } else if (!pending && lane >= 2u) {
            word = rk__ld_relaxed(&slot[lane], RK_RING_SCOPE_SYSTEM);
        }
        if (__shfl_sync(0xffffffffu, stop, 0)) {
            /* Release: what the supervisor wrote is visible to the blocks
             * that stop on seeing this flag. */
            if (lane == 0)
                asm volatile("st.release.gpu.global.u32 [%0], %1;" ::"l"(&w->dev->stop), "r"(1u) : "memory");
            return;
        }
        ok = !pending && __all_sync(0xffffffffu, lane == 0   ? word == rk_ring_ll_word(head)
                                                 : lane == 1 ? 1
                                                             : (uint32_t)(word >> 32) == rk_ring_ll_flag(head));
        if (ok) {
            /* Command word k (bytes 8 + 4k) is lane k + 2's. */
            if (lane >= 2u)
                ((uint32_t *)&cmd)[lane] = (uint32_t)word;
            __syncwarp();
            pending = 1;
        }
        if (lane == 0) {
            int handed = 0;
            if (ok) {
                RK_GPU_PROBE_CMD(RK__PROBE_SUP_SEEN);
                RK_GPU_PROBE_CMD(RK__PROBE_SUP_CONSUMED);
            }
            if (pending && rk__gpu_dispatch(w, &cmd)) {
                RK_GPU_PROBE_CMD(RK__PROBE_SUP_HANDED);
                handed = 1;
            }
            if (ok) {
                /* The slot is the host's again, after the hand-over, which
                 * is what the command waited for. Release (ring.h): our reads
                 * of it come first. */
                rk_ring_ll_retire(&cmdq, head);
                rk_ring_consume(&cmdq, head + 1);
            }
            if (handed) {
                pending = 0;
                idle_since = rk__gpu_clock();
                nap = 0;
            } else {
                rk__gpu_round(w, &rounds);
                if (rounds.active) {
                    idle_since = rk__gpu_clock(); /* no nap while a round runs */
                    nap = 0;
                }
                if (rk__gpu_clock() - idle_since > 1000000u) {
                    nap = nap ? (nap < 8192u ? 2u * nap : nap) : 256u;
                    __nanosleep(nap);
                }
            }
        }
        if (ok)
            head++;
        pending = __shfl_sync(0xffffffffu, pending, 0);
    }
}

/* ---- the bridge (block 0, warp 1): messages from other members ------------------------- */

/* Lane 0 publishes a K2K slot the warp has filled (rk__gpu_k2k_put with
 * a defer): the __syncwarp before this orders the lanes' payload stores
 * before lane 0's fence, which orders them, and the claim, before the
 * sequence word and before we leave the door - as in rk__gpu_k2k_put. */
static __device__ __forceinline__ void rk__gpu_defer_done(const rk__gpu_defer *df)
{
    asm volatile("fence.acq_rel.gpu;" ::: "memory");
    rk__st_relaxed((uint64_t *)df->slot, df->pos + 1, RK_RING_SCOPE_DEVICE);
    asm volatile("red.relaxed.gpu.global.add.u64 [%0], %1;" ::"l"(df->door), "l"(~0ull) : "memory");
}

/* Lane 0 of the bridge: routes the message in `slot` (read in place, after
 * the bridge's acquire); one that cannot be delivered is dead-lettered. */
static __device__ __forceinline__ rk_status rk__gpu_bridge_route(const rk__gpu_world *w, const unsigned char *slot,
                                                            uint32_t cap, rk__gpu_defer *df)
{
    /* The header is copied (routing rewrites it); the payload is read in
     * place. */
    rk_msg hc = *(const rk_msg *)slot;
    rk_status st = hc.len > cap                   ? RK_E2BIG /* never from our senders */
                   /* A sender names the local id in our ring (rk__gpu_route) */
                   : hc.dst == RK__GID_HOST_LOCAL ? rk__gpu_bridge_host(w, &hc, slot + RK_MSG_HEADER_SIZE)
                                                  : rk__gpu_route(w, &hc, slot + RK_MSG_HEADER_SIZE, NULL, df);
    if (st != RK_OK && st != RK_EFULL)
        rk__gpu_post_event(w, RK__GPU_EV_DEAD_LETTER, hc.dst, 0, st, hc.hlc, &hc);
    return st;
}

/* Hands what other members sent (rings in our memory) to the local actors'
 * K2K rings, in order per sender member; all 32 lanes of warp 1 of block 0
 * (every branch below is uniform across them, or ends in a shuffle).
 *
 * Each pass looks at up to 32 slots of a ring at once (a relaxed load per
 * lane) and takes the ready ones before the first that is not with one
 * fence - the acquire pattern pairing with each sender's release of its
 * sequence word - so every lane may read those messages in place. Lane 0
 * routes each message (door, claim, header: rk__gpu_route) and the warp
 * copies its payload, 16 bytes a lane per step: one thread copying it
 * waited for each load in turn, which held the bridge to ~0.1 M msgs/s of
 * 1 KB on an H200. A message whose receiver is full stays at the head of
 * its ring (the senders then see RK_EFULL); one that cannot be delivered
 * is dead-lettered here with the reason. */
static __device__ __noinline__ void rk__gpu_bridge(const rk__gpu_world *w)
{
    const uint32_t lane = threadIdx.x % 32u;
    rk_ring in[RK__GPU_PEERS];
    uint64_t head[RK__GPU_PEERS];
    uint64_t idle_since = rk__gpu_clock();
    uint32_t have = 0, nap = 0, m;
    for (;;) {
        uint32_t moved = 0;
        if (__any_sync(0xffffffffu, rk__gpu_ld32(&w->dev->stop)))
            return;
        for (m = 0; m < RK__GPU_PEERS; m++) {
            uint32_t n = 0;
            if (!(have & (1u << m))) {
                /* Taken once every lane has seen it set, each lane's copy
                 * loaded after its own acquire of `in_ready`. */
                if (!__all_sync(0xffffffffu, rk__gpu_peer_ring(w, m, 1, &in[m])))
                    continue;
                have |= 1u << m;
                head[m] = 0;
            }
            while (n < 32u) {
                const uint64_t pos = head[m] + lane;
                /* An acquire load per lane (.sys: the writers are other
                 * GPUs' blocks), not a relaxed load and a fence: a
                 * fence.acq_rel.sys here would also wait for the bridge's
                 * last head store into the sender's memory, across the
                 * link. The __syncwarp below passes each lane's acquire on
                 * to the others, which read every slot of the run. */
                const uint64_t seq = rk__ld_acquire((const uint64_t *)rk_ring_slot(&in[m], pos), RK_RING_SCOPE_SYSTEM);
                const unsigned ready = __ballot_sync(0xffffffffu, seq == pos + 1);
                uint32_t k = ~ready ? (uint32_t)(__ffs(~ready) - 1) : 32u, j;
                if (k > 32u - n)
                    k = 32u - n;
                if (k == 0)
                    break;
                __syncwarp();
                for (j = 0; j < k; j++) {
                    const unsigned char *slot = (const unsigned char *)rk_ring_slot(&in[m], head[m]);
                    rk__gpu_defer df;
                    unsigned long long to;
                    uint32_t len, i;
                    int st = RK_OK;
                    df.slot = NULL;
                    df.len = 0;
                    if (lane == 0)
                        st = rk__gpu_bridge_route(w, slot, rk_msg_inline_capacity(in[m].slot_size), &df);
                    st = __shfl_sync(0xffffffffu, st, 0);
                    if (st == RK_EFULL)
                        break; /* the receiver is full: keep it, try again */
                    to = __shfl_sync(0xffffffffu, (unsigned long long)(uintptr_t)df.slot, 0);
                    len = __shfl_sync(0xffffffffu, df.len, 0);
                    if (to) {
                        const uint4 *src = (const uint4 *)(slot + RK_MSG_HEADER_SIZE);
                        uint4 *dst = (uint4 *)((unsigned char *)(uintptr_t)to + RK_MSG_HEADER_SIZE);
                        for (i = lane; i < (len + 15u) / 16u; i += 32u)
                            dst[i] = src[i];
                        __syncwarp();
                        if (lane == 0)
                            rk__gpu_defer_done(&df);
                    }
                    head[m]++;
                    n++;
                }
                if (j < k)
                    break;
            }
            if (n) {
                /* Release (.sys, into the sender's memory): our reads of
                 * those slots are done before its producers reuse them -
                 * the other lanes' too (the shuffles above came after
                 * them). */
                __syncwarp();
                if (lane == 0) {
                    rk_ring_consume(&in[m], head[m]);
                    rk__st_relaxed(&w->peers[m].in_head, head[m], RK_RING_SCOPE_DEVICE);
                }
                moved += n;
            }
        }
        if (moved) {
            idle_since = rk__gpu_clock();
            nap = 0;
        } else if (rk__gpu_clock() - idle_since > 1000000u) {
            nap = nap ? (nap < 1024u ? 2u * nap : nap) : 64u;
            __nanosleep(nap);
        }
    }
}

template <class Types>
static __device__ __forceinline__ void rk__gpu_main(const rk__gpu_world *w)
{
#if RK__GPU_CLUSTER_TIER
    /* With the cluster tier, every block of a cluster has started before
     * any writes another's shared memory, as the CUDA programming guide
     * asks of DSMEM: one cluster barrier, by every thread, at the start.
     * (A sender writes a ring only once its block's door is open, which
     * happens after the block started; the barrier says so to tools such
     * as racecheck.) Every block of the grid runs this. */
    if (w->ck2k_capacity && w->cluster_size > 1)
        asm volatile("barrier.cluster.arrive.release.aligned;\n\tbarrier.cluster.wait.acquire.aligned;" ::: "memory");
#endif
    if (rk__gpu_light_entry<Types::has_light>::template run<Types>(w))
        return;
    if (blockIdx.x == 0) {
        if (threadIdx.x < 32u)
            rk__gpu_supervise(w);
        else if (threadIdx.x / 32u == 1u)
            rk__gpu_bridge(w);
        return;
    }
    rk__gpu_actor_block<Types>(w);
}

/* ---- programs --------------------------------------------------------------------------- */

#define RK__GPU_KERNEL(name, ...)                                                                     \
    extern "C" __global__ void __launch_bounds__(RK_GPU_BLOCK_THREADS)                               \
        rk__gpu_kernel_##name(const rk__gpu_world *w)                                                \
    {                                                                                                \
        rk__gpu_main<rk__gpu_types<__VA_ARGS__> >(w);                                                \
    }                                                                                                \
    extern "C" __device__ const rk__gpu_info<rk__gpu_types<__VA_ARGS__>::count> rk__gpu_info_##name = \
        rk__gpu_make_info<__VA_ARGS__>()

#if defined(__CUDACC_RTC__)
#define RK_GPU_PROGRAM(name, ...) RK__GPU_KERNEL(name, __VA_ARGS__)
#else
/* Instantiates the persistent kernel over the listed actor types (index 0,
 * 1, ... in the order given) and defines `const rk_gpu_program name` (C
 * linkage; declare it elsewhere as `extern const struct rk_gpu_program
 * name;`). Use at file scope, once per program. */
#define RK_GPU_PROGRAM(name, ...)                                                                     \
    RK__GPU_KERNEL(name, __VA_ARGS__);                                                                \
    static int rk__gpu_resolve_##name(int device, void **fn)                                          \
    {                                                                                                 \
        if (cudaSetDevice(device) != cudaSuccess)                                                     \
            return -1;                                                                                \
        return cudaGetFuncBySymbol((cudaFunction_t *)fn, (const void *)rk__gpu_kernel_##name) ==      \
                       cudaSuccess                                                                    \
                   ? 0                                                                                \
                   : -1;                                                                              \
    }                                                                                                 \
    static const rk__gpu_info<rk__gpu_types<__VA_ARGS__>::count> rk__gpu_hinfo_##name =              \
        rk__gpu_make_info<__VA_ARGS__>();                                                             \
    extern "C" const rk_gpu_program name = {RK_GPU_PROGRAM_MAGIC,                                     \
                                            RK_GPU_ABI,                                               \
                                            rk__gpu_types<__VA_ARGS__>::count,                        \
                                            (uint32_t)RK_GPU_BLOCK_THREADS,                           \
                                            #name,                                                    \
                                            rk__gpu_resolve_##name,                                   \
                                            rk__gpu_hinfo_##name.state_size,                          \
                                            NULL,                                                     \
                                            0}
#endif

#endif /* __CUDACC__ */

#endif
