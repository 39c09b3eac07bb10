"""EC2: where the subnets are, live spot prices, launching (through EC2 Fleet over several pools,
or into one pool), terminating."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from pitwall import aws, pools
from pitwall.runs import Pool

RUN_TAG = "pitwall:run-id"
SEGMENT_TAG = "pitwall:segment"
# what every launch (fleet or pool by pool) asks of the instance metadata service: IMDSv2 only;
# two hops, so DRFC's containers (one hop further) reach the credentials
METADATA_OPTIONS = {"HttpTokens": "required", "HttpEndpoint": "enabled", "HttpPutResponseHopLimit": 2}


class PoolUnavailable(Exception):
    """EC2 said this pool has no capacity (or price) for us now; the next pool may."""

    def __init__(self, pool: Pool, code: str, message: str) -> None:
        super().__init__(f"{pool.label}: {code}: {message}")
        self.pool = pool
        self.code = code


class FleetUnavailable(Exception):
    """CreateFleet launched nothing. `tried`: EC2 tried the pools and each refused (capacity or
    price); otherwise the call itself was refused and the pools were not tried."""

    def __init__(self, pools: Sequence[Pool], errors: Sequence[str], *, tried: bool) -> None:
        super().__init__(f"EC2 Fleet over {len(pools)} pools launched nothing: " + "; ".join(errors))
        self.pools = list(pools)
        self.errors = list(errors)
        self.tried = tried


@dataclass(frozen=True)
class LaunchSpec:
    image_id: str
    security_group_id: str
    instance_profile_arn: str
    user_data: str
    run_id: str
    segment: int


# A new instance profile takes seconds before RunInstances accepts it (IAM is eventually
# consistent): EC2 answers InvalidParameterValue naming the profile. Wait and try again.
PROFILE_RETRY_SECONDS = (1.0, 2.0, 4.0, 8.0)


def is_profile_not_ready(exc: ClientError) -> bool:
    error = exc.response["Error"]
    return _profile_not_ready(error["Code"], error.get("Message", ""))


def _profile_not_ready(code: str, message: str) -> bool:
    return code == "InvalidParameterValue" and "instanceprofile" in message.lower().replace(" ", "")


@dataclass(frozen=True)
class Ec2:
    region: str
    sleep: Callable[[float], None] = time.sleep

    @property
    def _ec2(self) -> Any:
        return aws.client("ec2", self.region)

    def subnet_zones(self, subnet_ids: Sequence[str]) -> dict[str, str]:
        answer = self._ec2.describe_subnets(SubnetIds=list(subnet_ids))
        zones = {subnet["SubnetId"]: subnet["AvailabilityZone"] for subnet in answer["Subnets"]}
        return {subnet: zones[subnet] for subnet in subnet_ids}  # the configured order

    def spot_prices(self, instance_types: Sequence[str]) -> dict[tuple[str, str], float]:
        """The latest Linux spot price per (type, AZ)."""
        answer = self._ec2.describe_spot_price_history(
            InstanceTypes=list(instance_types), ProductDescriptions=["Linux/UNIX"], MaxResults=1000
        )
        latest: dict[tuple[str, str], tuple[Any, float]] = {}
        for entry in answer.get("SpotPriceHistory", []):
            key = (entry["InstanceType"], entry["AvailabilityZone"])
            if key not in latest or entry["Timestamp"] > latest[key][0]:
                latest[key] = (entry["Timestamp"], float(entry["SpotPrice"]))
        return {key: price for key, (_, price) in latest.items()}

    def launch_fleet(self, candidates: Sequence[Pool], spec: LaunchSpec) -> tuple[str, Pool, list[str]]:
        """Launch one instance with CreateFleet (type instant) over `candidates`, all of one
        market: EC2 picks the pool by price and capacity (`price-capacity-optimized`; on
        demand: `prioritized`, in the given order). Returns the instance id, its pool and the
        labels of the pools EC2 reported as refused. FleetUnavailable when nothing launched.

        The instance settings go into a launch template of this segment (CreateFleet takes no
        other kind), deleted again once the fleet has answered."""
        market = candidates[0].market
        name = f"pitwall-{spec.run_id}-{spec.segment}"[:125]
        template_id = self._launch_template(name, spec)
        overrides = [
            {
                "InstanceType": pool.instance_type,
                "SubnetId": pool.subnet_id,
                "Priority": float(position),
            }
            for position, pool in enumerate(candidates)
        ]
        options = (
            {
                "SpotOptions": {
                    "AllocationStrategy": "price-capacity-optimized",
                    "InstanceInterruptionBehavior": "terminate",
                }
            }
            if market == "spot"
            else {"OnDemandOptions": {"AllocationStrategy": "prioritized"}}
        )
        request: dict[str, Any] = {
            "Type": "instant",
            "TargetCapacitySpecification": {"TotalTargetCapacity": 1, "DefaultTargetCapacityType": market},
            "LaunchTemplateConfigs": [
                {
                    "LaunchTemplateSpecification": {"LaunchTemplateId": template_id, "Version": "$Latest"},
                    "Overrides": overrides,
                }
            ],
            "TagSpecifications": [{"ResourceType": "instance", "Tags": _tags(spec)}],
            **options,
        }
        try:
            answer = self._create_fleet(request, candidates)
        finally:
            self._ec2.delete_launch_template(LaunchTemplateId=template_id)
        refused = [_fleet_pool_label(error, candidates) for error in answer.get("Errors", [])]
        for launched in answer.get("Instances", []):
            if launched.get("InstanceIds"):
                pool = _fleet_pool(launched, candidates)
                others = [label for label in refused if label != pool.label]
                return str(launched["InstanceIds"][0]), pool, others
        errors = [f"{e.get('ErrorCode')}: {e.get('ErrorMessage', '')}" for e in answer.get("Errors", [])]
        raise FleetUnavailable(candidates, errors or ["no instance and no error in the answer"], tried=True)

    def _create_fleet(self, request: dict[str, Any], candidates: Sequence[Pool]) -> dict[str, Any]:
        """CreateFleet, again after a pause while the new instance profile is not yet usable
        (an instant fleet reports that in its Errors, or as an error of the call)."""
        for attempt in range(len(PROFILE_RETRY_SECONDS) + 1):
            last = attempt == len(PROFILE_RETRY_SECONDS)
            try:
                answer: dict[str, Any] = self._ec2.create_fleet(**request)
            except ClientError as exc:
                code = exc.response["Error"]["Code"]
                if is_profile_not_ready(exc) and not last:
                    self.sleep(PROFILE_RETRY_SECONDS[attempt])
                    continue
                # any refusal (capacity, or a fleet EC2 will not make here, e.g. without its
                # service-linked role): the caller falls back to launching pool by pool
                message = exc.response["Error"].get("Message", "")
                raise FleetUnavailable(candidates, [f"{code}: {message}"], tried=False) from exc
            else:
                launched = any(entry.get("InstanceIds") for entry in answer.get("Instances", []))
                errors = answer.get("Errors", [])
                waiting = errors and all(
                    _profile_not_ready(e.get("ErrorCode", ""), e.get("ErrorMessage", "")) for e in errors
                )
                if launched or not waiting or last:
                    return answer
            self.sleep(PROFILE_RETRY_SECONDS[attempt])
        raise AssertionError("unreachable")

    def _launch_template(self, name: str, spec: LaunchSpec) -> str:
        data = {
            "ImageId": spec.image_id,
            "SecurityGroupIds": [spec.security_group_id],
            "IamInstanceProfile": {"Arn": spec.instance_profile_arn},
            "UserData": base64.b64encode(spec.user_data.encode()).decode(),
            "InstanceInitiatedShutdownBehavior": "terminate",
            "MetadataOptions": METADATA_OPTIONS,
        }
        for attempt in range(2):
            try:
                answer = self._ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData=data)
                return str(answer["LaunchTemplate"]["LaunchTemplateId"])
            except ClientError as exc:
                # left by an invocation that failed before deleting it: its settings are stale
                if "AlreadyExists" not in exc.response["Error"]["Code"] or attempt:
                    raise
                self._ec2.delete_launch_template(LaunchTemplateName=name)
        raise AssertionError("unreachable")

    def launch(self, pool: Pool, spec: LaunchSpec) -> str:
        """Launch one instance in `pool`; PoolUnavailable on a capacity or price error.

        The client token makes a retried launch of the same run, segment and pool return the
        same instance instead of a second one."""
        token = hashlib.sha256(f"{spec.run_id}/{spec.segment}/{pool.label}".encode()).hexdigest()[:64]
        tags = _tags(spec)
        request: dict[str, Any] = {
            "ImageId": spec.image_id,
            "InstanceType": pool.instance_type,
            "MinCount": 1,
            "MaxCount": 1,
            "SubnetId": pool.subnet_id,
            "SecurityGroupIds": [spec.security_group_id],
            "IamInstanceProfile": {"Arn": spec.instance_profile_arn},
            "UserData": base64.b64encode(spec.user_data.encode()).decode(),
            "InstanceInitiatedShutdownBehavior": "terminate",
            "MetadataOptions": METADATA_OPTIONS,
            "TagSpecifications": [{"ResourceType": "instance", "Tags": tags}],
            "ClientToken": token,
        }
        if pool.market == "spot":
            request["InstanceMarketOptions"] = {
                "MarketType": "spot",
                "SpotOptions": {"SpotInstanceType": "one-time", "InstanceInterruptionBehavior": "terminate"},
            }
        for attempt in range(len(PROFILE_RETRY_SECONDS) + 1):
            try:
                answer = self._ec2.run_instances(**request)
            except ClientError as exc:
                code = exc.response["Error"]["Code"]
                if pools.is_capacity_error(code):
                    raise PoolUnavailable(pool, code, exc.response["Error"].get("Message", "")) from exc
                if is_profile_not_ready(exc) and attempt < len(PROFILE_RETRY_SECONDS):
                    self.sleep(PROFILE_RETRY_SECONDS[attempt])
                    continue
                raise
            return str(answer["Instances"][0]["InstanceId"])
        raise AssertionError("unreachable")

    def image_in_parameter(self, name: str) -> str | None:
        """The image id an SSM parameter holds (the image pipeline's newest), or None before
        the pipeline wrote one."""
        try:
            answer = aws.client("ssm", self.region).get_parameter(Name=name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ParameterNotFound":
                return None
            raise
        value = str(answer["Parameter"]["Value"])
        return value if value.startswith("ami-") else None

    def tagged_instances(self) -> list[dict[str, Any]]:
        """Every instance with the Pitwall run tag (DescribeInstances `Instances` entries)."""
        paginator = self._ec2.get_paginator("describe_instances")
        found: list[dict[str, Any]] = []
        for page in paginator.paginate(Filters=[{"Name": "tag-key", "Values": [RUN_TAG]}]):
            for reservation in page["Reservations"]:
                found += reservation["Instances"]
        return found

    def run_of_instance(self, instance_id: str) -> tuple[str, int] | None:
        """(run id, segment) from a Pitwall instance's tags; None for an instance that is not ours."""
        answer = self._ec2.describe_tags(
            Filters=[
                {"Name": "resource-id", "Values": [instance_id]},
                {"Name": "key", "Values": [RUN_TAG, SEGMENT_TAG]},
            ]
        )
        tags = {tag["Key"]: tag["Value"] for tag in answer.get("Tags", [])}
        if RUN_TAG not in tags:
            return None
        return tags[RUN_TAG], int(tags.get(SEGMENT_TAG, "0"))

    def terminate(self, instance_id: str) -> bool:
        """Terminate; True when it was still alive. Unknown or gone instances are fine."""
        try:
            answer = self._ec2.terminate_instances(InstanceIds=[instance_id])
        except ClientError as exc:
            if exc.response["Error"]["Code"] in {"InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"}:
                return False
            raise
        previous = answer["TerminatingInstances"][0]["PreviousState"]["Name"]
        return previous not in {"shutting-down", "terminated"}


def _tags(spec: LaunchSpec) -> list[dict[str, str]]:
    return [
        {"Key": RUN_TAG, "Value": spec.run_id},
        {"Key": SEGMENT_TAG, "Value": str(spec.segment)},
        {"Key": "Name", "Value": f"pitwall-{spec.run_id}-{spec.segment}"},
    ]


def _fleet_pool(answer: dict[str, Any], candidates: Sequence[Pool]) -> Pool:
    """The candidate an entry of CreateFleet's Instances or Errors names (by its overrides)."""
    overrides = answer.get("LaunchTemplateAndOverrides", {}).get("Overrides", {})
    type_ = overrides.get("InstanceType") or answer.get("InstanceType")
    subnet = overrides.get("SubnetId")
    for pool in candidates:
        if pool.instance_type == type_ and (subnet is None or pool.subnet_id == subnet):
            return pool
    raise ValueError(f"CreateFleet named a pool it was not offered: {type_} in {subnet}")


def _fleet_pool_label(error: dict[str, Any], candidates: Sequence[Pool]) -> str:
    try:
        return _fleet_pool(error, candidates).label
    except ValueError:
        return str(error.get("ErrorCode", "unknown pool"))
