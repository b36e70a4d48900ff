/*
 * handoff.pml - the block tier of light actors: a handler's send to an
 * actor of its own home handed over without the inbox
 * (include/ringkernel/light.cuh as of 2026-12-02, session 13;
 * docs/many-actors.md section 5). sched.pml checks the run token itself;
 * this model adds the hand-off to it.
 *
 * Two light actors of one home H: X, whose handler sends to Y, and Y.
 *   home    H's thread 0, rk_light_next and rk_light_after in a loop:
 *           rk_light_take (pop an id, CAS QUEUED -> RUNNING, load the
 *           head); the run's batch of up to B messages (rk_light_read: the
 *           acquire load of the head slot's sequence word; the handler;
 *           rk_light_done: the slot freed, pos + CAP); rk_light_give_up
 *           (the head stored, then one CAS loop: AGAIN -> QUEUED and a
 *           push, or RUNNING -> IDLE, a load of the next slot's sequence
 *           word and, if it is ready, one CAS IDLE -> QUEUED and a push if
 *           it wins). After X's give-up, a handed message starts a run of
 *           Y: the handed message first, then Y's inbox up to B messages,
 *           then Y's give-up
 *   handler X's, for each of its NX messages: 1 to NPER sends to Y
 *           through rk_light_ctx_send. With no hand-off pending, a CAS
 *           IDLE -> RUNNING on Y's `sched`; if it wins, a load of Y's tail
 *           and the compare with its head: equal, the message is kept as
 *           the home's pending hand-off; not equal, rk__l_claim and
 *           rk__l_publish into Y's inbox (RK_EFULL when full), then
 *           rk_light_give_up with nothing handled. Otherwise (pending,
 *           or the CAS lost) rk_light_send: claim (RK_EFULL when full),
 *           publish, rk__l_wake. A send refused with RK_EFULL is dropped
 *           (a handler must not wait for an inbox its own home drains)
 *   sender  E, another block: rk_light_send to Y, NE times, waiting while
 *           Y's inbox is full (rk_light_send returns RK_EFULL and E tries
 *           again): claim, publish, rk__l_wake (one CAS loop that always
 *           writes: IDLE -> QUEUED and a push; RUNNING -> AGAIN; QUEUED and
 *           AGAIN written back)
 *   init    starts them; once nothing can move, checks F4
 *
 * Bounds (defaults): Y's inbox has CAP = 2 slots; B = 1; X handles NX = 3
 * messages and its handler sends 1 or NPER = 2 messages to Y each time
 * (up to six); E sends NE = 3. X starts QUEUED with its messages in its
 * inbox. scripts/spec.sh also runs CAP = 4, B = 2, and NX = 4, NE = 4 with
 * up to NPER = 3 sends a handler. Each check takes a few seconds at most
 * (docs/verification.md, model 13, has the numbers).
 *
 * What is folded or left out, and why that loses nothing here:
 *   - Memory is sequentially consistent, one step per access of a shared
 *     word. sched.pml checks the run token's orders under weak memory;
 *     what the hand-off adds is on the home's own thread: the pending
 *     message, Y's head (written only by the token's holder, and the only
 *     holder is H) and the home's own publishes, which it reads back
 *     (store forwarding). E's sequence store may land late, but only up to
 *     its wake's CAS (a release), so a late landing is E being slower. The
 *     hand-off's CAS reads an IDLE that H itself wrote (no sender writes
 *     IDLE), so it synchronises with nothing of E's, and its relaxed load
 *     of the tail, which only read-modify-writes change, reads some value
 *     of the tail's one order: as if E's claim came before or after it,
 *     which interleavings cover. The home's free of a slot may land late
 *     too; that only makes E wait longer for room.
 *   - Each CAS loop is one step: a failed CAS writes nothing, so the loop
 *     acts at its last CAS. A claim (tail, the slot's sequence word, the
 *     CAS) is one step, as in sched.pml. A read, its handler and the done
 *     are one step (only the token's holder touches a ready slot). The
 *     load of `sched` before the hand-off's CAS is folded into it.
 *   - X's own words: nobody but H touches them (its messages are all in
 *     its inbox from the start), so its take and give-up are one step
 *     each; the give-up's re-read finds a message iff X has one left.
 *   - The run queue: H pops it in FIFO order; the model lets H pop either
 *     queued id, which covers FIFO and every other order.
 *   - The checks of rk_light_ctx_send that cannot fail here: hand-off on,
 *     the same home, and depth < batch (X's runs come from the queue, so
 *     its depth is 0: Y sends nothing, so no hand-off starts X).
 *
 * Properties:
 *   F1 one holder at a time: whoever takes Y's token (the take's CAS, the
 *      hand-off's CAS) finds no other holder, and while the token is held
 *      Y's `sched` reads RUNNING or AGAIN (at each message and at the
 *      give-up); the same for X
 *   F2 an id is in the run queue at most once and only while QUEUED: a
 *      push finds it not there and `sched` QUEUED, a pop finds QUEUED (so
 *      the take's CAS cannot fail)
 *   F3 per sender (X, E), Y handles the messages it accepted in the order
 *      sent, none twice: handed and inbox messages alike
 *   F4 nothing lost: when nothing can move any more, every accepted
 *      message was handled, no hand-off is pending, both actors are IDLE
 *      and the queue is empty; ltl all_handled: every run gets there
 *      (under weak fairness)
 *
 * Seeded bugs:
 *   BUG_IDLE_ONLY     the hand-off needs Y IDLE only, not its inbox empty.
 *                     E has claimed a slot and not yet published it; X's
 *                     handler hands m0, and m1 (a hand-off is pending) goes
 *                     into the inbox behind E's slot; Y's runs stop at E's
 *                     slot and Y goes IDLE; X's next handler hands m2, which
 *                     runs before m1 (F3)
 *   BUG_EMPTY_BY_SEQ  "empty" read as "the head slot is not ready": E's
 *                     claimed, unpublished slot at the head looks empty,
 *                     and X's message behind it is overtaken as above (F3)
 *   BUG_NO_CAS        the hand-off loads IDLE and takes the token without
 *                     the CAS: `sched` stays IDLE, so the next wake (X's
 *                     own second send, which goes to the inbox because a
 *                     hand-off is pending, or E's) moves it to QUEUED and
 *                     queues Y while H holds Y for the hand-off (F1)
 *   BUG_HAND_LAST     the handed run takes Y's inbox batch first and the
 *                     handed message after it: X's next message, sent into
 *                     the inbox while the hand-off was pending, runs before
 *                     the handed one (F3)
 *   BUG_UNDO_STORE    with the inbox not empty, X gives Y's token back
 *                     with a plain store of IDLE instead of the give-up:
 *                     E's wake in between (RUNNING -> AGAIN) is overwritten
 *                     and its message is never run (F4)
 *
 * Not modelled: weak memory (above, and sched.pml); a second receiver
 * (the check that one hand-off is pending at a time only matters with
 * two); Y sending (ping-pong, and the depth limit that bounds it); several
 * homes and stealing (light.cuh has none); host senders, doorbells,
 * lifecycle commands and holds.
 */

