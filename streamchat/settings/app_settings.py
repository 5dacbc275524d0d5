"""Typed settings, read once from the environment (and create_app's overrides)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .auth import AuthSettings, load_auth_settings
from .budgets import BudgetSetting, budget
from .database import DatabaseSettings, load_database_settings
from .images import ImageSettings, load_image_settings, load_max_content_length
from .provider import ProviderSettings, load_provider_settings
from .runs import RunSettings, load_run_settings
from .storage import ratelimit_storage_uri, redis_url
from .upstream import max_tokens_field
from .values import SettingsError, boolean, choice, integer, number, text

DEFAULT_MODEL = "gpt-5.4-mini"
DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful assistant. Answer clearly and concisely; use Markdown where it helps."
)
# Open streams one worker accepts before answering 503. Sized with ./scripts/bench's
# admission scenario (bench/README.md): at this many, a burst of twice as many requests
# is refused at once while the admitted streams keep the relay delay they have without
# the burst; much above it, setting up and refusing requests competes with relaying.
DEFAULT_MAX_STREAMS_PER_WORKER = 100


@dataclass(frozen=True)
class Settings:
    """Every setting the app reads, parsed and checked once at start-up."""

    openai_api_key: str | None
    openai_base_url: str | None
    openai_model: str
    openai_models: tuple[str, ...]
    openai_max_retries: int
    openai_stream_usage: bool
    system_prompt: str
    heartbeat_seconds: float
    upstream_connect_timeout_seconds: float
    upstream_read_timeout_seconds: float
    max_content_length: int
    max_messages: int
    max_message_chars: int
    max_total_chars: int
    demo_tokens_per_second: float
    chat_api: str
    stream_format: str
    max_output_tokens: int
    max_tokens_field: str
    rate_limit: str
    ratelimit_storage_uri: str
    redis_url: str | None
    trusted_proxy_count: int
    trusted_proxy_host: bool
    allowed_hosts: tuple[str, ...]
    allowed_origins: tuple[str, ...]
    log_level: str
    ready_timeout_seconds: float
    ready_cache_seconds: float
    max_streams_per_worker: int
    request_body_timeout_seconds: float
    max_upstream_event_bytes: int
    metrics_token: str | None
    auth: AuthSettings = field(default_factory=AuthSettings)
    token_budget: BudgetSetting | None = None
    global_token_budget: BudgetSetting | None = None
    sqlite_path: str = ""
    runs: RunSettings = field(default_factory=RunSettings)
    provider: ProviderSettings = field(default_factory=ProviderSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    images: ImageSettings = field(default_factory=ImageSettings)

    @property
    def demo(self) -> bool:
        """True when no API key and no Azure endpoint are set: the built-in offline demo
        model answers."""
        return not self.openai_api_key and not self.provider.azure_base_url

    def __repr__(self) -> str:
        # The key must never reach a log line or a traceback through a repr.
        shown = "<set>" if self.openai_api_key else "<unset>"
        model, auth = self.openai_model, self.auth.mode
        return f"Settings(openai_api_key={shown}, model={model!r}, auth={auth!r}, ...)"


def _rate_limit(source: Mapping[str, Any]) -> str:
    from limits import parse_many  # only needed here, at start-up

    # An empty value (RATE_LIMIT=) disables limiting; unset means the default.
    raw = source.get("RATE_LIMIT")
    value = "20/minute" if raw is None else str(raw).strip()
    if value:
        try:
            parse_many(value)
        except ValueError:
            raise SettingsError(
                f"RATE_LIMIT must look like '20/minute' or '20/minute;200/day', got {value!r}"
            ) from None
    return value


def _origins(source: Mapping[str, Any]) -> tuple[str, ...]:
    raw = str(source.get("ALLOWED_ORIGINS") or "")
    origins = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path:
            raise SettingsError(
                f"ALLOWED_ORIGINS takes origins such as https://example.com, got {origin!r}"
            )
    return origins


# A host name, an IPv4 address or a bracketed IPv6 one; a leading dot admits subdomains.
_HOST = re.compile(
    r"\.?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\]"
)


def _hosts(source: Mapping[str, Any]) -> tuple[str, ...]:
    raw = str(source.get("ALLOWED_HOSTS") or "")
    hosts = tuple(h.strip().lower() for h in raw.split(",") if h.strip())
    for host in hosts:
        if not _HOST.fullmatch(host):
            raise SettingsError(
                "ALLOWED_HOSTS takes host names such as chat.example.com or .example.com "
                f"(no scheme, port or path), got {host!r}"
            )
    return hosts


def _base_url(source: Mapping[str, Any]) -> str | None:
    raw = text(source, "OPENAI_BASE_URL", None)
    if raw is None:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise SettingsError(
            f"OPENAI_BASE_URL must be an http(s) URL such as http://127.0.0.1:11434/v1, got {raw!r}"
        )
    return raw


def _models(source: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    """OPENAI_MODEL, and every model a request may choose (OPENAI_MODELS)."""
    model = text(source, "OPENAI_MODEL", DEFAULT_MODEL)
    listed = [m.strip() for m in str(source.get("OPENAI_MODELS") or "").split(",") if m.strip()]
    # The default model is always allowed and always first, so the picker opens on it.
    return model, tuple(dict.fromkeys([model, *listed]))


def load_settings(overrides: Mapping[str, Any] | None = None) -> Settings:
    """Build Settings from the environment, with ``overrides`` (same names) taking precedence."""
    source: dict[str, Any] = dict(os.environ)
    source.update(overrides or {})

    model, models = _models(source)
    images = load_image_settings(source)
    return Settings(
        openai_api_key=text(source, "OPENAI_API_KEY", None),
        openai_base_url=_base_url(source),
        openai_model=model,
        openai_models=models,
        openai_max_retries=integer(source, "OPENAI_MAX_RETRIES", 2, minimum=0),
        openai_stream_usage=boolean(source, "OPENAI_STREAM_USAGE", True),
        system_prompt=text(source, "SYSTEM_PROMPT", DEFAULT_SYSTEM_PROMPT),
        heartbeat_seconds=number(source, "HEARTBEAT_SECONDS", 15.0, minimum=0.01),
        upstream_connect_timeout_seconds=number(
            source, "UPSTREAM_CONNECT_TIMEOUT_SECONDS", 10.0, minimum=0.01
        ),
        upstream_read_timeout_seconds=number(
            source, "UPSTREAM_READ_TIMEOUT_SECONDS", 120.0, minimum=0.01
        ),
        max_content_length=load_max_content_length(source, images),
        max_messages=integer(source, "MAX_MESSAGES", 100, minimum=1),
        max_message_chars=integer(source, "MAX_MESSAGE_CHARS", 32_000, minimum=1),
        max_total_chars=integer(source, "MAX_TOTAL_CHARS", 200_000, minimum=1),
        demo_tokens_per_second=number(source, "DEMO_TOKENS_PER_SECOND", 40.0, minimum=0.1),
        chat_api=choice(source, "CHAT_API", "chat", ("chat", "responses")),
        stream_format=choice(source, "STREAM_FORMAT", "ndjson", ("ndjson", "sse")),
        max_output_tokens=integer(source, "MAX_OUTPUT_TOKENS", 4096, minimum=0),
        max_tokens_field=max_tokens_field(source, _base_url(source)),
        rate_limit=_rate_limit(source),
        ratelimit_storage_uri=ratelimit_storage_uri(source, redis_url(source)),
        redis_url=redis_url(source),
        trusted_proxy_count=integer(source, "TRUSTED_PROXY_COUNT", 0, minimum=0),
        trusted_proxy_host=boolean(source, "TRUSTED_PROXY_HOST", False),
        allowed_hosts=_hosts(source),
        allowed_origins=_origins(source),
        ready_timeout_seconds=number(source, "READY_TIMEOUT_SECONDS", 3.0, minimum=0.1),
        ready_cache_seconds=number(source, "READY_CACHE_SECONDS", 10.0, minimum=0.0),
        max_streams_per_worker=integer(
            source, "MAX_STREAMS_PER_WORKER", DEFAULT_MAX_STREAMS_PER_WORKER, minimum=1
        ),
        request_body_timeout_seconds=number(
            source, "REQUEST_BODY_TIMEOUT_SECONDS", 10.0, minimum=0.1
        ),
        metrics_token=text(source, "METRICS_TOKEN", None),
        max_upstream_event_bytes=integer(source, "MAX_UPSTREAM_EVENT_BYTES", 1 << 20, minimum=1024),
        log_level=choice(
            source, "LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
        ),
        auth=load_auth_settings(source),
        token_budget=budget(source, "TOKEN_BUDGET"),
        global_token_budget=budget(source, "GLOBAL_TOKEN_BUDGET"),
        sqlite_path=text(source, "SQLITE_PATH", "") or "",
        runs=load_run_settings(source),
        provider=load_provider_settings(source),
        database=load_database_settings(source),
        images=images,
    )
