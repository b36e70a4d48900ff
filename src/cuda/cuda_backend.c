/* ringkernel CUDA backend: the persistent kernel's life on the host side.
 *
 * start sizes the grid from occupancy, lays out the shared memory (see
 * cuda_internal.h), launches the kernel once with a cooperative launch (so
 * every block is resident or the launch fails) and waits until every block
 * reports in. A runtime asking for thread-block clusters is checked against
 * the device before anything else and launched with cuLaunchKernelEx
 * (cluster dimension + cooperative attributes) instead. Lifecycle commands
 * go to the supervisor (block 0) through a command ring and come back as
 * acknowledgements. stop raises a flag in
 * pinned memory, waits for the kernel to return and dead-letters what is
 * left; release frees everything. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/device_caps.h"
#include "core/hostq.h"
#include "core/supervisor_internal.h"
#include "cuda/cuda_internal.h"

#define RK__CUDA_CMD_SLOTS 64u
/* A command in an LL slot: 4 bytes of it in every 8-byte word (ring.h). The
 * supervisor's warp reads the slot's 32 words, one a lane. */
#define RK__CUDA_CMD_SLOT 256u
RK_STATIC_ASSERT(RK__CUDA_CMD_SLOT == 2u * sizeof(rk__gpu_cmd), "an LL command slot");
#define RK__CUDA_EVENT_SLOTS 1024u
#define RK__CUDA_EVENT_SLOT 128u

