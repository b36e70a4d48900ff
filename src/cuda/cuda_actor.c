/* ringkernel CUDA backend: actors as seen from the host.
 *
 * An actor is bound to a block of the running kernel while it exists
 * (Initializing .. Draining, Failed); Terminated frees the block and the
 * inbox for the next actor, and a restart binds it again. The host side
 * keeps the actor's gate (which host senders pass), its inbox, and its
 * state buffers in device memory. Sending is lock-free; lifecycle commands
 * hold b->lock and wait for the GPU's acknowledgement. */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_internal.h"

/* ---- the host gate ---------------------------------------------------------------- */

static int rk__gate_enter(uint32_t *g)
{
    /* Acquire: pairs with the release that opened the gate, so the inbox
     * pointer read next is the one set up before. */
    if (__atomic_add_fetch(g, 1, __ATOMIC_ACQUIRE) & RK__CUDA_GATE_OPEN)
        return 1;
    __atomic_sub_fetch(g, 1, __ATOMIC_RELAXED);
    return 0;
}

static void rk__gate_leave(uint32_t *g)
{
    /* Release: our publish is visible before a closer sees the count drop. */
    __atomic_sub_fetch(g, 1, __ATOMIC_RELEASE);
}

static void rk__gate_close(uint32_t *g)
{
    unsigned spins = 0;
    __atomic_and_fetch(g, ~RK__CUDA_GATE_OPEN, __ATOMIC_SEQ_CST);
    /* Senders inside never block: they finish in a moment. Acquire pairs
     * with their release in rk__gate_leave. */
    while (__atomic_load_n(g, __ATOMIC_ACQUIRE) & ~RK__CUDA_GATE_OPEN) {
        if (++spins > 1000)
            sched_yield();
        else
            rk__cpu_relax();
    }
}

static void rk__gate_open(uint32_t *g)
{
    __atomic_or_fetch(g, RK__CUDA_GATE_OPEN, __ATOMIC_RELEASE);
}

void rk__cuda_close_gates(rk__cuda *b)
{
    uint32_t i;
    /* Before the gates: a gate synced from now on stays closed. */
    __atomic_store_n(&b->gates_shut, 1, __ATOMIC_SEQ_CST);
    for (i = 0; i < b->max_actors; i++)
        if (b->actors[i])
            rk__gate_close(&b->actors[i]->gate);
}

/* ---- sending --------------------------------------------------------------------- */

/* Writes the header (all but the sequence word) into the claimed slot at
 * `pos`, and the payload after it unless it is NULL (by reference). */
static void rk__cuda_put_slot(rk_ring *r, uint64_t pos, const rk_msg *hdr, const void *payload)
{
    unsigned char *slot = rk_ring_slot(r, pos);
    memcpy(slot + 8, (const unsigned char *)hdr + 8, RK_MSG_HEADER_SIZE - 8);
    if (payload && hdr->len)
        memcpy(slot + RK_MSG_HEADER_SIZE, payload, hdr->len);
}

/* Claims a slot, writes the header (and the payload when inline) and
 * publishes it. *pos gets the position. */
static rk_status rk__cuda_push(rk_ring *r, rk_msg *hdr, const void *payload, uint64_t ref, uint64_t *pos)
{
    rk_status st = rk_ring_claim(r, 1, pos);
    if (st != RK_OK)
        return st;
    hdr->ref = ref;
    rk__cuda_put_slot(r, *pos, hdr, ref ? NULL : payload);
    rk_ring_publish(r, *pos, 1);
    return RK_OK;
}

static rk__cuda_byref *rk__cuda_byref_get(rk_runtime *rt, rk__actor *a, rk__cuda_actor *ca)
{
    rk__cuda *b = rt->backend_data;
    rk__cuda_byref *br = __atomic_load_n(&ca->byref, __ATOMIC_ACQUIRE);
    if (br)
        return br;
    /* Not b->lock: a terminate holding it waits for the senders in the gate,
     * and this sender is one of them. Pinned memory is never freed while
     * the kernel runs, so only one arena may be made: under byref_lock. */
    pthread_mutex_lock(&b->byref_lock);
    br = ca->byref;
    if (br)
        goto out;
    br = calloc(1, sizeof *br);
    if (!br)
        goto out;
    br->fifo_cap = a->inbox_capacity;
    br->fifo = calloc(br->fifo_cap, sizeof *br->fifo);
    if (!br->fifo || pthread_mutex_init(&br->lock, NULL) != 0) {
        free(br->fifo);
        free(br);
        br = NULL;
        goto out;
    }
    if (rk__cuda_enter(b) != RK_OK || rk__cuda_pin_late(b, b->byref_bytes, &br->mem) != RK_OK) {
        if (b->have_ctx)
            rk__cuda_leave(b);
        pthread_mutex_destroy(&br->lock);
        free(br->fifo);
        free(br);
        br = NULL;
        goto out;
    }
    rk__cuda_leave(b);
    __atomic_store_n(&ca->byref, br, __ATOMIC_RELEASE);
out:
    pthread_mutex_unlock(&b->byref_lock);
    return br;
}

/* Frees the buffers of every message the GPU has consumed. */
static void rk__cuda_byref_reclaim(rk__cuda_byref *br, const rk_ring *inbox)
{
    /* Acquire: pairs with the GPU's release of its head; its reads of
     * those buffers are done. */
    uint64_t head = __atomic_load_n(&inbox->cons->head, __ATOMIC_ACQUIRE);
    while (br->fifo_count && br->fifo[br->fifo_head].pos < head) {
        br->freed = br->fifo[br->fifo_head].end;
        br->fifo_head = (br->fifo_head + 1) % br->fifo_cap;
        br->fifo_count--;
    }
}

static rk_status rk__cuda_push_byref(rk_runtime *rt, rk__actor *a, rk__cuda_actor *ca, rk_msg *hdr,
                                     const void *payload)
{
    rk__cuda_byref *br = rk__cuda_byref_get(rt, a, ca);
    uint64_t size, need = ((uint64_t)hdr->len + 15) & ~(uint64_t)15, start, pos;
    rk_status st;
    int tries;
    if (!br)
        return RK_ENOMEM;
    size = br->mem.bytes;
    if (need > size)
        return RK_E2BIG;
    pthread_mutex_lock(&br->lock);
    for (tries = 0;; tries++) {
        uint64_t off = br->alloc % size;
        start = br->alloc + (off + need > size ? size - off : 0); /* never wrap a buffer */
        if (start + need - br->freed <= size && br->fifo_count < br->fifo_cap)
            break;
        if (tries == 1) {
            pthread_mutex_unlock(&br->lock);
            return RK_EFULL;
        }
        rk__cuda_byref_reclaim(br, &ca->inbox->ring);
    }
    memcpy((unsigned char *)br->mem.host + start % size, payload, hdr->len);
    hdr->flags |= RK_MSG_F_BYREF;
    st = rk__cuda_push(&ca->inbox->ring, hdr, NULL, br->mem.dev + start % size, &pos);
    if (st == RK_OK) {
        br->alloc = start + need;
        br->fifo[(br->fifo_head + br->fifo_count) % br->fifo_cap].pos = pos;
        br->fifo[(br->fifo_head + br->fifo_count) % br->fifo_cap].end = br->alloc;
        br->fifo_count++;
    }
    pthread_mutex_unlock(&br->lock);
    return st;
}

