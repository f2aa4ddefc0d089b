"""The Dagster UI and the dbt docs in a real browser, as a person would look at them.

A private `dagster dev` (temp var/, free port, the session's broker) shows an instance on
which the Kafka topics and the marts of the fixed lake (tests/marts_lake.py) were
materialized first, so the pages have content: the asset graph with its groups, a mart's
page with its description, owner and freshness policy, the market report with its charts.
The dbt docs are generated and served as `make docs` does. Screenshots of every page land
in test-artifacts/. Everything started here is stopped, even when an assertion fails.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from playwright.sync_api import BrowserContext

from cryptoviz_assets.kafka.broker import EmbeddedBroker
from cryptoviz_assets.runtime import services
from cryptoviz_assets.runtime.processes import free_port, wait_until
from cryptoviz_assets.settings import PROJECT_ROOT, Settings
from tests.browser import (
    browser,
    dagster_asset_graph,
    dagster_asset_group,
    dagster_asset_page,
    dagster_markdown_metadata,
    dbt_docs,
)
from tests.marts_lake import write_lake

pytestmark = pytest.mark.slow
LOCATION = "cryptoviz"


@pytest.fixture
def ui_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, broker: EmbeddedBroker
) -> Settings:
    """A private var/, lake and warehouse; nothing that would compete for the two cores."""
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "CRYPTOVIZ_VAR_DIR": str(tmp_path / "var"),
        "LAKE_ROOT": str(tmp_path / "lake"),
        "DUCKDB_PATH": str(tmp_path / "warehouse" / "cryptoviz.duckdb"),
        "WAREHOUSE_BUILD_PATH": str(tmp_path / "warehouse" / "build.duckdb"),
        "LAKE_MAX_STALENESS_HOURS": "10000000",  # the fixed lake is from 2024
        "DAGSTER_PORT": str(free_port()),
        "STREAM_SUPERVISED": "",  # no Spark streams
        "MARTS_CRON": "0 0 1 1 *",
        **{f"{s}_POLL_SECONDS": "3600" for s in ("COINGECKO", "COINMARKETCAP", "NEWS")},
        "FEAR_GREED_POLL_SECONDS": "3600",
    }
    suffix = tmp_path.name.replace("_", "-")
    for role in ("prices", "news", "market_sentiment", "alerts", "dlq"):
        env[f"TOPIC_{role.upper()}"] = f"{role}-{suffix}"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    write_lake(Path(settings.lake_uri))
    return settings


def materialize_content(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs on the instance `dagster dev` will show: the topics, then the whole marts build."""
    from cryptoviz_assets.definitions import defs as load_definitions

    defs = load_definitions()

    monkeypatch.setenv("DAGSTER_HOME", str(services.prepare_dagster_home(settings)))
    with dg.DagsterInstance.get() as instance:
        topics = defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=instance, asset_selection=[dg.AssetKey("kafka_topics")]
        )
        assert topics.success
        marts = defs.resolve_job_def("marts_build").execute_in_process(instance=instance)
        assert marts.success


@pytest.fixture
def dagster_url(ui_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    materialize_content(ui_settings, monkeypatch)
    try:
        services.start_dagster_dev(ui_settings)
        yield f"http://127.0.0.1:{ui_settings.dagster_port}"
    finally:
        services.stop_all(ui_settings)


@pytest.fixture
def docs_url(ui_settings: Settings) -> Iterator[str]:
    """`make docs`: generate (catalog from the published snapshot), serve on a free port."""
    from cryptoviz_assets.analytics import docs

    docs.generate(ui_settings)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", f"from cryptoviz_assets.analytics.docs import serve; serve({port})"],
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: dbt's server goes with it
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: services.http_ok(url + "/"), 60, 0.5, "dbt docs serve")
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@pytest.fixture
def chromium() -> Iterator[BrowserContext]:
    with browser() as context:
        yield context


def test_dagster_ui_and_dbt_docs_tell_the_story(
    dagster_url: str, docs_url: str, chromium: BrowserContext
) -> None:
    # The asset graph: every group, drawn around its assets.
    graph = dagster_asset_graph(chromium, dagster_url, ["sources", "streams", "lake", "marts"])
    for group in ("sources", "streams", "lake", "marts"):
        assert group in graph
    platform = dagster_asset_group(chromium, dagster_url, LOCATION, "streams", ["kafka_topics"])
    assert "kafka_topics" in platform
    sources = dagster_asset_group(
        chromium, dagster_url, LOCATION, "sources", ["coingecko_prices"], view="list"
    )
    for asset in ("coinmarketcap_prices", "crypto_news", "fear_greed_index", "fear_greed_history"):
        assert asset in sources

    # A mart's page: its dbt description, owner, freshness policy, its latest build.
    anomalies = dagster_asset_page(
        chromium,
        dagster_url,
        ["marts", "fct_anomaly_episodes"],
        ["One row per coin, anomaly type and episode", "Materialized"],
    )
    assert "Owners\nanalytics" in anomalies  # the UI shows team:analytics as "analytics"
    assert "Freshness policy\nPassing" in anomalies

    # The market report: counts, previews and the three charts, rendered as images.
    report = dagster_asset_page(
        chromium, dagster_url, ["market_report"], ["The market at a glance", "chart_price"]
    )
    assert "fct_anomaly_episodes" in report
    page = chromium.pages[-1]
    for chart, title in (
        ("chart_price", "Price, moving averages and anomalies"),
        ("chart_sentiment", "News sentiment against price"),
        ("chart_fear_greed", "Fear & Greed index"),
    ):
        dialog = dagster_markdown_metadata(page, chart, f"dagster-market_report-{chart}")
        assert title in dialog.inner_text()
        image = dialog.locator("img[src^='data:image/png']")
        image.wait_for(state="visible")
        assert image.evaluate("img => img.complete && img.naturalWidth") >= 600
        page.keyboard.press("Escape")
        dialog.wait_for(state="hidden")

    # The dbt docs: the project and its models.
    overview = dbt_docs(chromium, docs_url, ["Welcome!", "cryptoviz"])
    assert "Projects\ncryptoviz" in overview
    assert "lake" in overview  # the lake source
    model = dbt_docs(
        chromium,
        docs_url,
        ["fct_anomaly_episodes", "episode_id"],
        model="model.cryptoviz.fct_anomaly_episodes",
    )
    assert "One row per coin, anomaly type and episode" in model
