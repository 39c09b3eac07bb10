"""Start a state machine's execution, once per name."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from pitwall import aws


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
