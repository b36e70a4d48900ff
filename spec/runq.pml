/*
 * runq.pml - the run queue of a light actors' home: a ring of ids that
 * pushers claim positions of with a fetch-add (include/ringkernel/light.cuh as of
 * commit b2ed9d6, 2026-12-02; docs/many-actors.md section 4). sched.pml
 * counts the copies of an id in the run queues; this model checks the ring
 * that holds them.
 *
 * The ring of home h: `tail`, `head` and qcap slots, each one 64-bit word
 * (lap << 32 | id). A slot is free for position pos when its lap is pos,
 * and holds the id pushed at pos when its lap is pos + 1.
 *
 * Models:
 *   sender  rk__l_wake of rk_light_send: finds an id IDLE, moves it to
 *           QUEUED and pushes it (rk__l_push: the fetch-add on tail, relaxed
 *           loads of the slot until its lap is pos, the release store of
 *           (pos + 1) << 32 | id). A sender that finds the id QUEUED or
 *           RUNNING pushes nothing, so it is not modelled
 *   home    stealing off: rk_light_take with rk__l_pop, the home's head a
 *           private variable (the acquire load of slot head; if its lap is
 *           head + 1, the relaxed store of (head + qcap) << 32, and head + 1)
 *   popper  stealing on (STEAL): rk_light_take with rk__l_pop_shared, by the
 *           home and by NT thieves (rk__l_steal): the relaxed load of head
 *           from the header, the acquire load of the slot, a CAS of head to
 *           head + 1 when the lap is head + 1, then the free store
 *   both    after a pop the holder runs the actor and gives it up: either
 *           it pushes the id again itself (the give-up's AGAIN -> QUEUED,
 *           or the re-read's IDLE -> QUEUED) or the id goes IDLE and a
 *           sender may queue it: this is the recycler, and it is how the
 *           home comes to push into its own queue
 *   init    starts them; makes buffered stores visible (below); once
 *           nothing can move, checks U2 and U3
 *
 * The library's invariant, which the model keeps by construction: only
 * whoever moved an id to QUEUED pushes it, and the id is popped before it
 * can be QUEUED again. So at most NA positions are claimed and not popped,
 * and qcap >= NA (rk_light_world_layout: the home's actors rounded up to a
 * power of two, at least 2).
 *
 * Bounds (defaults): NA = 2 ids, qcap QCAP = 2 slots, NS = 2 senders,
 * NPUSH = 8 pushes in all (four laps); stealing off. scripts/spec.sh also
 * runs qcap 4 with 2 ids, 3 ids and 4 ids with qcap 4 (10 pushes), and
 * with stealing on one thief (8 pushes), two thieves (6 pushes) and 3 ids
 * with qcap 4 (8 pushes). docs/verification.md, model 14, has the numbers.
 *
 * Weak memory, as in sched.pml (a store, once visible, is visible to all):
 *   - the popper's free store is relaxed: buffered, one pending per popper
 *     (its next free store lands the pending one first), visible at any
 *     later time through init's memory loop or at the popper's next
 *     release, which is its own next push's store. A pusher's relaxed
 *     loads read memory, or its own pending store (store forwarding); so a
 *     sender whose wake comes after the pop may still find the slot at the
 *     old lap, and waits. Nothing orders the free before another thread's
 *     push: the give-up's release reaches only a thread that acquires, and
 *     a sender's CAS on `sched` is a release only;
 *   - the mark stands for what a pusher wrote before its push (the QUEUED
 *     of its CAS on `sched`, and its message): a relaxed store, buffered,
 *     one pending per pusher. The push's release store makes it visible
 *     first (BUG_RELAXED_PUSH drops that). The take's CAS QUEUED -> RUNNING
 *     reads it (U4); the pop's acquire keeps that read after the slot's
 *     (BUG_RELAXED_POP drops that);
 *   - the push's store itself lands at once. Landing later is the pusher
 *     being slower: no other store to that slot can come before the pop
 *     that reads it, and a popper that looks early finds the slot empty
 *     and changes nothing;
 *   - tail and the shared head change only by read-modify-writes, one step
 *     each; loads of them read memory. A stale load of head, or of a slot,
 *     is a load made earlier: both only move forward, a lap of pos + 1 is
 *     written only by the push of pos, and a stale head fails its CAS.
 *
 * What is folded, and why that loses nothing:
 *   - An empty look (a lap that does not match, a lost CAS) returns
 *     RK_LIGHT_NONE and changes nothing, so the pops wait for a ready slot
 *     instead of looping. rk__l_pop_shared's load of head is enabled only
 *     when slot head is ready: a load made earlier, while it was not, reads
 *     the same head as one made at the moment the slot became ready, unless
 *     another pop moved head in between, and that pop needed the slot
 *     ready too.
 *   - The pusher's wait is one guard: its last relaxed load, which sees
 *     lap pos, and the store after it are one step; nobody else writes a
 *     slot that is free for a position that has been claimed.
 *   - The move to QUEUED and the fetch-add are one step (nobody sees the
 *     move but through the mark, which is buffered anyway); the home's pop
 *     (a private head: the acquire load, the free buffered, head + 1) is
 *     one step, and so is the shared pop's CAS with its free.
 *   - Laps are bytes that do not wrap. light.cuh compares 32-bit laps:
 *     every lap is taken mod 2^32 the same way, and qcap divides 2^32, so a
 *     wrap matters only to a load 2^32 positions stale.
 *   - Every run is finite: a push or a pop moves tail or head for good, a
 *     buffered store lands once, and a shared pop that takes nothing has
 *     lost to another popper that moved head. So every run ends where
 *     nothing can move, and the checks there are the liveness check; ltl
 *     all_popped (weak fairness) checks it again.
 *
 * Properties:
 *   U1 a pop returns the id pushed at the position it took, and that id is
 *      QUEUED (so no push is popped twice)
 *   U2 none lost: when nothing can move, every push was made and popped
 *   U3 the pusher's wait ends: when nothing can move, no pusher is between
 *      its claim and its store; and ltl all_popped
 *   U4 a pop returns only a completed push: the take reads the QUEUED the
 *      pusher wrote before it (release and acquire)
 *   U5 one position, one taker: no two pops take the same position
 *
 * Seeded bugs:
 *   BUG_NO_WAIT       the pusher stores without waiting for its slot's lap:
 *                     the home's free of the slot's previous position is
 *                     still in flight when a sender pushes the id it just
 *                     gave up; the free lands after the push and erases it
 *                     (U2). With the free store landing at once it passes:
 *                     the invariant alone makes the slot free, and the wait
 *                     is for the relaxed free store only, as rk__l_push says
 *   BUG_NO_CAS        rk__l_pop_shared stores head + 1 instead of the CAS:
 *                     the home and a thief load the same head, both find
 *                     the slot ready, and both take the position (U5)
 *   BUG_BAD_FREE=1    the free store writes lap head + 1, the lap the slot
 *                     already has: the pusher of the next lap waits for a
 *                     lap nobody writes (U3)
 *   BUG_BAD_FREE=2    the free store writes lap head, which does not advance
 *                     a lap: the same (U3)
 *   BUG_SMALL_QCAP    qcap below the home's ids (3 ids, qcap 2): the home
 *                     pops one id and pushes it again at once (AGAIN ->
 *                     QUEUED), into a slot whose position it has still to
 *                     pop itself; it waits for itself for ever (U3)
 *   BUG_QCAP1         qcap 1 with one id: the lap of a slot that holds pos
 *                     (pos + 1) is also the lap of a slot free for pos + 1.
 *                     The home pops pos (its free in flight) and gives the
 *                     id up; a sender queues it, sees lap pos + 1 before the
 *                     free lands, pushes, and the free erases the push (U2;
 *                     with the free landing at once it passes).
 *                     rk_light_world_layout keeps qcap at least 2
 *   BUG_RELAXED_PUSH  the push's store is relaxed: the slot lands before the
 *                     pusher's QUEUED, and the take does not find it (U4)
 *   BUG_RELAXED_POP   the home's slot load is relaxed: the take's load of
 *                     `sched` is performed before it, reads the id's state
 *                     from before the push (U4)
 *
 * Not modelled: the PTX model itself (see sched.pml); more than one home
 * (each has its own ring, and a thief's push of a stolen id goes back to
 * the id's home: this ring); the inbox, the token's own orders and the
 * hand-off (sched.pml, handoff.pml); AGAIN as a state (a sender that finds
 * the id RUNNING pushes nothing); the home's counters and the report.
 */

