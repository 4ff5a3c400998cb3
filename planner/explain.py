"""Infeasible placements explained in the user's terms (exit 3).

Owns: asking the solver for a small set of hard rules that conflict (an assumptions core) and describing
each with the numbers behind it ("pool A must keep at least 4 nodes; 3 are there and 0 may arrive").
Must not: change the problem.
"""

from __future__ import annotations

from planner.errors import PlanningError
from planner.problem import Context
from solvers.flow import infeasible_rules
from solvers.params import SolveParams
from solvers.problem import FlowProblem


def describe_rule(tag: str, problem: FlowProblem, ctx: Context) -> tuple[str, str | None]:
    """(sentence, pool or subnet id) for one rule tag of the model."""
    kind, _, idx = tag.partition(":")
    if kind in ("pool_lo", "pool_hi"):
        i = int(idx)
        pool = ctx.pool_ids[i]
        pd_, r = problem.pools[i], ctx.rules[pool]
        movable_out = sum(c.size * c.count for c in problem.classes if c.pool == i)
        if kind == "pool_lo":
            why = "spec min" if r.lo > min(r.count, r.floor) else "floor"
            if not r.give and r.lo == r.count:
                why = "give: false"
            return (f"pool {pool} must end with at least {pd_.lo} nodes ({why}); it has {pd_.count}", pool)
        why = "spec max" if r.hi is not None and r.hi < r.count else "max"
        if not r.accept:
            why = "accept: false"
        return (f"pool {pool} must end with at most {pd_.hi} nodes ({why}); it has {pd_.count}, "
                f"{movable_out} of them may move", pool)
    if kind == "cap":
        cell = problem.cells[int(idx)]
        pool = ctx.pool_ids[cell.pool]
        return (f"pool {pool} may hold at most {cell.cap} nodes of {ctx.flavors[cell.flavor]} (maxCount); "
                f"it has {cell.count}", pool)
    if kind == "subnet":
        s = int(idx)
        sid = ctx.subnet_ids[s]
        return (f"subnet {sid} must keep {problem.subnets[s].lo} free addresses; it has "
                f"{problem.subnets[s].free}", sid)
    if tag == "max_moves":
        return (f"at most {problem.max_moves} nodes may move (limits.max_moves)", None)
    return (tag, None)


def explain_infeasible(problem: FlowProblem, ctx: Context, params: SolveParams) -> PlanningError:
    """A PlanningError naming a small set of conflicting hard rules, found from the model."""
    tags = infeasible_rules(problem, params)
    if not tags:
        return PlanningError("no placement meets the hard rules (the solver found no smaller explanation)")
    described = [describe_rule(t, problem, ctx) for t in tags]
    sentences = [d[0] for d in described]
    pools = sorted({d[1] for d in described if d[1]})
    supply = problem.movable_nodes
    msg = "no placement meets the hard rules: " + "; ".join(sentences) + f" ({supply} nodes may move in all)"
    return PlanningError(msg, rules=sentences, pools=pools)
