/*
 * chalt.pml - the homes of one thread-block cluster at the end: the stop,
 * the halt, and the shutdown rounds in which they leave together
 * (include/ringkernel/light.cuh as of session 23, 2026-12-03:
 * rk_light_block's loop and rounds, rk__l_halted, rk_light_halt,
 * rk__l_round_answer, rk__l_cluster_drop; rk_light_run_host takes the same
 * steps on host threads, with rk__l_host_cluster_sync for the barrier).
 *
 * NH homes of one cluster (processes `home`). What only home h runs - its
 * run queue, its local queue, the inboxes of its actors - is one count,
 * own[h], of at most QCAP; its cluster ring, which its peers write through
 * DSMEM, is ring[h], of at most RS. A home runs one message at a time,
 * from either, in any order (rk_light_next's turn is one of them), and the
 * handler sends at most one message: to its own home (own), to a peer's
 * ring (rk__l_cluster_send: RK_EFULL when the ring is full, then nothing
 * is sent), or none, within NS sends in all. Each run is one step: a
 * handler runs on a home that is in no barrier, so no peer can leave
 * meanwhile. init puts one message at every home, then sets the stop word
 * at any time, and with HALT the halt word at any time after it (or never).
 *
 * Mirrors, for home h:
 *   - the halt word, once set, is seen within LAG more messages
 *     (rk__l_halted reads it on every 16th look); then rk_light_halt: the
 *     home runs nothing more, and its own count stays where it is (the
 *     inboxes: the host dead-letters them after the kernel);
 *   - not halted, with a message: runs it;
 *   - not halted, nothing to run, neither word set: waits;
 *   - halted, or stopped with nothing to run: a round of three cluster
 *     barriers (rk__lc_sync): its answer (HALTED; MORE when own or ring
 *     holds a message; DONE), then all answers read, then the third
 *     barrier; it stays when some answer is MORE, else it leaves: a halted
 *     home first counts what its ring holds (`dropped`); leaving frees its
 *     shared memory (gone).
 *
 * scripts/spec.sh runs it without a halt (the stop alone), with the halt
 * (NH = 3, RS = 1, NS = 3, LAG = 1), with two homes whose rings hold two
 * (NS = 5), and with LAG = 2 (two homes).
 *
 * Properties:
 *   H1 no write into the ring of a home that left (its shared memory is
 *      gone)
 *   H2 a home that leaves without a halt leaves nothing: its own count and
 *      its ring are empty; and every home leaves (a home waiting at a
 *      barrier for ever is an invalid end state)
 *   H3 every message once: seeds + sent = ran + dropped + own counts left
 *   H4 the rounds end: each home takes at most MAXR
 *
 * Seeded bugs:
 *   BUG_RETURN_AT_HALT  the code before session 23: a halted home returns
 *                       at once, without the rounds: a peer waits at a
 *                       barrier it never reaches (an invalid end state, the
 *                       first error found; a peer's send into its ring
 *                       after it left, H1, comes later in the search)
 *   BUG_HALTED_PENDING  a halted home answers whether it holds a message,
 *                       as an idle one does: a message in its ring keeps
 *                       the cluster in rounds for ever (H4)
 *   BUG_DROP_AT_HALT    a halted home counts its ring at the halt, not when
 *                       its cluster leaves: a message that lands after is
 *                       lost (H3)
 *
 * Not modelled: weak memory and scopes (the barrier orders the answers;
 * the ring's own steps are vring.pml's and cring.pml's); stealing (another
 * home running h's actors changes who runs own[h], not the rounds); the
 * host's drain, which sets the stop only once nothing is in flight (here
 * the stop comes at any time, which is harder).
 */

#include "rk_common.pml"

#ifndef NH
#define NH 3 /* homes of the cluster */
#endif
#ifndef RS
#define RS 1 /* slots of a cluster ring */
#endif
#ifndef QCAP
#define QCAP 2 /* what a home's own queue holds */
#endif
#ifndef NS
#define NS 3 /* handler sends in all */
#endif
#ifndef LAG
#define LAG 1 /* messages a home may run after the halt before it sees it */
#endif
#define MAXR (2 * NH + NS + 1)

