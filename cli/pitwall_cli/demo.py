"""`pitwall demo`: the whole lifecycle of a built-in example model on the local cloud, offline.

template.yaml is deployed into moto; the real state machines run; each launched instance is a
simulated DRFC host on an accelerated clock. The demo uploads the example's custom files (or
the racer's own folder: `pitwall demo DIR`, `--workers N`) to the inbox (validate -> train), the
trained model is evaluated on two tracks (a "Model trained" event), then incremented with faster
actions and trained again while a schedule evaluates its newest checkpoint, and a summary and
the `pitwall evaluations` table end it.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pitwall import aws, layout
from pitwall.errors import RunNotFound
from pitwall.observability import logger
from pitwall.runs import EvaluationResult, Run, RunRequest, summarize
from pitwall_cli import main
from pitwall_cli.report import report_to
from pitwall_cli.tracks import add_tracks_option, tracks_folder
from pitwall_local.cloud import LocalCloud
from pitwall_local.examples import example_files

TRACK = "reInvent2019_track"
RACE_TRACK = "2022_april_open"  # evaluations: the training track and this month's race track
MODEL = "demo-model"
INCREMENT_RUN = "demo-model-faster"
SPEED_FACTOR = 1.15
PROGRESS_EPISODES = 25  # print a progress line every this many episodes
WAIT_SECONDS = 120.0  # the longest the demo waits for one step it does not watch


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="run a whole lifecycle on the offline local cloud")
    parser.add_argument("--time-scale", type=float, default=480.0, help="simulated seconds per real second")
    parser.add_argument(
        "--minutes", type=int, default=60, help="training time budget of each run (simulated)"
    )
    parser.add_argument(
        "folder", nargs="?", type=Path, metavar="DIR", help="your custom-files folder (default: an example)"
    )
    parser.add_argument("--custom-files", type=Path, metavar="DIR", help="the same as DIR")
    parser.add_argument("--workers", type=int, default=1, help="parallel simulators per training (1)")
    parser.add_argument(
        "--out", type=Path, metavar="DIR", help="write every bucket of the local cloud here (keys as paths)"
    )
    parser.add_argument(
        "--report",
        type=Path,
        default=Path("demo-report.html"),
        metavar="FILE",
        help="where the HTML report of the first model goes (default: demo-report.html)",
    )
    add_tracks_option(parser)
    parser.set_defaults(func=run)


def custom_files(args: argparse.Namespace) -> dict[str, bytes]:
    """The three custom files of the racer's folder (DIR or --custom-files), else the example's."""
    folder = args.custom_files or args.folder
    if args.custom_files and args.folder and args.custom_files != args.folder:
        raise ValueError(f"two folders given ({args.folder}, --custom-files {args.custom_files}): give one")
    if folder is None:
        return example_files()
    if not folder.is_dir():
        raise ValueError(f"{folder}: not a folder")
    return {name: (folder / name).read_bytes() for name in layout.CUSTOM_FILES if (folder / name).is_file()}


class Narrator:
    def __init__(self) -> None:
        self.started = time.monotonic()

    def say(self, step: str, text: str) -> None:
        print(f"[{time.monotonic() - self.started:5.1f}s] {step:<9} {text}", flush=True)


def _watch_training(cloud: LocalCloud, narrator: Narrator, execution_arn: str, run_id: str) -> dict[str, Any]:
    """Wait for a Train execution, printing its run's progress as it goes."""
    shown: tuple[Any, ...] = ()
    next_episodes = PROGRESS_EPISODES
    while True:
        execution = cloud.describe(execution_arn)
        try:
            run = cloud.runs.get(run_id)
        except RunNotFound:  # not prepared yet
            run = None
        if run is not None and (segment := run.current_segment) is not None:
            key = (run.state, segment.instance_id, segment.last_checkpoint)
            if key != shown or segment.episodes >= next_episodes:
                pool = f" on {segment.pool.label} at ${segment.price_per_hour:.3f}/h" if segment.pool else ""
                narrator.say(
                    "train",
                    f"{run.request.model_name}: {run.state.value:<9} episodes {segment.episodes:>4}"
                    f"  checkpoint {segment.last_checkpoint or '-'}{pool if key[:2] != shown[:2] else ''}",
                )
                shown = key
                next_episodes = segment.episodes + PROGRESS_EPISODES
        if execution["status"] != "RUNNING":
            return execution
        time.sleep(0.25)


