"""`pitwall validate DIR`: check a custom-files folder (reward_function.py, model_metadata.json,
hyperparameters.json, and run.env / system.env when present) before any instance is launched.

Lists every problem and warning (file, field, value, what is allowed) and exits 1 on any
problem. The reward function runs on params from the run's track (DR_WORLD_NAME), else from
every track of the tracks folder (`--tracks`, else PITWALL_TRACKS_DIR, else the simulator's 127).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pitwall.customfiles.validate import PYTHON_VERSIONS, validate_folder
from pitwall.tracks import InvalidTrackFile, load_tracks
from pitwall_cli.tracks import add_tracks_option, tracks_folder


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("validate", help="check a custom-files folder and its run settings")
    parser.add_argument("folder", type=Path, metavar="DIR")
    add_tracks_option(parser)
    parser.add_argument(
        "--python38",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run the reward function under a real Python 3.8 where one exists (default: yes)",
    )
    parser.add_argument(
        "--no-run",
        dest="dynamic",
        action="store_false",
        help="check the rules only; do not run the reward function",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        tracks = load_tracks(tracks_folder(args.tracks))
    except (InvalidTrackFile, OSError) as error:
        print(f"tracks: {error}", file=sys.stderr)
        return 2
    versions = [version for version in PYTHON_VERSIONS if version != "3.8" or args.python38]
    report = validate_folder(args.folder, tracks=tracks, python_versions=versions, dynamic=args.dynamic)
    print(report.model_dump_json(indent=2) if args.json else report.render())
    return 0 if report.ok else 1
