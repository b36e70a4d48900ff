/* What goes wrong, and what the caller is told:
 *   - a handler that fails (all threads, or one) marks its actor Failed and
 *     reaches the host through rk_runtime_error; other actors go on; a
 *     restart brings it back;
 *   - bad input from the host: unknown actor, oversized payload, malformed
 *     header, other tenant, full queue, call timeout (the late reply is
 *     dead-lettered);
 *   - the same refusals for actor-to-actor sends, as statuses on the device;
 *   - isolation under randomised tenants: 10^6 actor-to-actor sends between
 *     pseudo-random pairs, each status what the tenants predict, nothing
 *     delivered across tenants, and the host's counters agreeing;
 *   - a tenant's rate quota holds for its actors' sends on the GPU too
 *     (RK_ERATE there, counted for the tenant), sharing the host's budget;
 *   - shutdown with messages still queued: drained, or dead-lettered;
 *   - every pinned or device allocation made to fail in turn
 *     (RK_CUDA_FAIL_ALLOC): a status, never a crash or a leak of state. */
#include "gpu_test.h"
#include "ringkernel/tenant.h"

static rk_status call(rk_runtime *rt, rk_actor_id id, uint32_t type, const void *p, uint32_t len, void *out,
                      uint32_t cap, uint64_t timeout)
{
    rk_msgbuf mb = {.data = out, .capacity = cap};
    return rk_call(rt, id, type, p, len, &mb, timeout);
}

static void failing_handlers(void)
{
    rk_runtime *rt = rkt_runtime(8);
    rk_actor_id f = rkt_launch(rt, "failer", RKT_FAILER), e = rkt_launch(rt, "echo", RKT_ECHO);
    rk_async_error err;
    rk_control c;
    uint64_t v = 42, out = 0;

    RKT_CHECK_ST(call(rt, f, RKT_MSG_ECHO, &v, sizeof v, &out, sizeof out, 5 * RKT_SEC), RK_OK);
    RKT_CHECK(out == 42);
    RKT_CHECK_ST(rk_send(rt, f, RKT_MSG_FAIL, NULL, 0), RK_OK);
    rkt_wait_state(rt, f, RK_FAILED);
    RKT_CHECK_ST(rk_runtime_error(rt, &err), RK_OK);
    RKT_CHECK(err.actor == f && err.generation == 1 && err.status == RK_EHANDLER);
    RKT_CHECK_ST(rk_actor_control(rt, f, &c), RK_OK);
    RKT_CHECK(c.last_error == RK_EHANDLER && c.errors >= 1 && c.state == RK_FAILED);
    RKT_CHECK_ST(rk_send(rt, f, RKT_MSG_ECHO, &v, sizeof v), RK_EFAILED);
    /* The others are unaffected. */
    RKT_CHECK_ST(call(rt, e, RKT_MSG_ECHO, &v, sizeof v, &out, sizeof out, 5 * RKT_SEC), RK_OK);
    RKT_CHECK(out == 42);
    /* Back after a restart, with a new generation. */
    RKT_CHECK_ST(rk_restart(rt, f), RK_OK);
    RKT_CHECK_ST(call(rt, f, RKT_MSG_ECHO, &v, sizeof v, &out, sizeof out, 5 * RKT_SEC), RK_OK);
    RKT_CHECK_ST(rk_actor_control(rt, f, &c), RK_OK);
    RKT_CHECK(c.generation == 2 && c.state == RK_ACTIVE);
    /* One thread of the block returning an error is enough. */
    RKT_CHECK_ST(rk_send(rt, f, RKT_MSG_FAIL_ONE, NULL, 0), RK_OK);
    rkt_wait_state(rt, f, RK_FAILED);
    RKT_CHECK_ST(rk_runtime_error(rt, &err), RK_OK);
    RKT_CHECK(err.actor == f && err.generation == 2 && err.status == RK_ENOTSUP);
    RKT_CHECK_ST(rk_runtime_error(rt, &err), RK_EEMPTY);
    RKT_CHECK_ST(call(rt, e, RKT_MSG_ECHO, &v, sizeof v, &out, sizeof out, 5 * RKT_SEC), RK_OK);
    rk_runtime_destroy(rt);
    printf("failing handlers: ok\n");
}

