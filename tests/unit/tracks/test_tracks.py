"""Tracks: every real track loads and agrees with INDEX.csv; geometry is consistent; the
built-in tracks are realistic; bad files get clear errors."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from pitwall.tracks import InvalidTrackFile, Track, builtin_tracks, load_tracks, read_track_file


@pytest.fixture(scope="module")
def real_tracks(simulator_tracks_folder: Path) -> dict[str, Track]:
    return load_tracks(simulator_tracks_folder)


@pytest.fixture(scope="module")
def index_rows(simulator_tracks_folder: Path) -> list[dict[str, str]]:
    with (simulator_tracks_folder / "INDEX.csv").open() as handle:
        return list(csv.DictReader(handle))


def test_every_real_track_loads_and_agrees_with_the_index(real_tracks, index_rows):
    assert len(real_tracks) == len(index_rows) == 127
    for row in index_rows:
        track = real_tracks[row["name"]]
        assert track.waypoint_count == int(row["rows"]), row["name"]
        assert track.is_loop == (row["closed_loop"] == "True"), row["name"]
        assert track.length == pytest.approx(float(row["centerline_length_m"]), abs=0.006), row["name"]
        assert float(np.median(track.border_gaps)) == pytest.approx(float(row["median_width_m"]), abs=6e-4)
        if track.is_loop:  # INDEX's orientation of the open Straight_track is not the simapp's rule
            assert track.direction == row["orientation"], row["name"]


def test_simapp_width_never_exceeds_the_rows_width(real_tracks):
    for track in real_tracks.values():
        assert np.all(track.widths <= track.border_gaps + 1e-6), track.name
        assert np.all(track.widths > 0.3), track.name


def test_reversed_view_reverses_waypoints_and_direction(real_tracks):
    for track in real_tracks.values():
        back = track.reversed_view()
        assert back.is_reversed and not track.is_reversed
        assert np.array_equal(back.center.points, track.center.points[::-1])
        assert back.length == pytest.approx(track.length)
        if track.is_loop:
            assert back.is_ccw != track.is_ccw
        assert back.reversed_view() is track


def _border_points_abreast(track: Track) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each waypoint, the points of the inner and outer border nearest to it, and half the
    local width."""
    inner = track.inner.project(track.center.points).nearest
    outer = track.outer.project(track.center.points).nearest
    return inner, outer, track.widths / 2


def test_border_points_are_half_a_width_from_the_centre_on_their_own_side(real_tracks):
    for track in [*real_tracks.values(), *(t.reversed_view() for t in real_tracks.values())]:
        inner, outer, half = _border_points_abreast(track)
        on_inner = track.side_of_center(inner)
        on_outer = track.side_of_center(outer)
        # Where a border runs abreast of the centre line the distance is exactly half the width;
        # at a corner a border point can sit nearer another part of the centre line.
        close = np.isclose(on_inner.distance_from_center, half, atol=0.02)
        assert close.mean() > 0.9, track.name
        assert np.isclose(on_outer.distance_from_center, half, atol=0.02).mean() > 0.9, track.name
        # left of centre: the inner border on a counter-clockwise drive, the outer on a clockwise
        assert (on_inner.is_left == track.is_ccw).mean() > 0.97, track.name
        assert (on_outer.is_left != track.is_ccw).mean() > 0.97, track.name


def test_closest_waypoints_bracket_a_point_and_progress_grows(real_tracks):
    for track in real_tracks.values():
        mids = (track.center.points[:-1] + track.center.points[1:]) / 2
        pairs = track.closest_waypoints(mids)
        usable = track.center.segment_lengths > 1e-9
        expected = np.column_stack([np.arange(len(mids)), np.arange(1, len(mids) + 1)])
        assert np.array_equal(pairs[usable], expected[usable]), track.name
        along = track.center.project(mids).distance
        assert np.all(np.diff(along[usable]) > 0), track.name


def test_projection_equals_a_brute_force_search(real_tracks):
    rng = np.random.default_rng(7)
    for track in list(real_tracks.values())[::9]:
        centre = track.center.points
        points = centre[rng.integers(0, len(centre), 200)] + rng.normal(0, 0.6, (200, 2))
        fast = track.center.project(points)
        for point, gap in zip(points, fast.gap, strict=True):
            a, b = centre[:-1], centre[1:]
            step = b - a
            t = np.clip(((point - a) * step).sum(1) / np.maximum((step * step).sum(1), 1e-300), 0, 1)
            brute = np.hypot(*(a + t[:, None] * step - point).T).min()
            assert gap == pytest.approx(brute, abs=1e-12)


