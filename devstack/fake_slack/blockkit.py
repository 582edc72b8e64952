"""The part of Slack's Block Kit validation a bot most often trips over, answered as Slack does.

Slack rejects a bad view with ``invalid_arguments`` and a bad message with ``invalid_blocks``,
each with ``response_metadata.messages`` like
``[ERROR] must be less than 25 characters [json-pointer:/view/title/text]``. A fake that
accepted anything would let a 25-character modal title pass every test and fail in the
first real workspace, so the common limits are checked here. It is not the whole of
Slack's schema; it is the part that bites.

The limits themselves (a modal title's 24 characters, a button's 75, 25 elements in an
``actions`` block, 100 options in a select, ``block_id`` and ``action_id`` lengths, the
date and time formats...) are ``slack_sdk.models``' own: each block, element, option
and view is parsed into its model and ``validate_json()`` is asked, so this fake and the
SDK the app builds with never disagree. Its errors keep slack_sdk's wording, in Slack's
``[ERROR] ... [json-pointer:...]`` form. What is checked by hand here is only what
slack_sdk leaves out: the shape of the JSON (objects, arrays, known types, text objects
that are ``plain_text`` where Slack wants it), where an element may go, and the
surface-wide rules (a modal's title and submit button, no inputs in messages, 50 blocks
in a message, unique ``block_id`` values, an ``initial_option`` among the options).

Slack also fills in what a bot leaves out: every block gets a ``block_id`` and every
interactive element an ``action_id`` (random strings), which is why a bot must not find
its inputs by position. :func:`normalize_blocks` does the same.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.basic_objects import JsonObject
from slack_sdk.models.blocks import Block, BlockElement, Option, TextObject
from slack_sdk.models.views import View

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
# Slack's limits that slack_sdk does not check.
MESSAGE_BLOCKS_LIMIT = 50
CHOICES_LIMIT = 10  # options of radio_buttons and checkboxes
_ALPHABET = string.ascii_letters + string.digits


def _random_id(length: int = 4) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def _pointer_to(obj: JsonObject | None, pointer: str, message: str) -> str:
    """Point at the attribute a slack_sdk message names first ("title must be ..."),
    down to its ``/text`` when it is a text object, as Slack's own pointers do."""
    name = message.split(" ", 1)[0]
    if obj is None or not hasattr(obj, name):
        return pointer  # e.g. "views must contain between 1 and 100 blocks": the object itself
    value = getattr(obj, name)
    return f"{pointer}/{name}/text" if isinstance(value, TextObject) else f"{pointer}/{name}"


