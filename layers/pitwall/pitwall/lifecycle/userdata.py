"""The user data of a launched instance: the host agent's boot script (`pitwall.host.userdata`)."""

from __future__ import annotations

from pitwall.host.protocol import RunSpec


def user_data_for(spec: RunSpec, run_spec_key: str) -> str:
    try:
        from pitwall.host import userdata
    except ImportError:
        # TODO(helper D): replace by pitwall.host.userdata once it lands
        return "\n".join(
            [
                "#!/bin/bash",
                "set -euo pipefail",
                f"# Pitwall host for run {spec.run_id}, segment {spec.segment}: s3://{spec.bucket}/{run_spec_key}",
                f"shutdown -h +{max(1, int((spec.deadline_epoch - 0) // 60))} || true",
            ]
        )
    return str(userdata.render(spec))
