"""The report page: one self-contained HTML file (plotly's JavaScript embedded once, no network
needed to view it) built from `report_data.ReportData`. Pure: data in, text out."""

from __future__ import annotations

import html
import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from pitwall import recovery
from pitwall.runs import Run
from pitwall_cli.lineage_metrics import Lineage, rows_of
from pitwall_cli.report_data import BEST_ITERATIONS, IterationTrace, ReportData
from pitwall_cli.watch import clock_of

_CONFIG = {"displaylogo": False, "responsive": True}
PACE_WINDOWS = 40  # the episodes-per-hour series: the training episodes ended in each window


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _hours(seconds: float) -> str:
    minutes = round(max(0.0, seconds) / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _table(rows: list[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<table class='facts'>{cells}</table>"


# -- figures ----------------------------------------------------------------------------------


def progress_figure(data: ReportData) -> go.Figure:
    """Reward and completion per iteration over the lineage; segment boundaries marked with why
    the segment before ended (an interruption, a stall) and where the next one resumed."""
    rows = rows_of(data.lineage)
    figure = make_subplots(
        rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, subplot_titles=("Reward", "Completion %")
    )
    iterations = [row.label for row in rows]
    hover = [
        f"segment {'+'.join(map(str, r.segments))}, episodes {r.first_episode}-{r.last_episode}" for r in rows
    ]
    figure.add_trace(
        go.Scatter(
            x=iterations,
            y=[r.mean_reward for r in rows],
            mode="lines+markers",
            name="mean reward",
            text=hover,
        ),
        row=1,
        col=1,
    )
    figure.add_trace(
        go.Scatter(
            x=iterations,
            y=[r.mean_completion for r in rows],
            mode="lines+markers",
            name="mean completion %",
            text=hover,
        ),
        row=2,
        col=1,
    )
    evaluated = sorted(data.lineage.iteration_evaluations)
    if evaluated:
        figure.add_trace(
            go.Scatter(
                x=evaluated,
                y=[data.lineage.iteration_evaluations[i] for i in evaluated],
                mode="markers",
                marker={"symbol": "diamond"},
                name="DRFC evaluation after the iteration",
            ),
            row=2,
            col=1,
        )
    first_iteration: dict[int, int] = {}
    for episode in data.lineage.episodes:
        first_iteration.setdefault(episode.segment, episode.iteration)
    run = data.run
    for segment in run.segments[1:]:
        start = first_iteration.get(segment.index)
        if start is None:
            continue
        before = run.segments[segment.index - 1]
        why = (before.end_reason or "replaced").split(":", 1)[0]
        pool = segment.pool.label if segment.pool else "?"
        for row in (1, 2):
            figure.add_vline(x=start - 0.5, line_dash="dash", line_color="grey", row=row, col=1)
        figure.add_annotation(
            x=start - 0.5,
            y=1.0,
            yref="paper",
            text=f"{why}, then segment {segment.index} on {pool}",
            showarrow=False,
            xanchor="left",
            textangle=-90,
            yanchor="top",
            font={"size": 10, "color": "grey"},
        )
    figure.update_xaxes(title_text="iteration (over all segments)", row=2, col=1)
    figure.update_yaxes(range=[0, 105], row=2, col=1)
    figure.update_layout(height=560, margin={"t": 40, "b": 40}, legend={"orientation": "h", "y": -0.12})
    return figure


def episode_times(run: Run, lineage: Lineage) -> list[float]:
    """When each training episode ended, on the run's clock: its segment's start plus its time on
    the segment's simulation clock (which starts with the training). Episodes without a time
    (older metrics files) are left out."""
    started = {segment.index: segment.started_at for segment in run.segments}
    return sorted(
        start + episode.sim_seconds
        for episode in lineage.episodes
        if episode.sim_seconds > 0 and (start := started.get(episode.segment)) is not None
    )


def pace(
    times: list[float], origin: float, end: float, windows: int = PACE_WINDOWS
) -> tuple[list[float], list[float]]:
    """Episodes per hour in `windows` equal windows from `origin` to `end`: each window's middle
    (hours since `origin`) and its rate."""
    if end <= origin:
        return [], []
    width = (end - origin) / windows
    counts = [0] * windows
    for at in times:
        if origin <= at <= end:
            counts[min(int((at - origin) / width), windows - 1)] += 1
    hours = width / 3600
    return [(index + 0.5) * hours for index in range(windows)], [count / hours for count in counts]


def cost_at(run: Run, at: float, end_of_run: float) -> float:
    """What the run's instances had cost by `at`: each is paid from its launch to its end, and
    two of them overlap (a replacement launched before the instance it replaces has ended)."""
    total = 0.0
    for segment in run.segments:
        if segment.launched_at is None or segment.price_per_hour is None:
            continue
        ended = segment.ended_at if segment.ended_at is not None else end_of_run
        total += max(0.0, min(at, ended) - segment.launched_at) / 3600 * segment.price_per_hour
    return total


def timeline_figure(run: Run, lineage: Lineage, now: float) -> go.Figure:
    """Cost over time (each segment adds its price while it runs) and episodes per hour over
    the run; the gaps between segments are the recoveries."""
    figure = make_subplots(
        rows=1, cols=2, column_widths=[0.55, 0.45], subplot_titles=("Cost over time ($)", "Episodes per hour")
    )
    starts = [s.launched_at for s in run.segments if s.launched_at is not None]
    origin = min(starts) if starts else run.created_at
    end_of_run = clock_of(run, now)
    # the cost grows linearly between two launches or ends: those times draw it exactly
    moments = sorted(
        {origin}
        | {s.launched_at for s in run.segments if s.launched_at is not None}
        | {
            s.ended_at if s.ended_at is not None else end_of_run
            for s in run.segments
            if s.launched_at is not None
        }
    )
    times = [(at - origin) / 3600 for at in moments]
    costs = [cost_at(run, at, end_of_run) for at in moments]
    for segment in run.segments:
        if segment.launched_at is None:
            continue
        ended = segment.ended_at if segment.ended_at is not None else end_of_run
        figure.add_vrect(
            x0=(segment.launched_at - origin) / 3600,
            x1=(ended - origin) / 3600,
            opacity=0.08,
            line_width=0,
            fillcolor="green",
            row=1,
            col=1,
            annotation_text=f"seg {segment.index}",
            annotation_position="top left",
            exclude_empty_subplots=False,  # drawn before the cost line is added
        )
        if segment.end_reason and segment.end_reason != "completed":
            figure.add_annotation(
                x=(ended - origin) / 3600,
                y=cost_at(run, ended, end_of_run),
                text=segment.end_reason.split(":", 1)[0],
                showarrow=True,
                arrowhead=2,
                font={"size": 10, "color": "firebrick"},
                row=1,
                col=1,
            )
    figure.add_trace(
        go.Scatter(x=times, y=costs, mode="lines", name="cost", line={"shape": "linear"}), row=1, col=1
    )
    hours, rates = pace(episode_times(run, lineage), origin, end_of_run)
    figure.add_trace(
        go.Scatter(x=hours, y=rates, mode="lines", name="episodes / hour", line={"shape": "hvh"}),
        row=1,
        col=2,
    )
    for column in (1, 2):
        figure.update_xaxes(title_text="hours since the first launch", row=1, col=column)
    figure.update_yaxes(rangemode="tozero", row=1, col=2)  # a slower window reads as slower
    figure.update_layout(height=380, showlegend=False, margin={"t": 40, "b": 40})
    return figure


def evaluations_figure(run: Run) -> go.Figure | None:
    if not run.evaluations:
        return None
    figure = make_subplots(
        rows=1, cols=2, subplot_titles=("Best lap (s) per track", "Completion % per track")
    )
    tracks = [f"{e.track}<br>{e.checkpoint} · {e.evaluation_run_id}" for e in run.evaluations]
    figure.add_trace(
        go.Bar(
            x=tracks,
            y=[e.best_lap_seconds or 0 for e in run.evaluations],
            name="best lap",
            text=[f"{e.completed_laps}/{e.trials} laps" for e in run.evaluations],
        ),
        row=1,
        col=1,
    )
    figure.add_trace(
        go.Bar(x=tracks, y=[e.mean_completion_percent for e in run.evaluations], name="completion"),
        row=1,
        col=2,
    )
    figure.update_layout(height=360, showlegend=False, margin={"t": 40, "b": 40})
    return figure


def best_iterations(traces: list[IterationTrace], count: int = BEST_ITERATIONS) -> list[IterationTrace]:
    return sorted(traces, key=lambda t: t.mean_final_progress, reverse=True)[:count]


def track_figure(data: ReportData) -> go.Figure | None:
    """The track (borders and centre line) and the car's path in the best iterations, coloured
    by speed."""
    best = best_iterations(data.traces)
    if data.track is None and not best:
        return None
    figure = go.Figure()
    if data.track is not None:
        for name, line, dash in (
            ("inner border", data.track.inner, "solid"),
            ("outer border", data.track.outer, "solid"),
            ("centre line", data.track.center, "dot"),
        ):
            points = line.points
            figure.add_trace(
                go.Scatter(
                    x=points[:, 0].tolist(),
                    y=points[:, 1].tolist(),
                    mode="lines",
                    name=name,
                    line={"color": "dimgrey", "dash": dash, "width": 1},
                    hoverinfo="skip",
                )
            )
    for index, trace in enumerate(best):
        figure.add_trace(
            go.Scatter(
                x=[s.x for s in trace.steps],
                y=[s.y for s in trace.steps],
                mode="markers",
                name=f"{trace.label} ({trace.mean_final_progress:.0f}% on average)",
                marker={
                    "size": 4,
                    "color": [s.speed for s in trace.steps],
                    "colorscale": "Viridis",
                    "showscale": index == 0,
                    "colorbar": {"title": {"text": "speed m/s"}},
                },
                text=[f"episode {s.episode}, {s.speed:.2f} m/s, action {s.action}" for s in trace.steps],
            )
        )
    figure.update_yaxes(scaleanchor="x", scaleratio=1)
    figure.update_layout(height=600, margin={"t": 30, "b": 30}, legend={"orientation": "h", "y": -0.05})
    return figure


def actions_figure(traces: list[IterationTrace]) -> go.Figure | None:
    counts = Counter(step.action for trace in traces for step in trace.steps)
    if not counts:
        return None

    def order(action: str) -> tuple[int, float, str]:
        try:
            return (0, float(action), action)
        except ValueError:
            return (1, 0.0, action)

    actions = sorted(counts, key=order)
    total = sum(counts.values())
    figure = go.Figure(
        go.Bar(
            x=[str(a) for a in actions],
            y=[counts[a] for a in actions],
            text=[f"{100 * counts[a] / total:.1f}%" for a in actions],
        )
    )
    figure.update_layout(height=340, xaxis_title="action", yaxis_title="steps", margin={"t": 30, "b": 40})
    return figure


# -- the page ---------------------------------------------------------------------------------


def _summary(data: ReportData) -> str:
    run = data.run
    at = clock_of(run, data.generated_at)
    elapsed = recovery.spent(run, at).elapsed_seconds
    outcome = run.outcome
    trained = run.trained_segment
    request = run.request
    rows = [
        ("model", request.model_name),
        ("run", f"{run.run_id} ({run.kind.value})"),
        ("state", run.state.value + (f": {run.failure}" if run.failure else "")),
        ("track", request.track),
        ("segments", str(len(run.segments))),
        ("episodes", str(len(data.lineage.episodes) or run.episodes())),
        ("best checkpoint", (outcome.best_checkpoint or "-") if outcome else "-"),
        (
            "last checkpoint",
            (outcome.last_checkpoint if outcome else None)
            or (trained.last_checkpoint if trained else "-")
            or "-",
        ),
        (
            "cost",
            f"${run.spent_usd(at):.2f}"
            + (f" of ${request.money_budget_usd:.2f}" if request.money_budget_usd else ""),
        ),
        (
            "time",
            _hours(elapsed)
            + (f" of {_hours(request.time_budget_minutes * 60)}" if request.time_budget_minutes else ""),
        ),
        ("created", _when(run.created_at)),
        ("report made", _when(data.generated_at)),
    ]
    return _table(rows)


def _segments_table(run: Run, now: float) -> str:
    head = (
        "<tr><th>segment</th><th>pool</th><th>price</th><th>launched</th><th>trained</th><th>episodes</th>"
        "<th>checkpoint</th><th>cost</th><th>ended</th></tr>"
    )
    body = []
    for s in run.segments:
        trained = (s.ended_at or now) - s.started_at if s.started_at else 0.0
        body.append(
            "<tr>"
            + "".join(
                f"<td>{html.escape(v)}</td>"
                for v in (
                    str(s.index),
                    s.pool.label if s.pool else "-",
                    f"${s.price_per_hour:.4f}/h" if s.price_per_hour is not None else "-",
                    _when(s.launched_at),
                    _hours(trained),
                    str(s.episodes),
                    s.last_checkpoint or "-",
                    f"${s.cost_usd(now):.3f}",
                    s.end_reason or ("running" if s.ended_at is None else "-"),
                )
            )
            + "</tr>"
        )
    return f"<table class='grid'>{head}{''.join(body)}</table>"


def _settings(data: ReportData) -> str:
    request = data.run.request
    rows = [
        (
            "time budget",
            f"{request.time_budget_minutes} min" if request.time_budget_minutes else "stack default",
        ),
        ("money budget", f"${request.money_budget_usd:.2f}" if request.money_budget_usd else "none"),
        ("workers", str(request.workers) if request.workers else "chosen with the instance size"),
        ("on demand allowed", "yes" if request.allow_on_demand else "no"),
        ("continues from", request.pretrained.model_prefix if request.pretrained else "scratch"),
        ("evaluate after", request.evaluate_after.model_dump_json() if request.evaluate_after else "no"),
    ]
    rows += [(f"run.env {k}", v) for k, v in sorted(request.run_settings.items())]
    parts = [_table(rows)]
    metadata = _json_or_none(data.custom_files.get("model_metadata.json"))
    if metadata is not None:
        space = metadata.get("action_space", [])
        kind = metadata.get("action_space_type", "discrete")
        facts = [
            ("algorithm", str(metadata.get("training_algorithm", "clipped_ppo"))),
            ("sensor", ", ".join(metadata.get("sensor", []) or ["?"])),
            ("neural network", str(metadata.get("neural_network", "?"))),
            (
                "action space",
                f"{kind}, {len(space) if isinstance(space, list) else 'continuous'} actions"
                if kind == "discrete"
                else f"continuous {json.dumps(space)}",
            ),
        ]
        parts.append("<h3>model_metadata.json</h3>" + _table(facts))
        if kind == "discrete" and isinstance(space, list):
            head = "<tr><th>action</th><th>steering °</th><th>speed m/s</th></tr>"
            body = "".join(
                f"<tr><td>{i}</td><td>{html.escape(str(a.get('steering_angle')))}</td>"
                f"<td>{html.escape(str(a.get('speed')))}</td></tr>"
                for i, a in enumerate(space)
                if isinstance(a, dict)
            )
            parts.append(f"<table class='grid'>{head}{body}</table>")
    hyper = _json_or_none(data.custom_files.get("hyperparameters.json"))
    if hyper is not None:
        parts.append("<h3>hyperparameters.json</h3>" + _table([(k, json.dumps(v)) for k, v in hyper.items()]))
    reward = data.custom_files.get("reward_function.py")
    if reward is not None:
        lines = reward.count("\n") + 1
        parts.append(
            f"<details><summary>reward_function.py ({lines} lines)</summary>"
            f"<pre>{html.escape(reward)}</pre></details>"
        )
    return "".join(parts)


def _json_or_none(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 1.6em; }
table.facts th { text-align: right; padding-right: 1em; font-weight: 600; }
table.grid { border-collapse: collapse; font-size: 0.9em; }
table.grid td, table.grid th { border: 1px solid #ddd; padding: 0.2em 0.6em; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 0.85em; }
.note { color: #8a5300; }
"""


def build_html(data: ReportData) -> str:
    run = data.run
    figures: list[tuple[str, go.Figure | None, str]] = [
        (
            "Reward and completion per iteration",
            progress_figure(data),
            "Dashed lines: a new segment, after the interruption or stall named there.",
        ),
        (
            "Cost and pace",
            timeline_figure(run, data.lineage, data.generated_at),
            "Shaded: an instance at work; the gaps are recoveries. Episodes per hour: the training "
            f"episodes ended in each of {PACE_WINDOWS} windows of the run (timed by the simulator).",
        ),
        ("Evaluations", evaluations_figure(run), ""),
        (
            "Track map: the car's path in the best iterations",
            track_figure(data),
            f"The {BEST_ITERATIONS} iterations whose episodes got furthest on average, coloured by speed.",
        ),
        (
            "Actions used",
            actions_figure(data.sample),
            "Steps per action in the simtrace read, spread over the whole lineage.",
        ),
    ]
    sections = []
    embedded = False
    for title, figure, caption in figures:
        if figure is None:
            sections.append(f"<h2>{html.escape(title)}</h2><p class='note'>nothing to show yet</p>")
            continue
        div = figure.to_html(full_html=False, include_plotlyjs=not embedded, config=_CONFIG)
        embedded = True
        sections.append(f"<h2>{html.escape(title)}</h2><p>{html.escape(caption)}</p>{div}")
    notes = "".join(f"<li>{html.escape(p)}</li>" for p in data.problems)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Pitwall report: {html.escape(run.request.model_name)} ({html.escape(run.run_id)})</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(run.request.model_name)}</h1>"
        f"{_summary(data)}"
        + (f"<ul class='note'>{notes}</ul>" if notes else "")
        + "<h2>Segments</h2>"
        + _segments_table(run, clock_of(run, data.generated_at))
        + "".join(sections)
        + "<h2>Settings and custom files</h2>"
        + _settings(data)
        + "</body></html>\n"
    )
