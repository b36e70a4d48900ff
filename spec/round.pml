/*
 * round.pml - group restarts on the GPU: a one-for-all or rest-for-one
 * record asks for a round, and the supervisor block restarts the children
 * from `from` on, one turn at a time, in start order (commit 2a4e234;
 * docs/cuda-backend.md, "Restart records").
 *
 * Mirrors (include/ringkernel/device.cuh):
 *   block       each child's block, thread 0: rk__gpu_decide's order (a
 *               restart that is due, then the command mailbox, then
 *               rk__gpu_term_check, then messages); a handler that fails ->
 *               rk__gpu_failed (dir.sup read, no record while terminating;
 *               the record locked, rk__gpu_sup_charge, for a group strategy
 *               round = 1 and from = the smallest asked (0 for one-for-all,
 *               its position dir.sup_pos for rest-for-one), unlocked; the
 *               sup_rounds bit (atomicOr) after the unlock; the
 *               RK_CONTROL_F_RESTARTING flag; rk__gpu_fail's fence, then
 *               Failed; restart_due stays 0 for a group); RK__GPU_OP_RESTART
 *               in rk__gpu_exec (restart_due = bound, not terminating,
 *               Active, or Failed with the flag); rk__gpu_restart_cmd -> rk__gpu_exec
 *               -> rk__gpu_bind_begin's rebind (generation + 1: dir.generation,
 *               then rk__gpu_set_state(Initializing): dir.state and the
 *               control block) -> init, which may fail (rk__gpu_failed again,
 *               which may ask for the next round) -> Active, the fence, the
 *               flag cleared; rk__gpu_event_cmd(terminate) and
 *               rk__gpu_term_check (Failed: RK_EFAILED; drained: Terminated
 *               and the door unbound), acknowledged to the host
 *   stepper     the supervisor block, block 0 thread 0 (rk__gpu_supervise):
 *               a host command handed to a child's mailbox when it is free
 *               (rk__gpu_dispatch), or one step of rk__gpu_round: idle, it
 *               takes the bit (atomicAnd), locks the record, copies the round
 *               (from, the children) and clears it; a turn: dir.generation,
 *               then dir.state (two relaxed loads), door and dir.sup; a child
 *               not bound, not the record's any more, not Active or Failed
 *               (a Draining child keeps draining), or Failed without the
 *               flag has its turn pass (a flag it has: the fence, then the
 *               flag cleared); the record off or given up ends the round
 *               (the waiting children's flags cleared); else RK__GPU_OP_RESTART into
 *               its mailbox (retried while busy), then each step the two
 *               loads again until its generation changed and it is Active or
 *               Failed, or it is Terminated or Dormant, or the 5 s passed
 *   record      rk__gpu_sup: state (on, off, gave up), restarts counted,
 *               round, from; rk__gpu_sup_charge; OFF and ATTACH run by the
 *               supervisor block for the host
 *   host        (KILL) rk_kill_tree(S), or rk__give_up - the same steps:
 *               rk__dev_off, then each child, the last started first,
 *               rk__terminate_settled (rk__actor_state_settled: wait while
 *               Initializing, or Failed with the flag set, up to 5 s; a
 *               terminate if Active or Draining, again after RK_ETRANSITION,
 *               3 tries); (DETACH) rk__dev_drop: OFF, then every child
 *               detached (ATTACH, record none), the thread deciding from then
 *   lifecycle_next: generated from lifecycle.h (rk_common.pml)
 *
 * Memory. The stores and loads that the protocol orders are separate steps
 * in program order (sequential consistency), as in door.pml: the orders the
 * code relies on are checked by switches that move a step across (the bit
 * before the lock, the bit cleared after the take, the flag after the
 * unlock, the generation before the state). Each section under the
 * record's lock is one step (the lock serialises them; the lock word is
 * not modelled). The supervisor block's work for a host command (OFF,
 * ATTACH) is done in the host's step: the host waits for its
 * acknowledgement, and the supervisor block runs it between two steps of
 * the round. A child's dir.state and the state word of its control block
 * are stored in one step (rk__gpu_set_state: nobody compares the two); the
 * door's slot and dir.sup are loaded with dir.state (dir.sup is written
 * only by the supervisor block itself; the door is unbound after
 * Terminated, which passes the turn either way). The host reads a child's
 * state and flag in one step: restart.pml checks rk__actor_restarting's
 * two snapshots against the device's stores for one child under weak
 * memory; here the question is who restarts whom, and when.
 *
 * Deadlines. The round's turn deadline (RK__GPU_ROUND_TURN_NS) and the
 * host's settle deadline (RK__SUP_SETTLE_NS), 5 s each, are SPIN's
 * `timeout`: they pass only when nothing else can move (restarts are fast
 * against 5 s). A turn that waits on a child that never answers therefore
 * shows as a round that ends only by its deadline, not as a hang. Not
 * covered: a handler slower than 5 s (the round then goes on while that
 * child still has its turn to take), and a round longer than the host's
 * settle deadline (each turn may take up to 5 s, the host waits 5 s in
 * all).
 *
 * Bounds (defaults): NK = 2 children, positions 0 .. NK - 1, all Active in
 * generation 1 and attached to the record, which is on; F = 2 failures in
 * all (handlers, or init during a turn), of any child at any time; the
 * record allows MAXR = 1 restart in its window and at a charge past that
 * either gives up or finds that the window has moved on (as restart.pml).
 * STRAT 1 = one-for-all, 2 = rest-for-one.
 *
 * Switches. By default the model is the code with the fixes proposed in
 * spec/findings/round-*.md; the BUG_ switches marked "finding" bring back
 * the code of commit 2a4e234 as it is, the others are seeded bugs.
 *   KILL=1           the host turns the record off and stops every child
 *                    (rk_kill_tree, or a supervisor giving up), at any point
 *   DETACH=1         rk__dev_drop at any point: off, every child detached
 *   BUG_GEN_BEFORE_STATE   finding: rk__gpu_bind_begin stores dir.generation
 *                    before the Initializing state, and the stepper takes a
 *                    new generation with the old Active or Failed for a
 *                    finished restart (round-turn-order.md)
 *   BUG_RESTART_FINAL      finding: a Failed child whose failure is final
 *                    (no flag: the record refused it, or it failed while
 *                    terminating) is restarted by a round anyway
 *                    (round-restarts-final-failure.md)
 *   BUG_FLAG_AFTER_UNLOCK  finding: rk__gpu_failed stores the flag after the
 *                    unlock and the bit, so a turn that passes a detached
 *                    child before the flag shows clears nothing
 *                    (round-detach-stuck-flag.md)
 *   BUG_*            seeded bugs, next to the code they change
 *
 * Properties (assertions):
 *   Q1 every round asked for is carried out: the round the stepper takes
 *      starts at the smallest `from` asked since the last take (at the
 *      take), so a rest-for-one round restarts no child before it; and once
 *      everything has come to rest, every child at a position >= from of a
 *      request has been restarted since that request (merged rounds may
 *      restart it once for both), unless it stopped being the round's:
 *      Terminated, detached, or Failed with its failure handed to the host
 *      (no flag);
 *   Q2 start order: a child's restart begins only when no other child's
 *      restart is under way (the previous child's restart completed, or its
 *      turn passed);
 *   Q3 at rest, no child is Failed with RESTARTING set (the host would
 *      leave it alone for ever);
 *   Q4 no lost round: at rest (the stepper idle, no bit set), no round is
 *      left asked for in the record;
 *   Q5 the round restarts no child that is the host's: none whose failure
 *      is final (Failed without the flag: the record refused it, or it
 *      failed while terminating), at the restart; and once the host has
 *      stopped the children (KILL), none stores Active again (at each
 *      store, and at rest);
 *   Q6 every state a block stores is an edge of the lifecycle diagram;
 * and no invalid end state.
 *
 * Not modelled: more than one record or supervisor, the host's own
 * restarts (a failure before the attach, or after a detach, is the
 * thread's: rk__child_exit's stop and start of a group), the host's
 * deactivate and activate, messages and the door (door.pml), the record's
 * mirror and window arithmetic, the restart event, the slot map and
 * RK__GPU_SUP_KIDS, rk__gpu_reset_cmd (Dormant).
 */

