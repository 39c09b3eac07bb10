"""Terminate the run's current instance (idempotent: a gone instance is fine), delete its
segment's instance role, and record when and why it ended (a replaced segment keeps the reason
the recovery wrote)."""

from __future__ import annotations

from pitwall.adapters.iam import segment_role_name
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.models import TerminateInput, TerminateOutput
from pitwall.lifecycle.records import update_run
from pitwall.runs import Run


def terminate_instance(task: TerminateInput, deps: Deps) -> TerminateOutput:
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
