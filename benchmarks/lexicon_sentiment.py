"""The old lexicon scorer, kept only as the baseline of benchmarks/sentiment_eval.py.

VADER plus crypto vocabulary, whole words only: what streaming.news used before the trained
classifier (streaming.sentiment). Headlines are not what VADER was built for: on our
held-out crypto headlines it is far less accurate than the classifier (see the README).
The score is VADER's compound value in [-1, 1]; the label uses VADER's usual cut-offs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

POSITIVE_CUTOFF = 0.05
NEGATIVE_CUTOFF = -0.05

# Valence on VADER's scale (-4 .. +4). Phrases use spaces here; scoring joins them with "_".
CRYPTO_LEXICON: dict[str, float] = {
    "bullish": 2.5,
    "bearish": -2.5,
    "bull run": 2.5,
    "bear market": -2.0,
    "moon": 1.5,
    "mooning": 2.5,
    "to the moon": 2.5,
    "rally": 2.0,
    "rallies": 2.0,
    "surge": 2.0,
    "surges": 2.0,
    "soar": 2.5,
    "soars": 2.5,
    "all time high": 2.5,
    "all-time high": 2.5,
    "record high": 2.0,
    "breakout": 1.5,
    "etf approval": 3.0,
    "etf approved": 3.0,
    "etf inflows": 1.5,
    "adoption": 1.5,
    "partnership": 1.2,
    "upgrade": 1.0,
    "hodl": 1.0,
    "accumulation": 1.0,
    "plunge": -2.5,
    "plunges": -2.5,
    "tumble": -2.0,
    "tumbles": -2.0,
    "crash": -3.0,
    "crashes": -3.0,
    "dump": -2.0,
    "dumps": -2.0,
    "sell-off": -2.0,
    "selloff": -2.0,
    "hack": -3.0,
    "hacked": -3.0,
    "hacker": -2.5,
    "hackers": -2.5,
    "exploit": -3.0,
    "exploited": -3.0,
    "exploiter": -2.5,
    "rug pull": -3.5,
    "rugpull": -3.5,
    "rugged": -3.0,
    "scam": -3.0,
    "ponzi": -3.0,
    "fraud": -3.0,
    "stolen": -3.0,
    "breach": -2.5,
    "drained": -2.5,
    "liquidation": -2.0,
    "liquidations": -2.0,
    "liquidated": -2.0,
    "depeg": -3.0,
    "depegged": -3.0,
    "insolvent": -3.0,
    "insolvency": -3.0,
    "bankruptcy": -3.0,
    "delisting": -2.5,
    "delisted": -2.5,
    "etf rejection": -2.5,
    "etf rejected": -2.5,
    "sec lawsuit": -2.5,
    "lawsuit": -2.0,
    "crackdown": -2.0,
    "outage": -2.0,
    "fud": -2.0,
    "capitulation": -2.5,
}


@dataclass(frozen=True)
class Sentiment:
    score: float  # VADER compound, [-1, 1]
    label: str  # positive | negative | neutral
    positive: float
    negative: float
    neutral: float


def _token(phrase: str) -> str:
    return re.sub(r"[\s-]+", "_", phrase.lower())


@lru_cache(maxsize=1)
def _analyzer() -> SentimentIntensityAnalyzer:
    analyzer = SentimentIntensityAnalyzer()
    analyzer.lexicon.update({_token(phrase): value for phrase, value in CRYPTO_LEXICON.items()})
    return analyzer


@lru_cache(maxsize=1)
def _phrases() -> re.Pattern[str]:
    multi = sorted((p for p in CRYPTO_LEXICON if re.search(r"[\s-]", p)), key=len, reverse=True)
    return re.compile(
        r"(?<![\w-])(" + "|".join(re.escape(p) for p in multi) + r")(?![\w-])", re.IGNORECASE
    )


def prepare(text: str) -> str:
    """Join known multi-word phrases into single lexicon tokens ("Rug pull" -> "rug_pull")."""
    return _phrases().sub(lambda m: _token(m.group(1)), text)


def score(text: str) -> Sentiment:
    scores = _analyzer().polarity_scores(prepare(text or ""))
    compound = float(scores["compound"])
    if compound >= POSITIVE_CUTOFF:
        label = "positive"
    elif compound <= NEGATIVE_CUTOFF:
        label = "negative"
    else:
        label = "neutral"
    return Sentiment(compound, label, scores["pos"], scores["neg"], scores["neu"])
