/* The GPU actor types the GPU tests share (tests/gpu/gpu_actors.cu), and
 * the payloads they exchange with the host. Compiles as C11 and CUDA C. */
#ifndef RK_GPU_ACTORS_H
#define RK_GPU_ACTORS_H

#include <stddef.h>
#include <stdint.h>

#include "ringkernel/ringkernel.h"

#ifdef __cplusplus
extern "C" {
#endif

/* GPU type indices in rkt_program. */
enum {
    RKT_ECHO = 0,    /* ECHO: payload back (a checksum when it came by reference) */
    RKT_COUNTER = 1, /* INC, GET, WAIT (busy for a while), FAIL; init stamps the state */
    RKT_RELAY = 2,   /* SETUP, TOKEN: K2K chain */
    RKT_FAILER = 3,  /* FAIL, FAIL_ONE: the handler returns an error; CRASH: traps; else replies */
    RKT_SLEEPER = 4, /* WAIT: holds its block until a host flag is set */
    RKT_PROBE = 5,   /* PROBE: tries one K2K send, reports its status */
    RKT_FANIN = 6,   /* BURST: sends numbered K2K messages; SEQ: checks their order per sender; GET */
    RKT_MIX = 7,     /* SPRAY: K2K pings to pseudo-random actors; PING: counted per sender; SENT, RECEIVED */
    RKT_PUTTER = 8,  /* PUT_START, PUT_CREDIT: chunks into a member's symmetric region (rk_dput) */
    RKT_PUTSINK = 9, /* PUT_CHUNK: checks a chunk put into its member's region, credits it */
    RKT_NTYPES
};

/* Message types. */
enum {
    RKT_MSG_ECHO = 1,
    RKT_MSG_SUM = 2, /* echo of a by-reference payload: rkt_sum */
    RKT_MSG_INC = 3,
    RKT_MSG_GET = 4, /* reply: rkt_counter_state */
    RKT_MSG_SETUP = 5,
    RKT_MSG_TOKEN = 6,
    RKT_MSG_DONE = 7,
    RKT_MSG_FAIL = 8,
    RKT_MSG_FAIL_ONE = 9, /* only thread 37 returns the error */
    RKT_MSG_WAIT = 10,
    RKT_MSG_PROBE = 11,
    RKT_MSG_STATUS = 12, /* int32_t rk_status */
    RKT_MSG_NOP = 13,
    RKT_MSG_BURST = 14, /* rkt_burst */
    RKT_MSG_SEQ = 15,   /* rkt_seq */
    RKT_MSG_SPRAY = 16,    /* rkt_spray */
    RKT_MSG_PING = 17,     /* rkt_ping */
    RKT_MSG_SENT = 18,     /* reply: rkt_mix_sent */
    RKT_MSG_RECEIVED = 19, /* reply: rkt_mix_received */
    RKT_MSG_PUT_START = 20,  /* rkt_put_start */
    RKT_MSG_PUT_CHUNK = 21,  /* rkt_put_chunk, putter -> sink */
    RKT_MSG_PUT_CREDIT = 22, /* sink -> putter: one chunk checked, its part free again */
    RKT_MSG_PUT_DONE = 23,   /* rkt_put_report, putter or sink -> host */
    RKT_MSG_PUT_PROBE = 24,  /* reply: rkt_put_probe */
    RKT_MSG_CRASH = 25,      /* to a failer: thread 0 traps, which ends the whole kernel */
};

/* PUT_START: `count` chunks of `chunk` bytes (a multiple of 16) to `sink`,
 * an actor of `member`; chunk k is written into the putter's own region at
 * `src_off` (words rkt_put_word(k, i)), then put into `member`'s region at
 * dst_off + (k % slots) * chunk, at most `slots` chunks unchecked at once
 * (the sink's credits). `check`: 1 the sink reads every word, 0 the first
 * and last only (a benchmark's). */
typedef struct rkt_put_start {
    uint32_t sink;
    uint32_t member;
    uint64_t src_off;
    uint64_t dst_off;
    uint32_t chunk;
    uint32_t slots;
    uint64_t count;
    uint32_t check;
    uint32_t pad_;
} rkt_put_start;

typedef struct rkt_put_chunk {
    uint64_t seq;
    uint64_t off; /* in the sink's member's region */
    uint32_t len;
    uint32_t check;
    uint64_t count; /* chunks in all: the sink reports after the last */
} rkt_put_chunk;

/* DONE: from a putter when its last credit came back, from a sink after the
 * last chunk. */
typedef struct rkt_put_report {
    uint64_t chunks;
    uint64_t bad;        /* wrong words, chunks out of order or of the wrong size */
    uint64_t first_ns;   /* %globaltimer at the first chunk put / checked */
    uint64_t last_ns;    /* and at the last */
    int32_t status;      /* the first status that was not RK_OK (rk_dput, a send) */
    uint32_t member;     /* rk_dmember of the reporter */
    /* A sink's first wrong chunk: its number, wrong words in it, the first
     * wrong word's index, what it held and what it should have. */
    uint64_t bad_seq, bad_words, bad_word, bad_got, bad_want;
} rkt_put_report;

/* PUT_PROBE's reply: what the device sees of the regions. */
typedef struct rkt_put_probe {
    uint64_t size;         /* rk_dsym_size */
    uint32_t member;       /* rk_dmember */
    int32_t past_end;      /* rk_dput ending one byte past the region: RK_EINVAL */
    int32_t no_member;     /* rk_dput to member RK_GROUP_MAX: RK_EINVAL */
    int32_t null_src;      /* rk_dput of 16 bytes from NULL: RK_EINVAL */
    int32_t unaligned;     /* rk_dput of 13 bytes at offset 3 (the byte path): RK_OK */
    uint32_t unaligned_ok; /* those bytes read back through rk_dsym */
    uint64_t own, other;   /* rk_dsym(member, 0, 1) of this member and of member 1 - this one */
} rkt_put_probe;

#ifdef __CUDACC__
static __device__ __forceinline__ uint64_t rkt_put_word(uint64_t seq, uint64_t i)
{
    return (seq << 40) ^ (i * 0x9E3779B97F4A7C15ull) ^ 0x5bd1e995u;
}
#endif

#define RKT_FANIN_SENDERS 8

/* BURST: send n SEQ messages to dst, numbered 0.., as sender `id`, each
 * `len` bytes (0: just the rkt_seq; at most RKT_BURST_MAX): the rkt_seq,
 * then rkt_pattern(rkt_seq_key(id, seq), i) for byte i. */
typedef struct rkt_burst {
    uint32_t dst;
    uint32_t id;
    uint64_t n;
    uint32_t len;
    uint32_t pad_;
} rkt_burst;
#define RKT_BURST_MAX 256u

typedef struct rkt_seq {
    uint32_t id;
    uint32_t pad_;
    uint64_t seq;
} rkt_seq;

/* What a fan-in actor saw: the next number expected from each sender,
 * SEQ messages received, those out of order or malformed (a wrong length
 * or pattern byte), and messages of other types (NOP) received. */
typedef struct rkt_fanin_state {
    uint64_t expected[RKT_FANIN_SENDERS];
    uint64_t received;
    uint64_t errors;
    uint64_t others;
} rkt_fanin_state;

/* Stress payload: this header, then pattern bytes up to len. */
typedef struct rkt_stress {
    uint32_t sender;
    uint32_t len;
    uint64_t seq;
} rkt_stress;

typedef struct rkt_sum {
    uint32_t sender;
    uint32_t len;
    uint64_t seq;
    uint64_t sum; /* of all payload bytes */
} rkt_sum;

typedef struct rkt_counter_state {
    uint64_t count;
    uint64_t init_magic; /* set by init */
    uint64_t init_runs;  /* init increments it: 1 after any reset */
    uint64_t generation; /* set by init: rk_dgeneration */
} rkt_counter_state;

#define RKT_INIT_MAGIC 0xC0FFEE5EEDull

typedef struct rkt_relay_state {
    uint32_t next;
    uint32_t pad_;
    uint64_t passes;
} rkt_relay_state;

typedef struct rkt_token {
    uint64_t hops;
    uint64_t target;
    uint64_t check;
    uint64_t pad_;
} rkt_token;

typedef struct rkt_wait {
    uint64_t flag;       /* device address of a uint32_t in pinned memory; 0: none */
    uint64_t timeout_ns;
} rkt_wait;

/* rkt_wait.flag for the counter: it tells the host it is inside the WAIT
 * (a RKT_MSG_WAIT message, published at once), then waits until a command
 * for its block is in the block's mailbox (a checkpoint's hold), so that
 * what was queued meanwhile is still queued when the hold is taken - at
 * any speed of the kernel (compute-sanitizer slows it 10-100 times). */
#define RKT_WAIT_UNTIL_COMMAND 1ull

typedef struct rkt_probe {
    uint32_t dst;
    uint32_t len;
    uint32_t dst_gen;
    uint32_t count; /* sends, the same each time (0 = 1); the last one's status comes back */
    uint32_t wait;  /* 1: each send waits while the receiver's queue is full (rk_dsend_wait; no
                       dst_gen then), so that every send is delivered or refused for a reason
                       other than room - the cluster tier's ring may hold fewer than a burst */
    uint32_t gen2;  /* not 0: the odd-numbered sends name this generation instead of dst_gen */
} rkt_probe;

/* Mix actors send to and count by actor id: ids 0..RKT_MIX_ACTORS-1. */
#define RKT_MIX_ACTORS 16

/* SPRAY: n pings, each to actor rkt_spray_dst(&seed, actors) - the host
 * replays the same draws to know how many went to whom. */
typedef struct rkt_spray {
    uint64_t seed; /* nonzero */
    uint32_t n;
    uint32_t actors; /* 1..RKT_MIX_ACTORS */
} rkt_spray;

/* PING: what the sender believes it is. */
typedef struct rkt_ping {
    uint32_t tenant; /* rk_dtenant of the sender */
    uint32_t sender; /* rk_dself of the sender */
} rkt_ping;

/* A mix actor's sends, by the status each got. The sender counts; the
 * host, which knows the tenants, judges. */
typedef struct rkt_mix_sent {
    uint32_t ok_to[RKT_MIX_ACTORS];      /* RK_OK, by receiver */
    uint32_t refused_to[RKT_MIX_ACTORS]; /* RK_ETENANT, by receiver */
    uint64_t full;                       /* RK_EFULL (no retry: see gpu_actors.cu) */
    uint64_t other;                      /* any other status */
    uint64_t attempts;
    uint32_t sprays;     /* SPRAY messages handled */
    int32_t last_other;  /* the last "other" status */
} rkt_mix_sent;

/* What a mix actor received. */
typedef struct rkt_mix_received {
    uint32_t from[RKT_MIX_ACTORS]; /* pings, by sender */
    uint64_t pings;                /* every PING, malformed ones too */
    uint64_t leaks; /* pings whose header tenant, or the tenant the sender wrote, is not the receiver's */
    uint64_t bad;   /* malformed: length, or a sender id out of range or not the header's */
    uint64_t pad_;
} rkt_mix_received;

typedef struct rkt_mix_state {
    rkt_mix_sent sent;
    rkt_mix_received received;
} rkt_mix_state;

/* The replies to the host travel inline in one 256-byte slot (192 B of
 * payload); GPU states are sized in multiples of 16. */
RK_STATIC_ASSERT(sizeof(rkt_spray) == 16, "spray layout");
RK_STATIC_ASSERT(sizeof(rkt_ping) == 8, "ping layout");
RK_STATIC_ASSERT(sizeof(rkt_mix_sent) == 160 && offsetof(rkt_mix_sent, full) == 128, "mix_sent layout");
RK_STATIC_ASSERT(sizeof(rkt_mix_received) == 96 && offsetof(rkt_mix_received, pings) == 64, "mix_received layout");
RK_STATIC_ASSERT(sizeof(rkt_mix_state) == 256 && offsetof(rkt_mix_state, received) == 160, "mix_state layout");

/* xorshift64: the next number of `s` (nonzero). */
RK_HD uint64_t rkt_xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* The next destination of a spray, the same on the host and the device:
 * the draw's high half scaled to [0, actors) by a multiply, not a modulo
 * (a 64-bit division inlined into the kernel costs it registers). */
RK_HD uint32_t rkt_spray_dst(uint64_t *seed, uint32_t actors)
{
    return (uint32_t)(((rkt_xorshift(seed) >> 32) * actors) >> 32);
}

RK_HD uint8_t rkt_pattern(uint64_t seq, uint32_t i)
{
    return (uint8_t)(seq * 131u + i * 7u + 1u);
}

RK_HD uint64_t rkt_seq_key(uint32_t id, uint64_t seq)
{
    return (uint64_t)id * 97u + seq * 257u; /* rkt_pattern's byte depends on both */
}
RK_HD uint64_t rkt_token_check(uint64_t hops)
{
    return (hops * 0x9E3779B97F4A7C15ull) ^ 0x5bd1e995ull;
}

/* The program: RK_GPU_PROGRAM(rkt_program, ...) in gpu_actors.cu. */
extern const struct rk_gpu_program rkt_program;

#ifdef __cplusplus
}
#endif

#endif
