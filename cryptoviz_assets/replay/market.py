"""A moving market for the demo and the tests: deterministic given a seed and an origin.

Every value is a pure function of (seed, snapshot), where the snapshot is counted from the
market's origin tick: the epoch for a market that follows the wall clock (a restarted server
carries on seamlessly), its first snapshot for a market replayed from the past (the demo), so
the demo's n-th snapshot, and thus every alert it injects, is the same on every run. Only the
timestamps follow the clock. The request order, the timing and the process never matter.

It starts from the recorded CoinMarketCap top-20 snapshot (2020-05-07) and moves every
coin smoothly from one snapshot ("tick", REPLAY_TICK_SECONDS long, aligned to the epoch)
to the next: two slow waves plus bounded noise, never more than ~1% per tick. Both
sources are views of the same market, within 0.1% of each other.

On top of that, every cycle of CYCLE_TICKS ticks injects events for the analytics to catch:
- price spike: bitcoin +7% at tick 5 of the cycle, held for 3 ticks, then back (-6.5%);
- divergence: ripple's CoinMarketCap price 2.5% above CoinGecko's for ticks 15 to 18.
(Volume spikes are read from exchange volume per minute, which the replayed Binance klines
bring; an aggregator's rolling 24 h volume has no per-minute burst to inject.)
Cycles count from the origin; `injections(tick)` says which are active, so tests and demos
can find them.
News: one article every NEWS_EVERY_TICKS ticks, alternating feeds, its headline written
from what the market just did. Fear & Greed: the recorded days, then one generated value
per day after the recording, up to the clock's day.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptoviz_assets.collectors.coin_ids import coingecko_id
from cryptoviz_assets.replay.recordings import CMC_LISTINGS, data_json, fear_greed_days

CYCLE_TICKS = 20
SPIKE = ("bitcoin", 5, 3, 1.07)  # coin, first tick in cycle, ticks held, factor
DIVERGENCE = ("ripple", 15, 4, 1.025)  # coin, first tick, ticks, CMC price factor
NEWS_EVERY_TICKS = 5
NEWS_FEEDS = ("coindesk", "cointelegraph")
NEWS_PER_FEED = 20

# All-time highs and lows as CoinGecko reported them on 2020-05-07 (recorded payload).
ATH_ATL = {
    "bitcoin": (19665.39, "2017-12-16T00:00:00.000Z", 67.81, "2013-07-06T00:00:00.000Z"),
    "ethereum": (1448.18, "2018-01-13T00:00:00.000Z", 0.432979, "2015-10-20T00:00:00.000Z"),
    "binancecoin": (39.68, "2019-06-22T12:20:21.894Z", 0.0398177, "2017-10-19T00:00:00.000Z"),
    "tron": (0.231673, "2018-01-05T00:00:00.000Z", 0.00180434, "2017-11-12T00:00:00.000Z"),
}


@dataclass(frozen=True)
class Coin:
    coingecko_id: str
    cmc_id: int
    slug: str
    symbol: str
    name: str
    price: float
    volume: float
    circulating: float | None
    total: float | None
    max_supply: float | None
    rank: int


@dataclass(frozen=True)
class Injection:
    kind: str  # price_spike | divergence
    coin_id: str
    factor: float


def baseline() -> list[Coin]:
    coins = []
    for item in data_json(CMC_LISTINGS)["data"]:
        usd = item["quote"]["USD"]
        coins.append(
            Coin(
                coingecko_id=coingecko_id(item["symbol"], item["name"], item["slug"]),
                cmc_id=item["id"],
                slug=item["slug"],
                symbol=item["symbol"],
                name=item["name"],
                price=usd["price"],
                volume=usd["volume_24h"],
                circulating=item.get("circulating_supply"),
                total=item.get("total_supply"),
                max_supply=item.get("max_supply"),
                rank=item["cmc_rank"],
            )
        )
    return coins


def _unit(*parts: object) -> float:
    """A deterministic pseudo-random number in [0, 1) for these parts."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def classify(value: int) -> str:
    """alternative.me's buckets, as the recorded days show them."""
    for bound, label in ((25, "Extreme Fear"), (46, "Fear"), (54, "Neutral"), (75, "Greed")):
        if value <= bound:
            return label
    return "Extreme Greed"


