"""`pitwall submit DIR --model NAME --track TRACK ...`: start a training on a deployed stack.

The folder is checked here first, with the same validator and run settings the cloud uses, so a
mistake costs nothing; then the three custom files go to `inbox/<model>/` of the stack's model
bucket, and `run-request.json` last: its upload is what starts the run. The cloud validates
again and leaves `validation-report.json` beside the request.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pydantic import ValidationError

from pitwall import aws, layout
from pitwall.customfiles.validate import validate_custom_files
from pitwall.lifecycle.drfc import render_env, run_settings_preview
from pitwall.lifecycle.inbox import run_id_for
from pitwall.runs import EvaluationRequest, ImportRequest, RunRequest
from pitwall.tracks import InvalidTrackFile, load_tracks
from pitwall_cli.runs import add_location, stack_outputs
from pitwall_cli.tracks import add_tracks_option, tracks_folder


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("submit", help="validate a custom-files folder and start its training")
    parser.add_argument("folder", type=Path, metavar="DIR")
    parser.add_argument("--model", required=True, help="model name (letters, digits, '-')")
    parser.add_argument("--track", required=True, help="DR_WORLD_NAME, without .npy")
    parser.add_argument("--minutes", type=int, help="time budget (default: the stack's)")
    parser.add_argument("--max-usd", type=float, help="money budget for the instances")
    parser.add_argument("--on-demand", action="store_true", help="fall back to on demand without spot")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="parallel simulators (DR_WORKERS); default: chosen with the size",
    )
    parser.add_argument("--allow-cpu", action="store_true", help="CPU instance types may train it too")
    parser.add_argument("--evaluate", type=int, metavar="TRIALS", help="evaluate the best checkpoint after")
    parser.add_argument(
        "--import-after",
        choices=("training", "evaluation"),
        help="import the model into DRoA after training, or after its evaluation (needs --evaluate)",
    )
    parser.add_argument(
        "--import-min-completion",
        type=float,
        metavar="PCT",
        help="import only if the evaluation reaches this",
    )
    parser.add_argument("--bucket", help="the model bucket, instead of reading it from the stack")
    add_location(parser)
    add_tracks_option(parser)
    parser.set_defaults(func=run)


def run_request(args: argparse.Namespace) -> RunRequest:
    return RunRequest(
        model_name=args.model,
        track=args.track,
        time_budget_minutes=args.minutes,
        money_budget_usd=args.max_usd,
        allow_on_demand=args.on_demand,
        workers=args.workers,
        allow_cpu=args.allow_cpu,
        evaluate_after=EvaluationRequest(trials=args.evaluate) if args.evaluate else None,
        import_after=ImportRequest(after=args.import_after, min_completion_percent=args.import_min_completion)
        if args.import_after
        else None,
    )


def run(args: argparse.Namespace) -> int:
    try:
        request = run_request(args)
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(map(str, error["loc"]))  # none: a rule across fields names them itself
            print(f"run request: {field + ': ' if field else ''}{error['msg']}", file=sys.stderr)
        return 2
    try:
        tracks = load_tracks(tracks_folder(args.tracks))
    except (InvalidTrackFile, OSError) as error:
        print(f"tracks: {error}", file=sys.stderr)
        return 2
    files = {
        name: (args.folder / name).read_bytes()
        for name in layout.CUSTOM_FILES
        if (args.folder / name).is_file()
    }
    report = validate_custom_files(
        files, run_settings=render_env(run_settings_preview(request)), tracks=tracks
    )
    print(report.render())
    if not report.ok:
        print("nothing uploaded", file=sys.stderr)
        return 1

    bucket = args.bucket or stack_outputs(args)["ModelBucketName"]
    folder = f"{layout.INBOX_PREFIX}{request.model_name}/"
    s3 = aws.client("s3", args.region)
    for name, body in files.items():
        s3.put_object(Bucket=bucket, Key=folder + name, Body=body)
    body = json.dumps(request.model_dump(mode="json", exclude_none=True), indent=2).encode()
    s3.put_object(Bucket=bucket, Key=folder + layout.RUN_REQUEST_FILE, Body=body)  # last: the trigger
    run_id = run_id_for(folder, body)
    print(f"submitted s3://{bucket}/{folder}: run {run_id}; follow it with `pitwall status {run_id}`")
    return 0
