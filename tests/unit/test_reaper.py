"""The reaper's rule: which Pitwall-tagged instances to terminate, and why."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pitwall import layout, reaper
from pitwall.reaper import ReaperPolicy, TaggedInstance
from pitwall.runs import Run, RunKind, RunRequest, RunState, Segment

T0 = 1_790_000_000.0
POLICY = ReaperPolicy(grace_seconds=600, launch_grace_seconds=600)


def segment(index: int, launched_at: float, **fields: object) -> Segment:
    values: dict[str, object] = {
        "index": index,
        "model_prefix": layout.segment_model_prefix("reaped-car", index),
        "deadline_epoch": launched_at + 4 * 3600,
        "instance_id": f"i-{index}",
        "launched_at": launched_at,
    }
    values.update(fields)
    return Segment.model_validate(values)


def run(*segments: Segment, state: RunState = RunState.RUNNING, run_id: str = "run-r") -> Run:
    return Run(
        run_id=run_id,
        kind=RunKind.TRAIN,
        request=RunRequest(model_name="reaped-car", track="reInvent2019_track"),
        state=state,
        created_at=T0,
        updated_at=T0,
        custom_files_prefix=f"runs/{run_id}/custom_files",
        segments=list(segments),
    )


PROFILE = "arn:aws:iam::123456789012:instance-profile/pitwall/run-r-0"


def instance(instance_id: str, run_id: str | None = "run-r", launched_at: float = T0, state: str = "running"):
    return TaggedInstance(
        instance_id=instance_id, run_id=run_id, launched_at=launched_at, state=state, profile_arn=PROFILE
    )


def reasons(instances: list[TaggedInstance], runs: dict[str, Run], now: float) -> dict[str, str]:
    return {t.instance_id: t.reason for t in reaper.instances_to_terminate(instances, runs, now, POLICY)}


def test_the_current_instance_of_a_live_run_within_its_budget_stays():
    live = run(segment(0, T0))
    assert reasons([instance("i-0")], {"run-r": live}, T0 + 3600) == {}


def test_an_instance_without_a_live_run_goes():
    ended = run(segment(0, T0), state=RunState.FAILED)
    found = reasons(
        [instance("i-0"), instance("i-9", run_id="run-gone"), instance("i-8", run_id="")],
        {"run-r": ended},
        T0 + 3600,
    )
    assert found == {
        "i-0": "its run run-r ended (failed)",
        "i-9": "no run run-gone in the runs table",
        "i-8": "its pitwall:run-id tag is empty",
    }


def test_an_old_segments_instance_goes_but_a_just_launched_one_waits_for_the_record():
    now = T0 + 2 * 3600
    replaced = run(segment(0, T0, ended_at=T0 + 3600, end_reason="stall: x"), segment(1, T0 + 3700))
    found = reasons(
        [instance("i-0"), instance("i-1", launched_at=T0 + 3700), instance("i-new", launched_at=now - 60)],
        {"run-r": replaced},
        now,
    )
    assert found == {"i-0": "it belongs to segment 0 of run run-r; the run is on segment 1"}

    later = reasons([instance("i-new", launched_at=now - 60)], {"run-r": replaced}, now + 600)
    assert later == {"i-new": "it is not in run run-r's record (the run is on i-1)"}


def test_an_instance_past_its_deadline_plus_grace_goes():
    live = run(segment(0, T0, deadline_epoch=T0 + 3600))
    assert reasons([instance("i-0")], {"run-r": live}, T0 + 3600 + 600) == {}
    found = reasons([instance("i-0")], {"run-r": live}, T0 + 3600 + 601)
    assert found["i-0"].startswith("it runs 10 min past the deadline of run run-r")


def test_an_instance_whose_segment_ended_long_ago_goes():
    finished = run(segment(0, T0, ended_at=T0 + 3600, end_reason=None), state=RunState.FINISHING)
    assert reasons([instance("i-0")], {"run-r": finished}, T0 + 3600 + 300) == {}
    found = reasons([instance("i-0")], {"run-r": finished}, T0 + 3600 + 900)
    assert found == {"i-0": "segment 0 of run run-r ended 15 min ago (finished) and the instance still runs"}


@pytest.mark.parametrize("state", ["shutting-down", "terminated"])
def test_instances_that_are_already_going_are_left_alone(state):
    assert reasons([instance("i-0", run_id="run-gone", state=state)], {}, T0 + 86_400) == {}


def test_negative_grace_is_refused_by_name():
    with pytest.raises(ValueError, match="launch_grace_seconds"):
        ReaperPolicy(launch_grace_seconds=-1)


def test_a_described_instance_becomes_a_tagged_instance():
    described = {
        "InstanceId": "i-0abc",
        "LaunchTime": datetime.fromtimestamp(T0, tz=UTC),
        "State": {"Code": 16, "Name": "running"},
        "Tags": [{"Key": "Name", "Value": "pitwall"}, {"Key": "pitwall:run-id", "Value": "run-r"}],
        "IamInstanceProfile": {"Arn": PROFILE, "Id": "AIPAEXAMPLE"},
    }
    assert reaper.tagged_instance(described, "pitwall:run-id") == instance("i-0abc")
    untagged = {**described, "Tags": [{"Key": "pitwall:run-id", "Value": ""}]}
    assert reaper.tagged_instance(untagged, "pitwall:run-id").run_id is None


def test_a_run_tag_on_an_instance_pitwall_did_not_launch_gets_it_spared_not_terminated():
    # Given an old instance someone tagged with an unknown run, without a segment's profile
    stranger = TaggedInstance("i-0stranger", "run-gone", T0 - 3600, "running", profile_arn=None)
    other_path = TaggedInstance(
        "i-0other", "run-gone", T0 - 3600, "running", "arn:aws:iam::123456789012:instance-profile/web/app"
    )
    ours = instance("i-0ours", run_id="run-gone", launched_at=T0 - 3600)
    # Then only the one Pitwall launched goes
    assert set(reasons([stranger, other_path, ours], {}, T0)) == {"i-0ours"}


def test_the_fleet_view_counts_live_runs_stale_ones_and_the_highest_budget_share() -> None:
    from pitwall import layout
    from pitwall.reaper import fleet_view
    from pitwall.runs import Run, RunKind, RunRequest, RunState, Segment

    now = 10_000.0

    def run(run_id: str, state: RunState, heartbeat_ago: float, budget: float | None) -> Run:
        segment = Segment(
            index=0,
            model_prefix=layout.segment_model_prefix("m", 0),
            deadline_epoch=now + 3600,
            instance_id="i-1",
            price_per_hour=1.0,
            launched_at=now - 3600,
            last_heartbeat_at=now - heartbeat_ago,
        )
        return Run(
            run_id=run_id,
            kind=RunKind.TRAIN,
            request=RunRequest(model_name="m", track="t", money_budget_usd=budget),
            state=state,
            created_at=now - 3700,
            updated_at=now,
            custom_files_prefix="x/",
            segments=[segment],
        )

    view = fleet_view(
        [
            run("fresh", RunState.RUNNING, 60, 4.0),  # 25% spent
            run("quiet", RunState.RUNNING, 700, 1.25),  # 80% spent, no heartbeat for 700 s
            run("booting", RunState.BOOTING, 700, None),  # no heartbeat yet is the boot timeout's
            run("done", RunState.SUCCEEDED, 9000, 1.0),
        ],
        now,
        heartbeat_window_seconds=600,
    )
    assert view.live_runs == 3
    assert view.stale_runs == 1
    assert view.budget_used_percent == 80.0
    assert view.live_cost_usd == 3.0  # three live runs, an hour at 1 USD/h each


def test_money_reserved_for_a_running_evaluation_is_not_counted_as_spent_by_the_fleet_view() -> None:
    from pitwall.reaper import fleet_view

    # Given a 5 USD run an hour into an instance at 1 USD/h, with 3 USD reserved for a scheduled
    # evaluation still running
    now = T0 + 3600
    live = run(segment(0, T0, price_per_hour=1.0, last_heartbeat_at=now))
    live.request = live.request.model_copy(update={"money_budget_usd": 5.0})
    reserving = live.model_copy(update={"evaluation_reservations": {"run-r-e0-1": 3.0}})
    # When the fleet is looked at
    plain_view = fleet_view([live], now, heartbeat_window_seconds=600)
    view = fleet_view([reserving], now, heartbeat_window_seconds=600)
    # Then it spent 1 USD, 20% of its budget (not 80%: no alarm), as without the reservation
    assert (view.budget_used_percent, view.live_cost_usd) == (20.0, 1.0)
    assert view == plain_view
