"""The page's static files as production serves them: WhiteNoise under a versioned prefix.

``/static/<version>/...`` where the version is a digest of every file in static/, so a
URL names one content forever: one-year ``Cache-Control`` with ``immutable``, and a
warm reload asks the server for nothing. The ES modules import each other relatively
(``./wire.js``, ``./vendor/...``), so they all resolve under the same prefix.

Brotli and gzip copies are made once per version into the instance folder
(``instance/static/<version>/``, a copy of static/ with ``.br`` and ``.gz`` beside each
file), by ``scripts/setup-env.sh`` at set-up or, failing that, by the first worker that
starts. A copy rather than files beside static/'s own: an edited file can never be
served with a stale compressed twin, because an edit is a new version. Where the
instance folder cannot be written, static/ is served as it is, uncompressed.

Imported by app.py (static_version, install_static_files); ``python -m
streamchat.web.static_files`` is the set-up step.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import tempfile
from pathlib import Path

from flask import Flask
from whitenoise import WhiteNoise
from whitenoise.compress import Compressor

from .headers import SECURITY_HEADERS

STATIC_FOLDER = Path(__file__).resolve().parents[2] / "static"
ONE_YEAR_SECONDS = 31_536_000
# Our own outputs and set-up stamps (.installed-lock) are not part of the page.
_COMPRESSED_SUFFIXES = (".br", ".gz")


def page_files(folder: Path) -> list[Path]:
    """The files the page may request, relative to ``folder``, sorted."""
    found = []
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.is_file() and path.suffix not in _COMPRESSED_SUFFIXES:
            found.append(relative)
    return sorted(found)


def static_version(folder: Path = STATIC_FOLDER) -> str:
    """A digest of every page file's name and bytes: any edit gives a new version."""
    digest = hashlib.sha256()
    for relative in page_files(folder):
        digest.update(relative.as_posix().encode() + b"\0")
        digest.update(hashlib.sha256((folder / relative).read_bytes()).digest())
    return digest.hexdigest()[:12]


def compressed_tree(folder: Path, cache: Path, version: str) -> Path:
    """``cache/<version>``: a copy of ``folder``'s page files with .br/.gz beside each.

    Built beside it and renamed into place, so workers starting together never serve a
    half-written tree: the first rename wins and the others drop their own copy.
    """
    target = cache / version
    if target.is_dir():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=cache))
    try:
        compressor = Compressor(quiet=True)
        for relative in page_files(folder):
            copy = build / relative
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(folder / relative, copy)
            # Source maps are fetched by developer tools only: not worth brotli's time.
            if compressor.should_compress(copy.name) and copy.suffix != ".map":
                compressor.compress(str(copy))
        # The copy must still be what the version names: no edit landed meanwhile.
        if static_version(build) != version:
            raise OSError(f"{folder} changed while it was being compressed")
        build.rename(target)
    except OSError:
        if not target.is_dir():
            raise
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return target


def _add_security_headers(headers, path, url) -> None:
    # WhiteNoise answers before Flask, so Flask's after_request never sees these.
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)


class _VersionedStatic(WhiteNoise):
    # WhiteNoise's "forever" is ten years; a year is the customary far-future value (the
    # most RFC 2616 let Expires say), and ample for URLs that change with every edit.
    FOREVER = ONE_YEAR_SECONDS


def install_static_files(app: Flask, version: str, folder: Path = STATIC_FOLDER) -> None:
    """Serve ``folder`` at ``/static/<version>/`` through WhiteNoise, compressed when the
    instance folder can hold the compressed copy. ``app`` was made with
    ``static_url_path=f"/static/{version}"``, so ``url_for('static', ...)`` in templates
    gives these URLs, and Flask's own route there answers what WhiteNoise does not know."""
    try:
        served = compressed_tree(folder, Path(app.instance_path) / "static", version)
    except OSError as error:  # read-only instance folder: correct files, uncompressed
        app.logger.warning("serving static files uncompressed: %s", error)
        served = folder
    whitenoise = _VersionedStatic(
        app.wsgi_app,
        # Every URL under the prefix is content-addressed by the version.
        immutable_file_test=lambda path, url: True,
        add_headers_function=_add_security_headers,
    )
    whitenoise.add_files(str(served), prefix=f"static/{version}/")
    app.wsgi_app = whitenoise


def main() -> None:
    """Set-up step: compress this static/ into ``instance/static/<version>``."""
    # Flask's instance folder for app.py at the project root.
    version = static_version()
    tree = compressed_tree(STATIC_FOLDER, STATIC_FOLDER.parent / "instance" / "static", version)
    sys.stdout.write(f"static files {version}: {tree}\n")


if __name__ == "__main__":
    main()
