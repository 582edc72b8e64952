"""An import as Redis keeps it: what to send, and what has been sent.

One hash per import, ``rally:import:{import_id}`` (TTL :data:`IMPORT_TTL_SECONDS`, longer
than the API keeps an Idempotency-Key, so a file imported again a day later still finds
its chunks done)::

    meta       JSON: team, user, file name, header, counts, where it came from
    items      JSON: [[row, CreateActivityRequest wire JSON], ...], the valid rows
    invalid    JSON: [{row, column, reason}, ...], what the preview refused
    cells      JSON: {row: [cells as written]} of every row, for the failed-rows CSV
    owner      JSON: {"ownerId": ... | null}, fixed by the first run (a resumed chunk
               must be the same body, or the API would call its key reused)
    chunk:{n}  JSON: {"created": [[row, id], ...], "failed": [[row, reason], ...]}
    summary    JSON: the end result, once every chunk is done

The id is a digest of team, user and the file's bytes: the same person importing the
same file again gets the same import (and its chunks' Idempotency-Keys), so nothing is
created twice. Nothing here is a secret.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Final

import redis

from workers.imports.csv_file import ParsedCsv

IMPORT_TTL_SECONDS: Final = 7 * 24 * 3600
PREFIX: Final = "rally:import:"


def import_id_for(team: str, user: str, data: bytes) -> str:
    """What identifies "the same import": this person, this workspace, these bytes."""
    digest = hashlib.sha256()
    for part in (team.encode(), b"\n", user.encode(), b"\n"):
        digest.update(part)
    digest.update(data)
    return digest.hexdigest()[:32]


def key(import_id: str) -> str:
    return f"{PREFIX}{import_id}"


def lock_key(import_id: str) -> str:
    return f"{PREFIX}{import_id}:lock"


@dataclass
class Import:
    """A stored import (see the module docstring for each part)."""

    import_id: str
    meta: dict[str, Any]
    items: list[tuple[int, dict[str, Any]]]
    invalid: list[dict[str, Any]]
    cells: dict[int, list[str]]

    @property
    def team(self) -> str:
        return str(self.meta["team"])

    @property
    def user(self) -> str:
        return str(self.meta["user"])


def save(
    conn: redis.Redis,
    import_id: str,
    parsed: ParsedCsv,
    *,
    team: str,
    user: str,
    filename: str,
    extra: dict[str, Any] | None = None,
) -> bool:
    """Keep a parsed file under its id, unless it is already kept (then leave it be).

    Returns:
        True when stored now, False when this import already existed.
    """
    meta = {
        "team": team,
        "user": user,
        "filename": filename,
        "header": parsed.header,
        "rows": parsed.rows,
        "counts": parsed.counts_by_type(),
        **(extra or {}),
    }
    name = key(import_id)
    # The same id is the same bytes, so the parts are the same whoever writes them; meta
    # goes last (HSETNX), and ``load`` sees an import only once meta is there.
    conn.hset(
        name,
        mapping={
            "items": json.dumps([[row.row, row.item] for row in parsed.valid]),
            "invalid": json.dumps([error.to_json() for error in parsed.errors]),
            "cells": json.dumps({str(row): cells for row, cells in parsed.cells.items()}),
        },
    )
    created = bool(conn.hsetnx(name, "meta", json.dumps(meta)))
    conn.expire(name, IMPORT_TTL_SECONDS)
    return created


def load(conn: redis.Redis, import_id: str, *, cells: bool = True) -> Import | None:
    """The stored import, or None when it has expired (or never was). ``cells=False``
    leaves the cells as written out (the failed-rows CSV is the only reader)."""
    fields = ["meta", "items", "invalid", *(["cells"] if cells else [])]
    raw = conn.hmget(key(import_id), fields)
    if any(part is None for part in raw):
        return None
    meta, items, invalid = (json.loads(part) for part in raw[:3])  # type: ignore[arg-type]
    written = json.loads(raw[3]) if cells else {}  # type: ignore[arg-type]
    return Import(
        import_id=import_id,
        meta=meta,
        items=[(int(row), item) for row, item in items],
        invalid=list(invalid),
        cells={int(row): list(c) for row, c in written.items()},
    )


def load_meta(conn: redis.Redis, import_id: str) -> dict[str, Any] | None:
    """Only the import's meta (team, user, file name...): cheap, for checks and messages."""
    raw = conn.hget(key(import_id), "meta")
    return json.loads(raw) if raw else None


def update_meta(conn: redis.Redis, import_id: str, **changes: Any) -> None:
    raw = conn.hget(key(import_id), "meta")
    if raw is None:
        return
    meta = json.loads(raw)
    meta.update(changes)
    conn.hset(key(import_id), "meta", json.dumps(meta))


def owner_of(conn: redis.Redis, import_id: str, decided: str | None) -> str | None:
    """The ownerId every chunk of this import carries: the first run's decision."""
    conn.hsetnx(key(import_id), "owner", json.dumps({"ownerId": decided}))
    raw = conn.hget(key(import_id), "owner")
    return json.loads(raw)["ownerId"] if raw else decided


def chunk_done(conn: redis.Redis, import_id: str, n: int) -> dict[str, Any] | None:
    raw = conn.hget(key(import_id), f"chunk:{n}")
    return json.loads(raw) if raw else None


def record_chunk(conn: redis.Redis, import_id: str, n: int, result: dict[str, Any]) -> None:
    conn.hset(key(import_id), f"chunk:{n}", json.dumps(result))
    conn.expire(key(import_id), IMPORT_TTL_SECONDS)


def summary(conn: redis.Redis, import_id: str) -> dict[str, Any] | None:
    raw = conn.hget(key(import_id), "summary")
    return json.loads(raw) if raw else None


def record_summary(conn: redis.Redis, import_id: str, result: dict[str, Any]) -> None:
    conn.hset(key(import_id), "summary", json.dumps(result))
    conn.expire(key(import_id), IMPORT_TTL_SECONDS)
