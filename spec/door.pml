/*
 * door.pml - the CUDA backend's actor-to-actor (K2K) send through the
 * receiver's door, and the owner block's lifecycle commands racing with it
 * (include/ringkernel/device.cuh, as in the working tree of 2026-12-01;
 * the checkpoint's hold as of commit 6be7508).
 *
 * Mirrors:
 *   sender       rk__gpu_k2k_put: rk__gpu_door_enter (acquire fetch-add of
 *                the door word: count, block + 1, open bit, tenant); closed:
 *                the state and forward loads, rk__gpu_door_leave (release),
 *                a status; open: the block and tenant checks (RK_ETENANT,
 *                leaving at once), the generation load only when the message
 *                names one, the claim (from the sender's rk__gpu_k2k_hint
 *                when it names this block, else a relaxed load of tail and an
 *                acquire load of head_cache; the consumer's head reloaded,
 *                acquire, and head_cache stored, release, only when the guess
 *                says full; RK_EFULL saving the hint; a CAS on tail that on
 *                failure returns the current tail), rk__gpu_write_msg of the
 *                message or, for a named generation that does not match, of
 *                an RK_MSG_TYPE_NOP (RK_ESTALE), fence.acq_rel.gpu, the
 *                relaxed sequence store, the relaxed decrement
 *   owner        the receiver's block, thread 0: rk__gpu_decide /
 *                rk__gpu_k2k / rk__gpu_deliver (a NOP is skipped, a slot
 *                naming another generation is dead-lettered RK_ESTALE),
 *                rk__gpu_publish_k2k, rk__gpu_term_check (the tail compared
 *                with the head, then Terminated and rk__gpu_door_unbind),
 *                rk__gpu_event_cmd (deactivate, activate, terminate),
 *                rk__gpu_bind_begin (restart, bound or after Terminated:
 *                generation, state, rk__gpu_gate_open), rk__gpu_gate_close
 *                (red.and clearing the open bit; with wait, acquire loads
 *                until the count is zero); with RESET_PATH also the failed
 *                create (rk__gpu_fail: gate closed without waiting) and
 *                rk__gpu_reset_cmd (close, wait, dead-letter every non-NOP
 *                slot up to the tail, publish the head, Dormant, unbind);
 *                with HOLD also rk__gpu_hold_cmd: HOLD_ON (refused unbound,
 *                held or terminating; rk__gpu_gate_close with wait, `held`,
 *                rk__gpu_publish_k2k, the acknowledgement), HOLD_SKIP and
 *                the skip of HOLD_RETIRE (the tail loaded, acquire, and the
 *                position checked against it; for each skipped slot an
 *                acquire wait for its sequence word, as in the reset; the
 *                head published), HOLD_OFF (an Active actor's door opened
 *                again with rk__gpu_gate_open) and the end of HOLD_RETIRE
 *                (the door left closed); held, rk__gpu_decide takes no
 *                message
 *   host         its commands arrive between two messages, one at a time,
 *                each waiting for its acknowledgement (rk__cuda_command
 *                under b->lock); the generation of a restart is the
 *                previous one + 1 (rk__cuda_actor_command); with HOLD,
 *                a checkpoint (rk__cuda_snap_pause, _restore, _resume,
 *                _retire): HOLD_ON; then, held, optionally HOLD_SKIP (a
 *                replacing restore), then HOLD_OFF (the resume) or
 *                HOLD_RETIRE (a migration's old home), each naming the
 *                K2K tail the host found after the acknowledgement
 *                (hold_k2k[1]); no other command while held (b->lock)
 *
 * Bounds (defaults): one receiver R on one block (its K2K ring: CAP = 2
 * slots) with tenant 1, Active with generation 1. Senders, each on its own
 * block with its own hint: S0 (tenant 1) sends NM0 = 2 messages, each naming
 * generation 0 (any) or the generation the host last acknowledged (stale
 * once a restart has happened since); S1 (tenant TEN1 = 2) sends NM1 = 1
 * naming none. The owner runs NCMD = 2 commands, each any of deactivate,
 * activate, terminate, restart (refused ones as the C code refuses them),
 * between any two of its other steps. -DTEN1=1 makes S1 a second producer
 * of the ring: three messages in two slots, so full rings, the head reload
 * and hints gone stale by the other producer's claims.
 * RESET_PATH: R starts Dormant; its create (generation 1) opens the door and
 * its init may fail once, and then the host resets it (rk__cuda_actor_create
 * -> rk__cuda_unbind_failed) and creates a new actor under the same id, of
 * tenant 1 or 2, on the same block. The reset waits for each slot's
 * sequence word before it reads the slot, as the code does since the
 * finding spec/findings/k2k-reset-late-sequence.md; BUG_RESET_NO_WAIT reads
 * the slots without it, as the code did before.
 * HOLD: NHOLD = 1 checkpoint, begun between any two of the owner's steps
 * when no terminate has begun; its commands come one at a time, with the
 * senders' steps and the owner's other steps between them. A skip moves
 * the head to the tail, and the host takes (dead-letters or moves) the
 * skipped messages. BUG_HOLD_SKIP_NO_WAIT skips without waiting for the
 * sequence words: a late sequence store of a skipped slot can then land
 * after the next lap's, as in the reset's finding (it needs two producers
 * of the ring: -DTEN1=1).
 *
 * Weak memory. Promela is sequentially consistent; the orders that matter
 * are modelled as in ring_common.pml and migrate.pml:
 *   - the sequence store after the fence is buffered (pend_*): the `memory`
 *     process makes it visible at any later time, so it may become visible
 *     after the door decrement (they are unordered: both follow the fence)
 *     and after later steps of the same sender, up to its next fence or its
 *     next store to the same word (coherence);
 *   - everything the sender writes before the fence (the CAS on tail, the
 *     slot) is visible before its decrement: an owner that reads the count
 *     zero (acquire) sees it. The slot's bytes, the fence and the buffered
 *     sequence store are one step (nobody reads the bytes before the
 *     sequence word or the count says so). A missing order is a seeded bug
 *     that moves the step across (BUG_LEAVE_BEFORE_CLAIM,
 *     BUG_GEN_BEFORE_ENTER, BUG_OPEN_BEFORE_GEN), as migrate.pml does;
 *   - the door's fetch-adds and red.and, the owner's CAS loop that opens it,
 *     and the CAS on tail are read-modify-writes: one step each, in one
 *     total order per word. Every wait (the count, a sequence word, the
 *     tail) is a blocking guard.
 * Not modelled: the PTX memory model itself (scopes, the observation order
 * of RMW chains that lets the count read zero synchronise with every
 * sender's fence: assumed, as the PTX model states it); torn slot copies and
 * the order of the slot's bytes against its sequence word (ring_mpsc.pml's
 * K_DEV path); the order of the index words among themselves
 * (ring_mpsc.pml: here the relaxed tail load and the acquire head_cache
 * load are one step, and so are the head reload and its release store to
 * head_cache, a fold that loses only a head_cache moving back, which is
 * cautious); the state and forward loads of a closed door (one step with
 * the leave: every value gives a refusal; forward is always 0: migrations
 * are migrate.pml's); the host's inbox (h2k_final is taken as reached);
 * handler failures other than the failed create of RESET_PATH; more than
 * one receiver or block, shared-memory and DSMEM tiers, the bridge. Of the
 * hold: its inbox half (the h2k heads, h2k_final), the host's copy and its
 * merge, a timed-out HOLD_ON, and the host's look itself: rk__cuda_hold_look
 * re-reads its copy of the ring until every sequence word below the tail
 * has landed, but a copy the host reads does not order the block's own
 * loads, and the block takes any position up to the tail it loads, so the
 * model checks the skip's own wait without the host's (with it, the
 * host's wait would hide BUG_HOLD_SKIP_NO_WAIT).
 *
 * Properties:
 *   G1 no cross-tenant message is handled: a handler runs only on messages
 *      whose sender's tenant is the receiver's;
 *   G2 generations: a handled message that names a generation is handled by
 *      that incarnation (a ghost counter independent of the generation
 *      field), and a send naming a generation is told RK_OK only if that
 *      incarnation is the current one, RK_ESTALE only if it is not (at the
 *      step that writes the slot, inside the door);
 *   G3 every message is refused to its sender with a status, handled,
 *      dead-lettered (at delivery, as stale, or by a reset), or taken by the
 *      host (skipped by a hold: the host dead-letters or moves its copy):
 *      exactly one (at most one asserted as each happens; at least one once
 *      all is done); and a hold's skip starts at the head the hold
 *      acknowledged (or the previous skip reached), so the block skips
 *      exactly the positions whose copies the host takes;
 *   G4 a NOP is never handled;
 *   G5 the tail is final once the count reads zero: from the owner's read
 *      of a zero count behind its closed door until it opens the door again,
 *      no sender claims a position or writes a slot of the ring; terminate
 *      completes only in that state, with every position up to the tail
 *      handled;
 *   G6 ring: no slot is written before the message of its previous lap has
 *      been consumed, and the owner reads (delivery, reset) at position p
 *      only the slot written for p;
 *   G7 every state stored is an edge of the lifecycle diagram (the reset's
 *      return to Dormant, "as if never created", is outside it and exempt);
 * no invalid end state (a blocked owner or sender is one), and ltl all_done:
 * every run ends with the audit done (no fairness assumption: every wait is
 * a blocking guard, not a spin).
 */

