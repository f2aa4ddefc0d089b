"""Real-time price-spike alerts: one per bar whose range within the minute is too wide.

The rule is the marts' in-minute range rule (dbt var `price_spike_pct`, critical above
`price_spike_critical_pct`, in dbt_project.yml): read from there, so it is stated once.
Bars of ticks (streaming.prices) and exchange klines (streaming.klines) share it. A minute is
judged at once from itself; a move from the previous minute's close, the rule's other half,
is the marts' (int_anomaly_minutes), which see every minute in order. Alerts land in
price_alerts and go to crypto-alerts as price_alert.v1 events.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import yaml  # type: ignore[import-untyped]

from cryptoviz_assets.collectors.events import event_id
from cryptoviz_assets.settings import PROJECT_ROOT, Settings
from streaming.landing import with_column
from streaming.runner import BatchWriter


@cache
def thresholds() -> tuple[float, float]:
    """(warning, critical) percent, from the dbt project's vars."""
    project = yaml.safe_load((PROJECT_ROOT / "dbt_project" / "dbt_project.yml").read_text())
    rules = project["vars"]
    return float(rules["price_spike_pct"]), float(rules["price_spike_critical_pct"])


ALERT_SCHEMA = pa.schema(
    [
        ("schema_version", pa.int64()),
        ("event_id", pa.string()),
        ("event_type", pa.string()),
        ("source", pa.string()),
        ("event_time", pa.string()),
        ("ingest_time", pa.string()),
        ("replayed", pa.bool_()),
        ("coin_id", pa.string()),
        ("alert_type", pa.string()),
        ("severity", pa.string()),
        ("window_start", pa.string()),
        ("window_end", pa.string()),
        ("observed_value", pa.float64()),
        ("threshold", pa.float64()),
        ("explanation", pa.string()),
    ]
)


def spike_pct(high: float, low: float) -> float:
    """The bar's range as a percentage of its low: the size of the move within the minute."""
    return (high - low) / low * 100.0


def spike_alerts(bars: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """price_alert.v1 events for bars whose range exceeds the threshold (or the critical one)."""
    alerts = []
    for bar in bars:
        pct = spike_pct(bar["high"], bar["low"])
        warning_pct, critical_pct = thresholds()
        if pct <= warning_pct:
            continue
        start, end = _iso(bar["window_start"]), _iso(bar["window_end"])
        critical = pct > critical_pct
        direction = "up" if bar["close"] >= bar["open"] else "down"
        alerts.append(
            {
                "schema_version": 1,
                "event_id": event_id("price_spike", bar["coin_id"], bar["source"], start),
                "event_type": "price_alert",
                "source": bar["source"],
                "event_time": _iso(bar["last_event_time"]),
                "ingest_time": _iso(bar["last_ingest_time"]),
                "replayed": bool(bar["replayed"]),
                "coin_id": bar["coin_id"],
                "alert_type": "price_spike",
                "severity": "critical" if critical else "warning",
                "window_start": start,
                "window_end": end,
                "observed_value": round(pct, 6),
                "threshold": critical_pct if critical else warning_pct,
                "explanation": (
                    f"{bar['coin_id']} ({bar['source']}) moved {pct:.2f}% within one minute "
                    f"(low {bar['low']}, high {bar['high']}, open {bar['open']}, "
                    f"close {bar['close']}, {direction})"
                ),
            }
        )
    return alerts


def publish_alerts(settings: Settings, alerts: list[dict[str, Any]]) -> None:
    """At-least-once to Kafka: a replayed batch re-sends the same event_ids; readers dedupe."""
    from confluent_kafka import Producer

    producer = Producer(
        {**settings.kafka_client_config(), "enable.idempotence": True, "acks": "all"}
    )
    errors: list[str] = []

    def _delivered(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(str(err))

    for alert in alerts:
        producer.produce(
            settings.topic_alerts,
            key=alert["coin_id"],
            value=json.dumps(alert),
            on_delivery=_delivered,
        )
    remaining = producer.flush(30)
    if remaining or errors:
        raise RuntimeError(
            f"publishing alerts failed: {remaining} undelivered, errors {errors[:3]}"
        )


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".") + "Z"


def land_alerts(
    writer: BatchWriter,
    batch_id: int,
    alerts: list[dict[str, Any]],
    landed_at: pa.Scalar,
    settings: Settings,
) -> None:
    """A batch's alerts into price_alerts (exactly once, with the batch), then to Kafka."""
    table = (
        pa.Table.from_pylist(alerts, schema=ALERT_SCHEMA) if alerts else ALERT_SCHEMA.empty_table()
    )
    table = with_column(table, "landed_at", landed_at)
    table = with_column(table, "date", pc.utf8_slice_codeunits(table["window_start"], 0, 10))
    writer.write("price_alerts", batch_id, table)
    if alerts:
        publish_alerts(settings, alerts)
