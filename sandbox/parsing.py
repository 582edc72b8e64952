"""Reading requests: JSON bodies, the shared models, and list query parameters.

Bodies are validated with the shared models in pydantic's strict JSON mode and by wire
name only, so the sandbox accepts exactly what the published JSON schema describes: no
``"12"`` for an integer, no number for a time, no ``activity_type`` for
``activityType``. Every failure is a :class:`~sandbox.problems.ProblemError` naming the
field or parameter.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import pydantic
from flask import Request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestEntityTooLarge

from api_client.models import (
    ACTIVITY_FIELD_NAMES,
    WHITE_SPACE,
    ActivityType,
    CreateActivityRequest,
    UtcDateTime,
    is_http_url,
)
from sandbox.problems import FieldErrors, ProblemError, field_errors, validation_failed
from sandbox.store import COLUMN_FOR_WIRE, COLUMNS, TIME_COLUMNS, to_us

M = TypeVar("M", bound=pydantic.BaseModel)

MAX_BODY_BYTES: Final = 1024 * 1024
MAX_BULK_ITEMS: Final = 100
IDEMPOTENCY_KEY_MAX: Final = 255
LIST_PARAMETERS: Final = ("limit", "offset", "updatedSince", "fields")
LIMIT_DEFAULT: Final = 50
LIMIT_MAX: Final = 100
OFFSET_MAX: Final = 10**12  # also in the OpenAPI document
_DIGITS: Final = re.compile(r"^[0-9]+$")
# In a query string a "+" means a space, so an unencoded "+02:00" offset arrives as " 02:00".
_SPACE_FOR_PLUS: Final = re.compile(r" (\d{2}:\d{2})$")
_UTC_ADAPTER: Final = pydantic.TypeAdapter(UtcDateTime)
# RFC 3339's date-time (what the OpenAPI document promises), with the offset optional so a
# time without one gets pydantic's clearer "needs a time zone" message. pydantic alone
# would also take "0" or "1750000000" as Unix times.
_DATE_TIME: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})?"
)
_DATE_TIME_MESSAGE: Final = (
    "must be an ISO 8601 date-time with a time zone, e.g. 2025-06-14T15:30:00Z"
)
_TIME_FIELDS: Final = tuple(
    field.alias or name
    for name, field in CreateActivityRequest.model_fields.items()
    if name in TIME_COLUMNS
)

NOT_BLANK_PATTERN: Final = f"[^{WHITE_SPACE}]"
"""Text that is not only white space (unanchored: "contains a character that is not")."""
_URL_FIELDS: Final = ("meetingUrl",)
# Limits on text as sent (the models check some after stripping; the schema cannot say so).
_MAX_LENGTHS: Final[dict[str, int]] = {
    name: int(branch["maxLength"])
    for name, spec in CreateActivityRequest.model_json_schema(by_alias=True)["properties"].items()
    for branch in spec.get("anyOf", [spec])
    if branch.get("type") == "string" and "maxLength" in branch
}


def documented_rules(payload: Mapping[str, Any]) -> FieldErrors:
    """The rules the OpenAPI document states beyond the models, checked on the raw JSON.

    The models are a little more lenient in three places (a number or ``"0"`` as a time,
    white space around text counted after stripping, any URL ``urlsplit`` accepts); the
    sandbox holds requests to the document so that a schema-valid request is accepted
    and a schema-invalid one refused.
    """
    errors: FieldErrors = {}
    for name in _TIME_FIELDS:
        value = payload.get(name)
        if isinstance(value, str) and not _DATE_TIME.fullmatch(value):
            errors[name] = [_DATE_TIME_MESSAGE]
    for name, limit in _MAX_LENGTHS.items():
        value = payload.get(name)
        if isinstance(value, str) and len(value) > limit:
            errors[name] = [f"must be at most {limit} characters"]
    for name in _URL_FIELDS:
        value = payload.get(name)
        if isinstance(value, str) and name not in errors and not is_http_url(value):
            errors[name] = ["must be an absolute http or https URL with a host name"]
    return errors


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def read_json(request: Request) -> Any:
    """Parse the request body as JSON, or raise a 400 that says what is wrong with it."""
    content_type = request.headers.get("Content-Type")
    if content_type is not None:
        mimetype = request.mimetype
        if mimetype != "application/json" and not mimetype.endswith("+json"):
            raise ProblemError(
                400,
                f"The body must be JSON sent as Content-Type: application/json, "
                f"not {content_type!r}.",
                errors={"Content-Type": ["must be application/json"]},
            )
    raw = request.get_data(cache=True)
    if len(raw) > MAX_BODY_BYTES:
        raise RequestEntityTooLarge()
    if not raw.strip():
        raise ProblemError(
            400,
            "The request body is empty; expected a JSON document.",
            errors={"$": ["is required"]},
        )
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except UnicodeDecodeError:
        detail = "The request body is not valid UTF-8 text."
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        detail = f"The request body is not valid JSON: {exc}."
    except RecursionError:
        detail = "The request body is not valid JSON: it is nested too deeply."
    raise ProblemError(400, detail, errors={"$": ["is not valid JSON"]})


def request_hash(method: str, path: str, payload: Any) -> str:
    """A digest of what a POST asked for, for ``Idempotency-Key`` comparisons.

    The JSON is canonicalised (sorted keys, no whitespace), so a retry that re-serialises
    the same body differently still counts as the same request.
    """
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(f"{method} {path}\n".encode())
    digest.update(canonical.encode())
    return digest.hexdigest()


def idempotency_key(request: Request) -> str | None:
    """The ``Idempotency-Key`` header, checked; None when absent."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not key.strip() or len(key) > IDEMPOTENCY_KEY_MAX:
        raise ProblemError(
            400,
            f"Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX} characters.",
            errors={"Idempotency-Key": [f"must be 1 to {IDEMPOTENCY_KEY_MAX} characters"]},
        )
    return key