#include "rk_common.pml"

hidden byte F1, F2, F3, F4;

#ifndef CAP
#define CAP 2 /* slots of Y's inbox */
#endif
#ifndef B
#define B 1 /* messages of a run before the give-up */
#endif
#ifndef NX
#define NX 3 /* messages X handles */
#endif
#ifndef NPER
#define NPER 2 /* sends to Y in one of X's handlers, at most */
#endif
#ifndef NE
#define NE 3 /* messages E sends to Y */
#endif

#define MAXM 16 /* message numbers per sender */
#if NX * NPER >= MAXM || NE >= MAXM
#error "more messages than a sender's numbers"
#endif
#define SX 0   /* the senders, in message values */
#define SE 1

/* The states of `sched` (AGAIN is RUNNING plus a message that came). */
#define IDLE 0
#define QUEUED 1
#define RUNNING 2
#define AGAIN 3

/* Y's words. */
byte ysched = IDLE;
bool yq;        /* Y's id in H's run queue */
byte ytail;     /* next position to claim */
byte yhead;     /* next position to handle: only the token's holder */
byte seq[CAP];  /* pos when free for pos, pos + 1 once pos is published */
byte val[CAP];  /* the message: sender * MAXM + number + 1 */

/* X's words (only H touches them). */
byte xsched = QUEUED;
bool xq = true;
byte xleft = NX;

