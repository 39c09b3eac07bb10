"""The agent's core driving the simulated DRFC host, on emulated S3 and a manual clock."""

from __future__ import annotations

import json
import threading
import time

import yaml
from botocore.exceptions import EndpointConnectionError

from pitwall.clock import ScaledClock
from pitwall.drfc_files import SIMTRACE_COLUMNS, read_simtrace
from pitwall.host.agent import HostAgent
from pitwall.host.protocol import (
    ControlAction,
    ControlRequest,
    EvaluationLeg,
    EvaluationLegDone,
    HostState,
    Mode,
)
from pitwall.layout import ModelKeys, RunKeys, checkpoint_number
from pitwall_local.simulated_drfc import SimulatedDrfc, SimulatedFaults

from .conftest import (
    BUCKET,
    REWARD_FUNCTION,
    START,
    StatusRecorder,
    hyperparameters,
    keys_under,
    make_spec,
    put_custom_files,
    put_run,
    put_spec,
    read_json,
)

TRAINING_ENTRY_FIELDS = {
    "reward_score",
    "metric_time",
    "start_time",
    "elapsed_time_in_milliseconds",
    "episode",
    "trial",
    "phase",
    "completion_percentage",
    "episode_status",
}
EVALUATION_ENTRY_FIELDS = {
    "completion_percentage",
    "elapsed_time_in_milliseconds",
    "episode_status",
    "trial",
    "crash_count",
    "off_track_count",
    "reset_count",
    "immobilized_count",
    "reversed_count",
}


def agent_for(s3, clock, spec, backend, instance_id="i-0001", metadata=None) -> HostAgent:
    return HostAgent(
        s3=s3,
        bucket=BUCKET,
        run_id=spec.run_id,
        instance_id=instance_id,
        backend=backend,
        clock=clock,
        metadata=metadata,
    )


def train(s3, clock, spec, *, max_episodes=30, seed=0, faults=None) -> tuple[HostState, SimulatedDrfc]:
    put_run(s3, spec, hyperparameters(term_cond_max_episodes=max_episodes))
    backend = SimulatedDrfc(s3=s3, clock=clock, seed=seed, faults=faults)
    return agent_for(s3, clock, spec, backend).run(), backend


