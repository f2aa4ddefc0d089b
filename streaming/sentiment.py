"""Headline sentiment from a crypto trader's point of view: a trained 3-class classifier.

Is this news good, bad or neither for the price of the coins it concerns? Lexicons (VADER
plus crypto words, the previous scorer) read words, not news, and scored below always
answering "neutral" on real headlines. This is a multinomial logistic regression over
hashed n-grams and distilled MiniLM embeddings (streaming.text_features), trained on our
own labelled crypto headlines plus Twitter Financial News (training/sentiment/).

Plain numpy at run time: no PyTorch, no model hub, nothing downloaded; the model is two
files shipped in streaming/models. The score is P(positive) - P(negative), in [-1, 1]; the
label is the most probable class. The news stream, the marts (through the lake) and
`cryptoviz sentiment` all score through `score_many`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from streaming.text_features import StaticEmbeddings, ngram_matrix

LABELS = ("negative", "neutral", "positive")
MODEL_DIR = Path(__file__).resolve().parent / "models"
HEAD_FILE = MODEL_DIR / "sentiment_head.npz"
STATIC_FILE = MODEL_DIR / "minilm_static.npz"


@dataclass(frozen=True)
class Sentiment:
    score: float  # P(positive) - P(negative), [-1, 1]
    label: str  # positive | neutral | negative
    positive: float  # class probabilities, summing to 1
    negative: float
    neutral: float


@lru_cache(maxsize=1)
def load_static() -> StaticEmbeddings:
    with np.load(STATIC_FILE) as f:
        return StaticEmbeddings(list(f["entries"]), f["vectors"])


@dataclass(frozen=True)
class HeadModel:
    """Trained weights: logits = ngrams @ ngram_weights + embedding @ static_weights + bias."""

    idf: np.ndarray
    ngram_weights: np.ndarray
    static_weights: np.ndarray
    bias: np.ndarray

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path,
            idf=self.idf,
            ngram_weights=self.ngram_weights,
            static_weights=self.static_weights,
            bias=self.bias,
            labels=np.array(LABELS),
        )

    @classmethod
    def load(cls, path: Path) -> HeadModel:
        with np.load(path) as f:
            if tuple(f["labels"]) != LABELS:
                raise ValueError(f"{path}: labels {tuple(f['labels'])}, expected {LABELS}")
            return cls(f["idf"], f["ngram_weights"], f["static_weights"], f["bias"])

    def probabilities(
        self, texts: Sequence[str], static: StaticEmbeddings | None = None
    ) -> np.ndarray:
        """One row per text: P(negative), P(neutral), P(positive); `static` for experiments."""
        if not texts:
            return np.zeros((0, len(LABELS)))
        logits = (
            ngram_matrix(texts, self.idf) @ self.ngram_weights
            + (static or load_static()).embed(texts) @ self.static_weights
            + self.bias
        ).astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def labels(self, texts: Sequence[str], static: StaticEmbeddings | None = None) -> list[str]:
        return [LABELS[i] for i in self.probabilities(texts, static).argmax(axis=1)]


@lru_cache(maxsize=1)
def model() -> HeadModel:
    return HeadModel.load(HEAD_FILE)


def score_many(texts: Sequence[str]) -> list[Sentiment]:
    """Score a batch (much faster per text than one at a time)."""
    results = []
    for neg, neu, pos in model().probabilities([text or "" for text in texts]):
        label = LABELS[int(np.argmax([neg, neu, pos]))]
        results.append(Sentiment(float(pos - neg), label, float(pos), float(neg), float(neu)))
    return results


def score(text: str) -> Sentiment:
    return score_many([text])[0]
