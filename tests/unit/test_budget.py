"""The budget rule, and the on-demand price table against its source file."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from pitwall import pricing
from pitwall.budget import Budget, Spent, evaluation_money, left, segment_seconds
from pitwall.errors import BudgetExhausted

PRICES_CSV = Path(__file__).resolve().parents[3] / "shared" / "data" / "on-demand-prices.csv"


def test_a_fresh_run_may_use_its_whole_time_budget() -> None:
    assert segment_seconds(Budget(7200), Spent(0, 0), price_per_hour=0.3, boot_seconds=600) == 7200


def test_a_later_segment_gets_only_the_time_left() -> None:
    assert segment_seconds(Budget(7200), Spent(5400, 0.5), price_per_hour=0.3, boot_seconds=600) == 1800


def test_the_money_left_caps_the_segment_at_the_new_pool_price() -> None:
    # $1 left at $0.50/h buys 2 h, less than the 3 h of time left
    seconds = segment_seconds(
        Budget(4 * 3600, money_usd=1.5), Spent(3600, 0.5), price_per_hour=0.5, boot_seconds=600
    )
    assert seconds == pytest.approx(2 * 3600)
    assert left(Budget(4 * 3600, 1.5), Spent(3600, 0.5)).money_usd == pytest.approx(1.0)


def test_an_evaluation_may_take_only_the_money_the_training_has_not_committed() -> None:
    # $5 budget, $1 spent or reserved, the live training will still cost $1.50 to its deadline
    money = Budget(7200, money_usd=5.0)
    assert evaluation_money(money, Spent(600, 1.0), training_committed_usd=1.5, cap_usd=None) == 2.5
    assert evaluation_money(money, Spent(600, 1.0), training_committed_usd=1.5, cap_usd=0.75) == 0.75
    # no money limit: only its own cap, if any
    assert evaluation_money(Budget(7200), Spent(600, 9.0), training_committed_usd=9.0, cap_usd=None) is None
    assert evaluation_money(Budget(7200), Spent(600, 9.0), training_committed_usd=9.0, cap_usd=2) == 2
    with pytest.raises(BudgetExhausted, match=r"no money left beside the training: \$4\.00 of \$5\.00 left"):
        evaluation_money(money, Spent(600, 1.0), training_committed_usd=4.0, cap_usd=1)


def test_too_little_left_for_training_after_boot_is_budget_exhausted() -> None:
    with pytest.raises(BudgetExhausted, match="left"):
        segment_seconds(Budget(3600), Spent(3600 - 700, 0), price_per_hour=0.3, boot_seconds=600)
    with pytest.raises(BudgetExhausted, match=r"\$0\.01"):
        segment_seconds(Budget(36000, money_usd=1.0), Spent(0, 0.99), price_per_hour=0.5, boot_seconds=60)


def test_the_on_demand_table_matches_its_source() -> None:
    if not PRICES_CSV.exists():
        pytest.skip(f"{PRICES_CSV} is not beside the checkout")
    with PRICES_CSV.open() as source:
        listed = {
            (row["region"], row["instance_type"]): float(row["on_demand_usd_per_hour"])
            for row in csv.DictReader(source)
        }
    for region, prices in pricing.ON_DEMAND_USD_PER_HOUR.items():
        for instance_type, price in prices.items():
            assert listed[(region, instance_type)] == price, (region, instance_type)
    assert pricing.on_demand_price("us-east-1", "g4dn.2xlarge") == 0.752
    assert pricing.on_demand_price("mars-1", "g4dn.2xlarge") is None
