"""The local cloud's DRFC host: writes what DRFC writes, where DRFC writes it, on a clock.

No simulator runs. A seeded, deterministic timeline stands in for it: episodes (the car's
completion % rises with the checkpoint the policy comes from), a policy update, evaluation
episodes, a checkpoint upload, again. `poll()` plays the timeline up to the clock's "now", so
on an accelerated clock a training hour takes seconds, and on a `ManualClock` a test decides
exactly how far it goes. What lands in S3 is what DRFC and the simulator write, in the formats
and with the semantics `pitwall.drfc_files` describes (one module knows them):

- at start: training_params.yaml, reward_function.py, ip/hyperparameters.json (the trainer's
  resolved set), ip/ip.json, ip/done, model/model_metadata.json; the trainer's initial checkpoint
  (`<n>_Step-0`, with its model_<n>.pb), then model/.ready;
- every training phase: worker 0 rewrites model/deepracer_checkpoints.json (last = the checkpoint
  it evaluated last, one behind the newest upload; at first the initial one with no metric);
- at every episode end: metrics/TrainingMetrics.json REWRITTEN with every entry so far (worker
  k > 0: TrainingMetrics_<k>.json), on the simulation clock;
- every iteration: worker 0 evaluates the policy it trained with (MIN_EVAL_TRIALS, and more
  until the new checkpoint is there); model/.lock, the checkpoint's files, model/.coach_checkpoint,
  4 checkpoints kept (the best among them), .lock removed; each worker's
  training-simtrace/<i>-iteration.csv, one row per step along the real track (DR_WORLD_NAME);
- at the training's end condition (hyperparameters' term_cond_max_episodes): model/.finished;
- evaluation: evaluation_params.yaml, metrics/evaluation/evaluation-<YYYYmmddHHMMSS>.json
  rewritten after each trial, and its simtrace at the end.

The simulation clock starts with the simulators (at `start()`) and, unlike Gazebo's, is not
paused between phases.

An increment continues from its pretrained source's checkpoint: the trainer's initial
checkpoint is numbered after it and the learning curve goes on from there; the source's
model/.coach_checkpoint is rewritten, as the simapp does.

Fault hooks for the fault suite: `SimulatedFaults` (or `crash()` / `freeze()` at any moment).
"""

from __future__ import annotations

import itertools
import json
import math
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from pitwall import drfc_files
from pitwall.clock import Clock
from pitwall.host import drfc_settings, s3objects
from pitwall.host.backend import WorkProgress, WorkState
from pitwall.host.errors import HostError, InvalidRunSpec
from pitwall.host.protocol import Mode, RunSpec
from pitwall.layout import (
    HYPERPARAMETERS_FILE,
    MODEL_METADATA_FILE,
    REWARD_FUNCTION_FILE,
    ModelKeys,
    checkpoint_number,
)
from pitwall.tracks import Track, simulator_tracks

FAILED_EPISODE_STATUSES = ("Off track",) * 6 + ("Crashed", "Immobilized", "Reversed")

Event = tuple[float, Callable[[], None]]


@dataclass(frozen=True)
class SimulatedFaults:
    """Faults to inject (seconds of the backend's clock, counted from the start of the work)."""

    never_boots: bool = False  # setup hangs: DRFC never becomes ready
    crash_after_seconds: float | None = None  # a container dies: poll() reports DEAD
    freeze_after_seconds: float | None = None  # nothing more is written, yet poll() says RUNNING
    upload_seconds: float = 4.0  # how long each checkpoint upload takes (.lock present meanwhile)


@dataclass(frozen=True)
class SimulatedPace:
    """How long things take on the simulated host (seconds of its clock)."""

    boot_seconds: float = 45.0  # setup: images, containers
    reset_seconds: float = 2.0  # between two episodes
    policy_update_seconds: float = 60.0  # the trainer's work between two iterations
    steps_per_second: float = 15.0  # the simulator's step rate
    learning_iterations: float = 10.0  # iterations to reach 63% of the skill the curve allows


