"""Goodput under spot interruptions and a stall: Pitwall's recovery against a DOTS-like baseline.

A discrete-event simulation of one 24-hour training, run for both policies on the SAME scenario
(same seed: the same interruption times, capacity outages, stall moment and "new best" draws).
Pitwall's side calls the real decision code: `recovery.decide/apply/next_segment/
excluded_pools/order_pools` (which call `budget.segment_seconds` and `breaker.check`),
`pools.rank_pools`, and the run record rules of `lifecycle.progress` on real `runs.Run` records.

Model and assumptions (all times in seconds):
- Interruptions: a Poisson process, mean one every 2 hours (`MEAN_INTERRUPTION_GAP`), shared by
  both policies; interruption k hits whichever instance the policy has at that moment (booting
  or training); with no instance alive it hits nothing. A 2-minute warning precedes the reclaim.
- Capacity: an interruption takes the interrupted pool's capacity away for an exponential time
  (mean `MEAN_OUTAGE`); with probability `TYPE_WIDE_OUTAGE` the crunch is type-wide (every AZ of
  that instance type, each for its own draw). Otherwise every pool has capacity.
- Pools: g4dn/g5/g6 .2xlarge in three AZs of us-east-1 at that region's spot price of the last
  day in ../shared/data/spot-prices-daily.csv. The file has region-level prices only, so every
  AZ of a type has the same price (ties keep the configured AZ order).
- An instance trains `BOOT` (8 min) after launch; an iteration takes `ITERATION` and ends in a
  checkpoint that reaches S3; work since the last checkpoint is lost whenever training stops.
  Paid time runs from launch to termination (per-second billing, one price per pool).
- Stall: at `STALL_AT` (seeded) the simulator of the instance training then (or the next one
  to start training) freezes: no heartbeat, no checkpoint, the instance keeps billing.
- Pitwall: on a warning it asks the host to save (`CONTROL_REACTION` to reach the host, `SAVE`
  to upload), terminates the instance, then provisions (`PROVISION_REACTION`) in the cheapest
  pool not excluded by recent interruptions, from checkpoint `last`. A stall is detected by the
  heartbeat wait's timeout (`HEARTBEAT_WINDOW` after the last heartbeat), then terminate and
  provision. No capacity anywhere: retry as `recovery` says. Budget: 24 h from the first launch.
- DOTS-like (deepracer.md section 5): one instance type (g4dn.2xlarge, DOTS's default) over the
  three AZs; on a warning its script saves only the `best` checkpoint and the instance is
  reclaimed at the end of the warning; the Auto Scaling group relaunches `ASG_DELAY` after the
  reclaim, as soon as that type has capacity in some AZ; the new instance continues from `best`,
  so every checkpoint after the best one is lost. A new checkpoint is the best so far with
  probability `P_NEW_BEST` (the first always is). Stalls are reported hourly, never recovered:
  the frozen instance bills until an interruption reclaims it or the 24-h TTL ends.
- A third run, Pitwall limited to DOTS's one type (`pitwall_g4dn_only`), separates what the
  recovery rules gain from what the choice of pools gains (and costs).
- Goodput = useful training time / paid instance time; useful training time = the iterations
  whose checkpoints are in the final model's lineage.
- Targets (issue 4): Pitwall goodput >= 90% (mean over `SEEDS` scenarios, each also reported),
  zero checkpoints lost in every scenario, and the stall recovered within heartbeat window +
  boot (+ `PROVISION_REACTION`, the controller's own terminate-and-launch time, counted openly).
"""

from __future__ import annotations

import csv
import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pitwall import budget, layout, pools, pricing, recovery
from pitwall.host.protocol import HostState, HostStatus
from pitwall.lifecycle.progress import apply_host_status, apply_training_progress
from pitwall.recovery import EventKind, Ignore, Replace, Retry, RunEvent, Stop
from pitwall.runs import Run, RunKind, RunRequest, RunState, Segment

PRICES_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "spot-prices-daily.csv"
REGION = "us-east-1"
INSTANCE_TYPES = ("g4dn.2xlarge", "g5.2xlarge", "g6.2xlarge")
SUBNET_ZONES = {"subnet-a": "us-east-1a", "subnet-b": "us-east-1b", "subnet-c": "us-east-1c"}
DOTS_TYPE = "g4dn.2xlarge"