def _trained(narrator: Narrator, run: Run) -> None:
    outcome = run.outcome
    if outcome is None:
        narrator.say("train", f"{run.request.model_name}: {run.state.value} {run.failure or ''}")
        return
    narrator.say(
        "train",
        f"{run.request.model_name}: {run.state.value}: {outcome.episodes} episodes, mean completion "
        f"{outcome.mean_completion_percent:.1f}%, last {outcome.last_checkpoint}, "
        f"best {outcome.best_checkpoint}",
    )


def _evaluated(narrator: Narrator, model: str, result: EvaluationResult) -> None:
    best_lap = f"best lap {result.best_lap_seconds:.2f} s" if result.best_lap_seconds else "no full lap yet"
    narrator.say(
        "evaluate",
        f"{model} ({result.checkpoint} checkpoint, {result.trials} trials on {result.track}): completion "
        f"{result.mean_completion_percent:.1f}%, {result.completed_laps} laps, {best_lap}, "
        f"{result.off_track_count} off track",
    )


def run(args: argparse.Namespace) -> int:
    logger.setLevel(logging.WARNING)  # the Lambdas' and hosts' logs would drown the story
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    request = {
        "model_name": MODEL,
        "track": TRACK,
        "time_budget_minutes": args.minutes,
        "workers": args.workers,
        "evaluate_after": {
            "checkpoint": "best",
            "trials": 3,
            "tracks": [{"track": TRACK}, {"track": RACE_TRACK}],
        },
    }
    try:
        RunRequest.model_validate(request)
    except ValidationError as exc:
        for error in exc.errors():
            print(f"run request: {'.'.join(map(str, error['loc']))}: {error['msg']}", file=sys.stderr)
        return 2
    try:
        files = custom_files(args)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    own_folder = args.custom_files or args.folder
    trained = f"the custom files in {own_folder}" if own_folder else "a built-in model"
    narrator = Narrator()
    print(
        f"Pitwall demo: train -> evaluate -> increment -> train {trained} -> import into DRoA, offline.\n"
        f"AWS is moto with template.yaml deployed into it; each instance is a simulated DRFC host;\n"
        f"1 simulated hour takes {3600 / args.time_scale:.1f} s.\n",
        flush=True,
    )
    wait = 2400  # boot timeout and heartbeat window: 5 s of wall-clock time at the default scale
    parameters = {
        "BootTimeoutSeconds": wait,
        "HeartbeatWindowSeconds": wait,
        "DefaultTimeBudgetMinutes": args.minutes,
    }
    with (
        LocalCloud(time_scale=args.time_scale, parameters=parameters) as cloud,
        _buckets_written(args.out, narrator),
    ):
        machines = len(cloud.stack.of_type("AWS::StepFunctions::StateMachine"))
        functions = len(cloud.stack.of_type("AWS::Lambda::Function"))
        narrator.say(
            "deploy",
            f"template.yaml -> local cloud: {machines} state machines, {functions} Lambdas, "
            f"bucket {cloud.bucket}",
        )
        # validate -> train: an upload to the inbox
        folder = cloud.upload_inbox_request(MODEL, files, request)
        report = cloud.store.get_json(folder + "validation-report.json") or {}
        if not report.get("ok"):
            narrator.say("validate", f"{folder}: refused:\n" + "\n".join(report.get("problems", [])))
            return 1
        narrator.say(
            "validate",
            f"{folder}: custom files valid -> 'Training requested' (run {report['run_id']}, "
            f"{args.workers} worker(s))",
        )
        first = cloud.wait_for_execution_of("Train", 1)[0]["executionArn"]
        execution = _watch_training(cloud, narrator, first, report["run_id"])
        source = cloud.runs.get(report["run_id"])
        _trained(narrator, source)
        if execution["status"] != "SUCCEEDED":
            return 1
        # evaluate: started by the "Model trained" event
        evaluation = cloud.wait(cloud.wait_for_execution_of("Evaluate", 1)[0]["executionArn"])
        source = cloud.runs.get(source.run_id)
        if evaluation["status"] != "SUCCEEDED" or not source.evaluations:
            narrator.say("evaluate", f"failed: {evaluation.get('cause')}")
            return 1
        for result in source.evaluations:
            _evaluated(narrator, MODEL, result)
        # increment -> train: faster actions, continuing from the last checkpoint
        increment = cloud.wait(
            cloud.start(
                "Increment",
                {
                    "source_run_id": source.run_id,
                    "speed_factor": SPEED_FACTOR,
                    "evaluate_after": request["evaluate_after"],
                    # after its evaluation, the faster model goes to DeepRacer on AWS (the double)
                    "import_after": {"after": "evaluation"},
                },
                INCREMENT_RUN,
            )
        )
        if increment["status"] != "SUCCEEDED":
            narrator.say("increment", f"failed: {increment.get('cause')}")
            return 1
        narrator.say(
            "increment",
            f"{MODEL} -> {INCREMENT_RUN}: speeds x{SPEED_FACTOR}, pretrained from "
            f"{source.model_prefix} ({source.outcome.last_checkpoint if source.outcome else '?'}, last)",
        )
        second = cloud.wait_for_execution_of("Train", 2)[1]["executionArn"]
        before = {e["executionArn"] for e in cloud.executions("Evaluate")}
        _schedule_evaluations(cloud, narrator)
        execution = _watch_training(cloud, narrator, second, INCREMENT_RUN)
        _trained(narrator, cloud.runs.get(INCREMENT_RUN))
        _scheduled_evaluations_done(cloud, narrator)
        evaluation = cloud.wait(_evaluation_after_training(cloud, before))
        incremented = cloud.runs.get(INCREMENT_RUN)
        if evaluation["status"] != "SUCCEEDED" or not incremented.evaluations:
            narrator.say("evaluate", f"failed: {evaluation.get('cause')}")
            return 1
        for result in incremented.evaluations[-2:]:
            _evaluated(narrator, INCREMENT_RUN, result)
        if not _imported(cloud, narrator):
            return 1
        _summary(cloud, [cloud.runs.get(source.run_id), cloud.runs.get(INCREMENT_RUN)])
        left = [
            i for i, state in cloud.instance_states().items() if state not in ("terminated", "shutting-down")
        ]
        print(
            f"\ninstances still running: {len(left)}; run records and files: s3://{cloud.bucket}/ (in memory)"
        )
        # the cockpit: the first model's report, one HTML file to open offline
        report = report_to(
            args.report,
            source.run_id,
            table=cloud.runs,
            store=cloud.store,
            tracks=tracks_folder(args.tracks),
            now=cloud.clock().now(),
        )
        print(f"report of {MODEL}: {report.resolve()}")
        # last: how both models compare on both tracks
        print("\npitwall evaluations")
        main(["evaluations", "--table", cloud.runs.table_name])
        return 0 if execution["status"] == "SUCCEEDED" and not left else 1


