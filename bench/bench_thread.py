"""Log thread as note: time to build the note for a thread of 1,000 and 5,000 messages.

What the create job does before its POST, measured end to end: every page of
``conversations.replies`` over HTTP from the fake Slack (its own process, Slack's page
cap of 1,000), the authors and mentions named through ``users.info`` and
``conversations.info`` (the name cache in a private ``redis-server`` emptied before each
run, so every run asks Slack), mrkdwn turned into plain text, and the body cut at the
API's limit. Medians of ``--repeats`` runs::

    .venv/bin/python bench/bench_thread.py --repeats 5
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
from _common import free_port, median, print_table, redis_server, save, wait_http
from slack_sdk import WebClient

from workers.slack import retry_handlers
from workers.state import State
from workers.threads import Thread, thread_note_body

TOKEN = "xoxb-bench-not-a-real-token"
SIZES = (1000, 5000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    port = free_port()
    script = Path(__file__).with_name("_thread_fake_slack.py")
    fake = subprocess.Popen(
        [sys.executable, str(script), str(port), TOKEN, *map(str, SIZES)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert fake.stdout is not None
        threads = {}
        for _ in SIZES:
            size, channel, ts = fake.stdout.readline().split()
            threads[int(size)] = (channel, ts)
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/api/api.test")
        with tempfile.TemporaryDirectory() as workdir, redis_server(Path(workdir)) as url:
            conn = redis.Redis.from_url(url)
            client = WebClient(token=TOKEN, base_url=f"{base}/api/")
            client.retry_handlers.extend(retry_handlers("all"))
            rows, raw = [], {}
            for size, (channel, ts) in threads.items():
                times, transcript = [], None
                for _ in range(args.repeats):
                    conn.flushdb()  # names and time zones asked of Slack every run
                    started = time.perf_counter()
                    transcript = thread_note_body(
                        client, State(conn), Thread("T0RALLY001", channel, ts, "U0ALICE")
                    )
                    times.append(time.perf_counter() - started)
                assert transcript is not None
                pages = -(-(size - 1) // 999)
                raw[size] = {"seconds": times, "pages": pages, "chars": len(transcript.body)}
                rows.append(
                    (
                        f"{size:,}",
                        pages,
                        f"{median(times) * 1000:,.0f} ms",
                        f"{size / median(times):,.0f}",
                        f"{transcript.included:,} / {transcript.omitted:,}",
                        f"{len(transcript.body):,}",
                    )
                )
        print_table(
            f"Log thread as note: building the note (median of {args.repeats})",
            ("messages", "pages", "time", "messages/s", "in note / left out", "body chars"),
            rows,
        )
        print(f"\nraw: {save('bench_thread', raw)}")
    finally:
        fake.terminate()
        fake.wait(timeout=10)


if __name__ == "__main__":
    main()
