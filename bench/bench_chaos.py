"""Chaos soak: queued creates through workers that are SIGKILLed, against a Rally that
answers 503s and 429s, drops answered (committed) requests, and ignores
``Idempotency-Key``; the bar is 0 duplicated, 0 lost, everyone told exactly once.

One run: a private Redis, a private ``DATABASE_URL``, a fake Slack
(``bench/_fake_slack_server.py``, its own process) and ``rally-slack sandbox --no-idempotency
--fail-rate 0.2 --throttle-rate 0.03 --drop-rate 0.05 --workers 2`` (the rates are
options), beside a clean sandbox on the same database that only counts what was stored.

- ``--count`` submissions (unique subjects) from 8 people are queued as the bot queues them
  (``workers.queues.enqueue_create_activity``) in ``--waves`` waves over ``--spread``
  seconds while the workers run, so the lanes see both lone creates and bulks.
- 2 ``rally-slack worker --queue rally-activities`` and 1 ``--queue rally-notify``, each in
  a session of its own. A killer SIGKILLs a random activities worker's whole tree (every
  process group in it: RQ's work horse has one of its own) ``--kills`` times, every
  ``--kill-every`` seconds while work remains, and starts a replacement at once.
- A killed drainer's job is recovered only by RQ's maintenance pass after its heartbeat
  expires. After the last kill, a ``rally-slack worker --burst`` (which runs that pass
  first) is started every ``--burst-every`` seconds (0: never; just wait for the long
  running workers' own pass); the *tail* is the time from the last kill to everyone told.
- ``--trickle-s S`` keeps submitting after the waves (one per person every
  ``--trickle-every`` s) for S seconds, so the lanes are busy while the killed drainers'
  jobs come back, retry and end (RQ re-runs a drainer that died up to 5 times over ~4 min).
- The run ends when every submission's activity is stored and every submitter was told of
  it, or was told it failed (or at ``--deadline``), plus ``--settle`` seconds for anything told twice.

Reported: created / duplicated (subjects stored more than once) / lost (never stored);
told / told twice / told the wrong person / not told (from the messages the fake Slack
received, by the activity links in them), and failure notices (messages naming none);
faults the sandbox injected (its log's ``event=fault_503``, ``event=fault_429``,
``event=fault_drop``); creates it handled (single and bulk requests); kills; reconciling
lists (the workers' ``event=batch_reconciled`` and ``event=create_reconciled``); total
time and the tail. Exits 1 if anything was duplicated, lost, not told exactly once, or
told a failure.

Coarse waves coalesce into few bulk requests, so few faults land; ``--waves 200 --spread
20`` gives mostly lone creates and many more requests (and faults).

Run:  .venv/bin/python bench/bench_chaos.py [--count 1000] [--kills 8] [--fail-rate 0.2]
          [--throttle-rate 0.03] [--drop-rate 0.05] [--burst-every 15]
          [--waves 10 --spread 10] [--trickle-s 0] [--logs DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from _common import free_port, kill_tree, print_table, redis_server, save, wait_http
from bench_drain import (
    ACTIVITY_LINK,
    APP_URL,
    PEOPLE,
    RALLY_SLACK,
    SLACK_TOKEN,
    confirmations,
    owner_of,
    process,
    received,
    sandbox,
    stored,
    submit,
    told_messages,
)

from sandbox.app import DEV_API_KEY

BENCH = Path(__file__).resolve().parent
FAULTS = {"503": "event=fault_503", "429": "event=fault_429", "drop": "event=fault_drop"}
RECONCILED = ("event=batch_reconciled", "event=create_reconciled")
# What the faulty sandbox did (the single and bulk creates it handled, dropped or not).
HANDLED = {"single": "event=activity_created", "bulk": "event=bulk_done"}


class Workers:
    """The long-running workers, each in a session of its own, killed and replaced."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.lock = threading.Lock()
        self.activities: list[subprocess.Popen[bytes]] = []
        self.everyone: list[subprocess.Popen[bytes]] = []
        self.started = 0

    def start(self, queue: str) -> subprocess.Popen[bytes]:
        with self.lock:
            self.started += 1
            log = self.logs / f"worker{self.started:02d}-{queue}.log"
            with log.open("ab") as out:
                proc = subprocess.Popen(
                    [RALLY_SLACK, "worker", "--queue", queue],
                    env=self.env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            self.everyone.append(proc)
            if queue == "rally-activities":
                self.activities.append(proc)
            return proc

    def kill_one(self, rng: random.Random) -> tuple[int, int]:
        """SIGKILL a random activities worker's tree, reap it, start a replacement."""
        with self.lock:
            victim = rng.choice(self.activities)
            self.activities.remove(victim)
        groups = kill_tree(victim.pid)
        victim.wait(timeout=30)
        self.start("rally-activities")
        return victim.pid, groups

    def stop(self) -> None:
        for proc in self.everyone:
            if proc.poll() is None:
                kill_tree(proc.pid, signal.SIGTERM)  # let them finish their jobs
        for proc in self.everyone:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                kill_tree(proc.pid)
                proc.wait(timeout=30)


def failure_notices(calls: list[dict[str, Any]]) -> list[str]:
    """The text of each message delivered that names no activity (a failure notice)."""
    out = []
    for call in calls:
        if call["method"] == "conversations.open" or not call["response"].get("ok"):
            continue
        params = call["params"]
        if not ACTIVITY_LINK.search(json.dumps(params, default=str)):
            out.append(str(params.get("text") or "")[:200])
    return out


def failed_subjects(notices: list[str], tag: str) -> set[str]:
    """The subjects named in failure notices (the message names the activity's subject)."""
    pattern = re.compile(re.escape(tag) + r" note \d+")
    return {subject for text in notices for subject in pattern.findall(text)}


def count_in_logs(logs: Path, pattern: str, needles: tuple[str, ...]) -> dict[str, int]:
    counts = dict.fromkeys(needles, 0)
    for path in logs.glob(pattern):
        text = path.read_text(errors="replace")
        for needle in needles:
            counts[needle] += text.count(needle)
    return counts


def soak(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    tag = f"chaos-{datetime.now().strftime('%H%M%S')}"
    rng = random.Random(args.seed)
    with contextlib.ExitStack() as stack:
        redis_url = stack.enter_context(redis_server(tmp))
        slack_port = free_port()
        slack = f"http://127.0.0.1:{slack_port}"
        fake = [sys.executable, str(BENCH / "_fake_slack_server.py"), str(slack_port)]
        fake += [SLACK_TOKEN, "--people", ",".join(PEOPLE), "--channel", "C0BENCH"]
        stack.enter_context(process(fake, dict(os.environ), tmp / "fake_slack.log"))
        port, read_port = free_port(), free_port()
        api, reader = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{read_port}"
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(BENCH.parent), str(BENCH)]),
            "SLACK_SIGNING_SECRET": "bench-signing-secret-not-real",
            "SLACK_BOT_TOKEN": SLACK_TOKEN,
            "SLACK_API_URL": f"{slack}/api/",
            "RALLY_APP_URL": APP_URL,
            "RALLY_BASE_URL": api,
            "REDIS_URL": redis_url,
            "RALLY_API_KEY": DEV_API_KEY,
            "DATABASE_URL": f"sqlite:///{tmp / 'rally-slack.db'}",
            "JOB_RETRY_INTERVALS": args.job_retry_intervals,
            "NOTIFY_RETRY_INTERVALS": args.notify_retry_intervals,
            "LOG_LEVEL": "INFO",
        }
        os.environ.update(env)  # submit() reads the settings from the environment
        db = tmp / "sandbox.db"
        faults = ["--no-idempotency", "--fail-rate", str(args.fail_rate)]
        faults += ["--throttle-rate", str(args.throttle_rate), "--drop-rate", str(args.drop_rate)]
        if args.sandbox_seed is not None:
            faults += ["--seed", str(args.sandbox_seed)]
        stack.enter_context(process(sandbox(port, db, faults), env, tmp / "sandbox.log"))
        stack.enter_context(process(sandbox(read_port, db, []), env, tmp / "reader.log"))
        wait_http(f"{api}/openapi.json")
        wait_http(f"{reader}/openapi.json")
        wait_http(f"{slack}/_bench/received")
        since, _ = received(slack, 0)

        workers = Workers(env, tmp)
        stack.callback(workers.stop)
        started = time.monotonic()
        for _ in range(args.activity_workers):
            workers.start("rally-activities")
        workers.start("rally-notify")

        done = threading.Event()
        kills: list[dict[str, Any]] = []

        def killer() -> None:
            for _ in range(args.kills):
                if done.wait(args.kill_every):
                    return
                pid, groups = workers.kill_one(rng)
                at = time.monotonic() - started
                kills.append({"at_s": round(at, 2), "pid": pid, "groups": groups})
                print(f"  {at:6.1f} s  SIGKILLed worker {pid} ({groups} process groups)")

        killing = threading.Thread(target=killer, name="killer", daemon=True)
        killing.start()
        per_wave = -(-args.count // args.waves)
        for wave in range(args.waves):
            numbers = range(wave * per_wave, min(args.count, (wave + 1) * per_wave))
            submit(redis_url, tag, numbers)
            if wave < args.waves - 1:
                time.sleep(args.spread / max(1, args.waves - 1))
        queued_s = time.monotonic() - started
        print(f"  {queued_s:6.1f} s  all {args.count} submissions queued", flush=True)
        # Then a trickle, one submission per person every --trickle-every seconds, so
        # the lanes stay busy while the killed drainers' jobs come back and end.
        trickles = int(args.trickle_s // args.trickle_every) if args.trickle_every > 0 else 0
        total = args.count + trickles * len(PEOPLE)

        def trickle() -> None:
            for n in range(trickles):
                if done.wait(args.trickle_every):
                    return
                first = args.count + n * len(PEOPLE)
                submit(redis_url, tag, range(first, first + len(PEOPLE)))

        trickling = threading.Thread(target=trickle, name="trickle", daemon=True)
        trickling.start()
        deadline = started + args.deadline
        subjects = {f"{tag} note {i}" for i in range(total)}
        bursts: list[subprocess.Popen[bytes]] = []
        next_burst = 0.0
        all_stored_s: float | None = None
        found: list[dict[str, Any]] = []
        messages: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            found = stored(reader, tag)
            owner = {a["id"]: owner_of(a["subject"]) for a in found}
            calls = received(slack, since)[1]
            messages = told_messages(calls)
            told = {a for m in messages for a in m["activities"]}
            have = {a["subject"] for a in found}
            if all_stored_s is None and have >= subjects:
                all_stored_s = time.monotonic() - started
            if have >= subjects and told >= set(owner):
                break
            # Nothing more will happen to a submission its submitter was told failed.
            failed = failed_subjects(failure_notices(calls), tag)
            settled = {a["subject"] for a in found if a["id"] in told} | failed
            if settled >= subjects and not killing.is_alive() and not trickling.is_alive():
                break
            now = time.monotonic()
            kills_over = not killing.is_alive()
            idle = not bursts or bursts[-1].poll() is not None
            if args.burst_every > 0 and kills_over and idle and now >= next_burst:
                if next_burst:  # the first due time is set when the kills end
                    log = tmp / f"burst{len(bursts) + 1:02d}.log"
                    with log.open("ab") as out:
                        bursts.append(
                            subprocess.Popen(
                                [RALLY_SLACK, "worker", "--burst"],
                                env=env,
                                stdout=out,
                                stderr=subprocess.STDOUT,
                                start_new_session=True,
                            )
                        )
                next_burst = now + args.burst_every
            time.sleep(1.0)
        everyone_told_s = time.monotonic() - started
        done.set()
        killing.join()
        trickling.join()
        # Anything created or told twice would arrive now.
        settle_until = time.monotonic() + args.settle
        while time.monotonic() < settle_until:
            time.sleep(0.5)
        found = stored(reader, tag)
        calls = received(slack, since)[1]
        messages = told_messages(calls)
        failures = failure_notices(calls)
        for burst in bursts:
            with contextlib.suppress(subprocess.TimeoutExpired):
                burst.wait(timeout=60)
        with contextlib.suppress(subprocess.TimeoutExpired):
            workers.stop()

    copies = Counter(a["subject"] for a in found)
    owner = {a["id"]: owner_of(a["subject"]) for a in found}
    tally = confirmations(messages, owner)
    last_kill = kills[-1]["at_s"] if kills else None
    faults_seen = count_in_logs(tmp, "sandbox.log", (*FAULTS.values(), *HANDLED.values()))
    reconciled = count_in_logs(tmp, "*.log", RECONCILED)
    duplicated = sorted(s for s, c in copies.items() if c > 1)
    failed = failed_subjects(failures, tag)
    lost = sorted(subjects - set(copies))
    told_ids = Counter(a for m in messages for a in m["activities"])
    return {
        "tag": tag,
        "count": total,
        "trickled": trickles * len(PEOPLE),
        "created": len(copies),
        "duplicated": len(duplicated),
        "duplicated_subjects": duplicated,
        "lost": len(lost),
        "lost_subjects": lost,
        "told": tally["told"],
        "told_twice": tally["told_twice"],
        "told_twice_ids": sorted(a for a, c in told_ids.items() if c > 1),
        "wrong_person": tally["wrong_user"],
        "not_told": tally["not_told"],
        "not_told_ids": sorted(a for a in owner if a not in told_ids),
        "messages": tally["messages"],
        # Messages to a person naming no activity: "could not be reached", "went wrong".
        "failure_notices": len(failures),
        "failure_notice_samples": failures[:5],
        "told_failed": len(failed),
        # Told "not logged, try again" while Rally has it: a retry would duplicate it.
        "told_failed_but_created": sorted(failed & set(copies)),
        "faults": {name: faults_seen[needle] for name, needle in FAULTS.items()},
        "creates_handled": {name: faults_seen[needle] for name, needle in HANDLED.items()},
        "kills": kills,
        # A worker running a job has two process groups (RQ's work horse has its own).
        "kills_mid_job": sum(1 for kill in kills if kill["groups"] > 1),
        "bursts": len(bursts),
        "reconciled": {
            "batch": reconciled["event=batch_reconciled"],
            "create": reconciled["event=create_reconciled"],
        },
        "queued_s": queued_s,
        "all_stored_s": all_stored_s,
        "everyone_told_s": everyone_told_s,
        "tail_after_last_kill_s": everyone_told_s - last_kill if last_kill is not None else None,
        "timed_out": everyone_told_s >= args.deadline,
    }


@contextlib.contextmanager
def log_dir(path: str | None) -> Iterator[Path]:
    if path:
        Path(path).mkdir(parents=True, exist_ok=True)
        yield Path(path)
        return
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="submissions (8 people)")
    parser.add_argument("--waves", type=int, default=10, help="queued in this many waves")
    parser.add_argument("--spread", type=float, default=10.0, help="seconds the waves span")
    parser.add_argument("--activity-workers", type=int, default=2)
    parser.add_argument("--kills", type=int, default=8, help="workers SIGKILLed")
    parser.add_argument("--kill-every", type=float, default=1.5, help="seconds between kills")
    parser.add_argument("--fail-rate", type=float, default=0.2, help="sandbox's 503 share")
    parser.add_argument("--throttle-rate", type=float, default=0.03, help="sandbox's 429 share")
    parser.add_argument("--drop-rate", type=float, default=0.05, help="commit-then-drop share")
    parser.add_argument("--sandbox-seed", type=int, default=None, help="the sandbox's --seed")
    parser.add_argument("--seed", type=int, default=None, help="seed of whom the killer picks")
    parser.add_argument("--job-retry-intervals", default="1,2,5,10,20,30")
    parser.add_argument("--notify-retry-intervals", default="1,2,5,10,20,30")
    parser.add_argument(
        "--burst-every", type=float, default=15.0, help="after the kills, a --burst pass; 0 = off"
    )
    parser.add_argument(
        "--trickle-s", type=float, default=0.0, help="after the waves, keep submitting this long"
    )
    parser.add_argument(
        "--trickle-every", type=float, default=2.0, help="seconds between trickled rounds of 8"
    )
    parser.add_argument("--deadline", type=float, default=600.0, help="seconds, from the start")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds watched after done")
    parser.add_argument("--logs", help="keep the logs (workers, sandbox, bursts) in this folder")
    args = parser.parse_args()

    with log_dir(args.logs) as tmp:
        result = soak(args, tmp)
        if args.logs:
            result["logs"] = str(tmp)
    ok = not (result["duplicated"] or result["lost"] or result["not_told"])
    ok = ok and not (result["told_twice"] or result["wrong_person"] or result["failure_notices"])
    result["ok"] = ok
    rate = f"{args.fail_rate:.0%} 503, {args.throttle_rate:.0%} 429, {args.drop_rate:.0%} drop"
    faults = result["faults"]
    tail = result["tail_after_last_kill_s"]
    rows = [
        (
            "submissions (of them trickled after the waves)",
            f"{result['count']} ({result['trickled']})",
        ),
        ("created (by subject)", result["created"]),
        ("duplicated", result["duplicated"]),
        ("lost", result["lost"]),
        ("told", result["told"]),
        ("told twice", result["told_twice"]),
        ("told the wrong person", result["wrong_person"]),
        ("not told", result["not_told"]),
        ("messages", result["messages"]),
        ("failure notices (messages naming no activity)", result["failure_notices"]),
        (
            "told it failed / of them created anyway",
            f"{result['told_failed']} / {len(result['told_failed_but_created'])}",
        ),
        ("faults seen: 503 / 429 / drop", f"{faults['503']} / {faults['429']} / {faults['drop']}"),
        (
            "creates Rally handled: single / bulk",
            "{single} / {bulk}".format(**result["creates_handled"]),
        ),
        (
            "workers SIGKILLed (of them mid-job)",
            f"{len(result['kills'])} ({result['kills_mid_job']})",
        ),
        ("burst passes after the kills", result["bursts"]),
        ("reconciling lists: batch / create", "{batch} / {create}".format(**result["reconciled"])),
        ("all queued at", f"{result['queued_s']:.1f} s"),
        (
            "all stored at",
            "never" if result["all_stored_s"] is None else f"{result['all_stored_s']:.1f} s",
        ),
        (
            "settled at (total: everyone told, or told it failed)",
            f"{result['everyone_told_s']:.1f} s",
        ),
        ("tail after the last kill", "n/a" if tail is None else f"{tail:.1f} s"),
        ("bar (0 duplicated, 0 lost, everyone told once)", "MET" if ok else "NOT MET"),
    ]
    print_table(
        f"Chaos soak: sandbox ignores Idempotency-Key, {rate}; workers SIGKILLed",
        ["", "value"],
        rows,
    )
    for key in (
        "duplicated_subjects",
        "lost_subjects",
        "told_twice_ids",
        "not_told_ids",
        "told_failed_but_created",
        "failure_notice_samples",
    ):
        if result[key]:
            print(f"{key}: {result[key][:50]}")
    print(f"raw figures: {save('bench_chaos', {'args': vars(args), 'result': result})}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
