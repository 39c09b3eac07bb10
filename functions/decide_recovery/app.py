"""The Train machine's recovery task: decide (once per instance) what a failed wait or launch
leads to, and say where the machine goes next."""

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.models import RecoveryInput, parse_event
from pitwall.lifecycle.recover import decide_recovery
from pitwall.observability import logger, metrics, tracer
from pitwall.settings import Settings


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse_event(RecoveryInput, event)
    deps = Deps.from_settings(Settings.from_environ(os.environ))
    return decide_recovery(task, deps).model_dump(mode="json")