HORIZON = 24 * 3600.0
MEAN_INTERRUPTION_GAP = 2 * 3600.0
WARNING = 120.0
BOOT = 8 * 60.0
ITERATION = 90.0
HEARTBEAT_WINDOW = 10 * 60.0
SAVE = 30.0
CONTROL_REACTION = 10.0  # EventBridge -> Lambda -> control object -> host poll
PROVISION_REACTION = 5.0  # Step Functions -> terminate and provision Lambdas -> RunInstances
CAPACITY_RETRY = 300.0
ASG_DELAY = 60.0
DOTS_STALL_CHECK = 3600.0
MEAN_OUTAGE = 45 * 60.0
TYPE_WIDE_OUTAGE = 0.5
P_NEW_BEST = 0.3
STALL_WINDOW = (4 * 3600.0, 20 * 3600.0)
SEED = 2026
SEEDS = 20
T0 = 1_790_000_000.0  # epoch of the simulated run's start


# -- the shared scenario ------------------------------------------------------------------------


@dataclass(frozen=True)
class Interruption:
    at: float
    type_wide: bool
    outage_by_zone: tuple[float, ...]  # seconds each AZ of the hit type stays without capacity


@dataclass(frozen=True)
class Scenario:
    seed: int
    interruptions: tuple[Interruption, ...]
    stall_at: float
    new_best: tuple[bool, ...]  # the n-th checkpoint produced is a new best


def scenario(seed: int) -> Scenario:
    rng = random.Random(seed)
    interruptions: list[Interruption] = []
    t = rng.expovariate(1 / MEAN_INTERRUPTION_GAP)
    while t < HORIZON:
        type_wide = rng.random() < TYPE_WIDE_OUTAGE
        outages = tuple(rng.expovariate(1 / MEAN_OUTAGE) for _ in SUBNET_ZONES)
        interruptions.append(Interruption(t, type_wide, outages))
        t += rng.expovariate(1 / MEAN_INTERRUPTION_GAP)
    stall_at = rng.uniform(*STALL_WINDOW)
    new_best = tuple(rng.random() < P_NEW_BEST for _ in range(int(2 * HORIZON / ITERATION)))
    return Scenario(seed, tuple(interruptions), stall_at, new_best)


class Capacity:
    """When each pool (type, AZ) has capacity again."""

    def __init__(self) -> None:
        self.back_at: dict[tuple[str, str], float] = {}

    def available(self, instance_type: str, zone: str, now: float) -> bool:
        return self.back_at.get((instance_type, zone), 0.0) <= now

    def lose(self, instance_type: str, zone: str, hit: Interruption) -> None:
        zones = list(SUBNET_ZONES.values())
        for index, other in enumerate(zones):
            if other == zone or hit.type_wide:
                key = (instance_type, other)
                self.back_at[key] = max(self.back_at.get(key, 0.0), hit.at + hit.outage_by_zone[index])

    def next_return(self, instance_type: str, now: float) -> float:
        return min(max(now, self.back_at.get((instance_type, zone), 0.0)) for zone in SUBNET_ZONES.values())


@dataclass
class Outcome:
    policy: str
    paid_seconds: float = 0.0
    cost_usd: float = 0.0
    lineage: list[int] = field(default_factory=list)  # ids of the checkpoints the final model holds
    produced: int = 0
    checkpoints_lost: int = 0
    interruptions_hit: int = 0
    warning_to_resume: list[float] = field(default_factory=list)
    stall_recovery: float | None = None  # None: never recovered (or no stall hit)
    stall_hit: bool = False
    stall_disturbed: bool = False  # another fault (an interruption of the replacement) delayed it
    hits_at_stall: int = 0
    stall_reported_after: float | None = None
    relaunches: int = 0
    capacity_wait_seconds: float = 0.0
    ended: str = ""
    pools_used: dict[str, float] = field(default_factory=dict)  # pool -> paid hours

    def pay(self, pool_label: str, seconds: float, price: float) -> None:
        self.paid_seconds += seconds
        self.cost_usd += seconds / 3600.0 * price
        self.pools_used[pool_label] = self.pools_used.get(pool_label, 0.0) + seconds / 3600.0

    @property
    def useful_seconds(self) -> float:
        return len(self.lineage) * ITERATION

    def report(self) -> dict[str, object]:
        waits = sorted(self.warning_to_resume)
        useful_hours = self.useful_seconds / 3600.0
        return {
            "goodput": round(self.useful_seconds / self.paid_seconds, 4) if self.paid_seconds else 0.0,
            "useful_hours": round(useful_hours, 3),
            "paid_hours": round(self.paid_seconds / 3600.0, 3),
            "cost_usd": round(self.cost_usd, 3),
            "cost_per_useful_hour_usd": round(self.cost_usd / useful_hours, 4) if useful_hours else None,
            "checkpoints_produced": self.produced,
            "checkpoints_lost": self.checkpoints_lost,
            "interruptions_hit": self.interruptions_hit,
            "warning_to_resume_mean_s": round(statistics.fmean(waits), 1) if waits else None,
            "warning_to_resume_p95_s": round(_percentile(waits, 95), 1) if waits else None,
            "stall_hit": self.stall_hit,
            "stall_recovery_s": None if self.stall_recovery is None else round(self.stall_recovery, 1),
            "stall_recovery_disturbed_by_another_fault": self.stall_disturbed,
            "stall_reported_after_s": self.stall_reported_after,
            "relaunches": self.relaunches,
            "capacity_wait_s": round(self.capacity_wait_seconds, 1),
            "ended": self.ended,
            "paid_hours_by_pool": {k: round(v, 3) for k, v in sorted(self.pools_used.items())},
        }


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(0, math.ceil(q / 100 * len(ordered)) - 1)
    return ordered[rank]


