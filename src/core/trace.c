/* NVTX ranges (core/trace.h). Compiled only when the build found NVTX v3,
 * whose header-only implementation lives in this one translation unit: it
 * loads a tool (Nsight Systems, or any library named by
 * NVTX_INJECTION64_PATH) on the first NVTX call, and is a no-op without one. */
#include "core/trace.h"

#include <pthread.h>
#include <string.h>

#include <nvtx3/nvToolsExt.h>

static const char *const rk__trace_names[RK__TRACE_COUNT] = {
#define RK__TRACE_NAME(id, name) name,
    RK__TRACE_RANGES(RK__TRACE_NAME)
#undef RK__TRACE_NAME
};

/* Process-wide, as NVTX's own state is: written once under rk__trace_once,
 * read after it (pthread_once orders the writes before every return). */
static pthread_once_t rk__trace_once = PTHREAD_ONCE_INIT;
static nvtxDomainHandle_t rk__trace_domain;
static nvtxStringHandle_t rk__trace_strings[RK__TRACE_COUNT];

static void rk__trace_init(void)
{
    rk__trace_domain = nvtxDomainCreateA("ringkernel");
    /* Registered, a name is handed to the tool once rather than per push. */
    for (int i = 0; i < RK__TRACE_COUNT; i++)
        rk__trace_strings[i] = nvtxDomainRegisterStringA(rk__trace_domain, rk__trace_names[i]);
}

void rk__trace_push(rk__trace_range r)
{
    nvtxEventAttributes_t a;
    pthread_once(&rk__trace_once, rk__trace_init);
    memset(&a, 0, sizeof a);
    a.version = NVTX_VERSION;
    a.size = NVTX_EVENT_ATTRIB_STRUCT_SIZE;
    if (rk__trace_strings[r]) {
        a.messageType = NVTX_MESSAGE_TYPE_REGISTERED;
        a.message.registered = rk__trace_strings[r];
    } else { /* a tool that does not register strings */
        a.messageType = NVTX_MESSAGE_TYPE_ASCII;
        a.message.ascii = rk__trace_names[r];
    }
    nvtxDomainRangePushEx(rk__trace_domain, &a);
}

void rk__trace_pop(void)
{
    /* This thread's push went through rk__trace_once: the domain is set. */
    nvtxDomainRangePop(rk__trace_domain);
}
