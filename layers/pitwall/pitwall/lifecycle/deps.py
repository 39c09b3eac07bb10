"""What a lifecycle step works with: its settings, the adapters and a clock. Handlers build one
per invocation (`Deps.from_settings`); tests build it with fakes where AWS cannot run."""

from __future__ import annotations

from dataclasses import dataclass

from pitwall.adapters.ec2 import Ec2
from pitwall.adapters.iam import SegmentRoles
from pitwall.adapters.runs_table import RunsTable
from pitwall.adapters.scheduler import EvaluationSchedules
from pitwall.adapters.store import ObjectStore
from pitwall.clock import Clock
from pitwall.settings import Settings


@dataclass
class Deps:
    settings: Settings
    store: ObjectStore
    runs: RunsTable
    ec2: Ec2
    clock: Clock
    roles: SegmentRoles

    @property
    def schedules(self) -> EvaluationSchedules:
        settings = self.settings
        return EvaluationSchedules(
            group=settings.schedule_group,
            role_arn=settings.scheduler_role_arn,
            target_arn=settings.scheduled_evaluation_arn,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Deps:
        return cls(
            settings=settings,
            store=ObjectStore(settings.model_bucket),
            runs=RunsTable(settings.runs_table),
            ec2=Ec2(settings.region),
            clock=settings.clock(),
            roles=SegmentRoles(settings.host_permissions_boundary_arn),
        )
