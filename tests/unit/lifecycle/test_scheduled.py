"""Scheduled evaluations: a run's schedules made from its request (what Scheduler is asked, on
moto) and ended with it, and what each firing does (on the in-memory adapters)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pitwall import aws, layout
from pitwall.errors import BudgetExhausted
from pitwall.evaluations import EvaluationRequest, TrackLeg
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.prepare import evaluation_money
from pitwall.lifecycle.scheduled import create_run_schedules, end_run_schedules, fire_schedule, schedule_of
from pitwall.runs import EvaluationResult, Run, RunKind, RunRequest, RunState, Segment
from pitwall.schedules import EvaluationSchedule, ScheduleSpec

START = 1_800_000_000.0
PREFIX = "models/m/seg-000"


@pytest.fixture
def start_epoch() -> float:
    return START


@pytest.fixture
def deps(fake_deps: Deps) -> Deps:
    return fake_deps


@pytest.fixture
def evaluate_machine(deps: Deps) -> str:
    return deps.settings.evaluate_state_machine_arn


def _checkpoint(deps: Deps, name: str) -> None:
    model = layout.ModelKeys(PREFIX)
    for key in model.checkpoint_files(name):
        deps.store.put_text(key, name)
    record = {"name": name, "avg_eval_metric": 50.0}
    deps.store.put_json(model.checkpoints_json, {"best_checkpoint": record, "last_checkpoint": record})


def _training(
    deps: Deps, *, evaluations: list[dict] | None = None, checkpoint: str | None = "4_Step-400.ckpt"
) -> Run:
    if checkpoint:
        _checkpoint(deps, checkpoint)
    run = Run(
        run_id="train-1",
        kind=RunKind.TRAIN,
        request=RunRequest.model_validate(
            {
                "model_name": "m",
                "track": "reInvent2019_track",
                "money_budget_usd": 5,
                "evaluations": evaluations or [],
            }
        ),
        state=RunState.RUNNING,
        created_at=START,
        updated_at=START,
        custom_files_prefix="runs/train-1/custom_files",
        segments=[
            Segment(index=0, model_prefix=PREFIX, deadline_epoch=START + 7200, last_checkpoint=checkpoint)
        ],
    )
    assert deps.runs.create(run)
    return run


def _schedule(run: Run, **spec) -> EvaluationSchedule:
    return schedule_of(
        run, ScheduleSpec.model_validate({"every": "rate(2 hours)", "checkpoint": "last", **spec}), "t"
    )


def _executions(deps: Deps, arn: str) -> list[dict]:
    started = deps.machines.executions.items()
    return [{"name": name, "input": payload} for name, (machine, payload) in started if machine == arn]


def test_a_run_requests_schedules_are_made_in_the_stacks_group_with_the_schedule_as_input(
    moto_deps: Deps,
) -> None:
    deps = moto_deps
    # Given a run request with two scheduled evaluations
    run = _training(
        deps,
        evaluations=[
            {
                "every": "rate(2 hours)",
                "tracks": [{"track": "a"}, {"track": "a", "direction": "counterclockwise"}],
            },
            {"every": "cron(0 3 * * ? *)", "flexible_window_minutes": 15, "ends_at": "2027-03-01T00:00:00Z"},
        ],
    )
    # When they are made (twice: a retried PrepareRun)
    made = create_run_schedules(run, deps)
    assert create_run_schedules(run, deps) == made
    # Then the group holds both, each invoking the target with its schedule, as AWS will
    scheduler = aws.client("scheduler")
    listed = scheduler.list_schedules(GroupName="pitwall-evaluations")["Schedules"]
    assert sorted(s["Name"] for s in listed) == sorted(made)
    nightly = scheduler.get_schedule(Name=made[1], GroupName="pitwall-evaluations")
    assert nightly["ScheduleExpression"] == "cron(0 3 * * ? *)"
    assert nightly["FlexibleTimeWindow"] == {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15}
    assert nightly["EndDate"].astimezone(UTC) == datetime(2027, 3, 1, tzinfo=UTC)
    assert nightly["Target"]["Arn"] == deps.settings.scheduled_evaluation_arn
    assert nightly["Target"]["RoleArn"] == deps.settings.scheduler_role_arn
    first = EvaluationSchedule.model_validate_json(
        scheduler.get_schedule(Name=made[0], GroupName="pitwall-evaluations")["Target"]["Input"]
    )
    assert (first.source_run_id, first.model_name) == ("train-1", "m")
    assert [leg.label for leg in first.tracks] == ["a/clockwise", "a/counterclockwise"]


def test_the_schedules_that_end_with_a_run_are_deleted_when_it_ends_and_the_others_stay(deps: Deps) -> None:
    run = _training(
        deps, evaluations=[{"every": "rate(1 day)"}, {"every": "rate(1 day)", "ends_with_run": False}]
    )
    ending, staying = create_run_schedules(run, deps)
    assert end_run_schedules(run, deps) == [ending]
    assert [s.schedule_id for s in deps.schedules.all()] == [staying]


def test_a_firing_starts_an_evaluation_of_the_newest_checkpoint_by_number(
    deps: Deps, evaluate_machine: str
) -> None:
    # Given a training whose newest checkpoint is 4
    run = _training(deps)
    schedule = _schedule(run, tracks=[{"track": "a"}], trials=2)
    # When its schedule fires
    fired = fire_schedule(schedule, deps)
    # Then an Evaluate execution evaluates checkpoint 4 on the schedule's track, and the run says so
    assert fired.skipped is None and fired.checkpoint_name == "4_Step-400.ckpt"
    [execution] = _executions(deps, evaluate_machine)
    assert execution["name"] == fired.evaluation_run_id
    evaluation = EvaluationRequest.model_validate(execution["input"]["evaluation"])
    assert (evaluation.checkpoint, evaluation.tracks, evaluation.trials) == (
        "4_Step-400.ckpt",
        [TrackLeg(track="a")],
        2,
    )
    [firing] = deps.runs.get("train-1").schedule_firings
    assert firing.evaluation_run_id == fired.evaluation_run_id


def test_a_firing_while_the_models_previous_evaluation_runs_is_skipped_and_recorded(
    deps: Deps, evaluate_machine: str
) -> None:
    # Given a schedule that fired once (its evaluation not prepared yet, or still running)
    run = _training(deps)
    schedule = _schedule(run)
    first = fire_schedule(schedule, deps)
    # When it fires again
    again = fire_schedule(schedule, deps)
    # Then the second firing started nothing and the run records why
    assert again.evaluation_run_id is None
    assert (
        again.skipped == f"the previous evaluation of this model ({first.evaluation_run_id}) is still running"
    )
    assert len(_executions(deps, evaluate_machine)) == 1
    assert [f.skipped for f in deps.runs.get("train-1").schedule_firings] == [None, again.skipped]


def _evaluated(deps: Deps, checkpoint: str, track: str = "reInvent2019_track") -> None:
    run = deps.runs.get("train-1")
    run.evaluations.append(
        EvaluationResult(
            evaluation_run_id="ev-old",
            checkpoint=4,
            checkpoint_name=checkpoint,
            track=track,
            evaluated_at=START,
            trials=1,
            lap_times_seconds=[],
            mean_completion_percent=50,
            off_track_count=1,
            crash_count=0,
            completed_laps=0,
        )
    )
    deps.runs.save(run)


def test_an_unchanged_checkpoint_is_not_evaluated_again_unless_the_schedule_repeats(
    deps: Deps, evaluate_machine: str
) -> None:
    # Given checkpoint 4, already evaluated on the training track by an evaluation that ended
    run = _training(deps)
    _evaluated(deps, "4_Step-400.ckpt")
    # When a schedule on that track fires, and one that repeats
    skipped = fire_schedule(_schedule(run), deps)
    repeated = fire_schedule(_schedule(run, repeat=True), deps)
    # Then the first is skipped as a waste and the second evaluates it again
    assert (
        skipped.skipped
        == "checkpoint 4_Step-400.ckpt has not changed since its last evaluation on these tracks"
    )
    assert repeated.skipped is None
    assert [e["name"] for e in _executions(deps, evaluate_machine)] == [repeated.evaluation_run_id]


def test_a_new_checkpoint_or_another_track_is_evaluated(deps: Deps, evaluate_machine: str) -> None:
    run = _training(deps)
    _evaluated(deps, "3_Step-300.ckpt")
    assert fire_schedule(_schedule(run), deps).skipped is None


def test_a_model_without_a_checkpoint_yet_is_skipped(deps: Deps, evaluate_machine: str) -> None:
    run = _training(deps, checkpoint=None)
    assert fire_schedule(_schedule(run), deps).skipped == "no checkpoint 'last' to evaluate yet"
    assert _executions(deps, evaluate_machine) == []


def test_an_evaluation_spends_within_its_cap_and_what_its_run_has_left(deps: Deps) -> None:
    run = _training(deps)  # 5 USD budget
    run.evaluation_costs = {"ev-0": 4.0}
    assert evaluation_money(run, EvaluationRequest(max_usd=2), START) == 1.0
    assert evaluation_money(run, EvaluationRequest(max_usd=0.5), START) == 0.5
    run.evaluation_costs = {"ev-0": 5.0}
    with pytest.raises(BudgetExhausted, match="spent its money budget"):
        evaluation_money(run, EvaluationRequest(), START)


@pytest.mark.parametrize("every", ["every 2 hours", "rate(0 hours)", "rate(2 weeks)", "cron(0 3 * * ?)"])
def test_a_schedule_expression_scheduler_would_refuse_is_a_clear_error(every: str) -> None:
    with pytest.raises(ValueError, match="every"):
        ScheduleSpec.model_validate({"every": every})
