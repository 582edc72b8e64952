"""Keyset paging (``iter_changes``, ``api_client.paging``) against a list endpoint that others
write to between our requests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from api_client import Cursor, Page, PartialActivityResponse, RallyClient, RallyError
from tests.api_client.conftest import BASE_URL, FAKE_KEY, activity_json

START = datetime(2025, 6, 1, tzinfo=UTC)


def guid(n: int) -> str:
    return f"00000000-0000-0000-0000-{n:012d}"


@dataclass
class Table:
    """The list endpoint over an in-memory table, stamping writes as the API does.

    ``between[n]`` runs after the n-th list response (1-based): another user writing
    while we page.
    """

    rows: dict[str, datetime] = field(default_factory=dict)
    clock: datetime = START
    between: dict[int, Callable[[], None]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def stamp(self) -> datetime:
        self.clock += timedelta(seconds=1)
        return self.clock

    def add(self, count: int, *, one_instant: bool = False) -> list[str]:
        """``count`` new rows; with ``one_instant`` all stamped alike, as a bulk write may be."""
        instant = self.stamp()
        ids = [guid(len(self.rows) + i) for i in range(count)]
        for row_id in ids:
            self.rows[row_id] = instant if one_instant else self.stamp()
        return ids

    def write(self, *row_ids: str) -> None:
        for row_id in row_ids:
            self.rows[row_id] = self.stamp()

    def ordered(self) -> list[str]:
        return sorted(self.rows, key=lambda row_id: (self.rows[row_id], row_id))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        params = request.url.params
        since = datetime.fromisoformat(params["updatedSince"]) if "updatedSince" in params else None
        matching = [r for r in self.ordered() if since is None or self.rows[r] >= since]
        offset, limit = int(params.get("offset", 0)), int(params.get("limit", 50))
        body = [
            activity_json(id=r, updatedAt=self.rows[r].isoformat().replace("+00:00", "Z"))
            for r in matching[offset : offset + limit]
        ]
        if "fields" in params:
            wanted = {"id", *params["fields"].split(",")}
            body = [{k: v for k, v in item.items() if k in wanted} for item in body]
        action = self.between.get(len(self.requests))
        if action is not None:
            action()
        return httpx.Response(200, json=body)


@pytest.fixture
def table() -> Iterator[tuple[Table, RallyClient]]:
    world = Table()
    client = RallyClient(BASE_URL, FAKE_KEY, transport=httpx.MockTransport(world), max_retries=0)
    yield world, client
    client.close()


def ids_of(pages: list[Page[Any]]) -> list[str]:
    return [item.id for page in pages for item in page.items]


def test_a_walk_resumed_from_its_last_cursor_reads_only_what_came_after(
    table: tuple[Table, RallyClient],
) -> None:
    world, client = table
    first_ids = world.add(7)

    first = list(client.iter_changes(fields=["status"], page_size=3))
    assert ids_of(first) == first_ids
    # [0 1 2] [2 3 4] [4 5 6] [6]: each page starts on the last one seen; the short one ends it
    assert [len(page.items) for page in first] == [3, 2, 2, 0]
    assert all(isinstance(i, PartialActivityResponse) for page in first for i in page.items)
    later = world.add(1)
    world.requests.clear()

    resumed = list(client.iter_changes(first[-1].cursor, fields=["status"], page_size=3))

    assert ids_of(resumed) == later
    assert len(world.requests) == 1  # [6 7]: the overlap, then the new one
    assert world.requests[0].url.params["fields"] == "status,updatedAt"
    assert resumed[-1].cursor == Cursor(since=world.rows[later[-1]], last_id=later[-1], at_since=1)


def test_a_stored_cursor_with_nothing_new_costs_one_request_and_stays_put(
    table: tuple[Table, RallyClient],
) -> None:
    world, client = table
    world.add(4)
    cursor = list(client.iter_changes(page_size=10))[-1].cursor
    world.requests.clear()

    (idle,) = list(client.iter_changes(cursor, page_size=10))

    assert (idle.items, idle.cursor, idle.requests, idle.reasked) == ((), cursor, 1, False)
    assert len(world.requests) == 1


def test_a_tie_group_wider_than_a_page_is_walked_through_once(
    table: tuple[Table, RallyClient],
) -> None:
    world, client = table
    ids = world.add(2) + world.add(7, one_instant=True) + world.add(2)

    pages = list(client.iter_changes(page_size=2))

    assert ids_of(pages) == ids
    assert not any(page.reasked for page in pages)
    tied_cursor = pages[3].cursor  # ends inside the tie group: its place counts the ties
    assert tied_cursor is not None and tied_cursor.since == world.rows[ids[2]]
    assert tied_cursor.at_since == ids.index(tied_cursor.last_id) - 1


def test_a_tie_group_that_shrinks_under_the_cursor_is_asked_again_not_skipped(
    table: tuple[Table, RallyClient],
) -> None:
    world, client = table
    tied = world.add(8, one_instant=True)
    # Both already read; moving them out of the group shifts every later member two
    # places forward, one more than the page's one-item overlap absorbs.
    world.between[2] = lambda: world.write(tied[0], tied[1])

    pages = list(client.iter_changes(page_size=3))

    seen = ids_of(pages)
    assert set(tied) <= set(seen)  # nothing skipped; the two moved ones come again
    assert seen.count(tied[0]) == 2 and seen.count(tied[1]) == 2
    (reasked,) = [page for page in pages if page.reasked]
    assert reasked.requests == 2
    assert sum(page.requests for page in pages) == len(world.requests)
    offsets = [int(r.url.params.get("offset", 0)) for r in world.requests]
    assert 0 in offsets[2:]  # the re-ask starts the group again


def test_the_last_item_of_a_page_updated_before_the_next_skips_nothing(
    table: tuple[Table, RallyClient],
) -> None:
    # An offset past the last item seen would jump over the first unseen one once that
    # item moves to the end of the order.
    world, client = table
    ids = world.add(6)
    world.between[1] = lambda: world.write(ids[1])

    seen = [a.id for a in client.iter_activities(page_size=2)]

    assert set(seen) == set(ids)
    assert seen[-1] == ids[1]  # seen again, with its new values


def test_cursor_at_a_time_starts_with_everything_stamped_then(
    table: tuple[Table, RallyClient],
) -> None:
    world, client = table
    world.add(3)
    tied = world.add(3, one_instant=True)
    after = world.add(2)

    pages = list(client.iter_changes(Cursor.at(world.rows[tied[0]]), page_size=2))

    assert ids_of(pages) == tied + after
    assert world.requests[0].url.params["updatedSince"] == "2025-06-01T00:00:05Z"
    assert "offset" not in world.requests[0].url.params


def test_bad_page_sizes_and_naive_cursors_are_refused_before_any_request(
    table: tuple[Table, RallyClient],
) -> None:
    world, client = table
    for size in (0, 1, 101):
        with pytest.raises(ValueError, match="page_size"):
            client.iter_changes(page_size=size)
        with pytest.raises(ValueError, match="page_size"):
            client.iter_activities(page_size=size)
    with pytest.raises(ValueError, match="timezone-aware"):
        Cursor(since=datetime(2025, 1, 1), last_id=guid(1), at_since=1)
    with pytest.raises(ValueError, match="'colour'"):
        client.iter_changes(fields=["colour"])
    assert world.requests == []


def test_a_full_page_without_updated_at_stops_the_walk(scripted: Callable[..., Any]) -> None:
    h = scripted(httpx.Response(200, json=[{"id": guid(i), "subject": "s"} for i in range(2)]))

    with pytest.raises(RallyError, match="without updatedAt"):
        list(h.client.iter_changes(fields=["subject"], page_size=2))