def test_training_writes_what_drfc_writes_and_reports_its_way_to_finished(s3, clock):
    # Given a run whose hyperparameters end training after 3 iterations of 10 episodes
    spec = make_spec()
    recorder = StatusRecorder(s3)
    # When the agent runs it on the simulated host
    final, backend = train(s3, clock, spec, max_episodes=30)
    # Then it reported booting, started, finished, with growing sequence numbers
    assert final is HostState.FINISHED
    assert recorder.states == ["booting", "started", "finished"]
    assert [status["sequence"] for status in recorder.statuses] == [1, 2, 3]
    assert {status["instance_id"] for status in recorder.statuses} == {"i-0001"}
    # and the model prefix holds DRFC's files
    model = ModelKeys(spec.model_prefix)
    present = set(keys_under(s3, spec.model_prefix))
    for key in (
        model.training_params,
        model.reward_function,
        model.ip_hyperparameters,
        model.model_metadata,
        model.coach_checkpoint,
        model.checkpoints_json,
        model.finished_marker,
        model.training_metrics(),
    ):
        assert key in present, key
    assert model.lock_marker not in present
    assert s3.get_object(Bucket=BUCKET, Key=model.reward_function)["Body"].read() == REWARD_FUNCTION
    # training_params.yaml: DRFC's keys, the custom files' keys; the trainer's resolved hyperparameters
    params = yaml.safe_load(s3.get_object(Bucket=BUCKET, Key=model.training_params)["Body"].read())
    assert params["WORLD_NAME"] == "reInvent2019_track" and params["NUM_WORKERS"] == "1"
    assert params["BODY_SHELL_TYPE"] == "deepracer" and params["SIMTRACE_S3_PREFIX"] == spec.model_prefix
    assert params["REWARD_FILE_S3_KEY"] == RunKeys(spec.run_id).custom_file("reward_function.py")
    resolved = read_json(s3, model.ip_hyperparameters)
    assert resolved["term_cond_max_episodes"] == 30 and resolved["loss_type"] == "mean squared error"
    assert model.ready_marker in present
    # TrainingMetrics.json: every episode, every field, DRFC's envelope, the simulator's counting
    document = read_json(s3, model.training_metrics())
    assert document["version"] == 2.0 and document["best_model_metric"] == "progress"
    training = [entry for entry in document["metrics"] if entry["phase"] == "training"]
    evaluation = [entry for entry in document["metrics"] if entry["phase"] == "evaluation"]
    assert len(training) == 30 and len(evaluation) >= 3 * 3  # worker 0 evaluates until the next checkpoint
    assert all(set(entry) == TRAINING_ENTRY_FIELDS for entry in document["metrics"])
    assert [entry["episode"] for entry in training] == list(range(1, 31))
    assert [entry["trial"] for entry in training] == list(range(1, 11)) * 3  # again at every iteration
    assert {(entry["episode"], entry["trial"]) for entry in evaluation} == {(10, 10), (20, 10), (30, 10)}
    assert all(0 < entry["completion_percentage"] <= 100 for entry in training)
    assert document["metrics"][-1]["metric_time"] < 3600 * 1000  # the simulation's clock, not the epoch
    # the initial checkpoint and three more; the checkpoints file is one behind the newest upload
    newest = s3.get_object(Bucket=BUCKET, Key=model.coach_checkpoint)["Body"].read().decode()
    assert checkpoint_number(newest) == 3
    checkpoints = read_json(s3, model.checkpoints_json)
    last = checkpoints["last_checkpoint"]["name"]
    assert checkpoint_number(last) == 1 and checkpoints["last_checkpoint"]["avg_eval_metric"] > 0
    kept = sorted({key.rsplit("/", 1)[1] for key in present if "_Step-" in key or key.endswith(".pb")})
    assert "0_Step-0.ckpt.index" in kept and "model_0.pb" in kept and "model_3.pb" in kept
    assert recorder.statuses[-1]["checkpoint"] == last
    # one simtrace per iteration, the simulator's columns, the worker's episodes numbered from 0
    for iteration in range(3):
        rows = read_simtrace(
            s3.get_object(
                Bucket=BUCKET, Key=f"{spec.model_prefix}/training-simtrace/{iteration}-iteration.csv"
            )["Body"]
            .read()
            .decode()
        )
        assert list(rows[0]) == list(SIMTRACE_COLUMNS)
        assert sorted({int(row["episode"]) for row in rows}) == list(
            range(10 * iteration, 10 * iteration + 10)
        )
    # the run.env the host would hand DRFC names the segment's prefix and bucket
    assert f"DR_LOCAL_S3_MODEL_PREFIX={spec.model_prefix}" in backend.run_env.splitlines()
    assert f"DR_LOCAL_S3_BUCKET={BUCKET}" in backend.system_env.splitlines()
    # the log was shipped and the instance powered off
    log = s3.get_object(Bucket=BUCKET, Key=RunKeys(spec.run_id).host_instance_log("i-0001"))["Body"].read()
    assert b"status finished" in log
    assert backend.shut_down


def test_training_metrics_file_is_rewritten_at_every_episode_end(s3, clock):
    spec = make_spec()
    writes = []
    original = s3.put_object

    def put_object(**kwargs):
        if kwargs["Key"] == ModelKeys(spec.model_prefix).training_metrics():
            writes.append(len(json.loads(kwargs["Body"])["metrics"]))
        return original(**kwargs)

    s3.put_object = put_object
    train(s3, clock, spec, max_episodes=20)
    # one rewrite per episode (20 training, and at least 2 x 3 evaluation), each with the full list so far
    assert writes == list(range(1, len(writes) + 1)) and len(writes) >= 26


def test_workers_each_write_their_own_metrics_file_and_share_the_iteration(s3, clock):
    spec = make_spec(system_settings={"DR_WORKERS": "3"})
    train(s3, clock, spec, max_episodes=30)
    model = ModelKeys(spec.model_prefix)
    per_worker = [read_json(s3, model.training_metrics(worker))["metrics"] for worker in range(3)]
    training = [[e for e in metrics if e["phase"] == "training"] for metrics in per_worker]
    assert [len(episodes) for episodes in training] == [12, 9, 9]  # 10 an iteration: 4, 3, 3
    # worker 0 counts its trials per iteration and evaluates; the others count on and do not
    assert [e["trial"] for e in training[0]] == [1, 2, 3, 4] * 3
    assert [e["trial"] for e in training[1]] == list(range(1, 10))
    assert all(e["phase"] == "training" for metrics in per_worker[1:] for e in metrics)
    assert model.training_metrics(3) not in keys_under(s3, spec.model_prefix)
    # each worker's simtrace under its own number
    keys = keys_under(s3, spec.model_prefix)
    for worker in range(3):
        assert [k for k in keys if f"/{worker}/training-simtrace/" in k] == [
            f"{spec.model_prefix}/{worker}/training-simtrace/{i}-iteration.csv" for i in range(3)
        ]


