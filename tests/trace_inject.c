/* An NVTX injection library, built as a profiler's is: NVTX loads it from
 * NVTX_INJECTION64_PATH on the first NVTX call of the process and calls
 * InitializeInjectionNvtx2, which installs this library's functions in the
 * slots of the domain calls that the library uses (create a domain,
 * register a string, push and pop a range). It records every push and pop
 * with its thread, domain and name for the test to read (trace_inject.h);
 * the slots it leaves empty NVTX turns into no-ops. */
#define NVTX_NO_IMPL /* a tool: NVTX's types and declarations, not its implementation */
#include <nvtx3/nvToolsExt.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace_inject.h"

#define EVENTS_MAX 4096
#define DOMAINS_MAX 8
#define STRINGS_MAX 64

/* A domain or string handle is a pointer into these tables; NVTX and the
 * library under test treat handles as opaque. */
struct nvtxDomainRegistration_st {
    char name[TRACE_INJECT_NAME_MAX];
};
struct nvtxStringRegistration_st {
    char text[TRACE_INJECT_NAME_MAX];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int initialized;
static struct nvtxDomainRegistration_st domains[DOMAINS_MAX];
static size_t n_domains;
static struct nvtxStringRegistration_st strings[STRINGS_MAX];
static size_t n_strings;
static trace_event events[EVENTS_MAX];
static size_t n_events;
static int overflowed;
static _Thread_local int depth; /* this thread's open ranges */

static void copy_name(char *dst, const char *src)
{
    snprintf(dst, TRACE_INJECT_NAME_MAX, "%s", src ? src : "(null)");
}

static nvtxDomainHandle_t domain_create(const char *name)
{
    nvtxDomainHandle_t d = NULL;
    pthread_mutex_lock(&lock);
    if (n_domains < DOMAINS_MAX) {
        d = &domains[n_domains++];
        copy_name(d->name, name);
    }
    pthread_mutex_unlock(&lock);
    return d;
}

static nvtxStringHandle_t register_string(nvtxDomainHandle_t d, const char *text)
{
    nvtxStringHandle_t s = NULL;
    (void)d;
    pthread_mutex_lock(&lock);
    if (n_strings < STRINGS_MAX) {
        s = &strings[n_strings++];
        copy_name(s->text, text);
    }
    pthread_mutex_unlock(&lock);
    return s;
}

static void record(int push, nvtxDomainHandle_t d, const nvtxEventAttributes_t *a)
{
    trace_event e;
    memset(&e, 0, sizeof e);
    e.push = push;
    depth += push ? 1 : -1;
    e.thread = pthread_self();
    copy_name(e.domain, d ? d->name : "?");
    if (push && a->messageType == NVTX_MESSAGE_TYPE_REGISTERED) {
        e.registered = 1;
        copy_name(e.name, a->message.registered ? a->message.registered->text : NULL);
    } else if (push && a->messageType == NVTX_MESSAGE_TYPE_ASCII) {
        copy_name(e.name, a->message.ascii);
    } else if (push) {
        copy_name(e.name, "(unexpected message type)");
    }
    pthread_mutex_lock(&lock);
    if (n_events < EVENTS_MAX)
        events[n_events++] = e;
    else
        overflowed = 1;
    pthread_mutex_unlock(&lock);
}

static int range_push(nvtxDomainHandle_t d, const nvtxEventAttributes_t *a)
{
    record(1, d, a);
    return depth - 1; /* NVTX: the 0-based level of the range pushed */
}

static int range_pop(nvtxDomainHandle_t d)
{
    record(0, d, NULL);
    return depth;
}

static void install(NvtxFunctionTable table, unsigned int size, unsigned int id, NvtxFunctionPointer fn)
{
    if (id < size && table[id])
        *table[id] = fn;
}

int InitializeInjectionNvtx2(NvtxGetExportTableFunc_t get_export_table)
{
    const NvtxExportTableCallbacks *cb = get_export_table(NVTX_ETID_CALLBACKS);
    NvtxFunctionTable core2 = NULL;
    unsigned int size = 0;

    if (!cb || !cb->GetModuleFunctionTable(NVTX_CB_MODULE_CORE2, &core2, &size) || !core2)
        return 0;
    install(core2, size, NVTX_CBID_CORE2_DomainCreateA, (NvtxFunctionPointer)domain_create);
    if (!getenv(TRACE_INJECT_NO_REGISTER))
        install(core2, size, NVTX_CBID_CORE2_DomainRegisterStringA, (NvtxFunctionPointer)register_string);
    install(core2, size, NVTX_CBID_CORE2_DomainRangePushEx, (NvtxFunctionPointer)range_push);
    install(core2, size, NVTX_CBID_CORE2_DomainRangePop, (NvtxFunctionPointer)range_pop);
    pthread_mutex_lock(&lock);
    initialized = 1;
    pthread_mutex_unlock(&lock);
    return 1;
}

int trace_inject_initialized(void)
{
    int v;
    pthread_mutex_lock(&lock);
    v = initialized;
    pthread_mutex_unlock(&lock);
    return v;
}

size_t trace_inject_domains(char (*out)[TRACE_INJECT_NAME_MAX], size_t cap)
{
    size_t n;
    pthread_mutex_lock(&lock);
    n = n_domains;
    for (size_t i = 0; i < n && i < cap; i++)
        memcpy(out[i], domains[i].name, TRACE_INJECT_NAME_MAX);
    pthread_mutex_unlock(&lock);
    return n;
}

size_t trace_inject_take(trace_event *out, size_t cap)
{
    size_t n;
    pthread_mutex_lock(&lock);
    n = overflowed ? SIZE_MAX : n_events;
    memcpy(out, events, (n_events < cap ? n_events : cap) * sizeof *out);
    n_events = 0;
    overflowed = 0;
    pthread_mutex_unlock(&lock);
    return n;
}
