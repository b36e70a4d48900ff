/*
 * sched.pml - the run token of light actors: the `sched` word, the run
 * queues and the actor's inbox, with senders and persistent blocks racing
 * (docs/many-actors.md section 2). Nothing of it is built: the model checks
 * the design as that page states it. The memory orders there came from this
 * model (below).
 *
 * Models:
 *   sender  publishes into the actor's inbox: a CAS on tail claims a
 *           position (it waits while the inbox is full, as rk_send_wait
 *           retries RK_EFULL); the slot, a fence and the sequence word
 *           pos + 1. Then one CAS loop on `sched` (a load, then the CAS):
 *           IDLE -> QUEUED, and it pushes the id into a run queue;
 *           RUNNING -> AGAIN; QUEUED and AGAIN written back unchanged
 *   block   a persistent block: pops the id, CAS QUEUED -> RUNNING (an
 *           acquire), loads the inbox head (standing for the context the
 *           block loads), handles up to B ready messages in order, storing
 *           the head after each. Then a CAS loop gives the token up
 *           (release): AGAIN -> QUEUED and a push, or RUNNING -> IDLE; after
 *           that one it loads the sequence word of the next slot and, if a
 *           message is ready, tries one CAS IDLE -> QUEUED and pushes if it
 *           wins. An empty inbox is nothing to do: zero messages handled
 *   init    starts them, then makes buffered stores visible (below) and,
 *           once nothing else can move, checks T4
 *
 * Bounds (defaults): one actor; an inbox of CAP = 2 slots (four messages
 * are two laps); NS = 2 senders, NMSG = 2 messages each; NB = 2 blocks; a
 * batch of B = 1 message. The run queues hold one id, so they are a count
 * of its copies: any block may take from any queue (its own, or by
 * stealing), and which queue or which end makes no difference to one id.
 * The Chase-Lev deque and the global ring are not modelled.
 *
 * Weak memory. The orders that matter are modelled as in door.pml:
 *   - a sender's sequence store follows its fence and is buffered (pend_*):
 *     init's memory loop makes it visible at any later time; it is visible
 *     at the latest at the sender's next fence or release. The slot's bytes
 *     land with it (the fence orders them);
 *   - a block's head store is buffered in the same way (a block reads its
 *     own pending store: store forwarding);
 *   - the CAS on `sched` is a release RMW for the sender (its sequence word
 *     is visible first) and for the block's give-up (its head is); the
 *     block's CAS QUEUED -> RUNNING is an acquire, and a block's loads are
 *     performed in program order;
 *   - tail, `sched` and the run queue are changed only by read-modify-writes
 *     (or the buffered plain store of BUG_PLAIN_STORE), one step each, in
 *     one total order per word; loads of them read memory.
 * The design first said "QUEUED or AGAIN: nothing at all". A sender that
 * only loads `sched` there orders nothing: its sequence store may land after
 * the block that runs the actor has looked (BUG_LOAD_ONLY). So the sender's
 * CAS always writes, the same state back when it changes nothing, and is a
 * release (BUG_RELAXED_CAS drops that).
 *
 * Properties:
 *   T1 one block at a time holds the run token: a block that wins QUEUED ->
 *      RUNNING finds no other inside, and while it holds the token `sched`
 *      reads RUNNING or AGAIN;
 *   T2 the id is in the run queues at most once and only while QUEUED: a
 *      push finds none there and `sched` QUEUED, a pop finds `sched` QUEUED
 *      (so the block's CAS QUEUED -> RUNNING cannot fail);
 *   T3 per sender, messages are handled in the order sent, none twice;
 *   T4 no lost wakeup: when everything has stopped (senders done, every
 *      block waiting on an empty run queue, nothing buffered), every
 *      message was handled and `sched` is IDLE; and ltl all_handled: every
 *      run gets there (under weak fairness; scripts/spec.sh checks it with
 *      NB = 1 or NMSG = 1, as two blocks and four messages take 37 s).
 *
 * Seeded bugs:
 *   BUG_NO_RECHECK     no load of the inbox after RUNNING -> IDLE: a
 *                      message the batch limit left, whose sender found
 *                      QUEUED, is never handled (T4). It needs B < CAP: a
 *                      message published while the block runs is covered
 *                      by AGAIN already (its sender's CAS finds RUNNING, and
 *                      the block's CAS to IDLE then fails)
 *   BUG_PUSH_ON_QUEUED a sender pushes the id when it finds QUEUED too (T2)
 *   BUG_PLAIN_STORE    the block gives RUNNING up with a load and a plain
 *                      (release) store of IDLE, not a CAS: the store is
 *                      buffered, so its load of the next slot can be
 *                      performed before the store lands, and a sender's
 *                      CAS RUNNING -> AGAIN in between is overwritten (T4)
 *   BUG_SCHED_FIRST    the sender moves `sched` before it publishes: the
 *                      block finds QUEUED and an empty inbox, which is
 *                      nothing to do, and the message published after the
 *                      block's recheck is never handled (T4)
 *   BUG_LOAD_ONLY      QUEUED or AGAIN: the sender only loads `sched`, as
 *                      the design's "nothing at all" reads (T4)
 *   BUG_RELAXED_CAS    the sender's CAS is relaxed, as the atom.relaxed CAS
 *                      whose cost section 2 quotes: the block that pops the
 *                      id may not see the message yet (T4)
 *   BUG_RELAXED_GIVEUP the block's give-up is not a release: the next block
 *                      loads a stale head and handles a message again (T3)
 *
 * Not modelled: the PTX model itself (scopes; it is not multi-copy atomic,
 * and here a store once visible is visible to all: see docs/verification.md
 * for what that hides); the door (door.pml) and the ring's own claim and
 * lap logic (ring_mpsc.pml: here a claim and its room test are one step);
 * more than one actor; host senders and doorbells (section 3); holds,
 * lifecycle commands and the block tier.
 */

