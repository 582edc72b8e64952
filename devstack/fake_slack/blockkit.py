"""The part of Slack's Block Kit validation a bot most often trips over, answered as Slack does.

Slack rejects a bad view with ``invalid_arguments`` and a bad message with ``invalid_blocks``,
each with ``response_metadata.messages`` like
``[ERROR] must be less than 25 characters [json-pointer:/view/title/text]``. A fake that
accepted anything would let a 25-character modal title pass every test and fail in the
first real workspace, so the common limits are checked here. It is not the whole of
Slack's schema; it is the part that bites.

Slack also fills in what a bot leaves out: every block gets a ``block_id`` and every
interactive element an ``action_id`` (random strings), which is why a bot must not find
its inputs by position. :func:`normalize_blocks` does the same.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

INPUT_ELEMENTS = {
    "plain_text_input",
    "number_input",
    "url_text_input",
    "email_text_input",
    "static_select",
    "external_select",
    "users_select",
    "conversations_select",
    "channels_select",
    "multi_static_select",
    "multi_external_select",
    "multi_users_select",
    "multi_conversations_select",
    "multi_channels_select",
    "radio_buttons",
    "checkboxes",
    "datepicker",
    "timepicker",
    "datetimepicker",
    "rich_text_input",
    "file_input",
}
ACTION_ELEMENTS = INPUT_ELEMENTS | {"button", "overflow", "workflow_button"}
_TEXT_INPUTS = {
    "plain_text_input",
    "number_input",
    "url_text_input",
    "email_text_input",
    "rich_text_input",
    "file_input",
}
ACCESSORY_ELEMENTS = (ACTION_ELEMENTS - _TEXT_INPUTS) | {"image"}
BLOCK_TYPES = {
    "section",
    "divider",
    "image",
    "actions",
    "context",
    "input",
    "header",
    "rich_text",
    "video",
    "file",
    "markdown",
}
_ALPHABET = string.ascii_letters + string.digits


def _random_id(length: int = 4) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


class _Checker:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def error(self, message: str, pointer: str) -> None:
        self.errors.append(f"[ERROR] {message} [json-pointer:{pointer}]")

    def text(self, obj: Any, pointer: str, *, limit: int, plain_only: bool = False) -> None:
        if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
            self.error("must provide an object with a type of plain_text or mrkdwn", pointer)
            return
        if plain_only and obj["type"] != "plain_text":
            self.error("must be a plain_text object", pointer + "/type")
        if not isinstance(obj.get("text"), str) or obj["text"] == "":
            self.error("must be more than 0 characters", pointer + "/text")
        elif len(obj["text"]) > limit:
            self.error(f"must be less than {limit + 1} characters", pointer + "/text")

    def option(self, opt: Any, pointer: str) -> None:
        if not isinstance(opt, dict):
            self.error("must provide an object", pointer)
            return
        self.text(opt.get("text"), pointer + "/text", limit=75)
        value = opt.get("value")
        if not isinstance(value, str) or len(value) > 150:
            self.error("must be a string of at most 150 characters", pointer + "/value")

    def element(self, el: Any, pointer: str, *, allowed: set[str]) -> None:
        if not isinstance(el, dict) or el.get("type") not in allowed:
            kind = el.get("type") if isinstance(el, dict) else el
            self.error(f"unsupported type: {kind}", pointer + "/type")
            return
        kind = el["type"]
        action_id = el.get("action_id")
        if action_id is not None and (not isinstance(action_id, str) or len(action_id) > 255):
            self.error("must be less than 256 characters", pointer + "/action_id")
        if kind == "button":
            self.text(el.get("text"), pointer + "/text", limit=75, plain_only=True)
            if "value" in el and len(str(el["value"])) > 2000:
                self.error("must be less than 2001 characters", pointer + "/value")
            if el.get("style") not in (None, "primary", "danger"):
                self.error("must be one of primary, danger", pointer + "/style")
        if kind in ("static_select", "multi_static_select", "radio_buttons", "checkboxes"):
            options = el.get("options")
            groups = el.get("option_groups")
            if options is None and groups is None:
                self.error("must provide options or option_groups", pointer)
                options = []
            flat = list(options or [])
            for g in groups or []:
                flat.extend(g.get("options", []))
            limit = 10 if kind in ("radio_buttons", "checkboxes") else 100
            if len(flat) > limit:
                self.error(f"must provide at most {limit} items", pointer + "/options")
            for i, opt in enumerate(options or []):
                self.option(opt, f"{pointer}/options/{i}")
            values = [o.get("value") for o in flat if isinstance(o, dict)]
            initial = el.get("initial_option")
            initials = el.get("initial_options") or ([initial] if initial else [])
            if any(not isinstance(o, dict) or o.get("value") not in values for o in initials):
                self.error("must match one of the provided options", pointer + "/initial_option")
        if kind in ("plain_text_input", "number_input", "url_text_input", "email_text_input"):
            if "initial_value" in el and not isinstance(el["initial_value"], str):
                self.error("must be a string", pointer + "/initial_value")
            if "placeholder" in el:
                self.text(el["placeholder"], pointer + "/placeholder", limit=150, plain_only=True)
        if kind == "number_input" and not isinstance(el.get("is_decimal_allowed"), bool):
            self.error("must provide a boolean is_decimal_allowed", pointer + "/is_decimal_allowed")
        if kind == "datepicker" and el.get("initial_date") is not None:
            value = el["initial_date"]
            if not (isinstance(value, str) and len(value) == 10 and value[4] == value[7] == "-"):
                self.error("must be in the format YYYY-MM-DD", pointer + "/initial_date")
        if kind == "timepicker" and el.get("initial_time") is not None:
            value = el["initial_time"]
            if not (isinstance(value, str) and len(value) == 5 and value[2] == ":"):
                self.error("must be in the format HH:mm", pointer + "/initial_time")
        initial_dt = el.get("initial_date_time") if kind == "datetimepicker" else None
        if initial_dt is not None and not isinstance(initial_dt, int):
            self.error("must be an integer UNIX timestamp", pointer + "/initial_date_time")

    def block(self, block: Any, pointer: str, *, surface: str) -> None:
        if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
            kind = block.get("type") if isinstance(block, dict) else block
            self.error(f"unsupported type: {kind}", pointer + "/type")
            return
        kind = block["type"]
        block_id = block.get("block_id")
        if block_id is not None and (not isinstance(block_id, str) or len(block_id) > 255):
            self.error("must be less than 256 characters", pointer + "/block_id")
        if kind == "section":
            if "text" not in block and "fields" not in block:
                self.error("must provide text or fields", pointer)
            if "text" in block:
                self.text(block["text"], pointer + "/text", limit=3000)
            fields = block.get("fields") or []
            if len(fields) > 10:
                self.error("must provide at most 10 items", pointer + "/fields")
            for i, field in enumerate(fields):
                self.text(field, f"{pointer}/fields/{i}", limit=2000)
            if "accessory" in block:
                accessory = block["accessory"]
                if isinstance(accessory, dict) and accessory.get("type") == "image":
                    return
                self.element(accessory, pointer + "/accessory", allowed=ACCESSORY_ELEMENTS)
        elif kind == "header":
            self.text(block.get("text"), pointer + "/text", limit=150, plain_only=True)
        elif kind == "context":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= 10:
                self.error("must provide between 1 and 10 items", pointer + "/elements")
            for i, el in enumerate(elements):
                if isinstance(el, dict) and el.get("type") == "image":
                    continue
                self.text(el, f"{pointer}/elements/{i}", limit=3000)
        elif kind == "actions":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= 25:
                self.error("must provide between 1 and 25 items", pointer + "/elements")
            for i, el in enumerate(elements):
                self.element(el, f"{pointer}/elements/{i}", allowed=ACTION_ELEMENTS)
        elif kind == "input":
            if surface == "message":
                self.error("input blocks are not supported in messages", pointer + "/type")
            self.text(block.get("label"), pointer + "/label", limit=2000, plain_only=True)
            self.element(block.get("element"), pointer + "/element", allowed=INPUT_ELEMENTS)
            if "hint" in block:
                self.text(block["hint"], pointer + "/hint", limit=2000, plain_only=True)


def _check_blocks(checker: _Checker, blocks: Any, pointer: str, *, surface: str) -> None:
    if not isinstance(blocks, list):
        checker.error("must provide an array", pointer)
        return
    limit = 50 if surface == "message" else 100
    if len(blocks) > limit:
        checker.error(f"must provide at most {limit} items", pointer)
    seen: set[str] = set()
    for i, block in enumerate(blocks):
        checker.block(block, f"{pointer}/{i}", surface=surface)
        block_id = block.get("block_id") if isinstance(block, dict) else None
        if isinstance(block_id, str):
            if block_id in seen:
                checker.error("block_id must be unique", f"{pointer}/{i}/block_id")
            seen.add(block_id)


def validate_message_blocks(blocks: Any) -> list[str]:
    """The messages Slack would answer a message's ``blocks`` with (empty when valid)."""
    checker = _Checker()
    _check_blocks(checker, blocks, "/blocks", surface="message")
    return checker.errors


