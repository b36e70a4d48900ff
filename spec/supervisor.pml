/*
 * supervisor.pml - supervisor trees (include/ringkernel/supervisor.h,
 * src/core/supervisor.c): restart strategies, restart types, the restart
 * intensity window, giving up and escalating to the parent, rk_kill_tree,
 * with actors failing and being terminated by the program concurrently.
 *
 * Mirrors (src/core/supervisor.c unless noted):
 *   supervision   rk__supervision_main: wait for a notification, then
 *                 rk__scan_once under op_lock until it finds nothing
 *   scan_once     rk__scan_once: supervisors in creation order (parents
 *                 first), children in start order, rk__child_stopped
 *   child_exit    rk__child_exit: restart type, rk__may_restart, strategy
 *   may_restart   rk__may_restart / rk__recent: a ring of the latest
 *                 max_restarts decision times; give up when max_restarts of
 *                 them lie within the window
 *   give_up       rk__give_up: stop the children, Failed, and at a root an
 *                 asynchronous error (escalation to a parent is its scan
 *                 seeing this supervisor Failed)
 *   stop_* start_* rk__stop_children / rk__stop_child / rk__start_children /
 *                 rk__start_child / rk__restart_subtree / rk__release_child
 *   lc_terminate, lc_restart
 *                 rk__lifecycle (src/core/actor.c) under rt->lock, applied
 *                 by the owning worker as rk__apply does
 *                 (src/cpu/cpu_backend.c): terminate drains, restart runs
 *                 init, which may fail
 *   env           workers failing actors (rk__fail: Failed, answer a
 *                 waiting terminate with RK_EFAILED, then rk__async_error ->
 *                 rk__supervision_notify), and time passing
 *   user          the program: rk_terminate of a child (a "normal" exit,
 *                 RK__LC_NOTIFY) and rk_kill_tree (rk__detach, rk__kill_node)
 *   lifecycle_next: generated from lifecycle.h (rk_common.pml)
 *
 * The tree (fixed; strategies chosen by init, all nine pairs):
 *   R (root)           children in start order: A0 permanent,
 *                      S permanent, A1 transient
 *   S (child of R)     children: B0 temporary, B1 permanent
 * so every restart type, a nested supervisor and escalation are present.
 *
 * Bounds (defaults): max_restarts N = 1 per window of W = 2 ticks, time
 * 0 .. TMAX = 2 ticks (so two decisions fall inside one window or not);
 * at most F = 3 failures (of handlers, or of init during a restart); at
 * most one rk_terminate of a child by the program (USER_TERM) and at most
 * one rk_kill_tree(S) (USER_KILL). scripts/spec.sh runs two
 * configurations: all nine strategy pairs without the program's actions,
 * and R rest-for-one / S one-for-all with them and F = 2.
 *
 * Properties (assertions):
 *   S1 intensity: no supervisor decides a restart when N decisions of its
 *      current incarnation already lie within the window (ghost list of
 *      every decision time, independent of the C ring);
 *   S2 it gives up only then: at give-up, N decisions lie in the window;
 *   S3 a supervisor that gives up has every child stopped (Failed or
 *      Terminated) when it enters Failed;
 *   S4 strategies: a one-for-one reaction starts only the exited child; a
 *      one-for-all reaction stops every child (last started first) and
 *      starts each again in start order; rest-for-one the same for the
 *      exited child and those after it (checked on a log of the stops and
 *      starts of each reaction);
 *   S5 nothing is left unhandled: once the environment is done and
 *      supervision idle, every permanent child of an Active supervisor
 *      runs, a transient one runs or ended normally, a temporary one runs
 *      or was removed; a Failed child supervisor has a parent that is not
 *      Active (it escalated), and a Failed root has reported its error;
 *   S6 rk_kill_tree(S): S ends Terminated, detached from R, and none of its
 *      actors runs again;
 *   S7 every state an actor takes is an edge of the lifecycle diagram;
 * and ltl quiescent: supervision always comes to rest (every reaction
 * restarts, counted against the intensity, or gives up); checked without
 * a fairness assumption, in the same run as the assertions.
 *
 * Not modelled: the periodic rescan (notifications are not lost here:
 * rk__supervision_notify and the thread's wait are a counter under one
 * mutex); rk_supervisor_restart; messages and generations (lifecycle.pml);
 * names and subscriptions (rk__retire_tree, rk__rebind), which change no
 * state the properties read.
 */

