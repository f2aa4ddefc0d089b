"""`cryptoviz demo` starts the broker and `dagster dev`; `cryptoviz stop` leaves nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import psutil
import pytest

from tests.conftest import free_port

LOCATION_QUERY = """
{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus
    locationOrLoadError { __typename ... on PythonError { message } }
} } } }
"""
RUNS_QUERY = "{ runsOrError { ... on Runs { results { status tags { key value } } } } }"


def graphql(port: int, query: str) -> dict:  # type: ignore[type-arg]
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body: dict = json.load(response)  # type: ignore[type-arg]
    assert "errors" not in body, body
    return body["data"]


def project_processes(var: Path) -> list[psutil.Process]:
    """Processes whose command line mentions this test's private var directory or port."""
    found = []
    for proc in psutil.process_iter(["cmdline", "environ"]):
        try:
            text = " ".join(proc.info["cmdline"] or []) + str(proc.info["environ"] or {})
        except psutil.Error:
            continue
        if str(var) in text and proc.pid != os.getpid():
            found.append(proc)
    return found


@pytest.mark.slow
def test_demo_starts_broker_and_dagster_dev_then_stop_leaves_nothing(tmp_path: Path) -> None:
    var = tmp_path / "var"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "TOPIC_"))}
    env |= {
        "CRYPTOVIZ_VAR_DIR": str(var),
        "EMBEDDED_KAFKA_PORT": str(free_port()),
        "DAGSTER_PORT": str(port),
        "REPLAY_PORT": str(free_port()),
    }
    cli = [sys.executable, "-m", "cryptoviz_assets.cli"]
    try:
        demo = subprocess.run(
            [*cli, "demo"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=540
        )
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert f"Dagster UI:  http://127.0.0.1:{port}" in demo.stdout
        assert "Stop it all: make stop" in demo.stdout

        entries = graphql(port, LOCATION_QUERY)["workspaceOrError"]["locationEntries"]
        assert [(e["name"], e["loadStatus"]) for e in entries] == [("cryptoviz", "LOADED")]
        assert entries[0]["locationOrLoadError"]["__typename"] == "RepositoryLocation"

        # The demo pipeline ran on the same instance the UI shows.
        runs = graphql(port, RUNS_QUERY)["runsOrError"]["results"]
        # Schedules and sensors start runs of their own once dagster dev is up (queued or
        # in progress when we look); the demo's own runs are the ones without their tags.
        launched = ("dagster/schedule_name", "dagster/sensor_name")
        demo_runs = [r for r in runs if not {t["key"] for t in r["tags"]} & set(launched)]
        assert demo_runs
        assert all(run["status"] == "SUCCESS" for run in demo_runs)
        assert (var / "dagster" / "dagster.yaml").is_file()
        assert (var / "run" / "dagster-dev.pid").is_file()
        assert (var / "run" / "broker.pid").is_file()
        assert (var / "run" / "replay-server.pid").is_file()
    finally:
        stop = subprocess.run([*cli, "stop"], env=env, capture_output=True, text=True, timeout=180)
    assert stop.returncode == 0, stop.stderr
    assert stop.stdout.strip() == "stopped: dagster-dev, replay-server, broker"
    leftovers = [p for p in project_processes(var) if p.is_running() and p.status() != "zombie"]
    assert leftovers == []
