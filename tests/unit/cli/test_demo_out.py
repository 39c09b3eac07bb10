"""`pitwall demo --out DIR`: every bucket is written when the demo ends, however it ends."""

from __future__ import annotations

from pathlib import Path

import pytest
from moto import mock_aws

from pitwall import aws
from pitwall_cli.demo import Narrator, _buckets_written


def test_a_demo_that_fails_still_writes_every_bucket_even_an_empty_one(tmp_path: Path, capsys) -> None:
    with mock_aws():
        aws.reset_clients()
        s3 = aws.client("s3")
        s3.create_bucket(Bucket="pitwall-models")
        s3.create_bucket(Bucket="droa-uploads")
        s3.put_object(Bucket="pitwall-models", Key="runs/r1/spec.json", Body=b"{}")
        # When a step of the demo fails inside the context
        with pytest.raises(RuntimeError), _buckets_written(tmp_path, Narrator()):
            raise RuntimeError("a step failed")
    aws.reset_clients()
    # Then DIR holds each bucket, keys as paths, and an empty bucket as an empty folder
    assert (tmp_path / "pitwall-models" / "runs" / "r1" / "spec.json").read_bytes() == b"{}"
    assert (tmp_path / "droa-uploads").is_dir() and not any((tmp_path / "droa-uploads").iterdir())
    assert f"1 objects of every bucket written to {tmp_path}/" in capsys.readouterr().out
