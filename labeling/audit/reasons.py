"""The reason a person gives for a step that goes into the audit trail (a raw-access grant, a
legal hold, their lifting): required, trimmed, bounded; and the error that names the field."""
from __future__ import annotations

MAX_REASON = 2000


class FieldError(ValueError):
    """The request is refused, naming the field; nothing changed."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


def required(value, error: type[FieldError] = FieldError, field: str = "reason", max_len: int = MAX_REASON) -> str:
    """The trimmed reason, or `error(field, …)` when it is missing or too long."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise error(field, "say why (it goes into the audit trail)")
    if len(text) > max_len:
        raise error(field, f"at most {max_len} characters")
    return text
