/* Host messaging: rk_send, rk_recv, rk_call.
 *
 * Actors reach the host through one ring (rt->host_ring). Host threads take
 * turns as its consumer under host_lock. A thread that pops a message meant
 * for someone else - a reply to another thread's rk_call, or a plain message
 * while it waits for its reply - hands it over (pending call or mailbox) and
 * wakes the other waiters. Nothing is dropped without a dead letter. */
#include <stdlib.h>
#include <string.h>

#include "core/hostq.h"
#include "core/trace.h"

#define RK__HOST_SPIN_NS 50000ull

struct rk__host_item {
    rk__host_item *next;
    rk_msg hdr;
    unsigned char data[];
};

struct rk__pending_call {
    rk__pending_call *next;
    uint64_t corr;
    rk__host_item *reply;
};

rk_status rk__hostq_init(rk_runtime *rt)
{
    return pthread_mutex_init(&rt->host_lock, NULL) == 0 ? RK_OK : RK_ENOMEM;
}

void rk__hostq_destroy(rk_runtime *rt)
{
    rk__host_item *it = rt->mail_head;
    while (it) {
        rk__host_item *next = it->next;
        free(it);
        it = next;
    }
    rt->mail_head = rt->mail_tail = NULL;
    free(rt->host_taken);
    rt->host_taken = NULL;
    free(rt->host_stage);
    rt->host_stage = NULL;
    pthread_mutex_destroy(&rt->host_lock);
}

rk_status rk__hostq_ll(rk_runtime *rt, uint32_t bytes)
{
    unsigned char *stage = malloc(bytes);
    if (!stage)
        return RK_ENOMEM;
    free(rt->host_stage);
    rt->host_stage = stage;
    rt->host_ll_bytes = bytes;
    /* The memory monitor counts the slots as they are: twice the size. */
    __atomic_add_fetch(&rt->mem.queue_bytes,
                       rk_ring_bytes(rt->host_ring.capacity, rt->host_ring.slot_size) -
                           rk_ring_bytes(rt->host_ring.capacity, bytes),
                       __ATOMIC_RELAXED);
    return RK_OK;
}

/* ---- sending --------------------------------------------------------------- */

rk_status rk_send_msg(rk_runtime *rt, const rk_msg *hdr, const void *payload)
{
    rk_msg m;
    rk_status st;

    if (!rt || !hdr || (hdr->len > 0 && !payload))
        return RK_EINVAL;
    if (hdr->dst == RK_ACTOR_HOST)
        return RK_EINVAL;
    m = *hdr;
    m.seq = 0;
    m.src = RK_ACTOR_HOST;
    m.src_gen = 0;
    st = rk__enter(rt);
    if (st != RK_OK)
        return st;
    st = rk__dispatch(rt, &m, payload, rk__deliver_host);
    rk__leave(rt);
    return st;
}

rk_status rk__host_header(rk_runtime *rt, rk_actor_id dst, uint32_t type, uint32_t len, rk_msg *m)
{
    rk__actor *a;
    rk_runtime *t;
    if (!rt)
        return RK_EINVAL;
    /* A gid names an actor of another member: its tenant is there. */
    a = rk__group_actor(rt, dst, &t);
    if (!a)
        return RK_ENOACTOR;
    memset(m, 0, sizeof *m);
    m->type = type;
    m->dst = dst;
    m->tenant = a->tenant;
    m->len = len;
    return RK_OK;
}

rk_status rk_send(rk_runtime *rt, rk_actor_id dst, uint32_t type, const void *payload, uint32_t len)
{
    rk_msg m;
    rk_status st = rk__host_header(rt, dst, type, len, &m);
    return st == RK_OK ? rk_send_msg(rt, &m, payload) : st;
}

/* rk_send_batch on one runtime without a group: each message gets the
 * checks and the quota of rk__route as rk_send's would, the messages that
 * pass get their timestamps from one move of the clock (consecutive stamps:
 * one compare-and-swap on the shared clock per RK__BATCH messages, not one
 * per message), and the backend takes them RK__BATCH at a time. A message
 * not sent gets what rk__deliver_host gives a refused send (its quota token
 * back). */