#include "rk_common.pml"

hidden byte U1, U2, U3, U4, U5;

#ifndef NA
#define NA 2 /* ids of the home: 1 .. NA (0 is no id) */
#endif
#ifndef QCAP
#define QCAP 2 /* slots of its run queue */
#endif
#ifndef NPUSH
#define NPUSH 8 /* pushes in all */
#endif
#ifndef NS
#define NS 2 /* senders: 1 or 2 */
#endif
#ifdef STEAL
#ifndef NT
#define NT 1 /* thieves: 1 or 2 */
#endif
#else
#define NT 0
#endif
#define NP (1 + NT)    /* poppers: the home (0) and the thieves (1 .. NT) */
#define NPROC (NP + NS) /* pushers: the poppers and the senders (NP ..) */

#if NA < 1 || NA > 4 || NS < 1 || NS > 2 || NT > 2
#error "the senders' and the memory loop's options are written out for these bounds"
#endif
#if QCAP < NA && !defined(BUG_SMALL_QCAP)
#error "qcap below the home's ids: that is BUG_SMALL_QCAP"
#endif
#if defined(BUG_RELAXED_POP) && defined(STEAL)
#error "BUG_RELAXED_POP is written for the home's own pop"
#endif
#if QCAP < 2 && !defined(BUG_QCAP1)
#error "qcap 1: that is BUG_QCAP1"
#endif

