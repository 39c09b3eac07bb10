"""Move back: at a new checkpoint of a training segment (the heartbeat's path), at most every
`RecoveryPolicy.move_check_seconds` of its training, compare its pool with the pools now
available, ranked as provisioning ranks them (`provision.rank_pools`). When a pool costs clearly
less per useful episode and the saving over the time left pays for a boot
(`episode_cost.move_target`), the segment hands over to it (`recovery.HandOver`, reason
cheaper-pool): the replacement boots there while this one trains, then this one saves and the
replacement continues from that checkpoint, as for a rebalance recommendation."""

from __future__ import annotations

from pitwall import budget, episode_cost, recovery
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.provision import rank_pools
from pitwall.lifecycle.records import update_run
from pitwall.lifecycle.recover import report_recovery
from pitwall.observability import logger
from pitwall.runs import Run


def _per_thousand(candidate: episode_cost.Candidate) -> str:
    cost = candidate.usd_per_useful_episode
    return "unknown" if cost is None else f"{cost * 1000:.3f} $"


def consider_moving(run_id: str, deps: Deps) -> recovery.Decision | None:
    """Look for a cheaper pool if one is due; the decision when the check ran, else None."""
    now = deps.clock.now()
    policy = recovery.RecoveryPolicy.from_settings(deps.settings)
    if not recovery.move_check_due(deps.runs.get(run_id), now, policy):
        return None

    def mark(latest: Run) -> tuple[bool, bool]:  # the check counts whatever it finds: rate limit
        if not recovery.move_check_due(latest, now, policy):
            return False, False
        segment = latest.current_segment
        assert segment is not None
        segment.move_checked_at = now
        return True, True

    run, due = update_run(deps, run_id, mark)
    segment = run.current_segment
    if not due or segment is None or segment.pool is None or segment.instance_id is None:
        return None
    ranking = rank_pools(run, deps, now)
    left = budget.left(recovery.run_budget(run, policy), recovery.spent(run, now))
    target = episode_cost.move_target(
        ranking.ranked,
        segment.pool,
        excluded=ranking.excluded,
        remaining_hours=left.time_seconds / 3600.0,
        model=ranking.model,
    )
    if target is None:
        return None
    here = next(c for c in ranking.ranked if c.pool == segment.pool)
    detail = (
        f"{target.pool.label} costs {_per_thousand(target)} per 1,000 useful episodes, "
        f"{segment.pool.label} {_per_thousand(here)}"
    )
    resolved = recovery.resolve(
        recovery.RunEvent(
            kind=recovery.EventKind.CHEAPER_POOL, at=now, instance_id=segment.instance_id, detail=detail
        ),
        load=lambda: deps.runs.get(run_id),
        save=deps.runs.save,
        now=now,
        policy=policy,
    )
    decision = resolved.decision
    if resolved.task_token and isinstance(decision, recovery.HandOver):
        # the work wait ends; the machine launches the replacement, this instance trains on
        deps.tasks.fail(resolved.task_token, decision.task_error, decision.detail)
    logger.info("move check", extra={"run_id": run_id, "decision": decision.action, "detail": detail})
    report_recovery(resolved.run, decision, deps)
    return decision
