/*
 * hostq.pml - the queue from the GPU's blocks to the host (rt->host_ring),
 * read out of order past owner marks: commit 5561a1d (ring.h
 * rk_ring_mark_word and rk_ring_look, device.cuh, src/core/hostq.c), with
 * the host's wait of commit e2e2689 (rk__hostq_moved in hostq.c, called by
 * cuda_host_wait), and the fixes of the three faults this model found.
 *
 * Mirrors:
 *   block p   thread 0 of a GPU block (device.cuh), in batches:
 *             rk__gpu_h2k's reservation (rk__gpu_claim_host, then a relaxed
 *             store of the owner mark into the slot's sequence word, which
 *             nothing waits for); the handlers' sends, rk__gpu_send_host
 *             (the reserved slot for the first, else rk__gpu_claim_host; on
 *             RK_EFULL with sends pending, rk__gpu_flush_pub and one more
 *             claim), rk__gpu_write_msg with the owner mark as the sequence
 *             word of its first 16-byte store, the position added to the
 *             pending list, published when RK__GPU_PUB_MAX are pending; at
 *             the end of the batch rk__gpu_unreserve (an unused reservation
 *             written as an RK_MSG_TYPE_NOP, also marked) and
 *             rk__gpu_flush_pub_now (one system fence, then a relaxed store
 *             of pos + 1 into each pending slot's sequence word);
 *   host      the one consumer (hostq.c, under host_lock): rk__peek with
 *             rk__settle, the check of the listed marks, the scan from the
 *             cursor host_scan (rk_ring_look; a slot neither published nor
 *             marked stops it; a marked one lists its owner unless it is
 *             listed, at most NMARKS owners (RK__HOST_MARKS), then the scan
 *             stops; a published one is passed when taken already or when
 *             its sender is listed; a NOP is freed at the head or flagged
 *             taken; anything else is returned; where the scan stops is
 *             host_watch); then the message is delivered (rk__try_recv,
 *             rk__try_reply) and rk__advance (at the head: the head moved,
 *             rk_ring_consume, rk__settle; else its taken flag); after a
 *             look that found nothing, cuda_host_wait: until
 *             rk__hostq_moved, or the deadline.
 *
 * Claims (rk__gpu_claim_host): the consumer's released head (one load,
 * standing for head_cache and its refresh, which model 2 checks), then
 * in one step a load of tail, the signed room test tail + 1 - head <= CAP
 * and the CAS (with sequentially consistent index words a CAS that fails
 * only makes the claim load tail again). A block that finds the ring full
 * after publishing its own pending sends waits until the head moves and
 * claims again (a handler that retries); it holds no unpublished slot
 * then, as in the code: a send takes the reservation before it claims,
 * and the full claim has flushed what was pending.
 *
 * ---- Weak memory -----------------------------------------------------------
 * As in ring_common.pml, a block's stores to the sequence words go into its
 * store buffer (one pending store per word; a second store to the same word
 * lands the first one first: coherence), and the `memory` process makes
 * pending stores visible one at a time in any order; FENCE waits until all
 * of the block's stores are visible. So a reservation's mark may land after
 * the block's later marks, and the publication stores of one batch land in
 * any order. The header and payload (pay: one word per slot) are written
 * straight to memory: the host reads them only in a slot it saw published,
 * after the fence that made them visible, and no block writes a slot the
 * host has not freed (H3), so when they land makes no difference. The
 * host's loads are in program order (acquire loads of the sequence words);
 * tail and head are sequentially consistent words. Each load or store of a
 * shared word is one step; the host's private work (its list, its flags,
 * the delivery) is folded into the neighbouring step.
 *
 * The wait: rk__hostq_moved is one step, a guard (the host polls it, and
 * the words it reads only go from unwritten to marked to published until
 * the host itself frees them). The deadline is `timeout`: it passes only
 * when nothing else can move; the host then looks once more (H4) and
 * stops. With -DHANG a block may stop for good while it holds a marked,
 * unpublished slot: a handler that runs longer than the host's deadline.
 *
 * ---- Bounds (defaults) -----------------------------------------------------
 * CAP = 4 slots (-DCAP=2 or 8); two blocks: block 0 sends NMSG0 = 1 message
 * and may leave NNOP0 = 1 reservation unused (a NOP), block 1 sends
 * NMSG1 = 2 (NNOP1 = 0); batches of 1 to BMAX = 2 sends, each with or
 * without a reservation (the code reserves when the block's previous batch
 * from the host sent to the host: both happen); PUB_MAX = 2
 * (RK__GPU_PUB_MAX, scaled down); NMARKS = 2 listed owners
 * (RK__HOST_MARKS = 16; with two blocks the list never fills, -DNMARKS=1
 * makes it fill).
 *
 * ---- Properties -------------------------------------------------------------
 *  H1 exactly once: a message delivered is the one written at its position,
 *     not a NOP, and not delivered before; a slot is freed (the host's head
 *     moves past it) only once its message was delivered or it held a NOP;
 *     and when everything has stopped and no block stopped for good, every
 *     message has been delivered;
 *  H2 each block's messages are delivered in the order it sent them;
 *  H3 a block never stores into a slot the host has not freed (a position
 *     below the released head + CAP);
 *  H4 when everything has stopped, one more look of the host finds nothing
 *     to take: the wait did not sleep through a message it could deliver;
 *  ltl comes_to_rest: every run ends with the host at rest (no look that
 *     goes on for ever without taking anything).
 *
 * ---- Seeded bugs ------------------------------------------------------------
 *  BUG_SKIP_UNMARKED       the scan goes on past a slot neither published
 *                          nor marked (H2)
 *  BUG_NO_OWNER_CHECK      a published message is taken although its sender
 *                          is listed (H2)
 *  BUG_ADVANCE_PAST_TAKEN  rk__advance of a message past the head moves the
 *                          head past it instead of flagging it taken (H1)
 *  BUG_NO_RESCAN           the listed marks are not checked: the look goes on
 *                          from the cursor with its list although a listed
 *                          slot was published (comes_to_rest: the host looks
 *                          for ever)
 *  BUG_NO_ROOM_CHECK       a claim without the room test (H3; needs laps)
 *  BUG_TAKEN_KEPT          rk__settle moves the head over a taken slot without
 *                          clearing its flag (H1, on the next lap)
 *  BUG_MARK_WITHOUT_POS    rk_ring_look takes any word with bit 63 for a mark
 *                          of the position it reads (passes: no mark of an
 *                          earlier lap is ever left in a slot)
 *  BUG_NOP_HEAD_CONSUME    hostq.c before the fix: a NOP the scan finds at
 *                          the head is freed with ++host_head and the scan
 *                          goes on without rk__settle, so a slot after it
 *                          that was taken already is returned again (H1).
 *                          The default is the code now: rk__settle there,
 *                          and the scan goes on from the new head.
 *  BUG_MOVED_HEAD          rk__hostq_moved before the fix: a look that
 *                          stopped at the head's slot is not woken when that
 *                          slot gets marked (H4). Default: the stop slot
 *                          watched also when it is the head's.
 *  BUG_MOVED_MARKS         rk__hostq_moved before the fix: the publication
 *                          of a listed marked slot other than the stop slot
 *                          and the head's does not end the wait (H4).
 *                          Default: the wait also ends when a listed slot is
 *                          no longer marked (the C code reads a copy of the
 *                          list the last empty look left).
 */

