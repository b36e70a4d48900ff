/* The GPU actor types of the GPU tests (see gpu_actors.h). */
#include "gpu_actors.h"
#include "ringkernel/device.cuh"

#define RKT_SEND_TIMEOUT_NS 10000000000ull

typedef struct rkt_none {
    uint64_t unused;
} rkt_none;

/* A reply to a request, else a message to the host (waiting while the
 * host's queue is full). */
static __device__ rk_status rkt_answer(rk_dctx *c, const rk_msg *m, uint32_t type, const void *p, uint32_t len)
{
    if (m->flags & RK_MSG_F_REQUEST)
        return rk_dreply(c, type, p, len);
    return rk_dsend_wait(c, RK_ACTOR_HOST, type, p, len, RKT_SEND_TIMEOUT_NS);
}

/* The sum of a payload's bytes, by the whole block. */
static __device__ uint64_t rkt_block_sum(const unsigned char *p, uint32_t len)
{
    __shared__ unsigned long long total;
    unsigned long long mine = 0;
    uint32_t i;
    if (threadIdx.x == 0)
        total = 0;
    __syncthreads();
    for (i = threadIdx.x; i < len; i += blockDim.x)
        mine += p[i];
    atomicAdd(&total, mine);
    __syncthreads();
    return total;
}

static __device__ rk_status rkt_echo(rk_dctx *c, rkt_none *s, const rk_msg *m)
{
    (void)s;
    if (m->type != RKT_MSG_ECHO)
        return RK_OK;
    if (m->flags & RK_MSG_F_BYREF) {
        const rkt_stress *h = (const rkt_stress *)rk_msg_payload(m);
        rkt_sum r;
        r.sum = rkt_block_sum((const unsigned char *)rk_msg_payload(m), m->len);
        r.sender = h->sender;
        r.len = m->len;
        r.seq = h->seq;
        return rkt_answer(c, m, RKT_MSG_SUM, &r, sizeof r);
    }
    return rkt_answer(c, m, RKT_MSG_ECHO, rk_msg_payload(m), m->len);
}

static __device__ rk_status rkt_counter_init(rk_dctx *c, rkt_counter_state *s)
{
    __syncthreads();
    if (threadIdx.x == 0) {
        s->init_magic = RKT_INIT_MAGIC;
        s->init_runs++;
        s->generation = rk_dgeneration(c);
    }
    __syncthreads();
    return RK_OK;
}

/* WAIT keeps the block busy for the payload's timeout (rkt_wait, without a
 * flag, or RKT_WAIT_UNTIL_COMMAND), so that what is sent meanwhile stays
 * queued. The command test reads the block's mailbox word as
 * rk__gpu_decide does: test code, not an API. */
static __device__ rk_status rkt_counter(rk_dctx *c, rkt_counter_state *s, const rk_msg *m)
{
    __shared__ rkt_counter_state snap;
    const int wait = m->type == RKT_MSG_WAIT && m->len == sizeof(rkt_wait);
    const int until_cmd = wait && ((const rkt_wait *)rk_msg_payload(m))->flag == RKT_WAIT_UNTIL_COMMAND;
    if (until_cmd) {
        (void)rk_dsend(c, RK_ACTOR_HOST, RKT_MSG_WAIT, NULL, 0);
        rk_dflush(c);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        if (wait) {
            const uint64_t start = rk_dclock_ns(), ns = ((const rkt_wait *)rk_msg_payload(m))->timeout_ns;
            while (!rk_dstopping(c) && rk_dclock_ns() - start < ns &&
                   !(until_cmd && rk__ld_relaxed(&c->slot->mbox_seq, RK_RING_SCOPE_DEVICE) != c->mbox_taken))
                __nanosleep(1000);
        }
        if (m->type == RKT_MSG_INC)
            s->count++;
        snap = *s;
    }
    __syncthreads();
    if (m->type == RKT_MSG_FAIL)
        return RK_EHANDLER;
    if (m->type == RKT_MSG_INC)
        return rkt_answer(c, m, RKT_MSG_INC, &snap.count, sizeof snap.count);
    return rkt_answer(c, m, RKT_MSG_GET, &snap, sizeof snap);
}

static __device__ rk_status rkt_relay(rk_dctx *c, rkt_relay_state *s, const rk_msg *m)
{
    __shared__ rkt_token t;
    __shared__ int bad;
    if (m->type == RKT_MSG_SETUP) {
        __syncthreads();
        if (threadIdx.x == 0)
            s->next = *(const uint32_t *)rk_msg_payload(m);
        __syncthreads();
        return rkt_answer(c, m, RKT_MSG_SETUP, NULL, 0);
    }
    if (m->type != RKT_MSG_TOKEN || m->len != sizeof(rkt_token))
        return RK_EBADMSG;
    __syncthreads();
    if (threadIdx.x == 0) {
        t = *(const rkt_token *)rk_msg_payload(m);
        bad = t.check != rkt_token_check(t.hops);
        t.hops++;
        t.check = rkt_token_check(t.hops);
        s->passes++;
    }
    __syncthreads();
    if (bad)
        return RK_EBADMSG;
    if (t.hops >= t.target)
        return rk_dsend_wait(c, RK_ACTOR_HOST, RKT_MSG_DONE, &t, sizeof t, RKT_SEND_TIMEOUT_NS);
    return rk_dsend_wait(c, s->next, RKT_MSG_TOKEN, &t, sizeof t, RKT_SEND_TIMEOUT_NS);
}

