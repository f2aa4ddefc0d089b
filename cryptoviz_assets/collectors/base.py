"""The small interface every collector implements, and the one run loop they share.

A collector only knows its source: which requests to make and how to turn a payload into
events. Everything else - budget, breaker, retries, validation, dedup, DLQ, delivery
checks - happens here, the same way for every source. A request that fails does not stop
the collector's other requests (news has one per feed); the run reports it at the end.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from cryptoviz_assets.collectors.http import (
    BudgetRefusedError,
    CircuitOpenError,
    FetchError,
    Request,
    Response,
    SourceClient,
)
from cryptoviz_assets.collectors.publisher import ProducerLike, Publisher, PublishError
from cryptoviz_assets.collectors.seen import SeenStore
from cryptoviz_assets.contract.events import utc_now
from cryptoviz_assets.settings import Settings


@dataclass(frozen=True)
class Event:
    """One contract-shaped record and its Kafka key."""

    key: str
    value: dict[str, Any]


@dataclass(frozen=True)
class Rejection:
    """One source record that could not become an event: it goes to the DLQ."""

    reason: str
    raw: str
    kind: str = "malformed"  # or a RefusedRecordError's kind, counted apart in the report
    subject: str = ""  # what was refused, when it has a name (a coin's slug)

    @classmethod
    def of(cls, item: Any, exc: Exception) -> Rejection:
        raw = json.dumps(item, default=str)
        if isinstance(exc, RefusedRecordError):
            return cls(str(exc), raw, exc.kind, exc.subject)
        return cls(f"{type(exc).__name__}: {exc}", raw)


class RefusedRecordError(ValueError):
    """A well-formed record refused on purpose (a coin with no cross-source id): it goes to
    the DLQ like a malformed one, and the run report counts and names it by `kind`."""

    def __init__(self, message: str, kind: str, subject: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.subject = subject


class PayloadError(Exception):
    """The whole payload is unreadable (truncated JSON, unsafe XML, an error body...)."""


# What a malformed record raises while it is turned into an event (a missing key, a wrong
# type, an unparsable time): that record is rejected, the rest of the payload goes on.
RECORD_ERRORS = (KeyError, TypeError, ValueError, AttributeError)
Item = TypeVar("Item")


def records(items: Iterable[Item], build: Callable[[Item], Event]) -> Iterator[Event | Rejection]:
    """`build` each item into an event, or reject it, with the reason, when it is malformed.

    One event per item, in order (callers may zip them)."""
    for item in items:
        try:
            event = build(item)
            check_finite(event.value)
        except RECORD_ERRORS as exc:
            yield Rejection.of(item, exc)
        else:
            yield event


def check_finite(value: dict[str, Any]) -> None:
    """Python's json.loads reads NaN and Infinity (and 1e999 as Infinity); no strict JSON
    reader downstream does, and no price is NaN: such a record is malformed."""
    bad = [
        f"{name} ({v})"
        for name, v in value.items()
        if isinstance(v, float) and not math.isfinite(v)
    ]
    if bad:
        raise ValueError(f"non-finite number in {', '.join(bad)}")


def load_json(response: Response) -> Any:
    try:
        return json.loads(response.body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PayloadError(f"invalid JSON from {response.request.source}: {exc}") from exc


def required_text(record: dict[str, Any], key: str) -> str:
    """An identifying field (id, symbol, slug) as text. str() would turn a null into the coin
    "None": null, blank or non-text is a malformed record instead."""
    value = record[key]
    if value is None:
        raise ValueError(f"{key} is null")
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key} is not a non-empty text: {value!r}")
    return value


def number(value: Any) -> float | int | None:
    """A JSON number as is; null stays None; anything else is a malformed record."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {value!r}")
    return value


class Collector(ABC):
    name: ClassVar[str]  # the collector, as tagged on its runs
    record_type: ClassVar[str]  # the schema its events follow
    topic_role: ClassVar[str]  # key into Settings.topics
    maps_coin_ids: ClassVar[bool] = False  # its coin ids are mapped from another source's

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def skip_reason(self) -> str | None:
        """Why this collector cannot run at all (e.g. no API key), or None."""
        return None

    @abstractmethod
    def requests(self) -> list[Request]:
        """The HTTP requests of one collection."""

    @abstractmethod
    def parse(self, response: Response, ingest_time: datetime) -> Iterable[Event | Rejection]:
        """Events (and rejected records) of one payload; PayloadError if it is unreadable."""

    def remember(self, settled: Sequence[tuple[Event, bool]]) -> None:  # noqa: B027 (optional hook)
        """After a run: each event it handed to the broker or found already published, and
        whether it is on the broker now. A collector that asks its source "since when" keeps
        its cursor here, so a record the broker did not confirm is asked for again."""

    @property
    def topic(self) -> str:
        return self.settings.topics[self.topic_role]


@dataclass
class SourceReport:
    """What happened at one source (one request) during a run."""

    source: str
    fetched: int = 0
    published: int = 0
    deduplicated: int = 0
    dead_lettered: int = 0
    latency_ms: float | None = None
    attempts: int = 0
    breaker_state: str = "closed"
    budget_remaining: dict[str, int] = field(default_factory=dict)
    replayed: bool = False
    error: str | None = None
    refused: dict[str, list[str]] = field(default_factory=dict)  # kind -> subjects


