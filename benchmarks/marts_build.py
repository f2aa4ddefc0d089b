"""How fast the marts build: full and incremental dbt runs over 1 M and 10 M price ticks.

Run: .venv/bin/python benchmarks/marts_build.py [ticks ...]   (default: 1000000 10000000)

For each size it writes a synthetic lake (20 coins, 2 sources, one tick per coin, source
and minute, Delta tables partitioned by date, plus news and Fear & Greed for the sentiment
marts) into a temporary directory, then times:
  full         `dbt run --full-refresh` from an empty warehouse
  incremental  `dbt run` after one more hour of ticks lands as a new Delta version
  no-op        `dbt run` again with no new data
and prints the warehouse size on disk. Targets: full build of 10 M ticks < 30 s,
incremental < 5 s. dbt runs in-process (dbtRunner), as Dagster's DbtCliResource would in
a subprocess, so interpreter start-up is not counted.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from cryptoviz_assets.analytics import delta_reader
from cryptoviz_assets.runtime.processes import interrupt_on_sigterm

PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"
COINS = 20
SOURCES = ("coingecko", "coinmarketcap")
START = "2024-01-01 00:00:00"


def append(con: duckdb.DuckDBPyConnection, table: Path, query: str) -> None:
    """The query's rows appended to the Delta table as one commit, partitioned by date."""
    from deltalake import write_deltalake

    reader = con.execute(query).to_arrow_reader()
    write_deltalake(table, reader, mode="append", partition_by=["date"])


def write_ticks(lake: Path, first_minute: int, minutes: int) -> None:
    """`minutes` minutes of ticks for every coin and source: one commit to price_ticks."""
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    query = f"""
        select
            sha256(s.source || c.coin_id || m.i::varchar) as event_id,
            s.source, c.coin_id, upper(left(c.coin_id, 4)) as symbol, c.coin_id as name,
            c.base * (1 + 0.2 * sin(m.i / 1440.0 + c.k)) * (1 + 0.003 * sin(m.i * 7.0 + c.k))
                * (case when s.source = 'coinmarketcap' then 1.001 else 1 end) as price_usd,
            1e9 * c.base as market_cap_usd, c.k + 1 as market_cap_rank,
            1e7 * (1 + 0.1 * sin(m.i / 97.0)) as volume_24h_usd,
            null::double as high_24h_usd, null::double as low_24h_usd,
            null::double as change_1h_pct, null::double as change_24h_pct,
            null::double as change_7d_pct, 2 * c.base as ath_usd, null::double as ath_change_pct,
            null::varchar as ath_date, null::double as atl_usd, null::double as atl_change_pct,
            null::varchar as atl_date, 1e6 as circulating_supply, null::double as total_supply,
            null::double as max_supply,
            (timestamptz '{START}+00' + to_minutes(m.i) + to_seconds(s.k * 7)) as event_time,
            (timestamptz '{START}+00' + to_minutes(m.i) + to_seconds(s.k * 7 + 3)) as ingest_time,
            false as replayed,
            cast(timestamp '{START}' + to_minutes(m.i) as date) as date
        from range({first_minute}, {first_minute + minutes}) as m(i)
        cross join (select 'coin-' || k as coin_id, k, 10.0 + k * 100 as base
                    from range({COINS}) as t(k)) as c
        cross join (select unnest(['coingecko', 'coinmarketcap']) as source,
                           unnest([0, 1]) as k) as s
    """
    append(con, lake / "price_ticks", query)
    con.close()


def write_sentiment(lake: Path, days: int) -> None:
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    news = f"""
        select sha256('n' || i::varchar) as event_id, 'coindesk' as source, i::varchar as guid,
            'https://example.com/' || i as url, 'title ' || i as title, '' as summary,
            ['a'] as authors, ['markets'] as categories,
            timestamptz '{START}+00' + to_minutes(i * 37) as event_time,
            timestamptz '{START}+00' + to_minutes(i * 37 + 1) as ingest_time,
            sin(i) as sentiment_score,
            case when sin(i) > 0.05 then 'positive' when sin(i) < -0.05 then 'negative'
                 else 'neutral' end as sentiment_label,
            ['coin-' || (i % {COINS})] as coins,
            cast(timestamp '{START}' + to_minutes(i * 37) as date) as date
        from range({days * 1440 // 37}) as t(i)
    """
    fng = f"""
        select sha256('f' || i::varchar) as event_id,
            strftime(date '{START[:10]}' + i::int, '%Y-%m-%d') as index_date,
            (50 + 40 * sin(i))::int as value, 'Neutral' as classification,
            timestamptz '{START}+00' + to_days(i::int) as event_time,
            timestamptz '{START}+00' + to_days(i::int) as ingest_time,
            date '{START[:10]}' + i::int as date
        from range({days}) as t(i)
    """
    for table, query in (("news_articles", news), ("market_sentiment", fng)):
        append(con, lake / table, query)
    con.close()


def dbt(args: list[str]) -> float:
    from dbt.cli.main import dbtRunner

    started = time.perf_counter()
    result = dbtRunner().invoke(
        [*args, "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR), "--quiet"]
    )
    if not result.success:
        raise RuntimeError(f"dbt {' '.join(args)} failed: {result.exception}")
    return time.perf_counter() - started


def measure(ticks: int, root: Path) -> dict[str, float]:
    lake, warehouse = root / "lake", root / "build.duckdb"
    os.environ["CRYPTOVIZ_LAKE_ROOT"] = str(lake)
    os.environ["CRYPTOVIZ_DBT_DUCKDB_PATH"] = str(warehouse)
    extensions = delta_reader.extension_directory(root / "duckdb_extensions")
    os.environ["CRYPTOVIZ_DUCKDB_EXTENSIONS"] = str(extensions)
    minutes = ticks // (COINS * len(SOURCES))
    started = time.perf_counter()
    write_ticks(lake, 0, minutes)
    write_sentiment(lake, minutes // 1440 + 1)
    generated = time.perf_counter() - started
    full = dbt(["run", "--full-refresh"])
    write_ticks(lake, minutes, 60)
    incremental = dbt(["run"])
    noop = dbt(["run"])
    return {
        "ticks": ticks,
        "generate_s": generated,
        "full_s": full,
        "incremental_s": incremental,
        "noop_s": noop,
        "warehouse_mb": warehouse.stat().st_size / 1e6,
        "lake_mb": sum(p.stat().st_size for p in lake.rglob("*.parquet")) / 1e6,
    }


def main(sizes: list[int]) -> None:
    os.environ.setdefault("DO_NOT_TRACK", "1")
    dbt(["parse"])  # warm: the manifest, as a deployed code location has it
    print(
        f"{'ticks':>11} {'full s':>7} {'incr s':>7} {'no-op s':>8} {'warehouse MB':>13} "
        f"{'lake MB':>8}"
    )
    for ticks in sizes:
        root = Path(tempfile.mkdtemp(prefix="cryptoviz-bench-"))
        try:
            r = measure(ticks, root)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        print(
            f"{r['ticks']:>11,} {r['full_s']:>7.1f} {r['incremental_s']:>7.1f} "
            f"{r['noop_s']:>8.1f} {r['warehouse_mb']:>13.0f} {r['lake_mb']:>8.0f}",
            flush=True,
        )


if __name__ == "__main__":
    interrupt_on_sigterm()  # SIGTERM runs the cleanup, like Ctrl-C
    main([int(arg) for arg in sys.argv[1:]] or [1_000_000, 10_000_000])
