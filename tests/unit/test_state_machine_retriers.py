"""House rule for every state machine: never the same error in two retriers of one state, and
never a blanket retry of States.TaskFailed or States.ALL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

MACHINES = sorted((Path(__file__).resolve().parents[2] / "statemachines").glob("*.asl.json"))


def states_of(definition: dict) -> dict:
    found = dict(definition["States"])
    for state in definition["States"].values():
        for branch in state.get("Branches", []) + ([state["Iterator"]] if "Iterator" in state else []):
            found.update(states_of(branch))
    return found


@pytest.mark.parametrize("machine", MACHINES, ids=lambda path: path.name)
def test_each_error_has_one_retrier_and_none_is_blanket(machine: Path) -> None:
    for name, state in states_of(json.loads(machine.read_text())).items():
        errors = [error for retrier in state.get("Retry", []) for error in retrier["ErrorEquals"]]
        assert len(errors) == len(set(errors)), f"{machine.name} {name}: an error in two retriers"
        assert not {"States.TaskFailed", "States.ALL"} & set(errors), f"{machine.name} {name}: blanket retry"


def test_there_are_state_machines_to_check() -> None:
    assert {path.name for path in MACHINES} >= {"train.asl.json", "evaluate.asl.json", "increment.asl.json"}
