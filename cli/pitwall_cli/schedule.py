"""`pitwall schedule add|list|remove`: scheduled evaluations of a model on a deployed stack.

A schedule lives in the stack's EventBridge Scheduler group; `add` makes one for a model (its
training run's id, or its model name: its newest training run), `list` reads them back, `remove`
deletes one (it never fires again). The group, the scheduler's role and the target come from
the stack's outputs unless given.
"""

from __future__ import annotations

import argparse
import json
import secrets
import time
from datetime import UTC, datetime

from pydantic import ValidationError

from pitwall.adapters.runs_table import RunsTable
from pitwall.adapters.scheduler import EvaluationSchedules
from pitwall.errors import RunNotFound
from pitwall.evaluations import TrackLeg
from pitwall.lifecycle.scheduled import schedule_of
from pitwall.runs import Run, RunKind
from pitwall.schedules import ScheduleSpec
from pitwall_cli.runs import add_location, stack_outputs


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("schedule", help="scheduled evaluations of a model: add, list, remove")
    commands = parser.add_subparsers(dest="action", required=True)
    add = commands.add_parser("add", help="evaluate a model on a schedule")
    add.add_argument("model", metavar="MODEL", help="the model's training run id, or its model name")
    add.add_argument("--every", required=True, help="rate(2 hours), rate(1 day), cron(0 3 * * ? *) (UTC)")
    add.add_argument(
        "--track",
        action="append",
        default=[],
        metavar="TRACK[:counterclockwise]",
        help="a track, in one direction (repeat for more; default: the track it trained on)",
    )
    add.add_argument("--trials", type=int, default=3)
    add.add_argument("--checkpoint", default="last", help="best, last or a checkpoint number (default: last)")
    add.add_argument("--race-type", default="TIME_TRIAL", choices=["TIME_TRIAL", "OBJECT_AVOIDANCE"])
    add.add_argument("--continuous", action="store_true", help="continuous laps: reset and go on")
    add.add_argument("--off-track-penalty", type=float, metavar="SECONDS")
    add.add_argument("--max-usd", type=float, help="money cap of each evaluation")
    add.add_argument("--window", type=int, default=0, metavar="MINUTES", help="flexible time window")
    add.add_argument("--until", help="end date, ISO 8601 (UTC)")
    add.add_argument("--keep-after-run", action="store_true", help="do not delete it when the run ends")
    add.add_argument("--repeat", action="store_true", help="evaluate an unchanged checkpoint again")
    listing = commands.add_parser("list", help="the scheduled evaluations of the stack")
    listing.add_argument("--json", action="store_true")
    remove = commands.add_parser("remove", help="delete a schedule: it never fires again")
    remove.add_argument("schedule_id", metavar="ID")
    for sub in (add, listing, remove):
        add_location(sub)
        sub.add_argument("--group", help="the schedule group, instead of reading it from the stack")
        sub.add_argument("--scheduler-role", help="the scheduler's role ARN (default: the stack's)")
        sub.add_argument("--target", help="the scheduled-evaluation Lambda ARN (default: the stack's)")
    parser.set_defaults(func=run)


def _schedules(args: argparse.Namespace) -> EvaluationSchedules:
    given = (args.group, args.scheduler_role, args.target)
    outputs = stack_outputs(args) if None in given else {}
    return EvaluationSchedules(
        group=args.group or outputs["EvaluationScheduleGroupName"],
        role_arn=args.scheduler_role or outputs["EvaluationSchedulerRoleArn"],
        target_arn=args.target or outputs["StartScheduledEvaluationFunctionArn"],
    )


def _runs(args: argparse.Namespace) -> RunsTable:
    return RunsTable(args.table or stack_outputs(args)["RunsTableName"])


def _training_run(args: argparse.Namespace) -> Run:
    table = _runs(args)
    try:
        run = table.get(args.model)
        if run.kind == RunKind.TRAIN:
            return run
    except RunNotFound:
        pass
    named = [r for r in table.all() if r.kind == RunKind.TRAIN and r.request.model_name == args.model]
    if not named:
        raise RunNotFound(f"no training run with the id or model name {args.model!r}")
    return max(named, key=lambda r: r.created_at)


def _spec(args: argparse.Namespace) -> ScheduleSpec:
    tracks = []
    for text in args.track:
        track, _, direction = text.partition(":")
        tracks.append(TrackLeg.model_validate({"track": track, "direction": direction or "clockwise"}))
    checkpoint: str | int = int(args.checkpoint) if args.checkpoint.isdigit() else args.checkpoint
    return ScheduleSpec.model_validate(
        {
            "every": args.every,
            "tracks": tracks,
            "trials": args.trials,
            "checkpoint": checkpoint,
            "race_type": args.race_type,
            "continuous": args.continuous,
            "off_track_penalty_seconds": args.off_track_penalty,
            "max_usd": args.max_usd,
            "flexible_window_minutes": args.window,
            "ends_at": datetime.fromisoformat(args.until).replace(tzinfo=UTC) if args.until else None,
            "ends_with_run": not args.keep_after_run,
            "repeat": args.repeat,
        }
    )


def run(args: argparse.Namespace) -> int:
    try:
        if args.action == "add":
            spec = _spec(args)
            source = _training_run(args)
            if source.is_terminal and spec.ends_with_run:
                print(
                    f"pitwall schedule add: run {source.run_id} has ended, and a schedule ends with its "
                    "run: add --keep-after-run to evaluate it on a schedule anyway"
                )
                return 1
            schedule = schedule_of(source, spec, f"c{secrets.token_hex(3)}")
            schedules = _schedules(args)
            schedules.create(schedule, time.time())
            # the run may have ended, and deleted its schedules, while this one was made
            if spec.ends_with_run and _runs(args).get(source.run_id).is_terminal:
                schedules.delete(schedule.schedule_id)
                print(f"pitwall schedule add: run {source.run_id} ended as the schedule was made: removed it")
                return 1
            print(schedule.schedule_id)
            return 0
        schedules = _schedules(args)
        if args.action == "remove":
            if not schedules.delete(args.schedule_id):
                print(f"pitwall schedule remove: no schedule {args.schedule_id!r}")
                return 1
            print(f"removed {args.schedule_id}")
            return 0
        found = schedules.all()
        if args.json:
            print(json.dumps([s.model_dump(mode="json") for s in found], indent=2))
            return 0
        print(f"{'schedule':<58}{'model':<24}{'every':<22}{'checkpoint':<11}tracks")
        for s in found:
            legs = ", ".join(leg.label for leg in s.tracks) or "(its training track)"
            print(f"{s.schedule_id:<58}{s.model_name:<24}{s.every:<22}{s.checkpoint!s:<11}{legs}")
        if not found:
            print("no scheduled evaluations")
        return 0
    except (ValidationError, ValueError, RunNotFound) as exc:
        print(f"pitwall schedule {args.action}: {exc}")
        return 1
