"""Substituted lattice cuts (solvers/cuts.py `separate`): every row they add holds for every placement, whatever
LP point they were separated from, and they close the gap a pool of single nodes and super nodes leaves."""

from __future__ import annotations

import random
import time
from dataclasses import replace
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solvers import stage
from solvers.branching import BranchProof
from solvers.cuts import add_lattice_cuts, separate
from solvers.model import build_model, complete_hint
from solvers.params import SolveParams
from solvers.problem import Arrival, Commodity, FlavorCell, FlowProblem, PoolData, SubnetData, UnitClass
from solvers.relax import relax, resolve
from tests.solvers.problems import brute_force, flow_problems, placements, solves_as_brute_force

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def mixed_pools(draw: st.DrawFn) -> FlowProblem:
    """2-3 pools holding single nodes (flavor 0) and super nodes of 2-4 (flavor 1), every pool open to both, targets
    and flavor targets anywhere near the counts, and room enough that most departure vectors are placements."""
    n_pools = draw(st.integers(2, 3))
    comms = (Commodity(0, 1, -1), Commodity(1, draw(st.integers(2, 4)), -1))
    slots = [(pool, k) for pool in range(n_pools) for k in range(2)]
    chosen = draw(st.lists(st.sampled_from(slots), min_size=2, max_size=4, unique=True))
    classes = tuple(UnitClass(pool, k, k, comms[k].size, 0, draw(st.integers(1, 2)), draw(st.booleans()))
                    for pool, k in sorted(chosen))
    have = [[sum(c.size * c.count for c in classes if c.pool == pool and c.flavor == f) for f in range(2)]
            for pool in range(n_pools)]
    counts = [sum(have[pool]) + draw(st.integers(0, 3)) for pool in range(n_pools)]
    pools = tuple(PoolData(counts[pool], 0, None, draw(st.one_of(st.none(), st.tuples(*[st.integers(0, 14)] * 2).map(
        lambda t: (min(t), max(t))))), 0, 0) for pool in range(n_pools))
    cells = tuple(FlavorCell(pool, f, have[pool][f], (t, t), None) for pool in range(n_pools) for f in range(2)
                  if (t := draw(st.one_of(st.none(), st.integers(0, 8)))) is not None)
    arrivals = tuple(Arrival(k, pool, k) for k in range(2) for pool in range(n_pools))
    return FlowProblem(pools, comms, classes, arrivals, cells, (SubnetData(100, 0),), n_flavors=2)


@SETTINGS
@given(st.one_of(flow_problems(sizes=(1, 2, 4)), mixed_pools()), st.randoms(use_true_random=False))
def test_separated_rows_hold_for_every_placement(p: FlowProblem, rnd: random.Random) -> None:
    """Rows separated from the LP optimum and from random points within the bounds: each holds at every placement,
    its deviation variables at the least value their rows allow (larger values only add to a row's left side)."""
    try:
        m, v, _ = build_model(p)
    except ValueError:  # a rule that no placement can meet
        return
    add_lattice_cuts(m, p, v)
    first = len(m.rows)
    plain = replace(m, rows=list(m.rows))  # the deviations' least values come from the model's own rows
    points = [[rnd.uniform(lo, hi) for lo, hi in zip(m.lbs, m.ubs, strict=True)] for _ in range(8)]
    lp = relax(m, 10)
    if lp is not None:
        points.append(lp.values)
    for point in points:
        separate(m, p, v, point)
    rows = m.rows[first:]
    for out, into in placements(p):
        values = [0] * len(m.lbs)
        for x, n in zip(v.out, out, strict=True):
            values[x] = n
        for x, n in zip(v.into, into, strict=True):
            values[x] = n
        complete_hint(plain, values)
        for row in rows:
            assert row.lb is not None and row.ub is None
            assert sum(c * values[x] for x, c in zip(row.vars, row.coefs, strict=True)) >= row.lb, row.name


def _mixed_pool() -> FlowProblem:
    """Pool 0 (20 nodes: 3 single nodes and 2 super nodes of 8 that may leave, 1 that may not) wants 15: losing 5
    it reaches 17 (the 3 single nodes) or 12 (a super node), 2 off at best. Its count has no lattice (single
    nodes move), so the plain lattice cuts add nothing; the LP sends 5/8 of a super node, D = 0."""
    comms = (Commodity(0, 1, -1), Commodity(1, 8, -1))
    classes = (UnitClass(0, 0, 0, 1, 0, 3), UnitClass(0, 1, 1, 8, 0, 2))
    pools = (PoolData(20, 0, None, (15, 15), 0, 0), PoolData(0, 0, None, None, 0, 0))
    arrivals = (Arrival(0, 1, 0), Arrival(1, 1, 1))
    return FlowProblem(pools, comms, classes, arrivals, (), (SubnetData(100, 0),))


