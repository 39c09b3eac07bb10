"""`pitwall submit`: checked on the laptop first, then uploaded to the inbox, request last."""

from __future__ import annotations

import json
from pathlib import Path

from pitwall import aws, layout
from pitwall_cli import main
from pitwall_local.cloud import LocalCloud
from pitwall_local.examples import example_files


def write_folder(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir()
    for name, body in files.items():
        (folder / name).write_bytes(body)
    return folder


def inbox_keys(cloud: LocalCloud, model: str) -> list[str]:
    listed = aws.client("s3").list_objects_v2(Bucket=cloud.bucket, Prefix=f"{layout.INBOX_PREFIX}{model}/")
    return sorted(item["Key"] for item in listed.get("Contents", []))


def test_submit_uploads_a_valid_folder_and_its_request_starts_training(
    cloud: LocalCloud, helpers, tmp_path: Path
) -> None:
    folder = write_folder(tmp_path / "model", example_files())
    model = helpers.new_run_id("submitted")
    trains_before = len(cloud.executions("Train"))

    arguments = ["--model", model, "--track", helpers.TRACK, "--minutes", "30", "--bucket", cloud.bucket]
    code = main(["submit", str(folder), *arguments])

    assert code == 0
    report = cloud.store.get_json(f"{layout.INBOX_PREFIX}{model}/{layout.VALIDATION_REPORT_FILE}")
    assert report["ok"] is True
    execution = cloud.wait_for_execution_of("Train", trains_before + 1)[-1]
    started_with = helpers.execution_input(cloud, execution["executionArn"])
    assert started_with["request"]["model_name"] == model
    assert started_with["request"]["time_budget_minutes"] == 30
    cloud.wait(execution["executionArn"])


def test_submit_of_a_broken_folder_uploads_nothing(
    cloud: LocalCloud, helpers, tmp_path: Path, capsys
) -> None:
    files = example_files()
    metadata = json.loads(files[layout.MODEL_METADATA_FILE])
    metadata["action_space"][0]["speed"] = 9.0
    folder = write_folder(
        tmp_path / "model", {**files, layout.MODEL_METADATA_FILE: json.dumps(metadata).encode()}
    )
    model = helpers.new_run_id("broken")

    code = main(["submit", str(folder), "--model", model, "--track", helpers.TRACK, "--bucket", cloud.bucket])

    assert code == 1
    assert "model_metadata.json" in capsys.readouterr().out
    assert inbox_keys(cloud, model) == []


def test_submit_refuses_a_model_name_the_console_would_refuse(
    cloud: LocalCloud, tmp_path: Path, capsys
) -> None:
    folder = write_folder(tmp_path / "model", example_files())

    code = main(["submit", str(folder), "--model", "no spaces", "--track", "x", "--bucket", cloud.bucket])

    assert code == 2
    assert "model_name" in capsys.readouterr().err
    assert inbox_keys(cloud, "no spaces") == []
