/*
 * vring.pml - the bounded MPSC queue (Vyukov) of light actors: a home's
 * cluster ring, and with NO_GUESS an actor's inbox (include/ringkernel/light.cuh as
 * of commit b3a089f, 2026-12-02; docs/many-actors.md section 5). sched.pml
 * folds the inbox's claim into one step; this model checks the ring's own
 * claim, lap and guess logic.
 *
 * The ring: `tail`, and SLOTS slots, each with a sequence word `seq` and
 * the message. Positions are free-running. A slot is free for position pos
 * when its seq is pos, and holds the message of pos when it is pos + 1.
 * Slot k starts at seq k (free for lap 0).
 *
 * Models:
 *   producer rk__l_cluster_send: the claim starts at the guess `*guess`
 *            (ctail: this producer's last claimed position + 1, at first
 *            0), not at a load of tail. Then a loop: the acquire load of
 *            seq of slot pos; seq == pos: the relaxed CAS of tail pos ->
 *            pos + 1, which ends the loop when it wins and else sets pos
 *            to the value it found; seq < pos: RK_EFULL; seq > pos: pos =
 *            the relaxed load of tail. After the claim: *guess = pos + 1,
 *            the receiver and the message (plain stores), then the release
 *            store of seq = pos + 1 (the publish). With NO_GUESS the claim
 *            starts at a relaxed load of tail each time, as rk__l_claim
 *            (with rk__l_publish) does for an inbox. A send that gets
 *            RK_EFULL drops its message (a retry is one more send)
 *   consumer the ring's home: rk__l_cluster_head and rk_light_after's
 *            RK__L_CLUSTER_RING branch, with its head (chead) private: the
 *            acquire load of seq of slot head; when it is head + 1, the
 *            message's plain loads (the handler), then the release store
 *            of seq = head + SLOTS (free for the next lap), and head + 1.
 *            For an inbox the same steps are rk_light_read and
 *            rk_light_done, by whichever block holds the run token
 *            (sched.pml checks that the token hands the head on)
 *   init     starts them; makes buffered stores visible (below); once
 *            nothing can move, checks V6 and V4
 *
 * Bounds (defaults): SLOTS = 2 slots, NP = 2 producers, NPER = 2 sends
 * each (4 in all: two laps). scripts/spec.sh also runs 3 sends each; 3
 * producers with 2 and with 4 slots; 3 producers with 3 sends each (9
 * sends); the liveness check with 3 producers; STOP. With NO_GUESS it runs
 * the same but for the last two 3-producer rows. docs/verification.md,
 * model 15, has the numbers.
 *
 * Weak memory, as in runq.pml and sched.pml (a store, once visible, is
 * visible to all):
 *   - the message (the receiver's id and the words, one word here) is a
 *     plain store, buffered: one pending per producer (its next one lands
 *     the pending one first), visible at any later time through init's
 *     memory loop or at the producer's next release, which is the publish
 *     that follows it (BUG_RELAXED_PUBLISH drops that). The consumer's
 *     loads of the message come after its acquire load of seq
 *     (BUG_RELAXED_HEAD drops that) and before its release store
 *     (BUG_RELAXED_FREE drops that);
 *   - the publish and the free are release stores. They land at once:
 *     landing later is their thread being slower. While position q is
 *     claimed and not yet published (seq q), no producer can tell it from
 *     published (q + 1): one whose pos is q loses its CAS or reloads, and
 *     either way reads tail; one whose pos is q + SLOTS finds either below
 *     pos (RK_EFULL); no other pos meets that slot then. So the producer's
 *     later CAS may as well be seen first. The consumer's later loads are
 *     of words that, once ready, stay so until it changes them itself, so
 *     a load of them performed before its free lands reads what it would
 *     read after;
 *   - tail changes only by the CAS, one step; loads of tail and of seq
 *     read memory. A stale load is a load made earlier: both only move
 *     forward. The message store is issued in the step of the winning
 *     CAS: the acquire load before the CAS keeps it after the load that
 *     saw the slot free, and only the winner writes.
 *
 * What is folded, and why that loses nothing:
 *   - Taking the guess as pos is private, folded into the step before.
 *   - The consumer's acquire load, its loads of the message and its free
 *     are one step: the handler's run in between is private, and nobody
 *     else writes the slot before the free (V5 checks that). A look that
 *     finds nothing changes nothing, so the consumer waits for a ready
 *     slot instead of looping. BUG_RELAXED_FREE and BUG_RELAXED_HEAD split
 *     the step where the bug reorders it.
 *   - Positions are bytes that do not wrap. light.cuh's are 64-bit and
 *     free-running: 2^64 sends do not happen.
 *   - Every run is finite: each turn of the claim loop that does not end
 *     follows a claim by another producer (tail > pos), and pos moves up
 *     to it. So every run ends where nothing can move, and the checks
 *     there are the liveness check; ltl all_consumed (weak fairness)
 *     checks it again.
 *
 * Why the guess is safe: it only takes values tail had (a claim made tail
 * pos + 1), and tail only grows, so it is never ahead of tail. A stale one
 * finds its slot claimed (seq pos, and the CAS loses) or published or
 * freed (seq above pos, and it loads tail), as a lost race does. seq below
 * pos at a position at or below tail means position pos - SLOTS is claimed
 * and not yet freed while pos - SLOTS + 1 .. pos - 1 are claimed: the ring
 * is full. So RK_EFULL can be asserted to be true at the load that decides
 * it (V3). (Below tail seq is never below pos, as claiming pos needed seq
 * pos: RK_EFULL comes only with pos at tail.)
 *
 * Properties:
 *   V1 the consumer takes only a published position, and reads the
 *      message its producer wrote for that position (intact, not an older
 *      or a newer lap's); it takes each position once (its head only moves
 *      up)
 *   V2 per producer, its messages are consumed in the order it sent them,
 *      none twice, none skipped
 *   V3 RK_EFULL only when the ring was full: at the acquire load that
 *      decides it, SLOTS positions were claimed and not yet freed
 *   V4 no lost message: when nothing can move, every message sent with
 *      RK_OK was consumed (and freed); and ltl all_consumed
 *   V5 a claim takes the tail position (none skipped, none taken twice)
 *      and a slot whose previous lap was consumed and freed (none
 *      overwritten), wherever it started (a stale guess)
 *   V6 every send returns: when nothing can move, no producer is inside a
 *      send. With STOP the consumer may stop for good at any time (a home
 *      busy elsewhere): a send into a full ring must then return RK_EFULL,
 *      not wait ("never blocks", rk_light_send; a handler must not wait
 *      for a ring, as two homes could wait for each other). V4 is not
 *      checked with STOP
 *
 * Seeded bugs:
 *   BUG_RELAXED_PUBLISH the publish is relaxed: seq lands before the
 *                     message, and the consumer reads the slot's old
 *                     contents (V1)
 *   BUG_RELAXED_HEAD  the consumer's load of seq is relaxed: its load of
 *                     the message is performed before it, and reads the
 *                     slot before the producer's store landed (V1)
 *   BUG_RELAXED_FREE  the free is relaxed: it lands before the consumer's
 *                     loads of the message, and the next lap's producer
 *                     writes over the message first (V1). A relaxed load
 *                     of seq in the producer's claim breaks the same pair
 *                     (the consumer's loads are then not ordered before
 *                     the producer's store), which this variant stands for
 *   BUG_FREE_LAP=1    the free writes head + 1, the value the slot has: a
 *                     producer of the next lap finds the slot full in a
 *                     ring that is not (V3)
 *   BUG_FREE_LAP=2    the free writes head: the same (V3)
 *   BUG_NO_RECHECK    after a lost CAS the producer tries the CAS again at
 *                     the value it found, without loading that slot's seq:
 *                     it claims a slot whose last message is not consumed
 *                     (V5)
 *   BUG_GUESS_AHEAD   after a claim the guess is pos + 2, ahead of tail:
 *                     the next send looks one slot too far, finds its
 *                     message of the lap before there and returns RK_EFULL
 *                     with one slot in use (V3). The CAS still keeps every
 *                     claim at tail: a guess ahead costs refusals, not
 *                     messages
 *   BUG_GUESS_ON_FULL RK_EFULL also sets the guess to pos + 1: with pos at
 *                     tail that is ahead of it, and the next send is
 *                     refused the same way (V3)
 *   BUG_FULL_RELOADS  seq < pos loads tail again instead of RK_EFULL, as
 *                     if it could only be a guess ahead of tail (it
 *                     cannot): with STOP a send into a full ring waits for
 *                     the consumer for ever (V6). Without STOP it passes:
 *                     the consumer frees the slot in the end, and the
 *                     send waits instead of being refused. The wait is
 *                     one guard (the load that changes nothing: seq below
 *                     pos and pos at tail). With BUG_GUESS_AHEAD and
 *                     without STOP it passes too (by hand): the reload
 *                     hides a guess ahead, at the price of waiting in a
 *                     full ring
 *   BUG_GUESS_EARLY   the guess is set to pos + 1 before the CAS, won or
 *                     lost. It passes, and is harmless: the guess is
 *                     private, and by its next use the CAS is done, so
 *                     tail is pos + 1 or more and the guess is still not
 *                     ahead of it. spec.sh runs it as a pass row
 * spec.sh runs BUG_NO_RECHECK and BUG_FULL_RELOADS with NO_GUESS too (the
 * inbox's claim); the other bugs are in code the guess does not touch.
 *
 * Not modelled: the PTX model itself (see sched.pml), and scopes (the
 * ring's words are at cluster scope, through DSMEM); the handler's other
 * threads (their loads of the message come before thread 0's free through
 * the block barrier, as rk_light_block orders them); the receiver's id as
 * a word of its own (it is written and read with the message); several
 * rings (each producer keeps a guess per ring, so they do not meet); the
 * inbox's run token and wake (sched.pml); the cluster's shutdown rounds;
 * RK_EFULL callers that retry (a retry is another send).
 */

