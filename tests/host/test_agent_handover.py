"""A hand-over's replacement host: set up, report READY, train only after the controller's GO."""

from __future__ import annotations

from dataclasses import replace

from pitwall.host.protocol import ControlAction, ControlRequest, HostState
from pitwall.layout import ModelKeys, RunKeys
from pitwall_local.simulated_drfc import SimulatedDrfc

from .conftest import BUCKET, START, StatusRecorder, hyperparameters, keys_under, make_spec, put_run
from .test_agent_simulated import SpotNoticeAfter, agent_for

GO_AT = START + 900


def standby_spec(**fields):
    return replace(make_spec(segment=1, **fields), wait_for_go=True)


def control(s3, spec, action: ControlAction, instance_id: str = "i-0001", request_id: str = "go-1") -> None:
    request = ControlRequest(request_id, action, instance_id, GO_AT)
    s3.put_object(Bucket=BUCKET, Key=RunKeys(spec.run_id).host_control, Body=request.to_json())


def test_a_standby_reports_ready_and_trains_only_after_the_go(s3, clock):
    # Given a replacement whose go comes 15 minutes after launch
    spec = standby_spec()
    put_run(s3, spec, hyperparameters(term_cond_max_episodes=10))
    clock.at(GO_AT, lambda: control(s3, spec, ControlAction.GO))
    recorder = StatusRecorder(s3)
    model = ModelKeys(spec.model_prefix)
    metrics_before_go = []
    clock.at(GO_AT - 1, lambda: metrics_before_go.append(keys_under(s3, model.metrics_folder)))

    # When it runs
    final = agent_for(s3, clock, spec, SimulatedDrfc(s3=s3, clock=clock)).run()

    # Then it was ready (set up) before the go, started after it, and finished its training;
    # the GO left in the control object was not taken for a save request
    assert recorder.states[:3] == ["booting", "ready", "started"]
    ready, started = recorder.statuses[1], recorder.statuses[2]
    assert ready["at_epoch"] < GO_AT <= started["at_epoch"]
    assert metrics_before_go == [[]]
    assert final is HostState.FINISHED
    assert "saving" not in recorder.states


def test_a_go_for_another_instance_does_not_start_it(s3, clock):
    spec = standby_spec(deadline_after=1800)
    put_run(s3, spec, hyperparameters())
    control(s3, spec, ControlAction.GO, instance_id="i-other")
    recorder = StatusRecorder(s3)

    final = agent_for(s3, clock, spec, SimulatedDrfc(s3=s3, clock=clock)).run()

    assert final is HostState.FINISHED
    assert "started" not in recorder.states
    assert "before the go" in recorder.statuses[-1]["detail"]


def test_a_standby_whose_own_spot_notice_comes_first_stops_before_it_trained(s3, clock):
    spec = standby_spec()
    put_run(s3, spec, hyperparameters())
    recorder = StatusRecorder(s3)
    backend = SimulatedDrfc(s3=s3, clock=clock)

    final = agent_for(s3, clock, spec, backend, metadata=SpotNoticeAfter(clock, START + 600)).run()

    assert final is HostState.FINISHED
    assert "started" not in recorder.states and "saving" not in recorder.states
    assert "stopped before it trained" in recorder.statuses[-1]["detail"]
    assert backend.shut_down
