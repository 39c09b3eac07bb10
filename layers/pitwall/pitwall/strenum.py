"""`StrEnum` for modules that also run on the host's Python (3.8+), where `enum.StrEnum`
(3.11+) is missing: members are `str`s that compare, hash, print, format and serialise to
JSON as their values, as `enum.StrEnum` members do. Standard library only."""

from __future__ import annotations

from enum import Enum


class StrEnum(str, Enum):
    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, format_spec: str) -> str:
        return format(str(self.value), format_spec)