def spot_prices(region: str = REGION) -> tuple[str, dict[str, float]]:
    """The last day's spot price of each instance type in `region` (the file's own figures)."""
    if not PRICES_CSV.is_file():
        raise FileNotFoundError(f"{PRICES_CSV}: the spot price history this benchmark prices pools with")
    latest: dict[str, tuple[str, float]] = {}
    with PRICES_CSV.open(newline="") as handle:
        for row in csv.DictReader(handle):
            type_ = row["instance_type"]
            if row["region"] != region or type_ not in INSTANCE_TYPES:
                continue
            if type_ not in latest or row["date"] > latest[type_][0]:
                latest[type_] = (row["date"], float(row["spot_usd_per_hour"]))
    missing = sorted(set(INSTANCE_TYPES) - set(latest))
    if missing:
        raise ValueError(f"{PRICES_CSV}: no {region} spot price for {', '.join(missing)}")
    return max(date for date, _ in latest.values()), {t: price for t, (_, price) in latest.items()}


# -- a training instance's timeline ----------------------------------------------------------------


class Checkpoints:
    """Checkpoint ids in production order (shared by both policies' bookkeeping)."""

    def __init__(self, out: Outcome) -> None:
        self.out = out

    def train(self, start: float, end: float) -> list[int]:
        """The checkpoints an instance training from `start` completes by `end`."""
        count = max(0, math.floor((end - start) / ITERATION + 1e-9))
        made = list(range(self.out.produced, self.out.produced + count))
        self.out.produced += count
        return made


def _next_interruption(hits: Sequence[Interruption], after: float) -> Interruption | None:
    return next((hit for hit in hits if hit.at >= after), None)


# -- Pitwall ---------------------------------------------------------------------------------------


def _epoch(t: float) -> float:
    return T0 + t