/* Whether the runtime knows the kernel is gone (a wait or a poll found it
 * so): then nothing would ever take a message. With `check`, the health
 * check first when it is due (a stream query at most once a millisecond;
 * before it is due, one clock read), so a sender that only sends, and
 * finds the inbox full, learns it too instead of RK_EFULL for good. */
int rk__cuda_gone(rk_runtime *rt, int check)
{
    rk__cuda *b = rt->backend_data;
    if (!b)
        return 0;
    if (__atomic_load_n(&b->dead, __ATOMIC_ACQUIRE))
        return 1;
    if (check && rk__now_ns() >= __atomic_load_n(&b->next_health_ns, __ATOMIC_RELAXED))
        rk__cuda_poll(rt, 0);
    return check && __atomic_load_n(&b->dead, __ATOMIC_ACQUIRE);
}

/* A send's status: RK_EFULL becomes RK_EDEVICE when the kernel is gone
 * (rk__cuda_gone with its check). */
rk_status rk__cuda_send_status(rk_runtime *rt, rk_status st)
{
    return st == RK_EFULL && rk__cuda_gone(rt, 1) ? RK_EDEVICE : st;
}

rk_status rk__cuda_send(rk_runtime *rt, rk__actor *a, rk_msg *hdr, const void *payload)
{
    rk__cuda_actor *ca = a->backend;
    uint64_t pos;
    rk_status st;
    if (rk__cuda_gone(rt, 0))
        return RK_EDEVICE;
    if (!ca || !rk__gate_enter(&ca->gate))
        return RK_ESTATE;
    if (hdr->len <= rk_msg_inline_capacity(ca->inbox->ring.slot_size)) {
        hdr->flags &= ~(uint32_t)RK_MSG_F_BYREF;
        st = rk__cuda_push(&ca->inbox->ring, hdr, payload, 0, &pos);
    } else {
        st = rk__cuda_push_byref(rt, a, ca, hdr, payload);
    }
    rk__gate_leave(&ca->gate);
    return rk__cuda_send_status(rt, st);
}

/* Claims as many consecutive inbox positions as are free, at most n and at
 * least one (rk_ring_claim does the claiming; this only picks how many). */
static rk_status rk__cuda_claim_upto(rk_ring *r, uint32_t n, uint64_t *pos, uint32_t *got)
{
    int tries;
    for (tries = 0; tries < 8; tries++) {
        uint64_t tail = __atomic_load_n(&r->prod->tail, __ATOMIC_RELAXED);
        uint64_t head = __atomic_load_n(&r->cons->head, __ATOMIC_ACQUIRE);
        int64_t room = (int64_t)r->capacity - (int64_t)(tail - head);
        uint32_t k = room <= 0 ? 1u : room < (int64_t)n ? (uint32_t)room : n;
        rk_status st = rk_ring_claim(r, k, pos);
        if (st == RK_OK) {
            *got = k;
            return RK_OK;
        }
        if (k == 1)
            return st; /* not even one: full */
    }
    *got = 1;
    return rk_ring_claim(r, 1, pos); /* other producers keep taking what we saw free */
}

rk_status rk__cuda_send_batch(rk_runtime *rt, rk__actor *a, rk_msg *hdrs, const void *payloads, uint32_t len,
                              uint32_t n, uint32_t *sent)
{
    rk__cuda_actor *ca = a->backend;
    const unsigned char *p = payloads;
    rk_status st = RK_OK;
    uint32_t i, k = 0;
    uint64_t pos;
    *sent = 0;
    if (rk__cuda_gone(rt, 0))
        return RK_EDEVICE;
    if (!ca || !rk__gate_enter(&ca->gate))
        return RK_ESTATE;
    if (len > rk_msg_inline_capacity(ca->inbox->ring.slot_size)) {
        /* By reference: each its own buffer and slot. */
        for (i = 0; i < n; i++)
            if ((st = rk__cuda_push_byref(rt, a, ca, &hdrs[i], p + (size_t)i * len)) != RK_OK)
                break;
        *sent = i;
    } else if ((st = rk__cuda_claim_upto(&ca->inbox->ring, n, &pos, &k)) == RK_OK) {
        /* One claim, the slots written, one publication for them all. */
        for (i = 0; i < k; i++) {
            hdrs[i].flags &= ~(uint32_t)RK_MSG_F_BYREF;
            hdrs[i].ref = 0;
            rk__cuda_put_slot(&ca->inbox->ring, pos + i, &hdrs[i], p + (size_t)i * len);
        }
        rk_ring_publish(&ca->inbox->ring, pos, k);
        *sent = k;
        st = k == n ? RK_OK : RK_EFULL;
    }
    rk__gate_leave(&ca->gate);
    return *sent == 0 ? rk__cuda_send_status(rt, st) : st;
}

/* ---- lifecycle ---------------------------------------------------------------------- */

static rk_lifecycle_state rk__cuda_ctl_state(const rk__cuda *b, rk_actor_id id)
{
    return (rk_lifecycle_state)__atomic_load_n(&b->ctl[id].state, __ATOMIC_ACQUIRE);
}

/* Opens the host gate when the actor accepts messages, closes it otherwise.
 * Failed leaves it open: a failure on the device does not close it, the
 * core refuses sends to a Failed actor by its state, and the actor may be
 * running again already - a restart record's (supervisor.h) - when a
 * command that came before reads that state here: closing then would turn
 * away senders of the running actor. */
static void rk__cuda_sync_gate_id(rk__cuda *b, rk_actor_id id, rk__cuda_actor *ca)
{
    const rk_lifecycle_state s = rk__cuda_ctl_state(b, id);
    if (ca->inbox && !ca->retired && !__atomic_load_n(&b->gates_shut, __ATOMIC_SEQ_CST) &&
        (rk_lifecycle_accepts(s) || s == RK_FAILED))
        rk__gate_open(&ca->gate);
    else
        __atomic_and_fetch(&ca->gate, ~RK__CUDA_GATE_OPEN, __ATOMIC_SEQ_CST);
}

static void rk__cuda_sync_gate(rk__cuda *b, rk__actor *a, rk__cuda_actor *ca)
{
    rk__cuda_sync_gate_id(b, a->id, ca);
}

