"""Plan → terminal text, in Terraform's conventions.

Layout of one resource block (columns as Terraform prints them):

      # aop_hostname_certificate.app will be created
      + resource "aop_hostname_certificate" "app" {
          + id          = (known after apply)
          + private_key = (sensitive value)
        }

Each block uses one of four attribute modes: `add` (every value is new), `remove` (every value
goes), `diff` (per attribute: added, removed, changed or unchanged — unchanged ones are hidden
and counted) and `plain` (import/forget: values are only recorded, shown without a symbol).
Colours are raw ANSI codes so this package does not depend on click.
"""

from __future__ import annotations

import difflib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, Literal

from planner.model import UNKNOWN, Address
from planner.plan_model import Action, AttributeDiff, Change, Drift, Plan
from planner.render.plan_json import SENSITIVE_TEXT, is_sensitive, redact
from planner.wording import plural

Mode = Literal["add", "remove", "diff", "plain"]

_ANSI: Final = {"bold": "1", "red": "31", "green": "32", "yellow": "33", "cyan": "36"}
_SYMBOL_COLOUR: Final = {"+": "green", "-": "red", "~": "yellow", "+/-": "cyan", "<=": "cyan"}

_MODE: Final[dict[Action, Mode]] = {
    Action.CREATE: "add",
    Action.DELETE: "remove",
    Action.UPDATE: "diff",
    Action.REPLACE: "diff",
    Action.WAIT: "diff",
    Action.IMPORT: "plain",
    Action.FORGET: "plain",
}
_PHRASE: Final = {
    Action.CREATE: "will be created",
    Action.UPDATE: "will be updated in place",
    Action.REPLACE: "must be replaced",
    Action.DELETE: "will be destroyed",
    Action.IMPORT: "will be imported",
    Action.FORGET: "will be forgotten",
    Action.WAIT: "is still deploying: apply will wait until it is active",
}
_LEGEND: Final = {
    Action.CREATE: "create",
    Action.UPDATE: "update in place",
    Action.REPLACE: "create replacement and then destroy",
    Action.DELETE: "destroy",
    Action.IMPORT: "import (adopt an identical existing object)",
    Action.FORGET: "forget (remove from state; Cloudflare keeps it)",
    Action.WAIT: "wait until deployed",
}

DRIFT_TITLE: Final = "Objects have changed outside of aopctl"
DRIFT_INTRO: Final = (
    "aopctl detected the following changes made outside of aopctl since the last apply:"
)
DRIFT_UNLESS: Final = (
    "Unless you have made equivalent changes to your configuration, the following plan may "
    "include actions to undo or respond to these changes."
)
REFRESH_ONLY: Final = (
    "This is a refresh-only plan, so aopctl will not take any actions to undo these. If you "
    "were expecting these changes then you can apply this plan to record the updated values "
    "in the aopctl state without changing any remote objects."
)
NO_CHANGES: Final = "Your infrastructure matches the configuration."
NO_DESTROY: Final = "No objects need to be destroyed."

_ATTRIBUTE_INDENT: Final = " " * 6  # then the symbol column and a space: names at column 8
_ITEM_INDENT: Final = " " * 10  # list items and heredoc lines: values at column 12


@dataclass(frozen=True)
class _Style:
    enabled: bool

    def paint(self, text: str, *styles: str | None) -> str:
        codes = ";".join(_ANSI[style] for style in styles if style)
        if not self.enabled or not codes or not text:
            return text
        return f"\x1b[{codes}m{text}\x1b[0m"

    def symbol(self, symbol: str, width: int = 1) -> str:
        """The symbol right-aligned in `width` columns, only the symbol itself coloured."""
        padding = " " * max(width - len(symbol), 0)
        return padding + self.paint(symbol, _SYMBOL_COLOUR.get(symbol))


# -- values -------------------------------------------------------------------------------------