class SimulatedDrfc:
    def __init__(
        self,
        *,
        s3: Any,
        clock: Clock,
        seed: int = 0,
        faults: SimulatedFaults | None = None,
        pace: SimulatedPace | None = None,
        on_shutdown: Callable[[], None] | None = None,
    ) -> None:
        self.s3 = s3
        self.clock = clock
        self.seed = seed
        self.faults = faults or SimulatedFaults()
        self.pace = pace or SimulatedPace()
        self._on_shutdown = on_shutdown
        self._lock = threading.RLock()
        self._halted = threading.Event()
        self._spec: RunSpec | None = None
        self._custom_files: dict[str, bytes] = {}
        self._started_at: float | None = None
        self._crash_at: float | None = None
        self._freeze_at: float | None = None
        self._timeline: Iterator[Event] = iter(())
        self._next: Event | None = None
        self._done_detail = ""
        self._upload_ends_at: float | None = None
        self.run_env = ""  # the run.env / system.env DRFC would read, rendered from the spec
        self.system_env = ""
        self.last_checkpoint: str | None = None
        self.shut_down = False

    # -- fault hooks ------------------------------------------------------------------------

    def crash(self) -> None:
        """A container dies now."""
        with self._lock:
            self._crash_at = self.clock.now()

    def freeze(self) -> None:
        """The simulator freezes now: nothing more is written; the containers still look up."""
        with self._lock:
            self._freeze_at = self.clock.now()

    # -- DrfcBackend ------------------------------------------------------------------------

    def setup(self, spec: RunSpec) -> None:
        self._spec = spec
        self.run_env = drfc_settings.render_env("", drfc_settings.run_settings(spec))
        self.system_env = drfc_settings.render_env("", drfc_settings.system_settings(spec))
        drfc_settings.worker_count(spec)
        if self.faults.never_boots:
            self._hang_until_halted_or(spec.deadline_epoch)
            if not self._halted.is_set():
                raise HostError("DRFC never became ready before the run's deadline")
            return
        self._sleep_unless_halted(self.pace.boot_seconds)
        with self._lock:
            if not self._halted.is_set():
                self._custom_files = self._upload_custom_files(spec)

    def start(self, spec: RunSpec) -> None:
        with self._lock:
            if self._halted.is_set():
                return
            self._started_at = self.clock.now()
            if spec.mode is Mode.TRAIN:
                self._timeline = self._start_training(spec, self._started_at)
            else:
                self._timeline = self._start_evaluation(spec, self._started_at)
            self._next = next(self._timeline, None)

    def poll(self) -> WorkProgress:
        with self._lock:
            if self._halted.is_set():
                return WorkProgress(WorkState.DONE, "stopped")
            now = self.clock.now()
            crash_at = self._fault_time(self._crash_at, self.faults.crash_after_seconds)
            freeze_at = self._fault_time(self._freeze_at, self.faults.freeze_after_seconds)
            self._play_until(min(now, crash_at, freeze_at))
            if crash_at <= now:
                return WorkProgress(WorkState.DEAD, "container deepracer-0_robomaker.1 exited with code 139")
            if self._next is None and freeze_at > now:
                return WorkProgress(WorkState.DONE, self._done_detail)
            return WorkProgress(WorkState.RUNNING)

    def save_latest_checkpoint(self) -> str | None:
        with self._lock:
            now = self.clock.now()
            crash_at = self._fault_time(self._crash_at, self.faults.crash_after_seconds)
            freeze_at = self._fault_time(self._freeze_at, self.faults.freeze_after_seconds)
            stuck = min(crash_at, freeze_at) <= now
            self._play_until(min(now, crash_at, freeze_at))
            upload_ends_at = None if stuck else self._upload_ends_at
        if upload_ends_at is not None:  # let the upload under way finish, as the trainer would
            self._sleep_unless_halted(upload_ends_at - self.clock.now())
            with self._lock:
                self._play_until(upload_ends_at)
        with self._lock:
            return self.last_checkpoint

    def stop(self) -> None:
        with self._lock:  # waits for a write under way; nothing is written after this returns
            self._halted.set()

    def shutdown(self) -> None:
        self.stop()
        self.shut_down = True
        if self._on_shutdown is not None:
            self._on_shutdown()

    # -- setup ------------------------------------------------------------------------------

    def _upload_custom_files(self, spec: RunSpec) -> dict[str, bytes]:
        """dr-upload-custom-files: the run's custom files, copied to DR_LOCAL_S3_CUSTOM_FILES_PREFIX
        when that is elsewhere."""
        target_prefix = drfc_settings.custom_files_prefix(spec)
        files = {}
        for name, key in drfc_settings.custom_file_keys(spec).items():
            body = s3objects.read_bytes(self.s3, spec.bucket, key)
            if body is None:
                raise HostError(f"dr-upload-custom-files: no {name} at s3://{spec.bucket}/{key}")
            target = f"{target_prefix}/{name}"
            if target != key:
                s3objects.write_bytes(self.s3, spec.bucket, target, body, _content_type(name))
            files[name] = body
        return files

    # -- training ---------------------------------------------------------------------------

    def _start_training(self, spec: RunSpec, t0: float) -> Iterator[Event]:
        settings = drfc_settings.run_settings(spec)
        model = ModelKeys(spec.model_prefix)
        metadata = self._model_metadata()
        try:
            hyper = drfc_files.resolved_hyperparameters(
                self._hyperparameters(), str(metadata.get("training_algorithm", "clipped_ppo"))
            )
        except ValueError as exc:
            raise HostError(str(exc)) from exc
        workers = drfc_settings.worker_count(spec)
        plan = _TrainingPlan(
            workers=workers,
            episodes=[
                drfc_files.episodes_per_iteration(hyper["num_episodes_between_training"], workers, worker)
                for worker in range(workers)
            ],
            max_episodes=_int(self._hyperparameters(), "term_cond_max_episodes", 0, HYPERPARAMETERS_FILE),
            eval_trials=_int(settings, "DR_TRAIN_MIN_EVAL_TRIALS", 5, "run_settings"),
            best_metric=settings.get("DR_TRAIN_BEST_MODEL_METRIC", "progress"),
        )
        if plan.best_metric not in ("progress", "reward"):
            raise InvalidRunSpec(
                f"run_settings.DR_TRAIN_BEST_MODEL_METRIC is {plan.best_metric!r}; allowed: progress, reward"
            )
        if min(plan.episodes) < 1:
            raise InvalidRunSpec(
                f"{HYPERPARAMETERS_FILE}.num_episodes_between_training is "
                f"{hyper['num_episodes_between_training']}; allowed: at least one per worker ({workers})"
            )
        driving = _Driving(_track_of(settings), _actions_of(metadata), self.pace.steps_per_second)
        number = self._continue_from_pretrained(spec, settings)
        self._write_training_files(spec, settings, model, hyper)
        return self._training_timeline(spec, model, plan, driving, t0, number)

    def _continue_from_pretrained(self, spec: RunSpec, settings: Mapping[str, str]) -> int:
        """The number of the trainer's initial checkpoint: 0 for a new model; for an increment
        the number after the source's chosen checkpoint, whose weights it starts from."""
        if not spec.pretrained_prefix:
            return 0
        which = settings.get(drfc_settings.PRETRAINED_CHECKPOINT) or "best"
        if which not in ("last", "best"):
            raise InvalidRunSpec(
                f"run_settings.{drfc_settings.PRETRAINED_CHECKPOINT} is {which!r}; allowed: last, best"
            )
        source = ModelKeys(spec.pretrained_prefix)
        name = s3objects.checkpoint_named(self.s3, spec.bucket, source, which)
        if name is None or not s3objects.checkpoint_is_complete(self.s3, spec.bucket, source, name):
            raise HostError(
                f"pretrained model s3://{spec.bucket}/{spec.pretrained_prefix}: "
                f"no complete {which} checkpoint (read {source.checkpoints_json})"
            )
        s3objects.write_text(self.s3, spec.bucket, source.coach_checkpoint, name)
        return checkpoint_number(name) + 1

    def _write_training_files(
        self, spec: RunSpec, settings: Mapping[str, str], model: ModelKeys, hyper: Mapping[str, Any]
    ) -> None:
        bucket = spec.bucket
        files = self._custom_files
        params = drfc_files.training_params(settings, self._params_target(spec))
        s3objects.write_text(self.s3, bucket, model.training_params, drfc_files.params_yaml(params))
        s3objects.write_bytes(
            self.s3, bucket, model.reward_function, files[REWARD_FUNCTION_FILE], "text/x-python"
        )
        s3objects.write_bytes(
            self.s3, bucket, model.model_metadata, files[MODEL_METADATA_FILE], "application/json"
        )
        s3objects.write_text(
            self.s3,
            bucket,
            model.ip_hyperparameters,
            drfc_files.hyperparameters_json(hyper),
            "application/json",
        )
        s3objects.write_json(self.s3, bucket, f"{spec.model_prefix}/ip/ip.json", {"IP": "10.0.1.17"})
        s3objects.write_text(self.s3, bucket, f"{spec.model_prefix}/ip/done", "")

    def _params_target(self, spec: RunSpec) -> drfc_files.ParamsTarget:
        return drfc_files.ParamsTarget(
            region=spec.region,
            bucket=spec.bucket,
            model_prefix=spec.model_prefix,
            custom_files_prefix=drfc_settings.custom_files_prefix(spec),
            workers=drfc_settings.worker_count(spec),
        )

    def _training_timeline(
        self,
        spec: RunSpec,
        model: ModelKeys,
        plan: _TrainingPlan,
        driving: _Driving,
        t0: float,
        number: int,
    ) -> Iterator[Event]:
        """The trainer and the rollout workers, iteration by iteration (see drfc_files): the
        trainer's initial checkpoint and model/.ready; then per iteration worker 0's
        deepracer_checkpoints.json, every worker's training episodes, worker 0's evaluation of
        the same policy while the trainer trains (at least MIN_EVAL_TRIALS, more until the new
        checkpoint is there), the upload, and each worker's simtrace of the iteration."""
        rng = random.Random(f"{self.seed}/{spec.run_id}/{spec.segment}")
        state = _TrainingState(spec, model, plan, driving, t0)
        steps = 0
        uploaded: list[str] = []
        t = t0
        # the trainer's initial checkpoint (an increment's: the source's weights), then .ready
        initial = drfc_files.checkpoint_name(number, 0)
        uploaded.append(initial)
        yield t, self._upload_begins(spec, model, t + self.faults.upload_seconds)
        t += self.faults.upload_seconds
        yield t, self._upload_ends(state, initial, [])
        yield t, lambda: s3objects.write_text(self.s3, spec.bucket, model.ready_marker, "")
        policy, evaluated = initial, None
        trained = 0
        for iteration in itertools.count():
            state.new_phase()
            yield t, self._phase_starts(state, policy, evaluated, t)
            skill = self._skill(checkpoint_number(policy))
            events: list[Event] = []
            ends: list[float] = []
            for worker in range(plan.workers):
                cursor = t
                for _ in range(plan.episodes[worker]):
                    episode = state.start_episode(worker, rng, skill, cursor)
                    steps += episode.steps
                    cursor += episode.seconds
                    events.append((cursor, self._training_episode_ends(state, worker, episode)))
                    cursor += self.pace.reset_seconds
                ends.append(cursor - self.pace.reset_seconds)
            trained += sum(plan.episodes)
            upload_begins = max(ends) + self.pace.policy_update_seconds
            upload_ends = upload_begins + self.faults.upload_seconds
            # worker 0 evaluates the policy it trained with until the new checkpoint is there
            scores: list[float] = []
            cursor = ends[0] + self.pace.reset_seconds
            while len(scores) < plan.eval_trials or cursor < upload_ends:
                episode = state.start_episode(0, rng, skill, cursor, phase=drfc_files.EVALUATION)
                cursor += episode.seconds
                scores.append(episode.score(plan.best_metric))
                events.append((cursor, self._evaluation_episode_ends(state, episode)))
                cursor += self.pace.reset_seconds
            finished = bool(plan.max_episodes) and trained >= plan.max_episodes
            name = drfc_files.checkpoint_name(checkpoint_number(policy) + 1, steps)
            uploaded.append(name)
            events.append((upload_begins, self._upload_begins(spec, model, upload_ends)))
            events.append((upload_ends, self._upload_ends(state, name, uploaded)))
            t = max(upload_ends, cursor - self.pace.reset_seconds)
            if finished:  # the trainer writes .finished; the workers upload what they played and exit
                t = upload_ends
                events.append(
                    (t, lambda: s3objects.write_text(self.s3, spec.bucket, model.finished_marker, ""))
                )
            events.append((t, self._simtraces_uploaded(state, iteration)))
            yield from sorted(events, key=lambda item: item[0])
            if finished:
                self._done_detail = (
                    f"training reached {trained} episodes (term_cond_max_episodes); newest {name}"
                )
                return
            policy, evaluated = name, (policy, sum(scores) / len(scores))

    def _skill(self, checkpoint: int) -> float:
        """How well the policy of checkpoint N drives: 0 untrained, towards 1."""
        return 1.0 - math.exp(-checkpoint / self.pace.learning_iterations)

    def _phase_starts(
        self, state: _TrainingState, policy: str, evaluated: tuple[str, float] | None, at: float
    ) -> Callable[[], None]:
        """Worker 0 enters a training phase: deepracer_checkpoints.json names the checkpoint it
        evaluated last (the initial one, with no metric, at the first phase)."""

        def write() -> None:
            stamp = round(state.sim_time(at), 3)
            if evaluated is None:
                last = drfc_files.checkpoint_record(policy, None, stamp)
            else:
                last = drfc_files.checkpoint_record(evaluated[0], evaluated[1], stamp)
            best = state.best
            # the simapp's rule: a first (unmeasured) best is replaced; then >= the best's mean
            if (
                best is None
                or best["avg_eval_metric"] is None
                or (evaluated and evaluated[1] >= best["avg_eval_metric"])
            ):
                state.best = best = last
            document = drfc_files.checkpoints_document(best, last)
            s3objects.write_json(self.s3, state.spec.bucket, state.model.checkpoints_json, document)
            self.last_checkpoint = last["name"]

        return write

    def _training_episode_ends(
        self, state: _TrainingState, worker: int, episode: _Episode
    ) -> Callable[[], None]:
        def write() -> None:
            state.simtrace[worker].extend(state.driving.rows(episode, state.sim_time, episode.index))
            self._write_metrics(state, worker, episode.entry)

        return write

    def _evaluation_episode_ends(self, state: _TrainingState, episode: _Episode) -> Callable[[], None]:
        return lambda: self._write_metrics(state, 0, episode.entry)

    def _write_metrics(self, state: _TrainingState, worker: int, entry: dict[str, Any]) -> None:
        state.metrics[worker].append(entry)
        document = drfc_files.training_metrics_document(state.metrics[worker], state.plan.best_metric)
        s3objects.write_json(self.s3, state.spec.bucket, state.model.training_metrics(worker), document)

    def _simtraces_uploaded(self, state: _TrainingState, iteration: int) -> Callable[[], None]:
        def upload() -> None:
            for worker in range(state.plan.workers):
                rows, state.simtrace[worker] = state.simtrace[worker], []
                key = drfc_files.training_simtrace_key(
                    state.model.prefix, iteration, worker, state.plan.workers
                )
                s3objects.write_text(
                    self.s3, state.spec.bucket, key, drfc_files.simtrace_csv(rows), "text/csv"
                )

        return upload

    def _upload_begins(self, spec: RunSpec, model: ModelKeys, ends_at: float) -> Callable[[], None]:
        def begin() -> None:
            self._upload_ends_at = ends_at
            s3objects.write_text(self.s3, spec.bucket, model.lock_marker, "")

        return begin

    def _upload_ends(self, state: _TrainingState, name: str, uploaded: list[str]) -> Callable[[], None]:
        """The trainer's upload: the checkpoint and its frozen graph, .coach_checkpoint, then the
        clean-up that keeps 4 (the best among them), then .lock removed."""
        spec, model = state.spec, state.model

        def end() -> None:
            bucket = spec.bucket
            for key in model.checkpoint_files(name):
                s3objects.write_bytes(
                    self.s3, bucket, key, f"simulated {key}\n".encode(), "application/octet-stream"
                )
            s3objects.write_text(self.s3, bucket, model.coach_checkpoint, name)
            if uploaded:
                best = state.best["name"] if state.best else None
                kept = drfc_files.kept_checkpoints(uploaded, best)
                for old in [old for old in uploaded if old not in kept]:
                    for key in model.checkpoint_files(old):
                        s3objects.delete(self.s3, bucket, key)
                uploaded[:] = kept
            s3objects.delete(self.s3, bucket, model.lock_marker)
            self._upload_ends_at = None

        return end

    # -- evaluation -------------------------------------------------------------------------

    def _start_evaluation(self, spec: RunSpec, t0: float) -> Iterator[Event]:
        settings = drfc_settings.run_settings(spec)
        model = ModelKeys(spec.model_prefix)
        which = settings.get("DR_EVAL_CHECKPOINT") or "last"
        if which not in ("last", "best"):
            raise InvalidRunSpec(f"run_settings.DR_EVAL_CHECKPOINT is {which!r}; allowed: last, best")
        name = s3objects.checkpoint_named(self.s3, spec.bucket, model, which)
        if name is None or not s3objects.checkpoint_is_complete(self.s3, spec.bucket, model, name):
            raise HostError(
                f"evaluation: model s3://{spec.bucket}/{spec.model_prefix} has no complete {which} checkpoint"
            )
        stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(t0))
        params = drfc_files.evaluation_params(settings, self._params_target(spec), stamp)
        s3objects.write_text(self.s3, spec.bucket, model.evaluation_params, drfc_files.params_yaml(params))
        driving = _Driving(
            _track_of(settings), _actions_of(self._model_metadata()), self.pace.steps_per_second
        )
        return self._evaluation_timeline(spec, settings, model, name, driving, stamp, t0)

    def _evaluation_timeline(
        self,
        spec: RunSpec,
        settings: Mapping[str, str],
        model: ModelKeys,
        checkpoint: str,
        driving: _Driving,
        stamp: str,
        t0: float,
    ) -> Iterator[Event]:
        rng = random.Random(f"{self.seed}/{spec.run_id}/{spec.segment}/evaluation")
        trials = _int(settings, "DR_EVAL_NUMBER_OF_TRIALS", 3, "run_settings", minimum=1)
        max_resets = _int(settings, "DR_EVAL_MAX_RESETS", 100, "run_settings")
        continuous = settings.get("DR_EVAL_IS_CONTINUOUS", "False").lower() == "true"
        penalty = _float(settings, "DR_EVAL_OFF_TRACK_PENALTY", 5.0, "run_settings")
        skill = self._skill(checkpoint_number(checkpoint))
        key = model.evaluation_metrics(stamp)
        simtrace_key = drfc_files.evaluation_simtrace_key(spec.model_prefix, stamp)
        entries: list[dict[str, Any]] = []
        rows: list[tuple[Any, ...]] = []
        t = t0
        for trial in range(1, trials + 1):
            entry, seconds = self._trial(rng, skill, t - t0, trial, continuous, max_resets, penalty)
            trace = _Episode(
                index=trial - 1,
                start=t,
                seconds=seconds,
                completion=entry["completion_percentage"],
                status=entry["episode_status"],
                reward=0.0,
                steps=max(1, int(seconds * self.pace.steps_per_second)),
                entry=entry,
                seed=rng.random(),
            )
            rows.extend(driving.rows(trace, lambda at: at - t0, trial - 1))
            t += seconds
            entries = [*entries, entry]
            yield t, self._evaluation_writer(spec.bucket, key, entries)
            t += self.pace.reset_seconds
        text = drfc_files.simtrace_csv(rows)
        yield t, lambda: s3objects.write_text(self.s3, spec.bucket, simtrace_key, text, "text/csv")
        self._done_detail = f"evaluation of {checkpoint}: {trials} trials written to {key}"

    def _trial(
        self,
        rng: random.Random,
        skill: float,
        sim_start: float,
        trial: int,
        continuous: bool,
        max_resets: int,
        penalty: float,
    ) -> tuple[dict[str, Any], float]:
        lap_seconds = (19.0 - 7.0 * skill) * rng.uniform(0.97, 1.03)
        counts = {"off_track_count": 0, "crash_count": 0, "immobilized_count": 0, "reversed_count": 0}
        completion, seconds, status = 0.0, 0.0, "In progress"
        while True:
            reach = min(100.0, max(1.0, rng.gauss(15.0 + 100.0 * skill, 20.0)))
            gained = min(reach, 100.0 - completion)
            completion += gained
            seconds += lap_seconds * gained / 100.0
            if completion >= 100.0:
                status = drfc_files.LAP_COMPLETE
                break
            status = rng.choice(FAILED_EPISODE_STATUSES)
            counts[_COUNT_OF_STATUS[status]] += 1
            resets = sum(counts.values())
            if not continuous or resets > max_resets:
                break
            seconds += penalty
        entry = {
            "completion_percentage": int(completion),
            "metric_time": int((sim_start + seconds) * 1000),
            "start_time": int(sim_start * 1000),
            "elapsed_time_in_milliseconds": int(seconds * 1000),
            "episode_status": status,
            **counts,
            "reset_count": sum(counts.values()),
            "trial": trial,
        }
        return entry, seconds

    def _evaluation_writer(self, bucket: str, key: str, entries: list[dict[str, Any]]) -> Callable[[], None]:
        document = drfc_files.evaluation_metrics_document(entries)
        return lambda: s3objects.write_json(self.s3, bucket, key, document)

    # -- the clock --------------------------------------------------------------------------

    def _play_until(self, limit: float) -> None:
        while self._next is not None and self._next[0] <= limit and not self._halted.is_set():
            self._next[1]()
            self._next = next(self._timeline, None)

    def _fault_time(self, injected: float | None, after_start: float | None) -> float:
        times = [math.inf]
        if injected is not None:
            times.append(injected)
        if after_start is not None and self._started_at is not None:
            times.append(self._started_at + after_start)
        return min(times)

    def _sleep_unless_halted(self, seconds: float) -> None:
        remaining = seconds
        while remaining > 0 and not self._halted.is_set():
            chunk = min(remaining, 1.0)
            self.clock.sleep(chunk)
            remaining -= chunk

    def _hang_until_halted_or(self, deadline: float) -> None:
        """Wait (in real time, so a ManualClock does not spin) until stopped or the deadline."""
        while not self._halted.wait(0.02):
            if self.clock.now() >= deadline:
                return

    def _model_metadata(self) -> dict[str, Any]:
        try:
            document = json.loads(self._custom_files[MODEL_METADATA_FILE])
        except (KeyError, ValueError) as exc:
            raise HostError(f"{MODEL_METADATA_FILE}: not readable JSON ({exc})") from exc
        if not isinstance(document, dict):
            raise HostError(f"{MODEL_METADATA_FILE}: expected a JSON object")
        return document

    def _hyperparameters(self) -> dict[str, Any]:
        try:
            document = json.loads(self._custom_files[HYPERPARAMETERS_FILE])
        except (KeyError, ValueError) as exc:
            raise HostError(f"{HYPERPARAMETERS_FILE}: not readable JSON ({exc})") from exc
        if not isinstance(document, dict):
            raise HostError(f"{HYPERPARAMETERS_FILE}: expected a JSON object")
        return document


