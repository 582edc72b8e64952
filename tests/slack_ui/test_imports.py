"""The CSV import's messages: valid Block Kit, the button carrying the import's id only."""

from __future__ import annotations

from slack_ui import ids
from slack_ui import imports as ui


def _buttons(message: ui.SlackMessage) -> list[dict[str, object]]:
    return [
        element
        for block in message.to_dict().get("blocks", [])
        for element in block.get("elements", [])
        if element.get("type") == "button"
    ]


def test_the_preview_lists_invalid_rows_and_offers_import_with_the_id() -> None:
    invalid = [{"row": n, "column": "subject", "reason": "is required"} for n in range(2, 60)]
    message = ui.preview(
        import_id="a" * 32,
        filename="calls *bold*.csv",
        rows=300,
        valid=242,
        counts={"call": 200, "task": 42},
        invalid=invalid,
    )
    message.validate_json()
    text = str(message.to_dict())
    assert "row 2 `subject`: is required" in text and "and 33 more" in text
    assert [(b["action_id"], b["value"]) for b in _buttons(message)] == [
        (ids.IMPORT_CSV_ACTION, "a" * 32)
    ]


def test_a_preview_with_nothing_valid_has_no_button() -> None:
    message = ui.preview(
        import_id="b" * 32,
        filename="x.csv",
        rows=1,
        valid=0,
        counts={},
        invalid=[{"row": 2, "column": "", "reason": "has 3 cells"}],
    )
    message.validate_json()
    assert _buttons(message) == []


def test_progress_summary_stopped_and_refusal_are_valid() -> None:
    for message in (
        ui.progress(filename="x.csv", done=3, total=100, created=300, failed=2),
        ui.progress(filename="x.csv", done=0, total=0, created=0, failed=0),
        ui.summary(filename="x.csv", created=245, failed=5, created_now=0),
        ui.stopped(import_id="c" * 32, filename="x.csv", reason="Rally was down."),
        ui.refused("x.csv", "x" * 5000),
        ui.notice("gone"),
    ):
        message.validate_json()
    assert "imported before" in str(
        ui.summary(filename="x", created=2, failed=0, created_now=0).to_dict()
    )