/* The gates of the actors rk__cuda_restarted marked, b->lock held. The
 * flag for any is cleared first: a mark made during the scan leaves it
 * set, for rk__cuda_unlock's look after the release. */
static void rk__cuda_regate(rk__cuda *b)
{
    uint32_t id;
    if (!__atomic_exchange_n(&b->regate_any, 0, __ATOMIC_SEQ_CST))
        return;
    for (id = 0; id < b->max_actors; id++)
        if (__atomic_exchange_n(&b->regate[id], 0, __ATOMIC_SEQ_CST) && b->actors[id])
            rk__cuda_sync_gate_id(b, id, b->actors[id]);
}

void rk__cuda_unlock(rk__cuda *b)
{
    for (;;) {
        rk__cuda_regate(b);
        pthread_mutex_unlock(&b->lock);
        /* Pairs with the fence in rk__cuda_restarted: either its trylock
         * finds the lock free, or this load sees its mark. */
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (!__atomic_load_n(&b->regate_any, __ATOMIC_SEQ_CST) || pthread_mutex_trylock(&b->lock) != 0)
            return;
    }
}

void rk__cuda_restarted(rk__cuda *b, rk_actor_id id)
{
    if (!b->regate || id >= b->max_actors)
        return;
    __atomic_store_n(&b->regate[id], 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&b->regate_any, 1, __ATOMIC_SEQ_CST);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    /* Busy (a command, a checkpoint's pause; maybe this very thread, which
     * polls while its command waits): the holder syncs on its way out. */
    if (pthread_mutex_trylock(&b->lock) == 0)
        rk__cuda_unlock(b);
}

/* A free block; with clusters, one in the cluster of the block serving
 * a->near (rk_actor_options.near) when one is free there, so that K2K
 * between the two goes through the cluster tier (DSMEM). */
static rk_status rk__cuda_slot_take(rk__cuda *b, const rk__actor *a, uint32_t *slot)
{
    uint32_t i, want = 0;
    if (b->n_free == 0)
        return RK_ENOMEM;
    if (b->cluster_size && a->near != RK_ACTOR_NONE && a->near < b->max_actors && b->actors[a->near])
        want = __atomic_load_n(&b->actors[a->near]->slot, __ATOMIC_RELAXED);
    for (i = b->n_free; want && i-- > 0;)
        if (b->free_slots[i] / b->cluster_size == want / b->cluster_size) {
            /* Atomic: rk__cuda_actor_control reads it without b->lock. */
            __atomic_store_n(slot, b->free_slots[i], __ATOMIC_RELAXED);
            b->free_slots[i] = b->free_slots[--b->n_free];
            return RK_OK;
        }
    __atomic_store_n(slot, b->free_slots[--b->n_free], __ATOMIC_RELAXED);
    return RK_OK;
}

static void rk__cuda_bind_cmd(const rk__cuda *b, rk__cuda_actor *ca, const rk__actor *a, rk_lifecycle_event ev,
                              uint32_t gen, rk__gpu_cmd *cmd)
{
    memset(cmd, 0, sizeof *cmd);
    cmd->rate = rk__cuda_rate_of(b, a->tenant); /* its tenant's allowance on the GPU, if rated */
    cmd->op = RK__GPU_OP_BIND;
    cmd->event = ev;
    cmd->actor = a->id;
    cmd->slot = ca->slot;
    cmd->generation = gen;
    cmd->tenant = a->tenant;
    cmd->type = ca->type;
    cmd->state_size = ca->state_bytes;
    cmd->state = ca->state;
    /* A migration's new home: the state is moved in while it is held. */
    cmd->init = ev == RK_EV_CREATE && a->moved_in ? RK__GPU_INIT_KEEP : ca->init;
    cmd->inbox = ca->inbox->dring;
}

/* Dead-letters, with `why`, what an inbox holds past the GPU's head;
 * returns how many. Its tail, for the caller. */
static uint64_t rk__cuda_inbox_dead_letter(rk_runtime *rt, const rk__cuda_inbox *ib, rk_status why, uint64_t *tail)
{
    uint64_t pos = __atomic_load_n(&ib->ring.cons->head, __ATOMIC_ACQUIRE), n = 0;
    *tail = __atomic_load_n(&ib->ring.prod->tail, __ATOMIC_ACQUIRE);
    for (; pos != *tail; pos++) {
        const rk_msg *m = rk_ring_ready(&ib->ring, pos);
        if (!m)
            continue;
        rk__dead_letter(&rt->dead, m, why);
        n++;
    }
    return n;
}

/* Dead-letters what host senders put into an inbox the GPU never read,
 * and empties it for its next actor. */
static void rk__cuda_inbox_flush(rk_runtime *rt, rk__cuda_inbox *ib, rk_status why)
{
    uint64_t tail;
    (void)rk__cuda_inbox_dead_letter(rt, ib, why, &tail);
    rk_ring_consume(&ib->ring, tail);
}

/* Binds an unbound actor to a free block (create, or restart after
 * Terminated). A timed-out command may still bind it later, so the block
 * and inbox stay with the actor unless the GPU refused.
 *
 * A restart opens the host gate before the block runs the new generation:
 * a sender that sees the actor Initializing or Active in its control block
 * (rk_actor_control, which the block writes) then gets in, as on the CPU
 * backend; until then the core refuses it by the Terminated state. Were
 * the gate opened after the acknowledgement, a host that watched the
 * control block would be refused RK_ESTATE for the length of the command's
 * return. If the GPU refuses the bind, the gate closes again and what a
 * sender got in meanwhile (one that passed the state check before the
 * terminate) is dead-lettered. */
static rk_status rk__cuda_bind(rk_runtime *rt, rk__actor *a, rk__cuda_actor *ca, rk_lifecycle_event ev, uint32_t gen,
                               uint64_t deadline_ns)
{
    rk__cuda *b = rt->backend_data;
    rk__gpu_cmd cmd;
    uint64_t bound = 0;
    rk__cuda_inbox *ib;
    rk_status st = rk__cuda_slot_take(b, a, &ca->slot);
    if (st != RK_OK)
        return st;
    st = rk__cuda_inbox_take(b, a->inbox_capacity, a->slot_size, &ib);
    if (st != RK_OK) {
        b->free_slots[b->n_free++] = ca->slot;
        __atomic_store_n(&ca->slot, 0, __ATOMIC_RELAXED);
        return st;
    }
    __atomic_store_n(&ca->inbox, ib, __ATOMIC_RELEASE);
    if (ev == RK_EV_RESTART && !ca->retired && !__atomic_load_n(&b->gates_shut, __ATOMIC_SEQ_CST))
        rk__gate_open(&ca->gate);
    rk__cuda_bind_cmd(b, ca, a, ev, gen, &cmd);
    st = rk__cuda_command(rt, &cmd, deadline_ns, &bound);
    if (!bound && st != RK_ETIMEDOUT && st != RK_EDEVICE) {
        if (ev == RK_EV_RESTART) {
            rk__gate_close(&ca->gate);
            rk__cuda_inbox_flush(rt, ib, st);
        }
        rk__cuda_inbox_give(b, ib);
        b->free_slots[b->n_free++] = ca->slot;
        __atomic_store_n(&ca->inbox, NULL, __ATOMIC_RELEASE);
        __atomic_store_n(&ca->slot, 0, __ATOMIC_RELAXED);
    }
    return st;
}

