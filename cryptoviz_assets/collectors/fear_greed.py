"""alternative.me Fear & Greed `GET /fng/`: the latest day, or the full history (limit=0).

A history kept as its bare `data` array (no name/metadata envelope) is read as well.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from cryptoviz_assets.collectors.base import (
    Collector,
    Event,
    PayloadError,
    Rejection,
    load_json,
    records,
)
from cryptoviz_assets.collectors.budget import Limits
from cryptoviz_assets.collectors.http import Request, Response
from cryptoviz_assets.contract.events import envelope, iso_date, parse_time
from cryptoviz_assets.settings import Settings

SOURCE = "alternative_me"
KEY = "fear_greed"


class FearGreedCollector(Collector):
    name = "fear_greed"
    record_type = "market_sentiment"
    topic_role = "market_sentiment"

    def __init__(self, settings: Settings, history: bool = False) -> None:
        super().__init__(settings)
        self.history = history  # True: the one-off backfill of every day the index has

    def requests(self) -> list[Request]:
        settings = self.settings
        return [
            Request(
                source=SOURCE,
                url=f"{settings.fear_greed_url}/fng/",
                params={"limit": "0" if self.history else "1", "format": "json"},
                limits=Limits(
                    settings.fear_greed_calls_per_minute, settings.fear_greed_calls_per_month
                ),
            )
        ]

    def parse(self, response: Response, ingest_time: datetime) -> Iterable[Event | Rejection]:
        body = load_json(response)
        if isinstance(body, list):  # the `data` array alone, as histories are often kept
            body = {"data": body}
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise PayloadError(f"expected {{name, data: [...]}}, got: {json.dumps(body)[:300]}")
        error = (body.get("metadata") or {}).get("error")
        if error:
            raise PayloadError(f"alternative.me error: {error}")
        return records(body["data"], lambda day: sentiment(day, ingest_time, response.replayed))


def sentiment(day: dict[str, Any], ingest_time: datetime, replayed: bool) -> Event:
    moment = parse_time(day["timestamp"])
    index_date = iso_date(moment)
    value = envelope(
        "market_sentiment",
        (SOURCE, KEY, index_date),
        SOURCE,
        event_time=moment,
        ingest_time=ingest_time,
        replayed=replayed,
    )
    raw_value = day["value"]
    if isinstance(raw_value, bool) or not str(raw_value).strip().lstrip("-").isdigit():
        raise ValueError(f"index value is not an integer: {raw_value!r}")
    value |= {
        "index_name": KEY,
        "index_date": index_date,
        "value": int(raw_value),
        "classification": str(day.get("value_classification") or "").strip(),
    }
    return Event(KEY, value)
