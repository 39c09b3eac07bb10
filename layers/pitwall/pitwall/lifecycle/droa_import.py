"""Import: a trained run's model into DeepRacer on AWS (DRoA), and its car file.

prepare_import (choose the checkpoint over the lineage, build the package and the car file, keep
both under the run's prefix) -> submit_import (sign in, upload, POST /importmodel) -> the state
machine's Wait -> poll_import (GET /models/{id}) ... READY or ERROR -> finish_import (record on the
run, notify with the car file's link, emit "Model imported"). A failed import is recorded on the
run's `imports` only: the run's model and state are untouched.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from pitwall import layout, notifications
from pitwall.adapters import secrets
from pitwall.droa import package
from pitwall.droa.client import DroaClient
from pitwall.droa.contract import FINAL_IMPORT_STATUSES, UPLOAD_PREFIX, ModelStatus
from pitwall.errors import (
    DroaImportRejected,
    DroaImportTimedOut,
    InvalidEvent,
    NothingToContinueFrom,
    RunAlreadyStarted,
)
from pitwall.lifecycle import events, telemetry
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.models import (
    FinishImportInput,
    FinishImportOutput,
    ImportPlan,
    ImportProgress,
    ImportRef,
    PrepareImportInput,
)
from pitwall.lifecycle.notify import failure_reason
from pitwall.lifecycle.ports import Store
from pitwall.lifecycle.records import update_run
from pitwall.observability import logger
from pitwall.runs import ImportState, ModelImport, Run, RunKind, RunState
from pitwall.settings import DroaSettings

CAR_FILE_LINK_SECONDS = 3600  # asked for; a Lambda's temporary credentials may end it sooner


def _find(run: Run, import_id: str) -> ModelImport:
    found = next((i for i in run.imports if i.import_id == import_id), None)
    if found is None:
        raise NothingToContinueFrom(f"run {run.run_id} has no import {import_id}")
    return found


def _lineage(run: Run, store: Store) -> list[package.SegmentListing]:
    listings = []
    for segment in run.segments:
        model = layout.ModelKeys(segment.model_prefix)
        listings.append(
            package.SegmentListing(
                prefix=segment.model_prefix,
                checkpoints=store.get_json(model.checkpoints_json) or {},
                sizes=store.list_sizes(model.model_folder),
            )
        )
    return listings


def _required(store: Store, key: str) -> bytes:
    body = store.get_bytes(key)
    if body is None:
        raise NothingToContinueFrom(f"s3://{store.bucket}/{key} is missing: the model is incomplete")
    return body


def build_export(run: Run, store: Store, choice: str) -> package.DroaPackage:
    """The DRoA package of a run's checkpoint (`best`, `last` or N over its lineage), from what the
    model bucket holds now: the Import machine's first step, `pitwall import --to-folder` and
    `pitwall car`. Only of a training that has ended well: one still training may yet delete the
    checkpoint (the simulator keeps only the newest four)."""
    if run.kind != RunKind.TRAIN or run.state != RunState.SUCCEEDED or run.trained_segment is None:
        raise NothingToContinueFrom(
            f"run {run.run_id} is a {run.kind} run in state {run.state}: an import or a car file needs "
            "a training run that succeeded with a checkpoint"
            + (" (it has not ended: follow it with `pitwall status`)" if not run.is_terminal else "")
        )
    chosen = package.choose_checkpoint(_lineage(run, store), choice)
    model = layout.ModelKeys(chosen.prefix)
    return package.build_package(
        chosen,
        training_params=_required(store, model.training_params),
        model_metadata=_required(store, model.model_metadata),
        reward_function=_required(store, model.reward_function),
        hyperparameters=_required(store, model.ip_hyperparameters),
        sizes=store.list_sizes(model.model_folder),
    )


def car_file_of(built: package.DroaPackage, store: Store) -> bytes:
    """carfile.tar.gz of a package's checkpoint: its frozen graph and model_metadata.json."""
    graph = _required(store, package.frozen_graph(built).source_key or "")
    return package.car_file(graph, built.file(layout.MODEL_METADATA_FILE).body or b"")


