"""Launching through EC2 Fleet (CreateFleet, type instant) and the provisioning choices around it:
which candidates share one fleet, what a run asks of an instance."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pitwall import aws, episode_cost, layout, recovery
from pitwall.adapters import ec2 as ec2_adapter
from pitwall.adapters.ec2 import Ec2, FleetUnavailable, LaunchSpec
from pitwall.clock import ManualClock
from pitwall.lifecycle.deps import Deps
from pitwall.lifecycle.models import ProvisionInput
from pitwall.lifecycle.provision import FLEET_SIZE, fleet_candidates, provision_instance, workload
from pitwall.runs import Pool, Run, RunKind, RunRequest, RunState
from pitwall_local.instances import InstanceRunner, LaunchFaults, hooked_instances

SPEC = LaunchSpec(
    "ami-12c6146b", "sg-1", "arn:aws:iam::1:instance-profile/pitwall/x", "#!/bin/bash", "run-1", 0
)


def _subnets() -> dict[str, str]:
    ec2 = aws.client("ec2", "us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    return {
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=zone)["Subnet"][
            "SubnetId"
        ]: zone
        for i, zone in enumerate(("us-east-1a", "us-east-1b"))
    }


def test_a_fleet_launches_one_tagged_instance_in_an_offered_pool_and_leaves_no_template(deps: Deps) -> None:
    # Given two pools
    pools = [
        Pool(instance_type=type_, availability_zone=zone, subnet_id=subnet)
        for type_ in ("g5.4xlarge", "g4dn.4xlarge")
        for subnet, zone in _subnets().items()
    ]
    # When a fleet over them launches
    instance_id, pool, refused = deps.ec2.launch_fleet(pools, SPEC)
    # Then one spot instance runs in the pool EC2 reported, tagged with its run and segment
    ec2 = aws.client("ec2", "us-east-1")
    instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    assert pool in pools and refused == []
    assert (instance["InstanceType"], instance["SubnetId"]) == (pool.instance_type, pool.subnet_id)
    assert instance["InstanceLifecycle"] == "spot"
    tags = {tag["Key"]: tag["Value"] for tag in instance["Tags"]}
    assert tags[ec2_adapter.RUN_TAG] == "run-1" and tags[ec2_adapter.SEGMENT_TAG] == "0"
    assert ec2.describe_launch_templates()["LaunchTemplates"] == []


def test_a_fleet_host_requires_imdsv2_with_two_hops_as_a_direct_launch_does(
    deps: Deps, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the launch template is deleted once the fleet answered: read what moto stored before that
    ec2 = aws.client("ec2", "us-east-1")
    stored: list[dict[str, Any]] = []
    create_fleet = Ec2._create_fleet

    def reading_the_template(self: Ec2, request: dict[str, Any], candidates: Any) -> dict[str, Any]:
        template = request["LaunchTemplateConfigs"][0]["LaunchTemplateSpecification"]["LaunchTemplateId"]
        stored.extend(
            ec2.describe_launch_template_versions(LaunchTemplateId=template)["LaunchTemplateVersions"]
        )
        return create_fleet(self, request, candidates)

    monkeypatch.setattr(Ec2, "_create_fleet", reading_the_template)
    pools = [
        Pool(instance_type="g5.4xlarge", availability_zone=zone, subnet_id=subnet)
        for subnet, zone in _subnets().items()
    ]
    deps.ec2.launch_fleet(pools, SPEC)
    [version] = stored
    options = version["LaunchTemplateData"]["MetadataOptions"]
    assert (options["HttpTokens"], options["HttpPutResponseHopLimit"]) == ("required", 2)


class _FleetClient:
    """CreateFleet answering as AWS does for an instant fleet: refused pools in `Errors`."""

    def __init__(self, answers: list[dict[str, Any] | ClientError]) -> None:
        self.answers, self.calls, self.deleted = answers, 0, 0

    def create_launch_template(self, **request: Any) -> dict[str, Any]:
        return {"LaunchTemplate": {"LaunchTemplateId": "lt-1"}}

    def delete_launch_template(self, **request: Any) -> dict[str, Any]:
        self.deleted += 1
        return {}

    def create_fleet(self, **request: Any) -> dict[str, Any]:
        answer = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        if isinstance(answer, ClientError):
            raise answer
        return answer


POOLS = [
    Pool(instance_type="g4dn.8xlarge", availability_zone="us-east-1a", subnet_id="subnet-a"),
    Pool(instance_type="g6.8xlarge", availability_zone="us-east-1b", subnet_id="subnet-b"),
]


def _error(pool: Pool, code: str, message: str = "no capacity") -> dict[str, Any]:
    overrides = {"InstanceType": pool.instance_type, "SubnetId": pool.subnet_id}
    return {
        "LaunchTemplateAndOverrides": {"Overrides": overrides},
        "ErrorCode": code,
        "ErrorMessage": message,
    }


def _launch(
    monkeypatch: pytest.MonkeyPatch, client: _FleetClient
) -> tuple[tuple[str, Pool, list[str]], list[float]]:
    monkeypatch.setattr(Ec2, "_ec2", property(lambda self: client))
    slept: list[float] = []
    return Ec2("us-east-1", sleep=slept.append).launch_fleet(POOLS, SPEC), slept


def test_the_pool_ec2_chose_and_the_pools_it_refused_are_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    answer = {
        "Instances": [
            {
                "InstanceIds": ["i-9"],
                "InstanceType": "g6.8xlarge",
                "LaunchTemplateAndOverrides": {
                    "Overrides": {"InstanceType": "g6.8xlarge", "SubnetId": "subnet-b"}
                },
            }
        ],
        "Errors": [_error(POOLS[0], "InsufficientInstanceCapacity")],
    }
    (instance_id, pool, refused), _ = _launch(monkeypatch, _FleetClient([answer]))
    assert (instance_id, pool, refused) == ("i-9", POOLS[1], [POOLS[0].label])


def test_every_pool_refused_is_a_tried_fleet_and_the_template_is_deleted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = _FleetClient(
        [{"Instances": [], "Errors": [_error(p, "InsufficientInstanceCapacity") for p in POOLS]}]
    )
    with pytest.raises(FleetUnavailable) as raised:
        _launch(monkeypatch, client)
    assert raised.value.tried
    assert "InsufficientInstanceCapacity" in str(raised.value)
    assert client.deleted == 1


def test_a_refused_call_is_an_untried_fleet(monkeypatch: pytest.MonkeyPatch) -> None:
    refusal = ClientError({"Error": {"Code": "UnauthorizedOperation", "Message": "no"}}, "CreateFleet")
    with pytest.raises(FleetUnavailable) as raised:
        _launch(monkeypatch, _FleetClient([refusal]))
    assert not raised.value.tried


def test_a_new_instance_profile_is_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    not_ready = {
        "Instances": [],
        "Errors": [_error(p, "InvalidParameterValue", "Invalid IAM Instance Profile ARN") for p in POOLS],
    }
    ready = {"Instances": [{"InstanceIds": ["i-1"], "InstanceType": "g4dn.8xlarge"}]}
    client = _FleetClient([not_ready, not_ready, ready])
    (instance_id, pool, _), slept = _launch(monkeypatch, client)
    assert (instance_id, pool) == ("i-1", POOLS[0])
    assert slept == list(ec2_adapter.PROFILE_RETRY_SECONDS[:2])


def _candidate(instance_type: str, zone: str, workers: int, market: str = "spot") -> episode_cost.Candidate:
    pool = Pool(instance_type=instance_type, availability_zone=zone, subnet_id=f"s-{zone}", market=market)  # type: ignore[arg-type]
    return episode_cost.Candidate(pool, 1.0, workers, 100.0, 0.9, 0.01)


def test_one_fleet_takes_the_best_candidates_with_the_best_ones_worker_count_and_market() -> None:
    ranked = [
        _candidate("g4dn.8xlarge", "a", 10),
        _candidate("g4dn.4xlarge", "a", 5),
        _candidate("g6.8xlarge", "b", 10),
        _candidate("g4dn.8xlarge", "b", 10, market="on-demand"),
        *[_candidate("g5.8xlarge", zone, 10) for zone in "abcdefg"],
    ]
    fleet = fleet_candidates(ranked)
    assert len(fleet) == FLEET_SIZE
    assert fleet[:2] == [ranked[0], ranked[2]]
    assert all(c.workers == 10 and c.pool.market == "spot" for c in fleet)
    assert fleet_candidates([]) == []
    # a pool that just took an instance back is never offered to the fleet
    without = fleet_candidates(ranked, [ranked[0].pool.label])
    assert without == [ranked[1]]  # the best left runs 5 workers: the only one of its kind


def _run(deps: Deps, request: RunRequest, hyperparameters: dict[str, Any], algorithm: str) -> Run:
    run = Run(
        run_id="r1",
        kind=RunKind.TRAIN,
        request=request,
        created_at=0,
        updated_at=0,
        custom_files_prefix=layout.RunKeys("r1").custom_files_prefix,
    )
    prefix = run.custom_files_prefix
    deps.store.put_text(
        layout.custom_file_key(prefix, layout.HYPERPARAMETERS_FILE), json.dumps(hyperparameters)
    )
    metadata = {"training_algorithm": algorithm, "action_space_type": "continuous"}
    deps.store.put_text(layout.custom_file_key(prefix, layout.MODEL_METADATA_FILE), json.dumps(metadata))
    return run


def test_the_workload_comes_from_the_request_and_the_custom_files(fake_deps: Deps) -> None:
    deps = fake_deps
    request = RunRequest(model_name="m", track="t")
    chosen = workload(_run(deps, request, {"num_episodes_between_training": 8}, "clipped_ppo"), deps, 2.0)
    assert (chosen.fixed_workers, chosen.episodes_between_training, chosen.sac) == (None, 8, False)
    fixed = RunRequest(model_name="m", track="t", workers=3, allow_cpu=True)
    sac = workload(_run(deps, fixed, {}, "sac"), deps, 2.0)
    assert (sac.fixed_workers, sac.episodes_between_training, sac.sac, sac.allow_cpu) == (3, 20, True, True)


def test_the_local_clouds_fleet_skips_refused_pools_and_reports_them_as_aws_does(deps: Deps) -> None:
    # Given the local cloud's launch hook refusing the first two launch attempts
    faults = LaunchFaults(fail_next=2)
    runner = InstanceRunner(region="us-east-1", bucket="models-bucket", clock_factory=lambda: deps.clock)
    pools = [
        Pool(instance_type=type_, availability_zone=zone, subnet_id=subnet)
        for type_ in ("g4dn.2xlarge", "g5.2xlarge")
        for subnet, zone in _subnets().items()
    ]
    profile = aws.client("iam").create_instance_profile(InstanceProfileName="x", Path="/pitwall/")
    profile_arn = profile["InstanceProfile"]["Arn"]
    with hooked_instances(runner, faults):
        # When a fleet over four pools launches (an instance of no run: no simulated host)
        spec = LaunchSpec("ami-12c6146b", "sg-1", profile_arn, "", "", 0)
        instance_id, pool, refused = deps.ec2.launch_fleet(pools, spec)
        # Then the third pool launched and the first two are reported refused
        assert pool == pools[2]
        assert refused == [pools[0].label, pools[1].label]
        assert [launched for _, _, launched in faults.attempts] == [False, False, True]
        assert runner.launched == [instance_id]
        # and the instance has the launch template's instance profile, as in AWS
        associations = aws.client("ec2", "us-east-1").describe_iam_instance_profile_associations(
            Filters=[{"Name": "instance-id", "Values": [instance_id]}]
        )["IamInstanceProfileAssociations"]
        assert [a["IamInstanceProfile"]["Arn"] for a in associations] == [profile_arn]
        # and when every pool refuses, nothing launches and each pool is named
        faults.fail_next = 99
        with pytest.raises(FleetUnavailable) as raised:
            deps.ec2.launch_fleet(pools, replace(spec, segment=1))
        assert raised.value.tried and str(raised.value).count("InsufficientInstanceCapacity") == 4


# -- the hand-over: a standby launched while the current segment trains on --------------------


def _provision(deps: Deps) -> tuple[dict[str, Any], Run]:
    """Provision a training run in moto with two sizes offered."""
    ec2 = aws.client("ec2", "us-east-1")
    base = ec2.describe_images()["Images"][0]["ImageId"]
    settings = deps.settings.model_copy(
        update={
            "subnet_ids": tuple(_subnets()),
            "instance_types": ("g4dn.2xlarge", "g4dn.8xlarge"),
            "image_id": base,
        }
    )
    deps = replace(deps, settings=settings)
    run = _run(
        deps, RunRequest(model_name="m", track="t"), {"num_episodes_between_training": 20}, "clipped_ppo"
    )
    assert deps.runs.create(run)
    output = provision_instance(ProvisionInput(run_id=run.run_id), deps)
    instance = ec2.describe_instances(InstanceIds=[output.instance_id])["Reservations"][0]["Instances"][0]
    return instance, deps.runs.get(run.run_id)


def _handing_over(deps: Deps) -> tuple[Deps, Run]:
    """A run training on segment 0 (with a checkpoint) that got a rebalance recommendation."""
    _, run = _provision(deps)
    ec2 = aws.client("ec2", "us-east-1")
    group = ec2.create_security_group(GroupName="hosts", Description="hosts")["GroupId"]
    settings = deps.settings.model_copy(
        update={
            "subnet_ids": tuple(_subnets()),
            "instance_types": ("g4dn.2xlarge", "g4dn.8xlarge"),
            "image_id": ec2.describe_images()["Images"][0]["ImageId"],
            "security_group_id": group,  # a launch pool by pool (the fleet leaves the current pool out)
        }
    )
    deps = replace(deps, settings=settings)
    run.move_to(RunState.RUNNING, 10.0)
    segment = run.segments[0]
    segment.started_at, segment.last_checkpoint, segment.host_state = 10.0, "1_Step-100.ckpt", "started"
    run = deps.runs.save(run)
    policy = recovery.RecoveryPolicy.from_settings(settings)
    event = recovery.RunEvent(
        kind=recovery.EventKind.REBALANCE_RECOMMENDATION, at=20.0, instance_id=segment.instance_id
    )
    resolved = recovery.resolve(
        event, load=lambda: deps.runs.get(run.run_id), save=deps.runs.save, now=20.0, policy=policy
    )
    assert isinstance(resolved.decision, recovery.HandOver)
    return deps, resolved.run


def _instances() -> list[dict[str, Any]]:
    ec2 = aws.client("ec2", "us-east-1")
    return [i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]


def test_a_hand_over_launches_a_waiting_standby_elsewhere_and_provisioning_then_adopts_it(deps: Deps) -> None:
    deps, run = _handing_over(deps)
    current = run.segments[0]
    # When the machine launches the standby
    standby = provision_instance(ProvisionInput(run_id=run.run_id, standby=True), deps)
    run = deps.runs.get(run.run_id)
    # Then the current segment trains on and the standby waits for the go, in another pool
    assert run.state == RunState.RUNNING and len(run.segments) == 1
    assert run.standby is not None and run.standby.instance_id == standby.instance_id
    assert run.standby.pool is not None and current.pool is not None and run.standby.pool != current.pool
    spec = json.loads(deps.store.get_bytes(run.keys.run_spec) or b"{}")
    assert spec["wait_for_go"] is True and spec["segment"] == 1
    assert run.standby.pretrained is not None and run.standby.pretrained.model_prefix == current.model_prefix
    # and a retried launch launches nothing more
    assert (
        provision_instance(ProvisionInput(run_id=run.run_id, standby=True), deps).instance_id
        == standby.instance_id
    )
    # When the standby is ready, the current segment is replaced (it saves, it is terminated) ...
    policy = recovery.RecoveryPolicy.from_settings(deps.settings)
    ready = recovery.RunEvent(kind=recovery.EventKind.STANDBY_READY, at=30.0, instance_id=standby.instance_id)
    recovery.resolve(
        ready, load=lambda: deps.runs.get(run.run_id), save=deps.runs.save, now=30.0, policy=policy
    )
    launched_before = len(_instances())
    # ... and provisioning adopts the standby instead of launching: it is told to go
    adopted = provision_instance(ProvisionInput(run_id=run.run_id), deps)
    run = deps.runs.get(run.run_id)
    assert adopted.instance_id == standby.instance_id and len(_instances()) == launched_before
    assert run.state == RunState.BOOTING and run.standby is None
    assert [s.instance_id for s in run.segments] == [current.instance_id, standby.instance_id]
    go = json.loads(deps.store.get_bytes(run.keys.host_control) or b"{}")
    assert (go["action"], go["instance_id"]) == ("go", standby.instance_id)


def test_a_failed_standby_is_terminated_its_cost_kept_and_a_new_instance_launched(deps: Deps) -> None:
    deps, run = _handing_over(deps)
    standby = provision_instance(ProvisionInput(run_id=run.run_id, standby=True), deps)
    policy = recovery.RecoveryPolicy.from_settings(deps.settings)
    failed = recovery.RunEvent(
        kind=recovery.EventKind.STANDBY_FAILED, at=900.0, instance_id=standby.instance_id
    )
    resolved = recovery.resolve(
        failed, load=lambda: deps.runs.get(run.run_id), save=deps.runs.save, now=900.0, policy=policy
    )
    assert isinstance(resolved.decision, recovery.Replace) and resolved.decision.drop_standby
    assert isinstance(deps.clock, ManualClock)
    deps.clock.advance(900)  # the standby was paid while it failed to boot

    fresh = provision_instance(ProvisionInput(run_id=run.run_id), deps)

    run = deps.runs.get(run.run_id)
    assert fresh.instance_id != standby.instance_id and run.standby is None
    states = {i["InstanceId"]: i["State"]["Name"] for i in _instances()}
    assert states[standby.instance_id] in ("shutting-down", "terminated")
    assert run.dropped_standby_cost_usd > 0 and run.segments[-1].instance_id == fresh.instance_id
