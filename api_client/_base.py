"""The HTTP core of the client: one session, retries, and mapping failures to errors.

:class:`RallyClient` adds the endpoints on top; everything that touches the network goes
through :meth:`BaseClient._request`.
"""

from __future__ import annotations

import functools
import logging
import random
import ssl
import time
import uuid
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Final, Self, TypeVar

import httpx
import pydantic

from api_client._retry import (
    full_jitter_delay,
    is_retryable_status,
    is_retryable_transport_error,
    parse_retry_after,
    request_may_have_arrived,
)
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
from api_client.models import ProblemDetails

__version__: Final = "0.1.0"
API_PREFIX: Final = "/api/v1"
USER_AGENT: Final = f"rally-slack-api-client/{__version__} httpx/{httpx.__version__}"

logger = logging.getLogger("api_client")

ModelT = TypeVar("ModelT", bound=pydantic.BaseModel)

Json = Any  # what json.loads returns; pydantic validates it into models


@functools.cache
def _shared_ssl_context() -> ssl.SSLContext:
    """One verifying TLS context for every client in the process.

    Building one loads the CA bundle (~25 ms); a worker that makes a client per job
    would pay that on every job.
    """
    return httpx.create_ssl_context()


class BaseClient:
    """Owns the ``httpx.Client`` session and every policy about using it.

    Args:
        base_url: Root of the tenant's Rally API, e.g. ``https://acme.rallycrm.io``
            (a trailing ``/api/v1`` is accepted too).
        api_key: The tenant's API key, sent as ``X-Api-Key``. Never logged or shown.
        timeout: Seconds for connect, read, write and pool waits, or an ``httpx.Timeout``.
        max_retries: At most this many retries after the first attempt (0 disables them).
        transport: An ``httpx`` transport to use instead of the network, e.g.
            ``httpx.WSGITransport(app=...)`` or ``httpx.MockTransport(handler)``.
        backoff_base: Seconds; the first retry waits up to this, doubling each time.
        backoff_max: Seconds; no single wait is longer, even when ``Retry-After`` asks.
        sleep: How to wait; tests pass a recorder instead of ``time.sleep``.
        rand: Uniform random numbers in ``[0, 1)`` for the jitter.
        event_hooks: ``httpx`` event hooks (``{"request": [...], "response": [...]}``),
            called on every attempt, e.g. to count responses by status.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float | httpx.Timeout = 10.0,
        max_retries: int = 3,
        transport: httpx.BaseTransport | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
        event_hooks: Mapping[str, list[Callable[[Any], Any]]] | None = None,
    ) -> None:
        if not api_key or any(ch in api_key for ch in "\r\n"):
            raise ValueError("api_key must be a non-empty single-line string")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if backoff_base < 0 or backoff_max < 0:
            raise ValueError("backoff_base and backoff_max must be >= 0")
        root = base_url.rstrip("/")
        if not root.endswith(API_PREFIX):
            root += API_PREFIX
        self.base_url: Final = root
        self.max_retries: Final = max_retries
        self.backoff_base: Final = backoff_base
        self.backoff_max: Final = backoff_max
        self._sleep = sleep
        self._rand = rand
        self._http = httpx.Client(
            base_url=root,
            headers={
                "X-Api-Key": api_key,
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
            },
            timeout=timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout),
            transport=transport,
            verify=_shared_ssl_context(),
            # Redirects would replay the key to wherever they point; the API has none.
            follow_redirects=False,
            event_hooks=dict(event_hooks) if event_hooks else None,
        )

    def __repr__(self) -> str:
        # Deliberately without the key.
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def close(self) -> None:
        """Close the HTTP session and its connections."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the one way to talk to the API -------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Json = None,
        params: Mapping[str, str | int] | None = None,
        idempotency_key: str | None = None,
        gone_is_done: bool = False,
    ) -> httpx.Response:
        """Send one logical request, retrying transient failures, and return a 2xx response.

        Args:
            method: HTTP method.
            path: Path under ``/api/v1``.
            json: Body to send as JSON, if any.
            params: Query parameters.
            idempotency_key: For POST; one is made up when not given. The same key goes
                out on every attempt, so the server can recognise a retry.
            gone_is_done: Treat a 404 as success when an earlier attempt may already
                have done the work (a DELETE whose first response was lost).

        Raises:
            RallyError: The subclass matching the final failure.
        """
        headers: dict[str, str] = {}
        if method == "POST":
            headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        # Built once, so every attempt sends the very same bytes and key.
        request = self._http.build_request(method, path, json=json, params=params, headers=headers)
        key = headers.get("Idempotency-Key")
        maybe_done = False
        attempt = 0
        while True:
            try:
                response = self._http.send(request)
            except (httpx.TransportError, ConnectionError) as caught:
                # httpx's own transports raise TransportError; a WSGI app run in-process
                # (httpx.WSGITransport) that drops its connection raises ConnectionError.
                exc = caught if isinstance(caught, httpx.TransportError) else _as_read_error(caught)
                maybe_done = maybe_done or request_may_have_arrived(exc)
                if not is_retryable_transport_error(exc) or attempt >= self.max_retries:
                    raise self._connection_error(request, exc, attempt) from caught
                self._wait(request, attempt, reason=type(exc).__name__, response=None, key=key)
                attempt += 1
                continue
            except httpx.HTTPError as exc:  # e.g. undecodable content-encoding
                raise RallyError(
                    f"request failed: {type(exc).__name__}: {exc}",
                    method=method,
                    path=request.url.path,
                ) from exc

            status = response.status_code
            if status < 300:
                return response
            if status == 404 and gone_is_done and maybe_done:
                logger.info(
                    "rally_api.gone_after_retry method=%s path=%s attempt=%d",
                    method,
                    request.url.path,
                    attempt + 1,
                )
                return response
            if is_retryable_status(status) and attempt < self.max_retries:
                maybe_done = maybe_done or status >= 500
                self._wait(request, attempt, reason=f"status_{status}", response=response, key=key)
                attempt += 1
                continue
            raise self._status_error(request, response)

    def _wait(
        self,
        request: httpx.Request,
        attempt: int,
        *,
        reason: str,
        response: httpx.Response | None,
        key: str | None,
    ) -> None:
        retry_after = (
            parse_retry_after(response.headers.get("Retry-After")) if response is not None else None
        )
        if retry_after is not None:
            # The server knows best when it will have room; cap it so a misconfigured
            # header cannot park a worker for an hour.
            delay = min(retry_after, self.backoff_max)
        else:
            delay = full_jitter_delay(
                attempt, base=self.backoff_base, cap=self.backoff_max, rand=self._rand
            )
        logger.warning(
            "rally_api.retry method=%s path=%s retry=%d max_retries=%d delay_s=%.3f reason=%s"
            " idempotency_key=%s",
            request.method,
            request.url.path,
            attempt + 1,
            self.max_retries,
            delay,
            reason,
            key,
        )
        self._sleep(delay)

    # -- mapping failures to errors -----------------------------------------------------

    def _connection_error(
        self, request: httpx.Request, exc: httpx.TransportError, attempt: int
    ) -> RallyConnectionError:
        attempts = f"{attempt + 1} attempt{'s' if attempt else ''}"
        detail = str(exc) or "no detail"
        return RallyConnectionError(
            f"no usable response after {attempts}: {type(exc).__name__}: {detail}",
            method=request.method,
            path=request.url.path,
        )

    def _status_error(self, request: httpx.Request, response: httpx.Response) -> RallyError:
        status = response.status_code
        problem = _parse_problem(response)
        message = _describe(response, problem)
        common: dict[str, Any] = {
            "status_code": status,
            "problem": problem,
            "method": request.method,
            "path": request.url.path,
        }
        if status in (401, 403):
            return AuthenticationError(message, **common)
        if status == 404:
            return NotFoundError(message, **common)
        if status in (400, 413):
            field_errors = problem.errors if problem is not None else {}
            return ValidationError(message, field_errors=field_errors, **common)
        if status in (409, 422):
            return ConflictError(message, **common)
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            return RateLimitError(message, retry_after=retry_after, **common)
        if status >= 500:
            return ServerError(message, **common)
        return RallyError(message, **common)

    # -- decoding -----------------------------------------------------------------------

    def _decode(self, response: httpx.Response, model: type[ModelT]) -> ModelT:
        try:
            return model.model_validate(response.json())
        except (ValueError, pydantic.ValidationError) as exc:
            raise self._bad_body(response, model.__name__, exc) from exc

    def _decode_list(self, response: httpx.Response, model: type[ModelT]) -> list[ModelT]:
        try:
            data = response.json()
            if not isinstance(data, list):
                raise ValueError(f"expected a JSON array, got {type(data).__name__}")
            return [model.model_validate(item) for item in data]
        except (ValueError, pydantic.ValidationError) as exc:
            raise self._bad_body(response, f"list of {model.__name__}", exc) from exc

    @staticmethod
    def _bad_body(response: httpx.Response, expected: str, exc: Exception) -> RallyError:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return RallyError(
            f"unexpected response body (wanted {expected}): {first_line}",
            status_code=response.status_code,
            method=response.request.method,
            path=response.request.url.path,
        )


def _as_read_error(exc: ConnectionError) -> httpx.TransportError:
    return httpx.ReadError(f"{type(exc).__name__}: {exc}")


def _parse_problem(response: httpx.Response) -> ProblemDetails | None:
    try:
        data = response.json()
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    data.setdefault("status", response.status_code)
    data.setdefault("title", response.reason_phrase or f"HTTP {response.status_code}")
    try:
        return ProblemDetails.model_validate(data)
    except pydantic.ValidationError:
        return None


def _describe(response: httpx.Response, problem: ProblemDetails | None) -> str:
    if problem is None:
        text = response.text.strip().splitlines()[0][:200] if response.text.strip() else ""
        reason = response.reason_phrase or f"HTTP {response.status_code}"
        return f"{reason}: {text}" if text else reason
    if problem.detail and problem.detail != problem.title:
        return f"{problem.title}: {problem.detail}"
    return problem.title
