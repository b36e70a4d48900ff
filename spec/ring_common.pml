/*
 * ring_common.pml - the ring of include/ringkernel/ring.h under weak memory,
 * shared by ring_spsc.pml and ring_mpsc.pml: slot words, producer and
 * consumer lines, a store-buffer model of the producers' stores, the
 * producer paths of the code, and one consumer.
 *
 * The including model defines NPROD (1 or 2), MODE (RK_RING_SPSC or
 * RK_RING_MPSC), NMSG0 and NMSG1 (messages of producer 0 and 1), KINDS (the
 * producer paths it lets init choose from) and CHECK(pos, v) (its check of
 * a payload v read at position pos). CAP (slots) defaults to 2; 4 also works.
 *
 * ---- Producer paths (kind[p], chosen by init) ----------------------------
 *  K_HOST    rk_ring_claim, then rk_ring_publish's host branch: a release
 *            store of each sequence word. This is rk__cpu_push
 *            (src/cpu/cpu_backend.c) and rk_ring_push. The copy skips the
 *            slot's sequence word (memcpy from slot + 8).
 *  K_DEV     rk_ring_claim, rk__gpu_write_msg (a zero into the sequence
 *            word with the header, then the payload), one release fence,
 *            relaxed sequence stores: rk_ring_publish's __CUDA_ARCH__
 *            branch, and rk__gpu_send_k2k in include/ringkernel/device.cuh.
 *  K_GPUHOST rk__gpu_send_host (device.cuh): rk__gpu_claim_host (its own
 *            claim: device-scope CAS, an unsigned room test), the message
 *            written, and publication deferred: rk__gpu_flush_pub publishes
 *            every pending position with one system fence and relaxed
 *            sequence stores when RK__GPU_PUB_MAX are pending, when a claim
 *            finds the ring full, and after a handler batch.
 *
 * ---- Weak memory, as modelled --------------------------------------------
 * A slot has two words: seq (its sequence word) and pay (one word standing
 * for the header and payload bytes). Their shared arrays hold the values
 * other threads can see. A producer's store to a slot word goes into that
 * producer's store buffer, which holds at most one pending store per word
 * (a second store to the same word first commits the pending one:
 * same-address stores stay in order, i.e. coherence). The `memory` process
 * commits pending stores one at a time in ANY order, so two stores to
 * different words may become visible in either order: no ordering at all
 * between stores unless the code asks for it, which is weaker than x86 and
 * as weak as the PTX and Arm models allow for stores from one thread.
 *   fence (__threadfence[_system], fence.acq_rel): FENCE(p) waits until
 *     every earlier store of p is visible.
 *   release store (rk__st_release): FENCE(p), then the buffered store;
 *     stores after it may still overtake it.
 *   relaxed store (rk__st_relaxed, plain stores): buffered, no wait.
 * Loads read the visible value. The consumer performs its loads in program
 * order, which is what its acquire loads (rk_ring_ready) and its release
 * store of head (rk_ring_consume) guarantee in C; the bug switches
 * BUG_RELAXED_READY and BUG_RELAXED_CONSUME take exactly those guarantees
 * away. The index words (tail, head_cache, head) are single atomic words
 * without buffering, i.e. sequentially consistent; see docs/verification.md
 * for what that leaves out.
 *
 * ---- Ghost state and properties -----------------------------------------
 *  expect[pos]  the payload claimed for position pos (0: not claimed)
 *  creads       positions the consumer has finished reading
 *  R1 (CHECK, by the model) a read returns the payload claimed for its
 *     position: never an unpublished, half-written or older lap's slot;
 *  R2 (CHECK) the order and uniqueness the model states (FIFO, per
 *     producer in MPSC): nothing duplicated, nothing skipped;
 *  R3 a producer never stores into a slot the consumer has not finished
 *     reading (assert at each store into a slot);
 *  R4 each position is claimed once (assert at the claim);
 *  R5 RK_EFULL only when the ring was full: at the load of the consumer's
 *     head that decided it, tail + n - head > CAP held for the real tail;
 *  R6 no loss: the consumer blocks until all NMSG0 + NMSG1 messages have
 *     been read, so a run that loses one ends in an invalid end state, and
 *     ltl all_delivered (weak fairness) says every run gets there.
 */

