/* The light actor types of test_gpu_light_runtime (light_actors.cu): a
 * program of its own, so that the other GPU tests' kernel keeps no home
 * code. Compiles as C11 and CUDA C. */
#ifndef RK_LIGHT_ACTORS_H
#define RK_LIGHT_ACTORS_H

#include <stdint.h>

#include "ringkernel/ringkernel.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Type indices in rkl_program. */
enum {
    RKL_BLOCK_ECHO = 0, /* a block actor: ECHO back (the two kinds in one kernel) */
    RKL_ECHO = 1,       /* light: ECHO back; COUNT: its state's count; STATE: its state's tag */
    RKL_RELAY = 2,      /* light: HOP, passed on `hops` times, then to the host */
    RKL_FAILER = 3,     /* light: FAIL returns RK_EHANDLER, anything else is echoed */
    RKL_STORM = 4,      /* light: any message sends one to itself and one to the next storm (data[0]: the
                           first storm's id, data[1]: how many), for ever (the stop must cut it) */
    RKL_BLOCK_FAN = 5,  /* a block actor: FAN, one message to each of n light actors (rkl_fan) */
    RKL_BLOCK_BACK = 6, /* a block actor: sends every message back to its sender (BOUNCE: see there) */
    RKL_NTYPES
};

enum {
    RKL_MSG_ECHO = 1,
    RKL_MSG_COUNT = 2, /* reply data[0]: messages it handled before this one */
    RKL_MSG_STATE = 3, /* reply data[0..1]: its state's tag words */
    RKL_MSG_HOP = 4,   /* rkl_hop */
    RKL_MSG_FAIL = 5,
    RKL_MSG_LOST = 6,  /* a handler's send failed: data[0] the status */
    RKL_MSG_WHO = 7,   /* reply data[0]: the sender it saw, data[1]: its data[0] */
    RKL_MSG_FAN = 8,   /* rkl_fan; the block actor's reply: three int32 statuses */
    RKL_MSG_VIA = 9,   /* to a light echo: data[1] goes to block actor data[0] as a WHO (a failed
                          send comes to the host as LOST) */
    RKL_MSG_BOUNCE = 10, /* data[0]: a block back actor, data[1]: n, data[2] / data[3]: ns the block
                            actor / the light echo holds each bounce. With n > 0 a light echo
                            sends {data[0], n - 1, data[2], data[3]} to the block actor, which sends
                            it back the same way; with n == 0 either side sends it to the host. A
                            light echo's failed send is its handler's error; the block actor's
                            fails it */
};

/* FAN: light ids first .. first + n - 1 get a WHO each (data[0] = i); then a
 * 49-byte send to `first` and a send to `beyond` (past the light actors). */
typedef struct rkl_fan {
    uint32_t first, n, beyond, pad;
} rkl_fan;

/* Each light echo actor's state: a tag (the spawn's initial state) and a
 * count of the messages it handled. */
typedef struct rkl_echo_state {
    uint64_t tag[2];
    uint64_t count;
} rkl_echo_state;

/* A relayed message: where the relays are, who sent it (host thread and
 * sequence), hops left, and the sum of the relays it went through. */
typedef struct rkl_hop {
    uint32_t first;  /* the relays: ids first .. first + n - 1 */
    uint32_t n;
    uint32_t sender;
    uint32_t hops;   /* left */
    uint64_t seq;
    uint64_t path;   /* sum of the indices of the relays it went through */
    uint64_t pad[2];
} rkl_hop;

extern const struct rk_gpu_program rkl_program;

#ifdef __cplusplus
}
#endif

#endif