_COUNT_OF_STATUS = {
    "Off track": "off_track_count",
    "Crashed": "crash_count",
    "Immobilized": "immobilized_count",
    "Reversed": "reversed_count",
}
# the metrics files' episode labels, as the simulator's step status (the simtrace's)
_STEP_STATUS = {
    drfc_files.LAP_COMPLETE: "lap_complete",
    "Off track": "off_track",
    "Crashed": "crashed",
    "Immobilized": "immobilized",
    "Reversed": "reversed",
    "In progress": "in_progress",
}


@dataclass(frozen=True)
class _TrainingPlan:
    workers: int
    episodes: list[int]  # training episodes per iteration, by worker
    max_episodes: int  # 0: no end condition; the run's deadline or a stop ends it
    eval_trials: int
    best_metric: str


@dataclass(frozen=True)
class _Driving:
    """What the simtrace rows are drawn on: the track, the action space, the step rate."""

    track: Track
    actions: list[tuple[float, float]] | None  # (steering, speed) by index; None: continuous
    steps_per_second: float

    def rows(
        self, episode: _Episode, sim_time: Callable[[float], float], number: int
    ) -> list[tuple[Any, ...]]:
        """One row per step: the car along the centre line from a start point to its completion."""
        rng = np.random.default_rng(int(episode.seed * 2**32))
        track = self.track
        count = episode.steps
        step = np.arange(1, count + 1)
        progress = episode.completion * step / count
        start = rng.random() * track.length if track.is_loop else 0.0
        along = start + progress / 100.0 * track.length
        along = np.mod(along, track.length) if track.is_loop else np.minimum(along, track.length)
        cumulative = track.cumulative_distance
        x = np.interp(along, cumulative, track.center.points[:, 0])
        y = np.interp(along, cumulative, track.center.points[:, 1])
        segment = np.clip(
            np.searchsorted(cumulative, along, side="right") - 1, 0, len(track.segment_headings) - 1
        )
        closest = np.where(
            along - cumulative[segment] < cumulative[segment + 1] - along, segment, segment + 1
        )
        if self.actions is None:
            action = np.full(count, -1)
            steer = rng.uniform(-30.0, 30.0, count)
            speed = rng.uniform(0.5, 4.0, count)
        else:
            action = rng.integers(len(self.actions), size=count)
            steer = np.array([a[0] for a in self.actions])[action]
            speed = np.array([a[1] for a in self.actions])[action]
        at = episode.start + step / self.steps_per_second
        tstamp = np.array([sim_time(value) for value in at[[0, -1]]])
        tstamp = np.linspace(tstamp[0], tstamp[1], count)
        status = _STEP_STATUS.get(episode.status, "in_progress")
        done = [False] * (count - 1) + [True]
        on_track = [True] * (count - 1) + [status in ("lap_complete", "in_progress")]
        statuses = ["in_progress"] * (count - 1) + [status]
        return list(
            zip(
                [number] * count,
                step.tolist(),
                x.tolist(),
                y.tolist(),
                track.segment_headings[segment].tolist(),
                steer.tolist(),
                speed.tolist(),
                action.tolist(),
                [episode.reward / count] * count,
                done,
                on_track,
                progress.tolist(),
                closest.tolist(),
                [track.length] * count,
                tstamp.tolist(),
                statuses,
                [0.0] * count,
                [0] * count,
                at.tolist(),
                strict=True,
            )
        )


