"""The run record: one item per run in the runs table, written with a version number so that two
writers never both win (conditional writes, `RunStore.save(run, expected_version)`).

A run is a lineage of segments. Each segment is one instance's work under its own, new model
prefix (`layout.segment_model_prefix`); a segment after the first continues from the previous
segment's checkpoint. Issue 4 (stall recovery, spot interruptions) adds segments to a run; the
racer still sees one model.

Pure domain: no boto3, no environment.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

from pitwall import layout
from pitwall.droa import contract, package
from pitwall.errors import InvalidTransition
from pitwall.evaluations import Checkpoint, CheckpointName, Direction, EvaluationRequest, TrackLeg
from pitwall.schedules import MAX_FIRINGS_KEPT, ScheduleFiring, ScheduleSpec

__all__ = ["Checkpoint", "Direction", "EvaluationRequest", "TrackLeg"]  # what other modules import from here


class RunKind(StrEnum):
    TRAIN = "train"
    EVALUATE = "evaluate"


class RunState(StrEnum):
    PREPARED = "prepared"  # record created, DRFC settings and custom files in S3
    PROVISIONING = "provisioning"  # looking for an instance in the pools
    BOOTING = "booting"  # instance launched; waiting for the host to report "started"
    RUNNING = "running"  # DRFC trains (or evaluates); heartbeats arrive
    FINISHING = "finishing"  # the host is done; collecting the outcome, terminating
    SUCCEEDED = "succeeded"
    FAILED = "failed"


TERMINAL_STATES = frozenset({RunState.SUCCEEDED, RunState.FAILED})

# Where a run may go from each state. FAILED is reachable from every live state. BOOTING and
# RUNNING may go back to PROVISIONING: that is a new segment (issue 4: stalls, interruptions).
# PROVISIONING and BOOTING may go to FINISHING: the budget ended while a replacement was being
# launched or booted, and the run finishes with the checkpoints its earlier segments wrote.
_NEXT: dict[RunState, frozenset[RunState]] = {
    RunState.PREPARED: frozenset({RunState.PROVISIONING}),
    RunState.PROVISIONING: frozenset({RunState.BOOTING, RunState.FINISHING}),
    RunState.BOOTING: frozenset({RunState.RUNNING, RunState.PROVISIONING, RunState.FINISHING}),
    RunState.RUNNING: frozenset({RunState.FINISHING, RunState.PROVISIONING}),
    RunState.FINISHING: frozenset({RunState.SUCCEEDED}),
    RunState.SUCCEEDED: frozenset(),
    RunState.FAILED: frozenset(),
}


def can_move(source: RunState, target: RunState) -> bool:
    if target == RunState.FAILED:
        return source not in TERMINAL_STATES
    return target in _NEXT[source]


MODEL_NAME_PATTERN = contract.MODEL_NAME_PATTERN  # a run's model is imported under its name


# The context a run record is read back with (`Run.model_validate_json(body, context=...)`): its
# request was judged by the rules of a racer's request when it was asked for, and a rule added
# since does not make an older record unreadable.
STORED_RECORD = {"stored_record": True}


def asked_now(info: ValidationInfo) -> bool:
    """Whether a model validator judges a request as it is asked for (not a stored record)."""
    return not (info.context or {}).get("stored_record", False)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PretrainedSource(_Model):
    """Where an increment starts from: a trained segment's prefix and which checkpoint."""

    model_prefix: str
    checkpoint: Checkpoint = "last"


CHECKPOINT_CHOICE_PATTERN = package.CHOICE_PATTERN


class ImportRequest(_Model):
    """Import the model into DeepRacer on AWS (DRoA) after training, or after the evaluation its
    `evaluate_after` starts, when that reaches `min_completion_percent` (none: any result)."""

    after: Literal["training", "evaluation"] = "training"
    min_completion_percent: float | None = Field(default=None, ge=0, le=100)
    # after training; after an evaluation, the checkpoint that evaluation ran
    checkpoint: str = Field(default="best", pattern=CHECKPOINT_CHOICE_PATTERN)
    model_name: str | None = Field(default=None, pattern=MODEL_NAME_PATTERN, description="default: the run's")
    description: str | None = Field(default=None, pattern=contract.MODEL_DESCRIPTION_PATTERN)

    @model_validator(mode="after")
    def _condition_needs_an_evaluation(self, info: ValidationInfo) -> ImportRequest:
        if asked_now(info) and self.min_completion_percent is not None and self.after != "evaluation":
            raise PydanticCustomError(
                "import_after",
                "import_after.min_completion_percent applies to an evaluation's result only: set "
                "import_after.after to 'evaluation' (allowed: 'training', 'evaluation'), or drop it",
            )
        return self


