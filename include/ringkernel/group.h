/* ringkernel: groups of runtimes that address each other's actors.
 *
 * A group is a set of runtimes ("members"), typically one per GPU: each
 * member runs its own persistent kernel (or, on the CPU backend, its own
 * worker threads). Actors of the group are named by group ids (gids): the
 * member index and the actor's id inside that member in one rk_actor_id.
 * Every send API takes gids - rk_send on any member, rk_ctx_send from a CPU
 * handler, rk_dsend from a GPU handler - and a message to an actor of
 * another member travels without the host: on CUDA through a ring whose
 * slots live in the receiver's device memory (written by the sender's GPU
 * over the peer mapping, NVLink or PCIe), which a warp of the receiver's
 * kernel hands to the actor's K2K inbox. Replies go back the same way: a
 * message that crossed members carries its sender's gid.
 *
 * Migration moves an actor to another member in three phases: quiesce (its
 * intake closes; it is held between two messages), transfer (its state,
 * device to device where the backend can, and what was queued, through the
 * host), swap (the old id forwards to the new one). The type's init does
 * not run at the new home: the actor goes on with the state it moved with
 * (a restart there starts fresh and runs init, as anywhere).
 * Senders that use the old gid meanwhile are told RK_EFULL (try again:
 * rk_send_wait and rk_dsend_wait do) and afterwards are forwarded; no
 * message is lost or handled twice. A supervised actor keeps its supervisor
 * (supervisor.h), which stays in its own member and supervises the actor
 * wherever it lives, restarting it there when it fails.
 *
 * Two members may share one GPU (two runtimes, each with a part of the
 * SMs): the protocol is the same, through that GPU's memory. */
#ifndef RINGKERNEL_GROUP_H
#define RINGKERNEL_GROUP_H

#include <stdint.h>

#include "ringkernel/export.h"
#include "ringkernel/ringkernel.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Group ids (rk_gid, rk_gid_member, rk_gid_local) are in msg.h: device
 * code uses them too. */

/* ---- creating a group -------------------------------------------------------- */

typedef struct rk_group rk_group;

typedef struct rk_group_options {
    /* Every member is created with these options; `device` is replaced by
     * devices[i]. On CUDA, gpu_program is required as for one runtime. */
    rk_runtime_options runtime;
    uint32_t members;          /* 1..RK_GROUP_MAX; default 2 */
    int devices[RK_GROUP_MAX]; /* CUDA device of each member; default 0, 1, 2, ... A device
                                  may repeat: those members share the GPU (give each a part
                                  of it: RK_CUDA_BLOCKS) */
    uint32_t peer_capacity;    /* CUDA: slots of each member-to-member ring; power of two,
                                  default 256 */
    uint64_t symmetric_bytes;  /* bytes of each member's symmetric region (below); 0 (the
                                  default): none. At most 2^40 */
} rk_group_options;

RK_API void rk_group_options_init(rk_group_options *o);

/* Creates the members, probes the links between their devices, enables
 * peer access where the devices allow it and connects every ordered pair of
 * members. RK_EINVAL for bad options, RK_ENOTSUP when two CUDA members
 * cannot reach each other's memory (no peer access), and what
 * rk_runtime_create returns. */
RK_API rk_status rk_group_create(rk_group **out, const rk_group_options *o);

/* Shuts every member down: intake stops everywhere, each member drains (up
 * to its drain timeout), then every member stops; messages left between
 * members are dead-lettered and counted. `report` (may be NULL) sums the
 * members' reports. Frees the group. NULL is a no-op. */
RK_API void rk_group_destroy(rk_group *g, rk_shutdown_report *report);

RK_API uint32_t rk_group_size(const rk_group *g);

/* The runtime of member `m` (NULL when out of range): use it for rk_recv,
 * rk_call, lifecycle commands by local id, and everything else. */
RK_API rk_runtime *rk_group_member(rk_group *g, uint32_t m);

