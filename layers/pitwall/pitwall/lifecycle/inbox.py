"""The upload inbox: `inbox/<name>/` holding the three custom files and `run-request.json`.
Uploading the request validates the folder; a valid one becomes a "Training requested" event
(the Train machine starts), an invalid one gets `validation-report.json` beside it and starts
nothing. Run ids are derived from the request object's version, so a redelivered event starts
no second run."""

from __future__ import annotations

import hashlib
import json
from urllib.parse import unquote_plus

from pydantic import ValidationError

from pitwall import layout
from pitwall.errors import InvalidCustomFiles
from pitwall.lifecycle import events
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.models import InboxOutput, S3Notification, TrainInput
from pitwall.lifecycle.validate import problems_of, read_custom_files
from pitwall.observability import logger
from pitwall.runs import RunRequest


def run_id_for(folder: str, request_body: bytes) -> str:
    """The run id of an inbox request: the folder's name and a hash of the request's bytes (the
    same bytes, redelivered, start no second run). `pitwall submit` tells the racer the same."""
    name = folder[len(layout.INBOX_PREFIX) :].strip("/")
    # run ids are ASCII (execution names, DynamoDB keys): any other letter becomes a dash
    safe = "".join(c if (c.isascii() and c.isalnum()) or c == "-" else "-" for c in name)
    safe = safe[:60].strip("-") or "run"
    return f"{safe}-{hashlib.sha256(request_body).hexdigest()[:8]}"


def _report(deps: Deps, folder: str, problems: list[str]) -> None:
    deps.store.put_json(
        folder + layout.VALIDATION_REPORT_FILE,
        {"ok": False, "folder": folder, "problems": problems, "text": "\n".join(problems)},
    )


def check_request(folder: str, deps: Deps) -> tuple[TrainInput | None, list[str]]:
    """The Train input of an inbox folder, or the problems that stop it."""
    body = deps.store.get_bytes(folder + layout.RUN_REQUEST_FILE) or b""
    try:
        request = RunRequest.model_validate(json.loads(body))
    except ValueError as exc:  # JSON or pydantic
        if isinstance(exc, ValidationError):
            # a rule across fields (no loc) names the fields itself
            fields = [".".join(str(p) for p in e["loc"]) for e in exc.errors()]
            return None, [
                f"{layout.RUN_REQUEST_FILE}: {field + ': ' if field else ''}{e['msg']}"
                for field, e in zip(fields, exc.errors(), strict=True)
            ]
        return None, [f"{layout.RUN_REQUEST_FILE}: not JSON ({exc})"]
    try:
        problems = problems_of(read_custom_files(deps.store, folder), request, deps)
    except InvalidCustomFiles as exc:
        problems = str(exc)
    if problems:
        return None, problems.splitlines()
    return TrainInput(
        run_id=run_id_for(folder, body), request=request, custom_files_prefix=folder.rstrip("/")
    ), []


def start_from_inbox(event: S3Notification, deps: Deps) -> InboxOutput:
    out = InboxOutput()
    ours, others = event.records_of(deps.settings.model_bucket)
    for record in others:
        logger.warning("ignored an upload to another bucket", extra={"bucket": record.s3.bucket.name})
    for record in ours:
        folder = layout.inbox_request_folder(unquote_plus(record.s3.object.key))
        if folder is None:
            logger.info("ignored a key outside the inbox", extra={"key": record.s3.object.key})
            continue
        train, problems = check_request(folder, deps)
        if train is None:
            _report(deps, folder, problems)
            out.rejected.append(folder)
            continue
        deps.store.put_json(
            folder + layout.VALIDATION_REPORT_FILE, {"ok": True, "run_id": train.run_id, "problems": []}
        )
        deps.messaging.put_event(events.TRAINING_REQUESTED, train.model_dump(mode="json"))
        out.started.append(train.run_id)
    return out
