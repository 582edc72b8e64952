"""An httpx transport that counts the Activities API requests passing through it, by kind.

Wrap the client's transport to see what a sync or a tick costs::

    counter = CountingTransport(httpx.HTTPTransport())
    client = RallyClient(base_url, key, transport=counter)
    ...
    counter.counts  # Counter({"list": 1, "get": 2})

Kinds: ``list`` (GET /activities), ``get`` (GET /activities/{id}), ``create`` (POST
/activities), ``bulk`` (POST /activities/bulk), ``update`` (PUT), ``delete`` (DELETE),
``other``. Retries count as requests: that is what they cost.
"""

from __future__ import annotations

import threading
from collections import Counter

import httpx


def request_kind(method: str, path: str) -> str:
    """Classify one Activities API request by method and path."""
    parts = [part for part in path.split("/") if part]
    if "activities" not in parts:
        return "other"
    rest = parts[parts.index("activities") + 1 :]
    match method.upper(), rest:
        case "GET", []:
            return "list"
        case "POST", []:
            return "create"
        case "POST", ["bulk"]:
            return "bulk"
        case "GET", [_]:
            return "get"
        case "PUT", [_]:
            return "update"
        case "DELETE", [_]:
            return "delete"
    return "other"


class CountingTransport(httpx.BaseTransport):
    """Counts requests by kind, then hands them to the wrapped transport."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.counts: Counter[str] = Counter()
        self.urls: list[httpx.URL] = []
        """Every request URL, in order (no headers, so never the API key)."""
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.counts[request_kind(request.method, request.url.path)] += 1
            self.urls.append(request.url)
        return self.inner.handle_request(request)

    def snapshot(self) -> dict[str, int]:
        """The counts so far, as a plain dict."""
        with self._lock:
            return dict(self.counts)

    def reset(self) -> dict[str, int]:
        """Return the counts so far and start again from zero."""
        with self._lock:
            counts = dict(self.counts)
            self.counts.clear()
            self.urls.clear()
            return counts

    def close(self) -> None:
        self.inner.close()
