"""Command-line options declared once, each meaning one thing in every command.

- connection (`--endpoint`, `--region`, `--project-id`, `--timeout`): every command that reads the API gets them
  as one `ConnectionArgs`; credentials come from the environment only;
- solver (`--time-limit`, `--workers`, `--seed`, `--backend`): every command that plans gets them as one
  `SolverArgs`;
- `--output text|json`: machine-readable JSON on stdout, messages on stderr, in every command that reports;
- `--format`: how a report is rendered, from one vocabulary (`table`, `md`, `json`, `html`); each command offers
  the renderings it has.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from planner.modelarts.settings import ConnectionSettings
    from planner.planning import PlanOptions

F = TypeVar("F", bound=Callable[..., Any])

FORMATS = {
    "table": "aligned text tables",
    "md": "Markdown, for a pull-request comment",
    "json": "the data as JSON",
    "html": "one self-contained HTML page",
}


def _decorated(command: Callable[..., Any], options: list[Callable[[Any], Any]]) -> Any:
    """`command` with `options` added, listed in `--help` in the order given."""
    for option in reversed(options):
        command = option(command)
    return command


@dataclass(frozen=True)
class ConnectionArgs:
    """Where the API is, as the command line gave it (None: from the environment or the plan)."""

    endpoint: str | None
    region: str | None
    project_id: str | None
    timeout: float | None
    workspace_id: str | None = None

    def settings(self, *, region: str | None = None, project_id: str | None = None) -> ConnectionSettings:
        """Connection settings: the options, else the environment, else the given fallbacks (e.g. the plan's)."""
        import os

        from planner.modelarts.settings import ENV_PROJECT_ID, ConnectionSettings

        project = self.project_id or os.environ.get(ENV_PROJECT_ID, "").strip() or project_id
        return ConnectionSettings.from_options(region=self.region or region, project_id=project,
                                               endpoint=self.endpoint, timeout=self.timeout,
                                               workspace_id=self.workspace_id)


def connection_options(f: F) -> F:
    """`--endpoint`, `--region`, `--project-id`, `--workspace-id`, `--timeout`, passed to the command as
    `connection`; credentials never on the command line (environment, profile file, pod identity or ECS
    metadata)."""

    @functools.wraps(f)
    def command(*args: Any, endpoint: str | None, region: str | None, project_id: str | None,
                workspace_id: str | None, timeout: float | None, **kwargs: Any) -> Any:
        return f(*args, connection=ConnectionArgs(endpoint, region, project_id, timeout, workspace_id), **kwargs)

    return _decorated(command, [  # type: ignore[no-any-return]
        click.option("--endpoint", default=None,
                     help="API endpoint (default https://modelarts.{region}.myhuaweicloud.com)."),
        click.option("--region", default=None, help="Region, e.g. cn-north-4 (default: $HUAWEICLOUD_SDK_REGION)."),
        click.option("--project-id", default=None, help="IAM project id (default: $HUAWEICLOUD_SDK_PROJECT_ID)."),
        click.option("--workspace-id", default=None,
                     help='ModelArts workspace whose pools are read (default: $POOLSHIFT_WORKSPACE_ID, else "0"; '
                          '"all": every workspace the credentials may access).'),
        click.option("--timeout", type=click.FloatRange(min=0.1), default=None,
                     help="Seconds to wait for each API answer (default 30)."),
    ])


@dataclass(frozen=True)
class SolverArgs:
    """How to solve, as the command line gave it."""

    time_limit: float
    workers: int
    seed: int
    backend: str

    def plan_options(self, **more: Any) -> PlanOptions:
        """PlanOptions with these solver settings (and any wave settings in `more`)."""
        from planner.planning import PlanOptions

        return PlanOptions(time_limit=self.time_limit, workers=self.workers, seed=self.seed, backend=self.backend,
                           **more)


def solver_options(f: F) -> F:
    """`--time-limit`, `--workers`, `--seed`, `--backend`, passed to the command as `solver`."""

    @functools.wraps(f)
    def command(*args: Any, time_limit: float, workers: int, seed: int, backend: str, **kwargs: Any) -> Any:
        return f(*args, solver=SolverArgs(time_limit, workers, seed, backend), **kwargs)

    return _decorated(command, [  # type: ignore[no-any-return]
        click.option("--time-limit", type=click.FloatRange(min=0.01), default=30.0, show_default=True,
                     help="Solver wall-clock limit in seconds (per scenario in whatif)."),
        click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Solver threads (1 keeps plans reproducible)."),
        click.option("--seed", type=int, default=0, show_default=True, help="Solver random seed."),
        click.option("--backend", type=click.Choice(["cpsat", "scip", "cbc"]), default="cpsat", show_default=True,
                     help="OR-Tools backend."),
    ])


def output_option(f: F) -> F:
    """`--output text|json`: machine-readable JSON on stdout, messages on stderr."""
    return click.option("--output", "output", type=click.Choice(["text", "json"]), default="text",
                        show_default=True, help="json: machine-readable result on stdout.")(f)


def format_option(*choices: str, default: str | None) -> Callable[[F], F]:
    """`--format` with the renderings a command has, named from the one vocabulary in FORMATS."""
    unknown = [c for c in choices if c not in FORMATS]
    if unknown:
        raise ValueError(f"unknown formats {unknown}")
    described = "; ".join(f"{c}: {FORMATS[c]}" for c in choices)
    return click.option("--format", "fmt", type=click.Choice(list(choices)), default=default,
                        show_default=default is not None, help=f"How to render it ({described}).")
