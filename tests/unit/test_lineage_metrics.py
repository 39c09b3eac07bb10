"""A run's metrics over its lineage: two segments' hand-made TrainingMetrics files (two workers,
then one) and an evaluation, joined into one series."""

from __future__ import annotations

from typing import Any

import pytest

from pitwall_cli.lineage_metrics import SegmentDocuments, join_lineage, rolling_mean, rows_of

LAP = "Lap complete"


def entry(
    reward: float, completion: float, trial: int, phase: str = "training", status: str = "Off track"
) -> dict[str, Any]:
    return {
        "reward_score": reward,
        "metric_time": 0,
        "start_time": 0,
        "elapsed_time_in_milliseconds": 1000,
        "episode": 0,  # DRFC's own numbering restarts per prefix; the join does not rely on it
        "trial": trial,
        "phase": phase,
        "completion_percentage": completion,
        "episode_status": status,
    }


def document(*entries: dict[str, Any], best: str = "progress") -> dict[str, Any]:
    return {"metrics": list(entries), "version": 2.0, "best_model_metric": best}


def evaluation_document() -> dict[str, Any]:
    return {
        "metrics": [
            {"completion_percentage": 100, "elapsed_time_in_milliseconds": 12500, "episode_status": LAP,
             "trial": 1, "crash_count": 0, "off_track_count": 0},
            {"completion_percentage": 40, "elapsed_time_in_milliseconds": 6000, "episode_status": "Off track",
             "trial": 2, "crash_count": 0, "off_track_count": 1},
        ]
    }  # fmt: skip


# Segment 0: two workers, two iterations of 4 episodes; worker 0 counts its trials per iteration
# and runs the evaluation after each (repeating the trial before it); worker 1 counts on.
SEGMENT_0 = SegmentDocuments(
    segment=0,
    model_prefix="models/m/seg-000",
    training={
        0: document(
            entry(10, 10, 1), entry(20, 20, 2),
            entry(0, 30, 2, "evaluation"), entry(0, 50, 2, "evaluation"),
            entry(30, 30, 1), entry(40, 40, 2),
            entry(0, 60, 2, "evaluation"),
        ),
        1: document(entry(11, 11, 1), entry(21, 21, 2), entry(31, 31, 3), entry(41, 41, 4)),
    },
    episodes_per_iteration=4,
)  # fmt: skip
# Segment 1 continues from segment 0's checkpoint: DRFC starts its episodes at 1 again; its
# second iteration was cut short by an interruption (no evaluation after it).
SEGMENT_1 = SegmentDocuments(
    segment=1,
    model_prefix="models/m/seg-001",
    training={
        0: document(
            entry(50, 70, 1), entry(60, 100, 2, status=LAP), entry(55, 80, 3),
            entry(0, 90, 1, "evaluation"),
            entry(70, 100, 1, status=LAP),
        )
    },
    evaluations={"evaluation-20261122050000": evaluation_document()},
)  # fmt: skip


def test_episodes_continue_across_segments_and_workers_play_side_by_side():
    lineage = join_lineage([SEGMENT_1, SEGMENT_0])  # in any order: segments sort by index
    assert [e.number for e in lineage.episodes] == list(range(1, 13))
    assert [e.reward for e in lineage.episodes] == [10, 11, 20, 21, 30, 31, 40, 41, 50, 60, 55, 70]
    assert [e.worker for e in lineage.episodes[:4]] == [0, 1, 0, 1]
    assert [e.segment for e in lineage.episodes] == [0] * 8 + [1] * 4
    assert [e.iteration for e in lineage.episodes] == [1] * 4 + [2] * 4 + [3] * 3 + [4]
    spans = [(s.segment, s.first_episode, s.last_episode, s.workers) for s in lineage.segments]
    assert spans == [(0, 1, 8, 2), (1, 9, 12, 1)]


def test_the_evaluation_after_each_iteration_is_kept_apart_from_training():
    lineage = join_lineage([SEGMENT_0, SEGMENT_1])
    assert lineage.iteration_evaluations == {1: 40.0, 2: 60.0, 3: 90.0}
    assert all(e.completion != 50 for e in lineage.episodes)  # evaluation entries are not episodes


def test_rows_per_iteration_carry_means_laps_the_best_so_far_and_the_evaluation():
    rows = rows_of(join_lineage([SEGMENT_0, SEGMENT_1]))
    summary = [
        (r.label, r.segments, r.first_episode, r.last_episode, r.mean_reward, r.mean_completion, r.laps)
        for r in rows
    ]
    assert summary == [
        (1, (0,), 1, 4, 15.5, 15.5, 0),
        (2, (0,), 5, 8, 35.5, 35.5, 0),
        (3, (1,), 9, 11, 55.0, pytest.approx(250 / 3), 1),
        (4, (1,), 12, 12, 70.0, 100.0, 1),
    ]
    assert [r.best_so_far for r in rows] == [15.5, 35.5, pytest.approx(250 / 3), 100.0]
    assert [r.evaluation_completion for r in rows] == [40.0, 60.0, 90.0, None]


def test_rows_of_n_episodes_may_span_a_segment_boundary():
    rows = rows_of(join_lineage([SEGMENT_0, SEGMENT_1]), every=5)
    assert [(r.label, r.first_episode, r.last_episode, r.segments) for r in rows] == [
        (1, 1, 5, (0,)),
        (2, 6, 10, (0, 1)),
        (3, 11, 12, (1,)),
    ]
    assert rows[1].mean_reward == (31 + 40 + 41 + 50 + 60) / 5
    assert all(r.evaluation_completion is None for r in rows)


def test_the_best_so_far_follows_the_models_best_metric():
    falling = SegmentDocuments(
        0, "models/r/seg-000", {0: document(entry(90, 10, 1), entry(10, 90, 1), best="reward")}
    )
    lineage = join_lineage([falling])
    assert lineage.best_model_metric == "reward"
    assert [r.best_so_far for r in rows_of(lineage)] == [90.0, 90.0]  # a trial reset is an iteration


def test_the_models_evaluations_sit_where_their_segment_ended():
    lineage = join_lineage([SEGMENT_0, SEGMENT_1])
    (point,) = lineage.evaluations
    assert (point.segment, point.name, point.after_episode) == (1, "evaluation-20261122050000", 12)
    assert point.summary.trials == 2
    assert point.summary.completed_laps == 1
    assert point.summary.lap_times_seconds == [12.5]
    assert point.summary.mean_completion_percent == 70.0


def test_a_segment_without_metrics_yet_has_no_episodes_and_breaks_nothing():
    booting = SegmentDocuments(2, "models/m/seg-002", {})
    lineage = join_lineage([SEGMENT_0, booting])
    assert lineage.segments[-1].episodes == 0
    assert len(lineage.episodes) == 8
    assert join_lineage([]).episodes == [] and rows_of(join_lineage([])) == []


def test_rolling_mean_uses_what_there_is_at_the_start():
    assert rolling_mean([2, 4, 6, 8], 2) == [2, 3, 5, 7]
    assert rolling_mean([2, 4, 6], 10) == [2, 3, 4]


@pytest.mark.parametrize("call", [lambda: rolling_mean([1.0], 0), lambda: rows_of(join_lineage([]), every=0)])
def test_a_window_or_group_below_one_is_refused_by_name(call):
    with pytest.raises(ValueError, match=r"allowed: an integer >= 1"):
        call()
