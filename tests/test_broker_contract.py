"""Broker contract: what the project relies on from the embedded Apache Kafka broker.

Every test runs real clients (confluent-kafka) against a real Kafka (KRaft) process and asserts
exact offsets and exact bytes, so a broker upgrade that regresses on any of these fails here
first. Topic and group names are unique per test; every wait is bounded.
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import (
    TIMESTAMP_CREATE_TIME,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic, OffsetSpec

from cryptoviz_assets.kafka.broker import EmbeddedBroker
from cryptoviz_assets.kafka.topics import usable
from tests.conftest import start_broker

pytestmark = pytest.mark.timeout(120)

TIMEOUT = 15.0
OFFSET_UNSET = -1001  # librdkafka's OFFSET_INVALID: the group never committed this partition
Headers = list[tuple[str, str | bytes | None]]


# --------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class Record:
    key: bytes | None
    value: bytes
    headers: Headers = field(default_factory=list)
    partition: int | None = None
    timestamp: int | None = None


@dataclass(frozen=True)
class Stored:
    """A record as the broker reports it (delivery report or consumed message)."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers

    @property
    def data(self) -> tuple[int, int, bytes | None, bytes | None]:
        """Everything but headers (delivery reports do not carry them)."""
        return (self.partition, self.offset, self.key, self.value)

    @classmethod
    def of(cls, msg: Message) -> Stored:
        partition, offset = msg.partition(), msg.offset()
        assert partition is not None
        assert offset is not None
        headers = msg.headers() or []
        assert isinstance(headers, list)
        return cls(partition, offset, msg.key(), msg.value(), headers)


def location(s: Stored) -> tuple[int, int]:
    return (s.partition, s.offset)


def unique(prefix: str) -> str:
    return f"contract-{prefix}-{uuid.uuid4().hex[:12]}"


def create_topic(bootstrap: str, partitions: int, prefix: str) -> str:
    name = unique(prefix)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    futures[name].result(timeout=TIMEOUT)
    await_partitions(admin, name, partitions)
    return name


def await_partitions(admin: AdminClient, name: str, partitions: int) -> None:
    """Wait until the broker's metadata shows partitions 0..n-1 of `name`, each with a leader.

    The controller acknowledges a creation before the broker's metadata has it (KRaft
    propagates it a moment later; a broker just started once showed no partitions yet), so
    wait for it as `ensure_topics` does, within TIMEOUT.
    """
    deadline = time.monotonic() + TIMEOUT
    while True:
        topic = admin.list_topics(name, timeout=TIMEOUT).topics.get(name)
        shown = sorted(topic.partitions) if topic is not None else []
        if usable(topic) and shown == list(range(partitions)):
            return
        assert time.monotonic() < deadline, f"{name} has partitions {shown}, not all led"
        time.sleep(0.1)


def producer(bootstrap: str, **overrides: Any) -> Producer:
    """Configured like the project's KafkaResource.producer: idempotent, acks=all."""
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
    }
    config.update(overrides)
    return Producer(config)


def produce_all(prod: Producer, topic: str, records: Iterable[Record]) -> list[Stored]:
    """Produce, flush, and return the delivery reports in delivery order (all must succeed)."""
    reports: list[tuple[KafkaError | None, Message]] = []

    def on_delivery(err: KafkaError | None, msg: Message) -> None:
        reports.append((err, msg))

    sent = 0
    for record in records:
        kwargs: dict[str, Any] = {"key": record.key, "value": record.value}
        if record.headers:
            kwargs["headers"] = record.headers
        if record.partition is not None:
            kwargs["partition"] = record.partition
        if record.timestamp is not None:
            kwargs["timestamp"] = record.timestamp
        prod.produce(topic, on_delivery=on_delivery, **kwargs)
        sent += 1
        prod.poll(0)
    assert prod.flush(TIMEOUT) == 0, "records still queued after flush"
    errors = [err for err, _ in reports if err is not None]
    assert errors == []
    assert len(reports) == sent
    return [Stored.of(msg) for _, msg in reports]


def consumer(bootstrap: str, group: str | None = None, **overrides: Any) -> Consumer:
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "group.id": group or unique("reader"),
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
    }
    config.update(overrides)
    return Consumer(config)


