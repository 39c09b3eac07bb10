"""Provision a run's next segment (`recovery.next_segment`): rank the pools by price (a pool that
just took an instance of the run back goes last), give the segment its own least-privilege
instance role, write the run spec, launch in the cheapest pool that has capacity, on demand last
when the run allows it. The segment may use what the run's budget leaves (`budget.segment_seconds`
over `recovery.run_budget` and `recovery.spent`)."""

from __future__ import annotations

from pitwall import budget, pools, pricing, recovery
from pitwall.adapters.ec2 import RUN_TAG, SEGMENT_TAG, LaunchSpec, PoolUnavailable
from pitwall.adapters.iam import segment_role_name
from pitwall.errors import SpotCapacityUnavailable
from pitwall.host.iam import instance_policy
from pitwall.host.protocol import EvaluationLeg, Mode, RunSpec
from pitwall.lifecycle import drfc, telemetry
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.models import ProvisionOutput, RunRef
from pitwall.lifecycle.prepare import render_settings_files, segment_prefix_for
from pitwall.lifecycle.userdata import ensure_agent_archive, user_data_for
from pitwall.runs import Run, RunKind, RunState, Segment


def _output(run: Run, segment: Segment) -> ProvisionOutput:
    assert segment.instance_id is not None and segment.pool is not None
    return ProvisionOutput(
        run_id=run.run_id,
        segment=segment.index,
        instance_id=segment.instance_id,
        pool=segment.pool.label,
        market=segment.pool.market,
        price_per_hour=segment.price_per_hour,
        pools_tried=segment.pools_tried,
        deadline_epoch=segment.deadline_epoch,
    )


def _next_segment(run: Run, deps: Deps) -> recovery.NextSegment:
    """An evaluation's first segment reads its source run's model; everything else is
    `recovery.next_segment` (a new prefix continuing from the latest checkpoint)."""
    if run.kind == RunKind.EVALUATE and not run.segments:
        return recovery.NextSegment(index=0, model_prefix=segment_prefix_for(run, deps), pretrained=None)
    return recovery.next_segment(run)


def _segment_role(run: Run, segment: Segment, agent_archive: str, deps: Deps) -> str:
    """The segment's own instance role and profile (least privilege); returns the profile ARN."""
    policy = instance_policy(
        bucket=deps.settings.model_bucket,
        run_id=run.run_id,
        model_prefix=segment.model_prefix,
        pretrained_prefix=segment.pretrained.model_prefix if segment.pretrained else None,
        agent_archive_key=agent_archive,
    )
    name = segment_role_name(run.run_id, segment.index)
    return deps.roles.create(name, policy, {RUN_TAG: run.run_id, SEGMENT_TAG: str(segment.index)})


def evaluation_legs_to_do(run: Run, deps: Deps) -> list[EvaluationLeg]:
    """An evaluation's legs that no host has recorded as done: all of them for its first host,
    the rest for a replacement."""
    if run.kind != RunKind.EVALUATE or run.evaluation is None:
        return []
    return [
        EvaluationLeg(index=index, world_name=leg.track, reverse=leg.direction == "counterclockwise")
        for index, leg in enumerate(run.evaluation.legs(run.request.track))
        if not deps.store.exists(run.keys.evaluation_leg(index))
    ]


def provision_instance(task: RunRef, deps: Deps) -> ProvisionOutput:
    run = deps.runs.get(task.run_id)
    current = run.current_segment
    if run.state in (RunState.BOOTING, RunState.RUNNING) and current and current.instance_id:
        return _output(run, current)  # a retried invocation: the instance exists already
    now = deps.clock.now()
    settings = deps.settings
    policy = recovery.RecoveryPolicy.from_settings(settings)
    if run.state != RunState.PROVISIONING:
        run.move_to(RunState.PROVISIONING, now)
    following = _next_segment(run, deps)
    segment = Segment(
        index=following.index,
        model_prefix=following.model_prefix,
        pretrained=following.pretrained,
        deadline_epoch=now,
    )
    zones = deps.ec2.subnet_zones(settings.subnet_ids)
    ranked = pools.rank_pools(
        settings.instance_types,
        zones,
        deps.ec2.spot_prices(settings.instance_types),
        {
            t: p
            for t in settings.instance_types
            if (p := pricing.on_demand_price(settings.region, t)) is not None
        },
        allow_on_demand=run.request.allow_on_demand,
    )
    # a pool that just took an instance of this run back is tried last
    ranked = recovery.order_pools(ranked, recovery.excluded_pools(run, now, policy))
    run_values = drfc.run_settings(
        run.request,
        run_id=run.run_id,
        model_prefix=segment.model_prefix,
        pretrained=segment.pretrained,
        evaluation=run.evaluation,
    )
    system_values = drfc.system_settings(settings, run.request)
    render_settings_files(run, run_values, system_values, deps)
    run_budget, spent = recovery.run_budget(run, policy), recovery.spent(run, now)
    agent_archive, agent_archive_sha256 = ensure_agent_archive(deps.store)
    profile_arn = _segment_role(run, segment, agent_archive, deps)
    legs = evaluation_legs_to_do(run, deps)
    failures: list[str] = []
    for priced in ranked:
        allowed = budget.segment_seconds(
            run_budget, spent, price_per_hour=priced.price_per_hour, boot_seconds=policy.boot_seconds
        )
        spec = RunSpec(
            run_id=run.run_id,
            segment=segment.index,
            mode=Mode.EVALUATE if run.kind == RunKind.EVALUATE else Mode.TRAIN,
            bucket=settings.model_bucket,
            region=settings.region,
            model_prefix=segment.model_prefix,
            run_settings=run_values,
            system_settings=system_values,
            deadline_epoch=now + allowed,
            pretrained_prefix=segment.pretrained.model_prefix if segment.pretrained else None,
            status_poll_seconds=settings.host_poll_seconds,
            agent_archive_sha256=agent_archive_sha256,
            evaluation_legs=legs,
        )
        deps.store.put_text(run.keys.run_spec, spec.to_json())
        launch = LaunchSpec(
            image_id=settings.image_id,
            security_group_id=settings.security_group_id,
            instance_profile_arn=profile_arn,
            user_data=user_data_for(spec, agent_archive, now),
            run_id=run.run_id,
            segment=segment.index,
        )
        try:
            instance_id = deps.ec2.launch(priced.pool, launch)
        except PoolUnavailable as exc:
            failures.append(str(exc))
            segment.pools_tried.append(priced.pool.label)
            continue
        segment.pools_tried.append(priced.pool.label)
        segment.instance_id = instance_id
        segment.pool = priced.pool
        segment.price_per_hour = priced.price_per_hour
        segment.launched_at = now
        segment.deadline_epoch = spec.deadline_epoch
        run.segments.append(segment)
        run.move_to(RunState.BOOTING, now)
        run = deps.runs.save(run)
        if segment.index == 0:
            telemetry.run_started(run.run_id)
        return _output(run, segment)
    deps.roles.delete(segment_role_name(run.run_id, segment.index))  # made again on the next try
    deps.runs.save(run)  # PROVISIONING: the recovery decides on a run that looks for capacity
    raise SpotCapacityUnavailable(
        f"run {run.run_id}: none of {len(ranked)} pools could launch"
        + ("" if run.request.allow_on_demand else " (on-demand fallback not allowed by the run)")
        + ": "
        + "; ".join(failures)
    )
