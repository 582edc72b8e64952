"""Keyset paging over "what changed since": the cursor, the page, and the walk between them.

The list endpoint cannot filter by type or status and does not report deletions; what it
offers is "what changed since T" (``updatedSince``, inclusive), ordered by ``updatedAt``
then ``id``, with ``limit`` and ``offset``. :meth:`RallyClient.iter_changes
<api_client.RallyClient.iter_changes>` walks it page by page and hands out, with each
page, the :class:`Cursor` after it, so a caller can store the cursor beside what it did
with the page and resume there later, in another process.

The cursor is the last item handed out, ``(since, last_id)``, plus ``at_since``: its
position (1-based) among the items stamped exactly ``since``. The next page asks
``updatedSince=since&offset=at_since-1``, i.e. it starts *at* the last item seen. Because
a write never gets a time already handed out (the API stamps writes with strictly
increasing times), the group of items stamped ``since`` can only shrink (an item in it is
updated, so it moves to the end of the order, or deleted). If the page does start with
``last_id``, nothing before it moved and the offset skipped exactly what was seen; if it
does not, the page is asked again from offset 0 and whatever is not after
``(since, last_id)`` is dropped. Growing offsets would instead skip an unseen item each
time an update moved one from in front of it, and so would an offset *past* the last item
seen, when that very item is updated between two pages.

The price is that each page after the first starts with one item already seen, so a page
needs room for two (``page_size`` of at least 2). An item may still be handed out twice
(an update during paging moves it to the end, a re-asked page starts a tie group again);
it is never skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Generic, Protocol, TypeVar

from api_client._base import API_PREFIX
from api_client.errors import RallyError

MIN_PAGE_SIZE: Final = 2
"""The smallest page a keyset walk can make progress with: the overlap, and one more."""


class Listed(Protocol):
    """What paging reads of a listed activity."""

    @property
    def id(self) -> str: ...

    @property
    def updated_at(self) -> datetime | None: ...


ItemT = TypeVar("ItemT", bound=Listed)

ListPage = Callable[[int, int, datetime | None], Sequence[ItemT]]
"""One list request: ``(limit, offset, updated_since) -> items``."""


@dataclass(frozen=True, slots=True)
class Cursor:
    """A place in the ``(updatedAt, id)`` order: just after the last item handed out.

    Attributes:
        since: The ``updatedAt`` of that item (aware); the next page asks
            ``updatedSince=since``.
        last_id: Its id.
        at_since: Its position (1-based) among the items stamped exactly ``since``
            when it was read; 0 for :meth:`at`.
    """

    since: datetime
    last_id: str
    at_since: int

    def __post_init__(self) -> None:
        if self.since.tzinfo is None or self.since.utcoffset() is None:
            raise ValueError("a cursor's since must be timezone-aware (e.g. datetime.now(UTC))")
        if self.at_since < 0:
            raise ValueError("a cursor's at_since cannot be negative")

    @classmethod
    def at(cls, since: datetime) -> Cursor:
        """The place just before everything updated at or after ``since``.

        Walking from it is ``updatedSince=since`` with nothing yet seen.
        """
        return cls(since=since, last_id="", at_since=0)

    @property
    def offset(self) -> int:
        """The ``offset`` of the next request: the place of the last item seen."""
        return max(self.at_since - 1, 0)

    def is_before(self, item: Listed) -> bool:
        """Whether ``item`` comes after this place in the order (so was not yet seen).

        An item without ``updatedAt`` cannot be placed; it counts as unseen, since
        handing it out twice is harmless and skipping it is not.
        """
        if item.updated_at is None:
            return True
        return (item.updated_at, item.id) > (self.since, self.last_id)


@dataclass(frozen=True, slots=True)
class Page(Generic[ItemT]):
    """One step of a keyset walk.

    Attributes:
        items: The items after the cursor the walk was at (the one-item overlap with
            the previous page, and anything else already seen, left out).
        cursor: The cursor after this page: store it beside what you did with
            ``items`` and walk from it next time. ``None`` only while nothing was ever
            read.
        requests: List requests this page cost: 1, or 2 when it was re-asked.
        reasked: Whether the page was asked again from offset 0 because the tie group
            at the cursor shrank.
    """

    items: tuple[ItemT, ...]
    cursor: Cursor | None
    requests: int
    reasked: bool


def walk(
    list_page: ListPage[ItemT], cursor: Cursor | None, page_size: int
) -> Iterator[Page[ItemT]]:
    """Page through everything after ``cursor`` (from the start when ``None``), lazily.

    Ends after a page shorter than ``page_size`` (which is yielded, possibly empty, so
    its cursor can be stored).

    Raises:
        RallyError: The server keeps returning the same full page, or a full page
            without ``updatedAt``, so the walk cannot make progress.
    """
    while True:
        listed, offset, requests = _ask(list_page, cursor, page_size)
        full = len(listed) >= page_size
        after = _cursor_after(listed, cursor, offset, full=full)
        if full and after == cursor:
            raise _stuck("the server returned the same page twice")
        yield Page(
            items=tuple(item for item in listed if cursor is None or cursor.is_before(item)),
            cursor=after,
            requests=requests,
            reasked=requests > 1,
        )
        if not full:
            return
        cursor = after


def _ask(
    list_page: ListPage[ItemT], cursor: Cursor | None, page_size: int
) -> tuple[Sequence[ItemT], int, int]:
    """The page at ``cursor``: ``(items, the offset they start at, requests sent)``."""
    if cursor is None:
        return list_page(page_size, 0, None), 0, 1
    listed = list_page(page_size, cursor.offset, cursor.since)
    if cursor.offset == 0 or _starts_at(listed, cursor):
        return listed, cursor.offset, 1
    # The group stamped `since` lost an item before our place, so this offset may have
    # jumped over an unseen one: ask again from the group's start.
    return list_page(page_size, 0, cursor.since), 0, 2


def _starts_at(listed: Sequence[Listed], cursor: Cursor) -> bool:
    return bool(listed) and (listed[0].id, listed[0].updated_at) == (cursor.last_id, cursor.since)


def _cursor_after(
    listed: Sequence[Listed], cursor: Cursor | None, offset: int, *, full: bool
) -> Cursor | None:
    if not listed:
        return cursor
    last = listed[-1]
    if last.updated_at is None:
        if full:
            raise _stuck("an activity came back without updatedAt")
        return cursor  # a last page that cannot be placed: resuming re-reads it
    if cursor is not None and last.updated_at == cursor.since:
        at_since = offset + len(listed)  # the whole page sits in one instant
    else:
        at_since = sum(1 for item in listed if item.updated_at == last.updated_at)
    return Cursor(since=last.updated_at, last_id=last.id, at_since=at_since)


def _stuck(why: str) -> RallyError:
    return RallyError(
        f"{why}; paging cannot make progress", method="GET", path=f"{API_PREFIX}/activities"
    )
