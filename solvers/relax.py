"""The LP relaxation of a LinearModel (GLOP), with a lower bound proven in integer arithmetic.

GLOP solves in floating point, so its objective value is not a proof. The bound used is instead computed
from GLOP's dual values `y` by weak duality, exactly: for ANY vector y (no matter how GLOP's tolerances
made it), with reduced costs d = c - Aᵀy,

    c·x  >=  Σ_rows (y_i > 0 ? y_i·lb_i : y_i·ub_i)  +  Σ_vars (d_j > 0 ? d_j·lb_j : d_j·ub_j)

holds for every x within the variable bounds that satisfies the rows (a row with y_i of the sign whose
bound is infinite gets y_i = 0 first, which keeps the inequality valid). y is rounded to multiples of
2^-40 and everything above is evaluated with Python integers, so the right-hand side is exact; the bound
is its ceiling, valid for every integer solution. GLOP's tolerances can only make the bound weaker
(a less exact y gives a smaller right-hand side), never wrong; when it is weaker than the optimum, the
solve falls back to CP-SAT for the proof (solvers/flow.py).

Owns: building the MPModelProto, calling GLOP, the certified bound. Must not: decide statuses.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from ortools.linear_solver import linear_solver_pb2, pywraplp
from ortools.linear_solver.python import model_builder_helper as mbh

from solvers.linear import LinearModel

SCALE_BITS = 40


@dataclass(frozen=True)
class Certificate:
    """Weak duality, exactly: for every x within the bounds that meets the rows,
    `c·x >= (lagrange + Σ_j reduced[j]·(x_j - at_j)) / 2^SCALE_BITS`, where `at_j` is the bound the
    certificate holds x_j at (lb when reduced[j] > 0, ub when < 0) and every term of the sum is >= 0."""

    lagrange: int
    reduced: list[int]

    @property
    def bound(self) -> int:
        """The least integer objective the certificate allows."""
        return -((-self.lagrange) >> SCALE_BITS)

    def tightened(self, model: LinearModel, ub: int) -> tuple[list[int], list[int]]:
        """Variable bounds every solution with objective <= ub keeps (exact reduced-cost fixing).

        x_j may move away from its certificate bound by at most (ub·2^S - lagrange) / |reduced[j]|.
        """
        slack = (ub << SCALE_BITS) - self.lagrange
        lbs, ubs = list(model.lbs), list(model.ubs)
        if slack < 0:
            return lbs, ubs  # no solution at all below ub: nothing to tighten (the caller's search says so)
        for j, d in enumerate(self.reduced):
            if d > 0:
                ubs[j] = min(ubs[j], lbs[j] + slack // d)
            elif d < 0:
                lbs[j] = max(lbs[j], ubs[j] - slack // -d)
        return lbs, ubs


@dataclass(frozen=True)
class Relaxation:
    """The LP optimum (floats), and `bound`, a proven lower bound on every integer solution's objective."""

    values: list[float]
    objective: float
    certificate: Certificate
    seconds: float

    @property
    def bound(self) -> int:
        return self.certificate.bound


def mp_model(model: LinearModel) -> Any:
    """The model as an MPModelProto (integrality not set: callers mark integer variables when needed)."""
    proto = linear_solver_pb2.MPModelProto()
    for lb, ub in zip(model.lbs, model.ubs, strict=True):
        var = proto.variable.add()
        var.lower_bound = lb
        var.upper_bound = ub
    for j, c in model.objective.items():
        proto.variable[j].objective_coefficient = c
    for row in model.rows:
        ct = proto.constraint.add()
        ct.var_index.extend(row.vars)
        ct.coefficient.extend(row.coefs)
        ct.lower_bound = -math.inf if row.lb is None else row.lb
        ct.upper_bound = math.inf if row.ub is None else row.ub
    return proto


