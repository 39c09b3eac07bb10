"""Heartbeats: S3 object-created events for a run's heartbeat keys (`layout.classify_heartbeat`).

- the host's status: record it, and answer the waiting task when the host got where it waits
  (started / finished) or failed. The version read is the one notified (each report once,
  whatever overwrote it since);
- TrainingMetrics.json (rewritten each episode), deepracer_checkpoints.json and an evaluation's
  metrics (rewritten each trial): keep the waiting task alive; at a new checkpoint, look for a
  cheaper pool to move to (`move.consider_moving`, rate-limited). Training progress is recorded,
  and the waiting task kept alive, at most every quarter window (a run record read and write per
  episode would cost more than the rest of the controller; the wait's heartbeat timeout is the
  whole window); a new checkpoint, and an evaluation's heartbeat (a trial takes minutes), always.

The S3 rule sends every `.json` under models/ here (S3 allows no overlapping rules, and an
evaluation's file has no fixed suffix): the other files, and worker k>0 metrics, are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote_plus

from pitwall import drfc_files, layout, notifications
from pitwall.errors import RunNotFound
from pitwall.lifecycle import telemetry
from pitwall.lifecycle.await_host import host_report, parse_host_status
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.models import HeartbeatOutput, S3Notification
from pitwall.lifecycle.move import consider_moving
from pitwall.lifecycle.progress import Verdict, apply_host_status, apply_training_progress
from pitwall.lifecycle.records import update_run
from pitwall.observability import logger
from pitwall.runs import Run, RunKind, RunState


def _host_status(key: str, version_id: str | None, prefix: str, deps: Deps, out: HeartbeatOutput) -> None:
    run_id = prefix[len(layout.RUNS_PREFIX) :].rstrip("/")
    body = deps.store.get_bytes(key, version_id)
    if body is None:
        out.ignored += 1
        return
    status = parse_host_status(body, key)
    if status is None:
        out.ignored += 1
        return
    now = deps.clock.now()

    def record(run: Run) -> tuple[bool, tuple[Verdict, str | None, bool]]:
        token = run.task_token
        booting = run.state == RunState.BOOTING
        verdict = apply_host_status(run, status, now)
        if verdict.changed and token and (verdict.settle or verdict.fail_error):
            run.awaiting, run.task_token = None, None
        return verdict.changed, (verdict, token, booting and run.state == RunState.RUNNING)

    try:
        run, (verdict, token, started) = update_run(deps, run_id, record)
    except RunNotFound:
        logger.info("ignored the status of an unknown run", extra={"key": key})
        out.ignored += 1
        return
    if not verdict.changed:
        out.ignored += 1
        return
    out.recorded += 1
    telemetry.heartbeat(run.run_id)
    if started and run.kind == RunKind.TRAIN:
        first = all(earlier.started_at is None for earlier in run.segments[:-1])
        message = notifications.training_started(run) if first else notifications.run_resumed(run, now)
        deps.messaging.send(message)
    if token and verdict.fail_error:
        deps.tasks.fail(token, verdict.fail_error, status.detail or f"host of run {run.run_id} failed")
        out.settled += 1
    elif token and verdict.settle:
        deps.tasks.succeed(token, host_report(run, status).model_dump(mode="json"))
        out.settled += 1


@dataclass
class WarmMemo:
    """What a warm Lambda remembers between heartbeats (the handler keeps one; a cold start, or a
    call without one, remembers nothing): every episode's metrics come here.

    live_run_id_of_prefix: the run that writes each model prefix (a read by run id is cheaper
    than the index query); checked at each use, as the prefix of an ended run may be written
    again by a new run of the same model name.
    progress_recorded_at: when each prefix's training progress was last recorded (by this Lambda
    or another, on the run's clock): until a quarter window later, its training metrics need no
    record read at all.
    """

    live_run_id_of_prefix: dict[str, str] = field(default_factory=dict)
    progress_recorded_at: dict[str, float] = field(default_factory=dict)


def _is_live_run_of(run: Run, model_prefix: str) -> bool:
    return not run.is_terminal and run.model_prefix == model_prefix


def _live_run_of(model_prefix: str, deps: Deps, memo: WarmMemo) -> Run | None:
    known = memo.live_run_id_of_prefix.get(model_prefix)
    if known is not None:
        try:
            run = deps.runs.get(known)
        except RunNotFound:
            run = None
        if run is not None and _is_live_run_of(run, model_prefix):
            return run
        memo.live_run_id_of_prefix.pop(model_prefix, None)
    for run in deps.runs.by_model_prefix(model_prefix):
        if _is_live_run_of(run, model_prefix):
            memo.live_run_id_of_prefix[model_prefix] = run.run_id
            return run
    return None


def _model_progress(
    key: str, beat: layout.Heartbeat, deps: Deps, out: HeartbeatOutput, memo: WarmMemo
) -> None:
    now = deps.clock.now()
    quarter_window = deps.settings.heartbeat_window_seconds / 4
    metrics = beat.kind == layout.HeartbeatKind.TRAINING_METRICS
    remembered = memo.progress_recorded_at.get(beat.prefix)
    if metrics and remembered is not None and 0 <= now - remembered < quarter_window:
        out.ignored += 1
        return
    run = _live_run_of(beat.prefix, deps, memo)
    if run is None:
        logger.info("ignored a heartbeat of no live run", extra={"key": key})
        out.ignored += 1
        return
    segment = run.current_segment
    assert segment is not None
    recorded_at = segment.metrics_recorded_at
    if metrics and recorded_at is not None and now - recorded_at < quarter_window:
        memo.progress_recorded_at[beat.prefix] = recorded_at
        out.ignored += 1
        return
    if run.task_token and deps.tasks.heartbeat(run.task_token):
        out.kept_alive += 1
    telemetry.heartbeat(run.run_id)
    episodes, checkpoint = None, None
    try:
        if beat.kind == layout.HeartbeatKind.CHECKPOINTS:
            checkpoint = drfc_files.checkpoints_of(deps.store.get_json(key)).last
        elif beat.kind == layout.HeartbeatKind.TRAINING_METRICS:
            episodes = drfc_files.episode_count(deps.store.get_json(key))
    except (ValueError, TypeError, AttributeError) as exc:  # DRFC wrote something else: it kept alive
        logger.warning("ignored a malformed model file", extra={"key": key, "problem": str(exc)})
        out.ignored += 1
        return

    def record(latest: Run) -> tuple[bool, tuple[int, bool]]:
        current = latest.current_segment
        before = (current.episodes, current.last_checkpoint) if current else (0, None)
        changed = apply_training_progress(
            latest, beat.prefix, episodes=episodes, checkpoint=checkpoint, at=now
        )
        if not changed or current is None:
            return changed, (0, False)
        return True, (current.episodes - before[0], current.last_checkpoint != before[1])

    _, (new_episodes, new_checkpoint) = update_run(deps, run.run_id, record)
    out.recorded += 1
    if metrics:
        memo.progress_recorded_at[beat.prefix] = now
    telemetry.episodes(run.run_id, run.request.model_name, new_episodes)
    if new_checkpoint:
        telemetry.checkpoint(run.run_id)
        try:
            consider_moving(run.run_id, deps)
        except Exception:  # a price lookup that fails must not lose the heartbeat: no move now
            logger.exception("the check for a cheaper pool failed", extra={"run_id": run.run_id})


def record_heartbeat(event: S3Notification, deps: Deps, memo: WarmMemo | None = None) -> HeartbeatOutput:
    memo = memo if memo is not None else WarmMemo()
    out = HeartbeatOutput()
    ours, others = event.records_of(deps.settings.model_bucket)
    for record in others:
        logger.warning("ignored an event from another bucket", extra={"bucket": record.s3.bucket.name})
        out.ignored += 1
    for record in ours:
        key = unquote_plus(record.s3.object.key)
        beat = layout.classify_heartbeat(key)
        if beat is None:
            out.ignored += 1
        elif beat.kind == layout.HeartbeatKind.HOST_STATUS:
            _host_status(key, record.s3.object.versionId, beat.prefix, deps, out)
        elif beat.worker == 0:
            _model_progress(key, beat, deps, out, memo)
        else:
            out.ignored += 1  # worker k>0 metrics: worker 0 already beats
    logger.debug("heartbeats", extra=out.model_dump())
    return out
