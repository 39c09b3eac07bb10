"""`pitwall demo` on the racer's own custom-files folder, with several workers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pitwall import layout
from pitwall_cli import main
from pitwall_local.examples import example_files


def write_folder(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir()
    for name, body in files.items():
        (folder / name).write_bytes(body)
    return folder


def test_the_demo_trains_a_racers_folder_with_three_workers(tmp_path: Path, capsys) -> None:
    folder = write_folder(tmp_path / "my-model", example_files())

    code = main(["demo", "--custom-files", str(folder), "--workers", "3"])

    out = capsys.readouterr().out
    assert code == 0, out
    assert f"train the custom files in {folder}" in out
    assert "custom files valid" in out
    assert "3 worker(s)" in out
    assert "instances still running: 0" in out


def test_the_demo_shows_why_the_cloud_refused_a_racers_folder(tmp_path: Path, capsys) -> None:
    files = example_files()
    metadata = json.loads(files[layout.MODEL_METADATA_FILE])
    metadata["action_space"][0]["speed"] = 9.0  # the console allows up to 4 m/s
    folder = write_folder(
        tmp_path / "fast", {**files, layout.MODEL_METADATA_FILE: json.dumps(metadata).encode()}
    )

    code = main(["demo", str(folder)])

    out = capsys.readouterr().out
    assert code == 1
    assert "refused" in out
    assert "model_metadata.json" in out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["no-such-folder"], "no-such-folder: not a folder"),
        (["a", "--custom-files", "b"], "two folders given"),
        (["--workers", "9"], "run request: workers:"),
    ],
)
def test_the_demo_refuses_bad_options_before_deploying(arguments: list[str], message: str, capsys) -> None:
    code = main(["demo", *arguments])

    captured = capsys.readouterr()
    assert code == 2
    assert message in captured.err
    assert "Pitwall demo:" not in captured.out
