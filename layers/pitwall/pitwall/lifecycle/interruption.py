"""A spot interruption warning (or the earlier rebalance recommendation) for a run's instance.

Runs go through `recovery.resolve`: the segment is marked as replaced under the run
record's version (so a heartbeat timeout about the same instance at the same moment finds it
ending and changes nothing), the host is asked to upload its latest checkpoint (a SAVE control
request), and the Train machine's wait is failed with `SegmentReplaced`: the machine waits for
the save, terminates the instance and continues on a new one in another pool, from that
checkpoint. An evaluation has nothing to save: the Evaluate machine terminates the instance and
evaluates the same checkpoint again on a new one.

The instance's state change to shutting-down / terminated (the spot reclaim two minutes later, or
any other end) records that the segment's instance ended, and ends a wait for a save that can no
longer come, so the run goes on at once. An instance that ends with no warning before (terminated
by hand, a host failure) is replaced at once through the same recovery (`INSTANCE_GONE`, or
`HOST_FAILED` when its host reported a failure first), instead of when the heartbeat window runs
out. A warning about an instance whose host already finished its work changes nothing.
"""

from __future__ import annotations

from pitwall import recovery
from pitwall.errors import InvalidEvent, RunNotFound
from pitwall.host.protocol import HostState, HostStatus
from pitwall.lifecycle.await_host import parse_host_status
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.models import STATE_CHANGE, InstanceEvent, SaveRequestOutput
from pitwall.lifecycle.records import update_run
from pitwall.lifecycle.recover import ask_to_save, report_recovery
from pitwall.observability import logger
from pitwall.runs import Awaiting, Run

GONE_STATES = frozenset({"shutting-down", "terminated"})


def _instance_gone(run_id: str, instance_id: str, deps: Deps) -> str | None:
    """The run's current instance is shutting down (a spot reclaim, the host's own power-off):
    record that it ended, and end a wait for its host's save, which will not come now."""
    now = deps.clock.now()

    def record(run: Run) -> tuple[bool, str | None]:
        segment = run.current_segment
        if run.is_terminal or segment is None or segment.instance_id != instance_id:
            return False, None
        changed = segment.ended_at is None
        segment.ended_at = segment.ended_at or now
        token = run.task_token if run.awaiting == Awaiting.SAVED else None
        if token:
            run.awaiting, run.task_token = None, None
        return changed or token is not None, token

    _, token = update_run(deps, run_id, record)
    if token:
        deps.tasks.fail(
            token, recovery.INSTANCE_GONE_ERROR, f"instance {instance_id} ended before its host saved"
        )
    return token


def _host_report(run: Run, instance_id: str, deps: Deps) -> HostStatus | None:
    """The latest report of the instance's host, which may not be in the run record yet."""
    body = deps.store.get_bytes(run.keys.host_status)
    status = parse_host_status(body, run.keys.host_status) if body else None
    return status if status is not None and status.instance_id == instance_id else None


def _resolve(
    kind: recovery.EventKind, run_id: str, event: InstanceEvent, deps: Deps, detail: str | None = None
) -> SaveRequestOutput:
    instance_id = event.detail.instance_id
    now = deps.clock.now()
    resolved = recovery.resolve(
        recovery.RunEvent(kind=kind, at=now, instance_id=instance_id, detail=detail or event.detail_type),
        load=lambda: deps.runs.get(run_id),
        save=deps.runs.save,
        now=now,
        policy=recovery.RecoveryPolicy.from_settings(deps.settings),
    )
    decision = resolved.decision
    save = isinstance(decision, recovery.Replace | recovery.Stop) and decision.save_first
    if save:
        ask_to_save(resolved.run, instance_id, event.detail_type, deps)  # before the machine waits for it
    if resolved.task_token and isinstance(decision, recovery.HandOver):
        # the work wait ends; the machine launches the standby, this instance trains on
        deps.tasks.fail(resolved.task_token, decision.task_error, decision.detail)
    elif resolved.task_token and isinstance(decision, recovery.Replace | recovery.Stop):
        deps.tasks.fail(resolved.task_token, decision.task_error, decision.end_reason)
    report_recovery(resolved.run, decision, deps)
    return SaveRequestOutput(instance_id=instance_id, run_id=run_id, requested=save, decision=decision.action)


def request_checkpoint_save(event: InstanceEvent, deps: Deps) -> SaveRequestOutput:
    instance_id = event.detail.instance_id
    ignored = SaveRequestOutput(instance_id=instance_id, run_id=None, requested=False)
    owner = deps.ec2.run_of_instance(instance_id)
    if owner is None:
        logger.info("ignored an event about an instance not Pitwall's", extra={"instance_id": instance_id})
        return ignored
    run_id, _ = owner
    ignored.run_id = run_id
    try:
        run = deps.runs.get(run_id)
    except RunNotFound:
        logger.info("ignored an event about an instance of an unknown run", extra={"run_id": run_id})
        return ignored
    segment = run.current_segment
    if run.is_terminal or segment is None or segment.instance_id != instance_id:
        logger.info(
            "ignored an event about an instance that is not its run's current one",
            extra={"run_id": run_id, "instance_id": instance_id, "run_state": run.state.value},
        )
        return ignored
    if event.detail_type == STATE_CHANGE:
        if event.detail.state not in GONE_STATES:
            return ignored
        ended_wait = _instance_gone(run_id, instance_id, deps)
        if ended_wait:
            return SaveRequestOutput(
                instance_id=instance_id, run_id=run_id, requested=False, decision="save-wait-ended"
            )
        # ended with no warning before (by hand, a host failure): replace it now, not after the
        # heartbeat window; a segment already ending (warned, finished) makes this an Ignore. A
        # host that failed powers its instance off: its report may come after this event, and
        # the recovery counts host failures (two in a row without a checkpoint stop the run).
        report = _host_report(run, instance_id, deps)
        if report is not None and report.state == HostState.FAILED:
            return _resolve(recovery.EventKind.HOST_FAILED, run_id, event, deps, report.detail)
        return _resolve(recovery.EventKind.INSTANCE_GONE, run_id, event, deps)
    report = _host_report(run, instance_id, deps)
    if report is not None and report.state == HostState.FINISHED:
        logger.info(
            "ignored a warning about an instance whose host finished its work",
            extra={"run_id": run_id, "instance_id": instance_id, "detail_type": event.detail_type},
        )
        return ignored
    kind = recovery.event_kind_of_detail_type(event.detail_type)
    if kind is None:  # InstanceEvent admits only the three detail types: a new one needs a rule here
        raise InvalidEvent(f"InstanceEvent: detail-type: {event.detail_type!r} has no recovery")
    return _resolve(kind, run_id, event, deps)