/* H's context: the pending hand-off (rk_light_ctx handed and msg). */
bool handed;
byte hval;

/* Ghosts. */
byte yholders, xholders; /* who holds each token */
byte sent[2];            /* per sender, messages Y accepted */
byte next_k[2];          /* per sender, the number Y handles next */
byte handled;

/* rk__l_push: only the winner of a move to QUEUED pushes. */
inline push_y()
{
    atomic { PROP(F2, !yq && ysched == QUEUED); yq = true }
}

/* Y's handler on the message v. */
inline handle_y(v)
{
    PROP(F1, yholders == 1 && (ysched == RUNNING || ysched == AGAIN));
    PROP(F3, next_k[(v - 1) / MAXM] == (v - 1) % MAXM);
    next_k[(v - 1) / MAXM]++;
    handled++
}

/* rk__l_claim on Y's inbox, one step: ok and pos, or full. */
inline claim_y()
{
    atomic {
        if
        :: seq[ytail % CAP] == ytail -> pos = ytail; ytail++; ok = true
        :: else -> ok = false /* the slot holds the lap before */
        fi
    }
}

/* The message bytes and the release store of the sequence
 * word: the message is accepted. */
inline publish_y(s)
{
    atomic { val[pos % CAP] = s * MAXM + sent[s] + 1; seq[pos % CAP] = pos + 1; sent[s]++ }
}

/* rk__l_wake: one CAS loop that always writes. */
inline wake_y()
{
    atomic {
        seen = ysched;
        if
        :: seen == IDLE -> ysched = QUEUED
        :: seen == RUNNING -> ysched = AGAIN
        :: else -> skip /* QUEUED or AGAIN written back */
        fi
    };
    if
    :: seen == IDLE -> push_y()
    :: else -> skip
    fi
}

/* rk_light_read and rk_light_done in a loop: the rest of Y's batch. */
inline batch_y()
{
    do
    :: atomic { left > 0 && seq[h % CAP] == h + 1 ->
            handle_y(val[h % CAP]); seq[h % CAP] = h + CAP; h++; left-- }
    :: else -> break
    od
}

/* rk_light_give_up for Y, with its head in h. */
inline give_up_y()
{
    atomic {
        yhead = h;
        seen = ysched;
        PROP(F1, yholders == 1 && (seen == RUNNING || seen == AGAIN));
        if
        :: seen == AGAIN -> ysched = QUEUED
        :: else -> ysched = IDLE
        fi;
        yholders--
    };
    if
    :: seen == AGAIN -> push_y()
    :: else ->
        /* The re-read: a message the batch limit left. */
        if
        :: seq[h % CAP] == h + 1 ->
            atomic {
                won = (ysched == IDLE);
                if
                :: won -> ysched = QUEUED
                :: else -> skip
                fi
            };
            if
            :: won -> push_y()
            :: else -> skip
            fi
        :: else -> skip
        fi
    fi
}

