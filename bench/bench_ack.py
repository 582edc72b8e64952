"""Slack acknowledgement latency, open loop, beside a bare-Bolt floor; then
submission-to-created latency and throughput through Redis and N workers.

Part 1 — acknowledgements. ``rally-slack web`` and a Bolt app that only acks
(``bench/bare_bolt.py``) are served the same way (gunicorn gthread, same workers and
threads) and sent the same signed requests at 10, 50 and 100 requests/s, open loop: each
request has a scheduled send time and its latency counts from then, so a stalled server
cannot hide queueing. The mix cycles through ``/rally help``, a quick-create
(``/rally task … due:"tomorrow 5pm" !high``: parse in the user's zone, enqueue), ``/rally
call`` (opens a modal: a ``views.open`` call to the fake Slack) and a call modal's
``view_submission`` (validate, enqueue).

Part 2 — work. With N = 1, 2, 4 workers on the activities queue (plus one notify worker)
and the sandbox as the Activities API: ``--burst-size`` call-modal submissions sent as fast
as the web app takes them, timed until the last is created in the API (activities/s), and
submission-to-created latency at a light load (5/s).

Run:  .venv/bin/python bench/bench_ack.py [--seconds 10] [--web-workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import redis
from _common import free_port, median, percentile, print_table, redis_server, save, wait_http

from devstack.fake_slack.payloads import (
    interactive_body,
    signed_headers,
    slash_command,
    state_values_for,
    view_submission,
)
from sandbox.app import DEV_API_KEY
from slack_ui.modals import build_log_modal

SECRET = "bench-signing-secret-not-real"
TOKEN = "xoxb-bench-not-a-real-token"
BENCH = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent
DEADLINE_S = 3.0

Body = tuple[str, bytes]


def call_view() -> dict[str, Any]:
    return build_log_modal("call", metadata={"channel": "C0SALES"}).to_dict()


def call_submission(view: dict[str, Any], subject: str) -> bytes:
    values = {"subject": subject, "outcome": "connected", "duration": "25"}
    payload = view_submission(
        {**view, "id": f"V{subject.replace(' ', '')}"}, state_values_for(view, values)
    )
    return interactive_body(payload)


def request_mix() -> Callable[[int], Body]:
    view = call_view()

    def make(i: int) -> Body:
        match i % 4:
            case 0:
                return "help", slash_command("help")
            case 1:
                return "quick-create", slash_command(
                    f'task Send proposal {i} due:"tomorrow 5pm" !high'
                )
            case 2:
                return "open modal", slash_command("call")
            case _:
                return "submit modal", call_submission(view, f"Ack bench call {i}")

    return make


async def open_loop(
    url: str, rate: float, seconds: float, make: Callable[[int], Body]
) -> list[tuple[str, float, int]]:
    """Send rate*seconds requests on schedule; (kind, latency from schedule, status)."""
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=200)
    results: list[tuple[str, float, int]] = []
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:
        loop = asyncio.get_running_loop()

        async def send(scheduled: float, kind: str, body: bytes) -> None:
            try:
                response = await client.post(
                    url, content=body, headers=signed_headers(body, SECRET)
                )
                status = response.status_code
            except httpx.HTTPError:
                status = 0
            results.append((kind, loop.time() - scheduled, status))

        start = loop.time() + 0.1
        tasks = []
        for i in range(int(rate * seconds)):
            scheduled = start + i / rate
            delay = scheduled - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            kind, body = make(i)
            tasks.append(asyncio.create_task(send(scheduled, kind, body)))
        await asyncio.gather(*tasks)
    return results


@contextlib.contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            args, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=BENCH.parent
        )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def summarize(samples: list[tuple[str, float, int]]) -> dict[str, float]:
    latencies = [latency * 1000 for _, latency, status in samples]
    return {
        "n": len(samples),
        "errors": sum(1 for _, _, status in samples if status != 200),
        "p50_ms": median(latencies),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies),
        "near_deadline": sum(1 for ms in latencies if ms >= DEADLINE_S * 1000 * 0.8),
    }


def part_acks(args: argparse.Namespace, env: dict[str, str], tmp: Path) -> dict[str, Any]:
    rally_port, bare_port = free_port(), free_port()
    web = [
        str(VENV_BIN / "rally-slack"),
        "web",
        "--host",
        "127.0.0.1",
        "--port",
        str(rally_port),
        "--workers",
        str(args.web_workers),
        "--threads",
        str(args.threads),
        "--log-level",
        "warning",
    ]
    bare = [
        str(VENV_BIN / "gunicorn"),
        "--chdir",
        str(BENCH),
        "-b",
        f"127.0.0.1:{bare_port}",
        "-w",
        str(args.web_workers),
        "-k",
        "gthread",
        "--threads",
        str(args.threads),
        "--timeout",
        "30",
        "--keep-alive",
        "5",
        "--no-control-socket",
        "--log-level",
        "warning",
        "bare_bolt:app",
    ]
    results: dict[str, Any] = {}
    with contextlib.ExitStack() as servers:
        servers.enter_context(process(web, env, tmp / "web.log"))
        servers.enter_context(process(bare, env, tmp / "bare.log"))
        targets = {
            "bare": f"http://127.0.0.1:{bare_port}/slack/events",
            "rally": f"http://127.0.0.1:{rally_port}/slack/events",
        }
        if args.process_before_response:
            # The same two apps with Bolt's process_before_response=True, served the same
            # way as the floor (gunicorn from bench/), so the setting is the difference.
            for name, module, extra in (
                ("bare-pbr", "bare_bolt:app", {"BARE_BOLT_PROCESS_BEFORE_RESPONSE": "1"}),
                ("rally-pbr", "rally_pbr:app", {}),
            ):
                port = free_port()
                argv = [*bare[:4], f"127.0.0.1:{port}", *bare[5:-1], module]
                servers.enter_context(process(argv, {**env, **extra}, tmp / f"{name}.log"))
                targets[name] = f"http://127.0.0.1:{port}/slack/events"
        for url in targets.values():
            wait_http(url.replace("/slack/events", "/healthz"))
        for url in targets.values():  # warm-up: imports, connections, users.info cache
            asyncio.run(open_loop(url, 20, 2, request_mix()))
        for rate in args.rates:
            for name, url in targets.items():
                samples = asyncio.run(open_loop(url, rate, args.seconds, request_mix()))
                results[f"{name}@{rate}"] = summarize(samples)
                if name.startswith("rally"):
                    kinds = sorted({kind for kind, _, _ in samples})
                    for kind in kinds:
                        results[f"{name}@{rate}:{kind}"] = summarize(
                            [s for s in samples if s[0] == kind]
                        )
    return results


def created_times(api: str, since: datetime, prefix: str) -> dict[str, float]:
    with httpx.Client(base_url=api, headers={"X-Api-Key": DEV_API_KEY}) as client:
        found: dict[str, float] = {}
        offset = 0
        while True:
            page = client.get(
                "/api/v1/activities",
                params={
                    "updatedSince": since.isoformat().replace("+00:00", "Z"),
                    "limit": 100,
                    "offset": offset,
                    "fields": "subject,createdAt",
                },
            ).json()
            for item in page:
                if item["subject"].startswith(prefix):
                    found[item["subject"]] = datetime.fromisoformat(
                        item["createdAt"].replace("Z", "+00:00")
                    ).timestamp()
            if len(page) < 100:
                return found
            offset += 100


def submit_all(url: str, subjects: list[str], concurrency: int) -> dict[str, float]:
    view = call_view()
    sent: dict[str, float] = {}

    async def run() -> None:
        queue: asyncio.Queue[str] = asyncio.Queue()
        for subject in subjects:
            queue.put_nowait(subject)
        async with httpx.AsyncClient(timeout=30.0) as client:

            async def worker() -> None:
                while not queue.empty():
                    subject = queue.get_nowait()
                    body = call_submission(view, subject)
                    sent[subject] = time.time()
                    response = await client.post(
                        url, content=body, headers=signed_headers(body, SECRET)
                    )
                    assert response.status_code == 200 and response.text in ("", "{}"), (
                        response.text
                    )

            await asyncio.gather(*(worker() for _ in range(concurrency)))

    asyncio.run(run())
    return sent


def wait_created(
    api: str, since: datetime, prefix: str, count: int, timeout: float
) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while True:
        found = created_times(api, since, prefix)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def part_workers(args: argparse.Namespace, env: dict[str, str], tmp: Path) -> dict[str, Any]:
    api_port, web_port = free_port(), free_port()
    api = f"http://127.0.0.1:{api_port}"
    env = {**env, "RALLY_BASE_URL": api}
    sandbox = [
        str(VENV_BIN / "rally-slack"),
        "sandbox",
        "--port",
        str(api_port),
        "--db",
        str(tmp / "api.db"),
        "--workers",
        "2",
    ]
    web = [
        str(VENV_BIN / "rally-slack"),
        "web",
        "--host",
        "127.0.0.1",
        "--port",
        str(web_port),
        "--workers",
        str(args.web_workers),
        "--threads",
        str(args.threads),
        "--log-level",
        "warning",
    ]
    worker = [
        str(VENV_BIN / "rally-slack"),
        "worker",
        "--log-level",
        os.environ.get("BENCH_WORKER_LOG", "WARNING"),
        "--queue",
    ]
    url = f"http://127.0.0.1:{web_port}/slack/events"
    results: dict[str, Any] = {}
    with (
        process(sandbox, env, tmp / "sandbox.log"),
        process(web, env, tmp / "web2.log"),
        process([*worker, "rally-notify"], env, tmp / "notify.log"),
    ):
        wait_http(f"{api}/openapi.json")
        wait_http(f"http://127.0.0.1:{web_port}/healthz")
        for n in args.worker_counts:
            with contextlib.ExitStack() as stack:
                for k in range(n):
                    stack.enter_context(
                        process([*worker, "rally-activities"], env, tmp / f"worker{n}-{k}.log")
                    )
                time.sleep(2.0)  # let the workers register before timing
                since = datetime.now().astimezone()
                # light load: latency with idle workers
                light = [f"light{n} {i}" for i in range(args.light_count)]
                sent: dict[str, float] = {}
                for subject in light:
                    sent |= submit_all(url, [subject], 1)
                    time.sleep(1 / args.light_rate)
                created = wait_created(api, since, f"light{n} ", len(light), 60)
                light_latency = [created[s] - sent[s] for s in light if s in created]
                # burst: throughput until the last one is created
                burst = [f"burst{n} {i}" for i in range(args.burst_size)]
                sent = submit_all(url, burst, 16)
                created = wait_created(api, since, f"burst{n} ", len(burst), 300)
                first_sent = min(sent.values())
                results[f"workers={n}"] = {
                    "created": len(created),
                    "throughput_per_s": len(created) / (max(created.values()) - first_sent),
                    "light_p50_ms": median(light_latency) * 1000,
                    "light_max_ms": max(light_latency) * 1000,
                    "burst_p50_ms": median([created[s] - sent[s] for s in created]) * 1000,
                }
    return results


def web_env(tmp: Path, redis_url: str, slack_port: int) -> dict[str, str]:
    """The environment of the benchmarks' servers: the fake Slack on ``slack_port``, a
    private Redis, a store of their own in ``tmp`` (never the checkout's ``.data/``, which
    another version of the code may have left at another revision), no Rally."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(BENCH.parent), str(BENCH)]),
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_API_URL": f"http://127.0.0.1:{slack_port}/api/",
        "REDIS_URL": redis_url,
        "DATABASE_URL": f"sqlite:///{tmp / 'rally-slack.db'}",
        "RALLY_BASE_URL": "http://127.0.0.1:9/unused",
        "RALLY_API_KEY": DEV_API_KEY,
        "JOB_RETRY_INTERVALS": "1,2",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per rate and target")
    parser.add_argument("--rates", type=int, nargs="+", default=[10, 50, 100])
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--worker-counts", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--burst-size", type=int, default=300)
    parser.add_argument("--light-count", type=int, default=20)
    parser.add_argument("--light-rate", type=float, default=5.0)
    parser.add_argument("--skip-workers", action="store_true")
    parser.add_argument(
        "--process-before-response",
        action="store_true",
        help="also measure both apps with Bolt's process_before_response=True",
    )
    parser.add_argument("--logs", help="keep the servers' logs in this folder")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp_name, redis_server(Path(tmp_name)) as redis_url:
        tmp = Path(args.logs or tmp_name)
        tmp.mkdir(parents=True, exist_ok=True)
        slack_port = free_port()
        env = web_env(Path(tmp_name), redis_url, slack_port)
        fake = [sys.executable, str(BENCH / "_fake_slack_server.py"), str(slack_port), TOKEN]
        with process(fake, env, tmp / "slack.log"):
            wait_http(f"http://127.0.0.1:{slack_port}/api/api.test")
            acks = part_acks(args, env, tmp)
            # Part 1 queued real jobs; part 2 must start from an empty Redis.
            redis.Redis.from_url(redis_url).flushdb()
            work = {} if args.skip_workers else part_workers(args, env, tmp)

    rows = []
    for rate in args.rates:
        bare, rally = acks[f"bare@{rate}"], acks[f"rally@{rate}"]
        apps = [("bare Bolt", bare), ("rally-slack", rally)]
        if f"rally-pbr@{rate}" in acks:
            apps += [
                ("bare Bolt, pbr", acks[f"bare-pbr@{rate}"]),
                ("rally-slack, pbr", acks[f"rally-pbr@{rate}"]),
            ]
        for name, s in apps:
            rows.append(
                (
                    rate,
                    name,
                    s["n"],
                    s["errors"],
                    f"{s['p50_ms']:.1f}",
                    f"{s['p99_ms']:.1f}",
                    f"{s['max_ms']:.1f}",
                    s["near_deadline"],
                )
            )
        rows.append(
            (
                rate,
                "ratio p50",
                "",
                "",
                f"{rally['p50_ms'] / bare['p50_ms']:.2f}x",
                f"{rally['p99_ms'] / bare['p99_ms']:.2f}x",
                "",
                "",
            )
        )
        if f"rally-pbr@{rate}" in acks:
            pbr = acks[f"rally-pbr@{rate}"]
            rows.append(
                (
                    rate,
                    "ratio p50, pbr / bare",
                    "",
                    "",
                    f"{pbr['p50_ms'] / bare['p50_ms']:.2f}x",
                    f"{pbr['p99_ms'] / bare['p99_ms']:.2f}x",
                    "",
                    "",
                )
            )
    print_table(
        "Acknowledgement latency, open loop (ms from scheduled send)",
        ["req/s", "app", "n", "errors", "p50", "p99", "max", ">=2.4s"],
        rows,
    )
    rows = [
        (
            key.split("@")[0],
            key.split(":", 1)[1],
            key.split("@")[1].split(":")[0],
            f"{s['p50_ms']:.1f}",
            f"{s['p99_ms']:.1f}",
            f"{s['max_ms']:.1f}",
        )
        for key, s in acks.items()
        if ":" in key
    ]
    print_table("rally-slack by request kind", ["app", "kind", "req/s", "p50", "p99", "max"], rows)
    if work:
        rows = [
            (
                key,
                w["created"],
                f"{w['throughput_per_s']:.1f}",
                f"{w['light_p50_ms']:.0f}",
                f"{w['light_max_ms']:.0f}",
                f"{w['burst_p50_ms']:.0f}",
            )
            for key, w in work.items()
        ]
        print_table(
            "Submission to created in the API",
            [
                "workers",
                "created",
                "activities/s (burst)",
                "p50 ms @5/s",
                "max ms @5/s",
                "p50 ms in burst",
            ],
            rows,
        )
    print(f"raw figures: {save('bench_ack', {'args': vars(args), 'acks': acks, 'workers': work})}")


if __name__ == "__main__":
    main()
