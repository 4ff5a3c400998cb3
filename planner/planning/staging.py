"""Staging moves: when no direct order exists, route single units through a pool with room.

Owns: finding, for a set of requests that deadlock (pools at their max that must swap flavors, pools at
their floor, full subnets that must swap nodes), the fewest extra hops "source -> staging pool" after
which the rest can run, each followed later by the real move "staging pool -> target". A staging pool
must take part, accept and give, keep its floor, accept the unit's flavor so that the unit still ends as
the planned flavor, and sit in the same cluster when cross-cluster moves are forbidden.
Must not: change the final placement (it only adds hops that return to the plan's targets).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from planner.planning.moves import Step
from planner.planning.order import safe_order
from planner.planning.rules import Blocker, State, StepRules


@dataclass
class StagedOrder:
    """Steps in a safe order (staging hops included) and what stays blocked, with why."""

    ordered: list[Step]
    blocked: list[tuple[Step, list[Blocker]]]
    staging_nodes: int


def _unit_of(step: Step) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The first unit (node or whole super node) of a request: (nodes, their source flavors)."""
    if step.super_node:
        return step.nodes, step.source_flavors
    return step.nodes[:1], step.source_flavors[:1]


def _split(step: Step, nodes: tuple[str, ...]) -> Step | None:
    """The request without `nodes` (None when nothing is left)."""
    keep = [(n, f) for n, f in zip(step.nodes, step.source_flavors, strict=True) if n not in nodes]
    if not keep:
        return None
    return replace(step, nodes=tuple(n for n, _ in keep), source_flavors=tuple(f for _, f in keep))


def _candidates(step: Step, unit_flavor: str, rules: StepRules, state: State, cross: bool) -> list[tuple[str, str]]:
    """(staging pool, flavor the unit runs as there), most free room first."""
    out: list[tuple[int, str, str]] = []
    for pool, r in rules.pools.items():
        if pool in (step.source, step.target) or not (r.takes_part and r.accept and r.give) or r.subnet is None:
            continue
        if state.count[pool] < r.floor:
            continue
        if not cross and (r.cluster != step.from_cluster or r.cluster != step.to_cluster):
            continue
        there = rules.resolve_flavor(unit_flavor, pool)
        if there is None or rules.resolve_flavor(there, step.target) != step.flavor:
            continue
        out.append((-state.free[r.subnet], pool, there))
    return [(p, f) for _, p, f in sorted(out)]


def order_with_staging(steps: list[Step], rules: StepRules, *, allow_cross_cluster: bool,
                       max_hops: int | None = None) -> StagedOrder:
    """A safe order for `steps`, adding staging hops (one unit at a time) only where no direct order exists."""
    state = State.initial(rules)
    remaining = list(steps)
    ordered: list[Step] = []
    staged_units: set[tuple[str, ...]] = set()
    staging_nodes = 0
    limit = max_hops if max_hops is not None else sum(s.size for s in steps)
    while True:
        result = safe_order(remaining, rules, state)
        for s in result.ordered:
            state.apply(s)
        ordered.extend(result.ordered)
        if not result.blocked:
            return StagedOrder(ordered, [], staging_nodes)
        blocked = [s for s, _ in result.blocked]
        if len(staged_units) >= limit:
            return StagedOrder(ordered, result.blocked, staging_nodes)
        move = _find_hop(blocked, rules, state, staged_units, allow_cross_cluster)
        if move is None:
            return StagedOrder(ordered, result.blocked, staging_nodes)
        hop, rest, onward = move
        state.apply(hop)
        ordered.append(hop)
        staged_units.add(hop.nodes)
        staging_nodes += hop.size
        remaining = rest + [onward]


def _find_hop(blocked: list[Step], rules: StepRules, state: State, staged: set[tuple[str, ...]],
              cross: bool) -> tuple[Step, list[Step], Step] | None:
    """The first single-unit hop to a staging pool after which some blocked request can run."""
    order = sorted(blocked, key=lambda s: (s.size if s.super_node else 1, s.source, s.target, s.nodes))
    for step in order:
        nodes, flavors = _unit_of(step)
        if nodes in staged:
            continue
        for pool, there in _candidates(step, flavors[0], rules, state, cross):
            r = rules.pools[pool]
            hop = Step(step.source, pool, there, nodes, flavors, step.from_cluster, r.cluster,
                       super_node=step.super_node, staging=True)
            if state.blockers(hop):
                continue
            trial = state.copy()
            trial.apply(hop)
            onward = Step(pool, step.target, step.flavor, nodes, (there,) * len(nodes), r.cluster, step.to_cluster,
                          super_node=step.super_node, deferred=True)
            left = _split(step, nodes)
            rest = [s for s in blocked if s is not step] + ([left] if left is not None else [])
            if any(trial.fit(s) > 0 for s in [*rest, onward]):
                return hop, rest, onward
    return None
