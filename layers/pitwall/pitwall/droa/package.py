"""The package DRoA imports, and the car file, built in one place from what a run's lineage of
segments holds in S3. Pure: listings and documents in, file plans and bytes out.

DRoA reads, under the uploaded folder: `training_params.yaml` (typed YAML: WORLD_NAME a DRoA track
id without `_cw`/`_ccw`, TRACK_DIRECTION_CLOCKWISE a real boolean, the race-type keys; the track
must be one DRoA publishes, in that direction),
`model_metadata.json` (also in `model/`), `reward_function.py`, `ip/hyperparameters.json`, and
`model/` with ONE checkpoint: its `.ckpt` files, `model_<N>.pb`, `.coach_checkpoint` naming it and
`deepracer_checkpoints.json` with last = best = it. DRFC writes every parameter as a quoted string
and keeps several checkpoints, so the package is rebuilt rather than copied.
"""

from __future__ import annotations

import difflib
import gzip
import io
import json
import re
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from pitwall import layout
from pitwall.droa import contract
from pitwall.errors import CheckpointMissing, DroaTrackUnknown, InvalidImportRequest

CHOICE_PATTERN = r"^(best|last|\d+)$"  # an import's checkpoint: best, last or a number
CHOICE = re.compile(CHOICE_PATTERN)
CHECKPOINT_FILE = re.compile(r"/model/(?P<name>\d+_Step-\d+\.ckpt)\.index$")
CAR_MODEL_PATH = "agent/model.pb"
DEFAULT_BODY_SHELL = "deepracer"
DEFAULT_CAR_COLOR = "Red"
_INTEGER = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")
# Where the training job read and wrote (S3 locations in Pitwall's bucket, the job's ARN, its
# video stream) and the direction flag folded into TRACK_DIRECTION_CLOCKWISE: DRoA's import reads
# only the track, direction, race-type and car keys of training_params.yaml, so these go
_DROPPED_PARAMS = frozenset(
    {
        "REVERSE_DIR",
        "MODEL_S3_BUCKET",
        "MODEL_S3_PREFIX",
        "SAGEMAKER_SHARED_S3_BUCKET",
        "SAGEMAKER_SHARED_S3_PREFIX",
        "METRICS_S3_BUCKET",
        "METRICS_S3_OBJECT_KEY",
        "MODEL_METADATA_FILE_S3_KEY",
        "REWARD_FILE_S3_KEY",
        "SIMTRACE_S3_BUCKET",
        "SIMTRACE_S3_PREFIX",
        "MP4_S3_BUCKET",
        "MP4_S3_OBJECT_PREFIX",
        "POLICY_MODEL_S3_BUCKET",
        "POLICY_MODEL_SAGEMAKER_S3_PREFIX",
        "S3_KMS_CMK_ARN",
        "TRAINING_JOB_ARN",
        "KINESIS_VIDEO_STREAM_NAME",
    }
)


# -- names -------------------------------------------------------------------------------------


def check_model_name(name: str) -> str:
    if not contract.MODEL_NAME.fullmatch(name):
        raise InvalidImportRequest(
            f"model name {name!r}: allowed are 1 to 64 letters, digits and '-' (DRoA's rule)"
        )
    return name


def check_description(description: str | None) -> str | None:
    if description is not None and not contract.MODEL_DESCRIPTION.fullmatch(description):
        raise InvalidImportRequest(
            f"model description {description!r}: allowed are 1 to 255 letters, digits, '-' and spaces "
            "(DRoA's rule)"
        )
    return description


def parse_choice(value: str) -> str:
    """`best`, `last` or a checkpoint number, as a racer writes it."""
    text = str(value).strip().lower()
    if not CHOICE.match(text):
        raise InvalidImportRequest(f"checkpoint {value!r}: allowed are best, last or a checkpoint number")
    return text


# -- choosing the checkpoint -------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentListing:
    """One segment of a run's lineage as S3 holds it now."""

    prefix: str
    checkpoints: Mapping[str, Any]  # its model/deepracer_checkpoints.json ({} when none)
    sizes: Mapping[str, int]  # every key under <prefix>/model/ -> its size in bytes

    def complete_checkpoints(self) -> list[str]:
        """Checkpoints whose every file (layout.ModelKeys.checkpoint_files) is present, oldest first."""
        model = layout.ModelKeys(self.prefix)
        names = {m["name"] for key in self.sizes if (m := CHECKPOINT_FILE.search(key))}
        return sorted(
            (n for n in names if all(k in self.sizes for k in model.checkpoint_files(n))),
            key=layout.checkpoint_number,
        )

    def record(self, which: str) -> dict[str, Any]:
        value = self.checkpoints.get(f"{which}_checkpoint") or {}
        return dict(value) if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class ChosenCheckpoint:
    prefix: str
    name: str
    choice: str
    record: Mapping[str, Any] = field(default_factory=dict)  # its deepracer_checkpoints.json entry

    @property
    def number(self) -> int:
        return layout.checkpoint_number(self.name)