def _claim(task: PrepareImportInput, run: Run, deps: Deps) -> None:
    """Record the import on the run before anything can fail, owned by this execution: a failure
    of any later step is then recorded on it, and only this execution may finish it."""
    request, now = task.request, deps.clock.now()
    record = ModelImport(
        import_id=task.import_id,
        execution_id=task.execution_id,
        checkpoint=request.checkpoint,
        droa_model_name=request.model_name or run.request.model_name,
        droa_model_description=request.description,
        status=ImportState.PACKAGING,
        started_at=now,
        updated_at=now,
    )

    def add(target: Run) -> tuple[bool, None]:
        found = next((i for i in target.imports if i.import_id == task.import_id), None)
        if found is None:
            target.imports.append(record)
            return True, None
        if found.execution_id not in (None, task.execution_id):
            raise RunAlreadyStarted(
                f"import {task.import_id} of run {run.run_id} belongs to execution {found.execution_id}"
            )
        return False, None  # a retried step: already recorded

    update_run(deps, run.run_id, add)


def prepare_import(
    task: PrepareImportInput, deps: Deps, droa_settings: Callable[[], DroaSettings]
) -> ImportPlan:
    """`droa_settings` is read after the import is recorded on the run: a stack without DRoA's
    settings (DroaNotConfigured) then fails the import on the run and tells the racer why."""
    request = task.request
    run = deps.runs.get(request.run_id)
    _claim(task, run, deps)
    droa = droa_settings()
    name = package.check_model_name(request.model_name or run.request.model_name)
    package.check_description(request.description)
    built = build_export(run, deps.store, request.checkpoint)
    chosen = built.checkpoint
    export = run.keys.droa_export_prefix(task.import_id)
    for file in built.files:
        if file.source_key is not None:
            deps.store.copy(file.source_key, export + file.path)
        else:
            deps.store.put_bytes(export + file.path, file.body or b"")
    deps.store.put_bytes(
        run.keys.car_file(task.import_id), car_file_of(built, deps.store), "application/gzip"
    )
    _set(
        deps,
        ImportRef(run_id=run.run_id, import_id=task.import_id),
        status=ImportState.PACKAGED,
        checkpoint_name=chosen.name,
        model_prefix=chosen.prefix,
        export_prefix=export,
        car_file_key=run.keys.car_file(task.import_id),
    )
    return ImportPlan(
        run_id=run.run_id,
        import_id=task.import_id,
        checkpoint_name=chosen.name,
        droa_model_name=name,
        poll_seconds=deps.settings.wall_seconds(droa.poll_seconds),
    )


def droa_client(droa: DroaSettings) -> DroaClient:
    """Signed in with the password read now from Secrets Manager (kept in this object only)."""
    return DroaClient(droa.site_url, droa.user_name, secrets.secret_string(droa.password_secret_arn))


def _set(deps: Deps, ref: ImportRef, **changes: object) -> ModelImport:
    def change(run: Run) -> tuple[bool, ModelImport]:
        found = _find(run, ref.import_id)
        for name, value in changes.items():
            setattr(found, name, value)
        found.updated_at = deps.clock.now()
        return True, found

    return update_run(deps, ref.run_id, change)[1]


def submit_import(task: ImportRef, deps: Deps, client: DroaClient) -> ImportProgress:
    record = _find(deps.runs.get(task.run_id), task.import_id)
    export = record.export_prefix
    if export is None:
        raise NothingToContinueFrom(f"import {task.import_id} of run {task.run_id} was not packaged")
    if record.droa_model_id is None:
        # the same upload folder on a retry: a second attempt overwrites the first one's files
        s3_path = f"{UPLOAD_PREFIX}{uuid.uuid5(uuid.NAMESPACE_URL, task.run_id + '/' + task.import_id)}"
        for key in sorted(deps.store.list_keys(export)):
            client.upload(s3_path, key.removeprefix(export), deps.store.open(key))
        try:
            model_id = client.import_model(s3_path, record.droa_model_name, record.droa_model_description)
        except DroaImportRejected as exc:  # DRoA's API read the files and refused them (400)
            _set(deps, task, status=ImportState.ERROR, import_error_message=str(exc))
            raise
        record = _set(deps, task, droa_model_id=model_id, status=ImportState.IMPORTING)
        logger.info(
            "submitted to DRoA",
            extra={"run_id": task.run_id, "import_id": task.import_id, "droa_model_id": model_id},
        )
    return ImportProgress(
        run_id=task.run_id,
        import_id=task.import_id,
        droa_model_id=record.droa_model_id or "",
        status=str(record.status),
        done=False,
    )