#define RK_RING_SPSC 0
#define RK_RING_MPSC 1

/* PROP(P, e): assert e as property P. The property's name is a hidden
 * variable (never set, not part of the state), so a violation reads
 * "assertion violated (P||(e))" and names the property it breaks. */
#define PROP(p, e) assert(p || (e))
hidden byte R1, R2, R3, R4, R5;

#ifndef CAP
#define CAP 2
#endif
#if CAP != 2 && CAP != 4
#error "the memory process is written out for CAP 2 or 4"
#endif
#if NPROD != 1 && NPROD != 2
#error "the memory process is written out for one or two producers"
#endif

#define TOTAL (NMSG0 + NMSG1)
#define NMSG_OF(p) ((p) == 0 -> NMSG0 : NMSG1)

#define K_HOST 0
#define K_DEV 1
#define K_GPUHOST 2

#define PUB_MAX 2 /* RK__GPU_PUB_MAX, scaled down */

#ifndef NB
#define NB 2 /* the largest batch one rk_ring_claim takes */
#endif
#if NB > CAP
#error "a batch larger than the ring is refused (RK_EINVAL): not modelled"
#endif

/* rk_ring_slot: pos & (capacity - 1) */
#define SLOT(pos) ((pos) % CAP)

/* The sequence word that says "position pos is ready": rk_ring_publish
 * stores pos + 1, rk_ring_ready compares with pos + 1, and rk_ring_init's
 * zero means "not ready" for every position. */
#ifdef BUG_SEQ_EQ_POS
#define SEQ_OF(pos) (pos)
#else
#define SEQ_OF(pos) ((pos) + 1)
#endif

/* rk_ring_ready's comparison, on the visible sequence word. */
#ifdef BUG_FLAG_NOT_SEQ
#define IS_READY(pos) (seq[SLOT(pos)] != 0)
#else
#define IS_READY(pos) (seq[SLOT(pos)] == SEQ_OF(pos))
#endif

/* ---- shared memory: the visible values ---------------------------------- */
byte seq[CAP];   /* sequence words; zero after rk_ring_init */
byte pay[CAP];   /* the rest of each slot */
byte tail;       /* rk_ring_prod.tail */
byte head_cache; /* rk_ring_prod.head_cache */
byte head;       /* rk_ring_cons.head */

/* ---- store buffers: one pending store per (producer, slot, word) ---------- */
#define IDX(p, s) ((p) * CAP + (s))
bool sb_seq[NPROD * CAP];
byte sb_seq_v[NPROD * CAP];
bool sb_pay[NPROD * CAP];
byte sb_pay_v[NPROD * CAP];
byte sb_n[NPROD]; /* pending stores per producer */

byte kind[NPROD];

/* ---- ghosts ----------------------------------------------------------------- */
byte expect[TOTAL];
byte creads;
bool consumer_done;

