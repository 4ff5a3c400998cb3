"""OR-Tools MIP backends (SCIP, CBC, HiGHS) for a LinearModel, through an MPModelProto.

These solve in floating point: values are rounded back to integers (the caller recomputes and checks
everything from them), and their own "optimal" is reported as such only so the caller can decide; a
proven optimum needs the exact LP bound or CP-SAT (solvers/flow.py). `objective_lb` stops SCIP as soon as
it finds a solution that good (`limits/primal`); `objective_ub` is a row (the objective at most that, as
CP-SAT holds it); `hint` is passed as a starting solution.
"""

from __future__ import annotations

import time
from dataclasses import replace

from ortools.linear_solver import linear_solver_pb2

from solvers.backends import Backend, BackendAnswer
from solvers.backends.mpsolver import mp_model, solve_proto
from solvers.linear import LinearModel
from solvers.params import SolveParams

_TYPES = {
    "SCIP": linear_solver_pb2.MPModelRequest.SCIP_MIXED_INTEGER_PROGRAMMING,
    "CBC": linear_solver_pb2.MPModelRequest.CBC_MIXED_INTEGER_PROGRAMMING,
    "HIGHS": linear_solver_pb2.MPModelRequest.HIGHS_MIXED_INTEGER_PROGRAMMING,
}
_STATUS = {
    linear_solver_pb2.MPSOLVER_OPTIMAL: "OPTIMAL",
    linear_solver_pb2.MPSOLVER_FEASIBLE: "FEASIBLE",
    linear_solver_pb2.MPSOLVER_INFEASIBLE: "INFEASIBLE",
}


def make_mip_backend(solver_id: str) -> Backend:
    """A backend that solves with the MIP solver `solver_id` ("SCIP", "CBC" or "HIGHS")."""

    def solve(model: LinearModel, params: SolveParams) -> BackendAnswer:
        start = time.perf_counter()
        if model.objective_ub is not None:  # the objective held at most there: one more row
            model = replace(model, rows=list(model.rows))
            model.row(dict(model.objective), None, model.objective_ub, "objective_ub")
        proto = mp_model(model)
        for var in proto.variable:
            var.is_integer = True
        if model.hint is not None:
            proto.solution_hint.var_index.extend(range(len(model.hint)))
            proto.solution_hint.var_value.extend(model.hint)
        settings = ""
        if solver_id == "SCIP":
            # No presolve: it took a third of SCIP's time on the hard 100k instances and the model is already
            # tight (benchmarks/RESULTS.md, "Measurements behind design decisions").
            settings = (f"limits/gap = 0\nlimits/absgap = 0.5\npresolving/maxrounds = 0\n"
                        f"randomization/randomseedshift = {params.seed}\n")
            if model.objective_lb is not None:
                settings += f"limits/primal = {model.objective_lb + 0.5}\n"
            if params.node_limit is not None:
                settings += f"limits/nodes = {params.node_limit}\n"
        response = solve_proto(proto, _TYPES[solver_id], params.time_limit, settings)
        elapsed = time.perf_counter() - start
        status = _STATUS.get(response.status, "UNKNOWN")
        if status in ("OPTIMAL", "FEASIBLE") and len(response.variable_value) == len(model.lbs):
            values = [round(x) for x in response.variable_value]
            return BackendAnswer(status, values, response.objective_value, response.best_objective_bound, elapsed)
        return BackendAnswer(status if status == "INFEASIBLE" else "UNKNOWN", None, None, None, elapsed)

    return solve