def consume_n(cons: Consumer, n: int, timeout: float = TIMEOUT) -> list[Message]:
    """Exactly `n` messages (one poll at a time, so never more), or fail after `timeout`."""
    messages: list[Message] = []
    deadline = time.monotonic() + timeout
    while len(messages) < n:
        if time.monotonic() > deadline:
            raise AssertionError(f"got {len(messages)} of {n} messages in {timeout:.0f}s")
        msg = cons.poll(0.2)
        if msg is None:
            continue
        if msg.error() is not None:
            raise KafkaException(msg.error())
        messages.append(msg)
    return messages


def assert_nothing_more(cons: Consumer, seconds: float = 1.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        msg = cons.poll(0.1)
        assert msg is None, f"unexpected extra message: {msg.error() or Stored.of(msg)}"


def read_all(bootstrap: str, topic: str, partitions: int, total: int) -> list[Stored]:
    """Every record of `topic` via assign() from the beginning (no group membership)."""
    cons = consumer(bootstrap)
    try:
        cons.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        stored = [Stored.of(m) for m in consume_n(cons, total)]
        assert_nothing_more(cons, 0.5)
        return stored
    finally:
        cons.close()


def by_partition(stored: Iterable[Stored]) -> dict[int, list[Stored]]:
    grouped: dict[int, list[Stored]] = defaultdict(list)
    for s in stored:
        grouped[s.partition].append(s)
    return {p: sorted(rs, key=lambda s: s.offset) for p, rs in grouped.items()}


def committed(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, int]:
    """The group's committed offsets, read by a client that does not join the group."""
    cons = consumer(bootstrap, group)
    try:
        tps = cons.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=TIMEOUT)
        assert all(tp.error is None for tp in tps)
        return {tp.partition: tp.offset for tp in tps}
    finally:
        cons.close()


def watermarks(bootstrap: str, topic: str, partitions: int) -> dict[int, tuple[int, int]]:
    """Partition -> (low, high) watermark, asked of the broker (not a cached value)."""
    cons = consumer(bootstrap)
    try:
        marks: dict[int, tuple[int, int]] = {}
        for p in range(partitions):
            found = cons.get_watermark_offsets(TopicPartition(topic, p), timeout=TIMEOUT)
            assert found is not None, f"no watermarks for partition {p}"
            low, high = found
            marks[p] = (low, high)
        return marks
    finally:
        cons.close()


def list_offsets(bootstrap: str, topic: str, partitions: int, spec: OffsetSpec) -> dict[int, int]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.list_offsets(
        {TopicPartition(topic, p): spec for p in range(partitions)}, request_timeout=TIMEOUT
    )
    return {tp.partition: f.result(timeout=TIMEOUT).offset for tp, f in futures.items()}


def keyed_records(keys: list[bytes], per_key: int, batch: int) -> list[Record]:
    """Interleaved keys; values carry every byte value so byte-exactness is checked."""
    return [
        Record(
            key=key,
            value=key + b"|" + str((batch, seq)).encode() + b"|" + bytes(range(256)),
            headers=[("source", b"contract"), ("seq", str(seq).encode()), ("bin", b"\x00\xff")],
        )
        for seq in range(per_key)
        for key in keys
    ]


# --------------------------------------------------------------------------- tests


def test_keyed_produce_and_consume_across_partitions(broker: EmbeddedBroker) -> None:
    bootstrap = broker.bootstrap_servers
    topic = create_topic(bootstrap, 4, "keyed")
    keys = [f"coin-{i}".encode() for i in range(10)]
    prod = producer(bootstrap)
    batch1 = keyed_records(keys, per_key=5, batch=1)
    batch2 = keyed_records(keys, per_key=5, batch=2)
    delivered = produce_all(prod, topic, batch1) + produce_all(prod, topic, batch2)

    # Every record of one key is in one partition, the same in both batches.
    partition_of: dict[bytes, set[int]] = defaultdict(set)
    for s in delivered:
        assert s.key is not None
        partition_of[s.key].add(s.partition)
    assert all(len(ps) == 1 for ps in partition_of.values()), partition_of
    assert len({next(iter(ps)) for ps in partition_of.values()}) > 1, "only one partition used"

    # Offsets in each partition are dense from 0.
    for p, rs in by_partition(delivered).items():
        assert [s.offset for s in rs] == list(range(len(rs))), p

    consumed = read_all(bootstrap, topic, 4, len(delivered))
    # The broker returns exactly what it acknowledged: same partition, offset, key, bytes.
    assert sorted(s.data for s in consumed) == sorted(s.data for s in delivered)
    sent_by_key: dict[bytes | None, list[tuple[bytes, Headers]]] = defaultdict(list)
    for r in batch1 + batch2:
        sent_by_key[r.key].append((r.value, r.headers))
    got_by_key: dict[bytes | None, list[tuple[bytes | None, Headers]]] = defaultdict(list)
    for s in consumed:  # consume order: per-key order must be the produce order
        got_by_key[s.key].append((s.value, s.headers))
    assert got_by_key == sent_by_key