def poll_import(task: ImportRef, deps: Deps, client: DroaClient, droa: DroaSettings) -> ImportProgress:
    record = _find(deps.runs.get(task.run_id), task.import_id)
    model_id = record.droa_model_id or ""
    status, message = client.model(model_id)
    if status in FINAL_IMPORT_STATUSES:
        state = ImportState.READY if status == ModelStatus.READY else ImportState.ERROR
        _set(deps, task, status=state, import_error_message=message)
        if status == ModelStatus.ERROR:
            raise DroaImportRejected(f"DRoA model {model_id} ERROR: {message or 'no importErrorMessage'}")
    elif deps.clock.now() > record.started_at + droa.timeout_minutes * 60:
        raise DroaImportTimedOut(f"DRoA model {model_id} still {status} after {droa.timeout_minutes} minutes")
    return ImportProgress(
        run_id=task.run_id,
        import_id=task.import_id,
        droa_model_id=model_id,
        status=str(status),
        done=status in FINAL_IMPORT_STATUSES,
    )


def _car_file_line(url: str, run_id: str, checkpoint_name: str) -> str:
    """The car file's link, with its true lifetime: a link signed with a Lambda's temporary
    credentials dies with them, whatever expiry it asks for; and the command that writes the
    imported checkpoint's car file again (by number, as the import chooses one)."""
    number = layout.checkpoint_number(checkpoint_name)
    return (
        f"Car file (agent/model.pb + model_metadata.json), a link for at most "
        f"{CAR_FILE_LINK_SECONDS // 3600} hour (less if the credentials that signed it expire first; "
        f"a fresh one: pitwall car {run_id} --checkpoint {number}): {url}"
    )


def finish_import(task: FinishImportInput, deps: Deps) -> FinishImportOutput:
    """Record how the import ended, tell the racer (with the car file's link), emit the event.
    Only the Import execution that recorded the import (its first step) may finish it."""
    reason = failure_reason(task.error, None)
    run = deps.runs.get(task.run_id)
    found = next((i for i in run.imports if i.import_id == task.import_id), None)
    if found is None or found.execution_id not in (None, task.execution_id):
        owner = f"belongs to execution {found.execution_id}" if found else "was never started"
        raise InvalidEvent(
            f"FinishImportInput: import_id: import {task.import_id} of run {task.run_id} {owner}, "
            f"not {task.execution_id}: nothing recorded or notified"
        )
    if reason is not None:
        status = ImportState.ERROR if found.status == ImportState.ERROR else ImportState.FAILED
        found = _set(
            deps, ImportRef(run_id=task.run_id, import_id=task.import_id), status=status, failure=reason
        )
    car_url = None
    if found.car_file_key and deps.store.exists(found.car_file_key):
        car_url = deps.store.presigned_url(found.car_file_key, CAR_FILE_LINK_SECONDS)
    lines = [
        f"Import {task.import_id}: "
        + (
            f"DRoA model {found.droa_model_name} ({found.droa_model_id or 'not created'}), "
            f"checkpoint {found.checkpoint_name} of {found.model_prefix}"
            if found.checkpoint_name
            else "nothing was packaged"
        )
    ]
    if car_url and found.checkpoint_name:
        lines.append(_car_file_line(car_url, run.run_id, found.checkpoint_name))
    model = run.request.model_name
    status_text = str(found.status)
    message = notifications.model_imported(model, run.run_id, status_text, reason or "", tuple(lines))
    message_id = deps.messaging.send(message)
    telemetry.imported(model, status_text)
    deps.messaging.put_event(
        events.MODEL_IMPORTED,
        {
            "run_id": run.run_id,
            "import_id": task.import_id,
            "status": status_text,
            "droa_model_id": found.droa_model_id,
            "reason": reason,
        },
    )
    return FinishImportOutput(
        run_id=run.run_id,
        import_id=task.import_id,
        status=status_text,
        reason=reason or "",
        message_id=message_id,
        car_file_url=car_url,
    )
