/* light.cuh - light actors: many actors per persistent block, scheduled by a
 * run token (docs/many-actors.md sections 2, 4 and 5).
 *
 * A light actor is an inbox ring and a `sched` word. Whoever wins the token
 * (sched QUEUED -> RUNNING) runs the actor's handler; one holder at a time
 * makes the inbox single-consumer and keeps per-sender order. Each home (a
 * persistent block, or a host thread in tests/test_light.c) has a run queue
 * of the ids it has to run; an id is in it at most once and only while
 * QUEUED, so a queue as large as the home's actors never overflows.
 *
 * The protocol steps are plain functions of one thread (thread 0 of a block
 * on the GPU). They compile as CUDA device code (PTX atomics, gpu scope) and
 * as C11 host code (gcc __atomic builtins) with the same memory orders, so
 * the host test runs exactly the steps the GPU runs. The orders come from
 * spec/sched.pml (the token) and spec/handoff.pml (the block tier); each
 * carries its reason below.
 *
 * The runtime runs them through ringkernel/light.h (many-actors.md section
 * 7, step 7); tests and diagnostics also drive a world directly. */
#ifndef RK_LIGHT_CUH
#define RK_LIGHT_CUH

#include <stddef.h>
#include <stdint.h>
#if !defined(__CUDACC_RTC__)
#include <sched.h>
#include <stdio.h>
#endif

#include "ringkernel/device_caps.h"
#include "ringkernel/light.h"
#include "ringkernel/status.h"

#ifdef __CUDACC__
#define RK_LF static __host__ __device__ inline
#else
#define RK_LF static inline
#endif

/* The states of `sched` (AGAIN: a message came while the actor ran). */
#define RK_LIGHT_IDLE 0ull
#define RK_LIGHT_QUEUED 1ull
#define RK_LIGHT_RUNNING 2ull
#define RK_LIGHT_AGAIN 3ull

#define RK_LIGHT_NONE 0xffffffffu
/* The host, as the receiver of a handler's send (rk_light_ctx_send) and as
 * the sender of what came through the port (rk_light_port). */
#define RK_LIGHT_HOST 0xfffffffeu
/* The sender of a message from a block actor of the runtime (light.h): its
 * id with this bit. Actor indices stay below it (rk_light_world_layout). */
#define RK_LIGHT_FROM_BLOCK 0x40000000u

/* The block tier (rk_light_config.handoff; docs/many-actors.md section 5):
 * how a handler's send to an actor of its own home travels. */
#define RK_LIGHT_TOKEN 1u /* handed over: the home takes the receiver's token (global atomics) */
#define RK_LIGHT_LOCAL 2u /* through the home's local queue (shared memory on the GPU); no stealing */

/* Slots of a home's local queue (RK_LIGHT_LOCAL): messages its handlers
 * sent to actors of the same home and it has not yet run. A handler whose
 * send finds it full gets RK_EFULL. 64 slots are 4 KiB of a block's shared
 * memory. */
#ifndef RK_LIGHT_LOCAL_SLOTS
#define RK_LIGHT_LOCAL_SLOTS 64u
#endif

/* Slots of a home's cluster ring (rk_light_config.cluster): messages that
 * handlers on the other homes of its thread-block cluster sent to its
 * actors. On the GPU it lives in the home's shared memory and senders
 * write it through DSMEM; a sender that finds it full gets RK_EFULL. */
#ifndef RK_LIGHT_CLUSTER_SLOTS
#define RK_LIGHT_CLUSTER_SLOTS 32u
#endif

/* A test may stall a sender between its claim and its publish (the window
 * in which later messages wait behind a claimed slot). */
#ifndef RK_LIGHT_CLAIMED
#define RK_LIGHT_CLAIMED(src) ((void)0)
#endif
/* A diagnostic may count the naps a push took waiting for its slot. */
#ifndef RK_LIGHT_PUSH_NAPS
#define RK_LIGHT_PUSH_NAPS(n) ((void)0)
#endif
#define RK_LIGHT_WORDS 6 /* payload words of one message */

/* The longest nap of an idle home block, in ns (it doubles from 32 ns up
 * to this), without and with stealing: how soon an idle home looks again,
 * against how often idle homes load run queues from L2. On an H200
 * (diag_light, 2026-12-02, A/B in one call), 256 against 1024 took a
 * skewed load with stealing on 512 homes from 0.89 to 1.44 M msgs/s and on
 * 8 homes from 2.41 to 2.84, but cost 2-3% of an even load's rate and
 * lengthened the round trip between two homes from 10.3 to 10.9 us. */
#ifndef RK_LIGHT_NAP_MAX
#define RK_LIGHT_NAP_MAX 1024u
#endif
#ifndef RK_LIGHT_STEAL_NAP_MAX
#define RK_LIGHT_STEAL_NAP_MAX 256u
#endif

/* One inbox slot: its sequence word, then the message. `seq` is pos + 1 once
 * position pos is published, pos + capacity once it was handled (free for
 * the next lap), as in a Vyukov bounded queue. */
typedef struct rk_light_msg {
    uint64_t seq;
    uint32_t src, type;
    uint64_t w[RK_LIGHT_WORDS];
} rk_light_msg;

/* The runtime's id (light.h) of the sender `src` of a message. */
RK_LF rk_actor_id rk_light_public(uint32_t src)
{
    if (src == RK_LIGHT_HOST)
        return RK_ACTOR_HOST;
    return src & RK_LIGHT_FROM_BLOCK ? src & ~RK_LIGHT_FROM_BLOCK : RK_LIGHT_ID_BASE + src;
}

/* An actor: the words senders touch share one line (a sender's CAS on
 * `sched` right after its claim of `tail` finds the line in L2). `head` is
 * written only by the token's holder; the give-up's release carries it to
 * the next holder. */
typedef struct rk_light_actor {
    uint64_t sched;
    uint64_t tail;
    uint64_t head;
    uint32_t home;
    uint32_t pad0;
    uint64_t handled; /* messages of its inbox (and handed over) run, added by the token's holder at
                       * each give-up; its home's `locals` counts those of the local queue */
    uint64_t pad1[3];
} rk_light_actor;

/* A home's run queue header and counters. Queue slots are 64-bit words:
 * the lap (pos + 1 when holding an id, pos when free) in the high half and
 * the id in the low half, so one store publishes both. */
typedef struct rk_light_home {
    uint64_t tail; /* pushes claim positions here (any thread) */
    uint64_t pad0[7];
    uint64_t head; /* pops: CASed here by every popper with stealing on; else the home
                    * keeps it in its loop and writes it here when it returns */
    uint64_t runs, handled, handoffs, idle_polls; /* written when the home returns */
    uint64_t steals; /* runs of actors taken from other homes' queues */
    uint64_t locals; /* messages run from the home's local queue (RK_LIGHT_LOCAL) */
    uint64_t clustered; /* messages run from the home's cluster ring */
    uint64_t moved;  /* with stealing: messages of its cluster ring it moved into their receivers'
                      * inboxes instead of running them (rk__l_cluster_next) */
    uint64_t error;  /* an rk_status: RK_EINVAL when the block's cluster did not match cfg.cluster
                      * (the home returned without running) */
    uint64_t dropped; /* messages it held outside the inboxes (local queue, a handed one, its
                       * cluster ring) when a halt made it return (rk_light_halt) */
    uint64_t live_sent, live_handled; /* its handlers' sends to light actors and the messages it
                                       * ran, stored each time it finds nothing to do
                                       * (rk_light_publish) */
    uint64_t live_to_blocks; /* its handlers' sends to block actors, stored with them */
    uint64_t pad1[2];
} rk_light_home;

/* A home's cluster ring: a bounded MPSC queue (Vyukov) whose producers are
 * the handlers of the other homes of its cluster (with stealing, of every
 * home of it, its own too). `seq` of a slot is pos
 * while free for position pos, pos + 1 once published. */
typedef struct rk_light_cring {
    uint64_t tail; /* producers claim positions here (CAS) */
    uint64_t busy; /* the home's answer in a round of the cluster's shutdown (RK__L_ANSWER_*) */
    uint64_t bar;  /* host homes: the cluster's barrier (rank 0's ring; rk__l_host_cluster_sync) */
    uint64_t head; /* host homes: the consumer's head when the home returned (a GPU block's ring
                    * is new at each launch) */
    uint64_t pad[12];
    uint32_t dst[RK_LIGHT_CLUSTER_SLOTS]; /* each slot's receiver, written before its publish */
    rk_light_msg slot[RK_LIGHT_CLUSTER_SLOTS];
} rk_light_cring;

#if defined(__cplusplus)
static_assert(sizeof(rk_light_msg) == 64, "one inbox slot is one 64-byte line");
static_assert(sizeof(rk_light_actor) == 64, "one actor is one line");
static_assert(sizeof(rk_light_home) == 192, "the pushers' word on a line of its own");
static_assert(offsetof(rk_light_cring, slot) % 64 == 0, "cluster ring slots on lines of their own");
#else
_Static_assert(sizeof(rk_light_msg) == 64, "one inbox slot is one 64-byte line");
_Static_assert(sizeof(rk_light_actor) == 64, "one actor is one line");
_Static_assert(sizeof(rk_light_home) == 192, "the pushers' word on a line of its own");
_Static_assert(offsetof(rk_light_cring, slot) % 64 == 0, "cluster ring slots on lines of their own");
#endif
#if defined(__cplusplus)
static_assert(RK_LIGHT_LOCAL_SLOTS >= 2 && (RK_LIGHT_LOCAL_SLOTS & (RK_LIGHT_LOCAL_SLOTS - 1)) == 0,
              "RK_LIGHT_LOCAL_SLOTS is a power of two >= 2");
#else
_Static_assert(RK_LIGHT_LOCAL_SLOTS >= 2 && (RK_LIGHT_LOCAL_SLOTS & (RK_LIGHT_LOCAL_SLOTS - 1)) == 0,
               "RK_LIGHT_LOCAL_SLOTS is a power of two >= 2");
#endif
#if defined(__cplusplus)
static_assert(RK_LIGHT_CLUSTER_SLOTS >= 2 && (RK_LIGHT_CLUSTER_SLOTS & (RK_LIGHT_CLUSTER_SLOTS - 1)) == 0,
              "RK_LIGHT_CLUSTER_SLOTS is a power of two >= 2");
#else
_Static_assert(RK_LIGHT_CLUSTER_SLOTS >= 2 && (RK_LIGHT_CLUSTER_SLOTS & (RK_LIGHT_CLUSTER_SLOTS - 1)) == 0,
               "RK_LIGHT_CLUSTER_SLOTS is a power of two >= 2");
#endif

/* ---- the host's port (docs/many-actors.md section 3) ----------------------------------
 *
 * Host threads do not touch an actor's `sched` word: on our H200 the host's
 * atomics and the GPU's are not atomic with respect to each other
 * (host_native_atomics is 0), and home blocks must not poll host memory
 * (many idle pollers cost every busy block, session 13). So the host's
 * messages go into one ring in pinned memory, which one forwarding thread
 * (rk_light_ingress: a thread of a block of its own on the GPU) polls and
 * hands on with rk_light_send; and a handler's send to RK_LIGHT_HOST goes
 * into a ring of its home's, which the host polls (rk_light_port_recv). */
