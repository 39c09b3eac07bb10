"""The reward function's `params`, built as the DeepRacer simulation app builds them.

`params_at` gives the params of one state of the car on a track; `params_cases` gives a bounded
set of labelled states that together cover what a reward function meets in training (every
waypoint, both directions, on and off the centre line, off track, crashed, facing backwards,
each action, objects, the float `steps` counter, a completed lap). The reward-function
validator calls every case.

What the simapp does (deepracer-simapp, `markov/agent_ctrl/utils.py::set_reward_and_metrics`,
`markov/track_geom/track_data.py`), and what this module copies:
- `x`, `y` are of a point 0.14 m in front of the car's origin; every distance below is of it.
- `progress` is the share of the centre line from this episode's start point to the point's
  projection, in percent; `projection_distance` the projection's distance from waypoint 0.
- `closest_waypoints` are the waypoints either side of the projection ([prev, next]).
- `distance_from_center` is the distance to the centre line; `track_width` the distance
  between the border points nearest to the projection; `is_left_of_center` is "nearer the
  inner border than the outer" XOR "clockwise" (both in the driving direction).
- `waypoints` is the centre line as a list of (x, y) tuples, in the driving direction.
- `all_wheels_on_track`: all four wheels on the road; `is_offtrack`: none of them.
- `steps` is a float counter, 1.0 on the first step of an episode.
- the object keys are present with empty defaults when the race has no objects.

Approximations (the simapp reads them from the physics engine): the wheel positions
(`WHEEL_OFFSETS`), "on the road" as "no farther from the centre line than half the local
width", `object_in_camera` as "the next object lies inside the camera's field of view and
range", and `sim_time` as steps / 15 Hz.

Every params dict of one batch (`params_for_states`; one per track and direction in
`params_cases`) shares one `waypoints` list object, so a caller that streams params elsewhere
can send it once; with objects, the object lists are shared too. Treat params as read-only, or
copy them (the simapp hands each call a deep copy).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from pitwall.tracks import Track
from pitwall.tracks.geometry import FloatArray, SideOfCenter, normalise_deg

FRONT_OFFSET = 0.14  # m: the params' point, ahead of the car's origin (simapp constant)
# Wheel centres relative to the car's origin (m, forward, left); approximated from the
# DeepRacer model: 0.164 m wheelbase, 0.162 m track.
WHEEL_OFFSETS = ((0.082, 0.081), (0.082, -0.081), (-0.082, 0.081), (-0.082, -0.081))
STEP_HZ = 15.0  # reward calls per simulated second
CAMERA_HALF_FOV_DEG = 60.0  # the DeepRacer camera sees 120 degrees
CAMERA_RANGE = 3.0  # m, how far an object still shows in the camera image (approximation)
BOT_CAR_SPEED = 0.2  # m/s, DRFC's default DR_H2B_BOT_CAR_SPEED
OBJECT_COUNT = 3


class RaceType(StrEnum):
    TIME_TRIAL = "TIME_TRIAL"
    OBJECT_AVOIDANCE = "OBJECT_AVOIDANCE"
    HEAD_TO_BOT = "HEAD_TO_BOT"


@dataclass(frozen=True)
class PlacedObject:
    """An obstacle or bot car on the track, placed in the driving direction's terms."""

    waypoint: int
    offset: float = 0.0  # m, left of the centre line positive
    speed: float = 0.0  # m/s; a bot car moves, an obstacle does not


@dataclass(frozen=True)
class CarState:
    """One moment of an episode, from which the params follow."""

    waypoint: int  # index into the driving direction's waypoints
    offset: float = 0.0  # m, left of the centre line positive
    heading_offset: float = 0.0  # degrees, relative to the track's heading at the waypoint
    speed: float = 1.0
    steering_angle: float = 0.0
    steps: float = 1.0
    start_waypoint: int = 0  # where this episode started (progress counts from it)
    is_crashed: bool = False


Action = tuple[float, float]  # (steering_angle, speed)


