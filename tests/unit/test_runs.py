"""The run record: states, transitions, segments, cost."""

from __future__ import annotations

import pytest

from pitwall.errors import InvalidTransition
from pitwall.runs import (
    STORED_RECORD,
    Pool,
    Run,
    RunKind,
    RunRequest,
    RunState,
    Segment,
    can_move,
    summarize,
)


def _run(**changes) -> Run:
    request = RunRequest(model_name="model-1", track="reInvent2019_track")
    return Run(
        run_id="run-1",
        kind=RunKind.TRAIN,
        request=request,
        created_at=0.0,
        updated_at=0.0,
        custom_files_prefix="runs/run-1/custom_files",
        **changes,
    )


def test_a_run_walks_the_happy_path_of_states() -> None:
    run = _run()
    for state in (
        RunState.PROVISIONING,
        RunState.BOOTING,
        RunState.RUNNING,
        RunState.FINISHING,
        RunState.SUCCEEDED,
    ):
        run.move_to(state, now=1.0)
    assert run.state == RunState.SUCCEEDED and run.is_terminal


def test_a_new_segment_is_a_way_back_to_provisioning_from_booting_or_running() -> None:
    assert can_move(RunState.BOOTING, RunState.PROVISIONING)
    assert can_move(RunState.RUNNING, RunState.PROVISIONING)
    assert not can_move(RunState.PREPARED, RunState.RUNNING)


def test_an_impossible_transition_is_a_named_error() -> None:
    run = _run()
    with pytest.raises(InvalidTransition, match="from prepared to succeeded"):
        run.move_to(RunState.SUCCEEDED, now=1.0)


def test_fail_keeps_the_first_ending() -> None:
    run = _run(state=RunState.RUNNING, task_token="token")
    run.fail("HostFailed: container died", now=5.0)
    run.fail("States.Timeout", now=6.0)
    assert run.state == RunState.FAILED
    assert run.failure == "HostFailed: container died"
    assert run.task_token is None


def test_every_live_state_can_fail_and_no_ended_one_can() -> None:
    for state in RunState:
        assert can_move(state, RunState.FAILED) == (state not in (RunState.SUCCEEDED, RunState.FAILED))


def test_cost_and_paid_time_add_up_over_the_segments() -> None:
    pool = Pool(instance_type="g4dn.2xlarge", availability_zone="us-east-1a", subnet_id="subnet-1")
    first = Segment(
        index=0,
        model_prefix="models/m/seg-000",
        deadline_epoch=0,
        pool=pool,
        price_per_hour=0.36,
        launched_at=0.0,
        ended_at=3600.0,
    )
    second = Segment(
        index=1,
        model_prefix="models/m/seg-001",
        deadline_epoch=0,
        pool=pool,
        price_per_hour=0.72,
        launched_at=4000.0,
    )  # still running
    run = _run(segments=[first, second])
    assert run.spent_usd(now=4000.0 + 1800.0) == pytest.approx(0.36 + 0.36)
    assert run.paid_seconds(now=5800.0) == pytest.approx(3600 + 1800)
    assert run.model_prefix == "models/m/seg-001"
    assert summarize(run, now=5800.0).segments == 2


def test_an_ended_evaluations_cost_is_spent_and_a_running_ones_reservation_only_committed() -> None:
    # Given a run an hour into an instance at 1 USD/h, with an evaluation that ended having cost
    # 0.40 and 3 USD reserved for one still running
    segment = Segment(
        index=0, model_prefix="models/m/seg-000", deadline_epoch=0, price_per_hour=1.0, launched_at=0.0
    )
    run = _run(segments=[segment], evaluation_costs={"ev-0": 0.4}, evaluation_reservations={"ev-1": 3.0})
    # Then it spent 1.40 (what it reports) and committed 4.40 (what its budget rule counts)
    assert run.spent_usd(3600.0) == pytest.approx(1.4)
    assert run.committed_usd(3600.0) == pytest.approx(4.4)
    assert summarize(run, now=3600.0).cost_usd == pytest.approx(1.4)


def test_a_model_name_the_console_would_refuse_is_refused() -> None:
    with pytest.raises(ValueError, match="model_name"):
        RunRequest(model_name="my model!", track="reInvent2019_track")


def test_a_stored_record_is_read_back_though_its_request_breaks_a_request_rule_added_since() -> None:
    # a record written before a request had to ask for the evaluation it imports after
    body = _run().model_dump(mode="json")
    body["request"]["import_after"] = {"after": "evaluation", "min_completion_percent": 80}
    with pytest.raises(ValueError, match="needs evaluate_after"):
        Run.model_validate(body)  # asked for now: refused
    stored = Run.model_validate(body, context=STORED_RECORD)
    assert stored.request.import_after is not None and stored.request.import_after.after == "evaluation"