/* The states of an id's `sched` word, as far as the queue cares (QUEUED
 * stands for QUEUED, RUNNING for RUNNING and AGAIN). */
#define IDLE 0
#define QUEUED 1
#define RUNNING 2

/* The free store's lap for position h: the next lap's position. */
#if BUG_BAD_FREE == 1
#define FREE_LAP(h) ((h) + 1) /* the lap the slot already has */
#elif BUG_BAD_FREE == 2
#define FREE_LAP(h) (h)       /* free, but for the lap just popped */
#else
#define FREE_LAP(h) ((h) + QCAP)
#endif

/* The queue: tail, the shared head (stealing on) and the slots, as memory
 * holds them. A slot is one word: lap and id land together. */
byte tail;
byte head;
byte lap[QCAP];
byte sid[QCAP];

/* The mark: per id, whether the QUEUED its pusher wrote (and everything
 * the pusher wrote before it) is visible; the take reads it and writes
 * RUNNING. */
bool mark[NA + 1];

/* Buffered stores: a popper's free store (slot + 1 and lap; 0: none) and a
 * pusher's mark (the id; 0: none). */
byte pf_s[NPROC];
byte pf_lap[NPROC];
byte pm[NPROC];

/* Ghosts. */
byte st[NA + 1];     /* IDLE, QUEUED, RUNNING */
byte at_id[NPUSH];   /* per position: the id pushed there, 0 once popped */
byte budget = NPUSH; /* pushes not yet made */
byte popped;
byte waiting;        /* pushers between their claim and their store */

#define LAND_FREE(p) \
    lap[pf_s[p] - 1] = pf_lap[p]; sid[pf_s[p] - 1] = 0; pf_s[p] = 0; pf_lap[p] = 0
#define LAND_MARK(p) mark[pm[p]] = true; pm[p] = 0