# -- one state -------------------------------------------------------------------------------
def params_at(
    track: Track,
    *,
    waypoint: int,
    offset: float = 0.0,
    heading_offset: float = 0.0,
    speed: float,
    steering_angle: float,
    reversed: bool = False,
    steps: float = 1.0,
    start_waypoint: int = 0,
    is_crashed: bool = False,
    objects: Sequence[PlacedObject] | None = None,
) -> dict[str, Any]:
    """The params of the car's front point at `waypoint` (of the driving direction), `offset`
    metres left of the centre line (across the corner's bisector), heading `heading_offset`
    degrees off the track's heading there.

    `reversed` is relative to the track file's order (the simapp's REVERSE_DIR), whichever
    view of the track is passed in. `start_waypoint` is where the episode started: progress
    counts from there."""
    driven = _driven(track, reversed)
    state = CarState(
        waypoint=waypoint,
        offset=offset,
        heading_offset=heading_offset,
        speed=speed,
        steering_angle=steering_angle,
        steps=steps,
        start_waypoint=start_waypoint,
        is_crashed=is_crashed,
    )
    return params_for_states(driven, [state], objects)[0]


def _driven(track: Track, reversed: bool) -> Track:
    return track.reversed_view() if reversed != track.is_reversed else track


def _check_waypoint(track: Track, index: int, what: str) -> None:
    if not 0 <= index < track.waypoint_count:
        raise ValueError(
            f"{what} {index} is not a waypoint of track {track.name!r} "
            f"(allowed: 0..{track.waypoint_count - 1})"
        )


def _left_normals(track: Track, indices: Sequence[int]) -> tuple[FloatArray, FloatArray]:
    """Heading (degrees) at each waypoint and the unit vector pointing left of it."""
    headings = np.array([track.waypoint_heading(i) for i in indices], dtype=np.float64)
    return headings, track.left_normals[list(indices)]


def _wheels_on_road(
    track: Track,
    side: SideOfCenter,
    front: FloatArray,
    ahead: FloatArray,
    left: FloatArray,
    origin: FloatArray,
) -> npt.NDArray[np.bool_]:
    """(4, M): each wheel no farther from the centre line than half the local width, measured
    across the centre-line segment under the front point (exact on straights; on the tightest
    real corners the error is a few centimetres)."""
    starts = track.center.points[side.segment]
    along = track.center.points[side.segment + 1] - starts
    along /= np.where(np.hypot(*along.T) > 0, np.hypot(*along.T), 1.0)[:, None]
    across = np.column_stack([-along[:, 1], along[:, 0]])  # the centre line's left
    front_offset = np.einsum("mj,mj->m", front - side.nearest, across)
    lateral = np.stack(
        [
            front_offset + np.einsum("mj,mj->m", origin + fwd * ahead + lat * left - front, across)
            for fwd, lat in WHEEL_OFFSETS
        ]
    )
    return np.asarray(np.abs(lateral) <= side.width / 2, dtype=np.bool_)


