/*
 * ring_mpsc.pml - the multi-producer ring of include/ringkernel/ring.h
 * (every actor inbox of the CPU backend, the host-to-GPU inboxes, the GPU's
 * K2K inboxes and its queue to the host) with two producers under weak
 * memory. The ring, the memory model and the processes are in
 * ring_common.pml.
 *
 * Mirrors rk_ring_claim's MPSC branch (a relaxed load of tail, then room
 * check and CAS in a loop; a failed CAS reloads tail and rechecks room),
 * rk__ring_has_room with the head cache all producers share,
 * rk_ring_publish, rk_ring_ready and rk_ring_consume; and the GPU's own
 * producer of the queue to the host, rk__gpu_send_host with
 * rk__gpu_claim_host and the batched rk__gpu_flush_pub (device.cuh).
 *
 * Bounds (defaults): CAP = 2 slots; producer 0 sends NMSG0 = 2 messages,
 * producer 1 sends NMSG1 = 3 (five positions, two and a half laps; the
 * third message is what makes producer 1 refresh the shared head cache
 * while producer 0 holds an old tail); each producer on any of the three
 * paths K_HOST, K_DEV, K_GPUHOST (init chooses, independently); batches of
 * 1 to NB = 2 on the rk_ring_claim paths, up to PUB_MAX = 2 unpublished
 * positions on the K_GPUHOST path. The liveness check runs with
 * NMSG1 = 2 (weak fairness multiplies the cost).
 *
 * Properties (R1-R6 of ring_common.pml): every read returns the payload
 * claimed for that position (R1); per producer, messages arrive in the
 * order sent, none twice, none skipped (R2); no store into a slot still
 * being read (R3); each position claimed by one producer once (R4);
 * RK_EFULL from rk_ring_claim and rk__gpu_claim_host only when the ring
 * is full (R5); no loss (R6).
 */

#define NPROD 2
#define MODE RK_RING_MPSC
#ifndef NMSG0
#define NMSG0 2
#endif
#ifndef NMSG1
#define NMSG1 3
#endif
#ifndef KINDS
#define KINDS ((1 << K_HOST) | (1 << K_DEV) | (1 << K_GPUHOST))
#endif

byte next_k[NPROD]; /* per producer: the message number the consumer expects next */

/* R1, and R2 per producer: payload p * 8 + k + 1 is producer p's k-th. */
#define CHECK(pos, v) \
    PROP(R1, expect[pos] != 0 && v == expect[pos]); \
    PROP(R2, (v - 1) % 8 == next_k[(v - 1) / 8]); \
    next_k[(v - 1) / 8]++

#include "rk_tables.pml"
#include "ring_common.pml"
