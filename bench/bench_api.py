"""Activities API throughput: the client against the sandbox under gunicorn on this machine.

Measures, in one run, with R repetitions each (medians reported):
- single creates (activities/s) at 1, 4 and 16 concurrent clients;
- bulk creates through ``bulk_create_activities`` (activities/s);
- listing with ``iter_activities`` (items/s), with and without ``fields``;
and the bulk / single ratio (against single creates at 1 client and at the best concurrency).

Run:  .venv/bin/python bench/bench_api.py [--repeats 5] [--workers 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import free_port, median, print_table, rally_process, save, wait_http

from api_client import CreateActivityRequest, RallyClient
from sandbox.app import DEV_API_KEY


def make_request(i: int) -> CreateActivityRequest:
    kind = ("note", "task", "call", "meeting")[i % 4]
    body: dict[str, object] = {
        "activityType": kind,
        "subject": f"Bench activity {i}",
        "body": "x" * 64,
    }
    if kind == "task":
        body |= {"dueDate": (datetime.now(UTC) + timedelta(days=1)).isoformat(), "priority": "high"}
    elif kind == "call":
        body |= {
            "callDirection": "outbound",
            "callOutcome": "connected",
            "callDurationSeconds": 300,
        }
    elif kind == "meeting":
        body |= {"durationMinutes": 30, "location": "Room B"}
    return CreateActivityRequest.model_validate(body)


def single_creates(base_url: str, clients: int, total: int) -> float:
    per_client = total // clients

    def run(offset: int) -> None:
        with RallyClient(base_url, DEV_API_KEY, max_retries=0) as client:
            for i in range(per_client):
                client.create_activity(make_request(offset + i))

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(run, range(0, clients * per_client, per_client)))
    return clients * per_client / (time.perf_counter() - started)


def bulk_creates(base_url: str, total: int) -> float:
    requests = [make_request(i) for i in range(total)]
    with RallyClient(base_url, DEV_API_KEY, max_retries=0) as client:
        started = time.perf_counter()
        result = client.bulk_create_activities(requests)
        elapsed = time.perf_counter() - started
    assert result.created == total, result
    return total / elapsed


def list_all(base_url: str, fields: list[str] | None) -> tuple[float, int]:
    with RallyClient(base_url, DEV_API_KEY, max_retries=0) as client:
        started = time.perf_counter()
        count = sum(1 for _ in client.iter_activities(fields=fields, page_size=100))
        return count / (time.perf_counter() - started), count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers of the sandbox")
    parser.add_argument("--singles", type=int, default=400, help="creates per single-create sample")
    parser.add_argument("--bulk", type=int, default=2000, help="activities per bulk sample")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        db = Path(tmp) / "bench.db"
        server = ["sandbox", "--port", str(port), "--db", str(db), "--workers", str(args.workers)]
        with rally_process(server):
            wait_http(f"{base_url}/openapi.json")
            single_create(base_url)  # warm-up: connections, SQLite pages
            samples: dict[str, list[float]] = {
                "single x1": [],
                "single x4": [],
                "single x16": [],
                "bulk": [],
            }
            for _ in range(args.repeats):
                for clients in (1, 4, 16):
                    samples[f"single x{clients}"].append(
                        single_creates(base_url, clients, args.singles)
                    )
                samples["bulk"].append(bulk_creates(base_url, args.bulk))
            lists: dict[str, list[float]] = {
                "list (all fields)": [],
                "list (fields=id,status,dueDate)": [],
            }
            count = 0
            for _ in range(args.repeats):
                rate, count = list_all(base_url, None)
                lists["list (all fields)"].append(rate)
                rate, _ = list_all(base_url, ["id", "status", "dueDate"])
                lists["list (fields=id,status,dueDate)"].append(rate)

    medians = {name: median(values) for name, values in samples.items()}
    best_single = max(medians[k] for k in ("single x1", "single x4", "single x16"))
    rows = [
        (name, f"{medians[name]:,.0f}", " ".join(f"{v:,.0f}" for v in samples[name]))
        for name in samples
    ]
    print_table("Creates (activities/s; median of repeats)", ["mode", "median", "samples"], rows)
    list_medians = {name: median(values) for name, values in lists.items()}
    rows = [
        (name, f"{list_medians[name]:,.0f}", " ".join(f"{v:,.0f}" for v in lists[name]))
        for name in lists
    ]
    print_table(f"Listing {count:,} activities (items/s)", ["mode", "median", "samples"], rows)
    ratio_1 = medians["bulk"] / medians["single x1"]
    ratio_best = medians["bulk"] / best_single
    print(f"\nbulk / single x1 = {ratio_1:.1f}x; bulk / best single = {ratio_best:.1f}x")
    path = save(
        "bench_api",
        {
            "args": vars(args),
            "samples": samples,
            "lists": lists,
            "medians": medians,
            "list_medians": list_medians,
            "ratio_bulk_single1": ratio_1,
            "ratio_bulk_best": ratio_best,
        },
    )
    print(f"raw figures: {path}")


def single_create(base_url: str) -> None:
    with RallyClient(base_url, DEV_API_KEY) as client:
        client.create_activity(make_request(0))


if __name__ == "__main__":
    main()
