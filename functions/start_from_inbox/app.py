"""An inbox upload: validate it, then request training or leave a report."""

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.inbox import start_from_inbox
from pitwall.lifecycle.models import S3Notification, parse_event
from pitwall.observability import logger, tracer
from pitwall.settings import Settings


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse_event(S3Notification, event)
    deps = Deps.from_settings(Settings.from_environ(os.environ))
    return start_from_inbox(task, deps).model_dump(mode="json")
