"""The shipped headline sentiment classifier: labels, scores, determinism, offline loading.

Accuracy on held-out data and speed are measured by benchmarks/sentiment_eval.py, not here.
These headlines were written for this test, not taken from any training or test set.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from cryptoviz_assets.settings import PROJECT_ROOT
from streaming.sentiment import LABELS, HeadModel, score, score_many

POSITIVE = [
    "Bitcoin surges past $70,000 to a record high",
    "Ether rallies 12% as spot ETF inflows jump",
    "BlackRock buys another $500 million of bitcoin for its ETF",
]
NEGATIVE = [
    "Bitcoin plunges 15% as $1 billion in leveraged longs are liquidated",
    "SEC sues Binance and its founder for fraud",
    "Stablecoin loses its dollar peg as withdrawals halted",
]
NEUTRAL = [
    "What is a crypto wallet? A beginner's guide",
    "How to buy bitcoin: a step-by-step guide",
    "Ethereum developers schedule next community call",
]


@pytest.mark.parametrize(
    ("text", "label"),
    [(t, "positive") for t in POSITIVE]
    + [(t, "negative") for t in NEGATIVE]
    + [(t, "neutral") for t in NEUTRAL],
)
def test_clear_headlines_get_their_label(text: str, label: str) -> None:
    result = score(text)
    assert result.label == label, result
    expected_sign = {"positive": 1, "negative": -1}.get(label)
    if expected_sign is not None:
        assert np.sign(result.score) == expected_sign


def test_score_is_probability_of_positive_minus_negative() -> None:
    results = score_many([*POSITIVE, *NEGATIVE, *NEUTRAL, "", "!!!", "ünïcödé 🚀 $BTC"])
    for r in results:
        assert -1.0 <= r.score <= 1.0
        assert r.positive + r.negative + r.neutral == pytest.approx(1.0)
        assert r.score == pytest.approx(r.positive - r.negative)
        assert r.label == LABELS[int(np.argmax([r.negative, r.neutral, r.positive]))]


def test_scoring_is_deterministic_and_batch_independent() -> None:
    texts = [*POSITIVE, *NEGATIVE, *NEUTRAL]
    batch = score_many(texts)
    assert batch == score_many(texts)
    alone = [score(t) for t in texts]  # alone or in a batch: the same, up to float rounding
    assert [r.label for r in alone] == [r.label for r in batch]
    assert [r.score for r in alone] == pytest.approx([r.score for r in batch], abs=1e-6)


def test_model_loads_offline_without_pytorch() -> None:
    """A fresh interpreter with sockets disabled scores from the shipped files alone."""
    code = textwrap.dedent(
        """
        import socket, sys
        def refuse(*args, **kwargs):
            raise OSError("network used")
        socket.socket = refuse
        socket.create_connection = refuse
        from streaming.sentiment import score
        print(score("Bitcoin surges past $70,000 to a record high").label)
        heavy = {"torch", "transformers", "sentence_transformers", "onnxruntime", "sklearn"}
        print(sorted(heavy & set(sys.modules)))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["positive", "[]"]


def test_shipped_model_files_are_small() -> None:
    sizes = [p.stat().st_size for p in (PROJECT_ROOT / "streaming/models").glob("*.npz")]
    assert len(sizes) == 3  # token vectors, linear head, convolutional model
    assert sum(sizes) < 100 * 1024 * 1024


def test_training_is_deterministic(tmp_path) -> None:
    """Two trainings on the same data give the same model, byte for byte."""
    from training.sentiment.data import crypto
    from training.sentiment.train import Params, train

    examples = crypto("train")[:300]
    weights = np.ones(len(examples))
    for name in ("a.npz", "b.npz"):
        train(examples, weights, Params()).save(tmp_path / name)
    a, b = HeadModel.load(tmp_path / "a.npz"), HeadModel.load(tmp_path / "b.npz")
    for field in ("idf", "ngram_weights", "static_weights", "bias"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    assert a.labels(POSITIVE + NEGATIVE) == b.labels(POSITIVE + NEGATIVE)


@pytest.mark.slow
def test_shipped_model_is_rebuilt_from_committed_data(tmp_path) -> None:
    """training/sentiment/train.py reproduces the committed artifact from committed data."""
    from training.sentiment.data import crypto

    out = tmp_path / "head.npz"
    done = subprocess.run(
        [sys.executable, "-m", "training.sentiment.train", "--output", str(out)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    rebuilt, shipped = (
        HeadModel.load(out),
        HeadModel.load(PROJECT_ROOT / "streaming/models/sentiment_head.npz"),
    )
    texts = [text for text, _ in crypto("test")]
    assert rebuilt.labels(texts) == shipped.labels(texts)
    np.testing.assert_allclose(
        rebuilt.probabilities(texts), shipped.probabilities(texts), atol=1e-3
    )
