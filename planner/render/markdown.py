"""Plan → Markdown for a pull-request comment or a CI job summary.

Order: heading, the footer sentence, the summary tables, then each change's text rendering in
a collapsed `<details>` block, drift, notes and API calls. Inside the ```diff fences the leading
`+`/`-` of a line moves to column 0 (keeping the width), so that GitHub colours the line.
"""

from __future__ import annotations

import html
import re
from typing import Final

from tabulate import tabulate

from planner.plan_model import Action, Change, Plan
from planner.render.plan_json import redact
from planner.render.text import (
    BATCHED_PUTS,
    DRIFT_TITLE,
    DRIFT_UNLESS,
    change_subject,
    render_change,
    render_drift,
    shares_puts,
    summary_line,
)

_ACTION_LABEL: Final = {
    Action.CREATE: "create",
    Action.UPDATE: "update",
    Action.REPLACE: "replace",
    Action.DELETE: "destroy",
    Action.IMPORT: "import",
    Action.FORGET: "forget",
    Action.WAIT: "wait",
}
# A change symbol after the indentation, followed by a space ("-----BEGIN" is left alone).
_LEADING_SYMBOL: Final = re.compile(r"^( +)([+-]) ", re.MULTILINE)


def md_cell(text: str) -> str:
    """Text safe inside a table cell or an HTML element: no markup, no pipe, one line."""
    return html.escape(" ".join(redact(text).split()), quote=False).replace("|", "\\|")


def md_code(text: str) -> str:
    """An inline code span that survives backticks in `text`."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{padding}{text}{padding}{fence}"


def diff_fence(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    body = _LEADING_SYMBOL.sub(lambda m: f"{m[2]}{m[1]} ", text)
    return f"{fence}diff\n{body}\n{fence}"


def md_table(headers: list[str], rows: list[list[str]], align: tuple[str, ...] = ()) -> str:
    return tabulate(
        rows, headers=headers, tablefmt="github", disable_numparse=True, colalign=align or None
    )


def _summary_table(plan: Plan) -> str:
    summary = plan.summary
    counts = [
        ("import", summary.imported),
        ("add", summary.add),
        ("change", summary.change),
        ("destroy", summary.destroy),
    ]
    rows = [[label, str(count)] for label, count in counts]
    return md_table(["action", "count"], rows, align=("left", "right"))


def _resources_table(plan: Plan) -> str:
    rows = [
        [
            _ACTION_LABEL[change.action],
            md_code(change_subject(change)),
            md_cell(change.zone),
            md_cell(change.reason),
        ]
        for change in plan.changes
    ]
    return md_table(["action", "address", "zone", "reason"], rows)


def _details(change: Change) -> str:
    summary = f"{md_cell(change_subject(change))} — {_ACTION_LABEL[change.action]}"
    return (
        f"<details><summary>{summary}</summary>\n\n"
        f"{diff_fence(render_change(change))}\n\n</details>"
    )


def _drift_section(plan: Plan) -> list[str]:
    rows = [[drift.kind, md_code(str(drift.address)), md_cell(drift.zone)] for drift in plan.drift]
    blocks = "\n\n".join(render_drift(drift) for drift in plan.drift)
    parts = [f"### {DRIFT_TITLE}", md_table(["drift", "address", "zone"], rows)]
    parts.append(diff_fence(blocks))
    if plan.mode != "refresh-only":
        parts.append(DRIFT_UNLESS)
    return parts


def _operations_section(plan: Plan) -> list[str]:
    lines = [
        f"{number}. {operation.kind} {md_code(str(operation.address))}: "
        f"{md_code(redact(operation.description))}"
        for number, operation in enumerate(plan.operations, start=1)
    ]
    if shares_puts(plan):
        lines.append(f"\n{BATCHED_PUTS}")
    return ["### API calls", "\n".join(lines)]


def render_markdown(plan: Plan) -> str:
    """The plan as GitHub-flavoured Markdown; the same plan always gives the same text."""
    title = "## aopctl plan" + ("" if plan.mode == "normal" else f" ({plan.mode})")
    parts = [title, f"**{md_cell(summary_line(plan))}**", _summary_table(plan)]
    if plan.changes:
        parts += ["### Changes", _resources_table(plan)]
        parts += [_details(change) for change in plan.changes]
    if plan.drift:
        parts += _drift_section(plan)
    if plan.notes:
        parts += ["### Notes", "\n".join(f"- {md_cell(note)}" for note in plan.notes)]
    if plan.operations:
        parts += _operations_section(plan)
    return "\n\n".join(parts) + "\n"
