"""`pitwall status`'s text (`pitwall_cli.runs.describe`) for a run handing over."""

from __future__ import annotations

from pitwall import layout
from pitwall.runs import Pool, Run, RunKind, RunRequest, RunState, Segment
from pitwall_cli.runs import describe

NOW = 1_790_000_000.0


def _segment(index: int, instance_id: str, zone: str, host_state: str) -> Segment:
    return Segment(
        index=index,
        model_prefix=layout.segment_model_prefix("m", index),
        deadline_epoch=NOW + 3600,
        instance_id=instance_id,
        pool=Pool(instance_type="g4dn.2xlarge", availability_zone=zone, subnet_id=f"subnet-{zone}"),
        launched_at=NOW - 600,
        host_state=host_state,
    )


def test_status_shows_the_replacement_booting_for_a_hand_over_next_to_the_segment_it_replaces() -> None:
    run = Run(
        run_id="run-1",
        kind=RunKind.TRAIN,
        request=RunRequest(model_name="m", track="reInvent2019_track"),
        state=RunState.RUNNING,
        created_at=NOW - 900,
        updated_at=NOW,
        custom_files_prefix=layout.RunKeys("run-1").custom_files_prefix,
        segments=[_segment(0, "i-current", "us-east-1a", "started")],
        standby=_segment(1, "i-replacement", "us-east-1b", "ready"),
    )
    lines = describe(run, NOW).splitlines()
    assert lines[2] == (
        "  segment 0: models/m/seg-000 on i-current (g4dn.2xlarge/us-east-1a/spot), host started, "
        "checkpoint -"
    )
    assert lines[3] == (
        "  segment 1 (replacement, takes over at the hand-over): models/m/seg-001 on i-replacement "
        "(g4dn.2xlarge/us-east-1b/spot), host ready"
    )
