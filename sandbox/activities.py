"""The rules of an activity's life: defaults, status and ``completedAt``, replace on write."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum
from typing import Final

from api_client.models import ActivityType, Status, UpdateActivityRequest
from api_client.models import _ActivityFields as ActivityFields
from sandbox.store import Row, to_us
from sandbox.tenants import Tenant

# The fields a request writes; activityType is fixed at creation, id is not writable.
WRITABLE_FIELDS: Final[tuple[str, ...]] = tuple(
    name for name in UpdateActivityRequest.model_fields if name != "activity_type"
)


def new_id() -> str:
    """A fresh activity id."""
    return str(uuid.uuid4())


def build_row(
    request: ActivityFields,
    *,
    activity_id: str,
    activity_type: ActivityType,
    tenant: Tenant,
    now: int,
    existing: Row | None = None,
) -> Row:
    """The stored form of an activity after a create (``existing`` None) or a replace.

    Replace semantics: every writable field takes the request's value, so an omitted
    optional field becomes null. Defaults apply the same way on both: ``status`` is
    ``pending`` and ``ownerId`` the key's owner when not given. ``completedAt`` is set
    when the status becomes ``completed``, kept while it stays ``completed``, and cleared
    when it goes back to ``pending``.

    Args:
        request: The validated request body.
        activity_id: The activity's id.
        activity_type: Its type (the stored one, on a replace).
        tenant: The tenant of the API key.
        now: This write's timestamp (microseconds), strictly later than the last one.
        existing: The stored activity being replaced, if any.

    Returns:
        Every column of the activity.
    """
    row: Row = {"id": activity_id, "tenant_id": tenant.tenant_id}
    row["activity_type"] = activity_type.value
    for name in WRITABLE_FIELDS:
        value = getattr(request, name)
        if isinstance(value, datetime):
            value = to_us(value)
        elif isinstance(value, Enum):
            value = value.value
        row[name] = value
    status = row["status"] or Status.PENDING.value
    row["status"] = status
    if row["owner_id"] is None:
        row["owner_id"] = tenant.owner_id
    if status == Status.COMPLETED.value:
        stays_completed = existing is not None and existing["status"] == Status.COMPLETED.value
        kept = existing["completed_at"] if existing is not None and stays_completed else None
        row["completed_at"] = kept if kept is not None else now
    else:
        row["completed_at"] = None
    row["created_at"] = existing["created_at"] if existing is not None else now
    row["updated_at"] = now
    return row
