"""/rally subcommands through the signed HTTP endpoint, with real Redis and the fake Slack."""

from __future__ import annotations

import json

import pytest

from slack_ui import ids
from tests.e2e.harness import APP_URL, CONTACT_ID, DEAL_ID, OWNER_ID, TEAM_ID, Rally
from workers.state import State


def ack_text(response) -> str:  # type: ignore[no-untyped-def]
    """The ack's body: JSON (blocks) or plain text (Slack shows either ephemerally)."""
    assert response.status_code == 200, response.data
    return str(response.get_data(as_text=True))


@pytest.mark.parametrize("text", ["", "help", "HELP", "frobnicate the deal"])
def test_empty_help_and_unknown_subcommands_get_the_help_with_a_button_per_modal(
    rally: Rally, text: str
) -> None:
    body = rally.command(text).get_json()
    assert body.get("response_type", "ephemeral") == "ephemeral"
    shown = json.dumps(body)
    for sub in ("call", "task", "note", "meeting", "tasks", "link", "unlink", "me"):
        assert f"/rally {sub}" in shown
    buttons = [
        e["action_id"] for b in body["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert buttons == [ids.open_modal_action(k) for k in ids.ACTIVITY_TYPES]
    if text.startswith("frob"):
        assert "frobnicate" in shown


def test_unknown_subcommand_is_echoed_escaped(rally: Rally) -> None:
    shown = ack_text(rally.command("<!channel>"))
    assert "<!channel>" not in shown
    assert "&lt;!channel&gt;" in shown


@pytest.mark.parametrize("kind", ids.ACTIVITY_TYPES)
def test_type_alone_opens_that_types_modal(rally: Rally, kind: str) -> None:
    view = rally.open_modal(kind)
    assert view["callback_id"] == ids.LOG_VIEWS[kind]
    blocks = [b["block_id"] for b in view["blocks"] if b["type"] == "input"]
    assert tuple(blocks) == ids.MODAL_FIELDS[kind]
    meta = json.loads(view["private_metadata"])
    assert meta["channel"] == "C0SALES"
    assert meta["response_url"].startswith(rally.fake.base_url)


def test_link_show_unlink_round_trip_and_modal_prefill(rally: Rally) -> None:
    assert "isn't linked" in ack_text(rally.command("link"))
    shown = ack_text(rally.command(f"link deal {APP_URL}/deals/{DEAL_ID}"))
    assert DEAL_ID in shown and f"{APP_URL}/deals/{DEAL_ID}" in shown
    assert rally.store.channels_linked_to("deal", DEAL_ID) == [(TEAM_ID, "C0SALES")]
    assert DEAL_ID in ack_text(rally.command("link"))

    view = rally.open_modal("task")
    deal_block = next(b for b in view["blocks"] if b.get("block_id") == ids.DEAL)
    assert deal_block["element"]["initial_option"]["value"] == DEAL_ID

    shown = ack_text(rally.command(f"link contact {CONTACT_ID}"))
    assert CONTACT_ID in shown and "It was linked to" in shown
    assert rally.store.channels_linked_to("deal", DEAL_ID) == []

    assert "unlinked this channel" in ack_text(rally.command("unlink"))
    assert "wasn't linked" in ack_text(rally.command("unlink"))
    assert rally.store.link(TEAM_ID, "C0SALES") is None


def test_link_with_a_bad_target_says_why_and_binds_nothing(rally: Rally) -> None:
    shown = ack_text(rally.command("link deal not-an-id"))
    assert "Usage" in shown
    assert rally.store.link(TEAM_ID, "C0SALES") is None


def test_me_maps_the_user_and_their_activities_carry_the_owner_id(rally: Rally) -> None:
    assert "aren't mapped" in ack_text(rally.command("me"))
    rally.store.set_owner_self_service(TEAM_ID, True)
    assert OWNER_ID in ack_text(rally.command(f"me {OWNER_ID.upper()}"))
    assert OWNER_ID in ack_text(rally.command("me"))
    assert "isn't a Rally owner id" in ack_text(rally.command("me bob"))

    ack_text(rally.command("note Budget approved"))
    rally.work()
    [note] = rally.activities()
    assert note["ownerId"] == OWNER_ID


def test_tasks_with_none_says_how_to_log_one(rally: Rally) -> None:
    shown = ack_text(rally.command("tasks"))
    assert "You have no open tasks with a due date" in shown
    assert "/rally task" in shown


def test_quick_create_task_reads_the_due_date_in_the_users_slack_time_zone(rally: Rally) -> None:
    rally.command(f"link deal {DEAL_ID}")
    shown = ack_text(rally.command('task Send proposal to Acme due:"2031-07-15 17:00" !high'))
    assert "Logging task" in shown and "Send proposal to Acme" in shown
    assert rally.queued()["rally-activities"] == 1
    rally.work()
    [task] = rally.activities()
    # Alice is in America/Los_Angeles (PDT in July, UTC-7).
    assert task["dueDate"] == "2031-07-16T00:00:00Z"
    assert task["priority"] == "high"
    assert task["dealId"] == DEAL_ID
    assert task["status"] == "pending"
    assert State(rally.redis).get_user_tz(TEAM_ID, "U0ALICE") == "America/Los_Angeles"
    told = rally.shown_to()
    assert any("<!date^" in t and "priority high" in t for t in told), told


def test_quick_create_time_zone_comes_from_cache_after_the_first_lookup(rally: Rally) -> None:
    rally.command('task A due:"tomorrow 5pm"')
    rally.command('task B due:"tomorrow 5pm"')
    assert len(rally.fake.calls("users.info")) == 1


def test_quick_create_falls_back_to_utc_and_says_so_when_slack_cannot_say(rally: Rally) -> None:
    rally.fake.fail_next("users.info", "internal_error", status=500)
    shown = ack_text(rally.command('task Call back due:"2031-01-10 09:00"'))
    assert "UTC" in shown
    rally.work()
    [task] = rally.activities()
    assert task["dueDate"] == "2031-01-10T09:00:00Z"


def test_quick_create_call_meeting_and_done_note(rally: Rally) -> None:
    ack_text(rally.command("call Intro with Dana dir:in for:1h30m outcome:no-answer"))
    ack_text(rally.command('meeting QBR at:"2031-03-04 14:00" for:45m'))
    ack_text(rally.command("note Pricing feedback from Acme done"))
    rally.work()
    by_type = {a["activityType"]: a for a in rally.activities()}
    assert by_type["call"]["callDirection"] == "inbound"
    assert by_type["call"]["callDurationSeconds"] == 5400
    assert by_type["call"]["callOutcome"] == "no_answer"
    assert by_type["meeting"]["scheduledAt"] == "2031-03-04T22:00:00Z"  # 14:00 PST
    assert by_type["meeting"]["durationMinutes"] == 45
    assert by_type["note"]["status"] == "completed"
    assert by_type["note"]["subject"] == "Pricing feedback from Acme"


def test_quick_create_with_bad_tokens_says_why_and_queues_nothing(rally: Rally) -> None:
    shown = ack_text(rally.command("note Hello !high for:banana"))
    assert "!high" in shown
    assert rally.queued()["rally-activities"] == 0


def test_quick_create_subject_cannot_ping_channel_in_the_confirmation(rally: Rally) -> None:
    ack_text(rally.command("note <!channel> see <https://evil.example|this>"))
    rally.work()
    told = " ".join(rally.shown_to())
    assert "<!channel>" not in told
    assert "<https://evil.example" not in told


def test_an_expired_trigger_is_explained_instead_of_silence(rally: Rally) -> None:
    url = rally.fake.new_response_url(channel="C0SALES", user="U0ALICE")
    rally.fake.fail_next("views.open", "expired_trigger_id")
    assert rally.command("meeting", response_url=url).status_code == 200
    post = rally.fake.wait_until(lambda: rally.fake.response_posts(url))
    assert "expired_trigger_id" in post[0].body["text"] and "/rally meeting" in post[0].body["text"]


def test_me_for_someone_else_s_owner_id_is_refused_to_a_non_admin(rally: Rally) -> None:
    shown = ack_text(rally.command(f"me {OWNER_ID}"))
    assert "Only a workspace admin" in shown
    assert rally.store.owner(TEAM_ID, "U0ALICE") is None
    rally.command("note Logged as the workspace")
    rally.work()
    [note] = rally.activities()
    assert note["ownerId"] != OWNER_ID
