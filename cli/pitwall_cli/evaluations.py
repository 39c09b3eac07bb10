"""`pitwall evaluations [MODEL...] [--plot FILE] [--json]`: how models compare on each track, and
how each got there.

One row per model x track (and direction): its latest evaluation (completion %, laps, best and
mean lap time, off-track count, resets, checkpoint, when) and its best lap ever there. MODEL is a
training run's id or a model name (every training run of it); none: every model. `--plot` draws,
per model, best lap time and completion against checkpoint, one line per track. The runs table
comes from the stack's outputs unless `--table` names it.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pitwall.adapters.runs_table import RunsTable
from pitwall.runs import EvaluationResult, Run, RunKind
from pitwall_cli.runs import add_location, stack_outputs

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("evaluations", help="models x tracks: the latest evaluations, compared")
    parser.add_argument("models", nargs="*", metavar="MODEL", help="training run ids or model names")
    add_location(parser)
    parser.add_argument(
        "--plot", type=Path, metavar="FILE", help="lap time and completion against checkpoint"
    )
    parser.add_argument("--json", action="store_true", help="every evaluation result, as JSON")
    parser.set_defaults(func=show_evaluations)


@dataclass(frozen=True)
class Row:
    model: str
    track: str
    direction: str
    completion_percent: float
    laps: int
    trials: int
    best_lap_seconds: float | None
    mean_lap_seconds: float | None
    off_track: int
    resets: int
    checkpoint: str | None
    evaluated_at: float | None
    best_lap_ever_seconds: float | None
    evaluations: int


def _selected(runs: list[Run], wanted: list[str]) -> list[Run]:
    training = [run for run in runs if run.kind == RunKind.TRAIN]
    if not wanted:
        return training
    return [run for run in training if run.run_id in wanted or run.request.model_name in wanted]


def results_by_model_and_track(runs: list[Run]) -> dict[tuple[str, str, str], list[EvaluationResult]]:
    found: dict[tuple[str, str, str], list[EvaluationResult]] = {}
    for run in runs:
        for result in run.evaluations:
            key = (run.request.model_name, result.track, result.direction)
            found.setdefault(key, []).append(result)
    for results in found.values():
        results.sort(key=lambda r: r.evaluated_at or 0.0)
    return found


def rows_of(runs: list[Run]) -> list[Row]:
    rows = []
    for (model, track, direction), results in sorted(results_by_model_and_track(runs).items()):
        latest = results[-1]
        laps = [r.best_lap_seconds for r in results if r.best_lap_seconds is not None]
        rows.append(
            Row(
                model=model,
                track=track,
                direction=direction,
                completion_percent=latest.mean_completion_percent,
                laps=latest.completed_laps,
                trials=latest.trials,
                best_lap_seconds=latest.best_lap_seconds,
                mean_lap_seconds=latest.mean_lap_seconds,
                off_track=latest.off_track_count,
                resets=latest.reset_count,
                checkpoint=latest.checkpoint_name,
                evaluated_at=latest.evaluated_at,
                best_lap_ever_seconds=min(laps) if laps else None,
                evaluations=len(results),
            )
        )
    return rows


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def describe(rows: list[Row]) -> str:
    if not rows:
        return "no evaluations yet: add a schedule (pitwall schedule add) or evaluate_after in a run request"
    lines = [
        f"{'model':<22}{'track':<26}{'dir':<5}{'compl %':>8}{'laps':>6}{'best s':>8}{'mean s':>8}"
        f"{'off':>5}{'resets':>7}  {'checkpoint':<21}{'when (UTC)':<17}{'best ever':>9}"
    ]
    for row in rows:
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(row.evaluated_at)) if row.evaluated_at else "-"
        lines.append(
            f"{row.model[:21]:<22}{row.track[:25]:<26}{'cw' if row.direction == 'clockwise' else 'ccw':<5}"
            f"{row.completion_percent:>8.1f}{f'{row.laps}/{row.trials}':>6}{_seconds(row.best_lap_seconds):>8}"
            f"{_seconds(row.mean_lap_seconds):>8}{row.off_track:>5}{row.resets:>7}  "
            f"{(row.checkpoint or '-')[:20]:<21}{when:<17}{_seconds(row.best_lap_ever_seconds):>9}"
        )
    return "\n".join(lines)


def figure_of(runs: list[Run]) -> Figure:
    """Per model, best lap time and completion % against checkpoint number, one line per track."""
    from matplotlib.figure import Figure

    from pitwall import layout

    found = results_by_model_and_track(runs)
    models = sorted({model for model, _, _ in found})
    figure = Figure(figsize=(6 * max(len(models), 1), 7))
    axes = figure.subplots(2, max(len(models), 1), squeeze=False)
    for column, model in enumerate(models):
        lap_axes, completion_axes = axes[0][column], axes[1][column]
        for (name, track, direction), results in sorted(found.items()):
            if name != model:
                continue
            points = [(layout.checkpoint_number(r.checkpoint_name), r) for r in results if r.checkpoint_name]
            label = f"{track} ({direction})"
            completion_axes.plot(
                [n for n, _ in points], [r.mean_completion_percent for _, r in points], "o-", label=label
            )
            timed = [(n, r.best_lap_seconds) for n, r in points if r.best_lap_seconds is not None]
            lap_axes.plot([n for n, _ in timed], [s for _, s in timed], "o-", label=label)
        lap_axes.set_title(model)
        lap_axes.set_ylabel("best lap (s)")
        completion_axes.set_ylabel("completion %")
        completion_axes.set_xlabel("checkpoint")
        for each in (lap_axes, completion_axes):
            each.grid(alpha=0.3)
            each.legend(fontsize=8)
    figure.tight_layout()
    return figure


def draw(runs: list[Run], path: Path) -> None:
    figure_of(runs).savefig(path, dpi=110)


def show_evaluations(args: argparse.Namespace) -> int:
    table = RunsTable(args.table or stack_outputs(args)["RunsTableName"])
    runs = _selected(table.all(), args.models)
    if args.models and not runs:
        print(f"no training run with the id or model name {', '.join(args.models)}")
        return 1
    rows = rows_of(runs)
    if args.json:
        results = [
            {"model": run.request.model_name, "run_id": run.run_id, **result.model_dump(mode="json")}
            for run in runs
            for result in run.evaluations
        ]
        print(json.dumps({"table": [asdict(row) for row in rows], "results": results}, indent=2))
    else:
        print(describe(rows))
    if args.plot:
        draw(runs, args.plot)
        if not args.json:
            print(f"plot: {args.plot}")
    return 0
