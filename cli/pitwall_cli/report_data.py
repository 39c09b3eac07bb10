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
# what one report reads for its action counts at most (a long run writes millions of steps)
MAX_SIMTRACE_ROWS = 200_000
BEST_ITERATIONS = 3  # the simtraces drawn on the track map


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
    traces: list[IterationTrace]  # the best iterations' simtrace: the track map
    sample: list[IterationTrace]  # simtrace spread over the whole lineage: the action counts
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


@dataclass(frozen=True)
class SimtraceFile:
    segment: int
    iteration: int  # the segment's own, 0-based, as the simapp names the file
    worker: int
    key: str


def simtrace_files(run: Run, store: ObjectStore) -> list[SimtraceFile]:
    """Every training simtrace of the lineage, in segment, iteration and worker order."""
    files = []
    for segment in run.segments:
        for key in store.list_keys(segment.model_prefix.rstrip("/") + "/"):
            match = _SIMTRACE_KEY.search(key)
            if match and key.startswith(segment.model_prefix):
                files.append(SimtraceFile(segment.index, int(match.group(2)), int(match.group(1) or 0), key))
    return sorted(files, key=lambda f: (f.segment, f.iteration, f.worker))


def iteration_scores(lineage: Lineage) -> dict[tuple[int, int], float]:
    """The mean completion of each iteration's training episodes (the TrainingMetrics files), by
    segment and the segment's own 0-based iteration: how the simtrace files are named."""
    completions: dict[tuple[int, int], list[float]] = {}
    for episode in lineage.episodes:
        completions.setdefault((episode.segment, episode.iteration), []).append(episode.completion)
    scores = {}
    for segment in {s for s, _ in completions}:
        iterations = sorted(i for s, i in completions if s == segment)
        for local, iteration in enumerate(iterations):
            values = completions[(segment, iteration)]
            scores[(segment, local)] = sum(values) / len(values)
    return scores


def spread(count: int) -> list[int]:
    """0 .. count-1 in an order whose every prefix is spread over the whole range (bit-reversed:
    the first, the middle, the quarters, ...), so reading stops anywhere with an even sample."""
    bits = max(1, (count - 1).bit_length())
    order = (int(format(i, f"0{bits}b")[::-1], 2) for i in range(1 << bits))
    return [i for i in order if i < count]


def read_traces(
    run: Run, store: ObjectStore, lineage: Lineage, problems: list[str]
) -> tuple[list[IterationTrace], list[IterationTrace]]:
    """The simtrace of the BEST_ITERATIONS best iterations, ranked by the lineage's metrics before
    any simtrace is read, and a sample of about MAX_SIMTRACE_ROWS steps spread over the lineage."""
    files = simtrace_files(run, store)
    read: dict[str, IterationTrace | None] = {}

    def trace_of(file: SimtraceFile) -> IterationTrace | None:
        if file.key not in read:
            body = store.get_bytes(file.key)
            try:
                steps = parse_simtrace(
                    (body or b"").decode("utf-8", errors="replace"), f"s3://{store.bucket}/{file.key}"
                )
            except ValueError as exc:
                problems.append(str(exc))
                steps = []
            trace = IterationTrace(file.segment, file.worker, file.iteration, steps)
            read[file.key] = trace if body is not None and steps else None
        return read[file.key]

    scores = iteration_scores(lineage)
    # an iteration without metrics ranks after every one with them
    ranked = sorted(files, key=lambda f: -scores.get((f.segment, f.iteration), -1.0))
    best: list[IterationTrace] = []
    for file in ranked:  # one worker's file of each iteration (the first with steps)
        if len(best) == BEST_ITERATIONS:
            break
        if any((t.segment, t.iteration) == (file.segment, file.iteration) for t in best):
            continue
        if (trace := trace_of(file)) is not None:
            best.append(trace)
    sample: list[IterationTrace] = []
    rows = 0
    for index in spread(len(files)):
        if rows >= MAX_SIMTRACE_ROWS:
            problems.append(
                f"action counts from {len(sample)} of {len(files)} simtrace files, spread over the "
                f"whole lineage ({rows} steps; a report reads about {MAX_SIMTRACE_ROWS})"
            )
            break
        if (trace := trace_of(files[index])) is not None:
            sample.append(trace)
            rows += len(trace.steps)
    return best, sorted(sample, key=lambda t: (t.segment, t.iteration, t.worker))


def gather(run: Run, store: ObjectStore, tracks: dict[str, Track], now: float) -> ReportData:
    problems: list[str] = []
    lineage = join_lineage([read_segment(store, s.index, s.model_prefix) for s in run.segments])
    traces, sample = read_traces(run, store, lineage, problems)
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
    return ReportData(run, lineage, traces, sample, custom_files, track, now, problems)