static rk_status rk__cuda_actor_check(const rk__cuda *b, const rk__actor *a)
{
    if (!a->type || a->type->gpu_type >= b->n_types || a->id >= b->max_actors || b->actors[a->id])
        return RK_EINVAL;
    if (b->state_sizes[a->type->gpu_type] & RK__GPU_LIGHT_TYPE)
        return RK_EINVAL; /* a light type: rk_light_spawn */
    if (a->slot_size < RK_MSG_HEADER_SIZE + 16 || a->slot_size % 16 || a->slot_size > b->msg_buffer)
        return RK_EINVAL;
    if (a->inbox_capacity < 2 || (a->inbox_capacity & (a->inbox_capacity - 1)) || a->inbox_capacity > (1u << 24))
        return RK_EINVAL;
    if (a->block_size > b->block_threads)
        return RK_EINVAL;
    return RK_OK;
}

/* The actor's state and initial state in device memory. */
static rk_status rk__cuda_actor_memory(rk__cuda *b, const rk__actor *a, rk__cuda_actor *ca)
{
    uint32_t need = a->state_size > b->state_sizes[ca->type] ? a->state_size : b->state_sizes[ca->type];
    rk_status st;
    ca->state_bytes = need ? (need + 15u) & ~15u : 16u;
    st = rk__cuda_state_alloc(b, ca->state_bytes, &ca->state);
    if (st != RK_OK || !a->initial_state || a->state_size == 0)
        return st;
    return rk__cuda_init_alloc(b, a->initial_state, a->state_size, ca->state_bytes, &ca->init);
}

static void rk__cuda_actor_release(rk__cuda *b, rk__cuda_actor *ca)
{
    rk__cuda_state_free(b, ca->state, ca->state_bytes);
    free(ca); /* its initial state stays in its pinned chunk until the end */
}

/* The create's init failed: the core forgets the actor (and reuses its
 * id), so the block lets it go and its resources return to the pools. */
static void rk__cuda_unbind_failed(rk_runtime *rt, rk__actor *a, rk__cuda_actor *ca, uint64_t deadline_ns)
{
    rk__cuda *b = rt->backend_data;
    rk__gpu_cmd cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.op = RK__GPU_OP_RESET;
    cmd.actor = a->id;
    cmd.slot = ca->slot;
    if (rk__cuda_command(rt, &cmd, deadline_ns, NULL) != RK_OK)
        return; /* the block keeps it: leaked until the runtime stops */
    rk__cuda_inbox_give(b, ca->inbox);
    b->free_slots[b->n_free++] = ca->slot;
    __atomic_store_n(&ca->inbox, NULL, __ATOMIC_RELEASE);
    __atomic_store_n(&ca->slot, 0, __ATOMIC_RELAXED);
}

rk_status rk__cuda_actor_create(rk_runtime *rt, rk__actor *a, uint64_t deadline_ns)
{
    rk__cuda *b = rt->backend_data;
    rk__cuda_actor *ca;
    rk_control *k;
    rk_status st;
    pthread_mutex_lock(&b->lock);
    st = rk__cuda_actor_check(b, a);
    if (st != RK_OK)
        goto out;
    ca = aligned_alloc(128, sizeof *ca);
    if (!ca) {
        st = RK_ENOMEM;
        goto out;
    }
    memset(ca, 0, sizeof *ca);
    ca->type = a->type->gpu_type;
    st = rk__cuda_enter(b);
    if (st != RK_OK) {
        free(ca);
        goto out;
    }
    st = rk__cuda_actor_memory(b, a, ca);
    if (st != RK_OK) {
        rk__cuda_actor_release(b, ca);
        rk__cuda_leave(b);
        goto out;
    }
    k = &b->ctl[a->id];
    memset(k, 0, sizeof *k);
    k->id = a->id;
    k->tenant = a->tenant;
    k->type = ca->type;
    k->parent = RK_ACTOR_NONE;
    st = rk__cuda_bind(rt, a, ca, RK_EV_CREATE, 1, deadline_ns);
    if (st != RK_OK && ca->inbox && st != RK_ETIMEDOUT && st != RK_EDEVICE)
        rk__cuda_unbind_failed(rt, a, ca, deadline_ns);
    rk__cuda_leave(b);
    if (!ca->inbox) {
        /* Refused, failed or nothing free: nothing of it remains on the GPU. */
        rk__cuda_actor_release(b, ca);
        goto out;
    }
    /* Bound, or maybe bound later (timeout): the block may hold it. */
    b->actors[a->id] = ca;
    a->backend = ca;
    rk__cuda_sync_gate(b, a, ca);
out:
    rk__cuda_unlock(b);
    return st;
}

static rk_status rk__cuda_terminate(rk_runtime *rt, rk__actor *a, rk__cuda_actor *ca, uint64_t deadline_ns)
{
    rk__cuda *b = rt->backend_data;
    rk__gpu_cmd cmd;
    rk_status st;
    rk__gate_close(&ca->gate);
    memset(&cmd, 0, sizeof cmd);
    cmd.op = RK__GPU_OP_EVENT;
    cmd.event = RK_EV_TERMINATE;
    cmd.actor = a->id;
    cmd.slot = ca->slot;
    /* The gate is closed and empty: nothing is claimed past this tail. */
    cmd.h2k_final = __atomic_load_n(&ca->inbox->ring.prod->tail, __ATOMIC_ACQUIRE);
    st = rk__cuda_command(rt, &cmd, deadline_ns, NULL);
    if (st != RK_OK)
        return st;
    __atomic_store_n(&ca->final_head, __atomic_load_n(&ca->inbox->ring.cons->head, __ATOMIC_ACQUIRE),
                     __ATOMIC_RELAXED);
    __atomic_store_n(&ca->final_tail, cmd.h2k_final, __ATOMIC_RELAXED);
    if (ca->byref) {
        pthread_mutex_lock(&ca->byref->lock);
        ca->byref->alloc = ca->byref->freed = 0;
        ca->byref->fifo_head = ca->byref->fifo_count = 0;
        pthread_mutex_unlock(&ca->byref->lock);
    }
    rk__cuda_inbox_give(b, ca->inbox);
    b->free_slots[b->n_free++] = ca->slot;
    __atomic_store_n(&ca->inbox, NULL, __ATOMIC_RELEASE);
    __atomic_store_n(&ca->slot, 0, __ATOMIC_RELAXED);
    return RK_OK;
}