class ImportState(StrEnum):
    PACKAGING = "PACKAGING"  # the Import execution started: choosing the checkpoint, packaging
    PACKAGED = "PACKAGED"  # the export and the car file are in the model bucket
    IMPORTING = "IMPORTING"  # DRoA has the upload and imports it
    READY = "READY"
    ERROR = "ERROR"  # DRoA's import workflow refused the model (import_error_message)
    FAILED = "FAILED"  # Pitwall could not get it there (sign-in, WAF, time limit, ...)


class ModelImport(_Model):
    """One import of a run's model into DRoA: what was sent, and what DRoA said."""

    import_id: str
    execution_id: str | None = None  # the Import execution that owns it (`$$.Execution.Id`)
    checkpoint: str  # as asked: best, last or a number
    checkpoint_name: str | None = None  # the one chosen
    model_prefix: str | None = None  # the segment it came from
    droa_model_name: str
    droa_model_description: str | None = None
    droa_model_id: str | None = None
    status: ImportState = ImportState.PACKAGED
    import_error_message: str | None = None
    failure: str | None = None
    export_prefix: str | None = None  # once packaged (a failure before has none)
    car_file_key: str | None = None  # once packaged
    started_at: float
    updated_at: float


def check_import_after(evaluate_after: EvaluationRequest | None, import_after: ImportRequest | None) -> None:
    """The rule of a request (a run's, an increment's) that imports after an evaluation: it must
    ask for that evaluation too. For model validators: the error names the fields."""
    if import_after is not None and import_after.after == "evaluation" and evaluate_after is None:
        raise PydanticCustomError(
            "import_after",
            "import_after.after 'evaluation' needs evaluate_after (the evaluation that decides the "
            "import; none: nothing is ever imported): add evaluate_after, or set import_after.after "
            "to 'training' (allowed: 'training', 'evaluation')",
        )


class RunRequest(_Model):
    """What a racer asks for: which model, where, how long, what next. The custom files (the
    three DRFC files) sit beside it in S3."""

    model_name: str = Field(pattern=MODEL_NAME_PATTERN)
    track: str = Field(min_length=1, description="DR_WORLD_NAME, without .npy")
    time_budget_minutes: int | None = Field(default=None, gt=0, le=7 * 24 * 60)
    money_budget_usd: float | None = Field(default=None, gt=0)
    allow_on_demand: bool = False
    # DR_WORKERS; None: chosen with the instance size (episode_cost, by DRFC's rules)
    workers: int | None = Field(default=None, ge=1, le=8)
    allow_cpu: bool = False  # CPU instance types (DRFC's CPU image) may train the run too
    run_settings: dict[str, str] = Field(default_factory=dict, description="extra run.env values")
    evaluate_after: EvaluationRequest | None = None
    evaluations: list[ScheduleSpec] = Field(
        default_factory=list, description="scheduled evaluations of this model, while it trains and after"
    )
    pretrained: PretrainedSource | None = None
    import_after: ImportRequest | None = None

    @model_validator(mode="after")
    def _import_after_evaluation_needs_one(self, info: ValidationInfo) -> RunRequest:
        # an evaluation run's request carries its training's evaluate_after with the import
        if asked_now(info):
            check_import_after(self.evaluate_after, self.import_after)
        return self


class Pool(_Model):
    """Where an instance can come from: an instance type in one AZ (subnet), spot or on demand."""

    instance_type: str
    availability_zone: str
    subnet_id: str
    market: Literal["spot", "on-demand"] = "spot"

    @property
    def label(self) -> str:
        return f"{self.instance_type}/{self.availability_zone}/{self.market}"


