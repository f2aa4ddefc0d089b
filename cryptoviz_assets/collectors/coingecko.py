"""CoinGecko `GET /api/v3/coins/markets?vs_currency=usd`: one price tick per coin."""

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
    number,
    records,
    required_text,
)
from cryptoviz_assets.collectors.budget import Limits
from cryptoviz_assets.collectors.currency import refuse_wrong_currency
from cryptoviz_assets.collectors.http import Request, Response
from cryptoviz_assets.contract.events import envelope, iso_utc, parse_time

SOURCE = "coingecko"
MAX_PER_PAGE = 250  # the API's page size limit


def optional_time(value: Any) -> str | None:
    return iso_utc(parse_time(value)) if value else None


class CoinGeckoCollector(Collector):
    name = SOURCE
    record_type = "price_tick"
    topic_role = "prices"

    def requests(self) -> list[Request]:
        settings = self.settings
        headers = {}
        if settings.coingecko_api_key is not None:
            headers["x-cg-demo-api-key"] = settings.coingecko_api_key.get_secret_value()
        ids = settings.coingecko_coin_ids
        limits = Limits(settings.coingecko_calls_per_minute, settings.coingecko_calls_per_month)
        return [
            Request(
                source=SOURCE,
                url=f"{settings.coingecko_url}/coins/markets",
                params={
                    "vs_currency": "usd",
                    "ids": ",".join(ids[start : start + MAX_PER_PAGE]),
                    "order": "market_cap_desc",
                    "per_page": str(MAX_PER_PAGE),
                    "page": "1",
                    "sparkline": "false",
                    "price_change_percentage": "1h,24h,7d",
                },
                headers=headers,
                limits=limits,
            )
            for start in range(0, len(ids), MAX_PER_PAGE)
        ]

    def parse(self, response: Response, ingest_time: datetime) -> Iterable[Event | Rejection]:
        body = load_json(response)
        if isinstance(body, dict) and "prices" in body:
            raise PayloadError(
                "a market_chart body (prices, market_caps, total_volumes as [ms, value]), "
                "not coins/markets: this collector reads coins/markets only"
            )
        if not isinstance(body, list):
            raise PayloadError(f"expected a JSON array of coins, got: {json.dumps(body)[:300]}")
        items = records(body, lambda coin: price_tick(coin, ingest_time, response.replayed))
        return refuse_wrong_currency(list(items))


def price_tick(coin: dict[str, Any], ingest_time: datetime, replayed: bool) -> Event:
    coin_id = required_text(coin, "id")
    updated = parse_time(coin["last_updated"])
    key = (SOURCE, coin_id, iso_utc(updated))
    value = envelope(
        "price_tick", key, SOURCE, event_time=updated, ingest_time=ingest_time, replayed=replayed
    )
    value |= {
        "coin_id": coin_id,
        "symbol": required_text(coin, "symbol").upper(),
        "name": str(coin.get("name") or ""),
        "price_usd": number(coin.get("current_price")),
        "market_cap_usd": number(coin.get("market_cap")),
        "market_cap_rank": number(coin.get("market_cap_rank")),
        "volume_24h_usd": number(coin.get("total_volume")),
        "high_24h_usd": number(coin.get("high_24h")),
        "low_24h_usd": number(coin.get("low_24h")),
        "change_1h_pct": number(coin.get("price_change_percentage_1h_in_currency")),
        "change_24h_pct": number(
            coin.get(
                "price_change_percentage_24h_in_currency", coin.get("price_change_percentage_24h")
            )
        ),
        "change_7d_pct": number(coin.get("price_change_percentage_7d_in_currency")),
        "ath_usd": number(coin.get("ath")),
        "ath_change_pct": number(coin.get("ath_change_percentage")),
        "ath_date": optional_time(coin.get("ath_date")),
        "atl_usd": number(coin.get("atl")),
        "atl_change_pct": number(coin.get("atl_change_percentage")),
        "atl_date": optional_time(coin.get("atl_date")),
        "circulating_supply": number(coin.get("circulating_supply")),
        "total_supply": number(coin.get("total_supply")),
        "max_supply": number(coin.get("max_supply")),
    }
    return Event(coin_id, value)
