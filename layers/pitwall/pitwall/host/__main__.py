"""`python3 -m pitwall.host --run-id R --bucket B --region AWS_REGION`: the instance's entry point,
started by the user data. Runs one segment with the real DRFC backend and exits 0 when the
work finished or was saved, 1 otherwise (the instance is powered off either way)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import boto3

from pitwall.clock import SystemClock
from pitwall.host.agent import HostAgent
from pitwall.host.backends.drfc import DEFAULT_DRFC_DIR, RealDrfc
from pitwall.host.imds import DEFAULT_BASE_URL, ImdsClient
from pitwall.host.protocol import HostState


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python3 -m pitwall.host", description=__doc__.splitlines()[0])
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--drfc-dir", type=Path, default=DEFAULT_DRFC_DIR)
    parser.add_argument("--instance-id", help="default: asked of the instance metadata service")
    parser.add_argument("--imds-url", default=DEFAULT_BASE_URL)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    metadata = ImdsClient(args.imds_url)
    instance_id = args.instance_id or metadata.instance_id()
    s3 = boto3.session.Session().client("s3", region_name=args.region)
    clock = SystemClock()
    agent = HostAgent(
        s3=s3,
        bucket=args.bucket,
        run_id=args.run_id,
        instance_id=instance_id,
        backend=RealDrfc(s3=s3, clock=clock, drfc_dir=args.drfc_dir),
        clock=clock,
        metadata=metadata,
    )

    def on_terminate(signum: int, frame: Any) -> None:
        # the instance is going down: stop in another thread (never inside a signal handler,
        # where the main thread may hold the backend's lock)
        threading.Thread(target=agent.stop, name="pitwall-stop", daemon=True).start()

    signal.signal(signal.SIGTERM, on_terminate)
    state = agent.run()
    return 0 if state in (HostState.FINISHED, HostState.SAVED) else 1


if __name__ == "__main__":
    sys.exit(main())