#include "rk_common.pml"

hidden byte V1, V2, V3, V4, V5, V6;

#ifndef SLOTS
#define SLOTS 2 /* slots of the ring, a power of two >= 2 */
#endif
#ifndef NP
#define NP 2 /* producers: 1 .. 3 */
#endif
#ifndef NPER
#define NPER 2 /* sends per producer: 1 .. 3 */
#endif
#define NPOS (NP * NPER) /* positions: at most one per send */

#if NP < 1 || NP > 3 || NPER < 1 || NPER > 3
#error "the memory loop and the message's code are written out for these bounds"
#endif
#if defined(NO_GUESS) && (defined(BUG_GUESS_AHEAD) || defined(BUG_GUESS_ON_FULL) || defined(BUG_GUESS_EARLY))
#error "the guess bugs need the guess"
#endif

/* The message producer p writes with its n-th successful send (n from 1);
 * 0 is none. */
#define CODE(p, n) ((p) * 4 + (n))

/* The free's value for position h: the next lap's position. */
#if BUG_FREE_LAP == 1
#define FREE_SEQ(h) ((h) + 1) /* the value the slot already has */
#elif BUG_FREE_LAP == 2
#define FREE_SEQ(h) (h)
#else
#define FREE_SEQ(h) ((h) + SLOTS)
#endif