/* A release: every earlier store of p is visible first. */
#define FLUSH(p) \
    if :: pf_s[p] != 0 -> LAND_FREE(p) :: else -> skip fi; \
    if :: pm[p] != 0 -> LAND_MARK(p) :: else -> skip fi

/* The lap of slot s as p loads it: its own pending store if it has one
 * there (store forwarding), else memory. */
#define SEEN_LAP(p, s) (pf_s[p] == (s) + 1 -> pf_lap[p] : lap[s])

/* The id's move to QUEUED (the CAS on `sched` of rk__l_wake, or the
 * give-up's AGAIN -> QUEUED), the mark buffered with it, and rk__l_push's
 * fetch-add on tail. The move and the claim are one step: the move is seen
 * by nobody but through the mark, which lands later anyway. */
#define QUEUE_CLAIM(p, k) \
    st[k] = QUEUED; budget--; \
    if :: pm[p] != 0 -> LAND_MARK(p) :: else -> skip fi; \
    pm[p] = k; \
    pos = tail; tail++; at_id[pos] = k; waiting++

/* rk__l_push after the claim: the wait for the slot's lap (relaxed loads;
 * the last one, which sees pos, is the guard) and the release store of
 * (pos + 1) << 32 | id. */
inline push_store(p)
{
    atomic {
#ifndef BUG_NO_WAIT
        SEEN_LAP(p, pos % QCAP) == pos ->
#endif
#ifdef BUG_RELAXED_PUSH
        /* relaxed: only the same word's order (coherence) */
        if :: pf_s[p] == pos % QCAP + 1 -> LAND_FREE(p) :: else -> skip fi;
#else
        FLUSH(p);
#endif
        lap[pos % QCAP] = pos + 1;
        sid[pos % QCAP] = i;
        waiting--;
        pos = 0
    }
}

/* The mark of id k as p's take reads it: p's own pending one, if any,
 * else memory; with BUG_RELAXED_POP, a value loaded before the slot. */
#ifdef BUG_RELAXED_POP
#define SEEN_MARK(p, k) (hoisted && early_id == (k) -> early : (mark[k] || pm[p] == (k)))
#else
#define SEEN_MARK(p, k) (mark[k] || pm[p] == (k))
#endif

/* A pop took position q and found id k there: the checks, and the take's
 * CAS QUEUED -> RUNNING. */
#define TAKE(p, k, q) \
    PROP(U5, at_id[q] != 0); \
    PROP(U1, at_id[q] == k && st[k] == QUEUED); \
    PROP(U4, SEEN_MARK(p, k)); \
    if :: pm[p] == k -> pm[p] = 0 :: else -> skip fi; \
    mark[k] = false; \
    at_id[q] = 0; \
    st[k] = RUNNING; \
    popped++

/* The relaxed free store of slot s, buffered: one pending per popper, so
 * its previous one lands first (the same slot: coherence; another slot:
 * that only lets a pusher of that slot go on sooner). */
#define FREE(p, s, v) \
    if :: pf_s[p] != 0 -> LAND_FREE(p) :: else -> skip fi; \
    pf_s[p] = (s) + 1; pf_lap[p] = v

/* After the run: the holder pushes the id again (AGAIN -> QUEUED, or the
 * re-read's IDLE -> QUEUED), or leaves it IDLE for a sender's wake. */
inline give_up(p)
{
    atomic {
        if
        :: budget > 0 -> QUEUE_CLAIM(p, i); again = true
        :: st[i] = IDLE
        fi
    };
    if
    :: again -> push_store(p)
    :: else -> skip
    fi
}

/* rk_light_send's rk__l_wake: a sender that finds an id IDLE queues it. */
#define WAKE(k) \
    :: atomic { budget > 0 && st[k] == IDLE -> i = k; QUEUE_CLAIM(p, k) }; \
        push_store(p); i = 0
