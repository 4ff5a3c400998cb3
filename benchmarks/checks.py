"""The acceptance checks of the performance issues, evaluated on the runner's rows.

Rows of one instance (family, size, seed, cross-cluster setting; plus the `workloads:` spec variant) are
grouped by their `method`:

| method | what |
|---|---|
| `poolshift` | `poolshift plan` with the code under test, `--workers 1` |
| `poolshift w2` | the same with `--workers 2` |
| `reference` | `poolshift plan` with the reference planner's code (a past commit), `--workers 1` |
| `greedy`, `pernode` | the baselines (benchmarks/baseline.py) |

Issue 8 (the `default` family only): 10k/200 OPTIMAL in <= 1.0 s; 100k/1000 OPTIMAL in <= 10 s with peak
<= 1 GiB; >= 100x faster than per-node with the same D and M. Every family: (D, M) never worse than greedy.
Issue 16 (every family): 10k/200 OPTIMAL in <= 0.5 s; 100k/1000 OPTIMAL in <= 3.0 s with peak <= 1 GiB;
`--workers 2` and `--workers 1` both OPTIMAL and the slower within 1.2x of the faster; (D, M) the same as
the reference planner's or better. Issue 14: with a `workloads:` spec, 10k within 1.5x of the time without
workloads (the `default` family's instance of the same size and seed, which the `busy` family is with
workloads added; else the same instance under `busy_nodes: ignore`) and 100k in <= 10 s.

Moves are compared on the final placement (`moves - staging_moves`), as the baselines report placements.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class RowLike(Protocol):
    name: str
    nodes: int
    pools: int
    cross_cluster: bool | None
    method: str
    status: str
    deviation: int | None
    moves: int | None
    wall_seconds: float | None
    peak_mib: float | None
    extra: dict[str, Any]
    family: str
    seed: int | None
    variant: str


@dataclass
class Check:
    """One acceptance criterion of an issue, evaluated on one instance."""

    name: str
    instance: str
    verdict: str  # PASS | FAIL | N/A
    detail: str


def placement_moves(row: RowLike) -> int | None:
    """Moves of the final placement: the plan's moves without staging hops (what the baselines report)."""
    if row.moves is None:
        return None
    staging = row.extra.get("summary", {}).get("staging_moves") or 0
    return int(row.moves) - int(staging)


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _dm(row: RowLike) -> tuple[int, int] | None:
    if row.deviation is None or row.moves is None:
        return None
    moves = placement_moves(row)
    return int(row.deviation), int(moves if moves is not None else row.moves)


def _instance_name(row: RowLike) -> str:
    cross = "on" if row.cross_cluster else "off"
    seed = "" if row.seed is None else f" s{row.seed}"
    variant = f" {row.variant}" if row.variant else ""
    family = "" if row.family == "default" and row.seed is None else f"{row.family} "
    return f"{family}{row.name}{seed} cross={cross}{variant}"


def _pernode_checks(ps: RowLike, pn: RowLike, inst: str) -> list[Check]:
    """Speed-up over the per-node baseline with the same (D, M): end to end, and solver time alone."""
    e2e, solver = ">= 100x faster than per-node end to end, same D and M", ">= 100x faster than per-node solver"
    if pn.deviation is None or ps.deviation is None or not pn.wall_seconds or not ps.wall_seconds:
        detail = f"poolshift {ps.status}, per-node {pn.status}"
        return [Check(e2e, inst, "N/A", detail), Check(solver, inst, "N/A", detail)]
    same = (ps.deviation, placement_moves(ps)) == (pn.deviation, pn.moves)
    note = "" if pn.status == "OPTIMAL" else f" (per-node status {pn.status}: its D/M are not proven optimal)"
    same_text = f"D {ps.deviation} vs {pn.deviation}, M {placement_moves(ps)} vs {pn.moves}{note}"
    speedup = pn.wall_seconds / ps.wall_seconds
    out = [Check(e2e, inst, _verdict(speedup >= 100.0 and same),
                 f"{pn.wall_seconds} s / {ps.wall_seconds} s = {speedup:.1f}x; {same_text}")]
    mine = ps.extra.get("summary", {}).get("solve_seconds")
    theirs = pn.extra.get("solver_seconds")
    if not mine or theirs is None:
        out.append(Check(solver, inst, "N/A", "solver seconds not reported"))
    else:
        ratio = float(theirs) / float(mine)
        out.append(Check(solver, inst, _verdict(ratio >= 100.0 and same),
                         f"{float(theirs):.3f} s / {float(mine):.3f} s = {ratio:.1f}x; {same_text}"))
    return out


def _time_check(name: str, ps: RowLike, inst: str, limit: float, peak_limit: float | None) -> Check:
    wall = ps.wall_seconds if ps.wall_seconds is not None else float("inf")
    peak = ps.peak_mib if ps.peak_mib is not None else float("inf")
    ok = ps.status == "OPTIMAL" and wall <= limit and (peak_limit is None or peak <= peak_limit)
    detail = f"status {ps.status}, wall {ps.wall_seconds} s" + (f", peak {ps.peak_mib} MiB" if peak_limit else "")
    return Check(name, inst, _verdict(ok), detail)


def _issue8(ps: RowLike, by: dict[str, RowLike], inst: str) -> list[Check]:
    checks: list[Check] = []
    if (ps.nodes, ps.pools) == (10_000, 200):
        checks.append(_time_check("10k/200: OPTIMAL in <= 1.0 s", ps, inst, 1.0, None))
    if (ps.nodes, ps.pools) == (100_000, 1_000):
        checks.append(_time_check("100k/1000: OPTIMAL in <= 10 s, peak <= 1 GiB", ps, inst, 10.0, 1024.0))
    if "pernode" in by:
        checks += _pernode_checks(ps, by["pernode"], inst)
    return checks


