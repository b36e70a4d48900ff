/*
 * k2k.pml - actor-to-actor (K2K) and host-to-actor delivery in the CPU
 * backend, with tenant checks, dead letters, an actor terminated or failing
 * on the way, and the end of the runtime (drain, stop, sweep) racing with
 * senders.
 *
 * Mirrors:
 *   sender       an actor's handler sending: rk__ctx_emit
 *                (src/cpu/cpu_backend.c) sets the message's tenant to the
 *                sender's; rk__route (src/core/actor.c) checks accepting,
 *                the tenant, the state; rk__cpu_deliver / rk__cpu_push
 *                (RK_EFULL when the inbox has no room)
 *   host_sender  a host thread in rk_send_msg (src/core/hostq.c): rk__enter
 *                (src/core/runtime_internal.h: inflight++ then a load of
 *                accepting, both seq_cst), rk__route, ops->send, rk__leave.
 *                The host names the tenant itself (rk_send uses the
 *                destination's; rk_send_msg takes the caller's)
 *   worker       rk__worker_main for the two receivers it owns:
 *                rk__run_commands (a terminate), rk__run_actor, rk__handle
 *   dead letters rk__dead_letter (src/core/deadletter.c): late arrivals at a
 *                Terminated actor (RK_ESTATE) and, in rk__cpu_stop, what is
 *                left in the inboxes once the workers are joined
 *                (RK_ESHUTDOWN)
 *   init         rk_terminate of B or C or nothing, then
 *                rk_runtime_shutdown (src/core/runtime.c): accepting = 0
 *                (seq_cst), wait for inflight == 0, rk__cpu_drain,
 *                rk__stop_workers, rk__cpu_stop
 * Inboxes are channels (ring_mpsc.pml checks the ring); a sender's checks
 * and its push are separate steps. Generations are lifecycle.pml's
 * subject and left out here.
 *
 * Actors: A (tenant 1) and D (tenant 2) send, each from its own worker;
 * B (tenant 1) and C (tenant 2) receive, both owned by a third worker.
 *
 * Bounds (defaults): NSENDERS = 1 (A only: D is A's mirror image, and a
 * second sender multiplies the states by ten) sending MPER = 2 messages,
 * each to B or to C (so same-tenant and cross-tenant sends); one host
 * message to B or C under tenant 1 or 2 (WITH_HOST); inboxes of ICAP = 2;
 * an optional rk_terminate of B or C; at most MAXFAIL = 1 handler failure;
 * then shutdown.
 *
 * Properties (assertions):
 *   D1 no cross-tenant delivery: a handler only runs on messages whose
 *      tenant field is its own and, for actor senders, whose sender's
 *      tenant (a ghost, independent of the field) is its own;
 *   D2 every message is refused to its sender with a status, handled, or
 *      dead-lettered: exactly one of them (at most one: asserted as each
 *      happens; at least one: checked once every thread has finished);
 *   D3 every state stored is an edge of the lifecycle diagram;
 * and ltl shutdown_completes: every run ends shut down (checked without a
 * fairness assumption; the run also checks the assertions).
 *
 * The drain's deadline is SPIN's `timeout`, as in lifecycle.pml; the
 * host's wait for its terminate has none, so a terminate left unanswered
 * shows as an invalid end state.
 */

#include "rk_common.pml"

hidden byte D1, D2, D3;

#define ICAP 2
#ifndef MPER
#define MPER 2
#endif
#ifndef NSENDERS
#define NSENDERS 1 /* A, or A and D (the mirror image of A) */
#endif
#ifndef WITH_HOST
#define WITH_HOST 1
#endif
#define NMSG (2 * MPER + 1) /* A's, D's and the host's */
#define HOST_ID (2 * MPER)
#define NACT 4
#define A 0
#define B 1
#define C 2
#define D 3
#define HOST_T 0 /* ghost sender tenant of the host: it speaks for any */
#define MAXFAIL 1

#if NMSG > 8
#error "message ids are bits of a byte"
#endif

byte tenant[NACT];  /* rk__actor.tenant, fixed at launch */
byte state[NACT];   /* control.state (A and D only run) */
/* the inboxes of B and C: tenant field, ghost sender tenant, ghost id */
chan inbox[2] = [ICAP] of { byte, byte, byte };
#define INBOX(a) inbox[(a) - B]

byte term_pending; /* ca->terminate of B or C, as the actor id + 1 */
chan cmdq = [1] of { byte };
bool cmd_done;

