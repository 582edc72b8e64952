"""The console plays a thread: a sample thread posted from the header, then
"⋯ → Log thread as note" on it, in headless Chromium in front of the real bot."""

from __future__ import annotations

from typing import Any

import pytest

from tests.devstack.conftest import ConsoleStack
from tests.devstack.test_console_browser import activities, open_console, submit_and_work

pytestmark = pytest.mark.browser


def test_a_sample_thread_is_logged_as_one_note_from_its_menu(
    console_stack: ConsoleStack, page: Any
) -> None:
    open_console(page, console_stack, user="U0ALICE", channel="C0SALES")
    page.once("dialog", lambda dialog: dialog.accept("30"))
    page.get_by_test_id("sample-thread").click()
    page.get_by_test_id("thread").filter(has_text="29 replies").wait_for()

    parent = page.get_by_test_id("message").filter(has_text="Sample thread").first
    parent.hover()
    parent.get_by_test_id("more-actions").first.click()
    page.get_by_test_id("shortcut-log_thread_as_note").click()
    modal = page.get_by_test_id("modal")
    modal.wait_for()
    assert "30 messages" in modal.inner_text()
    submit_and_work(page, console_stack)
    page.get_by_text("Logged note").first.wait_for()

    (note,) = activities(console_stack)
    assert note["subject"] == "Sample thread: where are we with Acme?"
    lines = note["body"].split("\n")
    assert lines[0].startswith("Slack thread in #sales, 30 messages: ")
    assert lines[2].startswith("Alice Moreno (") and lines[-1].endswith("Reply 29")