def test_separated_cuts_raise_the_lp_bound_to_the_integer_optimum() -> None:
    p = _mixed_pool()
    assert brute_force(p) == (2, 0, 3)
    m, v, w = build_model(p)
    assert add_lattice_cuts(m, p, v) == 0
    lp = relax(m, 10)
    assert lp is not None and w.split(lp.bound)[0] == 0
    rounds = 0
    while (first := len(m.rows)) and separate(m, p, v, lp.values) and rounds < 5:
        again = resolve(m, lp.basis, first, 10)
        assert again is not None
        lp, rounds = again, rounds + 1
    assert rounds >= 1 and lp.bound == w.deviation * 2 + 3, "the bound is the optimum (D, M) = (2, 3)"


def test_the_staged_solve_cuts_a_wide_window_and_proves_the_brute_force_optimum() -> None:
    """The mixed pool with busy super nodes: the (D, B) stage's window is 2 deviation units (2·W1 objective values,
    beyond `BRANCH_WINDOW`), so the stage adds the cuts, whose bound proves the placement."""
    p = _mixed_pool()
    p = replace(p, classes=tuple(replace(c, busy=c.size > 1) for c in p.classes))
    params = SolveParams(staged=True, search="scip")
    with_cuts, = solves_as_brute_force(p, params)
    assert "cuts" in with_cuts.detail and (with_cuts.deviation, with_cuts.busy_moves) == (2, 0)


@SETTINGS
@given(st.one_of(flow_problems(sizes=(1, 2, 4)), mixed_pools()))
def test_the_staged_solve_with_cuts_keeps_the_brute_force_optimum(p: FlowProblem) -> None:
    """Every window gets the cuts here (`BRANCH_WINDOW` -1), then branching on what they leave (`PLAIN_WINDOW` -1),
    not only the wide ones of the 100k instances."""
    staged = SolveParams(staged=True, search="scip")
    with mock.patch.object(stage, "BRANCH_WINDOW", -1), mock.patch.object(stage, "PLAIN_WINDOW", -1):
        solves_as_brute_force(p, staged, replace(staged, cuts=False))


def test_the_one_stage_solve_searches_the_face_at_the_cuts_bound() -> None:
    """Without busy nodes the mixed pool is solved in one stage: its LP bound is D = 0, the optimum (2, 0, 3). The
    cuts come before the exact face (their bound and LP optimum, not their rows): the face at their bound holds the
    optimum, so neither the full model's search nor a CP-SAT proof runs; without them CP-SAT proves the window."""
    p = _mixed_pool()
    params = SolveParams(search="scip")
    with_cuts, without = solves_as_brute_force(p, params, replace(params, cuts=False))
    assert with_cuts.detail.index("cuts") < with_cuts.detail.index("cpsat on the lp face")
    assert "scip optimal" not in with_cuts.detail and "cpsat infeasible" not in with_cuts.detail
    assert "cpsat infeasible" in without.detail


def test_with_scip_on_the_face_the_one_stage_solve_proves_with_the_cuts_after_its_search() -> None:
    """With SCIP on the face (`exact_face=False`) the cuts come after the full model's search, on the window it
    leaves, and their bound proves the placement: no CP-SAT proof."""
    p = _mixed_pool()
    params = SolveParams(search="scip", exact_face=False)
    with_cuts, without = solves_as_brute_force(p, params, replace(params, cuts=False))
    assert with_cuts.detail.index("scip optimal") < with_cuts.detail.index("cuts")
    assert "cpsat infeasible" not in with_cuts.detail and "cpsat infeasible" in without.detail


@SETTINGS
@given(st.one_of(flow_problems(sizes=(1, 2, 4)), mixed_pools()))
def test_the_one_stage_solve_with_cuts_keeps_the_brute_force_optimum(p: FlowProblem) -> None:
    """The one-stage solve's search and proof after the cuts (on every window it leaves) find the brute force's
    (D, B, M), as without the cuts."""
    params = SolveParams(search="scip")
    solves_as_brute_force(p, params, replace(params, cuts=False))


def test_branching_proves_what_the_cuts_leave_only_of_a_window_wider_than_plain_window() -> None:
    """After the cuts, a staged stage's window goes to branching (up to `CUT_WINDOW`) only when the cuts were added
    on a window wider than `PLAIN_WINDOW`; what they leave of a narrower one goes to CP-SAT; before them, branching
    takes windows up to `BRANCH_WINDOW`."""
    p = _mixed_pool()
    m, v, _ = build_model(p)
    s = stage.Stage(p, m, v, lambda key: key[0], SolveParams(staged=True), time.perf_counter() + 10, [])
    s.branch, s.certificate, s.lb = True, mock.Mock(), 10
    s.certificate.tightened.return_value = (m.lbs, m.ubs)
    s.best = stage.Found((), (), (0, 0, 0), 11)
    proof = BranchProof(True, 1, 0.0)
    for separated, cut_window, best, branches in ((False, 0, 14, True), (False, 0, 15, False), (True, 7, 11, False),
                                                  (True, 9, 11, True), (True, 9, 34, True), (True, 9, 35, False)):
        s.separated, s.cut_window, s.proven = separated, cut_window, False
        s.best = replace(s.best, value=best)
        with mock.patch("solvers.branching.prove_window", return_value=proof) as prove_window:
            assert stage._branch(s) is branches
        assert prove_window.called is branches