def simulate_pitwall(
    world: Scenario, prices: dict[str, float], instance_types: Sequence[str] = INSTANCE_TYPES
) -> Outcome:
    out = Outcome("pitwall")
    capacity = Capacity()
    book = Checkpoints(out)
    policy = recovery.RecoveryPolicy(
        boot_seconds=BOOT,
        heartbeat_window_seconds=HEARTBEAT_WINDOW,
        default_time_budget_seconds=HORIZON,
        capacity_retry_seconds=CAPACITY_RETRY,
    )
    run = Run(
        run_id="bench",
        kind=RunKind.TRAIN,
        request=RunRequest(model_name="bench-car", track="reInvent2019_track", time_budget_minutes=24 * 60),
        created_at=_epoch(0),
        updated_at=_epoch(0),
        custom_files_prefix=layout.RunKeys("bench").custom_files_prefix,
    )
    run.move_to(RunState.PROVISIONING, _epoch(0))
    ranked = pools.rank_pools(
        instance_types,
        SUBNET_ZONES,
        {(t, zone): prices[t] for t in instance_types for zone in SUBNET_ZONES.values()},
        {t: p for t in instance_types if (p := pricing.on_demand_price(REGION, t)) is not None},
        allow_on_demand=False,
    )
    checkpoint_prefix: dict[int, str] = {}  # checkpoint id -> the segment prefix that holds it
    pending_resume: list[float] = []  # warnings whose training has not resumed yet
    stall_pending = True
    frozen_at: float | None = None
    now = 0.0
    sequence = 0

    def report(segment: Segment, state: HostState, at: float, checkpoint: str | None = None) -> None:
        nonlocal sequence
        sequence += 1
        status = HostStatus(
            run_id="bench",
            segment=segment.index,
            instance_id=segment.instance_id or "",
            state=state,
            sequence=sequence,
            at_epoch=_epoch(at),
            checkpoint=checkpoint,
        )
        apply_host_status(run, status, _epoch(at))

    def continue_lineage(segment: Segment) -> None:
        """Where the new segment starts: the checkpoints up to its pretrained `last` stay."""
        source = segment.pretrained
        if source is None:
            kept = 0
        else:
            held = [i for i, ckpt in enumerate(out.lineage) if checkpoint_prefix[ckpt] == source.model_prefix]
            kept = held[-1] + 1 if held else 0
        out.checkpoints_lost += len(out.lineage) - kept
        del out.lineage[kept:]

    while True:
        order = recovery.order_pools(ranked, recovery.excluded_pools(run, _epoch(now), policy))
        chosen = next(
            (p for p in order if capacity.available(p.pool.instance_type, p.pool.availability_zone, now)),
            None,
        )
        if chosen is None:
            decision = recovery.decide(
                run, RunEvent(kind=EventKind.NO_CAPACITY, at=_epoch(now)), _epoch(now), policy
            )
            if isinstance(decision, Retry):
                out.capacity_wait_seconds += decision.after_seconds
                now += decision.after_seconds
                continue
            assert isinstance(decision, Stop), decision
            out.ended = decision.detail
            break
        plan = recovery.next_segment(run)
        try:
            allowed = budget.segment_seconds(
                recovery.run_budget(run, policy),
                recovery.spent(run, _epoch(now)),
                price_per_hour=chosen.price_per_hour,
                boot_seconds=BOOT,
            )
        except budget.BudgetExhausted as exc:
            out.ended = f"budget: {exc}"
            break
        segment = Segment(
            index=plan.index,
            model_prefix=plan.model_prefix,
            pretrained=plan.pretrained,
            deadline_epoch=_epoch(now + allowed),
            instance_id=f"i-{plan.index:05d}",
            pool=chosen.pool,
            price_per_hour=chosen.price_per_hour,
            launched_at=_epoch(now),
            pools_tried=[p.pool.label for p in order[: order.index(chosen) + 1]],
        )
        if run.segments:
            out.relaunches += 1
        run.segments.append(segment)
        run.move_to(RunState.BOOTING, _epoch(now))
        continue_lineage(segment)
        launched, boot_end, deadline = now, now + BOOT, now + allowed
        pool = chosen.pool
        hit = _next_interruption(world.interruptions, launched)
        freeze = max(world.stall_at, boot_end) if stall_pending and frozen_at is None else math.inf
        hit_at = hit.at if hit else math.inf
        detect_at = freeze + HEARTBEAT_WINDOW
        first = min(hit_at, detect_at, deadline)
        if boot_end < first:
            report(segment, HostState.STARTED, boot_end)
            for warned in pending_resume:
                out.warning_to_resume.append(boot_end - warned)
            pending_resume.clear()
            if frozen_at is not None and out.stall_recovery is None and out.stall_hit:
                out.stall_recovery = boot_end - frozen_at
                out.stall_disturbed = out.interruptions_hit > out.hits_at_stall

        def trained_until(
            t: float, seg: Segment = segment, start: float = boot_end, f: float = freeze
        ) -> None:
            """Record the checkpoints made by `t` (none after a freeze) as heartbeats would."""
            made = book.train(start, min(t, f)) if t > start else []
            for ckpt in made:
                checkpoint_prefix[ckpt] = seg.model_prefix
            out.lineage.extend(made)
            if made:
                apply_training_progress(
                    run,
                    seg.model_prefix,
                    episodes=None,
                    checkpoint=f"{made[-1]}_Step-0.ckpt",
                    at=_epoch(min(t, f)),
                )
            seg.last_heartbeat_at = _epoch(max(start, min(t, f))) if t > start else seg.last_heartbeat_at

        if first == deadline:
            trained_until(deadline)
            report(segment, HostState.FINISHED, deadline)
            out.pay(pool.label, deadline - launched, segment.price_per_hour or 0.0)
            out.ended = "time budget used"
            break
        if first == detect_at:  # the stall: no heartbeat within the window
            out.stall_hit, frozen_at, stall_pending = True, freeze, False
            out.hits_at_stall = out.interruptions_hit
            trained_until(freeze)
            event = RunEvent(
                kind=EventKind.HEARTBEAT_TIMEOUT, at=_epoch(detect_at), instance_id=segment.instance_id
            )
            decision = recovery.decide(run, event, _epoch(detect_at), policy)
            recovery.apply(run, decision, _epoch(detect_at))
            end = detect_at + PROVISION_REACTION
        else:  # a spot interruption warning
            assert hit is not None
            out.interruptions_hit += 1
            if freeze < hit.at:  # the frozen instance is interrupted before the stall is detected
                out.stall_hit, frozen_at, stall_pending = True, freeze, False
                out.hits_at_stall = out.interruptions_hit
            capacity.lose(pool.instance_type, pool.availability_zone, hit)
            event = RunEvent(
                kind=EventKind.INTERRUPTION_WARNING, at=_epoch(hit.at), instance_id=segment.instance_id
            )
            decision = recovery.decide(run, event, _epoch(hit.at), policy)
            assert not isinstance(decision, Ignore), decision
            recovery.apply(run, decision, _epoch(hit.at))
            if decision.save_first:  # the host saves its latest checkpoint, then is terminated
                saved_at = hit.at + CONTROL_REACTION + SAVE
                trained_until(hit.at + CONTROL_REACTION)
                report(segment, HostState.SAVED, saved_at, segment.last_checkpoint)
                end = saved_at + PROVISION_REACTION
            else:
                trained_until(hit.at)
                end = hit.at + PROVISION_REACTION
            end = min(end, hit.at + WARNING)
            pending_resume.append(hit.at)
        segment.ended_at = _epoch(end)
        out.pay(pool.label, end - launched, segment.price_per_hour or 0.0)
        if isinstance(decision, Stop):
            out.ended = decision.detail
            break
        assert isinstance(decision, Replace), decision
        now = end
    return out


