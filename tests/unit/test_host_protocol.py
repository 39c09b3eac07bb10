from pitwall.host.protocol import (
    ControlAction,
    ControlRequest,
    EvaluationLeg,
    HostState,
    HostStatus,
    Mode,
    RunSpec,
)


def test_run_spec_round_trips_through_json_with_its_enum():
    spec = RunSpec(
        run_id="r1",
        segment=2,
        mode=Mode.TRAIN,
        bucket="b",
        region="us-east-1",
        model_prefix="models/m/seg-002",
        run_settings={"DR_WORLD_NAME": "reInvent2019_track"},
        system_settings={"DR_WORKERS": "2"},
        deadline_epoch=1_800_000_000.0,
        pretrained_prefix="models/m/seg-001",
    )
    again = RunSpec.from_json(spec.to_json())
    assert again == spec
    assert again.mode is Mode.TRAIN


def test_an_evaluation_spec_round_trips_its_legs_and_gives_each_leg_its_world_and_direction():
    legs = [EvaluationLeg(index=1, world_name="a"), EvaluationLeg(index=2, world_name="b", reverse=True)]
    spec = RunSpec(
        run_id="e1",
        segment=0,
        mode=Mode.EVALUATE,
        bucket="b",
        region="us-east-1",
        model_prefix="models/m/eval-e1",
        run_settings={"DR_WORLD_NAME": "a", "DR_EVAL_NUMBER_OF_TRIALS": "3"},
        system_settings={},
        deadline_epoch=1.0,
        evaluation_legs=legs,
    )
    again = RunSpec.from_json(spec.to_json())
    assert again == spec and again.evaluation_legs == legs
    second = spec.for_leg(legs[1])
    assert second.run_settings["DR_WORLD_NAME"] == "b"
    assert second.run_settings["DR_EVAL_REVERSE_DIRECTION"] == "True"
    assert second.run_settings["DR_EVAL_NUMBER_OF_TRIALS"] == "3"


def test_status_and_control_ignore_unknown_fields_from_newer_senders():
    status = HostStatus.from_dict(
        {
            "run_id": "r",
            "segment": 0,
            "instance_id": "i-1",
            "state": "started",
            "sequence": 3,
            "at_epoch": 1.0,
            "added_later": True,
        }
    )
    assert status.state is HostState.STARTED
    request = ControlRequest.from_json(
        '{"request_id": "q", "action": "save", "instance_id": "i-1", "requested_at_epoch": 2.0}'
    )
    assert request.action is ControlAction.SAVE
