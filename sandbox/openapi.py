"""The OpenAPI 3.1 document of the sandbox, generated from the shared pydantic models.

Component schemas come from the models themselves (``pydantic.json_schema.
models_json_schema``), so the document cannot drift from what the sandbox validates; the
operations around them are described here, and the whole document is checked by
``openapi-pydantic``'s OpenAPI 3.1 model before it is served. A few rules the models
enforce in code are then stated in JSON Schema too (see :func:`_state_code_rules`), so a
generator working from the document (schemathesis) knows what a valid request is.
"""

from __future__ import annotations

import functools
from typing import Any, Final

from openapi_pydantic import OpenAPI
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from api_client.models import (
    ACTIVITY_FIELD_NAMES,
    GUID_PATTERN,
    HTTP_URL_PATTERN,
    TYPE_SPECIFIC_FIELDS,
    ActivityResponse,
    ActivityType,
    BulkActivityItem,
    BulkCreateResponse,
    CreateActivityRequest,
    PartialActivityResponse,
    ProblemDetails,
    UpdateActivityRequest,
)
from sandbox.parsing import (
    IDEMPOTENCY_KEY_MAX,
    LIMIT_DEFAULT,
    LIMIT_MAX,
    MAX_BULK_ITEMS,
    NOT_BLANK_PATTERN,
    OFFSET_MAX,
)

JSON: Final = "application/json"
PROBLEM_JSON: Final = "application/problem+json"
MODELS: Final[tuple[type[BaseModel], ...]] = (
    ActivityResponse,
    BulkActivityItem,
    BulkCreateResponse,
    CreateActivityRequest,
    PartialActivityResponse,
    ProblemDetails,
    UpdateActivityRequest,
)

_ERRORS: Final[dict[str, str]] = {
    "400": "Invalid request: `errors` maps each offending field, parameter or header (wire "
    "name) to messages; `$` is the document as a whole.",
    "401": "Missing or unknown `X-Api-Key`.",
    "404": "No such activity for this API key (unknown id, another tenant's, or not a GUID).",
    "405": "Method not allowed on this path (see `Allow`).",
    "413": "Request body over 1 MiB.",
    "422": "`Idempotency-Key` already used with a different request.",
    "429": "Rate limited (fault injection, `--rate-limit` or `--throttle-rate`); see `Retry-After`.",
    "503": "Unavailable (fault injection, `--fail-rate`); see `Retry-After`.",
}


def ref(name: str) -> dict[str, str]:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def _problem(status: str) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": _ERRORS[status],
        "content": {PROBLEM_JSON: {"schema": ref("ProblemDetails")}},
    }
    if status in ("429", "503"):
        response["headers"] = {
            "Retry-After": {
                "description": "Seconds to wait before retrying.",
                "schema": {"type": "string", "pattern": "^[0-9]+$"},
            }
        }
    elif status == "405":
        response["headers"] = {
            "Allow": {"description": "Methods allowed on this path.", "schema": {"type": "string"}}
        }
    return response


def _responses(ok: dict[str, Any], *errors: str) -> dict[str, Any]:
    out = dict(ok)
    for status in sorted({"401", "405", "429", "503", *errors}):
        out[status] = _problem(status)
    return out


_IDEMPOTENCY_KEY: Final = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Makes the POST safe to retry: the same key with the same body within 24 hours "
        "returns the first response (status and body, with `Idempotent-Replayed: true`) "
        "without creating again; the same key with another body is a 422."
    ),
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": IDEMPOTENCY_KEY_MAX,
        "pattern": r"\S",
    },
}
_REPLAYED: Final = {
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored first response to the Idempotency-Key.",
        "schema": {"type": "string", "enum": ["true"]},
    }
}
_LIST_PARAMETERS: Final = [
    {
        "name": "limit",
        "in": "query",
        "description": f"Page size, 1 to {LIMIT_MAX}.",
        "schema": {"type": "integer", "minimum": 1, "maximum": LIMIT_MAX, "default": LIMIT_DEFAULT},
    },
    {
        "name": "offset",
        "in": "query",
        "description": "How many activities to skip.",
        "schema": {"type": "integer", "minimum": 0, "maximum": OFFSET_MAX, "default": 0},
    },
    {
        "name": "updatedSince",
        "in": "query",
        "description": (
            "Only activities with `updatedAt` at or after this time (inclusive); ISO 8601 "
            "with `Z` or an offset. `updatedAt` strictly increases with every write in a "
            "tenant, so the last `updatedAt` seen is a sound sync cursor."
        ),
        "schema": {"type": "string", "format": "date-time"},
    },
    {
        "name": "fields",
        "in": "query",
        "description": (
            "Comma-separated subset of the ActivityResponse fields to return; `id` is "
            "always included."
        ),
        "style": "form",
        "explode": False,
        "schema": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "enum": list(ACTIVITY_FIELD_NAMES)},
        },
    },
]


