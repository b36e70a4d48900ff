/* The name registry and topic patterns (ringkernel/registry.h).
 *
 * Names live in an array sorted by strcmp. Pattern lookups must come back
 * sorted by name, and every name a pattern can match starts with the
 * pattern's literal prefix (what comes before its first '*'), so a lookup is
 * a binary search to that prefix's contiguous range plus a scan of it, with
 * no sort. Exact lookups are binary searches. Inserting and removing shift
 * the array (O(n)), which suits names bound at launch and restart and read
 * on every lookup; a hash table would make the exact case O(1) but every
 * pattern lookup a full scan and a sort.
 *
 * Subscriptions live in an array sorted by (actor, pattern): the patterns of
 * one actor are adjacent, so finding a topic's subscribers emits each actor
 * once, already in id order, and stops testing an actor's patterns at its
 * first match - without allocating on the publish path. */
#include "ringkernel/registry.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct rk__reg_name {
    char *name; /* owned */
    size_t len;
    rk_actor_id actor;
    uint32_t generation;
} rk__reg_name;

typedef struct rk__reg_sub {
    char *pattern; /* owned */
    size_t len;
    rk_actor_id actor;
} rk__reg_sub;

struct rk_registry {
    pthread_rwlock_t lock;
    rk__reg_name *names; /* sorted by strcmp of name */
    size_t n_names, cap_names;
    rk__reg_sub *subs;   /* sorted by actor, then strcmp of pattern */
    size_t n_subs, cap_subs;
    /* Fault injection: allocation number fail_at (1-based, counted from the
     * last rk__registry_fail_alloc) fails. Atomic: copies are made before
     * the lock is taken. */
    uint64_t alloc_count, fail_at;
};

/* ---- validation ------------------------------------------------------------ */

