/* What the NVTX injection library of the tests (trace_inject.c) records,
 * and the functions through which a test reads it. The test finds them with
 * dlsym in the library that NVTX loaded from NVTX_INJECTION64_PATH. */
#ifndef TRACE_INJECT_H
#define TRACE_INJECT_H

#include <pthread.h>
#include <stddef.h>

#define TRACE_INJECT_NAME_MAX 64

/* TRACE_INJECT_NO_REGISTER=1 in the environment: the library does not
 * install nvtxDomainRegisterStringA, as a tool that does not register
 * strings (NVTX then answers NULL handles). */
#define TRACE_INJECT_NO_REGISTER "TRACE_INJECT_NO_REGISTER"

typedef struct trace_event {
    int push;                           /* 1: a range pushed; 0: popped */
    int registered;                     /* a push named by a registered string */
    pthread_t thread;                   /* who pushed or popped */
    char domain[TRACE_INJECT_NAME_MAX]; /* the domain's name; "?" for one it never made */
    char name[TRACE_INJECT_NAME_MAX];   /* a push's message; "" for a pop */
} trace_event;

/* int trace_inject_initialized(void): whether NVTX called the library's
 * InitializeInjectionNvtx2. */
typedef int (*trace_inject_initialized_fn)(void);

/* size_t trace_inject_domains(char (*out)[TRACE_INJECT_NAME_MAX], size_t cap):
 * the names of the domains created so far, in order (all of them
 * counted, the first cap copied). */
typedef size_t (*trace_inject_domains_fn)(char (*out)[TRACE_INJECT_NAME_MAX], size_t cap);

/* size_t trace_inject_take(trace_event *out, size_t cap): moves the events
 * recorded so far into out (the first cap; all are counted and forgotten).
 * Returns SIZE_MAX if more were recorded than the library keeps. */
typedef size_t (*trace_inject_take_fn)(trace_event *out, size_t cap);

#endif
