"""Resilience against real loopback HTTP faults: retries, Retry-After, timeouts, size and
content-type limits, the call budget and the circuit breaker. No mocks: a scripted server."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cryptoviz_assets.collectors.budget import BudgetExceededError, CallBudget, Limits
from cryptoviz_assets.collectors.http import (
    BudgetRefusedError,
    CircuitOpenError,
    RateLimitedError,
    Request,
    ServerError,
    SourceClient,
    SourceTimeoutError,
    TooLargeError,
    WrongContentTypeError,
    retry_after_seconds,
)
from cryptoviz_assets.replay.recordings import data_bytes
from cryptoviz_assets.settings import Settings
from tests.collector_support import FaultServer, Reply

PATH = "/api/v3/coins/markets"
GOOD = Reply(200, data_bytes("coins_markets_usd_2023-01-02_top5.json"))


def settings_for(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "var_dir": tmp_path / "var",
        "http_timeout_seconds": 0.5,
        "http_max_attempts": 3,
        "retry_initial_wait_seconds": 0.05,
        "retry_max_wait_seconds": 2.0,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def request(server: FaultServer, limits: Limits | None = None) -> Request:
    limits = limits or Limits(per_minute=100, per_month=1000)
    return Request("coingecko", server.url + PATH, {"vs_currency": "usd"}, limits=limits)


@pytest.fixture
def server() -> FaultServer:
    with FaultServer() as fault:
        yield fault  # type: ignore[misc]


def test_429_retry_after_is_honoured_then_succeeds(server: FaultServer, tmp_path: Path) -> None:
    server.on(PATH, Reply(429, b'{"status": "slow down"}', headers={"Retry-After": "1"}), GOOD)
    with SourceClient(settings_for(tmp_path)) as client:
        response = client.fetch(request(server))
    first, second = server.hits(PATH)
    assert second - first >= 1.0  # waited the full Retry-After, not the short backoff
    assert response.attempts == 2
    assert response.status == 200
    assert json.loads(response.body)[0]["id"] == "bitcoin"


def test_a_retry_after_longer_than_allowed_fails_at_once(
    server: FaultServer, tmp_path: Path
) -> None:
    server.on(PATH, Reply(429, b"{}", headers={"Retry-After": "3600"}))
    with SourceClient(settings_for(tmp_path)) as client, pytest.raises(RateLimitedError) as err:
        client.fetch(request(server))
    assert len(server.hits(PATH)) == 1
    assert "Retry-After 3600s is longer than RETRY_MAX_WAIT_SECONDS=2" in str(err.value)


def test_retry_after_as_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("Thu, 01 Jan 2026 12:00:30 GMT", now) == 30.0
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("soon") is None


def test_server_errors_are_retried_with_backoff_then_fail(
    server: FaultServer, tmp_path: Path
) -> None:
    server.on(PATH, Reply(500, b"<h1>oops</h1>", content_type="text/html"))
    with SourceClient(settings_for(tmp_path)) as client, pytest.raises(ServerError) as err:
        client.fetch(request(server))
    assert len(server.hits(PATH)) == 3
    assert "HTTP 500" in str(err.value)
    assert "gave up after 3 attempts" in str(err.value)
    assert err.value.raw == b"<h1>oops</h1>"


def test_a_500_then_success_recovers(server: FaultServer, tmp_path: Path) -> None:
    server.on(PATH, Reply(503, b""), GOOD)
    with SourceClient(settings_for(tmp_path)) as client:
        assert client.fetch(request(server)).attempts == 2


def test_a_slow_source_times_out(server: FaultServer, tmp_path: Path) -> None:
    server.on(PATH, Reply(200, b"[]", delay=1.5))
    started = time.monotonic()
    with (
        SourceClient(settings_for(tmp_path, http_max_attempts=2)) as client,
        pytest.raises(SourceTimeoutError, match=r"timed out after 0\.5s"),
    ):
        client.fetch(request(server))
    assert time.monotonic() - started < 4
    assert len(server.hits(PATH)) == 2


def test_wrong_content_type_is_refused_without_retry(server: FaultServer, tmp_path: Path) -> None:
    server.on(PATH, Reply(200, b"<html>captcha</html>", content_type="text/html"))
    with (
        SourceClient(settings_for(tmp_path)) as client,
        pytest.raises(WrongContentTypeError) as err,
    ):
        client.fetch(request(server))
    assert "content type 'text/html' is not json" in str(err.value)
    assert err.value.raw == b"<html>captcha</html>"
    assert len(server.hits(PATH)) == 1


@pytest.mark.parametrize("chunked", [True, False])
def test_an_oversized_body_is_abandoned(server: FaultServer, tmp_path: Path, chunked: bool) -> None:
    server.on(PATH, Reply(200, b"[" + b" " * 3_000_000 + b"]", chunked=chunked))
    settings = settings_for(tmp_path, max_response_bytes=1_000_000)
    with SourceClient(settings) as client, pytest.raises(TooLargeError, match="1000000-byte limit"):
        client.fetch(request(server))


def test_the_budget_refuses_calls_past_its_limit(server: FaultServer, tmp_path: Path) -> None:
    server.on(PATH, GOOD)
    settings = settings_for(tmp_path)
    limits = Limits(per_minute=2, per_month=100)
    with SourceClient(settings) as client:
        client.fetch(request(server, limits))
        client.fetch(request(server, limits))
        with pytest.raises(BudgetRefusedError, match=r"2/2 calls in the last minute"):
            client.fetch(request(server, limits))
    # A new run (new client, same state directory) is refused too: the count persists.
    with SourceClient(settings) as client, pytest.raises(BudgetRefusedError):
        client.fetch(request(server, limits))
    assert len(server.hits(PATH)) == 2


def test_retries_spend_budget_and_a_refusal_is_not_retried(
    server: FaultServer, tmp_path: Path
) -> None:
    server.on(PATH, Reply(500, b""))
    with (
        SourceClient(settings_for(tmp_path, http_max_attempts=5)) as client,
        pytest.raises(BudgetRefusedError),
    ):
        client.fetch(request(server, Limits(per_minute=2, per_month=100)))
    assert len(server.hits(PATH)) == 2


def test_monthly_budget_resets_with_the_calendar_month(tmp_path: Path) -> None:
    now = [datetime(2026, 1, 31, 23, 0, tzinfo=UTC).timestamp()]
    budget = CallBudget(tmp_path / "budget.sqlite", clock=lambda: now[0])
    limits = Limits(per_minute=100, per_month=3)
    for _ in range(3):
        budget.acquire("cmc", limits)
        now[0] += 120
    assert budget.remaining("cmc", limits).month == 0
    with pytest.raises(BudgetExceededError, match="3/3 calls this month"):
        budget.acquire("cmc", limits)
    assert budget.remaining("other", limits).month == 3  # budgets are per source
    now[0] = datetime(2026, 2, 1, 0, 1, tzinfo=UTC).timestamp()
    assert budget.acquire("cmc", limits).month == 2


def test_the_breaker_opens_persists_across_runs_and_recovers(
    server: FaultServer, tmp_path: Path
) -> None:
    server.on(PATH, Reply(500, b""))
    settings = settings_for(
        tmp_path, http_max_attempts=1, breaker_fail_max=2, breaker_reset_seconds=1
    )
    with SourceClient(settings) as client:
        for _ in range(2):
            with pytest.raises(ServerError):
                client.fetch(request(server))
        assert client.breaker_status(request(server)).state == "open"
    with SourceClient(settings) as client:  # the next run
        with pytest.raises(CircuitOpenError, match="circuit breaker is open until"):
            client.fetch(request(server))
        assert len(server.hits(PATH)) == 2  # the open breaker did not call the source
        server.on(PATH, GOOD)
        time.sleep(1.1)  # reset timeout: one trial call goes through, succeeds, closes it
        assert client.fetch(request(server)).status == 200
        assert client.breaker_status(request(server)).state == "closed"


def test_budget_and_client_errors_do_not_open_the_breaker(
    server: FaultServer, tmp_path: Path
) -> None:
    server.on(PATH, Reply(401, b'{"error": "bad key"}'))
    settings = settings_for(tmp_path, breaker_fail_max=1)
    with SourceClient(settings) as client:
        for _ in range(3):
            with pytest.raises(Exception, match="HTTP 401"):
                client.fetch(request(server))
        assert client.breaker_status(request(server)).state == "closed"
