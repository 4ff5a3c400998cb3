"""The key facts of a plan, one per line: what `plan` prints when it is done and what `show` opens with.

Owns: `summary_lines` (status and its proof in words, moves/requests/waves, solver time and inventory fingerprint,
the digest). Imports nothing but the plan file model, so that `plan` prints them without importing the report
modules (`planner.review.show`, `report_data`, `tables`). Must not: print (the CLI prints) or compute plans.
"""

from __future__ import annotations

from planner.planfile import PlanDocument


def _proof(doc: PlanDocument) -> str:
    """What the status means, in words: proven, or what was lost and why (never a bound beside another number)."""
    s = doc.summary
    if s.status == "OPTIMAL":
        return "proven optimal"
    if s.blocked_by:
        return (f"the best placement has deviation {s.bound}, but no safe order reaches it; blocked by: "
                + "; ".join(s.blocked_by))
    return f"not proven optimal: the solver's time limit ran out; no placement has a deviation below {s.bound}"


def summary_lines(doc: PlanDocument) -> list[str]:
    """Key facts of a plan, one per line, ending with the digest that names exactly this plan."""
    s = doc.summary
    busy = f", {s.busy_moves} busy node moves" if s.busy_moves else ""
    return [
        f"status {s.status}  deviation {s.deviation_before} -> {s.deviation_after} ({_proof(doc)})",
        f"{s.moves} node moves in {s.requests} requests, {s.waves} wave(s)"
        f" ({s.staging_moves} staging moves, {s.cross_cluster_requests} cross-cluster requests{busy})",
        f"solver {s.solve_seconds} s; inventory {doc.inventory_fingerprint}",
        f"plan digest {doc.digest}",
    ]
