"""Exceptions raised by :class:`api_client.RallyClient`.

Every failure the client reports is a :class:`RallyError`; catch the subclass you can act on::

    RallyError                      anything the client could not do (other 4xx, bad response body)
    ├── AuthenticationError         401 / 403: the API key is missing, unknown or not allowed
    ├── NotFoundError               404: no such activity (or it belongs to another tenant)
    ├── ValidationError             400 / 413: the request was refused; ``.field_errors`` says why
    ├── ConflictError               409 / 422: e.g. an Idempotency-Key reused with another body
    ├── RateLimitError              429 after the retries ran out; ``.retry_after`` in seconds
    ├── ServerError                 5xx after the retries ran out
    └── RallyConnectionError        no usable response: connect/read failure, timeout, dropped
                                    connection, after the retries ran out

``RateLimitError``, ``ServerError`` and ``RallyConnectionError`` are transient
(``.retryable`` is true): trying the same call later may succeed. A retried POST is safe
when it carries the same ``Idempotency-Key``.

Errors built from an HTTP response carry ``.status_code`` and the RFC 9457 problem
document as ``.problem`` (a :class:`~api_client.models.ProblemDetails`, or ``None`` when
the body was not one). ``str()`` of an error is a sentence for a human that names the
request and, for validation failures, every offending field by its wire name.
"""

from __future__ import annotations

from collections.abc import Mapping

from api_client.models import ProblemDetails

__all__ = [
    "AuthenticationError",
    "ConflictError",
    "NotFoundError",
    "RallyConnectionError",
    "RallyError",
    "RateLimitError",
    "ServerError",
    "ValidationError",
]


class RallyError(Exception):
    """Base class of every error raised by the Activities API client.

    Attributes:
        message: What went wrong, in words.
        status_code: HTTP status of the response, or ``None`` when there was none.
        problem: The parsed problem document of the response, if it sent one.
        method: HTTP method of the failed request, when known.
        path: URL path of the failed request, when known (never the query or headers).
    """

    retryable: bool = False
    """Whether the same call may succeed if tried again later."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        problem: ProblemDetails | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.problem = problem
        self.method = method
        self.path = path

    def __str__(self) -> str:
        where = f"{self.method} {self.path}" if self.method and self.path else None
        head = " ".join(
            part for part in (where, f"-> {self.status_code}" if self.status_code else None) if part
        )
        return f"{head}: {self.message}" if head else self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status_code={self.status_code!r})"


class AuthenticationError(RallyError):
    """The API key was missing, unknown or not allowed (401 / 403)."""


class NotFoundError(RallyError):
    """The activity does not exist, or belongs to another tenant (404)."""


class ValidationError(RallyError):
    """The API refused the request as invalid (400, or 413 for an oversized body).

    Attributes:
        field_errors: Messages for each offending field, keyed by wire (camelCase) name.
    """

    def __init__(
        self,
        message: str,
        *,
        field_errors: Mapping[str, list[str]] | None = None,
        status_code: int | None = None,
        problem: ProblemDetails | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(
            message, status_code=status_code, problem=problem, method=method, path=path
        )
        self.field_errors: dict[str, list[str]] = {
            name: list(messages) for name, messages in (field_errors or {}).items()
        }

    def __str__(self) -> str:
        base = super().__str__()
        if not self.field_errors:
            return base
        fields = "; ".join(
            f"{name}: {', '.join(messages) if messages else 'invalid'}"
            for name, messages in self.field_errors.items()
        )
        return f"{base} ({fields})"


class ConflictError(RallyError):
    """The request conflicts with an earlier one (409, or 422 for a reused Idempotency-Key)."""


class RateLimitError(RallyError):
    """Still rate limited (429) when the retries ran out.

    Attributes:
        retry_after: Seconds the server asked us to wait, or ``None`` if it did not say.
    """

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status_code: int | None = 429,
        problem: ProblemDetails | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(
            message, status_code=status_code, problem=problem, method=method, path=path
        )
        self.retry_after = retry_after

    def __str__(self) -> str:
        base = super().__str__()
        if self.retry_after is None:
            return base
        return f"{base} (retry after {self.retry_after:g}s)"


class ServerError(RallyError):
    """The API failed on its side (5xx) on every attempt."""

    retryable = True


class RallyConnectionError(RallyError):
    """No usable response: the connection failed, timed out or was dropped, on every attempt.

    Attributes:
        unanswered: The last attempt was sent and no answer came (a read timeout, a
            dropped connection), so the server may have acted on it; false when the
            connection was never made.
    """

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        unanswered: bool = False,
        status_code: int | None = None,
        problem: ProblemDetails | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(
            message, status_code=status_code, problem=problem, method=method, path=path
        )
        self.unanswered = unanswered