#ifndef RK_LIGHT_PORT_SLOTS
#define RK_LIGHT_PORT_SLOTS 256u /* slots of the ring from the host */
#endif
#ifndef RK_LIGHT_OUT_SLOTS
#define RK_LIGHT_OUT_SLOTS 32u /* slots of each home's ring to the host */
#endif

/* A slot of the ring from the host: `seq` is pos while free for position
 * pos, pos + 1 once published (Vyukov); the receiver is named in it. */
typedef struct rk_light_hmsg {
    uint64_t seq;
    uint32_t dst, type;
    uint64_t w[RK_LIGHT_WORDS];
} rk_light_hmsg;

/* A home's ring to the host: one producer (the home's scheduling thread),
 * one consumer (the host). A slot's `seq` is pos + 1 once position pos is
 * published; `src` is the actor that sent it. */
typedef struct rk_light_out {
    uint64_t head; /* the host's: positions before it are read (stored with release after the read) */
    uint64_t tail; /* the home's: saved when it returns, so a world can run again */
    uint64_t pad[6];
    rk_light_msg slot[RK_LIGHT_OUT_SLOTS];
} rk_light_out;

/* In pinned memory, mapped for the GPU: the ring from the host, then one
 * rk_light_out per home. rk_light_port_bytes gives its size. */
typedef struct rk_light_port {
    uint64_t tail;    /* host senders claim positions here (host atomics only) */
    uint64_t pad0[7];
    uint64_t refused; /* messages the forwarder could not deliver (a bad receiver); written by it */
    uint64_t forwarded; /* the forwarder's position: saved when it returns, so a world can run again */
    uint32_t actors, homes;
    uint64_t recv_at; /* the host's receiver: the home it looks at first next time */
    uint64_t pad1[4];
    rk_light_hmsg in[RK_LIGHT_PORT_SLOTS];
    rk_light_out out[1]; /* [homes] */
} rk_light_port;

#if defined(__cplusplus)
static_assert(sizeof(rk_light_hmsg) == 64 && offsetof(rk_light_port, in) % 64 == 0 &&
                  offsetof(rk_light_port, out) % 64 == 0 && sizeof(rk_light_out) % 64 == 0,
              "the port's slots on lines of their own");
#else
_Static_assert(sizeof(rk_light_hmsg) == 64 && offsetof(rk_light_port, in) % 64 == 0 &&
                   offsetof(rk_light_port, out) % 64 == 0 && sizeof(rk_light_out) % 64 == 0,
               "the port's slots on lines of their own");
#endif

typedef struct rk_light_config {
    uint32_t actors;    /* light actors, ids 0 .. actors-1 */
    uint32_t homes;     /* run queues; actor a lives on home a % homes */
    uint32_t inbox;     /* slots per inbox, a power of two >= 2 */
    uint32_t batch;     /* messages a run handles before it gives the token up, >= 1 */
    uint32_t handoff;   /* the block tier for a handler's sends to its own home: 0 (inboxes),
                         * RK_LIGHT_TOKEN or RK_LIGHT_LOCAL (section 5) */
    uint32_t steal;     /* nonzero: a home with nothing of its own takes queued actors of
                         * others (of its own cluster only, with a cluster); not with
                         * RK_LIGHT_LOCAL */
    uint32_t cluster;   /* 0, or 2..16: homes h .. h+cluster-1 (h a multiple of it) form a
                         * thread-block cluster, and a handler's sends to the actors of another
                         * home of its cluster (with stealing: of any home of its cluster, its
                         * own too) go through that home's cluster ring (DSMEM); homes a
                         * multiple of it */
} rk_light_config;

/* Everything lives in one allocation whose layout rk_light_world_layout
 * computes; the struct sits at its start. */
typedef struct rk_light_world {
    rk_light_config cfg;
    uint32_t qcap;          /* run-queue slots per home: a power of two >= actors per home */
    uint32_t pad0;
    rk_light_actor *actor;  /* [actors] */
    rk_light_msg *slot;     /* [actors * inbox] */
    rk_light_home *home;    /* [homes] */
    uint64_t *queue;        /* [homes * qcap] */
    rk_light_cring *cring;  /* [homes] with a cluster: host homes' rings (a GPU home's is in its
                             * shared memory) */
    volatile uint32_t *stop; /* nonzero: homes return when idle; device memory on the GPU (see rk_light_block) */
    rk_light_port *port;     /* the host's port (rk_light_world_set_port), or NULL */
    volatile uint32_t *halt; /* NULL, or nonzero: homes return between two messages, busy or not
                              * (rk_light_halt). Device memory on the GPU */
} rk_light_world;

#if defined(__cplusplus)
static_assert(sizeof(rk_light_world) <= 256, "rk_light_world_layout keeps 256 bytes for the header");
#else
_Static_assert(sizeof(rk_light_world) <= 256, "rk_light_world_layout keeps 256 bytes for the header");
#endif

/* ---- atomics: one meaning on both sides ----------------------------------------------- */

