"""IAM: one role and instance profile per segment, holding exactly that segment's policy
(`pitwall.host.iam.instance_policy`) under the template's permissions boundary, and deleting them
when the segment's instance goes. The controller may create roles only under `ROLE_PATH` and only
with the boundary (template.yaml, the `iam:PermissionsBoundary` condition)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from pitwall import aws

ROLE_PATH = "/pitwall/"
POLICY_NAME = "segment"
_MAX_NAME = 64  # IAM's limit for role and instance profile names
_EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def segment_role_name(run_id: str, segment: int) -> str:
    """`pitwall-<run id>-<segment>`; a run id too long for IAM is cut and keeps a digest of itself."""
    name = f"pitwall-{run_id}-{segment}"
    if len(name) <= _MAX_NAME:
        return name
    digest = hashlib.sha256(run_id.encode()).hexdigest()[:8]
    tail = f"-{digest}-{segment}"
    return f"pitwall-{run_id}"[: _MAX_NAME - len(tail)] + tail


@dataclass(frozen=True)
class SegmentRoles:
    boundary_arn: str

    @property
    def _iam(self) -> Any:
        return aws.client("iam")

    def create(self, name: str, policy: dict[str, Any], tags: dict[str, str]) -> str:
        """Create (or bring up to date) the role `name` with `policy` inline, and its instance
        profile; returns the profile's ARN. Safe to call again for the same segment."""
        iam = self._iam
        try:
            iam.create_role(
                RoleName=name,
                Path=ROLE_PATH,
                AssumeRolePolicyDocument=json.dumps(_EC2_TRUST),
                PermissionsBoundary=self.boundary_arn,
                Description="Pitwall: one training segment's instance role",
                Tags=[{"Key": key, "Value": value} for key, value in tags.items()],
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "EntityAlreadyExists":
                raise
        iam.put_role_policy(RoleName=name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(policy))
        try:
            profile = iam.create_instance_profile(InstanceProfileName=name, Path=ROLE_PATH)["InstanceProfile"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "EntityAlreadyExists":
                raise
            profile = iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
        if not any(role["RoleName"] == name for role in profile.get("Roles", [])):
            iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
        return str(profile["Arn"])

    def delete(self, name: str) -> bool:
        """Delete the profile and role `name`; False when there was nothing to delete."""
        iam = self._iam
        found = False
        for call, kwargs in (
            ("remove_role_from_instance_profile", {"InstanceProfileName": name, "RoleName": name}),
            ("delete_instance_profile", {"InstanceProfileName": name}),
            ("delete_role_policy", {"RoleName": name, "PolicyName": POLICY_NAME}),
            ("delete_role", {"RoleName": name}),
        ):
            try:
                getattr(iam, call)(**kwargs)
                found = True
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "NoSuchEntity":
                    raise
        return found