rk_status rk__cuda_actor_command(rk_runtime *rt, rk__actor *a, rk_lifecycle_event ev, uint64_t deadline_ns)
{
    rk__cuda *b = rt->backend_data;
    rk__cuda_actor *ca = a->backend;
    rk__gpu_cmd cmd;
    uint32_t gen;
    rk_status st;
    if (!ca)
        return RK_ENOACTOR;
    pthread_mutex_lock(&b->lock);
    st = rk__cuda_enter(b);
    if (st != RK_OK)
        goto out;
    gen = __atomic_load_n(&b->ctl[a->id].generation, __ATOMIC_ACQUIRE) + 1;
    /* An actor that came by migration (group.h) was created without its
     * initial state, which the core handed over afterwards: the first
     * restart copies it where the block reads it. */
    if (ev == RK_EV_RESTART && !ca->init && a->initial_state && a->state_size &&
        (st = rk__cuda_init_alloc(b, a->initial_state, a->state_size, ca->state_bytes, &ca->init)) != RK_OK)
        goto left;
    if (ev == RK_EV_RESTART && !ca->slot) {
        st = rk_lifecycle_next(rk__cuda_ctl_state(b, a->id), ev, NULL);
        if (st == RK_OK)
            st = rk__cuda_bind(rt, a, ca, ev, gen, deadline_ns);
    } else if (!ca->slot) {
        st = RK_ETRANSITION; /* Terminated: only a restart brings it back */
    } else if (ev == RK_EV_RESTART) {
        rk__cuda_bind_cmd(b, ca, a, ev, gen, &cmd);
        st = rk__cuda_command(rt, &cmd, deadline_ns, NULL);
    } else if (ev == RK_EV_TERMINATE) {
        st = rk__cuda_terminate(rt, a, ca, deadline_ns);
    } else if (ev == RK_EV_DEACTIVATE || ev == RK_EV_ACTIVATE || ev == RK_EV_FAIL) {
        if (ev == RK_EV_DEACTIVATE)
            rk__gate_close(&ca->gate);
        memset(&cmd, 0, sizeof cmd);
        cmd.op = RK__GPU_OP_EVENT;
        cmd.event = ev;
        cmd.actor = a->id;
        cmd.slot = ca->slot;
        st = rk__cuda_command(rt, &cmd, deadline_ns, NULL);
    } else {
        st = RK_EINVAL;
    }
    if (ev == RK_EV_RESTART && st == RK_OK)
        ca->retired = 0;
    rk__cuda_sync_gate(b, a, ca);
left:
    rk__cuda_leave(b);
out:
    rk__cuda_unlock(b);
    return st;
}

rk_lifecycle_state rk__cuda_actor_state(rk_runtime *rt, rk__actor *a)
{
    rk__cuda *b = rt->backend_data;
    if (!b || !a->backend || a->id >= b->max_actors)
        return RK_DORMANT;
    return rk__cuda_ctl_state(b, a->id);
}

rk_status rk__cuda_actor_control(rk_runtime *rt, rk__actor *a, rk_control *out)
{
    rk__cuda *b = rt->backend_data;
    rk__cuda_actor *ca = a->backend;
    const uint64_t *src;
    rk__cuda_inbox *ib;
    uint64_t *dst = (uint64_t *)out, head;
    size_t i;
    if (!b || !ca || a->id >= b->max_actors)
        return RK_ENOACTOR;
    /* Word by word: the GPU writes these while we read. Acquire (free on
     * x86): every word is read after the one before, so a state read
     * first comes with the flags its writer stored before it, also on a
     * weakly ordered host (spec/findings/restart-host-load-order.md). */
    src = (const uint64_t *)&b->ctl[a->id];
    for (i = 0; i < sizeof *out / sizeof *dst; i++)
        dst[i] = __atomic_load_n(&src[i], __ATOMIC_ACQUIRE);
    /* The host's own record (changed under b->lock, read here without). */
    out->block = __atomic_load_n(&ca->slot, __ATOMIC_RELAXED);
    /* No lock (rk__route calls this for every send naming a generation):
     * an inbox is never freed while the kernel runs, so a stale pointer
     * only yields stale positions. */
    ib = __atomic_load_n(&ca->inbox, __ATOMIC_ACQUIRE);
    if (ib) {
        head = __atomic_load_n(&ib->ring.cons->head, __ATOMIC_ACQUIRE);
        out->inbox_head = out->inbox_head > head ? out->inbox_head : head;
        out->inbox_tail = __atomic_load_n(&ib->ring.prod->tail, __ATOMIC_RELAXED);
    } else {
        out->inbox_head = __atomic_load_n(&ca->final_head, __ATOMIC_RELAXED);
        out->inbox_tail = __atomic_load_n(&ca->final_tail, __ATOMIC_RELAXED);
    }
    return RK_OK;
}

/* ---- shutdown ------------------------------------------------------------------------- */

uint64_t rk__cuda_dead_letter_inboxes(rk_runtime *rt)
{
    rk__cuda *b = rt->backend_data;
    uint64_t n = 0, tail;
    uint32_t i;
    for (i = 0; i < b->max_actors; i++)
        if (b->actors[i] && b->actors[i]->inbox)
            n += rk__cuda_inbox_dead_letter(rt, b->actors[i]->inbox, RK_ESHUTDOWN, &tail);
    return n;
}

void rk__cuda_actors_free(rk__cuda *b)
{
    uint32_t i;
    for (i = 0; i < b->max_actors; i++) {
        rk__cuda_actor *ca = b->actors[i];
        if (!ca)
            continue;
        if (ca->byref) {
            rk__cuda_unpin(b, &ca->byref->mem);
            pthread_mutex_destroy(&ca->byref->lock);
            free(ca->byref->fifo);
            free(ca->byref);
        }
        free(ca);
        b->actors[i] = NULL;
    }
}