static void bad_host_input(void)
{
    rk_runtime *rt = rkt_runtime(8);
    rk_actor_id e = rkt_launch(rt, "echo", RKT_ECHO), sl, other;
    rkt_wait w = {0, 2 * RKT_SEC};
    rk_dead_letter dl;
    rk_msg h;
    uint64_t v = 7, out = 0, dropped;
    unsigned char *big = calloc(1, (1u << 20) + 1);
    uint32_t sent = 0;
    rk_status st;

    RKT_CHECK(big);
    RKT_CHECK_ST(rkt_launch_ex(rt, "sleeper", RKT_SLEEPER, NULL, 0, 16, 0, &sl), RK_OK);
    RKT_CHECK_ST(rkt_launch_ex(rt, "other", RKT_ECHO, NULL, 0, 0, 5, &other), RK_OK);
    RKT_CHECK_ST(rk_send(rt, 9999, RKT_MSG_ECHO, &v, sizeof v), RK_ENOACTOR);
    RKT_CHECK_ST(rk_send(rt, e, RKT_MSG_ECHO, big, (1u << 20) + 1), RK_E2BIG);
    RKT_CHECK_ST(rk_send(rt, e, RK_MSG_TYPE_SYSTEM + 1, &v, sizeof v), RK_EINVAL);
    memset(&h, 0, sizeof h);
    h.type = RKT_MSG_ECHO;
    h.dst = e;
    h.flags = 0x80;
    RKT_CHECK_ST(rk_send_msg(rt, &h, NULL), RK_EBADMSG);
    h.flags = 0;
    h.tenant = 3;
    RKT_CHECK_ST(rk_send_msg(rt, &h, NULL), RK_ETENANT);
    h.tenant = 0;
    h.dst_gen = 9;
    RKT_CHECK_ST(rk_send_msg(rt, &h, NULL), RK_ESTALE);

    /* A full queue: the sleeper holds its block for 2 s while we fill its
     * 16-slot inbox. */
    RKT_CHECK_ST(rk_send(rt, sl, RKT_MSG_WAIT, &w, sizeof w), RK_OK);
    while ((st = rk_send(rt, sl, RKT_MSG_NOP, NULL, 0)) == RK_OK)
        RKT_CHECK(++sent <= 16);
    RKT_CHECK_ST(st, RK_EFULL);
    RKT_CHECK(sent >= 8);

    /* A call that times out; its reply, when it comes, is a dead letter. */
    w.timeout_ns = 300 * RKT_MS;
    RKT_CHECK_ST(call(rt, other, RKT_MSG_ECHO, &v, sizeof v, &out, sizeof out, 5 * RKT_SEC), RK_OK);
    RKT_CHECK_ST(rkt_launch_ex(rt, "sleeper2", RKT_SLEEPER, NULL, 0, 0, 0, &sl), RK_OK);
    RKT_CHECK_ST(call(rt, sl, RKT_MSG_WAIT, &w, sizeof w, &out, sizeof out, 20 * RKT_MS), RK_ETIMEDOUT);
    {
        uint64_t end = rk_test_now_ns() + 10 * RKT_SEC;
        while (rk_dead_letter_count(rt) == 0 && rk_test_now_ns() < end)
            RKT_CHECK_ST(call(rt, e, RKT_MSG_ECHO, &v, sizeof v, &out, sizeof out, 5 * RKT_SEC), RK_OK);
    }
    RKT_CHECK_ST(rk_dead_letter_pop(rt, &dl, &dropped), RK_OK);
    RKT_CHECK(dl.reason == RK_ETIMEDOUT && dl.hdr.src == sl && (dl.hdr.flags & RK_MSG_F_REPLY));
    free(big);
    rk_runtime_destroy(rt);
    printf("bad host input: ok (%u sends fitted before RK_EFULL)\n", sent);
}

/* A handler that runs long keeps its block's reserved slot in the queue to
 * the host unpublished (the reply slot, taken before the handlers run) and
 * so do the replies of its batch before it. Other actors' replies pass
 * those slots (ring.h, owner marks): calls to them are answered while it
 * runs - each would time out if the host read its queue only in order. */
static void busy_actor_holds_no_replies(void)
{
    rk_runtime *rt = rkt_runtime(8);
    rk_actor_id sl = rkt_launch(rt, "sleeper", RKT_SLEEPER), e = rkt_launch(rt, "echo", RKT_ECHO);
    rkt_wait w = {0, 600 * RKT_SEC}; /* until the stop */
    uint64_t v, out = 0;
    rk_shutdown_report rep;
    /* A reply first: the block then reserves one for its next batch too. */
    RKT_CHECK_ST(call(rt, sl, RKT_MSG_NOP, NULL, 0, &out, sizeof out, 5 * RKT_SEC), RK_OK);
    RKT_CHECK_ST(rk_send(rt, sl, RKT_MSG_NOP, NULL, 0), RK_OK);
    RKT_CHECK_ST(rk_send(rt, sl, RKT_MSG_WAIT, &w, sizeof w), RK_OK);
    rk_test_sleep_ns(100 * RKT_MS); /* the block is inside the WAIT long before */
    for (v = 0; v < 1000; v++) {
        RKT_CHECK_ST(call(rt, e, RKT_MSG_ECHO, &v, sizeof v, &out, sizeof out, 5 * RKT_SEC), RK_OK);
        RKT_CHECK(out == v);
    }
    /* Shutdown stops the WAIT; its reply and the NOP's, if they are still
     * in the queue then, are counted as unread, none lost. */
    RKT_CHECK_ST(rk_runtime_shutdown(rt, &rep), RK_OK);
    RKT_CHECK(rep.host_unread <= 2);
    rk_runtime_destroy(rt);
    printf("a busy actor holds up no other actor's replies: 1000 calls answered while it ran: ok\n");
}

static rk_status probe_n(rk_runtime *rt, rk_actor_id p, uint32_t dst, uint32_t len, uint32_t gen, uint32_t n)
{
    rkt_probe q = {dst, len, gen, n, 0, 0};
    int32_t st = -1;
    RKT_CHECK_ST(call(rt, p, RKT_MSG_PROBE, &q, sizeof q, &st, sizeof st, 30 * RKT_SEC), RK_OK);
    return (rk_status)st;
}

/* Waits until the runtime has counted `want` refusals across tenants (a
 * device's reach the host with its next poll) and returns its stats. */
static rk_tenant_stats cross_settled(rk_runtime *rt, uint64_t want)
{
    uint64_t end = rk_test_now_ns() + 5 * RKT_SEC;
    rk_tenant_stats ts;
    do
        RKT_CHECK_ST(rk_tenant_stats_get(rt, &ts), RK_OK);
    while (ts.cross_refused < want && rk_test_now_ns() < end);
    return ts;
}

static uint64_t cross_in(rk_runtime *rt, uint32_t tenant)
{
    rk_tenant_metrics m;
    RKT_CHECK_ST(rk_tenant_metrics_get(rt, tenant, &m), RK_OK);
    return m.refused_cross_in;
}

static uint64_t cross_out(rk_runtime *rt, uint32_t tenant)
{
    rk_tenant_metrics m;
    RKT_CHECK_ST(rk_tenant_metrics_get(rt, tenant, &m), RK_OK);
    return m.refused_cross_out;
}

static rk_status probe(rk_runtime *rt, rk_actor_id p, uint32_t dst, uint32_t len, uint32_t gen)
{
    rkt_probe q = {dst, len, gen, 0, 0, 0};
    int32_t st = -1;
    RKT_CHECK_ST(call(rt, p, RKT_MSG_PROBE, &q, sizeof q, &st, sizeof st, 5 * RKT_SEC), RK_OK);
    return (rk_status)st;
}

