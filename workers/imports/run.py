"""Importing a stored file: its valid rows through ``POST /api/v1/activities/bulk``.

Rows go in chunks of at most ``MAX_BULK_ITEMS`` (and under the API's body limit), never
one POST per row. Chunk ``n`` of import ``I`` always holds the same rows and carries the
Idempotency-Key ``import-I-n``; its result is written to Redis as soon as the API answers,
so a run killed at any point resumes where it stopped: a chunk whose answer was lost is
sent again with the same key and body, and the API replays it instead of creating again;
a chunk recorded as done is not sent at all (also after the API has forgotten the key).

Whom to call as is SPEC §6's rule for a create (``workers.jobs.create_activity``): the
importer's own key when they connected one (Rally makes them the owner), else the
workspace's key with the owner id mapped to them, if any.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import redis

from api_client import RallyError
from api_client.client import MAX_BULK_BODY_BYTES, MAX_BULK_ITEMS
from core.settings import Settings
from workers import workspace
from workers.imports import progress
from workers.imports.csv_file import failed_rows_csv
from workers.rally import rally_client

log = logging.getLogger(__name__)

LOCK_TIMEOUT_SECONDS: Final = 30
"""One run of an import at a time; a killed run's lock lapses after this long."""
CHUNK_BODY_BUDGET: Final = MAX_BULK_BODY_BYTES - 64 * 1024


class ImportBusy(Exception):
    """Another run of the same import holds its lock (try again shortly)."""


@dataclass(frozen=True)
class ChunkProgress:
    """Told after each chunk: ``done`` of ``total`` chunks, and the running counts."""

    chunk: int
    done: int
    total: int
    created: int
    failed: int


def idempotency_key(import_id: str, chunk: int) -> str:
    return f"import-{import_id}-{chunk}"


def chunks(items: list[tuple[int, dict[str, Any]]]) -> list[list[tuple[int, dict[str, Any]]]]:
    """The import's chunks, the same on every run: at most 100 rows, under the body limit."""
    out: list[list[tuple[int, dict[str, Any]]]] = []
    current: list[tuple[int, dict[str, Any]]] = []
    size = 2
    for row, item in items:
        item_size = len(json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode()) + 1
        if current and (len(current) >= MAX_BULK_ITEMS or size + item_size > CHUNK_BODY_BUDGET):
            out.append(current)
            current, size = [], 2
        current.append((row, item))
        size += item_size
    if current:
        out.append(current)
    return out


def run_import(
    conn: redis.Redis,
    settings: Settings,
    import_id: str,
    *,
    on_chunk: Callable[[ChunkProgress], None] | None = None,
) -> dict[str, Any]:
    """Import every chunk not yet done, then summarise.

    Returns:
        The summary: ``{"status": "done", "created", "failed", "rows", "chunks",
        "failed_rows": [[row, reason], ...]}``, or ``{"status": "expired"}`` /
        ``{"status": "not_connected"}``.

    Raises:
        RallyError: a transient failure (retryable); chunks before it are recorded.
        ImportBusy: another run of this import is going on.
    """
    stored = progress.load(conn, import_id, cells=False)
    if stored is None:
        return {"status": "expired"}
    try:
        as_whom = workspace.credential(settings, stored.team, stored.user)
    except workspace.NotConnected:
        return {"status": "not_connected"}
    lock = conn.lock(progress.lock_key(import_id), timeout=LOCK_TIMEOUT_SECONDS)
    if not lock.acquire(blocking=True, blocking_timeout=10):
        raise ImportBusy(import_id)
    try:
        owner = progress.owner_of(conn, import_id, _owner(settings, stored, as_whom))
        planned = chunks(stored.items)
        created_now = 0
        counts = _totals(conn, import_id, len(planned))  # what earlier runs recorded
        audit = _auditor(settings, stored)
        for n, chunk, result in _each_chunk(conn, import_id, planned, as_whom, owner, audit):
            lock.reacquire()
            created_now += len(result["created"])
            counts["chunks_done"] += 1
            counts["created"] += len(result["created"])
            counts["failed"] += len(result["failed"])
            if on_chunk is not None:
                on_chunk(
                    ChunkProgress(
                        chunk=n,
                        done=counts["chunks_done"],
                        total=len(planned),
                        created=counts["created"],
                        failed=counts["failed"],
                    )
                )
            log.info(
                "event=import_chunk import=%s chunk=%d rows=%d created=%d failed=%d",
                import_id,
                n,
                len(chunk),
                len(result["created"]),
                len(result["failed"]),
            )
        result = {**_summarise(conn, stored, len(planned)), "created_now": created_now}
        progress.record_summary(conn, import_id, result)
        return result
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:
            log.warning("event=import_lock_lapsed import=%s", import_id)


