"""An evaluation's own copy of its checkpoint, its legs (track, direction) and their results, on
the in-memory adapters: prepare_evaluation, evaluation_legs_to_do, evaluate_outcome."""

from __future__ import annotations

import pytest

from pitwall import layout
from pitwall.errors import HostFailed, NothingToContinueFrom
from pitwall.host.protocol import EvaluationLegDone
from pitwall.lifecycle.checkpoints import checkpoint_to_evaluate
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.evaluate import evaluate_outcome, new_best_laps
from pitwall.lifecycle.models import PrepareEvaluationInput, RunRef
from pitwall.lifecycle.prepare import prepare_evaluation
from pitwall.lifecycle.provision import evaluation_legs_to_do
from pitwall.runs import (
    EvaluationRequest,
    EvaluationResult,
    ImportRequest,
    Run,
    RunKind,
    RunRequest,
    RunState,
    Segment,
    TrackLeg,
)
from pitwall.schedules import ScheduleFiring

START = 1_800_000_000.0
SOURCE_PREFIX = "models/m/seg-000"
CHECKPOINTS = ["3_Step-300.ckpt", "4_Step-400.ckpt", "5_Step-500.ckpt"]


@pytest.fixture
def start_epoch() -> float:
    return START


@pytest.fixture
def deps(fake_deps: Deps) -> Deps:
    return fake_deps


def _trained_source(deps: Deps, *, best: str = "4_Step-400.ckpt", state: RunState = RunState.RUNNING) -> Run:
    """A training run (still running) whose prefix holds three checkpoints, the last 5, the best 4."""
    model = layout.ModelKeys(SOURCE_PREFIX)
    for name in CHECKPOINTS:
        for key in model.checkpoint_files(name):
            deps.store.put_text(key, f"weights of {name}")
    deps.store.put_json(model.model_metadata, {"action_space_type": "continuous"})
    deps.store.put_json(
        model.checkpoints_json,
        {
            "best_checkpoint": {"name": best, "avg_eval_metric": 80.0},
            "last_checkpoint": {"name": CHECKPOINTS[-1]},
        },
    )
    for name in layout.CUSTOM_FILES:
        deps.store.put_text(layout.RunKeys("src").custom_file(name), name)
    run = Run(
        run_id="src",
        kind=RunKind.TRAIN,
        request=RunRequest(model_name="m", track="reInvent2019_track", time_budget_minutes=120),
        state=state,
        created_at=START,
        updated_at=START,
        custom_files_prefix="runs/src/custom_files",
        segments=[
            Segment(
                index=0,
                model_prefix=SOURCE_PREFIX,
                deadline_epoch=START + 7200,
                last_checkpoint=CHECKPOINTS[-1],
            )
        ],
    )
    assert deps.runs.create(run)
    return run


def _prepare(deps: Deps, evaluation: EvaluationRequest, evaluation_id: str = "ev-1") -> Run:
    task = PrepareEvaluationInput(
        source_run_id="src",
        evaluation=evaluation,
        evaluation_id=evaluation_id,
        execution_id=f"exec-{evaluation_id}",
    )
    prepare_evaluation(task, deps)
    return deps.runs.get(evaluation_id)


@pytest.mark.parametrize(
    ("which", "expected"),
    [
        ("best", "4_Step-400.ckpt"),
        ("last", "5_Step-500.ckpt"),
        (3, "3_Step-300.ckpt"),
        ("3_Step-300.ckpt", "3_Step-300.ckpt"),
    ],
)
def test_the_checkpoint_to_evaluate_is_the_best_the_last_or_the_numbered_one(
    deps: Deps, which, expected
) -> None:
    _trained_source(deps)
    assert checkpoint_to_evaluate(SOURCE_PREFIX, which, deps) == expected


def test_a_checkpoint_the_trainer_no_longer_keeps_cannot_be_evaluated(deps: Deps) -> None:
    # Given a source whose checkpoint 2 was deleted by the trainer long ago
    _trained_source(deps)
    # When an evaluation of checkpoint 2 is prepared
    with pytest.raises(NothingToContinueFrom, match="checkpoint 2 is not"):
        _prepare(deps, EvaluationRequest(checkpoint=2))
    # Then there is no evaluation run
    assert [run.run_id for run in deps.runs.all()] == ["src"]