#define RK__BATCH 64u

static rk_status rk__send_batch_local(rk_runtime *rt, const rk_msg *tmpl, const unsigned char *p, uint32_t len,
                                      uint32_t n, uint32_t *done)
{
    rk_msg h[RK__BATCH];
    rk_status st = rk__enter(rt);
    if (st != RK_OK)
        return st;
    while (*done < n && st == RK_OK) {
        const uint32_t want = n - *done < RK__BATCH ? n - *done : RK__BATCH;
        uint32_t k, j, ok = 0;
        rk__actor *a = NULL;
        rk_status bst;
        uint64_t stamp = 0;
        for (k = 0; k < want; k++) {
            h[k] = *tmpl;
            h[k].seq = 0;
            h[k].src = RK_ACTOR_HOST;
            h[k].src_gen = 0;
            st = rk__route_check(rt, &h[k], &a);
            if (st != RK_OK)
                break;
        }
        if (k == 0)
            break;
        if ((bst = rk__hlc_now_n(&rt->hlc, k, &stamp)) != RK_OK) {
            for (j = 0; j < k; j++)
                rk__send_refused(rt, &h[j], a, bst);
            st = bst;
            break;
        }
        for (j = 0; j < k; j++)
            h[j].hlc = stamp + j;
        bst = rt->ops->send_batch(rt, a, h, p + (size_t)*done * len, len, k, &ok);
        for (j = ok; j < k; j++)
            rk__send_refused(rt, &h[j], a, bst != RK_OK ? bst : RK_EFULL);
        *done += ok;
        if (ok < k)
            st = bst != RK_OK ? bst : RK_EFULL;
    }
    rk__leave(rt);
    return st;
}

rk_status rk_send_batch(rk_runtime *rt, rk_actor_id dst, uint32_t type, const void *payloads, uint32_t len,
                        uint32_t n, uint32_t *sent)
{
    /* Empty payloads may come as NULL: no arithmetic on a null pointer. */
    const unsigned char *p = payloads ? (const unsigned char *)payloads : (const unsigned char *)"";
    uint32_t done = 0;
    rk_status st;
    rk_msg m;
    if (sent)
        *sent = 0;
    if (!rt || (n > 0 && len > 0 && !payloads) || dst == RK_ACTOR_HOST)
        return RK_EINVAL;
    if (n == 0)
        return RK_OK;
    st = rk__host_header(rt, dst, type, len, &m);
    if (st != RK_OK)
        return st;
    if (rt->ops->send_batch && !rt->group && rk_gid_member(dst) < 0) {
        st = rk__send_batch_local(rt, &m, p, len, n, &done);
    } else {
        /* Groups: each message may be forwarded on its own (group.c). */
        for (; done < n; done++)
            if ((st = rk_send_msg(rt, &m, p + (size_t)done * len)) != RK_OK)
                break;
    }
    if (sent)
        *sent = done;
    return st;
}

/* ---- the host ring ------------------------------------------------------- */

/* The slot at pos by its sequence word (rk_ring_look): 1 published (in an
 * LL ring: its words may still be on their way), 0 not, -1 marked by *owner. */
static int rk__host_look(const rk_runtime *rt, uint64_t pos, uint32_t *owner)
{
    return rt->host_stage ? rk_ring_ll_look(&rt->host_ring, pos, owner) : rk_ring_look(&rt->host_ring, pos, owner);
}

/* The header of the message in the published slot at pos: the slot
 * itself, or in an LL ring its copy in host_stage (valid until the next
 * call), NULL while a word of it is still on its way. */
static const rk_msg *rk__host_hdr(rk_runtime *rt, uint64_t pos)
{
    rk_msg *m = (rk_msg *)rt->host_stage;
    if (!m)
        return (const rk_msg *)rk_ring_slot(&rt->host_ring, pos);
    if (!rk_ring_ll_read(&rt->host_ring, pos, m, 8, RK_MSG_HEADER_SIZE))
        return NULL;
    m->seq = pos + 1;
    return m;
}

