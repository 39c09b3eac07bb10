"""The scheduled reaper: terminate every Pitwall-tagged instance that `reaper.instances_to_terminate`
names (no live run, not its run's current instance, past its deadline or its segment's end, plus
a grace), and delete its segment's instance role."""

from __future__ import annotations

import contextlib

from pitwall import reaper
from pitwall.adapters.ec2 import RUN_TAG, SEGMENT_TAG
from pitwall.adapters.iam import segment_role_name
from pitwall.errors import RunNotFound
from pitwall.lifecycle import telemetry
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.models import Reaped, ReapOutput
from pitwall.observability import logger
from pitwall.runs import Run


def reap_instances(deps: Deps, policy: reaper.ReaperPolicy | None = None) -> ReapOutput:
    now = deps.clock.now()
    descriptions = deps.ec2.tagged_instances()
    instances = [reaper.tagged_instance(d, RUN_TAG) for d in descriptions]
    segments = {
        d["InstanceId"]: tag["Value"]
        for d in descriptions
        for tag in d.get("Tags", [])
        if tag["Key"] == SEGMENT_TAG
    }
    runs: dict[str, Run] = {}
    for run_id in {i.run_id for i in instances if i.run_id}:
        with contextlib.suppress(RunNotFound):  # reaper: an unknown run's instance goes
            runs[run_id] = deps.runs.get(run_id)
    reaped: list[Reaped] = []
    for doomed in reaper.instances_to_terminate(instances, runs, now, policy or reaper.ReaperPolicy()):
        deps.ec2.terminate(doomed.instance_id)
        segment = segments.get(doomed.instance_id, "")
        if doomed.run_id and segment.isdigit():
            deps.roles.delete(segment_role_name(doomed.run_id, int(segment)))
        logger.warning("reaped", extra={"instance_id": doomed.instance_id, "reason": doomed.reason})
        reaped.append(Reaped(instance_id=doomed.instance_id, run_id=doomed.run_id, reason=doomed.reason))
    fleet = reaper.fleet_view(runs.values(), now, deps.settings.heartbeat_window_seconds)
    telemetry.fleet(fleet.live_runs, fleet.stale_runs, fleet.budget_used_percent, fleet.live_cost_usd)
    return ReapOutput(checked=len(instances), terminated=reaped)
