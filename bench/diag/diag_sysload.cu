/* How one GPU thread's loads of pinned host memory overlap.
 *
 * A diagnostic, not a benchmark to quote. Session 25 saw four 16-byte
 * ld.relaxed.sys loads of host memory, issued back to back by one thread,
 * take ~3.8 us: one PCIe round trip each, in turn, where one warp's load of
 * the same 64 bytes took one round trip. The runtime's supervisor reads two
 * words of host memory per polling round and copies a 128-byte command with
 * plain loads, and a re-bound block reads seven words of its control block:
 * whether such loads overlap decides how those paths should read.
 *
 * One block of 32 threads times, with the SM's clock, each pattern below
 * over `--reps` repetitions, every repetition on a fresh 128-byte line of a
 * pinned, mapped buffer that no one writes meanwhile (no line is read
 * twice, by any launch, so no cache can answer); the loaded words are summed and stored,
 * so that every load completes inside the timed span:
 *   t0 strong xN    thread 0: N ld.relaxed.sys.v4 (16 bytes), consecutive
 *   t0 weak xN      thread 0: N plain 16-byte loads (ld.global.v4)
 *   t0 acquire xN   thread 0: N ld.acquire.sys 8-byte loads
 *   warp strong xN  lanes 0..N-1: one ld.relaxed.sys.v4 each (one instruction)
 *   t0 strong + L2  thread 0: one ld.relaxed.sys, then one relaxed load of
 *                   device memory (does the second wait for the first?)
 *   t0 two lines    thread 0: ld.relaxed.sys of two lines in two regions, as
 *                   the supervisor's stop word and command slot
 *   t0 strong + acq thread 0: ld.relaxed.sys of one line, then ld.acquire.sys
 *                   of another: the supervisor's poll as it is written
 *   t0 strong8 xN   thread 0: N ld.relaxed.sys 8-byte loads, consecutive
 *   t0 weak8 xN     thread 0: N plain 8-byte loads (a struct copy)
 *   warp strong4 xN lanes 0..N-1: one ld.relaxed.sys 4-byte load each
 *   warp weak4 xN   lanes 0..N-1: one plain 4-byte load each
 *   two lines all   thread 0: two ld.relaxed.sys.v4 of two lines, every
 *                   word used (the compiler may narrow a load whose words
 *                   are not: "t0 two lines" uses one word of each)
 * N is 1, 2, 4, 8, 16 and 32, as far as N loads stay inside one 128-byte
 * line. Output: mean ns per repetition at the SM clock from the device
 * attribute.
 *
 * Usage: diag_sysload [--reps N] */
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu/bench_gpu.h"
#include "ringkernel/device.cuh"

#define LINE 128u

enum {
    P_STRONG,
    P_WEAK,
    P_ACQUIRE,
    P_WARP,
    P_PLUS_L2,
    P_TWO_LINES,
    P_STRONG_ACQ,
    P_STRONG8,
    P_WEAK8,
    P_WARP4,
    P_WARP_WEAK4,
    P_TWO_ALL,
    P_KINDS
};
static const char *const p_name[P_KINDS] = {"t0 strong", "t0 weak", "t0 acquire", "warp strong", "t0 strong + L2",
                                            "t0 two lines", "t0 strong + acq", "t0 strong8", "t0 weak8",
                                            "warp strong4", "warp weak4", "two lines all"};
/* Bytes one load of each pattern reads; 0: one repetition only (N = 1). */
static const uint32_t p_bytes[P_KINDS] = {16, 16, 8, 16, 0, 0, 0, 8, 8, 4, 4, 0};

/* Strong (relaxed, system scope) 16-byte load: device.cuh's, as the runtime reads its inboxes. */
static __device__ __forceinline__ uint4 ld_strong16(const void *p)
{
    return rk__gpu_ld128_sys((const uint4 *)p);
}

