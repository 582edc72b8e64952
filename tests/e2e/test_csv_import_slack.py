"""A CSV shared in a DM with the app: preview with Import, progress per chunk, summary and
the failed rows uploaded back; only the sharer may import. Signed requests to the real
endpoint, real Redis and RQ workers, the fake Slack at the network edge, the sandbox
recording every Activities API request."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from devstack.fake_slack import payloads
from slack_ui import ids
from tests.e2e.harness import Rally
from tests.e2e.imports_support import Recorded, RecordingApi, csv_bytes
from tests.fixtures.sandbox import DEV_API_KEY


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
    monkeypatch.setenv("IMPORT_PROGRESS_INTERVAL_MS", "0")  # an update after every chunk
    return recording


def _count(rally: Rally) -> int:
    import httpx

    total, offset = 0, 0
    while True:
        page = httpx.get(
            f"{rally.api_url}/api/v1/activities",
            headers={"X-Api-Key": DEV_API_KEY},
            params={"limit": 100, "offset": offset},
        ).json()
        total += len(page)
        offset += 100
        if len(page) < 100:
            return total


def share(rally: Rally, name: str, data: bytes, user: str = "U0ALICE") -> dict[str, Any]:
    """The person shares the file in their DM with the app; the app previews it."""
    message = rally.fake.share_file(None, user, name, data)
    response = rally.post(payloads.event_callback(payloads.file_share(message)))
    assert response.status_code == 200
    rally.work()
    return message


def bot_messages(rally: Rally, dm: str) -> list[dict[str, Any]]:
    return [m for m in rally.fake.messages(dm) if m.get("bot_id")]


def import_button(message: dict[str, Any]) -> dict[str, Any]:
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("action_id") == ids.IMPORT_CSV_ACTION:
                return dict(element)
    raise AssertionError(f"no Import button in {message}")


def click(rally: Rally, message: dict[str, Any], dm: str, user: str) -> Any:
    button = import_button(message)
    payload = payloads.block_actions(
        {"type": "button", "action_id": ids.IMPORT_CSV_ACTION, "value": button["value"]},
        user=user,
        channel=dm,
        message=message,
        response_url=rally.fake.new_response_url(channel=dm, user=user),
    )
    return rally.interact(payload)


def test_a_csv_shared_in_the_dm_is_previewed_then_imported_by_bulk_with_a_summary_and_failed_rows(
    rally: Rally, api: RecordingApi
) -> None:
    data, invalid = csv_bytes(250)
    message = share(rally, "q4 calls.csv", data)
    dm = message["channel"]

    # The bot read the file with files.info and its url_private (bearer token).
    [info] = rally.fake.calls("files.info")
    assert info.params["file"] == message["files"][0]["id"]
    [preview] = bot_messages(rally, dm)
    text = json.dumps(preview)
    assert "250 rows" in text and "245 to import" in text
    for row in invalid:
        assert f"row {row}" in text
    button = import_button(preview)
    assert data.decode()[:50] not in button["value"]  # the import's id, not the file
    assert api.requests == []  # a preview calls no Activities API

    # Someone else pressing Import (a forged click: it is Alice's DM) gets nothing.
    assert click(rally, preview, dm, "U0BOB").status_code == 200
    rally.work()
    assert api.requests == []
    assert any("Only <@U0ALICE>" in t for t in rally.shown_to("U0BOB"))

    # Alice imports: bulk requests of at most 100, no single create, a message per chunk.
    assert click(rally, preview, dm, "U0ALICE").status_code == 200
    rally.work()
    assert [r.items for r in api.posts("bulk")] == [100, 100, 45]
    assert api.posts("create") == []
    assert _count(rally) == 245
    updates = [c for c in rally.fake.calls("chat.update") if c.params.get("channel") == dm]
    # "starting" at the click, then after chunks 1 and 2; the summary after the last.
    progress = [json.dumps(c.params) for c in updates if "Importing" in json.dumps(c.params)]
    assert ["chunk 1 of 3" in p for p in progress] == [True, False]
    assert "chunk 2 of 3" in progress[1]
    final = next(m for m in rally.fake.messages(dm) if m["ts"] == preview["ts"])
    assert "245 created" in json.dumps(final) and "5 failed" in json.dumps(final)

    # The failed rows, with their reasons, uploaded back to the DM (files_upload_v2).
    assert len(rally.fake.calls("files.getUploadURLExternal")) == 1
    [done] = rally.fake.calls("files.completeUploadExternal")
    assert done.params["channel_id"] == dm
    shared = [m for m in rally.fake.messages(dm) if m.get("files") and m.get("bot_id")]
    assert len(shared) == 1
    content = rally.fake.file_content(shared[0]["files"][0]["id"])
    assert content is not None
    lines = content.decode("utf-8-sig").splitlines()
    assert lines[0].endswith(",row,error") and len(lines) == 6
    assert [int(line.split(",")[-2]) for line in lines[1:] if line.split(",")[-2].isdigit()]

    # Sharing the same file again and importing: nothing is created twice.
    share(rally, "q4 calls.csv", data)
    again = bot_messages(rally, dm)[-1]
    posts = len(api.posts("bulk"))
    click(rally, again, dm, "U0ALICE")
    rally.work()
    assert len(api.posts("bulk")) == posts and api.posts("create") == []
    assert _count(rally) == 245
    assert "imported before" in json.dumps(
        next(m for m in rally.fake.messages(dm) if m["ts"] == again["ts"])
    )


def test_a_file_over_the_limits_or_with_an_unknown_column_is_refused_naming_why(
    rally: Rally, api: RecordingApi
) -> None:
    message = share(rally, "odd.csv", b"activityType,subject,colour\nnote,Hi,blue\n")
    [answer] = bot_messages(rally, message["channel"])
    assert "'colour'" in json.dumps(answer)
    assert "blocks" not in json.dumps(answer) or ids.IMPORT_CSV_ACTION not in json.dumps(answer)

    big, _ = csv_bytes(10_001, invalid_every=0)
    message = share(rally, "big.csv", big)
    answer = bot_messages(rally, message["channel"])[-1]
    assert "10,000 rows" in json.dumps(answer)
    assert api.requests == []


def test_the_download_needs_the_bot_token() -> None:
    from devstack.fake_slack.server import FakeSlack

    fake = FakeSlack(base_url="http://127.0.0.1:1")
    message = fake.share_file(None, "U0ALICE", "a.csv", b"activityType,subject\nnote,x\n")
    path = message["files"][0]["url_private"].split("/files-pri/", 1)[1]
    assert fake.download(path, None) is None
    assert fake.download(path, "xoxb-wrong") is None
    assert fake.download(path, fake.bot_token) == b"activityType,subject\nnote,x\n"


def test_an_import_that_runs_out_of_retries_says_so_and_continue_goes_on_from_there(
    rally: Rally, api: RecordingApi
) -> None:
    def outage_after_the_first_chunk(seen: Recorded) -> None:
        if seen.path.endswith("/bulk") and seen.status == 200:
            api.outage = True

    api.before_answer = outage_after_the_first_chunk
    data, _ = csv_bytes(250)
    message = share(rally, "flaky.csv", data)
    dm = message["channel"]
    [preview] = bot_messages(rally, dm)
    click(rally, preview, dm, "U0ALICE")
    rally.work()  # the job and its retries (JOB_RETRY_INTERVALS=0,0) all meet the outage
    assert _count(rally) == 100
    stopped = next(m for m in rally.fake.messages(dm) if m["ts"] == preview["ts"])
    assert "stopped" in json.dumps(stopped) and "Rally could not be reached" in json.dumps(stopped)

    api.before_answer, api.outage = None, False
    click(rally, stopped, dm, "U0ALICE")  # Continue import
    rally.work()
    assert _count(rally) == 245
    keys = [r.key for r in api.posts("bulk") if r.status == 200]
    assert len(keys) == 3 == len(set(keys))  # chunk 0 was not sent again
    final = next(m for m in rally.fake.messages(dm) if m["ts"] == preview["ts"])
    assert "245 created" in json.dumps(final)


def test_a_plain_dm_or_a_file_in_a_channel_queues_nothing(rally: Rally, api: RecordingApi) -> None:
    dm_message = rally.fake.post_as_user(
        rally.fake.share_file(None, "U0ALICE", "a.csv", b"x")["channel"], "U0ALICE", "hello"
    )
    plain = {
        "type": "message",
        "channel_type": "im",
        "channel": dm_message["channel"],
        "user": "U0ALICE",
        "text": "hello",
        "ts": dm_message["ts"],
    }
    in_channel = payloads.file_share(
        rally.fake.share_file("C0SALES", "U0ALICE", "b.csv", b"activityType,subject\nnote,x\n"),
        channel_type="channel",
    )
    for event in (plain, in_channel):
        assert rally.post(payloads.event_callback(event)).status_code == 200
    assert sum(rally.queued().values()) == 0
    assert rally.fake.calls("files.info") == []
