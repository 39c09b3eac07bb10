"""The baked host image of template.yaml bakes what the hosts and the controller pin: the DRFC
version, commit and folder, the simulator images for GPU and CPU, the marker files the user data and the
agent look for; and the controller launches it once the pipeline has written its id."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from pitwall.host.backends.drfc import PREPARED_MARKER
from pitwall.host.userdata import (
    BAKED_IMAGE_MARKER,
    DEFAULT_DRFC_DIR,
    DEFAULT_DRFC_VERSION,
    DRFC_COMMITS,
    DRFC_REPOSITORY,
)
from pitwall.lifecycle.drfc import SIMAPP_RELEASE, SIMAPP_SOURCE

REPO = Path(__file__).resolve().parents[3]


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags kept as {"Tag": value}."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node, deep=True)}
    return {suffix: loader.construct_mapping(node, deep=True)}  # type: ignore[arg-type]


_CfnLoader.add_multi_constructor("!", _tag)
TEMPLATE = yaml.load((REPO / "template.yaml").read_text(), Loader=_CfnLoader)


def _build_commands() -> list[str]:
    component = TEMPLATE["Resources"]["HostImageComponent"]["Properties"]
    document = yaml.safe_load(component["Data"])
    (build,) = [phase for phase in document["phases"] if phase["name"] == "build"]
    return [command for step in build["steps"] for command in step.get("inputs", {}).get("commands", [])]


def test_the_image_bakes_the_pinned_drfc_in_the_folder_the_hosts_use() -> None:
    commands = _build_commands()
    clone = (
        f"git clone --quiet --depth 1 --branch {DEFAULT_DRFC_VERSION} {DRFC_REPOSITORY} {DEFAULT_DRFC_DIR}"
    )
    assert clone in commands
    assert f"cd {DEFAULT_DRFC_DIR} && bash bin/prepare.sh" in commands
    assert f"touch {DEFAULT_DRFC_DIR}/{PREPARED_MARKER}" in commands  # the agent skips prepare.sh
    assert f"cd {DEFAULT_DRFC_DIR} && bash bin/init.sh -c aws -a gpu" in commands
    assert TEMPLATE["Resources"]["HostImageComponent"]["Properties"]["Version"] == SIMAPP_RELEASE


def _check_after_the_clone() -> str:
    commands = _build_commands()
    clone = next(command for command in commands if command.startswith("git clone "))
    return commands[commands.index(clone) + 1]


def _run_check(check: str, drfc_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", check.replace(DEFAULT_DRFC_DIR, str(drfc_dir))], capture_output=True, text=True
    )


def test_the_image_checks_its_clone_against_the_commit_the_hosts_pin(tmp_path: Path) -> None:
    pinned = DRFC_COMMITS[DEFAULT_DRFC_VERSION]
    check = _check_after_the_clone()
    assert f"!= {pinned} ]" in check
    # the component's name carries the commit: a new pin is a new component, not a changed one
    assert TEMPLATE["Resources"]["HostImageComponent"]["Properties"]["Name"]["Sub"].endswith(pinned[:7])
    # Given a clone whose tag was moved to another commit
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"]
    git = ["git", *identity, "-C", str(tmp_path)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "moved"], check=True)
    moved = subprocess.run(
        [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    # Then the build step fails, naming both commits
    refused = _run_check(check, tmp_path)
    assert refused.returncode != 0 and moved in refused.stdout and pinned in refused.stdout
    # and the same step passes on the commit it expects
    assert _run_check(check.replace(pinned, moved), tmp_path).returncode == 0


def test_the_image_holds_the_simulator_for_gpu_and_cpu_and_is_marked_last() -> None:
    commands = _build_commands()
    for kind in ("gpu", "cpu"):
        assert f"docker pull -q {SIMAPP_SOURCE}:{SIMAPP_RELEASE}-{kind}" in commands
    assert commands[-1] == f"echo DRFC_VERSION={DEFAULT_DRFC_VERSION} > {BAKED_IMAGE_MARKER}"


def test_the_newest_image_goes_to_the_parameter_the_controller_reads_and_one_more_is_kept() -> None:
    resources = TEMPLATE["Resources"]
    (distribution,) = resources["HostImageDistribution"]["Properties"]["Distributions"]
    (parameter,) = distribution["SsmParameterConfigurations"]
    controller = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]["PITWALL_HOST_IMAGE_PARAMETER"]
    assert parameter["ParameterName"] == controller
    assert not parameter["ParameterName"]["Sub"].startswith("/aws/")
    schedule = resources["HostImagePipeline"]["Properties"]["Schedule"]["ScheduleExpression"]
    assert schedule.startswith("cron(") and schedule.split()[2] == "1"  # monthly
    lifecycle = resources["HostImageLifecycle"]["Properties"]["PolicyDetails"][0]
    assert lifecycle["Filter"] == {"Type": "COUNT", "Value": 2}


def test_the_base_image_is_aws_public_deep_learning_base_parameter() -> None:
    parameter = TEMPLATE["Parameters"]["HostImageId"]
    assert parameter["Type"] == "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"
    assert parameter["Default"].startswith("/aws/service/deeplearning/ami/x86_64/")
    assert "ubuntu-22.04" in parameter["Default"]
