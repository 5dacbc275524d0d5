"""Counting a conversation's input as an attacker would stretch it: token-dense text
("a b c …", digits, punctuation runs, base64, emoji, rare CJK) must never be counted
below what the upstream's tokenizer counts, for a known model (tiktoken) or any other
(the byte bound); and the tokenizer files are only taken when they are the real ones."""

from __future__ import annotations

from pathlib import Path

import pytest
import tiktoken

from streamchat.budgets.counting import TOKENS_PER_MESSAGE, TOKENS_PER_REPLY, encoding_for
from streamchat.budgets.encodings import KNOWN, install_encodings, load_encodings, tiktoken_file
from tests.support.budgets import TOKENIZERS, counted_input, text_counts
from tests.support.dense_text import dense_texts

ROOT = Path(__file__).resolve().parents[2]
RANKS = ROOT / "node_modules" / "js-tiktoken" / "dist" / "ranks"
DENSE = dense_texts(4000)
ENGLISH = (ROOT / "docs" / "architecture.md").read_text("utf-8")[:20000]


def _tokens(encoding: str, text: str) -> int:
    return len(text_counts().encodings[encoding].encode_ordinary(text))


@pytest.mark.parametrize("kind", sorted(DENSE))
@pytest.mark.parametrize("model", ["gpt-5.4-mini", "gpt-4o", "gpt-4.1", "o3-mini", "gpt-4"])
def test_dense_text_is_counted_as_the_models_tokenizer_counts_it(kind, model):
    text = DENSE[kind]
    expected = _tokens(encoding_for(model), text) + TOKENS_PER_MESSAGE + TOKENS_PER_REPLY
    assert counted_input([{"content": text}], model) == expected
    # The old estimate (4 ASCII characters a token) was well below for these.
    assert expected > len(text) / 4


@pytest.mark.parametrize("kind", sorted(DENSE))
def test_an_unknown_model_is_counted_above_every_known_tokenizer(kind):
    text = DENSE[kind]
    bound = counted_input([{"content": text}], "llama3.2:3b")
    assert bound == len(text.encode()) + TOKENS_PER_MESSAGE + TOKENS_PER_REPLY
    for encoding in KNOWN:
        assert bound > _tokens(encoding, text)


def test_english_is_counted_within_ten_percent_of_the_tokenizer():
    counted = counted_input([{"content": ENGLISH}], "gpt-4o") - TOKENS_PER_MESSAGE
    counted -= TOKENS_PER_REPLY
    assert abs(counted - _tokens("o200k_base", ENGLISH)) <= 0.1 * _tokens("o200k_base", ENGLISH)


def test_model_names_pick_their_encoding():
    assert [encoding_for(m) for m in ("gpt-4o-mini", "GPT-5", "o1", "o4-mini")] == [
        "o200k_base"
    ] * 4
    assert [encoding_for(m) for m in ("gpt-4", "gpt-4-turbo", "gpt-3.5-turbo")] == [
        "cl100k_base"
    ] * 3
    assert [encoding_for(m) for m in ("llama3", "my-azure-deployment", "qwen2.5")] == [None] * 3


class _Counting:
    """An encoding that counts how often it was asked."""

    def __init__(self, encoding) -> None:
        self.encoding, self.calls = encoding, 0

    def encode_ordinary(self, text: str) -> list[int]:
        self.calls += 1
        return self.encoding.encode_ordinary(text)


def test_a_long_message_is_tokenized_once_per_worker():
    from streamchat.budgets import TextCounts

    spy = _Counting(text_counts().encodings["o200k_base"])
    counts = TextCounts({"o200k_base": spy})
    history = [{"content": ENGLISH}, {"content": DENSE["base64"]}]
    first = counts.input_tokens("gpt-4o", history)
    second = counts.input_tokens("gpt-4o", [*history, {"content": "and one more"}])
    assert spy.calls == 3  # two long texts once, the short one each time it comes
    assert second == first + _tokens("o200k_base", "and one more") + TOKENS_PER_MESSAGE


def test_the_installed_files_are_tiktokens_own(tmp_path):
    assert install_encodings(RANKS, tmp_path) == ["o200k_base", "cl100k_base"]
    for known in KNOWN.values():
        ranks = tiktoken.load.load_tiktoken_bpe(str(tmp_path / known.cache_name), known.sha256)
        assert len(ranks) > 100_000


def test_a_tampered_package_is_refused(tmp_path):
    source = tmp_path / "ranks"
    source.mkdir()
    for known in KNOWN.values():
        text = (RANKS / f"{known.name}.js").read_text("utf-8")
        # Swap the first two tokens' ranks: a tokenizer that counts differently.
        text = text.replace("! 0 IQ== Ig==", "! 0 Ig== IQ==", 1)
        (source / f"{known.name}.js").write_text(text, "utf-8")
    with pytest.raises(ValueError, match="sha256 differs"):
        install_encodings(source, tmp_path / "out")
    assert not list((tmp_path / "out").glob("*"))


def test_an_altered_installed_file_is_not_loaded(tmp_path):
    known = KNOWN["cl100k_base"]
    data = (TOKENIZERS / known.cache_name).read_bytes()
    (tmp_path / known.cache_name).write_bytes(data.replace(b"IQ== 0", b"IQ== 1", 1))
    assert load_encodings(tmp_path, {"cl100k_base"}) == {}
    assert tiktoken_file((RANKS / "cl100k_base.js").read_text("utf-8")) == data
