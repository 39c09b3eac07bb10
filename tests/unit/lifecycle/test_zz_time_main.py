import time
from dataclasses import replace
from pitwall import aws, layout
from pitwall.lifecycle.provision import provision_instance
from pitwall.lifecycle.models import RunRef
from pitwall.runs import RunRequest, Run, RunKind


def test_time(deps):
    ec2 = aws.client("ec2", "us-east-1")
    base = ec2.describe_images()["Images"][0]["ImageId"]
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = tuple(
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=z)["Subnet"]["SubnetId"]
        for i, z in enumerate(("us-east-1a", "us-east-1b"))
    )
    sg = ec2.create_security_group(GroupName="g", Description="d", VpcId=vpc)["GroupId"]
    settings = deps.settings.model_copy(
        update={
            "security_group_id": sg,
            "subnet_ids": subnets,
            "instance_types": ("g4dn.2xlarge", "g5.2xlarge"),
            "image_id": base,
        }
    )
    deps = replace(deps, settings=settings)
    times = []
    for i in range(4):
        run = Run(
            run_id=f"r{i}",
            kind=RunKind.TRAIN,
            request=RunRequest(model_name="m", track="t"),
            created_at=0,
            updated_at=0,
            custom_files_prefix=layout.RunKeys(f"r{i}").custom_files_prefix,
        )
        assert deps.runs.create(run)
        start = time.perf_counter()
        provision_instance(RunRef(run_id=run.run_id), deps)
        times.append(time.perf_counter() - start)
    print("PROVISION_TIMES", [round(x, 3) for x in times])
