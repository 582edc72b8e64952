"""CSV import throughput: 10,000 rows through the import job, beside the API's own bulk rate.

In the same run, against the same sandbox (gunicorn, 2 workers) and a private Redis:

- **API bulk** — the rows as ready JSON, POSTed straight to ``/api/v1/activities/bulk`` 100
  at a time, one after another (the ceiling any importer of this API has);
- **import job** — what pressing Import costs end to end: the file read and validated
  (``read_csv``), kept in Redis, then ``workers.imports.slack.import_from_slack`` run by an
  RQ burst worker: chunk by chunk with its Idempotency-Key and recorded progress, the DM
  message updated after each chunk (``chat.update`` on the fake Slack, in its own process),
  the summary and the failed-rows upload at the end;
- **read only** — ``read_csv`` alone on the same 10,000 rows.

Each repeat imports a new file (new subjects), so nothing is replayed. Medians of repeats.

Run:  .venv/bin/python bench/bench_import.py [--rows 10000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _common import free_port, median, print_table, rally_process, redis_server, save, wait_http

from sandbox.app import DEV_API_KEY

BOT_TOKEN = "xoxb-bench-not-a-real-token"
FAKE_SLACK_SERVER = Path(__file__).with_name("_fake_slack_server.py")
TEAM, USER = "T0BENCH", "U0ALICE"
DEAL = "c8f9a0b1-2d3e-4f56-7890-abcdef123456"


def rows(n: int, tag: str) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for i in range(n):
        match i % 4:
            case 0:
                out.append(
                    {
                        "activityType": "call",
                        "subject": f"{tag} call {i}",
                        "callDirection": "outbound",
                        "callDurationSeconds": 60 + i % 600,
                        "dealId": DEAL,
                    }
                )
            case 1:
                out.append(
                    {
                        "activityType": "task",
                        "subject": f"{tag} task {i}",
                        "dueDate": "2026-12-15T09:00:00Z",
                        "priority": "high",
                    }
                )
            case 2:
                out.append({"activityType": "note", "subject": f"{tag} note {i}", "body": "x" * 80})
            case _:
                out.append({"activityType": "meeting", "subject": f"{tag} meeting {i}"})
    return out


COLUMNS = ["activityType", "subject", "body", "dueDate", "priority", "callDirection"]
COLUMNS += ["callDurationSeconds", "dealId"]


def csv_of(items: list[dict[str, object]]) -> bytes:
    import csv
    import io

    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(items)
    return out.getvalue().encode()


def api_bulk(base_url: str, items: list[dict[str, object]]) -> float:
    with httpx.Client(base_url=base_url, headers={"X-Api-Key": DEV_API_KEY}, timeout=60) as http:
        start = time.perf_counter()
        for i in range(0, len(items), 100):
            response = http.post("/api/v1/activities/bulk", json=items[i : i + 100])
            response.raise_for_status()
            assert response.json()["created"] == len(items[i : i + 100])
        return len(items) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, redis_server(Path(tmp)) as redis_url:
        api_port, slack_port = free_port(), free_port()
        base_url = f"http://127.0.0.1:{api_port}"
        db = Path(tmp) / "bench.db"
        env = {
            "REDIS_URL": redis_url,
            "RALLY_BASE_URL": base_url,
            "RALLY_API_KEY": DEV_API_KEY,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": "bench-not-a-secret",
            "SLACK_API_URL": f"http://127.0.0.1:{slack_port}/api/",
            "DATABASE_URL": f"sqlite:///{Path(tmp) / 'rally-slack.db'}",
            "JOB_RETRY_INTERVALS": "0,0",
        }
        os.environ.update(env)
        fake = subprocess.Popen(
            [sys.executable, str(FAKE_SLACK_SERVER), str(slack_port), BOT_TOKEN],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        server = ["sandbox", "--port", str(api_port), "--db", str(db), "--workers", "2"]
        try:
            with rally_process(server):
                wait_http(f"{base_url}/openapi.json")
                wait_http(f"http://127.0.0.1:{slack_port}/api/api.test")
                samples = run(base_url, args)
        finally:
            fake.terminate()
            fake.wait(timeout=10)

    medians = {name: median(values) for name, values in samples.items()}
    table = [
        (name, f"{medians[name]:,.0f}", " ".join(f"{v:,.0f}" for v in samples[name]))
        for name in samples
    ]
    print_table(
        f"{args.rows:,} rows (rows/s; median of {args.repeats})",
        ["mode", "median", "samples"],
        table,
    )
    # The machine is shared: each repeat's two runs are back to back, so their ratio is
    # steadier than the ratio of the medians.
    ratios = [
        job / direct
        for job, direct in zip(
            samples["import job (end to end)"], samples["API bulk, direct"], strict=True
        )
    ]
    print(
        f"\nimport job / API's own bulk rate: median of repeats {median(ratios):.2f} "
        f"({' '.join(f'{r:.2f}' for r in ratios)}); of the medians "
        f"{medians['import job (end to end)'] / medians['API bulk, direct']:.2f}"
    )
    path = save(
        "bench_import",
        {"args": vars(args), "samples": samples, "medians": medians, "ratios": ratios},
    )
    print(f"raw figures: {path}")


def run(base_url: str, args: argparse.Namespace) -> dict[str, list[float]]:
    # Imported here: they read the environment set above.
    from slack_sdk import WebClient

    from core.redis import worker_redis
    from core.settings import Settings
    from workers import queues
    from workers.imports import progress
    from workers.imports.csv_file import read_csv
    from workers.runner import preload, run_burst

    preload()
    settings = Settings()
    conn = worker_redis(settings.redis_url)
    slack = WebClient(token=BOT_TOKEN, base_url=settings.slack_api_url)
    dm = slack.conversations_open(users=USER)["channel"]["id"]
    samples: dict[str, list[float]] = {
        "API bulk, direct": [],
        "import job (end to end)": [],
        "read_csv only": [],
    }
    api_bulk(base_url, rows(200, "warm-up"))
    for r in range(args.repeats):
        samples["API bulk, direct"].append(api_bulk(base_url, rows(args.rows, f"direct{r}")))

        data = csv_of(rows(args.rows, f"import{r}"))
        start = time.perf_counter()
        read_csv(data)
        samples["read_csv only"].append(args.rows / (time.perf_counter() - start))

        start = time.perf_counter()
        parsed = read_csv(data)
        import_id = progress.import_id_for(TEAM, USER, data)
        progress.save(conn, import_id, parsed, team=TEAM, user=USER, filename=f"bench{r}.csv")
        ts = slack.chat_postMessage(channel=dm, text="preview")["ts"]
        queues.enqueue_import(
            conn, settings, import_id=import_id, team=TEAM, user=USER, channel=dm, message_ts=ts
        )
        run_burst(conn, [queues.IMPORTS], log_level="WARNING")
        elapsed = time.perf_counter() - start
        summary = progress.summary(conn, import_id)
        assert summary is not None and summary["created"] == args.rows, summary
        samples["import job (end to end)"].append(args.rows / elapsed)
    return samples


if __name__ == "__main__":
    main()
