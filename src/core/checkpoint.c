/* Checkpoints: the codec and the file helpers (ringkernel/checkpoint.h).
 *
 * The encoder writes the sections first and the header last, because the
 * header holds the sections' sizes and checksums. The decoder is one
 * validation step, rk__parse, that checks the header and both sections and
 * records where things are; applying runs it, then checks the target, then
 * the CRC of the state that would result, and writes only when all of that
 * has passed. A delta's resulting CRC is computed without building the
 * result (which would need a second state-sized buffer): block by block from
 * the delta where it carries the block, else from the target's base bytes.
 *
 * Every integer goes through rk__put and rk__get, byte by byte, so the
 * format is the same on any host; compilers turn these into plain loads
 * and stores on little-endian machines. */
#include "ringkernel/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- little-endian fields ---------------------------------------------------- */

static void rk__put(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t rk__get(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static uint32_t rk__get32(const unsigned char *p)
{
    return (uint32_t)rk__get(p, 4);
}

static uint64_t rk__get64(const unsigned char *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* One load where the bytes are already in order (the CRC's inner loops
     * read every word through here; the byte loop is not always fused). */
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
#else
    return rk__get(p, 8);
#endif
}

/* ---- CRC-32C ------------------------------------------------------------------
 *
 * Reflected CRC-32C (polynomial 0x1EDC6F41, reversed 0x82F63B78), initial
 * value and final XOR all ones. Slice-by-8: table k maps a byte to its CRC
 * followed by k zero bytes, so eight lookups advance the CRC by 8 bytes.
 *
 * The tables are built at compile time, so the library needs no
 * initialisation and holds no mutable state. A CRC table is linear over
 * GF(2): entry b is the XOR of the entries of b's set bits, so each table
 * follows from its 8 single-bit entries. Those 64 constants are P(m), the
 * reversed polynomial after m one-bit steps (c >> 1, XOR the polynomial if
 * the bit shifted out was 1): the entry of bit i in table k is
 * P(8k + 7 - i). test_checkpoint checks the result against a bitwise CRC. */

#define RK__CRC_E(b, c0, c1, c2, c3, c4, c5, c6, c7)                                            \
    (((b) & 1u ? c0 : 0u) ^ ((b) & 2u ? c1 : 0u) ^ ((b) & 4u ? c2 : 0u) ^ ((b) & 8u ? c3 : 0u) ^   \
     ((b) & 16u ? c4 : 0u) ^ ((b) & 32u ? c5 : 0u) ^ ((b) & 64u ? c6 : 0u) ^ ((b) & 128u ? c7 : 0u))
#define RK__CRC_R4(b, ...)                                                                       \
    RK__CRC_E(b, __VA_ARGS__), RK__CRC_E((b) + 1u, __VA_ARGS__), RK__CRC_E((b) + 2u, __VA_ARGS__), \
        RK__CRC_E((b) + 3u, __VA_ARGS__)
#define RK__CRC_R16(b, ...)                                                                        \
    RK__CRC_R4(b, __VA_ARGS__), RK__CRC_R4((b) + 4u, __VA_ARGS__), RK__CRC_R4((b) + 8u, __VA_ARGS__), \
        RK__CRC_R4((b) + 12u, __VA_ARGS__)
#define RK__CRC_R64(b, ...)                                                                           \
    RK__CRC_R16(b, __VA_ARGS__), RK__CRC_R16((b) + 16u, __VA_ARGS__), RK__CRC_R16((b) + 32u, __VA_ARGS__), \
        RK__CRC_R16((b) + 48u, __VA_ARGS__)
#define RK__CRC_TABLE(...)                                                                       \
    {                                                                                            \
        RK__CRC_R64(0u, __VA_ARGS__), RK__CRC_R64(64u, __VA_ARGS__), RK__CRC_R64(128u, __VA_ARGS__), \
            RK__CRC_R64(192u, __VA_ARGS__)                                                       \
    }

static const uint32_t rk__crc_tab[8][256] = {
    RK__CRC_TABLE(0xF26B8303u, 0xE13B70F7u, 0xC79A971Fu, 0x8AD958CFu, 0x105EC76Fu, 0x20BD8EDEu,
                  0x417B1DBCu, 0x82F63B78u),
    RK__CRC_TABLE(0x13A29877u, 0x274530EEu, 0x4E8A61DCu, 0x9D14C3B8u, 0x3FC5F181u, 0x7F8BE302u,
                  0xFF17C604u, 0xFBC3FAF9u),
    RK__CRC_TABLE(0xA541927Eu, 0x4F6F520Du, 0x9EDEA41Au, 0x38513EC5u, 0x70A27D8Au, 0xE144FB14u,
                  0xC76580D9u, 0x8B277743u),
    RK__CRC_TABLE(0xDD45AAB8u, 0xBF672381u, 0x7B2231F3u, 0xF64463E6u, 0xE964B13Du, 0xD725148Bu,
                  0xABA65FE7u, 0x52A0C93Fu),
    RK__CRC_TABLE(0x38116FACu, 0x7022DF58u, 0xE045BEB0u, 0xC5670B91u, 0x8F2261D3u, 0x1BA8B557u,
                  0x37516AAEu, 0x6EA2D55Cu),
    RK__CRC_TABLE(0xEF306B19u, 0xDB8CA0C3u, 0xB2F53777u, 0x6006181Fu, 0xC00C303Eu, 0x85F4168Du,
                  0x0E045BEBu, 0x1C08B7D6u),
    RK__CRC_TABLE(0x68032CC8u, 0xD0065990u, 0xA5E0C5D1u, 0x4E2DFD53u, 0x9C5BFAA6u, 0x3D5B83BDu,
                  0x7AB7077Au, 0xF56E0EF4u),
    RK__CRC_TABLE(0x493C7D27u, 0x9278FA4Eu, 0x211D826Du, 0x423B04DAu, 0x847609B4u, 0x0D006599u,
                  0x1A00CB32u, 0x34019664u),
};

/* Slicing-by-8 over the tables above; `crc` and the result are the
 * register (not inverted). Internal, not static: the tests check it
 * against the definition on machines where rk_crc32c takes the hardware
 * path. */
uint32_t rk__crc32c_sw(uint32_t c, const void *data, size_t n)
{
    const uint32_t(*t)[256] = rk__crc_tab;
    const unsigned char *p = data;

    for (; n >= 8; p += 8, n -= 8) {
        /* The lowest-addressed byte has 7 bytes after it: table 7. */
        uint64_t w = rk__get64(p) ^ c;
        c = t[7][w & 0xff] ^ t[6][(w >> 8) & 0xff] ^ t[5][(w >> 16) & 0xff] ^ t[4][(w >> 24) & 0xff] ^
            t[3][(w >> 32) & 0xff] ^ t[2][(w >> 40) & 0xff] ^ t[1][(w >> 48) & 0xff] ^ t[0][w >> 56];
    }
    for (; n > 0; p++, n--)
        c = (c >> 8) ^ t[0][(c ^ *p) & 0xff];
    return c;
}

#if defined(__x86_64__) && defined(__GNUC__)
/* SSE4.2's crc32 instruction computes exactly this CRC (Castagnoli,
 * reflected), 8 bytes per instruction. */
__attribute__((target("sse4.2"))) static uint32_t rk__crc32c_hw(uint32_t c, const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t c64 = c;
    for (; n >= 8; p += 8, n -= 8)
        c64 = __builtin_ia32_crc32di(c64, rk__get64(p));
    c = (uint32_t)c64;
    for (; n > 0; p++, n--)
        c = __builtin_ia32_crc32qi(c, *p);
    return c;
}
#define RK__CRC32C_HW() __builtin_cpu_supports("sse4.2")
#else
#define rk__crc32c_hw rk__crc32c_sw
#define RK__CRC32C_HW() 0
#endif

uint32_t rk_crc32c(uint32_t crc, const void *data, size_t n)
{
    return ~(RK__CRC32C_HW() ? rk__crc32c_hw(~crc, data, n) : rk__crc32c_sw(~crc, data, n));
}

/* ---- layout -------------------------------------------------------------------- */

static const unsigned char rk__magic[8] = {0x89, 'R', 'K', 'C', 'K', 'P', 'T', '\n'};

/* Header field offsets (checkpoint.h has the table). */
enum {
    RK__H_VERSION = 8,
    RK__H_SIZE = 10,
    RK__H_FLAGS = 12,
    RK__H_ACTOR = 16,
    RK__H_GEN = 20,
    RK__H_HLC = 24,
    RK__H_SEQ = 32,
    RK__H_BASE_SEQ = 40,
    RK__H_STATE_SIZE = 48,
    RK__H_BASE_SIZE = 56,
    RK__H_STATE_CRC = 64,
    RK__H_BASE_CRC = 68,
    RK__H_BLOCK = 72,
    RK__H_RESERVED0 = 76,
    RK__H_MSG_COUNT = 80,
    RK__H_STATE_SEC = 88,
    RK__H_MSG_SEC = 96,
    RK__H_STATE_SEC_CRC = 104,
    RK__H_MSG_SEC_CRC = 108,
    RK__H_TOTAL = 112,
    RK__H_RESERVED1 = 120,
    RK__H_CRC = 124,
    RK__PREAMBLE = 12, /* magic, version, header size: the same in every version */
};
RK_STATIC_ASSERT(RK__H_CRC + 4 == RK_CHECKPOINT_HEADER_SIZE, "header CRC closes the header");

/* Message record fields: the offsets of rk_msg, fixed here for the format. */
enum {
    RK__M_SEQ = 0,
    RK__M_TYPE = 8,
    RK__M_FLAGS = 12,
    RK__M_SRC = 16,
    RK__M_DST = 20,
    RK__M_TENANT = 24,
    RK__M_DST_GEN = 28,
    RK__M_CORR = 32,
    RK__M_HLC = 40,
    RK__M_LEN = 48,
    RK__M_SRC_GEN = 52,
    RK__M_REF = 56,
};
RK_STATIC_ASSERT(offsetof(rk_msg, dst_gen) == RK__M_DST_GEN && offsetof(rk_msg, src_gen) == RK__M_SRC_GEN &&
                     offsetof(rk_msg, ref) == RK__M_REF,
                 "message records mirror rk_msg");

/* A checkpoint's header and where its sections are: built by the encoder,
 * recovered and checked by rk__parse. */
typedef struct rk__ckpt {
    rk_checkpoint_info info;
    uint64_t state_sec, msg_sec; /* section sizes, without padding */
    uint32_t state_sec_crc, msg_sec_crc;
    const unsigned char *state;  /* the state section */
    const unsigned char *msgs;   /* the message section */
    uint64_t bitmap;             /* delta: bitmap bytes, padding included */
} rk__ckpt;

static uint64_t rk__pad8(uint64_t n)
{
    return (8 - (n & 7)) & 7;
}

static int rk__block_size_ok(uint32_t b)
{
    return b >= RK_CHECKPOINT_BLOCK_MIN && b <= RK_CHECKPOINT_BLOCK_MAX && (b & (b - 1)) == 0;
}

static uint64_t rk__blocks(uint64_t size, uint32_t block)
{
    return size / block + (size % block != 0);
}

/* Bytes of block i of a state of `size` bytes. */
static uint64_t rk__block_len(uint64_t size, uint32_t block, uint64_t i)
{
    uint64_t off = i * block;
    return size - off < block ? size - off : block;
}

static uint64_t rk__bitmap_bytes(uint64_t blocks)
{
    uint64_t n = blocks / 8 + (blocks % 8 != 0);
    return n + rk__pad8(n);
}

static int rk__all_zero(const unsigned char *p, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

/* Whether [a, a+an) and [b, b+bn) share a byte. */
static int rk__overlap(const void *a, size_t an, const void *b, size_t bn)
{
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
    return an > 0 && bn > 0 && x < y + bn && y < x + an;
}

static void rk__write_header(unsigned char *p, const rk__ckpt *c)
{
    const rk_checkpoint_info *in = &c->info;
    memset(p, 0, RK_CHECKPOINT_HEADER_SIZE);
    memcpy(p, rk__magic, sizeof rk__magic);
    rk__put(p + RK__H_VERSION, RK_CHECKPOINT_VERSION, 2);
    rk__put(p + RK__H_SIZE, RK_CHECKPOINT_HEADER_SIZE, 2);
    rk__put(p + RK__H_FLAGS, in->flags, 4);
    rk__put(p + RK__H_ACTOR, in->actor, 4);
    rk__put(p + RK__H_GEN, in->generation, 4);
    rk__put(p + RK__H_HLC, in->hlc, 8);
    rk__put(p + RK__H_SEQ, in->seq, 8);
    rk__put(p + RK__H_BASE_SEQ, in->base_seq, 8);
    rk__put(p + RK__H_STATE_SIZE, in->state_size, 8);
    rk__put(p + RK__H_BASE_SIZE, in->base_state_size, 8);
    rk__put(p + RK__H_STATE_CRC, in->state_crc, 4);
    rk__put(p + RK__H_BASE_CRC, in->base_state_crc, 4);
    rk__put(p + RK__H_BLOCK, in->block_size, 4);
    rk__put(p + RK__H_MSG_COUNT, in->msg_count, 8);
    rk__put(p + RK__H_STATE_SEC, c->state_sec, 8);
    rk__put(p + RK__H_MSG_SEC, c->msg_sec, 8);
    rk__put(p + RK__H_STATE_SEC_CRC, c->state_sec_crc, 4);
    rk__put(p + RK__H_MSG_SEC_CRC, c->msg_sec_crc, 4);
    rk__put(p + RK__H_TOTAL, in->size, 8);
    rk__put(p + RK__H_CRC, rk_crc32c(0, p, RK__H_CRC), 4);
}

/* ---- messages ------------------------------------------------------------------ */

static uint64_t rk__msg_record(uint32_t len)
{
    return RK_MSG_HEADER_SIZE + (uint64_t)len + rk__pad8(len);
}

/* The message section's size; RK_EINVAL for a missing message or payload. */
static rk_status rk__msgs_size(const rk_checkpoint_src *src, uint64_t *size, uint32_t *max_len)
{
    uint64_t total = 0;
    *max_len = 0;
    for (size_t i = 0; i < src->msg_count; i++) {
        const rk_msg *m = src->msgs[i];
        if (!m || (m->len > 0 && !rk_msg_payload(m)))
            return RK_EINVAL;
        if (total > UINT64_MAX - rk__msg_record(m->len))
            return RK_EINVAL;
        total += rk__msg_record(m->len);
        if (m->len > *max_len)
            *max_len = m->len;
    }
    *size = total;
    return RK_OK;
}

static void rk__write_msgs(unsigned char *p, const rk_checkpoint_src *src)
{
    for (size_t i = 0; i < src->msg_count; i++) {
        const rk_msg *m = src->msgs[i];
        rk__put(p + RK__M_SEQ, m->seq, 8);
        rk__put(p + RK__M_TYPE, m->type, 4);
        rk__put(p + RK__M_FLAGS, m->flags, 4);
        rk__put(p + RK__M_SRC, m->src, 4);
        rk__put(p + RK__M_DST, m->dst, 4);
        rk__put(p + RK__M_TENANT, m->tenant, 4);
        rk__put(p + RK__M_DST_GEN, m->dst_gen, 4);
        rk__put(p + RK__M_CORR, m->corr, 8);
        rk__put(p + RK__M_HLC, m->hlc, 8);
        rk__put(p + RK__M_LEN, m->len, 4);
        rk__put(p + RK__M_SRC_GEN, m->src_gen, 4);
        rk__put(p + RK__M_REF, 0, 8); /* an address means nothing in a file */
        if (m->len > 0)
            memcpy(p + RK_MSG_HEADER_SIZE, rk_msg_payload(m), m->len);
        memset(p + RK_MSG_HEADER_SIZE + m->len, 0, rk__pad8(m->len));
        p += rk__msg_record(m->len);
    }
}

static void rk__read_msg(const unsigned char *p, rk_msg *m)
{
    m->seq = rk__get64(p + RK__M_SEQ);
    m->type = rk__get32(p + RK__M_TYPE);
    m->flags = rk__get32(p + RK__M_FLAGS);
    m->src = rk__get32(p + RK__M_SRC);
    m->dst = rk__get32(p + RK__M_DST);
    m->tenant = rk__get32(p + RK__M_TENANT);
    m->dst_gen = rk__get32(p + RK__M_DST_GEN);
    m->corr = rk__get64(p + RK__M_CORR);
    m->hlc = rk__get64(p + RK__M_HLC);
    m->len = rk__get32(p + RK__M_LEN);
    m->src_gen = rk__get32(p + RK__M_SRC_GEN);
    m->ref = 0;
}

/* The records of a message section p[0..size) that should hold `count`:
 * each fits, has ref 0 and zero padding, and together they fill it. */
static rk_status rk__check_msgs(const unsigned char *p, uint64_t size, uint64_t count, uint32_t *max_len)
{
    uint64_t at = 0;
    *max_len = 0;
    if (count > size / RK_MSG_HEADER_SIZE)
        return RK_EBADMSG;
    for (uint64_t i = 0; i < count; i++) {
        uint32_t len;
        if (size - at < RK_MSG_HEADER_SIZE)
            return RK_EBADMSG;
        len = rk__get32(p + at + RK__M_LEN);
        if (rk__get64(p + at + RK__M_REF) != 0 || rk__msg_record(len) > size - at)
            return RK_EBADMSG;
        if (!rk__all_zero(p + at + RK_MSG_HEADER_SIZE + len, rk__pad8(len)))
            return RK_EBADMSG;
        if (len > *max_len)
            *max_len = len;
        at += rk__msg_record(len);
    }
    return at == size ? RK_OK : RK_EBADMSG;
}

/* ---- decoding -------------------------------------------------------------------- */

/* The version-independent part: the magic, a header size that fits, and the
 * header CRC in the header's last 4 bytes. Past it, the header is intact. */
static rk_status rk__check_preamble(const unsigned char *p, size_t len)
{
    uint64_t hsize;
    if (len < RK__PREAMBLE + 4 || memcmp(p, rk__magic, sizeof rk__magic) != 0)
        return RK_EBADMSG;
    hsize = rk__get(p + RK__H_SIZE, 2);
    if (hsize < RK__PREAMBLE + 4 || hsize > len)
        return RK_EBADMSG;
    if (rk__get32(p + hsize - 4) != rk_crc32c(0, p, hsize - 4))
        return RK_EBADMSG;
    return RK_OK;
}

static void rk__read_header(const unsigned char *p, rk__ckpt *c)
{
    rk_checkpoint_info *in = &c->info;
    memset(c, 0, sizeof *c);
    in->version = (uint32_t)rk__get(p + RK__H_VERSION, 2);
    in->flags = rk__get32(p + RK__H_FLAGS);
    in->actor = rk__get32(p + RK__H_ACTOR);
    in->generation = rk__get32(p + RK__H_GEN);
    in->hlc = rk__get64(p + RK__H_HLC);
    in->seq = rk__get64(p + RK__H_SEQ);
    in->base_seq = rk__get64(p + RK__H_BASE_SEQ);
    in->state_size = rk__get64(p + RK__H_STATE_SIZE);
    in->base_state_size = rk__get64(p + RK__H_BASE_SIZE);
    in->state_crc = rk__get32(p + RK__H_STATE_CRC);
    in->base_state_crc = rk__get32(p + RK__H_BASE_CRC);
    in->block_size = rk__get32(p + RK__H_BLOCK);
    in->msg_count = rk__get64(p + RK__H_MSG_COUNT);
    in->size = rk__get64(p + RK__H_TOTAL);
    c->state_sec = rk__get64(p + RK__H_STATE_SEC);
    c->msg_sec = rk__get64(p + RK__H_MSG_SEC);
    c->state_sec_crc = rk__get32(p + RK__H_STATE_SEC_CRC);
    c->msg_sec_crc = rk__get32(p + RK__H_MSG_SEC_CRC);
}

/* The header of buf[0..len): intact, of this version, self-consistent, and
 * describing exactly len bytes; sets the section pointers. */
static rk_status rk__parse_header(const unsigned char *p, size_t len, rk__ckpt *c)
{
    const rk_checkpoint_info *in = &c->info;
    uint64_t state_end;
    rk_status st = rk__check_preamble(p, len);
    if (st != RK_OK)
        return st;
    rk__read_header(p, c);
    if (in->version == 0)
        return RK_EBADMSG;
    if (in->version > RK_CHECKPOINT_VERSION || (in->flags & ~(uint32_t)RK_CHECKPOINT_F_DELTA))
        return RK_ENOTSUP;
    if (rk__get(p + RK__H_SIZE, 2) != RK_CHECKPOINT_HEADER_SIZE || rk__get32(p + RK__H_RESERVED0) != 0 ||
        rk__get32(p + RK__H_RESERVED1) != 0 || !rk__block_size_ok(in->block_size))
        return RK_EBADMSG;
    c->info.blocks = rk__blocks(in->state_size, in->block_size);
    if (!(in->flags & RK_CHECKPOINT_F_DELTA) &&
        (in->base_seq != 0 || in->base_state_size != 0 || in->base_state_crc != 0 ||
         c->state_sec != in->state_size || c->state_sec_crc != in->state_crc))
        return RK_EBADMSG;
    /* Both sections and their padding fill exactly len bytes. */
    if (in->size != len || c->state_sec > len - RK_CHECKPOINT_HEADER_SIZE)
        return RK_EBADMSG;
    state_end = RK_CHECKPOINT_HEADER_SIZE + c->state_sec + rk__pad8(c->state_sec);
    if (state_end > len || c->msg_sec > len - state_end ||
        c->msg_sec + rk__pad8(c->msg_sec) != len - state_end)
        return RK_EBADMSG;
    c->state = p + RK_CHECKPOINT_HEADER_SIZE;
    c->msgs = p + state_end;
    return RK_OK;
}

/* A delta's bitmap: no bits past the last block, every block that is not
 * wholly inside the base carried, and the carried blocks filling the rest
 * of the section exactly. */
static rk_status rk__check_bitmap(rk__ckpt *c)
{
    const rk_checkpoint_info *in = &c->info;
    const unsigned char *bits = c->state;
    uint64_t carried = 0, bytes = 0, used;

    c->bitmap = rk__bitmap_bytes(in->blocks);
    if (c->state_sec < c->bitmap)
        return RK_EBADMSG;
    used = in->blocks / 8 + (in->blocks % 8 != 0); /* bitmap bytes holding a block's bit */
    if ((in->blocks % 8 && bits[in->blocks / 8] >> (in->blocks % 8)) ||
        !rk__all_zero(bits + used, c->bitmap - used))
        return RK_EBADMSG;
    for (uint64_t i = 0; i < in->blocks; i++) {
        uint64_t blen = rk__block_len(in->state_size, in->block_size, i);
        if (bits[i / 8] >> (i % 8) & 1) {
            carried++;
            bytes += blen;
        } else if (i * in->block_size + blen > in->base_state_size) {
            return RK_EBADMSG;
        }
    }
    if (bytes != c->state_sec - c->bitmap)
        return RK_EBADMSG;
    c->info.blocks_carried = carried;
    return RK_OK;
}

static rk_status rk__check_state_section(rk__ckpt *c)
{
    if (rk_crc32c(0, c->state, c->state_sec) != c->state_sec_crc ||
        !rk__all_zero(c->state + c->state_sec, rk__pad8(c->state_sec)))
        return RK_EBADMSG;
    if (c->info.flags & RK_CHECKPOINT_F_DELTA)
        return rk__check_bitmap(c);
    c->info.blocks_carried = c->info.blocks;
    return RK_OK;
}

static rk_status rk__check_msg_section(rk__ckpt *c)
{
    if (rk_crc32c(0, c->msgs, c->msg_sec) != c->msg_sec_crc ||
        !rk__all_zero(c->msgs + c->msg_sec, rk__pad8(c->msg_sec)))
        return RK_EBADMSG;
    return rk__check_msgs(c->msgs, c->msg_sec, c->info.msg_count, &c->info.msg_max_len);
}

/* Everything that can be checked without a target. */
static rk_status rk__parse(const void *buf, size_t len, rk__ckpt *c)
{
    rk_status st = rk__parse_header(buf, len, c);
    if (st == RK_OK)
        st = rk__check_state_section(c);
    if (st == RK_OK)
        st = rk__check_msg_section(c);
    return st;
}

rk_status rk_checkpoint_decode(const void *buf, size_t len, rk_checkpoint_info *info)
{
    rk__ckpt c;
    rk_status st;
    if (!buf)
        return RK_EINVAL;
    st = rk__parse(buf, len, &c);
    if (st == RK_OK && info)
        *info = c.info;
    return st;
}

/* ---- encoding -------------------------------------------------------------------- */

static rk_status rk__check_src(const rk_checkpoint_src *src, const rk_checkpoint_base *base, uint32_t *block)
{
    if (!src || (!src->state && src->state_size > 0) || (!src->msgs && src->msg_count > 0))
        return RK_EINVAL;
    if (base && !base->state && base->size > 0)
        return RK_EINVAL;
    *block = src->block_size ? src->block_size : RK_CHECKPOINT_BLOCK_SIZE;
    return rk__block_size_ok(*block) ? RK_OK : RK_EINVAL;
}

/* The encoded size for sections of these sizes, or 0 if it overflows or
 * exceeds SIZE_MAX (by-reference payloads can repeat one buffer, so the sum
 * is not bounded by memory). */
static uint64_t rk__total_size(uint64_t state_sec, uint64_t msg_sec)
{
    uint64_t limit = SIZE_MAX - RK_CHECKPOINT_HEADER_SIZE - 8;
    if (state_sec > limit || msg_sec > limit - state_sec)
        return 0;
    return RK_CHECKPOINT_HEADER_SIZE + state_sec + rk__pad8(state_sec) + msg_sec;
}

/* Whether block [off, off+blen) of the new state must travel in the delta. */
static int rk__block_carried(const unsigned char *state, const rk_checkpoint_base *base, uint64_t off,
                             uint64_t blen)
{
    const unsigned char *old = base->state;
    return off + blen > base->size || memcmp(state + off, old + off, blen) != 0;
}

/* Bytes of the delta's state section, without writing it. */
static uint64_t rk__delta_section_size(const rk_checkpoint_src *src, const rk_checkpoint_base *base,
                                       uint32_t block)
{
    uint64_t blocks = rk__blocks(src->state_size, block), size = rk__bitmap_bytes(blocks);
    for (uint64_t i = 0; i < blocks; i++) {
        uint64_t blen = rk__block_len(src->state_size, block, i);
        if (rk__block_carried(src->state, base, i * block, blen))
            size += blen;
    }
    return size;
}

/* Writes a delta's state section into sec[0..room) in one pass, which also
 * computes the CRC of the new state; past `room` it only counts, so the
 * section's full size comes back even when it does not fit. */
static uint64_t rk__write_delta(const rk_checkpoint_src *src, const rk_checkpoint_base *base,
                                unsigned char *sec, uint64_t room, rk__ckpt *c)
{
    const unsigned char *state = src->state;
    uint32_t block = c->info.block_size;
    uint64_t at = c->bitmap, carried = 0;
    uint32_t crc = 0;

    if (at > 0 && at <= room)
        memset(sec, 0, at);
    for (uint64_t i = 0; i < c->info.blocks; i++) {
        uint64_t off = i * block, blen = rk__block_len(src->state_size, block, i);
        crc = rk_crc32c(crc, state + off, blen);
        if (!rk__block_carried(state, base, off, blen))
            continue;
        if (at + blen <= room) {
            memcpy(sec + at, state + off, blen);
            sec[i / 8] |= (unsigned char)(1u << (i % 8));
        }
        at += blen;
        carried++;
    }
    c->info.state_crc = crc;
    c->info.blocks_carried = carried;
    return at;
}

rk_status rk_checkpoint_size(const rk_checkpoint_src *src, const rk_checkpoint_base *base, size_t *size)
{
    uint64_t msg_sec, state_sec, total;
    uint32_t block, max_len;
    rk_status st;

    if (!size)
        return RK_EINVAL;
    st = rk__check_src(src, base, &block);
    if (st == RK_OK)
        st = rk__msgs_size(src, &msg_sec, &max_len);
    if (st != RK_OK)
        return st;
    state_sec = base ? rk__delta_section_size(src, base, block) : src->state_size;
    total = rk__total_size(state_sec, msg_sec);
    if (total == 0)
        return RK_EINVAL;
    *size = (size_t)total;
    return RK_OK;
}

static void rk__fill_info(rk__ckpt *c, const rk_checkpoint_src *src, const rk_checkpoint_base *base,
                          uint32_t block)
{
    rk_checkpoint_info *in = &c->info;
    memset(c, 0, sizeof *c);
    in->version = RK_CHECKPOINT_VERSION;
    in->flags = base ? RK_CHECKPOINT_F_DELTA : 0u;
    in->actor = src->actor;
    in->generation = src->generation;
    in->hlc = src->hlc;
    in->seq = src->seq;
    in->state_size = src->state_size;
    in->block_size = block;
    in->blocks = rk__blocks(src->state_size, block);
    in->msg_count = src->msg_count;
    if (base) {
        in->base_seq = base->seq;
        in->base_state_size = base->size;
        in->base_state_crc = base->crc;
        c->bitmap = rk__bitmap_bytes(in->blocks);
    }
}

rk_status rk_checkpoint_encode(const rk_checkpoint_src *src, const rk_checkpoint_base *base, void *buf,
                               size_t cap, size_t *len, rk_checkpoint_info *info)
{
    unsigned char *p = buf, *msgs;
    uint64_t msg_sec, room = cap > RK_CHECKPOINT_HEADER_SIZE ? cap - RK_CHECKPOINT_HEADER_SIZE : 0;
    uint32_t block;
    rk__ckpt c;
    rk_status st;

    if (!len || (!buf && cap > 0))
        return RK_EINVAL;
    st = rk__check_src(src, base, &block);
    if (st != RK_OK)
        return st;
    if (rk__overlap(buf, cap, src->state, src->state_size) ||
        (base && rk__overlap(buf, cap, base->state, base->size)))
        return RK_EINVAL;
    rk__fill_info(&c, src, base, block);
    st = rk__msgs_size(src, &msg_sec, &c.info.msg_max_len);
    if (st != RK_OK)
        return st;

    if (base) {
        c.state_sec = rk__write_delta(src, base, room ? p + RK_CHECKPOINT_HEADER_SIZE : NULL, room, &c);
    } else {
        c.state_sec = src->state_size;
        c.info.blocks_carried = c.info.blocks;
    }
    c.msg_sec = msg_sec;
    c.info.size = rk__total_size(c.state_sec, msg_sec);
    if (c.info.size == 0)
        return RK_EINVAL;
    if (c.info.size > cap) {
        *len = (size_t)c.info.size;
        return RK_E2BIG;
    }

    if (!base && src->state_size > 0) {
        memcpy(p + RK_CHECKPOINT_HEADER_SIZE, src->state, src->state_size);
        c.info.state_crc = rk_crc32c(0, src->state, src->state_size);
    }
    c.state_sec_crc = base ? rk_crc32c(0, p + RK_CHECKPOINT_HEADER_SIZE, c.state_sec) : c.info.state_crc;
    memset(p + RK_CHECKPOINT_HEADER_SIZE + c.state_sec, 0, rk__pad8(c.state_sec));
    msgs = p + RK_CHECKPOINT_HEADER_SIZE + c.state_sec + rk__pad8(c.state_sec);
    rk__write_msgs(msgs, src);
    c.msg_sec_crc = rk_crc32c(0, msgs, msg_sec);
    rk__write_header(p, &c);

    *len = (size_t)c.info.size;
    if (info)
        *info = c.info;
    return RK_OK;
}

/* ---- applying -------------------------------------------------------------------- */

/* The CRC of the state the delta would produce from the base in `target`:
 * each block in order, from the delta if it carries the block, else from
 * the target. */
static uint32_t rk__delta_result_crc(const rk__ckpt *c, const unsigned char *target)
{
    const rk_checkpoint_info *in = &c->info;
    const unsigned char *carried = c->state + c->bitmap;
    uint32_t crc = 0;
    for (uint64_t i = 0; i < in->blocks; i++) {
        uint64_t blen = rk__block_len(in->state_size, in->block_size, i);
        if (c->state[i / 8] >> (i % 8) & 1) {
            crc = rk_crc32c(crc, carried, blen);
            carried += blen;
        } else {
            crc = rk_crc32c(crc, target + i * in->block_size, blen);
        }
    }
    return crc;
}

static void rk__delta_write(const rk__ckpt *c, unsigned char *target)
{
    const rk_checkpoint_info *in = &c->info;
    const unsigned char *carried = c->state + c->bitmap;
    for (uint64_t i = 0; i < in->blocks; i++) {
        uint64_t blen = rk__block_len(in->state_size, in->block_size, i);
        if (c->state[i / 8] >> (i % 8) & 1) {
            memcpy(target + i * in->block_size, carried, blen);
            carried += blen;
        }
    }
}

rk_status rk_checkpoint_apply(const void *buf, size_t len, rk_checkpoint_target *t, rk_checkpoint_info *info)
{
    const rk_checkpoint_info *in;
    rk__ckpt c;
    rk_status st;

    if (!buf || !t || (!t->state && t->cap > 0) || rk__overlap(buf, len, t->state, t->cap))
        return RK_EINVAL;
    st = rk__parse(buf, len, &c);
    if (st != RK_OK)
        return st;
    in = &c.info;
    if (info)
        *info = *in;
    if (in->state_size > t->cap)
        return RK_E2BIG;
    if (in->flags & RK_CHECKPOINT_F_DELTA) {
        if (t->len > t->cap)
            return RK_EINVAL;
        if (t->seq != in->base_seq || t->len != in->base_state_size || t->crc != in->base_state_crc)
            return RK_ESTALE;
        /* The checkpoint is intact, so a wrong result means the target's
         * bytes are not the base's, whatever its seq and crc claim. */
        if (rk__delta_result_crc(&c, t->state) != in->state_crc)
            return RK_ESTALE;
        rk__delta_write(&c, t->state);
    } else if (in->state_size > 0) {
        memcpy(t->state, c.state, (size_t)in->state_size);
    }
    t->len = (size_t)in->state_size;
    t->seq = in->seq;
    t->crc = in->state_crc;
    return RK_OK;
}

/* ---- messages out ------------------------------------------------------------------ */

rk_status rk_checkpoint_msgs_begin(const void *buf, size_t len, rk_checkpoint_msg_iter *it)
{
    rk__ckpt c;
    rk_status st;
    if (!buf || !it)
        return RK_EINVAL;
    st = rk__parse(buf, len, &c);
    if (st != RK_OK)
        return st;
    it->at = c.msgs;
    it->end = c.msgs + c.msg_sec;
    it->left = c.info.msg_count;
    return RK_OK;
}

rk_status rk_checkpoint_msgs_next(rk_checkpoint_msg_iter *it, rk_msg *hdr, const void **payload)
{
    size_t room;
    if (!it || !hdr || !payload || it->at > it->end)
        return RK_EINVAL;
    if (it->left == 0)
        return RK_ENOTFOUND;
    /* Checked by _begin; checked again so that a walk over a buffer changed
     * since then stays inside it. */
    room = (size_t)(it->end - it->at);
    if (room < RK_MSG_HEADER_SIZE || rk__msg_record(rk__get32(it->at + RK__M_LEN)) > room)
        return RK_EINVAL;
    rk__read_msg(it->at, hdr);
    *payload = it->at + RK_MSG_HEADER_SIZE;
    it->at += rk__msg_record(hdr->len);
    it->left--;
    return RK_OK;
}

/* ---- files ------------------------------------------------------------------------ */

static rk_status rk__os_status(int err, int *os_error)
{
    if (os_error)
        *os_error = err;
    switch (err) {
    case 0:
        return RK_OK;
    case ENOENT:
    case ENOTDIR:
        return RK_ENOTFOUND;
    case ENOSPC:
#ifdef EDQUOT
    case EDQUOT:
#endif
    case EFBIG:
        return RK_E2BIG;
    case ENOMEM:
        return RK_ENOMEM;
    case ENAMETOOLONG:
    case EISDIR:
        return RK_EINVAL;
    default:
        return RK_EDEVICE;
    }
}

/* 0, or the errno of the first failure. */
static int rk__write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? errno : EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Makes a rename inside the directory of `path` durable. */
static int rk__sync_dir(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    int fd, err = 0;

    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    if (fsync(fd) != 0)
        err = errno;
    close(fd);
    return err;
}

rk_status rk_checkpoint_write_file(const char *path, const void *buf, size_t len, int *os_error)
{
    static const char suffix[] = ".tmp-XXXXXX";
    char tmp[PATH_MAX];
    size_t plen;
    int fd, err;

    if (os_error)
        *os_error = 0;
    if (!path || !*path || (!buf && len > 0))
        return RK_EINVAL;
    plen = strlen(path);
    if (plen + sizeof suffix > sizeof tmp)
        return rk__os_status(ENAMETOOLONG, os_error);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, suffix, sizeof suffix);

    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return rk__os_status(errno, os_error);
    err = rk__write_all(fd, buf, len);
    /* The data must be on disk before the rename makes it the file. */
    if (!err && fsync(fd) != 0)
        err = errno;
    if (close(fd) != 0 && !err)
        err = errno;
    if (!err && rename(tmp, path) != 0)
        err = errno;
    if (err) {
        unlink(tmp);
        return rk__os_status(err, os_error);
    }
    return rk__os_status(rk__sync_dir(path), os_error);
}

rk_status rk_checkpoint_read_file(const char *path, void *buf, size_t cap, size_t *len, int *os_error)
{
    unsigned char *p = buf;
    struct stat sb;
    size_t got = 0, size;
    rk_status st = RK_OK;
    int fd;

    if (os_error)
        *os_error = 0;
    if (!path || !len || (!buf && cap > 0))
        return RK_EINVAL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rk__os_status(errno, os_error);
    if (fstat(fd, &sb) != 0) {
        st = rk__os_status(errno, os_error);
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) {
        st = RK_EINVAL;
        goto out;
    }
    size = (uint64_t)sb.st_size > SIZE_MAX ? SIZE_MAX : (size_t)sb.st_size;
    if (size > cap) {
        *len = size;
        st = RK_E2BIG;
        goto out;
    }
    /* A file that shrinks meanwhile yields what is there, which decoding
     * then rejects as truncated. */
    while (got < size) {
        ssize_t r = read(fd, p + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            st = rk__os_status(errno, os_error);
            goto out;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    *len = got;
out:
    close(fd);
    return st;
}
