"""Move back: at a checkpoint, a training segment hands over to a pool that now costs clearly
less per useful episode; rate-limited and with the ranking's margins, so it never flaps."""

from __future__ import annotations

from pitwall import layout, recovery
from pitwall.episode_cost import CostModel, Offer, Workload, move_target, rank
from pitwall.recovery import EventKind, HandOver, Ignore, Reason, Replace, RunEvent
from pitwall.runs import Pool, Run, RunKind, RunRequest, RunState, Segment

T0 = 1_790_000_000.0
HOUR = 3600.0
POLICY = recovery.RecoveryPolicy(
    boot_seconds=480, heartbeat_window_seconds=600, default_time_budget_seconds=24 * HOUR
)
MODEL = CostModel(boot_minutes=3)
HERE = Pool(instance_type="g5.2xlarge", availability_zone="us-east-1a", subnet_id="subnet-a")
THERE = Pool(instance_type="g4dn.2xlarge", availability_zone="us-east-1b", subnet_id="subnet-b")
ELSEWHERE = Pool(instance_type="g4dn.2xlarge", availability_zone="us-east-1c", subnet_id="subnet-c")


def ranked(here: float, there: float, elsewhere: float | None = None) -> list:
    offers = [Offer(HERE, here, ">20%"), Offer(THERE, there, ">20%")]
    if elsewhere is not None:
        offers.append(Offer(ELSEWHERE, elsewhere, ">20%"))
    return rank(offers, Workload(run_hours=8), MODEL)


def training_run(**fields: object) -> Run:
    values: dict[str, object] = {
        "index": 0,
        "model_prefix": layout.segment_model_prefix("fast-car", 0),
        "deadline_epoch": T0 + 24 * HOUR,
        "instance_id": "i-0000",
        "pool": HERE,
        "price_per_hour": 0.9,
        "launched_at": T0,
        "started_at": T0 + 180,
        "host_state": "started",
        "last_heartbeat_at": T0 + 600,
        "last_checkpoint": "3_Step-900.ckpt",
    }
    values.update(fields)
    return Run(
        run_id="run-1",
        kind=RunKind.TRAIN,
        request=RunRequest(model_name="fast-car", track="reInvent2019_track"),
        state=RunState.RUNNING,
        version=3,
        created_at=T0 - 60,
        updated_at=T0,
        custom_files_prefix=layout.RunKeys("run-1").custom_files_prefix,
        segments=[Segment.model_validate(values)],
        task_token="token-of-the-work-wait",
    )


def cheaper(at: float) -> RunEvent:
    return RunEvent(kind=EventKind.CHEAPER_POOL, at=at, instance_id="i-0000", detail="g4dn is cheaper")


def test_a_clearly_cheaper_pool_is_the_target_and_a_slightly_cheaper_one_is_not():
    assert move_target(ranked(0.90, 0.30), HERE, excluded=[], remaining_hours=6, model=MODEL) is not None
    target = move_target(ranked(0.90, 0.30, 0.25), HERE, excluded=[], remaining_hours=6, model=MODEL)
    assert target is not None and target.pool == ELSEWHERE  # the cheapest of the others
    assert move_target(ranked(0.90, 0.87), HERE, excluded=[], remaining_hours=6, model=MODEL) is None


def test_no_target_in_an_excluded_pool_nor_when_the_time_left_does_not_pay_the_boot():
    prices = ranked(0.90, 0.30)
    assert move_target(prices, HERE, excluded=[THERE.label], remaining_hours=6, model=MODEL) is None
    assert move_target(prices, HERE, excluded=[], remaining_hours=0.04, model=MODEL) is None


def test_after_a_move_the_old_pool_is_never_a_target_at_the_same_prices():
    prices = ranked(0.90, 0.30)
    moved = move_target(prices, HERE, excluded=[], remaining_hours=6, model=MODEL)
    assert moved is not None
    assert move_target(prices, moved.pool, excluded=[], remaining_hours=6, model=MODEL) is None


def test_the_check_is_due_once_per_interval_of_training_and_never_while_handing_over():
    run = training_run()
    started = T0 + 180
    assert not recovery.move_check_due(run, started + POLICY.move_check_seconds - 1, POLICY)
    assert recovery.move_check_due(run, started + POLICY.move_check_seconds, POLICY)
    run.segments[0].move_checked_at = started + POLICY.move_check_seconds
    assert not recovery.move_check_due(run, started + 1.5 * POLICY.move_check_seconds, POLICY)
    assert recovery.move_check_due(run, started + 2 * POLICY.move_check_seconds, POLICY)
    run.segments[0].handover_requested_at = started + 2 * POLICY.move_check_seconds
    assert not recovery.move_check_due(run, started + 5 * POLICY.move_check_seconds, POLICY)


def test_a_cheaper_pool_hands_over_and_the_replaced_segment_ends_for_it():
    run = training_run()
    now = T0 + HOUR
    decision = recovery.decide(run, cheaper(now), now, POLICY)
    assert isinstance(decision, HandOver) and decision.reason == Reason.CHEAPER_POOL
    recovery.apply(run, decision, now)
    assert run.state == RunState.RUNNING and run.segments[0].handover_reason == "cheaper-pool"
    # the replacement boots elsewhere than the pool being left
    assert recovery.excluded_pools(run, now, POLICY) == [HERE.label]
    run.standby = Segment(
        index=1, model_prefix="models/fast-car/seg-001", deadline_epoch=T0 + 24 * HOUR, instance_id="i-0001"
    )
    ready = RunEvent(kind=EventKind.STANDBY_READY, at=now + 200, instance_id="i-0001")
    replace = recovery.decide(run, ready, now + 200, POLICY)
    assert isinstance(replace, Replace) and replace.save_first
    assert replace.reason == Reason.CHEAPER_POOL and "a cheaper pool" in replace.detail
    recovery.apply(run, replace, now + 200)
    # leaving a pool for a cheaper one says nothing about its capacity: no cooldown on it
    run.segments[0].ended_at = now + 300
    assert recovery.excluded_pools(run, now + 400, POLICY) == []


def test_a_move_never_stops_nor_replaces_a_run_it_cannot_hand_over():
    before_checkpoint = training_run(last_checkpoint=None)
    now = T0 + HOUR
    assert isinstance(recovery.decide(before_checkpoint, cheaper(now), now, POLICY), Ignore)
    out_of_time = training_run()
    out_of_time.request = out_of_time.request.model_copy(update={"time_budget_minutes": 30})
    assert isinstance(recovery.decide(out_of_time, cheaper(now), now, POLICY), Ignore)
