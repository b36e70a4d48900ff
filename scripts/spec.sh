#!/usr/bin/env bash
# Model-checks the Promela models in spec/ with SPIN (docs/verification.md).
#
# Every model must pass, and every seeded bug variant (a -D switch of the
# same model) must be rejected with the violation listed for it: a variant
# that passes, or fails for another reason, fails this script. "finding"
# rows reproduce problems in the current C code (spec/findings/); they are
# expected to fail the same way until the code is fixed.
#
# usage: scripts/spec.sh [-j JOBS] [-b BUILD_DIR] [-k] [-l] [NAME_PATTERN]
#   -j JOBS       checks run in parallel (default: 2, or 1 on one core)
#   -b BUILD_DIR  where pan is built and run (default: build/spec)
#   -k            keep pan.c and pan for checks that did as expected (pan.out
#                 and trails are always kept)
#   -l            list the checks and exit
#   NAME_PATTERN  run only the checks whose name matches (grep -E)
# Environment: CC (default cc), SPIN (default spin).
# Exit status: 0 all as expected, 1 a check did not do what it should,
# 77 spin or a C compiler is missing (CTest counts that as skipped).
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
spec="$root/spec"
build="$root/build/spec"
jobs=2
keep=0
list=0
pattern=.

while getopts "j:b:kl" opt; do
    case $opt in
    j) jobs=$OPTARG ;;
    b) build=$OPTARG ;;
    k) keep=1 ;;
    l) list=1 ;;
    *) sed -n '2,19p' "$0"; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] && pattern=$1
[ "$(nproc 2>/dev/null || echo 1)" -lt 2 ] && jobs=1

CC=${CC:-cc}
SPIN=${SPIN:-spin}

