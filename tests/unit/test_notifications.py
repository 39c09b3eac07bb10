"""Every notification's text, event by event (`pitwall.notifications`): the subject a mail client
shows, the body, and the attributes a subscription's filter policy matches."""

from __future__ import annotations

import re

from pitwall import layout, notifications
from pitwall.notifications import Event
from pitwall.runs import (
    EvaluationRequest,
    EvaluationResult,
    Pool,
    PretrainedSource,
    Run,
    RunKind,
    RunRequest,
    RunState,
    Segment,
    TrainingOutcome,
)

T0 = 1_800_000_000.0
POOL = Pool(instance_type="g4dn.2xlarge", availability_zone="us-east-1a", subnet_id="subnet-1")
OTHER_POOL = Pool(instance_type="g5.2xlarge", availability_zone="us-east-1b", subnet_id="subnet-2")


def _segment(index: int, pool: Pool, price: float, **fields: object) -> Segment:
    return Segment(
        index=index,
        model_prefix=layout.segment_model_prefix("fast-one", index),
        deadline_epoch=T0 + 7200,
        instance_id=f"i-{index:017x}",
        pool=pool,
        price_per_hour=price,
        **fields,  # type: ignore[arg-type]
    )


def _run(*segments: Segment, state: RunState = RunState.RUNNING, **fields: object) -> Run:
    return Run(
        run_id="run-1",
        kind=RunKind.TRAIN,
        request=RunRequest(
            model_name="fast-one", track="reInvent2019_track", time_budget_minutes=120, money_budget_usd=3
        ),
        state=state,
        created_at=T0,
        updated_at=T0,
        custom_files_prefix="runs/run-1/custom_files/",
        segments=list(segments),
        **fields,  # type: ignore[arg-type]
    )


def _result(track: str, laps: list[float], trials: int = 3) -> EvaluationResult:
    return EvaluationResult(
        evaluation_run_id="eval-1",
        checkpoint="best",
        track=track,
        trials=trials,
        lap_times_seconds=laps,
        mean_completion_percent=88.5,
        off_track_count=1,
        crash_count=0,
        completed_laps=len(laps),
    )


def test_training_started_names_the_pool_and_the_price_and_how_to_watch() -> None:
    run = _run(_segment(0, POOL, 0.2310, launched_at=T0 + 60, started_at=T0 + 300))
    message = notifications.training_started(run)
    assert message.subject == (
        "Pitwall: fast-one started training on g4dn.2xlarge spot in us-east-1a at $0.23/h"
    )
    assert message.body == (
        "Model fast-one started training on reInvent2019_track (run run-1).\n"
        "Instance i-00000000000000000: g4dn.2xlarge spot in us-east-1a, $0.23/h.\n"
        "Budget: 2 h 00 min or $3.00; workers: 1.\n"
        "\n"
        "Next: pitwall status run-1 --watch\n"
        "      pitwall report run-1 -o run-1.html\n"
    )
    assert message.attributes == {"event": "training-started", "model": "fast-one", "run_id": "run-1"}


def test_an_interruption_says_what_the_run_does_and_why() -> None:
    run = _run(
        _segment(0, POOL, 0.2310, launched_at=T0, last_checkpoint="12_Step-3000.ckpt"),
        state=RunState.PROVISIONING,
    )
    message = notifications.run_interrupted(
        run, "replace", "spot-interruption", "spot interruption warning for instance i-0 (segment 0)"
    )
    assert message.event == Event.RUN_INTERRUPTED
    assert message.subject == "Pitwall: fast-one continues on a new instance after a spot interruption"
    assert message.body == (
        "Model fast-one (run run-1, train) continues on a new instance: spot interruption.\n"
        "spot interruption warning for instance i-0 (segment 0)\n"
        "Latest checkpoint: 12_Step-3000.ckpt; segments so far: 1.\n"
        "\n"
        "Next: pitwall status run-1 --watch\n"
        "      pitwall report run-1 -o run-1.html\n"
    )


