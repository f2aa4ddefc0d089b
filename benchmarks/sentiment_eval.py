"""How right is the headline sentiment model, and how fast? Side by side with the old lexicon.

Run: .venv/bin/python benchmarks/sentiment_eval.py

Test sets (the model never trained or was tuned on any of them):
  crypto test   the fixed test quarter of our labelled crypto headlines
                (training/sentiment/data/crypto_headlines_v1.csv, split=test)
  CryptoLin     2,683 crypto titles, 3 annotators (licence unknown: read from
                ../shared/headlines at evaluation time, never copied into the project)
  CoinDesk +sub our labels (by article id, benchmarks/data/) of CoinDesk data-api articles
                (no licence: text read from ../shared): title alone vs title + subtitle
For each: accuracy, macro-F1 and the confusion matrix of the trained classifier
(streaming.sentiment) and of the previous scorer, VADER plus crypto words
(benchmarks/lexicon_sentiment.py), plus "always neutral". Then headlines/s of the
classifier on one core (pinned, one BLAS thread, cold word caches).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one core: set before numpy loads
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import csv
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(PROJECT), str(PROJECT / "benchmarks")]

from lexicon_sentiment import score as lexicon_score  # noqa: E402

from streaming import sentiment, text_features  # noqa: E402
from streaming.sentiment import LABELS, score_many  # noqa: E402
from training.sentiment.data import crypto  # noqa: E402

SHARED = PROJECT.parent / "shared" / "headlines"
CRYPTOLIN = SHARED / "labelled_crypto_cryptolin_2683_titles_3human_annotators_2018-07_2022-01.csv"
COINDESK = SHARED / "unlabelled_coindesk_dataapi_500_articles_2022-12_2025-10_vendorsentiment.csv"
COINDESK_LABELS = PROJECT / "benchmarks/data/coindesk_dataapi_labels.csv"

Labelled = list[tuple[str, str]]


def cryptolin() -> Labelled:
    labels = {"-1": "negative", "0": "neutral", "1": "positive"}
    with CRYPTOLIN.open(newline="", encoding="utf-8", errors="replace") as f:
        return [(r["news"], labels[r["final_manual_labelling"]]) for r in csv.DictReader(f)]


def coindesk() -> tuple[Labelled, Labelled]:
    """(title, label) and (title + subtitle, label) for the articles we labelled."""
    with COINDESK_LABELS.open(newline="") as f:
        labels = {r["ID"]: r["label"] for r in csv.DictReader(f)}
    with COINDESK.open(newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["ID"] in labels]
    titles = [(r["TITLE"], labels[r["ID"]]) for r in rows]
    both = [(f"{r['TITLE']}. {r['SUBTITLE']}", labels[r["ID"]]) for r in rows]
    return titles, both


def metrics(gold: Sequence[str], predicted: Sequence[str]) -> tuple[float, float, list[list[int]]]:
    """Accuracy, macro-F1 and the confusion matrix (rows gold, columns predicted, LABELS order)."""
    matrix = [[0] * len(LABELS) for _ in LABELS]
    for g, p in zip(gold, predicted, strict=True):
        matrix[LABELS.index(g)][LABELS.index(p)] += 1
    f1s = []
    for i in range(len(LABELS)):
        tp = matrix[i][i]
        gold_i, pred_i = sum(matrix[i]), sum(row[i] for row in matrix)
        f1s.append(2 * tp / (gold_i + pred_i) if gold_i + pred_i else 0.0)
    accuracy = sum(matrix[i][i] for i in range(len(LABELS))) / max(len(gold), 1)
    return accuracy, sum(f1s) / len(f1s), matrix


def report(name: str, data: Labelled) -> None:
    texts = [text for text, _ in data]
    gold = [label for _, label in data]
    scorers: list[tuple[str, Callable[[list[str]], list[str]]]] = [
        ("classifier", lambda t: [s.label for s in score_many(t)]),
        ("lexicon (VADER + crypto words)", lambda t: [lexicon_score(x).label for x in t]),
        ("always neutral", lambda t: ["neutral"] * len(t)),
    ]
    print(f"\n## {name}: {len(data)} headlines")
    print("confusion matrix: rows = gold, columns = predicted, order negative/neutral/positive")
    for scorer, predict in scorers:
        accuracy, macro_f1, matrix = metrics(gold, predict(texts))
        print(f"  {scorer:<32} accuracy {accuracy:6.1%}  macro-F1 {macro_f1:.3f}  {matrix}")


def speed(texts: list[str], batch: int = 256) -> float:
    """Headlines/s of score_many, in batches as the CLI and the stream call it."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    score_many(["warm up: load the model"])
    text_features._word_buckets.cache_clear()
    sentiment.load_static()._rows.cache_clear()
    start = time.perf_counter()
    for i in range(0, len(texts), batch):
        score_many(texts[i : i + batch])
    return len(texts) / (time.perf_counter() - start)


def main() -> None:
    test = crypto("test")
    report("crypto test split (our labels, guideline v1)", test)
    speed_texts = [text for text, _ in test]
    if CRYPTOLIN.exists():
        lin = cryptolin()
        report("CryptoLin (3 annotators, majority)", lin)
        speed_texts += [text for text, _ in lin]
    else:
        print(f"\n(CryptoLin not found at {CRYPTOLIN}: skipped)")
    if COINDESK.exists():
        titles, both = coindesk()
        report("CoinDesk data-api articles (our labels): title alone", titles)
        report("CoinDesk data-api articles (our labels): title + subtitle", both)
    print(
        f"\nspeed: {speed(speed_texts):,.0f} headlines/s on one core ({len(speed_texts)} headlines)"
    )


if __name__ == "__main__":
    main()
