"""Reading `*.aop.json` files: JSON with precise syntax errors, duplicate keys, `//` comments."""

from __future__ import annotations

import errno
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner.errors import Diagnostic
from planner.textfile import decode_text

CONFIG_SUFFIX = ".aop.json"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class SourceFile:
    path: Path
    name: str  # as shown to the user: relative to the configuration directory
    data: Any


class _DuplicateKey(ValueError):
    pass


# Far beyond any configuration (they nest about 6 deep), far below Python's recursion limit.
MAX_DEPTH = 64


def json_path(*keys: str | int) -> str:
    """`$.resource.aop_ssl_mode.main` style paths, quoting keys that are not identifiers."""
    out = "$"
    for key in keys:
        if isinstance(key, int):
            out += f"[{key}]"
        elif _IDENTIFIER.match(key):
            out += f".{key}"
        else:
            out += f"[{json.dumps(key)}]"
    return out


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _deeper_than(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in children)
    return False


class _NotJson(ValueError):
    """What Python's parser accepts but JSON (and `fmt`'s output) cannot hold."""


def _no_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _NotJson(f"{text} is too large for a number")
    return value


def parse_json(text: str, name: str) -> tuple[Any, list[Diagnostic]]:
    """The JSON value, or why not. Nesting is bounded: everything after parsing (comments,
    schema, templates) recurses, and no configuration needs more than a few levels. What
    `fmt` could not write back as JSON in UTF-8 (NaN, 1e999, a lone surrogate) is refused."""
    too_deep = Diagnostic(name, "", f"invalid JSON: nested more than {MAX_DEPTH} levels deep")
    try:
        data = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constant,
            parse_float=_finite,
        )
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        return None, [Diagnostic(name, "", f"invalid JSON at {where}: {exc.msg}")]
    except _DuplicateKey as exc:
        return None, [Diagnostic(name, "", f"duplicate key {exc.args[0]!r} in one object")]
    except _NotJson as exc:
        return None, [Diagnostic(name, "", f"invalid JSON: {exc}")]
    except UnicodeEncodeError:
        return None, [Diagnostic(name, "", "invalid JSON: a \\u escape of half a character")]
    except RecursionError:
        return None, [too_deep]
    return (None, [too_deep]) if _deeper_than(data, MAX_DEPTH) else (data, [])


def strip_comments(value: Any) -> Any:
    """Drop every key named `//`, at any depth."""
    if isinstance(value, dict):
        return {k: strip_comments(v) for k, v in value.items() if k != "//"}
    if isinstance(value, list):
        return [strip_comments(v) for v in value]
    return value


def config_files(directory: Path) -> list[Path]:
    """Every entry named `*.aop.json`: one that is not a regular file is reported when read,
    not silently skipped. Hidden and editor files (`.old.aop.json`, Emacs' `.#main.aop.json`
    lock and `#main.aop.json#` autosave) are not configuration, as for Terraform."""
    return sorted(
        path for path in directory.glob(f"*{CONFIG_SUFFIX}") if not path.name.startswith((".", "#"))
    )


def read_text(path: Path) -> str:
    """The file's text (see `decode_text`); OSError or UnicodeDecodeError when unreadable."""
    if path.exists() and not path.is_file():
        # Checked before opening: opening a FIFO would block until a writer appears.
        raise OSError(errno.EINVAL, "not a regular file")
    return decode_text(path.read_bytes())


def read_problem(path: Path, exc: OSError | UnicodeDecodeError) -> Diagnostic:
    reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
    return Diagnostic(path.name, "", f"cannot read file: {reason}")


def read_directory(directory: Path) -> tuple[list[SourceFile], list[Diagnostic]]:
    if not directory.is_dir():
        return [], [Diagnostic(str(directory), "", "configuration directory does not exist")]
    paths = config_files(directory)
    if not paths:
        message = f"no {CONFIG_SUFFIX} files in this directory"
        return [], [Diagnostic(str(directory), "", message)]
    return read_files(paths)


def read_files(paths: Iterable[Path]) -> tuple[list[SourceFile], list[Diagnostic]]:
    sources: list[SourceFile] = []
    diagnostics: list[Diagnostic] = []
    for path in paths:
        try:
            text = read_text(path)
        except (OSError, UnicodeDecodeError) as exc:
            diagnostics.append(read_problem(path, exc))
            continue
        data, problems = parse_json(text, path.name)
        diagnostics.extend(problems)
        if not problems:
            sources.append(SourceFile(path, path.name, data))
    return sources, diagnostics
