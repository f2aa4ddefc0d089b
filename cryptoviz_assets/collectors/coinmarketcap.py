"""CoinMarketCap `GET /v1/cryptocurrency/listings/latest`: the top N as price ticks.

`coin_id` is the CoinGecko id, the cross-source key the divergence analytics join on: it
is derived from the listing's symbol, name and slug (see coin_ids.py). A coin without one
is refused (DLQ) and counted on the asset, never published under its CoinMarketCap slug.
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
    number,
    records,
    required_text,
)
from cryptoviz_assets.collectors.budget import Limits
from cryptoviz_assets.collectors.coin_ids import coingecko_id
from cryptoviz_assets.collectors.currency import refuse_wrong_currency
from cryptoviz_assets.collectors.http import Request, Response
from cryptoviz_assets.contract.events import envelope, iso_utc, parse_time

SOURCE = "coinmarketcap"
KEY_HEADER = "X-CMC_PRO_API_KEY"


class CoinMarketCapCollector(Collector):
    name = SOURCE
    record_type = "price_tick"
    topic_role = "prices"
    maps_coin_ids = True

    def skip_reason(self) -> str | None:
        if self.settings.coinmarketcap_key() is None:
            return (
                "CoinMarketCap collector skipped: no COINMARKETCAP_API_KEY is set (live mode). "
                "Get a free key at coinmarketcap.com/api and set it to enable this source."
            )
        return None

    def requests(self) -> list[Request]:
        settings = self.settings
        return [
            Request(
                source=SOURCE,
                url=f"{settings.coinmarketcap_url}/v1/cryptocurrency/listings/latest",
                params={"start": "1", "limit": str(settings.coinmarketcap_limit), "convert": "USD"},
                headers={KEY_HEADER: settings.coinmarketcap_key() or ""},
                limits=Limits(
                    settings.coinmarketcap_calls_per_minute, settings.coinmarketcap_calls_per_month
                ),
            )
        ]

    def parse(self, response: Response, ingest_time: datetime) -> Iterable[Event | Rejection]:
        body = load_json(response)
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise PayloadError(f"expected {{status, data: [...]}}, got: {json.dumps(body)[:300]}")
        status = body.get("status") or {}
        if status.get("error_code") not in (0, "0", None):
            raise PayloadError(f"CoinMarketCap error {status.get('error_code')}: {status}")
        items = records(body["data"], lambda item: price_tick(item, ingest_time, response.replayed))
        return refuse_wrong_currency(list(items))


def price_tick(listing: dict[str, Any], ingest_time: datetime, replayed: bool) -> Event:
    quote = listing["quote"]["USD"]
    symbol = required_text(listing, "symbol")
    slug = required_text(listing, "slug")
    coin_id = coingecko_id(symbol, str(listing.get("name") or ""), slug)
    updated = parse_time(quote.get("last_updated") or listing["last_updated"])
    key = (SOURCE, coin_id, iso_utc(updated))
    value = envelope(
        "price_tick", key, SOURCE, event_time=updated, ingest_time=ingest_time, replayed=replayed
    )
    value |= {
        "coin_id": coin_id,
        "symbol": symbol.upper(),
        "name": str(listing.get("name") or ""),
        "price_usd": number(quote.get("price")),
        "market_cap_usd": number(quote.get("market_cap")),
        "market_cap_rank": number(listing.get("cmc_rank")),
        "volume_24h_usd": number(quote.get("volume_24h")),
        "high_24h_usd": None,  # listings/latest has no 24h range or ATH/ATL
        "low_24h_usd": None,
        "change_1h_pct": number(quote.get("percent_change_1h")),
        "change_24h_pct": number(quote.get("percent_change_24h")),
        "change_7d_pct": number(quote.get("percent_change_7d")),
        "ath_usd": None,
        "ath_change_pct": None,
        "ath_date": None,
        "atl_usd": None,
        "atl_change_pct": None,
        "atl_date": None,
        "circulating_supply": number(listing.get("circulating_supply")),
        "total_supply": number(listing.get("total_supply")),
        "max_supply": number(listing.get("max_supply")),
    }
    return Event(coin_id, value)
