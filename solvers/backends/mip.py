"""OR-Tools MIP backends (SCIP, CBC) for a LinearModel, through pywraplp."""

from __future__ import annotations

import time

from ortools.linear_solver import pywraplp

from solvers.backends import Backend, BackendAnswer
from solvers.linear import LinearModel
from solvers.params import SolveParams


def make_mip_backend(solver_id: str) -> Backend:
    """A backend that solves with pywraplp's `solver_id` ("SCIP" or "CBC")."""

    def solve(model: LinearModel, params: SolveParams) -> BackendAnswer:
        start = time.perf_counter()
        solver = pywraplp.Solver.CreateSolver(solver_id)
        if solver is None:
            raise RuntimeError(f"OR-Tools was built without the {solver_id} solver")
        inf = solver.infinity()
        xs = [solver.IntVar(lb, ub, name) for lb, ub, name in zip(model.lbs, model.ubs, model.names, strict=True)]
        for row in model.rows:
            ct = solver.RowConstraint(-inf if row.lb is None else row.lb, inf if row.ub is None else row.ub, "")
            for v, c in zip(row.vars, row.coefs, strict=True):
                ct.SetCoefficient(xs[v], c)
        obj = solver.Objective()
        for v, c in model.objective.items():
            obj.SetCoefficient(xs[v], c)
        obj.SetMinimization()
        solver.SetTimeLimit(int(params.time_limit * 1000))
        solver.SetNumThreads(params.workers)
        code = solver.Solve()
        elapsed = time.perf_counter() - start
        status = {
            pywraplp.Solver.OPTIMAL: "OPTIMAL",
            pywraplp.Solver.FEASIBLE: "FEASIBLE",
            pywraplp.Solver.INFEASIBLE: "INFEASIBLE",
        }.get(code, "UNKNOWN")
        if status in ("OPTIMAL", "FEASIBLE"):
            values = [int(round(x.solution_value())) for x in xs]
            return BackendAnswer(status, values, obj.Value(), obj.BestBound(), elapsed)
        return BackendAnswer(status, None, None, None, elapsed)

    return solve
