"""The real OpenID provider for the sign-in tests: tests/support/oidc_provider.mjs (panva's
oidc-provider from node_modules) started with Node on 127.0.0.1, ready once its discovery
document answers."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time

import httpx2

from tests.support.environment import ROOT
from tests.support.launch import free_port

SCRIPT = ROOT / "tests/support/oidc_provider.mjs"
CLIENT_ID = "test-client"
CLIENT_SECRET = "test-client-secret-not-real"
ALLOWED_ACCOUNT = "allowed"  # allowed@example.test
OUTSIDER_ACCOUNT = "outsider"  # outsider@elsewhere.test
ALLOWED_EMAIL = "allowed@example.test"


class OpenIdProvider:
    """``with OpenIdProvider(redirect_uri) as idp:``; ``idp.issuer`` is its URL."""

    def __init__(self, redirect_uri: str) -> None:
        node = shutil.which("node")
        if node is None or not (ROOT / "node_modules/oidc-provider").exists():
            raise RuntimeError("node and node_modules/oidc-provider are needed (npm ci)")
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed in __exit__)
        self.process = subprocess.Popen(
            [node, str(SCRIPT), str(self.port), redirect_uri],
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def __enter__(self) -> OpenIdProvider:
        deadline = time.monotonic() + 30
        url = f"{self.issuer}/.well-known/openid-configuration"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if httpx2.get(url, timeout=2).status_code == 200:
                    return self
            except httpx2.HTTPError:
                pass
            time.sleep(0.1)
        self.__exit__()
        raise RuntimeError("the OpenID provider did not start")

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.log.close()