#include "rk_common.pml"

hidden byte G1, G2, G3, G4, G5, G6, G7;

#ifdef BUG_NOP_HANDLED
#define BUG_NOP true
#else
#define BUG_NOP false
#endif

#ifndef CAP
#define CAP 2
#endif
#ifndef NM0
#define NM0 2
#endif
#ifndef NM1
#define NM1 1
#endif
#ifndef TEN1
#define TEN1 2
#endif
#ifndef NCMD
#define NCMD 2
#endif
#ifndef NHOLD
#ifdef HOLD
#define NHOLD 1
#else
#define NHOLD 0
#endif
#endif
#define NS 2
#define NMSG (NM0 + NM1)
#define TEN_R 1 /* the receiver's tenant (RESET_PATH: the second actor's is 1 or 2) */
#define F_HOST 4 /* skipped by a hold: the host dead-letters or moves its copy */

/* ---- shared words ---- */
/* rk__gpu_dir: the door word's fields, and the generation */
byte door_cnt;   /* bits 0-15: senders inside */
bool door_slot;  /* bits 16-30: block + 1 (the one block: 0 or 1) */
bool door_open;  /* bit 31 */
byte door_ten;   /* bits 32-63 */
byte dir_gen;
/* the receiver block's K2K ring (device memory) */
byte ring_tail;  /* prod->tail */
byte head_cache; /* prod->head_cache */
byte cons_head;  /* cons->head */
byte seq[CAP];     /* visible sequence words */
byte slot_id[CAP]; /* message id + 1 written into the slot */
bool slot_nop[CAP];
byte slot_pos[CAP]; /* ghost: position + 1 the slot was written for */
/* each sender's buffered sequence store */
bool pend_v[NS];
byte pend_slot[NS];
byte pend_val[NS];

