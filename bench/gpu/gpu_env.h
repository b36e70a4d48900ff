/* What a GPU benchmark ran on: the device, the driver, and its clock state
 * as found (read-only queries; nothing here sets a clock, a power limit or
 * a mode). NVML is loaded with dlopen so that the programs build and start
 * without it; where it is missing, the CUDA attributes give the rated
 * clocks only, and the JSON says which source answered. CUDA C++. */
#ifndef RK_BENCH_GPU_ENV_H
#define RK_BENCH_GPU_ENV_H

#include <cuda_runtime.h>
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

/* The clock state at one moment (NVML; zero/-1 where it did not answer). */
typedef struct rkb_clocks {
    int valid;                /* NVML answered the SM clock query */
    unsigned sm_mhz, mem_mhz; /* current */
    unsigned sm_max_mhz, mem_max_mhz;
    int pstate; /* 0 = P0; -1 unknown */
    int reasons_valid;
    unsigned long long reasons; /* clock event ("throttle") reason bits */
    int temp_c;                 /* -1 unknown */
    double power_w;             /* < 0 unknown */
} rkb_clocks;

typedef struct rkb_gpu {
    int device;
    char name[256];
    char pci_bus_id[32];
    int sms, cc_major, cc_minor;
    int cuda_driver, cuda_runtime;   /* cudaDriverGetVersion / cudaRuntimeGetVersion */
    int rated_sm_khz, rated_mem_khz; /* cudaDevAttrClockRate / cudaDevAttrMemoryClockRate (peak) */
    size_t mem_total;
    char driver[96]; /* NVML's driver version, "" if NVML is unavailable */
    char nvml[160];  /* "ok" or why NVML gave nothing */
    int persistence; /* -1 unknown */
    char host[256], kernel[256];
    long host_cpus;
} rkb_gpu;

/* NVML entry points used here (signatures from NVIDIA's NVML reference). */
typedef struct rkb_nvml {
    void *lib;
    void *dev; /* nvmlDevice_t */
    int (*init)(void);
    int (*shutdown)(void);
    int (*by_pci)(const char *, void **);
    int (*driver_version)(char *, unsigned);
    int (*clock)(void *, int, unsigned *);
    int (*max_clock)(void *, int, unsigned *);
    int (*pstate)(void *, int *);
    int (*reasons)(void *, unsigned long long *);
    int (*temp)(void *, int, unsigned *);
    int (*power)(void *, unsigned *);
    int (*persistence)(void *, int *);
} rkb_nvml;

enum { RKB_NVML_CLOCK_SM = 1, RKB_NVML_CLOCK_MEM = 2, RKB_NVML_TEMP_GPU = 0 };

static inline void *rkb__sym(void *lib, const char *a, const char *b)
{
    void *p = dlsym(lib, a);
    return p || !b ? p : dlsym(lib, b);
}

/* Opens NVML for `g`'s device; on failure leaves n->dev NULL and says why. */
static inline void rkb_nvml_open(rkb_nvml *n, rkb_gpu *g)
{
    memset(n, 0, sizeof *n);
    n->lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!n->lib) {
        snprintf(g->nvml, sizeof g->nvml, "libnvidia-ml.so.1 not loadable");
        return;
    }
    *(void **)&n->init = rkb__sym(n->lib, "nvmlInit_v2", "nvmlInit");
    *(void **)&n->shutdown = rkb__sym(n->lib, "nvmlShutdown", NULL);
    *(void **)&n->by_pci = rkb__sym(n->lib, "nvmlDeviceGetHandleByPciBusId_v2", "nvmlDeviceGetHandleByPciBusId");
    *(void **)&n->driver_version = rkb__sym(n->lib, "nvmlSystemGetDriverVersion", NULL);
    *(void **)&n->clock = rkb__sym(n->lib, "nvmlDeviceGetClockInfo", NULL);
    *(void **)&n->max_clock = rkb__sym(n->lib, "nvmlDeviceGetMaxClockInfo", NULL);
    *(void **)&n->pstate = rkb__sym(n->lib, "nvmlDeviceGetPerformanceState", NULL);
    *(void **)&n->reasons =
        rkb__sym(n->lib, "nvmlDeviceGetCurrentClocksEventReasons", "nvmlDeviceGetCurrentClocksThrottleReasons");
    *(void **)&n->temp = rkb__sym(n->lib, "nvmlDeviceGetTemperature", NULL);
    *(void **)&n->power = rkb__sym(n->lib, "nvmlDeviceGetPowerUsage", NULL);
    *(void **)&n->persistence = rkb__sym(n->lib, "nvmlDeviceGetPersistenceMode", NULL);
    if (!n->init || !n->by_pci || !n->clock || n->init() != 0) {
        snprintf(g->nvml, sizeof g->nvml, "NVML present but did not initialise");
        n->init = NULL;
        return;
    }
    if (n->by_pci(g->pci_bus_id, &n->dev) != 0) {
        snprintf(g->nvml, sizeof g->nvml, "NVML has no device at %s", g->pci_bus_id);
        n->dev = NULL;
        return;
    }
    snprintf(g->nvml, sizeof g->nvml, "ok");
    if (n->driver_version && n->driver_version(g->driver, sizeof g->driver) != 0)
        g->driver[0] = '\0';
    if (n->persistence && n->persistence(n->dev, &g->persistence) != 0)
        g->persistence = -1;
}

