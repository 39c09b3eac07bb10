"""Import into DeepRacer on AWS (DRoA) on the local cloud: the real Import machine and Lambdas
against the DRoA double (moto's Cognito and S3, a loopback API, DRoA's import rules)."""

from __future__ import annotations

import io
import json
import logging
import tarfile
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from pitwall import aws, layout
from pitwall.errors import RunNotFound
from pitwall.observability import logger
from pitwall.runs import ImportState, Run
from pitwall_local import droa as droa_double
from pitwall_local.cloud import LocalCloud

_TRAINED: list[str] = []  # this module's cloud trains one run; each test imports it anew


@pytest.fixture
def trained(cloud: LocalCloud, helpers) -> str:
    if not _TRAINED:
        run_id = helpers.new_run_id("imported")
        execution = cloud.wait(cloud.start("Train", helpers.train_input(cloud, run_id), name=run_id))
        assert execution["status"] == "SUCCEEDED", execution.get("cause")
        _TRAINED.append(run_id)
    return _TRAINED[0]


@pytest.fixture
def droa(cloud: LocalCloud) -> Iterator[droa_double.DroaDouble]:
    import_seconds = cloud.droa.import_seconds
    yield cloud.droa
    cloud.droa.import_seconds = import_seconds
    cloud.droa.faults.waf_block = False
    cloud.droa.faults.server_errors = 0
    cloud.droa.set_password(droa_double.PASSWORD)


def run_import(cloud: LocalCloud, name: str, **request: Any) -> tuple[dict[str, Any], Run]:
    execution = cloud.wait(cloud.start("Import", request, name=name), timeout=120)
    return execution, cloud.runs.get(request["run_id"])


def the_import(run: Run, import_id: str):
    return next(i for i in run.imports if i.import_id == import_id)


IMPORT_FUNCTIONS = (
    "PrepareImportFunction",
    "SubmitImportFunction",
    "PollImportFunction",
    "FinishImportFunction",
)


