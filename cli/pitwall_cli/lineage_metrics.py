"""A run's training metrics over its whole lineage of segments, as one series: what
`pitwall metrics` prints and plots.

Each segment of a run trains under its own model prefix, and DRFC numbers the episodes of each
prefix from 1 again (one TrainingMetrics file per worker). Here they become one series: the
episodes of segment 0, then those of segment 1, ..., numbered 1, 2, 3, ... across segments;
iterations are numbered the same way.

How a worker's TrainingMetrics entries fall into iterations (the counting `drfc_files`
describes): worker w plays a fixed share of each iteration's `num_episodes_between_training`
(`drfc_files.episodes_per_iteration`), read from the segment's ip/hyperparameters.json; worker
0's evaluation entries follow the iteration they evaluate. Without that number (a prefix with no
ip/hyperparameters.json), an iteration of a worker ends where an evaluation comes in between or
the trial count does not grow. Iteration k of a segment is block k of every worker, played side
by side: ordered by (position in the block, worker).

Pure: documents in (parsed by `drfc_files`), numbers out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pitwall import drfc_files

PROGRESS = "progress"
REWARD = "reward"
BEST_MODEL_METRICS = (PROGRESS, REWARD)


@dataclass(frozen=True)
class SegmentDocuments:
    """What one segment wrote: its TrainingMetrics documents by worker, and its evaluation
    metrics documents by name (`evaluation-<YYYYmmddHHMMSS>`)."""

    segment: int
    model_prefix: str
    training: Mapping[int, dict[str, Any] | None]
    evaluations: Mapping[str, dict[str, Any] | None] = field(default_factory=dict)
    episodes_per_iteration: int | None = None  # num_episodes_between_training of ip/hyperparameters.json


@dataclass(frozen=True)
class LineageEpisode:
    number: int  # 1-based over the whole lineage
    segment: int
    iteration: int  # 1-based over the whole lineage
    worker: int
    reward: float
    completion: float
    status: str
    sim_seconds: float = 0.0  # when it ended on its segment's simulation clock (0: training began)

    @property
    def lap_completed(self) -> bool:
        return self.status == drfc_files.LAP_COMPLETE


@dataclass(frozen=True)
class SegmentSpan:
    segment: int
    model_prefix: str
    first_episode: int  # the lineage's number of its first episode
    episodes: int
    workers: int

    @property
    def last_episode(self) -> int:
        return self.first_episode + self.episodes - 1


@dataclass(frozen=True)
class EvaluationPoint:
    """An evaluation of the model (its own evaluation run), placed where its segment ended."""

    segment: int
    name: str
    after_episode: int
    summary: drfc_files.EvaluationSummary


@dataclass(frozen=True)
class Lineage:
    episodes: list[LineageEpisode]
    segments: list[SegmentSpan]
    # iteration -> mean completion % of the evaluation episodes DRFC ran after it
    iteration_evaluations: dict[int, float]
    evaluations: list[EvaluationPoint]
    best_model_metric: str  # what DRFC picks the best checkpoint by: "progress" or "reward"


@dataclass(frozen=True)
class Row:
    """One line of the summary: an iteration, or a group of N episodes."""

    label: int  # the iteration's number, or the group's
    segments: tuple[int, ...]  # the segments its episodes come from
    first_episode: int
    last_episode: int
    mean_reward: float
    mean_completion: float
    laps: int
    best_so_far: float  # the best mean of the best model metric of this row and the ones before
    evaluation_completion: float | None  # mean completion % of the evaluation after the iteration


def join_lineage(segments: Sequence[SegmentDocuments]) -> Lineage:
    """The segments' metrics as one series, in segment order."""
    episodes: list[LineageEpisode] = []
    spans: list[SegmentSpan] = []
    iteration_evaluations: dict[int, float] = {}
    evaluations: list[EvaluationPoint] = []
    best_metric = PROGRESS
    iteration = 0
    for documents in sorted(segments, key=lambda s: s.segment):
        best_metric = _best_model_metric(documents) or best_metric
        blocks = _iteration_blocks(documents.training, documents.episodes_per_iteration)
        first = len(episodes) + 1
        for training, evaluation in blocks:
            iteration += 1
            for worker, episode in training:
                episodes.append(
                    LineageEpisode(
                        number=len(episodes) + 1,
                        segment=documents.segment,
                        iteration=iteration,
                        worker=worker,
                        reward=episode.reward,
                        completion=episode.completion_percentage,
                        status=episode.status,
                        sim_seconds=episode.metric_time_ms / 1000,
                    )
                )
            if evaluation:
                iteration_evaluations[iteration] = _mean(e.completion_percentage for e in evaluation)
        spans.append(
            SegmentSpan(
                segment=documents.segment,
                model_prefix=documents.model_prefix,
                first_episode=first,
                episodes=len(episodes) + 1 - first,
                workers=sum(1 for d in documents.training.values() if d),
            )
        )
        for name in sorted(documents.evaluations):
            evaluations.append(
                EvaluationPoint(
                    segment=documents.segment,
                    name=name,
                    after_episode=len(episodes),
                    summary=drfc_files.evaluation_summary(documents.evaluations[name]),
                )
            )
    return Lineage(episodes, spans, iteration_evaluations, evaluations, best_metric)


