"""`pitwall schedule add` as its model's run ends (on moto's DynamoDB and Scheduler)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from moto import mock_aws

from pitwall import aws
from pitwall.adapters.runs_table import RunsTable
from pitwall.adapters.scheduler import EvaluationSchedules
from pitwall.runs import Run, RunKind, RunRequest, RunState
from pitwall.schedules import EvaluationSchedule
from pitwall_cli import main

GROUP = "pitwall-evaluations"
LOCATION = [
    "--table",
    "runs",
    "--group",
    GROUP,
    "--scheduler-role",
    "arn:aws:iam::123456789012:role/scheduler",
    "--target",
    "arn:aws:lambda:us-east-1:123456789012:function:fire",
]


@pytest.fixture
def table(runs_table_of: Callable[[str], None]) -> Iterator[RunsTable]:
    with mock_aws():
        aws.reset_clients()
        runs_table_of("runs")
        aws.client("scheduler").create_schedule_group(Name=GROUP)
        runs = RunsTable("runs")
        runs.create(
            Run(
                run_id="train-1",
                kind=RunKind.TRAIN,
                request=RunRequest(model_name="m", track="a"),
                state=RunState.RUNNING,
                created_at=0,
                updated_at=0,
                custom_files_prefix="runs/train-1/custom_files",
            )
        )
        yield runs
    aws.reset_clients()


def _listed() -> list[str]:
    return [s["Name"] for s in aws.client("scheduler").list_schedules(GroupName=GROUP)["Schedules"]]


def _run_ends_as_the_schedule_is_made(table: RunsTable, monkeypatch: pytest.MonkeyPatch) -> None:
    create = EvaluationSchedules.create

    def create_then_end(self: EvaluationSchedules, schedule: EvaluationSchedule, now: float) -> bool:
        made = create(self, schedule, now)
        run = table.get("train-1")
        run.state = RunState.SUCCEEDED  # its NotifyRun deleted the schedules it found: not this one
        table.save(run)
        return made

    monkeypatch.setattr(EvaluationSchedules, "create", create_then_end)


def test_a_schedule_added_as_its_run_ends_is_removed_and_the_racer_told(
    table: RunsTable, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _run_ends_as_the_schedule_is_made(table, monkeypatch)
    assert main(["schedule", "add", "train-1", "--every", "rate(1 hour)", *LOCATION]) == 1
    assert "run train-1 ended as the schedule was made: removed it" in capsys.readouterr().out
    assert _listed() == []


def test_a_schedule_kept_after_its_run_stays_when_the_run_ends_meanwhile(
    table: RunsTable, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _run_ends_as_the_schedule_is_made(table, monkeypatch)
    assert main(["schedule", "add", "m", "--every", "rate(1 hour)", "--keep-after-run", *LOCATION]) == 0
    assert _listed() == [capsys.readouterr().out.strip()]