#define PROP(p, e) assert(p || (e))
hidden byte H1, H2, H3, H4;

#ifndef CAP
#define CAP 4
#endif
#if CAP != 2 && CAP != 4 && CAP != 8
#error "the memory process is written out for CAP 2, 4 or 8"
#endif
#ifndef NMSG0
#define NMSG0 1
#endif
#ifndef NMSG1
#define NMSG1 2
#endif
#if NMSG0 > 3 || NMSG1 > 3
#error "message ids hold at most 3 messages per block"
#endif
#ifndef NNOP0
#define NNOP0 1
#endif
#ifndef NNOP1
#define NNOP1 0
#endif
#ifndef BMAX
#define BMAX 2
#endif
#ifndef NMARKS
#define NMARKS 2
#endif
#if NMARKS < 1 || NMARKS > 2
#error "the list is written out for 1 or 2 owners"
#endif
#define PUB_MAX 2

#define NPROD 2
#define NMSG_OF(p) ((p) == 0 -> NMSG0 : NMSG1)
#define TOTAL (NMSG0 + NMSG1)
#define NNOP_OF(p) ((p) == 0 -> NNOP0 : NNOP1)
#define MAXPOS (TOTAL + NNOP0 + NNOP1) /* every position a run can claim */

#define RK_OK 0
#define RK_EFULL 1