def require_object(payload: Any, what: str = "The request body") -> Mapping[str, Any]:
    """The payload if it is a JSON object, else a 400."""
    if not isinstance(payload, dict):
        raise ProblemError(
            400,
            f"{what} must be a JSON object, not {_json_kind(payload)}.",
            errors={"$": ["must be a JSON object"]},
        )
    return payload


def validate(model: type[M], payload: Mapping[str, Any]) -> M | FieldErrors:
    """Validate a JSON object against a shared model; the model, or field errors."""
    misshapen = documented_rules(payload)
    try:
        # Strict mode only exists for JSON input in the form the schema describes (times
        # as strings), so the object goes back to JSON text; ASCII escapes keep a lone
        # surrogate ("\ud800") a JSON error instead of an encoding crash.
        # JSON has one number type: 60.0 is the integer 60, as JSON Schema reads it.
        normal = {
            key: int(value) if isinstance(value, float) and value.is_integer() else value
            for key, value in payload.items()
        }
        text = json.dumps(normal)
        result = model.model_validate_json(text, strict=True, by_alias=True, by_name=False)
    except pydantic.ValidationError as exc:
        return {**field_errors(exc), **misshapen}
    return misshapen or result


def parse_create(payload: Any) -> CreateActivityRequest:
    """The body of a single create, or a 400 naming every bad field."""
    result = validate(CreateActivityRequest, require_object(payload))
    if isinstance(result, dict):
        raise validation_failed(result)
    return result


def parse_update(payload: Any, stored_type: ActivityType, model: type[M]) -> M:
    """The body of a PUT, validated against the type the activity already has.

    ``activityType`` may be sent but must equal the stored one; the type-specific rule
    (``callDirection`` only on calls, ...) is checked against the stored type.
    """
    body = dict(require_object(payload))
    sent_type = body.get("activityType")
    if sent_type is not None and sent_type != stored_type.value:
        raise validation_failed(
            {"activityType": [f"cannot change: this activity is a {stored_type.value}"]}
        )
    body["activityType"] = stored_type.value
    result = validate(model, body)
    if isinstance(result, dict):
        raise validation_failed(result)
    return result