#include "rk_common.pml"

hidden byte S1, S2, S3, S4, S5, S6, S7;

#ifndef N
#define N 1      /* max_restarts */
#endif
#ifndef W
#define W 2      /* window_ns, in ticks */
#endif
#ifndef TMAX
#define TMAX 2   /* the last tick */
#endif
#ifndef F
#define F 3      /* failures */
#endif
#define MAXDEC (F + 2)
#ifndef USER_TERM
#define USER_TERM 1 /* the program may rk_terminate one child */
#endif
#ifndef USER_KILL
#define USER_KILL 1 /* the program may rk_kill_tree(S) */
#endif

#define RK_ONE_FOR_ONE 0
#define RK_ONE_FOR_ALL 1
#define RK_REST_FOR_ONE 2
#define RK_CHILD_PERMANENT 0
#define RK_CHILD_TRANSIENT 1
#define RK_CHILD_TEMPORARY 2

/* nodes: actors 0..3, supervisors 4 and 5 */
#define A0 0
#define A1 1
#define B0 2
#define B1 3
#define NACT 4
#define R 4
#define S 5
#define SI(s) ((s) - R) /* index of a supervisor in the arrays below */
#define MAXCH 3
#define CI(s, k) (SI(s) * MAXCH + (k))
#define NONE 255

/* ---- actors: control.state (the backends') --------------------------------- */
byte ast[NACT];

/* ---- supervisors (rk__sup) -------------------------------------------------- */
byte sst[2];               /* state: Active, Failed or Terminated */
byte strategy[2];
byte parent_of_s = R;      /* S's parent; NONE once detached */
byte hist[2 * N];          /* the ring of decision times */
byte hist_head[2];
byte hist_n[2];
byte ch_id[2 * MAXCH];     /* children in start order */
byte ch_restart[2 * MAXCH];
bool ch_running[2 * MAXCH];
byte nch[2];

/* ---- time, locks, notifications ------------------------------------------ */
byte now;
bool op_lock;   /* sv->op_lock */
bool rt_lock;   /* rt->lock: lifecycle commands */
byte wakes;     /* sv->wakes (wraps harmlessly: only compared for change) */
bool env_done;
bool user_done;

/* ---- ghosts ------------------------------------------------------------------- */
byte fails_left = F;
byte dec_t[2 * MAXDEC]; /* every decision time of the current incarnation */
byte dec_n[2];
bool root_error;        /* rk__async_error(root, RK_EFAILED) */
bool killed;            /* rk_kill_tree(S) has returned */
byte rlog[8];           /* the reaction's stops (id + 1) and starts (id + 9) */
byte rlog_n;
bool quiet;             /* supervision is at rest for good */

/* S7 */
inline set_ast(id, s)
{
    PROP(S7, ALLOWED_EDGE(ast[id], s));
    ast[id] = s
}

#define RUNNING_STATE(st) ((st) == RK_ACTIVE || (st) == RK_DRAINING || (st) == RK_INITIALIZING)
#define NODE_STATE(id) ((id) >= R -> sst[SI(id)] : ast[id])
#ifdef BUG_NO_ESCALATE
/* the scan ignores a child supervisor's state: a give-up goes unnoticed */
#define SCANNED_STATE(id) ((id) >= R -> RK_ACTIVE : ast[id])
#else
#define SCANNED_STATE(id) NODE_STATE(id)
#endif
#define LOG(v) rlog[rlog_n] = (v); rlog_n++

/* ---- lifecycle commands (rk__lifecycle, applied by the worker) ------------- */

/* rk__lifecycle(id, RK_EV_TERMINATE), first step: under rt->lock the table
 * check and, as the worker's rk__apply does, Active -> Draining. Sets st;
 * on RK_OK the caller must finish it with lc_drained. */
