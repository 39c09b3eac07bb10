"""`pitwall report`'s pieces without AWS: reading simtrace CSVs of every simapp generation (17,
18 or 19 columns), choosing the best iterations, and the page built from a run with simtrace on
a built-in track (the car's path, speeds and action counts)."""

from __future__ import annotations

import json
import math

import pytest

from pitwall import layout
from pitwall.runs import Pool, Run, RunKind, RunRequest, RunState, Segment
from pitwall.tracks import builtin_tracks
from pitwall_cli.lineage_metrics import SegmentDocuments, join_lineage
from pitwall_cli.report_data import IterationTrace, ReportData, parse_simtrace
from pitwall_cli.report_html import (
    actions_figure,
    best_iterations,
    build_html,
    episode_times,
    pace,
    timeline_figure,
    track_figure,
)

COLUMNS_17 = (
    "episode,steps,X,Y,yaw,steer,throttle,action,reward,done,all_wheels_on_track,progress,"
    "closest_waypoint,track_len,tstamp,episode_status,pause_duration"
)
T0 = 1_800_000_000.0


def simtrace_csv(rows: list[tuple[int, float, float, float, int, float]], extra_columns: int = 0) -> str:
    """A simtrace as the simapp writes it: (episode, X, Y, speed, action, progress) per step."""
    header = ",".join([COLUMNS_17, *("obstacle_crash_counter", "wall_clock")[:extra_columns]])
    lines = [header]
    for step, (episode, x, y, speed, action, progress) in enumerate(rows):
        values = [episode, step, x, y, 0.0, 0.0, speed, action, 1.0, "False", "True", progress, 3, 17.7, 12.5]
        values += ["in_progress", 0.0, *[0, 1700000000.0][:extra_columns]]
        lines.append(",".join(str(v) for v in values))
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("extra_columns", [0, 1, 2])
def test_a_simtrace_of_17_18_or_19_columns_is_read_by_its_header(extra_columns: int) -> None:
    text = simtrace_csv([(1, 0.5, 1.5, 2.0, 3, 10.0), (1, 0.6, 1.6, 2.5, 4, 12.5)], extra_columns)
    steps = parse_simtrace(text, "s3://b/k.csv")
    assert [(s.episode, s.x, s.y, s.speed, s.action, s.progress) for s in steps] == [
        (1, 0.5, 1.5, 2.0, "3", 10.0),
        (1, 0.6, 1.6, 2.5, "4", 12.5),
    ]


def test_a_simtrace_without_the_columns_needed_names_them_and_the_file() -> None:
    with pytest.raises(ValueError, match=r"s3://b/k.csv: simtrace without the columns X, Y"):
        parse_simtrace("episode,steps,throttle,action,progress,episode_status\n", "s3://b/k.csv")


def test_a_bad_value_names_the_file_and_line() -> None:
    text = simtrace_csv([(1, 0.5, 1.5, 2.0, 3, 10.0)]).replace(",0.5,", ",east,")
    with pytest.raises(ValueError, match=r"s3://b/k.csv: line 2"):
        parse_simtrace(text, "s3://b/k.csv")


def _lap(track_points: list[tuple[float, float]], episode: int, share: float, speed: float) -> list:
    count = max(1, int(len(track_points) * share))
    return [
        (episode, x, y, speed + 0.5 * math.sin(i / 5), i % 5, 100.0 * (i + 1) / len(track_points))
        for i, (x, y) in enumerate(track_points[:count])
    ]


