"""Serve the fake Slack Web API on a port, in its own process (so it does not share the
load generator's interpreter): ``python bench/_fake_slack_server.py PORT TOKEN
[--people U1,U2,...] [--channel CID]``.

``--people`` adds those members to the workspace, and ``--channel`` a channel they and the
bot are in (the drain bench's submitters post from it). Bench-only, beside the fake's own
routes: ``GET /_bench/received?since=N`` answers the messages calls it received (
``chat.postEphemeral``, ``chat.postMessage``, ``conversations.open``) from the Nth on,
each with its time (``at``, epoch seconds), params and answer, plus ``next`` (the index to
ask from next time), so a bench can time and check what people were told.
"""

from __future__ import annotations

import argparse
import json
import logging

from flask import Response, request
from werkzeug.serving import make_server

from devstack.fake_slack.server import (
    BOT_USER_ID,
    Channel,
    FakeSlack,
    Person,
    create_app,
    default_channels,
    default_people,
)

TOLD = ("chat.postEphemeral", "chat.postMessage", "conversations.open")

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("token")
    parser.add_argument("--people", default="", help="comma-separated user ids to add")
    parser.add_argument("--channel", default=None, help="a channel id everyone is in")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    people = default_people() + [
        Person(uid, uid.lower(), f"Bench {uid}", "UTC", "Bench")
        for uid in filter(None, args.people.split(","))
    ]
    channels = default_channels(people)
    if args.channel:
        members = {p.id for p in people} | {BOT_USER_ID}
        channels.append(Channel(args.channel, "bench", members=members))
    fake = FakeSlack(bot_token=args.token, people=people, channels=channels)
    fake.base_url = f"http://127.0.0.1:{args.port}"
    app = create_app(fake)

    def received() -> Response:
        since = int(request.args.get("since", "0"))
        calls = fake.calls()
        told = [
            {"method": c.method, "at": c.at, "params": c.params, "response": c.response}
            for c in calls[since:]
            if c.method in TOLD
        ]
        body = {"next": len(calls), "calls": told}
        return Response(json.dumps(body, default=str), mimetype="application/json")

    app.add_url_rule("/_bench/received", "bench_received", received)
    make_server("127.0.0.1", args.port, app, threaded=True).serve_forever()
