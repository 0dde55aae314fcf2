"""Renderers: a Plan (pure data) → text, JSON or Markdown. They return strings, never print.

- `render_text(plan, color=...)`: Terraform-style terminal output.
- `render_json(plan)` / `plan_to_dict` / `plan_from_dict`: the canonical, documented JSON form
  (schemas/plan.schema.json), also the body of a saved plan.
- `render_markdown(plan)`: a pull-request comment.
- `render_drift_text`, `render_drift_json`, `render_drift_markdown`: an `aopctl drift` report
  (schemas/drift.schema.json), with `drift_report_to_dict` / `drift_report_from_dict`.

No renderer ever prints a sensitive value: see `plan_json.is_sensitive` and `plan_json.redact`.
"""

from planner.render.drift import (
    DRIFT_FORMAT_VERSION,
    drift_report_from_dict,
    drift_report_to_dict,
    load_drift_schema,
    render_drift_json,
    render_drift_markdown,
    render_drift_text,
    validate_drift_dict,
)
from planner.render.markdown import render_markdown
from planner.render.plan_json import (
    FORMAT_VERSION,
    canonical_json,
    load_plan_schema,
    plan_from_dict,
    plan_to_dict,
    render_json,
    validate_plan_dict,
)
from planner.render.text import (
    change_subject,
    render_change,
    render_drift,
    render_text,
    summary_line,
)

__all__ = [
    "DRIFT_FORMAT_VERSION",
    "FORMAT_VERSION",
    "canonical_json",
    "change_subject",
    "drift_report_from_dict",
    "drift_report_to_dict",
    "load_drift_schema",
    "load_plan_schema",
    "plan_from_dict",
    "plan_to_dict",
    "render_change",
    "render_drift",
    "render_drift_json",
    "render_drift_markdown",
    "render_drift_text",
    "render_json",
    "render_markdown",
    "render_text",
    "summary_line",
    "validate_drift_dict",
    "validate_plan_dict",
]
