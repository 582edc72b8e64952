"""manifest.yml: valid per Slack's schema, and in step with the listeners both ways."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from bot.app import create_app
from bot.listeners import all_listeners
from core.settings import Settings
from devstack.fake_slack.payloads import (
    app_home_opened,
    event_callback,
    global_shortcut,
    message_shortcut,
)
from slack_ui import ids
from tests.e2e.harness import Rally

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = yaml.safe_load((ROOT / "manifest.yml").read_text())
SCHEMA = json.loads((ROOT / "tests/data/slack-manifest.schema.1.0.0.json").read_text())


def declared(kind: str) -> set[str]:
    features = MANIFEST["features"]
    if kind == "command":
        return {c["command"] for c in features.get("slash_commands", [])}
    if kind in ("global", "message"):
        return {s["callback_id"] for s in features.get("shortcuts", []) if s["type"] == kind}
    if kind == "event":
        return set(MANIFEST["settings"]["event_subscriptions"]["bot_events"])
    raise AssertionError(kind)


def registered(kind: str) -> set[Any]:
    return {listener.constraint for listener in all_listeners() if listener.kind == kind}


def test_the_app_registers_every_declared_listener(tmp_path: Path) -> None:
    app = create_app(
        Settings(
            _env_file=None,
            slack_signing_secret="s",
            slack_bot_token="xoxb-test-not-a-real-token",
            database_url=f"sqlite:///{tmp_path / 'store.db'}",  # never the checkout's .data/
        )  # type: ignore[call-arg]
    )
    assert len(app._listeners) == len(all_listeners())


def as_the_schema_reads_it(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest with its function parameters in the bundled schema's flat form.

    Slack's documentation writes ``{"properties": {name: {...}}, "required": [names]}``;
    manifest-schema 1.0.0 knows only ``{name: {..., "is_required": bool}}``.
    """
    flat = json.loads(json.dumps(manifest))
    for function in flat.get("functions", {}).values():
        for side in ("input_parameters", "output_parameters"):
            documented = function[side]
            required = set(documented.get("required", []))
            function[side] = {
                name: {**spec, "is_required": name in required}
                for name, spec in documented["properties"].items()
            }
    return flat


def test_manifest_is_valid_against_slacks_published_schema() -> None:
    jsonschema.validate(as_the_schema_reads_it(MANIFEST), SCHEMA)


def test_the_documented_parameter_form_is_what_the_schema_alone_would_refuse() -> None:
    # So the conversion above is what makes the check pass, not a laxer schema.
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(MANIFEST, SCHEMA)


def test_declared_functions_match_registered_steps_both_ways() -> None:
    assert set(MANIFEST["functions"]) == registered("function") == set(ids.FUNCTIONS)
    assert MANIFEST["settings"]["function_runtime"] == "remote"
    assert MANIFEST["settings"]["org_deploy_enabled"] is True


def test_manifest_points_every_url_at_the_events_endpoint() -> None:
    urls = [c["url"] for c in MANIFEST["features"]["slash_commands"]]
    urls += [MANIFEST["settings"]["interactivity"]["request_url"]]
    urls += [MANIFEST["settings"]["interactivity"]["message_menu_options_url"]]
    urls += [MANIFEST["settings"]["event_subscriptions"]["request_url"]]
    assert set(urls) == {"https://example.com/slack/events"}
    assert MANIFEST["features"]["app_home"]["home_tab_enabled"] is True
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True


def test_declared_commands_match_registered_listeners_both_ways() -> None:
    assert declared("command") == registered("command") == set(ids.COMMANDS)


def test_declared_shortcuts_match_registered_listeners_both_ways() -> None:
    shortcuts = declared("global") | declared("message")
    assert shortcuts == registered("shortcut")
    assert declared("global") == set(ids.GLOBAL_SHORTCUTS)
    assert declared("message") == set(ids.MESSAGE_SHORTCUTS)


def test_declared_events_match_registered_listeners_both_ways() -> None:
    # function_executed reaches the step listeners (app.function), not an event listener.
    steps = {ids.FUNCTION_EXECUTED} if registered("function") else set()
    # message.im is the subscription to one kind of message event (DMs with the app).
    subscribed = {event.removesuffix(".im") for event in declared("event")}
    assert subscribed == registered("event") | steps
    assert declared("event") == set(ids.BOT_EVENTS)


def test_every_view_callback_the_app_builds_has_a_submission_listener() -> None:
    # The chooser has no submit button, so it needs none.
    submittable = {
        *ids.LOG_VIEWS.values(),
        ids.LOG_THREAD_VIEW,
        ids.EDIT_VIEW,
        ids.CONNECT_RALLY_VIEW,
        ids.CONNECT_PERSONAL_VIEW,
    }
    assert registered("view") == submittable


def test_the_manifest_asks_for_the_scopes_oauth_installs_with() -> None:
    assert tuple(MANIFEST["oauth_config"]["scopes"]["bot"]) == ids.BOT_SCOPES


def test_the_manifest_names_the_oauth_redirect_url() -> None:
    assert MANIFEST["oauth_config"]["redirect_urls"] == ["https://example.com/slack/oauth_redirect"]


@pytest.mark.parametrize("command", sorted(declared("command")))
def test_each_declared_command_is_answered_not_404(rally: Rally, command: str) -> None:
    response = rally.command("help", command=command)
    assert response.status_code == 200
    assert "Rally for Slack" in response.get_json()["text"]


def test_an_undeclared_shortcut_gets_404_so_the_checks_above_can_fail(rally: Rally) -> None:
    payload = global_shortcut("not_declared", trigger_id=rally.fake.new_trigger_id("U0ALICE"))
    assert rally.interact(payload).status_code == 404


@pytest.mark.parametrize(
    ("kind", "callback_id"),
    [("global", cid) for cid in sorted(declared("global"))]
    + [("message", cid) for cid in sorted(declared("message"))],
)
def test_each_declared_shortcut_is_answered_not_404(
    rally: Rally, kind: str, callback_id: str
) -> None:
    trigger = rally.fake.new_trigger_id("U0ALICE")
    if kind == "global":
        payload = global_shortcut(callback_id, trigger_id=trigger)
    else:
        message = rally.fake.post_as_user("C0SALES", "U0BOB", "hello")
        payload = message_shortcut(callback_id, message, "C0SALES", trigger_id=trigger)
    assert rally.interact(payload).status_code == 200


@pytest.mark.parametrize("event", sorted(declared("event")))
def test_each_declared_event_is_answered_not_404(rally: Rally, event: str) -> None:
    payload = app_home_opened("U0ALICE") if event == ids.APP_HOME_OPENED else {"type": event}
    if event == ids.FUNCTION_EXECUTED:
        payload |= {
            "function": {"callback_id": ids.COMPLETE_TASK_STEP},
            "function_execution_id": "Fx0MANIFEST",
            "inputs": {"activity_id": "x"},
        }
    if event == ids.MESSAGE_IM_EVENT:
        payload = {"type": "message", "channel_type": "im", "channel": "D0ALICE", "user": "U0ALICE"}
    if event == ids.TOKENS_REVOKED:
        payload["tokens"] = {"oauth": ["U0ALICE"]}  # a person's only: nothing is forgotten
    team = "T0RALLY001" if event != ids.APP_UNINSTALLED else "T0LEAVING"
    assert rally.post(event_callback(payload, team=team)).status_code == 200
