"""The input and output of every Lambda (and the detail of every event that chains lifecycles).
The state machines pass these between tasks; `events/*.json` are examples of them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pitwall.runs import (
    CHECKPOINT_CHOICE_PATTERN,
    Awaiting,
    Checkpoint,
    EvaluationRequest,
    EvaluationResult,
    ImportRequest,
    RunKind,
    RunRequest,
    RunState,
    TrainingOutcome,
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Lenient(BaseModel):
    """Inputs that carry the whole state-machine data: unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")


class TrainInput(_Lenient):
    """The Train machine's input, and the detail of a "Training requested" event."""

    run_id: str = Field(pattern=r"^[a-zA-Z0-9-]{1,80}$")
    request: RunRequest
    custom_files_prefix: str = Field(min_length=1, description="S3 folder of the three custom files")


class ValidationOutput(_Model):
    run_id: str
    files: list[str]
    summary: str


class PrepareInput(TrainInput):
    execution_id: str


class Plan(_Model):
    """What the Train and Evaluate machines need to wait well: wall-clock seconds."""

    run_id: str
    kind: RunKind
    boot_timeout_seconds: int
    heartbeat_seconds: int
    work_timeout_seconds: int
    save_timeout_seconds: int = Field(default=150, description="a replaced host's checkpoint save")


class RunRef(_Lenient):
    run_id: str


class ProvisionOutput(_Model):
    run_id: str
    segment: int
    instance_id: str
    pool: str
    market: Literal["spot", "on-demand"]
    price_per_hour: float | None
    pools_tried: list[str]
    deadline_epoch: float


class AwaitInput(_Model):
    run_id: str
    awaiting: Awaiting
    task_token: str = Field(min_length=1)


class AwaitOutput(_Model):
    run_id: str
    awaiting: Awaiting
    settled_now: bool = Field(description="the host had already got there: the token is answered")


class HostReport(_Model):
    """What a task-token wait returns: the host's report that ended the wait."""

    run_id: str
    instance_id: str
    state: str
    sequence: int
    checkpoint: str | None
    detail: str


class S3Object(_Lenient):
    key: str
    versionId: str | None = None  # in the notification when the bucket is versioned


class S3Bucket(_Lenient):
    name: str


class S3Entity(_Lenient):
    bucket: S3Bucket
    object: S3Object


class S3Record(_Lenient):
    eventName: str = ""
    s3: S3Entity


class S3Notification(_Lenient):
    """An S3 object-created notification (heartbeats, inbox uploads)."""

    Records: list[S3Record]


class HeartbeatOutput(_Model):
    recorded: int = 0
    kept_alive: int = 0
    settled: int = 0
    ignored: int = 0


class CollectOutput(_Model):
    run_id: str
    outcome: TrainingOutcome


class EvaluateInput(_Lenient):
    """The Evaluate machine's input, and the `evaluation` of a "Model trained" event."""

    source_run_id: str
    evaluation: EvaluationRequest = Field(default_factory=EvaluationRequest)


class PrepareEvaluationInput(EvaluateInput):
    evaluation_id: str = Field(min_length=1, description="the execution name: one evaluation each")
    execution_id: str


class EvaluatePlan(Plan):
    source_run_id: str


class EvaluateOutput(_Model):
    run_id: str
    result: EvaluationResult


class TerminateInput(_Lenient):
    run_id: str
    reason: str = "completed"


class TerminateOutput(_Model):
    run_id: str
    instance_id: str | None
    was_running: bool


class ErrorInfo(BaseModel):
    """What a Catch puts at `$.error`."""

    model_config = ConfigDict(extra="ignore")
    Error: str
    Cause: str | None = ""  # a task failure may carry none


class NotifyInput(_Lenient):
    run_id: str
    error: ErrorInfo | None = None


class NotifyOutput(_Model):
    run_id: str
    state: RunState | None
    reason: str = Field(description="why the run failed; empty when it did not")
    message_id: str
    event: str | None


