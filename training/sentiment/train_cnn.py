"""Train the word-order half of the sentiment model: streaming/models/sentiment_cnn.npz.

A 1-D convolutional network over the static MiniLM token vectors of a headline: filters over
2 and 3 consecutive tokens (max over the headline) plus the mean vector, then a linear layer.
The linear head of train.py reads a bag of words; this reads short phrases in order ("fails
to break", "despite the drop"). streaming.sentiment averages the two models' probabilities:
5-fold cross-validation gave 0.728 for the average against 0.708 for the linear head alone
(training/sentiment/EXPERIMENTS.md).

Same data and weights as train.py. Needs PyTorch, kept out of the project's environment
(see distill_static.py for the separate venv); one CPU thread and fixed seeds, so the same
inputs give the same weights. Scoring is plain numpy (streaming.sentiment.ConvModel).

    var/train-venv/bin/python -m training.sentiment.train_cnn
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from streaming.sentiment import LABELS, MODEL_DIR, ConvModel, load_static
from training.sentiment.train import Params, training_set

OUTPUT = MODEL_DIR / "sentiment_cnn.npz"
FILTERS = 192
EPOCHS = 6
BATCH = 64
LEARNING_RATE = 2e-3
WEIGHT_DECAY = 1e-5
DROPOUT = 0.3
SEED = 0


def main() -> None:
    import torch
    from torch import nn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    static = load_static()
    dim = static.vectors.shape[1]
    table = torch.from_numpy(np.vstack([np.zeros((1, dim), np.float32), static.vectors]))

    class Network(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding.from_pretrained(table, freeze=True, padding_idx=0)
            self.conv2 = nn.Conv1d(dim, FILTERS, 2, padding=1)
            self.conv3 = nn.Conv1d(dim, FILTERS, 3, padding=1)
            self.dropout = nn.Dropout(DROPOUT)
            self.out = nn.Linear(2 * FILTERS + dim, len(LABELS))

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            mask = (ids > 0).float().unsqueeze(1)
            e = self.embed(ids).transpose(1, 2)
            length = ids.shape[1]
            h2 = torch.relu(self.conv2(e))[:, :, :length].masked_fill(mask == 0, -1e4)
            h3 = torch.relu(self.conv3(e)).masked_fill(mask == 0, -1e4)
            mean = (e * mask).sum(2) / mask.sum(2).clamp(min=1)
            features = torch.cat([h2.max(2).values, h3.max(2).values, mean], 1)
            return self.out(self.dropout(features))

    examples, weights = training_set(Params())
    rows = ConvModel.token_rows([text for text, _ in examples])
    ids = torch.from_numpy(rows + 1)  # row 0 is padding
    y = torch.tensor([LABELS.index(label) for _, label in examples])
    w = torch.tensor(weights, dtype=torch.float32)
    network = Network()
    trainable = [p for p in network.parameters() if p.requires_grad]
    optimiser = torch.optim.Adam(trainable, lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    order = torch.Generator().manual_seed(SEED)
    for _ in range(EPOCHS):
        network.train()
        for batch in torch.randperm(len(ids), generator=order).split(BATCH):
            losses = nn.functional.cross_entropy(network(ids[batch]), y[batch], reduction="none")
            loss = (losses * w[batch]).sum() / w[batch].sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()

    def weights_of(conv: nn.Conv1d) -> np.ndarray:
        """(out, in, k) -> (k * in, out): the rows a window of k token vectors multiplies."""
        return conv.weight.detach().numpy().transpose(2, 1, 0).reshape(-1, FILTERS)

    ConvModel(
        conv2=weights_of(network.conv2),
        conv2_bias=network.conv2.bias.detach().numpy(),
        conv3=weights_of(network.conv3),
        conv3_bias=network.conv3.bias.detach().numpy(),
        out=network.out.weight.detach().numpy().T.copy(),
        out_bias=network.out.bias.detach().numpy(),
    ).save(args.output)
    print(f"{args.output}: trained on {len(examples)} examples")


if __name__ == "__main__":
    main()
