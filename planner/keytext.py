"""PEM private keys in free text: found and hidden, so that no output ever carries one.

Kept apart from the HTTP client's redaction so that the CLI's error path and the renderers can
use it without importing httpx.
"""

from __future__ import annotations

import re
from typing import Final

# The state store's own test: what passes here is never refused later by the store.
from state.document import has_private_key_marker as holds_private_key

__all__ = ["HIDDEN", "PRIVATE_KEY_BLOCK", "hide_private_keys", "holds_private_key"]

HIDDEN: Final = "(sensitive value)"

# A PEM private key of any flavour (PKCS#8, RSA, EC, ENCRYPTED), up to its END line or, when
# truncated, to the end of the text.
PRIVATE_KEY_BLOCK: Final = re.compile(
    r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(?:-----END \1PRIVATE KEY-----|\Z)", re.DOTALL
)


def hide_private_keys(text: str, replacement: str = HIDDEN) -> str:
    return PRIVATE_KEY_BLOCK.sub(replacement, text)
