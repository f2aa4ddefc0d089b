"""Binance `GET /api/v3/klines?interval=1m`: one kline event per closed minute of each pair.

Public market data: no API key. One request per configured pair, from the pair's cursor
(the first minute not yet on the broker) when it has one, else the latest `limit` minutes.
A kline still trading when the response was read is left for the next poll. The pair's
`coin_id` is its base asset's CoinGecko id from the project's coin catalogue (coin_ids.py):
a pair whose base has no single id is refused, never published under a made-up key.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
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
from cryptoviz_assets.collectors.coin_ids import UnmappedCoinError, coingecko_id_of_asset
from cryptoviz_assets.collectors.cursors import CursorStore
from cryptoviz_assets.collectors.http import Request, Response
from cryptoviz_assets.contract.events import envelope, iso_utc
from cryptoviz_assets.settings import Settings

SOURCE = "binance"
INTERVAL = "1m"
MINUTE_MS = 60_000
ROW_FIELDS = 12  # open time, o, h, l, c, volume, close time, quote volume, trades, 2 taker, ignore
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# What Binance pairs are quoted in, longest first so USDT is not read as USD + T. Dollars
# (stablecoins and USD), fiat, and the coins Binance quotes other coins in.
QUOTE_ASSETS = tuple(
    sorted(
        {"USDT", "USDC", "FDUSD", "TUSD", "BUSD", "USDP", "DAI", "USD", "EUR", "GBP", "TRY",
         "BRL", "JPY", "AUD", "BTC", "ETH", "BNB"},
        key=lambda quote: (-len(quote), quote),
    )
)  # fmt: skip
INTERVAL_NAMES = {
    60_000: "1m", 180_000: "3m", 300_000: "5m", 900_000: "15m", 1_800_000: "30m",
    3_600_000: "1h", 7_200_000: "2h", 14_400_000: "4h", 21_600_000: "6h", 28_800_000: "8h",
    43_200_000: "12h", 86_400_000: "1d", 259_200_000: "3d", 604_800_000: "1w",
}  # fmt: skip


def interval_name(span_ms: int) -> str:
    return INTERVAL_NAMES.get(span_ms, f"{span_ms} ms")


def split_pair(symbol: str) -> tuple[str, str, str]:
    """(base asset, quote asset, CoinGecko id of the base) of a pair; UnmappedCoinError for
    a pair with no known quote asset or a base without a single CoinGecko id."""
    quote = next((q for q in QUOTE_ASSETS if symbol.endswith(q) and len(symbol) > len(q)), None)
    if quote is None:
        raise UnmappedCoinError(
            f"unknown symbol {symbol}: it ends in none of the quote assets "
            f"{', '.join(sorted(QUOTE_ASSETS))}",
            symbol,
        )
    base = symbol.removesuffix(quote)
    try:
        coin_id = coingecko_id_of_asset(base, symbol)
    except UnmappedCoinError as exc:
        raise UnmappedCoinError(f"unknown symbol {symbol}: {exc}", symbol) from exc
    return base, quote, coin_id


class BinanceKlinesCollector(Collector):
    name = SOURCE
    record_type = "kline"
    topic_role = "klines"
    maps_coin_ids = True  # the asset shows pairs refused for want of a CoinGecko id

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._cursor_keys: dict[str, str] = {}  # pair -> where its cursor is kept

    def cursors(self) -> CursorStore:
        return CursorStore(self.settings.state_dir / "cursors.sqlite")

    def requests(self) -> list[Request]:
        settings = self.settings
        limits = Limits(settings.binance_calls_per_minute, settings.binance_calls_per_month)
        cursors = self.cursors()
        found = []
        for symbol in settings.binance_pairs:
            request = Request(
                source=SOURCE,
                url=f"{settings.binance_api_url}/api/v3/klines",
                params={
                    "symbol": symbol,
                    "interval": INTERVAL,
                    "limit": str(settings.binance_klines_limit),
                },
                limits=limits,
                subject=symbol,
            )
            # Per host: the replay's minutes are not the live exchange's.
            self._cursor_keys[symbol] = request.key
            if (start := cursors.get(request.key, symbol)) is not None:
                request = replace(request, params={**request.params, "startTime": str(start)})
            found.append(request)
        return found

    def parse(self, response: Response, ingest_time: datetime) -> Iterable[Event | Rejection]:
        body = load_json(response)
        if isinstance(body, dict) and "code" in body:
            raise PayloadError(f"Binance error {body.get('code')}: {body.get('msg')}")
        if not isinstance(body, list):
            raise PayloadError(f"expected a JSON array of klines, got: {json.dumps(body)[:300]}")
        params = response.request.params
        symbol = params.get("symbol", "")
        if not symbol:
            raise PayloadError("the request named no symbol: klines rows do not name their pair")
        if params.get("interval", INTERVAL) != INTERVAL:
            raise PayloadError(f"interval={params['interval']} asked: kline.v1 is 1m bars only")
        check_interval(body)
        try:
            base, quote, coin_id = split_pair(symbol)
        except UnmappedCoinError as exc:  # every row of the pair: one refusal, one DLQ record
            return [Rejection.of({"symbol": symbol, "klines": body}, exc)]
        fetched_ms = (ingest_time - EPOCH) // timedelta(milliseconds=1)
        closed = [row for row in body if not still_open(row, fetched_ms)]
        pair = (symbol, base, quote, coin_id)
        return records(closed, lambda row: kline(row, pair, ingest_time, response.replayed))

    def remember(self, settled: Sequence[tuple[Event, bool]]) -> None:
        """Each pair resumes at its first minute not on the broker, else after its last."""
        by_pair: dict[str, list[tuple[int, bool]]] = {}
        for event, on_broker in settled:
            open_ms = millis(event.value["open_time"])
            by_pair.setdefault(event.key, []).append((open_ms, on_broker))
        cursors = self.cursors()
        for symbol, minutes in by_pair.items():
            if (where := self._cursor_keys.get(symbol)) is None:
                continue
            missing = [open_ms for open_ms, on_broker in minutes if not on_broker]
            position = min(missing) if missing else max(m for m, _ in minutes) + MINUTE_MS
            cursors.set(where, symbol, position)


def millis(iso: str) -> int:
    return (datetime.fromisoformat(iso.replace("Z", "+00:00")) - EPOCH) // timedelta(milliseconds=1)


def _looks_like_row(row: Any) -> bool:
    return (
        isinstance(row, list)
        and len(row) == ROW_FIELDS
        and all(isinstance(row[i], int) and not isinstance(row[i], bool) for i in (0, 6))
    )


def check_interval(body: list[Any]) -> None:
    """A body of bars of another length answers another request: refused whole."""
    spans = {row[6] - row[0] + 1 for row in body if _looks_like_row(row)}
    if spans and MINUTE_MS not in spans:
        names = ", ".join(interval_name(span) for span in sorted(spans))
        raise PayloadError(
            f"{names} klines where interval={INTERVAL} was asked: kline.v1 is 1m bars only"
        )


def still_open(row: Any, fetched_ms: int) -> bool:
    """A well-formed row whose minute had not ended when the response was read."""
    return _looks_like_row(row) and row[0] + MINUTE_MS > fetched_ms


def timestamp_ms(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} is not epoch milliseconds: {value!r}")
    return value


def amount(value: Any, name: str) -> float:
    """Binance's decimal text ("20676.00000000"), or a JSON number; finite only."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TypeError(f"{name} is not a decimal: {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"non-finite number in {name} ({value})")
    return number