class IncrementRequest(_Model):
    """The Increment machine's input: start a new model from a trained one (new empty prefix,
    pretrained = the source's last segment and checkpoint); optionally faster (the classic step)
    or with other custom files."""

    source_run_id: str
    model_name: str | None = None
    checkpoint: Checkpoint = "last"
    speed_factor: float = Field(default=1.0, gt=0, le=4)
    time_budget_minutes: int | None = Field(default=None, gt=0)
    custom_files: dict[str, str] = Field(default_factory=dict, description="file name -> new content")
    evaluate_after: EvaluationRequest | None = None
    import_after: ImportRequest | None = None


class IncrementInput(_Model):
    run_id: str = Field(pattern=r"^[a-zA-Z0-9-]{1,80}$", description="the new run (the execution name)")
    request: IncrementRequest


class InboxOutput(_Model):
    started: list[str] = Field(default_factory=list)
    rejected: list[str] = Field(default_factory=list)


class InstanceEventDetail(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    instance_id: str = Field(alias="instance-id")
    state: str | None = None  # EC2 Instance State-change Notification: the new state


class InstanceEvent(BaseModel):
    """EC2 Spot Instance Interruption Warning / Instance Rebalance Recommendation / Instance
    State-change Notification (EventBridge)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    detail_type: str = Field(alias="detail-type")
    detail: InstanceEventDetail


class SaveRequestOutput(_Model):
    instance_id: str
    run_id: str | None
    requested: bool = Field(description="the host was asked to save its latest checkpoint")
    decision: str | None = Field(default=None, description="the recovery's decision: replace, stop, ...")


class RecoveryInput(_Lenient):
    """The Train machine's recovery task: which step failed (`failed_wait`) and how (`error`)."""

    run_id: str
    error: ErrorInfo | None = None
    failed_wait: Literal["provision", "started", "finished"] | None = None


class RecoveryOutput(_Model):
    """Where the Train machine goes next (`recovery.next_step`): wait (again), replace the
    instance (saving first), retry provisioning after `wait_seconds` (wall clock), finish, fail."""

    run_id: str
    action: Literal["wait", "replace", "retry", "finish", "fail"]
    save_first: bool
    reason: str
    wait_seconds: int
    awaiting: Awaiting


class ScheduledEvent(_Lenient):
    """An EventBridge schedule's event (the reaper needs nothing from it)."""

    source: str = "aws.events"
    time: str | None = None


class Reaped(_Model):
    instance_id: str
    run_id: str | None
    reason: str


class ReapOutput(_Model):
    checked: int
    terminated: list[Reaped]


class ImportInput(_Lenient):
    """The Import machine's input, and the `import` of a "Model trained"/"Model evaluated" event:
    which run's model, which checkpoint, under what name in DRoA."""

    run_id: str = Field(pattern=r"^[a-zA-Z0-9-]{1,80}$", description="the trained run")
    checkpoint: str = Field(default="best", pattern=CHECKPOINT_CHOICE_PATTERN)
    model_name: str | None = None  # checked against DRoA's rule by the first step
    description: str | None = None


class PrepareImportInput(_Model):
    request: ImportInput
    import_id: str = Field(min_length=1, description="the execution name: one import each")


class ImportRef(_Lenient):
    run_id: str
    import_id: str


class ImportPlan(_Model):
    run_id: str
    import_id: str
    checkpoint_name: str
    droa_model_name: str
    poll_seconds: int = Field(description="wall-clock seconds between two status reads")


class ImportProgress(_Model):
    run_id: str
    import_id: str
    droa_model_id: str
    status: str
    done: bool


class FinishImportInput(_Lenient):
    run_id: str
    import_id: str
    error: ErrorInfo | None = None


class FinishImportOutput(_Model):
    run_id: str
    import_id: str
    status: str
    reason: str = Field(description="why the import failed; empty when it did not")
    message_id: str
    car_file_url: str | None