/* rk__host_hdr with the inline payload after it. An inline length past
 * the slot's room cannot come from a producer that checks it (both
 * backends do); such a slot is never taken. */
static const rk_msg *rk__host_msg(rk_runtime *rt, uint64_t pos)
{
    const rk_msg *m = rk__host_hdr(rt, pos);
    if (!m || !rt->host_stage || (m->flags & RK_MSG_F_BYREF))
        return m;
    if (m->len > rt->host_ll_bytes - RK_MSG_HEADER_SIZE ||
        !rk_ring_ll_read(&rt->host_ring, pos, rt->host_stage, RK_MSG_HEADER_SIZE, RK_MSG_HEADER_SIZE + m->len))
        return NULL;
    return m;
}

/* Moves the head over what was taken out of order and over reserved
 * slots a producer left unused (RK_MSG_TYPE_NOP), freeing them; and over
 * `first` slots the caller just took. */
static void rk__settle(rk_runtime *rt, uint32_t first)
{
    const uint64_t start = rt->host_head;
    const rk_msg *m;
    uint32_t owner;
    uint64_t pos;
    rt->host_head += first;
    for (;;) {
        unsigned char *t = rt->host_taken ? &rt->host_taken[rt->host_head & (rt->host_taken_cap - 1u)] : NULL;
        if (t && *t)
            *t = 0;
        else if (rk__host_look(rt, rt->host_head, &owner) <= 0 || (m = rk__host_hdr(rt, rt->host_head)) == NULL ||
                 m->type != RK_MSG_TYPE_NOP)
            break;
        rt->host_head++;
    }
    if (rt->host_head == start)
        return;
    if (rt->host_stage)
        for (pos = start; pos < rt->host_head; pos++)
            rk_ring_ll_retire(&rt->host_ring, pos);
    rk_ring_consume(&rt->host_ring, rt->host_head);
}

static int rk__marked_owner(const rk_runtime *rt, uint32_t owner)
{
    for (uint32_t i = 0; i < rt->host_n_marks; i++)
        if (rt->host_mark_owner[i] == owner)
            return 1;
    return 0;
}

/* The next message for the host that may be taken now, still in its slot;
 * NULL if none. In ring order, except past slots their producers marked
 * (ring.h): there a later message is taken if no earlier slot is its
 * sender's, so each sender's order holds. A look goes on where the last
 * one stopped (rt->host_scan) unless a marked slot it went past has been
 * published since; then from the head again. */
