"""`pitwall runs` and `pitwall status RUN`: the run records of a deployed Pitwall stack.

The runs table is found from the stack's outputs (`--stack`, default `pitwall`) unless
`--table` names it. AWS credentials and region come from the usual places (profile, env).
"""

from __future__ import annotations

import argparse
import json
import time

from pitwall import aws
from pitwall.adapters.runs_table import RunsTable
from pitwall.errors import RunNotFound
from pitwall.runs import Run, summarize


def register(subparsers: argparse._SubParsersAction) -> None:
    listing = subparsers.add_parser("runs", help="list the runs of a deployed stack")
    add_location(listing)
    listing.set_defaults(func=list_runs)
    status = subparsers.add_parser("status", help="show one run: state, segments, outcome, evaluations")
    status.add_argument("run_id", metavar="RUN")
    add_location(status)
    status.add_argument("--json", action="store_true", help="print the whole run record as JSON")
    status.set_defaults(func=show_status)


def add_location(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", default="pitwall", help="the deployed stack (default: pitwall)")
    parser.add_argument("--table", help="the runs table, instead of reading it from the stack")
    parser.add_argument("--region", help="AWS region (default: your configuration's)")


def stack_outputs(args: argparse.Namespace) -> dict[str, str]:
    """The outputs of the deployed stack named by `--stack` (template.yaml, Outputs)."""
    stack = aws.client("cloudformation", args.region).describe_stacks(StackName=args.stack)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def _table(args: argparse.Namespace) -> RunsTable:
    return RunsTable(args.table or stack_outputs(args)["RunsTableName"])


def list_runs(args: argparse.Namespace) -> int:
    now = time.time()
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
    try:
        run = _table(args).get(args.run_id)
    except RunNotFound as exc:
        print(exc)
        return 1
    if args.json:
        print(json.dumps(run.model_dump(mode="json"), indent=2))
        return 0
    print(describe(run, time.time()))
    return 0


def describe(run: Run, now: float) -> str:
    summary = summarize(run, now)
    lines = [
        f"run {run.run_id} ({run.kind.value}) of model {run.request.model_name} on {run.request.track}: "
        f"{run.state.value}",
        f"cost so far ${summary.cost_usd:.3f}; {summary.episodes} episodes in {summary.segments} segment(s)",
    ]
    for segment in run.segments:
        pool = segment.pool.label if segment.pool else "-"
        lines.append(
            f"  segment {segment.index}: {segment.model_prefix} on {segment.instance_id or '-'} ({pool}), "
            f"host {segment.host_state or '-'}, checkpoint {segment.last_checkpoint or '-'}"
            + (f", ended: {segment.end_reason}" if segment.end_reason else "")
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
            f"evaluation {e.evaluation_run_id}: {e.checkpoint} on {e.track}, {e.trials} trials, "
            f"completion {e.mean_completion_percent:.1f}%, laps {e.completed_laps}, best lap {best}"
        )
    if run.failure:
        lines.append(f"failure: {run.failure}")
    return "\n".join(lines)
