"""When a run's ending asks for an import (notify's "Model trained" / "Model evaluated")."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pitwall.lifecycle.notify import import_wanted
from pitwall.runs import EvaluationRequest, EvaluationResult, ImportRequest, Run, RunKind, RunRequest


def run(kind: RunKind, wanted: ImportRequest | None, completion: float | None = None) -> Run:
    evaluations = (
        [
            EvaluationResult(
                evaluation_run_id="eval-1",
                checkpoint="best",
                track="t",
                trials=3,
                lap_times_seconds=[],
                mean_completion_percent=completion,
                off_track_count=0,
                crash_count=0,
                completed_laps=0,
            )
        ]
        if completion is not None
        else []
    )
    return Run(
        run_id="eval-1" if kind == RunKind.EVALUATE else "train-1",
        kind=kind,
        request=RunRequest(
            model_name="m",
            track="t",
            import_after=wanted,
            evaluate_after=EvaluationRequest() if wanted and wanted.after == "evaluation" else None,
        ),
        created_at=0,
        updated_at=0,
        custom_files_prefix="runs/x/custom_files",
        source_run_id="train-1" if kind == RunKind.EVALUATE else None,
        evaluations=evaluations,
    )


def test_a_training_run_that_imports_after_training_asks_for_its_own_import():
    wanted = import_wanted(run(RunKind.TRAIN, ImportRequest(checkpoint="last", model_name="fast-one")))
    assert wanted is not None and (wanted.run_id, wanted.checkpoint, wanted.model_name) == (
        "train-1",
        "last",
        "fast-one",
    )
    assert import_wanted(run(RunKind.TRAIN, None)) is None
    assert import_wanted(run(RunKind.TRAIN, ImportRequest(after="evaluation"))) is None


def test_a_condition_on_an_import_after_training_is_refused_naming_the_field():
    with pytest.raises(ValidationError, match=r"import_after\.min_completion_percent applies to an"):
        ImportRequest(after="training", min_completion_percent=80)
    with pytest.raises(ValidationError, match="allowed: 'training', 'evaluation'"):
        ImportRequest(min_completion_percent=80)  # after: training by default


def test_an_import_after_evaluation_without_an_evaluation_is_refused_naming_the_fields():
    after = {"after": "evaluation", "min_completion_percent": 80}
    with pytest.raises(ValidationError, match=r"import_after\.after 'evaluation' needs evaluate_after"):
        RunRequest.model_validate({"model_name": "m", "track": "t", "import_after": after})
    asked = RunRequest.model_validate(
        {"model_name": "m", "track": "t", "import_after": after, "evaluate_after": {"trials": 3}}
    )
    assert asked.import_after is not None and asked.import_after.min_completion_percent == 80


def test_an_evaluation_imports_the_trained_run_when_it_reaches_the_condition():
    after = ImportRequest(after="evaluation", min_completion_percent=80)
    met = import_wanted(run(RunKind.EVALUATE, after, completion=80.0))
    assert met is not None and met.run_id == "train-1"
    assert import_wanted(run(RunKind.EVALUATE, after, completion=79.9)) is None
    assert import_wanted(run(RunKind.EVALUATE, ImportRequest(after="training"), completion=100.0)) is None


def test_an_evaluation_imports_the_checkpoint_it_ran_not_the_requests():
    # Given an evaluation of checkpoint 7 of the trained run, whose request says "last"
    evaluated = run(RunKind.EVALUATE, ImportRequest(after="evaluation", checkpoint="last"), completion=90.0)
    evaluated.evaluated_checkpoint = "7_Step-3500.ckpt"
    # Then the import asks for checkpoint 7 of the trained run
    wanted = import_wanted(evaluated)
    assert wanted is not None and (wanted.run_id, wanted.checkpoint) == ("train-1", "7")


def test_submit_asks_for_an_import_after_the_evaluation():
    from pitwall_cli import build_parser
    from pitwall_cli.submit import run_request

    words = ["submit", "dir", "--model", "m", "--track", "t", "--evaluate", "3"]
    args = build_parser("submit").parse_args(
        [*words, "--import-after", "evaluation", "--import-min-completion", "80"]
    )
    wanted = run_request(args).import_after
    assert wanted is not None and (wanted.after, wanted.min_completion_percent) == ("evaluation", 80.0)
    assert run_request(build_parser("submit").parse_args(words)).import_after is None


def test_submit_leaves_the_import_rules_to_the_run_request(capsys):
    from pitwall_cli import build_parser
    from pitwall_cli.submit import run

    words = ["submit", "dir", "--model", "m", "--track", "t", "--import-after", "evaluation"]
    assert run(build_parser("submit").parse_args(words)) == 2
    assert "run request: import_after.after 'evaluation' needs evaluate_after" in capsys.readouterr().err


def test_an_increment_that_imports_after_an_evaluation_must_ask_for_one():
    from pitwall.lifecycle.models import IncrementRequest

    with pytest.raises(ValidationError, match=r"import_after\.after 'evaluation' needs evaluate_after"):
        IncrementRequest(source_run_id="train-1", import_after=ImportRequest(after="evaluation"))
    asked = IncrementRequest(
        source_run_id="train-1",
        evaluate_after=EvaluationRequest(),
        import_after=ImportRequest(after="evaluation"),
    )
    assert asked.import_after is not None
