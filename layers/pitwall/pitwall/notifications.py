"""What the racer reads: one message per lifecycle event, with a short subject, a plain-text body
that ends with the command to run next, and the event's name as the SNS message attribute
`event` (the e-mail subscription's filter policy chooses events by it: template.yaml,
NotificationEvents).

Pure: runs and numbers in, messages out. The lifecycle builds a message where its fact happens
and publishes it (`adapters.messaging.Messaging.send`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pitwall.runs import EvaluationResult, Run, RunKind, Segment

SUBJECT_LIMIT = 99  # SNS allows 100 characters, printable ASCII, one line


class Event(StrEnum):
    TRAINING_STARTED = "training-started"
    RUN_INTERRUPTED = "run-interrupted"  # the recovery decided: replace, wait for capacity, stop
    RUN_RESUMED = "run-resumed"  # a replacement's host started: training goes on
    RUN_FINISHED = "run-finished"
    RUN_FAILED = "run-failed"
    RUN_REJECTED = "run-rejected"  # invalid custom files: no run record, no instance
    EVALUATION_FINISHED = "evaluation-finished"
    MODEL_IMPORTED = "model-imported"  # READY or ERROR in the console
    EVALUATION_BEST_LAP = "evaluation-best-lap"  # a scheduled evaluation beat the model's best lap


def events_pattern() -> str:
    """The regular expression of a comma-separated list of event names (or none): the template's
    NotificationEvents parameter must have exactly this AllowedPattern, so a misspelt event is
    refused at deployment rather than filtering out every message."""
    names = "|".join(event.value for event in Event)
    return f"^(({names})(,({names}))*)?$"


@dataclass(frozen=True)
class Message:
    event: Event
    subject: str
    body: str
    model: str = ""
    run_id: str = ""

    @property
    def attributes(self) -> dict[str, str]:
        """SNS message attributes (strings): what a subscription's filter policy can match."""
        values = {"event": self.event.value, "model": self.model, "run_id": self.run_id}
        return {name: value for name, value in values.items() if value}


def _subject(text: str) -> str:
    clean = "".join(c if " " <= c <= "~" else " " for c in text)
    return clean if len(clean) <= SUBJECT_LIMIT else clean[: SUBJECT_LIMIT - 3] + "..."


def duration(seconds: float) -> str:
    """`45 s`, `7 min`, `2 h 05 min`."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def usd(amount: float) -> str:
    return f"${amount:.2f}"


def _next(run_id: str, *, watch: bool = False) -> str:
    status = f"pitwall status {run_id}" + (" --watch" if watch else "")
    return f"Next: {status}\n      pitwall report {run_id} -o {run_id}.html"


def _pool(segment: Segment) -> str:
    if segment.pool is None:
        return "an unknown pool"
    pool = segment.pool
    return f"{pool.instance_type} {pool.market} in {pool.availability_zone}"


def _price(segment: Segment) -> str:
    return "an unknown price" if segment.price_per_hour is None else f"{usd(segment.price_per_hour)}/h"


def _budget(run: Run) -> str:
    parts = []
    if run.request.time_budget_minutes:
        parts.append(duration(run.request.time_budget_minutes * 60))
    if run.request.money_budget_usd:
        parts.append(usd(run.request.money_budget_usd))
    return " or ".join(parts) if parts else "the stack's default time"


def _lines(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def training_started(run: Run) -> Message:
    """The first segment's host reported that DRFC trains."""
    segment = run.segments[0]
    model = run.request.model_name
    return Message(
        Event.TRAINING_STARTED,
        _subject(f"Pitwall: {model} started training on {_pool(segment)} at {_price(segment)}"),
        _lines(
            f"Model {model} started training on {run.request.track} (run {run.run_id}).",
            f"Instance {segment.instance_id}: {_pool(segment)}, {_price(segment)}.",
            f"Budget: {_budget(run)}; workers: {segment.workers}.",
            "",
            _next(run.run_id, watch=True),
        ),
        model,
        run.run_id,
    )