#define RK__CU_CHECK(b, call)                                                                        \
    do {                                                                                             \
        CUresult r_ = (call);                                                                        \
        if (r_ != CUDA_SUCCESS) {                                                                    \
            rk__cuda_log((b), "%s: %s", #call, rk__cu_name(&(b)->cu, r_));                           \
            st = rk__cu_status(r_);                                                                  \
            goto fail;                                                                               \
        }                                                                                            \
    } while (0)

/* ---- tunables and logs ----------------------------------------------------- */

uint64_t rk__cuda_env_u64(const char *name, uint64_t dflt)
{
    const char *s = getenv(name);
    char *end;
    unsigned long long v;
    if (!s || !*s)
        return dflt;
    v = strtoull(s, &end, 10);
    return *end == '\0' ? (uint64_t)v : dflt;
}

void rk__cuda_log(const rk__cuda *b, const char *fmt, ...)
{
    va_list ap;
    if (!b->debug)
        return;
    va_start(ap, fmt);
    fputs("ringkernel/cuda: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static uint32_t rk__pow2_at_least(uint64_t v)
{
    uint32_t p = 2;
    while (p < v && p < (1u << 30))
        p <<= 1;
    return p;
}

/* A block's dynamic shared memory: the message buffer, and after it the
 * cluster tier's ring if there is one. */
static void rk__cuda_smem_size(rk__cuda *b)
{
    b->smem_bytes = b->ck2k_capacity
                        ? b->ck2k_offset + (uint32_t)rk_ring_bytes(b->ck2k_capacity, b->k2k_slot_size)
                        : b->msg_buffer;
}

static void rk__cuda_tunables(rk__cuda *b, const rk_runtime *rt)
{
    const char *fence = getenv("RK_CUDA_FENCE");
    uint64_t v;
    b->debug = (int)rk__cuda_env_u64("RK_CUDA_DEBUG", 0);
    b->max_actors = rt->opt.max_actors;
    v = rk__cuda_env_u64("RK_CUDA_MSG_BUFFER", 4096);
    v = v < 256 ? 256 : v > 48 * 1024 ? 48 * 1024 : v;
    b->msg_buffer = (uint32_t)(v & ~(uint64_t)15);
    b->k2k_capacity = rk__pow2_at_least(rk__cuda_env_u64("RK_CUDA_K2K_CAPACITY", 256));
    v = rk__cuda_env_u64("RK_CUDA_K2K_SLOT_SIZE", 256);
    v = v < 128 ? 128 : v > 4096 ? 4096 : v;
    b->k2k_slot_size = (uint32_t)(v & ~(uint64_t)15);
    b->spin_ns = rk__cuda_env_u64("RK_CUDA_SPIN_NS", 100000);
    v = rk__cuda_env_u64("RK_CUDA_BACKOFF_NS", 20000);
    b->backoff_ns = v < 128 ? 128 : v > 1000000 ? 1000000 : v;
    b->host_spin_ns = rk__cuda_env_u64("RK_CUDA_HOST_SPIN_NS", 50000);
    v = rk__cuda_env_u64("RK_CUDA_K2K_HOST_POLL_NS", 10000);
    b->k2k_host_poll_ns = (uint32_t)(v > 1000000 ? 1000000 : v);
    v = 2ull * rt->opt.max_payload;
    b->byref_bytes = rk__cuda_env_u64("RK_CUDA_BYREF_BYTES", v > (1u << 20) ? v : (1u << 20));
    if (b->byref_bytes < (uint64_t)rt->opt.max_payload + 16)
        b->byref_bytes = (uint64_t)rt->opt.max_payload + 16;
    b->byref_bytes = (b->byref_bytes + 15) & ~(uint64_t)15;
    b->pool_bytes = rk__cuda_env_u64("RK_CUDA_PINNED_POOL", 0);
    /* Rings between members of a group (cuda_group.c): 8 peers x 256 slots
     * x 256 B fit; more is allocated when needed. */
    b->peer_arena_bytes = (rk__cuda_env_u64("RK_CUDA_PEER_ARENA", 1u << 20) + 255) & ~(uint64_t)255;
    b->state_arena_bytes = (rk__cuda_env_u64("RK_CUDA_STATE_ARENA", 4u << 20) + 127) & ~(uint64_t)127;
    if (b->state_arena_bytes < 4096)
        b->state_arena_bytes = 4096;
    b->start_timeout_ns = rk__cuda_env_u64("RK_CUDA_START_TIMEOUT_MS", 10000) * 1000000ull;
    b->stop_timeout_ns = rk__cuda_env_u64("RK_CUDA_STOP_TIMEOUT_MS", 10000) * 1000000ull;
    b->fail_at = rk__cuda_env_u64("RK_CUDA_FAIL_ALLOC", 0);
    b->flags = (fence && strcmp(fence, "sc") == 0) ? RK__GPU_F_FENCE_SC : 0u;
    /* Flag-per-word slots in the host queue (ring.h, LL): a reply needs no
     * system fence (~1 us). RK_CUDA_HOST_LL=0: plain slots, one fence per
     * batch of sends. */
    if (rk__cuda_env_u64("RK_CUDA_HOST_LL", 1) != 0)
        b->flags |= RK__GPU_F_HOST_LL;
    b->cluster_size = rt->opt.cluster_size > 1 ? rt->opt.cluster_size : 0;
    b->cluster_nonportable = rt->opt.cluster_nonportable != 0;
    /* The cluster tier of K2K: with clusters and RK_CUDA_CLUSTER_K2K_CAPACITY
     * set (slots; off by default: on an H200 its round trip measured 1.14-1.23x
     * the global ring's, docs/benchmarks/h200-session8-2026-12-01.md), a
     * ring in each block's shared memory, after the message buffer. At most
     * half the global ring, where a checkpoint's hold moves what it holds;
     * smaller if a block cannot have that much (rk__cuda_smem_plan). */
    v = rk__cuda_env_u64("RK_CUDA_CLUSTER_K2K_CAPACITY", 0);
    b->ck2k_capacity = b->cluster_size && v ? rk__pow2_at_least(v > 1024 ? 1024 : v) : 0;
    if (b->ck2k_capacity > b->k2k_capacity / 2)
        b->ck2k_capacity = b->k2k_capacity / 2;
    b->ck2k_offset = (b->msg_buffer + 127u) & ~127u;
    rk__cuda_smem_size(b);
}

/* ---- context ------------------------------------------------------------------ */

rk_status rk__cuda_enter(rk__cuda *b)
{
    CUresult r = b->cu.cuCtxPushCurrent(b->ctx);
    return r == CUDA_SUCCESS ? RK_OK : rk__cu_status(r);
}

void rk__cuda_leave(rk__cuda *b)
{
    CUcontext c;
    b->cu.cuCtxPopCurrent(&c);
}

int rk__cuda_available(int device)
{
    rk__cu cu;
    int n = 0;
    if (rk__cu_load(&cu) != RK_OK)
        return 0;
    if (cu.cuDeviceGetCount(&n) != CUDA_SUCCESS)
        n = 0;
    rk__cu_unload(&cu);
    return device >= 0 && device < n;
}

/* ---- start ---------------------------------------------------------------------- */

static rk_status rk__cuda_device(rk__cuda *b, int ordinal)
{
    int coop = 0, map = 0, uva = 0, major = 0;
    rk_status st;
    RK__CU_CHECK(b, b->cu.cuDeviceGet(&b->device, ordinal));
    RK__CU_CHECK(b, b->cu.cuDeviceGetAttribute(&coop, CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH, b->device));
    RK__CU_CHECK(b, b->cu.cuDeviceGetAttribute(&map, CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY, b->device));
    RK__CU_CHECK(b, b->cu.cuDeviceGetAttribute(&uva, CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING, b->device));
    RK__CU_CHECK(b, b->cu.cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, b->device));
    if (b->cu.cuDeviceGetName(b->device_name, (int)sizeof b->device_name, b->device) != CUDA_SUCCESS)
        strcpy(b->device_name, "?");
    if (!coop || !map || !uva || major < 7) {
        rk__cuda_log(b, "%s: needs cooperative launch, mapped host memory, UVA and sm_70+", b->device_name);
        return RK_ENOTSUP;
    }
    RK__CU_CHECK(b, b->cu.cuDevicePrimaryCtxRetain(&b->ctx, b->device));
    b->have_ctx = 1;
    return RK_OK;
fail:
    return st == RK_EDEVICE ? RK_ENODEV : st;
}

/* A cluster request the device cannot run is refused here, before the
 * driver is asked for anything else - with RK_CUDA_FORCE_CC, even where
 * there is no device, so that the refusal can be tested without one. */
static rk_status rk__cuda_cluster_gate(rk__cuda *b, int ordinal)
{
    rk_cluster_refusal why = RK_CLUSTER_OK;
    rk_status st;
    if (!b->cluster_size)
        return RK_OK;
    st = rk__cuda_device_query(ordinal, &b->info);
    if (st != RK_OK) {
        rk__cuda_log(b, "device %d for the cluster check: %s (%s=%s)", ordinal, rk_status_name(st), RK__FORCE_CC_ENV,
                     getenv(RK__FORCE_CC_ENV) ? getenv(RK__FORCE_CC_ENV) : "unset");
        return st;
    }
    st = rk_device_check_cluster(&b->info, b->cluster_size, 0, b->cluster_nonportable, &why);
    if (st != RK_OK)
        rk__cuda_log(b, "%s (sm_%d%d%s): clusters of %u blocks refused: %s", b->info.name, b->info.cc_major,
                     b->info.cc_minor, b->info.forced ? ", forced" : "", b->cluster_size, rk_cluster_refusal_str(why));
    return st;
}

/* The kernel (nvcc: looked up by the user's program; NVRTC: loaded here)
 * and the program's description. */
static rk_status rk__cuda_program(rk__cuda *b, const rk_gpu_program *p, int ordinal)
{
    char sym[256];
    CUdeviceptr info = 0;
    size_t bytes = 0;
    uint32_t hdr[RK__GPU_INFO_WORDS];
    rk_status st;
    if (p->resolve) {
        void *fn = NULL;
        if (p->resolve(ordinal, &fn) != 0 || !fn) {
            rk__cuda_log(b, "program %s: the kernel has no code for this device", p->name);
            return RK_ENOTSUP;
        }
        b->fn = (CUfunction)fn;
        b->n_types = p->n_types;
        b->block_threads = p->block_threads;
        b->state_sizes = calloc(p->n_types ? p->n_types : 1, sizeof *b->state_sizes);
        if (!b->state_sizes)
            return RK_ENOMEM;
        memcpy(b->state_sizes, p->state_sizes, p->n_types * sizeof *b->state_sizes);
        return RK_OK;
    }
    if (!p->image || !p->name)
        return RK_EINVAL;
    RK__CU_CHECK(b, b->cu.cuModuleLoadData(&b->module, p->image));
    snprintf(sym, sizeof sym, RK__GPU_KERNEL_PREFIX "%s", p->name);
    RK__CU_CHECK(b, b->cu.cuModuleGetFunction(&b->fn, b->module, sym));
    snprintf(sym, sizeof sym, RK__GPU_INFO_PREFIX "%s", p->name);
    RK__CU_CHECK(b, b->cu.cuModuleGetGlobal(&info, &bytes, b->module, sym));
    if (bytes < sizeof hdr)
        return RK_EINVAL;
    RK__CHECK(rk__cuda_download(b, hdr, info, sizeof hdr));
    if (hdr[0] != RK_GPU_PROGRAM_MAGIC || hdr[1] != RK_GPU_ABI || bytes < sizeof hdr + 4ull * hdr[2])
        return RK_EINVAL;
    b->n_types = hdr[2];
    b->block_threads = hdr[3];
    b->state_sizes = calloc(hdr[2] ? hdr[2] : 1, sizeof *b->state_sizes);
    if (!b->state_sizes)
        return RK_ENOMEM;
    RK__CHECK(rk__cuda_download(b, b->state_sizes, info + sizeof hdr, 4ull * hdr[2]));
    return RK_OK;
fail:
    return st;
}

/* Lets the kernel have smem_bytes of dynamic shared memory: by default it
 * may have the per-block maximum (48 KiB) less its static shared memory. */
static rk_status rk__cuda_smem_attr(rk__cuda *b)
{
    int have = 0;
    rk_status st;
    RK__CU_CHECK(b, b->cu.cuFuncGetAttribute(&have, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, b->fn));
    if ((uint32_t)have < b->smem_bytes)
        RK__CU_CHECK(b, b->cu.cuFuncSetAttribute(b->fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                                 (int)b->smem_bytes));
    return RK_OK;
fail:
    return st;
}

/* The launch of a cluster grid: cluster dimension (x) and, so that the
 * driver refuses a grid that is not entirely resident as it does for
 * cuLaunchCooperativeKernel, the cooperative attribute. n_attrs 1 leaves
 * the cooperative attribute out (for the occupancy query). */
static void rk__cuda_cluster_config(const rk__cuda *b, uint32_t grid, CUlaunchAttribute attr[2], unsigned n_attrs,
                                    CUlaunchConfig *cfg)
{
    memset(attr, 0, 2 * sizeof *attr);
    memset(cfg, 0, sizeof *cfg);
    attr[0].id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
    attr[0].value.clusterDim.x = b->cluster_size;
    attr[0].value.clusterDim.y = 1;
    attr[0].value.clusterDim.z = 1;
    attr[1].id = CU_LAUNCH_ATTRIBUTE_COOPERATIVE;
    attr[1].value.cooperative = 1;
    cfg->gridDimX = grid;
    cfg->gridDimY = 1;
    cfg->gridDimZ = 1;
    cfg->blockDimX = b->block_threads;
    cfg->blockDimY = 1;
    cfg->blockDimZ = 1;
    cfg->sharedMemBytes = b->smem_bytes;
    cfg->hStream = b->stream;
    cfg->attrs = attr;
    cfg->numAttrs = n_attrs;
}

/* With clusters, residency is counted in whole clusters (they are placed
 * on one GPC each). *want comes in as the grid without clusters and leaves
 * as a multiple of the cluster size that is resident - rounded up to fit
 * every actor unless the grid was pinned by RK_CUDA_BLOCKS, which must then
 * be a multiple itself. `extra` blocks (whole clusters: light actors'
 * homes and forwarder) follow and must be resident too. RK_ENOTSUP when no
 * cluster of this size fits. */
static rk_status rk__cuda_cluster_grid(rk__cuda *b, int pinned, uint64_t extra, uint64_t *want)
{
    CUlaunchAttribute attr[2];
    CUlaunchConfig cfg;
    rk_cluster_refusal why = RK_CLUSTER_RESIDENCY;
    uint64_t cs = b->cluster_size, n;
    int clusters = 0;
    CUresult r;
    rk_status st;
    if (!b->cu.cuLaunchKernelEx || !b->cu.cuOccupancyMaxActiveClusters) {
        why = RK_CLUSTER_NO_LAUNCH;
        goto refuse;
    }
    if (cs > RK_CLUSTER_PORTABLE_MAX)
        RK__CU_CHECK(b, b->cu.cuFuncSetAttribute(b->fn, CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED, 1));
    RK__CHECK(rk__cuda_smem_attr(b));
    rk__cuda_cluster_config(b, (uint32_t)cs, attr, 1, &cfg);
    r = b->cu.cuOccupancyMaxActiveClusters(&clusters, b->fn, &cfg);
    if (r != CUDA_SUCCESS && r != CUDA_ERROR_INVALID_CLUSTER_SIZE) {
        rk__cuda_log(b, "cuOccupancyMaxActiveClusters: %s", rk__cu_name(&b->cu, r));
        return rk__cu_status(r);
    }
    if (r == CUDA_ERROR_INVALID_CLUSTER_SIZE || clusters <= 0)
        goto refuse;
    n = pinned ? *want : (*want + cs - 1) / cs * cs;
    if ((uint64_t)clusters * cs <= extra)
        goto refuse;
    if (n + extra > (uint64_t)clusters * cs)
        n = (uint64_t)clusters * cs - extra;
    st = rk_device_check_cluster(&b->info, b->cluster_size, (uint32_t)(n + extra), b->cluster_nonportable, &why);
    if (st != RK_OK)
        goto refuse;
    rk__cuda_log(b, "%d clusters of %u blocks resident; the grid is %llu blocks", clusters, b->cluster_size,
                 (unsigned long long)(n + extra));
    *want = n;
    return RK_OK;
refuse:
    rk__cuda_log(b, "clusters of %u blocks refused: %s", b->cluster_size, rk_cluster_refusal_str(why));
    return RK_ENOTSUP;
fail:
    return st;
}

/* The shared memory of a block, once the kernel is known. The cluster
 * tier only for a kernel whose PTX is for compute_90 or later (below, its
 * code is compiled out: device.cuh; the machine code's version says
 * nothing, a compute_80 kernel JIT-compiled for a Hopper is sm_90), and
 * its ring halved until a block may have it beside the kernel's static
 * shared memory, or dropped. The kernel asks for what it needs before the
 * occupancy query counts with it. */
static rk_status rk__cuda_smem_plan(rk__cuda *b)
{
    int ptx = 0, optin = 0, fixed = 0;
    rk_status st;
    if (b->ck2k_capacity) {
        RK__CU_CHECK(b, b->cu.cuFuncGetAttribute(&ptx, CU_FUNC_ATTRIBUTE_PTX_VERSION, b->fn));
        if (ptx < 90) {
            rk__cuda_log(b, "kernel from compute_%d: no cluster tier of K2K", ptx);
            b->ck2k_capacity = 0;
        }
    }
    RK__CU_CHECK(b, b->cu.cuDeviceGetAttribute(&optin, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
                                               b->device));
    RK__CU_CHECK(b, b->cu.cuFuncGetAttribute(&fixed, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, b->fn));
    rk__cuda_smem_size(b);
    while (b->ck2k_capacity && (uint64_t)fixed + b->smem_bytes > (uint64_t)optin) {
        b->ck2k_capacity = b->ck2k_capacity > 2 ? b->ck2k_capacity / 2 : 0;
        rk__cuda_smem_size(b);
    }
    if (b->ck2k_capacity)
        rk__cuda_log(b, "cluster tier of K2K: %u slots, %u bytes of shared memory per block", b->ck2k_capacity,
                     b->smem_bytes);
    RK__CHECK(rk__cuda_smem_attr(b));
    return RK_OK;
fail:
    return st;
}

/* As many blocks as can be resident at once, at most one per actor plus
 * the supervisor. */
static rk_status rk__cuda_grid(rk__cuda *b, rk_runtime *rt)
{
    int per_sm = 0, sms = 0;
    uint64_t want = (uint64_t)b->max_actors + 1, cap = rk__cuda_env_u64("RK_CUDA_BLOCKS", 0), extra;
    rk_status st;
    if (b->block_threads == 0 || b->block_threads > 1024)
        return RK_EINVAL;
    st = rk__cuda_smem_plan(b);
    if (st != RK_OK)
        return st;
    RK__CU_CHECK(b, b->cu.cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, b->device));
    RK__CU_CHECK(b, b->cu.cuOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, b->fn, (int)b->block_threads,
                                                                     b->smem_bytes));
    if (per_sm <= 0) {
        rk__cuda_log(b, "the kernel does not fit an SM (%u threads, %u bytes of shared memory)", b->block_threads,
                     b->smem_bytes);
        return RK_ENOTSUP;
    }
    st = rk__cuda_light_plan(b, rt, sms);
    if (st != RK_OK)
        return st;
    /* Light actors take their homes and the port's forwarder past the
     * actor blocks (with clusters, whole clusters: rk__cuda_light_plan). */
    extra = b->light_actors ? b->light_blocks : 0;
    if (cap && cap < want)
        want = cap;
    if ((uint64_t)per_sm * (uint64_t)sms < want + extra)
        want = (uint64_t)per_sm * (uint64_t)sms > extra ? (uint64_t)per_sm * (uint64_t)sms - extra : 0;
    /* An actor's door names its block in 15 bits (device.cuh). */
    if (want > RK__GPU_DOOR_SLOT_MAX)
        want = RK__GPU_DOOR_SLOT_MAX;
    if (b->cluster_size)
        RK__CHECK(rk__cuda_cluster_grid(b, cap && cap < (uint64_t)b->max_actors + 1, extra, &want));
    if (want < 2)
        return extra ? RK_ENOTSUP : RK_EINVAL;
    b->light_first = (uint32_t)want;
    b->n_blocks = (uint32_t)(want + extra);
    rk__cuda_log(b, "%s: %d SMs x %d resident blocks; launching %u blocks of %u threads", b->device_name, sms, per_sm,
                 b->n_blocks, b->block_threads);
    return RK_OK;
fail:
    return st;
}

