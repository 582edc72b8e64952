"""``rally-slack import``: the bars of issue 12 through the command line, against the
sandbox on a real socket, every Activities API request recorded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from cli.main import main
from tests.e2e.harness import Rally
from tests.e2e.imports_support import INVALID_ROWS, RecordingApi, csv_bytes
from tests.fixtures.sandbox import DEV_API_KEY

TEAM = "T0RALLY"


@pytest.fixture
def api(
    rally: Rally,
    monkeypatch: pytest.MonkeyPatch,
    make_sandbox_app: Callable[..., Flask],
    serve_app: Callable[[Any], str],
) -> RecordingApi:
    recording = RecordingApi(make_sandbox_app())
    rally.api_url = serve_app(recording)
    monkeypatch.setenv("RALLY_BASE_URL", rally.api_url)
    return recording


def test_250_rows_with_5_invalid_dry_run_names_them_then_import_creates_245_by_bulk_once(
    rally: Rally, api: RecordingApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, invalid = csv_bytes(250)
    assert len(invalid) == 5
    path = tmp_path / "calls.csv"
    path.write_bytes(data)

    # --dry-run: the preview names the 5 rows, with the column; nothing reaches Rally.
    assert main(["import", "--team", TEAM, "--user", "U0ALICE", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "250 rows, 245 valid" in out and "5 invalid" in out
    for row, (_, column) in zip(invalid, INVALID_ROWS, strict=True):
        assert f"row {row}, {column}:" in out, out
    assert "nothing was created" in out
    assert api.requests == []

    # The real run: 245 created through bulk requests of at most 100, no single create.
    assert main(["import", "--team", TEAM, "--user", "U0ALICE", str(path)]) == 1
    out = capsys.readouterr().out
    bulk = api.posts("bulk")
    assert [r.items for r in bulk] == [100, 100, 45]
    assert api.posts("create") == []
    assert len({r.key for r in bulk}) == 3
    assert "chunk 1/3" in out and "chunk 3/3" in out
    assert "245 created" in out and "5 failed" in out
    activities = rally.activities()
    assert len(activities) == 245
    assert {a["subject"] for a in activities} >= {"Call 0", "Note 2, with a comma", "Meeting 3"}
    note = next(a for a in activities if a["subject"] == "Note 2, with a comma")
    assert note["body"] == "Line one\nline two"

    # The failed rows come back as a CSV with their reasons.
    failed = (tmp_path / "calls.failed.csv").read_text(encoding="utf-8-sig").splitlines()
    assert failed[0].endswith(",row,error")
    assert len(failed) == 6
    assert [line.split(",")[-2] for line in failed[1:]] != []
    # Who imported what is in the audit trail, one entry per chunk with its activities.
    trail = [e for e in rally.store.audit_trail(TEAM) if e.action == "imported"]
    assert [(e.user_id, e.surface, len(e.detail["created"])) for e in trail] == [
        ("U0ALICE", "csv-cli", 100),
        ("U0ALICE", "csv-cli", 100),
        ("U0ALICE", "csv-cli", 45),
    ]
    assert {i for e in trail for i in e.detail["created"]} == {a["id"] for a in activities}

    # Running it again creates nothing, and sends nothing.
    requests_before = len(api.requests)
    assert main(["import", "--team", TEAM, "--user", "U0ALICE", str(path)]) == 1
    out = capsys.readouterr().out
    assert "0 of them now" in out
    assert len(api.requests) == requests_before
    assert len(rally.activities()) == 245


def test_a_file_over_the_row_limit_is_refused_naming_the_limit(
    rally: Rally, api: RecordingApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, _ = csv_bytes(10_001, invalid_every=0)
    path = tmp_path / "big.csv"
    path.write_bytes(data)
    assert main(["import", "--team", TEAM, "--user", "U0ALICE", str(path)]) == 2
    err = capsys.readouterr().err
    assert "10,000 rows" in err
    assert api.requests == []


def test_an_unknown_column_is_refused_naming_it(
    rally: Rally, api: RecordingApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "odd.csv"
    path.write_bytes(b"activityType;subject;colour\nnote;Hello;blue\n")
    assert main(["import", "--team", TEAM, "--user", "U0ALICE", str(path), "--dry-run"]) == 2
    assert "'colour'" in capsys.readouterr().err


ALICE_KEY = "rk_test_alice_own_key_not_real"


def test_rows_are_owned_as_for_anything_the_person_logs(
    rally: Rally,
    monkeypatch: pytest.MonkeyPatch,
    make_sandbox_app: Callable[..., Flask],
    serve_app: Callable[[Any], str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from sandbox.tenants import parse_key_spec
    from tests.e2e.harness import OWNER_ID

    app = make_sandbox_app(api_keys=[f"{DEV_API_KEY}=acme:workspace", f"{ALICE_KEY}=acme:alice"])
    rally.api_url = serve_app(app)
    monkeypatch.setenv("RALLY_BASE_URL", rally.api_url)
    # Alice connected her own key; Bob has none but is mapped to an owner id.
    rally.store.save_personal_key(TEAM, "U0ALICE", ALICE_KEY)
    rally.store.set_personal_key_status(TEAM, "U0ALICE", "ok")
    rally.store.set_owner(TEAM, "U0BOB", OWNER_ID, by="U0ADMIN")

    for user in ("U0ALICE", "U0BOB"):
        path = tmp_path / f"{user}.csv"
        path.write_bytes(f"activityType,subject\nnote,From {user}\n".encode())
        assert main(["import", "--team", TEAM, "--user", user, str(path)]) == 0
    capsys.readouterr()
    owners = {a["subject"]: a["ownerId"] for a in rally.activities()}
    assert owners["From U0ALICE"] == parse_key_spec(f"{ALICE_KEY}=acme:alice")[1].owner_id
    assert owners["From U0BOB"] == OWNER_ID


def test_a_shared_file_whose_address_is_not_slacks_is_not_fetched_with_the_token(
    rally: Rally,
) -> None:
    from workers.imports.slack import NotDownloadable, download
    from workers.slack import web_client

    client = web_client(rally.settings)
    info = {"size": 10, "url_private_download": "https://files.evil.example/x.csv"}
    with pytest.raises(NotDownloadable):
        download(rally.settings, client, info)
