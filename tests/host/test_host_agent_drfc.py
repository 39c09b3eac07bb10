"""The agent with the REAL DRFC backend, against fake dr-* / docker / shutdown commands, an
IMDSv2 service on loopback, and emulated S3."""

from __future__ import annotations

import threading
import time

import pytest

from pitwall.clock import ScaledClock
from pitwall.host.agent import HostAgent
from pitwall.host.backends.drfc import RealDrfc
from pitwall.host.imds import ImdsClient
from pitwall.host.protocol import ControlAction, ControlRequest, EvaluationLeg, HostState, Mode
from pitwall.layout import ModelKeys, RunKeys

from .conftest import BUCKET, REWARD_FUNCTION, START, StatusRecorder, make_spec, put_run, read_json
from .fake_drfc import ROBOMAKER, TRAINER, FakeDrfc
from .fake_imds import FakeImds

INSTANCE = "i-0123456789abcdef0"


@pytest.fixture
def fake(tmp_path) -> FakeDrfc:
    return FakeDrfc(tmp_path)


def agent_for(s3, clock, spec, fake, metadata=None, **backend_options) -> HostAgent:
    backend = RealDrfc(s3=s3, clock=clock, drfc_dir=fake.drfc_dir, env=fake.env, **backend_options)
    return HostAgent(
        s3=s3,
        bucket=BUCKET,
        run_id=spec.run_id,
        instance_id=INSTANCE,
        backend=backend,
        clock=clock,
        metadata=metadata,
    )


def write_checkpoint(s3, model: ModelKeys, number: int, *, locked: bool = False) -> str:
    """What DRFC's trainer leaves in S3 after an iteration."""
    name = f"{number}_Step-{number * 1000}.ckpt"
    for key in model.checkpoint_files(name):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"weights")
    record = {"name": name, "time_stamp": START, "avg_eval_metric": 50.0}
    s3.put_object(
        Bucket=BUCKET,
        Key=model.checkpoints_json,
        Body=f'{{"best_checkpoint": {_json(record)}, "last_checkpoint": {_json(record)}}}',
    )
    if locked:
        s3.put_object(Bucket=BUCKET, Key=model.lock_marker, Body=b"")
    else:
        s3.delete_object(Bucket=BUCKET, Key=model.lock_marker)
    return name


def _json(record):
    import json

    return json.dumps(record)


def test_a_fresh_drfc_is_prepared_then_rebooted_then_initialised_and_training_starts(s3, clock, tmp_path):
    # Given DRFC cloned but never prepared nor initialised
    fake = FakeDrfc(tmp_path, initialised=False)
    spec = make_spec(deadline_after=600, run_settings={"DR_CAR_NAME": "Pitwall"})
    put_run(s3, spec)
    recorder = StatusRecorder(s3)
    # When the agent runs: bin/prepare.sh, then a reboot (which stops the agent's service)
    first = agent_for(s3, clock, spec, fake)
    clock.at(START + 20, first.stop)
    assert first.run() is HostState.BOOTING
    assert fake.calls() == ["bin/prepare.sh ", "shutdown -r now"]
    # and after the reboot the agent's service starts it again
    second = agent_for(s3, clock, spec, fake)
    assert second.run() is HostState.FINISHED  # at the end of its 10-minute budget
    # Then DRFC was initialised for AWS on a GPU, the pinned image pulled, training started
    assert fake.calls()[2:5] == [
        "bin/init.sh -c aws -a gpu",
        "docker pull -q awsdeepracercommunity/deepracer-simapp:5.3.3-gpu",
        "dr-start-training -w -q",
    ]
    assert recorder.states == ["booting", "booting", "started", "finished"]
    assert [status["sequence"] for status in recorder.statuses] == [1, 2, 3, 4]
    # run.env keeps DRFC's defaults and comments, and carries the segment's settings
    run_env = (fake.drfc_dir / "run.env").read_text().splitlines()
    assert run_env[0] == "# run.env from DRFC defaults"
    assert "DR_RUN_ID=0" in run_env and "DR_CAR_NAME=Pitwall" in run_env
    assert f"DR_LOCAL_S3_MODEL_PREFIX={spec.model_prefix}" in run_env
    assert "DR_LOCAL_S3_CUSTOM_FILES_PREFIX=runs/run-1/custom_files" in run_env
    system_env = (fake.drfc_dir / "system.env").read_text().splitlines()
    assert "DR_CLOUD=aws" in system_env and "DR_CLOUD=local" not in system_env
    assert f"DR_LOCAL_S3_BUCKET={BUCKET}" in system_env and "DR_DOCKER_STYLE=swarm" in system_env
    # the custom files are in DRFC's folder; already at the custom files prefix, so no upload
    assert (fake.drfc_dir / "custom_files" / "reward_function.py").read_bytes() == REWARD_FUNCTION
    assert "dr-upload-custom-files" not in fake.calls()


