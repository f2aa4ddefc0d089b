"""Lake maintenance: compact the streams' small files (OPTIMIZE), then delete the files no
recent version needs (VACUUM), on every Delta table under the lake root.

`python -m streaming.maintenance` (the Dagster job `lake_maintenance` runs it daily, through
Dagster Pipes like the streaming jobs). Micro-batches of about a second leave each table with
thousands of small files a day; every reader (DuckDB, dbt, a stream reading a table) pays per
file. Each table's result (files and bytes before/after, the versions it committed, the files
VACUUM deleted) is reported to Dagster, or printed as a JSON line when run standalone.

Why it is safe while the streams write:
- OPTIMIZE only rewrites files: its commit adds and removes files with `dataChange=false`
  and is checked under snapshot isolation. The streams' commits are blind appends (they
  read nothing of the table they write), and in Delta's write-conflict table an append and a
  compaction cannot conflict, whichever commits first; files appended meanwhile are left for
  the next run. Two compactions of one table can conflict: the job never runs twice at once
  (tag `cryptoviz/kind: maintenance`, limit 1 in dagster.yaml).
- A stream reading a table (bars from ticks, alerts from bars) skips commits that change no
  data: a compaction is never read as new rows.
- VACUUM deletes a replaced file only LAKE_VACUUM_RETENTION_HOURS after it was replaced
  (default 168, Delta's 7 days), and never a file not yet committed that is younger than
  that: a lagging stream, a long query or a time travel still finds its files. Delta
  refuses a shorter retention than the table's own unless LAKE_VACUUM_RETENTION_CHECK=false.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from cryptoviz_assets.settings import get_settings
from streaming.runner import Reporter, reap_children
from streaming.session import build_spark

JOB = "maintenance"
log = logging.getLogger("streaming.maintenance")


def lake_tables(spark: SparkSession, lake_root: str) -> list[str]:
    """Names of the Delta tables directly under the lake root (any Hadoop file system)."""
    jvm: Any = spark._jvm  # Hadoop's FileSystem: no Python API
    root = jvm.org.apache.hadoop.fs.Path(lake_root)
    fs = root.getFileSystem(spark._jsc.hadoopConfiguration())
    if not fs.exists(root):
        return []
    children = [status.getPath() for status in fs.listStatus(root) if status.isDirectory()]
    return sorted(
        path.getName() for path in children if DeltaTable.isDeltaTable(spark, path.toString())
    )


def maintain(spark: SparkSession, path: str, retention_hours: float) -> dict[str, Any]:
    """OPTIMIZE (bin-packing within each date partition), then VACUUM one table."""
    table = DeltaTable.forPath(spark, path)
    before, version_before = table.detail().collect()[0], _version(table)
    started = time.monotonic()
    compaction = table.optimize().executeCompaction().collect()
    table.vacuum(retention_hours)
    after = table.detail().collect()[0]
    metrics = compaction[0]["metrics"].asDict() if compaction else {}
    return {
        "files_before": before["numFiles"],
        "files_after": after["numFiles"],
        "bytes_before": before["sizeInBytes"],
        "bytes_after": after["sizeInBytes"],
        "files_compacted": metrics.get("numFilesRemoved", 0),
        "files_written": metrics.get("numFilesAdded", 0),
        "files_deleted": _vacuumed_files(table),
        "version_before": version_before,
        "version_after": _version(table),
        "retention_hours": retention_hours,
        "seconds": round(time.monotonic() - started, 1),
    }


def _version(table: DeltaTable) -> int:
    return int(table.history(1).collect()[0]["version"])


def _vacuumed_files(table: DeltaTable) -> int:
    """Files the last VACUUM deleted, from its `VACUUM END` commit (vacuum logging is on)."""
    ends = table.history(3).where("operation = 'VACUUM END'").collect()
    return int(ends[0]["operationMetrics"].get("numDeletedFiles", 0)) if ends else 0


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)
    settings = get_settings()
    reporter = Reporter(JOB, 0)
    failed: list[str] = []
    try:
        with reporter.opened():
            spark = build_spark(f"cryptoviz-{JOB}", settings)
            # VACUUM lists a table with this many tasks: the default (10000) spent minutes
            # on empty tasks on two cores. One task per core and a few more is plenty here.
            spark.conf.set("spark.sql.sources.parallelPartitionDiscovery.parallelism", "8")
            # Record each VACUUM as commits with its metrics (what it deleted).
            spark.conf.set("spark.databricks.delta.vacuum.logging.enabled", "true")
            if not settings.lake_vacuum_retention_check:
                spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
            tables = lake_tables(spark, settings.lake_uri)
            reporter.info(f"{len(tables)} tables under {settings.lake_uri}")
            for name in tables:
                path = f"{settings.lake_uri.rstrip('/')}/{name}"
                try:
                    result = maintain(spark, path, settings.lake_vacuum_retention_hours)
                except Exception as exc:  # one table's failure must not skip the others
                    log.exception("maintenance of %s failed", name)
                    reporter.info(f"{name}: failed: {exc}")
                    failed.append(name)
                    continue
                reporter.info(
                    f"{name}: {result['files_before']} -> {result['files_after']} files, "
                    f"{result['files_deleted']} deleted from storage, version "
                    f"{result['version_before']} -> {result['version_after']}"
                )
                reporter.send({"kind": "maintenance", "table": name, **result})
            spark.stop()
            if failed:
                raise RuntimeError(f"maintenance failed for {', '.join(failed)}")
    except Exception as exc:
        print(f"[{JOB}] failed: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        reap_children()
    return 0


if __name__ == "__main__":
    sys.exit(main())