class Market:
    def __init__(
        self,
        seed: int = 42,
        tick_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
        origin: int = 0,
    ) -> None:
        self.seed = seed
        self.tick_seconds = tick_seconds
        self.clock = clock
        self.origin = origin
        self.coins = baseline()
        self.by_id = {coin.coingecko_id: coin for coin in self.coins}

    # --- time ----------------------------------------------------------------------
    def tick(self) -> int:
        return int(self.clock() // self.tick_seconds)

    def tick_time(self, tick: int) -> float:
        return tick * self.tick_seconds

    def ticks(self, seconds: float) -> int:
        return max(1, round(seconds / self.tick_seconds))

    def step(self, tick: int) -> int:
        """The snapshot number of `tick`, counted from the origin: what the model depends on."""
        return tick - self.origin

    # --- the model ------------------------------------------------------------------
    def injections(self, tick: int) -> list[Injection]:
        phase = self.step(tick) % CYCLE_TICKS
        found = []
        coin, start, length, factor = SPIKE
        if start <= phase < start + length:
            found.append(Injection("price_spike", coin, factor))
        coin, start, length, factor = DIVERGENCE
        if start <= phase < start + length:
            found.append(Injection("divergence", coin, factor))
        return found

    def _factor(self, kind: str, coin: Coin, tick: int) -> float:
        return math.prod(
            i.factor
            for i in self.injections(tick)
            if i.kind == kind and i.coin_id == coin.coingecko_id
        )

    def price(self, coin: Coin, tick: int) -> float:
        """CoinGecko's price at `tick`: two slow waves, bounded noise, injected spikes."""
        n = self.step(tick)
        phase1 = _unit(self.seed, coin.slug, "p1") * 2 * math.pi
        phase2 = _unit(self.seed, coin.slug, "p2") * 2 * math.pi
        wobble = (
            0.03 * math.sin(2 * math.pi * n / 240 + phase1)
            + 0.01 * math.sin(2 * math.pi * n / 47 + phase2)
            + 0.002 * (2 * _unit(self.seed, coin.slug, n) - 1)
        )
        return coin.price * math.exp(wobble) * self._factor("price_spike", coin, tick)

    def cmc_price(self, coin: Coin, tick: int) -> float:
        """CoinMarketCap's view: the same market within 0.1%, plus injected divergence."""
        jitter = 1 + 0.001 * (2 * _unit(self.seed, coin.slug, self.step(tick), "cmc") - 1)
        return self.price(coin, tick) * jitter * self._factor("divergence", coin, tick)

    def volume(self, coin: Coin, tick: int) -> float:
        """24h volume: slow drift with bounded tick noise (+-3%), as real polls jitter."""
        n = self.step(tick)
        phase1 = _unit(self.seed, coin.slug, "v1") * 2 * math.pi
        phase2 = _unit(self.seed, coin.slug, "v2") * 2 * math.pi
        wobble = (
            0.08 * math.sin(2 * math.pi * n / 720 + phase1)
            + 0.03 * math.sin(2 * math.pi * n / 311 + phase2)
            + 0.03 * (2 * _unit(self.seed, coin.slug, n, "volume") - 1)
        )
        return coin.volume * math.exp(wobble)

    def change_pct(self, coin: Coin, tick: int, seconds: float) -> float:
        before = self.price(coin, tick - self.ticks(seconds))
        return round((self.price(coin, tick) / before - 1) * 100, 5)

    def range_24h(self, coin: Coin, tick: int) -> tuple[float, float]:
        span = self.ticks(86400)
        step = max(1, span // 48)
        seen = [self.price(coin, t) for t in range(tick - span, tick + 1, step)]
        seen.append(self.price(coin, tick))
        return max(seen), min(seen)

    def updated_at(self, coin: Coin, tick: int, source: str) -> str:
        """Each coin updates a few seconds into the tick, like the real services."""
        offset = _unit(self.seed, coin.slug, source, "t") * min(self.tick_seconds * 0.5, 20)
        moment = datetime.fromtimestamp(self.tick_time(tick) + offset, UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    # --- payloads -------------------------------------------------------------------
    def coingecko_markets(
        self, ids: list[str] | None, tick: int | None = None
    ) -> list[dict[str, Any]]:
        tick = self.tick() if tick is None else tick
        wanted = [self.by_id[i] for i in ids if i in self.by_id] if ids else list(self.coins)
        rows: list[dict[str, Any]] = []
        for coin in wanted:
            price = self.price(coin, tick)
            high, low = self.range_24h(coin, tick)
            supply = coin.circulating or 0.0
            ath, ath_date, atl, atl_date = ATH_ATL.get(coin.coingecko_id, (None, None, None, None))
            rows.append(
                {
                    "id": coin.coingecko_id,
                    "symbol": coin.symbol.lower(),
                    "name": coin.name,
                    "image": None,
                    "current_price": round(price, 8),
                    "market_cap": round(price * supply, 2),
                    "market_cap_rank": coin.rank,
                    "total_volume": round(self.volume(coin, tick), 2),
                    "high_24h": round(high, 8),
                    "low_24h": round(low, 8),
                    "price_change_percentage_24h": self.change_pct(coin, tick, 86400),
                    "circulating_supply": coin.circulating,
                    "total_supply": coin.total,
                    "max_supply": coin.max_supply,
                    "ath": ath,
                    "ath_change_percentage": round((price / ath - 1) * 100, 5) if ath else None,
                    "ath_date": ath_date,
                    "atl": atl,
                    "atl_change_percentage": round((price / atl - 1) * 100, 5) if atl else None,
                    "atl_date": atl_date,
                    "roi": None,
                    "last_updated": self.updated_at(coin, tick, "coingecko"),
                    "price_change_percentage_1h_in_currency": self.change_pct(coin, tick, 3600),
                    "price_change_percentage_24h_in_currency": self.change_pct(coin, tick, 86400),
                    "price_change_percentage_7d_in_currency": self.change_pct(
                        coin, tick, 7 * 86400
                    ),
                }
            )
        rows.sort(key=lambda row: float(row["market_cap"]), reverse=True)
        return rows

    def cmc_listings(self, start: int, limit: int, tick: int | None = None) -> dict[str, Any]:
        tick = self.tick() if tick is None else tick
        now = datetime.fromtimestamp(self.clock(), UTC).isoformat(timespec="milliseconds")
        data: list[dict[str, Any]] = []
        for coin in self.coins[start - 1 : start - 1 + limit]:
            price = self.cmc_price(coin, tick)
            updated = self.updated_at(coin, tick, "coinmarketcap")
            data.append(
                {
                    "id": coin.cmc_id,
                    "name": coin.name,
                    "symbol": coin.symbol,
                    "slug": coin.slug,
                    "cmc_rank": coin.rank,
                    "max_supply": coin.max_supply,
                    "circulating_supply": coin.circulating,
                    "total_supply": coin.total,
                    "last_updated": updated,
                    "quote": {
                        "USD": {
                            "price": price,
                            "volume_24h": self.volume(coin, tick),
                            "percent_change_1h": self.change_pct(coin, tick, 3600),
                            "percent_change_24h": self.change_pct(coin, tick, 86400),
                            "percent_change_7d": self.change_pct(coin, tick, 7 * 86400),
                            "market_cap": price * (coin.circulating or 0.0),
                            "last_updated": updated,
                        }
                    },
                }
            )
        status = {"timestamp": now.replace("+00:00", "Z"), "error_code": 0, "error_message": None,
                  "elapsed": 1, "credit_count": 1, "notice": None}  # fmt: skip
        return {"status": status, "data": data}

    def fear_greed(self) -> list[dict[str, Any]]:
        """Recorded days, then one generated day per day after the recording, newest first."""
        recorded = fear_greed_days()
        last_day = int(recorded[0]["timestamp"])
        value = int(recorded[0]["value"])
        generated = []
        today = int(self.clock() // 86400 * 86400)
        for day in range(last_day + 86400, today + 1, 86400):
            step = round(6 * (2 * _unit(self.seed, "fng", day) - 1))
            value = min(95, max(5, value + step + (50 - value) // 10))
            generated.append({"value": str(value), "value_classification": classify(value),
                              "timestamp": str(day)})  # fmt: skip
        return list(reversed(generated)) + recorded

    def articles(self, feed: str, tick: int | None = None) -> list[dict[str, Any]]:
        """The latest generated articles of `feed`, newest first.

        Articles are numbered from the origin like snapshots; the ones before it (negative
        numbers) fill a market's feeds from its first snapshot on.
        """
        tick = self.tick() if tick is None else tick
        index = NEWS_FEEDS.index(feed)
        number = self.step(tick) // NEWS_EVERY_TICKS
        found: list[dict[str, Any]] = []
        while len(found) < NEWS_PER_FEED:
            if number % len(NEWS_FEEDS) == index:
                found.append(self._article(feed, number))
            number -= 1
        return found

    def _article(self, feed: str, number: int) -> dict[str, Any]:
        """Article `number`; its guid names the origin too, so it is never reused elsewhere."""
        tick = self.origin + number * NEWS_EVERY_TICKS
        coin = self.coins[int(_unit(self.seed, "news", number) * 8)]
        change = self.change_pct(coin, tick, 3600)
        if change > 3:
            title = f"{coin.name} jumps {change:.1f}% in an hour as buyers rush in"
        elif change > 0.5:
            title = f"{coin.name} edges up {change:.1f}% as traders turn cautiously bullish"
        elif change < -3:
            title = f"{coin.name} slumps {abs(change):.1f}% in an hour, liquidations mount"
        elif change < -0.5:
            title = f"{coin.name} slips {abs(change):.1f}% as sellers test support"
        else:
            title = f"{coin.name} trades flat near ${self.price(coin, tick):,.2f}"
        summary = (
            f"<p>{coin.name} ({coin.symbol}) traded at ${self.price(coin, tick):,.4f} with "
            f"24h volume of ${self.volume(coin, tick) / 1e6:,.0f}M &amp; a 1h move of "
            f"{change:+.2f}%.</p><p><em>Generated by the CryptoViz replay market.</em></p>"
        )
        published = datetime.fromtimestamp(self.tick_time(tick), UTC) + timedelta(seconds=7)
        return {
            "guid": f"replay-{feed}-{self.seed}-{self.origin}-{number}",
            "link": f"https://replay.cryptoviz.invalid/{feed}/{self.origin}/{number}",
            "title": title,
            "summary_html": summary,
            "author": "CryptoViz Replay Desk",
            "categories": ["Markets", coin.name],
            "published": published,
        }
