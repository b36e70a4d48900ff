#include "cuda/cu_api.h"

#include <dlfcn.h>
#include <string.h>

#define RK__CU_STR2(x) #x
#define RK__CU_STR(x) RK__CU_STR2(x)

rk_status rk__cu_load(rk__cu *cu)
{
    memset(cu, 0, sizeof *cu);
    cu->lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!cu->lib)
        return RK_ENODEV;
#define RK__CU_LOAD(fn)                                                                               \
    cu->fn = (__typeof__(cu->fn))dlsym(cu->lib, RK__CU_STR(fn));                                     \
    if (!cu->fn)                                                                                     \
        goto fail;
    RK__CU_FUNCS(RK__CU_LOAD)
#undef RK__CU_LOAD
#define RK__CU_LOAD_OPTIONAL(fn) cu->fn = (__typeof__(cu->fn))dlsym(cu->lib, RK__CU_STR(fn));
    RK__CU_OPTIONAL_FUNCS(RK__CU_LOAD_OPTIONAL)
#undef RK__CU_LOAD_OPTIONAL
    if (cu->cuInit(0) != CUDA_SUCCESS)
        goto fail;
    return RK_OK;
fail:
    rk__cu_unload(cu);
    return RK_ENODEV;
}

void rk__cu_unload(rk__cu *cu)
{
    if (cu->lib)
        dlclose(cu->lib);
    memset(cu, 0, sizeof *cu);
}

rk_status rk__cu_status(CUresult r)
{
    switch (r) {
    case CUDA_SUCCESS:
        return RK_OK;
    case CUDA_ERROR_OUT_OF_MEMORY:
        return RK_ENOMEM;
    case CUDA_ERROR_NO_DEVICE:
    case CUDA_ERROR_INVALID_DEVICE:
    case CUDA_ERROR_NOT_INITIALIZED:
        return RK_ENODEV;
    case CUDA_ERROR_NOT_SUPPORTED:
    case CUDA_ERROR_NO_BINARY_FOR_GPU:
        return RK_ENOTSUP;
    default:
        return RK_EDEVICE;
    }
}

const char *rk__cu_name(const rk__cu *cu, CUresult r)
{
    const char *s = NULL;
    if (cu->cuGetErrorName && cu->cuGetErrorName(r, &s) == CUDA_SUCCESS && s)
        return s;
    return "CUDA_ERROR_UNKNOWN";
}
