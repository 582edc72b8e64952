"""``rally-slack``: one entry point, one subcommand per process (SPEC §3).

Each subcommand is owned by the package that implements it and parses its own flags,
so this module only dispatches; the imports are lazy so ``rally-slack sandbox`` does not
load Slack and ``rally-slack worker`` does not load Flask.
"""

from __future__ import annotations

import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "web": ("bot.server", "serve HTTP: POST /slack/events, GET /healthz (gunicorn)"),
    "socket": ("bot.socket_mode", "the same app over Socket Mode"),
    "worker": ("workers.runner", "an RQ worker on the project's queues (--burst drains and exits)"),
    "cron": ("workers.schedules", "the RQ cron scheduler: reminder sync and tick every minute"),
    "remind": ("workers.schedules", "--once: one reminder sync + tick, then exit"),
    "sandbox": ("sandbox.cli", "the local Rally Activities API (Flask + SQLite)"),
    "dev": ("bot.dev", "the whole local stack on one machine"),
}


def usage() -> str:
    lines = ["usage: rally-slack COMMAND [options]", "", "commands:"]
    lines += [f"  {name:<8} {summary}" for name, (_, summary) in COMMANDS.items()]
    lines += ["", "Run 'rally-slack COMMAND --help' for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"rally-slack: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    entry = getattr(module, f"{name}_main", None) or module.main
    return int(entry(rest) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
