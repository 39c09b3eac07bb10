"""The host agent: one segment of a run on one instance, from boot to shutdown.

It reads the run spec, has its backend set DRFC up and start the work (a hand-over's
replacement first reports READY and waits for the controller's GO: the run's current host
saves before this one trains from that checkpoint), then watches four
things until the work ends: the backend's health, the controller's control requests in S3,
the spot `instance-action` in the instance metadata (a second signal of an interruption), and
the spec's deadline. Every change of state is a `HostStatus` written to S3 (the controller
hears it as an event); its log goes to S3 as well. When the work has ended, the agent powers
the instance off, so the instance ends even when the controller is gone.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Protocol

from pitwall.clock import Clock
from pitwall.host import s3objects
from pitwall.host.backend import DrfcBackend, WorkState
from pitwall.host.errors import HostError, RunSpecUnavailable
from pitwall.host.protocol import (
    TERMINAL_HOST_STATES,
    ControlAction,
    ControlRequest,
    EvaluationLegDone,
    HostState,
    HostStatus,
    Mode,
    RunSpec,
)
from pitwall.layout import ModelKeys, RunKeys

logger = logging.getLogger(__name__)

SPOT_WARNING_SECONDS = 120.0  # EC2's notice before a spot interruption
LOG_SHIP_SECONDS = 60.0
SPEC_READ_ATTEMPTS = 5  # at boot, with 2, 4, 6, 8 s between attempts
SPEC_READ_RETRY_SECONDS = 2.0
_SLEEP_CHUNK_SECONDS = 1.0  # stop() is noticed within this much clock time


class SpotActionSource(Protocol):
    """What the agent needs of the instance metadata service (`host.imds.ImdsClient`)."""

    def spot_instance_action(self) -> Any | None: ...


class HostAgent:
    def __init__(
        self,
        *,
        s3: Any,
        bucket: str,
        run_id: str,
        instance_id: str,
        backend: DrfcBackend,
        clock: Clock,
        metadata: SpotActionSource | None = None,
        log_ship_seconds: float = LOG_SHIP_SECONDS,
    ) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.run_id = run_id
        self.instance_id = instance_id
        self.backend = backend
        self.clock = clock
        self.metadata = metadata
        self.keys = RunKeys(run_id)
        self._log_ship_seconds = log_ship_seconds
        self._stop_requested = threading.Event()
        self._spec: RunSpec | None = None
        self._state: HostState | None = None
        self._sequence = 0
        self._log_lines: list[str] = []
        self._log_shipped_at = clock.now()
        self._log_lines_shipped = 0
        self._metadata_failing = False

    # -- public -----------------------------------------------------------------------------

    @property
    def state(self) -> HostState | None:
        """The last state this agent reported."""
        return self._state

    def stop(self) -> None:
        """The instance is being terminated: stop the work now and make `run()` return."""
        if self._stop_requested.is_set():
            return
        self._stop_requested.set()
        self._log("the instance is being terminated: stopping")
        self._stop_backend()

    def run(self) -> HostState:
        """Do the segment's work; return the last reported state once it has ended."""
        try:
            self._run()
        except Exception as exc:  # whatever went wrong, the controller hears it and the instance ends
            self._report(HostState.FAILED, detail=_describe(exc))
        finally:
            self._finish()
        return self._state or HostState.FAILED

    # -- the segment ------------------------------------------------------------------------

    def _run(self) -> None:
        spec = self._read_spec()
        self._spec = spec
        self._continue_sequence()
        self._report(HostState.BOOTING, detail=f"setting up DRFC for {spec.mode} of {spec.model_prefix}")
        self.backend.setup(spec)
        if self._stopping():
            return
        if spec.wait_for_go and not self._wait_for_go(spec):
            return
        request = self._pending_request()  # e.g. a spot warning that came while DRFC was set up
        if request is not None and request.action is not ControlAction.GO:
            self._serve(request, spec)
            return
        if spec.mode is Mode.EVALUATE and spec.evaluation_legs:
            self._evaluate_legs(spec)
            return
        self.backend.start(spec)
        if self._stopping():
            return
        self._report(HostState.STARTED, detail=f"{spec.mode} of {spec.model_prefix} under way")
        self._watch(spec)

    def _wait_for_go(self, spec: RunSpec) -> bool:
        """A hand-over's replacement: report READY, then wait for the GO (True). A save or stop
        request (a spot notice of its own) or the deadline ends it before it trained (False)."""
        self._report(HostState.READY, detail="set up; waiting for the go while the current host trains")
        poll_seconds = max(spec.status_poll_seconds, 0.001)
        while not self._stopping():
            if self.clock.now() >= spec.deadline_epoch:
                self._report(HostState.FINISHED, detail="the run's time budget ended before the go")
                return False
            request = self._pending_request()
            if request is not None and request.action is ControlAction.GO:
                self._log(f"go {request.request_id}: the current host saved; training from its checkpoint")
                return True
            if request is not None:
                self._stop_backend()
                self._report(
                    HostState.FINISHED,
                    detail=f"stopped before it trained (request {request.request_id}: {request.action})",
                )
                return False
            self._ship_log_if_due()
            self._sleep(min(poll_seconds, max(spec.deadline_epoch - self.clock.now(), 0.0)))
        return False

    def _evaluate_legs(self, spec: RunSpec) -> None:
        """Each leg (track, direction) after the other on this one instance: DRFC is set up once;
        each leg gets its run.env and its own evaluation metrics file, recorded as done in S3."""
        model = ModelKeys(spec.model_prefix)
        for number, leg in enumerate(spec.evaluation_legs):
            leg_spec = spec.for_leg(leg)
            written_before = set(s3objects.list_keys(self.s3, self.bucket, model.evaluation_metrics_folder))
            self.backend.start(leg_spec)
            if self._stopping():
                return
            detail = f"evaluation of {spec.model_prefix} on {leg.label} under way"
            if number == 0:
                self._report(HostState.STARTED, detail=detail)
            else:
                self._log(detail)
            if not self._watch(leg_spec) or self._stopping():
                return  # a leg the instance's end cut short is no result: a replacement does it again
            written = set(s3objects.list_keys(self.s3, self.bucket, model.evaluation_metrics_folder))
            new = sorted(written - written_before)
            if not new:
                self._report(HostState.FAILED, detail=f"the evaluation on {leg.label} wrote no metrics")
                return
            done = EvaluationLegDone(
                index=leg.index,
                world_name=leg.world_name,
                reverse=leg.reverse,
                metrics_key=new[-1],
                finished_at_epoch=self.clock.now(),
                instance_id=self.instance_id,
            )
            s3objects.write_text(
                self.s3, self.bucket, self.keys.evaluation_leg(leg.index), done.to_json(), "application/json"
            )
        self._report(
            HostState.FINISHED,
            detail=f"evaluation on {len(spec.evaluation_legs)} track(s) finished",
            extra={"legs": [leg.index for leg in spec.evaluation_legs]},
        )

    def _watch(self, spec: RunSpec) -> bool:
        """Watch the work until it ends. Returns True when an evaluation leg is done (the legs'
        loop reports), False when the work ended and was reported here."""
        poll_seconds = max(spec.status_poll_seconds, 0.001)
        while not self._stopping():
            if self.clock.now() >= spec.deadline_epoch:
                self._stop_backend()
                self._report(HostState.FINISHED, detail="the run's time budget ended; work stopped")
                return False
            request = self._pending_request()
            if request is not None and request.action is not ControlAction.GO:  # a GO: this host's own
                self._serve(request, spec)
                return False
            progress = self.backend.poll()
            if progress.state is WorkState.DEAD:
                self._report(HostState.FAILED, detail=progress.detail or "the DRFC work died")
                self._stop_backend()
                return False
            if progress.state is WorkState.DONE:
                if spec.mode is Mode.EVALUATE and spec.evaluation_legs:
                    return True  # the leg's result is recorded before the host says finished
                self._report(HostState.FINISHED, detail=progress.detail or f"{spec.mode} finished")
                return False
            self._ship_log_if_due()
            self._sleep(min(poll_seconds, max(spec.deadline_epoch - self.clock.now(), 0.0)))
        return False

    def _serve(self, request: ControlRequest, spec: RunSpec) -> None:
        self._log(f"control request {request.request_id}: {request.action}")
        if request.action is ControlAction.STOP:
            self._stop_backend()
            self._report(HostState.FINISHED, detail=f"stopped on request {request.request_id}")
            return
        if spec.mode is Mode.EVALUATE:
            self._stop_backend()
            self._report(
                HostState.SAVED,
                detail=f"evaluation stopped on request {request.request_id}; it has no checkpoint to save",
                extra={"request_id": request.request_id},
            )
            return
        started = self.clock.now()
        self._report(HostState.SAVING, detail=f"saving the latest checkpoint (request {request.request_id})")
        checkpoint = self.backend.save_latest_checkpoint()
        self._stop_backend()
        took = self.clock.now() - started
        within = took <= SPOT_WARNING_SECONDS
        if not within:
            self._log(
                f"the save took {took:.0f} s, past the {SPOT_WARNING_SECONDS:.0f} s warning", logging.WARNING
            )
        self._report(
            HostState.SAVED,
            detail=f"saved {checkpoint or 'nothing (no checkpoint yet)'} in {took:.1f} s; training stopped",
            checkpoint=checkpoint,
            extra={
                "request_id": request.request_id,
                "save_seconds": round(took, 3),
                "within_warning": within,
            },
        )

    # -- inputs -----------------------------------------------------------------------------

    def _read_spec(self) -> RunSpec:
        key = self.keys.run_spec
        for attempt in range(1, SPEC_READ_ATTEMPTS + 1):
            try:
                body = s3objects.read_bytes(self.s3, self.bucket, key)
                break
            except Exception as exc:  # e.g. the network or the role's credentials not ready at boot
                if attempt == SPEC_READ_ATTEMPTS or self._stopping():
                    raise RunSpecUnavailable(
                        f"cannot read the run spec s3://{self.bucket}/{key} ({attempt} attempts): {exc}"
                    ) from exc
                self._log(f"reading the run spec failed (attempt {attempt}): {exc}", logging.WARNING)
                self._sleep(SPEC_READ_RETRY_SECONDS * attempt)
        if body is None:
            raise RunSpecUnavailable(f"no run spec at s3://{self.bucket}/{key}")
        try:
            spec = RunSpec.from_json(body)
        except (ValueError, TypeError) as exc:
            raise RunSpecUnavailable(f"the run spec s3://{self.bucket}/{key} is not valid: {exc}") from exc
        if spec.run_id != self.run_id:
            raise RunSpecUnavailable(
                f"the run spec s3://{self.bucket}/{key} is for run {spec.run_id!r}, not {self.run_id!r}"
            )
        return spec

    def _pending_request(self) -> ControlRequest | None:
        """The controller's request for this instance, else the metadata's spot notice."""
        try:
            document = s3objects.read_json(self.s3, self.bucket, self.keys.host_control)
            if document:
                request = ControlRequest.from_dict(document)
                if request.instance_id == self.instance_id:
                    return request
        except Exception as exc:  # a bad control object must not end the training
            self._log(f"ignoring unreadable control object {self.keys.host_control}: {exc}", logging.WARNING)
        if self.metadata is not None:
            try:
                notice = self.metadata.spot_instance_action()
                self._metadata_failing = False
            except Exception as exc:
                if not self._metadata_failing:  # once per outage, not every poll
                    self._log(f"instance metadata unavailable: {exc}", logging.WARNING)
                self._metadata_failing = True
                notice = None
            if notice is not None:
                self._log(f"spot instance-action from the metadata service: {notice}")
                return ControlRequest(
                    request_id=f"spot-{getattr(notice, 'time', 'notice')}",
                    action=ControlAction.SAVE,
                    instance_id=self.instance_id,
                    requested_at_epoch=self.clock.now(),
                )
        return None

    # -- outputs ----------------------------------------------------------------------------

    def _continue_sequence(self) -> None:
        """An agent restarted on the same instance continues its sequence, so its reports are
        never taken for stale ones."""
        try:
            document = s3objects.read_json(self.s3, self.bucket, self.keys.host_status)
        except Exception:
            document = None
        if document and document.get("instance_id") == self.instance_id:
            self._sequence = int(document.get("sequence", 0))

    def _report(
        self,
        state: HostState,
        *,
        detail: str = "",
        checkpoint: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        if self._stopping():
            self._log(f"not reporting {state} ({detail}): the instance is being terminated")
            return
        spec = self._spec
        if checkpoint is None and spec is not None and spec.mode is Mode.TRAIN:
            checkpoint = self._latest_checkpoint(spec)
        self._sequence += 1
        status = HostStatus(
            run_id=self.run_id,
            segment=spec.segment if spec else -1,
            instance_id=self.instance_id,
            state=state,
            sequence=self._sequence,
            at_epoch=self.clock.now(),
            detail=detail,
            checkpoint=checkpoint,
            extra=extra or {},
        )
        self._state = state
        self._log(
            f"status {state} #{self._sequence}: {detail}",
            logging.ERROR if state is HostState.FAILED else logging.INFO,
        )
        try:
            s3objects.write_text(
                self.s3, self.bucket, self.keys.host_status, status.to_json(), "application/json"
            )
        except Exception as exc:
            self._log(f"could not write the status {state}: {exc}", logging.ERROR)

    def _latest_checkpoint(self, spec: RunSpec) -> str | None:
        try:
            return s3objects.checkpoint_named(self.s3, self.bucket, ModelKeys(spec.model_prefix), "last")
        except Exception:
            return None

    def _log(self, message: str, level: int = logging.INFO) -> None:
        logger.log(level, "[%s %s] %s", self.run_id, self.instance_id, message)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.clock.now()))
        self._log_lines.append(f"{stamp} {logging.getLevelName(level)} {message}")

    def _ship_log(self) -> None:
        self._log_shipped_at = self.clock.now()
        self._log_lines_shipped = len(self._log_lines)
        key = self.keys.host_instance_log(self.instance_id)
        try:
            s3objects.write_text(self.s3, self.bucket, key, "\n".join(self._log_lines) + "\n")
        except Exception as exc:
            logger.warning("could not ship the agent log to %s: %s", key, exc)

    def _ship_log_if_due(self) -> None:
        due = self.clock.now() - self._log_shipped_at >= self._log_ship_seconds
        if due and len(self._log_lines) != self._log_lines_shipped:
            self._ship_log()

    # -- the end ----------------------------------------------------------------------------

    def _finish(self) -> None:
        if self._stopping():
            self._ship_log()
            return
        if self._state not in TERMINAL_HOST_STATES:
            self._report(HostState.FAILED, detail="the agent ended without a result")
        self._log("work ended: powering the instance off")
        self._ship_log()
        try:
            self.backend.shutdown()
        except Exception as exc:
            self._log(f"shutdown failed: {_describe(exc)}", logging.ERROR)
            self._ship_log()

    def _stop_backend(self) -> None:
        """Stop the work; a failure is logged, not raised: what was saved is saved, and the
        instance is powered off next anyway."""
        try:
            self.backend.stop()
        except Exception as exc:
            self._log(f"stopping the DRFC work failed: {_describe(exc)}", logging.WARNING)

    def _stopping(self) -> bool:
        return self._stop_requested.is_set()

    def _sleep(self, seconds: float) -> None:
        """Sleep on the agent's clock, in chunks, so a stop() is noticed promptly."""
        remaining = seconds
        while remaining > 0 and not self._stopping():
            chunk = min(remaining, _SLEEP_CHUNK_SECONDS)
            self.clock.sleep(chunk)
            remaining -= chunk


def _describe(exc: BaseException) -> str:
    if isinstance(exc, HostError):
        return str(exc)
    return f"unexpected {type(exc).__name__}: {exc}"
