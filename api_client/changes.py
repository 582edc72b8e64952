"""What a caller wants changed on an activity, and :func:`merge`, which lays it over one.

The wire has only ``PUT`` (replace every writable field). A change set names just the
fields to change; :func:`merge` lays it over the activity the caller already has and
returns the whole body to PUT, so a caller that just read the activity (to decide what to
change) changes it with one more request: :meth:`RallyClient.update_activity`.
:meth:`RallyClient.change_activity` does the read too, for callers that have nothing yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final

import pydantic
from pydantic import StringConstraints, field_validator

from api_client.errors import ValidationError
from api_client.models import (
    SUBJECT_MAX,
    ActivityResponse,
    CreateActivityRequest,
    UpdateActivityRequest,
    _ActivityFields,
)

WRITABLE_FIELDS: Final = frozenset(UpdateActivityRequest.model_fields)


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


Changes = ActivityChanges | CreateActivityRequest | UpdateActivityRequest | Mapping[str, Any]
"""A change set: an :class:`ActivityChanges`, a request model (only its *set* fields
count), or a mapping of field names (wire or Python) to new values."""


def as_changes(changes: Changes) -> dict[str, Any]:
    """The set fields of ``changes`` by wire name (validated; an explicit ``None`` clears)."""
    if isinstance(changes, Mapping):
        changes = ActivityChanges.model_validate(dict(changes))
    patch = changes.model_dump(by_alias=True, exclude_unset=True, mode="json")
    patch.pop("id", None)  # a BulkActivityItem's id is not a field to write
    return patch


def merge(current: ActivityResponse, changes: Changes) -> UpdateActivityRequest:
    """The whole PUT body that changes ``current`` by ``changes`` and keeps the rest.

    A pure function: no request is made. A change made by someone else between the read
    of ``current`` and the PUT is overwritten (the API offers no version check).

    Raises:
        ValidationError: The merged activity breaks a rule the API would refuse it for
            (a field of another type, say), named by wire field as the API names it;
            nothing is sent.
    """
    body = current.model_dump(by_alias=True, mode="json", include=set(WRITABLE_FIELDS))
    body.update(as_changes(changes))
    try:
        return UpdateActivityRequest.model_validate(body)
    except pydantic.ValidationError as exc:
        field_errors: dict[str, list[str]] = {}
        for error in exc.errors(include_url=False):
            name = str(error["loc"][0]) if error["loc"] else "$"
            field_errors.setdefault(name, []).append(
                str(error["msg"]).removeprefix("Value error, ")
            )
        raise ValidationError(
            "the change would make an activity the API refuses", field_errors=field_errors
        ) from None