/* A ring whose producers are GPU blocks: the producer line goes to device
 * memory, the rest stays in the pinned block `mem`. Fills both views. */
static void rk__cuda_gpu_produced(rk_ring *host, rk_ring *dev, const rk__pinned *mem, CUdeviceptr prod_line,
                                  uint32_t capacity, uint32_t slot_size)
{
    (void)rk_ring_init(host, mem->host, capacity, slot_size, RK_RING_MPSC, RK_RING_SCOPE_SYSTEM);
    *dev = *host;
    dev->prod = (rk_ring_prod *)(uintptr_t)prod_line;
    dev->cons = (rk_ring_cons *)(uintptr_t)rk__cuda_dev(mem, host->cons);
    dev->slots = (unsigned char *)(uintptr_t)rk__cuda_dev(mem, host->slots);
}

/* Zeroed device memory for the runtime's own structures, counted for the
 * pressure monitor (b->dev_fixed). */
static rk_status rk__cuda_dalloc_fixed(rk__cuda *b, size_t bytes, CUdeviceptr *out)
{
    rk_status st = rk__cuda_dalloc(b, bytes, 1, out);
    if (st == RK_OK)
        __atomic_fetch_add(&b->dev_fixed, bytes, __ATOMIC_RELAXED);
    return st;
}

