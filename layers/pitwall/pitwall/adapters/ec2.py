"""EC2: where the subnets are, live spot prices, launching into one pool, terminating."""

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


class PoolUnavailable(Exception):
    """EC2 said this pool has no capacity (or price) for us now; the next pool may."""

    def __init__(self, pool: Pool, code: str, message: str) -> None:
        super().__init__(f"{pool.label}: {code}: {message}")
        self.pool = pool
        self.code = code


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
    message = error.get("Message", "").lower().replace(" ", "")
    return error["Code"] == "InvalidParameterValue" and "instanceprofile" in message


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

    def launch(self, pool: Pool, spec: LaunchSpec) -> str:
        """Launch one instance in `pool`; PoolUnavailable on a capacity or price error.

        The client token makes a retried launch of the same run, segment and pool return the
        same instance instead of a second one."""
        token = hashlib.sha256(f"{spec.run_id}/{spec.segment}/{pool.label}".encode()).hexdigest()[:64]
        tags = [
            {"Key": RUN_TAG, "Value": spec.run_id},
            {"Key": SEGMENT_TAG, "Value": str(spec.segment)},
            {"Key": "Name", "Value": f"pitwall-{spec.run_id}-{spec.segment}"},
        ]
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
            # IMDSv2 only; two hops, so DRFC's containers (one hop further) reach the credentials
            "MetadataOptions": {
                "HttpTokens": "required",
                "HttpEndpoint": "enabled",
                "HttpPutResponseHopLimit": 2,
            },
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

    def tagged_instances(self) -> list[dict[str, Any]]:
        """Every instance with the Pitwall run tag (DescribeInstances `Instances` entries)."""
        paginator = self._ec2.get_paginator("describe_instances")
        found: list[dict[str, Any]] = []
        for page in paginator.paginate(Filters=[{"Name": "tag-key", "Values": [RUN_TAG]}]):
            for reservation in page["Reservations"]:
                found += reservation["Instances"]
        return found

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


def run_of_instance(region: str, instance_id: str) -> tuple[str, int] | None:
    """(run id, segment) from a Pitwall instance's tags; None for an instance that is not ours."""
    answer = aws.client("ec2", region).describe_tags(
        Filters=[
            {"Name": "resource-id", "Values": [instance_id]},
            {"Name": "key", "Values": [RUN_TAG, SEGMENT_TAG]},
        ]
    )
    tags = {tag["Key"]: tag["Value"] for tag in answer.get("Tags", [])}
    if RUN_TAG not in tags:
        return None
    return tags[RUN_TAG], int(tags.get(SEGMENT_TAG, "0"))
