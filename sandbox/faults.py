"""Fault injection for resilience tests: latency, 503s, 429s, dropped connections.

Every random decision comes from one ``random.Random(seed)``, so a run with ``--seed``
makes the same decisions for the same sequence of requests.
"""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Faults:
    """What the sandbox should do wrong, and how often.

    Attributes:
        latency_ms: Delay added before every API request is handled.
        fail_rate: Share of API requests answered 503 (with ``Retry-After: 1``) before
            anything is done.
        rate_limit: Requests allowed per API key per second (per server process); more
            are answered 429 with ``Retry-After``. 0 means no limit.
        throttle_rate: Share of API requests answered 429 (with ``Retry-After: 1``) before
            anything is done, at random rather than by a budget: throttling a client meets
            whatever its own pace.
        drop_rate: Share of API requests that are fully handled (and committed) but whose
            connection is then closed without a response.
        idempotency: Whether ``Idempotency-Key`` is honoured (``--no-idempotency`` turns
            it off, to show what a client's retries do against a server that ignores it).
        seed: Seed of the random decisions; None for a fresh one each run.
    """

    latency_ms: int = 0
    fail_rate: float = 0.0
    rate_limit: int = 0
    throttle_rate: float = 0.0
    drop_rate: float = 0.0
    idempotency: bool = True
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")
        if self.rate_limit < 0:
            raise ValueError("rate_limit must be >= 0")
        for name in ("fail_rate", "throttle_rate", "drop_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")


class FaultInjector:
    """The per-process state behind :class:`Faults`: the random source and rate windows."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self._random = random.Random(faults.seed)
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[int, int]] = {}

    def roll(self, rate: float) -> bool:
        """True with probability ``rate`` (never draws when the rate is 0 or 1)."""
        if rate <= 0.0:
            return False
        if rate >= 1.0:
            return True
        with self._lock:
            return self._random.random() < rate

    def retry_after(self, api_key: str) -> int | None:
        """Count a request against the key's one-second window.

        Returns:
            None when the request is allowed, else the seconds to wait (``Retry-After``).
        """
        limit = self.faults.rate_limit
        if limit <= 0:
            return None
        now = time.time()
        second = int(now)
        with self._lock:
            window, count = self._windows.get(api_key, (second, 0))
            if window != second:
                window, count = second, 0
            count += 1
            self._windows[api_key] = (window, count)
        if count <= limit:
            return None
        return max(1, math.ceil(window + 1 - now))

    def delay(self) -> None:
        """Sleep for the configured latency."""
        if self.faults.latency_ms > 0:
            time.sleep(self.faults.latency_ms / 1000)
