"""`pitwall faults`: issue 4's fault matrix on the offline local cloud, as a demo of resilience.

Each case injects one fault when a short accelerated run reaches one lifecycle state, then
checks what the run kept: its checkpoints, no instance left running, the budget, the model's
lineage. The matrix ends the output; the exit code is 1 when any case did not survive.
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings

from pitwall.observability import logger
from pitwall_local.faults import FAULTS, STATES, fault_suite, format_matrix


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "faults", help="inject faults into runs on the local cloud; print the matrix"
    )
    parser.add_argument("--state", action="append", choices=STATES, help="only this state (repeatable)")
    parser.add_argument("--fault", action="append", choices=FAULTS, help="only this fault (repeatable)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    logger.setLevel(logging.WARNING)  # the Lambdas' and hosts' logs would drown the matrix
    logging.getLogger("moto").setLevel(logging.CRITICAL)  # failed executions are expected here
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    states, faults = args.state or list(STATES), args.fault or list(FAULTS)
    started = time.monotonic()
    with fault_suite() as suite:
        for state in states:
            for fault in faults:
                result = suite.run_case(state, fault)
                verdict = "survived" if result.survived else "NOT survived: " + "; ".join(result.problems)
                print(
                    f"[{time.monotonic() - started:5.1f}s] {fault} @ {state}: {result.segments} segment(s), "
                    f"{result.checkpoints_written} checkpoint(s); {verdict}",
                    flush=True,
                )
        print(format_matrix(suite.results))
        return 0 if all(result.survived for result in suite.results) else 1
