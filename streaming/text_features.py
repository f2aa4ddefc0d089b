"""Headline features, shared by the sentiment model's training and its scoring.

Two views of a headline, both cheap enough for thousands of headlines a second on one core:

* hashed n-grams: word unigrams and bigrams plus character 2-5-grams inside words
  (robust to "surges"/"surged", tickers and typos), TF-IDF weighted. Hashing (crc32, stable
  across processes) keeps the model a fixed-size array instead of a vocabulary file.
* a static sentence embedding: the mean of per-token vectors distilled from the
  all-MiniLM-L6-v2 sentence model (each WordPiece token, and frequent whole words, encoded
  once by the real model; training/sentiment/distill_static.py). It carries meaning for
  words the labelled data never showed ("plummets" near "plunges").

Training and scoring call the same functions, so they cannot drift apart.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
import zlib
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from scipy import sparse

HASH_BITS = 18
HASH_DIM = 1 << HASH_BITS
CHAR_NGRAMS = (2, 3, 4, 5)
_URL = re.compile(r"https?://\S+")
_TOKEN = re.compile(r"\w+|[^\w\s]")
_DIGITS = re.compile(r"\d+")


def normalize(text: str) -> str:
    """Lower case, NFKC, no URLs (the tweets in the training data end with one)."""
    text = unicodedata.normalize("NFKC", _URL.sub(" ", text or ""))
    return text.replace("\u2019", "'").replace("\u2018", "'").lower()


def tokens(text: str) -> list[str]:
    """Words and punctuation marks of normalized text, like BERT's basic tokenizer."""
    return _TOKEN.findall(normalize(text))


def _bucket(feature: str) -> int:
    return zlib.crc32(feature.encode()) & (HASH_DIM - 1)


@lru_cache(maxsize=200_000)
def _word_buckets(word: str) -> tuple[int, ...]:
    """The word itself and its character n-grams (word padded with spaces)."""
    padded = f" {word} "
    grams = [f"w:{word}"]
    for n in CHAR_NGRAMS:
        grams.extend(f"c:{padded[i : i + n]}" for i in range(len(padded) - n + 1))
    return tuple(_bucket(g) for g in grams)


def ngram_counts(text: str) -> Counter[int]:
    """Hashed n-gram counts of one headline (numbers collapsed to 0: values are not tone)."""
    words = [_DIGITS.sub("0", t) for t in tokens(text) if t[0].isalnum() or t in "$%"]
    counts: Counter[int] = Counter()
    for word in words:
        counts.update(_word_buckets(word))
    counts.update(_bucket(f"b:{a} {b}") for a, b in itertools.pairwise(words))
    return counts


def ngram_matrix(texts: Sequence[str], idf: np.ndarray | None = None) -> sparse.csr_matrix:
    """Rows of sublinear TF x IDF over the hashed n-grams, each row of unit length."""
    indptr, indices, values = [0], list[int](), list[int]()
    for text in texts:
        counts = ngram_counts(text)
        indices.extend(counts)
        values.extend(counts.values())
        indptr.append(len(indices))
    matrix = sparse.csr_matrix(
        (np.asarray(values, np.float32), np.asarray(indices, np.int64), np.asarray(indptr)),
        shape=(len(texts), HASH_DIM),
    )
    matrix.sum_duplicates()
    matrix.data = 1.0 + np.log(matrix.data)
    if idf is not None:
        matrix = matrix.multiply(idf.reshape(1, -1)).tocsr()
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    return sparse.diags(1.0 / np.maximum(norms, 1e-9)) @ matrix


def fit_idf(texts: Sequence[str]) -> np.ndarray:
    """Smoothed inverse document frequency per hash bucket."""
    documents = np.zeros(HASH_DIM, np.float64)
    for text in texts:
        documents[list(ngram_counts(text))] += 1
    return np.log((1 + len(texts)) / (1 + documents)).astype(np.float32) + 1


class StaticEmbeddings:
    """Mean of distilled MiniLM vectors over a headline's WordPiece tokens."""

    def __init__(self, entries: Sequence[str], vectors: np.ndarray) -> None:
        self.index = {entry: row for row, entry in enumerate(entries)}
        self.vectors = vectors.astype(np.float32)
        self.unknown = self.index["[UNK]"]
        self._rows = lru_cache(maxsize=200_000)(self._word_rows)

    def _word_rows(self, word: str) -> tuple[int, ...]:
        """The whole word if distilled, else greedy longest-match WordPiece (as BERT)."""
        if word in self.index:
            return (self.index[word],)
        rows, start = [], 0
        while start < len(word):
            for end in range(len(word), start, -1):
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.index:
                    rows.append(self.index[piece])
                    start = end
                    break
            else:
                return (self.unknown,)
        return tuple(rows)

    def rows_of(self, text: str) -> list[int]:
        """The table rows of a headline's tokens, in order."""
        return [row for token in tokens(text) for row in self._rows(token)]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One unit-length row per text."""
        out = np.zeros((len(texts), self.vectors.shape[1]), np.float32)
        for i, text in enumerate(texts):
            rows = self.rows_of(text)
            if rows:
                out[i] = self.vectors[rows].mean(axis=0)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-9)
