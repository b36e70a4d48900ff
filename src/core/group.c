/* Groups of runtimes (ringkernel/group.h): gids, routing between members,
 * placement and migration. Backend-neutral: how members reach each other's
 * memory is the backend's (rk__group_ops); the core decides where a message
 * goes and runs the three phases of a migration through the checkpoint
 * operations (rk__snapshot_ops). */
#include <stdlib.h>
#include <string.h>

#include "core/runtime_internal.h"
#include "core/supervisor_internal.h"
#include "core/trace.h"
#include "ringkernel/checkpoint.h"
#include "ringkernel/group.h"

#define RK__GROUP_HOPS 8u                  /* forwards one message may follow */
#define RK__GROUP_TIMEOUT_NS 5000000000ull /* a lifecycle command, as in actor.c */
#define RK__GROUP_SYM_MAX (1ull << 40)     /* rk_group_options.symmetric_bytes */

struct rk_group {
    rk_group_options opt;
    uint32_t n;
    rk_runtime *rt[RK_GROUP_MAX];
    rk_link_info link[RK_GROUP_MAX][RK_GROUP_MAX];
    pthread_mutex_t lock; /* launches and migrations, one at a time */
    uint64_t sym[RK_GROUP_MAX];     /* each member's symmetric region (group.h) */
    void *sym_host[RK_GROUP_MAX];   /* those the core took (CPU backend), freed with the group */
};

void rk_group_options_init(rk_group_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    rk_runtime_options_init(&o->runtime);
    o->members = 2;
    for (uint32_t i = 0; i < RK_GROUP_MAX; i++)
        o->devices[i] = (int)i;
    o->peer_capacity = 256;
}

const char *rk_link_kind_name(rk_link_kind k)
{
    switch (k) {
    case RK_LINK_NONE:
        return "none";
    case RK_LINK_SAME:
        return "same device";
    case RK_LINK_PCIE:
        return "PCIe";
    case RK_LINK_NVLINK:
        return "NVLink";
    }
    return "unknown";
}

/* ---- routing ---------------------------------------------------------------------- */

rk_status rk__deliver_host(rk_runtime *rt, rk__actor *dst, rk_msg *m, const void *payload)
{
    rk_status st = rt->ops->send(rt, dst, m, payload);
    if (st != RK_OK)
        rk__send_refused(rt, m, dst, st);
    return st;
}

static rk_status rk__dispatch_hops(rk_runtime *rt, rk_msg *m, const void *payload, rk__deliver_fn deliver,
                                   uint32_t hops);

/* To another member: the sender's id becomes a gid (so a reply finds its
 * way back), and the member's runtime takes it as from the host. */
static rk_status rk__group_deliver(rk_runtime *rt, uint32_t member, rk_msg *m, const void *payload, uint32_t hops)
{
    rk_runtime *t = rt->group->rt[member];
    rk_status st;
    if (m->src != RK_ACTOR_HOST && rk_gid_member(m->src) < 0)
        m->src = rk_gid(rt->member, m->src);
    m->dst = rk_gid_local(m->dst);
    st = rk__enter(t);
    if (st != RK_OK)
        return st;
    st = rk__dispatch_hops(t, m, payload, rk__deliver_host, hops + 1);
    rk__leave(t);
    return st;
}

static rk_status rk__dispatch_hops(rk_runtime *rt, rk_msg *m, const void *payload, rk__deliver_fn deliver,
                                   uint32_t hops)
{
    for (; hops < RK__GROUP_HOPS; hops++) {
        rk__actor *dst = NULL, *a;
        rk_actor_id fwd;
        rk_status st;
        int member = rk_gid_member(m->dst);
        if (member >= 0) {
            if (!rt->group || (uint32_t)member >= rt->group->n)
                return RK_ENOACTOR;
            if ((uint32_t)member != rt->member)
                return rk__group_deliver(rt, (uint32_t)member, m, payload, hops);
            m->dst = rk_gid_local(m->dst);
        }
        if (m->dst == RK__GID_HOST_LOCAL && (m->flags & RK_MSG_F_REPLY))
            m->dst = RK_ACTOR_HOST; /* the answer to a request that moved: where rk_call waits */
        if (!rt->group || m->dst == RK_ACTOR_HOST) {
            st = rk__route(rt, m, &dst);
            return st == RK_OK ? deliver(rt, dst, m, payload) : st;
        }
        a = rk__actor_get(rt, m->dst);
        if (!a)
            return RK_ENOACTOR;
        /* A migration sets `forward` and then waits for `senders` to reach
         * zero (seq-cst on both sides): either it sees us inside and waits
         * until our message is in the old inbox, where it will be moved
         * from, or we see MOVING and go no further. */
        __atomic_fetch_add(&a->senders, 1, __ATOMIC_SEQ_CST);
        fwd = __atomic_load_n(&a->forward, __ATOMIC_SEQ_CST);
        if (fwd == 0) {
            st = rk__route(rt, m, &dst);
            if (st == RK_OK)
                st = deliver(rt, dst, m, payload);
        } else {
            st = RK_EFULL; /* moving: try again */
        }
        __atomic_fetch_sub(&a->senders, 1, __ATOMIC_RELEASE);
        if (fwd == 0 || fwd == RK__FWD_MOVING)
            return st;
        /* A request from the host is answered to the host queue of the
         * runtime it entered: rk_call waits there, so it must not follow
         * the actor to another member. It learns of the move and calls
         * again (hostq.c). */
        if (m->src == RK_ACTOR_HOST && (m->flags & RK_MSG_F_REQUEST) && rk_gid_member(fwd) != (int)rt->member)
            return RK_EFULL;
        m->dst = fwd;
        m->dst_gen = 0; /* the new home starts its own generations */
    }
    return RK_ENOACTOR; /* a forwarding loop: not something a migration makes */
}

