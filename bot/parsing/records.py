"""References to Rally records: a GUID, or a Rally URL in any of its shapes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias
from urllib.parse import unquote, urlsplit

from api_client.models import (
    GUID_RE,
)
from bot.parsing.common import USAGE, RecordRefError, clip
from bot.parsing.slack_text import URL_SCHEME_RE

# ---------------------------------------------------------------------- record refs

RecordKind: TypeAlias = Literal["deal", "company", "contact"]

KIND_WORDS: Final[dict[str, RecordKind]] = {
    "deal": "deal",
    "deals": "deal",
    "company": "company",
    "companies": "company",
    "contact": "contact",
    "contacts": "contact",
}
_ANGLE_LINK_RE: Final = re.compile(r"<([^<>|]+)(?:\|[^<>]*)?>")


@dataclass(frozen=True, slots=True)
class RecordRef:
    """A Rally deal, company or contact a channel can be linked to."""

    kind: RecordKind
    id: str

    @property
    def wire_field(self) -> str:
        """The request field that associates an activity with it (``dealId``, ...)."""
        return f"{self.kind}Id"


def parse_record_ref(kind_hint: str | None, text: str) -> RecordRef:
    """Read the target of ``/rally link deal|company|contact <id or Rally URL>``.

    Accepts a bare GUID (any case; returned lower-case) or a Rally URL whose path has
    ``/deals/<id>``, ``/companies/<id>`` or ``/contacts/<id>`` (singular too, query and
    fragment ignored, a ``#/deals/<id>`` route too), also in Slack's ``<url|label>``
    form. A URL's kind must agree with ``kind_hint`` when both are given.

    Args:
        kind_hint: ``deal``/``company``/``contact`` (plural or any case), or None to
            take the kind from the URL.
        text: The id or URL.

    Returns:
        The record reference.

    Raises:
        RecordRefError: Saying what to paste instead.
    """
    kind: RecordKind | None = None
    if kind_hint is not None and kind_hint.strip():
        kind = KIND_WORDS.get(kind_hint.strip().lower())
        if kind is None:
            raise RecordRefError(
                f'"{clip(kind_hint)}" isn\'t something a channel can link to; '
                f"use deal, company or contact: {USAGE['link']}"
            )
    value = text.strip()
    if angle := _ANGLE_LINK_RE.fullmatch(value):
        value = angle.group(1).strip()
    value = value.strip("\"'“”").strip()
    if not value:
        what = f"the {kind}'s" if kind else "a deal's, company's or contact's"
        raise RecordRefError(f"paste {what} Rally URL or id: {USAGE['link']}")

    bare = value.removeprefix("{").removesuffix("}")
    if GUID_RE.match(bare):
        if kind is None:
            raise RecordRefError(
                f"say whether {bare.lower()} is a deal, company or contact, e.g. "
                f"/rally link deal {bare.lower()}"
            )
        return RecordRef(kind=kind, id=bare.lower())

    found = _ref_from_url(value)
    if found is None:
        raise RecordRefError(
            f"couldn't read \"{clip(value)}\" as a Rally id or URL; paste the record's "
            "link (…/deals/<id>) or its id (like 3f2b8c1e-…)"
        )
    url_kind, guid = found
    if url_kind is None:
        if kind is None:
            raise RecordRefError(
                "that link has an id but doesn't say whether it's a deal, company or "
                f"contact; try /rally link deal {guid}"
            )
        url_kind = kind
    if kind is not None and url_kind != kind:
        raise RecordRefError(
            f"that link is to a {url_kind}, not a {kind}; use /rally link {url_kind} …"
        )
    return RecordRef(kind=url_kind, id=guid)


def _ref_from_url(value: str) -> tuple[RecordKind | None, str] | None:
    """(kind or None, guid) from a URL, or None when it isn't a URL with an id."""
    if not URL_SCHEME_RE.match(value):
        if "/" not in value or any(c.isspace() for c in value):
            return None
        value = "https://" + value  # a pasted "acme.rallycrm.io/deals/…"
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    # Single-page apps route in the fragment ("#/deals/<id>"): look there too.
    for path in (parts.path, urlsplit(parts.fragment).path if parts.fragment else ""):
        segments = [unquote(s) for s in path.split("/") if s]
        for i in range(len(segments) - 1, 0, -1):
            if GUID_RE.match(segments[i]):
                return KIND_WORDS.get(segments[i - 1].lower()), segments[i].lower()
        if segments and GUID_RE.match(segments[0]):
            return None, segments[0].lower()
    return None
