"""The three statements of the event contract, read independently for tests to compare:
the JSON Schemas producers validate against (cryptoviz_assets/contract/schemas), the Spark schemas
the streaming jobs parse Kafka with (streaming/events.py), and the lake columns dbt declares
(dbt_project/models/staging/_sources.yml)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml
from deltalake import DeltaTable
from pyspark.sql import types as T  # noqa: N812

from cryptoviz_assets.contract.events import SCHEMA_FILES
from cryptoviz_assets.settings import PROJECT_ROOT
from streaming import events

SCHEMAS = PROJECT_ROOT / "cryptoviz_assets" / "contract" / "schemas"
SOURCES_YML = PROJECT_ROOT / "dbt_project" / "models" / "staging" / "_sources.yml"

# Event type -> the Spark schema its topic is parsed with, and the lake table it lands in.
SPARK_SCHEMAS = {
    "price_tick": events.PRICE_TICK,
    "news_article": events.NEWS_ARTICLE,
    "market_sentiment": events.MARKET_SENTIMENT,
    "kline": events.KLINE,
}
LAKE_TABLES = {
    "price_tick": "price_ticks",
    "news_article": "news_articles",
    "market_sentiment": "market_sentiment",
    "kline": "exchange_bars_1m",
    "price_alert": "price_alerts",  # produced by Spark itself, not parsed
}
JSON_TO_SPARK = {
    "string": T.StringType(),
    "number": T.DoubleType(),
    "integer": T.LongType(),
    "boolean": T.BooleanType(),
    "array": T.ArrayType(T.StringType()),
}
# dbt-duckdb data_type -> the Arrow type of the Delta column DuckDB's delta_scan reads.
DBT_TO_ARROW = {
    "varchar": pa.string(),
    "double": pa.float64(),
    "bigint": pa.int64(),
    "integer": pa.int32(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "varchar[]": pa.list_(pa.field("element", pa.string())),
}


def json_schema(event_type: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / SCHEMA_FILES[event_type]).read_text())  # type: ignore[no-any-return]


def json_type(prop: dict[str, Any]) -> str:
    """The JSON type of a property: its non-null type, or that of its const or enum values."""
    if "type" in prop:
        types = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
        (kind,) = [t for t in types if t != "null"]
        return str(kind)
    value = prop["const"] if "const" in prop else prop["enum"][0]
    return {bool: "boolean", int: "integer", float: "number", str: "string"}[type(value)]


def dbt_lake_columns() -> dict[str, dict[str, str]]:
    """Lake table -> {column: data_type} as the dbt source `lake` declares them."""
    sources = yaml.safe_load(SOURCES_YML.read_text())["sources"]
    (lake,) = [s for s in sources if s["name"] == "lake"]
    return {t["name"]: {c["name"]: c["data_type"] for c in t["columns"]} for t in lake["tables"]}


def delta_columns(table: Path) -> dict[str, pa.DataType]:
    """The columns of a Delta table as its writer committed them."""
    schema = pa.schema(DeltaTable(str(table)).schema().to_arrow())
    return {field.name: field.type for field in schema}


def lake_disagreements(lake: Path) -> list[str]:
    """Every way the Delta tables under `lake` differ from the dbt source declarations and
    the JSON Schemas of the events they hold; empty when all three agree."""
    problems = []
    for table, declared in dbt_lake_columns().items():
        landed = delta_columns(lake / table)
        for column, data_type in declared.items():
            if column not in landed:
                problems.append(f"{table}.{column}: declared in dbt, not in the lake")
            elif landed[column] != DBT_TO_ARROW[data_type]:
                problems.append(
                    f"{table}.{column}: dbt says {data_type}, lake has {landed[column]}"
                )
    for event_type, table in LAKE_TABLES.items():
        landed = delta_columns(lake / table)
        missing = set(json_schema(event_type)["properties"]) - set(landed)
        problems += [
            f"{table}.{name}: in the {event_type} schema, not in the lake"
            for name in sorted(missing)
        ]
    return problems
