"""Scheduled evaluations: a run's schedules made from its request (what Scheduler is asked, on
moto) and ended with it, and what each firing does (on the in-memory adapters)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pitwall import aws, budget, layout, notifications, recovery
from pitwall.errors import BudgetExhausted
from pitwall.evaluations import EvaluationRequest, TrackLeg
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.models import ErrorInfo, NotifyInput
from pitwall.lifecycle.notify import notify_run
from pitwall.lifecycle.prepare import evaluation_money
from pitwall.lifecycle.scheduled import (
    charge_evaluation,
    create_run_schedules,
    end_run_schedules,
    fire_schedule,
    schedule_of,
)
from pitwall.reaper import fleet_view
from pitwall.runs import EvaluationResult, Run, RunKind, RunRequest, RunState, Segment, summarize
from pitwall.schedules import MAX_FIRINGS_KEPT, EvaluationSchedule, ScheduleSpec

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
    deps: Deps,
    *,
    evaluations: list[dict] | None = None,
    checkpoint: str | None = "4_Step-400.ckpt",
    money: float | None = 5,
    price_per_hour: float | None = None,
) -> Run:
    """A training run in its first segment, launched at START, until START + 2 hours."""
    if checkpoint:
        _checkpoint(deps, checkpoint)
    run = Run(
        run_id="train-1",
        kind=RunKind.TRAIN,
        request=RunRequest.model_validate(
            {
                "model_name": "m",
                "track": "reInvent2019_track",
                "money_budget_usd": money,
                "time_budget_minutes": 120,
                "evaluations": evaluations or [],
            }
        ),
        state=RunState.RUNNING,
        created_at=START,
        updated_at=START,
        custom_files_prefix="runs/train-1/custom_files",
        segments=[
            Segment(
                index=0,
                model_prefix=PREFIX,
                deadline_epoch=START + 7200,
                last_checkpoint=checkpoint,
                launched_at=START,
                price_per_hour=price_per_hour,
            )
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
    assert evaluation_money(run, EvaluationRequest(max_usd=2), "ev-1", deps) == 1.0
    assert evaluation_money(run, EvaluationRequest(max_usd=0.5), "ev-1", deps) == 0.5
    run.evaluation_costs = {"ev-0": 5.0}
    with pytest.raises(BudgetExhausted, match="no money left beside the training"):
        evaluation_money(run, EvaluationRequest(), "ev-1", deps)


@pytest.mark.parametrize("every", ["every 2 hours", "rate(0 hours)", "rate(2 weeks)", "cron(0 3 * * ?)"])
def test_a_schedule_expression_scheduler_would_refuse_is_a_clear_error(every: str) -> None:
    with pytest.raises(ValueError, match="every"):
        ScheduleSpec.model_validate({"every": every})


def test_a_firing_whose_evaluation_failed_to_prepare_does_not_block_the_next_one(
    deps: Deps, evaluate_machine: str
) -> None:
    # Given a firing whose Evaluate execution failed in PrepareEvaluation (no evaluation record)
    run = _training(deps)
    schedule = _schedule(run)
    first = fire_schedule(schedule, deps)
    deps.machines.end(first.evaluation_run_id, "FAILED")
    # When the schedule fires again
    deps.clock.advance(3600)
    again = fire_schedule(schedule, deps)
    # Then it evaluates, and the money the first one reserved is free again
    assert again.skipped is None
    assert [e["name"] for e in _executions(deps, evaluate_machine)] == [
        first.evaluation_run_id,
        again.evaluation_run_id,
    ]
    assert list(deps.runs.get("train-1").evaluation_reservations) == [again.evaluation_run_id]


NOTIFYING = "arn:aws:states:us-east-1:123456789012:execution:Train:train-1"


def test_the_reservation_of_an_evaluation_that_failed_to_prepare_is_released_when_its_run_ends(
    deps: Deps,
) -> None:
    # Given a 5 USD run at 1 USD/h whose scheduled evaluation failed in PrepareEvaluation (no
    # record, nothing charged), and no firing after it
    run = _training(deps, evaluations=[{"every": "rate(2 hours)"}], price_per_hour=1.0)
    create_run_schedules(run, deps)
    deps.clock.advance(1800)
    [schedule] = deps.schedules.all()
    failed = fire_schedule(schedule, deps)
    deps.machines.end(failed.evaluation_run_id, "FAILED")
    assert deps.runs.get("train-1").evaluation_reservations == {failed.evaluation_run_id: 3.0}
    deps.clock.advance(600)
    spent = deps.runs.get("train-1").spent_usd(deps.clock.now())
    # When the run ends
    notify_run(NotifyInput(run_id="train-1", execution_id=NOTIFYING), deps)
    # Then the reservation is gone, charging nothing: the run's cost is what it was
    run = deps.runs.get("train-1")
    assert run.evaluation_reservations == {} and run.evaluation_costs == {}
    assert run.spent_usd(deps.clock.now()) == pytest.approx(spent) == pytest.approx(2 / 3)
    assert run.committed_usd(deps.clock.now()) == pytest.approx(spent)
    [message] = deps.messaging.messages
    assert message.subject.endswith("$0.67")


def test_an_evaluation_still_running_when_its_run_ends_keeps_its_reservation_until_it_charges(
    deps: Deps,
) -> None:
    # Given a 5 USD run at 1 USD/h whose scheduled evaluation is running as the run ends
    run = _training(deps, price_per_hour=1.0)
    deps.clock.advance(1800)
    fired = fire_schedule(_schedule(run), deps)
    notify_run(NotifyInput(run_id="train-1", execution_id=NOTIFYING), deps)
    # Then it keeps its reservation
    assert deps.runs.get("train-1").evaluation_reservations == {fired.evaluation_run_id: 3.0}
    # and when it ends having cost 0.25, that replaces it
    evaluation = _evaluation(fired.evaluation_run_id, run.request, launched=START + 1800, seconds=900)
    deps.machines.end(fired.evaluation_run_id)
    charge_evaluation(evaluation, deps, deps.clock.now())
    run = deps.runs.get("train-1")
    assert (run.evaluation_reservations, run.evaluation_costs) == ({}, {fired.evaluation_run_id: 0.25})


def test_an_evaluation_that_fails_to_prepare_after_its_run_ended_frees_its_reservation(deps: Deps) -> None:
    # Given a scheduled evaluation whose Evaluate execution is running as its run ends
    run = _training(deps, price_per_hour=1.0)
    deps.clock.advance(1800)
    fired = fire_schedule(_schedule(run), deps)
    notify_run(NotifyInput(run_id="train-1", execution_id=NOTIFYING), deps)
    assert list(deps.runs.get("train-1").evaluation_reservations) == [fired.evaluation_run_id]
    # When it then fails in PrepareEvaluation (its checkpoint was deleted): no record, nothing
    # launched, and its RecordFailure names the run under test
    failing = NotifyInput(
        run_id=fired.evaluation_run_id,
        execution_id=f"arn:aws:states:us-east-1:123456789012:execution:Evaluate:{fired.evaluation_run_id}",
        error=ErrorInfo(Error="NothingToContinueFrom", Cause="checkpoint 4_Step-400.ckpt is no longer there"),
        source_run_id="train-1",
    )
    notify_run(failing, deps)
    # Then what its firing reserved is free, and it charged nothing
    run = deps.runs.get("train-1")
    assert (run.evaluation_reservations, run.evaluation_costs) == ({}, {})


class StartFails(Exception):
    pass


def test_a_firing_whose_start_failed_counts_as_starting_only_for_a_moment(
    deps: Deps, evaluate_machine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a firing recorded on the run whose StartExecution failed (the Lambda will be retried)
    run = _training(deps)
    schedule = _schedule(run)
    working = deps.machines.start

    def refused(*args: object) -> bool:
        raise StartFails("throttled")

    monkeypatch.setattr(deps.machines, "start", refused)
    with pytest.raises(StartFails):
        fire_schedule(schedule, deps)
    [lost] = deps.runs.get("train-1").schedule_firings
    monkeypatch.setattr(deps.machines, "start", working)
    # When another firing comes at once, it takes that evaluation as starting
    busy = fire_schedule(_schedule(run, repeat=True), deps)
    assert (
        busy.skipped == f"the previous evaluation of this model ({lost.evaluation_run_id}) is still running"
    )
    # and when the retry comes a minute later, it evaluates (with a new id)
    deps.clock.advance(60)
    retried = fire_schedule(schedule, deps)
    assert retried.skipped is None and retried.evaluation_run_id != lost.evaluation_run_id
    assert [e["name"] for e in _executions(deps, evaluate_machine)] == [retried.evaluation_run_id]


def test_an_evaluation_not_started_by_a_schedule_or_no_longer_in_its_firings_still_blocks(
    deps: Deps, evaluate_machine: str
) -> None:
    # Given an evaluation of the model started by its "Model trained" event or the CLI, running
    run = _training(deps)
    assert deps.machines.start(evaluate_machine, "manual-1", {"source_run_id": "train-1", "evaluation": {}})
    deps.machines.start(evaluate_machine, "other-model", {"source_run_id": "train-2", "evaluation": {}})
    # When a schedule fires: skipped, naming it (and not another model's evaluation)
    schedule = _schedule(run)
    assert fire_schedule(schedule, deps).skipped == (
        "the previous evaluation of this model (manual-1) is still running"
    )
    # Given instead a scheduled evaluation still running after more firings than the run keeps
    deps.machines.end("manual-1")
    deps.clock.advance(3600)
    started = fire_schedule(schedule, deps).evaluation_run_id
    for _ in range(MAX_FIRINGS_KEPT):
        deps.clock.advance(60)
        fire_schedule(schedule, deps)
    assert started not in {f.evaluation_run_id for f in deps.runs.get("train-1").schedule_firings}
    # Then a firing still sees it running
    deps.clock.advance(60)
    assert fire_schedule(schedule, deps).skipped == (
        f"the previous evaluation of this model ({started}) is still running"
    )


def _evaluation(run_id: str, request: RunRequest, *, launched: float, seconds: float) -> Run:
    """An ended evaluation of train-1 on one instance at 1 USD/h."""
    return Run(
        run_id=run_id,
        kind=RunKind.EVALUATE,
        request=request,
        state=RunState.SUCCEEDED,
        created_at=launched,
        updated_at=launched + seconds,
        custom_files_prefix="c",
        source_run_id="train-1",
        segments=[
            Segment(
                index=0,
                model_prefix="e",
                deadline_epoch=launched + 7200,
                launched_at=launched,
                ended_at=launched + seconds,
                price_per_hour=1.0,
            )
        ],
    )


def _money_views(run: Run, deps: Deps) -> tuple[object, ...]:
    """What the racer reads and the alarms see of a run's money: the fleet view's share of its
    budget and spend, the cost its end notification and `pitwall status` give."""
    now = deps.clock.now()
    fleet = fleet_view([run], now, heartbeat_window_seconds=600)
    ended = run.model_copy(update={"state": RunState.SUCCEEDED})
    return (
        fleet.budget_used_percent,
        fleet.live_cost_usd,
        notifications.run_finished(ended, now).subject,
        summarize(run, now).cost_usd,
    )


def test_a_firing_reserves_the_money_its_run_has_not_committed_to_its_training(
    deps: Deps, evaluate_machine: str
) -> None:
    # Given a 5 USD run training at 1 USD/h until START + 2 h, half an hour in (0.50 spent,
    # 1.50 committed to its training)
    _training(deps, price_per_hour=1.0)
    deps.clock.advance(1800)
    run = deps.runs.get("train-1")
    now = deps.clock.now()
    before = _money_views(run, deps)
    # When a schedule with a 10 USD cap fires
    fired = fire_schedule(_schedule(run, max_usd=10), deps)
    # Then it reserves the 3 USD left beside the training, and the evaluation's money budget is
    # that reservation
    run = deps.runs.get("train-1")
    assert run.evaluation_reservations == {fired.evaluation_run_id: 3.0}
    assert evaluation_money(run, EvaluationRequest(max_usd=10), fired.evaluation_run_id, deps) == 3.0
    # and the budget rule counts it as gone: no money is left for a next segment or evaluation
    assert recovery.spent(run, now).committed_usd == pytest.approx(3.5)
    run_budget = recovery.run_budget(run, recovery.RecoveryPolicy.from_settings(deps.settings))
    assert budget.left(run_budget, recovery.spent(run, now)).money_usd == pytest.approx(1.5)
    with pytest.raises(BudgetExhausted):
        evaluation_money(run, EvaluationRequest(), "another", deps)
    # but what the run reports and alarms on is what it spent, 0.50, as before the firing
    assert run.spent_usd(now) == pytest.approx(0.5)
    assert _money_views(run, deps) == before
    # When the evaluation ends having cost 0.40, that replaces the reservation
    evaluation = _evaluation(fired.evaluation_run_id, run.request, launched=START + 1800, seconds=1440)
    charge_evaluation(evaluation, deps, deps.clock.now())
    run = deps.runs.get("train-1")
    assert (run.evaluation_reservations, run.evaluation_costs) == ({}, {fired.evaluation_run_id: 0.4})


def test_a_firing_with_no_money_left_beside_the_training_is_skipped(
    deps: Deps, evaluate_machine: str
) -> None:
    # Given a 2 USD run training at 1 USD/h for 2 hours: all its money goes to the training
    run = _training(deps, money=2, price_per_hour=1.0)
    deps.clock.advance(600)
    # When a schedule fires
    fired = fire_schedule(_schedule(run), deps)
    # Then it starts nothing, reserves nothing, and the run says why
    assert fired.skipped is not None and fired.skipped.startswith("no money left beside the training")
    assert _executions(deps, evaluate_machine) == []
    assert deps.runs.get("train-1").evaluation_reservations == {}


def test_a_run_without_a_money_budget_reserves_nothing(deps: Deps) -> None:
    run = _training(deps, money=None, price_per_hour=1.0)
    assert fire_schedule(_schedule(run, max_usd=1), deps).skipped is None
    assert deps.runs.get("train-1").evaluation_reservations == {}


@pytest.mark.parametrize("how", ["ended", "past its time budget"])
def test_a_schedule_that_ends_with_its_run_deletes_itself_when_it_fires_after_the_run(
    deps: Deps, evaluate_machine: str, how: str
) -> None:
    # Given a run that ended, or used its two hours, with NotifyRun not (yet) run
    run = _training(
        deps, evaluations=[{"every": "rate(1 hour)"}, {"every": "rate(1 hour)", "ends_with_run": False}]
    )
    create_run_schedules(run, deps)
    ending, staying = sorted(deps.schedules.all(), key=lambda s: s.ends_with_run, reverse=True)
    if how == "ended":
        run.state = RunState.SUCCEEDED
        deps.runs.save(run)
        expected = "run train-1 has ended"
    else:
        deps.clock.advance(7201)
        expected = "run train-1 is past its time budget"
    # When each schedule fires
    skipped = fire_schedule(ending, deps)
    kept = fire_schedule(staying, deps)
    # Then the one that ends with the run deletes itself and starts nothing; the other evaluates
    assert skipped.skipped == expected
    assert deps.schedules.all() == [staying]
    assert kept.skipped is None
    assert [e["name"] for e in _executions(deps, evaluate_machine)] == [kept.evaluation_run_id]


def test_step_functions_says_which_executions_run_and_of_which_model(moto_deps: Deps) -> None:
    # Given an Evaluate machine on moto (which leaves executions running) with one execution stopped
    sfn = aws.client("stepfunctions")
    role = "arn:aws:iam::123456789012:role/sfn"
    definition = '{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": true}}}'
    arn = sfn.create_state_machine(name="Evaluate", definition=definition, roleArn=role)["stateMachineArn"]
    machines = moto_deps.machines
    assert machines.start(arn, "ev-1", {"source_run_id": "train-1"})
    assert machines.start(arn, "ev-2", {"source_run_id": "train-2"})
    sfn.stop_execution(executionArn=f"{arn.replace(':stateMachine:', ':execution:')}:ev-2")
    # Then the adapter reads each one's status, and the running ones with their input
    assert (machines.status(arn, "ev-1"), machines.status(arn, "ev-2")) == ("RUNNING", "ABORTED")
    assert machines.status(arn, "never-started") is None
    assert machines.running(arn) == {"ev-1": {"source_run_id": "train-1"}}