/* Waits until actor a has handled at least `want` messages (its counters
 * reach the control block a few microseconds after it goes idle), then a
 * little longer, and returns the count: more than `want` means a message
 * was handled that should not have been. */
static uint64_t handled_settled(rk_runtime *rt, rk_actor_id a, uint64_t want)
{
    uint64_t end = rk_test_now_ns() + 5 * RKT_SEC;
    rk_control k;
    do
        RKT_CHECK_ST(rk_actor_control(rt, a, &k), RK_OK);
    while (k.msgs_in < want && rk_test_now_ns() < end);
    rk_test_sleep_ns(20 * RKT_MS);
    RKT_CHECK_ST(rk_actor_control(rt, a, &k), RK_OK);
    return k.msgs_in;
}

static void bad_k2k_input(void)
{
    rk_runtime *rt = rkt_runtime(64);
    rk_actor_id p = rkt_launch(rt, "probe", RKT_PROBE), e = rkt_launch(rt, "echo", RKT_ECHO), t;
    RKT_CHECK_ST(rkt_launch_ex(rt, "tenant5", RKT_ECHO, NULL, 0, 0, 5, &t), RK_OK);
    RKT_CHECK_ST(probe(rt, p, e, 16, 0), RK_OK);
    RKT_CHECK_ST(probe(rt, p, 5000, 16, 0), RK_ENOACTOR); /* beyond max_actors */
    RKT_CHECK_ST(probe(rt, p, 40, 16, 0), RK_ENOACTOR);   /* never created */
    RKT_CHECK_ST(probe(rt, p, e, 300, 0), RK_E2BIG);      /* over a K2K slot */
    RKT_CHECK_ST(probe(rt, p, e, 16, 77), RK_ESTALE);
    RKT_CHECK_ST(probe(rt, p, t, 16, 0), RK_ETENANT);
    {
        /* Counted for both tenants, as the host's own sends are. Then a
         * flood: every refusal is counted, for its tenants or as lost when
         * the device's event queue to the host was full - none silently. */
        const uint32_t flood = (uint32_t)rkt_env("RK_STRESS_MESSAGES", 100000);
        rk_tenant_stats ts = cross_settled(rt, 1);
        RKT_CHECK(ts.cross_refused == 1 && ts.cross_lost == 0);
        RKT_CHECK(cross_out(rt, 0) == 1 && cross_in(rt, 5) == 1 && cross_in(rt, 0) == 0);
        RKT_CHECK_ST(probe_n(rt, p, t, 16, 0, flood), RK_ETENANT);
        ts = cross_settled(rt, 1 + (uint64_t)flood);
        RKT_CHECK(ts.cross_refused == 1 + (uint64_t)flood);
        RKT_CHECK(cross_in(rt, 5) + ts.cross_lost == ts.cross_refused);
        RKT_CHECK(cross_out(rt, 0) + ts.cross_lost == ts.cross_refused);
        printf("K2K refusals across tenants: %u sent, %llu counted per tenant, %llu lost to a full event queue: ok\n",
               flood + 1, (unsigned long long)cross_in(rt, 5), (unsigned long long)ts.cross_lost);
    }
    RKT_CHECK_ST(rk_deactivate(rt, e), RK_OK);
    RKT_CHECK_ST(probe(rt, p, e, 16, 0), RK_ESTATE);
    RKT_CHECK_ST(rk_activate(rt, e), RK_OK);
    RKT_CHECK_ST(probe(rt, p, e, 16, 1), RK_OK);
    /* Two were delivered; the stale one took a slot (its sender learns the
     * generation only after claiming) but was skipped, not handled. */
    RKT_CHECK(handled_settled(rt, e, 2) == 2);
    RKT_CHECK(handled_settled(rt, t, 0) == 0);
    RKT_CHECK_ST(rk_terminate(rt, e), RK_OK);
    RKT_CHECK_ST(probe(rt, p, e, 16, 0), RK_ESTATE);
    rk_runtime_destroy(rt);
    printf("bad actor-to-actor input: ok\n");
}

/* ---- isolation under randomised tenants, actor to actor ------------------------- */

#define MIX_POOL 4      /* tenant ids the actors are drawn from: both kinds of pair are common */
#define MIX_CHUNK 250u  /* sends per SPRAY, at most: an actor drains its K2K ring between two */

typedef struct mix_run {
    rk_runtime *rt;
    uint32_t tenant_of[RKT_MIX_ACTORS];
    uint32_t pool[MIX_POOL];
    uint64_t attempts[RKT_MIX_ACTORS][RKT_MIX_ACTORS]; /* [sender][receiver]: the host's replay of the draws */
    uint32_t sprays[RKT_MIX_ACTORS];                   /* SPRAY messages sent to each actor */
    rkt_mix_sent sent[RKT_MIX_ACTORS];
    rkt_mix_received got[RKT_MIX_ACTORS];
    uint64_t same, cross, full; /* attempts within and across tenants; RK_EFULL of the former */
} mix_run;

/* The pool: tenant 0 (every actor's default) and three distinct random ids
 * (the GPU keeps a tenant in the upper 32 bits of a door word: any bit may
 * matter). Actors 0 and 1 take the first two, so that there are two
 * tenants at least; the others draw. */
static void mix_tenants(mix_run *r, uint64_t *seed)
{
    for (int i = 1; i < MIX_POOL; i++) {
        int dup;
        do {
            r->pool[i] = (uint32_t)(rkt_xorshift(seed) >> 32);
            dup = r->pool[i] == 0;
            for (int j = 1; j < i; j++)
                dup |= r->pool[j] == r->pool[i];
        } while (dup);
    }
    for (uint32_t a = 0; a < RKT_MIX_ACTORS; a++)
        r->tenant_of[a] = r->pool[a < 2 ? a : (uint32_t)(rkt_xorshift(seed) % MIX_POOL)];
}

