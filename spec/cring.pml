/*
 * cring.pml - a home's cluster ring with stealing on: the home runs a
 * message of its ring in place only while it holds the receiver's token
 * and the receiver's inbox is empty, and otherwise moves it into the inbox
 * (include/ringkernel/light.cuh as of commit bd566ca, 2026-12-02:
 * rk__l_cluster_next, rk__l_cluster_head, rk__l_cluster_pop,
 * rk_light_after; docs/many-actors.md section 5, "With stealing").
 * sched.pml checks the run token, handoff.pml the hand-off's empty-inbox
 * test, vring.pml the ring's claim; this model checks what the cluster
 * ring adds with stealing.
 *
 * One light actor X of home H; H's cluster ring; a stealer S.
 *   home    H's thread 0 (rk_light_next, the handler, rk_light_after), in
 *           any order of its enabled steps (rk_light_next's fixed order is
 *           one of them):
 *           - rk_light_take of X from its run queue (CAS QUEUED ->
 *             RUNNING, the head loaded); a run of up to B messages
 *             (rk_light_read: the head slot published; the handler;
 *             rk_light_done: the slot freed, pos + CAP); rk_light_give_up;
 *           - rk__l_cluster_next at a published ring head (a message for
 *             X): ours = H's current run holds X's token; took = !ours and
 *             a CAS IDLE -> RUNNING that wins. With ours or took and X's
 *             inbox empty (tail equal to the run's head if ours, to X's
 *             stored head if took) the message runs in place; then
 *             rk_light_after: rk__l_cluster_pop (the slot freed, pos + RS)
 *             and, if took, rk_light_give_up. Otherwise: if took,
 *             rk_light_give_up first; then rk_light_send with the
 *             message's sender (claim, publish, rk__l_wake) and the pop.
 *             An inbox that is full (RK_EFULL) leaves the message at the
 *             ring's head, and H goes on with other steps
 *   stealer S, another home of the cluster (rk__l_steal): pops X from H's
 *           queue, takes the token (CAS QUEUED -> RUNNING, the head
 *           loaded), runs up to B messages of X's inbox, gives it up
 *   ringsender A, an actor of the cluster (wherever it runs): NA sends to
 *           X through H's ring (rk_light_ctx_send -> rk__l_cluster_send):
 *           the claim (the slot's seq is tail: tail + 1), then the message
 *           and the publish (seq = pos + 1). A full ring is waited out, as
 *           a caller that retries RK_EFULL
 *   sender  B, outside the cluster (or the port's forwarder): NBM sends to
 *           X's inbox with rk_light_send: the claim (waited out while the
 *           inbox is full, as the forwarder looks again later), the
 *           message and the publish, then rk__l_wake (one CAS loop that
 *           always writes: IDLE -> QUEUED and a push; RUNNING -> AGAIN;
 *           QUEUED and AGAIN written back)
 *   init    starts them; once nothing can move, checks C4
 *
 * rk_light_give_up, for H and S alike: the head stored, then one CAS loop:
 * AGAIN -> QUEUED and a push, or RUNNING -> IDLE, a load of the sequence
 * word at the head and, if published, one CAS IDLE -> QUEUED and a push
 * if it wins.
 *
 * Bounds (defaults): X's inbox CAP = 2 slots, H's ring RS = 2 slots, a
 * batch of B = 1; A sends NA = 3 (through the ring: two laps), B sends
 * NBM = 2 (into the inbox). scripts/spec.sh also runs B = 2, CAP = 4, and
 * RS = 4 with NA = 4; and two changes to the code that still pass:
 *   NO_OURS            the current run is never "ours": a message for the
 *                      actor H is running is moved into its inbox (its
 *                      wake finds RUNNING: AGAIN), never run in place
 *   GIVEUP_AFTER_MOVE  took and the inbox not empty: the move first (its
 *                      wake finds RUNNING: AGAIN), the give-up after it
 *                      (AGAIN -> QUEUED and a push), RK_EFULL or not
 * docs/verification.md, model 17, has the numbers.
 *
 * What is folded or left out, and why that loses nothing here:
 *   - Memory is sequentially consistent, one step per access of a shared
 *     word, as in port.pml and handoff.pml. sched.pml checks the token's
 *     orders under weak memory and vring.pml the ring's. What the ring
 *     step adds runs on H's thread: the CAS IDLE -> RUNNING is an acquire
 *     that pairs with the last give-up's release (the head it compares
 *     with is current); tail changes only by read-modify-writes (claims),
 *     so its relaxed load reads a value of tail's one order, as if a
 *     concurrent claim came after the load; H's own claims (the moves) it
 *     reads back in program order.
 *   - The CAS and the load of tail after it are one step. The load
 *     matters only with ours (then there is no CAS) or took; after a CAS
 *     that won, only B can act before the load (X is held and not
 *     queued), and B's claim, publish and wake commute with the CAS or
 *     with the load.
 *   - Each CAS loop is one step (a failed CAS writes nothing); a push is
 *     folded into the CAS that won QUEUED (nobody can pop the id before it
 *     is pushed, and nobody but a take moves QUEUED). A claim (the slot's
 *     seq and the CAS on tail) is one step, as in sched.pml.
 *   - A look at the ring that changes nothing (not ours and the CAS lost,
 *     or ours with the inbox not empty, and then RK_EFULL) is not repeated
 *     before some other step of B, S or H's run (the ghost `stale`): until
 *     then it would read the same words and fail the same way. A look
 *     that took the token and gave it up before RK_EFULL is treated the
 *     same: repeated at once, it leaves the same state. This lets H block,
 *     so that `timeout` (and C4) comes when everything has stopped.
 *   - The ring's other receivers: one receiver shows the ring's order;
 *     another actor at the head only delays X's messages. H's run of
 *     another actor is, for X, the same as no run (ours is false).
 *   - A's own run token: A is one sender whose sends are in order (its
 *     runs are ordered by its token, which sched.pml checks). A running
 *     on H itself (its handler is one of H's steps) is a subset of these
 *     interleavings.
 *   - The run queue holds one id, so it is a count of copies (0 or 1), as
 *     in sched.pml; runq.pml checks the queue.
 *
 * Properties:
 *   C1 one runner: a handler of X starts only when no other handler of X
 *      is running (a handler is two steps, its start and its end)
 *   C2 the token: whoever takes it (the take's CAS, the ring's CAS) finds
 *      no holder; a give-up is its holder's, while `sched` reads RUNNING
 *      or AGAIN; X's id is pushed only while QUEUED and not queued yet,
 *      and the take finds QUEUED
 *   C3 per sender (A, B), X handles the messages in the order sent, each
 *      once: in place or from the inbox alike
 *   C4 nothing lost: when nothing can move, every message sent was
 *      handled, the ring and the inbox are empty (the stored head is the
 *      tail), X is IDLE, unqueued, and nobody holds its token; ltl
 *      all_handled: every run gets there (under weak fairness)
 *
 * Seeded bugs:
 *   BUG_NO_TOKEN       "in place" needs X IDLE by a load, not the CAS: H
 *                      runs A's message holding no token; B's wake queues
 *                      X (IDLE -> QUEUED) and S runs B's message at the
 *                      same time (C1)
 *   BUG_TAKE_QUEUED    the ring's CAS takes the token from QUEUED too: X's
 *                      id is still in the queue, and the take that pops it
 *                      finds RUNNING (C2)
 *   BUG_NO_EMPTY_CHECK in place whenever H holds the token (ours or took),
 *                      inbox empty or not: a message of A that was moved
 *                      into the inbox before is overtaken (C3)
 *   BUG_EMPTY_BY_SEQ   "empty" read as "the head slot is not published":
 *                      B's claimed, unpublished slot at the head looks
 *                      empty, and A's message moved in behind it is
 *                      overtaken (C3)
 *   BUG_NO_GIVEUP      took, the inbox not empty: the message is moved
 *                      without the give-up first. X stays RUNNING with no
 *                      runner, wakes find RUNNING (AGAIN) and nobody queues
 *                      it (C4)
 *   BUG_NO_AFTER       rk_light_after forgets the give-up of a token taken
 *                      for one message (ctoken) (C4)
 *   BUG_NO_WAKE        the move claims and publishes but does not wake X
 *                      (rk__l_claim and rk__l_publish, not rk_light_send):
 *                      the last message moved into an IDLE X's inbox is
 *                      never run (C4)
 *   BUG_DROP_FULL      at a full inbox the ring's head is freed anyway:
 *                      the message is lost (C4)
 *
 * Not modelled: weak memory and scopes (above); more than one receiver and
 * more than one ring; A's own token and runs; the local queue and the
 * hand-off (not with a cluster and stealing); rk_light_next's lrun and
 * turn (any order is allowed); the cluster's shutdown rounds
 * (rk__l_pending); the host's port (port.pml).
 */

