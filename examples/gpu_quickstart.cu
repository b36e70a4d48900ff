/* Quick start on the GPU: the same "processor" actor as quickstart.c, as a
 * thread block of a persistent kernel. Its lifecycle runs inside the kernel. */
#include <ringkernel/device.cuh>
#include <ringkernel/ringkernel.h>
#include <stdio.h>

__device__ rk_status doubler(rk_dctx *ctx, long *count, const rk_msg *msg)
{
    long v = *(const long *)rk_msg_payload(msg) * 2;
    if (threadIdx.x == 0)
        ++*count;
    return rk_dreply(ctx, 1, &v, sizeof v); /* collective: every thread calls it */
}
RK_GPU_ACTOR(doubler_actor, long, doubler);
RK_GPU_PROGRAM(quickstart_program, doubler_actor);

int main(void)
{
    static const rk_actor_type type = {.name = "doubler", .gpu_type = 0};
    rk_runtime_options ro;
    rk_runtime *rt;
    rk_actor_options o;
    rk_actor_id id;
    rk_lifecycle_state s;
    long in = 21, out = 0;
    rk_msgbuf reply = {.hdr = {}, .data = &out, .capacity = sizeof out};

    rk_runtime_options_init(&ro);
    ro.backend = RK_BACKEND_CUDA, ro.gpu_program = &quickstart_program, ro.max_actors = 4;
    rk_status st = rk_runtime_create(&rt, &ro);
    if (st != RK_OK)
        return printf("no GPU runtime: %s\n", rk_strerror(st)), 77;
    rk_actor_options_init(&o);
    o.name = "processor", o.type = &type, o.state_size = sizeof(long);
    rk_launch(rt, &o, &id);
    rk_actor_state(rt, id, &s);
    printf("launched %s on %s: %s\n", o.name, rk_backend_name(rk_runtime_backend(rt)), rk_lifecycle_state_name(s));
    st = rk_call(rt, id, 1, &in, sizeof in, &reply, 1000000000);
    printf("call(21) -> %ld (%s)\n", out, rk_status_name(st));
    rk_deactivate(rt, id), rk_actor_state(rt, id, &s), printf("deactivated: %s\n", rk_lifecycle_state_name(s));
    rk_activate(rt, id), rk_actor_state(rt, id, &s), printf("activated: %s\n", rk_lifecycle_state_name(s));
    rk_terminate(rt, id), rk_actor_state(rt, id, &s), printf("terminated: %s\n", rk_lifecycle_state_name(s));
    rk_runtime_destroy(rt);
    return st == RK_OK && out == 42 ? 0 : 1;
}
