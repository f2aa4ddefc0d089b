"""A fixed, hand-checkable lake for the marts tests, and a dbt build of it.

Written as the streaming jobs write it: one Delta table per lake table (delta-rs here,
Spark's Delta sink in production), partitioned by a DATE column `date`, UTC timestamps,
several commits (Delta versions) per table. Coins, one concern each:
  bitcoin    35 days, both sources, a tick every 10 minutes: bars, returns, MAs, volatility,
             rank changes, ATH distance; calm (no alert); sentiment correlation.
  calmcoin   2 hours at 1-minute cadence, both sources, small noise: raises nothing.
  pumpcoin   +6 % then +12 % within a minute on both sources: one price spike episode.
  volcoin    24 h volume 1000 +/- 10 for 40 minutes, then 2000: an aggregator's rolling
             field, no volume spike (those come from exchange volume per minute).
  divcoin    the two sources 0.5 %, 2 %, 5 % and 1 % apart: one divergence episode.
"""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
from deltalake import CommitProperties, write_deltalake

from cryptoviz_assets.analytics.dbt import DBT_PROJECT_DIR, dbt_executable, project_flags
from cryptoviz_assets.analytics.warehouse import dbt_environment
from cryptoviz_assets.contract.events import event_id
from cryptoviz_assets.settings import Settings

T0 = datetime(2024, 3, 1, tzinfo=UTC)
DAYS = 35
ANOMALY_START = T0 + timedelta(days=34, hours=10)
SOURCES = ("coingecko", "coinmarketcap")

TICK_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("source", pa.string()),
        ("coin_id", pa.string()),
        ("symbol", pa.string()),
        ("name", pa.string()),
        ("price_usd", pa.float64()),
        ("market_cap_usd", pa.float64()),
        ("market_cap_rank", pa.int64()),
        ("volume_24h_usd", pa.float64()),
        ("high_24h_usd", pa.float64()),
        ("low_24h_usd", pa.float64()),
        ("change_1h_pct", pa.float64()),
        ("change_24h_pct", pa.float64()),
        ("change_7d_pct", pa.float64()),
        ("ath_usd", pa.float64()),
        ("ath_change_pct", pa.float64()),
        ("ath_date", pa.string()),
        ("atl_usd", pa.float64()),
        ("atl_change_pct", pa.float64()),
        ("atl_date", pa.string()),
        ("circulating_supply", pa.float64()),
        ("total_supply", pa.float64()),
        ("max_supply", pa.float64()),
        ("event_time", pa.timestamp("us", tz="UTC")),
        ("ingest_time", pa.timestamp("us", tz="UTC")),
        ("replayed", pa.bool_()),
        ("date", pa.date32()),
    ]
)
NEWS_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("source", pa.string()),
        ("guid", pa.string()),
        ("url", pa.string()),
        ("title", pa.string()),
        ("summary", pa.string()),
        ("authors", pa.list_(pa.string())),
        ("categories", pa.list_(pa.string())),
        ("event_time", pa.timestamp("us", tz="UTC")),
        ("ingest_time", pa.timestamp("us", tz="UTC")),
        ("sentiment_score", pa.float64()),
        ("sentiment_label", pa.string()),
        ("coins", pa.list_(pa.string())),
        ("date", pa.date32()),
    ]
)
SENTIMENT_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("index_date", pa.string()),
        ("value", pa.int64()),
        ("classification", pa.string()),
        ("event_time", pa.timestamp("us", tz="UTC")),
        ("ingest_time", pa.timestamp("us", tz="UTC")),
        ("date", pa.date32()),
    ]
)


