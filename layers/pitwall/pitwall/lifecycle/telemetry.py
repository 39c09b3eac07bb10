"""CloudWatch metrics of the lifecycle (powertools EMF, namespace Pitwall): each one emitted where
its fact happens (a heartbeat recorded, a segment replaced, an instance terminated, ...).

Powertools keeps ONE dimension set per flush: every metric added to the shared `metrics` during
an invocation carries the same dimensions (service only). Those are the fleet's totals the
dashboard sums. A metric that needs another dimension goes out on its own with `single_metric`
(its own EMF document): by `Cause` (the recovery's `Reason`, ten values), by `Model` (a racer has
a handful of models) and by `Status` of an import. A run id is never a dimension (every run would
make new metrics, each billed per month): it travels as EMF metadata, searchable in the logs.

Names are the dashboard's and the alarms' (template.yaml): keep them in step.
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from pitwall.observability import SERVICE, metrics

NAMESPACE = "Pitwall"

HEARTBEATS = "Heartbeats"
EPISODES = "Episodes"
CHECKPOINTS = "Checkpoints"
RUNS_STARTED = "RunsStarted"
RUNS_SUCCEEDED = "RunsSucceeded"
RUNS_FAILED = "RunsFailed"
REPLACEMENTS = "Replacements"
INTERRUPTIONS = "Interruptions"
STALLS = "Stalls"
CIRCUIT_BREAKER_TRIPS = "CircuitBreakerTrips"
COST = "CostUSD"
LIVE_RUNS = "LiveRuns"
STALE_RUNS = "StaleRuns"
BUDGET_USED = "BudgetUsedPercent"
LIVE_COST = "LiveCostUSD"
EVALUATIONS = "Evaluations"
BEST_LAP = "BestLapSeconds"
IMPORTS = "Imports"

# the recovery's reasons that count as a spot interruption and as a stall (recovery.Reason values)
INTERRUPTION_CAUSES = frozenset({"spot-interruption", "rebalance-recommendation"})
STALL_CAUSES = frozenset({"stall"})
BREAKER_CAUSES = frozenset({"circuit-breaker"})


def _by(name: str, unit: MetricUnit, value: float, dimension: str, label: str) -> None:
    """One metric under a dimension of its own (beside the fleet's total). powertools' switch
    POWERTOOLS_METRICS_DISABLED silences the shared set only (`_add`): here it silences these too."""
    if is_metrics_disabled():
        return
    with single_metric(
        name=name,
        unit=unit,
        value=value,
        namespace=NAMESPACE,
        default_dimensions={"service": SERVICE},
    ) as metric:
        metric.add_dimension(name=dimension, value=label)


def _add(name: str, unit: MetricUnit, value: float) -> None:
    """A metric of the fleet's set. Nothing when POWERTOOLS_METRICS_DISABLED: powertools then
    neither prints nor clears the set, which would grow until it prints at 100 values."""
    if not is_metrics_disabled():
        metrics.add_metric(name=name, unit=unit, value=value)


def _about(run_id: str) -> None:
    metrics.add_metadata(key="run_id", value=run_id)


def heartbeat(run_id: str) -> None:
    """A heartbeat of a run's host was recorded."""
    _about(run_id)
    _add(name=HEARTBEATS, unit=MetricUnit.Count, value=1)


def episodes(run_id: str, model: str, count: int) -> None:
    """`count` new training episodes were recorded."""
    if count <= 0:
        return
    _about(run_id)
    _add(name=EPISODES, unit=MetricUnit.Count, value=count)
    _by(EPISODES, MetricUnit.Count, count, "Model", model)


def checkpoint(run_id: str) -> None:
    """A segment wrote a new checkpoint."""
    _about(run_id)
    _add(name=CHECKPOINTS, unit=MetricUnit.Count, value=1)


def run_started(run_id: str) -> None:
    _about(run_id)
    _add(name=RUNS_STARTED, unit=MetricUnit.Count, value=1)


def run_ended(run_id: str, model: str, succeeded: bool, cost_usd: float) -> None:
    """A run ended: counted by how, and what all its instances cost (fleet total and by model)."""
    _about(run_id)
    _add(name=RUNS_SUCCEEDED if succeeded else RUNS_FAILED, unit=MetricUnit.Count, value=1)
    _add(name=COST, unit=MetricUnit.NoUnit, value=round(cost_usd, 6))
    _by(COST, MetricUnit.NoUnit, round(cost_usd, 6), "Model", model)


def recovery_decided(run_id: str, action: str, cause: str | None, *, ends_handover: bool = False) -> None:
    """The recovery decided to replace a segment, hand it over or stop a run, for `cause` (a
    recovery.Reason). A hand-over counts when it is decided (the rebalance recommendation, or the
    move to a cheaper pool): the replace that ends it (its replacement ready, or failed and
    launched anew) is the same replacement, so `ends_handover` counts it no second time."""
    if action not in ("replace", "handover", "stop") or cause is None:
        return
    if ends_handover and action == "replace":
        return
    _about(run_id)
    if action in ("replace", "handover"):
        _add(name=REPLACEMENTS, unit=MetricUnit.Count, value=1)
        _by(REPLACEMENTS, MetricUnit.Count, 1, "Cause", cause)
    if cause in INTERRUPTION_CAUSES:
        _add(name=INTERRUPTIONS, unit=MetricUnit.Count, value=1)
    elif cause in STALL_CAUSES:
        _add(name=STALLS, unit=MetricUnit.Count, value=1)
    elif cause in BREAKER_CAUSES:
        _add(name=CIRCUIT_BREAKER_TRIPS, unit=MetricUnit.Count, value=1)


def fleet(live_runs: int, stale_runs: int, budget_used_percent: float, live_cost_usd: float) -> None:
    """The scheduled look at the fleet: runs with an instance, those of them whose heartbeat is
    older than the window, the highest share of a money budget any of them has used, and what
    they have cost so far (the spend while runs are live; CostUSD comes at each run's end)."""
    _add(name=LIVE_RUNS, unit=MetricUnit.Count, value=live_runs)
    _add(name=STALE_RUNS, unit=MetricUnit.Count, value=stale_runs)
    _add(name=BUDGET_USED, unit=MetricUnit.Percent, value=round(budget_used_percent, 2))
    _add(name=LIVE_COST, unit=MetricUnit.NoUnit, value=round(live_cost_usd, 4))


def evaluated(run_id: str, model: str, completed_laps: int, best_lap_seconds: float | None) -> None:
    """An evaluation finished: counted by whether a lap was completed; its best lap by model."""
    _about(run_id)
    _add(name=EVALUATIONS, unit=MetricUnit.Count, value=1)
    _by(EVALUATIONS, MetricUnit.Count, 1, "Outcome", "lap" if completed_laps else "no-lap")
    if best_lap_seconds is not None:
        _by(BEST_LAP, MetricUnit.Seconds, best_lap_seconds, "Model", model)


def imported(model: str, status: str) -> None:
    """A model import into the console ended, `status` READY or ERROR."""
    metrics.add_metadata(key="model", value=model)
    _add(name=IMPORTS, unit=MetricUnit.Count, value=1)
    _by(IMPORTS, MetricUnit.Count, 1, "Status", status)
