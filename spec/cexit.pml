/*
 * cexit.pml - the cluster tier of K2K at the kernel's exit: the blocks of
 * one cluster leave their loops at the stop, count themselves out, and a
 * block that serves an actor waits for its whole cluster before it moves
 * what its shared-memory ring holds into its global K2K ring and exits
 * (include/ringkernel/device.cuh as of commit b8e36f6, 2026-12-02:
 * rk__gpu_actor_block, rk__gpu_decide's RK__GPU_ACT_STOP,
 * rk__gpu_send_wait, rk__gpu_k2k_put -> rk__gpu_ck2k_put,
 * rk__gpu_block_exit, rk__gpu_ck2k_leave, rk__gpu_ck2k_landed; the
 * terminate's rk__gpu_gate_close, rk__gpu_term_check and
 * rk__gpu_door_unbind; docs/cuda-backend.md, "The cluster tier of K2K").
 * door.pml -DCLUSTER checks the put and the owner's other uses of the
 * cluster ring while it runs; this model checks the exit.
 *
 * One cluster of NB actor blocks (processes `block`, b = 0 .. NB-1). The
 * first NBOUND serve an actor (`bound`); the others are free blocks (no
 * actor, no door names them). With K0 = 1 the cluster is cluster 0, whose
 * first block is block 0, the supervisor: it runs no actor, never writes
 * DSMEM, is not counted (members = cluster_size - 1) and is not a process
 * here. Every block has started before any writes another's shared memory
 * (the cluster barrier in rk__gpu_main): all start in init's atomic step.
 *
 * Mirrors:
 *   block     thread 0 of an actor block, in any order of its enabled
 *             steps (rk__gpu_decide's order is one of them), until it sees
 *             the stop (RK__GPU_ACT_STOP ends the loop; a block in fast
 *             cluster rounds may go on a while without looking at the
 *             stop, so every other step stays enabled after it is set):
 *             - served: take the message at its cluster ring's head once
 *               its sequence word is pos + 1 (rk__gpu_ck2k: handled, the
 *               head moved), or one from its global ring (another
 *               cluster's sender);
 *             - served: a handler's send (NS0 for block 0's actor, NS1
 *               for block 1's, NS2 for block 2's) to block 1's actor, or
 *               block 1's to block 0's (with NBOUND = 1 block 0's to
 *               itself): rk__gpu_k2k_put's door enter (count + 1;
 *               closed: RK_ESTATE and the leave),
 *               then rk__gpu_ck2k_put: the claim (the tail and the head
 *               loaded, room checked, CAS), the message written and its
 *               sequence word stored (pos + 1), the door's decrement.
 *               RK_EFULL (door left): rk_dsend returns it, and
 *               rk__gpu_send_wait retries until the stop, when it gives up
 *               (RK_ESHUTDOWN); any try may also end in RK_ETIMEDOUT;
 *             - with TERM, block TB = 1 runs a terminate command:
 *               rk__gpu_gate_close with wait (open bit cleared, then the
 *               count waited to 0), and later rk__gpu_term_check: both
 *               rings empty (the cluster tail equal to its head), then
 *               Terminated, rk__gpu_door_unbind, bound = 0;
 *             then rk__gpu_block_exit: the release add to cluster_out[k];
 *             a free block returns; a served one waits (acquire loads)
 *             until the count reaches members, then rk__gpu_ck2k_leave:
 *             the tail loaded, and for each position from the head to it
 *             rk__gpu_ck2k_landed (waits for the sequence word), then one
 *             slot of the global ring claimed when t + 1 - k2k_head fits
 *             GCAP (the message moved: the host dead-letters it after the
 *             kernel, RK_ESHUTDOWN), or the message dead-lettered through
 *             the event ring; then it exits (its shared memory is gone)
 *   outsider  a sender of another cluster: NOUT = 1 put into block 0's
 *             global ring, at any time, also after the cluster exited
 *             (global memory lives on), or none (RK_EFULL)
 *   init      starts them; the stop (the supervisor's store of
 *             dev->stop) at any time; once nothing can move, checks E2,
 *             E3 and E4
 *
 * Bounds (defaults): NB = 3 blocks, NBOUND = 2 served (blocks 0 and 1:
 * each is the other's receiver, and either may be mid-put when the stop
 * comes), block 2 free; cluster rings of RS = 2 slots; global rings of
 * GCAP = 1 slot; NS0 = 3 sends from block 0's actor to block 1's (two
 * laps, and a full ring), NS1 = 2 back; NOUT = 1. scripts/spec.sh also
 * runs: cluster 0 with two served blocks (K0 = 1, NB = 2); NBOUND = 1 (one
 * served block sending to itself, two free ones); GCAP = 2; NS1 = 3;
 * RS = 1; a fan-in (NBOUND = 3, NS2 = 2: blocks 0 and 2 both send to block
 * 1, with NS0 = 2); TERM (block 1's actor terminated while the others
 * run, so it may be a free block at the stop); and NO_LANDED, a change
 * that still passes:
 *   NO_LANDED  rk__gpu_ck2k_leave reads each slot without waiting for its
 *              sequence word: after the wait for the count, every claim
 *              in the ring has been published, so the wait in the leave
 *              never waits (it stays needed in rk__gpu_ck2k_shed, door.pml)
 *
 * Memory. Every step is sequentially consistent, as in port.pml and
 * cring.pml; door.pml checks the put's orders under weak memory (its
 * buffered sequence stores, the door's acquire and release). What the exit
 * adds rests on one pairing: every block's add to cluster_out[k] is a
 * red.release.gpu after all its puts (program order of thread 0: a put's
 * DSMEM accesses at .cluster scope, then the add), and a served block's
 * acquire load that reads `members` reads the last of the adds; the adds
 * are read-modify-writes, so that value is in the release sequence of
 * every add before it, and the load synchronizes with all of them. So
 * every access a sender made to the ring happens before everything the
 * served block does after its wait - its loads of the tail and slots and
 * its exit. Both blocks are in one cluster on one GPU: .gpu scope holds
 * both. Folded: the claim's loads, room check and CAS loop are one step
 * (a CAS that fails writes nothing and returns the current tail, as a
 * fresh load would; a hint is a guess the CAS corrects); the message and
 * its sequence word are one step (nobody reads the message before the
 * word). Each DSMEM access of a step is checked (E1) in that step: folding
 * accesses of one ring into one step hides no access after the exit, since
 * the exit does not wait for the sender's intermediate states. The
 * receiver frees ring slots in batches in the code (rk__gpu_publish_ck2k);
 * here at once: a late head only makes senders see less room, and a put
 * refused for room writes nothing. The global ring (model 2's protocol,
 * door.pml's owner) is a tail and the block's own head, one step per
 * claim.
 *
 * Properties:
 *   E1 no block accesses (claims in, writes, publishes in, reads the room
 *      of) another block's cluster ring after that block exited
 *   E2 no message is lost: each published message is handled once, moved
 *      into the global ring once, or dead-lettered once; a move writes
 *      over no message the global ring still holds; when nothing can move,
 *      none is left in a cluster ring
 *   E3 every block exits: when nothing can move, all NB have (no wait that
 *      never ends: the counts add up, with free blocks and with cluster 0's
 *      member fewer); also ltl all_exit under weak fairness
 *   E4 a put that claimed a slot has published it when its sender exits
 *      (and when nothing can move)
 *
 * Seeded bugs:
 *   BUG_NO_WAIT            a served block moves its ring and exits without
 *                          waiting for the count: a sender still in its
 *                          loop writes the ring after (E1)
 *   BUG_UNBOUND_NOT_COUNTED a free block returns without adding to the
 *                          count: the served blocks wait forever (E3)
 *   BUG_COUNT_AFTER_WAIT   a served block waits for the count before it
 *                          adds itself: two served blocks wait for each
 *                          other (E3)
 *   BUG_COUNT_BEFORE_LOOP_END a block adds to the count when it sees the
 *                          stop, also inside a handler's put after its
 *                          claim, and its handler goes on: the receiver
 *                          exits, and the handler's next put claims in its
 *                          ring (E1)
 *   BUG_MEMBERS            members = cluster_size - 1 for every cluster
 *                          (the k == 0 test dropped): with K0 = 0 a served
 *                          block leaves one block early (E1)
 *   BUG_SUP_COUNTED        members = cluster_size also for cluster 0 (the
 *                          supervisor block counted): with K0 = 1 nobody
 *                          ever adds that one (E3)
 *   BUG_TAIL_BEFORE_WAIT   rk__gpu_ck2k_leave's tail loaded before the wait
 *                          for the count: a message claimed between the two
 *                          stays in the ring (E2)
 *   BUG_LEAVE_NO_ROOM      the move claims a global slot without the room
 *                          check: it writes over the outsider's message
 *                          (E2)
 *   BUG_PUT_ABORTS         the put gives up at the stop after its claim
 *                          (leaves the door, returns RK_ESHUTDOWN) without
 *                          writing the slot: the claim is never published
 *                          (E4; the receiver's rk__gpu_ck2k_landed would
 *                          wait forever)
 *   BUG_TERM_NO_WAIT       (TERM) the terminate closes the door without
 *                          waiting for the senders inside: the ring looks
 *                          empty, the block is unbound, and the sender
 *                          still inside claims and writes a message that
 *                          nobody takes: the free block returns at the stop
 *                          without looking (E2; had the block exited
 *                          first, E1)
 *
 * Not modelled: the quiescence counts (ck2k_sent, ck2k_acct and
 * rk__gpu_quiescent); weak memory (above; door.pml); a Failed actor (its
 * door closed without the wait, its block still served: it waits and
 * moves as here, and takes no message before); the hold's spill and the
 * reset's shed (door.pml; the reset unbinds behind a closed, empty door as
 * the terminate does); other commands (a bind runs between two steps of
 * the loop, so a block is free or served when it sees the stop);
 * forwards of migrated actors (a put that follows one is still its
 * sender's put, inside its loop); NOP slots of a stale generation (moved
 * or skipped alike; door.pml); the bridge (block 0: hint NULL, the global
 * ring only); more than one cluster (a cluster's count and rings are its
 * own; another cluster reaches these blocks only through their global
 * rings: the outsider). A door stays open after its block exits: only
 * senders of the cluster reach the ring, and every one has left its loop.
 */