#include "rk_common.pml"

hidden byte T1, T2, T3, T4;

#define NS 2 /* senders; the memory loop names each one */
#ifndef NB
#define NB 2 /* blocks: 1 or 2 */
#endif
#ifndef NMSG
#define NMSG 2 /* messages per sender */
#endif
#ifndef CAP
#define CAP 2 /* inbox slots */
#endif
#ifndef B
#define B 1 /* messages a block handles before it gives the token up */
#endif

/* The states of `sched` (AGAIN is RUNNING+AGAIN). */
#define IDLE 0
#define QUEUED 1
#define RUNNING 2
#define AGAIN 3

byte sched = IDLE;
byte inq;       /* copies of the id in the run queues */
byte tail;      /* next position to claim */
byte head;      /* next position to handle, as memory holds it */
byte seq[CAP];  /* sequence words: pos + 1 once position pos is published */
byte val[CAP];  /* the message: s * NMSG + k + 1 */

/* Buffered stores: 0 means none pending. */
byte pend_seq[NS];  /* pos + 1 of the sender's sequence store */
byte pend_val[NS];
byte pend_head[NB]; /* head + 1 */
#ifdef BUG_PLAIN_STORE
byte pend_sched[NB]; /* state + 1 */
#endif

/* Ghosts. */
byte runners;       /* blocks holding the run token */
byte next_k[NS];    /* per sender, the message number handled next */
byte handled;

/* Sender s's pending sequence store lands (with the slot's bytes). */
#define LAND_SEQ(s) \
    seq[(pend_seq[s] - 1) % CAP] = pend_seq[s]; \
    val[(pend_seq[s] - 1) % CAP] = pend_val[s]; \
    pend_seq[s] = 0; pend_val[s] = 0

/* Block b's pending head store lands. */
#define LAND_HEAD(b) head = pend_head[b] - 1; pend_head[b] = 0

/* Sender s's fence or release: its earlier stores are visible first. */
#define FLUSH_SENDER(s) if :: pend_seq[s] != 0 -> LAND_SEQ(s) :: else -> skip fi

/* Block b's release. */
#define FLUSH_BLOCK(b) if :: pend_head[b] != 0 -> LAND_HEAD(b) :: else -> skip fi

/* Coherence: block b's own store to `sched` lands before its next access
 * to `sched` that writes. */
#ifdef BUG_PLAIN_STORE
#define LAND_SCHED(b) sched = pend_sched[b] - 1; pend_sched[b] = 0
#define OWN_SCHED(b) if :: pend_sched[b] != 0 -> LAND_SCHED(b) :: else -> skip fi
#else
#define OWN_SCHED(b) skip
#endif

/* The options of the memory loop: any pending store lands, in any order. */
#if NB > 1
#define MEMORY_B1 :: atomic { pend_head[1] != 0 -> LAND_HEAD(1) }
#else
#define MEMORY_B1
#endif
#if defined(BUG_PLAIN_STORE) && NB > 1
#define MEMORY_SCHED \
    :: atomic { pend_sched[0] != 0 -> LAND_SCHED(0) } \
    :: atomic { pend_sched[1] != 0 -> LAND_SCHED(1) }
#elif defined(BUG_PLAIN_STORE)
#define MEMORY_SCHED :: atomic { pend_sched[0] != 0 -> LAND_SCHED(0) }
#else
#define MEMORY_SCHED
#endif
#define MEMORY \
    :: atomic { pend_seq[0] != 0 -> LAND_SEQ(0) } \
    :: atomic { pend_seq[1] != 0 -> LAND_SEQ(1) } \
    :: atomic { pend_head[0] != 0 -> LAND_HEAD(0) } \
    MEMORY_B1 \
    MEMORY_SCHED