def test_group_commit_and_exact_resume(broker: EmbeddedBroker) -> None:
    bootstrap = broker.bootstrap_servers
    topic = create_topic(bootstrap, 3, "group")
    per_partition, total, first = 10, 30, 13
    records = [
        Record(key=None, value=f"p{p}-{i}".encode(), partition=p)
        for i in range(per_partition)
        for p in range(3)
    ]
    produce_all(producer(bootstrap), topic, records)
    group, other_group = unique("group"), unique("group")
    assert committed(bootstrap, group, topic, 3) == dict.fromkeys(range(3), OFFSET_UNSET)

    # First consumer: read `first` records, commit synchronously, close (leaves the group).
    cons = consumer(bootstrap, group)
    cons.subscribe([topic])
    part1 = [Stored.of(m) for m in consume_n(cons, first)]
    commits = cons.commit(asynchronous=False)
    cons.close()
    seen = by_partition(part1)
    for rs in seen.values():  # consumed a prefix of each partition
        assert [s.offset for s in rs] == list(range(len(rs)))
    expected = {p: len(seen[p]) if p in seen else OFFSET_UNSET for p in range(3)}
    assert commits is not None
    assert {tp.partition: tp.offset for tp in commits if tp.offset >= 0} == {
        p: o for p, o in expected.items() if o >= 0
    }
    assert committed(bootstrap, group, topic, 3) == expected

    # A new consumer in the same group resumes exactly where the first one committed.
    cons = consumer(bootstrap, group)
    cons.subscribe([topic])
    part2 = [Stored.of(m) for m in consume_n(cons, total - first)]
    assert_nothing_more(cons)
    cons.commit(asynchronous=False)
    cons.close()
    resumed = by_partition(part2)
    assert {p: [s.offset for s in resumed.get(p, [])] for p in range(3)} == {
        p: list(range(max(expected[p], 0), per_partition)) for p in range(3)
    }
    values = sorted(s.value or b"" for s in part1 + part2)
    assert values == sorted(r.value for r in records)  # no loss, no duplicate
    assert committed(bootstrap, group, topic, 3) == dict.fromkeys(range(3), per_partition)

    # Another group is independent: it starts from the beginning and commits on its own.
    cons = consumer(bootstrap, other_group)
    cons.subscribe([topic])
    everything = [Stored.of(m) for m in consume_n(cons, total)]
    assert_nothing_more(cons, 0.5)
    cons.commit(
        offsets=[TopicPartition(topic, p, o) for p, o in {0: 4, 1: 0, 2: 7}.items()],
        asynchronous=False,
    )
    cons.close()
    assert sorted(s.value or b"" for s in everything) == sorted(r.value for r in records)
    assert committed(bootstrap, other_group, topic, 3) == {0: 4, 1: 0, 2: 7}
    assert committed(bootstrap, group, topic, 3) == dict.fromkeys(range(3), per_partition)


def test_end_offsets_exact_after_batched_produce(broker: EmbeddedBroker) -> None:
    bootstrap = broker.bootstrap_servers
    topic = create_topic(bootstrap, 3, "watermarks")
    prod = producer(bootstrap, **{"linger.ms": 50, "batch.num.messages": 7})
    batches = [(0, 7), (2, 11), (0, 5), (2, 1), (0, 100)]  # partition 1 stays empty
    expected = {0: 0, 1: 0, 2: 0}
    for n, (p, size) in enumerate(batches):
        records = [Record(None, f"{n}-{i}".encode(), partition=p) for i in range(size)]
        delivered = produce_all(prod, topic, records)
        assert [s.offset for s in delivered] == list(range(expected[p], expected[p] + size))
        expected[p] += size
        assert watermarks(bootstrap, topic, 3) == {q: (0, o) for q, o in expected.items()}

    assert expected == {0: 112, 1: 0, 2: 12}
    assert list_offsets(bootstrap, topic, 3, OffsetSpec.latest()) == expected
    assert list_offsets(bootstrap, topic, 3, OffsetSpec.earliest()) == {0: 0, 1: 0, 2: 0}

    # Range reads as the Spark source does them: assign at an offset, read [start, end).
    cons = consumer(bootstrap)
    try:
        cons.assign([TopicPartition(topic, 0, 10), TopicPartition(topic, 2, 11)])
        got = by_partition(Stored.of(m) for m in consume_n(cons, 102 + 1))
        assert_nothing_more(cons, 0.5)
    finally:
        cons.close()
    assert [s.offset for s in got[0]] == list(range(10, 112))
    assert [s.value for s in got[0][:3]] == [b"2-3", b"2-4", b"4-0"]
    assert [(s.offset, s.value) for s in got[2]] == [(11, b"3-0")]