static void mix_launch(mix_run *r)
{
    for (uint32_t a = 0; a < RKT_MIX_ACTORS; a++) {
        rk_actor_options o;
        rk_actor_id id = RK_ACTOR_NONE;
        char name[16];
        snprintf(name, sizeof name, "mix%u", a);
        rk_actor_options_init(&o);
        o.name = name;
        o.type = &rkt_types[RKT_MIX];
        o.tenant = r->tenant_of[a];
        RKT_CHECK_ST(rk_launch(r->rt, &o, &id), RK_OK);
        RKT_CHECK(id == a); /* the actors send to, and count by, ids 0..RKT_MIX_ACTORS-1 */
    }
}

/* Hands out `total` sends as SPRAY messages, round robin, replaying each
 * one's draws on the host. Smaller sprays for smaller totals, so that
 * every actor sends a few (RK_STRESS_MESSAGES=2000 under the sanitizer). */
static void mix_spray(mix_run *r, uint64_t total, uint64_t *seed)
{
    uint64_t chunk = total / (4 * RKT_MIX_ACTORS), done = 0, k;
    chunk = chunk < 1 ? 1 : chunk > MIX_CHUNK ? MIX_CHUNK : chunk;
    for (k = 0; done < total; k++) {
        const uint32_t a = (uint32_t)(k % RKT_MIX_ACTORS);
        rkt_spray q = {rkt_xorshift(seed) | 1, (uint32_t)(total - done < chunk ? total - done : chunk), RKT_MIX_ACTORS};
        uint64_t draws = q.seed;
        RKT_CHECK_ST(rk_send_wait(r->rt, a, RKT_MSG_SPRAY, &q, sizeof q, 10 * RKT_SEC), RK_OK);
        for (uint32_t i = 0; i < q.n; i++)
            r->attempts[a][rkt_spray_dst(&draws, q.actors)]++;
        r->sprays[a]++;
        done += q.n;
    }
}

static void mix_report(rk_runtime *rt, rk_actor_id a, uint32_t type, void *out, uint32_t size)
{
    rk_msgbuf mb = {.data = out, .capacity = size};
    RKT_CHECK_ST(rk_call(rt, a, type, NULL, 0, &mb, 30 * RKT_SEC), RK_OK);
    RKT_CHECK(mb.hdr.type == type && mb.hdr.len == size);
}

/* Collects the reports once everything sent has landed. A SENT call queues
 * behind the actor's sprays (one inbox, in order): its answer counts all
 * of them. Pings come by the K2K ring, which the actor takes apart from its
 * inbox: RECEIVED is asked again until it counts what its senders
 * delivered, and once more a little later, when a ping beyond those would
 * have shown. */
static void mix_collect(mix_run *r)
{
    const uint64_t end = rk_test_now_ns() + 30 * RKT_SEC;
    for (uint32_t a = 0; a < RKT_MIX_ACTORS; a++) {
        mix_report(r->rt, a, RKT_MSG_SENT, &r->sent[a], sizeof r->sent[a]);
        RKT_CHECK(r->sent[a].sprays == r->sprays[a]);
    }
    for (uint32_t b = 0; b < RKT_MIX_ACTORS; b++) {
        uint64_t want = 0;
        for (uint32_t a = 0; a < RKT_MIX_ACTORS; a++)
            want += r->sent[a].ok_to[b];
        for (;;) {
            mix_report(r->rt, b, RKT_MSG_RECEIVED, &r->got[b], sizeof r->got[b]);
            if (r->got[b].pings >= want || rk_test_now_ns() > end)
                break;
            rk_test_sleep_ns(RKT_MS);
        }
    }
    rk_test_sleep_ns(20 * RKT_MS);
    for (uint32_t b = 0; b < RKT_MIX_ACTORS; b++)
        mix_report(r->rt, b, RKT_MSG_RECEIVED, &r->got[b], sizeof r->got[b]);
}

/* Every attempt against the tenants, pair by pair: within a tenant RK_OK
 * or RK_EFULL (the sends do not wait for room), never RK_ETENANT; across
 * tenants RK_ETENANT, every time. A receiver got from each sender exactly
 * what that sender was told RK_OK - nothing across tenants - and each ping
 * carried the receiver's tenant. */
static void mix_check_pairs(mix_run *r)
{
    for (uint32_t a = 0; a < RKT_MIX_ACTORS; a++) {
        const rkt_mix_sent *s = &r->sent[a];
        uint64_t tried = 0, not_ok = 0;
        for (uint32_t b = 0; b < RKT_MIX_ACTORS; b++) {
            const uint64_t n = r->attempts[a][b], got = r->got[b].from[a];
            const int inside = r->tenant_of[a] == r->tenant_of[b];
            if (inside ? s->refused_to[b] != 0 || s->ok_to[b] > n || got != s->ok_to[b]
                       : s->refused_to[b] != n || s->ok_to[b] != 0 || got != 0) {
                fprintf(stderr, "actor %u (tenant %u) -> %u (tenant %u): %llu attempts, %u RK_OK, %u RK_ETENANT, "
                        "%llu delivered\n", a, r->tenant_of[a], b, r->tenant_of[b], (unsigned long long)n,
                        s->ok_to[b], s->refused_to[b], (unsigned long long)got);
                RKT_FAIL();
            }
            tried += n;
            if (inside) {
                r->same += n;
                not_ok += n - s->ok_to[b];
            } else {
                r->cross += n;
            }
        }
        if (s->other != 0)
            fprintf(stderr, "actor %u: %llu sends got another status, the last %s\n", a,
                    (unsigned long long)s->other, rk_status_name((rk_status)s->last_other));
        RKT_CHECK(s->other == 0 && s->attempts == tried);
        RKT_CHECK(s->full == not_ok); /* what was not delivered within the tenant was refused for room */
        r->full += s->full;
    }
    for (uint32_t b = 0; b < RKT_MIX_ACTORS; b++) {
        uint64_t from = 0;
        for (uint32_t a = 0; a < RKT_MIX_ACTORS; a++)
            from += r->got[b].from[a];
        RKT_CHECK(r->got[b].leaks == 0 && r->got[b].bad == 0 && r->got[b].pings == from);
    }
    RKT_CHECK(r->same > 0 && r->cross > 0);
}