/* rk_light_ctx_send from X's handler to Y. */
inline ctx_send_y()
{
    atomic {
        won = (!handed && ysched == IDLE);
        if
        :: won ->
#ifndef BUG_NO_CAS
            ysched = RUNNING; /* the CAS IDLE -> RUNNING: H holds Y's token */
#endif
            /* (BUG_NO_CAS: the load of IDLE alone counts as the win) */
            PROP(F1, yholders == 0);
            yholders++
        :: else -> skip
        fi
    };
    if
    :: won ->
        /* Is Y's inbox empty? The tail against the head. */
        atomic {
#if defined(BUG_IDLE_ONLY)
            vacant = true;
#elif defined(BUG_EMPTY_BY_SEQ)
            vacant = (seq[yhead % CAP] != yhead + 1);
#else
            vacant = (ytail == yhead);
#endif
            if
            :: vacant -> handed = true; hval = SX * MAXM + sent[SX] + 1; sent[SX]++
            :: else -> skip
            fi
        };
        if
        :: vacant -> skip
        :: else ->
            /* Behind the others, and the token back through the give-up. */
            claim_y();
            if
            :: ok -> publish_y(SX)
            :: else -> skip /* RK_EFULL */
            fi;
#ifdef BUG_UNDO_STORE
            atomic { ysched = IDLE; yholders-- }
#else
            h = yhead;
            give_up_y()
#endif
        fi
    :: else ->
        /* rk_light_send */
        claim_y();
        if
        :: ok -> publish_y(SX); wake_y()
        :: else -> skip /* RK_EFULL */
        fi
    fi
}

/* X's handler: one or more sends to Y. */
inline handler_x()
{
    PROP(F1, xholders == 1 && xsched == RUNNING);
    i = 0;
    do
    :: i < NPER -> ctx_send_y(); i++
    :: i > 0 -> break
    od
}

/* H's thread 0: rk_light_next, the handler and rk_light_after. */
proctype home()
{
    byte h, left, n, i, pos, seen;
    bool won, ok, vacant;
end:
    do
    :: atomic {
            /* rk_light_take of X */
            xq -> xq = false;
            PROP(F2, xsched == QUEUED);
            PROP(F1, xholders == 0);
            xsched = RUNNING;
            xholders++;
            n = 0
        };
        do
        :: n < B && xleft > 0 -> handler_x(); xleft--; n++
        :: else -> break
        od;
        atomic {
            /* rk_light_give_up of X, its re-read included */
            PROP(F1, xholders == 1 && xsched == RUNNING);
            xholders--;
            if
            :: xleft > 0 -> xsched = QUEUED; PROP(F2, !xq); xq = true
            :: else -> xsched = IDLE
            fi
        };
        if
        :: handed ->
            /* rk_light_next: H holds Y's token; a run of Y starts with the
             * handed message. */
#ifdef BUG_HAND_LAST
            atomic { handed = false; h = yhead; left = B };
            batch_y();
            atomic { handle_y(hval) };
#else
            atomic { handed = false; h = yhead; left = B; handle_y(hval) };
            batch_y();
#endif
            give_up_y()
        :: else -> skip
        fi
    :: atomic {
            /* rk_light_take of Y */
            yq -> yq = false;
            PROP(F2, ysched == QUEUED);
            PROP(F1, yholders == 0);
            ysched = RUNNING;
            yholders++;
            h = yhead;
            left = B
        };
        batch_y();
        give_up_y()
    od
}

/* E: rk_light_send to Y from another block, retried while Y is full. */
proctype sender()
{
    byte k, pos, seen;
    do
    :: k == NE -> break
    :: else ->
        /* rk__l_claim; while the inbox is full (RK_EFULL) E waits here. */
        atomic { seq[ytail % CAP] == ytail -> pos = ytail; ytail++ };
        publish_y(SE);
        wake_y();
        k++
    od
}

init
{
    byte k;
    atomic {
        do
        :: k < CAP -> seq[k] = k; k++ /* free for lap 0 */
        :: else -> break
        od;
        run home();
        run sender()
    }
    timeout ->
    /* Everything has stopped: every accepted message was handled. */
    PROP(F4, sent[SE] == NE && xleft == 0 && handled == sent[SX] + sent[SE] &&
             !handed && ysched == IDLE && xsched == IDLE && !yq && !xq)
}

ltl all_handled { <> (sent[SE] == NE && xleft == 0 && handled == sent[SX] + sent[SE]) }
