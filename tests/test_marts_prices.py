"""Price marts on the fixed lake: OHLC, returns, moving averages, volatility, exact values.

Expected values are computed here, independently of the SQL, from the same ticks with
pandas (resample, rolling), plus a few by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tests.marts_lake import (
    T0,
    Warehouse,
    anomaly_ticks,
    bitcoin_price,
    bitcoin_ticks,
    built_warehouse,
    table,
)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    return built_warehouse(tmp_path_factory)


def expected_bars(freq: str, vol_window: int, periods_per_year: int) -> pd.DataFrame:
    ticks = pd.DataFrame(bitcoin_ticks())
    ticks["event_time"] = ticks["event_time"].dt.tz_convert(None)
    ticks = ticks.sort_values("event_time")
    ticks["bar_start"] = ticks["event_time"].dt.floor(freq)
    per_source = (
        ticks.groupby(["source", "bar_start"])
        .agg(
            open=("price_usd", "first"),
            high=("price_usd", "max"),
            low=("price_usd", "min"),
            close=("price_usd", "last"),
            volume_24h_usd=("volume_24h_usd", "last"),
            market_cap_rank=("market_cap_rank", "last"),
            ath_usd=("ath_usd", "last"),
        )
        .reset_index()
    )
    consensus = (
        per_source.groupby("bar_start")
        .agg(
            open=("open", "mean"),
            high=("high", "mean"),
            low=("low", "mean"),
            close=("close", "mean"),
            volume_24h_usd=("volume_24h_usd", "mean"),
            market_cap_rank=("market_cap_rank", "min"),
            ath_usd=("ath_usd", "max"),
        )
        .reset_index()
        .assign(source="consensus")
    )
    bars = pd.concat([per_source, consensus]).sort_values(["source", "bar_start"])
    out = []
    for _, group in bars.groupby("source"):
        g = group.copy()
        g["simple_return"] = g["close"] / g["close"].shift() - 1
        g["log_return"] = np.log(g["close"] / g["close"].shift())
        g["ma_7"] = g["close"].rolling(7).mean()
        g["ma_30"] = g["close"].rolling(30).mean()
        g["volatility"] = g["log_return"].rolling(vol_window).std()
        g["volatility_annualised"] = g["volatility"] * math.sqrt(periods_per_year)
        g["ath_distance_pct"] = (g["close"] / g["ath_usd"] - 1) * 100
        g["rank_change"] = g["market_cap_rank"].shift() - g["market_cap_rank"]
        out.append(g)
    return pd.concat(out).reset_index(drop=True)


def assert_columns_close(
    actual: pd.DataFrame, expected: pd.DataFrame, columns: list[str], rtol: float
) -> None:
    """Each column equal to `rtol`, nulls where the expectation has them."""
    for column in columns:
        np.testing.assert_allclose(
            actual[column].astype(float).to_numpy(),
            expected[column].astype(float).to_numpy(),
            rtol=rtol,
            equal_nan=True,
            err_msg=column,
        )


def actual_bars(warehouse: Warehouse, mart: str, volatility: str) -> pd.DataFrame:
    return table(
        warehouse.build_file,
        f"select *, {volatility} as volatility, {volatility}_annualised as volatility_annualised "
        f"from marts.{mart} where coin_id = 'bitcoin' order by source, bar_start",
    )


COMPARED = [
    "open",
    "high",
    "low",
    "close",
    "volume_24h_usd",
    "simple_return",
    "log_return",
    "ma_7",
    "ma_30",
    "volatility",
    "volatility_annualised",
    "ath_distance_pct",
    "rank_change",
    "market_cap_rank",
]


@pytest.mark.parametrize(
    ("mart", "freq", "volatility", "window", "per_year", "bars_per_source"),
    [
        ("fct_price_bars_hourly", "h", "volatility_24h", 24, 24 * 365, 35 * 24),
        ("fct_price_bars_daily", "D", "volatility_30d", 30, 365, 35),
    ],
)
def test_bars_match_an_independent_computation(  # noqa: PLR0917 (parametrized)
    warehouse: Warehouse,
    mart: str,
    freq: str,
    volatility: str,
    window: int,
    per_year: int,
    bars_per_source: int,
) -> None:
    expected = expected_bars(freq, window, per_year)
    actual = actual_bars(warehouse, mart, volatility)
    assert len(actual) == len(expected) == 3 * bars_per_source
    assert list(actual["source"]) == list(expected["source"])
    assert (actual["bar_start"].to_numpy() == expected["bar_start"].to_numpy()).all()
    assert_columns_close(actual, expected, COMPARED, rtol=1e-9)
    # Windows are null until complete, then always filled (no gaps in this series).
    per_source = actual[actual["source"] == "coingecko"]
    assert per_source["ma_7"].isna().sum() == 6
    assert per_source["ma_30"].isna().sum() == 29
    assert per_source["volatility"].isna().sum() == window  # needs `window` returns


def test_first_hourly_bars_by_hand(warehouse: Warehouse) -> None:
    bars = actual_bars(warehouse, "fct_price_bars_hourly", "volatility_24h")
    gecko = bars[bars["source"] == "coingecko"].reset_index(drop=True)
    first, second = gecko.iloc[0], gecko.iloc[1]
    # Ticks k = 0..5 fall in the first hour: 100 * exp(0.02 sin(k/50) + 0.0004 k).
    prices = [bitcoin_price(k) for k in range(6)]
    assert first["bar_start"] == pd.Timestamp(T0.replace(tzinfo=None))
    assert first["open"] == 100.0
    assert first["close"] == pytest.approx(prices[5], rel=1e-12)
    assert first["high"] == pytest.approx(max(prices), rel=1e-12)
    assert first["low"] == 100.0
    assert first["ticks"] == 6
    assert pd.isna(first["simple_return"])
    assert second["simple_return"] == pytest.approx(bitcoin_price(11) / bitcoin_price(5) - 1)
    assert second["log_return"] == pytest.approx(math.log(bitcoin_price(11) / bitcoin_price(5)))
    # CoinMarketCap quotes 0.4 % higher; the consensus is the mean of the two sources.
    consensus = bars[bars["source"] == "consensus"].iloc[0]
    assert consensus["open"] == pytest.approx((100 + 100.4) / 2)
    assert consensus["sources"] == 2
    # ATH 1000 reported by CoinGecko only: the consensus takes the highest.
    assert first["ath_distance_pct"] == pytest.approx((prices[5] / 1000 - 1) * 100)
    assert consensus["ath_usd"] == 1000.0


def test_rank_changes_when_the_rank_changes(warehouse: Warehouse) -> None:
    daily = actual_bars(warehouse, "fct_price_bars_daily", "volatility_30d")
    gecko = daily[daily["source"] == "coingecko"].set_index("bar_start")
    changes = gecko["rank_change"].dropna()
    moved = changes[changes != 0]
    # Rank 1 -> 2 on day 10, back to 1 on day 12 (positive = climbed).
    day = pd.Timestamp(T0.replace(tzinfo=None))
    assert moved.to_dict() == {day + pd.Timedelta(days=10): -1, day + pd.Timedelta(days=12): 1}


def test_dim_coins_lists_every_coin(warehouse: Warehouse) -> None:
    coins = table(
        warehouse.build_file,
        "select coin_id, market_cap_rank, sources from marts.dim_coins order by coin_id",
    )
    assert list(coins["coin_id"]) == [
        "bitcoin",
        "calmcoin",
        "divcoin",
        "pumpcoin",
        "volcoin",
    ]
    assert list(coins.loc[coins.coin_id == "bitcoin", "sources"].iloc[0]) == [
        "coingecko",
        "coinmarketcap",
    ]


def expected_minutes() -> pd.DataFrame:
    """Per coin and minute: the mean of the sources' last prices, with time-window averages
    that need every minute of the window (7 and 30 minutes)."""
    ticks = pd.DataFrame(bitcoin_ticks() + anomaly_ticks())
    ticks["event_time"] = ticks["event_time"].dt.tz_convert(None)
    ticks["minute_start"] = ticks["event_time"].dt.floor("min")
    last = ticks.sort_values("event_time").groupby(["coin_id", "source", "minute_start"]).last()
    minutes = last.groupby(["coin_id", "minute_start"])["price_usd"].agg(["mean", "count"])
    out = []
    for coin, group in minutes.reset_index().groupby("coin_id"):
        g = group.set_index("minute_start").rename(columns={"mean": "price", "count": "sources"})
        for n in (7, 30):
            window = g["price"].rolling(f"{n}min")
            g[f"ma_{n}"] = window.mean().where(window.count() == n)
        out.append(g.reset_index().assign(coin_id=coin))
    return pd.concat(out).sort_values(["coin_id", "minute_start"]).reset_index(drop=True)


def test_minute_mart_matches_an_independent_computation(warehouse: Warehouse) -> None:
    expected = expected_minutes()
    actual = table(
        warehouse.build_file,
        "select * from marts.fct_price_minutes order by coin_id, minute_start",
    )
    assert len(actual) == len(expected)
    assert list(actual["coin_id"]) == list(expected["coin_id"])
    assert (actual["minute_start"].to_numpy() == expected["minute_start"].to_numpy()).all()
    assert list(actual["sources"]) == list(expected["sources"])
    assert_columns_close(actual, expected, ["price", "ma_7", "ma_30"], rtol=1e-12)
    # calmcoin quotes every minute for 2 hours: averages from its 7th and 30th minute on.
    calm = actual[actual["coin_id"] == "calmcoin"]
    assert len(calm) == 120
    assert calm["ma_7"].isna().sum() == 6
    assert calm["ma_30"].isna().sum() == 29
    # bitcoin quotes every 10 minutes: no 7 consecutive minutes, so no minute average.
    assert actual.loc[actual["coin_id"] == "bitcoin", "ma_7"].isna().all()