def synthetic_report() -> ReportData:
    """A two-segment run on the built-in oval, with the simtrace of four iterations."""
    track = builtin_tracks()["oval"]
    points = [(float(x), float(y)) for x, y in track.center.points]
    pool = Pool(instance_type="g4dn.2xlarge", availability_zone="us-east-1a", subnet_id="subnet-1")
    segments = [
        Segment(
            index=i,
            model_prefix=layout.segment_model_prefix("oval-one", i),
            deadline_epoch=T0 + 7200,
            instance_id=f"i-{i}",
            pool=pool,
            price_per_hour=0.25,
            launched_at=T0 + i * 2000,
            started_at=T0 + i * 2000 + 300,
            ended_at=T0 + i * 2000 + 1800,
            episodes=40,
            last_checkpoint=f"{i}_Step-100.ckpt",
            end_reason="stall: no heartbeat within the window" if i == 0 else "completed",
        )
        for i in range(2)
    ]
    run = Run(
        run_id="run-oval",
        kind=RunKind.TRAIN,
        request=RunRequest(model_name="oval-one", track="oval", time_budget_minutes=90),
        state=RunState.SUCCEEDED,
        created_at=T0,
        updated_at=T0 + 3900,
        custom_files_prefix="runs/run-oval/custom_files/",
        segments=segments,
    )
    documents = [
        SegmentDocuments(
            segment=i,
            model_prefix=segments[i].model_prefix,
            training={
                0: {
                    "metrics": [
                        {
                            "episode": n,
                            "trial": (n - 1) % 20 + 1,
                            "phase": "training",
                            "reward_score": 10 * n,
                            "completion_percentage": min(100, 2 * n),
                            "episode_status": "Off track",
                            "metric_time": 30_000 * n,  # an episode every 30 s of the simulator
                        }
                        for n in range(1, 41)
                    ]
                }
            },
        )
        for i in range(2)
    ]
    traces = [
        IterationTrace(segment=s, worker=0, iteration=it, steps=[])
        for s, it in ((0, 1), (0, 2), (1, 1), (1, 2))
    ]
    shares = {(0, 1): 0.3, (0, 2): 0.5, (1, 1): 0.8, (1, 2): 1.0}
    traces = [
        IterationTrace(
            t.segment,
            t.worker,
            t.iteration,
            [
                step
                for step in parse_simtrace(
                    simtrace_csv(_lap(points, 1, shares[(t.segment, t.iteration)], 1.0 + t.iteration)), "x"
                )
            ],
        )
        for t in traces
    ]
    metadata = {
        "action_space_type": "discrete",
        "action_space": [{"steering_angle": a, "speed": 1.0} for a in (-30, -15, 0, 15, 30)],
        "sensor": ["FRONT_FACING_CAMERA"],
        "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
        "training_algorithm": "clipped_ppo",
    }
    return ReportData(
        run=run,
        lineage=join_lineage(documents),
        traces=traces,
        sample=traces,
        custom_files={
            "model_metadata.json": json.dumps(metadata),
            "hyperparameters.json": json.dumps({"batch_size": 64}),
            "reward_function.py": "def reward_function(params):\n    return 1.0\n",
        },
        track=track,
        generated_at=T0 + 4000,
    )


def test_the_best_iterations_are_those_whose_episodes_got_furthest() -> None:
    data = synthetic_report()
    assert [t.label for t in best_iterations(data.traces, 2)] == [
        "segment 1, iteration 2",
        "segment 1, iteration 1",
    ]


def test_the_track_map_draws_the_borders_and_the_best_paths_coloured_by_speed() -> None:
    data = synthetic_report()
    figure = track_figure(data)
    assert figure is not None
    names = [trace.name for trace in figure.data]
    assert names[:3] == ["inner border", "outer border", "centre line"]
    paths = figure.data[3:]
    assert len(paths) == 3 and paths[0].name.startswith("segment 1, iteration 2")
    assert list(paths[0].marker.color) == [s.speed for s in data.traces[3].steps]


def test_the_action_counts_cover_every_step() -> None:
    data = synthetic_report()
    figure = actions_figure(data.sample)
    assert figure is not None
    bar = figure.data[0]
    assert list(bar.x) == ["0", "1", "2", "3", "4"]
    assert sum(bar.y) == sum(len(t.steps) for t in data.sample)


