"""Terminate the run's current instance (idempotent: a gone instance is fine), delete its
segment's instance role, and record when and why it ended (a replaced segment keeps the reason
the recovery wrote). When the run ends (`with_standby`), a hand-over's replacement goes too."""

from __future__ import annotations

from pitwall.adapters.iam import segment_role_name
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.models import TerminateInput, TerminateOutput
from pitwall.lifecycle.records import update_run
from pitwall.runs import Run


def drop_standby(run_id: str, reason: str, deps: Deps) -> None:
    """Terminate the hand-over's replacement (if any) and move its cost into the run's."""
    run = deps.runs.get(run_id)
    standby = run.standby
    if standby is None:
        return
    if standby.instance_id is not None:
        deps.ec2.terminate(standby.instance_id)
    deps.roles.delete(segment_role_name(run.run_id, standby.index))
    now = deps.clock.now()

    def record(latest: Run) -> tuple[bool, None]:
        dropped = latest.standby
        if dropped is None or dropped.instance_id != standby.instance_id:
            return False, None
        dropped.ended_at = dropped.ended_at or now
        latest.dropped_standby_cost_usd += dropped.cost_usd(now)
        latest.standby = None
        latest.updated_at = now
        return True, None

    update_run(deps, run_id, record)


def terminate_instance(task: TerminateInput, deps: Deps) -> TerminateOutput:
    if task.with_standby:
        drop_standby(task.run_id, task.reason, deps)
    run = deps.runs.get(task.run_id)
    segment = run.current_segment
    if segment is None or segment.instance_id is None:
        return TerminateOutput(run_id=run.run_id, instance_id=None, was_running=False)
    instance_id = segment.instance_id
    was_running = deps.ec2.terminate(instance_id)
    deps.roles.delete(segment_role_name(run.run_id, segment.index))
    now = deps.clock.now()

    def record_end(latest: Run) -> tuple[bool, None]:
        current = latest.current_segment
        if current is None or current.instance_id != instance_id:
            return False, None
        if current.ended_at is not None and current.end_reason is not None:
            return False, None
        current.ended_at = current.ended_at or now
        current.end_reason = current.end_reason or task.reason
        return True, None

    update_run(deps, run.run_id, record_end)
    return TerminateOutput(run_id=run.run_id, instance_id=instance_id, was_running=was_running)