#define SLOT(pos) ((pos) % CAP)

/* ---- what the words hold ------------------------------------------------- */
/* pay: block p's k-th message (k from 0) is p * 4 + k + 1; its NOP is 8 + p. */
#define MSG_ID(p, k) ((p) * 4 + (k) + 1)
#define NOP_ID(p) (8 + (p))
#define IS_NOP(v) ((v) >= 8)
#define SRC(v) (IS_NOP(v) -> (v) - 8 : ((v) - 1) / 4)
#define KTH(v) (((v) - 1) % 4)

/* seq: 0 after rk_ring_init; pos + 1 published (rk_ring_publish); the owner
 * mark rk_ring_mark_word(pos, owner) = bit 63 | owner << 32 | (uint32)pos,
 * scaled down to 128 | owner << 5 | pos (positions stay below 32). */
#define MARK_WORD(pos, o) (128 + (o) * 32 + (pos))
#define V_PUB(v, pos) ((v) == (pos) + 1)
#ifdef BUG_MARK_WITHOUT_POS
#define V_MARK(v, pos) ((v) >= 128)
#else
#define V_MARK(v, pos) ((v) >= 128 && ((v) & 31) == (pos))
#endif
#define V_OWNER(v) (((v) >> 5) & 3)
/* rk_ring_look(r, pos), on the visible word */
#define PUBD(pos) V_PUB(seq[SLOT(pos)], pos)
#define MARKED(pos) V_MARK(seq[SLOT(pos)], pos)

/* ---- shared memory: the visible values ------------------------------------ */
byte seq[CAP];
byte pay[CAP];
byte tail; /* rk_ring_prod.tail */
byte head; /* rk_ring_cons.head: what the host released */

/* ---- store buffers: one pending store per (block, slot, word) -------------- */
#define IDX(p, s) ((p) * CAP + (s))
bool sb_seq[NPROD * CAP];
byte sb_seq_v[NPROD * CAP];
byte sb_n[NPROD];

/* ---- ghosts ------------------------------------------------------------------ */
byte expect[MAXPOS + CAP]; /* what was written at each position (a pay value) */
bool dlv[10];        /* per message id: delivered */
byte next_k[NPROD];  /* per block: the message number delivered next */
byte nhung;          /* blocks that stopped for good holding a slot */
bool host_done;      /* the host has come to rest (after its final look) */

/* One option of `memory`: block p's pending store to slot s lands. */
#define COMMIT(p, s) \
    :: atomic { sb_seq[IDX(p, s)] -> seq[s] = sb_seq_v[IDX(p, s)]; sb_seq[IDX(p, s)] = 0; sb_seq_v[IDX(p, s)] = 0; sb_n[p]-- }

/* Block p stores v into the sequence word of slot s: buffered; a pending
 * store to the same word lands first (coherence). Inside an atomic of the
 * caller. The header and payload word is stored directly (see above). */
#define STORE_SEQ(p, s, v) \
    if \
    :: sb_seq[IDX(p, s)] -> seq[s] = sb_seq_v[IDX(p, s)]; sb_n[p]-- \
    :: else -> skip \
    fi; \
    sb_seq[IDX(p, s)] = 1; sb_seq_v[IDX(p, s)] = v; sb_n[p]++
#define STORE_PAY(p, s, v) pay[s] = v

/* A fence (rk__gpu_fence_sys): every earlier store of p is visible. */
#define FENCE(p) (sb_n[p] == 0)

/* H3, at a store into the slot of position pos. */
#define NO_OVERWRITE(pos) PROP(H3, (pos) < head + CAP)

