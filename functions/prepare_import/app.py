"""Import, first step: choose the checkpoint, build DRoA's package and the car file, keep both."""

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.droa_import import prepare_import
from pitwall.lifecycle.models import PrepareImportInput, parse_event
from pitwall.observability import logger, tracer
from pitwall.settings import DroaSettings, Settings


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse_event(PrepareImportInput, event)
    deps = Deps.from_settings(Settings.from_environ(os.environ))
    plan = prepare_import(task, deps, lambda: DroaSettings.from_environ(os.environ))
    return plan.model_dump(mode="json")
