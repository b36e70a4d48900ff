/* checkpoint.h: CRC-32C against its definition, the byte layout, full and
 * delta round trips (chains, growth and shrinkage, block sizes), deltas
 * applied to the wrong base, every single-byte corruption and every
 * truncation of small checkpoints (a sample of large ones), a newer format
 * version, structurally wrong checkpoints with valid checksums, messages,
 * the file helpers and invalid arguments. Every failed apply is checked to
 * leave its target untouched. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ringkernel/checkpoint.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define KiB ((size_t)1024)
#define MiB (1024 * KiB)
#define HDR RK_CHECKPOINT_HEADER_SIZE

/* ---- helpers ------------------------------------------------------------------ */

static uint64_t rng(uint64_t *s)
{
    /* xorshift64*: deterministic, good enough to scatter bytes and offsets. */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1Dull;
}

static void fill_random(unsigned char *p, size_t n, uint64_t seed)
{
    uint64_t s = seed | 1;
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(rng(&s) >> 56);
}

static unsigned char *xmalloc(size_t n)
{
    unsigned char *p = malloc(n ? n : 1);
    assert_non_null(p);
    return p;
}

static uint64_t pad8(uint64_t n)
{
    return (n + 7) & ~(uint64_t)7;
}

/* CRC-32C one bit at a time, straight from the definition. */
static uint32_t crc_bitwise(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    }
    return ~c;
}

