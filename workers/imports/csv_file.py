"""Reading an import CSV: one activity per row, columns named as ``CreateActivityRequest``.

No Slack and no Rally here: bytes in, valid items and errors out. Each row is validated
with the API's own model (``api_client.models.CreateActivityRequest``), so a row the
preview accepts is the very body the bulk endpoint gets, and the API has no reason the
preview could have known to refuse it.

Rules:

- UTF-8, with or without a byte-order mark; ``,`` or ``;`` between cells (sniffed).
- The first row is the header: wire (camelCase) names, each once. Unknown names are an
  error naming them; ``activityType`` and ``subject`` are required columns. ``ownerId`` is
  refused: rows belong to whoever imports them (SPEC §6), never to an id in a file.
- Row numbers are a spreadsheet's: the header is row 1. Blank rows are skipped; an empty
  cell is an omitted field.
- Limits: :data:`MAX_BYTES` and :data:`MAX_ROWS`; a file over either is refused whole,
  with the limit named.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final

from pydantic import ValidationError

from api_client.models import CreateActivityRequest

MAX_BYTES: Final = 5 * 1024 * 1024
MAX_ROWS: Final = 10_000
MAX_CELL_CHARS: Final = 70_000
"""Longer than any field the API takes (a body is at most 65,536 characters)."""

COLUMNS: Final[tuple[str, ...]] = tuple(
    info.alias or name for name, info in CreateActivityRequest.model_fields.items()
)
REQUIRED_COLUMNS: Final = ("activityType", "subject")
REFUSED_COLUMNS: Final = {
    "ownerId": "rows are logged as whoever imports the file; remove the ownerId column",
}


class CsvRefused(ValueError):
    """The file as a whole cannot be imported (limits, encoding, header); says why."""


@dataclass(frozen=True)
class RowError:
    """What is wrong with one row: its number in the file, the column, the reason."""

    row: int
    column: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "reason": self.reason}


@dataclass(frozen=True)
class ValidRow:
    """A row the API will take: ``item`` is its ``CreateActivityRequest`` in wire JSON."""

    row: int
    item: dict[str, Any]


@dataclass
class ParsedCsv:
    """A read file: its header, the valid rows, every error and each row's cells."""

    header: list[str]
    valid: list[ValidRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    cells: dict[int, list[str]] = field(default_factory=dict)
    """Row number → its cells as written (for the failed-rows CSV)."""

    @property
    def invalid_rows(self) -> list[int]:
        return sorted({error.row for error in self.errors})

    @property
    def rows(self) -> int:
        return len(self.valid) + len(self.invalid_rows)

    def counts_by_type(self) -> dict[str, int]:
        """Valid rows per activity type, in the API's order of types."""
        counts = Counter(str(row.item["activityType"]) for row in self.valid)
        return {kind: counts[kind] for kind in ("call", "task", "note", "meeting") if counts[kind]}


def read_csv(data: bytes) -> ParsedCsv:
    """Read and validate an import file.

    Raises:
        CsvRefused: over a limit, not UTF-8, not CSV, or a bad header (says which).
    """
    check_size(len(data))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvRefused(
            f"the file is not UTF-8 (byte {exc.start + 1} is not); save it as CSV UTF-8"
        ) from None
    if "\x00" in text:
        raise CsvRefused("the file holds NUL bytes: it is not a CSV file")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True)
    try:
        header = _header(next(reader, None))
        parsed = ParsedCsv(header=header)
        row_number = 1
        for cells in reader:
            row_number += 1
            if not any(cell.strip() for cell in cells):
                continue
            if parsed.rows >= MAX_ROWS:
                raise CsvRefused(f"the file has more than {MAX_ROWS:,} rows (the limit); split it")
            parsed.cells[row_number] = cells
            _read_row(parsed, row_number, cells)
    except csv.Error as exc:
        raise CsvRefused(f"row {reader.line_num}: not valid CSV ({exc})") from None
    if parsed.rows == 0:
        raise CsvRefused("the file has a header but no rows")
    return parsed


