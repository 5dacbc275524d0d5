"""How a scenario starts the app: from which tree, with which settings, signed in or not.

``--app-dir DIR`` runs the app from another checkout (a "before" worktree) under this
bench, so before and after are measured by the same harness. ``--app-setting NAME=VALUE``
adds a setting. ``--signed-in`` turns on ``AUTH=password`` with a secret key, a user and
an API token made for this run only, and signs every stream in: with the token
(``token``, the default) or with the session cookie a ``POST /login`` returns
(``session``). The app's machine-wide SQLite file (budgets, sign-in throttles) goes to
the run's own temporary folder.

All of it goes through the app's documented configuration and its HTTP interface, never
its modules, so the bench keeps working while the app's insides move.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import secrets
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from .http1 import split_head, status_code
from .loadgen import CHAT_BODY
from .servers import ROOT

SIGN_IN_MODES = ("token", "session")
# Settings whose values bench results must never hold.
_SECRETS = frozenset({"SECRET_KEY", "API_TOKENS", "AUTH_USERS", "OPENAI_API_KEY", "METRICS_TOKEN"})
_USER = "bench"


def setting(text: str) -> tuple[str, str]:
    """argparse type of ``--app-setting``: ``NAME=VALUE``."""
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError("a setting looks like NAME=VALUE")
    return name, value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every scenario that starts the app takes."""
    group = parser.add_argument_group("the app")
    group.add_argument(
        "--app-dir",
        type=Path,
        default=ROOT,
        metavar="DIR",
        help="run the app from this checkout (default: this one)",
    )
    group.add_argument(
        "--app-setting",
        type=setting,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for the app, e.g. TOKEN_BUDGET=1000000000/day (repeatable)",
    )
    group.add_argument(
        "--signed-in",
        nargs="?",
        const="token",
        choices=SIGN_IN_MODES,
        help="AUTH=password, every stream signed in with an API token (or a session cookie)",
    )


@dataclass
class AppConfig:
    """The app's tree, its extra environment, and how each request signs in."""

    root: Path
    workdir: Path  # the run's own folder: the app's machine-wide SQLite file goes there
    settings: dict[str, str] = field(default_factory=dict)  # asked for, sign-in's included
    sign_in: str | None = None
    token: str = ""
    password: str = ""
    conversation: bool = False  # each stream's turn kept in one conversation

    def env(self) -> dict[str, str]:
        """The environment the app gets on top of its variant's own: the machine file
        and the database (a SQLite file) in the run's folder, unless set."""
        return {
            "SQLITE_PATH": str(self.workdir / "machine.sqlite3"),
            "DATABASE_URL": f"sqlite:///{self.workdir / 'database.sqlite3'}",
            **self.settings,
        }

    def migrate(self) -> None:
        """Make the database's schema (``flask db upgrade``), where the tree has one."""
        if not (self.root / "migrations").is_dir():
            return  # a tree from before the database
        env = {**os.environ, **self.env(), "FLASK_SKIP_DOTENV": "1"}
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"],
            cwd=self.root,
            env=env,
            check=True,
            capture_output=True,
        )

    async def body(self, port: int, headers: dict[str, str]) -> bytes:
        """The body each stream sends: with ``conversation``, one conversation's id."""
        if not self.conversation:
            return CHAT_BODY
        made = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/conversations",
            data=b"{}",
            headers={"Content-Type": "application/json", **headers},
            method="POST",
        )
        with urllib.request.urlopen(made, timeout=30) as answer:  # setup, not measured
            conversation_id = json.load(answer)["id"]
        body = json.loads(CHAT_BODY)
        return json.dumps({"conversation_id": conversation_id, **body}).encode()

    @property
    def features(self) -> bool:
        """Whether anything beyond the plain app was asked for."""
        return bool(self.settings) or self.sign_in is not None

    def shown(self) -> dict[str, str]:
        """The settings as results may record them: names, never a secret's value."""
        return {k: "<set>" if k in _SECRETS else v for k, v in self.settings.items()}

    async def headers(self, port: int) -> dict[str, str]:
        """The headers each stream sends to the app listening on ``port``."""
        if self.sign_in == "token":
            return {"Authorization": f"Bearer {self.token}"}
        if self.sign_in == "session":
            return {"Cookie": await _log_in(port, self.password)}
        return {}


def _signed_in_settings(password: str, token: str) -> dict[str, str]:
    from werkzeug.security import generate_password_hash  # the hash AUTH_USERS holds

    return {
        "AUTH": "password",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "AUTH_USERS": f"{_USER}:{generate_password_hash(password, method='scrypt')}",
        # API_TOKENS holds the sha256 hex of each token (what `flask create-token` prints).
        "API_TOKENS": f"{_USER}:{hashlib.sha256(token.encode()).hexdigest()}",
    }


def app_config(args: argparse.Namespace, workdir: Path) -> AppConfig:
    """The AppConfig ``args`` ask for."""
    root = args.app_dir.resolve()
    if not (root / "wsgi.py").is_file():
        raise SystemExit(f"--app-dir {root}: no wsgi.py there")
    settings: dict[str, str] = {}
    config = AppConfig(root, workdir, settings, args.signed_in)
    if args.signed_in:
        config.token = "sc_" + secrets.token_urlsafe(32)  # shaped like the app's own tokens
        config.password = secrets.token_urlsafe(24)
        settings.update(_signed_in_settings(config.password, config.token))
    settings.update(dict(args.app_setting))
    return config


async def _log_in(port: int, password: str) -> str:
    """``POST /login`` as the run's user; the ``Cookie`` header value it sets."""
    body = f"username={_USER}&password={password}".encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            f"POST /login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    finally:
        writer.close()
    status_line, _, _ = split_head(head)
    cookies = [
        line.split(":", 1)[1].strip().split(";", 1)[0]
        for line in head.decode("latin-1").split("\r\n")
        if line.lower().startswith("set-cookie:")
    ]
    if status_code(status_line) != 303 or not cookies:
        raise RuntimeError(f"signing in failed: {status_line}")
    return "; ".join(cookies)
