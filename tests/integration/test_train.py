"""The Train machine (statemachines/train.asl.json) on the local cloud: the happy path, invalid
custom files, capacity errors, a host that fails on every instance.
Recovery: test_recovery_on_local_cloud.py."""

from __future__ import annotations

import json
import time

from pitwall import episode_cost, layout
from pitwall.host.protocol import RunSpec
from pitwall.runs import RunState
from pitwall_local.cloud import LocalCloud
from pitwall_local.examples import example_files
from pitwall_local.simulated_drfc import SimulatedFaults


def test_train_happy_path_trains_collects_terminates_and_records(cloud: LocalCloud, helpers) -> None:
    # Given valid custom files and no worker count: chosen with the size
    run_id = helpers.new_run_id("happy")
    # When the Train machine runs
    train_input = helpers.train_input(cloud, run_id, workers=None)
    execution = cloud.wait(cloud.start("Train", train_input, name=run_id))
    # Then it succeeds with checkpoints, episodes and the instance gone
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    run = cloud.runs.get(run_id)
    assert run.state == RunState.SUCCEEDED
    assert run.outcome is not None
    assert run.outcome.last_checkpoint is not None
    assert run.outcome.episodes > 0
    assert 0 < run.outcome.mean_completion_percent <= 100
    segment = run.segments[0]
    assert segment.model_prefix == layout.segment_model_prefix(run_id, 0)
    assert segment.end_reason == "completed"
    assert cloud.instance_states()[segment.instance_id] == "terminated"
    # the spec the host read names this segment and its DRFC settings
    spec = RunSpec.from_json(cloud.store.get_bytes(run.keys.run_spec) or b"")
    assert spec.model_prefix == segment.model_prefix
    assert spec.run_settings["DR_WORLD_NAME"] == "reInvent2019_track"
    # the size chosen brings its workers (DRFC: 2-4 vCPUs each; 3 by default)
    assert segment.pool is not None
    chosen = episode_cost.workers_for(
        segment.pool.instance_type, episode_cost.Workload(), episode_cost.CostModel()
    )
    assert chosen is not None and chosen >= 2
    assert segment.workers == chosen and spec.system_settings["DR_WORKERS"] == str(chosen)
    assert cloud.store.get_bytes(layout.ModelKeys(segment.model_prefix).checkpoints_json) is not None


def test_invalid_custom_files_fail_the_execution_with_the_problems_and_launch_nothing(
    cloud: LocalCloud, helpers
) -> None:
    # Given a model_metadata.json whose speed is out of range
    files = example_files()
    metadata = json.loads(files[layout.MODEL_METADATA_FILE])
    metadata["action_space"][0]["speed"] = 9.0
    files[layout.MODEL_METADATA_FILE] = json.dumps(metadata).encode()
    run_id = helpers.new_run_id("invalid")
    attempts_before = len(cloud.launch_faults.attempts)
    # When the Train machine runs
    execution = cloud.wait(cloud.start("Train", helpers.train_input(cloud, run_id, files), name=run_id))
    # Then it fails naming the problem, and not a single launch was attempted
    assert execution["status"] == "FAILED"
    assert execution["error"] == "InvalidCustomFiles"
    assert "speed" in execution["cause"]
    assert "model_metadata.json" in execution["cause"]
    assert len(cloud.launch_faults.attempts) == attempts_before
    assert helpers.instances_of_run(cloud, run_id) == []


def test_capacity_errors_in_two_pools_then_the_third_pool_launches(cloud: LocalCloud, helpers) -> None:
    # Given the first two pools have no capacity
    cloud.launch_faults.fail_next = 2
    run_id = helpers.new_run_id("capacity")
    attempts_before = len(cloud.launch_faults.attempts)
    # When the Train machine runs
    execution = cloud.wait(cloud.start("Train", helpers.train_input(cloud, run_id), name=run_id))
    # Then the third pool launched and the run succeeded
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    attempts = cloud.launch_faults.attempts[attempts_before:]
    assert [launched for _, _, launched in attempts] == [False, False, True]
    assert len({(type_, zone) for type_, zone, _ in attempts}) == 3  # three different pools
    segment = cloud.runs.get(run_id).segments[0]
    assert len(segment.pools_tried) == 3
    assert segment.pool is not None and segment.pools_tried[-1] == segment.pool.label


