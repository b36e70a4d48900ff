/* ringkernel: the message header shared by host and device.
 *
 * A message is a 64-byte header followed by its payload. The payload sits
 * inline in the queue slot when it fits (slot_size - 64 bytes); a larger one
 * travels by reference (RK_MSG_F_BYREF): `ref` then holds the address of a
 * buffer the runtime owns until the receiver's handler returns.
 *
 * Compiles as C11 and as CUDA C; the layout is fixed by the asserts below. */
#ifndef RINGKERNEL_MSG_H
#define RINGKERNEL_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "ringkernel/export.h"
#include "ringkernel/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef uint32_t rk_actor_id;

#define RK_ACTOR_HOST ((rk_actor_id)0xFFFFFFFFu) /* the host program */
#define RK_ACTOR_NONE ((rk_actor_id)0xFFFFFFFEu)

/* Group ids (group.h): bits 24..27 hold a member index + 1, so an id
 * without them is a plain id of one runtime; bits 0..23 the actor's id
 * inside the member. Ids of one runtime stay below 2^20 (max_actors);
 * RK_ACTOR_HOST and RK_ACTOR_NONE are never gids. */
#define RK_GROUP_MAX 8u /* members of a group, at most */
#define RK_GID_SHIFT 24u
#define RK_GID_LOCAL_MASK 0x00FFFFFFu
/* rk_gid(m, RK__GID_HOST_LOCAL) is the host of member m: the sender of a
 * host request that moved with its actor (local ids stay below 2^20). */
#define RK__GID_HOST_LOCAL RK_GID_LOCAL_MASK

RK_HD rk_actor_id rk_gid(uint32_t member, rk_actor_id local)
{
    return ((member + 1u) << RK_GID_SHIFT) | (local & RK_GID_LOCAL_MASK);
}

/* The member index of a gid, or -1 for an id that is not one. */
RK_HD int rk_gid_member(rk_actor_id id)
{
    uint32_t tag = id >> RK_GID_SHIFT;
    return tag == 0 || tag > RK_GROUP_MAX ? -1 : (int)tag - 1;
}

RK_HD rk_actor_id rk_gid_local(rk_actor_id id)
{
    return rk_gid_member(id) < 0 ? id : (id & RK_GID_LOCAL_MASK);
}

#define RK_MSG_HEADER_SIZE 64u

/* Type ids at or above this value belong to the runtime. */
#define RK_MSG_TYPE_SYSTEM 0xFFFF0000u

/* A slot its producer reserved and did not need: consumers skip it. (A GPU
 * actor reserves a slot of the queue to the host while a batch is copied in,
 * so that a reply does not wait for the claim.) */
#define RK_MSG_TYPE_NOP RK_MSG_TYPE_SYSTEM

enum rk_msg_flags {
    RK_MSG_F_REQUEST = 1u << 0, /* sender waits for a reply with the same corr */
    RK_MSG_F_REPLY = 1u << 1,   /* answers the request whose corr it carries */
    RK_MSG_F_BYREF = 1u << 2,   /* payload at `ref`, not inline */
};
#define RK_MSG_F_ALL (RK_MSG_F_REQUEST | RK_MSG_F_REPLY | RK_MSG_F_BYREF)

typedef struct rk_msg {
    uint64_t seq;        /* owned by the ring that carries the message */
    uint32_t type;       /* user type id, < RK_MSG_TYPE_SYSTEM */
    uint32_t flags;      /* enum rk_msg_flags */
    rk_actor_id src;     /* sender, RK_ACTOR_HOST for the host */
    rk_actor_id dst;     /* receiver, RK_ACTOR_HOST for the host */
    uint32_t tenant;     /* sender's tenant; must equal the receiver's */
    uint32_t dst_gen;    /* receiver generation addressed; 0 = whichever is current */
    uint64_t corr;       /* correlation id pairing a request with its reply */
    uint64_t hlc;        /* hybrid logical clock stamp of the send */
    uint32_t len;        /* payload bytes */
    uint32_t src_gen;    /* sender generation, so a reply can address it */
    uint64_t ref;        /* payload address when RK_MSG_F_BYREF, else 0 */
} rk_msg;

RK_STATIC_ASSERT(sizeof(rk_msg) == RK_MSG_HEADER_SIZE, "message header is one 64-byte line");
RK_STATIC_ASSERT(offsetof(rk_msg, seq) == 0, "ring sequence word first");
RK_STATIC_ASSERT(offsetof(rk_msg, type) == 8, "msg layout");
RK_STATIC_ASSERT(offsetof(rk_msg, src) == 16, "msg layout");
RK_STATIC_ASSERT(offsetof(rk_msg, tenant) == 24, "msg layout");
RK_STATIC_ASSERT(offsetof(rk_msg, corr) == 32, "msg layout");
RK_STATIC_ASSERT(offsetof(rk_msg, hlc) == 40, "msg layout");
RK_STATIC_ASSERT(offsetof(rk_msg, len) == 48, "msg layout");
RK_STATIC_ASSERT(offsetof(rk_msg, ref) == 56, "msg layout");

/* Payload bytes that fit inline in a slot of `slot_size` bytes. */
RK_HD uint32_t rk_msg_inline_capacity(uint32_t slot_size)
{
    return slot_size > RK_MSG_HEADER_SIZE ? slot_size - RK_MSG_HEADER_SIZE : 0u;
}

/* The payload of a message, inline or by reference. */
RK_HD const void *rk_msg_payload(const rk_msg *m)
{
    return (m->flags & RK_MSG_F_BYREF) ? (const void *)(uintptr_t)m->ref : (const void *)(m + 1);
}

/* Checks a header as it enters a queue whose slots hold `inline_cap` payload
 * bytes and whose by-reference payloads are limited to `max_payload` bytes.
 * Returns RK_EBADMSG for unknown flag bits, a reply without a correlation id,
 * REQUEST and REPLY together, or a by-reference message without a buffer;
 * RK_EINVAL for a system type id; RK_E2BIG for a payload over the limit or an
 * inline payload that does not fit the slot. Routing and tenancy are checked
 * by the runtime, which knows the actors. */
RK_HD rk_status rk_msg_validate(const rk_msg *m, uint32_t inline_cap, uint32_t max_payload)
{
    if (m->flags & ~(uint32_t)RK_MSG_F_ALL)
        return RK_EBADMSG;
    if ((m->flags & RK_MSG_F_REQUEST) && (m->flags & RK_MSG_F_REPLY))
        return RK_EBADMSG;
    if ((m->flags & (RK_MSG_F_REQUEST | RK_MSG_F_REPLY)) && m->corr == 0)
        return RK_EBADMSG;
    if (m->type >= RK_MSG_TYPE_SYSTEM)
        return RK_EINVAL;
    if (m->len > max_payload)
        return RK_E2BIG;
    if (m->flags & RK_MSG_F_BYREF)
        return m->ref != 0 ? RK_OK : RK_EBADMSG;
    if (m->ref != 0)
        return RK_EBADMSG;
    return m->len <= inline_cap ? RK_OK : RK_E2BIG;
}

#ifdef __cplusplus
}
#endif

#endif
