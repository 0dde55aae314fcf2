"""PEM private keys in free text: found and hidden, so that no output ever carries one.

Kept apart from the HTTP client's redaction so that the CLI's error path and the renderers can
use it without importing httpx.
"""

from __future__ import annotations

import re
from typing import Final

HIDDEN: Final = "(sensitive value)"

# A PEM private key of any flavour (PKCS#8, RSA, EC, ENCRYPTED), up to its END line or, when
# truncated, to the end of the text.
PRIVATE_KEY_BLOCK: Final = re.compile(
    r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(?:-----END \1PRIVATE KEY-----|\Z)", re.DOTALL
)


def holds_private_key(text: str) -> bool:
    return PRIVATE_KEY_BLOCK.search(text) is not None


def hide_private_keys(text: str, replacement: str = HIDDEN) -> str:
    return PRIVATE_KEY_BLOCK.sub(replacement, text)