def test_an_evaluation_of_a_model_still_training_copies_its_checkpoint_into_a_prefix_of_its_own(
    deps: Deps,
) -> None:
    # Given a training still under way
    _trained_source(deps)
    # When an evaluation of its last checkpoint on two legs is prepared
    run = _prepare(
        deps,
        EvaluationRequest(
            checkpoint="last",
            tracks=[TrackLeg(track="a"), TrackLeg(track="a", direction="counterclockwise")],
        ),
    )
    # Then its model is a copy of that one checkpoint (last = best = it), where DRFC reads a model
    assert run.evaluated_checkpoint == "5_Step-500.ckpt"
    target = layout.ModelKeys(layout.evaluation_model_prefix("m", "ev-1"))
    assert all(
        deps.store.get_bytes(key) == b"weights of 5_Step-500.ckpt"
        for key in target.checkpoint_files("5_Step-500.ckpt")
    )
    document = deps.store.get_json(target.checkpoints_json)
    assert document["best_checkpoint"]["name"] == document["last_checkpoint"]["name"] == "5_Step-500.ckpt"
    assert deps.store.get_json(target.model_metadata) == {"action_space_type": "continuous"}
    assert deps.store.get_bytes(target.coach_checkpoint) == b"5_Step-500.ckpt"
    # and all of its legs are still to do
    assert [(leg.index, leg.world_name, leg.reverse) for leg in evaluation_legs_to_do(run, deps)] == [
        (0, "a", False),
        (1, "a", True),
    ]


def test_no_tracks_means_the_track_the_model_trained_on(deps: Deps) -> None:
    _trained_source(deps)
    run = _prepare(deps, EvaluationRequest())
    assert run.evaluation is not None and run.evaluation.tracks == [TrackLeg(track="reInvent2019_track")]


def _leg_done(deps: Deps, run: Run, index: int, trials: list[dict]) -> None:
    assert run.evaluation is not None
    leg = run.evaluation.tracks[index]
    key = layout.ModelKeys(layout.evaluation_model_prefix("m", run.run_id)).evaluation_metrics(
        f"2027010100000{index}"
    )
    deps.store.put_json(key, {"metrics": trials})
    done = EvaluationLegDone(
        index=index,
        world_name=leg.track,
        reverse=leg.direction == "counterclockwise",
        metrics_key=key,
        finished_at_epoch=START + 100 * (index + 1),
    )
    deps.store.put_text(run.keys.evaluation_leg(index), done.to_json())


LAP = {"completion_percentage": 100, "elapsed_time_in_milliseconds": 12500, "episode_status": "Lap complete"}
OFF = {
    "completion_percentage": 40,
    "elapsed_time_in_milliseconds": 5000,
    "episode_status": "Off track",
    "off_track_count": 1,
    "reset_count": 1,
}


def _evaluation_run(deps: Deps) -> Run:
    _trained_source(deps)
    run = _prepare(
        deps,
        EvaluationRequest(
            tracks=[
                TrackLeg(track="a"),
                TrackLeg(track="b"),
                TrackLeg(track="b", direction="counterclockwise"),
            ]
        ),
    )
    run.segments = [
        Segment(
            index=0, model_prefix=layout.evaluation_model_prefix("m", "ev-1"), deadline_epoch=START + 3600
        )
    ]
    return deps.runs.save(run)


def test_a_replacement_gets_only_the_legs_no_host_recorded_as_done(deps: Deps) -> None:
    # Given a three-leg evaluation whose first host finished leg 1 only
    run = _evaluation_run(deps)
    _leg_done(deps, run, 1, [LAP])
    # When the next host's legs are worked out
    legs = evaluation_legs_to_do(run, deps)
    # Then they are legs 0 and 2, with their own indexes
    assert [(leg.index, leg.world_name, leg.reverse) for leg in legs] == [(0, "a", False), (2, "b", True)]


