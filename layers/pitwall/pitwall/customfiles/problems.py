"""What the validator reports: a problem (or warning) names the file, the field, the value
found, what is wrong, and what would be allowed."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import PydanticCustomError


class Problem(BaseModel):
    model_config = ConfigDict(frozen=True)

    file: str
    field: str = ""
    value: Any = None
    message: str
    allowed: str | None = None

    def render(self) -> str:
        where = f"{self.file}: {self.field}: " if self.field else f"{self.file}: "
        found = "" if self.value is None else f" (found: {_short(self.value)})"
        allowed = f" (allowed: {self.allowed})" if self.allowed else ""
        return f"{where}{self.message}{found}{allowed}"


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def field_path(loc: tuple[int | str, ...]) -> str:
    """("action_space", 3, "speed") -> "action_space[3].speed"."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


# pydantic error type -> the phrase we show; ranges and choices go into `allowed`.
_RANGE_WORDS = {
    "greater_than_equal": ">= {ge}",
    "greater_than": "> {gt}",
    "less_than_equal": "<= {le}",
    "less_than": "< {lt}",
    "too_short": "at least {min_length} items",
    "too_long": "at most {max_length} items",
}


def problems_from_validation_error(
    file: str, error: ValidationError, allowed_by_field: dict[str, str] | None = None
) -> list[Problem]:
    """One Problem per pydantic error, in the project's words.

    `allowed_by_field` maps a field path without list indices ("action_space.speed") or a bare
    field name to the text shown as `allowed`; without an entry, the bound or choice named by
    the error itself is used.
    Errors raised with type "rule" (cross-field rules) carry their own field and allowed text.
    """
    allowed_by_field = allowed_by_field or {}
    problems = []
    for item in error.errors(include_url=False):
        ctx = item.get("ctx") or {}
        if item["type"] == "rule":
            for violation in ctx["violations"]:
                problems.append(Problem(file=file, **violation))
            continue
        loc = tuple(part for part in item["loc"] if not (isinstance(part, str) and part.startswith("<")))
        names = [part for part in loc if isinstance(part, str)]
        allowed = allowed_by_field.get(".".join(names)) or (
            allowed_by_field.get(names[-1]) if names else None
        )
        if allowed is None and item["type"] in _RANGE_WORDS:
            allowed = _RANGE_WORDS[item["type"]].format(**ctx)
        if allowed is None and item["type"] == "literal_error":
            allowed = str(ctx.get("expected"))
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "missing":
            message = "missing (required)"
        elif item["type"] == "extra_forbidden":
            message = "unknown field"
        value = None if item["type"] == "missing" else item.get("input")
        if isinstance(value, dict | list) and len(repr(value)) > 200:
            value = f"<{type(value).__name__} of {len(value)}>"
        problems.append(
            Problem(file=file, field=field_path(loc), value=value, message=message, allowed=allowed)
        )
    return problems


def rule_error(violations: list[dict[str, Any]]) -> PydanticCustomError:
    """The error a model validator raises for failed cross-field rules. Each violation is a
    dict of Problem fields (field, value, message, allowed); `problems_from_validation_error`
    unpacks them into one Problem each."""
    summary = "; ".join(f"{v['field']}: {v['message']}" for v in violations)
    return PydanticCustomError("rule", "{summary}", {"summary": summary, "violations": violations})
