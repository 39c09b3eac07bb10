"""The headless-browser check the report's tests rely on (`pitwall_local.browser.visit`): it must
see a broken page as broken. Skipped only where no Chromium is installed."""

from __future__ import annotations

from pathlib import Path

import plotly.offline
import pytest

from pitwall_local.browser import DRAWN_PLOTS, find_chromium, visit


@pytest.fixture
def chromium() -> str:
    found = find_chromium()
    if found is None:
        pytest.skip("no Chromium installed (scripts/setup.sh installs Debian's chromium where apt works)")
    return found


def test_a_console_error_and_a_thrown_exception_are_reported(tmp_path: Path, chromium: str) -> None:
    # Given a page that logs an error, then throws
    page = tmp_path / "bad.html"
    page.write_text(
        "<!doctype html><html><body><p>hello</p><script>\n"
        "console.error('the widget broke');\n"
        "throw new Error('boom');\n"
        "</script></body></html>"
    )
    # When a headless Chromium opens it
    seen = visit(page, chromium=chromium, settle_seconds=0.2)
    # Then both are reported, and the probe and screenshot still come back
    assert any(e.startswith("console.error: the widget broke") for e in seen.errors), seen.errors
    assert any(e.startswith("exception:") and "boom" in e for e in seen.errors), seen.errors
    assert seen.value is True and seen.screenshot.startswith(b"\x89PNG")


def test_a_clean_page_reports_no_error(tmp_path: Path, chromium: str) -> None:
    page = tmp_path / "good.html"
    page.write_text(
        "<!doctype html><html><body><p>hello</p><script>console.log('fine')</script></body></html>"
    )
    assert visit(page, chromium=chromium, settle_seconds=0.2).errors == []


def test_a_plot_that_drew_nothing_is_not_counted_as_drawn(tmp_path: Path, chromium: str) -> None:
    # Given a page with two plots: one with points, one whose trace has no data to draw
    page = tmp_path / "plots.html"
    page.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><script>"
        + plotly.offline.get_plotlyjs()
        + "</script></head><body><div id='a'></div><div id='b'></div><script>\n"
        "Plotly.newPlot('a', [{x: [1, 2, 3], y: [3, 1, 2], type: 'scatter'}]);\n"
        "Plotly.newPlot('b', [{x: [], y: [], type: 'scatter'}]);\n"
        "</script></body></html>"
    )
    # When the page is opened and its plots counted
    seen = visit(page, probe=DRAWN_PLOTS, chromium=chromium, full_page=False, settle_seconds=0.5)
    layers = visit(
        page, probe="document.querySelectorAll('.main-svg').length", chromium=chromium, full_page=False
    )
    # Then only the plot with points counts, though both drew their (empty) layers
    assert seen.errors == []
    assert seen.value == 1
    assert layers.value >= 2 * 2