/* Makes every pending store visible, one at a time, in any order. */
proctype memory()
{
end:
    do
    COMMIT(0, 0)
    COMMIT(0, 1)
    COMMIT(1, 0)
    COMMIT(1, 1)
#if CAP > 2
    COMMIT(0, 2)
    COMMIT(0, 3)
    COMMIT(1, 2)
    COMMIT(1, 3)
#endif
#if CAP > 4
    COMMIT(0, 4)
    COMMIT(0, 5)
    COMMIT(0, 6)
    COMMIT(0, 7)
    COMMIT(1, 4)
    COMMIT(1, 5)
    COMMIT(1, 6)
    COMMIT(1, 7)
#endif
    od
}

/* ---- the blocks ------------------------------------------------------------------ */

/* rk__gpu_claim_host: the consumer's head (for head_cache and its
 * refresh), then tail, the signed room test and the CAS in one step. Sets
 * pos and st; h keeps the head that said full. */
inline claim_host(pos, st)
{
    h = head;
    atomic {
        t = tail;
#ifndef BUG_NO_ROOM_CHECK
        if
        :: t + 1 > h + CAP -> st = RK_EFULL
        :: else -> tail = t + 1; pos = t; st = RK_OK
        fi;
#else
        tail = t + 1; pos = t; st = RK_OK;
#endif
        t = 0
    }
}

/* rk__gpu_flush_pub_now: the system fence, then a relaxed store of
 * pos + 1 into each pending slot's sequence word (buffered: they land in
 * any order). */
inline flush_pub(p)
{
    atomic {
        FENCE(p) ->
        i = 0;
        do
        :: i < npub -> STORE_SEQ(p, SLOT(pub[i]), pub[i] + 1); pub[i] = 0; i++
        :: else -> break
        od;
        npub = 0;
        i = 0
    }
}

/* rk__gpu_send_host of block p's next message: the reserved slot, or a
 * claim (after RK_EFULL with sends pending: rk__gpu_flush_pub and one more
 * claim; still full: retried once the host has freed a slot); then
 * rk__gpu_write_msg with the owner mark as the sequence word, and the
 * position added to the pending list. */
inline send_host(p)
{
    if
    :: reserved -> reserved = 0; pos = rpos; rpos = 0
    :: else ->
        claim_host(pos, st);
        if
        :: st == RK_EFULL && npub > 0 -> flush_pub(p); claim_host(pos, st)
        :: else -> skip
        fi;
        do
        :: st == RK_OK -> break
        :: else ->
end_full:   head != h;
            claim_host(pos, st)
        od
    fi;
    atomic {
        NO_OVERWRITE(pos);
        expect[pos] = MSG_ID(p, sent);
        STORE_SEQ(p, SLOT(pos), MARK_WORD(pos, p));
        STORE_PAY(p, SLOT(pos), MSG_ID(p, sent));
        pub[npub] = pos;
        npub++;
        sent++;
        pos = 0; st = 0; h = 0
    };
    if
    :: npub == PUB_MAX -> flush_pub(p)
    :: else -> skip
    fi
}

/* Block p's thread 0: batches until it has sent NMSG_OF(p) messages. A
 * batch reserves a slot or not (rk__gpu_h2k: c->reserve), runs handlers
 * that send n messages (n = 0 only with a reservation: it becomes a NOP),
 * then rk__gpu_unreserve and rk__gpu_flush_pub. */
proctype block(byte p)
{
    byte sent, n, nops, t, h, pos, rpos, st, npub, i;
    byte pub[PUB_MAX];
    bool reserved;

    do
    :: atomic {
           sent < NMSG_OF(p) ->
           n = 1;
           do
           :: n < BMAX && n < NMSG_OF(p) - sent -> n++
           :: break
           od
       };
       if
       :: skip
       :: goto reserve
       fi;
       goto handlers
    :: atomic { nops < NNOP_OF(p) -> nops++; n = 0 };
reserve:
       /* rk__gpu_h2k: the reply's slot, marked with a relaxed store */
       claim_host(rpos, st);
       if
       :: st == RK_OK ->
           atomic {
               reserved = 1;
               NO_OVERWRITE(rpos);
               STORE_SEQ(p, SLOT(rpos), MARK_WORD(rpos, p));
               st = 0; h = 0
           }
       :: else -> atomic { st = 0; h = 0; rpos = 0 }
       fi;
handlers:
       do
       :: n > 0 -> send_host(p); n--
#ifdef HANG
       :: reserved || npub > 0 -> /* a handler that runs past every deadline */
           nhung++;
end_hung:  false
#endif
       :: n == 0 -> break
       od;
       /* rk__gpu_unreserve */
       if
       :: reserved ->
           atomic {
               reserved = 0;
               NO_OVERWRITE(rpos);
               expect[rpos] = NOP_ID(p);
               STORE_SEQ(p, SLOT(rpos), MARK_WORD(rpos, p));
               STORE_PAY(p, SLOT(rpos), NOP_ID(p))
           };
           if
           :: npub == PUB_MAX -> flush_pub(p)
           :: else -> skip
           fi;
           atomic { pub[npub] = rpos; npub++; rpos = 0 }
       :: else -> skip
       fi;
       if
       :: npub > 0 -> flush_pub(p)
       :: else -> skip
       fi
    :: sent == NMSG_OF(p) -> break
    od
}

