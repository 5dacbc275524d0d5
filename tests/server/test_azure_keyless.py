"""Azure OpenAI without a key: with AZURE_OPENAI_ENDPOINT set and no OPENAI_API_KEY, the
SDK client sends a Microsoft Entra ID token from azure-identity's bearer-token provider,
asked for before each request, and a new one once the last has expired. No Azure here:
a fake credential hands out short-lived tokens (through create_app's AZURE_CREDENTIAL,
as tests hand in OPENAI_HTTP_CLIENT) and the fake upstream records what arrives."""

from __future__ import annotations

import os
import sys
import time

import pytest
from azure.core.credentials import AccessTokenInfo

from app import create_app
from streamchat.settings import SettingsError, load_settings
from streamchat.upstream.azure import SCOPE
from tests.support.fake_upstream import FakeUpstream, Script
from tests.support.payloads import CHAT, reply_payloads

pytestmark = pytest.mark.server

LIFETIME = 3  # seconds a token lasts


class ExpiringTokens:
    """A credential as azure-identity's are, handing out a new token each time it is
    asked, each valid for ``lifetime`` seconds."""

    def __init__(self, lifetime: int = LIFETIME, fail: bool = False) -> None:
        self.lifetime = lifetime
        self.fail = fail
        self.issued: list[AccessTokenInfo] = []
        self.scopes: list[tuple[str, ...]] = []

    def get_token_info(self, *scopes: str, options=None) -> AccessTokenInfo:
        self.scopes.append(scopes)
        if self.fail:
            raise RuntimeError("no identity here")
        expires = int(time.time()) + self.lifetime
        token = AccessTokenInfo(f"entra-{len(self.issued) + 1}", expires, refresh_on=expires)
        self.issued.append(token)
        return token


@pytest.fixture
def upstream():
    with FakeUpstream() as fake:
        fake.script = Script(payloads=reply_payloads("chatcmpl-azure", ["Hello ", "Azure"]))
        yield fake


def keyless_app(upstream: FakeUpstream, credential: ExpiringTokens, tmp_path, **settings):
    return create_app(
        {
            "TESTING": True,
            "AZURE_OPENAI_ENDPOINT": f"http://127.0.0.1:{upstream.port}",
            "AZURE_CREDENTIAL": credential,
            "OPENAI_MAX_RETRIES": "0",
            "RATE_LIMIT": "",
            "SQLITE_PATH": str(tmp_path / "counts.sqlite3"),
            **settings,
        }
    )


def bearer(record) -> str:
    return record.request["_headers"]["authorization"]


def test_each_request_carries_a_current_entra_token_and_a_new_one_after_expiry(upstream, tmp_path):
    assert "OPENAI_API_KEY" not in os.environ  # no key anywhere: conftest strips it
    credential = ExpiringTokens()
    client = keyless_app(upstream, credential, tmp_path).test_client()
    assert credential.issued == []  # nothing fetched at start-up

    first = client.post("/api/chat", json=CHAT)
    assert first.status_code == 200 and b"Azure" in first.data
    client.post("/api/chat", json=CHAT).get_data()  # within the token's lifetime
    (token,) = credential.issued
    time.sleep(max(0.0, token.expires_on - time.time()) + 0.2)
    client.post("/api/chat", json=CHAT).get_data()  # after it expired

    assert [bearer(r) for r in upstream.records] == [
        "Bearer entra-1",
        "Bearer entra-1",
        "Bearer entra-2",
    ]
    assert credential.scopes == [(SCOPE,), (SCOPE,)]
    # The v1 endpoint of the resource; OpenAI's own paths below it.
    assert {r.request["_path"] for r in upstream.records} == {"/openai/v1/chat/completions"}


def test_the_responses_api_and_the_page_use_it_too(upstream, tmp_path):
    client = keyless_app(upstream, ExpiringTokens(), tmp_path).test_client()
    assert "demo-badge" not in client.get("/").data.decode()  # a real upstream, not the demo
    client.post("/api/responses", json=CHAT).get_data()
    assert upstream.records[-1].request["_path"] == "/openai/v1/responses"
    assert bearer(upstream.records[-1]) == "Bearer entra-1"


def test_a_key_when_set_is_used_instead(upstream, tmp_path):
    credential = ExpiringTokens()
    app = keyless_app(upstream, credential, tmp_path, OPENAI_API_KEY="azure-key-not-real")
    app.test_client().post("/api/chat", json=CHAT).get_data()
    assert bearer(upstream.records[-1]) == "Bearer azure-key-not-real"
    assert credential.scopes == []


def test_no_token_is_a_502_before_anything_is_sent_and_not_ready(upstream, tmp_path, caplog):
    client = keyless_app(upstream, ExpiringTokens(fail=True), tmp_path).test_client()
    response = client.post("/api/chat", json=CHAT)
    assert response.status_code == 502
    assert response.json["error"]["code"] == "upstream_unreachable"
    assert upstream.records == []
    assert client.get("/readyz").status_code == 503
    assert "no Microsoft Entra ID token for the upstream: RuntimeError" in caplog.text


def test_without_azure_identity_start_up_says_what_to_install(upstream, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "azure.identity", None)  # as if not installed
    with pytest.raises(SettingsError) as refused:
        keyless_app(upstream, None, tmp_path)
    assert "pip install -r requirements-azure.txt" in str(refused.value)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    ("endpoint", "base_url"),
    [
        ("https://team.openai.azure.com", "https://team.openai.azure.com/openai/v1/"),
        ("https://team.openai.azure.com/", "https://team.openai.azure.com/openai/v1/"),
        ("https://team.openai.azure.com/openai/v1/", "https://team.openai.azure.com/openai/v1/"),
        ("https://gw.example.com/team", "https://gw.example.com/team/openai/v1/"),
    ],
)
def test_the_endpoint_gives_the_v1_base_url(endpoint, base_url):
    settings = load_settings({"AZURE_OPENAI_ENDPOINT": endpoint, "AZURE_CLIENT_ID": "abc"})
    assert settings.provider.azure_base_url == base_url
    assert settings.provider.azure_client_id == "abc"
    assert not settings.demo


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        ({"AZURE_OPENAI_ENDPOINT": "http://team.openai.azure.com"}, "https URL"),
        ({"AZURE_OPENAI_ENDPOINT": "team.openai.azure.com"}, "https URL"),
        (
            {
                "AZURE_OPENAI_ENDPOINT": "https://t.openai.azure.com",
                "OPENAI_BASE_URL": "http://x/v1",
            },
            "not both",
        ),
    ],
)
def test_a_bad_endpoint_stops_start_up_naming_it(settings, complaint):
    with pytest.raises(SettingsError, match=complaint) as refused:
        load_settings(settings)
    assert "AZURE_OPENAI_ENDPOINT" in str(refused.value)