inline lc_terminate(id, st)
{
    !rt_lock -> rt_lock = true;
    lifecycle_next(ast[id], RK_EV_TERMINATE, to, st);
    if
    :: st == RK_OK -> set_ast(id, RK_DRAINING)
    :: else -> rt_lock = false
    fi
}

/* The drain ends: Terminated, or the actor failed while draining and
 * rk__fail answered the terminate with RK_EFAILED. rt->lock is released. */
inline lc_drained(id, st)
{
    atomic {
        if
        :: ast[id] == RK_DRAINING -> set_ast(id, RK_TERMINATED)
        :: ast[id] == RK_FAILED -> st = RK_EFAILED
        fi;
        rt_lock = false
    }
}

/* rk__lifecycle(id, RK_EV_RESTART): generation + 1, Initializing, the
 * type's init, then Active, or Failed (rk__fail, which notifies). One
 * step: Initializing is seen by nobody else here (only the supervision
 * thread, which is busy with this restart, looks at it). */
inline lc_restart(id, st)
{
    !rt_lock -> rt_lock = true;
    lifecycle_next(ast[id], RK_EV_RESTART, to, st);
    if
    :: st == RK_OK ->
        set_ast(id, RK_INITIALIZING);
        if
        :: fails_left > 0 -> fails_left--; set_ast(id, RK_FAILED); wakes++ /* init failed */
        :: true -> set_ast(id, RK_ACTIVE)
        fi
    :: else -> skip
    fi;
    rt_lock = false
}

/* ---- restart intensity --------------------------------------------------------- */

/* rk__may_restart(s): ok when fewer than N of the ring's times lie within
 * the window; then now goes into the ring. */
inline may_restart(s, ok)
{
    d_step {
        cnt = 0; i = 0;
        do
        :: i < hist_n[SI(s)] ->
            if
            :: now - hist[SI(s) * N + (hist_head[SI(s)] + i) % N] < W -> cnt++
            :: else -> skip
            fi;
            i++
        :: else -> break
        od;
#ifdef BUG_WINDOW_OFF_BY_ONE
        ok = !(cnt > N);
#else
        ok = !(cnt >= N);
#endif
        if
        :: ok && hist_n[SI(s)] < N ->
            hist[SI(s) * N + (hist_head[SI(s)] + hist_n[SI(s)]) % N] = now; hist_n[SI(s)]++
        :: ok && hist_n[SI(s)] >= N ->
            hist[SI(s) * N + hist_head[SI(s)]] = now; hist_head[SI(s)] = (hist_head[SI(s)] + 1) % N
        :: else -> skip
        fi;
        /* the ghost: decisions of this incarnation inside the window */
        cnt = 0; i = 0;
        do
        :: i < dec_n[SI(s)] ->
            if
            :: now - dec_t[SI(s) * MAXDEC + i] < W -> cnt++
            :: else -> skip
            fi;
            i++
        :: else -> break
        od;
        if
        :: ok ->
            PROP(S1, cnt < N);
            dec_t[SI(s) * MAXDEC + dec_n[SI(s)]] = now; dec_n[SI(s)]++
        :: else -> PROP(S2, cnt >= N)
        fi;
        cnt = 0; i = 0
    }
}

/* ---- stopping ------------------------------------------------------------------ */

/* rk__stop_child for actor child kk of s: not running any more, and a
 * terminate if it runs (rk__actor_state_now). lg: log it (a child of the
 * reacting supervisor). RK_EFAILED and RK_ETRANSITION: stopped anyway. */
inline stop_actor(s, kk, lg)
{
    atomic {
        ch_running[CI(s, kk)] = false;
        a = ch_id[CI(s, kk)];
        if
        :: lg -> LOG(a + 1)
        :: else -> skip
        fi;
        if
        :: RUNNING_STATE(ast[a]) -> lc_terminate(a, st)
        :: else -> st = RK_ETRANSITION /* Failed or Terminated already */
        fi
    }
    if
    :: st == RK_OK -> lc_drained(a, st)
    :: else -> skip
    fi;
    atomic { a = 0; st = 0; to = 0 }
}