@pytest.mark.parametrize("how", ["sigterm", "kill-9"])
def test_restart_keeps_records_and_committed_offsets(tmp_path: Path, how: str) -> None:
    """Every acknowledged record (acks=all, idempotent) and every committed offset survives
    a restart, whether the broker shut down cleanly or was killed right after the acks."""
    first = start_broker(tmp_path)
    restarted: EmbeddedBroker | None = None
    try:
        bootstrap = first.bootstrap_servers
        topic = create_topic(bootstrap, 3, "restart")
        keys = [f"k{i}".encode() for i in range(6)]
        delivered = produce_all(producer(bootstrap), topic, keyed_records(keys, 7, batch=0))
        ends = {p: len(rs) for p, rs in by_partition(delivered).items()}
        group = unique("group")
        cons = consumer(bootstrap, group)
        cons.subscribe([topic])
        consume_n(cons, 20)
        cons.commit(asynchronous=False)
        cons.close()
        before = committed(bootstrap, group, topic, 3)
        assert sum(o for o in before.values() if o > 0) == 20
        marks = watermarks(bootstrap, topic, 3)
        assert marks == {p: (0, ends.get(p, 0)) for p in range(3)}
        snapshot = read_all(bootstrap, topic, 3, len(delivered))
        assert sorted(s.data for s in snapshot) == sorted(s.data for s in delivered)
        assert all(s.headers for s in snapshot)
        # Records acknowledged a moment ago, then straight to the stop or the crash.
        last = produce_all(producer(bootstrap), topic, keyed_records(keys, 1, batch=1))
        delivered += last
        ends = {p: len(rs) for p, rs in by_partition(delivered).items()}
        marks = {p: (0, ends.get(p, 0)) for p in range(3)}
        snapshot = read_all(bootstrap, topic, 3, len(delivered))

        if how == "kill-9":
            first.kill()
        else:
            assert first.stop(), "broker was not running"
        assert not first.daemon.is_running()
        restarted = dataclasses.replace(first)
        restarted.start()

        assert watermarks(bootstrap, topic, 3) == marks
        after = read_all(bootstrap, topic, 3, len(delivered))
        assert sorted(after, key=location) == sorted(snapshot, key=location)  # with headers
        assert committed(bootstrap, group, topic, 3) == before

        cons = consumer(bootstrap, group)
        cons.subscribe([topic])
        rest = [Stored.of(m) for m in consume_n(cons, len(delivered) - 20)]
        assert_nothing_more(cons)
        cons.close()
        resumed = by_partition(rest)
        assert {p: [s.offset for s in resumed.get(p, [])] for p in range(3)} == {
            p: list(range(max(before[p], 0), ends.get(p, 0))) for p in range(3)
        }

        # New records continue the old offsets instead of starting again at 0.
        more = produce_all(producer(bootstrap), topic, [Record(None, b"after", partition=0)])
        assert [(s.partition, s.offset) for s in more] == [(0, ends.get(0, 0))]
    finally:
        if restarted is not None:
            restarted.stop()
        first.stop()