# ---- the checks ---------------------------------------------------------------
# name | model | mode | defines | expect | violation
#   mode: safety (assertions, invalid end states), ltl:NAME (the claim NAME
#   plus assertions; a run that stops counts as stuttering), ltlf:NAME (the
#   same under weak fairness)
#   expect: pass, bug (must fail with the pattern), finding (the same, for
#   a problem of the C code that is written up in spec/findings/)
#   violation: the property the first error must break (an assertion
#   PROP(NAME, ...) reads "assertion violated (NAME||..."), or an extended
#   regex for the error line, e.g. "acceptance cycle"
checks() {
    cat <<'EOF'
ring_spsc                   |ring_spsc.pml  |safety                |                                   |pass   |
ring_spsc.live              |ring_spsc.pml  |ltlf:all_delivered    |                                   |pass   |
ring_spsc.cap4              |ring_spsc.pml  |safety                |-DCAP=4 -DNB=4 -DNMSG=12           |pass   |
ring_spsc.no_fence          |ring_spsc.pml  |safety                |-DBUG_NO_FENCE                     |bug    |R1
ring_spsc.no_release        |ring_spsc.pml  |safety                |-DBUG_NO_RELEASE                   |bug    |R1
ring_spsc.relaxed_ready     |ring_spsc.pml  |safety                |-DBUG_RELAXED_READY                |bug    |R1
ring_spsc.relaxed_consume   |ring_spsc.pml  |safety                |-DBUG_RELAXED_CONSUME              |bug    |R3
ring_spsc.seq_eq_pos        |ring_spsc.pml  |safety                |-DBUG_SEQ_EQ_POS                   |bug    |R1
ring_spsc.flag_not_seq      |ring_spsc.pml  |safety                |-DBUG_FLAG_NOT_SEQ                 |bug    |R1
ring_mpsc                   |ring_mpsc.pml  |safety                |                                   |pass   |
ring_mpsc.live              |ring_mpsc.pml  |ltlf:all_delivered    |-DNMSG1=2 -DKINDS=5                |pass   |
ring_mpsc.no_cas            |ring_mpsc.pml  |safety                |-DBUG_NO_CAS                       |bug    |R4
ring_mpsc.no_recheck        |ring_mpsc.pml  |safety                |-DBUG_NO_RECHECK                   |bug    |R3
ring_mpsc.no_fence          |ring_mpsc.pml  |safety                |-DBUG_NO_FENCE                     |bug    |R1
ring_mpsc.no_flush_fence    |ring_mpsc.pml  |safety                |-DBUG_NO_FLUSH_FENCE               |bug    |R1
ring_mpsc.unsigned_room     |ring_mpsc.pml  |safety                |-DBUG_UNSIGNED_ROOM                |bug    |R5
ring_mpsc.no_flush_on_full  |ring_mpsc.pml  |ltlf:all_delivered    |-DNMSG1=2 -DKINDS=4 -DBUG_NO_FLUSH_ON_FULL|bug|acceptance cycle
ring_mpsc.gpu_only          |ring_mpsc.pml  |safety                |-DKINDS=4                          |pass   |
ring_mpsc.gpu_unsigned_room |ring_mpsc.pml  |safety                |-DKINDS=4 -DBUG_GPU_UNSIGNED_ROOM  |bug    |R5
hlc                         |hlc.pml        |safety                |                                   |pass   |
hlc.logical_wraps           |hlc.pml        |safety                |-DBUG_LOGICAL_WRAPS                |bug    |H1
hlc.merge_ignores_remote    |hlc.pml        |safety                |-DBUG_MERGE_IGNORES_REMOTE         |bug    |H3
hlc.no_cas                  |hlc.pml        |safety                |-DBUG_NO_CAS                       |bug    |H1
hlc.no_max_check            |hlc.pml        |safety                |-DBUG_NO_MAX_CHECK                 |bug    |H1
hlc.run_no_room             |hlc.pml        |safety                |-DBUG_RUN_NO_ROOM                  |bug    |H1
lifecycle                   |lifecycle.pml  |ltl:shutdown_completes|                                   |pass   |
lifecycle.no_gen_check      |lifecycle.pml  |safety                |-DBUG_NO_GEN_CHECK                 |bug    |L1
lifecycle.no_gen_bump       |lifecycle.pml  |safety                |-DBUG_NO_GEN_BUMP                  |bug    |L1
lifecycle.skips_draining    |lifecycle.pml  |safety                |-DBUG_TERMINATE_SKIPS_DRAINING     |bug    |L2
lifecycle.terminate_early   |lifecycle.pml  |safety                |-DBUG_TERMINATE_EARLY              |bug    |L5
lifecycle.fail_keeps_terminate|lifecycle.pml|safety                |-DBUG_FAIL_KEEPS_TERMINATE         |bug    |L4
lifecycle.slow_drain        |lifecycle.pml  |safety                |-DSLOW_DRAIN                       |pass   |
lifecycle.stale_terminate   |lifecycle.pml  |safety                |-DSLOW_DRAIN -DBUG_STALE_TERMINATE |bug    |L3
k2k                         |k2k.pml        |ltl:shutdown_completes|                                   |pass   |
k2k.no_tenant_check         |k2k.pml        |safety                |-DBUG_NO_TENANT_CHECK              |bug    |D1
k2k.no_sweep                |k2k.pml        |safety                |-DBUG_NO_SWEEP                     |bug    |D2
k2k.no_inflight_wait        |k2k.pml        |safety                |-DBUG_NO_INFLIGHT_WAIT             |bug    |D2
k2k.enter_not_sc            |k2k.pml        |safety                |-DBUG_ENTER_NOT_SC                 |bug    |D2
supervisor                  |supervisor.pml |ltl:quiescent         |-DUSER_TERM=0 -DUSER_KILL=0        |pass   |
supervisor.program          |supervisor.pml |ltl:quiescent         |-DRSTRAT=2 -DSSTRAT=1 -DF=2        |pass   |
supervisor.window_off_by_one|supervisor.pml |safety                |-DUSER_TERM=0 -DUSER_KILL=0 -DBUG_WINDOW_OFF_BY_ONE  |bug|S1
supervisor.history_kept     |supervisor.pml |safety                |-DUSER_TERM=0 -DUSER_KILL=0 -DBUG_HISTORY_KEPT       |bug|S2
supervisor.stop_order       |supervisor.pml |safety                |-DUSER_TERM=0 -DUSER_KILL=0 -DBUG_STOP_IN_START_ORDER|bug|S4
supervisor.no_escalate      |supervisor.pml |safety                |-DUSER_TERM=0 -DUSER_KILL=0 -DBUG_NO_ESCALATE        |bug|S5
supervisor.notify_first     |supervisor.pml |safety                |-DUSER_TERM=0 -DUSER_KILL=0 -DBUG_NOTIFY_BEFORE_STATE|bug|S5
supervisor.scan_only_failed |supervisor.pml |safety                |-DRSTRAT=2 -DSSTRAT=1 -DF=2 -DBUG_SCAN_ONLY_FAILED   |bug|S5
supervisor.kill_no_detach   |supervisor.pml |safety                |-DRSTRAT=2 -DSSTRAT=1 -DF=2 -DBUG_KILL_NO_DETACH     |bug|S6
migrate                     |migrate.pml    |safety                |                                   |pass   |
migrate.three_senders       |migrate.pml    |safety                |-DNSEND=3 -DMPER=1                 |pass   |
migrate.no_sender_wait      |migrate.pml    |safety                |-DBUG_NO_SENDER_WAIT               |bug    |M2
migrate.lost_message        |migrate.pml    |safety                |-DMPER=1 -DBUG_NO_SENDER_WAIT      |bug    |M1
migrate.load_before_enter   |migrate.pml    |safety                |-DBUG_LOAD_BEFORE_ENTER            |bug    |M2
migrate.forward_early       |migrate.pml    |safety                |-DBUG_FORWARD_EARLY                |bug    |M2
door                        |door.pml       |ltl:all_done          |                                   |pass   |
door.shared                 |door.pml       |ltl:all_done          |-DTEN1=1                           |pass   |
door.reset                  |door.pml       |ltl:all_done          |-DRESET_PATH -DNM1=2 -DNCMD=1      |pass   |
door.reset_no_wait          |door.pml       |safety                |-DRESET_PATH -DNM1=2 -DNCMD=1 -DBUG_RESET_NO_WAIT|bug|invalid end state
door.hold                   |door.pml       |ltl:all_done          |-DHOLD                             |pass   |
door.hold_shared            |door.pml       |ltl:all_done          |-DHOLD -DTEN1=1 -DNCMD=1           |pass   |
door.hold_skip_no_wait      |door.pml       |safety                |-DHOLD -DTEN1=1 -DNCMD=1 -DBUG_HOLD_SKIP_NO_WAIT|bug|invalid end state
door.leave_before_claim     |door.pml       |safety                |-DBUG_LEAVE_BEFORE_CLAIM           |bug    |G5
door.no_wait                |door.pml       |safety                |-DBUG_NO_WAIT                      |bug    |G5
door.term_by_seq            |door.pml       |safety                |-DBUG_TERM_BY_SEQ                  |bug    |G3
door.stale_not_nop          |door.pml       |safety                |-DBUG_STALE_NOT_NOP                |bug    |G3
door.nop_handled            |door.pml       |safety                |-DBUG_NOP_HANDLED                  |bug    |G4
door.no_tenant_check        |door.pml       |safety                |-DBUG_NO_TENANT_CHECK              |bug    |G1
door.open_before_gen        |door.pml       |safety                |-DBUG_OPEN_BEFORE_GEN              |bug    |G2
door.gen_before_enter       |door.pml       |safety                |-DBUG_GEN_BEFORE_ENTER             |bug    |G2
door.cluster                |door.pml       |ltl:all_done          |-DCLUSTER -DTEN1=1                 |pass   |
door.cluster_hold           |door.pml       |ltl:all_done          |-DCLUSTER -DHOLD -DTEN1=1 -DNCMD=1 |pass   |
door.cluster_both           |door.pml       |ltl:all_done          |-DCLUSTER -DHOLD -DTEN1=1 -DTIER1=1 -DNCMD=1|pass|
door.cluster_reset          |door.pml       |ltl:all_done          |-DCLUSTER -DRESET_PATH -DTEN1=1 -DNCMD=1|pass |
door.cluster_reset_both     |door.pml       |ltl:all_done          |-DCLUSTER -DRESET_PATH -DTEN1=1 -DTIER1=1 -DNCMD=1|pass|
door.cluster_no_after       |door.pml       |safety                |-DCLUSTER -DHOLD -DTEN1=1 -DNCMD=1 -DBUG_CLUSTER_NO_AFTER|bug|G8
door.spill_no_wait          |door.pml       |safety                |-DCLUSTER -DHOLD -DTEN1=1 -DTIER1=1 -DNCMD=1 -DBUG_SPILL_NO_WAIT|bug|invalid end state
door.spill_keep_head        |door.pml       |safety                |-DCLUSTER -DHOLD -DTEN1=1 -DNCMD=1 -DBUG_SPILL_KEEP_HEAD|bug|G3
door.spill_no_room          |door.pml       |safety                |-DCLUSTER -DHOLD -DTEN1=1 -DNCMD=1 -DBUG_SPILL_NO_ROOM|bug|G6
door.refuse_closed          |door.pml       |safety                |-DCLUSTER -DHOLD -DTEN1=1 -DNCMD=1 -DBUG_REFUSE_CLOSED|bug|G9
door.term_one_ring          |door.pml       |safety                |-DCLUSTER -DTEN1=1 -DBUG_TERM_ONE_RING|bug |G5
door.shed_no_wait           |door.pml       |safety                |-DCLUSTER -DRESET_PATH -DTEN1=1 -DTIER1=1 -DNCMD=1 -DBUG_SHED_NO_WAIT|bug|invalid end state
restart                     |restart.pml    |safety                |-DKILL=0                         |pass   |
restart.kill                |restart.pml    |safety                |                                 |pass   |
restart.torn_state_word     |restart.pml    |safety                |-DKILL=0 -DBUG_TORN_STATE_WORD   |bug    |X1
restart.kill_mid_restart    |restart.pml    |safety                |-DBUG_KILL_NO_SETTLE             |bug    |X3
restart.host_load_order     |restart.pml    |safety                |-DKILL=0 -DHOST_LOADS_ANY_ORDER  |bug    |X1
restart.clear_no_fence      |restart.pml    |safety                |-DKILL=0 -DBUG_CLEAR_NO_FENCE    |bug    |X1
restart.flag_after_failed   |restart.pml    |safety                |-DKILL=0 -DBUG_FLAG_AFTER_FAILED |bug    |X1
restart.one_snapshot        |restart.pml    |safety                |-DKILL=0 -DBUG_ONE_SNAPSHOT      |bug    |X1
restart.host_no_charge      |restart.pml    |safety                |-DKILL=0 -DBUG_HOST_NO_CHARGE    |bug    |X2
restart.kill_no_off         |restart.pml    |safety                |-DBUG_KILL_NO_OFF                |bug    |X3
restart.kill_no_wait        |restart.pml    |safety                |-DBUG_KILL_NO_WAIT               |bug    |X3
round                       |round.pml      |safety                |                                 |pass   |
round.all3                  |round.pml      |safety                |-DNK=3                           |pass   |
round.rest3                 |round.pml      |safety                |-DNK=3 -DSTRAT=2                 |pass   |
round.kill                  |round.pml      |safety                |-DNK=3 -DKILL=1                  |pass   |
round.kill_rest3            |round.pml      |safety                |-DNK=3 -DSTRAT=2 -DKILL=1        |pass   |
round.detach                |round.pml      |safety                |-DNK=3 -DSTRAT=2 -DDETACH=1      |pass   |
round.turn_order            |round.pml      |safety                |-DBUG_GEN_BEFORE_STATE           |finding|Q2
round.restart_final         |round.pml      |safety                |-DKILL=1 -DBUG_RESTART_FINAL     |finding|Q5
round.detach_stuck_flag     |round.pml      |safety                |-DDETACH=1 -DBUG_FLAG_AFTER_UNLOCK|finding|Q3
round.bit_before_lock       |round.pml      |safety                |-DBUG_BIT_BEFORE_LOCK            |bug    |Q4
round.clear_bit_late        |round.pml      |safety                |-DBUG_CLEAR_BIT_LATE             |bug    |Q4
round.no_turn_wait          |round.pml      |safety                |-DBUG_NO_TURN_WAIT               |bug    |Q2
round.no_flag_clear         |round.pml      |safety                |-DDETACH=1 -DBUG_NO_FLAG_CLEAR   |bug    |Q3
round.merge_stale_from      |round.pml      |safety                |-DSTRAT=2 -DBUG_MERGE_STALE_FROM |bug    |Q1
round.merge_latest          |round.pml      |safety                |-DSTRAT=2 -DBUG_MERGE_LATEST     |bug    |Q1
hostq                       |hostq.pml      |ltl:comes_to_rest     |                                 |pass   |
hostq.laps                  |hostq.pml      |safety                |-DCAP=2 -DNMARKS=1               |pass   |
hostq.hang                  |hostq.pml      |safety                |-DHANG                           |pass   |
hostq.nop_head              |hostq.pml      |safety                |-DBUG_NOP_HEAD_CONSUME           |bug    |H1
hostq.moved_head            |hostq.pml      |safety                |-DHANG -DBUG_MOVED_HEAD          |bug    |H4
hostq.moved_marks           |hostq.pml      |safety                |-DHANG -DBUG_MOVED_MARKS         |bug    |H4
hostq.skip_unmarked         |hostq.pml      |safety                |-DBUG_SKIP_UNMARKED              |bug    |H2
hostq.no_owner_check        |hostq.pml      |safety                |-DBUG_NO_OWNER_CHECK             |bug    |H2
hostq.advance_past_taken    |hostq.pml      |safety                |-DBUG_ADVANCE_PAST_TAKEN         |bug    |H1
hostq.no_rescan             |hostq.pml      |ltl:comes_to_rest     |-DBUG_NO_RESCAN                  |bug    |acceptance cycle
hostq.no_room_check         |hostq.pml      |safety                |-DCAP=2 -DBUG_NO_ROOM_CHECK      |bug    |H3
hostq.taken_kept            |hostq.pml      |safety                |-DCAP=2 -DBUG_TAKEN_KEPT         |bug    |H1
sched                       |sched.pml      |safety                |                                   |pass   |
sched.live                  |sched.pml      |ltlf:all_handled      |-DNB=1                             |pass   |
sched.live_1msg             |sched.pml      |ltlf:all_handled      |-DNMSG=1                           |pass   |
sched.batch2                |sched.pml      |safety                |-DB=2                              |pass   |
sched.no_recheck            |sched.pml      |safety                |-DBUG_NO_RECHECK                   |bug    |T4
sched.push_on_queued        |sched.pml      |safety                |-DBUG_PUSH_ON_QUEUED               |bug    |T2
sched.plain_store           |sched.pml      |safety                |-DBUG_PLAIN_STORE                  |bug    |T4
sched.sched_first           |sched.pml      |safety                |-DBUG_SCHED_FIRST                  |bug    |T4
sched.load_only             |sched.pml      |safety                |-DBUG_LOAD_ONLY                    |bug    |T4
sched.relaxed_cas           |sched.pml      |safety                |-DBUG_RELAXED_CAS                  |bug    |T4
sched.relaxed_giveup        |sched.pml      |safety                |-DBUG_RELAXED_GIVEUP               |bug    |T3
handoff                     |handoff.pml    |safety                |                                   |pass   |
handoff.live                |handoff.pml    |ltlf:all_handled      |                                   |pass   |
handoff.cap4                |handoff.pml    |safety                |-DCAP=4                            |pass   |
handoff.batch2              |handoff.pml    |safety                |-DB=2                              |pass   |
handoff.more                |handoff.pml    |safety                |-DNX=4 -DNE=4 -DNPER=3             |pass   |
handoff.idle_only           |handoff.pml    |safety                |-DBUG_IDLE_ONLY                    |bug    |F3
handoff.empty_by_seq        |handoff.pml    |safety                |-DBUG_EMPTY_BY_SEQ                 |bug    |F3
handoff.no_cas              |handoff.pml    |safety                |-DBUG_NO_CAS                       |bug    |F1
handoff.hand_last           |handoff.pml    |safety                |-DBUG_HAND_LAST                    |bug    |F3
handoff.undo_store          |handoff.pml    |safety                |-DBUG_UNDO_STORE                   |bug    |F4
runq                        |runq.pml       |safety                |                                   |pass   |
runq.live                   |runq.pml       |ltlf:all_popped       |                                   |pass   |
runq.cap4                   |runq.pml       |safety                |-DQCAP=4                           |pass   |
runq.a3                     |runq.pml       |safety                |-DNA=3 -DQCAP=4 -DNPUSH=10         |pass   |
runq.a4                     |runq.pml       |safety                |-DNA=4 -DQCAP=4 -DNPUSH=10         |pass   |
runq.steal                  |runq.pml       |safety                |-DSTEAL                            |pass   |
runq.steal.live             |runq.pml       |ltlf:all_popped       |-DSTEAL                            |pass   |
runq.steal2                 |runq.pml       |safety                |-DSTEAL -DNT=2 -DNPUSH=6           |pass   |
runq.steal_a3               |runq.pml       |safety                |-DSTEAL -DNA=3 -DQCAP=4            |pass   |
runq.no_wait                |runq.pml       |safety                |-DBUG_NO_WAIT                      |bug    |U2
runq.no_cas                 |runq.pml       |safety                |-DSTEAL -DBUG_NO_CAS               |bug    |U5
runq.free_held_lap          |runq.pml       |safety                |-DBUG_BAD_FREE=1                   |bug    |U3
runq.free_same_lap          |runq.pml       |safety                |-DBUG_BAD_FREE=2                   |bug    |U3
runq.small_qcap             |runq.pml       |safety                |-DNA=3 -DQCAP=2 -DBUG_SMALL_QCAP   |bug    |U3
runq.qcap1                  |runq.pml       |safety                |-DNA=1 -DQCAP=1 -DBUG_QCAP1        |bug    |U2
runq.relaxed_push           |runq.pml       |safety                |-DBUG_RELAXED_PUSH                 |bug    |U4
runq.relaxed_pop            |runq.pml       |safety                |-DBUG_RELAXED_POP                  |bug    |U4
vring                       |vring.pml      |safety                |                                   |pass   |
vring.live                  |vring.pml      |ltlf:all_consumed     |                                   |pass   |
vring.live_p3               |vring.pml      |ltlf:all_consumed     |-DNP=3                             |pass   |
vring.stop                  |vring.pml      |safety                |-DSTOP                             |pass   |
vring.n3                    |vring.pml      |safety                |-DNPER=3                           |pass   |
vring.p3                    |vring.pml      |safety                |-DNP=3                             |pass   |
vring.p3s4                  |vring.pml      |safety                |-DNP=3 -DSLOTS=4                   |pass   |
vring.p3n3                  |vring.pml      |safety                |-DNP=3 -DNPER=3                    |pass   |
vring.inbox                 |vring.pml      |safety                |-DNO_GUESS                         |pass   |
vring.inbox.live            |vring.pml      |ltlf:all_consumed     |-DNO_GUESS                         |pass   |
vring.inbox.stop            |vring.pml      |safety                |-DNO_GUESS -DSTOP                  |pass   |
vring.inbox.n3              |vring.pml      |safety                |-DNO_GUESS -DNPER=3                |pass   |
vring.inbox.p3              |vring.pml      |safety                |-DNO_GUESS -DNP=3                  |pass   |
vring.inbox.p3s4            |vring.pml      |safety                |-DNO_GUESS -DNP=3 -DSLOTS=4        |pass   |
vring.guess_early           |vring.pml      |safety                |-DNP=3 -DBUG_GUESS_EARLY           |pass   |
vring.relaxed_publish       |vring.pml      |safety                |-DBUG_RELAXED_PUBLISH              |bug    |V1
vring.relaxed_head          |vring.pml      |safety                |-DBUG_RELAXED_HEAD                 |bug    |V1
vring.relaxed_free          |vring.pml      |safety                |-DBUG_RELAXED_FREE                 |bug    |V1
vring.free_lap_next         |vring.pml      |safety                |-DBUG_FREE_LAP=1                   |bug    |V3
vring.free_lap_same         |vring.pml      |safety                |-DBUG_FREE_LAP=2                   |bug    |V3
vring.no_recheck            |vring.pml      |safety                |-DBUG_NO_RECHECK                   |bug    |V5
vring.guess_ahead           |vring.pml      |safety                |-DBUG_GUESS_AHEAD                  |bug    |V3
vring.guess_on_full         |vring.pml      |safety                |-DBUG_GUESS_ON_FULL                |bug    |V3
vring.full_reloads          |vring.pml      |safety                |-DSTOP -DBUG_FULL_RELOADS          |bug    |V6
vring.inbox.no_recheck      |vring.pml      |safety                |-DNO_GUESS -DBUG_NO_RECHECK        |bug    |V5
vring.inbox.full_reloads    |vring.pml      |safety                |-DNO_GUESS -DSTOP -DBUG_FULL_RELOADS|bug   |V6
port                        |port.pml       |safety                |                                   |pass   |
port.live                   |port.pml       |ltlf:all_run          |                                   |pass   |
port.n3                     |port.pml       |safety                |-DNPER=3                           |pass   |
port.inb2                   |port.pml       |safety                |-DINB=2                            |pass   |
port.s4n3                   |port.pml       |safety                |-DSLOTS=4 -DNPER=3                 |pass   |
port.skip_full              |port.pml       |safety                |-DBUG_SKIP_FULL                    |bug    |Q3
port.free_first             |port.pml       |safety                |-DBUG_FREE_FIRST                   |bug    |Q1
port.stop_early             |port.pml       |safety                |-DBUG_STOP_EARLY                   |bug    |Q3
port.home_early             |port.pml       |safety                |-DBUG_HOME_EARLY                   |bug    |Q3
cring                       |cring.pml      |safety                |                                   |pass   |
cring.live                  |cring.pml      |ltlf:all_handled      |                                   |pass   |
cring.batch2                |cring.pml      |safety                |-DB=2                              |pass   |
cring.cap4                  |cring.pml      |safety                |-DCAP=4                            |pass   |
cring.ring4                 |cring.pml      |safety                |-DRS=4 -DNA=4                      |pass   |
cring.no_ours               |cring.pml      |safety                |-DNO_OURS                          |pass   |
cring.giveup_after_move     |cring.pml      |safety                |-DGIVEUP_AFTER_MOVE                |pass   |
cring.no_token              |cring.pml      |safety                |-DBUG_NO_TOKEN                     |bug    |C1
cring.no_empty_check        |cring.pml      |safety                |-DBUG_NO_EMPTY_CHECK               |bug    |C3
cring.empty_by_seq          |cring.pml      |safety                |-DBUG_EMPTY_BY_SEQ                 |bug    |C3
cring.take_queued           |cring.pml      |safety                |-DBUG_TAKE_QUEUED                  |bug    |C2
cring.no_giveup             |cring.pml      |safety                |-DBUG_NO_GIVEUP                    |bug    |C4
cring.no_after              |cring.pml      |safety                |-DBUG_NO_AFTER                     |bug    |C4
cring.no_wake               |cring.pml      |safety                |-DBUG_NO_WAKE                      |bug    |C4
cring.drop_full             |cring.pml      |safety                |-DBUG_DROP_FULL                    |bug    |C4
chalt                       |chalt.pml      |safety                |                                   |pass   |
chalt.halt                  |chalt.pml      |safety                |-DHALT                             |pass   |
chalt.halt_two              |chalt.pml      |safety                |-DHALT -DNH=2 -DRS=2 -DNS=5        |pass   |
chalt.halt_lag2             |chalt.pml      |safety                |-DHALT -DLAG=2 -DNH=2 -DRS=2 -DNS=4|pass   |
chalt.return_at_halt        |chalt.pml      |safety                |-DHALT -DBUG_RETURN_AT_HALT        |bug    |invalid end state
chalt.halted_pending        |chalt.pml      |safety                |-DHALT -DBUG_HALTED_PENDING        |bug    |H4
chalt.drop_at_halt          |chalt.pml      |safety                |-DHALT -DBUG_DROP_AT_HALT          |bug    |H3
drain                       |drain.pml      |safety                |                                   |pass   |
drain.three                 |drain.pml      |safety                |-DCH=3 -DNB=4                      |pass   |
drain.one_round             |drain.pml      |safety                |-DBUG_ONE_ROUND                    |bug    |D1
cexit                       |cexit.pml      |safety                |                                   |pass   |
cexit.live                  |cexit.pml      |ltlf:all_exit         |                                   |pass   |
cexit.k0                    |cexit.pml      |safety                |-DK0=1 -DNB=2                      |pass   |
cexit.one_bound             |cexit.pml      |safety                |-DNBOUND=1                         |pass   |
cexit.gcap2                 |cexit.pml      |safety                |-DGCAP=2                           |pass   |
cexit.laps                  |cexit.pml      |safety                |-DNS1=3                            |pass   |
cexit.ring1                 |cexit.pml      |safety                |-DRS=1                             |pass   |
cexit.fan_in                |cexit.pml      |safety                |-DNS0=2 -DNBOUND=3 -DNS2=2         |pass   |
cexit.term                  |cexit.pml      |safety                |-DTERM                             |pass   |
cexit.no_landed             |cexit.pml      |safety                |-DNO_LANDED                        |pass   |
cexit.no_wait               |cexit.pml      |safety                |-DBUG_NO_WAIT                      |bug    |E1
cexit.unbound_not_counted   |cexit.pml      |safety                |-DBUG_UNBOUND_NOT_COUNTED          |bug    |E3
cexit.count_after_wait      |cexit.pml      |safety                |-DBUG_COUNT_AFTER_WAIT             |bug    |E3
cexit.count_before_loop_end |cexit.pml      |safety                |-DBUG_COUNT_BEFORE_LOOP_END        |bug    |E1
cexit.members               |cexit.pml      |safety                |-DBUG_MEMBERS                      |bug    |E1
cexit.sup_counted           |cexit.pml      |safety                |-DK0=1 -DBUG_SUP_COUNTED           |bug    |E3
cexit.tail_before_wait      |cexit.pml      |safety                |-DBUG_TAIL_BEFORE_WAIT             |bug    |E2
cexit.leave_no_room         |cexit.pml      |safety                |-DBUG_LEAVE_NO_ROOM                |bug    |E2
cexit.put_aborts            |cexit.pml      |safety                |-DBUG_PUT_ABORTS                   |bug    |E4
cexit.term_no_wait          |cexit.pml      |safety                |-DTERM -DBUG_TERM_NO_WAIT          |bug    |E2
ll                          |ll.pml         |safety                |                                   |pass   |
ll.live                     |ll.pml         |ltlf:all_taken        |                                   |pass   |
ll.w3                       |ll.pml         |safety                |-DW=3                              |pass   |
ll.cap4                     |ll.pml         |safety                |-DCAP=4 -DFB=4 -DNPOS=24           |pass   |
ll.no_retire                |ll.pml         |safety                |-DBUG_NO_RETIRE                    |bug    |L1
ll.retire_at_wrap           |ll.pml         |safety                |-DBUG_RETIRE_AT_WRAP               |bug    |L1
ll.cap4_retire_at_wrap      |ll.pml         |safety                |-DCAP=4 -DFB=4 -DNPOS=24 -DBUG_RETIRE_AT_WRAP|bug    |L1
ll.no_flag_check            |ll.pml         |safety                |-DBUG_NO_FLAG_CHECK                |bug    |L1
EOF
}