/* The host's count of the refusals against the device's, which it learns
 * from the device's events: each counted once, for both tenants, or - when
 * the device's event queue to the host was full - counted lost, and then
 * the lost ones are exactly what the per-tenant counts miss. Returns the
 * host's stats. */
static rk_tenant_stats mix_check_counters(const mix_run *r)
{
    rk_tenant_stats ts = cross_settled(r->rt, r->cross);
    uint64_t miss_in = 0, miss_out = 0;
    uint32_t known = 0;

    RKT_CHECK(ts.cross_refused == r->cross && ts.cross_unattributed == 0 && ts.cross_lost <= r->cross);
    for (int t = 0; t < MIX_POOL; t++) {
        uint64_t in = 0, out = 0;
        uint32_t actors = 0;
        rk_tenant_metrics m;
        for (uint32_t a = 0; a < RKT_MIX_ACTORS; a++)
            for (uint32_t b = 0; b < RKT_MIX_ACTORS; b++) {
                in += r->tenant_of[b] == r->pool[t] ? r->sent[a].refused_to[b] : 0;
                out += r->tenant_of[a] == r->pool[t] ? r->sent[a].refused_to[b] : 0;
            }
        for (uint32_t a = 0; a < RKT_MIX_ACTORS; a++)
            actors += r->tenant_of[a] == r->pool[t];
        if (actors == 0) {
            RKT_CHECK_ST(rk_tenant_metrics_get(r->rt, r->pool[t], &m), RK_ENOTFOUND);
            continue;
        }
        known++;
        RKT_CHECK_ST(rk_tenant_metrics_get(r->rt, r->pool[t], &m), RK_OK);
        RKT_CHECK(m.actors == actors && m.refused_cross_in <= in && m.refused_cross_out <= out);
        miss_in += in - m.refused_cross_in;
        miss_out += out - m.refused_cross_out;
    }
    RKT_CHECK(ts.tenants == known);
    RKT_CHECK(miss_in == ts.cross_lost && miss_out == ts.cross_lost);
    return ts;
}

/* Every refusal the host was told of became an RK_EVENT_TENANT naming the
 * receiver, its tenant and the sender's (one of the pool's): seen by the
 * subscriber, or dropped there and counted. */
static void mix_check_events(const mix_run *r, const rk_tenant_stats *ts, rk_event_sub *sub)
{
    uint64_t seen = 0;
    rk_event e;
    while (rk_event_poll(sub, &e, 0) == RK_OK) {
        int from_pool = 0;
        for (int t = 0; t < MIX_POOL; t++)
            from_pool |= e.tenant == r->pool[t];
        RKT_CHECK(e.kind == RK_EVENT_TENANT && e.actor < RKT_MIX_ACTORS && from_pool);
        RKT_CHECK(e.value == (int64_t)r->tenant_of[e.actor] && e.tenant != r->tenant_of[e.actor]);
        seen++;
    }
    RKT_CHECK(seen + rk_event_dropped(sub) == ts->cross_refused - ts->cross_lost);
}

/* Sixteen actors of tenants drawn at random; each sends to actors it
 * draws, 10^6 sends in all (RK_STRESS_MESSAGES). RKT_TENANT_SEED replays a
 * seed the test printed. */
static void k2k_random_tenants(void)
{
    const uint64_t total = rk_test_messages(1000000);
    uint64_t seed = rkt_env("RKT_TENANT_SEED", rk_test_now_ns()) | 1, t0;
    rk_event_sub_options so;
    rk_event_sub *sub;
    rk_tenant_stats ts;
    mix_run r;

    RKT_CHECK(total <= UINT32_MAX); /* a pair's counts are 32-bit */
    memset(&r, 0, sizeof r);
    printf("K2K under random tenants: seed %llu, %llu sends; tenants", (unsigned long long)seed,
           (unsigned long long)total);
    mix_tenants(&r, &seed);
    for (uint32_t a = 0; a < RKT_MIX_ACTORS; a++)
        printf(" %u", r.tenant_of[a]);
    printf("\n");
    fflush(stdout); /* the seed, even from a run killed for taking too long */
    r.rt = rkt_runtime(RKT_MIX_ACTORS);
    mix_launch(&r);
    rk_event_sub_options_init(&so);
    so.kinds = RK_EVENT_MASK(RK_EVENT_TENANT);
    RKT_CHECK_ST(rk_event_subscribe(r.rt, &so, &sub), RK_OK);
    t0 = rk_test_now_ns();
    mix_spray(&r, total, &seed);
    mix_collect(&r);
    t0 = rk_test_now_ns() - t0;
    mix_check_pairs(&r);
    ts = mix_check_counters(&r);
    mix_check_events(&r, &ts, sub);
    rk_event_unsubscribe(sub);
    rk_runtime_destroy(r.rt);
    printf("K2K under random tenants: %llu within tenants (%llu delivered, %llu refused for room), %llu across "
           "(all RK_ETENANT, 0 delivered), in %.1f ms; the host counted every refusal (%llu lost to a full event "
           "queue): ok\n",
           (unsigned long long)r.same, (unsigned long long)(r.same - r.full), (unsigned long long)r.full,
           (unsigned long long)r.cross, (double)t0 / 1e6, (unsigned long long)ts.cross_lost);
}

