/* The CPU backend's light actors (cpu_light.c): a world of
 * ringkernel/light.cuh run by host threads, one per home. cpu_backend.c starts,
 * drains, stops and frees it alongside the block actors' workers. */
#ifndef RK_CPU_LIGHT_H
#define RK_CPU_LIGHT_H

#include "core/runtime_internal.h"

typedef struct rk__cpu_light rk__cpu_light;

/* The backend's light actors of rt, or NULL when it has none
 * (cpu_backend.c keeps the pointer). */
rk__cpu_light *rk__cpu_light_of(rk_runtime *rt);

/* Builds the world for rt->opt.light (actors > 0) and starts its home
 * threads; writes the homes chosen back into rt->opt.light.homes. On
 * failure nothing is left behind. RK_ENOMEM. */
rk_status rk__cpu_light_start(rk_runtime *rt, rk__cpu_light **out);

/* Waits, homes running, until no light message is on its way (the homes'
 * counts twice alike, 50 us apart) or `deadline` (RK_ETIMEDOUT); then
 * *to_blocks is how many messages light handlers have sent to block actors
 * so far (0 when l is NULL). */
rk_status rk__cpu_light_quiet(rk__cpu_light *l, uint64_t deadline, uint64_t *to_blocks);

/* The handlers' sends to block actors as the homes last published them. */
uint64_t rk__cpu_light_to_blocks(const rk__cpu_light *l);

/* Lets the homes run what is queued and return, until `deadline`.
 * RK_ETIMEDOUT when they did not finish (they are told to halt). l may be
 * NULL. */
rk_status rk__cpu_light_drain(rk__cpu_light *l, uint64_t deadline);

/* Messages the homes' handlers ran so far (0 when l is NULL). */
uint64_t rk__cpu_light_handled(const rk__cpu_light *l);

/* Halts and joins the homes, then counts what was left: inbox messages as
 * dead letters, messages to the host nobody read in rep->host_unread.
 * Idempotent; l may be NULL. */
void rk__cpu_light_stop(rk__cpu_light *l, rk_shutdown_report *rep);

/* Frees everything (stopping the homes first if stop did not). l may be
 * NULL. */
void rk__cpu_light_free(rk__cpu_light *l);

/* A block actor's handler sends m (src set) to a light actor: at most
 * RK_LIGHT_PAYLOAD bytes into its inbox. RK_EFULL while full, RK_ENOACTOR
 * for an id not spawned, RK_E2BIG, RK_EINVAL. */
rk_status rk__cpu_light_from_actor(rk_runtime *rt, const rk_msg *m, const void *payload);

/* (cpu_backend.c) A light handler's send to a block actor: routed as a
 * handler's send is, from light actor `src` of tenant 0. */
rk_status rk__cpu_light_to_actor(rk_runtime *rt, rk_actor_id src, rk_actor_id dst, uint32_t type, const void *payload,
                                 uint32_t len);

extern const struct rk__light_ops rk__cpu_light_ops;

#endif
