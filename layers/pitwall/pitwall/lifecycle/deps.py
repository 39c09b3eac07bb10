"""What a lifecycle step works with: its settings, the adapters (typed by `lifecycle.ports`) and a
clock. Handlers build one per invocation (`Deps.from_settings`, the real adapters); unit tests
build it from in-memory fakes (`tests/unit/lifecycle/fakes.py`)."""

from __future__ import annotations

from dataclasses import dataclass

from pitwall.adapters.ec2 import Ec2
from pitwall.adapters.iam import SegmentRoles
from pitwall.adapters.machines import Machines
from pitwall.adapters.messaging import Messaging
from pitwall.adapters.runs_table import RunsTable
from pitwall.adapters.scheduler import EvaluationSchedules
from pitwall.adapters.store import ObjectStore
from pitwall.adapters.tasks import TaskTokens
from pitwall.clock import Clock
from pitwall.lifecycle import ports
from pitwall.pricing import OnDemandPrices
from pitwall.settings import Settings


@dataclass
class Deps:
    settings: Settings
    store: ports.Store
    runs: ports.RunStore
    ec2: ports.Ec2
    clock: Clock
    roles: ports.Roles
    tasks: ports.Tasks
    messaging: ports.Messaging
    machines: ports.Machines
    prices: ports.Prices
    schedules: ports.Schedules

    @classmethod
    def from_settings(cls, settings: Settings) -> Deps:
        return cls(
            settings=settings,
            store=ObjectStore(settings.model_bucket),
            runs=RunsTable(settings.runs_table),
            ec2=Ec2(settings.region),
            clock=settings.clock(),
            roles=SegmentRoles(settings.host_permissions_boundary_arn),
            tasks=TaskTokens(),
            messaging=Messaging(settings.topic_arn, settings.event_bus),
            machines=Machines(),
            prices=OnDemandPrices(settings.region),
            schedules=EvaluationSchedules(
                group=settings.schedule_group,
                role_arn=settings.scheduler_role_arn,
                target_arn=settings.scheduled_evaluation_arn,
            ),
        )
