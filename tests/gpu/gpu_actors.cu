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
    if (m->type == RKT_MSG_CRASH) {
        /* A fault no handler can survive: CUDA ends the kernel, every
         * actor with it (test_gpu_kernel_gone). */
        if (threadIdx.x == 0)
            __trap();
        __syncthreads();
        return RK_OK;
    }
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
 * keeps order per sender, also with several senders racing for one queue)
 * and that every payload byte is the sender's; GET reports. */
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

/* ---- bulk data through the symmetric regions (group.h, rk_dput) ---------------------- */

typedef struct rkt_putter_state {
    rkt_put_start job;
    uint64_t sent, credited;
    rkt_put_report r;
} rkt_putter_state;

typedef struct rkt_putsink_state {
    rkt_put_report r;
} rkt_putsink_state;

/* Puts chunks while the sink has room for them: each written into the
 * putter's own region first (by the whole block), then rk_dput into the
 * sink's member, then announced. Thread 0 keeps the state. */
static __device__ rk_status rkt_putter_go(rk_dctx *c, rkt_putter_state *s)
{
    __shared__ int more;
    __shared__ uint64_t k;
    __shared__ rkt_put_chunk ch;
    const rkt_put_start *j = &s->job;
    uint64_t *src;
    for (;;) {
        rk_status st;
        __syncthreads(); /* thread 0 may have just written the job */
        src = (uint64_t *)rk_dsym(c, rk_dmember(c), j->src_off, j->chunk);
        if (threadIdx.x == 0) {
            more = s->r.status == RK_OK && s->sent < j->count && s->sent - s->credited < j->slots;
            k = s->sent;
            ch.seq = k;
            ch.off = j->dst_off + (k % j->slots) * j->chunk;
            ch.len = j->chunk;
            ch.check = j->check;
            ch.count = j->count;
        }
        __syncthreads();
        if (!more)
            return RK_OK;
        if (!src) {
            st = RK_EINVAL;
        } else {
            for (uint64_t i = threadIdx.x; i < j->chunk / 8u; i += blockDim.x)
                src[i] = rkt_put_word(k, i);
            st = rk_dput(c, j->member, ch.off, src, j->chunk);
        }
        if (st == RK_OK)
            st = rk_dsend_wait(c, j->sink, RKT_MSG_PUT_CHUNK, &ch, sizeof ch, RKT_SEND_TIMEOUT_NS);
        if (threadIdx.x == 0) {
            if (st != RK_OK)
                s->r.status = st;
            else if (s->sent++ == 0)
                s->r.first_ns = rk_dclock_ns();
        }
    }
}

/* The regions as this member's device sees them, and rk_dput's refusals. */
static __device__ rk_status rkt_put_probe_reply(rk_dctx *c)
{
    __shared__ rkt_put_probe p;
    __shared__ unsigned char bytes[16];
    const uint32_t me = rk_dmember(c);
    const uint64_t size = rk_dsym_size(c);
    rk_status past, none, null_src, odd;
    if (threadIdx.x < sizeof bytes)
        bytes[threadIdx.x] = (unsigned char)(threadIdx.x * 7u + 1u);
    past = rk_dput(c, me, size - 15u, bytes, 16); /* rk_dput starts with a barrier */
    none = rk_dput(c, RK_GROUP_MAX, 0, bytes, 16);
    null_src = rk_dput(c, me, 0, NULL, 16);
    odd = rk_dput(c, me, 3, bytes, 13);
    if (threadIdx.x == 0) {
        const unsigned char *back = (const unsigned char *)rk_dsym(c, me, 3, 13);
        p.size = size;
        p.member = me;
        p.past_end = past;
        p.no_member = none;
        p.null_src = null_src;
        p.unaligned = odd;
        p.unaligned_ok = back != NULL;
        for (uint32_t i = 0; back && i < 13u; i++)
            p.unaligned_ok &= back[i] == bytes[i];
        p.own = (uint64_t)(uintptr_t)rk_dsym(c, me, 0, 1);
        p.other = (uint64_t)(uintptr_t)rk_dsym(c, 1u - me, 0, 1);
    }
    return rk_dreply(c, RKT_MSG_PUT_PROBE, &p, sizeof p);
}

static __device__ __noinline__ rk_status rkt_putter(rk_dctx *c, rkt_putter_state *s, const rk_msg *m)
{
    __shared__ int done;
    rk_status st;
    if (m->type == RKT_MSG_PUT_PROBE)
        return rkt_put_probe_reply(c);
    if (m->type == RKT_MSG_PUT_START) {
        if (m->len != sizeof(rkt_put_start))
            return RK_EBADMSG;
        __syncthreads();
        if (threadIdx.x == 0) {
            memset(s, 0, sizeof *s);
            s->job = *(const rkt_put_start *)rk_msg_payload(m);
            s->r.member = rk_dmember(c);
            if (s->job.slots == 0 || s->job.chunk % 16u)
                s->r.status = RK_EINVAL;
        }
    } else if (m->type == RKT_MSG_PUT_CREDIT) {
        __syncthreads();
        if (threadIdx.x == 0)
            s->credited++;
    } else {
        return RK_EBADMSG;
    }
    st = rkt_putter_go(c, s);
    __syncthreads();
    if (threadIdx.x == 0) {
        done = s->r.chunks == 0 && (s->credited == s->job.count || s->r.status != RK_OK);
        if (done) {
            s->r.chunks = s->credited;
            s->r.last_ns = rk_dclock_ns();
        }
    }
    __syncthreads();
    if (st == RK_OK && done)
        st = rk_dsend_wait(c, RK_ACTOR_HOST, RKT_MSG_PUT_DONE, &s->r, sizeof s->r, RKT_SEND_TIMEOUT_NS);
    return st;
}

