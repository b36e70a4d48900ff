/*
 * lifecycle.pml - one actor of the CPU backend through its lifecycle:
 * lifecycle commands from the host, restarts with generations, termination
 * by draining, messages from concurrent senders, and runtime shutdown.
 *
 * Mirrors (src/cpu/cpu_backend.c unless noted):
 *   worker        rk__worker_main: commands first (rk__run_commands), then
 *                 the actor's turn (rk__run_actor), then park until
 *                 rk__has_work (the parker loses no wake-up; the eventcount
 *                 in src/cpu/parker.c is not modelled)
 *   apply         rk__apply with rk__run_commands' rk__ack
 *   start_actor   rk__start_actor (the type's init may fail: rk__fail)
 *   run_actor     rk__run_actor: handle ready messages (or dead-letter them
 *                 once Terminated), then finish a pending terminate when
 *                 the inbox is empty
 *   handle        rk__handle: a message whose dst_gen is set and is not the
 *                 current generation is dead-lettered (RK_ESTALE); a handler
 *                 error fails the actor (rk__fail)
 *   sender        an actor on another worker: rk__ctx_emit -> rk__route
 *                 (src/core/actor.c: accepting, state, generation) ->
 *                 rk__cpu_deliver / rk__cpu_push
 *   command       rk__lifecycle (src/core/actor.c, behind rk_activate and
 *                 the other commands): the table check against
 *                 the state it reads, then rk__post and the wait for the ack
 *   init          rk_launch, NCMD commands, then rk_runtime_shutdown
 *                 (src/core/runtime.c): accepting = 0, rk__cpu_drain,
 *                 rk__stop_workers, rk__cpu_stop (dead-letters what is left
 *                 and answers a pending terminate with RK_ESHUTDOWN)
 *   lifecycle_next, ACCEPTS, RUNS: generated from lifecycle.h (rk_common.pml)
 * The inbox (an MPSC ring: ring_mpsc.pml checks it) is a channel; what
 * matters here is that a sender's route checks and its push are separate
 * steps, so the actor can change state or generation in between.
 *
 * Granularity: each load or store of a word another thread uses is its own
 * step (state, generation, accepting, the inbox); work private to a thread
 * and ghost bookkeeping are folded into the neighbouring step.
 *
 * The host's deadline (5 s in rk__post) is modelled by SPIN's `timeout`:
 * the host stops waiting only when nothing else can move, i.e. when the
 * command would never be answered. That assumes handlers and init finish
 * well within 5 s; SLOW_DRAIN drops the assumption and lets the
 * deadline pass at any time.
 *
 * Bounds (defaults): one actor with an inbox of ICAP = 2, NSEND = 1 sender
 * with MPER = 2 messages, NCMD = 3 host commands after the create,
 * each any of deactivate / activate / terminate / restart (so every
 * sequence of three, including restart after terminate and terminate while
 * draining), at most MAXFAIL = 1 failure (of init or of a handler).
 *
 * Properties (assertions):
 *   L1 a message addressed to a generation (dst_gen != 0) is never handled
 *      by another incarnation: a ghost counter of incarnations, bumped by
 *      every restart whatever the code does with the generation, tells
 *      them apart;
 *   L2 every state stored is an edge of the lifecycle diagram
 *      (ALLOWED_EDGE in rk_common.pml);
 *   L3 the actor becomes Terminated only while the latest command the
 *      worker applied is a terminate;
 *   L4 the host never waits in vain: every command it posts is answered
 *      (the model's deadline fires only when nothing else can move);
 *   L5 messages queued when a terminate was applied are handled (drained),
 *      never dead-lettered as late arrivals, unless a failure or restart
 *      intervenes;
 *   L6 every message a sender tried to send is refused to it, handled or
 *      dead-lettered: exactly one of them (at most one: asserted as each
 *      happens; at least one: checked after shutdown);
 * and ltl shutdown_completes: every run ends with the runtime shut down
 * (every command is answered, the drain ends, the workers stop). It holds
 * without a fairness assumption, and scripts/spec.sh checks it so; that
 * run also checks the assertions, and a run that stops short of shut_done
 * violates the formula, so it covers deadlocks too.
 */

#include "rk_common.pml"

hidden byte L1, L2, L3, L4, L5, L6;

