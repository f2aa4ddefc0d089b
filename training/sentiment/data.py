"""The committed training data: our labelled crypto headlines and Twitter Financial News."""

from __future__ import annotations

import csv
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
CRYPTO = DATA / "crypto_headlines_v1.csv"
TWITTER = (
    DATA / "twitter_financial_news_sentiment_train.csv",
    DATA / "twitter_financial_news_sentiment_valid.csv",
)
TWITTER_LABELS = {"0": "negative", "1": "positive", "2": "neutral"}

Example = tuple[str, str]  # (text, label)


def crypto(split: str) -> list[Example]:
    """Our labelled crypto headlines of one split: "train" or "test" (never trained on)."""
    with CRYPTO.open(newline="", encoding="utf-8") as f:
        return [(r["text"], r["label"]) for r in csv.DictReader(f) if r["split"] == split]


def twitter() -> list[Example]:
    """Twitter Financial News Sentiment (equities, MIT), train and valid files together."""
    examples = []
    for path in TWITTER:
        with path.open(newline="", encoding="utf-8") as f:
            examples += [(r["text"], TWITTER_LABELS[r["label"]]) for r in csv.DictReader(f)]
    return examples


def training_texts() -> list[str]:
    """Every text the model may learn from (the crypto test split is not among them)."""
    return [text for text, _ in crypto("train") + twitter()]