@dataclass
class RunReport:
    collector: str
    sources: list[SourceReport] = field(default_factory=list)
    skipped: str | None = None
    publish_error: str | None = None
    maps_coin_ids: bool = False

    def total(self, name: str) -> int:
        return sum(int(getattr(source, name)) for source in self.sources)

    def refused(self, kind: str) -> list[str]:
        """The subjects refused as `kind` (e.g. unmapped coins) at every source, sorted."""
        return sorted({subject for s in self.sources for subject in s.refused.get(kind, [])})

    @property
    def errors(self) -> dict[str, str]:
        found = {s.source: s.error for s in self.sources if s.error}
        if self.publish_error:
            found["publish"] = self.publish_error
        return found

    @property
    def ok(self) -> bool:
        return not self.errors


class CollectorError(Exception):
    """At least one source of the run failed; the report says which and why."""

    def __init__(self, report: RunReport) -> None:
        reasons = "; ".join(f"{source}: {error}" for source, error in report.errors.items())
        super().__init__(f"{report.collector} collector failed - {reasons}")
        self.report = report


def run_collector(collector: Collector, producer: ProducerLike) -> RunReport:
    """Fetch, parse, validate, dedup and publish one collection; raise if a source failed.

    Records already delivered stay delivered when a source fails; the DLQ gets the failure.
    """
    settings = collector.settings
    report = RunReport(collector.name, maps_coin_ids=collector.maps_coin_ids)
    if (reason := collector.skip_reason()) is not None:
        report.skipped = reason
        return report
    publisher = Publisher(
        producer, settings.topic_dlq, flush_timeout=settings.http_timeout_seconds * 3
    )
    seen = SeenStore(settings.state_dir / "seen.sqlite", settings.seen_retention_days)
    # source -> (event, already published before this run), of every request to that source
    outcomes: dict[str, list[tuple[Event, bool]]] = {}
    with SourceClient(settings) as client:
        for request in collector.requests():
            source_report = SourceReport(request.label)
            report.sources.append(source_report)
            found = _collect_one(
                collector, client, publisher, seen, request=request, out=source_report
            )
            outcomes.setdefault(request.source, []).extend(found)
            source_report.breaker_state = client.breaker_status(request).describe()
            source_report.budget_remaining = client.remaining(request).as_dict()
    try:
        publisher.flush()
    except PublishError as exc:
        report.publish_error = str(exc)
        raise CollectorError(report) from exc
    finally:
        # What the broker confirmed is published, even when other records were not: remember
        # it, so the next run does not publish it again.
        delivered = set(publisher.deliveries.delivered)
        settled: list[tuple[Event, bool]] = []
        for source, found in outcomes.items():
            handed = [_id(event) for event, already in found if not already]
            seen.mark(source, [event_id for event_id in handed if event_id in delivered])
            settled += [(event, already or _id(event) in delivered) for event, already in found]
        collector.remember(settled)
    if not report.ok:
        raise CollectorError(report)
    return report


def _id(event: Event) -> str:
    return str(event.value.get("event_id"))


def _collect_one(
    collector: Collector, client: SourceClient, publisher: Publisher, seen: SeenStore, *,
    request: Request, out: SourceReport,
) -> list[tuple[Event, bool]]:  # fmt: skip
    """One request: the events handed to the producer (False) or already published (True)."""
    topic = collector.topic
    try:
        response = client.fetch(request)
    except FetchError as exc:
        out.error = exc.reason
        out.attempts = exc.attempts
        if not isinstance(exc, BudgetRefusedError | CircuitOpenError):  # our refusals: no DLQ
            publisher.dead_letter(request.source, topic, "fetch", exc.reason, exc.raw)
            out.dead_lettered += 1
        return []
    out.latency_ms = response.latency_ms
    out.attempts = response.attempts
    out.replayed = response.replayed
    try:
        items = list(collector.parse(response, utc_now()))
    except PayloadError as exc:
        out.error = f"unreadable payload: {exc}"
        publisher.dead_letter(request.source, topic, "parse", str(exc), response.body)
        out.dead_lettered += 1
        return []
    out.fetched = len(items)
    events: dict[str, Event] = {}
    for item in items:
        if isinstance(item, Rejection):
            publisher.dead_letter(request.source, topic, "parse", item.reason, item.raw)
            out.dead_lettered += 1
            if item.kind != "malformed":
                out.refused.setdefault(item.kind, []).append(item.subject)
        elif item.value.get("event_id") in events:
            out.deduplicated += 1  # the same record twice in one payload
        else:
            events[str(item.value.get("event_id"))] = item
    already = seen.seen(request.source, events)
    out.deduplicated += len(already)
    found = [(events[event_id], True) for event_id in already]
    for event_id, event in events.items():
        if event_id in already:
            continue
        problem = publisher.publish(collector.record_type, topic, event.key, event.value)
        if problem is None:
            found.append((event, False))
        else:
            publisher.dead_letter(
                request.source, topic, "validate", problem, json.dumps(event.value)
            )
            out.dead_lettered += 1
    out.published = sum(1 for _, was_seen in found if not was_seen)
    return found
