"""The fake Slack for ``bench_thread.py``, in its own process, holding one thread of each
size asked for: ``python bench/_thread_fake_slack.py PORT TOKEN N [N...]``. Prints one
line ``<N> <channel> <ts>`` per thread once it serves."""

from __future__ import annotations

import logging
import sys

from werkzeug.serving import make_server

from devstack.fake_slack.server import FakeSlack, create_app


def _text(i: int) -> str:
    if i == 0:
        return "Kickoff for *Acme*: pricing &amp; timeline, see <#C0ACME|deal-acme>"
    return f"Reply {i}: <@U0BOB> can you check <https://acme.example/q/{i}|the quote>?"


if __name__ == "__main__":
    port, token, sizes = int(sys.argv[1]), sys.argv[2], [int(n) for n in sys.argv[3:]]
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    fake = FakeSlack(bot_token=token)
    fake.base_url = f"http://127.0.0.1:{port}"
    server = make_server("127.0.0.1", port, create_app(fake), threaded=True)
    for size in sizes:
        parent = fake.post_thread("C0SALES", size, text=_text)
        print(size, "C0SALES", parent["ts"], flush=True)
    server.serve_forever()
