/*
 * restart.pml - restart records: a one-for-one supervisor's restart policy
 * kept on the GPU, so that a failed actor's own block restarts it, racing
 * with the host's supervision thread and with rk_kill_tree (commit 3c78ce0;
 * docs/cuda-backend.md, "Restart records").
 *
 * Mirrors:
 *   block       the actor's block, thread 0 (include/ringkernel/device.cuh):
 *               rk__gpu_decide's order (a restart that is due, then the
 *               command mailbox, then rk__gpu_term_check, then messages);
 *               a handler that fails -> rk__gpu_failed (no record while
 *               terminating; else the record locked, rk__gpu_sup_charge,
 *               rk__gpu_sup_unlock with its fence.acq_rel.sys; the
 *               RK_CONTROL_F_RESTARTING flag stored; rk__gpu_fail: its
 *               fence, then rk__gpu_set_state(Failed)); rk__gpu_restart_cmd
 *               (ticket 0, generation + 1) -> rk__gpu_exec -> the rebind
 *               part of rk__gpu_bind_begin (generation, Initializing) ->
 *               init, which may fail (rk__gpu_failed again) -> Active, and
 *               for ticket 0 the fence, then the flag cleared;
 *               rk__gpu_event_cmd(terminate) and rk__gpu_term_check; an
 *               acknowledgement is a release (rk__gpu_send_ack)
 *   record      rk__gpu_sup: state (off, on, gave up), the restarts
 *               counted; rk__gpu_sup_charge, and rk__gpu_sup_cmd's OFF and
 *               CHARGE run by the supervisor block for the host
 *   supervision rk__supervision_main / rk__scan_once for one supervisor S
 *               with one permanent child A (src/core/supervisor.c):
 *               rk__child_stopped (rk__actor_state_now, then
 *               rk__actor_restarting, src/core/actor.c: two control-block
 *               snapshots with an acquire fence between), rk__child_exit,
 *               rk__may_restart (the record's CHARGE), rk__start_child ->
 *               rk__lifecycle(restart) -> rk__cuda_actor_command (the
 *               generation read + 1), rk__give_up (rk__dev_off, then
 *               rk__stop_child)
 *   program     rk_supervisor_start_child's attach (RK__GPU_SUP_ATTACH,
 *               under op_lock), then rk_kill_tree(S): rk__kill_node -
 *               rk__dev_off, then for A rk__actor_state_settled and
 *               rk__lifecycle(terminate) -> rk__cuda_terminate if it is
 *               Active or Draining - all under op_lock, as in the C code
 *   lifecycle_next: generated from lifecycle.h (rk_common.pml)
 *
 * Weak memory. The control block (rk_control) is pinned host memory that
 * the block writes with relaxed .sys stores and the host reads word by
 * word (rk__cuda_actor_control: relaxed 64-bit loads in address order).
 * Three words matter: state and generation (offsets 0 and 4: one 64-bit
 * word for the host, which reads both in one load, but two 32-bit stores
 * of rk__gpu_set_state for the device, generation first) and flags. Each
 * device store to them is buffered, at most one pending store per word; a
 * second store to a word with one pending either makes the pending one
 * visible first or replaces it (its value is never seen): coherence. The
 * `memory` process makes pending stores visible one at a time, in any
 * order. A device fence.acq_rel.sys waits until every earlier store is
 * visible; so does the release that acknowledges a command
 * (rk__gpu_send_ack). rk__gpu_gate_open's fence.acq_rel.gpu orders
 * nothing for the host (its scope does not include the host). The host
 * performs its loads in program order: the acquire load of the state in
 * rk__actor_state_now, then each snapshot's state word before its flags
 * word, then (acquire fence) the second snapshot. That is x86's order;
 * the code's relaxed loads do not ask for it, and C11 and Arm do not give
 * it: HOST_LOADS_ANY_ORDER lets a snapshot read its flags word first.
 *
 * Folding. The record is only touched under its lock, so each charge and
 * each OFF is one step; the lock word itself is not modelled. A wait for
 * the memory process (a fence) and the store after it are one step. The
 * supervisor block's work for a host command (CHARGE, OFF, ATTACH) is
 * done in the host's step: the host waits for its acknowledgement.
 *
 * The settle deadline (RK__SUP_SETTLE_NS, 5 s) is long against one
 * restart but not against a storm of them: the model lets it pass only
 * once the actor has been restarted twice since the wait began.
 *
 * Bounds (defaults): F = 3 failures in all (handlers, or init on a
 * restart); the record allows MAXR = 1 restart in its window, and at a
 * charge past that either gives up or finds that the window has moved on
 * (time is abstract: any charge may come after the oldest restart left
 * the window). The actor starts Active in generation 1, not yet attached
 * to the record (a failure before the attach is the thread's to handle);
 * the program attaches it at any point, then (KILL = 1) kills the tree.
 *
 * Switches. By default the model is the code with the fixes of the three
 * findings in spec/findings/restart-*.md; the BUG_ switches bring back the
 * code as it was before each (rejected, as the findings say).
 *   KILL=0           no rk_kill_tree
 *   BUG_TORN_STATE_WORD  rk__gpu_set_state stores the generation and the
 *                    state as two stores (restart-torn-control-word.md)
 *   BUG_KILL_NO_SETTLE  rk__actor_state_settled does not wait while the
 *                    actor is Initializing, and rk__kill_node /
 *                    rk__stop_child take a terminate refused with
 *                    RK_ETRANSITION for stopped (restart-kill-during-restart.md)
 *   HOST_LOADS_ANY_ORDER  see above: the host's relaxed loads, which a
 *                    weakly ordered host may reorder (restart-host-load-order.md)
 *   BUG_*            seeded bugs, next to the code they change
 *
 * Properties (assertions):
 *   X1 no double restart: the host orders a restart only for a failure
 *      for which the block decided none (at the host, before the command
 *      is posted), and its restart reaches the block still Failed in the
 *      generation the host judged (at the block);
 *   X2 the record counts every restart exactly once: no generation
 *      advances without a charge (at each restart) and, once everything
 *      has come to rest, the record's count equals the restarts made;
 *   X3 once rk_kill_tree has returned, the actor never becomes Active
 *      again (at each store of Active, and at rest);
 *   X4 every state the block stores is an edge of the lifecycle diagram;
 * and no invalid end state (a host waiting for ever is one).
 *
 * Not modelled: the mirror of the record and rk_supervisor_info_get; the
 * restart event and rk__actor_restarted (names, events); messages and
 * the K2K door (door.pml); more than one child or supervisor, escalation
 * past S and rk__restart_subtree (supervisor.pml); the record's window
 * arithmetic (abstracted as above); RK_EV_FAIL commands and failed
 * creates; command timeouts; terminates by the program.
 */

