"""Import: read the DRoA model's status (the state machine waits between two reads)."""

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.droa_import import droa_client, poll_import
from pitwall.lifecycle.models import ImportRef, parse_event
from pitwall.observability import logger, tracer
from pitwall.settings import DroaSettings, Settings


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    ref = parse_event(ImportRef, event)
    deps = Deps.from_settings(Settings.from_environ(os.environ))
    droa = DroaSettings.from_environ(os.environ)
    return poll_import(ref, deps, droa_client(droa), droa).model_dump(mode="json")