#include "rk_common.pml"

hidden byte E1, E2, E3, E4;

#ifndef NB
#define NB 3
#endif
#ifndef NBOUND
#define NBOUND 2
#endif
#ifndef K0
#define K0 0
#endif
#ifndef RS
#define RS 2
#endif
#ifndef GCAP
#define GCAP 1
#endif
#ifndef NS0
#define NS0 3
#endif
#ifndef NS1
#define NS1 2
#endif
#ifndef NS2
#define NS2 0
#endif
#ifndef NOUT
#define NOUT 1
#endif
#define TB 1 /* TERM: the block whose actor is terminated */

/* cluster_size, and rk__gpu_block_exit's members = k == 0 ? cs - 1 : cs */
#define CS (NB + K0)
#if defined(BUG_MEMBERS)
#define MEMBERS (CS - 1)
#elif defined(BUG_SUP_COUNTED)
#define MEMBERS CS
#else
#define MEMBERS (K0 == 1 -> CS - 1 : CS)
#endif

#define NSEND(b) ((b) == 0 -> NS0 : ((b) == 1 -> NS1 : ((b) == 2 -> NS2 : 0)))
/* Whom block b's actor sends to: block 1's actor, which sends to block 0's
 * (with one served block, block 0 sends to itself). */
#define TARGET(b) (NBOUND == 1 -> 0 : ((b) == 1 -> 0 : 1))
/* The message block b's actor sends with its k-th send (k from 0, below 4): never 0. */
#define ID(b, k) ((b) * 4 + (k) + 1)
#define MAXID 16