/* ---- the receiver (its block's private state; global for the asserts) ---- */
byte r_state;
byte r_gen;  /* c->generation */
byte r_ten;  /* c->tenant */
byte inc;    /* ghost: incarnation, bumped as a (re)start takes its generation */
bool bound;
bool terminating;
bool held;   /* c->held: a checkpoint holds the block (HOLD) */
byte k2k_head, k2k_pub;
bool sealed; /* ghost: the owner read the count zero behind its closed door */
/* what the host acknowledged last: the generation a sender can know */
byte known_gen, known_inc;

/* ---- messages ---- */
byte m_gen[NMSG];  /* dst_gen */
byte m_ginc[NMSG]; /* ghost: the incarnation of that generation */
byte m_ten[NMSG];  /* tenant field (the sender's: rk__gpu_send_once) */
byte fate[NMSG];
byte senders_left = NS;
bool done;

inline set_fate(i, f)
{
    PROP(G3, fate[i] == F_NONE); /* at most one fate */
    fate[i] = f
}

/* ---- sender -------------------------------------------------------------- */

/* rk__gpu_k2k_put for message id; the hint is h_*. */
proctype sender(byte me)
{
    byte k, id, gen, tail, head, dten;
    bool open, dslot, inside, go, ok;
    bool h_valid;
    byte h_tail, h_head;
    do
    :: me == 0 && k == NM0 -> break
    :: me == 1 && k == NM1 -> break
    :: (me == 0 && k < NM0) || (me == 1 && k < NM1) ->
        atomic { /* rk__gpu_send_once: the header, dst_gen as learnt */
            id = (me == 0 -> k : NM0 + k);
            k++;
            m_ten[id] = (me == 0 -> TEN_R : TEN1);
            if
            :: me == 0 && known_gen != 0 -> m_gen[id] = known_gen; m_ginc[id] = known_inc
            :: me == 0 -> skip /* names none */
            :: me != 0 -> skip /* S1 names none */
            fi
        }
#ifdef BUG_GEN_BEFORE_ENTER
        /* a relaxed increment: the generation load may be satisfied first */
        if
        :: m_gen[id] != 0 -> gen = dir_gen
        :: else -> skip
        fi;
#endif
        atomic { /* rk__gpu_door_enter: acquire fetch-add */
            door_cnt++;
            open = door_open; dslot = door_slot; dten = door_ten;
            inside = true; go = open
        }
        if
        :: !open -> atomic { door_cnt--; inside = false; set_fate(id, F_REFUSED) } /* RK_ENOACTOR/RK_ESTATE */
        :: else -> skip
        fi;
        if
        :: go ->
            assert(dslot); /* an open door names a block */
#ifndef BUG_NO_TENANT_CHECK
            if
            :: dten != m_ten[id] ->
                atomic { door_cnt--; inside = false; go = false; set_fate(id, F_REFUSED) } /* RK_ETENANT */
            :: else -> skip
            fi;
#endif
            skip
        :: else -> skip
        fi;
#ifdef BUG_LEAVE_BEFORE_CLAIM
        /* the decrement not ordered after the claim (no fence before it, or
         * issued first): it may be seen before the CAS */
        if
        :: go -> atomic { door_cnt--; inside = false }
        :: else -> skip
        fi;
#endif
#ifndef BUG_GEN_BEFORE_ENTER
        if
        :: go && m_gen[id] != 0 -> gen = dir_gen /* relaxed, after the acquire */
        :: else -> skip
        fi;
#endif
        if
        :: go ->
            if /* the claim's start: the hint, or tail and head_cache */
            :: h_valid -> tail = h_tail; head = h_head
            :: else -> atomic { tail = ring_tail; head = head_cache }
            fi;
            do
            :: tail + 1 - head > CAP ->
                /* the guess says full: the consumer's head (acquire), then
                 * head_cache (release) */
                atomic { head = cons_head; head_cache = head };
                if
                :: tail + 1 - head > CAP ->
                    atomic {
                        h_valid = true; h_tail = tail; h_head = head;
                        if
                        :: inside -> door_cnt--; inside = false
                        :: else -> skip
                        fi;
                        go = false;
                        set_fate(id, F_REFUSED) /* RK_EFULL */
                    };
                    break
                :: else -> skip
                fi
            :: atomic { tail + 1 - head <= CAP && ring_tail != tail -> tail = ring_tail } /* the CAS fails */
            :: atomic { tail + 1 - head <= CAP && ring_tail == tail ->
                   PROP(G5, !sealed);
                   ring_tail = tail + 1 };
                break
            od
        :: else -> skip
        fi;
        if
        :: go ->
            atomic {
                h_valid = true; h_tail = tail + 1; h_head = head;
                ok = (m_gen[id] == 0 || m_gen[id] == gen);
                PROP(G5, !sealed);
                PROP(G6, tail < k2k_head + CAP);
                PROP(G2, !ok || m_gen[id] == 0 || m_ginc[id] == inc); /* RK_OK: the current one */
                PROP(G2, ok || m_ginc[id] != inc);                    /* RK_ESTALE: an old one */
                /* a store to the same word as the pending one: coherence */
                if
                :: pend_v[me] && pend_slot[me] == tail % CAP -> seq[pend_slot[me]] = pend_val[me]; pend_v[me] = false
                :: else -> skip
                fi;
                /* rk__gpu_write_msg: the message, or a NOP in its place */
                slot_id[tail % CAP] = id + 1;
                slot_pos[tail % CAP] = tail + 1;
#ifdef BUG_STALE_NOT_NOP
                slot_nop[tail % CAP] = false;
#else
                slot_nop[tail % CAP] = !ok;
#endif
                /* fence.acq_rel.gpu: earlier stores visible, then the
                 * relaxed sequence store, buffered */
                if
                :: pend_v[me] -> seq[pend_slot[me]] = pend_val[me]
                :: else -> skip
                fi;
                pend_v[me] = true; pend_slot[me] = tail % CAP; pend_val[me] = tail + 1
            };
            atomic { /* the relaxed decrement, after the fence */
                if
                :: inside -> door_cnt--; inside = false
                :: else -> skip
                fi;
                if
                :: !ok -> set_fate(id, F_REFUSED) /* RK_ESTALE */
                :: else -> skip
                fi
            }
        :: else -> skip
        fi;
        atomic { id = 0; gen = 0; tail = 0; head = 0; dten = 0; open = false; dslot = false; go = false; ok = false; inside = false }
    od;
    senders_left--
}