static __device__ rk_status rkt_failer(rk_dctx *c, rkt_none *s, const rk_msg *m)
{
    (void)s;
    if (m->type == RKT_MSG_FAIL)
        return RK_EHANDLER;
    if (m->type == RKT_MSG_FAIL_ONE)
        return threadIdx.x == 37 % blockDim.x ? RK_ENOTSUP : RK_OK;
    return rkt_answer(c, m, m->type, rk_msg_payload(m), m->len);
}

static __device__ rk_status rkt_sleeper(rk_dctx *c, rkt_none *s, const rk_msg *m)
{
    (void)s;
    if (m->type == RKT_MSG_WAIT) {
        const rkt_wait *w = (const rkt_wait *)rk_msg_payload(m);
        if (threadIdx.x == 0) {
            const volatile uint32_t *flag = (const volatile uint32_t *)(uintptr_t)w->flag;
            uint64_t start = rk_dclock_ns();
            while ((!flag || !*flag) && !rk_dstopping(c) && rk_dclock_ns() - start < w->timeout_ns)
                __nanosleep(1000);
        }
        __syncthreads();
    }
    return rkt_answer(c, m, m->type, NULL, 0);
}

static __device__ rk_status rkt_probe_handle(rk_dctx *c, rkt_none *s, const rk_msg *m)
{
    __shared__ unsigned char buf[512];
    const rkt_probe *p = (const rkt_probe *)rk_msg_payload(m);
    rk_msg h;
    int32_t st;
    uint32_t i;
    (void)s;
    for (i = threadIdx.x; i < sizeof buf; i += blockDim.x)
        buf[i] = (unsigned char)i;
    memset(&h, 0, sizeof h);
    h.type = RKT_MSG_NOP;
    h.dst = p->dst;
    h.dst_gen = p->dst_gen;
    h.len = p->len < sizeof buf ? p->len : (uint32_t)sizeof buf;
    for (i = 0; i < (p->count ? p->count : 1u); i++) {
        h.dst_gen = p->gen2 && (i & 1u) ? p->gen2 : p->dst_gen;
        st = p->wait ? (int32_t)rk_dsend_wait(c, h.dst, h.type, buf, h.len, RKT_SEND_TIMEOUT_NS)
                     : (int32_t)rk_dsend_msg(c, &h, buf);
    }
    return rkt_answer(c, m, RKT_MSG_STATUS, &st, sizeof st);
}

/* BURST sends; SEQ checks that each sender's numbers come in order (K2K
 * keeps order per sender, also when a busy receiver takes several messages
 * in one round) and that every payload byte is the sender's; GET reports. */
static __device__ rk_status rkt_fanin(rk_dctx *c, rkt_fanin_state *s, const rk_msg *m)
{
    __shared__ rkt_fanin_state snap;
    __shared__ unsigned char out[RKT_BURST_MAX];
    __shared__ int bad;
    uint32_t j;
    if (m->type == RKT_MSG_BURST) {
        const rkt_burst b = *(const rkt_burst *)rk_msg_payload(m);
        const uint32_t len = b.len < sizeof(rkt_seq) ? (uint32_t)sizeof(rkt_seq) : b.len < RKT_BURST_MAX ? b.len : RKT_BURST_MAX;
        for (uint64_t i = 0; i < b.n; i++) {
            /* rk_dsend_wait's last barrier: the previous send is done with out. */
            rkt_seq q = {b.id, 0, i};
            for (j = threadIdx.x; j < len; j += blockDim.x)
                out[j] = j < sizeof q ? ((const unsigned char *)&q)[j] : rkt_pattern(rkt_seq_key(b.id, i), j);
            rk_status st = rk_dsend_wait(c, b.dst, RKT_MSG_SEQ, out, len, RKT_SEND_TIMEOUT_NS);
            if (st != RK_OK)
                return st;
        }
        return RK_OK;
    }
    __syncthreads();
    if (threadIdx.x == 0)
        bad = 0;
    __syncthreads();
    if (m->type == RKT_MSG_SEQ && m->len >= sizeof(rkt_seq) && m->len <= RKT_BURST_MAX) {
        const rkt_seq *q = (const rkt_seq *)rk_msg_payload(m);
        const unsigned char *p = (const unsigned char *)rk_msg_payload(m);
        for (j = sizeof(rkt_seq) + threadIdx.x; j < m->len; j += blockDim.x)
            if (p[j] != rkt_pattern(rkt_seq_key(q->id, q->seq), j))
                bad = 1;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        if (m->type == RKT_MSG_SEQ) {
            const rkt_seq *q = (const rkt_seq *)rk_msg_payload(m);
            s->received++;
            if (m->len < sizeof *q || m->len > RKT_BURST_MAX || bad || q->id >= RKT_FANIN_SENDERS ||
                q->seq != s->expected[q->id])
                s->errors++;
            else
                s->expected[q->id]++;
        } else if (m->type == RKT_MSG_NOP) {
            s->others++;
        }
        snap = *s;
    }
    __syncthreads();
    if (m->type == RKT_MSG_SEQ || m->type == RKT_MSG_NOP)
        return RK_OK;
    return rkt_answer(c, m, RKT_MSG_GET, &snap, sizeof snap);
}

