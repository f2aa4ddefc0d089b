"""`cryptoviz sentiment`: arguments or stdin lines in, one label and score per line out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from streaming.sentiment import score_many

CLI = str(Path(sys.executable).parent / "cryptoviz")
HEADLINES = [
    "Bitcoin surges past $70,000 to a record high",
    "SEC sues Binance and its founder for fraud",
    "What is a crypto wallet? A beginner's guide",
]


def run(*args: str, stdin: str | None = None) -> list[str]:
    done = subprocess.run(
        [CLI, "sentiment", *args], input=stdin, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_json_from_stdin_is_one_object_per_input_line() -> None:
    lines = [*HEADLINES, "", "Ether slides as 'whales' sell: \"capitulation\"? ünï 🚀"]
    out = run("--json", stdin="\n".join(lines) + "\n")
    assert len(out) == len(lines)
    expected = score_many(lines)
    for text, line, result in zip(lines, out, expected, strict=True):
        record = json.loads(line)
        assert record["text"] == text
        assert record["label"] in {"positive", "neutral", "negative"}
        assert -1.0 <= record["score"] <= 1.0
        assert record["label"] == result.label  # the same model as the news stream
        assert abs(record["score"] - result.score) < 1e-4


def test_json_from_arguments() -> None:
    records = [json.loads(line) for line in run("--json", *HEADLINES)]
    assert [r["text"] for r in records] == HEADLINES
    assert [r["label"] for r in records] == ["positive", "negative", "neutral"]


def test_plain_output_has_label_and_score_per_line() -> None:
    out = run(stdin="\n".join(HEADLINES))  # no trailing newline: the last line still counts
    assert len(out) == len(HEADLINES)
    for line, text, result in zip(out, HEADLINES, score_many(HEADLINES), strict=True):
        label, value, rest = line.split(maxsplit=2)
        assert (label, rest) == (result.label, text)
        assert float(value) == round(result.score, 3)


def test_many_lines_stream_through_in_batches() -> None:
    lines = [f"Bitcoin price update number {i}" for i in range(600)]  # more than one batch
    out = run("--json", stdin="\n".join(lines))
    assert [json.loads(line)["text"] for line in out] == lines
