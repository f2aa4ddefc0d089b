"""Anomaly episodes from the aggregator feeds of the fixed lake: price spikes, divergence,
calm series, and a 24 h volume jump that is no volume spike.

Exchange klines (volume spikes, the real USDC depeg) are covered on real data in
test_marts_anomaly_episodes.py; this file checks what the aggregators' ticks contribute.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from tests.marts_lake import ANOMALY_START, Warehouse, built_warehouse, table


@pytest.fixture(scope="module")
def build_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    warehouse: Warehouse = built_warehouse(tmp_path_factory)
    return warehouse.build_file


@pytest.fixture(scope="module")
def episodes(build_file: Path) -> pd.DataFrame:
    order = "order by coin_id, alert_type, started_at"
    return table(build_file, f"select * from marts.fct_anomaly_episodes {order}")


@pytest.fixture(scope="module")
def minutes(build_file: Path) -> pd.DataFrame:
    order = "order by coin_id, minute_start, series"
    return table(build_file, f"select * from intermediate.int_anomaly_minutes {order}")


def at(minute: int) -> pd.Timestamp:
    return pd.Timestamp((ANOMALY_START + timedelta(minutes=minute)).replace(tzinfo=None))


def test_exactly_the_expected_episodes(episodes: pd.DataFrame) -> None:
    got = [
        (
            r.coin_id,
            r.alert_type,
            r.severity,
            r.started_at,
            r.last_flagged_end,
            r.duration_minutes,
            r.flagged_minutes,
            list(r.sources),
        )
        for r in episodes.itertuples()
    ]
    both = ["coingecko", "coinmarketcap"]
    assert got == [
        # 1.98 % then 4.88 % apart in minutes 1 and 2: one episode, high at its peak
        ("divcoin", "source_divergence", "high", at(1), at(3), 2, 2, both),
        # +6 % at minute 10 and +12 % at minute 20, 10 minutes apart: one critical episode
        ("pumpcoin", "price_spike", "critical", at(10), at(21), 11, 2, both),
    ]
    # The lake ends within the 30-minute gap after both: they may still grow.
    assert episodes["ended_at"].isna().all()


def test_peaks_and_explanations(episodes: pd.DataFrame) -> None:
    divergence, spike = episodes.itertuples()
    assert divergence.peak_value == pytest.approx(500 / 102.5)  # |100 - 105| / 102.5
    assert divergence.peak_at == at(2)
    assert spike.peak_value == pytest.approx(12.0)  # 106 -> 118.72
    assert spike.peak_at == at(20)
    assert spike.explanation.startswith("pumpcoin: price spike from ")
    assert "peak 12.00 at" in spike.explanation
    # Both sources moved 12 %: the detail is one source's closes (CoinMarketCap quotes 0.1 % up).
    assert spike.explanation.endswith(("(close 106 -> 118.72)", "(close 106.106 -> 118.839)"))
    assert divergence.explanation.endswith("(coinmarketcap 105 vs coingecko 100)")  # high first


def test_every_source_that_moved_is_a_flagged_minute(minutes: pd.DataFrame) -> None:
    spikes = minutes[minutes.alert_type == "price_spike"]
    assert sorted(zip(spikes.series, spikes.minute_start, strict=True)) == [
        ("coingecko", at(10)),
        ("coingecko", at(20)),
        ("coinmarketcap", at(10)),
        ("coinmarketcap", at(20)),
    ]
    # One divergence row a minute for the pair of sources, highest first.
    divergences = minutes[minutes.alert_type == "source_divergence"]
    assert list(divergences.series) == ["coinmarketcap,coingecko"] * 2


def test_calm_series_and_a_24h_volume_jump_raise_nothing(episodes: pd.DataFrame) -> None:
    # calmcoin: 0.1 % price noise, sources 0.2 % apart, minute cadence; bitcoin: 35 days,
    # sources 0.4 % apart. volcoin: its 24 h volume doubles for a minute, which an
    # aggregator's rolling field cannot mean; volume spikes come from exchange volume only.
    assert set(episodes["coin_id"]) == {"divcoin", "pumpcoin"}
