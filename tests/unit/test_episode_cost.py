"""Ranking by cost per useful episode, on hand-made price tables."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pitwall.episode_cost import (
    Candidate,
    CostModel,
    Offer,
    Workload,
    estimate,
    mtbi_hours,
    rank,
    vcpus,
    workers_for,
    worth_moving,
)
from pitwall.runs import Pool

LINEAR = CostModel(scaling_exponent=1.0, boot_minutes=0.0)


def offer(instance_type: str, price: float | None, bucket: str | None = ">20%", **pool: str) -> Offer:
    fields = {"availability_zone": "us-east-1a", "subnet_id": "subnet-a", "market": "spot", **pool}
    return Offer(Pool(instance_type=instance_type, **fields), price, bucket)  # type: ignore[arg-type]


def test_vcpus_come_from_the_size_name() -> None:
    assert [vcpus(t) for t in ("c5.large", "g4dn.xlarge", "g4dn.2xlarge", "g5.8xlarge", "c5.9xlarge")] == [
        2,
        4,
        8,
        32,
        36,
    ]
    assert vcpus("g4dn.metal") is None
    assert vcpus("nonsense") is None


def test_sizes_run_drfcs_usual_worker_counts() -> None:
    model, workload = CostModel(), Workload()
    sizes = ("xlarge", "2xlarge", "4xlarge", "8xlarge")
    assert [workers_for(f"g4dn.{size}", workload, model) for size in sizes] == [1, 2, 5, 10]


def test_no_more_workers_than_episodes_between_training_and_one_for_sac() -> None:
    model = CostModel()
    assert workers_for("g4dn.8xlarge", Workload(episodes_between_training=4), model) == 4
    assert workers_for("g4dn.8xlarge", Workload(sac=True), model) == 1


def test_a_fixed_worker_count_is_kept_and_a_size_too_small_for_it_is_no_candidate() -> None:
    model = CostModel()
    workload = Workload(fixed_workers=3)
    assert workers_for("g4dn.2xlarge", workload, model) == 3  # 8 vCPUs: at least 2 per worker
    assert workers_for("g4dn.8xlarge", workload, model) == 3
    assert workers_for("g4dn.xlarge", workload, model) is None  # 4 vCPUs cannot give 3 workers 2 each


def test_with_linear_scaling_the_bigger_size_wins_when_its_price_per_worker_is_lower() -> None:
    # 2 workers for 0.30 against 10 workers for 1.20: 0.15 against 0.12 per worker-hour
    ranked = rank([offer("g4dn.2xlarge", 0.30), offer("g4dn.8xlarge", 1.20)], Workload(), LINEAR)
    assert [c.pool.instance_type for c in ranked] == ["g4dn.8xlarge", "g4dn.2xlarge"]
    assert [c.workers for c in ranked] == [10, 2]


def test_sub_linear_scaling_can_turn_the_order_around() -> None:
    offers = [offer("g4dn.2xlarge", 0.30), offer("g4dn.8xlarge", 1.20)]
    flat = CostModel(scaling_exponent=0.5, boot_minutes=0.0)
    assert [c.pool.instance_type for c in rank(offers, Workload(), flat)] == ["g4dn.2xlarge", "g4dn.8xlarge"]


def test_cost_per_episode_is_price_over_throughput_and_useful_share() -> None:
    model = CostModel(
        scaling_exponent=0.8, episodes_per_worker_hour=50, boot_minutes=12, reference_mtbi_hours=3
    )
    candidate = estimate(offer("g5.4xlarge", 0.6, "10-15%"), Workload(run_hours=6), model)
    assert candidate is not None
    rate = 50 * 5**0.8
    iteration_hours = 20 / rate
    share = 1 / (1 + 0.2 / 6 + (0.2 + iteration_hours / 2) / (3 / 0.6))
    assert candidate.episodes_per_hour == pytest.approx(rate)
    assert candidate.useful_share == pytest.approx(share)
    assert candidate.usd_per_useful_episode == pytest.approx(0.6 / (rate * share))


def test_a_riskier_pool_costs_more_per_episode_at_the_same_price() -> None:
    model = CostModel(boot_minutes=15)
    ranked = rank([offer("g4dn.2xlarge", 0.3, ">20%"), offer("g6.2xlarge", 0.3, "<5%")], Workload(), model)
    assert [c.pool.instance_type for c in ranked] == ["g6.2xlarge", "g4dn.2xlarge"]
    assert mtbi_hours("<5%", model) == pytest.approx(5 * mtbi_hours(">20%", model))
    assert mtbi_hours(None, model) == mtbi_hours(">20%", model)


def test_a_baked_image_makes_interruptions_cheaper() -> None:
    stock = estimate(offer("g4dn.2xlarge", 0.3), Workload(), CostModel(boot_minutes=15))
    baked = estimate(offer("g4dn.2xlarge", 0.3), Workload(), CostModel(boot_minutes=3))
    assert stock is not None and baked is not None
    assert baked.useful_share > stock.useful_share
    assert baked.usd_per_useful_episode is not None and stock.usd_per_useful_episode is not None
    assert baked.usd_per_useful_episode < stock.usd_per_useful_episode


def test_cpu_types_are_candidates_only_when_the_racer_allows_them() -> None:
    offers = [offer("c5.4xlarge", 0.05), offer("g4dn.2xlarge", 0.30)]
    assert [c.pool.instance_type for c in rank(offers, Workload(), LINEAR)] == ["g4dn.2xlarge"]
    allowed = rank(offers, Workload(allow_cpu=True), LINEAR)
    assert [c.pool.instance_type for c in allowed] == ["c5.4xlarge", "g4dn.2xlarge"]
    assert allowed[0].episodes_per_hour == pytest.approx(60 * 0.5 * 5)  # CPU: half a GPU's speed


def test_on_demand_follows_spot_and_unknown_prices_follow_known_ones() -> None:
    offers = [
        offer("g4dn.2xlarge", 0.10, market="on-demand"),
        offer("g5.2xlarge", None),
        offer("g4dn.2xlarge", 0.50),
        offer("g6.2xlarge", 0.40),
    ]
    ranked = rank(offers, Workload(), CostModel())
    assert [(c.pool.instance_type, c.pool.market) for c in ranked] == [
        ("g6.2xlarge", "spot"),
        ("g4dn.2xlarge", "spot"),
        ("g5.2xlarge", "spot"),
        ("g4dn.2xlarge", "on-demand"),
    ]
    assert ranked[2].usd_per_useful_episode is None
    assert ranked[3].useful_share > ranked[0].useful_share  # on demand is never interrupted


def test_the_scaling_exponent_is_a_checked_setting() -> None:
    with pytest.raises(ValidationError, match="scaling_exponent"):
        CostModel(scaling_exponent=1.5)


def _priced(instance_type: str, price: float, model: CostModel) -> Candidate:
    candidate = estimate(offer(instance_type, price), Workload(run_hours=8), model)
    assert candidate is not None
    return candidate


def test_a_segment_moves_to_a_clearly_cheaper_pool_when_the_saving_pays_for_the_boot() -> None:
    model = CostModel(boot_minutes=3)
    dear, cheap = _priced("g5.8xlarge", 1.20, model), _priced("g4dn.8xlarge", 0.60, model)
    assert worth_moving(dear, cheap, remaining_hours=4, model=model)
    assert not worth_moving(cheap, dear, remaining_hours=4, model=model)  # never to a dearer pool


def test_hysteresis_no_move_for_a_small_saving_or_too_little_time_left() -> None:
    model = CostModel(boot_minutes=15)
    current, slightly = _priced("g5.8xlarge", 1.00, model), _priced("g4dn.8xlarge", 0.95, model)
    assert not worth_moving(current, slightly, remaining_hours=8, model=model)  # 5% cheaper: stay
    cheap = _priced("g4dn.8xlarge", 0.50, model)
    assert worth_moving(current, cheap, remaining_hours=8, model=model)
    assert not worth_moving(current, cheap, remaining_hours=0.3, model=model)  # the boot eats it
    # and once moved, the way back is never worth it: no flapping
    assert not worth_moving(cheap, current, remaining_hours=8, model=model)


def test_no_move_without_a_price_or_to_the_same_pool() -> None:
    model = CostModel()
    current = _priced("g5.8xlarge", 1.0, model)
    unknown = estimate(offer("g4dn.8xlarge", None), Workload(), model)
    assert unknown is not None
    assert not worth_moving(current, unknown, remaining_hours=8, model=model)
    assert not worth_moving(current, current, remaining_hours=8, model=model)