static void shutdown_leftovers(void)
{
    rk_runtime_options o;
    rk_runtime *rt;
    rk_shutdown_report rep;
    rk_dead_letter dl;
    rkt_wait w = {0, 60 * RKT_SEC};
    rk_actor_id sl, e;
    uint64_t v = 1, n_shutdown = 0;
    uint32_t i;

    /* Drained: everything queued is handled within the drain timeout. */
    rkt_options(&o, 8, &rkt_program);
    o.drain_timeout_ns = 10 * RKT_SEC;
    rt = rkt_runtime_with(&o);
    e = rkt_launch(rt, "echo", RKT_ECHO);
    for (i = 0; i < 500; i++)
        RKT_CHECK_ST(rk_send(rt, e, RKT_MSG_ECHO, &v, sizeof v), RK_OK);
    RKT_CHECK_ST(rk_runtime_shutdown(rt, &rep), RK_OK);
    RKT_CHECK(!rep.timed_out && rep.dead_lettered == 0 && rep.host_unread == 500);
    RKT_CHECK(rep.drained <= 500);
    rk_runtime_destroy(rt);

    /* Not drained: the sleeper holds its block, the drain times out, and
     * what is left in its inbox becomes dead letters. */
    o.drain_timeout_ns = 200 * RKT_MS;
    rt = rkt_runtime_with(&o);
    RKT_CHECK_ST(rkt_launch_ex(rt, "sleeper", RKT_SLEEPER, NULL, 0, 64, 0, &sl), RK_OK);
    RKT_CHECK_ST(rk_send(rt, sl, RKT_MSG_WAIT, &w, sizeof w), RK_OK);
    for (i = 0; i < 20; i++)
        RKT_CHECK_ST(rk_send(rt, sl, RKT_MSG_NOP, NULL, 0), RK_OK);
    RKT_CHECK_ST(rk_runtime_shutdown(rt, &rep), RK_OK);
    RKT_CHECK(rep.timed_out && rep.dead_lettered == 20);
    while (rk_dead_letter_pop(rt, &dl, NULL) == RK_OK)
        if (dl.reason == RK_ESHUTDOWN && dl.hdr.dst == sl && dl.hdr.type == RKT_MSG_NOP)
            n_shutdown++;
    RKT_CHECK(n_shutdown == 20);
    rk_runtime_destroy(rt);
    printf("shutdown: ok (drained, then 20 dead letters)\n");
}

/* The n-th pinned or device allocation fails, for every n until a whole
 * scenario (start, three actors, a by-reference send, shutdown) needs no
 * more allocations than n - 1. */
static void allocation_failures(void)
{
    uint64_t limit = rkt_env("RK_FAULT_LIMIT", 200), n;
    unsigned char big[2048];
    char val[32];
    memset(big, 3, sizeof big);
    for (n = 1; n <= limit; n++) {
        rk_runtime_options o;
        rk_runtime *rt = NULL;
        rk_actor_id id[3];
        rk_status st;
        int failed = 0;
        uint32_t i;
        snprintf(val, sizeof val, "%llu", (unsigned long long)n);
        setenv("RK_CUDA_FAIL_ALLOC", val, 1);
        rkt_options(&o, 4, &rkt_program);
        st = rk_runtime_create(&rt, &o);
        unsetenv("RK_CUDA_FAIL_ALLOC");
        if (st == RK_ENODEV)
            exit(RK_TEST_SKIP);
        if (st != RK_OK) {
            RKT_CHECK_ST(st, RK_ENOMEM);
            continue;
        }
        for (i = 0; i < 3 && !failed; i++) {
            char name[16];
            snprintf(name, sizeof name, "a%u", i);
            st = rkt_launch_ex(rt, name, i == 1 ? RKT_COUNTER : RKT_ECHO, big, i == 1 ? 32 : 0, 0, 0, &id[i]);
            if (st != RK_OK) {
                RKT_CHECK_ST(st, RK_ENOMEM);
                failed = 1;
            }
        }
        if (!failed) {
            st = rk_send(rt, id[0], RKT_MSG_ECHO, big, sizeof big);
            if (st != RK_OK)
                RKT_CHECK_ST(st, RK_ENOMEM);
            else
                RKT_CHECK_ST(rk_recv(rt, &(rk_msgbuf){.data = big, .capacity = sizeof big}, 5 * RKT_SEC), RK_OK);
            failed = st != RK_OK;
        }
        rk_runtime_destroy(rt);
        if (!failed)
            break; /* the n-th allocation is past the scenario's last */
    }
    RKT_CHECK(n <= limit);
    printf("allocation failures: ok (%llu allocations, each made to fail once)\n", (unsigned long long)(n - 1));
}

/* The memory-pressure monitor sees the device memory the runtime holds:
 * actor state shows in device_used (within device_total, the chunks that
 * hold it); at the device high-water mark launches are refused with
 * RK_EPRESSURE and the alarm is raised; with the mark lifted they go on. */
