/*
 * hlc.pml - the hybrid logical clock: the step rules of
 * include/ringkernel/hlc.h (rk_hlc_pack, rk__hlc_floor, rk_hlc_tick,
 * rk_hlc_merge) and the shared clock object of src/core/hlc.c (rk_hlc_now,
 * rk_hlc_update with its drift and maximum checks, and the compare-and-swap
 * loop of rk__hlc_advance), used by several threads at once.
 *
 * Scaled-down timestamps. C packs 48 bits of milliseconds over a 16-bit
 * logical counter, ts = phys * 2^16 + logical, so "the next timestamp" is
 * ts + 1 and a full counter carries into the milliseconds. Here
 * ts = phys * LBITS + logical with LBITS = 2 logical values per millisecond
 * and PMAX = 3 as the largest millisecond, so timestamps run 0 .. TSMAX = 7:
 * two events in one millisecond overflow the counter, and the clock can
 * reach RK_HLC_MAX (TSMAX), whose successor does not exist (in C it would
 * wrap to 0: BUG_NO_MAX_CHECK shows what that does). Physical readings run
 * 0 .. PMAX + 1, one past the largest millisecond, to exercise the
 * saturation in rk__hlc_floor.
 *
 * Processes. NTHREADS = 2 threads share one rk_hlc (a runtime's clock is
 * shared by every worker and host thread: rk__route stamps each message
 * with rk_hlc_now). Each performs EV events, each either a local or send
 * event (rk_hlc_now) or the receipt of a message (rk_hlc_update) stamped
 * with any timestamp r in 0 .. TSMAX: any value another clock could have
 * sent, which covers every sender. A `physical` process moves the reading
 * up or down by a millisecond, at most TSTEPS times (NTP steps, a VM
 * migrating). The CAS may fail spuriously (it is the weak form in C).
 *
 * Memory model. `last` is the only shared word and the C code uses relaxed
 * atomics on it. For one location, C11 coherence gives a single
 * modification order that every thread's accesses respect, and a
 * successful CAS reads the value just before its own write in that order;
 * so the outcome of a call depends only on the value its successful CAS
 * replaced. A relaxed load that returns an older value only makes the CAS
 * fail and retry, which the spurious failures already cover. The model
 * therefore treats `last` as a sequentially consistent word.
 *
 * Properties (assertions, at the successful CAS, the point where a call
 * takes effect):
 *   H1 the clock word only moves up (the new value exceeds the one it
 *      replaces), so no two calls on the clock return the same timestamp;
 *   H2 a call returns more than every call that took effect before it
 *      (ghost `issued`): whatever happened before a call, on any thread,
 *      has a smaller timestamp; in particular each thread's timestamps
 *      strictly increase even when the physical clock goes back;
 *   H3 a receive returns more than the remote stamp it merged; with H2,
 *      send < receive < anything after the receive: causality across
 *      send and receive, transitively along any chain of messages;
 *   H4 a timestamp is never behind the physical reading it was taken with
 *      (ts >= floor(reading)): the clock stays close to real time;
 *   H5 a remote stamp is merged only if it is at most max_drift ahead of
 *      the reading, and never RK_HLC_MAX (the refusals return RK_EDRIFT).
 *
 * A third kind of event is a run of RUN = 2 stamps taken at once
 * (rk__hlc_now_n, hlc.c, which rk_send_batch uses): one CAS moves `last`
 * to the run's last stamp; the run is refused (RK_EDRIFT) unless all of it
 * fits at or below RK_HLC_MAX. H1 and H2 then cover every stamp of the run
 * (the word moves past the whole run, and the run's first stamp exceeds
 * every stamp issued before); BUG_RUN_NO_ROOM lets a run pass the maximum,
 * where the uint64_t wraps.
 */

#include "rk_tables.pml"

/* PROP(P, e): assert e as property P. The property's name is a hidden
 * variable (never set, not part of the state), so a violation reads
 * "assertion violated (P||(e))" and names the property it breaks. */
#define PROP(p, e) assert(p || (e))
hidden byte H1, H2, H3, H4, H5;

#ifndef LBITS
#define LBITS 2  /* logical values per millisecond (2^16 in C) */
#endif
#ifndef PMAX
#define PMAX 3   /* RK_HLC_PHYSICAL_MAX (2^48 - 1 in C) */
#endif
#define LMAX (LBITS - 1)            /* RK_HLC_LOGICAL_MAX */
#define TSMAX (PMAX * LBITS + LMAX) /* RK_HLC_MAX */
#define DRIFT 1                     /* max_drift_ms */
#define RUN 2                       /* stamps of an rk__hlc_now_n call */
#ifndef NTHREADS
#define NTHREADS 2
#endif
#ifndef EV
#define EV 3
#endif
#ifndef TSTEPS
#define TSTEPS 2
#endif

#define PHYSICAL(ts) ((ts) / LBITS)    /* rk_hlc_physical */
#define PACK(p, l) ((p) * LBITS + (l)) /* rk_hlc_pack */
#define MAX2(a, b) ((a) > (b) -> (a) : (b))
/* rk__hlc_floor: the reading as the first timestamp of its millisecond,
 * saturating at the largest millisecond */
#define FLOOR(p) PACK(((p) < PMAX -> (p) : PMAX), 0)

/* rk_hlc_tick(last, phys) = max(last + 1, floor(phys)). last + 1 wraps
 * like the uint64_t it is (modulo TSMAX + 1); the callers keep last below
 * RK_HLC_MAX so that it never does. */
#ifdef BUG_LOGICAL_WRAPS
/* the counter incremented within its own bits: a full one goes to 0 in the
 * same millisecond instead of carrying */