/* Fates (rk_common.pml has F_NONE, F_REFUSED, F_HANDLED, F_DEAD). */
#define F_SENT 4  /* published in a cluster ring */
#define F_MOVED 5 /* in the global ring after the exit: the host dead-letters it */

/* The cluster rings: in each block's shared memory. */
byte tail[NB];
byte head[NB];
byte seq[NB * RS];
byte val[NB * RS];
/* The door of the actor each served block runs (global memory). */
bool opn[NB];
byte dcnt[NB];
bool bound[NB];
/* The global K2K rings: tail, and the block's own head (k2k_head). */
byte gt[NB];
byte gh[NB];

byte out;            /* cluster_out[k] */
bool stop;           /* dev->stop */
bool exited[NB];
byte nexit;
bool pend[NB];       /* a put of this block has claimed and not published */
byte fate[MAXID];
#ifdef TERM
byte tstate;         /* 0, 1 door closed (and empty), 2 Terminated and unbound */
#endif

/* A DSMEM access of block t's ring. */
#define DSMEM(t) PROP(E1, !exited[t])

#define SLOT(t, p) ((t) * RS + (p) % RS)

#ifdef BUG_COUNT_BEFORE_LOOP_END
#define EARLY_COUNT \
    if \
    :: atomic { stop && !counted -> out++; counted = 1 } \
    :: skip \
    fi