def _links_to_activity(expression: str) -> dict[str, Any]:
    """OpenAPI links from a response naming an activity id to what can be done with it."""
    return {
        operation: {"operationId": operation, "parameters": {"id": expression}}
        for operation in ("getActivity", "updateActivity", "deleteActivity")
    }


def _paths() -> dict[str, Any]:
    activity_ok = {
        "description": "The activity.",
        "content": {JSON: {"schema": ref("ActivityResponse")}},
    }
    bulk_items = {
        "type": "array",
        "maxItems": MAX_BULK_ITEMS,
        "items": {
            "description": (
                "Each item is validated on its own as a BulkActivityItem; an invalid item is "
                "reported in the response's `errors` and the others are still written."
            ),
            "anyOf": [ref("BulkActivityItem"), {}],
        },
    }
    return {
        "/api/v1/activities": {
            "get": {
                "operationId": "listActivities",
                "summary": "List activities",
                "description": "Ordered by `updatedAt`, then `id`.",
                "parameters": _LIST_PARAMETERS,
                "responses": _responses(
                    {
                        "200": {
                            "description": (
                                "A page of activities; with `fields`, each has only those "
                                "fields and `id`."
                            ),
                            "content": {
                                JSON: {
                                    "schema": {
                                        "type": "array",
                                        "items": {
                                            "anyOf": [
                                                ref("ActivityResponse"),
                                                ref("PartialActivityResponse"),
                                            ]
                                        },
                                    }
                                }
                            },
                        }
                    },
                    "400",
                ),
            },
            "post": {
                "operationId": "createActivity",
                "summary": "Create an activity",
                "description": (
                    "`status` defaults to `pending`, `ownerId` to the API key's owner; "
                    "`completedAt` is set when the status is `completed`. Fields of one "
                    "type (call*, durationMinutes, location, meetingUrl, dueDate, priority) "
                    "on another are a 400 naming the field."
                ),
                "parameters": [_IDEMPOTENCY_KEY],
                "requestBody": {
                    "required": True,
                    "content": {JSON: {"schema": ref("CreateActivityRequest")}},
                },
                "responses": _responses(
                    {
                        "201": {
                            "description": "Created.",
                            "headers": {
                                "Location": {
                                    "description": "URL path of the new activity.",
                                    "schema": {"type": "string"},
                                },
                                **_REPLAYED,
                            },
                            "content": {JSON: {"schema": ref("ActivityResponse")}},
                            "links": _links_to_activity("$response.body#/id"),
                        }
                    },
                    "400",
                    "413",
                    "422",
                ),
            },
        },
        "/api/v1/activities/bulk": {
            "post": {
                "operationId": "bulkCreateActivities",
                "summary": f"Bulk create (max {MAX_BULK_ITEMS})",
                "description": (
                    'A JSON array of activities, or `{"activities": [...]}`; more than '
                    f"{MAX_BULK_ITEMS} is a 400 and nothing is written. Valid items are "
                    "written in one transaction, invalid ones reported in `errors` as "
                    "`{index, errors}`. An item with the `id` of an existing activity "
                    "replaces it (counted in `updated`); an unknown `id` is an item error. "
                    "`createdIds` lists the created activities in request order."
                ),
                "parameters": [_IDEMPOTENCY_KEY],
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {
                            "schema": {
                                "anyOf": [
                                    bulk_items,
                                    {
                                        "type": "object",
                                        "required": ["activities"],
                                        "additionalProperties": False,
                                        "properties": {"activities": bulk_items},
                                    },
                                ]
                            }
                        }
                    },
                },
                "responses": _responses(
                    {
                        "200": {
                            "description": "What was created, updated and rejected.",
                            "headers": dict(_REPLAYED),
                            "content": {JSON: {"schema": ref("BulkCreateResponse")}},
                            "links": _links_to_activity("$response.body#/createdIds/0"),
                        }
                    },
                    "400",
                    "413",
                    "422",
                ),
            }
        },
        "/api/v1/activities/{id}": {
            "parameters": [
                {
                    "name": "id",
                    "in": "path",
                    "required": True,
                    "description": "The activity's id (a GUID).",
                    "schema": {"type": "string", "format": "uuid", "pattern": GUID_PATTERN},
                }
            ],
            "get": {
                "operationId": "getActivity",
                "summary": "Get activity by ID",
                "responses": _responses({"200": activity_ok}, "404"),
            },
            "put": {
                "operationId": "updateActivity",
                "summary": "Update an activity",
                "description": (
                    "Replaces the writable fields: omitted optional fields become null, an "
                    "omitted `status` is `pending`, an omitted `ownerId` the API key's "
                    "owner. `activityType` may be sent but cannot change; type-specific "
                    "fields are checked against the stored type."
                ),
                "requestBody": {
                    "required": True,
                    "content": {JSON: {"schema": ref("UpdateActivityRequest")}},
                },
                "responses": _responses({"200": activity_ok}, "400", "404", "413"),
            },
            "delete": {
                "operationId": "deleteActivity",
                "summary": "Delete an activity",
                "responses": _responses({"204": {"description": "Deleted."}}, "404"),
            },
        },
    }


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document, as a JSON-ready dict (built and validated once)."""
    _, definitions = models_json_schema(
        [(model, "validation") for model in MODELS],
        by_alias=True,
        ref_template="#/components/schemas/{model}",
    )
    schemas: dict[str, Any] = definitions["$defs"]
    _state_code_rules(schemas)
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Rally Activities API (local sandbox)",
            "version": "1.0.0",
            "description": (
                "The Rally Activities API as implemented by `rally-slack sandbox`: log and "
                "manage notes, tasks, calls and meetings. Each API key is a tenant of its "
                "own. Errors are RFC 9457 problem documents (`application/problem+json`)."
            ),
        },
        "security": [{"ApiKey": []}],
        "paths": _paths(),
        "components": {
            "schemas": schemas,
            "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}},
        },
    }
    # Fails loudly at first use if the document is not valid OpenAPI 3.1.
    OpenAPI.model_validate(document)
    return document


def _state_code_rules(schemas: dict[str, Any]) -> None:
    """Say in JSON Schema what the request models check in code.

    - ``subject`` and ``callOutcome`` are stripped first, so they need a character that
      is not white space; ``meetingUrl`` must be an absolute http(s) URL (the sandbox
      holds requests to these patterns too: ``sandbox.parsing.documented_rules``).
    - A type-specific field (``TYPE_SPECIFIC_FIELDS``) must be null or absent unless
      ``activityType`` is its type. On PUT the stored type decides, which no schema of the
      body alone can say, so only the create models carry this rule.
    """
    wire = {name: field.alias or name for name, field in CreateActivityRequest.model_fields.items()}
    for name in ("CreateActivityRequest", "BulkActivityItem", "UpdateActivityRequest"):
        properties = schemas[name]["properties"]
        properties["subject"]["pattern"] = NOT_BLANK_PATTERN
        _non_null_branch(properties["callOutcome"])["pattern"] = NOT_BLANK_PATTERN
        _non_null_branch(properties["meetingUrl"])["pattern"] = HTTP_URL_PATTERN
    rules = []
    for activity_type in ActivityType:
        foreign = [
            wire[field] for field, owner in TYPE_SPECIFIC_FIELDS.items() if owner != activity_type
        ]
        rules.append(
            {
                "if": {
                    "properties": {"activityType": {"const": activity_type.value}},
                    "required": ["activityType"],
                },
                "then": {"properties": {name: {"type": "null"} for name in foreign}},
            }
        )
    for name in ("CreateActivityRequest", "BulkActivityItem"):
        schemas[name]["allOf"] = rules


def _non_null_branch(schema: dict[str, Any]) -> dict[str, Any]:
    for branch in schema.get("anyOf", [schema]):
        if branch.get("type") != "null":
            found: dict[str, Any] = branch
            return found
    raise LookupError("no non-null branch")