#if NA > 3
#define WAKE_ALL WAKE(1) WAKE(2) WAKE(3) WAKE(4)
#elif NA > 2
#define WAKE_ALL WAKE(1) WAKE(2) WAKE(3)
#elif NA > 1
#define WAKE_ALL WAKE(1) WAKE(2)
#else
#define WAKE_ALL WAKE(1)
#endif

proctype sender(byte p)
{
    byte i, pos;
    do
    WAKE_ALL
    :: budget == 0 -> break
    od
}

#ifndef STEAL
/* Stealing off: rk_light_take with rk__l_pop, the home's private head. An
 * empty look changes nothing, so the pop waits for a ready slot. */
proctype home()
{
    byte hd, i, pos;
    bool again;
#ifdef BUG_RELAXED_POP
    byte early_id;
    bool early, hoisted;
#endif
end:
    do
#ifdef BUG_RELAXED_POP
    :: !hoisted ->
        /* a relaxed slot load: the take's load of `sched` (of the id it
         * will find) may be performed first */
        atomic { select(early_id : 1 .. NA); early = mark[early_id]; hoisted = true }
#endif
    :: atomic {
            SEEN_LAP(0, hd % QCAP) == hd + 1 -> /* the acquire load */
            i = sid[hd % QCAP];
            TAKE(0, i, hd);
            FREE(0, hd % QCAP, FREE_LAP(hd));
            hd++
#ifdef BUG_RELAXED_POP
            ; hoisted = false; early = false; early_id = 0
#endif
        };
        give_up(0);
        i = 0;
        again = false
    od
}

#else
/* Stealing on: rk_light_take with rk__l_pop_shared, by the home (p = 0) or
 * a thief. */
proctype popper(byte p)
{
    byte h, i, pos;
    bool ok, won, again;
end:
    do
    :: atomic {
            /* the relaxed load of head (when slot head is ready: an earlier
             * load followed by an empty look changes nothing) */
            SEEN_LAP(p, head % QCAP) == head + 1 -> h = head
        };
        atomic {
            /* the acquire load of the slot */
            ok = (SEEN_LAP(p, h % QCAP) == h + 1);
            i = (ok -> sid[h % QCAP] : 0)
        };
        if
        :: ok ->
            atomic {
#ifdef BUG_NO_CAS
                head = h + 1; /* a plain store */
                won = true;
#else
                won = (head == h); /* the CAS */
                if :: won -> head = h + 1 :: else -> skip fi;
#endif
                if
                :: won -> TAKE(p, i, h); FREE(p, h % QCAP, FREE_LAP(h))
                :: else -> skip
                fi
            }
        :: else -> skip
        fi;
        if
        :: won -> give_up(p)
        :: else -> skip
        fi;
        d_step { h = 0; i = 0; ok = false; won = false; again = false }
    od
}
#endif

#define LANDF(p) :: atomic { pf_s[p] != 0 -> LAND_FREE(p) }
#define LANDM(p) :: atomic { pm[p] != 0 -> LAND_MARK(p) }
#if NT > 1
#define MEMORY_T LANDF(1) LANDM(1) LANDF(2) LANDM(2)
#elif NT > 0
#define MEMORY_T LANDF(1) LANDM(1)
#else
#define MEMORY_T
#endif
#if NS > 1
#define MEMORY_S LANDM(NP) LANDM(NP + 1)
#else
#define MEMORY_S LANDM(NP)
#endif
#define MEMORY LANDF(0) LANDM(0) MEMORY_T MEMORY_S

init
{
    byte k;
    atomic {
        do
        :: k < QCAP -> lap[k] = k; k++ /* free for lap 0 */
        :: else -> break
        od;
#ifdef STEAL
        run popper(0);
        run popper(1);
#if NT > 1
        run popper(2);
#endif
#else
        run home();
#endif
        run sender(NP);
#if NS > 1
        run sender(NP + 1)
#endif
    }
    do
    MEMORY
    :: timeout ->
        PROP(U3, waiting == 0);
        PROP(U2, budget == 0 && popped == NPUSH);
        break
    od
}

ltl all_popped { <> (popped == NPUSH) }
