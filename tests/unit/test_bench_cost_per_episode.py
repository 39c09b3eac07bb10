"""The cost-per-episode benchmark's simulation on hand-made days (not the benchmark's numbers)."""

from __future__ import annotations

import pytest

from bench import bench_cost_per_episode as bench

DAY = bench.Day(
    "2026-01-01",
    prices={"g4dn.2xlarge": 0.30, "g4dn.8xlarge": 1.20},
    buckets={"g4dn.2xlarge": ">20%", "g4dn.8xlarge": "<5%"},
)


def _choice(instance_type: str, workers: int) -> bench.Choice:
    pool = bench._pool(instance_type, "subnet-a", "us-east-1a")
    return bench.Choice(pool, DAY.prices[instance_type], workers)


def test_without_interruptions_a_run_pays_its_hours_and_trains_after_one_boot() -> None:
    world = bench.World(DAY, mtbi_hours=1e9, seed=0)
    policy = bench.Policy("p", (_choice("g4dn.2xlarge", 2),), boot=600.0)
    out = bench.simulate(policy, world, exponent=1.0)
    horizon = bench.RUN_HOURS * 3600
    iteration = bench._iteration_seconds(2, 1.0)  # 20 episodes at 120 an hour: 600 s
    assert iteration == pytest.approx(600.0)
    assert out.cost_usd == pytest.approx(bench.RUN_HOURS * 0.30)
    assert len(out.lineage) == int((horizon - 600.0) // iteration)
    assert out.warning_to_training == []


def test_every_policy_meets_the_same_interruptions_in_a_pool() -> None:
    first, second = bench.World(DAY, 2.0, seed=1), bench.World(DAY, 2.0, seed=1)
    pool = _choice("g4dn.2xlarge", 2).pool
    assert [h.at for h in first.hits(pool)] == [h.at for h in second.hits(pool)]
    assert first.hits(pool), "a 2-hour MTBI over 8 hours should interrupt"
    safer = _choice("g4dn.8xlarge", 10).pool
    assert len(first.hits(safer)) <= len(first.hits(pool)) + 2  # "<5%" is five times rarer on average


def test_dots_loses_the_checkpoints_after_its_best_and_pitwall_keeps_them() -> None:
    choice = _choice("g4dn.2xlarge", 2)
    worlds = (bench.World(DAY, mtbi_hours=1.0, seed=seed) for seed in range(50))
    world = next(w for w in worlds if len(w.hits(choice.pool)) >= 6)  # a busy scenario
    dots = bench.simulate(bench.Policy("dots", (choice,), boot=180.0, dots=True), world, 0.8)
    pitwall = bench.simulate(bench.Policy("new", (choice,), boot=180.0), world, 0.8)
    assert dots.lost > 0
    assert pitwall.lost == 0
    assert len(pitwall.warning_to_training) > 0
    assert min(pitwall.warning_to_training) >= 180.0  # at least a boot after each warning


def test_the_new_policy_ranks_the_day_by_cost_per_episode() -> None:
    ranked = bench._by_episode(DAY, bench.episode_cost.CostModel(scaling_exponent=1.0, boot_minutes=3))
    assert ranked[0].pool.instance_type == "g4dn.8xlarge"  # cheaper per worker and safer
    assert ranked[0].workers == 10
    assert len(ranked) == 2 * len(bench.SUBNET_ZONES)


def test_a_segment_in_a_worse_pool_moves_back_at_a_checkpoint_once_the_better_one_returns() -> None:
    model = bench.episode_cost.CostModel(scaling_exponent=1.0, boot_minutes=3)
    ranked = bench._by_episode(DAY, model)  # g4dn.8xlarge pools first, then g4dn.2xlarge
    policy = bench.Policy("new_with_move_back", ranked, boot=180.0, move_back=model)
    worse = next(c for c in ranked if c.pool.instance_type == "g4dn.2xlarge")
    capacity = bench.Capacity()
    for choice in ranked[: ranked.index(worse)]:  # every better pool back after an hour
        capacity.back_at[(choice.pool.instance_type, choice.pool.availability_zone)] = 3600.0
    move = bench._move_back(policy, worse, 180.0, 8 * 3600.0, capacity, {}, 1.0)
    assert move is not None and move >= 3600.0
    iteration = bench._iteration_seconds(worse.workers, 1.0)
    assert (move - 180.0) / iteration == pytest.approx(round((move - 180.0) / iteration))  # at a checkpoint
    # the best pool itself never moves, and no move is left once the run is nearly over
    assert bench._move_back(policy, ranked[0], 180.0, 8 * 3600.0, capacity, {}, 1.0) is None
    assert bench._move_back(policy, worse, 180.0, 3000.0, capacity, {}, 1.0) is None


def test_a_hand_over_trains_through_the_replacements_boot_and_pays_the_overlap() -> None:
    here = _choice("g4dn.2xlarge", 2)
    there = bench.Choice(bench._pool("g4dn.2xlarge", "subnet-b", "us-east-1b"), 0.30, 2)
    worlds = (bench.World(DAY, mtbi_hours=8.0, seed=seed) for seed in range(500))
    world = next(  # the first pool is interrupted with a recommendation, and nothing else happens
        w
        for w in worlds
        if len(w.hits(here.pool)) == 1
        and w.hits(here.pool)[0].rebalance_lead is not None
        and w.hits(here.pool)[0].at > 3600
        and not w.hits(there.pool)
    )
    plain = bench.simulate(bench.Policy("new", (here, there), boot=180.0), world, 0.8)
    handed = bench.simulate(bench.Policy("h", (here, there), boot=180.0, handover=True), world, 0.8)
    # the run trained while the replacement booted: more training in the same hours ...
    assert handed.useful_seconds > plain.useful_seconds
    assert handed.warning_to_training == [bench.SAVE] and plain.warning_to_training[0] >= 180.0
    # ... and paid for two instances meanwhile (in its cost, not as lost training time)
    assert handed.overlap_seconds > 180.0
    assert handed.paid_seconds > plain.paid_seconds
    assert handed.wall_seconds == plain.wall_seconds == bench.RUN_HOURS * 3600


def test_an_unannounced_warning_launches_the_replacement_to_boot_while_the_host_saves() -> None:
    here = _choice("g4dn.2xlarge", 2)
    there = bench.Choice(bench._pool("g4dn.2xlarge", "subnet-b", "us-east-1b"), 0.30, 2)
    worlds = (bench.World(DAY, mtbi_hours=8.0, seed=seed) for seed in range(500))
    world = next(  # one warning with no recommendation before it, mid-run, in one zone only
        w
        for w in worlds
        if len(w.hits(here.pool)) == 1
        and w.hits(here.pool)[0].rebalance_lead is None
        and not w.hits(here.pool)[0].type_wide
        and 3600 < w.hits(here.pool)[0].at < 4 * 3600
        and not w.hits(there.pool)
    )
    after = bench.simulate(
        bench.Policy("today", (here, there), boot=180.0, boots_during_save=False), world, 0.8
    )
    during = bench.simulate(bench.Policy("new", (here, there), boot=180.0), world, 0.8)
    # training starts again a reaction and a boot after the warning, not after the save as well
    reaction = bench.CONTROL_REACTION + bench.PROVISION_REACTION
    assert during.warning_to_training == [pytest.approx(reaction + 180.0)]
    assert after.warning_to_training == [pytest.approx(reaction + bench.SAVE + 180.0)]
    # the replacement is paid from its launch, while the old host still saves
    assert during.overlap_seconds == pytest.approx(bench.SAVE)
    assert during.useful_seconds >= after.useful_seconds
