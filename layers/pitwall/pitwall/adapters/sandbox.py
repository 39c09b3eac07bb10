"""The reward sandbox: a Lambda function that runs a reward function's dynamic check with a role
that grants nothing and no network path out (template.yaml: RewardSandboxFunction). The
validating functions call it instead of running uploaded code next to their own credentials."""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

from pitwall import aws
from pitwall.customfiles.reward_dynamic import DynamicResult
from pitwall.customfiles.validate import RewardCheck, RewardRunner
from pitwall.errors import RewardSandboxFailed


def sandbox_runner(function: str, region: str) -> RewardRunner:
    """A `RewardRunner` that invokes `function` (synchronously) with the check."""

    def run(check: RewardCheck) -> list[DynamicResult]:
        try:
            answer = aws.client("lambda", region).invoke(
                FunctionName=function, Payload=check.model_dump_json().encode()
            )
        except ClientError as exc:
            raise RewardSandboxFailed(f"reward sandbox {function}: {exc}") from exc
        body = json.loads(answer["Payload"].read() or b"null")
        if answer.get("FunctionError") or not isinstance(body, dict) or "runs" not in body:
            raise RewardSandboxFailed(f"reward sandbox {function} failed: {json.dumps(body)[:1000]}")
        return [DynamicResult.model_validate(run) for run in body["runs"]]

    return run
