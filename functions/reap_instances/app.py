"""Scheduled: terminate Pitwall-tagged instances that outlived their run (the last guard)."""

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.models import ScheduledEvent, parse_event
from pitwall.lifecycle.reap import reap_instances
from pitwall.observability import logger, metrics, tracer
from pitwall.settings import Settings


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    parse_event(ScheduledEvent, event)
    deps = Deps.from_settings(Settings.from_environ(os.environ))
    return reap_instances(deps).model_dump(mode="json")