def test_a_reboot_that_never_comes_is_a_clear_failure(s3, clock, tmp_path):
    fake = FakeDrfc(tmp_path, initialised=False)
    spec = make_spec()
    put_run(s3, spec)
    recorder = StatusRecorder(s3)
    assert agent_for(s3, clock, spec, fake, reboot_wait_seconds=120).run() is HostState.FAILED
    assert "did not reboot within 120 s" in recorder.statuses[-1]["detail"]


def test_custom_files_are_uploaded_when_drfc_reads_them_elsewhere(s3, clock, fake):
    spec = make_spec(
        deadline_after=60,
        run_settings={"DR_LOCAL_S3_CUSTOM_FILES_PREFIX": "models/demo-model/seg-000/custom_files"},
    )
    put_run(s3, spec)
    agent_for(s3, clock, spec, fake).run()
    assert "dr-upload-custom-files" in fake.calls()
    assert "prepare.sh" not in " ".join(fake.calls())  # already initialised: no reinstall


def test_a_dead_container_is_reported_failed_at_the_next_poll(s3, clock, fake):
    spec = make_spec()
    put_run(s3, spec)
    recorder = StatusRecorder(s3)
    clock.at(START + 900, lambda: fake.end_container(TRAINER, 137))
    assert agent_for(s3, clock, spec, fake).run() is HostState.FAILED
    failed = recorder.statuses[-1]
    assert failed["state"] == "failed"
    assert TRAINER in failed["detail"] and "Exited (137)" in failed["detail"]
    assert START + 900 <= failed["at_epoch"] <= START + 900 + spec.status_poll_seconds
    assert fake.calls()[-2:] == ["dr-stop-training", "shutdown -h now"]


def test_a_dead_container_is_reported_within_seconds_of_wall_time(s3, fake):
    # Given a training on the real clock, polling every 0.2 s
    clock = ScaledClock(1.0)
    spec = make_spec(deadline_after=10 * 3600)
    spec = type(spec)(**{**spec.__dict__, "status_poll_seconds": 0.2, "deadline_epoch": clock.now() + 3600})
    put_run(s3, spec)
    agent = agent_for(s3, clock, spec, fake)
    thread = threading.Thread(target=agent.run)
    thread.start()
    deadline = time.monotonic() + 10
    while agent.state is not HostState.STARTED and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)
    # When the simulator container dies
    died = time.monotonic()
    fake.end_container(ROBOMAKER, 139)
    thread.join(timeout=10)
    # Then the host said so within seconds
    assert agent.state is HostState.FAILED
    assert time.monotonic() - died < 3.0
    status = read_json(s3, RunKeys(spec.run_id).host_status)
    assert ROBOMAKER in status["detail"]


def test_a_save_request_waits_for_the_upload_under_way_and_stops_inside_the_window(s3, clock, fake):
    # Given a training whose trainer has written checkpoint 3 and is uploading checkpoint 4
    spec = make_spec()
    put_run(s3, spec)
    model = ModelKeys(spec.model_prefix)
    clock.at(START + 600, lambda: write_checkpoint(s3, model, 3, locked=True))
    request = ControlRequest("save-7", ControlAction.SAVE, INSTANCE, START + 610)
    clock.at(
        START + 610,
        lambda: s3.put_object(Bucket=BUCKET, Key=RunKeys(spec.run_id).host_control, Body=request.to_json()),
    )
    clock.at(START + 650, lambda: write_checkpoint(s3, model, 4))  # the upload ends 40 s later
    recorder = StatusRecorder(s3)
    # When the agent runs
    assert agent_for(s3, clock, spec, fake).run() is HostState.SAVED
    # Then it saved checkpoint 4, inside the two minutes, then stopped training and powered off
    saving, saved = recorder.statuses[-2:]
    assert saving["state"] == "saving" and saved["state"] == "saved"
    assert saved["checkpoint"] == "4_Step-4000.ckpt"
    assert saved["extra"]["within_warning"] is True
    assert saved["at_epoch"] - request.requested_at_epoch <= 120
    assert fake.calls()[-2:] == ["dr-stop-training", "shutdown -h now"]


