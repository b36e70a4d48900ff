/* ringkernel CUDA backend: restart records (runtime_internal.h,
 * rk__restart_ops).
 *
 * A one-for-one supervisor's policy lives on the device (device.cuh,
 * rk__gpu_sup), so that a failed actor's own block restarts it a few
 * microseconds after the failure instead of waiting for the host's
 * supervision thread, which polls the device's errors every millisecond.
 * The records are allocated with the runtime (RK__GPU_SUPS of them, off and
 * zeroed); the host hands them out by number, never back (supervisors live
 * as long as their runtime). The supervisor block changes a record on the
 * host's command (RK__GPU_OP_SUP); the host reads only its mirror in pinned
 * memory. */
#include <string.h>
#include <time.h>

#include "cuda/cuda_internal.h"

static rk_status cuda_sup_open(rk_runtime *rt, rk_restart_strategy strategy, uint32_t max_restarts, uint64_t window_ns,
                               uint32_t *rec)
{
    rk__cuda *b = rt->backend_data;
    rk_status st = RK_ENOTSUP;
    if (!b || !b->sup_mirror || max_restarts > RK__GPU_SUP_HIST || window_ns == 0 ||
        (unsigned)strategy > RK__GPU_STRATEGY_REST_FOR_ONE)
        return RK_ENOTSUP;
    pthread_mutex_lock(&b->lock);
    if (b->n_sups < RK__GPU_SUPS) {
        *rec = b->n_sups++;
        b->sup_max[*rec] = max_restarts;
        b->sup_window[*rec] = window_ns;
        b->sup_strategy[*rec] = (uint32_t)strategy;
        st = RK_OK;
    }
    rk__cuda_unlock(b);
    return st;
}

/* Posts RK__GPU_OP_SUP and waits for it, as lifecycle commands do. */
static rk_status rk__cuda_sup_command(rk_runtime *rt, rk__gpu_cmd *cmd)
{
    rk__cuda *b = rt->backend_data;
    rk_status st;
    cmd->op = RK__GPU_OP_SUP;
    pthread_mutex_lock(&b->lock);
    st = b->launched ? rk__cuda_enter(b) : RK_ESTATE;
    if (st == RK_OK) {
        st = rk__cuda_command(rt, cmd, rk__deadline(RK__CUDA_SUP_TIMEOUT_NS), NULL);
        rk__cuda_leave(b);
    }
    rk__cuda_unlock(b);
    return st;
}

static rk_status cuda_sup_control(rk_runtime *rt, uint32_t rec, enum rk__restart_op op)
{
    rk__cuda *b = rt->backend_data;
    rk__gpu_cmd cmd;
    if (!b || rec >= b->n_sups)
        return RK_EINVAL;
    memset(&cmd, 0, sizeof cmd);
    cmd.type = rec;
    switch (op) {
    case RK__RESTART_ON:
        cmd.event = RK__GPU_SUP_SET;
        cmd.generation = b->sup_max[rec];
        cmd.h2k_final = b->sup_window[rec];
        cmd.tenant = b->sup_strategy[rec];
        break;
    case RK__RESTART_OFF:
        cmd.event = RK__GPU_SUP_OFF;
        break;
    case RK__RESTART_CHARGE:
        cmd.event = RK__GPU_SUP_CHARGE;
        cmd.actor = RK_ACTOR_NONE;
        break;
    default:
        return RK_EINVAL;
    }
    return rk__cuda_sup_command(rt, &cmd);
}

static rk_status cuda_sup_attach(rk_runtime *rt, rk__actor *a, uint32_t rec, uint32_t pos, uint32_t n)
{
    rk__cuda *b = rt->backend_data;
    rk__gpu_cmd cmd;
    if (!b || a->id >= b->max_actors || (rec != RK__RESTART_NONE && rec >= b->n_sups) || n > RK__GPU_SUP_KIDS ||
        (n && pos >= n))
        return RK_EINVAL;
    memset(&cmd, 0, sizeof cmd);
    cmd.event = RK__GPU_SUP_ATTACH;
    cmd.actor = a->id;
    cmd.state = rec == RK__RESTART_NONE ? 0 : (uint64_t)rec + 1;
    if (rec != RK__RESTART_NONE && b->sup_strategy[rec] != RK__GPU_STRATEGY_ONE_FOR_ONE) {
        cmd.generation = pos; /* its place among n children, in start order */
        cmd.type = n;
    }
    return rk__cuda_sup_command(rt, &cmd);
}

static void cuda_sup_stats(rk_runtime *rt, uint32_t rec, uint64_t *restarts, uint32_t *recent)
{
    rk__cuda *b = rt->backend_data;
    const rk__gpu_sup *m;
    struct timespec ts;
    uint64_t now, window;
    uint32_t head, n, k, count = 0;
    if (!b || rec >= b->n_sups)
        return;
    m = &b->sup_mirror[rec];
    /* The device writes the mirror while we read: each word is whole,
     * the set of them may be a moment apart, which counts are. */
    *restarts = __atomic_load_n(&m->restarts, __ATOMIC_RELAXED);
    head = __atomic_load_n(&m->hist_head, __ATOMIC_RELAXED);
    n = __atomic_load_n(&m->hist_n, __ATOMIC_RELAXED);
    window = __atomic_load_n(&m->window_ns, __ATOMIC_RELAXED);
    clock_gettime(CLOCK_REALTIME, &ts);
    now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    for (k = 0; k < n && k < RK__GPU_SUP_HIST; k++) {
        uint64_t t = __atomic_load_n(&m->hist[(head + k) % RK__GPU_SUP_HIST], __ATOMIC_RELAXED);
        /* Host and device clocks agree to a few microseconds: a time a
         * little ahead of ours is recent too. */
        if (t > now || now - t < window)
            count++;
    }
    *recent = count;
}

const struct rk__restart_ops rk__cuda_restart_ops = {
    .open = cuda_sup_open,
    .control = cuda_sup_control,
    .attach = cuda_sup_attach,
    .stats = cuda_sup_stats,
};
