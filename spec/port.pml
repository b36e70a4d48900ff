/*
 * port.pml - the host's port of light actors (include/ringkernel/light.cuh as of
 * session 15, 2026-12-02; docs/many-actors.md section 3): host senders,
 * the forwarder, a home, and the stop.
 *
 * vring.pml (NO_GUESS) checks the claim and the memory orders of a ring of
 * this kind. Here every step is sequentially consistent, to check what the
 * port adds on top:
 *   - the forwarder hands messages on in the port's order and stops at a
 *     full inbox, where that message stays first;
 *   - the host stops the world only once nothing is pending in the port
 *     (rk_light_port_pending), and a home returns only when it is stopped
 *     and has nothing to run.
 *
 * Models:
 *   sender s  a host thread: NPER sends (rk_light_port_send), its k-th to
 *             receiver (s + k) % NR. The claim (seq of the slot at tail is
 *             tail: tail + 1) is one step, the message and the publish (seq
 *             = pos + 1) the next. A full port (seq below tail) is waited
 *             out, as the test's senders retry RK_EFULL
 *   forwarder rk_light_ingress / rk_light_forward, its head private: when
 *             the slot at its head is published, it reads the message, and
 *             when the receiver's inbox has room, pushes it there
 *             (rk_light_send: the claim, the publish, the wake); then it
 *             frees the slot (seq = head + SLOTS) and moves its head. A
 *             full inbox: it waits (the next look). It returns at the stop
 *   home      one home for the NR receivers' inboxes (INB slots each): it
 *             runs the next message of a non-empty inbox; it returns once
 *             stopped with every inbox empty
 *   host      once every sender is done, waits until every claimed
 *             position is freed (pending 0), then sets the stop
 *   init      starts them; when nothing can move, checks Q3
 *
 * Bounds: SLOTS = 2, NS = 2 senders, NPER = 2 sends each, 2 receivers,
 * INB = 1 slot per inbox. scripts/spec.sh also runs NPER = 3, INB = 2 and
 * SLOTS = 4.
 *
 * Properties:
 *   Q1 the forwarder reads the message the sender wrote for that position
 *      (not an older or newer lap's)
 *   Q2 the home runs each message once, and per (sender, receiver) in the
 *      order sent
 *   Q3 when nothing can move: every message sent was run, none waits in
 *      the port or an inbox, and every process has returned (also ltl
 *      all_run)
 *
 * Seeded bugs:
 *   BUG_SKIP_FULL   at a full inbox the forwarder frees the slot and moves
 *                   on: the message is dropped (Q3)
 *   BUG_FREE_FIRST  the forwarder frees the slot before it reads the
 *                   message: a sender of the next lap writes over it (Q1)
 *   BUG_STOP_EARLY  the host sets the stop once the senders are done,
 *                   without waiting for pending 0: the forwarder may
 *                   return with messages left in the port (Q3)
 *   BUG_HOME_EARLY  the home returns at the stop without looking at its
 *                   inboxes (Q3)
 *
 * Not modelled: memory orders (vring.pml); the actors' run tokens and run
 * queues (sched.pml, runq.pml: one home runs every inbox here); the rings
 * back to the host (single-producer, as ring_spsc.pml); the forwarder's
 * counted refusals of a receiver the world lacks (tested in test_light).
 */

#include "rk_common.pml"

hidden byte Q1, Q2, Q3;

#ifndef SLOTS
#define SLOTS 2
#endif
#ifndef NS
#define NS 2
#endif
#ifndef NPER
#define NPER 2
#endif
#define NR 2 /* receivers: the home's loop is written out for two */
#ifndef INB
#define INB 1
#endif
#define NPOS (NS * NPER)

/* The message sender s sends with its k-th send (k from 0): never 0. */
#define CODE(s, k) ((s) * 8 + (k) + 1)
#define SENDER(c) (((c) - 1) / 8)
#define NTH(c) (((c) - 1) % 8)
#define RECV(s, k) (((s) + (k)) % NR)