static rk_status rk__cuda_layout(rk_runtime *rt, rk__cuda *b)
{
    rk__gpu_world w;
    rk__gpu_slot *slots = NULL;
    rk_ring host_view;
    size_t k2k_bytes = rk_ring_bytes(b->k2k_capacity, b->k2k_slot_size);
    uint32_t i, hq_cap = rt->opt.host_queue_capacity, hq_slot = rt->opt.host_slot_size, hq_phys;
    rk_status st;
    if (hq_cap < 2 || (hq_cap & (hq_cap - 1)) || hq_slot < RK_MSG_HEADER_SIZE || hq_slot % 16)
        return RK_EINVAL;
    hq_phys = (b->flags & RK__GPU_F_HOST_LL) ? rk_ring_ll_slot_size(hq_slot) : hq_slot;
    memset(&w, 0, sizeof w);
    RK__CHECK(rk__cuda_pin(b, (size_t)b->max_actors * sizeof(rk_control), &b->ctl_mem));
    RK__CHECK(rk__cuda_pin(b, rk_ring_bytes(hq_cap, hq_phys), &b->host_mem));
    RK__CHECK(rk__cuda_pin(b, rk_ring_bytes(RK__CUDA_CMD_SLOTS, RK__CUDA_CMD_SLOT), &b->cmd_mem));
    RK__CHECK(rk__cuda_pin(b, rk_ring_bytes(RK__CUDA_EVENT_SLOTS, RK__CUDA_EVENT_SLOT), &b->event_mem));
    RK__CHECK(rk__cuda_pin(b, sizeof(rk__gpu_hostflags) + RK__GPU_ACKS * sizeof(rk__gpu_ack) + 4ull * b->n_blocks,
                           &b->misc_mem));
    RK__CHECK(rk__cuda_dalloc_fixed(b, (size_t)b->max_actors * sizeof(rk__gpu_dir), &b->dir_d));
    RK__CHECK(rk__cuda_dalloc_fixed(b, (size_t)b->n_blocks * sizeof(rk__gpu_slot), &b->slots_d));
    RK__CHECK(rk__cuda_dalloc_fixed(b, (size_t)b->n_blocks * k2k_bytes, &b->k2k_d));
    RK__CHECK(rk__cuda_dalloc_fixed(b, sizeof(rk__gpu_devflags), &b->devflags_d));
    RK__CHECK(rk__cuda_dalloc_fixed(b, 2 * sizeof(rk_ring_prod), &b->lines_d));
    RK__CHECK(rk__cuda_dalloc_fixed(b, sizeof(rk__gpu_world), &b->world_d));
    RK__CHECK(rk__cuda_dalloc_fixed(b, RK__GPU_PEERS * sizeof(rk__gpu_peer), &b->peers_d));
    RK__CHECK(rk__cuda_dalloc_fixed(b, RK__GPU_SUPS * sizeof(rk__gpu_sup), &b->sups_d));
    RK__CHECK(rk__cuda_dalloc_fixed(b, RK__GPU_RATES * sizeof(rk__gpu_rate), &b->rates_d));
    RK__CHECK(rk__cuda_pin(b, RK__GPU_RATES * sizeof(uint64_t), &b->rate_mem));
    RK__CHECK(rk__cuda_pin(b, RK__GPU_SUPS * sizeof(rk__gpu_sup), &b->sup_mem));
    if (b->peer_arena_bytes)
        RK__CHECK(rk__cuda_dalloc_fixed(b, b->peer_arena_bytes, &b->peer_arena));
    RK__CHECK(rk__cuda_state_arena(b, b->state_arena_bytes));
    if (b->pool_bytes)
        RK__CHECK(rk__cuda_pin(b, b->pool_bytes, &b->pool));

    b->ctl = b->ctl_mem.host;
    b->sup_mirror = b->sup_mem.host;
    b->rate_granted = b->rate_mem.host;
    b->hostflags = b->misc_mem.host;
    b->acks = (rk__gpu_ack *)(b->hostflags + 1);
    b->slot_actor = (uint32_t *)(b->acks + RK__GPU_ACKS);
    for (i = 0; i < b->n_blocks; i++)
        b->slot_actor[i] = RK_ACTOR_NONE;
    for (i = 0; i < b->max_actors; i++)
        b->ctl[i].parent = RK_ACTOR_NONE;

    rk__cuda_gpu_produced(&host_view, &w.host_ring, &b->host_mem, b->lines_d, hq_cap, hq_phys);
    rk__cuda_gpu_produced(&b->event_ring, &w.event_ring, &b->event_mem, b->lines_d + sizeof(rk_ring_prod),
                          RK__CUDA_EVENT_SLOTS, RK__CUDA_EVENT_SLOT);
    (void)rk_ring_init(&b->cmd_ring, b->cmd_mem.host, RK__CUDA_CMD_SLOTS, RK__CUDA_CMD_SLOT, RK_RING_MPSC,
                       RK_RING_SCOPE_SYSTEM);
    w.cmd_ring = b->cmd_ring;
    w.cmd_ring.prod = (rk_ring_prod *)(uintptr_t)rk__cuda_dev(&b->cmd_mem, b->cmd_ring.prod);
    w.cmd_ring.cons = (rk_ring_cons *)(uintptr_t)rk__cuda_dev(&b->cmd_mem, b->cmd_ring.cons);
    w.cmd_ring.slots = (unsigned char *)(uintptr_t)rk__cuda_dev(&b->cmd_mem, b->cmd_ring.slots);

    slots = calloc(b->n_blocks, sizeof *slots);
    if (!slots)
        RK__CHECK(RK_ENOMEM);
    for (i = 0; i < b->n_blocks; i++) {
        CUdeviceptr base = b->k2k_d + (CUdeviceptr)i * k2k_bytes;
        rk_ring *r = &slots[i].k2k;
        r->prod = (rk_ring_prod *)(uintptr_t)base;
        r->cons = (rk_ring_cons *)(uintptr_t)(base + RK_RING_LINE);
        r->slots = (unsigned char *)(uintptr_t)(base + 2 * RK_RING_LINE);
        r->capacity = b->k2k_capacity;
        r->slot_size = b->k2k_slot_size;
        r->mode = RK_RING_MPSC;
        r->scope = RK_RING_SCOPE_DEVICE;
    }
    RK__CHECK(rk__cuda_upload(b, b->slots_d, slots, (size_t)b->n_blocks * sizeof *slots));

    w.magic = RK_GPU_PROGRAM_MAGIC;
    w.abi = RK_GPU_ABI;
    w.n_blocks = b->n_blocks;
    w.max_actors = b->max_actors;
    w.msg_buffer = b->msg_buffer;
    w.k2k_slot_size = b->k2k_slot_size;
    w.flags = b->flags;
    w.spin_ns = b->spin_ns;
    w.backoff_ns = b->backoff_ns;
    w.k2k_host_poll_ns = b->k2k_host_poll_ns;
    w.ctl = (rk_control *)(uintptr_t)b->ctl_mem.dev;
    w.host = (rk__gpu_hostflags *)(uintptr_t)b->misc_mem.dev;
    w.acks = (rk__gpu_ack *)(uintptr_t)rk__cuda_dev(&b->misc_mem, b->acks);
    w.slot_actor = (uint32_t *)(uintptr_t)rk__cuda_dev(&b->misc_mem, b->slot_actor);
    w.dir = (rk__gpu_dir *)(uintptr_t)b->dir_d;
    w.slots = (rk__gpu_slot *)(uintptr_t)b->slots_d;
    w.dev = (rk__gpu_devflags *)(uintptr_t)b->devflags_d;
    w.k2k_mem = (unsigned char *)(uintptr_t)b->k2k_d;
    w.k2k_ring_bytes = k2k_bytes;
    w.k2k_capacity = b->k2k_capacity;
    if (b->ck2k_capacity) {
        RK__CHECK(rk__cuda_dalloc_fixed(b, (size_t)(b->n_blocks / b->cluster_size) * sizeof(uint32_t),
                                        &b->cluster_out_d));
        w.cluster_size = b->cluster_size;
        w.ck2k_capacity = b->ck2k_capacity;
        w.ck2k_offset = b->ck2k_offset;
        w.cluster_out = (uint32_t *)(uintptr_t)b->cluster_out_d;
    }
    w.peers = (rk__gpu_peer *)(uintptr_t)b->peers_d;
    w.sups = (rk__gpu_sup *)(uintptr_t)b->sups_d;
    w.sup_mirror = (rk__gpu_sup *)(uintptr_t)b->sup_mem.dev;
    w.n_sups = RK__GPU_SUPS;
    w.rates = (rk__gpu_rate *)(uintptr_t)b->rates_d;
    w.rate_granted = (const uint64_t *)(uintptr_t)b->rate_mem.dev;
    w.n_rates = RK__GPU_RATES;
    {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        w.host_clock_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    }
    RK__CHECK(rk__cuda_light_layout(b, &w));
    RK__CHECK(rk__cuda_upload(b, b->world_d, &w, sizeof w));

    rt->host_ring = host_view; /* its producer line is the GPU's: the host never touches it */
    if (b->flags & RK__GPU_F_HOST_LL)
        RK__CHECK(rk__hostq_ll(rt, hq_slot));
    free(slots);
    return RK_OK;
fail:
    free(slots);
    return st;
}

