"""Race tracks: the geometry the reward `params` need, read from a folder of the simapp's `.npy`
files. Without a folder: the simulator's own 127 tracks, shipped in `tracks/data/`. The generated
tracks (`builtin_tracks`) are tiny shapes for tests."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pitwall.tracks.builtin import builtin_tracks
from pitwall.tracks.geometry import Polyline, Projection, SideOfCenter, Track
from pitwall.tracks.loading import InvalidTrackFile, read_track_file, read_track_folder, track_from_array

SIMULATOR_TRACKS_FOLDER = Path(__file__).resolve().parent / "data"


@cache
def _simulator_tracks() -> tuple[Track, ...]:
    return tuple(read_track_folder(SIMULATOR_TRACKS_FOLDER).values())


def simulator_tracks() -> dict[str, Track]:
    """The simulator's tracks shipped with the package (`tracks/data/`, Apache-2.0), by name."""
    return {track.name: track for track in _simulator_tracks()}


def load_tracks(folder: Path | None) -> dict[str, Track]:
    """Tracks by name (the file stem): every `.npy` file of `folder`, else the simulator's tracks."""
    return simulator_tracks() if folder is None else read_track_folder(folder)


__all__ = [
    "SIMULATOR_TRACKS_FOLDER",
    "InvalidTrackFile",
    "Polyline",
    "Projection",
    "SideOfCenter",
    "Track",
    "builtin_tracks",
    "load_tracks",
    "read_track_file",
    "read_track_folder",
    "simulator_tracks",
    "track_from_array",
]