def tick(
    source: str,
    coin_id: str,
    at: datetime,
    price: float,
    *,
    volume: float = 1e6,
    rank: int | None = 5,
    ath: float | None = None,
) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(TICK_SCHEMA.names)
    row.update(
        event_id=event_id(source, coin_id, at.isoformat()),
        source=source,
        coin_id=coin_id,
        symbol=coin_id[:3].upper(),
        name=coin_id.title(),
        price_usd=price,
        market_cap_usd=price * 1e6,
        market_cap_rank=rank,
        volume_24h_usd=volume,
        ath_usd=ath,
        circulating_supply=1e6,
        event_time=at,
        ingest_time=at + timedelta(seconds=2),
        replayed=False,
    )
    return row


# --- the price series -------------------------------------------------------------------
def bitcoin_price(k: int) -> float:
    """CoinGecko's bitcoin price at the k-th 10-minute tick; CoinMarketCap quotes +0.4 %."""
    return 100 * math.exp(0.02 * math.sin(k / 50) + 0.0004 * k)


def bitcoin_rank(at: datetime) -> int:
    return 2 if T0 + timedelta(days=10) <= at < T0 + timedelta(days=12) else 1


def bitcoin_ticks() -> list[dict[str, Any]]:
    rows = []
    for k in range(DAYS * 144):
        base = T0 + timedelta(minutes=10 * k)
        for source, factor, second, ath in (
            ("coingecko", 1.0, 5, 1000.0),
            ("coinmarketcap", 1.004, 35, None),
        ):
            at = base + timedelta(seconds=second)
            volume = 1e9 * (1 + 0.1 * math.sin(k / 30))
            price = bitcoin_price(k) * factor
            rank = bitcoin_rank(at)
            rows.append(tick(source, "bitcoin", at, price, volume=volume, rank=rank, ath=ath))
    return rows


def minute(m: int, second: int = 10) -> datetime:
    return ANOMALY_START + timedelta(minutes=m, seconds=second)


def calm_volume(m: int) -> float:
    return 1e6 * (1 + 0.01 * math.sin(m * 1.3))


def anomaly_ticks() -> list[dict[str, Any]]:
    rows = []
    for m in range(120):  # calmcoin
        price = 50 * (1 + 0.001 * math.sin(m))
        rows.append(tick("coingecko", "calmcoin", minute(m), price, volume=calm_volume(m)))
        rows.append(
            tick("coinmarketcap", "calmcoin", minute(m, 40), price * 1.002, volume=calm_volume(m))
        )
    for m in range(40):  # pumpcoin: +6 % at minute 10, +12 % at minute 20
        price = 100.0 if m < 10 else 106.0 if m < 20 else 118.72
        rows.append(tick("coingecko", "pumpcoin", minute(m), price, volume=calm_volume(m)))
        rows.append(
            tick("coinmarketcap", "pumpcoin", minute(m, 40), price * 1.001, volume=calm_volume(m))
        )
    for m in range(60):  # volcoin: jump at minute 40 after 40 calm observations
        volume = 2000.0 if m == 40 else 1000.0 + 10 * (-1) ** m
        rows.append(tick("coingecko", "volcoin", minute(m), 10.0, volume=volume))
    for m, cmc in enumerate((100.5, 102.0, 105.0, 101.0)):  # divcoin
        rows.append(tick("coingecko", "divcoin", minute(m), 100.0))
        rows.append(tick("coinmarketcap", "divcoin", minute(m, 30), cmc))
    return rows


# --- news and Fear & Greed ---------------------------------------------------------------
def label(score: float) -> str:
    return "positive" if score > 0.05 else "negative" if score < -0.05 else "neutral"


def article(n: int, at: datetime, score: float, coins: list[str], ingest_delay: int = 60) -> dict:
    return {
        "event_id": event_id("coindesk", n),
        "source": "coindesk",
        "guid": f"guid-{n}",
        "url": f"https://news.example/{n}",
        "title": f"Headline {n}",
        "summary": "...",
        "authors": ["A. Writer"],
        "categories": ["Markets"],
        "event_time": at,
        "ingest_time": at + timedelta(seconds=ingest_delay),
        "sentiment_score": score,
        "sentiment_label": label(score),
        "coins": coins,
    }