#include "rk_common.pml"

hidden byte C1, C2, C3, C4;

#ifndef CAP
#define CAP 2 /* slots of X's inbox */
#endif
#ifndef RS
#define RS 2 /* slots of H's cluster ring */
#endif
#ifndef B
#define B 1 /* messages of a run before the give-up */
#endif
#ifndef NA
#define NA 3 /* A's sends to X, through H's ring */
#endif
#ifndef NBM
#define NBM 2 /* B's sends to X, into its inbox */
#endif

#define MAXM 8 /* message numbers per sender */
#if NA >= MAXM || NBM >= MAXM
#error "more messages than a sender's numbers"
#endif
#define SA 0 /* the senders, in message values */
#define SB 1
#define VAL(s, k) ((s) * MAXM + (k) + 1)
#define SENDER(v) (((v) - 1) / MAXM)
#define NTH(v) (((v) - 1) % MAXM)

/* The states of `sched` (AGAIN is RUNNING plus a message that came). */
#define IDLE 0
#define QUEUED 1
#define RUNNING 2
#define AGAIN 3

/* Token holders (ghost). */
#define NOBODY 0
#define HOME_H 1
#define HOME_S 2

/* X's words. */
byte sched = IDLE;
byte inq;      /* copies of X's id in H's run queue */
byte tail;     /* next position of X's inbox to claim */
byte xhead;    /* a->head: stored by the token's holder at its give-up */
byte iseq[CAP]; /* pos when free for pos, pos + 1 once pos is published */
byte ival[CAP]; /* the message: sender * MAXM + number + 1 */

