"""Scheduled evaluations: the one model of a schedule. A racer asks for one in a run request
(`evaluations: [...]`) or with `pitwall schedule add`; it lives in Amazon EventBridge Scheduler
(one schedule in the stack's group, the schedule as its target's input) until it ends: at its
end date, when it is removed, or when its model's run ends (unless told otherwise).

Pure domain: no boto3.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from pitwall import layout
from pitwall.evaluations import EvaluationRequest

# EventBridge Scheduler's recurring expressions: rate(value unit) or cron(6 fields)
EXPRESSION_PATTERN = r"^(rate\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\)|cron\(\S+( \S+){5}\))$"
SCHEDULE_ID_PATTERN = r"^[0-9a-zA-Z._-]{1,64}$"
MAX_FIRINGS_KEPT = 50  # on the run record: the newest firings, started or skipped


class ScheduleSpec(EvaluationRequest):
    """What a racer asks for: an evaluation (checkpoint, tracks, trials, race options) and when."""

    model_config = ConfigDict(extra="forbid")

    every: str = Field(
        pattern=EXPRESSION_PATTERN, description="rate(2 hours), rate(1 day) or cron(0 3 * * ? *) (UTC)"
    )
    flexible_window_minutes: int = Field(
        default=0, ge=0, le=1440, description="the scheduler may fire this much later (0: on time)"
    )
    ends_at: datetime | None = Field(default=None, description="no firing after this (UTC)")
    ends_with_run: bool = Field(default=True, description="deleted when its model's run ends")
    repeat: bool = Field(
        default=False, description="evaluate a checkpoint again on a track it was evaluated on"
    )

    def evaluation(self) -> EvaluationRequest:
        return EvaluationRequest.model_validate(self.model_dump(include=set(EvaluationRequest.model_fields)))


class EvaluationSchedule(ScheduleSpec):
    """One schedule of one model, as its target receives it at each firing."""

    schedule_id: str = Field(pattern=SCHEDULE_ID_PATTERN)
    source_run_id: str = Field(pattern=layout.RUN_ID_PATTERN, description="the model's training run")
    model_name: str


def schedule_id_for(run_id: str, suffix: str) -> str:
    """A readable, unique schedule name within Scheduler's 64 characters: the run id's start, a
    digest of the whole id, and the suffix (a run request's schedule index, or a CLI token)."""
    digest = hashlib.sha256(run_id.encode()).hexdigest()[:6]
    return f"{run_id[:40]}-{digest}-{suffix}"[:64]


class ScheduleFiring(BaseModel):
    """One firing of a schedule, recorded on its model's run: the evaluation it started, or why
    it started none."""

    model_config = ConfigDict(extra="forbid")

    schedule_id: str
    at: float
    evaluation_run_id: str | None = None
    skipped: str | None = None
    checkpoint_name: str | None = None