/* ---- checkpoints (core/snapshot.c) ------------------------------------------------------
 *
 * The pause closes the actor's host gate (host senders see RK_ESTATE until
 * resume; the inbox tail is final) and holds its block between two
 * messages (RK__GPU_OP_HOLD in device.cuh): the block closes its K2K door,
 * waits for the senders inside, publishes both queue heads and from then on
 * takes commands only. Everything queued stays where it is, and the host
 * reads it: the inbox in pinned memory in place, the K2K queue from a copy
 * of its device memory. A checkpoint so holds the actor's state and its
 * queued messages, as on the CPU backend, and a Failed actor's queue too.
 * b->lock is held from pause to resume: no other command reaches the block
 * meanwhile. A Terminated actor has no block: pausing it only closes its
 * gate.
 *
 * Visibility: the block publishes its heads with release stores after the
 * handlers' state writes and acknowledges the hold with a system-scope
 * release; the host's acquire of the acknowledgement makes the state, the
 * heads and the K2K messages (their senders left the door, which the block
 * saw with acquire) visible to the copies that follow - except a K2K
 * sequence word, which a sender stores after leaving: the copy is read again
 * until every one has landed. Restored state is copied in before anything
 * wakes the block, and the block takes every message with an acquire,
 * which also discards stale L1 lines. */

#define RK__CUDA_SNAP_HELD 1u /* p->resume: the block may be held; resume lets it go */
#define RK__CUDA_SNAP_RESUME_NS 5000000000ull

static size_t rk__cuda_snap_state_size(rk_runtime *rt, rk__actor *a)
{
    rk__cuda *b = rt->backend_data;
    rk__cuda_actor *ca = a->backend;
    uint32_t t;
    if (!b || !ca)
        return a->state_size;
    t = b->state_sizes[ca->type];
    return a->state_size > t ? a->state_size : t;
}

/* One RK__GPU_OP_HOLD command (enum rk__gpu_hold_op) to the actor's block. */
static rk_status rk__cuda_hold(rk_runtime *rt, rk__actor *a, rk__cuda_actor *ca, uint32_t op, uint64_t deadline_ns,
                               uint64_t *value, uint64_t *value2)
{
    rk__gpu_cmd cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.op = RK__GPU_OP_HOLD;
    cmd.event = op;
    cmd.actor = a->id;
    cmd.slot = ca->slot;
    cmd.h2k_final = ca->hold_h2k[1]; /* SKIP, RETIRE: past everything the hold found */
    cmd.state = ca->hold_k2k[1];
    return rk__cuda_commands(rt, &cmd, 1, deadline_ns, value, value2);
}

/* The block's K2K queue as seen in the copy `mem`. */
static rk_ring rk__cuda_k2k_view(const rk__cuda *b, unsigned char *mem)
{
    rk_ring v;
    memset(&v, 0, sizeof v);
    v.prod = (rk_ring_prod *)(void *)mem;
    v.cons = (rk_ring_cons *)(void *)(mem + RK_RING_LINE);
    v.slots = mem + 2 * RK_RING_LINE;
    v.capacity = b->k2k_capacity;
    v.slot_size = b->k2k_slot_size;
    v.mode = RK_RING_MPSC;
    v.scope = RK_RING_SCOPE_DEVICE;
    return v;
}

/* Right after the hold's acknowledgement: notes what is queued and copies
 * the K2K queue, until every message in it has its sequence word - unless
 * the acknowledgement says it is empty (k2k_tail == k2k_head): then there
 * is nothing to copy (two copies from device memory, ~10 us each on an
 * H200, saved for each hold of a migration or a checkpoint). */
static rk_status rk__cuda_hold_look(rk__cuda *b, rk__cuda_actor *ca, uint64_t k2k_head, uint64_t k2k_tail,
                                    uint64_t deadline_ns)
{
    const rk_ring *in = &ca->inbox->ring;
    const size_t bytes = rk_ring_bytes(b->k2k_capacity, b->k2k_slot_size);
    uint64_t nap = 1000;
    /* Acquire: the block published its head with a system-scope release;
     * the tail is final (the gate is closed and empty). */
    ca->hold_h2k[0] = __atomic_load_n(&in->cons->head, __ATOMIC_ACQUIRE);
    ca->hold_h2k[1] = __atomic_load_n(&in->prod->tail, __ATOMIC_ACQUIRE);
    if (ca->hold_h2k[1] - ca->hold_h2k[0] > in->capacity)
        return RK_EINTERNAL;
    ca->hold_copy = malloc(bytes);
    if (!ca->hold_copy)
        return RK_ENOMEM;
    if (k2k_tail == k2k_head) {
        /* The copy stays unread (an empty range); held_each takes its
         * presence for "held". */
        ca->hold_k2k[0] = ca->hold_k2k[1] = k2k_head;
        return RK_OK;
    }
    for (;;) {
        rk_ring v = rk__cuda_k2k_view(b, ca->hold_copy);
        const CUdeviceptr at = b->k2k_d + (CUdeviceptr)ca->slot * bytes;
        uint64_t tail, pos;
        /* The two index lines first: the slots only if something is queued. */
        rk_status st = rk__cuda_download(b, ca->hold_copy, at, 2 * RK_RING_LINE);
        if (st == RK_OK && v.prod->tail != k2k_head)
            st = rk__cuda_download(b, ca->hold_copy, at, bytes);
        if (st != RK_OK)
            return st;
        tail = v.prod->tail;
        if (tail < k2k_head || tail - k2k_head > v.capacity)
            return RK_EINTERNAL;
        for (pos = k2k_head; pos != tail; pos++)
            if (*(const uint64_t *)rk_ring_slot(&v, pos) != pos + 1)
                break;
        if (pos == tail) {
            ca->hold_k2k[0] = k2k_head;
            ca->hold_k2k[1] = tail;
            return RK_OK;
        }
        if (rk__now_ns() >= deadline_ns)
            return RK_ETIMEDOUT;
        rk__sleep_ns(nap);
        nap = nap < 64000 ? 2 * nap : nap;
    }
}

/* Ends a hold: `op` RK__GPU_HOLD_OFF (the actor goes on) or
 * RK__GPU_HOLD_RETIRE (past everything queued, door closed). */
static rk_status rk__cuda_let_go(rk_runtime *rt, rk__actor *a, rk__cuda_actor *ca, rk__paused *p, uint32_t op)
{
    rk_status st = RK_OK;
    /* Retire drops everything queued now, messages a restore put in behind
     * what the hold found too (the gate is closed: the tail is final). */
    if (op == RK__GPU_HOLD_RETIRE && ca->inbox)
        ca->hold_h2k[1] = __atomic_load_n(&ca->inbox->ring.prod->tail, __ATOMIC_ACQUIRE);
    if (p->resume & RK__CUDA_SNAP_HELD) {
        st = rk__cuda_hold(rt, a, ca, op, rk__deadline(RK__CUDA_SNAP_RESUME_NS), NULL, NULL);
        /* The hold itself was refused (a terminate had begun): not held. */
        if (st == RK_ESTATE)
            st = RK_OK;
        p->resume &= ~RK__CUDA_SNAP_HELD;
    }
    free(ca->hold_copy);
    ca->hold_copy = NULL;
    memset(ca->hold_h2k, 0, sizeof ca->hold_h2k);
    memset(ca->hold_k2k, 0, sizeof ca->hold_k2k);
    return st;
}

