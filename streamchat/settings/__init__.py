"""Configuration: every setting streamchat reads, parsed and checked once at start-up.

Holds the app's Settings (``load_settings``), the numbers gunicorn.conf.py needs
(``load_server_settings``) and the value parsers both use. Anyone may import this
package; it imports nothing else of streamchat. docs/configuration.md lists every
variable.
"""

from .app_settings import (
    DEFAULT_MAX_STREAMS_PER_WORKER,
    DEFAULT_MODEL,
    DEFAULT_SYSTEM_PROMPT,
    Settings,
    load_settings,
)
from .server import ServerSettings, load_server_settings
from .values import SettingsError

__all__ = [
    "DEFAULT_MAX_STREAMS_PER_WORKER",
    "DEFAULT_MODEL",
    "DEFAULT_SYSTEM_PROMPT",
    "ServerSettings",
    "Settings",
    "SettingsError",
    "load_server_settings",
    "load_settings",
]
