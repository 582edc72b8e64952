"""``LOG_FORMAT=json``: one object per line, ids from the bound context and the code's own
``key=%s`` pairs (never from the values), and nothing token-shaped in either format."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable

import pytest

from core import logging as core_logging

Capture = Callable[[str], tuple[logging.Logger, io.StringIO]]


@pytest.fixture
def capture() -> Capture:
    def build(fmt: str) -> tuple[logging.Logger, io.StringIO]:
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(core_logging.formatter(fmt))
        logger = logging.getLogger(f"test.{fmt}")
        logger.handlers[:] = [handler]
        logger.propagate = False
        logger.setLevel(logging.INFO)
        return logger, stream

    return build


def test_a_json_line_has_the_standard_fields_the_bound_ids_and_the_messages_own(
    capture: Capture,
) -> None:
    logger, stream = capture("json")
    with core_logging.bind(team="T0RALLY001", user="U0ALICE", job=None):
        logger.info("event=activity_created submission=%s activity=%s n=%d", "s1", "a-1", 3)
    line = json.loads(stream.getvalue())
    assert line["level"] == "info" and line["logger"] == "test.json"
    assert line["message"] == "event=activity_created submission=s1 activity=a-1 n=3"
    assert line["time"].endswith("+00:00")
    assert {k: line[k] for k in ("team", "user", "submission", "activity", "n")} == {
        "team": "T0RALLY001",
        "user": "U0ALICE",
        "submission": "s1",
        "activity": "a-1",
        "n": "3",
    }
    assert "job" not in line  # None is not bound


def test_a_value_cannot_make_up_a_field_or_a_line(capture: Capture) -> None:
    logger, stream = capture("json")
    logger.info("event=x subject=%r", 'hi team=TEVIL\n{"level": "error"}')
    [raw] = stream.getvalue().splitlines()
    line = json.loads(raw)
    assert "team" not in line and line["level"] == "info"
    assert line["subject"].startswith("hi team=TEVIL")


def test_the_context_ends_with_the_block_and_exceptions_are_one_field(capture: Capture) -> None:
    logger, stream = capture("json")
    with core_logging.bind(team="T1"):
        pass
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("event=failed")
    line = json.loads(stream.getvalue())
    assert "team" not in line
    assert "ValueError: boom" in line["exception"]


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_slack_tokens_never_reach_a_line(capture: Capture, fmt: str) -> None:
    logger, stream = capture(fmt)
    logger.warning("event=oops detail=%s", "sent xoxb-1234-abcd and xapp-1-A0-zz to x")
    out = stream.getvalue()
    assert "xoxb-" not in out and "xapp-" not in out
    assert "sent [redacted] and [redacted] to x" in out


def test_text_stays_the_default() -> None:
    assert isinstance(core_logging.formatter(), core_logging.TextFormatter)
