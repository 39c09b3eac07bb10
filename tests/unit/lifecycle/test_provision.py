"""Provisioning's own choices, on the in-memory adapters: which pools it tries, what it records
on the run, what a retried invocation does, and what it leaves behind when no pool can launch.
What EC2 is asked for (images, fleets, tags) is tested on moto in test_fleet_launch.py."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from pitwall import layout
from pitwall.errors import SpotCapacityUnavailable
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.models import ProvisionInput
from pitwall.lifecycle.provision import provision_instance
from pitwall.runs import Pool, Run, RunKind, RunRequest, RunState

ZONES = {"subnet-a": "us-east-1a", "subnet-b": "us-east-1b"}
TYPES = ("g4dn.2xlarge", "g4dn.8xlarge")


@pytest.fixture
def deps(fake_deps: Deps) -> Deps:
    """Two sizes in two zones, each with a spot price."""
    settings = fake_deps.settings.model_copy(update={"subnet_ids": tuple(ZONES), "instance_types": TYPES})
    deps = replace(fake_deps, settings=settings)
    deps.ec2.zones = dict(ZONES)
    deps.ec2.prices = {("g4dn.2xlarge", z): 0.3 for z in ZONES.values()} | {
        ("g4dn.8xlarge", z): 0.9 for z in ZONES.values()
    }
    return deps


def _pools(instance_type: str) -> set[str]:
    return {
        Pool(instance_type=instance_type, availability_zone=z, subnet_id=s).label for s, z in ZONES.items()
    }


def _training(deps: Deps) -> Run:
    run = Run(
        run_id="r1",
        kind=RunKind.TRAIN,
        request=RunRequest(model_name="m", track="t"),
        created_at=deps.clock.now(),
        updated_at=deps.clock.now(),
        custom_files_prefix=layout.RunKeys("r1").custom_files_prefix,
    )
    prefix = run.custom_files_prefix
    deps.store.put_text(
        layout.custom_file_key(prefix, layout.HYPERPARAMETERS_FILE),
        json.dumps({"num_episodes_between_training": 20}),
    )
    deps.store.put_text(
        layout.custom_file_key(prefix, layout.MODEL_METADATA_FILE),
        json.dumps({"training_algorithm": "clipped_ppo", "action_space_type": "continuous"}),
    )
    assert deps.runs.create(run)
    return run


def test_pools_without_capacity_are_recorded_as_tried_and_the_instance_launches_in_another(
    deps: Deps,
) -> None:
    # Given no capacity for the larger size anywhere
    deps.ec2.refused = _pools("g4dn.8xlarge")
    run = _training(deps)
    # When the run is provisioned
    output = provision_instance(ProvisionInput(run_id=run.run_id), deps)
    # Then its instance is of the other size, booting, and the run records every pool it tried
    run = deps.runs.get(run.run_id)
    [segment] = run.segments
    assert run.state == RunState.BOOTING and segment.instance_id == output.instance_id
    assert segment.pool is not None and segment.pool.instance_type == "g4dn.2xlarge"
    assert segment.pools_tried[-1] == segment.pool.label
    assert set(segment.pools_tried[:-1]) <= deps.ec2.refused
    assert deps.ec2.live() == [output.instance_id]
    # with the host's spec written and a role of its own
    spec = json.loads(deps.store.get_bytes(run.keys.run_spec) or b"{}")
    assert (spec["run_id"], spec["segment"]) == ("r1", 0)
    assert len(deps.roles.roles) == 1


def test_a_retried_provisioning_answers_with_the_instance_it_launched(deps: Deps) -> None:
    run = _training(deps)
    first = provision_instance(ProvisionInput(run_id=run.run_id), deps)
    again = provision_instance(ProvisionInput(run_id=run.run_id), deps)
    assert again.instance_id == first.instance_id
    assert deps.ec2.live() == [first.instance_id]


def test_no_capacity_anywhere_leaves_no_instance_and_no_role_and_the_run_provisioning(deps: Deps) -> None:
    # Given no pool with capacity
    deps.ec2.refused = _pools("g4dn.2xlarge") | _pools("g4dn.8xlarge")
    run = _training(deps)
    # When the run is provisioned, the error names how many pools were tried
    with pytest.raises(SpotCapacityUnavailable, match="none of 4 pools could launch"):
        provision_instance(ProvisionInput(run_id=run.run_id), deps)
    # and nothing is left behind: the recovery decides on a run that looks for capacity
    assert deps.ec2.live() == []
    assert deps.roles.roles == {}
    assert deps.runs.get(run.run_id).state == RunState.PROVISIONING


def test_provisioning_boots_the_baked_image_once_the_pipeline_made_one(deps: Deps) -> None:
    deps.ec2.parameters[deps.settings.host_image_parameter] = "ami-baked"
    output = provision_instance(ProvisionInput(run_id=_training(deps).run_id), deps)
    assert deps.ec2.instances[output.instance_id]["ImageId"] == "ami-baked"


def test_provisioning_boots_the_base_image_before_and_runs_the_workers_of_the_size(deps: Deps) -> None:
    # Given every pool at one price (the image pipeline has baked nothing yet)
    deps.ec2.prices = dict.fromkeys(deps.ec2.prices, 0.9)
    run = _training(deps)
    output = provision_instance(ProvisionInput(run_id=run.run_id), deps)
    instance = deps.ec2.instances[output.instance_id]
    assert instance["ImageId"] == deps.settings.image_id
    # the 8xlarge runs 10 workers for the price of one instance
    [segment] = deps.runs.get(run.run_id).segments
    assert (instance["InstanceType"], segment.workers) == ("g4dn.8xlarge", 10)
    spec = json.loads(deps.store.get_bytes(run.keys.run_spec) or b"{}")
    assert spec["system_settings"]["DR_WORKERS"] == "10"


def test_a_record_written_while_the_instance_launches_keeps_the_instance_and_a_retry_launches_none(
    deps: Deps,
) -> None:
    # Given someone else (a schedule's firing, the racer) writing the run's record between the
    # read provisioning started from and its own write
    run = _training(deps)
    launch_fleet = deps.ec2.launch_fleet

    def launch_and_write(pools, spec):
        answer = launch_fleet(pools, spec)
        deps.runs.save(deps.runs.get(spec.run_id))
        return answer

    deps.ec2.launch_fleet = launch_and_write
    # When the run is provisioned
    output = provision_instance(ProvisionInput(run_id=run.run_id), deps)
    # Then the launched instance is in the record, booting
    run = deps.runs.get(run.run_id)
    assert run.state == RunState.BOOTING and run.segments[0].instance_id == output.instance_id
    # and a retried invocation answers with it instead of launching another
    assert provision_instance(ProvisionInput(run_id=run.run_id), deps).instance_id == output.instance_id
    assert deps.ec2.live() == [output.instance_id]