def params_for_states(
    track: Track, states: Sequence[CarState], objects: Sequence[PlacedObject] | None = None
) -> list[dict[str, Any]]:
    """The params of many states on `track` as driven (see `Track.reversed_view`), computed
    together (one pass of vectorised geometry)."""
    for state in states:
        _check_waypoint(track, state.waypoint, "waypoint")
        _check_waypoint(track, state.start_waypoint, "start_waypoint")
    indices = [s.waypoint for s in states]
    headings, lefts = _left_normals(track, indices)
    offsets = np.array([s.offset for s in states], dtype=np.float64)
    front = track.center.points[indices] + offsets[:, None] * lefts
    car_heading = normalise_deg(headings + np.array([s.heading_offset for s in states]))
    ahead = np.column_stack([np.cos(np.radians(car_heading)), np.sin(np.radians(car_heading))])
    left = np.column_stack([-ahead[:, 1], ahead[:, 0]])
    origin = front - FRONT_OFFSET * ahead

    side = track.side_of_center(front)
    wheel_on_road = _wheels_on_road(track, side, front, ahead, left, origin)

    length = track.length
    fractions = side.distance_along / length
    closest = track.waypoints_around(fractions)
    start_fractions = track.waypoint_fractions[[s.start_waypoint for s in states]]
    if track.is_loop:
        progress = np.mod(fractions - start_fractions, 1.0) * 100.0
    else:
        progress = np.clip((fractions - start_fractions) * 100.0, 0.0, 100.0)

    waypoints = [(x, y) for x, y in track.center.points.tolist()]
    all_on = wheel_on_road.all(axis=0).tolist()
    none_on = (~wheel_on_road.any(axis=0)).tolist()
    columns = zip(
        front.tolist(),
        car_heading.tolist(),
        side.distance_from_center.tolist(),
        side.distance_along.tolist(),
        progress.tolist(),
        side.width.tolist(),
        closest.tolist(),
        side.is_left.tolist(),
        strict=True,
    )
    scene = _Scene.build(track, objects) if objects else None
    result = []
    for k, (state, (xy, heading, off_center, along, prog, width, near, left_of)) in enumerate(
        zip(states, columns, strict=True)
    ):
        params: dict[str, Any] = {
            "all_wheels_on_track": all_on[k],
            "x": xy[0],
            "y": xy[1],
            "heading": heading,
            "distance_from_center": off_center,
            "projection_distance": along,
            "progress": prog,
            "steps": float(state.steps),
            "speed": float(state.speed),
            "steering_angle": float(state.steering_angle),
            "track_width": width,
            "track_length": length,
            "waypoints": waypoints,
            "closest_waypoints": near,
            "is_left_of_center": left_of,
            "is_reversed": track.is_reversed,
            "is_crashed": bool(state.is_crashed),
            "is_offtrack": none_on[k],
            "sim_time": float(state.steps) / STEP_HZ,
            # the object keys as the simapp leaves them in a race without objects
            "closest_objects": [0, 0],
            "objects_location": [],
            "objects_left_of_center": [],
            "object_in_camera": False,
            "objects_speed": [],
            "objects_heading": [],
            "objects_distance_from_center": [],
            "objects_distance": [],
        }
        if scene is not None:
            params.update(scene.params_for(origin[k], heading, along))
        result.append(params)
    return result


@dataclass(frozen=True)
class _Scene:
    """The objects on a track, with what does not depend on the car computed once."""

    locations: list[list[float]]
    left_of_center: list[bool]
    speeds: list[float]
    headings: list[float]  # radians
    distance_from_center: list[float]
    distance_along: list[float]
    order: list[int]  # object indices sorted by distance along the centre line
    sorted_along: list[float]

    @classmethod
    def build(cls, track: Track, objects: Sequence[PlacedObject]) -> _Scene:
        for placed in objects:
            _check_waypoint(track, placed.waypoint, "object waypoint")
        indices = [o.waypoint for o in objects]
        headings, lefts = _left_normals(track, indices)
        points = track.center.points[indices] + np.array([o.offset for o in objects])[:, None] * lefts
        side = track.side_of_center(points)
        bot_cars = any(o.speed > 0 for o in objects)  # the simapp sets headings only for bot cars
        along = [float(d) for d in side.distance_along]
        order = sorted(range(len(objects)), key=lambda i: along[i])
        return cls(
            locations=[[float(x), float(y)] for x, y in points],
            left_of_center=[bool(v) for v in side.is_left],
            speeds=[float(o.speed) for o in objects],
            headings=[math.radians(h) if bot_cars else 0.0 for h in headings],
            distance_from_center=[float(d) for d in side.distance_from_center],
            distance_along=along,
            order=order,
            sorted_along=[along[i] for i in order],
        )

    def params_for(self, origin: FloatArray, heading_deg: float, distance_along: float) -> dict[str, Any]:
        """The object keys for a car there. The lists are shared by every call: read-only."""
        next_pos = bisect.bisect_right(self.sorted_along, distance_along)
        prev_pos = next_pos - 1 if next_pos > 0 else len(self.order) - 1
        next_pos = 0 if next_pos == len(self.order) else next_pos
        next_object = self.order[next_pos]
        return {
            "closest_objects": [self.order[prev_pos], next_object],
            "objects_location": self.locations,
            "objects_left_of_center": self.left_of_center,
            "object_in_camera": self._in_camera(origin, heading_deg, next_object),
            "objects_speed": self.speeds,
            "objects_heading": self.headings,
            "objects_distance_from_center": self.distance_from_center,
            "objects_distance": self.distance_along,
        }

    def _in_camera(self, origin: FloatArray, heading_deg: float, index: int) -> bool:
        dx = self.locations[index][0] - float(origin[0])
        dy = self.locations[index][1] - float(origin[1])
        bearing = (math.degrees(math.atan2(dy, dx)) - heading_deg + 180.0) % 360.0 - 180.0
        return math.hypot(dx, dy) <= CAMERA_RANGE and abs(bearing) <= CAMERA_HALF_FOV_DEG


