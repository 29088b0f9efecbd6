"""Public identifiers: a short type prefix and 20 random base32 characters, e.g. ``dlr_7Q2M...``.

The prefix tells an operator reading a log what kind of object an id names; the random part makes
ids unguessable, so a bank cannot probe for another bank's objects.
"""
from __future__ import annotations

import base64
import secrets


def new_id(prefix: str) -> str:
    token = base64.b32encode(secrets.token_bytes(15)).decode("ascii").rstrip("=").lower()
    return f"{prefix}_{token[:20]}"
