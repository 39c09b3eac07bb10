"""Launch the run's next instance in the cheapest pool with capacity."""

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.models import ProvisionInput, parse_event
from pitwall.lifecycle.provision import provision_instance
from pitwall.observability import logger, metrics, tracer
from pitwall.settings import Settings


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse_event(ProvisionInput, event)
    deps = Deps.from_settings(Settings.from_environ(os.environ))
    return provision_instance(task, deps).model_dump(mode="json")