def _owner(
    settings: Settings, stored: progress.Import, as_whom: workspace.Credential
) -> str | None:
    if as_whom.personal:
        return None  # their own key: Rally makes them the owner
    return workspace.store_of(settings).owner(stored.team, stored.user)


def _auditor(settings: Settings, stored: progress.Import) -> Callable[[int, dict[str, Any]], None]:
    """One audit entry per chunk: who imported which activities, from which file."""
    store = workspace.store_of(settings)
    surface = f"csv-{stored.meta.get('source') or 'import'}"

    def audit(n: int, result: dict[str, Any]) -> None:
        store.audit(
            stored.team,
            stored.user,
            "imported",
            surface=surface,
            file=stored.meta.get("filename"),
            import_id=stored.import_id,
            chunk=n,
            created=[activity_id for _, activity_id in result["created"]],
            failed=len(result["failed"]),
        )

    return audit


def _each_chunk(
    conn: redis.Redis,
    import_id: str,
    planned: list[list[tuple[int, dict[str, Any]]]],
    as_whom: workspace.Credential,
    owner: str | None,
    audit: Callable[[int, dict[str, Any]], None],
) -> Iterator[tuple[int, list[tuple[int, dict[str, Any]]], dict[str, Any]]]:
    """Send each chunk not yet recorded; yields ``(n, chunk, result)``."""
    with rally_client(as_whom, use="imports") as rally:
        for n, chunk in enumerate(planned):
            if progress.chunk_done(conn, import_id, n) is not None:
                continue
            body = [{**item, "ownerId": owner} if owner else item for _, item in chunk]
            try:
                response = rally.bulk_create_activities(
                    body, idempotency_key=idempotency_key(import_id, n)
                )
            except RallyError as exc:
                if exc.retryable:
                    raise
                # Refused as a whole (a key Rally no longer takes, say): every row of it
                # failed, and the rest of the file is still tried.
                reason = f"Rally refused the request ({exc.status_code}): {exc}"
                result = {"created": [], "failed": [[row, reason] for row, _ in chunk]}
            else:
                result = _chunk_result(chunk, response.created_ids, response.errors)
            # Audited before it is recorded: a crash in between audits the (replayed)
            # chunk twice rather than never.
            audit(n, result)
            progress.record_chunk(conn, import_id, n, result)
            yield n, chunk, result


def _chunk_result(
    chunk: list[tuple[int, dict[str, Any]]], created_ids: list[str], errors: list[Any]
) -> dict[str, Any]:
    """Map the API's answer (errors by index, ids in request order) back to rows."""
    by_index = {error.index: error.errors for error in errors}
    ids = iter(created_ids)
    created: list[list[Any]] = []
    failed: list[list[Any]] = []
    for index, (row, _) in enumerate(chunk):
        if index in by_index:
            reason = "; ".join(
                f"{field}: {' '.join(messages)}" for field, messages in by_index[index].items()
            )
            failed.append([row, reason or "refused by Rally"])
        else:
            created.append([row, next(ids, None)])
    return {"created": created, "failed": failed}


def _totals(conn: redis.Redis, import_id: str, total: int) -> dict[str, int]:
    created = failed = done = 0
    for n in range(total):
        result = progress.chunk_done(conn, import_id, n)
        if result is None:
            continue
        done += 1
        created += len(result["created"])
        failed += len(result["failed"])
    return {"created": created, "failed": failed, "chunks_done": done}


def _summarise(conn: redis.Redis, stored: progress.Import, total: int) -> dict[str, Any]:
    created: list[list[Any]] = []
    failed: dict[int, str] = {}
    for error in stored.invalid:
        row = int(error["row"])
        text = f"{error['column']}: {error['reason']}" if error["column"] else error["reason"]
        failed[row] = f"{failed[row]}; {text}" if row in failed else text
    for n in range(total):
        result = progress.chunk_done(conn, stored.import_id, n) or {"created": [], "failed": []}
        created += result["created"]
        for row, reason in result["failed"]:
            failed[int(row)] = reason
    return {
        "status": "done",
        "rows": len(stored.items) + len({int(e["row"]) for e in stored.invalid}),
        "created": len(created),
        "failed": len(failed),
        "chunks": total,
        "failed_rows": [[row, failed[row]] for row in sorted(failed)],
    }


def failed_csv(stored: progress.Import, summary: dict[str, Any]) -> bytes:
    """The summary's failed rows, as a CSV with their reasons."""
    return failed_rows_csv(
        list(stored.meta["header"]),
        [
            (int(row), stored.cells.get(int(row), []), str(reason))
            for row, reason in summary.get("failed_rows") or []
        ],
    )