def run_interrupted(run: Run, action: str, reason: str | None, detail: str) -> Message:
    """The recovery decided about a stall, a spot interruption, a failed host or no capacity and
    the run goes on (a stop is told by the run's end: `run_failed` or `run_finished`)."""
    model = run.request.model_name
    why = (reason or "an event").replace("-", " ")
    what = {
        "replace": "continues on a new instance",
        "handover": "boots its next instance while it trains on",
        "retry": "waits for spot capacity",
    }.get(action, action)
    done = run.trained_segment
    return Message(
        Event.RUN_INTERRUPTED,
        _subject(f"Pitwall: {model} {what} after a {why}"),
        _lines(
            f"Model {model} (run {run.run_id}, {run.kind.value}) {what}: {why}.",
            detail,
            f"Latest checkpoint: {done.last_checkpoint if done else 'none yet'}; "
            f"segments so far: {len(run.segments)}.",
            "",
            _next(run.run_id, watch=True),
        ),
        model,
        run.run_id,
    )


def run_resumed(run: Run, now: float) -> Message:
    """A replacement's host started: training goes on from the previous checkpoint. How long it
    took: from when the previous segment was given up (asked to save, or ended) to now."""
    model = run.request.model_name
    segment = run.segments[-1]
    previous = run.segments[-2]
    since = previous.save_requested_at or previous.ended_at or previous.last_heartbeat_at or now
    why = (previous.end_reason or "a replacement").split(":", 1)[0].replace("-", " ")
    source = segment.pretrained.model_prefix if segment.pretrained else "scratch"
    return Message(
        Event.RUN_RESUMED,
        _subject(f"Pitwall: {model} resumed after a {why} ({duration(now - since)})"),
        _lines(
            f"Model {model} (run {run.run_id}) resumed after a {why}: {duration(now - since)} "
            "without training.",
            f"Segment {segment.index} on {_pool(segment)} at {_price(segment)}, instance "
            f"{segment.instance_id}, continuing from {source}.",
            "",
            _next(run.run_id, watch=True),
        ),
        model,
        run.run_id,
    )


def _evaluation_lines(results: list[EvaluationResult]) -> list[str]:
    lines = []
    for result in results:
        lap = result.best_lap_seconds
        lines.append(
            f"  {result.track} ({result.checkpoint}): {result.completed_laps}/{result.trials} laps, "
            f"best lap {'none' if lap is None else f'{lap:.3f} s'}, "
            f"completion {result.mean_completion_percent:.1f}%"
        )
    return lines


def run_finished(run: Run, now: float) -> Message:
    """A training run succeeded (or an evaluation run: `evaluation_finished`)."""
    if run.kind == RunKind.EVALUATE:
        return evaluation_finished(run)
    model = run.request.model_name
    outcome = run.outcome
    episodes = outcome.episodes if outcome else run.episodes()
    cost = run.spent_usd(now)
    evaluations = _evaluation_lines(run.evaluations)
    return Message(
        Event.RUN_FINISHED,
        _subject(f"Pitwall: {model} trained, {episodes} episodes, {usd(cost)}"),
        _lines(
            f"Model {model} finished training on {run.request.track} (run {run.run_id}).",
            f"Episodes: {episodes}; segments: {len(run.segments)}; "
            f"time paid: {duration(run.paid_seconds(now))}; cost: {usd(cost)}.",
            f"Best checkpoint: {outcome.best_checkpoint if outcome and outcome.best_checkpoint else 'none'}"
            + (f" (metric {outcome.best_metric:.1f})" if outcome and outcome.best_metric is not None else ""),
            f"Last checkpoint: {outcome.last_checkpoint if outcome and outcome.last_checkpoint else 'none'}",
            f"Mean completion: {outcome.mean_completion_percent:.1f}%; laps completed: "
            f"{outcome.lap_completions}."
            if outcome
            else "No outcome collected.",
            *(["Evaluations:", *evaluations] if evaluations else ["Evaluations: none yet."]),
            "",
            _next(run.run_id),
        ),
        model,
        run.run_id,
    )