/* Waits until the kernel has returned, for up to timeout_ns. 1 when it has
 * (or never ran); 0 when it still runs. */
static int rk__cuda_wait_kernel(rk__cuda *b, uint64_t timeout_ns)
{
    uint64_t t0 = rk__now_ns(), deadline = rk__deadline(timeout_ns), nap = 1000;
    CUresult r;
    if (!b->launched)
        return 1;
    while ((r = b->cu.cuStreamQuery(b->stream)) == CUDA_ERROR_NOT_READY) {
        if (rk__now_ns() >= deadline) {
            rk__cuda_log(b, "the kernel did not end within %.3f ms of the stop", (double)timeout_ns / 1e6);
            return 0;
        }
        rk__sleep_ns(nap);
        nap = nap < 1000000 ? 2 * nap : nap;
    }
    if (r != CUDA_SUCCESS)
        rk__cuda_log(b, "the kernel ended with %s", rk__cu_name(&b->cu, r));
    rk__cuda_log(b, "the kernel ended %.3f ms after the stop", (double)(rk__now_ns() - t0) / 1e6);
    b->launched = 0;
    return 1;
}

static rk_status rk__cuda_launch(rk__cuda *b)
{
    void *params[] = {&b->world_d};
    uint64_t deadline, nap = 1000;
    CUresult r;
    rk_status st;
    RK__CHECK(rk__cuda_smem_attr(b));
    if (b->cluster_size) {
        CUlaunchAttribute attr[2];
        CUlaunchConfig cfg;
        rk__cuda_cluster_config(b, b->n_blocks, attr, 2, &cfg);
        r = b->cu.cuLaunchKernelEx(&cfg, b->fn, params, NULL);
        if (r != CUDA_SUCCESS) {
            /* A configuration the driver will not launch (too many blocks
             * to be resident, a size or a combination it refuses) is
             * unsupported, not a device fault. */
            rk__cuda_log(b, "cooperative launch of %u blocks in clusters of %u: %s", b->n_blocks, b->cluster_size,
                         rk__cu_name(&b->cu, r));
            return r == CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE || r == CUDA_ERROR_INVALID_CLUSTER_SIZE ||
                           r == CUDA_ERROR_INVALID_VALUE
                       ? RK_ENOTSUP
                       : rk__cu_status(r);
        }
    } else {
        r = b->cu.cuLaunchCooperativeKernel(b->fn, b->n_blocks, 1, 1, b->block_threads, 1, 1, b->smem_bytes,
                                            b->stream, params);
    }
    if (r != CUDA_SUCCESS) {
        rk__cuda_log(b, "cooperative launch of %u blocks: %s", b->n_blocks, rk__cu_name(&b->cu, r));
        return r == CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE ? RK_ENOTSUP : rk__cu_status(r);
    }
    b->launched = 1;
    /* Every block has started once the supervisor raises `ready`. */
    deadline = rk__deadline(b->start_timeout_ns);
    while (!__atomic_load_n(&b->hostflags->ready, __ATOMIC_ACQUIRE)) {
        r = b->cu.cuStreamQuery(b->stream);
        if (r != CUDA_ERROR_NOT_READY) {
            rk__cuda_log(b, "the kernel ended at start: %s", rk__cu_name(&b->cu, r));
            b->launched = 0;
            return RK_EDEVICE;
        }
        if (rk__now_ns() >= deadline) {
            rk__cuda_log(b, "not every block started within the start timeout");
            return RK_EDEVICE;
        }
        rk__sleep_ns(nap);
        nap = nap < 100000 ? 2 * nap : nap;
    }
    return RK_OK;
fail:
    return st;
}

/* Frees everything; memory the kernel may still touch only once it ended. */
static void rk__cuda_teardown(rk_runtime *rt, rk__cuda *b)
{
    uint64_t t0 = rk__now_ns();
    int entered = b->have_ctx && rk__cuda_enter(b) == RK_OK;
    int ended = 1;
    if (b->launched) {
        __atomic_store_n(&b->hostflags->stop, 1, __ATOMIC_RELEASE);
        ended = rk__cuda_wait_kernel(b, b->stop_timeout_ns);
    }
    if (ended && entered) {
        rk__cuda_actors_free(b);
        rk__cuda_inboxes_free(b);
        rk__cuda_chunks_free(b);
        rk__cuda_unpin(b, &b->ctl_mem);
        rk__cuda_unpin(b, &b->host_mem);
        rk__cuda_unpin(b, &b->cmd_mem);
        rk__cuda_unpin(b, &b->event_mem);
        rk__cuda_unpin(b, &b->misc_mem);
        rk__cuda_unpin(b, &b->sup_mem);
        b->sup_mirror = NULL;
        rk__cuda_unpin(b, &b->pool);
        rk__cuda_dfree(b, &b->world_d);
        rk__cuda_dfree(b, &b->peers_d);
        rk__cuda_dfree(b, &b->sups_d);
        rk__cuda_dfree(b, &b->rates_d);
        rk__cuda_unpin(b, &b->rate_mem);
        b->rate_granted = NULL;
        rk__cuda_dfree(b, &b->peer_arena);
        rk__cuda_dfree(b, &b->sym_d);
        rk__cuda_peers_free(b);
        rk__cuda_dfree(b, &b->dir_d);
        rk__cuda_dfree(b, &b->slots_d);
        rk__cuda_dfree(b, &b->k2k_d);
        rk__cuda_dfree(b, &b->cluster_out_d);
        rk__cuda_dfree(b, &b->devflags_d);
        rk__cuda_dfree(b, &b->lines_d);
        rk__cuda_light_free(b);
        if (b->stream)
            b->cu.cuStreamDestroy(b->stream);
        if (b->copy_stream)
            b->cu.cuStreamDestroy(b->copy_stream);
        if (b->module)
            b->cu.cuModuleUnload(b->module);
    } else if (!ended) {
        rk__cuda_log(b, "the kernel did not stop: its memory is leaked, not freed under it");
    }
    memset(&rt->host_ring, 0, sizeof rt->host_ring);
    if (entered)
        rk__cuda_leave(b);
    rk__cuda_log(b, "teardown: memory %s in %.3f ms", ended && entered ? "freed" : "left",
                 (double)(rk__now_ns() - t0) / 1e6);
    if (b->have_ctx && ended)
        b->cu.cuDevicePrimaryCtxRelease(b->device);
    if (ended)
        rk__cu_unload(&b->cu);
    free(b->state_sizes);
    free(b->free_slots);
    free(b->actors);
    free(b->regate);
    pthread_mutex_destroy(&b->lock);
    pthread_mutex_destroy(&b->ev_lock);
    pthread_mutex_destroy(&b->rate_lock);
    pthread_mutex_destroy(&b->byref_lock);
    free(b);
}