/* One option of `memory`: make p's pending store to word w of slot s visible. */
#define COMMIT(w, p, s) \
    :: atomic { sb_##w[IDX(p, s)] -> w[s] = sb_##w##_v[IDX(p, s)]; sb_##w[IDX(p, s)] = 0; sb_n[p]-- }
#define COMMIT_SLOT(p, s) COMMIT(seq, p, s) COMMIT(pay, p, s)

/* Producer p stores v into word w of slot s: buffered (coherence: a pending
 * store to the same word becomes visible first). */
#define STORE(w, p, s, v) \
    atomic { \
        if \
        :: sb_##w[IDX(p, s)] -> w[s] = sb_##w##_v[IDX(p, s)]; sb_n[p]-- \
        :: else -> skip \
        fi; \
        sb_##w[IDX(p, s)] = 1; sb_##w##_v[IDX(p, s)] = v; sb_n[p]++ \
    }

/* A release fence: blocks until every earlier store of p is visible. */
#define FENCE(p) (sb_n[p] == 0)

/* R3, at the store into the slot of position pos. */
#define NO_OVERWRITE(pos) PROP(R3, (pos) < creads + CAP)

/* Makes every pending store visible, in any order. Never ends. */
proctype memory()
{
end:
    do
    COMMIT_SLOT(0, 0)
    COMMIT_SLOT(0, 1)
#if CAP > 2
    COMMIT_SLOT(0, 2)
    COMMIT_SLOT(0, 3)
#endif
#if NPROD > 1
    COMMIT_SLOT(1, 0)
    COMMIT_SLOT(1, 1)
#if CAP > 2
    COMMIT_SLOT(1, 2)
    COMMIT_SLOT(1, 3)
#endif
#endif
    od
}

/* ---- claiming ------------------------------------------------------------------ */

/* The room test, signed as in rk__ring_has_room: a stale tail below head
 * means room (the CAS will fail and reload). BUG_UNSIGNED_ROOM makes it
 * unsigned (uint64_t wrap-around), as rk__gpu_claim_host has it. */
#define ROOM_SIGNED(t, n, h) ((t) + (n) - (h) <= CAP)
#define ROOM_UNSIGNED(t, n, h) ((t) + (n) - (h) >= 0 && (t) + (n) - (h) <= CAP)
#ifdef BUG_UNSIGNED_ROOM
#define ROOM(t, n, h) ROOM_UNSIGNED(t, n, h)
#else
#define ROOM(t, n, h) ROOM_SIGNED(t, n, h)
#endif

/* rk__ring_has_room(r, t, n): the cached head (acquire load); only if it
 * says full, the consumer's head (acquire load), stored to the cache
 * (release store). Sets room; full_now records, at the head load, whether
 * the ring was really full (for R5). Locals: h, full_now. */
inline ring_has_room(t, n, room)
{
    h = head_cache;
    if
    :: ROOM(t, n, h) -> room = true
    :: else ->
        atomic { h = head; full_now = !ROOM_SIGNED(tail, n, h) };
        head_cache = h;
        room = ROOM(t, n, h)
    fi
}

/* rk_ring_claim(r, n, &pos) by producer p: sets st and pos. */
inline ring_claim(p, n, pos, st)
{
    t = tail; /* relaxed load */
    do
    :: true ->
        ring_has_room(t, n, room);
        if
        :: !room -> PROP(R5, full_now); st = RK_EFULL; break
        :: else -> skip
        fi;
#if MODE == RK_RING_SPSC
        tail = t + n; /* relaxed store: the only producer */
        pos = t; st = RK_OK; break
#elif defined(BUG_NO_CAS)
        tail = t + n; /* a plain store where the CAS belongs */
        pos = t; st = RK_OK; break
#else
        /* rk__cas(&tail, &t, t + n): on failure t gets the current tail and
         * the loop rechecks room from it */
        if
        :: atomic { tail == t -> tail = t + n; pos = t; st = RK_OK }; break
        :: atomic { tail != t -> t = tail };
#ifdef BUG_NO_RECHECK
            /* retried with the new tail on the old room verdict */
            do
            :: atomic { tail == t -> tail = t + n; pos = t; st = RK_OK }; break
            :: atomic { tail != t -> t = tail }
            od;
            break
#else
            skip
#endif
        fi
#endif
    od
}

/* rk__gpu_claim_host(c, r, &pos): one position; a relaxed load of tail and
 * of head_cache, a signed room test (as rk__ring_has_room), a refresh from
 * the consumer's head only when that test says full. BUG_GPU_UNSIGNED_ROOM
 * is the unsigned test it had before (spec/findings/
 * gpu-claim-host-spurious-full.md): a stale tail then reads as full. */
#ifdef BUG_GPU_UNSIGNED_ROOM
#define GPU_ROOM(t, n, h) ROOM_UNSIGNED(t, n, h)
#else
#define GPU_ROOM(t, n, h) ROOM_SIGNED(t, n, h)
#endif
inline gpu_claim_host(p, pos, st)
{
    t = tail;       /* rk__ld_relaxed(&r->prod->tail) (or the hint) */
    h = head_cache; /* rk__ld_relaxed(&r->prod->head_cache) (or the hint) */
    do
    :: true ->
        if
        :: !GPU_ROOM(t, 1, h) ->
            atomic { h = head; full_now = !ROOM_SIGNED(tail, 1, h) }; /* acquire */
            head_cache = h;                                           /* relaxed */
            if
            :: !GPU_ROOM(t, 1, h) ->
                PROP(R5, full_now);
                st = RK_EFULL; break
            :: else -> skip
            fi
        :: else -> skip
        fi;
        if
        :: atomic { tail == t -> tail = t + 1; pos = t; st = RK_OK }; break
        :: atomic { tail != t -> t = tail }
        fi
    od
}

/* Ghost bookkeeping of a claim of n positions from pos by producer p, whose
 * next message is number `sent` (0-based). */
inline note_claim(p, pos, n)
{
    d_step {
        i = 0;
        do
        :: i < n ->
            PROP(R4, pos + i < TOTAL && expect[pos + i] == 0);
            expect[pos + i] = p * 8 + sent + i + 1;
            i++
        :: else -> break
        od;
        i = 0
    }
}

/* ---- filling and publishing -------------------------------------------------- */

/* The message bytes of positions [pos, pos + n). The GPU's
 * rk__gpu_write_msg also stores a zero into the sequence word, in the same
 * 16-byte store as the first header bytes; the host's copy starts after it. */
inline ring_fill(p, pos, n)
{
    i = 0;
    do
    :: i < n ->
        NO_OVERWRITE(pos + i); /* R3 */
        if
        :: kind[p] != K_HOST -> STORE(seq, p, SLOT(pos + i), 0)
        :: else -> skip
        fi;
        STORE(pay, p, SLOT(pos + i), expect[pos + i]);
        i++
    :: else -> break
    od;
    i = 0
}

/* rk_ring_publish(r, pos, n) by producer p. */
inline ring_publish(p, pos, n)
{
    i = 0;
    if
    :: kind[p] == K_DEV ->
#ifndef BUG_NO_FENCE
        FENCE(p); /* rk__fence_release: every payload store of the batch first */
#endif
        do
        :: i < n -> STORE(seq, p, SLOT(pos + i), SEQ_OF(pos + i)); i++ /* relaxed */
        :: else -> break
        od
    :: else ->
        do
        :: i < n ->
#ifndef BUG_NO_RELEASE
            FENCE(p); /* the release half of rk__st_release */
#endif
            STORE(seq, p, SLOT(pos + i), SEQ_OF(pos + i));
            i++
        :: else -> break
        od
    fi;
    i = 0
}

/* rk__gpu_flush_pub: one system fence, then a relaxed sequence store for
 * every pending position, in the order they were claimed. */
inline flush_pub(p)
{
#ifndef BUG_NO_FLUSH_FENCE
    FENCE(p);
#endif
    i = 0;
    do
    :: i < npub -> STORE(seq, p, SLOT(pub[i]), SEQ_OF(pub[i])); i++
    :: else -> break
    od;
    atomic { npub = 0; pub[0] = 0; pub[1] = 0; i = 0 }
}

/* ---- the processes -------------------------------------------------------------- */

/* A producer that sends its NMSG_OF(p) messages in order, retrying after
 * RK_EFULL as a sender that must not lose a message would. */
proctype producer(byte p)
{
    byte sent, n, t, h, pos, st, i, npub;
    byte pub[PUB_MAX];
    bool room, full_now;
    do
    :: sent == NMSG_OF(p) -> break
    :: sent < NMSG_OF(p) ->
        atomic { /* the batch: 1 .. NB positions, no more than are left */
            n = 1;
            do
            :: kind[p] != K_GPUHOST && n < NB && n < NMSG_OF(p) - sent -> n++
            :: break
            od
        }
        if
        :: kind[p] != K_GPUHOST -> ring_claim(p, n, pos, st)
        :: else ->
            gpu_claim_host(p, pos, st);
#ifndef BUG_NO_FLUSH_ON_FULL
            if /* "our own unpublished sends may be what holds the host back" */
            :: st == RK_EFULL && npub > 0 -> flush_pub(p); gpu_claim_host(p, pos, st)
            :: else -> skip
            fi
#endif
        fi;
        if
        :: st == RK_OK ->
            note_claim(p, pos, n);
            ring_fill(p, pos, n);
            if
            :: kind[p] == K_GPUHOST ->
                d_step { pub[npub] = pos; npub++ };
                if
                :: npub == PUB_MAX -> flush_pub(p)
                :: else -> skip
                fi
            :: else -> ring_publish(p, pos, n)
            fi;
            sent = sent + n
        :: else -> skip /* RK_EFULL: try again */
        fi;
        d_step { n = 0; t = 0; h = 0; pos = 0; st = 0; room = false; full_now = false }
    :: kind[p] == K_GPUHOST && npub > 0 -> flush_pub(p) /* a handler batch ends */
    od;
    if
    :: npub > 0 -> flush_pub(p)
    :: else -> skip
    fi
}

/* The consumer, one thread: rk__run_actor's loop (src/cpu/cpu_backend.c),
 * rk__try_recv (src/core/hostq.c) and the GPU's inbox loop all read ready
 * slots in position order with rk_ring_ready and free them with
 * rk_ring_consume after a run of reads; doing the consume at any point
 * covers every batch size. pos is the consumer's private head. */
proctype consumer()
{
    byte pos, v;
#ifdef BUG_RELAXED_READY
    byte early;
    bool hoisted;
#endif
    do
    :: pos == TOTAL -> break
#ifdef BUG_RELAXED_READY
    :: pos < TOTAL && !hoisted -> /* the payload load performed before the sequence load */
        atomic { early = pay[SLOT(pos)]; hoisted = true }
#endif
    :: pos < TOTAL && IS_READY(pos) -> /* rk_ring_ready: acquire load */
#ifdef BUG_RELAXED_CONSUME
        if /* a relaxed head store may be visible before the reads below */
        :: head < pos + 1 -> head = pos + 1
        :: skip
        fi;
#endif
        atomic {
#ifdef BUG_RELAXED_READY
            if
            :: hoisted -> v = early
            :: else -> v = pay[SLOT(pos)]
            fi;
            hoisted = false; early = 0;
#else
            v = pay[SLOT(pos)];
#endif
            CHECK(pos, v); /* R1, R2 */
            creads++;
            pos++;
            v = 0
        }
    :: head < pos -> head = pos /* rk_ring_consume: release store */
    od;
    consumer_done = true
}

/* init: every producer path the model allows, for every producer. */
#define CHOOSE_KIND(p) \
    if \
    :: (KINDS & (1 << K_HOST)) -> kind[p] = K_HOST \
    :: (KINDS & (1 << K_DEV)) -> kind[p] = K_DEV \
    :: (KINDS & (1 << K_GPUHOST)) -> kind[p] = K_GPUHOST \
    fi

init
{
    atomic {
        CHOOSE_KIND(0);
#if NPROD > 1
        CHOOSE_KIND(1);
#endif
        run memory();
        run producer(0);
#if NPROD > 1
        run producer(1);
#endif
        run consumer()
    }
}

ltl all_delivered { <> consumer_done }