#include "rk_common.pml"

hidden byte Q1, Q2, Q3, Q4, Q5, Q6;

#ifndef NK
#define NK 2
#endif
#ifndef F
#define F 2
#endif
#ifndef MAXR
#define MAXR 1
#endif
#ifndef STRAT
#define STRAT 1
#endif
#ifndef KILL
#define KILL 0
#endif
#ifndef DETACH
#define DETACH 0
#endif

#define ONE_FOR_ALL 1
#define REST_FOR_ONE 2

/* rk__gpu_sup_state */
#define REC_OFF 0
#define REC_ON 1
#define REC_GAVE_UP 2

/* what a mailbox holds */
#define MB_NONE 0
#define MB_RESTART 1   /* RK__GPU_OP_RESTART */
#define MB_TERMINATE 2 /* a host's RK__GPU_OP_EVENT, RK_EV_TERMINATE */

#define RESTARTABLE(s) ((s) == RK_ACTIVE || (s) == RK_FAILED) /* a Draining child keeps draining */
/* A failure that is final: Failed without the flag, the host's to handle.
 * The fix: a round restarts a Failed child only while its flag is set.
 * 2a4e234 (BUG_RESTART_FINAL) makes no such difference. */
#define FINAL_NOW(k) (st[k] == RK_FAILED && !flag[k])
#ifndef BUG_RESTART_FINAL
#define FINAL(s, f) ((s) == RK_FAILED && !(f))
#else
#define FINAL(s, f) false
#endif

