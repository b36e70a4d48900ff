/*
 * migrate.pml - moving an actor to another member of a group while others
 * send to it (src/core/group.c, rk__migrate and rk__dispatch_hops), as on
 * the CPU backend, where the paused actor's queue moves with it.
 *
 * Mirrors:
 *   sender    rk__dispatch_hops for an actor of a group: senders++ (seq_cst
 *             fetch_add), load forward (seq_cst); 0: deliver to the old
 *             home's inbox; MOVING: RK_EFULL, the sender tries again
 *             (rk_send_wait); a gid: deliver to the new home; senders--
 *   old       the old home's worker (rk__worker_main): between two
 *             messages it grants a pause asked for (rk__cpu_snap_pause's
 *             handshake), else takes the next message and handles it
 *   new       the new home's worker (the new actor, launched and held
 *             while its queue is restored, so it handles nothing before)
 *   migrator  rk__migrate: forward = MOVING, wait for senders == 0, pause
 *             the old home, copy its queued messages (read_msgs) into the
 *             new home's inbox (restore), resume the new home, forward =
 *             the new gid, retire the old home (what is still queued there
 *             is dropped: it was copied)
 * Inboxes are channels (ring_mpsc.pml checks the ring).
 *
 * Bounds (defaults): NSEND = 2 senders, MPER = 2 messages each, message
 * ids s * MPER + k.
 *
 * Properties (assertions):
 *   M1 every message is handled exactly once: never twice (asserted as it
 *      is handled), never lost (checked when everything has stopped);
 *   M2 each sender's messages are handled in the order it sent them.
 *
 * Seeded bugs: BUG_NO_SENDER_WAIT (the migrator does not wait for senders
 * inside: one delivers into the old home after its queue was copied, and
 * the retire drops it - SPIN first finds the sender's next message handled
 * before it, M2; the loss itself is M1), BUG_LOAD_BEFORE_ENTER (a sender
 * reads forward before it counts itself: the same, M2), BUG_FORWARD_EARLY (forward
 * names the new home before the queue is copied: new messages overtake
 * moved ones, M2).
 */

#include "rk_common.pml"

hidden byte M1, M2;

#ifndef NSEND
#define NSEND 2
#endif
#ifndef MPER
#define MPER 2
#endif
#define NMSG (NSEND * MPER)
#define ICAP NMSG

#define FWD_NONE 0
#define FWD_MOVING 1
#define FWD_NEW 2

chan oin = [ICAP] of { byte }; /* the old home's inbox */
chan nin = [ICAP] of { byte }; /* the new home's inbox */

byte fwd = FWD_NONE;
byte senders = 0;
bool ask = false, held = false, retired = false, migrated = false;
byte handled[NMSG];
byte next_k[NSEND]; /* the next message each sender's handler should see */
byte total = 0, senders_done = 0;

inline handle(id) {
    d_step {
        PROP(M1, handled[id] == 0);
        handled[id]++;
        PROP(M2, next_k[id / MPER] == id % MPER);
        next_k[id / MPER] = id % MPER + 1;
        total++
    }
}

proctype sender(byte s) {
    byte k = 0, f;
    do
    :: k == MPER -> break
    :: else ->
#ifdef BUG_LOAD_BEFORE_ENTER
        f = fwd;
        senders++;
#else
        senders++;
        f = fwd;
#endif
        if
        :: f == FWD_NONE -> oin!(s * MPER + k); k++
        :: f == FWD_MOVING -> skip /* RK_EFULL: again */
        :: f == FWD_NEW -> nin!(s * MPER + k); k++
        fi;
        senders--
    od;
    senders_done++
}

proctype old_home() {
    byte id;
end:
    do
    :: atomic { ask && !held -> held = true } /* between two messages */
    :: !ask && !retired && nempty(oin) -> oin?id; handle(id)
    :: retired -> break
    od
}

proctype new_home() {
    byte id;
end:
    do
    :: migrated && nempty(nin) -> nin?id; handle(id)
    od
}

proctype migrator() {
    byte id, n;
    fwd = FWD_MOVING;
#ifndef BUG_NO_SENDER_WAIT
    senders == 0;
#endif
    ask = true;
    held;
#ifdef BUG_FORWARD_EARLY
    fwd = FWD_NEW;
#endif
    /* read_msgs and restore: a copy of what is queued, in order, into the
     * held new home (the old queue stays until the retire). */
    n = len(oin);
    do
    :: n > 0 -> oin?id; nin!id; oin!id; n--
    :: n == 0 -> break
    od;
    migrated = true; /* the new home resumes */
    fwd = FWD_NEW;
    /* retire: drop what is queued (copied above), never handle it */
    do
    :: nempty(oin) -> oin?id
    :: empty(oin) -> break
    od;
    retired = true
}

init {
    byte s;
    atomic {
        s = 0;
        do
        :: s < NSEND -> run sender(s); s++
        :: s == NSEND -> break
        od;
        run old_home();
        run new_home();
        run migrator()
    }
    /* Everything has stopped: every message was handled once. */
    timeout -> PROP(M1, total == NMSG)
}