def bulk_items(payload: Any) -> list[Any]:
    """The list of items of a bulk request (a JSON array, or ``{"activities": [...]}``)."""
    if isinstance(payload, dict):
        extra = sorted(set(payload) - {"activities"})
        if extra:
            raise validation_failed({name: ["is not a field of this request"] for name in extra})
        if "activities" not in payload:
            raise validation_failed({"activities": ["is required"]})
        payload = payload["activities"]
        name = "activities"
    else:
        name = "$"
    if not isinstance(payload, list):
        raise ProblemError(
            400,
            f'A bulk request is a JSON array of activities (or {{"activities": [...]}}), '
            f"not {_json_kind(payload)}.",
            errors={name: ["must be a JSON array"]},
        )
    if len(payload) > MAX_BULK_ITEMS:
        raise ProblemError(
            400,
            f"A bulk request takes at most {MAX_BULK_ITEMS} activities; this one has "
            f"{len(payload)}. Nothing was created.",
            errors={name: [f"must have at most {MAX_BULK_ITEMS} items"]},
        )
    return payload


@dataclass(frozen=True, slots=True)
class ListQuery:
    """The checked parameters of ``GET /api/v1/activities``."""

    limit: int = LIMIT_DEFAULT
    offset: int = 0
    since_us: int | None = None
    columns: tuple[str, ...] = COLUMNS


def parse_list_query(args: MultiDict[str, str]) -> ListQuery:
    """Check the list parameters; a 400 naming every bad or unknown one."""
    errors: FieldErrors = {}
    for name in args:
        if name not in LIST_PARAMETERS:
            errors[name] = [f"is not a parameter of this endpoint ({', '.join(LIST_PARAMETERS)})"]
        elif len(args.getlist(name)) > 1:
            errors[name] = ["must be given at most once"]
    limit = _integer(args, "limit", LIMIT_DEFAULT, 1, LIMIT_MAX, errors)
    offset = _integer(args, "offset", 0, 0, OFFSET_MAX, errors)
    since_us = _updated_since(args.get("updatedSince"), errors)
    columns = _columns(args.get("fields"), errors)
    if errors:
        raise validation_failed(errors, f"Invalid query parameters: {', '.join(errors)}.")
    return ListQuery(limit=limit, offset=offset, since_us=since_us, columns=columns)


def _integer(
    args: MultiDict[str, str], name: str, default: int, low: int, high: int, errors: FieldErrors
) -> int:
    raw = args.get(name)
    if raw is None or name in errors:
        return default
    if not _DIGITS.match(raw) or not low <= int(raw) <= high:
        errors[name] = [f"must be an integer between {low} and {high}"]
        return default
    return int(raw)


def _updated_since(raw: str | None, errors: FieldErrors) -> int | None:
    if raw is None or "updatedSince" in errors:
        return None
    text = _SPACE_FOR_PLUS.sub(r"+\1", raw)
    if not _DATE_TIME.fullmatch(text):
        errors["updatedSince"] = [_DATE_TIME_MESSAGE]
        return None
    try:
        moment = _UTC_ADAPTER.validate_json(json.dumps(text), strict=True)
    except pydantic.ValidationError as exc:
        reason = exc.errors(include_url=False)[0]
        if reason["type"] == "timezone_aware":
            message = "must include a time zone (Z or +hh:mm), e.g. 2025-06-14T15:30:00Z"
        else:
            message = f"{_DATE_TIME_MESSAGE} ({reason['msg']})"
        errors["updatedSince"] = [message]
        return None
    return to_us(moment)


def _columns(raw: str | None, errors: FieldErrors) -> tuple[str, ...]:
    if raw is None or "fields" in errors:
        return COLUMNS
    names = [name.strip() for name in raw.split(",")]
    unknown = [name for name in names if name not in ACTIVITY_FIELD_NAMES]
    if unknown:
        shown = ", ".join(repr(name) for name in unknown)
        errors["fields"] = [f"unknown field {shown}; choose from {', '.join(ACTIVITY_FIELD_NAMES)}"]
        return COLUMNS
    wanted = {"id", *names}
    return tuple(COLUMN_FOR_WIRE[wire] for wire in ACTIVITY_FIELD_NAMES if wire in wanted)


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
