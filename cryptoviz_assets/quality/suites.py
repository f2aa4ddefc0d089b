"""What "good data" means for every lake table, as plain data (no GX import).

Each expectation names a Great Expectations 1.x expectation class and its arguments.
`critical` ones (types, keys, value ranges) fail the asset check with severity ERROR,
which blocks everything downstream; the others (freshness, row-count sanity) only warn.
The marts' expectations are dbt tests (dbt_project/models/marts/_marts.yml), not repeated here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import dagster as dg

# Logical column types -> the pandas dtypes a DuckDB result may arrive as.
PANDAS_TYPES: dict[str, list[str]] = {
    "string": ["object", "str", "string"],
    "float": ["float64", "float32"],
    "integer": ["int64", "int32", "int16", "int8", "Int64", "Int32", "Int16", "Int8"],
    "timestamp": ["datetime64[us]", "datetime64[ns]", "datetime64[ms]", "datetime64[s]"],
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
    """The expectations of one lake table."""

    name: str  # also the asset check name: gx_<name>
    asset_key: dg.AssetKey
    table: str
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
            Expect("ExpectColumnValuesToBeInTypeList", {"column": c, "type_list": PANDAS_TYPES[t]})
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
    return Suite(f"lake_{table}", key, table, columns, expectations, time_column, time_grain)


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

LAKE_CHECK_KEYS = [suite.check_key for suite in LAKE_SUITES]