def news_rows() -> list[dict[str, Any]]:
    """Two bitcoin articles a day except every fifth day; extras exercise the edges."""
    rows = []
    for d in range(DAYS):
        if d % 5 == 4:
            continue
        day = T0 + timedelta(days=d)
        rows.append(
            article(2 * d, day + timedelta(hours=8), round(math.sin(d * 1.7), 3), ["bitcoin"])
        )
        rows.append(
            article(
                2 * d + 1, day + timedelta(hours=15), round(math.cos(d * 0.9) * 0.6, 3), ["bitcoin"]
            )
        )
    rows.append(article(1000, T0 + timedelta(hours=9), 0.5, ["bitcoin", "ethereum"]))
    rows.append(article(1001, T0 + timedelta(hours=10), -0.9, []))
    return rows


def fear_greed_rows() -> list[dict[str, Any]]:
    def row(day: date, value: int, cls: str, at: datetime) -> dict[str, Any]:
        return {
            "event_id": event_id("fng", day, at.isoformat()),
            "index_date": day.isoformat(),
            "value": value,
            "classification": cls,
            "event_time": at,
            "ingest_time": at + timedelta(seconds=1),
        }

    d0 = T0.date()
    return [
        row(d0, 20, "Extreme Fear", T0 + timedelta(minutes=5)),
        row(d0, 25, "Extreme Fear", T0 + timedelta(hours=12)),  # the later poll wins
        row(d0 + timedelta(days=1), 40, "Fear", T0 + timedelta(days=1, minutes=5)),
        row(d0 + timedelta(days=2), 70, "Greed", T0 + timedelta(days=2, minutes=5)),
    ]


# --- writing the lake --------------------------------------------------------------------
def partition_day(row: dict[str, Any]) -> date:
    """The UTC day of the row's event_time (naive means UTC), or its index_date."""
    if row.get("index_date"):
        return date.fromisoformat(row["index_date"])
    at: datetime = row["event_time"]
    return (at.astimezone(UTC) if at.tzinfo else at).date()


def write_table(
    lake: Path,
    table: str,
    rows: Iterable[dict[str, Any]],
    schema: pa.Schema,
    label: str,
) -> Path:
    """Append rows to the Delta table `<lake>/<table>` as one commit (a new version), like a
    streaming micro-batch; returns the table's path. `label` is recorded in the commit.

    The `date` partition (DATE) is the UTC day of event_time, or the row's own `index_date`
    (market_sentiment: the day the index value is for).
    """
    data = [{**row, "date": partition_day(row)} for row in rows]
    path = lake / table
    write_deltalake(
        path,
        pa.Table.from_pylist(data, schema=schema),
        mode="append",
        partition_by=["date"],
        commit_properties=CommitProperties(custom_metadata={"label": label}),
    )
    return path


def write_ticks(lake: Path, rows: list[dict[str, Any]], file_name: str) -> None:
    """Ticks, one commit per source (several versions and files per partition)."""
    for source in SOURCES:
        chosen = [r for r in rows if r["source"] == source]
        write_table(lake, "price_ticks", chosen, TICK_SCHEMA, f"{file_name}-{source}")


def write_lake(lake: Path, until: datetime | None = None, file_name: str = "part-0") -> None:
    """The whole fixed lake, or only what happened before `until`."""
    ticks = [
        r for r in bitcoin_ticks() + anomaly_ticks() if until is None or r["event_time"] < until
    ]
    write_ticks(lake, ticks, file_name)
    news = news_rows()
    # The first article lands twice (a feed repeats it); the duplicate must collapse.
    write_table(lake, "news_articles", news, NEWS_SCHEMA, file_name)
    write_table(
        lake,
        "news_articles",
        [dict(news[0], ingest_time=news[0]["ingest_time"] + timedelta(hours=1))],
        NEWS_SCHEMA,
        f"{file_name}-repeat",
    )
    fng = fear_greed_rows()
    write_table(lake, "market_sentiment", fng, SENTIMENT_SCHEMA, file_name)


