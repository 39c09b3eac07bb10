"""Lifecycles chained by events on the local cloud: a trained model starts its evaluation
("Model trained"), an increment continues from the source's checkpoint and starts training
("Training requested"), an inbox upload starts training or leaves a report."""

from __future__ import annotations

import json

from pitwall import layout
from pitwall.runs import RunKind, RunState
from pitwall_local.cloud import LocalCloud
from pitwall_local.examples import example_files


def _trained_run(cloud: LocalCloud, helpers, **request) -> str:
    run_id = helpers.new_run_id("source")
    execution = cloud.wait(cloud.start("Train", helpers.train_input(cloud, run_id, **request), name=run_id))
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    return run_id


def test_a_trained_model_that_asked_for_it_is_evaluated_and_the_metrics_land_in_its_record(
    cloud: LocalCloud, helpers
) -> None:
    evaluations_before = len(cloud.executions("Evaluate"))
    # Given a run that asks for an evaluation of its best checkpoint after training
    run_id = _trained_run(cloud, helpers, evaluate_after={"checkpoint": "best", "trials": 3})
    # When the "Model trained" event has started the Evaluate machine
    execution = cloud.wait_for_execution_of("Evaluate", evaluations_before + 1)[-1]
    result = cloud.wait(execution["executionArn"])
    # Then the evaluation succeeded and its metrics are in both run records
    assert result["status"] == "SUCCEEDED", result.get("cause")
    source = cloud.runs.get(run_id)
    assert len(source.evaluations) == 1
    evaluation = source.evaluations[0]
    assert evaluation.trials == 3
    assert evaluation.checkpoint == "best"
    assert 0 < evaluation.mean_completion_percent <= 100
    evaluation_run = cloud.runs.get(evaluation.evaluation_run_id)
    assert evaluation_run.kind == RunKind.EVALUATE
    assert evaluation_run.state == RunState.SUCCEEDED
    # it evaluated the trained model's best checkpoint, from a copy of its own
    assert source.outcome is not None
    assert evaluation_run.evaluated_checkpoint == source.outcome.best_checkpoint
    assert evaluation_run.model_prefix == layout.evaluation_model_prefix(
        source.request.model_name, evaluation_run.run_id
    )
    assert cloud.instance_states()[evaluation_run.segments[0].instance_id] == "terminated"


def test_an_increment_continues_from_the_source_checkpoint_with_faster_actions(
    cloud: LocalCloud, helpers
) -> None:
    # Given a trained model
    source_id = _trained_run(cloud, helpers)
    source = cloud.runs.get(source_id)
    assert source.outcome is not None and source.outcome.last_checkpoint is not None
    trains_before = len(cloud.executions("Train"))
    # When the Increment machine runs with 20% faster actions
    increment_id = helpers.new_run_id("increment")
    increment = cloud.wait(
        cloud.start("Increment", {"source_run_id": source_id, "speed_factor": 1.2}, name=increment_id)
    )
    assert increment["status"] == "SUCCEEDED", increment.get("cause")
    # Then a "Training requested" event started Train for a new model on a new prefix
    train = cloud.wait(cloud.wait_for_execution_of("Train", trains_before + 1)[-1]["executionArn"])
    assert train["status"] == "SUCCEEDED", train.get("cause")
    run = cloud.runs.get(increment_id)
    segment = run.segments[0]
    assert segment.model_prefix != source.model_prefix
    assert segment.pretrained is not None
    assert segment.pretrained.model_prefix == source.model_prefix
    assert segment.pretrained.checkpoint == "last"
    spec = json.loads(cloud.store.get_bytes(run.keys.run_spec) or b"{}")
    assert spec["run_settings"]["DR_LOCAL_S3_PRETRAINED"] == "True"
    assert spec["run_settings"]["DR_LOCAL_S3_PRETRAINED_PREFIX"] == source.model_prefix
    # the new model went on from the source's checkpoint: its numbering continues
    assert run.outcome is not None and run.outcome.last_checkpoint is not None
    assert layout.checkpoint_number(run.outcome.last_checkpoint) > layout.checkpoint_number(
        source.outcome.last_checkpoint
    )
    # and its actions are 20% faster
    original = json.loads(example_files()[layout.MODEL_METADATA_FILE])["action_space"]
    faster = json.loads(cloud.store.get_bytes(run.keys.custom_file(layout.MODEL_METADATA_FILE)) or b"{}")
    assert [a["speed"] for a in faster["action_space"]] == [round(a["speed"] * 1.2, 2) for a in original]