/* ---- the device ---- */
byte st[NK];      /* dir.state, and the state word of the control block */
byte dgen[NK];    /* dir.generation */
bool flag[NK];    /* RK_CONTROL_F_RESTARTING in the control block */
bool bound[NK];   /* the door's slot (the block's c->bound) */
bool att[NK];     /* dir.sup names the record */
bool term[NK];    /* the block's c->terminating */
bool due[NK];     /* the block's c->restart_due */
byte mb[NK];      /* the block's command mailbox */
byte fails;

/* the record */
byte rec_state = REC_ON;
byte rec_recent;
bit r_round;
byte r_from;
bit rbit;         /* dev->sup_rounds, the record's bit */

/* the host's command to the supervisor block, and the acknowledgement */
byte hc = MB_NONE;
byte hc_k;
bool acked;
byte ack_st;

/* ---- ghosts ---- */
bool need[NK];    /* a request since asked this child's restart (Q1) */
bool inrs[NK];    /* its restart is under way: begun, Active or Failed not yet stored (Q2) */
byte g_min = NK;  /* the smallest `from` asked since the last take (NK: none) */
bool killed;      /* the host has stopped every child */
bool rd_active;   /* the stepper's round runs (for the audit) */

/* rk__gpu_set_state for child k (inside an atomic step) */
inline set_state(k, s)
{
    PROP(Q6, ALLOWED_EDGE(st[k], s));
    PROP(Q5, s != RK_ACTIVE || !killed);
    st[k] = s
}

/* rk__gpu_sup_charge (the record locked): ok = a restart allowed, and
 * counted. Time is abstract: a charge past MAXR may find that the oldest
 * restart left the window. */
inline charge(ok)
{
    if
    :: rec_state != REC_ON -> ok = false
    :: rec_state == REC_ON && rec_recent < MAXR -> rec_recent++; ok = true
    :: rec_state == REC_ON && rec_recent >= MAXR -> rec_state = REC_GAVE_UP; ok = false
    :: rec_state == REC_ON && rec_recent >= MAXR -> ok = true /* the window moved on */
    fi
}

/* ---- a child's block --------------------------------------------------- */