static rk_status rk__cuda_snap_pause(rk_runtime *rt, rk__actor *a, uint64_t deadline_ns, rk__paused *p)
{
    rk__cuda *b = rt->backend_data;
    rk__cuda_actor *ca = a->backend;
    uint64_t k2k_head = 0, k2k_tail = 0;
    rk_status st;
    if (!b || !ca)
        return RK_ENOACTOR;
    p->a = a;
    p->state_size = rk__cuda_snap_state_size(rt, a);
    p->resume = 0;
    pthread_mutex_lock(&b->lock);
    st = rk__cuda_enter(b);
    if (st != RK_OK) {
        rk__cuda_unlock(b);
        return st;
    }
    p->prior = (uint32_t)rk__cuda_ctl_state(b, a->id);
    memset(ca->hold_h2k, 0, sizeof ca->hold_h2k);
    memset(ca->hold_k2k, 0, sizeof ca->hold_k2k);
    if (ca->inbox)
        rk__gate_close(&ca->gate);
    if (ca->slot && ca->inbox && p->prior != RK_TERMINATED && p->prior != RK_DORMANT) {
        uint64_t nap = 20000;
        st = rk__cuda_hold(rt, a, ca, RK__GPU_HOLD_ON, deadline_ns, &k2k_head, &k2k_tail);
        /* RK_EFULL: the K2K queue had no room for what the cluster tier
         * holds (device.cuh, rk__gpu_ck2k_spill); the block goes on
         * handling it meanwhile, so try again until the deadline - unless
         * the actor failed: then it handles nothing. */
        while (st == RK_EFULL && p->prior != RK_FAILED && rk__now_ns() + nap < deadline_ns) {
            rk__sleep_ns(nap);
            nap = nap < 1000000 ? 2 * nap : nap;
            st = rk__cuda_hold(rt, a, ca, RK__GPU_HOLD_ON, deadline_ns, &k2k_head, &k2k_tail);
        }
        /* Timed out, the hold may still be applied: resume it either way. */
        if (st == RK_OK || st == RK_ETIMEDOUT)
            p->resume |= RK__CUDA_SNAP_HELD;
        if (st == RK_OK)
            st = rk__cuda_hold_look(b, ca, k2k_head, k2k_tail, deadline_ns);
        /* The state as the hold found it (the acknowledgement's acquire
         * makes it current): a handler may have failed before the block
         * took the hold, and a Failed actor takes no restore. */
        if (st == RK_OK)
            p->prior = (uint32_t)rk__cuda_ctl_state(b, a->id);
        if (st != RK_OK) {
            (void)rk__cuda_let_go(rt, a, ca, p, RK__GPU_HOLD_OFF);
            rk__cuda_sync_gate(b, a, ca);
            rk__cuda_leave(b);
            rk__cuda_unlock(b);
            return st;
        }
    }
    rk__cuda_leave(b);
    return RK_OK; /* b->lock stays held until resume */
}

static rk_status rk__cuda_snap_read_state(rk_runtime *rt, rk__paused *p, void *dst)
{
    rk__cuda *b = rt->backend_data;
    rk__cuda_actor *ca = p->a->backend;
    rk_status st;
    if (p->state_size == 0)
        return RK_OK;
    st = rk__cuda_enter(b);
    if (st != RK_OK)
        return st;
    st = rk__cuda_download(b, dst, ca->state, p->state_size);
    rk__cuda_leave(b);
    return st;
}

/* The payload of inbox message m: in its slot, or in the actor's
 * by-reference arena (pinned memory; the GPU's address in m->ref). */
static const void *rk__cuda_held_payload(const rk__cuda_actor *ca, const rk_msg *m)
{
    const rk__cuda_byref *br = ca->byref;
    uint64_t off;
    if (!(m->flags & RK_MSG_F_BYREF))
        return (const unsigned char *)m + RK_MSG_HEADER_SIZE;
    if (!br || m->ref < br->mem.dev)
        return NULL;
    off = m->ref - br->mem.dev;
    if (off > br->mem.bytes || m->len > br->mem.bytes - off)
        return NULL;
    return (const unsigned char *)br->mem.host + off;
}

/* Calls fn for each message the hold found, both queues merged by their
 * clock stamps (oldest first; the inbox first on a tie). Skips the slots a
 * refused K2K send filled with a no-op. */
static rk_status rk__cuda_held_each(rk__cuda *b, rk__cuda_actor *ca, rk__msg_fn fn, void *arg)
{
    const rk_ring *in;
    rk_ring v;
    uint64_t i = ca->hold_h2k[0], j = ca->hold_k2k[0];
    if (!ca->hold_copy || !ca->inbox)
        return RK_OK; /* nothing held: a Terminated actor */
    in = &ca->inbox->ring;
    v = rk__cuda_k2k_view(b, ca->hold_copy);
    while (i != ca->hold_h2k[1] || j != ca->hold_k2k[1]) {
        const rk_msg *hm = i != ca->hold_h2k[1] ? (const rk_msg *)rk_ring_slot(in, i) : NULL;
        const rk_msg *km = j != ca->hold_k2k[1] ? (const rk_msg *)rk_ring_slot(&v, j) : NULL;
        const rk_msg *m;
        const void *payload;
        rk_msg h;
        rk_status st;
        if (km && km->type == RK_MSG_TYPE_NOP) {
            j++;
            continue;
        }
        if (hm && hm->type == RK_MSG_TYPE_NOP) {
            i++;
            continue;
        }
        if (hm && (!km || hm->hlc <= km->hlc)) {
            m = hm;
            i++;
            payload = rk__cuda_held_payload(ca, m);
        } else {
            m = km;
            j++;
            payload = (const unsigned char *)m + RK_MSG_HEADER_SIZE;
            if (m->len > rk_msg_inline_capacity(v.slot_size))
                payload = NULL;
        }
        if (!payload)
            return RK_EINTERNAL;
        h = *m;
        h.seq = 0;
        h.ref = 0; /* RK_MSG_F_BYREF stays, as it was queued */
        st = fn(arg, &h, payload);
        if (st != RK_OK)
            return st;
    }
    return RK_OK;
}

static rk_status rk__cuda_snap_read_msgs(rk_runtime *rt, rk__paused *p, rk__msg_fn fn, void *arg)
{
    return rk__cuda_held_each(rt->backend_data, p->a->backend, fn, arg);
}

static rk_status rk__cuda_dead_letter_one(void *arg, const rk_msg *m, const void *payload)
{
    rk_runtime *rt = arg;
    (void)payload;
    rk__dead_letter(&rt->dead, m, RK_ESTALE);
    return RK_OK;
}

