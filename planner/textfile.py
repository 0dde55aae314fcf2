"""Decoding the text files users hand aopctl, whatever editor or shell wrote them."""


def decode_text(data: bytes, errors: str = "strict") -> str:
    """UTF-8 (a byte-order mark dropped, as Notepad writes it) or UTF-16 with a byte-order mark
    (as Windows PowerShell's `>` writes it)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors=errors)
    return data.decode("utf-8", errors=errors).removeprefix("\ufeff")
