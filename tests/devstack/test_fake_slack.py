"""The fake Slack answers slack_sdk's real WebClient as Slack does."""

from __future__ import annotations

import time

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from devstack.fake_slack.server import BOT_USER_ID, TEAM_ID, FakeSlack
from tests.fixtures.slack import BOT_TOKEN

MODAL = {
    "type": "modal",
    "callback_id": "log_call",
    "title": {"type": "plain_text", "text": "Log a call"},
    "submit": {"type": "plain_text", "text": "Log"},
    "blocks": [
        {
            "type": "input",
            "label": {"type": "plain_text", "text": "Subject"},
            "element": {"type": "plain_text_input"},
        }
    ],
}


@pytest.fixture
def client(fake_slack: FakeSlack) -> WebClient:
    return WebClient(token=BOT_TOKEN, base_url=fake_slack.api_url)


def test_auth_test_names_the_bot_and_team(client: WebClient) -> None:
    resp = client.auth_test()
    assert resp["ok"] is True
    assert resp["user_id"] == BOT_USER_ID
    assert resp["team_id"] == TEAM_ID
    assert resp["bot_id"].startswith("B")


def test_wrong_token_is_invalid_auth(fake_slack: FakeSlack) -> None:
    bad = WebClient(token="xoxb-test-wrong", base_url=fake_slack.api_url)
    with pytest.raises(SlackApiError) as err:
        bad.chat_postMessage(channel="C0SALES", text="hi")
    assert err.value.response["error"] == "invalid_auth"
    assert fake_slack.messages("C0SALES") == []


def test_post_message_returns_ts_and_records_the_message(
    client: WebClient, fake_slack: FakeSlack
) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Logged* a call"}}]
    resp = client.chat_postMessage(channel="C0SALES", text="Logged a call", blocks=blocks)
    assert resp["channel"] == "C0SALES"
    assert resp["message"]["text"] == "Logged a call"
    ts = resp["ts"]
    reply = client.chat_postMessage(channel="C0SALES", text="in thread", thread_ts=ts)
    assert reply["message"]["thread_ts"] == ts

    msgs = fake_slack.messages("C0SALES")
    assert [m["text"] for m in msgs] == ["Logged a call", "in thread"]
    assert msgs[0]["reply_count"] == 1
    assert msgs[0]["blocks"][0]["block_id"]  # Slack fills block ids in
    assert [m["text"] for m in fake_slack.thread("C0SALES", ts)] == ["in thread"]
    call = fake_slack.calls("chat.postMessage")[0]
    assert call.params["blocks"][0]["text"]["text"] == "*Logged* a call"
    assert call.token == BOT_TOKEN


def test_form_encoded_calls_are_parsed_like_json_ones(fake_slack: FakeSlack) -> None:
    resp = httpx.post(
        fake_slack.api_url + "chat.postMessage",
        data={"channel": "C0ACME", "text": "hi", "blocks": '[{"type": "divider"}]'},
        headers={"Authorization": f"Bearer {BOT_TOKEN}"},
    )
    assert resp.json()["ok"] is True
    assert fake_slack.calls("chat.postMessage")[0].params["blocks"] == [{"type": "divider"}]


def test_bot_not_in_channel_cannot_post_there(client: WebClient, fake_slack: FakeSlack) -> None:
    fake_slack.remove_bot_from("C0ACME")
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="C0ACME", text="hello")
    assert err.value.response["error"] == "not_in_channel"
    with pytest.raises(SlackApiError) as err:
        client.chat_postEphemeral(channel="C0ACME", user="U0ALICE", text="hello")
    assert err.value.response["error"] == "not_in_channel"
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="C0NOPE", text="hello")
    assert err.value.response["error"] == "channel_not_found"


def test_ephemeral_is_seen_only_by_its_user(client: WebClient, fake_slack: FakeSlack) -> None:
    resp = client.chat_postEphemeral(channel="C0SALES", user="U0BOB", text="just you")
    assert resp["message_ts"]
    assert fake_slack.messages("C0SALES") == []
    assert [m["text"] for m in fake_slack.ephemerals("C0SALES", "U0BOB")] == ["just you"]
    assert fake_slack.ephemerals("C0SALES", "U0ALICE") == []


