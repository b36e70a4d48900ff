/* ringkernel: the name registry and topic patterns.
 *
 * A registry maps names to actors (an id and the generation it had when the
 * name was bound) and holds topic subscriptions for publish/subscribe.
 *
 * Names and topics are '/'-separated segments of [A-Za-z0-9_.-], at most
 * RK_REGISTRY_NAME_MAX bytes, with no empty segment (so no leading, trailing
 * or doubled '/'). A pattern is a name whose segments may also hold '*':
 *
 *   '*'   inside a segment matches any run of characters of that segment,
 *         the empty run included ("isa/x*" matches "isa/x" and "isa/x86");
 *         it never crosses a '/'. A segment that is just '*' matches exactly
 *         one whole segment.
 *   '**'  as a whole segment matches zero or more whole segments: the
 *         pattern of "standards" then a "**" segment matches "standards",
 *         "standards/isa" and "standards/isa/x86"; a "**" segment then
 *         "temp" matches "temp" and "a/b/temp"; "**" alone matches every
 *         name. '**' inside a longer segment ("a**", "***") is invalid.
 *         (The examples avoid writing slash-star: C comments forbid it.)
 *
 * A pattern without '*' matches exactly one name: itself. Matching takes
 * time proportional to (pattern length x name length) at worst; no pattern
 * makes it exponential.
 *
 * Lists come back sorted (names by byte order, as strcmp; subscribers by
 * actor id) into a caller buffer; *total always gets the full count, and
 * RK_E2BIG says the buffer held only the first `cap` of them. An empty list
 * is RK_OK with *total = 0; RK_ENOTFOUND is for a single name, binding or
 * subscription that is not there. The registry knows names, not actors: a
 * missing name is RK_ENOTFOUND, never RK_ENOACTOR (the runtime, which knows
 * which ids exist, answers that).
 *
 * A registry is thread-safe: lookups, finds and subscriber queries share a
 * read-write lock, changes take it exclusively (waiting writers go before
 * new readers). An rk_registry_* call may block on that lock, which is held
 * only for the call's own work; rk_topic_* never block.
 *
 * The registry does not know the runtime: the runtime re-registers a name on
 * restart and drops an actor's names and subscriptions on termination. */
#ifndef RINGKERNEL_REGISTRY_H
#define RINGKERNEL_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "ringkernel/export.h"
#include "ringkernel/msg.h"
#include "ringkernel/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RK_REGISTRY_NAME_MAX 255 /* bytes of a name or pattern, without the NUL */

typedef struct rk_registry rk_registry;

/* One binding, as pattern lookups copy it out. */
typedef struct rk_registry_entry {
    char name[RK_REGISTRY_NAME_MAX + 1];
    rk_actor_id actor;
    uint32_t generation;
} rk_registry_entry;

/* ---- names and patterns: pure functions ------------------------------------ */

/* RK_OK if `name` is a valid name (no '*'), else RK_EINVAL (NULL included). */
RK_API rk_status rk_topic_check_name(const char *name);

/* RK_OK if `pattern` is a valid pattern, else RK_EINVAL (NULL included). */
RK_API rk_status rk_topic_check_pattern(const char *pattern);

/* Whether `pattern` matches the concrete `name`: RK_OK if it does,
 * RK_ENOTFOUND if it does not, RK_EINVAL if either is invalid. Allocates
 * nothing, never blocks. */
RK_API rk_status rk_topic_match(const char *pattern, const char *name);

/* ---- the registry ---------------------------------------------------------- */

/* Creates an empty registry; the caller owns it and frees it with
 * rk_registry_destroy. RK_EINVAL if out is NULL, RK_ENOMEM. */
RK_API rk_status rk_registry_create(rk_registry **out);

/* Frees the registry and every name and pattern it copied. No other thread
 * may be using it. NULL is a no-op. */
RK_API void rk_registry_destroy(rk_registry *reg);

/* Binds `name` (copied) to (actor, generation). RK_EEXIST if the name is
 * bound already (to any actor), RK_EINVAL for an invalid name or
 * actor == RK_ACTOR_NONE, RK_ENOMEM (nothing changed). */
RK_API rk_status rk_registry_register(rk_registry *reg, const char *name, rk_actor_id actor,
                                      uint32_t generation);

/* Moves the binding of `name` to the actor's new generation after a restart.
 * The generation must be later than the bound one (serial-number order, so
 * it may wrap): a stale restart notice cannot roll the name back. RK_OK,
 * RK_ENOTFOUND if the name is not bound, RK_EEXIST if it is bound to another
 * actor, RK_ESTALE if `generation` is not later, RK_EINVAL. */
RK_API rk_status rk_registry_reregister(rk_registry *reg, const char *name, rk_actor_id actor,
                                        uint32_t generation);

/* Removes the binding of `name`. RK_OK, RK_ENOTFOUND, RK_EINVAL. */
RK_API rk_status rk_registry_unregister(rk_registry *reg, const char *name);

/* Removes every name bound to `actor` and every subscription it holds: what
 * the runtime does when the actor terminates. Finding nothing is RK_OK.
 * `names` and `subscriptions` (each may be NULL) get how many were removed.
 * RK_EINVAL for a NULL registry. */
RK_API rk_status rk_registry_unregister_actor(rk_registry *reg, rk_actor_id actor, size_t *names,
                                              size_t *subscriptions);

/* The actor and generation bound to `name`. `generation` may be NULL.
 * RK_OK, RK_ENOTFOUND, RK_EINVAL (an invalid name, patterns included). */
RK_API rk_status rk_registry_lookup(rk_registry *reg, const char *name, rk_actor_id *actor,
                                    uint32_t *generation);

/* Copies the bindings whose names match `pattern`, sorted by name, into
 * out[0..cap). *total gets how many match; RK_E2BIG if that is more than
 * cap (out then holds the first cap). out may be NULL when cap is 0, to
 * size a buffer. All of it is one consistent snapshot. RK_EINVAL for an
 * invalid pattern or NULL reg/total. */
RK_API rk_status rk_registry_find(rk_registry *reg, const char *pattern, rk_registry_entry *out,
                                  size_t cap, size_t *total);

/* Subscribes `actor` to the topics matching `pattern` (copied). An actor may
 * hold overlapping patterns; it is still one subscriber of each topic.
 * RK_EEXIST if it holds this very pattern already, RK_EINVAL (an invalid
 * pattern, actor == RK_ACTOR_NONE), RK_ENOMEM (nothing changed). */
RK_API rk_status rk_registry_subscribe(rk_registry *reg, const char *pattern, rk_actor_id actor);

/* Drops the subscription of `actor` to exactly `pattern` (compared as text,
 * not by what it matches). RK_OK, RK_ENOTFOUND, RK_EINVAL. */
RK_API rk_status rk_registry_unsubscribe(rk_registry *reg, const char *pattern, rk_actor_id actor);

/* The actors subscribed to the concrete `topic`, each once, in ascending id
 * order, into out[0..cap); *total and RK_E2BIG as for rk_registry_find.
 * RK_EINVAL for an invalid topic (a pattern included) or NULL reg/total. */
RK_API rk_status rk_registry_subscribers(rk_registry *reg, const char *topic, rk_actor_id *out,
                                         size_t cap, size_t *total);

/* Internal, for tests (not exported from the shared library): the nth
 * allocation the registry makes from now on (1-based) fails with RK_ENOMEM;
 * 0 turns this off. */
void rk__registry_fail_alloc(rk_registry *reg, uint64_t nth);

#ifdef __cplusplus
}
#endif

#endif
