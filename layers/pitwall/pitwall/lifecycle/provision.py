"""Provision a run's next segment (`recovery.next_segment`): rank the pools and their worker
counts by expected cost per useful episode (`episode_cost`; a pool that just took an instance of
the run back goes last), give the segment its own least-privilege instance role, write the run
spec, and launch: first one EC2 Fleet (`CreateFleet`, type instant) over the best candidates
that run the same number of workers, so EC2's own capacity signal picks among them; if it
launches nothing, the remaining pools one by one, on demand last when the run allows it. The
segment may use what the run's budget leaves (`budget.segment_seconds` over
`recovery.run_budget` and `recovery.spent`)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from pitwall import budget, episode_cost, layout, recovery
from pitwall.adapters.ec2 import RUN_TAG, SEGMENT_TAG, FleetUnavailable, LaunchSpec, PoolUnavailable
from pitwall.adapters.iam import segment_role_name
from pitwall.errors import SpotCapacityUnavailable
from pitwall.host.iam import instance_policy
from pitwall.host.protocol import ControlAction, ControlRequest, EvaluationLeg, Mode, RunSpec
from pitwall.lifecycle import drfc, telemetry
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.models import ProvisionInput, ProvisionOutput
from pitwall.lifecycle.prepare import render_settings_files, segment_prefix_for
from pitwall.lifecycle.records import update_run
from pitwall.lifecycle.terminate import drop_standby
from pitwall.lifecycle.userdata import ensure_agent_archive, user_data_for
from pitwall.observability import logger
from pitwall.runs import Pool, Run, RunKind, RunState, Segment

DEFAULT_EPISODES_BETWEEN_TRAINING = 20  # the simapp's default when hyperparameters.json names none
FLEET_SIZE = 6  # candidates offered to one CreateFleet (all with the best candidate's worker count)


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


def _move_to_provisioning(run: Run, now: float) -> bool:
    """True when the run was not provisioning yet (and now is)."""
    if run.state == RunState.PROVISIONING:
        return False
    run.move_to(RunState.PROVISIONING, now)
    return True


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


def _take_over(run: Run, deps: Deps) -> ProvisionOutput | None:
    """The replaced segment saved and went: its hand-over's replacement (set up, waiting) becomes
    the next segment and is told to go; it continues from the saved checkpoint (`last`). A
    replacement that failed, or ended, is dropped (terminated, its cost kept): None."""
    standby = run.standby
    if standby is None:
        return None
    if standby.end_reason is not None or standby.ended_at is not None or standby.instance_id is None:
        drop_standby(run.run_id, standby.end_reason or "the hand-over's replacement ended", deps)
        return None
    now = deps.clock.now()
    go = ControlRequest(
        request_id=f"go-{standby.instance_id}",
        action=ControlAction.GO,
        instance_id=standby.instance_id,
        requested_at_epoch=now,
    )

    def adopt(latest: Run) -> tuple[bool, Segment | None]:
        waiting = latest.standby
        if waiting is None or waiting.instance_id != standby.instance_id:
            return False, None
        _move_to_provisioning(latest, now)
        latest.segments.append(waiting)
        latest.standby = None
        latest.move_to(RunState.BOOTING, now)
        return True, waiting

    saved, adopted = update_run(deps, run.run_id, adopt)
    if adopted is None:
        return None
    deps.store.put_text(saved.keys.host_control, go.to_json())  # after the record: it is current now
    logger.info("handed over", extra={"run_id": run.run_id, "instance_id": standby.instance_id})
    return _output(saved, adopted)


def provision_instance(task: ProvisionInput, deps: Deps) -> ProvisionOutput:
    run = deps.runs.get(task.run_id)
    current = run.current_segment
    if task.standby:
        if run.standby is not None and run.standby.instance_id:
            return _output(run, run.standby)  # launched already (a retry, or the wait began again)
    elif run.state in (RunState.BOOTING, RunState.RUNNING) and current and current.instance_id:
        return _output(run, current)  # a retried invocation: the instance exists already
    else:
        taken_over = _take_over(run, deps)
        if taken_over is not None:
            return taken_over
        run = deps.runs.get(task.run_id)
    now = deps.clock.now()
    settings = deps.settings
    policy = recovery.RecoveryPolicy.from_settings(settings)
    if not task.standby:
        _move_to_provisioning(run, now)
    following = _next_segment(run, deps)
    segment = Segment(
        index=following.index,
        model_prefix=following.model_prefix,
        pretrained=following.pretrained,
        deadline_epoch=now,
    )
    run_budget, spent = recovery.run_budget(run, policy), recovery.spent(run, now)
    ranking = rank_pools(run, deps, now)
    ranked, excluded, baked_image = ranking.ranked, ranking.excluded, ranking.baked_image
    run_values = drfc.run_settings(
        run.request,
        run_id=run.run_id,
        model_prefix=segment.model_prefix,
        pretrained=segment.pretrained,
        evaluation=run.evaluation,
    )
    agent_archive, agent_archive_sha256 = ensure_agent_archive(deps.store)
    profile_arn = _segment_role(run, segment, agent_archive, deps)
    legs = evaluation_legs_to_do(run, deps)

    def write_spec(candidates: Sequence[episode_cost.Candidate]) -> tuple[RunSpec, LaunchSpec]:
        """The run spec for an instance in any of `candidates` (one worker count), and its launch."""
        system_values = drfc.system_settings(
            settings, workers=candidates[0].workers, gpu=episode_cost.is_gpu(candidates[0].pool.instance_type)
        )
        render_settings_files(run, run_values, system_values, deps)
        prices = [c.price_per_hour for c in candidates]
        allowed = budget.segment_seconds(
            run_budget,
            spent,
            price_per_hour=None if None in prices else max(p for p in prices if p is not None),
            boot_seconds=policy.boot_seconds,
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
            wait_for_go=task.standby,
        )
        deps.store.put_text(run.keys.run_spec, spec.to_json())
        launch = LaunchSpec(
            image_id=baked_image or settings.image_id,
            security_group_id=settings.security_group_id,
            instance_profile_arn=profile_arn,
            user_data=user_data_for(spec, agent_archive, now),
            run_id=run.run_id,
            segment=segment.index,
        )
        return spec, launch

    def launched(candidate: episode_cost.Candidate, instance_id: str, spec: RunSpec) -> ProvisionOutput:
        segment.instance_id = instance_id
        segment.pool = candidate.pool
        segment.price_per_hour = candidate.price_per_hour
        segment.workers = candidate.workers
        segment.launched_at = now
        segment.deadline_epoch = spec.deadline_epoch

        def record(latest: Run) -> tuple[bool, None]:
            # onto the latest record: a schedule's firing or the racer may have written meanwhile,
            # and a lost race must not leave the instance out of the record (a retry would launch
            # a second one for the same segment)
            if task.standby:  # the current segment trains on; this one waits for the go
                latest.standby = segment
                return True, None
            _move_to_provisioning(latest, now)
            latest.segments.append(segment)
            latest.move_to(RunState.BOOTING, now)
            return True, None

        saved, _ = update_run(deps, run.run_id, record)
        if segment.index == 0:
            telemetry.run_started(saved.run_id)
        return _output(saved, segment)

    failures: list[str] = []
    if not ranked:
        failures.append(
            f"none of the instance types {', '.join(settings.instance_types)} can run it (workers "
            f"{run.request.workers or 'chosen with the size'}, CPU types "
            f"{'allowed' if run.request.allow_cpu else 'not allowed'})"
        )
    fleet, remaining = fleet_candidates(ranked, excluded), list(ranked)
    if len(fleet) > 1:
        spec, launch = write_spec(fleet)
        try:
            instance_id, pool, refused = deps.ec2.launch_fleet([c.pool for c in fleet], launch)
        except FleetUnavailable as exc:
            failures.append(str(exc))
            if exc.tried:  # each refused: the pool-by-pool fallback goes on with the others
                segment.pools_tried += [c.pool.label for c in fleet]
                remaining = [c for c in ranked if c not in fleet]
            else:
                logger.warning("CreateFleet refused; launching pool by pool", extra={"error": str(exc)})
        else:
            segment.pools_tried += [*refused, pool.label]
            return launched(next(c for c in fleet if c.pool == pool), instance_id, spec)
    for candidate in remaining:
        spec, launch = write_spec([candidate])
        try:
            instance_id = deps.ec2.launch(candidate.pool, launch)
        except PoolUnavailable as exc:
            failures.append(str(exc))
            segment.pools_tried.append(candidate.pool.label)
            continue
        segment.pools_tried.append(candidate.pool.label)
        return launched(candidate, instance_id, spec)
    deps.roles.delete(segment_role_name(run.run_id, segment.index))  # made again on the next try
    if task.standby:  # the current segment trains on; the recovery decides (as for a failed boot)
        raise SpotCapacityUnavailable(f"run {run.run_id}: no pool could launch the hand-over's replacement")
    # PROVISIONING: the recovery decides on a run that looks for capacity
    update_run(deps, run.run_id, lambda latest: (_move_to_provisioning(latest, now), None))
    raise SpotCapacityUnavailable(
        f"run {run.run_id}: none of {len(ranked)} pools could launch"
        + ("" if run.request.allow_on_demand else " (on-demand fallback not allowed by the run)")
        + ": "
        + "; ".join(failures)
    )


@dataclass(frozen=True)
class Ranking:
    ranked: list[episode_cost.Candidate]  # cheapest per useful episode first, excluded pools last
    excluded: list[str]  # pools that just took an instance of the run back (or it is leaving)
    baked_image: str | None  # the image pipeline's newest image, if any
    model: episode_cost.CostModel


def rank_pools(run: Run, deps: Deps, now: float) -> Ranking:
    """The run's pools and worker counts at today's prices, ranked by cost per useful episode:
    what provisioning launches from and what a training segment compares its own pool with."""
    settings = deps.settings
    policy = recovery.RecoveryPolicy.from_settings(settings)
    zones = deps.ec2.subnet_zones(settings.subnet_ids)
    spot_prices = deps.ec2.spot_prices(settings.instance_types)
    offers = [
        episode_cost.Offer(Pool(instance_type=t, availability_zone=z, subnet_id=s), spot_prices.get((t, z)))
        for t in settings.instance_types
        for s, z in zones.items()
    ]
    if run.request.allow_on_demand:
        offers += [
            episode_cost.Offer(
                Pool(instance_type=t, availability_zone=z, subnet_id=s, market="on-demand"),
                deps.prices.on_demand(t),
            )
            for t in settings.instance_types
            for s, z in zones.items()
        ]
    baked_image = deps.ec2.image_in_parameter(settings.host_image_parameter)
    model = episode_cost.CostModel(
        scaling_exponent=settings.worker_scaling_exponent,
        boot_minutes=episode_cost.BAKED_BOOT_MINUTES if baked_image else episode_cost.STOCK_BOOT_MINUTES,
    )
    run_hours = recovery.run_budget(run, policy).time_seconds / 3600.0
    ranked = episode_cost.rank(offers, workload(run, deps, run_hours), model)
    # a pool that just took an instance of this run back is tried last, never in the fleet
    excluded = recovery.excluded_pools(run, now, policy)
    return Ranking(recovery.order_pools(ranked, excluded), excluded, baked_image, model)


def fleet_candidates(
    ranked: Sequence[episode_cost.Candidate], excluded: Collection[str] = ()
) -> list[episode_cost.Candidate]:
    """The best candidate and the next best of the same market and worker count (one run spec
    fits them all), at most FLEET_SIZE, in ranked order; none of the `excluded` pools (EC2 could
    pick them: they are left to the pool-by-pool fallback)."""
    ranked = [c for c in ranked if c.pool.label not in excluded]
    if not ranked:
        return []
    best = ranked[0]
    gpu = episode_cost.is_gpu(best.pool.instance_type)
    same = [
        c
        for c in ranked
        if c.pool.market == best.pool.market
        and c.workers == best.workers
        and episode_cost.is_gpu(c.pool.instance_type) == gpu
    ]
    return same[:FLEET_SIZE]


def workload(run: Run, deps: Deps, run_hours: float) -> episode_cost.Workload:
    """What the run asks of an instance: the racer's worker count if fixed (an evaluation runs
    one), and from its custom files the episodes per iteration and whether it trains with SAC."""
    if run.kind == RunKind.EVALUATE:
        return episode_cost.Workload(fixed_workers=1, allow_cpu=run.request.allow_cpu, run_hours=run_hours)
    hyperparameters = deps.store.get_json(
        layout.custom_file_key(run.custom_files_prefix, layout.HYPERPARAMETERS_FILE)
    )
    metadata = deps.store.get_json(
        layout.custom_file_key(run.custom_files_prefix, layout.MODEL_METADATA_FILE)
    )
    episodes = (hyperparameters or {}).get("num_episodes_between_training", DEFAULT_EPISODES_BETWEEN_TRAINING)
    return episode_cost.Workload(
        fixed_workers=run.request.workers,
        episodes_between_training=episodes
        if isinstance(episodes, int) and episodes >= 1
        else DEFAULT_EPISODES_BETWEEN_TRAINING,
        sac=(metadata or {}).get("training_algorithm") == "sac",
        allow_cpu=run.request.allow_cpu,
        run_hours=run_hours,
    )
