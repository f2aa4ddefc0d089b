"""The offline demo end to end, as a person runs it: `make demo-once`, then the UI, then stop.

One module-scoped run of `cryptoviz demo --no-ui` (what `make demo-once` runs) on a private
var/ with its own ports: replayed APIs -> collectors -> broker -> Spark -> lake -> dbt ->
checks -> snapshot. The tests then read its summary and its data, open the Dagster UI and
the dbt docs in a real browser while the demo's services run (what `make demo` adds), and
finally stop everything and look for leftovers.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from cryptoviz_assets.runtime import services
from cryptoviz_assets.runtime.processes import free_port, terminate_tree, wait_until
from cryptoviz_assets.settings import Settings
from tests.browser import browser, chromium_available, dagster_asset_graph, dagster_asset_page
from tests.browser import dbt_docs as dbt_docs_page
from tests.contracts import lake_disagreements

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]  # the demo alone takes ~5 min
CLI = [sys.executable, "-m", "cryptoviz_assets.cli.commands"]
LAKE_TABLES_WITH_DATA = [
    "price_ticks",
    "price_bars",
    "exchange_bars_1m",
    "news_articles",
    "market_sentiment",
]
QUARANTINES = [
    "price_quarantine",
    "exchange_bars_quarantine",
    "news_quarantine",
    "market_sentiment_quarantine",
]
LOCATION_QUERY = """
{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus
    locationOrLoadError { __typename ... on PythonError { message } }
} } } }
"""


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


@dataclass
class Demo:
    env: dict[str, str]
    var: Path
    output: str


def cli(demo: Demo, *args: str, timeout: float = 120) -> str:
    result = subprocess.run(
        [*CLI, *args], env=demo.env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    root = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "TOPIC_"))}
    env |= {
        "CRYPTOVIZ_VAR_DIR": str(root / "var"),
        "EMBEDDED_KAFKA_PORT": str(free_port()),
        "EMBEDDED_KAFKA_CONTROLLER_PORT": str(free_port()),
        "REPLAY_PORT": str(free_port()),
        "DAGSTER_PORT": str(free_port()),
    }
    for name in ("LAKE_ROOT", "DUCKDB_PATH", "WAREHOUSE_BUILD_PATH", "CHECKPOINT_ROOT"):
        env.pop(name, None)
    result = subprocess.run(
        [*CLI, "demo", "--no-ui"], env=env, cwd=root, capture_output=True, text=True, timeout=1500
    )
    (root / "demo-output.txt").write_text(result.stdout + result.stderr)  # for a look afterwards
    run = Demo(env, root / "var", result.stdout)
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        yield run
    finally:
        subprocess.run([*CLI, "stop"], env=env, capture_output=True, timeout=300)


def summary_rows(output: str, section: str) -> dict[str, int]:
    """`name  N rows` lines of one summary section."""
    block = output.split(section, 1)[1].split("\n\n", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^\s+(\S+)\s+(\d+) rows$", block, re.M)}


def test_headless_demo_runs_everything_and_summarises(demo: Demo) -> None:
    out = demo.output
    checks = re.search(r"^Checks: (\d+) passed, (\d+) failed, (\d+) warnings$", out, re.M)
    runs = re.search(r"^Runs: (\d+) succeeded, (\d+) failed$", out, re.M)
    assert checks, out
    assert runs, out
    assert int(checks[1]) >= 100  # the dbt tests, GX suites and the topics check
    assert (checks[2], checks[3]) == ("0", "0"), out
    assert int(runs[1]) >= 40, out
    assert runs[2] == "0", out

    lake = summary_rows(out, "Lake (")
    assert all(lake[table] > 0 for table in LAKE_TABLES_WITH_DATA), lake
    assert all(lake[table] == 0 for table in QUARANTINES), lake
    # 41 snapshots of 20 coins from 2 sources, every tick landed once.
    assert lake["price_ticks"] == 41 * 20 * 2
    marts = summary_rows(out, "Marts (")
    assert all(rows > 0 for name, rows in marts.items() if name != "marts.fct_stream_alerts")
    # The replayed Binance.US minutes of 2023-03-11 04:00-04:39 (3 pairs x 40 = 120 klines):
    # BTCUSDC leaves the other pairs as USDC depegs; 04:32 spans 5.06 % within the minute.
    assert lake["exchange_bars_1m"] == 3 * 40
    assert "real-time price alerts from the stream: 1\n" in out  # that wide minute
    block = out.split("Anomaly episodes (marts.fct_anomaly_episodes)\n", 1)[1]
    block = block.split("\n  real-time", 1)[0]  # the stream's count closes the section
    episodes = [tuple(line.split()) for line in block.splitlines()]
    # The klines are re-timed onto the market's clock, so bitcoin's injected aggregator spikes
    # (minutes 5, 8, 25, 28) and BTCUSDC's real wide minute (32) are one price-spike episode:
    # flagged minutes of one coin and type at most 30 minutes apart. Ripple's two injected
    # divergence cycles, 20 minutes apart, are one episode too.
    sources = "binance:BTCUSDC,coingecko,coinmarketcap"
    assert episodes == [
        ("bitcoin", "price_spike", "warning", "28", "min", sources),
        ("bitcoin", "source_divergence", "high", "40", "min", "binance:BTCUSDC,binance:BTCUSDT"),
        ("ripple", "source_divergence", "warning", "24", "min", "coingecko,coinmarketcap"),
    ], out


def test_the_landed_lake_agrees_with_dbt_and_the_event_schemas(demo: Demo) -> None:
    """What Spark committed is what dbt declares (columns and types) and holds every field
    of the events' JSON Schemas."""
    assert lake_disagreements(demo.var / "lake") == []


