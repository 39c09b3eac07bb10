"""Open a page in a real headless Chromium and report what a racer's browser would show: the
console's errors and uncaught exceptions, a screenshot, and the value of a JavaScript expression.

Speaks the Chrome DevTools Protocol over `--remote-debugging-pipe` (the browser reads commands on
its fd 3 and writes answers and events on fd 4, each a JSON message ended by a NUL byte): no
network port, no library. Chromium is Debian's `chromium` (scripts/setup.sh installs it).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# what works in a container without a display, a GPU or a network (and keeps Chromium quiet)
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
MAX_HEIGHT = 16_000  # pixels of a full-page screenshot at most

# A probe: how many plotly plots drew something. plotly marks each plot's div `.js-plotly-plot`
# and draws several `.main-svg` layers per plot (even an empty one), so layers prove nothing: a
# plot counts when one of its traces has a path with coordinates (a line, a marker, a bar).
DRAWN_PLOTS = """[...document.querySelectorAll('.js-plotly-plot')].filter(plot =>
  [...plot.querySelectorAll('.main-svg .trace path')].some(path => /\\d/.test(path.getAttribute('d') || ''))
).length"""
CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str | None:
    return next((path for name in CANDIDATES if (path := shutil.which(name))), None)


@dataclass
class PageVisit:
    errors: list[str] = field(default_factory=list)  # console errors and uncaught exceptions
    screenshot: bytes = b""
    value: Any = None  # what the probe expression evaluated to


class BrowserError(RuntimeError):
    """Chromium did not answer as the protocol says, or not in time."""


class _Pipe:
    def __init__(self, process: subprocess.Popen[bytes], to_browser: int, from_browser: int) -> None:
        self.process, self.to_browser, self.from_browser = process, to_browser, from_browser
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> int:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        return self.next_id

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("Chromium did not answer in time")
            ready, _, _ = select.select([self.from_browser], [], [], left)
            if ready:
                chunk = os.read(self.from_browser, 1 << 20)
                if not chunk:
                    raise BrowserError(f"Chromium closed its pipe (exit code {self.process.poll()})")
                self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return dict(json.loads(message))

    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        session: str | None = None,
        timeout: float = 30,
    ) -> dict[str, Any]:
        wanted = self.send(method, params, session)
        deadline = time.monotonic() + timeout
        while True:
            message = self._read(deadline)
            if message.get("id") == wanted:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))
            self.events.append(message)

    def wait_for(self, method: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        for index, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(index)
        while True:
            message = self._read(deadline)
            if message.get("method") == method:
                return message
            self.events.append(message)


def _as_fds_3_and_4(commands: int, answers: int) -> None:
    """In the child: the two pipe ends as fds 3 and 4 (through fds >= 10, so that one cannot
    overwrite the other when either already is 3 or 4)."""
    high_commands = fcntl.fcntl(commands, fcntl.F_DUPFD, 10)
    high_answers = fcntl.fcntl(answers, fcntl.F_DUPFD, 10)
    os.dup2(high_commands, 3)
    os.dup2(high_answers, 4)


def _errors_of(events: list[dict[str, Any]]) -> list[str]:
    errors = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            errors.append(
                f"exception: {details.get('exception', {}).get('description') or details.get('text')}"
            )
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            texts = [str(arg.get("value", arg.get("description", ""))) for arg in params.get("args", [])]
            errors.append(f"console.{params['type']}: {' '.join(texts)}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            errors.append(f"log ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}".strip())
    return errors


def visit(
    page: Path,
    *,
    probe: str = "true",
    width: int = 1280,
    height: int = 1600,
    full_page: bool = True,
    settle_seconds: float = 1.0,
    chromium: str | None = None,
    timeout: float = 60.0,
) -> PageVisit:
    """Load `page` (a local file) in a `width` x `height` viewport, wait for its load event and
    `settle_seconds` more, then collect the console's errors, evaluate `probe` and take a
    screenshot (of the whole page with `full_page`)."""
    binary = chromium or find_chromium()
    if binary is None:
        raise BrowserError(f"no Chromium found (looked for {', '.join(CANDIDATES)})")
    with tempfile.TemporaryDirectory(prefix="pitwall-chromium-") as profile:
        commands_read, commands_write = os.pipe()
        answers_read, answers_write = os.pipe()
        # the child sees the read end of the commands as fd 3 and the write end of the answers as fd 4
        # bandit B603: the installed browser with fixed flags, no shell
        process = subprocess.Popen(  # nosec B603
            [binary, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"],
            pass_fds=(3, 4),
            preexec_fn=lambda: _as_fds_3_and_4(commands_read, answers_write),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(commands_read)
        os.close(answers_write)
        pipe = _Pipe(process, commands_write, answers_read)
        try:
            target = pipe.call("Target.createTarget", {"url": "about:blank"}, timeout=timeout)["targetId"]
            session = pipe.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Runtime", "Log", "Page"):
                pipe.call(f"{domain}.enable", session=session)
            pipe.call(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                session=session,
            )
            pipe.call("Page.navigate", {"url": page.resolve().as_uri()}, session=session)
            pipe.wait_for("Page.loadEventFired", timeout)
            time.sleep(settle_seconds)  # plots lay themselves out after the load event
            value = pipe.call(
                "Runtime.evaluate", {"expression": probe, "returnByValue": True}, session=session
            )["result"].get("value")
            if full_page:  # the viewport as tall as the page: one screenshot of all of it
                tall = pipe.call(
                    "Runtime.evaluate",
                    {"expression": "document.documentElement.scrollHeight", "returnByValue": True},
                    session=session,
                )["result"].get("value", height)
                pipe.call(
                    "Emulation.setDeviceMetricsOverride",
                    {
                        "width": width,
                        "height": min(int(tall), MAX_HEIGHT),
                        "deviceScaleFactor": 1,
                        "mobile": False,
                    },
                    session=session,
                )
                time.sleep(settle_seconds)
            shot = pipe.call("Page.captureScreenshot", {"format": "png"}, session=session, timeout=timeout)
            errors = _errors_of(pipe.events)
            pipe.send("Browser.close")
            return PageVisit(errors=errors, screenshot=base64.b64decode(shot["data"]), value=value)
        finally:
            os.close(commands_write)
            os.close(answers_read)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
