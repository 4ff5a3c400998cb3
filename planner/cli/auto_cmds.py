"""CLI command `poolshift auto`: one unattended pull -> plan -> gate -> apply cycle (see docs/auto.md).

Exit codes: 0 when the cycle ran (whatever it decided, including "another cycle is running"); otherwise the
code of the error that stopped it (2 input, 3 planning, 4 stale plan, 5 API, 6 execution, 7 apply lock), or
128 + the signal when SIGINT/SIGTERM stopped it (as `apply`: the first signal lets the steps in flight end).
"""

from __future__ import annotations

import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from planner.cli._common import bad_argument, echo, echo_json, fail, main
from planner.cli.apply_cmds import lock_options, stop_on_signals
from planner.cli.options import ConnectionArgs, SolverArgs, connection_options, output_option, solver_options

if TYPE_CHECKING:
    from planner.auto import CycleResult
    from planner.modelarts.client import ModelArtsClient
    from planner.modelarts.settings import ConnectionSettings


@main.command("auto")
@click.option("--spec", "spec_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Spec (poolshift.spec/v1 YAML) with an optional `auto:` section of gates.")
@connection_options
@click.option("--execute", is_flag=True, help="Send the requests (default: dry-run, nothing is sent).")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Plans, journals, audit.jsonl, metrics.prom and auto.lock "
                   "(default: the spec's auto.state_dir, else ./poolshift-auto).")
@click.option("--min-improvement", type=click.IntRange(min=0), default=None,
              help="Act only when the plan lowers the deviation by at least this much (default 1).")
@click.option("--max-moves", type=click.IntRange(min=1), default=None,
              help="Move at most this many nodes per cycle; the rest waits for the next cycle.")
@click.option("--window", "windows", multiple=True, metavar='"DAYS HH:MM-HH:MM [TZ]"',
              help='Act only inside these windows, e.g. "mon-fri 22:00-06:00 Europe/Berlin" (repeatable; '
                   "replaces the spec's auto.windows).")
@click.option("--any-time", is_flag=True, help="Ignore the time windows of the spec.")
@click.option("--freeze", is_flag=True, help="Freeze: plan nothing, change nothing, record why.")
@click.option("--freeze-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Freeze while this file exists (replaces the spec's auto.freeze_file).")
@click.option("--metrics-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the Prometheus metrics (default <state-dir>/metrics.prom).")
@solver_options
@click.option("--max-parallel", type=click.IntRange(min=1), default=4, show_default=True,
              help="At most this many requests in flight while executing.")
@click.option("--poll-interval", type=click.FloatRange(min=0.0, min_open=True), default=5.0, show_default=True,
              help="Seconds between job status polls.")
@click.option("--job-timeout", type=click.FloatRange(min=1.0), default=3600.0, show_default=True,
              help="Give up waiting for one migration job after this many seconds.")
@click.option("--now", "now_text", default=None, hidden=True, help="Pretend it is this ISO time (tests).")
@lock_options
@output_option
def auto_cmd(spec_path: Path, connection: ConnectionArgs, execute: bool, state_dir: Path | None,
             min_improvement: int | None, max_moves: int | None, windows: tuple[str, ...], any_time: bool,
             freeze: bool, freeze_file: Path | None, metrics_file: Path | None, solver: SolverArgs, max_parallel: int,
             poll_interval: float, job_timeout: float, now_text: str | None, lock_dir: Path | None,
             lock_timeout: float, output: str) -> None:
    """One unattended cycle for cron, systemd timers or a Kubernetes CronJob: pull, plan, gate, apply."""
    from planner.auto import AutoOptions, parse_window_option, run_cycle

    if windows and any_time:
        raise bad_argument("give --window or --any-time, not both", "--any-time")
    options = AutoOptions(
        execute=execute, state_dir=state_dir, min_improvement=min_improvement, max_moves=max_moves,
        windows=() if any_time else (tuple(parse_window_option(w) for w in windows) or None),
        freeze=freeze, freeze_file=freeze_file, metrics_file=metrics_file, now=_parse_now(now_text),
        plan=solver.plan_options(), max_parallel=max_parallel, poll_interval=poll_interval,
        job_timeout=job_timeout, lock_dir=lock_dir, lock_timeout=lock_timeout, endpoint=connection.endpoint,
    )
    factory = _ClientFactory(connection)
    stop = threading.Event()
    with stop_on_signals(stop, enabled=True) as received:
        result = run_cycle(spec_path, factory, region=factory.region(), options=options, stop=stop)
    if output == "json":
        echo_json(result.record())
    else:
        for line in _text(result):
            echo(line, err=result.error is not None)
    if result.error is not None:
        fail(result.error)
    if received:
        sys.exit(128 + received[0])


class _ClientFactory:
    """Builds API clients on demand, so a configuration error surfaces inside the cycle and is audited."""

    def __init__(self, connection: ConnectionArgs) -> None:
        self._connection = connection
        self._settings: ConnectionSettings | None = None

    def __call__(self, read_only: bool) -> ModelArtsClient:
        from planner.modelarts.client import ModelArtsClient

        if self._settings is None:
            self._settings = self._connection.settings()
        return ModelArtsClient.from_settings(self._settings, read_only=read_only)

    def region(self) -> str:
        """The region as the settings will resolve it (--region, $HUAWEICLOUD_SDK_REGION, the profile file),
        found without building them: that may ask the credential chain, which waits for the freeze check."""
        import os

        from planner.errors import InputError
        from planner.modelarts.credentials import profile_value
        from planner.modelarts.settings import ENV_REGION

        found = self._connection.region or os.environ.get(ENV_REGION, "").strip()
        try:
            return found or profile_value(os.environ, "region") or ""
        except InputError:  # an unreadable profile fails the cycle when the settings are built, and is audited
            return ""


def _parse_now(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise bad_argument(f"expected an ISO 8601 time, got {text!r}", "--now") from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _text(result: CycleResult) -> list[str]:
    from planner.auto import AUDIT_FILE

    record = result.record()
    lines = [f"auto: {result.outcome}: {result.reason}"]
    if record["deviation_before"] is not None:
        lines.append(f"  deviation {record['deviation_before']} -> {record['deviation_after']}, "
                     f"{record['moves']} move(s) in {record['requests']} request(s)")
    if result.plan_path is not None:
        lines.append(f"  plan: {result.plan_path}")
    if result.journal:
        lines.append(f"  journal: {result.journal}")
    lines.extend(f"  {message}" for message in result.messages)
    lines.append(f"  audit: {result.state_dir / AUDIT_FILE}")
    return lines