static int rk__name_char(char c)
{
    /* Spelled out rather than isalnum(), which depends on the locale. */
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

/* A segment s[0..n) is non-empty; in a pattern, one that holds "**" is
 * exactly "**". Its characters were checked by the caller. */
static int rk__segment_ok(const char *s, size_t n, int wild)
{
    if (n == 0)
        return 0;
    if (!wild || n == 2)
        return 1;
    for (size_t i = 0; i + 1 < n; i++)
        if (s[i] == '*' && s[i + 1] == '*')
            return 0;
    return 1;
}

/* Checks a name (wild = 0) or a pattern (wild = 1) and gives its length.
 * Reads at most RK_REGISTRY_NAME_MAX + 1 bytes, so an overlong string is
 * refused without being measured to its end. */
static rk_status rk__check(const char *s, int wild, size_t *len)
{
    size_t i, start = 0;
    if (!s)
        return RK_EINVAL;
    for (i = 0;; i++) {
        char c = s[i];
        if (c == '\0' || c == '/') {
            if (!rk__segment_ok(s + start, i - start, wild))
                return RK_EINVAL;
            if (c == '\0')
                break;
            start = i + 1;
        } else if (!rk__name_char(c) && !(wild && c == '*')) {
            return RK_EINVAL;
        }
        if (i == RK_REGISTRY_NAME_MAX)
            return RK_EINVAL;
    }
    *len = i;
    return RK_OK;
}

rk_status rk_topic_check_name(const char *name)
{
    size_t len;
    return rk__check(name, 0, &len);
}

rk_status rk_topic_check_pattern(const char *pattern)
{
    size_t len;
    return rk__check(pattern, 1, &len);
}

/* ---- matching --------------------------------------------------------------
 *
 * Both levels use the same greedy walk with one resume point. At the
 * character level a '*' absorbs characters; at the segment level a "**"
 * absorbs segments. Every other token consumes exactly one character (one
 * segment), so placing each run between two stars at its earliest fit is
 * never worse than a later fit: on a mismatch only the most recent star
 * needs to absorb one more item, and earlier stars are never revisited.
 * That bounds the work by (pattern items x name items) per level instead of
 * the exponential cost of trying every split. */

/* Whether the segment pattern p[0..pn) matches the segment s[0..sn). */
static int rk__segment_match(const char *p, size_t pn, const char *s, size_t sn)
{
    size_t i = 0, j = 0, resume_p = SIZE_MAX, resume_s = 0;
    while (j < sn) {
        if (i < pn && p[i] == '*') {
            resume_p = ++i;
            resume_s = j;
        } else if (i < pn && p[i] == s[j]) {
            i++;
            j++;
        } else if (resume_p != SIZE_MAX) {
            i = resume_p;
            j = ++resume_s;
        } else {
            return 0;
        }
    }
    while (i < pn && p[i] == '*')
        i++;
    return i == pn;
}

/* The offset of the '/' ending the segment that starts at s[i], or n. */
static size_t rk__segment_end(const char *s, size_t i, size_t n)
{
    while (i < n && s[i] != '/')
        i++;
    return i;
}

/* Where the segment after the one ending at `end` starts (n at the end). */
static size_t rk__segment_next(size_t end, size_t n)
{
    return end < n ? end + 1 : n;
}

static int rk__is_globstar(const char *p, size_t n)
{
    return n == 2 && p[0] == '*' && p[1] == '*';
}

/* Whether the valid pattern p[0..pn) matches the valid name s[0..sn). */
static int rk__match(const char *p, size_t pn, const char *s, size_t sn)
{
    size_t pi = 0, si = 0, resume_p = SIZE_MAX, resume_s = 0;
    while (si < sn) {
        size_t se = rk__segment_end(s, si, sn);
        if (pi < pn) {
            size_t pe = rk__segment_end(p, pi, pn);
            if (rk__is_globstar(p + pi, pe - pi)) {
                /* First try "**" as zero segments; resume_s is where it
                 * takes one more if the rest does not fit. */
                pi = resume_p = rk__segment_next(pe, pn);
                resume_s = si;
                continue;
            }
            if (rk__segment_match(p + pi, pe - pi, s + si, se - si)) {
                pi = rk__segment_next(pe, pn);
                si = rk__segment_next(se, sn);
                continue;
            }
        }
        if (resume_p == SIZE_MAX)
            return 0;
        resume_s = rk__segment_next(rk__segment_end(s, resume_s, sn), sn);
        pi = resume_p;
        si = resume_s;
    }
    while (pi < pn) {
        size_t pe = rk__segment_end(p, pi, pn);
        if (!rk__is_globstar(p + pi, pe - pi))
            return 0;
        pi = rk__segment_next(pe, pn);
    }
    return 1;
}

rk_status rk_topic_match(const char *pattern, const char *name)
{
    size_t pn, sn;
    if (rk__check(pattern, 1, &pn) != RK_OK || rk__check(name, 0, &sn) != RK_OK)
        return RK_EINVAL;
    return rk__match(pattern, pn, name, sn) ? RK_OK : RK_ENOTFOUND;
}

/* ---- memory and locking ---------------------------------------------------- */

void rk__registry_fail_alloc(rk_registry *reg, uint64_t nth)
{
    if (!reg)
        return;
    __atomic_store_n(&reg->alloc_count, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&reg->fail_at, nth, __ATOMIC_RELAXED);
}

/* realloc, except when fault injection says this one fails. */
static void *rk__reg_realloc(rk_registry *reg, void *old, size_t bytes)
{
    uint64_t n = __atomic_add_fetch(&reg->alloc_count, 1, __ATOMIC_RELAXED);
    if (n == __atomic_load_n(&reg->fail_at, __ATOMIC_RELAXED))
        return NULL;
    return realloc(old, bytes);
}

static char *rk__reg_strdup(rk_registry *reg, const char *s, size_t len)
{
    char *copy = rk__reg_realloc(reg, NULL, len + 1);
    if (copy)
        memcpy(copy, s, len + 1);
    return copy;
}

/* Element `at` of the sorted array `arr` of n elements of `elem` bytes
 * (capacity *cap) made free for an insertion, the later ones moved up: the
 * array to use from now on, or NULL (out of memory) with `arr` untouched. */
static void *rk__open_slot(rk_registry *reg, void *arr, size_t *cap, size_t n, size_t at, size_t elem)
{
    size_t c = *cap ? *cap : 16;
    unsigned char *a = arr;
    if (n + 1 > *cap) {
        while (c < n + 1) {
            if (c > SIZE_MAX / 2)
                return NULL;
            c *= 2;
        }
        if (c > SIZE_MAX / elem || !(a = rk__reg_realloc(reg, arr, c * elem)))
            return NULL;
        *cap = c;
    }
    memmove(a + (at + 1) * elem, a + at * elem, (n - at) * elem);
    return a;
}

static rk_status rk__read_lock(rk_registry *reg)
{
    return pthread_rwlock_rdlock(&reg->lock) == 0 ? RK_OK : RK_EINTERNAL;
}

static rk_status rk__write_lock(rk_registry *reg)
{
    return pthread_rwlock_wrlock(&reg->lock) == 0 ? RK_OK : RK_EINTERNAL;
}

static void rk__unlock(rk_registry *reg)
{
    pthread_rwlock_unlock(&reg->lock);
}

/* The start of an insertion: `s` checked (a name, or a pattern), copied
 * (before the lock is taken, to keep readers waiting less) and the write
 * lock taken. On RK_OK the caller frees *copy unless it keeps it. */
static rk_status rk__insert_begin(rk_registry *reg, const char *s, int pattern, rk_actor_id actor, size_t *len,
                                  char **copy)
{
    rk_status st;
    if (!reg || actor == RK_ACTOR_NONE)
        return RK_EINVAL;
    st = rk__check(s, pattern, len);
    if (st != RK_OK)
        return st;
    *copy = rk__reg_strdup(reg, s, *len);
    if (!*copy)
        return RK_ENOMEM;
    st = rk__write_lock(reg);
    if (st != RK_OK)
        free(*copy);
    return st;
}

rk_status rk_registry_create(rk_registry **out)
{
    pthread_rwlockattr_t attr;
    rk_registry *reg;
    int rc;

    if (!out)
        return RK_EINVAL;
    *out = NULL;
    reg = calloc(1, sizeof *reg);
    if (!reg)
        return RK_ENOMEM;
    if (pthread_rwlockattr_init(&attr) != 0) {
        free(reg);
        return RK_ENOMEM;
    }
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
    /* glibc lets readers overtake a waiting writer by default; a steady
     * stream of publishes (reads) could then hold off a restart's
     * re-registration indefinitely. No reader here takes the lock twice,
     * which is what this kind forbids. */
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
    rc = pthread_rwlock_init(&reg->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    if (rc != 0) {
        free(reg);
        return RK_ENOMEM;
    }
    *out = reg;
    return RK_OK;
}

void rk_registry_destroy(rk_registry *reg)
{
    if (!reg)
        return;
    for (size_t i = 0; i < reg->n_names; i++)
        free(reg->names[i].name);
    for (size_t i = 0; i < reg->n_subs; i++)
        free(reg->subs[i].pattern);
    free(reg->names);
    free(reg->subs);
    pthread_rwlock_destroy(&reg->lock);
    free(reg);
}

/* ---- names ----------------------------------------------------------------- */

/* The first index whose name is not below `key` (n_names if none). */
static size_t rk__name_lower_bound(const rk_registry *reg, const char *key, size_t key_len)
{
    size_t lo = 0, hi = reg->n_names;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        /* `key` is key_len bytes, not NUL-terminated (a pattern's prefix):
         * a name it is a proper prefix of sorts after it. */
        const rk__reg_name *e = &reg->names[mid];
        int c = strncmp(e->name, key, key_len);
        if (c == 0 && e->len > key_len)
            c = 1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The index of `name`, or SIZE_MAX; *at gets where it would be inserted. */
static size_t rk__name_find(const rk_registry *reg, const char *name, size_t len, size_t *at)
{
    size_t i = rk__name_lower_bound(reg, name, len);
    if (at)
        *at = i;
    return i < reg->n_names && reg->names[i].len == len && memcmp(reg->names[i].name, name, len) == 0
               ? i
               : SIZE_MAX;
}

rk_status rk_registry_register(rk_registry *reg, const char *name, rk_actor_id actor, uint32_t generation)
{
    rk__reg_name *grown;
    size_t len, at;
    char *copy;
    rk_status st;

    st = rk__insert_begin(reg, name, 0, actor, &len, &copy);
    if (st != RK_OK)
        return st;
    if (rk__name_find(reg, name, len, &at) != SIZE_MAX) {
        st = RK_EEXIST;
        goto out;
    }
    grown = rk__open_slot(reg, reg->names, &reg->cap_names, reg->n_names, at, sizeof *reg->names);
    if (!grown) {
        st = RK_ENOMEM;
        goto out;
    }
    reg->names = grown;
    reg->names[at] = (rk__reg_name){.name = copy, .len = len, .actor = actor, .generation = generation};
    reg->n_names++;
    copy = NULL;
out:
    rk__unlock(reg);
    free(copy);
    return st;
}

/* Whether generation b comes after a, in serial-number order (RFC 1982):
 * a restart counter that wraps still moves forward. */
static int rk__generation_after(uint32_t b, uint32_t a)
{
    uint32_t d = b - a;
    return d != 0 && d < 0x80000000u;
}

rk_status rk_registry_reregister(rk_registry *reg, const char *name, rk_actor_id actor, uint32_t generation)
{
    rk__reg_name *e;
    size_t len, i;
    rk_status st;

    if (!reg || actor == RK_ACTOR_NONE)
        return RK_EINVAL;
    st = rk__check(name, 0, &len);
    if (st != RK_OK)
        return st;
    st = rk__write_lock(reg);
    if (st != RK_OK)
        return st;
    i = rk__name_find(reg, name, len, NULL);
    if (i == SIZE_MAX) {
        st = RK_ENOTFOUND;
        goto out;
    }
    e = &reg->names[i];
    if (e->actor != actor)
        st = RK_EEXIST;
    else if (!rk__generation_after(generation, e->generation))
        st = RK_ESTALE;
    else
        e->generation = generation;
out:
    rk__unlock(reg);
    return st;
}

rk_status rk_registry_unregister(rk_registry *reg, const char *name)
{
    char *victim = NULL;
    size_t len, i;
    rk_status st;

    if (!reg)
        return RK_EINVAL;
    st = rk__check(name, 0, &len);
    if (st != RK_OK)
        return st;
    st = rk__write_lock(reg);
    if (st != RK_OK)
        return st;
    i = rk__name_find(reg, name, len, NULL);
    if (i == SIZE_MAX) {
        st = RK_ENOTFOUND;
    } else {
        victim = reg->names[i].name;
        memmove(&reg->names[i], &reg->names[i + 1], (reg->n_names - i - 1) * sizeof *reg->names);
        reg->n_names--;
    }
    rk__unlock(reg);
    free(victim);
    return st;
}

rk_status rk_registry_lookup(rk_registry *reg, const char *name, rk_actor_id *actor, uint32_t *generation)
{
    size_t len, i;
    rk_status st;

    if (!reg || !actor)
        return RK_EINVAL;
    st = rk__check(name, 0, &len);
    if (st != RK_OK)
        return st;
    st = rk__read_lock(reg);
    if (st != RK_OK)
        return st;
    i = rk__name_find(reg, name, len, NULL);
    if (i == SIZE_MAX) {
        st = RK_ENOTFOUND;
    } else {
        *actor = reg->names[i].actor;
        if (generation)
            *generation = reg->names[i].generation;
    }
    rk__unlock(reg);
    return st;
}

/* How much of the pattern every matching name starts with: what comes
 * before the first '*', less a '/' just before it, since a "**" segment
 * there may match zero segments (the pattern "a", "**" matches "a"). */
static size_t rk__literal_prefix(const char *pattern, size_t len)
{
    const char *star = memchr(pattern, '*', len);
    size_t n = star ? (size_t)(star - pattern) : len;
    if (star && n > 0 && pattern[n - 1] == '/')
        n--;
    return n;
}

rk_status rk_registry_find(rk_registry *reg, const char *pattern, rk_registry_entry *out, size_t cap,
                           size_t *total)
{
    size_t len, prefix, i, count = 0;
    rk_status st;

    if (!reg || !total || (cap > 0 && !out))
        return RK_EINVAL;
    st = rk__check(pattern, 1, &len);
    if (st != RK_OK)
        return st;
    prefix = rk__literal_prefix(pattern, len);
    st = rk__read_lock(reg);
    if (st != RK_OK)
        return st;
    for (i = rk__name_lower_bound(reg, pattern, prefix); i < reg->n_names; i++) {
        const rk__reg_name *e = &reg->names[i];
        if (strncmp(e->name, pattern, prefix) != 0)
            break; /* past the range of names with this prefix */
        if (!rk__match(pattern, len, e->name, e->len))
            continue;
        if (count < cap) {
            memcpy(out[count].name, e->name, e->len + 1);
            out[count].actor = e->actor;
            out[count].generation = e->generation;
        }
        count++;
    }
    rk__unlock(reg);
    *total = count;
    return count > cap ? RK_E2BIG : RK_OK;
}

/* ---- subscriptions --------------------------------------------------------- */

static int rk__sub_cmp(const rk__reg_sub *s, rk_actor_id actor, const char *pattern)
{
    if (s->actor != actor)
        return s->actor < actor ? -1 : 1;
    return strcmp(s->pattern, pattern);
}

/* The first index not below (actor, pattern); "" is below every pattern. */
static size_t rk__sub_lower_bound(const rk_registry *reg, rk_actor_id actor, const char *pattern)
{
    size_t lo = 0, hi = reg->n_subs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (rk__sub_cmp(&reg->subs[mid], actor, pattern) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int rk__sub_at(const rk_registry *reg, size_t i, rk_actor_id actor, const char *pattern)
{
    return i < reg->n_subs && rk__sub_cmp(&reg->subs[i], actor, pattern) == 0;
}

rk_status rk_registry_subscribe(rk_registry *reg, const char *pattern, rk_actor_id actor)
{
    rk__reg_sub *grown;
    size_t len, at;
    char *copy;
    rk_status st;

    st = rk__insert_begin(reg, pattern, 1, actor, &len, &copy);
    if (st != RK_OK)
        return st;
    at = rk__sub_lower_bound(reg, actor, pattern);
    if (rk__sub_at(reg, at, actor, pattern)) {
        st = RK_EEXIST;
        goto out;
    }
    grown = rk__open_slot(reg, reg->subs, &reg->cap_subs, reg->n_subs, at, sizeof *reg->subs);
    if (!grown) {
        st = RK_ENOMEM;
        goto out;
    }
    reg->subs = grown;
    reg->subs[at] = (rk__reg_sub){.pattern = copy, .len = len, .actor = actor};
    reg->n_subs++;
    copy = NULL;
out:
    rk__unlock(reg);
    free(copy);
    return st;
}

rk_status rk_registry_unsubscribe(rk_registry *reg, const char *pattern, rk_actor_id actor)
{
    char *victim = NULL;
    size_t len, at;
    rk_status st;

    if (!reg)
        return RK_EINVAL;
    st = rk__check(pattern, 1, &len);
    if (st != RK_OK)
        return st;
    st = rk__write_lock(reg);
    if (st != RK_OK)
        return st;
    at = rk__sub_lower_bound(reg, actor, pattern);
    if (!rk__sub_at(reg, at, actor, pattern)) {
        st = RK_ENOTFOUND;
    } else {
        victim = reg->subs[at].pattern;
        memmove(&reg->subs[at], &reg->subs[at + 1], (reg->n_subs - at - 1) * sizeof *reg->subs);
        reg->n_subs--;
    }
    rk__unlock(reg);
    free(victim);
    return st;
}

rk_status rk_registry_subscribers(rk_registry *reg, const char *topic, rk_actor_id *out, size_t cap,
                                  size_t *total)
{
    size_t len, i = 0, count = 0;
    rk_status st;

    if (!reg || !total || (cap > 0 && !out))
        return RK_EINVAL;
    st = rk__check(topic, 0, &len);
    if (st != RK_OK)
        return st;
    st = rk__read_lock(reg);
    if (st != RK_OK)
        return st;
    while (i < reg->n_subs) {
        rk_actor_id actor = reg->subs[i].actor;
        int hit = 0;
        /* One pass over this actor's adjacent patterns; stop matching at
         * the first hit, so overlapping patterns yield the actor once. */
        for (; i < reg->n_subs && reg->subs[i].actor == actor; i++)
            if (!hit)
                hit = rk__match(reg->subs[i].pattern, reg->subs[i].len, topic, len);
        if (!hit)
            continue;
        if (count < cap)
            out[count] = actor;
        count++;
    }
    rk__unlock(reg);
    *total = count;
    return count > cap ? RK_E2BIG : RK_OK;
}

rk_status rk_registry_unregister_actor(rk_registry *reg, rk_actor_id actor, size_t *names,
                                       size_t *subscriptions)
{
    size_t i, kept = 0, first, last;
    rk_status st;

    if (!reg)
        return RK_EINVAL;
    st = rk__write_lock(reg);
    if (st != RK_OK)
        return st;
    /* Names of one actor are scattered: compact the array in one pass. */
    for (i = 0; i < reg->n_names; i++) {
        if (reg->names[i].actor == actor)
            free(reg->names[i].name);
        else
            reg->names[kept++] = reg->names[i];
    }
    if (names)
        *names = reg->n_names - kept;
    reg->n_names = kept;
    /* Its subscriptions are adjacent. */
    first = rk__sub_lower_bound(reg, actor, "");
    for (last = first; last < reg->n_subs && reg->subs[last].actor == actor; last++)
        free(reg->subs[last].pattern);
    if (last > first) {
        memmove(&reg->subs[first], &reg->subs[last], (reg->n_subs - last) * sizeof *reg->subs);
        reg->n_subs -= last - first;
    }
    if (subscriptions)
        *subscriptions = last - first;
    rk__unlock(reg);
    return RK_OK;
}