def _metric(record: Mapping[str, Any]) -> float | None:
    value = record.get("avg_eval_metric", record.get("avg_comp_pct"))
    return None if value is None else float(value)


def _existing(lineage: Sequence[SegmentListing]) -> str:
    found = [f"{s.prefix}: {name}" for s in lineage for name in s.complete_checkpoints()]
    return "; ".join(found) if found else "none"


def choose_checkpoint(lineage: Sequence[SegmentListing], choice: str) -> ChosenCheckpoint:
    """The checkpoint to package: `best` over the whole lineage (highest evaluation metric, the
    later segment on a tie), `last` (of the latest segment that wrote one), or number N (the
    latest segment that has it). It must still be complete in S3: the simulator keeps only the
    newest four (plus the best), so an older choice may be gone; the error names what exists."""
    choice = parse_choice(choice)
    chosen: ChosenCheckpoint | None = None
    if choice == "best":
        ranked = [
            (metric if (metric := _metric(s.record("best"))) is not None else float("-inf"), i, s)
            for i, s in enumerate(lineage)
            if s.record("best").get("name")
        ]
        if ranked:
            _, _, segment = max(ranked, key=lambda item: (item[0], item[1]))
            record = segment.record("best")
            chosen = ChosenCheckpoint(segment.prefix, str(record["name"]), choice, record)
    elif choice == "last":
        for segment in reversed(lineage):
            record = segment.record("last")
            if record.get("name"):
                chosen = ChosenCheckpoint(segment.prefix, str(record["name"]), choice, record)
                break
    else:
        number = int(choice)
        for segment in reversed(lineage):
            named = [n for n in segment.complete_checkpoints() if layout.checkpoint_number(n) == number]
            if named:
                record = next(
                    (
                        segment.record(w)
                        for w in ("best", "last")
                        if segment.record(w).get("name") == named[0]
                    ),
                    {},
                )
                chosen = ChosenCheckpoint(segment.prefix, named[0], choice, record)
                break
    if chosen is None:
        raise CheckpointMissing(
            f"checkpoint {choice}: no segment of the run has it; these exist: {_existing(lineage)}"
        )
    segment = next(s for s in lineage if s.prefix == chosen.prefix)
    missing = [
        k for k in layout.ModelKeys(chosen.prefix).checkpoint_files(chosen.name) if k not in segment.sizes
    ]
    if missing:
        raise CheckpointMissing(
            f"checkpoint {choice} is {chosen.name} of {chosen.prefix}, but {', '.join(missing)} "
            f"no longer exist (the simulator keeps only the newest 4); these exist: {_existing(lineage)}"
        )
    return chosen


# -- training_params.yaml ------------------------------------------------------------------------


