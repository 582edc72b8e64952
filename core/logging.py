"""Logging, configured once per process by the CLI.

One event per line: ``event=<name> key=value ...`` after the time, level and logger.
Values that come from people are logged with ``%r`` or not at all, so a newline in them
can never forge a line; secrets are never logged.
"""

from __future__ import annotations

import logging
import sys

LEVELS = ("debug", "info", "warning", "error")
FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure(level: str = "info") -> None:
    """Send every logger's records at ``level`` and above to stderr, one line each."""
    logging.basicConfig(level=level.upper(), stream=sys.stderr, format=FORMAT, force=True)
    # httpx logs every request at INFO: the workers' own events say what matters.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))