def _inline(value: Any) -> str:
    if value is UNKNOWN:
        return "(known after apply)"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_inline(item) for item in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{json.dumps(str(k))} = {_inline(v)}" for k, v in sorted(value.items()))
        return "{" + ", ".join(pairs) + "}"
    if value is None or isinstance(value, str | bool | int | float):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(str(value), ensure_ascii=False)


@dataclass(frozen=True)
class _Sequence:
    """A value printed over several lines: a list, or a multi-line string as a heredoc."""

    items: tuple[str, ...]
    heredoc: bool

    @property
    def opening(self) -> str:
        return "<<-EOT" if self.heredoc else "["

    @property
    def closing(self) -> str:
        return "EOT" if self.heredoc else "]"

    @property
    def noun(self) -> str:
        return "line" if self.heredoc else "element"


def _as_sequence(value: Any) -> _Sequence | None:
    if isinstance(value, list | tuple):
        return _Sequence(tuple(_inline(item) + "," for item in value), heredoc=False)
    if isinstance(value, str) and "\n" in value:
        return _Sequence(tuple(value.splitlines()), heredoc=True)
    return None


# -- attributes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Shown:
    """One attribute as printed: its symbol (" " when unchanged) and the values to show."""

    symbol: str
    name: str
    before: Any
    after: Any
    sensitive: bool
    forces: bool


def _classify(diff: AttributeDiff, mode: Mode, sensitive: bool) -> _Shown | None:
    """What to print for `diff` in this mode; None when there is nothing to print."""
    before, after = diff.before, diff.after
    present = after if after is not None else before
    if mode == "add" or mode == "remove" or (mode == "plain" and not _differs(before, after)):
        if present is None:
            return None
        symbol = {"add": "+", "remove": "-"}.get(mode, " ")
        before, after = present, present
    elif before is None and after is not None:
        symbol = "+"
    elif after is None and before is not None:
        symbol = "-"
    else:
        symbol = "~" if _differs(before, after) else " "
    return _Shown(symbol, diff.name, before, after, sensitive, diff.forces_replacement)


def _differs(before: Any, after: Any) -> bool:
    return before is not None and after is not None and before != after


Items = list[tuple[str, str]]  # (symbol, text); symbol "#" marks a hidden-items comment


def _multiline(entry: _Shown) -> tuple[str, Items, str] | None:
    """Opening, item lines and closing of a value printed over several lines, if it is one."""
    before, after = _as_sequence(entry.before), _as_sequence(entry.after)
    if before is None and after is None:
        return None
    if entry.symbol in ("+", " ", "-"):
        sequence = before if entry.symbol == "-" else after
        assert sequence is not None  # "+"/" " come with a value after, "-" with one before
        # Terraform marks list items, but prints the lines of a new or gone heredoc bare.
        mark = " " if sequence.heredoc else entry.symbol
        closing = sequence.closing + (" -> null" if entry.symbol == "-" else "")
        return sequence.opening, [(mark, item) for item in sequence.items], closing
    if before is not None and after is not None and before.heredoc == after.heredoc:
        return after.opening, _diff_items(before, after), after.closing
    if before is not None:  # a multi-line value becomes a scalar (often: known after apply)
        closing = f"{before.closing} -> {_inline(entry.after)}"
        return before.opening, [("-", item) for item in before.items], closing
    assert after is not None
    opening = f"{_inline(entry.before)} -> {after.opening}"
    return opening, [("+", item) for item in after.items], after.closing


def _diff_items(before: _Sequence, after: _Sequence) -> Items:
    matcher = difflib.SequenceMatcher(None, before.items, after.items, autojunk=False)
    items: Items = []
    for tag, b_start, b_end, a_start, a_end in matcher.get_opcodes():
        if tag == "equal":
            items.append(("#", f"# ({plural(b_end - b_start, 'unchanged ' + after.noun)} hidden)"))
            continue
        items.extend(("-", item) for item in before.items[b_start:b_end])
        items.extend(("+", item) for item in after.items[a_start:a_end])
    return items


