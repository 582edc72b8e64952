"""The messages of a CSV import in a DM with the app: preview (with **Import**), progress
while the chunks go, and the summary. One message, updated in place from preview to end."""

from __future__ import annotations

from typing import Any, Final

from slack_sdk.models.blocks import ActionsBlock, Block

from slack_ui.ids import IMPORT_ACTIONS_BLOCK, IMPORT_CSV_ACTION
from slack_ui.kit import SlackMessage, button, context, section
from slack_ui.messages import escape

ERRORS_SHOWN: Final = 25
"""Invalid rows listed in the preview; the rest are counted (all are in the summary's CSV)."""
_SECTION_MAX: Final = 2900


def _types_line(counts: dict[str, Any]) -> str:
    return ", ".join(f"{n} {kind}{'s' if n != 1 else ''}" for kind, n in counts.items()) or "none"


def _error_lines(invalid: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    for error in invalid[:ERRORS_SHOWN]:
        column = f" `{escape(str(error['column']))}`" if error.get("column") else ""
        lines.append(f"• row {error['row']}{column}: {escape(str(error['reason']))[:200]}")
    if len(invalid) > ERRORS_SHOWN:
        lines.append(
            f"• … and {len(invalid) - ERRORS_SHOWN} more (all of them in the summary's CSV)"
        )
    return lines


def _clip(text: str) -> str:
    return text if len(text) <= _SECTION_MAX else text[: _SECTION_MAX - 1] + "…"


def preview(
    *,
    import_id: str,
    filename: str,
    rows: int,
    valid: int,
    counts: dict[str, Any],
    invalid: list[dict[str, Any]],
) -> SlackMessage:
    """What the file holds, every invalid row (up to :data:`ERRORS_SHOWN`), and **Import**
    when there is something to import."""
    bad_rows = len({e["row"] for e in invalid})
    head = (
        f":page_facing_up: *{escape(filename)}*: {rows} rows, *{valid} to import* "
        f"({_types_line(counts)})"
    )
    if bad_rows:
        head += f", {bad_rows} invalid (not imported):"
    blocks: list[Block] = [section(_clip("\n".join([head, *_error_lines(invalid)])))]
    if valid:
        label = f"Import {valid} row{'s' if valid != 1 else ''}"
        blocks.append(
            ActionsBlock(
                block_id=IMPORT_ACTIONS_BLOCK,
                elements=[button(IMPORT_CSV_ACTION, label, import_id, primary=True)],
            )
        )
        blocks.append(context("Only you can start this import. Rows go to Rally 100 at a time."))
    else:
        blocks.append(context("Nothing to import: fix the rows above and share the file again."))
    return SlackMessage(text=f"{filename}: {valid} of {rows} rows can be imported", blocks=blocks)


def refused(filename: str, reason: str) -> SlackMessage:
    """The file as a whole cannot be imported (limits, encoding, header)."""
    text = f":warning: I can't import *{escape(filename)}*: {escape(reason)}"
    return SlackMessage(text=f"Can't import {filename}: {reason}", blocks=[section(_clip(text))])


def progress(*, filename: str, done: int, total: int, created: int, failed: int) -> SlackMessage:
    """Shown while the import runs, after each chunk."""
    text = (
        f":hourglass_flowing_sand: Importing *{escape(filename)}*: chunk {done} of {total}, "
        f"{created} created" + (f", {failed} refused by Rally" if failed else "")
    )
    return SlackMessage(text=f"Importing {filename}: {done}/{total}", blocks=[section(text)])


def summary(*, filename: str, created: int, failed: int, created_now: int) -> SlackMessage:
    """The end: created, failed (their CSV follows as a file), and whether it was a rerun."""
    icon = ":white_check_mark:" if not failed else ":warning:"
    text = f"{icon} *{escape(filename)}* imported: *{created} created*, {failed} failed"
    if created_now < created:
        text += (
            f"\n{created - created_now} of them were imported before; nothing was created twice."
        )
    if failed:
        text += "\nThe failed rows, each with its reason, are in the CSV below."
    return SlackMessage(
        text=f"{filename}: {created} created, {failed} failed", blocks=[section(text)]
    )


def stopped(*, import_id: str, filename: str, reason: str) -> SlackMessage:
    """The import gave up (Rally unreachable for longer than the retries): what was done
    stays done, and **Continue import** carries on from there."""
    text = (
        f":warning: The import of *{escape(filename)}* stopped: {escape(reason)} "
        "Rows already imported stay imported and are not sent again."
    )
    again = button(IMPORT_CSV_ACTION, "Continue import", import_id, primary=True)
    return SlackMessage(
        text=f"The import of {filename} stopped: {reason}",
        blocks=[section(text), ActionsBlock(block_id=IMPORT_ACTIONS_BLOCK, elements=[again])],
    )


def notice(text: str) -> SlackMessage:
    """A one-line answer (the import expired, is running, is not yours...)."""
    return SlackMessage(text=text, blocks=[section(escape(text))])
