"""`pitwall metrics RUN [--every N] [--plot FILE] [--json]`: how a run's training went, over
its whole lineage of segments.

The run record (runs table) lists the run's segments and their model prefixes; every segment's
TrainingMetrics files (all workers) and evaluation metrics are read from the model bucket and
joined into one episode series (`pitwall_cli.lineage_metrics`). The table and the bucket come from
the stack's outputs (`--stack`, default `pitwall`) unless `--table` / `--bucket` name them.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pitwall import layout
from pitwall.adapters.runs_table import RunsTable
from pitwall.adapters.store import ObjectStore
from pitwall.errors import RunNotFound
from pitwall.runs import Run
from pitwall_cli.lineage_metrics import Lineage, Row, SegmentDocuments, join_lineage, rolling_mean, rows_of
from pitwall_cli.runs import add_location, stack_outputs

DEFAULT_WINDOW = 20  # episodes in the plot's rolling mean


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "metrics", help="a run's rewards and completion per iteration, over all its segments"
    )
    parser.add_argument("run_id", metavar="RUN")
    add_location(parser)
    parser.add_argument("--bucket", help="the model bucket, instead of reading it from the stack")
    parser.add_argument(
        "--every", type=int, metavar="N", help="one row per N episodes instead of per iteration"
    )
    parser.add_argument("--plot", type=Path, metavar="FILE", help="draw reward and completion to FILE (PNG)")
    parser.add_argument(
        "--window",
        type=int,
        default=DEFAULT_WINDOW,
        help=f"episodes in the plot's rolling mean ({DEFAULT_WINDOW})",
    )
    parser.add_argument("--json", action="store_true", help="print the rows and evaluations as JSON")
    parser.set_defaults(func=show_metrics)


def show_metrics(args: argparse.Namespace) -> int:
    for name in ("every", "window"):
        value = getattr(args, name)
        if value is not None and value < 1:
            print(f"--{name} {value}: allowed: an integer >= 1")
            return 2
    outputs: dict[str, str] = {} if args.table and args.bucket else stack_outputs(args)
    table = RunsTable(args.table or outputs["RunsTableName"])
    store = ObjectStore(args.bucket or outputs["ModelBucketName"])
    try:
        run = table.get(args.run_id)
    except RunNotFound as exc:
        print(exc)
        return 1
    try:
        lineage = join_lineage([read_segment(store, s.index, s.model_prefix) for s in run.segments])
    except ValueError as exc:  # a metrics object that is not JSON
        print(exc)
        return 1
    rows = rows_of(lineage, args.every)
    if args.json:
        print(json.dumps(as_json(run, lineage, rows), indent=2))
    else:
        print(describe(run, lineage, rows, per_iteration=args.every is None))
    if args.plot:
        draw(run, lineage, args.plot, args.window)
        if not args.json:
            print(f"plot: {args.plot}")
    return 0


def read_segment(store: ObjectStore, segment: int, model_prefix: str) -> SegmentDocuments:
    """One segment's TrainingMetrics documents (every worker found), evaluation documents, and
    the episodes of an iteration (from the trainer's ip/hyperparameters.json, when there)."""
    model = layout.ModelKeys(model_prefix)
    training: dict[int, dict[str, Any] | None] = {}
    evaluations: dict[str, dict[str, Any] | None] = {}
    for key in store.list_keys(model.metrics_folder):
        heartbeat = layout.classify_heartbeat(key)
        if heartbeat is not None and heartbeat.kind == layout.HeartbeatKind.TRAINING_METRICS:
            training[heartbeat.worker] = _json(store, key)
        elif key.startswith(model.evaluation_metrics_folder) and key.endswith(".json"):
            evaluations[key.rsplit("/", 1)[-1].removesuffix(".json")] = _json(store, key)
    hyperparameters = _json(store, model.ip_hyperparameters) or {}
    episodes = hyperparameters.get("num_episodes_between_training")
    return SegmentDocuments(
        segment, model_prefix, training, evaluations, int(episodes) if isinstance(episodes, int) else None
    )


def _json(store: ObjectStore, key: str) -> dict[str, Any] | None:
    try:
        return store.get_json(key)
    except ValueError as exc:
        raise ValueError(f"s3://{store.bucket}/{key} is not valid JSON: {exc}") from exc


def describe(run: Run, lineage: Lineage, rows: list[Row], *, per_iteration: bool) -> str:
    iterations = len({e.iteration for e in lineage.episodes})
    best_label = "best %" if lineage.best_model_metric == "progress" else "best reward"
    lines = [
        f"run {run.run_id} ({run.kind.value}) of model {run.request.model_name}: {run.state.value}; "
        f"{len(lineage.episodes)} episodes in {iterations} iterations over {len(run.segments)} segment(s); "
        f"best checkpoint by {lineage.best_model_metric}",
    ]
    if run.request.pretrained:
        lines.append(f"  continues from {run.request.pretrained.model_prefix} (not counted here)")
    for span in lineage.segments:
        episodes = f"episodes {span.first_episode}-{span.last_episode}" if span.episodes else "no episodes"
        lines.append(f"  segment {span.segment}: {span.model_prefix}, {episodes}, {span.workers} worker(s)")
    if not rows:
        lines.append("no training episodes yet")
    else:
        unit = "iter" if per_iteration else "group"
        evaluation_header = f" {'eval %':>7}" if per_iteration else ""
        lines.append(
            f"{unit:>5} {'seg':>4} {'episodes':>11} {'reward':>9} {'complete %':>11} {'laps':>5} "
            f"{best_label:>11}{evaluation_header}"
        )
        for row in rows:
            segments = "+".join(str(s) for s in row.segments)
            episodes = f"{row.first_episode}-{row.last_episode}"
            evaluation = "-" if row.evaluation_completion is None else f"{row.evaluation_completion:.1f}"
            lines.append(
                f"{row.label:>5} {segments:>4} {episodes:>11} {row.mean_reward:>9.1f} "
                f"{row.mean_completion:>11.1f} {row.laps:>5} {row.best_so_far:>11.1f}"
                + (f" {evaluation:>7}" if per_iteration else "")
            )
    for point in lineage.evaluations:
        s = point.summary
        best_lap = f"{min(s.lap_times_seconds):.2f} s" if s.lap_times_seconds else "none"
        lines.append(
            f"evaluation {point.name} (segment {point.segment}, after episode {point.after_episode}): "
            f"{s.trials} trials, completion {s.mean_completion_percent:.1f}%, laps {s.completed_laps}, "
            f"best lap {best_lap}, off track {s.off_track_count}, crashes {s.crash_count}"
        )
    return "\n".join(lines)


def as_json(run: Run, lineage: Lineage, rows: list[Row]) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "state": run.state.value,
        "best_model_metric": lineage.best_model_metric,
        "episodes": len(lineage.episodes),
        "segments": [asdict(span) for span in lineage.segments],
        "rows": [asdict(row) for row in rows],
        "evaluations": [asdict(point) for point in lineage.evaluations],
    }


