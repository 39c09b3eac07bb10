"""Register the state machine's task token until the host reports started or finished."""

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pitwall.lifecycle.await_host import await_host
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.models import AwaitInput, parse_event
from pitwall.observability import logger, tracer
from pitwall.settings import Settings


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse_event(AwaitInput, event)
    deps = Deps.from_settings(Settings.from_environ(os.environ))
    return await_host(task, deps).model_dump(mode="json")
