"""Fault injection: latency, 503s, 429s, dropped connections, idempotency switched off."""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable

import httpx
import pytest
from flask import Flask

from sandbox.cli import add_arguments, faults_from_args
from sandbox.faults import Faults
from tests.fixtures.sandbox import DEV_TENANT, OTHER_TENANT
from tests.sandbox.support import ACTIVITIES, AUTH, BULK, OTHER_AUTH, assert_problem, note

MakeApp = Callable[..., Flask]


def _count(app: Flask, tenant_id: str = DEV_TENANT.tenant_id) -> int:
    count: int = app.extensions["sandbox"].store.count(tenant_id)
    return count


def test_latency_delays_every_api_request(make_sandbox_app: MakeApp) -> None:
    # A long latency, so a loaded machine's own delays cannot pass for it (nor hide it).
    client = make_sandbox_app(latency_ms=1000).test_client()
    started = time.perf_counter()
    assert client.get(ACTIVITIES, headers=AUTH).status_code == 200
    assert time.perf_counter() - started >= 1.0
    started = time.perf_counter()
    assert client.get("/openapi.json").status_code == 200  # not an API request
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize("path", [ACTIVITIES, BULK])
def test_fail_rate_one_answers_503_with_retry_after_and_does_nothing(
    make_sandbox_app: MakeApp, path: str
) -> None:
    app = make_sandbox_app(fail_rate=1.0)
    client = app.test_client()
    body = note() if path == ACTIVITIES else [note()]
    response = client.post(path, json=body, headers=AUTH)
    assert_problem(response, 503)
    assert response.headers["Retry-After"] == "1"
    assert _count(app) == 0


def test_fail_rate_is_reproducible_with_a_seed(make_sandbox_app: MakeApp) -> None:
    def statuses() -> list[int]:
        client = make_sandbox_app(fail_rate=0.5, seed=42).test_client()
        return [client.get(ACTIVITIES, headers=AUTH).status_code for _ in range(40)]

    first = statuses()
    assert set(first) == {200, 503}
    assert statuses() == first


@pytest.mark.parametrize("path", [ACTIVITIES, BULK])
def test_throttle_rate_one_answers_429_with_retry_after_and_does_nothing(
    make_sandbox_app: MakeApp, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_sandbox_app(throttle_rate=1.0)
    client = app.test_client()
    body = note() if path == ACTIVITIES else [note()]
    with caplog.at_level(logging.INFO, logger="sandbox"):
        response = client.post(path, json=body, headers=AUTH)
    assert_problem(response, 429)
    assert response.headers["Retry-After"] == "1"
    assert _count(app) == 0
    assert any("event=fault_429" in record.getMessage() for record in caplog.records)


def test_throttle_rate_is_partial_and_reproducible_with_a_seed(make_sandbox_app: MakeApp) -> None:
    def statuses() -> list[int]:
        client = make_sandbox_app(throttle_rate=0.5, seed=42).test_client()
        return [client.get(ACTIVITIES, headers=AUTH).status_code for _ in range(40)]

    first = statuses()
    assert set(first) == {200, 429}
    assert statuses() == first


def test_rate_limit_answers_429_with_retry_after_per_key(make_sandbox_app: MakeApp) -> None:
    client = make_sandbox_app(rate_limit=3).test_client()
    responses = [client.get(ACTIVITIES, headers=AUTH) for _ in range(12)]
    other = client.get(ACTIVITIES, headers=OTHER_AUTH)
    limited = [r for r in responses if r.status_code == 429]
    # 12 requests take far less than a second, so they span at most two windows of 3.
    assert len(limited) >= 6
    assert {r.status_code for r in responses} == {200, 429}
    for response in limited:
        assert_problem(response, 429)
        assert int(response.headers["Retry-After"]) >= 1
    assert other.status_code == 200  # another key has a budget of its own


def test_dropped_request_is_committed_but_gets_no_response(
    make_sandbox_app: MakeApp, serve_app: Callable[[Flask], str]
) -> None:
    app = make_sandbox_app(drop_rate=1.0)
    url = serve_app(app)
    with httpx.Client(base_url=url) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            http.post(ACTIVITIES, json=note("dropped"), headers=AUTH)
        assert _count(app) == 1
        # A retry with the same Idempotency-Key is replayed (and dropped again), not redone.
        for _ in range(2):
            with pytest.raises(httpx.RemoteProtocolError):
                http.post(ACTIVITIES, json=note("keyed"), headers={**AUTH, "Idempotency-Key": "k"})
        assert _count(app) == 2


def test_dropped_request_in_process_raises_connection_aborted(make_sandbox_app: MakeApp) -> None:
    app = make_sandbox_app(drop_rate=1.0)
    with pytest.raises(ConnectionAbortedError):
        app.test_client().post(ACTIVITIES, json=note(), headers=AUTH)
    assert _count(app) == 1


def test_drop_rate_is_partial_and_seeded(
    make_sandbox_app: MakeApp, serve_app: Callable[[Flask], str]
) -> None:
    app = make_sandbox_app(drop_rate=0.5, seed=7)
    url = serve_app(app)
    outcomes = []
    with httpx.Client(base_url=url) as http:
        for i in range(20):
            try:
                outcomes.append(http.post(ACTIVITIES, json=note(f"n{i}"), headers=AUTH).status_code)
            except httpx.RemoteProtocolError:
                outcomes.append(0)
    assert set(outcomes) == {0, 201}
    assert _count(app) == 20  # dropped or not, every one was committed


def test_no_idempotency_creates_again_on_a_retry(make_sandbox_app: MakeApp) -> None:
    app = make_sandbox_app(idempotency=False)
    client = app.test_client()
    headers = {**AUTH, "Idempotency-Key": "ignored"}
    first = client.post(ACTIVITIES, json=note(), headers=headers)
    second = client.post(ACTIVITIES, json=note("other body"), headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in second.headers
    assert _count(app) == 2
    assert _count(app, OTHER_TENANT.tenant_id) == 0


def test_faults_are_checked() -> None:
    for bad in (
        {"fail_rate": 1.5},
        {"throttle_rate": 1.01},
        {"throttle_rate": -0.5},
        {"drop_rate": -0.1},
        {"latency_ms": -1},
        {"rate_limit": -2},
    ):
        with pytest.raises(ValueError):
            Faults(**bad)  # type: ignore[arg-type]


def test_cli_flags_map_to_faults() -> None:
    args = _parser().parse_args(
        [
            "--latency-ms", "25",
            "--fail-rate", "0.1",
            "--rate-limit", "50",
            "--throttle-rate", "0.03",
            "--drop-rate", "0.05",
            "--no-idempotency",
            "--seed", "3",
        ]
    )  # fmt: skip
    assert faults_from_args(args) == Faults(
        latency_ms=25,
        fail_rate=0.1,
        rate_limit=50,
        throttle_rate=0.03,
        drop_rate=0.05,
        idempotency=False,
        seed=3,
    )
    assert faults_from_args(_parser().parse_args([])) == Faults()


@pytest.mark.parametrize(
    "flag", ["--fail-rate=2", "--throttle-rate=1.5", "--drop-rate=-1", "--latency-ms=-5"]
)
def test_cli_rejects_out_of_range_fault_flags(flag: str) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args([flag])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser
