"""`pitwall demo` ends with the cockpit: the HTML report of its first model, its path printed,
and no CloudWatch metric documents in the story it tells."""

from __future__ import annotations

from pathlib import Path

import pytest

from pitwall_cli import main


def test_the_demo_ends_by_writing_the_first_models_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "first-model.html"
    assert main(["demo", "--report", str(report)]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().splitlines()[-1] == f"report of demo-model: {report.resolve()}"
    page = report.read_text()
    assert "<h1>demo-model</h1>" in page and "Plotly.newPlot" in page
    assert '"_aws"' not in out  # the in-process Lambdas' metrics stay out of the story
