"""The sentiment training data keeps its promises: labels follow the votes, test rows stay
out of training, and nothing comes from the evaluation feeds of 2026-09-29/30."""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from pathlib import Path

import feedparser
import pytest

from training.sentiment import data

SHARED_RSS = Path(__file__).resolve().parents[2] / "shared/fixtures/news_rss"


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def normalised(text: str) -> str:
    return " ".join(text.lower().split())


@pytest.mark.parametrize("path", [data.GOOGLE_NEWS, data.COINDESK_LABELS])
def test_label_is_the_majority_of_blind_votes(path: Path) -> None:
    for row in rows(path):
        first, second, third = row["label_1"], row["label_2"], row["label_3"]
        assert bool(third) == (first != second), row  # a third vote exactly on disagreement
        votes = Counter(v for v in (first, second, third) if v)
        winner, count = votes.most_common(1)[0]
        assert row["label"] == (winner if count >= 2 else "neutral"), row


def test_google_news_split_is_a_fixed_quarter_by_text() -> None:
    for row in rows(data.GOOGLE_NEWS):
        quarter = int(hashlib.sha256(row["text"].encode()).hexdigest(), 16) % 4 == 0
        assert row["split"] == ("test" if quarter else "train"), row["text"]


def test_no_test_headline_is_trained_on() -> None:
    tests = {normalised(text) for text, _ in data.crypto("test")}
    trained = [text for text, _ in data.crypto("train") + data.written() + data.twitter()]
    assert len(tests) > 700
    assert not tests & {normalised(text) for text in trained}


def test_nothing_comes_from_the_evaluation_feeds() -> None:
    """The CoinDesk and Cointelegraph items of 2026-09-29/30 are the organisation's test."""
    feeds = sorted(SHARED_RSS.glob("*.xml"))
    assert {p.name.split("_")[0] for p in feeds} >= {"coindesk", "cointelegraph"}
    entries = [e for p in feeds for e in feedparser.parse(p.read_bytes()).entries]
    reserved = {normalised(e.title) for e in entries}
    assert len(reserved) > 40
    ours = data.crypto("train") + data.crypto("test") + data.written()
    assert not reserved & {normalised(text) for text, _ in ours}
