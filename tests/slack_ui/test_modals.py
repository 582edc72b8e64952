"""The modals, built from data: each type's fields with what was entered, the chooser,
the connect forms. Each is validated as Slack would (see ``checks.slack_json``)."""

from __future__ import annotations

from typing import Any

import pytest

from slack_ui import ids
from slack_ui.modals import (
    INPUT_MAX,
    SELECTS,
    TITLES,
    build_connect_personal,
    build_connect_rally,
    build_log_modal,
    build_type_chooser,
    default_values,
    read_metadata,
)
from tests.slack_ui.checks import action_ids, block_ids, slack_json

DUE = 1_767_225_600  # 2026-01-01 00:00 UTC

ENTERED: dict[str, Any] = {
    ids.SUBJECT: "Call <Acme> & co",
    ids.BODY: "Long\nnotes",
    ids.DEAL: "5a1c0de0-ac3e-4d3a-9e55-000000000001",
    ids.COMPANY: "5a1c0de0-ac3e-4d3a-9e55-000000000002",
    ids.CONTACT: "5a1c0de0-ac3e-4d3a-9e55-000000000003",
    ids.STATUS: "completed",
    ids.DUE: DUE,
    ids.PRIORITY: "high",
    ids.DIRECTION: "inbound",
    ids.OUTCOME: "voicemail",
    ids.DURATION: "30",
    ids.START: str(DUE),
    ids.LOCATION: "HQ",
    ids.MEETING_URL: "https://meet.example.com/x",
}
METADATA = {"channel": "C0SALES", "response_url": "https://hooks.slack.com/x", "retry_of": "s1"}


