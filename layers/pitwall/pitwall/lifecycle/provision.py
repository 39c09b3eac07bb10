"""Provision a run's next segment: rank the pools by price, write the run spec, launch in the
cheapest pool that has capacity, on demand last when the run allows it."""

from __future__ import annotations

from pitwall import budget, pools, pricing
from pitwall.adapters.ec2 import LaunchSpec, PoolUnavailable
from pitwall.errors import SpotCapacityUnavailable
from pitwall.host.protocol import Mode, RunSpec
from pitwall.lifecycle import drfc
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.models import ProvisionOutput, RunRef
from pitwall.lifecycle.prepare import render_settings_files, segment_prefix_for, time_budget_seconds
from pitwall.lifecycle.userdata import ensure_agent_archive, user_data_for
from pitwall.runs import PretrainedSource, Run, RunKind, RunState, Segment


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


def _pretrained_for(run: Run) -> PretrainedSource | None:
    """Segment 0 continues from the request's source (an increment); later segments from the
    segment before them, checkpoint `last` (issue 4: relaunch after a stall or interruption)."""
    if run.kind == RunKind.EVALUATE:
        return None
    if not run.segments:
        return run.request.pretrained
    return PretrainedSource(model_prefix=run.segments[-1].model_prefix, checkpoint="last")


def _spent(run: Run, now: float) -> budget.Spent:
    first_launch = min((s.launched_at for s in run.segments if s.launched_at is not None), default=None)
    return budget.Spent(
        elapsed_seconds=0.0 if first_launch is None else now - first_launch, cost_usd=run.cost_usd(now)
    )


def provision_instance(task: RunRef, deps: Deps) -> ProvisionOutput:
    run = deps.runs.get(task.run_id)
    current = run.current_segment
    if run.state in (RunState.BOOTING, RunState.RUNNING) and current and current.instance_id:
        return _output(run, current)  # a retried invocation: the instance exists already
    now = deps.clock.now()
    settings = deps.settings
    if run.state != RunState.PROVISIONING:
        run.move_to(RunState.PROVISIONING, now)
    segment = Segment(
        index=len(run.segments),
        model_prefix=segment_prefix_for(run, deps),
        pretrained=_pretrained_for(run),
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
    run_values = drfc.run_settings(
        run.request,
        run_id=run.run_id,
        model_prefix=segment.model_prefix,
        pretrained=segment.pretrained,
        evaluation=run.evaluation,
    )
    system_values = drfc.system_settings(settings, run.request)
    render_settings_files(run, run_values, system_values, deps)
    budget_seconds = time_budget_seconds(run, deps)
    agent_archive = ensure_agent_archive(deps.store)
    failures: list[str] = []
    for priced in ranked:
        allowed = budget.segment_seconds(
            budget.Budget(budget_seconds, run.request.money_budget_usd),
            _spent(run, now),
            price_per_hour=priced.price_per_hour,
            boot_seconds=settings.boot_timeout_seconds,
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
        )
        deps.store.put_text(run.keys.run_spec, spec.to_json())
        launch = LaunchSpec(
            image_id=settings.image_id,
            security_group_id=settings.security_group_id,
            instance_profile_arn=settings.instance_profile_arn,
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
        return _output(run, segment)
    run.failure = "no pool could launch: " + "; ".join(failures)
    deps.runs.save(run)
    raise SpotCapacityUnavailable(
        f"run {run.run_id}: none of {len(ranked)} pools could launch"
        + ("" if run.request.allow_on_demand else " (on-demand fallback not allowed by the run)")
        + ": "
        + "; ".join(failures)
    )