def test_resumed_says_after_what_and_how_long_training_stopped() -> None:
    # Given a segment asked to save at T0+1800 (spot warning) and its replacement started 7 min later
    old = _segment(
        0,
        POOL,
        0.2310,
        launched_at=T0,
        started_at=T0 + 240,
        save_requested_at=T0 + 1800,
        ended_at=T0 + 1900,
        end_reason="spot-interruption: spot interruption warning for instance i-0",
        last_checkpoint="12_Step-3000.ckpt",
    )
    new = _segment(
        1,
        OTHER_POOL,
        0.6012,
        launched_at=T0 + 1910,
        started_at=T0 + 2220,
        pretrained=PretrainedSource(model_prefix=old.model_prefix),
    )
    message = notifications.run_resumed(_run(old, new), now=T0 + 2220)
    assert message.subject == "Pitwall: fast-one resumed after a spot interruption (7 min)"
    assert message.body == (
        "Model fast-one (run run-1) resumed after a spot interruption: 7 min without training.\n"
        "Segment 1 on g5.2xlarge spot in us-east-1b at $0.60/h, instance i-00000000000000001, "
        f"continuing from {old.model_prefix}.\n"
        "\n"
        "Next: pitwall status run-1 --watch\n"
        "      pitwall report run-1 -o run-1.html\n"
    )
    assert message.event == Event.RUN_RESUMED


def test_finished_gives_episodes_best_checkpoint_cost_and_evaluations() -> None:
    run = _run(
        _segment(0, POOL, 0.25, launched_at=T0, ended_at=T0 + 3600, last_checkpoint="20_Step-5000.ckpt"),
        _segment(1, OTHER_POOL, 0.5, launched_at=T0 + 3700, ended_at=T0 + 5500),
        state=RunState.SUCCEEDED,
        outcome=TrainingOutcome(
            last_checkpoint="31_Step-7000.ckpt",
            best_checkpoint="28_Step-6500.ckpt",
            best_metric=91.2,
            episodes=620,
            mean_completion_percent=47.25,
            lap_completions=33,
        ),
        evaluations=[_result("reInvent2019_track", [11.25, 10.875])],
    )
    message = notifications.run_finished(run, now=T0 + 6000)
    assert message.subject == "Pitwall: fast-one trained, 620 episodes, $0.50"
    assert message.body == (
        "Model fast-one finished training on reInvent2019_track (run run-1).\n"
        "Episodes: 620; segments: 2; time paid: 1 h 30 min; cost: $0.50.\n"
        "Best checkpoint: 28_Step-6500.ckpt (metric 91.2)\n"
        "Last checkpoint: 31_Step-7000.ckpt\n"
        "Mean completion: 47.2%; laps completed: 33.\n"
        "Evaluations:\n"
        "  reInvent2019_track (best): 2/3 laps, best lap 10.875 s, completion 88.5%\n"
        "\n"
        "Next: pitwall status run-1\n"
        "      pitwall report run-1 -o run-1.html\n"
    )
    assert message.event == Event.RUN_FINISHED


def test_the_cost_a_run_ends_with_is_what_it_spent_not_what_a_running_evaluation_reserved() -> None:
    # Given a run that spent 0.25 USD on its instance and 0.10 on an ended evaluation, and whose
    # last scheduled evaluation, still running as it ends, reserved 1.50
    run = _run(
        _segment(0, POOL, 0.25, launched_at=T0, ended_at=T0 + 3600, last_checkpoint="20_Step-5000.ckpt"),
        state=RunState.SUCCEEDED,
        evaluation_costs={"run-1-e0-1": 0.1},
        evaluation_reservations={"run-1-e0-2": 1.5},
    )
    # When it is told as finished, or as failed
    finished = notifications.run_finished(run, now=T0 + 3700)
    failed = notifications.run_failed(run.model_copy(update={"state": RunState.FAILED}), now=T0 + 3700)
    # Then each says it cost 0.35
    assert finished.subject == "Pitwall: fast-one trained, 0 episodes, $0.35"
    assert "cost: $0.35." in finished.body
    assert "cost: $0.35." in failed.body


def test_a_finished_evaluation_run_reports_its_laps_for_the_trained_run() -> None:
    run = _run(_segment(0, POOL, 0.25, launched_at=T0, ended_at=T0 + 900), state=RunState.SUCCEEDED)
    run = run.model_copy(
        update={
            "run_id": "eval-1",
            "kind": RunKind.EVALUATE,
            "source_run_id": "run-1",
            "evaluation": EvaluationRequest(),
            "evaluations": [_result("2022_reinvent_champ", [])],
        }
    )
    message = notifications.run_finished(run, now=T0 + 900)
    assert message.event == Event.EVALUATION_FINISHED
    assert message.subject == "Pitwall: fast-one evaluated, no lap completed"
    assert message.body == (
        "Model fast-one (run run-1) was evaluated (run eval-1):\n"
        "  2022_reinvent_champ (best): 0/3 laps, best lap none, completion 88.5%\n"
        "\n"
        "Next: pitwall status run-1\n"
        "      pitwall report run-1 -o run-1.html\n"
    )