#include "rk_common.pml"

hidden byte X1, X2, X3, X4;

#ifndef F
#define F 3
#endif
#ifndef MAXR
#define MAXR 1
#endif
#ifndef KILL
#define KILL 1
#endif
#define NGEN (2 * F + 2) /* generations 1 .. 1 + 2F even when both restart each failure */

#define F_RESTARTING 1 /* RK_CONTROL_F_RESTARTING */

/* rk__gpu_sup_state */
#define REC_OFF 0
#define REC_ON 1
#define REC_GAVE_UP 2

/* the supervisor's own state (rk__sup.state) */
#define S_ACTIVE 0
#define S_FAILED 1
#define S_TERMINATED 2

/* ---- the control block in pinned memory ---- */
#define W_STATE 0
#define W_GEN 1
#define W_FLAGS 2
byte ctl[3]; /* what the host can see */
bool pd[3];  /* a device store to the word is pending */
byte pv[3];  /* its value */
#define NO_PENDING (!pd[0] && !pd[1] && !pd[2])

/* ---- the device ---- */
byte rec_state = REC_ON; /* rk__gpu_sup.state (rk__dev_on set it on) */
byte rec_recent;         /* restarts inside the window */
byte rec_restarts;       /* rk__gpu_sup.restarts */
byte dir_sup;            /* rk__gpu_dir.sup: the record + 1, 0 = none */
/* the block's private state (global for the asserts) */
byte blk_state = RK_ACTIVE;
byte blk_gen = 1;
bool terminating, restart_due, bound = true;
byte fails;

/* ---- the actor's command mailbox (rk__cuda_command) ---- */
byte mb_ev = RK_EV_NONE;
byte mb_gen;
bool acked;
byte ack_st;

/* ---- the host ---- */
bit op_lock;            /* rk__supervision.op_lock */
byte s_state = S_ACTIVE;

/* ---- ghosts ---- */
bool decided[NGEN]; /* the block decided to restart the failure of this generation */
byte g_restarts;    /* generation advances */
byte judged;        /* the failed generation the host restarts */
bool killed;        /* rk_kill_tree has returned */

