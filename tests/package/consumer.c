/* Links against the installed library and round-trips one message. */
#include <ringkernel/ringkernel.h>
#include <stdio.h>
#include <string.h>

static rk_status echo(rk_ctx *ctx, void *state, const rk_msg *m)
{
    (void)state;
    return rk_reply(ctx, m->type, rk_msg_payload(m), m->len);
}

int main(void)
{
    static const rk_actor_type type = {.name = "echo", .handle = echo};
    rk_runtime_options ro;
    rk_actor_options o;
    rk_runtime *rt;
    rk_actor_id id;
    char out[8] = {0};
    rk_msgbuf reply = {.data = out, .capacity = sizeof out};

    rk_runtime_options_init(&ro);
    ro.backend = RK_BACKEND_CPU;
    if (rk_runtime_create(&rt, &ro) != RK_OK)
        return 1;
    rk_actor_options_init(&o);
    o.name = "echo";
    o.type = &type;
    rk_status st = rk_launch(rt, &o, &id);
    if (st == RK_OK)
        st = rk_call(rt, id, 7, "hello", 6, &reply, 1000000000ull);
    rk_runtime_destroy(rt);
    printf("consumer: %s %s\n", rk_status_name(st), out);
    return st == RK_OK && strcmp(out, "hello") == 0 ? 0 : 1;
}