def test_capacity_errors_in_every_pool_are_retried_then_fail_the_run_with_the_pools_tried(
    cloud: LocalCloud, helpers
) -> None:
    # Given no pool has capacity, ever
    cloud.launch_faults.fail_next = 1000
    run_id = helpers.new_run_id("nocapacity")
    attempts_before = len(cloud.launch_faults.attempts)
    # When the Train machine runs
    execution = cloud.wait(cloud.start("Train", helpers.train_input(cloud, run_id), name=run_id))
    # Then it tried every pool again after a wait, and gave up after the run's whole budget
    assert execution["status"] == "FAILED"
    run = cloud.runs.get(run_id)
    assert run.state == RunState.FAILED
    assert run.failure is not None and run.failure.startswith("capacity-wait-too-long")
    assert "on-demand fallback not allowed" in run.failure
    assert len(cloud.launch_faults.attempts) - attempts_before >= 2 * 6  # two rounds of six pools
    assert helpers.instances_of_run(cloud, run_id) == []


def test_a_host_that_fails_on_two_instances_without_a_checkpoint_stops_the_run_with_the_reason(
    cloud: LocalCloud, helpers
) -> None:
    # Given hosts whose simulator container dies 2 simulated seconds into training, before the
    # trainer's initial checkpoint is uploaded, every time
    run_id = helpers.new_run_id("crash")
    cloud.runner.host_faults = lambda rid, segment: (
        SimulatedFaults(crash_after_seconds=2) if rid == run_id else None
    )
    # When the Train machine runs (with time for a replacement even on a loaded machine)
    payload = helpers.train_input(cloud, run_id, time_budget_minutes=90)
    execution = cloud.wait(cloud.start("Train", payload, name=run_id))
    # Then the first failure was replaced, the second stopped the run, and no instance is left
    assert execution["status"] == "FAILED"
    assert execution["error"] == "TrainingFailed"
    run = cloud.runs.get(run_id)
    assert run.state == RunState.FAILED
    # (on a loaded machine the first host may get to a checkpoint before its crash is seen: then
    # it takes one more instance to fail twice in a row without one)
    assert len(run.segments) >= 2
    previous, last = run.segments[-2:]
    assert previous.end_reason is not None and previous.end_reason.startswith("host-failed")
    assert not (previous.last_checkpoint or last.last_checkpoint)
    assert run.failure is not None and run.failure.startswith("repeated-host-failure")
    assert "exited" in run.failure
    assert all(segment.host_state == "failed" for segment in run.segments)
    states = cloud.instance_states()
    assert all(states[segment.instance_id or ""] == "terminated" for segment in run.segments)


def test_pitwall_runs_and_status_show_the_runs_of_the_table(cloud: LocalCloud, helpers, capsys) -> None:
    from pitwall_cli import main

    run_id = helpers.new_run_id("cli")
    execution = cloud.wait(cloud.start("Train", helpers.train_input(cloud, run_id), name=run_id))
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    table = cloud.runs.table_name
    assert main(["runs", "--table", table]) == 0
    listing = capsys.readouterr().out
    assert run_id in listing and "succeeded" in listing
    assert main(["status", run_id, "--table", table]) == 0
    status = capsys.readouterr().out
    assert f"run {run_id} (train)" in status
    assert "segment 0: models/" in status
    assert "outcome: last " in status
    assert main(["status", "no-such-run", "--table", table]) == 1


def _segment(cloud: LocalCloud, run_id: str):
    from pitwall.errors import RunNotFound

    try:
        return cloud.runs.get(run_id).current_segment
    except RunNotFound:
        return None


def test_a_second_execution_for_the_same_run_fails_and_leaves_the_first_alone(
    cloud: LocalCloud, helpers
) -> None:
    # Given a run under way (e.g. an inbox event delivered twice)
    run_id = helpers.new_run_id("twice")
    payload = helpers.train_input(cloud, run_id)
    first = cloud.start("Train", payload, name=run_id)
    deadline = time.monotonic() + 20
    while _segment(cloud, run_id) is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    # When a second execution starts for the same run id
    second = cloud.wait(cloud.start("Train", payload, name=f"{run_id}-again"))
    # Then it fails as a duplicate and touches nothing; the first one trains to the end
    assert second["status"] == "FAILED"
    assert second["error"] == "RunAlreadyStarted"
    assert cloud.wait(first)["status"] == "SUCCEEDED"
    run = cloud.runs.get(run_id)
    assert run.state == RunState.SUCCEEDED
    assert len(run.segments) == 1 and run.segments[0].end_reason == "completed"
    assert len(helpers.instances_of_run(cloud, run_id)) == 1