def test_update_delete_and_permalink(client: WebClient, fake_slack: FakeSlack) -> None:
    ts = client.chat_postMessage(channel="C0SALES", text="reminder")["ts"]
    updated = client.chat_update(channel="C0SALES", ts=ts, text="done")
    assert updated["ts"] == ts and updated["text"] == "done"
    assert fake_slack.messages("C0SALES")[0]["text"] == "done"
    link = client.chat_getPermalink(channel="C0SALES", message_ts=ts)["permalink"]
    assert link.endswith("/archives/C0SALES/p" + ts.replace(".", ""))
    client.chat_delete(channel="C0SALES", ts=ts)
    assert fake_slack.messages("C0SALES") == []
    with pytest.raises(SlackApiError) as err:
        client.chat_update(channel="C0SALES", ts=ts, text="again")
    assert err.value.response["error"] == "message_not_found"


def test_users_info_has_time_zones(client: WebClient) -> None:
    bob = client.users_info(user="U0BOB")["user"]
    assert bob["tz"] == "Asia/Tokyo"
    assert bob["tz_offset"] == 9 * 3600
    assert bob["tz_label"] == "Japan Standard Time"
    alice = client.users_info(user="U0ALICE")["user"]
    assert alice["tz"] == "America/Los_Angeles" and alice["tz_offset"] in (-8 * 3600, -7 * 3600)
    with pytest.raises(SlackApiError) as err:
        client.users_info(user="U0NOBODY")
    assert err.value.response["error"] == "user_not_found"


def test_conversations_open_and_info(client: WebClient, fake_slack: FakeSlack) -> None:
    dm = client.conversations_open(users="U0CAROL")["channel"]["id"]
    assert dm.startswith("D")
    client.chat_postMessage(channel=dm, text="a DM")
    assert fake_slack.messages(dm)[0]["text"] == "a DM"
    info = client.conversations_info(channel="C0ACME")["channel"]
    assert info["name"] == "deal-acme" and info["is_member"] is True
    fake_slack.remove_bot_from("C0ACME")
    assert client.conversations_info(channel="C0ACME")["channel"]["is_member"] is False


def test_views_open_push_update_and_publish(client: WebClient, fake_slack: FakeSlack) -> None:
    trigger = fake_slack.new_trigger_id("U0ALICE")
    view = client.views_open(trigger_id=trigger, view=MODAL)["view"]
    assert view["id"].startswith("V") and view["callback_id"] == "log_call"
    input_block = view["blocks"][0]
    assert input_block["block_id"] and input_block["element"]["action_id"]
    assert fake_slack.view_stack("U0ALICE")[0]["id"] == view["id"]
    with pytest.raises(SlackApiError) as err:
        client.views_open(trigger_id=trigger, view=MODAL)
    assert err.value.response["error"] == "exchanged_trigger_id"

    pushed = client.views_push(trigger_id=fake_slack.new_trigger_id("U0ALICE"), view=MODAL)["view"]
    assert pushed["previous_view_id"] == view["id"]
    assert len(fake_slack.view_stack("U0ALICE")) == 2

    new = dict(MODAL, title={"type": "plain_text", "text": "Call logged"})
    updated = client.views_update(view_id=view["id"], hash=view["hash"], view=new)["view"]
    assert updated["id"] == view["id"] and updated["title"]["text"] == "Call logged"
    with pytest.raises(SlackApiError) as err:
        client.views_update(view_id=view["id"], hash=view["hash"], view=new)
    assert err.value.response["error"] == "hash_conflict"

    home = {
        "type": "home",
        "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "Rally"}}],
    }
    client.views_publish(user_id="U0BOB", view=home)
    assert fake_slack.home("U0BOB")["blocks"][0]["text"]["text"] == "Rally"
    assert [v["id"] for v in fake_slack.views_opened()] == [view["id"], pushed["id"]]


