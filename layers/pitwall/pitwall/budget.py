"""THE budget rule: what a run has left (time and money) and what its next segment may use.

Time is wall-clock time since the run's first launch; money is what its instances and ended
evaluations cost at the prices actually paid, and what its running evaluations reserved. A
segment may run until the earlier of the time left and what the money left buys at the new
pool's price, and must have at least `minimum_segment_seconds` of useful training after booting,
or it is not worth launching.
"""

from __future__ import annotations

from dataclasses import dataclass

from pitwall.errors import BudgetExhausted

MINIMUM_SEGMENT_SECONDS = 5 * 60


@dataclass(frozen=True)
class Budget:
    time_seconds: float
    money_usd: float | None = None  # None: no money limit, only time


@dataclass(frozen=True)
class Spent:
    elapsed_seconds: float  # since the run's first launch (0 before it)
    committed_usd: float  # spent, and reserved by its running evaluations (`Run.committed_usd`)


@dataclass(frozen=True)
class Left:
    time_seconds: float
    money_usd: float | None


def left(budget: Budget, spent: Spent) -> Left:
    money = None if budget.money_usd is None else budget.money_usd - spent.committed_usd
    return Left(time_seconds=budget.time_seconds - spent.elapsed_seconds, money_usd=money)


def segment_seconds(
    budget: Budget,
    spent: Spent,
    *,
    price_per_hour: float | None,
    boot_seconds: float,
    minimum_segment_seconds: float = MINIMUM_SEGMENT_SECONDS,
) -> float:
    """How long the next segment may run, boot included; BudgetExhausted when too little is left."""
    remaining = left(budget, spent)
    allowed = remaining.time_seconds
    if remaining.money_usd is not None and price_per_hour:
        allowed = min(allowed, remaining.money_usd / price_per_hour * 3600.0)
    if allowed - boot_seconds < minimum_segment_seconds:
        raise BudgetExhausted(
            f"{max(0.0, remaining.time_seconds) / 60:.1f} min and "
            + ("no money limit" if remaining.money_usd is None else f"${max(0.0, remaining.money_usd):.2f}")
            + f" left: under {minimum_segment_seconds / 60:.0f} min of training after a "
            f"{boot_seconds / 60:.0f} min boot"
        )
    return allowed


def evaluation_money(
    budget: Budget, spent: Spent, *, training_committed_usd: float, cap_usd: float | None
) -> float | None:
    """What an evaluation of a run may spend (None: no limit): its own cap, within the money the
    run has not committed: its budget, less what it spent and what its running evaluations
    reserved (`spent.committed_usd`), less what its live training segment will still cost up to its
    deadline (that deadline was set from the money left then). BudgetExhausted when the run
    has no money left beside its training."""
    caps = [cap_usd] if cap_usd is not None else []
    remaining = left(budget, spent).money_usd
    if remaining is not None:
        free = remaining - training_committed_usd
        if free <= 0:
            raise BudgetExhausted(
                f"no money left beside the training: ${max(0.0, remaining):.2f} of ${budget.money_usd:.2f} "
                f"left, ${training_committed_usd:.2f} of it for the training until its deadline"
            )
        caps.append(free)
    return round(min(caps), 4) if caps else None
