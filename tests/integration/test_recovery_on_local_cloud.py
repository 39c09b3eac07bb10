"""Training that keeps going by itself, on the local cloud (the real template and train.asl.json):
a stall, a boot that never ends, a spot interruption, two events about one instance at once, the
circuit breaker, a budget that ends while a replacement boots, the reaper, the per-segment
least-privilege instance role, and evaluations whose host crashes, freezes or is interrupted."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pitwall import aws, layout
from pitwall.adapters.iam import POLICY_NAME, segment_role_name
from pitwall.adapters.tasks import TaskTokens
from pitwall.errors import RunNotFound
from pitwall.host.iam import instance_policy
from pitwall.host.packaging import archive_key, build_agent_archive
from pitwall.runs import Run, RunState, Segment
from pitwall_local.cloud import REPO_ROOT, LocalCloud
from pitwall_local.faults import INTERRUPTION_WARNING, put_instance_event
from pitwall_local.simulated_drfc import SimulatedFaults

TIME_SCALE = 240.0  # a simulated hour takes 15 s
LIVE = {"pending", "running", "stopping", "stopped"}


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    # breaker: at most 2 relaunches an hour; a boot timeout of 20 min (5 s wall), the default
    # heartbeat window of 40 min (10 s wall)
    with LocalCloud(time_scale=TIME_SCALE, parameters={"MaxRelaunchesPerHour": 2}) as local:
        yield local


@pytest.fixture(scope="module")
def notifications(cloud: LocalCloud) -> str:
    """An SQS queue subscribed to the racer's notification topic (what an e-mail would say)."""
    sqs = aws.client("sqs")
    queue_url = sqs.create_queue(QueueName="racer-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    topic = str(cloud.stack.outputs["NotificationTopicArn"])
    aws.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    return str(queue_url)


def _events(queue_url: str, run_id: str) -> list[str]:
    """The `event` attribute of each notification about `run_id`, in order."""
    sqs, events = aws.client("sqs"), []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            attributes = json.loads(message["Body"]).get("MessageAttributes", {})
            if attributes.get("run_id", {}).get("Value") == run_id:
                events.append(attributes["event"]["Value"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return events


@pytest.fixture(autouse=True)
def _clear_faults(cloud: LocalCloud) -> Iterator[None]:
    yield
    cloud.runner.host_faults = lambda run_id, segment: None


def _faults_for(cloud: LocalCloud, run_id: str, by_segment: dict[int, SimulatedFaults]) -> None:
    cloud.runner.host_faults = lambda rid, segment: by_segment.get(segment) if rid == run_id else None


def _run(cloud: LocalCloud, run_id: str) -> Run | None:
    try:
        return cloud.runs.get(run_id)
    except RunNotFound:
        return None


def _wait_for(what: str, found: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := found()):
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.05)
    return value


def _training_segment(cloud: LocalCloud, run_id: str) -> Segment:
    """The run's first segment once it wrote a checkpoint."""

    def checkpointed() -> Segment | None:
        run = _run(cloud, run_id)
        segment = run.current_segment if run else None
        return segment if segment is not None and segment.last_checkpoint else None

    return _wait_for("checkpoint", checkpointed)


def _live_instances(cloud: LocalCloud, run: Run) -> list[str]:
    states = cloud.instance_states()
    return [s.instance_id for s in run.segments if s.instance_id and states.get(s.instance_id) in LIVE]


def _role_exists(name: str) -> bool:
    try:
        aws.client("iam").get_role(RoleName=name)
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "NoSuchEntity"
        return False
    return True


def _assert_continues_from(run: Run, index: int) -> None:
    """Segment `index` started from the latest earlier segment that has a checkpoint, `last`."""
    segment = run.segments[index]
    trained = [s for s in run.segments[:index] if s.last_checkpoint]
    assert segment.pretrained is not None
    assert segment.pretrained.model_prefix == trained[-1].model_prefix
    assert segment.pretrained.checkpoint == "last"
    assert segment.model_prefix == layout.segment_model_prefix(run.request.model_name, index)


def test_a_stalled_host_is_replaced_and_the_new_instance_continues_from_the_last_checkpoint(
    cloud: LocalCloud, helpers, notifications: str
) -> None:
    # Given a host whose simulator freezes 10 simulated minutes into training (no more writes)
    run_id = helpers.new_run_id("stall")
    _faults_for(cloud, run_id, {0: SimulatedFaults(freeze_after_seconds=600)})
    # When the Train machine runs with a 100-minute budget
    arn = cloud.start("Train", helpers.train_input(cloud, run_id, time_budget_minutes=100), name=run_id)
    # Then (while the first segment trains) its instance carries the segment's own role
    first = _training_segment(cloud, run_id)
    _assert_segment_role(cloud, run_id, first)
    execution = cloud.wait(arn, timeout=90)
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    run = cloud.runs.get(run_id)
    # the stall ended segment 0; segment 1 continued from its last checkpoint and trained
    assert len(run.segments) == 2
    assert (run.segments[0].end_reason or "").startswith("stall")
    _assert_continues_from(run, 1)
    assert run.segments[1].last_checkpoint is not None
    assert run.outcome is not None and run.outcome.last_checkpoint == run.segments[1].last_checkpoint
    assert run.outcome.episodes >= run.segments[0].episodes + 1  # the lineage's episodes
    # no instance left, and every segment role deleted with its instance
    assert _live_instances(cloud, run) == []
    assert not any(_role_exists(segment_role_name(run_id, s.index)) for s in run.segments)
    # the racer was told of the start, of the recovery (not asked) and when it resumed, then
    # of the result
    assert sorted(_events(notifications, run_id)) == sorted(
        ["training-started", "run-interrupted", "run-resumed", "run-finished"]
    )


def _assert_segment_role(cloud: LocalCloud, run_id: str, segment: Segment) -> None:
    iam, ec2 = aws.client("iam"), aws.client("ec2")
    name = segment_role_name(run_id, segment.index)
    role = iam.get_role(RoleName=name)["Role"]
    assert role["Path"] == "/pitwall/"
    boundary = cloud.stack.refs["HostPermissionsBoundary"]
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
    policy = iam.get_role_policy(RoleName=name, PolicyName=POLICY_NAME)["PolicyDocument"]
    assert policy == instance_policy(
        bucket=cloud.bucket,
        run_id=run_id,
        model_prefix=segment.model_prefix,
        pretrained_prefix=segment.pretrained.model_prefix if segment.pretrained else None,
        agent_archive_key=archive_key(build_agent_archive()),
    )
    profile = iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    associations = ec2.describe_iam_instance_profile_associations(
        Filters=[{"Name": "instance-id", "Values": [segment.instance_id]}]
    )["IamInstanceProfileAssociations"]
    assert [a["IamInstanceProfile"]["Arn"] for a in associations] == [profile["Arn"]]


def test_a_host_that_never_starts_is_replaced_after_the_boot_timeout(cloud: LocalCloud, helpers) -> None:
    # Given a first instance whose DRFC never becomes ready
    run_id = helpers.new_run_id("noboot")
    _faults_for(cloud, run_id, {0: SimulatedFaults(never_boots=True)})
    # When the Train machine runs
    payload = helpers.train_input(cloud, run_id, time_budget_minutes=60)
    execution = cloud.wait(cloud.start("Train", payload, name=run_id), timeout=90)
    # Then the boot timeout replaced it, and the second instance trained the model from scratch
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    run = cloud.runs.get(run_id)
    assert len(run.segments) == 2
    assert (run.segments[0].end_reason or "").startswith("boot-timeout")
    assert run.segments[0].started_at is None
    assert run.segments[1].pretrained is None  # nothing to continue from
    assert run.outcome is not None and run.outcome.last_checkpoint == run.segments[1].last_checkpoint
    assert _live_instances(cloud, run) == []


def test_a_spot_warning_saves_then_continues_in_another_pool_from_the_saved_checkpoint(
    cloud: LocalCloud, helpers
) -> None:
    # Given a run whose host trains and has written a checkpoint
    run_id = helpers.new_run_id("spot")
    arn = cloud.start("Train", helpers.train_input(cloud, run_id, time_budget_minutes=60), name=run_id)
    first = _training_segment(cloud, run_id)
    # When EC2 warns that its instance will be interrupted
    put_instance_event(cloud, INTERRUPTION_WARNING, first.instance_id or "")
    execution = cloud.wait(arn, timeout=90)
    # Then the host saved, the run went on in another pool from the saved checkpoint, and the
    # racer's one model is the lineage's latest checkpoint
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    run = cloud.runs.get(run_id)
    assert len(run.segments) == 2
    saved, second = run.segments
    assert saved.host_state == "saved"
    assert (saved.end_reason or "").startswith("spot-interruption")
    assert saved.pool is not None and second.pool is not None
    assert second.pool.label != saved.pool.label
    _assert_continues_from(run, 1)
    assert run.outcome is not None and run.outcome.last_checkpoint == second.last_checkpoint
    assert layout.checkpoint_number(second.last_checkpoint or "") > layout.checkpoint_number(
        saved.last_checkpoint or ""
    )
    for segment in run.segments:  # every checkpoint the run kept is in S3
        model = layout.ModelKeys(segment.model_prefix)
        assert all(cloud.store.exists(key) for key in model.checkpoint_files(segment.last_checkpoint or ""))
    assert _live_instances(cloud, run) == []


def test_a_spot_warning_with_too_little_budget_left_finishes_with_the_checkpoint_the_host_saves(
    cloud: LocalCloud, helpers
) -> None:
    # Given a run with less budget left than a new instance's boot and 5 minutes of training
    run_id = helpers.new_run_id("lastsave")
    arn = cloud.start("Train", helpers.train_input(cloud, run_id, time_budget_minutes=45), name=run_id)
    first = _training_segment(cloud, run_id)
    launched_at = first.launched_at or 0.0
    _wait_for("the last 25 minutes", lambda: cloud.clock().now() > launched_at + 21 * 60)
    # When EC2 warns that its instance will be interrupted
    put_instance_event(cloud, INTERRUPTION_WARNING, first.instance_id or "")
    execution = cloud.wait(arn, timeout=60)
    # Then no replacement: the host saved and the run finished with that checkpoint
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    run = cloud.runs.get(run_id)
    assert len(run.segments) == 1
    segment = run.segments[0]
    assert segment.save_requested_at is not None
    assert (segment.end_reason or "").startswith("budget-exhausted")
    assert run.outcome is not None and run.outcome.last_checkpoint == segment.last_checkpoint
    if segment.host_state == "saved":  # (a host already at its deadline may have finished instead)
        saved = cloud.store.get_json(run.keys.host_status)
        assert saved is not None and saved["checkpoint"] == run.outcome.last_checkpoint
    assert _live_instances(cloud, run) == []


def test_a_spot_warning_and_a_heartbeat_timeout_for_one_instance_make_exactly_one_replacement(
    cloud: LocalCloud, helpers
) -> None:
    # Given a host that froze after its first checkpoint (its heartbeat will time out)
    run_id = helpers.new_run_id("double")
    _faults_for(cloud, run_id, {0: SimulatedFaults(freeze_after_seconds=300)})
    arn = cloud.start("Train", helpers.train_input(cloud, run_id, time_budget_minutes=100), name=run_id)
    first = _training_segment(cloud, run_id)
    launched_before = list(cloud.runner.launched)

    # When the heartbeat times out, a spot warning for the same instance arrives at that moment
    def heartbeat_timed_out() -> bool:
        return any(
            e.get("stateEnteredEventDetails", {}).get("name") == "WorkWaitFailed" for e in cloud.history(arn)
        )

    def warn_at_timeout() -> None:
        _wait_for("heartbeat timeout", heartbeat_timed_out, timeout=40)
        put_instance_event(cloud, INTERRUPTION_WARNING, first.instance_id or "")

    warner = threading.Thread(target=warn_at_timeout)
    warner.start()
    warner.join(45)
    execution = cloud.wait(arn, timeout=90)
    # Then exactly one new instance and one new segment
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    run = cloud.runs.get(run_id)
    assert len(run.segments) == 2
    new_instances = [i for i in cloud.runner.launched if i not in launched_before]
    assert [i for i in new_instances if i in {s.instance_id for s in run.segments}] == [
        run.segments[1].instance_id
    ]
    assert len([h for h in cloud.runner.hosts.values() if h.run_id == run_id]) == 2
    assert (run.segments[0].end_reason or "").split(":")[0] in {"stall", "spot-interruption"}
    assert _live_instances(cloud, run) == []


def test_the_circuit_breaker_stops_a_run_that_relaunches_too_often(cloud: LocalCloud, helpers) -> None:
    # Given instances that never boot (every 20 simulated minutes, one more relaunch)
    run_id = helpers.new_run_id("breaker")
    never_boots = SimulatedFaults(never_boots=True)
    cloud.runner.host_faults = lambda rid, segment: never_boots if rid == run_id else None
    # When the Train machine runs with a long budget
    execution = cloud.wait(
        cloud.start("Train", helpers.train_input(cloud, run_id, time_budget_minutes=300), name=run_id),
        timeout=90,
    )
    # Then after 2 relaunches within the hour the third one is refused, with a clear reason
    assert execution["status"] == "FAILED"
    run = cloud.runs.get(run_id)
    assert run.state == RunState.FAILED
    assert run.failure is not None and run.failure.startswith("circuit-breaker")
    assert "limit 2 per 60 min" in run.failure
    assert len(run.segments) == 3
    assert _live_instances(cloud, run) == []


def test_the_budget_ending_while_a_replacement_boots_finishes_the_run_with_what_it_has(
    cloud: LocalCloud, helpers
) -> None:
    # Given a first host that stalls after 10 minutes and a replacement that never boots
    run_id = helpers.new_run_id("budget")
    _faults_for(
        cloud, run_id, {0: SimulatedFaults(freeze_after_seconds=600), 1: SimulatedFaults(never_boots=True)}
    )
    # When the Train machine runs with a 92-minute budget: the stall (~10 + 40 min window) leaves
    # enough to replace (20 min boot + 5), the replacement's boot timeout (20 min) not enough
    payload = helpers.train_input(cloud, run_id, time_budget_minutes=92)
    execution = cloud.wait(cloud.start("Train", payload, name=run_id), timeout=90)
    # Then the budget ended during the replacement's boot and the run finished with segment 0's
    # checkpoint
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    run = cloud.runs.get(run_id)
    assert run.state == RunState.SUCCEEDED
    assert len(run.segments) == 2
    trained, booting = run.segments
    assert (trained.end_reason or "").startswith("stall")
    assert booting.started_at is None
    assert (booting.end_reason or "").startswith("budget-exhausted")
    assert run.outcome is not None and run.outcome.last_checkpoint == trained.last_checkpoint
    assert _live_instances(cloud, run) == []


def test_the_reaper_terminates_an_orphan_instance(cloud: LocalCloud, helpers) -> None:
    # Given a Pitwall-launched instance (a segment's instance profile) whose run does not exist,
    # and a stranger: an instance someone tagged with the same run, without that profile
    ghost = helpers.new_run_id("ghost")
    ec2 = aws.client("ec2")
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    image = ec2.describe_images(Owners=["self"])["Images"][0]["ImageId"]
    profile = aws.client("iam").create_instance_profile(InstanceProfileName=f"{ghost}-0", Path="/pitwall/")
    launch = {
        "ImageId": image,
        "InstanceType": "g4dn.2xlarge",
        "MinCount": 1,
        "MaxCount": 1,
        "SubnetId": subnet,
    }
    orphan = ec2.run_instances(**launch, IamInstanceProfile={"Arn": profile["InstanceProfile"]["Arn"]})[
        "Instances"
    ][0]["InstanceId"]
    stranger = ec2.run_instances(**launch)["Instances"][0]["InstanceId"]
    # tagged after the launch: the local cloud starts no simulated host for it, which would give up
    # on the missing run spec and power the instance off before the reaper comes
    ec2.create_tags(Resources=[orphan, stranger], Tags=[{"Key": "pitwall:run-id", "Value": ghost}])
    assert cloud.instance_states()[orphan] == "running"
    # When the scheduled reaper runs
    answer = aws.client("lambda").invoke(
        FunctionName=cloud.stack.refs["ReapInstancesFunction"],
        Payload=(REPO_ROOT / "events" / "reap_instances__schedule.json").read_bytes(),
    )
    reaped = json.loads(answer["Payload"].read())
    # Then the orphan is terminated, with the reason, and the stranger is left alone
    assert "FunctionError" not in answer, reaped
    assert cloud.instance_states()[orphan] == "terminated"
    assert cloud.instance_states()[stranger] == "running"
    [entry] = [r for r in reaped["terminated"] if r["instance_id"] == orphan]
    assert ghost in entry["reason"] and "runs table" in entry["reason"]
    ec2.terminate_instances(InstanceIds=[stranger])


def _trained_source(cloud: LocalCloud, helpers, time_budget_minutes: int = 60) -> str:
    """A short training run for an evaluation to evaluate. An evaluation has its source's time
    budget: a replacement needs this module's 20-minute boot timeout and 5 minutes of work left,
    and 60 minutes leave 35 for the first host and the machine's lag (9 s of wall time)."""
    source_id = helpers.new_run_id("evsource")
    payload = helpers.train_input(cloud, source_id, time_budget_minutes=time_budget_minutes)
    trained = cloud.wait(cloud.start("Train", payload, name=source_id), timeout=90)
    assert trained["status"] == "SUCCEEDED", trained.get("cause")
    return source_id


def _evaluation(source_id: str, trials: int) -> dict[str, Any]:
    return {"source_run_id": source_id, "evaluation": {"checkpoint": "last", "trials": trials}}


def test_an_evaluation_whose_host_crashes_is_evaluated_again_on_a_new_instance(
    cloud: LocalCloud, helpers
) -> None:
    # Given an evaluation of 5 trials whose first host's simulator dies 10 s into its first trial
    source_id = _trained_source(cloud, helpers)
    evaluation_id = helpers.new_run_id("evaluation")
    _faults_for(cloud, evaluation_id, {0: SimulatedFaults(crash_after_seconds=10)})
    # When the Evaluate machine runs
    execution = cloud.wait(cloud.start("Evaluate", _evaluation(source_id, 5), name=evaluation_id), timeout=90)
    # Then it replaced the host, and the new one evaluated the same model again
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    evaluation = cloud.runs.get(evaluation_id)
    assert evaluation.state == RunState.SUCCEEDED
    assert len(evaluation.segments) == 2
    crashed, again = evaluation.segments
    assert (crashed.end_reason or "").startswith("host-failed")
    source = cloud.runs.get(source_id)
    copy = layout.evaluation_model_prefix(source.request.model_name, evaluation_id)
    assert crashed.model_prefix == again.model_prefix == copy  # the checkpoint under test, copied
    assert again.pretrained is None
    # with all its trials, in both records, and no instance left
    [result] = [r for r in source.evaluations if r.evaluation_run_id == evaluation_id]
    assert result.trials == 5 and evaluation.evaluations == [result]
    assert _live_instances(cloud, evaluation) == []


def test_a_frozen_evaluation_host_is_replaced_after_the_heartbeat_window(
    cloud: LocalCloud, helpers, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an evaluation of 5 trials whose first host's simulator freezes 5 s into its first
    # trial (nothing more is written, yet its containers look alive), with a budget that leaves
    # room for this module's 40-minute heartbeat window and a second boot
    source_id = _trained_source(cloud, helpers, time_budget_minutes=100)
    evaluation_id = helpers.new_run_id("evaluation")
    _faults_for(cloud, evaluation_id, {0: SimulatedFaults(freeze_after_seconds=5)})
    kept_alive: list[str] = []
    send_heartbeat = TaskTokens.heartbeat

    def counted_heartbeat(self: TaskTokens, token: str) -> bool:
        sent = send_heartbeat(self, token)
        if sent:
            kept_alive.append(token)
        return sent

    monkeypatch.setattr(TaskTokens, "heartbeat", counted_heartbeat)
    # When the Evaluate machine runs
    execution = cloud.wait(cloud.start("Evaluate", _evaluation(source_id, 5), name=evaluation_id), timeout=90)
    # Then the silence past the heartbeat window ended the first segment as a stall, and a new
    # host evaluated the same model again, with all its trials
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    evaluation = cloud.runs.get(evaluation_id)
    assert len(evaluation.segments) == 2
    frozen, again = evaluation.segments
    assert (frozen.end_reason or "").startswith("stall")
    assert frozen.model_prefix == again.model_prefix
    assert [r.trials for r in evaluation.evaluations] == [5]
    # each trial's metrics kept the waiting task alive (the second host's five at least)
    assert len(kept_alive) >= 5
    assert _live_instances(cloud, evaluation) == []


def test_an_evaluation_on_an_interrupted_spot_instance_is_evaluated_again_in_another_pool(
    cloud: LocalCloud, helpers
) -> None:
    # Given an evaluation of 20 trials in each direction under way (ten simulated minutes: the
    # warning lands while the host evaluates; one after its host finished would replace nothing)
    source_id = _trained_source(cloud, helpers)
    evaluation_id = helpers.new_run_id("evaluation")
    both_ways = _evaluation(source_id, 20)
    both_ways["evaluation"]["tracks"] = [
        {"track": helpers.TRACK, "direction": direction} for direction in ("clockwise", "counterclockwise")
    ]
    arn = cloud.start("Evaluate", both_ways, name=evaluation_id)

    def started() -> Segment | None:
        run = _run(cloud, evaluation_id)
        segment = run.current_segment if run else None
        return segment if segment is not None and segment.started_at else None

    first = _wait_for("evaluation host", started)
    # When EC2 warns that its instance will be interrupted
    put_instance_event(cloud, INTERRUPTION_WARNING, first.instance_id or "")
    execution = cloud.wait(arn, timeout=90)
    # Then a new instance in another pool evaluated the same model, with all the trials of both legs
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    evaluation = cloud.runs.get(evaluation_id)
    assert len(evaluation.segments) == 2
    lost, again = evaluation.segments
    assert (lost.end_reason or "").startswith("spot-interruption")
    assert lost.save_requested_at is None  # nothing to save
    assert lost.pool is not None and again.pool is not None and again.pool.label != lost.pool.label
    assert again.model_prefix == lost.model_prefix
    assert [(r.direction, r.trials) for r in evaluation.evaluations] == [
        ("clockwise", 20),
        ("counterclockwise", 20),
    ]
    assert _live_instances(cloud, evaluation) == []
