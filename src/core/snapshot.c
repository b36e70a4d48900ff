/* Checkpoints of running actors (ringkernel/snapshot.h).
 *
 * A checkpoint runs in three steps. Capture: with the actor paused by its
 * backend (rk__snapshot_ops), its state and queued messages are copied into
 * host buffers, under rt->lock. Encode: the codec (checkpoint.c) turns the
 * copies into a checkpoint, after the actor has resumed. Commit: once the
 * bytes are where the caller wanted them, the captured state becomes the
 * actor's delta base.
 *
 * A restore stages first: the checkpoint is applied to a state-sized copy
 * (holding the base, for a delta), which validates all of it, and its
 * messages are checked. Only then is the actor paused and the staged state
 * and messages handed to the backend's all-or-nothing restore.
 *
 * Per actor an rk__snap keeps the base and one spare state buffer, which the
 * next capture or staging fills; a commit swaps the two, so a steady stream
 * of checkpoints allocates nothing but its message copies. */
#include <stdlib.h>
#include <string.h>

#include "core/runtime_internal.h"
#include "core/trace.h"
#include "ringkernel/snapshot.h"

#define RK__SNAP_TIMEOUT_NS 5000000000ull /* to quiesce, as for a lifecycle command */

typedef struct rk__snap rk__snap;

struct rk__snap {
    pthread_mutex_t lock; /* one checkpoint or restore of the actor at a time */
    unsigned char *base;  /* the state of the last checkpoint taken or restored */
    size_t base_size;
    uint64_t base_seq;
    uint32_t base_crc;
    int has_base;
    unsigned char *spare; /* a state buffer for the next capture or staging */
    size_t spare_size;
    uint64_t last_seq;    /* the highest sequence number taken or restored */
};

/* One checkpoint or restore in progress: the runtime entered (rk__enter),
 * the actor's rk__snap locked. */
typedef struct rk__op {
    rk_runtime *rt;
    rk__actor *a;
    const struct rk__snapshot_ops *ops;
    rk__snap *s;
    uint64_t deadline;
} rk__op;

/* Messages copied out of a paused actor: records of an rk_msg, its payload
 * and zeros to a multiple of 8 (so every header stays 8-aligned). */
typedef struct rk__msgs {
    unsigned char *buf;
    size_t len, cap, count;
    const rk_msg **ptrs; /* the codec's view, made once the copying is done */
} rk__msgs;

typedef struct rk__capture {
    unsigned char *state;
    size_t size;
    uint32_t generation;
    uint64_t hlc;
    rk__msgs msgs;
} rk__captured;

/* Where an encoded checkpoint goes: the caller's buffer, or a file. */
typedef struct rk__dest {
    void *buf;
    size_t cap;
    size_t *len;
    const char *path;
    int *os_error;
} rk__dest;

/* A restore, staged: the resulting state and the messages to queue. */
typedef struct rk__stage {
    unsigned char *state;
    size_t size;
    rk_msg *hdrs;
    const void **payloads;
    size_t n;
} rk__staged;

/* Lifecycle states in which an actor may be captured, or restored into. */
#define RK__STATES_CHECKPOINT                                                                      \
    ((1u << RK_ACTIVE) | (1u << RK_DRAINING) | (1u << RK_FAILED) | (1u << RK_TERMINATED))
#define RK__STATES_RESTORE ((1u << RK_ACTIVE) | (1u << RK_DRAINING))

static size_t rk__round8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

/* ---- per-actor bookkeeping ----------------------------------------------------- */

