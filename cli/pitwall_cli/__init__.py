"""`pitwall`: the racer's command line. Each sub-command lives in a module of this package that
exposes `register(subparsers)`; the module adds its parser and sets `func` to run it. A command
returns its exit code.

Only the module of the command being run is imported, so `pitwall validate` never loads (nor
needs) what another command uses: the local cloud's moto, for instance, comes with the `local`
extra and is imported by `demo` and `faults` alone.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class Command:
    module: str  # the pitwall_cli module that registers it
    summary: str  # its one line in `pitwall --help`
    extra: str | None = None  # the pip extra its imports come from, when not installed by default


# One line per command; a new command adds its line here.
COMMANDS: dict[str, Command] = {
    "tracks": Command("tracks", "list the tracks or show one"),
    "action-space": Command("action_space", "write a model_metadata.json for an action space"),
    "validate": Command("validate", "check a custom-files folder and its run settings"),
    "submit": Command("submit", "validate a custom-files folder and start its training"),
    "runs": Command("runs", "list the runs of a deployed stack"),
    "status": Command("runs", "show one run: state, segments, outcome, evaluations"),
    "metrics": Command("metrics", "a run's rewards and completion per iteration, over all its segments"),
    "report": Command("report", "write one HTML report of a run: plots, track map, settings"),
    "import": Command("droa_import", "import a trained run's model into DRoA, or write its package"),
    "car": Command("droa_import", "write a trained run's car file (carfile.tar.gz)"),
    "demo": Command("demo", "run a whole lifecycle on the offline local cloud", extra="local"),
    "faults": Command(
        "faults", "inject faults into runs on the local cloud; print the matrix", extra="local"
    ),
    "up": Command(
        "local_stack", "start the local stack: offline AWS on 127.0.0.1 for every command", extra="local"
    ),
    "down": Command("local_stack", "stop the local stack started by `pitwall up`", extra="local"),
}


class MissingExtra(Exception):
    """A command's module imports a package of an extra that is not installed."""

    def __init__(self, command: str, extra: str, missing: str) -> None:
        super().__init__(
            f"pitwall {command} needs the '{extra}' extra ({missing} is not installed): "
            f"pip install 'pitwall[{extra}]'"
        )


def load_command(name: str) -> ModuleType:
    command = COMMANDS[name]
    try:
        return importlib.import_module(f"pitwall_cli.{command.module}")
    except ModuleNotFoundError as exc:
        if command.extra is None or exc.name is None or exc.name.startswith("pitwall"):
            raise
        raise MissingExtra(name, command.extra, exc.name.split(".")[0]) from exc


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; only `command`'s module is imported to add its options (the others
    appear by name and summary)."""
    parser = argparse.ArgumentParser(
        prog="pitwall",
        description="Train DeepRacer models on spot instances: validate, run and watch training.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    loaded = COMMANDS[command].module if command else None
    if command:
        load_command(command).register(subparsers)
    for name, spec in COMMANDS.items():
        if spec.module != loaded:  # the loaded module registered its commands itself
            subparsers.add_parser(name, help=spec.summary)
    return parser


def _command_named_in(argv: list[str]) -> str | None:
    return next((word for word in argv if not word.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = _command_named_in(argv)
    try:
        parser = build_parser(command if command in COMMANDS else None)
    except MissingExtra as exc:
        print(exc, file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
