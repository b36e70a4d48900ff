/* ringkernel: GPU programs compiled at run time (NVRTC).
 *
 * A GPU program is the persistent kernel instantiated over a list of actor
 * types (device.cuh). Built with nvcc, RK_GPU_PROGRAM(name, types...) defines
 * it as a constant in the user's program. Here the same source, handlers and
 * RK_GPU_PROGRAM included, is compiled while the program runs, so a program
 * can gain an actor type without being rebuilt. Either kind goes into
 * rk_runtime_options.gpu_program.
 *
 * The source includes "ringkernel/device.cuh" exactly as an nvcc-compiled
 * file does; <stdint.h>, <stddef.h> and <string.h> are supplied by the
 * library, since NVRTC has no C library headers. No device is needed to
 * compile when the options name the architecture. Available only when the
 * library was built with the CUDA backend. */
#ifndef RINGKERNEL_NVRTC_H
#define RINGKERNEL_NVRTC_H

#include <stdint.h>

#include "ringkernel/export.h"
#include "ringkernel/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Opaque here; its layout is in device.cuh, which nvcc-built programs fill. */
typedef struct rk_gpu_program rk_gpu_program;

typedef struct rk_gpu_source_options {
    /* The directory holding ringkernel/device.cuh. NULL: $RK_INCLUDE_DIR,
     * then the source tree the library was built from, then its install
     * prefix. */
    const char *include_dir;
    /* Target such as "sm_90" (machine code) or "compute_90" (PTX, compiled
     * by the driver at load). NULL: the compute capability of `device`. */
    const char *arch;
    int device;                        /* CUDA ordinal used when arch is NULL; default 0 */
    const char *const *extra_options;  /* more NVRTC options, e.g. "-DN=4"; may be NULL */
    uint32_t n_extra_options;
} rk_gpu_source_options;

/* Fills `o` with the defaults above. */
RK_API void rk_gpu_source_options_init(rk_gpu_source_options *o);

/* Compiles `source`, which must contain RK_GPU_PROGRAM(name, ...) with this
 * `name`, into a program the caller owns (rk_gpu_program_destroy) and that
 * must outlive every runtime using it. `o` may be NULL for defaults. When
 * `log` is not NULL it receives the compiler's output (malloc'd; the caller
 * frees it with free(); NULL when empty), on success and on failure.
 * Returns RK_EINVAL for a NULL argument or a source that does not compile
 * (the log says why), RK_ENOBACKEND when the NVRTC library cannot be loaded,
 * RK_ENODEV when arch is NULL and `device` does not exist, RK_ENOMEM.
 * Blocks while compiling (tens to hundreds of milliseconds); thread-safe. */
RK_API rk_status rk_gpu_program_from_source(rk_gpu_program **out, const char *name, const char *source,
                                            const rk_gpu_source_options *o, char **log);

/* Frees a program from rk_gpu_program_from_source. NULL is a no-op; a
 * program defined with RK_GPU_PROGRAM must not be passed here. */
RK_API void rk_gpu_program_destroy(rk_gpu_program *p);

#ifdef __cplusplus
}
#endif

#endif
