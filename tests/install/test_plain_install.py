"""What a racer gets from a plain `pip install` of the project (no extras), in a fresh venv: the
everyday commands work, the local-cloud commands say which extra to install."""

from __future__ import annotations

import os
import subprocess
import venv
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CUSTOM_FILES = REPO_ROOT / "tests" / "data" / "custom_files"


@pytest.fixture(scope="module")
def pitwall(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `pitwall` command of a fresh venv holding `pip install <repo>` and nothing else."""
    env_dir = tmp_path_factory.mktemp("plain") / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    subprocess.run(
        [env_dir / "bin" / "python", "-m", "pip", "install", "--quiet", str(REPO_ROOT)],
        check=True,
        timeout=900,
    )
    return env_dir / "bin" / "pitwall"


def run(pitwall: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    # without PYTHONPATH, so only what the venv installed is found
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    return subprocess.run(
        [str(pitwall), *args], capture_output=True, text=True, timeout=600, cwd=cwd or Path.cwd(), env=env
    )


def test_the_plain_install_has_no_moto(pitwall: Path):
    probe = subprocess.run(
        [pitwall.parent / "python", "-c", "import moto"], capture_output=True, text=True, env={}
    )

    assert probe.returncode != 0
    assert "No module named 'moto'" in probe.stderr


def test_help_lists_every_command(pitwall: Path):
    result = run(pitwall, "--help")

    assert result.returncode == 0, result.stderr
    for command in ("validate", "submit", "runs", "status", "metrics", "tracks", "demo"):
        assert command in result.stdout


def test_validate_passes_a_good_folder(pitwall: Path, tmp_path: Path):
    result = run(pitwall, "validate", str(CUSTOM_FILES / "good" / "discrete_ppo"), cwd=tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr


def test_validate_fails_a_bad_folder_naming_file_and_field(pitwall: Path, tmp_path: Path):
    result = run(pitwall, "validate", str(CUSTOM_FILES / "broken" / "lr_out_of_range"), cwd=tmp_path)

    assert result.returncode == 1
    assert "hyperparameters.json" in result.stdout
    assert "lr" in result.stdout


def test_tracks_list_shows_the_real_tracks(pitwall: Path):
    result = run(pitwall, "tracks", "list")

    assert result.returncode == 0, result.stderr
    assert "reInvent2019_track" in result.stdout


def test_demo_names_the_extra_it_needs(pitwall: Path):
    result = run(pitwall, "demo")

    assert result.returncode == 2
    assert "pip install 'pitwall[local]'" in result.stderr
    assert "Traceback" not in result.stderr