def test_idempotent_producer_no_duplicates_exact_order(broker: EmbeddedBroker) -> None:
    bootstrap = broker.bootstrap_servers
    topic = create_topic(bootstrap, 3, "idempotent")
    fatal: list[KafkaError] = []
    stats: list[dict[str, Any]] = []
    prod = producer(
        bootstrap,
        **{
            "message.send.max.retries": 10,
            "retry.backoff.ms": 50,
            "max.in.flight.requests.per.connection": 5,
            "batch.num.messages": 50,  # many in-flight batches per partition
            "statistics.interval.ms": 100,
            "error_cb": lambda err: fatal.append(err) if err.fatal() else None,
            "stats_cb": lambda raw: stats.append(json.loads(raw)),
        },
    )
    rounds, per_round = 2, 1500
    delivered: list[Stored] = []
    for r in range(rounds):
        records = [
            Record(None, f"{i % 3}:{r}:{i}".encode(), partition=i % 3) for i in range(per_round)
        ]
        delivered += produce_all(prod, topic, records)
    seen = len(stats)
    deadline = time.monotonic() + 5
    while len(stats) < seen + 2 and time.monotonic() < deadline:
        prod.poll(0.1)
    assert fatal == []
    assert len(delivered) == rounds * per_round

    # librdkafka got a producer id from the broker (InitProducerId) and kept it: still the
    # first epoch, so no sequence error ever made it reset (a PID bump means possible dups).
    eos = stats[-1]["eos"]
    assert eos["idemp_state"] == "Assigned", eos
    assert eos["producer_id"] >= 0
    assert eos["producer_epoch"] == 0
    assert eos["epoch_cnt"] == 1

    expected = {
        p: [f"{p}:{r}:{i}".encode() for r in range(rounds) for i in range(p, per_round, 3)]
        for p in range(3)
    }
    for p, rs in by_partition(delivered).items():
        assert [s.offset for s in rs] == list(range(len(expected[p])))
        assert [s.value for s in rs] == expected[p]
    consumed = by_partition(read_all(bootstrap, topic, 3, len(delivered)))
    assert {p: [s.value for s in rs] for p, rs in consumed.items()} == expected
    assert watermarks(bootstrap, topic, 3) == {p: (0, 1000) for p in range(3)}


def test_topic_admin_create_is_idempotent_and_partitions_grow(broker: EmbeddedBroker) -> None:
    bootstrap = broker.bootstrap_servers
    topic = create_topic(bootstrap, 2, "admin")
    admin = AdminClient({"bootstrap.servers": bootstrap})
    produce_all(producer(bootstrap), topic, [Record(None, b"p0", partition=0)])

    again = admin.create_topics([NewTopic(topic, num_partitions=5, replication_factor=1)])
    with pytest.raises(KafkaException) as excinfo:
        again[topic].result(timeout=TIMEOUT)
    assert excinfo.value.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS
    assert len(admin.list_topics(topic, timeout=TIMEOUT).topics[topic].partitions) == 2

    admin.create_partitions([NewPartitions(topic, 4)])[topic].result(timeout=TIMEOUT)
    await_partitions(admin, topic, 4)
    delivered = produce_all(producer(bootstrap), topic, [Record(None, b"p3", partition=3)])
    assert [(s.partition, s.offset) for s in delivered] == [(3, 0)]
    assert watermarks(bootstrap, topic, 4) == {0: (0, 1), 1: (0, 0), 2: (0, 0), 3: (0, 1)}


def test_record_timestamps_and_offsets_for_times(broker: EmbeddedBroker) -> None:
    bootstrap = broker.bootstrap_servers
    topic = create_topic(bootstrap, 1, "times")
    t0 = 1_700_000_000_000
    stamps = [t0 + i * 1000 for i in range(5)]
    records = [
        Record(None, f"t{i}".encode(), partition=0, timestamp=ts) for i, ts in enumerate(stamps)
    ]
    produce_all(producer(bootstrap), topic, records)

    cons = consumer(bootstrap)
    try:
        cons.assign([TopicPartition(topic, 0, 0)])
        got = consume_n(cons, 5)
        assert [m.timestamp() for m in got] == [(TIMESTAMP_CREATE_TIME, ts) for ts in stamps]
        # Earliest offset whose timestamp is >= the query; -1 (end) when none is.
        queries = {t0 - 1: 0, t0: 0, t0 + 1500: 2, stamps[-1]: 4, stamps[-1] + 1: -1}
        found = {  # one query per call: a request may name a partition only once
            ts: cons.offsets_for_times([TopicPartition(topic, 0, ts)], timeout=TIMEOUT)[0].offset
            for ts in queries
        }
    finally:
        cons.close()
    assert found == queries
    for ts, offset in queries.items():
        assert list_offsets(bootstrap, topic, 1, OffsetSpec.for_timestamp(ts)) == {0: offset}