static rk_status cuda_start(rk_runtime *rt)
{
    const rk_gpu_program *p = rt->opt.gpu_program;
    rk__cuda *b;
    rk_status st;
    uint32_t i;
    int entered = 0;
    if (!p || p->magic != RK_GPU_PROGRAM_MAGIC || p->abi != RK_GPU_ABI || rt->opt.max_actors == 0)
        return RK_EINVAL;
    b = calloc(1, sizeof *b);
    if (!b)
        return RK_ENOMEM;
    if (pthread_mutex_init(&b->rate_lock, NULL) != 0) {
        free(b);
        return RK_ENOMEM;
    }
    if (pthread_mutex_init(&b->lock, NULL) != 0) {
        pthread_mutex_destroy(&b->rate_lock);
        free(b);
        return RK_ENOMEM;
    }
    if (pthread_mutex_init(&b->ev_lock, NULL) != 0) {
        pthread_mutex_destroy(&b->lock);
        pthread_mutex_destroy(&b->rate_lock);
        free(b);
        return RK_ENOMEM;
    }
    if (pthread_mutex_init(&b->byref_lock, NULL) != 0) {
        pthread_mutex_destroy(&b->ev_lock);
        pthread_mutex_destroy(&b->lock);
        pthread_mutex_destroy(&b->rate_lock);
        free(b);
        return RK_ENOMEM;
    }
    rk__cuda_tunables(b, rt);
    b->actors = calloc(b->max_actors, sizeof *b->actors);
    b->regate = calloc(b->max_actors, sizeof *b->regate);
    if (!b->actors || !b->regate)
        RK__CHECK(RK_ENOMEM);
    RK__CHECK(rk__cuda_cluster_gate(b, rt->opt.device));
    RK__CHECK(rk__cu_load(&b->cu));
    RK__CHECK(rk__cuda_device(b, rt->opt.device));
    RK__CHECK(rk__cuda_enter(b));
    entered = 1;
    RK__CU_CHECK(b, b->cu.cuStreamCreate(&b->stream, CU_STREAM_NON_BLOCKING));
    RK__CU_CHECK(b, b->cu.cuStreamCreate(&b->copy_stream, CU_STREAM_NON_BLOCKING));
    RK__CHECK(rk__cuda_program(b, p, rt->opt.device));
    RK__CHECK(rk__cuda_grid(b, rt));
    b->free_slots = calloc(b->n_blocks, sizeof *b->free_slots);
    if (!b->free_slots)
        RK__CHECK(RK_ENOMEM);
    for (i = b->light_first - 1; i >= 1; i--)
        b->free_slots[b->n_free++] = i; /* popped from the end: block 1 first */
    RK__CHECK(rk__cuda_layout(rt, b));
    if (!rt->defer_launch) /* else rk__cuda_group_launch, once the group is connected */
        RK__CHECK(rk__cuda_launch(b));
    rk__cuda_leave(b);
    rt->backend_data = b;
    return RK_OK;
fail:
    if (entered)
        rk__cuda_leave(b);
    rk__cuda_teardown(rt, b);
    return st;
}

/* A group's member, prepared with defer_launch (cuda_group.c). */
rk_status rk__cuda_launch_deferred(rk_runtime *rt)
{
    rk__cuda *b = rt->backend_data;
    rk_status st;
    if (!b || b->launched)
        return RK_EINVAL;
    st = rk__cuda_enter(b);
    if (st != RK_OK)
        return st;
    st = rk__cuda_launch(b);
    rk__cuda_leave(b);
    return st;
}

/* ---- commands and events --------------------------------------------------------- */

static rk_status rk__cuda_post(rk__cuda *b, const rk__gpu_cmd *cmd, uint64_t deadline_ns)
{
    uint64_t pos;
    while (rk_ring_claim(&b->cmd_ring, 1, &pos) != RK_OK) {
        if (rk__now_ns() >= deadline_ns)
            return RK_ETIMEDOUT;
        rk__sleep_ns(10000);
    }
    /* An LL slot (ring.h): the supervisor reads it whole in one PCIe round
     * trip and checks each word's flag, so no sequence word has to come
     * first. The release of the sequence word still orders what the
     * command refers to (an inbox, a state) before it. */
    rk_ring_ll_put(&b->cmd_ring, pos, 8, (const unsigned char *)cmd + 8, sizeof *cmd - 8);
    rk_ring_ll_publish(&b->cmd_ring, pos);
    return RK_OK;
}

/* Waits for the acknowledgement of posted command `ticket`. */
static rk_status rk__cuda_ack_wait(rk_runtime *rt, uint64_t ticket, uint64_t deadline_ns, uint64_t *value,
                                   uint64_t *value2)
{
    rk__cuda *b = rt->backend_data;
    const rk__gpu_ack *a = &b->acks[ticket % RK__GPU_ACKS];
    uint64_t spin_end = rk__now_ns() + 20000, nap = 2000;
    for (;;) {
        uint64_t now;
        /* Acquire: pairs with the device's release store of the ticket;
         * status, value and the control block are then current. */
        if (__atomic_load_n(&a->ticket, __ATOMIC_ACQUIRE) == ticket) {
            if (value)
                *value = __atomic_load_n(&a->value, __ATOMIC_RELAXED);
            if (value2)
                *value2 = __atomic_load_n(&a->value2, __ATOMIC_RELAXED);
            return (rk_status)__atomic_load_n(&a->status, __ATOMIC_RELAXED);
        }
        now = rk__now_ns();
        if (now >= deadline_ns)
            return RK_ETIMEDOUT;
        if (now < spin_end) {
            rk__cpu_relax();
            continue;
        }
        rk__cuda_poll(rt, 0);
        if (__atomic_load_n(&b->dead, __ATOMIC_ACQUIRE))
            return RK_EDEVICE;
        rk__sleep_ns(nap < deadline_ns - now ? nap : deadline_ns - now);
        nap = nap < 100000 ? 2 * nap : nap;
    }
}

/* Posts n commands one behind the other and waits for all:
 * the first status that is not RK_OK, else RK_OK; *value (if asked) from
 * the last. The supervisor block takes them in order, so they cost about
 * one round trip between host and GPU, not n. */
static rk_status rk__cuda_commands_wait(rk_runtime *rt, rk__gpu_cmd *cmds, uint32_t n, uint64_t deadline_ns,
                                        uint64_t *value, uint64_t *value2)
{
    rk__cuda *b = rt->backend_data;
    rk_status st = RK_OK;
    uint32_t posted = 0, i;
    if (n == 0 || n > RK__GPU_ACKS / 2)
        return RK_EINVAL;
    if (__atomic_load_n(&b->dead, __ATOMIC_ACQUIRE))
        return RK_EDEVICE;
    for (; posted < n && st == RK_OK; posted++) {
        /* Atomic: a migration re-points forwards (cuda_group.c) without
         * b->lock, which the paused actor's runtime holds meanwhile. */
        cmds[posted].ticket = __atomic_add_fetch(&b->ticket, 1, __ATOMIC_RELAXED);
        st = rk__cuda_post(b, &cmds[posted], deadline_ns);
    }
    if (st != RK_OK)
        posted--; /* the one that could not be posted */
    for (i = 0; i < posted; i++) {
        rk_status s = rk__cuda_ack_wait(rt, cmds[i].ticket, deadline_ns, i + 1 == n ? value : NULL,
                                        i + 1 == n ? value2 : NULL);
        st = st == RK_OK ? s : st;
    }
    return st;
}

/* Posts commands and waits for their acknowledgements. With RK_CUDA_DEBUG=2
 * each call logs how long that took (where a lifecycle operation's or a
 * migration's time goes). */
rk_status rk__cuda_commands(rk_runtime *rt, rk__gpu_cmd *cmds, uint32_t n, uint64_t deadline_ns, uint64_t *value,
                            uint64_t *value2)
{
    rk__cuda *b = rt->backend_data;
    uint64_t t0;
    rk_status st;
    if (b->debug < 2)
        return rk__cuda_commands_wait(rt, cmds, n, deadline_ns, value, value2);
    t0 = rk__now_ns();
    st = rk__cuda_commands_wait(rt, cmds, n, deadline_ns, value, value2);
    if (cmds[0].op == RK__GPU_OP_FORWARD) {
        rk__gpu_fwd_cmd f;
        memcpy(&f, &cmds[0], sizeof f);
        rk__cuda_log(b, "%u FORWARD command(s), the first of %u ids to %#x: %s in %.2f us", (unsigned)n,
                     (unsigned)f.n, (unsigned)f.to, rk_status_name(st), (double)(rk__now_ns() - t0) / 1e3);
    } else
        rk__cuda_log(b, "%u command(s), op %u event %u actor %u: %s in %.2f us", (unsigned)n, (unsigned)cmds[0].op,
                     (unsigned)cmds[0].event, (unsigned)cmds[0].actor, rk_status_name(st),
                     (double)(rk__now_ns() - t0) / 1e3);
    return st;
}

rk_status rk__cuda_command(rk_runtime *rt, rk__gpu_cmd *cmd, uint64_t deadline_ns, uint64_t *value)
{
    return rk__cuda_commands(rt, cmd, 1, deadline_ns, value, NULL);
}

/* A K2K send the device refused across tenants: counted for both, or, with
 * no receiver to name (never expected: the device refuses only at a bound
 * actor's door), as one whose tenants are unknown. */
static void rk__cuda_tenant_refused(rk_runtime *rt, const rk_msg *m)
{
    rk__actor *dst = rk__actor_get(rt, m->dst);
    if (dst)
        rk__tenant_refuse_cross(rt, m, dst);
    else
        rk__tenant_cross_lost(rt, 1);
}

