"""The action-space generator: a discrete grid of speeds x steering angles, or continuous
bounds, as a `model_metadata.json` document DRFC reads. The console's ranges come from
`pitwall.customfiles.metadata`, the one place that states them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pitwall.customfiles.metadata import (
    MAX_ACTIONS,
    MAX_SPEED,
    MAX_STEERING,
    MIN_ACTIONS,
    MIN_CONTINUOUS_SPEED,
    MIN_DISCRETE_SPEED,
    MIN_STEERING,
)
from pitwall.errors import PitwallError

DEFAULT_SENSOR = "FRONT_FACING_CAMERA"
DEFAULT_NETWORK = "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW"
DEFAULT_VERSION = "5"  # DRFC's model_metadata version
ALGORITHMS = ("clipped_ppo", "sac")


class InvalidActionSpace(PitwallError, ValueError):
    """The requested action space breaks a console rule; the message says which and what is allowed."""


def _check_range(name: str, values: Sequence[float], low: float, high: float, unit: str) -> None:
    bad = [v for v in values if not low <= v <= high]
    if bad:
        shown = ", ".join(f"{v:g}" for v in bad)
        raise InvalidActionSpace(f"{name}: {shown} out of range (allowed: {low:g}..{high:g} {unit})")


def _distinct(values: Sequence[float]) -> list[float]:
    return sorted({float(v) for v in values})


def discrete_actions(
    speeds: Sequence[float], angles: Sequence[float], *, symmetric: bool = False
) -> list[dict[str, float]]:
    """Every (steering angle, speed) pair, angles from right (negative) to left, speeds slow to
    fast within each angle. `symmetric` adds each angle's mirror image (15 -> -15 and 15)."""
    if not speeds:
        raise InvalidActionSpace("speeds: none given (allowed: one or more speeds, m/s)")
    if not angles:
        raise InvalidActionSpace("steering angles: none given (allowed: one or more angles, degrees)")
    speed_values = _distinct(speeds)
    angle_values = _distinct([*angles, *(-a for a in angles)] if symmetric else angles)
    _check_range("speed", speed_values, MIN_DISCRETE_SPEED, MAX_SPEED, "m/s")
    _check_range("steering angle", angle_values, MIN_STEERING, MAX_STEERING, "degrees")
    count = len(speed_values) * len(angle_values)
    if not MIN_ACTIONS <= count <= MAX_ACTIONS:
        raise InvalidActionSpace(
            f"action space: {len(angle_values)} steering angles x {len(speed_values)} speeds = {count} "
            f"actions (allowed: {MIN_ACTIONS}..{MAX_ACTIONS} actions)"
        )
    return [{"steering_angle": a, "speed": s} for a in angle_values for s in speed_values]


def continuous_bounds(
    speed: tuple[float, float], steering: tuple[float, float]
) -> dict[str, dict[str, float]]:
    """Continuous bounds: steering low in [-30, 0], high in [0, 30]; speed in [0.5, 4]; low < high."""
    steer_low, steer_high = (float(v) for v in steering)
    speed_low, speed_high = (float(v) for v in speed)
    _check_range("steering low", [steer_low], MIN_STEERING, 0, "degrees")
    _check_range("steering high", [steer_high], 0, MAX_STEERING, "degrees")
    _check_range("speed", [speed_low, speed_high], MIN_CONTINUOUS_SPEED, MAX_SPEED, "m/s")
    for name, low, high in (("steering", steer_low, steer_high), ("speed", speed_low, speed_high)):
        if not low < high:
            raise InvalidActionSpace(f"{name}: low {low:g} is not below high {high:g} (allowed: low < high)")
    return {
        "steering_angle": {"low": steer_low, "high": steer_high},
        "speed": {"low": speed_low, "high": speed_high},
    }


def model_metadata(
    action_space: list[dict[str, float]] | dict[str, dict[str, float]],
    *,
    training_algorithm: str = "clipped_ppo",
    neural_network: str = DEFAULT_NETWORK,
    sensor: Sequence[str] = (DEFAULT_SENSOR,),
    version: str = DEFAULT_VERSION,
) -> dict[str, Any]:
    """The model_metadata.json document for an action space from `discrete_actions` or
    `continuous_bounds`."""
    space_type = "discrete" if isinstance(action_space, list) else "continuous"
    if training_algorithm not in ALGORITHMS:
        raise InvalidActionSpace(
            f"training algorithm: {training_algorithm!r} (allowed: {', '.join(ALGORITHMS)})"
        )
    if training_algorithm == "sac" and space_type == "discrete":
        raise InvalidActionSpace(
            "training algorithm: sac needs a continuous action space "
            "(allowed: clipped_ppo with discrete; clipped_ppo or sac with continuous)"
        )
    return {
        "action_space": action_space,
        "sensor": list(sensor),
        "neural_network": neural_network,
        "training_algorithm": training_algorithm,
        "action_space_type": space_type,
        "version": version,
    }