class _Checker:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def error(self, message: str, pointer: str) -> None:
        self.errors.append(f"[ERROR] {message} [json-pointer:{pointer}]")

    def sdk(self, parse: Callable[[], JsonObject | None], pointer: str) -> None:
        """Ask slack_sdk's model of the object at ``pointer`` for its limits."""
        obj: JsonObject | None = None
        try:
            obj = parse()
            if obj is not None:
                obj.validate_json()
        except SlackObjectFormationError as exc:
            self.error(str(exc), _pointer_to(obj, pointer, str(exc)))
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            # A value of the wrong kind (a number for a string...) the model cannot take.
            self.error(f"must be valid Block Kit ({exc})", pointer)

    def text(
        self, obj: Any, pointer: str, *, plain_only: bool = False, limit: int | None = None
    ) -> None:
        """A text object's shape; its length only where slack_sdk does not check it."""
        if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
            self.error("must provide an object with a type of plain_text or mrkdwn", pointer)
            return
        if plain_only and obj["type"] != "plain_text":
            self.error("must be a plain_text object", pointer + "/type")
        if not isinstance(obj.get("text"), str) or obj["text"] == "":
            self.error("must be more than 0 characters", pointer + "/text")
        elif limit is not None and len(obj["text"]) > limit:
            self.error(f"must be less than {limit + 1} characters", pointer + "/text")

    def option(self, opt: Any, pointer: str) -> None:
        if not isinstance(opt, dict):
            self.error("must provide an object", pointer)
            return
        start = len(self.errors)
        self.text(opt.get("text"), pointer + "/text")
        if not isinstance(opt.get("value"), str):
            self.error("must be a string", pointer + "/value")
        if len(self.errors) == start:
            self.sdk(lambda: Option(**opt), pointer)

    def element(self, el: Any, pointer: str, *, allowed: set[str]) -> None:
        if not isinstance(el, dict) or el.get("type") not in allowed:
            kind = el.get("type") if isinstance(el, dict) else el
            self.error(f"unsupported type: {kind}", pointer + "/type")
            return
        start = len(self.errors)
        kind = el["type"]
        if kind == "button":
            self.text(el.get("text"), pointer + "/text", plain_only=True)
        if kind in ("static_select", "multi_static_select", "radio_buttons", "checkboxes"):
            options = el.get("options")
            if kind in ("radio_buttons", "checkboxes"):
                # slack_sdk checks a select's options, not these.
                if options is None:
                    self.error("must provide options", pointer)
                elif len(options) > CHOICES_LIMIT:
                    self.error(f"must provide at most {CHOICES_LIMIT} items", pointer + "/options")
            for i, opt in enumerate(options or []):
                self.option(opt, f"{pointer}/options/{i}")
            flat = list(options or [])
            for group in el.get("option_groups") or []:
                flat.extend(group.get("options", []) if isinstance(group, dict) else [])
            values = [o.get("value") for o in flat if isinstance(o, dict)]
            initial = el.get("initial_option")
            initials = el.get("initial_options") or ([initial] if initial else [])
            if any(not isinstance(o, dict) or o.get("value") not in values for o in initials):
                self.error("must match one of the provided options", pointer + "/initial_option")
        if kind in ("plain_text_input", "number_input", "url_text_input", "email_text_input"):
            if "initial_value" in el and not isinstance(el["initial_value"], str):
                self.error("must be a string", pointer + "/initial_value")
            if "placeholder" in el:
                self.text(el["placeholder"], pointer + "/placeholder", plain_only=True)
        if kind == "number_input" and not isinstance(el.get("is_decimal_allowed"), bool):
            # Slack requires it; slack_sdk quietly defaults it to false.
            self.error("must provide a boolean is_decimal_allowed", pointer + "/is_decimal_allowed")
        initial_dt = el.get("initial_date_time") if kind == "datetimepicker" else None
        if initial_dt is not None and not isinstance(initial_dt, int):
            # slack_sdk checks the range, and fails on anything but a number.
            self.error("must be an integer UNIX timestamp", pointer + "/initial_date_time")
        if len(self.errors) == start:
            self.sdk(lambda: BlockElement.parse(el), pointer)

    def block(self, block: Any, pointer: str, *, surface: str) -> None:
        if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
            kind = block.get("type") if isinstance(block, dict) else block
            self.error(f"unsupported type: {kind}", pointer + "/type")
            return
        start = len(self.errors)
        kind = block["type"]
        if kind == "section":
            if "text" in block:
                self.text(block["text"], pointer + "/text")
            for i, field in enumerate(block.get("fields") or []):
                self.text(field, f"{pointer}/fields/{i}", limit=2000)
            if "accessory" in block:
                self.element(block["accessory"], pointer + "/accessory", allowed=ACCESSORY_ELEMENTS)
        elif kind == "header":
            self.text(block.get("text"), pointer + "/text", plain_only=True)
        elif kind == "context":
            elements = block.get("elements") or []
            if not elements:
                self.error("must provide at least 1 item", pointer + "/elements")
            for i, el in enumerate(elements):
                if isinstance(el, dict) and el.get("type") == "image":
                    self.element(el, f"{pointer}/elements/{i}", allowed={"image"})
                else:
                    self.text(el, f"{pointer}/elements/{i}", limit=3000)
        elif kind == "actions":
            elements = block.get("elements") or []
            if not elements:
                self.error("must provide at least 1 item", pointer + "/elements")
            for i, el in enumerate(elements):
                self.element(el, f"{pointer}/elements/{i}", allowed=ACTION_ELEMENTS)
        elif kind == "input":
            if surface == "message":
                self.error("input blocks are not supported in messages", pointer + "/type")
            self.text(block.get("label"), pointer + "/label", plain_only=True)
            # Which elements an input block takes is slack_sdk's check (InputBlock).
            self.element(block.get("element"), pointer + "/element", allowed=ACTION_ELEMENTS)
            if "hint" in block:
                self.text(block["hint"], pointer + "/hint", plain_only=True)
        if len(self.errors) == start:
            self.sdk(lambda: Block.parse(block), pointer)


def _check_blocks(checker: _Checker, blocks: Any, pointer: str, *, surface: str) -> None:
    if not isinstance(blocks, list):
        checker.error("must provide an array", pointer)
        return
    # A view's 100 blocks are slack_sdk's View check; a message's 50 are not.
    if surface == "message" and len(blocks) > MESSAGE_BLOCKS_LIMIT:
        checker.error(f"must provide at most {MESSAGE_BLOCKS_LIMIT} items", pointer)
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
        # slack_sdk still accepts the retired workflow_step views; Slack does not.
        checker.error("must be one of modal, home", "/view/type")
        return checker.errors
    if kind == "modal":
        # slack_sdk lets a modal go without a title; Slack does not.
        checker.text(view.get("title"), "/view/title", plain_only=True)
        for key in ("submit", "close"):
            if key in view and view[key] is not None:
                checker.text(view[key], f"/view/{key}", plain_only=True)
        has_input = any(
            isinstance(b, dict) and b.get("type") == "input" for b in view.get("blocks") or []
        )
        if has_input and not view.get("submit"):
            checker.error("must provide a submit property when using input blocks", "/view")
    _check_blocks(checker, view.get("blocks"), "/view/blocks", surface=kind)
    if not checker.errors:
        checker.sdk(lambda: View(**view), "/view")
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