def test_four_checkpoints_are_kept_the_best_among_them(s3, clock):
    spec = make_spec()
    train(s3, clock, spec, max_episodes=100)  # 10 iterations
    model = ModelKeys(spec.model_prefix)
    present = set(keys_under(s3, model.model_folder))
    kept = sorted({checkpoint_number(key.rsplit("/", 1)[1]) for key in present if "_Step-" in key})
    frozen = sorted(int(key.rsplit("_", 1)[1][:-3]) for key in present if key.endswith(".pb"))
    checkpoints = read_json(s3, model.checkpoints_json)
    best = checkpoint_number(checkpoints["best_checkpoint"]["name"])
    assert len(kept) == 4 and kept == frozen and best in kept
    assert set(kept) == {best} | set(sorted({7, 8, 9, 10} - {best})[-3:])
    for name in (checkpoints["best_checkpoint"]["name"], checkpoints["last_checkpoint"]["name"]):
        assert all(key in present for key in model.checkpoint_files(name))


def test_the_learning_curve_rises_and_is_the_same_for_the_same_seed(s3, clock):
    spec = make_spec()
    train(s3, clock, spec, max_episodes=100, seed=7)
    first = read_json(s3, ModelKeys(spec.model_prefix).training_metrics())["metrics"]
    completions = [e["completion_percentage"] for e in first if e["phase"] == "training"]
    assert sum(completions[-40:]) / 40 > sum(completions[:40]) / 40 + 25
    # Same seed, same run, fresh prefix: the same episodes
    again = make_spec(model_prefix="models/again/seg-000")
    train(s3, clock, again, max_episodes=100, seed=7)
    second = read_json(s3, ModelKeys(again.model_prefix).training_metrics())["metrics"]
    assert [e["completion_percentage"] for e in second] == [e["completion_percentage"] for e in first]


def test_an_increment_continues_from_the_source_checkpoint_and_rewrites_its_coach_checkpoint(s3, clock):
    # Given a trained first segment
    source = make_spec(segment=0)
    train(s3, clock, source, max_episodes=50)
    source_model = ModelKeys(source.model_prefix)
    source_checkpoints = read_json(s3, source_model.checkpoints_json)
    s3.put_object(Bucket=BUCKET, Key=source_model.coach_checkpoint, Body=b"something else")
    # When the next segment trains from its last checkpoint
    follow = make_spec(
        segment=1,
        pretrained_prefix=source.model_prefix,
        run_settings={"DR_LOCAL_S3_PRETRAINED_CHECKPOINT": "last"},
    )
    put_spec(s3, follow)
    backend = SimulatedDrfc(s3=s3, clock=clock)
    assert agent_for(s3, clock, follow, backend, instance_id="i-0002").run() is HostState.FINISHED
    # Then its initial checkpoint is numbered after the source's last, and its episodes carry on the curve
    last_source = source_checkpoints["last_checkpoint"]["name"]
    follow_model = ModelKeys(follow.model_prefix)
    follow_checkpoints = read_json(s3, follow_model.checkpoints_json)
    initial = checkpoint_number(last_source) + 1  # 5 iterations upload 5 more after it
    newest = s3.get_object(Bucket=BUCKET, Key=follow_model.coach_checkpoint)["Body"].read().decode()
    assert checkpoint_number(newest) == initial + 5
    assert checkpoint_number(follow_checkpoints["last_checkpoint"]["name"]) == initial + 3
    assert (
        s3.get_object(Bucket=BUCKET, Key=source_model.coach_checkpoint)["Body"].read().decode() == last_source
    )
    early_source = [
        e["completion_percentage"] for e in read_json(s3, source_model.training_metrics())["metrics"]
    ]
    early_follow = [
        e["completion_percentage"] for e in read_json(s3, follow_model.training_metrics())["metrics"]
    ]
    assert sum(early_follow[:10]) > sum(early_source[:10])
    assert "DR_LOCAL_S3_PRETRAINED=True" in backend.run_env.splitlines()
    assert f"DR_LOCAL_S3_PRETRAINED_PREFIX={source.model_prefix}" in backend.run_env.splitlines()


def test_an_increment_without_a_trained_source_fails_clearly(s3, clock):
    spec = make_spec(segment=1, pretrained_prefix="models/nothing/seg-000")
    recorder = StatusRecorder(s3)
    final, backend = train(s3, clock, spec)
    assert final is HostState.FAILED
    assert "models/nothing/seg-000" in recorder.statuses[-1]["detail"]
    assert backend.shut_down