static const rk_msg *rk__peek(rk_runtime *rt)
{
    rk_ring *r = &rt->host_ring;
    const uint32_t mask = r->capacity - 1u;
    uint32_t owner = 0, i;
    uint64_t pos;
    int ooo, look = 0;
    if (rt->host_taken_cap != r->capacity) {
        /* Once; without it (no memory) the host reads in order. */
        unsigned char *t = calloc(r->capacity, 1);
        if (t) {
            free(rt->host_taken);
            rt->host_taken = t;
            rt->host_taken_cap = r->capacity;
        }
    }
    ooo = rt->host_taken_cap == r->capacity;
    rk__settle(rt, 0);
    for (i = 0; i < rt->host_n_marks && rk__host_look(rt, rt->host_mark_pos[i], &owner) < 0; i++)
        ;
    if (i < rt->host_n_marks || rt->host_scan < rt->host_head) {
        rt->host_scan = rt->host_head;
        rt->host_n_marks = 0;
    }
    for (pos = rt->host_scan; pos < rt->host_head + r->capacity; pos++) {
        const rk_msg *m = NULL;
        look = rk__host_look(rt, pos, &owner);
        if (look > 0 && (m = rk__host_msg(rt, pos)) == NULL)
            look = 0; /* LL: a word still on its way, as if not published yet */
        if (look == 0)
            break;
        if (look < 0) {
            if (!ooo)
                break;
            if (rk__marked_owner(rt, owner))
                continue; /* its earlier one, listed, decides when to look again */
            if (rt->host_n_marks == RK__HOST_MARKS)
                break;
            rt->host_mark_pos[rt->host_n_marks] = pos;
            rt->host_mark_owner[rt->host_n_marks++] = owner;
            continue;
        }
        if (pos != rt->host_head && rt->host_taken[pos & mask])
            continue;
        if (rk__marked_owner(rt, m->src & RK_RING_OWNER_MASK))
            continue; /* its sender has an earlier message still to come */
        if (m->type == RK_MSG_TYPE_NOP) {
            /* A reserved slot left unused: freed now, or once the head gets
             * there. At the head, rk__settle also frees what follows that
             * was taken out of order, so the look goes on at the new head
             * (spec/hostq.pml, hostq.nop_head: skipped over, a message
             * taken before was taken again). */
            if (pos == rt->host_head) {
                rk__settle(rt, 1);
                pos = rt->host_head - 1;
            } else {
                rt->host_taken[pos & mask] = 1;
            }
            continue;
        }
        rt->host_scan = rt->host_peek = pos;
        return m;
    }
    rt->host_scan = pos;
    /* What a waiting thread watches (rk__hostq_moved): the head, the marked
     * slots listed, and where the look stopped - whether at a marked slot
     * (then only its publication changes anything) or at one nobody marked
     * yet. */
    for (i = 0; i < rt->host_n_marks; i++)
        __atomic_store_n(&rt->host_watch_mark[i], rt->host_mark_pos[i], __ATOMIC_RELAXED);
    __atomic_store_n(&rt->host_watch_n, rt->host_n_marks, __ATOMIC_RELAXED);
    __atomic_store_n(&rt->host_watch_head, rt->host_head, __ATOMIC_RELAXED);
    __atomic_store_n(&rt->host_watch, pos | (look < 0 ? RK_RING_MARK_BIT : 0), __ATOMIC_RELEASE);
    return NULL;
}

/* Frees the slot of the message rk__peek returned. */
static void rk__advance(rk_runtime *rt, const rk_msg *m)
{
    if (m->flags & RK_MSG_F_BYREF)
        rt->ops->host_release(rt, m);
    if (rt->host_peek == rt->host_head)
        rk__settle(rt, 1);
    else
        rt->host_taken[rt->host_peek & (rt->host_taken_cap - 1u)] = 1;
}

int rk__hostq_moved(rk_runtime *rt)
{
    const rk_ring *r = &rt->host_ring;
    const uint64_t w = __atomic_load_n(&rt->host_watch, __ATOMIC_ACQUIRE), pos = w & ~RK_RING_MARK_BIT;
    const uint64_t head = rk_ring_head(r);
    const uint32_t n = __atomic_load_n(&rt->host_watch_n, __ATOMIC_RELAXED);
    uint32_t owner, i;
    int look;
    /* Something was taken since (the head moved), or the head's slot is
     * ready: look again. */
    if (rk__host_look(rt, head, &owner) > 0 || head != __atomic_load_n(&rt->host_watch_head, __ATOMIC_RELAXED))
        return 1;
    /* A listed marked slot published: its owner's later messages may go
     * (spec/hostq.pml, hostq.moved_marks). */
    for (i = 0; i < n && i < RK__HOST_MARKS; i++)
        if (rk__host_look(rt, __atomic_load_n(&rt->host_watch_mark[i], __ATOMIC_RELAXED), &owner) >= 0)
            return 1;
    /* Where the look stopped, the head's slot too (hostq.moved_head). */
    if (pos < head)
        return 0;
    look = rk__host_look(rt, pos, &owner);
    return (w & RK_RING_MARK_BIT) ? look > 0 : look != 0;
}

static rk_status rk__copy_out(rk_msgbuf *out, const rk_msg *hdr, const void *data)
{
    if (hdr->len > out->capacity) {
        out->hdr = *hdr;
        return RK_E2BIG;
    }
    out->hdr = *hdr;
    out->hdr.seq = 0;
    out->hdr.flags &= ~(uint32_t)RK_MSG_F_BYREF;
    out->hdr.ref = 0;
    if (hdr->len)
        memcpy(out->data, data, hdr->len);
    return RK_OK;
}

