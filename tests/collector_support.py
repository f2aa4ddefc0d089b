"""Helpers shared by the collector tests: a fault-injecting HTTP server, topic reads."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from cryptoviz_assets.settings import Settings


@dataclass
class Reply:
    """One scripted HTTP answer. `body` None with `stream` set: chunks sent with delays."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # before the headers: a slow server
    chunked: bool = False  # no Content-Length; the body in 64 KiB chunks


class FaultServer:
    """A loopback HTTP server answering GETs from a script: per path, a list of replies
    (the last one repeats). Records every request it saw, with the time it arrived."""

    def __init__(self) -> None:
        self.script: dict[str, list[Reply]] = {}
        self.seen: list[tuple[float, str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                server.seen.append((time.monotonic(), self.path, dict(self.headers.items())))
                replies = server.script.get(path) or [Reply(404, b'{"error": "unscripted"}')]
                reply = replies.pop(0) if len(replies) > 1 else replies[0]
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    if reply.chunked:
                        self.send_header("Transfer-Encoding", "chunked")
                        self.end_headers()
                        for start in range(0, len(reply.body), 65536):
                            chunk = reply.body[start : start + 65536]
                            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                        self.wfile.write(b"0\r\n\r\n")
                    else:
                        self.send_header("Content-Length", str(len(reply.body)))
                        self.end_headers()
                        self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (size limit or timeout): that is the point

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def on(self, path: str, *replies: Reply) -> FaultServer:
        self.script[path] = list(replies)
        return self

    def hits(self, path: str) -> list[float]:
        return [at for at, seen, _ in self.seen if seen.split("?")[0] == path]

    def __enter__(self) -> FaultServer:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def strict_json(raw: bytes) -> Any:
    """JSON as strict readers take it: NaN and Infinity (Python's json.loads default) refused."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"non-standard JSON constant {constant} in {raw[:200]!r}")

    return json.loads(raw, parse_constant=refuse)


def read_topic(settings: Settings, topic: str, timeout: float = 15.0) -> list[dict[str, Any]]:
    """Every record of `topic` from the beginning: key, value (strict JSON) and headers."""
    consumer = Consumer(
        {
            **settings.kafka_client_config(),
            "group.id": f"test-reader-{topic}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    records: list[dict[str, Any]] = []
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in partitions}  # fmt: skip
        wanted = {p: end for p, end in ends.items() if end > 0}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in wanted])
        positions = dict.fromkeys(wanted, 0)
        deadline = time.monotonic() + timeout
        while any(positions[p] < wanted[p] for p in wanted) and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            positions[message.partition()] = message.offset() + 1
            records.append(
                {
                    "key": (message.key() or b"").decode(),
                    "value": strict_json(message.value()),
                    "headers": dict(message.headers() or []),
                    "partition": message.partition(),
                }
            )
    finally:
        consumer.close()
    return records


def fast_retries(monkeypatch: Any, **extra: str) -> None:
    """Short timeouts and waits, so fault tests take seconds."""
    values = {
        "HTTP_TIMEOUT_SECONDS": "0.5",
        "HTTP_MAX_ATTEMPTS": "3",
        "RETRY_INITIAL_WAIT_SECONDS": "0.05",
        "RETRY_MAX_WAIT_SECONDS": "2",
        **extra,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