hidden byte H1, H2, H3, H4;

#define DONE 0
#define MORE 1
#define HALTED 2

byte own[NH], ring[NH], ans[NH];
bool gone[NH];
bool stop, halt;
byte budget = NS;
byte sent, ran, dropped, nleft;
byte arrived, gen; /* the cluster barrier */

inline cbar()
{
    atomic {
        g = gen;
        arrived++;
        if
        :: arrived == NH -> arrived = 0; gen++
        :: else -> skip
        fi
    }
    (gen != g);
    g = 0 /* not part of the state from here on */
}

/* One message of home h, and its handler's send. */
inline run_one()
{
    atomic {
        if
        :: own[h] > 0 -> own[h]--
        :: ring[h] > 0 -> ring[h]--
        fi;
        ran++;
        if
        :: budget > 0 && own[h] < QCAP -> own[h]++; budget--; sent++
        :: budget > 0 ->
            select(p : 0 .. NH - 1);
            if
            :: p != h ->
                PROP(H1, !gone[p]);
                if
                :: ring[p] < RS -> ring[p]++; budget--; sent++
                :: else -> skip /* RK_EFULL */
                fi
            :: else -> skip
            fi;
            p = 0
        :: skip
        fi
    }
}

proctype home(byte h)
{
    byte g, p, r, lag, rounds;
    bool halted, stay, counted;
    do
    :: !halted && halt && lag == LAG -> halted = true
    :: !halted && halt && lag < LAG ->
        if
        :: halted = true
        :: (own[h] > 0 || ring[h] > 0) -> lag++; run_one()
        fi
    :: !halted && !halt && (own[h] > 0 || ring[h] > 0) -> run_one()
    :: !halted && !halt && own[h] == 0 && ring[h] == 0 && !stop ->
        (own[h] > 0 || ring[h] > 0 || stop || halt) /* idle */
    :: halted || (stop && own[h] == 0 && ring[h] == 0) ->
#ifdef BUG_DROP_AT_HALT
        if
        :: halted && !counted -> dropped = dropped + ring[h]; ring[h] = 0; counted = true
        :: else -> skip
        fi;
#endif
#ifdef BUG_RETURN_AT_HALT
        if
        :: halted -> goto leave
        :: else -> skip
        fi;
#endif
        cbar();
#ifdef BUG_HALTED_PENDING
        ans[h] = (own[h] > 0 || ring[h] > 0 -> MORE : DONE);
#else
        ans[h] = (halted -> HALTED : (own[h] > 0 || ring[h] > 0 -> MORE : DONE));
#endif
        cbar();
        stay = false;
        for (r : 0 .. NH - 1) {
            stay = stay || ans[r] == MORE
        }
        cbar();
        rounds++;
        PROP(H4, rounds <= MAXR);
        if
        :: stay -> skip
        :: else -> goto leave
        fi
    od;
leave:
    atomic {
#ifndef BUG_DROP_AT_HALT
        if
        :: halted -> dropped = dropped + ring[h]; ring[h] = 0
        :: else -> PROP(H2, own[h] == 0 && ring[h] == 0)
        fi;
#endif
        gone[h] = true;
        nleft++
    }
}

init {
    byte h;
    atomic {
        for (h : 0 .. NH - 1) {
            own[h] = 1;
            run home(h)
        }
    }
    stop = true;
#ifdef HALT
    if
    :: halt = true
    :: skip
    fi;
#endif
    (nleft == NH);
    h = 0;
    do
    :: h < NH -> dropped = dropped + own[h]; h++
    :: else -> break
    od;
    PROP(H3, NH + sent == ran + dropped);
#ifndef HALT
    PROP(H2, ran == NH + sent);
#endif
}
