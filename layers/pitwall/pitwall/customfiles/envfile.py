"""DRFC `KEY=value` env files (run.env, system.env), read and written without losing a byte.

STANDARD LIBRARY ONLY: the host agent imports this module on the instance, where pydantic is
absent.

A read-write round trip changes nothing: comments, blank lines, order, inline `# comments`,
`$VAR` references, quotes and keys this module knows nothing about are kept verbatim. Setting
an existing key rewrites only the value part of its line, in place.

How DRFC itself loads these files (bin/activate.sh, `dr-update-env`): it drops lines that
start with `#`, splits the rest ON WHITESPACE, and for each word runs
`export <text before the first '='>=<text up to the next '='>`. So a value may not contain
whitespace (no quoting helps) and the words of an inline comment leak into the environment.
`set` therefore refuses values with whitespace or a newline.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

_ASSIGNMENT = re.compile(r"^(?P<head>\s*(?:export\s+)?(?P<key>[A-Za-z_][A-Za-z0-9_]*)=)(?P<rest>.*)$")
_INLINE_COMMENT = re.compile(r"\s+#")
_REFERENCE = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")


@dataclass
class EnvLine:
    """One line of an env file. `key` is None for comments, blank lines and anything else
    that is not an assignment; such lines are kept as they are."""

    text: str  # the line without its line ending
    ending: str  # "\n", "\r\n" or "" (a last line without a newline)
    key: str | None = None
    value: str | None = None  # unquoted value, `$VAR` references kept as written
    comment: str = ""  # the inline comment with the whitespace before it, e.g. "   # note"

    @property
    def has_inline_comment(self) -> bool:
        return "#" in self.comment


def _split_value(rest: str) -> tuple[str, str, str]:
    """Split the text after `KEY=` into (raw value as written, unquoted value, trailer)."""
    if rest[:1] in {'"', "'"}:
        closing = rest.find(rest[0], 1)
        if closing > 0:
            return rest[: closing + 1], rest[1:closing], rest[closing + 1 :]
    match = _INLINE_COMMENT.search(rest)
    raw = rest[: match.start()] if match else rest.rstrip()
    return raw, raw, rest[len(raw) :]


def _parse_line(text: str, ending: str) -> EnvLine:
    stripped = text.strip()
    if not stripped or stripped.startswith("#"):
        return EnvLine(text, ending)
    match = _ASSIGNMENT.match(text)
    if match is None:
        return EnvLine(text, ending)
    _raw, value, trailer = _split_value(match["rest"])
    return EnvLine(text, ending, key=match["key"], value=value, comment=trailer)


class EnvFile:
    """An env file as an ordered list of lines, with dictionary-like access to its keys.

    When a key appears more than once the last one wins, as in a shell; `set` rewrites that
    last line and `delete` removes them all.
    """

    def __init__(self, lines: list[EnvLine] | None = None) -> None:
        self.lines: list[EnvLine] = list(lines or [])

    # ---- reading and writing -------------------------------------------------------------
    @classmethod
    def parse(cls, text: str) -> EnvFile:
        lines = []
        for chunk in text.splitlines(keepends=True):
            body = chunk.rstrip("\r\n")
            lines.append(_parse_line(body, chunk[len(body) :]))
        return cls(lines)

    @classmethod
    def read(cls, path: Path | str) -> EnvFile:
        with open(path, encoding="utf-8", newline="") as handle:
            return cls.parse(handle.read())

    def render(self) -> str:
        return "".join(line.text + line.ending for line in self.lines)

    def write(self, path: Path | str) -> None:
        with open(path, "w", encoding="utf-8", newline="") as handle:
            handle.write(self.render())

    # ---- dictionary-like access ------------------------------------------------------------
    def _last_line_of(self, key: str) -> EnvLine | None:
        for line in reversed(self.lines):
            if line.key == key:
                return line
        return None

    def get(self, key: str, default: str | None = None) -> str | None:
        """The value as written (unquoted; `$VAR` references not expanded)."""
        line = self._last_line_of(key)
        return default if line is None or line.value is None else line.value

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __contains__(self, key: object) -> bool:
        return any(line.key == key for line in self.lines)

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def keys(self) -> list[str]:
        """Each key once, in the order of its last appearance's first sighting."""
        seen: dict[str, None] = {}
        for line in self.lines:
            if line.key is not None:
                seen.setdefault(line.key, None)
        return list(seen)

    def items(self) -> Iterator[tuple[str, str]]:
        for key in self.keys():
            yield key, self[key]

    def as_dict(self) -> dict[str, str]:
        return dict(self.items())

    def line_number(self, key: str) -> int | None:
        """1-based number of the line that sets `key` (the last one), for error messages."""
        for number in range(len(self.lines), 0, -1):
            if self.lines[number - 1].key == key:
                return number
        return None

    def set(self, key: str, value: str) -> None:
        """Set `key`: an existing line keeps its place and inline comment; a new key is appended."""
        check_value(key, value)
        line = self._last_line_of(key)
        if line is None:
            if self.lines and not self.lines[-1].ending:
                self.lines[-1].ending = "\n"
            self.lines.append(EnvLine(f"{key}={value}", "\n", key=key, value=value))
            return
        match = _ASSIGNMENT.match(line.text)
        assert match is not None  # a line with a key always matched the assignment pattern
        line.text = f"{match['head']}{value}{line.comment}"
        line.value = value

    def delete(self, key: str) -> bool:
        """Remove every line that sets `key`; True when there was one."""
        before = len(self.lines)
        self.lines = [line for line in self.lines if line.key != key]
        return len(self.lines) != before

    def update(self, values: Mapping[str, str]) -> None:
        for key, value in values.items():
            self.set(key, value)


def check_value(key: str, value: str) -> None:
    """Raise ValueError for a value DRFC's loader would mangle (it splits lines on whitespace)."""
    if not isinstance(value, str):
        raise ValueError(f"{key}: value must be a string, got {type(value).__name__}")
    if any(character.isspace() for character in value):
        raise ValueError(f"{key}: value {value!r} contains whitespace, which DRFC's env loader splits on")


def references(value: str) -> list[str]:
    """Names of the `$VAR` / `${VAR}` references in a value."""
    return [match["braced"] or match["bare"] for match in _REFERENCE.finditer(value)]


def expand(value: str, lookup: Callable[[str], str | None]) -> tuple[str, list[str]]:
    """Expand `$VAR` / `${VAR}` with `lookup`; returns the text and the names lookup lacked
    (those are left as written)."""
    missing: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        name = match["braced"] or match["bare"]
        found = lookup(name)
        if found is None:
            missing.append(name)
            return match[0]
        return found

    return _REFERENCE.sub(substitute, value), missing


def resolve_all(
    values: Mapping[str, str], max_depth: int = 10
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Expand references among `values` themselves (chains allowed, up to `max_depth` levels).

    Returns (expanded values, {key: names that could not be resolved})."""
    resolved = dict(values)
    unresolved: dict[str, list[str]] = {}
    for key in resolved:
        text = resolved[key]
        missing: list[str] = []
        for _ in range(max_depth):
            if not references(text):
                break
            text, missing = expand(text, _lookup_except(resolved, key))
            if missing:
                break
        if references(text) and not missing:
            missing = references(text)
        resolved[key] = text
        if missing:
            unresolved[key] = missing
    return resolved, unresolved


def _lookup_except(values: Mapping[str, str], own_key: str) -> Callable[[str], str | None]:
    """A lookup into `values` that treats a self-reference as unset."""

    def lookup(name: str) -> str | None:
        return None if name == own_key else values.get(name)

    return lookup