# -- DOTS-like ---------------------------------------------------------------------------------------


def simulate_dots(world: Scenario, prices: dict[str, float]) -> Outcome:
    out = Outcome("dots")
    capacity = Capacity()
    book = Checkpoints(out)
    best: int | None = None  # index in the lineage of the best checkpoint
    zones = list(SUBNET_ZONES.values())
    price = prices[DOTS_TYPE]
    pending_resume: list[float] = []
    stall_pending = True
    frozen_at: float | None = None
    now = 0.0
    while now < HORIZON:
        zone = next((z for z in zones if capacity.available(DOTS_TYPE, z, now)), None)
        if zone is None:
            back = capacity.next_return(DOTS_TYPE, now) + ASG_DELAY
            out.capacity_wait_seconds += min(back, HORIZON) - now
            now = back
            continue
        if out.paid_seconds:
            out.relaunches += 1
        # the relaunch continues from `best`: the checkpoints after it are lost
        if best is not None:
            out.checkpoints_lost += len(out.lineage) - (best + 1)
            del out.lineage[best + 1 :]
        launched, boot_end = now, now + BOOT
        hit = _next_interruption(world.interruptions, launched)
        end = min(hit.at + WARNING if hit else math.inf, HORIZON)
        stop = min(hit.at if hit else math.inf, HORIZON)  # its script stops training at the warning
        freeze = max(world.stall_at, boot_end) if stall_pending else math.inf
        training_end = min(stop, freeze)
        if boot_end < stop:
            for warned in pending_resume:
                out.warning_to_resume.append(boot_end - warned)
            pending_resume.clear()
            if frozen_at is not None and out.stall_recovery is None:
                out.stall_recovery = boot_end - frozen_at  # recovered only by a later interruption
        made = book.train(boot_end, training_end) if training_end > boot_end else []
        for ckpt in made:
            out.lineage.append(ckpt)
            if best is None or world.new_best[ckpt % len(world.new_best)]:
                best = len(out.lineage) - 1
        if freeze < stop:
            out.stall_hit, frozen_at, stall_pending = True, freeze, False
            checks = math.ceil(freeze / DOTS_STALL_CHECK) * DOTS_STALL_CHECK
            out.stall_reported_after = round(checks - freeze, 1)
        out.pay(f"{DOTS_TYPE}/{zone}/spot", end - launched, price)
        if hit is None or hit.at >= HORIZON:
            out.ended = "TTL reached"
            break
        out.interruptions_hit += 1
        capacity.lose(DOTS_TYPE, zone, hit)
        pending_resume.append(hit.at)
        now = end + ASG_DELAY
    out.ended = out.ended or "TTL reached"
    return out


