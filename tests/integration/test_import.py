"""Import into DeepRacer on AWS (DRoA) on the local cloud: the real Import machine and Lambdas
against the DRoA double (moto's Cognito and S3, a loopback API, DRoA's import rules)."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from pitwall import layout
from pitwall.runs import ImportState, Run
from pitwall_local import droa as droa_double
from pitwall_local.cloud import LocalCloud

_TRAINED: list[str] = []  # this module's cloud trains one run; each test imports it anew


@pytest.fixture
def trained(cloud: LocalCloud, helpers) -> str:
    if not _TRAINED:
        run_id = helpers.new_run_id("imported")
        execution = cloud.wait(cloud.start("Train", helpers.train_input(cloud, run_id), name=run_id))
        assert execution["status"] == "SUCCEEDED", execution.get("cause")
        _TRAINED.append(run_id)
    return _TRAINED[0]


@pytest.fixture
def droa(cloud: LocalCloud) -> Iterator[droa_double.DroaDouble]:
    yield cloud.droa
    cloud.droa.faults.waf_block = False
    cloud.droa.faults.server_errors = 0
    cloud.droa.set_password(droa_double.PASSWORD)


def run_import(cloud: LocalCloud, name: str, **request: Any) -> tuple[dict[str, Any], Run]:
    execution = cloud.wait(cloud.start("Import", request, name=name), timeout=120)
    return execution, cloud.runs.get(request["run_id"])


def the_import(run: Run, import_id: str):
    return next(i for i in run.imports if i.import_id == import_id)


def test_a_trained_model_is_imported_ready_with_its_export_and_car_file(cloud, droa, trained):
    # When the Import machine runs for the trained run (best checkpoint by default)
    execution, run = run_import(cloud, "import-happy", run_id=trained, description="Pitwall happy path")
    # Then DRoA has the model READY and the run records it
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    record = the_import(run, "import-happy")
    assert record.status == ImportState.READY
    assert droa.models[record.droa_model_id or ""].status == "READY"
    assert record.checkpoint_name == run.outcome.best_checkpoint  # type: ignore[union-attr]
    # the export kept in Pitwall's bucket is what DRoA read: one checkpoint, typed YAML
    export = {k.removeprefix(record.export_prefix) for k in cloud.store.list_keys(record.export_prefix)}
    number = layout.checkpoint_number(record.checkpoint_name or "")
    assert f"model/model_{number}.pb" in export and "ip/hyperparameters.json" in export
    assert len([k for k in export if k.endswith(".ckpt.index")]) == 1
    params = yaml.safe_load(cloud.store.get_bytes(record.export_prefix + "training_params.yaml") or b"")
    assert params["WORLD_NAME"] == "reInvent2019_track" and params["TRACK_DIRECTION_CLOCKWISE"] is False
    # and the car file is beside it
    car_file = io.BytesIO(cloud.store.get_bytes(record.car_file_key) or b"")
    with tarfile.open(fileobj=car_file, mode="r:gz") as car:
        assert sorted(car.getnames()) == ["agent/model.pb", "model_metadata.json"]
    # the password is nowhere in the run record or the execution's history
    history = json.dumps(cloud.history(execution["executionArn"]), default=str)
    assert droa_double.PASSWORD not in history and droa_double.PASSWORD not in run.model_dump_json()
