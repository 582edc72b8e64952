"""Every listener runs inside :func:`guarded`: no failure turns into an error for Slack.

Bolt's thread runner drops the acknowledgement when a listener raises after ``ack()``
(Slack then sees nothing for 3 seconds and shows an error), and answers 500 when it
raises before. So each listener is wrapped:

- :class:`~bot.envelope.Malformed` (a value no listener can use: a forged button, a
  field of the wrong type) is logged in one line without its content, acknowledged if
  it was not yet, and the person is told nothing changed;
- anything else is a fault of ours: logged with its traceback, acknowledged if it was
  not yet, and the person told, so a click or a submission never ends in silence.

The wrapper takes Bolt's single ``args`` parameter and hands the listener exactly the
arguments it names, so listeners stay plain functions a test calls directly.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Callable
from typing import Any

from slack_bolt.kwargs_injection.args import Args
from slack_sdk.errors import SlackApiError

from bot.envelope import Malformed
from core import logging as core_logging
from workers.slack import tell_user

log = logging.getLogger(__name__)

SORRY = ":warning: Something went wrong on our side, so nothing changed. Please try again."
CANNOT = ":warning: That can't be done from here: {reason}. Nothing changed."


class InFlight:
    """How many listeners are running: a shutdown (or a test) can wait for them to end."""

    def __init__(self) -> None:
        self._count = 0
        self._cond = threading.Condition()

    def __enter__(self) -> None:
        with self._cond:
            self._count += 1

    def __exit__(self, *_: object) -> None:
        with self._cond:
            self._count -= 1
            self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no listener runs; returns False if ``timeout`` seconds passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: self._count == 0, timeout=timeout)


IN_FLIGHT = InFlight()
"""Every guarded listener of this process, while it runs (Bolt runs them on its own
threads, after the acknowledgement has already answered Slack)."""


def guarded(handler: Callable[..., Any]) -> Callable[[Args], None]:
    """Wrap a listener so it can neither fail Slack's request nor fail silently."""
    names = tuple(inspect.signature(handler).parameters)
    label = handler.__name__

    def run(args: Args) -> None:
        # Bolt runs a listener on a thread of its own, so the ids the edge bound for the
        # request's logs are bound again here.
        context = args.context
        with IN_FLIGHT, core_logging.bind(team=context.team_id, user=context.user_id):
            _run(args)

    def _run(args: Args) -> None:
        try:
            handler(**{name: getattr(args, name) for name in names})
        except Malformed as exc:
            log.warning("event=listener_refused listener=%s reason=%s", label, exc)
            _finish(args, CANNOT.format(reason=exc.args[0] if exc.args else "malformed"))
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else None
            log.warning("event=listener_slack_error listener=%s error=%s", label, error)
            _finish(args, f":warning: Slack refused that (`{error}`). Please try again.")
        except Exception:
            log.exception("event=listener_failed listener=%s", label)
            _finish(args, SORRY)

    run.__name__ = label
    run.__qualname__ = handler.__qualname__
    run.__doc__ = handler.__doc__
    return run


def _finish(args: Args, text: str) -> None:
    """Acknowledge if the listener had not, then tell the person (never raises)."""
    try:
        acked = args.ack.response is not None
        if not acked:
            if (args.body or {}).get("type") == "view_submission":
                # Keep the modal open with what they typed: an error on its first input.
                block = _first_input_block(args.body)
                if block:
                    args.ack(response_action="errors", errors={block: text[:150]})
                    return
            args.ack()
        tell_user(args.client, args.body or {}, text)
    except Exception as exc:  # telling must never be what fails
        log.warning("event=listener_tell_failed error=%s", type(exc).__name__)


def _first_input_block(body: dict[str, Any]) -> str | None:
    view = body.get("view") or {}
    for block in view.get("blocks") or []:
        if isinstance(block, dict) and block.get("type") == "input" and block.get("block_id"):
            return str(block["block_id"])
    return None
