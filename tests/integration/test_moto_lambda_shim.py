"""The local cloud runs Lambda handlers in-process by replacing ONE moto hook. If a moto upgrade
moves or renames it, these tests fail first (and say which hook)."""

from __future__ import annotations

import inspect
import io
import json
import zipfile
from pathlib import Path

import boto3
from moto import mock_aws
from moto.awslambda.models import LambdaFunction

from pitwall_local.moto_lambda_shim import HOOK_NAME, LambdaShim, lambdas_in_process

HANDLER = """
def lambda_handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"echo": event, "function": context.function_name}
"""


def test_moto_invokes_functions_through_the_hook_the_shim_replaces() -> None:
    hook = getattr(LambdaFunction, HOOK_NAME, None)
    assert callable(hook), f"moto.awslambda.models.LambdaFunction.{HOOK_NAME} is gone: update the shim"
    assert list(inspect.signature(hook).parameters) == ["self", "event"]
    assert HOOK_NAME in inspect.getsource(LambdaFunction.invoke)


def _function(tmp_path: Path) -> str:
    (tmp_path / "app.py").write_text(HANDLER)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(tmp_path / "app.py", "app.py")
    iam = boto3.client("iam")
    role = iam.create_role(RoleName="shim", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    boto3.client("lambda").create_function(
        FunctionName="shim-test",
        Runtime="python3.12",
        Role=role,
        Handler="app.lambda_handler",
        Code={"ZipFile": buffer.getvalue()},
    )
    return "shim-test"


def test_a_handler_runs_in_process_and_its_exception_becomes_the_error_type(tmp_path: Path) -> None:
    with mock_aws():
        name = _function(tmp_path)
        shim = LambdaShim({name: tmp_path})
        with lambdas_in_process(shim):
            client = boto3.client("lambda")
            ok = client.invoke(FunctionName=name, Payload=json.dumps({"a": 1}))
            failed = client.invoke(FunctionName=name, Payload=json.dumps({"fail": True}))
        assert json.loads(ok["Payload"].read()) == {"echo": {"a": 1}, "function": name}
        assert "FunctionError" not in ok
        error = json.loads(failed["Payload"].read())
        assert failed["FunctionError"] == "Handled"
        assert error["errorType"] == "ValueError"
        assert error["errorMessage"] == "asked to fail"
        assert [(i.function_name, i.errored) for i in shim.invocations] == [(name, False), (name, True)]
        # the hook is moto's own again afterwards
        assert getattr(LambdaFunction, HOOK_NAME).__module__ == "moto.awslambda.models"