def test_invalid_view_is_rejected_as_slack_does(client: WebClient) -> None:
    too_long = dict(MODAL, title={"type": "plain_text", "text": "A title much too long for Slack"})
    with pytest.raises(SlackApiError) as err:
        client.views_open(trigger_id="1.2.abc", view=too_long)
    assert err.value.response["error"] == "invalid_arguments"
    assert (
        "[json-pointer:/view/title/text]" in err.value.response["response_metadata"]["messages"][0]
    )
    no_submit = {k: v for k, v in MODAL.items() if k != "submit"}
    with pytest.raises(SlackApiError):
        client.views_open(trigger_id="1.2.abc", view=no_submit)


def test_invalid_blocks_in_a_message(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(
            channel="C0SALES",
            text="x",
            blocks=[
                {
                    "type": "actions",
                    "elements": [
                        {"type": "button", "text": {"type": "plain_text", "text": "x" * 80}}
                    ],
                }
            ],
        )
    assert err.value.response["error"] == "invalid_blocks"


def test_scripted_failure_then_normal_answers(client: WebClient, fake_slack: FakeSlack) -> None:
    fake_slack.fail_next("chat.postMessage", "internal_error")
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="C0SALES", text="x")
    assert err.value.response["error"] == "internal_error"
    assert client.chat_postMessage(channel="C0SALES", text="x")["ok"]


def test_rate_limit_is_a_429_with_retry_after(fake_slack: FakeSlack) -> None:
    fake_slack.fail_next("chat.postMessage", "ratelimited", status=429, retry_after=0)
    plain = WebClient(token=BOT_TOKEN, base_url=fake_slack.api_url)
    with pytest.raises(SlackApiError) as err:
        plain.chat_postMessage(channel="C0SALES", text="x")
    assert err.value.response.status_code == 429
    assert err.value.response["error"] == "ratelimited"
    assert err.value.response.headers["Retry-After"] == "0"


