"""What the agent asks of a DRFC host. Two implementations: `backends.drfc.RealDrfc` (the
instance's DeepRacer-for-Cloud, through its commands) and `pitwall_local.simulated_drfc.SimulatedDrfc`
(the local cloud's stand-in, which writes what DRFC writes). The agent cannot tell them apart,
and neither can the controller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from pitwall.host.protocol import RunSpec

if TYPE_CHECKING:  # checked as enum.StrEnum (3.11+), which pitwall.strenum mirrors for 3.8+
    from enum import StrEnum
else:
    from pitwall.strenum import StrEnum


class WorkState(StrEnum):
    RUNNING = "running"  # training or evaluating; the containers are up
    DONE = "done"  # the work ended by itself (evaluation trials done, training end condition met)
    DEAD = "dead"  # a container died or the work stopped unexpectedly


@dataclass(frozen=True)
class WorkProgress:
    state: WorkState
    detail: str = ""


class DrfcBackend(Protocol):
    def setup(self, spec: RunSpec) -> None:
        """Make DRFC ready for the segment: install/initialise if needed, write run.env and
        system.env from the spec, upload the custom files. Raises a HostError on failure."""
        ...

    def start(self, spec: RunSpec) -> None:
        """Start training (an increment is training with the pretrained settings) or evaluation."""
        ...

    def poll(self) -> WorkProgress:
        """Is the work still running, done, or dead? Cheap: called every few seconds."""
        ...

    def save_latest_checkpoint(self) -> str | None:
        """Make sure the latest checkpoint is completely in S3 (let an upload under way finish)
        and return its name (None when training has made none yet). Fast: it runs inside the
        two-minute spot warning."""
        ...

    def stop(self) -> None:
        """Stop training or evaluation cleanly. Idempotent; may be called from another thread
        (the instance is being terminated), and the backend writes nothing after it returns."""
        ...

    def shutdown(self) -> None:
        """Power the instance off (it is launched to terminate on shutdown)."""
        ...
