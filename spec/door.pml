/*
 * door.pml - the CUDA backend's actor-to-actor (K2K) send through the
 * receiver's door, and the owner block's lifecycle commands racing with it
 * (include/ringkernel/device.cuh, as in the working tree of 2026-12-01;
 * the checkpoint's hold as of commit 6be7508; the cluster tier as of
 * commit b5aa9f4).
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
 *   cluster      with CLUSTER, the cluster tier of K2K: R's block has a
 *                second ring (its shared memory, written through DSMEM by
 *                the blocks of its cluster); a sender of R's cluster goes on
 *                from the same door (open, tenant, generation) into
 *                rk__gpu_ck2k_put: the claim (hint, or tail and consumer
 *                head; the head reloaded when full; RK_EFULL; CAS), the
 *                message or NOP, fence.acq_rel.cluster, the buffered
 *                sequence store, the door's decrement. The owner:
 *                rk__gpu_decide takes from either ring when it holds a
 *                message, from the cluster ring only once k2k_head has
 *                reached ck2k_after (rk__gpu_ck2k, rk__gpu_publish_ck2k);
 *                rk__gpu_term_check also waits for the cluster ring
 *                (rk__gpu_ck2k_empty); rk__gpu_reset_cmd then
 *                rk__gpu_ck2k_shed (each sequence word waited for, the
 *                messages dead-lettered); with HOLD, HOLD_ON calls
 *                rk__gpu_ck2k_spill after the door is closed and empty:
 *                the cluster ring's messages, each after its sequence word,
 *                copied to the end of the global ring claimed with one CAS
 *                for all n, their sequence words after the fence, ck2k_head
 *                at the cluster tail and ck2k_after past the copies; or,
 *                when gtail + n - k2k_head exceeds the capacity, nothing
 *                moved, the door opened again for an Active actor and
 *                RK_EFULL (no hold). The host then reads the global ring
 *                as before.
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
 * CLUSTER: S0 is in R's cluster and sends into the cluster ring (CCAP =
 * CAP slots); S1 sends into the global ring, or with -DTIER1=1 is in the
 * cluster too (each sender's tier is fixed: one actor per block, both
 * bound throughout). With -DTEN1=1 both rings get messages, so a spill can
 * be refused (S1's message in the global ring, S0's two in the cluster
 * ring: 1 + 2 > 2); with -DTIER1=1 the cluster ring has two producers,
 * which a late sequence word needs (BUG_SPILL_NO_WAIT, BUG_SHED_NO_WAIT,
 * as for the skip above). When both rings hold a message the model takes
 * either: rk__gpu_decide loads the cluster word before the global one and
 * alternates (ck2k_turn) when both are ready, and every choice it makes is
 * among the model's (a superset: the turn only narrows it).
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
 *   - CLUSTER: the cluster ring follows the same rules (its sequence
 *     stores buffered in the same pend_* of the sender, which uses one
 *     ring). The spill's global sequence stores are the owner's own: it
 *     reads them itself, and the host only after the acknowledgement, so
 *     they are visible at once. The spill's load of the global tail, its
 *     room check and its CAS are one step (behind the empty door no
 *     producer is left).
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
 * one receiver or block, the shared-memory tier, the bridge. Of the
 * cluster tier: scopes (the sender's fence is .cluster, its decrement and
 * the owner's acquire of the door .gpu, and the ring words are reached
 * through mapa at .cluster scope: the code's comments argue why both
 * scopes hold both blocks; here every access is sequentially consistent),
 * ck2k_turn (above), the quiescence counters (ck2k_sent, ck2k_taken), the
 * shed at kernel exit (rk__gpu_block_exit), placement (near) and a
 * receiver moving between blocks (a sender's tier fixed). Of the
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
 * and with CLUSTER, G3 and G6 cover both rings and the spill's copies (a
 * spilled message is one message: its fate comes when it leaves the
 * global ring), G5 covers both rings' claims and asserts at terminate
 * that no slot of either ring holds a message written for a position at
 * or past that ring's head, and:
 *   G8 each sender's order: the messages of one sender leave R's rings
 *      (handled, dead-lettered, or taken by the host) in the order it sent
 *      them, across a spill too (S0's spilled messages before its later
 *      ones, which the cluster ring gets after HOLD_OFF);
 *   G9 a HOLD_ON refused by the spill (RK_EFULL) changes nothing: not
 *      held, the global tail as it was, the cluster ring's messages still
 *      there, the door open again exactly when the actor is Active;
 * no invalid end state (a blocked owner or sender is one), and ltl all_done:
 * every run ends with the audit done (no fairness assumption: every wait is
 * a blocking guard, not a spin).
 */