def test_episodes_per_hour_is_a_series_over_the_run_at_zero_during_the_recovery() -> None:
    # Given two segments training 20 min each at an episode every 30 s, with a recovery between
    data = synthetic_report()
    times = episode_times(data.run, data.lineage)
    assert len(times) == 80 and times[0] == T0 + 300 + 30  # segment 0 started training at T0 + 300
    # When the pace is taken over the run (its first launch to its last instance's end)
    hours, rates = pace(times, T0, T0 + 3800)
    # Then every episode is in it, about 120 an hour while training, none between the segments
    window = 3800 / 40 / 3600
    assert round(sum(rate * window for rate in rates)) == 80
    training = [r for h, r in zip(hours, rates, strict=True) if 400 / 3600 < h < 1400 / 3600]
    assert training and all(100 < r < 160 for r in training)  # 3 or 4 episodes in a 95 s window
    assert abs(sum(training) / len(training) - 120) < 10
    recovery = [r for h, r in zip(hours, rates, strict=True) if 1850 / 3600 < h < 2250 / 3600]
    assert recovery and all(r == 0 for r in recovery)
    # and that is what the page plots beside the cost
    figure = timeline_figure(data.run, data.lineage, data.generated_at)
    assert list(figure.data[-1].y) == rates


def test_the_cost_over_time_only_grows_and_counts_both_instances_while_they_overlap() -> None:
    # Given a replacement launched 10 min before the instance it replaces ended
    pool = Pool(instance_type="g4dn.2xlarge", availability_zone="us-east-1a", subnet_id="subnet-1")
    segments = [
        Segment(
            index=i,
            model_prefix=layout.segment_model_prefix("m", i),
            deadline_epoch=T0 + 9000,
            pool=pool,
            price_per_hour=price,
            launched_at=T0 + launched,
            ended_at=T0 + ended,
        )
        for i, (price, launched, ended) in enumerate(((1.0, 0, 3600), (2.0, 3000, 6600)))
    ]
    run = synthetic_report().run.model_copy(update={"segments": segments})
    # When its cost is drawn over time
    figure = timeline_figure(run, join_lineage([]), T0 + 7000)
    [line] = [trace for trace in figure.data if trace.name == "cost"]
    # Then the line climbs at 1 $/h, then 3 $/h during the overlap, then 2 $/h, to what it cost
    assert list(line.x) == [0.0, 3000 / 3600, 1.0, 6600 / 3600]
    assert [round(c, 4) for c in line.y] == [0.0, round(3000 / 3600, 4), round(1 + 600 / 1800, 4), 3.0]
    assert line.y[-1] == pytest.approx(run.spent_usd(T0 + 7000))


def test_the_page_holds_every_section_and_the_settings() -> None:
    page = build_html(synthetic_report())
    for heading in (
        "Reward and completion per iteration",
        "Cost and pace",
        "Track map",
        "Actions used",
        "Settings and custom files",
    ):
        assert f"<h2>{heading}" in page
    assert "stall, then segment 1 on g4dn.2xlarge" in page
    assert "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW" in page and "def reward_function(params):" in page
    assert page.count("Plotly.newPlot") == 4  # no evaluations yet: that section says so


def test_the_page_with_a_car_path_renders_in_headless_chromium(tmp_path, pixel_spread) -> None:  # type: ignore[no-untyped-def]
    from pitwall_local.browser import DRAWN_PLOTS, find_chromium, visit

    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no Chromium installed (scripts/setup.sh installs Debian's chromium where apt works)")
    page = tmp_path / "report.html"
    page.write_text(build_html(synthetic_report()))
    # every path point of the best iterations is a marker of the track map's plot
    probe = "document.querySelectorAll('.js-plotly-plot .scatterlayer .point').length"
    seen = visit(page, probe=probe, chromium=chromium)
    assert seen.errors == []
    drawn = sum(len(t.steps) for t in best_iterations(synthetic_report().traces))
    assert seen.value >= drawn
    # and every plot of the page drew something
    assert visit(page, probe=DRAWN_PLOTS, chromium=chromium).value == page.read_text().count("Plotly.newPlot")
    (tmp_path / "report.png").write_bytes(seen.screenshot)
    assert pixel_spread(seen.screenshot) > 0.05  # not a blank page
