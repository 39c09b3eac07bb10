"""Every events/<function>__<scenario>.json (for `sam local invoke -e` and the docs) is valid
input of its handler's model, and every function has at least one; the state machines' example
inputs are valid too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel

from pitwall import layout
from pitwall.customfiles.validate import RewardCheck
from pitwall.lifecycle import models
from pitwall.schedules import EvaluationSchedule

REPO = Path(__file__).resolve().parents[2]
EVENTS = sorted((REPO / "events").glob("*.json"))

INPUT_MODEL: dict[str, type[BaseModel]] = {
    "validate_custom_files": models.TrainInput,
    "prepare_run": models.PrepareInput,
    "prepare_evaluation": models.PrepareEvaluationInput,
    "provision_instance": models.ProvisionInput,
    "await_host": models.AwaitInput,
    "record_heartbeat": models.S3Notification,
    "collect_outcome": models.RunRef,
    "evaluate_outcome": models.RunRef,
    "terminate_instance": models.TerminateInput,
    "notify_run": models.NotifyInput,
    "increment_model": models.IncrementInput,
    "start_from_inbox": models.S3Notification,
    "request_checkpoint_save": models.InstanceEvent,
    "decide_recovery": models.RecoveryInput,
    "reap_instances": models.ScheduledEvent,
    "check_reward_function": RewardCheck,
    "start_scheduled_evaluation": EvaluationSchedule,
    "prepare_import": models.PrepareImportInput,
    "submit_import": models.ImportRef,
    "poll_import": models.ImportRef,
    "finish_import": models.FinishImportInput,
    "statemachine_import": models.ImportInput,
    "statemachine_train": models.TrainInput,
    "statemachine_evaluate": models.EvaluateInput,
    "statemachine_increment": models.IncrementRequest,
}


def test_every_function_has_an_input_model_and_an_example_event() -> None:
    functions = {path.parent.name for path in (REPO / "functions").glob("*/app.py")}
    with_events = {path.stem.split("__")[0] for path in EVENTS}
    assert functions <= set(INPUT_MODEL), f"no input model listed for {sorted(functions - set(INPUT_MODEL))}"
    assert functions <= with_events, f"no events/*.json for {sorted(functions - with_events)}"


@pytest.mark.parametrize("path", EVENTS, ids=lambda p: p.stem)
def test_event_is_valid_input_of_its_handler(path: Path) -> None:
    function = path.stem.split("__")[0]
    assert function in INPUT_MODEL, f"{path.name}: no function {function!r}"
    INPUT_MODEL[function].model_validate(json.loads(path.read_text()))


def test_a_handler_input_missing_a_field_is_refused() -> None:
    event = json.loads((REPO / "events" / "await_host__boot.json").read_text())
    del event["task_token"]
    with pytest.raises(ValueError, match="task_token"):
        models.AwaitInput.model_validate(event)


@pytest.mark.parametrize(
    "path", [p for p in EVENTS if p.stem.startswith("record_heartbeat__")], ids=lambda p: p.stem
)
def test_each_heartbeat_example_is_a_heartbeat_key_with_its_version(path: Path) -> None:
    [record] = models.S3Notification.model_validate(json.loads(path.read_text())).Records
    assert layout.classify_heartbeat(record.s3.object.key) is not None, record.s3.object.key
    assert record.s3.object.versionId  # the bucket is versioned: AWS names the version
