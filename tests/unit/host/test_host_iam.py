"""The instance policy, statement by statement, and what it allows when evaluated."""

from __future__ import annotations

from fnmatch import fnmatchcase

import pytest

from pitwall.host.iam import instance_policy
from pitwall.layout import RunKeys, agent_archive_key

BUCKET = "pitwall-models"
ARN = f"arn:aws:s3:::{BUCKET}"
SEGMENT = "models/fast/seg-001"
SOURCE = "models/fast/seg-000"


def policy(**overrides):
    options = {
        "bucket": BUCKET,
        "run_id": "run-7",
        "model_prefix": SEGMENT,
        "pretrained_prefix": SOURCE,
        "agent_archive_key": agent_archive_key("abc123"),
    }
    return instance_policy(**{**options, **overrides})


def allows(document, action: str, key: str | None = None, list_prefix: str | None = None) -> bool:
    """A small evaluator of this policy's shape: Allow statements, exact actions, wildcard
    resources, and the s3:prefix condition of ListBucket."""
    for statement in document["Statement"]:
        if statement["Effect"] != "Allow" or action not in statement["Action"]:
            continue
        if key is not None and any(fnmatchcase(f"{ARN}/{key}", pattern) for pattern in statement["Resource"]):
            return True
        if list_prefix is not None and ARN in statement["Resource"]:
            patterns = statement["Condition"]["StringLike"]["s3:prefix"]
            if any(fnmatchcase(list_prefix, pattern) for pattern in patterns):
                return True
    return False


def test_the_statements_are_exactly_these():
    run = RunKeys("run-7")
    assert policy()["Statement"] == [
        {
            "Sid": "ReadRunSpecCustomFilesAndControl",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [
                f"{ARN}/runs/run-7/run-spec.json",
                f"{ARN}/runs/run-7/custom_files/*",
                f"{ARN}/runs/run-7/host/control.json",
                f"{ARN}/runs/run-7/host/status.json",
                f"{ARN}/agent/pitwall-agent-abc123.zip",
            ],
        },
        {
            "Sid": "WriteHostStatusAndLog",
            "Effect": "Allow",
            "Action": ["s3:PutObject"],
            "Resource": [f"{ARN}/runs/run-7/host/*"],
        },
        {
            "Sid": "ReadWriteOwnModelPrefix",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": [f"{ARN}/{SEGMENT}/*"],
        },
        {
            "Sid": "ListOwnPrefixes",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [ARN],
            "Condition": {
                "StringLike": {
                    "s3:prefix": [
                        SEGMENT,
                        f"{SEGMENT}/*",
                        run.prefix,
                        f"{run.prefix}*",
                        SOURCE,
                        f"{SOURCE}/*",
                    ]
                }
            },
        },
        {
            "Sid": "ReadPretrainedModel",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [f"{ARN}/{SOURCE}/*"],
        },
        {
            "Sid": "RewritePretrainedCoachCheckpoint",
            "Effect": "Allow",
            "Action": ["s3:PutObject"],
            "Resource": [f"{ARN}/{SOURCE}/model/.coach_checkpoint"],
        },
    ]


def test_no_wildcard_action_and_nothing_but_s3():
    for document in (policy(), policy(pretrained_prefix=None, agent_archive_key=None)):
        actions = [action for statement in document["Statement"] for action in statement["Action"]]
        assert all("*" not in action and action.startswith("s3:") for action in actions)
        assert all(statement["Effect"] == "Allow" for statement in document["Statement"])


def test_a_first_segment_has_no_pretrained_statements():
    sids = [statement["Sid"] for statement in policy(pretrained_prefix=None)["Statement"]]
    assert sids == [
        "ReadRunSpecCustomFilesAndControl",
        "WriteHostStatusAndLog",
        "ReadWriteOwnModelPrefix",
        "ListOwnPrefixes",
    ]


@pytest.mark.parametrize(
    ("action", "key", "allowed"),
    [
        ("s3:GetObject", "runs/run-7/run-spec.json", True),
        ("s3:GetObject", "runs/run-7/custom_files/reward_function.py", True),
        ("s3:PutObject", "runs/run-7/custom_files/reward_function.py", False),
        ("s3:PutObject", "runs/run-7/run-spec.json", False),
        ("s3:PutObject", "runs/run-7/host/status.json", True),
        ("s3:PutObject", "runs/run-7/host/logs/i-1.log", True),
        ("s3:PutObject", "runs/run-8/host/status.json", False),
        ("s3:GetObject", "runs/run-8/run-spec.json", False),
        ("s3:PutObject", f"{SEGMENT}/model/3_Step-300.ckpt.index", True),
        ("s3:DeleteObject", f"{SEGMENT}/model/1_Step-100.ckpt.index", True),
        ("s3:PutObject", "models/fast/seg-0010/model/x", False),
        ("s3:PutObject", "models/other/seg-001/model/x", False),
        ("s3:GetObject", f"{SOURCE}/model/deepracer_checkpoints.json", True),
        ("s3:PutObject", f"{SOURCE}/model/.coach_checkpoint", True),
        ("s3:PutObject", f"{SOURCE}/model/5_Step-500.ckpt.index", False),
        ("s3:DeleteObject", f"{SOURCE}/model/5_Step-500.ckpt.index", False),
        ("s3:GetObject", "agent/pitwall-agent-abc123.zip", True),
        ("s3:GetObject", "agent/pitwall-agent-other.zip", False),
        ("s3:GetObject", "inbox/request/run-request.json", False),
    ],
)
def test_what_the_instance_may_and_may_not_do(action, key, allowed):
    assert allows(policy(), action, key=key) is allowed


def test_listing_is_limited_to_its_own_prefixes():
    document = policy()
    assert allows(document, "s3:ListBucket", list_prefix=f"{SEGMENT}/model/")
    assert allows(document, "s3:ListBucket", list_prefix=f"{SOURCE}/model/")
    assert not allows(document, "s3:ListBucket", list_prefix="models/")
    assert not allows(document, "s3:ListBucket", list_prefix="runs/run-8/")


@pytest.mark.parametrize("prefix", ["", "models/*", "models/fast/", "/models/x", "models//x", "a b"])
def test_a_prefix_that_would_widen_the_policy_is_refused(prefix):
    with pytest.raises(ValueError, match="model_prefix"):
        policy(model_prefix=prefix)
