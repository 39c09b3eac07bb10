"""The Lambda settings: one model, validated once at the start of an invocation from the
environment (`Settings.from_environ(os.environ)` in the handler) and passed down. Every function
shares the same variables (template.yaml, Globals). A missing or malformed variable is an error
that names it."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pitwall.clock import Clock, ScaledClock, SystemClock
from pitwall.errors import DroaNotConfigured


def anchored_clock(scale: float, anchor_epoch: float) -> ScaledClock:
    """A clock that reads `anchor + (wall - anchor) * scale`: every process that builds it with
    the same anchor and scale agrees on the time (the controller and the simulated hosts)."""
    wall = time.time()
    return ScaledClock(scale, start_epoch=anchor_epoch + (wall - anchor_epoch) * scale)


def stack_clock(scale: float, anchor_epoch: float) -> Clock:
    """The clock of a stack deployed with these TimeScale and TimeAnchorEpoch parameters: the
    system clock in AWS (scale 1), the accelerated one in the local cloud."""
    if scale == 1:
        return SystemClock()
    return anchored_clock(scale, anchor_epoch)


def _split_list(value: object) -> object:
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    return value


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    region: str = Field(alias="AWS_REGION", min_length=1)
    model_bucket: str = Field(alias="PITWALL_MODEL_BUCKET", min_length=3)
    runs_table: str = Field(alias="PITWALL_RUNS_TABLE", min_length=1)
    topic_arn: str = Field(alias="PITWALL_TOPIC_ARN", min_length=1)
    event_bus: str = Field(alias="PITWALL_EVENT_BUS", min_length=1)
    instance_types: tuple[str, ...] = Field(alias="PITWALL_INSTANCE_TYPES", min_length=1)
    subnet_ids: tuple[str, ...] = Field(alias="PITWALL_SUBNET_IDS", min_length=1)
    security_group_id: str = Field(alias="PITWALL_SECURITY_GROUP_ID", min_length=1)
    image_id: str = Field(alias="PITWALL_IMAGE_ID", min_length=1)
    # every segment's instance role is created under this boundary (template: HostPermissionsBoundary)
    host_permissions_boundary_arn: str = Field(alias="PITWALL_HOST_PERMISSIONS_BOUNDARY_ARN", min_length=1)
    default_time_budget_minutes: int = Field(alias="PITWALL_DEFAULT_TIME_BUDGET_MINUTES", gt=0)
    heartbeat_window_seconds: int = Field(alias="PITWALL_HEARTBEAT_WINDOW_SECONDS", gt=0)
    boot_timeout_seconds: int = Field(alias="PITWALL_BOOT_TIMEOUT_SECONDS", gt=0)
    host_poll_seconds: float = Field(alias="PITWALL_HOST_POLL_SECONDS", gt=0)
    max_relaunches_per_hour: int = Field(alias="PITWALL_MAX_RELAUNCHES_PER_HOUR", ge=0)
    # scheduled evaluations: the stack's EventBridge Scheduler group, the role the scheduler takes
    # to invoke their target (the Lambda that starts an evaluation or records why not), the
    # Evaluate machine that target starts
    schedule_group: str = Field(alias="PITWALL_SCHEDULE_GROUP", min_length=1)
    scheduler_role_arn: str = Field(alias="PITWALL_SCHEDULER_ROLE_ARN", min_length=1)
    scheduled_evaluation_arn: str = Field(alias="PITWALL_SCHEDULED_EVALUATION_ARN", min_length=1)
    evaluate_state_machine_arn: str = Field(alias="PITWALL_EVALUATE_STATE_MACHINE_ARN", min_length=1)
    # the cost-per-episode ranking (episode_cost.CostModel): episodes per hour grow as
    # workers ** exponent
    worker_scaling_exponent: float = Field(alias="PITWALL_WORKER_SCALING_EXPONENT", gt=0, le=1)
    # move back: how often a training segment looks for a clearly cheaper pool (at a checkpoint)
    move_check_minutes: float = Field(alias="PITWALL_MOVE_CHECK_MINUTES", gt=0)
    # the SSM parameter where the image pipeline puts its newest baked image; `image_id` (the
    # base image) until it holds one
    host_image_parameter: str = Field(alias="PITWALL_HOST_IMAGE_PARAMETER", min_length=1)
    # Simulation only (the local cloud): controller time runs `clock_scale` times faster than the
    # wall clock from `clock_anchor_epoch` on, like the simulated hosts. 1 in AWS.
    clock_scale: float = Field(alias="PITWALL_CLOCK_SCALE", gt=0)
    clock_anchor_epoch: float = Field(alias="PITWALL_CLOCK_ANCHOR_EPOCH", ge=0)
    # The validating functions only (template.yaml): the function that runs reward code, away from
    # this function's credentials and network. The others never run reward code.
    reward_sandbox_function: str | None = Field(alias="PITWALL_REWARD_SANDBOX_FUNCTION", default=None)

    _lists = field_validator("instance_types", "subnet_ids", mode="before")(_split_list)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        try:
            return cls.model_validate(dict(environ))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()
            )
            raise ValueError(f"Lambda environment is incomplete or malformed: {problems}") from exc

    def clock(self) -> Clock:
        return stack_clock(self.clock_scale, self.clock_anchor_epoch)

    def wall_seconds(self, seconds: float) -> int:
        """A duration of controller time as wall-clock seconds (Step Functions timeouts), >= 1."""
        return max(1, math.ceil(seconds / self.clock_scale))

    def as_environ(self) -> dict[str, str]:
        """The environment variables that give these settings (the local cloud and tests use it)."""
        values = self.model_dump(by_alias=True)
        return {
            name: ",".join(value) if isinstance(value, tuple) else str(value)
            for name, value in values.items()
            if value is not None
        }


DROA_NOT_CONFIGURED = (
    "DRoA is not configured on this stack: set the stack parameters DroaSiteUrl (the DRoA site's "
    "URL) and DroaUserName, and put that user's password in the stack's DroaPasswordSecret secret"
)


class DroaSettings(BaseModel):
    """The Import functions' own settings: where DRoA is and who signs in. The password is not
    here: only the ARN of the secret that holds it, read inside the step that needs it."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    site_url: str = Field(alias="PITWALL_DROA_SITE_URL", pattern=r"^https?://[^/\s]+")
    user_name: str = Field(alias="PITWALL_DROA_USER_NAME", min_length=1)
    password_secret_arn: str = Field(alias="PITWALL_DROA_PASSWORD_SECRET_ARN", min_length=1)
    poll_seconds: int = Field(alias="PITWALL_IMPORT_POLL_SECONDS", gt=0)
    timeout_minutes: int = Field(alias="PITWALL_IMPORT_TIMEOUT_MINUTES", gt=0)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> DroaSettings:
        try:
            return cls.model_validate(dict(environ))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()
            )
            raise DroaNotConfigured(f"{DROA_NOT_CONFIGURED} ({problems})") from exc
