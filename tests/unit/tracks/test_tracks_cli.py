"""`pitwall tracks list|show` and where the tracks folder comes from."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pitwall.tracks import builtin_tracks, simulator_tracks
from pitwall_cli import main
from pitwall_cli.tracks import TRACKS_DIR_ENV, tracks_folder


def test_the_folder_is_the_option_else_the_environment_else_the_simulators(monkeypatch, tmp_path):
    monkeypatch.delenv(TRACKS_DIR_ENV, raising=False)
    assert tracks_folder(None) is None
    monkeypatch.setenv(TRACKS_DIR_ENV, str(tmp_path))
    assert tracks_folder(None) == tmp_path
    assert tracks_folder(Path("/elsewhere")) == Path("/elsewhere")


def test_list_shows_the_simulators_tracks(monkeypatch, capsys):
    monkeypatch.delenv(TRACKS_DIR_ENV, raising=False)
    assert main(["tracks", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 + 127 == 1 + len(simulator_tracks())
    reinvent = next(line for line in lines if line.startswith("reInvent2019_track "))
    assert reinvent.split()[1:] == ["loop", "23.12", "m", "1.066", "m", "ccw"]


def test_list_reads_the_folder_from_the_environment(monkeypatch, tmp_path, capsys):
    np.save(tmp_path / "mine_cw.npy", builtin_tracks()["s_bend_circuit"].rows)
    monkeypatch.setenv(TRACKS_DIR_ENV, str(tmp_path))
    assert main(["tracks", "list"]) == 0
    out = capsys.readouterr().out
    assert "mine_cw" in out and "reInvent2019_track" not in out


def test_list_reports_a_bad_folder(tmp_path, capsys):
    np.save(tmp_path / "bad.npy", np.zeros((4, 3)))
    assert main(["tracks", "list", "--tracks", str(tmp_path)]) == 2
    assert "bad.npy: shape (4, 3) found; expected (N, 6)" in capsys.readouterr().err


def test_show_prints_details_and_plots(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv(TRACKS_DIR_ENV, raising=False)
    plot = tmp_path / "reinvent.png"
    assert main(["tracks", "show", "reInvent2019_track", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "length:     23.12 m" in out and "direction:  ccw" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_show_an_unknown_track_lists_the_known_ones(tmp_path, capsys):
    for name in ("oval", "sprint"):
        np.save(tmp_path / f"{name}.npy", builtin_tracks()[name].rows)
    assert main(["tracks", "show", "monza", "--tracks", str(tmp_path)]) == 2
    assert "no track 'monza' (allowed: oval, sprint)" in capsys.readouterr().err
