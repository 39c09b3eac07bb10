"""Import: record how it ended on the run, notify the racer (car file link), emit the event."""

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.droa_import import finish_import
from pitwall.lifecycle.models import FinishImportInput, parse_event
from pitwall.observability import logger, metrics, tracer
from pitwall.settings import Settings


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse_event(FinishImportInput, event)
    deps = Deps.from_settings(Settings.from_environ(os.environ))
    return finish_import(task, deps).model_dump(mode="json")
