"""Race tracks: the geometry the reward `params` need, read from a folder of the simapp's `.npy`
files, or generated (the built-in tracks) when no folder is given."""

from __future__ import annotations

from pathlib import Path

from pitwall.tracks.builtin import builtin_tracks
from pitwall.tracks.geometry import Polyline, Projection, SideOfCenter, Track
from pitwall.tracks.loading import InvalidTrackFile, read_track_file, read_track_folder, track_from_array


def load_tracks(folder: Path | None) -> dict[str, Track]:
    """Tracks by name (the file stem): every `.npy` file of `folder`, or the built-in tracks."""
    return builtin_tracks() if folder is None else read_track_folder(folder)


__all__ = [
    "InvalidTrackFile",
    "Polyline",
    "Projection",
    "SideOfCenter",
    "Track",
    "builtin_tracks",
    "load_tracks",
    "read_track_file",
    "read_track_folder",
    "track_from_array",
]