trim() {
    local s=$1
    s=${s#"${s%%[![:space:]]*}"}
    printf '%s' "${s%"${s##*[![:space:]]}"}"
}

# ---- one check ----------------------------------------------------------------
# Writes "name|result|stored|depth|seconds|detail" to $dir/result.
run_check() {
    local name=$1 model=$2 mode=$3 defines=$4 expect=$5 want=$6
    local dir="$build/$name" cflags runflags claim="" t0 t1 out err stored depth first result detail want_re
    # A bare property name (R1, L4, ...) means its assertion.
    if printf '%s' "$want" | grep -q -E '^[A-Z][0-9]+$'; then
        want_re="assertion violated \\($want\\|\\|"
    else
        want_re=$want
    fi
    rm -rf "$dir" && mkdir -p "$dir" || return 1
    cd "$dir" || return 1
    # shellcheck disable=SC2086 # defines are a list of -D words
    if ! "$SPIN" -E-I"$build" $defines -a "$spec/$model" >spin.out 2>&1; then
        printf '%s|ERROR|-|-|-|spin -a failed: %s\n' "$name" "$(grep -m1 -i error spin.out)" >result
        return 0
    fi
    # Good models: optimised (they run long); bug variants stop early, so
    # compiling fast wins. COLLAPSE: exact state compression, less memory.
    if [ "$expect" = pass ]; then cflags="-O2 -DCOLLAPSE"; else cflags="-O0"; fi
    cflags="$cflags -w -DMEMLIM=2048"
    runflags="-m2000000"
    case $mode in
    safety) cflags="$cflags -DSAFETY -DNOCLAIM" ;;
    ltl:*) claim=${mode#ltl:}; runflags="$runflags -a -N $claim" ;;
    ltlf:*) claim=${mode#ltlf:}; runflags="$runflags -a -f -N $claim" ;;
    esac
    # shellcheck disable=SC2086
    if ! "$CC" $cflags -o pan pan.c >cc.out 2>&1; then
        printf '%s|ERROR|-|-|-|compiling pan.c failed\n' "$name" >result
        return 0
    fi
    t0=$(date +%s.%N)
    # shellcheck disable=SC2086
    ./pan $runflags >pan.out 2>&1
    t1=$(date +%s.%N)
    out=pan.out
    err=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' $out | tail -1)
    stored=$(awk '/states, stored/ {print $1; exit}' $out)
    depth=$(sed -n 's/.*depth reached \([0-9]*\).*/\1/p' $out | tail -1)
    first=$(grep -m1 -E '^pan:1: ' $out)
    if [ -z "$err" ]; then
        result=ERROR; detail="pan did not finish: $(tail -1 $out)"
    elif grep -q -E 'Search not completed|max search depth too small|out of memory' $out && [ "$err" = 0 ]; then
        result=FAIL; detail="search incomplete (memory or depth): no verdict"
    elif [ "$expect" = pass ]; then
        if [ "$err" = 0 ]; then result=ok; detail=""; else result=FAIL; detail=$first; fi
    elif [ "$err" = 0 ]; then
        result=FAIL; detail="the $expect variant PASSED: the model no longer catches it"
    elif printf '%s\n' "$first" | grep -q -E "$want_re"; then
        if [ "$expect" = bug ]; then result=rejected; else result=reproduced; fi
        detail=$(printf '%s' "$first" | sed 's/^pan:1: //; s/assertion violated //; s/ (at depth.*//' | cut -c1-60)
    else
        result=FAIL; detail="rejected for another reason: $first"
    fi
    printf '%s|%s|%s|%s|%.1f|%s\n' "$name" "$result" "${stored:--}" "${depth:--}" \
        "$(echo "$t1 - $t0" | bc)" "$detail" >result
    case $result in ok | rejected | reproduced) [ "$keep" = 1 ] || rm -f pan pan.c pan.[bhmpt] ;; esac
    return 0
}

