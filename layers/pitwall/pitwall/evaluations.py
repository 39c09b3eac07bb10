"""What an evaluation evaluates: a checkpoint of a model on one or more (track, direction) legs,
with DRFC's race options. Pure domain."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Checkpoint = Literal["best", "last"]
# one checkpoint by its name, as DRFC names it: what a schedule's firing found newest
CheckpointName = Annotated[str, Field(pattern=r"^\d+_Step-\d+\.ckpt$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


Direction = Literal["clockwise", "counterclockwise"]
RaceType = Literal["TIME_TRIAL", "OBJECT_AVOIDANCE"]


class TrackLeg(_Model):
    """One track of an evaluation, in one direction (DR_WORLD_NAME, DR_EVAL_REVERSE_DIRECTION)."""

    track: str = Field(min_length=1, description="DR_WORLD_NAME, without .npy")
    direction: Direction = "clockwise"

    @property
    def label(self) -> str:
        return f"{self.track}/{self.direction}"


class EvaluationRequest(_Model):
    """What to evaluate: a checkpoint of the model (`best`, `last` or its number) on one or more
    (track, direction) legs, run one after the other on one instance, with DRFC's race options."""

    checkpoint: Checkpoint | int | CheckpointName = "best"
    trials: int = Field(default=3, ge=1, le=20)
    tracks: list[TrackLeg] = Field(default_factory=list, description="none: the track it trained on")
    race_type: RaceType = "TIME_TRIAL"
    continuous: bool = Field(default=False, description="DR_EVAL_IS_CONTINUOUS: reset and go on")
    off_track_penalty_seconds: float | None = Field(default=None, ge=0, le=60)
    max_usd: float | None = Field(default=None, gt=0, description="money cap of this evaluation")

    def legs(self, trained_on: str) -> list[TrackLeg]:
        return self.tracks or [TrackLeg(track=trained_on)]
