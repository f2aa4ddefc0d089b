"""The local services the project runs: the embedded broker and `dagster dev`.

`make demo`, `make stop` and the tests go through these functions, so there is one way
to start each service and one way to stop everything.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import urllib.request
from pathlib import Path

from cryptoviz_assets.kafka.broker import EmbeddedBroker, broker_answers
from cryptoviz_assets.kafka.topics import TopicState, ensure_topics
from cryptoviz_assets.runtime.processes import Daemon, port_in_use, wait_until
from cryptoviz_assets.settings import PROJECT_ROOT, Settings

DAGSTER_DAEMON_NAME = "dagster-dev"
REPLAY_DAEMON_NAME = "replay-server"
# Stopped first to last: Dagster's runs still talk to the broker while they wind down.
STOP_ORDER = [DAGSTER_DAEMON_NAME, REPLAY_DAEMON_NAME, "broker"]


def prepare_dagster_home(settings: Settings) -> Path:
    """DAGSTER_HOME lives under var/; the project's dagster.yaml is its instance config."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    return home


def dagster_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env["DAGSTER_HOME"] = str(prepare_dagster_home(settings))
    env.setdefault("DO_NOT_TRACK", "1")  # dbt and other tools: no telemetry
    return env


def start_broker(settings: Settings) -> list[TopicState]:
    """Start the embedded broker unless an external cluster is configured; create topics."""
    if settings.uses_embedded_broker:
        EmbeddedBroker.from_settings(settings).start()
    elif not broker_answers(settings.bootstrap_servers, settings.kafka_client_config()):
        raise RuntimeError(
            f"Kafka at {settings.bootstrap_servers} does not answer; check KAFKA_* settings"
        )
    return ensure_topics(settings)


def start_dagster_dev(settings: Settings, timeout: float = 180.0) -> int:
    """Start `dagster dev` on 127.0.0.1 in the background and wait until the UI answers."""
    daemon = Daemon(DAGSTER_DAEMON_NAME, settings.run_dir)
    if (proc := daemon.process()) is not None:
        return proc.pid
    if port_in_use(settings.dagster_port):
        raise RuntimeError(
            f"port {settings.dagster_port} is taken; set DAGSTER_PORT or stop it (make stop)"
        )
    argv = [
        str(Path(sys.executable).with_name("dagster")),
        "dev",
        "--workspace",
        str(PROJECT_ROOT / "workspace.yaml"),
        "--host",
        "127.0.0.1",
        "--port",
        str(settings.dagster_port),
    ]
    # `dagster dev` shuts its webserver and daemon down cleanly on SIGINT.
    pid = daemon.start(argv, env=dagster_env(settings), cwd=PROJECT_ROOT, stop_signal=signal.SIGINT)
    url = f"http://127.0.0.1:{settings.dagster_port}/server_info"
    wait_until(lambda: http_ok(url) and daemon.is_running(), timeout, 1.0, "dagster dev")
    return pid


def start_replay_server(settings: Settings, history_ticks: int = 0, timeout: float = 30.0) -> int:
    """Start the replay server (SOURCE_MODE=replay) on 127.0.0.1:REPLAY_PORT and wait for it.

    `history_ticks` starts its market that many ticks in the past (see replay/clock.py).
    """
    daemon = Daemon(REPLAY_DAEMON_NAME, settings.run_dir)
    if (proc := daemon.process()) is not None:
        return proc.pid
    url = f"{settings.replay_url}/"
    if port_in_use(settings.replay_port):
        raise RuntimeError(f"port {settings.replay_port} is taken; set REPLAY_PORT or stop it")
    argv = [sys.executable, "-m", "cryptoviz_assets.replay", "--port", str(settings.replay_port)]
    argv += ["--history-ticks", str(history_ticks)]
    pid = daemon.start(argv, cwd=PROJECT_ROOT, stop_signal=signal.SIGTERM)
    wait_until(lambda: http_ok(url) and daemon.is_running(), timeout, 0.2, "replay server")
    return pid


def stop_all(settings: Settings) -> list[str]:
    """Stop every process the project started (by PID file); return the names stopped."""
    stopped = []
    known = set(STOP_ORDER)
    others = sorted(p.stem for p in settings.run_dir.glob("*.pid") if p.stem not in known)
    for name in [*STOP_ORDER, *others]:
        if Daemon(name, settings.run_dir).stop(timeout=60.0):
            stopped.append(name)
    return stopped


def http_ok(url: str) -> bool:
    """Does `url` answer 200 right now? (readiness of the HTTP services we start)"""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False
