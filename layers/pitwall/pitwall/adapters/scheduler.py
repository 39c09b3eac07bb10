"""Scheduled evaluations in Amazon EventBridge Scheduler: one schedule per `EvaluationSchedule`
in the stack's group, invoking the scheduled-evaluation Lambda with the schedule as its input.
The schedules are the data: listing reads them back from Scheduler."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from pitwall import aws
from pitwall.schedules import EvaluationSchedule


class EvaluationSchedules:
    def __init__(self, *, group: str, role_arn: str, target_arn: str) -> None:
        self.group = group
        self.role_arn = role_arn
        self.target_arn = target_arn

    def _scheduler(self) -> Any:
        return aws.client("scheduler")

    def create(self, schedule: EvaluationSchedule, now: float) -> bool:
        """Create the schedule; False when one of that name exists (a retried request)."""
        window = (
            {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": schedule.flexible_window_minutes}
            if schedule.flexible_window_minutes
            else {"Mode": "OFF"}
        )
        request: dict[str, Any] = {
            "Name": schedule.schedule_id,
            "GroupName": self.group,
            "ScheduleExpression": schedule.every,
            "ScheduleExpressionTimezone": "UTC",
            "StartDate": datetime.fromtimestamp(now, UTC),
            "FlexibleTimeWindow": window,
            "Description": f"evaluate {schedule.model_name} ({schedule.source_run_id})",
            "Target": {
                "Arn": self.target_arn,
                "RoleArn": self.role_arn,
                "Input": schedule.model_dump_json(),
                "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600},
            },
            "ActionAfterCompletion": "DELETE",
        }
        if schedule.ends_at is not None:
            request["EndDate"] = schedule.ends_at
        try:
            self._scheduler().create_schedule(**request)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConflictException":
                return False
            raise
        return True

    def delete(self, schedule_id: str) -> bool:
        """Delete the schedule; False when there is none of that name."""
        try:
            self._scheduler().delete_schedule(Name=schedule_id, GroupName=self.group)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                return False
            raise
        return True

    def get(self, schedule_id: str) -> EvaluationSchedule | None:
        try:
            answer = self._scheduler().get_schedule(Name=schedule_id, GroupName=self.group)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                return None
            raise
        return EvaluationSchedule.model_validate(json.loads(answer["Target"]["Input"]))

    def all(self) -> list[EvaluationSchedule]:
        names: list[str] = []
        for page in self._scheduler().get_paginator("list_schedules").paginate(GroupName=self.group):
            names += [item["Name"] for item in page.get("Schedules", [])]
        found = [self.get(name) for name in sorted(names)]
        return [schedule for schedule in found if schedule is not None]

    def of_run(self, run_id: str) -> list[EvaluationSchedule]:
        return [schedule for schedule in self.all() if schedule.source_run_id == run_id]