static uint64_t get_le(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void put_le(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Recomputes both section CRCs and the header CRC after a test has changed
 * a field, so that only the structural checks can catch the change. */
static void reseal(unsigned char *buf)
{
    uint64_t state_sec = get_le(buf + 88, 8), msg_sec = get_le(buf + 96, 8);
    put_le(buf + 104, rk_crc32c(0, buf + HDR, state_sec), 4);
    put_le(buf + 108, rk_crc32c(0, buf + HDR + pad8(state_sec), msg_sec), 4);
    put_le(buf + 124, rk_crc32c(0, buf, 124), 4);
}

/* Encodes, checking on the way that rk_checkpoint_size is exact and that a
 * buffer one byte short gets RK_E2BIG with the needed size. */
static unsigned char *encode(const rk_checkpoint_src *src, const rk_checkpoint_base *base, size_t *len,
                             rk_checkpoint_info *info)
{
    size_t need = 0, got = 0;
    unsigned char *buf;
    assert_int_equal(rk_checkpoint_size(src, base, &need), RK_OK);
    assert_true(need >= HDR);
    assert_int_equal(rk_checkpoint_encode(src, base, NULL, 0, &got, NULL), RK_E2BIG);
    assert_int_equal(got, need);
    buf = xmalloc(need);
    got = 0;
    assert_int_equal(rk_checkpoint_encode(src, base, buf, need - 1, &got, NULL), RK_E2BIG);
    assert_int_equal(got, need);
    got = 0;
    assert_int_equal(rk_checkpoint_encode(src, base, buf, need, &got, info), RK_OK);
    assert_int_equal(got, need);
    if (info)
        assert_int_equal(info->size, need);
    *len = need;
    return buf;
}

static rk_checkpoint_src make_src(const void *state, size_t size, uint64_t seq)
{
    rk_checkpoint_src src;
    memset(&src, 0, sizeof src);
    src.actor = 42;
    src.generation = 3;
    src.hlc = 0x0123456789ABCDEFull;
    src.seq = seq;
    src.state = state;
    src.state_size = size;
    return src;
}

/* A caller's state buffer, with a copy to prove that a failed apply left it
 * (memory and description) untouched. */
typedef struct target {
    rk_checkpoint_target t, saved_t;
    unsigned char *saved;
} target;

static void target_init(target *tg, size_t cap, unsigned char fill)
{
    memset(tg, 0, sizeof *tg);
    tg->t.state = xmalloc(cap);
    tg->t.cap = cap;
    memset(tg->t.state, fill, cap);
    tg->saved = xmalloc(cap);
}

static void target_save(target *tg)
{
    memcpy(tg->saved, tg->t.state, tg->t.cap);
    tg->saved_t = tg->t;
}

static void target_assert_untouched(const target *tg)
{
    assert_int_equal(tg->t.len, tg->saved_t.len);
    assert_int_equal(tg->t.seq, tg->saved_t.seq);
    assert_int_equal(tg->t.crc, tg->saved_t.crc);
    assert_memory_equal(tg->t.state, tg->saved, tg->t.cap);
}

static void target_destroy(target *tg)
{
    free(tg->t.state);
    free(tg->saved);
}

/* Applying buf fails with `want` and changes nothing. */
static void expect_rejected(const unsigned char *buf, size_t len, target *tg, rk_status want)
{
    assert_int_equal(rk_checkpoint_apply(buf, len, &tg->t, NULL), want);
    target_assert_untouched(tg);
}

/* ---- messages ------------------------------------------------------------------ */

#define N_INLINE 6
#define BIG_PAYLOAD (100 * KiB + 3)

/* Messages as they sit in queue slots: inline ones in 256-byte slots, and
 * by-reference ones whose payload lives elsewhere. */
typedef struct msgset {
    _Alignas(16) unsigned char slots[N_INLINE][256];
    rk_msg byref[3];
    unsigned char *big;
    unsigned char small[3];
    const rk_msg *list[N_INLINE + 3];
    size_t n;
} msgset;

static msgset *msgset_create(void)
{
    static const uint32_t inline_len[N_INLINE] = {0, 1, 7, 8, 56, 192};
    msgset *ms = calloc(1, sizeof *ms);
    uint64_t s = 99;
    assert_non_null(ms);
    for (int i = 0; i < N_INLINE; i++) {
        rk_msg *m = (rk_msg *)ms->slots[i];
        m->seq = 1000 + (uint64_t)i;
        m->type = 10 + (uint32_t)i;
        m->flags = i == 2 ? RK_MSG_F_REQUEST : i == 3 ? RK_MSG_F_REPLY : 0;
        m->src = (rk_actor_id)rng(&s);
        m->dst = 42;
        m->tenant = 7;
        m->dst_gen = 3;
        m->corr = (i == 2 || i == 3) ? rng(&s) : 0;
        m->hlc = rng(&s);
        m->len = inline_len[i];
        m->src_gen = (uint32_t)rng(&s);
        fill_random(ms->slots[i] + RK_MSG_HEADER_SIZE, m->len, 500 + (uint64_t)i);
        ms->list[ms->n++] = m;
    }
    ms->big = xmalloc(BIG_PAYLOAD);
    fill_random(ms->big, BIG_PAYLOAD, 77);
    memcpy(ms->small, "abc", 3);
    for (int i = 0; i < 3; i++) {
        rk_msg *m = &ms->byref[i];
        m->seq = 2000 + (uint64_t)i;
        m->type = 99;
        m->flags = RK_MSG_F_BYREF | (i == 1 ? RK_MSG_F_REQUEST : 0);
        m->src = RK_ACTOR_HOST;
        m->dst = 42;
        m->tenant = 7;
        m->corr = i == 1 ? 0xC0FFEEull : 0;
        m->hlc = rng(&s);
        m->len = i == 0 ? BIG_PAYLOAD : i == 1 ? 3 : 0;
        m->ref = i == 0 ? (uint64_t)(uintptr_t)ms->big : i == 1 ? (uint64_t)(uintptr_t)ms->small : 1;
        ms->list[ms->n++] = m;
    }
    return ms;
}

static void msgset_destroy(msgset *ms)
{
    free(ms->big);
    free(ms);
}

/* The checkpoint holds exactly the messages of `ms`, in order. */
static void expect_messages(const unsigned char *buf, size_t len, const msgset *ms)
{
    rk_checkpoint_msg_iter it;
    const void *payload;
    rk_msg m;
    size_t n = ms ? ms->n : 0;

    assert_int_equal(rk_checkpoint_msgs_begin(buf, len, &it), RK_OK);
    for (size_t i = 0; i < n; i++) {
        const rk_msg *want = ms->list[i];
        assert_int_equal(rk_checkpoint_msgs_next(&it, &m, &payload), RK_OK);
        assert_int_equal(m.seq, want->seq);
        assert_int_equal(m.type, want->type);
        assert_int_equal(m.flags, want->flags);
        assert_int_equal(m.src, want->src);
        assert_int_equal(m.dst, want->dst);
        assert_int_equal(m.tenant, want->tenant);
        assert_int_equal(m.dst_gen, want->dst_gen);
        assert_int_equal(m.corr, want->corr);
        assert_int_equal(m.hlc, want->hlc);
        assert_int_equal(m.len, want->len);
        assert_int_equal(m.src_gen, want->src_gen);
        assert_int_equal(m.ref, 0);
        assert_true((const unsigned char *)payload >= buf &&
                    (const unsigned char *)payload + m.len <= buf + len);
        assert_int_equal(((const unsigned char *)payload - buf) % 8, 0);
        if (m.len > 0)
            assert_memory_equal(payload, rk_msg_payload(want), m.len);
    }
    assert_int_equal(rk_checkpoint_msgs_next(&it, &m, &payload), RK_ENOTFOUND);
    assert_int_equal(rk_checkpoint_msgs_next(&it, &m, &payload), RK_ENOTFOUND);
}

/* ---- CRC-32C -------------------------------------------------------------------- */

static void test_crc32c_vectors(void **state)
{
    unsigned char buf[32];
    (void)state;
    assert_int_equal(rk_crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(rk_crc32c(0, NULL, 0), 0);
    assert_int_equal(rk_crc32c(0x1234u, NULL, 0), 0x1234u);
    /* RFC 3720, appendix B.4. */
    memset(buf, 0, sizeof buf);
    assert_int_equal(rk_crc32c(0, buf, sizeof buf), 0x8A9136AAu);
    memset(buf, 0xFF, sizeof buf);
    assert_int_equal(rk_crc32c(0, buf, sizeof buf), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (unsigned char)i;
    assert_int_equal(rk_crc32c(0, buf, sizeof buf), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (unsigned char)(31 - i);
    assert_int_equal(rk_crc32c(0, buf, sizeof buf), 0x113FDB5Cu);
}

static void test_crc32c_against_definition(void **state)
{
    size_t big = 256 * KiB;
    unsigned char *p = xmalloc(big);
    (void)state;
    fill_random(p, big, 1);
    /* Every length and alignment over a few words, which reaches every
     * entry of the eight tables many times over. */
    for (size_t off = 0; off < 16; off++)
        for (size_t n = 0; n <= 300; n++)
            assert_int_equal(rk_crc32c(0, p + off, n), crc_bitwise(p + off, n));
    assert_int_equal(rk_crc32c(0, p, big), crc_bitwise(p, big));
    /* Extending a CRC equals computing it in one go, at every split. */
    for (size_t cut = 0; cut <= 200; cut++)
        assert_int_equal(rk_crc32c(rk_crc32c(0, p, cut), p + cut, 200 - cut), crc_bitwise(p, 200));
    free(p);
}

/* The table version, which rk_crc32c uses where the CPU has no CRC
 * instruction (here it may be taking the hardware path). */
uint32_t rk__crc32c_sw(uint32_t c, const void *data, size_t n);

static void test_crc32c_tables_against_definition(void **state)
{
    size_t big = 64 * KiB;
    unsigned char *p = xmalloc(big);
    (void)state;
    fill_random(p, big, 2);
    for (size_t off = 0; off < 16; off++)
        for (size_t n = 0; n <= 300; n++)
            assert_int_equal(~rk__crc32c_sw(~0u, p + off, n), crc_bitwise(p + off, n));
    assert_int_equal(~rk__crc32c_sw(~0u, p, big), crc_bitwise(p, big));
    assert_int_equal(~rk__crc32c_sw(~0u, p, big), rk_crc32c(0, p, big));
    free(p);
}

/* ---- layout -------------------------------------------------------------------- */

static void test_byte_layout(void **state)
{
    static const unsigned char magic[8] = {0x89, 'R', 'K', 'C', 'K', 'P', 'T', '\n'};
    _Alignas(16) unsigned char slot[128];
    rk_msg *m = (rk_msg *)slot;
    const rk_msg *list[1] = {m};
    rk_checkpoint_src src = make_src("hello", 5, 0x0102030405060708ull);
    rk_checkpoint_info info;
    unsigned char *buf, *rec;
    size_t len;
    (void)state;

    memset(slot, 0, sizeof slot);
    m->seq = 0x1111111122222222ull;
    m->type = 0xA1B2C3D4u;
    m->flags = RK_MSG_F_REQUEST;
    m->src = 5;
    m->dst = 42;
    m->tenant = 9;
    m->dst_gen = 3;
    m->corr = 0x0BADF00Dull;
    m->hlc = 0x7777ull;
    m->len = 3;
    m->src_gen = 8;
    memcpy(slot + RK_MSG_HEADER_SIZE, "xyz", 3);
    src.msgs = list;
    src.msg_count = 1;
    buf = encode(&src, NULL, &len, &info);

    assert_int_equal(len, HDR + 8 + 64 + 8);
    assert_memory_equal(buf, magic, 8);
    assert_int_equal(get_le(buf + 8, 2), 1);
    assert_int_equal(get_le(buf + 10, 2), 128);
    assert_int_equal(get_le(buf + 12, 4), 0);
    assert_int_equal(get_le(buf + 16, 4), 42);
    assert_int_equal(get_le(buf + 20, 4), 3);
    assert_int_equal(get_le(buf + 24, 8), 0x0123456789ABCDEFull);
    static const unsigned char seq_bytes[8] = {8, 7, 6, 5, 4, 3, 2, 1};
    assert_memory_equal(buf + 32, seq_bytes, 8);
    assert_int_equal(get_le(buf + 40, 8), 0);
    assert_int_equal(get_le(buf + 48, 8), 5);
    assert_int_equal(get_le(buf + 56, 8), 0);
    assert_int_equal(get_le(buf + 64, 4), rk_crc32c(0, "hello", 5));
    assert_int_equal(get_le(buf + 68, 4), 0);
    assert_int_equal(get_le(buf + 72, 4), RK_CHECKPOINT_BLOCK_SIZE);
    assert_int_equal(get_le(buf + 76, 4), 0);
    assert_int_equal(get_le(buf + 80, 8), 1);
    assert_int_equal(get_le(buf + 88, 8), 5);
    assert_int_equal(get_le(buf + 96, 8), 72);
    assert_int_equal(get_le(buf + 104, 4), rk_crc32c(0, "hello", 5));
    assert_int_equal(get_le(buf + 108, 4), rk_crc32c(0, buf + 136, 72));
    assert_int_equal(get_le(buf + 112, 8), len);
    assert_int_equal(get_le(buf + 120, 4), 0);
    assert_int_equal(get_le(buf + 124, 4), crc_bitwise(buf, 124));
    assert_memory_equal(buf + 128, "hello\0\0\0", 8);

    rec = buf + 136;
    assert_int_equal(get_le(rec + 0, 8), 0x1111111122222222ull);
    assert_int_equal(get_le(rec + 8, 4), 0xA1B2C3D4u);
    assert_int_equal(get_le(rec + 12, 4), RK_MSG_F_REQUEST);
    assert_int_equal(get_le(rec + 16, 4), 5);
    assert_int_equal(get_le(rec + 20, 4), 42);
    assert_int_equal(get_le(rec + 24, 4), 9);
    assert_int_equal(get_le(rec + 28, 4), 3);
    assert_int_equal(get_le(rec + 32, 8), 0x0BADF00Dull);
    assert_int_equal(get_le(rec + 40, 8), 0x7777);
    assert_int_equal(get_le(rec + 48, 4), 3);
    assert_int_equal(get_le(rec + 52, 4), 8);
    assert_int_equal(get_le(rec + 56, 8), 0);
    assert_memory_equal(rec + 64, "xyz\0\0\0\0\0", 8);

    assert_int_equal(info.version, 1);
    assert_int_equal(info.flags, 0);
    assert_int_equal(info.blocks, 1);
    assert_int_equal(info.blocks_carried, 1);
    assert_int_equal(info.msg_count, 1);
    assert_int_equal(info.msg_max_len, 3);
    free(buf);
}

/* ---- full checkpoints ------------------------------------------------------------ */

static void test_full_round_trip(void **state)
{
    static const size_t sizes[] = {0, 1, 4095, 4096, 4097, MiB, 16 * MiB};
    msgset *ms = msgset_create();
    (void)state;

    for (size_t k = 0; k < ARRAY_LEN(sizes); k++) {
        size_t size = sizes[k], len;
        unsigned char *st = xmalloc(size), *buf;
        rk_checkpoint_src src = make_src(st, size, 10 + k);
        rk_checkpoint_info info, dec;
        target tg;

        fill_random(st, size, 1000 + k);
        src.msgs = ms->list;
        src.msg_count = k % 2 ? ms->n : 0;
        buf = encode(&src, NULL, &len, &info);
        assert_int_equal(info.flags, 0);
        assert_int_equal(info.state_size, size);
        assert_int_equal(info.state_crc, rk_crc32c(0, st, size));
        assert_int_equal(info.blocks, (size + 4095) / 4096);
        assert_int_equal(info.blocks_carried, info.blocks);
        assert_int_equal(info.msg_count, src.msg_count);

        assert_int_equal(rk_checkpoint_decode(buf, len, &dec), RK_OK);
        assert_memory_equal(&dec, &info, sizeof dec);
        assert_int_equal(dec.actor, 42);
        assert_int_equal(dec.generation, 3);
        assert_int_equal(dec.hlc, 0x0123456789ABCDEFull);
        assert_int_equal(dec.seq, 10 + k);

        /* Applies whatever the target held; bytes past the state stay. */
        target_init(&tg, size + 64, 0xAA);
        tg.t.len = 17;
        tg.t.seq = 12345;
        assert_int_equal(rk_checkpoint_apply(buf, len, &tg.t, &dec), RK_OK);
        assert_memory_equal(&dec, &info, sizeof dec);
        if (size > 0)
            assert_memory_equal(tg.t.state, st, size);
        for (size_t i = size; i < size + 64; i++)
            assert_int_equal(((unsigned char *)tg.t.state)[i], 0xAA);
        assert_int_equal(tg.t.len, size);
        assert_int_equal(tg.t.seq, 10 + k);
        assert_int_equal(tg.t.crc, info.state_crc);
        expect_messages(buf, len, k % 2 ? ms : NULL);

        target_destroy(&tg);
        free(buf);
        free(st);
    }
    msgset_destroy(ms);
}

static void test_target_too_small(void **state)
{
    size_t size = 10000, len;
    unsigned char *st = xmalloc(size), *buf;
    rk_checkpoint_src src = make_src(st, size, 1);
    rk_checkpoint_info info;
    target tg;
    (void)state;

    fill_random(st, size, 5);
    buf = encode(&src, NULL, &len, NULL);
    target_init(&tg, size - 1, 0x11);
    target_save(&tg);
    memset(&info, 0, sizeof info);
    assert_int_equal(rk_checkpoint_apply(buf, len, &tg.t, &info), RK_E2BIG);
    assert_int_equal(info.state_size, size);
    target_assert_untouched(&tg);
    target_destroy(&tg);
    free(buf);
    free(st);
}

/* ---- deltas ---------------------------------------------------------------------- */

/* Blocks of `cur` that a delta against `prev` must carry. */
static uint64_t changed_blocks(const unsigned char *prev, size_t prev_size, const unsigned char *cur,
                               size_t size, size_t block)
{
    uint64_t n = 0;
    for (size_t off = 0; off < size; off += block) {
        size_t blen = size - off < block ? size - off : block;
        n += off + blen > prev_size || memcmp(prev + off, cur + off, blen) != 0;
    }
    return n;
}

/* A full checkpoint, then ten deltas - scattered writes, growth, shrinkage,
 * no change - applied in sequence to one target, which equals the state
 * after each; for several block sizes. */
static void test_delta_chain(void **state)
{
    static const uint32_t block_sizes[] = {64, 4096, 1u << 20};
    const size_t cap = 2 * MiB;
    msgset *ms = msgset_create();
    (void)state;

    for (size_t b = 0; b < ARRAY_LEN(block_sizes); b++) {
        uint32_t block = block_sizes[b];
        unsigned char *cur = xmalloc(cap), *prev = xmalloc(cap), *buf;
        size_t size = MiB + 123, prev_size, len;
        rk_checkpoint_src src = make_src(cur, size, 1);
        rk_checkpoint_info info;
        uint64_t s = 31 + b;
        target tg;

        fill_random(cur, cap, 4242 + b);
        src.block_size = block;
        buf = encode(&src, NULL, &len, &info);
        target_init(&tg, cap, 0);
        assert_int_equal(rk_checkpoint_apply(buf, len, &tg.t, NULL), RK_OK);
        free(buf);

        for (uint64_t step = 1; step <= 10; step++) {
            rk_checkpoint_base base = {.state = prev, .size = size, .seq = step, .crc = info.state_crc};
            memcpy(prev, cur, size);
            prev_size = size;
            if (step == 4)
                size += 5000; /* the new tail is random bytes already in cur */
            else if (step == 7)
                size -= 3000;
            else if (step != 9)
                for (uint64_t w = 0; w < step * 3; w++) {
                    size_t off = (size_t)(rng(&s) % size), n = 1 + (size_t)(rng(&s) % 100);
                    fill_random(cur + off, n <= size - off ? n : size - off, rng(&s));
                }
            src.state_size = size;
            src.seq = step + 1;
            src.msgs = ms->list;
            src.msg_count = step % 3 ? 0 : ms->n;
            buf = encode(&src, &base, &len, &info);
            assert_int_equal(info.flags, RK_CHECKPOINT_F_DELTA);
            assert_int_equal(info.base_seq, step);
            assert_int_equal(info.base_state_size, prev_size);
            assert_int_equal(info.state_crc, rk_crc32c(0, cur, size));
            assert_int_equal(info.blocks_carried, changed_blocks(prev, prev_size, cur, size, block));
            if (step == 9)
                assert_int_equal(info.blocks_carried, 0);

            assert_int_equal(rk_checkpoint_apply(buf, len, &tg.t, NULL), RK_OK);
            assert_int_equal(tg.t.len, size);
            assert_int_equal(tg.t.seq, step + 1);
            assert_int_equal(tg.t.crc, info.state_crc);
            assert_memory_equal(tg.t.state, cur, size);
            expect_messages(buf, len, src.msg_count ? ms : NULL);
            free(buf);
        }
        target_destroy(&tg);
        free(cur);
        free(prev);
    }
    msgset_destroy(ms);
}

static void test_delta_of_unchanged_state_is_tiny(void **state)
{
    size_t size = 16 * MiB, len;
    unsigned char *st = xmalloc(size), *buf;
    rk_checkpoint_src src = make_src(st, size, 8);
    rk_checkpoint_base base = {.state = st, .size = size, .seq = 7};
    rk_checkpoint_info info;
    target tg;
    (void)state;

    fill_random(st, size, 16);
    base.crc = rk_crc32c(0, st, size);
    buf = encode(&src, &base, &len, &info);
    /* The header and a 4096-bit bitmap. */
    assert_int_equal(len, HDR + 512);
    assert_int_equal(info.blocks, 4096);
    assert_int_equal(info.blocks_carried, 0);

    target_init(&tg, size, 0);
    memcpy(tg.t.state, st, size);
    tg.t.len = size;
    tg.t.seq = 7;
    tg.t.crc = base.crc;
    assert_int_equal(rk_checkpoint_apply(buf, len, &tg.t, NULL), RK_OK);
    assert_int_equal(tg.t.seq, 8);
    assert_memory_equal(tg.t.state, st, size);
    target_destroy(&tg);
    free(buf);
    free(st);
}

static void test_delta_from_empty_base(void **state)
{
    size_t size = 9000, len;
    unsigned char *st = xmalloc(size), *buf;
    rk_checkpoint_src src = make_src(st, size, 2);
    rk_checkpoint_base base = {.state = NULL, .size = 0, .seq = 1, .crc = 0};
    rk_checkpoint_info info;
    target tg;
    (void)state;

    fill_random(st, size, 3);
    buf = encode(&src, &base, &len, &info);
    assert_int_equal(info.blocks_carried, 3);
    target_init(&tg, size, 0);
    tg.t.seq = 1;
    assert_int_equal(rk_checkpoint_apply(buf, len, &tg.t, NULL), RK_OK);
    assert_memory_equal(tg.t.state, st, size);
    free(buf);

    /* And back down to nothing. */
    base = (rk_checkpoint_base){.state = st, .size = size, .seq = 2, .crc = info.state_crc};
    src = make_src(NULL, 0, 3);
    buf = encode(&src, &base, &len, &info);
    assert_int_equal(len, HDR);
    assert_int_equal(rk_checkpoint_apply(buf, len, &tg.t, NULL), RK_OK);
    assert_int_equal(tg.t.len, 0);
    assert_int_equal(tg.t.crc, 0);
    target_destroy(&tg);
    free(buf);
    free(st);
}

static void test_delta_wrong_base(void **state)
{
    size_t size = 64 * KiB + 5, len2, len3;
    unsigned char *s1 = xmalloc(size), *s2 = xmalloc(size), *s3 = xmalloc(size), *d2, *d3;
    rk_checkpoint_src src = make_src(s2, size, 2);
    rk_checkpoint_base base = {.state = s1, .size = size, .seq = 1};
    rk_checkpoint_info info;
    target tg;
    (void)state;

    fill_random(s1, size, 1);
    memcpy(s2, s1, size);
    s2[100] ^= 1;
    s2[50000] ^= 1;
    memcpy(s3, s2, size);
    s3[20000] ^= 1;
    base.crc = rk_crc32c(0, s1, size);
    d2 = encode(&src, &base, &len2, &info);
    base = (rk_checkpoint_base){.state = s2, .size = size, .seq = 2, .crc = info.state_crc};
    src = make_src(s3, size, 3);
    d3 = encode(&src, &base, &len3, NULL);

    /* The target holds seq 1. */
    target_init(&tg, size + 100, 0);
    memcpy(tg.t.state, s1, size);
    tg.t.len = size;
    tg.t.seq = 1;
    tg.t.crc = rk_crc32c(0, s1, size);
    target_save(&tg);

    expect_rejected(d3, len3, &tg, RK_ESTALE); /* skips a link of the chain */
    tg.t.seq = 5;
    target_save(&tg);
    expect_rejected(d2, len2, &tg, RK_ESTALE); /* another sequence number */
    tg.t.seq = 1;
    tg.t.crc ^= 1;
    target_save(&tg);
    expect_rejected(d2, len2, &tg, RK_ESTALE); /* another CRC */
    tg.t.crc ^= 1;
    tg.t.len = size - 1;
    target_save(&tg);
    expect_rejected(d2, len2, &tg, RK_ESTALE); /* another size */
    tg.t.len = tg.t.cap + 1;
    target_save(&tg);
    expect_rejected(d2, len2, &tg, RK_EINVAL); /* more than it can hold */
    tg.t.len = size;
    /* Right seq, size and CRC claimed, but a byte of a block the delta does
     * not carry differs: caught by the CRC of the result. */
    ((unsigned char *)tg.t.state)[30000] ^= 0x40;
    target_save(&tg);
    expect_rejected(d2, len2, &tg, RK_ESTALE);
    ((unsigned char *)tg.t.state)[30000] ^= 0x40;

    assert_int_equal(rk_checkpoint_apply(d2, len2, &tg.t, NULL), RK_OK);
    assert_int_equal(rk_checkpoint_apply(d3, len3, &tg.t, NULL), RK_OK);
    assert_memory_equal(tg.t.state, s3, size);
    target_save(&tg);
    expect_rejected(d3, len3, &tg, RK_ESTALE); /* applied twice */

    target_destroy(&tg);
    free(d2);
    free(d3);
    free(s1);
    free(s2);
    free(s3);
}

/* ---- damage ------------------------------------------------------------------------ */

typedef struct damage_case {
    unsigned char *buf;
    size_t len;
    target tg; /* holds the base for a delta */
} damage_case;

/* A checkpoint of `size` bytes of state with the messages of `ms`: full, or
 * a delta (blocks of `block`) from a state that differs in a few places;
 * tg is a target it applies to. */
static void damage_case_init(damage_case *dc, size_t size, uint32_t block, int delta, const msgset *ms)
{
    unsigned char *base = xmalloc(size), *cur = xmalloc(size);
    rk_checkpoint_src src = make_src(cur, size, 2);
    rk_checkpoint_base b = {.state = base, .size = size, .seq = 1};
    rk_checkpoint_info info;
    rk_checkpoint_target probe;

    fill_random(base, size, size);
    memcpy(cur, base, size);
    for (size_t i = 0; i < size; i += size / 5 + 1)
        cur[i] ^= 0x5A;
    b.crc = rk_crc32c(0, base, size);
    src.block_size = block;
    src.msgs = ms->list;
    src.msg_count = ms->n;
    dc->buf = encode(&src, delta ? &b : NULL, &dc->len, &info);
    if (delta)
        assert_true(info.blocks_carried > 0 && info.blocks_carried < info.blocks);

    target_init(&dc->tg, size, 0);
    memcpy(dc->tg.t.state, base, size);
    dc->tg.t.len = size;
    dc->tg.t.seq = 1;
    dc->tg.t.crc = b.crc;
    target_save(&dc->tg);

    /* It is good before it is damaged: applied to a copy of the base. */
    probe = dc->tg.t;
    probe.state = base;
    assert_int_equal(rk_checkpoint_apply(dc->buf, dc->len, &probe, NULL), RK_OK);
    assert_memory_equal(base, cur, size);
    free(base);
    free(cur);
}

static void damage_case_destroy(damage_case *dc)
{
    target_destroy(&dc->tg);
    free(dc->buf);
}

/* Flipping bits of the byte at `off` makes every reader refuse it as damaged
 * and leaves the target as it was. */
static void expect_damage_caught(damage_case *dc, size_t off)
{
    static const unsigned char masks[] = {0x01, 0x80, 0xFF};
    rk_checkpoint_msg_iter it;
    for (size_t k = 0; k < ARRAY_LEN(masks); k++) {
        dc->buf[off] ^= masks[k];
        assert_int_equal(rk_checkpoint_decode(dc->buf, dc->len, NULL), RK_EBADMSG);
        assert_int_equal(rk_checkpoint_msgs_begin(dc->buf, dc->len, &it), RK_EBADMSG);
        expect_rejected(dc->buf, dc->len, &dc->tg, RK_EBADMSG);
        dc->buf[off] ^= masks[k];
    }
}

static void test_every_byte_corruption_small(void **state)
{
    msgset *ms = msgset_create();
    (void)state;
    ms->n = 4; /* the inline messages up to 8 bytes: a small checkpoint */
    for (int delta = 0; delta < 2; delta++) {
        damage_case dc;
        damage_case_init(&dc, 700, 64, delta, ms);
        for (size_t off = 0; off < dc.len; off++)
            expect_damage_caught(&dc, off);
        assert_int_equal(rk_checkpoint_apply(dc.buf, dc.len, &dc.tg.t, NULL), RK_OK);
        damage_case_destroy(&dc);
    }
    msgset_destroy(ms);
}

static void test_sampled_corruption_large(void **state)
{
    msgset *ms = msgset_create();
    (void)state;
    for (int delta = 0; delta < 2; delta++) {
        damage_case dc;
        uint64_t s = 12345 + (uint64_t)delta, state_sec;
        damage_case_init(&dc, 256 * KiB + 17, RK_CHECKPOINT_BLOCK_SIZE, delta, ms);
        state_sec = get_le(dc.buf + 88, 8);
        /* The whole header, both ends of each section, and a random sample. */
        for (size_t off = 0; off < HDR + 64; off++)
            expect_damage_caught(&dc, off);
        for (size_t off = HDR + state_sec - 16; off < HDR + pad8(state_sec) + 80; off++)
            expect_damage_caught(&dc, off);
        for (size_t off = dc.len - 64; off < dc.len; off++)
            expect_damage_caught(&dc, off);
        for (int i = 0; i < 400; i++)
            expect_damage_caught(&dc, (size_t)(rng(&s) % dc.len));
        damage_case_destroy(&dc);
    }
    msgset_destroy(ms);
}

static void test_every_truncation_small(void **state)
{
    msgset *ms = msgset_create();
    (void)state;
    ms->n = 4;
    for (int delta = 0; delta < 2; delta++) {
        damage_case dc;
        unsigned char *longer;
        rk_checkpoint_msg_iter it;
        damage_case_init(&dc, 700, 64, delta, ms);
        for (size_t len = 0; len < dc.len; len++) {
            assert_int_equal(rk_checkpoint_decode(dc.buf, len, NULL), RK_EBADMSG);
            assert_int_equal(rk_checkpoint_msgs_begin(dc.buf, len, &it), RK_EBADMSG);
            expect_rejected(dc.buf, len, &dc.tg, RK_EBADMSG);
        }
        /* Bytes after the end are refused too. */
        longer = xmalloc(dc.len + 8);
        memcpy(longer, dc.buf, dc.len);
        memset(longer + dc.len, 0, 8);
        for (size_t extra = 1; extra <= 8; extra++) {
            assert_int_equal(rk_checkpoint_decode(longer, dc.len + extra, NULL), RK_EBADMSG);
            expect_rejected(longer, dc.len + extra, &dc.tg, RK_EBADMSG);
        }
        free(longer);
        damage_case_destroy(&dc);
    }
    msgset_destroy(ms);
}

/* A header changed field by field and resealed: intact checksums, so only
 * the version and structure checks stand in the way. */
static void test_versions_and_flags(void **state)
{
    msgset *ms = msgset_create();
    damage_case dc;
    unsigned char *copy, *v2;
    rk_checkpoint_msg_iter it;
    (void)state;

    ms->n = 2;
    damage_case_init(&dc, 700, 64, 1, ms);
    copy = xmalloc(dc.len);

    memcpy(copy, dc.buf, dc.len);
    put_le(copy + 8, 2, 2);
    reseal(copy);
    assert_int_equal(rk_checkpoint_decode(copy, dc.len, NULL), RK_ENOTSUP);
    assert_int_equal(rk_checkpoint_msgs_begin(copy, dc.len, &it), RK_ENOTSUP);
    expect_rejected(copy, dc.len, &dc.tg, RK_ENOTSUP);

    /* A newer version with a longer header: the frozen preamble still lets
     * this reader check its CRC and say "newer", not "damaged". */
    v2 = xmalloc(dc.len + 32);
    memset(v2, 0, dc.len + 32);
    memcpy(v2, dc.buf, 124);
    memcpy(v2 + 160, dc.buf + HDR, dc.len - HDR);
    put_le(v2 + 8, 2, 2);
    put_le(v2 + 10, 160, 2);
    put_le(v2 + 156, rk_crc32c(0, v2, 156), 4);
    assert_int_equal(rk_checkpoint_decode(v2, dc.len + 32, NULL), RK_ENOTSUP);
    v2[20] ^= 1; /* ... and a damaged one is still damaged */
    assert_int_equal(rk_checkpoint_decode(v2, dc.len + 32, NULL), RK_EBADMSG);
    free(v2);

    memcpy(copy, dc.buf, dc.len);
    put_le(copy + 12, RK_CHECKPOINT_F_DELTA | 2u, 4);
    reseal(copy);
    assert_int_equal(rk_checkpoint_decode(copy, dc.len, NULL), RK_ENOTSUP);
    expect_rejected(copy, dc.len, &dc.tg, RK_ENOTSUP);

    memcpy(copy, dc.buf, dc.len);
    put_le(copy + 8, 0, 2);
    reseal(copy);
    assert_int_equal(rk_checkpoint_decode(copy, dc.len, NULL), RK_EBADMSG);

    free(copy);
    damage_case_destroy(&dc);
    msgset_destroy(ms);
}

/* One field changed so that the checksums, once resealed, still pass. */
typedef enum tamper {
    T_RESERVED,        /* a reserved byte set */
    T_HEADER_SIZE,     /* header size 120, with a CRC that fits it */
    T_BLOCK_SIZE,      /* not a power of two */
    T_BLOCK_TOO_SMALL, /* 32 bytes */
    T_TOTAL,           /* total size 8 short */
    T_STATE_SIZE,      /* one more state byte than the section holds */
    T_STATE_SEC,       /* state section one byte short */
    T_MSG_COUNT_MORE,  /* one message more than the section holds */
    T_MSG_COUNT_LESS,  /* one fewer: a record left over */
    T_MSG_COUNT_HUGE,
    T_STATE_SIZE_HUGE,
    T_MSG_REF,         /* an address in a record */
    T_MSG_LEN,         /* a payload past the section */
    T_MSG_PAD,         /* a padding byte after a payload */
    T_FULL_CRC,        /* full: state CRC unlike the section's */
    T_FULL_BASE_SEQ,   /* full: a base sequence number */
    T_BITMAP_EXTRA,    /* delta: a bit past the last block */
    T_BITMAP_PAD,      /* delta: a bit in the bitmap's padding */
    T_BITMAP_CLEAR,    /* delta: a carried block's bit cleared */
    T_BASE_SMALLER,    /* delta: blocks past the base not carried */
} tamper;

static const char *const tamper_names[] = {
    "reserved", "header size", "block size", "block too small", "total", "state size", "state section",
    "msg count more", "msg count less", "msg count huge", "state size huge", "msg ref", "msg len", "msg pad",
    "full crc", "full base seq", "bitmap extra", "bitmap pad", "bitmap clear", "base smaller",
};

static void apply_tamper(unsigned char *b, tamper t)
{
    size_t msgs = HDR + pad8(get_le(b + 88, 8));
    uint64_t blocks = (get_le(b + 48, 8) + 63) / 64; /* the cases use 64-byte blocks */
    switch (t) {
    case T_RESERVED: b[77] = 1; break;
    case T_HEADER_SIZE:
        put_le(b + 10, 120, 2);
        put_le(b + 116, rk_crc32c(0, b, 116), 4);
        break;
    case T_BLOCK_SIZE: put_le(b + 72, 96, 4); break;
    case T_BLOCK_TOO_SMALL: put_le(b + 72, 32, 4); break;
    case T_TOTAL: put_le(b + 112, get_le(b + 112, 8) - 8, 8); break;
    case T_STATE_SIZE: put_le(b + 48, get_le(b + 48, 8) + 1, 8); break;
    case T_STATE_SEC: put_le(b + 88, get_le(b + 88, 8) - 1, 8); break;
    case T_MSG_COUNT_MORE: put_le(b + 80, get_le(b + 80, 8) + 1, 8); break;
    case T_MSG_COUNT_LESS: put_le(b + 80, get_le(b + 80, 8) - 1, 8); break;
    case T_MSG_COUNT_HUGE: put_le(b + 80, UINT64_MAX, 8); break;
    case T_STATE_SIZE_HUGE: put_le(b + 48, UINT64_MAX, 8); break;
    case T_MSG_REF: b[msgs + 56] = 1; break;
    case T_MSG_LEN: put_le(b + msgs + 48, 1u << 20, 4); break;
    case T_MSG_PAD: b[msgs + 64 + 64 + 1] = 1; break; /* message 0 has no payload, message 1 one byte */
    case T_FULL_CRC: put_le(b + 64, get_le(b + 64, 4) ^ 1, 4); break;
    case T_FULL_BASE_SEQ: put_le(b + 40, 1, 8); break;
    case T_BITMAP_EXTRA: b[HDR + blocks / 8] |= (unsigned char)(1u << (blocks % 8)); break;
    case T_BITMAP_PAD: b[HDR + 7] = 1; break;
    case T_BITMAP_CLEAR: b[HDR] &= (unsigned char)(b[HDR] - 1); break; /* the lowest set bit */
    case T_BASE_SMALLER: put_le(b + 56, 100, 8); break;
    }
}

static void expect_tamper_refused(const damage_case *dc, tamper t)
{
    unsigned char *copy = xmalloc(dc->len);
    target tg = dc->tg;
    rk_status st;
    memcpy(copy, dc->buf, dc->len);
    apply_tamper(copy, t);
    reseal(copy);
    st = rk_checkpoint_decode(copy, dc->len, NULL);
    if (st != RK_EBADMSG)
        fail_msg("tamper '%s': decode gave %s", tamper_names[t], rk_status_name(st));
    expect_rejected(copy, dc->len, &tg, RK_EBADMSG);
    free(copy);
}

static void test_structure_behind_valid_checksums(void **state)
{
    msgset *ms = msgset_create();
    (void)state;
    assert_int_equal(ARRAY_LEN(tamper_names), T_BASE_SMALLER + 1);
    ms->n = 3;
    for (int delta = 0; delta < 2; delta++) {
        damage_case dc;
        int first = delta ? T_BITMAP_EXTRA : T_FULL_CRC, last = delta ? T_BASE_SMALLER : T_FULL_BASE_SEQ;
        damage_case_init(&dc, 700, 64, delta, ms);
        for (int t = T_RESERVED; t <= T_MSG_PAD; t++)
            expect_tamper_refused(&dc, (tamper)t);
        for (int t = first; t <= last; t++)
            expect_tamper_refused(&dc, (tamper)t);
        if (delta) {
            /* An intact delta whose result does not come out: the target is
             * not the state it was made from. */
            unsigned char *copy = xmalloc(dc.len);
            memcpy(copy, dc.buf, dc.len);
            put_le(copy + 64, get_le(copy + 64, 4) ^ 1, 4);
            reseal(copy);
            assert_int_equal(rk_checkpoint_decode(copy, dc.len, NULL), RK_OK);
            expect_rejected(copy, dc.len, &dc.tg, RK_ESTALE);
            free(copy);
        }
        damage_case_destroy(&dc);
    }
    msgset_destroy(ms);
}

/* ---- messages -------------------------------------------------------------------- */

static void test_messages_round_trip(void **state)
{
    msgset *ms = msgset_create();
    unsigned char st[300], *buf;
    rk_checkpoint_src src = make_src(st, sizeof st, 4);
    rk_checkpoint_base base = {.state = st, .size = sizeof st, .seq = 3};
    rk_checkpoint_info info;
    rk_checkpoint_msg_iter it;
    const void *payload;
    rk_msg m;
    size_t len;
    (void)state;

    fill_random(st, sizeof st, 8);
    base.crc = rk_crc32c(0, st, sizeof st);
    src.msgs = ms->list;
    src.msg_count = ms->n;
    for (int delta = 0; delta < 2; delta++) {
        buf = encode(&src, delta ? &base : NULL, &len, &info);
        assert_int_equal(info.msg_count, ms->n);
        assert_int_equal(info.msg_max_len, BIG_PAYLOAD);
        expect_messages(buf, len, ms);
        free(buf);
    }

    /* No messages: the walk ends at once. */
    src.msg_count = 0;
    buf = encode(&src, NULL, &len, &info);
    assert_int_equal(info.msg_max_len, 0);
    assert_int_equal(rk_checkpoint_msgs_begin(buf, len, &it), RK_OK);
    assert_int_equal(rk_checkpoint_msgs_next(&it, &m, &payload), RK_ENOTFOUND);
    free(buf);
    msgset_destroy(ms);
}

/* ---- files ------------------------------------------------------------------------ */

static size_t dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void test_files(void **state)
{
    const char *tmp = getenv("TMPDIR");
    char dir[512], path[600], missing[640];
    size_t size = 200 * KiB, len1, len2, got = 0;
    unsigned char *st = xmalloc(size), *c1, *c2, *in;
    rk_checkpoint_src src = make_src(st, size, 1);
    struct stat sb;
    target tg;
    int err = -1;
    (void)state;

    snprintf(dir, sizeof dir, "%s/rk_ckpt_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/actor-42.ckpt", dir);
    fill_random(st, size, 11);
    c1 = encode(&src, NULL, &len1, NULL);
    st[0] ^= 1;
    src.seq = 2;
    c2 = encode(&src, NULL, &len2, NULL);
    in = xmalloc(len1 + len2);

    assert_int_equal(rk_checkpoint_write_file(path, c1, len1, &err), RK_OK);
    assert_int_equal(err, 0);
    assert_int_equal(dir_entries(dir), 1); /* no temporary file left behind */
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(rk_checkpoint_read_file(path, NULL, 0, &got, &err), RK_E2BIG);
    assert_int_equal(got, len1);
    assert_int_equal(rk_checkpoint_read_file(path, in, len1 - 1, &got, &err), RK_E2BIG);
    assert_int_equal(rk_checkpoint_read_file(path, in, len1 + len2, &got, &err), RK_OK);
    assert_int_equal(got, len1);
    assert_memory_equal(in, c1, len1);

    /* Replacing it. */
    assert_int_equal(rk_checkpoint_write_file(path, c2, len2, NULL), RK_OK);
    assert_int_equal(dir_entries(dir), 1);
    assert_int_equal(rk_checkpoint_read_file(path, in, len1 + len2, &got, NULL), RK_OK);
    assert_int_equal(got, len2);
    assert_memory_equal(in, c2, len2);
    target_init(&tg, size, 0);
    assert_int_equal(rk_checkpoint_apply(in, got, &tg.t, NULL), RK_OK);
    assert_memory_equal(tg.t.state, st, size);

    /* A file cut short - a crash without the atomic write - is refused. */
    assert_int_equal(truncate(path, (off_t)(len2 / 2)), 0);
    assert_int_equal(rk_checkpoint_read_file(path, in, len1 + len2, &got, NULL), RK_OK);
    assert_int_equal(got, len2 / 2);
    assert_int_equal(rk_checkpoint_decode(in, got, NULL), RK_EBADMSG);
    target_save(&tg);
    expect_rejected(in, got, &tg, RK_EBADMSG);

    /* Errors. */
    snprintf(missing, sizeof missing, "%s/nope.ckpt", dir);
    assert_int_equal(rk_checkpoint_read_file(missing, in, len1, &got, &err), RK_ENOTFOUND);
    assert_int_equal(err, ENOENT);
    snprintf(missing, sizeof missing, "%s/no/such/dir.ckpt", dir);
    assert_int_equal(rk_checkpoint_write_file(missing, c1, len1, &err), RK_ENOTFOUND);
    assert_int_equal(err, ENOENT);
    assert_int_equal(rk_checkpoint_read_file(dir, in, len1, &got, &err), RK_EINVAL); /* a directory */
    assert_int_equal(rk_checkpoint_write_file(dir, c1, len1, &err), RK_EINVAL);      /* onto a directory */
    assert_int_equal(err, EISDIR);
    assert_int_equal(dir_entries(dir), 1);
    assert_int_equal(rk_checkpoint_write_file(NULL, c1, len1, &err), RK_EINVAL);
    assert_int_equal(rk_checkpoint_write_file("", c1, len1, &err), RK_EINVAL);
    assert_int_equal(rk_checkpoint_write_file(path, NULL, 1, &err), RK_EINVAL);
    assert_int_equal(rk_checkpoint_read_file(NULL, in, len1, &got, &err), RK_EINVAL);
    assert_int_equal(rk_checkpoint_read_file(path, in, len1, NULL, &err), RK_EINVAL);
    assert_int_equal(rk_checkpoint_read_file(path, NULL, 1, &got, &err), RK_EINVAL);

    /* An empty file, written and read. */
    assert_int_equal(rk_checkpoint_write_file(path, NULL, 0, NULL), RK_OK);
    assert_int_equal(rk_checkpoint_read_file(path, NULL, 0, &got, NULL), RK_OK);
    assert_int_equal(got, 0);

    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
    target_destroy(&tg);
    free(in);
    free(c1);
    free(c2);
    free(st);
}

/* ---- arguments ------------------------------------------------------------------ */

static void test_invalid_arguments(void **state)
{
    unsigned char st[100] = {0}, buf[1024], other[100] = {0};
    rk_checkpoint_src src = make_src(st, sizeof st, 1);
    rk_checkpoint_base base = {.state = other, .size = sizeof other, .seq = 0};
    rk_checkpoint_target t = {.state = other, .cap = sizeof other};
    rk_checkpoint_msg_iter it;
    rk_msg byref, *bad_list[1] = {&byref};
    const rk_msg *null_list[1] = {NULL};
    const void *payload;
    size_t len = 0;
    rk_msg m;
    (void)state;

    memset(st, 1, sizeof st);
    memset(other, 2, sizeof other);
    assert_int_equal(rk_checkpoint_encode(&src, NULL, buf, sizeof buf, &len, NULL), RK_OK);

    assert_int_equal(rk_checkpoint_size(NULL, NULL, &len), RK_EINVAL);
    assert_int_equal(rk_checkpoint_size(&src, NULL, NULL), RK_EINVAL);
    assert_int_equal(rk_checkpoint_encode(NULL, NULL, buf, sizeof buf, &len, NULL), RK_EINVAL);
    assert_int_equal(rk_checkpoint_encode(&src, NULL, buf, sizeof buf, NULL, NULL), RK_EINVAL);
    assert_int_equal(rk_checkpoint_encode(&src, NULL, NULL, 10, &len, NULL), RK_EINVAL);
    /* The output over the input. */
    assert_int_equal(rk_checkpoint_encode(&src, NULL, st, sizeof st, &len, NULL), RK_EINVAL);
    assert_int_equal(rk_checkpoint_encode(&src, &base, other, sizeof other, &len, NULL), RK_EINVAL);

    src.state = NULL;
    assert_int_equal(rk_checkpoint_size(&src, NULL, &len), RK_EINVAL);
    assert_int_equal(rk_checkpoint_encode(&src, NULL, buf, sizeof buf, &len, NULL), RK_EINVAL);
    src.state = st;
    base.state = NULL;
    assert_int_equal(rk_checkpoint_encode(&src, &base, buf, sizeof buf, &len, NULL), RK_EINVAL);
    base.state = other;

    static const uint32_t bad_blocks[] = {1, 32, 63, 100, 4095, 2u << 20, UINT32_MAX};
    for (size_t i = 0; i < ARRAY_LEN(bad_blocks); i++) {
        src.block_size = bad_blocks[i];
        assert_int_equal(rk_checkpoint_size(&src, &base, &len), RK_EINVAL);
        assert_int_equal(rk_checkpoint_encode(&src, &base, buf, sizeof buf, &len, NULL), RK_EINVAL);
    }
    src.block_size = 0;

    src.msg_count = 1; /* msgs NULL */
    assert_int_equal(rk_checkpoint_encode(&src, NULL, buf, sizeof buf, &len, NULL), RK_EINVAL);
    src.msgs = null_list;
    assert_int_equal(rk_checkpoint_encode(&src, NULL, buf, sizeof buf, &len, NULL), RK_EINVAL);
    memset(&byref, 0, sizeof byref);
    byref.flags = RK_MSG_F_BYREF;
    byref.len = 10; /* and no buffer */
    src.msgs = (const rk_msg *const *)bad_list;
    assert_int_equal(rk_checkpoint_size(&src, NULL, &len), RK_EINVAL);
    assert_int_equal(rk_checkpoint_encode(&src, NULL, buf, sizeof buf, &len, NULL), RK_EINVAL);
    byref.len = 0; /* nothing to read: fine */
    assert_int_equal(rk_checkpoint_encode(&src, NULL, buf, sizeof buf, &len, NULL), RK_OK);

    assert_int_equal(rk_checkpoint_decode(NULL, len, NULL), RK_EINVAL);
    assert_int_equal(rk_checkpoint_decode(buf, len, NULL), RK_OK);
    assert_int_equal(rk_checkpoint_apply(NULL, len, &t, NULL), RK_EINVAL);
    assert_int_equal(rk_checkpoint_apply(buf, len, NULL, NULL), RK_EINVAL);
    t.state = NULL;
    assert_int_equal(rk_checkpoint_apply(buf, len, &t, NULL), RK_EINVAL);
    t.state = buf + 200; /* inside the checkpoint */
    assert_int_equal(rk_checkpoint_apply(buf, len, &t, NULL), RK_EINVAL);
    t.state = other;
    t.len = sizeof other + 1; /* a full checkpoint ignores what the target held */
    assert_int_equal(rk_checkpoint_apply(buf, len, &t, NULL), RK_OK);
    assert_memory_equal(other, st, sizeof st);
    assert_int_equal(t.len, sizeof st);

    assert_int_equal(rk_checkpoint_msgs_begin(NULL, len, &it), RK_EINVAL);
    assert_int_equal(rk_checkpoint_msgs_begin(buf, len, NULL), RK_EINVAL);
    assert_int_equal(rk_checkpoint_msgs_begin(buf, len, &it), RK_OK);
    assert_int_equal(rk_checkpoint_msgs_next(NULL, &m, &payload), RK_EINVAL);
    assert_int_equal(rk_checkpoint_msgs_next(&it, NULL, &payload), RK_EINVAL);
    assert_int_equal(rk_checkpoint_msgs_next(&it, &m, NULL), RK_EINVAL);
    assert_int_equal(rk_checkpoint_msgs_next(&it, &m, &payload), RK_OK);
    assert_int_equal(m.flags, RK_MSG_F_BYREF);
    assert_int_equal(m.len, 0);
    assert_int_equal(rk_checkpoint_msgs_next(&it, &m, &payload), RK_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_vectors),
        cmocka_unit_test(test_crc32c_against_definition),
        cmocka_unit_test(test_crc32c_tables_against_definition),
        cmocka_unit_test(test_byte_layout),
        cmocka_unit_test(test_full_round_trip),
        cmocka_unit_test(test_target_too_small),
        cmocka_unit_test(test_delta_chain),
        cmocka_unit_test(test_delta_of_unchanged_state_is_tiny),
        cmocka_unit_test(test_delta_from_empty_base),
        cmocka_unit_test(test_delta_wrong_base),
        cmocka_unit_test(test_every_byte_corruption_small),
        cmocka_unit_test(test_sampled_corruption_large),
        cmocka_unit_test(test_every_truncation_small),
        cmocka_unit_test(test_versions_and_flags),
        cmocka_unit_test(test_structure_behind_valid_checksums),
        cmocka_unit_test(test_messages_round_trip),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_invalid_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
