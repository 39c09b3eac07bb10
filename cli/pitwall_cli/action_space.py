"""`pitwall action-space discrete|continuous`: write a model_metadata.json for an action space."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import get_args

from pitwall.customfiles.metadata import NeuralNetwork
from pitwall_cli.action_spaces import (
    ALGORITHMS,
    DEFAULT_NETWORK,
    InvalidActionSpace,
    continuous_bounds,
    discrete_actions,
    model_metadata,
)

# Let values such as `-30:30` or `-15,0,15` follow an option without `=` (argparse would take
# them for options otherwise; these parsers have no options that look like numbers).
_NUMERIC_VALUE = re.compile(r"^-[\d.]+([:,]-?[\d.]+)*$")


def _numbers(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: expected numbers separated by commas") from exc


def _bounds(text: str) -> tuple[float, float]:
    try:
        low, high = (float(part) for part in text.split(":"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: expected LOW:HIGH, e.g. 0.5:3.5") from exc
    return low, high


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("action-space", help="write a model_metadata.json for an action space")
    kinds = parser.add_subparsers(dest="kind", required=True)

    discrete = kinds.add_parser("discrete", help="a grid of speeds x steering angles (2..30 actions)")
    discrete.add_argument("--speeds", type=_numbers, required=True, help="m/s, e.g. 1,2,3")
    discrete.add_argument(
        "--angles", type=_numbers, required=True, help="degrees, left positive, e.g. 0,15,30"
    )
    discrete.add_argument("--symmetric", action="store_true", help="add each angle's mirror image")

    continuous = kinds.add_parser("continuous", help="low/high bounds of speed and steering")
    continuous.add_argument("--speed", type=_bounds, required=True, help="LOW:HIGH m/s, e.g. 0.5:3.5")
    continuous.add_argument("--steering", type=_bounds, required=True, help="LOW:HIGH degrees, e.g. -30:30")

    for kind, algorithms in ((discrete, ("clipped_ppo",)), (continuous, ALGORITHMS)):
        kind._negative_number_matcher = _NUMERIC_VALUE
        kind.add_argument("--algorithm", choices=algorithms, default="clipped_ppo")
        kind.add_argument("--network", choices=get_args(NeuralNetwork), default=DEFAULT_NETWORK)
        kind.add_argument("-o", "--output", type=Path, help="write here instead of printing")
        kind.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        if args.kind == "discrete":
            space: list | dict = discrete_actions(args.speeds, args.angles, symmetric=args.symmetric)
        else:
            space = continuous_bounds(args.speed, args.steering)
        document = model_metadata(space, training_algorithm=args.algorithm, neural_network=args.network)
    except InvalidActionSpace as exc:
        print(f"pitwall action-space: {exc}", file=sys.stderr)
        return 2
    text = json.dumps(document, indent=4) + "\n"
    if args.output:
        args.output.write_text(text)
        print(f"wrote {args.output} ({args.kind}, {_size(space)})")
    else:
        sys.stdout.write(text)
    return 0


def _size(space: list | dict) -> str:
    return f"{len(space)} actions" if isinstance(space, list) else "bounds"