def test_evaluation_writes_every_trial_with_every_field(s3, clock):
    trained = make_spec()
    train(s3, clock, trained, max_episodes=60)
    spec = make_spec(
        segment=0,
        mode=Mode.EVALUATE,
        model_prefix=trained.model_prefix,
        run_settings={"DR_EVAL_NUMBER_OF_TRIALS": "5", "DR_EVAL_CHECKPOINT": "best"},
    )
    put_spec(s3, spec)
    recorder = StatusRecorder(s3)
    final = agent_for(s3, clock, spec, SimulatedDrfc(s3=s3, clock=clock), instance_id="i-eval").run()
    assert final is HostState.FINISHED
    assert recorder.states == ["booting", "started", "finished"]
    model = ModelKeys(trained.model_prefix)
    (key,) = keys_under(s3, model.evaluation_metrics_folder)
    assert key.rsplit("/", 1)[1].startswith("evaluation-2026")
    document = read_json(s3, key)
    assert set(document) == {"metrics"}
    assert [entry["trial"] for entry in document["metrics"]] == [1, 2, 3, 4, 5]
    assert all(set(entry) >= EVALUATION_ENTRY_FIELDS for entry in document["metrics"])
    # evaluation_params.yaml names the metrics object and the simtrace folder, per car
    stamp = key.rsplit("-", 1)[1][: -len(".json")]
    params = yaml.safe_load(s3.get_object(Bucket=BUCKET, Key=model.evaluation_params)["Body"].read())
    assert params["METRICS_S3_OBJECT_KEY"] == [key] and params["EVAL_CHECKPOINT"] == "best"
    simtrace = f"{trained.model_prefix}/evaluation-{stamp}/evaluation-simtrace/0-iteration.csv"
    rows = read_simtrace(s3.get_object(Bucket=BUCKET, Key=simtrace)["Body"].read().decode())
    assert sorted({int(row["episode"]) for row in rows}) == [0, 1, 2, 3, 4]


