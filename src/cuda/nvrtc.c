/* ringkernel CUDA backend: GPU programs compiled at run time with NVRTC.
 *
 * libnvrtc is loaded on first use (dlopen), like the driver, so a program
 * that never compiles at run time does not need it. The source includes
 * ringkernel/device.cuh from the include directory; the three C headers it
 * pulls in (NVRTC has none) are supplied in memory. */
#include <ctype.h>
#include <dlfcn.h>
#include <nvrtc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cuda/cu_api.h"
#include "ringkernel/device.cuh"
#include "ringkernel/nvrtc.h"

#define RK__NVRTC_FUNCS(X)                                                                            \
    X(nvrtcCreateProgram)                                                                             \
    X(nvrtcDestroyProgram)                                                                            \
    X(nvrtcCompileProgram)                                                                            \
    X(nvrtcGetProgramLogSize)                                                                         \
    X(nvrtcGetProgramLog)                                                                             \
    X(nvrtcGetCUBINSize)                                                                              \
    X(nvrtcGetCUBIN)                                                                                  \
    X(nvrtcGetPTXSize)                                                                                \
    X(nvrtcGetPTX)

typedef struct rk__nvrtc {
    void *lib;
#define RK__NVRTC_FIELD(fn) __typeof__(&fn) fn;
    RK__NVRTC_FUNCS(RK__NVRTC_FIELD)
#undef RK__NVRTC_FIELD
} rk__nvrtc;

#define RK__NV_STR2(x) #x
#define RK__NV_STR(x) RK__NV_STR2(x)

/* What <stdint.h>, <stddef.h> and <string.h> must give the ringkernel
 * headers under NVRTC (size_t and the mem* functions are built in there;
 * __INTADDR__ keeps offsetof a constant expression for static_assert). */
static const char rk__stdint_h[] =
    "#pragma once\n"
    "typedef signed char int8_t; typedef unsigned char uint8_t;\n"
    "typedef short int16_t; typedef unsigned short uint16_t;\n"
    "typedef int int32_t; typedef unsigned int uint32_t;\n"
    "typedef long long int64_t; typedef unsigned long long uint64_t;\n"
    "typedef long long intptr_t; typedef unsigned long long uintptr_t;\n"
    "#define INT32_MAX 2147483647\n#define UINT32_MAX 0xffffffffu\n"
    "#define INT64_MAX 9223372036854775807ll\n#define UINT64_MAX 0xffffffffffffffffull\n"
    "#define UINT64_C(x) x##ull\n#define INT64_C(x) x##ll\n";
static const char rk__stddef_h[] = "#pragma once\n"
                                   "#ifndef offsetof\n#define offsetof(t, m) ((size_t)__INTADDR__(&(((t *)0)->m)))\n#endif\n"
                                   "#ifndef NULL\n#define NULL 0\n#endif\n";
static const char rk__string_h[] = "#pragma once\n";

static rk_status rk__nvrtc_load(rk__nvrtc *nv)
{
    char name[64];
    const char *tries[3];
    int i;
    memset(nv, 0, sizeof *nv);
    snprintf(name, sizeof name, "libnvrtc.so.%d", CUDA_VERSION / 1000);
    tries[0] = name;
    tries[1] = "libnvrtc.so";
    tries[2] = RK__CUDA_LIB_DIR "/libnvrtc.so";
    for (i = 0; i < 3 && !nv->lib; i++)
        nv->lib = dlopen(tries[i], RTLD_NOW | RTLD_LOCAL);
    if (!nv->lib)
        return RK_ENOBACKEND;
#define RK__NVRTC_LOAD(fn)                                                                            \
    nv->fn = (__typeof__(nv->fn))dlsym(nv->lib, RK__NV_STR(fn));                                      \
    if (!nv->fn) {                                                                                    \
        dlclose(nv->lib);                                                                             \
        nv->lib = NULL;                                                                               \
        return RK_ENOBACKEND;                                                                         \
    }
    RK__NVRTC_FUNCS(RK__NVRTC_LOAD)
#undef RK__NVRTC_LOAD
    return RK_OK;
}

void rk_gpu_source_options_init(rk_gpu_source_options *o)
{
    if (o)
        memset(o, 0, sizeof *o);
}

static const char *rk__nvrtc_include_dir(const rk_gpu_source_options *o)
{
    const char *env = getenv("RK_INCLUDE_DIR");
    if (o && o->include_dir)
        return o->include_dir;
    if (env && *env)
        return env;
    if (access(RK__SOURCE_INCLUDE_DIR "/ringkernel/device.cuh", R_OK) == 0)
        return RK__SOURCE_INCLUDE_DIR;
    return RK__INSTALL_INCLUDE_DIR;
}

/* "sm_XY" for the device, through the driver. */
static rk_status rk__nvrtc_device_arch(int device, char *arch, size_t n)
{
    rk__cu cu;
    CUdevice dev;
    int major = 0, minor = 0;
    rk_status st = rk__cu_load(&cu);
    if (st != RK_OK)
        return st;
    if (cu.cuDeviceGet(&dev, device) != CUDA_SUCCESS ||
        cu.cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev) != CUDA_SUCCESS ||
        cu.cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev) != CUDA_SUCCESS)
        st = RK_ENODEV;
    else
        snprintf(arch, n, "sm_%d%d", major, minor);
    rk__cu_unload(&cu);
    return st;
}