bool accepting = true; /* rt->accepting */
byte inflight;         /* rt->inflight */
#ifdef BUG_ENTER_NOT_SC
bool inflight_pending; /* the host's increment, not yet visible */
#endif
bool stop;
bool worker_exited;
byte senders_running; /* A's and D's handlers, on their workers */
bool host_done;       /* the host thread has left rk_send_msg */

byte fate[NMSG];
byte attempted; /* bit per message id */
byte fails;
bool shut_done;

inline set_fate(id, f)
{
    PROP(D2, fate[id] == F_NONE); /* at most one fate */
    fate[id] = f
}

inline set_state(a, s)
{
    PROP(D3, ALLOWED_EDGE(state[a], s));
    state[a] = s
}

/* rk__route then rk__cpu_deliver, for message id with tenant field t and
 * ghost sender tenant gt, to actor dst. Uses local ok. */
inline route_and_push(id, t, gt, dst)
{
    atomic { /* rk__route: accepting (acquire load) */
        ok = accepting;
        if
        :: !ok -> set_fate(id, F_REFUSED) /* RK_ESHUTDOWN */
        :: else -> skip
        fi
    }
#ifndef BUG_NO_TENANT_CHECK
    if /* m->tenant != dst->tenant (both fixed: no shared access) */
    :: ok && t != tenant[dst] -> atomic { set_fate(id, F_REFUSED); ok = false } /* RK_ETENANT */
    :: else -> skip
    fi;
#endif
    if
    :: ok ->
        atomic { /* the destination's state */
            if
            :: state[dst] == RK_FAILED -> set_fate(id, F_REFUSED); ok = false /* RK_EFAILED */
            :: !ACCEPTS(state[dst]) && state[dst] != RK_FAILED ->
                set_fate(id, F_REFUSED); ok = false /* RK_ESTATE */
            :: else -> skip
            fi
        }
    :: else -> skip
    fi;
    atomic { /* rk__cpu_push */
        if
        :: ok && len(INBOX(dst)) == ICAP -> set_fate(id, F_REFUSED) /* RK_EFULL */
        :: ok && len(INBOX(dst)) < ICAP -> INBOX(dst)!t, gt, id
        :: else -> skip
        fi;
        ok = false
    }
}

/* The handler of actor `me` (A or D) sending MPER messages. */
proctype sender(byte me)
{
    byte k, id, dst;
    bool ok;
    do
    :: stop -> break
    :: k == MPER -> break
    :: !stop && k < MPER ->
        atomic {
            id = (me == A -> 0 : MPER) + k;
            attempted = attempted | (1 << id);
            k++;
            if
            :: dst = B
            :: dst = C
            fi
        }
        route_and_push(id, tenant[me], tenant[me], dst); /* rk__ctx_emit */
        atomic { id = 0; dst = 0 }
    od;
    senders_running--
}

/* A host thread in rk_send_msg, naming tenant 1 or 2, to B or C. */
proctype host_sender()
{
    byte t, dst;
    bool ok;
    atomic {
        attempted = attempted | (1 << HOST_ID);
        if
        :: dst = B
        :: dst = C
        fi;
        if
        :: t = 1
        :: t = 2
        fi
    }
    /* rk__enter */
#ifdef BUG_ENTER_NOT_SC
    /* without seq_cst the increment may become visible after the loads
     * that follow it (store-load reordering) */
    inflight_pending = true;
#else
    inflight++;
#endif
    atomic {
        if
        :: !accepting -> set_fate(HOST_ID, F_REFUSED); ok = false /* RK_ESHUTDOWN */
        :: else -> ok = true
        fi
    }
    if
    :: ok ->
        route_and_push(HOST_ID, t, HOST_T, dst);
#ifdef BUG_ENTER_NOT_SC
        atomic { inflight_pending -> inflight++; inflight_pending = false }
#endif
        inflight-- /* rk__leave */
    :: else ->
#ifdef BUG_ENTER_NOT_SC
        atomic { inflight_pending -> inflight_pending = false } /* the increment and the decrement */
#else
        inflight--
#endif
    fi;
    host_done = true
}

/* rk__handle for actor a (generations: lifecycle.pml). */
inline handle(a, t, gt, id)
{
    PROP(D1, t == tenant[a] && (gt == tenant[a] || gt == HOST_T));
    set_fate(id, F_HANDLED);
    if
    :: fails < MAXFAIL -> /* rk__fail: a waiting terminate is answered RK_EFAILED */
        fails++; set_state(a, RK_FAILED);
        if
        :: term_pending == a + 1 -> cmd_done = true; term_pending = 0
        :: else -> skip
        fi
    :: true -> skip
    fi
}