/* Buffered sequence stores become visible one at a time, in any order. */
proctype memory()
{
end:
    do
    :: atomic { pend_v[0] -> seq[pend_slot[0]] = pend_val[0]; pend_v[0] = false; pend_slot[0] = 0; pend_val[0] = 0 }
    :: atomic { pend_v[1] -> seq[pend_slot[1]] = pend_val[1]; pend_v[1] = false; pend_slot[1] = 0; pend_val[1] = 0 }
    od
}

/* ---- owner --------------------------------------------------------------- */

/* rk__gpu_gate_close(c, 1): red.and, then acquire loads until the count is
 * zero. The rest of the caller's step is folded into the wait's. */
inline gate_close_wait()
{
#ifdef BUG_NO_WAIT
    atomic { door_open = false; sealed = true }
#else
    door_open = false;
    atomic { door_cnt == 0 -> sealed = true }
#endif
}

/* rk__gpu_gate_open: fence, then the CAS loop keeping the count. */
inline gate_open()
{
    atomic { door_open = true; door_slot = true; door_ten = r_ten; sealed = false }
}

inline set_state(s)
{
    PROP(G7, ALLOWED_EDGE(r_state, s));
    r_state = s
}

/* rk__gpu_bind_begin's common part and rk__gpu_exec: the generation is
 * stored, then the door opens (its fence is the release the senders'
 * acquire increment pairs with); init succeeds, the host is answered. */
