"""On-demand prices of the GPU instance types DRFC runs on, USD per hour, Linux.

Source: ../shared/data/on-demand-prices.csv (AWS EC2 on-demand list prices as of 2026-01-21),
the rows of the regions below; `tests/unit/test_budget.py` checks this table against that file
where it exists. Spot prices are live (EC2 DescribeSpotPriceHistory), never from this table.
"""

from __future__ import annotations

from dataclasses import dataclass

_US = {
    "g4dn.xlarge": 0.526,
    "g4dn.2xlarge": 0.752,
    "g4dn.4xlarge": 1.204,
    "g4dn.8xlarge": 2.176,
    "g5.xlarge": 1.006,
    "g5.2xlarge": 1.212,
    "g5.4xlarge": 1.624,
    "g5.8xlarge": 2.448,
    "g6.xlarge": 0.8048,
    "g6.2xlarge": 0.9776,
    "g6.4xlarge": 1.3232,
    "g6.8xlarge": 2.0144,
}

ON_DEMAND_USD_PER_HOUR: dict[str, dict[str, float]] = {
    "us-east-1": _US,
    "us-east-2": _US,
    "us-west-2": _US,
    "eu-west-1": {
        "g4dn.xlarge": 0.587,
        "g4dn.2xlarge": 0.838,
        "g4dn.4xlarge": 1.342,
        "g4dn.8xlarge": 2.426,
        "g5.xlarge": 1.123,
        "g5.2xlarge": 1.35296,
        "g5.4xlarge": 1.81287,
        "g5.8xlarge": 2.73271,
    },
    "eu-central-1": {
        "g4dn.xlarge": 0.658,
        "g4dn.2xlarge": 0.94,
        "g4dn.4xlarge": 1.505,
        "g4dn.8xlarge": 2.72,
        "g5.xlarge": 1.258,
        "g5.2xlarge": 1.5156,
        "g5.4xlarge": 2.03081,
        "g5.8xlarge": 3.06122,
    },
}


def on_demand_price(region: str, instance_type: str) -> float | None:
    """The on-demand price, or None where this table does not know it."""
    return ON_DEMAND_USD_PER_HOUR.get(region, {}).get(instance_type)


@dataclass(frozen=True)
class OnDemandPrices:
    """This table for one region."""

    region: str

    def on_demand(self, instance_type: str) -> float | None:
        return on_demand_price(self.region, instance_type)