def test_failed_gives_the_reason_and_what_is_left() -> None:
    run = _run(
        _segment(0, POOL, 0.25, launched_at=T0, ended_at=T0 + 1800, last_checkpoint="3_Step-800.ckpt"),
        state=RunState.FAILED,
        failure="repeated-host-failure: the host failed on two instances in a row",
    )
    message = notifications.run_failed(run, now=T0 + 2000)
    assert message.subject == (
        "Pitwall: fast-one train failed: repeated-host-failure: the host failed on two instances in a row"
    )
    assert message.body == (
        "Model fast-one (run run-1, train) failed.\n"
        "Why: repeated-host-failure: the host failed on two instances in a row\n"
        "Latest checkpoint: 3_Step-800.ckpt; segments: 1; cost: $0.12.\n"
        "\n"
        "Next: pitwall status run-1\n"
        "      pitwall report run-1 -o run-1.html\n"
    )


def test_a_long_reason_is_cut_to_the_subject_limit_on_one_line() -> None:
    run = _run(state=RunState.FAILED, failure="InvalidCustomFiles: " + "x" * 200 + "\nsecond line")
    subject = notifications.run_failed(run, now=T0).subject
    assert len(subject) == notifications.SUBJECT_LIMIT and subject.endswith("...")
    assert "\n" not in subject


def test_rejected_points_at_the_validator() -> None:
    reason = "InvalidCustomFiles: reward_function.py: no reward_function"
    message = notifications.run_rejected("upload-7", reason)
    assert message.subject == "Pitwall: run upload-7 rejected"
    assert message.body == (
        "Run upload-7 was rejected; nothing was launched.\n"
        "Why: InvalidCustomFiles: reward_function.py: no reward_function\n"
        "\n"
        "Next: pitwall validate <your custom-files folder>\n"
    )
    assert message.attributes == {"event": "run-rejected", "run_id": "upload-7"}


def test_imported_ready_and_error_with_the_consoles_reason() -> None:
    ready = notifications.model_imported("fast-one", "run-1", "READY")
    assert ready.subject == "Pitwall: fast-one is ready in the console"
    assert ready.body == (
        "Model fast-one (run run-1) was imported into the DeepRacer console: READY.\n"
        "It can race in DeepRacer on AWS. The car file is Pitwall's: pitwall car run-1\n"
        "\n"
        "Next: pitwall status run-1\n"
        "      pitwall report run-1 -o run-1.html\n"
    )
    failed = notifications.model_imported(
        "fast-one", "run-1", "ERROR", "model_metadata.json: sensor missing", ("Import imp-1: no model",)
    )
    assert failed.subject == "Pitwall: fast-one import failed: model_metadata.json: sensor missing"
    assert (
        "console: ERROR.\nWhy: model_metadata.json: sensor missing\nImport imp-1: no model\n" in failed.body
    )
    assert failed.event == Event.MODEL_IMPORTED


def test_a_new_best_lap_says_by_how_much() -> None:
    message = notifications.evaluation_best_lap("fast-one", "run-1", "reInvent2019_track", 10.5, 11.25)
    assert message.subject == "Pitwall: fast-one new best lap 10.500 s on reInvent2019_track"
    assert message.body == (
        "Model fast-one (run run-1) drove its best lap on reInvent2019_track: 10.500 s "
        "(before: 11.250 s, 0.750 s faster).\n"
        "\n"
        "Next: pitwall status run-1\n"
        "      pitwall report run-1 -o run-1.html\n"
    )
    first = notifications.evaluation_best_lap("fast-one", "run-1", "reInvent2019_track", 12.0, None)
    assert "12.000 s (its first lap)." in first.body
    assert first.attributes["event"] == "evaluation-best-lap"


def test_the_templates_filter_parameter_allows_exactly_the_event_names() -> None:
    from pathlib import Path

    from pitwall_local.template import load_template

    # Given the template's NotificationEvents parameter
    template = Path(__file__).resolve().parents[2] / "template.yaml"
    parameter = load_template(template)["Parameters"]["NotificationEvents"]
    pattern = parameter["AllowedPattern"]
    # Then its pattern is the one built from the events, and its description names each of them
    assert pattern == notifications.events_pattern()
    for event in Event:
        assert event.value in " ".join(parameter["Description"].split())
    # so that any list of event names passes, and a misspelt or unknown name does not
    assert re.fullmatch(pattern, "")
    assert re.fullmatch(pattern, ",".join(event.value for event in Event))
    assert re.fullmatch(pattern, "run-finished,run-failed")
    for wrong in ("run-finishd", "run-finished,", "run-finished, run-failed", "Run-Failed", "stall"):
        assert not re.fullmatch(pattern, wrong), wrong