inline bind_rest()
{
#ifdef BUG_OPEN_BEFORE_GEN
    gate_open();
    atomic { dir_gen = r_gen; set_state(RK_INITIALIZING) };
#else
    atomic { dir_gen = r_gen; set_state(RK_INITIALIZING) };
    gate_open();
#endif
}

inline init_ok()
{
    atomic { set_state(RK_ACTIVE); known_gen = r_gen; known_inc = inc }
}

/* A restart (rk__cuda_actor_command: generation + 1). */
inline restart()
{
    if
    :: bound ->
        lifecycle_next(r_state, RK_EV_RESTART, to, st);
        if
        :: st == RK_OK ->
            gate_close_wait();
            atomic { terminating = false; r_gen++; inc++ };
            bind_rest();
            init_ok()
        :: else -> skip /* acknowledged with the status */
        fi
    :: !bound ->
        /* Terminated: bind again (here, to the same block: its ring's
         * positions go on growing) */
        atomic {
            lifecycle_next(r_state, RK_EV_RESTART, to, st);
            if
            :: st == RK_OK -> assert(!door_slot); bound = true; r_gen++; inc++
            :: else -> skip
            fi
        };
        if
        :: st == RK_OK -> bind_rest(); init_ok()
        :: else -> skip
        fi
    fi
}

/* rk__gpu_event_cmd */
inline event_cmd(ev)
{
    atomic {
        lifecycle_next(r_state, ev, to, st);
        if
        :: !bound -> st = RK_ENOACTOR
        :: st == RK_OK && terminating -> st = RK_ESTATE
        :: else -> skip
        fi
    };
    if
    :: st == RK_OK && ev == RK_EV_DEACTIVATE ->
        gate_close_wait();
        set_state(RK_DRAINING)
    :: st == RK_OK && ev == RK_EV_ACTIVATE ->
        atomic { set_state(RK_ACTIVE); gate_open() }
    :: st == RK_OK && ev == RK_EV_TERMINATE ->
        gate_close_wait();
        atomic {
            if
            :: r_state == RK_ACTIVE -> set_state(RK_DRAINING)
            :: else -> skip
            fi;
            terminating = true
        }
    :: else -> skip
    fi
}

