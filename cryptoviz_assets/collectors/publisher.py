"""Validated, idempotent publishing to Kafka, with a dead-letter path.

Every event is validated against its JSON Schema before produce; what fails goes to the
DLQ topic instead, with the raw payload, the source and the reason, and the rest still
publishes. The producer is idempotent with acks=all (see KafkaResource.producer); every
delivery report is checked after flush, so a run never claims records the broker lost.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from cryptoviz_assets.contract.events import (
    SCHEMA_VERSION,
    iso_utc,
    utc_now,
    validation_error,
)

RAW_LIMIT_CHARS = 200_000  # keeps a DLQ record well under the broker's message size limit

Stage = Literal["fetch", "parse", "validate", "publish"]


def encode(value: dict[str, Any]) -> bytes:
    """Compact, strict JSON: NaN and Infinity raise ValueError instead of being written."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


class ProducerLike(Protocol):
    """The part of confluent_kafka.Producer the publisher uses."""

    def produce(self, topic: str, *args: Any, **kwargs: Any) -> None: ...

    def poll(self, timeout: float) -> int: ...

    def flush(self, timeout: float) -> int: ...


class PublishError(Exception):
    """The broker did not confirm every record."""


@dataclass
class Deliveries:
    delivered: list[str] = field(default_factory=list)  # event ids (or DLQ markers)
    failed: list[tuple[str, str]] = field(default_factory=list)


class Publisher:
    def __init__(self, producer: ProducerLike, dlq_topic: str, flush_timeout: float = 30.0):
        self.producer = producer
        self.dlq_topic = dlq_topic
        self.flush_timeout = flush_timeout
        self.deliveries = Deliveries()

    def publish(self, record_type: str, topic: str, key: str, value: dict[str, Any]) -> str | None:
        """Validate and produce one event; returns the validation error instead if any."""
        problem = validation_error(record_type, value)
        if problem is not None:
            return problem
        try:
            payload = encode(value)
        except ValueError as exc:  # the schema's "number" lets NaN and Infinity through
            return f"not standard JSON (NaN and Infinity are refused): {exc}"
        self._produce(topic, key, payload, record_type, str(value["event_id"]))
        return None

    def dead_letter(
        self, source: str, intended_topic: str | None, stage: Stage, reason: str, raw: str | bytes
    ) -> None:
        """Send what could not become an event to the DLQ, raw payload and reason included."""
        text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
        if len(text) > RAW_LIMIT_CHARS:
            text = text[:RAW_LIMIT_CHARS] + f"\n...[truncated, {len(text)} characters in all]"
        record = {
            "schema_version": SCHEMA_VERSION,
            "source": source,
            "intended_topic": intended_topic,
            "stage": stage,
            "reason": reason or "unknown",
            "raw": text,
            "failed_at": iso_utc(utc_now()),
        }
        problem = validation_error("dead_letter", record)
        if problem is not None:  # a bug in this module, never the source's fault
            raise ValueError(f"dead-letter record is invalid: {problem}")
        self._produce(
            self.dlq_topic, source, encode(record), "dead_letter", f"dlq:{source}:{stage}"
        )

    def _produce(self, topic: str, key: str, payload: bytes, record_type: str, marker: str) -> None:
        def on_delivery(err: Any, _msg: Any) -> None:
            if err is None:
                self.deliveries.delivered.append(marker)
            else:
                self.deliveries.failed.append((marker, str(err)))

        headers = [("event_type", record_type.encode()), ("schema_version", b"1")]
        while True:
            try:
                self.producer.produce(
                    topic, value=payload, key=key.encode(), headers=headers,
                    on_delivery=on_delivery,
                )  # fmt: skip
                break
            except BufferError:  # local queue full: let deliveries drain, then try again
                self.producer.poll(0.5)
        self.producer.poll(0)

    def flush(self) -> Deliveries:
        """Wait for every delivery report; raise if any record was not confirmed."""
        left = self.producer.flush(self.flush_timeout)
        if left or self.deliveries.failed:
            failed = "; ".join(f"{m}: {e}" for m, e in self.deliveries.failed[:5])
            raise PublishError(
                f"broker did not confirm {left + len(self.deliveries.failed)} record(s)"
                + (f": {failed}" if failed else f" within {self.flush_timeout:g}s")
            )
        return self.deliveries