#define ICAP 2
#ifndef NSEND
#define NSEND 1
#endif
#ifndef MPER
#define MPER 2
#endif
#ifndef NCMD
#define NCMD 3
#endif
#define NMSG (NSEND * MPER)
#define MAXFAIL 1

#if NMSG > 8
#error "message ids are bits of a byte"
#endif

/* ---- the actor: control block and backend state ---------------------------- */
byte state = RK_DORMANT;         /* control.state */
byte generation = 1;             /* control.generation */
byte ca_terminate;               /* ca->terminate: command number + 1, 0 for NULL */
chan inbox = [ICAP] of { byte, byte, byte }; /* dst_gen, ghost incarnation, ghost id */

/* ---- runtime ------------------------------------------------------------------ */
bool accepting = true; /* rt->accepting */
bool stop;             /* w->stop */
bool worker_exited;
byte senders_running;

/* ---- commands: the worker's queue (rk__cpu_cmd) ---------------------------- */
chan cmdq = [NCMD + 1] of { byte };
byte cmd_ev[NCMD + 1];
bool cmd_done[NCMD + 1]; /* cmd->done (the result itself is not needed) */

/* ---- ghosts ------------------------------------------------------------------ */
byte incarnation = 1;       /* bumped by every restart */
byte last_cmd = RK_EV_NONE; /* the latest command the worker applied */
byte fate[NMSG];
byte attempted;   /* bit per message id: its sender tried */
byte in_inbox;    /* bit per message id: in the inbox now */
byte must_handle; /* ids queued when the pending terminate was applied */
byte fails;
bool shut_done;

inline set_state(s)
{
    PROP(L2, ALLOWED_EDGE(state, s));
    state = s
}

inline set_fate(id, f)
{
    PROP(L6, fate[id] == F_NONE); /* at most one fate */
    fate[id] = f
}

/* rk__ack: the host only needs to know it came. */
#define ACK(c) cmd_done[c] = true

/* rk__fail, when the budget of failures allows one: Failed, and a
 * terminate waiting for the drain is answered (RK_EFAILED), since a Failed
 * actor never drains. BUG_FAIL_KEEPS_TERMINATE leaves it waiting, as the
 * code did before that answer was added. */
#define CAN_FAIL (fails < MAXFAIL)
#ifdef BUG_FAIL_KEEPS_TERMINATE
#define FAIL fails++; set_state(RK_FAILED)
#else
#define FAIL \
    fails++; set_state(RK_FAILED); \
    if \
    :: ca_terminate != 0 -> ACK(ca_terminate - 1); ca_terminate = 0 \
    :: else -> skip \
    fi
#endif

/* rk__start_actor for command c, then its ack: Initializing, the type's
 * init, then Active, or Failed with RK_EHANDLER. */
inline start_actor(c)
{
    atomic { set_state(RK_INITIALIZING) };
    atomic {
        if
        :: CAN_FAIL -> FAIL
        :: true -> set_state(RK_ACTIVE)
        fi;
        ACK(c)
    }
}

/* rk__apply for command c (the worker holds it), with rk__run_commands'
 * ack. A terminate that starts draining is acknowledged later, by
 * run_actor, or by a restart or the shutdown. */
