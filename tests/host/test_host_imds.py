"""The IMDSv2 client against a loopback metadata service that enforces tokens."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from pitwall.host.imds import ImdsClient, MetadataUnavailable, SpotInstanceAction

from .fake_imds import FakeImds


@pytest.fixture
def imds():
    with FakeImds(instance_id="i-0abc", region="eu-west-1") as server:
        yield server


def test_the_fake_service_refuses_a_get_without_a_token(imds):
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(imds.base_url + "/latest/meta-data/instance-id", timeout=2)
    assert error.value.code == 401


def test_instance_id_and_region_come_with_one_session_token(imds):
    client = ImdsClient(imds.base_url)
    assert client.instance_id() == "i-0abc"
    assert client.region() == "eu-west-1"
    assert imds.token_requests == 1
    assert imds.rejected == []


def test_no_spot_notice_is_none_and_a_notice_is_parsed(imds):
    client = ImdsClient(imds.base_url)
    assert client.spot_instance_action() is None
    imds.spot_action = {"action": "terminate", "time": "2026-11-22T05:00:00Z"}
    assert client.spot_instance_action() == SpotInstanceAction("terminate", "2026-11-22T05:00:00Z")


def test_a_rejected_token_is_renewed_once(imds):
    client = ImdsClient(imds.base_url)
    client.instance_id()
    imds.revoke_tokens()
    assert client.instance_id() == "i-0abc"
    assert imds.token_requests == 2


def test_an_unreachable_service_is_a_clear_error():
    client = ImdsClient("http://127.0.0.1:9", timeout_seconds=0.5)
    with pytest.raises(MetadataUnavailable, match="/latest/api/token"):
        client.instance_id()