/* The port. */
byte tail;
byte seq[SLOTS];
byte val[SLOTS];
byte dst[SLOTS];
byte freed; /* positions the forwarder freed (in order) */

/* The inboxes: FIFO rings of INB messages each. */
byte ib[NR * INB];
byte ib_head[NR];
byte ib_tail[NR];

bool stop;
byte fin;          /* senders done */
byte done;         /* forwarder and home returned */
byte ran;          /* messages the home ran */
byte next_k[NS * NR]; /* per (sender, receiver): the number of the last message run + 1 */
byte at[NPOS];     /* ghost: the message claimed at each position */

proctype sender(byte s)
{
    byte k, pos;
    do
    :: k < NPER ->
        atomic {
            seq[tail % SLOTS] == tail -> /* the slot is free for this lap */
            pos = tail;
            tail++;
            at[pos] = CODE(s, k)
        };
        atomic {
            val[pos % SLOTS] = CODE(s, k);
            dst[pos % SLOTS] = RECV(s, k);
            seq[pos % SLOTS] = pos + 1 /* the publish */
        };
        k++
    :: else -> break
    od;
    fin++
}

#define IB_FULL(r) (ib_tail[r] - ib_head[r] == INB)

proctype forwarder()
{
    byte hd, v, r;
    do
    :: atomic {
            seq[hd % SLOTS] == hd + 1 -> /* published */
#ifdef BUG_FREE_FIRST
            seq[hd % SLOTS] = hd + SLOTS; freed++
        };
        atomic {
#endif
            v = val[hd % SLOTS];
            r = dst[hd % SLOTS];
            PROP(Q1, v == at[hd])
        };
        if
        :: atomic { !IB_FULL(r) -> ib[r * INB + ib_tail[r] % INB] = v; ib_tail[r]++ }
#ifdef BUG_SKIP_FULL
        :: atomic { IB_FULL(r) -> skip } /* dropped */
#endif
        fi;
        atomic {
#ifndef BUG_FREE_FIRST
            seq[hd % SLOTS] = hd + SLOTS; freed++;
#endif
            hd++; v = 0; r = 0
        }
    :: stop -> break
    od;
    done++
}

/* The home runs the message at the head of inbox r: the checks. */
#define RUN(r) \
    c = ib[(r) * INB + ib_head[r] % INB]; \
    ib_head[r]++; \
    PROP(Q2, RECV(SENDER(c), NTH(c)) == (r) && next_k[SENDER(c) * NR + (r)] <= NTH(c)); \
    next_k[SENDER(c) * NR + (r)] = NTH(c) + 1; \
    ran++; \
    c = 0

#define IB_EMPTY (ib_tail[0] == ib_head[0] && ib_tail[1] == ib_head[1])

proctype home()
{
    byte c;
    do
    :: atomic { ib_tail[0] != ib_head[0] -> RUN(0) }
    :: atomic { ib_tail[1] != ib_head[1] -> RUN(1) }
#ifdef BUG_HOME_EARLY
    :: stop -> break
#else
    :: atomic { stop && IB_EMPTY -> break }
#endif
    od;
    done++
}

init
{
    byte k;
    atomic {
        do
        :: k < SLOTS -> seq[k] = k; k++ /* free for lap 0 */
        :: else -> break
        od;
        run forwarder();
        run home();
        k = 0;
        do
        :: k < NS -> run sender(k); k++
        :: else -> break
        od
    }
    /* The host: the stop once nothing is pending. */
#ifdef BUG_STOP_EARLY
    fin == NS -> stop = true;
#else
    (fin == NS && freed == tail) -> stop = true;
#endif
    timeout ->
    PROP(Q3, done == 2 && ran == NPOS && freed == tail && IB_EMPTY)
}

ltl all_run { <> (ran == NPOS && done == 2) }
