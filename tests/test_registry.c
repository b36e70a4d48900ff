/* registry.h: the name and pattern grammar, matching, exact and pattern
 * lookups, re-registration, unregistration, subscriptions, allocation
 * failures, patterns that would be exponential for a naive matcher, and
 * readers and writers on one registry from several threads. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ringkernel/registry.h"
#include "rk_test.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define THREADS 4

static rk_registry *new_registry(void)
{
    rk_registry *reg = NULL;
    assert_int_equal(rk_registry_create(&reg), RK_OK);
    assert_non_null(reg);
    return reg;
}

static void register_ok(rk_registry *reg, const char *name, rk_actor_id actor, uint32_t gen)
{
    assert_int_equal(rk_registry_register(reg, name, actor, gen), RK_OK);
}

/* `pattern` finds exactly `expected` (given in sorted order), in order. */
static void expect_find(rk_registry *reg, const char *pattern, const char *const *expected, size_t n)
{
    rk_registry_entry out[32];
    size_t total = 999;
    assert_true(n <= ARRAY_LEN(out));
    assert_int_equal(rk_registry_find(reg, pattern, out, ARRAY_LEN(out), &total), RK_OK);
    assert_int_equal(total, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(out[i].name, expected[i]);
}

/* A name of `segments` copies of `seg` joined by '/', then "/<last>" if
 * last is not NULL. */
static void build_name(char *buf, size_t cap, const char *seg, int segments, const char *last)
{
    size_t at = 0;
    for (int i = 0; i < segments; i++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%s", i ? "/" : "", seg);
    if (last)
        snprintf(buf + at, cap - at, "/%s", last);
    assert_true(strlen(buf) <= RK_REGISTRY_NAME_MAX);
}

/* ---- grammar --------------------------------------------------------------- */

static void test_names_and_patterns(void **state)
{
    static const char *const good_names[] = {
        "a", "standards/isa/x86", "A-Z_0.9", "a/b/c/d/e", "..", "x/.hidden/-",
    };
    static const char *const bad_names[] = {
        "", "/", "/a", "a/", "a//b", "a b", "a*", "*", "**", "a/*/c", "caf\xc3\xa9", "a\\b", "a:b", "a\n",
    };
    static const char *const good_patterns[] = {
        "a", "*", "**", "a/*", "a/**", "**/a", "a/*/c", "a/b*", "*x*y*", "**/**", "a/**/b/**", "*.*",
    };
    static const char *const bad_patterns[] = {
        "", "/", "a/", "/**", "**/", "a//b", "a**", "**a", "***", "a/b**c/d", "x/*?", "a b/*",
    };
    char longest[RK_REGISTRY_NAME_MAX + 2];
    (void)state;

    for (size_t i = 0; i < ARRAY_LEN(good_names); i++) {
        assert_int_equal(rk_topic_check_name(good_names[i]), RK_OK);
        assert_int_equal(rk_topic_check_pattern(good_names[i]), RK_OK);
    }
    for (size_t i = 0; i < ARRAY_LEN(bad_names); i++)
        assert_int_equal(rk_topic_check_name(bad_names[i]), RK_EINVAL);
    for (size_t i = 0; i < ARRAY_LEN(good_patterns); i++)
        assert_int_equal(rk_topic_check_pattern(good_patterns[i]), RK_OK);
    for (size_t i = 0; i < ARRAY_LEN(bad_patterns); i++)
        assert_int_equal(rk_topic_check_pattern(bad_patterns[i]), RK_EINVAL);
    assert_int_equal(rk_topic_check_name(NULL), RK_EINVAL);
    assert_int_equal(rk_topic_check_pattern(NULL), RK_EINVAL);

    /* 255 bytes is the limit, one more is refused. */
    memset(longest, 'n', sizeof longest);
    longest[RK_REGISTRY_NAME_MAX] = '\0';
    assert_int_equal(rk_topic_check_name(longest), RK_OK);
    assert_int_equal(rk_topic_check_pattern(longest), RK_OK);
    longest[RK_REGISTRY_NAME_MAX] = 'n';
    longest[RK_REGISTRY_NAME_MAX + 1] = '\0';
    assert_int_equal(rk_topic_check_name(longest), RK_EINVAL);
    assert_int_equal(rk_topic_check_pattern(longest), RK_EINVAL);
}

static void test_match_table(void **state)
{
    static const struct {
        const char *pattern, *name;
        int match;
    } cases[] = {
        {"a/b", "a/b", 1},
        {"a/b", "a/bc", 0},
        {"a/b", "a", 0},
        {"*", "abc", 1},
        {"*", "a/b", 0},
        {"a/*", "a/b", 1},
        {"a/*", "a", 0},
        {"a/*", "a/b/c", 0},
        {"a/*/c", "a/b/c", 1},
        {"a/*/c", "a/c", 0},
        {"a/*/c", "a/b/b/c", 0},
        {"a/b*", "a/b", 1},
        {"a/b*", "a/bcd", 1},
        {"a/b*", "a/b/c", 0},
        {"a/*b", "a/b", 1},
        {"a/*b", "a/cab", 1},
        {"a/*b", "a/cba", 0},
        {"*x*y*", "axbyc", 1},
        {"*x*y*", "aybxc", 0},
        {"x*x", "x", 0},
        {"x*x", "xx", 1},
        {"**", "a", 1},
        {"**", "a/b/c", 1},
        {"a/**", "a", 1},
        {"a/**", "a/b/c", 1},
        {"a/**", "ab", 0},
        {"a/**", "b/a", 0},
        {"**/temp", "temp", 1},
        {"**/temp", "x/y/temp", 1},
        {"**/temp", "x/temp/y", 0},
        {"**/temp", "x/atemp", 0},
        {"a/**/b", "a/b", 1},
        {"a/**/b", "a/x/y/b", 1},
        {"a/**/b", "a/x/y/c", 0},
        {"a/**/b/**/c", "a/b/c", 1},
        {"a/**/b/**/c", "a/b/b/x/c", 1},
        {"a/**/b/**/c", "a/c/b", 0},
        {"**/*", "a", 1},
        {"*/**", "a/b", 1},
        {"**/*/b", "b", 0},
        {"**/*/b", "a/b", 1},
        {"**/**", "a/b", 1},
        {"**/x*/**", "a/xy/b", 1},
        {"**/x*/**", "a/yx/b", 0},
    };
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        rk_status want = cases[i].match ? RK_OK : RK_ENOTFOUND;
        rk_status got = rk_topic_match(cases[i].pattern, cases[i].name);
        if (got != want)
            fail_msg("%s vs %s: %s", cases[i].pattern, cases[i].name, rk_status_name(got));
    }
    assert_int_equal(rk_topic_match(NULL, "a"), RK_EINVAL);
    assert_int_equal(rk_topic_match("a", NULL), RK_EINVAL);
    assert_int_equal(rk_topic_match("a**", "a"), RK_EINVAL);
    assert_int_equal(rk_topic_match("*", "a/*"), RK_EINVAL); /* a name has no wildcards */
    assert_int_equal(rk_topic_match("a", "a//b"), RK_EINVAL);
}

/* The definitions, written as directly as possible: exponential, but fine
 * for the short strings the differential test below feeds it. */
static int ref_segment(const char *p, const char *p_end, const char *s, const char *s_end)
{
    if (p == p_end)
        return s == s_end;
    if (*p == '*')
        return ref_segment(p + 1, p_end, s, s_end) || (s < s_end && ref_segment(p, p_end, s + 1, s_end));
    return s < s_end && *s == *p && ref_segment(p + 1, p_end, s + 1, s_end);
}

static const char *seg_end(const char *s)
{
    return s + strcspn(s, "/");
}

/* p and s point at the start of a segment, or at the terminating NUL. */
static int ref_path(const char *p, const char *s)
{
    const char *pe = seg_end(p), *se = seg_end(s);
    const char *p_next = *pe ? pe + 1 : pe, *s_next = *se ? se + 1 : se;
    if (*p == '\0')
        return *s == '\0';
    if (pe - p == 2 && p[0] == '*' && p[1] == '*')
        return ref_path(p_next, s) || (*s != '\0' && ref_path(p, s_next));
    return *s != '\0' && ref_segment(p, pe, s, se) && ref_path(p_next, s_next);
}

static uint64_t xorshift(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* A random name (wild = 0) or pattern over a two-letter alphabet, so that
 * matches are frequent. */
static void random_path(char *buf, uint64_t *rng, int wild)
{
    int segments = 1 + (int)(xorshift(rng) % 5), at = 0;
    for (int i = 0; i < segments; i++) {
        int len = 1 + (int)(xorshift(rng) % 3);
        if (i)
            buf[at++] = '/';
        if (wild && xorshift(rng) % 4 == 0) {
            buf[at++] = '*';
            buf[at++] = '*';
            continue;
        }
        for (int j = 0; j < len; j++) {
            uint64_t r = xorshift(rng) % (wild ? 3 : 2);
            char c = r == 2 ? '*' : (char)('a' + r);
            if (c == '*' && j > 0 && buf[at - 1] == '*')
                c = 'a'; /* "**" inside a segment is not a pattern */
            buf[at++] = c;
        }
    }
    buf[at] = '\0';
}

static void test_match_against_reference(void **state)
{
    uint64_t rng = 0x9E3779B97F4A7C15ull, matches = 0;
    char pattern[32], name[32];
    (void)state;
    for (int i = 0; i < 200000; i++) {
        random_path(pattern, &rng, 1);
        random_path(name, &rng, 0);
        assert_int_equal(rk_topic_check_pattern(pattern), RK_OK);
        int want = ref_path(pattern, name);
        if (rk_topic_match(pattern, name) != (want ? RK_OK : RK_ENOTFOUND))
            fail_msg("%s vs %s: want %d", pattern, name, want);
        matches += (uint64_t)want;
    }
    /* The generator is useful only if both answers are common. */
    assert_true(matches > 10000 && matches < 190000);
}

/* ---- names ----------------------------------------------------------------- */

static void test_exact_lookup(void **state)
{
    rk_registry *reg = new_registry();
    rk_actor_id id = 0;
    uint32_t gen = 0;
    (void)state;

    register_ok(reg, "standards/isa/x86", 3, 1);
    register_ok(reg, "standards/isa", 4, 7);
    register_ok(reg, "host/console", RK_ACTOR_HOST, 0);
    assert_int_equal(rk_registry_lookup(reg, "standards/isa/x86", &id, &gen), RK_OK);
    assert_int_equal(id, 3);
    assert_int_equal(gen, 1);
    assert_int_equal(rk_registry_lookup(reg, "standards/isa", &id, NULL), RK_OK);
    assert_int_equal(id, 4);
    assert_int_equal(rk_registry_lookup(reg, "host/console", &id, NULL), RK_OK);
    assert_int_equal(id, RK_ACTOR_HOST);

    /* Prefixes and extensions of a bound name are other names. */
    assert_int_equal(rk_registry_lookup(reg, "standards", &id, NULL), RK_ENOTFOUND);
    assert_int_equal(rk_registry_lookup(reg, "standards/isa/x8", &id, NULL), RK_ENOTFOUND);
    assert_int_equal(rk_registry_lookup(reg, "standards/isa/x86/64", &id, NULL), RK_ENOTFOUND);

    /* Taken, whatever the actor. */
    assert_int_equal(rk_registry_register(reg, "standards/isa", 4, 8), RK_EEXIST);
    assert_int_equal(rk_registry_register(reg, "standards/isa", 9, 0), RK_EEXIST);
    assert_int_equal(rk_registry_lookup(reg, "standards/isa", &id, &gen), RK_OK);
    assert_int_equal(id, 4);
    assert_int_equal(gen, 7);

    /* One actor may hold several names. */
    register_ok(reg, "alias/for/three", 3, 1);
    assert_int_equal(rk_registry_lookup(reg, "alias/for/three", &id, NULL), RK_OK);
    assert_int_equal(id, 3);
    rk_registry_destroy(reg);
}

/* In strcmp order: '/' sorts before letters, so "a/b/d" < "a/bc". */
static const char *const sample_names[] = {
    "a/b",
    "a/b/c",
    "a/b/d",
    "a/bc",
    "a/bx/c",
    "a/x/c",
    "sensors/room1/humidity",
    "sensors/room1/temp",
    "sensors/room2/temp",
    "standards",
    "standards/isa/arm",
    "standards/isa/riscv",
    "standards/isa/x86",
    "standards/iso/c11",
    "temp",
};

/* Registers sample_names in a scrambled order, actor i for the i-th. */
static rk_registry *sample_registry(void)
{
    rk_registry *reg = new_registry();
    size_t n = ARRAY_LEN(sample_names);
    for (size_t k = 0; k < n; k++) {
        size_t i = (k * 7 + 3) % n; /* 7 is coprime with 15: a permutation */
        register_ok(reg, sample_names[i], (rk_actor_id)i, 1);
    }
    return reg;
}

static void test_find_wildcards(void **state)
{
    static const char *const isa[] = {"standards/isa/arm", "standards/isa/riscv", "standards/isa/x86"};
    static const char *const standards[] = {"standards", "standards/isa/arm", "standards/isa/riscv",
                                            "standards/isa/x86", "standards/iso/c11"};
    static const char *const temp[] = {"sensors/room1/temp", "sensors/room2/temp", "temp"};
    static const char *const a_any_c[] = {"a/b/c", "a/bx/c", "a/x/c"};
    static const char *const a_b_star[] = {"a/b", "a/bc"};
    static const char *const a_b_tree[] = {"a/b", "a/b/c", "a/b/d"};
    static const char *const exact[] = {"a/b"};
    static const char *const is_star[] = {"standards/isa/arm", "standards/isa/riscv", "standards/isa/x86",
                                          "standards/iso/c11"};
    static const char *const room1[] = {"sensors/room1/humidity", "sensors/room1/temp"};
    rk_registry *reg = sample_registry();
    rk_registry_entry one;
    size_t total = 0;
    (void)state;

    expect_find(reg, "standards/isa/*", isa, ARRAY_LEN(isa));
    expect_find(reg, "standards/**", standards, ARRAY_LEN(standards));
    expect_find(reg, "**/temp", temp, ARRAY_LEN(temp));
    expect_find(reg, "a/*/c", a_any_c, ARRAY_LEN(a_any_c));
    expect_find(reg, "a/b*", a_b_star, ARRAY_LEN(a_b_star));
    expect_find(reg, "a/b/**", a_b_tree, ARRAY_LEN(a_b_tree));
    expect_find(reg, "a/b", exact, ARRAY_LEN(exact));
    expect_find(reg, "standards/is*/*", is_star, ARRAY_LEN(is_star));
    expect_find(reg, "*/room1/**", room1, ARRAY_LEN(room1));
    expect_find(reg, "**", sample_names, ARRAY_LEN(sample_names));
    expect_find(reg, "nothing/*", NULL, 0);
    expect_find(reg, "standards/isa", NULL, 0);
    expect_find(reg, "temp/**/x", NULL, 0);

    /* Entries carry the binding. */
    assert_int_equal(rk_registry_find(reg, "standards/iso/*", &one, 1, &total), RK_OK);
    assert_int_equal(total, 1);
    assert_string_equal(one.name, "standards/iso/c11");
    assert_int_equal(one.actor, 13);
    assert_int_equal(one.generation, 1);
    rk_registry_destroy(reg);
}

/* "**" returns every name in strcmp order, whatever the insertion order. */
static void test_find_order(void **state)
{
    enum { N = 200 };
    rk_registry *reg = new_registry();
    rk_registry_entry *out = calloc(N, sizeof *out);
    char name[64];
    size_t total = 0;
    (void)state;
    assert_non_null(out);
    for (int k = 0; k < N; k++) {
        int i = (k * 37) % N; /* 37 is coprime with 200 */
        snprintf(name, sizeof name, "n%d/%c/x-%d", i % 7, 'a' + i % 26, i);
        register_ok(reg, name, (rk_actor_id)i, 0);
    }
    assert_int_equal(rk_registry_find(reg, "**", out, N, &total), RK_OK);
    assert_int_equal(total, N);
    for (int i = 1; i < N; i++)
        assert_true(strcmp(out[i - 1].name, out[i].name) < 0);
    assert_int_equal(rk_registry_find(reg, "n3/**", out, N, &total), RK_OK);
    for (size_t i = 0; i < total; i++)
        assert_int_equal(strncmp(out[i].name, "n3/", 3), 0);
    assert_true(total > 0);
    free(out);
    rk_registry_destroy(reg);
}

static void test_find_truncation(void **state)
{
    rk_registry *reg = sample_registry();
    rk_registry_entry out[2];
    size_t total = 0;
    (void)state;

    assert_int_equal(rk_registry_find(reg, "standards/**", out, 2, &total), RK_E2BIG);
    assert_int_equal(total, 5);
    assert_string_equal(out[0].name, "standards");
    assert_string_equal(out[1].name, "standards/isa/arm");

    /* Sizing call. */
    total = 0;
    assert_int_equal(rk_registry_find(reg, "**", NULL, 0, &total), RK_E2BIG);
    assert_int_equal(total, ARRAY_LEN(sample_names));
    assert_int_equal(rk_registry_find(reg, "none/**", NULL, 0, &total), RK_OK);
    assert_int_equal(total, 0);

    /* Exactly full is not truncated. */
    assert_int_equal(rk_registry_find(reg, "a/b*", out, 2, &total), RK_OK);
    assert_int_equal(total, 2);
    rk_registry_destroy(reg);
}

static void test_reregister(void **state)
{
    rk_registry *reg = new_registry();
    rk_actor_id id = 0;
    uint32_t gen = 0;
    (void)state;

    register_ok(reg, "svc/db", 5, 1);
    assert_int_equal(rk_registry_reregister(reg, "svc/db", 5, 2), RK_OK);
    assert_int_equal(rk_registry_lookup(reg, "svc/db", &id, &gen), RK_OK);
    assert_int_equal(id, 5);
    assert_int_equal(gen, 2);

    /* A late or repeated restart notice cannot roll the name back. */
    assert_int_equal(rk_registry_reregister(reg, "svc/db", 5, 2), RK_ESTALE);
    assert_int_equal(rk_registry_reregister(reg, "svc/db", 5, 1), RK_ESTALE);
    /* Another actor cannot take the name this way. */
    assert_int_equal(rk_registry_reregister(reg, "svc/db", 6, 3), RK_EEXIST);
    assert_int_equal(rk_registry_reregister(reg, "svc/cache", 5, 3), RK_ENOTFOUND);
    assert_int_equal(rk_registry_lookup(reg, "svc/db", &id, &gen), RK_OK);
    assert_int_equal(id, 5);
    assert_int_equal(gen, 2);

    /* Serial-number order: less than half the range ahead is later, so
     * generations wrap forward and never backward. */
    assert_int_equal(rk_registry_reregister(reg, "svc/db", 5, 0xFFFFFFFFu), RK_ESTALE);
    assert_int_equal(rk_registry_reregister(reg, "svc/db", 5, 0x70000000u), RK_OK);
    assert_int_equal(rk_registry_reregister(reg, "svc/db", 5, 0xE0000000u), RK_OK);
    assert_int_equal(rk_registry_reregister(reg, "svc/db", 5, 0xFFFFFFFFu), RK_OK);
    assert_int_equal(rk_registry_reregister(reg, "svc/db", 5, 0), RK_OK);
    assert_int_equal(rk_registry_reregister(reg, "svc/db", 5, 0xFFFFFFF0u), RK_ESTALE);

    /* Pattern lookups see the new generation. */
    rk_registry_entry e;
    size_t total = 0;
    assert_int_equal(rk_registry_find(reg, "svc/*", &e, 1, &total), RK_OK);
    assert_int_equal(total, 1);
    assert_int_equal(e.generation, 0);
    rk_registry_destroy(reg);
}

static void test_unregister(void **state)
{
    rk_registry *reg = sample_registry();
    rk_actor_id id = 0;
    size_t total = 0;
    (void)state;

    assert_int_equal(rk_registry_unregister(reg, "standards/isa/riscv"), RK_OK);
    assert_int_equal(rk_registry_lookup(reg, "standards/isa/riscv", &id, NULL), RK_ENOTFOUND);
    assert_int_equal(rk_registry_unregister(reg, "standards/isa/riscv"), RK_ENOTFOUND);
    assert_int_equal(rk_registry_find(reg, "standards/isa/*", NULL, 0, &total), RK_E2BIG);
    assert_int_equal(total, 2);

    /* The name is free again, for anyone. */
    register_ok(reg, "standards/isa/riscv", 40, 1);
    assert_int_equal(rk_registry_lookup(reg, "standards/isa/riscv", &id, NULL), RK_OK);
    assert_int_equal(id, 40);

    /* Remove everything, one by one. */
    for (size_t i = 0; i < ARRAY_LEN(sample_names); i++)
        assert_int_equal(rk_registry_unregister(reg, sample_names[i]), RK_OK);
    assert_int_equal(rk_registry_find(reg, "**", NULL, 0, &total), RK_OK);
    assert_int_equal(total, 0);
    rk_registry_destroy(reg);
}

/* What the runtime does on termination: every name and subscription of the
 * actor goes, nobody else's. */
static void test_unregister_actor(void **state)
{
    rk_registry *reg = new_registry();
    rk_actor_id subs[4], id = 0;
    size_t names = 99, nsubs = 99, total = 0;
    (void)state;

    register_ok(reg, "x/one", 7, 1);
    register_ok(reg, "y/two", 8, 1);
    register_ok(reg, "z/three", 7, 1);
    assert_int_equal(rk_registry_subscribe(reg, "**", 7), RK_OK);
    assert_int_equal(rk_registry_subscribe(reg, "x/*", 7), RK_OK);
    assert_int_equal(rk_registry_subscribe(reg, "x/*", 8), RK_OK);
    assert_int_equal(rk_registry_subscribe(reg, "x/*", 6), RK_OK);

    assert_int_equal(rk_registry_unregister_actor(reg, 7, &names, &nsubs), RK_OK);
    assert_int_equal(names, 2);
    assert_int_equal(nsubs, 2);
    assert_int_equal(rk_registry_lookup(reg, "x/one", &id, NULL), RK_ENOTFOUND);
    assert_int_equal(rk_registry_lookup(reg, "z/three", &id, NULL), RK_ENOTFOUND);
    assert_int_equal(rk_registry_lookup(reg, "y/two", &id, NULL), RK_OK);
    assert_int_equal(rk_registry_subscribers(reg, "x/one", subs, 4, &total), RK_OK);
    assert_int_equal(total, 2);
    assert_int_equal(subs[0], 6);
    assert_int_equal(subs[1], 8);

    /* Nothing left to remove is fine; the counts may be left out. */
    assert_int_equal(rk_registry_unregister_actor(reg, 7, &names, &nsubs), RK_OK);
    assert_int_equal(names, 0);
    assert_int_equal(nsubs, 0);
    assert_int_equal(rk_registry_unregister_actor(reg, 8, NULL, NULL), RK_OK);
    assert_int_equal(rk_registry_find(reg, "**", NULL, 0, &total), RK_OK);
    assert_int_equal(total, 0);
    assert_int_equal(rk_registry_subscribers(reg, "x/one", subs, 4, &total), RK_OK);
    assert_int_equal(total, 1);
    assert_int_equal(subs[0], 6);
    rk_registry_destroy(reg);
}

static void test_invalid_arguments(void **state)
{
    rk_registry *reg = new_registry();
    rk_registry_entry e;
    rk_actor_id id;
    size_t total;
    (void)state;

    assert_int_equal(rk_registry_create(NULL), RK_EINVAL);
    rk_registry_destroy(NULL);

    assert_int_equal(rk_registry_register(NULL, "a", 1, 0), RK_EINVAL);
    assert_int_equal(rk_registry_register(reg, NULL, 1, 0), RK_EINVAL);
    assert_int_equal(rk_registry_register(reg, "a", RK_ACTOR_NONE, 0), RK_EINVAL);
    assert_int_equal(rk_registry_register(reg, "a/*", 1, 0), RK_EINVAL);
    assert_int_equal(rk_registry_register(reg, "a//b", 1, 0), RK_EINVAL);
    assert_int_equal(rk_registry_register(reg, "a/", 1, 0), RK_EINVAL);
    assert_int_equal(rk_registry_register(reg, "a b", 1, 0), RK_EINVAL);

    assert_int_equal(rk_registry_reregister(NULL, "a", 1, 1), RK_EINVAL);
    assert_int_equal(rk_registry_reregister(reg, "a*", 1, 1), RK_EINVAL);
    assert_int_equal(rk_registry_reregister(reg, "a", RK_ACTOR_NONE, 1), RK_EINVAL);
    assert_int_equal(rk_registry_unregister(NULL, "a"), RK_EINVAL);
    assert_int_equal(rk_registry_unregister(reg, "**"), RK_EINVAL);
    assert_int_equal(rk_registry_unregister_actor(NULL, 1, NULL, NULL), RK_EINVAL);

    assert_int_equal(rk_registry_lookup(NULL, "a", &id, NULL), RK_EINVAL);
    assert_int_equal(rk_registry_lookup(reg, "a", NULL, NULL), RK_EINVAL);
    assert_int_equal(rk_registry_lookup(reg, "a/*", &id, NULL), RK_EINVAL);
    assert_int_equal(rk_registry_lookup(reg, "", &id, NULL), RK_EINVAL);

    assert_int_equal(rk_registry_find(NULL, "**", &e, 1, &total), RK_EINVAL);
    assert_int_equal(rk_registry_find(reg, NULL, &e, 1, &total), RK_EINVAL);
    assert_int_equal(rk_registry_find(reg, "**", &e, 1, NULL), RK_EINVAL);
    assert_int_equal(rk_registry_find(reg, "**", NULL, 1, &total), RK_EINVAL);
    assert_int_equal(rk_registry_find(reg, "a/**b", &e, 1, &total), RK_EINVAL);
    assert_int_equal(rk_registry_find(reg, "a/***", &e, 1, &total), RK_EINVAL);

    assert_int_equal(rk_registry_subscribe(NULL, "a", 1), RK_EINVAL);
    assert_int_equal(rk_registry_subscribe(reg, NULL, 1), RK_EINVAL);
    assert_int_equal(rk_registry_subscribe(reg, "a", RK_ACTOR_NONE), RK_EINVAL);
    assert_int_equal(rk_registry_subscribe(reg, "a/b**", 1), RK_EINVAL);
    assert_int_equal(rk_registry_unsubscribe(NULL, "a", 1), RK_EINVAL);
    assert_int_equal(rk_registry_unsubscribe(reg, "/a", 1), RK_EINVAL);
    assert_int_equal(rk_registry_subscribers(NULL, "a", &id, 1, &total), RK_EINVAL);
    assert_int_equal(rk_registry_subscribers(reg, "a/*", &id, 1, &total), RK_EINVAL);
    assert_int_equal(rk_registry_subscribers(reg, "a", NULL, 1, &total), RK_EINVAL);
    assert_int_equal(rk_registry_subscribers(reg, "a", &id, 1, NULL), RK_EINVAL);

    /* None of that changed anything. */
    assert_int_equal(rk_registry_find(reg, "**", NULL, 0, &total), RK_OK);
    assert_int_equal(total, 0);
    rk_registry_destroy(reg);
}

/* ---- subscriptions --------------------------------------------------------- */

static void test_subscriptions(void **state)
{
    rk_registry *reg = new_registry();
    rk_actor_id out[8];
    size_t total = 0;
    (void)state;

    /* Actor 5 holds three patterns that all match sensors/room1/temp. */
    assert_int_equal(rk_registry_subscribe(reg, "sensors/**", 5), RK_OK);
    assert_int_equal(rk_registry_subscribe(reg, "sensors/*/temp", 5), RK_OK);
    assert_int_equal(rk_registry_subscribe(reg, "**/temp", 5), RK_OK);
    assert_int_equal(rk_registry_subscribe(reg, "sensors/room1/*", 2), RK_OK);
    assert_int_equal(rk_registry_subscribe(reg, "sensors/room1/temp", 7), RK_OK);
    assert_int_equal(rk_registry_subscribe(reg, "other/**", 9), RK_OK);
    assert_int_equal(rk_registry_subscribe(reg, "**", RK_ACTOR_HOST), RK_OK);
    assert_int_equal(rk_registry_subscribe(reg, "**/temp", 5), RK_EEXIST);

    assert_int_equal(rk_registry_subscribers(reg, "sensors/room1/temp", out, 8, &total), RK_OK);
    assert_int_equal(total, 4);
    assert_int_equal(out[0], 2);
    assert_int_equal(out[1], 5);
    assert_int_equal(out[2], 7);
    assert_int_equal(out[3], RK_ACTOR_HOST);

    assert_int_equal(rk_registry_subscribers(reg, "sensors/room2/humidity", out, 8, &total), RK_OK);
    assert_int_equal(total, 2);
    assert_int_equal(out[0], 5);
    assert_int_equal(out[1], RK_ACTOR_HOST);

    /* Truncated: the first ids, the full count. */
    assert_int_equal(rk_registry_subscribers(reg, "sensors/room1/temp", out, 2, &total), RK_E2BIG);
    assert_int_equal(total, 4);
    assert_int_equal(out[0], 2);
    assert_int_equal(out[1], 5);
    assert_int_equal(rk_registry_subscribers(reg, "sensors/room1/temp", NULL, 0, &total), RK_E2BIG);
    assert_int_equal(total, 4);

    /* Dropping one of 5's patterns leaves it subscribed through the others;
     * unsubscribe compares the text, so an equivalent pattern is not it. */
    assert_int_equal(rk_registry_unsubscribe(reg, "sensors/**", 5), RK_OK);
    assert_int_equal(rk_registry_unsubscribe(reg, "sensors/**", 5), RK_ENOTFOUND);
    assert_int_equal(rk_registry_unsubscribe(reg, "**/temp", 7), RK_ENOTFOUND);
    assert_int_equal(rk_registry_subscribers(reg, "sensors/room1/temp", out, 8, &total), RK_OK);
    assert_int_equal(total, 4);
    assert_int_equal(rk_registry_subscribers(reg, "sensors/room2/humidity", out, 8, &total), RK_OK);
    assert_int_equal(total, 1);
    assert_int_equal(out[0], RK_ACTOR_HOST);

    assert_int_equal(rk_registry_unsubscribe(reg, "sensors/*/temp", 5), RK_OK);
    assert_int_equal(rk_registry_unsubscribe(reg, "**/temp", 5), RK_OK);
    assert_int_equal(rk_registry_unsubscribe(reg, "**", RK_ACTOR_HOST), RK_OK);
    assert_int_equal(rk_registry_subscribers(reg, "sensors/room1/temp", out, 8, &total), RK_OK);
    assert_int_equal(total, 2);
    assert_int_equal(out[0], 2);
    assert_int_equal(out[1], 7);
    assert_int_equal(rk_registry_subscribers(reg, "nobody/listens", out, 8, &total), RK_OK);
    assert_int_equal(total, 0);

    /* Subscriptions and names are separate: a topic need not be a name. */
    assert_int_equal(rk_registry_find(reg, "**", NULL, 0, &total), RK_OK);
    assert_int_equal(total, 0);
    rk_registry_destroy(reg);
}

/* ---- cost ------------------------------------------------------------------ */

/* Patterns that make a matcher trying every split exponential (or of high
 * polynomial degree) must finish at once. The bound is loose enough for a
 * sanitizer build on a loaded machine; a backtracking matcher would need
 * hours for these. */
static void test_pathological_patterns(void **state)
{
    char name[RK_REGISTRY_NAME_MAX + 1], name_x[RK_REGISTRY_NAME_MAX + 1];
    char pattern[RK_REGISTRY_NAME_MAX + 1], flat[RK_REGISTRY_NAME_MAX + 1];
    rk_registry *reg = new_registry();
    rk_registry_entry e;
    size_t total = 0;
    uint64_t t0 = rk_test_now_ns();
    (void)state;

    build_name(name, sizeof name, "a", 40, NULL);
    build_name(name_x, sizeof name_x, "a", 40, "x");
    for (int rep = 0; rep < 100; rep++) {
        assert_int_equal(rk_topic_match("**/**/**/**/**/x", name), RK_ENOTFOUND);
        assert_int_equal(rk_topic_match("**/**/**/**/**/x", name_x), RK_OK);
        assert_int_equal(rk_topic_match("**/a/**/a/**/a/**/a/**/a/**/b", name), RK_ENOTFOUND);
        assert_int_equal(rk_topic_match("**/a/**/a/**/a/**/a/**/a/**/x", name_x), RK_OK);
    }

    /* 127 one-letter segments, then a pattern alternating "**" and "a". */
    build_name(name, sizeof name, "a", 127, NULL);
    build_name(pattern, sizeof pattern, "**/a", 20, "b");
    for (int rep = 0; rep < 100; rep++)
        assert_int_equal(rk_topic_match(pattern, name), RK_ENOTFOUND);

    /* Inside one segment: "*a*a*...*a*b" against 255 'a's. */
    memset(flat, 'a', RK_REGISTRY_NAME_MAX);
    flat[RK_REGISTRY_NAME_MAX] = '\0';
    for (int i = 0; i < 40; i++)
        memcpy(pattern + 2 * i, "*a", 2);
    strcpy(pattern + 80, "*b");
    for (int rep = 0; rep < 100; rep++)
        assert_int_equal(rk_topic_match(pattern, flat), RK_ENOTFOUND);
    pattern[81] = 'a';
    assert_int_equal(rk_topic_match(pattern, flat), RK_OK);

    /* And through the registry, for find and subscribers. */
    build_name(name, sizeof name, "a", 40, NULL);
    register_ok(reg, name, 1, 0);
    register_ok(reg, name_x, 2, 0);
    assert_int_equal(rk_registry_subscribe(reg, "**/**/**/**/**/x", 3), RK_OK);
    for (int rep = 0; rep < 100; rep++) {
        assert_int_equal(rk_registry_find(reg, "**/**/**/**/**/x", &e, 1, &total), RK_OK);
        assert_int_equal(total, 1);
        assert_int_equal(rk_registry_subscribers(reg, name, NULL, 0, &total), RK_OK);
        assert_int_equal(total, 0);
    }
    assert_string_equal(e.name, name_x);
    assert_true(rk_test_now_ns() - t0 < 5000000000ull);
    rk_registry_destroy(reg);
}

/* ---- allocation failures --------------------------------------------------- */

/* Each allocation of a change can fail; the change then does not happen and
 * nothing leaks (ASan checks the second part). */
static void test_allocation_failures(void **state)
{
    rk_registry *reg = new_registry();
    rk_actor_id id = 0;
    size_t total = 0;
    char name[32];
    (void)state;

    /* First allocation: the copy of the name. */
    rk__registry_fail_alloc(reg, 1);
    assert_int_equal(rk_registry_register(reg, "first", 1, 0), RK_ENOMEM);
    assert_int_equal(rk_registry_lookup(reg, "first", &id, NULL), RK_ENOTFOUND);
    /* Second: the array (empty until now). */
    rk__registry_fail_alloc(reg, 2);
    assert_int_equal(rk_registry_register(reg, "first", 1, 0), RK_ENOMEM);
    assert_int_equal(rk_registry_lookup(reg, "first", &id, NULL), RK_ENOTFOUND);
    rk__registry_fail_alloc(reg, 0);
    register_ok(reg, "first", 1, 0);

    /* Fill the array to its first capacity, then fail its growth. */
    for (int i = 0; i < 15; i++) {
        snprintf(name, sizeof name, "fill/%02d", i);
        register_ok(reg, name, 2, 0);
    }
    rk__registry_fail_alloc(reg, 2);
    assert_int_equal(rk_registry_register(reg, "grow", 3, 0), RK_ENOMEM);
    assert_int_equal(rk_registry_find(reg, "**", NULL, 0, &total), RK_E2BIG);
    assert_int_equal(total, 16);
    rk__registry_fail_alloc(reg, 0);
    register_ok(reg, "grow", 3, 0);
    assert_int_equal(rk_registry_find(reg, "**", NULL, 0, &total), RK_E2BIG);
    assert_int_equal(total, 17);

    /* The same for subscriptions. */
    rk__registry_fail_alloc(reg, 1);
    assert_int_equal(rk_registry_subscribe(reg, "fill/*", 9), RK_ENOMEM);
    rk__registry_fail_alloc(reg, 2);
    assert_int_equal(rk_registry_subscribe(reg, "fill/*", 9), RK_ENOMEM);
    assert_int_equal(rk_registry_subscribers(reg, "fill/00", NULL, 0, &total), RK_OK);
    assert_int_equal(total, 0);
    rk__registry_fail_alloc(reg, 0);
    assert_int_equal(rk_registry_subscribe(reg, "fill/*", 9), RK_OK);
    assert_int_equal(rk_registry_subscribers(reg, "fill/00", NULL, 0, &total), RK_E2BIG);
    assert_int_equal(total, 1);

    /* A failed duplicate leaves the original. */
    rk__registry_fail_alloc(reg, 2);
    assert_int_equal(rk_registry_register(reg, "grow", 4, 0), RK_EEXIST);
    rk__registry_fail_alloc(reg, 0);
    assert_int_equal(rk_registry_lookup(reg, "grow", &id, NULL), RK_OK);
    assert_int_equal(id, 3);
    rk_registry_destroy(reg);
}

/* ---- threads --------------------------------------------------------------- */

/* Writers bind, re-bind, subscribe and drop names under their own prefix
 * ("w<k>/..." for actor 100+k); readers check, on every read, what must
 * hold in any consistent snapshot: the stable names are all there with their
 * bindings, every writer name is bound to its own writer, lists are sorted
 * and free of duplicates, and the stable "**" subscriber is always seen. */
enum { STABLE = 32, WRITER_NAMES = 16, WRITER_BASE = 100 };

typedef struct worker {
    rk_registry *reg;
    int index;
    uint64_t ops;
} worker;

static void check_entry(const rk_registry_entry *e)
{
    int k = -1, n = -1;
    if (strncmp(e->name, "stable/", 7) == 0) {
        assert_int_equal(sscanf(e->name, "stable/%d", &n), 1);
        assert_int_equal(e->actor, (rk_actor_id)n);
        assert_int_equal(e->generation, 1);
        return;
    }
    assert_int_equal(sscanf(e->name, "w%d/n%d", &k, &n), 2);
    assert_int_equal(e->actor, (rk_actor_id)(WRITER_BASE + k));
}

static void *reader(void *arg)
{
    worker *w = arg;
    rk_registry_entry out[STABLE + 2 * WRITER_NAMES];
    rk_actor_id subs[8], id;
    uint32_t gen;
    char name[32];
    size_t total;

    for (uint64_t op = 0; op < w->ops; op++) {
        snprintf(name, sizeof name, "stable/%02d", (int)(op % STABLE));
        assert_int_equal(rk_registry_lookup(w->reg, name, &id, &gen), RK_OK);
        assert_int_equal(id, (rk_actor_id)(op % STABLE));

        assert_int_equal(rk_registry_find(w->reg, "stable/*", out, STABLE, &total), RK_OK);
        assert_int_equal(total, STABLE);

        assert_int_equal(rk_registry_find(w->reg, "**", out, ARRAY_LEN(out), &total), RK_OK);
        assert_true(total >= STABLE);
        for (size_t i = 0; i < total; i++) {
            check_entry(&out[i]);
            if (i > 0)
                assert_true(strcmp(out[i - 1].name, out[i].name) < 0);
        }

        snprintf(name, sizeof name, "w%d/n%02d", (int)(op % 2), (int)(op % WRITER_NAMES));
        if (rk_registry_lookup(w->reg, name, &id, NULL) == RK_OK)
            assert_int_equal(id, (rk_actor_id)(WRITER_BASE + op % 2));

        assert_int_equal(rk_registry_subscribers(w->reg, name, subs, ARRAY_LEN(subs), &total), RK_OK);
        assert_true(total >= 1 && total <= 2);
        assert_int_equal(subs[0], 0); /* the stable "**" subscriber */
        if (total == 2)
            assert_int_equal(subs[1], (rk_actor_id)(WRITER_BASE + op % 2));
    }
    return NULL;
}

static void *writer(void *arg)
{
    worker *w = arg;
    rk_actor_id self = (rk_actor_id)(WRITER_BASE + w->index);
    char name[32], pattern[32];

    snprintf(pattern, sizeof pattern, "w%d/**", w->index);
    for (uint64_t op = 0; op < w->ops; op++) {
        uint32_t gen = (uint32_t)op;
        snprintf(name, sizeof name, "w%d/n%02d", w->index, (int)(op % WRITER_NAMES));
        assert_int_equal(rk_registry_register(w->reg, name, self, gen), RK_OK);
        assert_int_equal(rk_registry_reregister(w->reg, name, self, gen + 1), RK_OK);
        if (op % 2 == 0)
            assert_int_equal(rk_registry_subscribe(w->reg, pattern, self), RK_OK);
        else
            assert_int_equal(rk_registry_unsubscribe(w->reg, pattern, self), RK_OK);
        /* Leave half of the names bound for a while, so readers see them. */
        if (op >= WRITER_NAMES / 2) {
            snprintf(name, sizeof name, "w%d/n%02d", w->index, (int)((op - WRITER_NAMES / 2) % WRITER_NAMES));
            assert_int_equal(rk_registry_unregister(w->reg, name), RK_OK);
        }
    }
    return NULL;
}

static void test_concurrent_readers_and_writers(void **state)
{
    uint64_t ops = rk_test_messages(200000) / 20;
    rk_registry *reg = new_registry();
    pthread_t threads[THREADS];
    worker workers[THREADS];
    rk_registry_entry out[STABLE + 1];
    char name[32];
    size_t total = 0, names = 0;
    (void)state;

    for (int i = 0; i < STABLE; i++) {
        snprintf(name, sizeof name, "stable/%02d", i);
        register_ok(reg, name, (rk_actor_id)i, 1);
    }
    assert_int_equal(rk_registry_subscribe(reg, "**", 0), RK_OK);

    for (int i = 0; i < THREADS; i++) {
        workers[i] = (worker){.reg = reg, .index = i / 2, .ops = ops};
        assert_int_equal(pthread_create(&threads[i], NULL, i % 2 ? reader : writer, &workers[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(threads[i], NULL), 0);

    /* Each writer left its last WRITER_NAMES / 2 names bound. */
    assert_int_equal(rk_registry_find(reg, "w*/**", NULL, 0, &total), ops ? RK_E2BIG : RK_OK);
    assert_int_equal(total, 2 * (ops < WRITER_NAMES / 2 ? ops : WRITER_NAMES / 2));
    assert_int_equal(rk_registry_find(reg, "stable/**", out, ARRAY_LEN(out), &total), RK_OK);
    assert_int_equal(total, STABLE);
    for (int k = 0; k < 2; k++)
        assert_int_equal(rk_registry_unregister_actor(reg, WRITER_BASE + (rk_actor_id)k, &names, NULL), RK_OK);
    assert_int_equal(rk_registry_find(reg, "**", NULL, 0, &total), RK_E2BIG);
    assert_int_equal(total, STABLE);
    rk_registry_destroy(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_patterns),
        cmocka_unit_test(test_match_table),
        cmocka_unit_test(test_match_against_reference),
        cmocka_unit_test(test_exact_lookup),
        cmocka_unit_test(test_find_wildcards),
        cmocka_unit_test(test_find_order),
        cmocka_unit_test(test_find_truncation),
        cmocka_unit_test(test_reregister),
        cmocka_unit_test(test_unregister),
        cmocka_unit_test(test_unregister_actor),
        cmocka_unit_test(test_invalid_arguments),
        cmocka_unit_test(test_subscriptions),
        cmocka_unit_test(test_pathological_patterns),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_concurrent_readers_and_writers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
