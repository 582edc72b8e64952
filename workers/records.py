"""Records people recognise: the type-ahead's index of known deals, companies and contacts.

Two sources, two key spaces in Redis:

- **Seen** (per tenant namespace, the reminder index's: the sync reads a tenant's
  activities once for all workspaces connected to it, and a record id is the tenant's)::

      rally:rem:<ns>:seen:<kind>      ZSET  record id -> epoch of its latest activity
      rally:rem:<ns>:seenlex:<kind>   ZSET  record id, score 0 (id-prefix search by lex)

- **Named** (per workspace: a name is what one workspace calls a record; durable in the
  store, ``record_names``, and mirrored here for prefix search)::

      rally:rec:<team>:names:<kind>   ZSET  "<lower-cased name>\\x00<id>", score 0
      rally:rec:<team>:label:<kind>   HASH  id -> the name as given
      rally:rec:<team>:built          STR   the mirror was filled from the store

A suggestion is one ``ZRANGEBYLEX`` per set (O(log n + hits)), then the hits ordered by
recency (``ZMSCORE``): 10,000 records answer in about a millisecond, and no Rally call.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import redis
from sqlalchemy.exc import SQLAlchemyError

from core.store import Store

log = logging.getLogger(__name__)

SEEN_PREFIX: Final = "rally:rem:"
NAMES_PREFIX: Final = "rally:rec:"
KINDS: Final = ("deal", "company", "contact")
LIMIT: Final = 100
"""Slack shows at most 100 options."""
SCAN_MAX: Final = 500
"""The most prefix hits read from each set before ordering them by recency."""
_SEP: Final = "\x00"
_GUID_PREFIX_RE: Final = re.compile(r"[0-9a-f-]{1,36}\Z")


@dataclass(frozen=True)
class Suggestion:
    """One option: the record's id, and its name in the workspace when it has one."""

    id: str
    name: str | None = None


def _seen(namespace: str, kind: str) -> str:
    return f"{SEEN_PREFIX}{namespace}:seen:{kind}"


def _seenlex(namespace: str, kind: str) -> str:
    return f"{SEEN_PREFIX}{namespace}:seenlex:{kind}"


def _names(team: str, kind: str) -> str:
    return f"{NAMES_PREFIX}{team}:names:{kind}"


def _label(team: str, kind: str) -> str:
    return f"{NAMES_PREFIX}{team}:label:{kind}"


def _built(team: str) -> str:
    return f"{NAMES_PREFIX}{team}:built"


def name_key(name: str) -> str:
    """What a name is searched by: case-folded, its spaces collapsed."""
    return " ".join(name.casefold().split())


def note_seen(
    pipe: redis.client.Pipeline, namespace: str, records: Iterable[tuple[str, str, int]]
) -> None:
    """Queue on ``pipe``: these (kind, id, activity epoch) were seen by the sync (the latest
    activity time is kept: ``ZADD GT``)."""
    for kind, record_id, epoch in records:
        rid = record_id.lower()
        pipe.zadd(_seen(namespace, kind), {rid: epoch}, gt=True)
        pipe.zadd(_seenlex(namespace, kind), {rid: 0})


def index_name(
    conn: redis.Redis, team: str, kind: str, record_id: str, name: str, previous: str | None
) -> None:
    """Mirror a (re)naming into the prefix index."""
    pipe = conn.pipeline(transaction=True)
    if previous is not None:
        pipe.zrem(_names(team, kind), f"{name_key(previous)}{_SEP}{record_id}")
    pipe.zadd(_names(team, kind), {f"{name_key(name)}{_SEP}{record_id}": 0})
    pipe.hset(_label(team, kind), record_id, name)
    pipe.execute()


def ensure_names(conn: redis.Redis, store: Store, team: str) -> None:
    """Fill the workspace's name mirror from the store, once (after Redis lost it)."""
    if conn.exists(_built(team)):
        return
    pipe = conn.pipeline(transaction=True)
    for kind, record_id, name in store.named_records(team):
        pipe.zadd(_names(team, kind), {f"{name_key(name)}{_SEP}{record_id}": 0})
        pipe.hset(_label(team, kind), record_id, name)
    pipe.set(_built(team), "1")
    pipe.execute()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _prefix_range(prefix: str) -> tuple[str, str]:
    return f"[{prefix}", f"[{prefix}\U0010ffff"


def suggest(
    conn: redis.Redis,
    *,
    team: str,
    namespace: str | None,
    kind: str,
    query: str,
) -> list[Suggestion]:
    """The records of ``kind`` whose name or id starts with ``query`` (case-insensitive),
    most recently active first, at most :data:`LIMIT`; an empty query gives the most
    recently active (then the named ones)."""
    key = name_key(query)
    found: list[Any] = []
    if key:
        lo, hi = _prefix_range(key)
        named = conn.zrangebylex(_names(team, kind), lo, hi, start=0, num=SCAN_MAX)
        found += [_text(member).rpartition(_SEP)[2] for member in named]
        if namespace and _GUID_PREFIX_RE.match(key):
            found += conn.zrangebylex(_seenlex(namespace, kind), lo, hi, start=0, num=SCAN_MAX)
    else:
        if namespace:
            found += conn.zrevrange(_seen(namespace, kind), 0, LIMIT - 1)
        named = list(conn.zrangebylex(_names(team, kind), "-", "+", start=0, num=LIMIT))
        found += [_text(member).rpartition(_SEP)[2] for member in named]
    hits = dict.fromkeys(_text(member) for member in found)
    ids = list(hits)
    if namespace and ids:
        scores = conn.zmscore(_seen(namespace, kind), ids)
        recency = {rid: (score or 0.0) for rid, score in zip(ids, scores, strict=True)}
        ids.sort(key=lambda rid: -recency[rid])
    ids = ids[:LIMIT]
    labels = conn.hmget(_label(team, kind), ids) if ids else []
    return [
        Suggestion(rid, label.decode() if isinstance(label, bytes) else label)
        for rid, label in zip(ids, labels, strict=True)
    ]


def record_pairs(*items: Any) -> list[tuple[str, str]]:
    """The (kind, id) records of activities (wire dicts) and task cards."""
    pairs: list[tuple[str, str]] = []
    for item in items:
        if isinstance(item, Mapping):
            pairs += [
                (kind, str(item[f"{kind}Id"]).lower()) for kind in KINDS if item.get(f"{kind}Id")
            ]
        elif hasattr(item, "records"):
            pairs += [(kind, rid.lower()) for kind, rid in item.records()]
    return pairs


def names_for(
    store: Store, team: str | None, pairs: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """The workspace's names for these records; ``{}`` (ids shown) when the store is down."""
    try:
        return store.record_names(team, pairs)
    except SQLAlchemyError:
        log.warning("event=record_names_unavailable team=%s", team)
        return {}


def form_names(
    store: Store, team: str | None, values: Mapping[str, Any]
) -> dict[tuple[str, str], str]:
    """The names of the records a form is prefilled with (values keyed deal/company/contact),
    so each menu's chosen option reads as the record's name."""
    pairs = [(kind, str(values[kind])) for kind in KINDS if isinstance(values.get(kind), str)]
    return names_for(store, team, pairs) if pairs else {}
