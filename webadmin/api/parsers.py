"""The API's only request parser: JSON, minus what no mail configuration can hold.

DRF's ``JSONParser`` accepts NUL characters inside JSON strings and lets a deeply
nested document blow the recursion limit (a 500). PostgreSQL refuses NUL in text
and jsonb, and nothing in this API has a use for it, so both become a plain 400
here, before any field sees them.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_NESTING = 32  # the deepest real document (a filter's actions) is 3 levels


def _check(document: Any) -> None:
    """Raise ParseError if any string (key or value) holds NUL, or nesting goes past MAX_NESTING."""
    stack: list[tuple[Any, int]] = [(document, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_NESTING:
            raise ParseError(f"JSON nested deeper than {MAX_NESTING} levels.")
        if isinstance(value, str):
            if "\x00" in value:
                raise ParseError("NUL characters are not allowed in JSON strings.")
        elif isinstance(value, dict):
            for key, item in value.items():
                stack.append((key, depth + 1))
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)


class StrictJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            document = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(f"JSON nested deeper than {MAX_NESTING} levels.") from exc
        _check(document)
        return document
