"""deepracer-utils (the analysis library racers use) as the referee of the simulated host: a
model prefix trained on the local cloud with 1, 3 and 8 workers, copied out of S3 into a folder
laid out as DRFC's, loads through `DeepRacerLog` and `TrainingMetrics` with the iteration,
episode and checkpoint counts of the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pitwall import drfc_files, layout
from pitwall.runs import RunState
from pitwall_local.cloud import LocalCloud
from pitwall_local.examples import example_files

deepracer_logs = pytest.importorskip("deepracer.logs")

EPISODES_PER_ITERATION = 20
ITERATIONS = 3


def copy_prefix(cloud: LocalCloud, prefix: str, folder: Path) -> Path:
    """Every object under the model prefix, as files under `folder` (what `aws s3 sync` gives)."""
    for key in cloud.store.list_keys(f"{prefix}/"):
        path = folder / key[len(prefix) + 1 :]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(cloud.store.get_bytes(key) or b"")
    return folder


@pytest.mark.parametrize("workers", [1, 3, 8])
def test_deepracer_utils_reads_a_local_cloud_model_as_a_drfc_one(
    cloud: LocalCloud, helpers, tmp_path: Path, workers: int
) -> None:
    # Given a run that trains 3 iterations of 20 episodes on `workers` workers
    files = example_files()
    hyper = json.loads(files[layout.HYPERPARAMETERS_FILE])
    hyper.update(
        num_episodes_between_training=EPISODES_PER_ITERATION,
        term_cond_max_episodes=EPISODES_PER_ITERATION * ITERATIONS,
    )
    files[layout.HYPERPARAMETERS_FILE] = json.dumps(hyper).encode()
    run_id = helpers.new_run_id(f"utils{workers}")
    payload = helpers.train_input(cloud, run_id, files, workers=workers, time_budget_minutes=120)
    execution = cloud.wait(cloud.start("Train", payload, name=run_id), timeout=120)
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    run = cloud.runs.get(run_id)
    assert run.state == RunState.SUCCEEDED and run.outcome is not None
    (segment,) = run.segments
    folder = copy_prefix(cloud, segment.model_prefix, tmp_path / "model")

    # When deepracer-utils loads the folder's simtrace
    log = deepracer_logs.DeepRacerLog(model_folder=str(folder))
    log.load()
    trace = log.dataframe()

    # Then it finds the run's workers, iterations and episodes
    assert trace["worker"].nunique() == workers
    assert trace["iteration"].nunique() == ITERATIONS
    assert trace["unique_episode"].nunique() == run.outcome.episodes == EPISODES_PER_ITERATION * ITERATIONS
    assert sorted(trace["unique_episode"].unique()) == list(range(run.outcome.episodes))

    # and its TrainingMetrics reading counts the same iterations and episodes for each worker
    metrics = deepracer_logs.TrainingMetrics(
        "unused-bucket", fname=str(folder / "metrics/TrainingMetrics.json")
    )
    for worker in range(1, workers):
        metrics.addRound(
            "m", fname=str(folder / f"metrics/TrainingMetrics_{worker}.json"), training_round=1, worker=worker
        )
    frame = metrics.metrics
    first = frame[frame["worker"] == 0]
    assert first["iteration"].max() + 1 == ITERATIONS
    training = frame[frame["phase"] == "training"]
    assert len(training) == run.outcome.episodes
    for worker in range(workers):
        played = training[training["worker"] == worker]["episode"]
        share = drfc_files.episodes_per_iteration(EPISODES_PER_ITERATION, workers, worker)
        assert sorted(played) == list(range(1, share * ITERATIONS + 1))

    # and the checkpoints agree: the initial one and one per iteration, 4 kept, the last evaluated named
    newest = (folder / "model/.coach_checkpoint").read_text()
    assert layout.checkpoint_number(newest) == ITERATIONS
    kept = {path.name.split(".ckpt")[0] for path in (folder / "model").glob("*.ckpt.index")}
    assert len(kept) == drfc_files.KEPT_CHECKPOINTS == len(list((folder / "model").glob("model_*.pb")))
    checkpoints = json.loads((folder / "model/deepracer_checkpoints.json").read_text())
    assert layout.checkpoint_number(checkpoints["last_checkpoint"]["name"]) == ITERATIONS - 2
    assert run.outcome.last_checkpoint == checkpoints["last_checkpoint"]["name"]