/* rk__gpu_failed, for child k */
inline failed(k)
{
    atomic { fails++; sup = (!term[k] && att[k]) }; /* dir.sup, relaxed */
#ifdef BUG_BIT_BEFORE_LOCK
    /* the bit set before the round is in the record */
    atomic { if :: sup -> rbit = 1 :: else -> skip fi };
#endif
    /* lock, charge, ask for a round, unlock */
    atomic {
        if
        :: sup ->
            charge(again);
            if
            :: again ->
                from = (STRAT == ONE_FOR_ALL -> 0 : k);
#ifdef BUG_MERGE_STALE_FROM
                r_from = (r_from < from -> r_from : from); /* no check that a round is pending */
#elif defined(BUG_MERGE_LATEST)
                r_from = from; /* the latest request's, not the smallest */
#else
                r_from = ((r_round && r_from < from) -> r_from : from);
#endif
                r_round = 1;
                grp = true;
                /* ghosts: the children this request asks to restart */
                g_min = (g_min < from -> g_min : from);
                j = from;
                do
                :: j < NK -> need[j] = true; j++
                :: else -> break
                od;
                j = 0
            :: else -> skip
            fi
        :: else -> skip
        fi;
#ifndef BUG_FLAG_AFTER_UNLOCK
        /* the flag stored before the unlock (its fence.acq_rel.sys and
         * release): a stepper that takes the round sees it */
        flag[k] = again
#endif
    };
#ifndef BUG_BIT_BEFORE_LOCK
    /* after the unlock: the stepper that sees the bit finds the round */
    atomic { if :: grp -> rbit = 1 :: else -> skip fi };
#endif
#ifdef BUG_FLAG_AFTER_UNLOCK
    atomic { flag[k] = again };
#endif
    /* rk__gpu_fail: fence.acq_rel.sys, then Failed */
    atomic { set_state(k, RK_FAILED); inrs[k] = false };
    atomic { again = false; grp = false; sup = false; from = 0 }
}

/* a turn of the round: rk__gpu_restart_cmd -> rk__gpu_exec (ticket 0) */
inline restart(k)
{
    atomic {
        due[k] = false;
        lifecycle_next(st[k], RK_EV_RESTART, to, rs);
        assert(rs == RK_OK && bound[k]);
        term[k] = false;
        gen++;
        /* ghosts: the restart begins */
        j = 0;
        do
        :: j < NK -> PROP(Q2, j == k || !inrs[j]); j++
        :: else -> break
        od;
        j = 0;
        inrs[k] = true;
        need[k] = false;
        PROP(Q5, !FINAL_NOW(k)); /* not a failure that is the host's */
#ifdef BUG_GEN_BEFORE_STATE
        dgen[k] = gen /* rk__gpu_bind_begin as in 2a4e234 */
#else
        set_state(k, RK_INITIALIZING)
#endif
    };
#ifdef BUG_GEN_BEFORE_STATE
    atomic { set_state(k, RK_INITIALIZING) };
#else
    /* after the state, ordered (release) */
    atomic { dgen[k] = gen };
#endif
    if
    :: fails < F -> failed(k) /* init fails: the record may ask again */
    :: true ->
        atomic { set_state(k, RK_ACTIVE); inrs[k] = false };
        atomic { flag[k] = false } /* the fence, then the flag cleared */
    fi;
    atomic { to = 0; rs = 0 }
}

