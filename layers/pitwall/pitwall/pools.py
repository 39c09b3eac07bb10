"""Instance pools: rank instance-type x AZ pools by current price (spot first, cheapest first,
then on demand when the run allows it) and say which launch errors mean "try the next pool".

Pure: the prices come in as arguments (the EC2 adapter reads live spot prices).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pitwall.runs import Pool

# EC2 error codes that mean "this pool cannot give an instance now": try the next one.
CAPACITY_ERROR_CODES = frozenset(
    {
        "InsufficientInstanceCapacity",
        "InsufficientCapacity",
        "InsufficientHostCapacity",
        "SpotMaxPriceTooLow",
        "MaxSpotInstanceCountExceeded",
        "InstanceLimitExceeded",
        "VcpuLimitExceeded",
        "Unsupported",  # the instance type is not offered in that AZ
    }
)


def is_capacity_error(code: str) -> bool:
    return code in CAPACITY_ERROR_CODES


@dataclass(frozen=True)
class PricedPool:
    pool: Pool
    price_per_hour: float | None  # None: unknown (ranked after every known price of its market)


def rank_pools(
    instance_types: Sequence[str],
    subnet_zones: Mapping[str, str],
    spot_prices: Mapping[tuple[str, str], float],
    on_demand_prices: Mapping[str, float],
    *,
    allow_on_demand: bool,
) -> list[PricedPool]:
    """Every spot pool (type x subnet) cheapest first, then, if allowed, every on-demand pool.

    `subnet_zones` maps subnet id -> AZ; `spot_prices` maps (type, AZ) -> USD/h. Spot pools with
    no price on record come after the priced ones (EC2 may still have capacity). Ties keep the
    configured order of types and subnets, so the racer's first choice wins a tie.
    """

    def order(priced: PricedPool, position: int) -> tuple[int, float, int]:
        known = priced.price_per_hour is not None
        return (0 if known else 1, priced.price_per_hour or 0.0, position)

    spot = [
        PricedPool(
            Pool(instance_type=type_, availability_zone=zone, subnet_id=subnet, market="spot"),
            spot_prices.get((type_, zone)),
        )
        for type_ in instance_types
        for subnet, zone in subnet_zones.items()
    ]
    ranked = [p for _, p in sorted(enumerate(spot), key=lambda item: order(item[1], item[0]))]
    if allow_on_demand:
        on_demand = [
            PricedPool(
                Pool(instance_type=type_, availability_zone=zone, subnet_id=subnet, market="on-demand"),
                on_demand_prices.get(type_),
            )
            for type_ in instance_types
            for subnet, zone in subnet_zones.items()
        ]
        ranked += [p for _, p in sorted(enumerate(on_demand), key=lambda item: order(item[1], item[0]))]
    return ranked
