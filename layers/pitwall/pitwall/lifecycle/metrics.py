"""Reading what DRFC writes (reference section 2): TrainingMetrics.json, deepracer_checkpoints.json,
evaluation metrics. Pure: documents in, numbers out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

LAP_COMPLETE = "Lap complete"


@dataclass(frozen=True)
class Episode:
    episode: int
    phase: str
    completion_percentage: float
    status: str
    elapsed_ms: float
    reward: float = 0.0  # reward_score: the episode's total reward
    trial: int = 0  # the episode's number within its phase block (training or evaluation)


def episodes_of(document: dict[str, Any] | None) -> list[Episode]:
    if not document:
        return []
    return [
        Episode(
            episode=int(entry.get("episode", 0)),
            phase=str(entry.get("phase", "training")),
            completion_percentage=float(entry.get("completion_percentage", 0)),
            status=str(entry.get("episode_status", "")),
            elapsed_ms=float(entry.get("elapsed_time_in_milliseconds", 0)),
            reward=float(entry.get("reward_score", 0)),
            trial=int(entry.get("trial", 0)),
        )
        for entry in document.get("metrics", [])
    ]


def training_episodes(episodes: Iterable[Episode]) -> list[Episode]:
    return [e for e in episodes if e.phase == "training"]


def episode_count(document: dict[str, Any] | None) -> int:
    """Training episodes one worker has finished: the highest training episode number."""
    return max((e.episode for e in training_episodes(episodes_of(document))), default=0)


@dataclass(frozen=True)
class Checkpoints:
    last: str | None
    best: str | None
    best_metric: float | None


def checkpoints_of(document: dict[str, Any] | None) -> Checkpoints:
    document = document or {}
    last = document.get("last_checkpoint") or {}
    best = document.get("best_checkpoint") or {}
    metric = best.get("avg_eval_metric", best.get("avg_comp_pct"))
    return Checkpoints(
        last=last.get("name"), best=best.get("name"), best_metric=None if metric is None else float(metric)
    )


@dataclass(frozen=True)
class EvaluationSummary:
    lap_times_seconds: list[float]
    mean_completion_percent: float
    off_track_count: int
    crash_count: int
    completed_laps: int
    trials: int
    reset_count: int = 0


def evaluation_summary(document: dict[str, Any] | None) -> EvaluationSummary:
    entries = (document or {}).get("metrics", [])
    laps = [
        float(e.get("elapsed_time_in_milliseconds", 0)) / 1000
        for e in entries
        if e.get("episode_status") == LAP_COMPLETE
    ]
    completion = [float(e.get("completion_percentage", 0)) for e in entries]
    return EvaluationSummary(
        lap_times_seconds=laps,
        mean_completion_percent=round(sum(completion) / len(completion), 2) if completion else 0.0,
        off_track_count=sum(int(e.get("off_track_count", 0)) for e in entries),
        crash_count=sum(int(e.get("crash_count", 0)) for e in entries),
        completed_laps=len(laps),
        trials=len(entries),
        reset_count=sum(int(e.get("reset_count", 0)) for e in entries),
    )
