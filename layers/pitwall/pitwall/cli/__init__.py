"""`pitwall`: the racer's command line. Each sub-command lives in its own module of this package
and exposes `register(subparsers)`; the module adds its parser and sets `func` to run it.
A command returns its exit code."""

from __future__ import annotations

import argparse
import importlib
import sys

# One line per command module; a new command adds its module here.
COMMAND_MODULES: tuple[str, ...] = (
    "tracks",
    "action_space",
    "validate",
    "demo",
    "runs",
    "submit",
    "metrics",
    "faults",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pitwall",
        description="Train DeepRacer models on spot instances: validate, run and watch training.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"pitwall.cli.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
