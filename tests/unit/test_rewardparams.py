"""Reward params: the keys and types the simapp gives, consistent values on real geometry,
and cases that cover what a reward function meets."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from pitwall.rewardparams import (
    CarState,
    PlacedObject,
    actions_of,
    params_at,
    params_cases,
    params_for_states,
)
from pitwall.tracks import Track, builtin_tracks, load_tracks

DISCRETE = [{"steering_angle": a, "speed": s} for a in (-30.0, 0.0, 30.0) for s in (1.0, 3.0)]
CONTINUOUS = {"steering_angle": {"low": -30.0, "high": 30.0}, "speed": {"low": 0.5, "high": 4.0}}

KEY_TYPES = {
    "all_wheels_on_track": bool,
    "x": float,
    "y": float,
    "heading": float,
    "distance_from_center": float,
    "projection_distance": float,
    "progress": float,
    "steps": float,
    "speed": float,
    "steering_angle": float,
    "track_width": float,
    "track_length": float,
    "waypoints": list,
    "closest_waypoints": list,
    "is_left_of_center": bool,
    "is_reversed": bool,
    "is_crashed": bool,
    "is_offtrack": bool,
    "sim_time": float,
    "closest_objects": list,
    "objects_location": list,
    "objects_left_of_center": list,
    "object_in_camera": bool,
    "objects_speed": list,
    "objects_heading": list,
    "objects_distance_from_center": list,
    "objects_distance": list,
}


@pytest.fixture(scope="module")
def real_tracks(simulator_tracks_folder: Path) -> dict[str, Track]:
    return load_tracks(simulator_tracks_folder)


def _check_types(label: str, params: dict) -> None:
    assert params.keys() == KEY_TYPES.keys(), label
    for key, kind in KEY_TYPES.items():
        assert type(params[key]) is kind, f"{label}: {key} is {type(params[key]).__name__}"
    assert all(type(point) is tuple and len(point) == 2 for point in params["waypoints"]), label
    assert all(type(i) is int for i in params["closest_waypoints"] + params["closest_objects"]), label


def _check_values(label: str, params: dict) -> None:
    for key in ("x", "y", "heading", "distance_from_center", "progress", "track_width", "track_length"):
        assert math.isfinite(params[key]), f"{label}: {key}"
    assert -180.0 < params["heading"] <= 180.0, label
    assert 0.0 <= params["progress"] <= 100.0, label
    assert params["steps"] >= 1.0, label
    waypoints = params["waypoints"]
    prev, nxt = params["closest_waypoints"]
    assert 0 <= prev < len(waypoints) and 0 <= nxt < len(waypoints), label
    assert nxt == prev + 1 or (nxt == 0 and prev == len(waypoints) - 1), label
    if params["is_offtrack"]:
        assert not params["all_wheels_on_track"], label


def test_every_case_on_every_real_track_has_the_simapp_keys_types_and_sane_values(real_tracks):
    for track in real_tracks.values():
        count = 0
        for label, params in params_cases(track, DISCRETE, "TIME_TRIAL"):
            _check_types(label, params)
            _check_values(label, params)
            count += 1
        assert track.waypoint_count * 2 <= count <= 2 * track.waypoint_count + 150, track.name


def test_cases_with_objects_on_real_tracks(real_tracks):
    for track in list(real_tracks.values())[::5]:
        for race in ("OBJECT_AVOIDANCE", "HEAD_TO_BOT"):
            for label, params in params_cases(track, CONTINUOUS, race):
                _check_types(label, params)
                _check_values(label, params)
                assert len(params["objects_location"]) == 3, label
                assert len(params["objects_left_of_center"]) == len(params["objects_distance"]) == 3
                moving = race == "HEAD_TO_BOT"
                assert all((speed > 0) == moving for speed in params["objects_speed"]), label


def test_waypoints_repeat_the_first_on_loops_and_run_backwards_when_reversed():
    oval = builtin_tracks()["oval"]
    forward = params_at(oval, waypoint=3, speed=1.0, steering_angle=0.0)
    backward = params_at(oval, waypoint=3, speed=1.0, steering_angle=0.0, reversed=True)
    assert forward["waypoints"][0] == forward["waypoints"][-1]
    assert backward["waypoints"] == forward["waypoints"][::-1]
    assert backward["is_reversed"] and not forward["is_reversed"]


def test_progress_grows_along_the_track_in_both_directions(real_tracks):
    for track in real_tracks.values():
        for driven in (track, track.reversed_view()):
            states = [CarState(i) for i in range(driven.waypoint_count - 1)]
            progress = [params["progress"] for params in params_for_states(driven, states)]
            assert progress[0] == pytest.approx(0.0, abs=1e-9)
            assert np.all(np.diff(progress) >= 0), track.name
            assert progress[-1] > 95.0, track.name


def test_progress_counts_from_this_episodes_start():
    track = builtin_tracks()["s_bend_circuit"]
    start = 60
    just_after = params_at(track, waypoint=start + 3, speed=1.0, steering_angle=0.0, start_waypoint=start)
    just_before = params_at(track, waypoint=start - 1, speed=1.0, steering_angle=0.0, start_waypoint=start)
    assert 0.0 < just_after["progress"] < 3.0
    assert just_before["progress"] > 99.0


def test_left_and_right_of_centre_follow_the_driving_direction(real_tracks):
    for track in real_tracks.values():
        for reversed_ in (False, True):
            for offset, left in ((0.2, True), (-0.2, False)):
                params = params_at(
                    track, waypoint=4, offset=offset, speed=1.0, steering_angle=0.0, reversed=reversed_
                )
                assert params["is_left_of_center"] is left, (track.name, reversed_, offset)
                # across the corner's bisector: 0.2 m on the outside, a little less inside it
                assert 0.15 < params["distance_from_center"] <= 0.2 + 1e-9, track.name


def test_wheels_on_the_border_and_beyond_it():
    for track in builtin_tracks().values():
        half = float(track.widths[10]) / 2
        centre = params_at(track, waypoint=10, speed=1.0, steering_angle=0.0)
        border = params_at(track, waypoint=10, offset=half, speed=1.0, steering_angle=0.0)
        beyond = params_at(track, waypoint=10, offset=-(half + 0.35), speed=1.0, steering_angle=0.0)
        assert centre["all_wheels_on_track"] and not centre["is_offtrack"]
        assert not border["all_wheels_on_track"] and not border["is_offtrack"]
        assert not beyond["all_wheels_on_track"] and beyond["is_offtrack"]


def test_heading_follows_the_track_and_the_offset():
    track = builtin_tracks()["oval"]  # starts heading east
    assert params_at(track, waypoint=0, speed=1.0, steering_angle=0.0)["heading"] == pytest.approx(0.0)
    turned = params_at(track, waypoint=0, heading_offset=-190.0, speed=1.0, steering_angle=0.0)
    assert turned["heading"] == pytest.approx(170.0)
    backwards = params_at(track, waypoint=0, heading_offset=180.0, speed=1.0, steering_angle=0.0)
    assert backwards["heading"] == pytest.approx(180.0)


def test_the_cases_cover_the_special_states():
    track = builtin_tracks()["oval"]
    cases = list(params_cases(track, DISCRETE, "TIME_TRIAL"))
    labels = [label for label, _ in cases]
    assert len(labels) == len(set(labels))
    by_kind = {
        "off track": [p for label, p in cases if "off track" in label],
        "crashed": [p for label, p in cases if label.endswith("crashed")],
        "reversed": [p for label, p in cases if " reversed:" in label],
        "lap complete": [p for label, p in cases if label.endswith("lap complete")],
    }
    assert all(p["is_offtrack"] for p in by_kind["off track"]) and by_kind["off track"]
    assert all(p["is_crashed"] for p in by_kind["crashed"]) and by_kind["crashed"]
    assert all(p["is_reversed"] for p in by_kind["reversed"]) and by_kind["reversed"]
    assert [p["progress"] for p in by_kind["lap complete"]] == [100.0, 100.0]
    assert {(p["steering_angle"], p["speed"]) for _, p in cases} == set(actions_of(DISCRETE))
    assert min(p["steps"] for _, p in cases) == 1.0
    assert any(p["steps"] >= 1000 for _, p in cases)
    assert any(p["is_left_of_center"] for _, p in cases) and any(not p["is_left_of_center"] for _, p in cases)
    assert any(p["distance_from_center"] < 1e-9 for _, p in cases)
    assert all(p["objects_location"] == [] and p["closest_objects"] == [0, 0] for _, p in cases)
    near = {i for label, p in cases if " forward:" in label for i in p["closest_waypoints"]}
    assert near >= set(range(track.waypoint_count - 1))


def test_a_continuous_space_is_tried_at_its_bounds_and_middle():
    assert actions_of(CONTINUOUS) == [(a, s) for a in (-30.0, 0.0, 30.0) for s in (0.5, 2.25, 4.0)]


@pytest.mark.parametrize(
    "bad", [[], {}, "fast", [{"steering_angle": 1}], {"steering_angle": {"low": 0}, "speed": {}}]
)
def test_a_bad_action_space_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="action_space"):
        actions_of(bad)


def test_an_unknown_race_type_is_a_clear_error():
    with pytest.raises(
        ValueError, match=r"race_type: 'RALLY' \(allowed: TIME_TRIAL, OBJECT_AVOIDANCE, HEAD_TO_BOT\)"
    ):
        next(params_cases(builtin_tracks()["oval"], DISCRETE, "RALLY"))


def test_a_waypoint_outside_the_track_is_a_clear_error():
    track = builtin_tracks()["oval"]
    with pytest.raises(
        ValueError, match=r"waypoint 999 is not a waypoint of track 'oval' \(allowed: 0\.\.124\)"
    ):
        params_at(track, waypoint=999, speed=1.0, steering_angle=0.0)


def test_an_object_ahead_in_the_same_lane_is_the_next_object_and_in_camera():
    track = builtin_tracks()["oval"]
    objects = [PlacedObject(20, 0.25), PlacedObject(60, -0.25), PlacedObject(100, 0.25)]
    params = params_at(track, waypoint=17, offset=0.25, speed=1.0, steering_angle=0.0, objects=objects)
    assert params["closest_objects"] == [2, 0]
    assert params["objects_left_of_center"] == [True, False, True]
    assert params["is_left_of_center"] is True
    assert params["object_in_camera"] is True
    ahead = params["objects_distance"][0] - params["projection_distance"]
    assert 0.5 < ahead < 1.5
    assert params["objects_heading"] == [0.0, 0.0, 0.0]  # obstacles, not bot cars
    far = params_at(track, waypoint=40, speed=1.0, steering_angle=0.0, objects=objects)
    assert far["closest_objects"] == [0, 1] and far["object_in_camera"] is False


def test_bot_cars_carry_speed_and_heading_in_radians():
    track = builtin_tracks()["oval"]
    params = params_at(
        track, waypoint=5, speed=1.0, steering_angle=0.0, objects=[PlacedObject(10, 0.0, speed=0.4)]
    )
    assert params["objects_speed"] == [0.4]
    assert params["objects_heading"][0] == pytest.approx(0.0, abs=1e-9)  # heading east on the oval


def test_params_are_plain_json():
    track = builtin_tracks()["sprint"]
    for _, params in params_cases(track, DISCRETE, "HEAD_TO_BOT"):
        assert json.loads(json.dumps(params))["steps"] == params["steps"]
