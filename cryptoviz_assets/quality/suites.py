"""What "good data" means for every lake table and mart, as plain data (no GX import).

Each expectation names a Great Expectations 1.x expectation class and its arguments.
`critical` ones (types, keys, value ranges) fail the asset check with severity ERROR,
which blocks everything downstream; the others (freshness, row-count sanity) only warn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

import dagster as dg

# Logical column types -> the pandas dtypes a DuckDB result may arrive as.
PANDAS_TYPES: dict[str, list[str]] = {
    "string": ["object", "str", "string"],
    "float": ["float64", "float32"],
    "integer": ["int64", "int32", "int16", "int8", "Int64", "Int32", "Int16", "Int8"],
    "timestamp": ["datetime64[us]", "datetime64[ns]", "datetime64[ms]", "datetime64[s]"],
    "date": ["datetime64[us]", "datetime64[ns]", "datetime64[ms]", "datetime64[s]", "object"],
    "boolean": ["bool", "boolean"],
}
FRESHNESS = "freshness"  # placeholder for "now - LAKE_MAX_STALENESS_HOURS", filled at run time


@dataclass(frozen=True)
class Expect:
    """One expectation: a GX class name (e.g. ExpectColumnValuesToBeBetween) and kwargs."""

    kind: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    critical: bool = True


@dataclass(frozen=True)
class Suite:
    """The expectations of one table, and where its data comes from."""

    name: str  # also the asset check name: gx_<name>
    asset_key: dg.AssetKey
    origin: Literal["lake", "warehouse"]
    table: str  # lake table, or schema.table in the warehouse
    columns: dict[str, str]  # column -> logical type (the frame is selected in this order)
    expectations: tuple[Expect, ...]
    time_column: str | None = None  # freshness is measured on it (warning only)
    # How long one row's period is: a daily row is stamped with its midnight, so it may
    # look a day older than it is. Freshness allows for it.
    time_grain: timedelta = timedelta(0)

    @property
    def check_name(self) -> str:
        return f"gx_{self.name}"

    @property
    def check_key(self) -> dg.AssetCheckKey:
        return dg.AssetCheckKey(self.asset_key, self.check_name)

    def all_expectations(self) -> list[Expect]:
        """Declared expectations plus the generic ones: column types, freshness."""
        generic = [
            # A list column holds arrays in an object column: its presence is what we check.
            Expect("ExpectColumnToExist", {"column": c})
            if t == "list"
            else Expect(
                "ExpectColumnValuesToBeInTypeList", {"column": c, "type_list": PANDAS_TYPES[t]}
            )
            for c, t in self.columns.items()
        ]
        if self.time_column:
            generic.append(
                Expect(
                    "ExpectColumnMaxToBeBetween",
                    {"column": self.time_column, "min_value": FRESHNESS},
                    critical=False,
                )
            )
        return [*generic, *self.expectations]


def lake_suite(
    table: str,
    columns: dict[str, str],
    expectations: tuple[Expect, ...],
    time_column: str | None = None,
    time_grain: timedelta = timedelta(0),
) -> Suite:
    """The suite of lake table `table`: check gx_lake_<table> on asset lake/<table>."""
    key = dg.AssetKey(["lake", table])
    return Suite(
        f"lake_{table}", key, "lake", table, columns, expectations, time_column, time_grain
    )


def mart_suite(
    name: str,
    columns: dict[str, str],
    expectations: tuple[Expect, ...],
    time_column: str | None = None,
    time_grain: timedelta = timedelta(0),
) -> Suite:
    """The suite of mart `name`: check gx_<name> on asset marts/<name>."""
    key = dg.AssetKey(["marts", name])
    return Suite(
        name, key, "warehouse", f"marts.{name}", columns, expectations, time_column, time_grain
    )


def not_null(*columns: str) -> tuple[Expect, ...]:
    return tuple(Expect("ExpectColumnValuesToNotBeNull", {"column": c}) for c in columns)


def between(column: str, low: float | None = None, high: float | None = None, **kw: Any) -> Expect:
    return Expect(
        "ExpectColumnValuesToBeBetween",
        {"column": column, "min_value": low, "max_value": high, **kw},
    )


def in_set(column: str, values: list[str]) -> Expect:
    return Expect("ExpectColumnValuesToBeInSet", {"column": column, "value_set": values})


def unique(*columns: str, critical: bool = True) -> Expect:
    if len(columns) == 1:
        return Expect("ExpectColumnValuesToBeUnique", {"column": columns[0]}, critical)
    return Expect("ExpectCompoundColumnsToBeUnique", {"column_list": list(columns)}, critical)


def rows_at_least(n: int) -> Expect:
    """Row-count sanity: an empty table is suspicious, not fatal (a fresh deployment)."""
    return Expect("ExpectTableRowCountToBeBetween", {"min_value": n}, critical=False)


SOURCES = ["coingecko", "coinmarketcap"]
BAR_SOURCES = [*SOURCES, "consensus"]
LABELS = ["positive", "neutral", "negative"]

LAKE_SUITES = (
    lake_suite(
        "price_ticks",
        {
            "event_id": "string",
            "source": "string",
            "coin_id": "string",
            "price_usd": "float",
            "volume_24h_usd": "float",
            "market_cap_usd": "float",
            "event_time": "timestamp",
        },
        (
            *not_null("event_id", "source", "coin_id", "price_usd", "event_time"),
            between("price_usd", 0, strict_min=True),
            between("volume_24h_usd", 0),
            between("market_cap_usd", 0),
            in_set("source", SOURCES),
            unique("event_id"),
            rows_at_least(1),
        ),
        time_column="event_time",
    ),
    lake_suite(
        "news_articles",
        {
            "event_id": "string",
            "source": "string",
            "title": "string",
            "sentiment_score": "float",
            "sentiment_label": "string",
            "event_time": "timestamp",
        },
        (
            *not_null("event_id", "sentiment_score", "event_time"),
            between("sentiment_score", -1, 1),
            in_set("sentiment_label", LABELS),
            unique("event_id", critical=False),  # the sink dedups within 3 days only
            rows_at_least(1),
        ),
        time_column="event_time",
    ),
    lake_suite(
        "market_sentiment",
        {
            "event_id": "string",
            "value": "integer",
            "classification": "string",
            "event_time": "timestamp",
        },
        (
            *not_null("event_id", "value", "event_time"),
            between("value", 0, 100),
            unique("event_id", critical=False),
            rows_at_least(1),
        ),
        time_column="event_time",
        time_grain=timedelta(days=1),  # one index value per day
    ),
)

BAR_COLUMNS = {
    "coin_id": "string",
    "source": "string",
    "bar_start": "timestamp",
    "open": "float",
    "high": "float",
    "low": "float",
    "close": "float",
    "simple_return": "float",
    "volatility": "float",
}


def bar_suite(name: str, volatility: str, grain: timedelta) -> Suite:
    columns = {(volatility if c == "volatility" else c): t for c, t in BAR_COLUMNS.items()}
    return mart_suite(
        name,
        columns,
        (
            *not_null("coin_id", "source", "bar_start", "open", "high", "low", "close"),
            *(between(c, 0, strict_min=True) for c in ("open", "high", "low", "close")),
            between("simple_return", -1),
            between(volatility, 0),
            in_set("source", BAR_SOURCES),
            unique("coin_id", "source", "bar_start"),
            rows_at_least(1),
        ),
        time_column="bar_start",
        time_grain=grain,
    )


MART_SUITES = (
    bar_suite("fct_price_bars_hourly", "volatility_24h", timedelta(hours=1)),
    bar_suite("fct_price_bars_daily", "volatility_30d", timedelta(days=1)),
    mart_suite(
        # One row per episode, with known types and severities, and the shape of an episode:
        # at least one flagged minute, never more minutes flagged than it lasts.
        "fct_anomaly_episodes",
        {
            "episode_id": "string",
            "coin_id": "string",
            "alert_type": "string",
            "severity": "string",
            "started_at": "timestamp",
            "duration_minutes": "integer",
            "flagged_minutes": "integer",
            "peak_value": "float",
            "explanation": "string",
        },
        (
            *not_null(
                "episode_id", "coin_id", "alert_type", "severity", "started_at", "explanation"
            ),
            in_set("alert_type", ["volume_spike", "price_spike", "source_divergence"]),
            in_set("severity", ["warning", "high", "critical"]),
            unique("episode_id"),
            unique("coin_id", "alert_type", "started_at"),
            between("flagged_minutes", 1),
            between("duration_minutes", 1),
            Expect(
                "ExpectColumnPairValuesAToBeGreaterThanB",
                {"column_A": "duration_minutes", "column_B": "flagged_minutes", "or_equal": True},
            ),
        ),
    ),
    mart_suite(
        "fct_news_articles",
        {
            "event_id": "string",
            "published_at": "timestamp",
            "sentiment_score": "float",
            "sentiment_label": "string",
            "coins": "list",
        },
        (
            *not_null("event_id", "published_at", "sentiment_score"),
            between("sentiment_score", -1, 1),
            in_set("sentiment_label", LABELS),
            unique("event_id"),
            rows_at_least(1),
        ),
        time_column="published_at",
    ),
    mart_suite(
        "fct_sentiment_daily_coin",
        {
            "coin_id": "string",
            "day": "date",
            "articles": "integer",
            "mean_score": "float",
            "share_positive": "float",
            "share_negative": "float",
        },
        (
            *not_null("coin_id", "day", "articles", "mean_score"),
            between("mean_score", -1, 1),
            between("share_positive", 0, 1),
            between("share_negative", 0, 1),
            between("articles", 1),
            unique("coin_id", "day"),
        ),
    ),
    mart_suite(
        "fct_fear_greed_daily",
        {"index_date": "date", "value": "integer", "classification": "string"},
        (*not_null("index_date", "value"), between("value", 0, 100), unique("index_date")),
    ),
    mart_suite(
        "fct_sentiment_return_correlation",
        {
            "coin_id": "string",
            "day": "date",
            "mean_score": "float",
            "corr_same_day": "float",
            "corr_next_day": "float",
        },
        (
            *not_null("coin_id", "day"),
            between("mean_score", -1, 1),
            between("corr_same_day", -1.000001, 1.000001),
            between("corr_next_day", -1.000001, 1.000001),
            unique("coin_id", "day"),
        ),
    ),
    mart_suite(
        "dim_coins",
        {"coin_id": "string", "symbol": "string", "last_seen": "timestamp"},
        (*not_null("coin_id"), unique("coin_id")),
    ),
    mart_suite(
        "fct_stream_alerts",
        {
            "event_id": "string",
            "coin_id": "string",
            "severity": "string",
            "observed_value": "float",
        },
        (
            *not_null("event_id", "coin_id"),
            in_set("severity", ["warning", "critical"]),
            unique("event_id"),
        ),
    ),
    mart_suite(
        # No row-count or freshness warning: the minutes follow the ticks, whose own suite
        # warns about them.
        "fct_price_minutes",
        {
            "coin_id": "string",
            "minute_start": "timestamp",
            "price": "float",
            "sources": "integer",
            "ma_7": "float",
            "ma_30": "float",
        },
        (
            *not_null("coin_id", "minute_start", "price", "sources"),
            between("price", 0, strict_min=True),
            between("sources", 1),
            unique("coin_id", "minute_start"),
        ),
    ),
    mart_suite(
        # Empty until the watermark has passed the end of the first bars: no row-count warning.
        "fct_stream_price_bars",
        {
            "bar_minutes": "integer",
            "coin_id": "string",
            "source": "string",
            "window_start": "timestamp",
            "open": "float",
            "high": "float",
            "low": "float",
            "close": "float",
            "tick_count": "integer",
        },
        (
            *not_null("bar_minutes", "coin_id", "source", "window_start", "close"),
            *(between(c, 0, strict_min=True) for c in ("open", "high", "low", "close")),
            between("tick_count", 1),
            unique("bar_minutes", "coin_id", "source", "window_start"),
        ),
    ),
)

SUITES = (*LAKE_SUITES, *MART_SUITES)
LAKE_CHECK_KEYS = [suite.check_key for suite in LAKE_SUITES]
