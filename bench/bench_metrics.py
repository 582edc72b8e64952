"""What metrics cost the acknowledgement: ``rally-slack web`` without and with
``--metrics-port`` (multiprocess mode: every request writes a counter and a histogram to
its worker's mmap file), beside the bare-Bolt floor, in the same run.

The three servers run side by side (gunicorn gthread, same workers and threads; each web
with its own SQLite store) and take turns: each round sends every one the same open-loop
mix as ``bench_ack.py`` (``/rally help``, a quick-create, ``/rally call`` opening a modal,
a modal submission) for ``--seconds`` at ``--rate``, the order rotating between rounds so
that the machine's noise falls on each alike. The figures are medians over the rounds of
each round's p50 and p99. At the end the metrics port is scraped, to show it counted.

Run:  .venv/bin/python bench/bench_metrics.py [--rate 50] [--seconds 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from _common import free_port, median, print_table, redis_server, save, wait_http
from bench_ack import BENCH, TOKEN, VENV_BIN, open_loop, process, request_mix, summarize, web_env


def web_command(port: int, args: argparse.Namespace, metrics_port: int | None) -> list[str]:
    command = [
        str(VENV_BIN / "rally-slack"),
        "web",
        *("--host", "127.0.0.1", "--port", str(port)),
        *("--workers", str(args.web_workers), "--threads", str(args.threads)),
        *("--log-level", "warning"),
    ]
    if metrics_port is not None:
        command += ["--metrics-port", str(metrics_port)]
    return command


def bare_command(port: int, args: argparse.Namespace) -> list[str]:
    return [
        str(VENV_BIN / "gunicorn"),
        *("--chdir", str(BENCH), "-b", f"127.0.0.1:{port}"),
        *("-w", str(args.web_workers), "-k", "gthread", "--threads", str(args.threads)),
        *("--timeout", "30", "--keep-alive", "5", "--no-control-socket"),
        *("--log-level", "warning", "bare_bolt:app"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=50, help="requests/s, open loop")
    parser.add_argument("--seconds", type=float, default=10.0, help="per round and server")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--logs", help="keep the servers' logs in this folder")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp_name, redis_server(Path(tmp_name)) as redis_url:
        tmp = Path(args.logs or tmp_name)
        tmp.mkdir(parents=True, exist_ok=True)
        slack_port = free_port()
        env = web_env(Path(tmp_name), redis_url, slack_port)
        ports = {"bare Bolt": free_port(), "metrics off": free_port(), "metrics on": free_port()}
        metrics_port = free_port()
        fake = [sys.executable, str(BENCH / "_fake_slack_server.py"), str(slack_port), TOKEN]
        rounds: dict[str, list[dict[str, float]]] = {name: [] for name in ports}
        with ExitStack() as stack:
            stack.enter_context(process(fake, env, tmp / "slack.log"))
            wait_http(f"http://127.0.0.1:{slack_port}/api/api.test")
            stack.enter_context(process(bare_command(ports["bare Bolt"], args), env, tmp / "b"))
            for name, metrics in (("metrics off", None), ("metrics on", metrics_port)):
                own = {**env, "DATABASE_URL": f"sqlite:///{tmp / name.replace(' ', '-')}.db"}
                # The schema first: two gunicorn workers making it at once can race.
                upgrade = [str(VENV_BIN / "rally-slack"), "db", "upgrade"]
                subprocess.run(upgrade, env=own, check=True, capture_output=True)
                command = web_command(ports[name], args, metrics)
                stack.enter_context(process(command, own, tmp / f"{name}.log"))
            for port in ports.values():
                wait_http(f"http://127.0.0.1:{port}/healthz")
            urls = {name: f"http://127.0.0.1:{port}/slack/events" for name, port in ports.items()}
            for url in urls.values():  # warm-up: imports, connections, users.info cache
                asyncio.run(open_loop(url, 20, 2, request_mix()))
            names = list(urls)
            for i in range(args.rounds):
                for name in names[i % len(names) :] + names[: i % len(names)]:
                    samples = asyncio.run(
                        open_loop(urls[name], args.rate, args.seconds, request_mix())
                    )
                    rounds[name].append(summarize(samples))
            scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
    counted = sum(
        float(line.rsplit(" ", 1)[1])
        for line in scraped.splitlines()
        if line.startswith("rally_slack_requests_total{")
    )
    figures: dict[str, Any] = {}
    for name, runs in rounds.items():
        figures[name] = {
            "p50_ms": median([r["p50_ms"] for r in runs]),
            "p99_ms": median([r["p99_ms"] for r in runs]),
            "errors": sum(r["errors"] for r in runs),
            "n": sum(r["n"] for r in runs),
            "rounds": runs,
        }
    off, on, bare = figures["metrics off"], figures["metrics on"], figures["bare Bolt"]
    rows = [
        (name, f["n"], f["errors"], f"{f['p50_ms']:.1f}", f"{f['p99_ms']:.1f}")
        for name, f in figures.items()
    ]
    rows.append(
        (
            "on / off",
            "",
            "",
            f"{on['p50_ms'] / off['p50_ms']:.2f}x",
            f"{on['p99_ms'] / off['p99_ms']:.2f}x",
        )
    )
    rows.append(("on / bare Bolt", "", "", f"{on['p50_ms'] / bare['p50_ms']:.2f}x", ""))
    print_table(
        f"Ack latency at {args.rate} req/s, medians of {args.rounds} rounds of {args.seconds:g} s (ms)",
        ["server", "n", "errors", "p50", "p99"],
        rows,
    )
    print(f"/metrics counted {counted:.0f} requests on the metrics-on server")
    path = save("bench_metrics", {"args": vars(args), "figures": figures, "counted": counted})
    print(f"raw figures: {path}")


if __name__ == "__main__":
    main()
