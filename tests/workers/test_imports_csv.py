"""The import CSV reader: the file's rules, each row by the API's own rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workers.imports.csv_file import (
    MAX_BYTES,
    CsvRefused,
    failed_rows_csv,
    read_csv,
)
from workers.imports.run import chunks

DEAL = "c8f9a0b1-2d3e-4f56-7890-abcdef123456"


def test_comma_or_semicolon_with_or_without_a_bom_read_the_same() -> None:
    comma = f'activityType,subject,dealId\ncall,Intro,{DEAL}\nnote,"A, B",\n'
    semi = comma.replace(",", ";").replace('"A; B"', '"A, B"')
    for data in (comma.encode(), b"\xef\xbb\xbf" + comma.encode(), semi.encode()):
        parsed = read_csv(data)
        assert parsed.errors == []
        assert [r.item for r in parsed.valid] == [
            {"activityType": "call", "subject": "Intro", "dealId": DEAL},
            {"activityType": "note", "subject": "A, B"},
        ]


def test_rows_are_validated_with_the_apis_rules_naming_row_and_column() -> None:
    data = (
        b"activityType,subject,dueDate,priority,callDurationSeconds,meetingUrl\n"
        b"task,Send it,2026-12-01T09:00:00Z,high,,\n"  # row 2: fine
        b"call,Dial,,high,,\n"  # row 3: priority on a call
        b"task,,,,,\n"  # row 4: no subject
        b"call,Long,,,-5,\n"  # row 5: negative duration
        b"meeting,Meet,,,,ftp://x\n"  # row 6: not an http URL
        b"Task,Upper case type,,,,\n"  # row 7: fine, the type is read case-blind
    )
    parsed = read_csv(data)
    assert [r.row for r in parsed.valid] == [2, 7]
    assert parsed.valid[0].item["dueDate"] == "2026-12-01T09:00:00Z"
    assert {(e.row, e.column) for e in parsed.errors} == {
        (3, "priority"),
        (4, "subject"),
        (5, "callDurationSeconds"),
        (6, "meetingUrl"),
    }
    assert parsed.counts_by_type() == {"task": 2}
    assert next(e for e in parsed.errors if e.row == 4).reason == "is required"


def test_row_numbers_are_the_spreadsheets_with_blank_rows_and_quoted_newlines() -> None:
    data = b'activityType,subject,body\nnote,One,"two\nlines"\n\n,,\nnote,,x\n'
    parsed = read_csv(data)
    assert [r.row for r in parsed.valid] == [2]
    assert [(e.row, e.column) for e in parsed.errors] == [(5, "subject")]


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "header"),
        (b"activityType,subject,colour,size\nnote,x,1,2\n", "'colour', 'size'"),
        (b"activityType,subject,ownerId\nnote,x,\n", "ownerId"),
        (b"activityType,subject,id\nnote,x,\n", "'id'"),
        (b"activityType,subject,subject\nnote,x,y\n", "named twice: subject"),
        (b"subject\nx\n", "missing required column activityType"),
        (b"activityType,subject\n", "no rows"),
        (b"activityType,subject\nnote,caf\xe9\n", "not UTF-8"),
        (b"activityType,subject\nnote,a\x00b\n", "NUL"),
    ],
)
def test_a_file_that_cannot_be_imported_is_refused_saying_why(data: bytes, says: str) -> None:
    with pytest.raises(CsvRefused) as refused:
        read_csv(data)
    assert says in str(refused.value)


def test_limits_are_named_when_refused() -> None:
    with pytest.raises(CsvRefused, match=r"5\.0 MiB"):
        read_csv(b"x" * (MAX_BYTES + 1))
    rows = "activityType,subject\n" + "note,x\n" * 10_001
    with pytest.raises(CsvRefused, match="10,000 rows"):
        read_csv(rows.encode())
    assert read_csv(("activityType,subject\n" + "note,x\n" * 10_000).encode()).rows == 10_000


def test_a_row_with_more_cells_than_the_header_is_an_error_of_its_own() -> None:
    parsed = read_csv(b"activityType,subject\nnote,x,extra\nnote,y\n")
    assert [(e.row, e.column) for e in parsed.errors] == [(2, "")]
    assert "3 cells" in parsed.errors[0].reason


def test_chunks_are_at_most_100_rows_and_under_the_body_limit() -> None:
    small = [(n, {"activityType": "note", "subject": f"n{n}"}) for n in range(250)]
    assert [len(c) for c in chunks(small)] == [100, 100, 50]
    big = [(n, {"activityType": "note", "subject": "x", "body": "b" * 60_000}) for n in range(40)]
    sizes = [len(c) for c in chunks(big)]
    assert sum(sizes) == 40 and max(sizes) < 16


def test_the_failed_rows_csv_keeps_the_cells_and_adds_row_and_error() -> None:
    out = failed_rows_csv(["activityType", "subject"], [(3, ["call", "x, y"], "bad")])
    assert out.decode("utf-8-sig").splitlines() == [
        "activityType,subject,row,error",
        'call,"x, y",3,bad',
    ]


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_are_read_or_refused_never_a_crash(data: bytes) -> None:
    try:
        parsed = read_csv(b"activityType,subject,body\n" + data)
    except CsvRefused:
        return
    for row in parsed.valid:
        assert row.item["activityType"] in {"note", "task", "call", "meeting"}
