"""Pitwall's DRoA client against the DRoA double (moto's Cognito and S3, a loopback API)."""

from __future__ import annotations

import io
import urllib.request
from collections.abc import Iterator

import pytest
from moto import mock_aws

from pitwall import aws
from pitwall.clock import ManualClock
from pitwall.droa.client import DroaClient
from pitwall.droa.contract import ModelStatus
from pitwall.errors import DroaBlocked, DroaImportRejected, DroaSignInFailed, DroaUnavailable, NotADroaSite
from pitwall_local import droa as double_module
from pitwall_local.droa import DroaDouble

GOOD_FILES = {
    "training_params.yaml": b"WORLD_NAME: reInvent2019_track\nTRACK_DIRECTION_CLOCKWISE: false\n",
    "model_metadata.json": b'{"action_space_type": "discrete", "action_space": []}',
    "reward_function.py": b"def reward_function(params):\n    return 1.0\n",
    "ip/hyperparameters.json": b'{"batch_size": 64}',
    "model/model_metadata.json": b"{}",
    "model/7_Step-700.ckpt.index": b"i",
    "model/7_Step-700.ckpt.meta": b"m",
    "model/7_Step-700.ckpt.data-00000-of-00001": b"d",
    "model/model_7.pb": b"pb",
    "model/.coach_checkpoint": b"7_Step-700.ckpt",
    "model/deepracer_checkpoints.json": b'{"best_checkpoint": {"name": "7_Step-700.ckpt"}, '
    b'"last_checkpoint": {"name": "7_Step-700.ckpt"}}',
}


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(scope="module")
def module_double(clock: ManualClock) -> Iterator[DroaDouble]:
    with mock_aws():
        aws.reset_clients()
        droa = DroaDouble(region="us-east-1", clock=clock.now, import_seconds=60).start()
        yield droa
        droa.stop()
        aws.reset_clients()


@pytest.fixture
def double(module_double: DroaDouble) -> Iterator[DroaDouble]:
    """The module's double, its fault switches cleared after each test."""
    yield module_double
    module_double.faults.waf_block = False
    module_double.faults.server_errors = 0


def client(double: DroaDouble, password: str = double_module.PASSWORD) -> DroaClient:
    return DroaClient(site_url=double.site_url, user_name=double_module.USER_NAME, password=password)


def upload(droa: DroaClient, files: dict[str, bytes]) -> str:
    path = droa.new_upload_path()
    for name, body in files.items():
        droa.upload(path, name, io.BytesIO(body))
    return path


def test_a_good_package_is_importing_then_ready_on_the_local_clock(double, clock):
    droa = client(double)
    model_id = droa.import_model(upload(droa, GOOD_FILES), "my-model", "Pitwall run 1")
    assert droa.model(model_id) == (ModelStatus.IMPORTING, None)
    clock.advance(61)
    assert droa.model(model_id) == (ModelStatus.READY, None)
    assert "password" not in repr(droa) and double_module.PASSWORD not in repr(droa)


def test_a_track_droa_lacks_is_refused_by_the_api_with_droas_message(double):
    droa = client(double)
    files = {**GOOD_FILES, "training_params.yaml": b"WORLD_NAME: Nowhere_track\n"}
    with pytest.raises(DroaImportRejected, match="Track Nowhere_track is not available in direction"):
        droa.import_model(upload(droa, files), "nowhere", None)


def test_two_checkpoints_end_in_error_after_the_import_workflow(double, clock):
    droa = client(double)
    files = {**GOOD_FILES, "model/8_Step-800.ckpt.index": b"i"}
    model_id = droa.import_model(upload(droa, files), "two-checkpoints", None)
    assert droa.model(model_id)[0] == ModelStatus.IMPORTING
    clock.advance(61)
    status, message = droa.model(model_id)
    assert status == ModelStatus.ERROR and "exactly one checkpoint" in (message or "")


def test_the_wrong_password_is_a_sign_in_failure(double):
    with pytest.raises(DroaSignInFailed, match="racer"):
        client(double, password="Not-the-password-1!").sign_in()


def test_a_site_without_env_js_is_not_a_droa_site(double):
    with pytest.raises(NotADroaSite):
        DroaClient(site_url=double.site_url + "/elsewhere", user_name="racer", password="x").environment()


def test_the_waf_block_is_a_named_403(double):
    double.faults.waf_block = True
    with pytest.raises(DroaBlocked, match="WAF"):
        client(double).import_model("uploads/models/x", "name", None)


def test_a_server_error_is_retryable(double):
    double.faults.server_errors = 1
    droa = client(double)
    path = upload(droa, GOOD_FILES)
    with pytest.raises(DroaUnavailable, match="503"):
        droa.import_model(path, "name", None)
    assert droa.import_model(path, "name", None)


def test_a_bad_name_is_refused_by_droa_with_400(double):
    with pytest.raises(DroaImportRejected, match="modelName"):
        client(double).import_model("uploads/models/x", "bad_name", None)


def test_the_double_blocks_a_non_browser_and_an_unsigned_request(double):
    def status(headers: dict[str, str]) -> int:
        request = urllib.request.Request(double.api_url + "/models/x", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    assert status({"User-Agent": "python-urllib/3.12"}) == 403
    assert status({"User-Agent": "Mozilla/5.0"}) == 403  # no SigV4 Authorization