# --- building ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Warehouse:
    settings: Settings
    target: Path

    @property
    def build_file(self) -> Path:
        return self.settings.warehouse_build_file


def make_settings(root: Path) -> Settings:
    return Settings(
        CRYPTOVIZ_VAR_DIR=root / "var",
        lake_root=str(root / "lake"),
        duckdb_path=root / "warehouse" / "cryptoviz.duckdb",
        warehouse_build_path=root / "warehouse" / "build.duckdb",
    )


def run_dbt(settings: Settings, *args: str, target: Path) -> subprocess.CompletedProcess[str]:
    """The dbt CLI in a subprocess, as Dagster runs it, with the project's environment."""
    with dbt_environment(settings):
        argv = [
            dbt_executable(),
            *args,
            *project_flags(),
            "--target-path",
            str(target),
            "--log-path",
            str(target),
        ]
        return subprocess.run(argv, capture_output=True, text=True, cwd=DBT_PROJECT_DIR)


def build(settings: Settings, target: Path, *args: str) -> None:
    done = run_dbt(settings, *(args or ("build",)), target=target)
    if done.returncode != 0:
        raise AssertionError(f"dbt failed:\n{done.stdout[-6000:]}\n{done.stderr[-2000:]}")


def table(build_file: Path, sql: str) -> Any:
    """A pandas DataFrame from the build file (read-only; dbt has exited)."""
    import duckdb

    with duckdb.connect(str(build_file), read_only=True) as con:
        return con.execute(sql).df()


_BUILT: dict[str, Warehouse] = {}


def built_warehouse(root_factory: Any) -> Warehouse:
    """One full `dbt build` of the whole fixed lake per test session."""
    if "full" not in _BUILT:
        root = root_factory.mktemp("marts-full")
        settings = make_settings(root)
        write_lake(Path(settings.lake_uri))
        target = root / "target"
        build(settings, target)
        _BUILT["full"] = Warehouse(settings, target)
    return _BUILT["full"]


# --- dbt's tests, as its manifest states them -----------------------------------------------
@dataclass(frozen=True)
class DbtTest:
    """One dbt test: its kind (not_null, between, ... or a singular test's own name), the model
    or lake source it is attached to, its column if any, and its severity (ERROR or WARN)."""

    unique_id: str
    kind: str
    node: str  # e.g. model.cryptoviz.fct_news_articles, source.cryptoviz.lake.price_ticks
    column: str | None
    severity: str

    @property
    def on(self) -> str:
        """The model's name, or the lake table's."""
        return self.node.rsplit(".", 1)[-1]


def dbt_tests(manifest: Path) -> list[DbtTest]:
    tests = []
    for node in json.loads(manifest.read_text())["nodes"].values():
        if node["resource_type"] != "test":
            continue
        generic = node.get("test_metadata")
        tests.append(
            DbtTest(
                node["unique_id"],
                generic["name"] if generic else node["name"],
                node.get("attached_node") or node["depends_on"]["nodes"][0],
                node.get("column_name"),
                node["config"]["severity"].upper(),
            )
        )
    return tests


def dbt_outcomes(target: Path) -> dict[tuple[str, str, str | None], str]:
    """The status of each test a dbt invocation in `target` ran (pass, fail, warn, error), by
    (model, kind, column)."""
    results = json.loads((target / "run_results.json").read_text())["results"]
    status = {r["unique_id"]: r["status"] for r in results}
    ran = [t for t in dbt_tests(target / "manifest.json") if t.unique_id in status]
    outcomes = {(t.on, t.kind, t.column): status[t.unique_id] for t in ran}
    assert len(outcomes) == len(ran), "two tests of one kind on one column"
    return outcomes