/* The actor's rk__snap, made on first use; NULL when out of memory. */
static rk__snap *rk__snap_of(rk__actor *a)
{
    rk__snap *s = __atomic_load_n(&a->snap, __ATOMIC_ACQUIRE), *fresh;
    if (s)
        return s;
    fresh = calloc(1, sizeof *fresh);
    if (!fresh)
        return NULL;
    if (pthread_mutex_init(&fresh->lock, NULL) != 0) {
        free(fresh);
        return NULL;
    }
    /* Acq_rel: publishes the initialised mutex to the threads that load
     * the pointer; a thread that lost the race uses the winner's. */
    if (__atomic_compare_exchange_n(&a->snap, &s, fresh, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return fresh;
    pthread_mutex_destroy(&fresh->lock);
    free(fresh);
    return s;
}

void rk__snapshot_release(rk__actor *a)
{
    rk__snap *s = a->snap;
    if (!s)
        return;
    a->snap = NULL;
    free(s->base);
    free(s->spare);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* A state buffer of `size` bytes: the spare when there is one. */
static unsigned char *rk__snap_take(rk__snap *s, size_t size)
{
    unsigned char *p = s->spare;
    if (p && s->spare_size == size) {
        s->spare = NULL;
        s->spare_size = 0;
        return p;
    }
    free(s->spare);
    s->spare = NULL;
    s->spare_size = 0;
    return malloc(size ? size : 1);
}

/* Keeps a state buffer as the spare (NULL is fine). */
static void rk__snap_give(rk__snap *s, unsigned char *p, size_t size)
{
    if (!p)
        return;
    free(s->spare);
    s->spare = p;
    s->spare_size = size;
}

/* Makes `state` the base; the old base becomes the spare. */
static void rk__snap_commit(rk__snap *s, unsigned char *state, size_t size, uint64_t seq, uint32_t crc)
{
    unsigned char *old = s->has_base ? s->base : NULL;
    size_t old_size = s->base_size;
    s->base = state;
    s->base_size = size;
    s->base_seq = seq;
    s->base_crc = crc;
    s->has_base = 1;
    if (seq > s->last_seq)
        s->last_seq = seq;
    rk__snap_give(s, old, old_size);
}

/* ---- entering, pausing ------------------------------------------------------------- */

static rk_status rk__op_begin(rk_runtime *rt, rk_actor_id id, rk__op *op)
{
    if (!rt)
        return RK_EINVAL;
    memset(op, 0, sizeof *op);
    op->rt = rt;
    op->a = rk__actor_get(rt, id);
    if (!op->a || !op->a->in_use)
        return RK_ENOACTOR;
    op->ops = rt->ops->snapshot;
    if (!op->ops)
        return RK_ENOTSUP;
    /* Inside, shutdown cannot release the backend or the rk__snap. */
    if (rk__enter(rt) != RK_OK)
        return RK_ESHUTDOWN;
    op->s = rk__snap_of(op->a);
    if (!op->s) {
        rk__leave(rt);
        return RK_ENOMEM;
    }
    pthread_mutex_lock(&op->s->lock);
    op->deadline = rk__deadline(RK__SNAP_TIMEOUT_NS);
    return RK_OK;
}

static void rk__op_end(rk__op *op)
{
    pthread_mutex_unlock(&op->s->lock);
    rk__leave(op->rt);
}

/* Locks out lifecycle commands and has the backend quiesce the actor, if
 * its lifecycle state is in `allowed`. On RK_OK, rk__resume must follow. */
static rk_status rk__pause(rk__op *op, uint32_t allowed, rk__paused *p)
{
    rk_status st = rk__lock_runtime(op->rt, op->deadline);
    rk_lifecycle_state s;
    if (st != RK_OK)
        return st;
    memset(p, 0, sizeof *p);
    s = op->rt->ops->actor_state(op->rt, op->a);
    if (!(allowed & (1u << s)))
        st = RK_ESTATE;
    else
        st = op->ops->pause(op->rt, op->a, op->deadline, p);
    if (st != RK_OK)
        pthread_mutex_unlock(&op->rt->lock);
    return st;
}

static rk_status rk__resume(rk__op *op, rk__paused *p)
{
    rk_status st = op->ops->resume(op->rt, p);
    pthread_mutex_unlock(&op->rt->lock);
    return st;
}

/* ---- capture ------------------------------------------------------------------------ */

static rk_status rk__msgs_add(void *arg, const rk_msg *m, const void *payload)
{
    rk__msgs *c = arg;
    size_t rec = RK_MSG_HEADER_SIZE + rk__round8(m->len);
    rk_msg *h;
    if (m->len > 0 && !payload)
        return RK_EINVAL;
    if (c->cap - c->len < rec) {
        size_t cap = c->cap ? c->cap : 4096;
        unsigned char *p;
        while (cap - c->len < rec) {
            if (cap > SIZE_MAX / 2)
                return RK_ENOMEM;
            cap *= 2;
        }
        p = realloc(c->buf, cap);
        if (!p)
            return RK_ENOMEM;
        c->buf = p;
        c->cap = cap;
    }
    h = (rk_msg *)(void *)(c->buf + c->len);
    memcpy(h, m, sizeof *h);
    h->ref = 0;
    if (m->len > 0)
        memcpy(h + 1, payload, m->len);
    memset((unsigned char *)(h + 1) + m->len, 0, rec - RK_MSG_HEADER_SIZE - m->len);
    c->len += rec;
    c->count++;
    return RK_OK;
}

/* The pointers the codec reads. A by-reference message keeps its flag; its
 * payload is now the copy after its header. */
static rk_status rk__msgs_index(rk__msgs *c)
{
    size_t at = 0;
    if (c->count == 0)
        return RK_OK;
    c->ptrs = malloc(c->count * sizeof *c->ptrs);
    if (!c->ptrs)
        return RK_ENOMEM;
    for (size_t i = 0; i < c->count; i++) {
        rk_msg *h = (rk_msg *)(void *)(c->buf + at);
        if (h->flags & RK_MSG_F_BYREF)
            h->ref = (uint64_t)(uintptr_t)(h + 1);
        c->ptrs[i] = h;
        at += RK_MSG_HEADER_SIZE + rk__round8(h->len);
    }
    return RK_OK;
}

/* Copies the actor's state and queue while it is paused. */
static rk_status rk__capture(rk__op *op, rk__captured *c)
{
    rk__paused p;
    rk_control ctl;
    rk_status st, rst;
    c->size = op->ops->state_size(op->rt, op->a);
    c->state = rk__snap_take(op->s, c->size);
    if (!c->state)
        return RK_ENOMEM;
    st = rk__pause(op, RK__STATES_CHECKPOINT, &p);
    if (st != RK_OK)
        return st;
    st = op->ops->read_state(op->rt, &p, c->state);
    if (st == RK_OK)
        st = op->ops->read_msgs(op->rt, &p, rk__msgs_add, &c->msgs);
    if (st == RK_OK)
        st = op->rt->ops->actor_control(op->rt, op->a, &ctl);
    if (st == RK_OK) {
        c->generation = ctl.generation;
        st = rk_hlc_now(&op->rt->hlc, &c->hlc);
    }
    rst = rk__resume(op, &p);
    if (st == RK_OK)
        st = rst;
    if (st == RK_OK)
        st = rk__msgs_index(&c->msgs);
    return st;
}

static void rk__capture_free(rk__snap *s, rk__captured *c)
{
    rk__snap_give(s, c->state, c->size);
    free(c->msgs.buf);
    free(c->msgs.ptrs);
}

/* ---- checkpoint --------------------------------------------------------------------- */

/* Encodes the capture into d's buffer, or into a file through a buffer of
 * the largest size it can need. */
static rk_status rk__encode(rk__op *op, const rk__captured *c, uint32_t flags, const rk__dest *d,
                            rk_checkpoint_info *inf)
{
    rk__snap *s = op->s;
    rk_checkpoint_src src = {
        .actor = op->a->id,
        .generation = c->generation,
        .hlc = c->hlc,
        .seq = s->last_seq + 1,
        .state = c->state,
        .state_size = c->size,
        .msgs = c->msgs.ptrs,
        .msg_count = c->msgs.count,
    };
    rk_checkpoint_base base = {s->base, s->base_size, s->base_seq, s->base_crc};
    const rk_checkpoint_base *bp = (flags & RK_ACTOR_CHECKPOINT_DELTA) ? &base : NULL;
    size_t bound, len;
    unsigned char *tmp;
    rk_status st;

    if (!d->path)
        return rk_checkpoint_encode(&src, bp, d->buf, d->cap, d->len, inf);
    /* A delta's state section is its bitmap plus at most the whole state. */
    st = rk_checkpoint_size(&src, NULL, &bound);
    if (st != RK_OK)
        return st;
    if (bp)
        bound += c->size / RK_CHECKPOINT_BLOCK_SIZE / 8 + 16;
    tmp = malloc(bound);
    if (!tmp)
        return RK_ENOMEM;
    st = rk_checkpoint_encode(&src, bp, tmp, bound, &len, inf);
    if (st == RK_OK)
        st = rk_checkpoint_write_file(d->path, tmp, len, d->os_error);
    free(tmp);
    return st;
}

static rk_status rk__checkpoint(rk_runtime *rt, rk_actor_id id, uint32_t flags, const rk__dest *d,
                                rk_checkpoint_info *info)
{
    rk__captured c;
    rk_checkpoint_info inf;
    rk__op op;
    rk_status st;

    if (flags & ~(uint32_t)RK_ACTOR_CHECKPOINT_DELTA)
        return RK_EINVAL;
    st = rk__op_begin(rt, id, &op);
    if (st != RK_OK)
        return st;
    memset(&c, 0, sizeof c);
    if ((flags & RK_ACTOR_CHECKPOINT_DELTA) && !op.s->has_base)
        st = RK_ESTALE;
    else
        st = rk__capture(&op, &c);
    if (st == RK_OK)
        st = rk__encode(&op, &c, flags, d, &inf);
    if (st == RK_OK) {
        rk__snap_commit(op.s, c.state, c.size, inf.seq, inf.state_crc);
        c.state = NULL;
        if (info)
            *info = inf;
    }
    rk__capture_free(op.s, &c);
    rk__op_end(&op);
    return st;
}

rk_status rk_actor_checkpoint(rk_runtime *rt, rk_actor_id id, uint32_t flags, void *buf, size_t cap, size_t *len,
                              rk_checkpoint_info *info)
{
    rk__dest d = {buf, cap, len, NULL, NULL};
    rk_status st;
    if (!len || (!buf && cap > 0))
        return RK_EINVAL;
    rk__trace_push(RK__TRACE_CHECKPOINT);
    st = rk__checkpoint(rt, id, flags, &d, info);
    rk__trace_pop();
    return st;
}

rk_status rk_actor_checkpoint_file(rk_runtime *rt, rk_actor_id id, uint32_t flags, const char *path,
                                   rk_checkpoint_info *info, int *os_error)
{
    rk__dest d = {NULL, 0, NULL, path, os_error};
    rk_status st;
    if (os_error)
        *os_error = 0;
    if (!path)
        return RK_EINVAL;
    rk__trace_push(RK__TRACE_CHECKPOINT_FILE);
    st = rk__checkpoint(rt, id, flags, &d, info);
    rk__trace_pop();
    return st;
}

/* ---- restore ------------------------------------------------------------------------ */

/* The checkpoint's messages, checked and addressed to the actor. */
static rk_status rk__stage_msgs(rk__op *op, uint32_t flags, const void *buf, size_t len,
                                const rk_checkpoint_info *inf, rk__staged *g)
{
    rk_checkpoint_msg_iter it;
    rk__actor *a = op->a;
    rk_status st;

    if (inf->msg_count == 0)
        return RK_OK;
    if (inf->msg_count > a->inbox_capacity)
        return RK_EFULL;
    g->hdrs = calloc((size_t)inf->msg_count, sizeof *g->hdrs);
    g->payloads = calloc((size_t)inf->msg_count, sizeof *g->payloads);
    if (!g->hdrs || !g->payloads)
        return RK_ENOMEM;
    /* Validates the whole checkpoint again: the codec offers no walk over
     * the messages of a checkpoint it has just applied. */
    st = rk_checkpoint_msgs_begin(buf, len, &it);
    for (; st == RK_OK && g->n < inf->msg_count; g->n++) {
        rk_msg *m = &g->hdrs[g->n];
        st = rk_checkpoint_msgs_next(&it, m, &g->payloads[g->n]);
        if (st != RK_OK)
            break;
        /* Checked as a send to this actor: how it travels is decided anew. */
        m->seq = 0;
        m->flags &= ~(uint32_t)RK_MSG_F_BYREF;
        m->ref = 0;
        if (m->tenant != a->tenant)
            return RK_ETENANT;
        if ((flags & RK_ACTOR_RESTORE_ANY_ACTOR) && inf->actor != a->id)
            m->dst_gen = 0; /* it named a generation of the other actor */
        m->dst = a->id;
        st = rk_msg_validate(m, op->rt->opt.max_payload, op->rt->opt.max_payload);
    }
    return st;
}

/* Whether an intact delta's result is the base itself: the actor's last
 * checkpoint, being put back (checked as the codec checks a delta's base:
 * sequence number, size and CRC). */
static int rk__is_base(const rk__snap *s, const rk_checkpoint_info *inf)
{
    return s->has_base && inf->seq == s->base_seq && inf->state_size == s->base_size &&
           inf->state_crc == s->base_crc;
}

/* Stages a delta: applied to a copy of the base, or, when it is the base,
 * the copy itself once the delta is found intact. */
static rk_status rk__stage_delta(rk__snap *s, const void *buf, size_t len, rk_checkpoint_target *t,
                                 rk_checkpoint_info *inf)
{
    rk_status st = rk_checkpoint_decode(buf, len, inf);
    if (st != RK_OK || !(inf->flags & RK_CHECKPOINT_F_DELTA) || !s->has_base || s->base_size > t->cap)
        return st == RK_OK ? rk_checkpoint_apply(buf, len, t, inf) : st;
    memcpy(t->state, s->base, s->base_size);
    t->len = s->base_size;
    t->seq = s->base_seq;
    t->crc = s->base_crc;
    return rk__is_base(s, inf) ? RK_OK : rk_checkpoint_apply(buf, len, t, inf);
}

/* Applies the checkpoint to a state-sized copy - of the base, for a delta -
 * which validates all of it, then checks that it is this actor's. */
static rk_status rk__stage(rk__op *op, uint32_t flags, const void *buf, size_t len, rk__staged *g,
                           rk_checkpoint_info *inf)
{
    const unsigned char *p = buf;
    rk_checkpoint_target t;
    rk_status st;

    g->size = op->ops->state_size(op->rt, op->a);
    g->state = rk__snap_take(op->s, g->size);
    if (!g->state)
        return RK_ENOMEM;
    memset(&t, 0, sizeof t);
    t.state = g->state;
    t.cap = g->size;
    memset(inf, 0, sizeof *inf);
    /* Byte 12 is the flags word (checkpoint.h). Read before validation, it
     * only chooses the path: a damaged header is refused on either. A full
     * checkpoint is validated once, by the apply; a delta (small) first by
     * itself, to see whether it is the base. */
    if (len > 12 && (p[12] & RK_CHECKPOINT_F_DELTA))
        st = rk__stage_delta(op->s, buf, len, &t, inf);
    else
        st = rk_checkpoint_apply(buf, len, &t, inf);
    if (inf->version != 0) { /* intact: whose is it? */
        if (!(flags & RK_ACTOR_RESTORE_ANY_ACTOR) && inf->actor != op->a->id)
            return RK_EINVAL;
        if (inf->state_size != g->size)
            return RK_EINVAL;
    }
    if (st != RK_OK)
        return st;
    return rk__stage_msgs(op, flags, buf, len, inf, g);
}

static void rk__stage_free(rk__snap *s, rk__staged *g)
{
    rk__snap_give(s, g->state, g->size);
    free(g->hdrs);
    free((void *)g->payloads);
}

static rk_status rk__restore(rk__op *op, uint32_t flags, const void *buf, size_t len, rk_checkpoint_info *info)
{
    rk_checkpoint_info inf;
    rk__paused p;
    rk__staged g;
    rk_status st, rst;

    memset(&g, 0, sizeof g);
    memset(&inf, 0, sizeof inf);
    st = rk__stage(op, flags, buf, len, &g, &inf);
    if (st == RK_OK)
        st = rk__pause(op, RK__STATES_RESTORE, &p);
    if (st == RK_OK) {
        st = op->ops->restore(op->rt, &p, g.state, g.hdrs, g.payloads, g.n,
                              (flags & RK_ACTOR_RESTORE_REPLACE_QUEUE) != 0);
        rst = rk__resume(op, &p);
        if (st == RK_OK) {
            /* In place: a failure to resume is reported, not undone. */
            rk__snap_commit(op->s, g.state, g.size, inf.seq, inf.state_crc);
            g.state = NULL;
            st = rst;
        }
    }
    if (info && inf.version != 0)
        *info = inf;
    rk__stage_free(op->s, &g);
    return st;
}

static rk_status rk__restore_buf(rk_runtime *rt, rk_actor_id id, uint32_t flags, const void *buf, size_t len,
                                rk_checkpoint_info *info)
{
    rk__op op;
    rk_status st;
    if (!buf || (flags & ~(uint32_t)(RK_ACTOR_RESTORE_ANY_ACTOR | RK_ACTOR_RESTORE_REPLACE_QUEUE)))
        return RK_EINVAL;
    st = rk__op_begin(rt, id, &op);
    if (st != RK_OK)
        return st;
    st = rk__restore(&op, flags, buf, len, info);
    rk__op_end(&op);
    return st;
}

rk_status rk_actor_restore(rk_runtime *rt, rk_actor_id id, uint32_t flags, const void *buf, size_t len,
                           rk_checkpoint_info *info)
{
    rk_status st;
    rk__trace_push(RK__TRACE_RESTORE);
    st = rk__restore_buf(rt, id, flags, buf, len, info);
    rk__trace_pop();
    return st;
}

/* The largest checkpoint this actor could be restored from: header, state
 * (as a delta, with its bitmap), and a full queue of the largest payloads. */
static uint64_t rk__file_bound(const rk__op *op)
{
    uint64_t state = op->ops->state_size(op->rt, op->a);
    uint64_t msg = RK_MSG_HEADER_SIZE + (uint64_t)op->rt->opt.max_payload + 8;
    return RK_CHECKPOINT_HEADER_SIZE + state + state / RK_CHECKPOINT_BLOCK_SIZE / 8 + 32 +
           (uint64_t)op->a->inbox_capacity * msg;
}

static rk_status rk__restore_file(rk_runtime *rt, rk_actor_id id, uint32_t flags, const char *path,
                                 rk_checkpoint_info *info, int *os_error)
{
    unsigned char *buf = NULL;
    size_t len = 0, got = 0;
    rk__op op;
    rk_status st;

    if (os_error)
        *os_error = 0;
    if (!path || (flags & ~(uint32_t)(RK_ACTOR_RESTORE_ANY_ACTOR | RK_ACTOR_RESTORE_REPLACE_QUEUE)))
        return RK_EINVAL;
    st = rk__op_begin(rt, id, &op);
    if (st != RK_OK)
        return st;
    st = rk_checkpoint_read_file(path, NULL, 0, &len, os_error);
    if (st == RK_OK) /* empty */
        st = RK_EBADMSG;
    else if (st == RK_E2BIG)
        st = (uint64_t)len > rk__file_bound(&op) ? RK_EBADMSG : RK_OK;
    if (st == RK_OK) {
        buf = malloc(len);
        st = buf ? rk_checkpoint_read_file(path, buf, len, &got, os_error) : RK_ENOMEM;
    }
    if (st == RK_OK)
        st = rk__restore(&op, flags, buf, got, info);
    free(buf);
    rk__op_end(&op);
    return st;
}

rk_status rk_actor_restore_file(rk_runtime *rt, rk_actor_id id, uint32_t flags, const char *path,
                                rk_checkpoint_info *info, int *os_error)
{
    rk_status st;
    rk__trace_push(RK__TRACE_RESTORE_FILE);
    st = rk__restore_file(rt, id, flags, path, info, os_error);
    rk__trace_pop();
    return st;
}

rk_status rk_actor_checkpoint_forget(rk_runtime *rt, rk_actor_id id)
{
    rk__op op;
    rk_status st = rk__op_begin(rt, id, &op);
    if (st == RK_ENOTSUP)
        return RK_OK; /* nothing was ever kept */
    if (st != RK_OK)
        return st;
    free(op.s->base);
    free(op.s->spare);
    op.s->base = op.s->spare = NULL;
    op.s->base_size = op.s->spare_size = 0;
    op.s->has_base = 0;
    rk__op_end(&op);
    return RK_OK;
}
