"""Cost per useful episode: rank where a run trains (instance type and size, AZ, market) and with
how many DRFC workers, by the dollars one useful training episode is expected to cost.

What a racer buys is training, not instance hours: a bigger size runs more workers and may
cost less per episode than the cheapest hourly price; a pool that is interrupted often pays a
boot and the unsaved part of an iteration each time. Every figure below is a field of
`CostModel`, so a deployment and the benchmark can change it:

- Workers (DRFC's multi-worker rules): each worker needs 2 to 4 vCPUs; `vcpus_per_worker` (3)
  picks the count a size runs (2, 5 and 10 on a 2x-, 4x- and 8xlarge, DRFC's usual counts);
  an iteration's episodes are split across the workers, so more than
  `num_episodes_between_training` workers do nothing useful; SAC trains with one worker. A
  racer who fixed DR_WORKERS keeps that count, and a size with fewer than 2 vCPUs per worker
  for it is no candidate.
- Throughput: episodes per hour = `episodes_per_worker_hour` x workers ** `scaling_exponent`.
  Nobody has published episodes per hour against worker count; the training phase is serial,
  so scaling is sub-linear. The default exponent, 0.65, is deliberately conservative (1.0 would
  be linear). CPU instance types (DRFC's CPU image) train at `cpu_speed` (0.5, a stated guess)
  of a GPU instance with as many workers; they are candidates only when the racer allows them.
- Interruptions: the pool's mean time between interruptions is `reference_mtbi_hours` for the
  Spot Instance Advisor's ">20%" bucket, longer in proportion for lower buckets (each bucket
  counts at its upper edge: "<5%" is 5 times safer than ">20%", not 10: conservative); a pool
  with no bucket on record counts as ">20%". On demand is never interrupted. Each interruption
  costs a boot plus half an iteration of unsaved work.
- Boot: `boot_minutes` (3 on a baked image, 15 on a stock one) is paid and trains nothing, once
  per run and once per interruption.

Useful share of paid time = 1 / (1 + (boot + loss) / MTBI + boot / run hours);
dollars per useful episode = price per hour / (episodes per hour x useful share).

Pure: prices and buckets come in as arguments.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from pitwall.runs import Pool

# Spot Instance Advisor buckets (share of instances interrupted in a month), each at its upper
# edge relative to the highest bucket: how much more often than ">20%" a pool is interrupted.
INTERRUPTION_BUCKETS: dict[str, float] = {
    "<5%": 5 / 25,
    "5-10%": 10 / 25,
    "10-15%": 15 / 25,
    "15-20%": 20 / 25,
    ">20%": 1.0,
}
BAKED_BOOT_MINUTES = 3.0  # launch to training on an image with DRFC and the simulator in it
STOCK_BOOT_MINUTES = 15.0  # the same on a stock image: install DRFC, pull the simulator
MIN_VCPUS_PER_WORKER = 2
MAX_VCPUS_PER_WORKER = 4
GPU_FAMILY_PREFIXES = ("g", "p")  # g4dn, g5, g6, g6e, p3, ...: the GPU image
_SIZE = re.compile(r"^(?P<family>[a-z][a-z0-9-]*)\.(?P<count>\d*)(?P<unit>xlarge|large)$")


class CostModel(BaseModel):
    """The assumptions of the estimate (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scaling_exponent: float = Field(default=0.65, gt=0, le=1)
    episodes_per_worker_hour: float = Field(default=60.0, gt=0)
    vcpus_per_worker: float = Field(default=3.0, ge=MIN_VCPUS_PER_WORKER, le=MAX_VCPUS_PER_WORKER)
    cpu_speed: float = Field(default=0.5, gt=0, le=1)
    reference_mtbi_hours: float = Field(default=4.0, gt=0)
    boot_minutes: float = Field(default=STOCK_BOOT_MINUTES, ge=0)
    max_workers: int = Field(default=12, ge=1)


class Workload(BaseModel):
    """What the run asks of an instance."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fixed_workers: int | None = Field(default=None, ge=1)  # the racer's DR_WORKERS, if set
    episodes_between_training: int = Field(default=20, ge=1)
    sac: bool = False
    allow_cpu: bool = False
    run_hours: float = Field(default=2.0, gt=0)


@dataclass(frozen=True)
class Offer:
    """A pool with its price now (None: unknown) and its interruption bucket (None: unknown)."""

    pool: Pool
    price_per_hour: float | None
    interruption_bucket: str | None = None


@dataclass(frozen=True)
class Candidate:
    pool: Pool
    price_per_hour: float | None
    workers: int
    episodes_per_hour: float
    useful_share: float
    usd_per_useful_episode: float | None  # None when the price is unknown


def vcpus(instance_type: str) -> int | None:
    """vCPUs of an instance type from its size name (large 2, xlarge 4, Nxlarge 4N: true of the
    GPU and compute families DRFC runs on); None for a name that says nothing (metal)."""
    match = _SIZE.match(instance_type)
    if match is None:
        return None
    if match["unit"] == "large":
        return 2 if not match["count"] else None
    return 4 * int(match["count"] or "1")


def is_gpu(instance_type: str) -> bool:
    return instance_type.startswith(GPU_FAMILY_PREFIXES)


def workers_for(instance_type: str, workload: Workload, model: CostModel) -> int | None:
    """How many DRFC workers this instance type runs for the workload; None: it cannot run it."""
    count = vcpus(instance_type)
    if count is None:
        return None
    if workload.fixed_workers is not None:
        fits = workload.fixed_workers * MIN_VCPUS_PER_WORKER <= count
        return workload.fixed_workers if fits else None
    if workload.sac:
        return 1 if count >= MIN_VCPUS_PER_WORKER else None
    chosen = int(count // model.vcpus_per_worker)
    chosen = min(chosen, workload.episodes_between_training, model.max_workers)
    return chosen if chosen >= 1 else None


def mtbi_hours(bucket: str | None, model: CostModel) -> float:
    """Mean hours between interruptions of a spot pool in `bucket` (unknown: the worst bucket)."""
    relative = INTERRUPTION_BUCKETS.get(bucket or "", 1.0)
    return model.reference_mtbi_hours / relative


def episodes_per_hour(instance_type: str, workers: int, model: CostModel) -> float:
    speed = 1.0 if is_gpu(instance_type) else model.cpu_speed
    return model.episodes_per_worker_hour * speed * workers**model.scaling_exponent


def useful_share(
    market: str, bucket: str | None, iteration_hours: float, workload: Workload, model: CostModel
) -> float:
    """The share of paid time that ends up in the model: boots and unsaved work are lost."""
    boot = model.boot_minutes / 60.0
    waste = boot / workload.run_hours
    if market == "spot":
        waste += (boot + iteration_hours / 2) / mtbi_hours(bucket, model)
    return 1.0 / (1.0 + waste)


def estimate(offer: Offer, workload: Workload, model: CostModel) -> Candidate | None:
    """The candidate an offer makes for the workload; None when its type cannot run it."""
    workers = workers_for(offer.pool.instance_type, workload, model)
    if workers is None or (not is_gpu(offer.pool.instance_type) and not workload.allow_cpu):
        return None
    rate = episodes_per_hour(offer.pool.instance_type, workers, model)
    iteration_hours = workload.episodes_between_training / rate
    share = useful_share(offer.pool.market, offer.interruption_bucket, iteration_hours, workload, model)
    cost = None if offer.price_per_hour is None else offer.price_per_hour / (rate * share)
    return Candidate(offer.pool, offer.price_per_hour, workers, rate, share, cost)


def rank(offers: Sequence[Offer], workload: Workload, model: CostModel) -> list[Candidate]:
    """Every offer that can run the workload, spot before on demand (on demand stays the
    fallback the racer allowed), each market cheapest per useful episode first; an unknown
    price after every known one of its market; ties keep the order of `offers`."""

    def order(item: tuple[int, Candidate]) -> tuple[int, int, float, int]:
        position, candidate = item
        cost = candidate.usd_per_useful_episode
        return (
            0 if candidate.pool.market == "spot" else 1,
            0 if cost is not None else 1,
            cost or 0.0,
            position,
        )

    found = [c for offer in offers if (c := estimate(offer, workload, model)) is not None]
    return [candidate for _, candidate in sorted(enumerate(found), key=order)]


MOVE_MIN_SAVING = 0.9  # a move needs a pool at most this share of the current cost per episode
MOVE_BOOT_MARGIN = 2.0  # ... and to save this many times the boot it pays


def worth_moving(current: Candidate, better: Candidate, *, remaining_hours: float, model: CostModel) -> bool:
    """Whether a segment training in `current` should move to `better` at its next checkpoint:
    only when `better` is clearly cheaper per useful episode and the saving over the hours left
    pays for the boot of the new instance with room to spare. Both thresholds are hysteresis:
    two pools of nearly the same cost never make a segment go back and forth."""
    now_cost, new_cost = current.usd_per_useful_episode, better.usd_per_useful_episode
    if now_cost is None or new_cost is None or better.price_per_hour is None or better.pool == current.pool:
        return False
    if new_cost > MOVE_MIN_SAVING * now_cost:
        return False
    boot_hours = model.boot_minutes / 60.0
    episodes_left = better.episodes_per_hour * better.useful_share * max(0.0, remaining_hours - boot_hours)
    saving = episodes_left * (now_cost - new_cost)
    return saving > MOVE_BOOT_MARGIN * better.price_per_hour * boot_hours


def move_target(
    ranked: Sequence[Candidate],
    current: Pool,
    *,
    excluded: Collection[str],
    remaining_hours: float,
    model: CostModel,
) -> Candidate | None:
    """Where a segment training in `current` should move at this checkpoint, or None: the pool
    that now costs least per useful episode (none of the `excluded`), when `worth_moving` says
    the move pays. The current pool is judged at its price now, from the same ranking."""
    here = next((c for c in ranked if c.pool == current), None)
    others = [
        c
        for c in ranked
        if c.pool != current and c.pool.label not in excluded and c.usd_per_useful_episode is not None
    ]
    if here is None or not others:
        return None
    best = min(others, key=lambda c: c.usd_per_useful_episode or 0.0)
    return best if worth_moving(here, best, remaining_hours=remaining_hours, model=model) else None