static int rk__nvrtc_identifier(const char *s)
{
    if (!*s || isdigit((unsigned char)*s))
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return 0;
    return 1;
}

static char *rk__nvrtc_log(rk__nvrtc *nv, nvrtcProgram prog)
{
    size_t n = 0;
    char *log;
    if (nv->nvrtcGetProgramLogSize(prog, &n) != NVRTC_SUCCESS || n <= 1)
        return NULL;
    log = malloc(n);
    if (log && nv->nvrtcGetProgramLog(prog, log) != NVRTC_SUCCESS) {
        free(log);
        log = NULL;
    }
    return log;
}

/* The compiled image: machine code for sm_ targets, PTX otherwise. */
static rk_status rk__nvrtc_image(rk__nvrtc *nv, nvrtcProgram prog, int cubin, rk_gpu_program *p)
{
    size_t n = 0;
    nvrtcResult r = cubin ? nv->nvrtcGetCUBINSize(prog, &n) : nv->nvrtcGetPTXSize(prog, &n);
    if (r != NVRTC_SUCCESS || n == 0)
        return RK_EINVAL;
    p->image = malloc(n);
    if (!p->image)
        return RK_ENOMEM;
    r = cubin ? nv->nvrtcGetCUBIN(prog, p->image) : nv->nvrtcGetPTX(prog, p->image);
    if (r != NVRTC_SUCCESS)
        return RK_EINVAL;
    p->image_size = n;
    return RK_OK;
}

rk_status rk_gpu_program_from_source(rk_gpu_program **out, const char *name, const char *source,
                                     const rk_gpu_source_options *o, char **log)
{
    const char *hdr_src[3] = {rk__stdint_h, rk__stddef_h, rk__string_h};
    const char *hdr_name[3] = {"stdint.h", "stddef.h", "string.h"};
    char arch[64], arch_opt[96], inc_opt[4200];
    const char **opts = NULL;
    rk__nvrtc nv;
    nvrtcProgram prog = NULL;
    rk_gpu_program *p = NULL;
    rk_status st;
    uint32_t i, n_opts = 0, n_extra = o ? o->n_extra_options : 0;

    if (log)
        *log = NULL;
    if (!out || !name || !source || !rk__nvrtc_identifier(name) || strlen(name) > 200 ||
        (n_extra && !o->extra_options))
        return RK_EINVAL;
    *out = NULL;
    if (o && o->arch)
        snprintf(arch, sizeof arch, "%s", o->arch);
    else if ((st = rk__nvrtc_device_arch(o ? o->device : 0, arch, sizeof arch)) != RK_OK)
        return st;
    st = rk__nvrtc_load(&nv);
    if (st != RK_OK)
        return st;
    snprintf(arch_opt, sizeof arch_opt, "--gpu-architecture=%s", arch);
    snprintf(inc_opt, sizeof inc_opt, "-I%s", rk__nvrtc_include_dir(o));
    opts = calloc(4 + n_extra, sizeof *opts);
    p = calloc(1, sizeof *p);
    if (!opts || !p) {
        st = RK_ENOMEM;
        goto out;
    }
    opts[n_opts++] = arch_opt;
    opts[n_opts++] = inc_opt;
    opts[n_opts++] = "-std=c++17";
    /* The shared headers declare host functions (rk_status_name, ...),
     * which NVRTC refuses unless unannotated functions count as device. */
    opts[n_opts++] = "-default-device";
    for (i = 0; i < n_extra; i++)
        opts[n_opts++] = o->extra_options[i];
    if (nv.nvrtcCreateProgram(&prog, source, name, 3, hdr_src, hdr_name) != NVRTC_SUCCESS) {
        st = RK_ENOMEM;
        goto out;
    }
    st = nv.nvrtcCompileProgram(prog, (int)n_opts, opts) == NVRTC_SUCCESS ? RK_OK : RK_EINVAL;
    if (log)
        *log = rk__nvrtc_log(&nv, prog);
    if (st != RK_OK)
        goto out;
    st = rk__nvrtc_image(&nv, prog, strncmp(arch, "sm_", 3) == 0, p);
    if (st != RK_OK)
        goto out;
    p->name = strdup(name);
    if (!p->name) {
        st = RK_ENOMEM;
        goto out;
    }
    p->magic = RK_GPU_PROGRAM_MAGIC;
    p->abi = RK_GPU_ABI;
    *out = p;
    p = NULL;
out:
    if (prog)
        nv.nvrtcDestroyProgram(&prog);
    dlclose(nv.lib);
    free(opts);
    rk_gpu_program_destroy(p);
    return st;
}

void rk_gpu_program_destroy(rk_gpu_program *p)
{
    if (!p)
        return;
    free(p->image);
    free((char *)p->name);
    free(p);
}