def _issue16(ps: RowLike, by: dict[str, RowLike], inst: str) -> list[Check]:
    checks: list[Check] = []
    if (ps.nodes, ps.pools) == (10_000, 200):
        checks.append(_time_check("issue 16: 10k/200 OPTIMAL in <= 0.5 s", ps, inst, 0.5, None))
    if (ps.nodes, ps.pools) == (100_000, 1_000):
        checks.append(_time_check("issue 16: 100k/1000 OPTIMAL in <= 3.0 s, peak <= 1 GiB", ps, inst, 3.0, 1024.0))
    w2 = by.get("poolshift w2")
    if w2 is not None:
        name = "issue 16: --workers 2 and 1 both OPTIMAL, slower <= 1.2x faster"
        if ps.wall_seconds and w2.wall_seconds:
            ratio = max(ps.wall_seconds, w2.wall_seconds) / min(ps.wall_seconds, w2.wall_seconds)
            ok = ps.status == w2.status == "OPTIMAL" and ratio <= 1.2
            checks.append(Check(name, inst, _verdict(ok), f"w1 {ps.status} {ps.wall_seconds} s, w2 {w2.status} "
                                f"{w2.wall_seconds} s: {ratio:.2f}x"))
        else:
            checks.append(Check(name, inst, "N/A", f"w1 {ps.status}, w2 {w2.status}"))
    ref = by.get("reference")
    if ref is not None:
        mine, theirs = _dm(ps), _dm(ref)
        name = "issue 16: (D, M) same as the reference planner or better"
        if mine is None or theirs is None:
            checks.append(Check(name, inst, "FAIL" if mine is None and theirs is not None else "N/A",
                                f"poolshift {ps.status}, reference {ref.status}"))
        else:
            speed = ""
            if ref.wall_seconds and ps.wall_seconds:
                ratio = ref.wall_seconds / ps.wall_seconds
                speed = f"; reference {ref.wall_seconds} s / {ps.wall_seconds} s = {ratio:.2f}x"
            checks.append(Check(name, inst, _verdict(mine <= theirs),
                                f"poolshift {ps.status} {mine}, reference {ref.status} {theirs}{speed}"))
    return checks


def _greedy(ps: RowLike, gr: RowLike, inst: str) -> Check:
    mine, theirs = _dm(ps), None if gr.deviation is None or gr.moves is None else (int(gr.deviation), int(gr.moves))
    if mine is None or theirs is None:
        return Check("(D, M) never worse than greedy", inst, "N/A", f"poolshift {ps.status}, greedy {gr.status}")
    return Check("(D, M) never worse than greedy", inst, _verdict(mine <= theirs),
                 f"poolshift (D, M) = {mine}, greedy {theirs} (lexicographic)")


def _workloads(ps: RowLike, plain: RowLike, inst: str) -> Check:
    """Issue 14: planning with a `workloads:` spec against the same instance without it."""
    name = "issue 14: with workloads <= 1.5x the time without (10k), <= 10 s (100k)"
    if ps.wall_seconds is None or plain.wall_seconds is None or ps.status not in ("OPTIMAL", "FEASIBLE"):
        return Check(name, inst, "N/A", f"{ps.status} vs {plain.status}")
    ratio = ps.wall_seconds / plain.wall_seconds
    ok = ps.wall_seconds <= 10.0 if ps.nodes >= 100_000 else ratio <= 1.5
    return Check(name, inst, _verdict(ok), f"{ps.wall_seconds} s vs {plain.wall_seconds} s without: {ratio:.2f}x")


def _without_workloads(groups: dict[tuple[Any, ...], dict[str, RowLike]], family: str, name: str, seed: Any,
                       cross: Any) -> RowLike | None:
    """The plan of the same inventory with no busy node: the `busy` family is the `default` family of the same
    size and seed plus workloads, so that row when the run has it; else the instance planned with
    `busy_nodes: ignore` (busy state not used). Never the instance's plain row: a spec without a `workloads:`
    section is `keep` (PRODUCT §9), so that would compare keep with keep."""
    if family == "busy" and (idle := groups.get(("default", name, seed, cross, ""), {}).get("poolshift")):
        return idle
    return groups.get((family, name, seed, cross, "ignore"), {}).get("poolshift")


def evaluate(rows: list[Any]) -> list[Check]:
    """Every check that the rows of an instance allow (see the module docstring)."""
    checks: list[Check] = []
    groups: dict[tuple[Any, ...], dict[str, RowLike]] = {}
    for row in rows:
        if row.cross_cluster is not None:
            key = (row.family, row.name, row.seed, row.cross_cluster, row.variant)
            groups.setdefault(key, {})[row.method] = row
    for (family, name, seed, cross, variant), by in groups.items():
        ps = by.get("poolshift")
        if ps is None:
            continue
        inst = _instance_name(ps)
        if family == "default" and not variant:
            checks += _issue8(ps, by, inst)
        if "greedy" in by:
            checks.append(_greedy(ps, by["greedy"], inst))
        checks += _issue16(ps, by, inst)
        plain = _without_workloads(groups, family, name, seed, cross) if variant in ("keep", "drain") else None
        if plain is not None:
            checks.append(_workloads(ps, plain, inst))
    return checks
