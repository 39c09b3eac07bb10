"""The cockpit on the local cloud: a run interrupted twice by spot warnings (three segments) and
evaluated afterwards; `pitwall status --watch` ends at once on the ended run; `pitwall report`
writes one HTML file, which a real headless Chromium opens with no console error and every plot
drawn (its screenshot is kept in build/cockpit/report.png)."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pitwall import aws
from pitwall.runs import Run, Segment
from pitwall_cli import main
from pitwall_local.browser import DRAWN_PLOTS, find_chromium, visit
from pitwall_local.cloud import LocalCloud
from pitwall_local.faults import INTERRUPTION_WARNING, put_instance_event

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_TRACKS = REPO_ROOT.parent / "shared" / "tracks"
# where the report stays after the test (to look at); a temporary folder if unset
KEEP_ENV = "PITWALL_REPORT_DIR"
SCREENSHOT = REPO_ROOT / "build" / "cockpit" / "report.png"  # the browser's view of it, kept


def _segment_with_checkpoint(cloud: LocalCloud, run_id: str, index: int, timeout: float = 60.0) -> Segment:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            segment = cloud.runs.get(run_id).current_segment
        except Exception:  # not prepared yet
            segment = None
        if segment is not None and segment.index == index and segment.last_checkpoint:
            return segment
        time.sleep(0.05)
    raise AssertionError(f"run {run_id}: segment {index} wrote no checkpoint within {timeout} s")


def _racer_queue(cloud: LocalCloud) -> str:
    """An SQS queue on the racer's topic, raw delivery: the message attributes as published."""
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="cockpit-racer")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws.client("sns").subscribe(
        TopicArn=str(cloud.stack.outputs["NotificationTopicArn"]),
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    return str(url)


def _events_about(queue: str, model: str) -> list[str]:
    sqs, events = aws.client("sqs"), []
    while messages := sqs.receive_message(
        QueueUrl=queue, MessageAttributeNames=["All"], MaxNumberOfMessages=10
    ).get("Messages", []):
        for message in messages:
            attributes = message.get("MessageAttributes", {})
            if attributes.get("model", {}).get("StringValue") == model:
                events.append(attributes["event"]["StringValue"])
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    return events


@pytest.fixture(scope="module")
def racer_queue(module_cloud: LocalCloud) -> str:
    return _racer_queue(module_cloud)


@pytest.fixture(scope="module")
def interrupted_run(module_cloud: LocalCloud, racer_queue: str) -> Iterator[Run]:
    """A training interrupted by two spot warnings, then evaluated."""
    from uuid import uuid4

    from pitwall_local.examples import example_files

    cloud = module_cloud
    run_id = f"cockpit-{uuid4().hex[:8]}"
    folder = f"uploads/{run_id}"
    cloud.upload_custom_files(folder, example_files())
    evaluations_before = len(cloud.executions("Evaluate"))
    payload = {
        "run_id": run_id,
        "custom_files_prefix": folder,
        "request": {
            "model_name": run_id,
            "track": "reInvent2019_track",
            "time_budget_minutes": 180,
            "money_budget_usd": 5,
            "evaluate_after": {"checkpoint": "best", "trials": 3},
        },
    }
    arn = cloud.start("Train", payload, name=run_id)
    for index in (0, 1):
        segment = _segment_with_checkpoint(cloud, run_id, index)
        put_instance_event(cloud, INTERRUPTION_WARNING, segment.instance_id or "")
    assert cloud.wait(arn, timeout=180)["status"] == "SUCCEEDED"
    evaluation = cloud.wait_for_execution_of("Evaluate", evaluations_before + 1)[-1]
    assert cloud.wait(evaluation["executionArn"])["status"] == "SUCCEEDED"
    yield cloud.runs.get(run_id)


def test_the_racer_is_told_of_the_start_each_interruption_and_resumption_and_the_results(
    interrupted_run: Run, racer_queue: str
) -> None:
    events = _events_about(racer_queue, interrupted_run.request.model_name)
    assert sorted(events) == sorted(
        [
            "training-started",
            "run-interrupted",
            "run-resumed",
            "run-interrupted",
            "run-resumed",
            "run-finished",
            "evaluation-finished",
            "evaluation-best-lap",  # its first lap on the track is the model's best there so far
        ]
    )


def _location(cloud: LocalCloud) -> list[str]:
    return ["--table", cloud.runs.table_name, "--bucket", cloud.bucket, "--region", cloud.region]


def test_the_watch_of_an_ended_run_shows_it_and_returns_at_once(
    module_cloud: LocalCloud, interrupted_run: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    assert len(interrupted_run.segments) == 3
    started = time.monotonic()
    code = main(["status", interrupted_run.run_id, "--watch", *_location(module_cloud)])
    assert code == 0 and time.monotonic() - started < 30
    text = capsys.readouterr().out
    assert "succeeded" in text
    assert f"pitwall report {interrupted_run.run_id}" in text
    assert "best evaluation lap" in text


def test_the_report_opens_in_headless_chromium_without_errors_and_draws_every_plot(
    module_cloud: LocalCloud,
    interrupted_run: Run,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    pixel_spread: Callable[[bytes], float],
) -> None:
    folder = Path(os.environ.get(KEEP_ENV) or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    report = folder / "report.html"
    tracks = ["--tracks", str(SHARED_TRACKS)] if SHARED_TRACKS.is_dir() else []
    # When the racer writes the report of the interrupted run
    code = main(["report", interrupted_run.run_id, *_location(module_cloud), *tracks, "-o", str(report)])
    assert code == 0, capsys.readouterr().out
    page = report.read_text()
    # Then it is one file: plotly's JavaScript inside, no script loaded from elsewhere
    tags = re.findall(r"<script\b[^>]*>", page)
    assert tags and not [tag for tag in tags if "src=" in tag]
    assert "Plotly.newPlot" in page and len(page) > 3_000_000  # plotly.min.js is some 4 MB
    assert page.count("Plotly.newPlot") >= 3
    for segment in interrupted_run.segments[1:]:
        assert f"then segment {segment.index} on" in page  # each resumption is marked
    assert "spot-interruption" in page
    assert interrupted_run.evaluations and interrupted_run.evaluations[0].track in page
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no Chromium installed (scripts/setup.sh installs Debian's chromium where apt works)")
    # And a real browser opens it: no console error, every plot drawn, a screenshot taken
    seen = visit(report, probe=DRAWN_PLOTS, chromium=chromium)
    assert seen.errors == []
    assert seen.value == page.count("Plotly.newPlot")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.write_bytes(seen.screenshot)
    assert seen.screenshot.startswith(b"\x89PNG")
    assert pixel_spread(seen.screenshot) > 0.05  # not a blank page
    print(f"report: {report}\nscreenshot: {SCREENSHOT}")
