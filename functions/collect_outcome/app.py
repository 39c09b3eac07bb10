"""Collect a training run's outcome (checkpoints, episodes, completion)."""

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pitwall.lifecycle.collect import collect_outcome
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.models import RunRef, parse_event
from pitwall.observability import logger, tracer
from pitwall.settings import Settings


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse_event(RunRef, event)
    deps = Deps.from_settings(Settings.from_environ(os.environ))
    return collect_outcome(task, deps).model_dump(mode="json")
