"""The input and output of every Lambda (and the detail of every event that chains lifecycles).
The state machines pass these between tasks; `events/*.json` are examples of them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pitwall import layout
from pitwall.errors import InvalidEvent
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
    check_import_after,
)
from pitwall.schedules import ScheduleSpec

RunId = Annotated[str, Field(pattern=layout.RUN_ID_PATTERN)]
# An import id: the Import machine's execution name (a UUID when EventBridge starts it), a folder
# of the run's S3 prefix.
ImportId = Annotated[str, Field(pattern=r"^[a-zA-Z0-9_-]{1,80}$")]
# A Step Functions task token: opaque, base64-like, at most 2048 characters (SendTaskSuccess).
TaskToken = Annotated[str, Field(min_length=1, max_length=2048, pattern=r"^[A-Za-z0-9+/=_.:-]+$")]
InstanceId = Annotated[str, Field(pattern=r"^i-[0-9a-f]{8,17}$")]


def parse_event[M: BaseModel](model: type[M], event: Any) -> M:
    """`event` as `model`, or InvalidEvent naming every field that does not fit and why: what a
    handler does first, so bad input never reaches the domain."""
    try:
        return model.model_validate(event)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '(event)'}: {error['msg']}"
            for error in exc.errors(include_url=False)
        )
        raise InvalidEvent(f"{model.__name__}: {problems}") from None


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Lenient(BaseModel):
    """Inputs that carry the whole state-machine data: unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")


class TrainInput(_Lenient):
    """The Train machine's input, and the detail of a "Training requested" event."""

    run_id: RunId
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
    run_id: RunId


class ProvisionInput(RunRef):
    """`standby`: launch a hand-over's replacement (`Run.standby`) while the current segment trains."""

    standby: bool = False


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
    run_id: RunId
    awaiting: Awaiting
    task_token: TaskToken


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
    key: str = Field(min_length=1, max_length=3 * 1024, description="URL-encoded, as S3 sends it")
    versionId: str | None = None  # in the notification when the bucket is versioned


class S3Bucket(_Lenient):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class S3Entity(_Lenient):
    bucket: S3Bucket
    object: S3Object


class S3Record(_Lenient):
    eventSource: Literal["aws:s3"] = "aws:s3"
    eventName: str = Field(pattern=r"^ObjectCreated:", description="the rules send object-created only")
    s3: S3Entity


class S3Notification(_Lenient):
    """An S3 object-created notification (heartbeats, inbox uploads). The handlers act only on
    records from the model bucket (`records_of`); a notification names its bucket, and a rule
    added by hand (or a test event) could send another's."""

    Records: list[S3Record] = Field(min_length=1)

    def records_of(self, bucket: str) -> tuple[list[S3Record], list[S3Record]]:
        """(the records about `bucket`, the others)."""
        ours = [record for record in self.Records if record.s3.bucket.name == bucket]
        return ours, [record for record in self.Records if record.s3.bucket.name != bucket]


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

    source_run_id: RunId
    evaluation: EvaluationRequest = Field(default_factory=EvaluationRequest)


class PrepareEvaluationInput(EvaluateInput):
    evaluation_id: str = Field(min_length=1, description="the execution name: one evaluation each")
    execution_id: str


class EvaluatePlan(Plan):
    source_run_id: str


class EvaluateOutput(_Model):
    run_id: str
    results: list[EvaluationResult] = Field(description="one per leg (track, direction)")


class FiringOutput(_Model):
    """A schedule's firing: the evaluation it started, or why it skipped."""

    schedule_id: str
    at: float
    evaluation_run_id: str | None
    skipped: str | None
    checkpoint_name: str | None


class TerminateInput(_Lenient):
    run_id: RunId
    reason: str = "completed"
    with_standby: bool = Field(default=False, description="the run ends: a hand-over's replacement goes too")


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
    run_id: RunId
    error: ErrorInfo | None = None
    # the notifying execution (`$$.Execution.Id`): a run is ended only by the execution that owns it
    execution_id: str = Field(pattern=r"^arn:aws[a-z-]*:states:[a-z0-9-]+:[0-9]{12}:execution:")
    # an evaluation's failure: the run under test (what its firing reserved there is freed when
    # the evaluation failed before it had a record)
    source_run_id: RunId | None = None


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

    source_run_id: RunId
    model_name: str | None = None
    checkpoint: Checkpoint = "last"
    speed_factor: float = Field(default=1.0, gt=0, le=4)
    time_budget_minutes: int | None = Field(default=None, gt=0)
    custom_files: dict[str, str] = Field(default_factory=dict, description="file name -> new content")
    evaluate_after: EvaluationRequest | None = None
    import_after: ImportRequest | None = None
    evaluations: list[ScheduleSpec] | None = Field(
        default=None, description="the new model's scheduled evaluations (default: its parent's, as its own)"
    )

    @model_validator(mode="after")
    def _import_after_evaluation_needs_one(self) -> IncrementRequest:
        check_import_after(self.evaluate_after, self.import_after)  # the new run's request's rule
        return self


