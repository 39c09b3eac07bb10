"""What `pitwall report` shows, gathered from the run record and the model bucket: the lineage's
training metrics, the segments' timeline and prices, the evaluations, the training simtrace of
each segment (when the host wrote it), the custom files and the track's geometry.

Reading only: `report_html` turns it into the page.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from pitwall import layout
from pitwall.adapters.store import ObjectStore
from pitwall.layout import CUSTOM_FILES
from pitwall.runs import Run
from pitwall.tracks import Track
from pitwall_cli.lineage_metrics import Lineage, join_lineage
from pitwall_cli.metrics import read_segment

# <model prefix>[/<worker>]/training-simtrace/<iteration>-iteration.csv
_SIMTRACE_KEY = re.compile(r"(?:/(\d+))?/training-simtrace/(\d+)-iteration\.csv$")
MAX_SIMTRACE_ROWS = 200_000  # what one report reads at most (a long run writes millions of steps)


@dataclass(frozen=True)
class Step:
    """One row of a training simtrace, the columns the report uses (every simapp writes them)."""

    episode: int
    x: float
    y: float
    speed: float  # the throttle column: the action's speed, m/s
    action: str
    progress: float
    status: str


@dataclass(frozen=True)
class IterationTrace:
    segment: int
    worker: int
    iteration: int  # the segment's own numbering, as the file names it
    steps: list[Step]

    @property
    def label(self) -> str:
        worker = f", worker {self.worker}" if self.worker else ""
        return f"segment {self.segment}, iteration {self.iteration}{worker}"

    @property
    def mean_final_progress(self) -> float:
        """The mean over its episodes of how far each got: what `best iterations` ranks by."""
        final: dict[int, float] = {}
        for step in self.steps:
            final[step.episode] = max(final.get(step.episode, 0.0), step.progress)
        return sum(final.values()) / len(final) if final else 0.0


@dataclass(frozen=True)
class ReportData:
    run: Run
    lineage: Lineage
    traces: list[IterationTrace]
    custom_files: dict[str, str]
    track: Track | None
    generated_at: float
    problems: list[str] = field(default_factory=list)  # what could not be read, said in the page


def parse_simtrace(text: str, source: str) -> list[Step]:
    """The steps of a simtrace CSV, by its header's column names (17, 18 or 19 columns)."""
    reader = csv.DictReader(io.StringIO(text))
    needed = {"episode", "X", "Y", "throttle", "action", "progress", "episode_status"}
    missing = needed - set(reader.fieldnames or ())
    if missing:
        raise ValueError(f"{source}: simtrace without the columns {', '.join(sorted(missing))}")
    steps = []
    for row in reader:
        try:
            steps.append(
                Step(
                    episode=int(float(row["episode"])),
                    x=float(row["X"]),
                    y=float(row["Y"]),
                    speed=float(row["throttle"]),
                    action=row["action"].strip(),
                    progress=float(row["progress"]),
                    status=row["episode_status"],
                )
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{source}: line {reader.line_num}: {exc}") from exc
    return steps


def read_traces(run: Run, store: ObjectStore, problems: list[str]) -> list[IterationTrace]:
    traces: list[IterationTrace] = []
    rows = 0
    for segment in run.segments:
        found = []
        for key in store.list_keys(segment.model_prefix.rstrip("/") + "/"):
            match = _SIMTRACE_KEY.search(key)
            if match and key.startswith(segment.model_prefix):
                found.append((int(match.group(2)), int(match.group(1) or 0), key))
        for iteration, worker, key in sorted(found):
            if rows >= MAX_SIMTRACE_ROWS:
                problems.append(f"simtrace beyond {MAX_SIMTRACE_ROWS} steps not read")
                return traces
            body = store.get_bytes(key)
            if body is None:
                continue
            try:
                steps = parse_simtrace(body.decode("utf-8", errors="replace"), f"s3://{store.bucket}/{key}")
            except ValueError as exc:
                problems.append(str(exc))
                continue
            rows += len(steps)
            traces.append(IterationTrace(segment.index, worker, iteration, steps))
    return traces


def gather(run: Run, store: ObjectStore, tracks: dict[str, Track], now: float) -> ReportData:
    problems: list[str] = []
    lineage = join_lineage([read_segment(store, s.index, s.model_prefix) for s in run.segments])
    traces = read_traces(run, store, problems)
    if not traces:
        problems.append("no training simtrace in the model prefixes: no car path and no action counts")
    custom_files = {}
    for name in CUSTOM_FILES:
        body = store.get_bytes(layout.custom_file_key(run.custom_files_prefix, name))
        if body is None:
            problems.append(f"custom file {name} not found under {run.custom_files_prefix}")
        else:
            custom_files[name] = body.decode("utf-8", errors="replace")
    track = tracks.get(run.request.track)
    if track is None:
        problems.append(f"track {run.request.track} not among the tracks given (--tracks): no track map")
    return ReportData(run, lineage, traces, custom_files, track, now, problems)
