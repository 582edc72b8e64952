"""Retry policy: which failures are worth another attempt, and how long to wait first."""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Callable
from datetime import UTC

import httpx

# 408 and 429 say "not now"; 5xx say "not you". 501 and 505 will not change on a retry.
_RETRY_STATUSES = frozenset({408, 429}) | (frozenset(range(500, 600)) - {501, 505})

# The exponent is clamped so the arithmetic stays finite for absurd retry counts.
_MAX_EXPONENT = 60


def is_retryable_status(status_code: int) -> bool:
    """Whether a response with this status may succeed if the request is repeated."""
    return status_code in _RETRY_STATUSES


def is_retryable_transport_error(exc: httpx.TransportError) -> bool:
    """Whether a transport failure is transient (as opposed to a bad URL or a bug on our side)."""
    return isinstance(exc, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError)


def request_may_have_arrived(exc: httpx.TransportError) -> bool:
    """Whether the server may have acted on a request that failed with ``exc``.

    A connection that was never made cannot have delivered anything; any later failure
    (a read timeout, a dropped connection) leaves the outcome unknown.
    """
    return not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)


def full_jitter_delay(
    retry_number: int, *, base: float, cap: float, rand: Callable[[], float]
) -> float:
    """Seconds to wait before retry ``retry_number`` (0 for the first retry).

    "Full jitter" (AWS Architecture Blog, *Exponential Backoff And Jitter*): a uniform
    draw from ``[0, min(cap, base * 2**retry_number)]``, so clients that failed together
    do not come back together.
    """
    ceiling = min(cap, base * 2.0 ** min(retry_number, _MAX_EXPONENT))
    return rand() * ceiling


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Read a ``Retry-After`` header (RFC 9110 §10.2.3) as seconds from now.

    Args:
        value: The header value: delay-seconds or an HTTP-date.
        now: Clock giving the current Unix time, for HTTP-dates.

    Returns:
        Seconds to wait (never negative), or ``None`` when absent or unreadable.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - now()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)