@dataclass(frozen=True)
class _Episode:
    index: int  # the worker's episodes before this one: the simtrace's episode number
    start: float  # the backend's clock
    seconds: float
    completion: int
    status: str
    reward: float
    steps: int
    entry: dict[str, Any]  # its TrainingMetrics / evaluation metrics entry
    seed: float  # of its simtrace's randomness, so the rows are drawn only when written

    def score(self, best_metric: str) -> float:
        return float(self.completion if best_metric == "progress" else self.reward)


class _TrainingState:
    """What the rollout workers have played so far, as the simapp counts it (see drfc_files)."""

    def __init__(
        self, spec: RunSpec, model: ModelKeys, plan: _TrainingPlan, driving: _Driving, sim_start: float
    ) -> None:
        self.spec = spec
        self.model = model
        self.plan = plan
        self.driving = driving
        self.sim_start = sim_start  # the simulators start with the training: their clock's 0
        self.metrics: list[list[dict[str, Any]]] = [[] for _ in range(plan.workers)]
        self.simtrace: list[list[tuple[Any, ...]]] = [[] for _ in range(plan.workers)]
        self.episodes = [0] * plan.workers
        self.trials = [0] * plan.workers
        self.best: dict[str, Any] | None = None

    def sim_time(self, at: float) -> float:
        return at - self.sim_start

    def new_phase(self) -> None:
        self.trials[0] = 0  # only worker 0 (the one that picks the best model) starts again

    def start_episode(
        self,
        worker: int,
        rng: random.Random,
        skill: float,
        start: float,
        phase: str = drfc_files.TRAINING,
    ) -> _Episode:
        if phase == drfc_files.TRAINING:
            self.episodes[worker] += 1
            self.trials[worker] += 1
        mean = 12.0 + 88.0 * skill
        completion = int(min(100.0, max(1.0, rng.gauss(mean, 14.0))))
        status = drfc_files.LAP_COMPLETE if completion >= 100 else rng.choice(FAILED_EPISODE_STATUSES)
        lap_seconds = 19.0 - 7.0 * skill
        seconds = max(0.5, lap_seconds * completion / 100.0 * rng.uniform(0.95, 1.05))
        reward = completion * (0.8 + skill) + rng.uniform(0.0, 5.0)
        sim_start = self.sim_time(start)
        entry = {
            "reward_score": round(reward),
            "metric_time": round((sim_start + seconds) * 1000),
            "start_time": round(sim_start * 1000),
            "elapsed_time_in_milliseconds": round(seconds * 1000),
            "episode": self.episodes[worker],
            "trial": self.trials[worker],
            "phase": phase,
            "completion_percentage": completion,
            "episode_status": status,
        }
        return _Episode(
            index=self.episodes[worker] - 1,
            start=start,
            seconds=seconds,
            completion=completion,
            status=status,
            reward=reward,
            steps=max(1, int(seconds * self.driving.steps_per_second)),
            entry=entry,
            seed=rng.random(),
        )


