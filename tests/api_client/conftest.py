"""Fixtures for the client tests: scripted transports and a client that never really sleeps."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from api_client import RallyClient
from tests.sandbox import seed_examples as seed

BASE_URL = "https://acme.rallycrm.test"
FAKE_KEY = "rk_test_not_a_real_key_0123456789"

ACTIVITY_ID: str = seed.CALL_ACTIVITY["id"]


def activity_json(**overrides: Any) -> dict[str, Any]:
    """A valid ActivityResponse body (the seed's call example), with overrides."""
    return {**seed.CALL_ACTIVITY, **overrides}


def problem(status: int, title: str, errors: dict[str, list[str]] | None = None) -> httpx.Response:
    """An RFC 9457 problem response."""
    doc: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if errors is not None:
        doc["errors"] = errors
    return httpx.Response(
        status, content=json.dumps(doc), headers={"Content-Type": "application/problem+json"}
    )


Step = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


@dataclass
class Script:
    """A MockTransport handler that plays scripted steps in order and records every request.

    A step is a response to return, an exception to raise, or a function of the request.
    When the script runs out, the last step repeats.
    """

    steps: list[Step]
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        step = self.steps[min(len(self.requests), len(self.steps)) - 1]
        if isinstance(step, Exception):
            raise step
        if isinstance(step, httpx.Response):
            return step
        return step(request)

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) if r.content else None for r in self.requests]


@dataclass
class Harness:
    script: Script
    client: RallyClient
    sleeps: list[float]


@pytest.fixture
def scripted() -> Iterator[Callable[..., Harness]]:
    """Build a RallyClient over a scripted MockTransport: ``scripted(step, step, ..., **client_kw)``."""
    clients: list[RallyClient] = []

    def make(*steps: Step, **kwargs: Any) -> Harness:
        script = Script(list(steps))
        sleeps: list[float] = []
        kwargs.setdefault("max_retries", 3)
        client = RallyClient(
            BASE_URL,
            FAKE_KEY,
            transport=httpx.MockTransport(script),
            sleep=sleeps.append,
            **kwargs,
        )
        clients.append(client)
        return Harness(script, client, sleeps)

    yield make
    for client in clients:
        client.close()
