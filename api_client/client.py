"""``RallyClient``: the Activities API endpoints, each a thin method over :class:`BaseClient`."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Final, overload
from urllib.parse import quote

from api_client._base import BaseClient, logger
from api_client.changes import Changes, as_changes, merge
from api_client.errors import RallyError
from api_client.models import (
    ACTIVITY_FIELD_NAMES,
    GUID_RE,
    ActivityResponse,
    BulkCreateResponse,
    BulkItemError,
    CreateActivityRequest,
    PartialActivityResponse,
    UpdateActivityRequest,
    _ActivityFields,
    format_utc,
)
from api_client.paging import MIN_PAGE_SIZE, Cursor, Page, walk

MAX_PAGE_SIZE: Final = 100
MAX_BULK_ITEMS: Final = 100
# The API refuses bodies over 1 MiB; stay clear of it with room for the brackets and commas.
MAX_BULK_BODY_BYTES: Final = 1_000_000

_WIRE_FIELD_BY_NAME: Final = {
    **{name: name for name in ACTIVITY_FIELD_NAMES},
    **{name: field.alias or name for name, field in ActivityResponse.model_fields.items()},
}

ActivityId = str | uuid.UUID
BulkItem = CreateActivityRequest | Mapping[str, Any]


class RallyClient(BaseClient):
    """Typed client for the Rally Activities API.

    Use it as a context manager (or call :meth:`close`) so connections are released::

        with RallyClient("https://acme.rallycrm.io", api_key) as rally:
            task = rally.create_activity(
                CreateActivityRequest.model_validate(
                    {"activityType": "task", "subject": "Send proposal"}
                )
            )

    Transient failures (connection problems, timeouts, 429, 5xx) are retried up to
    ``max_retries`` times with exponential backoff and full jitter, honouring
    ``Retry-After``. Every POST carries an ``Idempotency-Key`` that stays the same across
    the retries of one call. See :class:`~api_client._base.BaseClient` for the options
    and :mod:`api_client.errors` for what is raised.
    """

    # -- single activities --------------------------------------------------------------

    def create_activity(
        self,
        request: CreateActivityRequest,
        *,
        idempotency_key: str | None = None,
        retry_unanswered: bool = True,
    ) -> ActivityResponse:
        """Create one activity.

        Args:
            request: The activity; only the fields that were set are sent.
            idempotency_key: Pass the same key when repeating a create you are unsure
                about (e.g. a job retried after a crash) so it cannot create twice.
                A fresh one is used for this call (and all its retries) when omitted.
            retry_unanswered: False to get a :class:`RallyConnectionError` with
                ``unanswered`` set, instead of a retry, when an attempt was sent and no
                answer came: against a server that ignores the Idempotency-Key, a retry
                could create the activity twice, so the caller looks first.

        Returns:
            The created activity.
        """
        response = self._request(
            "POST",
            "/activities",
            json=_wire(request),
            idempotency_key=idempotency_key,
            retry_unanswered=retry_unanswered,
        )
        return self._decode(response, ActivityResponse)

    def get_activity(self, activity_id: ActivityId) -> ActivityResponse:
        """Fetch one activity by id.

        Raises:
            NotFoundError: No such activity for this API key's tenant.
        """
        return self._decode(self._request("GET", _activity_path(activity_id)), ActivityResponse)

    def update_activity(
        self, activity_id: ActivityId, request: UpdateActivityRequest | Mapping[str, Any]
    ) -> ActivityResponse:
        """Replace the writable fields of an activity with ``request`` (one ``PUT``).

        Omitted optional fields become null, as the API's PUT says. To change a few
        fields of an activity you have just read, send ``merge(current, changes)``;
        :meth:`change_activity` does the read too.

        Returns:
            The activity as stored after the update.
        """
        if isinstance(request, Mapping):
            request = UpdateActivityRequest.model_validate(dict(request))
        body = request.model_dump(by_alias=True, mode="json")
        response = self._request("PUT", _activity_path(activity_id), json=body)
        return self._decode(response, ActivityResponse)

    def change_activity(self, activity_id: ActivityId, changes: Changes) -> ActivityResponse:
        """Change some fields of an activity and leave the rest as they are (GET, then PUT).

        Args:
            activity_id: The activity to change.
            changes: An :class:`~api_client.changes.ActivityChanges` (or a request model,
                of which only the set fields count), or a mapping of field names (wire or
                Python) to new values; an explicit ``None`` clears a field.

        Returns:
            The activity as stored after the update.
        """
        as_changes(changes)  # a bad change set is refused before any request
        current = self.get_activity(activity_id)
        return self.update_activity(activity_id, merge(current, changes))

    def delete_activity(self, activity_id: ActivityId) -> None:
        """Delete an activity.

        A 404 after an attempt whose response was lost counts as done: that attempt
        most likely deleted it.

        Raises:
            NotFoundError: No such activity for this API key's tenant.
        """
        self._request("DELETE", _activity_path(activity_id), gone_is_done=True)

    # -- lists --------------------------------------------------------------------------

    @overload
    def list_activities(
        self,
        *,
        limit: int | None = None,
        offset: int | None = None,
        updated_since: datetime | None = None,
        fields: None = None,
    ) -> list[ActivityResponse]: ...

    @overload
    def list_activities(
        self,
        *,
        limit: int | None = None,
        offset: int | None = None,
        updated_since: datetime | None = None,
        fields: Sequence[str],
    ) -> list[PartialActivityResponse]: ...

    def list_activities(
        self,
        *,
        limit: int | None = None,
        offset: int | None = None,
        updated_since: datetime | None = None,
        fields: Sequence[str] | None = None,
    ) -> list[ActivityResponse] | list[PartialActivityResponse]:
        """One page of activities, ordered by ``updatedAt`` then ``id``.

        Args:
            limit: Page size, 1..100 (the server's default is 50).
            offset: Items to skip.
            updated_since: Only activities updated at or after this aware datetime.
            fields: Names (wire ``dueDate`` or Python ``due_date``) to return; ``id`` always
                comes back. With ``fields`` the items are :class:`PartialActivityResponse`.

        Raises:
            ValueError: ``updated_since`` is naive, or ``fields`` names an unknown field.
            ValidationError: The server refused a parameter.
        """
        wire_fields = None if fields is None else _wire_fields(fields)
        params = _list_params(limit, offset, updated_since, wire_fields)
        response = self._request("GET", "/activities", params=params)
        if wire_fields is None:
            return self._decode_list(response, ActivityResponse)
        return self._decode_list(response, PartialActivityResponse)

    @overload
    def iter_changes(
        self,
        cursor: Cursor | None = None,
        *,
        fields: None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[Page[ActivityResponse]]: ...

    @overload
    def iter_changes(
        self,
        cursor: Cursor | None = None,
        *,
        fields: Sequence[str],
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[Page[PartialActivityResponse]]: ...

    def iter_changes(
        self,
        cursor: Cursor | None = None,
        *,
        fields: Sequence[str] | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[Page[ActivityResponse]] | Iterator[Page[PartialActivityResponse]]:
        """What changed after ``cursor``, page by page, each page with the cursor after it.

        Store a page's :attr:`~api_client.paging.Page.cursor` together with what you did
        with its items, and a later call from that cursor goes on exactly there: nothing
        is skipped while others write, though an item may come twice (see
        :mod:`api_client.paging`). The walk ends after a page shorter than ``page_size``,
        which is yielded too (possibly with no items) so its cursor can be stored. Pages
        are fetched lazily as the iterator is consumed.

        Args:
            cursor: Where a previous walk stopped; ``Cursor.at(t)`` for everything updated
                at or after ``t``; ``None`` for everything.
            fields: As for :meth:`list_activities`; ``updatedAt`` is asked for too, since
                paging needs it.
            page_size: Sent as ``limit``, 2..100 (each page after the first starts with
                the last item already seen, so it needs room for one more).

        Raises:
            ValueError: ``fields`` names an unknown field, or ``page_size`` is outside 2..100.
            RallyError: The server keeps returning the same page, so paging cannot make
                progress (and whatever the list requests raise).
        """
        _check_page_size(page_size)
        if fields is None:
            return self._walk(ActivityResponse, cursor, None, page_size)
        wire_fields = _wire_fields([*fields, "updatedAt"])
        return self._walk(PartialActivityResponse, cursor, wire_fields, page_size)

    @overload
    def iter_activities(
        self,
        *,
        updated_since: datetime | None = None,
        fields: None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[ActivityResponse]: ...

    @overload
    def iter_activities(
        self,
        *,
        updated_since: datetime | None = None,
        fields: Sequence[str],
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[PartialActivityResponse]: ...

    def iter_activities(
        self,
        *,
        updated_since: datetime | None = None,
        fields: Sequence[str] | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[ActivityResponse] | Iterator[PartialActivityResponse]:
        """Every activity (updated at or after ``updated_since``), page by page.

        Sends ``page_size`` as ``limit`` and stops after a page shorter than that.
        Pages are fetched lazily as the iterator is consumed.

        The items of :meth:`iter_changes`, one after another: pages are chained by the
        last item seen, not by a growing offset, so an activity updated while we page
        (which moves it to the end of the order) is seen again with its new values
        instead of making us skip an unseen one. When ``fields`` is given,
        ``updatedAt`` is requested too, since paging needs it.

        Raises:
            ValueError: As for :meth:`list_activities`, or ``page_size`` outside 2..100.
        """
        _check_page_size(page_size)
        _list_params(None, None, updated_since, None)  # reject bad input now, not lazily
        cursor = None if updated_since is None else Cursor.at(updated_since)
        if fields is None:
            pages: Iterator[Page[Any]] = self.iter_changes(cursor, page_size=page_size)
        else:
            pages = self.iter_changes(cursor, fields=fields, page_size=page_size)
        return (item for page in pages for item in page.items)

    def _walk(
        self,
        model: type[ActivityResponse] | type[PartialActivityResponse],
        cursor: Cursor | None,
        wire_fields: list[str] | None,
        page_size: int,
    ) -> Iterator[Page[Any]]:
        def list_page(limit: int, offset: int, since: datetime | None) -> list[Any]:
            params = _list_params(limit, offset or None, since, wire_fields)
            return self._decode_list(self._request("GET", "/activities", params=params), model)

        return walk(list_page, cursor, page_size)

    # -- bulk ---------------------------------------------------------------------------

    def bulk_create_activities(
        self,
        requests: Iterable[BulkItem],
        *,
        idempotency_key: str | None = None,
        retry_unanswered: bool = True,
    ) -> BulkCreateResponse:
        """Create (or, for items carrying an existing ``id``, update) any number of activities.

        Items are sent in order, in requests of at most 100 items (and under the API's
        1 MiB body limit), and the results are merged: counts summed, ``createdIds`` in
        request order, ``errors`` indexed into ``requests`` as given. Valid items are
        stored even when others fail; check ``failed`` and ``errors``.

        Each request carries the Idempotency-Key ``f"{idempotency_key}:{n}"`` for chunk
        ``n`` (0-based), so calling again with the same items and the same key replays
        the chunks that already went through instead of creating them twice.

        Args:
            requests: ``CreateActivityRequest`` models (``BulkActivityItem`` to upsert by
                ``id``), or wire-named mappings, sent as they are so the server reports
                any invalid one by index instead of the whole call failing here.
            idempotency_key: The base key; a fresh one is used when omitted.
            retry_unanswered: False to get a :class:`RallyConnectionError` with
                ``unanswered`` set at once when a chunk was sent and no answer came, for
                a caller that reconciles before sending again (a Rally that ignores the
                key would store the chunk twice).

        Raises:
            RallyError: A chunk failed as a whole; chunks before it were stored (the
                error's notes say which items).
        """
        items = [_bulk_item_wire(item) for item in requests]
        base_key = idempotency_key or str(uuid.uuid4())
        created = updated = failed = 0
        created_ids: list[str] = []
        errors: list[BulkItemError] = []
        for chunk_no, (start, chunk) in enumerate(_chunks(items)):
            try:
                response = self._request(
                    "POST",
                    "/activities/bulk",
                    json=chunk,
                    idempotency_key=f"{base_key}:{chunk_no}",
                    retry_unanswered=retry_unanswered,
                )
            except RallyError as exc:
                exc.add_note(
                    f"bulk chunk {chunk_no} (items {start}..{start + len(chunk) - 1} of "
                    f"{len(items)}) failed; items before {start} were sent"
                )
                raise
            result = self._decode(response, BulkCreateResponse)
            created += result.created
            updated += result.updated
            failed += result.failed
            created_ids.extend(result.created_ids)
            errors.extend(
                BulkItemError(index=start + error.index, errors=error.errors)
                for error in result.errors
            )
            logger.info(
                "rally_api.bulk_chunk chunk=%d start=%d items=%d created=%d updated=%d failed=%d",
                chunk_no,
                start,
                len(chunk),
                result.created,
                result.updated,
                result.failed,
            )
        return BulkCreateResponse(
            created=created,
            updated=updated,
            failed=failed,
            created_ids=created_ids,
            errors=errors,
        )


# -- helpers --------------------------------------------------------------------------------


def _wire(model: _ActivityFields) -> dict[str, Any]:
    return model.model_dump(by_alias=True, exclude_unset=True, mode="json")


def _bulk_item_wire(item: BulkItem) -> dict[str, Any]:
    if isinstance(item, CreateActivityRequest):
        return _wire(item)
    return dict(item)


def _activity_path(activity_id: ActivityId) -> str:
    text = str(activity_id)
    if not GUID_RE.match(text):
        raise ValueError(f"activity_id must be a GUID (8-4-4-4-12 hex), got {text!r}")
    return f"/activities/{quote(text.lower(), safe='')}"


def _wire_fields(fields: Iterable[str]) -> list[str]:
    if isinstance(fields, str):
        raise TypeError("fields must be a sequence of names, not one string")
    wire: list[str] = []
    unknown: list[str] = []
    for name in fields:
        mapped = _WIRE_FIELD_BY_NAME.get(name)
        if mapped is None:
            unknown.append(name)
        elif mapped not in wire:
            wire.append(mapped)
    if unknown:
        raise ValueError(
            f"unknown field name(s) {', '.join(map(repr, unknown))}; "
            f"choose from {', '.join(ACTIVITY_FIELD_NAMES)}"
        )
    if not wire:
        raise ValueError("fields must name at least one field")
    return wire


def _check_page_size(page_size: int) -> None:
    if not MIN_PAGE_SIZE <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be between {MIN_PAGE_SIZE} and {MAX_PAGE_SIZE}")


def _list_params(
    limit: int | None,
    offset: int | None,
    updated_since: datetime | None,
    wire_fields: Sequence[str] | None,
) -> dict[str, str | int]:
    params: dict[str, str | int] = {}
    if limit is not None:
        params["limit"] = limit
    if offset is not None:
        params["offset"] = offset
    if updated_since is not None:
        if updated_since.tzinfo is None or updated_since.utcoffset() is None:
            raise ValueError("updated_since must be timezone-aware (e.g. datetime.now(UTC))")
        params["updatedSince"] = format_utc(updated_since)
    if wire_fields is not None:
        params["fields"] = ",".join(wire_fields)
    return params


def _chunks(items: list[dict[str, Any]]) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """Split into runs of at most MAX_BULK_ITEMS whose JSON stays under the body limit.

    Yields ``(index of the first item, items)``. An item too big on its own goes alone
    (and the server says 413 about it).
    """
    start = 0
    chunk: list[dict[str, Any]] = []
    size = 2  # the brackets
    for index, item in enumerate(items):
        item_size = len(json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode()) + 1
        if chunk and (len(chunk) >= MAX_BULK_ITEMS or size + item_size > MAX_BULK_BODY_BYTES):
            yield start, chunk
            start, chunk, size = index, [], 2
        chunk.append(item)
        size += item_size
    if chunk:
        yield start, chunk
