"""Serve the fake Slack Web API on a port, in its own process (so it does not share the
load generator's interpreter): ``python bench/_fake_slack_server.py PORT TOKEN``."""

from __future__ import annotations

import logging
import sys

from werkzeug.serving import make_server

from devstack.fake_slack.server import FakeSlack, create_app

if __name__ == "__main__":
    port, token = int(sys.argv[1]), sys.argv[2]
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    fake = FakeSlack(bot_token=token)
    fake.base_url = f"http://127.0.0.1:{port}"
    make_server("127.0.0.1", port, create_app(fake), threaded=True).serve_forever()
