"""`pitwall status RUN --watch`: a live terminal view of one run (rich), until the run ends.

The run record and the model's files in S3 are read again every `interval` seconds, never more
often than the controller records a heartbeat (a quarter of the stack's heartbeat window: the
record cannot change faster). Between two reads, the clock alone moves the view: cost so far,
time left and the budget bars.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from pitwall import drfc_files, layout, recovery
from pitwall.adapters.store import ObjectStore
from pitwall.runs import Run, RunState
from pitwall.settings import stack_clock
from pitwall_cli.lineage_metrics import join_lineage
from pitwall_cli.metrics import read_segment


class RunsTableLike(Protocol):
    def get(self, run_id: str) -> Run: ...


TICK_SECONDS = 1.0  # how often the clock-driven parts of the view move, in the stack's seconds
# ... and at least this much wall time between two redraws: on a fast stack clock (the local
# stack's 480x) a stack second is 2 ms, and redrawing that often keeps a core busy for nothing
WALL_TICK_SECONDS = 0.25
MINIMUM_INTERVAL = 5.0  # the host's own status cadence: nothing reaches S3 faster

_STATE_STYLE = {
    RunState.PREPARED: "cyan",
    RunState.PROVISIONING: "yellow",
    RunState.BOOTING: "yellow",
    RunState.RUNNING: "bold green",
    RunState.FINISHING: "green",
    RunState.SUCCEEDED: "bold green",
    RunState.FAILED: "bold red",
}


@dataclass(frozen=True)
class Snapshot:
    """One read of a run: its record and what its model prefixes hold."""

    run: Run
    episodes: int
    iterations: int
    newest_checkpoint: str | None
    best_checkpoint: str | None
    best_metric: float | None


def read_snapshot(run: Run, store: ObjectStore) -> Snapshot:
    lineage = join_lineage([read_segment(store, s.index, s.model_prefix) for s in run.segments])
    checkpoints = drfc_files.checkpoints_of(None)
    for segment in reversed(run.segments):  # the model is the latest segment with a checkpoint
        written = drfc_files.checkpoints_of(
            store.get_json(layout.ModelKeys(segment.model_prefix).checkpoints_json)
        )
        if written.last:
            checkpoints = written
            break
    return Snapshot(
        run=run,
        episodes=max(len(lineage.episodes), run.episodes()),
        iterations=len({e.iteration for e in lineage.episodes}),
        newest_checkpoint=checkpoints.last or (t.last_checkpoint if (t := run.trained_segment) else None),
        best_checkpoint=checkpoints.best,
        best_metric=checkpoints.best_metric,
    )


def clock_of(run: Run, now: float) -> float:
    """When to measure an ended run's time at: when its last instance ended (the record may be
    written later, e.g. by its evaluation); a live run's: now."""
    if not run.is_terminal:
        return now
    ends = [s.ended_at for s in run.segments if s.ended_at is not None]
    return max(ends) if ends else run.updated_at


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _bar(used: float, total: float | None, label: str) -> RenderableType:
    if not total:
        return Text(f"{label} (no limit)")
    share = min(1.0, max(0.0, used / total))
    grid = Table.grid(padding=(0, 1))
    grid.add_row(ProgressBar(total=1.0, completed=share, width=30), Text(f"{share:>4.0%}  {label}"))
    return grid


