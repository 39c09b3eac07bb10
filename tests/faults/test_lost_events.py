"""Fault cases beyond the matrix, while a run trains: a spot warning whose handler fails every
attempt (the event lands in the failure queue, `pitwall replay-failed` re-drives it and the host
saves its checkpoint), and an instance terminated with no warning at all (its run is replaced
at once, within a boot, not when the heartbeat window runs out)."""

from __future__ import annotations

from collections.abc import Callable

from pitwall_local.faults import (
    INTERRUPTION_WARNING,
    KEEP_GOING_SLACK_SECONDS,
    OVERRUN_ALLOWED_SECONDS,
    PARAMETERS,
    CaseResult,
    FaultSuite,
)


def _survived(result: CaseResult) -> None:
    assert result.injected, f"the run never reached training: {result.detail}"
    assert result.checkpoints_lost == []
    assert result.orphans == []
    assert result.execution_status == "SUCCEEDED" and result.run_state == "succeeded", result.detail
    assert result.overrun_seconds is not None and result.overrun_seconds <= OVERRUN_ALLOWED_SECONDS
    assert result.lineage_problem is None
    assert result.ended_early_seconds <= KEEP_GOING_SLACK_SECONDS
    assert result.idle_seconds <= KEEP_GOING_SLACK_SECONDS


def test_a_spot_warning_whose_handler_fails_every_attempt_is_replayed_and_the_host_saves(
    suite: FaultSuite, record_case: Callable[[CaseResult], None]
) -> None:
    queued = len(suite.cloud.invoker.failed)
    # Given a run that trains, When EC2 warns and the interruption handler fails on the warning
    result = suite.run_case("training", "spot-warning-lost")
    record_case(result)
    # Then the warning went to the failure queue after Lambda's attempts
    [record] = suite.cloud.invoker.failed[queued:]
    assert record["requestPayload"]["detail-type"] == INTERRUPTION_WARNING
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    # and its replay asked the host to save before the instance went, and the run went on
    run = suite.cloud.runs.get(result.run_id)
    first = run.segments[0]
    assert first.save_requested_at is not None, result.detail
    # replaced, or finished with what the host saved when the budget has no room for a new boot
    assert "spot interruption warning" in (first.end_reason or ""), result.detail
    _survived(result)


def test_an_instance_terminated_without_warning_is_replaced_within_a_boot(
    suite: FaultSuite, record_case: Callable[[CaseResult], None]
) -> None:
    # Given a run that trains, When its instance is terminated with no warning
    result = suite.run_case("training", "unannounced-termination")
    record_case(result)
    # Then its segment ended as gone, and the next instance came before a heartbeat window passed
    run = suite.cloud.runs.get(result.run_id)
    first, second = run.segments[0], run.segments[1]
    assert (first.end_reason or "").startswith("instance-gone"), result.detail
    runner = suite.cloud.runner
    assert first.instance_id is not None and second.instance_id is not None
    gap = runner.launched_at[second.instance_id] - runner.terminated_at[first.instance_id]
    assert gap < PARAMETERS["HeartbeatWindowSeconds"], f"replaced {gap:.0f} s after the instance ended"
    _survived(result)
