"""The heartbeat step (`lifecycle.heartbeat.record_heartbeat`): which report a host-status
notification stands for (S3 versions: on moto), and what it changes and tells (in memory)."""

from __future__ import annotations

import json

from pitwall import aws, drfc_files, layout
from pitwall.host.protocol import HostState, HostStatus
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.heartbeat import WarmMemo, record_heartbeat
from pitwall.lifecycle.models import S3Notification
from pitwall.runs import Pool, Run, RunKind, RunRequest, RunState, Segment

RUN_ID = "run-1"


def _booting_replacement(deps: Deps) -> Run:
    """A run whose second segment (instance i-new) boots after i-old's was replaced."""
    now = deps.clock.now()
    pool = Pool(instance_type="g4dn.2xlarge", availability_zone="us-east-1a", subnet_id="subnet-1")
    old = Segment(
        index=0,
        model_prefix=layout.segment_model_prefix("m", 0),
        deadline_epoch=now + 3600,
        instance_id="i-old",
        pool=pool,
        launched_at=now - 1200,
        ended_at=now - 60,
        end_reason="stall",
    )
    new = Segment(
        index=1,
        model_prefix=layout.segment_model_prefix("m", 1),
        deadline_epoch=now + 3600,
        instance_id="i-new",
        pool=pool,
        launched_at=now - 30,
    )
    run = Run(
        run_id=RUN_ID,
        kind=RunKind.TRAIN,
        request=RunRequest(model_name="m", track="t", time_budget_minutes=120),
        state=RunState.BOOTING,
        created_at=now - 1200,
        updated_at=now,
        custom_files_prefix=layout.RunKeys(RUN_ID).custom_files_prefix,
        segments=[old, new],
    )
    assert deps.runs.create(run)
    return run


def _status(deps: Deps, instance_id: str, segment: int, state: HostState, sequence: int) -> HostStatus:
    return HostStatus(
        run_id=RUN_ID,
        segment=segment,
        instance_id=instance_id,
        state=state,
        sequence=sequence,
        at_epoch=deps.clock.now(),
    )


def _put_status(deps: Deps, instance_id: str, segment: int, state: HostState, sequence: int) -> str:
    """Write a host status report to moto's S3; its version id."""
    status = _status(deps, instance_id, segment, state, sequence)
    answer = aws.client("s3").put_object(
        Bucket=deps.store.bucket, Key=layout.RunKeys(RUN_ID).host_status, Body=status.to_json().encode()
    )
    return str(answer["VersionId"])


def _created(deps: Deps, key: str, version_id: str | None = None) -> S3Notification:
    """S3's notification that `key` (at `version_id`) was written to the model bucket."""
    s3_object = {"key": key}
    if version_id:
        s3_object["versionId"] = version_id
    record = {
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": deps.store.bucket}, "object": s3_object},
    }
    return S3Notification.model_validate({"Records": [record]})


def _notification(deps: Deps, version_id: str | None) -> S3Notification:
    return _created(deps, layout.RunKeys(RUN_ID).host_status, version_id)


def test_a_status_notification_is_read_at_its_own_version_not_as_overwritten_since(deps: Deps) -> None:
    # Given the new host's "started", overwritten before its notification is handled by a late
    # report of the old instance
    _booting_replacement(deps)
    started = _put_status(deps, "i-new", 1, HostState.STARTED, sequence=2)
    _put_status(deps, "i-old", 0, HostState.FAILED, sequence=9)
    # When the notification of "started" is handled
    out = record_heartbeat(_notification(deps, started), deps)
    # Then the run records the new host as started
    assert out.recorded == 1
    run = deps.runs.get(RUN_ID)
    assert run.state == RunState.RUNNING
    assert run.segments[1].host_state == "started" and run.segments[1].host_sequence == 2


def test_without_a_version_the_current_object_is_read_and_a_stale_report_changes_nothing(
    deps: Deps,
) -> None:
    # Given the same overwrite, and a notification without a version id (an unversioned bucket)
    _booting_replacement(deps)
    _put_status(deps, "i-new", 1, HostState.STARTED, sequence=2)
    _put_status(deps, "i-old", 0, HostState.FAILED, sequence=9)
    # When it is handled, the object read is the old instance's report: ignored
    out = record_heartbeat(_notification(deps, None), deps)
    assert out.ignored == 1 and out.recorded == 0
    assert deps.runs.get(RUN_ID).state == RunState.BOOTING


