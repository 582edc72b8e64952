"""What a caller wants changed on an activity, for :meth:`RallyClient.update_activity`.

The wire has only ``PUT`` (replace). A change set names just the fields to change; the
client reads the activity, lays the change set over it and writes the whole body, so the
result is the same whether the server replaces or patches.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints, field_validator

from api_client.models import SUBJECT_MAX, _ActivityFields


class ActivityChanges(_ActivityFields):
    """Fields to change on an existing activity; fields left unset stay as they are.

    Set a field to ``None`` to clear it. ``subject`` may change but not be cleared.
    Build it with Python or wire names: ``ActivityChanges(status="completed")`` or
    ``ActivityChanges.model_validate({"dueDate": "2025-07-15T17:00:00Z"})``.
    """

    # Optional here (unlike on the wire models it derives from), hence the override.
    subject: (
        Annotated[
            str, StringConstraints(strip_whitespace=True, min_length=1, max_length=SUBJECT_MAX)
        ]
        | None
    ) = None  # type: ignore[assignment]

    @field_validator("subject")
    @classmethod
    def _subject_cannot_be_cleared(cls, value: str | None) -> str:
        # Only runs for an explicitly given value: every activity keeps a subject.
        if value is None:
            raise ValueError("cannot be cleared; every activity has a subject")
        return value
