"""Create a training run's record and lay its files out in S3."""

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.models import PrepareInput, parse_event
from pitwall.lifecycle.prepare import prepare_run
from pitwall.observability import logger, tracer
from pitwall.settings import Settings


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse_event(PrepareInput, event)
    deps = Deps.from_settings(Settings.from_environ(os.environ))
    return prepare_run(task, deps).model_dump(mode="json")
