"""Start a new model from a trained one (increment), optionally faster."""

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.increment import increment_model
from pitwall.lifecycle.models import IncrementInput, parse_event
from pitwall.observability import logger, tracer
from pitwall.settings import Settings


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse_event(IncrementInput, event)
    deps = Deps.from_settings(Settings.from_environ(os.environ))
    return increment_model(task, deps).model_dump(mode="json")