class IncrementInput(_Model):
    run_id: RunId = Field(description="the new run (the execution name)")
    request: IncrementRequest


class InboxOutput(_Model):
    started: list[str] = Field(default_factory=list)
    rejected: list[str] = Field(default_factory=list)


SPOT_INTERRUPTION_WARNING = "EC2 Spot Instance Interruption Warning"
REBALANCE_RECOMMENDATION = "EC2 Instance Rebalance Recommendation"
STATE_CHANGE = "EC2 Instance State-change Notification"
InstanceDetailType = Literal[
    "EC2 Spot Instance Interruption Warning",
    "EC2 Instance Rebalance Recommendation",
    "EC2 Instance State-change Notification",
]


class InstanceEventDetail(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    instance_id: InstanceId = Field(alias="instance-id")
    # EC2 Instance State-change Notification: the new state
    state: Literal["pending", "running", "stopping", "stopped", "shutting-down", "terminated"] | None = None


class InstanceEvent(EventBridgeModel):
    """EC2 Spot Instance Interruption Warning / Instance Rebalance Recommendation / Instance
    State-change Notification, as EventBridge delivers them (the whole envelope; the rules in
    template.yaml send only these three detail types from `aws.ec2`)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    source: Literal["aws.ec2"]
    detail_type: InstanceDetailType = Field(alias="detail-type")
    detail: InstanceEventDetail


class SaveRequestOutput(_Model):
    instance_id: str
    run_id: str | None
    requested: bool = Field(description="the host was asked to save its latest checkpoint")
    decision: str | None = Field(default=None, description="the recovery's decision: replace, stop, ...")


class RecoveryInput(_Lenient):
    """The Train machine's recovery task: which step failed (`failed_wait`) and how (`error`)."""

    run_id: RunId
    error: ErrorInfo | None = None
    failed_wait: Literal["provision", "started", "finished", "ready"] | None = None


class RecoveryOutput(_Model):
    """Where the Train machine goes next (`recovery.next_step`): wait (again), replace the
    instance (saving first; `launch_first`: its replacement boots during the save), retry
    provisioning after `wait_seconds` (wall clock), finish, fail."""

    run_id: str
    action: Literal["wait", "handover", "replace", "retry", "finish", "fail"]
    save_first: bool
    launch_first: bool = False
    reason: str
    wait_seconds: int
    awaiting: Awaiting


class ScheduledEvent(EventBridgeModel):
    """An EventBridge schedule's event (the reaper needs nothing from it but what it is)."""

    source: Literal["aws.events", "aws.scheduler"]
    detail_type: Literal["Scheduled Event"] = Field(alias="detail-type")


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

    run_id: RunId = Field(description="the trained run")
    checkpoint: str = Field(default="best", pattern=CHECKPOINT_CHOICE_PATTERN)
    model_name: str | None = None  # checked against DRoA's rule by the first step
    description: str | None = None


EXECUTION_ARN = r"^arn:aws[a-z-]*:states:[a-z0-9-]+:[0-9]{12}:execution:"


class PrepareImportInput(_Model):
    request: ImportInput
    import_id: ImportId = Field(description="the execution name: one import each")
    execution_id: str = Field(pattern=EXECUTION_ARN, description="`$$.Execution.Id`: it owns the import")


class ImportRef(_Lenient):
    run_id: RunId
    import_id: ImportId


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
    run_id: RunId
    import_id: ImportId
    error: ErrorInfo | None = None
    # the finishing execution: an import is recorded and notified only by the execution that owns it
    execution_id: str = Field(pattern=EXECUTION_ARN)


class FinishImportOutput(_Model):
    run_id: str
    import_id: str
    status: str
    reason: str = Field(description="why the import failed; empty when it did not")
    message_id: str
    car_file_url: str | None
