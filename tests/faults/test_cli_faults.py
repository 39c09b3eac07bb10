"""`pitwall faults`: the matrix as a command (one case here; the matrix module runs them all)."""

from __future__ import annotations

import pytest

from pitwall_cli import main


def test_pitwall_faults_runs_the_chosen_case_and_prints_the_matrix(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["faults", "--state", "training", "--fault", "late-event-old-instance"])
    out = capsys.readouterr().out
    assert "late-event-old-instance @ training: 1 segment(s)" in out
    assert "fault \\ state" in out and "faults injected 1/1" in out
    survived = "; survived" in out
    assert code == (0 if survived else 1)
