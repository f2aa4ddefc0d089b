"""Sustained throughput and latency of broker -> Spark (prices job) -> lake on this machine.

Run: .venv/bin/python benchmarks/streaming_throughput.py [events_per_second] [seconds]
[deadline_seconds] (defaults 10000, 60 and 300 + 3 x seconds). Starts its own embedded broker
and the real prices job (`python -m streaming.prices`: ticks, quarantine, bars and alerts) in
a temporary directory, warms it up, then produces contract-valid price ticks at the target
rate and prints:

* produced and landed events/s (landed = price_ticks rows / time from first produce to
  last landed row), the events still to land when production ended, and a result line:
  the job kept up if they were at most 5 s of input (a few triggers plus the latency);
* end-to-end latency p50/p95/max: Kafka record timestamp (set by the producer when it
  produces) to the time the Delta commit that added the row's file was written (the commit
  file's mtime): produce -> a committed row readers can see;
* peak resident memory of the whole job (driver + JVM + Python workers).

The job is watched all along: if it dies, or the whole run passes its deadline, the result
line says so ("did not keep up / job died at 93 s while landing the ticks (exit 1):
<the job's last error line>") and the script exits with status 1. Whatever happens (success,
failure, deadline, Ctrl-C or SIGTERM: exit status 130), it stops what it started: the
job with its JVM and Python workers, and the broker.

The producer runs in this process and shares the 2 cores with Spark: figures are honest
for the whole pipeline on one machine, not Spark alone. The load average is printed too:
other work on the machine moves the figures a lot.

Settings: trigger 0.5 s, maxOffsetsPerTrigger 50,000, dedupe 120 s; 100 coins, 3 partitions.
The figures, with the conditions they were measured in, are in the README ("Benchmarks").
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil
from confluent_kafka import Producer

from cryptoviz_assets.analytics import delta_reader
from cryptoviz_assets.kafka.broker import EmbeddedBroker
from cryptoviz_assets.kafka.topics import ensure_topics
from cryptoviz_assets.runtime.processes import free_port, interrupt_on_sigterm, uninterruptible
from cryptoviz_assets.settings import Settings
from streaming.process import StreamProcess

COINS = [f"coin-{i:03d}" for i in range(100)]
KEPT_UP_SECONDS = 5.0  # at most this much input still to land when production ends


def _tick(i: int, now: datetime) -> bytes:
    coin = COINS[i % len(COINS)]
    event_time = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return json.dumps(
        {
            "schema_version": 1,
            "event_id": hashlib.sha256(f"bench|{coin}|{i}".encode()).hexdigest(),
            "event_type": "price_tick",
            "source": "coingecko",
            "event_time": event_time,
            "ingest_time": event_time,
            "replayed": False,
            "coin_id": coin,
            "symbol": coin.upper(),
            "name": coin,
            "price_usd": 100.0 + (i % 50) * 0.01,
            "volume_24h_usd": 1e9,
        }
    ).encode()


class BenchmarkFailedError(Exception):
    """The job died or the deadline passed: a result of the benchmark, not a crash."""


@dataclass
class Watch:
    """Fails the benchmark as soon as the job dies or the whole run passes its deadline."""

    job: StreamProcess
    log: Path
    deadline_s: float
    started: float = field(default_factory=time.monotonic)

    def check(self, doing: str | Callable[[], str]) -> None:
        """Raise if the job has exited or time is up, saying what was under way."""
        elapsed = time.monotonic() - self.started
        status = self.job.poll()
        if status is None and elapsed <= self.deadline_s:
            return
        what = doing() if callable(doing) else doing
        if status is not None:
            raise BenchmarkFailedError(
                f"did not keep up / job died at {elapsed:.0f} s while {what} "
                f"(exit {status}): {last_error_line(self.log)}"
            )
        raise BenchmarkFailedError(
            f"did not keep up / deadline of {self.deadline_s:.0f} s passed while {what}"
        )

    def wait_for(self, done: Callable[[], bool], doing: Callable[[], str]) -> None:
        """Poll `done` every second, checking the job and the deadline in between."""
        while not done():
            self.check(doing)
            time.sleep(1.0)


def last_error_line(log: Path) -> str:
    """Why the job died, from its log: the exception line of its last Python traceback,
    else the last line naming an error (the JVM logs some as it goes down), else the last."""
    try:
        lines = [line.rstrip() for line in log.read_text(errors="replace").splitlines()]
    except OSError:
        return "(no job log)"
    error = re.compile(r"^[\w.]*(Error|Exception)\b")
    tracebacks = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent")]
    after = lines[tracebacks[-1] :] if tracebacks else []
    raised = [line for line in after if error.match(line)]
    errors = [line.strip() for line in lines if error.match(line.strip())]
    found = raised[:1] or errors[-1:] or [line for line in lines if line.strip()][-1:]
    return found[0][:500] if found else "(empty job log)"


def _produce(
    producer: Producer, topic: str, first: int, count: int, rate: float, *, watch: Watch
) -> None:
    """`count` ticks at `rate` per second, in 20 ms slices; checks the job every second."""
    slice_s = 0.02
    per_slice = max(1, int(rate * slice_s))
    started = time.perf_counter()
    checked = started
    sent = 0
    while sent < count:
        if time.perf_counter() - checked >= 1.0:
            watch.check(f"producing ({sent:,} of {count:,} sent)")
            checked = time.perf_counter()
        n = min(per_slice, count - sent)
        now = datetime.now(UTC)
        for j in range(n):
            producer.produce(
                topic,
                key=COINS[(first + sent + j) % len(COINS)],
                value=_tick(first + sent + j, now),
            )
        sent += n
        producer.poll(0)
        ahead = started + sent / rate - time.perf_counter()
        if ahead > 0:
            time.sleep(ahead)
    producer.flush(60)


def _sample_memory(job: StreamProcess, peak: list[int], stop: threading.Event) -> None:
    while not stop.is_set():
        total = 0
        for proc in job.family():
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
        peak[0] = max(peak[0], total)
        stop.wait(0.5)


def main(rate: float = 10_000, seconds: float = 60, deadline_s: float | None = None) -> int:
    """Run the benchmark; 0 when it ran to the end, 1 when the job died or time ran out."""
    deadline_s = deadline_s if deadline_s is not None else 300 + 3 * seconds
    root = Path(tempfile.mkdtemp(prefix="cryptoviz-bench-"))
    cleanup = contextlib.ExitStack()  # what was started, stopped in reverse order
    try:
        return _run(cleanup, root, rate, seconds, deadline_s)
    except BenchmarkFailedError as failure:
        print(f"result                 {failure}", flush=True)
        return 1
    except KeyboardInterrupt as interrupt:
        print(f"result                 interrupted ({interrupt or 'Ctrl-C'})", flush=True)
        return 130
    finally:
        with uninterruptible():
            cleanup.close()
            for bulky in ("broker", "var"):  # ~1 GB; the job log stays for a look afterwards
                shutil.rmtree(root / bulky, ignore_errors=True)
            print(f"job log                {root / 'prices.log'}", flush=True)


def _run(
    cleanup: contextlib.ExitStack, root: Path, rate: float, seconds: float, deadline_s: float
) -> int:
    ports = {"port": free_port(), "controller_port": free_port()}
    broker = EmbeddedBroker(data_dir=root / "broker", run_dir=root / "run", **ports)
    cleanup.callback(broker.stop)  # before start: a start interrupted half-way is stopped too
    broker.start()
    settings = Settings(kafka_bootstrap_servers=broker.bootstrap_servers, var_dir=root / "var")
    ensure_topics(settings)
    env = dict(os.environ)
    env.update(
        {
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "CRYPTOVIZ_VAR_DIR": str(settings.var_dir),
            "STREAM_TRIGGER_SECONDS": os.environ.get("STREAM_TRIGGER_SECONDS", "0.5"),
            "STREAM_MAX_OFFSETS_PER_TRIGGER": os.environ.get(
                "STREAM_MAX_OFFSETS_PER_TRIGGER", "50000"
            ),
            "STREAM_PRICE_DEDUP_SECONDS": os.environ.get("STREAM_PRICE_DEDUP_SECONDS", "120"),
            "STREAM_REPORT_SECONDS": "10",
        }
    )
    job = StreamProcess("prices", env=env, log_path=root / "prices.log")
    table = Path(settings.lake_uri) / "price_ticks"
    producer = Producer(
        {"bootstrap.servers": broker.bootstrap_servers, "linger.ms": 5, "enable.idempotence": True}
    )
    peak = [0]
    stop = threading.Event()
    load_before = os.getloadavg()[0]
    t_start = time.perf_counter()
    cleanup.callback(job.stop)  # the driver, then its whole process group and tree
    job.start()
    cleanup.callback(stop.set)
    watch = Watch(job, root / "prices.log", deadline_s)
    sampler = threading.Thread(target=_sample_memory, args=(job, peak, stop), daemon=True)
    sampler.start()
    warmup = 5_000
    _produce(producer, settings.topic_prices, 0, warmup, 5_000, watch=watch)
    watch.wait_for(
        lambda: _landed(table) >= warmup, lambda: f"warming up ({_landed(table):,} landed)"
    )
    print(f"job started and warm in {time.perf_counter() - t_start:.1f}s", flush=True)

    total = int(rate * seconds)
    first_produce = datetime.now(UTC)
    t0 = time.perf_counter()
    _produce(producer, settings.topic_prices, warmup, total, rate, watch=watch)
    produce_s = time.perf_counter() - t0
    behind = warmup + total - _landed(table)  # in Kafka, not yet in the lake
    watch.wait_for(
        lambda: _landed(table) >= warmup + total,
        lambda: f"landing the ticks ({_landed(table) - warmup:,} of {total:,} landed)",
    )
    committed = _commit_times(table)
    with delta_reader.connect() as con:  # the committed data files, each with its commit time
        rows = con.execute(
            "select filename, epoch(kafka_timestamp) from read_parquet(?, filename = true) "
            "where kafka_timestamp >= ?",
            [[str(table / path) for path in committed], first_produce],
        ).fetchall()
    landed_at = [committed[Path(file).relative_to(table).as_posix()] for file, _ in rows]
    latencies = sorted(at - float(ts) for at, (_, ts) in zip(landed_at, rows, strict=True))
    landed_rate = len(rows) / (max(landed_at) - first_produce.timestamp())
    q = statistics.quantiles(latencies, n=100)
    print(f"target rate            {rate:,.0f} events/s for {seconds:.0f}s ({total:,} events)")
    print(f"produced               {total / produce_s:,.0f} events/s")
    print(f"landed (sustained)     {landed_rate:,.0f} events/s")
    print(f"behind when produced   {behind:,} events ({behind / rate:.1f} s of input)")
    print(f"latency produce->lake  p50 {q[49]:.2f}s  p95 {q[94]:.2f}s  max {latencies[-1]:.2f}s")
    print(f"peak memory (job tree) {peak[0] / 2**20:,.0f} MiB")
    print(f"cpu cores              {psutil.cpu_count()}")
    print(f"load average (1 min)   {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    kept_up = behind <= KEPT_UP_SECONDS * rate
    print(f"result                 {'kept up' if kept_up else 'did not keep up'}", flush=True)
    return 0


def _landed(table: Path) -> int:
    """Committed rows of the Delta table (what a reader sees)."""
    with delta_reader.connect() as con:
        if not delta_reader.table_exists(con, str(table)):
            return 0
        row = con.sql(f"select count(*) from delta_scan('{table}')").fetchone()
        return int(row[0]) if row else 0


def _commit_times(table: Path) -> dict[str, float]:
    """Data file (path relative to the table) -> when the Delta commit adding it was written."""
    out: dict[str, float] = {}
    for commit in (table / "_delta_log").glob("*.json"):
        at = commit.stat().st_mtime
        for line in commit.read_text().splitlines():
            if "add" in (action := json.loads(line)):
                out[action["add"]["path"]] = at
    return out


if __name__ == "__main__":
    interrupt_on_sigterm()  # SIGTERM cleans up like Ctrl-C
    args = [float(a) for a in sys.argv[1:4]]
    sys.exit(main(*args))
