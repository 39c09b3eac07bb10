"""The CloudWatch metrics each handler emits, read from the EMF documents powertools prints
(`@metrics.log_metrics` flushes the fleet's set at the end; `single_metric` prints its own).
The handlers run against moto with the settings a deployed stack gives them.

`EMITS` is the table: every handler that emits metrics, and the names it emits for the typical
event its test sends. Only those handlers wear `@metrics.log_metrics`; the others emit nothing."""

from __future__ import annotations

import importlib.util
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from pitwall import aws, layout
from pitwall.adapters.runs_table import RunsTable
from pitwall.host.protocol import EvaluationLegDone, HostState, HostStatus
from pitwall.runs import (
    EvaluationRequest,
    ImportState,
    ModelImport,
    Pool,
    Run,
    RunKind,
    RunRequest,
    RunState,
    Segment,
)
from pitwall.settings import Settings

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
EVENTS = FUNCTIONS.parent / "events"
RUN_ID = "run-metrics"
MODEL = "fast-one"
BUCKET = "models-bucket"
WINDOW = 600
EXECUTION = f"arn:aws:states:us-east-1:123456789012:execution:pitwall-Train:{RUN_ID}"

# handler -> the metric names it emits for its typical event (the test named beside it)
EMITS = {
    "record_heartbeat": {"Heartbeats", "Episodes", "Checkpoints"},  # new episodes and a checkpoint
    "decide_recovery": {"Replacements", "Stalls"},  # a stall replaced
    "request_checkpoint_save": {"Replacements", "Interruptions"},  # a spot warning
    "provision_instance": {"RunsStarted"},  # a run's first instance
    "notify_run": {"RunsSucceeded", "CostUSD"},  # a run that succeeded
    "evaluate_outcome": {"Evaluations", "BestLapSeconds"},  # an evaluation with a lap
    "reap_instances": {"LiveRuns", "StaleRuns", "BudgetUsedPercent", "LiveCostUSD"},
    "finish_import": {"Imports"},  # an import that ended
}


def names(found: list[dict[str, Any]]) -> set[str]:
    return {m["name"] for m in found}


def test_exactly_the_handlers_that_emit_metrics_wear_log_metrics() -> None:
    decorated = {
        app.parent.name for app in FUNCTIONS.glob("*/app.py") if "@metrics.log_metrics" in app.read_text()
    }
    assert decorated == set(EMITS)


@pytest.fixture
def stack(
    monkeypatch: pytest.MonkeyPatch, stack_settings: dict[str, str], runs_table_of: Callable[[str], None]
) -> Iterator[Settings]:
    """moto with the runs table, the versioned bucket, the topic and the bus; the handlers'
    environment pointing at them (real time: clock scale 1)."""
    with mock_aws():
        aws.reset_clients()
        runs_table_of("runs")
        s3 = aws.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        topic = aws.client("sns").create_topic(Name="pitwall")["TopicArn"]
        aws.client("events").create_event_bus(Name="bus")
        settings = Settings.model_validate(
            {
                **stack_settings,
                "PITWALL_MODEL_BUCKET": BUCKET,
                "PITWALL_TOPIC_ARN": topic,
                "PITWALL_HEARTBEAT_WINDOW_SECONDS": str(WINDOW),
            }
        )
        for name, value in settings.as_environ().items():
            monkeypatch.setenv(name, value)
        yield settings
    aws.reset_clients()


