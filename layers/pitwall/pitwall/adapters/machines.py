"""Start a state machine's execution, once per name; read back which ones still run."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from pitwall import aws


def execution_arn(state_machine_arn: str, name: str) -> str:
    """arn:...:stateMachine:M -> arn:...:execution:M:name (how Step Functions names executions)."""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"


class Machines:
    def start(self, state_machine_arn: str, name: str, payload: dict[str, Any]) -> bool:
        """Start the execution; False when one of that name exists already (a retried invocation)."""
        try:
            aws.client("stepfunctions").start_execution(
                stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload)
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ExecutionAlreadyExists":
                return False
            raise
        return True

    def status(self, state_machine_arn: str, name: str) -> str | None:
        """RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED ...; None when no execution has that name."""
        client = aws.client("stepfunctions")
        try:
            found = client.describe_execution(executionArn=execution_arn(state_machine_arn, name))
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ExecutionDoesNotExist":
                return None
            raise
        return str(found["status"])

    def running(self, state_machine_arn: str) -> dict[str, dict[str, Any]]:
        """The machine's executions still running: their input, by name."""
        client = aws.client("stepfunctions")
        pages = client.get_paginator("list_executions").paginate(
            stateMachineArn=state_machine_arn, statusFilter="RUNNING"
        )
        found = {}
        for page in pages:
            for execution in page["executions"]:
                described = client.describe_execution(executionArn=execution["executionArn"])
                found[execution["name"]] = json.loads(described.get("input") or "{}")
        return found
