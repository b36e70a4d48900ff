/*
 * ll.pml - flag-per-word ("LL") slots of include/ringkernel/ring.h, as the
 * CUDA backend's queue to the host uses them: a producer (a GPU block)
 * writes an item's words and its sequence word with no fence, so they land
 * in any order; the consumer (the host, src/core/hostq.c) takes the item at
 * position p once the sequence word says p and every word it needs
 * carries p's flag, and retires a slot's flags once every LAPS laps before
 * it frees the slot (rk_ring_ll_retire).
 *
 * What the model keeps of the C code:
 *   - a word is one store and one load: its data and its flag together
 *     (8-byte single-copy atomicity);
 *   - the producer's stores of one item in any order, the sequence word
 *     among them (no fence, so no order reaches the host);
 *   - items of 1..W words; word 0 holds the length (the header, whose len
 *     says how many payload words to read), so a shorter item leaves the
 *     older words behind it in the slot;
 *   - flags wrap: FLAG(p) = (p + 1) mod 2^FB, as (uint32_t)(pos + 1) wraps
 *     at 2^32; the sequence word does not wrap (64 bits in the code);
 *   - the retire: after taking position p, if (p / CAP) % LAPS == 0, every
 *     word of the slot gets p's flag; LAPS = 2^(FB-1) / CAP, as
 *     (1ull << 31) / capacity in ring.h;
 *   - room: the producer claims p only once p - head < CAP, head being
 *     stored after the consumer's reads and the retire (a release in the
 *     code).
 * Left out: several producers and the claim (ring_mpsc.pml), owner marks
 * and out-of-order taking (hostq.pml: a slot whose words are on their way
 * counts there as not published), by-reference payloads.
 *
 * Bounds (defaults): CAP = 2 slots, W = 2 words, FB = 3 (flags wrap every
 * 8 positions, LAPS = 2), NPOS = 20 positions (two and a half wraps).
 * scripts/spec.sh also runs W = 3, and CAP = 4 with FB = 4 (wrap 16) over
 * 24 positions.
 *
 * Properties:
 *   L1 every item taken is the one written at its position: its length
 *      and every word (data carries the position);
 *   L2 every position is taken (end states; ltlf:all_taken).
 * Seeded bugs: BUG_NO_RETIRE (never retire), BUG_RETIRE_AT_WRAP (retire
 * once a wrap, LAPS = 2^FB / CAP), BUG_NO_FLAG_CHECK (trust the sequence
 * word alone) - each must break L1.
 */

#define PROP(p, e) assert(p || (e))

#ifndef CAP
#define CAP 2
#endif
#ifndef W
#define W 2 /* 1 to 3 */
#endif
#ifndef FB
#define FB 3
#endif
#ifndef NPOS
#define NPOS 20
#endif
#define WRAP (1 << FB)
#ifdef BUG_RETIRE_AT_WRAP
#define LAPS (WRAP / CAP)
#else
#define LAPS (WRAP / 2 / CAP)
#endif
#define FLAG(p) (((p) + 1) % WRAP)
/* Word 0: the length and the position; the others: the position. */
#define DATA0(p, n) ((n) * 64 + (p) % 64)
#define DATA(p) ((p) + 1)

typedef slot_t {
    byte seq;     /* the sequence word: p + 1 once published */
    byte data[W]; /* each word's 4 bytes of item ... */
    byte flag[W]  /* ... and its flag, stored and loaded together */
};
slot_t slot[CAP];
byte head; /* every position below it is taken and its slot free */

hidden byte L1, L2; /* property names for PROP (never set) */

/* The producer stores word k of item p (n words) if it has not yet. */
#define STORE(k)                                                                 \
    :: (k) < n && (done & (1 << (k))) == 0 ->                                  \
        atomic {                                                                 \
            slot[p % CAP].data[k] = ((k) == 0 -> DATA0(p, n) : DATA(p));       \
            slot[p % CAP].flag[k] = FLAG(p);                                     \
            done = done | (1 << (k))                                             \
        }

active proctype producer()
{
    byte p, n, done;
    do
    :: p == NPOS -> break
    :: else ->
        (p - head < CAP); /* room (the cached head is refreshed as needed) */
        if
        :: n = 1
        :: W >= 2 -> n = 2
        :: W >= 3 -> n = 3
        fi;
        done = 0;
        do
        :: done == (((1 << n) - 1) | (1 << W)) -> break
        STORE(0)
#if W >= 2
        STORE(1)
#endif
#if W >= 3
        STORE(2)
#endif
        :: (done & (1 << W)) == 0 ->
            atomic {
                slot[p % CAP].seq = p + 1;
                done = done | (1 << W)
            }
        od;
        p++
    od
}

active proctype consumer()
{
    byte p, k, n, d, d0, f;
    bool whole;
    do
    :: p == NPOS -> break
    :: else ->
        /* rk_ring_ll_look: the sequence word (acquire; a wait here stands
         * for the host's spin and its epoch wait). */
        slot[p % CAP].seq == p + 1;
        /* rk_ring_ll_read: the header word first, then as many words as
         * it says; one whose flag is not p's means "not yet": look again. */
        do
        :: atomic { d0 = slot[p % CAP].data[0]; f = slot[p % CAP].flag[0] };
#ifdef BUG_NO_FLAG_CHECK
            whole = true;
#else
            whole = f == FLAG(p);
#endif
            n = d0 / 64;
            k = 1;
            do
            :: !whole || k >= n || k >= W -> break
            :: else ->
                atomic { d = slot[p % CAP].data[k]; f = slot[p % CAP].flag[k] };
#ifndef BUG_NO_FLAG_CHECK
                whole = f == FLAG(p);
#endif
                if
                :: whole -> PROP(L1, d == DATA(p))
                :: else -> skip
                fi;
                k++
            od;
            if
            :: whole -> break
            :: else -> skip
            fi
        od;
        /* Taken: the header word was p's (its data says p and a length). */
        PROP(L1, d0 % 64 == p % 64 && n >= 1 && n <= W);
#ifndef BUG_NO_RETIRE
        /* rk_ring_ll_retire, then rk_ring_consume (release: after the
         * reads and the retire). */
        if
        :: (p / CAP) % LAPS == 0 ->
            k = 0;
            do
            :: k == W -> break
            :: else -> slot[p % CAP].flag[k] = FLAG(p); k++
            od
        :: else -> skip
        fi;
#endif
        head = p + 1;
        p++
    od;
    PROP(L2, head == NPOS)
}

ltl all_taken { <> (head == NPOS) }