def kline(
    row: Any, pair: tuple[str, str, str, str], ingest_time: datetime, replayed: bool
) -> Event:
    """One closed minute of one pair; ValueError/TypeError names what is wrong with a row."""
    if not isinstance(row, list) or len(row) != ROW_FIELDS:
        size = f"{len(row)} fields" if isinstance(row, list) else type(row).__name__
        raise ValueError(f"not Binance's {ROW_FIELDS}-field kline array: {size}")
    open_ms = timestamp_ms(row[0], "open_time")
    span = timestamp_ms(row[6], "close_time") - open_ms + 1
    if span != MINUTE_MS:
        raise ValueError(f"a {interval_name(span)} bar, not the {INTERVAL} asked for")
    prices = {}
    for i, name in enumerate(("open", "high", "low", "close"), start=1):
        prices[name] = amount(row[i], name)
        if prices[name] <= 0:
            raise ValueError(f"{name} price {row[i]!r} is not > 0")
    high, low = prices["high"], prices["low"]
    if high < max(prices["open"], prices["close"]):
        raise ValueError(f"high {high} is below open {prices['open']} or close {prices['close']}")
    if low > min(prices["open"], prices["close"]):
        raise ValueError(f"low {low} is above open {prices['open']} or close {prices['close']}")
    volume_base, volume_quote = amount(row[5], "volume_base"), amount(row[7], "volume_quote")
    if volume_base < 0 or volume_quote < 0:
        raise ValueError(f"negative volume: base {volume_base}, quote {volume_quote}")
    trades = row[8]
    counted = isinstance(trades, int) and not isinstance(trades, bool) and trades >= 0
    if trades is not None and not counted:
        raise ValueError(f"trade_count is not a count: {trades!r}")
    symbol, base, quote, coin_id = pair
    opened = EPOCH + timedelta(milliseconds=open_ms)
    value = envelope(
        "kline", (SOURCE, symbol, iso_utc(opened)), SOURCE,
        event_time=opened, ingest_time=ingest_time, replayed=replayed,
    )  # fmt: skip
    value |= {
        "symbol": symbol,
        "coin_id": coin_id,
        "base_asset": base,
        "quote_asset": quote,
        "interval": INTERVAL,
        "open_time": iso_utc(opened),
        "close_time": iso_utc(opened + timedelta(minutes=1)),
        **prices,
        "volume_base": volume_base,
        "volume_quote": volume_quote,
        "trade_count": trades,
    }
    return Event(symbol, value)
