"""Fair per-tenant rate limits: how fast one tenant's creates go while another's Rally
answers 429 (SPEC §8, "a 429 slows that tenant's work, not every tenant's").

Two workspaces, each connected (``rally-slack connect``) to its own Rally tenant, each
tenant its own ``rally-slack sandbox``: tenant L with ``--rate-limit 20`` (one server
process, so the limit is exact), tenant F unlimited. In one run, against a private Redis
and store:

(a) F alone: ``--f-count`` submissions from 4 people, queued as the bot queues them
    (``workers.queues.enqueue_create_activity``), drained by ``--workers``
    ``rally-slack worker --queue rally-activities`` processes;
(b) L's backlog of ``--l-count`` (8 people) queued first, then F's ``--f-count``,
    drained by the same number of workers.

A rate counts from the first activity either tenant stored in that phase (its
``createdAt``, so worker start-up is not in it) to the tenant's last one: in (a) that is
bench_drain's first-to-last figure; in (b) it is what F's people see, so F waiting behind
L's backlog shows as a low rate. F's own first-to-last rate is printed beside it (it
hides the wait). "L left" is how many of L's activities Rally stored after F's last one:
fair scheduling finishes F while L still has work. L's 429s are the ``event=rate_limited``
lines its sandbox logged. Each phase checks both tenants got every submission exactly once.

Run:  .venv/bin/python bench/bench_fairness.py [--f-count 500] [--l-count 2000]
          [--workers 2] [--rate-limit 20] [--logs DIR]
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
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from _common import free_port, print_table, redis_server, save, wait_http

from api_client import RallyClient
from core.secrets import new_key
from sandbox.app import DEV_API_KEY

BENCH = Path(__file__).resolve().parent
RALLY_SLACK = str(Path(sys.executable).with_name("rally-slack"))
# Obviously fake: the limited tenant's own key (F uses the sandbox's development key).
LIMITED_KEY = "rk_bench_limited_tenant_not_a_real_key"


@dataclass(frozen=True)
class Tenant:
    name: str
    team: str
    api_key: str
    people: tuple[str, ...]
    api: str = ""
    reader: str = ""
    sandbox_log: Path = Path()


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


def sandbox(port: int, db: Path, key: str, extra: list[str]) -> list[str]:
    return [RALLY_SLACK, "sandbox", "--port", str(port), "--db", str(db), "--api-key", key, *extra]


def connect(tenant: Tenant, env: dict[str, str], tmp: Path) -> None:
    """What an operator does: ``rally-slack connect``, the key read from a file."""
    key_file = tmp / f"{tenant.team}.key"
    key_file.write_text(tenant.api_key + "\n")
    args = ["connect", "--team", tenant.team, "--rally-url", tenant.api]
    done = subprocess.run(
        [RALLY_SLACK, *args, "--api-key-file", str(key_file)],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"rally-slack connect failed:\n{done.stdout}{done.stderr}")


def queue_submissions(redis_url: str, tenant: Tenant, count: int, tag: str) -> None:
    import redis

    from core.settings import Settings
    from workers import queues

    conn = redis.Redis.from_url(redis_url)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    for i in range(count):
        queues.enqueue_create_activity(
            conn,
            settings,
            submission_id=f"{tag}-{i}",
            request={"activityType": "note", "subject": f"{tag} note {i}", "body": "x" * 64},
            origin={
                "team": tenant.team,
                "channel": "C0BENCH",
                "user": tenant.people[i % len(tenant.people)],
            },
        )


def stored(tenant: Tenant, tag: str) -> list[tuple[str, datetime]]:
    """(subject, createdAt) of the tenant's activities of this phase, read without limit."""
    with RallyClient(tenant.reader, tenant.api_key) as rally:
        return [
            (a.subject, a.created_at)
            for a in rally.iter_activities(fields=["subject", "createdAt"])
            if a.subject and a.subject.startswith(f"{tag} note ") and a.created_at
        ]


def rate_limited(tenant: Tenant) -> int:
    return tenant.sandbox_log.read_text(errors="replace").count("event=rate_limited")