def validate_view(view: Any) -> list[str]:
    """The messages Slack would answer a modal or home ``view`` with (empty when valid)."""
    checker = _Checker()
    if not isinstance(view, dict):
        checker.error("must provide an object", "/view")
        return checker.errors
    kind = view.get("type")
    if kind not in ("modal", "home"):
        checker.error("must be one of modal, home", "/view/type")
        return checker.errors
    if kind == "modal":
        checker.text(view.get("title"), "/view/title", limit=24, plain_only=True)
        for key in ("submit", "close"):
            if key in view and view[key] is not None:
                checker.text(view[key], f"/view/{key}", limit=24, plain_only=True)
        has_input = any(
            isinstance(b, dict) and b.get("type") == "input" for b in view.get("blocks") or []
        )
        if has_input and not view.get("submit"):
            checker.error("must provide a submit property when using input blocks", "/view")
    metadata = view.get("private_metadata")
    if metadata is not None and (not isinstance(metadata, str) or len(metadata) > 3000):
        checker.error("must be less than 3001 characters", "/view/private_metadata")
    callback_id = view.get("callback_id")
    if callback_id is not None and (not isinstance(callback_id, str) or len(callback_id) > 255):
        checker.error("must be less than 256 characters", "/view/callback_id")
    _check_blocks(checker, view.get("blocks"), "/view/blocks", surface=kind)
    return checker.errors


def normalize_blocks(blocks: list[Any]) -> list[Any]:
    """A copy of ``blocks`` with the ``block_id`` and ``action_id`` Slack would generate."""
    result: list[Any] = []
    for block in blocks:
        if not isinstance(block, dict):
            result.append(block)
            continue
        block = dict(block)
        block.setdefault("block_id", _random_id())
        if block.get("type") == "actions":
            block["elements"] = [_with_action_id(el) for el in block.get("elements") or []]
        elif block.get("type") == "input" and isinstance(block.get("element"), dict):
            block["element"] = _with_action_id(block["element"])
        elif (
            block.get("type") == "section"
            and isinstance(block.get("accessory"), dict)
            and block["accessory"].get("type") != "image"
        ):
            block["accessory"] = _with_action_id(block["accessory"])
        result.append(block)
    return result


def _with_action_id(element: Any) -> Any:
    if not isinstance(element, dict):
        return element
    element = dict(element)
    element.setdefault("action_id", _random_id())
    return element
