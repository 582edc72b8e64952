"""``rally-slack COMMAND``: one parser, a subcommand per process (SPEC §3).

Each command lives in the package that implements it, as a module exposing
``add_arguments(parser)`` and ``run(args) -> int``. Only the chosen command's module is
imported (``rally-slack sandbox`` loads neither Slack nor RQ), and logging is configured
here, once, before it runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass
from types import ModuleType

from core import logging as core_logging
from core.settings import load_settings


@dataclass(frozen=True)
class Command:
    module: str
    summary: str
    log_level: str = "info"


COMMANDS: dict[str, Command] = {
    "web": Command("bot.server", "serve HTTP: POST /slack/events, GET /healthz (gunicorn)"),
    "socket": Command("bot.socket_mode", "the same app over Socket Mode"),
    "worker": Command(
        "workers.runner", "RQ workers on the project's queues (--burst drains and exits)"
    ),
    "cron": Command("workers.schedules", "RQ's cron scheduler: reminder sync and tick"),
    "remind": Command(
        "workers.remind", "--once: one reminder sync + tick, then exit", log_level="warning"
    ),
    "sandbox": Command("sandbox.cli", "the local Rally Activities API (Flask + SQLite)"),
    "dev": Command("devstack.dev", "the whole local stack on one machine (needs the dev extra)"),
    "db": Command("workers.ops.db", "the durable store: upgrade, rotate-keys"),
    "connect": Command("workers.ops.connect", "connect a workspace to its Rally tenant"),
    "import": Command(
        "workers.ops.import_csv", "import a CSV of activities (--dry-run: preview only)"
    ),
    "audit": Command("workers.ops.audit", "a workspace's audit trail, oldest first"),
}


def build_parser(chosen: str | None) -> tuple[argparse.ArgumentParser, ModuleType | None]:
    """The root parser; only ``chosen``'s subparser gets its arguments (its module loaded)."""
    root = argparse.ArgumentParser(
        prog="rally-slack",
        description="Rally for Slack: log activities to Rally CRM from Slack.",
        epilog="Run 'rally-slack COMMAND --help' for a command's options.",
    )
    commands = root.add_subparsers(dest="command", metavar="COMMAND", required=True)
    module: ModuleType | None = None
    for name, command in COMMANDS.items():
        sub = commands.add_parser(name, help=command.summary, description=command.summary)
        if name != chosen:
            continue
        module = _load(name, command)
        module.add_arguments(sub)
        sub.add_argument(
            "--log-level",
            default=command.log_level,
            type=str.lower,
            choices=core_logging.LEVELS,
            help=f"default {command.log_level}",
        )
    return root, module


def _load(name: str, command: Command) -> ModuleType:
    try:
        return importlib.import_module(command.module)
    except ModuleNotFoundError as exc:
        if name == "dev":
            raise SystemExit(
                f"rally-slack dev needs the dev extra ({exc.name} is missing): "
                "pip install -e '.[dev]'"
            ) from None
        raise


def main(argv: list[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    chosen = next((a for a in args_list if not a.startswith("-")), None)
    parser, module = build_parser(chosen if chosen in COMMANDS else None)
    args = parser.parse_args(args_list)
    assert module is not None  # argparse exits on an unknown command
    core_logging.configure(args.log_level, load_settings().log_format)
    return int(module.run(args) or 0)
