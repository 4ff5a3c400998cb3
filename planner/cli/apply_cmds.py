"""CLI command `poolshift apply`: dry-run a reviewed plan against the live API, or execute it.

The library (`planner.apply`) does the work; this module reads the plan, builds clients (with `--resume` and
no connection flags, from the connection the journal's start record kept), prints the plan's digest before
anything is sent, turns SIGINT and SIGTERM into a stop request (no new submissions; the steps in flight are
still tracked), shows progress (a bar when stderr is a terminal, one line per event otherwise) and prints the
outcome.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from planner.cli._common import echo, echo_json, main
from planner.cli.options import ConnectionArgs, connection_options, output_option

if TYPE_CHECKING:
    from planner.errors import ApplyOutcome, StalePlanError


def lock_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """`--lock-dir` and `--lock-timeout`: the project lock `apply` and `auto` share on one host."""
    f = click.option("--lock-timeout", type=click.FloatRange(min=0), default=0.0, show_default=True,
                     help="Seconds to wait for another run of the same project to end (0: refuse at once, exit 7)."
                     )(f)
    return click.option("--lock-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                        help="Folder of the project lock shared by apply and auto on this host (default "
                             "$POOLSHIFT_LOCK_DIR, else $XDG_STATE_HOME/poolshift/locks).")(f)


@main.command("apply")
@click.argument("plan_path", metavar="PLAN", type=click.Path(dir_okay=False, path_type=Path))
@connection_options
@click.option("--execute", is_flag=True, help="Send the requests (default: a dry-run that sends nothing).")
@click.option("--journal", "journal_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Journal file (default: PLAN.journal.jsonl beside the plan).")
@click.option("--resume", is_flag=True, help="Continue the run the journal records (asks the API about any step "
                                             "whose outcome it lacks; never sends a step twice).")
@click.option("--max-parallel", type=click.IntRange(min=1), default=4, show_default=True,
              help="Steps of one wave in flight at once.")
@click.option("--poll-interval", type=click.FloatRange(min=0, min_open=True), default=5.0, show_default=True,
              help="Seconds between job polls.")
@click.option("--job-timeout", type=click.FloatRange(min=0, min_open=True), default=3600.0, show_default=True,
              help="Seconds a job may run before the run stops (it keeps running; --resume tracks it).")
@click.option("--keep-going", is_flag=True, help="Run the other steps after a step fails (exit 6 at the end).")
@click.option("--allow-drift", is_flag=True,
              help="Run a plan whose inventory changed if every remaining step still passes the verifier.")
@click.option("--expect-digest", default=None, metavar="sha256:HEX",
              help="Refuse (exit 2, before any request) unless the plan's digest is this one (the reviewed plan).")
@lock_options
@output_option
def apply_cmd(plan_path: Path, connection: ConnectionArgs, execute: bool, journal_path: Path | None, resume: bool,
              max_parallel: int, poll_interval: float, job_timeout: float, keep_going: bool, allow_drift: bool,
              expect_digest: str | None, lock_dir: Path | None, lock_timeout: float, output: str) -> None:
    """Dry-run PLAN against the live inventory (default), or run it with --execute.

    Refuses a stale plan (exit 4) and lists what changed. Exit codes: 0 done, 2 bad input, 4 stale plan,
    5 API error, 6 a step failed (the journal says where to resume), 7 another run holds the lock,
    130/143 stopped by SIGINT/SIGTERM after the steps in flight ended.
    """
    from planner.apply import ApplyFailedError, ApplyOptions, apply_plan
    from planner.errors import StalePlanError
    from planner.modelarts.client import ModelArtsClient
    from planner.planfile import read_plan

    plan = read_plan(plan_path)
    if resume:
        connection = _journal_connection(connection, journal_path, plan_path)
    settings = connection.settings(region=plan.region or None, project_id=plan.project_id)

    def client_factory(read_only: bool) -> ModelArtsClient:
        return ModelArtsClient.from_settings(settings, read_only=read_only)

    options = ApplyOptions(execute=execute, max_parallel=max_parallel, poll_interval=poll_interval,
                           job_timeout=job_timeout, keep_going=keep_going, allow_drift=allow_drift, resume=resume,
                           journal=journal_path, expect_digest=expect_digest, lock_dir=lock_dir,
                           lock_timeout=lock_timeout, endpoint=settings.endpoint, region=settings.region)
    if execute:
        echo(f"poolshift: plan {plan_path} digest {plan.digest}", err=True)
    stop = threading.Event()
    with _progress(output) as progress, _stop_on_signals(stop, enabled=execute) as received:
        try:
            result = apply_plan(plan, plan_path, client_factory, options, progress=progress, stop=stop)
        except StalePlanError as exc:
            _print_stale(exc, output)
            raise
        except ApplyFailedError as exc:
            _print_result(exc.result, output, status="failed", error=str(exc))
            raise
    status = "interrupted" if result.interrupted else ("done" if result.executed else "dry-run")
    _print_result(result, output, status=status, project_id=settings.project_id)
    if result.interrupted:
        sys.exit(128 + (received[0] if received else 2))


def _journal_connection(connection: ConnectionArgs, journal_path: Path | None, plan_path: Path) -> ConnectionArgs:
    """With --resume: the connection the journal's last start record kept fills in every flag not given."""
    from planner.apply import Connection, default_journal_path, last_start

    journal = journal_path or default_journal_path(plan_path)
    start = last_start(journal)
    saved = Connection.from_record(start) if start is not None else None
    if saved is None:
        return connection
    merged = dataclasses.replace(connection, endpoint=connection.endpoint or saved.endpoint,
                                 region=connection.region or saved.region,
                                 project_id=connection.project_id or saved.project_id,
                                 workspace_id=connection.workspace_id or saved.workspace_id)
    if merged != connection:
        where = f"endpoint {merged.endpoint or 'default'}, region {merged.region or '-'}, project " \
                f"{merged.project_id}, workspace {merged.workspace_id}"
        echo(f"poolshift: resuming with the connection the journal recorded ({where})", err=True)
    return merged