inline apply(c)
{
    atomic {
        lifecycle_next(state, cmd_ev[c], to, st);
#ifndef BUG_STALE_TERMINATE
        if /* a terminate in force refuses activate and deactivate (default branch) */
        :: st == RK_OK && ca_terminate != 0 && (cmd_ev[c] == RK_EV_ACTIVATE || cmd_ev[c] == RK_EV_DEACTIVATE) ->
            st = RK_ESTATE
        :: else -> skip
        fi;
#endif
        if
        :: st != RK_OK -> ACK(c) /* RK_ETRANSITION, RK_ESTATE */
        :: else ->
            last_cmd = cmd_ev[c];
            if
            :: cmd_ev[c] == RK_EV_CREATE || cmd_ev[c] == RK_EV_RESTART -> skip /* below */
            :: cmd_ev[c] == RK_EV_TERMINATE && ca_terminate != 0 ->
                ACK(c) /* RK_ESTATE: already terminating, only one waits */
            :: cmd_ev[c] == RK_EV_TERMINATE && ca_terminate == 0 ->
#ifdef BUG_TERMINATE_SKIPS_DRAINING
                if
                :: len(inbox) == 0 -> set_state(RK_TERMINATED); ACK(c)
                :: else ->
#endif
                set_state(RK_DRAINING);
                ca_terminate = c + 1;
                must_handle = in_inbox
#ifdef BUG_TERMINATE_SKIPS_DRAINING
                fi
#endif
            :: cmd_ev[c] != RK_EV_CREATE && cmd_ev[c] != RK_EV_RESTART &&
               cmd_ev[c] != RK_EV_TERMINATE -> set_state(to); ACK(c)
            fi
        fi
    }
    if
    :: st == RK_OK && cmd_ev[c] == RK_EV_RESTART ->
        atomic {
            if /* the terminate it overrides is answered RK_ESTATE */
            :: ca_terminate != 0 -> ACK(ca_terminate - 1); ca_terminate = 0
            :: else -> skip
            fi;
#ifndef BUG_NO_GEN_BUMP
            generation++; /* rk__ctl_store32(&control.generation, + 1) */
#endif
            incarnation++;
            must_handle = 0
        }
        start_actor(c)
    :: st == RK_OK && cmd_ev[c] == RK_EV_CREATE -> start_actor(c)
    :: else -> skip
    fi
}

/* rk__handle for message id (dst_gen dg, ghost incarnation gi), inside the
 * step that took it off the inbox. Sets go: whether the actor goes on. */
inline handle(dg, gi, id, go)
{
    go = true;
#ifndef BUG_NO_GEN_CHECK
    if
    :: dg != 0 && dg != generation -> set_fate(id, F_DEAD) /* RK_ESTALE */
    :: else ->
#endif
        PROP(L1, dg == 0 || gi == incarnation);
        set_fate(id, F_HANDLED);
        must_handle = must_handle & ~(1 << id);
        if
        :: CAN_FAIL -> FAIL; go = false /* the handler's error: rk__fail */
        :: true -> skip
        fi
#ifndef BUG_NO_GEN_CHECK
    fi
#endif
}

/* rk__run_actor with any budget (32 in C): sets n to the messages taken. */
inline run_actor(n)
{
    atomic { s = state; dead = (s == RK_TERMINATED); n = 0 };
    if
    :: !dead && !RUNS(s) -> skip
    :: else ->
        do
        :: atomic {
               inbox?dg, gi, id ->
               in_inbox = in_inbox & ~(1 << id);
               if
               :: dead ->
                   PROP(L5, !(must_handle & (1 << id)));
                   set_fate(id, F_DEAD); /* a late arrival: RK_ESTATE */
                   go = true
               :: else -> handle(dg, gi, id, go)
               fi;
               n++;
               dg = 0; gi = 0; id = 0
           };
           if
           :: !go -> break
           :: else -> skip
           fi
        :: n > 0 -> break /* the budget is spent */
        :: (len(inbox) == 0) -> break /* rk_ring_ready found nothing */
        :: stop -> break
        od;
        atomic {
            if
#ifdef BUG_TERMINATE_EARLY
            :: ca_terminate != 0 && state == RK_DRAINING ->
#else
            :: ca_terminate != 0 && state == RK_DRAINING && (len(inbox) == 0) ->
#endif
                PROP(L3, last_cmd == RK_EV_TERMINATE);
                set_state(RK_TERMINATED);
                ACK(ca_terminate - 1);
                ca_terminate = 0
            :: else -> skip
            fi;
            s = 0; dead = false; go = false
        }
    fi
}

/* rk__has_work, for the park */
#define HAS_WORK ((len(cmdq) > 0) || stop || ((RUNS(state) || state == RK_TERMINATED) && (len(inbox) > 0)))

proctype worker()
{
    byte c, to, st, s, n, dg, gi, id;
    bool dead, go;
    do
    :: stop -> break
    :: !stop ->
        do /* rk__run_commands */
        :: cmdq?c -> apply(c); atomic { c = 0; to = 0; st = 0 }
        :: (len(cmdq) == 0) -> break
        od;
        run_actor(n);
        atomic { (n > 0 || HAS_WORK); n = 0 } /* else parked until woken */
    od;
    worker_exited = true
}

/* An actor on another worker that sends MPER messages to this one, each
 * with no generation (rk_ctx_send) or one it learnt earlier (a reply's
 * dst_gen is its request's src_gen). */