#else
#define EARLY_COUNT skip
#endif

/* rk__gpu_k2k_put -> rk__gpu_ck2k_put, and rk__gpu_send_wait around it. */
inline put(b, t, id)
{
    do
    :: atomic { dcnt[t]++; o = opn[t] }; /* rk__gpu_door_enter (acquire) */
        if
        :: !o ->
            atomic { dcnt[t]--; fate[id] = F_REFUSED }; /* closed: RK_ESTATE */
            break
        :: else
        fi;
        atomic { /* the claim: tail, head (again if full), CAS */
            DSMEM(t);
            if
            :: tail[t] + 1 - head[t] <= RS -> pos = tail[t]; tail[t]++; pend[b] = 1; got = 1
            :: else -> got = 0
            fi
        };
        if
        :: got ->
            EARLY_COUNT;
#ifdef BUG_PUT_ABORTS
            if
            :: stop ->
                atomic { dcnt[t]--; fate[id] = F_REFUSED; got = 0; pos = 0 };
                break
            :: else
            fi;
#endif
            atomic { /* rk__gpu_k2k_write, fence.acq_rel.cluster, the sequence word */
                DSMEM(t);
                val[SLOT(t, pos)] = id;
                seq[SLOT(t, pos)] = pos + 1;
                pend[b] = 0;
                PROP(E2, fate[id] == F_NONE);
                fate[id] = F_SENT
            };
            atomic { dcnt[t]--; got = 0; pos = 0 }; /* the door's decrement */
            break
        :: else ->
            dcnt[t]--; /* RK_EFULL: rk__gpu_door_leave */
            if
            :: stop -> fate[id] = F_REFUSED; break /* rk__gpu_send_wait: RK_ESHUTDOWN */
            :: fate[id] = F_REFUSED; break         /* rk_dsend, or RK_ETIMEDOUT */
            :: !stop -> skip                       /* rk__gpu_send_wait: again */
            fi
        fi
    od
}

