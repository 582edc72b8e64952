"""Drain throughput: 2,000 queued creates through N ``rally-activities`` workers, beside
the Activities API's own single and bulk create rates, measured in the same run.

For each N (default 1 and 2): a private Redis is emptied, N submissions are queued as the
bot queues them (``workers.queues.enqueue_create_activity``, 8 people), then N
``rally-slack worker --queue rally-activities`` processes drain them against
``rally-slack sandbox`` (gunicorn, 2 workers). The rate counts from the first activity
Rally stored to the last (its ``createdAt``), so worker start-up is not in it. Telling
people is not measured (no notify worker runs). Each run checks that every submission
was created exactly once.

``--ignore-key-drop RATE`` adds runs against a sandbox started with ``--no-idempotency
--drop-rate RATE``: every unanswered create is reconciled (``workers.delivery``), and
the run reports the reconciling lists and any duplicate.

Run:  .venv/bin/python bench/bench_drain.py [--count 2000] [--worker-counts 1 2]
          [--ignore-key-drop 0.05 [--ignore-key-count 500]]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from _common import free_port, print_table, redis_server, save, wait_http
from bench_api import bulk_creates, single_creates

from api_client import RallyClient
from sandbox.app import DEV_API_KEY

BENCH = Path(__file__).resolve().parent
RALLY_SLACK = str(Path(sys.executable).with_name("rally-slack"))
PEOPLE = [f"U0BENCH{n}" for n in range(8)]


@contextlib.contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def sandbox(port: int, db: Path, extra: list[str]) -> list[str]:
    return [RALLY_SLACK, "sandbox", "--port", str(port), "--db", str(db), "--workers", "2", *extra]


def queue_submissions(redis_url: str, count: int, tag: str) -> None:
    import redis

    from core.settings import Settings
    from workers import queues

    conn = redis.Redis.from_url(redis_url)
    conn.flushdb()
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    for i in range(count):
        queues.enqueue_create_activity(
            conn,
            settings,
            submission_id=f"{tag}-{i}",
            request={"activityType": "note", "subject": f"{tag} note {i}", "body": "x" * 64},
            origin={"team": "T0BENCH", "channel": "C0BENCH", "user": PEOPLE[i % len(PEOPLE)]},
        )


def stored(api: str, tag: str) -> list[dict[str, Any]]:
    with RallyClient(api, DEV_API_KEY) as rally:
        return [
            {"subject": a.subject, "createdAt": a.created_at}
            for a in rally.iter_activities(fields=["subject", "createdAt"])
            if a.subject and a.subject.startswith(f"{tag} note ")
        ]


def drain(
    api: str, reader: str, env: dict[str, str], workers: int, count: int, tag: str, tmp: Path
) -> dict[str, Any]:
    queue_submissions(env["REDIS_URL"], count, tag)
    deadline = time.monotonic() + max(120.0, count / 5)
    with contextlib.ExitStack() as stack:
        for n in range(workers):
            stack.enter_context(
                process(
                    [RALLY_SLACK, "worker", "--queue", "rally-activities"],
                    env,
                    tmp / f"{tag}-worker{n}.log",
                )
            )
        while True:
            found = stored(reader, tag)
            if len({a["subject"] for a in found}) >= count or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    times = sorted(a["createdAt"] for a in found)
    span = (times[-1] - times[0]).total_seconds() if len(times) > 1 else float("nan")
    copies = Counter(a["subject"] for a in found)
    return {
        "created": len(copies),
        "duplicates": sum(c - 1 for c in copies.values()),
        "rate": (len(times) - 1) / span if span else float("nan"),
        "span_s": span,
    }


def reconciling_lists(log_dir: Path, tag: str) -> int:
    return sum(
        path.read_text(errors="replace").count("event=create_reconciled")
        for path in log_dir.glob(f"{tag}-worker*.log")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--worker-counts", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--ignore-key-drop", type=float, default=None, metavar="RATE")
    parser.add_argument("--ignore-key-count", type=int, default=500, help="creates per such run")
    parser.add_argument("--logs", help="keep the workers' logs in this folder")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp_name, redis_server(Path(tmp_name)) as redis_url:
        tmp = Path(args.logs or tmp_name)
        tmp.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(BENCH.parent), str(BENCH)]),
            "SLACK_SIGNING_SECRET": "bench-signing-secret-not-real",
            "SLACK_BOT_TOKEN": "xoxb-bench-not-a-real-token",
            "SLACK_API_URL": "http://127.0.0.1:9/api/",
            "REDIS_URL": redis_url,
            "RALLY_API_KEY": DEV_API_KEY,
            "DATABASE_URL": f"sqlite:///{tmp / 'rally-slack.db'}",
            "JOB_RETRY_INTERVALS": "0,1,2",
            "LOG_LEVEL": "INFO",
        }
        modes: list[tuple[str, list[str]]] = [("honours key", [])]
        if args.ignore_key_drop is not None:
            drop = ["--no-idempotency", "--drop-rate", str(args.ignore_key_drop)]
            modes.append((f"ignores key, {args.ignore_key_drop:.0%} dropped", drop))
        rows: list[tuple[object, ...]] = []
        results: dict[str, Any] = {}
        for m, (mode, extra) in enumerate(modes):
            port, read_port = free_port(), free_port()
            api, reader = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{read_port}"
            db = tmp / f"sandbox{m}.db"
            with (
                process(sandbox(port, db, extra), env, tmp / "sandbox.log"),
                # The same database without faults, for counting what was stored.
                process(sandbox(read_port, db, []), env, tmp / "reader.log"),
            ):
                wait_http(f"{api}/openapi.json")
                wait_http(f"{reader}/openapi.json")
                run_env = {**env, "RALLY_BASE_URL": api}
                os.environ.update(run_env)
                count = args.count if not extra else args.ignore_key_count
                for workers in args.worker_counts:
                    tag = f"m{m}w{workers}-{datetime.now().strftime('%H%M%S')}"
                    result = drain(api, reader, run_env, workers, count, tag, tmp)
                    result["reconciled"] = reconciling_lists(tmp, tag)
                    results[f"{mode}, workers={workers}"] = result
                    rows.append(
                        (
                            mode,
                            workers,
                            f"{result['rate']:.1f}",
                            f"{result['created']}/{count}",
                            result["duplicates"],
                            result["reconciled"],
                        )
                    )
                    print(*rows[-1], flush=True)
                if not extra:
                    single = single_creates(api, 1, 400)
                    bulk = bulk_creates(api, args.count)
                    results["api single x1"] = single
                    results["api bulk"] = bulk
    print_table(
        "Draining queued creates (activities/s, first to last stored)",
        ["sandbox", "workers", "activities/s", "created", "duplicates", "reconciled"],
        rows,
    )
    print(
        f"\nsame run, the Activities API itself: single creates (1 client) "
        f"{results['api single x1']:,.0f}/s, bulk {results['api bulk']:,.0f}/s"
    )
    print(f"raw figures: {save('bench_drain', {'args': vars(args), 'results': results})}")


if __name__ == "__main__":
    main()