def draw(run: Run, lineage: Lineage, path: Path, window: int) -> None:
    """Reward and completion % against episode (dots, and their rolling mean), segment
    boundaries as vertical lines, DRFC's evaluation after each iteration and the model's
    evaluations as markers."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    numbers = [e.number for e in lineage.episodes]
    figure, (reward_axes, completion_axes) = pyplot.subplots(2, 1, figsize=(11, 7), sharex=True)
    for axes, values, colour, label in (
        (reward_axes, [e.reward for e in lineage.episodes], "tab:blue", "reward"),
        (completion_axes, [e.completion for e in lineage.episodes], "tab:green", "completion %"),
    ):
        axes.scatter(numbers, values, s=4, color=colour, alpha=0.25, label=f"{label} per episode")
        axes.plot(numbers, rolling_mean(values, window), color=colour, label=f"{label}, mean of {window}")
        axes.set_ylabel(label)
        axes.grid(alpha=0.3)
    last_episode_of = {}
    for episode in lineage.episodes:
        last_episode_of[episode.iteration] = episode.number
    if lineage.iteration_evaluations:
        iterations = sorted(lineage.iteration_evaluations)
        completion_axes.plot(
            [last_episode_of[i] for i in iterations],
            [lineage.iteration_evaluations[i] for i in iterations],
            "o--",
            color="tab:red",
            markersize=3,
            linewidth=0.8,
            label="evaluation after each iteration",
        )
    for point in lineage.evaluations:
        completion = point.summary.mean_completion_percent
        completion_axes.plot(point.after_episode, completion, "D", color="black", markersize=8)
        completion_axes.annotate(
            f"{point.name}: {completion:.0f}%, {point.summary.completed_laps} laps",
            (point.after_episode, completion),
            textcoords="offset points",
            xytext=(-8, 8),
            ha="right",
            fontsize=8,
        )
    for span in lineage.segments[1:]:
        if span.episodes:
            for axes in (reward_axes, completion_axes):
                axes.axvline(span.first_episode - 0.5, color="grey", linestyle="--", linewidth=1)
            reward_axes.annotate(
                f"segment {span.segment}",
                (span.first_episode, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(3, -12),
                textcoords="offset points",
                fontsize=8,
                color="grey",
            )
    completion_axes.set_ylim(0, 105)
    completion_axes.set_xlabel("episode (over all segments)")
    reward_axes.legend(loc="upper left", fontsize=8)
    completion_axes.legend(loc="upper left", fontsize=8)
    reward_axes.set_title(
        f"{run.run_id}: {len(lineage.episodes)} episodes over {len(lineage.segments)} segment(s)"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)