# What the demo's market injects into the aggregator feeds over its 41 snapshots
# (replay/market.py, numbered from the first snapshot on every run), as the marts flag it:
# (alert type, coin, snapshot of the flagged minute). The spike's +7 % jump and its reversal
# move both sources; ripple's CoinMarketCap price sits 2.5 % above CoinGecko's.
INJECTED = {
    *(("price_spike", "bitcoin", n) for n in (5, 8, 25, 28)),
    *(("source_divergence", "ripple", n) for n in (15, 16, 17, 18, 35, 36, 37, 38)),
}


def test_the_marts_catch_exactly_the_injected_events(demo: Demo) -> None:
    """Bitcoin's spike and ripple's divergence, at the minutes injected; the calm coins and
    an aggregator's 24 h volume: nothing. (The exchange klines are real data: see above.)"""
    table = cli(
        demo,
        "sql",
        "select distinct alert_type, coin_id, datediff('minute', first_minute, minute_start) "
        "from intermediate.int_anomaly_minutes, "
        "(select min(minute_start) as first_minute from intermediate.int_price_minutes) "
        "where series not like '%binance:%'",
    )
    body = table.split("\n", 2)[2]  # below the header and its rule
    rows = re.findall(r"^(\w+)\s+\|\s+([\w-]+)\s+\|\s+(\d+)\s*$", body, re.M)
    found = [(kind, coin, int(n)) for kind, coin, n in rows]
    assert sorted(found) == sorted(INJECTED), table


def test_real_headlines_land_on_the_prices_time_axis(demo: Demo) -> None:
    """The 25 recorded CoinDesk items are replayed on the market's clock: every one lands
    with a publication time inside the minutes the prices cover, so sentiment and prices
    can be compared (they were dated 2026-09-29/30 beside today's prices)."""
    table = cli(
        demo,
        "sql",
        "select count(*) as real_articles, count(*) filter "
        "(where published_at >= first_minute and published_at < last_minute + interval 1 minute) "
        "as within_prices from marts.fct_news_articles, (select min(minute_start) as first_minute, "
        "max(minute_start) as last_minute from intermediate.int_price_minutes) "
        "where url not like '%replay.cryptoviz.invalid%'",
    )
    first_row = table.splitlines()[2]  # below the header and its rule
    assert re.findall(r"\d+", first_row) == ["25", "25"], table


def test_ui_and_docs_while_the_demo_runs_then_stop_leaves_nothing(
    demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in demo.env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    port = settings.dagster_port
    docs_port = free_port()
    docs = subprocess.Popen(
        [*CLI, "docs", "--port", str(docs_port)],
        env=demo.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        services.start_dagster_dev(settings)
        entries = graphql(port, LOCATION_QUERY)["workspaceOrError"]["locationEntries"]
        assert [(e["name"], e["loadStatus"]) for e in entries] == [("cryptoviz", "LOADED")]

        assert chromium_available(), "chromium is missing: `make browser` installs it"
        base = f"http://127.0.0.1:{port}"
        with browser() as context:
            graph = dagster_asset_graph(
                context, base, ["sources", "lake", "marts"], name="demo-asset-graph"
            )
            assert "streams" in graph
            page = dagster_asset_page(
                context,
                base,
                ["marts", "fct_anomaly_episodes"],
                ["One row per coin, anomaly type and episode"],
            )
            assert "fct_anomaly_episodes" in page
            docs_url = f"http://127.0.0.1:{docs_port}"
            wait_until(lambda: services.http_ok(docs_url + "/"), 180, 1, "dbt docs")
            overview = dbt_docs_page(context, docs_url, ["cryptoviz", "lake"])
            assert "Welcome" in overview
            model = dbt_docs_page(
                context,
                docs_url,
                ["fct_anomaly_episodes", "severity"],
                "model.cryptoviz.fct_anomaly_episodes",
            )
            assert "One row per coin, anomaly type and episode" in model
    finally:
        # the CLI and the `dbt docs serve` it started; SIGKILL what a loaded machine keeps
        terminate_tree(psutil.Process(docs.pid), signal.SIGTERM, timeout=60)
        docs.wait(timeout=30)
        stopped = cli(demo, "stop", timeout=300)
    assert stopped.strip() == "stopped: dagster-dev, replay-server, broker"
    leftovers = [
        p for p in project_processes(demo.var) if p.is_running() and p.status() != "zombie"
    ]
    assert leftovers == []