/* One repetition per iteration, on line r of `host` (and of `far`). */
__global__ void sysload_kernel(const unsigned char *host, const unsigned char *far, const uint64_t *dev, uint32_t kind,
                               uint32_t n, uint32_t reps, unsigned long long *cycles, unsigned long long *sink)
{
    const uint32_t lane = threadIdx.x;
    unsigned long long total = 0, acc = 0;
    for (uint32_t r = 0; r < reps; r++) {
        const unsigned char *line = host + (size_t)r * LINE;
        __syncwarp();
        const long long t0 = clock64();
        if (kind == P_WARP) {
            if (lane < n) {
                const uint4 v = ld_strong16(line + 16u * lane);
                acc += v.x + v.w;
            }
        } else if (kind == P_WARP4) {
            if (lane < n) {
                uint32_t v;
                asm volatile("ld.relaxed.sys.global.u32 %0, [%1];" : "=r"(v) : "l"(line + 4u * lane) : "memory");
                acc += v;
            }
        } else if (kind == P_WARP_WEAK4) {
            if (lane < n)
                acc += ((const uint32_t *)line)[lane];
        } else if (lane == 0) {
            uint32_t i;
            switch (kind) {
            case P_STRONG:
                for (i = 0; i < n; i++) {
                    const uint4 v = ld_strong16(line + 16u * i);
                    acc += v.x + v.w;
                }
                break;
            case P_WEAK:
                for (i = 0; i < n; i++) {
                    const uint4 v = ((const uint4 *)line)[i];
                    acc += v.x + v.w;
                }
                break;
            case P_ACQUIRE:
                for (i = 0; i < n; i++)
                    acc += rk__ld_acquire((const uint64_t *)(line + 8u * i), RK_RING_SCOPE_SYSTEM);
                break;
            case P_PLUS_L2: {
                const uint4 v = ld_strong16(line);
                acc += v.x + rk__ld_relaxed(dev + (r % 1024u) * 16u, RK_RING_SCOPE_DEVICE);
                break;
            }
            case P_TWO_LINES: {
                const uint4 a = ld_strong16(line), b = ld_strong16(far + (size_t)r * LINE);
                acc += a.x + b.x;
                break;
            }
            case P_STRONG8:
                for (i = 0; i < n; i++)
                    acc += rk__ld_relaxed((const uint64_t *)(line + 8u * i), RK_RING_SCOPE_SYSTEM);
                break;
            case P_WEAK8:
                for (i = 0; i < n; i++)
                    acc += ((const uint64_t *)line)[i];
                break;
            case P_TWO_ALL: {
                const uint4 a = ld_strong16(line), b = ld_strong16(far + (size_t)r * LINE);
                acc += a.x + a.y + a.z + a.w + b.x + b.y + b.z + b.w;
                break;
            }
            case P_STRONG_ACQ: {
                const uint4 a = ld_strong16(line);
                acc += a.x + rk__ld_acquire((const uint64_t *)(far + (size_t)r * LINE), RK_RING_SCOPE_SYSTEM);
                break;
            }
            }
        }
        /* Each lane uses its sum before the clock is read again. */
        if (acc == 0x5a5a5a5a5a5aull)
            *sink = acc;
        __syncwarp();
        total += (unsigned long long)(clock64() - t0);
    }
    if (lane == 0) {
        *cycles = total;
        *sink = acc;
    }
}

int main(int argc, char **argv)
{
    uint32_t reps = 2000, kind, n, mhz;
    int clock_khz = 0, dev = 0;
    size_t bytes, next = 0;
    unsigned char *host = NULL, *host_d = NULL;
    uint64_t *devmem = NULL;
    unsigned long long *cycles = NULL, *sink = NULL;
    struct cudaDeviceProp prop;
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--reps") == 0)
            reps = (uint32_t)strtoul(argv[i + 1], NULL, 10);
    if (reps == 0 || reps > 20000) {
        fprintf(stderr, "--reps: 1..20000\n");
        return 2;
    }
    if (cudaGetDeviceCount(&dev) != cudaSuccess || dev == 0) {
        printf("no CUDA device\n");
        return 77;
    }
    RKB_CUDA(cudaGetDeviceProperties(&prop, 0));
    RKB_CUDA(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, 0));
    mhz = (uint32_t)(clock_khz / 1000);
    /* Fresh lines for every launch: a warm-up and a timed one per pattern
     * and N, two regions each. */
    bytes = (size_t)P_KINDS * 6u * 2u * 2u * reps * LINE;
    RKB_CUDA(cudaHostAlloc((void **)&host, bytes, cudaHostAllocMapped));
    memset(host, 1, bytes);
    RKB_CUDA(cudaHostGetDevicePointer((void **)&host_d, host, 0));
    RKB_CUDA(cudaMalloc((void **)&devmem, 1024u * 16u * sizeof(uint64_t)));
    RKB_CUDA(cudaMemset(devmem, 0, 1024u * 16u * sizeof(uint64_t)));
    RKB_CUDA(cudaMalloc((void **)&cycles, sizeof *cycles));
    RKB_CUDA(cudaMalloc((void **)&sink, sizeof *sink));
    printf("diag_sysload: %s, SM clock %u MHz (attribute); %u repetitions, each on fresh lines of pinned host memory; "
           "mean ns per repetition\n",
           prop.name, mhz, reps);
    printf("%-16s %9s %9s %9s %9s %9s %9s\n", "pattern", "N=1", "N=2", "N=4", "N=8", "N=16", "N=32");
    for (kind = 0; kind < P_KINDS; kind++) {
        printf("%-16s", p_name[kind]);
        for (n = 1; n <= 32; n *= 2) {
            unsigned long long c = 0;
            if (p_bytes[kind] ? n * p_bytes[kind] > LINE : n > 1) {
                printf(" %9s", "-");
                continue;
            }
            /* A warm-up launch first (first touches of the mapping), then
             * the timed one, each on lines no launch read before. */
            for (int timed = 0; timed < 2; timed++) {
                sysload_kernel<<<1, 32>>>(host_d + next, host_d + next + (size_t)reps * LINE, devmem, kind, n, reps,
                                          cycles, sink);
                next += 2u * (size_t)reps * LINE;
                RKB_CUDA(cudaGetLastError());
                RKB_CUDA(cudaDeviceSynchronize());
            }
            RKB_CUDA(cudaMemcpy(&c, cycles, sizeof c, cudaMemcpyDeviceToHost));
            printf(" %9.1f", (double)c / reps * 1000.0 / mhz);
        }
        printf("\n");
    }
    RKB_CUDA(cudaFree(sink));
    RKB_CUDA(cudaFree(cycles));
    RKB_CUDA(cudaFree(devmem));
    RKB_CUDA(cudaFreeHost(host));
    return 0;
}
