"""The recovery's wiring that needs no cloud: the Train machine's recovery states, the run's
lineage rules, host reports around a replacement, segment role names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

import pytest

from pitwall import recovery
from pitwall.adapters.iam import segment_role_name
from pitwall.host.protocol import HostState, HostStatus
from pitwall.lifecycle.models import RecoveryOutput
from pitwall.lifecycle.progress import apply_host_status, failure_of
from pitwall.recovery import HOST_SAVED_ERROR
from pitwall.runs import Awaiting, Run, RunKind, RunRequest, RunState, Segment

REPO = Path(__file__).resolve().parents[3]
TRAIN = json.loads((REPO / "statemachines" / "train.asl.json").read_text())["States"]
EVALUATE = json.loads((REPO / "statemachines" / "evaluate.asl.json").read_text())["States"]


def _catches(state: str) -> dict[str, str]:
    return {error: c["Next"] for c in TRAIN[state]["Catch"] for error in c["ErrorEquals"]}


@pytest.mark.parametrize(
    ("state", "errors"),
    [
        (
            "WaitForHostStarted",
            [
                "States.Timeout",
                recovery.HOST_FAILED_ERROR,
                recovery.Replace.task_error,
                recovery.Stop.task_error,
            ],
        ),
        (
            "WaitForTrainingFinished",
            [
                "States.HeartbeatTimeout",
                "States.Timeout",
                recovery.HOST_FAILED_ERROR,
                recovery.HOST_SAVED_ERROR,
                recovery.Replace.task_error,
                recovery.Stop.task_error,
            ],
        ),
        ("ProvisionInstance", ["SpotCapacityUnavailable", "BudgetExhausted"]),
    ],
)
def test_every_recoverable_failure_reaches_the_one_recovery_task(state: str, errors: list[str]) -> None:
    catches = _catches(state)
    for error in errors:
        marker = TRAIN[catches[error]]
        assert marker["Type"] == "Pass" and marker["Next"] == "DecideRecovery", (state, error)
    assert catches["States.ALL"] == "TerminateAfterFailure"  # anything else still cleans up


def test_the_recovery_choice_handles_every_action_the_task_can_answer() -> None:
    choice = TRAIN["Recover"]
    answered = set()
    for rule in choice["Choices"]:
        conditions = rule.get("And", [rule])
        answered |= {c["StringEquals"] for c in conditions if c["Variable"] == "$.recovery.action"}
    actions = set(get_args(RecoveryOutput.model_fields["action"].annotation))
    assert answered == actions - {"fail"}
    assert choice["Default"] == "RunStopped"  # fail: terminate, record, notify
    assert TRAIN["TerminateReplaced"]["Next"] == "ProvisionInstance"
    assert TRAIN["WaitBeforeRetry"]["SecondsPath"] == "$.recovery.wait_seconds"


@pytest.mark.parametrize(
    ("state", "train_state"),
    [
        ("ProvisionInstance", "ProvisionInstance"),
        ("WaitForHostStarted", "WaitForHostStarted"),
        ("WaitForEvaluationFinished", "WaitForTrainingFinished"),
    ],
)
def test_the_evaluate_machine_sends_the_same_failures_to_the_same_recovery_task(
    state: str, train_state: str
) -> None:
    catches = {error: c["Next"] for c in EVALUATE[state]["Catch"] for error in c["ErrorEquals"]}
    recoverable = set(_catches(train_state)) - {"States.ALL"}
    assert recoverable <= set(catches), state
    for error in recoverable:
        marker = EVALUATE[catches[error]]
        assert marker == TRAIN[_catches(train_state)[error]], (state, error)  # same failed_wait
    assert catches["States.ALL"] == "TerminateAfterFailure"
    task = EVALUATE["DecideRecovery"]
    assert task["Parameters"]["Payload"]["run_id.$"] == "$$.Execution.Name"
    assert task["ResultSelector"] == TRAIN["DecideRecovery"]["ResultSelector"]


def test_the_evaluate_machines_recovery_choice_replaces_retries_waits_finishes_or_stops() -> None:
    choice = EVALUATE["Recover"]
    targets: dict[tuple[str, ...], str] = {}
    for rule in choice["Choices"]:
        conditions = rule.get("And", [rule])
        targets[tuple(c["StringEquals"] for c in conditions)] = rule["Next"]
    actions = set(get_args(RecoveryOutput.model_fields["action"].annotation))
    # an evaluation never hands over (`recovery.hands_over`: training segments only)
    assert {key[0] for key in targets} == actions - {"fail", "handover"}
    assert targets[("replace",)] == "TerminateReplaced"  # nothing to save: no save wait
    assert targets[("retry",)] == "WaitBeforeRetry"
    assert targets[("finish",)] == "EvaluateOutcome"
    assert targets[("wait", "started")] == "WaitForHostStarted"
    assert targets[("wait",)] == "WaitForEvaluationFinished"
    assert choice["Default"] == "RunStopped" and EVALUATE["RunStopped"]["Next"] == "TerminateAfterFailure"
    assert EVALUATE["TerminateReplaced"]["Next"] == "ProvisionInstance"
    assert EVALUATE["WaitBeforeRetry"]["Next"] == "ProvisionInstance"


def _run(state: RunState, *segments: Segment, kind: RunKind = RunKind.TRAIN) -> Run:
    return Run(
        run_id="run-1",
        kind=kind,
        request=RunRequest(model_name="m", track="t"),
        state=state,
        created_at=0,
        updated_at=0,
        custom_files_prefix="runs/run-1/custom_files",
        segments=list(segments),
        awaiting=Awaiting.FINISHED,
        task_token="token",
    )


def _segment(index: int, checkpoint: str | None = None, **fields: Any) -> Segment:
    return Segment(
        index=index,
        model_prefix=f"models/m/seg-{index:03d}",
        deadline_epoch=9e9,
        instance_id=f"i-{index}",
        launched_at=0.0,
        last_checkpoint=checkpoint,
        **fields,
    )


def _saved(instance_id: str = "i-0", segment: int = 0) -> HostStatus:
    return HostStatus(
        run_id="run-1",
        segment=segment,
        instance_id=instance_id,
        state=HostState.SAVED,
        sequence=9,
        at_epoch=50.0,
    )


def test_a_training_host_that_saved_on_its_own_goes_to_the_recovery_not_to_finishing() -> None:
    run = _run(RunState.RUNNING, _segment(0, "3_Step-30.ckpt"))
    assert failure_of(run, _saved()) == HOST_SAVED_ERROR
    verdict = apply_host_status(run, _saved(), now=60.0)
    assert verdict.fail_error == HOST_SAVED_ERROR and not verdict.settle
    assert run.state == RunState.RUNNING and run.segments[0].ended_at == 50.0
    assert (
        recovery.event_kind_of_error(HOST_SAVED_ERROR, Awaiting.FINISHED)
        == recovery.EventKind.INTERRUPTION_WARNING
    )


def test_a_replaced_hosts_save_settles_the_save_wait() -> None:
    run = _run(RunState.PROVISIONING, _segment(0, "3_Step-30.ckpt", end_reason="spot-interruption: x"))
    run.awaiting = Awaiting.SAVED
    verdict = apply_host_status(run, _saved(), now=60.0)
    assert verdict.settle and verdict.fail_error is None
    assert run.state == RunState.PROVISIONING


def test_an_evaluation_that_saved_finishes_with_the_trials_so_far() -> None:
    run = _run(RunState.RUNNING, _segment(0), kind=RunKind.EVALUATE)
    verdict = apply_host_status(run, _saved(), now=60.0)
    assert verdict.settle and run.state == RunState.FINISHING


def test_the_model_is_the_latest_segment_with_a_checkpoint() -> None:
    run = _run(RunState.BOOTING, _segment(0, "3_Step-30.ckpt"), _segment(1, "7_Step-70.ckpt"), _segment(2))
    assert run.trained_segment is run.segments[1]
    following = recovery.next_segment(run)
    assert following.index == 3
    assert following.pretrained is not None and following.pretrained.model_prefix == "models/m/seg-001"


@pytest.mark.parametrize("state", [RunState.PROVISIONING, RunState.BOOTING, RunState.RUNNING])
def test_a_stop_that_finishes_works_from_every_live_state(state: RunState) -> None:
    run = _run(state, _segment(0, "3_Step-30.ckpt"))
    stop = recovery.Stop(
        reason=recovery.Reason.BUDGET_EXHAUSTED, detail="over", run_version=0, finish=True, segment_index=0
    )
    recovery.apply(run, stop, now=10.0)
    assert run.state == RunState.FINISHING
    assert recovery.next_step(run).action == "finish"


def test_segment_role_names_fit_iam_and_stay_distinct() -> None:
    assert segment_role_name("run-1", 2) == "pitwall-run-1-2"
    long_a, long_b = "a" * 80, "a" * 79 + "b"
    names = {segment_role_name(long_a, 0), segment_role_name(long_b, 0), segment_role_name(long_a, 1)}
    assert len(names) == 3
    assert all(len(name) <= 64 for name in names)


def test_a_spot_warning_when_the_budget_is_nearly_spent_finishes_after_the_hosts_save() -> None:
    run = _run(RunState.RUNNING, _segment(0, "3_Step-30.ckpt", host_state="started"))
    stop = recovery.Stop(
        reason=recovery.Reason.BUDGET_EXHAUSTED,
        detail="spot interruption warning; not replaced",
        run_version=0,
        finish=True,
        segment_index=0,
        instance_id="i-0",
        save_first=True,
    )
    recovery.apply(run, stop, now=10.0)
    assert run.segments[0].save_requested_at == 10.0
    assert recovery.next_step(run) == recovery.Step(action="finish", save_first=True, reason=stop.end_reason)
    rule = next(r for r in TRAIN["Recover"]["Choices"] if r.get("Next") == "WaitForSaveBeforeCollect")
    assert {c.get("StringEquals") for c in rule["And"]} == {"finish", None}
    assert TRAIN["WaitForSaveBeforeCollect"]["Next"] == "CollectOutcome"
