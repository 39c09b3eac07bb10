"""The reward sandbox: run a reward function's dynamic check. Its role grants nothing and it has
no network path out (template.yaml): what uploaded code finds here is worth nothing."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pitwall.customfiles.validate import RewardCheck, run_check
from pitwall.lifecycle.models import parse_event
from pitwall.observability import logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    check = parse_event(RewardCheck, event)
    return {"runs": [run.model_dump(mode="json") for run in run_check(check)]}