def test_rate_limit_retry_handler_retries_after_the_429(fake_slack: FakeSlack) -> None:
    fake_slack.fail_next("chat.postMessage", "ratelimited", status=429, retry_after=0)
    client = WebClient(
        token=BOT_TOKEN,
        base_url=fake_slack.api_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    resp = client.chat_postMessage(channel="C0SALES", text="eventually")
    assert resp["ok"]
    assert [c.status for c in fake_slack.calls("chat.postMessage")] == [429, 200]
    assert [m["text"] for m in fake_slack.messages("C0SALES")] == ["eventually"]


def test_response_urls_apply_like_slack(fake_slack: FakeSlack, client: WebClient) -> None:
    url = fake_slack.new_response_url(channel="C0SALES", user="U0ALICE")
    assert url.startswith(fake_slack.base_url + "/response/")
    r = httpx.post(url, json={"text": "only you", "response_type": "ephemeral"})
    assert r.status_code == 200
    assert [m["text"] for m in fake_slack.ephemerals("C0SALES", "U0ALICE")] == ["only you"]
    httpx.post(url, json={"text": "everyone", "response_type": "in_channel"})
    assert [m["text"] for m in fake_slack.messages("C0SALES")] == ["everyone"]

    ts = client.chat_postMessage(channel="C0SALES", text="Reminder: call Acme")["ts"]
    button_url = fake_slack.new_response_url(channel="C0SALES", user="U0BOB", message_ts=ts)
    httpx.post(button_url, json={"replace_original": True, "text": "Completed by Bob"})
    assert fake_slack.messages("C0SALES")[-1]["text"] == "Completed by Bob"
    posts = fake_slack.response_posts(button_url)
    assert [p.body["text"] for p in posts] == ["Completed by Bob"]
    assert httpx.post(fake_slack.base_url + "/response/nope", json={"text": "x"}).status_code == 404


def test_wait_for_sees_a_call_made_from_another_thread(fake_slack: FakeSlack) -> None:
    import threading

    client = WebClient(token=BOT_TOKEN, base_url=fake_slack.api_url)
    thread = threading.Thread(
        target=lambda: client.chat_postMessage(channel="C0SALES", text="late")
    )
    started = time.monotonic()
    thread.start()
    call = fake_slack.wait_for(
        "chat.postMessage", lambda c: c.params.get("text") == "late", timeout=5
    )
    thread.join()
    assert call.ok and time.monotonic() - started < 5
    with pytest.raises(TimeoutError):
        fake_slack.wait_for("views.open", timeout=0.2)


# -- many workspaces and OAuth --------------------------------------------------------------

OAUTH_ID = "111.222"
OAUTH_SECRET = "test-oauth-secret-not-real"
OAUTH_REDIRECT = "https://app.rally.test/slack/oauth_redirect"


def _code(fake: FakeSlack, team: str, **extra: str) -> str:
    """Allow the consent page for ``team``; the code the browser is sent back with."""
    query = {"client_id": OAUTH_ID, "scope": "commands,chat:write", "state": "s1", **extra}
    page = httpx.get(f"{fake.base_url}/oauth/v2/authorize", params={**query, "team": team})
    assert page.status_code == 200 and "Install Rally into" in page.text
    allowed = httpx.post(
        f"{fake.base_url}/oauth/v2/authorize", data={**query, "team": team, "decision": "allow"}
    )
    assert allowed.status_code == 302
    location = httpx.URL(allowed.headers["location"])
    assert str(location).startswith(OAUTH_REDIRECT) and location.params["state"] == "s1"
    return location.params["code"]


def test_oauth_installs_into_the_chosen_workspace_and_each_token_reaches_only_its_own(
    fake_slack: FakeSlack,
) -> None:
    fake_slack.register_app(OAUTH_ID, OAUTH_SECRET, redirect_uri=OAUTH_REDIRECT)
    other = fake_slack.add_team("T0OTHER", "Other Co")
    oauth = WebClient(base_url=fake_slack.api_url)
    answer = oauth.oauth_v2_access(
        client_id=OAUTH_ID, client_secret=OAUTH_SECRET, code=_code(fake_slack, "T0OTHER")
    )
    assert answer["team"] == {"id": "T0OTHER", "name": "Other Co"}
    assert answer["access_token"].startswith("xoxb-") and answer["token_type"] == "bot"
    assert answer["bot_user_id"] == BOT_USER_ID and answer["authed_user"]["id"] == "U0ALICE"
    assert answer["scope"] == "commands,chat:write" and "refresh_token" not in answer
    token = answer["access_token"]
    # The code is good once.
    with pytest.raises(SlackApiError) as err:
        oauth.oauth_v2_access(client_id=OAUTH_ID, client_secret=OAUTH_SECRET, code="1.x")
    assert err.value.response["error"] == "invalid_code"

    theirs = WebClient(token=token, base_url=fake_slack.api_url)
    assert theirs.auth_test()["team_id"] == "T0OTHER"
    theirs.chat_postMessage(channel="C0SALES", text="hello other")
    assert [m["text"] for m in other.messages("C0SALES")] == ["hello other"]
    assert fake_slack.messages("C0SALES") == []
    assert [(c.method, c.team, c.token) for c in fake_slack.all_calls("chat.postMessage")] == [
        ("chat.postMessage", "T0OTHER", token)
    ]
    # The single-workspace token still answers for the dev workspace only.
    ours = WebClient(token=BOT_TOKEN, base_url=fake_slack.api_url)
    assert ours.auth_test()["team_id"] == TEAM_ID
    # Uninstalled: every token of that workspace is revoked.
    fake_slack.uninstall("T0OTHER")
    with pytest.raises(SlackApiError) as err:
        theirs.auth_test()
    assert err.value.response["error"] == "token_revoked"


def test_oauth_refuses_a_wrong_secret_a_foreign_redirect_and_an_unknown_client(
    fake_slack: FakeSlack,
) -> None:
    fake_slack.register_app(OAUTH_ID, OAUTH_SECRET, redirect_uri=OAUTH_REDIRECT)
    code = _code(fake_slack, TEAM_ID)
    wrong = httpx.post(
        fake_slack.api_url + "oauth.v2.access", data={"code": code}, auth=(OAUTH_ID, "nope")
    )
    assert wrong.json() == {"ok": False, "error": "bad_client_secret"}
    foreign = httpx.get(
        f"{fake_slack.base_url}/oauth/v2/authorize",
        params={"client_id": OAUTH_ID, "scope": "commands", "redirect_uri": "https://evil.test/"},
    )
    assert foreign.status_code == 400 and "bad_redirect_uri" in foreign.text
    unknown = httpx.get(
        f"{fake_slack.base_url}/oauth/v2/authorize",
        params={"client_id": "999.999", "scope": "commands"},
    )
    assert unknown.status_code == 400 and "invalid_client_id" in unknown.text
    # Basic auth with the right secret works, and the code was not spent by the failure.
    right = httpx.post(
        fake_slack.api_url + "oauth.v2.access", data={"code": code}, auth=(OAUTH_ID, OAUTH_SECRET)
    )
    assert right.json()["ok"] is True


def test_rotating_tokens_expire_and_a_refresh_token_is_good_once(fake_slack: FakeSlack) -> None:
    fake_slack.register_app(
        OAUTH_ID, OAUTH_SECRET, redirect_uri=OAUTH_REDIRECT, token_rotation=True
    )
    oauth = WebClient(base_url=fake_slack.api_url)
    first = oauth.oauth_v2_access(
        client_id=OAUTH_ID, client_secret=OAUTH_SECRET, code=_code(fake_slack, TEAM_ID)
    )
    assert first["access_token"].startswith("xoxe.xoxb-1-") and first["expires_in"] == 43200
    assert first["refresh_token"].startswith("xoxe-1-")
    fake_slack.expire_token(first["access_token"])
    with pytest.raises(SlackApiError) as err:
        WebClient(token=first["access_token"], base_url=fake_slack.api_url).auth_test()
    assert err.value.response["error"] == "token_expired"

    second = oauth.oauth_v2_access(
        client_id=OAUTH_ID,
        client_secret=OAUTH_SECRET,
        grant_type="refresh_token",
        refresh_token=first["refresh_token"],
    )
    assert second["access_token"] != first["access_token"]
    assert second["team"]["id"] == TEAM_ID
    fresh = WebClient(token=second["access_token"], base_url=fake_slack.api_url)
    assert fresh.auth_test()["team_id"] == TEAM_ID
    with pytest.raises(SlackApiError) as err:
        oauth.oauth_v2_access(
            client_id=OAUTH_ID,
            client_secret=OAUTH_SECRET,
            grant_type="refresh_token",
            refresh_token=first["refresh_token"],
        )
    assert err.value.response["error"] == "invalid_refresh_token"


def test_a_step_token_ends_only_its_own_step_and_only_while_it_lives(fake_slack: FakeSlack) -> None:
    token = fake_slack.issue_step_token("Fx0MINE")
    other = WebClient(token=token, base_url=fake_slack.api_url)
    with pytest.raises(SlackApiError) as refused:
        other.functions_completeSuccess(function_execution_id="Fx0OTHER", outputs={})
    assert refused.value.response["error"] == "invalid_auth"
    assert fake_slack.ended_step("Fx0OTHER") is None
    other.functions_completeSuccess(function_execution_id="Fx0MINE", outputs={"a": "1"})
    assert fake_slack.ended_step("Fx0MINE") == {"outputs": {"a": "1"}}

    stale = fake_slack.issue_step_token("Fx0LATE", ttl_s=-1)
    with pytest.raises(SlackApiError) as expired:
        WebClient(token=stale, base_url=fake_slack.api_url).functions_completeError(
            function_execution_id="Fx0LATE", error="x"
        )
    assert expired.value.response["error"] == "token_expired"
    # A step token is good for functions.* only.
    with pytest.raises(SlackApiError) as bot_only:
        WebClient(token=token, base_url=fake_slack.api_url).auth_test()
    assert bot_only.value.response["error"] == "invalid_auth"