def test_an_increment_of_a_run_that_never_trained_fails_and_starts_nothing(
    cloud: LocalCloud, helpers
) -> None:
    trains_before = len(cloud.executions("Train"))
    execution = cloud.wait(cloud.start("Increment", {"source_run_id": "no-such-run"}))
    assert execution["status"] == "FAILED"
    assert execution["error"] == "IncrementFailed"
    assert "no-such-run" in execution["cause"]
    assert len(cloud.executions("Train")) == trains_before


def test_a_valid_inbox_upload_starts_training(cloud: LocalCloud, helpers) -> None:
    trains_before = len(cloud.executions("Train"))
    # When a custom-files folder with its run request lands in the inbox
    name = helpers.new_run_id("inbox")
    folder = cloud.upload_inbox_request(
        name, example_files(), {"model_name": name, "track": helpers.TRACK, "time_budget_minutes": 30}
    )
    # Then the Train machine runs it
    report = cloud.store.get_json(folder + layout.VALIDATION_REPORT_FILE)
    assert report["ok"] is True
    train = cloud.wait(cloud.wait_for_execution_of("Train", trains_before + 1)[-1]["executionArn"])
    assert train["status"] == "SUCCEEDED", train.get("cause")
    assert cloud.runs.get(report["run_id"]).state == RunState.SUCCEEDED


def test_an_invalid_inbox_upload_leaves_a_readable_report_and_starts_nothing(
    cloud: LocalCloud, helpers
) -> None:
    trains_before = len(cloud.executions("Train"))
    files = example_files()
    hyperparameters = json.loads(files[layout.HYPERPARAMETERS_FILE])
    hyperparameters["batch_size"] = 7
    files[layout.HYPERPARAMETERS_FILE] = json.dumps(hyperparameters).encode()
    folder = cloud.upload_inbox_request(
        helpers.new_run_id("bad"), files, {"model_name": "bad-model", "track": helpers.TRACK}
    )
    report = cloud.store.get_json(folder + layout.VALIDATION_REPORT_FILE)
    assert report["ok"] is False
    assert any("batch_size" in problem for problem in report["problems"])
    assert "hyperparameters.json" in report["text"]
    assert len(cloud.executions("Train")) == trains_before


def test_an_inbox_request_that_is_not_a_run_request_is_reported(cloud: LocalCloud, helpers) -> None:
    folder = cloud.upload_inbox_request(
        helpers.new_run_id("norequest"), example_files(), {"track": helpers.TRACK}
    )
    report = cloud.store.get_json(folder + layout.VALIDATION_REPORT_FILE)
    assert report["ok"] is False
    assert any("run-request.json: model_name" in problem for problem in report["problems"])
    # an import after an evaluation that the request never asks for: the rule names the fields
    never = {"after": "evaluation", "min_completion_percent": 80}
    folder = cloud.upload_inbox_request(
        helpers.new_run_id("noevaluation"),
        example_files(),
        {"model_name": "no-evaluation", "track": helpers.TRACK, "import_after": never},
    )
    report = cloud.store.get_json(folder + layout.VALIDATION_REPORT_FILE)
    assert report["ok"] is False
    assert report["problems"] == [
        "run-request.json: import_after.after 'evaluation' needs evaluate_after (the evaluation that "
        "decides the import; none: nothing is ever imported): add evaluate_after, or set "
        "import_after.after to 'training' (allowed: 'training', 'evaluation')"
    ]