#define TICK(last, p) MAX2(PACK(PHYSICAL(last), ((last) % LBITS + 1) % LBITS), FLOOR(p))
#else
#define TICK(last, p) MAX2(((last) + 1) % (TSMAX + 1), FLOOR(p))
#endif

/* rk_hlc_merge(last, remote, phys) = tick(max(last, remote), phys) */
#ifdef BUG_MERGE_IGNORES_REMOTE
#define MERGE(last, remote, p) TICK(last, p)
#else
#define MERGE(last, remote, p) TICK(MAX2(last, remote), p)
#endif

/* rk__hlc_advance's and rk_hlc_update's refusals of RK_HLC_MAX */
#ifdef BUG_NO_MAX_CHECK
#define AT_MAX(v) false
#else
#define AT_MAX(v) ((v) == TSMAX)
#endif

/* rk__hlc_now_n's: a run of n stamps from nx must end at or below the
 * maximum (nx > RK_HLC_MAX - (n - 1) refuses) */
#ifdef BUG_RUN_NO_ROOM
#define NO_ROOM(nx, n) false
#else
#define NO_ROOM(nx, n) ((nx) > TSMAX - ((n) - 1))
#endif

byte last;   /* rk_hlc.last */
byte phys;   /* what the physical clock (rk__hlc_read) returns now */
byte tsteps; /* physical clock changes so far */
byte issued; /* ghost: the largest timestamp any call has returned */
bool any_issued;

#define IDLE 255 /* st between calls */

/* One event of a thread: rk_hlc_now (upd false), or rk_hlc_update (upd
 * true) of a message stamped r, or rk__hlc_now_n of n = RUN stamps. Locals:
 * k, upd, r, ph, l, nx, nl, n, st.
 *
 * Two kinds of step, each atomic: the start (choosing the event, the
 * reading, rk_hlc_update's checks, rk__hlc_advance's relaxed load and the
 * merge), and each CAS attempt (with the merge redone from the value a
 * failed CAS returns). The reading and the load share a step: the reading
 * is the caller's own copy and only `last` is shared, so taking it just
 * before the load changes no outcome (the physical process may still move
 * between any two steps). The assertions sit at the successful CAS, where
 * the call takes effect; its return is local. A call that ends (refused or
 * done) clears its locals in the same step. */
#define CLEAR_CALL upd = false; r = 0; ph = 0; l = 0; nx = 0; nl = 0; n = 1; st = IDLE

inline hlc_event()
{
    atomic {
        k++;
        if
        :: upd = false; r = 0 /* rk_hlc_now: merging 0 is a tick */
        :: upd = false; r = 0; n = RUN /* rk__hlc_now_n */
        :: upd = true; select(r : 0 .. TSMAX)
        fi;
        ph = phys; /* rk__hlc_read, once per call */
        if
        :: upd && ((PHYSICAL(r) > ph && PHYSICAL(r) - ph > DRIFT) || AT_MAX(r)) ->
            CLEAR_CALL /* rk_hlc_update: RK_EDRIFT before the clock moves */
        :: else ->
            l = last; /* relaxed load */
            if
            :: AT_MAX(l) -> CLEAR_CALL /* RK_EDRIFT: no later timestamp */
            :: else ->
                nx = MERGE(l, r, ph);
                if
                :: NO_ROOM(nx, n) -> CLEAR_CALL /* RK_EDRIFT: the run does not fit */
                :: else -> st = RK_OK
                fi
            fi
        fi
    }
    do
    :: st == IDLE -> break
    :: st == RK_OK ->
        atomic {
#ifdef BUG_NO_CAS
            /* a plain store: an advance by another thread since our load
             * is overwritten */
            if
            :: true ->
#else
            if
            :: last != l -> /* the failed CAS returns the current value */
                l = last;
                if
                :: AT_MAX(l) -> CLEAR_CALL
                :: else ->
                    nx = MERGE(l, r, ph);
                    if
                    :: NO_ROOM(nx, n) -> CLEAR_CALL
                    :: else -> skip
                    fi
                fi
            :: last == l -> skip /* weak CAS: spurious failure */
            :: last == l ->
#endif
                /* the run's last stamp, wrapping like the uint64_t */
                nl = (nx + n - 1) % (TSMAX + 1);
                PROP(H1, nx > last && nl >= nx);
                PROP(H2, !any_issued || nx > issued);
                PROP(H3, !upd || nx > r);
                PROP(H4, nx >= FLOOR(ph));
                PROP(H5, !upd || (PHYSICAL(r) <= ph + DRIFT && r != TSMAX));
                last = nl;
                issued = MAX2(issued, nl);
                any_issued = true;
                CLEAR_CALL
            fi
        }
    od
}

/* A thread using the clock for EV events. */
proctype thread()
{
    byte k, r, ph, l, nx, nl;
    byte n = 1;
    byte st = IDLE;
    bool upd;
    do
    :: k == EV -> break
    :: k < EV -> hlc_event()
    od
}

/* The node's physical clock: a millisecond up or down, TSTEPS times. */
proctype physical()
{
    do
    :: tsteps < TSTEPS && phys <= PMAX -> atomic { phys++; tsteps++ }
    :: tsteps < TSTEPS && phys > 0 -> atomic { phys--; tsteps++ }
    :: tsteps == TSTEPS -> break
    od
}

init
{
    byte i;
    atomic {
        if /* the reading at rk_hlc_init (which sets last = 0) */
        :: phys = 0
        :: phys = 1
        :: phys = PMAX
        fi;
        run physical();
        i = 0;
        do
        :: i < NTHREADS -> run thread(); i++
        :: else -> break
        od
    }
}
