"""Builders show a record by the name passed in (escaped, linked when there is an app URL),
and by its id when none is known."""

from __future__ import annotations

import json

from slack_ui.digests import digest_message
from slack_ui.messages import confirmation, record_link
from slack_ui.tasks import TaskCard

DEAL = "5a1c0de0-ac3e-4d3a-9e55-000000000001"
NAMES = {("deal", DEAL): "Acme <expansion> & co|x"}


def test_a_named_record_is_shown_escaped_and_linked_and_an_unnamed_one_by_id() -> None:
    assert record_link("deal", DEAL, None, NAMES) == "deal *Acme &lt;expansion&gt; &amp; co¦x*"
    assert record_link("deal", DEAL.upper(), "https://app.rally.test/", NAMES) == (
        f"deal <https://app.rally.test/deals/{DEAL.upper()}|*Acme &lt;expansion&gt; &amp; co¦x*>"
    )
    assert record_link("deal", DEAL, None, {}) == f"deal `{DEAL}`"


def test_confirmations_and_digests_take_the_names() -> None:
    activity = {"id": "a1", "activityType": "note", "subject": "Hi", "dealId": DEAL}
    shown = json.dumps(confirmation(activity, app_url=None, names=NAMES).to_dict())
    assert "Acme &lt;expansion&gt;" in shown and DEAL not in shown
    card = TaskCard(id="t1", subject="Send it", due=1_900_000_000, deal_id=DEAL)
    digest = digest_message(
        "deal", DEAL, [card], overdue_before=1_800_000_000, total=1, app_url=None, names=NAMES
    ).to_dict()
    assert "Acme &lt;expansion&gt;" in json.dumps(digest) and DEAL not in digest["text"]
