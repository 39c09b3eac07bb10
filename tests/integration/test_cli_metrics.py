"""`pitwall metrics` on the local cloud: a run interrupted by a spot warning continues as a second
segment and is evaluated afterwards; the command joins both segments' metrics into one series."""

from __future__ import annotations

import json
import time
from pathlib import Path

from pitwall import layout
from pitwall.runs import Segment
from pitwall_cli import main
from pitwall_local.cloud import LocalCloud
from pitwall_local.faults import INTERRUPTION_WARNING, put_instance_event


def _checkpointed_segment(cloud: LocalCloud, run_id: str, timeout: float = 30.0) -> Segment:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            segment = cloud.runs.get(run_id).current_segment
        except Exception:  # not prepared yet
            segment = None
        if segment is not None and segment.last_checkpoint:
            return segment
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} wrote no checkpoint within {timeout} s")


def test_metrics_follow_the_lineage_of_an_interrupted_and_evaluated_run(
    cloud: LocalCloud, helpers, capsys, tmp_path: Path
) -> None:
    # Given a run that was interrupted once (two segments) and then evaluated
    evaluations_before = len(cloud.executions("Evaluate"))
    run_id = helpers.new_run_id("metrics")
    payload = helpers.train_input(
        cloud, run_id, time_budget_minutes=60, evaluate_after={"checkpoint": "last", "trials": 3}
    )
    arn = cloud.start("Train", payload, name=run_id)
    put_instance_event(cloud, INTERRUPTION_WARNING, _checkpointed_segment(cloud, run_id).instance_id or "")
    assert cloud.wait(arn, timeout=90)["status"] == "SUCCEEDED"
    evaluation = cloud.wait_for_execution_of("Evaluate", evaluations_before + 1)[-1]
    assert cloud.wait(evaluation["executionArn"])["status"] == "SUCCEEDED"
    run = cloud.runs.get(run_id)
    assert len(run.segments) == 2
    location = ["--table", cloud.runs.table_name, "--bucket", cloud.bucket]

    # When the racer asks for the metrics as JSON
    assert main(["metrics", run_id, *location, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)

    # Then both segments are there, one after the other, with every episode each wrote
    first, second = report["segments"]
    assert (first["segment"], second["segment"]) == (0, 1)
    assert first["episodes"] > 0 and second["episodes"] > 0
    assert second["first_episode"] == first["first_episode"] + first["episodes"]
    written = 0
    for segment in run.segments:
        model = layout.ModelKeys(segment.model_prefix)
        for worker in range(run.request.workers):
            document = cloud.store.get_json(model.training_metrics(worker)) or {"metrics": []}
            written += sum(1 for entry in document["metrics"] if entry["phase"] == "training")
    assert report["episodes"] == written
    rows = report["rows"]
    assert [row["label"] for row in rows] == list(range(1, len(rows) + 1))
    assert rows[0]["first_episode"] == 1 and rows[-1]["last_episode"] == written
    assert any(row["segments"] == [1] for row in rows)
    best = [row["best_so_far"] for row in rows]
    assert best == sorted(best)
    # and the evaluation of the model, read from the prefix it evaluated
    (point,) = report["evaluations"]
    assert point["summary"]["trials"] == 3
    assert point["name"].startswith("evaluation-")

    # When the racer asks for the table and a plot
    plot = tmp_path / "metrics.png"
    assert main(["metrics", run_id, *location, "--plot", str(plot)]) == 0
    text = capsys.readouterr().out
    # Then the table names the segments and the plot is a PNG
    assert f"run {run_id} (train)" in text
    assert f"segment 1: {run.segments[1].model_prefix}, episodes {second['first_episode']}-" in text
    assert "evaluation evaluation-" in text
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_metrics_of_an_unknown_run_or_with_an_empty_group_say_so(cloud: LocalCloud, capsys) -> None:
    location = ["--table", cloud.runs.table_name, "--bucket", cloud.bucket]
    assert main(["metrics", "no-such-run", *location]) == 1
    assert "no run 'no-such-run'" in capsys.readouterr().out
    assert main(["metrics", "no-such-run", *location, "--every", "0"]) == 2
    assert "--every 0: allowed: an integer >= 1" in capsys.readouterr().out
