"""The shared reading and writing of the two JSON custom files.

A document keeps the JSON it was read from: written back unchanged it gives the same bytes;
changed, it keeps the original key order and every field the model does not know."""

from __future__ import annotations

import json
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationError

from pitwall.customfiles.problems import Problem, problems_from_validation_error


class JsonDocument(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True, validate_assignment=True)

    FILE: ClassVar[str] = ""
    ALLOWED: ClassVar[dict[str, str]] = {}  # field name -> allowed text for messages

    _source_text: str | None = PrivateAttr(default=None)
    _source_data: Any = PrivateAttr(default=None)

    @classmethod
    def from_json(cls, text: str | bytes) -> Self:
        """Parse and validate; raises ValueError (bad JSON) or pydantic's ValidationError."""
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        data = json.loads(text)
        document = cls.model_validate(data)
        document._source_text = text
        document._source_data = data
        return document

    @classmethod
    def check(cls, content: bytes | str) -> tuple[Self | None, list[Problem]]:
        """Read `content` and report every problem; never raises for bad input."""
        try:
            text = content.decode("utf-8") if isinstance(content, bytes) else content
        except UnicodeDecodeError as error:
            return None, [Problem(file=cls.FILE, message=f"not UTF-8 text: {error}")]
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            message = f"not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
            return None, [Problem(file=cls.FILE, message=message)]
        if not isinstance(data, dict):
            message = f"must be a JSON object {{...}}, not {type(data).__name__}"
            return None, [Problem(file=cls.FILE, message=message)]
        try:
            return cls.from_json(text), []
        except ValidationError as error:
            problems = problems_from_validation_error(cls.FILE, error, cls.ALLOWED)
        seen = {(problem.field, problem.message) for problem in problems}
        more = [
            problem for problem in cls.raw_rule_problems(data) if (problem.field, problem.message) not in seen
        ]
        return None, problems + more

    @classmethod
    def raw_rule_problems(cls, data: dict[str, Any]) -> list[Problem]:
        """Cross-field rules checked on raw data when field validation failed (by default none)."""
        return []

    def to_data(self) -> Any:
        """The JSON value: fields as read (unset defaults are not added), in the order read."""
        dumped = self.model_dump(mode="json", by_alias=True, exclude_unset=True)
        return _ordered_like(dumped, self._source_data)

    def to_json(self) -> str:
        data = self.to_data()
        if self._source_text is not None and _same_json(data, self._source_data):
            return self._source_text
        return json.dumps(data, indent=4) + "\n"


def _same_json(left: Any, right: Any) -> bool:
    """Equal as JSON text would be: 1 and 1.0 differ, key order matters."""
    return json.dumps(left) == json.dumps(right)


def _ordered_like(value: Any, template: Any) -> Any:
    """`value` with dict keys in `template`'s order (keys `template` lacks come last)."""
    if isinstance(value, dict) and isinstance(template, dict):
        keys = [key for key in template if key in value] + [key for key in value if key not in template]
        return {key: _ordered_like(value[key], template.get(key)) for key in keys}
    if isinstance(value, list) and isinstance(template, list) and len(value) == len(template):
        return [_ordered_like(item, model) for item, model in zip(value, template, strict=True)]
    if isinstance(value, list):
        return [_ordered_like(item, None) for item in value]
    return value