# ---- main ----------------------------------------------------------------------
if [ "$list" = 1 ]; then
    checks | awk -F'|' '{ for (i = 1; i <= NF; i++) gsub(/^ +| +$/, "", $i);
                          printf "%-30s %-8s %-23s %-3s %s\n", $1, $5, $3, $6, $4 }'
    exit 0
fi
if ! command -v "$SPIN" >/dev/null 2>&1; then
    echo "spec: $SPIN not found: skipped (install the spin package)"
    exit 77
fi
if ! command -v "$CC" >/dev/null 2>&1; then
    echo "spec: no C compiler ($CC): skipped"
    exit 77
fi
command -v bc >/dev/null 2>&1 || { echo "spec: bc not found: skipped"; exit 77; }

mkdir -p "$build" || exit 1
build=$(cd "$build" && pwd)
# The lifecycle table and status codes, from the C headers.
if ! "$CC" -std=c11 -Wall -Wextra -I"$root/include" -o "$build/gen_tables" "$spec/gen_tables.c" ||
    ! "$build/gen_tables" >"$build/rk_tables.pml"; then
    echo "spec: generating rk_tables.pml from the headers failed"
    exit 1
fi

start=$(date +%s)
names=()
running=0
while IFS='|' read -r name model mode defines expect want; do
    name=$(trim "$name")
    [ -z "$name" ] && continue
    printf '%s\n' "$name" | grep -q -E "$pattern" || continue
    names+=("$name")
    (run_check "$name" "$(trim "$model")" "$(trim "$mode")" "$(trim "$defines")" "$(trim "$expect")" \
        "$(trim "$want")") &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
done < <(checks)
wait

status=0
printf '%-32s %-10s %12s %7s %8s  %s\n' check result states depth seconds detail
for name in "${names[@]}"; do
    if [ ! -f "$build/$name/result" ]; then
        printf '%-32s %-10s\n' "$name" ERROR
        status=1
        continue
    fi
    IFS='|' read -r n result stored depth secs detail <"$build/$name/result"
    printf '%-32s %-10s %12s %7s %8s  %s\n' "$n" "$result" "$stored" "$depth" "$secs" "$detail"
    case $result in ok | rejected | reproduced) ;; *) status=1 ;; esac
done
echo "spec: ${#names[@]} checks in $(($(date +%s) - start)) s: $([ $status = 0 ] && echo all as expected || echo FAILED)"
exit $status
