"""Solver parameters: the only way options reach a backend."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SolveParams:
    """Time limit (wall seconds), worker threads, random seed and backend name.

    `workers=1` (the default) keeps CP-SAT deterministic: the same problem gives the same answer.
    """

    time_limit: float = 30.0
    workers: int = 1
    seed: int = 0
    backend: str = "cpsat"
    log: bool = False

    def __post_init__(self) -> None:
        if self.time_limit <= 0:
            raise ValueError("time_limit must be positive")
        if self.workers < 1:
            raise ValueError("workers must be at least 1")