static rk__host_item *rk__item_from(const rk_msg *m)
{
    rk__host_item *it = malloc(sizeof *it + m->len);
    if (!it)
        return NULL;
    it->next = NULL;
    it->hdr = *m;
    it->hdr.flags &= ~(uint32_t)RK_MSG_F_BYREF;
    it->hdr.ref = 0;
    if (m->len)
        memcpy(it->data, rk_msg_payload(m), m->len);
    return it;
}

static rk__pending_call *rk__find_call(rk_runtime *rt, uint64_t corr)
{
    for (rk__pending_call *c = rt->calls; c; c = c->next)
        if (c->corr == corr)
            return c;
    return NULL;
}

/* Hands a reply to its waiting rk_call, or dead-letters it if the call has
 * gone (timed out). Returns whether someone else must be woken. */
static int rk__route_reply(rk_runtime *rt, const rk_msg *m)
{
    rk__pending_call *c = rk__find_call(rt, m->corr);
    if (!c || c->reply) {
        rk__dead_letter(&rt->dead, m, RK_ETIMEDOUT);
        return 0;
    }
    c->reply = rk__item_from(m);
    if (!c->reply)
        rk__dead_letter(&rt->dead, m, RK_ENOMEM);
    return 1;
}

/* Keeps a plain message for rk_recv while this thread waits for a reply. */
static int rk__hold(rk_runtime *rt, const rk_msg *m)
{
    rk__host_item *it = NULL;
    if (rt->mail_count < rt->opt.host_queue_capacity)
        it = rk__item_from(m);
    if (!it) {
        rk__dead_letter(&rt->dead, m, rt->mail_count < rt->opt.host_queue_capacity ? RK_ENOMEM : RK_EFULL);
        return 0;
    }
    if (rt->mail_tail)
        rt->mail_tail->next = it;
    else
        rt->mail_head = it;
    rt->mail_tail = it;
    rt->mail_count++;
    return 1;
}

static rk__host_item *rk__unhold(rk_runtime *rt)
{
    rk__host_item *it = rt->mail_head;
    if (it) {
        rt->mail_head = it->next;
        if (!rt->mail_head)
            rt->mail_tail = NULL;
        rt->mail_count--;
    }
    return it;
}

/* ---- waiting ------------------------------------------------------------------ */

/* The host's wait loop: spin early (a GPU round trip is ~2 us), then take
 * the backend's epoch before each look at the queue so that a wake-up
 * between the look and the sleep is not lost. The backend's health is
 * taken before each look too: one that is gone wrote everything it will
 * before it was found gone, so a look after that which finds nothing ends
 * the wait (RK_EDEVICE) instead of spinning until the deadline. */
typedef struct rk__waiter {
    uint64_t start, deadline, epoch;
    rk_status health; /* the backend's, before the last look */
} rk__waiter;

static void rk__waiter_init(rk__waiter *w, uint64_t timeout_ns)
{
    w->start = rk__now_ns();
    w->deadline = rk__deadline(timeout_ns);
    w->epoch = 0;
    w->health = RK_OK;
}

/* Called before each look at the queue. */
static void rk__waiter_look(rk_runtime *rt, rk__waiter *w)
{
    if (rk__now_ns() - w->start >= RK__HOST_SPIN_NS)
        w->epoch = rt->ops->host_epoch(rt);
    if (rt->ops->health)
        w->health = rt->ops->health(rt, 0);
}

/* After a look that found nothing and may not wait (timeout 0): the
 * backend's failure if it was gone before the look, else RK_ETIMEDOUT. */
static rk_status rk__waiter_none(const rk__waiter *w)
{
    return w->health != RK_OK ? w->health : RK_ETIMEDOUT;
}

/* Called after a look found nothing; RK_ETIMEDOUT once the deadline passed,
 * RK_ESHUTDOWN once shutdown has begun, the backend's failure (RK_EDEVICE)
 * once it was gone before the look. */
