"""Fire EventBridge Scheduler schedules on the local cloud's accelerated clock.

moto stores schedules (`CreateSchedule`, `ListSchedules`, `GetSchedule`, `DeleteSchedule`) but
never fires them. `LocalScheduler` reads the schedules of a group back from moto's Scheduler
API, works out their due times on the local clock as the service would (a `rate()` every
interval from the start date, a `cron()` at each matching minute, in UTC; nothing after the end
date; a disabled or deleted schedule never fires), and delivers each firing to the schedule's
own target with its own input, through the relay (an asynchronous Lambda invocation or a
`StartExecution`). A firing at the start of a flexible window is one AWS may make.

When the local cloud lags past several due times of one schedule, it fires once, for the
newest: AWS would have fired each, but each firing reads the current state anyway.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from croniter import croniter

from pitwall import aws
from pitwall.clock import Clock
from pitwall_local.relay import Relay

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_TICK_WALL_SECONDS = 0.2


def _rate_seconds(expression: str) -> float | None:
    match = _RATE.match(expression)
    if match is None:
        return None
    return int(match[1]) * _UNIT_SECONDS[match[2].rstrip("s")]


def _cron(expression: str) -> str:
    """AWS's cron(min hour day-of-month month day-of-week year) as croniter's five fields."""
    fields = expression.removeprefix("cron(").removesuffix(")").split()
    if len(fields) != 6:
        raise ValueError(f"{expression}: a cron() of Scheduler has six fields")
    minute, hour, day, month, weekday, _year = fields
    return " ".join(part.replace("?", "*") for part in (minute, hour, day, month, weekday))


def latest_due(schedule: dict[str, Any], after: float, now: float) -> float | None:
    """The newest due time of `schedule` in (after, now], or None."""
    start = schedule.get("StartDate") or schedule["CreationDate"]
    start_epoch = start.timestamp()
    end = schedule.get("EndDate")
    limit = min(now, end.timestamp()) if end is not None else now
    expression = schedule["ScheduleExpression"]
    rate = _rate_seconds(expression)
    if rate is not None:
        count = int((limit - start_epoch) // rate)
        due = start_epoch + count * rate
        return due if count >= 1 and due > after else None
    if expression.startswith("cron("):
        begin = max(after, start_epoch)
        found = croniter(_cron(expression), datetime.fromtimestamp(limit, UTC)).get_prev(float)
        return float(found) if found > begin else None
    return None  # at() one-time schedules: not used by Pitwall


@dataclass
class LocalScheduler:
    region: str
    group: str
    clock: Clock
    relay: Relay
    fired: list[tuple[str, float]] = field(default_factory=list)  # (schedule name, due epoch)
    _last: dict[str, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="local-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(_TICK_WALL_SECONDS):
            try:
                self.tick()
            except Exception as exc:  # the service keeps running; the test sees the error
                self.relay.errors.append(f"local scheduler: {exc}")

    def tick(self) -> list[str]:
        """Fire every schedule that is due now; returns their names."""
        scheduler = aws.client("scheduler", self.region)
        now = self.clock.now()
        names = [
            item["Name"]
            for page in scheduler.get_paginator("list_schedules").paginate(GroupName=self.group)
            for item in page.get("Schedules", [])
        ]
        due_now = []
        for name in names:
            try:
                schedule = scheduler.get_schedule(Name=name, GroupName=self.group)
            except scheduler.exceptions.ResourceNotFoundException:
                continue  # deleted since it was listed
            if schedule.get("State", "ENABLED") != "ENABLED":
                continue
            due = latest_due(schedule, self._last.get(name, float("-inf")), now)
            if due is None:
                continue
            self._last[name] = due
            self.fired.append((name, due))
            target = schedule["Target"]
            self.relay.deliver({"Arn": target["Arn"], "Input": target.get("Input", "{}")}, {})
            due_now.append(name)
        return due_now

    def firings_of(self, name: str) -> list[float]:
        return [due for fired, due in self.fired if fired == name]