def test_a_replacement_that_starts_tells_the_racer_it_resumed_and_after_how_long(fake_deps: Deps) -> None:
    # Given the replacement of a segment that trained and stalled (ended a minute ago)
    deps = fake_deps
    _booting_replacement(deps)
    run = deps.runs.get(RUN_ID)
    run.segments[0].started_at = deps.clock.now() - 1100
    deps.runs.save(run)
    # When the new host reports started
    started = _status(deps, "i-new", 1, HostState.STARTED, sequence=2)
    deps.store.put_text(layout.RunKeys(RUN_ID).host_status, started.to_json())
    record_heartbeat(_notification(deps, None), deps)
    # Then one message says the run resumed, with its event attribute
    [message] = deps.messaging.messages
    assert message.attributes["event"] == "run-resumed"
    assert message.body.startswith("Model m (run run-1) resumed after a stall: 1 min without training.")
    # and a repeat of the report sends nothing more
    record_heartbeat(_notification(deps, None), deps)
    assert len(deps.messaging.messages) == 1


def _training_on(deps: Deps, run_id: str, model_prefix: str) -> Run:
    now = deps.clock.now()
    segment = Segment(
        index=0, model_prefix=model_prefix, deadline_epoch=now + 3600, instance_id=f"i-{run_id}"
    )
    run = Run(
        run_id=run_id,
        kind=RunKind.TRAIN,
        request=RunRequest(model_name="m", track="t"),
        state=RunState.RUNNING,
        created_at=now,
        updated_at=now,
        custom_files_prefix=layout.RunKeys(run_id).custom_files_prefix,
        segments=[segment],
    )
    assert deps.runs.create(run)
    return run


def _checkpoint_written(deps: Deps, model_prefix: str, name: str) -> S3Notification:
    key = layout.ModelKeys(model_prefix).checkpoints_json
    entry = drfc_files.checkpoint_record(name, 50.0, deps.clock.now())
    deps.store.put_text(key, json.dumps(drfc_files.checkpoints_document(entry, entry)))
    return _created(deps, key)


def test_a_model_prefix_written_again_by_a_new_run_of_the_model_beats_for_the_new_run(
    fake_deps: Deps,
) -> None:
    # Given a first training of model m that wrote a checkpoint, then ended (a warm Lambda heard it)
    deps, warm = fake_deps, WarmMemo()
    prefix = layout.segment_model_prefix("m", 0)
    first = _training_on(deps, "first", prefix)
    record_heartbeat(_checkpoint_written(deps, prefix, "1_Step-100.ckpt"), deps, warm)
    first = deps.runs.get("first")
    assert first.segments[0].last_checkpoint == "1_Step-100.ckpt"
    first.move_to(RunState.FINISHING, deps.clock.now())
    first.move_to(RunState.SUCCEEDED, deps.clock.now())
    deps.runs.save(first)
    # When a new run of the same model name trains on the same prefix and writes a checkpoint
    _training_on(deps, "second", prefix)
    record_heartbeat(_checkpoint_written(deps, prefix, "1_Step-90.ckpt"), deps, warm)
    # Then the new run has it, and the ended one keeps its own
    assert deps.runs.get("second").segments[0].last_checkpoint == "1_Step-90.ckpt"
    assert deps.runs.get("first").segments[0].last_checkpoint == "1_Step-100.ckpt"


def _episodes_written(deps: Deps, model_prefix: str, episodes: int) -> S3Notification:
    key = layout.ModelKeys(model_prefix).training_metrics()
    entries = [{"episode": n, "phase": "training", "trial": n} for n in range(1, episodes + 1)]
    deps.store.put_text(key, json.dumps(drfc_files.training_metrics_document(entries, "progress")))
    return _created(deps, key)


def test_a_warm_lambda_records_training_metrics_and_keeps_the_wait_alive_once_a_quarter_window(
    fake_deps: Deps,
) -> None:
    # Given a training run whose work wait holds a token, and a warm heartbeat Lambda
    deps, warm = fake_deps, WarmMemo()
    prefix = layout.segment_model_prefix("m", 0)
    run = _training_on(deps, RUN_ID, prefix)
    run.task_token = "token-of-the-work-wait"
    deps.runs.save(run)
    quarter_window = deps.settings.heartbeat_window_seconds / 4
    # When episodes end every 30 s for (nearly) a whole window
    outputs = []
    for episode in range(1, int(4 * quarter_window / 30)):
        outputs.append(record_heartbeat(_episodes_written(deps, prefix, episode), deps, warm))
        deps.clock.advance(30)  # type: ignore[attr-defined]
    # Then the progress was recorded, and the wait kept alive, once each quarter window
    recorded = [n for n, out in enumerate(outputs, start=1) if out.recorded]
    assert recorded == [1 + k * int(quarter_window / 30) for k in range(4)]
    assert len(deps.tasks.heartbeats) == 4  # type: ignore[attr-defined]
    assert sum(out.ignored for out in outputs) == len(outputs) - 4
    assert deps.runs.get(RUN_ID).segments[0].episodes == recorded[-1]
    # and a Lambda that knows nothing yet (cold) reads the record, and leaves it: not due yet
    cold = record_heartbeat(_episodes_written(deps, prefix, len(outputs) + 1), deps)
    assert (cold.recorded, cold.ignored) == (0, 1)