def _inputs(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {block["block_id"]: block for block in view["blocks"] if block["type"] == "input"}


def _shown(element: dict[str, Any]) -> Any:
    """What an input element shows before anyone touches it."""
    if element["type"] in ("static_select", "external_select"):
        return element.get("initial_option", {}).get("value")
    if element["type"] == "datetimepicker":
        return element.get("initial_date_time")
    return element.get("initial_value")


@pytest.mark.parametrize("kind", ids.ACTIVITY_TYPES)
def test_each_types_modal_shows_its_fields_in_order_with_what_was_entered(kind: str) -> None:
    view = slack_json(build_log_modal(kind, values=ENTERED, metadata=METADATA))

    assert (view["type"], view["callback_id"]) == ("modal", ids.LOG_VIEWS[kind])
    assert view["title"]["text"] == TITLES[kind]
    assert (view["submit"]["text"], view["close"]["text"]) == ("Log it", "Cancel")
    assert block_ids(view) == list(ids.MODAL_FIELDS[kind])
    assert action_ids(view) == [ids.input_action(f) for f in ids.MODAL_FIELDS[kind]]
    for field, block in _inputs(view).items():
        expected = ENTERED[field]
        assert _shown(block["element"]) == (
            int(expected) if field in (ids.DUE, ids.START) else expected
        )
        assert block["optional"] is (field != ids.SUBJECT)
        assert block["label"]["type"] == "plain_text"
    assert read_metadata(view) == METADATA


@pytest.mark.parametrize("kind", ids.ACTIVITY_TYPES)
def test_a_fresh_modal_starts_empty_but_for_the_types_defaults(kind: str) -> None:
    view = slack_json(build_log_modal(kind, values=default_values(kind)))

    shown = {field: _shown(block["element"]) for field, block in _inputs(view).items()}
    assert {field: value for field, value in shown.items() if value is not None} == default_values(
        kind
    )
    assert view["private_metadata"] == "{}"


def test_a_fresh_call_is_logged_as_done_and_outbound() -> None:
    assert default_values("call") == {ids.STATUS: "completed", ids.DIRECTION: "outbound"}
    assert default_values("note") == {}


def test_text_inputs_carry_their_limits_and_hints() -> None:
    inputs = _inputs(slack_json(build_log_modal("meeting")))

    for field, block in inputs.items():
        element = block["element"]
        if element["type"] == "plain_text_input":
            assert element["max_length"] == INPUT_MAX[field]
    assert inputs[ids.BODY]["element"]["multiline"] is True
    assert (
        inputs[ids.SUBJECT]["element"]["placeholder"]["text"]
        == "What happened, or what needs doing"
    )
    assert "hint" in inputs[ids.DEAL] and "hint" not in inputs[ids.SUBJECT]


def test_selects_offer_their_options_and_no_initial_choice_when_empty() -> None:
    inputs = _inputs(slack_json(build_log_modal("call")))

    for field, choices in SELECTS.items():
        if field not in inputs:
            continue
        element = inputs[field]["element"]
        assert [o["value"] for o in element["options"]] == [v for v, _ in choices]
        assert "initial_option" not in element


def test_an_outcome_typed_in_a_quick_create_stays_selectable_when_the_modal_reopens() -> None:
    view = slack_json(build_log_modal("call", values={ids.OUTCOME: "left_message"}))

    element = _inputs(view)[ids.OUTCOME]["element"]
    assert element["options"][-1] == element["initial_option"]
    assert element["initial_option"]["value"] == "left_message"
    assert element["initial_option"]["text"]["text"] == "left message"


def test_a_quick_create_outcome_longer_than_slacks_option_label_still_reopens() -> None:
    typed = "spoke_to_the_assistant_" * 4  # 92 characters: /rally takes up to 100
    view = slack_json(build_log_modal("call", values={ids.OUTCOME: typed}))

    initial = _inputs(view)[ids.OUTCOME]["element"]["initial_option"]
    assert initial["value"] == typed
    assert len(initial["text"]["text"]) == 75 and initial["text"]["text"].endswith("…")


def test_a_notice_goes_above_the_fields() -> None:
    view = slack_json(build_log_modal("task", notice=":warning: Last time Rally said: *no*"))

    first = view["blocks"][0]
    assert first == {
        "type": "section",
        "text": {"type": "mrkdwn", "text": ":warning: Last time Rally said: *no*"},
    }
    assert view["blocks"][1]["block_id"] == ids.SUBJECT


def test_the_type_chooser_offers_one_button_per_type_and_keeps_its_metadata() -> None:
    view = slack_json(build_type_chooser(metadata={"channel": "C0SALES"}))

    assert view["callback_id"] == ids.CHOOSE_TYPE_VIEW and "submit" not in view
    assert block_ids(view) == [ids.CHOOSE_TYPE_BLOCK]
    assert action_ids(view) == [ids.choose_type_action(k) for k in ids.ACTIVITY_TYPES]
    [row] = [b for b in view["blocks"] if b["type"] == "actions"]
    assert [b["value"] for b in row["elements"]] == list(ids.ACTIVITY_TYPES)
    assert read_metadata(view) == {"channel": "C0SALES"}


@pytest.mark.parametrize("base_url", [None, "https://acme.rallycrm.io"])
def test_connect_rally_asks_for_the_address_and_key_prefilled_with_the_current_address(
    base_url: str | None,
) -> None:
    view = slack_json(build_connect_rally(base_url=base_url, metadata={"channel": "C1"}))

    assert view["callback_id"] == ids.CONNECT_RALLY_VIEW
    assert block_ids(view) == [ids.RALLY_URL, ids.API_KEY]
    assert action_ids(view) == [ids.input_action(ids.RALLY_URL), ids.input_action(ids.API_KEY)]
    url = _inputs(view)[ids.RALLY_URL]["element"]
    assert url.get("initial_value") == base_url
    key = _inputs(view)[ids.API_KEY]["element"]
    assert "initial_value" not in key and key["max_length"] == 200
    assert read_metadata(view) == {"channel": "C1"}


def test_connect_personal_asks_only_for_the_key_and_never_shows_one() -> None:
    view = slack_json(build_connect_personal(metadata={"channel": "C0SALES"}))

    assert view["callback_id"] == ids.CONNECT_PERSONAL_VIEW
    assert (view["title"]["text"], view["submit"]["text"]) == ("Your Rally key", "Save")
    assert block_ids(view) == [ids.API_KEY]
    assert "initial_value" not in _inputs(view)[ids.API_KEY]["element"]
    assert read_metadata(view) == {"channel": "C0SALES"}
