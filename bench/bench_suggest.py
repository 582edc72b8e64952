"""``block_suggestion`` latency with 10,000 known records, beside the ack floor.

The Deal menu of a call modal is typed into: signed ``block_suggestion`` requests through
the real HTTP path (gunicorn gthread, Bolt, the envelope check, the listener's Redis
lookups: ``workers.records``), open loop at each rate, against ``rally-slack web`` and a
Bolt app that answers every suggestion with no options (``bench/bare_bolt.py``), served
the same way, in the same run. Redis holds 10,000 named deals for the workspace (the
mirror ``/rally link``/``/rally name`` write) and the same 10,000 ids as seen by the sync,
each with its own last-activity time. The queries cycle through a prefix matching every
name (``acme``: answered with the 100 most recently active), a narrow one (``acme deal
0421``), an id prefix and a pasted Rally link.

Run:  .venv/bin/python bench/bench_suggest.py [--seconds 10] [--rates 10 50 100]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import redis
from _common import free_port, print_table, redis_server, save, wait_http
from bench_ack import BENCH, TOKEN, VENV_BIN, Body, open_loop, process, summarize, web_env

from core.store import open_store
from devstack.fake_slack.payloads import block_suggestion, interactive_body
from devstack.fake_slack.world import TEAM_ID
from sandbox.app import DEV_API_KEY
from slack_ui import ids
from slack_ui.modals import build_log_modal
from workers.records import note_seen
from workers.reminders.index import namespace_for

RECORDS = 10_000
BASE_URL = "http://127.0.0.1:9/unused"


def fill(redis_url: str) -> None:
    """10,000 named and seen deals, as the store's mirror and the sync leave them."""
    conn = redis.Redis.from_url(redis_url)
    pipe = conn.pipeline(transaction=False)
    seen = []
    for n in range(RECORDS):
        rid = str(uuid.UUID(int=(n * 2_654_435_761) % (1 << 128) | (4 << 76) | (1 << 63)))
        name = f"Acme deal {n:04d}"
        pipe.zadd(f"rally:rec:{TEAM_ID}:names:deal", {f"{name.casefold()}\x00{rid}": 0})
        pipe.hset(f"rally:rec:{TEAM_ID}:label:deal", rid, name)
        seen.append(("deal", rid, 1_700_000_000 + n))
    pipe.set(f"rally:rec:{TEAM_ID}:built", "1")  # the store holds none: nothing to rebuild
    note_seen(pipe, namespace_for(BASE_URL, DEV_API_KEY), seen)
    pipe.execute()
    conn.close()


def suggestions() -> Callable[[int], Body]:
    view = build_log_modal("call", metadata={"channel": "C0SALES"}).to_dict()
    view["id"] = "VBENCH"
    some_id = str(uuid.UUID(int=(421 * 2_654_435_761) % (1 << 128) | (4 << 76) | (1 << 63)))
    queries = [
        ("prefix of all", "acme"),
        ("narrow prefix", "acme deal 0421"),
        ("id prefix", some_id[:6]),
        ("pasted link", f"https://app.rallycrm.io/deals/{some_id}"),
    ]

    def make(i: int) -> Body:
        kind, typed = queries[i % len(queries)]
        payload = block_suggestion(
            view, block_id=ids.DEAL, action_id=ids.input_action(ids.DEAL), value=typed
        )
        return kind, interactive_body(payload)

    return make


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per rate and target")
    parser.add_argument("--rates", type=int, nargs="+", default=[10, 50, 100])
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp_name, redis_server(Path(tmp_name)) as redis_url:
        tmp = Path(tmp_name)
        slack_port, rally_port, bare_port = free_port(), free_port(), free_port()
        env = {**web_env(tmp, redis_url, slack_port), "RALLY_BASE_URL": BASE_URL}
        env.pop("JOB_RETRY_INTERVALS")
        fill(redis_url)
        # The schema made once here, not raced by the web workers' first requests.
        open_store(env["DATABASE_URL"], None)
        common = ["--workers", str(args.web_workers), "--threads", str(args.threads)]
        web = [str(VENV_BIN / "rally-slack"), "web", "--host", "127.0.0.1"]
        web += ["--port", str(rally_port), *common, "--log-level", "warning"]
        bare = [str(VENV_BIN / "gunicorn"), "--chdir", str(BENCH), "-b", f"127.0.0.1:{bare_port}"]
        bare += ["-w", str(args.web_workers), "-k", "gthread", "--threads", str(args.threads)]
        bare += ["--no-control-socket", "--log-level", "warning", "bare_bolt:app"]
        fake = [sys.executable, str(BENCH / "_fake_slack_server.py"), str(slack_port), TOKEN]
        results = {}
        with (
            process(fake, env, tmp / "slack.log"),
            process(web, env, tmp / "web.log"),
            process(bare, env, tmp / "bare.log"),
        ):
            wait_http(f"http://127.0.0.1:{slack_port}/api/api.test")
            wait_http(f"http://127.0.0.1:{rally_port}/healthz")
            wait_http(f"http://127.0.0.1:{bare_port}/healthz")
            targets = {
                "bare": f"http://127.0.0.1:{bare_port}/slack/events",
                "rally": f"http://127.0.0.1:{rally_port}/slack/events",
            }
            for url in targets.values():  # warm-up: imports, connections
                asyncio.run(open_loop(url, 20, 2, suggestions()))
            for rate in args.rates:
                for name, url in targets.items():
                    samples = asyncio.run(open_loop(url, rate, args.seconds, suggestions()))
                    results[f"{name}@{rate}"] = summarize(samples)
                    if name == "rally":
                        for kind in sorted({k for k, _, _ in samples}):
                            results[f"rally@{rate}:{kind}"] = summarize(
                                [s for s in samples if s[0] == kind]
                            )

    rows = []
    for rate in args.rates:
        for name, label in (("bare", "bare Bolt (ack floor)"), ("rally", "rally-slack")):
            s = results[f"{name}@{rate}"]
            rows.append(
                (rate, label, s["n"], s["errors"], f"{s['p50_ms']:.1f}", f"{s['p99_ms']:.1f}")
            )
    print_table(
        f"block_suggestion latency, {RECORDS:,} known deals, open loop (ms from scheduled send)",
        ["req/s", "app", "n", "errors", "p50", "p99"],
        rows,
    )
    rows = [
        (
            key.split(":", 1)[1],
            key.split("@")[1].split(":")[0],
            f"{s['p50_ms']:.1f}",
            f"{s['p99_ms']:.1f}",
        )
        for key, s in results.items()
        if ":" in key
    ]
    print_table("rally-slack by query", ["query", "req/s", "p50", "p99"], rows)
    print(f"raw figures: {save('bench_suggest', {'args': vars(args), 'results': results})}")


if __name__ == "__main__":
    main()
