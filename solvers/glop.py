"""GLOP through OR-Tools' MathOpt: one LP instance whose bounds and objective change between solves, and a basis
that can be carried from one instance to another.

pywraplp's GLOP neither returns nor accepts a basis in Python, so an LP solved once (solvers/relax.py, with
GLOP's preprocessing) could not start another over the same rows: the branching proof (solvers/branching.py)
solved its first LP from scratch without preprocessing, 0.65-1.0 s at 100k nodes. Started from the relaxation's
basis, that LP takes 0 iterations (0.04 s). MathOpt's solve releases the interpreter lock, as the planner's
work beside the solve needs (planner/planning/pipeline.py).

Every answer here is floating point: a proposal. Bounds are proven from the duals by solvers/relax.py `certify`.
Owns: the model in MathOpt's form, GLOP's parameters, reading answers back. Must not: decide statuses or bounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ortools.math_opt import (
    callback_pb2,
    model_parameters_pb2,
    model_pb2,
    model_update_pb2,
    parameters_pb2,
    result_pb2,
    solution_pb2,
)
from ortools.math_opt.core.python import solver as mathopt
from pybind11_abseil.status import StatusNotOk

from solvers.linear import LinearModel

_GLOP = parameters_pb2.SOLVER_TYPE_GLOP
_ALGORITHM = {True: parameters_pb2.LP_ALGORITHM_PRIMAL_SIMPLEX, False: parameters_pb2.LP_ALGORITHM_DUAL_SIMPLEX}


@dataclass(frozen=True)
class LpAnswer:
    """GLOP's optimum: objective, variable values, row duals (dense, floats) and the optimal basis."""

    objective: float
    values: list[float]
    duals: list[float]
    basis: Any  # a MathOpt BasisProto (None if GLOP gave none): another Lp over the same variables and rows (or
    # more rows, `with_rows`) starts from it


def model_proto(model: LinearModel, lbs: list[int], ubs: list[int], objective: dict[int, int] | None = None) -> Any:
    """The model with bounds `lbs..ubs` (and `objective`, when given) as a MathOpt ModelProto (continuous)."""
    proto = model_pb2.ModelProto()
    variables = proto.variables
    variables.ids.extend(range(len(lbs)))
    variables.lower_bounds.extend(lbs)
    variables.upper_bounds.extend(ubs)
    variables.integers.extend([False] * len(lbs))
    coefficients = sorted((model.objective if objective is None else objective).items())
    proto.objective.linear_coefficients.ids.extend(j for j, _ in coefficients)
    proto.objective.linear_coefficients.values.extend(c for _, c in coefficients)
    rows = proto.linear_constraints
    rows.ids.extend(range(len(model.rows)))
    rows.lower_bounds.extend(-math.inf if row.lb is None else row.lb for row in model.rows)
    rows.upper_bounds.extend(math.inf if row.ub is None else row.ub for row in model.rows)
    matrix = proto.linear_constraint_matrix
    for i, row in enumerate(model.rows):  # row-major, columns ascending (LinearModel.row sorts them)
        matrix.row_ids.extend([i] * len(row.vars))
        matrix.column_ids.extend(row.vars)
        matrix.coefficients.extend(row.coefs)
    return proto


def with_rows(basis: Any, first: int, count: int) -> Any:
    """`basis` for a model with `count` rows added after row `first - 1`: each new row's slack is basic, which
    keeps a basis (one basic per row) whatever values the new rows take."""
    extended = solution_pb2.BasisProto()
    extended.CopyFrom(basis)
    extended.constraint_status.ids.extend(range(first, first + count))
    extended.constraint_status.values.extend([solution_pb2.BASIS_STATUS_BASIC] * count)
    return extended


class Lp:
    """One GLOP instance over `model` within `lbs..ubs`; between solves only bounds and objective coefficients
    change, so each solve starts from the last one's basis (or from `basis` for the first)."""

    def __init__(self, model: LinearModel, lbs: list[int], ubs: list[int], basis: Any = None) -> None:
        self.model, self.lbs, self.ubs = model, list(lbs), list(ubs)
        self._basis = basis
        self._lbs: dict[int, int] = {}
        self._ubs: dict[int, int] = {}
        self._objective: dict[int, int] = {}
        self.objective = dict(model.objective)
        self._solver: Any = self._new()

    def bound(self, j: int, lo: int, hi: int) -> None:
        self.lbs[j], self.ubs[j] = lo, hi
        self._lbs[j], self._ubs[j] = lo, hi

    def coefficient(self, j: int, c: int) -> None:
        """x_j's objective coefficient becomes c."""
        self.objective[j] = self._objective[j] = c

    def solve(self, *, time_limit: float, primal: bool = True, presolve: bool = False) -> LpAnswer | None:
        """GLOP's optimum of the current region (primal or dual simplex; `presolve`: GLOP's preprocessing, for an
        LP solved once), or None when it reports none (infeasible, unbounded, a limit, an error)."""
        parameters = parameters_pb2.SolveParametersProto(lp_algorithm=_ALGORITHM[primal])
        if not presolve:
            parameters.presolve = parameters_pb2.EMPHASIS_OFF
        if time_limit < math.inf:
            parameters.time_limit.FromNanoseconds(max(1_000_000, int(time_limit * 1e9)))
        start = model_parameters_pb2.ModelSolveParametersProto()
        if self._basis is not None:
            start.initial_basis.CopyFrom(self._basis)
            self._basis = None
        self._update()
        result = self._run(parameters, start)
        if result is None and start.HasField("initial_basis"):  # a basis MathOpt refused: from scratch then
            result = self._run(parameters, model_parameters_pb2.ModelSolveParametersProto())
        if result is None or result.termination.reason != result_pb2.TERMINATION_REASON_OPTIMAL or \
                not result.solutions:
            return None
        solution = result.solutions[0]
        values, duals = solution.primal_solution.variable_values, solution.dual_solution.dual_values
        if len(values.values) != len(self.lbs) or len(duals.values) != len(self.model.rows):
            return None  # MathOpt lists every entry unless told otherwise; anything else is not read as dense
        return LpAnswer(solution.primal_solution.objective_value, list(values.values), list(duals.values),
                        solution.basis if solution.HasField("basis") else None)

    def _run(self, parameters: Any, start: Any) -> Any:
        """One solve; None when MathOpt refuses the request (an invalid starting basis, for one). A refused request
        leaves MathOpt's solver unusable, so a new one (of the current model) takes its place."""
        try:
            return self._solver.solve(parameters, start, None, callback_pb2.CallbackRegistrationProto(), None, None)
        except StatusNotOk:
            self._solver = self._new()
            return None

    def _new(self) -> Any:
        proto = model_proto(self.model, self.lbs, self.ubs, self.objective)
        return mathopt.new(_GLOP, proto, parameters_pb2.SolverInitializerProto())

    def _update(self) -> None:
        """Send the bound and objective changes since the last solve (GLOP keeps its basis across them)."""
        if not (self._lbs or self._objective):
            return
        update = model_update_pb2.ModelUpdateProto()
        for changed, vector in ((self._lbs, update.variable_updates.lower_bounds),
                                (self._ubs, update.variable_updates.upper_bounds),
                                (self._objective, update.objective_updates.linear_coefficients)):
            ids = sorted(changed)
            vector.ids.extend(ids)
            vector.values.extend(changed[j] for j in ids)
            changed.clear()
        try:
            if self._solver.update(update):
                return
        except StatusNotOk:
            pass
        self._solver = self._new()  # GLOP takes these changes; were it ever to refuse one, start again
