"""The recorded real payloads shipped in `data/` (provenance in data/README.md)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from datetime import datetime
from email.utils import parsedate_to_datetime
from functools import cache
from importlib.resources import files
from typing import Any

COINGECKO_MARKETS = [
    "coins_markets_usd_2023-01-02_top5.json",
    "coins_markets_usd_2020-05-07_8coins.json",
]
CMC_LISTINGS = "listings_latest_2020-05-07_top20.json"
FEAR_GREED = [
    "fng_limit30_2026-08-04_to_2026-09-02.json",
    "fng_limit365_2024-04-22_to_2025-04-22.json",
]
COINDESK_RSS = "coindesk_rss_2026-09-30.xml"
# Binance.US 1-minute klines around the USDC depeg, per pair (open, high, low, close, volume).
BINANCE_KLINES = {
    symbol: f"binanceus_klines_{symbol}_1m_2023-03-01_to_2023-03-21_iaqf.csv.gz"
    for symbol in ("BTCUSD", "BTCUSDC", "BTCUSDT")
}


def data_bytes(name: str) -> bytes:
    return files("cryptoviz_assets.replay").joinpath("data", name).read_bytes()


@cache
def data_json(name: str) -> Any:
    return json.loads(data_bytes(name))


@cache
def fear_greed_days() -> list[dict[str, Any]]:
    """Every recorded day of the index, newest first, one entry per day."""
    days: dict[str, dict[str, Any]] = {}
    for name in FEAR_GREED:
        for day in data_json(name)["data"]:
            days.setdefault(
                day["timestamp"], {k: v for k, v in day.items() if k != "time_until_update"}
            )
    return [days[key] for key in sorted(days, key=int, reverse=True)]


@cache
def coindesk_items() -> list[tuple[datetime, bytes]]:
    """The recorded CoinDesk items, oldest first: (recorded publish time, the item's XML)."""
    items = re.findall(rb"<item>.*?</item>", data_bytes(COINDESK_RSS), flags=re.DOTALL)
    dated = [(parsedate_to_datetime(_pub_date(item)), item) for item in items]
    return sorted(dated, key=lambda pair: pair[0])


def _pub_date(item: bytes) -> str:
    found = re.search(rb"<pubDate>(.*?)</pubDate>", item)
    if found is None:
        raise ValueError("a recorded CoinDesk item has no pubDate")
    return found.group(1).decode()


@cache
def binance_minutes(symbol: str) -> dict[int, tuple[str, str, str, str, str]]:
    """A pair's recorded minutes: epoch minute -> (open, high, low, close, base volume), the
    numbers as recorded text (no float round trip)."""
    text = gzip.decompress(data_bytes(BINANCE_KLINES[symbol])).decode()
    minutes = {}
    for row in csv.DictReader(io.StringIO(text)):
        minute = int(datetime.fromisoformat(row["open_time"]).timestamp()) // 60
        minutes[minute] = (row["open"], row["high"], row["low"], row["close"], row["volume"])
    return minutes
