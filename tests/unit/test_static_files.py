"""Static files as production serves them (streamchat/web/static_files.py): versioned
URLs cached for a year, brotli and gzip made once per version, the page itself never
cached, and the compressed copy's making (by set-up or by the first worker)."""

from __future__ import annotations

import gzip
import re

import brotli
import pytest
from flask import Flask

from streamchat.web.static_files import (
    STATIC_FOLDER,
    compressed_tree,
    install_static_files,
    page_files,
    static_version,
)

IMMUTABLE = "max-age=31536000, public, immutable"


def script_url(client) -> str:
    """The entry module's URL as the page names it."""
    html = client.get("/").data.decode()
    return re.search(r'<script type="module" src="([^"]+)"></script>', html).group(1)


def test_page_names_versioned_urls_and_is_never_cached(app):
    client = app.test_client()
    response = client.get("/")
    version = static_version()
    assert script_url(client) == f"/static/{version}/chat.js"
    assert response.headers["Cache-Control"] == "no-cache"
    html = response.data.decode()
    # Every static URL in the page carries the version: none would be cached stale.
    assert re.findall(r'(?:href|src)="(/static/[^"]*)"', html)
    assert all(u.startswith(f"/static/{version}/") for u in re.findall(r'"(/static/[^"]*)"', html))


@pytest.mark.parametrize(
    ("accept", "encoding", "decode"),
    [("br, gzip", "br", brotli.decompress), ("gzip", "gzip", gzip.decompress), ("", None, bytes)],
)
def test_static_file_is_immutable_and_compressed_as_asked(app, accept, encoding, decode):
    client = app.test_client()
    response = client.get(script_url(client), headers={"Accept-Encoding": accept})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == IMMUTABLE
    assert response.headers.get("Content-Encoding") == encoding
    assert response.headers["Content-Type"].startswith("text/javascript")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert decode(response.data) == (STATIC_FOLDER / "chat.js").read_bytes()


def test_unversioned_and_other_versions_are_not_found(app):
    client = app.test_client()
    assert client.get("/static/chat.js").status_code == 404
    assert client.get("/static/000000000000/chat.js").status_code == 404


def test_version_changes_with_any_byte_of_any_file(tmp_path):
    folder = tmp_path / "static"
    (folder / "vendor").mkdir(parents=True)
    (folder / "a.js").write_text("export const a = 1;\n")
    (folder / "vendor" / "b.js").write_text("export const b = 2;\n")
    (folder / "vendor" / ".installed-lock").write_text("stamp")
    before = static_version(folder)
    assert [p.as_posix() for p in page_files(folder)] == ["a.js", "vendor/b.js"]
    (folder / "vendor" / ".installed-lock").write_text("another stamp")  # not a page file
    assert static_version(folder) == before
    (folder / "vendor" / "b.js").write_text("export const b = 3;\n")
    assert static_version(folder) != before


def test_compressed_tree_is_made_once_per_version(tmp_path):
    folder = tmp_path / "static"
    folder.mkdir()
    source = "body { color: black; }\n" * 200
    (folder / "page.css").write_text(source)
    version = static_version(folder)
    tree = compressed_tree(folder, tmp_path / "cache", version)
    assert tree == tmp_path / "cache" / version
    assert sorted(p.name for p in tree.iterdir()) == ["page.css", "page.css.br", "page.css.gz"]
    assert brotli.decompress((tree / "page.css.br").read_bytes()).decode() == source
    assert gzip.decompress((tree / "page.css.gz").read_bytes()).decode() == source
    # Nothing left behind from the build, and a second call reuses what is there.
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [version]
    (tree / "page.css.br").write_bytes(b"marker")
    assert compressed_tree(folder, tmp_path / "cache", version) == tree
    assert (tree / "page.css.br").read_bytes() == b"marker"


def test_a_folder_edited_while_compressing_is_refused(tmp_path):
    folder = tmp_path / "static"
    folder.mkdir()
    (folder / "page.css").write_text("a {}\n")
    stale_version = static_version(folder)
    (folder / "page.css").write_text("b {}\n")
    with pytest.raises(OSError, match="changed"):
        compressed_tree(folder, tmp_path / "cache", stale_version)
    assert list((tmp_path / "cache").iterdir()) == []


def test_without_a_writable_instance_folder_files_are_served_uncompressed(tmp_path):
    blocked = tmp_path / "instance"
    blocked.write_text("a file where the instance folder would be")
    version = static_version()
    app = Flask(__name__, instance_path=str(blocked), static_url_path=f"/static/{version}")
    install_static_files(app, version)
    response = app.test_client().get(
        f"/static/{version}/chat.js", headers={"Accept-Encoding": "br, gzip"}
    )
    assert response.status_code == 200
    assert response.headers.get("Content-Encoding") is None
    assert response.headers["Cache-Control"] == IMMUTABLE
    assert response.data == (STATIC_FOLDER / "chat.js").read_bytes()
