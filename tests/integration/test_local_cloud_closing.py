"""A local cloud closes by stopping the executions still running, while the mocks are on: moto
runs each execution in a thread, which would go on calling the Lambdas after the mocks are off
(with no credentials, against nothing) or inside the next local cloud."""

from __future__ import annotations

from pitwall_local.cloud import LocalCloud
from pitwall_local.examples import example_files


def test_the_executions_still_running_are_stopped_and_no_handler_runs_after(helpers) -> None:
    with LocalCloud(time_scale=60.0) as cloud:
        # Given a training under way
        request = {"model_name": "closing", "track": helpers.TRACK, "time_budget_minutes": 30, "workers": 1}
        cloud.upload_inbox_request("closing", example_files(), request)
        arn = cloud.wait_for_execution_of("Train", 1)[0]["executionArn"]
        assert cloud.describe(arn)["status"] == "RUNNING"
        # When the cloud stops its executions (the first thing it does when it closes)
        cloud.stop_executions()
        # Then the training's execution has ended (moto calls one stopped inside a task FAILED,
        # else ABORTED) and no handler runs any more
        assert cloud.describe(arn)["status"] in ("ABORTED", "FAILED")
        assert cloud.shim.wait_until_idle(timeout=0)