proctype block(byte k)
{
    byte ev, to, rs, from, j;
    byte gen = 1;
    bool sup, again, grp;
end:
    do
    :: due[k] -> restart(k)
    :: atomic { !due[k] && mb[k] != MB_NONE -> ev = mb[k]; mb[k] = MB_NONE };
        if
        :: ev == MB_RESTART ->
            /* rk__gpu_exec, RK__GPU_OP_RESTART */
            atomic {
                due[k] = bound[k] && !term[k] && RESTARTABLE(st[k]) && !FINAL(st[k], flag[k])
            }
        :: ev == MB_TERMINATE ->
            /* rk__gpu_event_cmd */
            atomic {
                lifecycle_next(st[k], RK_EV_TERMINATE, to, rs);
                if
                :: rs == RK_OK && term[k] -> rs = RK_ESTATE
                :: else -> skip
                fi;
                if
                :: rs == RK_OK ->
                    if
                    :: st[k] == RK_ACTIVE -> set_state(k, RK_DRAINING)
                    :: else -> skip
                    fi;
                    term[k] = true
                :: else -> ack_st = rs; acked = true
                fi
            }
        fi;
        atomic { ev = MB_NONE; to = 0; rs = 0 }
    /* rk__gpu_term_check */
    :: atomic { !due[k] && mb[k] == MB_NONE && term[k] && st[k] == RK_FAILED ->
           term[k] = false; ack_st = RK_EFAILED; acked = true }
    :: atomic { !due[k] && mb[k] == MB_NONE && term[k] && st[k] == RK_DRAINING ->
           set_state(k, RK_TERMINATED); bound[k] = false; term[k] = false; ack_st = RK_OK; acked = true }
    /* a handler fails */
    :: !due[k] && mb[k] == MB_NONE && bound[k] && RUNS(st[k]) && fails < F -> failed(k)
    od
}

/* ---- the supervisor block ---------------------------------------------- */

proctype stepper()
{
    byte at, rgen, g, s, pg, ps, rfrom;
    bool posted, b, a, fl;
end:
    do
    /* a host command handed on (rk__gpu_dispatch) */
    :: atomic { hc != MB_NONE && mb[hc_k] == MB_NONE -> mb[hc_k] = hc; hc = MB_NONE }
    /* rk__gpu_round: idle, a bit is set */
#ifndef BUG_CLEAR_BIT_LATE
    :: atomic { !rd_active && rbit -> rbit = 0 }; /* the load, then atomicAnd */
#else
    :: !rd_active && rbit ->
#endif
        /* lock, take the round, unlock */
        atomic {
            if
            :: r_round ->
                PROP(Q1, r_from == g_min);
                g_min = NK;
                rd_active = true;
                at = r_from;
                rfrom = r_from;
                posted = false;
                r_round = 0
            :: else -> skip
            fi
        }
#ifdef BUG_CLEAR_BIT_LATE
        ; rbit = 0 /* after the take */
#endif
    /* the round is over */
    :: atomic { rd_active && at >= NK -> rd_active = false; at = 0; rfrom = 0 }
    /* the record is off or gave up: the round ends, and the children still
     * waiting are the host's again (a flag of this record's cleared after
     * the fence; posted is 0 here: a posted turn ends first) */
    :: atomic { rd_active && at < NK && !posted && rec_state != REC_ON ->
           do
           :: at < NK ->
               if
               :: flag[at] -> flag[at] = false
               :: else -> skip
               fi;
               at++
           :: else -> break
           od;
           rd_active = false; at = 0; rfrom = 0 }
    /* a turn: look (a busy mailbox: the same look again next step) */
    :: rd_active && at < NK && !posted &&
       (mb[at] == MB_NONE || !bound[at] || !att[at] || !RESTARTABLE(st[at]) || (st[at] == RK_FAILED && !flag[at])) ->
        g = dgen[at];
        atomic { s = st[at]; b = bound[at]; a = att[at]; fl = flag[at] };
        if
        :: !b || !a || !RESTARTABLE(s) || FINAL(s, fl) ->
            /* its turn passes; a flag it has goes (the fence, then the store) */
#ifndef BUG_NO_FLAG_CLEAR
            if
#ifdef BUG_FLAG_AFTER_UNLOCK
            :: s == RK_FAILED -> flag[at] = false /* as in 2a4e234 */
#else
            :: fl -> flag[at] = false
#endif
            :: else -> skip
            fi;
#endif
            atomic { at++; g = 0; s = 0; b = 0; a = 0; fl = 0 }
        :: else ->
            atomic {
                if
                :: mb[at] == MB_NONE ->
                    mb[at] = MB_RESTART;
#ifdef BUG_NO_TURN_WAIT
                    at++
#else
                    posted = true; rgen = g; pg = g; ps = s
#endif
                :: else -> skip /* busy: try again */
                fi;
                g = 0; s = 0; b = 0; a = 0; fl = 0
            }
        fi
    /* a turn: wait for the child (a look again only once something changed) */
    :: atomic { rd_active && posted && (dgen[at] != pg || st[at] != ps) -> g = dgen[at] };
        atomic {
            s = st[at]; fl = flag[at];
            if
            :: (g != rgen && (s == RK_ACTIVE || s == RK_FAILED)) || s == RK_TERMINATED || s == RK_DORMANT ||
               (FINAL(s, fl) && g == rgen) /* it declined: its failure is the host's */ -> posted = false; at++; pg = 0; ps = 0; rgen = 0
            :: else -> pg = g; ps = s
            fi;
            g = 0; s = 0; fl = 0
        }
    /* the turn's deadline */
    :: atomic { timeout && rd_active && posted -> posted = false; at++; pg = 0; ps = 0; rgen = 0 }
    od
}

