"""The floor for bench_ack: a Bolt app that only acknowledges, served like ``rally-slack web``.

Same signing check, same Flask adapter, same gunicorn worker class, workers and threads;
no Redis, no parsing, no Web API calls.  ``gunicorn 'bare_bolt:app'`` from this folder.
"""

from __future__ import annotations

import os
import re
from typing import Any

from flask import Flask, request
from slack_bolt import App
from slack_bolt.adapter.flask import SlackRequestHandler
from slack_sdk import WebClient

bolt = App(
    signing_secret=os.environ["SLACK_SIGNING_SECRET"],
    # Bolt's single-team authorization calls auth.test once: send it to the same fake Slack.
    client=WebClient(os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"]),
    token_verification_enabled=False,
    # bench_ack's floor for Bolt's process_before_response (BARE_BOLT_PROCESS_BEFORE_RESPONSE=1).
    process_before_response=os.environ.get("BARE_BOLT_PROCESS_BEFORE_RESPONSE") == "1",
)


@bolt.command("/rally")
def _command(ack: Any) -> None:
    ack()


@bolt.view(re.compile(".*"))
def _submission(ack: Any) -> None:
    ack()


@bolt.options(re.compile(".*"))
def _suggestion(ack: Any) -> None:
    ack(options=[])


_handler = SlackRequestHandler(bolt)
app = Flask("bare-bolt")


@app.post("/slack/events")
def slack_events() -> Any:
    return _handler.handle(request)


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}
