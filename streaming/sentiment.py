"""Headline sentiment from a crypto trader's point of view: a trained 3-class classifier.

Is this news good, bad or neither for the price of the coins it concerns? Lexicons (VADER
plus crypto words, the previous scorer) read words, not news, and scored below always
answering "neutral" on real headlines. Two trained models, their class probabilities
averaged: a multinomial logistic regression over hashed n-grams and distilled MiniLM
embeddings (streaming.text_features), which reads a bag of words, and a small convolutional
network over the same token vectors, which reads short phrases in order. Both learn from
our labelled crypto headlines, headlines written for training and Twitter Financial News
(training/sentiment/).

Plain numpy at run time: no PyTorch, no model hub, nothing downloaded; the model is three
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
CONV_FILE = MODEL_DIR / "sentiment_cnn.npz"
STATIC_FILE = MODEL_DIR / "minilm_static.npz"
MAX_TOKENS = 40  # the convolutional model reads a headline's first 40 WordPiece tokens


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


@dataclass(frozen=True)
class ConvModel:
    """Filters over 2 and 3 consecutive static token vectors (max over the headline) plus the
    mean vector, then a linear layer: reads short phrases in order, where HeadModel reads a
    bag of words. Trained with PyTorch (training/sentiment/train_cnn.py), applied here with
    numpy: the same arithmetic as that network in eval mode."""

    conv2: np.ndarray  # (2 * dim, filters): rows for token t-1, then token t
    conv2_bias: np.ndarray
    conv3: np.ndarray  # (3 * dim, filters): rows for tokens t-1, t, t+1
    conv3_bias: np.ndarray
    out: np.ndarray  # (2 * filters + dim, classes)
    out_bias: np.ndarray

    def save(self, path: Path) -> None:
        np.savez_compressed(path, labels=np.array(LABELS), **self.__dict__)

    @classmethod
    def load(cls, path: Path) -> ConvModel:
        with np.load(path) as f:
            if tuple(f["labels"]) != LABELS:
                raise ValueError(f"{path}: labels {tuple(f['labels'])}, expected {LABELS}")
            return cls(*(f[name].astype(np.float32) for name in cls.__dataclass_fields__))

    @staticmethod
    def token_rows(texts: Sequence[str]) -> np.ndarray:
        """Rows of the static table per headline, padded with -1 to the longest (<= 40)."""
        static = load_static()
        rows = [static.rows_of(text)[:MAX_TOKENS] for text in texts]
        out = np.full((len(texts), max([len(r) for r in rows] + [1])), -1, np.int64)
        for i, r in enumerate(rows):
            out[i, : len(r)] = r
        return out

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        rows = self.token_rows(texts)
        mask = (rows >= 0)[:, :, None]
        x = np.where(mask, load_static().vectors[np.maximum(rows, 0)], np.float32(0))
        dim = x.shape[2]
        # One matrix product for every (filter width, offset) block, then shift and add:
        # y[k][:, t] is token t's contribution to the filters of width k at its offset.
        blocks = np.hstack(
            [self.conv2[i * dim : (i + 1) * dim] for i in range(2)]
            + [self.conv3[i * dim : (i + 1) * dim] for i in range(3)]
        )
        y = np.split(x @ blocks, 5, axis=2)

        def shifted(a: np.ndarray, by: int) -> np.ndarray:
            """a[:, t - by] at position t, zeros outside the headline."""
            out = np.zeros_like(a)
            if by > 0:
                out[:, by:] = a[:, :-by]
            else:
                out[:, :by] = a[:, -by:]
            return out

        def max_over_tokens(pre: np.ndarray, bias: np.ndarray) -> np.ndarray:
            h = np.maximum(pre + bias, 0.0)
            return np.where(mask, h, 0.0).max(axis=1)  # ReLU >= 0: padding never wins

        h2 = max_over_tokens(shifted(y[0], 1) + y[1], self.conv2_bias)
        h3 = max_over_tokens(shifted(y[2], 1) + y[3] + shifted(y[4], -1), self.conv3_bias)
        mean = (x * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1)
        logits = (np.hstack([h2, h3, mean]) @ self.out + self.out_bias).astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)


@lru_cache(maxsize=1)
def model() -> HeadModel:
    return HeadModel.load(HEAD_FILE)


@lru_cache(maxsize=1)
def conv_model() -> ConvModel:
    return ConvModel.load(CONV_FILE)


def probabilities(texts: Sequence[str]) -> np.ndarray:
    """The shipped model: the mean of the two models' class probabilities."""
    texts = [text or "" for text in texts]
    if not texts:
        return np.zeros((0, len(LABELS)))
    return (model().probabilities(texts) + conv_model().probabilities(texts)) / 2


def score_many(texts: Sequence[str]) -> list[Sentiment]:
    """Score a batch (much faster per text than one at a time)."""
    results = []
    for neg, neu, pos in probabilities(texts):
        label = LABELS[int(np.argmax([neg, neu, pos]))]
        results.append(Sentiment(float(pos - neg), label, float(pos), float(neg), float(neu)))
    return results


def score(text: str) -> Sentiment:
    return score_many([text])[0]
