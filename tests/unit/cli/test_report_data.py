"""What `pitwall report` reads of a long run's simtrace (moto's S3): the best iterations are
ranked by the lineage's metrics before any simtrace is read, and the action counts come from a
bounded sample spread over the whole lineage."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from moto import mock_aws

from pitwall import aws, drfc_files, layout
from pitwall.adapters.store import ObjectStore
from pitwall.runs import Run, RunKind, RunRequest, RunState, Segment
from pitwall_cli import report_data
from pitwall_cli.report_data import gather, spread

T0 = 1_800_000_000.0
ITERATIONS = 6  # per segment, of 10 episodes
STEPS = 10  # per simtrace file
WORKERS = 2  # each writes its own simtrace of an iteration


@pytest.fixture
def store() -> Iterator[ObjectStore]:
    with mock_aws():
        aws.reset_clients()
        aws.client("s3").create_bucket(Bucket="models")
        yield ObjectStore("models")
    aws.reset_clients()


def _put(store: ObjectStore, key: str, body: str) -> None:
    aws.client("s3").put_object(Bucket=store.bucket, Key=key, Body=body.encode())


def _long_run(store: ObjectStore) -> Run:
    """Two segments of six iterations each; the later an iteration, the further its episodes got
    (the best three are the second segment's last three); each worker wrote each iteration's
    simtrace (the metrics: worker 0's file, enough for the ranking)."""
    segments = [
        Segment(index=i, model_prefix=layout.segment_model_prefix("long-one", i), deadline_epoch=T0 + 7200)
        for i in range(2)
    ]
    for segment in segments:
        model = layout.ModelKeys(segment.model_prefix)
        entries = [
            {
                "episode": n,
                "phase": "training",
                "completion_percentage": 5.0 * (segment.index * ITERATIONS + (n - 1) // 10 + 1),
                "reward_score": 1.0,
            }
            for n in range(1, 10 * ITERATIONS + 1)
        ]
        _put(
            store,
            model.training_metrics(0),
            json.dumps(drfc_files.training_metrics_document(entries, "progress")),
        )
        _put(store, model.ip_hyperparameters, json.dumps({"num_episodes_between_training": 10}))
        for iteration in range(ITERATIONS):
            # episode, steps, X, Y, yaw, steer, throttle, action, reward, done, all wheels on track,
            # progress, closest waypoint, track length, time, status, pause, crashes, wall clock
            rows = [
                [1, step, 0.1 * step, 0.2, 0, 0, 1.5, iteration % 3, 1, False, True, 10 * step, 3, 17.7]
                for step in range(STEPS)
            ]
            rows = [[*row, 0.1 * step, "in_progress", 0, 0, T0 + step] for step, row in enumerate(rows)]
            for worker in range(WORKERS):
                key = drfc_files.training_simtrace_key(segment.model_prefix, iteration, worker, WORKERS)
                _put(store, key, drfc_files.simtrace_csv(rows))
    return Run(
        run_id="run-long",
        kind=RunKind.TRAIN,
        request=RunRequest(model_name="long-one", track="oval"),
        state=RunState.SUCCEEDED,
        created_at=T0,
        updated_at=T0,
        custom_files_prefix="runs/run-long/custom_files/",
        segments=segments,
    )


def test_a_spread_order_covers_the_range_evenly_from_its_first_items() -> None:
    assert spread(1) == [0]
    assert spread(5) == [0, 4, 2, 1, 3]
    assert sorted(spread(12)) == list(range(12))
    assert spread(12)[:3] == [0, 8, 4]


def test_past_the_cap_the_best_iterations_still_come_from_the_whole_run_and_the_sample_spans_it(
    store: ObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a long run whose simtrace is more than a report reads (here: 4 files of 24)
    run = _long_run(store)
    monkeypatch.setattr(report_data, "MAX_SIMTRACE_ROWS", 4 * STEPS)
    # When the report gathers it
    data = gather(run, store, {}, T0)
    # Then the track map gets the three best iterations by the metrics (the last ones), one
    # worker's path each
    assert [(t.segment, t.iteration) for t in data.traces] == [(1, 5), (1, 4), (1, 3)]
    # and the action counts a sample of the cap's size from both segments, first to last
    assert sum(len(t.steps) for t in data.sample) == 4 * STEPS
    assert {t.segment for t in data.sample} == {0, 1}
    assert (data.sample[0].segment, data.sample[0].iteration) == (0, 0)
    assert any("action counts from 4 of 24 simtrace files" in p for p in data.problems), data.problems


def test_under_the_cap_every_simtrace_file_counts(store: ObjectStore) -> None:
    data = gather(_long_run(store), store, {}, T0)
    assert len(data.sample) == 2 * ITERATIONS * WORKERS and len(data.traces) == 3
    assert not any("action counts from" in p for p in data.problems)
