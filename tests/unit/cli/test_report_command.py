"""`pitwall report RUN` against a deployed stack (moto): where it finds the run and the files,
and the clock it measures a live run by."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from moto import mock_aws

from pitwall import aws, layout
from pitwall.adapters.runs_table import RunsTable
from pitwall.runs import Pool, Run, RunKind, RunRequest, RunState, Segment
from pitwall.settings import anchored_clock
from pitwall_cli import main

SCALE = 480.0


@pytest.fixture
def stack(runs_table_of: Callable[[str], None]) -> Iterator[float]:
    """A stack on an accelerated clock (as `pitwall up` deploys it), anchored an hour of wall
    time ago, with its runs table and model bucket; yields the anchor."""
    anchor = time.time() - 3600
    with mock_aws():
        aws.reset_clients()
        runs_table_of("runs")
        aws.client("s3").create_bucket(Bucket="models")
        body = {
            "Parameters": {"TimeScale": {"Type": "String"}, "TimeAnchorEpoch": {"Type": "String"}},
            "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {"RunsTableName": {"Value": "runs"}, "ModelBucketName": {"Value": "models"}},
        }
        aws.client("cloudformation").create_stack(
            StackName="pitwall",
            TemplateBody=json.dumps(body),
            Parameters=[
                {"ParameterKey": "TimeScale", "ParameterValue": str(SCALE)},
                {"ParameterKey": "TimeAnchorEpoch", "ParameterValue": str(anchor)},
            ],
        )
        yield anchor
    aws.reset_clients()


def test_a_live_runs_report_measures_its_cost_on_the_stacks_clock(stack: float, tmp_path: Path) -> None:
    # Given a run training for two hours of the stack's time at 1 USD/h
    now = anchored_clock(SCALE, stack).now()
    segment = Segment(
        index=0,
        model_prefix=layout.segment_model_prefix("live-one", 0),
        deadline_epoch=now + 3600,
        instance_id="i-0",
        pool=Pool(instance_type="g4dn.2xlarge", availability_zone="us-east-1a", subnet_id="subnet-1"),
        price_per_hour=1.0,
        launched_at=now - 7200,
        started_at=now - 7000,
    )
    run = Run(
        run_id="run-live",
        kind=RunKind.TRAIN,
        request=RunRequest(model_name="live-one", track="oval", money_budget_usd=5),
        state=RunState.RUNNING,
        created_at=now - 7300,
        updated_at=now - 60,
        custom_files_prefix="runs/run-live/custom_files/",
        segments=[segment],
    )
    assert RunsTable("runs").create(run)
    # When the racer writes its report from the stack
    page = tmp_path / "live.html"
    assert main(["report", "run-live", "--stack", "pitwall", "--region", "us-east-1", "-o", str(page)]) == 0
    # Then it has cost two dollars so far, and a little more as the stack's clock moved on meanwhile
    # (the wall clock is some 480 hours behind the stack's: on it, the run has not started yet)
    cost = re.search(r"<th>cost</th><td>\$(\d+\.\d\d) of \$5\.00</td>", page.read_text())
    assert cost is not None and 2.0 <= float(cost.group(1)) < 2.5