def drain(
    env: dict[str, str], workers: int, batches: list[tuple[Tenant, int]], tag: str, tmp: Path
) -> dict[str, dict[str, Any]]:
    """Queue each (tenant, count) in order, run the workers until all are stored."""
    import redis

    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    limited_before = {t.name: rate_limited(t) for t, _ in batches}
    for tenant, count in batches:
        queue_submissions(env["REDIS_URL"], tenant, count, f"{tag}-{tenant.name}")
    total = sum(count for _, count in batches)
    deadline = time.monotonic() + max(120.0, total / 4)
    found: dict[str, list[tuple[str, datetime]]] = {}
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
            found = {t.name: stored(t, f"{tag}-{t.name}") for t, _ in batches}
            done = all(len({s for s, _ in found[t.name]}) >= c for t, c in batches)
            if done or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    start = min((when for rows in found.values() for _, when in rows), default=None)
    results: dict[str, dict[str, Any]] = {}
    for tenant, count in batches:
        rows = found[tenant.name]
        times = sorted(when for _, when in rows)
        copies = Counter(subject for subject, _ in rows)
        result: dict[str, Any] = {
            "queued": count,
            "created": len(copies),
            "missing": count - len(copies),
            "duplicates": sum(c - 1 for c in copies.values()),
            "rate_limited": rate_limited(tenant) - limited_before[tenant.name],
            "rate": float("nan"),
            "own_rate": float("nan"),
            "span_s": float("nan"),
        }
        if times and start is not None:
            span = (times[-1] - start).total_seconds()
            after_start = sum(1 for when in times if when > start)
            result["span_s"] = span
            result["rate"] = after_start / span if span else float("nan")
            own = (times[-1] - times[0]).total_seconds()
            result["own_rate"] = (len(times) - 1) / own if own else float("nan")
            result["last"] = times[-1]
        results[tenant.name] = result
    if len(batches) > 1 and "last" in results.get("F", {}):
        f_done = results["F"]["last"]
        results["F"]["l_left_when_done"] = sum(1 for _, when in found["L"] if when > f_done)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--f-count", type=int, default=500, help="F's submissions per phase")
    parser.add_argument("--l-count", type=int, default=2000, help="L's backlog")
    parser.add_argument("--workers", type=int, default=2, help="rally-activities workers")
    parser.add_argument("--rate-limit", type=int, default=20, help="L's requests/s")
    parser.add_argument("--logs", help="keep the sandboxes' and workers' logs in this folder")
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
            "DATABASE_URL": f"sqlite:///{tmp / 'rally-slack.db'}",
            "RALLY_SLACK_ENCRYPTION_KEYS": new_key(),
            "RALLY_ALLOWED_HOSTS": "127.0.0.1",
            # Patient enough that no create of L runs out of retries (SPEC §8: slowed, not
            # lost); what fairness needs is that this waiting is not F's.
            "JOB_RETRY_INTERVALS": "1,2,4,8,15,30,30,30,30,30",
            "LOG_LEVEL": "INFO",
        }
        # Each team's tenant comes from its stored connection, never RALLY_BASE_URL.
        for name in ("RALLY_BASE_URL", "RALLY_API_KEY", "SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET"):
            env.pop(name, None)
        os.environ.clear()
        os.environ.update(env)
        people_f = tuple(f"U0FREE{n}" for n in range(4))
        people_l = tuple(f"U0LIMIT{n}" for n in range(8))
        tenants: dict[str, Tenant] = {}
        with contextlib.ExitStack() as stack:
            for name, team, key, people, extra in (
                ("F", "T0FREE", DEV_API_KEY, people_f, ["--workers", "2"]),
                ("L", "T0LIMITED", LIMITED_KEY, people_l, ["--workers", "1"]),
            ):
                port, read_port = free_port(), free_port()
                db = tmp / f"sandbox-{name}.db"
                if name == "L":
                    extra = [*extra, "--rate-limit", str(args.rate_limit)]
                log = tmp / f"sandbox-{name}.log"
                stack.enter_context(process(sandbox(port, db, key, extra), env, log))
                # The same database without the limit, for counting what was stored.
                stack.enter_context(
                    process(sandbox(read_port, db, key, []), env, tmp / f"reader-{name}.log")
                )
                tenant = Tenant(
                    name,
                    team,
                    key,
                    people,
                    api=f"http://127.0.0.1:{port}",
                    reader=f"http://127.0.0.1:{read_port}",
                    sandbox_log=log,
                )
                wait_http(f"{tenant.api}/openapi.json")
                wait_http(f"{tenant.reader}/openapi.json")
                connect(tenant, env, tmp)
                tenants[name] = tenant
            stamp = datetime.now().strftime("%H%M%S")
            f, lim = tenants["F"], tenants["L"]
            alone = drain(env, args.workers, [(f, args.f_count)], f"a{stamp}", tmp)
            print("F alone:", alone["F"], flush=True)
            beside = drain(
                env, args.workers, [(lim, args.l_count), (f, args.f_count)], f"b{stamp}", tmp
            )
            print("F beside L:", beside["F"], "\nL:", beside["L"], flush=True)

    def row(phase: str, tenant: str, r: dict[str, Any]) -> tuple[object, ...]:
        return (
            phase,
            tenant,
            f"{r['rate']:.1f}",
            f"{r['own_rate']:.1f}",
            f"{r['span_s']:.1f}",
            f"{r['created']}/{r['queued']}",
            r["duplicates"],
            r["rate_limited"],
            r.get("l_left_when_done", ""),
        )

    ratio = beside["F"]["rate"] / alone["F"]["rate"]
    exactly_once = all(
        r["missing"] == 0 and r["duplicates"] == 0
        for phase in (alone, beside)
        for r in phase.values()
    )
    print_table(
        f"Fairness: F unlimited, L at {args.rate_limit} req/s, {args.workers} workers "
        "(activities/s from the phase's first stored activity)",
        [
            *("phase", "tenant", "act/s", "own first-last", "span s", "created", "dups"),
            *("429s", "L left at F's end"),
        ],
        [
            row("a: F alone", "F", alone["F"]),
            row("b: L first", "F", beside["F"]),
            row("b: L first", "L", beside["L"]),
        ],
    )
    print(f"\nF beside L / F alone: {ratio:.2f}   exactly once: {exactly_once}")
    path = save(
        "bench_fairness",
        {
            "args": vars(args),
            "alone": alone,
            "beside": beside,
            "ratio": ratio,
            "exactly_once": exactly_once,
        },
    )
    print(f"raw figures: {path}")


if __name__ == "__main__":
    main()
