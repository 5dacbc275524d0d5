"""The tokenizer files OpenAI's models use (``o200k_base``, ``cl100k_base``), installed at
set-up from a registry package and loaded into tiktoken without any network.

Where they come from: the npm package ``js-tiktoken`` (pinned in package-lock.json) ships
every encoding's ranks as a compact JSON module (``dist/ranks/<name>.js``: lines of
``<tag> <first rank> <token> <token> ...``, each token base64). ``install_encodings``
rebuilds tiktoken's own file from it (one ``<base64 token> <rank>`` line per token, by
rank) and keeps it only when its sha256 is the one tiktoken itself checks for that
encoding: byte for byte the file OpenAI publishes, whoever packaged it. It is written
under the name tiktoken's cache gives it (the sha1 of the file's address), so tiktoken's
own constructor (its split pattern and special tokens) reads it from
``TIKTOKEN_CACHE_DIR`` and never downloads.

Run at set-up (scripts/setup-env.sh, ``install_tokenizers``): ``main()``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

LOG = logging.getLogger("streamchat.budgets")


@dataclass(frozen=True)
class KnownEncoding:
    """One encoding: tiktoken's cache name for its file and the file's sha256."""

    name: str
    cache_name: str  # sha1 of the address tiktoken_ext.openai_public loads it from
    sha256: str  # tiktoken_ext.openai_public's expected_hash


KNOWN = {
    e.name: e
    for e in (
        KnownEncoding(
            "o200k_base",
            "fb374d419588a4632f3f557e76b4b70aebbca790",
            "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        ),
        KnownEncoding(
            "cl100k_base",
            "9b5ad71b2ce5302211f9c61530b329a4922fc6a4",
            "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        ),
    )
}
DEFAULT_SOURCE = Path("node_modules/js-tiktoken/dist/ranks")
DEFAULT_FOLDER = Path("instance/tokenizers")
_ENVIRONMENT_LOCK = threading.Lock()


def tiktoken_file(ranks_module: str) -> bytes:
    """tiktoken's file for the encoding in js-tiktoken's ``ranks_module`` source text."""
    start = ranks_module.index("{")
    end = ranks_module.rindex("}") + 1
    compact = json.loads(ranks_module[start:end])["bpe_ranks"]
    ranked: list[tuple[int, str]] = []
    for line in compact.split("\n"):
        if not line:
            continue
        _, first, *tokens = line.split(" ")
        ranked.extend((int(first) + i, token) for i, token in enumerate(tokens))
    ranked.sort()
    return "".join(f"{token} {rank}\n" for rank, token in ranked).encode("ascii")


def install_encodings(source: Path = DEFAULT_SOURCE, folder: Path = DEFAULT_FOLDER) -> list[str]:
    """Write each known encoding whose rebuilt file has tiktoken's sha256 into ``folder``;
    raise ValueError for one that does not (the package is not what it says)."""
    folder.mkdir(parents=True, exist_ok=True)
    installed = []
    for known in KNOWN.values():
        target = folder / known.cache_name
        if _verified(target, known):
            installed.append(known.name)
            continue
        data = tiktoken_file((source / f"{known.name}.js").read_text("utf-8"))
        if hashlib.sha256(data).hexdigest() != known.sha256:
            raise ValueError(f"{source}/{known.name}.js is not {known.name}: sha256 differs")
        partial = target.with_suffix(".partial")
        partial.write_bytes(data)
        partial.replace(target)  # readers see the whole file or none
        installed.append(known.name)
    return installed


def _verified(path: Path, known: KnownEncoding) -> bool:
    try:
        data = path.read_bytes()
    except OSError:
        return False
    return hashlib.sha256(data).hexdigest() == known.sha256


def load_encodings(folder: Path, names: set[str]):
    """tiktoken Encodings for ``names``, by name, from the files in ``folder``; an
    encoding whose file is missing or altered is left out (logged): its models are then
    counted by the conservative bound. Never downloads anything."""
    loaded = {}
    wanted = [KNOWN[name] for name in sorted(names) if name in KNOWN]
    for known in wanted:
        if not _verified(folder / known.cache_name, known):
            LOG.warning("tokenizer_missing", extra={"encoding": known.name, "folder": str(folder)})
            continue
        loaded[known.name] = _tiktoken_encoding(known.name, folder)
    return loaded


def _tiktoken_encoding(name: str, folder: Path):
    import tiktoken  # only at start-up, and only when a known model is served

    # tiktoken reads TIKTOKEN_CACHE_DIR when it loads: pointed at our verified file (its
    # hash matches, so tiktoken takes it and goes nowhere), then put back.
    with _ENVIRONMENT_LOCK:
        before = os.environ.get("TIKTOKEN_CACHE_DIR")
        os.environ["TIKTOKEN_CACHE_DIR"] = str(folder.resolve())
        try:
            return tiktoken.get_encoding(name)
        finally:
            if before is None:
                del os.environ["TIKTOKEN_CACHE_DIR"]
            else:
                os.environ["TIKTOKEN_CACHE_DIR"] = before


def main() -> None:
    """Install the files from node_modules into instance/tokenizers (run from the
    project's folder); exit 1 naming the file that does not check out."""
    try:
        done = install_encodings()
    except (OSError, ValueError) as error:
        print(f"error: tokenizer files: {error}", file=sys.stderr)
        sys.exit(1)
    print("tokenizer files:", ", ".join(done), file=sys.stderr)