def _typed(value: Any) -> Any:
    """DRFC's quoted strings as the YAML types they stand for: booleans, integers, floats."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if _INTEGER.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    return value


def droa_track(world_name: str, reverse: bool) -> tuple[str, bool]:
    """DRFC's WORLD_NAME (maybe `_cw`/`_ccw`, maybe `.npy`) and REVERSE_DIR -> (DRoA track id,
    clockwise), for a track DRoA has in that direction (else DroaTrackUnknown, before any call).

    A name without a suffix is the track's own file: it runs the only way DRoA offers a one-way
    track (Albert: clockwise), and counter-clockwise for every other track (both as the simulator's
    waypoints go); REVERSE_DIR turns it round."""
    name = world_name.strip().removesuffix(".npy")
    suffix = ""
    for variant in ("_ccw", "_cw"):
        if name.endswith(variant):
            name, suffix = name.removesuffix(variant), variant
            break
    known = contract.tracks()
    directions = known.get(name)
    if directions is None:
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
        raise DroaTrackUnknown(
            f"training_params.yaml: WORLD_NAME {world_name!r}: DRoA has no track {name!r}"
            + (f" (close names: {', '.join(close)})" if close else "")
        )
    own_way = suffix == "_cw" if suffix else directions == {contract.TrackDirection.CLOCKWISE}
    clockwise = own_way != reverse
    trained = contract.TrackDirection.CLOCKWISE if clockwise else contract.TrackDirection.COUNTER_CLOCKWISE
    if trained not in directions:
        offered = " and ".join(sorted(d.value for d in directions))
        raise DroaTrackUnknown(
            f"training_params.yaml: WORLD_NAME {world_name!r} (REVERSE_DIR {str(reverse).lower()}) is "
            f"track {name} driven {trained.value}; DRoA has {name} only {offered}, so it would take "
            "the model for one driven the other way"
        )
    return name, clockwise


def droa_training_params(drfc_yaml: bytes) -> str:
    """DRFC's training_params.yaml as DRoA reads it (real booleans and numbers, DRoA's track id
    and direction, the race-type keys)."""
    try:
        document = yaml.safe_load(drfc_yaml)
    except yaml.YAMLError as exc:
        raise DroaTrackUnknown(f"training_params.yaml: not YAML ({exc})") from exc
    if not isinstance(document, dict) or not str(document.get("WORLD_NAME") or "").strip():
        raise DroaTrackUnknown("training_params.yaml: no WORLD_NAME (the track)")
    params = {str(k): _typed(v) for k, v in document.items()}
    reverse = params.get("REVERSE_DIR") is True
    track, clockwise = droa_track(str(params["WORLD_NAME"]), reverse)
    out: dict[str, Any] = {k: v for k, v in params.items() if k not in _DROPPED_PARAMS}
    out["WORLD_NAME"] = track
    out["TRACK_DIRECTION_CLOCKWISE"] = clockwise
    race_type = str(out.get("RACE_TYPE") or "TIME_TRIAL")
    out["RACE_TYPE"] = race_type
    if race_type == "OBJECT_AVOIDANCE":
        positions = out.get("OBJECT_POSITIONS") or []
        if isinstance(positions, str):  # DRFC's run.env form: "pct,lane;pct,lane"
            positions = [p.strip() for p in positions.split(";") if p.strip()]
        out["OBJECT_POSITIONS"] = [str(p) for p in positions]
        out["NUMBER_OF_OBSTACLES"] = int(out.get("NUMBER_OF_OBSTACLES") or len(positions))
        out["RANDOMIZE_OBSTACLE_LOCATIONS"] = out.get("RANDOMIZE_OBSTACLE_LOCATIONS") is True
    out["BODY_SHELL_TYPE"] = str(out.get("BODY_SHELL_TYPE") or DEFAULT_BODY_SHELL)
    out["CAR_COLOR"] = str(out.get("CAR_COLOR") or DEFAULT_CAR_COLOR)
    return yaml.safe_dump(out, sort_keys=False, default_flow_style=False)


# -- the package ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PackageFile:
    """One file of the package: its path under the package folder and either its content or the
    model-bucket key it is copied from (checkpoints are large: copied, never held in memory)."""

    path: str
    size: int
    body: bytes | None = None
    source_key: str | None = None


@dataclass(frozen=True)
class DroaPackage:
    checkpoint: ChosenCheckpoint
    files: tuple[PackageFile, ...]

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def file(self, path: str) -> PackageFile:
        return next(f for f in self.files if f.path == path)


def _text(path: str, body: bytes) -> PackageFile:
    return PackageFile(path=path, size=len(body), body=body)


def build_package(
    chosen: ChosenCheckpoint,
    *,
    training_params: bytes,
    model_metadata: bytes,
    reward_function: bytes,
    hyperparameters: bytes,
    sizes: Mapping[str, int],
) -> DroaPackage:
    """DRoA's layout for one checkpoint. `training_params` is DRFC's file of the chosen segment;
    `sizes` the segment's model/ listing (the checkpoint's files are copied from there)."""
    model = layout.ModelKeys(chosen.prefix)
    record = {"name": chosen.name, **{k: v for k, v in chosen.record.items() if k != "name"}}
    checkpoints = {"best_checkpoint": record, "last_checkpoint": record}
    files = [
        _text("training_params.yaml", droa_training_params(training_params).encode()),
        _text(layout.MODEL_METADATA_FILE, model_metadata),
        _text(layout.REWARD_FUNCTION_FILE, reward_function),
        _text(f"ip/{layout.HYPERPARAMETERS_FILE}", hyperparameters),
        _text(f"model/{layout.MODEL_METADATA_FILE}", model_metadata),
        _text("model/.coach_checkpoint", chosen.name.encode()),
        _text("model/deepracer_checkpoints.json", (json.dumps(checkpoints, indent=2) + "\n").encode()),
    ]
    for key in model.checkpoint_files(chosen.name):
        files.append(PackageFile(path=key.removeprefix(chosen.prefix + "/"), size=sizes[key], source_key=key))
    package = DroaPackage(checkpoint=chosen, files=tuple(files))
    skipped = [f.path for f in package.files if f.path.endswith(contract.SKIPPED_SUFFIXES)]
    if skipped:  # DRoA would silently leave them out
        raise InvalidImportRequest(f"package: DRoA skips {skipped} (.gz/.zip)")
    if package.total_bytes > contract.MAX_PACKAGE_BYTES:
        raise InvalidImportRequest(
            f"package of {chosen.name}: {package.total_bytes} bytes; DRoA takes at most "
            f"{contract.MAX_PACKAGE_BYTES} per model"
        )
    return package


def frozen_graph(package: DroaPackage) -> PackageFile:
    """The checkpoint's frozen graph (model/model_<N>.pb): what the car runs."""
    return package.file(f"model/model_{package.checkpoint.number}.pb")


def car_file(model_pb: bytes, model_metadata: bytes) -> bytes:
    """carfile.tar.gz for the physical car: agent/model.pb and model_metadata.json (no TensorFlow
    needed: the simapp froze the graph at the checkpoint). Byte-for-byte reproducible."""
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as archive,
    ):
        for name, body in ((CAR_MODEL_PATH, model_pb), (layout.MODEL_METADATA_FILE, model_metadata)):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(body), 0o644, 0
            archive.addfile(info, io.BytesIO(body))
    return buffer.getvalue()