#ifdef RESET_PATH
/* rk__gpu_reset_cmd, after the create's init failed. */
inline reset_cmd()
{
    gate_close_wait();
    atomic { tail = ring_tail }; /* acquire: final behind the empty door */
    do
    :: k2k_head == tail -> break
    :: atomic {
#ifndef BUG_RESET_NO_WAIT
           k2k_head != tail && seq[k2k_head % CAP] == k2k_head + 1 ->
#else
           k2k_head != tail ->
#endif
           s = k2k_head % CAP;
           PROP(G6, slot_pos[s] == k2k_head + 1);
           if
           :: !slot_nop[s] -> set_fate(slot_id[s] - 1, F_DEAD) /* RK_ESTATE */
           :: else -> skip
           fi;
           k2k_head++;
           s = 0
       }
    od;
    atomic {
        cons_head = k2k_head; k2k_pub = k2k_head; /* rk__gpu_publish_k2k */
        r_state = RK_DORMANT; /* outside the diagram: as if never created */
        door_slot = false; bound = false; tail = 0
    }
}

/* A create (rk__cuda_actor_create: generation 1) of actor R's id with
 * tenant t; the first may fail in init, and then the host resets it. */
inline create(t)
{
    atomic { assert(!door_slot); bound = true; r_gen = 1; r_ten = t; inc++ };
    bind_rest();
    if
    :: fails == 0 ->
        fails++;
        /* rk__gpu_fail: the door closed without waiting */
        atomic { door_open = false; set_state(RK_FAILED) };
        reset_cmd()
    :: true -> init_ok()
    fi
}
#endif

#ifdef HOLD
/* rk__gpu_hold_cmd, RK__GPU_HOLD_ON: refused unbound, held or terminating;
 * else the door closed with the wait, held, the heads published (release),
 * the acknowledgement. The host's look then reads the tail (final: the
 * count read zero behind the closed door) as the position SKIP and RETIRE
 * name. It also waits, in its copy, for every sequence word below the
 * tail; that wait is not modelled (see the header). */
inline hold_on()
{
    atomic {
        if
        :: !bound -> st = RK_ENOACTOR
        :: bound && (held || terminating) -> st = RK_ESTATE
        :: else -> st = RK_OK
        fi
    };
    if
    :: st == RK_OK ->
        gate_close_wait();
        atomic {
            held = true;
            cons_head = k2k_head; k2k_pub = k2k_head; /* rk__gpu_publish_k2k */
            hold_from = k2k_head; hold_to = ring_tail
        }
    :: else -> skip
    fi
}

/* rk__gpu_hold_cmd, RK__GPU_HOLD_SKIP and the skip of _RETIRE: the tail
 * (acquire), the position checked against it, then, slot by slot, the
 * wait for the sequence word (as rk__gpu_reset_cmd) and the head moved
 * past the slot, whose message the host takes; the head published. */
inline hold_skip()
{
    atomic {
        PROP(G3, k2k_head == hold_from); /* the host takes what the block skips */
        tail = ring_tail;
        if
        :: hold_to < k2k_head || hold_to > tail -> st = RK_EINVAL
        :: else -> st = RK_OK
        fi;
        tail = 0
    };
    if
    :: st == RK_OK ->
        do
        :: k2k_head == hold_to -> break
        :: atomic {
#ifndef BUG_HOLD_SKIP_NO_WAIT
               k2k_head != hold_to && seq[k2k_head % CAP] == k2k_head + 1 ->
#else
               k2k_head != hold_to ->
#endif
               s = k2k_head % CAP;
               PROP(G6, slot_pos[s] == k2k_head + 1); /* the host's copy of p is p's */
               if
               :: !slot_nop[s] -> set_fate(slot_id[s] - 1, F_HOST)
               :: else -> skip
               fi;
               k2k_head++;
               s = 0
           }
        od;
        atomic { cons_head = k2k_head; k2k_pub = k2k_head; hold_from = k2k_head } /* rk__gpu_publish_k2k */
    :: else -> skip
    fi
}

/* rk__gpu_hold_cmd, RK__GPU_HOLD_OFF (retire false: an Active actor's door
 * opens again) and the end of _RETIRE (the door stays closed). */
inline hold_end(retire)
{
    atomic {
        held = false;
        if
        :: !retire && r_state == RK_ACTIVE -> gate_open()
        :: else -> skip
        fi
    }
}
#endif