def test_the_spot_notice_from_imdsv2_makes_the_host_save(s3, clock, fake):
    spec = make_spec()
    put_run(s3, spec)
    model = ModelKeys(spec.model_prefix)
    clock.at(START + 300, lambda: write_checkpoint(s3, model, 1))
    recorder = StatusRecorder(s3)
    with FakeImds(instance_id=INSTANCE) as imds:
        notice = {"action": "terminate", "time": "2026-11-22T06:00:00Z"}
        clock.at(START + 420, lambda: setattr(imds, "spot_action", notice))
        final = agent_for(s3, clock, spec, fake, metadata=ImdsClient(imds.base_url)).run()
        assert imds.rejected == []  # every metadata read carried a session token
    assert final is HostState.SAVED
    assert recorder.statuses[-1]["checkpoint"] == "1_Step-1000.ckpt"
    assert recorder.statuses[-1]["extra"]["request_id"] == "spot-2026-11-22T06:00:00Z"
    assert START + 420 <= recorder.statuses[-1]["at_epoch"] <= START + 420 + spec.status_poll_seconds


def test_the_instance_is_shut_down_at_the_end_of_the_budget(s3, clock, fake):
    spec = make_spec(deadline_after=600)
    put_run(s3, spec)
    recorder = StatusRecorder(s3)
    assert agent_for(s3, clock, spec, fake).run() is HostState.FINISHED
    assert "time budget" in recorder.statuses[-1]["detail"]
    assert START + 600 <= recorder.statuses[-1]["at_epoch"] <= START + 600 + spec.status_poll_seconds
    assert fake.calls()[-2:] == ["dr-stop-training", "shutdown -h now"]


def test_training_that_ends_by_itself_is_finished(s3, clock, fake):
    spec = make_spec()
    put_run(s3, spec)
    finished = ModelKeys(spec.model_prefix).finished_marker
    clock.at(START + 500, lambda: s3.put_object(Bucket=BUCKET, Key=finished, Body=b""))
    recorder = StatusRecorder(s3)
    assert agent_for(s3, clock, spec, fake).run() is HostState.FINISHED
    assert ".finished" in recorder.statuses[-1]["detail"]


def test_an_evaluation_ends_when_its_simulator_exits_after_writing_metrics(s3, clock, fake):
    spec = make_spec(mode=Mode.EVALUATE)
    put_run(s3, spec)
    key = ModelKeys(spec.model_prefix).evaluation_metrics("20260921120000")

    def trials_done():
        s3.put_object(Bucket=BUCKET, Key=key, Body=b'{"metrics": []}')
        fake.end_container(ROBOMAKER, 0)

    clock.at(START + 400, trials_done)
    assert agent_for(s3, clock, spec, fake).run() is HostState.FINISHED
    assert "dr-start-evaluation -q" in fake.calls()
    assert "dr-start-training -w -q" not in fake.calls()


