"""The news job end to end: articles land once, scored and coin-tagged; bad ones quarantined."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cryptoviz_assets.contract.events import event_id
from cryptoviz_assets.kafka.topics import ensure_topics
from cryptoviz_assets.settings import Settings
from streaming.process import StreamProcess
from streaming.sentiment import score_many
from tests.streaming_support import (
    T0,
    LakeReader,
    column,
    iso,
    job_env,
    log_tail,
    produce,
    wait_for,
)

pytestmark = pytest.mark.slow


def article(guid: str, title: str, summary: str = "", days_old: int = 0) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "event_id": event_id("coindesk", guid),
        "event_type": "news_article",
        "source": "coindesk",
        "event_time": iso(T0 - timedelta(days=days_old)),
        "ingest_time": iso(T0),
        "replayed": True,
        "guid": guid,
        "url": f"https://example.com/{guid}",
        "title": title,
        "summary": summary,
        "authors": ["A. Writer"],
        "categories": ["Markets"],
    }


def test_news_lands_once_scored_and_tagged(project_env: Settings, tmp_path: Path) -> None:
    settings = project_env
    ensure_topics(settings)
    lake = LakeReader(settings.lake_uri)
    articles = [
        article("a1", "How to buy a coin: a step-by-step guide", "Weekly roundup of BTC markets."),
        article("a2", "Solana plunges 15% as leveraged longs are liquidated", "A rug pull.", 30),
        article("a3", "SEC ETF approval sends Ether to an all-time high", "ETH rallies."),
        article("a4", "SEC sues exchange for fraud over $XRP sales", "Investors lost millions."),
    ]
    log = tmp_path / "news.log"
    job = StreamProcess("news", job_env(settings), log)
    try:
        job.start()
        # Every poll re-sends the feed: duplicates; plus one record that is not an article.
        produce(
            settings.bootstrap_servers,
            settings.topic_news,
            [*articles, *articles[:2], {"title": "x"}],
            key="source",
        )
        wait_for(
            lambda: (
                len(column(lake, "news_quarantine", "reason")) >= 1
                and len(column(lake, "news_articles", "guid")) >= 4
            ),
            240,
            "news to land",
        )
        produce(settings.bootstrap_servers, settings.topic_news, articles, key="source")
        wait_for(lambda: job_progress(log) >= 2, 60, "another batch")
        assert job.stop() == 0, log_tail(log)
    finally:
        job.kill()

    rows = {r["guid"]: r for r in lake.read_table("news_articles").to_pylist()}
    assert sorted(rows) == ["a1", "a2", "a3", "a4"]
    assert len(column(lake, "news_articles", "guid")) == 4
    assert rows["a1"]["sentiment_label"] == "neutral"
    assert rows["a1"]["coins"] == ["bitcoin"]
    assert rows["a2"]["sentiment_label"] == "negative"
    assert rows["a2"]["coins"] == ["solana"]
    assert rows["a3"]["sentiment_label"] == "positive"
    assert rows["a3"]["coins"] == ["ethereum"]
    assert rows["a4"]["sentiment_label"] == "negative"
    assert rows["a4"]["coins"] == ["ripple"]
    assert all(-1 <= r["sentiment_score"] <= 1 for r in rows.values())
    # The stream scores titles with the same model as `cryptoviz sentiment`.
    expected = dict(zip(sorted(rows), score_many([a["title"] for a in articles]), strict=True))
    for guid, row in rows.items():
        assert row["sentiment_label"] == expected[guid].label
        assert row["sentiment_score"] == pytest.approx(expected[guid].score, abs=1e-6)
        assert row["sentiment_pos"] == pytest.approx(expected[guid].positive, abs=1e-6)
    assert rows["a2"]["date"] == (T0 - timedelta(days=30)).date()  # old, still landed
    assert column(lake, "news_quarantine", "reason") == ["schema_version must be 1"]


def job_progress(log: Path) -> int:
    """How many progress lines show the news query having run a batch after the first."""
    return sum(1 for line in log.read_text(errors="replace").splitlines() if '"batches"' in line)
