"""Reading /metrics: the token the metrics tests enable it with, and one sample's value."""

from __future__ import annotations

import re

TOKEN = "test-metrics-token-not-real"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def sample(text: str, name: str, labels: str = "") -> float:
    """The value of one sample in Prometheus's text format (0 when absent)."""
    found = re.search(rf"^{re.escape(name + labels)} (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0
