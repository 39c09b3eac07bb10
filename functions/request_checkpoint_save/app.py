"""A spot interruption warning or rebalance recommendation: ask the host to save its checkpoint."""

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.interruption import request_checkpoint_save
from pitwall.lifecycle.models import InstanceEvent, parse_event
from pitwall.observability import logger, metrics, tracer
from pitwall.settings import Settings


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse_event(InstanceEvent, event)
    deps = Deps.from_settings(Settings.from_environ(os.environ))
    return request_checkpoint_save(task, deps).model_dump(mode="json")