def _scalar(entry: _Shown) -> str:
    if entry.symbol == "~":
        return f"{_inline(entry.before)} -> {_inline(entry.after)}"
    if entry.symbol == "-":
        return f"{_inline(entry.before)} -> null"
    return _inline(entry.after)


def _item_line(symbol: str, text: str, style: _Style) -> str:
    if symbol in ("#", " "):
        return f"{_ITEM_INDENT}  {text}"
    return f"{_ITEM_INDENT}{style.symbol(symbol)} {text}"


def _attribute_lines(entry: _Shown, width: int, style: _Style) -> list[str]:
    lead = f"{_ATTRIBUTE_INDENT}{style.symbol(entry.symbol)} {entry.name.ljust(width)} = "
    comment = " # forces replacement" if entry.forces else ""
    if entry.sensitive:  # the values are never looked at, not even to format them
        return [lead + SENSITIVE_TEXT + (" -> null" if entry.symbol == "-" else "") + comment]
    multiline = _multiline(entry)
    if multiline is None:
        return [lead + _scalar(entry) + comment]
    opening, items, closing = multiline
    body = [_item_line(symbol, text, style) for symbol, text in items]
    return [lead + opening + comment, *body, f"{_ATTRIBUTE_INDENT}  {closing}"]


# -- resource blocks ----------------------------------------------------------------------------


def _block(
    address: Address,
    symbol: str,
    mode: Mode,
    attributes: Iterable[AttributeDiff],
    remote_id: str | None,
    style: _Style,
) -> list[str]:
    ordered = sorted(attributes, key=lambda diff: diff.name)
    classified = (_classify(diff, mode, is_sensitive(address, diff)) for diff in ordered)
    shown = [entry for entry in classified if entry is not None]
    if not shown and mode == "remove" and remote_id:
        shown = [_Shown("-", "id", remote_id, remote_id, sensitive=False, forces=False)]
    hidden = sum(1 for entry in shown if mode == "diff" and entry.symbol == " ")
    visible = [entry for entry in shown if mode != "diff" or entry.symbol != " "]
    width = max((len(entry.name) for entry in visible), default=0)
    lines = [f'{style.symbol(symbol, 3)} resource "{address.type}" "{address.name}" {{']
    for entry in visible:
        lines.extend(_attribute_lines(entry, width, style))
    if hidden:
        lines.append(f"{_ATTRIBUTE_INDENT}  # ({plural(hidden, 'unchanged attribute')} hidden)")
    lines.append("    }")
    return lines


def _header(subject: str, phrase: str, style: _Style) -> str:
    return f"{style.paint(f'  # {subject}', 'bold')} {phrase}"


def change_subject(change: Change) -> str:
    """The address, naming the deposed object when it is one: `ADDR (deposed object ID)`."""
    if not change.deposed:
        return str(change.address)
    return f"{change.address} (deposed object {change.remote_id or 'of unknown id'})"


def _change_lines(change: Change, style: _Style) -> list[str]:
    lines = [_header(change_subject(change), _PHRASE[change.action], style)]
    if change.reason:
        lines.append(f"  ({redact(change.reason)})")
    mode = _MODE[change.action]
    symbol = change.action.symbol
    lines += _block(change.address, symbol, mode, change.attributes, change.remote_id, style)
    return lines


def _drift_lines(drift: Drift, style: _Style) -> list[str]:
    deleted = drift.kind == "deleted"
    phrase = "has been deleted" if deleted else "has changed"
    symbol = "-" if deleted else "~"
    mode: Mode = "remove" if deleted else "diff"
    lines = [_header(str(drift.address), phrase, style)]
    lines += _block(drift.address, symbol, mode, drift.attributes, drift.remote_id, style)
    return lines


def render_change(change: Change, *, color: bool = False) -> str:
    """One change's header, reason and resource block (no trailing newline)."""
    return "\n".join(_change_lines(change, _Style(color)))


def render_drift(drift: Drift, *, color: bool = False) -> str:
    """One drift item's header and resource block (no trailing newline)."""
    return "\n".join(_drift_lines(drift, _Style(color)))


