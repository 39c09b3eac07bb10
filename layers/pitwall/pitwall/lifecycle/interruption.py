"""A spot interruption warning (or the earlier rebalance recommendation) for a run's instance:
ask its host to upload the latest checkpoint now (a SAVE control request). Continuing the run on
a new instance from that checkpoint is issue 4's stall/interruption recovery."""

from __future__ import annotations

import uuid

from pitwall.adapters.ec2 import run_of_instance
from pitwall.errors import RunNotFound
from pitwall.host.protocol import ControlAction, ControlRequest
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.models import InstanceEvent, SaveRequestOutput


def request_checkpoint_save(event: InstanceEvent, deps: Deps) -> SaveRequestOutput:
    instance_id = event.detail.instance_id
    owner = run_of_instance(deps.settings.region, instance_id)
    if owner is None:
        return SaveRequestOutput(instance_id=instance_id, run_id=None, requested=False)
    run_id, _ = owner
    try:
        run = deps.runs.get(run_id)
    except RunNotFound:
        return SaveRequestOutput(instance_id=instance_id, run_id=run_id, requested=False)
    segment = run.current_segment
    if run.is_terminal or segment is None or segment.instance_id != instance_id:
        return SaveRequestOutput(instance_id=instance_id, run_id=run_id, requested=False)
    request = ControlRequest(
        request_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{instance_id}/{event.detail_type}")),
        action=ControlAction.SAVE,
        instance_id=instance_id,
        requested_at_epoch=deps.clock.now(),
    )
    deps.store.put_text(run.keys.host_control, request.to_json())
    return SaveRequestOutput(instance_id=instance_id, run_id=run_id, requested=True)