def _track_of(settings: Mapping[str, str]) -> Track:
    """The track the simulator loads (DR_WORLD_NAME): one of the simulator's tracks."""
    name = settings.get("DR_WORLD_NAME", "")
    tracks = simulator_tracks()
    if name not in tracks:
        raise InvalidRunSpec(
            f"run_settings.DR_WORLD_NAME is {name!r}; allowed: one of the simulator's {len(tracks)} tracks"
        )
    return tracks[name]


def _actions_of(metadata: Mapping[str, Any]) -> list[tuple[float, float]] | None:
    """The discrete action space as (steering, speed) by index; None for a continuous one."""
    space = metadata.get("action_space")
    if not isinstance(space, list):
        return None
    return [(float(a.get("steering_angle", 0.0)), float(a.get("speed", 1.0))) for a in space] or None


def _int(source: Mapping[str, Any], name: str, default: int, where: str, minimum: int = 0) -> int:
    raw = source.get(name, default)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        value = minimum - 1
    if value < minimum:
        raise InvalidRunSpec(f"{where}.{name} is {raw!r}; allowed: an integer >= {minimum}")
    return value


def _float(source: Mapping[str, Any], name: str, default: float, where: str) -> float:
    raw = source.get(name, default)
    try:
        return float(raw)
    except (TypeError, ValueError) as exc:
        raise InvalidRunSpec(f"{where}.{name} is {raw!r}; allowed: a number") from exc


def _content_type(name: str) -> str:
    return "application/json" if name.endswith(".json") else "text/x-python"
