"""What counting a conversation's input costs (docs/budgets.md, "Counting the input"):
``python -m bench.counting`` (after the set-up has installed the tokenizer files).

For 1 k, 32 k and 200 k characters of English (this repository's docs) and of the
densest text an attacker can send cheaply, it times ``TextCounts.input_tokens`` for a
gpt-4o conversation of 8 equal messages: cold (every message new to the worker: what a
new conversation, or an attacker sending fresh text each time, costs) and warm (the same
conversation again with one short new message: what each next turn of a chat costs).
Each figure is the median of 7 runs, in milliseconds of CPU (process time).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from streamchat.budgets import TextCounts
from streamchat.budgets.encodings import KNOWN, load_encodings

ROOT = Path(__file__).resolve().parents[1]
SIZES = (1_000, 32_000, 200_000)
MESSAGES = 8
RUNS = 7


def _texts(chars: int) -> dict[str, str]:
    english = "\n".join(p.read_text("utf-8") for p in sorted((ROOT / "docs").glob("*.md")))
    english = (english * (1 + chars // len(english)))[:chars]
    punctuation = ("!@#$%^&*()[]{};:,.<>?/|~`" * (1 + chars // 25))[:chars]
    return {"english": english, "punctuation": punctuation}


def _conversation(text: str, salt: int) -> list[dict]:
    size = len(text) // MESSAGES
    # The salt makes every cold run's texts new to the cache.
    return [{"content": f"{salt} " + text[i * size : (i + 1) * size]} for i in range(MESSAGES)]


def _cpu_ms(counts: TextCounts, messages: list[dict]) -> float:
    start = time.process_time()
    counts.input_tokens("gpt-4o", messages)
    return (time.process_time() - start) * 1000


def measure(encodings: dict) -> list[tuple[str, int, int, float, float]]:
    """(kind, characters, tokens, cold ms, warm ms) for each size and kind of text."""
    rows = []
    for chars in SIZES:
        for kind, text in _texts(chars).items():
            counts = TextCounts(encodings)
            cold, warm = [], []
            for run in range(RUNS):
                messages = _conversation(text, run)
                cold.append(_cpu_ms(counts, messages))
                turn = [*messages, {"content": f"one more question, number {run}"}]
                warm.append(_cpu_ms(counts, turn))
            tokens = counts.input_tokens("gpt-4o", _conversation(text, 0))
            rows.append((kind, chars, tokens, statistics.median(cold), statistics.median(warm)))
    return rows


def main() -> None:
    """Print the table docs/budgets.md quotes."""
    encodings = load_encodings(ROOT / "instance" / "tokenizers", set(KNOWN))
    if "o200k_base" not in encodings:
        raise SystemExit("no tokenizer files: run scripts/setup-env.sh's install_tokenizers")
    print("| text | characters | tokens (o200k_base) | cold, CPU ms | warm (next turn), CPU ms |")
    print("| --- | --- | --- | --- | --- |")
    for kind, chars, tokens, cold, warm in measure(encodings):
        print(f"| {kind} | {chars:,} | {tokens:,} | {cold:.2f} | {warm:.3f} |")


if __name__ == "__main__":
    main()