def _print_stale(exc: StalePlanError, output: str) -> None:
    from planner.apply import BusyNodeError

    changes = exc.changes
    if output == "json":
        echo_json({"status": "stale", "changes": changes})
        return
    if isinstance(exc, BusyNodeError):  # its one error line names the node and the workload
        return
    echo(f"the plan is stale; {len(changes)} change(s) matter to it:", err=True)
    for change in changes:
        echo(f"  - {change}", err=True)


def _print_result(result: ApplyOutcome, output: str, *, status: str, error: str | None = None,
                  project_id: str | None = None) -> None:
    if output == "json":
        echo_json({"status": status, **result.to_dict(), **({"error": error} if error else {})})
        return
    if sys.stderr.isatty():  # otherwise every note already went to stderr as it happened
        for message in result.messages:
            echo(f"note: {message}", err=True)
    for change in result.changes:
        echo(f"  drift: {change}", err=True)
    if not result.executed:
        _print_dry_run(result, project_id)
        return
    failed = f", {len(result.steps_failed)} failed" if result.steps_failed else ""
    drains = len(result.to_dict().get("drains") or [])
    drained = f" and {drains} batch-drain call(s)" if drains else ""
    echo(f"{status}: {result.steps_done}/{result.steps_total} steps done{failed}; "
         f"{len(result.requests)} request(s){drained} sent by this run; journal {result.journal}")


def _print_dry_run(result: ApplyOutcome, project_id: str | None) -> None:
    """Every request a run would send, wave by wave; a step's drains (PRODUCT §9) before its migrate."""
    drains: list[dict[str, Any]] = result.to_dict().get("drains") or []
    if not result.requests:
        echo("dry-run: nothing to send")
        return
    drain_note = f"{len(drains)} batch-drain and " if drains else ""
    echo(f"dry-run: would send {drain_note}{len(result.requests)} request(s); nothing was sent")
    wave = None
    for request in result.requests:
        if request.get("wave") != wave:
            wave = request.get("wave")
            echo(f"wave {wave}:")
        for drain in (d for d in drains if d.get("step") == request["step"]):
            echo(f"  step {request['step']}: POST /v2/{project_id}/pools/{drain['pool_name']}/nodes/batch-drain"
                 f"  (ends {_ends_text(drain.get('ends') or [])})")
            echo(f"    {json.dumps(drain['body'], sort_keys=True, ensure_ascii=False)}")
        path = f"/v2/{project_id}/pools/{request['pool_name']}/nodes/batch-migrate"
        echo(f"  step {request['step']}: POST {path}")
        echo(f"    {json.dumps(request['body'], sort_keys=True, ensure_ascii=False)}")
    echo("run again with --execute to send them")


def _ends_text(ends: list[dict[str, Any]]) -> str:
    """`job-x (train, priority 3) on a-01; svc (infer) on a-02`: what a drain ends."""
    def one(e: dict[str, Any]) -> str:
        facts = [str(f) for f in (e.get("type"), None if e.get("priority") is None else f"priority {e['priority']}")
                 if f]
        return f"{e.get('workload')} ({', '.join(facts)}) on {e.get('node')}" if facts else \
            f"{e.get('workload')} on {e.get('node')}"

    return "; ".join(one(e) for e in ends)


class _StopOnSignals:
    """First SIGINT/SIGTERM: set `stop` (no new submissions). Second: stop at once (KeyboardInterrupt)."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.received: list[int] = []

    def __call__(self, signum: int, frame: object) -> None:
        import signal

        if self.received:
            signal.signal(signum, signal.SIG_DFL)
            raise KeyboardInterrupt
        self.received.append(signum)
        self.stop.set()
        echo(f"poolshift: {signal.Signals(signum).name}: no new submissions; waiting for the steps in flight "
             f"(signal again to quit now; --resume continues either way)", err=True)


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event, *, enabled: bool) -> Iterator[list[int]]:
    """While executing, SIGINT and SIGTERM set `stop`; yields the signals received."""
    import signal

    handler = _StopOnSignals(stop)
    previous: dict[int, Any] = {}
    if enabled and threading.current_thread() is threading.main_thread():
        for sig in (int(signal.SIGINT), int(signal.SIGTERM)):
            previous[sig] = signal.signal(sig, handler)
    try:
        yield handler.received
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def _progress(output: str) -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress bar on stderr when it is a terminal (text output); else one line per event on stderr."""
    if output != "text" or not sys.stderr.isatty():
        def line(text: str, done: int, total: int) -> None:
            echo(f"[{done}/{total}] {text}", err=True)

        yield line
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("apply"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("{task.description}"), console=Console(stderr=True))
    task = bar.add_task("", total=None)

    def update(text: str, done: int, total: int) -> None:
        bar.update(task, completed=done, total=total, description=text)

    with bar:
        yield update


# Public name for other commands that run apply (e.g. `auto`): same behaviour as in `apply`.
stop_on_signals = _stop_on_signals
