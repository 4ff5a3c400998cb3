"""Solver parameters: the only way options reach a backend."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SolveParams:
    """Time limit (wall seconds), worker threads, random seed and backend name.

    `backend` "cpsat" (the default) is the exact pipeline of solvers/flow.py: lattice cuts, an LP bound,
    a search by `search` ("auto" picks by model size; or "scip", "cpsat", "cbc", "highs"), CP-SAT proofs.
    Another backend name makes that MIP solver the search engine. `workers` is CP-SAT's thread count,
    capped to leave one core free (solvers/backends/cpsat.py `threads`); SCIP is single-threaded. With
    one thread the answer is deterministic: the same problem gives the same placement.
    `cuts`, `lp_bound`, `face` (the search on the LP's optimal face first), `vicinity` (the searches near the
    LP optimum: on its face, in the staged solve's (D, B) stage, and near the LP's agreement with the (D, B)
    placement) and `branching` (a narrow window proven by branching on the LP before CP-SAT,
    solvers/branching.py) and `window` (in the one-stage solve, when the face holds no placement at the bound, CP-SAT
    on the LP optimum's vicinity within a few values of the bound, whose placement starts the full model's search)
    and `exact_face` (the one-stage solve's face searched by CP-SAT, objective held at the bound, not by SCIP)
    switch the measured ideas off, for benchmarks. `staged` chooses how (D, B, M) is
    solved when there are busy classes: True in two stages ((D, B), then M), False as one weighted sum,
    None (the default) by the search engine (solvers/flow.py `solve_flow`). `presolve` is CP-SAT's
    presolve: None (the default) off where CP-SAT searches alone (models below `LARGE_MODEL` variables,
    solvers/flow.py `_solve`), where it measured slower than the search it prepares on every 10k family,
    and on everywhere else. `presolve_rounds` is CP-SAT's `max_presolve_iterations`: None (the default)
    `FACE_PRESOLVE_ROUNDS` on the one-stage solve's face (solvers/flow.py), CP-SAT's own default (3) elsewhere.
    `node_limit` stops SCIP after that many branch-and-bound nodes (a deterministic limit, unlike the time limit;
    set by solvers/flow.py for the search of the face's vicinity, `FACE_VICINITY_NODES`), None: no limit.
    """

    time_limit: float = 30.0
    workers: int = 1
    seed: int = 0
    backend: str = "cpsat"
    log: bool = False
    search: str = "auto"
    cuts: bool = True
    lp_bound: bool = True
    face: bool = True
    vicinity: bool = True
    branching: bool = True
    window: bool = True
    exact_face: bool = True
    staged: bool | None = None
    presolve: bool | None = None
    presolve_rounds: int | None = None
    node_limit: int | None = None

    def __post_init__(self) -> None:
        if self.time_limit <= 0:
            raise ValueError("time_limit must be positive")
        if self.workers < 1:
            raise ValueError("workers must be at least 1")
        if self.presolve_rounds is not None and self.presolve_rounds < 0:
            raise ValueError("presolve_rounds must not be negative")
        if self.node_limit is not None and self.node_limit < 1:
            raise ValueError("node_limit must be at least 1")