/* rk__stop_children(S, 0): S's children are actors; last started first. */
inline stop_children_S()
{
    k2 = nch[SI(S)];
    do
    :: k2 > 0 -> k2--; stop_actor(S, k2, false)
    :: else -> break
    od
}

/* rk__stop_child (s, k1): for the child supervisor, its children and then
 * Terminated if it was Active. */
inline stop_child(s, kk)
{
    if
    :: ch_id[CI(s, kk)] == S ->
        atomic { ch_running[CI(s, kk)] = false; LOG(S + 1) };
        stop_children_S();
        atomic {
            if
            :: sst[SI(S)] == RK_ACTIVE -> sst[SI(S)] = RK_TERMINATED
            :: else -> skip
            fi
        }
    :: else -> stop_actor(s, kk, true)
    fi
}

/* rk__stop_children(s, from): children [from, n), last started first. */
inline stop_children(s, from)
{
#ifdef BUG_STOP_IN_START_ORDER
    k1 = from;
    do
    :: k1 < nch[SI(s)] -> stop_child(s, k1); k1++
    :: else -> break
    od
#else
    k1 = nch[SI(s)];
    do
    :: k1 > from -> k1--; stop_child(s, k1)
    :: else -> break
    od
#endif
}

/* ---- starting ------------------------------------------------------------------ */

/* rk__drop_child (and rk__release_child's retire): child kk leaves s. */
inline drop_child(s, kk)
{
    d_step {
        if
        :: ch_id[CI(s, kk)] == S -> parent_of_s = NONE
        :: else -> skip
        fi;
        i = kk;
        do
        :: i + 1 < nch[SI(s)] ->
            ch_id[CI(s, i)] = ch_id[CI(s, i + 1)];
            ch_restart[CI(s, i)] = ch_restart[CI(s, i + 1)];
            ch_running[CI(s, i)] = ch_running[CI(s, i + 1)];
            i++
        :: else -> break
        od;
        nch[SI(s)]--;
        ch_id[CI(s, nch[SI(s)])] = 0;
        ch_restart[CI(s, nch[SI(s)])] = 0;
        ch_running[CI(s, nch[SI(s)])] = false;
        i = 0
    }
}

/* rk__start_child for actor child kk of s: running, and a restart (an
 * init that fails leaves it Failed for the next scan). */
inline start_actor(s, kk, lg)
{
    atomic {
        ch_running[CI(s, kk)] = true;
        a = ch_id[CI(s, kk)];
        if
        :: lg -> LOG(a + 9)
        :: else -> skip
        fi;
        lc_restart(a, st);
        a = 0; st = 0; to = 0
    }
}

/* rk__start_children(S, 0) */
inline start_children_S()
{
    k2 = 0;
    do
    :: k2 < nch[SI(S)] && ch_restart[CI(S, k2)] == RK_CHILD_TEMPORARY -> drop_child(S, k2)
    :: k2 < nch[SI(S)] && ch_restart[CI(S, k2)] != RK_CHILD_TEMPORARY -> start_actor(S, k2, false); k2++
    :: else -> break
    od
}

/* rk__restart_subtree(S): generation + 1, a fresh history, Active, and
 * every child started again. */
inline restart_subtree_S()
{
    d_step {
#ifndef BUG_HISTORY_KEPT
        hist_n[SI(S)] = 0; hist_head[SI(S)] = 0;
#endif
        dec_n[SI(S)] = 0; /* the ghost follows the semantics, not the code */
        sst[SI(S)] = RK_ACTIVE
    }
    start_children_S()
}

/* rk__start_child (s, kk) */
inline start_child(s, kk)
{
    if
    :: ch_id[CI(s, kk)] == S ->
        atomic { ch_running[CI(s, kk)] = true; LOG(S + 9) };
        restart_subtree_S()
    :: else -> start_actor(s, kk, true)
    fi
}

/* rk__start_children(s, from): in start order; temporary children leave. */
inline start_children(s, from)
{
    k1 = from;
    do
    :: k1 < nch[SI(s)] && ch_restart[CI(s, k1)] == RK_CHILD_TEMPORARY -> drop_child(s, k1)
    :: k1 < nch[SI(s)] && ch_restart[CI(s, k1)] != RK_CHILD_TEMPORARY -> start_child(s, k1); k1++
    :: else -> break
    od
}

