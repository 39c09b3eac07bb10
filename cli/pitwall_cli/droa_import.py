"""`pitwall import RUN` and `pitwall car RUN`: a trained run's model into DeepRacer on AWS (DRoA),
into a folder for DRoA's folder upload, or onto the physical car.

- `pitwall import RUN [--checkpoint best|last|N] [--name] [--description]` starts the stack's
  Import machine (sign in, upload, import, wait for READY); follow it with `pitwall status RUN`.
- `pitwall import RUN --to-folder DIR` writes DRoA's package to DIR, with no call to DRoA.
- `pitwall car RUN [--checkpoint ...] [-o FILE]` writes carfile.tar.gz (agent/model.pb and
  model_metadata.json) for the car's upload page.

The runs table, the model bucket and the Import machine come from the stack's outputs unless
`--table`, `--bucket` and `--state-machine` name them.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path

from pitwall import aws
from pitwall.adapters.runs_table import RunsTable
from pitwall.adapters.store import ObjectStore
from pitwall.droa import package
from pitwall.errors import DroaNotConfigured, PitwallError
from pitwall.lifecycle.droa_import import build_export, car_file_of
from pitwall.lifecycle.models import ImportInput
from pitwall.settings import DROA_NOT_CONFIGURED
from pitwall_cli.runs import add_location, describe_stack, stack_outputs


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_id", metavar="RUN")
    parser.add_argument("--checkpoint", default="best", help="best (over all segments, default), last or N")
    parser.add_argument("--bucket", help="the model bucket, instead of reading it from the stack")
    add_location(parser)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("import", help="import a trained run's model into DRoA (or a folder)")
    _add_common(parser)
    parser.add_argument("--name", help="the model's name in DRoA (default: the run's model name)")
    parser.add_argument("--description", help="the model's description in DRoA")
    parser.add_argument("--to-folder", type=Path, metavar="DIR", help="write DRoA's package here; no DRoA")
    parser.add_argument("--state-machine", help="the Import machine's ARN, instead of the stack's")
    parser.set_defaults(func=run_import)
    car = subparsers.add_parser("car", help="write a trained run's car file (carfile.tar.gz)")
    _add_common(car)
    car.add_argument(
        "-o", "--output", type=Path, default=Path("carfile.tar.gz"), help="default: ./carfile.tar.gz"
    )
    car.set_defaults(func=write_car_file)


def _outputs(args: argparse.Namespace, *names: str) -> dict[str, str]:
    given = {"RunsTableName": args.table, "ModelBucketName": args.bucket}
    given["ImportStateMachineArn"] = getattr(args, "state_machine", None)
    if all(given.get(name) for name in names):
        return {name: str(given[name]) for name in names}
    found = stack_outputs(args)
    return {name: str(given.get(name) or found[name]) for name in names}


def _export(args: argparse.Namespace) -> tuple[package.DroaPackage, ObjectStore]:
    where = _outputs(args, "RunsTableName", "ModelBucketName")
    run = RunsTable(where["RunsTableName"]).get(args.run_id)
    store = ObjectStore(where["ModelBucketName"])
    return build_export(run, store, args.checkpoint), store


def _check_droa_configured(args: argparse.Namespace) -> None:
    """Refuse at once on a stack deployed without DRoA's settings (the parameters' defaults):
    the Import machine would only fail on them. Unknown when `--state-machine` names the machine."""
    if args.state_machine:
        return
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in describe_stack(args).get("Parameters", [])}
    empty = [name for name in ("DroaSiteUrl", "DroaUserName") if not parameters.get(name)]
    if empty:
        raise DroaNotConfigured(f"{DROA_NOT_CONFIGURED} (stack {args.stack}: empty {', '.join(empty)})")


def run_import(args: argparse.Namespace) -> int:
    try:
        if args.to_folder:
            return _to_folder(args)
        request = ImportInput(
            run_id=args.run_id,
            checkpoint=package.parse_choice(args.checkpoint),
            model_name=package.check_model_name(args.name) if args.name else None,
            description=package.check_description(args.description),
        )
        _check_droa_configured(args)
        arn = _outputs(args, "ImportStateMachineArn")["ImportStateMachineArn"]
        answer = aws.client("stepfunctions", args.region).start_execution(
            stateMachineArn=arn,
            name=f"{args.run_id[:40]}-{uuid.uuid4().hex[:12]}",
            input=json.dumps(request.model_dump(mode="json", exclude_none=True)),
        )
    except PitwallError as error:
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(f"import started: {answer['executionArn']}")
    print(f"follow it with `pitwall status {args.run_id}`")
    return 0


def _to_folder(args: argparse.Namespace) -> int:
    built, store = _export(args)
    folder: Path = args.to_folder
    for file in built.files:
        target = folder / file.path
        target.parent.mkdir(parents=True, exist_ok=True)
        body = file.body if file.source_key is None else store.get_bytes(file.source_key)
        target.write_bytes(body or b"")
    chosen = built.checkpoint
    print(
        f"{chosen.name} of {chosen.prefix}: {len(built.files)} files, {built.total_bytes} bytes in {folder}"
    )
    print("upload the folder on DRoA's import page (Models > Import)")
    return 0


def write_car_file(args: argparse.Namespace) -> int:
    try:
        built, store = _export(args)
        args.output.write_bytes(car_file_of(built, store))
    except PitwallError as error:
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(f"{args.output}: agent/model.pb ({built.checkpoint.name}) and model_metadata.json")
    return 0
