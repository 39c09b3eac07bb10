"""Create an evaluation run's record over a trained run's model."""

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.models import PrepareEvaluationInput, parse_event
from pitwall.lifecycle.prepare import prepare_evaluation
from pitwall.observability import logger, tracer
from pitwall.settings import Settings


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse_event(PrepareEvaluationInput, event)
    deps = Deps.from_settings(Settings.from_environ(os.environ))
    return prepare_evaluation(task, deps).model_dump(mode="json")
