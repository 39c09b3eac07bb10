"""Reading DRFC's metrics and checkpoint files."""

from __future__ import annotations

from pitwall.lifecycle.metrics import checkpoints_of, episode_count, episodes_of, evaluation_summary


def _entry(episode: int, phase: str = "training", completion: int = 50, status: str = "Off track") -> dict:
    return {
        "episode": episode,
        "phase": phase,
        "completion_percentage": completion,
        "episode_status": status,
        "elapsed_time_in_milliseconds": 12_000,
        "reward_score": 10,
        "trial": 1,
    }


def test_episode_count_is_the_highest_training_episode() -> None:
    document = {"metrics": [_entry(1), _entry(2), _entry(1, phase="evaluation"), _entry(3)], "version": 2.0}
    assert episode_count(document) == 3
    assert episode_count(None) == 0
    assert len(episodes_of(document)) == 4


def test_checkpoints_read_both_the_new_and_the_old_metric_names() -> None:
    new = {
        "best_checkpoint": {"name": "5_Step-10.ckpt", "avg_eval_metric": 71.5},
        "last_checkpoint": {"name": "6_Step-12.ckpt", "avg_eval_metric": 60.0},
    }
    old = {
        "best_checkpoint": {"name": "2_Step-3.ckpt", "avg_comp_pct": 40.0},
        "last_checkpoint": {"name": "2_Step-3.ckpt"},
    }
    assert checkpoints_of(new).best == "5_Step-10.ckpt" and checkpoints_of(new).last == "6_Step-12.ckpt"
    assert checkpoints_of(new).best_metric == 71.5
    assert checkpoints_of(old).best_metric == 40.0
    assert checkpoints_of(None).last is None


def test_evaluation_summary_counts_laps_offtracks_and_crashes() -> None:
    document = {
        "metrics": [
            {
                **_entry(1, "evaluation", 100, "Lap complete"),
                "elapsed_time_in_milliseconds": 11_500,
                "off_track_count": 0,
                "crash_count": 0,
            },
            {
                **_entry(2, "evaluation", 100, "Lap complete"),
                "elapsed_time_in_milliseconds": 10_900,
                "off_track_count": 1,
                "crash_count": 0,
            },
            {**_entry(3, "evaluation", 40, "Crashed"), "off_track_count": 0, "crash_count": 1},
        ]
    }
    summary = evaluation_summary(document)
    assert summary.lap_times_seconds == [11.5, 10.9]
    assert summary.completed_laps == 2
    assert summary.trials == 3
    assert summary.off_track_count == 1 and summary.crash_count == 1
    assert summary.mean_completion_percent == 80.0