/* Whether n messages fit behind what is queued (nothing, with `empty`):
 * the inbox slots, and the by-reference arena for those too large for a
 * slot, placed as rk__cuda_push_byref will place them (a buffer never
 * wraps). Nothing else produces into the inbox while the gate is closed. */
static rk_status rk__cuda_snap_room(rk_runtime *rt, rk__actor *a, rk__cuda_actor *ca, const rk_msg *hdrs, size_t n,
                                    int empty)
{
    const rk_ring *in = &ca->inbox->ring;
    uint32_t inline_cap = rk_msg_inline_capacity(in->slot_size);
    uint64_t depth = empty ? 0
                           : __atomic_load_n(&in->prod->tail, __ATOMIC_ACQUIRE) -
                                 __atomic_load_n(&in->cons->head, __ATOMIC_ACQUIRE);
    uint64_t size, alloc, freed;
    uint32_t slots;
    rk__cuda_byref *br;
    size_t i, byref = 0;
    if (n > in->capacity - depth)
        return RK_EFULL;
    for (i = 0; i < n; i++)
        byref += hdrs[i].len > inline_cap;
    if (byref == 0)
        return RK_OK;
    br = rk__cuda_byref_get(rt, a, ca);
    if (!br)
        return RK_ENOMEM;
    pthread_mutex_lock(&br->lock);
    rk__cuda_byref_reclaim(br, in);
    size = br->mem.bytes;
    alloc = br->alloc;
    freed = empty ? br->alloc : br->freed;
    slots = empty ? br->fifo_cap : br->fifo_cap - br->fifo_count;
    pthread_mutex_unlock(&br->lock);
    if (byref > slots)
        return RK_EFULL;
    for (i = 0; i < n; i++) {
        uint64_t need = ((uint64_t)hdrs[i].len + 15) & ~(uint64_t)15, off = alloc % size, start;
        if (hdrs[i].len <= inline_cap)
            continue;
        start = alloc + (off + need > size ? size - off : 0);
        if (need > size || start + need - freed > size)
            return RK_EFULL;
        alloc = start + need;
    }
    return RK_OK;
}

static rk_status rk__cuda_snap_restore(rk_runtime *rt, rk__paused *p, const void *state, const rk_msg *hdrs,
                                       const void *const *payloads, size_t n, int replace)
{
    rk__cuda *b = rt->backend_data;
    rk__actor *a = p->a;
    rk__cuda_actor *ca = a->backend;
    const int queued = ca->hold_h2k[0] != ca->hold_h2k[1] || ca->hold_k2k[0] != ca->hold_k2k[1];
    uint32_t inline_cap;
    rk_status st;
    size_t i;
    if (!ca->inbox || !rk_lifecycle_runs((rk_lifecycle_state)p->prior) || !(p->resume & RK__CUDA_SNAP_HELD))
        return RK_ESTATE;
    st = rk__cuda_snap_room(rt, a, ca, hdrs, n, replace && queued);
    if (st != RK_OK)
        return st;
    st = rk__cuda_enter(b);
    if (st != RK_OK)
        return st;
    /* The state first: an upload that fails leaves everything as it was. */
    if (p->state_size && state)
        st = rk__cuda_upload(b, ca->state, state, p->state_size);
    if (st == RK_OK && replace && queued) {
        /* The block skips what is queued; the host dead-letters its copies.
         * Held still: the restored messages go in behind. A skip that timed
         * out may still be applied: its messages are dead-lettered all the
         * same (never lost without a trace), and the restore fails. */
        st = rk__cuda_hold(rt, a, ca, RK__GPU_HOLD_SKIP, rk__deadline(RK__CUDA_SNAP_RESUME_NS), NULL, NULL);
        if (st == RK_OK || st == RK_ETIMEDOUT) {
            (void)rk__cuda_held_each(b, ca, rk__cuda_dead_letter_one, rt);
            ca->hold_h2k[0] = ca->hold_h2k[1];
            ca->hold_k2k[0] = ca->hold_k2k[1];
        }
    }
    rk__cuda_leave(b);
    if (st != RK_OK)
        return st;
    inline_cap = rk_msg_inline_capacity(ca->inbox->ring.slot_size);
    for (i = 0; i < n && st == RK_OK; i++) {
        rk_msg hdr = hdrs[i];
        uint64_t pos;
        hdr.flags &= ~(uint32_t)RK_MSG_F_BYREF;
        hdr.ref = 0;
        if (hdr.len <= inline_cap)
            st = rk__cuda_push(&ca->inbox->ring, &hdr, payloads[i], 0, &pos);
        else
            st = rk__cuda_push_byref(rt, a, ca, &hdr, payloads[i]);
    }
    /* Checked above: a failure here is a broken invariant, not a full queue. */
    return st == RK_OK ? RK_OK : RK_EINTERNAL;
}

static rk_status rk__cuda_snap_resume(rk_runtime *rt, rk__paused *p)
{
    rk__cuda *b = rt->backend_data;
    rk__actor *a = p->a;
    rk__cuda_actor *ca = a->backend;
    rk_status st = rk__cuda_enter(b);
    if (st == RK_OK) {
        st = rk__cuda_let_go(rt, a, ca, p, RK__GPU_HOLD_OFF);
        rk__cuda_leave(b);
    } else {
        free(ca->hold_copy);
        ca->hold_copy = NULL;
    }
    rk__cuda_sync_gate(b, a, ca);
    rk__cuda_unlock(b);
    return st;
}

/* Migration (group.h): the caller has moved what the hold found; the block
 * skips it and goes on with its door closed, and the host gate stays
 * closed (its senders forward from now on) until the caller terminates it. */
static rk_status rk__cuda_snap_retire(rk_runtime *rt, rk__paused *p)
{
    rk__cuda *b = rt->backend_data;
    rk__actor *a = p->a;
    rk__cuda_actor *ca = a->backend;
    rk_status st = rk__cuda_enter(b);
    ca->retired = 1; /* no restart event the device made before opens its gate */
    if (st == RK_OK) {
        st = rk__cuda_let_go(rt, a, ca, p, RK__GPU_HOLD_RETIRE);
        rk__cuda_leave(b);
    } else {
        free(ca->hold_copy);
        ca->hold_copy = NULL;
    }
    rk__cuda_unlock(b);
    return st;
}

const struct rk__snapshot_ops rk__cuda_snapshot_ops = {
    .state_size = rk__cuda_snap_state_size,
    .pause = rk__cuda_snap_pause,
    .read_state = rk__cuda_snap_read_state,
    .read_msgs = rk__cuda_snap_read_msgs,
    .restore = rk__cuda_snap_restore,
    .resume = rk__cuda_snap_resume,
    .retire = rk__cuda_snap_retire,
};