/* The ring, as memory holds it. */
byte tail;
byte seq[SLOTS];
byte val[SLOTS]; /* the message: the receiver and the words */

/* A producer's buffered message store: slot + 1 (0: none) and the value. */
byte pv_s[NP];
byte pv_v[NP];

/* Ghosts. */
#define FREE 0
#define CLAIMED 1
#define PUBLISHED 2
#define CONSUMED 3
byte at[NPOS];  /* the message claimed at each position */
byte st[NPOS];  /* FREE, CLAIMED, PUBLISHED, CONSUMED */
byte freed;     /* positions whose free has landed (in order) */
byte sent[NP];  /* successful sends of each producer */
byte ncons[NP]; /* the number n of its message consumed last */
byte fin;       /* producers done */

#define LAND(p) val[pv_s[p] - 1] = pv_v[p]; pv_s[p] = 0; pv_v[p] = 0

/* A release: p's earlier store is visible first. */
#define FLUSH(p) if :: pv_s[p] != 0 -> LAND(p) :: else -> skip fi

/* The guess after a claim of pos. */
#if defined(NO_GUESS)
#define GUESS_AFTER skip /* no guess: g stays 0 */
#elif defined(BUG_GUESS_AHEAD)
#define GUESS_AFTER g = pos + 2
#elif defined(BUG_GUESS_EARLY)
#define GUESS_AFTER skip /* set before the CAS */
#else
#define GUESS_AFTER g = pos + 1
#endif

/* The CAS of tail pos -> pos + 1 won: the checks, the guess and the
 * message's plain store (buffered). */
#define CLAIM(p) \
    PROP(V5, pos == tail && st[pos] == FREE && pos < freed + SLOTS); \
    tail++; \
    sent[p]++; at[pos] = CODE(p, sent[p]); st[pos] = CLAIMED; \
    GUESS_AFTER; \
    FLUSH(p); \
    pv_s[p] = pos % SLOTS + 1; pv_v[p] = at[pos]

