"""Produce -> mart freshness with the platform running as a person runs it.

Run: .venv/bin/python benchmarks/mart_freshness.py [minutes] (default 10). Starts `cryptoviz
demo` in a temporary directory on free ports (broker, replay server, the demo pipeline, then
`dagster dev`: the collectors' schedules, the sensors that keep the three streaming jobs
running and the marts' declarative automation), then for `minutes` polls the published
warehouse snapshot every 2 s and prints:

* for every collection of CoinGecko or CoinMarketCap prices (one ingest_time, stamped by the
  collector just before it produces), the time from that ingest_time to the first poll that
  finds its ticks in `staging.stg_price_ticks` of the published snapshot: collector ->
  Kafka -> Spark -> Delta -> Dagster automation -> dbt build, dbt tests, GX checks ->
  snapshot; p50, p95 and max over the collections first seen during the window;
* how many snapshots were published meanwhile, and the load average.

Everything runs on this machine's 2 cores at once (broker, 3 Spark jobs, dagster dev, dbt),
as on a laptop running the demo. It stops what it started (`cryptoviz stop`) on success,
failure or Ctrl-C.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from cryptoviz_assets.analytics.warehouse import connect_read_only
from cryptoviz_assets.runtime.processes import free_port, interrupt_on_sigterm

CLI = Path(sys.executable).parent / "cryptoviz"
POLL_SECONDS = 2.0
COLLECTIONS = """
    select ingest_time, count(*) from staging.stg_price_ticks
    where source in ('coingecko', 'coinmarketcap') group by 1
"""


def demo_env(root: Path) -> dict[str, str]:
    """The demo on a private var directory and free ports, nothing shared with a running one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "TOPIC_"))}
    for name in ("LAKE_ROOT", "DUCKDB_PATH", "WAREHOUSE_BUILD_PATH", "CHECKPOINT_ROOT"):
        env.pop(name, None)
    return env | {
        "CRYPTOVIZ_VAR_DIR": str(root / "var"),
        "EMBEDDED_KAFKA_PORT": str(free_port()),
        "EMBEDDED_KAFKA_CONTROLLER_PORT": str(free_port()),
        "REPLAY_PORT": str(free_port()),
        "DAGSTER_PORT": str(free_port()),
    }


def collections(snapshot: Path) -> set[datetime]:
    """The price collections (by ingest_time, UTC) the published snapshot holds."""
    if not snapshot.exists():
        return set()
    with connect_read_only(snapshot) as con:
        return {at.replace(tzinfo=UTC) for at, _ in con.execute(COLLECTIONS).fetchall()}


def main(minutes: float = 10) -> int:
    root = Path(tempfile.mkdtemp(prefix="cryptoviz-freshness-"))
    env = demo_env(root)
    snapshot = root / "var" / "warehouse" / "cryptoviz.duckdb"
    try:
        started = time.perf_counter()
        demo = subprocess.run(
            [str(CLI), "demo"], env=env, cwd=root, capture_output=True, text=True, timeout=1800
        )
        if demo.returncode != 0:
            print(demo.stdout[-3000:] + demo.stderr[-3000:])
            print("result                 the demo failed")
            return 1
        print(f"demo up in {time.perf_counter() - started:.0f}s; measuring {minutes:g} min")
        seen = collections(snapshot)
        load_before = os.getloadavg()[0]
        mtime, published, latencies = snapshot.stat().st_mtime, 0, []
        end = time.monotonic() + minutes * 60
        while time.monotonic() < end:
            time.sleep(POLL_SECONDS)
            if snapshot.stat().st_mtime == mtime:
                continue
            mtime, published = snapshot.stat().st_mtime, published + 1
            now = datetime.now(UTC)
            new = collections(snapshot) - seen
            latencies += [(now - at).total_seconds() for at in new]
            seen |= new
        print(f"snapshots published    {published} in {minutes:g} min")
        print(f"load average (1 min)   {load_before:.1f} at start, {os.getloadavg()[0]:.1f} at end")
        if len(latencies) < 2:
            print(f"result                 {len(latencies)} new collections reached the marts")
            return 1
        latencies.sort()
        q = statistics.quantiles(latencies, n=100, method="inclusive")
        print(
            f"collector -> marts     p50 {q[49]:.0f}s  p95 {q[94]:.0f}s  max {latencies[-1]:.0f}s"
            f" over {len(latencies)} collections"
        )
        return 0
    finally:
        subprocess.run([str(CLI), "stop"], env=env, capture_output=True, timeout=300)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    interrupt_on_sigterm()  # SIGTERM cleans up like Ctrl-C
    sys.exit(main(*[float(a) for a in sys.argv[1:2]]))