/* A device store to word w (inside an atomic step). With a store to w
 * still pending, the pending one becomes visible first, or is never seen
 * (the new value replaces it): either way coherence holds. */
inline dst(w, v)
{
    if
    :: pd[w] && pv[w] != v -> ctl[w] = pv[w]; pv[w] = v
    :: pd[w] && pv[w] != v -> pv[w] = v
    :: !pd[w] && ctl[w] != v -> pd[w] = true; pv[w] = v
    :: else -> skip /* the same value again: no change anyone could see */
    fi
}

#ifndef BUG_TORN_STATE_WORD
/* A store of state and generation together (one 64-bit store). */
inline dst_pair(s, g)
{
    if
    :: pd[W_STATE] && (pv[W_STATE] != s || pv[W_GEN] != g) ->
        ctl[W_STATE] = pv[W_STATE]; ctl[W_GEN] = pv[W_GEN]; pv[W_STATE] = s; pv[W_GEN] = g
    :: pd[W_STATE] && (pv[W_STATE] != s || pv[W_GEN] != g) -> pv[W_STATE] = s; pv[W_GEN] = g
    :: !pd[W_STATE] && (ctl[W_STATE] != s || ctl[W_GEN] != g) ->
        pd[W_STATE] = true; pv[W_STATE] = s; pv[W_GEN] = g
    :: else -> skip
    fi
}
#endif

/* Pending stores become visible one at a time, in any order. */
proctype memory()
{
end:
    do
#ifndef BUG_TORN_STATE_WORD
    :: atomic { pd[0] -> ctl[0] = pv[0]; ctl[1] = pv[1]; pd[0] = false; pv[0] = 0; pv[1] = 0 }
#else
    :: atomic { pd[0] -> ctl[0] = pv[0]; pd[0] = false; pv[0] = 0 }
#endif
    :: atomic { pd[1] -> ctl[1] = pv[1]; pd[1] = false; pv[1] = 0 }
    :: atomic { pd[2] -> ctl[2] = pv[2]; pd[2] = false; pv[2] = 0 }
    od
}

/* ---- the record ----------------------------------------------------------- */

/* rk__gpu_sup_charge (the record locked): ok = a restart allowed, and
 * counted. */
inline charge(ok)
{
    if
    :: rec_state != REC_ON -> ok = false
    :: rec_state == REC_ON && rec_recent < MAXR -> rec_recent++; rec_restarts++; ok = true
    :: rec_state == REC_ON && rec_recent >= MAXR -> rec_state = REC_GAVE_UP; ok = false
    :: rec_state == REC_ON && rec_recent >= MAXR -> rec_restarts++; ok = true /* the oldest left the window */
    fi
}

/* ---- the block ------------------------------------------------------------ */

/* rk__gpu_set_state (inside an atomic step): the generation, then the
 * state, relaxed .sys stores. */
inline set_state(s)
{
    PROP(X4, ALLOWED_EDGE(blk_state, s));
    PROP(X3, s != RK_ACTIVE || !killed);
    blk_state = s;
#ifndef BUG_TORN_STATE_WORD
    dst_pair(s, blk_gen)
#else
    dst(W_GEN, blk_gen);
    dst(W_STATE, s)
#endif
}

/* rk__gpu_send_ack: a release, so everything stored before is visible. */
inline ack(st)
{
    atomic { NO_PENDING -> ack_st = st; acked = true }
}

/* rk__gpu_failed */
inline failed()
{
    atomic {
        fails++;
        sup = (terminating -> 0 : dir_sup);
        again = false;
        if
        :: sup != 0 -> charge(again); decided[blk_gen] = again /* lock, charge, unlock */
        :: else -> skip
        fi
    };
#ifndef BUG_FLAG_AFTER_FAILED
    /* the unlock's fence.acq_rel.sys, then the flag */
    atomic { (sup == 0 || NO_PENDING) -> dst(W_FLAGS, (again -> F_RESTARTING : 0)) };
#endif
    /* rk__gpu_fail: fence.acq_rel.sys, then Failed */
    atomic { NO_PENDING -> set_state(RK_FAILED) };
#ifdef BUG_FLAG_AFTER_FAILED
    atomic { dst(W_FLAGS, (again -> F_RESTARTING : 0)) };
#endif
    atomic { restart_due = again; sup = 0; again = false }
}

/* rk__gpu_exec of a restart (rk__gpu_bind_begin's rebind; the door is not
 * modelled) with ticket 0 (the block's own) or a host's. */