/* ---- the symmetric region: bulk data between members ---------------------------
 *
 * With rk_group_options.symmetric_bytes > 0 every member holds a region of
 * that size, zeroed, made before any member runs and kept until the group
 * is destroyed. Messages carry at most one queue slot of payload (about
 * 1 KB between members on CUDA); larger data goes into a region and a
 * message says where. On CUDA the regions are device memory that every
 * member's kernel reaches (over the peer mapping: NVLink or PCIe, or the
 * GPU's own memory for members that share it): rk_dput copies a block's
 * bytes into any member's region, rk_dsym gives their address
 * (device.cuh). On the CPU backend they are host memory.
 *
 * The library does not divide a region or say when a part of it may be
 * written again: the program does, as it would with its own buffers (a
 * receiver answering "done with it" is the usual way). A message sent
 * after an rk_dput, by the same block, is ordered after the data: whoever
 * handles it reads the bytes put. */

/* Member m's region: *addr its address (CUDA: a device address, usable in
 * device code of any member and with the CUDA driver in member m's
 * context; CPU backend: a host pointer), *bytes its size. RK_EINVAL for m
 * out of range or NULLs, RK_ENOTSUP when the group has no regions
 * (symmetric_bytes 0). */
RK_API rk_status rk_group_symmetric(const rk_group *g, uint32_t m, uint64_t *addr, uint64_t *bytes);

/* ---- topology ------------------------------------------------------------------ */

typedef enum rk_link_kind {
    RK_LINK_NONE = 0,   /* no direct access: the members cannot be connected */
    RK_LINK_SAME = 1,   /* the same device (or both on the host, CPU backend) */
    RK_LINK_PCIE = 2,   /* peer access without native peer atomics: PCIe */
    RK_LINK_NVLINK = 3, /* peer access with native peer atomics: NVLink */
} rk_link_kind;

typedef struct rk_link_info {
    rk_link_kind kind;
    int access;         /* the first member's GPU can map the second's memory */
    int native_atomics; /* atomics on the peer's memory are native */
    int perf_rank;      /* the driver's relative rank of the link (lower is better) */
} rk_link_info;

/* How member `a` reaches member `b`. The kind is inferred from the driver's
 * peer attributes (NVLink: native peer atomics), not measured. */
RK_API rk_status rk_group_link(const rk_group *g, uint32_t a, uint32_t b, rk_link_info *out);
RK_API const char *rk_link_kind_name(rk_link_kind k);

/* ---- placement and launch --------------------------------------------------------- */

typedef enum rk_place_kind {
    RK_PLACE_LEAST_LOADED = 0, /* the member with the fewest live actors */
    RK_PLACE_MEMBER = 1,       /* pinned to `member` */
    RK_PLACE_NEAR = 2,         /* close to actor `near`: its member if it has room, else the
                                  least loaded member with the best link to it */
} rk_place_kind;

typedef struct rk_placement {
    rk_place_kind kind;
    uint32_t member;  /* RK_PLACE_MEMBER */
    rk_actor_id near; /* RK_PLACE_NEAR: a gid */
} rk_placement;

/* Launches an actor on the member the placement picks (rk_launch there)
 * and returns its gid. `p` NULL = least loaded. With RK_PLACE_NEAR on the
 * near actor's own member, the actor is also placed beside it there
 * (rk_actor_options.near: on CUDA with clusters, in its cluster of blocks);
 * o->near itself must be RK_ACTOR_NONE (RK_EINVAL otherwise: a local id
 * names no member). Errors as rk_launch, and RK_EINVAL / RK_ENOACTOR for a
 * bad placement. */
RK_API rk_status rk_group_launch(rk_group *g, const rk_actor_options *o, const rk_placement *p, rk_actor_id *gid);

/* Live actors the group counts on member `m` (launched there, not
 * terminated or migrated away through the group). */
RK_API uint32_t rk_group_load(const rk_group *g, uint32_t m);

