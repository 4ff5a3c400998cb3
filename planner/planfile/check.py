"""Does a plan add up? Its steps replayed on its own tables, with nothing but the plan itself.

Owns: the checks a reader can make without the inventory, so that a hand-edited plan is refused by every
command before anything is shown or sent: step ids 1, 2, 3, ...; every step between two pools of the plan's
table that take part, into a pool that accepts the request's flavor, moving no node the plan lists as one that
may not move; the pool table's `after` counts equal to `before` plus the steps; the summary's figures equal to
what the steps add up to; the embedded spec equal to its fingerprint. (The digest, checked by the reader after
these, catches what no replay can see, such as a node renamed.)
Must not: read the inventory (the verifier checks a plan against it) or change the plan.
"""

from __future__ import annotations

from collections import Counter

from planner.planfile.model import PlanDocument, PlanStep


def plan_problems(doc: PlanDocument) -> list[str]:
    """What does not add up in `doc`, the first problem first (empty: it adds up)."""
    problems = _step_problems(doc)
    if problems:
        return problems
    problems += _count_problems(doc)
    problems += _summary_problems(doc)
    if doc.spec.fingerprint != doc.spec_fingerprint:
        problems.append(f"spec_fingerprint is {doc.spec_fingerprint} but the embedded spec's is "
                        f"{doc.spec.fingerprint}: the embedded spec was changed")
    return problems


def _step_problems(doc: PlanDocument) -> list[str]:
    """Each step on its own: its id in sequence, its pools in the table and taking part, its flavor accepted."""
    excluded = {e["node"] for e in doc.excluded}
    for position, step in enumerate(doc.steps, start=1):
        where = f"step {step.id}"
        if step.id != position:
            return [f"{where} is at position {position}: step ids must be 1, 2, 3, ... in order"]
        for pool in (step.source, step.target):
            row = doc.pools.get(pool)
            if row is None:
                return [f"{where}: pool {pool} is not in the plan's pool table"]
            if not row.takes_part:
                return [f"{where}: pool {pool} does not take part ({row.excluded_reason or 'excluded'})"]
        if step.flavor not in doc.pools[step.target].accepts:
            return [f"{where}: pool {step.target} does not accept flavor {step.flavor}"]
        for relabel in step.relabels:
            if relabel.node not in step.nodes or relabel.to_flavor != step.flavor:
                return [f"{where}: relabel of node {relabel.node} to {relabel.to_flavor} does not match the request"]
        stuck = sorted(set(step.nodes) & excluded)
        if stuck:
            return [f"{where}: node {stuck[0]} is one the plan lists as may not move"]
    return []


def _count_problems(doc: PlanDocument) -> list[str]:
    """The pool table's `after` counts, replayed from `before` through the steps."""
    count = {pool: row.before for pool, row in doc.pools.items()}
    touched: dict[str, list[int]] = {}
    for step in doc.steps:
        count[step.source] -= step.size
        count[step.target] += step.size
        for pool in (step.source, step.target):
            touched.setdefault(pool, []).append(step.id)
    problems = []
    for pool, row in sorted(doc.pools.items()):
        if count[pool] != row.after:
            steps = touched.get(pool, [])
            by = f" (steps {', '.join(map(str, steps))} touch it)" if steps else " (no step touches it)"
            problems.append(f"pool {pool}: before {row.before} and the steps give {count[pool]} nodes, the table "
                            f"says {row.after}{by}")
    return problems


def _summary_problems(doc: PlanDocument) -> list[str]:
    """The summary's figures, from the steps."""
    s, steps = doc.summary, doc.steps
    expected = {
        "moves": sum(step.size for step in steps),
        "requests": len(steps),
        "waves": max((step.wave for step in steps), default=0),
        "staging_moves": sum(step.size for step in steps if step.staging),
        "cross_cluster_requests": sum(1 for step in steps if step.crosses_clusters),
        "busy_moves": _busy_nodes(steps),
    }
    return [f"summary.{key} is {getattr(s, key)}, the steps give {value}"
            for key, value in expected.items() if getattr(s, key) != value]


def _busy_nodes(steps: list[PlanStep]) -> int:
    """Nodes moved while busy: each (step, node) that ends at least one workload."""
    return len(Counter((step.id, d.node) for step in steps for d in step.disrupts))