inline restart(own)
{
    atomic {
        lifecycle_next(blk_state, RK_EV_RESTART, to, st);
        assert(st == RK_OK && bound);
        if
        :: !own -> PROP(X1, blk_state == RK_FAILED && blk_gen == judged)
        :: else -> skip
        fi;
        terminating = false;
        blk_gen = (gen <= blk_gen -> blk_gen + 1 : gen);
        g_restarts++;
        PROP(X2, g_restarts <= rec_restarts);
        set_state(RK_INITIALIZING);
        gen = 0
    };
    if
    :: fails < F -> failed(); st = RK_EHANDLER /* init fails: its record may try again */
    :: true ->
        atomic { set_state(RK_ACTIVE); st = RK_OK };
        if
        :: own ->
            /* fence.acq_rel.sys, then the flag cleared */
#ifdef BUG_CLEAR_NO_FENCE
            atomic { dst(W_FLAGS, 0) }
#else
            atomic { NO_PENDING -> dst(W_FLAGS, 0) }
#endif
        :: else -> skip
        fi
    fi;
    if
    :: !own -> ack(st)
    :: else -> skip
    fi
}

proctype block()
{
    byte ev, gen, to, st, sup;
    bool again;
end:
    do
    :: restart_due ->
        atomic { restart_due = false; gen = blk_gen + 1 }; /* rk__gpu_restart_cmd */
        restart(true)
    :: atomic { !restart_due && mb_ev != RK_EV_NONE -> ev = mb_ev; gen = mb_gen; mb_ev = RK_EV_NONE };
        if
        :: ev == RK_EV_RESTART -> restart(false)
        :: ev == RK_EV_TERMINATE ->
            /* rk__gpu_event_cmd */
            atomic {
                lifecycle_next(blk_state, RK_EV_TERMINATE, to, st);
                if
                :: st == RK_OK && terminating -> st = RK_ESTATE
                :: else -> skip
                fi;
                if
                :: st == RK_OK && blk_state == RK_ACTIVE -> set_state(RK_DRAINING)
                :: else -> skip
                fi;
                terminating = (terminating || st == RK_OK)
            };
            if
            :: st != RK_OK -> ack(st)
            :: else -> skip /* answered by rk__gpu_term_check */
            fi
        fi;
        atomic { ev = RK_EV_NONE; to = 0; st = 0 }
    :: atomic { !restart_due && mb_ev == RK_EV_NONE && terminating && blk_state == RK_FAILED ->
           terminating = false };
        ack(RK_EFAILED)
    :: atomic { !restart_due && mb_ev == RK_EV_NONE && terminating && blk_state == RK_DRAINING ->
           /* drained */
           set_state(RK_TERMINATED); bound = false; terminating = false };
        ack(RK_OK)
    :: !restart_due && mb_ev == RK_EV_NONE && bound && RUNS(blk_state) && fails < F ->
        failed() /* a handler fails */
    od
}

/* ---- the host ------------------------------------------------------------- */

/* rk__actor_restarting: two snapshots of the control block; r = not final. */
inline snapshot(s, g, f)
{
#ifdef HOST_LOADS_ANY_ORDER
    if
    :: atomic { s = ctl[W_STATE]; g = ctl[W_GEN] }; f = ctl[W_FLAGS]
    :: f = ctl[W_FLAGS]; atomic { s = ctl[W_STATE]; g = ctl[W_GEN] }
    fi
#else
    atomic { s = ctl[W_STATE]; g = ctl[W_GEN] }; /* one 64-bit word */
    f = ctl[W_FLAGS]
#endif
}

inline restarting(r)
{
    snapshot(c1s, c1g, c1f);
#ifdef BUG_ONE_SNAPSHOT
    r = (c1f != 0 || c1s != RK_FAILED)
#else
    snapshot(c2s, c2g, c2f); /* after __atomic_thread_fence(__ATOMIC_ACQUIRE) */
    r = ((c1f | c2f) != 0 || c1s != RK_FAILED || c2s != RK_FAILED || c1g != c2g)
#endif
}

/* rk__actor_state_settled: rk__actor_state_now until the actor is not
 * Failed or its failure is final, or the deadline passed. */
inline settled(s)
{
    do
    :: s = ctl[W_STATE];
        if
        :: s == RK_FAILED ->
            restarting(r);
            if
            :: !r -> break
            :: r -> skip /* sleep, look again */
            :: r && g_restarts >= base + 2 -> break /* the deadline */
            fi
#ifndef BUG_KILL_NO_SETTLE
        :: s == RK_INITIALIZING -> skip
        :: s == RK_INITIALIZING && g_restarts >= base + 2 -> break
#endif
        :: else -> break
        fi;
        atomic { c1s = 0; c1g = 0; c1f = 0; c2s = 0; c2g = 0; c2f = 0; r = false }
    od;
    atomic { c1s = 0; c1g = 0; c1f = 0; c2s = 0; c2g = 0; c2f = 0; r = false }
}