def solve_proto(proto: Any, solver_type: int, time_limit: float, parameters: str = "") -> Any:
    """Solve an MPModelProto with pywraplp's `solver_type`; returns the MPSolutionResponse.

    GLOP and SCIP solve with the interpreter lock released (OR-Tools' model_builder helper), so a Python thread
    of the caller runs meanwhile on another core (the planner reads ahead for its verifier while it solves);
    pywraplp's `SolveWithProto` holds the lock for the whole solve and serves the other solvers. The same solver
    code runs either way: the answers are the same."""
    if solver_type == linear_solver_pb2.MPModelRequest.SCIP_MIXED_INTEGER_PROGRAMMING:
        loaded = _loaded(proto)
        if loaded is not None:
            return _scip_unlocked(loaded, time_limit, parameters)
    request = linear_solver_pb2.MPModelRequest()
    request.model.CopyFrom(proto)
    request.solver_type = solver_type
    request.solver_time_limit_seconds = time_limit
    if parameters:
        request.solver_specific_parameters = parameters
    response = linear_solver_pb2.MPSolutionResponse()
    if solver_type == linear_solver_pb2.MPModelRequest.GLOP_LINEAR_PROGRAMMING:
        response.ParseFromString(mbh.ModelSolverHelper("glop").solve_serialized_request(request.SerializeToString()))
    else:
        pywraplp.Solver.SolveWithProto(request, response)
    return response


def _loaded(proto: Any) -> Any:
    """The model in a model_builder helper, or None when it cannot be put there (then pywraplp solves it).

    The helper loads models only from a file or text formats, so the proto goes through a private temporary file (a
    binary proto of well under a megabyte); the loaded model's size is checked against the proto's."""
    try:
        fd, path = tempfile.mkstemp(prefix="poolshift-", suffix=".pb")
    except OSError:
        return None
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(proto.SerializeToString())
        model = mbh.ModelBuilderHelper()
        loaded = model.read_model_from_proto_file(path)
    except OSError:
        return None
    finally:
        os.unlink(path)
    same = (model.num_variables(), model.num_constraints()) == (len(proto.variable), len(proto.constraint))
    return model if loaded and same else None


def _scip_unlocked(model: Any, time_limit: float, parameters: str) -> Any:
    """SCIP through model_builder's `solve`, which releases the interpreter lock. (Its serialized-request entry
    refuses SCIP: it passes an interrupter, which SCIP's proto solver does not take.)"""
    solver = mbh.ModelSolverHelper("scip")
    solver.set_time_limit_in_seconds(time_limit)
    if parameters:
        solver.set_solver_specific_parameters(parameters)
    solver.solve(model)
    if solver.has_response():
        return solver.response()  # type: ignore[no-untyped-call]
    answer = linear_solver_pb2.MPSolutionResponse()  # SCIP's proto solver refused the request (as pywraplp reports it)
    answer.status = linear_solver_pb2.MPSOLVER_ABNORMAL
    return answer


def relax(model: LinearModel, time_limit: float) -> Relaxation | None:
    """Solve the LP relaxation; None when GLOP does not report an optimum (infeasible, limit, error)."""
    start = time.perf_counter()
    response = solve_proto(mp_model(model), linear_solver_pb2.MPModelRequest.GLOP_LINEAR_PROGRAMMING, time_limit)
    if response.status != linear_solver_pb2.MPSOLVER_OPTIMAL:
        return None
    certificate = certify(model, list(response.dual_value))
    return Relaxation(list(response.variable_value), response.objective_value, certificate,
                      time.perf_counter() - start)


def certified_bound(model: LinearModel, duals: list[float]) -> int:
    """ceil of the weak-duality bound of `duals`, evaluated exactly (see the module docstring)."""
    return certify(model, duals).bound


def certify(model: LinearModel, duals: list[float]) -> Certificate:
    """The exact weak-duality certificate of `duals` (rounded to multiples of 2^-SCALE_BITS)."""
    scale = 1 << SCALE_BITS
    reduced = [c * scale for c in _dense_objective(model)]
    total = 0
    for row, y in zip(model.rows, duals, strict=True):
        yi = round(y * scale)
        if (yi > 0 and row.lb is None) or (yi < 0 and row.ub is None) or yi == 0:
            continue
        assert row.lb is not None or row.ub is not None
        total += yi * (row.lb if yi > 0 else row.ub)  # type: ignore[operator]
        for v, c in zip(row.vars, row.coefs, strict=True):
            reduced[v] -= c * yi
    for d, lb, ub in zip(reduced, model.lbs, model.ubs, strict=True):
        total += d * (lb if d > 0 else ub)
    return Certificate(total, reduced)


def _dense_objective(model: LinearModel) -> list[int]:
    dense = [0] * len(model.lbs)
    for j, c in model.objective.items():
        dense[j] = c
    return dense
