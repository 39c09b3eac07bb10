"""`LocalCloud`: template.yaml deployed into moto, with in-process Lambdas, relayed events and
simulated hosts, on an accelerated clock. A context manager:

    with LocalCloud(time_scale=240) as cloud:
        arn = cloud.start("Train", train_input)
        cloud.wait(arn)
"""

from __future__ import annotations

import gc
import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from moto import mock_aws

from pitwall import aws, layout
from pitwall.adapters.runs_table import RunsTable
from pitwall.adapters.store import ObjectStore
from pitwall.clock import Clock
from pitwall.settings import anchored_clock
from pitwall_local import droa as droa_double
from pitwall_local.async_invoke import AsyncInvoker, asynchronous_invocations
from pitwall_local.deployer import DeployedStack, Deployer
from pitwall_local.droa import DroaDouble
from pitwall_local.instances import (
    HostFaults,
    InstanceRunner,
    LaunchFaults,
    SpotMarket,
    hooked_instances,
    spot_prices_from,
)
from pitwall_local.moto_lambda_shim import LambdaShim, lambdas_in_process
from pitwall_local.moto_speed import action_names_cached
from pitwall_local.relay import Relay, relayed_events
from pitwall_local.s3_events import versioned_notifications
from pitwall_local.scheduler import LocalScheduler
from pitwall_local.simulated_drfc import SimulatedPace
from pitwall_local.task_tokens import task_tokens_as_in_aws
from pitwall_local.template import translated_template

