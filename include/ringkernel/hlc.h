/* ringkernel: hybrid logical clocks.
 *
 * A timestamp is one 64-bit word: physical time in milliseconds since the
 * Unix epoch in the high 48 bits, a logical counter in the low 16 bits. Plain
 * unsigned comparison therefore orders timestamps, a message header carries
 * one in a single word, and "the next timestamp after t" is t + 1: a counter
 * at 0xFFFF carries into the physical part instead of wrapping, so the clock
 * runs at most a millisecond ahead per 65536 events in one millisecond.
 *
 * The packing helpers and the pure step rules (rk_hlc_tick, rk_hlc_merge)
 * compile as C11 and as CUDA C. The clock object (rk_hlc) is host code: it
 * reads the host's clock and is declared as plain C functions, which nvcc
 * treats as __host__, so a call from device code fails to compile. */
#ifndef RINGKERNEL_HLC_H
#define RINGKERNEL_HLC_H

#include <stdint.h>

#include "ringkernel/export.h"
#include "ringkernel/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RK_HLC_LOGICAL_BITS 16
#define RK_HLC_LOGICAL_MAX 0xFFFFu
#define RK_HLC_PHYSICAL_MAX ((UINT64_C(1) << 48) - 1) /* ms; the year 10889 */
#define RK_HLC_MAX UINT64_MAX                          /* the last timestamp */

/* ---- timestamps: host and device ---------------------------------------- */

/* A timestamp from its parts; bits of phys_ms above 48 are dropped. */
RK_HD uint64_t rk_hlc_pack(uint64_t phys_ms, uint16_t logical)
{
    return ((phys_ms & RK_HLC_PHYSICAL_MAX) << RK_HLC_LOGICAL_BITS) | (uint64_t)logical;
}

/* Milliseconds since the Unix epoch. */
RK_HD uint64_t rk_hlc_physical(uint64_t ts)
{
    return ts >> RK_HLC_LOGICAL_BITS;
}

RK_HD uint16_t rk_hlc_logical(uint64_t ts)
{
    return (uint16_t)(ts & RK_HLC_LOGICAL_MAX);
}

/* -1, 0 or 1 as a is before, equal to or after b. */
RK_HD int rk_hlc_compare(uint64_t a, uint64_t b)
{
    return (a > b) - (a < b);
}

RK_HD uint64_t rk__hlc_max(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

/* The physical reading as the earliest timestamp of that millisecond; a
 * reading past 48 bits saturates rather than wrapping back to 1970. */
RK_HD uint64_t rk__hlc_floor(uint64_t phys_ms)
{
    return rk_hlc_pack(phys_ms < RK_HLC_PHYSICAL_MAX ? phys_ms : RK_HLC_PHYSICAL_MAX, 0);
}

/* The HLC send/local rule: the timestamp after `last` when the physical
 * clock reads phys_ms. It is the later of last + 1 and (phys_ms, 0), which is
 * the textbook rule with a counter overflow carried into the physical part.
 * `last` must be below RK_HLC_MAX. */
RK_HD uint64_t rk_hlc_tick(uint64_t last, uint64_t phys_ms)
{
    return rk__hlc_max(last + 1, rk__hlc_floor(phys_ms));
}

/* The HLC receive rule: the timestamp after both `last` and `remote` when the
 * physical clock reads phys_ms. Both must be below RK_HLC_MAX. No drift check:
 * the caller decides whether to trust `remote`. */
RK_HD uint64_t rk_hlc_merge(uint64_t last, uint64_t remote, uint64_t phys_ms)
{
    return rk_hlc_tick(rk__hlc_max(last, remote), phys_ms);
}

/* ---- the clock object: host only ---------------------------------------- */

/* A physical clock: milliseconds since the Unix epoch. Called on every
 * rk_hlc_now/rk_hlc_update, possibly from many threads at once. */
typedef uint64_t (*rk_hlc_clock_fn)(void *arg);

/* max_drift_ms that accepts any remote timestamp. */
#define RK_HLC_NO_DRIFT_LIMIT UINT64_MAX

/* Caller-owned; holds no resources, so there is no destroy. The fields are
 * private: set them with rk_hlc_init, read the clock with rk_hlc_last. */
typedef struct rk_hlc {
    RK_ALIGNAS(8) uint64_t last; /* the latest timestamp issued; atomic */
    uint64_t max_drift_ms;
    rk_hlc_clock_fn clock;
    void *clock_arg;
} rk_hlc;

/* Sets up a clock that has issued nothing yet, so its first rk_hlc_now
 * returns (clock(), 0). A remote timestamp whose physical part is more than
 * max_drift_ms ahead of this clock's physical reading is refused
 * (RK_HLC_NO_DRIFT_LIMIT: never).
 * clock == NULL reads CLOCK_REALTIME; clock_arg is passed to `clock` and must
 * outlive the rk_hlc. Returns RK_EINVAL for hlc == NULL. Not thread-safe:
 * run it before the clock is shared. */
RK_API rk_status rk_hlc_init(rk_hlc *hlc, uint64_t max_drift_ms, rk_hlc_clock_fn clock, void *clock_arg);

/* Stamps a local or send event: *ts gets a timestamp later than every
 * timestamp this clock has issued or merged, even if the physical clock
 * went backwards. Returns RK_EINVAL for a NULL argument, RK_EDRIFT if the
 * clock already stands at RK_HLC_MAX and has no later timestamp. *ts is
 * written only on RK_OK. Thread-safe and lock-free; never blocks. */
RK_API rk_status rk_hlc_now(rk_hlc *hlc, uint64_t *ts);

/* Stamps the receipt of a message stamped `remote`: *ts gets a timestamp
 * later than both `remote` and everything this clock has issued, and the
 * clock moves up to it. Returns RK_EDRIFT, leaving the clock unchanged, if
 * remote's physical part is more than max_drift_ms ahead of the physical
 * clock or no later timestamp exists; RK_EINVAL for a NULL argument. *ts is
 * written only on RK_OK. Thread-safe and lock-free; never blocks. */
RK_API rk_status rk_hlc_update(rk_hlc *hlc, uint64_t remote, uint64_t *ts);

/* The latest timestamp issued or merged (0 before the first), without
 * advancing the clock. Returns RK_EINVAL for a NULL argument. Thread-safe. */
RK_API rk_status rk_hlc_last(const rk_hlc *hlc, uint64_t *ts);

#ifdef __cplusplus
}
#endif

#endif