proctype block(byte b)
{
    byte k, t, id, pos, h;
    bool o, got, counted;

    t = TARGET(b);
    /* rk__gpu_actor_block's loop */
    do
    :: stop -> break /* RK__GPU_ACT_STOP */
    :: atomic { /* RK__GPU_ACT_CK2K: rk__gpu_ck2k */
            bound[b] && seq[SLOT(b, head[b])] == head[b] + 1 ->
            id = val[SLOT(b, head[b])];
            PROP(E2, fate[id] == F_SENT);
            fate[id] = F_HANDLED;
            head[b]++;
            id = 0
        }
    :: atomic { bound[b] && gt[b] != gh[b] -> gh[b]++ } /* RK__GPU_ACT_K2K: the global ring */
    :: bound[b] && k < NSEND(b) -> /* a handler's send */
        id = ID(b, k);
        k++;
        put(b, t, id);
        id = 0
#ifdef TERM
    :: b == TB && bound[b] && tstate == 0 -> /* RK_EV_TERMINATE: rk__gpu_gate_close(c, 1) */
        opn[b] = 0;
#ifndef BUG_TERM_NO_WAIT
        dcnt[b] == 0;
#endif
        tstate = 1
    :: atomic { /* rk__gpu_term_check: both rings empty; Terminated, unbound */
            b == TB && tstate == 1 && tail[b] == head[b] && gt[b] == gh[b] ->
            bound[b] = 0;
            tstate = 2
        }
#endif
    od;
    /* rk__gpu_block_exit */
#ifdef BUG_UNBOUND_NOT_COUNTED
    if
    :: !bound[b] -> goto gone
    :: else
    fi;
#endif
#ifndef BUG_COUNT_AFTER_WAIT
    if
    :: !counted -> out++; counted = 1 /* red.release.gpu add */
    :: else
    fi;
#endif
    if
    :: bound[b] ->
#ifdef BUG_TAIL_BEFORE_WAIT
        h = tail[b];
#endif
#ifndef BUG_NO_WAIT
        out >= MEMBERS; /* acquire loads until every member is out */
#endif
#ifdef BUG_COUNT_AFTER_WAIT
        out++;
#endif
#ifndef BUG_TAIL_BEFORE_WAIT
        h = tail[b]; /* rk__gpu_ck2k_leave: the tail (acquire) */
#endif
        do
        :: head[b] != h ->
#ifndef NO_LANDED
            seq[SLOT(b, head[b])] == head[b] + 1; /* rk__gpu_ck2k_landed */
#endif
            atomic {
                id = val[SLOT(b, head[b])];
                PROP(E2, fate[id] == F_SENT);
                if
#ifdef BUG_LEAVE_NO_ROOM
                :: true ->
                    PROP(E2, gt[b] + 1 - gh[b] <= GCAP);
#else
                :: gt[b] + 1 - gh[b] <= GCAP -> /* room: the CAS, the copy, the fence, its sequence word */
#endif
                    gt[b]++;
                    fate[id] = F_MOVED
#ifndef BUG_LEAVE_NO_ROOM
                :: else -> fate[id] = F_DEAD /* rk__gpu_dead_letter(RK_ESHUTDOWN) */
#endif
                fi;
                head[b]++;
                id = 0
            }
        :: else -> break
        od
    :: else /* a free block returns at once */
#ifdef BUG_COUNT_AFTER_WAIT
        ; out++
#endif
    fi;
gone:
    atomic {
        PROP(E4, !pend[b]);
        exited[b] = 1;
        nexit++
    }
}

proctype outsider()
{
    if
    :: atomic { gt[0] + 1 - gh[0] <= GCAP -> gt[0]++ }
    :: skip /* RK_EFULL, or no send */
    fi
}

init
{
    byte i;
    atomic {
        i = 0;
        do
        :: i < NB ->
            bound[i] = i < NBOUND;
            opn[i] = i < NBOUND;
            i++
        :: else -> break
        od;
        i = 0;
        do
        :: i < NB -> run block(i); i++
        :: else -> break
        od;
#if NOUT > 0
        run outsider();
#endif
    }
    stop = 1; /* the supervisor: dev->stop */
    timeout ->
    atomic {
        PROP(E3, nexit == NB);
        i = 0;
        do
        :: i < MAXID -> PROP(E2, fate[i] != F_SENT); i++
        :: else -> break
        od;
        i = 0;
        do
        :: i < NB -> PROP(E2, tail[i] == head[i]); PROP(E4, !pend[i]); i++
        :: else -> break
        od
    }
}

ltl all_exit { <> (nexit == NB) }
