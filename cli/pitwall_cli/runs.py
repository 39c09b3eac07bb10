"""`pitwall runs` and `pitwall status RUN`: the run records of a deployed Pitwall stack.

The runs table is found from the stack's outputs (`--stack`, default `pitwall`) unless
`--table` names it. AWS credentials and region come from the usual places (profile, env).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Mapping
from typing import Any

from pitwall import aws
from pitwall.adapters.runs_table import RunsTable
from pitwall.adapters.store import ObjectStore
from pitwall.errors import RunNotFound
from pitwall.lifecycle.droa_import import CAR_FILE_LINK_SECONDS
from pitwall.runs import Run, Segment, summarize
from pitwall.settings import stack_clock


def register(subparsers: argparse._SubParsersAction) -> None:
    listing = subparsers.add_parser("runs", help="list the runs of a deployed stack")
    add_location(listing)
    listing.set_defaults(func=list_runs)
    status = subparsers.add_parser("status", help="show one run: state, segments, outcome, evaluations")
    status.add_argument("run_id", metavar="RUN")
    add_location(status)
    status.add_argument("--json", action="store_true", help="print the whole run record as JSON")
    status.add_argument("--bucket", help="the model bucket (car-file links, --watch), instead of the stack's")
    status.add_argument("--watch", action="store_true", help="a live view until the run ends")
    status.add_argument(
        "--interval",
        type=float,
        metavar="SECONDS",
        help="(--watch) seconds between reads; never less than the controller's heartbeat cadence",
    )
    status.set_defaults(func=show_status)


def add_location(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", default="pitwall", help="the deployed stack (default: pitwall)")
    parser.add_argument("--table", help="the runs table, instead of reading it from the stack")
    parser.add_argument("--region", help="AWS region (default: your configuration's)")


def describe_stack(args: argparse.Namespace) -> dict[str, Any]:
    """The deployed stack named by `--stack`, as CloudFormation describes it."""
    return dict(aws.client("cloudformation", args.region).describe_stacks(StackName=args.stack)["Stacks"][0])


def stack_outputs(args: argparse.Namespace) -> dict[str, str]:
    """The outputs of the deployed stack named by `--stack` (template.yaml, Outputs)."""
    return {output["OutputKey"]: output["OutputValue"] for output in describe_stack(args).get("Outputs", [])}


def stack_now(args: argparse.Namespace) -> float:
    """Now on the stack's clock (its TimeScale and TimeAnchorEpoch parameters), which the run
    records' times are on: the wall clock in AWS, the accelerated one of the local stack. The
    wall clock when `--table` names the table instead of the stack."""
    if args.table:
        return time.time()
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in describe_stack(args).get("Parameters", [])}
    scale, anchor = float(parameters.get("TimeScale", 1)), float(parameters.get("TimeAnchorEpoch", 0))
    return stack_clock(scale, anchor).now()


def _table(args: argparse.Namespace) -> RunsTable:
    return RunsTable(args.table or stack_outputs(args)["RunsTableName"])


def list_runs(args: argparse.Namespace) -> int:
    now = stack_now(args)
    runs = _table(args).all()
    print(
        f"{'run':<40}{'kind':<10}{'state':<14}{'segments':>9}{'episodes':>10}{'cost $':>9}  last checkpoint"
    )
    for run in runs:
        s = summarize(run, now)
        print(
            f"{s.run_id:<40}{s.kind.value:<10}{s.state.value:<14}{s.segments:>9}{s.episodes:>10}"
            f"{s.cost_usd:>9.3f}  {s.last_checkpoint or '-'}"
        )
    if not runs:
        print("no runs yet: upload custom files and a run-request.json under inbox/<name>/")
    return 0


def show_status(args: argparse.Namespace) -> int:
    if args.watch:
        return _watch(args)
    try:
        run = _table(args).get(args.run_id)
    except RunNotFound as exc:
        print(exc)
        return 1
    if args.json:
        print(json.dumps(run.model_dump(mode="json"), indent=2))
        return 0
    print(describe(run, stack_now(args), _car_links(args, run)))
    return 0


def _watch(args: argparse.Namespace) -> int:
    from pitwall.adapters.store import ObjectStore
    from pitwall_cli.watch import watch_command

    stack = None if args.table and args.bucket else describe_stack(args)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])} if stack else {}
    parameters = (
        {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])} if stack else {}
    )
    table = RunsTable(args.table or outputs["RunsTableName"])
    try:
        table.get(args.run_id)
    except RunNotFound as exc:
        print(exc)
        return 1
    store = ObjectStore(args.bucket or outputs["ModelBucketName"])
    return watch_command(args.run_id, table, store, parameters, args.interval)


def _car_links(args: argparse.Namespace, run: Run) -> dict[str, str]:
    """A presigned download link per import's car file (when the model bucket is known)."""
    if not run.imports:
        return {}
    bucket = args.bucket or (None if args.table else stack_outputs(args).get("ModelBucketName"))
    if not bucket:
        return {}
    store = ObjectStore(bucket)
    return {
        i.import_id: store.presigned_url(i.car_file_key, CAR_FILE_LINK_SECONDS)
        for i in run.imports
        if i.car_file_key and store.exists(i.car_file_key)
    }


