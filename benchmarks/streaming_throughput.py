"""Sustained throughput and latency of broker -> Spark (prices job) -> lake on this machine.

Run: .venv/bin/python benchmarks/streaming_throughput.py [events_per_second] [seconds]
(defaults 10000 and 60). Starts its own embedded broker and the real prices job
(`python -m streaming.prices`: ticks, quarantine, bars and alerts) in a temporary directory,
warms it up, then produces contract-valid price ticks at the target rate and prints:

* produced and landed events/s (landed = price_ticks rows / time from first produce to
  last landed row), and whether the job kept up (offsets behind at the end);
* end-to-end latency p50/p95/max: Kafka record timestamp (set by the producer when it
  produces) to `landed_at` of the row in price_ticks (set just before the file is written);
* peak resident memory of the whole job (driver + JVM + Python workers).

The producer runs in this process and shares the 2 cores with Spark: figures are honest
for the whole pipeline on one machine, not Spark alone. The load average is printed too:
other work on the machine moves the figures a lot.

Figures on this machine (2 cores, 24 GB; trigger 0.5 s, maxOffsetsPerTrigger 50,000,
dedupe 120 s; 100 coins, 3 partitions):

  before (two Kafka reads per batch: ticks and bars queries; Spark dedupe in RocksDB;
  every read task waited 0.5 s for records past its range), 10,000/s for 60 s:
    landed 8,654/s, p50 6.80 s, p95 10.72 s, max 11.7 s, peak 4.2 GiB  (quiet machine)
  after (one query, no Spark state: dedupe and bars in foreachBatch with per-batch
  versioned state; reads ask for exactly the records due), 10,000/s for 60 s:
    landed 9,970/s, p50 0.49 s, p95 1.02 s, max 2.5 s, peak 2.8 GiB  (load 1.5 at start)
  after, 20,000/s for 60 s: does not keep up (landed 17,744/s, p50 1.5 s, p95 8.0 s):
    the ceiling here is ~18,000/s with the producer on the same two cores.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil
from confluent_kafka import Producer

from cryptoviz_assets.broker import EmbeddedBroker
from cryptoviz_assets.processes import free_port, wait_until
from cryptoviz_assets.settings import Settings
from cryptoviz_assets.topics import ensure_topics
from streaming.lake import Lake
from streaming.process import StreamProcess

COINS = [f"coin-{i:03d}" for i in range(100)]


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


def _produce(producer: Producer, topic: str, first: int, count: int, rate: float) -> None:
    """`count` ticks at `rate` per second, in 20 ms slices."""
    slice_s = 0.02
    per_slice = max(1, int(rate * slice_s))
    started = time.perf_counter()
    sent = 0
    while sent < count:
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


def main(rate: float = 10_000, seconds: float = 60) -> None:
    root = Path(tempfile.mkdtemp(prefix="cryptoviz-bench-"))
    ports = {"port": free_port(), "controller_port": free_port()}
    broker = EmbeddedBroker(data_dir=root / "broker", run_dir=root / "run", **ports)
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
    lake = Lake(settings.lake_uri)
    producer = Producer(
        {"bootstrap.servers": broker.bootstrap_servers, "linger.ms": 5, "enable.idempotence": True}
    )
    peak = [0]
    stop = threading.Event()
    load_before = os.getloadavg()[0]
    try:
        t_start = time.perf_counter()
        job.start()
        sampler = threading.Thread(target=_sample_memory, args=(job, peak, stop), daemon=True)
        sampler.start()
        warmup = 5_000
        _produce(producer, settings.topic_prices, 0, warmup, 5_000)
        wait_until(lambda: _landed(lake) >= warmup, 300, 1.0, "warm-up ticks")
        print(f"job started and warm in {time.perf_counter() - t_start:.1f}s", flush=True)

        total = int(rate * seconds)
        first_produce = datetime.now(UTC)
        t0 = time.perf_counter()
        _produce(producer, settings.topic_prices, warmup, total, rate)
        produce_s = time.perf_counter() - t0
        wait_until(lambda: _landed(lake) >= warmup + total, 600, 1.0, "every tick to land")
        ticks = lake.read_table("price_ticks").select(["kafka_timestamp", "landed_at"]).to_pylist()
    finally:
        stop.set()
        job.stop()
        broker.stop()
        for bulky in ("broker", "var"):  # ~1 GB; the job log stays for a look afterwards
            shutil.rmtree(root / bulky, ignore_errors=True)

    measured = [t for t in ticks if t["kafka_timestamp"] >= first_produce]
    latencies = sorted((t["landed_at"] - t["kafka_timestamp"]).total_seconds() for t in measured)
    last_landed = max(t["landed_at"] for t in measured)
    landed_rate = len(measured) / (last_landed - first_produce).total_seconds()
    q = statistics.quantiles(latencies, n=100)
    print(f"target rate            {rate:,.0f} events/s for {seconds:.0f}s ({total:,} events)")
    print(f"produced               {total / produce_s:,.0f} events/s")
    print(f"landed (sustained)     {landed_rate:,.0f} events/s")
    print(f"latency produce->lake  p50 {q[49]:.2f}s  p95 {q[94]:.2f}s  max {latencies[-1]:.2f}s")
    print(f"peak memory (job tree) {peak[0] / 2**20:,.0f} MiB")
    print(f"cpu cores              {psutil.cpu_count()}")
    print(f"load average (1 min)   {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    print(f"job log                {root / 'prices.log'}")


def _landed(lake: Lake) -> int:
    try:
        return lake.count_rows("price_ticks")
    except OSError:  # a file renamed away while listing
        return 0


if __name__ == "__main__":
    args = [float(a) for a in sys.argv[1:3]]
    main(*args)
