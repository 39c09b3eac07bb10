"""`pitwall evaluations`: the models x tracks table, its JSON rows and its plot, from run records."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from matplotlib.axes import Axes
from moto import mock_aws

from pitwall import aws
from pitwall.adapters.runs_table import RunsTable
from pitwall.runs import EvaluationResult, Run, RunKind, RunRequest, RunState
from pitwall_cli import main
from pitwall_cli.evaluations import describe, draw, figure_of, rows_of


def _result(
    track: str, checkpoint: int, laps: list[float], at: float, direction: str = "clockwise"
) -> EvaluationResult:
    return EvaluationResult(
        evaluation_run_id=f"ev-{checkpoint}",
        checkpoint="last",
        checkpoint_name=f"{checkpoint}_Step-{checkpoint * 100}.ckpt",
        track=track,
        direction=direction,  # type: ignore[arg-type]
        evaluated_at=at,
        trials=3,
        lap_times_seconds=laps,
        mean_completion_percent=100.0 if len(laps) == 3 else 60.0,
        off_track_count=3 - len(laps),
        crash_count=0,
        completed_laps=len(laps),
        reset_count=3 - len(laps),
    )


def _run(model: str, results: list[EvaluationResult]) -> Run:
    return Run(
        run_id=f"{model}-run",
        kind=RunKind.TRAIN,
        request=RunRequest(model_name=model, track="a"),
        state=RunState.SUCCEEDED,
        created_at=0,
        updated_at=0,
        custom_files_prefix="runs/x/custom_files",
        evaluations=results,
    )


RUNS = [
    _run(
        "fast",
        [_result("a", 3, [12.0], 100), _result("a", 5, [11.0, 11.5, 10.8], 200), _result("b", 5, [], 200)],
    ),
    _run("slow", [_result("a", 4, [13.0, 14.0], 150), _result("a", 4, [13.5], 150, "counterclockwise")]),
]


def test_one_row_per_model_track_and_direction_from_the_latest_evaluation_with_the_best_lap_ever() -> None:
    rows = rows_of(RUNS)
    assert [(r.model, r.track, r.direction) for r in rows] == [
        ("fast", "a", "clockwise"),
        ("fast", "b", "clockwise"),
        ("slow", "a", "clockwise"),
        ("slow", "a", "counterclockwise"),
    ]
    fast_a = rows[0]
    assert (fast_a.checkpoint, fast_a.laps, fast_a.best_lap_seconds, fast_a.evaluations) == (
        "5_Step-500.ckpt",
        3,
        10.8,
        2,
    )
    assert fast_a.mean_lap_seconds == 11.1 and fast_a.best_lap_ever_seconds == 10.8
    assert (rows[1].best_lap_seconds, rows[1].off_track, rows[1].resets) == (None, 3, 3)
    table = describe(rows).splitlines()
    assert table[0].split()[:4] == ["model", "track", "dir", "compl"]
    assert "ccw" in table[4] and "3/3" in table[1] and "10.80" in table[1]


def test_the_plot_draws_per_model_one_line_per_track_against_checkpoint(tmp_path: Path) -> None:
    figure = figure_of(RUNS)
    fast_laps, slow_laps, fast_completion, slow_completion = figure.axes  # row by row
    assert (fast_laps.get_title(), slow_laps.get_title()) == ("fast", "slow")

    def lines(axes: Axes) -> dict[str, tuple[list[float], list[float]]]:
        return {
            str(line.get_label()): (
                [float(x) for x in line.get_xdata()],
                [float(y) for y in line.get_ydata()],
            )
            for line in axes.get_lines()
        }

    # best lap per checkpoint (a track with no lap has no point), completion per checkpoint
    assert lines(fast_laps) == {"a (clockwise)": ([3, 5], [12.0, 10.8]), "b (clockwise)": ([], [])}
    completion = {"a (clockwise)": ([3, 5], [60.0, 100.0]), "b (clockwise)": ([5], [60.0])}
    assert lines(fast_completion) == completion
    assert set(lines(slow_completion)) == {"a (clockwise)", "a (counterclockwise)"}
    path = tmp_path / "evaluations.png"
    draw(RUNS, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def table(runs_table_of: Callable[[str], None]) -> Iterator[str]:
    with mock_aws():
        aws.reset_clients()
        runs_table_of("runs")
        for run in RUNS:
            RunsTable("runs").create(run)
        yield "runs"
    aws.reset_clients()


def test_the_command_shows_the_models_asked_for_by_name_or_run_id(
    table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluations", "fast", "--table", table]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in shown[1:]] == [["fast", "a"], ["fast", "b"]]
    assert main(["evaluations", "slow-run", "fast", "--table", table]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]] == ["fast"] * 2 + [
        "slow"
    ] * 2


def test_the_command_prints_the_table_and_every_result_as_json(
    table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluations", "--json", "--table", table]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [(row["model"], row["track"], row["direction"]) for row in shown["table"]] == [
        ("fast", "a", "clockwise"),
        ("fast", "b", "clockwise"),
        ("slow", "a", "clockwise"),
        ("slow", "a", "counterclockwise"),
    ]
    assert [(r["run_id"], r["checkpoint_name"]) for r in shown["results"]][:2] == [
        ("fast-run", "3_Step-300.ckpt"),
        ("fast-run", "5_Step-500.ckpt"),
    ]
    assert len(shown["results"]) == 5


def test_the_command_exits_1_naming_a_model_it_does_not_know(
    table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluations", "nobody", "--table", table]) == 1
    assert capsys.readouterr().out.strip() == "no training run with the id or model name nobody"