# -- sections -----------------------------------------------------------------------------------


def _drift_section(plan: Plan, style: _Style) -> list[str]:
    paragraphs = [style.paint(DRIFT_TITLE, "bold"), DRIFT_INTRO]
    paragraphs += ["\n".join(_drift_lines(drift, style)) for drift in plan.drift]
    if plan.mode != "refresh-only":  # a refresh-only plan ends with its own sentence instead
        paragraphs.append(DRIFT_UNLESS)
    return paragraphs


def _note(note: str, style: _Style) -> str:
    first, *rest = redact(note).splitlines() or [""]
    return "\n".join([f"{style.paint('Note:', 'bold')} {first}", *(f"      {r}" for r in rest)])


def _legend(plan: Plan, style: _Style) -> str:
    used = [action for action in Action if any(c.action is action for c in plan.changes)]
    lines = ["Resource actions are indicated with the following symbols:"]
    lines += [f"{style.symbol(action.symbol, 3)} {_LEGEND[action]}" for action in used]
    return "\n".join(lines)


BATCHED_PUTS: Final = (
    "Binding writes of one zone that are ready at the same moment are sent as one PUT."
)


def shares_puts(plan: Plan) -> bool:
    """Whether one zone has several binding writes listed: apply may send them together."""
    zone_of = {change.address: change.zone_id for change in plan.changes}
    writes = Counter(
        zone_of.get(o.address)
        for o in plan.operations
        if o.kind == "write" and o.address.type == "aop_hostname_binding"
    )
    return any(count > 1 for count in writes.values())


def _operations_section(plan: Plan, style: _Style) -> str:
    operations = plan.operations
    number_width = len(str(len(operations)))
    kind_width = max(len(operation.kind) for operation in operations)
    address_width = max(len(str(operation.address)) for operation in operations)
    lines = [style.paint("API calls:", "bold")]
    for number, operation in enumerate(operations, start=1):
        line = (
            f"  {number:>{number_width}}. {operation.kind:<{kind_width}}  "
            f"{operation.address!s:<{address_width}}  {redact(operation.description)}"
        )
        lines.append(line.rstrip())
    if shares_puts(plan):
        lines.append(f"  {BATCHED_PUTS}")
    return "\n".join(lines)


def _footer(plan: Plan, style: _Style) -> str:
    if plan.changes:
        summary = plan.summary
        counts = [f"{summary.add} to add", f"{summary.change} to change"]
        counts.append(f"{summary.destroy} to destroy")
        if summary.imported:  # Terraform puts imports first, and only when there are some
            counts.insert(0, f"{summary.imported} to import")
        return f"{style.paint('Plan:', 'bold')} {', '.join(counts)}."
    if plan.mode == "refresh-only" and plan.drift:
        return REFRESH_ONLY
    rest = NO_DESTROY if plan.mode == "destroy" else NO_CHANGES
    return f"{style.paint('No changes.', 'bold', 'green')} {style.paint(rest, 'bold')}"


def summary_line(plan: Plan) -> str:
    """The footer without colour: `Plan: ...`, `No changes. ...` or the refresh-only sentence."""
    return _footer(plan, _Style(False))


def render_text(plan: Plan, *, color: bool) -> str:
    """The whole plan as a terminal shows it; `color` adds ANSI escape codes."""
    style = _Style(color)
    paragraphs: list[str] = []
    if plan.drift:
        paragraphs += _drift_section(plan, style)
    if plan.notes:
        paragraphs.append("\n".join(_note(note, style) for note in plan.notes))
    if plan.changes:
        paragraphs.append(_legend(plan, style))
        paragraphs.append("aopctl will perform the following actions:")
        paragraphs += ["\n".join(_change_lines(change, style)) for change in plan.changes]
    if plan.operations:
        paragraphs.append(_operations_section(plan, style))
    paragraphs.append(_footer(plan, style))
    return "\n\n".join(paragraphs) + "\n"