/* H's cluster ring; its head is H's (L->chead). */
byte rtail;
byte chead;
byte rseq[RS]; /* pos when free for pos, pos + 1 once pos is published */
byte rval[RS];

/* Ghosts. */
byte holder;       /* who holds X's token */
byte inh;          /* handlers of X running */
byte next_k[2];    /* per sender, the number X handles next */
byte handled;
bool stale;        /* H's last look at the ring changed nothing, and nothing moved since */

/* Any step of B, S or H's runs: a look at the ring may go otherwise now. */
#define FRESH stale = false

/* rk__l_push, folded into the CAS that won QUEUED. */
inline push()
{
    PROP(C2, inq == 0 && sched == QUEUED);
    inq++
}

/* rk_light_take's CAS QUEUED -> RUNNING (the pop came with it). */
inline take(me)
{
    PROP(C2, sched == QUEUED && holder == NOBODY);
    sched = RUNNING;
    holder = me
}

/* The start of a handler of X on the message v, and its end. */
inline handler_begin(v)
{
    PROP(C1, inh == 0);
    inh++;
    PROP(C3, next_k[SENDER(v)] == NTH(v));
    next_k[SENDER(v)]++;
    handled++
}

inline handler_end()
{
    inh--
}

/* rk__l_wake: one CAS loop that always writes. */
inline wake()
{
    atomic {
        seen = sched;
        if
        :: seen == IDLE -> sched = QUEUED; push()
        :: seen == RUNNING -> sched = AGAIN
        :: else -> skip /* QUEUED or AGAIN written back */
        fi;
        FRESH
    }
}

/* rk_light_give_up by `me` with the head h. */
inline give_up(me, h)
{
    atomic {
        xhead = h;
        seen = sched;
        PROP(C2, holder == me && (seen == RUNNING || seen == AGAIN));
        holder = NOBODY;
        if
        :: seen == AGAIN -> sched = QUEUED; push()
        :: else -> sched = IDLE
        fi;
        FRESH
    };
    if
    :: seen != AGAIN && iseq[h % CAP] == h + 1 ->
        /* The re-read found a message: requeue unless someone moved
         * `sched` since. */
        atomic {
            if
            :: sched == IDLE -> sched = QUEUED; push()
            :: else -> skip
            fi;
            FRESH
        }
    :: else -> skip
    fi
}

/* rk__l_cluster_pop: the ring's head slot freed for the next lap. */
inline cluster_pop()
{
    rseq[chead % RS] = chead + RS;
    chead++
}

/* rk__l_cluster_next's ours: H's current run holds X's token (X is the
 * only actor, so L->active && L->r.id == x is L->active). NO_OURS: never. */
#ifdef NO_OURS
#define OURS false
#else
#define OURS busy
#endif

