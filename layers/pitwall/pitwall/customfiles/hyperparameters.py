"""hyperparameters.json with the console's ranges (reference section 3; simapp defaults in the
comments), and the rules that tie it to model_metadata.json."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from pitwall.customfiles.jsonfile import JsonDocument
from pitwall.customfiles.metadata import ModelMetadata, Number
from pitwall.customfiles.problems import Problem
from pitwall.layout import HYPERPARAMETERS_FILE

SAC_EPISODES_BETWEEN_TRAINING = 1
SIMAPP_EPISODES_BETWEEN_TRAINING = 20

Unit = Annotated[Number, Field(ge=0, le=1)]


class HyperParameters(JsonDocument):
    FILE: ClassVar[str] = HYPERPARAMETERS_FILE
    ALLOWED: ClassVar[dict[str, str]] = {
        "num_epochs": "3..10",
        "lr": "1e-8..1e-3",
        "beta_entropy": "0..1",
        "discount_factor": "0..1",
        "num_episodes_between_training": "1..100",
        "e_greedy_value": "0..1",
        "sac_alpha": "0..1",
    }

    batch_size: Literal[32, 64, 128, 256, 512] | None = None  # 64
    num_epochs: Annotated[int, Field(ge=3, le=10)] | None = None  # 10
    lr: Annotated[float, Field(ge=1e-8, le=1e-3)] | None = None  # 3e-4
    beta_entropy: Unit | None = None  # 0.01
    discount_factor: Unit | None = None  # 0.999
    loss_type: Literal["huber", "mean squared error"] | None = None  # mean squared error
    num_episodes_between_training: Annotated[int, Field(ge=1, le=100)] | None = None  # 20
    exploration_type: Literal["categorical", "e-greedy"] | None = None
    e_greedy_value: Unit | None = None
    epsilon_steps: Annotated[int, Field(gt=0)] | None = None
    stack_size: Annotated[int, Field(ge=1)] | None = None
    term_cond_max_episodes: Annotated[int, Field(ge=1)] | None = None
    term_cond_avg_score: Number | None = None
    sac_alpha: Unit | None = None  # 0.2


def problems_with_metadata(hyperparameters: HyperParameters, metadata: ModelMetadata) -> list[Problem]:
    """Rules across the two files: SAC trains after every episode."""
    problems = []
    if metadata.training_algorithm == "sac":
        episodes = hyperparameters.num_episodes_between_training
        if episodes != SAC_EPISODES_BETWEEN_TRAINING:
            found = f"{episodes}" if episodes is not None else f"unset, so {SIMAPP_EPISODES_BETWEEN_TRAINING}"
            problems.append(
                Problem(
                    file=HYPERPARAMETERS_FILE,
                    field="num_episodes_between_training",
                    value=episodes,
                    message=f"SAC (training_algorithm in model_metadata.json) needs 1, not {found}",
                    allowed=str(SAC_EPISODES_BETWEEN_TRAINING),
                )
            )
    return problems
