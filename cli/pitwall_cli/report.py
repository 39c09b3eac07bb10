"""`pitwall report RUN -o report.html`: one self-contained HTML file about a run (interactive
plots, plotly's JavaScript embedded: it opens offline and can be attached to a message).

The run record comes from the runs table, its metrics, simtrace and custom files from the model
bucket (both named by the stack's outputs unless `--table` / `--bucket` name them); the track's
geometry from `--tracks` (or PITWALL_TRACKS_DIR, else the built-in tracks).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pitwall.adapters.runs_table import RunsTable
from pitwall.adapters.store import ObjectStore
from pitwall.errors import RunNotFound
from pitwall.tracks import InvalidTrackFile, load_tracks
from pitwall_cli.report_data import gather
from pitwall_cli.report_html import build_html
from pitwall_cli.runs import add_location, stack_now, stack_outputs
from pitwall_cli.tracks import add_tracks_option, tracks_folder


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("report", help="write one HTML report of a run (plots, settings)")
    parser.add_argument("run_id", metavar="RUN")
    parser.add_argument("-o", "--output", type=Path, metavar="FILE", help="the HTML file (default: RUN.html)")
    add_location(parser)
    parser.add_argument("--bucket", help="the model bucket, instead of reading it from the stack")
    add_tracks_option(parser)
    parser.set_defaults(func=write_report)


def write_report(args: argparse.Namespace) -> int:
    outputs: dict[str, str] = {} if args.table and args.bucket else stack_outputs(args)
    table = RunsTable(args.table or outputs["RunsTableName"])
    store = ObjectStore(args.bucket or outputs["ModelBucketName"])
    path = args.output or Path(f"{args.run_id}.html")
    try:
        # a live run's cost and time so far are measured on the stack's clock, as `pitwall status`
        # does (the local stack's runs far outpace the wall clock)
        now = stack_now(args)
        report_to(path, args.run_id, table=table, store=store, tracks=tracks_folder(args.tracks), now=now)
    except (RunNotFound, InvalidTrackFile, ValueError) as exc:  # ValueError: a metrics file not JSON
        print(exc)
        return 1
    print(f"report: {path}")
    return 0


def report_to(
    path: Path,
    run_id: str,
    *,
    table: RunsTable,
    store: ObjectStore,
    tracks: Path | None,
    now: float,
) -> Path:
    """Write the report of `run_id` to `path` (tracks: a folder of .npy files, None: built-in;
    now: on the stack's clock, which the run record's times are on)."""
    data = gather(table.get(run_id), store, load_tracks(tracks), now)
    path.write_text(build_html(data), encoding="utf-8")
    return path