static rk_status rk__waiter_wait(rk_runtime *rt, rk__waiter *w)
{
    uint64_t now = rk__now_ns();
    if (!__atomic_load_n(&rt->accepting, __ATOMIC_ACQUIRE))
        return RK_ESHUTDOWN;
    if (w->health != RK_OK)
        return w->health;
    if (now >= w->deadline)
        return RK_ETIMEDOUT;
    if (now - w->start < RK__HOST_SPIN_NS) {
        /* One pause per look: a pause costs up to ~140 cycles on recent x86,
         * and every one between a reply's arrival and our look is latency. */
        rk__cpu_relax();
        return RK_OK;
    }
    rt->ops->host_wait(rt, w->epoch, w->deadline);
    return RK_OK;
}

/* ---- receiving ------------------------------------------------------------------ */

/* Under host_lock: one attempt at the next plain message. RK_EEMPTY if
 * none is there yet. */
static rk_status rk__try_recv(rk_runtime *rt, rk_msgbuf *out, int *wake)
{
    const rk_msg *m;
    if (rt->mail_head) {
        rk__host_item *it = rt->mail_head;
        rk_status st = rk__copy_out(out, &it->hdr, it->data);
        if (st == RK_OK)
            free(rk__unhold(rt));
        return st;
    }
    while ((m = rk__peek(rt)) != NULL) {
        if (m->flags & RK_MSG_F_REPLY) {
            *wake |= rk__route_reply(rt, m);
            rk__advance(rt, m);
            continue;
        }
        rk_status st = rk__copy_out(out, m, rk_msg_payload(m));
        if (st == RK_OK)
            rk__advance(rt, m);
        return st;
    }
    return RK_EEMPTY;
}

rk_status rk_recv(rk_runtime *rt, rk_msgbuf *out, uint64_t timeout_ns)
{
    rk__waiter w;
    rk_status st;

    if (!rt || !out || (out->capacity > 0 && !out->data))
        return RK_EINVAL;
    st = rk__enter(rt);
    if (st != RK_OK)
        return st;
    rk__waiter_init(&w, timeout_ns);
    for (;;) {
        int wake = 0;
        rk__waiter_look(rt, &w);
        pthread_mutex_lock(&rt->host_lock);
        st = rk__try_recv(rt, out, &wake);
        pthread_mutex_unlock(&rt->host_lock);
        if (wake)
            rt->ops->host_wake(rt);
        if (st != RK_EEMPTY)
            break;
        st = timeout_ns == 0 ? rk__waiter_none(&w) : rk__waiter_wait(rt, &w);
        if (st != RK_OK)
            break;
    }
    rk__leave(rt);
    return st;
}

/* ---- request / reply ----------------------------------------------------------- */

static void rk__unregister(rk_runtime *rt, rk__pending_call *call)
{
    rk__pending_call **p = &rt->calls;
    while (*p && *p != call)
        p = &(*p)->next;
    if (*p)
        *p = call->next;
}

/* Under host_lock: pops until this call's reply shows up. RK_OK once it is in
 * call->reply or copied to `out` (then *done is set). */
static rk_status rk__try_reply(rk_runtime *rt, rk__pending_call *call, rk_msgbuf *out, int *done, int *wake)
{
    const rk_msg *m;
    if (call->reply) {
        *done = 1;
        return rk__copy_out(out, &call->reply->hdr, call->reply->data);
    }
    while ((m = rk__peek(rt)) != NULL) {
        if ((m->flags & RK_MSG_F_REPLY) && m->corr == call->corr) {
            rk_status st = rk__copy_out(out, m, rk_msg_payload(m));
            if (st != RK_OK)
                rk__dead_letter(&rt->dead, m, RK_E2BIG);
            rk__advance(rt, m);
            *done = 1;
            return st;
        }
        if (m->flags & RK_MSG_F_REPLY)
            *wake |= rk__route_reply(rt, m);
        else
            *wake |= rk__hold(rt, m);
        rk__advance(rt, m);
    }
    return RK_OK;
}