/* The id goes into a run queue: only the winner of IDLE -> QUEUED or
 * AGAIN -> QUEUED pushes it, so nobody else can have moved `sched` since. */
inline push()
{
    atomic { PROP(T2, inq == 0 && sched == QUEUED); inq++ }
}

/* The sender's one CAS loop on `sched`. */
inline sender_sched(s)
{
    do
    :: seen = sched;
        if
        :: seen == IDLE -> want = QUEUED
        :: seen == RUNNING -> want = AGAIN
        :: else -> want = seen
        fi;
#ifdef BUG_LOAD_ONLY
        if
        :: want == seen -> break /* nothing at all: no write */
        :: else -> skip
        fi;
#endif
        atomic {
            if
            :: sched == seen ->
#ifndef BUG_RELAXED_CAS
                FLUSH_SENDER(s); /* release: the message before the state */
#endif
                sched = want;
                break
            :: else -> skip /* the CAS failed: load again */
            fi
        }
    od;
#ifdef BUG_PUSH_ON_QUEUED
    if
    :: seen == IDLE || seen == QUEUED -> push()
    :: else -> skip
    fi
#else
    if
    :: seen == IDLE -> push()
    :: else -> skip
    fi
#endif
}

/* Claim a position, write the slot, fence, buffer the sequence word. */
inline sender_publish(s)
{
    atomic { tail - head < CAP -> pos = tail; tail++ };
    atomic { FLUSH_SENDER(s); pend_seq[s] = pos + 1; pend_val[s] = s * NMSG + k + 1 }
}

proctype sender(byte s)
{
    byte k, pos, seen, want;
    do
    :: k == NMSG -> break
    :: else ->
#ifdef BUG_SCHED_FIRST
        sender_sched(s);
        sender_publish(s);
#else
        sender_publish(s);
        sender_sched(s);
#endif
        k++
    od
}

/* A handler runs on the message v. */
inline handle(v)
{
    PROP(T1, runners == 1);
    PROP(T3, next_k[(v - 1) / NMSG] == (v - 1) % NMSG);
    next_k[(v - 1) / NMSG]++;
    handled++
}

/* The block's head store after a message: buffered (coherence: a pending
 * one lands first). */
inline store_head(b)
{
    atomic { FLUSH_BLOCK(b); pend_head[b] = h + 1 }
}

proctype block(byte b)
{
    byte h, n, seen, want;
    bool won;
end:
    do
    :: atomic { inq > 0 -> inq-- };
        /* CAS QUEUED -> RUNNING, then the context (the head: the block's
         * own pending store if it has one). Nobody else writes the head
         * between the two, so one step loses nothing. */
        atomic {
            OWN_SCHED(b);
            PROP(T2, sched == QUEUED);
            PROP(T1, runners == 0);
            sched = RUNNING;
            runners++;
            h = (pend_head[b] != 0 -> pend_head[b] - 1 : head)
        };
        n = 0;
        do
        :: atomic { n < B && seq[h % CAP] == h + 1 -> handle(val[h % CAP]); h++; n++ };
            store_head(b)
        :: else -> break
        od;
        /* Give the token up: AGAIN -> QUEUED, or RUNNING -> IDLE. */
        do
        :: seen = sched;
            PROP(T1, seen == RUNNING || seen == AGAIN);
            if
            :: seen == AGAIN -> want = QUEUED
            :: else -> want = IDLE
            fi;
#ifdef BUG_PLAIN_STORE
            if
            :: want == IDLE ->
                atomic { FLUSH_BLOCK(b); pend_sched[b] = IDLE + 1; runners-- };
                break
            :: else -> skip
            fi;
#endif
            atomic {
                if
                :: sched == seen ->
#ifndef BUG_RELAXED_GIVEUP
                    FLUSH_BLOCK(b); /* release: the head before the state */
#endif
                    sched = want;
                    runners--;
                    break
                :: else -> skip /* a sender set AGAIN: load again */
                fi
            }
        od;
        if
        :: want == QUEUED -> push()
        :: else ->
#ifndef BUG_NO_RECHECK
            /* A message the batch left behind: requeue unless a sender or
             * another block has moved `sched` since. */
            if
            :: seq[h % CAP] == h + 1 ->
                atomic {
                    OWN_SCHED(b);
                    if
                    :: sched == IDLE -> sched = QUEUED; won = true
                    :: else -> won = false
                    fi
                };
                if
                :: won -> push()
                :: else -> skip
                fi
            :: else -> skip
            fi
#else
            skip
#endif
        fi
    od
}

init
{
    atomic {
        run sender(0);
        run sender(1);
        run block(0);
#if NB > 1
        run block(1)
#endif
    }
    do
    MEMORY
    :: timeout ->
        /* Everything has stopped: every message was handled. */
        PROP(T4, handled == NS * NMSG && sched == IDLE);
        break
    od
}

ltl all_handled { <> (handled == NS * NMSG) }
