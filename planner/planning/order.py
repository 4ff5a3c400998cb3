"""Moves -> batch-migrate requests, in an order that is safe step by step, grouped into waves.

Owns: grouping moves into requests (same source pool, target pool, target flavor and clusters; at most
`max_batch_size` nodes; a super node alone and whole), the per-step rules of PRODUCT §4 on a simulated
state, a safe sequence (repeated passes that run every step whose preconditions hold; when they leave steps
blocked, passes that run the moves inside one subnet first and hold room for them), and waves (§6).
When no direct order exists it reports what blocks (PlanningError, exit 3) or, with staging allowed, the
caller (`planner.planning.staging`) adds staging hops.
Must not: choose nodes or call the solver.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace

from planner.errors import PlanningError
from planner.planning.moves import Move, Step
from planner.planning.rules import Blocker, State, StepRules


def group_requests(moves: list[Move], max_batch_size: int, *, staging: bool = False) -> list[Step]:
    """Group moves that share source, target, flavor and clusters into requests of at most max_batch_size."""
    groups: dict[tuple[str, str, str, str, str], list[Move]] = defaultdict(list)
    steps: list[Step] = []
    for m in moves:
        if m.is_super_node:
            steps.append(Step(m.source, m.target, m.flavor, m.nodes, (m.source_flavor,) * m.size,
                              m.from_cluster, m.to_cluster, super_node=True, staging=staging))
        else:
            groups[(m.source, m.target, m.flavor, m.from_cluster, m.to_cluster)].append(m)
    for (src, tgt, flavor, fc, tc), group in sorted(groups.items()):
        group = sorted(group, key=lambda m: m.nodes)
        for i in range(0, len(group), max_batch_size):
            chunk = group[i:i + max_batch_size]
            steps.append(Step(src, tgt, flavor, tuple(n for m in chunk for n in m.nodes),
                              tuple(m.source_flavor for m in chunk), fc, tc, staging=staging))
    return sorted(steps, key=_step_key)


def _step_key(s: Step) -> tuple[str, str, str, tuple[str, ...]]:
    return (s.source, s.target, s.flavor, s.nodes)


@dataclass
class OrderResult:
    """Steps in a safe order, and the steps no direct order could place (with why)."""

    ordered: list[Step]
    blocked: list[tuple[Step, list[Blocker]]] = field(default_factory=list)


def safe_order(steps: list[Step], rules: StepRules, state: State | None = None) -> OrderResult:
    """Run every step whose preconditions hold, pass after pass, until none is left or none can run.

    When that leaves steps blocked, the passes run once more, minding the requests that stay inside one subnet
    (`_Inside`): such a request needs room in its subnet only while it runs (its nodes hold both addresses,
    PRODUCT §4), and arrivals from other subnets that ran before it may have taken that room for good (10k default
    s4 without cross-cluster moves: 3 arriving nodes took the 3 addresses above the reserve that a move between
    two pools of the subnet needed for a moment). That order is kept only if it leaves nothing blocked."""
    first = _passes(steps, rules, state, None)
    if not first.blocked:
        return first
    second = _passes(steps, rules, state, _Inside(steps, rules))
    return first if second.blocked else second


class _Inside:
    """The requests still to run inside one subnet, and the room an arrival must leave for them: they go first in
    each pass, and a request into their subnet from another runs only as far as it leaves the room the largest
    of them needs (unless nothing could run otherwise: then the passes go on without holding room)."""

    def __init__(self, steps: list[Step], rules: StepRules) -> None:
        self.rules = rules
        self.pending: dict[str, Counter[int]] = defaultdict(Counter)  # subnet -> sizes of its inside requests
        for step in steps:
            subnet = self.subnet_of(step)
            if subnet is not None:
                self.pending[subnet][step.size] += 1
        self.holding = True

    def subnet_of(self, step: Step) -> str | None:
        """The subnet a request stays inside, None when it changes subnet (or a subnet is unknown)."""
        subnet = self.rules.pools[step.source].subnet
        return subnet if subnet is not None and subnet == self.rules.pools[step.target].subnet else None

    def first(self, steps: list[Step]) -> list[Step]:
        return sorted(steps, key=lambda s: self.subnet_of(s) is None)  # stable: request order otherwise

    def fit(self, step: Step, state: State, k: int) -> int:
        """At most `k` nodes of `step` (what fits), fewer when it would take the room an inside request needs."""
        subnet = self.rules.pools[step.target].subnet
        if not self.holding or subnet is None or subnet not in self.pending or self.subnet_of(step) is not None:
            return k
        largest = max((size for size, n in self.pending[subnet].items() if n > 0), default=0)
        if not largest:
            return k
        ips = self.rules.ips_per_node
        k = min(k, (state.free[subnet] - self.rules.ip_reserve - largest * ips) // ips)
        return 0 if k < 0 or (step.super_node and k < step.size) else k

    def ran(self, step: Step, k: int) -> None:
        """`k` nodes of `step` ran (its tail of size - k, if any, waits)."""
        subnet = self.subnet_of(step)
        if subnet is not None:
            self.pending[subnet][step.size] -= 1
            if k < step.size:
                self.pending[subnet][step.size - k] += 1


def _passes(steps: list[Step], rules: StepRules, state: State | None, inside: _Inside | None) -> OrderResult:
    """`safe_order`'s passes, each in request order (with `inside`: the requests inside one subnet first, and
    room held for them)."""
    state = state.copy() if state is not None else State.initial(rules)
    remaining = sorted(steps, key=_step_key)
    if inside is not None:
        remaining = inside.first(remaining)
    ordered: list[Step] = []
    while remaining:
        left: list[Step] = []
        progressed = False
        regular = [s for s in remaining if not s.deferred]
        later = [s for s in remaining if s.deferred]
        if not any(state.fit(s) for s in regular):
            regular, later = remaining, []  # nothing else can move: let the onward moves of staged units run
        for step in regular:
            k = state.fit(step) if inside is None else inside.fit(step, state, state.fit(step))
            if k > 0 and inside is not None:
                inside.ran(step, k)
            if k == step.size:
                state.apply(step)
                ordered.append(step)
                progressed = True
            elif k > 0:
                # Run the part that fits now; the rest waits for room (a request may always be smaller).
                head, tail = split_step(step, k)
                state.apply(head)
                ordered.append(head)
                left.append(tail)
                progressed = True
            else:
                left.append(step)
        if not progressed and inside is not None and inside.holding:
            inside.holding = False  # holding room blocked everything: run what fits
            remaining = left + later
            continue
        if not progressed:
            return OrderResult(ordered, [(s, state.blocking_rules(s)) for s in left + later])
        remaining = left + later
    return OrderResult(ordered)


def split_step(step: Step, k: int) -> tuple[Step, Step]:
    """The first k nodes of a request, and the rest (never used on a super node)."""
    return (replace(step, nodes=step.nodes[:k], source_flavors=step.source_flavors[:k]),
            replace(step, nodes=step.nodes[k:], source_flavors=step.source_flavors[k:]))


def assign_waves(steps: list[Step], rules: StepRules, *, max_parallel: int = 10, per_pool: int = 2,
                 state: State | None = None) -> list[Step]:
    """Group consecutive safe steps into waves that stay safe in any interleaving (PRODUCT §6); number them."""
    state = state.copy() if state is not None else State.initial(rules)
    out: list[Step] = []
    wave: list[Step] = []
    leaving: dict[str, int] = defaultdict(int)
    arriving: dict[str, int] = defaultdict(int)
    flavor_in: dict[tuple[str, str], int] = defaultdict(int)
    ips_taken: dict[str, int] = defaultdict(int)
    busy: dict[str, int] = defaultdict(int)
    number = 1

    def close() -> None:
        nonlocal number
        for s in wave:
            state.apply(s)
        wave.clear()
        leaving.clear()
        arriving.clear()
        flavor_in.clear()
        ips_taken.clear()
        busy.clear()
        number += 1

    for step in steps:
        tsub = rules.pools[step.target].subnet or ""
        fits = (
            len(wave) < max_parallel
            and busy[step.source] < per_pool and busy[step.target] < per_pool
            and not state.blockers(step, leaving=leaving[step.source] + step.size,
                                   arriving=arriving[step.target] + step.size,
                                   flavor_arriving=flavor_in[(step.target, step.flavor)] + step.size,
                                   ips_taken=ips_taken[tsub])
        )
        if wave and not fits:
            close()
        wave.append(step)
        out.append(replace(step, wave=number, id=len(out) + 1))
        leaving[step.source] += step.size
        arriving[step.target] += step.size
        flavor_in[(step.target, step.flavor)] += step.size
        ips_taken[tsub] += step.size * rules.ips_per_node
        busy[step.source] += 1
        busy[step.target] += 1
    return out


def explain_blocked(blocked: list[tuple[Step, list[Blocker]]]) -> PlanningError:
    """A PlanningError naming the pools, subnets and rules that leave steps without a safe order."""
    reasons = sorted({text for _, why in blocked for _, _, text in why})
    pools = sorted({s.source for s, _ in blocked} | {s.target for s, _ in blocked})
    first = blocked[0][0]
    msg = (f"no safe order for {len(blocked)} request(s) (e.g. {first.size} node(s) {first.source} -> "
           f"{first.target}): " + "; ".join(reasons[:6]) + (" ..." if len(reasons) > 6 else ""))
    return PlanningError(msg, rules=reasons, pools=pools)
