"""Resilient HTTP GET for the collectors: budget, circuit breaker, retries, size limit.

One call to `SourceClient.fetch` is one logical request to a source:
- the source's circuit breaker (pybreaker, state in SQLite) must be closed, or half-open;
- every attempt first takes one call from the source's budget (per minute and per month);
- timeouts, transport errors, 5xx and 429 are retried by tenacity with exponential backoff
  and jitter; a 429's Retry-After is honoured (a longer one than RETRY_MAX_WAIT_SECONDS
  fails at once instead of hammering the source);
- the body is streamed and abandoned past MAX_RESPONSE_BYTES, and its content type must
  be what the collector expects (JSON or XML) - an HTML error page is not a payload.
Every failure is a `FetchError` with a clear reason and, when there was one, the raw body.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal
from urllib.parse import urlsplit

import httpx
import pybreaker
import tenacity

from cryptoviz_assets.collectors.breaker import BreakerStatus, breaker_for, breaker_status
from cryptoviz_assets.collectors.budget import BudgetExceededError, CallBudget, Limits, Remaining
from cryptoviz_assets.settings import Settings

REPLAY_HEADER = "X-CryptoViz-Replay"
USER_AGENT = "CryptoViz/0.1 (open-source market-intelligence collector)"
ACCEPTED_TYPES = {
    "json": ("application/json", "text/json", "+json"),
    "xml": ("application/rss+xml", "application/atom+xml", "application/xml", "text/xml", "+xml"),
}
RAW_EXCERPT_BYTES = 64 * 1024


@dataclass(frozen=True)
class Request:
    source: str  # who answers: names the breaker, the budget and the DLQ records
    url: str
    params: Mapping[str, str] = field(default_factory=dict)
    # May hold API keys: kept out of reprs, and never sent on to another host by a redirect.
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    expect: Literal["json", "xml"] = "json"
    limits: Limits = field(default_factory=lambda: Limits(per_minute=30, per_month=10_000))
    # What this request asks its source for, when a source gets several requests (a pair):
    # names the request in the run report; budget, breaker, dedup and DLQ stay per source.
    subject: str = ""

    @property
    def key(self) -> str:
        """Budget and breaker name: the source at its host (replay never eats live budget)."""
        return f"{self.source}@{urlsplit(self.url).netloc}"

    @property
    def label(self) -> str:
        """The request in the run report: its source, and its subject when it has one."""
        return f"{self.source}:{self.subject}" if self.subject else self.source


@dataclass(frozen=True)
class Response:
    request: Request
    status: int
    content_type: str
    body: bytes
    latency_ms: float  # the whole fetch, retries and waits included
    attempts: int
    replayed: bool


class FetchError(Exception):
    """A request that produced no usable payload. `raw` holds the body when there was one."""

    retryable = False

    def __init__(self, reason: str, raw: bytes = b"", status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.raw = raw[:RAW_EXCERPT_BYTES]
        self.status = status
        self.attempts = 1


class TransientError(FetchError):
    retryable = True


class SourceTimeoutError(TransientError):
    pass


class SourceTransportError(TransientError):
    pass


class ServerError(TransientError):
    pass


class RateLimitedError(TransientError):
    def __init__(self, reason: str, retry_after: float | None, raw: bytes = b"") -> None:
        super().__init__(reason, raw, 429)
        self.retry_after = retry_after


class ClientError(FetchError):
    """4xx other than 429: a request or configuration problem on our side."""


class TooLargeError(FetchError):
    pass


class WrongContentTypeError(FetchError):
    pass


class BudgetRefusedError(FetchError):
    pass


class CircuitOpenError(FetchError):
    pass


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def content_type_ok(content_type: str, expect: str) -> bool:
    media = content_type.split(";", maxsplit=1)[0].strip().lower()
    return any(
        media == t or (t.startswith("+") and media.endswith(t)) for t in ACCEPTED_TYPES[expect]
    )


class SourceClient:
    """Fetches `Request`s with every protection on; one instance per collector run."""

    def __init__(
        self, settings: Settings, budget: CallBudget | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:  # fmt: skip
        self.settings = settings
        self.budget = budget or CallBudget(settings.state_dir / "budget.sqlite")
        self.sleep = sleep
        self.client = httpx.Client(
            timeout=httpx.Timeout(settings.http_timeout_seconds),
            follow_redirects=True,
            headers={"User-Agent": USER_AGENT},
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> SourceClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def breaker(self, request: Request) -> pybreaker.CircuitBreaker:
        return breaker_for(
            self.settings.state_dir / "breakers.sqlite",
            request.key,
            fail_max=self.settings.breaker_fail_max,
            reset_seconds=self.settings.breaker_reset_seconds,
            # Our own refusals and our own mistakes say nothing about the source's health.
            exclude=[BudgetRefusedError, ClientError],
        )

    def breaker_status(self, request: Request) -> BreakerStatus:
        return breaker_status(self.breaker(request))

    def remaining(self, request: Request) -> Remaining:
        return self.budget.remaining(request.key, request.limits)

    def fetch(self, request: Request) -> Response:
        breaker = self.breaker(request)
        status = breaker_status(breaker)
        if status.blocks_calls():
            raise CircuitOpenError(
                f"{request.source}: circuit breaker is {status.describe()} after "
                f"{status.failures} failed runs; not calling the source"
            )
        started = time.monotonic()
        try:
            reply, attempts = breaker.call(self._with_retries, request)
        except pybreaker.CircuitBreakerError as exc:  # another run opened it meanwhile
            raise CircuitOpenError(f"{request.source}: circuit breaker open ({exc})") from exc
        return Response(
            request=request,
            status=reply.status,
            content_type=reply.content_type,
            body=reply.body,
            latency_ms=round((time.monotonic() - started) * 1000, 1),
            attempts=attempts,
            replayed=reply.replayed,
        )

    def _should_retry(self, exc: BaseException) -> bool:
        if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
            return exc.retry_after <= self.settings.retry_max_wait_seconds
        return isinstance(exc, FetchError) and exc.retryable

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
            return exc.retry_after  # the source said how long; wait exactly that
        backoff = tenacity.wait_exponential_jitter(
            initial=self.settings.retry_initial_wait_seconds,
            max=self.settings.retry_max_wait_seconds,
            jitter=self.settings.retry_initial_wait_seconds,
        )
        return float(min(backoff(state), self.settings.retry_max_wait_seconds))

    def _with_retries(self, request: Request) -> tuple[_Reply, int]:
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.settings.http_max_attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception(self._should_retry),
            sleep=self.sleep,
            reraise=True,
        )
        attempt_number = 0
        try:
            for attempt in retrying:
                attempt_number = attempt.retry_state.attempt_number
                with attempt:
                    return self._attempt(request), attempt_number
        except FetchError as exc:
            exc.attempts = attempt_number
            if isinstance(exc, RateLimitedError) and not self._should_retry(exc):
                exc.reason = exc.args[0] + (
                    f"; Retry-After {exc.retry_after:.0f}s is longer than "
                    f"RETRY_MAX_WAIT_SECONDS={self.settings.retry_max_wait_seconds:g}, not waiting"
                )
            elif exc.retryable:
                exc.reason = f"{exc.args[0]} (gave up after {attempt_number} attempts)"
            exc.args = (exc.reason,)
            raise
        raise AssertionError("unreachable: tenacity either returns or raises")

    def _attempt(self, request: Request) -> _Reply:
        try:
            self.budget.acquire(request.key, request.limits)
        except BudgetExceededError as exc:
            raise BudgetRefusedError(f"{request.source}: {exc}") from exc
        headers = {"Accept": _accept_header(request.expect), **request.headers}
        try:
            with self.client.stream(
                "GET", request.url, params=dict(request.params), headers=headers,
                follow_redirects=not request.headers,  # keyed requests: no redirects
            ) as response:  # fmt: skip
                return self._read(request, response)
        except httpx.TimeoutException as exc:
            raise SourceTimeoutError(
                f"{request.source}: timed out after {self.settings.http_timeout_seconds:g}s "
                f"({type(exc).__name__})"
            ) from exc
        except httpx.TransportError as exc:
            raise SourceTransportError(f"{request.source}: {type(exc).__name__}: {exc}") from exc

    def _read(self, request: Request, response: httpx.Response) -> _Reply:
        status = response.status_code
        content_type = response.headers.get("content-type", "")
        limit = self.settings.max_response_bytes
        where = f"{request.source}: HTTP {status} from {request.url}"
        if status == 429:
            wait = retry_after_seconds(response.headers.get("retry-after"))
            body = _read_limited(response, RAW_EXCERPT_BYTES, truncate=True)
            shown = "no Retry-After" if wait is None else f"Retry-After {wait:g}s"
            raise RateLimitedError(f"{where}: rate limited ({shown})", wait, body)
        if status >= 500:
            raise ServerError(f"{where}", _read_limited(response, RAW_EXCERPT_BYTES, True), status)
        if status >= 400:
            raise ClientError(f"{where}", _read_limited(response, RAW_EXCERPT_BYTES, True), status)
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise TooLargeError(
                f"{where}: body of {int(declared)} bytes exceeds the {limit}-byte limit"
            )
        body = _read_limited(response, limit, truncate=False)
        if not content_type_ok(content_type, request.expect):
            raise WrongContentTypeError(
                f"{where}: content type {content_type or '(none)'!r} is not {request.expect}",
                body,
                status,
            )
        replayed = response.headers.get(REPLAY_HEADER, "").lower() in ("1", "true")
        return _Reply(status, content_type, body, replayed)


@dataclass(frozen=True)
class _Reply:
    status: int
    content_type: str
    body: bytes
    replayed: bool  # the replay server marks what it serves


def _accept_header(expect: str) -> str:
    if expect == "xml":
        return "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.8"
    return "application/json"


def _read_limited(response: httpx.Response, limit: int, truncate: bool) -> bytes:
    """Read at most `limit` bytes (decoded); past it, stop reading and fail (or truncate)."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            if truncate:
                chunks.append(chunk[: limit - (size - len(chunk))])
                break
            raise TooLargeError(
                f"{response.request.url.host}: body exceeds the {limit}-byte limit; "
                "stopped reading",
                b"".join(chunks)[:RAW_EXCERPT_BYTES],
                response.status_code,
            )
        chunks.append(chunk)
    return b"".join(chunks)
