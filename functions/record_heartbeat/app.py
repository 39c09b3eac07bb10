"""S3 heartbeats (host status, TrainingMetrics, checkpoints): record progress, feed the wait."""

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.heartbeat import WarmMemo, record_heartbeat
from pitwall.lifecycle.models import S3Notification, parse_event
from pitwall.observability import logger, metrics, tracer
from pitwall.settings import Settings

WARM = WarmMemo()  # kept while this Lambda is warm


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse_event(S3Notification, event)
    deps = Deps.from_settings(Settings.from_environ(os.environ))
    return record_heartbeat(task, deps, WARM).model_dump(mode="json")
