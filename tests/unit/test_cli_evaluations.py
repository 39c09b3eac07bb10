"""`pitwall evaluations`: the models x tracks table, its JSON rows and its plot, from run records."""

from __future__ import annotations

from pathlib import Path

from pitwall.runs import EvaluationResult, Run, RunKind, RunRequest, RunState
from pitwall_cli.evaluations import describe, draw, rows_of


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


def test_the_plot_draws_each_model_against_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "evaluations.png"
    draw(RUNS, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
