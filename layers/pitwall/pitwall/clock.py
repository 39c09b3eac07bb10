"""Time, injectable: the real clock in AWS, an accelerated one in the local cloud and tests."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch, on this clock."""
        ...

    def sleep(self, seconds: float) -> None:
        """Sleep `seconds` of this clock's time."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class ScaledClock:
    """A clock that runs `factor` times faster than the wall clock, from `start_epoch` on."""

    def __init__(self, factor: float, start_epoch: float | None = None) -> None:
        if factor <= 0:
            raise ValueError("factor must be positive")
        self.factor = factor
        self._wall_start = time.time()
        self._start = self._wall_start if start_epoch is None else start_epoch

    def now(self) -> float:
        return self._start + (time.time() - self._wall_start) * self.factor

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds) / self.factor)


class ManualClock:
    """A clock that moves only when told (or when something sleeps on it): for unit tests."""

    def __init__(self, start_epoch: float = 1_790_000_000.0) -> None:
        self._now = start_epoch
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))
