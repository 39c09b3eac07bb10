"""Issue 4's fault suite on the local cloud.

First the injectors and the ledger on their own (each shown to act, so the matrix's checks can
fail); then the matrix: at every lifecycle state, each fault, injected into a short accelerated
run (an evaluation for the evaluating state). After each run: every checkpoint ever written is
still in S3, no instance is left running, the budget is overrun by at most a minute of cloud
time, and the finished model continues from the latest checkpoint."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from pitwall import aws, layout
from pitwall_local.faults import (
    FAULTS,
    INTERRUPTION_WARNING,
    KEEP_GOING_SLACK_SECONDS,
    LOCAL_IMAGE,
    OVERRUN_ALLOWED_SECONDS,
    REBALANCE_RECOMMENDATION,
    SPOT_NOTICE_SECONDS,
    STATES,
    CaseResult,
    FaultSuite,
    capacity_outage,
    every_pool,
    rebalance_recommendation,
    spot_interruption,
    task_functions,
    transient_lambda_errors,
)
from pitwall_local.instances import CapacityError

# -- the injectors and the ledger -------------------------------------------------------------


def test_the_ledger_reports_a_checkpoint_version_that_s3_no_longer_holds(suite: FaultSuite) -> None:
    # Given a complete checkpoint written under a model prefix
    prefix = layout.segment_model_prefix(f"ledger-{uuid.uuid4().hex[:6]}", 0)
    model = layout.ModelKeys(prefix)
    files = model.checkpoint_files("3_Step-120.ckpt")
    for key in files:
        suite.cloud.store.put_bytes(key, b"weights")
    folder = prefix.rsplit("/", 1)[0] + "/"
    assert suite.tap.checkpoints_written(folder) == {prefix: ["3_Step-120.ckpt"]}
    # When DRFC deletes one of its files (the versioned bucket keeps the version)
    s3 = aws.client("s3", suite.cloud.region)
    s3.delete_object(Bucket=suite.cloud.bucket, Key=files[0])
    assert suite.tap.versions_lost(folder) == []
    # and then that version itself is destroyed
    version = suite.tap.written[files[0]][0]
    s3.delete_object(Bucket=suite.cloud.bucket, Key=files[0], VersionId=version)
    # Then the ledger names it as lost
    assert suite.tap.versions_lost(folder) == [f"{files[0]}@{version}"]


def test_transient_lambda_errors_reach_the_caller_as_lambda_service_errors(suite: FaultSuite) -> None:
    functions = task_functions(suite.cloud)
    folders = {suite.cloud.shim.function_code[name].name for name in functions}
    assert "provision_instance" in folders and "record_heartbeat" not in folders  # S3 invokes that one
    function = functions[0]
    transient_lambda_errors(suite.cloud, [function])
    client = boto3.client(
        "lambda", region_name=suite.cloud.region, config=Config(retries={"total_max_attempts": 1})
    )
    codes = []
    for _ in range(2):
        with pytest.raises(ClientError) as raised:
            client.invoke(FunctionName=function, Payload=b"{}")
        codes.append(
            (
                raised.value.response["Error"]["Code"],
                raised.value.response["ResponseMetadata"]["HTTPStatusCode"],
            )
        )
    assert codes == [("ServiceException", 500), ("TooManyRequestsException", 429)]
    client.invoke(FunctionName=function, Payload=b"{}")  # the third reaches the handler


def test_a_capacity_outage_refuses_every_pool_then_capacity_returns(suite: FaultSuite) -> None:
    pools = every_pool(suite.cloud)
    assert len(pools) == 9  # three instance types (g4dn.2xlarge, g4dn.4xlarge, g5.2xlarge) in three AZs
    outage = capacity_outage(suite.cloud, 60)
    for instance_type, zone in pools:
        with pytest.raises(CapacityError):
            suite.launch_faults.check(instance_type, zone)
    outage.join(5)
    for instance_type, zone in pools:
        suite.launch_faults.check(instance_type, zone)


def test_spot_events_go_through_eventbridge_and_the_instance_goes_two_minutes_after_the_warning(
    suite: FaultSuite,
) -> None:
    cloud = suite.cloud
    subnet = aws.client("ec2", cloud.region).describe_subnets()["Subnets"][0]["SubnetId"]
    instance = aws.client("ec2", cloud.region).run_instances(
        ImageId=LOCAL_IMAGE, MinCount=1, MaxCount=1, InstanceType="g4dn.2xlarge", SubnetId=subnet
    )["Instances"][0]["InstanceId"]
    delivered = len(cloud.relay.delivered)
    warned_at = cloud.clock().now()
    termination = spot_interruption(cloud, instance)
    warnings = [kind for kind, _ in cloud.relay.delivered[delivered:]]
    assert warnings and set(warnings) == {INTERRUPTION_WARNING}  # to every rule that matches it
    assert cloud.instance_states()[instance] == "running"
    rebalance_recommendation(cloud, instance)
    assert cloud.relay.delivered[-1][0] == REBALANCE_RECOMMENDATION
    termination.join(5)
    assert cloud.instance_states()[instance] == "terminated"
    assert cloud.runner.terminated_at[instance] - warned_at >= SPOT_NOTICE_SECONDS


def test_duplicated_events_are_delivered_again_after_the_next_one(suite: FaultSuite) -> None:
    cloud = suite.cloud
    keys = layout.RunKeys(f"dup-{uuid.uuid4().hex[:6]}")
    heartbeat_function = cloud.stack.refs["RecordHeartbeatFunction"]

    def heartbeats() -> int:  # an execution or a schedule may call other functions meanwhile
        return sum(1 for i in list(cloud.shim.invocations) if i.function_name == heartbeat_function)

    before = heartbeats()
    suite.tap.duplicate_for(600)
    try:
        cloud.store.put_text(keys.host_status, "{}")
        cloud.store.put_text(keys.host_status, "{}")
    finally:
        suite.tap.duplicate_until = 0.0
    # the first event, the second, then the copy of the first: three heartbeat invocations
    assert heartbeats() - before == 3


# -- the matrix ---------------------------------------------------------------------------------


CASES = [pytest.param(state, fault, id=f"{state}-{fault}") for state in STATES for fault in FAULTS]


@pytest.mark.parametrize(("state", "fault"), CASES)
def test_a_run_survives_the_fault(
    suite: FaultSuite, record_case: Callable[[CaseResult], None], state: str, fault: str
) -> None:
    # Given a run that meets `fault` when it reaches `state`
    # When it runs to its end
    result = suite.run_case(state, fault)
    record_case(result)
    # Then it was hit, and it ended well with nothing lost, nothing left behind, nothing overspent
    assert result.injected, f"the run never reached {state}: {result.detail}"
    assert result.checkpoints_lost == []
    assert result.orphans == []
    assert result.execution_status == "SUCCEEDED", result.detail
    assert result.run_state == "succeeded", result.detail
    assert result.overrun_seconds is not None and result.overrun_seconds <= OVERRUN_ALLOWED_SECONDS
    assert result.lineage_problem is None
    assert result.ended_early_seconds <= KEEP_GOING_SLACK_SECONDS  # training went on after the fault
    assert result.idle_seconds <= KEEP_GOING_SLACK_SECONDS