#include "rk_common.pml"

hidden byte G1, G2, G3, G4, G5, G6, G7, G8, G9;

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
#ifdef CLUSTER
#define SENDER(i) ((i) < NM0 -> 0 : 1) /* who sent message i */
#ifndef CCAP
#define CCAP CAP
#endif
#ifndef TIER1
#define TIER1 0 /* 1: S1 is in R's cluster too */
#endif
#define TIER(me) ((me) == 0 || TIER1 == 1) /* the sender's tier for R: 1 cluster, 0 global */
#define ON_GLOBAL(me) (!TIER(me))
#else
#define ON_GLOBAL(me) true
#endif
#define TEN_R 1 /* the receiver's tenant (RESET_PATH: the second actor's is 1 or 2) */
#define F_HOST 4 /* skipped by a hold: the host dead-letters or moves its copy */
#ifdef CLUSTER
#define CK2K_EMPTY (c_tail == ck2k_head)
#else
#define CK2K_EMPTY true
#endif

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
#ifdef CLUSTER
/* the receiver block's cluster-tier ring (its shared memory; the senders
 * of its cluster reach it through DSMEM) */
byte c_tail;        /* prod->tail */
byte c_head;        /* cons->head (there is no head_cache on this path) */
byte cseq[CCAP];
byte cslot_id[CCAP];
bool cslot_nop[CCAP];
byte cslot_pos[CCAP];
#endif
/* each sender's buffered sequence store (into its tier's ring) */
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
#ifdef CLUSTER
byte ck2k_head, ck2k_pub;
byte ck2k_after; /* the cluster ring is taken from only once k2k_head reaches this */
byte last[NS];   /* ghost (G8): id + 1 of each sender's message taken last */
#endif
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

/* Message i leaves R's rings: handled, dead-lettered, or taken by the host.
 * With CLUSTER, G8: in its sender's order. */
inline took(i, f)
{
    set_fate(i, f);
#ifdef CLUSTER
    PROP(G8, i + 1 > last[SENDER(i)]);
    last[SENDER(i)] = i + 1
#endif
}

/* A buffered sequence store of sender me becomes visible. */
#ifdef CLUSTER
#define LAND(me) if :: TIER(me) -> cseq[pend_slot[me]] = pend_val[me] :: else -> seq[pend_slot[me]] = pend_val[me] fi
#else
#define LAND(me) seq[pend_slot[me]] = pend_val[me]
#endif

#ifdef CLUSTER
/* rk__gpu_ck2k_put: the rest of a put whose receiver is on a block of the
 * sender's cluster (the door entered and open, the tenant checked, the
 * generation loaded): the claim in R's cluster-tier ring, from the hint
 * when it names that ring, else a relaxed load of its tail and an acquire
 * load of its consumer head (one step, as on the global ring); the head
 * reloaded (acquire) only when the guess says full; RK_EFULL saving the
 * hint and leaving; the CAS on tail; rk__gpu_k2k_write; fence.acq_rel.cluster
 * and the buffered relaxed sequence store; the relaxed decrement. */
