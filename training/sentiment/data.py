"""The training data: labelled real crypto headlines (two pools), headlines we wrote, and
Twitter Financial News.

Each crypto headline was labelled blind by two annotators under GUIDELINE.md, and by a
third where they disagreed; `label` is the majority (neutral when all three differ).

* Google News pool (MIT, 2020-2022): text and labels are committed.
* CoinDesk data-api pool (2022-2025, closest to today's feeds): the text has no licence, so
  only our labels are committed, by article ID; the titles are read from ../shared/headlines
  when a model is trained or evaluated, and never shipped.
"""

from __future__ import annotations

import csv
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
GOOGLE_NEWS = DATA / "googlenews_headlines.csv"
COINDESK_LABELS = DATA / "coindesk_dataapi_labels.csv"
WRITTEN = DATA / "written_headlines.csv"
SHARED_HEADLINES = Path(__file__).resolve().parents[3] / "shared/headlines"
COINDESK_POOL = "unlabelled_coindesk_dataapi_500_articles_2022-12_2025-10_vendorsentiment.csv"
COINDESK_TEXT = SHARED_HEADLINES / COINDESK_POOL
TWITTER = (
    DATA / "twitter_financial_news_sentiment_train.csv",
    DATA / "twitter_financial_news_sentiment_valid.csv",
)
TWITTER_LABELS = {"0": "negative", "1": "positive", "2": "neutral"}

Example = tuple[str, str]  # (text, label)


def google_news(split: str) -> list[Example]:
    """Google News crypto headlines of one split: "train" or "test" (never trained on)."""
    with GOOGLE_NEWS.open(newline="", encoding="utf-8") as f:
        return [(r["text"], r["label"]) for r in csv.DictReader(f) if r["split"] == split]


def coindesk(split: str) -> list[Example]:
    """CoinDesk data-api titles of one split, their text read from ../shared/headlines."""
    if not COINDESK_TEXT.exists():
        raise FileNotFoundError(
            f"{COINDESK_TEXT}: the CoinDesk titles have no licence, so the project holds only "
            "their labels; training and evaluation read the text from ../shared/headlines"
        )
    with COINDESK_LABELS.open(newline="", encoding="utf-8") as f:
        labels = {r["ID"]: r["label"] for r in csv.DictReader(f) if r["split"] == split}
    with COINDESK_TEXT.open(newline="", encoding="utf-8") as f:
        titles = {r["ID"]: r["TITLE"].strip() for r in csv.DictReader(f)}
    return [(titles[article], label) for article, label in labels.items()]


def crypto(split: str) -> list[Example]:
    """Both crypto pools' headlines of one split."""
    return google_news(split) + coindesk(split)


def written() -> list[Example]:
    """Invented crypto headlines written and labelled for training only (never a test set)."""
    with WRITTEN.open(newline="", encoding="utf-8") as f:
        return [(r["text"], r["label"]) for r in csv.DictReader(f)]


def twitter() -> list[Example]:
    """Twitter Financial News Sentiment (equities, MIT), train and valid files together,
    without the texts that are also one of our crypto test headlines."""
    held_out = {text for text, _ in google_news("test")}
    examples = []
    for path in TWITTER:
        with path.open(newline="", encoding="utf-8") as f:
            examples += [
                (r["text"], TWITTER_LABELS[r["label"]])
                for r in csv.DictReader(f)
                if r["text"] not in held_out
            ]
    return examples


def training_texts() -> list[str]:
    """The texts whose frequent words the static token table holds (distill_static.py)."""
    return [text for text, _ in google_news("train") + twitter()]
