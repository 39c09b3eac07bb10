"""PrepareImport records the import on the run before anything can fail: on a stack without
DRoA's settings the import then ends FAILED on the run, with the reason, and the racer is told.
An export (DRoA's package, the car file) is only of a training that has ended well."""

from __future__ import annotations

import pytest

from pitwall.errors import DroaNotConfigured, NothingToContinueFrom
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.droa_import import build_export, finish_import, prepare_import
from pitwall.lifecycle.models import ErrorInfo, FinishImportInput, ImportInput, PrepareImportInput
from pitwall.runs import ImportState, Run, RunKind, RunRequest, RunState, Segment
from pitwall.settings import DroaSettings

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:pitwall-Import:imp-1"
# what the Import Lambdas' environment holds on a stack deployed with the parameters' defaults
UNCONFIGURED = {
    "PITWALL_DROA_SITE_URL": "",
    "PITWALL_DROA_USER_NAME": "",
    "PITWALL_DROA_PASSWORD_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:droa",
    "PITWALL_IMPORT_POLL_SECONDS": "30",
    "PITWALL_IMPORT_TIMEOUT_MINUTES": "30",
}


def test_an_unconfigured_stack_names_the_parameters_to_set() -> None:
    with pytest.raises(DroaNotConfigured) as raised:
        DroaSettings.from_environ(UNCONFIGURED)
    message = str(raised.value)
    assert "DroaSiteUrl" in message and "DroaUserName" in message and "DroaPasswordSecret" in message
    assert "PITWALL_DROA_SITE_URL" in message and "PITWALL_DROA_USER_NAME" in message


def test_an_import_on_an_unconfigured_stack_is_recorded_failed_and_told(fake_deps: Deps) -> None:
    fake_deps.runs.create(
        Run(
            run_id="r1",
            kind=RunKind.TRAIN,
            request=RunRequest(model_name="m", track="reInvent2019_track"),
            state=RunState.SUCCEEDED,
            created_at=0,
            updated_at=0,
            custom_files_prefix="runs/r1/custom_files",
        )
    )
    task = PrepareImportInput(request=ImportInput(run_id="r1"), import_id="imp-1", execution_id=EXECUTION)
    with pytest.raises(DroaNotConfigured) as raised:
        prepare_import(task, fake_deps, lambda: DroaSettings.from_environ(UNCONFIGURED))
    # the import was recorded first, so the machine's RecordFailure finds it and tells the racer
    error = ErrorInfo(Error="DroaNotConfigured", Cause=str(raised.value))
    finished = finish_import(
        FinishImportInput(run_id="r1", import_id="imp-1", execution_id=EXECUTION, error=error), fake_deps
    )
    (record,) = fake_deps.runs.get("r1").imports
    assert record.status == ImportState.FAILED and finished.status == ImportState.FAILED
    assert (record.failure or "").startswith("DroaNotConfigured: DRoA is not configured on this stack")
    (message,) = fake_deps.messaging.messages  # type: ignore[attr-defined]
    assert "DroaSiteUrl" in message.body and "DroaNotConfigured" in message.subject


@pytest.mark.parametrize("state", [RunState.RUNNING, RunState.FINISHING, RunState.FAILED])
def test_no_export_or_car_file_of_a_training_that_has_not_ended_well(fake_deps: Deps, state) -> None:
    # Given a training with a checkpoint that is still under way (or failed)
    run = Run(
        run_id="r2",
        kind=RunKind.TRAIN,
        request=RunRequest(model_name="m", track="reInvent2019_track"),
        state=state,
        created_at=0,
        updated_at=0,
        custom_files_prefix="runs/r2/custom_files",
        segments=[
            Segment(index=0, model_prefix="runs/r2/m0", deadline_epoch=0, last_checkpoint="3_Step-1.ckpt")
        ],
    )
    # Then `pitwall import --to-folder` and `pitwall car` (both build the export) refuse it
    with pytest.raises(
        NothingToContinueFrom, match=f"in state {state}: an import or a car file needs"
    ) as raised:
        build_export(run, fake_deps.store, "best")
    assert ("it has not ended" in str(raised.value)) == (state != RunState.FAILED)