REPO_ROOT = Path(__file__).resolve().parents[2]
MACHINES = ("Train", "Evaluate", "Increment", "Import")
TERMINAL_EXECUTION = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class LocalCloud:
    def __init__(
        self,
        *,
        time_scale: float = 240.0,
        region: str = "us-east-1",
        stack_name: str = "pitwall",
        parameters: dict[str, Any] | None = None,
        launch_faults: LaunchFaults | None = None,
        host_faults: HostFaults | None = None,
        pace: SimulatedPace | None = None,
        root: Path = REPO_ROOT,
    ) -> None:
        self.time_scale = time_scale
        self.region = region
        self.stack_name = stack_name
        self.extra_parameters = parameters or {}
        self.launch_faults = launch_faults or LaunchFaults()
        self.spot_market = SpotMarket(region)
        self.host_faults = host_faults
        self.pace = pace
        self.root = root
        self.anchor = time.time()
        self._exit = ExitStack()
        self.droa: DroaDouble
        self.stack: DeployedStack
        self.shim: LambdaShim
        self.relay: Relay
        self.runner: InstanceRunner
        self.scheduler: LocalScheduler

    # -- lifecycle --------------------------------------------------------------------------

    def __enter__(self) -> LocalCloud:
        try:
            return self._start()
        except BaseException:  # undo what was patched so far: moto's hooks, the environment
            self._exit.close()
            raise

    def _start(self) -> LocalCloud:
        template = translated_template(self.root)  # before moto starts: it runs a subprocess
        # the Lambdas' CloudWatch metrics (EMF) go to their logs in AWS; in-process they would print
        # into the output of whatever runs the local cloud (the demo, a command's JSON)
        self._exit.enter_context(
            _environment(
                {
                    "AWS_DEFAULT_REGION": self.region,
                    "AWS_REGION": self.region,
                    "POWERTOOLS_METRICS_DISABLED": "true",
                }
            )
        )
        self._exit.enter_context(mock_aws(config={"stepfunctions": {"execute_state_machine": True}}))
        aws.reset_clients()
        self._exit.callback(aws.reset_clients)
        self.invoker = AsyncInvoker(self.region, self.time_scale, lambda: self.clock().now())
        self._exit.enter_context(asynchronous_invocations(self.invoker))
        self._exit.callback(self.invoker.close)
        self.relay = self._exit.enter_context(relayed_events(Relay(self.region, self.invoker)))
        self._exit.enter_context(versioned_notifications())
        self._exit.enter_context(task_tokens_as_in_aws())
        self._exit.enter_context(action_names_cached())
        self.shim = LambdaShim({})
        self._exit.enter_context(lambdas_in_process(self.shim))
        # DeepRacer on AWS: the double's site is the stack's DroaSiteUrl; its password goes into
        # the stack's secret after the deploy, as a racer puts it there
        self.droa = DroaDouble(region=self.region, clock=lambda: self.clock().now()).start()
        self._exit.callback(self.droa.stop)
        self.stack = Deployer(
            template, stack_name=self.stack_name, region=self.region, root=self.root
        ).deploy(self._parameters())
        aws.client("secretsmanager", self.region).put_secret_value(
            SecretId=self.stack.outputs["DroaPasswordSecretArn"], SecretString=droa_double.PASSWORD
        )
        self.shim.function_code.update(self.stack.function_code)
        self.runner = InstanceRunner(
            region=self.region,
            bucket=self.bucket,
            clock_factory=self.clock,
            host_faults=self.host_faults,
            pace=self.pace,
        )
        self._exit.enter_context(hooked_instances(self.runner, self.launch_faults))
        self._exit.enter_context(spot_prices_from(self.spot_market))
        self._exit.callback(self.runner.stop_all)
        # EventBridge Scheduler: moto stores the schedules, this fires them
        self.scheduler = LocalScheduler(
            self.region, str(self.stack.outputs["EvaluationScheduleGroupName"]), self.clock(), self.relay
        )
        self.scheduler.start()
        self._exit.callback(self.scheduler.stop)
        self._exit.callback(gc.unfreeze)
        self._exit.callback(self.stop_executions)  # first on close, while the mocks are still on
        self.freeze_heap()
        return self

    def stop_executions(self) -> None:
        """Stop the executions still running and let the handlers under way end. moto runs each
        execution in a thread of its own: left running, it would go on calling its Lambdas after
        the mocks are off (with no credentials, against nothing), or in the next local cloud."""
        stepfunctions = aws.client("stepfunctions", self.region)
        for machine in MACHINES:
            running = stepfunctions.list_executions(
                stateMachineArn=self.machine_arn(machine), statusFilter="RUNNING"
            )
            for execution in running["executions"]:
                for _ in range(100):
                    try:
                        stepfunctions.stop_execution(
                            executionArn=execution["executionArn"], cause="the local cloud closed"
                        )
                        break
                    except AttributeError:  # moto: its thread has not set the execution up yet
                        time.sleep(0.01)
                # it ends when its thread sees the stop (a wait under way ends first)
                self.wait(execution["executionArn"], timeout=60.0)
        self.shim.wait_until_idle(timeout=30.0)

    def freeze_heap(self) -> None:
        """Move every object alive now out of reach of Python's full collections (`gc.freeze`).

        They walk every live object: in one process holding moto's state and what a long test
        session made, one took up to 2 s, minutes of the accelerated cloud's time in which every
        heartbeat, boot and retry lags at once. Called when the cloud starts, and by the fault
        suite after each case; the cloud unfreezes them when it closes."""
        gc.collect()
        gc.freeze()

    def __exit__(self, *exc: object) -> None:
        self._exit.close()

    def _parameters(self) -> dict[str, Any]:
        ec2 = aws.client("ec2", self.region)
        vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
        subnets = sorted(
            ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"],
            key=lambda s: s["AvailabilityZone"],
        )[:3]
        image = ec2.register_image(Name="pitwall-local-gpu-host", RootDeviceName="/dev/xvda")["ImageId"]
        return {
            "VpcId": vpc,
            "SubnetIds": [s["SubnetId"] for s in subnets],
            "HostImageId": image,
            # a 4xlarge too: 16 vCPUs give up to 8 DRFC workers (2 vCPUs each)
            "InstanceTypes": "g4dn.2xlarge,g5.2xlarge,g4dn.4xlarge",
            "DefaultTimeBudgetMinutes": 30,
            "BootTimeoutSeconds": 1200,
            "HeartbeatWindowSeconds": 2400,
            "HostPollSeconds": 10,  # half the S3 reads of 5; a save request waits <= 10 s of a 120 s notice
            "TimeScale": self.time_scale,
            "TimeAnchorEpoch": self.anchor,
            "DroaSiteUrl": self.droa.site_url,
            "DroaUserName": droa_double.USER_NAME,
            **self.extra_parameters,
        }

    def clock(self) -> Clock:
        """The controller's and the hosts' shared, accelerated clock."""
        return anchored_clock(self.time_scale, self.anchor)

    # -- the deployed resources -------------------------------------------------------------

    @property
    def bucket(self) -> str:
        return str(self.stack.outputs["ModelBucketName"])

    @property
    def store(self) -> ObjectStore:
        return ObjectStore(self.bucket)

    @property
    def runs(self) -> RunsTable:
        return RunsTable(str(self.stack.outputs["RunsTableName"]))

    def machine_arn(self, machine: str) -> str:
        return str(self.stack.outputs[f"{machine}StateMachineArn"])

    # -- driving it -------------------------------------------------------------------------

    def start(self, machine: str, payload: dict[str, Any], name: str | None = None) -> str:
        answer = aws.client("stepfunctions", self.region).start_execution(
            stateMachineArn=self.machine_arn(machine),
            name=name or str(uuid.uuid4()),
            input=json.dumps(payload),
        )
        return str(answer["executionArn"])

    def describe(self, execution_arn: str) -> dict[str, Any]:
        return dict(aws.client("stepfunctions", self.region).describe_execution(executionArn=execution_arn))

    def wait(self, execution_arn: str, timeout: float = 60.0, poll: float = 0.2) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            answer = self.describe(execution_arn)
            if answer["status"] in TERMINAL_EXECUTION:
                return answer
            if time.monotonic() > deadline:
                raise TimeoutError(f"{execution_arn} still {answer['status']} after {timeout} s")
            time.sleep(poll)

    def executions(self, machine: str) -> list[dict[str, Any]]:
        answer = aws.client("stepfunctions", self.region).list_executions(
            stateMachineArn=self.machine_arn(machine)
        )
        return sorted(answer["executions"], key=lambda e: e["startDate"])

    def wait_for_execution_of(
        self, machine: str, count: int = 1, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """Executions started by events (not by this object): wait until `count` exist."""
        deadline = time.monotonic() + timeout
        while len(found := self.executions(machine)) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{machine}: {len(found)} execution(s), expected {count}")
            time.sleep(0.05)
        return found

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        client = aws.client("stepfunctions", self.region)
        return list(client.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"])

    def upload_custom_files(self, folder: str, files: dict[str, bytes]) -> None:
        for name, body in files.items():
            self.store.put_bytes(f"{folder.rstrip('/')}/{name}", body)

    def upload_inbox_request(self, name: str, files: dict[str, bytes], request: dict[str, Any]) -> str:
        folder = f"{layout.INBOX_PREFIX}{name}/"
        self.upload_custom_files(folder, files)
        self.store.put_json(folder + layout.RUN_REQUEST_FILE, request)  # the trigger: uploaded last
        return folder

    def instance_states(self) -> dict[str, str]:
        answer = aws.client("ec2", self.region).describe_instances()
        return {
            instance["InstanceId"]: instance["State"]["Name"]
            for reservation in answer["Reservations"]
            for instance in reservation["Instances"]
        }