# -- the benchmark ---------------------------------------------------------------------------------


def compare(seed: int, prices: dict[str, float]) -> tuple[Outcome, Outcome, Outcome]:
    """Pitwall over all three types, Pitwall over DOTS's one type, and DOTS, on one scenario."""
    world = scenario(seed)
    return (
        simulate_pitwall(world, prices),
        simulate_pitwall(world, prices, instance_types=(DOTS_TYPE,)),
        simulate_dots(world, prices),
    )


def _goodput(outcome: Outcome) -> float:
    return outcome.useful_seconds / outcome.paid_seconds


def _cost_per_useful_hour(outcome: Outcome) -> float:
    return outcome.cost_usd / (outcome.useful_seconds / 3600.0)


def _over(outcomes: Sequence[Outcome]) -> dict[str, object]:
    goodputs = [_goodput(o) for o in outcomes]
    resumes = [t for o in outcomes for t in o.warning_to_resume]
    return {
        "goodput_mean": round(statistics.fmean(goodputs), 4),
        "goodput_min": round(min(goodputs), 4),
        "goodput_max": round(max(goodputs), 4),
        "checkpoints_lost_total": sum(o.checkpoints_lost for o in outcomes),
        "warning_to_resume_mean_s": round(statistics.fmean(resumes), 1),
        "warning_to_resume_p95_s": round(_percentile(resumes, 95), 1),
        "cost_per_useful_hour_mean_usd": round(
            statistics.fmean(_cost_per_useful_hour(o) for o in outcomes), 4
        ),
        "stalls_never_recovered": sum(1 for o in outcomes if o.stall_hit and o.stall_recovery is None),
    }


def run() -> dict[str, object]:
    price_date, prices = spot_prices()
    main = compare(SEED, prices)
    runs = [compare(SEED + i, prices) for i in range(SEEDS)]
    pitwall_runs = [r[0] for r in runs]
    stall_limit = HEARTBEAT_WINDOW + BOOT + PROVISION_REACTION
    undisturbed = [o.stall_recovery for o in pitwall_runs if o.stall_hit and not o.stall_disturbed]
    disturbed = [o.stall_recovery for o in pitwall_runs if o.stall_hit and o.stall_disturbed]
    targets = {
        "pitwall_goodput_mean_at_least_0.90": statistics.fmean(_goodput(o) for o in pitwall_runs) >= 0.90,
        "pitwall_zero_checkpoints_lost": all(o.checkpoints_lost == 0 for r in runs for o in r[:2]),
        "pitwall_stall_recovered_within_window_plus_boot": bool(undisturbed)
        and all(t is not None and t <= stall_limit for t in undisturbed),
    }
    world = scenario(SEED)
    return {
        "scenario": {
            "seed": SEED,
            "hours": HORIZON / 3600,
            "interruptions": len(world.interruptions),
            "stall_at_hour": round(world.stall_at / 3600, 2),
            "prices_usd_per_hour": {"date": price_date, "region": REGION, **prices},
            "boot_s": BOOT,
            "warning_s": WARNING,
            "heartbeat_window_s": HEARTBEAT_WINDOW,
            "iteration_s": ITERATION,
        },
        "pitwall": main[0].report(),
        "pitwall_g4dn_only": main[1].report(),
        "dots": main[2].report(),
        "ratios": {
            "goodput_pitwall_over_dots": round(_goodput(main[0]) / _goodput(main[2]), 3),
            "useful_hours_pitwall_over_dots": round(main[0].useful_seconds / main[2].useful_seconds, 3),
            "cost_per_useful_hour_pitwall_over_dots": round(
                _cost_per_useful_hour(main[0]) / _cost_per_useful_hour(main[2]), 3
            ),
        },
        "over_seeds": {
            "seeds": SEEDS,
            "pitwall": _over(pitwall_runs),
            "pitwall_g4dn_only": _over([r[1] for r in runs]),
            "dots": _over([r[2] for r in runs]),
            "pitwall_stall_recovery_max_s": round(
                max((t for t in undisturbed if t is not None), default=0), 1
            ),
            "pitwall_stall_recovery_limit_s": stall_limit,
            "pitwall_stalls_delayed_by_another_fault": len(disturbed),
            "pitwall_stall_recovery_max_with_another_fault_s": round(
                max((t for t in disturbed if t is not None), default=0), 1
            ),
        },
        "targets": targets,
        "targets_met": all(targets.values()),
    }
