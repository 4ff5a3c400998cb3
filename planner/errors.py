"""One error tree for poolshift; every error carries the process exit code the CLI uses.

```
PoolshiftError                 exit 1   root; library users catch this
├── InputError                 exit 2   bad file, spec, scenario or argument (names file and key path)
├── PlanningError              exit 3   no feasible placement, or no safe order (names rules and pools)
├── StalePlanError             exit 4   the live inventory no longer matches the plan
├── ApiError                   exit 5   the ModelArts API refused or could not be reached
│   ├── ApiTransportError               connect / read / timeout (names host and port)
│   └── ApiStatusError                  an HTTP error answer (status, error_code, error_msg, request id)
│       └── ApiAuthError                401 / 403: never retried (five bad signatures lock the key)
├── ExecutionError             exit 6   a step failed during apply; the journal says where to resume
│   └── ApplyFailedError                steps failed or timed out; `.result` is what the run did
├── LockedError                exit 7   another apply/auto run holds the lock
└── SolverTimeoutError         exit 8   the solver's time limit ran out before it found any placement
```

Messages are one readable line. Library code raises these; only the CLI prints them and exits.
Nothing here may hold a secret: callers never put credentials into messages or attributes.
"""

from __future__ import annotations

from typing import Any, Protocol


class PoolshiftError(Exception):
    """Root of every error poolshift raises on purpose."""

    exit_code: int = 1


class InputError(PoolshiftError):
    """A file, spec, scenario or argument is malformed; the message names the file and key path."""

    exit_code = 2

    def __init__(self, message: str, *, source: str | None = None, path: str | None = None) -> None:
        self.source = source
        self.path = path
        parts = [p for p in (source, path) if p]
        prefix = ": ".join(parts)
        super().__init__(f"{prefix}: {message}" if prefix else message)
        self.detail = message


class PlanningError(PoolshiftError):
    """No placement meets the hard rules, or no safe order reaches it."""

    exit_code = 3

    def __init__(self, message: str, *, rules: list[str] | None = None, pools: list[str] | None = None) -> None:
        super().__init__(message)
        self.rules = rules or []
        self.pools = pools or []


class StalePlanError(PoolshiftError):
    """The live inventory changed in a way that matters to the plan."""

    exit_code = 4

    def __init__(self, message: str, *, changes: list[str] | None = None) -> None:
        super().__init__(message)
        self.changes = changes or []


class ApiError(PoolshiftError):
    """The ModelArts API could not be used."""

    exit_code = 5


class ApiTransportError(ApiError):
    """Connecting to or reading from the API failed (after bounded retries for reads)."""


class ApiStatusError(ApiError):
    """The API answered with an HTTP error; keeps the fields the API gives for support tickets."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        error_code: str | None = None,
        error_msg: str | None = None,
        request_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.error_msg = error_msg
        self.request_id = request_id
        self.method = method
        self.path = path


class ApiAuthError(ApiStatusError):
    """The API refused the credentials or the permission (HTTP 401 or 403).

    Never retried: five failed AK/SK authentications in a row lock the access key for five minutes, for
    every user of that key. The message names the endpoint and what to check.
    """


class ExecutionError(PoolshiftError):
    """A step failed or could not be confirmed while executing a plan."""

    exit_code = 6

    def __init__(self, message: str, *, step_id: int | None = None, journal: str | None = None) -> None:
        super().__init__(message)
        self.step_id = step_id
        self.journal = journal


class ApplyOutcome(Protocol):
    """What an apply run did, as `ApplyFailedError.result` carries it (`planner.apply.ApplyResult` is one).

    A Protocol, so that this module imports nothing above it.
    """

    executed: bool
    steps_total: int
    steps_done: int
    steps_failed: list[int]
    requests: list[dict[str, Any]]
    journal: str | None
    messages: list[str]
    interrupted: bool
    changes: list[str]
    steps_pending: list[int]

    def to_dict(self) -> dict[str, Any]: ...


class ApplyFailedError(ExecutionError):
    """Steps of an apply run failed or timed out (exit 6); `result` tells what the run did before it stopped."""

    def __init__(self, message: str, *, step_id: int | None, journal: str | None, result: ApplyOutcome) -> None:
        super().__init__(message, step_id=step_id, journal=journal)
        self.result = result


class LockedError(PoolshiftError):
    """Another run holds the lock for this project and plan."""

    exit_code = 7


class SolverTimeoutError(PoolshiftError):
    """The solver's time limit ran out before it found any placement: not infeasibility, not yet an answer."""

    exit_code = 8
