"""What every launch asks EC2 for, read back from the instance (moto)."""

from __future__ import annotations

from pitwall import aws
from pitwall.adapters.ec2 import Ec2, LaunchSpec
from pitwall.lifecycle.deps import Deps
from pitwall.runs import Pool


def test_a_host_requires_imdsv2_with_two_hops_for_drfcs_containers(deps: Deps) -> None:
    ec2 = aws.client("ec2")
    subnet = ec2.describe_subnets()["Subnets"][0]
    profile = aws.client("iam").create_instance_profile(InstanceProfileName="run-1-0", Path="/pitwall/")
    spec = LaunchSpec(
        image_id="ami-12c6146b",
        security_group_id=ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"],
        instance_profile_arn=profile["InstanceProfile"]["Arn"],
        user_data="#!/bin/sh\n",
        run_id="run-1",
        segment=0,
    )
    pool = Pool(
        instance_type="g4dn.2xlarge",
        availability_zone=subnet["AvailabilityZone"],
        subnet_id=subnet["SubnetId"],
    )
    instance_id = Ec2("us-east-1").launch(pool, spec)
    [instance] = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"]
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    assert instance["MetadataOptions"]["HttpPutResponseHopLimit"] == 2
    assert instance["IamInstanceProfile"]["Arn"].split(":instance-profile")[1].startswith("/pitwall/")