#if defined(__CUDA_ARCH__)
RK_LF uint64_t rk__l_ld_acq(const uint64_t *p)
{
    uint64_t v;
    asm volatile("ld.acquire.gpu.global.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
    return v;
}
RK_LF uint64_t rk__l_ld(const uint64_t *p)
{
    uint64_t v;
    asm volatile("ld.relaxed.gpu.global.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
    return v;
}
RK_LF void rk__l_st_rel(uint64_t *p, uint64_t v)
{
    asm volatile("st.release.gpu.global.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
}
RK_LF void rk__l_st(uint64_t *p, uint64_t v)
{
    asm volatile("st.relaxed.gpu.global.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
}
/* Returns the value found; the swap happened when it equals `want`. */
RK_LF uint64_t rk__l_cas_acqrel(uint64_t *p, uint64_t want, uint64_t to)
{
    uint64_t got;
    asm volatile("atom.acq_rel.gpu.global.cas.b64 %0, [%1], %2, %3;" : "=l"(got) : "l"(p), "l"(want), "l"(to) : "memory");
    return got;
}
RK_LF uint64_t rk__l_cas_acq(uint64_t *p, uint64_t want, uint64_t to)
{
    uint64_t got;
    asm volatile("atom.acquire.gpu.global.cas.b64 %0, [%1], %2, %3;" : "=l"(got) : "l"(p), "l"(want), "l"(to) : "memory");
    return got;
}
RK_LF uint64_t rk__l_cas_rel(uint64_t *p, uint64_t want, uint64_t to)
{
    uint64_t got;
    asm volatile("atom.release.gpu.global.cas.b64 %0, [%1], %2, %3;" : "=l"(got) : "l"(p), "l"(want), "l"(to) : "memory");
    return got;
}
RK_LF uint64_t rk__l_cas(uint64_t *p, uint64_t want, uint64_t to)
{
    uint64_t got;
    asm volatile("atom.relaxed.gpu.global.cas.b64 %0, [%1], %2, %3;" : "=l"(got) : "l"(p), "l"(want), "l"(to) : "memory");
    return got;
}
RK_LF uint64_t rk__l_add(uint64_t *p, uint64_t v)
{
    uint64_t old;
    asm volatile("atom.relaxed.gpu.global.add.u64 %0, [%1], %2;" : "=l"(old) : "l"(p), "l"(v) : "memory");
    return old;
}
RK_LF void rk__l_pause(unsigned ns) { __nanosleep(ns); }
RK_LF uint32_t rk__l_stopped(const volatile uint32_t *p)
{
    uint32_t v;
    asm volatile("ld.relaxed.sys.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
    return v;
}
#else
RK_LF uint64_t rk__l_ld_acq(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
RK_LF uint64_t rk__l_ld(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
RK_LF void rk__l_st_rel(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
RK_LF void rk__l_st(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }
RK_LF uint64_t rk__l_cas_acqrel(uint64_t *p, uint64_t want, uint64_t to)
{
    __atomic_compare_exchange_n(p, &want, to, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
    return want;
}
RK_LF uint64_t rk__l_cas_acq(uint64_t *p, uint64_t want, uint64_t to)
{
    __atomic_compare_exchange_n(p, &want, to, 0, __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE);
    return want;
}
RK_LF uint64_t rk__l_cas_rel(uint64_t *p, uint64_t want, uint64_t to)
{
    __atomic_compare_exchange_n(p, &want, to, 0, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
    return want;
}
RK_LF uint64_t rk__l_cas(uint64_t *p, uint64_t want, uint64_t to)
{
    __atomic_compare_exchange_n(p, &want, to, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    return want;
}
RK_LF uint64_t rk__l_add(uint64_t *p, uint64_t v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
RK_LF void rk__l_pause(unsigned ns) { (void)ns; }
RK_LF uint32_t rk__l_stopped(const volatile uint32_t *p)
{
    return __atomic_load_n((const uint32_t *)p, __ATOMIC_RELAXED);
}
#endif

/* The port's words (rk_light_port): pinned host memory, which the GPU
 * reaches at system scope; on the host the orders above. */
#if defined(__CUDA_ARCH__)
RK_LF uint64_t rk__lh_ld_acq(const uint64_t *p)
{
    uint64_t v;
    asm volatile("ld.acquire.sys.global.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
    return v;
}
RK_LF void rk__lh_st_rel(uint64_t *p, uint64_t v)
{
    asm volatile("st.release.sys.global.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
}
RK_LF void rk__lh_st(uint64_t *p, uint64_t v)
{
    asm volatile("st.relaxed.sys.global.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
}
#else
RK_LF uint64_t rk__lh_ld_acq(const uint64_t *p) { return rk__l_ld_acq(p); }
RK_LF void rk__lh_st_rel(uint64_t *p, uint64_t v) { rk__l_st_rel(p, v); }
RK_LF void rk__lh_st(uint64_t *p, uint64_t v) { rk__l_st(p, v); }
#endif

/* The cluster ring's words (rk_light_cring). On the GPU they are shared
 * memory of a block of the cluster, reached by generic address (the
 * block's own, or a peer's through mapa) at cluster scope, which covers
 * every block that may touch them; sm_90 and later. On the host they are
 * the world's words, with the orders above. RK__L_CLUSTER says whether the
 * tier exists in this compilation.
 *
 * compute-sanitizer racecheck reports each release store of a sequence
 * word and the peer's acquire load of it as a RAW or WAR hazard (CUDA
 * 13.0, H200, 2026-12-02): it does not see synchronisation through DSMEM.
 * Atomics in their place (an acquire OR of 0, a release exchange) were
 * reported the same, and the GPU-wide token rate with clusters of 8 was
 * 39-44 M hops/s with them against 246 with the loads and stores (two
 * calls, so two machines; far beyond the 30% those differ by). The loads
 * and stores stay; gpu.sh runs racecheck without the cluster cases
 * (RK_LIGHT_RACECHECK). */
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#define RK__L_CLUSTER 1
#define RK__L_DSMEM 1 /* this is the device pass of an sm_90 (or later) build */
RK_LF uint64_t rk__lc_ld_acq(const uint64_t *p)
{
    uint64_t v;
    asm volatile("ld.acquire.cluster.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
    return v;
}
RK_LF uint64_t rk__lc_ld(const uint64_t *p)
{
    uint64_t v;
    asm volatile("ld.relaxed.cluster.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
    return v;
}
RK_LF void rk__lc_st_rel(uint64_t *p, uint64_t v)
{
    asm volatile("st.release.cluster.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
}
RK_LF void rk__lc_st(uint64_t *p, uint64_t v)
{
    asm volatile("st.relaxed.cluster.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
}
RK_LF uint64_t rk__lc_cas(uint64_t *p, uint64_t want, uint64_t to)
{
    uint64_t got;
    asm volatile("atom.relaxed.cluster.cas.b64 %0, [%1], %2, %3;" : "=l"(got) : "l"(p), "l"(want), "l"(to) : "memory");
    return got;
}
/* This block's shared address p as block `rank` of the cluster has it. */
RK_LF void *rk__lc_map(const void *p, uint32_t rank)
{
    uint64_t d;
    asm volatile("mapa.u64 %0, %1, %2;" : "=l"(d) : "l"((uint64_t)(uintptr_t)p), "r"(rank));
    return (void *)(uintptr_t)d;
}
RK_LF uint32_t rk__lc_rank(void)
{
    uint32_t r;
    asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(r));
    return r;
}
RK_LF uint32_t rk__lc_size(void)
{
    uint32_t n;
    asm volatile("mov.u32 %0, %%cluster_nctarank;" : "=r"(n));
    return n;
}
/* Every thread of every block of the cluster: the release and acquire
 * order each block's shared memory writes before the others' reads. */
RK_LF void rk__lc_sync(void)
{
    asm volatile("barrier.cluster.arrive.release;\n\tbarrier.cluster.wait.acquire;" ::: "memory");
}
#else
#define RK__L_DSMEM 0
#if defined(__CUDA_ARCH__)
#define RK__L_CLUSTER 0 /* below sm_90: rk_light_block refuses a world with a cluster */
#else
#define RK__L_CLUSTER 1
#endif
/* Host homes; below sm_90 these only compile (no ring is ever used). */
RK_LF uint64_t rk__lc_ld_acq(const uint64_t *p) { return rk__l_ld_acq(p); }
RK_LF uint64_t rk__lc_ld(const uint64_t *p) { return rk__l_ld(p); }
RK_LF void rk__lc_st_rel(uint64_t *p, uint64_t v) { rk__l_st_rel(p, v); }
RK_LF void rk__lc_st(uint64_t *p, uint64_t v) { rk__l_st(p, v); }
RK_LF uint64_t rk__lc_cas(uint64_t *p, uint64_t want, uint64_t to) { return rk__l_cas(p, want, to); }
#endif

/* Host homes of one cluster meet here: a counter in the ring of the
 * cluster's first home; the k-th arrival is of round ceil(k / cluster) and
 * waits until the round is full. Acq_rel and acquire: what a home wrote
 * before it arrived is visible to all after the round. */
static inline void rk__l_host_cluster_sync(rk_light_world *w, uint32_t h)
{
    uint64_t n = w->cfg.cluster, *bar = &w->cring[h - h % n].bar;
    uint64_t k = __atomic_add_fetch(bar, 1, __ATOMIC_ACQ_REL), round = (k + n - 1) / n * n;
    while (__atomic_load_n(bar, __ATOMIC_ACQUIRE) < round)
        sched_yield();
}

/* ---- layout ---------------------------------------------------------------------------- */

RK_LF int rk__l_pow2(uint32_t v) { return v && !(v & (v - 1)); }

RK_LF uint32_t rk__l_ceil_pow2(uint32_t v)
{
    uint32_t p = 1;
    while (p < v)
        p <<= 1;
    return p;
}

/* Offsets of the parts in one allocation; 0 bytes for a bad config. */
typedef struct rk_light_layout {
    size_t actor, slot, home, queue, cring, bytes;
    uint32_t qcap;
} rk_light_layout;

RK_LF rk_light_layout rk_light_world_layout(const rk_light_config *c)
{
    rk_light_layout l = {0, 0, 0, 0, 0, 0, 0};
    uint32_t per_home;
    if (!c || !c->actors || !c->homes || c->homes > c->actors || !rk__l_pow2(c->inbox) || c->inbox < 2 ||
        !c->batch || c->actors > (1u << 30) || c->handoff > RK_LIGHT_LOCAL ||
        (c->handoff == RK_LIGHT_LOCAL && c->steal) ||
        (c->cluster && (c->cluster < 2 || c->cluster > 16 || c->homes % c->cluster)))
        return l;
    per_home = (c->actors + c->homes - 1) / c->homes;
    /* At least 2: with one slot the lap that says "holds pos" also says "free
     * for pos + 1" (spec/runq.pml BUG_QCAP1), and a report could not tell
     * full from free. */
    l.qcap = rk__l_ceil_pow2(per_home < 2 ? 2 : per_home);
    l.actor = 256; /* the world struct, rounded to lines */
    l.slot = l.actor + (size_t)c->actors * sizeof(rk_light_actor);
    l.home = l.slot + (size_t)c->actors * c->inbox * sizeof(rk_light_msg);
    l.queue = l.home + (size_t)c->homes * sizeof(rk_light_home);
    l.cring = l.queue + (size_t)c->homes * l.qcap * sizeof(uint64_t);
    l.cring = (l.cring + 127) & ~(size_t)127;
    l.bytes = l.cring + (c->cluster ? (size_t)c->homes * sizeof(rk_light_cring) : 0);
    return l;
}

/* Writes a fresh world into `image` (layout.bytes, zeroed or not) whose
 * pointers point into `base`: the same address for a host world; the device
 * allocation the image is copied to for a GPU world. `stop` is the word
 * that tells idle homes to return (on the GPU: in device memory, see
 * rk_light_block). Returns RK_EINVAL for a bad config. */
static inline rk_status rk_light_world_init(void *image, void *base, const rk_light_config *c,
                                            volatile uint32_t *stop)
{
    rk_light_layout l = rk_light_world_layout(c);
    rk_light_world *w = (rk_light_world *)image;
    unsigned char *img = (unsigned char *)image, *b = (unsigned char *)base;
    if (!l.bytes || !image || !base || !stop)
        return RK_EINVAL;
    for (size_t i = 0; i < l.bytes; i++)
        img[i] = 0;
    w->cfg = *c;
    w->qcap = l.qcap;
    w->actor = (rk_light_actor *)(b + l.actor);
    w->slot = (rk_light_msg *)(b + l.slot);
    w->home = (rk_light_home *)(b + l.home);
    w->queue = (uint64_t *)(b + l.queue);
    w->cring = c->cluster ? (rk_light_cring *)(b + l.cring) : NULL;
    w->stop = stop;
    for (uint32_t h = 0; c->cluster && h < c->homes; h++)
        for (uint32_t k = 0; k < RK_LIGHT_CLUSTER_SLOTS; k++)
            ((rk_light_cring *)(img + l.cring))[h].slot[k].seq = k; /* free for lap 0 */
    for (uint32_t a = 0; a < c->actors; a++) {
        /* rk_light_ctx_send's local queue relies on this rule too. */
        ((rk_light_actor *)(img + l.actor))[a].home = a % c->homes;
        for (uint32_t k = 0; k < c->inbox; k++)
            ((rk_light_msg *)(img + l.slot))[(size_t)a * c->inbox + k].seq = k; /* free for lap 0 */
    }
    for (size_t q = 0; q < (size_t)c->homes * l.qcap; q++)
        ((uint64_t *)(img + l.queue))[q] = (uint64_t)(q % l.qcap) << 32; /* free for lap 0 */
    return RK_OK;
}

/* ---- run queues ------------------------------------------------------------------------ */

/* Pushes `id` into home h's queue. Only the thread that moved the actor to
 * QUEUED pushes, and at most `qcap` ids of the home are QUEUED, so the slot
 * it claims was popped already; it may wait a moment for that pop's free
 * store to land, never for anything else. */
RK_LF void rk__l_push(rk_light_world *w, uint32_t h, uint32_t id)
{
    uint64_t pos = rk__l_add(&w->home[h].tail, 1);
    uint64_t *q = &w->queue[(size_t)h * w->qcap + (pos & (w->qcap - 1))];
    uint32_t naps = 0;
    while ((uint32_t)(rk__l_ld(q) >> 32) != (uint32_t)pos) {
        rk__l_pause(32);
        naps++;
    }
    RK_LIGHT_PUSH_NAPS(naps);
    /* Release: the popper's CAS QUEUED -> RUNNING must find the QUEUED this
     * thread wrote before the push. */
    rk__l_st_rel(q, ((pos + 1) << 32) | id);
}

/* Pops an id from home h's queue (its only consumer, which keeps the head
 * in *at); RK_LIGHT_NONE when empty, or when the next push has claimed its
 * slot but not yet written. */
RK_LF uint32_t rk__l_pop(rk_light_world *w, uint32_t h, uint64_t *at)
{
    uint64_t head = *at;
    uint64_t *q = &w->queue[(size_t)h * w->qcap + (head & (w->qcap - 1))];
    uint64_t v = rk__l_ld_acq(q);
    if ((uint32_t)(v >> 32) != (uint32_t)(head + 1))
        return RK_LIGHT_NONE;
    /* Relaxed: the next pusher of this slot only needs the lap (one word). */
    rk__l_st(q, (head + w->qcap) << 32);
    *at = head + 1;
    return (uint32_t)v;
}

/* Pops an id from home h's queue when any home may (stealing on): the head
 * lives in the home's header and a CAS claims it. A stale head or a slot
 * claimed but not yet written reads as empty; the caller looks again
 * later. */
RK_LF uint32_t rk__l_pop_shared(rk_light_world *w, uint32_t h)
{
    uint64_t *head_at = &w->home[h].head, head = rk__l_ld(head_at);
    uint64_t *q = &w->queue[(size_t)h * w->qcap + (head & (w->qcap - 1))];
    uint64_t v = rk__l_ld_acq(q);
    if ((uint32_t)(v >> 32) != (uint32_t)(head + 1) || rk__l_cas(head_at, head, head + 1) != head)
        return RK_LIGHT_NONE;
    /* We own position head: no other popper can reach this slot before
     * the next lap's push, which waits for this free. */
    rk__l_st(q, (head + w->qcap) << 32);
    return (uint32_t)v;
}

/* ---- senders --------------------------------------------------------------------------- */

/* After a publish: one CAS loop that always writes. IDLE -> QUEUED (and the
 * push), RUNNING -> AGAIN, QUEUED and AGAIN written back. It is a release
 * so that the block which takes the token sees the message; a sender that
 * only loaded QUEUED would order nothing (sched.pml BUG_LOAD_ONLY). */
RK_LF void rk__l_wake(rk_light_world *w, uint32_t id)
{
    rk_light_actor *a = &w->actor[id];
    uint64_t s = rk__l_ld(&a->sched), got;
    for (;;) {
        uint64_t to = s == RK_LIGHT_IDLE ? RK_LIGHT_QUEUED : s == RK_LIGHT_RUNNING ? RK_LIGHT_AGAIN : s;
        got = rk__l_cas_rel(&a->sched, s, to);
        if (got == s)
            break;
        s = got;
    }
    if (s == RK_LIGHT_IDLE)
        rk__l_push(w, a->home, id);
}

/* Claims a slot of `id`'s inbox and writes the message; the caller
 * publishes it at *at. Returns the slot, or NULL when the inbox is full. */
RK_LF rk_light_msg *rk__l_claim(rk_light_world *w, uint32_t id, uint32_t src, uint32_t type,
                                const uint64_t *words, uint64_t *at)
{
    rk_light_actor *a = &w->actor[id];
    uint64_t mask = w->cfg.inbox - 1, pos = rk__l_ld(&a->tail);
    rk_light_msg *m;
    for (;;) {
        m = &w->slot[(size_t)id * w->cfg.inbox + (pos & mask)];
        /* Acquire: the handler's reads of the slot's last message come before
         * our writes to it. */
        uint64_t seq = rk__l_ld_acq(&m->seq);
        if (seq == pos) {
            uint64_t got = rk__l_cas(&a->tail, pos, pos + 1);
            if (got == pos)
                break;
            pos = got;
        } else if (seq < pos) {
            return NULL; /* the slot still holds the message of the lap before: full */
        } else {
            pos = rk__l_ld(&a->tail); /* another sender claimed pos */
        }
    }
    *at = pos;
    m->src = src;
    m->type = type;
    for (int i = 0; i < RK_LIGHT_WORDS; i++)
        m->w[i] = words ? words[i] : 0;
    return m;
}

/* Publishes a claimed slot at position `pos` (its seq is pos + 1). A
 * release store: the message's bytes are visible before its sequence word
 * (no separate fence; st.release is one). */
RK_LF void rk__l_publish(rk_light_msg *m, uint64_t pos)
{
    rk__l_st_rel(&m->seq, pos + 1);
}

/* Sends a message to light actor `dst` from anywhere (a block's thread, a
 * host thread in tests). Never blocks: RK_EFULL when the inbox is full (the
 * caller retries or drops it, knowingly), RK_EINVAL for a bad id. */
RK_LF rk_status rk_light_send(rk_light_world *w, uint32_t src, uint32_t dst, uint32_t type, const uint64_t *words)
{
    rk_light_msg *m;
    uint64_t pos;
    if (!w || dst >= w->cfg.actors)
        return RK_EINVAL;
    m = rk__l_claim(w, dst, src, type, words, &pos);
    if (!m)
        return RK_EFULL;
    RK_LIGHT_CLAIMED(src);
    rk__l_publish(m, pos);
    rk__l_wake(w, dst);
    return RK_OK;
}

/* ---- the host's port: its functions ----------------------------------------------------- */

/* Bytes of a port for `homes` homes. */
RK_LF size_t rk_light_port_bytes(uint32_t homes)
{
    return offsetof(rk_light_port, out) + (size_t)homes * sizeof(rk_light_out);
}

/* Readies a port of rk_light_port_bytes(c->homes) at `mem` (pinned and
 * mapped for a GPU world) for a world of config c. */
static inline rk_status rk_light_port_init(void *mem, const rk_light_config *c)
{
    rk_light_port *p = (rk_light_port *)mem;
    unsigned char *b = (unsigned char *)mem;
    if (!mem || !c || !c->actors || !c->homes)
        return RK_EINVAL;
    for (size_t i = 0; i < rk_light_port_bytes(c->homes); i++)
        b[i] = 0;
    p->actors = c->actors;
    p->homes = c->homes;
    for (uint32_t k = 0; k < RK_LIGHT_PORT_SLOTS; k++)
        p->in[k].seq = k; /* free for lap 0 */
    return RK_OK;
}

/* Gives the world in `image` its port: `port` as the homes and the
 * forwarder reach it (on the GPU: the mapped allocation's device address). */
static inline void rk_light_world_set_port(void *image, rk_light_port *port)
{
    ((rk_light_world *)image)->port = port;
}

/* Host threads: sends a message to light actor `dst` through the port. It
 * reaches the actor's inbox from RK_LIGHT_HOST, in the order the sends
 * claimed their slots. Never blocks: RK_EFULL when the port is full,
 * RK_EINVAL for a bad id. */
static inline rk_status rk_light_port_send(rk_light_port *p, uint32_t dst, uint32_t type, const uint64_t *words)
{
    rk_light_hmsg *m;
    uint64_t pos, seq;
    if (!p || dst >= p->actors)
        return RK_EINVAL;
    pos = __atomic_load_n(&p->tail, __ATOMIC_RELAXED);
    for (;;) {
        m = &p->in[pos & (RK_LIGHT_PORT_SLOTS - 1)];
        /* Acquire: pairs with the forwarder's release when it freed the
         * slot, so our writes cannot overtake its reads. */
        seq = __atomic_load_n(&m->seq, __ATOMIC_ACQUIRE);
        if (seq == pos) {
            if (__atomic_compare_exchange_n(&p->tail, &pos, pos + 1, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
                break;
        } else if ((int64_t)(seq - pos) < 0) {
            return RK_EFULL; /* the previous lap's message is still there */
        } else {
            pos = __atomic_load_n(&p->tail, __ATOMIC_RELAXED);
        }
    }
    m->dst = dst;
    m->type = type;
    for (int i = 0; i < RK_LIGHT_WORDS; i++)
        m->w[i] = words ? words[i] : 0;
    __atomic_store_n(&m->seq, pos + 1, __ATOMIC_RELEASE);
    return RK_OK;
}

/* One host thread at a time: takes a message a handler sent to
 * RK_LIGHT_HOST, looking at the homes' rings in turn. Each home's messages
 * come in the order it sent them; an actor that runs on several homes
 * (stealing) may have its messages come through several rings. RK_EEMPTY
 * when none is there. */
static inline rk_status rk_light_port_recv(rk_light_port *p, rk_light_msg *out)
{
    if (!p || !out)
        return RK_EINVAL;
    for (uint32_t k = 0; k < p->homes; k++) {
        const uint32_t h = (uint32_t)((p->recv_at + k) % p->homes);
        rk_light_out *o = &p->out[h];
        const uint64_t head = __atomic_load_n(&o->head, __ATOMIC_RELAXED);
        const rk_light_msg *m = &o->slot[head & (RK_LIGHT_OUT_SLOTS - 1)];
        /* Acquire: pairs with the home's release of the sequence word. */
        if (__atomic_load_n(&m->seq, __ATOMIC_ACQUIRE) != head + 1)
            continue;
        *out = *m;
        /* Release: our read of the slot before the home writes it again. */
        __atomic_store_n(&o->head, head + 1, __ATOMIC_RELEASE);
        p->recv_at = h + 1u;
        return RK_OK;
    }
    return RK_EEMPTY;
}

/* Host: how many messages sent through the port the forwarder has not
 * taken yet (call it once the sending threads are done). Stop a world only
 * when it is 0: what the forwarder takes before the stop is in an inbox,
 * and the homes run it before they return. */
static inline uint64_t rk_light_port_pending(const rk_light_port *p)
{
    const uint64_t tail = __atomic_load_n(&p->tail, __ATOMIC_RELAXED);
    uint64_t n = 0;
    for (uint64_t pos = tail; pos-- > 0 && n < RK_LIGHT_PORT_SLOTS;) {
        const uint64_t seq = __atomic_load_n(&p->in[pos & (RK_LIGHT_PORT_SLOTS - 1)].seq, __ATOMIC_ACQUIRE);
        if (seq == pos + RK_LIGHT_PORT_SLOTS)
            break; /* taken, and everything before it */
        n++;
    }
    return n;
}

/* The forwarder (one per port): hands what the host published, in order
 * from *at, to the receivers' inboxes with rk_light_send. It stops at the
 * first receiver whose inbox is full - that message stays first, so the
 * host's order per receiver holds - or after `most`. A message it cannot
 * deliver otherwise (a bad id) is counted in the port's `refused` and
 * freed. Returns how many it took. */
RK_LF uint32_t rk_light_forward(rk_light_world *w, uint64_t *at, uint32_t most)
{
    rk_light_port *p = w->port;
    uint32_t n = 0;
    while (n < most) {
        rk_light_hmsg *m = &p->in[*at & (RK_LIGHT_PORT_SLOTS - 1)];
        uint64_t words[RK_LIGHT_WORDS];
        uint32_t dst, type;
        rk_status st;
        /* Acquire: pairs with the host's release, so the message is whole. */
        if (rk__lh_ld_acq(&m->seq) != *at + 1)
            break;
        dst = m->dst;
        type = m->type;
        for (int i = 0; i < RK_LIGHT_WORDS; i++)
            words[i] = m->w[i];
        st = rk_light_send(w, RK_LIGHT_HOST, dst, type, words);
        if (st == RK_EFULL)
            break;
        if (st != RK_OK)
            rk__lh_st(&p->refused, p->refused + 1);
        /* Release: our reads of the slot before a host sender rewrites it. */
        rk__lh_st_rel(&m->seq, *at + RK_LIGHT_PORT_SLOTS);
        (*at)++;
        n++;
    }
    return n;
}

/* Host threads in tests, or a host world's forwarder: forwards until the
 * stop, then saves its position. */
static inline void rk_light_ingress_run_host(rk_light_world *w)
{
    uint64_t at = w->port->forwarded;
    while (!rk__l_stopped(w->stop))
        rk_light_forward(w, &at, 64);
    rk__lh_st(&w->port->forwarded, at);
}

/* ---- the token's holder ---------------------------------------------------------------- */

/* A run: the actor a home holds the token of, its inbox head, how much of
 * its batch is left and how many messages it ran. */
typedef struct rk_light_run {
    uint32_t id;
    uint32_t left;
    uint64_t head;
    uint64_t ran;
} rk_light_run;

/* Takes the next actor of home h (whose queue head is *qhead): pops its id
 * and moves QUEUED -> RUNNING. The CAS cannot fail (an id is queued only
 * while QUEUED); it is an acquire, so the previous holder's head and the
 * senders' messages are visible. Returns 0 when the queue is empty. */
RK_LF int rk_light_take(rk_light_world *w, uint32_t h, uint64_t *qhead, rk_light_run *r)
{
    uint32_t id = w->cfg.steal ? rk__l_pop_shared(w, h) : rk__l_pop(w, h, qhead);
    if (id == RK_LIGHT_NONE)
        return 0;
    rk__l_cas_acq(&w->actor[id].sched, RK_LIGHT_QUEUED, RK_LIGHT_RUNNING);
    r->id = id;
    r->left = w->cfg.batch;
    r->head = w->actor[id].head;
    r->ran = 0;
    return 1;
}

/* The next ready message of the run, or NULL (batch spent, or nothing
 * published at the head: a late sender's slot may be claimed and not yet
 * written; the run does not wait for it, the sender's wake covers it). */
RK_LF const rk_light_msg *rk_light_read(rk_light_world *w, const rk_light_run *r)
{
    const rk_light_msg *m;
    if (!r->left)
        return NULL;
    m = &w->slot[(size_t)r->id * w->cfg.inbox + (r->head & (w->cfg.inbox - 1))];
    return rk__l_ld_acq(&m->seq) == r->head + 1 ? m : NULL;
}

/* The message rk_light_read returned was handled: its slot is free for the
 * next lap. Release: the handler's reads of it come before a sender's
 * rewrite. */
RK_LF void rk_light_done(rk_light_world *w, rk_light_run *r)
{
    rk_light_msg *m = &w->slot[(size_t)r->id * w->cfg.inbox + (r->head & (w->cfg.inbox - 1))];
    rk__l_st_rel(&m->seq, r->head + w->cfg.inbox);
    r->head++;
    r->left--;
    r->ran++;
}

/* Gives the token up. AGAIN -> QUEUED and a requeue; RUNNING -> IDLE and a
 * re-read of the inbox's head, which finds what the batch limit left
 * (messages whose senders found QUEUED or AGAIN). Every move is a CAS: a
 * plain store of IDLE could land after the re-read and overwrite a sender's
 * AGAIN (sched.pml BUG_PLAIN_STORE). Acq_rel: the release hands the head
 * (and the actor's state) to the next holder; the acquire makes the
 * senders' messages whose CAS came before visible to the re-read. */
RK_LF void rk_light_give_up(rk_light_world *w, const rk_light_run *r)
{
    rk_light_actor *a = &w->actor[r->id];
    uint64_t s = RK_LIGHT_RUNNING, got;
    const rk_light_msg *m;
    a->head = r->head;
    a->handled += r->ran;
    for (;;) {
        uint64_t to = s == RK_LIGHT_AGAIN ? RK_LIGHT_QUEUED : RK_LIGHT_IDLE;
        got = rk__l_cas_acqrel(&a->sched, s, to);
        if (got == s)
            break;
        s = got;
    }
    if (s == RK_LIGHT_AGAIN) {
        rk__l_push(w, a->home, r->id);
        return;
    }
    m = &w->slot[(size_t)r->id * w->cfg.inbox + (r->head & (w->cfg.inbox - 1))];
    if (rk__l_ld_acq(&m->seq) == r->head + 1 &&
        rk__l_cas_acqrel(&a->sched, RK_LIGHT_IDLE, RK_LIGHT_QUEUED) == RK_LIGHT_IDLE)
        rk__l_push(w, a->home, r->id);
}

/* ---- the block tier: hand-off (section 5) ---------------------------------------------- */

/* What a handler sees: the world, the actor it runs for, its home, the
 * home's one hand-off slot (RK_LIGHT_TOKEN), its local queue
 * (RK_LIGHT_LOCAL) and its cluster ring. */
typedef struct rk_light_ctx {
    rk_light_world *w;
    rk_light_cring *cring; /* the home's own cluster ring (shared memory on the GPU), or NULL */
    uint32_t self, home;
    uint32_t handed;       /* nonzero: `msg` is for actor `to`, whose token this home holds */
    uint32_t to;
    uint32_t depth;        /* hand-offs in a row on this home */
    uint32_t lhead, ltail; /* the local queue's positions (free-running) */
    uint32_t pad;
    uint64_t ctail[16];    /* per home of the cluster (by rank): the tail its ring had after our
                            * last claim there, where the next claim starts looking */
    rk_light_out *out;     /* the home's ring to the host (pinned memory), or NULL without a port */
    uint64_t otail, ohead; /* its producer's position, and the host's head as last read */
    uint64_t sent;         /* messages its handlers put on their way to light actors (for the
                            * runtime's count of what is in flight, rk_light_publish) */
    uint64_t to_blocks;    /* messages its handlers sent to block actors (the runtime counts
                            * them, rk_light_sent_to_block, for its drain) */
    rk_light_msg msg;
    rk_light_msg local[RK_LIGHT_LOCAL_SLOTS]; /* seq holds the receiver's id */
} rk_light_ctx;

/* A handler's send to RK_LIGHT_HOST: into its home's ring to the host. The
 * host's head is read from pinned memory (over PCIe on the GPU) only when
 * the copy says full. RK_EFULL when the host has not read enough;
 * RK_EINVAL when the world has no port. */
RK_LF rk_status rk__l_host_send(rk_light_ctx *c, uint32_t type, const uint64_t *words)
{
    rk_light_out *o = c->out;
    rk_light_msg *m;
    if (!o)
        return RK_EINVAL;
    if (c->otail - c->ohead == RK_LIGHT_OUT_SLOTS) {
        /* Acquire: pairs with the host's release after it read those slots. */
        c->ohead = rk__lh_ld_acq(&o->head);
        if (c->otail - c->ohead == RK_LIGHT_OUT_SLOTS)
            return RK_EFULL;
    }
    m = &o->slot[c->otail & (RK_LIGHT_OUT_SLOTS - 1)];
    m->src = c->self;
    m->type = type;
    for (int i = 0; i < RK_LIGHT_WORDS; i++)
        m->w[i] = words ? words[i] : 0;
    /* Release (system scope on the GPU): the message before its sequence word. */
    rk__lh_st_rel(&m->seq, c->otail + 1);
    c->otail++;
    return RK_OK;
}

/* Home `home`'s cluster ring, as a home of the same cluster reaches it. */
RK_LF rk_light_cring *rk__l_cring_of(const rk_light_ctx *c, uint32_t home)
{
#if defined(__CUDA_ARCH__) && RK__L_CLUSTER
    return (rk_light_cring *)rk__lc_map(c->cring, home % c->w->cfg.cluster);
#else
    return &c->w->cring[home];
#endif
}

/* A send into the cluster ring of `home` (another home of the sender's
 * cluster, or with stealing any home of it): claim a slot (CAS on its
 * tail), write the message and its receiver, publish. The same Vyukov
 * steps as an inbox, at cluster scope and without a run token: only that
 * home reads its ring. Without stealing it runs a message there as one of
 * the actor's own (no other home runs the actor); with stealing it first
 * takes the actor's token, or moves the message into the actor's inbox
 * (rk__l_cluster_next). RK_EFULL when the ring is full.
 *
 * The claim starts at the tail this home saw after its last claim in that
 * ring (ctail), not at a load of the tail: one DSMEM round trip less when
 * no other home claimed since. The guess is never ahead of the tail (it
 * only ever takes values the tail had), so a stale one finds its slot
 * taken: published or freed (seq above pos: the tail is loaded), or
 * claimed and not yet published (seq equal to pos: the CAS fails and
 * returns the tail), as after a lost race. spec/vring.pml checks it. */
RK_LF rk_status rk__l_cluster_send(rk_light_ctx *c, uint32_t home, uint32_t dst, uint32_t type,
                                   const uint64_t *words)
{
#if RK__L_CLUSTER
    rk_light_cring *r = rk__l_cring_of(c, home);
    const uint64_t mask = RK_LIGHT_CLUSTER_SLOTS - 1;
    uint64_t *guess = &c->ctail[home % c->w->cfg.cluster];
    uint64_t pos = *guess;
    rk_light_msg *m;
    for (;;) {
        m = &r->slot[pos & mask];
        /* Acquire: the receiver's reads of the slot's last message come
         * before our writes to it. */
        uint64_t seq = rk__lc_ld_acq(&m->seq);
        if (seq == pos) {
            uint64_t got = rk__lc_cas(&r->tail, pos, pos + 1);
            if (got == pos)
                break;
            pos = got;
        } else if (seq < pos) {
            return RK_EFULL; /* the slot still holds the message of the lap before */
        } else {
            pos = rk__lc_ld(&r->tail); /* another sender claimed pos */
        }
    }
    *guess = pos + 1;
    r->dst[pos & mask] = dst;
    m->src = c->self;
    m->type = type;
    for (int i = 0; i < RK_LIGHT_WORDS; i++)
        m->w[i] = words ? words[i] : 0;
    /* Release: the message and its receiver before the sequence word. */
    rk__lc_st_rel(&m->seq, pos + 1);
    return RK_OK;
#else
    (void)c, (void)home, (void)dst, (void)type, (void)words;
    return RK_EINVAL;
#endif
}

/* A send from a handler (thread 0 of the block), which runs on the
 * actor's home or, with stealing, on another home (of its cluster, with a
 * cluster).
 *
 * To RK_LIGHT_HOST (a message from the host names it as its `src`): into
 * the home's ring to the host (rk__l_host_send); RK_EFULL when the host
 * has not read enough of it.
 *
 * With RK_LIGHT_LOCAL, a message to an actor of the same home goes to the
 * home's local queue, which only this home reads and writes: no atomic, no
 * fence, and on the GPU no access outside the block's shared memory. The
 * home runs it as any message of that actor, in the queue's order; no other
 * home runs the actor (stealing is off), so its state has one user at a
 * time. A sender always reaches a given receiver by one path (its home
 * never changes), so per-sender order holds. RK_EFULL when the queue is
 * full.
 *
 * With a cluster, a message to an actor of another home of the cluster
 * goes into that home's cluster ring (rk__l_cluster_send): DSMEM on the
 * GPU, no run token and no run queue. Again one path per (sender,
 * receiver), so per-sender order holds; RK_EFULL when the ring is full.
 * With stealing too, a message to an actor of the running home goes into
 * its own ring as well: the sender may run on any home of the cluster
 * (stealing stays within it), and through the receiver's home's ring it
 * takes one path wherever it runs.
 *
 * With RK_LIGHT_TOKEN, to an actor of the same home that is IDLE with an
 * empty inbox, the message is
 * handed over: the home takes the receiver's token and runs the message
 * right after this handler, with no inbox slot, fence or run queue. The
 * empty inbox keeps per-sender order: an earlier message of ours to it sits
 * in its inbox (claimed, maybe not yet published) and tail shows it. One
 * hand-off waits at a time, and `batch` in a row at most, so two actors
 * that ping-pong cannot starve their home. Otherwise the inbox path:
 * RK_EFULL when full (a handler must not wait for an inbox its own home
 * drains). */
RK_LF rk_status rk__l_ctx_send(rk_light_ctx *c, uint32_t dst, uint32_t type, const uint64_t *words)
{
    rk_light_world *w = c->w;
    rk_light_actor *a;
    uint32_t home;
    if (dst == RK_LIGHT_HOST)
        return rk__l_host_send(c, type, words);
    if (!w || dst >= w->cfg.actors)
        return RK_EINVAL;
    home = dst % w->cfg.homes;
    if (w->cfg.cluster && (home != c->home || w->cfg.steal) && home / w->cfg.cluster == c->home / w->cfg.cluster)
        return rk__l_cluster_send(c, home, dst, type, words);
    if (w->cfg.handoff == RK_LIGHT_LOCAL && home == c->home) {
        rk_light_msg *m;
        if (c->ltail - c->lhead == RK_LIGHT_LOCAL_SLOTS)
            return RK_EFULL;
        m = &c->local[c->ltail & (RK_LIGHT_LOCAL_SLOTS - 1)];
        m->seq = dst;
        m->src = c->self;
        m->type = type;
        for (int i = 0; i < RK_LIGHT_WORDS; i++)
            m->w[i] = words ? words[i] : 0;
        c->ltail++;
        return RK_OK;
    }
    a = &w->actor[dst];
    if (w->cfg.handoff == RK_LIGHT_TOKEN && !c->handed && c->depth < w->cfg.batch && a->home == c->home &&
        rk__l_cas_acq(&a->sched, RK_LIGHT_IDLE, RK_LIGHT_RUNNING) == RK_LIGHT_IDLE) {
        /* We hold its token now; the acquire made its head current. */
        if (rk__l_ld(&a->tail) == a->head) {
            c->handed = 1;
            c->to = dst;
            c->msg.src = c->self;
            c->msg.type = type;
            for (int i = 0; i < RK_LIGHT_WORDS; i++)
                c->msg.w[i] = words ? words[i] : 0;
            return RK_OK;
        }
        /* Not empty: our message goes behind the others and the token back
         * through the normal give-up, whose re-read requeues the actor. */
        uint64_t pos;
        rk_light_msg *m = rk__l_claim(w, dst, c->self, type, words, &pos);
        if (m)
            rk__l_publish(m, pos);
        rk_light_run r = {dst, 0, a->head, 0};
        rk_light_give_up(w, &r);
        return m ? RK_OK : RK_EFULL;
    }
    return rk_light_send(w, c->self, dst, type, words);
}

RK_LF rk_status rk_light_ctx_send(rk_light_ctx *c, uint32_t dst, uint32_t type, const uint64_t *words)
{
    rk_status st = rk__l_ctx_send(c, dst, type, words);
    if (st == RK_OK && dst != RK_LIGHT_HOST)
        c->sent++;
    return st;
}

/* The runtime's part: a handler's send to a block actor, which goes
 * outside the world, was accepted. */
RK_LF void rk_light_sent_to_block(rk_light_ctx *c) { c->to_blocks++; }

/* ---- a home's loop -------------------------------------------------------------------- */

/* Where the message being run came from. */
#define RK__L_INBOX 0u
#define RK__L_HAND 1u  /* `hand`, a copy of a handed message */
#define RK__L_LOCAL 2u /* the head of the local queue */
#define RK__L_CLUSTER_RING 3u /* the head of the home's cluster ring */

/* What thread 0 of a home keeps between messages: the run it holds, and
 * the copy of a handed message being run (a handler may hand another over
 * while it runs). */
typedef struct rk_light_loop {
    rk_light_ctx c;
    rk_light_run r;
    uint32_t active; /* r holds a token */
    uint32_t from;   /* RK__L_INBOX, RK__L_HAND, RK__L_LOCAL or RK__L_CLUSTER_RING */
    uint32_t lrun;   /* local and cluster-ring messages run in a row */
    uint32_t turn;   /* which of the two is looked at first, in turn */
    uint32_t ctoken; /* with stealing: the cluster-ring message being run holds its receiver's
                      * token, taken for it alone (given up after it) */
    uint32_t pad;
    uint64_t chead;  /* the cluster ring's head (its one consumer) */
    rk_light_msg hand;
    /* The home's own words, kept here (shared memory on the GPU) and
     * written to its rk_light_home when it returns. */
    uint64_t qhead, runs, handled, handoffs, idle, steals, locals, clustered, moved, dropped;
    /* The home's live counts when this loop began (a host home may run
     * again after it returned): rk_light_publish adds this loop's to them. */
    uint64_t live_sent0, live_handled0, live_to_blocks0;
    uint32_t victim; /* the next home to look at when stealing */
    uint32_t since;  /* messages since the halt word was last read */
} rk_light_loop;

RK_LF void rk_light_loop_init(rk_light_loop *L, rk_light_world *w, uint32_t h)
{
    unsigned char *p = (unsigned char *)L;
    for (size_t i = 0; i < sizeof *L; i++)
        p[i] = 0;
    L->c.w = w;
    L->c.home = h;
    L->c.cring = w->cring ? &w->cring[h] : NULL; /* a host home's; a GPU block sets its own */
    L->chead = w->cring ? w->cring[h].head : 0;     /* the same */
    /* With stealing the head lives in the header, where other homes CAS it
     * from their first look on: this home does not keep a copy. */
    L->qhead = w->cfg.steal ? 0 : w->home[h].head;
    L->live_sent0 = w->home[h].live_sent;
    L->live_handled0 = w->home[h].live_handled;
    L->live_to_blocks0 = w->home[h].live_to_blocks;
    L->victim = h;
    if (w->port) {
        /* Where the home's ring to the host stood when it last returned. */
        L->c.out = &w->port->out[h];
        L->c.otail = L->c.out->tail;
        L->c.ohead = rk__lh_ld_acq(&L->c.out->head);
    }
}

/* Writes the home's queue head and counters back (when it returns). */
RK_LF void rk_light_loop_flush(rk_light_world *w, const rk_light_loop *L)
{
    rk_light_home *hm = &w->home[L->c.home];
    if (!w->cfg.steal) /* else the head lives in the header all along */
        hm->head = L->qhead;
    hm->steals = L->steals;
    hm->runs = L->runs;
    hm->handled = L->handled;
    hm->handoffs = L->handoffs;
    hm->idle_polls = L->idle;
    hm->locals = L->locals;
    hm->clustered = L->clustered;
    hm->moved = L->moved;
    hm->dropped = L->dropped;
    if (L->c.cring)
        L->c.cring->head = L->chead; /* a host world may run again; a GPU block's ring is its own */
    if (L->c.out)
        rk__lh_st(&L->c.out->tail, L->c.otail);
}

/* With stealing on, a home whose own queue is empty looks at one other
 * home's queue per look, in turn from its neighbour on (the homes of one
 * cluster first, when the kernel runs as clusters of consecutive blocks).
 * With a cluster in the config, only the homes of its own cluster: a
 * handler's sends to an actor of the cluster then go through one ring
 * wherever the sender runs (rk_light_ctx_send). A stolen actor runs here;
 * its give-up requeues it at its own home, so it goes back when its home
 * has time. The token keeps one runner at a time and the inbox its order,
 * so a steal costs a pop and the take's CAS. */
RK_LF int rk__l_steal(rk_light_world *w, rk_light_loop *L)
{
    const uint32_t n = w->cfg.cluster ? w->cfg.cluster : w->cfg.homes;
    const uint32_t first = L->c.home - L->c.home % n;
    if (!w->cfg.steal || n < 2)
        return 0;
    L->victim = first + (L->victim - first + 1) % n;
    if (L->victim == L->c.home)
        L->victim = first + (L->victim - first + 1) % n;
    if (!rk_light_take(w, L->victim, NULL, &L->r))
        return 0;
    L->steals++;
    return 1;
}

/* The local queue's head, or NULL. */
RK_LF const rk_light_msg *rk__l_local_head(rk_light_loop *L)
{
    rk_light_msg *m;
    if (L->c.lhead == L->c.ltail)
        return NULL;
    m = &L->c.local[L->c.lhead & (RK_LIGHT_LOCAL_SLOTS - 1)];
    L->from = RK__L_LOCAL;
    L->c.self = (uint32_t)m->seq;
    return m;
}

/* The cluster ring's head if published, or NULL. Acquire: pairs with the
 * sender's release, so the message and its receiver are visible. */
RK_LF const rk_light_msg *rk__l_cluster_head(const rk_light_world *w, rk_light_loop *L)
{
    const uint64_t mask = RK_LIGHT_CLUSTER_SLOTS - 1;
    rk_light_msg *m;
    if (!w->cfg.cluster)
        return NULL;
    m = &L->c.cring->slot[L->chead & mask];
    if (rk__lc_ld_acq(&m->seq) != L->chead + 1)
        return NULL;
    L->from = RK__L_CLUSTER_RING;
    L->c.self = L->c.cring->dst[L->chead & mask];
    return m;
}

/* Frees the cluster ring's head slot. Release: the reads of its message
 * (a handler's, or a move's) before a sender's rewrite. */
RK_LF void rk__l_cluster_pop(rk_light_loop *L)
{
    rk__lc_st_rel(&L->c.cring->slot[L->chead & (RK_LIGHT_CLUSTER_SLOTS - 1)].seq,
                  L->chead + RK_LIGHT_CLUSTER_SLOTS);
    L->chead++;
}

/* The cluster ring's next message to run here, or NULL. Without stealing,
 * its head (rk__l_cluster_head): the receiver runs only at this home.
 *
 * With stealing, another home of the cluster may hold the receiver's
 * token, so a message runs here only while this home holds it: the
 * current run's (its actor's), or one taken IDLE -> RUNNING for this
 * message alone (ctoken; given up after it, rk_light_after). And only
 * while the receiver's inbox is empty: an earlier message of the same
 * sender may have been moved there. Otherwise the message moves into the
 * inbox (rk_light_send, with the sender's id and a wake) and the next is
 * looked at. Each sender inside the cluster reaches the receiver through
 * this ring only (rk_light_ctx_send), and this home alone moves or runs
 * its messages, in ring order, so per-sender order holds: a message runs
 * in place only once everything moved before it has run. A full inbox
 * stops the ring here (NULL) until the receiver's runs make room; this
 * home goes on with its queue meanwhile. */
RK_LF const rk_light_msg *rk__l_cluster_next(rk_light_world *w, rk_light_loop *L)
{
    for (uint32_t n = 0; n < RK_LIGHT_CLUSTER_SLOTS; n++) {
        const rk_light_msg *m = rk__l_cluster_head(w, L);
        if (!m || !w->cfg.steal)
            return m;
        const uint32_t x = L->c.self;
        rk_light_actor *a = &w->actor[x];
        const int ours = L->active && L->r.id == x;
        /* Acquire: the last holder's give-up released the head. */
        const int took = !ours && rk__l_cas_acq(&a->sched, RK_LIGHT_IDLE, RK_LIGHT_RUNNING) == RK_LIGHT_IDLE;
        if ((ours || took) && rk__l_ld(&a->tail) == (ours ? L->r.head : a->head)) {
            L->ctoken = (uint32_t)took;
            return m;
        }
        if (took) {
            /* Its inbox is not empty: the give-up's re-read queues it. */
            rk_light_run r = {x, 0, a->head, 0};
            rk_light_give_up(w, &r);
        }
        if (rk_light_send(w, m->src, x, m->type, m->w) != RK_OK)
            return NULL;
        rk__l_cluster_pop(L);
        L->moved++;
    }
    return NULL;
}

/* Whether home h has something to run that only it can: a message in its
 * local queue or cluster ring, or an id in its run queue (a peek, no pop). */
RK_LF int rk__l_pending(const rk_light_world *w, const rk_light_loop *L)
{
    if (L->c.lhead != L->c.ltail)
        return 1;
    if (w->cfg.cluster &&
        rk__lc_ld_acq(&L->c.cring->slot[L->chead & (RK_LIGHT_CLUSTER_SLOTS - 1)].seq) == L->chead + 1)
        return 1;
    if (!w->cfg.steal) {
        const uint64_t *q = &w->queue[(size_t)L->c.home * w->qcap + (L->qhead & (w->qcap - 1))];
        return (uint32_t)(rk__l_ld_acq(q) >> 32) == (uint32_t)(L->qhead + 1);
    }
    return 0;
}

/* The next message home h runs, or NULL when it has nothing. In order: the
 * heads of the local queue and the cluster ring (which first, in turn),
 * `batch` in a row at most, so that actors which ping-pong through them
 * cannot starve the inboxes; the rest of the current run's batch; then its
 * give-up; then a handed message (the home holds its receiver's token: it
 * starts a run of that actor); then the next actor of the run queue. */
RK_LF const rk_light_msg *rk_light_next(rk_light_world *w, rk_light_loop *L)
{
    for (;;) {
        if (L->lrun < w->cfg.batch) {
            const rk_light_msg *m;
            L->turn ^= 1;
            if (L->turn) {
                m = rk__l_cluster_next(w, L);
                if (!m)
                    m = rk__l_local_head(L);
            } else {
                m = rk__l_local_head(L);
                if (!m)
                    m = rk__l_cluster_next(w, L);
            }
            if (m) {
                L->lrun++;
                return m;
            }
        }
        L->lrun = 0;
        if (L->active) {
            const rk_light_msg *m = rk_light_read(w, &L->r);
            if (m) {
                L->from = RK__L_INBOX;
                L->c.self = L->r.id;
                return m;
            }
            rk_light_give_up(w, &L->r);
            L->active = 0;
        }
        if (L->c.handed) {
            L->c.handed = 0;
            L->c.depth++;
            L->handoffs++;
            L->r.id = L->c.to;
            L->r.left = w->cfg.batch;
            L->r.head = w->actor[L->c.to].head;
            L->r.ran = 1;
            L->active = 1;
            L->hand = L->c.msg;
            L->from = RK__L_HAND;
            L->c.self = L->r.id;
            return &L->hand;
        }
        if (!rk_light_take(w, L->c.home, &L->qhead, &L->r) && !rk__l_steal(w, L)) {
            /* What came meanwhile (lrun is 0 again). A message of the
             * cluster ring is returned as found: with stealing it may hold
             * its receiver's token now. */
            const rk_light_msg *m = rk__l_local_head(L);
            if (!m)
                m = rk__l_cluster_next(w, L);
            if (m)
                L->lrun++;
            return m;
        }
        L->active = 1;
        L->c.depth = 0;
        L->runs++;
    }
}

/* The message rk_light_next returned was run. */
RK_LF void rk_light_after(rk_light_world *w, rk_light_loop *L)
{
    if (L->from == RK__L_INBOX)
        rk_light_done(w, &L->r);
    else if (L->from == RK__L_LOCAL) {
        L->c.lhead++; /* its slot is free only now: the handler read it in place */
        L->locals++;
    } else if (L->from == RK__L_CLUSTER_RING) {
        rk__l_cluster_pop(L);
        L->clustered++;
        if (L->ctoken) {
            /* Its token, taken for this message alone: the give-up's
             * re-read queues it if its inbox got messages meanwhile. */
            rk_light_run r = {L->c.self, 0, w->actor[L->c.self].head, 0};
            rk_light_give_up(w, &r);
            L->ctoken = 0;
        }
    }
    /* A handed message was counted when its run began. */
    L->handled++;
}

/* Whether the world's halt word is set; read on every 16th call, between
 * two messages (a busy home reads it too, unlike the stop word). */
RK_LF int rk__l_halted(const rk_light_world *w, rk_light_loop *L)
{
    return w->halt && (++L->since & 15u) == 0 && rk__l_stopped(w->halt);
}

/* An idle home's counts, for whoever watches for the world to be quiet:
 * when the sum over all homes of `live_sent`, plus what the forwarder
 * delivered, equals the sum of `live_handled`, twice in a row with nothing
 * changed in between, no message is on its way (every home stores them
 * before it idles, so a busy one's are short of what it sent or ran).
 * `live_to_blocks` tells the runtime whether light actors sent to block
 * actors while it waited (its drain then looks at the block actors
 * again). */
RK_LF void rk_light_publish(rk_light_world *w, const rk_light_loop *L)
{
    rk_light_home *hm = &w->home[L->c.home];
    rk__l_st(&hm->live_sent, L->live_sent0 + L->c.sent);
    rk__l_st(&hm->live_handled, L->live_handled0 + L->handled);
    rk__l_st(&hm->live_to_blocks, L->live_to_blocks0 + L->c.to_blocks);
}

/* A halt, between two messages: the run the home holds is given up (its
 * inbox head written back, so whoever counts what is left counts only
 * what was not run), and what it holds outside the inboxes - its local
 * queue and a handed message - is counted in `dropped`. Then the home runs
 * nothing more. Without a cluster it returns (rk_light_loop_flush). With
 * one, its peers may still send into its ring until they halt too, so it
 * stays for the cluster's rounds (rk__l_round_answer) and counts what its
 * ring holds once all of them have stopped (rk__l_cluster_drop). */
RK_LF void rk_light_halt(rk_light_world *w, rk_light_loop *L)
{
    if (L->active) {
        rk_light_give_up(w, &L->r);
        L->active = 0;
    }
    if (L->c.handed) {
        /* We hold the receiver's token and its inbox was empty. */
        rk_light_run r = {L->c.to, 0, w->actor[L->c.to].head, 0};
        rk_light_give_up(w, &r);
        L->c.handed = 0;
        L->dropped++;
    }
    L->dropped += (uint64_t)(L->c.ltail - L->c.lhead);
    L->c.lhead = L->c.ltail;
}

/* A home's answer in a round of its cluster's shutdown: it has nothing
 * left, it has something left, or it was halted (then what it holds does
 * not keep the cluster: it runs nothing more, and the cluster leaves once
 * every home that was not halted has nothing left). */
#define RK__L_ANSWER_DONE 0u
#define RK__L_ANSWER_MORE 1u
#define RK__L_ANSWER_HALTED 2u

RK_LF uint64_t rk__l_round_answer(const rk_light_world *w, const rk_light_loop *L, int halted)
{
    if (halted)
        return RK__L_ANSWER_HALTED;
    return rk__l_pending(w, L) ? RK__L_ANSWER_MORE : RK__L_ANSWER_DONE;
}

/* A halted home's last step with a cluster, after the round in which its
 * cluster decided to leave (no peer sends any more): what its cluster
 * ring still holds is counted in `dropped`, and the slots are freed (a
 * host world may run again). */
RK_LF void rk__l_cluster_drop(const rk_light_world *w, rk_light_loop *L)
{
    if (!w->cfg.cluster)
        return;
    while (rk__lc_ld_acq(&L->c.cring->slot[L->chead & (RK_LIGHT_CLUSTER_SLOTS - 1)].seq) == L->chead + 1) {
        rk__l_cluster_pop(L);
        L->dropped++;
    }
}

/* ---- a host home ----------------------------------------------------------------------- */

typedef void (*rk_light_handler)(rk_light_ctx *c, const rk_light_msg *m, void *user);
/* What an idle host home does between two looks; `looks` counts the looks
 * that found nothing since the last message. */
typedef void (*rk_light_idle)(uint32_t looks);

/* Runs home h on the calling host thread until *w->stop is set and it has
 * nothing left, or the halt: the GPU block's loop on one thread
 * (tests/test_light.c, the CPU backend). Between idle looks it calls
 * `idle` (NULL: it looks again at once). With a cluster, the homes of the
 * cluster return together, once a round of rk_light_block's shutdown finds
 * each of them halted or with nothing left. */
static inline void rk_light_run_host(rk_light_world *w, uint32_t h, rk_light_handler fn, void *user,
                                     rk_light_idle idle)
{
    rk_light_loop L;
    uint32_t looks = 0;
    int halted = 0;
    rk_light_loop_init(&L, w, h);
    for (;;) {
        if (!halted && rk__l_halted(w, &L)) {
            rk_light_halt(w, &L);
            halted = 1;
        }
        if (!halted) {
            const rk_light_msg *m = rk_light_next(w, &L);
            if (m) {
                fn(&L.c, m, user);
                rk_light_after(w, &L);
                looks = 0;
                continue;
            }
            L.idle++;
            if (looks == 0)
                rk_light_publish(w, &L); /* the first look that found nothing */
            if (!rk__l_stopped(w->stop)) {
                if (idle)
                    idle(looks);
                looks++;
                continue;
            }
        }
        if (w->cfg.cluster) {
            uint32_t first = h - h % w->cfg.cluster;
            int stay = 0;
            rk__l_host_cluster_sync(w, h);
            __atomic_store_n(&w->cring[h].busy, rk__l_round_answer(w, &L, halted), __ATOMIC_RELAXED);
            rk__l_host_cluster_sync(w, h);
            for (uint32_t r = 0; r < w->cfg.cluster; r++)
                stay |= __atomic_load_n(&w->cring[first + r].busy, __ATOMIC_RELAXED) == RK__L_ANSWER_MORE;
            rk__l_host_cluster_sync(w, h);
            if (stay)
                continue;
            if (halted)
                rk__l_cluster_drop(w, &L);
        }
        rk_light_loop_flush(w, &L);
        return;
    }
}

#ifdef __CUDACC__
/* Runs home h on the calling block until *w->stop is set and it has nothing
 * left. All threads call fn(ctx, msg) for each message; thread 0 schedules,
 * and a handler's sends (rk_light_ctx_send) are thread 0's. Idle, thread 0
 * backs off to naps of RK_LIGHT_NAP_MAX ns (RK_LIGHT_STEAL_NAP_MAX with
 * stealing) and reads the stop word on every 64th look.
 *
 * The stop word must be in device memory; the host sets it with a copy on
 * a stream of its own. Host-mapped, it cost the busy blocks their speed:
 * 512 homes whose idle ones read it over PCIe on every 64th look handled
 * 0.05 M msgs/s, against 4.4 M with the word in device memory (diag_light,
 * H200, 2026-12-02). Blocks must not poll the host when idle.
 *
 * With a cluster (cfg.cluster), home h must be block h of a grid launched
 * as clusters of cfg.cluster blocks (cudaLaunchKernelEx), on sm_90 or
 * later; otherwise every home of the cluster writes RK_EINVAL to its
 * rk_light_home.error and returns at once. A block's cluster ring is read
 * by its peers through DSMEM, so no block may leave while a peer may still
 * send to it: once stopped and idle, or halted, the homes of a cluster
 * meet in rounds (three cluster barriers each) until a round finds each of
 * them halted or with nothing left, and return together. */
template <class H> __device__ void rk_light_block(rk_light_world *world, uint32_t h, H fn)
{
    __shared__ rk_light_loop L;
    __shared__ const rk_light_msg *cur;
    /* The world's header in shared memory: its pointers and sizes are read on
     * every step, and after an acquire a plain load of global memory may go
     * to L2 again. */
    __shared__ rk_light_world W;
    __shared__ uint32_t refused, halted;
#if RK__L_DSMEM
    __shared__ uint32_t stay;
    __shared__ __align__(128) rk_light_cring CR;
#endif
    rk_light_world *w = &W;
    if (threadIdx.x == 0) {
        W = *world;
        rk_light_loop_init(&L, w, h);
        refused = 0;
        halted = 0;
        if (W.cfg.cluster) {
#if RK__L_DSMEM
            /* The cluster's size is the same in all its blocks, so a wrong
             * size makes them all return here, together. */
            refused = rk__lc_size() != W.cfg.cluster ? 2u : (rk__lc_rank() != h % W.cfg.cluster || h >= W.cfg.homes);
            CR.tail = 0;
            CR.busy = refused;
            L.chead = 0;
            for (uint32_t k = 0; k < RK_LIGHT_CLUSTER_SLOTS; k++)
                CR.slot[k].seq = k; /* free for lap 0 */
            L.c.cring = &CR;
#else
            refused = 2;
#endif
        }
    }
    __syncthreads();
#if RK__L_DSMEM
    if (W.cfg.cluster && refused != 2) {
        /* Every ring is ready before any peer sends; a block's wrong rank
         * refuses its whole cluster (read after the rings' barrier, left
         * only after everyone read). */
        rk__lc_sync();
        if (threadIdx.x == 0)
            for (uint32_t r = 0; r < W.cfg.cluster; r++)
                refused |= (uint32_t)rk__lc_ld(&((rk_light_cring *)rk__lc_map(&CR, r))->busy);
        rk__lc_sync();
        if (threadIdx.x == 0)
            CR.busy = 0;
    }
#endif
    if (refused) {
        if (threadIdx.x == 0 && h < W.cfg.homes)
            world->home[h].error = RK_EINVAL;
        return;
    }
    const uint32_t nap_max = W.cfg.steal ? RK_LIGHT_STEAL_NAP_MAX : RK_LIGHT_NAP_MAX;
    for (uint32_t looks = 0, nap = 0;;) {
        if (threadIdx.x == 0) {
            const rk_light_msg *m = NULL;
            if (!halted && rk__l_halted(w, &L)) {
                rk_light_halt(w, &L);
                halted = 1;
            }
            if (!halted)
                while ((m = rk_light_next(w, &L)) == NULL) {
                    if (nap == 0)
                        rk_light_publish(w, &L); /* the first look that found nothing */
                    L.idle++;
                    if ((++looks & 63) == 0 &&
                        (rk__l_stopped(w->stop) || (w->halt && rk__l_stopped(w->halt))))
                        break;
                    nap = nap ? (nap < nap_max ? nap * 2 : nap) : 32;
                    __nanosleep(nap);
                }
            if (m)
                nap = 0;
            cur = m;
        }
        __syncthreads(); /* cur and the loop's context before the handler reads them */
        const rk_light_msg *m = cur;
        if (m) {
            fn(&L.c, m);
            __syncthreads(); /* every thread's reads of m before thread 0 frees its slot */
            if (threadIdx.x == 0)
                rk_light_after(w, &L);
            continue;
        }
#if RK__L_DSMEM
        if (W.cfg.cluster) {
            /* A round: every home says whether it has anything left (or
             * was halted); all of them read all answers before any answers
             * again or leaves. A halted home runs nothing, so it only
             * waits here for its peers, which see the halt word too. */
            rk__lc_sync();
            if (threadIdx.x == 0)
                rk__lc_st(&CR.busy, rk__l_round_answer(w, &L, halted));
            rk__lc_sync();
            if (threadIdx.x == 0) {
                uint32_t more = 0;
                for (uint32_t r = 0; r < W.cfg.cluster; r++)
                    more |= rk__lc_ld(&((rk_light_cring *)rk__lc_map(&CR, r))->busy) == RK__L_ANSWER_MORE;
                stay = more;
            }
            rk__lc_sync();
            if (stay)
                continue;
            if (threadIdx.x == 0 && halted)
                rk__l_cluster_drop(w, &L); /* nobody sends any more */
        }
#endif
        if (threadIdx.x == 0)
            rk_light_loop_flush(w, &L);
        return;
    }
}

/* The forwarder on the GPU (rk_light_forward): thread 0 of a block that is
 * no home (its other threads return at once) forwards the port's messages
 * until the stop, then saves its position in the port. Each look reads
 * host memory (a PCIe round trip); between empty looks it naps 64 to
 * 512 ns. */
__device__ inline void rk_light_ingress(rk_light_world *world)
{
    __shared__ rk_light_world W; /* its pointers are read on every step */
    uint64_t at;
    if (threadIdx.x != 0)
        return;
    W = *world;
    if (!W.port)
        return;
    at = W.port->forwarded;
    for (uint32_t looks = 0, nap = 0;;) {
        if (rk_light_forward(&W, &at, 64)) {
            nap = 0;
            continue;
        }
        if (nap == 0)
            rk__lh_st(&W.port->forwarded, at); /* how far it got, for the host's count of what is in flight */
        if ((++looks & 15) == 0 && rk__l_stopped(W.stop))
            break;
        nap = nap ? (nap < 512u ? nap * 2 : nap) : 64u;
        __nanosleep(nap);
    }
    rk__lh_st(&W.port->forwarded, at);
}

/* Host code. Fills *lc, pointing it at `at`, for a launch of `kernel` (a
 * __global__ function that runs rk_light_block, as const void *) in
 * `blocks` blocks of `threads` on stream st; launch it with
 * cudaLaunchKernelEx. With cfg->cluster, as clusters of that many blocks
 * (the homes must be the grid's first blocks, so that each cluster holds
 * homes only), and sizes above RK_CLUSTER_PORTABLE_MAX are allowed on the
 * kernel. The blocks must all be resident at once: a home waits for its
 * senders, and for its cluster's peers when it returns. Returns RK_OK;
 * RK_EINVAL when blocks is not a multiple of cfg->cluster; RK_ENOTSUP when
 * the grid cannot be resident (in whole clusters, with a cluster) or the
 * device refuses the cluster size; RK_EDEVICE when a CUDA call fails. */
static inline rk_status rk_light_launch_config(cudaLaunchConfig_t *lc, cudaLaunchAttribute at[1],
                                               const rk_light_config *cfg, const void *kernel, uint32_t blocks,
                                               uint32_t threads, cudaStream_t st)
{
    const cudaLaunchConfig_t plain = {};
    int fit = 0, sms = 0, dev = 0;
    cudaError_t e;
    *lc = plain;
    lc->gridDim = dim3(blocks);
    lc->blockDim = dim3(threads);
    lc->stream = st;
    lc->attrs = at;
    if (!cfg->cluster) {
        if (cudaGetDevice(&dev) != cudaSuccess ||
            cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess ||
            cudaOccupancyMaxActiveBlocksPerMultiprocessor(&fit, kernel, (int)threads, 0) != cudaSuccess)
            return RK_EDEVICE;
        return (uint64_t)fit * (uint64_t)sms >= blocks ? RK_OK : RK_ENOTSUP;
    }
    if (blocks % cfg->cluster)
        return RK_EINVAL;
    at[0].id = cudaLaunchAttributeClusterDimension;
    at[0].val.clusterDim.x = cfg->cluster;
    at[0].val.clusterDim.y = 1;
    at[0].val.clusterDim.z = 1;
    lc->numAttrs = 1;
    if (cfg->cluster > RK_CLUSTER_PORTABLE_MAX &&
        cudaFuncSetAttribute(kernel, cudaFuncAttributeNonPortableClusterSizeAllowed, 1) != cudaSuccess)
        return RK_EDEVICE;
    e = cudaOccupancyMaxActiveClusters(&fit, kernel, lc);
    if (e == cudaErrorInvalidClusterSize) {
        (void)cudaGetLastError(); /* not sticky: the next call must not see it */
        return RK_ENOTSUP;
    }
    if (e != cudaSuccess)
        return RK_EDEVICE;
    return (uint64_t)fit * cfg->cluster >= blocks ? RK_OK : RK_ENOTSUP;
}
#endif

/* ---- diagnosis ------------------------------------------------------------------------- */

/* Host code (plain functions for nvcc too). Where pointer p of a world's
 * header, which points into `base`, lies in `image`, a host copy of the
 * world. */
static inline void *rk_light_in_image(const void *image, const void *base, const void *p)
{
    return (unsigned char *)image + ((const unsigned char *)p - (const unsigned char *)base);
}

/* Prints to `out` each actor of a world that has a message waiting or a
 * token that is not IDLE, and each home's counters (written when the home
 * returns): what a stalled test or diag shows. Local queues live in their
 * homes (shared memory on the GPU) and are not shown. `image` is a host copy of the world (or the world itself),
 * whose pointers point into `base`. Returns the actors printed (at most
 * `max`). */
static inline unsigned rk_light_world_report(const void *image, const void *base, FILE *out, unsigned max)
{
    const rk_light_world *w = (const rk_light_world *)image;
    const rk_light_actor *act = (const rk_light_actor *)rk_light_in_image(image, base, w->actor);
    const rk_light_msg *slot = (const rk_light_msg *)rk_light_in_image(image, base, w->slot);
    const rk_light_home *home = (const rk_light_home *)rk_light_in_image(image, base, w->home);
    const uint64_t *queue = (const uint64_t *)rk_light_in_image(image, base, w->queue);
    static const char *const names[4] = {"IDLE", "QUEUED", "RUNNING", "AGAIN"};
    unsigned shown = 0;
    for (uint32_t h = 0; h < w->cfg.homes; h++)
        if (home[h].tail != home[h].head || h < 4)
            fprintf(out,
                    "home %u: queue head %llu tail %llu, runs %llu, handled %llu (local %llu), hand-offs %llu, idle looks "
                    "%llu\n",
                    h, (unsigned long long)home[h].head, (unsigned long long)home[h].tail,
                    (unsigned long long)home[h].runs, (unsigned long long)home[h].handled,
                    (unsigned long long)home[h].locals, (unsigned long long)home[h].handoffs,
                    (unsigned long long)home[h].idle_polls);
    for (uint32_t a = 0; a < w->cfg.actors && shown < max; a++) {
        const rk_light_actor *x = &act[a];
        uint64_t seq = slot[(size_t)a * w->cfg.inbox + (x->head & (w->cfg.inbox - 1))].seq;
        int queued = 0;
        if (x->sched == RK_LIGHT_IDLE && x->tail == x->head)
            continue;
        for (uint32_t q = 0; q < w->qcap; q++) {
            uint64_t v = queue[(size_t)x->home * w->qcap + q];
            /* A slot holding an id has lap pos + 1, a free one pos. */
            if ((uint32_t)v == a && ((v >> 32) & (w->qcap - 1)) == ((q + 1) & (w->qcap - 1)))
                queued = 1;
        }
        fprintf(out, "actor %u (home %u): %s, inbox head %llu tail %llu, head slot's seq %llu (%s), %s\n", a,
                x->home, names[x->sched & 3], (unsigned long long)x->head, (unsigned long long)x->tail,
                (unsigned long long)seq, seq == x->head + 1 ? "ready" : "not ready",
                queued ? "queued" : "not queued");
        shown++;
    }
    return shown;
}

#endif
