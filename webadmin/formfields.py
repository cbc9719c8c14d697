"""Form fields shared by the dashboard and the Django admin (no raw JSON for people)."""

from __future__ import annotations

from typing import Any

from django import forms


def targets_from_text(raw: str) -> list[str]:
    """Alias targets typed one per line (commas and spaces also separate)."""
    return [t for t in raw.replace(",", "\n").split() if t]


class TargetsField(forms.CharField):
    """Alias targets: one address per line in a text box; cleans to a list of addresses."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 4, "placeholder": "bob@example.com"}))
        kwargs.setdefault("help_text", "One address per line: local mailboxes, aliases or external addresses.")
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        return targets_from_text(str(value or ""))

    def has_changed(self, initial: Any, data: Any) -> bool:
        before = initial if isinstance(initial, list) else targets_from_text(str(initial or ""))
        return before != self.to_python(data)