class Segment(_Model):
    index: int = Field(ge=0)
    model_prefix: str
    pretrained: PretrainedSource | None = None
    deadline_epoch: float
    instance_id: str | None = None
    pool: Pool | None = None
    price_per_hour: float | None = None
    workers: int = Field(default=1, ge=1)  # DR_WORKERS the instance runs
    launched_at: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    host_state: str | None = None
    host_detail: str = ""  # what the host's latest report said (a failure's cause)
    host_sequence: int = -1  # the highest HostStatus.sequence seen from this segment's instance
    last_heartbeat_at: float | None = None
    metrics_recorded_at: float | None = None  # when TrainingMetrics.json was last read (throttled)
    episodes: int = 0
    last_checkpoint: str | None = None
    pools_tried: list[str] = Field(default_factory=list)
    end_reason: str | None = None
    save_requested_at: float | None = None  # the controller asked the host to save (spot warning)
    # a hand-over started (a rebalance recommendation, or a cheaper pool): a replacement boots
    # while this one trains; `handover_reason` is the recovery.Reason it ends for
    handover_requested_at: float | None = None
    handover_reason: str | None = None
    move_checked_at: float | None = None  # when the controller last looked for a cheaper pool

    def cost_usd(self, now: float) -> float:
        if self.launched_at is None or self.price_per_hour is None:
            return 0.0
        end = self.ended_at if self.ended_at is not None else now
        return max(0.0, end - self.launched_at) / 3600.0 * self.price_per_hour

    def paid_seconds(self, now: float) -> float:
        if self.launched_at is None:
            return 0.0
        end = self.ended_at if self.ended_at is not None else now
        return max(0.0, end - self.launched_at)

    def cost_to_deadline(self, now: float) -> float:
        """What it will still cost if it runs to its deadline (0 once it ended)."""
        if self.ended_at is not None or self.price_per_hour is None:
            return 0.0
        return max(0.0, self.deadline_epoch - now) / 3600.0 * self.price_per_hour


class TrainingOutcome(_Model):
    last_checkpoint: str | None
    best_checkpoint: str | None
    best_metric: float | None
    episodes: int
    mean_completion_percent: float
    lap_completions: int


class EvaluationResult(_Model):
    """One leg of an evaluation: a checkpoint on one track in one direction."""

    evaluation_run_id: str
    checkpoint: Checkpoint | int | CheckpointName  # as asked: best, last, a number, a name
    checkpoint_name: str | None = None  # the checkpoint evaluated, e.g. 12_Step-34567.ckpt
    track: str
    direction: Direction = "clockwise"
    evaluated_at: float | None = None
    trials: int
    lap_times_seconds: list[float]
    mean_completion_percent: float
    off_track_count: int
    crash_count: int
    completed_laps: int
    reset_count: int = 0

    @property
    def best_lap_seconds(self) -> float | None:
        return min(self.lap_times_seconds) if self.lap_times_seconds else None

    @property
    def mean_lap_seconds(self) -> float | None:
        laps = self.lap_times_seconds
        return round(sum(laps) / len(laps), 3) if laps else None


class Awaiting(StrEnum):
    """What the state machine's current task-token wait is for."""

    STARTED = "started"
    FINISHED = "finished"
    SAVED = "saved"  # a replaced segment's host saves its latest checkpoint before it goes
    READY = "ready"  # a hand-over's replacement (`Run.standby`) is set up and waits for the go