/* SPRAY (all threads): pings to the actors rkt_spray_dst picks, each
 * status counted. Every mix actor both sends and receives, so the sends do
 * not wait for room: two senders each waiting for the other's full ring
 * would wait for ever (a receiver drains only between messages). */
static __device__ rk_status rkt_mix_spray(rk_dctx *c, rkt_mix_sent *s, const rk_msg *m)
{
    const rkt_ping p = {rk_dtenant(c), rk_dself(c)};
    rkt_spray q;
    if (m->len != sizeof q)
        return RK_EBADMSG;
    q = *(const rkt_spray *)rk_msg_payload(m);
    if (q.actors == 0 || q.actors > RKT_MIX_ACTORS || q.seed == 0)
        return RK_EBADMSG;
    for (uint32_t i = 0; i < q.n; i++) {
        const uint32_t dst = rkt_spray_dst(&q.seed, q.actors);
        const rk_status st = rk_dsend(c, dst, RKT_MSG_PING, &p, sizeof p);
        if (threadIdx.x != 0)
            continue;
        if (st == RK_OK)
            s->ok_to[dst]++;
        else if (st == RK_ETENANT)
            s->refused_to[dst]++;
        else if (st == RK_EFULL)
            s->full++;
        else {
            s->other++;
            s->last_other = (int32_t)st;
        }
    }
    if (threadIdx.x == 0) {
        s->attempts += q.n;
        s->sprays++;
    }
    return RK_OK;
}

/* PING (thread 0): counted for its sender, and checked three ways to have
 * stayed inside the receiver's tenant: the header's tenant (set by the
 * runtime), the one the sender wrote, and - on the host - the sender's id. */
static __device__ void rkt_mix_ping(rk_dctx *c, rkt_mix_received *r, const rk_msg *m)
{
    const rkt_ping *p = (const rkt_ping *)rk_msg_payload(m);
    const uint32_t mine = rk_dtenant(c);
    r->pings++;
    if (m->len != sizeof *p || m->src >= RKT_MIX_ACTORS || p->sender != m->src) {
        r->bad++;
        return;
    }
    if (m->tenant != mine || p->tenant != mine)
        r->leaks++;
    r->from[m->src]++;
}

/* The mix actor. Only thread 0 touches the state (the reports too:
 * rk_dsend_msg uses thread 0's arguments). Not inlined into the kernel's
 * type switch: inlined, its send loop took the kernel from 128 to 168
 * registers (ptxas, sm_90, CUDA 13.0), fewer blocks per SM for every type;
 * called, the kernel stays at 128. */
static __device__ __noinline__ rk_status rkt_mix(rk_dctx *c, rkt_mix_state *s, const rk_msg *m)
{
    if (m->type == RKT_MSG_SPRAY)
        return rkt_mix_spray(c, &s->sent, m);
    if (m->type == RKT_MSG_PING) {
        if (threadIdx.x == 0)
            rkt_mix_ping(c, &s->received, m);
        return RK_OK;
    }
    if (m->type == RKT_MSG_SENT)
        return rkt_answer(c, m, RKT_MSG_SENT, &s->sent, sizeof s->sent);
    if (m->type == RKT_MSG_RECEIVED)
        return rkt_answer(c, m, RKT_MSG_RECEIVED, &s->received, sizeof s->received);
    return RK_EBADMSG;
}

RK_GPU_ACTOR(rkt_echo_actor, rkt_none, rkt_echo);
RK_GPU_ACTOR_INIT(rkt_counter_actor, rkt_counter_state, rkt_counter, rkt_counter_init);
RK_GPU_ACTOR(rkt_relay_actor, rkt_relay_state, rkt_relay);
RK_GPU_ACTOR(rkt_failer_actor, rkt_none, rkt_failer);
RK_GPU_ACTOR(rkt_sleeper_actor, rkt_none, rkt_sleeper);
RK_GPU_ACTOR(rkt_probe_actor, rkt_none, rkt_probe_handle);
RK_GPU_ACTOR(rkt_fanin_actor, rkt_fanin_state, rkt_fanin);
RK_GPU_ACTOR(rkt_mix_actor, rkt_mix_state, rkt_mix);

RK_GPU_PROGRAM(rkt_program, rkt_echo_actor, rkt_counter_actor, rkt_relay_actor, rkt_failer_actor, rkt_sleeper_actor,
               rkt_probe_actor, rkt_fanin_actor, rkt_mix_actor);
