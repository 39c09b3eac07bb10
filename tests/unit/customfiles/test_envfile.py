"""DRFC env files: a read-write round trip changes nothing; keys are read and set in place."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pitwall.customfiles.envfile import EnvFile, expand, resolve_all

TRICKY = (
    "# DRFC run settings\n"
    "\n"
    "DR_WORLD_NAME=reInvent2019_track      # Track to use (without npy extension)\n"
    "#DR_TRAIN_RTF=1.0\n"
    "  # DR_DISPLAY=:99\n"
    "DR_DISPLAY_NAME=$DR_CAR_NAME\n"
    "DR_REWARD=${DR_PREFIX}/reward_function.py\n"
    'DR_QUOTED="a#b"   # quoted\n'
    "export DR_EXPORTED=1\n"
    "DR_EMPTY=\n"
    "DR_SOMETHING_NEW=kept\n"
    "DR_TWICE=first\n"
    "DR_TWICE=second\r\n"
    "not an assignment\n"
    "DR_LAST=no-newline"
)


def test_seed_run_env_and_system_env_round_trip_byte_for_byte(seed_env_files):
    for name, text in seed_env_files.items():
        assert EnvFile.parse(text).render() == text, name


def test_seed_values_are_read_without_inline_comments_and_with_references_verbatim(seed_env_files):
    run = EnvFile.parse(seed_env_files["run.env"])

    assert run["DR_WORLD_NAME"] == "reInvent2019_track"
    assert run["DR_DISPLAY_NAME"] == "$DR_CAR_NAME"
    assert run["DR_OA_OBJECT_POSITIONS"] == ""
    assert "DR_TRAIN_RTF" not in run  # commented out


def test_tricky_file_round_trips_and_reads_as_a_shell_would():
    env = EnvFile.parse(TRICKY)

    assert env.render() == TRICKY
    assert env.get("DR_QUOTED") == "a#b"
    assert env.get("DR_EXPORTED") == "1"
    assert env.get("DR_EMPTY") == ""
    assert env.get("DR_TWICE") == "second"  # the last one wins
    assert env.get("DR_LAST") == "no-newline"
    assert env.get("DR_MISSING") is None
    assert env.keys()[:2] == ["DR_WORLD_NAME", "DR_DISPLAY_NAME"]


def test_set_on_an_existing_key_keeps_its_line_place_and_inline_comment():
    env = EnvFile.parse(TRICKY)

    env.set("DR_WORLD_NAME", "2022_april_open_ccw")

    lines = env.render().splitlines()
    assert lines[2] == "DR_WORLD_NAME=2022_april_open_ccw      # Track to use (without npy extension)"
    assert env.render().replace("2022_april_open_ccw", "reInvent2019_track") == TRICKY


def test_set_on_a_new_key_appends_a_line_even_after_a_last_line_without_newline():
    env = EnvFile.parse(TRICKY)

    env.set("DR_WORKERS", "3")

    assert env.render() == TRICKY + "\nDR_WORKERS=3\n"
    assert EnvFile.parse(env.render())["DR_WORKERS"] == "3"


def test_set_on_a_duplicated_key_rewrites_the_last_one_and_keeps_crlf():
    env = EnvFile.parse(TRICKY)

    env.set("DR_TWICE", "third")

    assert "DR_TWICE=first\nDR_TWICE=third\r\n" in env.render()


def test_delete_removes_every_line_of_the_key():
    env = EnvFile.parse(TRICKY)

    assert env.delete("DR_TWICE") is True
    assert env.delete("DR_TWICE") is False
    assert "DR_TWICE" not in env.render()


@pytest.mark.parametrize("value", ["two words", "tab\there", "new\nline"])
def test_set_refuses_values_drfc_would_split(value: str):
    env = EnvFile()

    with pytest.raises(ValueError, match="DR_CAR_NAME"):
        env.set("DR_CAR_NAME", value)
    assert env.render() == ""


def test_read_and_write_files_byte_for_byte(tmp_path: Path):
    path = tmp_path / "run.env"
    path.write_bytes(TRICKY.encode())

    EnvFile.read(path).write(tmp_path / "copy.env")

    assert (tmp_path / "copy.env").read_bytes() == TRICKY.encode()


def test_references_expand_in_chains_and_unknown_names_are_reported():
    values = {
        "DR_LOCAL_S3_CUSTOM_FILES_PREFIX": "custom_files",
        "DR_LOCAL_S3_REWARD_KEY": "${DR_LOCAL_S3_CUSTOM_FILES_PREFIX}/reward_function.py",
        "DR_COPY": "$DR_LOCAL_S3_REWARD_KEY",
        "DR_AWS_APP_REGION": "$DEEPRACER_REGION",
        "DR_SELF": "$DR_SELF",
    }

    resolved, unresolved = resolve_all(values)

    assert resolved["DR_COPY"] == "custom_files/reward_function.py"
    assert unresolved == {"DR_AWS_APP_REGION": ["DEEPRACER_REGION"], "DR_SELF": ["DR_SELF"]}
    assert expand("$A-$B", {"A": "1"}.get) == ("1-$B", ["B"])


def test_envfile_needs_only_the_standard_library():
    # The host agent imports it on an instance without pydantic.
    code = (
        "import sys; sys.modules['pydantic'] = None; sys.modules['numpy'] = None\n"
        "import pitwall.customfiles.envfile as envfile\n"
        "print(envfile.EnvFile.parse('A=1\\n')['A'])"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "1"