def rows_of(lineage: Lineage, every: int | None = None) -> list[Row]:
    """One row per iteration, or (with `every`) per `every` episodes of the series."""
    if every is not None and every < 1:
        raise ValueError(f"every: {every!r}; allowed: an integer >= 1 (episodes per row)")
    groups: dict[int, list[LineageEpisode]] = {}
    for episode in lineage.episodes:
        label = episode.iteration if every is None else (episode.number - 1) // every + 1
        groups.setdefault(label, []).append(episode)
    rows: list[Row] = []
    best = float("-inf")
    for label, members in groups.items():
        mean_reward = _mean(e.reward for e in members)
        mean_completion = _mean(e.completion for e in members)
        best = max(best, mean_reward if lineage.best_model_metric == REWARD else mean_completion)
        rows.append(
            Row(
                label=label,
                segments=tuple(sorted({e.segment for e in members})),
                first_episode=members[0].number,
                last_episode=members[-1].number,
                mean_reward=mean_reward,
                mean_completion=mean_completion,
                laps=sum(1 for e in members if e.lap_completed),
                best_so_far=best,
                evaluation_completion=lineage.iteration_evaluations.get(label) if every is None else None,
            )
        )
    return rows


def rolling_mean(values: Sequence[float], window: int) -> list[float]:
    """The mean of each value and the (up to) `window - 1` values before it."""
    if window < 1:
        raise ValueError(f"window: {window!r}; allowed: an integer >= 1 (episodes)")
    means: list[float] = []
    total = 0.0
    for index, value in enumerate(values):
        total += value
        if index >= window:
            total -= values[index - window]
        means.append(total / min(index + 1, window))
    return means


_Block = tuple[list[tuple[int, drfc_files.Episode]], list[drfc_files.Episode]]


def _iteration_blocks(
    training: Mapping[int, dict[str, Any] | None], per_iteration: int | None
) -> list[_Block]:
    """The segment's iterations: per iteration, its training episodes as (worker, episode) in
    play order, and the evaluation episodes run after it."""
    workers = len(training)
    per_worker = {
        worker: _blocks_of_worker(
            drfc_files.episodes_of(doc),
            drfc_files.episodes_per_iteration(per_iteration, workers, worker) if per_iteration else None,
        )
        for worker, doc in training.items()
    }
    count = max((len(blocks) for blocks in per_worker.values()), default=0)
    joined: list[_Block] = []
    for index in range(count):
        trained: list[tuple[int, int, drfc_files.Episode]] = []
        evaluated: list[drfc_files.Episode] = []
        for worker in sorted(per_worker):
            blocks = per_worker[worker]
            if index < len(blocks):
                episodes, evaluation = blocks[index]
                trained += [(position, worker, e) for position, e in enumerate(episodes)]
                evaluated += evaluation
        trained.sort(key=lambda item: (item[0], item[1]))
        joined.append(([(worker, e) for _, worker, e in trained], evaluated))
    return joined


def _blocks_of_worker(
    episodes: Iterable[drfc_files.Episode], size: int | None
) -> list[tuple[list[drfc_files.Episode], list[drfc_files.Episode]]]:
    blocks: list[tuple[list[drfc_files.Episode], list[drfc_files.Episode]]] = []
    for episode in episodes:
        if episode.phase != "training":
            if blocks:  # evaluation before any training (a pretrained start) belongs to no iteration
                blocks[-1][1].append(episode)
            continue
        current = blocks[-1] if blocks else None
        if current is None:
            starts_new = True
        elif size:
            starts_new = len(current[0]) >= size  # the worker's share of the iteration is played
        else:
            starts_new = (
                bool(current[1])  # the previous iteration's evaluation came in between
                or bool(episode.trial and current[0][-1].trial and episode.trial <= current[0][-1].trial)
            )
        if starts_new:
            blocks.append(([], []))
        blocks[-1][0].append(episode)
    return blocks


def _best_model_metric(documents: SegmentDocuments) -> str | None:
    for document in documents.training.values():
        value = str((document or {}).get("best_model_metric", "")).lower()
        if value in BEST_MODEL_METRICS:
            return value
    return None


def _mean(values: Iterable[float]) -> float:
    items = list(values)
    return sum(items) / len(items) if items else 0.0
