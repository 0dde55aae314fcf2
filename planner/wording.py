"""Small wording helpers shared by every message aopctl prints."""


def plural(count: int, noun: str) -> str:
    """`1 hostname`, `2 hostnames`: every noun aopctl counts takes a plain `s`."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
