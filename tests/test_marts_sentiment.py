"""Sentiment marts on the fixed lake: articles, daily aggregates, Fear & Greed, correlation."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from tests.marts_lake import T0, Warehouse, bitcoin_ticks, built_warehouse, news_rows, table


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    return built_warehouse(tmp_path_factory)


def expected_daily() -> pd.DataFrame:
    articles = pd.DataFrame(news_rows()).explode("coins").dropna(subset=["coins"])
    articles["day"] = articles["event_time"].dt.tz_convert(None).dt.floor("D")
    return (
        articles.groupby(["coins", "day"])
        .agg(
            articles=("event_id", "count"),
            mean_score=("sentiment_score", "mean"),
            share_positive=("sentiment_label", lambda s: (s == "positive").mean()),
            share_negative=("sentiment_label", lambda s: (s == "negative").mean()),
        )
        .reset_index()
        .rename(columns={"coins": "coin_id"})
        .sort_values(["coin_id", "day"])
        .reset_index(drop=True)
    )


def test_article_level_scores_once_per_article(warehouse: Warehouse) -> None:
    articles = table(
        warehouse.build_file, "select * from marts.fct_news_articles order by event_id"
    )
    expected = pd.DataFrame(news_rows()).sort_values("event_id").reset_index(drop=True)
    # 28 days x 2 + 2 extras; the article that landed twice is there once, first landing kept.
    assert len(articles) == len(expected) == 58
    assert list(articles["event_id"]) == list(expected["event_id"])
    np.testing.assert_allclose(articles["sentiment_score"], expected["sentiment_score"])
    assert list(articles["sentiment_label"]) == list(expected["sentiment_label"])
    first = expected.iloc[expected["guid"].eq("guid-0").idxmax()]
    landed = articles.set_index("event_id").loc[first["event_id"], "ingest_time"]
    assert landed == pd.Timestamp(first["ingest_time"]).tz_convert(None)


def test_daily_sentiment_per_coin(warehouse: Warehouse) -> None:
    actual = table(
        warehouse.build_file, "select * from marts.fct_sentiment_daily_coin order by coin_id, day"
    )
    expected = expected_daily()
    assert list(zip(actual["coin_id"], actual["day"], strict=True)) == list(
        zip(expected["coin_id"], expected["day"], strict=True)
    )
    for column in ("articles", "mean_score", "share_positive", "share_negative"):
        np.testing.assert_allclose(actual[column], expected[column], rtol=1e-12, err_msg=column)
    # Day 0 by hand: sin(0) = 0 (neutral), 0.6 cos(0) = 0.6 (positive), the 0.5 article
    # that also names ethereum (positive); the article naming no coin counts nowhere.
    day0 = actual[(actual.coin_id == "bitcoin") & (actual.day == pd.Timestamp("2024-03-01"))]
    assert day0[["articles", "mean_score", "share_positive", "share_negative"]].iloc[
        0
    ].tolist() == pytest.approx([3, 1.1 / 3, 2 / 3, 0])
    assert set(actual["coin_id"]) == {"bitcoin", "ethereum"}


def test_fear_and_greed_by_day(warehouse: Warehouse) -> None:
    fng = table(
        warehouse.build_file, "select * from marts.fct_fear_greed_daily order by index_date"
    )
    assert [(str(r.index_date)[:10], r.value, r.classification) for r in fng.itertuples()] == [
        ("2024-03-01", 25, "Extreme Fear"),  # the later of two polls of that day
        ("2024-03-02", 40, "Fear"),
        ("2024-03-03", 70, "Greed"),
    ]
    assert fng["change"].tolist()[1:] == [15, 30]
    assert fng["mean_7d"].isna().all()  # fewer than 7 days


def test_rolling_correlation_with_same_and_next_day_returns(warehouse: Warehouse) -> None:
    actual = table(
        warehouse.build_file,
        "select * from marts.fct_sentiment_return_correlation "
        "where coin_id = 'bitcoin' order by day",
    )
    # Consensus daily close = mean of the two sources' last price of the day.
    ticks = pd.DataFrame(bitcoin_ticks()).sort_values("event_time")
    ticks["day"] = ticks["event_time"].dt.tz_convert(None).dt.floor("D")
    close = ticks.groupby(["day", "source"])["price_usd"].last().groupby("day").mean()
    returns = close / close.shift() - 1
    score = expected_daily().query("coin_id == 'bitcoin'").set_index("day")["mean_score"]
    days = pd.DataFrame({"same": returns, "next": returns.shift(-1), "score": score})
    assert len(actual) == len(days) == 35
    np.testing.assert_allclose(actual["mean_score"], days["score"], equal_nan=True)
    np.testing.assert_allclose(actual["same_day_return"], days["same"], equal_nan=True)
    np.testing.assert_allclose(actual["next_day_return"], days["next"], equal_nan=True)
    for column, other in (("corr_same_day", "same"), ("corr_next_day", "next")):
        expected = []
        for day in days.index:
            window = days.loc[day - dt.timedelta(days=29) : day, ["score", other]].dropna()
            ok = len(window) >= 5
            expected.append(np.corrcoef(window["score"], window[other])[0, 1] if ok else np.nan)
        np.testing.assert_allclose(
            actual[column], expected, rtol=1e-9, equal_nan=True, err_msg=column
        )
        assert actual[column].notna().sum() > 20  # the measure is really there
    assert actual["day"].iloc[0] == pd.Timestamp(T0.replace(tzinfo=None))
