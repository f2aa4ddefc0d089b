"""Train the headline sentiment model: streaming/models/sentiment_head.npz, deterministically.

A multinomial logistic regression over the two feature views of streaming.text_features
(hashed n-grams and distilled MiniLM embeddings), fitted by L-BFGS with numpy and scipy
only: the same inputs give the same bytes, and no ML framework is needed to rebuild it.

Learns from the train split of our labelled real crypto headlines (classes weighted
equally), the headlines we wrote for training, and Twitter Financial News (equities,
weighted down: cross-validation showed it helps little on crypto). The crypto test split is
never read here. `--cv` prints 5-fold cross-validated accuracy on the real crypto train
split for the settings below (written headlines and tweets always in training), which is
how they were chosen.

    .venv/bin/python -m training.sentiment.train        # writes the model
    .venv/bin/python -m training.sentiment.train --cv   # cross-validation only
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy import optimize, sparse

from streaming.sentiment import LABELS, MODEL_DIR, HeadModel, load_static
from streaming.text_features import StaticEmbeddings, fit_idf, ngram_matrix
from training.sentiment.data import Example, coindesk, crypto, google_news, twitter, written

OUTPUT = MODEL_DIR / "sentiment_head.npz"


@dataclass(frozen=True)
class Params:
    l2: float = 3e-5  # L2 penalty on the weights (per mean example)
    twitter_weight: float = 0.05  # weight of an equities tweet relative to a crypto headline
    written_weight: float = 1.0  # weight of a written headline relative to a real one
    ngram_scale: float = 1.0  # scale of the n-gram view
    static_scale: float = 1.0  # scale of the embedding view
    balance_classes: bool = True  # weigh crypto classes equally (negative news is the rarest)


def features(
    texts: list[str], idf: np.ndarray, params: Params, table: StaticEmbeddings | None = None
) -> sparse.csr_matrix:
    """Both views side by side, scaled as HeadModel scales them when scoring."""
    ngrams = ngram_matrix(texts, idf) * params.ngram_scale
    static = (table or load_static()).embed(texts) * params.static_scale
    return sparse.hstack([ngrams, sparse.csr_matrix(static)], format="csr")


def fit(x: sparse.csr_matrix, y: np.ndarray, weights: np.ndarray, l2: float) -> np.ndarray:
    """Softmax regression by L-BFGS from zeros: (features + 1) x classes, bias last."""
    n, d = x.shape
    k = len(LABELS)
    onehot = np.zeros((n, k))
    onehot[np.arange(n), y] = 1.0
    w = weights / weights.sum()

    def loss(flat: np.ndarray) -> tuple[float, np.ndarray]:
        coef = flat.reshape(d + 1, k)
        logits = x @ coef[:-1] + coef[-1]
        logits -= logits.max(axis=1, keepdims=True)
        log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        value = -(w * (log_p * onehot).sum(axis=1)).sum() + 0.5 * l2 * (coef[:-1] ** 2).sum()
        residual = (np.exp(log_p) - onehot) * w[:, None]
        grad = np.vstack([x.T @ residual + l2 * coef[:-1], residual.sum(axis=0)])
        return float(value), grad.ravel()

    result = optimize.minimize(
        loss, np.zeros((d + 1) * k), jac=True, method="L-BFGS-B", options={"maxiter": 1000}
    )
    return result.x.reshape(d + 1, k)


def train(
    examples: list[Example],
    weights: np.ndarray,
    params: Params,
    table: StaticEmbeddings | None = None,
) -> HeadModel:
    texts = [text for text, _ in examples]
    y = np.array([LABELS.index(label) for _, label in examples])
    idf = fit_idf(texts)
    coef = fit(features(texts, idf, params, table), y, weights, params.l2)
    ngram_rows = len(idf)
    return HeadModel(
        idf=idf,
        ngram_weights=(coef[:ngram_rows] * params.ngram_scale).astype(np.float32),
        static_weights=(coef[ngram_rows:-1] * params.static_scale).astype(np.float32),
        bias=coef[-1].astype(np.float32),
    )


def weights_for(real: list[Example], written: int, tweets: int, params: Params) -> np.ndarray:
    """Per-example weights: real crypto headlines (balanced per class if asked), then the
    written headlines and the tweets at their relative weights."""
    labels = [label for _, label in real]
    weights = np.ones(len(labels))
    if params.balance_classes:
        for label in LABELS:
            chosen = np.array([lab == label for lab in labels])
            weights[chosen] = len(labels) / (len(LABELS) * chosen.sum())
    return np.concatenate(
        [weights, np.full(written, params.written_weight), np.full(tweets, params.twitter_weight)]
    )


def training_set(params: Params) -> tuple[list[Example], np.ndarray]:
    real, invented, tweets = crypto("train"), written(), twitter()
    return real + invented + tweets, weights_for(real, len(invented), len(tweets), params)


def load_table(path: Path) -> StaticEmbeddings:
    with np.load(path) as f:
        return StaticEmbeddings(list(f["entries"]), f["vectors"])


def cross_validate(
    params: Params, folds: int = 5, static_dir: Path | None = None
) -> dict[str, float]:
    """Accuracy on held-out folds of the real crypto train split, overall and per pool
    (written headlines and tweets always in training).

    With `static_dir`, fold k uses static_dir/static_fold{k}.npz: a table distilled from an
    encoder fine-tuned without fold k (training/sentiment/finetune.py --fold k).
    """
    pools = {"google news": google_news("train"), "coindesk": coindesk("train")}
    real = [e for pool in pools.values() for e in pool]
    pool_of = np.array([name for name, pool in pools.items() for _ in pool])
    invented, tweets = written(), twitter()
    extra = invented + tweets
    fold_of = np.arange(len(real)) % folds
    np.random.default_rng(0).shuffle(fold_of)
    right = np.zeros(len(real), dtype=bool)
    for fold in range(folds):
        kept = [e for e, f in zip(real, fold_of, strict=True) if f != fold]
        held = np.flatnonzero(fold_of == fold)
        table = load_table(static_dir / f"static_fold{fold}.npz") if static_dir else None
        weights = weights_for(kept, len(invented), len(tweets), params)
        model = train(kept + extra, weights, params, table)
        predicted = model.labels([real[i][0] for i in held], table)
        right[held] = [p == real[i][1] for p, i in zip(predicted, held, strict=True)]
    return {"all": float(right.mean())} | {
        name: float(right[pool_of == name].mean()) for name in pools
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cv", action="store_true", help="cross-validate only, write nothing")
    parser.add_argument("--static-dir", type=Path, help="per-fold static tables for --cv")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="override a Params field"
    )
    args = parser.parse_args()
    params = Params()
    for setting in args.set:
        name, value = setting.split("=", 1)
        kind = type(getattr(params, name))
        params = replace(params, **{name: value == "True" if kind is bool else kind(value)})
    if args.cv:
        accuracy = cross_validate(params, static_dir=args.static_dir)
        figures = ", ".join(f"{pool} {value:.3f}" for pool, value in accuracy.items())
        print(f"{params}: 5-fold CV accuracy {figures}")
        return
    examples, weights = training_set(params)
    train(examples, weights, params).save(args.output)
    print(f"{args.output}: trained on {len(examples)} examples")


if __name__ == "__main__":
    main()