/* ---- the host ---------------------------------------------------------- */

#if KILL
/* rk__terminate_settled for child k */
inline terminate_settled(k)
{
    tries = 0;
    do
    :: tries < 3 ->
        /* rk__actor_state_settled: the deadline is `timeout` */
        atomic { ((st[k] != RK_INITIALIZING && !(st[k] == RK_FAILED && flag[k])) || timeout) -> s = st[k] };
        if
        :: s == RK_ACTIVE || s == RK_DRAINING ->
            atomic { hc == MB_NONE -> hc = MB_TERMINATE; hc_k = k };
            atomic { acked -> acked = false; rs = ack_st; ack_st = 0 };
            if
            :: rs == RK_ETRANSITION -> tries++
            :: else -> break
            fi
        :: else -> break
        fi
    :: else -> break
    od;
    atomic { s = 0; rs = 0; tries = 0 }
}
#endif

proctype host()
{
    byte k, s, rs, tries;
    /* rk__dev_off (RK__GPU_SUP_OFF, run by the supervisor block) */
    rec_state = REC_OFF;
#if DETACH
    /* rk__dev_drop: every child detached (RK__GPU_SUP_ATTACH, none) */
    k = 0;
    do
    :: k < NK -> att[k] = false; k++
    :: else -> break
    od;
#endif
#if KILL
    /* the last started first */
    k = NK;
    do
    :: k > 0 -> k--; terminate_settled(k)
    :: else -> break
    od;
    killed = true
#endif
}

/* Once nothing can move (the stepper idle): the properties at rest. */
proctype audit()
{
    byte j;
    atomic {
        timeout && !rd_active && rbit == 0 && hc == MB_NONE ->
        PROP(Q4, !r_round);
        j = 0;
        do
        :: j < NK ->
            PROP(Q1, !need[j] || st[j] == RK_TERMINATED || !att[j] || (st[j] == RK_FAILED && !flag[j]) ||
                     rec_state != REC_ON /* the record stopped serving: the host decides */);
            j++
        :: else -> break
        od;
        j = 0;
        do
        :: j < NK -> PROP(Q3, !(st[j] == RK_FAILED && flag[j])); j++
        :: else -> break
        od;
        j = 0;
        do
        :: j < NK -> PROP(Q5, !killed || st[j] != RK_ACTIVE); j++
        :: else -> break
        od
    }
}

init
{
    byte k;
    atomic {
        k = 0;
        do
        :: k < NK -> st[k] = RK_ACTIVE; dgen[k] = 1; bound[k] = true; att[k] = true; k++
        :: else -> break
        od;
        k = 0;
        do
        :: k < NK -> run block(k); k++
        :: else -> break
        od;
        run stepper();
#if KILL || DETACH
        run host();
#endif
        run audit()
    }
}
