/* ringkernel: checkpoints of running actors.
 *
 * rk_actor_checkpoint captures an actor of a runtime - its state bytes and
 * the messages waiting in its queue - as a checkpoint (checkpoint.h: the
 * versioned, checksummed format), full or as a delta against the actor's
 * previous checkpoint; rk_actor_restore puts one back. Both also come in a
 * file flavour.
 *
 * Consistency. The actor is quiesced while it is captured or restored: no
 * handler of it runs, none starts, and lifecycle commands wait (they take
 * the same runtime lock). It then resumes in the lifecycle state it had.
 * How it is quiesced depends on the backend:
 *
 *   CPU   its worker parks it between two messages; everything else keeps
 *         running. Senders are not refused: what they send meanwhile queues
 *         behind the captured messages and is handled after the resume. The
 *         checkpoint holds every message whose enqueue had completed when
 *         the capture read the queue, oldest first; they are copied, not
 *         taken: the actor still handles them.
 *   CUDA  the actor's block is held between two messages: it closes its
 *         K2K door, stops taking messages and publishes its queue heads;
 *         everything queued stays where it is (the inbox in pinned host
 *         memory, the K2K queue in device memory) and the checkpoint holds
 *         it, inbox and K2K messages merged by their HLC stamps, oldest
 *         first; they too are copied, not taken. A Failed actor's queue is
 *         captured the same way. Sends to it while it is held are refused
 *         with RK_ESTATE (host and K2K senders alike): the sender knows,
 *         nothing is dropped silently.
 *
 * Restore puts the state in place and queues the checkpoint's messages, in
 * their order, behind what the actor has queued now (those are kept), so
 * that the restored state goes on to handle exactly what was pending when
 * it was captured. RK_ACTOR_RESTORE_REPLACE_QUEUE dead-letters what is
 * queued first (reason RK_ESTALE). Restored messages keep their header
 * (source, correlation id, HLC stamp, flags); they are re-addressed to the
 * actor restored into.
 *
 * Deltas. The runtime keeps, per actor, a copy of the state of its last
 * checkpoint taken or restored (the "base"), its sequence number and CRC.
 * A delta checkpoint is encoded against that base and carries only the 4 KiB
 * blocks that differ; restoring a delta applies it to the base, so a chain
 * full, delta, delta, ... restores block-exact when applied in order, and a
 * delta whose base is not the actor's last checkpoint is refused
 * (RK_ESTALE) - except the actor's last checkpoint itself, which restores
 * from the base (rolling back to the latest checkpoint, full or delta,
 * needs nothing else). The base costs one copy of the state per actor (plus one
 * spare buffer to capture the next), from the first checkpoint or restore
 * until rk_actor_checkpoint_forget or the runtime's end.
 *
 * Validation. A restore checks everything before it touches the actor: the
 * checkpoint's checksums, sizes and records (a damaged or truncated one is
 * RK_EBADMSG), that it is for this actor and of its state size, that a delta
 * applies to the base, each message's header and tenant, and that the
 * messages fit the queue. A refused restore leaves the actor as it was.
 *
 * Sequence numbers are per actor, from 1, one per checkpoint taken; after
 * restoring checkpoint n the next one taken is at least n + 1.
 *
 * Every call here blocks: it waits for the actor to quiesce, for at most
 * 5 s (RK_ETIMEDOUT, the actor resumed as it was), and the _file calls do
 * I/O. Call them from host threads, not from a handler: a CPU actor's
 * handler would wait for its own worker (RK_ETIMEDOUT after 5 s).
 * Checkpoints and restores of one actor are serialised; of different
 * actors they run in parallel, except that quiescing takes the runtime's
 * lifecycle lock. Thread-safe.
 *
 * The runtime's copies (base, spare) are host memory that the memory-
 * pressure accounting (flow.h) does not count. */
#ifndef RINGKERNEL_SNAPSHOT_H
#define RINGKERNEL_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "ringkernel/checkpoint.h"
#include "ringkernel/export.h"
#include "ringkernel/msg.h"
#include "ringkernel/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rk_runtime rk_runtime; /* ringkernel.h */

enum rk_actor_checkpoint_flags {
    RK_ACTOR_CHECKPOINT_FULL = 0,
    RK_ACTOR_CHECKPOINT_DELTA = 1u << 0, /* against the actor's last checkpoint */
};

enum rk_actor_restore_flags {
    /* Accept a checkpoint taken of another actor id (of the same state size):
     * migration or cloning. Its messages' dst_gen is cleared, since it named
     * a generation of the other actor. */
    RK_ACTOR_RESTORE_ANY_ACTOR = 1u << 0,
    /* Dead-letter the messages queued now before queueing the checkpoint's. */
    RK_ACTOR_RESTORE_REPLACE_QUEUE = 1u << 1,
};

