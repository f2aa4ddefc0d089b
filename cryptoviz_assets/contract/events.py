"""The event contract in code: load the JSON Schemas, build ids and timestamps, validate.

The schemas in `cryptoviz_assets/contract/schemas` are the single source of truth; producers
validate every record against them before it reaches Kafka.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from functools import cache
from importlib.resources import files
from typing import Any

from jsonschema import Draft202012Validator

SCHEMA_VERSION = 1

# Record type -> schema file; the event_type field carries the same name.
SCHEMA_FILES = {
    "price_tick": "price_tick.v1.json",
    "news_article": "news_article.v1.json",
    "market_sentiment": "market_sentiment.v1.json",
    "price_alert": "price_alert.v1.json",
    "kline": "kline.v1.json",
    "dead_letter": "dead_letter.v1.json",
}


@cache
def validator(record_type: str) -> Draft202012Validator:
    """A cached validator for one record type, with format checking switched on."""
    text = (
        files("cryptoviz_assets.contract.schemas").joinpath(SCHEMA_FILES[record_type]).read_text()
    )
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def validation_error(record_type: str, record: dict[str, Any]) -> str | None:
    """None when `record` is valid; otherwise every problem, one per line."""
    errors = sorted(validator(record_type).iter_errors(record), key=lambda e: list(e.path))
    if not errors:
        return None
    return "\n".join(f"{'/'.join(map(str, e.path)) or '<record>'}: {e.message}" for e in errors)


def event_id(*parts: object) -> str:
    """sha256 hex of the dedup key: the parts joined by '|' (see each schema's description)."""
    return hashlib.sha256("|".join(str(part) for part in parts).encode()).hexdigest()


def iso_utc(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and a trailing Z, the contract's timestamp format."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: Any) -> datetime:
    """A source timestamp (ISO-8601 text or epoch seconds) as an aware UTC datetime."""
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        return datetime.fromtimestamp(int(value), tz=UTC)
    if isinstance(value, str) and value:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    raise ValueError(f"not a timestamp: {value!r}")


def utc_now() -> datetime:
    return datetime.now(UTC)


def envelope(
    record_type: str, id_parts: tuple[object, ...], source: str, *, event_time: datetime,
    ingest_time: datetime, replayed: bool,
) -> dict[str, Any]:  # fmt: skip
    """The fields every event carries, in contract order; event_id from the dedup key."""
    return {
        "schema_version": SCHEMA_VERSION,
        "event_id": event_id(*id_parts),
        "event_type": record_type,
        "source": source,
        "event_time": iso_utc(event_time),
        "ingest_time": iso_utc(ingest_time),
        "replayed": replayed,
    }


def iso_date(moment: datetime) -> str:
    return date(moment.year, moment.month, moment.day).isoformat()