@pytest.fixture(scope="module")
def racer_inbox(module_cloud: LocalCloud) -> str:
    """An SQS queue subscribed to the racer's notification topic (what an e-mail would say)."""
    sqs = aws.client("sqs")
    queue_url = sqs.create_queue(QueueName="import-racer-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    topic = str(module_cloud.stack.outputs["NotificationTopicArn"])
    aws.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    return str(queue_url)


def notifications_of(queue_url: str, run_id: str) -> list[dict[str, Any]]:
    """The notifications about `run_id` received so far (each: subject, body, attributes)."""
    sqs, found = aws.client("sqs"), []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            body = json.loads(message["Body"])
            attributes = {k: v["Value"] for k, v in body.get("MessageAttributes", {}).items()}
            if attributes.get("run_id") == run_id:
                found.append({"subject": body.get("Subject"), "body": body["Message"], **attributes})
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return found


def test_a_trained_model_is_imported_ready_with_its_export_and_car_file(
    cloud, droa, trained, racer_inbox, caplog
):
    notifications_of(racer_inbox, trained)  # what the training said is not this test's
    level = logger.log_level
    logger.setLevel(logging.INFO)  # what a deployed Lambda logs (an earlier demo may have lowered it)
    caplog.set_level(logging.INFO)
    # When the Import machine runs for the trained run (best checkpoint by default)
    try:
        execution, run = run_import(cloud, "import-happy", run_id=trained, description="Pitwall happy path")
    finally:
        logger.setLevel(level)
    # Then DRoA has the model READY and the run records it
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    record = the_import(run, "import-happy")
    assert record.status == ImportState.READY
    assert droa.models[record.droa_model_id or ""].status == "READY"
    assert record.checkpoint_name == run.outcome.best_checkpoint  # type: ignore[union-attr]
    # the export kept in Pitwall's bucket is what DRoA read: one checkpoint, typed YAML
    export = {k.removeprefix(record.export_prefix) for k in cloud.store.list_keys(record.export_prefix)}
    number = layout.checkpoint_number(record.checkpoint_name or "")
    assert f"model/model_{number}.pb" in export and "ip/hyperparameters.json" in export
    assert len([k for k in export if k.endswith(".ckpt.index")]) == 1
    params = yaml.safe_load(cloud.store.get_bytes(record.export_prefix + "training_params.yaml") or b"")
    assert params["WORLD_NAME"] == "reInvent2019_track" and params["TRACK_DIRECTION_CLOCKWISE"] is False
    # and the car file is beside it
    car_file = io.BytesIO(cloud.store.get_bytes(record.car_file_key) or b"")
    with tarfile.open(fileobj=car_file, mode="r:gz") as car:
        assert sorted(car.getnames()) == ["agent/model.pb", "model_metadata.json"]
    # the racer is told, with the car file's link, its true lifetime and how to get a fresh one
    (told,) = [n for n in notifications_of(racer_inbox, trained) if n["event"] == "model-imported"]
    assert f"/{record.car_file_key}?" in told["body"]
    assert f"a fresh one: pitwall car {trained} --checkpoint {number}):" in told["body"]
    assert "at most 1 hour" in told["body"]
    # the password is nowhere: run record, execution history, logs, Lambda environments, parameters
    password = droa_double.PASSWORD
    history = json.dumps(cloud.history(execution["executionArn"]), default=str)
    assert password not in history and password not in run.model_dump_json()
    logged = [json.dumps(vars(r), default=str) for r in caplog.records]  # message and every extra field
    assert any("submitted to DRoA" in r and "import-happy" in r for r in logged)  # the Lambdas' logs
    assert not any(password in r for r in logged)
    lambdas = aws.client("lambda")
    for function in IMPORT_FUNCTIONS:
        configuration = lambdas.get_function_configuration(FunctionName=cloud.stack.refs[function])
        assert password not in json.dumps(configuration.get("Environment", {}))
    assert password not in json.dumps(cloud.stack.parameters, default=str)


CONTINUOUS_SAC = {
    "action_space_type": "continuous",
    "action_space": {"steering_angle": {"low": -30, "high": 30}, "speed": {"low": 1.0, "high": 3.0}},
    "training_algorithm": "sac",
    "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
    "sensor": ["FRONT_FACING_CAMERA"],
    "version": "5",
}


def _metadata(**changes: Any) -> bytes:
    return json.dumps({**CONTINUOUS_SAC, **changes}).encode()


def _object_avoidance(count: int, *positions: str) -> bytes:
    """The segment's training_params.yaml of an object-avoidance race (DRFC's quoted strings);
    Pitwall's package passes the obstacles on as they are: DRoA's rules judge them."""
    lines = [
        'WORLD_NAME: "reInvent2019_track"',
        'RACE_TYPE: "OBJECT_AVOIDANCE"',
        f'NUMBER_OF_OBSTACLES: "{count}"',
        'RANDOMIZE_OBSTACLE_LOCATIONS: "False"',
        "OBJECT_POSITIONS:",
        *(f'  - "{position}"' for position in positions),
    ]
    return ("\n".join(lines) + "\n").encode()


# What a model in S3 may hold that DRoA's import refuses: (file of the segment, content, message).
# The API refuses all but the last when it is called (400); the workflow the reward function (ERROR).
# The workflow's checkpoint rules (model/ holding exactly one complete checkpoint, .coach_checkpoint
# and deepracer_checkpoints.json naming it) cannot be broken through a run: Pitwall's package
# always writes them so (tests/unit/droa/test_package.py); the double's side of them is tested in
# tests/unit/droa/test_droa_double_rules.py.
REJECTIONS = {
    "sac_with_discrete_actions": (
        "model/model_metadata.json",
        _metadata(action_space_type="discrete", action_space=[{"steering_angle": 0, "speed": 1}]),
        "SAC requires a continuous action space",
    ),
    "sac_training_between_episodes": (
        "model/model_metadata.json",
        _metadata(),
        "num_episodes_between_training",
    ),
    "continuous_range": (
        "model/model_metadata.json",
        _metadata(
            training_algorithm="clipped_ppo",
            action_space={"steering_angle": {"low": -45, "high": 30}, "speed": {"low": 1, "high": 3}},
        ),
        "steering_angle range",
    ),
    "speed_range": (
        "model/model_metadata.json",
        _metadata(
            training_algorithm="clipped_ppo",
            action_space={"steering_angle": {"low": -30, "high": 30}, "speed": {"low": 0.1, "high": 3}},
        ),
        "speed range 0.1..3.0 is outside 0.5..4",
    ),
    "too_many_obstacles": (
        "training_params.yaml",
        _object_avoidance(7, *(f"{0.1 * n:.1f},{n % 2}" for n in range(1, 8))),
        "Number of obstacle positions is invalid.",
    ),
    "obstacle_positions_not_one_each": (
        "training_params.yaml",
        _object_avoidance(3, "0.2,0", "0.5,1"),
        "Obstacle positions must be equal to number of objects.",
    ),
    "first_obstacle_too_early": (
        "training_params.yaml",
        _object_avoidance(2, "0.05,0", "0.5,1"),
        "First obstacle position is invalid.",
    ),
    "last_obstacle_too_late": (
        "training_params.yaml",
        _object_avoidance(2, "0.2,0", "0.95,1"),
        "Last obstacle position is invalid.",
    ),
    "obstacles_too_close": (
        "training_params.yaml",
        _object_avoidance(2, "0.2,0", "0.3,1"),
        "Obstacle position distances are invalid.",
    ),
    "reward_function_without_the_function": (
        "reward_function.py",
        b"def reward(params):\n    return 1.0\n",
        "Reward",
    ),
}


@pytest.mark.parametrize("rule", sorted(REJECTIONS))
def test_each_droa_rejection_is_a_clear_failure_on_the_run(cloud, droa, trained, rule):
    # Given the trained model's segment holds something DRoA refuses
    run = cloud.runs.get(trained)
    prefix = run.trained_segment.model_prefix  # type: ignore[union-attr]
    relative, content, message = REJECTIONS[rule]
    key = f"{prefix}/{relative}"
    original = cloud.store.get_bytes(key)
    cloud.store.put_bytes(key, content)
    try:
        # When it is imported
        execution, run = run_import(cloud, f"import-{rule.replace('_', '-')}", run_id=trained)
    finally:
        cloud.store.put_bytes(key, original or b"")
    # Then the import failed with DRoA's own message, recorded on the run; the run is untouched
    assert execution["status"] == "FAILED"
    assert execution["error"] == "DroaImportRejected"
    record = the_import(run, f"import-{rule.replace('_', '-')}")
    assert record.status == ImportState.ERROR
    assert message in (record.import_error_message or "")
    assert message in (record.failure or "")
    assert run.state.value == "succeeded" and run.failure is None


# A track DRoA does not have in the direction the model was trained: (training_params.yaml, message)
TRACKS_DROA_LACKS = {
    "a-track-droa-lacks": (b'WORLD_NAME: "reInvent2019_trak"\n', "DRoA has no track 'reInvent2019_trak'"),
    # Albert runs clockwise only in DRoA: reversed, DRoA would take it for a clockwise model
    "a-direction-droa-lacks": (
        b'WORLD_NAME: "Albert"\nREVERSE_DIR: "True"\n',
        "DRoA has Albert only CLOCKWISE",
    ),
}


@pytest.mark.parametrize("case", sorted(TRACKS_DROA_LACKS))
def test_a_track_droa_lacks_in_that_direction_fails_before_any_call(cloud, droa, trained, case):
    # Given the trained segment's training_params.yaml names a track DRoA lacks that way
    run = cloud.runs.get(trained)
    key = layout.ModelKeys(run.trained_segment.model_prefix).training_params  # type: ignore[union-attr]
    content, message = TRACKS_DROA_LACKS[case]
    original, calls = cloud.store.get_bytes(key), len(droa.requests)
    cloud.store.put_bytes(key, content)
    try:
        execution, run = run_import(cloud, f"import-{case}", run_id=trained)
    finally:
        cloud.store.put_bytes(key, original or b"")
    # Then the import fails naming the track (and what DRoA has), before any call to DRoA
    assert execution["status"] == "FAILED" and execution["error"] == "DroaTrackUnknown"
    assert message in execution["cause"]
    assert len(droa.requests) == calls
    record = the_import(run, f"import-{case}")
    assert record.status == ImportState.FAILED and message in (record.failure or "")
    assert record.export_prefix is None and record.car_file_key is None  # nothing was packaged
    if case == "a-track-droa-lacks":
        assert "close names: reInvent2019_track" in execution["cause"]


def test_a_name_droa_would_refuse_is_refused_before_any_call(cloud, droa, trained):
    calls = len(droa.requests)
    execution, _ = run_import(cloud, "import-bad-name", run_id=trained, model_name="not_allowed")
    assert execution["status"] == "FAILED" and execution["error"] == "InvalidImportRequest"
    assert "model name 'not_allowed'" in execution["cause"]
    assert len(droa.requests) == calls  # DRoA was not called


def test_the_wrong_password_fails_the_import_as_a_sign_in_failure(cloud, droa, trained):
    droa.set_password("Someone-elses-1!")
    execution, run = run_import(cloud, "import-wrong-password", run_id=trained)
    assert execution["status"] == "FAILED" and execution["error"] == "DroaSignInFailed"
    record = the_import(run, "import-wrong-password")
    assert record.status == ImportState.FAILED and record.droa_model_id is None
    assert "check the user name and the password secret" in (record.failure or "")


def test_a_waf_block_fails_the_import_with_the_reason(cloud, droa, trained):
    droa.faults.waf_block = True
    execution, run = run_import(cloud, "import-waf", run_id=trained)
    assert execution["status"] == "FAILED" and execution["error"] == "DroaBlocked"
    assert "WAF" in (the_import(run, "import-waf").failure or "")


def test_server_errors_are_retried_and_the_import_then_succeeds(cloud, droa, trained):
    droa.faults.server_errors = 2
    execution, run = run_import(cloud, "import-after-5xx", run_id=trained)
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    assert the_import(run, "import-after-5xx").status == ImportState.READY
    assert sum(1 for method, _, status in droa.requests if status == 503) >= 2


def test_an_import_droa_never_finishes_fails_at_the_time_limit(cloud, droa, trained):
    # Given DRoA keeps the model IMPORTING (the stack's limit: 30 minutes of the local clock)
    droa.import_seconds = 10 * 3600
    execution, run = run_import(cloud, "import-stuck", run_id=trained)
    # Then the Wait/poll loop gives up at the limit, and says so on the run
    assert execution["status"] == "FAILED" and execution["error"] == "DroaImportTimedOut"
    record = the_import(run, "import-stuck")
    assert record.status == ImportState.FAILED and "after 30 minutes" in (record.failure or "")
    polls = [e for e in cloud.history(execution["executionArn"]) if e["type"] == "WaitStateEntered"]
    assert len(polls) > 1


def test_a_checkpoint_the_simulator_no_longer_keeps_names_the_ones_that_exist(cloud, droa, trained, capsys):
    # Given a checkpoint number the trained segment wrote once but no longer holds (only the
    # newest 4 and the best are kept): one below the newest that is not in S3 now
    run = cloud.runs.get(trained)
    model = layout.ModelKeys(run.trained_segment.model_prefix)  # type: ignore[union-attr]
    kept = {
        layout.checkpoint_number(key.rsplit("/", 1)[1])
        for key in cloud.store.list_keys(model.model_folder)
        if key.endswith(".ckpt.index")
    }
    gone = min(set(range(max(kept))) - kept, default=max(kept) + 1)
    calls = len(droa.requests)
    # When it is asked for
    execution, run = run_import(cloud, "import-gone", run_id=trained, checkpoint=str(gone))
    # Then the import fails naming the checkpoints that exist, before any call to DRoA
    assert execution["status"] == "FAILED" and execution["error"] == "CheckpointMissing"
    assert all(f"{n}_Step-" in execution["cause"] for n in kept)
    assert len(droa.requests) == calls
    # and the run records the failed import, with the reason: `pitwall status` shows it
    record = the_import(run, "import-gone")
    assert record.status == ImportState.FAILED and record.export_prefix is None
    assert (record.failure or "").startswith("CheckpointMissing: checkpoint")
    from pitwall_cli import main

    assert main(["status", trained, *_where(cloud)]) == 0
    assert "import import-gone: FAILED" in capsys.readouterr().out


def test_a_finish_import_no_import_execution_started_records_and_notifies_nothing(
    cloud, trained, racer_inbox
):
    # Given a FinishImport invoked by hand, naming an import no Import execution started
    notifications_of(racer_inbox, trained)
    before = cloud.runs.get(trained)
    forged = cloud.machine_arn("Import").replace(":stateMachine:", ":execution:") + ":forged-import"
    event = {
        "run_id": trained,
        "import_id": "forged-import",
        "execution_id": forged,
        "error": {"Error": "DroaBlocked", "Cause": "forged"},
    }
    # When it runs
    answer = aws.client("lambda").invoke(
        FunctionName=cloud.stack.refs["FinishImportFunction"], Payload=json.dumps(event).encode()
    )
    # Then it fails, and neither the run record nor the racer heard of it
    assert answer.get("FunctionError") and "InvalidEvent" in answer["Payload"].read().decode()
    after = cloud.runs.get(trained)
    assert after.version == before.version and after.imports == before.imports
    assert notifications_of(racer_inbox, trained) == []


def _train_evaluate(cloud: LocalCloud, helpers, run_id: str, minutes: int, minimum: float) -> int:
    """Train with an evaluation after it and an import after the evaluation; the Import executions
    there were before."""
    imports = len(cloud.executions("Import"))
    evaluations = len(cloud.executions("Evaluate"))
    request = {
        "time_budget_minutes": minutes,
        "evaluate_after": {"checkpoint": "last", "trials": 2},
        # the evaluation's checkpoint is imported, not the first one this names
        "import_after": {"after": "evaluation", "min_completion_percent": minimum, "checkpoint": "0"},
    }
    train = cloud.wait(cloud.start("Train", helpers.train_input(cloud, run_id, **request), name=run_id))
    assert train["status"] == "SUCCEEDED", train.get("cause")
    evaluate = cloud.wait(cloud.wait_for_execution_of("Evaluate", evaluations + 1)[-1]["executionArn"])
    assert evaluate["status"] == "SUCCEEDED", evaluate.get("cause")
    return imports


def test_an_evaluation_that_reaches_the_condition_starts_the_import(cloud, droa, helpers):
    run_id = helpers.new_run_id("evaluated")
    imports = _train_evaluate(cloud, helpers, run_id, minutes=30, minimum=0.0)
    # the "Model evaluated" event asked for the import: it ran to READY
    execution = cloud.wait(
        cloud.wait_for_execution_of("Import", imports + 1)[-1]["executionArn"], timeout=120
    )
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    run = cloud.runs.get(run_id)
    assert [i.status for i in run.imports] == [ImportState.READY]
    # of the checkpoint that evaluation ran (the last), not the request's first one
    evaluation = cloud.runs.get(run.evaluations[-1].evaluation_run_id)
    assert run.imports[0].checkpoint_name == evaluation.evaluated_checkpoint
    assert layout.checkpoint_number(evaluation.evaluated_checkpoint or "") > 0


def test_an_evaluation_below_the_condition_imports_nothing(cloud, droa, helpers):
    run_id = helpers.new_run_id("too-slow")
    imports = _train_evaluate(cloud, helpers, run_id, minutes=30, minimum=99.5)
    run = cloud.runs.get(run_id)
    assert run.evaluations and run.evaluations[-1].mean_completion_percent < 99.5
    # the Evaluate execution has ended, and with it the event that would have started the import
    assert len(cloud.executions("Import")) == imports
    assert run.imports == []


def _where(cloud: LocalCloud) -> list[str]:
    return ["--table", str(cloud.stack.outputs["RunsTableName"]), "--bucket", cloud.bucket]


def test_import_to_a_folder_writes_a_package_droas_rules_accept(cloud, droa, trained, tmp_path):
    from pitwall_cli import main

    folder = tmp_path / "export"
    assert main(["import", trained, "--to-folder", str(folder), "--checkpoint", "last", *_where(cloud)]) == 0
    files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert droa.check_import(files) is None
    last = cloud.runs.get(trained).outcome.last_checkpoint  # type: ignore[union-attr]
    assert files["model/.coach_checkpoint"].decode() == last


def test_car_writes_the_car_file(cloud, droa, trained, tmp_path):
    from pitwall_cli import main

    target = tmp_path / "car.tar.gz"
    assert main(["car", trained, "-o", str(target), *_where(cloud)]) == 0
    with tarfile.open(target, mode="r:gz") as car:
        assert sorted(car.getnames()) == ["agent/model.pb", "model_metadata.json"]


def _run_or_none(cloud: LocalCloud, run_id: str) -> Run | None:
    try:
        return cloud.runs.get(run_id)
    except RunNotFound:  # the Train machine has not recorded it yet
        return None


def test_a_training_under_way_has_no_folder_export_or_car_file_yet(cloud, helpers, tmp_path, capsys):
    from pitwall_cli import main

    # Given a training that has written a checkpoint and goes on
    run_id = helpers.new_run_id("under-way")
    arn = cloud.start("Train", helpers.train_input(cloud, run_id, time_budget_minutes=120), name=run_id)
    deadline = time.monotonic() + 120
    while not ((run := _run_or_none(cloud, run_id)) and run.trained_segment and not run.is_terminal):
        assert time.monotonic() < deadline, "no checkpoint while training"
        time.sleep(0.2)
    # Then `pitwall import --to-folder` and `pitwall car` refuse it, saying why, and write nothing
    folder, target = tmp_path / "export", tmp_path / "car.tar.gz"
    assert main(["import", run_id, "--to-folder", str(folder), *_where(cloud)]) == 1
    assert main(["car", run_id, "-o", str(target), *_where(cloud)]) == 1
    refused = capsys.readouterr().err.splitlines()
    assert len(refused) == 2 and all("it has not ended" in line for line in refused), refused
    assert not folder.exists() and not target.exists()
    assert cloud.wait(arn)["status"] == "SUCCEEDED"


def test_the_import_command_starts_the_machine_and_status_shows_the_import(cloud, droa, trained, capsys):
    from pitwall_cli import main

    machine = ["--state-machine", cloud.machine_arn("Import")]
    started = main(
        ["import", trained, "--name", "from-the-cli", "--checkpoint", "last", *machine, *_where(cloud)]
    )
    assert started == 0
    arn = capsys.readouterr().out.split("import started: ")[1].split()[0]
    assert cloud.wait(arn, timeout=120)["status"] == "SUCCEEDED"
    assert main(["status", trained, *_where(cloud)]) == 0
    shown = capsys.readouterr().out
    assert "READY in DRoA as from-the-cli" in shown
    assert "car file: http" in shown and "carfile.tar.gz" in shown


def test_the_import_command_finds_the_machine_and_droas_settings_on_the_stack(cloud, droa, trained, capsys):
    from pitwall_cli import main

    # the stack was deployed with DroaSiteUrl and DroaUserName: the command starts the import
    stack = ["--stack", cloud.stack_name, "--region", cloud.region]
    assert main(["import", trained, "--name", "from-the-stack", *stack]) == 0
    arn = capsys.readouterr().out.split("import started: ")[1].split()[0]
    assert cloud.wait(arn, timeout=120)["status"] == "SUCCEEDED"


def test_the_import_command_refuses_a_bad_name_before_starting_anything(cloud, trained, capsys):
    from pitwall_cli import main

    imports = len(cloud.executions("Import"))
    machine = ["--state-machine", cloud.machine_arn("Import")]
    assert main(["import", trained, "--name", "bad_name", *machine, *_where(cloud)]) == 1
    assert "model name 'bad_name'" in capsys.readouterr().err
    assert len(cloud.executions("Import")) == imports


def test_demo_out_writes_every_bucket_with_keys_as_paths(cloud, droa, trained, tmp_path):
    from pitwall_cli.demo import _write_buckets

    execution, run = run_import(cloud, "import-for-out", run_id=trained)
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    record = the_import(run, "import-for-out")
    assert _write_buckets(tmp_path) > 0
    assert (tmp_path / cloud.bucket / record.car_file_key).is_file()
    uploads = list((tmp_path / droa.upload_bucket / "uploads" / "models").glob("*/training_params.yaml"))
    assert uploads  # DRoA's upload bucket too