/* ---- the host ---------------------------------------------------------------------- */

#if NMARKS == 1
#define LISTED(o) (nm > 0 && mown[0] == (o))
#define CLEAR_LIST nm = 0; mpos[0] = 0; mown[0] = 0
#else
#define LISTED(o) ((nm > 0 && mown[0] == (o)) || (nm > 1 && mown[1] == (o)))
#define CLEAR_LIST nm = 0; mpos[0] = 0; mown[0] = 0; mpos[1] = 0; mown[1] = 0
#endif

/* H1, where the host frees position pos (its head moves past it). */
#define FREE_CHECK(pos) PROP(H1, IS_NOP(expect[pos]) || dlv[expect[pos]])

/* rk__settle: over slots taken out of order and published NOPs at the
 * head; then rk_ring_consume (release store of head) if it moved. */
#ifdef BUG_TAKEN_KEPT
#define CLEAR_TAKEN(s) skip
#else
#define CLEAR_TAKEN(s) taken[s] = 0
#endif
inline settle()
{
    do
    :: atomic { taken[SLOT(hh)] -> CLEAR_TAKEN(SLOT(hh)); FREE_CHECK(hh); hh++ }
    :: atomic { !taken[SLOT(hh)] && PUBD(hh) && IS_NOP(pay[SLOT(hh)]) -> FREE_CHECK(hh); hh++ }
    :: else -> break
    od;
    if
    :: hh != head -> head = hh /* rk_ring_consume(r, host_head) */
    :: else -> skip
    fi
}

/* rk__hostq_moved (cuda_host_wait) as it is; BUG_MOVED_HEAD and
 * BUG_MOVED_MARKS bring back the code before its fixes. */
#ifdef BUG_MOVED_HEAD
#define WATCH_PAST_HEAD (wpos > head) /* if (pos <= head) return 0 */
#else
#define WATCH_PAST_HEAD (wpos >= head)
#endif
#ifdef BUG_MOVED_MARKS
#define LISTED_MOVED false
#elif NMARKS == 1
#define LISTED_MOVED (nm > 0 && !MARKED(mpos[0]))
#else
#define LISTED_MOVED ((nm > 0 && !MARKED(mpos[0])) || (nm > 1 && !MARKED(mpos[1])))
#endif
#define WAKE (PUBD(head) || (WATCH_PAST_HEAD && (wmark -> PUBD(wpos) : (PUBD(wpos) || MARKED(wpos)))) || LISTED_MOVED)

