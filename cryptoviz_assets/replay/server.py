"""The replay HTTP server: the real sources' paths and parameters, on 127.0.0.1.

| path | stands for |
|---|---|
| GET /api/v3/coins/markets?vs_currency=usd&ids=&per_page=&page= | api.coingecko.com |
| GET /v1/cryptocurrency/listings/latest?start=&limit= (key header) | pro-api.coinmarketcap.com |
| GET /fng/?limit=N (0 = all) | api.alternative.me |
| GET /arc/outboundfeeds/rss/ | www.coindesk.com |
| GET /rss | cointelegraph.com |
| GET /api/v3/klines?symbol=&interval=1m&limit=&startTime=&endTime= | api.binance.com |
| POST /_replay/advance?ticks=N | moves a market started in the past N ticks on (the demo) |
| POST /_replay/release | a market started in the past follows the wall clock from now on |

Scenario `recorded` serves the recorded payloads as recorded (filtered by the query like
the services do; CoinGecko alternates between its two recordings). Scenario `market` serves
the moving market of market.py, and replays the recorded real CoinDesk items on the
market's clock, so real headlines and the market's prices share one time axis. Klines, in
both scenarios, are recorded Binance.US minutes (BTCUSD, BTCUSDC, BTCUSDT, March 2023)
replayed one a market minute from REPLAY_KLINES_START, re-timed to the market's clock, and
only once that minute has closed on it. Every
response carries `X-CryptoViz-Replay: true`, which the collectors turn into
`replayed: true` on their events. Stdlib only: it must start anywhere.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from cryptoviz_assets.replay.clock import CatchUpClock
from cryptoviz_assets.replay.market import Market
from cryptoviz_assets.replay.recordings import (
    BINANCE_KLINES,
    CMC_LISTINGS,
    COINDESK_RSS,
    COINGECKO_MARKETS,
    binance_minutes,
    coindesk_items,
    data_bytes,
    data_json,
    fear_greed_days,
)
from cryptoviz_assets.settings import REPLAY_KLINES_START

JSON = "application/json; charset=utf-8"
RSS = "application/rss+xml; charset=utf-8"
FEED_PATHS = {"/arc/outboundfeeds/rss/": "coindesk", "/rss": "cointelegraph"}
RECORDED_NEWS_EVERY_TICKS = 1  # one recorded CoinDesk item per market tick: 25 in 25 minutes
FEED_TITLES = {"coindesk": "CoinDesk (replay)", "cointelegraph": "Cointelegraph (replay)"}
MINUTE_MS = 60_000
KLINES_LIMIT_MAX = 1000  # Binance's own cap


class ReplayApp:
    """Routes a GET to a payload; independent of the HTTP plumbing, so tests can call it."""

    def __init__(
        self, scenario: str = "market", seed: int = 42, tick_seconds: float = 60.0,
        clock: Callable[[], float] = time.time, klines_start: datetime = REPLAY_KLINES_START,
    ) -> None:  # fmt: skip
        if scenario not in ("market", "recorded"):
            raise ValueError(f"unknown replay scenario {scenario!r}")
        self.klines_start = int(klines_start.timestamp()) // 60  # a recorded minute
        recorded = binance_minutes("BTCUSD")
        if self.klines_start not in recorded:
            first, last = (
                datetime.fromtimestamp(60 * m, UTC) for m in (min(recorded), max(recorded))
            )
            raise ValueError(
                f"REPLAY_KLINES_START {klines_start} is not a recorded minute ({first} to {last})"
            )
        self.scenario = scenario
        self.clock = clock
        origin = clock.origin if isinstance(clock, CatchUpClock) else 0
        self.market = Market(seed=seed, tick_seconds=tick_seconds, clock=clock, origin=origin)
        # The tick the recorded news starts replaying at: the first snapshot of a market
        # replayed from the past (the same on every run), else the server's start.
        self.recorded_news_start = origin or self.market.tick()
        # The market minute that replays the recorded minute `klines_start`: the same start.
        self.klines_market_start = int(self.market.tick_time(self.recorded_news_start) // 60)
        self._coingecko_turn = itertools.count()

    def handle(
        self, path: str, query: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, str, bytes]:
        if path in FEED_PATHS:
            return self.feed(FEED_PATHS[path])
        routes: dict[str, Callable[[], tuple[int, str, bytes]]] = {  # paths, with or without /
            "/api/v3/coins/markets": lambda: self.coingecko(query),
            "/v1/cryptocurrency/listings/latest": lambda: self.coinmarketcap(query, headers),
            "/fng": lambda: self.fear_greed(query),
            "/api/v3/klines": lambda: self.klines(query),
            "": lambda: (200, JSON, _json(self.status())),
        }
        route = routes.get(path.rstrip("/"))
        if route is None:
            return 404, JSON, _json({"error": f"no such path in replay: {path}"})
        return route()

    def status(self) -> dict[str, Any]:
        return {"replay": True, "scenario": self.scenario, "tick": self.market.tick()}

    def advance(self, query: dict[str, str]) -> tuple[int, str, bytes]:
        """POST /_replay/advance: move a catch-up clock on; wall-clock markets just say so."""
        caught_up = True
        if isinstance(self.clock, CatchUpClock):
            caught_up = self.clock.advance(int(query.get("ticks", "1")))
        return 200, JSON, _json({"tick": self.market.tick(), "caught_up": caught_up})

    def release(self) -> tuple[int, str, bytes]:
        """POST /_replay/release: the market follows the wall clock from now on."""
        if isinstance(self.clock, CatchUpClock):
            self.clock.release()
        return 200, JSON, _json({"tick": self.market.tick(), "caught_up": True})

    def coingecko(self, query: dict[str, str]) -> tuple[int, str, bytes]:
        if query.get("vs_currency", "").lower() != "usd":
            return 400, JSON, _json({"error": "replay serves vs_currency=usd only"})
        ids = [i for i in query.get("ids", "").split(",") if i]
        per_page = min(int(query.get("per_page", "100")), 250)
        page = max(int(query.get("page", "1")), 1)
        if self.scenario == "market":
            rows = self.market.coingecko_markets(ids)
        else:
            recording = COINGECKO_MARKETS[next(self._coingecko_turn) % len(COINGECKO_MARKETS)]
            rows = [row for row in data_json(recording) if not ids or row["id"] in ids]
        return 200, JSON, _json(rows[(page - 1) * per_page : page * per_page])

    def coinmarketcap(
        self, query: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, str, bytes]:
        if not headers.get("x-cmc_pro_api_key"):
            status = {"error_code": 1002, "error_message": "API key missing.", "credit_count": 0}
            return 401, JSON, _json({"status": status})
        start = max(int(query.get("start", "1")), 1)
        limit = min(max(int(query.get("limit", "100")), 1), 5000)
        if self.scenario == "market":
            return 200, JSON, _json(self.market.cmc_listings(start, limit))
        body = dict(data_json(CMC_LISTINGS))
        body["data"] = body["data"][start - 1 : start - 1 + limit]
        return 200, JSON, _json(body)

    def fear_greed(self, query: dict[str, str]) -> tuple[int, str, bytes]:
        limit = int(query.get("limit", "1") or "1")
        days = self.market.fear_greed() if self.scenario == "market" else fear_greed_days()
        chosen = [dict(day) for day in (days if limit == 0 else days[:limit])]
        if chosen:
            chosen[0]["time_until_update"] = str(86400 - int(self.market.clock()) % 86400)
        body = {"name": "Fear and Greed Index", "data": chosen, "metadata": {"error": None}}
        return 200, JSON, _json(body)

    def klines(self, query: dict[str, str]) -> tuple[int, str, bytes]:
        """Binance's klines of the recorded pairs: the market minutes that have closed, from
        startTime on (the first `limit`), or the last `limit` up to endTime or now."""
        symbol = query.get("symbol", "")
        if symbol not in BINANCE_KLINES:
            return 400, JSON, _json({"code": -1121, "msg": "Invalid symbol."})
        if query.get("interval") != "1m":  # the recordings are 1-minute bars
            return 400, JSON, _json({"code": -1120, "msg": "Invalid interval."})
        limit = min(max(int(query.get("limit", "500")), 1), KLINES_LIMIT_MAX)
        recorded = binance_minutes(symbol)
        first = self.klines_market_start
        last = min(
            int(self.clock() // 60) - 1,  # the minute trading now is not served
            first + max(recorded) - self.klines_start,  # the recordings end
        )
        if "startTime" in query:
            first = max(first, -(-int(query["startTime"]) // MINUTE_MS))
        if "endTime" in query:
            last = min(last, int(query["endTime"]) // MINUTE_MS)
        minutes = range(first, last + 1)
        chosen = minutes[:limit] if "startTime" in query else minutes[-limit:]
        return 200, JSON, _json([self.kline_row(symbol, minute) for minute in chosen])

    def kline_row(self, symbol: str, minute: int) -> list[Any]:
        """Binance's 12-field row for a market minute, from its recorded minute. The
        recordings keep no quote volume, trade count or taker volumes: quote volume is
        volume x close, the others null."""
        recorded = self.klines_start + minute - self.klines_market_start
        open_, high, low, close, volume = binance_minutes(symbol)[recorded]
        quote = Decimal(volume) * Decimal(close)
        open_ms = minute * MINUTE_MS
        return [
            open_ms, open_, high, low, close, volume, open_ms + MINUTE_MS - 1, f"{quote:.8f}",
            None, None, None, "0",
        ]  # fmt: skip

    def feed(self, feed: str) -> tuple[int, str, bytes]:
        if self.scenario == "recorded":
            if feed == "coindesk":
                return 200, RSS, data_bytes(COINDESK_RSS)
            return 200, RSS, rss(feed, [])  # no Cointelegraph recording exists: an empty feed
        articles = self.market.articles(feed)
        body = rss(feed, articles)
        if feed == "coindesk":  # the generated news first, then the recorded real items
            body = body.replace(b"</channel>", self.recorded_news() + b"\n</channel>")
        return 200, RSS, body

    def recorded_news(self) -> bytes:
        """The recorded CoinDesk items the market has reached, newest first, on its clock.

        Recorded item k (oldest first) is published RECORDED_NEWS_EVERY_TICKS * k ticks after
        `recorded_news_start`, its recorded order kept, and served from then on: news dated
        2026-09-30 beside prices of today would give the sentiment-versus-price chart and
        the correlation mart nothing to compare.
        """
        tick = self.market.tick()
        served = []
        for k, (_, item) in enumerate(coindesk_items()):
            at = self.recorded_news_start + k * RECORDED_NEWS_EVERY_TICKS
            if at > tick:
                break
            published = datetime.fromtimestamp(self.market.tick_time(at) + 30, UTC)
            date = f"<pubDate>{format_datetime(published)}</pubDate>".encode()
            served.append(re.sub(rb"<pubDate>.*?</pubDate>", date, item))
        return b"\n".join(reversed(served))


# Every namespace the recorded CoinDesk items use, so they can be served inside our feed.
NAMESPACES = (
    'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom" '
    'xmlns:media="http://search.yahoo.com/mrss/"'
)


def rss(feed: str, articles: list[dict[str, Any]]) -> bytes:
    """An RSS 2.0 document: CDATA descriptions for CoinDesk, escaped HTML for Cointelegraph."""
    items = []
    for article in articles:
        summary = article["summary_html"]
        description = f"<![CDATA[{summary}]]>" if feed == "coindesk" else escape(summary)
        categories = "".join(f"<category><![CDATA[{c}]]></category>" for c in article["categories"])
        items.append(
            "<item>"
            f"<title><![CDATA[{article['title']}]]></title>"
            f"<link>{escape(article['link'])}</link>"
            f'<guid isPermaLink="false">{escape(article["guid"])}</guid>'
            f"<pubDate>{format_datetime(article['published'])}</pubDate>"
            f"<description>{description}</description>"
            f"<dc:creator><![CDATA[{article['author']}]]></dc:creator>"
            f"{categories}</item>"
        )
    now = format_datetime(datetime.now(UTC))
    document = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<rss {NAMESPACES} version="2.0"><channel>'
        f"<title>{FEED_TITLES.get(feed, feed)}</title><link>https://replay.cryptoviz.invalid/{feed}</link>"
        f"<description>CryptoViz replay of {feed}</description><lastBuildDate>{now}</lastBuildDate>"
        + "\n".join(items)
        + "</channel></rss>\n"
    )
    return document.encode()


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


class _Handler(BaseHTTPRequestHandler):
    app: ReplayApp
    server_version = "CryptoVizReplay/1"

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            status, content_type, body = self.app.handle(parts.path, query, headers)
        except (ValueError, KeyError) as exc:
            status, content_type, body = 400, JSON, _json({"error": f"bad request: {exc}"})
        self._reply(status, content_type, body)

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/_replay/advance":
            try:
                self._reply(*self.app.advance(query))
            except ValueError as exc:
                self._reply(400, JSON, _json({"error": f"bad request: {exc}"}))
        elif parts.path == "/_replay/release":
            self._reply(*self.app.release())
        else:
            self._reply(404, JSON, _json({"error": f"no such path in replay: {parts.path}"}))

    def _reply(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-CryptoViz-Replay", "true")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class ReplayServer:
    """The app on a ThreadingHTTPServer; `start()` runs it in a background thread."""

    def __init__(self, app: ReplayApp, host: str = "127.0.0.1", port: int = 0) -> None:
        handler = type("ReplayHandler", (_Handler,), {"app": app})
        self.app = app
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ReplayServer:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="replay",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    """`python -m cryptoviz_assets.replay`: serve in the foreground (`cryptoviz replay start`)."""
    from cryptoviz_assets.settings import get_settings

    settings = get_settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=settings.replay_port)
    parser.add_argument(
        "--scenario", default=settings.replay_scenario.value, choices=["market", "recorded"]
    )
    parser.add_argument("--seed", type=int, default=settings.replay_seed)
    parser.add_argument("--tick-seconds", type=float, default=settings.replay_tick_seconds)
    parser.add_argument(
        "--klines-start",
        type=datetime.fromisoformat,
        default=settings.replay_klines_start,
        help="the recorded minute (UTC) the Binance klines replay from",
    )
    parser.add_argument(
        "--history-ticks",
        type=int,
        default=0,
        help="start the market this many ticks in the past, frozen until POST /_replay/advance",
    )
    args = parser.parse_args(argv)
    clock = CatchUpClock(args.tick_seconds, args.history_ticks)
    app = ReplayApp(
        args.scenario, args.seed, args.tick_seconds, clock=clock, klines_start=args.klines_start
    )
    server = ReplayServer(app, port=args.port)
    print(f"replay server ({args.scenario}) on {server.url}", flush=True)
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