class CountingSetups(SimulatedDrfc):
    """The simulated host, counting its setups (one per boot) and the worlds it evaluated."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.setups = 0
        self.worlds: list[tuple[str, str]] = []

    def setup(self, spec):
        self.setups += 1
        super().setup(spec)

    def start(self, spec):
        settings = spec.run_settings
        self.worlds.append((settings["DR_WORLD_NAME"], settings["DR_EVAL_REVERSE_DIRECTION"]))
        super().start(spec)


def test_an_evaluation_of_three_legs_runs_them_one_after_the_other_after_one_boot(s3, clock):
    # Given a trained model and an evaluation spec of three legs (two tracks, one both ways)
    trained = make_spec()
    train(s3, clock, trained, max_episodes=30)
    legs = [
        EvaluationLeg(index=0, world_name="reInvent2019_track"),
        EvaluationLeg(index=1, world_name="reInvent2019_track", reverse=True),
        EvaluationLeg(index=2, world_name="2022_april_open"),
    ]
    spec = make_spec(
        mode=Mode.EVALUATE,
        model_prefix=trained.model_prefix,
        run_settings={"DR_EVAL_NUMBER_OF_TRIALS": "2", "DR_WORLD_NAME": "reInvent2019_track"},
        evaluation_legs=legs,
    )
    put_spec(s3, spec)
    recorder = StatusRecorder(s3)
    backend = CountingSetups(s3=s3, clock=clock)
    # When the agent runs it
    final = agent_for(s3, clock, spec, backend, instance_id="i-eval").run()
    # Then DRFC was set up once and evaluated each leg in turn, with its world and direction
    assert final is HostState.FINISHED
    assert backend.setups == 1
    assert backend.worlds == [
        ("reInvent2019_track", "False"),
        ("reInvent2019_track", "True"),
        ("2022_april_open", "False"),
    ]
    assert recorder.states == ["booting", "started", "finished"]
    # and each leg's record names a metrics file of its own, holding its trials
    keys = RunKeys(spec.run_id)
    done = [EvaluationLegDone.from_dict(read_json(s3, keys.evaluation_leg(leg.index))) for leg in legs]
    assert [(d.world_name, d.reverse) for d in done] == [(leg.world_name, leg.reverse) for leg in legs]
    assert len({d.metrics_key for d in done}) == 3
    assert sorted(d.metrics_key for d in done) == keys_under(
        s3, ModelKeys(trained.model_prefix).evaluation_metrics_folder
    )
    assert all(len(read_json(s3, d.metrics_key)["metrics"]) == 2 for d in done)


def test_a_host_given_the_remaining_legs_evaluates_only_those(s3, clock):
    # Given a replacement host's spec: leg 0 was done by the host before, legs 1 and 2 remain
    trained = make_spec()
    train(s3, clock, trained, max_episodes=20)
    remaining = [
        EvaluationLeg(index=1, world_name="reInvent2019_track", reverse=True),
        EvaluationLeg(index=2, world_name="2022_april_open"),
    ]
    spec = make_spec(mode=Mode.EVALUATE, model_prefix=trained.model_prefix, evaluation_legs=remaining)
    put_spec(s3, spec)
    backend = CountingSetups(s3=s3, clock=clock)
    # When it runs
    assert agent_for(s3, clock, spec, backend, instance_id="i-again").run() is HostState.FINISHED
    # Then it evaluated legs 1 and 2 and recorded them under their own indexes
    assert backend.worlds == [("reInvent2019_track", "True"), ("2022_april_open", "False")]
    folder = RunKeys(spec.run_id).evaluation_leg(0).rsplit("/", 1)[0]
    assert [key.rsplit("/", 1)[1] for key in keys_under(s3, folder)] == ["leg-01.json", "leg-02.json"]


class TerminatedDuringTheFirstLeg(SimulatedDrfc):
    """The instance is terminated while the first leg runs: the agent is told to stop, DRFC
    stops, and its next poll finds the work ended."""

    agent: HostAgent

    def poll(self):
        if not self._halted.is_set() and self.clock.now() > (self._started_at or 0) + 20:
            self.agent.stop()
        return super().poll()


def test_a_leg_cut_short_by_the_instances_end_is_not_recorded_as_done(s3, clock):
    # Given an evaluation of two legs on an instance terminated during the first
    trained = make_spec()
    train(s3, clock, trained, max_episodes=20)
    legs = [
        EvaluationLeg(index=0, world_name="reInvent2019_track"),
        EvaluationLeg(index=1, world_name="reInvent2019_track", reverse=True),
    ]
    spec = make_spec(
        mode=Mode.EVALUATE,
        model_prefix=trained.model_prefix,
        run_settings={"DR_EVAL_NUMBER_OF_TRIALS": "10"},
        evaluation_legs=legs,
    )
    put_spec(s3, spec)
    backend = TerminatedDuringTheFirstLeg(s3=s3, clock=clock)
    backend.agent = agent_for(s3, clock, spec, backend, instance_id="i-lost")
    # When the agent runs
    backend.agent.run()
    # Then no leg is recorded as done: a replacement evaluates both again
    folder = RunKeys(spec.run_id).evaluation_leg(0).rsplit("/", 1)[0]
    assert keys_under(s3, folder) == []


def test_continuous_evaluation_completes_laps_and_counts_resets(s3, clock):
    trained = make_spec()
    train(s3, clock, trained, max_episodes=20)
    spec = make_spec(
        mode=Mode.EVALUATE,
        model_prefix=trained.model_prefix,
        run_settings={"DR_EVAL_NUMBER_OF_TRIALS": "6", "DR_EVAL_IS_CONTINUOUS": "True"},
    )
    put_spec(s3, spec)
    agent_for(s3, clock, spec, SimulatedDrfc(s3=s3, clock=clock)).run()
    (key,) = keys_under(s3, ModelKeys(trained.model_prefix).evaluation_metrics_folder)
    entries = read_json(s3, key)["metrics"]
    assert all(entry["completion_percentage"] == 100 for entry in entries)
    assert sum(entry["reset_count"] for entry in entries) > 0  # an early model goes off track


def test_a_crashed_container_is_reported_failed_at_the_next_poll(s3, clock):
    spec = make_spec()
    recorder = StatusRecorder(s3)
    final, backend = train(s3, clock, spec, max_episodes=0, faults=SimulatedFaults(crash_after_seconds=900))
    assert final is HostState.FAILED
    failed = recorder.statuses[-1]
    assert "exited" in failed["detail"]
    started = recorder.statuses[1]["at_epoch"]
    assert failed["at_epoch"] - started <= 900 + spec.status_poll_seconds
    assert failed["checkpoint"] is not None  # what was saved before the crash stays in S3
    assert backend.shut_down


def test_a_frozen_simulator_stops_writing_but_looks_alive_until_the_deadline(s3, clock):
    spec = make_spec(deadline_after=3600)
    recorder = StatusRecorder(s3)
    final, _ = train(s3, clock, spec, max_episodes=0, faults=SimulatedFaults(freeze_after_seconds=600))
    model = ModelKeys(spec.model_prefix)
    last_write = max(e["metric_time"] for e in read_json(s3, model.training_metrics())["metrics"]) / 1000
    assert 600 - 120 < last_write <= 600  # seconds of the simulation, which started with the work
    # the freeze is the controller's to notice (no heartbeat); the host's own timer still ends it
    assert final is HostState.FINISHED
    assert "time budget" in recorder.statuses[-1]["detail"]
    assert recorder.statuses[-1]["at_epoch"] >= spec.deadline_epoch


def test_a_save_request_uploads_the_latest_checkpoint_and_stops_inside_the_window(s3, clock):
    # Given a training whose checkpoint uploads are slow (40 s each)
    spec = make_spec()
    put_run(s3, spec, hyperparameters())
    backend = SimulatedDrfc(s3=s3, clock=clock, faults=SimulatedFaults(upload_seconds=40))
    model = ModelKeys(spec.model_prefix)
    uploads_seen = []

    def request_save_during_an_upload():
        # poll until an upload is under way, then ask for a save
        if backend._upload_ends_at is None:
            clock.at(clock.now() + 1, request_save_during_an_upload)
            return
        uploads_seen.append(clock.now())
        request = ControlRequest("save-1", ControlAction.SAVE, "i-0001", clock.now())
        s3.put_object(Bucket=BUCKET, Key=RunKeys(spec.run_id).host_control, Body=request.to_json())

    clock.at(START + 400, request_save_during_an_upload)
    recorder = StatusRecorder(s3)
    final = agent_for(s3, clock, spec, backend).run()
    # Then the agent reported saving, then saved with the checkpoint that was being uploaded
    assert final is HostState.SAVED
    assert recorder.states[-2:] == ["saving", "saved"]
    saved = recorder.statuses[-1]
    checkpoints = read_json(s3, model.checkpoints_json)
    assert saved["checkpoint"] == checkpoints["last_checkpoint"]["name"]
    assert saved["extra"]["request_id"] == "save-1"
    assert saved["extra"]["within_warning"] is True
    assert saved["at_epoch"] - uploads_seen[0] <= 120
    assert all(
        key in keys_under(s3, model.model_folder) for key in model.checkpoint_files(saved["checkpoint"])
    )
    assert model.lock_marker not in keys_under(s3, model.model_folder)
    # and nothing was written after the save
    episodes_then = len(read_json(s3, model.training_metrics())["metrics"])
    clock.advance(3600)
    assert backend.poll().state.value == "done"
    assert len(read_json(s3, model.training_metrics())["metrics"]) == episodes_then


def test_a_control_request_for_another_instance_is_ignored(s3, clock):
    spec = make_spec()
    put_run(s3, spec, hyperparameters(term_cond_max_episodes=20))
    request = ControlRequest("old", ControlAction.SAVE, "i-previous", START)
    s3.put_object(Bucket=BUCKET, Key=RunKeys(spec.run_id).host_control, Body=request.to_json())
    assert agent_for(s3, clock, spec, SimulatedDrfc(s3=s3, clock=clock)).run() is HostState.FINISHED


def test_a_stop_request_finishes_the_work(s3, clock):
    spec = make_spec()
    put_run(s3, spec, hyperparameters())
    request = ControlRequest("stop-1", ControlAction.STOP, "i-0001", START)
    clock.at(
        START + 1200,
        lambda: s3.put_object(Bucket=BUCKET, Key=RunKeys(spec.run_id).host_control, Body=request.to_json()),
    )
    recorder = StatusRecorder(s3)
    assert agent_for(s3, clock, spec, SimulatedDrfc(s3=s3, clock=clock)).run() is HostState.FINISHED
    assert "stop-1" in recorder.statuses[-1]["detail"]


class SpotNoticeAfter:
    """The metadata service's spot notice, present from a given time on (the IMDS client's
    own behaviour is tested against a loopback server in test_imds.py)."""

    def __init__(self, clock, epoch):
        self.clock = clock
        self.epoch = epoch

    def spot_instance_action(self):
        if self.clock.now() < self.epoch:
            return None
        return type("Notice", (), {"action": "terminate", "time": "2026-09-21T12:02:00Z"})()


def test_the_spot_notice_in_the_metadata_is_a_second_save_signal(s3, clock):
    spec = make_spec()
    put_run(s3, spec, hyperparameters())
    recorder = StatusRecorder(s3)
    agent = agent_for(
        s3, clock, spec, SimulatedDrfc(s3=s3, clock=clock), metadata=SpotNoticeAfter(clock, START + 900)
    )
    assert agent.run() is HostState.SAVED
    assert recorder.statuses[-1]["extra"]["request_id"] == "spot-2026-09-21T12:02:00Z"
    assert recorder.statuses[-1]["checkpoint"] is not None


def test_the_host_shuts_the_instance_down_at_the_deadline_without_a_controller(s3, clock):
    spec = make_spec(deadline_after=1800)
    recorder = StatusRecorder(s3)
    final, backend = train(s3, clock, spec, max_episodes=0)
    assert final is HostState.FINISHED
    assert START + 1800 <= recorder.statuses[-1]["at_epoch"] <= START + 1800 + spec.status_poll_seconds
    assert backend.shut_down


def test_a_missing_run_spec_is_reported_failed_and_the_instance_ends(s3, clock):
    recorder = StatusRecorder(s3)
    backend = SimulatedDrfc(s3=s3, clock=clock)
    agent = HostAgent(s3=s3, bucket=BUCKET, run_id="ghost", instance_id="i-9", backend=backend, clock=clock)
    assert agent.run() is HostState.FAILED
    assert recorder.statuses[-1]["segment"] == -1
    assert "runs/ghost/run-spec.json" in recorder.statuses[-1]["detail"]
    assert backend.shut_down


def test_missing_custom_files_fail_with_the_missing_key(s3, clock):
    spec = make_spec()
    put_spec(s3, spec)
    recorder = StatusRecorder(s3)
    assert agent_for(s3, clock, spec, SimulatedDrfc(s3=s3, clock=clock)).run() is HostState.FAILED
    assert RunKeys(spec.run_id).custom_file("reward_function.py") in recorder.statuses[-1]["detail"]


def test_a_restarted_agent_on_the_same_instance_continues_its_sequence(s3, clock):
    spec = make_spec()
    put_run(s3, spec, hyperparameters(term_cond_max_episodes=10))
    agent_for(s3, clock, spec, SimulatedDrfc(s3=s3, clock=clock)).run()
    recorder = StatusRecorder(s3)
    again = make_spec(model_prefix="models/demo-model/seg-000-again")
    put_spec(s3, again)
    agent_for(s3, clock, again, SimulatedDrfc(s3=s3, clock=clock)).run()
    assert [status["sequence"] for status in recorder.statuses] == [4, 5, 6]


def test_a_host_that_never_boots_stays_booting_until_the_instance_is_terminated(s3, clock):
    spec = make_spec()
    put_custom_files(s3, spec.run_id)
    put_spec(s3, spec)
    recorder = StatusRecorder(s3)
    backend = SimulatedDrfc(s3=s3, clock=clock, faults=SimulatedFaults(never_boots=True))
    agent = agent_for(s3, clock, spec, backend)
    result = []
    thread = threading.Thread(target=lambda: result.append(agent.run()))
    thread.start()
    deadline = time.monotonic() + 10  # the first report, however loaded the machine
    while not recorder.states and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # and nothing after it
    assert thread.is_alive() and recorder.states == ["booting"]
    agent.stop()
    thread.join(timeout=2)
    assert not thread.is_alive()
    assert result == [HostState.BOOTING]
    assert recorder.states == ["booting"]


def test_stop_from_another_thread_ends_a_running_training_promptly_and_writes_stop(s3):
    # Given a training running on a clock 600 times faster than the wall clock
    clock = ScaledClock(600, start_epoch=START)
    spec = make_spec(deadline_after=24 * 3600)
    put_run(s3, spec, hyperparameters())
    backend = SimulatedDrfc(s3=s3, clock=clock)
    agent = agent_for(s3, clock, spec, backend)
    thread = threading.Thread(target=agent.run)
    thread.start()
    model = ModelKeys(spec.model_prefix)
    deadline = time.monotonic() + 10
    while model.checkpoints_json not in keys_under(s3, spec.model_prefix) and time.monotonic() < deadline:
        time.sleep(0.05)
    # When the instance is terminated
    agent.stop()
    thread.join(timeout=2)
    # Then run() returned, and the host writes nothing more
    assert not thread.is_alive()
    before = keys_under(s3, spec.model_prefix)
    metrics = read_json(s3, model.training_metrics())
    time.sleep(0.3)  # 3 simulated minutes
    assert backend.poll().state.value == "done"
    assert keys_under(s3, spec.model_prefix) == before
    assert read_json(s3, model.training_metrics()) == metrics
    assert not backend.shut_down  # the terminated instance needs no shutdown


def test_the_log_reaches_s3_while_the_work_runs(s3, clock):
    spec = make_spec(deadline_after=1800)
    put_run(s3, spec, hyperparameters())
    key = RunKeys(spec.run_id).host_instance_log("i-0001")
    seen = []
    clock.at(START + 600, lambda: seen.append(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()))
    agent_for(s3, clock, spec, SimulatedDrfc(s3=s3, clock=clock)).run()
    assert b"status started" in seen[0]
    assert b"status finished" not in seen[0]


def test_a_save_request_that_came_during_setup_is_served_without_starting(s3, clock):
    spec = make_spec()
    put_run(s3, spec, hyperparameters())
    request = ControlRequest("early", ControlAction.SAVE, "i-0001", START + 10)
    clock.at(
        START + 10,
        lambda: s3.put_object(Bucket=BUCKET, Key=RunKeys(spec.run_id).host_control, Body=request.to_json()),
    )
    recorder = StatusRecorder(s3)
    assert agent_for(s3, clock, spec, SimulatedDrfc(s3=s3, clock=clock)).run() is HostState.SAVED
    assert recorder.states == ["booting", "saving", "saved"]
    assert recorder.statuses[-1]["checkpoint"] is None
    assert keys_under(s3, ModelKeys(spec.model_prefix).metrics_folder) == []


class FlakyS3:
    """The emulated S3 client, whose first reads fail as a network not yet up at boot does
    (a failure moto cannot produce)."""

    def __init__(self, s3, failures):
        self._s3 = s3
        self.failures = failures

    def get_object(self, **kwargs):
        if self.failures:
            self.failures -= 1
            raise EndpointConnectionError(endpoint_url="https://s3.us-east-1.amazonaws.com")
        return self._s3.get_object(**kwargs)

    def __getattr__(self, name):
        return getattr(self._s3, name)


def test_the_run_spec_is_read_again_when_s3_is_not_reachable_yet(s3, clock):
    spec = make_spec()
    put_run(s3, spec, hyperparameters(term_cond_max_episodes=10))
    flaky = FlakyS3(s3, failures=2)
    agent = HostAgent(
        s3=flaky,
        bucket=BUCKET,
        run_id=spec.run_id,
        instance_id="i-1",
        backend=SimulatedDrfc(s3=s3, clock=clock),
        clock=clock,
    )
    assert agent.run() is HostState.FINISHED
    assert flaky.failures == 0


def test_an_unreachable_s3_ends_in_a_clear_failure(s3, clock):
    spec = make_spec()
    put_run(s3, spec)
    backend = SimulatedDrfc(s3=s3, clock=clock)
    agent = HostAgent(
        s3=FlakyS3(s3, failures=100),
        bucket=BUCKET,
        run_id=spec.run_id,
        instance_id="i-1",
        backend=backend,
        clock=clock,
    )
    assert agent.run() is HostState.FAILED
    log = (
        s3.get_object(Bucket=BUCKET, Key=RunKeys(spec.run_id).host_instance_log("i-1"))["Body"]
        .read()
        .decode()
    )
    assert "cannot read the run spec s3://pitwall-host-test/runs/run-1/run-spec.json (5 attempts)" in log
    assert backend.shut_down


def test_a_save_request_during_an_evaluation_stops_it_without_a_checkpoint(s3, clock):
    trained = make_spec()
    train(s3, clock, trained, max_episodes=20)
    spec = make_spec(
        mode=Mode.EVALUATE, model_prefix=trained.model_prefix, run_settings={"DR_EVAL_NUMBER_OF_TRIALS": "50"}
    )
    put_spec(s3, spec)
    request = ControlRequest("save-eval", ControlAction.SAVE, "i-eval", clock.now() + 120)
    clock.at(
        clock.now() + 120,
        lambda: s3.put_object(Bucket=BUCKET, Key=RunKeys(spec.run_id).host_control, Body=request.to_json()),
    )
    recorder = StatusRecorder(s3)
    backend = SimulatedDrfc(s3=s3, clock=clock)
    assert agent_for(s3, clock, spec, backend, instance_id="i-eval").run() is HostState.SAVED
    assert recorder.states == ["booting", "started", "saved"]
    assert recorder.statuses[-1]["checkpoint"] is None
    (key,) = keys_under(s3, ModelKeys(trained.model_prefix).evaluation_metrics_folder)
    assert 0 < len(read_json(s3, key)["metrics"]) < 50
