"""Token-dense text an attacker can send cheaply: each kind far above 4 characters a
token's worth of tokens (the old estimate), made from a fixed seed."""

from __future__ import annotations

import base64
import random
import string


def dense_texts(chars: int) -> dict[str, str]:
    """Each kind of dense text, ``chars`` characters long."""
    rng = random.Random(23)
    letters = " ".join(rng.choice(string.ascii_lowercase) for _ in range(chars // 2 + 1))
    return {
        "letters": letters[:chars],  # "a b c …": about 2 characters a token
        "digits": "".join(rng.choice(string.digits) for _ in range(chars)),
        "punctuation": "".join(rng.choice("!@#$%^&*()[]{};:,.<>?/|~`") for _ in range(chars)),
        "base64": base64.b64encode(rng.randbytes(chars)).decode()[:chars],
        "emoji": "".join(chr(rng.randint(0x1F300, 0x1F64F)) for _ in range(chars)),
        "rare_cjk": "".join(chr(rng.randint(0x20000, 0x2A6DF)) for _ in range(chars)),
    }
