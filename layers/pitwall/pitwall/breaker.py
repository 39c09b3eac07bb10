"""The circuit breaker: a run that needs more than N relaunches within an hour stops, with a
clear reason, instead of paying for boot after boot (a broken image, a pool that interrupts every
few minutes, custom files that crash DRFC on every new instance).

A relaunch is every segment after the first that got an instance (`Segment.launched_at`): the
run record holds them all, so the breaker needs no state of its own.

Pure domain: no boto3, no environment.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pitwall.runs import Run

DEFAULT_MAX_RELAUNCHES = 4
DEFAULT_WINDOW_SECONDS = 3600.0


@dataclass(frozen=True)
class BreakerSettings:
    max_relaunches: int = DEFAULT_MAX_RELAUNCHES  # per window; one more stops the run
    window_seconds: float = DEFAULT_WINDOW_SECONDS

    def __post_init__(self) -> None:
        if self.max_relaunches < 0:
            raise ValueError(f"breaker max_relaunches must be >= 0, got {self.max_relaunches}")
        if self.window_seconds <= 0:
            raise ValueError(f"breaker window_seconds must be > 0, got {self.window_seconds}")


def relaunch_times(run: Run) -> list[float]:
    """When each relaunch of the run got its instance (segments after the first)."""
    return [segment.launched_at for segment in run.segments[1:] if segment.launched_at is not None]


def trip_reason(relaunched_at: Iterable[float], now: float, settings: BreakerSettings) -> str | None:
    """Why one more relaunch at `now` must not happen, or None when it may.

    The relaunch about to happen counts: with the default limit of 4, the fifth relaunch within
    an hour trips the breaker.
    """
    window_start = now - settings.window_seconds
    recent = sorted(at for at in relaunched_at if window_start < at <= now)
    if len(recent) + 1 <= settings.max_relaunches:
        return None
    minutes = settings.window_seconds / 60
    return (
        f"circuit breaker: {len(recent)} relaunches in the last {minutes:.0f} min "
        f"(limit {settings.max_relaunches} per {minutes:.0f} min); another one would exceed it. "
        "Something fails on every new instance (image, custom files, or a pool that keeps "
        "interrupting): look at the segments' end reasons before starting again"
    )


def check(run: Run, now: float, settings: BreakerSettings) -> str | None:
    """`trip_reason` over the run's own relaunches."""
    return trip_reason(relaunch_times(run), now, settings)
