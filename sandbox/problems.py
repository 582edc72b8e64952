"""RFC 9457 problem documents, and turning pydantic errors into wire field errors."""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, Final

import pydantic
from flask import Response, has_request_context, request

PROBLEM_JSON: Final = "application/problem+json"

FieldErrors = dict[str, list[str]]


class ProblemError(Exception):
    """Raised anywhere in a request to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: FieldErrors | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors or {}
        self.headers = dict(headers or {})

    def response(self) -> Response:
        """The problem document for this error."""
        return problem(self.status, self.detail, errors=self.errors, headers=self.headers)


def validation_failed(errors: FieldErrors, detail: str | None = None) -> ProblemError:
    """A 400 naming every offending field."""
    names = ", ".join(errors)
    return ProblemError(400, detail or f"The request is invalid: check {names}.", errors=errors)


def problem(
    status: int,
    detail: str | None = None,
    *,
    errors: FieldErrors | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Build an ``application/problem+json`` response.

    Args:
        status: The HTTP status.
        detail: What went wrong, for a person.
        errors: Field errors by wire name.
        headers: Extra response headers (``Retry-After``, ``Allow``).

    Returns:
        The Flask response.
    """
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if has_request_context():
        body["instance"] = request.path
    body["errors"] = errors or {}
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def field_errors(exc: pydantic.ValidationError) -> FieldErrors:
    """Map a pydantic error to ``{wire field name: [messages]}``.

    The models validate by alias only, so ``loc`` already carries wire names; an error
    about the document as a whole (``loc`` empty) is filed under ``$``.
    """
    out: FieldErrors = {}
    for error in exc.errors(include_url=False, include_context=False, include_input=False):
        name = ".".join(str(part) for part in error["loc"]) or "$"
        out.setdefault(name, []).append(_message(error))
    return out


def _message(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "is not a field of this request"
    if kind == "missing":
        return "is required"
    message = str(error["msg"])
    # "Value error, applies only to call activities" reads better without the prefix.
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message
