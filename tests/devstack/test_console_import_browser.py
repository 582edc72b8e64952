"""The console plays a CSV import: the file picker in the app's DM shares a file as Slack
would (the file kept, a ``file_share`` message event signed to the bot), the preview comes
back with Import, and the summary and the failed rows' CSV land in the DM."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.devstack.conftest import ConsoleStack
from tests.fixtures.sandbox import DEV_API_KEY

pytestmark = pytest.mark.browser

CSV = (
    b"activityType;subject;dueDate;priority\r\n"
    b"task;Send the proposal;2030-01-31T17:00:00Z;high\r\n"
    b"note;Acme wants SSO;;\r\n"
    b"call;A call with a priority;;high\r\n"
    b"meeting;QBR;;\r\n"
)


def test_a_csv_picked_in_the_apps_dm_is_previewed_imported_and_summarised(
    console_stack: ConsoleStack, page: Any
) -> None:
    page.goto(f"{console_stack.url}?user=U0ALICE&channel=app")
    page.get_by_test_id("tab-messages").click()
    page.get_by_test_id("attach").set_input_files(
        {"name": "pipeline.csv", "mimeType": "text/csv", "buffer": CSV}
    )
    console_stack.work()
    feed = page.get_by_test_id("feed")
    feed.get_by_text("3 to import").wait_for()
    feed.get_by_text("row 4").wait_for()  # the call with a priority, named in the preview
    assert feed.get_by_test_id("file").filter(has_text="pipeline.csv").count() == 1

    page.get_by_role("button", name="Import 3 rows").click()
    console_stack.work()
    feed.get_by_text("3 created").wait_for()
    failed = feed.get_by_test_id("file").filter(has_text="failed rows")
    failed.wait_for()

    response = httpx.get(
        f"{console_stack.sandbox_url}/api/v1/activities", headers={"X-Api-Key": DEV_API_KEY}
    )
    assert sorted(a["subject"] for a in response.json()) == [
        "Acme wants SSO",
        "QBR",
        "Send the proposal",
    ]
    href = failed.get_attribute("href")
    content = httpx.get(f"{console_stack.url}{href}").content.decode("utf-8-sig")
    assert "A call with a priority" in content and "priority" in content.splitlines()[1]