static rk_status rk__call(rk_runtime *rt, rk_actor_id dst, uint32_t type, const void *payload, uint32_t len,
                         rk_msgbuf *reply, uint64_t timeout_ns)
{
    rk__pending_call call = {NULL, 0, NULL};
    rk__waiter w;
    rk_status st;
    rk_msg m;

    st = rk__host_header(rt, dst, type, len, &m);
    if (st != RK_OK)
        return st;
    st = rk__enter(rt);
    if (st != RK_OK)
        return st;
    m.flags = RK_MSG_F_REQUEST;
    m.corr = call.corr = __atomic_fetch_add(&rt->next_corr, 1, __ATOMIC_RELAXED);

    /* Registered before the send: the reply may beat us back. */
    pthread_mutex_lock(&rt->host_lock);
    call.next = rt->calls;
    rt->calls = &call;
    pthread_mutex_unlock(&rt->host_lock);

    st = rk_send_msg(rt, &m, payload);
    rk__waiter_init(&w, timeout_ns);
    while (st == RK_OK) {
        int done = 0, wake = 0;
        rk__waiter_look(rt, &w);
        pthread_mutex_lock(&rt->host_lock);
        st = rk__try_reply(rt, &call, reply, &done, &wake);
        pthread_mutex_unlock(&rt->host_lock);
        if (wake)
            rt->ops->host_wake(rt);
        if (done)
            break;
        st = rk__waiter_wait(rt, &w);
    }
    pthread_mutex_lock(&rt->host_lock);
    rk__unregister(rt, &call);
    pthread_mutex_unlock(&rt->host_lock);
    /* A reply handed to this call (by another thread's look) that it does
     * not deliver: too big, or it came after the call gave up. */
    if (call.reply && st != RK_OK)
        rk__dead_letter(&rt->dead, &call.reply->hdr, st);
    free(call.reply);
    rk__leave(rt);
    return st;
}

static rk_status rk__call_routed(rk_runtime *rt, rk_actor_id dst, uint32_t type, const void *payload,
                                uint32_t len, rk_msgbuf *reply, uint64_t timeout_ns)
{
    rk_runtime *t;
    rk_actor_id local;
    rk_status st;
    if (!rt || !reply || (reply->capacity > 0 && !reply->data) || (len > 0 && !payload))
        return RK_EINVAL;
    /* An actor of another member of a group (or one that migrated there)
     * replies to that member's host queue: call through it. A request that
     * would be forwarded to another member is refused (RK_EFULL) instead,
     * since its reply would land elsewhere: then the actor has just moved,
     * and the call goes again to where it is now. */
    for (int tries = 0;; tries++) {
        t = rk__group_target(rt, dst, &local);
        st = rk__call(t, local, type, payload, len, reply, timeout_ns);
        if (st != RK_EFULL || tries == 8 || !rt->group)
            return st;
        {
            rk_actor_id again;
            if (rk__group_target(rt, dst, &again) == t && again == local)
                return st; /* full, not moved */
        }
    }
}

rk_status rk_call(rk_runtime *rt, rk_actor_id dst, uint32_t type, const void *payload, uint32_t len,
                  rk_msgbuf *reply, uint64_t timeout_ns)
{
    rk_status st;
    rk__trace_push(RK__TRACE_CALL);
    st = rk__call_routed(rt, dst, type, payload, len, reply, timeout_ns);
    rk__trace_pop();
    return st;
}

uint64_t rk__hostq_discard(rk_runtime *rt)
{
    uint64_t n = 0;
    const rk_msg *m;
    rk__host_item *it;

    pthread_mutex_lock(&rt->host_lock);
    while ((it = rk__unhold(rt)) != NULL) {
        rk__dead_letter(&rt->dead, &it->hdr, RK_ESHUTDOWN);
        free(it);
        n++;
    }
    if (rt->host_ring.slots) {
        while ((m = rk__peek(rt)) != NULL) {
            rk__dead_letter(&rt->dead, m, RK_ESHUTDOWN);
            rk__advance(rt, m);
            n++;
        }
    }
    pthread_mutex_unlock(&rt->host_lock);
    return n;
}