static inline void rkb_nvml_close(rkb_nvml *n)
{
    if (n->init && n->shutdown)
        n->shutdown();
    if (n->lib)
        dlclose(n->lib);
    memset(n, 0, sizeof *n);
}

/* Reads the clock state now (read-only). */
static inline rkb_clocks rkb_clocks_now(const rkb_nvml *n)
{
    rkb_clocks c;
    unsigned v = 0;
    memset(&c, 0, sizeof c);
    c.pstate = -1;
    c.temp_c = -1;
    c.power_w = -1;
    if (!n->dev)
        return c;
    c.valid = n->clock(n->dev, RKB_NVML_CLOCK_SM, &c.sm_mhz) == 0;
    if (n->clock(n->dev, RKB_NVML_CLOCK_MEM, &c.mem_mhz) != 0)
        c.mem_mhz = 0;
    if (n->max_clock) {
        if (n->max_clock(n->dev, RKB_NVML_CLOCK_SM, &c.sm_max_mhz) != 0)
            c.sm_max_mhz = 0;
        if (n->max_clock(n->dev, RKB_NVML_CLOCK_MEM, &c.mem_max_mhz) != 0)
            c.mem_max_mhz = 0;
    }
    if (n->pstate && n->pstate(n->dev, &c.pstate) != 0)
        c.pstate = -1;
    if (n->reasons)
        c.reasons_valid = n->reasons(n->dev, &c.reasons) == 0;
    if (n->temp && n->temp(n->dev, RKB_NVML_TEMP_GPU, &v) == 0)
        c.temp_c = (int)v;
    if (n->power && n->power(n->dev, &v) == 0)
        c.power_w = v / 1000.0;
    return c;
}

/* Fills `g` for CUDA device `device` (which must exist). */
static inline cudaError_t rkb_gpu_query(rkb_gpu *g, int device)
{
    struct cudaDeviceProp p;
    struct utsname u;
    cudaError_t e;
    memset(g, 0, sizeof *g);
    g->device = device;
    g->persistence = -1;
    if ((e = cudaGetDeviceProperties(&p, device)) != cudaSuccess)
        return e;
    snprintf(g->name, sizeof g->name, "%s", p.name);
    g->sms = p.multiProcessorCount;
    g->cc_major = p.major;
    g->cc_minor = p.minor;
    g->mem_total = p.totalGlobalMem;
    cudaDriverGetVersion(&g->cuda_driver);
    cudaRuntimeGetVersion(&g->cuda_runtime);
    cudaDeviceGetAttribute(&g->rated_sm_khz, cudaDevAttrClockRate, device);
    cudaDeviceGetAttribute(&g->rated_mem_khz, cudaDevAttrMemoryClockRate, device);
    if (cudaDeviceGetPCIBusId(g->pci_bus_id, sizeof g->pci_bus_id, device) != cudaSuccess)
        g->pci_bus_id[0] = '\0';
    if (gethostname(g->host, sizeof g->host) != 0)
        g->host[0] = '\0';
    g->host[sizeof g->host - 1] = '\0';
    if (uname(&u) == 0)
        snprintf(g->kernel, sizeof g->kernel, "%s %s %s", u.sysname, u.release, u.machine);
    g->host_cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return cudaSuccess;
}

static inline void rkb_clocks_print(const char *when, const rkb_clocks *c)
{
    if (!c->valid) {
        printf("clocks %s: not available (NVML)\n", when);
        return;
    }
    printf("clocks %s: SM %u MHz (max %u), memory %u MHz (max %u), P%d, reasons 0x%llx, %d C, %.1f W "
           "(as found, not set)\n",
           when, c->sm_mhz, c->sm_max_mhz, c->mem_mhz, c->mem_max_mhz, c->pstate, c->reasons, c->temp_c, c->power_w);
}

#endif
