"""Data-quality faults of a real feed are caught as faults, not reported as market anomalies.

The Coinlore ticker polled every ~15 minutes (../shared/market_data, SOURCES.md) has a
snapshot where every price is 0 (2025-11-02 00:48 UTC) and a feed frozen for ~24 h (BTC and
ETH repeat price and 24 h volume from 2025-12-06 00:17 UTC). Coinlore is an aggregator with
CoinGecko's shape, so its rows are fed in as CoinGecko payloads and ticks.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from cryptoviz_assets.collectors.base import Event, PayloadError, Rejection
from cryptoviz_assets.collectors.coingecko import CoinGeckoCollector
from cryptoviz_assets.collectors.http import Request, Response
from cryptoviz_assets.contract.events import validation_error
from cryptoviz_assets.settings import PROJECT_ROOT, Settings
from tests.marts_lake import TICK_SCHEMA, make_settings, run_dbt, table, tick, write_table

COINLORE = (
    PROJECT_ROOT.parent
    / "shared"
    / "market_data"
    / "coinlore_ticker_26coins_poll15min_2025-11-01_to_2025-12-07_cryptotycoon-worker.csv"
)
COINS = {"BTC": "bitcoin", "ETH": "ethereum"}
INGEST = datetime(2025, 11, 2, 0, 49, tzinfo=UTC)
pytestmark = pytest.mark.skipif(not COINLORE.exists(), reason="../shared/market_data is absent")


def coinlore(start: str, end: str) -> pd.DataFrame:
    frame = pd.read_csv(COINLORE, parse_dates=["snapshot_utc"])
    return frame[(frame.snapshot_utc >= start) & (frame.snapshot_utc < end)]


def zero_snapshot(without: tuple[str, ...] = ()) -> bytes:
    """The all-zero snapshot as a CoinGecko /coins/markets body."""
    rows = coinlore("2025-11-02 00:48", "2025-11-02 00:49")
    assert len(rows) == 26
    assert (rows.price_usd == 0).all()
    body = [
        {
            "id": row.symbol.lower(),
            "symbol": row.symbol.lower(),
            "name": row.symbol,
            "current_price": row.price_usd,
            "market_cap": row.market_cap_usd,
            "total_volume": None if pd.isna(row.volume_24h) else row.volume_24h,
            "last_updated": row.snapshot_utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
        for row in rows.itertuples()
        if row.symbol not in without
    ]
    return json.dumps(body).encode()


def parse(body: bytes) -> list[Event | Rejection]:
    request = Request("coingecko", "http://127.0.0.1/coins/markets")
    response = Response(request, 200, "application/json", body, 1.0, 1, True)
    return list(CoinGeckoCollector(Settings()).parse(response, INGEST))


def test_the_all_zero_snapshot_is_refused_whole_then_row_by_row() -> None:
    """USDT and USDC at 0 make the body fail the currency check (dead-lettered whole, with
    the reason); without them, every row is refused for its price."""
    with pytest.raises(PayloadError, match="stablecoins are priced USDT 0, USDC 0"):
        parse(zero_snapshot())
    items = parse(zero_snapshot(without=("USDT", "USDC")))
    assert len(items) == 24
    # The publisher checks each event against price_tick.v1 and dead-letters the invalid.
    reasons = [
        item.reason if isinstance(item, Rejection) else validation_error("price_tick", item.value)
        for item in items
    ]
    assert all(reason and "price_usd" in reason for reason in reasons), reasons[:3]


def frozen_lake(lake: Path) -> list[dict[str, Any]]:
    """BTC and ETH ticks from Coinlore, 2025-12-05 12:00 to 12-07 12:00 (the freeze inside)."""
    rows = []
    for row in coinlore("2025-12-05 12:00", "2025-12-07 12:00").itertuples():
        if row.symbol in COINS:
            at = row.snapshot_utc.to_pydatetime()
            rows.append(
                tick("coingecko", COINS[row.symbol], at, row.price_usd, volume=row.volume_24h)
            )
    write_table(lake, "price_ticks", rows, TICK_SCHEMA, "coinlore")
    return rows


def test_a_frozen_feed_fails_its_check_and_raises_no_anomaly(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    ticks = frozen_lake(Path(settings.lake_uri))
    assert len(ticks) > 300
    target = tmp_path / "target"
    done = run_dbt(settings, "build", target=target)
    assert done.returncode == 0, done.stdout[-4000:]  # a warning: the marts still build
    results = json.loads((target / "run_results.json").read_text())["results"]
    (check,) = [r for r in results if r["unique_id"].endswith(".price_feeds_not_frozen")]
    assert check["status"] == "warn"
    assert check["failures"] == 2  # bitcoin and ethereum, one frozen span each

    episodes = table(settings.warehouse_build_file, "select * from marts.fct_anomaly_episodes")
    assert episodes.empty  # a stale feed is not a market anomaly


def test_a_frozen_source_raises_no_divergence_against_a_live_one(tmp_path: Path) -> None:
    """CoinGecko repeats 100.0 USD and the same 24 h volume for 8 hours while CoinMarketCap
    drifts 6 % away: the span is reported, and its minutes are left out of the divergence."""
    settings = make_settings(tmp_path)
    start = datetime(2025, 12, 6, 0, 0, tzinfo=UTC)
    rows = []
    for k in range(72):  # 12 hours, a tick every 10 minutes
        at = start + timedelta(minutes=10 * k)
        live = 100.0 * (1 + 0.001 * k)
        frozen = 12 <= k <= 60  # 02:00 to 10:00
        rows.append(tick("coinmarketcap", "stalecoin", at, live, volume=1e6 + k))
        rows.append(
            tick("coingecko", "stalecoin", at, 100.0 if frozen else live,
                 volume=5e5 if frozen else 1e6 + k)
        )  # fmt: skip
    write_table(Path(settings.lake_uri), "price_ticks", rows, TICK_SCHEMA, "stale")
    target = tmp_path / "target"
    done = run_dbt(settings, "build", target=target)
    assert done.returncode == 0, done.stdout[-4000:]

    build_file = settings.warehouse_build_file
    spans = table(build_file, "select * from intermediate.int_frozen_price_spans")
    assert spans[["coin_id", "source"]].values.tolist() == [["stalecoin", "coingecko"]]
    assert str(spans.frozen_from[0]) == "2025-12-06 02:00:00"
    assert str(spans.frozen_until[0]) == "2025-12-06 10:00:00"
    episodes = table(build_file, "select * from marts.fct_anomaly_episodes")
    assert episodes.empty, episodes.explanation.tolist()
