"""What the controller and a host say to each other, all through S3 (`layout.RunKeys`):

- the controller writes the run's `RunSpec` before it launches an instance;
- the host writes `HostStatus` (started, saved, finished, failed, ...); each write is an S3
  object-created event, so the controller hears it as a heartbeat;
- the controller writes a `ControlRequest` (save a checkpoint, stop) that the host polls.

Standard library only, Python 3.8+: the host agent reads these on the instance.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # typing.Self and enum.StrEnum are 3.11+; pitwall.strenum mirrors StrEnum
    from enum import StrEnum
    from typing import Self
else:
    from pitwall.strenum import StrEnum


class Mode(StrEnum):
    TRAIN = "train"
    EVALUATE = "evaluate"


class HostState(StrEnum):
    BOOTING = "booting"
    READY = "ready"  # a hand-over's replacement: DRFC set up, waiting for the go to train
    STARTED = "started"  # DRFC is training or evaluating
    SAVING = "saving"  # a save request is being served
    SAVED = "saved"  # the latest checkpoint is in S3; training stopped
    FINISHED = "finished"  # the work ended normally (budget end, evaluation done, stop request)
    FAILED = "failed"  # DRFC missing, a command failed, a container died, ...


TERMINAL_HOST_STATES = frozenset({HostState.SAVED, HostState.FINISHED, HostState.FAILED})


class ControlAction(StrEnum):
    SAVE = "save"  # spot interruption warning: upload the latest checkpoint and stop, fast
    STOP = "stop"  # the controller ends the work: stop cleanly
    GO = "go"  # a hand-over's replacement: the old host saved, start training from its checkpoint


_T = TypeVar("_T")


def _from_dict(cls: type[_T], data: dict[str, Any]) -> _T:
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in known})


class _Json:
    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)  # type: ignore[call-overload]

    @classmethod
    def from_json(cls, text: str | bytes) -> Self:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return _from_dict(cls, data)


@dataclass(frozen=True)
class EvaluationLeg(_Json):
    """One track of an evaluation in one direction; `index` is its place in the whole
    evaluation (a replacement host gets only the legs not done, with their first indexes)."""

    index: int
    world_name: str  # DR_WORLD_NAME
    reverse: bool = False  # DR_EVAL_REVERSE_DIRECTION

    @property
    def label(self) -> str:
        return f"{self.world_name} ({'counterclockwise' if self.reverse else 'clockwise'})"


@dataclass(frozen=True)
class EvaluationLegDone(_Json):
    """What an evaluation host writes (`RunKeys.evaluation_leg`) when one leg's trials are done."""

    index: int
    world_name: str
    reverse: bool
    metrics_key: str  # the evaluation metrics file DRFC wrote for this leg
    finished_at_epoch: float
    instance_id: str = ""


@dataclass(frozen=True)
class RunSpec(_Json):
    """Everything a host needs for one segment of a run. No secrets: the instance's role gives
    access, and the spec only says where things are."""

    run_id: str
    segment: int
    mode: Mode
    bucket: str
    region: str
    model_prefix: str  # DR_LOCAL_S3_MODEL_PREFIX of this segment
    run_settings: dict[str, str]  # run.env, KEY -> value, as DRFC reads it
    system_settings: dict[str, str]  # system.env, KEY -> value
    deadline_epoch: float  # the host shuts the instance down by then, controller or not
    pretrained_prefix: str | None = None  # the segment this one continues from, if any
    status_poll_seconds: float = 5.0  # how often the host polls its control object
    agent_archive_sha256: str = ""  # the agent archive this segment runs: the bootstrap checks it
    # evaluation: the legs still to do, one after the other on this instance (none: the
    # run settings' own DR_WORLD_NAME, once)
    evaluation_legs: list[EvaluationLeg] = field(default_factory=list)
    # a hand-over's replacement: set up, report READY, and start only on a GO control request
    # (the old host still trains; never two hosts training one run)
    wait_for_go: bool = False

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        spec = _from_dict(cls, data)
        legs = [
            leg if isinstance(leg, EvaluationLeg) else EvaluationLeg.from_dict(leg)
            for leg in spec.evaluation_legs
        ]
        return cls(**{**asdict(spec), "mode": Mode(spec.mode), "evaluation_legs": legs})

    def for_leg(self, leg: EvaluationLeg) -> RunSpec:
        """The spec of one evaluation leg: the same, with that track and direction in run.env."""
        settings = {
            **self.run_settings,
            "DR_WORLD_NAME": leg.world_name,
            "DR_EVAL_REVERSE_DIRECTION": "True" if leg.reverse else "False",
        }
        return replace(self, run_settings=settings, evaluation_legs=[leg])


@dataclass(frozen=True)
class HostStatus(_Json):
    """One report of a host. `sequence` grows with every report of one instance, so a late or
    duplicated S3 event is recognised by the controller."""

    run_id: str
    segment: int
    instance_id: str
    state: HostState
    sequence: int
    at_epoch: float
    detail: str = ""
    checkpoint: str | None = None  # the latest checkpoint in S3 when the report was made
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        status = _from_dict(cls, data)
        return cls(**{**asdict(status), "state": HostState(status.state)})


@dataclass(frozen=True)
class ControlRequest(_Json):
    """A request of the controller to the host of one instance."""

    request_id: str
    action: ControlAction
    instance_id: str
    requested_at_epoch: float

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        request = _from_dict(cls, data)
        return cls(**{**asdict(request), "action": ControlAction(request.action)})
