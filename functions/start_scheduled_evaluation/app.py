"""A schedule fired (EventBridge Scheduler, the schedule as input): start an evaluation of the
model's newest checkpoint, or record why not."""

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.models import parse_event
from pitwall.lifecycle.scheduled import fire_schedule
from pitwall.observability import logger, tracer
from pitwall.schedules import EvaluationSchedule
from pitwall.settings import Settings


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    schedule = parse_event(EvaluationSchedule, event)
    deps = Deps.from_settings(Settings.from_environ(os.environ))
    return fire_schedule(schedule, deps).model_dump(mode="json")
