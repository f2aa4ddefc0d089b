"""Anomaly episodes on fixed slices of real Binance.US 1-minute klines (March 2023).

Each slice is landed in a scratch lake and built by the project's dbt models; the episodes
are compared with a truth computed from the raw klines with pandas (benchmarks/anomaly_eval.py,
which scores the whole three weeks), and with the counts a person reads off the data.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.anomaly_eval import (
    SCENARIOS,
    Episode,
    alert_episodes,
    build_episodes,
    episodes_of,
    land,
    read_klines,
    truth_minutes,
)

Build = Callable[[str, str, str], pd.DataFrame]


@pytest.fixture(scope="module")
def klines() -> dict[str, pd.DataFrame]:
    return {pair: read_klines(pair) for pair in ("BTCUSD", "BTCUSDC", "BTCUSDT")}


@pytest.fixture
def build(tmp_path: Path, klines: dict[str, pd.DataFrame]) -> Build:
    """Land one scenario's pairs for [start, end) and build the episodes mart over them."""

    def run(scenario: str, start: str, end: str) -> pd.DataFrame:
        pairs = {pair: klines[pair] for pair in SCENARIOS[scenario]}
        land(tmp_path / "lake", pairs, start, end)
        return build_episodes(tmp_path / "lake", tmp_path)

    return run


def truth(klines: dict[str, pd.DataFrame], scenario: str, start: str, end: str) -> dict:
    pairs = {pair: klines[pair] for pair in SCENARIOS[scenario]}
    return {kind: episodes_of(m) for kind, m in truth_minutes(pairs, start, end).items()}


def test_the_usdc_depeg_is_one_long_divergence_episode(
    build: Build, klines: dict[str, pd.DataFrame]
) -> None:
    """BTCUSDC vs BTCUSD, 2023-03-10 to 03-14: 3,002 minutes above 1 % become 6 episodes."""
    mart = build("depeg", "2023-03-10", "2023-03-14")
    expected = truth(klines, "depeg", "2023-03-10", "2023-03-14")["source_divergence"]
    assert alert_episodes(mart, "source_divergence") == expected
    assert len(expected) == 6
    divergence = mart[mart.alert_type == "source_divergence"].sort_values("started_at")
    depeg = divergence.iloc[0]
    assert str(depeg.started_at) == "2023-03-11 04:13:00"
    assert depeg.duration_minutes == 2652
    assert depeg.severity == "high"
    usd, usdc = (klines[pair].set_index("open_time").close for pair in ("BTCUSD", "BTCUSDC"))
    spread = ((usdc - usd).abs() / ((usdc + usd) / 2) * 100).loc["2023-03-11":"2023-03-12"]
    assert depeg.peak_value == pytest.approx(spread.max())  # 13.35 % of the mid:
    assert str(depeg.peak_at) == str(spread.idxmax())  # BTCUSDC 14.3 % above BTCUSD
    assert list(depeg.sources) == ["binance:BTCUSD", "binance:BTCUSDC"]
    assert divergence.ended_at.notna().all()  # the data runs 11 h past the last episode
    assert divergence.flagged_minutes.sum() == 3001  # of 3,002: one more on 03-14 12:51


def test_a_calm_day_raises_no_divergence_or_price_spike(
    build: Build, klines: dict[str, pd.DataFrame]
) -> None:
    """BTCUSD vs BTCUSDT on 2023-03-05: the closes never part by 1 %, no minute moves 5 %;
    the volume episodes are exactly the bursts in the raw data."""
    mart = build("control", "2023-03-05", "2023-03-06")
    assert set(mart.alert_type) == {"volume_spike"}
    expected = truth(klines, "control", "2023-03-05", "2023-03-06")["volume_spike"]
    assert alert_episodes(mart, "volume_spike") == expected
    assert len(expected) == 13


def test_a_volume_burst_is_one_episode_with_its_peak(
    build: Build, klines: dict[str, pd.DataFrame]
) -> None:
    """Three hours of BTCUSD and BTCUSDT: each burst, however many minutes, is one row."""
    mart = build("control", "2023-03-08 12:00", "2023-03-08 15:00")
    expected = truth(klines, "control", "2023-03-08 12:00", "2023-03-08 15:00")
    bursts = mart[mart.alert_type == "volume_spike"]
    assert alert_episodes(mart, "volume_spike") == expected["volume_spike"]
    assert len(bursts) == len(expected["volume_spike"]) > 0
    assert (bursts.peak_value > 3).all()
    assert set(bursts.severity) <= {"warning", "critical"}
    assert (bursts.severity == "critical").tolist() == (bursts.peak_value > 6).tolist()


def test_an_ongoing_episode_grows_in_place_when_more_data_lands(
    build: Build, klines: dict[str, pd.DataFrame]
) -> None:
    """Mid-depeg the episode has no end; landing the next day extends the same episode id."""
    early = build("depeg", "2023-03-11", "2023-03-11 12:00")
    (ongoing,) = early[early.alert_type == "source_divergence"].itertuples()
    assert pd.isna(ongoing.ended_at)
    later = build("depeg", "2023-03-11 12:00", "2023-03-13 12:00")  # lands the rest as well
    grown = later[later.episode_id == ongoing.episode_id]
    assert len(grown) == 1
    assert grown.iloc[0].started_at == ongoing.started_at
    assert grown.iloc[0].duration_minutes == 2652 > ongoing.duration_minutes
    assert pd.notna(grown.iloc[0].ended_at)


def test_in_minute_ranges_flag_price_spikes_on_the_illiquid_pair(
    build: Build, klines: dict[str, pd.DataFrame]
) -> None:
    """BTCUSDC had 8 minutes whose high was more than 5 % above their low; closes never
    moved 5 % from one minute to the next, so only the range finds them."""
    mart = build("depeg", "2023-03-01", "2023-03-22")
    spikes = mart[mart.alert_type == "price_spike"]
    usdc = klines["BTCUSDC"]
    wide = usdc[(usdc.high / usdc.low - 1) * 100 > 5].open_time
    assert len(wide) == 8
    assert alert_episodes(mart, "price_spike") == episodes_of(set(wide))
    assert all(sources == ["binance:BTCUSDC"] for sources in spikes.sources.map(list))
    assert (spikes.peak_value > 5).all()


def test_a_relanded_overlap_counts_once_and_a_rebuild_repeats_nothing(
    build: Build, tmp_path: Path, klines: dict[str, pd.DataFrame]
) -> None:
    """Landing 06:00-24:00 again (a replayed batch, new files) changes no episode."""
    first = build("depeg", "2023-03-11", "2023-03-12")
    again = build("depeg", "2023-03-11 06:00", "2023-03-12")
    assert len(list((tmp_path / "lake").rglob("*.parquet"))) == 4  # two landings, two pairs
    assert first.episode_id.is_unique
    columns = ["episode_id", "started_at", "flagged_minutes", "peak_value"]
    assert again[columns].sort_values("episode_id").values.tolist() == (
        first[columns].sort_values("episode_id").values.tolist()
    )


def test_episode_overlap_is_symmetric() -> None:
    a = Episode(pd.Timestamp("2023-03-11 04:00"), pd.Timestamp("2023-03-11 05:00"))
    b = Episode(pd.Timestamp("2023-03-11 05:00"), pd.Timestamp("2023-03-11 06:00"))
    c = Episode(pd.Timestamp("2023-03-11 05:01"), pd.Timestamp("2023-03-11 06:00"))
    assert a.overlaps(b)
    assert b.overlaps(a)
    assert not a.overlaps(c)
    assert not c.overlaps(a)
