"""The what-if comparison: every scenario's outcome side by side as a text table, a Markdown table or JSON.

Owns: the table's columns and rows, the Markdown details below it, and the `--output json` document.
Must not: plan (planner.review.whatif does), print or write files (the CLI does).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from planner.review.tables import md_escape, md_table, text_table
from planner.review.whatif import ScenarioOutcome

_HEADERS = [
    "scenario",
    "feasible",
    "status",
    "D before",
    "D after",
    "moves",
    "busy",
    "requests",
    "waves",
    "staging",
    "binding rules",
]
_NUMERIC = [False, False, False, True, True, True, True, True, True, True, False]


def _row(o: ScenarioOutcome, *, wrap: int | None) -> list[Any]:
    name = o.name + (" (baseline)" if o.baseline and o.name != "baseline" else "")
    if o.feasible:
        why = "; ".join(o.binding) or "-"
    else:
        why = "; ".join(o.binding) or (o.error or "infeasible")
    if wrap is not None and len(why) > wrap:
        why = why[: wrap - 1] + "…"
    return [
        name,
        "yes" if o.feasible else "NO",
        o.status,
        o.deviation_before,
        o.deviation_after,
        o.moves,
        o.busy_moves,
        o.requests,
        o.waves,
        o.staging_moves,
        why,
    ]


def render_comparison(outcomes: Sequence[ScenarioOutcome], *, markdown: bool = False) -> str:
    """The scenarios side by side as a text table, or a Markdown table with details below it."""
    if markdown:
        lines = [
            "## What-if scenarios",
            "",
            md_table(_HEADERS, [_row(o, wrap=None) for o in outcomes], numeric=_NUMERIC),
        ]
        described = [o for o in outcomes if o.description]
        if described:
            lines += ["", *(f"- **{md_escape(o.name)}**: {md_escape(o.description or '')}" for o in described)]
        infeasible = [o for o in outcomes if not o.feasible]
        for o in infeasible:
            lines += ["", f"**{md_escape(o.name)}** has no feasible placement: {md_escape(o.error or '')}"]
        return "\n".join(lines) + "\n"
    lines = [text_table(_HEADERS, [_row(o, wrap=70) for o in outcomes], numeric=_NUMERIC)]
    for o in outcomes:
        if not o.feasible:
            lines.append(f"{o.name}: {o.error}")
    return "\n".join(lines) + "\n"


def comparison_document(outcomes: Sequence[ScenarioOutcome]) -> dict[str, Any]:
    """`{"scenarios": [...], "baseline": name | None}` for `--output json`."""
    baseline = next((o.name for o in outcomes if o.baseline), None)
    return {"scenarios": [o.to_dict() for o in outcomes], "baseline": baseline}
