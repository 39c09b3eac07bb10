"""`pitwall status RUN --watch`: the view of a run in each state (its text, as the terminal shows
it), and the loop that reads the run no faster than the heartbeat cadence and ends with the run."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws
from rich.console import Console

from pitwall import aws, drfc_files, layout
from pitwall.adapters.store import ObjectStore
from pitwall.runs import (
    EvaluationResult,
    Pool,
    Run,
    RunKind,
    RunRequest,
    RunState,
    Segment,
    TrainingOutcome,
)
from pitwall_cli.watch import (
    MINIMUM_INTERVAL,
    WALL_TICK_SECONDS,
    Snapshot,
    cadence,
    read_interval,
    read_snapshot,
    render,
    tick_of,
    watch,
)

SNAPSHOTS = Path(__file__).parent / "snapshots"
T0 = 1_800_000_000.0
POOL = Pool(instance_type="g4dn.2xlarge", availability_zone="us-east-1a", subnet_id="subnet-1")


def _segment(index: int, **fields: object) -> Segment:
    return Segment(
        index=index,
        model_prefix=layout.segment_model_prefix("fast-one", index),
        deadline_epoch=T0 + 7200,
        **fields,  # type: ignore[arg-type]
    )


def _run(state: RunState, *segments: Segment, **fields: object) -> Run:
    ended = state in (RunState.SUCCEEDED, RunState.FAILED)
    return Run(
        run_id="run-1",
        kind=RunKind.TRAIN,
        request=RunRequest(
            model_name="fast-one", track="reInvent2019_track", time_budget_minutes=120, money_budget_usd=2
        ),
        state=state,
        created_at=T0,
        updated_at=T0 + 3700 if ended else T0,
        custom_files_prefix="runs/run-1/custom_files/",
        segments=list(segments),
        **fields,  # type: ignore[arg-type]
    )


def _trained(**fields: object) -> Segment:
    base: dict[str, object] = {
        "instance_id": "i-0aaa",
        "pool": POOL,
        "price_per_hour": 0.25,
        "launched_at": T0,
        "started_at": T0 + 300,
        "host_state": "started",
        "last_checkpoint": "9_Step-2000.ckpt",
        "episodes": 180,
    }
    return _segment(0, **{**base, **fields})


LAP = EvaluationResult(
    evaluation_run_id="eval-1",
    checkpoint="best",
    track="reInvent2019_track",
    trials=3,
    lap_times_seconds=[11.25, 10.875],
    mean_completion_percent=90.0,
    off_track_count=1,
    crash_count=0,
    completed_laps=2,
)

RUNS = {
    "prepared": _run(RunState.PREPARED),
    "provisioning": _run(RunState.PROVISIONING),
    "booting": _run(
        RunState.BOOTING,
        _segment(
            0, instance_id="i-0aaa", pool=POOL, price_per_hour=0.25, launched_at=T0, host_state="booting"
        ),
    ),
    "running": _run(RunState.RUNNING, _trained()),
    "replacing": _run(
        RunState.PROVISIONING,
        _trained(end_reason="spot-interruption: spot interruption warning for instance i-0aaa"),
    ),
    "finishing": _run(RunState.FINISHING, _trained(host_state="finished", ended_at=T0 + 3600)),
    "succeeded": _run(
        RunState.SUCCEEDED,
        _trained(host_state="finished", ended_at=T0 + 3600, end_reason="completed"),
        outcome=TrainingOutcome(
            last_checkpoint="9_Step-2000.ckpt",
            best_checkpoint="8_Step-1800.ckpt",
            best_metric=64.5,
            episodes=180,
            mean_completion_percent=41.0,
            lap_completions=4,
        ),
        evaluations=[LAP],
    ),
    "failed": _run(
        RunState.FAILED,
        _trained(ended_at=T0 + 2400, end_reason="circuit-breaker: 5 relaunches within 60 min"),
        failure="circuit-breaker: 5 relaunches within 60 min",
    ),
}


def _snapshot(run: Run) -> Snapshot:
    trained = run.trained_segment
    return Snapshot(
        run=run,
        episodes=run.episodes(),
        iterations=run.episodes() // 20,
        newest_checkpoint=trained.last_checkpoint if trained else None,
        best_checkpoint="8_Step-1800.ckpt" if trained else None,
        best_metric=64.5 if trained else None,
    )


def _text(run: Run, now: float) -> str:
    console = Console(record=True, width=110, color_system=None, force_terminal=False)
    console.print(render(_snapshot(run), now, default_time_budget_minutes=120))
    return console.export_text()


@pytest.mark.parametrize("state", sorted(RUNS))
def test_the_view_of_each_state_matches_its_snapshot(state: str) -> None:
    text = _text(RUNS[state], now=T0 + 1800)
    expected = SNAPSHOTS / f"watch_{state}.txt"
    assert text == expected.read_text(), f"{state}:\n{text}"


def test_money_reserved_for_a_running_evaluation_is_said_beside_the_cost_not_counted_in_it() -> None:
    # Given the running run (0.25 USD/h, 2 USD budget) and the same run with 1.50 USD reserved
    # for a scheduled evaluation still running
    plain = RUNS["running"]
    reserving = plain.model_copy(update={"evaluation_reservations": {"run-1-e0-1": 1.5}})
    # When each is drawn half an hour in
    lines = {
        name: [
            line
            for line in _text(run, now=T0 + 1800).splitlines()
            if "cost so far" in line or "spent" in line
        ]
        for name, run in (("plain", plain), ("reserving", reserving))
    }
    # Then both show the 0.12 USD its instance cost, cost and money bar; the reservation is said beside
    assert [" ".join(line.split()) for line in lines["reserving"]] == [
        "│ cost so far $0.12 of $2.00, $1.50 reserved for a running evaluation │",
        "│ money budget ━╸ 6% $0.12 spent │",
    ]
    assert len(lines["plain"]) == 2 and "reserved" not in lines["plain"][0]
    assert lines["plain"][1] == lines["reserving"][1]


class FakeClock:
    """A clock that moves only when the loop sleeps: no real waiting."""

    def __init__(self, start: float) -> None:
        self.now = start
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


def test_the_watch_reads_the_run_at_its_interval_and_ends_when_the_run_ends() -> None:
    # Given a run read as running twice, then as succeeded
    clock = FakeClock(T0 + 1800)
    states = [RUNS["running"], RUNS["running"], RUNS["succeeded"]]
    reads: list[float] = []

    def load() -> Snapshot:
        reads.append(clock())
        return _snapshot(states[min(len(reads), len(states)) - 1])

    console = Console(record=True, width=110, color_system=None, force_terminal=False)
    # When it is watched, reading every 150 s
    final = watch(
        load, console, interval=150, default_time_budget_minutes=120, clock=clock, sleep=clock.sleep
    )
    # Then it returned by itself once the run ended, after three reads 150 s apart
    assert final.run.state == RunState.SUCCEEDED
    assert [round(at - reads[0]) for at in reads] == [0, 150, 300]
    assert clock.slept == 300
    assert "pitwall report run-1 -o run-1.html" in console.export_text()


def test_the_watch_never_reads_faster_than_the_hosts_own_cadence() -> None:
    clock = FakeClock(T0)
    reads: list[float] = []

    def load() -> Snapshot:
        reads.append(clock())
        return _snapshot(RUNS["running"] if len(reads) < 3 else RUNS["failed"])

    console = Console(record=True, width=110, color_system=None, force_terminal=False)
    watch(load, console, interval=0.1, default_time_budget_minutes=120, clock=clock, sleep=clock.sleep)
    gaps = [later - earlier for earlier, later in itertools.pairwise(reads)]
    assert gaps and min(gaps) >= MINIMUM_INTERVAL


def test_the_cadence_is_a_quarter_of_the_stacks_heartbeat_window() -> None:
    assert cadence({"HeartbeatWindowSeconds": "600", "DefaultTimeBudgetMinutes": "90"}) == (150.0, 90)
    assert cadence({}) == (150.0, 120)
    assert cadence({"HeartbeatWindowSeconds": "12"}) == (MINIMUM_INTERVAL, 120)


def test_a_fast_stack_clock_redraws_every_quarter_second_of_wall_time_and_reads_at_its_cadence() -> None:
    # Given the local stack's clock, 480 times the wall clock's speed
    tick = tick_of(480)
    assert tick / 480 == WALL_TICK_SECONDS and tick_of(1) == 1.0
    clock = FakeClock(T0)
    sleeps: list[float] = []
    reads: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.sleep(seconds)

    def load() -> Snapshot:
        reads.append(clock())
        return _snapshot(RUNS["running"] if len(reads) < 3 else RUNS["succeeded"])

    console = Console(record=True, width=110, color_system=None, force_terminal=False)
    # When a run is watched, read every 150 stack seconds
    watch(load, console, interval=150, default_time_budget_minutes=120, clock=clock, sleep=sleep, tick=tick)
    # Then it is read every 150 s all the same, and redrawn 4 times, not 300 (once a stack second)
    assert [at - T0 for at in reads] == [0, 150, 300]
    assert sleeps == [120, 30, 120, 30]


def test_an_interval_shorter_than_the_cadence_is_raised_to_it_and_a_longer_one_is_kept() -> None:
    stack = {"HeartbeatWindowSeconds": "600"}
    assert read_interval(stack, None) == 150.0
    assert read_interval(stack, 1.0) == 150.0
    assert read_interval(stack, 900.0) == 900.0


@pytest.fixture
def bucket() -> Iterator[ObjectStore]:
    with mock_aws():
        aws.reset_clients()
        aws.client("s3").create_bucket(Bucket="models")
        yield ObjectStore("models")
    aws.reset_clients()


def _put(store: ObjectStore, key: str, document: object) -> None:
    aws.client("s3").put_object(Bucket=store.bucket, Key=key, Body=json.dumps(document).encode())


def _training(episodes: range) -> dict[str, object]:
    entries = [
        {"episode": n, "phase": "training", "completion_percentage": 40, "reward_score": 10.0}
        for n in episodes
    ]
    return drfc_files.training_metrics_document(entries, "progress")


def test_a_snapshot_reads_the_lineages_metrics_and_the_latest_checkpoints_from_s3(
    bucket: ObjectStore,
) -> None:
    # Given a run on its second segment: the first trained 2 iterations of 10 episodes and saved
    # checkpoints, the second has trained one iteration and saved none yet
    run = _run(RunState.RUNNING, _trained(ended_at=T0 + 1800, episodes=20), _segment(1, instance_id="i-0bbb"))
    first, second = (layout.ModelKeys(s.model_prefix) for s in run.segments)
    for model, episodes in ((first, range(1, 21)), (second, range(1, 11))):
        _put(bucket, model.training_metrics(0), _training(episodes))
        _put(bucket, model.ip_hyperparameters, {"num_episodes_between_training": 10})
    record = drfc_files.checkpoint_record
    _put(
        bucket,
        first.checkpoints_json,
        drfc_files.checkpoints_document(
            best=record("1_Step-900.ckpt", 55.0, T0), last=record("2_Step-1800.ckpt", 40.0, T0)
        ),
    )
    # When the watch reads it
    snapshot = read_snapshot(run, bucket)
    # Then it counts the lineage's episodes and iterations, with the first segment's checkpoints
    assert (snapshot.episodes, snapshot.iterations) == (30, 3)
    assert snapshot.newest_checkpoint == "2_Step-1800.ckpt"
    assert (snapshot.best_checkpoint, snapshot.best_metric) == ("1_Step-900.ckpt", 55.0)
