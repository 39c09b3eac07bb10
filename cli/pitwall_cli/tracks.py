"""`pitwall tracks list|show`: the tracks Pitwall knows (a folder of `.npy` files, or the
simulator's 127 tracks shipped with the package).

The tracks folder is the `--tracks` option, else the PITWALL_TRACKS_DIR environment variable,
else none (the simulator's tracks); `tracks_folder` is that rule, for every command that takes
tracks.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from pitwall.tracks import InvalidTrackFile, Track, load_tracks

TRACKS_DIR_ENV = "PITWALL_TRACKS_DIR"


def tracks_folder(option: Path | None) -> Path | None:
    """The `--tracks` option, else PITWALL_TRACKS_DIR, else None (the simulator's tracks)."""
    if option is not None:
        return option
    from_env = os.environ.get(TRACKS_DIR_ENV)
    return Path(from_env) if from_env else None


def add_tracks_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tracks",
        type=Path,
        metavar="FOLDER",
        help=f"folder of .npy track files (default: ${TRACKS_DIR_ENV}, else the simulator's tracks)",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("tracks", help="list the tracks or show one")
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="name, loop, length, width and direction of each track")
    add_tracks_option(listing)
    listing.set_defaults(func=run_list)
    show = actions.add_parser("show", help="one track's details (and a plot with --plot)")
    show.add_argument("name")
    show.add_argument("--plot", type=Path, metavar="FILE", help="draw the track into this PNG file")
    add_tracks_option(show)
    show.set_defaults(func=run_show)


def _tracks(args: argparse.Namespace) -> dict[str, Track] | None:
    folder = tracks_folder(args.tracks)
    try:
        return load_tracks(folder)
    except InvalidTrackFile as exc:
        print(f"pitwall tracks: {exc}", file=sys.stderr)
        return None


def _line(track: Track) -> str:
    loop = "loop" if track.is_loop else "open"
    width = float(np.median(track.widths))
    return f"{track.name:<34} {loop:<5} {track.length:7.2f} m  {width:5.3f} m  {track.direction}"


def run_list(args: argparse.Namespace) -> int:
    tracks = _tracks(args)
    if tracks is None:
        return 2
    print(f"{'name':<34} {'shape':<5} {'length':>9}  {'width':>7}  direction")
    for track in tracks.values():
        print(_line(track))
    return 0


def run_show(args: argparse.Namespace) -> int:
    tracks = _tracks(args)
    if tracks is None:
        return 2
    track = tracks.get(args.name)
    if track is None:
        print(
            f"pitwall tracks: no track {args.name!r} (allowed: {', '.join(sorted(tracks))})",
            file=sys.stderr,
        )
        return 2
    widths = track.widths
    print(f"name:       {track.name}")
    print(f"shape:      {'closed loop' if track.is_loop else 'open (start to finish)'}")
    print(f"direction:  {track.direction}")
    print(f"waypoints:  {track.waypoint_count}")
    print(f"length:     {track.length:.2f} m (centre line)")
    median = float(np.median(widths))
    print(f"width:      {widths.min():.3f} .. {widths.max():.3f} m (median {median:.3f})")
    x, y = track.center.points.T
    print(f"extent:     x {x.min():.2f} .. {x.max():.2f} m, y {y.min():.2f} .. {y.max():.2f} m")
    if args.plot:
        _plot(track, args.plot)
        print(f"plot:       {args.plot}")
    return 0


def _plot(track: Track, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(8, 8))
    for line, style in ((track.inner, "k-"), (track.outer, "k-"), (track.center, "c--")):
        axes.plot(*line.points.T, style, linewidth=1)
    axes.plot(*track.center.points[0], "go", label="waypoint 0")
    axes.annotate(
        "", xy=track.center.points[3], xytext=track.center.points[0], arrowprops={"arrowstyle": "->"}
    )
    axes.set_aspect("equal")
    axes.set_title(f"{track.name}: {track.length:.1f} m, {track.direction}")
    axes.legend(loc="best")
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