def test_the_outcome_is_one_result_per_leg_in_both_records(deps: Deps) -> None:
    # Given a three-leg evaluation whose legs are all done
    run = _evaluation_run(deps)
    _leg_done(deps, run, 0, [LAP, OFF])
    _leg_done(deps, run, 1, [LAP, LAP])
    _leg_done(deps, run, 2, [OFF, OFF])
    # When its outcome is collected
    output = evaluate_outcome(RunRef(run_id=run.run_id), deps)
    # Then each leg has its result: track, direction, laps, off-track, resets, the checkpoint
    results = output.results
    assert [(r.track, r.direction) for r in results] == [
        ("a", "clockwise"),
        ("b", "clockwise"),
        ("b", "counterclockwise"),
    ]
    assert [r.completed_laps for r in results] == [1, 2, 0]
    assert [r.off_track_count for r in results] == [1, 0, 2]
    assert [r.reset_count for r in results] == [1, 0, 2]
    assert results[1].best_lap_seconds == 12.5 and results[2].best_lap_seconds is None
    assert {r.checkpoint_name for r in results} == {"4_Step-400.ckpt"}
    assert [r.evaluated_at for r in results] == [START + 100, START + 200, START + 300]
    assert deps.runs.get("src").evaluations == results == deps.runs.get(run.run_id).evaluations


def test_an_outcome_with_a_leg_missing_fails_rather_than_report_half_an_evaluation(deps: Deps) -> None:
    run = _evaluation_run(deps)
    _leg_done(deps, run, 0, [LAP])
    with pytest.raises(HostFailed, match="no result for b/clockwise, b/counterclockwise"):
        evaluate_outcome(RunRef(run_id=run.run_id), deps)
    assert deps.runs.get("src").evaluations == []


def _result(track: str, laps: list[float], direction: str = "clockwise") -> EvaluationResult:
    return EvaluationResult(
        evaluation_run_id="ev",
        checkpoint="last",
        track=track,
        direction=direction,  # type: ignore[arg-type]
        trials=len(laps) or 1,
        lap_times_seconds=laps,
        mean_completion_percent=100,
        off_track_count=0,
        crash_count=0,
        completed_laps=len(laps),
    )


def test_a_new_best_lap_is_one_faster_than_every_earlier_lap_on_that_track_and_direction() -> None:
    earlier = [_result("a", [12.0, 11.5]), _result("b", [9.0])]
    faster, slower, reverse, first, none = (
        _result("a", [11.2]),
        _result("b", [9.5]),
        _result("a", [13.0], "counterclockwise"),
        _result("c", [20.0]),
        _result("d", []),
    )
    records = new_best_laps(earlier, [faster, slower, reverse, first, none])
    assert records == [(faster, 11.5), (reverse, None), (first, None)]


def test_only_the_evaluation_the_finished_training_started_may_import(deps: Deps) -> None:
    # Given a finished training that imports after evaluation, and a schedule that fired
    source = _trained_source(deps, state=RunState.SUCCEEDED)
    source.request.import_after = ImportRequest(after="evaluation")
    source.request.evaluate_after = EvaluationRequest(checkpoint="best")
    firing = ScheduleFiring(schedule_id="src-e0", at=START, evaluation_run_id="src-e0-1")
    source.schedule_firings.append(firing)
    deps.runs.save(source)
    # When its evaluate_after's evaluation and the firing's evaluation are prepared
    after_training = _prepare(deps, EvaluationRequest(checkpoint="best"), "ev-after-training")
    scheduled = _prepare(deps, EvaluationRequest(checkpoint="last"), "src-e0-1")
    # Then only the first one carries the import
    assert after_training.request.import_after == ImportRequest(after="evaluation")
    assert scheduled.request.import_after is None
    # and the evaluate_after the import needs (RunRequest's rule): both records read back
    assert after_training.request.evaluate_after == source.request.evaluate_after
    assert scheduled.request.evaluate_after is None
    assert deps.runs.get("ev-after-training").request == after_training.request