/* rk__lifecycle(restart or terminate) -> rk__cuda_actor_command: the
 * host's check of the state it reads, then the command, waiting for its
 * acknowledgement. */
inline command(ev, st)
{
    hs = ctl[W_STATE];
    lifecycle_next(hs, ev, to, st);
    if
    :: st == RK_OK ->
        if
        :: ev == RK_EV_RESTART ->
            PROP(X1, !decided[judged]);
            mb_gen = ctl[W_GEN] + 1 /* acquire load */
        :: else -> skip
        fi;
        mb_ev = ev;
        atomic { acked -> acked = false; st = ack_st; ack_st = 0 }
    :: else -> skip
    fi;
    atomic { hs = 0; to = 0 }
}

/* rk__stop_child / rk__kill_node for the actor: settle, then terminate it
 * if it runs. */
inline stop_actor()
{
    base = g_restarts;
    do
    :: true ->
#ifdef BUG_KILL_NO_WAIT
        s = ctl[W_STATE]; /* rk__actor_state_now, as before the record */
#else
        settled(s);
#endif
        if
        :: s == RK_ACTIVE || s == RK_DRAINING -> command(RK_EV_TERMINATE, st)
        :: else -> st = RK_OK /* Failed or Terminated: stopped already */
        fi;
        if
#ifndef BUG_KILL_NO_SETTLE
        :: st == RK_ETRANSITION -> skip /* it moved under us: settle again */
#endif
        :: else -> break
        fi;
        atomic { s = 0; st = 0 }
    od;
    atomic { s = 0; st = 0; base = 0 }
}

proctype supervision()
{
    byte s, st, hs, to, base;
    byte c1s, c1g, c1f, c2s, c2g, c2f;
    bool r, ok;
end:
    do
    :: atomic { op_lock == 0 && s_state == S_ACTIVE && ctl[W_STATE] == RK_FAILED -> op_lock = 1 };
        /* rk__scan_once -> rk__child_stopped */
        s = ctl[W_STATE];
        if
        :: s == RK_FAILED ->
            restarting(r);
            if
            :: !r ->
                /* final: rk__child_exit (permanent) -> rk__may_restart */
                atomic {
                    judged = c1g;
#ifdef BUG_HOST_NO_CHARGE
                    ok = true /* decided from the thread's own history */
#else
                    charge(ok) /* RK__GPU_SUP_CHARGE */
#endif
                };
                if
                :: ok -> command(RK_EV_RESTART, st) /* rk__start_child */
                :: else ->
                    /* rk__give_up */
                    rec_state = REC_OFF; /* rk__dev_off */
                    stop_actor();
                    s_state = S_FAILED
                fi
            :: else -> skip /* its block restarts it */
            fi
        :: else -> skip
        fi;
        atomic {
            op_lock = 0;
            s = 0; st = 0; r = false; ok = false;
            c1s = 0; c1g = 0; c1f = 0; c2s = 0; c2g = 0; c2f = 0
        }
    od
}

proctype program()
{
    byte s, st, hs, to, base;
    byte c1s, c1g, c1f, c2s, c2g, c2f;
    bool r;
    /* rk_supervisor_start_child: the attach, under op_lock */
    atomic { op_lock == 0 -> op_lock = 1 };
    dir_sup = 1;
    op_lock = 0;
#if KILL
    /* rk_kill_tree(S) */
    atomic { op_lock == 0 -> op_lock = 1 };
#ifndef BUG_KILL_NO_OFF
    rec_state = REC_OFF; /* rk__dev_off */
#endif
    stop_actor();
    atomic { s_state = S_TERMINATED; killed = true; op_lock = 0 }
#endif
}

/* Once nothing can move: the counts agree, and a killed actor is down. */
proctype audit()
{
    timeout ->
    PROP(X2, rec_restarts == g_restarts);
    PROP(X3, !killed || blk_state != RK_ACTIVE)
}

init
{
    atomic {
        ctl[W_STATE] = RK_ACTIVE;
        ctl[W_GEN] = 1;
        run memory();
        run block();
        run supervision();
        run program();
        run audit()
    }
}
