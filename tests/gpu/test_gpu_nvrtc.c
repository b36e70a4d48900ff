/* An actor type that exists only as source text, compiled while the
 * program runs (NVRTC) against the same device API, then run by a fresh
 * runtime. A source that does not compile gives RK_EINVAL and the
 * compiler's log. With RKT_COMPILE_ONLY set, only compiles (for sm_90 and
 * to PTX), which needs no device. */
#include "gpu_test.h"
#include "ringkernel/nvrtc.h"

static const char adder_src[] =
    "#include \"ringkernel/device.cuh\"\n"
    "typedef struct { uint64_t total; uint64_t calls; } adder_state;\n"
    "static __device__ rk_status adder(rk_dctx *c, adder_state *s, const rk_msg *m)\n"
    "{\n"
    "    __shared__ uint64_t total;\n"
    "    if (m->len != 8) return RK_EBADMSG;\n"
    "    __syncthreads();\n"
    "    if (threadIdx.x == 0) { s->total += *(const uint64_t *)rk_msg_payload(m); s->calls++; total = s->total; }\n"
    "    __syncthreads();\n"
    "    return rk_dreply(c, 1, &total, sizeof total);\n"
    "}\n"
    "static __device__ rk_status adder_init(rk_dctx *c, adder_state *s)\n"
    "{\n"
    "    (void)c;\n"
    "    if (threadIdx.x == 0) s->total += 1000;\n"
    "    return RK_OK;\n"
    "}\n"
    "RK_GPU_ACTOR_INIT(adder_actor, adder_state, adder, adder_init);\n"
    "RK_GPU_PROGRAM(rt_adder, adder_actor);\n";

static const char broken_src[] = "#include \"ringkernel/device.cuh\"\n"
                                 "static __device__ rk_status f(rk_dctx *c, int *s, const rk_msg *m) { return nope; }\n";

static rk_gpu_program *compile(const char *arch, const char *src, rk_status want)
{
    rk_gpu_source_options o;
    rk_gpu_program *p = NULL;
    char *log = NULL;
    rk_status st;
    rk_gpu_source_options_init(&o);
    o.arch = arch;
    st = rk_gpu_program_from_source(&p, "rt_adder", src, &o, &log);
    if (st == RK_ENOBACKEND || (st == RK_ENODEV && !arch)) {
        printf("SKIP: %s\n", rk_status_name(st));
        exit(RK_TEST_SKIP);
    }
    if (st != want) {
        fprintf(stderr, "compile (%s): %s, want %s\n%s\n", arch ? arch : "device", rk_status_name(st),
                rk_status_name(want), log ? log : "");
        RKT_FAIL();
    }
    if (want != RK_OK)
        RKT_CHECK(log && strstr(log, "error"));
    free(log);
    return p;
}

int main(void)
{
    rk_gpu_program *p;
    rk_runtime_options o;
    rk_runtime *rt;
    rk_actor_type type = {"adder", NULL, NULL, 0};
    rk_actor_options ao;
    rk_actor_id id;
    uint64_t v, out = 0;
    rk_msgbuf mb = {.data = &out, .capacity = sizeof out};
    uint64_t t0 = rk_test_now_ns();

    rk_gpu_program_destroy(compile("sm_90", adder_src, RK_OK));
    rk_gpu_program_destroy(compile("compute_80", adder_src, RK_OK));
    compile("sm_90", broken_src, RK_EINVAL);
    RKT_CHECK_ST(rk_gpu_program_from_source(&p, "not an identifier", adder_src, NULL, NULL), RK_EINVAL);
    printf("nvrtc: compiles in %.0f ms each\n", (double)(rk_test_now_ns() - t0) / 3e6);
    if (getenv("RKT_COMPILE_ONLY"))
        return 0;

    p = compile(NULL, adder_src, RK_OK); /* for the device that will run it */
    rkt_options(&o, 4, p);
    rt = rkt_runtime_with(&o);
    rk_actor_options_init(&ao);
    ao.name = "adder";
    ao.type = &type;
    RKT_CHECK_ST(rk_launch(rt, &ao, &id), RK_OK);
    v = 5;
    RKT_CHECK_ST(rk_call(rt, id, 1, &v, sizeof v, &mb, 5 * RKT_SEC), RK_OK);
    RKT_CHECK(out == 1005);
    v = 7;
    RKT_CHECK_ST(rk_call(rt, id, 1, &v, sizeof v, &mb, 5 * RKT_SEC), RK_OK);
    RKT_CHECK(out == 1012);
    RKT_CHECK_ST(rk_restart(rt, id), RK_OK);
    RKT_CHECK_ST(rk_call(rt, id, 1, &v, sizeof v, &mb, 5 * RKT_SEC), RK_OK);
    RKT_CHECK(out == 1007);
    type.gpu_type = 1; /* the program has one type */
    ao.name = "nosuchtype";
    RKT_CHECK_ST(rk_launch(rt, &ao, &id), RK_EINVAL);
    rk_runtime_destroy(rt);
    rk_gpu_program_destroy(p);
    printf("nvrtc: a run-time compiled actor type ran: ok\n");
    return 0;
}