static void device_pressure(void)
{
    const uint32_t big = 8u << 20; /* more than the 4 MiB pre-launch arena holds */
    rk_runtime *rt = rkt_runtime(8);
    rk_memory_usage u0, u1, u2;
    rk_memory_limits lim = {0};
    rk_actor_id a, b, c;
    RKT_CHECK_ST(rk_memory_usage_get(rt, &u0), RK_OK);
    RKT_CHECK(u0.device_used > 0 && u0.device_used <= u0.device_total);
    RKT_CHECK_ST(rkt_launch_ex(rt, "big-a", RKT_COUNTER, NULL, big, 0, 0, &a), RK_OK);
    RKT_CHECK_ST(rk_memory_usage_get(rt, &u1), RK_OK);
    RKT_CHECK(u1.device_used >= u0.device_used + big && u1.device_used <= u1.device_total);
    /* The mark at what is held now: the next launch is refused. */
    lim.device_high_water = u1.device_used;
    RKT_CHECK_ST(rk_memory_set_limits(rt, &lim), RK_OK);
    RKT_CHECK_ST(rkt_launch_ex(rt, "big-b", RKT_COUNTER, NULL, big, 0, 0, &b), RK_EPRESSURE);
    RKT_CHECK_ST(rk_memory_usage_get(rt, &u2), RK_OK);
    RKT_CHECK(u2.refused == 1 && u2.alarm && u2.device_used == u1.device_used);
    lim.device_high_water = 0;
    RKT_CHECK_ST(rk_memory_set_limits(rt, &lim), RK_OK);
    RKT_CHECK_ST(rkt_launch_ex(rt, "big-c", RKT_COUNTER, NULL, big, 0, 0, &c), RK_OK);
    {
        rkt_counter_state s;
        rk_msgbuf mb = {.data = &s, .capacity = sizeof s};
        RKT_CHECK_ST(rk_call(rt, c, RKT_MSG_GET, NULL, 0, &mb, 5 * RKT_SEC), RK_OK);
        RKT_CHECK(s.init_magic == RKT_INIT_MAGIC && s.count == 0); /* it serves, from a fresh state */
    }
    RKT_CHECK_ST(rk_memory_usage_get(rt, &u2), RK_OK);
    RKT_CHECK(u2.device_used >= u1.device_used + big);
    rk_runtime_destroy(rt);
    printf("device pressure: used %.1f MiB of %.1f, %.1f MiB with an 8 MiB actor; launch refused at the mark: ok\n",
           (double)u0.device_used / (1 << 20), (double)u0.device_total / (1 << 20), (double)u1.device_used / (1 << 20));
}

static rk_actor_metrics actor_metrics(rk_runtime *rt, rk_actor_id id)
{
    rk_actor_metrics m;
    RKT_CHECK_ST(rk_actor_metrics_get(rt, id, &m), RK_OK);
    return m;
}

/* Sends the probe its request, waiting out RK_ERATE: the host's send
 * takes a token of the tenant's bucket too, which the probes' flood may
 * have emptied. Returns how often it was refused; each refusal is also in
 * the tenant's refused_rate. */
static uint64_t send_past_rate(rk_runtime *rt, rk_actor_id p, const rkt_probe *pr)
{
    const uint64_t end = rk_test_now_ns() + 5 * RKT_SEC;
    uint64_t refused = 0;
    rk_status st;
    while ((st = rk_send(rt, p, RKT_MSG_PROBE, pr, sizeof *pr)) == RK_ERATE && rk_test_now_ns() < end) {
        refused++;
        rk_test_sleep_ns(RKT_MS / 2);
    }
    RKT_CHECK_ST(st, RK_OK);
    return refused;
}

/* How long the rate tests wait for the books to balance: the counts come
 * every millisecond, much later under compute-sanitizer. */
static uint64_t settle_deadline(void)
{
    return rk_test_now_ns() + (getenv("RKT_UNDER_TOOL") ? 90 : 30) * RKT_SEC;
}

/* A probe of tenant 7 floods an echo of tenant 7 with K2K sends: only what
 * the tenant's bucket allows goes through - the GPU's allowance is filled
 * from it every millisecond - and every other send is refused on the
 * device and counted for the tenant. The probe's own report to the host is
 * one more send of the tenant (refused too, most likely: the probe then
 * fails with RK_ERATE). Without the quota, everything goes through. */
static void rate_on_device(void)
{
    /* Under compute-sanitizer a send takes so long that 1000/s would let the
     * whole flood through: the quota is then 10/s, so that some are refused. */
    const int slow = getenv("RKT_UNDER_TOOL") != NULL;
    const uint64_t rate = slow ? 10 : 1000, burst = slow ? 10 : 50, n = rk_test_messages(20000);
    rk_runtime *rt = rkt_runtime(8);
    rk_actor_id p, e;
    rk_tenant_quota q;
    rk_tenant_metrics tm;
    rkt_probe pr = {0, 8, 0, (uint32_t)n, 1, 0}; /* waiting sends: a full queue refuses none */
    uint64_t t0, t_end, delivered, refused, end, before, host_refused = 0;
    int32_t pst = -1;
    int probe_failed;
    struct timespec fill = {0, 5000000};

    RKT_CHECK_ST(rkt_launch_ex(rt, "rated/probe", RKT_PROBE, NULL, 0, 0, 7, &p), RK_OK);
    RKT_CHECK_ST(rkt_launch_ex(rt, "rated/sink", RKT_ECHO, NULL, 0, 4096, 7, &e), RK_OK);
    pr.dst = e;
    rk_tenant_quota_init(&q);
    q.max_msgs_per_s = rate;
    q.burst = (uint32_t)burst;
    t0 = rk_test_now_ns();
    RKT_CHECK_ST(rk_tenant_set_quota(rt, 7, &q), RK_OK);
    nanosleep(&fill, NULL); /* the allowance fills from the bucket */
    /* A host send: one token of the same bucket - which the allowance may
     * have just emptied: then one is earned soon. */
    host_refused = send_past_rate(rt, p, &pr);
    /* Settled: the probe handled its request, and every one of its sends
     * is delivered or counted refused, its own report too: refused (the
     * probe failed) or delivered. */
    end = settle_deadline();
    do {
        rk_test_sleep_ns(2 * RKT_MS);
        RKT_CHECK_ST(rk_tenant_metrics_get(rt, 7, &tm), RK_OK);
        delivered = actor_metrics(rt, e).msgs_in;
        refused = tm.refused_rate - host_refused;
        probe_failed = actor_metrics(rt, p).state == RK_FAILED;
    } while ((actor_metrics(rt, p).msgs_in < 1 || delivered + refused != n + (probe_failed ? 1u : 0u)) &&
             rk_test_now_ns() < end);
    t_end = rk_test_now_ns();
    RKT_CHECK(delivered + refused == n + (probe_failed ? 1u : 0u));
    RKT_CHECK(delivered >= 1 && refused > 0);
    /* All tokens come from the one bucket: its size, plus what the rate
     * earned, less the host's own send. */
    RKT_CHECK(delivered + 1 <= burst + rate * (t_end - t0) / RKT_SEC + 1);
    printf("tenant rate on the GPU: %llu K2K sends, %llu delivered, %llu refused (rate %llu/s, burst %llu, %.1f ms; "
           "the host's send refused %llu times first): ok\n",
           (unsigned long long)n, (unsigned long long)delivered, (unsigned long long)(refused - (probe_failed ? 1 : 0)),
           (unsigned long long)rate, (unsigned long long)burst, (double)(t_end - t0) / 1e6,
           (unsigned long long)host_refused);

    /* Lifted: a flood goes through whole. */
    rk_tenant_quota_init(&q);
    RKT_CHECK_ST(rk_tenant_set_quota(rt, 7, &q), RK_OK);
    if (probe_failed)
        RKT_CHECK_ST(rk_restart(rt, p), RK_OK);
    before = actor_metrics(rt, e).msgs_in;
    pr.count = 200;
    RKT_CHECK_ST(call(rt, p, RKT_MSG_PROBE, &pr, sizeof pr, &pst, sizeof pst, 10 * RKT_SEC), RK_OK);
    RKT_CHECK(pst == RK_OK);
    end = rk_test_now_ns() + 10 * RKT_SEC;
    while (actor_metrics(rt, e).msgs_in < before + 200 && rk_test_now_ns() < end)
        rk_test_sleep_ns(RKT_MS);
    RKT_CHECK(actor_metrics(rt, e).msgs_in == before + 200);

    /* More quota changes than there are allowances (64): a lifted quota's
     * allowance is handed out again once the tenant's actors let go. */
    for (int i = 0; i < 70; i++) {
        rk_tenant_quota_init(&q);
        q.max_msgs_per_s = rate;
        RKT_CHECK_ST(rk_tenant_set_quota(rt, 7, &q), RK_OK);
        rk_tenant_quota_init(&q);
        RKT_CHECK_ST(rk_tenant_set_quota(rt, 7, &q), RK_OK);
    }
    rk_runtime_destroy(rt);
}

