"""PEM private keys in free text: found and hidden, so that no output ever carries one.

Kept apart from the HTTP client's redaction so that the CLI's error path and the renderers can
use it without importing httpx.
"""

from __future__ import annotations

import re
from typing import Final

from state.document import PRIVATE_KEY_MARKER

HIDDEN: Final = "(sensitive value)"

# A PEM private key of any flavour (PKCS#8, RSA, EC, ENCRYPTED), up to its END line or, when
# truncated, to the end of the text.
PRIVATE_KEY_BLOCK: Final = re.compile(
    r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(?:-----END \1PRIVATE KEY-----|\Z)", re.DOTALL
)


def holds_private_key(text: str) -> bool:
    """The state's own test (any case, with or without its BEGIN line): what passes here is
    never refused later by the state store."""
    return PRIVATE_KEY_MARKER.lower() in text.lower()


def hide_private_keys(text: str, replacement: str = HIDDEN) -> str:
    return PRIVATE_KEY_BLOCK.sub(replacement, text)
