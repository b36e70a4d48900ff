/*
 * drain.pml - the drain with light actors and a block actor sending to
 * each other (src/cuda/cuda_backend.c cuda_drain and rk__cuda_drain_blocks,
 * src/cuda/cuda_light.c rk__cuda_light_quiet, rk__cuda_light_to_blocks and
 * rk__cuda_light_stop_homes; include/ringkernel/light.cuh rk_light_publish
 * and rk_light_sent_to_block; device.cuh rk__gpu_send_light, as of session
 * 24, 2026-12-03. The CPU backend takes the same steps: cpu_backend.c
 * rk__cpu_drain, cpu_light.c rk__cpu_light_quiet, rk__cpu_light_to_blocks,
 * with rk_light_run_host publishing the counts and the posts counted by
 * rk__cpu_light_post and rk__cpu_light_from_actor).
 *
 * CH chains, each a message that bounces NB times between the light world
 * (one home, process `light`) and one block actor (process `block`): the
 * host posts each chain's first message to the light world; a handler that
 * gets n > 0 sends n - 1 to the other side, one with n == 0 sends to the
 * host (done). Each handler is one step on its side; a send is part of it.
 *
 * Mirrors:
 *   - the home, whenever it finds nothing to run (the first such look),
 *     publishes what it ran and how many of its handlers' sends went to
 *     block actors (one step here; see "Not modelled");
 *   - a block actor's send to a light actor goes into the inbox, then adds
 *     to the count of such sends (atomicAdd after rk_light_send);
 *   - the drain, in rounds: the light actors' sends to block actors as last
 *     published (out0); the block actor quiet (QUERY: idle, its queue
 *     empty); then the light actors quiet: two looks, each finding the
 *     posts and the block actors' sends to light actors equal to what the
 *     home ran, with the same totals both times (out1 from the second);
 *     another round when out1 != out0. Then the homes' stop word:
 *     the home returns once it has nothing to run; then the runtime's stop:
 *     the block actor finishes the handler it is in and returns.
 *
 * Properties:
 *   D1 nothing is left at the end: no message in the home's inbox or the
 *      block actor's queue (the stop would dead-letter it), and every chain
 *      reached its end
 *   and every process ends (a drain that waits for ever is an invalid end
 *   state: the chains are finite, so the drain must end)
 *
 * Seeded bug:
 *   BUG_ONE_ROUND  the drain before session 24: one round, whatever the
 *                  light actors sent to the block actor meanwhile (D1: the
 *                  block actor's answer lands in the inbox of a home that
 *                  returned)
 *
 * Not modelled: the home's three stores of its counts (sent, ran, sends
 * to block actors, in that order) seen torn by the host's copy. A look
 * that sees the new `ran` and the old count of sends to block actors
 * would let the drain end with the block actor's message on its way; it
 * takes both looks, at least 20 us apart, to fall between two adjacent
 * stores of one home. The drain's deadline (here it waits as long as needed;
 * with a deadline it reports timed_out instead), several homes (each home
 * publishes its own counts and the drain adds them: a busy home's are
 * short, which keeps the balance off zero as one home's do here), the
 * forwarder and the port (the posts here are in the inbox before the drain
 * starts; the real drain also waits for the port to be empty), weak memory.
 */

#include "rk_common.pml"

#ifndef CH
#define CH 2 /* chains */
#endif
#ifndef NB
#define NB 3 /* bounces of the first chain; chain c has NB + c */
#endif

hidden byte D1;

chan lq = [CH] of { byte }; /* the light actor's inbox: n */
chan bq = [CH] of { byte }; /* the block actor's queue */

byte posted;                /* the host's posts (counted as sent) */
byte from_blocks;           /* the block actor's sends to light actors */
byte pub_ran, pub_to_blocks; /* the home's published counts */
bool bbusy;                 /* the block actor is in a handler */
bool homes_stop, kstop;     /* the homes' stop word; the runtime's stop */
bool light_gone, block_gone;
byte done;                  /* chains that reached the host */

proctype light()
{
    byte n, ran, to_blocks;
    bool published;
    do
    :: atomic {
        lq ? n;
        ran++;
        published = false;
        if
        :: n == 0 -> done++
        :: n > 0 -> bq ! n - 1; to_blocks++ /* rk_ldsend to a block actor */
        fi;
        n = 0
    }
    :: atomic { empty(lq) && !published -> pub_ran = ran; pub_to_blocks = to_blocks; published = true }
    :: atomic { empty(lq) && published && homes_stop -> light_gone = true; break }
    od
}

proctype block()
{
    byte n;
    do
    :: atomic { !kstop && nempty(bq) -> bq ? n; bbusy = true }
        if
        :: n == 0 -> done++
        :: n > 0 -> lq ! n - 1
        fi;
        atomic {
            if
            :: n > 0 -> from_blocks++ /* after the put, as rk__gpu_send_light */
            :: else -> skip
            fi;
            bbusy = false;
            n = 0
        }
    :: atomic { kstop && !bbusy -> block_gone = true; break }
    od
}

proctype drain()
{
    byte out0, out1, s1, r1, t1, s2, r2, t2;
    do
    :: out0 = pub_to_blocks;
        (!bbusy && empty(bq)); /* the block actor quiet (QUERY) */
        do /* the light actors quiet: two looks alike */
        :: atomic { s1 = posted + from_blocks; r1 = pub_ran; t1 = pub_to_blocks };
            if
            :: s1 == r1 ->
                atomic { s2 = posted + from_blocks; r2 = pub_ran; t2 = pub_to_blocks };
                if
                :: s2 == s1 && r2 == r1 -> out1 = t2; break
                :: else -> skip
                fi
            :: else -> skip
            fi
        od;
        s1 = 0; r1 = 0; t1 = 0; s2 = 0; r2 = 0; t2 = 0;
#ifdef BUG_ONE_ROUND
        break
#else
        if
        :: out1 == out0 -> break
        :: else -> skip
        fi
#endif
    od;
    homes_stop = true;
    light_gone;
    kstop = true;
    block_gone;
    PROP(D1, empty(lq) && empty(bq) && done == CH)
}

init {
    byte c;
    atomic {
        for (c : 0 .. CH - 1) {
            lq ! NB + c;
            posted++
        }
        run light();
        run block();
        run drain()
    }
}
