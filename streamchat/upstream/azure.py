"""Azure OpenAI with Microsoft Entra ID: the token the SDK client sends instead of a key.

With AZURE_OPENAI_ENDPOINT set and no OPENAI_API_KEY, the client's ``api_key`` is the
callable made here. The SDK calls it before every request (and every retry) and sends
what it returns as ``Authorization: Bearer``; azure-identity's bearer-token provider
keeps the token it has and asks the credential for a new one shortly before it expires,
so no token is fetched at start-up and none outlives its expiry. DefaultAzureCredential
finds a managed identity (AZURE_CLIENT_ID picks a user-assigned one), a workload
identity, AZURE_* environment credentials or ``az login``: no secret in our settings.

azure-identity is an extra (requirements-azure.txt), imported only here and only then.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx2
import openai

from ..settings import SettingsError

SCOPE = "https://cognitiveservices.azure.com/.default"
_MISSING = (
    "AZURE_OPENAI_ENDPOINT without OPENAI_API_KEY signs in with Microsoft Entra ID, which "
    "needs azure-identity: pip install -r requirements-azure.txt"
)
log = logging.getLogger("streamchat.upstream")


class EntraTokenUnavailable(openai.APIConnectionError):
    """No token could be had from Microsoft Entra ID, so the upstream cannot be asked:
    answered like an upstream out of reach (502 ``upstream_unreachable``, /readyz not
    ready), with the reason in the server's log."""


def entra_token_provider(
    base_url: str, client_id: str | None = None, credential: Any = None
) -> Callable[[], str]:
    """The ``api_key`` callable for the SDK client: a current Entra ID token for Azure
    OpenAI on each call.

    ``credential`` is any azure-identity credential (tests pass a fake one through
    create_app's ``AZURE_CREDENTIAL``); by default DefaultAzureCredential. Raises
    SettingsError, naming what to install, when azure-identity is missing.
    """
    try:
        from azure.identity import DefaultAzureCredential, get_bearer_token_provider
    except ImportError:
        raise SettingsError(_MISSING) from None
    if credential is None:
        # Unset, DefaultAzureCredential reads AZURE_CLIENT_ID itself; None would mean
        # "the system-assigned identity, whatever the environment says".
        options = {"managed_identity_client_id": client_id} if client_id else {}
        credential = DefaultAzureCredential(**options)
    provider = get_bearer_token_provider(credential, SCOPE)
    request = httpx2.Request("POST", base_url)

    def token() -> str:
        try:
            return provider()
        except Exception as exc:  # azure-identity's errors: every credential tried failed
            log.warning(
                "no Microsoft Entra ID token for the upstream: %s: %s", type(exc).__name__, exc
            )
            raise EntraTokenUnavailable(
                message="No Microsoft Entra ID token could be had.", request=request
            ) from exc

    return token
