"""Reading track files: a folder of the simapp's `.npy` files, one track per file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pitwall.errors import PitwallError
from pitwall.tracks.geometry import COLUMNS, Track

TRACK_SUFFIX = ".npy"
EXPECTED_SHAPE = f"(N, {len(COLUMNS)}) float, N >= 2, columns {', '.join(COLUMNS)}"


class InvalidTrackFile(PitwallError, ValueError):
    """A track file cannot be used; the message names the file, what was found and what is expected."""


def track_from_array(name: str, rows: np.ndarray, *, source: str | None = None) -> Track:
    """A Track from an (N, 6) array, checked: the error names `source` (a file) or `name`."""
    where = source or name
    if rows.dtype.kind not in "fiu":
        raise InvalidTrackFile(f"{where}: dtype {rows.dtype} found; expected {EXPECTED_SHAPE}")
    if rows.ndim != 2 or rows.shape[1] != len(COLUMNS) or rows.shape[0] < 2:
        raise InvalidTrackFile(f"{where}: shape {rows.shape} found; expected {EXPECTED_SHAPE}")
    rows = np.ascontiguousarray(rows, dtype=np.float64)
    if not np.all(np.isfinite(rows)):
        raise InvalidTrackFile(f"{where}: NaN or infinite coordinates found; expected finite metres")
    track = Track(name, rows)
    if track.length <= 0.0:
        raise InvalidTrackFile(f"{where}: centre line of length 0; expected distinct waypoints")
    return track


def read_track_file(path: Path) -> Track:
    """One `.npy` track file; the track's name is the file's stem (`_cw`/`_ccw` kept)."""
    try:
        rows = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise InvalidTrackFile(
            f"{path}: not a readable .npy array ({exc}); expected {EXPECTED_SHAPE}"
        ) from exc
    if not isinstance(rows, np.ndarray):
        raise InvalidTrackFile(f"{path}: {type(rows).__name__} found; expected one array {EXPECTED_SHAPE}")
    return track_from_array(path.stem, rows, source=str(path))


def read_track_folder(folder: Path) -> dict[str, Track]:
    """Every `*.npy` file of `folder`, by name, sorted."""
    if not folder.is_dir():
        raise InvalidTrackFile(f"{folder}: not a folder; expected a folder of {TRACK_SUFFIX} track files")
    tracks = {path.stem: read_track_file(path) for path in sorted(folder.glob(f"*{TRACK_SUFFIX}"))}
    if not tracks:
        raise InvalidTrackFile(f"{folder}: no {TRACK_SUFFIX} files found; expected at least one track")
    return tracks
