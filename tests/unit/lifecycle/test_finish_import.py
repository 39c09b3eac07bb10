"""FinishImport records and notifies an import only for the Import execution that owns it (the
one whose first step recorded it), as NotifyRun ends a run only for its own execution."""

from __future__ import annotations

import pytest

from pitwall.errors import InvalidEvent
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.droa_import import finish_import
from pitwall.lifecycle.models import ErrorInfo, FinishImportInput
from pitwall.runs import ImportState, ModelImport, Run, RunKind, RunRequest, RunState

MACHINE = "arn:aws:states:us-east-1:123456789012:execution:pitwall-Import"


def _run_with_import(deps: Deps) -> Run:
    run = Run(
        run_id="r1",
        kind=RunKind.TRAIN,
        request=RunRequest(model_name="m", track="reInvent2019_track"),
        state=RunState.SUCCEEDED,
        created_at=0,
        updated_at=0,
        custom_files_prefix="runs/r1/custom_files",
        imports=[
            ModelImport(
                import_id="imp-1",
                execution_id=f"{MACHINE}:imp-1",
                checkpoint="best",
                droa_model_name="m",
                status=ImportState.PACKAGING,
                started_at=0,
                updated_at=0,
            )
        ],
    )
    assert deps.runs.create(run)
    return run


def _finish(deps: Deps, import_id: str, execution: str, error: str | None = None):
    return finish_import(
        FinishImportInput(
            run_id="r1",
            import_id=import_id,
            execution_id=f"{MACHINE}:{execution}",
            error=ErrorInfo(Error=error, Cause="why") if error else None,
        ),
        deps,
    )


@pytest.mark.parametrize(("import_id", "execution"), [("imp-1", "someone-else"), ("forged", "forged")])
def test_an_import_is_finished_only_by_its_own_execution(fake_deps: Deps, import_id, execution) -> None:
    before = _run_with_import(fake_deps)
    with pytest.raises(InvalidEvent, match="nothing recorded or notified"):
        _finish(fake_deps, import_id, execution, "DroaBlocked")
    assert fake_deps.runs.get("r1").imports == before.imports
    assert fake_deps.messaging.messages == []  # type: ignore[attr-defined]
    assert fake_deps.messaging.events == []  # type: ignore[attr-defined]


def test_a_failure_before_packaging_is_recorded_with_its_reason_and_told(fake_deps: Deps) -> None:
    _run_with_import(fake_deps)
    finished = _finish(fake_deps, "imp-1", "imp-1", "CheckpointMissing")
    record = fake_deps.runs.get("r1").imports[0]
    assert record.status == ImportState.FAILED and record.failure == "CheckpointMissing: why"
    assert finished.status == ImportState.FAILED and finished.car_file_url is None
    (message,) = fake_deps.messaging.messages  # type: ignore[attr-defined]
    assert "nothing was packaged" in message.body and "import failed: CheckpointMissing" in message.subject


def test_the_notification_names_the_command_for_the_imported_checkpoints_car_file(fake_deps: Deps) -> None:
    # Given an import of checkpoint 7 (not necessarily the run's best), packaged with its car file
    run = _run_with_import(fake_deps)
    car_file_key = "runs/r1/droa/imp-1/carfile.tar.gz"
    run.imports[0] = run.imports[0].model_copy(
        update={"checkpoint": "7", "checkpoint_name": "7_Step-3500.ckpt", "car_file_key": car_file_key}
    )
    fake_deps.runs.save(run)
    fake_deps.store.put_bytes(car_file_key, b"car")
    # When it ends
    _finish(fake_deps, "imp-1", "imp-1")
    # Then the racer gets the link and the command that writes that checkpoint's car file again
    (message,) = fake_deps.messaging.messages  # type: ignore[attr-defined]
    assert "a fresh one: pitwall car r1 --checkpoint 7):" in message.body
    assert f"/{car_file_key}?expires=3600" in message.body
