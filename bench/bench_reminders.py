"""Reminders at scale: incremental sync and tick against a 100,000-activity tenant.

Stands up the sandbox under gunicorn (temp database) and a private ``redis-server``, seeds
the tenant through bulk create (mixed types; 20,000 pending tasks due over the coming four
weeks, a few within the reminder lead), then measures:

- the first sync: wall time and list requests (one pass over everything);
- the first tick (the tasks already within the lead get their reminders);
- the steady state, R times: 10 changes (complete one task, reschedule one, create one
  due in 5 minutes, delete one, edit the subject of six), then one sync + one tick:
  requests by kind and wall time. Medians are reported.

The bar (issue 4): a steady-state sync + tick costs at most 3 list requests plus one GET
per task actually reminded.

Run:  .venv/bin/python bench/bench_reminders.py [--activities 100000] [--tasks 20000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import redis
from _common import free_port, median, print_table, rally_process, redis_server, save, wait_http

from api_client import ActivityResponse, CreateActivityRequest, RallyClient
from devstack.counting import CountingTransport
from sandbox.app import DEV_API_KEY
from workers.reminders import TaskIndex, namespace_for, sync_tasks, tick

LEAD_MINUTES = 15
SEED_CHUNK = 2_000  # activities per bulk_create_activities call (20 requests of 100)


def seed_items(total: int, tasks: int, rng: random.Random, now: datetime) -> list[dict[str, Any]]:
    """The tenant: ``tasks`` pending tasks with due dates, the rest a mix of every type."""
    items: list[dict[str, Any]] = []
    for i in range(total):
        if i < tasks:
            if i % 1000 == 0:  # 1 in 1,000 is already within the lead
                due = now + timedelta(minutes=rng.uniform(1, LEAD_MINUTES - 1))
            else:
                due = now + timedelta(minutes=rng.uniform(LEAD_MINUTES + 30, 28 * 24 * 60))
            items.append(
                {
                    "activityType": "task",
                    "subject": f"Follow up #{i}",
                    "dueDate": due.isoformat(),
                    "priority": rng.choice(["low", "normal", "high", "urgent"]),
                }
            )
            continue
        kind = ("note", "call", "meeting", "task")[i % 4]
        item: dict[str, Any] = {"activityType": kind, "subject": f"{kind} #{i}", "body": "x" * 40}
        if kind == "task":  # completed, or pending without a due date: not reminded
            if i % 8 == 3:
                item |= {"status": "completed", "dueDate": (now - timedelta(days=1)).isoformat()}
        elif kind == "call":
            item |= {
                "callDirection": "outbound",
                "callOutcome": "connected",
                "callDurationSeconds": 300,
            }
        elif kind == "meeting":
            item |= {"durationMinutes": 30, "scheduledAt": (now + timedelta(days=2)).isoformat()}
        items.append(item)
    rng.shuffle(items)
    return items


def seed(base_url: str, items: list[dict[str, Any]], threads: int) -> float:
    chunks = [items[i : i + SEED_CHUNK] for i in range(0, len(items), SEED_CHUNK)]

    def send(chunk: list[dict[str, Any]]) -> int:
        with RallyClient(base_url, DEV_API_KEY, timeout=60) as client:
            result = client.bulk_create_activities(chunk)
        assert result.failed == 0, result.errors[:3]
        return result.created

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        created = sum(pool.map(send, chunks))
    assert created == len(items), created
    return time.perf_counter() - started


class Poster:
    """Stands in for Slack: records what would be posted."""

    def __init__(self) -> None:
        self.posted: list[str] = []

    def __call__(self, activity: ActivityResponse) -> bool:
        self.posted.append(activity.id)
        return True


def ten_changes(
    writer: RallyClient, index: TaskIndex, rng: random.Random, now: datetime
) -> dict[str, str]:
    """Complete, reschedule, create, delete, and edit six: pending tasks far from due."""
    horizon = (now + timedelta(hours=2)).timestamp()
    far = [
        m.decode()
        for m in index.conn.zrangebyscore(index.keys.due, horizon, "+inf", start=0, num=5000)
    ]
    picked = rng.sample(far, 9)
    writer.change_activity(picked[0], {"status": "completed"})
    writer.change_activity(picked[1], {"dueDate": (now + timedelta(days=3)).isoformat()})
    new = writer.create_activity(
        CreateActivityRequest.model_validate(
            {
                "activityType": "task",
                "subject": "New: due in 5 minutes",
                "dueDate": (now + timedelta(minutes=5)).isoformat(),
            }
        )
    )
    writer.delete_activity(picked[2])
    for task_id in picked[3:9]:
        writer.change_activity(task_id, {"subject": f"Edited {rng.randrange(10**6)}"})
    return {
        "completed": picked[0],
        "rescheduled": picked[1],
        "created": new.id,
        "deleted": picked[2],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activities", type=int, default=100_000)
    parser.add_argument("--tasks", type=int, default=20_000, help="pending tasks with due dates")
    parser.add_argument("--repeats", type=int, default=5, help="steady-state samples")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers of the sandbox")
    parser.add_argument("--seed-threads", type=int, default=4)
    parser.add_argument("--page-size", type=int, default=100)
    args = parser.parse_args()
    rng = random.Random(4)
    results: dict[str, Any] = {"args": vars(args)}

    with tempfile.TemporaryDirectory() as tmp, redis_server(Path(tmp)) as redis_url:
        conn = redis.Redis.from_url(redis_url)
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        server = [
            "sandbox",
            "--port",
            str(port),
            "--db",
            str(Path(tmp) / "bench.db"),
            "--workers",
            str(args.workers),
        ]
        with rally_process(server):
            wait_http(f"{base_url}/openapi.json")
            now = datetime.now(UTC)
            seconds = seed(
                base_url, seed_items(args.activities, args.tasks, rng, now), args.seed_threads
            )
            results["seed"] = {
                "activities": args.activities,
                "seconds": seconds,
                "per_second": args.activities / seconds,
            }
            print(
                f"seeded {args.activities:,} activities in {seconds:.1f}s ({args.activities / seconds:,.0f}/s)"
            )

            index = TaskIndex(conn, namespace_for(base_url, DEV_API_KEY))
            counter = CountingTransport(httpx.HTTPTransport())
            client = RallyClient(base_url, DEV_API_KEY, transport=counter, timeout=60)
            writer = RallyClient(base_url, DEV_API_KEY, timeout=60)

            first = sync_tasks(client, index, page_size=args.page_size)
            first_counts = counter.reset()
            indexed = conn.zcard(index.keys.due)
            results["first_sync"] = {
                "seconds": first.seconds,
                "requests": first_counts,
                "seen": first.seen,
                "indexed": indexed,
                "redis_used_memory_mb": conn.info("memory")["used_memory"] / 2**20,
            }
            print(
                f"first sync: {first.seconds:.1f}s, {first_counts.get('list', 0)} list requests, "
                f"{first.seen:,} activities read, {indexed:,} pending tasks indexed"
            )

            poster = Poster()
            started = time.perf_counter()
            first_tick = tick(client, index, poster, lead_minutes=LEAD_MINUTES)
            results["first_tick"] = {
                "seconds": time.perf_counter() - started,
                "requests": counter.reset(),
                "posted": first_tick.posted,
            }
            print(
                f"first tick: {first_tick.posted} reminders (tasks seeded within the lead), {results['first_tick']['requests']}"
            )

            samples: list[dict[str, Any]] = []
            for _ in range(args.repeats):
                changes = ten_changes(writer, index, rng, datetime.now(UTC))
                counter.reset()
                poster.posted.clear()
                started = time.perf_counter()
                sync = sync_tasks(client, index, page_size=args.page_size)
                sync_seconds = time.perf_counter() - started
                report = tick(client, index, poster, lead_minutes=LEAD_MINUTES)
                total = time.perf_counter() - started
                counts = counter.reset()
                reminded = len(poster.posted)
                assert changes["created"] in poster.posted, (
                    "the new task due in 5 minutes was not reminded"
                )
                sample = {
                    "seconds": total,
                    "sync_seconds": sync_seconds,
                    "tick_seconds": total - sync_seconds,
                    "lists": counts.get("list", 0),
                    "gets": counts.get("get", 0),
                    "other": sum(v for k, v in counts.items() if k not in ("list", "get")),
                    "reminded": reminded,
                    "sync_seen": sync.seen,
                    "dropped": report.deleted + report.closed,
                    "bar_met": counts.get("list", 0) <= 3
                    and counts.get("get", 0) <= reminded
                    and set(counts) <= {"list", "get"},
                }
                samples.append(sample)
            client.close()
            writer.close()

    results["steady"] = samples
    rows = [
        (
            i + 1,
            s["lists"],
            s["gets"],
            s["reminded"],
            s["sync_seen"],
            f"{s['sync_seconds'] * 1000:.0f}",
            f"{s['tick_seconds'] * 1000:.0f}",
            f"{s['seconds'] * 1000:.0f}",
            "yes" if s["bar_met"] else "NO",
        )
        for i, s in enumerate(samples)
    ]
    print_table(
        "Steady state after 10 changes: one sync + one tick",
        ["run", "list", "get", "reminded", "read", "sync ms", "tick ms", "total ms", "bar"],
        rows,
    )
    summary = {
        key: median([s[key] for s in samples])
        for key in ("lists", "gets", "reminded", "seconds", "sync_seconds", "tick_seconds")
    }
    results["steady_median"] = summary
    print(
        f"\nmedian: {summary['lists']:g} list + {summary['gets']:g} get requests for {summary['reminded']:g} "
        f"reminders, {summary['seconds'] * 1000:.0f} ms (sync {summary['sync_seconds'] * 1000:.0f} ms, "
        f"tick {summary['tick_seconds'] * 1000:.0f} ms); bar met in {sum(s['bar_met'] for s in samples)}/{len(samples)} runs"
    )
    print(f"raw figures: {save('bench_reminders', results)}")


if __name__ == "__main__":
    main()
