"""Pool ranking: spot by price, unknown prices last, on demand only when allowed."""

from __future__ import annotations

from pitwall.pools import is_capacity_error, rank_pools

ZONES = {"subnet-a": "us-east-1a", "subnet-b": "us-east-1b"}


def test_spot_pools_are_ranked_cheapest_first_across_types_and_zones() -> None:
    spot = {
        ("g4dn.2xlarge", "us-east-1a"): 0.30,
        ("g4dn.2xlarge", "us-east-1b"): 0.25,
        ("g5.2xlarge", "us-east-1a"): 0.28,
        ("g5.2xlarge", "us-east-1b"): 0.40,
    }
    ranked = rank_pools(["g4dn.2xlarge", "g5.2xlarge"], ZONES, spot, {}, allow_on_demand=False)
    assert [(p.pool.instance_type, p.pool.availability_zone, p.price_per_hour) for p in ranked] == [
        ("g4dn.2xlarge", "us-east-1b", 0.25),
        ("g5.2xlarge", "us-east-1a", 0.28),
        ("g4dn.2xlarge", "us-east-1a", 0.30),
        ("g5.2xlarge", "us-east-1b", 0.40),
    ]
    assert all(p.pool.market == "spot" for p in ranked)


def test_a_pool_without_a_price_comes_after_the_priced_ones_in_configured_order() -> None:
    spot = {("g5.2xlarge", "us-east-1b"): 0.9}
    ranked = rank_pools(["g4dn.2xlarge", "g5.2xlarge"], ZONES, spot, {}, allow_on_demand=False)
    assert [p.pool.label for p in ranked] == [
        "g5.2xlarge/us-east-1b/spot",
        "g4dn.2xlarge/us-east-1a/spot",
        "g4dn.2xlarge/us-east-1b/spot",
        "g5.2xlarge/us-east-1a/spot",
    ]


def test_on_demand_pools_follow_every_spot_pool_only_when_the_run_allows_it() -> None:
    on_demand = {"g4dn.2xlarge": 0.752, "g5.2xlarge": 1.212}
    without = rank_pools(["g4dn.2xlarge", "g5.2xlarge"], ZONES, {}, on_demand, allow_on_demand=False)
    assert {p.pool.market for p in without} == {"spot"}
    ranked = rank_pools(["g5.2xlarge", "g4dn.2xlarge"], ZONES, {}, on_demand, allow_on_demand=True)
    markets = [p.pool.market for p in ranked]
    assert markets == ["spot"] * 4 + ["on-demand"] * 4
    assert [p.pool.instance_type for p in ranked[4:]] == ["g4dn.2xlarge"] * 2 + ["g5.2xlarge"] * 2


def test_capacity_and_price_errors_mean_next_pool_other_errors_do_not() -> None:
    assert is_capacity_error("InsufficientInstanceCapacity")
    assert is_capacity_error("SpotMaxPriceTooLow")
    assert not is_capacity_error("UnauthorizedOperation")
    assert not is_capacity_error("InvalidParameterValue")