/* rk__run_actor for actor a, any budget (32 in C): m counts this turn's
 * messages, n the worker's round. */
inline run_actor(a)
{
    atomic { s = state[a]; dead = (s == RK_TERMINATED); m = 0 };
    if
    :: !dead && !RUNS(s) -> skip
    :: else ->
        do
        :: atomic {
               INBOX(a)?t, gt, id ->
               if
               :: dead -> set_fate(id, F_DEAD) /* a late arrival: RK_ESTATE */
               :: else -> handle(a, t, gt, id)
               fi;
               n++; m++;
               t = 0; gt = 0; id = 0
           };
           if
           :: state[a] == RK_FAILED -> break
           :: else -> skip
           fi
        :: m > 0 -> break                /* the budget is spent */
        :: len(INBOX(a)) == 0 -> break  /* nothing is ready */
        :: stop -> break
        od;
        atomic {
            if
            :: term_pending == a + 1 && state[a] == RK_DRAINING && len(INBOX(a)) == 0 ->
                set_state(a, RK_TERMINATED);
                cmd_done = true;
                term_pending = 0
            :: else -> skip
            fi
        }
    fi;
    atomic { s = 0; dead = false; m = 0 }
}

#define HAS_WORK_OF(a) ((RUNS(state[a]) || state[a] == RK_TERMINATED) && len(INBOX(a)) > 0)

proctype worker()
{
    byte c, s, n, m, t, gt, id;
    bool dead;
    do
    :: stop -> break
    :: !stop ->
        if /* rk__run_commands: a terminate of B or C */
        :: atomic {
               cmdq?c ->
               if
               :: RUNS(state[c]) && term_pending == 0 ->
                   set_state(c, RK_DRAINING); term_pending = c + 1
               :: else -> cmd_done = true /* RK_ETRANSITION or RK_ESTATE */
               fi;
               c = 0
           }
        :: len(cmdq) == 0 -> skip
        fi;
        run_actor(B);
        run_actor(C);
        atomic { (n > 0 || len(cmdq) > 0 || stop || HAS_WORK_OF(B) || HAS_WORK_OF(C)); n = 0 } /* park */
    od;
    worker_exited = true
}

init
{
    byte i, t, gt, id;
    atomic {
        tenant[A] = 1; tenant[B] = 1; tenant[C] = 2; tenant[D] = 2;
        state[A] = RK_ACTIVE; state[B] = RK_ACTIVE; state[C] = RK_ACTIVE; state[D] = RK_ACTIVE;
        senders_running = NSENDERS;
        run worker();
        run sender(A);
#if NSENDERS > 1
        run sender(D);
#endif
#if WITH_HOST
        run host_sender()
#else
        host_done = true
#endif
    }
    if /* rk_terminate of B or C, or none; the host waits for the answer
        * (never in vain: an unanswered terminate is an invalid end state) */
    :: cmdq!B; cmd_done
    :: cmdq!C; cmd_done
    :: skip
    fi;
    /* rk_runtime_shutdown */
    accepting = false;
#ifndef BUG_NO_INFLIGHT_WAIT
    (inflight == 0); /* host threads inside send/recv/call back out */
#endif
    if /* rk__cpu_drain */
    :: !((RUNS(state[B]) && len(INBOX(B)) > 0) || (RUNS(state[C]) && len(INBOX(C)) > 0)) -> skip
    :: timeout -> skip
    fi;
    stop = true;
    (worker_exited && senders_running == 0); /* rk__stop_workers joins every worker */
#ifndef BUG_NO_SWEEP
    do /* rk__cpu_stop */
    :: INBOX(B)?t, gt, id -> set_fate(id, F_DEAD) /* RK_ESHUTDOWN */
    :: INBOX(C)?t, gt, id -> set_fate(id, F_DEAD)
    :: len(INBOX(B)) == 0 && len(INBOX(C)) == 0 -> break
    od;
#endif
    shut_done = true;
    /* the audit, once every thread has finished (a host thread may be
     * anywhere in rk_send_msg until then; rk__cpu_release frees the
     * inboxes after this point, so a later push would be worse than lost) */
    host_done;
    i = 0;
    do /* D2: at least one fate for every message that was tried */
    :: i < NMSG -> PROP(D2, fate[i] != F_NONE || !(attempted & (1 << i))); i++
    :: else -> break
    od
}

ltl shutdown_completes { <> shut_done }
