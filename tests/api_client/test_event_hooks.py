"""``event_hooks`` see every attempt, retries included (what the workers' metrics count)."""

from __future__ import annotations

import httpx

from api_client import RallyClient
from tests.api_client.conftest import FAKE_KEY


def test_event_hooks_see_each_attempt_and_its_status() -> None:
    answers = iter([httpx.Response(503), httpx.Response(200, json=[])])
    seen: list[tuple[str, int]] = []
    sent: list[str] = []
    hooks = {
        "request": [lambda request: sent.append(request.method)],
        "response": [lambda response: seen.append((response.request.method, response.status_code))],
    }
    with RallyClient(
        "https://acme.rallycrm.io",
        FAKE_KEY,
        transport=httpx.MockTransport(lambda request: next(answers)),
        sleep=lambda _: None,
        event_hooks=hooks,
    ) as rally:
        assert rally.list_activities(limit=1) == []
    assert sent == ["GET", "GET"]
    assert seen == [("GET", 503), ("GET", 200)]
