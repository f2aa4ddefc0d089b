"""How right is the headline sentiment model, and how fast? Side by side with the old lexicon.

Run: .venv/bin/python benchmarks/sentiment_eval.py

Test sets (the model never trained or was tuned on any of them):
  Google News   the fixed test quarter of our labelled Google News crypto headlines
                (training/sentiment/data/googlenews_headlines.csv, split=test)
  CoinDesk      the test split of our labelled CoinDesk data-api titles, 2025-09/10
                (training/sentiment/data/coindesk_dataapi_labels.csv; no licence: the
                text is read from ../shared/headlines)
  CoinDesk +sub the same articles labelled from title + subtitle (benchmarks/data/):
                scoring the title alone vs title + subtitle
  CryptoLin     2,683 crypto titles, 3 annotators (licence unknown: read from
                ../shared/headlines at evaluation time, never copied into the project)
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
from training.sentiment.data import COINDESK_TEXT, coindesk, google_news  # noqa: E402

SHARED = PROJECT.parent / "shared" / "headlines"
CRYPTOLIN = SHARED / "labelled_crypto_cryptolin_2683_titles_3human_annotators_2018-07_2022-01.csv"
COINDESK_SUBTITLE_LABELS = PROJECT / "benchmarks/data/coindesk_dataapi_subtitle_labels.csv"

Labelled = list[tuple[str, str]]


def cryptolin() -> Labelled:
    labels = {"-1": "negative", "0": "neutral", "1": "positive"}
    with CRYPTOLIN.open(newline="", encoding="utf-8", errors="replace") as f:
        return [(r["news"], labels[r["final_manual_labelling"]]) for r in csv.DictReader(f)]


def coindesk_with_subtitles() -> tuple[Labelled, Labelled]:
    """(title, label) and (title + subtitle, label), labels read from title + subtitle."""
    with COINDESK_SUBTITLE_LABELS.open(newline="") as f:
        labels = {r["ID"]: r["label"] for r in csv.DictReader(f)}
    with COINDESK_TEXT.open(newline="", encoding="utf-8") as f:
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
    test = google_news("test")
    report("Google News crypto test split (our labels)", test)
    speed_texts = [text for text, _ in test]
    if COINDESK_TEXT.exists():
        report("CoinDesk data-api test split, 2025-09/10 (our labels)", coindesk("test"))
        titles, both = coindesk_with_subtitles()
        report("the same CoinDesk articles, labelled from title + subtitle: title alone", titles)
        report("the same CoinDesk articles, labelled from title + subtitle: title + subtitle", both)
    else:
        print(f"\n(CoinDesk titles not found at {COINDESK_TEXT}: skipped)")
    if CRYPTOLIN.exists():
        lin = cryptolin()
        report("CryptoLin (3 annotators, majority)", lin)
        speed_texts += [text for text, _ in lin]
    else:
        print(f"\n(CryptoLin not found at {CRYPTOLIN}: skipped)")
    print(
        f"\nspeed: {speed(speed_texts):,.0f} headlines/s on one core ({len(speed_texts)} headlines)"
    )


if __name__ == "__main__":
    main()