proctype host()
{
    byte hh;             /* host_head */
    byte scan;           /* host_scan */
    byte nm;             /* host_n_marks */
    byte mpos[NMARKS];   /* host_mark_pos */
    byte mown[NMARKS];   /* host_mark_owner */
    bool taken[CAP];     /* host_taken */
    byte wpos;           /* host_watch: where the last look stopped */
    bool wmark;          /* ... at a marked slot */
    byte pos, v, m, i, look;
    bool nop_head, final;

look_again:
    /* ---- rk__peek ---- */
    atomic { wpos = 0; wmark = 0 };
    settle();
    /* the listed marks: one published since sends the look back to the head */
#ifndef BUG_NO_RESCAN
    do
    :: atomic { i < nm && MARKED(mpos[i]) -> i++ }
    :: atomic {
           else ->
           if
           :: i < nm || scan < hh -> scan = hh; CLEAR_LIST
           :: else -> skip
           fi;
           i = 0; pos = scan; look = 0;
           break
       }
    od;
#else
    atomic {
        if
        :: scan < hh -> scan = hh; CLEAR_LIST
        :: else -> skip
        fi;
        pos = scan; look = 0
    };
#endif
    /* the scan, from the cursor */
    do
    :: atomic { !nop_head && pos >= hh + CAP -> break }
    :: atomic {
           !nop_head && pos < hh + CAP ->
           v = seq[SLOT(pos)]; /* rk_ring_look: one acquire load */
           if
           :: V_PUB(v, pos) ->
               look = 1;
               m = pay[SLOT(pos)];
               if
               :: pos != hh && taken[SLOT(pos)] -> pos++
#ifndef BUG_NO_OWNER_CHECK
               :: !(pos != hh && taken[SLOT(pos)]) && LISTED(SRC(m)) -> pos++
               :: !(pos != hh && taken[SLOT(pos)]) && !LISTED(SRC(m)) && IS_NOP(m) ->
#else
               :: !(pos != hh && taken[SLOT(pos)]) && IS_NOP(m) ->
#endif
                   if
                   :: pos == hh ->
#ifdef BUG_NOP_HEAD_CONSUME
                       FREE_CHECK(hh); hh++; pos++; /* rk_ring_consume(r, ++host_head) */
#endif
                       nop_head = 1
                   :: else -> taken[SLOT(pos)] = 1; pos++
                   fi
               :: else -> v = 0; goto found
               fi
           :: V_MARK(v, pos) ->
               look = 2;
               if
               :: LISTED(V_OWNER(v)) -> pos++
               :: else ->
                   if
                   :: nm == NMARKS -> v = 0; break
                   :: else -> mpos[nm] = pos; mown[nm] = V_OWNER(v); nm++; pos++
                   fi
               fi
           :: else ->
               look = 0;
#ifdef BUG_SKIP_UNMARKED
               pos++
#else
               v = 0; break
#endif
           fi;
           v = 0; m = 0
       }
    :: nop_head ->
#ifdef BUG_NOP_HEAD_CONSUME
        atomic { head = hh; nop_head = 0 }
#else
        /* the fix: rk__settle frees the NOP and what was taken after it,
         * and the scan goes on from the new head */
        settle();
        atomic { pos = hh; nop_head = 0 }
#endif
    od;
    /* nothing to take now */
    atomic {
        scan = pos;
        wpos = pos; wmark = (look == 2);
        pos = 0; look = 0;
        if
        :: final ->
            PROP(H1, nhung > 0 || next_k[0] + next_k[1] == TOTAL);
            goto end_host
        :: else -> skip
        fi
    };
    /* the host's wait (cuda_host_wait) */
    if
    :: WAKE -> skip
    :: timeout -> final = 1 /* rk_recv's deadline, after everything else stopped */
    fi;
    goto look_again;

found:
    atomic {
        /* a fresh look after everything stopped must find nothing */
        PROP(H4, !final);
        scan = pos; /* host_scan = host_peek = pos */
        look = 0;
        /* delivered (rk__try_recv, rk__try_reply) */
        PROP(H1, m == expect[pos] && !IS_NOP(m) && !dlv[m]);
        PROP(H2, KTH(m) == next_k[SRC(m)]);
        dlv[m] = 1;
        next_k[SRC(m)]++;
        m = 0;
        /* rk__advance */
        if
        :: pos == hh -> FREE_CHECK(hh); hh++
        :: else ->
#ifdef BUG_ADVANCE_PAST_TAKEN
            do
            :: hh <= pos -> FREE_CHECK(hh); hh++
            :: else -> break
            od
#else
            taken[SLOT(pos)] = 1
#endif
        fi;
        pos = 0
    };
    if
    :: hh != head -> head = hh; settle()
    :: else -> skip
    fi;
    goto look_again;
end_host:
    host_done = 1
}

init
{
    atomic {
        run memory();
        run block(0);
        run block(1);
        run host()
    }
}

/* Every run comes to rest: the host does not look for ever without taking
 * anything (no fairness needed: every wait is a blocking guard). */
ltl comes_to_rest { <> host_done }