def _where(segment: Segment) -> str:
    pool = segment.pool.label if segment.pool else "-"
    return (
        f"{segment.model_prefix} on {segment.instance_id or '-'} ({pool}), host {segment.host_state or '-'}"
    )


def describe(run: Run, now: float, car_links: Mapping[str, str] | None = None) -> str:
    summary = summarize(run, now)
    lines = [
        f"run {run.run_id} ({run.kind.value}) of model {run.request.model_name} on {run.request.track}: "
        f"{run.state.value}",
        f"cost so far ${summary.cost_usd:.3f}; {summary.episodes} episodes in {summary.segments} segment(s)",
    ]
    for segment in run.segments:
        lines.append(
            f"  segment {segment.index}: {_where(segment)}, checkpoint {segment.last_checkpoint or '-'}"
            + (f", ended: {segment.end_reason}" if segment.end_reason else "")
        )
    if run.standby is not None:  # a hand-over's replacement, booting or waiting for the go
        lines.append(
            f"  segment {run.standby.index} (replacement, takes over at the hand-over): {_where(run.standby)}"
        )
    if run.outcome:
        o = run.outcome
        lines.append(
            f"outcome: last {o.last_checkpoint}, best {o.best_checkpoint}, {o.episodes} episodes, "
            f"mean completion {o.mean_completion_percent:.1f}%"
        )
    for e in run.evaluations:
        best = f"{e.best_lap_seconds:.2f} s" if e.best_lap_seconds else "none"
        lines.append(
            f"evaluation {e.evaluation_run_id}: {e.checkpoint_name or e.checkpoint} on {e.track} "
            f"({e.direction}), {e.trials} trials, "
            f"completion {e.mean_completion_percent:.1f}%, laps {e.completed_laps}, best lap {best}"
        )
    for f in run.schedule_firings[-5:]:  # scheduled evaluations: the newest firings
        what = f"started {f.evaluation_run_id}" if f.evaluation_run_id else f"skipped: {f.skipped}"
        lines.append(f"schedule {f.schedule_id} fired: {what}")
    for i in run.imports:
        lines.append(
            f"import {i.import_id}: {i.status.value} in DRoA as {i.droa_model_name} "
            f"({i.droa_model_id or 'no model id'}), checkpoint {i.checkpoint_name or i.checkpoint}"
            + (f"; DRoA says: {i.import_error_message}" if i.import_error_message else "")
            + (f"; failed: {i.failure}" if i.failure and not i.import_error_message else "")
        )
        if car_links and i.import_id in car_links:
            lines.append(f"  car file: {car_links[i.import_id]}")
    if run.failure:
        lines.append(f"failure: {run.failure}")
    return "\n".join(lines)