rk_status rk__dispatch(rk_runtime *rt, rk_msg *m, const void *payload, rk__deliver_fn deliver)
{
    return rk__dispatch_hops(rt, m, payload, deliver, 0);
}

rk_runtime *rk__group_target(rk_runtime *rt, rk_actor_id id, rk_actor_id *local)
{
    rk_group *g = rt ? rt->group : NULL;
    *local = id;
    if (!g)
        return rt;
    for (uint32_t hops = 0; hops < RK__GROUP_HOPS; hops++) {
        int member = rk_gid_member(id);
        rk__actor *a;
        rk_actor_id fwd;
        if (member >= 0) {
            if ((uint32_t)member >= g->n)
                return rt;
            rt = g->rt[member];
            id = rk_gid_local(id);
        }
        *local = id;
        a = rk__actor_get(rt, id);
        fwd = a ? __atomic_load_n(&a->forward, __ATOMIC_ACQUIRE) : 0;
        if (fwd == 0 || fwd == RK__FWD_MOVING)
            return rt;
        id = fwd;
    }
    return rt;
}

rk__actor *rk__group_actor(rk_runtime *rt, rk_actor_id id, rk_runtime **t)
{
    rk_actor_id local;
    *t = rk__group_target(rt, id, &local);
    return rk__actor_get(*t, local);
}

/* ---- creating and destroying ------------------------------------------------------ */

