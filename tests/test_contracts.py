"""The event contract is stated once: the Spark schemas parse exactly the JSON Schemas' fields
with matching types, every dbt source column names a known type, and a lake that differs from
them is named column by column. (The lake itself is
compared with both on a real landing: tests/test_demo_e2e.py.)"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from tests.contracts import (
    DBT_TO_ARROW,
    JSON_TO_SPARK,
    LAKE_TABLES,
    SPARK_SCHEMAS,
    dbt_lake_columns,
    json_schema,
    json_type,
    lake_disagreements,
)


@pytest.mark.parametrize("event_type", sorted(SPARK_SCHEMAS))
def test_spark_parses_exactly_the_json_schema(event_type: str) -> None:
    properties = json_schema(event_type)["properties"]
    spark = {field.name: field.dataType for field in SPARK_SCHEMAS[event_type].fields}
    assert sorted(spark) == sorted(properties)
    for name, prop in properties.items():
        assert spark[name] == JSON_TO_SPARK[json_type(prop)], name


def test_every_dbt_lake_column_has_a_known_type() -> None:
    declared = dbt_lake_columns()
    assert set(declared) == {
        "price_ticks",
        "exchange_bars_1m",
        "price_bars",
        "price_alerts",
        "news_articles",
        "market_sentiment",
    }
    for table, columns in declared.items():
        assert set(columns.values()) <= set(DBT_TO_ARROW), table


def write_declared_lake(lake: Path, wrong: tuple[str, str] | None = None) -> None:
    """Empty Delta tables with dbt's declared columns plus the events' other fields (as
    strings); `wrong` = (table, column) is written as a string whatever dbt declares."""
    extra = {table: set(json_schema(event)["properties"]) for event, table in LAKE_TABLES.items()}
    for table, columns in dbt_lake_columns().items():
        fields = [
            pa.field(name, pa.string() if (table, name) == wrong else DBT_TO_ARROW[data_type])
            for name, data_type in columns.items()
        ]
        fields += [
            pa.field(name, pa.string()) for name in sorted(extra.get(table, set()) - set(columns))
        ]
        write_deltalake(lake / table, pa.schema(fields).empty_table())


def test_the_lake_comparison_names_each_disagreement(tmp_path: Path) -> None:
    write_declared_lake(tmp_path / "good")
    assert lake_disagreements(tmp_path / "good") == []
    write_declared_lake(tmp_path / "bad", wrong=("price_ticks", "price_usd"))
    assert lake_disagreements(tmp_path / "bad") == [
        "price_ticks.price_usd: dbt says double, lake has string"
    ]