proctype sender(byte me)
{
    byte k, id, dg, gi;
    bool ok;
    do
    :: stop -> break
    :: k == MPER -> break
    :: !stop && k < MPER ->
        atomic {
            id = me * MPER + k;
            attempted = attempted | (1 << id);
            k++;
            if
            :: dg = generation; gi = incarnation /* learnt from a reply */
            :: dg = 0; gi = 0
            fi
        }
        /* rk__route: accepting, then the state, then the generation */
        atomic {
            if
            :: !accepting -> set_fate(id, F_REFUSED); ok = false /* RK_ESHUTDOWN */
            :: else -> ok = true
            fi
        }
        if
        :: ok ->
            atomic {
                if
                :: state == RK_FAILED -> set_fate(id, F_REFUSED); ok = false /* RK_EFAILED */
                :: !ACCEPTS(state) && state != RK_FAILED ->
                    set_fate(id, F_REFUSED); ok = false /* RK_ESTATE */
                :: else -> skip
                fi
            }
        :: else -> skip
        fi;
        if
        :: ok && dg != 0 ->
            atomic {
                if
                :: dg != generation -> set_fate(id, F_REFUSED); ok = false /* RK_ESTALE */
                :: else -> skip
                fi
            }
        :: else -> skip
        fi;
        /* rk__cpu_deliver -> rk__cpu_push */
        atomic {
            if
            :: ok && len(inbox) == ICAP -> set_fate(id, F_REFUSED) /* RK_EFULL */
            :: ok && len(inbox) < ICAP -> inbox!dg, gi, id; in_inbox = in_inbox | (1 << id)
            :: else -> skip
            fi;
            id = 0; dg = 0; gi = 0; ok = false
        }
    od;
    senders_running--
}

/* rk__lifecycle(ev) as command number nc: it reads the state and
 * checks the table, rk__post queues the command, the host waits. */
inline command(ev)
{
    atomic { lifecycle_next(state, ev, to, st) };
    if
    :: st == RK_OK ->
        atomic { cmd_ev[nc] = ev; cmdq!nc }
        if
        :: cmd_done[nc] -> skip
        :: timeout -> PROP(L4, false) /* nothing will ever answer it */
#ifdef SLOW_DRAIN
        :: !cmd_done[nc] -> skip /* the 5 s deadline passed: RK_ETIMEDOUT */
#endif
        fi
    :: else -> skip /* refused by the table: RK_ETRANSITION */
    fi;
    nc++
}

init
{
    byte nc, to, st, ev, i, dg, gi, id;
    atomic {
        run worker();
        senders_running = NSEND;
        i = 0;
        do
        :: i < NSEND -> run sender(i); i++
        :: else -> break
        od;
        i = 0
    }
    command(RK_EV_CREATE); /* rk_launch */
    do
    :: nc <= NCMD ->
        if
        :: ev = RK_EV_DEACTIVATE
        :: ev = RK_EV_ACTIVATE
        :: ev = RK_EV_TERMINATE
        :: ev = RK_EV_RESTART
        fi;
        command(ev);
        atomic { ev = 0; st = 0; to = 0 }
    :: nc > NCMD -> break
    od;
    /* rk_runtime_shutdown */
    accepting = false;
    if /* rk__cpu_drain: until no running actor has queued messages, or the deadline */
    :: !(RUNS(state) && (len(inbox) > 0)) -> skip
    :: timeout -> skip
    fi;
    stop = true; /* rk__stop_workers: stop, wake, join (the senders' workers too) */
    (worker_exited && senders_running == 0);
    /* rk__cpu_stop: what is left in the inbox was not handled */
    do
    :: inbox?dg, gi, id -> in_inbox = in_inbox & ~(1 << id); set_fate(id, F_DEAD) /* RK_ESHUTDOWN */
    :: (len(inbox) == 0) -> break
    od;
    if
    :: ca_terminate != 0 -> ACK(ca_terminate - 1); ca_terminate = 0 /* RK_ESHUTDOWN */
    :: else -> skip
    fi;
    i = 0;
    do /* L6: at least one fate for every message a sender tried */
    :: i < NMSG -> PROP(L6, fate[i] != F_NONE || !(attempted & (1 << i))); i++
    :: else -> break
    od;
    shut_done = true
}

ltl shutdown_completes { <> shut_done }