def check_size(size: int) -> None:
    """Refuse a file of ``size`` bytes over :data:`MAX_BYTES` (before reading it).

    Raises:
        CsvRefused: naming the limit.
    """
    if size > MAX_BYTES:
        raise CsvRefused(
            f"the file is {_size(size)}; the limit is {_size(MAX_BYTES)} and "
            f"{MAX_ROWS:,} rows: split it into smaller files"
        )


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MiB" if n >= 1024 * 1024 else f"{n:,} bytes"


def _delimiter(text: str) -> str:
    first_line = text.split("\n", 1)[0]
    try:
        return csv.Sniffer().sniff(first_line, delimiters=",;").delimiter
    except csv.Error:
        # One column, or nothing to tell by: count what is there.
        return ";" if first_line.count(";") > first_line.count(",") else ","


def _header(cells: list[str] | None) -> list[str]:
    if cells is None or not any(cell.strip() for cell in cells):
        raise CsvRefused(
            "the first row must be a header naming the columns, e.g. activityType,subject"
        )
    header = [cell.strip() for cell in cells]
    problems: list[str] = []
    unknown = [name for name in header if name not in COLUMNS and name not in REFUSED_COLUMNS]
    if unknown:
        problems.append(
            f"unknown column{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
            f"(columns are {', '.join(c for c in COLUMNS if c not in REFUSED_COLUMNS)})"
        )
    problems += [reason for name, reason in REFUSED_COLUMNS.items() if name in header]
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        problems.append(
            f"column{'s' if len(duplicated) > 1 else ''} named twice: {', '.join(duplicated)}"
        )
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        problems.append(
            f"missing required column{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
        )
    if problems:
        raise CsvRefused("; ".join(problems))
    return header


_ALIAS_OF: Final = {
    name: info.alias or name for name, info in CreateActivityRequest.model_fields.items()
}


def _read_row(parsed: ParsedCsv, row: int, cells: list[str]) -> None:
    header = parsed.header
    if len(cells) > len(header):
        parsed.errors.append(
            RowError(row, "", f"has {len(cells)} cells but the header names {len(header)} columns")
        )
        return
    wire: dict[str, Any] = {}
    for name, cell in zip(header, cells, strict=False):
        if len(cell) > MAX_CELL_CHARS:
            parsed.errors.append(RowError(row, name, f"is over {MAX_CELL_CHARS:,} characters"))
            return
        if cell.strip():
            wire[name] = cell
    if "activityType" in wire:
        # The API's types are lower case; a spreadsheet's "Call" is meant the same.
        wire["activityType"] = wire["activityType"].strip().lower()
    try:
        request = CreateActivityRequest.model_validate(wire)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            loc = error.get("loc") or ("",)
            column = _ALIAS_OF.get(str(loc[0]), str(loc[0]))
            parsed.errors.append(RowError(row, column, _reason(error)))
        return
    parsed.valid.append(
        ValidRow(row, request.model_dump(by_alias=True, exclude_unset=True, mode="json"))
    )


def _reason(error: Any) -> str:
    kind = error.get("type")
    if kind == "missing":
        return "is required"
    message = str(error.get("msg") or "is invalid")
    return message.removeprefix("Value error, ")


def failed_rows_csv(header: list[str], failed: list[tuple[int, list[str], str]]) -> bytes:
    """The failed rows as a CSV a person can fix and import again.

    Args:
        header: The file's header.
        failed: ``(row number, cells as written, reason)`` for each failed row, in order.

    Returns:
        UTF-8 with a BOM (so spreadsheet programs read it as UTF-8): the file's own
        columns, then ``row`` (its number in the original file) and ``error``.
    """
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow([*header, "row", "error"])
    for row, cells, reason in failed:
        padded = (list(cells) + [""] * len(header))[: len(header)]
        writer.writerow([*padded, row, reason])
    return ("\ufeff" + out.getvalue()).encode()
