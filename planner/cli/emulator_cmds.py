"""CLI command `poolshift emulator`: a local ModelArts-compatible API seeded from a snapshot.

The keys it accepts come from the environment, never the command line by default (a flag is visible in `ps`).
FastAPI and uvicorn are imported inside the command.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from planner.cli._common import bad_argument, echo, main

F = TypeVar("F", bound=Callable[..., Any])


EMULATOR_ENV_AK = ("POOLSHIFT_EMULATOR_AK", "HUAWEICLOUD_SDK_AK")
EMULATOR_ENV_SK = ("POOLSHIFT_EMULATOR_SK", "HUAWEICLOUD_SDK_SK")
EMULATOR_ENV_TOKEN = ("POOLSHIFT_EMULATOR_TOKEN", "POOLSHIFT_TOKEN")
EMULATOR_ENV_SECURITY_TOKEN = ("POOLSHIFT_EMULATOR_SECURITY_TOKEN", "HUAWEICLOUD_SDK_SECURITY_TOKEN")


def _first_env(names: tuple[str, ...]) -> tuple[str | None, str | None]:
    """The first of these environment variables that is set: (value, name)."""
    import os

    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return value, name
    return None, None


def _emulator_options(f: F) -> F:
    """The `emulator` command's options, outermost last."""
    options = [
        click.option("--snapshot", "snapshot_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
                     help="Seed inventory (poolshift.inventory/v1 JSON)."),
        click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on."),
        click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
                     help="Port to listen on (0 picks a free one)."),
        click.option("--ak", default=None, help="Access key to accept (default: $POOLSHIFT_EMULATOR_AK, else "
                                                "$HUAWEICLOUD_SDK_AK). The secret key comes from the environment."),
        click.option("--sk", default=None, help="Secret key on the command line: visible in ps, so it warns; "
                                                "prefer $POOLSHIFT_EMULATOR_SK / $HUAWEICLOUD_SDK_SK."),
        click.option("--token", default=None, help="IAM token on the command line: visible in ps, so it warns; "
                                                   "prefer $POOLSHIFT_EMULATOR_TOKEN / $POOLSHIFT_TOKEN."),
        click.option("--no-auth", is_flag=True, help="Accept every request, whatever credentials the environment has."),
        click.option("--shape", type=click.Choice(["full", "documented"]), default="full", show_default=True,
                     help="documented: leave out the fields the documented schemas do not promise."),
        click.option("--log-requests", is_flag=True, help="One line per API request on stderr (method, path, "
                                                          "status, ms)."),
        click.option("--job-seconds", type=click.FloatRange(min=0), default=0.0, show_default=True,
                     help="How long a migration job runs (0 = done at once)."),
        click.option("--drain-seconds", type=click.FloatRange(min=0), default=0.0, show_default=True,
                     help="How long after batch-drain a node's workloads end."),
        click.option("--seed", type=int, default=0, show_default=True, help="Seed for job ids and random faults."),
        click.option("--rate-429", type=click.FloatRange(0, 1), default=0.0,
                     help="Share of API requests answered 429."),
        click.option("--rate-5xx", type=click.FloatRange(0, 1), default=0.0,
                     help="Share of API requests answered 500."),
        click.option("--rate-lost-answer", type=click.FloatRange(0, 1), default=0.0,
                     help="Share of accepted migrations whose answer is lost (connection dropped)."),
        click.option("--rate-failed-jobs", type=click.FloatRange(0, 1), default=0.0,
                     help="Share of accepted migrations whose job fails."),
        click.option("--latency", type=click.FloatRange(0, 60), default=0.0, help="Seconds added to every API answer."),
        click.option("--fail-jobs", type=click.IntRange(min=0), default=0, help="The next N migration jobs fail."),
        click.option("--drop-after-accept", type=click.IntRange(min=0), default=0,
                     help="The next N accepted migrations drop the connection instead of answering."),
        click.option("--start-workload", "start_workloads", multiple=True, metavar="NODE@N",
                     help="A Running workload starts on NODE at the N-th API request (repeatable)."),
        click.option("--ignore-paging", is_flag=True, help="ListPoolNodes ignores limit/continue."),
        click.option("--hide-get-job", is_flag=True, help="GET /jobs/{id} answers 404, as if unpublished."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


_Auth = tuple[str | None, str | None, str | None, str | None]


def _emulator_auth(ak: str | None, sk: str | None, token: str | None, no_auth: bool) -> _Auth:
    """(ak, sk, token, security token) the emulator accepts: flags (secrets warn) or the environment."""
    if no_auth:
        return None, None, None, None
    for flag, value in (("--sk", sk), ("--token", token)):
        if value is not None:
            echo(f"poolshift emulator: warning: {flag} on the command line is visible to every user (ps); "
                 f"set it in the environment instead", err=True)
    ak = ak or _first_env(EMULATOR_ENV_AK)[0]
    sk = sk or _first_env(EMULATOR_ENV_SK)[0]
    if (ak is None) != (sk is None):
        raise bad_argument("the emulator needs both an access key (--ak or $POOLSHIFT_EMULATOR_AK) and a secret key "
                           "($POOLSHIFT_EMULATOR_SK), or neither", "--ak")
    security_token = _first_env(EMULATOR_ENV_SECURITY_TOKEN)[0] if ak else None
    return ak, sk, token or _first_env(EMULATOR_ENV_TOKEN)[0], security_token


def _start_workloads(values: tuple[str, ...]) -> list[dict[str, Any]]:
    faults = []
    for value in values:
        node, sep, count = value.rpartition("@")
        if not sep or not node or not count.isdigit() or int(count) < 1:
            raise bad_argument(f"expected NODE@N (N >= 1), got {value!r}", "--start-workload")
        faults.append({"node": node, "at_request": int(count)})
    return faults


@main.command("emulator")
@_emulator_options
def emulator_cmd(snapshot_path: Path, host: str, port: int, ak: str | None, sk: str | None, token: str | None,
                 no_auth: bool, shape: str, log_requests: bool, job_seconds: float, drain_seconds: float, seed: int,
                 rate_429: float, rate_5xx: float, rate_lost_answer: float, rate_failed_jobs: float, latency: float,
                 fail_jobs: int, drop_after_accept: int, start_workloads: tuple[str, ...], ignore_paging: bool,
                 hide_get_job: bool) -> None:
    """Serve a local ModelArts-compatible API seeded from a snapshot (GET /_emulator/state shows its state).

    The keys it accepts come from the environment ($POOLSHIFT_EMULATOR_AK/_SK, else $HUAWEICLOUD_SDK_AK/_SK, or
    an IAM token in $POOLSHIFT_EMULATOR_TOKEN / $POOLSHIFT_TOKEN); with none set it accepts every request.
    """
    from planner.inventory import read_snapshot_file
    from planner.modelarts.emulator.api import EmulatorApi
    from planner.modelarts.emulator.server import EmulatorServer
    from planner.modelarts.emulator.state import EmulatorState, Faults

    ak, sk, token, security_token = _emulator_auth(ak, sk, token, no_auth)
    faults = Faults.model_validate({
        "rate_429": rate_429, "rate_5xx": rate_5xx, "rate_lost_answer": rate_lost_answer,
        "rate_failed_jobs": rate_failed_jobs, "latency": latency, "fail_jobs": fail_jobs,
        "drop_after_accept": drop_after_accept, "ignore_paging": ignore_paging, "hide_get_job": hide_get_job,
        "start_workloads": _start_workloads(start_workloads)})
    state = EmulatorState(read_snapshot_file(snapshot_path), job_seconds=job_seconds, seed=seed, faults=faults,
                          source=str(snapshot_path), drain_seconds=drain_seconds,
                          shape="documented" if shape == "documented" else "full")
    api = EmulatorApi(state, ak=ak, sk=sk, token=token, security_token=security_token, seed=seed,
                      on_request=(lambda line: echo(line, err=True)) if log_requests else None)
    server = EmulatorServer(api, host=host, port=port)
    modes = " and ".join(m for m, on in (("AK/SK", ak is not None), ("token", token is not None)) if on) or "none"
    echo(f"poolshift emulator: serving {server.url} for project {state.project_id} "
         f"(region {state.region or '-'}, auth: {modes}, shape: {shape}); Ctrl-C stops it", err=True)
    server.serve()
