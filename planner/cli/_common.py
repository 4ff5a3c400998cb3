"""Shared CLI plumbing: the root group, error-to-exit-code mapping, printing, and writing a command's output.

Exit codes beyond PRODUCT §7's table: CHANGES (10) for `plan --detailed-exitcode` and `diff --exit-code` when
there is something to do or something differs (0 then means "no changes"); 0..8 keep their meaning.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from planner.cli.options import Output
from planner.collector import paused as collector_paused
from planner.errors import InputError, PoolshiftError

F = TypeVar("F", bound=Callable[..., Any])
P = ParamSpec("P")

_KEPT: list[object] = []


def console_script() -> bool:
    """Whether this process is the `poolshift` console script (its own process: a command may end it without
    freeing what it read, `keep_until_exit` and `finish`), not an in-process caller such as a test's `CliRunner`."""
    return Path(sys.argv[0]).name in ("poolshift", "poolshift.exe") if sys.argv else False


def keep_until_exit(value: object) -> None:
    """Leave `value` to the end of the process when the command will `finish` it: freeing a 100k-node snapshot's
    millions of objects, and the plan built from them, took 0.1-0.2 s nobody waits for (benchmarks/RESULTS.md)."""
    if console_script():
        _KEPT.append(value)


def finish(code: int = 0) -> None:
    """End the command with exit `code`. As the console script, with every output flushed and without freeing
    memory or running the interpreter's teardown (`os._exit`, as mypy ends its runs); otherwise by returning (0)
    or `sys.exit(code)`, as any command ends."""
    if not console_script():
        if code:
            sys.exit(code)
        return
    if "logging" in sys.modules:
        import logging

        logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a reader that went away, a closed stream: nothing to say
            stream.flush()
    os._exit(code)


def paused_to_the_end(command: Callable[P, int | None]) -> Callable[P, None]:
    """A command that reads its files, works and ends, run with the collector paused from its first line to its end;
    its exit code is what it returns (None: 0), given to `finish`.

    The console script ends inside the pause (`finish`, os._exit): every object made while the collector was paused
    (a snapshot, an inventory, plans) is still in its youngest generation, so the collector turned back on would
    walk them all once more before the process ends (0.05-0.4 s for a 10k-100k node plan, 1.3 s of a 100k
    `inventory show`: benchmarks/RESULTS.md). Planning and reading make no reference cycles worth collecting.
    Not for the long-running commands (apply, auto, emulator). In process (tests), the collector is back on after.
    """

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        with collector_paused():
            finish(command(*args, **kwargs) or 0)

    return run


class PoolshiftGroup(click.Group):
    """Root group: usage errors exit 2, library errors exit with their own code, nothing shows a traceback.

    Commands are loaded when they are asked for (`planner.cli.commands`): a command's module, and what it imports,
    is imported only when that command runs or `--help` lists them all.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        from planner.cli.commands import LOADERS

        return sorted({*self.commands, *LOADERS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        from planner.cli.commands import LOADERS

        if cmd_name not in self.commands and cmd_name in LOADERS:
            LOADERS[cmd_name]()  # imports the module, which registers the command on this group
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PoolshiftError as exc:
            if ctx.obj and ctx.obj.get("debug"):  # the error's causes (`raise ... from exc`) for a bug report
                traceback.print_exception(exc, file=sys.stderr)
            fail(exc)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("poolshift: interrupted", err=True)
            sys.exit(130)
        except Exception as exc:  # the one boundary that turns a bug into exit 1 with a short message
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"poolshift: internal error: {type(exc).__name__}: {exc} (rerun with --debug for details)",
                       err=True)
            sys.exit(1)


def fail(exc: PoolshiftError) -> None:
    """Print one line for a library error and exit with its code."""
    message = str(exc).replace("\n", " ").strip()
    click.echo(f"poolshift: error: {message}", err=True)
    sys.exit(exc.exit_code)


@click.group(cls=PoolshiftGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, hidden=True, help="Show tracebacks (with their causes) for every error.")
@click.version_option(package_name="poolshift", prog_name="poolshift")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """poolshift: plan and run node migrations between ModelArts resource pools."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


CHANGES = 10
"""Exit code for "there are changes" (`plan --detailed-exitcode`, `diff --exit-code`), as Terraform's 2 but free
here: 1..8 already mean errors."""


def echo_json(data: Any) -> None:
    """Print a JSON document on stdout (sorted keys, stable)."""
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def echo(text: str = "", *, err: bool = False) -> None:
    """Print a line; messages go to stderr when err is set."""
    click.echo(text, err=err)


def warn(message: str) -> None:
    """`poolshift: warning: ...` on stderr."""
    click.echo(f"poolshift: warning: {message}", err=True)


def write_output(out: Output, text: str, *, shared: bool) -> None:
    """Write a command's output to its file (atomically; `shared`: with the user's umask, else 0600) or stdout."""
    if out.path is None:
        click.echo(text, nl=not text.endswith("\n"))
        return
    from planner.files import write_atomic

    write_atomic(out.path, text, shared=shared)


def bad_argument(message: str, param: str | None = None) -> InputError:
    """An InputError for a command-line argument (exit 2)."""
    return InputError(message, source="arguments", path=param)