def handler(name: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    spec = importlib.util.spec_from_file_location(f"metrics_test_{name}", FUNCTIONS / name / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.lambda_handler  # type: ignore[no-any-return]


def emitted(out: str) -> list[dict[str, Any]]:
    """Every metric of the EMF documents in `out`: name, value(s), dimensions (without service)."""
    found = []
    for line in out.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        document = json.loads(line)
        directive = document["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == "Pitwall"
        dimensions = {d: document[d] for d in directive["Dimensions"][0] if d != "service"}
        for metric in directive["Metrics"]:
            found.append(
                {
                    "name": metric["Name"],
                    "value": document[metric["Name"]],
                    "dimensions": dimensions,
                    "run_id": document.get("run_id"),
                }
            )
    return found


def named(found: list[dict[str, Any]], name: str, **dimensions: str) -> list[float]:
    """The values of metric `name` with exactly `dimensions` (a flush holds a list when the
    metric was added several times)."""
    values: list[float] = []
    for m in found:
        if m["name"] == name and m["dimensions"] == dimensions:
            values += m["value"] if isinstance(m["value"], list) else [m["value"]]
    return values


def _training_run(state: RunState = RunState.RUNNING, budget_usd: float = 0.5, **segment: Any) -> Run:
    now = time.time()
    pool = Pool(instance_type="g4dn.2xlarge", availability_zone="us-east-1a", subnet_id="subnet-1")
    first = Segment(
        index=0,
        model_prefix=layout.segment_model_prefix(MODEL, 0),
        deadline_epoch=now + 3600,
        instance_id="i-0123456789abcdef0",
        pool=pool,
        price_per_hour=0.75,
        launched_at=now - 1800,
        started_at=now - 1500,
        host_state="started",
        host_sequence=3,
        last_heartbeat_at=now - 60,
        **segment,
    )
    return Run(
        run_id=RUN_ID,
        kind=RunKind.TRAIN,
        request=RunRequest(model_name=MODEL, track="reInvent2019_track", money_budget_usd=budget_usd),
        state=state,
        created_at=now - 1900,
        updated_at=now - 60,
        custom_files_prefix=layout.RunKeys(RUN_ID).custom_files_prefix,
        segments=[first],
    )


def _s3_event(key: str) -> dict[str, Any]:
    return {
        "Records": [
            {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": BUCKET}, "object": {"key": key}}}
        ]
    }


def test_a_heartbeat_counts_itself_its_new_episodes_by_model_and_a_new_checkpoint(
    stack: Settings, lambda_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a training run at 4 episodes, and DRFC's metrics and checkpoints files with more
    assert RunsTable("runs").create(_training_run(episodes=4))
    model = layout.ModelKeys(layout.segment_model_prefix(MODEL, 0))
    entries = [{"episode": n, "phase": "training", "completion_percentage": 50} for n in range(1, 11)]
    aws.client("s3").put_object(
        Bucket=BUCKET, Key=model.training_metrics(0), Body=json.dumps({"metrics": entries}).encode()
    )
    aws.client("s3").put_object(
        Bucket=BUCKET,
        Key=model.checkpoints_json,
        Body=json.dumps({"last_checkpoint": {"name": "10_Step-900.ckpt"}}).encode(),
    )
    record_heartbeat = handler("record_heartbeat")
    # When the metrics file, then the checkpoints file, are notified
    record_heartbeat(_s3_event(model.training_metrics(0)), lambda_context)
    record_heartbeat(_s3_event(model.checkpoints_json), lambda_context)
    # Then two heartbeats, six new episodes (fleet and by model) and one checkpoint are counted
    found = emitted(capsys.readouterr().out)
    assert named(found, "Heartbeats") == [1.0, 1.0]
    assert named(found, "Episodes") == [6.0]
    assert named(found, "Episodes", Model=MODEL) == [6.0]
    assert named(found, "Checkpoints") == [1.0]
    assert names(found) == EMITS["record_heartbeat"]
    assert {m["run_id"] for m in found if m["name"] == "Heartbeats"} == {RUN_ID}


def test_a_host_status_heartbeat_is_counted_once_and_a_repeat_not_at_all(
    stack: Settings, lambda_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert RunsTable("runs").create(_training_run())
    status = HostStatus(
        run_id=RUN_ID,
        segment=0,
        instance_id="i-0123456789abcdef0",
        state=HostState.STARTED,
        sequence=4,
        at_epoch=time.time(),
    )
    key = layout.RunKeys(RUN_ID).host_status
    aws.client("s3").put_object(Bucket=BUCKET, Key=key, Body=status.to_json().encode())
    record_heartbeat = handler("record_heartbeat")
    record_heartbeat(_s3_event(key), lambda_context)
    record_heartbeat(_s3_event(key), lambda_context)  # the same report again: ignored
    assert named(emitted(capsys.readouterr().out), "Heartbeats") == [1.0]


@pytest.mark.parametrize(
    ("error", "cause", "counted"),
    [
        ("States.HeartbeatTimeout", "Stalls", "stall"),
        ("HostSaved", "Interruptions", "spot-interruption"),
    ],
)
def test_a_replacement_is_counted_by_its_cause_and_as_a_stall_or_an_interruption(
    stack: Settings,
    lambda_context: Any,
    capsys: pytest.CaptureFixture[str],
    error: str,
    cause: str,
    counted: str,
) -> None:
    # Given a running segment whose host went quiet (or saved on a spot notice)
    run = _training_run(budget_usd=5.0, last_checkpoint="5_Step-400.ckpt")
    run.segments[0].last_heartbeat_at = time.time() - 2 * WINDOW
    assert RunsTable("runs").create(run)
    # When the wait fails with that error and the recovery decides
    answer = handler("decide_recovery")(
        {"run_id": RUN_ID, "error": {"Error": error, "Cause": ""}, "failed_wait": "finished"}, lambda_context
    )
    # Then one replacement is counted, by its cause too, and as a stall or an interruption
    assert answer["action"] == "replace"
    found = emitted(capsys.readouterr().out)
    assert named(found, "Replacements") == [1.0]
    assert named(found, "Replacements", Cause=counted) == [1.0]
    assert named(found, cause) == [1.0]
    other = {"Stalls", "Interruptions"} - {cause}
    assert not named(found, other.pop())
    if error == "States.HeartbeatTimeout":
        assert names(found) == EMITS["decide_recovery"]


def test_a_circuit_breaker_trip_is_counted(
    stack: Settings, lambda_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a run relaunched four times within the hour (the breaker's limit)
    run = _training_run(budget_usd=50.0)
    now = time.time()
    pool = run.segments[0].pool
    run.segments = [
        Segment(
            index=i,
            model_prefix=layout.segment_model_prefix(MODEL, i),
            deadline_epoch=now + 3600,
            instance_id=f"i-{i:017x}",
            pool=pool,
            price_per_hour=0.75,
            launched_at=now - 3000 + i * 600,
            started_at=now - 2900 + i * 600,
            host_state="started",
            last_heartbeat_at=now - 2 * WINDOW if i == 4 else None,
            ended_at=None if i == 4 else now - 2500 + i * 600,
            end_reason=None if i == 4 else "stall",
        )
        for i in range(5)
    ]
    assert RunsTable("runs").create(run)
    answer = handler("decide_recovery")(
        {"run_id": RUN_ID, "error": {"Error": "States.HeartbeatTimeout"}, "failed_wait": "finished"},
        lambda_context,
    )
    assert answer["action"] == "fail"
    found = emitted(capsys.readouterr().out)
    assert named(found, "CircuitBreakerTrips") == [1.0]
    assert not named(found, "Replacements")


def test_a_run_that_ends_is_counted_with_its_cost_fleet_wide_and_by_model(
    stack: Settings, lambda_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _training_run(state=RunState.FINISHING)
    run.segments[0].ended_at = run.segments[0].launched_at + 3600  # type: ignore[operator]
    assert RunsTable("runs").create(run)
    handler("notify_run")({"run_id": RUN_ID, "execution_id": run.execution_id or EXECUTION}, lambda_context)
    found = emitted(capsys.readouterr().out)
    assert named(found, "RunsSucceeded") == [1.0]
    assert names(found) == EMITS["notify_run"]
    assert named(found, "CostUSD") == [0.75]
    assert named(found, "CostUSD", Model=MODEL) == [0.75]
    assert not named(found, "RunsFailed")


def test_an_evaluation_is_counted_by_outcome_and_its_best_lap_by_model(
    stack: Settings, lambda_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a trained run and its evaluation run, whose host wrote two trials, one lap complete
    trained = _training_run(state=RunState.SUCCEEDED, last_checkpoint="5_Step-400.ckpt")
    assert RunsTable("runs").create(trained)
    evaluation = _training_run(state=RunState.FINISHING)
    evaluation = evaluation.model_copy(
        update={
            "run_id": "eval-1",
            "kind": RunKind.EVALUATE,
            "source_run_id": RUN_ID,
            "evaluation": EvaluationRequest(trials=2),
        }
    )
    assert RunsTable("runs").create(evaluation)
    model = layout.ModelKeys(evaluation.segments[0].model_prefix)
    trials = [
        {"episode_status": status, "elapsed_time_in_milliseconds": ms, "completion_percentage": pct}
        for status, ms, pct in (("Lap complete", 11_250, 100), ("Off track", 4_000, 40))
    ]
    metrics_key = f"{model.evaluation_metrics_folder}evaluation-20261129.json"
    aws.client("s3").put_object(Bucket=BUCKET, Key=metrics_key, Body=json.dumps({"metrics": trials}).encode())
    # and recorded that leg (its only one: the run's own track) as done
    leg = EvaluationLegDone(
        index=0,
        world_name=evaluation.request.track,
        reverse=False,
        metrics_key=metrics_key,
        finished_at_epoch=1.0,
    )
    aws.client("s3").put_object(
        Bucket=BUCKET, Key=evaluation.keys.evaluation_leg(0), Body=leg.to_json().encode()
    )
    handler("evaluate_outcome")({"run_id": "eval-1"}, lambda_context)
    found = emitted(capsys.readouterr().out)
    assert named(found, "Evaluations") == [1.0]
    assert named(found, "Evaluations", Outcome="lap") == [1.0]
    assert named(found, "BestLapSeconds", Model=MODEL) == [11.25]
    assert names(found) == EMITS["evaluate_outcome"]


def _tagged_instance() -> str:
    """A running instance tagged as segment 0 of RUN_ID, as the provision step tags it."""
    ec2 = aws.client("ec2")
    image = ec2.describe_images()["Images"][0]["ImageId"]
    tags = [{"Key": "pitwall:run-id", "Value": RUN_ID}, {"Key": "pitwall:segment", "Value": "0"}]
    return str(
        ec2.run_instances(
            ImageId=image,
            MinCount=1,
            MaxCount=1,
            TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
        )["Instances"][0]["InstanceId"]
    )


def test_a_spot_warning_counts_an_interruption_and_a_replacement_by_its_cause(
    stack: Settings, lambda_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a run training on a tagged instance, with a checkpoint and budget left
    instance = _tagged_instance()
    run = _training_run(budget_usd=5.0, last_checkpoint="5_Step-400.ckpt")
    run.segments[0].instance_id = instance
    assert RunsTable("runs").create(run)
    event = json.loads(
        (FUNCTIONS.parent / "events" / "request_checkpoint_save__spot_warning.json").read_text()
    )
    event["detail"]["instance-id"] = instance
    # When EC2 warns that the spot instance will be taken back
    answer = handler("request_checkpoint_save")(event, lambda_context)
    # Then the segment is replaced (after a save), counted as an interruption and by its cause
    assert answer["decision"] == "replace"
    found = emitted(capsys.readouterr().out)
    assert named(found, "Interruptions") == [1.0]
    assert named(found, "Replacements", Cause="spot-interruption") == [1.0]
    assert names(found) == EMITS["request_checkpoint_save"]


def test_the_reaper_reports_live_and_stale_runs_and_the_highest_share_of_a_budget(
    stack: Settings, lambda_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a run whose instance runs, with no heartbeat for two windows, having spent 0.375 of 0.5 USD
    ec2 = aws.client("ec2")
    image = ec2.describe_images()["Images"][0]["ImageId"]
    instance = ec2.run_instances(
        ImageId=image,
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": "pitwall:run-id", "Value": RUN_ID}]}
        ],
    )["Instances"][0]["InstanceId"]
    run = _training_run()
    run.segments[0].instance_id = instance
    run.segments[0].last_heartbeat_at = time.time() - 2 * WINDOW
    assert RunsTable("runs").create(run)
    handler("reap_instances")(
        json.loads((EVENTS / "reap_instances__schedule.json").read_text()), lambda_context
    )
    found = emitted(capsys.readouterr().out)
    assert named(found, "LiveRuns") == [1.0]
    assert named(found, "StaleRuns") == [1.0]
    [used] = named(found, "BudgetUsedPercent")
    assert 74.0 < used < 76.0  # 30 min at 0.75 USD/h of 0.5 USD
    [cost] = named(found, "LiveCostUSD")
    assert 0.37 < cost < 0.38
    assert names(found) == EMITS["reap_instances"]


def test_a_hand_over_counts_one_interruption_and_one_replacement_by_its_cause(
    stack: Settings, lambda_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a run training on a tagged instance, with a checkpoint and budget left
    instance = _tagged_instance()
    run = _training_run(budget_usd=5.0, last_checkpoint="5_Step-400.ckpt")
    run.segments[0].instance_id = instance
    assert RunsTable("runs").create(run)
    event = json.loads((EVENTS / "request_checkpoint_save__rebalance.json").read_text())
    event["detail"]["instance-id"] = instance
    # When EC2 recommends a rebalance: the segment hands over (its replacement boots meanwhile)
    answer = handler("request_checkpoint_save")(event, lambda_context)
    assert answer["decision"] == "handover"
    handing_over = emitted(capsys.readouterr().out)
    # and the replacement, launched as the provision step launches it, reports ready
    runs = RunsTable("runs")
    run = runs.get(RUN_ID)
    run.standby = run.segments[0].model_copy(
        update={"index": 1, "instance_id": "i-0fedcba9876543210", "last_checkpoint": None}
    )
    runs.save(run)
    answer = handler("decide_recovery")(
        {"run_id": RUN_ID, "error": {"Error": "StandbyReady", "Cause": ""}, "failed_wait": "ready"},
        lambda_context,
    )
    assert answer["action"] == "replace"
    handed_over = emitted(capsys.readouterr().out)
    # Then the rebalance counts as an interruption and a replacement by its cause, when it comes,
    assert named(handing_over, "Interruptions") == [1.0]
    assert named(handing_over, "Replacements", Cause="rebalance-recommendation") == [1.0]
    # and the hand-over's end counts neither again
    assert not named(handed_over, "Interruptions") and not named(handed_over, "Replacements")


def test_a_failed_run_is_counted_as_failed_with_its_cost(
    stack: Settings, lambda_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a running segment whose machine failed (no heartbeat, the run could not go on)
    run = _training_run()
    assert RunsTable("runs").create(run)
    event = json.loads((EVENTS / "notify_run__failed.json").read_text())
    event |= {"run_id": RUN_ID, "execution_id": run.execution_id or EXECUTION}
    # When the run's end is notified
    handler("notify_run")(event, lambda_context)
    # Then it counts as failed, with what it cost
    found = emitted(capsys.readouterr().out)
    assert named(found, "RunsFailed") == [1.0]
    assert not named(found, "RunsSucceeded")
    [cost] = named(found, "CostUSD", Model=MODEL)
    assert cost == pytest.approx(0.375, abs=0.01)  # 30 min at 0.75 USD/h


def test_an_import_is_counted_by_its_status_when_it_finishes(
    stack: Settings, lambda_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a trained run whose import into the console ended READY
    run = _training_run(state=RunState.SUCCEEDED, last_checkpoint="5_Step-400.ckpt")
    event = json.loads((EVENTS / "finish_import__ready.json").read_text())
    now = time.time()
    run.imports = [
        ModelImport(
            import_id=event["import_id"],
            checkpoint="best",
            checkpoint_name="5_Step-400.ckpt",
            droa_model_name=MODEL,
            status=ImportState.READY,
            export_prefix=f"exports/{RUN_ID}/",
            car_file_key=f"exports/{RUN_ID}/car.tar.gz",
            started_at=now - 600,
            updated_at=now,
        )
    ]
    assert RunsTable("runs").create(run)
    # When the Import machine's last step runs
    handler("finish_import")(event | {"run_id": RUN_ID}, lambda_context)
    # Then one import is counted, fleet-wide and by its status
    found = emitted(capsys.readouterr().out)
    assert named(found, "Imports") == [1.0]
    assert named(found, "Imports", Status="READY") == [1.0]
    assert names(found) == EMITS["finish_import"]


def test_a_run_is_counted_as_started_when_its_first_instance_launches(
    stack: Settings, monkeypatch: pytest.MonkeyPatch, lambda_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a prepared run with its custom files, in a stack with a subnet and group of a real VPC
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24", AvailabilityZone="us-east-1a")
    monkeypatch.setenv("PITWALL_SUBNET_IDS", subnet["Subnet"]["SubnetId"])
    group = ec2.create_security_group(GroupName="hosts", Description="hosts", VpcId=vpc)["GroupId"]
    monkeypatch.setenv("PITWALL_SECURITY_GROUP_ID", group)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    monkeypatch.setenv("PITWALL_IMAGE_ID", image)
    run = _training_run(state=RunState.PREPARED)
    run.segments = []
    assert RunsTable("runs").create(run)
    for name, body in (
        (layout.HYPERPARAMETERS_FILE, {"num_episodes_between_training": 20}),
        (
            layout.MODEL_METADATA_FILE,
            {"training_algorithm": "clipped_ppo", "action_space_type": "continuous"},
        ),
    ):
        aws.client("s3").put_object(
            Bucket=BUCKET,
            Key=layout.custom_file_key(run.custom_files_prefix, name),
            Body=json.dumps(body).encode(),
        )
    event = json.loads((EVENTS / "provision_instance__first_segment.json").read_text())
    # When its first segment is provisioned
    answer = handler("provision_instance")(event | {"run_id": RUN_ID}, lambda_context)
    # Then its instance launched, and one run is counted as started
    assert answer["instance_id"]
    found = emitted(capsys.readouterr().out)
    assert named(found, "RunsStarted") == [1.0]
    assert names(found) == EMITS["provision_instance"]
