"""`pitwall demo` ends with the cockpit: the HTML report of its first model, its path printed,
and no CloudWatch metric documents in the story it tells; a schedule evaluates the second model
while it trains, and the `pitwall evaluations` table of both models on both tracks ends it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pitwall_cli import main


def test_the_demo_ends_by_writing_the_first_models_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "first-model.html"
    assert main(["demo", "--report", str(report)]) == 0
    out = capsys.readouterr().out
    assert f"\nreport of demo-model: {report.resolve()}\n\npitwall evaluations\n" in out  # the table ends it
    page = report.read_text()
    assert "<h1>demo-model</h1>" in page and "Plotly.newPlot" in page
    assert '"_aws"' not in out  # the in-process Lambdas' metrics stay out of the story


def test_the_demo_evaluates_on_a_schedule_during_the_second_training_and_ends_with_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--report", str(tmp_path / "report.html")]) == 0
    out = capsys.readouterr().out
    # a schedule fired while the faster model trained and evaluated its newest checkpoint on both tracks
    fired = r"schedule +fired: evaluated \d+_Step-\d+\.ckpt while training: "
    fired += r"reInvent2019_track \d+%, 2022_april_open \d+%$"
    assert re.search(fired, out, re.MULTILINE), out
    # and the story ends with `pitwall evaluations`: both models, each on both tracks
    header, *rows = out.rstrip().split("\npitwall evaluations\n")[-1].splitlines()
    assert header.split()[:3] == ["model", "track", "dir"]
    assert sorted(tuple(row.split()[:3]) for row in rows) == [
        ("demo-model", "2022_april_open", "cw"),
        ("demo-model", "reInvent2019_track", "cw"),
        ("demo-model-faster", "2022_april_open", "cw"),
        ("demo-model-faster", "reInvent2019_track", "cw"),
    ]
