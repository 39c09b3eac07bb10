"""`pitwall runs` / `status` find a stack as on AWS: its outputs and clock from CloudFormation.
The local cloud's deployer records its stack there, with the TimeScale of its accelerated clock."""

from __future__ import annotations

import argparse
import time

from pitwall_cli.runs import stack_now, stack_outputs
from pitwall_local.cloud import LocalCloud


def test_the_cli_reads_the_local_clouds_stack_outputs_and_clock(cloud: LocalCloud) -> None:
    args = argparse.Namespace(stack=cloud.stack_name, table=None, region=cloud.region)

    outputs = stack_outputs(args)
    before = cloud.clock().now()
    now = stack_now(args)
    after = cloud.clock().now()

    assert outputs["ModelBucketName"] == cloud.bucket
    assert outputs["RunsTableName"] == cloud.runs.table_name
    assert before - 1 <= now <= after + 1  # the run records' clock, not the wall clock:
    assert now > time.time() + 60  # deploying took seconds, minutes of the cloud's time


def test_with_a_table_named_the_cli_uses_the_wall_clock(cloud: LocalCloud) -> None:
    args = argparse.Namespace(stack="no-such-stack", table=cloud.runs.table_name, region=cloud.region)

    assert abs(stack_now(args) - time.time()) < 1