/* rk__l_cluster_send (or rk_light_send: rk__l_claim, rk__l_publish). */
proctype producer(byte p)
{
    byte g, pos, s, k; /* g: the guess, ctail */
    bool ok;
    do
    :: k < NPER ->
#ifdef NO_GUESS
        pos = tail; /* rk__l_claim: the relaxed load of tail */
#endif
        do
        :: atomic {
#ifdef BUG_FULL_RELOADS
               /* a look that would change nothing waits */
               (seq[pos % SLOTS] >= pos || tail != pos) ->
#endif
               s = seq[pos % SLOTS]; /* the acquire load */
#ifndef BUG_FULL_RELOADS
               if
               :: s < pos -> PROP(V3, tail - freed >= SLOTS)
               :: else -> skip
               fi
#endif
           };
           if
           :: s == pos ->
cas:
               atomic {
#ifdef BUG_GUESS_EARLY
                   g = pos + 1;
#endif
                   if
                   :: tail == pos -> CLAIM(p); ok = true
                   :: else -> pos = tail /* the value the CAS found */
                   fi
               };
               if
               :: ok -> break
#ifdef BUG_NO_RECHECK
               :: else -> goto cas
#else
               :: else -> skip
#endif
               fi
#ifdef BUG_FULL_RELOADS
           :: s < pos -> pos = tail
#else
           :: s < pos -> /* RK_EFULL: the slot holds the lap before */
#ifdef BUG_GUESS_ON_FULL
               g = pos + 1;
#endif
               break
#endif
           :: s > pos -> pos = tail /* another sender claimed pos */
           fi
        od;
        if
        :: ok ->
            atomic {
                /* the publish: a release store of pos + 1 */
#ifndef BUG_RELAXED_PUBLISH
                FLUSH(p);
#endif
                seq[pos % SLOTS] = pos + 1;
                st[pos] = PUBLISHED
            }
        :: else -> skip
        fi;
        d_step { k++; ok = false; s = 0; pos = g }
    :: else -> break
    od;
    fin++
}

/* The free of position h: a release store (BUG_RELAXED_FREE: relaxed). */
#define FREE_SLOT(h) seq[(h) % SLOTS] = FREE_SEQ(h); freed++

/* The consumer took position h and read v there: the checks. */
#define CONSUME(h, v) \
    PROP(V1, st[h] == PUBLISHED && v == at[h]); \
    PROP(V2, at[h] % 4 == ncons[at[h] / 4] + 1); \
    ncons[at[h] / 4] = at[h] % 4; \
    st[h] = CONSUMED

/* rk__l_cluster_head, the handler, rk_light_after. */
proctype consumer()
{
    byte hd, v;
#ifdef BUG_RELAXED_HEAD
    byte early;
    bool hoisted;
#endif
end:
    do
#ifdef BUG_RELAXED_HEAD
    :: !hoisted ->
        /* the handler's load of the message, performed before the
         * relaxed load of seq */
        atomic { early = val[hd % SLOTS]; hoisted = true }
#endif
    :: atomic {
            seq[hd % SLOTS] == hd + 1 -> /* the acquire load: ready */
#ifdef BUG_RELAXED_FREE
            FREE_SLOT(hd)
        };
        atomic {
#endif
#ifdef BUG_RELAXED_HEAD
            v = (hoisted -> early : val[hd % SLOTS]);
            hoisted = false; early = 0;
#else
            v = val[hd % SLOTS]; /* the handler's loads */
#endif
            CONSUME(hd, v);
#ifndef BUG_RELAXED_FREE
            FREE_SLOT(hd);
#endif
            hd++;
            v = 0
        }
#ifdef STOP
    :: break /* the home stops taking from its ring */
#endif
    od
}

#define LANDV(p) :: atomic { pv_s[p] != 0 -> LAND(p) }
#if NP > 2
#define MEMORY LANDV(0) LANDV(1) LANDV(2)
#elif NP > 1
#define MEMORY LANDV(0) LANDV(1)
#else
#define MEMORY LANDV(0)
#endif

init
{
    byte k;
    atomic {
        do
        :: k < SLOTS -> seq[k] = k; k++ /* free for lap 0 */
        :: else -> break
        od;
        run consumer();
        k = 0;
        do
        :: k < NP -> run producer(k); k++
        :: else -> break
        od
    }
    do
    MEMORY
    :: timeout ->
        PROP(V6, fin == NP);
#ifndef STOP
        PROP(V4, freed == tail);
#endif
        break
    od
}

/* Not with STOP: a stopped consumer leaves messages in the ring. */
ltl all_consumed { <> (fin == NP && freed == tail) }
