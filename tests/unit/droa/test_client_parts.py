"""The DRoA client's pure parts: env.js, the browser's headers, what an HTTP status means."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pitwall.droa.client import _http_error, browser_headers, parse_env_js
from pitwall.errors import DroaBlocked, DroaImportRejected, DroaUnavailable, NotADroaSite

ENV_JS = """window.EnvironmentConfig = {
  apiEndpointUrl: "https://abc.execute-api.eu-west-1.amazonaws.com/prod/",
  userPoolId: 'eu-west-1_AbC', "userPoolClientId": "client", identityPoolId: "eu-west-1:1-2",
  region: "eu-west-1", uploadBucketName: "droa-uploads", otherSetting: "x"
};"""


def test_env_js_gives_every_field_quoted_or_not():
    env = parse_env_js("https://droa.example", ENV_JS)
    assert env.api_endpoint_url == "https://abc.execute-api.eu-west-1.amazonaws.com/prod"
    assert (env.user_pool_id, env.region, env.upload_bucket_name) == (
        "eu-west-1_AbC",
        "eu-west-1",
        "droa-uploads",
    )


def test_a_page_without_the_config_or_a_field_is_not_a_droa_site():
    with pytest.raises(NotADroaSite, match="EnvironmentConfig"):
        parse_env_js("https://example.com", "<html>hello</html>")
    with pytest.raises(NotADroaSite, match="uploadBucketName"):
        parse_env_js("https://example.com", ENV_JS.replace("uploadBucketName", "bucket"))


def test_requests_look_like_the_sites_own_pages():
    headers = browser_headers("https://droa.example/")
    assert headers["User-Agent"].startswith("Mozilla/5.0")
    assert headers["Origin"] == "https://droa.example" and headers["Referer"] == "https://droa.example/"
    assert headers["Sec-Fetch-Mode"] == "cors"


@pytest.mark.parametrize(
    ("status", "error"),
    [(403, DroaBlocked), (429, DroaUnavailable), (502, DroaUnavailable), (400, DroaImportRejected)],
)
def test_each_status_is_the_error_a_racer_can_act_on(status, error):
    assert isinstance(_http_error("POST /importmodel", status, "body"), error)


def test_the_longest_import_limit_and_poll_fit_inside_the_import_machines_own_limit():
    repo = Path(__file__).resolve().parents[3]
    template = (repo / "template.yaml").read_text()

    def most(parameter: str) -> int:
        block = re.search(rf"\n  {parameter}:\n((?:    .*\n)+)", template)
        found = re.search(r"MaxValue: (\d+)", block.group(1) if block else "")
        assert found, f"{parameter} has no MaxValue"
        return int(found.group(1))

    machine = json.loads((repo / "statemachines" / "import.asl.json").read_text())
    # the limit counts from the import's start; after it, one more poll and the record
    assert most("ImportTimeoutMinutes") * 60 + most("ImportPollSeconds") + 900 < machine["TimeoutSeconds"]