# -- scheduled evaluations during the second training -------------------------------------------


def _schedule_evaluations(cloud: LocalCloud, narrator: Narrator) -> None:
    """What a racer types while the increment trains: evaluate its newest checkpoint every 15
    minutes on both tracks (the schedule ends with the run)."""
    _wait_until(lambda: _prepared(cloud, INCREMENT_RUN), f"the run record of {INCREMENT_RUN}")
    outputs = cloud.stack.outputs
    command = ["schedule", "add", INCREMENT_RUN, "--every", "rate(15 minutes)", "--trials", "2"]
    command += ["--track", TRACK, "--track", RACE_TRACK, "--checkpoint", "last"]
    command += ["--table", cloud.runs.table_name, "--group", str(outputs["EvaluationScheduleGroupName"])]
    command += ["--scheduler-role", str(outputs["EvaluationSchedulerRoleArn"])]
    command += ["--target", str(outputs["StartScheduledEvaluationFunctionArn"])]
    narrator.say("schedule", "pitwall " + " ".join(command[:12]) + " ...")
    main(command)


def _scheduled_evaluations_done(cloud: LocalCloud, narrator: Narrator) -> None:
    run = cloud.runs.get(INCREMENT_RUN)
    skipped: dict[str, int] = {}
    for firing in run.schedule_firings:
        run_id = firing.evaluation_run_id
        if run_id is None:
            # counted by reason: the reason without the evaluation ids it names
            reason = re.sub(r" \([^()]*\)", "", firing.skipped or "")
            skipped[reason] = skipped.get(reason, 0) + 1
            continue
        _wait_until(partial(_ended, cloud, run_id), f"the end of the scheduled evaluation {run_id}")
        evaluation = cloud.runs.get(run_id)
        outcome = (
            ", ".join(f"{r.track} {r.mean_completion_percent:.0f}%" for r in evaluation.evaluations)
            if evaluation.state.value == "succeeded"
            else f"{evaluation.state.value}: {evaluation.failure}"
        )
        trained_until = run.segments[-1].ended_at if run.segments else None
        when = "while training" if trained_until is None or firing.at < trained_until else "after training"
        narrator.say("schedule", f"fired: evaluated {firing.checkpoint_name} {when}: {outcome}")
    for reason, count in skipped.items():
        narrator.say("schedule", f"fired: skipped {count}x ({reason})")


