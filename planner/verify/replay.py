"""The verifier's replay: a plan's steps applied one by one, and wave by wave, to the raw snapshot's counts.

Part of the independent verifier (`planner.verify`): checks every hard rule of PRODUCT §4 per step, per wave (the
worst interleaving), in the final state, the summary's figures, and PRODUCT §9 (busy nodes under `keep`, each
step's `disrupts`, `busy_moves`) from its own reading of the raw snapshot (`world`, `busy`).
Must not: import the inventory, snapshot, API or planning modules, or `solvers`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from planner.planfile import PlanDocument, PlanStep
from planner.spec import Spec
from planner.verify.busy import Ended, read_busy
from planner.verify.world import World, counts, deviation, expected_flavor, read_world


class Replay:
    """The steps applied one by one to the raw snapshot's counts, with every rule they break."""

    def __init__(self, raw: dict[str, Any], spec: Spec, steps: Sequence[PlanStep], world: World | None = None) -> None:
        self.w = world if world is not None else read_world(raw, spec)  # (the replay moves nodes in it)
        self.spec = spec
        self.bad: list[str] = []
        self.start_pool, self.start_cell = counts(self.w)
        self.start_free = dict(self.w.free)
        self.per_pool, self.per_cell = Counter(self.start_pool), Counter(self.start_cell)
        self.moved = 0
        self.staging = 0
        self.complete = False  # every step was replayed (none named a pool or node the snapshot lacks)
        named = {n for step in steps for n in step.nodes}  # busy facts matter only for nodes a step moves
        self.ends = read_busy(raw, self.w, named)  # busy node -> workloads its move ends
        self.keep_busy = spec.workload_rules.busy_nodes == "keep"
        self.gone: set[str] = set()  # nodes that moved (they run nothing any more)
        self.busy_moved = 0
        self.disrupt_errors: list[str] = []  # plan-time facts: checked by verify_plan, not on live state

    def static_checks(self, step: PlanStep) -> bool:
        """Rules a request must meet whatever the state (nodes, pools, flavor, super node, clusters)."""
        w, bad, limits, body = self.w, self.bad, self.spec.limits, step.body
        names, src, tgt = step.nodes, step.source, step.target
        where = f"step {step.id}"
        if len(names) > limits.max_batch_size:
            bad.append(f"{where}: {len(names)} nodes exceed max_batch_size {limits.max_batch_size}")
        if src not in w.pools or tgt not in w.pools:
            bad.append(f"{where}: unknown pool {src if src not in w.pools else tgt}")
            return False
        for n in names:
            if n not in w.where:
                bad.append(f"{where}: unknown node {n}")
                return False
            if w.where[n] != src:
                bad.append(f"{where}: node {n} is in {w.where[n]}, not in {src}")
            why = w.why_not(n)
            if why:
                bad.append(f"{where}: node {n} may not move ({why})")
            if self.keep_busy and n in self.ends and n not in self.gone:
                bad.append(f"{where}: node {n} is busy (runs {', '.join(e[0] for e in self.ends[n])}) and "
                           f"workloads.busy_nodes is keep")
        self._pool_checks(step)
        wants: dict[str, str | None] = {}  # node flavor -> the flavor it must run as in tgt
        for n in names:
            have = w.flavor[n]
            if have not in wants:
                wants[have] = expected_flavor(self.spec, have, w.pools[tgt]["flavors"])
            want = wants[have]
            if want is None:
                bad.append(f"{where}: pool {tgt} accepts no flavor node {n} ({w.flavor[n]}) may become")
            elif want != step.flavor:
                bad.append(f"{where}: node {n} should run as {want} in {tgt}, request says {step.flavor}")
        uids = {w.unit.get(n, "") for n in names}
        creating = body.resourceSpec.creatingStep
        if uids - {""}:
            if len(uids) != 1 or set(names) != w.unit_members[next(iter(uids))]:
                bad.append(f"{where}: a super node must move whole and alone")
            if creating is None or creating.step != len(names):
                bad.append(f"{where}: a super node needs creatingStep {{step: {len(names)}, type: hyperinstance}}")
        elif creating is not None:
            bad.append(f"{where}: creatingStep on a request without a super node")
        clusters = {w.cluster[n] for n in names}
        if len(clusters) != 1 or body.fromClusterName not in clusters:
            bad.append(f"{where}: fromClusterName {body.fromClusterName} is not the nodes' cluster")
        if body.toClusterName != w.pools[tgt]["cluster"]:
            bad.append(f"{where}: toClusterName {body.toClusterName} is not {tgt}'s cluster {w.pools[tgt]['cluster']}")
        if not limits.allow_cross_cluster and body.fromClusterName != body.toClusterName:
            bad.append(f"{where}: crosses clusters while allow_cross_cluster is false")
        return True

    def _pool_checks(self, step: PlanStep) -> None:
        w, bad, src, tgt, where = self.w, self.bad, step.source, step.target, f"step {step.id}"
        if w.pools[src]["wish"] is not None and not w.pools[src]["wish"].give:
            bad.append(f"{where}: pool {src} may not send (give: false)")
        if not w.pools[tgt]["part"] or not w.pools[src]["part"]:
            bad.append(f"{where}: a pool that does not take part sends or receives")
        if w.pools[tgt]["wish"] is not None and not w.pools[tgt]["wish"].accept:
            bad.append(f"{where}: pool {tgt} may not receive (accept: false)")
        if w.pools[tgt]["subnet"] is None:
            bad.append(f"{where}: pool {tgt} has no known subnet")

    def pre_state(self, where: str, src: str, tgt: str, flavor: str, out_n: int, in_n: int, g_n: int,
                  ips_n: int) -> None:
        """Rules on the state before a step (or a whole wave, with every count of the wave added)."""
        w, per_pool = self.w, self.per_pool
        floor = w.pools[src]["floor"]
        if per_pool[src] - out_n < floor:
            self.bad.append(f"{where}: pool {src} drops to {per_pool[src] - out_n} nodes, below its floor {floor}")
        wish = w.pools[tgt]["wish"]
        if wish is not None and wish.max is not None and per_pool[tgt] + in_n > wish.max:
            self.bad.append(f"{where}: pool {tgt} rises to {per_pool[tgt] + in_n} nodes, above its max {wish.max}")
        cap = w.pools[tgt]["flavors"].get(flavor)
        if cap is not None and self.per_cell[(tgt, flavor)] + g_n > cap:
            self.bad.append(f"{where}: pool {tgt} rises to {self.per_cell[(tgt, flavor)] + g_n} {flavor} nodes, "
                            f"above maxCount {cap}")
        sub = w.pools[tgt]["subnet"]
        reserve = self.spec.defaults.ip_reserve
        if sub is not None and w.free[sub] - reserve < ips_n:
            self.bad.append(f"{where}: subnet {sub} has {w.free[sub] - reserve} addresses above its reserve, "
                            f"the step needs {ips_n}")

    def disrupts(self, step: PlanStep) -> None:
        """The step's `disrupts` must list exactly the workloads its move ends (PRODUCT §9); B counts its busy nodes."""
        busy = [n for n in step.nodes if n in self.ends and n not in self.gone]
        if not busy and not step.disrupts:  # the usual step: nothing runs on its nodes, and it says so
            self.gone.update(step.nodes)
            return
        expected: Counter[tuple[str, *Ended]] = Counter((n, *e) for n in busy for e in self.ends[n])
        listed: Counter[tuple[str, *Ended]] = Counter((d.node, d.workload, d.type, d.priority) for d in step.disrupts)
        if listed != expected:
            missing, extra = sorted(expected - listed, key=repr), sorted(listed - expected, key=repr)
            self.disrupt_errors.append(
                f"step {step.id}: disrupts " + "; ".join(
                    part for part in (f"omits {_workloads(missing)}" if missing else "",
                                      f"lists {_workloads(extra)}, which the move does not end" if extra else "")
                    if part))
        self.busy_moved += len({key[0] for key in expected})
        self.gone.update(step.nodes)

    def finish(self, step: PlanStep) -> None:
        """The state after the step: nodes moved and relabelled, the old addresses freed."""
        self.disrupts(step)
        w, src, tgt, flavor = self.w, step.source, step.target, step.flavor
        cluster = w.pools[tgt]["cluster"]
        self.per_pool[src] -= step.size
        self.per_pool[tgt] += step.size
        self.per_cell[(tgt, flavor)] += step.size
        for n in step.nodes:
            self.per_cell[(src, w.flavor[n])] -= 1
            w.where[n] = tgt
            w.flavor[n] = flavor
            w.cluster[n] = cluster
        ips = step.size * self.spec.defaults.ips_per_node
        ssub, tsub = w.pools[src]["subnet"], w.pools[tgt]["subnet"]
        if tsub is not None:
            w.free[tsub] -= ips
        if ssub is not None:
            w.free[ssub] += ips
        self.moved += step.size
        if step.staging:
            self.staging += step.size

    def wave(self, number: int, group: Sequence[PlanStep]) -> bool:
        """A wave in its worst interleaving (everything leaves and every new address is taken first), then each
        step one at a time; False when a step names pools or nodes the snapshot does not have."""
        if not all([self.static_checks(s) for s in group]):
            return False
        out_by: Counter[str] = Counter()
        in_by: Counter[str] = Counter()
        g_by: Counter[tuple[str, str]] = Counter()
        ips_by: Counter[str] = Counter()
        ips = self.spec.defaults.ips_per_node
        for s in group:
            sub = str(self.w.pools[s.target]["subnet"])
            out_by[s.source] += s.size
            in_by[s.target] += s.size
            g_by[(s.target, s.flavor)] += s.size
            ips_by[sub] += s.size * ips
            self.pre_state(f"wave {number}", s.source, s.target, s.flavor, out_by[s.source], in_by[s.target],
                           g_by[(s.target, s.flavor)], ips_by[sub])
        for s in group:
            self.pre_state(f"step {s.id}", s.source, s.target, s.flavor, s.size, s.size, s.size, s.size * ips)
            self.finish(s)
        return True

    def final_checks(self) -> None:
        """PRODUCT §4 in the final state, and the move cap."""
        w, spec, bad = self.w, self.spec, self.bad
        for name, facts in w.pools.items():
            wish = facts["wish"]
            n, n0 = self.per_pool[name], self.start_pool[name]
            low = min(n0, facts["floor"])
            if wish is not None and wish.min is not None:
                low = max(low, wish.min)
            if n < low:
                bad.append(f"final: pool {name} has {n} nodes, fewer than {low}")
            if wish is not None and wish.max is not None and n > wish.max:
                bad.append(f"final: pool {name} has {n} nodes, more than its max {wish.max}")
            if not facts["part"] and n != n0:
                bad.append(f"final: pool {name} does not take part but changed from {n0} to {n}")
            for flavor, cap in facts["flavors"].items():
                if cap is not None and self.per_cell[(name, flavor)] > max(cap, self.start_cell[(name, flavor)]):
                    bad.append(f"final: pool {name} has {self.per_cell[(name, flavor)]} {flavor} nodes, "
                               f"maxCount {cap}")
        reserve = spec.defaults.ip_reserve
        for sub, free in w.free.items():
            need = min(self.start_free[sub], reserve)
            if free < need:
                bad.append(f"final: subnet {sub} keeps {free} free addresses, needs {need}")
        if spec.limits.max_moves is not None and self.moved > spec.limits.max_moves:
            bad.append(f"{self.moved} moved nodes exceed max_moves {spec.limits.max_moves}")

    def summary_checks(self, plan: PlanDocument) -> None:
        """The summary's figures, recomputed from the replay."""
        s, bad = plan.summary, self.bad
        if s.moves != self.moved:
            bad.append(f"summary.moves is {s.moves}, the steps move {self.moved} nodes")
        if s.requests != len(plan.steps):
            bad.append(f"summary.requests is {s.requests}, there are {len(plan.steps)} steps")
        if s.staging_moves != self.staging:
            bad.append(f"summary.staging_moves is {s.staging_moves}, staging steps move {self.staging}")
        if s.busy_moves != self.busy_moved:
            bad.append(f"summary.busy_moves is {s.busy_moves}, the steps move {self.busy_moved} busy nodes")
        d_before = deviation(self.w, self.spec, self.start_pool, self.start_cell, self.start_cell)
        d_after = deviation(self.w, self.spec, self.per_pool, self.per_cell, self.start_cell)
        if s.deviation_before != d_before:
            bad.append(f"summary.deviation_before is {s.deviation_before}, recomputed {d_before}")
        if s.deviation_after != d_after:
            bad.append(f"summary.deviation_after is {s.deviation_after}, recomputed {d_after}")
        if s.status == "OPTIMAL" and s.bound != d_after:
            bad.append(f"summary says OPTIMAL but bound {s.bound} differs from deviation {d_after}")
        if s.bound > d_after:
            bad.append(f"summary.bound {s.bound} is above the deviation {d_after}")


def _workloads(entries: list[tuple[str, *Ended]]) -> str:
    return ", ".join(f"{workload} on {node}" for node, workload, *_ in entries)


def replay(raw: dict[str, Any], spec: Spec, steps: Sequence[PlanStep], world: World | None = None) -> Replay:
    """Replay `steps` wave by wave; stops at a wave that names a pool or node the snapshot does not have.
    `world`: `read_world(raw, spec)` taken ahead, used up by this replay."""
    replay = Replay(raw, spec, steps, world)
    i = 0
    while i < len(steps):
        j = i
        while j < len(steps) and steps[j].wave == steps[i].wave:
            j += 1
        if not replay.wave(steps[i].wave, steps[i:j]):
            return replay
        i = j
    replay.complete = True
    replay.final_checks()
    return replay