/* ---- reacting ------------------------------------------------------------------- */

/* S3: every child of s stopped. */
inline all_stopped(s)
{
    i = 0;
    do
    :: i < nch[SI(s)] -> PROP(S3, !RUNNING_STATE(NODE_STATE(ch_id[CI(s, i)]))); i++
    :: else -> break
    od;
    i = 0
}

/* rk__give_up(s) */
inline give_up(s)
{
    stop_children(s, 0);
    atomic { all_stopped(s); sst[SI(s)] = RK_FAILED };
    if
    :: s == R -> root_error = true /* rk__retire_tree, rk__async_error */
    :: else -> skip
    fi
}

/* S4, before a reaction of s to its child kk: what the log must hold. */
inline expect_log(s, kk)
{
    d_step {
        i = 0; j = 0;
        from = (strategy[SI(s)] == RK_ONE_FOR_ALL -> 0 : kk);
        if
        :: strategy[SI(s)] == RK_ONE_FOR_ONE -> want[0] = ch_id[CI(s, kk)] + 9; j = 1
        :: else ->
            i = nch[SI(s)];
            do /* stops: last started first */
            :: i > from -> i--; want[j] = ch_id[CI(s, i)] + 1; j++
            :: else -> break
            od;
            i = from;
            do /* starts: in start order, temporary children leave */
            :: i < nch[SI(s)] ->
                if
                :: ch_restart[CI(s, i)] != RK_CHILD_TEMPORARY -> want[j] = ch_id[CI(s, i)] + 9; j++
                :: else -> skip
                fi;
                i++
            :: else -> break
            od
        fi;
        want_n = j; rlog_n = 0; i = 0; j = 0; from = 0
    }
}

/* S4, after the reaction: the log is what was expected; then both go. */
inline check_log()
{
    d_step {
        PROP(S4, rlog_n == want_n);
        i = 0;
        do
        :: i < want_n -> PROP(S4, rlog[i] == want[i]); rlog[i] = 0; want[i] = 0; i++
        :: else -> break
        od;
        rlog_n = 0; want_n = 0; i = 0
    }
}

/* rk__child_exit(s, kk, failed) */
inline child_exit(s, kk, failed)
{
    if
    :: ch_restart[CI(s, kk)] == RK_CHILD_TEMPORARY -> drop_child(s, kk) /* rk__release_child */
    :: ch_restart[CI(s, kk)] == RK_CHILD_TRANSIENT && !failed ->
        ch_running[CI(s, kk)] = false /* a normal exit: it stays down */
    :: else ->
        may_restart(s, ok);
        if
        :: !ok -> give_up(s)
        :: ok ->
            expect_log(s, kk);
            if
            :: strategy[SI(s)] == RK_ONE_FOR_ALL -> stop_children(s, 0); start_children(s, 0)
            :: strategy[SI(s)] == RK_REST_FOR_ONE -> stop_children(s, kk); start_children(s, kk)
            :: strategy[SI(s)] == RK_ONE_FOR_ONE -> start_child(s, kk)
            fi;
            check_log()
        fi
    fi;
    ok = false
}

/* rk__scan_once: the Active supervisors in creation order (parents
 * first), their children in start order; the first child that stopped
 * and failed, or stopped while meant to run, is handled. One step: a scan
 * only reads until it finds such a child, and a child that stops behind
 * the scan's position is found by the next scan exactly as if it had
 * stopped just after this one. Sets found, fs, fk, failed. */
inline scan()
{
    d_step {
        found = false; fs = R;
        do
        :: fs <= S && !found ->
            if
            :: sst[SI(fs)] == RK_ACTIVE ->
                fk = 0;
                do
                :: fk < nch[SI(fs)] && !found ->
                    cst = SCANNED_STATE(ch_id[CI(fs, fk)]);
                    stopped = (cst == RK_FAILED || cst == RK_TERMINATED);
                    failed = (cst == RK_FAILED);
                    if
                    :: !stopped && !ch_running[CI(fs, fk)] ->
                        ch_running[CI(fs, fk)] = true; fk++ /* restarted by hand: watched again */
#ifdef BUG_SCAN_ONLY_FAILED
                    :: stopped && failed -> found = true
#else
                    :: stopped && (failed || ch_running[CI(fs, fk)]) -> found = true
#endif
                    :: else -> fk++
                    fi
                :: else -> break
                od
            :: else -> skip
            fi;
            if
            :: !found -> fs++
            :: else -> skip
            fi
        :: else -> break
        od;
        cst = 0; stopped = false;
        if
        :: !found -> fs = 0; fk = 0; failed = false
        :: else -> skip
        fi
    }
}

