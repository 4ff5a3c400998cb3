"""Shared CLI plumbing: the root group, error-to-exit-code mapping, JSON output and table printing."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from planner.errors import InputError, PoolshiftError

F = TypeVar("F", bound=Callable[..., Any])


class PoolshiftGroup(click.Group):
    """Root group: usage errors exit 2, library errors exit with their own code, nothing shows a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PoolshiftError as exc:
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
@click.option("--debug", is_flag=True, hidden=True, help="Show tracebacks for internal errors.")
@click.version_option(package_name="poolshift", prog_name="poolshift")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """poolshift: plan and run node migrations between ModelArts resource pools."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def output_option(f: F) -> F:
    """`--output text|json`: machine-readable JSON on stdout, messages on stderr."""
    return click.option("--output", "output", type=click.Choice(["text", "json"]), default="text",
                        show_default=True, help="json: machine-readable result on stdout.")(f)


def echo_json(data: Any) -> None:
    """Print a JSON document on stdout (sorted keys, stable)."""
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def echo(text: str = "", *, err: bool = False) -> None:
    """Print a line; messages go to stderr when err is set."""
    click.echo(text, err=err)


def bad_argument(message: str, param: str | None = None) -> InputError:
    """An InputError for a command-line argument (exit 2)."""
    return InputError(message, source="arguments", path=param)
