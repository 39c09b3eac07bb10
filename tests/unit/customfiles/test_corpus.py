"""The broken corpus: every set under tests/data/custom_files/broken/<case>/ is rejected with a
message naming the file and the problem (its expected.json), and nothing is written; the good
sets pass."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from pitwall.customfiles.validate import validate_folder
from pitwall.tracks import builtin_tracks
from pitwall_cli import main

DATA = Path(__file__).resolve().parents[2] / "data" / "custom_files"
BROKEN = sorted(path for path in (DATA / "broken").iterdir() if path.is_dir())
GOOD = sorted(path for path in (DATA / "good").iterdir() if path.is_dir())


def tree_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def test_the_corpus_holds_at_least_thirty_broken_sets():
    assert len(BROKEN) >= 30


@pytest.mark.parametrize("case", BROKEN, ids=[path.name for path in BROKEN])
def test_each_broken_set_is_rejected_naming_the_file_and_the_problem(case: Path):
    # Given a broken set and what it must be told
    expected = json.loads((case / "expected.json").read_text())
    before = tree_hash(case)

    # When it is validated
    report = validate_folder(case, tracks=builtin_tracks())

    # Then it is rejected, with the expected file and message, and the folder is untouched
    assert not report.ok, report.render()
    found = report.warnings if expected.get("warning") else report.problems
    matching = [
        item for item in found if item.file == expected["file"] and expected["message"] in item.render()
    ]
    assert matching, f"expected {expected} in:\n{report.render()}"
    assert tree_hash(case) == before


@pytest.mark.parametrize("case", GOOD, ids=[path.name for path in GOOD])
def test_good_sets_pass(case: Path):
    report = validate_folder(case, tracks=builtin_tracks())

    assert report.ok, report.render()
    assert report.reward_runs and all(run.calls > 0 for run in report.reward_runs if run.skipped is None)


def test_cli_exits_zero_on_a_good_set_and_one_on_a_broken_set(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    # Given no tracks folder: the simulator's tracks; the good set trains on reInvent2019_track
    monkeypatch.delenv("PITWALL_TRACKS_DIR", raising=False)

    assert main(["validate", str(DATA / "good" / "discrete_ppo")]) == 0
    output = capsys.readouterr().out
    assert "OK: 0 problem(s)" in output and "DR_WORLD_NAME" not in output
    assert "calls on 1 track(s)" in output  # that real track only, with no flag

    assert main(["validate", str(DATA / "broken" / "reward_returns_nan")]) == 1
    output = capsys.readouterr().out
    assert "reward_function.py: " in output and "must be finite" in output
    assert "first failing params" in output and '"progress":' in output


def test_cli_reads_the_tracks_folder_from_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
):
    # Given a tracks folder holding one track, named by PITWALL_TRACKS_DIR
    import numpy as np

    oval = builtin_tracks()["oval"]
    rows = np.column_stack([oval.center.points, oval.inner.points, oval.outer.points])
    np.save(tmp_path / "only_track.npy", rows)
    monkeypatch.setenv("PITWALL_TRACKS_DIR", str(tmp_path))

    # When a set without run.env is validated
    assert main(["validate", str(DATA / "good" / "continuous_sac"), "--no-python38"]) == 0

    # Then the reward function ran on that one track
    assert "on 1 track(s)" in capsys.readouterr().out