/* The gid of the actor bound to `name` (its launch name, registry.h) on
 * any member. A migrated actor keeps its name: this finds it at its new
 * home (while it moves, both homes hold the name; the one not forwarding
 * wins). RK_ENOACTOR when no member has it, RK_EINVAL for NULLs. */
RK_API rk_status rk_group_lookup(rk_group *g, const char *name, rk_actor_id *gid);

/* The gid that `gid` forwards to now (itself if it has not moved). */
RK_API rk_status rk_group_resolve(rk_group *g, rk_actor_id gid, rk_actor_id *now);

/* ---- migration ------------------------------------------------------------------------ */

typedef enum rk_migrate_path {
    RK_MIGRATE_PEER = 1,   /* device to device over the peer mapping */
    RK_MIGRATE_DEVICE = 2, /* within one device */
    RK_MIGRATE_HOST = 3,   /* staged through host memory */
} rk_migrate_path;

typedef struct rk_migrate_report {
    rk_actor_id from, to;   /* gids */
    uint64_t state_bytes;
    uint64_t messages;      /* queued messages moved with it */
    uint64_t quiesce_ns;    /* intake closed, queue handled, actor held */
    uint64_t launch_ns;     /* the new home created and held still */
    uint64_t transfer_ns;   /* state (and messages) copied to the new home */
    uint64_t swap_ns;       /* new home running, old id forwarding, old actor terminated */
    uint64_t total_ns;
    rk_migrate_path path;
    uint32_t crc_before, crc_after; /* CRC-32C of the state (only with RK_MIGRATE_VERIFY) */
} rk_migrate_report;

enum rk_migrate_flags {
    RK_MIGRATE_VERIFY = 1u << 0,      /* checksum the state on both sides (through the host;
                                         not part of the times above) */
    RK_MIGRATE_HOST_STAGED = 1u << 1, /* copy through host memory even where a device path exists */
};

/* Moves actor `gid` to member `to`. The new actor has the same type,
 * options and name (the name moves in the registries), the state the old one
 * left, and a new gid (*report->to).
 *
 * A supervised actor moves with its supervision: its supervisor stays in
 * the member it was created in and goes on supervising it at its new home
 * - if it fails there it is restarted there (fresh state, the new home's
 * next generation) under the supervisor's strategy and intensity,
 * rk_kill_tree reaches it, and rk_supervisor_children names it by its new
 * gid. The supervisor never sees it half moved: the move waits (within
 * `timeout_ns`) until the supervisor is between two reactions, and the
 * supervisor waits until the move has ended. An actor that fails before it
 * is held still stays where it is, Failed, for its supervisor to restart
 * there (RK_ESTATE). Supervisors themselves stay in their member: given a
 * supervisor's id, RK_ENOTSUP.
 *
 * Returns RK_EINVAL for `to` out of range or equal to the actor's member,
 * RK_ENOACTOR, RK_ESTATE unless the actor is Active or Draining (also when
 * it fails while it is being quiesced), RK_ENOTSUP for a supervisor,
 * RK_ETIMEDOUT when it does not quiesce in time or its supervisor stays
 * busy (it then runs on where it was), RK_EFULL when, until then, its CUDA
 * K2K queue had no room for what its cluster-tier queue held (cuda-backend.md;
 * it runs on where it was), RK_EBADMSG when VERIFY finds the checksums
 * differ, RK_ENOMEM when `to` has no actor id left (ids are not reused:
 * every move takes one there, up to its max_actors; the actor runs on
 * where it was). `report` may be NULL. May block up to `timeout_ns`
 * (0: 5 s) and for the lifecycle commands it issues. */
RK_API rk_status rk_group_migrate(rk_group *g, rk_actor_id gid, uint32_t to, uint32_t flags, uint64_t timeout_ns,
                                  rk_migrate_report *report);

#ifdef __cplusplus
}
#endif

#endif
