"""`pitwall demo` ends with the cockpit: the HTML report of its first model, its path printed,
and no CloudWatch metric documents in the story it tells; a schedule evaluates the second model
while it trains, and the `pitwall evaluations` table of both models on both tracks ends the story.
With `--out DIR` it leaves every bucket in DIR: a package DRoA's reading rules accept and the car
file. One demo run serves all of it."""

from __future__ import annotations

import io
import re
import tarfile
from pathlib import Path

import pytest

from pitwall_cli import main
from pitwall_local.droa import DroaDouble


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_the_demo_schedules_reports_imports_and_with_out_writes_every_bucket(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report, out_dir = tmp_path / "first-model.html", tmp_path / "out"
    assert main(["demo", "--report", str(report), "--out", str(out_dir)]) == 0
    out = capsys.readouterr().out
    # the story ends with the report, then `pitwall evaluations`, then (--out) where the buckets went
    assert f"\nreport of demo-model: {report.resolve()}\n\npitwall evaluations\n" in out
    *table, written = out.rstrip().split("\npitwall evaluations\n")[-1].splitlines()
    assert written.endswith(f"objects of every bucket written to {out_dir}/")
    # a schedule fired while the faster model trained and evaluated its newest checkpoint on both tracks
    fired = r"schedule +fired: evaluated \d+_Step-\d+\.ckpt while training: "
    fired += r"reInvent2019_track \d+%, 2022_april_open \d+%$"
    assert re.search(fired, out, re.MULTILINE), out
    # the table: both models, each on both tracks
    header, *rows = table
    assert header.split()[:3] == ["model", "track", "dir"]
    assert sorted(tuple(row.split()[:3]) for row in rows) == [
        ("demo-model", "2022_april_open", "cw"),
        ("demo-model", "reInvent2019_track", "cw"),
        ("demo-model-faster", "2022_april_open", "cw"),
        ("demo-model-faster", "reInvent2019_track", "cw"),
    ]
    page = report.read_text()
    assert "<h1>demo-model</h1>" in page and "Plotly.newPlot" in page
    assert '"_aws"' not in out  # the in-process Lambdas' metrics stay out of the story
    # the demo printed the DRoA model id, READY
    assert re.search(r"-> DRoA model [0-9a-f]{32}: READY$", out, re.MULTILINE), out
    # DIR holds DRoA's upload bucket: the uploaded package passes DRoA's reading rules
    packages = [p for p in out_dir.glob("*/uploads/models/*") if p.is_dir()]
    assert len(packages) == 1, packages
    droa = DroaDouble(region="us-east-1", clock=lambda: 0.0)
    assert droa.check_import(_files(packages[0])) is None
    # and Pitwall's bucket: the car file beside the kept export
    car_files = list(out_dir.glob("*/runs/*/imports/*/carfile.tar.gz"))
    assert len(car_files) == 1, car_files
    with tarfile.open(fileobj=io.BytesIO(car_files[0].read_bytes()), mode="r:gz") as car:
        assert sorted(car.getnames()) == ["agent/model.pb", "model_metadata.json"]
        graph = car.extractfile("agent/model.pb")
        assert graph is not None
        model_pb = graph.read()
    # agent/model.pb is the frozen graph of the checkpoint the export holds
    export = car_files[0].parent / "droa" / "model"
    number = (export / ".coach_checkpoint").read_text().split("_Step")[0]
    assert model_pb and model_pb == (export / f"model_{number}.pb").read_bytes()