inline ck2k_put(me)
{
    if
    :: h_valid -> tail = h_tail; head = h_head
    :: else -> atomic { tail = c_tail; head = c_head }
    fi;
    do
    :: tail + 1 - head > CCAP ->
        head = c_head;
        if
        :: tail + 1 - head > CCAP ->
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
    :: atomic { tail + 1 - head <= CCAP && c_tail != tail -> tail = c_tail } /* the CAS fails */
    :: atomic { tail + 1 - head <= CCAP && c_tail == tail ->
           PROP(G5, !sealed);
           c_tail = tail + 1 };
        break
    od;
    if
    :: go ->
        atomic {
            h_valid = true; h_tail = tail + 1; h_head = head;
            ok = (m_gen[id] == 0 || m_gen[id] == gen);
            PROP(G5, !sealed);
            PROP(G6, tail < ck2k_head + CCAP);
            PROP(G2, !ok || m_gen[id] == 0 || m_ginc[id] == inc);
            PROP(G2, ok || m_ginc[id] != inc);
            cslot_id[tail % CCAP] = id + 1;
            cslot_pos[tail % CCAP] = tail + 1;
            cslot_nop[tail % CCAP] = !ok;
            /* fence.acq_rel.cluster: the pending store (the same word's
             * included) lands first; then the sequence store, buffered */
            if
            :: pend_v[me] -> LAND(me)
            :: else -> skip
            fi;
            pend_v[me] = true; pend_slot[me] = tail % CCAP; pend_val[me] = tail + 1
        };
        atomic {
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
    fi
}
#endif

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
#ifdef CLUSTER
        if
        :: go && TIER(me) -> ck2k_put(me)
        :: else -> skip
        fi;
#endif
        if
        :: go && ON_GLOBAL(me) ->
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
        :: go && ON_GLOBAL(me) ->
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
    :: atomic { pend_v[0] -> LAND(0); pend_v[0] = false; pend_slot[0] = 0; pend_val[0] = 0 }
    :: atomic { pend_v[1] -> LAND(1); pend_v[1] = false; pend_slot[1] = 0; pend_val[1] = 0 }
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

/* rk__gpu_deliver of the slot read at the head: message id, or a NOP;
 * g is the generation it names (0 for a NOP) */
inline deliver(nop)
{
    if
#ifndef BUG_NOP_HANDLED
    :: nop -> skip /* a refused send's slot */
#endif
    :: (!nop || BUG_NOP) && g != 0 && g != r_gen ->
        took(id, F_DEAD) /* RK_ESTALE */
    :: (!nop || BUG_NOP) && (g == 0 || g == r_gen) ->
        PROP(G4, !nop);
        PROP(G1, m_ten[id] == r_ten);
        PROP(G2, m_gen[id] == 0 || m_ginc[id] == inc);
        took(id, F_HANDLED)
    fi
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

#ifdef CLUSTER
/* rk__gpu_ck2k_shed: the cluster-tier ring's tail (acquire: final behind
 * the empty door), each slot's sequence word waited for, its message
 * dead-lettered (a NOP skipped); the head published. */
inline ck2k_shed()
{
    atomic { tail = c_tail };
    do
    :: ck2k_head == tail -> break
    :: atomic {
#ifndef BUG_SHED_NO_WAIT
           ck2k_head != tail && cseq[ck2k_head % CCAP] == ck2k_head + 1 ->
#else
           ck2k_head != tail ->
#endif
           s = ck2k_head % CCAP;
           PROP(G6, cslot_pos[s] == ck2k_head + 1);
           if
           :: !cslot_nop[s] -> took(cslot_id[s] - 1, F_DEAD)
           :: else -> skip
           fi;
           ck2k_head++;
           s = 0
       }
    od;
    atomic { c_head = ck2k_head; ck2k_pub = ck2k_head; tail = 0 } /* rk__gpu_publish_ck2k */
}
#endif

#ifdef CLUSTER
/* G5 at terminate: no slot of either ring holds a message written for a
 * position at or past its head (slot_pos is position + 1). */
inline rings_drained()
{
    s = 0;
    do
    :: s < CAP -> PROP(G5, slot_pos[s] <= k2k_head); s++
    :: else -> break
    od;
    s = 0;
    do
    :: s < CCAP -> PROP(G5, cslot_pos[s] <= ck2k_head); s++
    :: else -> break
    od;
    s = 0
}
#endif

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
           :: !slot_nop[s] -> took(slot_id[s] - 1, F_DEAD) /* RK_ESTATE */
           :: else -> skip
           fi;
           k2k_head++;
           s = 0
       }
    od;
#ifdef CLUSTER
    ck2k_shed();
#endif
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

#if defined(HOLD) && defined(CLUSTER)
/* rk__gpu_ck2k_spill, in HOLD_ON behind the closed, empty door: the
 * cluster-tier ring's tail (acquire; final), and when it holds n messages,
 * the global ring's tail (acquire) and, when gtail + n - k2k_head fits the
 * capacity, one CAS claiming the n slots (no producer is left: it cannot
 * fail), else RK_EFULL with nothing moved. Then, slot by slot, the wait
 * for the cluster slot's sequence word (acquire) and the copy
 * (rk__gpu_write_msg) into the global slot; fence.acq_rel.gpu, the global
 * sequence words (the owner's own stores: it and the host, after the
 * acknowledgement, read them; visible at once here); the cluster ring
 * emptied (its head at its tail, published) and ck2k_after set past the
 * copies. */
inline ck2k_spill()
{
    atomic { tail = c_tail; n = tail - ck2k_head };
    if
    :: n == 0 -> skip
    :: else ->
        atomic {
            gtail = ring_tail;
#ifndef BUG_SPILL_NO_ROOM
            if
            :: gtail + n - k2k_head > CAP -> st = RK_EFULL
            :: else -> skip
            fi;
#endif
            if
            :: st == RK_OK -> PROP(G5, sealed); ring_tail = gtail + n
            :: else -> skip
            fi
        };
        if
        :: st == RK_OK ->
            do
            :: i == n -> break
            :: atomic {
#ifndef BUG_SPILL_NO_WAIT
                   i < n && cseq[(ck2k_head + i) % CCAP] == ck2k_head + i + 1 ->
#else
                   i < n ->
#endif
                   s = (ck2k_head + i) % CCAP;
                   PROP(G6, cslot_pos[s] == ck2k_head + i + 1);
                   PROP(G6, gtail + i < k2k_head + CAP); /* that slot's last lap consumed */
                   slot_id[(gtail + i) % CAP] = cslot_id[s];
                   slot_nop[(gtail + i) % CAP] = cslot_nop[s];
                   slot_pos[(gtail + i) % CAP] = gtail + i + 1;
                   i++;
                   s = 0
               }
            od;
            atomic {
                i = 0;
                do
                :: i < n -> seq[(gtail + i) % CAP] = gtail + i + 1; i++
                :: else -> break
                od;
#ifndef BUG_SPILL_KEEP_HEAD
                ck2k_head = tail;
#endif
                ck2k_after = gtail + n;
                c_head = ck2k_head; ck2k_pub = ck2k_head; /* rk__gpu_publish_ck2k */
                i = 0; n = 0; gtail = 0
            }
        :: else -> skip
        fi
    fi;
    atomic { tail = 0; n = 0 }
}

/* HOLD_ON refused by the spill (RK_EFULL): an Active actor's door opens
 * again; G9: nothing moved, not held, the door as it was. */
inline hold_refused()
{
    atomic {
        if
#ifndef BUG_REFUSE_CLOSED
        :: r_state == RK_ACTIVE -> gate_open()
#endif
        :: else -> skip
        fi;
        PROP(G9, !held && ring_tail == gtail && c_tail != ck2k_head && door_open == (r_state == RK_ACTIVE));
        gtail = 0
    }
}
#endif

#ifdef HOLD
/* HOLD_ON taken: held, the heads published (release), the acknowledgement
 * naming the head; the host reads up to the tail. */
inline hold_taken()
{
    atomic {
        held = true;
        cons_head = k2k_head; k2k_pub = k2k_head; /* rk__gpu_publish_k2k */
        hold_from = k2k_head; hold_to = ring_tail
    }
}

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
#ifdef CLUSTER
        ck2k_spill();
        if
        :: st != RK_OK -> hold_refused()
        :: else -> hold_taken()
        fi
#else
        hold_taken()
#endif
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
               :: !slot_nop[s] -> took(slot_id[s] - 1, F_HOST)
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
#ifdef CLUSTER
    byte n, gtail, i; /* the spill: its messages, the global tail it claimed at, the copy */
#endif
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
#elif defined(CLUSTER) && !defined(BUG_TERM_ONE_RING)
           terminating && ring_tail == k2k_head && c_tail == ck2k_head -> /* rk__gpu_ck2k_empty */
#else
           terminating && ring_tail == k2k_head ->
#endif
           PROP(G5, sealed && !door_open);
#ifdef CLUSTER
           rings_drained();
           c_head = ck2k_head; ck2k_pub = ck2k_head; /* rk__gpu_publish_ck2k */
#endif
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
           deliver(slot_nop[s]);
           k2k_head++;
           s = 0; id = 0; g = 0
       }
    :: atomic { /* rk__gpu_publish_k2k, at once or when idle: release */
           k2k_pub != k2k_head -> cons_head = k2k_head; k2k_pub = k2k_head
       }
#ifdef CLUSTER
    :: atomic { /* rk__gpu_decide sees the cluster-tier word; rk__gpu_ck2k */
#ifndef BUG_CLUSTER_NO_AFTER
           bound && !held && RUNS(r_state) && k2k_head >= ck2k_after && cseq[ck2k_head % CCAP] == ck2k_head + 1 ->
#else
           bound && !held && RUNS(r_state) && cseq[ck2k_head % CCAP] == ck2k_head + 1 ->
#endif
           s = ck2k_head % CCAP;
           PROP(G6, cslot_pos[s] == ck2k_head + 1);
           id = cslot_id[s] - 1;
           g = (cslot_nop[s] -> 0 : m_gen[id]);
           deliver(cslot_nop[s]);
           ck2k_head++;
           s = 0; id = 0; g = 0
       }
    :: atomic { /* rk__gpu_publish_ck2k, at once or when idle: release */
           ck2k_pub != ck2k_head -> c_head = ck2k_head; ck2k_pub = ck2k_head
       }
#endif
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
       (!bound || !RUNS(r_state) || (ring_tail == k2k_head && CK2K_EMPTY)) -> break
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