proctype owner()
{
    byte ncmd, ev, to, st, s, id, g, tail, fails;
    byte nhold, hold_from, hold_to; /* HOLD: the holds begun; the host's copy, [from, to) */
    bool skipped;
#ifdef RESET_PATH
    create(TEN_R);
    if
    :: r_state == RK_DORMANT ->
        /* the id is reused by a new actor, of either tenant */
        if
        :: create(1)
        :: create(2)
        fi
    :: else -> skip
    fi;
#endif
    do
    :: ncmd < NCMD && !terminating && !held ->
        atomic {
            ncmd++;
            if
            :: ev = RK_EV_DEACTIVATE
            :: ev = RK_EV_ACTIVATE
            :: ev = RK_EV_TERMINATE
            :: ev = RK_EV_RESTART
            fi
        };
        if
        :: ev == RK_EV_RESTART -> restart()
        :: else -> event_cmd(ev)
        fi;
        atomic { ev = 0; to = 0; st = 0 }
    :: atomic { /* rk__gpu_term_check: the tail (acquire) reached */
#ifdef BUG_TERM_BY_SEQ
           /* done when the next slot is not ready, instead of at the tail */
           terminating && seq[k2k_head % CAP] != k2k_head + 1 ->
#else
           terminating && ring_tail == k2k_head ->
#endif
           PROP(G5, sealed && !door_open);
           set_state(RK_TERMINATED);
           door_slot = false;                   /* rk__gpu_door_unbind */
           cons_head = k2k_head; k2k_pub = k2k_head; /* rk__gpu_publish_k2k */
           bound = false; terminating = false
       }
    :: atomic { /* rk__gpu_decide sees the sequence word; rk__gpu_k2k */
           bound && !held && RUNS(r_state) && seq[k2k_head % CAP] == k2k_head + 1 ->
           s = k2k_head % CAP;
           PROP(G6, slot_pos[s] == k2k_head + 1);
           id = slot_id[s] - 1;
           g = (slot_nop[s] -> 0 : m_gen[id]); /* a NOP names no generation */
           if /* rk__gpu_deliver */
#ifndef BUG_NOP_HANDLED
           :: slot_nop[s] -> skip /* a refused send's slot */
#endif
           :: (!slot_nop[s] || BUG_NOP) && g != 0 && g != r_gen ->
               set_fate(id, F_DEAD) /* RK_ESTALE */
           :: (!slot_nop[s] || BUG_NOP) && (g == 0 || g == r_gen) ->
               PROP(G4, !slot_nop[s]);
               PROP(G1, m_ten[id] == r_ten);
               PROP(G2, m_gen[id] == 0 || m_ginc[id] == inc);
               set_fate(id, F_HANDLED)
           fi;
           k2k_head++;
           s = 0; id = 0; g = 0
       }
    :: atomic { /* rk__gpu_publish_k2k, at once or when idle: release */
           k2k_pub != k2k_head -> cons_head = k2k_head; k2k_pub = k2k_head
       }
#ifdef HOLD
    :: atomic { nhold < NHOLD && !held && !terminating -> nhold++ }; /* a pause */
        hold_on();
        st = 0
    :: held && !skipped -> /* a replacing restore */
        hold_skip();
        atomic { skipped = true; st = 0 }
    :: held -> /* the resume, or a migration's retire */
        if
        :: hold_end(false)
        :: hold_skip(); hold_end(true)
        fi;
        atomic { skipped = false; hold_from = 0; hold_to = 0; st = 0 }
#endif
    :: ncmd == NCMD && nhold == NHOLD && !held && !terminating && senders_left == 0 &&
       (!bound || !RUNS(r_state) || ring_tail == k2k_head) -> break
    od;
    atomic {
        cons_head = k2k_head; k2k_pub = k2k_head;
        id = 0;
        do /* G3: at least one fate for every message */
        :: id < NMSG -> PROP(G3, fate[id] != F_NONE); id++
        :: else -> break
        od;
        done = true
    }
}

init
{
    atomic {
#ifdef RESET_PATH
        r_state = RK_DORMANT;
#else
        /* R created: Active, generation 1, the door open */
        r_state = RK_ACTIVE; r_gen = 1; r_ten = TEN_R; inc = 1; bound = true;
        dir_gen = 1; door_open = true; door_slot = true; door_ten = TEN_R;
        known_gen = 1; known_inc = 1;
#endif
        run memory();
        run owner();
        run sender(0);
        run sender(1)
    }
}

ltl all_done { <> done }
