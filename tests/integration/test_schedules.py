"""Scheduled evaluations on the local cloud: schedules made from a run request fire on the
accelerated clock (EventBridge Scheduler, fired by `pitwall_local.scheduler`) while the model
trains; an evaluation runs several tracks on one instance and a replacement finishes the rest;
firings that would pile up or waste are skipped; a schedule removed from the CLI never fires."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from pitwall import layout
from pitwall.adapters.scheduler import EvaluationSchedules
from pitwall.errors import RunNotFound
from pitwall.runs import Run, RunKind, RunRequest, RunState, Segment
from pitwall.schedules import EvaluationSchedule
from pitwall_cli import main
from pitwall_local.cloud import LocalCloud


def _until(what: str, found: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout} s")


def _location(cloud: LocalCloud) -> list[str]:
    outputs = cloud.stack.outputs
    return [
        "--table",
        cloud.runs.table_name,
        "--group",
        str(outputs["EvaluationScheduleGroupName"]),
        "--scheduler-role",
        str(outputs["EvaluationSchedulerRoleArn"]),
        "--target",
        str(outputs["StartScheduledEvaluationFunctionArn"]),
    ]


def _schedule_ids(cloud: LocalCloud, run_id: str) -> list[str]:
    return [s.schedule_id for s in _schedules(cloud) if s.source_run_id == run_id]


def _schedules(cloud: LocalCloud) -> list[EvaluationSchedule]:
    outputs = cloud.stack.outputs
    return EvaluationSchedules(
        group=str(outputs["EvaluationScheduleGroupName"]),
        role_arn=str(outputs["EvaluationSchedulerRoleArn"]),
        target_arn=str(outputs["StartScheduledEvaluationFunctionArn"]),
    ).all()


def _ended(cloud: LocalCloud, run_id: str | None) -> Run | None:
    try:
        run = cloud.runs.get(run_id or "")
    except RunNotFound:
        return None
    return run if run.is_terminal else None


def _evaluations_of(cloud: LocalCloud, run: Run) -> list[Run]:
    return [cloud.runs.get(f.evaluation_run_id) for f in run.schedule_firings if f.evaluation_run_id]


def test_a_schedule_from_a_run_request_evaluates_the_newest_checkpoint_while_the_model_trains(
    cloud: LocalCloud, helpers
) -> None:
    # Given a two-hour training whose request asks for an evaluation every 20 minutes on two legs
    # (object avoidance, continuous laps, a 3 s off-track penalty, at most 0.50 USD each, within
    # the run's 100 USD)
    run_id = helpers.new_run_id("sched")
    legs = [{"track": helpers.TRACK}, {"track": helpers.TRACK, "direction": "counterclockwise"}]
    spec = {"every": "rate(20 minutes)", "checkpoint": "last", "trials": 2, "tracks": legs}
    race = {
        "race_type": "OBJECT_AVOIDANCE",
        "continuous": True,
        "off_track_penalty_seconds": 3,
        "max_usd": 0.5,
    }
    payload = helpers.train_input(
        cloud, run_id, time_budget_minutes=120, money_budget_usd=100, evaluations=[{**spec, **race}]
    )
    # When it trains
    arn = cloud.start("Train", payload, name=run_id)
    [schedule_id] = _until("the run's schedule", lambda: _schedule_ids(cloud, run_id))
    assert cloud.wait(arn, timeout=120)["status"] == "SUCCEEDED"
    run = cloud.runs.get(run_id)
    started = [f for f in run.schedule_firings if f.evaluation_run_id]
    # Then the schedule fired during the training, each time evaluating the checkpoint that was
    # newest then, each a newer one
    assert len(cloud.scheduler.firings_of(schedule_id)) >= 3
    assert len(started) >= 2
    numbers = [layout.checkpoint_number(f.checkpoint_name or "") for f in started]
    assert numbers == sorted(set(numbers))
    for firing in started:
        # a firing just before the training ended may not have prepared its evaluation yet
        evaluation = _until("the evaluation's end", lambda f=firing: _ended(cloud, f.evaluation_run_id))
        assert evaluation.evaluated_checkpoint == firing.checkpoint_name
    # while it trained (the last may land after the training, while the run collects its outcome)
    assert all(firing.at < (run.segments[-1].ended_at or 0) for firing in started[:-1])
    # and each evaluation gave one result per leg, on its own instance
    run = cloud.runs.get(run_id)
    for evaluation in _evaluations_of(cloud, run):
        assert evaluation.state == RunState.SUCCEEDED, evaluation.failure
        assert len(evaluation.segments) == 1
        assert evaluation.segments[0].instance_id not in {s.instance_id for s in run.segments}
        assert [(r.track, r.direction) for r in evaluation.evaluations] == [
            (helpers.TRACK, "clockwise"),
            (helpers.TRACK, "counterclockwise"),
        ]
        # with the schedule's race options in DRFC's evaluation settings, and its money cap (the
        # money its firing reserved: under what the run had left beside its training)
        params = yaml.safe_load(
            cloud.store.get_bytes(layout.ModelKeys(evaluation.model_prefix or "").evaluation_params) or b""
        )
        race_settings = (
            params["RACE_TYPE"],
            str(params["IS_CONTINUOUS"]),
            float(params["OFF_TRACK_PENALTY"]),
        )
        assert race_settings == ("OBJECT_AVOIDANCE", "True", 3.0)
        assert evaluation.request.money_budget_usd == 0.5
    # their real cost replaced what they reserved on the run's budget, and the schedule ended with the run
    evaluations = {e.run_id: e for e in _evaluations_of(cloud, run)}
    _until("their costs on the run", lambda: set(cloud.runs.get(run_id).evaluation_costs) == set(evaluations))
    run = cloud.runs.get(run_id)
    assert run.evaluation_reservations == {}
    for evaluation_id, cost in run.evaluation_costs.items():
        evaluation = evaluations[evaluation_id]
        paid = sum(s.cost_usd(0) for s in evaluation.segments)  # ended segments: the time is theirs
        assert 0 < cost == pytest.approx(paid, abs=1e-6) and cost <= 0.5
    assert _schedule_ids(cloud, run_id) == []


def test_an_evaluation_of_three_legs_runs_on_one_instance_with_a_result_per_leg(
    cloud: LocalCloud, helpers
) -> None:
    # Given a trained model
    source_id = helpers.new_run_id("legs")
    trained = cloud.wait(
        cloud.start("Train", helpers.train_input(cloud, source_id, time_budget_minutes=60), name=source_id),
        timeout=90,
    )
    assert trained["status"] == "SUCCEEDED", trained.get("cause")
    # When it is evaluated on two tracks, one of them both ways
    evaluation_id = helpers.new_run_id("legs-eval")
    legs = [
        {"track": helpers.TRACK},
        {"track": helpers.TRACK, "direction": "counterclockwise"},
        {"track": "2022_april_open"},
    ]
    request = {"source_run_id": source_id, "evaluation": {"checkpoint": "best", "trials": 2, "tracks": legs}}
    execution = cloud.wait(cloud.start("Evaluate", request, name=evaluation_id), timeout=90)
    # Then one instance (one boot) evaluated the three legs, one result each
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    evaluation = cloud.runs.get(evaluation_id)
    assert len(evaluation.segments) == 1
    assert len(helpers.instances_of_run(cloud, evaluation_id)) == 1
    results = evaluation.evaluations
    assert [(r.track, r.direction, r.trials) for r in results] == [
        (helpers.TRACK, "clockwise", 2),
        (helpers.TRACK, "counterclockwise", 2),
        ("2022_april_open", "clockwise", 2),
    ]
    assert len({r.evaluated_at for r in results}) == 3
    assert cloud.runs.get(source_id).evaluations[-3:] == results


def test_a_replacement_during_a_multi_track_evaluation_finishes_only_the_remaining_tracks(
    cloud: LocalCloud, helpers
) -> None:
    # Given a trained model and a three-leg evaluation whose host dies once the first leg is done
    source_id = helpers.new_run_id("replace")
    trained = cloud.wait(
        cloud.start("Train", helpers.train_input(cloud, source_id, time_budget_minutes=60), name=source_id),
        timeout=90,
    )
    assert trained["status"] == "SUCCEEDED", trained.get("cause")
    evaluation_id = helpers.new_run_id("replace-eval")
    legs = [
        {"track": helpers.TRACK},
        {"track": "2022_april_open"},
        {"track": "2022_april_open", "direction": "counterclockwise"},
    ]
    request = {"source_run_id": source_id, "evaluation": {"checkpoint": "last", "trials": 4, "tracks": legs}}
    arn = cloud.start("Evaluate", request, name=evaluation_id)
    keys = layout.RunKeys(evaluation_id)
    _until("the first leg's record", lambda: cloud.store.exists(keys.evaluation_leg(0)))
    first_host = _until("the first host", lambda: cloud.runner.host_of_run(evaluation_id, 0))
    first_host.backend.crash()
    # When the evaluation recovers
    execution = cloud.wait(arn, timeout=120)
    # Then a second instance evaluated the two remaining legs only, and every leg has a result
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    evaluation = cloud.runs.get(evaluation_id)
    assert len(evaluation.segments) == 2
    first, second = (cloud.store.get_json(keys.evaluation_leg(i)) for i in (0, 1))
    third = cloud.store.get_json(keys.evaluation_leg(2))
    assert first["instance_id"] == evaluation.segments[0].instance_id
    assert second["instance_id"] == third["instance_id"] == evaluation.segments[1].instance_id
    second_spec = cloud.store.get_json(keys.run_spec)
    assert (second_spec["segment"], [leg["index"] for leg in second_spec["evaluation_legs"]]) == (1, [1, 2])
    assert [(r.track, r.direction) for r in evaluation.evaluations] == [
        (helpers.TRACK, "clockwise"),
        ("2022_april_open", "clockwise"),
        ("2022_april_open", "counterclockwise"),
    ]


def test_firings_that_would_pile_up_or_waste_are_skipped_and_a_removed_schedule_never_fires_again(
    cloud: LocalCloud, helpers, capsys
) -> None:
    # Given a short training with two schedules from the CLI that outlive it: one every minute
    # (an evaluation takes longer), and one every 5 minutes that keeps firing as a witness
    run_id = helpers.new_run_id("skips")
    trained = cloud.wait(
        cloud.start("Train", helpers.train_input(cloud, run_id, time_budget_minutes=60), name=run_id),
        timeout=90,
    )
    assert trained["status"] == "SUCCEEDED", trained.get("cause")
    location = _location(cloud)
    assert main(["schedule", "add", run_id, "--every", "rate(1 minute)", *location]) == 1
    assert "--keep-after-run" in capsys.readouterr().out  # it ended: a schedule that ends with it is refused
    every_minute = ["--every", "rate(1 minute)", "--trials", "3", "--keep-after-run"]
    assert main(["schedule", "add", run_id, *every_minute, *location]) == 0
    busy = capsys.readouterr().out.strip()
    assert main(["schedule", "add", run_id, "--every", "rate(5 minutes)", "--keep-after-run", *location]) == 0
    witness = capsys.readouterr().out.strip()

    # When the minute schedule has fired while its evaluation ran, and after it ended
    def firings(reason: str) -> list[Any]:
        return [
            f
            for f in cloud.runs.get(run_id).schedule_firings
            if f.schedule_id == busy and reason in (f.skipped or "")
        ]

    _until("a firing skipped while the evaluation ran", lambda: firings("is still running"), timeout=60)
    _until("a firing skipped for the unchanged checkpoint", lambda: firings("has not changed"), timeout=60)
    run = cloud.runs.get(run_id)
    started = [f for f in run.schedule_firings if f.evaluation_run_id]
    # Then one firing of all started an evaluation (the checkpoint never changed once trained)
    assert len(started) == 1
    assert len(run.schedule_firings) > 3
    # and the run's status shows the newest firings
    assert main(["status", run_id, "--table", cloud.runs.table_name]) == 0
    assert f"schedule {busy} fired: skipped: checkpoint" in capsys.readouterr().out
    # When the racer removes the minute schedule
    assert main(["schedule", "list", *location]) == 0
    assert busy in capsys.readouterr().out
    assert main(["schedule", "remove", busy, *location]) == 0
    fired_before = len(cloud.scheduler.firings_of(busy))
    removed_at = cloud.clock().now()
    # Then the clock goes past five of its due times, the witness fires twice more (a late
    # scheduler tick can fire two due times at once, so the clock is waited for too), and the
    # removed one never again
    witness_before = len(cloud.scheduler.firings_of(witness))
    _until(
        "five minutes and two more firings of the witness",
        lambda: (
            cloud.clock().now() - removed_at > 5 * 60
            and len(cloud.scheduler.firings_of(witness)) >= witness_before + 2
        ),
    )
    assert len(cloud.scheduler.firings_of(busy)) == fired_before
    assert busy not in [s.schedule_id for s in _schedules(cloud)]
    assert main(["schedule", "remove", witness, *location]) == 0


def test_an_evaluation_that_fails_to_prepare_frees_the_money_its_firing_reserved(
    cloud: LocalCloud, helpers
) -> None:
    # Given an ended training run on which a firing reserved 2 USD for an evaluation that asks
    # for a checkpoint the model does not have
    run_id, evaluation_id = helpers.new_run_id("reserved"), helpers.new_run_id("reserved-e0")
    now = cloud.clock().now()
    cloud.runs.create(
        Run(
            run_id=run_id,
            kind=RunKind.TRAIN,
            request=RunRequest(model_name=run_id, track="reInvent2019_track", money_budget_usd=5),
            state=RunState.SUCCEEDED,
            created_at=now - 3600,
            updated_at=now,
            custom_files_prefix=layout.RunKeys(run_id).custom_files_prefix,
            segments=[
                Segment(
                    index=0,
                    model_prefix=layout.segment_model_prefix(run_id, 0),
                    deadline_epoch=now,
                    last_checkpoint="4_Step-400.ckpt",
                    launched_at=now - 3600,
                    ended_at=now - 60,
                    price_per_hour=1.0,
                )
            ],
            evaluation_reservations={evaluation_id: 2.0},
        )
    )
    # When its Evaluate execution fails in PrepareEvaluation (no record: it launched nothing)
    payload = {"source_run_id": run_id, "evaluation": {"checkpoint": 999}}
    ended = cloud.wait(cloud.start("Evaluate", payload, name=evaluation_id), timeout=60)
    assert ended["status"] == "FAILED" and "NothingToContinueFrom" in (ended.get("cause") or ""), ended
    # Then its failure freed the reservation and charged nothing
    run = cloud.runs.get(run_id)
    assert (run.evaluation_reservations, run.evaluation_costs) == ({}, {})