def test_without_a_folder_the_simulators_tracks_are_used_with_their_licence(simulator_tracks_folder):
    tracks = load_tracks(None)
    assert len(tracks) == 127 and "reInvent2019_track" in tracks
    assert tracks.keys() == {path.stem for path in simulator_tracks_folder.glob("*.npy")}
    assert "Apache License" in (simulator_tracks_folder / "LICENSE").read_text()
    assert "deepracer-simapp" in (simulator_tracks_folder / "NOTICE.md").read_text()


def test_builtin_tracks_are_realistic_and_consistent():
    tracks = builtin_tracks()
    assert {"oval", "s_bend_circuit"} <= tracks.keys()
    directions = set()
    for track in tracks.values():
        assert 17.0 <= track.length <= 60.0, track.name
        assert np.allclose(track.widths, 1.067, atol=0.01), track.name
        assert np.all(track.center.segment_lengths < 0.35), track.name
        directions.add(track.direction if track.is_loop else "open")
        inner, _, half = _border_points_abreast(track)
        assert np.allclose(track.side_of_center(inner).distance_from_center, half, atol=0.01)
    assert directions == {"ccw", "cw", "open"}


def test_builtin_loops_repeat_their_first_row():
    for track in builtin_tracks().values():
        if track.is_loop:
            assert np.array_equal(track.rows[0], track.rows[-1])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (np.zeros((10, 4)), "shape (10, 4) found; expected (N, 6)"),
        (np.zeros((1, 6)), "shape (1, 6) found"),
        (np.zeros(6), "shape (6,) found"),
        (np.array([["a"] * 6] * 3), "dtype <U1 found"),
        (np.full((3, 6), np.nan), "NaN or infinite"),
        (np.zeros((3, 6)), "length 0"),
    ],
)
def test_a_bad_track_file_names_the_file_and_what_is_wrong(tmp_path, content, message):
    path = tmp_path / "broken.npy"
    np.save(path, content)
    with pytest.raises(InvalidTrackFile) as caught:
        read_track_file(path)
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_a_file_that_is_not_npy_is_reported(tmp_path):
    path = tmp_path / "notes.npy"
    path.write_text("not an array")
    with pytest.raises(InvalidTrackFile, match=r"notes\.npy: not a readable \.npy array"):
        read_track_file(path)


def test_a_folder_without_tracks_is_reported(tmp_path):
    with pytest.raises(InvalidTrackFile, match=r"no \.npy files found"):
        load_tracks(tmp_path)
    with pytest.raises(InvalidTrackFile, match="not a folder"):
        load_tracks(tmp_path / "missing")


def test_track_name_is_the_file_stem(tmp_path):
    rows = builtin_tracks()["oval"].rows
    np.save(tmp_path / "my_track_cw.npy", rows)
    assert list(load_tracks(tmp_path)) == ["my_track_cw"]


def test_oval_geometry_is_what_it_was_drawn_as():
    oval = builtin_tracks()["oval"]  # 10 m straights, 2.6 m radius, from (0, 0) heading east
    assert oval.length == pytest.approx(20.0 + 2 * np.pi * 2.6, abs=0.02)
    assert oval.cumulative_distance[0] == 0.0 and oval.cumulative_distance[-1] == pytest.approx(oval.length)
    assert oval.waypoint_heading(0) == pytest.approx(0.0)
    assert np.allclose(oval.left_normals[0], [0.0, 1.0], atol=0.05)  # where the last arc meets
    on_back_straight = int(np.argmin(np.hypot(*(oval.center.points - [5.0, 5.2]).T)))
    assert abs(oval.waypoint_heading(on_back_straight)) == pytest.approx(180.0)
    assert np.all(np.abs(oval.segment_headings) <= 180.0) and np.all(oval.segment_headings > -180.0)
    back = oval.reversed_view()
    assert back.waypoint_heading(0) == pytest.approx(180.0, abs=5.0)  # westwards, into the arc
    assert np.allclose(back.left_normals[0], [0.0, -1.0], atol=0.05)


def test_open_track_ends_use_their_own_segments():
    sprint = builtin_tracks()["sprint"]
    last = sprint.waypoint_count - 1
    assert not sprint.is_loop
    assert sprint.waypoint_heading(last) == pytest.approx(float(sprint.segment_headings[-1]))
    assert np.allclose(sprint.waypoints_around([0.0, 1.0]), [[0, 1], [last, 0]])
