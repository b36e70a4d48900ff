/*
 * ring_spsc.pml - the single-producer ring of include/ringkernel/ring.h:
 * flag-in-line slots (a slot is ready when its sequence word is pos + 1),
 * batched publication, producer and consumer on different agents with
 * weak memory between them. The ring, the memory model and the processes
 * are in ring_common.pml.
 *
 * Mirrors rk_ring_claim's SPSC branch (a relaxed load and a plain store of
 * tail, no CAS), rk__ring_has_room (head cache, refreshed only when it says
 * full), rk_ring_publish (device branch: one fence per batch; host branch:
 * a release store per slot), rk_ring_ready and rk_ring_consume.
 *
 * Bounds (defaults): CAP = 2 slots, NMSG = 6 messages (three laps of the
 * ring), batches of 1 to NB = 2 positions (a batch may fill the whole
 * ring), the producer on the host or the device path (init chooses).
 * scripts/spec.sh also runs CAP = 4, NB = 4, NMSG = 12.
 *
 * Properties (R1-R6 of ring_common.pml): every read returns the message
 * written for that position (R1), and message k is read at position k,
 * so the consumer sees them in order, each once (R2); no store into a slot
 * that is still being read (R3); each position claimed once (R4); RK_EFULL
 * only when full (R5); no loss (R6: end states and ltl all_delivered).
 */

#define NPROD 1
#define MODE RK_RING_SPSC
#ifndef NMSG
#define NMSG 6
#endif
#define NMSG0 NMSG
#define NMSG1 0
#define KINDS ((1 << K_HOST) | (1 << K_DEV))

/* R1 and R2: message k (0-based) carries k + 1 and sits at position k. */
#define CHECK(pos, v) PROP(R1, expect[pos] != 0 && v == expect[pos]); PROP(R2, v == (pos) + 1)

#include "rk_tables.pml"
#include "ring_common.pml"