static void rk__cuda_events(rk_runtime *rt, rk__cuda *b)
{
    uint64_t head = rk_ring_head(&b->event_ring), start = head;
    const rk__gpu_event *e;
    while ((e = rk_ring_ready(&b->event_ring, head)) != NULL) {
        rk__gpu_event ev = *e;
        head++;
        if (ev.kind == RK__GPU_EV_ERROR)
            rk__async_error(rt, ev.actor, ev.generation, (rk_status)ev.status);
        else if (ev.kind == RK__GPU_EV_DEAD_LETTER) {
            rk__dead_letter(&rt->dead, &ev.msg, (rk_status)ev.status);
            /* Only a block leaving at the stop dead-letters so (what its
             * cluster-tier ring held): part of the shutdown's count. */
            if (ev.status == RK_ESHUTDOWN)
                b->exit_dead++;
        }
        else if (ev.kind == RK__GPU_EV_RESTART) {
            rk__cuda_restarted(b, ev.actor);
            rk__actor_restarted(rt, ev.actor, ev.generation);
        }
        else if (ev.kind == RK__GPU_EV_TENANT)
            rk__cuda_tenant_refused(rt, &ev.msg);
    }
    if (head != start)
        rk_ring_consume(&b->event_ring, head);
}

/* Events the device could not post (its ring was full), per kind, since
 * the last look: each goes where its event would have, as lost. A lost
 * restart event leaves a name bound to an older generation: every name is
 * bound again. Under ev_lock, in the context. */
static void rk__cuda_lost_events(rk_runtime *rt, rk__cuda *b)
{
    rk__gpu_devflags df;
    uint64_t n[RK__GPU_EV_KINDS];
    uint32_t k;
    if (rk__cuda_download(b, &df, b->devflags_d, sizeof df) != RK_OK)
        return;
    for (k = 0; k < RK__GPU_EV_KINDS; k++) {
        n[k] = df.dropped[k] - b->ev_lost_seen[k];
        b->ev_lost_seen[k] = df.dropped[k];
    }
    if (n[RK__GPU_EV_ERROR - 1])
        rk__async_errors_lost(rt, n[RK__GPU_EV_ERROR - 1]);
    if (n[RK__GPU_EV_DEAD_LETTER - 1])
        rk__deadletters_lost(&rt->dead, n[RK__GPU_EV_DEAD_LETTER - 1]);
    if (n[RK__GPU_EV_RESTART - 1])
        rk__actors_rebind(rt);
    if (n[RK__GPU_EV_TENANT - 1])
        rk__tenant_cross_lost(rt, n[RK__GPU_EV_TENANT - 1]);
}

void rk__cuda_poll(rk_runtime *rt, int force)
{
    rk__cuda *b = rt->backend_data;
    uint64_t now = rk__now_ns();
    if (!b)
        return;
    /* A waiting thread skips a poll that someone else runs; an explicit
     * query (force) waits for it, so it sees what that poll collected. */
    if (force)
        pthread_mutex_lock(&b->ev_lock);
    else if (pthread_mutex_trylock(&b->ev_lock) != 0)
        return;
    rk__cuda_events(rt, b);
    if (b->launched && !b->stop_requested && !__atomic_load_n(&b->dead, __ATOMIC_ACQUIRE) &&
        (force || now >= __atomic_load_n(&b->next_health_ns, __ATOMIC_RELAXED)) && rk__cuda_enter(b) == RK_OK) {
        CUresult r = b->cu.cuStreamQuery(b->stream);
        if (r == CUDA_ERROR_NOT_READY)
            rk__cuda_lost_events(rt, b);
        rk__cuda_leave(b);
        __atomic_store_n(&b->next_health_ns, now + 1000000, __ATOMIC_RELAXED);
        if (r != CUDA_ERROR_NOT_READY) {
            /* Faulted, or returned without being asked to: nothing runs now. */
            rk__cuda_log(b, "the kernel is gone: %s", rk__cu_name(&b->cu, r));
            __atomic_store_n(&b->dead, 1, __ATOMIC_RELEASE);
            rk__async_error(rt, RK_ACTOR_NONE, 0, RK_EDEVICE);
        }
    }
    pthread_mutex_unlock(&b->ev_lock);
}

/* ---- drain and stop ------------------------------------------------------------------ */

/* Every inbox of a running actor consumed up to its tail (as published). */
static int rk__cuda_inboxes_empty(rk__cuda *b)
{
    uint32_t i;
    for (i = 0; i < b->max_actors; i++) {
        rk__cuda_actor *ca = b->actors[i];
        rk_lifecycle_state s;
        if (!ca || !ca->inbox)
            continue;
        s = (rk_lifecycle_state)__atomic_load_n(&b->ctl[i].state, __ATOMIC_ACQUIRE);
        if (!rk_lifecycle_runs(s) && s != RK_INITIALIZING)
            continue;
        if (__atomic_load_n(&ca->inbox->ring.cons->head, __ATOMIC_ACQUIRE) !=
            __atomic_load_n(&ca->inbox->ring.prod->tail, __ATOMIC_ACQUIRE))
            return 0;
    }
    return 1;
}

/* Until the block actors are quiet: the host's inboxes empty and the
 * supervisor finding every running actor idle (QUERY, whose value is the
 * count of messages handled, into *handled). b->lock held. RK_ETIMEDOUT
 * at the deadline, or when the device no longer answers. */
static rk_status rk__cuda_drain_blocks(rk_runtime *rt, rk__cuda *b, uint64_t deadline_ns, uint64_t *handled)
{
    rk__gpu_cmd cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.op = RK__GPU_OP_QUERY;
    for (;;) {
        rk__cuda_poll(rt, 0);
        if (rk__cuda_inboxes_empty(b)) {
            rk_status q = rk__cuda_command(rt, &cmd, deadline_ns, handled);
            if (q == RK_OK && rk__cuda_inboxes_empty(b))
                return RK_OK;
            if (q == RK_EDEVICE || q == RK_ETIMEDOUT)
                return RK_ETIMEDOUT;
        }
        if (rk__now_ns() >= deadline_ns)
            return RK_ETIMEDOUT;
        rk__sleep_ns(20000);
    }
}

/* Block actors first, then light actors, to the same deadline; then the
 * light actors' homes return. Light handlers may send to block actors
 * (after the block actors were found quiet, those messages would wait in
 * their queues for the stop, and be dead-lettered there), so a round in
 * which they did (their count moved) starts another one; the drain ends
 * after a round with no such send. */
static rk_status cuda_drain(rk_runtime *rt, uint64_t deadline_ns, rk_shutdown_report *rep)
{
    rk__cuda *b = rt->backend_data;
    rk__gpu_cmd cmd;
    uint64_t base = 0, handled = 0, t0 = rk__now_ns();
    uint32_t rounds = 0;
    rk_status st = RK_ETIMEDOUT;
    rk_status lst;
    if (!b || !b->launched)
        return RK_OK; /* a group's member whose launch never came */
    rk__cuda_close_gates(b);
    pthread_mutex_lock(&b->lock);
    memset(&cmd, 0, sizeof cmd);
    cmd.op = RK__GPU_OP_DRAIN;
    if (rk__cuda_command(rt, &cmd, deadline_ns, NULL) != RK_OK)
        goto out;
    cmd.op = RK__GPU_OP_QUERY;
    if (rk__cuda_command(rt, &cmd, deadline_ns, &base) == RK_EDEVICE)
        goto out;
    handled = base;
    for (;;) {
        uint64_t out0 = rk__cuda_light_to_blocks(b), out1 = 0;
        rounds++;
        st = rk__cuda_drain_blocks(rt, b, deadline_ns, &handled);
        if (st == RK_OK)
            st = rk__cuda_light_quiet(b, deadline_ns, &out1);
        if (st != RK_OK || out1 == out0)
            break;
    }
out:
    rk__cuda_unlock(b);
    lst = rk__cuda_light_stop_homes(b, deadline_ns);
    rk__cuda_log(b, "drain: %s in %u rounds, %llu messages handled by block actors, in %.3f ms",
                 st == RK_OK ? "done" : rk_status_name(st), rounds, (unsigned long long)(handled - base),
                 (double)(rk__now_ns() - t0) / 1e6);
    if (st == RK_OK && lst != RK_OK)
        st = lst;
    if (rep) {
        rep->drained += handled - base;
        if (st == RK_ETIMEDOUT)
            rep->timed_out = 1;
    }
    return st;
}

