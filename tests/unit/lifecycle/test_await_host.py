"""A task-token wait on the host (`lifecycle.await_host`) and the heartbeat that answers it later,
on the in-memory adapters: which token is answered, with what, and when."""

from __future__ import annotations

import pytest

from pitwall import layout
from pitwall.errors import InvalidEvent
from pitwall.host.protocol import HostState, HostStatus
from pitwall.lifecycle.await_host import await_host
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.heartbeat import record_heartbeat
from pitwall.lifecycle.models import AwaitInput, S3Notification
from pitwall.recovery import HOST_FAILED_ERROR
from pitwall.runs import Awaiting, Run, RunKind, RunRequest, RunState, Segment

RUN_ID = "run-1"
TOKEN = "token-of-the-boot-wait"


@pytest.fixture
def deps(fake_deps: Deps) -> Deps:
    return fake_deps


def _booting(deps: Deps) -> Run:
    now = deps.clock.now()
    run = Run(
        run_id=RUN_ID,
        kind=RunKind.TRAIN,
        request=RunRequest(model_name="m", track="t", time_budget_minutes=120),
        state=RunState.BOOTING,
        created_at=now,
        updated_at=now,
        custom_files_prefix=layout.RunKeys(RUN_ID).custom_files_prefix,
        segments=[
            Segment(
                index=0,
                model_prefix=layout.segment_model_prefix("m", 0),
                deadline_epoch=now + 3600,
                instance_id="i-1",
                launched_at=now,
            )
        ],
    )
    assert deps.runs.create(run)
    return run


def _report(deps: Deps, state: HostState, sequence: int, detail: str = "") -> None:
    status = HostStatus(
        run_id=RUN_ID,
        segment=0,
        instance_id="i-1",
        state=state,
        sequence=sequence,
        at_epoch=deps.clock.now(),
        detail=detail,
    )
    deps.store.put_text(layout.RunKeys(RUN_ID).host_status, status.to_json())


def _heartbeat(deps: Deps) -> None:
    record = {
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": deps.store.bucket}, "object": {"key": layout.RunKeys(RUN_ID).host_status}},
    }
    record_heartbeat(S3Notification.model_validate({"Records": [record]}), deps)


def _wait(deps: Deps, awaiting: Awaiting = Awaiting.STARTED) -> None:
    await_host(AwaitInput(run_id=RUN_ID, awaiting=awaiting, task_token=TOKEN), deps)


def test_a_wait_before_the_host_started_keeps_the_token_and_the_host_starting_answers_it(deps: Deps) -> None:
    # Given a booting run whose host has reported nothing yet
    _booting(deps)
    # When the boot wait begins, nothing is answered: the run holds the token
    _wait(deps)
    run = deps.runs.get(RUN_ID)
    assert (run.awaiting, run.task_token) == (Awaiting.STARTED, TOKEN)
    assert deps.tasks.succeeded == {} and deps.tasks.failed == {}
    # Then the host's "started" report answers the token with the report, once
    _report(deps, HostState.STARTED, sequence=1)
    _heartbeat(deps)
    assert deps.tasks.succeeded[TOKEN]["state"] == "started"
    run = deps.runs.get(RUN_ID)
    assert run.state == RunState.RUNNING and run.task_token is None


def test_a_host_that_started_before_the_wait_began_answers_the_token_at_once(deps: Deps) -> None:
    _booting(deps)
    _report(deps, HostState.STARTED, sequence=1)
    _wait(deps)
    assert deps.tasks.succeeded[TOKEN]["instance_id"] == "i-1"
    assert deps.runs.get(RUN_ID).task_token is None


def test_a_host_that_failed_fails_the_wait_with_its_own_words(deps: Deps) -> None:
    _booting(deps)
    _report(deps, HostState.FAILED, sequence=1, detail="dr-start-training exited with 1")
    _wait(deps)
    assert deps.tasks.failed[TOKEN] == (HOST_FAILED_ERROR, "dr-start-training exited with 1")


def test_a_wait_on_a_run_that_ended_fails_at_once(deps: Deps) -> None:
    run = _booting(deps)
    run.move_to(RunState.FAILED, deps.clock.now())
    deps.runs.save(run)
    _wait(deps)
    error, _ = deps.tasks.failed[TOKEN]
    assert error == "RunEnded"


def test_a_token_whose_task_already_ended_is_refused_and_not_stored(deps: Deps) -> None:
    _booting(deps)
    deps.tasks.ended.add(TOKEN)
    with pytest.raises(InvalidEvent, match="no waiting task"):
        _wait(deps)
    assert deps.runs.get(RUN_ID).task_token is None


def test_a_save_recorded_before_the_wait_answers_it_though_the_status_file_holds_the_replacements_report(
    deps: Deps,
) -> None:
    # Given a segment being replaced whose host saved, recorded by the heartbeat (no token then)
    run = _booting(deps)
    run.move_to(RunState.PROVISIONING, deps.clock.now())
    run.segments[0].end_reason = "spot-interruption: warning"
    deps.runs.save(run)
    _report(deps, HostState.SAVED, sequence=3)
    _heartbeat(deps)
    # and then its replacement, booting meanwhile, wrote its own first report over the status file
    replacement = HostStatus(
        run_id=RUN_ID,
        segment=1,
        instance_id="i-2",
        state=HostState.BOOTING,
        sequence=1,
        at_epoch=deps.clock.now(),
    )
    deps.store.put_text(layout.RunKeys(RUN_ID).host_status, replacement.to_json())
    # When the wait for the save begins
    _wait(deps, Awaiting.SAVED)
    # Then it is answered at once with the saved report of the replaced host
    answer = deps.tasks.succeeded[TOKEN]
    assert (answer["instance_id"], answer["state"]) == ("i-1", "saved")
    assert deps.runs.get(RUN_ID).task_token is None
