"""The circuit breaker: more than N relaunches within the window stops the run."""

from __future__ import annotations

import pytest

from pitwall import breaker, layout
from pitwall.runs import Run, RunKind, RunRequest, RunState, Segment

T0 = 1_790_000_000.0
DEFAULT = breaker.BreakerSettings()


def run_with_launches(*launched_at: float | None) -> Run:
    segments = [
        Segment(
            index=index,
            model_prefix=layout.segment_model_prefix("breaker-car", index),
            deadline_epoch=T0 + 86_400,
            instance_id=None if at is None else f"i-{index}",
            launched_at=at,
        )
        for index, at in enumerate(launched_at)
    ]
    return Run(
        run_id="run-b",
        kind=RunKind.TRAIN,
        request=RunRequest(model_name="breaker-car", track="reInvent2019_track"),
        state=RunState.RUNNING,
        created_at=T0,
        updated_at=T0,
        custom_files_prefix="runs/run-b/custom_files",
        segments=segments,
    )


def test_the_first_segment_is_a_launch_not_a_relaunch():
    run = run_with_launches(T0, T0 + 600, None)
    assert breaker.relaunch_times(run) == [T0 + 600]


def test_four_relaunches_an_hour_are_allowed_and_the_fifth_trips_the_breaker():
    now = T0 + 3000
    four = [T0 + 600 * i for i in range(4)]
    assert breaker.trip_reason(four[:3], now, DEFAULT) is None  # this relaunch is the 4th

    reason = breaker.trip_reason(four, now, DEFAULT)  # this relaunch would be the 5th

    assert reason is not None
    assert reason.startswith("circuit breaker: 4 relaunches in the last 60 min (limit 4 per 60 min)")


def test_relaunches_older_than_the_window_do_not_count():
    now = T0 + 3600 + 1
    assert breaker.trip_reason([T0, T0 + 600, T0 + 1200, T0 + 1800], now, DEFAULT) is None
    assert breaker.trip_reason([T0 + 2, T0 + 600, T0 + 1200, T0 + 1800], now, DEFAULT) is not None


def test_the_limit_and_window_are_settings():
    strict = breaker.BreakerSettings(max_relaunches=1, window_seconds=600)
    run = run_with_launches(T0, T0 + 100)
    assert breaker.check(run, T0 + 650, strict) is not None
    assert breaker.check(run, T0 + 701, strict) is None
    never = breaker.BreakerSettings(max_relaunches=0)
    assert breaker.check(run_with_launches(T0), T0 + 10, never) is not None


@pytest.mark.parametrize(("field", "value"), [("max_relaunches", -1), ("window_seconds", 0)])
def test_bad_settings_are_refused_by_name(field, value):
    with pytest.raises(ValueError, match=field):
        breaker.BreakerSettings(**{field: value})