/* Checkpoints actor `id` into buf[0..cap): quiesces it, copies its state
 * and queued messages, resumes it, and encodes them (the encoding runs after
 * the resume). flags: RK_ACTOR_CHECKPOINT_FULL or _DELTA. *len gets the
 * checkpoint's length and `info` (may be NULL) its header. On RK_OK the
 * checkpoint becomes the actor's delta base. The caller owns buf.
 * Statuses: RK_OK; RK_E2BIG with the length this checkpoint needed in *len
 * (nothing else changed: no sequence number used, the base kept; a retry
 * captures afresh, so allow for a queue that grew); RK_ESTALE for a delta
 * when the actor has no base yet; RK_ENOACTOR; RK_ESTATE when the actor is
 * not Active, Draining, Failed or Terminated; RK_EFAILED if it failed while
 * being drained (CUDA); RK_ETIMEDOUT (also when the CUDA backend could not
 * reactivate it: it stays Draining and the checkpoint is discarded);
 * RK_ENOTSUP when the backend cannot
 * checkpoint; RK_EFULL (CUDA with clusters: until the timeout, the actor's
 * K2K queue had no room for what its cluster-tier queue held, which must
 * move there to be read - a Failed actor's queue does not empty);
 * RK_ESHUTDOWN; RK_ENOMEM; RK_EDEVICE; RK_EINVAL (NULL rt or len, buf NULL
 * with cap > 0, unknown flags). Blocks (see above). */
RK_API rk_status rk_actor_checkpoint(rk_runtime *rt, rk_actor_id id, uint32_t flags, void *buf, size_t cap,
                                     size_t *len, rk_checkpoint_info *info);

/* rk_actor_checkpoint into the file at `path`, written atomically
 * (rk_checkpoint_write_file). The checkpoint becomes the delta base only
 * once the file is written: after a failed write the next delta is still
 * against the last checkpoint that reached its file. *os_error (may be NULL)
 * gets the errno of a failed write, else 0. Statuses: those of
 * rk_actor_checkpoint (except RK_E2BIG for a buffer) and of
 * rk_checkpoint_write_file. Blocks on I/O. */
RK_API rk_status rk_actor_checkpoint_file(rk_runtime *rt, rk_actor_id id, uint32_t flags, const char *path,
                                          rk_checkpoint_info *info, int *os_error);

/* Restores the checkpoint buf[0..len) into actor `id`, which must be Active
 * or Draining: its state becomes the checkpoint's (a delta is applied to
 * the actor's base) and the checkpoint's messages are queued behind what is
 * queued now (see flags). Everything is validated first; on any status but
 * RK_OK the actor is unchanged (with REPLACE_QUEUE, RK_EFULL may come after
 * its queue was dead-lettered). On RK_OK the restored state becomes the
 * actor's delta base. info (may be NULL) gets the checkpoint's header once
 * it is found intact. buf stays the caller's and may be reused at return.
 * Statuses: RK_OK; RK_EBADMSG (damaged, truncated or trailing bytes);
 * RK_ENOTSUP (a newer format, or a backend that cannot restore); RK_EINVAL
 * (a checkpoint of another actor without RK_ACTOR_RESTORE_ANY_ACTOR, of
 * another state size, unknown flags, NULL arguments); RK_ESTALE (a delta
 * whose base is not the actor's last checkpoint, and that is not that
 * checkpoint either); RK_ETENANT (a message of
 * another tenant); RK_EBADMSG, RK_E2BIG or RK_EINVAL from a message header
 * that this runtime refuses (rk_msg_validate against max_payload);
 * RK_EFULL (the messages do not fit the queue now); RK_ENOACTOR; RK_ESTATE;
 * RK_EFAILED; RK_ETIMEDOUT; RK_ESHUTDOWN; RK_ENOMEM; RK_EDEVICE. One case
 * is not a refusal: RK_ETIMEDOUT or RK_EDEVICE when the CUDA backend
 * restored the actor but could not reactivate it afterwards (it stays
 * Draining; rk_activate it). Blocks. */
RK_API rk_status rk_actor_restore(rk_runtime *rt, rk_actor_id id, uint32_t flags, const void *buf, size_t len,
                                  rk_checkpoint_info *info);

/* rk_actor_restore from the file at `path`. A file larger than any
 * checkpoint of this actor could be is refused (RK_EBADMSG) before it is
 * read. Statuses: those of rk_actor_restore and rk_checkpoint_read_file;
 * *os_error as for rk_actor_checkpoint_file. Blocks on I/O. */
RK_API rk_status rk_actor_restore_file(rk_runtime *rt, rk_actor_id id, uint32_t flags, const char *path,
                                       rk_checkpoint_info *info, int *os_error);

/* Frees the actor's delta base (and spare buffer): its next delta is
 * RK_ESTALE until a full checkpoint or a restore. Sequence numbers go on.
 * RK_OK, RK_ENOACTOR, RK_EINVAL, RK_ESHUTDOWN. Waits for a checkpoint or
 * restore of the actor in progress. */
RK_API rk_status rk_actor_checkpoint_forget(rk_runtime *rt, rk_actor_id id);

#ifdef __cplusplus
}
#endif

#endif
