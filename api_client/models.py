"""Wire models of the Rally Activities API, shared by the client and the sandbox.

Names on the wire are camelCase (``activityType``); in Python they are snake_case
(``activity_type``). Build a request from wire names with ``model_validate`` and dump
it with ``model_dump(by_alias=True, exclude_unset=True, mode="json")`` so unset
fields are not sent.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Final

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic.alias_generators import to_camel

GUID_PATTERN: Final = (
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
GUID_RE: Final = re.compile(GUID_PATTERN.removesuffix("$") + r"\Z")
"""``GUID_PATTERN`` for Python's ``re``, anchored at the very end (``$`` would let a
trailing newline through)."""

# Unicode White_Space, what the models strip from text (pydantic-core trims with Rust's
# str::trim), spelled out because JSON Schema's \s (ECMA-262) and Python's \s each mean
# something slightly different.
WHITE_SPACE: Final = r"\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Characters RFC 3986 never allows unencoded; "|" and "<>" would also break Slack's
# <url|label> link markup (a link could pick its own label).
_URL_UNSAFE: Final = r'\[\]<>|"\\^`{}'
HTTP_URL_PATTERN: Final = (
    f"^[{WHITE_SPACE}]*[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9._~-]+(:[0-9]{{1,5}})?"
    f"([/?#][^{WHITE_SPACE}{_URL_UNSAFE}]*)?[{WHITE_SPACE}]*$"
)
"""An absolute http(s) URL with a plain host name: what ``meetingUrl`` must be. One
rule for the modal, the client and the sandbox (and the sandbox's OpenAPI document)."""
_HTTP_URL: Final = re.compile(HTTP_URL_PATTERN.removesuffix("$") + r"\Z")


def is_http_url(text: str) -> bool:
    """Whether ``text`` is a ``meetingUrl`` the API accepts (see ``HTTP_URL_PATTERN``)."""
    return _HTTP_URL.match(text) is not None


def _lower(value: str) -> str:
    return value.lower()


def _to_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        # 0001-01-01T00:00+01:00 is a valid ISO 8601 time with no UTC equivalent in
        # Python's datetime range; a ValueError makes it a field error, not a crash.
        raise ValueError("is out of the representable range once converted to UTC") from None


def format_utc(value: datetime) -> str:
    """Render an aware datetime as UTC ISO 8601 ending in ``Z``."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


Guid = Annotated[
    str,
    StringConstraints(pattern=GUID_PATTERN),
    AfterValidator(_lower),
    Field(json_schema_extra={"format": "uuid"}),
]
"""A GUID written 8-4-4-4-12 in hex; any such string, not only RFC 4122 variants."""

UtcDateTime = Annotated[
    AwareDatetime,
    AfterValidator(_to_utc),
    PlainSerializer(format_utc, return_type=str, when_used="json"),
]
"""An aware datetime, normalised to UTC and written with a trailing ``Z``."""


class ActivityType(StrEnum):
    NOTE = "note"
    TASK = "task"
    CALL = "call"
    MEETING = "meeting"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Status(StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"


class CallDirection(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


# Fields that belong to one activity type; on any other type they are a 400.
TYPE_SPECIFIC_FIELDS: Final[dict[str, ActivityType]] = {
    "call_direction": ActivityType.CALL,
    "call_outcome": ActivityType.CALL,
    "call_duration_seconds": ActivityType.CALL,
    "duration_minutes": ActivityType.MEETING,
    "location": ActivityType.MEETING,
    "meeting_url": ActivityType.MEETING,
    "due_date": ActivityType.TASK,
    "priority": ActivityType.TASK,
}

SUBJECT_MAX = 500
BODY_MAX = 65_536
SHORT_TEXT_MAX = 500


class _WireModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        use_enum_values=False,
    )


class _ActivityFields(_WireModel):
    """The writable fields of an activity, with the type-specific rule."""

    model_config = ConfigDict(extra="forbid")

    # First, so the type-specific validators below can see it.
    activity_type: ActivityType | None = None
    subject: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=SUBJECT_MAX)
    ]
    body: Annotated[str, StringConstraints(max_length=BODY_MAX)] | None = None
    contact_id: Guid | None = None
    company_id: Guid | None = None
    deal_id: Guid | None = None
    scheduled_at: UtcDateTime | None = None
    due_date: UtcDateTime | None = None
    priority: Priority | None = None
    status: Status | None = None
    call_direction: CallDirection | None = None
    call_outcome: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
        | None
    ) = None
    call_duration_seconds: Annotated[int, Field(ge=0, le=7 * 24 * 3600)] | None = None
    duration_minutes: Annotated[int, Field(ge=0, le=7 * 24 * 60)] | None = None
    location: Annotated[str, StringConstraints(max_length=SHORT_TEXT_MAX)] | None = None
    meeting_url: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=2048)] | None
    ) = None
    owner_id: Guid | None = None

    @field_validator("meeting_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not is_http_url(value):
            raise ValueError("must be an absolute http or https URL with a host name")
        return value

    @field_validator(*TYPE_SPECIFIC_FIELDS, mode="after")
    @classmethod
    def _only_on_its_type(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None or info.field_name is None:
            return value
        activity_type = info.data.get("activity_type")
        allowed = TYPE_SPECIFIC_FIELDS[info.field_name]
        if activity_type is not None and activity_type != allowed:
            raise ValueError(
                f"applies only to {allowed.value} activities, not {activity_type.value}"
            )
        return value


class CreateActivityRequest(_ActivityFields):
    """Body of ``POST /api/v1/activities``."""

    activity_type: ActivityType


class UpdateActivityRequest(_ActivityFields):
    """Body of ``PUT /api/v1/activities/{id}``: replaces the writable fields.

    ``activityType`` may be sent but cannot change.
    """


class BulkActivityItem(CreateActivityRequest):
    """One item of a bulk request; an ``id`` of an existing activity updates it."""

    id: Guid | None = None


class ActivityResponse(_WireModel):
    """Returned by all GET, POST and PUT endpoints."""

    id: Guid
    tenant_id: Guid
    activity_type: ActivityType
    subject: str
    body: str | None = None
    contact_id: Guid | None = None
    company_id: Guid | None = None
    deal_id: Guid | None = None
    scheduled_at: UtcDateTime | None = None
    due_date: UtcDateTime | None = None
    priority: Priority | None = None
    status: Status
    call_direction: CallDirection | None = None
    call_outcome: str | None = None
    call_duration_seconds: int | None = None
    duration_minutes: int | None = None
    location: str | None = None
    meeting_url: str | None = None
    owner_id: Guid | None = None
    completed_at: UtcDateTime | None = None
    created_at: UtcDateTime
    updated_at: UtcDateTime


class PartialActivityResponse(_WireModel):
    """A list item when ``?fields=`` asked for a subset: only ``id`` is certain."""

    id: Guid
    tenant_id: Guid | None = None
    activity_type: ActivityType | None = None
    subject: str | None = None
    body: str | None = None
    contact_id: Guid | None = None
    company_id: Guid | None = None
    deal_id: Guid | None = None
    scheduled_at: UtcDateTime | None = None
    due_date: UtcDateTime | None = None
    priority: Priority | None = None
    status: Status | None = None
    call_direction: CallDirection | None = None
    call_outcome: str | None = None
    call_duration_seconds: int | None = None
    duration_minutes: int | None = None
    location: str | None = None
    meeting_url: str | None = None
    owner_id: Guid | None = None
    completed_at: UtcDateTime | None = None
    created_at: UtcDateTime | None = None
    updated_at: UtcDateTime | None = None


ACTIVITY_FIELD_NAMES: Final[tuple[str, ...]] = tuple(
    field.alias or name for name, field in ActivityResponse.model_fields.items()
)
"""Wire names a ``?fields=`` list may contain."""


class BulkItemError(_WireModel):
    index: int
    errors: dict[str, list[str]]


class BulkCreateResponse(_WireModel):
    created: int = 0
    updated: int = 0
    failed: int = 0
    created_ids: list[Guid] = Field(default_factory=list)
    errors: list[BulkItemError] = Field(default_factory=list)


class ProblemDetails(_WireModel):
    """An RFC 9457 problem document, with field errors by wire name."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: dict[str, list[str]] = Field(default_factory=dict)