def _evaluation_after_training(cloud: LocalCloud, before: set[str]) -> str:
    """The Evaluate execution the "Model trained" event started (the scheduled ones are named
    after their schedule, so after the run)."""

    def started() -> str | None:
        for execution in cloud.executions("Evaluate"):
            arn = execution["executionArn"]
            if arn not in before and not execution["name"].startswith(INCREMENT_RUN):
                return str(arn)
        return None

    return _wait_until(started, "the evaluation after the second training")


def _prepared(cloud: LocalCloud, run_id: str) -> bool:
    try:
        cloud.runs.get(run_id)
    except RunNotFound:
        return False
    return True


def _ended(cloud: LocalCloud, run_id: str) -> bool:
    try:
        return cloud.runs.get(run_id).is_terminal
    except RunNotFound:  # not prepared yet
        return False


def _wait_until[T](found: Callable[[], T | None], what: str, seconds: float = WAIT_SECONDS) -> T:
    """What `found` returns once it is something; TimeoutError naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while not (value := found()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the demo waited {seconds:.0f} s for {what}")
        time.sleep(0.1)
    return value


def _imported(cloud: LocalCloud, narrator: Narrator) -> bool:
    """The "Model evaluated" event started the Import machine: wait for DRoA's READY."""
    execution = cloud.wait(cloud.wait_for_execution_of("Import", 1)[0]["executionArn"], timeout=120)
    imports = cloud.runs.get(INCREMENT_RUN).imports
    if execution["status"] != "SUCCEEDED" or not imports:
        narrator.say("import", f"failed: {execution.get('error')}: {execution.get('cause')}")
        return False
    done = imports[-1]
    narrator.say(
        "import",
        f"{INCREMENT_RUN} ({done.checkpoint_name}) -> DRoA model {done.droa_model_id}: {done.status.value}",
    )
    narrator.say("car", f"s3://{cloud.bucket}/{done.car_file_key} (agent/model.pb, model_metadata.json)")
    return done.status.value == "READY"


@contextmanager
def _buckets_written(out: Path | None, narrator: Narrator) -> Iterator[None]:
    """`--out DIR`: every bucket written to DIR when the demo ends, however it ends (a failed
    step leaves what it left in S3 to inspect), while the local cloud is still up."""
    try:
        yield
    finally:
        if out is not None:
            narrator.say("out", f"{_write_buckets(out)} objects of every bucket written to {out}/")


def _write_buckets(out: Path) -> int:
    """Every bucket of the local cloud (Pitwall's, DRoA's upload bucket) as DIR/<bucket>/<key>;
    an empty bucket is an empty folder."""
    s3 = aws.client("s3")
    written = 0
    for bucket in s3.list_buckets()["Buckets"]:
        (out / bucket["Name"]).mkdir(parents=True, exist_ok=True)
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket["Name"]):
            for item in page.get("Contents", []):
                if item["Key"].endswith("/"):
                    continue
                target = out / bucket["Name"] / item["Key"]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(s3.get_object(Bucket=bucket["Name"], Key=item["Key"])["Body"].read())
                written += 1
    return written


def _summary(cloud: LocalCloud, runs: list[Run]) -> None:
    now = cloud.clock().now()
    print("\nSummary")
    header = f"{'model':<20}{'state':<11}{'episodes':>9}{'completion':>12}  {'last / best checkpoint':<42}"
    print(f"{header}{'cost':>8}")
    for run in runs:
        summary = summarize(run, now)
        outcome = run.outcome
        checkpoints = f"{outcome.last_checkpoint} / {outcome.best_checkpoint}" if outcome else "-"
        completion = f"{outcome.mean_completion_percent:.1f}%" if outcome else "-"
        print(
            f"{run.request.model_name:<20}{run.state.value:<11}{summary.episodes:>9}{completion:>12}  "
            f"{checkpoints:<42}{'$' + format(summary.cost_usd, '.3f'):>8}"
        )
        for result in run.evaluations:
            lap = f"{result.best_lap_seconds:.2f} s" if result.best_lap_seconds else "none"
            print(
                f"{'':<20}evaluated ({result.checkpoint}, {result.trials} trials): completion "
                f"{result.mean_completion_percent:.1f}%, {result.completed_laps} laps, best lap {lap}"
            )