/* Three probes of one rated tenant flood its sink at once (one allowance,
 * several blocks taking from it): still every send delivered or counted
 * refused, and no more delivered than the bucket yielded. The host's sends
 * of the three requests take from the same bucket: once the first probe
 * floods, the next request may be refused (host_refused), and those
 * refusals are the tenant's too. */
static void rate_many_senders(void)
{
    enum { P = 3 };
    const uint64_t rate = 2000, burst = 100, n = rk_test_messages(5000);
    rk_runtime *rt = rkt_runtime(8);
    rk_actor_id p[P], e;
    rk_tenant_quota q;
    rk_tenant_metrics tm;
    rkt_probe pr = {0, 8, 0, (uint32_t)n, 1, 0}; /* waiting sends: a full queue refuses none */
    uint64_t t0, t_end, delivered = 0, refused = 0, handled, end, host_refused = 0;
    uint32_t failed = 0;
    struct timespec fill = {0, 5000000};
    char name[32];

    RKT_CHECK_ST(rkt_launch_ex(rt, "many/sink", RKT_ECHO, NULL, 0, 4096, 8, &e), RK_OK);
    for (int i = 0; i < P; i++) {
        snprintf(name, sizeof name, "many/probe%d", i);
        RKT_CHECK_ST(rkt_launch_ex(rt, name, RKT_PROBE, NULL, 0, 0, 8, &p[i]), RK_OK);
    }
    pr.dst = e;
    rk_tenant_quota_init(&q);
    q.max_msgs_per_s = rate;
    q.burst = (uint32_t)burst;
    t0 = rk_test_now_ns();
    RKT_CHECK_ST(rk_tenant_set_quota(rt, 8, &q), RK_OK);
    nanosleep(&fill, NULL);
    for (int i = 0; i < P; i++)
        host_refused += send_past_rate(rt, p[i], &pr);
    end = settle_deadline();
    do {
        rk_test_sleep_ns(2 * RKT_MS);
        RKT_CHECK_ST(rk_tenant_metrics_get(rt, 8, &tm), RK_OK);
        delivered = actor_metrics(rt, e).msgs_in;
        refused = tm.refused_rate - host_refused;
        handled = 0;
        for (int i = 0; i < P; i++)
            handled += actor_metrics(rt, p[i]).msgs_in;
    } while ((handled < P || delivered + refused < P * n) && rk_test_now_ns() < end);
    rk_test_sleep_ns(10 * RKT_MS);
    t_end = rk_test_now_ns();
    RKT_CHECK_ST(rk_tenant_metrics_get(rt, 8, &tm), RK_OK);
    delivered = actor_metrics(rt, e).msgs_in;
    refused = tm.refused_rate - host_refused;
    for (int i = 0; i < P; i++)
        failed += actor_metrics(rt, p[i]).state == RK_FAILED; /* its report refused */
    RKT_CHECK(delivered + refused == P * n + failed);
    RKT_CHECK(delivered + P <= burst + rate * (t_end - t0) / RKT_SEC + 1);
    printf("tenant rate on the GPU, %d senders: %llu sends, %llu delivered, %llu refused (the host's sends refused "
           "%llu times first): ok\n",
           P, (unsigned long long)(P * n), (unsigned long long)delivered, (unsigned long long)(refused - failed),
           (unsigned long long)host_refused);
    rk_runtime_destroy(rt);
}

int main(void)
{
    rate_on_device();
    rate_many_senders();
    failing_handlers();
    busy_actor_holds_no_replies();
    device_pressure();
    bad_host_input();
    bad_k2k_input();
    k2k_random_tenants();
    shutdown_leftovers();
    if (!getenv("RK_SKIP_FAULT_LOOP"))
        allocation_failures();
    return 0;
}