/* H's thread 0. `busy`, rhead and rleft are its run (L->active, L->r). */
proctype home()
{
    byte rhead, rleft, h, v, pos, seen;
    bool busy, took, inplace, ok;
end:
    do
    :: atomic {
            /* rk_light_take of X from H's queue */
            !busy && inq > 0 -> inq--;
            take(HOME_H);
            busy = true;
            rhead = xhead;
            rleft = B;
            FRESH
        }
    :: atomic {
            /* rk_light_read; the handler starts */
            busy && rleft > 0 && iseq[rhead % CAP] == rhead + 1 ->
            v = ival[rhead % CAP];
            handler_begin(v)
        };
        atomic {
            /* the handler ends; rk_light_done */
            handler_end();
            iseq[rhead % CAP] = rhead + CAP;
            rhead++;
            rleft--;
            FRESH
        }
    :: busy && !(rleft > 0 && iseq[rhead % CAP] == rhead + 1) ->
        /* rk_light_read found nothing (or the batch is spent) */
        give_up(HOME_H, rhead);
        busy = false
    :: atomic {
            /* rk__l_cluster_next: rk__l_cluster_head (the head published;
             * the message and its receiver X), ours (L->active: X is the only
             * actor), the CAS IDLE -> RUNNING, the load of tail */
            !stale && rseq[chead % RS] == chead + 1 ->
            v = rval[chead % RS];
            took = false;
#ifdef BUG_NO_TOKEN
            /* IDLE by a load: no token taken */
            inplace = (OURS || sched == IDLE);
#else
            if
#ifdef BUG_TAKE_QUEUED
            :: !OURS && (sched == IDLE || sched == QUEUED) ->
#else
            :: !OURS && sched == IDLE ->
#endif
                PROP(C2, holder == NOBODY);
                sched = RUNNING;
                holder = HOME_H;
                took = true
            :: else -> skip
            fi;
            inplace = (OURS || took);
#endif
            h = (OURS -> rhead : xhead);
#if defined(BUG_NO_EMPTY_CHECK)
            skip
#elif defined(BUG_EMPTY_BY_SEQ)
            inplace = inplace && iseq[h % CAP] != h + 1
#else
            inplace = inplace && tail == h
#endif
        };
        if
        :: inplace ->
            /* the message runs here (L->ctoken = took) */
            atomic { handler_begin(v) };
            /* the handler ends; rk_light_after: the pop, then with took
             * the give-up */
            atomic { handler_end(); cluster_pop() };
#ifndef BUG_NO_AFTER
            if
            :: took -> give_up(HOME_H, h) /* h is xhead: H held the token since */
            :: else -> skip
            fi
#endif
        :: else ->
#if !defined(BUG_NO_GIVEUP) && !defined(GIVEUP_AFTER_MOVE)
            if
            :: took -> give_up(HOME_H, h) /* h is xhead: the inbox is not empty */
            :: else -> skip
            fi;
#endif
            /* rk_light_send(m->src): the claim, or RK_EFULL */
            atomic {
                if
                :: iseq[tail % CAP] == tail -> pos = tail; tail++; ok = true
                :: else ->
                    ok = false; /* the slot holds the lap before */
                    /* the message stays at the ring's head: H looks again
                     * after some other step */
                    stale = true
                fi
            };
            if
            :: ok ->
                atomic { ival[pos % CAP] = v; iseq[pos % CAP] = pos + 1 };
#ifndef BUG_NO_WAKE
                wake();
#endif
                atomic { cluster_pop() }
            :: else ->
#ifdef BUG_DROP_FULL
                atomic { cluster_pop() } /* dropped */
#else
                skip
#endif
            fi
#ifdef GIVEUP_AFTER_MOVE
            ; /* the give-up after the move (its wake found RUNNING: AGAIN) */
            if
            :: took -> give_up(HOME_H, h)
            :: else -> skip
            fi
#endif
        fi
    od
}

/* S: rk__l_steal of X from H's queue, its run and its give-up. */
proctype stealer()
{
    byte h, left, v, seen;
end:
    do
    :: atomic {
            inq > 0 -> inq--;
            take(HOME_S);
            h = xhead;
            left = B;
            FRESH
        };
        do
        :: atomic { left > 0 && iseq[h % CAP] == h + 1 -> v = ival[h % CAP]; handler_begin(v) };
            atomic { handler_end(); iseq[h % CAP] = h + CAP; h++; left--; FRESH }
        :: else -> break
        od;
        give_up(HOME_S, h)
    od
}

/* A: rk__l_cluster_send to X's home H, waiting while the ring is full. */
proctype ringsender()
{
    byte k, pos;
    do
    :: k < NA ->
        atomic { rseq[rtail % RS] == rtail -> pos = rtail; rtail++ };
        atomic { rval[pos % RS] = VAL(SA, k); rseq[pos % RS] = pos + 1 };
        k++
    :: else -> break
    od
}

/* B: rk_light_send to X, waiting while the inbox is full. */
proctype sender()
{
    byte k, pos, seen;
    do
    :: k < NBM ->
        atomic { iseq[tail % CAP] == tail -> pos = tail; tail++; FRESH };
        atomic { ival[pos % CAP] = VAL(SB, k); iseq[pos % CAP] = pos + 1; FRESH };
        wake();
        k++
    :: else -> break
    od
}

init
{
    byte k;
    atomic {
        do
        :: k < CAP -> iseq[k] = k; k++ /* free for lap 0 */
        :: else -> break
        od;
        k = 0;
        do
        :: k < RS -> rseq[k] = k; k++
        :: else -> break
        od;
        run home();
        run stealer();
        run ringsender();
        run sender()
    }
    timeout ->
    /* Everything has stopped: every message was handled, nothing waits. */
    PROP(C4, handled == NA + NBM && rtail == NA && chead == NA && xhead == tail &&
             sched == IDLE && inq == 0 && holder == NOBODY && inh == 0)
}

ltl all_handled { <> (handled == NA + NBM) }