def evaluation_finished(run: Run) -> Message:
    model = run.request.model_name
    results = run.evaluations
    best = min((r.best_lap_seconds for r in results if r.best_lap_seconds is not None), default=None)
    lap = "no lap completed" if best is None else f"best lap {best:.3f} s"
    subject_run = run.source_run_id or run.run_id
    return Message(
        Event.EVALUATION_FINISHED,
        _subject(f"Pitwall: {model} evaluated, {lap}"),
        _lines(
            f"Model {model} (run {subject_run}) was evaluated (run {run.run_id}):",
            *(_evaluation_lines(results) or ["  no result"]),
            "",
            _next(subject_run),
        ),
        model,
        run.run_id,
    )


def run_failed(run: Run, now: float) -> Message:
    model = run.request.model_name
    reason = run.failure or "no reason recorded"
    trained = run.trained_segment
    return Message(
        Event.RUN_FAILED,
        _subject(f"Pitwall: {model} {run.kind.value} failed: {reason}"),
        _lines(
            f"Model {model} (run {run.run_id}, {run.kind.value}) failed.",
            f"Why: {reason}",
            f"Latest checkpoint: {trained.last_checkpoint if trained else 'none'}; "
            f"segments: {len(run.segments)}; cost: {usd(run.spent_usd(now))}.",
            "",
            _next(run.run_id),
        ),
        model,
        run.run_id,
    )


def run_rejected(run_id: str, reason: str) -> Message:
    """A run that never got a record (its custom files are invalid)."""
    return Message(
        Event.RUN_REJECTED,
        _subject(f"Pitwall: run {run_id} rejected"),
        _lines(
            f"Run {run_id} was rejected; nothing was launched.",
            f"Why: {reason}",
            "",
            "Next: pitwall validate <your custom-files folder>",
        ),
        run_id=run_id,
    )


def model_imported(
    model: str, run_id: str, status: str, reason: str = "", details: tuple[str, ...] = ()
) -> Message:
    """The console's import of a trained model ended: READY, or ERROR with the console's reason;
    `details`: more lines (the console's model, the checkpoint, the car file's link)."""
    ready = status.upper() == "READY"
    return Message(
        Event.MODEL_IMPORTED,
        _subject(
            f"Pitwall: {model} is ready in the console"
            if ready
            else f"Pitwall: {model} import failed: {reason or status}"
        ),
        _lines(
            f"Model {model} (run {run_id}) was imported into the DeepRacer console: {status.upper()}.",
            # DRoA gives no car file for an imported model: Pitwall's is in `details`, and
            # `pitwall car` writes it
            "It can race in DeepRacer on AWS. The car file is Pitwall's: pitwall car " + run_id
            if ready
            else f"Why: {reason or 'not given'}",
            *details,
            "",
            _next(run_id),
        ),
        model,
        run_id,
    )


def evaluation_best_lap(
    model: str, run_id: str, track: str, lap_seconds: float, previous_seconds: float | None
) -> Message:
    """A (scheduled) evaluation completed a lap faster than every earlier evaluation of the model."""
    gain = "" if previous_seconds is None else f", {previous_seconds - lap_seconds:.3f} s faster"
    return Message(
        Event.EVALUATION_BEST_LAP,
        _subject(f"Pitwall: {model} new best lap {lap_seconds:.3f} s on {track}"),
        _lines(
            f"Model {model} (run {run_id}) drove its best lap on {track}: {lap_seconds:.3f} s"
            + (
                f" (before: {previous_seconds:.3f} s{gain})."
                if previous_seconds is not None
                else " (its first lap)."
            ),
            "",
            _next(run_id),
        ),
        model,
        run_id,
    )
