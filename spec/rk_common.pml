/*
 * rk_common.pml - what the runtime models (lifecycle.pml, k2k.pml,
 * supervisor.pml) share.
 *
 * rk_tables.pml is generated at check time by spec/gen_tables.c from
 * include/ringkernel/status.h and lifecycle.h: the rk_status values, the
 * lifecycle states and events, lifecycle_next (rk_lifecycle_next, one
 * guarded line per edge of the C table), ACCEPTS (rk_lifecycle_accepts)
 * and RUNS (rk_lifecycle_runs). scripts/spec.sh puts it on the include path.
 */

#include "rk_tables.pml"

/* PROP(P, e): assert e as property P. The property's name is a hidden
 * variable (never set, not part of the state), so a violation reads
 * "assertion violated (P||(e))" and names the property it breaks. */
#define PROP(p, e) assert(p || (e))

/*
 * ALLOWED_EDGE(a, b): the state changes the lifecycle may make, written by
 * hand from the diagram in lifecycle.h and DESIGN.md section 5, not from
 * the table. Every store of a state in the models asserts it, so the
 * generated table and the code that drives it are both checked against the
 * diagram. Storing the state an actor already has is no change. There is
 * no Active -> Terminated edge: rk_lifecycle_next's "terminate from
 * Active" names the Active -> Draining -> Terminated path, and the
 * backends must store Draining on the way.
 */
#define ALLOWED_EDGE(a, b) \
    ((a) == (b) || \
     ((a) == RK_DORMANT && (b) == RK_INITIALIZING) || \
     ((a) == RK_INITIALIZING && (b) == RK_ACTIVE) || \
     ((a) == RK_ACTIVE && (b) == RK_DRAINING) || \
     ((a) == RK_DRAINING && (b) == RK_ACTIVE) || \
     ((a) == RK_DRAINING && (b) == RK_TERMINATED) || \
     ((b) == RK_FAILED && ((a) == RK_INITIALIZING || (a) == RK_ACTIVE || (a) == RK_DRAINING)) || \
     ((b) == RK_INITIALIZING && \
      ((a) == RK_ACTIVE || (a) == RK_DRAINING || (a) == RK_FAILED || (a) == RK_TERMINATED)))

/* What became of a message (ghost state for "never a silent drop"). */
#define F_NONE 0     /* not sent, or still on its way */
#define F_REFUSED 1  /* the sender got a status other than RK_OK */
#define F_HANDLED 2  /* a handler ran on it */
#define F_DEAD 3     /* rk__dead_letter */
