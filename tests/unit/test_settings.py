"""Settings parse once and name the variable when a value is bad."""

from __future__ import annotations

import pytest

from streamchat.settings import DEFAULT_MODEL, SettingsError, load_settings
from tests.support.environment import TEST_API_KEY


def test_defaults_run_the_demo_model():
    settings = load_settings({})
    assert settings.demo
    assert settings.openai_model == DEFAULT_MODEL
    assert settings.openai_models == (DEFAULT_MODEL,)
    assert settings.heartbeat_seconds == 15


def test_models_list_always_includes_the_default_first():
    settings = load_settings({"OPENAI_MODEL": "a", "OPENAI_MODELS": "b, a ,c,"})
    assert settings.openai_models == ("a", "b", "c")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HEARTBEAT_SECONDS", "abc"),
        ("HEARTBEAT_SECONDS", "0"),
        ("HEARTBEAT_SECONDS", "nan"),
        ("OPENAI_MAX_RETRIES", "-1"),
        ("OPENAI_BASE_URL", "localhost:11434"),
        ("OPENAI_STREAM_USAGE", "maybe"),
        ("MAX_MESSAGES", "1.5"),
    ],
)
def test_bad_value_names_the_variable(name, value):
    with pytest.raises(SettingsError, match=name):
        load_settings({name: value})


def test_repr_never_shows_the_key():
    settings = load_settings({"OPENAI_API_KEY": TEST_API_KEY})
    assert "0123456789" not in repr(settings)
    assert not settings.demo
