"""Fault cases of the hand-over, while a run trains: a rebalance recommendation boots the next
instance while the current one trains; the current one saves only when the replacement is
ready (or at the spot warning), never two hosts training at once, and nothing is lost. A warning
with no recommendation before it launches the replacement at once, to boot while the host saves."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pitwall.runs import Run
from pitwall_local.faults import (
    KEEP_GOING_SLACK_SECONDS,
    OVERRUN_ALLOWED_SECONDS,
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


def _never_two_training(suite: FaultSuite, run: Run) -> None:
    """The replacement started training only after the replaced instance had ended (it saved
    first, unless the spot reclaim came before its save: the notice is a second of wall time)."""
    first, second = run.segments[0], run.segments[1]
    assert first.ended_at is not None and second.started_at is not None
    assert second.started_at >= first.ended_at - 1.0, (first.ended_at, second.started_at)
    assert second.pretrained is not None and second.pretrained.model_prefix == first.model_prefix


def test_a_rebalance_recommendation_hands_over_to_a_replacement_booted_while_training_went_on(
    suite: FaultSuite, record_case: Callable[[CaseResult], None]
) -> None:
    # Given a run that trains, When EC2 recommends a rebalance (and never warns)
    result = suite.run_case("training", "rebalance-no-warning")
    record_case(result)
    # Then the next instance was launched before the first one saved, and took over from its save
    run = suite.cloud.runs.get(result.run_id)
    assert len(run.segments) == 2, f"{result.detail}; {run.segments[0].model_dump_json()}"
    first, second = run.segments[0], run.segments[1]
    assert first.handover_requested_at is not None, result.detail
    assert second.launched_at is not None and first.ended_at is not None
    assert second.launched_at < first.ended_at, "the replacement was not booted while the first trained"
    assert (first.end_reason or "").startswith("rebalance-recommendation"), result.detail
    assert "handed over to" in (first.end_reason or "")
    assert first.host_state == "saved", first.host_state  # asked when the replacement was ready
    _never_two_training(suite, run)
    # and the overlap is in the run's cost: both instances were paid for while both ran
    assert run.spent_usd(run.updated_at) == pytest.approx(
        sum(s.cost_usd(run.updated_at) for s in run.segments)
    )
    _survived(result)


def test_a_warning_before_the_replacement_is_ready_saves_at_once_and_the_replacement_takes_over(
    suite: FaultSuite, record_case: Callable[[CaseResult], None]
) -> None:
    result = suite.run_case("training", "rebalance-then-warning")
    record_case(result)
    run = suite.cloud.runs.get(result.run_id)
    first = run.segments[0]
    assert first.handover_requested_at is not None, result.detail
    assert first.save_requested_at is not None, result.detail
    assert (first.end_reason or "").startswith("spot-interruption"), result.detail
    # the replacement launched at the recommendation took over: no third launch for segment 1
    launched_for_run = [i for i in suite.cloud.runner.hosts.values() if i.run_id == result.run_id]
    assert [h.segment for h in launched_for_run][:2] == [0, 1]
    _never_two_training(suite, run)
    _survived(result)


def test_a_warning_with_no_recommendation_before_it_boots_the_replacement_while_the_host_saves(
    suite: FaultSuite, record_case: Callable[[CaseResult], None]
) -> None:
    # Given a run that trains past its first checkpoint, When a spot warning comes unannounced
    result = suite.run_case("training", "warning-no-rebalance")
    record_case(result)
    # Then the next instance launched before the first one's save ended, and took over from it
    run = suite.cloud.runs.get(result.run_id)
    assert len(run.segments) == 2, result.detail
    first, second = run.segments[0], run.segments[1]
    assert first.handover_requested_at is None, "a warning is no hand-over"
    assert (first.end_reason or "").startswith("spot-interruption"), result.detail
    assert first.save_requested_at is not None, result.detail  # its save races the reclaim
    assert second.launched_at is not None and first.ended_at is not None
    assert second.launched_at < first.ended_at, "the replacement was launched only after the save"
    launched_for_run = [i for i in suite.cloud.runner.hosts.values() if i.run_id == result.run_id]
    assert [h.segment for h in launched_for_run] == [0, 1]
    _never_two_training(suite, run)
    _survived(result)


def test_a_replacement_that_never_gets_ready_is_dropped_and_the_run_replaced_as_before(
    suite: FaultSuite, record_case: Callable[[CaseResult], None]
) -> None:
    result = suite.run_case("training", "rebalance-replacement-fails")
    record_case(result)
    run = suite.cloud.runs.get(result.run_id)
    first = run.segments[0]
    assert first.handover_requested_at is not None, result.detail
    assert "replacement failed" in (first.end_reason or ""), result.detail
    assert run.dropped_standby_cost_usd > 0  # the dropped replacement was paid and is counted
    assert first.save_requested_at is not None, result.detail  # the current host saved
    if len(run.segments) > 1:  # else the budget had no room for a new boot: finished as it was
        _never_two_training(suite, run)
    _survived(result)


def test_a_segment_in_a_pool_turned_dear_moves_to_a_cheaper_one_at_a_checkpoint_and_stays(
    suite: FaultSuite, record_case: Callable[[CaseResult], None]
) -> None:
    # Given a run that trains, When its pool's spot price rises tenfold
    result = suite.run_case("training", "pool-turns-dear")
    record_case(result)
    # Then at a checkpoint it handed over to a cheaper pool, once (no flapping back)
    run = suite.cloud.runs.get(result.run_id)
    first, second = run.segments[0], run.segments[1]
    assert (first.end_reason or "").startswith("cheaper-pool"), result.detail
    assert first.pool is not None and second.pool is not None and second.pool != first.pool
    moves = [s for s in run.segments if (s.end_reason or "").startswith("cheaper-pool")]
    assert len(moves) == 1, result.detail
    assert first.host_state == "saved", first.host_state
    _never_two_training(suite, run)
    _survived(result)
