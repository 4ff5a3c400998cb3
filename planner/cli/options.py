"""Command-line options declared once, each meaning one thing in every command.

- connection (`--endpoint`, `--region`, `--project-id`, `--timeout`): every command that reads the API gets them
  as one `ConnectionArgs`; credentials come from the environment only;
- solver (`--time-limit`, `--workers`, `--seed`, `--backend`): every command that plans gets them as one
  `SolverArgs`;
- `--format`: how the result is rendered, from one vocabulary (`table`, `md`, `json`, `html`); each command
  offers the renderings it has. `--output text|json` (PRODUCT §7) is the same option under its older name:
  `--output json` is `--format json`, `--output text` the command's text rendering; the two never disagree
  (`--format md --output json` is refused);
- `-o/--out FILE`: where a command writes its file; `-o -` is standard output; a bare format word (`-o json`) is
  refused with a hint, a suffix that does not match the format gets a warning (`check_suffix`);
- `-q/--quiet`: no progress display (progress is shown only on a terminal anyway, on stderr).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from planner.modelarts.settings import ConnectionSettings
    from planner.planning import PlanOptions

F = TypeVar("F", bound=Callable[..., Any])

FORMATS = {
    "table": "text for a terminal (aligned tables)",
    "md": "Markdown, for a pull-request comment",
    "json": "the data as JSON",
    "html": "one self-contained HTML page",
}
TEXT_ALIAS = "text"
"""`--format text` / `--output text`: the command's text rendering (`table`)."""
FORMAT_WORDS = {*FORMATS, TEXT_ALIAS, "markdown", "yaml", "csv", "txt", "htm"}
"""Words that name a format: refused as a file name after `-o` (almost always `-o json` meant `--format json`)."""
SUFFIXES = {"table": {".txt", ".text", ".log"}, "md": {".md", ".markdown"}, "json": {".json"},
            "html": {".html", ".htm"}}
"""File suffixes that fit each format (a file without a suffix fits any)."""


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


def _bad_option(message: str, param: str) -> Exception:
    from planner.errors import InputError

    return InputError(message, source="arguments", path=param)


def format_option(*choices: str, default: str, receipt: bool = False) -> Callable[[F], F]:
    """`--format` with the renderings a command has (from FORMATS), and `--output text|json`, its older name; the
    command gets the one value as `fmt`.

    `receipt`: for a command whose result is a file in one of `choices` (report): `--output json` then prints a
    JSON receipt of the file written, and the command gets `output` ("text" or "json") besides `fmt` (None when
    `--format` is not given, so that the command may choose by the file's suffix).
    """
    unknown = [c for c in choices if c not in FORMATS]
    if unknown or default not in choices:
        raise ValueError(f"unknown formats {unknown} or default {default!r}")
    described = "; ".join(f"{c}: {FORMATS[c]}" for c in choices)
    accepted = [*choices, TEXT_ALIAS] if "table" in choices else list(choices)
    output_help = ("text: messages; json: a JSON receipt of the file written, on stdout" if receipt else
                   "Same as --format: json is --format json, text the text rendering (PRODUCT §7).")

    def decorate(f: F) -> F:
        @functools.wraps(f)
        def command(*args: Any, fmt: str | None, output: str | None, **kwargs: Any) -> Any:
            if receipt:
                return f(*args, fmt=fmt, output=output or "text", **kwargs)
            return f(*args, fmt=resolve_format(fmt, output, default, choices), **kwargs)

        return _decorated(command, [  # type: ignore[no-any-return]
            click.option("--format", "fmt", type=click.Choice(accepted), default=None,
                         help=f"How to render the result (default {default}; {described})."),
            click.option("--output", "output", type=click.Choice(["text", "json"]), default=None, help=output_help),
        ])

    return decorate


def resolve_format(fmt: str | None, output: str | None, default: str, choices: tuple[str, ...]) -> str:
    """The one format `--format` and `--output` ask for together; a contradiction is a bad argument (exit 2)."""
    if fmt == TEXT_ALIAS:
        fmt = "table"
    if output is not None:
        wanted = "json" if output == "json" else None
        if fmt is not None and (wanted == "json") != (fmt == "json"):
            raise _bad_option(f"--output {output} contradicts --format {fmt} (--output json is --format json)",
                              "--output")
        fmt = fmt or wanted
    if fmt is not None and fmt not in choices:
        raise _bad_option(f"this command has no {fmt} rendering (it has: {', '.join(choices)})", "--output")
    return fmt or default


def output_option(f: F) -> F:
    """`--format table|json` / `--output text|json` for commands whose result is a status (apply, auto): the
    command gets `output` as "text" or "json"."""

    @functools.wraps(f)
    def command(*args: Any, fmt: str, **kwargs: Any) -> Any:
        return f(*args, output="json" if fmt == "json" else "text", **kwargs)

    return format_option("table", "json", default="table")(command)  # type: ignore[return-value]


@dataclass(frozen=True)
class Output:
    """Where a command writes its file: `path`, or standard output when it is None (`-o -`)."""

    path: Path | None

    @property
    def stdout(self) -> bool:
        return self.path is None

    def __str__(self) -> str:
        return "standard output" if self.path is None else str(self.path)


def _parse_out(ctx: click.Context, param: click.Parameter, value: str | None) -> Output | None:
    if value is None:
        return None
    if value == "-":
        return Output(None)
    if value.lower() in FORMAT_WORDS:
        raise _bad_option(f"{value!r} looks like a format, not a file name: use --format {value} to choose the "
                          f"format, or -o ./{value} to write a file of that name", "-o/--out")
    return Output(Path(value))


def out_option(help_text: str) -> Callable[[F], F]:
    """`-o/--out FILE` (`-` for standard output), passed to the command as `out`: an Output or None."""
    return click.option("-o", "--out", "out", metavar="FILE", type=click.Path(dir_okay=False, allow_dash=True),
                        default=None, callback=_parse_out, help=f"{help_text} (`-` for standard output).")


def check_suffix(out: Output | None, fmt: str) -> str | None:
    """A warning when the file's suffix does not fit the format it will hold (`report -o x.pdf`), else None."""
    if out is None or out.path is None or not out.path.suffix:
        return None
    suffix = out.path.suffix.lower()
    if suffix in SUFFIXES.get(fmt, set()):
        return None
    what = {"table": "text", "md": "Markdown", "json": "JSON", "html": "HTML"}.get(fmt, fmt)
    return f"{out.path}: writing {what} into a file whose name ends in {out.path.suffix}"


def quiet_option(f: F) -> F:
    """`-q/--quiet`: no progress display on the terminal."""
    return click.option("-q", "--quiet", is_flag=True, help="No progress display (shown only on a terminal).")(f)


def listing_options(f: F) -> F:
    """`--full` / `--top N`: every row, or the top N rows of each section with a count of the rest, passed to the
    command as `top` (None: every row; 0: the command's default)."""

    @functools.wraps(f)
    def command(*args: Any, full: bool, top: int | None, **kwargs: Any) -> Any:
        if full and top is not None:
            raise _bad_option("give --full or --top N, not both", "--top")
        return f(*args, top=None if full else (top or 0), **kwargs)

    return _decorated(command, [  # type: ignore[no-any-return]
        click.option("--full", is_flag=True, help="List every row (the default for text; Markdown defaults to a "
                                                  "summary that fits a pull-request comment)."),
        click.option("--top", type=click.IntRange(min=1), default=None, metavar="N",
                     help="A summary: the top N rows of each section and a count of the rest (Markdown: 30)."),
    ])
