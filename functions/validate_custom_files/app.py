"""Validate the custom files of a run before anything is launched."""

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.models import TrainInput, parse_event
from pitwall.lifecycle.validate import validate_custom_files
from pitwall.observability import logger, tracer
from pitwall.settings import Settings


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse_event(TrainInput, event)
    deps = Deps.from_settings(Settings.from_environ(os.environ))
    return validate_custom_files(task, deps).model_dump(mode="json")