/* PUT_CHUNK: the chunk read where it was put, in this member's region - every
 * word, or the first and last (check 0) - in order; then a credit back. */
static __device__ __noinline__ rk_status rkt_putsink(rk_dctx *c, rkt_putsink_state *s, const rk_msg *m)
{
    __shared__ rkt_put_chunk ch;
    __shared__ int last;
    __shared__ unsigned long long first_bad, nbad;
    const uint64_t *p;
    int wrong = 0;
    rk_status st;
    if (m->type == RKT_MSG_PUT_PROBE)
        return rkt_put_probe_reply(c);
    if (m->type != RKT_MSG_PUT_CHUNK || m->len != sizeof(rkt_put_chunk))
        return RK_EBADMSG;
    __syncthreads();
    if (threadIdx.x == 0) {
        ch = *(const rkt_put_chunk *)rk_msg_payload(m);
        first_bad = ~0ull;
        nbad = 0;
    }
    __syncthreads();
    p = (const uint64_t *)rk_dsym(c, rk_dmember(c), ch.off, ch.len);
    if (!p || ch.len < 16u || ch.len % 16u) {
        wrong = 1;
    } else if (ch.check) {
        for (uint64_t i = threadIdx.x; i < ch.len / 8u; i += blockDim.x)
            if (p[i] != rkt_put_word(ch.seq, i)) {
                wrong = 1;
                atomicMin(&first_bad, (unsigned long long)i);
                atomicAdd(&nbad, 1ull);
            }
    } else if (threadIdx.x == 0) {
        const uint64_t n = ch.len / 8u;
        wrong = p[0] != rkt_put_word(ch.seq, 0) || p[n - 1] != rkt_put_word(ch.seq, n - 1);
    }
    wrong = __syncthreads_or(wrong);
    if (threadIdx.x == 0) {
        const uint64_t now = rk_dclock_ns();
        if (s->r.chunks == 0) {
            s->r.first_ns = now;
            s->r.member = rk_dmember(c);
        }
        s->r.last_ns = now;
        if ((wrong || ch.seq != s->r.chunks) && s->r.bad == 0) {
            s->r.bad_seq = ch.seq;
            s->r.bad_words = nbad;
            s->r.bad_word = first_bad;
            if (p && first_bad < ch.len / 8u) {
                s->r.bad_got = p[first_bad];
                s->r.bad_want = rkt_put_word(ch.seq, first_bad);
            }
        }
        s->r.bad += wrong || ch.seq != s->r.chunks;
        s->r.chunks++;
        last = s->r.chunks == ch.count;
    }
    __syncthreads();
    /* The reads above are done (the barrier) before the putter may write
     * the part again. */
    st = rk_dsend_wait(c, m->src, RKT_MSG_PUT_CREDIT, NULL, 0, RKT_SEND_TIMEOUT_NS);
    if (st == RK_OK && last) {
        st = rk_dsend_wait(c, RK_ACTOR_HOST, RKT_MSG_PUT_DONE, &s->r, sizeof s->r, RKT_SEND_TIMEOUT_NS);
        if (threadIdx.x == 0)
            memset(&s->r, 0, sizeof s->r); /* ready for the next run */
    }
    return st;
}

RK_GPU_ACTOR(rkt_echo_actor, rkt_none, rkt_echo);
RK_GPU_ACTOR_INIT(rkt_counter_actor, rkt_counter_state, rkt_counter, rkt_counter_init);
RK_GPU_ACTOR(rkt_relay_actor, rkt_relay_state, rkt_relay);
RK_GPU_ACTOR(rkt_failer_actor, rkt_none, rkt_failer);
RK_GPU_ACTOR(rkt_sleeper_actor, rkt_none, rkt_sleeper);
RK_GPU_ACTOR(rkt_probe_actor, rkt_none, rkt_probe_handle);
RK_GPU_ACTOR(rkt_fanin_actor, rkt_fanin_state, rkt_fanin);
RK_GPU_ACTOR(rkt_mix_actor, rkt_mix_state, rkt_mix);
RK_GPU_ACTOR(rkt_putter_actor, rkt_putter_state, rkt_putter);
RK_GPU_ACTOR(rkt_putsink_actor, rkt_putsink_state, rkt_putsink);

RK_GPU_PROGRAM(rkt_program, rkt_echo_actor, rkt_counter_actor, rkt_relay_actor, rkt_failer_actor, rkt_sleeper_actor,
               rkt_probe_actor, rkt_fanin_actor, rkt_mix_actor, rkt_putter_actor, rkt_putsink_actor);