class Run(_Model):
    run_id: str
    kind: RunKind
    request: RunRequest
    state: RunState = RunState.PREPARED
    version: int = 0
    created_at: float
    updated_at: float
    execution_id: str | None = None
    custom_files_prefix: str
    segments: list[Segment] = Field(default_factory=list)
    awaiting: Awaiting | None = None
    task_token: str | None = None
    outcome: TrainingOutcome | None = None
    evaluation: EvaluationRequest | None = None  # EVALUATE runs: what to evaluate (legs resolved)
    evaluated_checkpoint: str | None = None  # EVALUATE runs: the checkpoint copied for the host
    source_run_id: str | None = None  # EVALUATE runs: the trained run under test
    evaluations: list[EvaluationResult] = Field(default_factory=list)  # TRAIN runs: results so far
    # TRAIN runs: what each of its evaluations cost (evaluation run id -> USD), counted in its budget
    evaluation_costs: dict[str, float] = Field(default_factory=dict)
    # TRAIN runs: the money a scheduled evaluation reserved as it started (evaluation run id ->
    # USD), counted in its budget until its real cost replaces it in `evaluation_costs`
    evaluation_reservations: dict[str, float] = Field(default_factory=dict)
    schedule_firings: list[ScheduleFiring] = Field(default_factory=list)  # TRAIN runs: newest last
    failure: str | None = None
    imports: list[ModelImport] = Field(default_factory=list)  # TRAIN runs: DRoA imports
    # a hand-over's replacement: the next segment, launched while the current one still trains
    # (a rebalance recommendation); it becomes the current segment once the current one saved
    standby: Segment | None = None
    dropped_standby_cost_usd: float = 0.0  # what replacements that never took over cost

    @property
    def keys(self) -> layout.RunKeys:
        return layout.RunKeys(self.run_id)

    @property
    def current_segment(self) -> Segment | None:
        return self.segments[-1] if self.segments else None

    @property
    def model_prefix(self) -> str | None:
        segment = self.current_segment
        return segment.model_prefix if segment else None

    @property
    def trained_segment(self) -> Segment | None:
        """The latest segment with a checkpoint: what the racer's ONE model is now (a segment
        replaced while booting, or before its first checkpoint, has nothing of its own)."""
        return next((s for s in reversed(self.segments) if s.last_checkpoint), None)

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    def move_to(self, target: RunState, now: float) -> None:
        if not can_move(self.state, target):
            raise InvalidTransition(f"run {self.run_id}: cannot move from {self.state} to {target}")
        self.state = target
        self.updated_at = now

    def fail(self, reason: str, now: float) -> None:
        """Record why the run failed; a run that already ended keeps its first ending."""
        if self.is_terminal:
            return
        self.move_to(RunState.FAILED, now)
        self.failure = reason
        self.awaiting = None
        self.task_token = None

    def spent_usd(self, now: float) -> float:
        """What the run has spent: its instances' cost and its ended evaluations' (they spend the
        same money budget). What it reports and what its alarms compare with its budget."""
        standby = self.standby.cost_usd(now) if self.standby else 0.0  # the overlap is paid
        return (
            sum(segment.cost_usd(now) for segment in self.segments)
            + standby
            + self.dropped_standby_cost_usd
            + sum(self.evaluation_costs.values())
        )

    def committed_usd(self, now: float) -> float:
        """What it spent and what its running evaluations reserved: the money the budget rule
        counts as gone when it decides what the run may still spend."""
        return self.spent_usd(now) + sum(self.evaluation_reservations.values())

    def training_committed_usd(self, now: float) -> float:
        """What its live training segments (and a hand-over's replacement) will still cost up to
        their deadlines."""
        live = [*self.segments[-1:], *([self.standby] if self.standby else [])]
        return 0.0 if self.is_terminal else sum(segment.cost_to_deadline(now) for segment in live)

    def record_firing(self, firing: ScheduleFiring) -> None:
        self.schedule_firings = [*self.schedule_firings, firing][-MAX_FIRINGS_KEPT:]

    def paid_seconds(self, now: float) -> float:
        return sum(segment.paid_seconds(now) for segment in self.segments)

    def episodes(self) -> int:
        return sum(segment.episodes for segment in self.segments)


class RunSummary(_Model):
    """What `pitwall runs` lists and notifications carry."""

    run_id: str
    kind: RunKind
    model_name: str
    state: RunState
    segments: int
    instance_id: str | None
    episodes: int
    last_checkpoint: str | None
    cost_usd: float  # what it spent (`Run.spent_usd`); money only reserved is not
    failure: str | None


def summarize(run: Run, now: float) -> RunSummary:
    segment = run.current_segment
    trained = run.trained_segment
    return RunSummary(
        run_id=run.run_id,
        kind=run.kind,
        model_name=run.request.model_name,
        state=run.state,
        segments=len(run.segments),
        instance_id=segment.instance_id if segment else None,
        episodes=run.episodes(),
        last_checkpoint=trained.last_checkpoint if trained else None,
        cost_usd=round(run.spent_usd(now), 4),
        failure=run.failure,
    )
