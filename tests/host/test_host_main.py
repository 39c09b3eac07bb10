"""`python -m pitwall.host` end to end in-process: instance id from IMDSv2, the real backend on
fake DRFC commands, the real clock, emulated S3."""

from __future__ import annotations

import dataclasses
import time

from pitwall.host.__main__ import main
from pitwall.layout import RunKeys

from .conftest import BUCKET, REGION, make_spec, put_run, read_json
from .fake_drfc import FakeDrfc
from .fake_imds import FakeImds


def test_the_entry_point_runs_a_segment_to_its_deadline_and_powers_off(s3, tmp_path, monkeypatch):
    fake = FakeDrfc(tmp_path)
    for name, value in fake.env.items():
        monkeypatch.setenv(name, value)
    spec = dataclasses.replace(make_spec(), deadline_epoch=time.time() + 1.5, status_poll_seconds=0.1)
    put_run(s3, spec)
    with FakeImds(instance_id="i-0feedface0000001", region=REGION) as imds:
        code = main(
            [
                "--run-id",
                spec.run_id,
                "--bucket",
                BUCKET,
                "--region",
                REGION,
                "--drfc-dir",
                str(fake.drfc_dir),
                "--imds-url",
                imds.base_url,
            ]
        )
        assert imds.rejected == []
    assert code == 0
    status = read_json(s3, RunKeys(spec.run_id).host_status)
    assert (status["state"], status["sequence"], status["instance_id"]) == (
        "finished",
        3,
        "i-0feedface0000001",
    )
    assert fake.calls()[-3:] == ["dr-start-training -w -q", "dr-stop-training", "shutdown -h now"]
    log_key = RunKeys(spec.run_id).host_instance_log("i-0feedface0000001")
    assert b"powering the instance off" in s3.get_object(Bucket=BUCKET, Key=log_key)["Body"].read()