/* S5 and S6, at rest. */
inline nothing_left()
{
    atomic {
        s = R;
        do
        :: s <= S ->
            if
            :: sst[SI(s)] == RK_ACTIVE ->
                i = 0;
                do
                :: i < nch[SI(s)] ->
                    cst = NODE_STATE(ch_id[CI(s, i)]);
                    if
                    :: ch_restart[CI(s, i)] == RK_CHILD_PERMANENT -> PROP(S5, cst == RK_ACTIVE)
                    :: ch_restart[CI(s, i)] == RK_CHILD_TRANSIENT ->
                        PROP(S5, cst == RK_ACTIVE || cst == RK_TERMINATED && !ch_running[CI(s, i)])
                    :: ch_restart[CI(s, i)] == RK_CHILD_TEMPORARY -> PROP(S5, cst == RK_ACTIVE)
                    fi;
                    i++
                :: else -> break
                od
            :: else -> skip
            fi;
            s++
        :: else -> break
        od;
        PROP(S5, sst[SI(S)] != RK_FAILED || parent_of_s == NONE || sst[SI(R)] != RK_ACTIVE);
        PROP(S5, sst[SI(R)] != RK_FAILED || root_error);
        if /* S6 */
        :: killed ->
            PROP(S6, sst[SI(S)] == RK_TERMINATED && parent_of_s == NONE);
            PROP(S6, !RUNNING_STATE(ast[B0]) && !RUNNING_STATE(ast[B1]))
        :: else -> skip
        fi
    }
}

/* The supervision thread: rk__supervision_main. */
proctype supervision()
{
    byte seen, s, fs, fk, k1, k2, a, st, to, cst, cnt, i, j, from, want_n;
    byte want[8];
    bool found, stopped, failed, ok;
    do
    :: atomic { (wakes != seen || env_done && user_done) -> seen = wakes }
        atomic { !op_lock -> op_lock = true }
        do /* while (rk__scan_once(rt)) */
        :: scan();
            if
            :: found -> child_exit(fs, fk, failed); atomic { fs = 0; fk = 0; failed = false }
            :: else -> break
            fi
        od;
        atomic {
            op_lock = false;
            if
            :: env_done && user_done && wakes == seen -> quiet = true
            :: else -> skip
            fi
        };
        if
        :: quiet -> break
        :: else -> skip
        fi
    od;
    nothing_left()
}

/* Workers failing actors (rk__fail: the state, then the notification) and
 * time passing, until the environment chooses to stop. */
#define FAILABLE(id) (ast[id] == RK_ACTIVE || ast[id] == RK_DRAINING)

proctype env()
{
    byte id;
    do
    :: atomic {
           fails_left > 0 && (FAILABLE(A0) || FAILABLE(A1) || FAILABLE(B0) || FAILABLE(B1)) ->
           if
           :: FAILABLE(A0) -> id = A0
           :: FAILABLE(A1) -> id = A1
           :: FAILABLE(B0) -> id = B0
           :: FAILABLE(B1) -> id = B1
           fi;
           fails_left--;
#ifdef BUG_NOTIFY_BEFORE_STATE
           wakes++
       };
       atomic {
           if
           :: FAILABLE(id) -> set_ast(id, RK_FAILED)
           :: else -> skip
           fi;
           id = 0
       }
#else
           set_ast(id, RK_FAILED)
       };
       atomic { wakes++; id = 0 } /* rk__async_error -> rk__supervision_notify */
#endif
    :: now < TMAX -> now++
    :: break
    od;
    env_done = true
}

