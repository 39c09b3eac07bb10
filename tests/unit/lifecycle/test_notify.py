"""The last step of a run (`lifecycle.notify.notify_run`), on the in-memory adapters: how the run
ends, what the racer is told, which event chains the next lifecycle, which schedules end."""

from __future__ import annotations

import pytest

from pitwall import layout
from pitwall.errors import InvalidEvent
from pitwall.lifecycle import events
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.models import ErrorInfo, NotifyInput
from pitwall.lifecycle.notify import notify_run
from pitwall.lifecycle.scheduled import create_run_schedules
from pitwall.notifications import Event
from pitwall.runs import Run, RunKind, RunRequest, RunState, Segment

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:Train:run-1"


@pytest.fixture
def deps(fake_deps: Deps) -> Deps:
    return fake_deps


def _running(deps: Deps, **request: object) -> Run:
    now = deps.clock.now()
    run = Run(
        run_id="run-1",
        kind=RunKind.TRAIN,
        request=RunRequest.model_validate({"model_name": "m", "track": "t", **request}),
        state=RunState.RUNNING,
        created_at=now - 3600,
        updated_at=now,
        custom_files_prefix=layout.RunKeys("run-1").custom_files_prefix,
        execution_id=EXECUTION,
        segments=[
            Segment(
                index=0,
                model_prefix=layout.segment_model_prefix("m", 0),
                deadline_epoch=now,
                instance_id="i-1",
                launched_at=now - 3600,
                last_checkpoint="9_Step-900.ckpt",
            )
        ],
    )
    assert deps.runs.create(run)
    return run


def test_a_training_that_ends_well_succeeds_tells_the_racer_and_asks_for_its_evaluation(deps: Deps) -> None:
    # Given a training that asks for an evaluation after it, and a schedule that ends with it
    run = _running(deps, evaluate_after={"trials": 3}, evaluations=[{"every": "rate(1 day)"}])
    [schedule_id] = create_run_schedules(run, deps)
    # When its machine ends without an error
    output = notify_run(NotifyInput(run_id="run-1", execution_id=EXECUTION), deps)
    # Then the run succeeded, the racer got one message, and "Model trained" asks for the evaluation
    assert deps.runs.get("run-1").state == RunState.SUCCEEDED
    [message] = deps.messaging.messages
    assert message.event == Event.RUN_FINISHED and output.message_id
    [(detail_type, detail)] = deps.messaging.events
    assert detail_type == events.MODEL_TRAINED == output.event
    assert detail["evaluation_requested"] is True and detail["evaluation"]["evaluation"]["trials"] == 3
    assert detail["model_prefix"] == layout.segment_model_prefix("m", 0)
    # and the schedule that ends with the run is gone
    assert schedule_id not in deps.schedules.schedules


def test_a_failed_training_records_why_and_says_so(deps: Deps) -> None:
    _running(deps)
    error = ErrorInfo(Error="BudgetExhausted", Cause="0 min left")
    notify_run(NotifyInput(run_id="run-1", execution_id=EXECUTION, error=error), deps)
    run = deps.runs.get("run-1")
    assert run.state == RunState.FAILED and "0 min left" in (run.failure or "")
    assert [m.event for m in deps.messaging.messages] == [Event.RUN_FAILED]
    assert [t for t, _ in deps.messaging.events] == [events.RUN_FAILED]


def test_a_run_refused_before_it_had_a_record_is_told_to_the_racer_without_an_event(deps: Deps) -> None:
    error = ErrorInfo(Error="InvalidCustomFiles", Cause="reward_function.py: no reward_function")
    output = notify_run(NotifyInput(run_id="run-9", execution_id=EXECUTION, error=error), deps)
    assert output.state is None and output.event is None
    [message] = deps.messaging.messages
    assert message.event == Event.RUN_REJECTED and "no reward_function" in message.body
    assert deps.messaging.events == []


def test_another_executions_notification_changes_and_sends_nothing(deps: Deps) -> None:
    _running(deps)
    other = EXECUTION.replace("run-1", "run-1-again")
    with pytest.raises(InvalidEvent, match="belongs to execution"):
        notify_run(NotifyInput(run_id="run-1", execution_id=other), deps)
    assert deps.runs.get("run-1").state == RunState.RUNNING
    assert deps.messaging.messages == [] and deps.messaging.events == []