/* After the kernel ended: the K2K queues' leftovers become dead letters. */
static uint64_t rk__cuda_dead_letter_k2k(rk_runtime *rt, rk__cuda *b)
{
    size_t ring_bytes = rk_ring_bytes(b->k2k_capacity, b->k2k_slot_size);
    unsigned char *mem = malloc(ring_bytes);
    uint64_t n = 0;
    uint32_t s;
    if (!mem)
        return 0;
    for (s = 1; s < b->n_blocks; s++) {
        CUdeviceptr base = b->k2k_d + (CUdeviceptr)s * ring_bytes;
        const rk_ring_prod *prod = (const rk_ring_prod *)mem;
        const rk_ring_cons *cons = (const rk_ring_cons *)(mem + RK_RING_LINE);
        uint64_t pos;
        if (rk__cuda_download(b, mem, base, 2 * RK_RING_LINE) != RK_OK)
            break;
        if (prod->tail == cons->head)
            continue;
        if (rk__cuda_download(b, mem, base, ring_bytes) != RK_OK)
            break;
        for (pos = cons->head; pos != prod->tail; pos++) {
            const rk_msg *m = (const rk_msg *)(mem + 2 * RK_RING_LINE +
                                               (size_t)(pos & (b->k2k_capacity - 1)) * b->k2k_slot_size);
            if (m->seq != pos + 1)
                continue;
            rk__dead_letter(&rt->dead, m, RK_ESHUTDOWN);
            n++;
        }
    }
    free(mem);
    return n;
}

/* The kernel is told to stop; cuda_stop waits for it. */
static void cuda_stop_begin(rk_runtime *rt)
{
    rk__cuda *b = rt->backend_data;
    if (!b)
        return;
    rk__cuda_rate_stop(b); /* no more top-ups: the kernel is about to stop */
    rk__cuda_close_gates(b);
    b->stop_requested = 1;
    if (b->launched)
        __atomic_store_n(&b->hostflags->stop, 1, __ATOMIC_RELEASE);
}

static void cuda_stop(rk_runtime *rt, rk_shutdown_report *rep)
{
    rk__cuda *b = rt->backend_data;
    uint64_t dead = 0, t0 = rk__now_ns();
    if (!b)
        return;
    cuda_stop_begin(rt);
    if (rk__cuda_enter(b) == RK_OK) {
        if (rk__cuda_wait_kernel(b, b->stop_timeout_ns)) {
            dead = rk__cuda_dead_letter_inboxes(rt);
            if (!__atomic_load_n(&b->dead, __ATOMIC_ACQUIRE))
                dead += rk__cuda_dead_letter_k2k(rt, b);
            pthread_mutex_lock(&b->ev_lock);
            rk__cuda_events(rt, b);
            if (!__atomic_load_n(&b->dead, __ATOMIC_ACQUIRE))
                rk__cuda_lost_events(rt, b);
            dead += b->exit_dead; /* the blocks' own, from their cluster-tier rings */
            pthread_mutex_unlock(&b->ev_lock);
            if (rep)
                rk__cuda_light_leftovers(rt, b, rep);
        }
        rk__cuda_leave(b);
    }
    rk__cuda_log(b, "stop: %llu messages dead-lettered, in %.3f ms", (unsigned long long)dead,
                 (double)(rk__now_ns() - t0) / 1e6);
    if (rep)
        rep->dead_lettered += dead;
}

static void cuda_release(rk_runtime *rt)
{
    rk__cuda *b = rt->backend_data;
    if (!b)
        return;
    rk__cuda_rate_stop(b); /* if cuda_stop did not run */
    rt->backend_data = NULL;
    rk__cuda_teardown(rt, b);
}

/* ---- host waiting ------------------------------------------------------------------------ */

static uint64_t cuda_host_epoch(rk_runtime *rt)
{
    rk__cuda *b = rt->backend_data;
    return b ? __atomic_load_n(&b->wake_epoch, __ATOMIC_ACQUIRE) : 0;
}

/* Watches the slot at the host ring's consumer head (the core publishes its
 * head on every message it takes), and the one where the core's last look
 * stopped when a slot marked by a busy block held it up before that (ring.h,
 * owner marks), so a message from the GPU ends the wait as soon as it
 * lands: spin first, then naps growing to 200 us. */
static void cuda_host_wait(rk_runtime *rt, uint64_t epoch, uint64_t deadline_ns)
{
    rk__cuda *b = rt->backend_data;
    uint64_t now = rk__now_ns(), spin_end, nap = 1000;
    if (!b)
        return;
    spin_end = now + b->host_spin_ns;
    for (;;) {
        if (rk__hostq_moved(rt))
            return;
        if (__atomic_load_n(&b->wake_epoch, __ATOMIC_ACQUIRE) != epoch || __atomic_load_n(&b->dead, __ATOMIC_ACQUIRE))
            return;
        now = rk__now_ns();
        if (now >= deadline_ns)
            return;
        if (now < spin_end) {
            rk__cpu_relax();
            continue;
        }
        rk__cuda_poll(rt, 0);
        rk__sleep_ns(nap < deadline_ns - now ? nap : deadline_ns - now);
        nap = nap < 200000 ? 2 * nap : nap;
    }
}

/* The kernel faulted or returned without being asked to (rk__cuda_poll
 * found it so after the kernel's end: its writes are all in place). With
 * `check`, the poll first (its stream query at most once a millisecond). */
static rk_status cuda_health(rk_runtime *rt, int check)
{
    const rk__cuda *b = rt->backend_data;
    if (!b)
        return RK_OK;
    if (check && !__atomic_load_n(&b->dead, __ATOMIC_ACQUIRE))
        rk__cuda_poll(rt, 0);
    return __atomic_load_n(&b->dead, __ATOMIC_ACQUIRE) ? RK_EDEVICE : RK_OK;
}

static void cuda_host_wake(rk_runtime *rt)
{
    rk__cuda *b = rt->backend_data;
    if (b)
        __atomic_add_fetch(&b->wake_epoch, 1, __ATOMIC_RELEASE);
}

static void cuda_host_release(rk_runtime *rt, const rk_msg *m)
{
    /* Device actors send inline only: nothing to release. */
    (void)rt;
    (void)m;
}

static void cuda_poll_errors(rk_runtime *rt)
{
    rk__cuda_poll(rt, 1);
}

/* The memory-pressure monitor's view (flow.h): in use, the runtime's own
 * structures and the state of the actors bound now; in all, those
 * structures and every state chunk allocated (free space included). */
static rk_status cuda_device_memory(rk_runtime *rt, uint64_t *used, uint64_t *total)
{
    rk__cuda *b = rt->backend_data;
    uint64_t fixed;
    if (!b)
        return RK_ESTATE;
    fixed = __atomic_load_n(&b->dev_fixed, __ATOMIC_RELAXED);
    *used = fixed + __atomic_load_n(&b->dev_state, __ATOMIC_RELAXED);
    *total = fixed + __atomic_load_n(&b->dev_chunks, __ATOMIC_RELAXED);
    return RK_OK;
}

const struct rk_backend_ops rk__cuda_ops = {
    .name = "cuda",
    .start = cuda_start,
    .drain = cuda_drain,
    .stop = cuda_stop,
    .stop_begin = cuda_stop_begin,
    .release = cuda_release,
    .actor_create = rk__cuda_actor_create,
    .actor_command = rk__cuda_actor_command,
    .actor_state = rk__cuda_actor_state,
    .actor_control = rk__cuda_actor_control,
    .send = rk__cuda_send,
    .send_batch = rk__cuda_send_batch,
    .host_epoch = cuda_host_epoch,
    .host_wait = cuda_host_wait,
    .host_wake = cuda_host_wake,
    .host_release = cuda_host_release,
    .poll_errors = cuda_poll_errors,
    .health = cuda_health,
    .device_memory = cuda_device_memory,
    .snapshot = &rk__cuda_snapshot_ops,
    .group = &rk__cuda_group_ops,
    .restarts = &rk__cuda_restart_ops,
    .tenant_rate = rk__cuda_tenant_rate,
    .light = &rk__cuda_light_ops,
};
