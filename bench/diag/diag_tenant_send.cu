/* diag_tenant's sender: one thread that calls the K2K put of device.cuh
 * (rk__gpu_k2k_put, the send path of every actor) in timed batches.
 *
 * Not a translation unit of its own: diag_tenant.cu includes it as it is
 * (the checks on), and diag_tenant_nochecks.cu after defining
 * RK__GPU_BENCH_NO_CHECKS (the tenant and credit checks compiled out). The
 * two copies differ in their names and in those two checks only; device.cuh's
 * functions are static, so both live in one program.
 *
 * The sender runs on one chosen SM (the blocks of a wide launch look at
 * %smid and all but one leave), so that both copies send from the same SM
 * through the same door to the same ring: their times differ by the code
 * alone. Before each batch it waits until the receiver has taken and freed
 * every slot, so a batch of at most the ring's capacity never finds the
 * ring full - which the copy without the credit check could not notice. */
#include <cuda_runtime.h>
#include <stdint.h>
#include <string.h>

#include "ringkernel/device.cuh"

#if !defined(RK__GPU_TENANT_REFUSED) || !defined(RK__GPU_CREDIT_SHORT)
#error "device.cuh has no RK__GPU_TENANT_REFUSED / RK__GPU_CREDIT_SHORT: nothing to compile out"
#endif

#if defined(RK__GPU_BENCH_NO_CHECKS)
#if RK__GPU_TENANT_REFUSED(0, 0) || RK__GPU_CREDIT_SHORT(0, 0, 0)
#error "RK__GPU_BENCH_NO_CHECKS is defined but the checks are still compiled in"
#endif
#define DT_SEND dt_send_unchecked
#define DT_SEND_KERNEL dt_send_unchecked_kernel
#else
#define DT_SEND dt_send_checked
#define DT_SEND_KERNEL dt_send_checked_kernel
#endif

#define DT_DATA 3u                   /* the message type the receiver counts */
#define DT_DRAIN_NS 5000000000ull    /* a ring that does not empty in 5 s ends the launch */

/* What one launch did (device memory, zeroed by the host before it). */
typedef struct dt_send_out {
    uint32_t ran;       /* 1 once a block on the chosen SM took the work */
    uint32_t timed_out; /* the ring did not drain: the launch stopped early */
    uint32_t no_slot;   /* the receiver's door names no block */
    int32_t other_status; /* the last status that was neither RK_OK nor RK_ETENANT */
    uint64_t ok, refused, other; /* statuses of the puts, warm-up batch included */
    uint64_t next_seq;  /* the sequence number after the last message delivered */
    uint64_t cycles, ns; /* the whole launch: SM clock and %globaltimer, for the clock rate */
} dt_send_out;

typedef struct dt_send_args {
    rk__gpu_world world; /* the runtime's, as its actor blocks hold it */
    rk_actor_id src, dst;
    uint32_t tenant; /* the sender's */
    uint32_t sm;     /* run on this SM */
    uint32_t batches; /* timed batches, after one untimed */
    uint32_t batch;   /* puts per batch, at most the ring's capacity */
    uint64_t seq0;    /* the first message's sequence number */
    dt_send_out *out;
    uint64_t *cycles; /* [batches]: SM clock cycles of each timed batch */
} dt_send_args;

/* Launches the sender on `grid` one-thread blocks; the host waits for the stream. */
cudaError_t dt_send_checked(const dt_send_args *a, unsigned grid, cudaStream_t s);
cudaError_t dt_send_unchecked(const dt_send_args *a, unsigned grid, cudaStream_t s);

static __device__ __forceinline__ uint32_t dt_smid(void)
{
    uint32_t v;
    asm volatile("mov.u32 %0, %%smid;" : "=r"(v));
    return v;
}

/* Waits until the receiver has freed every slot (its published head reaches
 * the tail); 0 after DT_DRAIN_NS. Acquire: pairs with the receiver's release
 * of its head, so its reads of those slots are done before the next batch
 * overwrites them - the order the credit check's own acquire gives, and the
 * only one the unchecked copy has. */
static __device__ int dt_drain(const rk_ring_prod *prod, const rk_ring_cons *cons)
{
    const uint64_t start = rk__gpu_clock();
    while (rk__ld_acquire(&cons->head, RK_RING_SCOPE_DEVICE) != rk__ld_relaxed(&prod->tail, RK_RING_SCOPE_DEVICE)) {
        if (rk__gpu_clock() - start > DT_DRAIN_NS)
            return 0;
        __nanosleep(256);
    }
    return 1;
}

__global__ void __launch_bounds__(1) DT_SEND_KERNEL(const dt_send_args a)
{
    __shared__ rk__gpu_world w;
    rk__gpu_k2k_hint hint;
    rk_msg h;
    const rk_ring_prod *prod;
    const rk_ring_cons *cons;
    uint64_t seq = a.seq0, ok = 0, refused = 0, other = 0, c0, n0, payload;
    uint32_t slot, b, i;
    if (dt_smid() != a.sm || atomicCAS(&a.out->ran, 0u, 1u) != 0u)
        return;
    w = a.world; /* in shared memory, as an actor block keeps its copy */
    memset(&hint, 0, sizeof hint);
    memset(&h, 0, sizeof h);
    h.type = DT_DATA;
    h.src = a.src;
    h.dst = a.dst;
    h.tenant = a.tenant;
    h.src_gen = 1;
    h.len = (uint32_t)sizeof payload;
    /* The receiver's ring, for the drain: where its door says it is bound. */
    slot = (uint32_t)((rk__ld_relaxed(&w.dir[a.dst].door, RK_RING_SCOPE_DEVICE) & RK__GPU_DOOR_SLOT) >>
                      RK__GPU_DOOR_SLOT_SHIFT);
    if (slot == 0 || slot > w.n_blocks) {
        a.out->no_slot = 1;
        return;
    }
    prod = (const rk_ring_prod *)(w.k2k_mem + (size_t)(slot - 1) * w.k2k_ring_bytes);
    cons = (const rk_ring_cons *)((const unsigned char *)prod + RK_RING_LINE);
    c0 = clock64();
    n0 = rk__gpu_clock();
    /* Batch 0 warms the hint (its first put reads the tail and the cached
     * head) and the instruction cache: not timed. */
    for (b = 0; b <= a.batches; b++) {
        uint64_t t0;
        if (!dt_drain(prod, cons)) {
            a.out->timed_out = 1;
            break;
        }
        t0 = clock64();
        for (i = 0; i < a.batch; i++) {
            uint32_t fwd;
            rk_status st;
            payload = seq;
            st = rk__gpu_k2k_put(&w, &h, &payload, &fwd, &hint);
            if (st == RK_OK && fwd == 0) {
                ok++;
                seq++;
            } else if (st == RK_ETENANT) {
                refused++;
            } else {
                other++;
                a.out->other_status = (int32_t)st;
            }
        }
        if (b > 0)
            a.cycles[b - 1] = (uint64_t)clock64() - t0;
    }
    /* The receiver has everything before the host asks it for its counts. */
    if (!a.out->timed_out && !dt_drain(prod, cons))
        a.out->timed_out = 1;
    a.out->cycles = (uint64_t)clock64() - c0;
    a.out->ns = rk__gpu_clock() - n0;
    a.out->ok = ok;
    a.out->refused = refused;
    a.out->other = other;
    a.out->next_seq = seq;
}

cudaError_t DT_SEND(const dt_send_args *a, unsigned grid, cudaStream_t s)
{
    DT_SEND_KERNEL<<<grid, 1, 0, s>>>(*a);
    return cudaGetLastError();
}