def render(snapshot: Snapshot, now: float, default_time_budget_minutes: int) -> RenderableType:
    """The view of `snapshot` at `now` (the clock moves cost, time and the bars)."""
    run = snapshot.run
    segment = run.current_segment
    minutes = run.request.time_budget_minutes or default_time_budget_minutes
    time_budget = minutes * 60.0
    at = clock_of(run, now)
    elapsed = recovery.spent(run, at).elapsed_seconds
    cost = run.spent_usd(at)  # money only reserved for a running evaluation is not spent
    reserved = run.committed_usd(at) - cost
    money = run.request.money_budget_usd
    lap = min((r.best_lap_seconds for r in run.evaluations if r.best_lap_seconds is not None), default=None)
    best_eval = next((r for r in run.evaluations if r.best_lap_seconds == lap), None) if lap else None

    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", justify="right")
    table.add_column()
    state = Text(run.state.value, style=_STATE_STYLE[run.state])
    if run.failure:
        state.append(f"  {run.failure}", style="red")
    table.add_row("state", state)
    if segment is None:
        table.add_row("segment", "none yet")
    else:
        pool = segment.pool.label if segment.pool else "looking for a pool"
        table.add_row(
            "segment",
            f"{segment.index} ({len(run.segments)} so far): {pool}, instance {segment.instance_id or '-'}, "
            f"host {segment.host_state or '-'}",
        )
        price = "-" if segment.price_per_hour is None else f"${segment.price_per_hour:.4f}/h"
        table.add_row("price", price)
        if segment.end_reason:
            table.add_row("ending", segment.end_reason)
    table.add_row("episodes", f"{snapshot.episodes} in {snapshot.iterations} iterations")
    table.add_row("newest checkpoint", snapshot.newest_checkpoint or "-")
    best = snapshot.best_checkpoint or "-"
    if snapshot.best_metric is not None:
        best += f" (metric {snapshot.best_metric:.1f})"
    table.add_row("best checkpoint", best)
    table.add_row(
        "best evaluation lap",
        f"{lap:.3f} s on {best_eval.track}" if lap is not None and best_eval else "-",
    )
    table.add_row(
        "cost so far",
        f"${cost:.2f}"
        + (f" of ${money:.2f}" if money else "")
        + (f", ${reserved:.2f} reserved for a running evaluation" if reserved else ""),
    )
    left = time_budget - elapsed
    table.add_row(
        "time",
        f"{_clock(elapsed)} of {_clock(time_budget)}" + ("" if run.is_terminal else f", {_clock(left)} left"),
    )
    table.add_row("time budget", _bar(elapsed, time_budget, f"{_clock(elapsed)} used"))
    table.add_row("money budget", _bar(cost, money, f"${cost:.2f} spent"))
    title = f"{run.request.model_name} on {run.request.track}"
    footer = (
        f"pitwall report {run.run_id} -o {run.run_id}.html"
        if run.is_terminal
        else "refreshes from the run record and S3; Ctrl-C leaves"
    )
    return Panel(Group(table), title=f"[bold]{title}[/]", subtitle=f"{run.run_id} · {footer}", expand=False)


def tick_of(scale: float) -> float:
    """The stack seconds between two redraws on a clock `scale` times the wall clock's speed."""
    return max(TICK_SECONDS, WALL_TICK_SECONDS * scale)


def watch(
    load: Callable[[], Snapshot],
    console: Console,
    *,
    interval: float,
    default_time_budget_minutes: int,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    tick: float = TICK_SECONDS,
) -> Snapshot:
    """Show the run live until it ends; return its last snapshot. `load` reads the run again (every
    `interval` seconds, at least MINIMUM_INTERVAL); between reads the clock moves the view, redrawn
    every `tick` seconds (a tick ends early when a read is due, so reads keep their cadence)."""
    interval = max(interval, MINIMUM_INTERVAL)
    snapshot = load()
    read_at = clock()
    with Live(
        render(snapshot, read_at, default_time_budget_minutes), console=console, auto_refresh=False
    ) as live:
        while not snapshot.run.is_terminal:
            sleep(max(0.0, min(tick, read_at + interval - clock())))
            now = clock()
            if now - read_at >= interval:
                snapshot, read_at = load(), now
            live.update(render(snapshot, now, default_time_budget_minutes), refresh=True)
    return snapshot


def cadence(parameters: dict[str, str]) -> tuple[float, int]:
    """The refresh interval (a quarter of the stack's heartbeat window: how often the controller
    records a run's progress) and the default time budget, from the stack's parameters."""
    window = float(parameters.get("HeartbeatWindowSeconds", "600"))
    return max(MINIMUM_INTERVAL, window / 4), int(parameters.get("DefaultTimeBudgetMinutes", "120"))


def read_interval(parameters: dict[str, str], interval: float | None) -> float:
    """How often to read the run: `--interval` when given, never faster than the cadence."""
    slowest, _ = cadence(parameters)
    return slowest if interval is None else max(interval, slowest)


def watch_command(
    run_id: str, table: RunsTableLike, store: ObjectStore, parameters: dict[str, str], interval: float | None
) -> int:
    """`pitwall status RUN --watch`: 0 when the run succeeded, 1 when it failed. The view runs on
    the stack's clock (its TimeScale and TimeAnchorEpoch: the wall clock in AWS)."""
    _, default_minutes = cadence(parameters)
    scale = float(parameters.get("TimeScale", 1))
    clock = stack_clock(scale, float(parameters.get("TimeAnchorEpoch", 0)))
    final = watch(
        lambda: read_snapshot(table.get(run_id), store),
        Console(),
        interval=read_interval(parameters, interval),
        default_time_budget_minutes=default_minutes,
        clock=clock.now,
        sleep=lambda seconds: time.sleep(seconds / scale),  # `seconds` of the stack's time
        tick=tick_of(scale),
    )
    return 0 if final.run.state == RunState.SUCCEEDED else 1