# -- the action space ------------------------------------------------------------------------
def actions_of(action_space: Any) -> list[Action]:
    """(steering_angle, speed) pairs to try: each action of a discrete space (a list of
    {"steering_angle", "speed"}), or low/mid/high of each bound of a continuous one (a dict
    {"steering_angle": {"low", "high"}, "speed": {"low", "high"}})."""
    if isinstance(action_space, Mapping):
        try:
            steer = action_space["steering_angle"]
            speed = action_space["speed"]
            steer_values = _low_mid_high(float(steer["low"]), float(steer["high"]))
            speed_values = _low_mid_high(float(speed["low"]), float(speed["high"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(
                f"action_space: a continuous space needs steering_angle and speed, each with "
                f"numeric low and high (got {action_space!r})"
            ) from exc
        return [(a, s) for a in steer_values for s in speed_values]
    if isinstance(action_space, Sequence) and not isinstance(action_space, str) and action_space:
        try:
            return [(float(a["steering_angle"]), float(a["speed"])) for a in action_space]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(
                f"action_space: each discrete action needs numeric steering_angle and speed "
                f"(got {action_space!r})"
            ) from exc
    raise ValueError(
        "action_space: expected a non-empty list of {steering_angle, speed} actions or a dict "
        f"of low/high bounds (got {action_space!r})"
    )


def _low_mid_high(low: float, high: float) -> list[float]:
    return [low, (low + high) / 2, high]


# -- the cases -------------------------------------------------------------------------------
# Patterns the sweep over every waypoint cycles through (periods differ so combinations vary).
SWEEP_OFFSETS = (0.0, 0.25, -0.25, 0.45, -0.45)  # shares of the local width, left positive
SWEEP_HEADINGS = (0.0, 10.0, -10.0, 25.0, -25.0, 5.0, -45.0)  # degrees off the track heading
SPECIAL_SPOTS = 6  # waypoints, spread along the track, that get the special cases
OFF_TRACK_MARGIN = 0.35  # m beyond the border: every wheel off the road


def params_cases(
    track: Track, action_space: Any, race_type: str | RaceType = RaceType.TIME_TRIAL
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Labelled params covering what a reward function meets on `track` (see the module doc).

    At most about 2 x waypoints + 150 cases per track (the longest real track has 401 rows).
    """
    try:
        race = RaceType(race_type)
    except ValueError:
        allowed = ", ".join(RaceType)
        raise ValueError(f"race_type: {race_type!r} (allowed: {allowed})") from None
    actions = actions_of(action_space)
    for reversed in (False, True):
        driven = _driven(track, reversed)
        objects = _objects_for(driven, race)
        labelled = [*_states(driven, actions, objects), _lap_complete(driven, actions)]
        all_params = params_for_states(driven, [state for _, state in labelled], objects)
        all_params[-1]["progress"] = 100.0  # the simapp reports 100 on a lap's last step
        direction = "reversed" if reversed else "forward"
        for (label, _), params in zip(labelled, all_params, strict=True):
            yield f"{track.name} {direction}: {label}", params


def _objects_for(track: Track, race: RaceType) -> list[PlacedObject]:
    if race is RaceType.TIME_TRIAL:
        return []
    speed = BOT_CAR_SPEED if race is RaceType.HEAD_TO_BOT else 0.0
    usable = track.waypoint_count - 1
    objects = []
    for k in range(OBJECT_COUNT):
        waypoint = usable * (k + 1) // (OBJECT_COUNT + 1)
        lane = 0.25 * float(track.widths[waypoint]) * (1 if k % 2 == 0 else -1)
        objects.append(PlacedObject(waypoint, lane, speed))
    return objects


def _states(
    track: Track, actions: list[Action], objects: list[PlacedObject]
) -> Iterator[tuple[str, CarState]]:
    count = track.waypoint_count
    widths = track.widths
    for i in range(count):
        share = SWEEP_OFFSETS[i % len(SWEEP_OFFSETS)]
        heading = SWEEP_HEADINGS[i % len(SWEEP_HEADINGS)]
        steer, speed = actions[i % len(actions)]
        yield (
            f"waypoint {i}, {share:+.2f} of the width, heading {heading:+.0f} deg, action {i % len(actions)}",
            CarState(i, share * float(widths[i]), heading, speed, steer, steps=1.0 + 2.0 * i),
        )
    steer, speed = actions[0]
    for spot in range(SPECIAL_SPOTS):
        i = (count - 1) * spot // SPECIAL_SPOTS
        half = float(widths[i]) / 2
        base = CarState(i, 0.0, 0.0, speed, steer, steps=1.0 + 2.0 * i)
        yield f"waypoint {i}, off track left", replace(base, offset=half + OFF_TRACK_MARGIN)
        yield f"waypoint {i}, off track right", replace(base, offset=-half - OFF_TRACK_MARGIN)
        yield f"waypoint {i}, on the left border", replace(base, offset=half)
        yield f"waypoint {i}, on the right border", replace(base, offset=-half)
        yield f"waypoint {i}, crashed", replace(base, is_crashed=True)
        yield f"waypoint {i}, facing backwards", replace(base, heading_offset=180.0)
        yield f"waypoint {i}, sideways", replace(base, heading_offset=90.0)
    for a, (steer, speed) in enumerate(actions):
        yield f"first step, action {a}", CarState(0, 0.0, 0.0, speed, steer, steps=1.0)
    steer, speed = actions[-1]
    middle = (count - 1) // 2
    yield "many steps", CarState(middle, 0.0, 0.0, speed, steer, steps=5000.0)
    yield (
        "started mid-track, just after the start",
        CarState(min(middle + 2, count - 1), 0.0, 0.0, speed, steer, steps=3.0, start_waypoint=middle),
    )
    if track.is_loop and middle > 0:
        yield (
            "started mid-track, just before its end",
            CarState(middle - 1, 0.0, 0.0, speed, steer, steps=900.0, start_waypoint=middle),
        )
    for k, placed in enumerate(objects):
        behind = (placed.waypoint - 2) % (count - 1) if track.is_loop else max(placed.waypoint - 2, 0)
        yield (
            f"object {k} ahead in the same lane",
            CarState(behind, placed.offset, 0.0, speed, steer, steps=50.0),
        )
        yield (
            f"object {k} ahead in the other lane",
            CarState(behind, -placed.offset, 0.0, speed, steer, steps=50.0),
        )
        yield (
            f"crashed into object {k}",
            CarState(placed.waypoint, placed.offset, 0.0, speed, steer, steps=60.0, is_crashed=True),
        )


def _lap_complete(track: Track, actions: list[Action]) -> tuple[str, CarState]:
    """The last step of a lap (at the last waypoint; its progress is set to 100 afterwards)."""
    steer, speed = actions[0]
    return "lap complete", CarState(track.waypoint_count - 1, 0.0, 0.0, speed, steer, steps=1000.0)
