"""A typed, Slack-agnostic client for the Rally Activities API.

    from api_client import ActivityChanges, CreateActivityRequest, RallyClient, merge

    with RallyClient("https://acme.rallycrm.io", api_key) as rally:
        call = rally.create_activity(
            CreateActivityRequest.model_validate(
                {"activityType": "call", "subject": "Discovery call", "callDurationSeconds": 1800}
            )
        )
        rally.change_activity(call.id, ActivityChanges(status="completed"))  # GET + PUT
        # or, with the activity already in hand, one PUT:
        rally.update_activity(call.id, merge(call, ActivityChanges(status="completed")))

To follow what changed, page by page, resuming where the last run stopped::

    for page in rally.iter_changes(stored_cursor, fields=["status", "dueDate"]):
        handle(page.items)
        stored_cursor = page.cursor  # store it with what handle() did

Errors are described in :mod:`api_client.errors`; wire models in :mod:`api_client.models`;
the paging cursor in :mod:`api_client.paging`.
"""

from api_client._base import USER_AGENT, __version__
from api_client.changes import ActivityChanges, merge
from api_client.client import MAX_BULK_ITEMS, MAX_PAGE_SIZE, RallyClient
from api_client.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    RallyConnectionError,
    RallyError,
    RateLimitError,
    ServerError,
    ValidationError,
)
from api_client.models import (
    ActivityResponse,
    ActivityType,
    BulkActivityItem,
    BulkCreateResponse,
    BulkItemError,
    CallDirection,
    CreateActivityRequest,
    PartialActivityResponse,
    Priority,
    ProblemDetails,
    Status,
    UpdateActivityRequest,
)
from api_client.paging import Cursor, Page

__all__ = [
    "MAX_BULK_ITEMS",
    "MAX_PAGE_SIZE",
    "USER_AGENT",
    "ActivityChanges",
    "ActivityResponse",
    "ActivityType",
    "AuthenticationError",
    "BulkActivityItem",
    "BulkCreateResponse",
    "BulkItemError",
    "CallDirection",
    "ConflictError",
    "CreateActivityRequest",
    "Cursor",
    "NotFoundError",
    "Page",
    "PartialActivityResponse",
    "Priority",
    "ProblemDetails",
    "RallyClient",
    "RallyConnectionError",
    "RallyError",
    "RateLimitError",
    "ServerError",
    "Status",
    "UpdateActivityRequest",
    "ValidationError",
    "__version__",
    "merge",
]
