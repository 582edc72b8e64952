"""Small helpers shared by the sandbox tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api_client.models import ProblemDetails
from tests.fixtures.sandbox import DEV_API_KEY, OTHER_API_KEY

AUTH = {"X-Api-Key": DEV_API_KEY}
OTHER_AUTH = {"X-Api-Key": OTHER_API_KEY}
ACTIVITIES = "/api/v1/activities"
BULK = "/api/v1/activities/bulk"


def note(subject: str = "A note", **extra: Any) -> dict[str, Any]:
    """A minimal valid create body."""
    return {"activityType": "note", "subject": subject, **extra}


def assert_problem(response: Any, status: int, *fields: str) -> dict[str, Any]:
    """Assert an RFC 9457 problem response with ``status`` naming every one of ``fields``.

    Works with Flask test responses and httpx responses alike.
    """
    body = response.get_data(as_text=True) if hasattr(response, "get_data") else response.text
    assert response.status_code == status, body
    content_type = response.headers["Content-Type"]
    assert content_type.startswith("application/problem+json"), content_type
    problem = ProblemDetails.model_validate_json(body)
    assert problem.status == status
    assert problem.title
    for field in fields:
        assert field in problem.errors, (field, problem.errors)
        assert all(isinstance(m, str) and m for m in problem.errors[field])
    return problem.model_dump(by_alias=True)


def ts(value: str) -> datetime:
    """Parse a wire time (``...Z``); compare these, not the strings (fractions vary)."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