/* The program: perhaps an rk_terminate of one child actor (a normal exit;
 * rk_terminate notifies supervision), then perhaps rk_kill_tree(S). */
proctype user()
{
    byte a = NONE, st, to, k2, i;
    if /* rk_terminate of one child actor, or none */
    :: skip
#if USER_TERM
    :: a = A0
    :: a = A1
    :: a = B0
    :: a = B1
#endif
    fi;
    if
    :: a != NONE ->
        atomic { lc_terminate(a, st) };
        if
        :: st == RK_OK ->
            lc_drained(a, st);
            if
            :: st == RK_OK -> wakes++ /* RK__LC_NOTIFY */
            :: else -> skip
            fi
        :: else -> skip
        fi
    :: else -> skip
    fi;
    atomic { a = 0; st = 0; to = 0 };
    if
    :: skip
#if USER_KILL
    :: /* rk_kill_tree(S) */
        atomic { !op_lock -> op_lock = true };
        d_step { /* rk__detach */
            i = 0;
            do
            :: i < nch[SI(R)] && ch_id[CI(R, i)] != S -> i++
            :: else -> break
            od
        }
#ifndef BUG_KILL_NO_DETACH
        if
        :: i < nch[SI(R)] -> drop_child(R, i)
        :: else -> skip
        fi;
#endif
        i = 0;
        k2 = nch[SI(S)];
        do /* rk__kill_node(S): its children, last started first */
        :: k2 > 0 ->
            atomic {
                k2--;
                ch_running[CI(S, k2)] = false;
                a = ch_id[CI(S, k2)];
                if
                :: RUNNING_STATE(ast[a]) -> lc_terminate(a, st)
                :: else -> st = RK_ETRANSITION
                fi
            }
            if
            :: st == RK_OK -> lc_drained(a, st)
            :: else -> skip
            fi;
            atomic { a = 0; st = 0; to = 0 }
        :: else -> break
        od;
        atomic { sst[SI(S)] = RK_TERMINATED; killed = true; op_lock = false }
#endif
    fi;
    user_done = true
}

init
{
    atomic {
#ifdef RSTRAT
        strategy[SI(R)] = RSTRAT;
#else
        if
        :: strategy[SI(R)] = RK_ONE_FOR_ONE
        :: strategy[SI(R)] = RK_ONE_FOR_ALL
        :: strategy[SI(R)] = RK_REST_FOR_ONE
        fi;
#endif
#ifdef SSTRAT
        strategy[SI(S)] = SSTRAT;
#else
        if
        :: strategy[SI(S)] = RK_ONE_FOR_ONE
        :: strategy[SI(S)] = RK_ONE_FOR_ALL
        :: strategy[SI(S)] = RK_REST_FOR_ONE
        fi;
#endif
        /* rk_supervisor_create, rk_supervisor_start_child: all Active */
        ast[A0] = RK_ACTIVE; ast[A1] = RK_ACTIVE; ast[B0] = RK_ACTIVE; ast[B1] = RK_ACTIVE;
        sst[SI(R)] = RK_ACTIVE; sst[SI(S)] = RK_ACTIVE;
        ch_id[CI(R, 0)] = A0; ch_restart[CI(R, 0)] = RK_CHILD_PERMANENT;
        ch_id[CI(R, 1)] = S;  ch_restart[CI(R, 1)] = RK_CHILD_PERMANENT;
        ch_id[CI(R, 2)] = A1; ch_restart[CI(R, 2)] = RK_CHILD_TRANSIENT;
        nch[SI(R)] = 3;
        ch_id[CI(S, 0)] = B0; ch_restart[CI(S, 0)] = RK_CHILD_TEMPORARY;
        ch_id[CI(S, 1)] = B1; ch_restart[CI(S, 1)] = RK_CHILD_PERMANENT;
        nch[SI(S)] = 2;
        ch_running[CI(R, 0)] = true; ch_running[CI(R, 1)] = true; ch_running[CI(R, 2)] = true;
        ch_running[CI(S, 0)] = true; ch_running[CI(S, 1)] = true;
        run supervision();
        run env();
        run user()
    }
}

ltl quiescent { <> quiet }
