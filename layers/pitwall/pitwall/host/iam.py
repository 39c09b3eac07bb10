"""The instance's own permissions: what one segment's host needs, and nothing else.

The host reads its run's spec, custom files and control object, writes its status and log
under the run's host folder, reads and writes its own model prefix (DRFC's trainer writes
checkpoints and metrics there, and `dr-start-training -w` empties it first), reads its
pretrained source and rewrites that source's `model/.coach_checkpoint` (the simapp does so
when it starts from a pretrained model). No ec2, no iam, no wildcard action, no other prefix.
The controller creates one role per run with this policy, under the template's permissions
boundary.
"""

from __future__ import annotations

import re
from typing import Any

from pitwall.layout import ModelKeys, RunKeys

_SAFE_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*[A-Za-z0-9._-]$")


def instance_policy(
    *,
    bucket: str,
    run_id: str,
    model_prefix: str,
    pretrained_prefix: str | None = None,
    agent_archive_key: str | None = None,
) -> dict[str, Any]:
    """The IAM policy document of one segment's instance role."""
    _check("model_prefix", model_prefix)
    if pretrained_prefix is not None:
        _check("pretrained_prefix", pretrained_prefix)
    if agent_archive_key is not None:
        _check("agent_archive_key", agent_archive_key)
    bucket_arn = f"arn:aws:s3:::{bucket}"
    run = RunKeys(run_id)

    def objects(*keys: str) -> list[str]:
        return [f"{bucket_arn}/{key}" for key in keys]

    readable = [run.run_spec, f"{run.custom_files_prefix}/*", run.host_control, run.host_status]
    if agent_archive_key is not None:
        readable.append(agent_archive_key)
    listable = [model_prefix, f"{model_prefix}/*", run.prefix, f"{run.prefix}*"]
    if pretrained_prefix is not None:
        listable += [pretrained_prefix, f"{pretrained_prefix}/*"]
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ReadRunSpecCustomFilesAndControl",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": objects(*readable),
        },
        {
            "Sid": "WriteHostStatusAndLog",
            "Effect": "Allow",
            "Action": ["s3:PutObject"],
            "Resource": objects(f"{run.host_folder}*"),
        },
        {
            "Sid": "ReadWriteOwnModelPrefix",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": objects(f"{model_prefix}/*"),
        },
        {
            "Sid": "ListOwnPrefixes",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [bucket_arn],
            "Condition": {"StringLike": {"s3:prefix": listable}},
        },
    ]
    if pretrained_prefix is not None:
        statements += [
            {
                "Sid": "ReadPretrainedModel",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": objects(f"{pretrained_prefix}/*"),
            },
            {
                "Sid": "RewritePretrainedCoachCheckpoint",
                "Effect": "Allow",
                "Action": ["s3:PutObject"],
                "Resource": objects(ModelKeys(pretrained_prefix).coach_checkpoint),
            },
        ]
    return {"Version": "2012-10-17", "Statement": statements}


def _check(name: str, prefix: str) -> None:
    if not _SAFE_PREFIX.match(prefix) or "//" in prefix or prefix.endswith("/"):
        raise ValueError(
            f"instance_policy: {name} {prefix!r} is not allowed; allowed: a key prefix of letters, digits, "
            "'.', '_', '-' and single '/', with no wildcard and no trailing '/'"
        )