def test_an_evaluation_of_two_legs_gives_drfc_each_legs_run_env_and_starts_it_twice(s3, clock, fake):
    # Given an evaluation of two legs: a track clockwise, another counterclockwise
    legs = [
        EvaluationLeg(index=0, world_name="reInvent2019_track"),
        EvaluationLeg(1, "2022_april_open", True),
    ]
    spec = make_spec(mode=Mode.EVALUATE, evaluation_legs=legs)
    put_run(s3, spec)
    model = ModelKeys(spec.model_prefix)
    worlds: list[str] = []

    def leg_done(stamp: str) -> None:
        worlds.append((fake.drfc_dir / "run.env").read_text())
        s3.put_object(Bucket=BUCKET, Key=model.evaluation_metrics(stamp), Body=b'{"metrics": []}')
        fake.end_container(ROBOMAKER, 0)

    clock.at(START + 400, lambda: leg_done("20260921120000"))
    clock.at(START + 800, lambda: leg_done("20260921120700"))
    # When the agent runs it
    assert agent_for(s3, clock, spec, fake).run() is HostState.FINISHED
    # Then DRFC evaluated twice, each time with that leg's world and direction in run.env
    assert fake.calls().count("dr-start-evaluation -q") == 2
    assert "DR_WORLD_NAME=reInvent2019_track" in worlds[0] and "DR_EVAL_REVERSE_DIRECTION=False" in worlds[0]
    assert "DR_WORLD_NAME=2022_april_open" in worlds[1] and "DR_EVAL_REVERSE_DIRECTION=True" in worlds[1]
    # and each leg's record names its own metrics file
    keys = RunKeys(spec.run_id)
    assert read_json(s3, keys.evaluation_leg(0))["metrics_key"] == model.evaluation_metrics("20260921120000")
    assert read_json(s3, keys.evaluation_leg(1))["metrics_key"] == model.evaluation_metrics("20260921120700")


def test_missing_drfc_is_a_clear_failure(s3, clock, tmp_path):
    fake = FakeDrfc(tmp_path, installed=False)
    spec = make_spec()
    put_run(s3, spec)
    recorder = StatusRecorder(s3)
    assert agent_for(s3, clock, spec, fake).run() is HostState.FAILED
    detail = recorder.statuses[-1]["detail"]
    assert str(fake.drfc_dir) in detail and "bin/activate.sh" in detail
    assert fake.calls() == ["shutdown -h now"]


def test_a_failing_drfc_command_is_reported_with_its_exit_code_and_output(s3, clock, fake):
    spec = make_spec()
    put_run(s3, spec)
    fake.fail("dr-start-training", 3, "Checking S3 prefix...\nError: upload bucket not reachable")
    recorder = StatusRecorder(s3)
    assert agent_for(s3, clock, spec, fake).run() is HostState.FAILED
    detail = recorder.statuses[-1]["detail"]
    assert "`dr-start-training -w -q` failed with exit code 3" in detail
    assert "Error: upload bucket not reachable" in detail
    assert recorder.states == ["booting", "failed"]


def test_a_failing_image_pull_names_the_image(s3, clock, fake):
    spec = make_spec(system_settings={"DR_SIMAPP_VERSION": "9.9.9-gpu"})
    put_run(s3, spec)
    fake.fail_docker_pull()
    recorder = StatusRecorder(s3)
    assert agent_for(s3, clock, spec, fake).run() is HostState.FAILED
    assert "deepracer-simapp:9.9.9-gpu" in recorder.statuses[-1]["detail"]
    assert "manifest unknown" in recorder.statuses[-1]["detail"]


def test_containers_that_never_start_are_reported(s3, clock, fake):
    spec = make_spec()
    put_run(s3, spec)
    fake.keep_containers_down()
    recorder = StatusRecorder(s3)
    agent = agent_for(s3, clock, spec, fake, container_start_seconds=300)
    assert agent.run() is HostState.FAILED
    assert "did not start within 300 s" in recorder.statuses[-1]["detail"]


def test_a_segment_never_wipes_a_prefix_that_holds_checkpoints(s3, clock, fake):
    spec = make_spec()
    put_run(s3, spec)
    write_checkpoint(s3, ModelKeys(spec.model_prefix), 5)
    recorder = StatusRecorder(s3)
    assert agent_for(s3, clock, spec, fake).run() is HostState.FAILED
    assert "refusing to wipe" in recorder.statuses[-1]["detail"]
    assert "dr-start-training -w -q" not in fake.calls()


def test_an_unreachable_metadata_service_is_logged_once_and_the_work_goes_on(s3, clock, fake):
    spec = make_spec(deadline_after=300)
    put_run(s3, spec)
    metadata = ImdsClient("http://127.0.0.1:9", timeout_seconds=0.2)
    assert agent_for(s3, clock, spec, fake, metadata=metadata).run() is HostState.FINISHED
    log = s3.get_object(Bucket=BUCKET, Key=RunKeys(spec.run_id).host_instance_log(INSTANCE))["Body"].read()
    assert log.count(b"instance metadata unavailable") == 1