static void rk__group_free(rk_group *g)
{
    for (uint32_t i = 0; i < RK_GROUP_MAX; i++)
        free(g->sym_host[i]);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

/* Every member's symmetric region, before any member runs: the backend's
 * memory where it has its own (CUDA), else the core's (host memory, in
 * whole 256-byte lines); then every member learns where all of them are. */
static rk_status rk__group_symmetric(rk_group *g, uint64_t bytes)
{
    rk_status st = RK_OK;
    uint32_t i;
    for (i = 0; i < g->n && st == RK_OK; i++) {
        const struct rk__group_ops *go = g->rt[i]->ops->group;
        if (go && go->sym_alloc) {
            st = go->sym_alloc(g->rt[i], bytes, &g->sym[i]);
            continue;
        }
        if (bytes > SIZE_MAX - 255 || !(g->sym_host[i] = aligned_alloc(256, (size_t)((bytes + 255) & ~255ull))))
            return RK_ENOMEM;
        memset(g->sym_host[i], 0, (size_t)bytes);
        g->sym[i] = (uint64_t)(uintptr_t)g->sym_host[i];
    }
    for (i = 0; i < g->n && st == RK_OK; i++) {
        const struct rk__group_ops *go = g->rt[i]->ops->group;
        if (go && go->sym_set)
            st = go->sym_set(g->rt[i], g->sym, g->n, bytes);
    }
    return st;
}

static rk_status rk__group_create(rk_group **out, const rk_group_options *o)
{
    rk_group *g;
    rk_status st = RK_OK;
    uint32_t i, j;
    if (!out || !o)
        return RK_EINVAL;
    *out = NULL;
    if (o->members == 0 || o->members > RK_GROUP_MAX || o->peer_capacity < 2 ||
        (o->peer_capacity & (o->peer_capacity - 1)) != 0 || o->peer_capacity > (1u << 20) ||
        o->symmetric_bytes > RK__GROUP_SYM_MAX)
        return RK_EINVAL;
    for (i = 0; i < o->members; i++)
        if (o->devices[i] < 0)
            return RK_EINVAL;
    g = calloc(1, sizeof *g);
    if (!g)
        return RK_ENOMEM;
    if (pthread_mutex_init(&g->lock, NULL) != 0) {
        free(g);
        return RK_ENOMEM;
    }
    g->opt = *o;
    for (i = 0; i < o->members && st == RK_OK; i++) {
        rk_runtime_options ro = o->runtime;
        ro.device = o->devices[i];
        st = rk__runtime_create(&g->rt[i], &ro, 1);
        if (st != RK_OK)
            break;
        g->n = i + 1;
        g->rt[i]->group = g;
        g->rt[i]->member = i;
        if (g->rt[i]->ops->group && g->rt[i]->ops->group->join)
            st = g->rt[i]->ops->group->join(g->rt[i], i, o->members);
    }
    /* Every member has the first's backend: AUTO picks the same for all. */
    for (i = 0; i < g->n && st == RK_OK; i++)
        if (g->rt[i]->ops != g->rt[0]->ops)
            st = RK_EINVAL;
    for (i = 0; i < g->n && st == RK_OK; i++) {
        const struct rk__group_ops *go = g->rt[i]->ops->group;
        for (j = 0; j < g->n && st == RK_OK; j++) {
            rk_link_info *l = &g->link[i][j];
            memset(l, 0, sizeof *l);
            if (i == j || !go || !go->link) {
                l->kind = RK_LINK_SAME;
                l->access = 1;
                l->native_atomics = 1;
                continue;
            }
            st = go->link(g->rt[i], g->rt[j], l);
            if (st == RK_OK && l->kind == RK_LINK_NONE)
                st = RK_ENOTSUP;
        }
    }
    for (i = 0; i < g->n && st == RK_OK; i++) {
        const struct rk__group_ops *go = g->rt[i]->ops->group;
        for (j = 0; j < g->n && st == RK_OK; j++)
            if (i != j && go && go->connect)
                st = go->connect(g->rt[i], g->rt[j], o->peer_capacity);
    }
    if (st == RK_OK && o->symmetric_bytes)
        st = rk__group_symmetric(g, o->symmetric_bytes);
    for (i = 0; i < g->n && st == RK_OK; i++) {
        const struct rk__group_ops *go = g->rt[i]->ops->group;
        if (go && go->launch)
            st = go->launch(g->rt[i]);
    }
    if (st != RK_OK) {
        rk_group_destroy(g, NULL);
        return st;
    }
    *out = g;
    return RK_OK;
}

rk_status rk_group_create(rk_group **out, const rk_group_options *o)
{
    rk_status st;
    rk__trace_push(RK__TRACE_GROUP_CREATE);
    st = rk__group_create(out, o);
    rk__trace_pop();
    return st;
}

void rk_group_destroy(rk_group *g, rk_shutdown_report *report)
{
    rk_shutdown_report sum;
    uint32_t i;
    if (!g)
        return;
    rk__trace_push(RK__TRACE_GROUP_DESTROY);
    memset(&sum, 0, sizeof sum);
    /* Supervision stops everywhere first: a supervisor whose child migrated
     * acts on another member, which must not be stopping under it. */
    for (i = 0; i < g->n; i++)
        rk__supervision_stop(g->rt[i]);
    /* Every member stops before any ring between members is read for what
     * is left: until then a running member may still produce into them.
     * Every member drains while the others still run (what it sends them
     * is handled, not dead-lettered), then all are told to stop before the
     * first is waited for: a member's end never waits for another's (under
     * compute-sanitizer a kernel's end did, and the group never stopped). */
    for (i = 0; i < g->n; i++)
        rk__runtime_drain(g->rt[i]);
    for (i = 0; i < g->n; i++)
        rk__runtime_stop_begin(g->rt[i]);
    for (i = 0; i < g->n; i++)
        (void)rk__runtime_stop(g->rt[i]);
    for (i = 0; i < g->n; i++) {
        rk_runtime *rt = g->rt[i];
        if (rt->ops->group && rt->ops->group->peer_dead_letter) {
            pthread_mutex_lock(&rt->lock);
            rt->ops->group->peer_dead_letter(rt, &rt->report);
            pthread_mutex_unlock(&rt->lock);
        }
    }
    for (i = 0; i < g->n; i++) {
        rk_shutdown_report r;
        (void)rk_runtime_shutdown(g->rt[i], &r); /* finishes: host queue, release */
        sum.drained += r.drained;
        sum.dead_lettered += r.dead_lettered;
        sum.host_unread += r.host_unread;
        sum.actors_failed += r.actors_failed;
        sum.timed_out |= r.timed_out;
        rk_runtime_destroy(g->rt[i]);
    }
    if (report)
        *report = sum;
    rk__group_free(g);
    rk__trace_pop();
}

uint32_t rk_group_size(const rk_group *g)
{
    return g ? g->n : 0;
}

rk_runtime *rk_group_member(rk_group *g, uint32_t m)
{
    return g && m < g->n ? g->rt[m] : NULL;
}

rk_status rk_group_symmetric(const rk_group *g, uint32_t m, uint64_t *addr, uint64_t *bytes)
{
    if (!g || !addr || !bytes || m >= g->n)
        return RK_EINVAL;
    if (!g->opt.symmetric_bytes)
        return RK_ENOTSUP;
    *addr = g->sym[m];
    *bytes = g->opt.symmetric_bytes;
    return RK_OK;
}

rk_status rk_group_link(const rk_group *g, uint32_t a, uint32_t b, rk_link_info *out)
{
    if (!g || !out || a >= g->n || b >= g->n)
        return RK_EINVAL;
    *out = g->link[a][b];
    return RK_OK;
}

/* ---- placement ------------------------------------------------------------------------ */

uint32_t rk_group_load(const rk_group *g, uint32_t m)
{
    rk_runtime *rt;
    uint32_t n = 0, count;
    if (!g || m >= g->n)
        return 0;
    rt = g->rt[m];
    if (rk__enter(rt) != RK_OK)
        return 0;
    count = rk__actor_count(rt);
    for (uint32_t i = 0; i < count; i++) {
        rk__actor *a = &rt->actors[i];
        rk_lifecycle_state s;
        if (!a->in_use || __atomic_load_n(&a->forward, __ATOMIC_ACQUIRE) != 0)
            continue;
        s = rt->ops->actor_state(rt, a);
        n += s == RK_INITIALIZING || s == RK_ACTIVE || s == RK_DRAINING;
    }
    rk__leave(rt);
    return n;
}

/* The least loaded member among those `ok` allows (all when ok is NULL). */
static uint32_t rk__least_loaded(const rk_group *g, const int *ok)
{
    uint32_t best = UINT32_MAX, best_load = UINT32_MAX;
    for (uint32_t m = 0; m < g->n; m++) {
        uint32_t load;
        if (ok && !ok[m])
            continue;
        load = rk_group_load(g, m);
        if (load < best_load) {
            best = m;
            best_load = load;
        }
    }
    return best;
}

/* Whether member m has a free actor slot. */
static int rk__has_room(const rk_group *g, uint32_t m)
{
    return rk__actor_count(g->rt[m]) < g->rt[m]->opt.max_actors;
}

/* Links from best to worst: same device, NVLink, PCIe. */
static int rk__link_score(rk_link_kind k)
{
    return k == RK_LINK_SAME ? 3 : k == RK_LINK_NVLINK ? 2 : k == RK_LINK_PCIE ? 1 : 0;
}

/* The member a launch goes to; *beside gets the near actor's local id when
 * that is its member (RK_ACTOR_NONE otherwise, as set by the caller). */
static rk_status rk__place(rk_group *g, const rk_placement *p, uint32_t *member, rk_actor_id *beside)
{
    int ok[RK_GROUP_MAX];
    rk_actor_id now;
    int near, best = 0;
    uint32_t m;
    if (!p || p->kind == RK_PLACE_LEAST_LOADED) {
        for (m = 0; m < g->n; m++)
            ok[m] = rk__has_room(g, m);
        *member = rk__least_loaded(g, ok);
        if (*member == UINT32_MAX)
            *member = 0; /* all full: rk_launch says RK_ENOMEM */
        return RK_OK;
    }
    if (p->kind == RK_PLACE_MEMBER) {
        if (p->member >= g->n)
            return RK_EINVAL;
        *member = p->member;
        return RK_OK;
    }
    if (p->kind != RK_PLACE_NEAR)
        return RK_EINVAL;
    if (rk_group_resolve(g, p->near, &now) != RK_OK)
        return RK_ENOACTOR;
    near = rk_gid_member(now);
    if (rk__has_room(g, (uint32_t)near)) {
        *member = (uint32_t)near;
        *beside = rk_gid_local(now);
        return RK_OK;
    }
    for (m = 0; m < g->n; m++) {
        int s = rk__link_score(g->link[near][m].kind);
        best = rk__has_room(g, m) && s > best ? s : best;
    }
    for (m = 0; m < g->n; m++)
        ok[m] = rk__has_room(g, m) && best > 0 && rk__link_score(g->link[near][m].kind) == best;
    *member = rk__least_loaded(g, ok);
    if (*member == UINT32_MAX)
        *member = (uint32_t)near;
    if (*member == (uint32_t)near)
        *beside = rk_gid_local(now);
    return RK_OK;
}

rk_status rk_group_launch(rk_group *g, const rk_actor_options *o, const rk_placement *p, rk_actor_id *gid)
{
    rk_actor_options lo;
    rk_actor_id id, beside = RK_ACTOR_NONE;
    uint32_t m = 0;
    rk_status st;
    /* A local id in rk_actor_options.near would name an actor of a member
     * the caller does not pick: RK_PLACE_NEAR says it. */
    if (!g || !o || !gid || o->near != RK_ACTOR_NONE)
        return RK_EINVAL;
    pthread_mutex_lock(&g->lock);
    st = rk__place(g, p, &m, &beside);
    lo = *o;
    lo.near = beside; /* on the near actor's member: beside it there too (its cluster of blocks) */
    if (st == RK_OK)
        st = rk_launch(g->rt[m], &lo, &id);
    pthread_mutex_unlock(&g->lock);
    if (st == RK_OK)
        *gid = rk_gid(m, id);
    return st;
}

rk_status rk_group_lookup(rk_group *g, const char *name, rk_actor_id *gid)
{
    rk_actor_id id, moving = RK_ACTOR_NONE;
    if (!g || !name || !gid)
        return RK_EINVAL;
    for (uint32_t m = 0; m < g->n; m++) {
        rk__actor *a;
        if (rk_lookup(g->rt[m], name, &id) != RK_OK || !(a = rk__actor_get(g->rt[m], id)))
            continue;
        if (__atomic_load_n(&a->forward, __ATOMIC_ACQUIRE) == 0) {
            *gid = rk_gid(m, id);
            return RK_OK;
        }
        moving = rk_gid(m, id); /* its old home, until the move ends */
    }
    if (moving == RK_ACTOR_NONE)
        return RK_ENOACTOR;
    *gid = moving;
    return RK_OK;
}

rk_status rk_group_resolve(rk_group *g, rk_actor_id gid, rk_actor_id *now)
{
    int m = rk_gid_member(gid);
    rk_actor_id local;
    rk_runtime *rt;
    if (!g || !now || m < 0 || (uint32_t)m >= g->n)
        return RK_EINVAL;
    rt = rk__group_target(g->rt[m], gid, &local);
    if (!rk__actor_get(rt, local))
        return RK_ENOACTOR;
    *now = rk_gid(rt->member, local);
    return RK_OK;
}

/* ---- migration ---------------------------------------------------------------------------- */

/* Messages copied out of the paused actor. */
typedef struct rk__moved {
    rk_msg *hdrs;
    void **payloads;
    size_t n, cap;
} rk__moved;

static rk_status rk__moved_add(void *arg, const rk_msg *m, const void *payload)
{
    rk__moved *mv = arg;
    void *copy = NULL;
    if (mv->n == mv->cap) {
        size_t cap = mv->cap ? 2 * mv->cap : 16;
        rk_msg *h = realloc(mv->hdrs, cap * sizeof *h);
        void **p;
        if (!h)
            return RK_ENOMEM;
        mv->hdrs = h;
        p = realloc(mv->payloads, cap * sizeof *p);
        if (!p)
            return RK_ENOMEM;
        mv->payloads = p;
        mv->cap = cap;
    }
    if (m->len) {
        copy = malloc(m->len);
        if (!copy)
            return RK_ENOMEM;
        memcpy(copy, payload, m->len);
    }
    mv->hdrs[mv->n] = *m;
    mv->payloads[mv->n] = copy;
    mv->n++;
    return RK_OK;
}

static void rk__moved_free(rk__moved *mv)
{
    for (size_t i = 0; i < mv->n; i++)
        free(mv->payloads[i]);
    free(mv->hdrs);
    free(mv->payloads);
}

static rk_status rk__set_forward(rk_runtime *rt, rk__actor *a, rk_actor_id fwd)
{
    __atomic_store_n(&a->forward, fwd, __ATOMIC_SEQ_CST);
    if (rt->ops->group && rt->ops->group->set_forward)
        return rt->ops->group->set_forward(rt, &a->id, 1, fwd);
    return RK_OK;
}

/* Waits until no sender is between reading `forward` and delivering. */
static rk_status rk__wait_senders(rk__actor *a, uint64_t deadline)
{
    uint64_t nap = 200;
    while (__atomic_load_n(&a->senders, __ATOMIC_SEQ_CST) != 0) {
        if (rk__now_ns() >= deadline)
            return RK_ETIMEDOUT;
        rk__sleep_ns(nap);
        nap = nap < 100000 ? 2 * nap : nap;
    }
    return RK_OK;
}

/* The CRC-32C of a paused actor's state, read through the host. */
static rk_status rk__state_crc(rk_runtime *rt, rk__paused *p, uint32_t *crc)
{
    void *buf = p->state_size ? malloc(p->state_size) : NULL;
    rk_status st;
    if (p->state_size && !buf)
        return RK_ENOMEM;
    st = rt->ops->snapshot->read_state(rt, p, buf);
    if (st == RK_OK)
        *crc = rk_crc32c(0, buf, p->state_size);
    free(buf);
    return st;
}

/* Every earlier home of the actor forwards straight to its new one (so a
 * sender never follows more than one forward): those that pointed at
 * `old` now point at `now`. */
static void rk__compress(rk_group *g, rk_actor_id old, rk_actor_id now)
{
    rk_actor_id ids[64];
    for (uint32_t m = 0; m < g->n; m++) {
        rk_runtime *rt = g->rt[m];
        const struct rk__group_ops *ops = rt->ops->group;
        const uint32_t count = rk__actor_count(rt);
        uint32_t n = 0;
        for (uint32_t i = 0; i <= count; i++) {
            /* The backend's copies many at a time (on CUDA: a command per 25
             * ids, not one copy into device memory per earlier home - which
             * made each migration of an actor slower than the one before). */
            if (n > 0 && (n == 64 || i == count)) {
                if (ops && ops->set_forward)
                    (void)ops->set_forward(rt, ids, n, now);
                n = 0;
            }
            if (i < count && __atomic_load_n(&rt->actors[i].forward, __ATOMIC_ACQUIRE) == old) {
                __atomic_store_n(&rt->actors[i].forward, now, __ATOMIC_SEQ_CST);
                ids[n++] = rt->actors[i].id;
            }
        }
    }
}

/* A supervised actor moves with its supervision (supervisor.c explains
 * the records): while `sup_rt`'s supervision lock is held, from before the
 * actor's intake closes until its supervisor's record names the new home,
 * no supervisor there looks at it; a failure meanwhile is handled after,
 * where the actor is then. The lock is taken before either member's
 * (supervisor.c's order: op_lock -> rt->lock), and never a second one
 * beside it, so no cycle can form. */
typedef struct rk__sup_hold {
    rk_runtime *sup_rt; /* the supervisor's runtime; NULL: unsupervised */
    rk_actor_id sup;    /* the supervisor, RK_ACTOR_NONE once it dropped the actor */
    int locked;
} rk__sup_hold;

static rk_status rk__sup_hold_take(rk__sup_hold *h, rk__actor *a, rk__actor *na, uint64_t deadline)
{
    rk_status st;
    h->sup = __atomic_load_n(&a->sup_parent, __ATOMIC_ACQUIRE);
    if (h->sup == RK_ACTOR_NONE)
        return RK_OK; /* and stays so: children get a supervisor at launch only */
    h->sup_rt = __atomic_load_n(&a->sup_rt, __ATOMIC_ACQUIRE);
    st = rk__supervision_lock(h->sup_rt, deadline);
    if (st != RK_OK)
        return st;
    h->locked = 1;
    /* Again under the lock: rk_kill_tree or a temporary child's exit may
     * have dropped it meanwhile. The new home gets its supervisor before
     * it takes any message, so its failures reach that supervisor. */
    h->sup = __atomic_load_n(&a->sup_parent, __ATOMIC_ACQUIRE);
    if (h->sup != RK_ACTOR_NONE) {
        __atomic_store_n(&na->sup_rt, h->sup_rt, __ATOMIC_RELEASE);
        __atomic_store_n(&na->sup_parent, h->sup, __ATOMIC_RELEASE);
        rk__supervision_moving(h->sup_rt, h->sup);
    }
    return RK_OK;
}

/* The move is done (the old id forwards): the record follows, and the old
 * actor, about to be terminated, is nobody's child any more. */
static void rk__sup_hold_moved(rk__sup_hold *h, rk__actor *a, rk_actor_id from, rk_actor_id to)
{
    if (!h->locked || h->sup == RK_ACTOR_NONE)
        return;
    rk__supervision_moved(h->sup_rt, h->sup, from, to);
    __atomic_store_n(&a->sup_parent, RK_ACTOR_NONE, __ATOMIC_RELEASE);
}

/* Lets the supervisor look again: at the new home, or at the old one if
 * the move was undone (the new home, about to go, is nobody's child). */
static void rk__sup_hold_release(rk__sup_hold *h, rk__actor *na, int undone)
{
    if (!h->locked)
        return;
    if (undone && na)
        __atomic_store_n(&na->sup_parent, RK_ACTOR_NONE, __ATOMIC_RELEASE);
    rk__supervision_unlock(h->sup_rt);
    h->locked = 0;
    rk__supervision_notify(h->sup_rt);
}

static rk_status rk__migrate(rk_group *g, rk_actor_id gid, uint32_t to, uint32_t flags, uint64_t deadline,
                             rk_migrate_report *r)
{
    rk_runtime *src, *dst;
    rk__actor *a, *na = NULL;
    rk__paused ps, pd;
    rk__moved mv = {NULL, NULL, 0, 0};
    rk__sup_hold hold = {NULL, RK_ACTOR_NONE, 0};
    rk_actor_options o;
    rk_actor_id local, nid = 0, now;
    const struct rk__snapshot_ops *sops, *dops;
    uint64_t t0 = rk__now_ns(), t1, t2, t3, verify_ns = 0;
    void *buf = NULL;
    int src_locked = 0, src_paused = 0, launched = 0;
    rk_lifecycle_state s;
    rk_status st;
    int from;

    st = rk_group_resolve(g, gid, &now);
    if (st != RK_OK)
        return st;
    from = rk_gid_member(now);
    if (from < 0 || to >= g->n || (uint32_t)from == to)
        return RK_EINVAL;
    src = g->rt[from];
    dst = g->rt[to];
    local = rk_gid_local(now);
    sops = src->ops->snapshot;
    dops = dst->ops->snapshot;
    if (!sops || !sops->retire || !dops)
        return RK_ENOTSUP;
    a = rk__actor_get(src, local);
    if (!a)
        return RK_ENOACTOR;
    r->from = now;

    /* ---- the new home first, held still below until its state arrives.
     * rk_launch and lifecycle commands take dst->lock, which must never be
     * taken inside src->lock: as actors move around, members would lock
     * each other in a cycle. ---- */
    s = src->ops->actor_state(src, a);
    if (s != RK_ACTIVE && s != RK_DRAINING)
        return RK_ESTATE;
    rk_actor_options_init(&o);
    o.name = a->name;
    o.type = a->type;
    o.state_size = a->state_size;
    o.inbox_capacity = a->inbox_capacity;
    o.slot_size = a->slot_size;
    o.block_size = a->block_size;
    o.tenant = a->tenant;
    /* No initial state here: the state comes by the transfer, and copying
     * a large one in (the launch's initial state, through the host) would
     * cost more than the move. The launch's initial state is handed over at
     * the swap: a restart at the new home starts from it. */
    o.initial_state = NULL;
    st = rk__launch(dst, &o, &nid, RK__LAUNCH_NO_INIT);
    if (st != RK_OK)
        return st;
    launched = 1;
    na = rk__actor_get(dst, nid);
    /* It moves as it was: a Draining actor takes no new messages there
     * either (nobody knows the new id yet). */
    if (s == RK_DRAINING)
        st = rk_deactivate(dst, nid);
    if (st != RK_OK)
        goto undo;
    t1 = rk__now_ns();
    r->launch_ns = t1 - t0;

    /* ---- 1. quiesce: intake closed, queue handled (CUDA) or held (CPU) ---- */
    st = rk__sup_hold_take(&hold, a, na, deadline);
    if (st != RK_OK)
        goto undo;
    st = rk__lock_runtime(src, deadline);
    if (st != RK_OK)
        goto undo;
    src_locked = 1;
    if (src->ops->actor_state(src, a) != s) {
        st = RK_ESTATE; /* a lifecycle command came first */
        goto undo;
    }
    st = rk__set_forward(src, a, RK__FWD_MOVING);
    if (st == RK_OK)
        st = rk__wait_senders(a, deadline);
    if (st == RK_OK)
        st = sops->pause(src, a, deadline, &ps);
    if (st != RK_OK)
        goto undo;
    src_paused = 1;
    /* A handler that failed on the way to the pause (one was running, or
     * the pause handled the queue) leaves it Failed: it stays, so that its
     * supervisor restarts it here, instead of its state running on there. */
    if (src->ops->actor_state(src, a) == RK_FAILED) {
        st = RK_ESTATE;
        goto undo;
    }
    st = sops->read_msgs(src, &ps, rk__moved_add, &mv);
    if (st != RK_OK)
        goto undo;
    /* A host request is answered to the host queue it was sent through,
     * where its rk_call waits: name that host, not the new home's. */
    for (size_t i = 0; i < mv.n; i++)
        if (mv.hdrs[i].src == RK_ACTOR_HOST && (mv.hdrs[i].flags & RK_MSG_F_REQUEST))
            mv.hdrs[i].src = rk_gid((uint32_t)from, RK__GID_HOST_LOCAL);
    r->messages = mv.n;
    r->state_bytes = ps.state_size;
    t2 = rk__now_ns();
    r->quiesce_ns = t2 - t1;

    /* ---- 2. transfer ---- */
    st = rk__lock_runtime(dst, deadline);
    if (st != RK_OK)
        goto undo;
    st = dops->pause(dst, na, deadline, &pd);
    if (st != RK_OK) {
        pthread_mutex_unlock(&dst->lock);
        goto undo;
    }
    if (pd.state_size != ps.state_size) {
        st = RK_EINTERNAL;
    } else {
        t2 = rk__now_ns(); /* the transfer alone: both ends held still */
        st = RK_ENOTSUP;
        /* The state device to device where the backend can; the queued
         * messages, if any, through the host behind it (the state first: a
         * failed copy then leaves nothing queued at the new home). */
        if (!(flags & RK_MIGRATE_HOST_STAGED) && src->ops->group && src->ops->group->copy_state) {
            st = src->ops->group->copy_state(src, &ps, dst, &pd, &r->path);
            if (st == RK_OK && mv.n > 0)
                st = dops->restore(dst, &pd, NULL, mv.hdrs, (const void *const *)mv.payloads, mv.n, 0);
        }
        if (st == RK_ENOTSUP) {
            buf = ps.state_size ? malloc(ps.state_size) : NULL;
            st = ps.state_size && !buf ? RK_ENOMEM : sops->read_state(src, &ps, buf);
            if (st == RK_OK)
                st = dops->restore(dst, &pd, buf, mv.hdrs, (const void *const *)mv.payloads, mv.n, 0);
            r->path = RK_MIGRATE_HOST;
        }
        t3 = rk__now_ns();
        r->transfer_ns = t3 - t2;
        if (st == RK_OK && (flags & RK_MIGRATE_VERIFY)) {
            st = rk__state_crc(src, &ps, &r->crc_before);
            if (st == RK_OK)
                st = rk__state_crc(dst, &pd, &r->crc_after);
            if (st == RK_OK && r->crc_before != r->crc_after)
                st = RK_EBADMSG;
            verify_ns = rk__now_ns() - t3;
        }
    }
    {
        /* A transfer that failed after the messages went in (the check of
         * the copy, say) must not let the new home handle them: the old
         * actor keeps them and runs on, so the copies there are dropped -
         * retire ends the pause without a message taken - and undo
         * terminates it. */
        rk_status rs = st == RK_OK || !dops->retire ? dops->resume(dst, &pd) : dops->retire(dst, &pd);
        pthread_mutex_unlock(&dst->lock);
        st = st == RK_OK ? rs : st;
    }
    if (st != RK_OK)
        goto undo;

    /* ---- 3. swap: the old id forwards, the old actor ends ---- */
    t3 = rk__now_ns();
    r->to = rk_gid(to, nid);
    /* The old actor never restarts once it forwards: its initial state
     * becomes the new one's (read by lifecycle commands, under dst->lock;
     * rk__lock_runtime, as every lock taken inside src->lock). */
    st = rk__lock_runtime(dst, deadline);
    if (st != RK_OK)
        goto undo;
    free(na->initial_state);
    na->initial_state = a->initial_state;
    a->initial_state = NULL;
    pthread_mutex_unlock(&dst->lock);
    st = rk__set_forward(src, a, r->to);
    rk__sup_hold_moved(&hold, a, r->from, r->to); /* the core's forward is set whatever st says */
    {
        /* Always: the pause holds the backend until it ends. */
        rk_status rs = sops->retire(src, &ps);
        st = st == RK_OK ? rs : st;
    }
    src_paused = 0;
    pthread_mutex_unlock(&src->lock);
    src_locked = 0;
    rk__sup_hold_release(&hold, na, 0);
    if (st == RK_OK) {
        st = rk_terminate(src, local);
        if (st == RK_OK && src->ops->group && src->ops->group->release_moved)
            src->ops->group->release_moved(src, a);
        /* A terminate that timed out stays in force; nothing reaches the
         * actor meanwhile (its sender path forwards). */
        if (st == RK_ETIMEDOUT)
            st = RK_OK;
    }
    rk__compress(g, r->from, r->to);
    r->swap_ns = rk__now_ns() - t3;
    r->total_ns = rk__now_ns() - t0 - verify_ns;
    rk__moved_free(&mv);
    free(buf);
    return st;

undo:
    /* The actor stays where it was and runs on; the new home goes, once
     * src->lock is released (see above). */
    if (src_paused)
        (void)sops->resume(src, &ps);
    (void)rk__set_forward(src, a, 0);
    if (src_locked)
        pthread_mutex_unlock(&src->lock);
    rk__sup_hold_release(&hold, na, 1);
    if (launched)
        (void)rk_terminate(dst, nid);
    rk__moved_free(&mv);
    free(buf);
    return st;
}

rk_status rk_group_migrate(rk_group *g, rk_actor_id gid, uint32_t to, uint32_t flags, uint64_t timeout_ns,
                           rk_migrate_report *report)
{
    rk_migrate_report r;
    rk_status st;
    uint32_t i;
    if (g && rk_is_supervisor(gid))
        return RK_ENOTSUP; /* group.h: supervisors stay where they were created */
    if (!g || rk_gid_member(gid) < 0 || (flags & ~(uint32_t)(RK_MIGRATE_VERIFY | RK_MIGRATE_HOST_STAGED)))
        return RK_EINVAL;
    rk__trace_push(RK__TRACE_GROUP_MIGRATE);
    memset(&r, 0, sizeof r);
    pthread_mutex_lock(&g->lock);
    for (i = 0; i < g->n; i++)
        if (rk__enter(g->rt[i]) != RK_OK)
            break;
    if (i < g->n)
        st = RK_ESHUTDOWN;
    else
        st = rk__migrate(g, gid, to, flags, rk__deadline(timeout_ns ? timeout_ns : RK__GROUP_TIMEOUT_NS), &r);
    while (i > 0)
        rk__leave(g->rt[--i]);
    pthread_mutex_unlock(&g->lock);
    if (report)
        *report = r;
    rk__trace_pop();
    return st;
}
