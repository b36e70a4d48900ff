/* Quick start: one actor that doubles numbers, driven through its lifecycle. */
#include <ringkernel/ringkernel.h>
#include <stdio.h>

static rk_status doubler(rk_ctx *ctx, void *state, const rk_msg *msg)
{
    long v = *(const long *)rk_msg_payload(msg) * 2;
    ++*(long *)state;
    return rk_reply(ctx, 1, &v, sizeof v);
}

int main(void)
{
    static const rk_actor_type type = {.name = "doubler", .handle = doubler};
    rk_runtime *rt;
    rk_actor_options o;
    rk_actor_id id;
    rk_lifecycle_state s;
    long in = 21, out = 0;
    rk_msgbuf reply = {.data = &out, .capacity = sizeof out};

    rk_runtime_create(&rt, NULL);
    rk_actor_options_init(&o);
    o.name = "processor", o.type = &type, o.state_size = sizeof(long);
    rk_launch(rt, &o, &id);
    rk_actor_state(rt, id, &s);
    printf("launched %s on %s: %s\n", o.name, rk_backend_name(rk_runtime_backend(rt)), rk_lifecycle_state_name(s));
    rk_status st = rk_call(rt, id, 1, &in, sizeof in, &reply, 1000000000);
    printf("call(21) -> %ld (%s)\n", out, rk_status_name(st));
    rk_deactivate(rt, id), rk_actor_state(rt, id, &s), printf("deactivated: %s\n", rk_lifecycle_state_name(s));
    rk_activate(rt, id), rk_actor_state(rt, id, &s), printf("activated: %s\n", rk_lifecycle_state_name(s));
    rk_terminate(rt, id), rk_actor_state(rt, id, &s), printf("terminated: %s\n", rk_lifecycle_state_name(s));
    rk_runtime_destroy(rt);
    return st == RK_OK && out == 42 ? 0 : 1;
}
