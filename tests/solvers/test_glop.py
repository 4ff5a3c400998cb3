"""GLOP through MathOpt (solvers/glop.py): the relaxation's optimum is pywraplp GLOP's, its duals certify the same
bound, an instance started from another's basis or changed between solves answers as a fresh instance of the
changed model does, and an infeasible region is no answer."""

from __future__ import annotations

import math
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ortools.linear_solver import pywraplp

from solvers.backends.mpsolver import mp_model
from solvers.glop import Lp, with_rows
from solvers.linear import LinearModel
from solvers.model import build_model
from solvers.problem import FlowProblem
from solvers.relax import certify
from tests.solvers.problems import flow_problems

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _model(p: FlowProblem) -> LinearModel | None:
    try:
        return build_model(p)[0]
    except ValueError:  # a constant row that cannot hold
        return None


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b))


def _fresh(m: LinearModel, lbs: list[int], ubs: list[int], objective: dict[int, int]) -> float | None:
    """pywraplp GLOP's optimum of the model with these bounds and objective, from scratch."""
    solver = pywraplp.Solver.CreateSolver("GLOP")
    solver.LoadModelFromProto(mp_model(replace(m, lbs=lbs, ubs=ubs, objective=objective)))
    if solver.Solve() != pywraplp.Solver.OPTIMAL:
        return None
    return float(solver.Objective().Value())


@SETTINGS
@given(flow_problems())
def test_the_relaxation_is_pywraplp_glops_and_its_duals_certify_the_same_bound(p: FlowProblem) -> None:
    m = _model(p)
    if m is None:
        return
    ours = Lp(m, m.lbs, m.ubs).solve(time_limit=10.0, presolve=True)
    theirs = _fresh(m, m.lbs, m.ubs, m.objective)
    assert (ours is None) == (theirs is None)
    if ours is None or theirs is None:
        return
    assert _close(ours.objective, theirs)
    assert certify(m, ours.duals).bound == math.ceil(theirs - 1e-6)


@SETTINGS
@given(flow_problems(), st.data())
def test_changed_bounds_and_objective_answer_as_a_fresh_model(p: FlowProblem, data: st.DataObject) -> None:
    """One instance, started from the relaxation's basis, through a drawn sequence of bound and objective
    changes (as the branching proof makes them): each answer is a fresh GLOP's of the model as changed."""
    m = _model(p)
    if m is None:
        return
    first = Lp(m, m.lbs, m.ubs).solve(time_limit=10.0, presolve=True)
    if first is None:
        return
    lp = Lp(m, m.lbs, m.ubs, first.basis)
    objective = dict(m.objective)
    n = len(m.lbs)
    for _ in range(data.draw(st.integers(1, 5))):
        j = data.draw(st.integers(0, n - 1))
        if data.draw(st.booleans()):
            lo = data.draw(st.integers(m.lbs[j], m.ubs[j]))
            lp.bound(j, lo, data.draw(st.integers(lo, m.ubs[j])))
        else:
            objective[j] = objective.get(j, 0) + data.draw(st.integers(-64, 64))
            lp.coefficient(j, objective[j])
        ours = lp.solve(time_limit=10.0, primal=data.draw(st.booleans()))
        theirs = _fresh(m, lp.lbs, lp.ubs, objective)
        assert (ours is None) == (theirs is None)
        if ours is not None and theirs is not None:
            assert _close(ours.objective, theirs)


@SETTINGS
@given(flow_problems(), st.integers(-3, 3))
def test_a_basis_with_added_rows_starts_the_larger_model(p: FlowProblem, slack: int) -> None:
    """The split window's row (solvers/branching.py `split_window`) added to a model: started from the
    relaxation's basis with that row basic, GLOP answers as from scratch."""
    m = _model(p)
    if m is None or not m.objective:
        return
    first = Lp(m, m.lbs, m.ubs).solve(time_limit=10.0, presolve=True)
    if first is None:
        return
    larger = replace(m, rows=list(m.rows))
    larger.row(dict(m.objective), None, math.floor(first.objective) + slack, "objective at most")
    ours = Lp(larger, m.lbs, m.ubs, with_rows(first.basis, len(m.rows), 1)).solve(time_limit=10.0)
    theirs = _fresh(larger, m.lbs, m.ubs, m.objective)
    assert (ours is None) == (theirs is None)
    if ours is not None and theirs is not None:
        assert _close(ours.objective, theirs)


def test_an_infeasible_region_is_no_answer() -> None:
    m = LinearModel()
    x, y = m.var(0, 3, "x"), m.var(0, 3, "y")
    m.row({x: 1, y: 1}, 7, None, "too much")
    m.minimize({x: 1})
    assert Lp(m, m.lbs, m.ubs).solve(time_limit=10.0, presolve=True) is None
    lp = Lp(m, [0, 0], [3, 4])
    assert lp.solve(time_limit=10.0) is not None  # x + y >= 7 with y <= 4: x = 3
    lp.bound(y, 0, 3)
    assert lp.solve(time_limit=10.0) is None


def test_a_basis_glop_refuses_is_dropped_for_a_solve_from_scratch() -> None:
    """A basis for other rows (here: one row too many, never completed) is refused by MathOpt; the LP is then
    solved from scratch, not reported as having no optimum."""
    m = LinearModel()
    x, y = m.var(0, 4, "x"), m.var(0, 4, "y")
    m.row({x: 1, y: 1}, 5, None, "cover")
    m.minimize({x: 3, y: 1})
    first = Lp(m, m.lbs, m.ubs).solve(time_limit=10.0, presolve=True)
    assert first is not None and first.basis is not None
    wrong = with_rows(first.basis, len(m.rows), 1)  # a status for a row the model does not have
    answer = Lp(m, m.lbs, m.ubs, wrong).solve(time_limit=10.0)
    assert answer is not None and _close(answer.objective, 7.0)
